//! The host against its own user (issue 9): files in the user's folders that would block, follow or flood a reader.
//!
//! The user owns the per-user approvals folder and the audit copy's folder, so anything can be
//! planted there: a FIFO (an open for reading blocks until a writer comes), a symlink to one or
//! to `/dev/zero`, a huge file, a folder named like a token. Every request must still be answered
//! within a second, and the host must go on answering afterwards.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const HOST: &str = env!("CARGO_BIN_EXE_gatehouse-host");

/// What the user can plant, each under a token-like name.
const PLANTED: [&str; 5] =
    ["fifo.jws", "link-to-fifo.jws", "link-to-zero.jws", "huge.jws", "folder.jws"];

/// A host whose replies arrive on a channel, so a frozen host fails the test instead of hanging it.
struct Host {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<Value>,
}

impl Drop for Host {
    fn drop(&mut self) {
        // Our own child, by handle: a frozen host must not outlive the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path) -> Host {
    let mut child = Command::new(HOST)
        .env("GATEHOUSE_APPROVALS_DIR", dir.join("machine"))
        .env("GATEHOUSE_USER_APPROVALS_DIR", dir.join("user"))
        .env("GATEHOUSE_AUDIT_DIR", dir.join("audit"))
        .env("GATEHOUSE_SYSLOG", "0")
        .env_remove("GATEHOUSE_IDENTITY_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gatehouse-host");
    let stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, replies) = mpsc::channel();
    std::thread::spawn(move || loop {
        let mut len = [0u8; 4];
        if stdout.read_exact(&mut len).is_err() {
            return;
        }
        let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
        if stdout.read_exact(&mut body).is_err() {
            return;
        }
        let Ok(reply) = serde_json::from_slice(&body) else { return };
        if tx.send(reply).is_err() {
            return;
        }
    });
    Host { child, stdin, replies }
}

impl Host {
    /// Sends `request`; the reply and how long it took, or a failure after `within`.
    fn ask_within(&mut self, request: Value, within: Duration) -> (Value, Duration) {
        let body = request.to_string();
        let mut frame = (body.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(body.as_bytes());
        let started = Instant::now();
        self.stdin.write_all(&frame).and_then(|()| self.stdin.flush()).expect("write a request");
        match self.replies.recv_timeout(within) {
            Ok(reply) => {
                assert_eq!(reply["id"], request["id"], "{reply}");
                (reply, started.elapsed())
            }
            Err(_) => panic!("no reply to {request} within {within:?}: the host is frozen"),
        }
    }
}

fn token() -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT","kid":"mgmt-2025"}"#);
    format!("{header}.{}.{}", URL_SAFE_NO_PAD.encode(b"{}"), URL_SAFE_NO_PAD.encode([1u8; 64]))
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Plants every kind of [`PLANTED`] file in `dir`.
fn plant(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    mkfifo(&dir.join("fifo.jws"));
    std::os::unix::fs::symlink(dir.join("fifo.jws"), dir.join("link-to-fifo.jws")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("link-to-zero.jws")).unwrap();
    // Sparse: a gigabyte that takes no disk.
    std::fs::File::create(dir.join("huge.jws")).unwrap().set_len(1 << 30).unwrap();
    std::fs::create_dir(dir.join("folder.jws")).unwrap();
}

#[test]
fn planted_files_in_the_user_approvals_folder_are_problems_within_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let user = tmp.path().join("user");
    plant(&user);
    std::fs::write(user.join("good.jws"), token()).unwrap();
    let mut host = spawn(tmp.path());
    let (reply, took) =
        host.ask_within(json!({"v":1,"id":1,"type":"approvals"}), Duration::from_secs(1));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["data"]["tokens"].as_array().map(Vec::len), Some(1), "{reply}");
    let problems = reply["data"]["problems"].as_array().cloned().unwrap_or_default();
    for name in PLANTED {
        assert!(
            problems.iter().any(|p| p["file"].as_str().is_some_and(|f| f.ends_with(name))),
            "{name} is not listed as a problem: {reply}"
        );
    }
    assert_eq!(problems.len(), PLANTED.len(), "{reply}");
    // And the host goes on answering.
    let (hello, _) = host.ask_within(json!({"v":1,"id":2,"type":"hello"}), Duration::from_secs(1));
    assert_eq!(hello["ok"], true);
    eprintln!("approvals with {} planted files answered in {took:?}", PLANTED.len());
}

#[test]
fn importing_over_a_planted_file_is_an_error_within_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let user = tmp.path().join("user");
    std::fs::create_dir_all(&user).unwrap();
    let t = token();
    let name = gatehouse_host::approvals::token_file_name(&t);
    let mut host = spawn(tmp.path());
    for (i, plant) in ["fifo", "folder", "link-to-zero"].into_iter().enumerate() {
        let target = user.join(&name);
        match plant {
            "fifo" => mkfifo(&target),
            "folder" => std::fs::create_dir(&target).unwrap(),
            _ => std::os::unix::fs::symlink("/dev/zero", &target).unwrap(),
        }
        let (reply, _) = host.ask_within(
            json!({"v":1,"id":i,"type":"import_approval","token":t}),
            Duration::from_secs(1),
        );
        assert_eq!(reply["ok"], false, "{plant}: an import over it is not a duplicate: {reply}");
        assert_eq!(reply["error"]["name"], "io_error", "{plant}: {reply}");
        if plant == "folder" {
            std::fs::remove_dir(&target).unwrap();
        } else {
            std::fs::remove_file(&target).unwrap();
        }
    }
}

#[test]
fn planted_audit_files_do_not_freeze_the_host() {
    // With the system log off (a test build), the file is the record: the request fails, at once.
    for plant in ["fifo", "link-to-fifo", "link-to-zero", "folder"] {
        let tmp = tempfile::tempdir().unwrap();
        let audit = tmp.path().join("audit");
        std::fs::create_dir_all(&audit).unwrap();
        let file = audit.join("audit.jsonl");
        match plant {
            "fifo" => mkfifo(&file),
            "link-to-fifo" => {
                mkfifo(&tmp.path().join("fifo"));
                std::os::unix::fs::symlink(tmp.path().join("fifo"), &file).unwrap();
            }
            "link-to-zero" => std::os::unix::fs::symlink("/dev/zero", &file).unwrap(),
            _ => std::fs::create_dir(&file).unwrap(),
        }
        let mut host = spawn(tmp.path());
        let (reply, _) = host.ask_within(
            json!({"v":1,"id":1,"type":"audit","event":{"kind":"blocked","url":"https://mail.example/"}}),
            Duration::from_secs(1),
        );
        assert_eq!(reply["ok"], false, "{plant}: {reply}");
        let (hello, _) =
            host.ask_within(json!({"v":1,"id":2,"type":"hello"}), Duration::from_secs(1));
        assert_eq!(hello["ok"], true, "{plant}");
    }
}

/// The race of the issue: a name that is a regular file when the host looks (`stat`) and a FIFO
/// when it opens. Checking and then opening by name can always lose it; only opening without
/// blocking and checking the opened file (`fstat`) cannot.
#[test]
fn a_token_swapped_for_a_fifo_between_check_and_open_does_not_freeze_the_host() {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let user = tmp.path().join("user");
    std::fs::create_dir_all(&user).unwrap();
    let name = user.join("swap.jws");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, user, name) = (Arc::clone(&stop), user.clone(), name.clone());
        let regular = user.join(".regular");
        let fifo = CString::new(user.join(".fifo").as_os_str().as_bytes()).unwrap();
        let token = token();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::fs::write(&regular, &token).unwrap();
                std::fs::rename(&regular, &name).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
                std::fs::rename(user.join(".fifo"), &name).unwrap();
            }
        })
    };
    let mut host = spawn(tmp.path());
    let mut slowest = Duration::ZERO;
    for id in 0..500 {
        let (reply, took) =
            host.ask_within(json!({"v":1,"id":id,"type":"approvals"}), Duration::from_secs(1));
        assert_eq!(reply["ok"], true, "{reply}");
        slowest = slowest.max(took);
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    eprintln!("500 listings during the swap race; slowest {slowest:?}");
}
