//! The host itself: reads frames until the browser closes the port, answers each request, never writes anything but frames.
//!
//! One loop serves both of Chrome's modes: a long-lived `connectNative` port sends many frames on
//! one process, `sendNativeMessage` starts a process per message and closes stdin after it.
//! Either way the loop ends at a clean end of stream.

use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};

use crate::approvals::{self, ApprovalDirs, ImportError, TokenError};
use crate::audit::{AuditError, AuditLog, Stamp};
use crate::frame::{self, FrameError, MAX_INBOUND, MAX_OUTBOUND};
use crate::identity::{self, Identity, IdentitySource};
use crate::network::{NetworkProbe, DEFAULT_BUDGET};
use crate::protocol::{
    decode_request, error_reply, ok_reply, ErrorCode, ReplyError, RequestKind, PROTOCOL_VERSION,
    REQUEST_TYPES,
};

/// How long a request that reads or writes files may take before it is answered with
/// `timeout`. Everything the host reads is small and local: a healthy request takes
/// milliseconds, so this only ever cuts off something that would hang (a FUSE or network folder
/// the user mounted, a stuck file system).
pub const FILE_DEADLINE: Duration = Duration::from_millis(750);

/// The same for `network`, on top of its own budget for DNS and `sssctl`.
pub const NETWORK_DEADLINE: Duration =
    Duration::from_millis(DEFAULT_BUDGET.as_millis() as u64 + 750);

/// Workers of one [`Lane`] still stuck on earlier requests beyond which new requests in that
/// lane are answered `timeout` at once instead of starting yet another thread that would hang
/// the same way.
const MAX_STUCK_WORKERS: usize = 4;

/// What a worker waits on. Each lane counts its own stuck workers, so a hung folder of the
/// user's (approvals, the audit copy) cannot also starve the identity and network answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// The identity reader (system files; the user's Kerberos credential cache).
    Identity = 0,
    /// Network facts (DNS, `sssctl`, the identity for the joined domain).
    Network = 1,
    /// The user's approvals folder and the audit copy's folder.
    UserFiles = 2,
}

/// Everything the host reads from and writes to.
pub struct HostConfig {
    /// Who is signed in.
    pub identity: Box<dyn IdentitySource>,
    /// Network facts.
    pub network: NetworkProbe,
    /// Approval folders.
    pub approvals: ApprovalDirs,
    /// Audit sinks.
    pub audit: AuditLog,
}

impl HostConfig {
    /// The platform's readers, folders and system log. Reads no `GATEHOUSE_*` environment
    /// variable: the browser's environment is the user's to set, so nothing in it may move where
    /// the host looks or writes (test builds have `crate::test_hooks` for that).
    pub fn system() -> Self {
        HostConfig {
            identity: identity::system(),
            network: NetworkProbe::system(),
            approvals: ApprovalDirs::platform_default(),
            audit: AuditLog::new(AuditLog::default_dir()),
        }
    }
}

/// Answers requests.
///
/// Requests that touch files or the network run on a worker thread under a deadline
/// ([`FILE_DEADLINE`], [`NETWORK_DEADLINE`]): one that does not finish in time is answered with
/// `timeout` and the host goes on with the next request, so nothing the user plants can freeze
/// it. A stuck worker is left behind (it ends with the process).
pub struct Host {
    config: Arc<HostConfig>,
    /// Identity as first read, for stamping audit events (who does not change within a process).
    stamp: OnceLock<Stamp>,
    /// Workers running now, per [`Lane`]; more than one only while earlier ones are stuck.
    workers: Arc<[AtomicUsize; 3]>,
}

/// Counts a worker of one lane from its start to its end, however it ends.
struct WorkerGuard(Arc<[AtomicUsize; 3]>, Lane);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0[self.1 as usize].fetch_sub(1, Ordering::SeqCst);
    }
}

impl Host {
    /// A host over `config`.
    pub fn new(config: HostConfig) -> Self {
        Host { config: Arc::new(config), stamp: OnceLock::new(), workers: Arc::default() }
    }

    /// Runs `work` on a worker thread; its result, or `timeout` after `deadline`.
    fn with_deadline<T, F>(
        &self,
        lane: Lane,
        what: &str,
        deadline: Duration,
        work: F,
    ) -> Result<T, ReplyError>
    where
        T: Send + 'static,
        F: FnOnce(&HostConfig) -> T + Send + 'static,
    {
        let stuck = self.workers[lane as usize].load(Ordering::SeqCst);
        if stuck >= MAX_STUCK_WORKERS {
            return Err(ReplyError::new(
                ErrorCode::Timeout,
                format!(
                    "{what}: {stuck} earlier requests are still waiting on files or folders that do \
                     not answer; not starting another"
                ),
            ));
        }
        self.workers[lane as usize].fetch_add(1, Ordering::SeqCst);
        let guard = WorkerGuard(Arc::clone(&self.workers), lane);
        let config = Arc::clone(&self.config);
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned =
            std::thread::Builder::new().name("gatehouse-request".into()).spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| work(&config)));
                // Uncounted before the answer is sent, so the next request never sees a worker
                // that has finished as stuck.
                drop(guard);
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            return Err(ReplyError::new(
                ErrorCode::Internal,
                format!("{what}: cannot start a worker thread: {e}"),
            ));
        }
        match rx.recv_timeout(deadline) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(ReplyError::new(
                ErrorCode::Internal,
                format!("{what}: the host failed handling this request"),
            )),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(ReplyError::new(
                ErrorCode::Timeout,
                format!(
                    "{what} did not finish within {} ms: a file or folder it needs does not \
                     answer; the host goes on",
                    deadline.as_millis()
                ),
            )),
        }
    }

    /// Answers one frame body with one reply body (at most [`MAX_OUTBOUND`] bytes). Never panics:
    /// a bug in a handler becomes an `internal` error reply.
    pub fn handle_frame(&self, body: &[u8]) -> Vec<u8> {
        let (id, result) = match decode_request(body) {
            Ok(request) => {
                let result = catch_unwind(AssertUnwindSafe(|| self.handle(&request.kind)))
                    .unwrap_or_else(|_| {
                        Err(ReplyError::new(
                            ErrorCode::Internal,
                            "the host failed handling this request",
                        ))
                    });
                (request.id, result)
            }
            Err(e) => (e.id, Err(e.error)),
        };
        let reply = match result {
            Ok(data) => ok_reply(&id, data),
            Err(e) => error_reply(&id, &e),
        };
        let bytes = reply.to_string().into_bytes();
        if bytes.len() <= MAX_OUTBOUND {
            return bytes;
        }
        let e = ReplyError::new(
            ErrorCode::ReplyTooLarge,
            format!(
                "the reply would be {} bytes; the browser accepts at most {MAX_OUTBOUND}",
                bytes.len()
            ),
        );
        error_reply(&id, &e).to_string().into_bytes()
    }

    fn handle(&self, kind: &RequestKind) -> Result<Value, ReplyError> {
        match kind {
            RequestKind::Hello => Ok(json!({
                "hostVersion": env!("CARGO_PKG_VERSION"),
                "protocol": PROTOCOL_VERSION,
                "capabilities": REQUEST_TYPES,
                "platform": platform(),
                "maxMessageBytes": MAX_INBOUND,
                "maxTokenBytes": approvals::MAX_TOKEN_BYTES,
            })),
            RequestKind::Identity => to_value(&self.identity()?),
            RequestKind::Network { probe_hosts } => {
                let probe_hosts = probe_hosts.clone();
                let facts = self.with_deadline(
                    Lane::Network,
                    "network",
                    NETWORK_DEADLINE,
                    move |config| {
                        // The SRV and SSSD checks need the joined domain; without an identity they are skipped.
                        let identity = config.identity.read().ok();
                        config.network.gather(identity.as_ref(), &probe_hosts)
                    },
                )?;
                to_value(&facts)
            }
            RequestKind::Approvals => {
                let listing =
                    self.with_deadline(Lane::UserFiles, "approvals", FILE_DEADLINE, |config| {
                        approvals::list(&config.approvals)
                    })?;
                to_value(&listing)
            }
            RequestKind::ImportApproval { token } => {
                if self.config.approvals.user.is_none() {
                    return Err(ReplyError::new(
                        ErrorCode::Unavailable,
                        "no per-user approvals folder on this system",
                    ));
                }
                let token = token.clone();
                self.with_deadline(
                    Lane::UserFiles,
                    "import_approval",
                    FILE_DEADLINE,
                    move |config| {
                        let dir = config.approvals.user.as_deref().ok_or(ImportError::NoUserDir)?;
                        approvals::import(dir, &token)
                    },
                )?
                .map_err(import_error)
                .and_then(|i| to_value(&i))
            }
            RequestKind::Audit { events } => self.audit(events),
        }
    }

    /// The record first (the system log, in this thread, touching no file of the user's), then
    /// the per-user copy under the deadline. Reply: `written` (events in the record),
    /// `systemLog` (sent there, `null` when off), `fileCopy` (appended to the copy, `null` when
    /// it failed) and `fileError`.
    fn audit(&self, events: &[serde_json::Map<String, Value>]) -> Result<Value, ReplyError> {
        let stamp = self.stamp();
        let records = AuditLog::records(events, &stamp, &crate::util::now_rfc3339());
        let sent = if self.config.audit.system_log_on() {
            Some(self.config.audit.send_to_system_log(&records).map_err(audit_error)?)
        } else {
            None
        };
        let copy =
            self.with_deadline(Lane::UserFiles, "the audit copy", FILE_DEADLINE, move |config| {
                config.audit.append_to_file(&records)
            });
        match (sent, copy) {
            (Some(sent), copy) => {
                let (copied, error) = match copy {
                    Ok(Ok(n)) => (Some(n), None),
                    Ok(Err(e)) => (None, Some(e.to_string())),
                    Err(e) => (None, Some(e.message)),
                };
                Ok(
                    json!({ "written": sent, "systemLog": sent, "fileCopy": copied, "fileError": error }),
                )
            }
            // Test builds without a system log: the file is the record.
            (None, copy) => {
                let written = copy?.map_err(audit_error)?;
                Ok(
                    json!({ "written": written, "systemLog": null, "fileCopy": written, "fileError": null }),
                )
            }
        }
    }

    fn identity(&self) -> Result<Identity, ReplyError> {
        self.with_deadline(Lane::Identity, "identity", FILE_DEADLINE, |config| {
            config.identity.read()
        })?
        .map_err(|e| ReplyError::new(ErrorCode::Unavailable, e.to_string()))
    }

    /// Who to stamp audit events with: the identity, read once. When it cannot be read in time
    /// the events are still recorded, stamped with what is known (nothing), and the next request
    /// tries again; the system log adds the sending process's own uid and pid regardless.
    fn stamp(&self) -> Stamp {
        if let Some(stamp) = self.stamp.get() {
            return stamp.clone();
        }
        match self.identity() {
            Ok(identity) => self
                .stamp
                .get_or_init(|| Stamp {
                    user: identity.user,
                    principal: identity.principal,
                    machine: identity.machine,
                })
                .clone(),
            Err(_) => Stamp::default(),
        }
    }
}

fn audit_error(e: AuditError) -> ReplyError {
    match e {
        AuditError::NoDir => ReplyError::new(ErrorCode::Unavailable, e.to_string()),
        e => ReplyError::new(ErrorCode::IoError, e.to_string()),
    }
}

fn import_error(e: ImportError) -> ReplyError {
    let code = match &e {
        ImportError::Token(TokenError::TooLarge { .. }) => ErrorCode::TokenTooLarge,
        ImportError::Token(_) => ErrorCode::TokenMalformed,
        ImportError::NoUserDir => ErrorCode::Unavailable,
        _ => ErrorCode::IoError,
    };
    ReplyError::new(code, e.to_string())
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, ReplyError> {
    serde_json::to_value(value)
        .map_err(|e| ReplyError::new(ErrorCode::Internal, format!("cannot encode the reply: {e}")))
}

/// `linux`, `windows` or `macos` (other systems report their Rust OS name).
pub fn platform() -> &'static str {
    std::env::consts::OS
}

/// Serves requests from `input` until a clean end of stream.
///
/// # Errors
/// [`FrameError`] when the stream breaks (ends inside a frame, or a read or write fails): the
/// caller reports it on stderr and exits non-zero.
pub fn serve<R: Read, W: Write>(
    host: &Host,
    input: &mut R,
    output: &mut W,
) -> Result<(), FrameError> {
    loop {
        match frame::read_frame(input, MAX_INBOUND) {
            Ok(None) => return Ok(()),
            Ok(Some(body)) => frame::write_frame(output, &host.handle_frame(&body))?,
            Err(FrameError::TooLarge { len, cap }) => {
                let e = ReplyError::new(
                    ErrorCode::FrameTooLarge,
                    format!("message of {len} bytes is over the host's {cap}-byte limit; it was skipped"),
                );
                frame::write_frame(output, error_reply(&Value::Null, &e).to_string().as_bytes())?;
                frame::skip_body(input, len)?;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Fixed;
    use std::io::Cursor;

    fn host(dir: &std::path::Path) -> Host {
        Host::new(HostConfig {
            identity: Box::new(Fixed(Identity {
                user: "alice".into(),
                principal: Some("alice@corp.example".into()),
                machine: "ws01".into(),
                joined: true,
                domain: Some("corp.example".into()),
                source: "fixture".into(),
                ..Identity::default()
            })),
            network: NetworkProbe::new(dir).with_nameservers(vec![]),
            approvals: ApprovalDirs { machine: dir.join("machine"), user: Some(dir.join("user")) },
            audit: AuditLog::new(Some(dir.join("audit"))).with_system_log(false),
        })
    }

    fn frames(bodies: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for b in bodies {
            frame::write_frame(&mut out, b).unwrap();
        }
        out
    }

    fn replies(mut bytes: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(body) = frame::read_frame(&mut bytes, MAX_OUTBOUND).unwrap() {
            out.push(serde_json::from_slice(&body).unwrap());
        }
        out
    }

    #[test]
    fn every_malformed_frame_gets_its_own_error_and_the_loop_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let input = frames(&[
            b"\xff\xfe",
            b"{not json",
            br#"{"v":1,"id":1,"type":"nope"}"#,
            br#"{"v":1,"id":2,"type":"import_approval","token":7}"#,
            br#"{"v":9,"id":3,"type":"hello"}"#,
            br#"{"v":1,"id":4,"type":"import_approval","token":"x.y"}"#,
            br#"{"v":1,"id":"last","type":"hello"}"#,
        ]);
        let mut out = Vec::new();
        serve(&host(tmp.path()), &mut Cursor::new(input), &mut out).unwrap();
        let codes: Vec<_> =
            replies(&out).iter().map(|r| (r["id"].clone(), r["error"]["code"].clone())).collect();
        assert_eq!(
            codes,
            vec![
                (Value::Null, json!(2)),
                (Value::Null, json!(1)),
                (json!(1), json!(4)),
                (json!(2), json!(5)),
                (json!(3), json!(6)),
                (json!(4), json!(8)),
                (json!("last"), Value::Null),
            ]
        );
    }

    #[test]
    fn over_cap_frame_is_answered_and_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let mut input = ((MAX_INBOUND + 1) as u32).to_ne_bytes().to_vec();
        input.extend(vec![b' '; MAX_INBOUND + 1]);
        input.extend(frames(&[br#"{"v":1,"id":5,"type":"hello"}"#]));
        let mut out = Vec::new();
        serve(&host(tmp.path()), &mut Cursor::new(input), &mut out).unwrap();
        let r = replies(&out);
        assert_eq!(r[0]["error"]["name"], "frame_too_large");
        assert_eq!(r[1]["id"], 5);
        assert_eq!(r[1]["ok"], true);
    }

    #[test]
    fn truncated_stream_is_an_error_after_the_complete_frames() {
        let tmp = tempfile::tempdir().unwrap();
        let mut input = frames(&[br#"{"v":1,"id":1,"type":"hello"}"#]);
        input.extend([9, 0]);
        let mut out = Vec::new();
        let err = serve(&host(tmp.path()), &mut Cursor::new(input), &mut out).unwrap_err();
        assert!(matches!(err, FrameError::TruncatedPrefix { got: 2 }));
        assert_eq!(replies(&out).len(), 1, "the complete frame was still answered");
    }

    #[test]
    fn hello_identity_import_approvals_audit() {
        let tmp = tempfile::tempdir().unwrap();
        let h = host(tmp.path());
        let ask = |v: Value| -> Value {
            serde_json::from_slice(&h.handle_frame(v.to_string().as_bytes())).unwrap()
        };
        let hello = ask(json!({"v":1,"id":1,"type":"hello"}));
        assert_eq!(hello["data"]["protocol"], 1);
        assert_eq!(hello["data"]["platform"], platform());
        assert_eq!(hello["data"]["capabilities"].as_array().unwrap().len(), REQUEST_TYPES.len());
        let id = ask(json!({"v":1,"id":2,"type":"identity"}));
        assert_eq!(id["data"]["principal"], "alice@corp.example");

        let token = approvals::tests::token("{}");
        let imported = ask(json!({"v":1,"id":3,"type":"import_approval","token":token}));
        assert_eq!(imported["data"]["duplicate"], false, "{imported}");
        let listed = ask(json!({"v":1,"id":4,"type":"approvals"}));
        assert_eq!(listed["data"]["tokens"][0]["source"], "user");
        assert_eq!(listed["data"]["tokens"][0]["token"], token.as_str());
        assert_eq!(listed["data"]["tokens"][0]["file"], imported["data"]["file"]);

        let audit = ask(
            json!({"v":1,"id":5,"type":"audit","events":[{"kind":"blocked","url":"https://m.example/x"}]}),
        );
        assert_eq!(audit["data"]["written"], 1);
        let line = std::fs::read_to_string(tmp.path().join("audit/audit.jsonl")).unwrap();
        let rec: Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(rec["url"], "https://m.example");
        assert_eq!(rec["user"], "alice");
        assert_eq!(rec["principal"], "alice@corp.example");
        assert_eq!(rec["machine"], "ws01");
    }

    /// An identity source that never answers, like a credential cache on a hung FUSE folder.
    struct Hangs;

    impl IdentitySource for Hangs {
        fn read(&self) -> Result<Identity, identity::IdentityError> {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Err(identity::IdentityError::Unsupported { os: "never" })
        }
    }

    /// Issue 9, finding 6: whatever hangs, the request is answered `timeout` within a second,
    /// and an audit event still reaches the record.
    #[cfg(unix)]
    #[test]
    fn a_request_that_hangs_is_answered_timeout_and_the_host_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let syslog = std::os::unix::net::UnixDatagram::bind(tmp.path().join("log")).unwrap();
        let mut config = host(tmp.path()).config;
        let c = Arc::get_mut(&mut config).unwrap();
        c.identity = Box::new(Hangs);
        c.audit = AuditLog::new(Some(tmp.path().join("audit")))
            .with_system_log_at(tmp.path().join("log"));
        let h = Host { config, stamp: OnceLock::new(), workers: Arc::default() };
        let identity_lane = |h: &Host| h.workers[Lane::Identity as usize].load(Ordering::SeqCst);
        let ask = |v: Value| -> Value {
            serde_json::from_slice(&h.handle_frame(v.to_string().as_bytes())).unwrap()
        };
        for id in 0..MAX_STUCK_WORKERS + 2 {
            let started = std::time::Instant::now();
            let r = ask(json!({"v":1,"id":id,"type":"identity"}));
            assert_eq!(r["error"]["name"], "timeout", "{r}");
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
        assert_eq!(identity_lane(&h), MAX_STUCK_WORKERS, "no more threads than the cap");
        assert_eq!(ask(json!({"v":1,"id":"h","type":"hello"}))["ok"], true);
        // Another lane is not starved by the stuck identity reads.
        let listed = ask(json!({"v":1,"id":"l","type":"approvals"}));
        assert_eq!(listed["ok"], true, "{listed}");
        // The audit record does not wait for the identity (the stamp is left empty): the
        // system log has it, and so does the copy.
        let started = std::time::Instant::now();
        let r = ask(json!({"v":1,"id":"a","type":"audit","event":{"kind":"blocked"}}));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            (r["data"]["written"].clone(), r["data"]["systemLog"].clone()),
            (json!(1), json!(1)),
            "{r}"
        );
        assert_eq!(
            (r["data"]["fileCopy"].clone(), r["data"]["fileError"].clone()),
            (json!(1), Value::Null),
            "{r}"
        );
        let mut buf = [0u8; 9000];
        let n = syslog.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]);
        assert!(msg.contains(r#""kind":"blocked""#) && msg.contains(r#""user":"""#), "{msg}");
    }

    /// Issue 10: one token cap — the engine's — in the host's checks, in `hello` and in
    /// `PROTOCOL.md` (the host once allowed 16 KiB while the verifier rejected over 8 KiB).
    #[test]
    fn the_token_cap_is_the_engine_s_in_hello_and_protocol_md() {
        assert_eq!(approvals::MAX_TOKEN_BYTES, gatehouse_core::MAX_TOKEN_BYTES);
        let tmp = tempfile::tempdir().unwrap();
        let h = host(tmp.path());
        let hello: Value =
            serde_json::from_slice(&h.handle_frame(br#"{"v":1,"id":1,"type":"hello"}"#)).unwrap();
        assert_eq!(hello["data"]["maxTokenBytes"], gatehouse_core::MAX_TOKEN_BYTES);
        let doc = include_str!("../PROTOCOL.md");
        let kib = gatehouse_core::MAX_TOKEN_BYTES / 1024;
        for needle in [
            format!("\"maxTokenBytes\": {}}}", gatehouse_core::MAX_TOKEN_BYTES),
            format!("| `token_too_large` | the token is over {kib} KiB |"),
            format!("The token must be at most {kib} KiB"),
        ] {
            assert!(doc.contains(&needle), "PROTOCOL.md lacks {needle:?}");
        }
        assert!(!doc.contains("16 KiB") && !doc.contains("16384"), "a stale token cap");
        let just_right = format!("{}.e30.sig", "e".repeat(gatehouse_core::MAX_TOKEN_BYTES - 8));
        assert_eq!(
            approvals::check_shape(&just_right).err(),
            Some(approvals::TokenError::HeaderNotJson)
        );
        let one_over = format!("{just_right}x");
        assert!(matches!(
            approvals::check_shape(&one_over),
            Err(approvals::TokenError::TooLarge { .. })
        ));
    }

    #[test]
    fn oversized_token_gets_token_too_large() {
        let tmp = tempfile::tempdir().unwrap();
        let h = host(tmp.path());
        let big = "a".repeat(approvals::MAX_TOKEN_BYTES + 100);
        let r: Value = serde_json::from_slice(&h.handle_frame(
            json!({"v":1,"id":1,"type":"import_approval","token":big}).to_string().as_bytes(),
        ))
        .unwrap();
        assert_eq!(r["error"]["name"], "token_too_large");
    }
}
