//! The Linux identity reader: realmd/SSSD, Samba/winbind and Kerberos configuration under an injected root.
//!
//! Evidence, strongest first:
//! 1. `/etc/sssd/sssd.conf` with a `[domain/…]` whose `id_provider` is `ad` or `ipa` (what
//!    `realm join` writes), plus the machine keytab `/etc/krb5.keytab`;
//! 2. `/etc/samba/smb.conf` with `security = ads` and a `realm`, plus the keytab or Samba's
//!    `secrets.tdb` (a winbind join);
//! 3. when `sssd.conf` exists but is unreadable (it is root-only on most distributions, and the
//!    host runs as the user): `/etc/krb5.conf`'s `default_realm` plus the keytab.
//!
//! A machine without a keytab is reported as not joined, whatever the configuration says, with
//! the reason in `source`. The user comes from `/etc/passwd` under the root, else from NSS (domain
//! users are not in `/etc/passwd`); never from `$USER` or `$LOGNAME`, which the user sets (an
//! account neither knows is reported with an empty name).
//!
//! The principal approvals bind to comes only from the directory (an SSSD/winbind account on a
//! joined machine). A Kerberos credential cache is never read for it: the cache is a file its
//! user writes (`kinit` or any program can put any name in it), so it would let a local account
//! claim a colleague's principal, and the colleague's approvals with it.

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;

use super::conf::Conf;
use super::{domain_principal, split_hostname, Identity, IdentityError, IdentitySource};

/// Reads the identity from configuration files under `root`.
#[derive(Debug, Clone)]
pub struct LinuxReader {
    root: PathBuf,
    uid: u32,
    nss_user: Option<String>,
}

impl LinuxReader {
    /// A reader for user `uid` with every file under `root` (a fixture tree in tests).
    pub fn new(root: impl Into<PathBuf>, uid: u32) -> Self {
        LinuxReader { root: root.into(), uid, nss_user: None }
    }

    /// The user name NSS reports for the uid (covers SSSD/winbind users absent from `/etc/passwd`).
    #[must_use]
    pub fn with_nss_user(mut self, name: Option<String>) -> Self {
        self.nss_user = name;
        self
    }

    /// The reader for this machine: root `/`, the process's uid, NSS.
    #[cfg(unix)]
    pub fn system() -> Self {
        Self::system_with_root("/")
    }

    /// Like [`LinuxReader::system`] but reading configuration under `root` (the
    /// `GATEHOUSE_IDENTITY_ROOT` override for end-to-end tests).
    #[cfg(unix)]
    pub fn system_with_root(root: impl Into<PathBuf>) -> Self {
        let uid = crate::util::current_uid();
        Self::new(root, uid).with_nss_user(crate::util::account_name(uid))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn read_text(&self, rel: &str) -> Result<String, io::Error> {
        let mut text = String::new();
        // Configuration files are small; cap what we read so a FIFO or a huge file cannot stall us.
        fs::File::open(self.path(rel))?.take(1 << 20).read_to_string(&mut text)?;
        Ok(text)
    }

    fn exists(&self, rel: &str) -> bool {
        fs::metadata(self.path(rel)).is_ok()
    }

    fn join_state(&self) -> Join {
        let keytab = self.exists("etc/krb5.keytab");
        let mut notes: Vec<String> = Vec::new();

        match self.read_text("etc/sssd/sssd.conf") {
            Ok(text) => {
                if let Some((domain, provider)) = sssd_domain(&Conf::parse(&text)) {
                    return if keytab {
                        Join::yes(
                            domain,
                            format!("sssd.conf (id_provider = {provider}) + krb5.keytab"),
                        )
                    } else {
                        Join::no(format!(
                            "sssd.conf configures {domain} (id_provider = {provider}) but /etc/krb5.keytab is missing"
                        ))
                    };
                }
                notes.push("sssd.conf has no ad/ipa domain".into());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => notes.push(format!("sssd.conf unreadable: {}", short_io(&e))),
        }
        let sssd_present = self.exists("etc/sssd/sssd.conf")
            || notes.iter().any(|n| n.starts_with("sssd.conf unreadable"));

        match self.read_text("etc/samba/smb.conf") {
            Ok(text) => {
                let conf = Conf::parse(&text);
                let ads =
                    conf.get("global", "security").is_some_and(|s| s.eq_ignore_ascii_case("ads"));
                match (ads, conf.get("global", "realm")) {
                    (true, Some(realm)) => {
                        let domain = realm.to_ascii_lowercase();
                        let secrets = self.exists("var/lib/samba/private/secrets.tdb");
                        return match (keytab, secrets) {
                            (true, _) => Join::yes(domain, "smb.conf (security = ads) + krb5.keytab".into()),
                            (false, true) => Join::yes(domain, "smb.conf (security = ads) + secrets.tdb".into()),
                            (false, false) => Join::no(format!(
                                "smb.conf names realm {realm} (security = ads) but there is no keytab or secrets.tdb"
                            )),
                        };
                    }
                    (true, None) => notes.push("smb.conf has security = ads but no realm".into()),
                    (false, _) => {}
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => notes.push(format!("smb.conf unreadable: {}", short_io(&e))),
        }

        let realm = match self.read_text("etc/krb5.conf") {
            Ok(text) => Conf::parse(&text).get("libdefaults", "default_realm").map(str::to_owned),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                notes.push(format!("krb5.conf unreadable: {}", short_io(&e)));
                None
            }
        };
        match (realm, keytab, sssd_present) {
            (Some(realm), true, true) => {
                return Join::yes(
                    realm.to_ascii_lowercase(),
                    format!("krb5.conf default_realm + krb5.keytab ({})", notes.join("; ")),
                )
            }
            (Some(realm), false, _) => {
                notes.push(format!("krb5.conf names realm {realm} but there is no keytab"))
            }
            (Some(realm), true, false) => notes.push(format!(
                "krb5.conf names realm {realm} and a keytab exists, but no sssd or winbind"
            )),
            (None, ..) => {}
        }
        let mut source = "not joined: no sssd, winbind or kerberos join found".to_owned();
        if !notes.is_empty() {
            source.push_str(" (");
            source.push_str(&notes.join("; "));
            source.push(')');
        }
        Join::no(source)
    }

    fn hostname(&self) -> String {
        ["proc/sys/kernel/hostname", "etc/hostname"]
            .iter()
            .filter_map(|rel| self.read_text(rel).ok())
            .map(|t| t.lines().next().unwrap_or("").trim().to_owned())
            .find(|h| !h.is_empty())
            .unwrap_or_default()
    }

    /// An FQDN for `short` from `/etc/hosts`: the first name on a line that starts with `short.`.
    fn fqdn_from_hosts(&self, short: &str) -> Option<String> {
        let text = self.read_text("etc/hosts").ok()?;
        let prefix = format!("{}.", short.to_ascii_lowercase());
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split_whitespace().skip(1))
            .map(str::to_ascii_lowercase)
            .find(|name| name.starts_with(&prefix) && name.len() > prefix.len())
            .map(|name| name.trim_end_matches('.').to_owned())
    }

    fn passwd_name(&self) -> Option<String> {
        let text = self.read_text("etc/passwd").ok()?;
        text.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid: u32 = fields.nth(1)?.parse().ok()?;
            (uid == self.uid && !name.is_empty()).then(|| name.to_owned())
        })
    }
}

impl IdentitySource for LinuxReader {
    fn read(&self) -> Result<Identity, IdentityError> {
        let join = self.join_state();
        let (machine, mut fqdn) = split_hostname(&self.hostname());
        if fqdn.is_none() && !machine.is_empty() {
            fqdn = self.fqdn_from_hosts(&machine);
        }
        if fqdn.is_none() && !machine.is_empty() {
            // An AD join registers the machine as <short>.<domain>.
            fqdn = join.domain.as_ref().map(|d| format!("{}.{d}", machine.to_ascii_lowercase()));
        }

        let local = self.passwd_name();
        let is_local = local.is_some();
        let user = local.or_else(|| self.nss_user.clone()).unwrap_or_default();
        let principal = match (&join.domain, join.joined) {
            // Only accounts that come from the directory (not /etc/passwd) get a domain principal.
            (Some(domain), true) if !is_local && !user.is_empty() => {
                Some(domain_principal(&user, domain))
            }
            _ => None,
        };
        Ok(Identity {
            user,
            principal,
            machine,
            fqdn,
            joined: join.joined,
            domain: join.domain.filter(|_| join.joined),
            source: join.source,
        })
    }
}

struct Join {
    joined: bool,
    domain: Option<String>,
    source: String,
}

impl Join {
    fn yes(domain: String, source: String) -> Self {
        Join { joined: true, domain: Some(domain), source }
    }
    fn no(source: String) -> Self {
        Join { joined: false, domain: None, source }
    }
}

/// The first AD/IPA domain of an sssd.conf, in `[sssd] domains` order, and its provider.
fn sssd_domain(conf: &Conf) -> Option<(String, String)> {
    let listed: Vec<String> = conf
        .get("sssd", "domains")
        .map(|d| {
            d.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect()
        })
        .unwrap_or_default();
    let mut sections: Vec<&str> =
        conf.sections().into_iter().filter(|s| s.starts_with("domain/")).collect();
    // Listed domains first, in the listed order; unlisted ones after (sssd would ignore them,
    // but they still show how the machine was set up).
    sections.sort_by_key(|s| {
        listed.iter().position(|l| l == &s["domain/".len()..]).unwrap_or(usize::MAX)
    });
    sections.into_iter().find_map(|section| {
        let provider = conf.get(section, "id_provider")?.to_ascii_lowercase();
        if provider != "ad" && provider != "ipa" {
            return None;
        }
        let domain = conf
            .get(section, "ad_domain")
            .or_else(|| conf.get(section, "ipa_domain"))
            .map(str::to_owned)
            .or_else(|| conf.get(section, "krb5_realm").map(str::to_owned))
            .unwrap_or_else(|| section["domain/".len()..].to_owned());
        Some((domain.to_ascii_lowercase(), provider))
    })
}

fn short_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::InvalidData => "not UTF-8".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sssd_domain_prefers_listed_ad_domains() {
        let conf = Conf::parse(
            "[sssd]\ndomains = second.example, corp.example\n[domain/corp.example]\nid_provider = ad\n\
             [domain/second.example]\nid_provider = ldap\n[domain/ipa.example]\nid_provider = ipa\n",
        );
        assert_eq!(sssd_domain(&conf), Some(("corp.example".into(), "ad".into())));
        let conf = Conf::parse("[domain/X]\nid_provider = AD\nad_domain = Corp.Example\n");
        assert_eq!(sssd_domain(&conf), Some(("corp.example".into(), "ad".into())));
        assert_eq!(sssd_domain(&Conf::parse("[domain/l]\nid_provider = ldap\n")), None);
    }
}
