//! SPNEGO sign-in for real: an MIT Kerberos KDC started by the test (Debian's krb5-kdc, a
//! private realm in a temporary folder, on a loopback port), the desk with its service keytab,
//! and `curl --negotiate` (GSS-API) holding a user's ticket as the browser.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REALM: &str = "TEST.GATEHOUSE";

/// A throwaway KDC with `HTTP/localhost` (in `http.keytab`), alice, bob and mallory, each with a
/// ticket cache.
struct Kdc {
    dir: tempfile::TempDir,
    server: Child,
}

impl Kdc {
    fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("gatehouse-krb").tempdir().unwrap();
        let d = dir.path().display().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::write(
            dir.path().join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = {REALM}\n dns_lookup_realm = false\n dns_lookup_kdc = false\n rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 1\n[realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("kdc.conf"),
            format!(
                "[kdcdefaults]\n kdc_ports = {port}\n kdc_tcp_ports = {port}\n[realms]\n {REALM} = {{\n  database_name = {d}/principal\n  key_stash_file = {d}/stash\n  acl_file = {d}/kadm5.acl\n  kdc_ports = {port}\n  kdc_tcp_ports = {port}\n }}\n"
            ),
        )
        .unwrap();
        let run = |program: &str, args: &[&str]| {
            let out = Command::new(program)
                .args(args)
                .envs(Self::env_in(dir.path()))
                .output()
                .unwrap_or_else(|e| panic!("{program}: {e} (cargo xtask test installs krb5-kdc)"));
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run("kdb5_util", &["create", "-s", "-r", REALM, "-P", "master-password"]);
        let keytab = format!("{d}/http.keytab");
        let admin = |q: &str| run("kadmin.local", &["-r", REALM, "-q", q]);
        admin("addprinc -randkey HTTP/localhost");
        admin(&format!("ktadd -k {keytab} HTTP/localhost"));
        for user in ["alice", "bob", "mallory"] {
            admin(&format!("addprinc -pw {user}-password {user}"));
        }
        let server = Command::new("krb5kdc")
            .args(["-n", "-P"])
            .arg(dir.path().join("kdc.pid"))
            .envs(Self::env_in(dir.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "the KDC did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let kdc = Self { dir, server };
        for user in ["alice", "bob", "mallory"] {
            let mut kinit = Command::new("kinit")
                .arg(user)
                .envs(Self::env_in(kdc.dir.path()))
                .env("KRB5CCNAME", kdc.cache(user))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            use std::io::Write as _;
            writeln!(kinit.stdin.take().unwrap(), "{user}-password").unwrap();
            assert!(kinit.wait().unwrap().success(), "kinit {user}");
        }
        kdc
    }

    fn env_in(dir: &Path) -> Vec<(&'static str, PathBuf)> {
        vec![("KRB5_CONFIG", dir.join("krb5.conf")), ("KRB5_KDC_PROFILE", dir.join("kdc.conf"))]
    }

    fn cache(&self, user: &str) -> String {
        format!("FILE:{}/{user}.cc", self.dir.path().display())
    }

    fn keytab(&self) -> PathBuf {
        self.dir.path().join("http.keytab")
    }

    /// `curl --negotiate` as `user` (None: no ticket): status line and body.
    fn curl(&self, user: Option<&str>, url: &str, extra: &[&str]) -> (String, String) {
        let cache = match user {
            Some(u) => self.cache(u),
            None => format!("FILE:{}/nobody.cc", self.dir.path().display()),
        };
        let out = Command::new("curl")
            .args(["-s", "-i", "--negotiate", "-u", ":"])
            .args(extra)
            .arg(url)
            .envs(Self::env_in(self.dir.path()))
            .env("KRB5CCNAME", cache)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // With Negotiate, curl prints the 401 and then the final answer: keep the last.
        let last = text.rfind("HTTP/1.1 ").map(|i| &text[i..]).unwrap_or("").to_owned();
        let status = last.lines().next().unwrap_or("").trim().to_owned();
        (status, last)
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Approvers sign in with their Kerberos ticket: bob (an approver) gets the queue, mallory (not
/// one) 403, no ticket 401 with the Negotiate challenge; a forged header counts for nothing.
/// Requesters are authenticated the same way when the desk requires it.
#[test]
fn approvers_sign_in_with_kerberos() {
    let kdc = Kdc::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("desk");
    let port = crate::cli::free_port();
    let config = crate::cli::init(&data, Some(port));
    let text = std::fs::read_to_string(&config).unwrap()
        + &format!(
            "[auth]\nmode = \"negotiate\"\nkeytab = \"{}\"\nrequire_requester = true\n[approvers]\nall = [\"bob@{REALM}\"]\n",
            kdc.keytab().display()
        );
    std::fs::write(&config, text).unwrap();
    let mut serve = crate::cli::bin();
    serve.arg("serve").arg("-c").arg(&config).envs(Kdc::env_in(kdc.dir.path()));
    let server = crate::cli::serve_with(serve, port);

    let url = format!("http://localhost:{port}/desk");
    let (status, page) = kdc.curl(Some("bob"), &url, &[]);
    assert_eq!(status, "HTTP/1.1 200 OK", "{page}");
    assert!(page.contains(&format!("bob@{REALM}")), "{page}");
    let (status, page) = kdc.curl(Some("mallory"), &url, &[]);
    assert_eq!(status, "HTTP/1.1 403 Forbidden", "{page}");
    let (status, page) = kdc.curl(None, &url, &[]);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized", "{page}");
    assert!(page.to_ascii_lowercase().contains("www-authenticate: negotiate"), "{page}");
    let (status, _) = kdc.curl(
        None,
        &url,
        &["-H", "Authorization: Negotiate YWJj", "-H", "X-Remote-User: bob@TEST.GATEHOUSE"],
    );
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");

    // Requesters too: with require_requester, a request without a ticket is challenged (401),
    // one with alice's ticket is recorded as hers, authenticated by the domain.
    let mut record = crate::common::record("kerberos-request-1");
    record["principal"] = serde_json::json!(format!("alice@{REALM}"));
    let body = record.to_string();
    let post = ["-H", "Content-Type: application/json", "--data-binary", body.as_str()];
    let api = format!("http://localhost:{port}/api/requests");
    let (status, answer) = kdc.curl(None, &api, &post);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized", "{answer}");
    let (status, answer) = kdc.curl(Some("alice"), &api, &post);
    assert_eq!(status, "HTTP/1.1 201 Created", "{answer}");
    let mut other = crate::common::record("kerberos-request-2");
    other["principal"] = serde_json::json!(format!("bob@{REALM}"));
    let other = other.to_string();
    let (status, answer) = kdc.curl(
        Some("mallory"),
        &api,
        &["-H", "Content-Type: application/json", "--data-binary", other.as_str()],
    );
    assert_eq!(status, "HTTP/1.1 422 Unprocessable Entity", "mallory claiming to be bob: {answer}");
    let (_, queue) = kdc.curl(Some("bob"), &url, &[]);
    assert!(
        queue.contains(&format!("alice@{REALM}")) && queue.contains("authenticated by the domain"),
        "{queue}"
    );
    assert!(!queue.contains("not verified"), "{queue}");

    let log = server.stop();
    assert!(log.contains("approvers sign in with Kerberos"), "{log}");
}
