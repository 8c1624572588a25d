//! The audit trail: events from the extension, stamped by the host, written to a JSON-lines file and the system log.
//!
//! Privacy by default: URL fields (`url`, `initiator`, `referrer`) are cut down to their origin
//! unless the event says the policy asked for full URLs (`"fullUrl": true`). The host adds `ts`,
//! `user`, `principal` and `machine`, overwriting any the extension sent, so an event cannot claim another
//! user. The file is primary (its failure is the request's failure); the system log is best
//! effort (journald/syslog through `/dev/log`, the Windows Event Log).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Fields holding URLs, reduced to their origin unless `fullUrl` is true.
pub const URL_FIELDS: [&str; 3] = ["url", "initiator", "referrer"];

/// The audit file's name inside the audit folder; rotated copies are `audit.1.jsonl`, ….
pub const FILE_NAME: &str = "audit.jsonl";

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
}

/// Why events could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// There is nowhere to write the file.
    #[error("no audit folder on this system")]
    NoDir,
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
    /// A log writing `dir/audit.jsonl`, rotated at 10 MiB keeping 3 old files, and the system log.
    pub fn new(dir: Option<PathBuf>) -> Self {
        AuditLog { dir, max_bytes: 10 * 1024 * 1024, keep: 3, system_log: true }
    }

    /// The platform's folder: the user's local data dir + `audit`.
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

    /// Also send each event to the system log (default on).
    #[must_use]
    pub fn with_system_log(mut self, on: bool) -> Self {
        self.system_log = on;
        self
    }

    /// The audit file's path, if there is a folder.
    pub fn file(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(FILE_NAME))
    }

    /// Stamps and writes `events`; returns how many were written to the file.
    ///
    /// # Errors
    /// [`AuditError`] when the file cannot be written; events before the failure stay written.
    pub fn write(
        &self,
        events: &[Map<String, Value>],
        stamp: &Stamp,
        ts: &str,
    ) -> Result<usize, AuditError> {
        let dir = self.dir.as_ref().ok_or(AuditError::NoDir)?;
        let io_err = |path: &Path| {
            let path = path.display().to_string();
            move |source| AuditError::Io { path, source }
        };
        create_private_dir(dir).map_err(io_err(dir))?;
        let path = dir.join(FILE_NAME);
        let mut written = 0;
        for event in events {
            let record = prepare(event, stamp, ts);
            let mut line = Value::Object(record).to_string();
            line.push('\n');
            self.rotate_if_needed(dir, &path, line.len() as u64).map_err(io_err(&path))?;
            // One write of the whole line on an O_APPEND file: concurrent host processes
            // (a long-lived port and one-shot messages) interleave whole lines.
            append(&path, line.as_bytes()).map_err(io_err(&path))?;
            written += 1;
            if self.system_log {
                system_log(event, line.trim_end());
            }
        }
        Ok(written)
    }

    fn rotate_if_needed(&self, dir: &Path, path: &Path, incoming: u64) -> io::Result<()> {
        let size = match fs::metadata(path) {
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
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
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
    matches!(
        event.get("kind").and_then(Value::as_str),
        Some("block" | "policy_error" | "token_rejected")
    )
}

/// Sends one line to the system log; failures are ignored (the file is the record).
#[cfg(unix)]
fn system_log(event: &Map<String, Value>, line: &str) {
    use std::os::unix::net::UnixDatagram;
    // RFC 3164 framing as journald and rsyslog read it on /dev/log: <PRI>TAG[PID]: MSG.
    // Facility 4 (auth: security events), severity 4 (warning) or 5 (notice).
    let pri = 4 * 8 + if is_warning(event) { 4 } else { 5 };
    let mut msg = format!("<{pri}>gatehouse-host[{}]: gatehouse-audit {line}", std::process::id());
    if msg.len() > 8192 {
        let mut cut = 8192;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    let path = if cfg!(target_os = "macos") { "/var/run/syslog" } else { "/dev/log" };
    if let Ok(socket) = UnixDatagram::unbound() {
        let _ = socket.send_to(msg.as_bytes(), path);
    }
}

/// Sends one line to the Windows Application log under the source `Gatehouse`.
#[cfg(windows)]
fn system_log(event: &Map<String, Value>, line: &str) {
    use windows_sys::Win32::System::EventLog::{
        DeregisterEventSource, RegisterEventSourceW, ReportEventW, EVENTLOG_INFORMATION_TYPE,
        EVENTLOG_WARNING_TYPE,
    };
    let source: Vec<u16> = "Gatehouse".encode_utf16().chain(std::iter::once(0)).collect();
    let text: Vec<u16> = line.encode_utf16().take(31_000).chain(std::iter::once(0)).collect();
    // SAFETY: both strings are NUL-terminated and outlive the calls; the handle is released.
    unsafe {
        let handle = RegisterEventSourceW(std::ptr::null(), source.as_ptr());
        if handle.is_null() {
            return;
        }
        let kind =
            if is_warning(event) { EVENTLOG_WARNING_TYPE } else { EVENTLOG_INFORMATION_TYPE };
        let strings = [text.as_ptr()];
        ReportEventW(
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
        DeregisterEventSource(handle);
    }
}

#[cfg(not(any(unix, windows)))]
fn system_log(_event: &Map<String, Value>, _line: &str) {}

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
            "kind": "block", "url": "https://mail.example.com/inbox/42", "referrer": "https://intranet/x?y",
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
            json!({"kind": "block", "url": "https://mail.example.com/inbox/42", "fullUrl": true}),
        );
        assert_eq!(prepare(&full, &stamp(), "t")["url"], "https://mail.example.com/inbox/42");
    }

    #[test]
    fn writes_lines_and_rotates() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let log = AuditLog::new(Some(dir.clone())).with_system_log(false).with_rotation(300, 2);
        let events: Vec<_> = (0..10).map(|i| obj(json!({"kind": "block", "n": i}))).collect();
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

    #[test]
    fn no_folder_is_an_error() {
        let log = AuditLog::new(None).with_system_log(false);
        assert!(matches!(log.write(&[], &stamp(), "t"), Err(AuditError::NoDir)));
    }
}
