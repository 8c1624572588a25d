//! Small helpers shared by the readers: a command with a deadline, the host name, an RFC 3339 clock.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use time::macros::format_description;
use time::OffsetDateTime;

/// Runs `program args…` with no stdin and stderr discarded; returns its stdout if it exits
/// successfully within `timeout`, else kills it and returns `None`. Never writes to our stdout.
///
/// `program` must be an absolute path: a bare name would be looked up in `PATH`, which the user
/// sets, so their own `sssctl` or `dsconfigad` could answer for the system (issue 9, finding 8).
/// A relative name is refused (`None`) rather than searched for.
#[cfg_attr(not(any(target_os = "macos", target_os = "linux")), allow(dead_code))]
pub(crate) fn run_with_timeout(program: &str, args: &[&str], timeout: Duration) -> Option<String> {
    if !std::path::Path::new(program).is_absolute() {
        return None;
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.by_ref().take(1 << 20).read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                // Our own child, by handle: kill it and reap it.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    // On a timeout the reader thread is left to finish on its own: a grandchild may still hold
    // the pipe open, and waiting for it would defeat the deadline.
    status.filter(|s| s.success())?;
    reader.join().ok()
}

/// This machine's host name as the kernel reports it (Linux reads it from /proc under its root).
#[cfg(target_os = "macos")]
pub(crate) fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success when the
    // name fits, and we stop at the first NUL or the buffer's end either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).ok().filter(|h| !h.is_empty())
}

/// The account name the OS user database gives for `uid` (`getpwuid_r`: files, sss, winbind,
/// Open Directory, …). Never `$USER` or `$LOGNAME`: the user sets those (issue 9, finding 8).
#[cfg(unix)]
pub(crate) fn account_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for the out-parameter.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and `buf` outlives the use of `pwd.pw_name`.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_name points at a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str().ok().filter(|n| !n.is_empty()).map(str::to_owned)
}

/// The real user id of this process.
#[cfg(unix)]
pub(crate) fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail and has no preconditions.
    unsafe { libc::getuid() }
}

/// The current time as RFC 3339 UTC with milliseconds: `2025-01-31T08:15:00.123Z`.
pub fn now_rfc3339() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339_from_millis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// The instants RFC 3339 can write (four-digit years), in milliseconds since the Unix epoch:
/// 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
const RFC3339_MS: std::ops::RangeInclusive<i64> = -62_167_219_200_000..=253_402_300_799_999;

/// Formats milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds. An instant
/// outside years 0000–9999 (a token's `exp` can say anything) is clamped to the nearest end.
pub fn rfc3339_from_millis(ms: i64) -> String {
    let ms = ms.clamp(*RFC3339_MS.start(), *RFC3339_MS.end());
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    // Inside RFC3339_MS both steps succeed; an empty string, never a panic, if they did not.
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_from_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_from_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_from_millis(1_735_689_599_999), "2024-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_from_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_from_millis(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_from_millis(-62_167_219_200_000), "0000-01-01T00:00:00.000Z");
    }

    /// A token's `exp` can be any integer; shown as the nearest instant RFC 3339 can write.
    #[test]
    fn rfc3339_clamps_what_it_cannot_write() {
        assert_eq!(rfc3339_from_millis(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_from_millis(i64::MIN), "0000-01-01T00:00:00.000Z");
        let now = now_rfc3339();
        assert_eq!((now.len(), &now[10..11], &now[23..]), (24, "T", "Z"), "{now}");
    }

    #[cfg(unix)]
    #[test]
    fn command_with_deadline() {
        assert_eq!(
            run_with_timeout("/bin/sh", &["-c", "echo hi"], Duration::from_secs(5)).as_deref(),
            Some("hi\n")
        );
        assert_eq!(run_with_timeout("/bin/sh", &["-c", "exit 3"], Duration::from_secs(5)), None);
        let start = Instant::now();
        assert_eq!(
            run_with_timeout("/bin/sh", &["-c", "sleep 5"], Duration::from_millis(100)),
            None
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the child must be killed at the deadline"
        );
        assert_eq!(run_with_timeout("/nonexistent/program", &[], Duration::from_secs(1)), None);
    }

    /// Issue 9, finding 8: a tool is never found through `PATH`, which the user sets.
    #[cfg(unix)]
    #[test]
    fn commands_by_bare_name_are_refused() {
        assert_eq!(run_with_timeout("sh", &["-c", "echo hi"], Duration::from_secs(5)), None);
        assert_eq!(run_with_timeout("./sh", &["-c", "echo hi"], Duration::from_secs(5)), None);
    }

    /// Issue 9, finding 8: the account comes from the user database, whatever `$USER` says
    /// (this test's `$USER` is not consulted at all; compare with `id -un`).
    #[cfg(unix)]
    #[test]
    fn account_name_is_the_user_database_s() {
        let id = run_with_timeout("/usr/bin/id", &["-un"], Duration::from_secs(5))
            .expect("/usr/bin/id -un");
        assert_eq!(account_name(current_uid()).as_deref(), Some(id.trim()));
        assert_eq!(account_name(4_000_000_000), None, "an unknown uid has no name");
    }
}
