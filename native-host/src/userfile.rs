//! Opening files the user controls without blocking, following links or reading without end.
//!
//! The per-user approvals folder, the audit copy's folder and a Kerberos credential cache belong
//! to the user the host restricts, who can plant anything there: a FIFO (opening one for reading
//! blocks until a writer comes, so a single-threaded host freezes), a symlink to one or to
//! `/dev/zero`, a huge file. Checking the name first and then opening it loses a race against a
//! rename; so the file is opened *without following a link and without blocking*
//! (`O_NOFOLLOW | O_NONBLOCK`; Windows: `FILE_FLAG_OPEN_REPARSE_POINT`, and a reparse point is
//! refused), and the *opened* file is checked (`fstat`): only a regular file, only up to a cap.
//! What is still able to hang (a FUSE or network folder) is cut off by the host's per-request
//! deadline (`host.rs`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Why a user-controlled file was not used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserFileError {
    /// The name is a symbolic link (Windows: any reparse point); it is never followed.
    #[error("is a symbolic link; links are not followed here")]
    Link,
    /// The opened file is a FIFO, socket, device or folder.
    #[error("is a {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file is larger than the reader accepts.
    #[error("is {len} bytes, over the {cap}-byte limit")]
    TooLarge {
        /// Its size.
        len: u64,
        /// The limit.
        cap: u64,
    },
    /// Opening or reading failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads `path` whole if it is a regular file of at most `cap` bytes, never blocking on what it
/// finds there and never following a link.
///
/// # Errors
/// [`UserFileError`]: a link, not a regular file, over `cap`, or an I/O error.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, UserFileError> {
    let mut options = OpenOptions::new();
    options.read(true);
    let file = open_checked(path, &mut options)?;
    let len = file.metadata()?.len();
    if len > cap {
        return Err(UserFileError::TooLarge { len, cap });
    }
    let mut bytes = Vec::new();
    // The size can still change after fstat; the cap holds whatever happens.
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(UserFileError::TooLarge { len: bytes.len() as u64, cap });
    }
    Ok(bytes)
}

/// Opens `path` for appending (created owner-only when missing), only if it is a regular file,
/// never blocking on what it finds there and never following a link.
///
/// # Errors
/// [`UserFileError`]: a link, not a regular file, or an I/O error.
pub fn open_append(path: &Path) -> Result<File, UserFileError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    open_checked(path, &mut options)
}

/// Opens with no-follow and non-blocking flags, then accepts only a regular file (by `fstat`).
fn open_checked(path: &Path, options: &mut OpenOptions) -> Result<File, UserFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO returns at once (read: no writer needed; write: ENXIO
        // without a reader) instead of waiting. It changes nothing for regular files.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_OPEN_REPARSE_POINT (winbase.h): open a symlink or junction itself, not its
        // target, so that it can be recognised and refused below.
        options.custom_flags(0x0020_0000);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        // Linux and macOS answer ELOOP for a symlink under O_NOFOLLOW (FreeBSD: EMLINK).
        #[cfg(unix)]
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK)) => {
            return Err(UserFileError::Link)
        }
        // Opening a folder for writing.
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            return Err(UserFileError::NotRegular("folder"))
        }
        // O_NONBLOCK for writing: a FIFO that no one reads (or a device that is not there).
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(UserFileError::NotRegular("FIFO or device"))
        }
        Err(e) => return Err(e.into()),
    };
    let meta = file.metadata()?;
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        // FILE_ATTRIBUTE_REPARSE_POINT (winnt.h).
        if meta.file_attributes() & 0x400 != 0 {
            return Err(UserFileError::Link);
        }
    }
    if !meta.is_file() {
        return Err(UserFileError::NotRegular(kind(&meta.file_type())));
    }
    Ok(file)
}

/// What a file that is not regular is, for messages.
fn kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "device";
        }
    }
    if file_type.is_dir() {
        "folder"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    /// Every case of issue 9's finding 6, read and appended to: an error, at once.
    #[test]
    fn planted_files_are_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        mkfifo(&d.join("fifo"));
        std::os::unix::fs::symlink(d.join("fifo"), d.join("link-to-fifo")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", d.join("link-to-zero")).unwrap();
        File::create(d.join("huge")).unwrap().set_len(1 << 30).unwrap();
        std::fs::create_dir(d.join("folder")).unwrap();
        type Expect = fn(&UserFileError) -> bool;
        let cases: [(&str, Expect); 5] = [
            ("fifo", |e| matches!(e, UserFileError::NotRegular("FIFO"))),
            ("link-to-fifo", |e| matches!(e, UserFileError::Link)),
            ("link-to-zero", |e| matches!(e, UserFileError::Link)),
            ("huge", |e| matches!(e, UserFileError::TooLarge { len: 1_073_741_824, cap: 100 })),
            ("folder", |e| matches!(e, UserFileError::NotRegular("folder"))),
        ];
        for (name, expected) in cases {
            let started = Instant::now();
            let err = read_capped(&d.join(name), 100).expect_err(name);
            assert!(expected(&err), "{name}: {err}");
            if name != "huge" {
                let err = open_append(&d.join(name)).expect_err(name);
                assert!(
                    matches!(err, UserFileError::Link | UserFileError::NotRegular(_)),
                    "{name}: {err}"
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{name} took {:?}",
                started.elapsed()
            );
        }
        assert_eq!(cases.len(), 5);
    }

    #[test]
    fn a_fifo_with_a_reader_is_still_refused_for_appending() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("audit.jsonl");
        mkfifo(&fifo);
        // A reader on the other end: the non-blocking open for writing succeeds, fstat refuses.
        let mut options = OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::custom_flags(options.read(true), libc::O_NONBLOCK);
        let _reader = options.open(&fifo).unwrap();
        assert!(matches!(open_append(&fifo), Err(UserFileError::NotRegular("FIFO"))));
    }

    #[test]
    fn regular_files_are_read_and_appended() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("t.jws");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(read_capped(&f, 3).unwrap(), b"abc");
        assert!(matches!(read_capped(&f, 2), Err(UserFileError::TooLarge { len: 3, cap: 2 })));
        assert!(matches!(
            read_capped(&tmp.path().join("missing"), 3),
            Err(UserFileError::Io(e)) if e.kind() == io::ErrorKind::NotFound
        ));
        use std::io::Write as _;
        open_append(&tmp.path().join("new")).unwrap().write_all(b"x\n").unwrap();
        open_append(&tmp.path().join("new")).unwrap().write_all(b"y\n").unwrap();
        assert_eq!(std::fs::read(tmp.path().join("new")).unwrap(), b"x\ny\n");
    }
}
