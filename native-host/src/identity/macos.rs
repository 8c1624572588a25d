//! The macOS identity reader: `dsconfigad -show` for the Active Directory binding, `dscl` for the account's origin.
//!
//! The account is the process's real uid looked up with `getpwuid_r`; tools are run by absolute
//! path (`/usr/sbin/dsconfigad`, `/usr/bin/dscl`), never found through `PATH`.
//!
//! The parsers are plain functions compiled everywhere, so they are tested with fixture text on
//! any machine; only the command runner is macOS-only.

/// What `dsconfigad -show` says about the Active Directory binding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DsConfigAd {
    /// `Active Directory Forest`.
    pub forest: Option<String>,
    /// `Active Directory Domain` (the DNS name of the joined domain).
    pub domain: Option<String>,
    /// `Computer Account` (`ws01$`).
    pub computer_account: Option<String>,
}

impl DsConfigAd {
    /// Bound to a domain: `dsconfigad -show` prints nothing at all on an unbound Mac.
    pub fn joined(&self) -> bool {
        self.domain.is_some()
    }
}

/// Parses `dsconfigad -show` output: `Key = value` lines padded with spaces, in sections.
pub fn parse_dsconfigad(text: &str) -> DsConfigAd {
    let mut out = DsConfigAd::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let slot = match key.trim() {
            "Active Directory Forest" => &mut out.forest,
            "Active Directory Domain" => &mut out.domain,
            "Computer Account" => &mut out.computer_account,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.to_owned());
        }
    }
    out.domain = out.domain.map(|d| d.to_ascii_lowercase());
    out.forest = out.forest.map(|d| d.to_ascii_lowercase());
    out
}

/// Whether `dscl . -read /Users/<name> OriginalNodeName` says the account came from Active
/// Directory (a mobile or network account) rather than the local directory.
pub fn is_directory_account(dscl_output: &str) -> bool {
    dscl_output.contains("/Active Directory/")
}

#[cfg(target_os = "macos")]
pub use reader::MacReader;

#[cfg(target_os = "macos")]
mod reader {
    use std::time::Duration;

    use super::{is_directory_account, parse_dsconfigad};
    use crate::identity::{
        domain_principal, split_hostname, Identity, IdentityError, IdentitySource,
    };
    use crate::util::run_with_timeout;

    /// Reads the identity by running `dsconfigad` and `dscl`.
    #[derive(Debug, Clone, Default)]
    pub struct MacReader;

    impl MacReader {
        /// The reader for this Mac.
        pub fn system() -> Self {
            MacReader
        }
    }

    impl IdentitySource for MacReader {
        fn read(&self) -> Result<Identity, IdentityError> {
            let timeout = Duration::from_millis(700);
            let ad = run_with_timeout("/usr/sbin/dsconfigad", &["-show"], timeout)
                .map(|t| parse_dsconfigad(&t))
                .unwrap_or_default();
            let (machine, mut fqdn) = split_hostname(&crate::util::hostname().unwrap_or_default());
            if fqdn.is_none() {
                fqdn = ad.domain.as_ref().map(|d| format!("{}.{d}", machine.to_ascii_lowercase()));
            }
            // From the user database (Open Directory through getpwuid_r), never `$USER`: the
            // user sets that (issue 9, finding 8: `USER=colleague` claimed another account).
            let user = crate::util::account_name(crate::util::current_uid()).unwrap_or_default();
            let principal = match &ad.domain {
                Some(domain) if !user.is_empty() => {
                    let path = format!("/Users/{user}");
                    run_with_timeout(
                        "/usr/bin/dscl",
                        &[".", "-read", &path, "OriginalNodeName"],
                        timeout,
                    )
                    .filter(|out| is_directory_account(out))
                    .map(|_| domain_principal(&user, domain))
                }
                _ => None,
            };
            Ok(Identity {
                user,
                principal,
                machine,
                fqdn,
                joined: ad.joined(),
                domain: ad.domain.clone(),
                source: if ad.joined() {
                    "dsconfigad -show".into()
                } else {
                    "dsconfigad -show (not bound)".into()
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: &str = include_str!("../../tests/fixtures/identity/macos/dsconfigad-bound.txt");

    #[test]
    fn parses_a_bound_mac() {
        let ad = parse_dsconfigad(BOUND);
        assert!(ad.joined());
        assert_eq!(ad.domain.as_deref(), Some("corp.example"));
        assert_eq!(ad.forest.as_deref(), Some("corp.example"));
        assert_eq!(ad.computer_account.as_deref(), Some("mac01$"));
    }

    #[test]
    fn empty_output_is_unbound() {
        assert!(!parse_dsconfigad("").joined());
        assert!(!parse_dsconfigad("garbage\n= =\nActive Directory Domain = \n").joined());
    }

    #[test]
    fn directory_accounts() {
        assert!(is_directory_account("OriginalNodeName:\n /Active Directory/CORP/corp.example\n"));
        assert!(!is_directory_account("No such key: OriginalNodeName\n"));
    }
}
