//! The binary: `init`, `keys`, `backup`, `serve`, and a bad configuration.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gatehouse_approval::config::{Config, Database};
use gatehouse_approval::store::Store;
use serde_json::Value;

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse-approval"));
    c.env_remove("RUST_LOG");
    c
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn init(dir: &Path, listen_port: Option<u16>) -> std::path::PathBuf {
    let out = bin()
        .args([
            "init",
            "--kid",
            "desk-2026",
            "--public-url",
            "https://desk.corp.example",
            "--data-dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    let printed: Value = serde_json::from_str(&ok(out)).unwrap();
    assert_eq!(printed["approvals"]["keys"][0]["kid"], "desk-2026");
    assert!(printed["approvals"]["keys"][0].get("d").is_none(), "init printed the private key");
    let config = dir.join("gatehouse-approval.toml");
    if let Some(port) = listen_port {
        let text = std::fs::read_to_string(&config).unwrap();
        let text =
            text.replace("listen = \"127.0.0.1:8080\"", &format!("listen = \"127.0.0.1:{port}\""));
        std::fs::write(&config, text).unwrap();
    }
    config
}

#[test]
fn init_writes_an_owner_only_key_and_keys_prints_its_public_part() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("desk");
    let config = init(&data, None);
    let key = data.join("signing-key.jwk");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(data.join("approvals.sqlite3").exists());
    let private: Value = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    let keys: Value =
        serde_json::from_str(&ok(bin().arg("keys").arg("-c").arg(&config).output().unwrap()))
            .unwrap();
    let public = &keys["approvals"]["keys"][0];
    assert_eq!((&public["kid"], &public["x"]), (&private["kid"], &private["x"]));
    assert!(public.get("d").is_none());
    // The engine accepts it as an approver key.
    let policy = serde_json::json!({"approvals": {"keys": [public]}});
    assert!(gatehouse_core::Policy::from_value(&policy).unwrap().warnings.is_empty());

    // A second init never overwrites the desk.
    let again = bin()
        .args(["init", "--public-url", "https://x.example", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        serde_json::to_string(&private).unwrap() + "\n"
    );

    // A key others can read is refused, naming the fix.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bin().arg("keys").arg("-c").arg(&config).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "public_url = \"https://d.example\"\n[limits]\nrequests_per_hour = -1\n",
    )
    .unwrap();
    let out = bin().arg("serve").arg("-c").arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`limits.requests_per_hour`") && err.contains("1 to 10000"), "{err}");
}

/// `serve` in the background; stopped (SIGKILL) when dropped.
pub(crate) struct Server(Child);

impl Server {
    /// Stops it and returns what it logged.
    pub(crate) fn stop(mut self) -> String {
        let _ = self.0.kill();
        let mut log = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut log);
        }
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(config: &Path, port: u16) -> Server {
    let mut command = bin();
    command.arg("serve").arg("-c").arg(config);
    serve_with(command, port)
}

/// Starts `command` (a `serve`) and waits until `/healthz` answers on `port`.
pub(crate) fn serve_with(mut command: Command, port: u16) -> Server {
    let child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();

    let server = Server(child);
    let start = Instant::now();
    while http(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "the service did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn http(port: u16, request: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(request.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn post(port: u16, body: &str) -> String {
    http(
        port,
        &format!(
            "POST /api/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_requests_and_backup_copies_them_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("desk");
    let port = free_port();
    let config = init(&data, Some(port));
    let server = serve(&config, port);
    assert!(http(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let answer = post(port, &crate::common::record("served-1").to_string());
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("\"statusUrl\":\"https://desk.corp.example/api/requests/"), "{answer}");

    let backup = dir.path().join("backup.sqlite3");
    ok(bin().arg("backup").arg("-c").arg(&config).arg(&backup).output().unwrap());
    let copy = Store::open(&Database::Sqlite(backup.clone())).await.unwrap();
    assert_eq!(copy.list("pending", 10).await.unwrap().len(), 1);
    copy.close().await;
    let again = bin().arg("backup").arg("-c").arg(&config).arg(&backup).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let log = server.stop();

    // The log names the key id, never the key.
    let private: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("signing-key.jwk")).unwrap())
            .unwrap();
    assert!(log.contains("desk-2026") && log.contains("request received"), "{log}");
    assert!(!log.contains(private["d"].as_str().unwrap()), "the private key was logged");
    let config = Config::load(&config).unwrap();
    assert_eq!(
        config.database,
        Database::Sqlite(data.canonicalize().unwrap().join("approvals.sqlite3"))
    );
}

/// Rotation: a new current key, the old one retired — `keys` publishes both, current first.
#[test]
fn keys_publishes_retired_keys_after_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("desk");
    let config = init(&data, None);
    let next = gatehouse_admin::approve::ApproverKey::generate("desk-2027").unwrap();
    let next_file = data.join("desk-2027.jwk");
    gatehouse_admin::approve::write_new_private(
        &next_file,
        next.private_jwk().to_string().as_bytes(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "key = \"signing-key.jwk\"\n# Earlier keys, still published by `keys` while tokens they signed run out.\nretired = []",
        "key = \"desk-2027.jwk\"\nretired = [\"signing-key.jwk\"]",
    );
    std::fs::write(&config, text).unwrap();
    let keys: Value =
        serde_json::from_str(&ok(bin().arg("keys").arg("-c").arg(&config).output().unwrap()))
            .unwrap();
    let kids: Vec<&str> = keys["approvals"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["desk-2027", "desk-2026"]);
}

fn form_post(port: u16, path: &str, user: &str, body: &str) -> std::io::Result<String> {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Remote-User: {user}\r\nX-Gatehouse-Proxy-Secret: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            crate::common::PROXY_SECRET,
            body.len()
        ),
    )
}

fn csrf_of(port: u16, user: &str) -> String {
    let page = http(
        port,
        &format!(
            "GET /desk HTTP/1.1\r\nHost: x\r\nX-Remote-User: {user}\r\nX-Gatehouse-Proxy-Secret: {}\r\nConnection: close\r\n\r\n",
            crate::common::PROXY_SECRET
        ),
    )
    .unwrap();
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

fn status_of(port: u16, id: &str) -> Value {
    let answer = http(
        port,
        &format!("GET /api/requests/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .unwrap();
    serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// SIGKILL in the middle of a burst of approvals, then a restart: every approval the desk
/// confirmed is there, none is doubled (approving again is refused, tokens unchanged), and every
/// token verifies.
#[test]
fn a_crash_during_a_burst_of_approvals_loses_and_doubles_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    const REQUESTS: usize = 120;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("desk");
    let port = free_port();
    let config = init(&data, Some(port));
    gatehouse_admin::approve::write_new_private(
        &data.join("proxy-secret"),
        crate::common::PROXY_SECRET.as_bytes(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace("requests_per_hour = 10\n", "requests_per_hour = 10000\n")
        + "[auth]\nmode = \"proxy\"\nsecret_file = \"proxy-secret\"\n[approvers]\nall = [\"bob@CORP.EXAMPLE\"]\n";
    std::fs::write(&config, text).unwrap();

    let server = serve(&config, port);
    let ids: Vec<String> = (0..REQUESTS)
        .map(|i| {
            let answer = post(port, &crate::common::record(&format!("crash-{i}")).to_string());
            assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
            let body: Value =
                serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let csrf = csrf_of(port, "bob@CORP.EXAMPLE");
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = ids
        .chunks(REQUESTS / 4)
        .map(|chunk| {
            let (chunk, csrf) = (chunk.to_vec(), csrf.clone());
            let (confirmed, done) = (Arc::clone(&confirmed), Arc::clone(&done));
            std::thread::spawn(move || {
                for id in chunk {
                    let answer = form_post(
                        port,
                        &format!("/desk/requests/{id}/approve"),
                        "bob@CORP.EXAMPLE",
                        &format!("csrf={csrf}&days=2"),
                    );
                    match answer {
                        Ok(a) if a.starts_with("HTTP/1.1 303") => {
                            confirmed.lock().unwrap().push(id);
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    while done.load(Ordering::SeqCst) < REQUESTS / 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(server); // SIGKILL, mid-burst
    for w in workers {
        w.join().unwrap();
    }
    let confirmed = confirmed.lock().unwrap().clone();
    assert!(confirmed.len() < REQUESTS, "the burst finished before the kill; nothing was tested");

    let server = serve(&config, port);
    let keys: Value =
        serde_json::from_str(&ok(bin().arg("keys").arg("-c").arg(&config).output().unwrap()))
            .unwrap();
    let policy = gatehouse_core::Policy::from_value(&keys).unwrap().policy;
    let alice = gatehouse_core::Identity {
        principal: Some("alice@corp.example".into()),
        machine: "WS01".into(),
        ..Default::default()
    };
    let now = gatehouse_approval::server::now_ms();
    let mut tokens = std::collections::BTreeMap::new();
    let mut jtis = std::collections::BTreeSet::new();
    for id in &ids {
        let status = status_of(port, id);
        match status["status"].as_str().unwrap() {
            "approved" => {
                let token = status["token"].as_str().unwrap().to_owned();
                let approval = policy.verify_approval(&token, Some(&alice), now, "crash").unwrap();
                assert!(jtis.insert(approval.id), "a jti twice");
                tokens.insert(id.clone(), token);
            }
            "pending" => assert!(!confirmed.contains(id), "a confirmed approval was lost: {id}"),
            other => panic!("{id}: {other}"),
        }
    }
    assert!(tokens.len() >= confirmed.len());
    // Approving everything again: the approved are refused (409), the rest are approved now.
    let csrf = csrf_of(port, "bob@CORP.EXAMPLE");
    for id in &ids {
        let answer = form_post(
            port,
            &format!("/desk/requests/{id}/approve"),
            "bob@CORP.EXAMPLE",
            &format!("csrf={csrf}&days=2"),
        )
        .unwrap();
        let expected = if tokens.contains_key(id) { "HTTP/1.1 409" } else { "HTTP/1.1 303" };
        assert!(answer.starts_with(expected), "{id}: {answer:.200}");
    }
    for (id, token) in &tokens {
        assert_eq!(
            status_of(port, id)["token"].as_str(),
            Some(token.as_str()),
            "a decision changed after the restart"
        );
    }
    drop(server);
    eprintln!(
        "crash test: {} confirmed before SIGKILL, {} approved after restart, of {REQUESTS}",
        confirmed.len(),
        tokens.len()
    );
}
