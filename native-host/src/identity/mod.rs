//! Who is signed in on which machine, and whether the machine is joined to a directory domain.
//!
//! Each platform's reader implements [`IdentitySource`]; the readers that look at files take an
//! injected root so tests run them against fixture trees (`tests/fixtures/identity/`).

mod conf;
pub mod linux;
pub mod macos;
#[cfg(windows)]
pub mod windows;

pub use gatehouse_core::Identity;

/// Why the identity could not be determined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// No reader exists for this operating system.
    #[error("identity is not available on {os}")]
    Unsupported {
        /// `std::env::consts::OS`.
        os: &'static str,
    },
    /// An operating-system call failed.
    #[error("{call} failed with error {code}")]
    Os {
        /// The API that failed.
        call: &'static str,
        /// Its error code.
        code: u32,
    },
}

/// A way to learn the identity. Readers do not cache: callers decide how long a fact lives.
pub trait IdentitySource: Send + Sync {
    /// Reads the identity now.
    ///
    /// # Errors
    /// [`IdentityError`] when the platform cannot say who is signed in at all; partial
    /// knowledge (no FQDN, no principal) is reported through the `Option` fields instead.
    fn read(&self) -> Result<Identity, IdentityError>;
}

/// A fixed identity, for tests and for hosts that must not look at the system.
#[derive(Debug, Clone)]
pub struct Fixed(pub Identity);

impl IdentitySource for Fixed {
    fn read(&self) -> Result<Identity, IdentityError> {
        Ok(self.0.clone())
    }
}

/// The reader for the platform this binary runs on, looking at the real system.
pub fn system() -> Box<dyn IdentitySource> {
    #[cfg(windows)]
    {
        Box::new(windows::WindowsReader)
    }
    #[cfg(target_os = "macos")]
    {
        Box::new(macos::MacReader::system())
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        Box::new(linux::LinuxReader::system())
    }
    #[cfg(not(any(unix, windows)))]
    {
        Box::new(Unsupported)
    }
}

/// The reader on platforms without one: every read is [`IdentityError::Unsupported`].
#[derive(Debug, Clone, Copy)]
pub struct Unsupported;

impl IdentitySource for Unsupported {
    fn read(&self) -> Result<Identity, IdentityError> {
        Err(IdentityError::Unsupported { os: std::env::consts::OS })
    }
}

/// Splits a host name into the short name and, if it is dotted, the FQDN.
pub(crate) fn split_hostname(name: &str) -> (String, Option<String>) {
    let name = name.trim().trim_end_matches('.');
    match name.split_once('.') {
        Some((short, _)) if !short.is_empty() => {
            (short.to_owned(), Some(name.to_ascii_lowercase()))
        }
        _ => (name.to_owned(), None),
    }
}

/// The principal for a domain account: names that already carry a domain (`alice@corp.example`,
/// `CORP\alice`) are kept; a bare name becomes the UPN `alice@<domain>`.
pub(crate) fn domain_principal(user: &str, domain: &str) -> String {
    if user.contains('@') || user.contains('\\') {
        user.to_owned()
    } else {
        format!("{user}@{}", domain.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_split() {
        assert_eq!(split_hostname("ws01"), ("ws01".into(), None));
        assert_eq!(
            split_hostname("WS01.Corp.Example.\n"),
            ("WS01".into(), Some("ws01.corp.example".into()))
        );
        assert_eq!(split_hostname(".odd"), (".odd".into(), None));
    }

    #[test]
    fn principals() {
        assert_eq!(domain_principal("alice", "CORP.EXAMPLE"), "alice@corp.example");
        assert_eq!(domain_principal("alice@corp.example", "x"), "alice@corp.example");
        assert_eq!(domain_principal("CORP\\alice", "x"), "CORP\\alice");
    }
}
