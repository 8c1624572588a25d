//! Approval tokens on disk: the machine-wide folder admins fill, the per-user folder `import_approval` writes.
//!
//! The host never decides whether a token is valid — wasm-core verifies signatures, subjects and
//! dates. Here a token is only checked for *shape* (JWS compact: three base64url segments whose
//! header decodes to a JSON object) and size, and reported with where it came from. A token file
//! name is always derived from the token's SHA-256, never taken from a request, so an import can
//! neither traverse paths nor overwrite another token, and importing the same token twice
//! collapses to one file.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::userfile::UserFileError;

/// Largest token accepted, in bytes: the engine's own cap (8 KiB), so the host never stores or
/// lists a token the verifier would reject as `oversize` (an EdDSA token with a long purpose is
/// under 2 KiB). One number for the engine, the host, `hello` and `PROTOCOL.md`.
pub use gatehouse_core::MAX_TOKEN_BYTES;

/// File name extensions read from an approvals folder.
pub const TOKEN_EXTENSIONS: [&str; 2] = ["jws", "jwt"];

/// Total token bytes one `approvals` reply carries, leaving room under the 1 MiB frame limit.
const REPLY_BUDGET: usize = 768 * 1024;

/// Most files looked at in one folder.
const MAX_FILES: usize = 1000;

/// The two folders tokens are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDirs {
    /// Machine-wide, written by administrators (read-only to the host in practice).
    pub machine: PathBuf,
    /// Per-user, where imports go; `None` when the platform has no home for the user.
    pub user: Option<PathBuf>,
}

impl ApprovalDirs {
    /// The platform's folders: `/etc/gatehouse/approvals`, `%ProgramData%\Gatehouse\approvals`
    /// or `/Library/Application Support/Gatehouse/approvals`, and the user's data dir
    /// (`directories::ProjectDirs("org", "gatehouse", "gatehouse")`) + `approvals`.
    pub fn platform_default() -> Self {
        ApprovalDirs { machine: machine_default(), user: user_default() }
    }
}

fn machine_default() -> PathBuf {
    if cfg!(windows) {
        program_data().join("Gatehouse").join("approvals")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Gatehouse/approvals")
    } else {
        PathBuf::from("/etc/gatehouse/approvals")
    }
}

/// `%ProgramData%` as the OS knows it (`SHGetKnownFolderPath(FOLDERID_ProgramData)`), not the
/// environment variable: a user can define their own `ProgramData` in `HKCU\Environment` and
/// point "the machine-wide folder" at one of theirs.
#[cfg(windows)]
fn program_data() -> PathBuf {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::Com::CoTaskMemFree;
    use windows_sys::Win32::UI::Shell::{FOLDERID_ProgramData, SHGetKnownFolderPath};
    let mut raw: *mut u16 = std::ptr::null_mut();
    // SAFETY: the GUID is a static; a null token means the current user; `raw` receives a
    // CoTaskMemAlloc'd, NUL-terminated string (or null), freed below in every case.
    let hr =
        unsafe { SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, std::ptr::null_mut(), &mut raw) };
    let path = (hr >= 0 && !raw.is_null()).then(|| {
        // SAFETY: on success `raw` is NUL-terminated; we read up to the NUL.
        let len = (0..).take_while(|&i| unsafe { *raw.add(i) } != 0).count();
        // SAFETY: `len` u16s before the NUL are initialised.
        let wide = unsafe { std::slice::from_raw_parts(raw, len) };
        PathBuf::from(std::ffi::OsString::from_wide(wide))
    });
    // SAFETY: CoTaskMemFree accepts null and the pointer SHGetKnownFolderPath returned.
    unsafe { CoTaskMemFree(raw.cast()) };
    path.unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
}

#[cfg(not(windows))]
fn program_data() -> PathBuf {
    PathBuf::from(r"C:\ProgramData")
}

fn user_default() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "gatehouse", "gatehouse")
        .map(|d| d.data_dir().join("approvals"))
}

/// Where a token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The machine-wide folder.
    Machine,
    /// The user's folder.
    User,
}

/// A token found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundToken {
    /// The token text, whitespace-trimmed.
    pub token: String,
    /// Which folder it is in.
    pub source: Source,
    /// The file's full path.
    pub file: String,
}

/// A file that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (or folder) path.
    pub file: String,
    /// What is wrong with it.
    pub message: String,
}

/// The `approvals` reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// Tokens, machine folder first, each folder in file-name order.
    pub tokens: Vec<FoundToken>,
    /// Files that were skipped.
    pub problems: Vec<Problem>,
}

/// Why a string is not an acceptable token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Over [`MAX_TOKEN_BYTES`].
    #[error("token is {len} bytes; the limit is {MAX_TOKEN_BYTES}")]
    TooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// Not three dot-separated segments.
    #[error("token has {segments} dot-separated segments; a JWS compact token has 3 (header.payload.signature)")]
    Segments {
        /// How many there are.
        segments: usize,
    },
    /// A segment is empty or has a character outside the base64url alphabet (padding included).
    #[error("token {segment} is not unpadded base64url")]
    NotBase64Url {
        /// `header`, `payload` or `signature`.
        segment: &'static str,
    },
    /// The header does not decode to a JSON object.
    #[error("token header is not a JSON object")]
    HeaderNotJson,
}

/// Checks that `token` (already trimmed) looks like a JWS compact token. Says nothing of validity.
///
/// # Errors
/// The first [`TokenError`] found.
pub fn check_shape(token: &str) -> Result<(), TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge { len: token.len() });
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(TokenError::Segments { segments: parts.len() });
    }
    for (part, segment) in parts.iter().zip(["header", "payload", "signature"]) {
        if part.is_empty()
            || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TokenError::NotBase64Url { segment });
        }
    }
    let header = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|_| TokenError::NotBase64Url { segment: "header" })?;
    match serde_json::from_slice::<serde_json::Value>(&header) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(TokenError::HeaderNotJson),
    }
}

/// Lists the tokens in both folders. A missing folder is simply empty; anything else that goes
/// wrong is a [`Problem`], never an error, so one bad file cannot hide the others.
pub fn list(dirs: &ApprovalDirs) -> Listing {
    let mut listing = Listing::default();
    let mut budget = REPLY_BUDGET;
    scan(&dirs.machine, Source::Machine, &mut listing, &mut budget);
    if let Some(user) = &dirs.user {
        scan(user, Source::User, &mut listing, &mut budget);
    }
    listing
}

fn scan(dir: &Path, source: Source, listing: &mut Listing, budget: &mut usize) {
    let problem =
        |file: &Path, message: String| Problem { file: file.display().to_string(), message };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            listing.problems.push(problem(dir, format!("cannot read the folder: {e}")));
            return;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let hidden = p.file_name().and_then(|n| n.to_str()).is_none_or(|n| n.starts_with('.'));
            let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            !hidden && ext.is_some_and(|e| TOKEN_EXTENSIONS.contains(&e.as_str()))
        })
        .collect();
    files.sort();
    if files.len() > MAX_FILES {
        listing.problems.push(problem(
            dir,
            format!("{} token files; only the first {MAX_FILES} are read", files.len()),
        ));
        files.truncate(MAX_FILES);
    }
    for file in files {
        match read_token(&file) {
            Ok(token) if token.len() > *budget => listing.problems.push(problem(
                &file,
                "skipped: the reply would exceed the 1 MiB message limit".into(),
            )),
            Ok(token) => {
                *budget -= token.len();
                listing.tokens.push(FoundToken { token, source, file: file.display().to_string() });
            }
            Err(message) => listing.problems.push(problem(&file, message)),
        }
    }
}

fn read_token(file: &Path) -> Result<String, String> {
    // Allow surrounding whitespace (a trailing newline) on top of the token cap. Opened without
    // following links or blocking, and checked once open: the user owns this folder and can
    // swap a name for a FIFO between any check and the open (crate::userfile).
    let cap = MAX_TOKEN_BYTES + 64;
    let bytes = crate::userfile::read_capped(file, cap as u64).map_err(|e| match e {
        UserFileError::TooLarge { .. } => {
            format!("file is over the {MAX_TOKEN_BYTES}-byte token limit")
        }
        e => format!("not read: the file {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| "file is not UTF-8".to_owned())?;
    let token = text.trim();
    check_shape(token).map_err(|e| e.to_string())?;
    Ok(token.to_owned())
}

/// The result of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// The token file's full path.
    pub file: String,
    /// The same token was already there; nothing was written.
    pub duplicate: bool,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The token is not acceptable.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The platform has no per-user data folder.
    #[error("no per-user approvals folder on this system")]
    NoUserDir,
    /// Something that is not a token file (a FIFO, a folder, a link) has the token's name.
    #[error("{path} exists but is not a regular file; remove it and import again")]
    Occupied {
        /// The token file's path.
        path: String,
    },
    /// Creating the folder or writing the file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The folder or file.
        path: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

/// Stores `token` (surrounding whitespace trimmed) in `user_dir` as `<sha256 prefix>.jws`:
/// created owner-only, written to a temporary file and renamed into place, so a reader never
/// sees half a token and an existing token is never overwritten.
///
/// # Errors
/// [`ImportError::Token`] for a malformed or oversized token (nothing is written);
/// [`ImportError::Io`] when the folder or file cannot be written.
pub fn import(user_dir: &Path, token: &str) -> Result<Imported, ImportError> {
    // Check the raw size first, so a huge paste is not even trimmed.
    if token.len() > MAX_TOKEN_BYTES + 64 {
        return Err(TokenError::TooLarge { len: token.len() }.into());
    }
    let token = token.trim();
    check_shape(token)?;
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| ImportError::Io { path, source }
    };
    create_private_dir(user_dir).map_err(io_err(user_dir))?;
    let target = user_dir.join(token_file_name(token));
    let imported = |duplicate| Imported { file: target.display().to_string(), duplicate };
    // Not `exists()`: that follows links, and a FIFO or folder planted under the token's name
    // is not the token. Only a regular file under this name is a duplicate.
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_file() => return Ok(imported(true)),
        Ok(_) => return Err(ImportError::Occupied { path: target.display().to_string() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&target)(e)),
    }
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".import-")
        .suffix(".tmp")
        .tempfile_in(user_dir)
        .map_err(io_err(user_dir))?;
    tmp.write_all(token.as_bytes())
        .and_then(|()| tmp.write_all(b"\n"))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_err(tmp.path()))?;
    match tmp.persist_noclobber(&target) {
        Ok(_) => Ok(imported(false)),
        // Another host process imported the same token between our check and our rename.
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            match fs::symlink_metadata(&target) {
                Ok(meta) if meta.is_file() => Ok(imported(true)),
                _ => Err(ImportError::Occupied { path: target.display().to_string() }),
            }
        }
        Err(e) => Err(io_err(&target)(e.error)),
    }
}

/// `<first 32 hex digits of SHA-256(token)>.jws`.
pub fn token_file_name(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}.jws")
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.is_dir() {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        // Tighten a folder that exists with looser permissions (only possible if it is ours).
        let meta = fs::metadata(dir)?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        // On Windows the per-user folder inherits the profile's ACL (the user, SYSTEM and
        // Administrators), which is the platform's notion of owner-only.
        fs::create_dir_all(dir)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A token-shaped string (not a valid signature: the host does not care).
    pub(crate) fn token(payload: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":"k1"}"#);
        let payload = URL_SAFE_NO_PAD.encode(payload.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode([7u8; 64]);
        format!("{header}.{payload}.{sig}")
    }

    #[test]
    fn shape_check() {
        assert_eq!(check_shape(&token("{}")), Ok(()));
        assert_eq!(check_shape("a.b"), Err(TokenError::Segments { segments: 2 }));
        assert_eq!(check_shape("a.b.c.d"), Err(TokenError::Segments { segments: 4 }));
        let t = token("{}");
        let (h, rest) = t.split_once('.').unwrap();
        assert_eq!(
            check_shape(&format!("{h}.{rest}=")),
            Err(TokenError::NotBase64Url { segment: "signature" })
        );
        assert_eq!(
            check_shape(&format!("{h}..x")),
            Err(TokenError::NotBase64Url { segment: "payload" })
        );
        assert_eq!(
            check_shape(&format!("{h}.a/b.x")),
            Err(TokenError::NotBase64Url { segment: "payload" })
        );
        let not_json = URL_SAFE_NO_PAD.encode(b"hello");
        assert_eq!(check_shape(&format!("{not_json}.{rest}")), Err(TokenError::HeaderNotJson));
        let array = URL_SAFE_NO_PAD.encode(b"[1]");
        assert_eq!(check_shape(&format!("{array}.{rest}")), Err(TokenError::HeaderNotJson));
        // A header of one base64url character cannot decode.
        assert_eq!(check_shape("a.b.c"), Err(TokenError::NotBase64Url { segment: "header" }));
        let huge = token(&"x".repeat(MAX_TOKEN_BYTES));
        assert!(matches!(check_shape(&huge), Err(TokenError::TooLarge { .. })));
    }

    #[test]
    fn import_writes_owner_only_and_collapses_duplicates() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("user/approvals");
        let t = token(r#"{"sub":"alice@corp.example"}"#);
        let first = import(&dir, &format!("  {t}\n")).unwrap();
        assert!(!first.duplicate);
        assert!(first.file.ends_with(&token_file_name(&t)));
        assert_eq!(fs::read_to_string(&first.file).unwrap(), format!("{t}\n"));
        let again = import(&dir, &t).unwrap();
        assert_eq!(again, Imported { file: first.file.clone(), duplicate: true });
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left behind: {names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&first.file).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    #[test]
    fn import_rejects_before_touching_the_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("approvals");
        assert!(matches!(
            import(&dir, "../../etc/passwd"),
            Err(ImportError::Token(TokenError::Segments { .. }))
        ));
        assert!(matches!(
            import(&dir, &"a".repeat(MAX_TOKEN_BYTES + 100)),
            Err(ImportError::Token(TokenError::TooLarge { .. }))
        ));
        assert!(!dir.exists());
    }

    #[test]
    fn listing_reports_sources_and_problems() {
        let tmp = tempfile::tempdir().unwrap();
        let machine = tmp.path().join("machine");
        let user = tmp.path().join("user");
        fs::create_dir_all(&machine).unwrap();
        fs::write(machine.join("b.jws"), format!("{}\n", token("{\"n\":2}"))).unwrap();
        fs::write(machine.join("a.JWT"), token("{\"n\":1}")).unwrap();
        fs::write(machine.join("broken.jws"), "not a token").unwrap();
        fs::write(machine.join("binary.jws"), [0xffu8, 0xfe]).unwrap();
        fs::write(machine.join("huge.jws"), "x".repeat(MAX_TOKEN_BYTES + 100)).unwrap();
        fs::write(machine.join("README.txt"), "ignored: not a token extension").unwrap();
        fs::write(machine.join(".hidden.jws"), "ignored: hidden").unwrap();
        fs::create_dir(machine.join("dir.jws")).unwrap();
        import(&user, &token("{\"n\":3}")).unwrap();

        let listing = list(&ApprovalDirs { machine: machine.clone(), user: Some(user.clone()) });
        let summary: Vec<_> = listing
            .tokens
            .iter()
            .map(|t| (t.source, t.file.rsplit('/').next().unwrap().to_owned()))
            .collect();
        assert_eq!(summary[0], (Source::Machine, "a.JWT".into()));
        assert_eq!(summary[1], (Source::Machine, "b.jws".into()));
        assert_eq!(summary[2].0, Source::User);
        assert_eq!(summary.len(), 3);
        let mut problems: Vec<_> = listing
            .problems
            .iter()
            .map(|p| (p.file.rsplit('/').next().unwrap().to_owned(), p.message.clone()))
            .collect();
        problems.sort();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].0 == "binary.jws" && problems[0].1.contains("UTF-8"));
        assert!(problems[1].0 == "broken.jws" && problems[1].1.contains("segments"));
        assert!(problems[2].0 == "dir.jws" && problems[2].1.contains("regular file"));
        assert!(problems[3].0 == "huge.jws" && problems[3].1.contains("limit"));
    }

    /// Issue 9, finding 6: what the user can plant in their own folder is a problem, at once.
    #[cfg(unix)]
    #[test]
    fn planted_fifos_links_huge_files_and_folders_are_problems_not_hangs() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("user");
        fs::create_dir_all(&user).unwrap();
        let fifo =
            std::ffi::CString::new(user.join("fifo.jws").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink(user.join("fifo.jws"), user.join("link-to-fifo.jws")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", user.join("link-to-zero.jws")).unwrap();
        fs::File::create(user.join("huge.jws")).unwrap().set_len(1 << 30).unwrap();
        fs::create_dir(user.join("folder.jws")).unwrap();
        let started = std::time::Instant::now();
        let listing = list(&ApprovalDirs { machine: tmp.path().join("none"), user: Some(user) });
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        let mut problems: Vec<_> = listing
            .problems
            .iter()
            .map(|p| (p.file.rsplit('/').next().unwrap().to_owned(), p.message.clone()))
            .collect();
        problems.sort();
        let expected = [
            ("fifo.jws", "not read: the file is a FIFO, not a regular file"),
            ("folder.jws", "not read: the file is a folder, not a regular file"),
            ("huge.jws", "file is over the 8192-byte token limit"),
            (
                "link-to-fifo.jws",
                "not read: the file is a symbolic link; links are not followed here",
            ),
            (
                "link-to-zero.jws",
                "not read: the file is a symbolic link; links are not followed here",
            ),
        ];
        let expected: Vec<_> =
            expected.iter().map(|(f, m)| ((*f).to_owned(), (*m).to_owned())).collect();
        assert_eq!(problems, expected);
        assert!(listing.tokens.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn an_import_over_a_planted_name_is_an_error_not_a_duplicate() {
        let tmp = tempfile::tempdir().unwrap();
        let t = token("{}");
        let target = tmp.path().join(token_file_name(&t));
        fs::create_dir(&target).unwrap();
        assert!(matches!(import(tmp.path(), &t), Err(ImportError::Occupied { .. })));
        fs::remove_dir(&target).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &target).unwrap();
        let err = import(tmp.path(), &t).unwrap_err();
        assert!(err.to_string().contains("is not a regular file; remove it"), "{err}");
    }

    #[test]
    fn missing_folders_are_empty_not_problems() {
        let listing = list(&ApprovalDirs { machine: "/nonexistent/gatehouse".into(), user: None });
        assert_eq!(listing, Listing::default());
    }
}
