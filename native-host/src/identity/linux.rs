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

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::conf::Conf;
use super::{domain_principal, split_hostname, Identity, IdentityError, IdentitySource};

/// Reads the identity from configuration files under `root`.
#[derive(Debug, Clone)]
pub struct LinuxReader {
    root: PathBuf,
    uid: u32,
    nss_user: Option<String>,
    ccache: Option<PathBuf>,
}

impl LinuxReader {
    /// A reader for user `uid` with every file under `root` (a fixture tree in tests).
    pub fn new(root: impl Into<PathBuf>, uid: u32) -> Self {
        LinuxReader { root: root.into(), uid, nss_user: None, ccache: None }
    }

    /// The user name NSS reports for the uid (covers SSSD/winbind users absent from `/etc/passwd`).
    #[must_use]
    pub fn with_nss_user(mut self, name: Option<String>) -> Self {
        self.nss_user = name;
        self
    }

    /// A Kerberos credential cache (`FILE:` type) whose default principal names the user.
    #[must_use]
    pub fn with_ccache(mut self, path: Option<PathBuf>) -> Self {
        self.ccache = path;
        self
    }

    /// The reader for this machine: root `/`, the process's uid, NSS, `$KRB5CCNAME`.
    #[cfg(unix)]
    pub fn system() -> Self {
        Self::system_with_root("/")
    }

    /// Like [`LinuxReader::system`] but reading configuration under `root` (the
    /// `GATEHOUSE_IDENTITY_ROOT` override for end-to-end tests).
    #[cfg(unix)]
    pub fn system_with_root(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let uid = crate::util::current_uid();
        // A fixture root describes a whole machine: the real credential cache is not part of it.
        let ccache = if root == Path::new("/") { default_ccache(uid) } else { None };
        Self::new(root, uid).with_nss_user(crate::util::account_name(uid)).with_ccache(ccache)
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
            _ => self.ccache.as_deref().and_then(ccache_principal),
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

/// The default principal of a `FILE:` credential cache (format versions 3 and 4), e.g.
/// `alice@CORP.EXAMPLE`. Anything else — another format, a truncated file — is `None`.
///
/// The cache is the user's file (`$KRB5CCNAME` is theirs to set): it is read without following a
/// link or blocking, and only if it is a regular file of at most 64 KiB (`crate::userfile`).
pub fn ccache_principal(path: &Path) -> Option<String> {
    let bytes = crate::userfile::read_capped(path, 64 * 1024).ok()?;
    parse_ccache_principal(&bytes)
}

/// The default principal in credential-cache bytes (MIT format, versions 0x0503/0x0504, big-endian).
pub fn parse_ccache_principal(bytes: &[u8]) -> Option<String> {
    let mut cur = Cursor { bytes, pos: 0 };
    if cur.take(1)? != [5] {
        return None;
    }
    match cur.take(1)?[0] {
        3 => {}
        4 => {
            let header_len = cur.u16()?;
            cur.take(usize::from(header_len))?;
        }
        _ => return None,
    }
    let _name_type = cur.u32()?;
    let components = cur.u32()?;
    if components == 0 || components > 16 {
        return None;
    }
    let realm = cur.counted()?;
    let parts = (0..components).map(|_| cur.counted()).collect::<Option<Vec<_>>>()?;
    (!realm.is_empty()).then(|| format!("{}@{realm}", parts.join("/")))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn counted(&mut self) -> Option<String> {
        let len = self.u32()?;
        if len > 1024 {
            return None;
        }
        String::from_utf8(self.take(len as usize)?.to_vec()).ok()
    }
}

/// The credential cache MIT Kerberos would use: `$KRB5CCNAME` when it is a file, else
/// `/tmp/krb5cc_<uid>`. Other cache types (KEYRING:, KCM:) are not read.
#[cfg(unix)]
fn default_ccache(uid: u32) -> Option<PathBuf> {
    match std::env::var("KRB5CCNAME") {
        Ok(name) => {
            let path = name.strip_prefix("FILE:").unwrap_or(&name);
            (path.starts_with('/')).then(|| PathBuf::from(path))
        }
        Err(_) => Some(PathBuf::from(format!("/tmp/krb5cc_{uid}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-4 ccache with the given default principal and no credentials.
    pub(crate) fn ccache_bytes(realm: &str, parts: &[&str]) -> Vec<u8> {
        let mut b = vec![5, 4, 0, 0]; // version 0x0504, empty header
        b.extend(1u32.to_be_bytes()); // KRB5_NT_PRINCIPAL
        b.extend((parts.len() as u32).to_be_bytes());
        for s in std::iter::once(realm).chain(parts.iter().copied()) {
            b.extend((s.len() as u32).to_be_bytes());
            b.extend(s.as_bytes());
        }
        b
    }

    #[test]
    fn ccache_principal_v4_and_v3() {
        assert_eq!(
            parse_ccache_principal(&ccache_bytes("CORP.EXAMPLE", &["alice"])).as_deref(),
            Some("alice@CORP.EXAMPLE")
        );
        assert_eq!(
            parse_ccache_principal(&ccache_bytes("CORP.EXAMPLE", &["host", "ws01"])).as_deref(),
            Some("host/ws01@CORP.EXAMPLE")
        );
        let mut v3 = ccache_bytes("R", &["bob"]);
        v3.drain(1..4);
        v3.insert(1, 3);
        assert_eq!(parse_ccache_principal(&v3).as_deref(), Some("bob@R"));
    }

    #[test]
    fn ccache_garbage_is_none() {
        let good = ccache_bytes("CORP.EXAMPLE", &["alice"]);
        for cut in 0..good.len() {
            assert_eq!(parse_ccache_principal(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(parse_ccache_principal(&[5, 2, 0, 0]), None, "old formats are not read");
        let mut huge = vec![5, 3, 0, 0, 0, 1, 0, 0, 0, 1];
        huge.extend(u32::MAX.to_be_bytes());
        assert_eq!(parse_ccache_principal(&huge), None);
    }

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
