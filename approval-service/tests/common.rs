//! Test harness: a desk on a fresh database, the router driven in-process, and a throwaway
//! PostgreSQL server from Debian's package (initdb into a temporary folder, socket in it, run
//! as the unprivileged `nobody`; stopped when the test ends).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gatehouse_admin::approve::ApproverKey;
use gatehouse_approval::auth::{Approvers, Csrf, ProxyHeader, PROXY_SECRET_HEADER};
use gatehouse_approval::config::Database;
use gatehouse_approval::desk::Desk;
use gatehouse_approval::directory::Directory;
use gatehouse_approval::mail::{MailConfig, Mailer};
use gatehouse_approval::server::{router, Access, App, Limits};
use gatehouse_approval::store::Store;
use gatehouse_core::Policy;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// The reverse proxy's secret in tests.
pub const PROXY_SECRET: &str = "test-proxy-secret-0123456789";

/// The desk's signing key in tests.
pub fn key() -> ApproverKey {
    ApproverKey::from_seed("desk-test", &[7; 32]).unwrap()
}

/// A department policy that trusts the desk's key and lets users ask for up to 30 days.
pub fn policy() -> Policy {
    let json = json!({
        "approvals": {"keys": [key().public_jwk()], "maxDays": 90},
        "requests": {"url": "https://desk.corp.example/api/requests", "maxDays": 30},
    });
    let parsed = Policy::from_value(&json).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    parsed.policy
}

/// What the block page posts (extension/background.js, `block.request`).
pub fn record(request_id: &str) -> Value {
    json!({
        "requestId": request_id,
        "user": "alice",
        "principal": "alice@corp.example",
        "machine": "WS01",
        "service": "gmail",
        "category": "webmail",
        "origin": "https://mail.google.com",
        "justification": "Customer sends invoices only to my Gmail address",
        "days": 14,
        "createdMs": 1_800_000_000_000_i64,
    })
}

/// A desk and its router on `database`.
pub struct Harness {
    pub app: Arc<App>,
}

impl Harness {
    pub async fn new(database: &Database) -> Self {
        Self::with_limits(database, Limits { max_body_bytes: 16 * 1024, requests_per_hour: 50 })
            .await
    }

    pub async fn with_limits(database: &Database, limits: Limits) -> Self {
        Self::with(database, limits, None).await
    }

    pub async fn with(database: &Database, limits: Limits, mail: Option<&MailConfig>) -> Self {
        Self::build(database, limits, mail, None).await
    }

    /// A desk that also reads approvers from `directory`'s groups.
    pub async fn with_directory(database: &Database, directory: Directory) -> Self {
        let limits = Limits { max_body_bytes: 16 * 1024, requests_per_hour: 50 };
        Self::build(database, limits, None, Some(directory)).await
    }

    async fn build(
        database: &Database,
        limits: Limits,
        mail: Option<&MailConfig>,
        directory: Option<Directory>,
    ) -> Self {
        let store = Store::open(database).await.unwrap();
        let desk = Desk::new(store, policy(), key(), Vec::new());
        let by_category = BTreeMap::from([
            ("webmail".to_owned(), vec!["carol@CORP.EXAMPLE".to_owned()]),
            ("cloud_storage".to_owned(), vec!["dave@CORP.EXAMPLE".to_owned()]),
        ]);
        let access = Access {
            auth: Some(Box::new(
                ProxyHeader::new("x-remote-user", PROXY_SECRET.as_bytes()).unwrap(),
            )),
            approvers: Approvers::new(&["bob@CORP.EXAMPLE".to_owned()], &by_category),
            directory,
            csrf: Csrf::new().unwrap(),
            sessions: None,
            require_requester: false,
        };
        let mailer = mail.map(|m| Mailer::new(m, "https://desk.corp.example").unwrap());
        Self { app: App::new(desk, access, mailer, "https://desk.corp.example".into(), limits) }
    }

    /// Sends one request through the router: (status, JSON body or the text as a JSON string).
    pub async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = router(self.app.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn post(&self, body: &Value) -> (StatusCode, Value) {
        self.post_raw("application/json", body.to_string().into_bytes()).await
    }

    pub async fn post_raw(&self, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let request = Request::post("/api/requests")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        self.call(request).await
    }

    /// A page as `user` (signed in through the proxy), or anonymously: (status, body text).
    pub async fn page(&self, user: Option<&str>, path: &str) -> (StatusCode, String) {
        let mut r = Request::get(path);
        if let Some(u) = user {
            r = r.header("x-remote-user", u).header(PROXY_SECRET_HEADER, PROXY_SECRET);
        }
        let (status, body) = self.call(r.body(Body::empty()).unwrap()).await;
        (status, body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string()))
    }

    /// A form POST as `user`: (status, body text).
    pub async fn form(
        &self,
        user: Option<&str>,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut r = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        if let Some(u) = user {
            r = r.header("x-remote-user", u).header(PROXY_SECRET_HEADER, PROXY_SECRET);
        }
        let (status, body) = self.call(r.body(Body::from(body)).unwrap()).await;
        (status, body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string()))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Request::get(path).body(Body::empty()).unwrap()).await
    }
}

/// A SQLite database in a temporary folder (kept while the guard lives).
pub fn sqlite() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Database::Sqlite(dir.path().join("approvals.sqlite3")), dir)
}

/// Debian's PostgreSQL binaries, highest version first.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL is not installed: `cargo xtask test` installs it (apt-get install postgresql)",
    )
}

/// Runs as the unprivileged `nobody` when the tests run as root (PostgreSQL refuses root).
fn as_postgres_user(program: &Path) -> Command {
    if euid() == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn euid() -> u32 {
    // No libc dependency for one call: the owner of /proc/self is the effective uid.
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// A throwaway PostgreSQL server: a temporary cluster, reachable only on its socket.
pub struct Postgres {
    dir: tempfile::TempDir,
    server: Child,
}

impl Postgres {
    /// A server for tests: commits are not synced to disk (faster; nothing here needs a crash).
    pub fn start() -> Self {
        Self::start_with_fsync(false)
    }

    /// A server that syncs every commit as a production one does (what the load bench measures).
    pub fn start_with_fsync(fsync: bool) -> Self {
        let bin = postgres_bin();
        let dir = tempfile::Builder::new().prefix("gatehouse-pg").tempdir().unwrap();
        if euid() == 0 {
            std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        }
        let data = dir.path().join("data");
        let out = as_postgres_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let server = as_postgres_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "listen_addresses=", "-c", "max_connections=200"])
            .args(["-c", if fsync { "fsync=on" } else { "fsync=off" }])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pg = Self { dir, server };
        let socket = pg.dir.path().join(".s.PGSQL.5432");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(30), "PostgreSQL did not start in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        pg
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@localhost/{db}?host={}", self.dir.path().display())
    }

    /// A new, empty database on this server.
    pub async fn database(&self, name: &str) -> Database {
        use sqlx::Connection as _;
        let start = Instant::now();
        let mut admin = loop {
            match sqlx::PgConnection::connect(&self.url("postgres")).await {
                Ok(c) => break c,
                Err(e) if start.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot connect to the test PostgreSQL: {e}"),
            }
        };
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        Database::Postgres(self.url(name))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (SIGKILL would leave its backends behind).
        let _ = Command::new("kill").arg("-INT").arg(self.server.id().to_string()).status();
        let _ = self.server.wait();
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One mail a [`SmtpSink`] received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
    /// Whether it came over TLS (STARTTLS or from the first byte).
    pub tls: bool,
    /// The AUTH PLAIN user name and password given on its connection, if any.
    pub auth: Option<(String, String)>,
}

/// How an [`SmtpSink`] speaks.
#[derive(Clone)]
pub enum SinkTls {
    /// Plain SMTP, nothing offered.
    None,
    /// STARTTLS offered (and AUTH PLAIN after it) with this certificate.
    StartTls(Arc<tokio_rustls::rustls::ServerConfig>),
    /// TLS from the first byte (AUTH PLAIN offered).
    Wrapper(Arc<tokio_rustls::rustls::ServerConfig>),
}

/// A CA made for one test, and server certificates it issues.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A TLS server configuration with a certificate for `host` issued by this CA.
    pub fn server(&self, host: &str) -> Arc<tokio_rustls::rustls::ServerConfig> {
        use tokio_rustls::rustls;
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        Arc::new(config)
    }
}

/// A local SMTP server that accepts every mail and keeps it; plain, with STARTTLS or TLS from
/// the first byte, and AUTH PLAIN once the connection is encrypted.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<std::sync::Mutex<Vec<Mail>>>,
    /// TLS handshakes that failed (the client refused the certificate, for one).
    pub handshake_failures: Arc<std::sync::atomic::AtomicU64>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_with(SinkTls::None).await
    }

    pub async fn start_with(tls: SinkTls) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(std::sync::Mutex::new(Vec::new()));
        let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (kept, failed) = (Arc::clone(&mails), Arc::clone(&failures));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (kept, failed, tls) = (Arc::clone(&kept), Arc::clone(&failed), tls.clone());
                tokio::spawn(async move {
                    let handshake = |config: Arc<tokio_rustls::rustls::ServerConfig>, stream| {
                        let failed = Arc::clone(&failed);
                        async move {
                            let accepted =
                                tokio_rustls::TlsAcceptor::from(config).accept(stream).await;
                            if accepted.is_err() {
                                failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            accepted.ok()
                        }
                    };
                    let mut auth = None;
                    match tls {
                        SinkTls::None => {
                            session(stream, &kept, &mut auth, Offer::Nothing, true).await;
                        }
                        SinkTls::Wrapper(config) => {
                            if let Some(s) = handshake(config, stream).await {
                                session(s, &kept, &mut auth, Offer::Auth, true).await;
                            }
                        }
                        SinkTls::StartTls(config) => {
                            let upgrade =
                                session(stream, &kept, &mut auth, Offer::StartTls, true).await;
                            if let Some(stream) = upgrade {
                                if let Some(s) = handshake(config, stream).await {
                                    session(s, &kept, &mut auth, Offer::Auth, false).await;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { port, mails, handshake_failures: failures }
    }

    /// Waits (up to 10 s) until `n` mails have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let start = Instant::now();
        loop {
            let mails = self.mails.lock().unwrap().clone();
            if mails.len() >= n || start.elapsed() > Duration::from_secs(10) {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a sink's session offers in its EHLO answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Offer {
    Nothing,
    StartTls,
    /// AUTH PLAIN: the connection is encrypted.
    Auth,
}

/// One SMTP session; returns the stream when the client asked for STARTTLS.
async fn session<S>(
    stream: S,
    kept: &std::sync::Mutex<Vec<Mail>>,
    auth: &mut Option<(String, String)>,
    offer: Offer,
    greet: bool,
) -> Option<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use base64::Engine as _;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let mut s = BufReader::new(stream);
    if greet {
        s.write_all(b"220 sink ESMTP\r\n").await.ok()?;
    }
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        let verb = l.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match (verb.as_str(), offer) {
            ("EHLO" | "HELO", Offer::Nothing) => b"250 sink\r\n",
            ("EHLO" | "HELO", Offer::StartTls) => b"250-sink\r\n250 STARTTLS\r\n",
            ("EHLO" | "HELO", Offer::Auth) => b"250-sink\r\n250 AUTH PLAIN\r\n",
            ("STAR", Offer::StartTls) => {
                s.write_all(b"220 go ahead\r\n").await.ok()?;
                return Some(s.into_inner());
            }
            ("AUTH", Offer::Auth) => {
                let given = l.get(11..).unwrap_or("").trim();
                let plain = base64::engine::general_purpose::STANDARD.decode(given).ok()?;
                let parts: Vec<String> =
                    plain.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into()).collect();
                *auth = Some((parts.get(1)?.clone(), parts.get(2)?.clone()));
                b"235 ok\r\n"
            }
            ("AUTH", _) => b"503 not now\r\n",
            ("RCPT", _) => {
                to.push(l.get(8..).unwrap_or("").trim().trim_matches(['<', '>']).to_owned());
                b"250 ok\r\n"
            }
            ("DATA", _) => {
                s.write_all(b"354 go on\r\n").await.ok()?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if s.read_line(&mut line).await.ok()? == 0 {
                        return None;
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    data.push_str(l);
                    data.push('\n');
                }
                kept.lock().unwrap().push(Mail {
                    to: std::mem::take(&mut to),
                    data,
                    tls: offer == Offer::Auth,
                    auth: auth.clone(),
                });
                b"250 kept\r\n"
            }
            ("QUIT", _) => {
                let _ = s.write_all(b"221 bye\r\n").await;
                return None;
            }
            _ => b"250 ok\r\n",
        };
        s.write_all(reply).await.ok()?;
    }
}

/// Seeds `n` requests straight into the database's table, spread over the two years before
/// `now_ms` (deterministic: the same `n` and `now_ms` give the same rows): a mix of pending,
/// denied, approved (expired, in force, revoked), four categories, eight services. For the
/// overview's figures: the test compares them with the records, the bench times the page.
pub async fn seed(database: &Database, n: usize, now_ms: i64) {
    // Connect only after the desk has opened it (and brought the schema up to date).
    let pool = sqlx::AnyPool::connect(&database.url()).await.unwrap();
    const SERVICES: [(&str, &str); 8] = [
        ("gmail", "webmail"),
        ("outlook_personal", "webmail"),
        ("yahoo_mail", "webmail"),
        ("dropbox", "cloud_storage"),
        ("google_drive", "cloud_storage"),
        ("whatsapp", "instant_messaging"),
        ("telegram", "instant_messaging"),
        ("proxy_site", "circumvention"),
    ];
    const DAY: i64 = 86_400_000;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    const PER_INSERT: usize = 400;
    let mut tx = pool.begin().await.unwrap();
    for start in (0..n).step_by(PER_INSERT) {
        let rows = PER_INSERT.min(n - start);
        let mut sql = String::from(
            "INSERT INTO requests (id, client_request_id, created_ms, principal, machine, \
             identity_source, service, category, justification, days_requested, state, \
             decided_ms, decided_by, reason, days_granted, jti, kid, token, expires_ms, \
             revoked_ms, revoked_by) VALUES ",
        );
        for r in 0..rows {
            let b = r * 21;
            let marks: Vec<String> = (1..=21).map(|k| format!("${}", b + k)).collect();
            if r > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("({})", marks.join(", ")));
        }
        let mut q = sqlx::query(&sql);
        for i in start..start + rows {
            let (service, category) = SERVICES[next(8) as usize];
            // Newer requests are more frequent: two years, the recent quarter weighted.
            let age = if next(3) == 0 { next(90 * DAY as u64) } else { next(730 * DAY as u64) };
            let created = now_ms - age as i64;
            let wait = (next(72) as i64 + 1) * 3_600_000 / (1 + next(4) as i64);
            let roll = next(100);
            let state = if created + wait > now_ms || roll < 5 {
                "pending"
            } else if roll < 25 {
                "denied"
            } else {
                "approved"
            };
            let decided = (state != "pending").then_some(created + wait);
            let days = 1 + next(30) as i64;
            let approved = state == "approved";
            let expires = decided.filter(|_| approved).map(|d| d + days * DAY);
            let revoked = expires.filter(|_| next(10) == 0).and_then(|_| decided.map(|d| d + DAY));
            q = q
                .bind(format!("seed-{i}"))
                .bind(format!("client-{i}"))
                .bind(created)
                .bind(format!("user{}@corp.example", next(2000)))
                .bind(format!("WS{:04}", next(3000)))
                .bind(if next(2) == 0 { "kerberos" } else { "reported" })
                .bind(service)
                .bind(category)
                .bind("seeded")
                .bind(days)
                .bind(state)
                .bind(decided)
                .bind(decided.map(|_| "bob@corp.example"))
                .bind((state == "denied").then_some("seeded"))
                .bind(expires.map(|_| days))
                .bind(expires.map(|_| format!("jti-{i}")))
                .bind(expires.map(|_| "desk-test"))
                .bind(expires.map(|_| "t"))
                .bind(expires)
                .bind(revoked)
                .bind(revoked.map(|_| "bob@corp.example"));
        }
        q.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
}
