//! The audit trail: events from the extension, stamped by the host, sent to the system log, with a per-user JSON-lines copy.
//!
//! Privacy by default: URL fields (`url`, `initiator`, `referrer`) are cut down to their origin
//! unless the event says the policy asked for full URLs (`"fullUrl": true`). The host adds `ts`,
//! `user`, `principal` and `machine`, overwriting any the extension sent, so an event cannot claim another
//! user.
//!
//! **The record is the system log** (journald/syslog through `/dev/log`, `/var/run/syslog` on
//! macOS, the Windows Event Log): a sink the user can neither edit nor redirect. Each event is
//! sent there first, before anything touches a file the user controls. The JSON-lines file in
//! the user's own data folder is a convenience copy, never the record: it is written after the
//! system log, opened without following links or blocking (`crate::userfile`), and its failure
//! is reported but does not fail the request. Only test builds can turn the system log off
//! (`GATEHOUSE_SYSLOG=0`, `test-hooks`); the file is then the record.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Fields holding URLs, reduced to their origin unless `fullUrl` is true.
pub const URL_FIELDS: [&str; 3] = ["url", "initiator", "referrer"];

/// The audit file's name inside the audit folder; rotated copies are `audit.1.jsonl`, ….
pub const FILE_NAME: &str = "audit.jsonl";

/// How the system log files an event: `warning` when something was stopped or went wrong,
/// else `notice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Routine: a page loaded, a policy loaded, a request was made.
    Notice,
    /// Something was stopped (a blocked request or tab) or went wrong (a rejected token, rules
    /// found tampered with, events lost).
    Warning,
}

impl Severity {
    /// The word `PROTOCOL.md` uses.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
        }
    }
}

/// Every audit `kind` the extension sends, with its severity: the table "Audit kinds" in
/// `PROTOCOL.md`, one row each, in its order. Checked against `PROTOCOL.md` here and against the
/// extension's `audit({kind: …})` calls in `tests/browser/static.test.mjs`. A kind not listed
/// (a newer extension's) is still written, at [`Severity::Notice`].
pub const KINDS: [(&str, Severity); 14] = [
    ("blocked", Severity::Warning),
    ("warned", Severity::Notice),
    ("proceeded", Severity::Notice),
    ("loaded", Severity::Notice),
    ("rule_miss", Severity::Warning),
    ("in_page_navigation", Severity::Warning),
    ("open_tab_blocked", Severity::Warning),
    ("site_data_cleared", Severity::Notice),
    ("policy_loaded", Severity::Notice),
    ("token_rejected", Severity::Warning),
    ("approval_requested", Severity::Notice),
    ("approval_imported", Severity::Notice),
    ("rules_repaired", Severity::Warning),
    ("audit_dropped", Severity::Warning),
];

/// The severity of an event of `kind` ([`KINDS`]; [`Severity::Notice`] for one not listed).
pub fn severity(kind: &str) -> Severity {
    KINDS.iter().find(|(k, _)| *k == kind).map_or(Severity::Notice, |&(_, s)| s)
}

/// Who and where, added to every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    /// The OS user.
    pub user: String,
    /// The directory principal, where there is one.
    pub principal: Option<String>,
    /// The machine's short name.
    pub machine: String,
}

/// Where audit events go.
#[derive(Debug, Clone)]
pub struct AuditLog {
    dir: Option<PathBuf>,
    max_bytes: u64,
    keep: usize,
    system_log: bool,
    #[cfg(unix)]
    system_log_socket: PathBuf,
}

/// One stamped event, ready for the sinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Logged at warning severity (something was stopped or went wrong), else notice.
    pub warning: bool,
    /// The JSON line, without the newline.
    pub line: String,
}

/// Why events could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// There is nowhere to write the file.
    #[error("no audit folder on this system")]
    NoDir,
    /// The system log did not take an event.
    #[error("the system log did not take the audit event ({sent} of {total} sent): {source}")]
    SystemLog {
        /// Events sent before the failure.
        sent: usize,
        /// Events in the request.
        total: usize,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The file could not be written.
    #[error("cannot write the audit file {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

impl AuditLog {
    /// A log sending to the system log, with a copy in `dir/audit.jsonl` rotated at 10 MiB
    /// keeping 3 old files.
    pub fn new(dir: Option<PathBuf>) -> Self {
        AuditLog {
            dir,
            max_bytes: 10 * 1024 * 1024,
            keep: 3,
            system_log: true,
            #[cfg(unix)]
            system_log_socket: PathBuf::from(if cfg!(target_os = "macos") {
                "/var/run/syslog"
            } else {
                "/dev/log"
            }),
        }
    }

    /// The platform's folder for the copy: the user's local data dir + `audit`.
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("org", "gatehouse", "gatehouse")
            .map(|d| d.data_local_dir().join("audit"))
    }

    /// Rotate when the file would grow past `max_bytes`, keeping `keep` old files.
    #[must_use]
    pub fn with_rotation(mut self, max_bytes: u64, keep: usize) -> Self {
        self.max_bytes = max_bytes;
        self.keep = keep;
        self
    }

    /// Send each event to the system log (default on; only tests turn it off).
    #[must_use]
    pub fn with_system_log(mut self, on: bool) -> Self {
        self.system_log = on;
        self
    }

    /// Send to the syslog socket at `path` instead of the platform's (unit tests).
    #[cfg(unix)]
    #[must_use]
    pub fn with_system_log_at(mut self, path: PathBuf) -> Self {
        self.system_log_socket = path;
        self
    }

    /// Whether events go to the system log (then it is the record).
    pub fn system_log_on(&self) -> bool {
        self.system_log
    }

    /// The audit file's path, if there is a folder.
    pub fn file(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(FILE_NAME))
    }

    /// Stamps `events` (see [`prepare`]).
    pub fn records(events: &[Map<String, Value>], stamp: &Stamp, ts: &str) -> Vec<Record> {
        events
            .iter()
            .map(|event| Record {
                warning: is_warning(event),
                line: Value::Object(prepare(event, stamp, ts)).to_string(),
            })
            .collect()
    }

    /// Sends `records` to the system log, in order; returns how many were sent.
    ///
    /// # Errors
    /// [`AuditError::SystemLog`] at the first event it did not take.
    pub fn send_to_system_log(&self, records: &[Record]) -> Result<usize, AuditError> {
        for (sent, record) in records.iter().enumerate() {
            self.system_log_one(record).map_err(|source| AuditError::SystemLog {
                sent,
                total: records.len(),
                source,
            })?;
        }
        Ok(records.len())
    }

    #[cfg(unix)]
    fn system_log_one(&self, record: &Record) -> io::Result<()> {
        system_log(&self.system_log_socket, record)
    }

    #[cfg(not(unix))]
    fn system_log_one(&self, record: &Record) -> io::Result<()> {
        system_log(record)
    }

    /// Appends `records` to the per-user copy; returns how many were written.
    ///
    /// # Errors
    /// [`AuditError`] when the file cannot be written (it is a link, a FIFO, a folder, …);
    /// records before the failure stay written.
    pub fn append_to_file(&self, records: &[Record]) -> Result<usize, AuditError> {
        let dir = self.dir.as_ref().ok_or(AuditError::NoDir)?;
        let io_err = |path: &Path| {
            let path = path.display().to_string();
            move |source| AuditError::Io { path, source }
        };
        create_private_dir(dir).map_err(io_err(dir))?;
        let path = dir.join(FILE_NAME);
        let mut written = 0;
        for record in records {
            let mut line = record.line.clone();
            line.push('\n');
            self.rotate_if_needed(dir, &path, line.len() as u64).map_err(io_err(&path))?;
            // One write of the whole line on an O_APPEND file: concurrent host processes
            // (a long-lived port and one-shot messages) interleave whole lines.
            append(&path, line.as_bytes()).map_err(io_err(&path))?;
            written += 1;
        }
        Ok(written)
    }

    /// Stamps and writes `events`: the system log first (when on), then the file copy. Returns
    /// how many reached the record (the system log, or the file when the system log is off).
    ///
    /// # Errors
    /// [`AuditError`] when the record cannot be written. With the system log on, a failing copy
    /// is not an error (the host reports it separately; see `host.rs`).
    pub fn write(
        &self,
        events: &[Map<String, Value>],
        stamp: &Stamp,
        ts: &str,
    ) -> Result<usize, AuditError> {
        let records = Self::records(events, stamp, ts);
        if self.system_log {
            let sent = self.send_to_system_log(&records)?;
            let _ = self.append_to_file(&records);
            Ok(sent)
        } else {
            self.append_to_file(&records)
        }
    }

    fn rotate_if_needed(&self, dir: &Path, path: &Path, incoming: u64) -> io::Result<()> {
        // symlink_metadata: a link's size says nothing (the open refuses links anyway).
        let size = match fs::symlink_metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if size == 0 || size + incoming <= self.max_bytes {
            return Ok(());
        }
        let rotated = |n: usize| dir.join(format!("audit.{n}.jsonl"));
        if self.keep == 0 {
            return fs::remove_file(path);
        }
        let _ = fs::remove_file(rotated(self.keep));
        for n in (1..self.keep).rev() {
            match fs::rename(rotated(n), rotated(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(path, rotated(1))
    }
}

/// The record written for `event`: URL fields reduced to origins unless `fullUrl`, then the
/// host's `ts`, `user`, `principal` and `machine`.
pub fn prepare(event: &Map<String, Value>, stamp: &Stamp, ts: &str) -> Map<String, Value> {
    let full = event.get("fullUrl").and_then(Value::as_bool).unwrap_or(false);
    let mut record = event.clone();
    if !full {
        for field in URL_FIELDS {
            if let Some(Value::String(u)) = record.get(field) {
                let reduced = origin_of(u);
                record.insert(field.to_owned(), Value::String(reduced));
            } else if record.get(field).is_some_and(|v| !v.is_null()) {
                // A URL field that is not a string could hide a URL in a structure: drop it.
                record.insert(field.to_owned(), Value::Null);
            }
        }
    }
    record.insert("ts".into(), Value::String(ts.to_owned()));
    record.insert("user".into(), Value::String(stamp.user.clone()));
    record.insert("principal".into(), stamp.principal.clone().map_or(Value::Null, Value::String));
    record.insert("machine".into(), Value::String(stamp.machine.clone()));
    record
}

/// `https://mail.example.com:8443` for any URL on that origin; `(invalid url)` when it does not
/// parse, so nothing of an unparsable string leaks into the log.
pub fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.origin() {
            origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", u.scheme()),
        },
        Err(_) => "(invalid url)".into(),
    }
}

fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = crate::userfile::open_append(path).map_err(|e| match e {
        crate::userfile::UserFileError::Io(e) => e,
        e => io::Error::other(format!("the file {e}")),
    })?;
    file.write_all(bytes)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Whether an event is a warning (something was stopped or went wrong) rather than a notice.
fn is_warning(event: &Map<String, Value>) -> bool {
    event.get("kind").and_then(Value::as_str).map(severity) == Some(Severity::Warning)
}

/// Sends one record to the syslog socket at `path`. The socket never waits long: a full
/// receive queue is an error after 250 ms, not a hang.
#[cfg(unix)]
fn system_log(path: &Path, record: &Record) -> io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    // RFC 3164 framing as journald and rsyslog read it on /dev/log: <PRI>TAG[PID]: MSG.
    // Facility 4 (auth: security events), severity 4 (warning) or 5 (notice).
    let pri = 4 * 8 + if record.warning { 4 } else { 5 };
    let mut msg =
        format!("<{pri}>gatehouse-host[{}]: gatehouse-audit {}", std::process::id(), record.line);
    if msg.len() > 8192 {
        let mut cut = 8192;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    let socket = UnixDatagram::unbound()?;
    socket.set_write_timeout(Some(std::time::Duration::from_millis(250)))?;
    socket.send_to(msg.as_bytes(), path).map(drop)
}

/// Sends one record to the Windows Application log under the source `Gatehouse`.
#[cfg(windows)]
fn system_log(record: &Record) -> io::Result<()> {
    use windows_sys::Win32::System::EventLog::{
        DeregisterEventSource, RegisterEventSourceW, ReportEventW, EVENTLOG_INFORMATION_TYPE,
        EVENTLOG_WARNING_TYPE,
    };
    let source: Vec<u16> = "Gatehouse".encode_utf16().chain(std::iter::once(0)).collect();
    let text: Vec<u16> =
        record.line.encode_utf16().take(31_000).chain(std::iter::once(0)).collect();
    // SAFETY: both strings are NUL-terminated and outlive the calls; the handle is released.
    unsafe {
        let handle = RegisterEventSourceW(std::ptr::null(), source.as_ptr());
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        let kind = if record.warning { EVENTLOG_WARNING_TYPE } else { EVENTLOG_INFORMATION_TYPE };
        let strings = [text.as_ptr()];
        let ok = ReportEventW(
            handle,
            kind,
            0,
            1000,
            std::ptr::null_mut(),
            1,
            0,
            strings.as_ptr(),
            std::ptr::null(),
        );
        let result = if ok == 0 { Err(io::Error::last_os_error()) } else { Ok(()) };
        DeregisterEventSource(handle);
        result
    }
}

#[cfg(not(any(unix, windows)))]
fn system_log(_record: &Record) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no system log on this platform"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test events are objects"),
        }
    }

    fn stamp() -> Stamp {
        Stamp {
            user: "alice".into(),
            principal: Some("alice@corp.example".into()),
            machine: "ws01".into(),
        }
    }

    /// Issue 10: the severities are the table's — `blocked` (what the extension sends) is a
    /// warning; it was once logged as a notice because the host looked for `block`.
    #[test]
    fn severities_follow_the_kinds_table() {
        let warning = |kind: &str| is_warning(&obj(json!({ "kind": kind })));
        for kind in [
            "blocked",
            "rule_miss",
            "in_page_navigation",
            "open_tab_blocked",
            "token_rejected",
            "rules_repaired",
            "audit_dropped",
        ] {
            assert!(warning(kind), "{kind}");
        }
        for kind in ["warned", "proceeded", "loaded", "policy_loaded", "approval_imported"] {
            assert!(!warning(kind), "{kind}");
        }
        assert!(!warning("some_future_kind") && !warning("block"), "unknown kinds are notices");
        assert!(!is_warning(&obj(json!({ "kind": 1 }))) && !is_warning(&Map::new()));
        let mut seen = std::collections::BTreeSet::new();
        assert!(KINDS.iter().all(|(k, _)| seen.insert(*k)), "a kind listed twice");
    }

    /// The "Audit kinds" table of `PROTOCOL.md` is [`KINDS`], row for row.
    #[test]
    fn protocol_md_lists_every_audit_kind() {
        let doc = include_str!("../PROTOCOL.md");
        let section = doc.split("### Audit kinds").nth(1).expect("PROTOCOL.md has ### Audit kinds");
        let rows: Vec<(&str, &str)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| `"))
            .take_while(|l| l.starts_with("| `"))
            .filter_map(|l| {
                let mut cells = l.split('|').map(str::trim).skip(1);
                Some((cells.next()?.trim_matches('`'), cells.next()?))
            })
            .collect();
        let expected: Vec<(&str, &str)> = KINDS.iter().map(|&(k, s)| (k, s.name())).collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://mail.example.com/inbox?q=secret#x"),
            "https://mail.example.com"
        );
        assert_eq!(
            origin_of("https://u:p@Mail.Example.com:8443/a"),
            "https://mail.example.com:8443"
        );
        assert_eq!(origin_of("blob:https://drive.example.com/uuid"), "https://drive.example.com");
        assert_eq!(origin_of("data:text/plain,secret"), "data:");
        assert_eq!(origin_of("not a url /secret"), "(invalid url)");
    }

    #[test]
    fn privacy_by_default_and_host_stamps_win() {
        let event = obj(json!({
            "kind": "blocked", "url": "https://mail.example.com/inbox/42", "referrer": "https://intranet/x?y",
            "initiator": {"nested": "https://x/secret"}, "user": "mallory", "ts": "1999"
        }));
        let record = prepare(&event, &stamp(), "2025-01-01T00:00:00.000Z");
        assert_eq!(record["url"], "https://mail.example.com");
        assert_eq!(record["referrer"], "https://intranet");
        assert_eq!(record["initiator"], Value::Null);
        assert_eq!(record["user"], "alice");
        assert_eq!(record["machine"], "ws01");
        assert_eq!(record["ts"], "2025-01-01T00:00:00.000Z");

        let full = obj(
            json!({"kind": "blocked", "url": "https://mail.example.com/inbox/42", "fullUrl": true}),
        );
        assert_eq!(prepare(&full, &stamp(), "t")["url"], "https://mail.example.com/inbox/42");
    }

    #[test]
    fn writes_lines_and_rotates() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let log = AuditLog::new(Some(dir.clone())).with_system_log(false).with_rotation(300, 2);
        let events: Vec<_> = (0..10).map(|i| obj(json!({"kind": "blocked", "n": i}))).collect();
        assert_eq!(log.write(&events, &stamp(), "t").unwrap(), 10);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec!["audit.1.jsonl", "audit.2.jsonl", "audit.jsonl"]);
        let mut total = 0;
        for name in &names {
            let text = fs::read_to_string(dir.join(name)).unwrap();
            assert!(text.len() <= 300, "{name} is {} bytes", text.len());
            for line in text.lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["user"], "alice");
                total += 1;
            }
        }
        assert!(total < 10, "the oldest lines were rotated away");
        let last: Value = serde_json::from_str(
            fs::read_to_string(dir.join("audit.jsonl")).unwrap().lines().last().unwrap(),
        )
        .unwrap();
        assert_eq!(last["n"], 9);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(dir.join("audit.jsonl")).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    /// Issue 9, finding 6: the record goes to the system log before, and regardless of, a copy
    /// that the user has turned into a FIFO.
    #[cfg(unix)]
    #[test]
    fn the_system_log_gets_the_event_first_even_when_the_copy_is_a_fifo() {
        use std::os::unix::net::UnixDatagram;
        let tmp = tempfile::tempdir().unwrap();
        let socket = tmp.path().join("log");
        let syslog = UnixDatagram::bind(&socket).unwrap();
        syslog.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let dir = tmp.path().join("audit");
        fs::create_dir(&dir).unwrap();
        let fifo =
            std::ffi::CString::new(dir.join(FILE_NAME).as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let log = AuditLog::new(Some(dir)).with_system_log_at(socket);
        let events = [obj(json!({"kind": "blocked", "url": "https://mail.example.com/inbox"}))];
        let started = std::time::Instant::now();
        let records = AuditLog::records(&events, &stamp(), "t");
        assert_eq!(log.write(&events, &stamp(), "t").unwrap(), 1);
        let copy = log.append_to_file(&records).unwrap_err();
        assert!(copy.to_string().contains("FIFO or device, not a regular file"), "{copy}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let mut buf = [0u8; 9000];
        let n = syslog.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]);
        assert!(msg.starts_with("<36>gatehouse-host["), "auth.warning: {msg}");
        assert!(msg.contains("]: gatehouse-audit {"), "{msg}");
        assert!(msg.contains(r#""url":"https://mail.example.com""#), "{msg}");
        assert!(msg.contains(r#""user":"alice""#), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn without_a_system_log_the_request_fails_and_nothing_is_copied() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let log = AuditLog::new(Some(dir.clone())).with_system_log_at(tmp.path().join("no-socket"));
        let events = [obj(json!({"kind": "blocked"})), obj(json!({"kind": "warned"}))];
        let err = log.write(&events, &stamp(), "t").unwrap_err();
        assert!(
            matches!(err, AuditError::SystemLog { sent: 0, total: 2, .. }),
            "the extension keeps the events queued: {err}"
        );
        assert!(!dir.join(FILE_NAME).exists());
    }

    #[test]
    fn no_folder_is_an_error() {
        let log = AuditLog::new(None).with_system_log(false);
        assert!(matches!(log.write(&[], &stamp(), "t"), Err(AuditError::NoDir)));
    }
}
