//! The real `gatehouse-host` binary spoken to over pipes, as Chrome does: long-lived port, one-shot messages, broken streams.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const HOST: &str = env!("CARGO_BIN_EXE_gatehouse-host");

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/identity").join(name)
}

/// A spawned host with its folders in a temporary directory.
struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

fn spawn(dir: &Path, identity_root: Option<&Path>) -> Spawned {
    spawn_command(command(dir, identity_root))
}

fn command(dir: &Path, identity_root: Option<&Path>) -> Command {
    let mut cmd = Command::new(HOST);
    cmd.arg("chrome-extension://abcdefghijklmnopabcdefghijklmnop/")
        .env("GATEHOUSE_APPROVALS_DIR", dir.join("machine"))
        .env("GATEHOUSE_USER_APPROVALS_DIR", dir.join("user"))
        .env("GATEHOUSE_AUDIT_DIR", dir.join("audit"))
        .env("GATEHOUSE_SYSLOG", "0")
        .env_remove("GATEHOUSE_IDENTITY_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(root) = identity_root {
        cmd.env("GATEHOUSE_IDENTITY_ROOT", root);
    }
    cmd
}

fn spawn_command(mut cmd: Command) -> Spawned {
    let mut child = cmd.spawn().expect("spawn gatehouse-host");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("stdout");
    Spawned { child, stdin, stdout }
}

impl Spawned {
    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, request: &Value) {
        self.send_raw(&frame(request.to_string().as_bytes()));
    }

    fn recv(&mut self) -> Value {
        let mut len = [0u8; 4];
        self.stdout.read_exact(&mut len).expect("a reply length");
        let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
        self.stdout.read_exact(&mut body).expect("a reply body");
        serde_json::from_slice(&body).expect("the reply is JSON")
    }

    fn ask(&mut self, request: Value) -> Value {
        self.send(&request);
        let reply = self.recv();
        assert_eq!(reply["id"], request["id"], "{reply}");
        assert_eq!(reply["v"], 1);
        reply
    }

    /// Closes stdin and waits: exit status, what was left on stdout, stderr.
    fn finish(mut self) -> (ExitStatus, Vec<u8>, String) {
        drop(self.stdin.take());
        let mut rest = Vec::new();
        self.stdout.read_to_end(&mut rest).unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (self.child.wait().unwrap(), rest, err)
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_ne_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn token(payload: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT","kid":"mgmt-2025"}"#);
    format!(
        "{header}.{}.{}",
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode([1u8; 64])
    )
}

#[test]
fn long_lived_port_answers_every_request_type_then_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let mut host = spawn(tmp.path(), Some(&fixture("sssd-joined")));

    let hello = host.ask(json!({"v":1,"id":1,"type":"hello"}));
    assert_eq!(hello["ok"], true);
    assert_eq!(hello["data"]["protocol"], 1);
    assert_eq!(hello["data"]["platform"], "linux");
    assert_eq!(hello["data"]["hostVersion"], env!("CARGO_PKG_VERSION"));

    let identity = host.ask(json!({"v":1,"id":"who","type":"identity"}));
    assert_eq!(identity["data"]["joined"], true, "{identity}");
    assert_eq!(identity["data"]["domain"], "corp.example");
    assert_eq!(identity["data"]["machine"], "ws01");

    // The fixture's resolv.conf points at 127.0.0.9 (loopback), where nothing answers DNS: the SRV fact is
    // unknown or false, quickly, and no query leaves the machine.
    let started = std::time::Instant::now();
    let network = host.ask(json!({"v":1,"id":3,"type":"network","probeHosts":["localhost"]}));
    assert!(started.elapsed().as_millis() < 1500, "{:?}", started.elapsed());
    assert_eq!(network["data"]["dnsSuffixes"], json!(["corp.example"]));
    assert_eq!(network["data"]["resolvedHosts"], json!([{"host":"localhost","resolved":true}]));
    assert_ne!(network["data"]["domainControllersDiscoverable"], true);

    let t = token(&json!({"sub":"alice@corp.example","exp":4_102_444_800_u64}));
    let imported =
        host.ask(json!({"v":1,"id":4,"type":"import_approval","token":format!("{t}\n")}));
    assert_eq!(imported["data"]["duplicate"], false, "{imported}");
    let file = imported["data"]["file"].as_str().unwrap().to_owned();
    assert!(file.starts_with(tmp.path().join("user").to_str().unwrap()));
    let again = host.ask(json!({"v":1,"id":5,"type":"import_approval","token":t}));
    assert_eq!(again["data"], json!({"file": file, "duplicate": true}));

    std::fs::create_dir_all(tmp.path().join("machine")).unwrap();
    std::fs::write(tmp.path().join("machine/site.jws"), token(&json!({"sub":"*"}))).unwrap();
    let listed = host.ask(json!({"v":1,"id":6,"type":"approvals"}));
    let sources: Vec<_> =
        listed["data"]["tokens"].as_array().unwrap().iter().map(|t| t["source"].clone()).collect();
    assert_eq!(sources, vec![json!("machine"), json!("user")]);
    assert_eq!(listed["data"]["problems"], json!([]));

    let audit = host.ask(json!({"v":1,"id":7,"type":"audit","events":[
        {"kind":"blocked","url":"https://mail.example.com/u/0/#inbox","service":"example-mail","category":"webmail"},
        {"kind":"proceeded","url":"https://drive.example.com/file/d/123","fullUrl":true}
    ]}));
    assert_eq!(audit["data"]["written"], 2);
    let lines: Vec<Value> = std::fs::read_to_string(tmp.path().join("audit/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["url"], "https://mail.example.com");
    assert_eq!(lines[1]["url"], "https://drive.example.com/file/d/123");
    assert_eq!(lines[0]["machine"], "ws01");

    let (status, rest, stderr) = host.finish();
    assert!(status.success(), "clean EOF exits 0: {status:?} {stderr}");
    assert!(rest.is_empty(), "nothing but replies on stdout");
    assert!(stderr.is_empty(), "no diagnostics on a clean run: {stderr}");
}

#[test]
fn one_shot_messages_each_get_a_process() {
    // sendNativeMessage: Chrome starts a process, writes one message, reads one reply.
    let tmp = tempfile::tempdir().unwrap();
    for (i, kind) in ["hello", "identity", "approvals"].iter().enumerate() {
        let mut host = spawn(tmp.path(), None);
        host.send(&json!({"v":1,"id":i,"type":kind}));
        drop(host.stdin.take());
        let reply = host.recv();
        assert_eq!(reply["ok"], true, "{kind}: {reply}");
        let (status, rest, stderr) = host.finish();
        assert!(status.success(), "{kind}: {status:?} {stderr}");
        assert!(rest.is_empty());
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let mut host = spawn(tmp.path(), None);
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend(frame(json!({"v":1,"id":i,"type":"hello"}).to_string().as_bytes()));
    }
    host.send_raw(&batch);
    for i in 0..50 {
        assert_eq!(host.recv()["id"], i);
    }
    assert!(host.finish().0.success());
}

#[test]
fn malformed_messages_get_error_replies_and_the_port_stays_open() {
    let tmp = tempfile::tempdir().unwrap();
    let mut host = spawn(tmp.path(), None);
    let cases: [(&[u8], u64); 5] = [
        (b"\xc3\x28", 2),
        (b"{\"v\":1,", 1),
        (br#"{"v":1,"id":1,"type":"reboot"}"#, 4),
        (br#"{"v":1,"id":1,"type":"network","probeHosts":[42]}"#, 5),
        (br#"{"v":2,"id":1,"type":"hello"}"#, 6),
    ];
    for (body, code) in cases {
        host.send_raw(&frame(body));
        let reply = host.recv();
        assert_eq!(reply["ok"], false);
        assert_eq!(reply["error"]["code"], code, "{reply}");
    }
    // Over the 1 MiB cap: answered, skipped, and the next message still works.
    let big = vec![b' '; 1024 * 1024 + 1];
    host.send_raw(&frame(&big));
    assert_eq!(host.recv()["error"]["name"], "frame_too_large");
    assert_eq!(host.ask(json!({"v":1,"id":"after","type":"hello"}))["ok"], true);
    let (status, _, stderr) = host.finish();
    assert!(status.success(), "{stderr}");
}

#[test]
fn truncated_prefix_exits_non_zero_with_a_message_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let mut host = spawn(tmp.path(), None);
    host.send_raw(&[7, 0]);
    let (status, stdout, stderr) = host.finish();
    assert_eq!(status.code(), Some(1));
    assert!(stdout.is_empty());
    assert!(stderr.contains("length prefix"), "{stderr}");
}

#[test]
fn truncated_body_exits_non_zero_after_answering_complete_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let mut host = spawn(tmp.path(), None);
    let mut bytes = frame(br#"{"v":1,"id":1,"type":"hello"}"#);
    bytes.extend(100u32.to_ne_bytes());
    bytes.extend(b"{\"v\":1");
    host.send_raw(&bytes);
    assert_eq!(host.recv()["id"], 1);
    let (status, stdout, stderr) = host.finish();
    assert_eq!(status.code(), Some(1));
    assert!(stdout.is_empty());
    assert!(stderr.contains("message body (6 of 100 bytes)"), "{stderr}");
}

#[test]
fn empty_stdin_exits_zero_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let (status, stdout, stderr) = spawn(tmp.path(), None).finish();
    assert!(status.success());
    assert!(stdout.is_empty() && stderr.is_empty(), "{stderr}");
}

#[test]
fn import_never_uses_a_path_from_the_request() {
    let tmp = tempfile::tempdir().unwrap();
    let mut host = spawn(tmp.path(), None);
    for evil in ["../../../../tmp/evil.jws", "/etc/passwd", "..\\..\\x", "a.b.c/../../d"] {
        let reply = host.ask(json!({"v":1,"id":1,"type":"import_approval","token":evil}));
        assert_eq!(reply["error"]["name"], "token_malformed", "{evil}: {reply}");
    }
    let extra = host.ask(
        json!({"v":1,"id":2,"type":"import_approval","token":token(&json!({})),"file":"../x.jws"}),
    );
    let file = PathBuf::from(extra["data"]["file"].as_str().unwrap());
    assert_eq!(file.parent().unwrap(), tmp.path().join("user"), "a `file` field is ignored");
    assert!(!tmp.path().join("x.jws").exists());
    host.finish();
}

/// Regression: on a machine where the user is a local account (this one: not joined), the
/// principal came from the Kerberos credential cache `$KRB5CCNAME` names, a file the user writes:
/// a forged cache claimed a colleague's principal, and with it the colleague's approvals.
#[test]
fn a_forged_ticket_cache_claims_no_principal() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("krb5cc_forged");
    // MIT ccache v4, empty header, default principal colleague@CORP.EXAMPLE, no credentials.
    let mut bytes = vec![5u8, 4, 0, 0];
    bytes.extend(1u32.to_be_bytes());
    bytes.extend(1u32.to_be_bytes());
    for part in ["CORP.EXAMPLE", "colleague"] {
        bytes.extend(u32::try_from(part.len()).unwrap().to_be_bytes());
        bytes.extend(part.as_bytes());
    }
    std::fs::write(&cache, bytes).unwrap();
    let mut cmd = command(dir.path(), None);
    cmd.env("KRB5CCNAME", format!("FILE:{}", cache.display()));
    let mut host = spawn_command(cmd);
    let reply = host.ask(json!({"v": 1, "id": "id", "type": "identity"}));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(
        reply["data"]["principal"],
        Value::Null,
        "the cache's name is not an identity: {reply}"
    );
}
