//! Approvers read from Active Directory: is the signed-in principal a (nested) member of the
//! approvers' groups?
//!
//! One lookup is an LDAP connection bound as the desk's service account — with Kerberos (SASL
//! GSSAPI, its keytab; sealed by Kerberos on `ldap://`) or with a password over TLS (`ldaps://`,
//! or `ldap://` with StartTLS; never plain text) — one search for the user object and
//! one base search per configured group with AD's `LDAP_MATCHING_RULE_IN_CHAIN`
//! (1.2.840.113556.1.4.1941), so that membership through nested groups counts. Answers are
//! cached for `directory.cache_seconds`; failures are not cached and make the user no approver
//! ([`LookupError`], fail closed).
//!
//! The principal is mapped to the user object by [`account_filter`]: only `name@REALM` with
//! exactly the configured realm, matched on `sAMAccountName` (what the KDC puts in an AD user's
//! ticket), enabled accounts only, and exactly one match.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

/// The directory settings (`[directory]` and the group names under `[approvers]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    /// `ldaps://host[:port]` or `ldap://host[:port]` (StartTLS).
    pub url: String,
    /// Where user objects are searched, e.g. `DC=corp,DC=example`.
    pub base_dn: String,
    /// The Kerberos realm whose principals are looked up (exact, e.g. `CORP.EXAMPLE`).
    pub realm: String,
    /// How the desk binds.
    pub bind: Bind,
    /// PEM file with the CA certificate(s) the directory's TLS certificate chains to; `None`:
    /// the system's store.
    pub ca_file: Option<PathBuf>,
    /// How long an answer is reused.
    pub cache: Duration,
    /// Connect and per-operation timeout.
    pub timeout: Duration,
    /// Groups whose (nested) members decide every category.
    pub groups_all: Vec<String>,
    /// Groups whose (nested) members decide one category.
    pub groups_by_category: BTreeMap<String, Vec<String>>,
}

/// How the desk binds to the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// SASL GSSAPI (Kerberos) with the service account's keys from `keytab` (the desk sets
    /// `KRB5_CLIENT_KTNAME` to it and keeps its tickets in memory). On `ldap://` Kerberos signs
    /// and seals the connection (what AD and Samba require of GSSAPI); on `ldaps://`, TLS.
    Gssapi {
        /// The owner-only keytab with the account's keys (`samba-tool domain exportkeytab
        /// --principal=desksvc`, `ktpass`).
        keytab: PathBuf,
    },
    /// A simple bind, always over TLS.
    Simple {
        /// The service account (a DN or `name@domain`).
        dn: String,
        /// The owner-only file holding its password.
        password_file: PathBuf,
    },
}

/// Why the directory could not say whether someone is an approver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// Connecting, TLS, binding or searching failed.
    #[error("the directory {url} could not be reached or refused the desk: {message}")]
    Unreachable {
        /// The configured URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// More than one user object has the account name.
    #[error("{count} directory objects match {principal}; refusing to guess")]
    Ambiguous {
        /// The principal.
        principal: String,
        /// How many matched.
        count: usize,
    },
}

/// The categories someone decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rights {
    /// Every category.
    pub all: bool,
    /// These categories.
    pub categories: BTreeSet<String>,
}

impl Rights {
    /// Whether these rights decide anything at all.
    pub fn is_approver(&self) -> bool {
        self.all || !self.categories.is_empty()
    }

    /// Whether they decide `category`.
    pub fn may_decide(&self, category: &str) -> bool {
        self.all || self.categories.contains(category)
    }

    /// Both rights together.
    pub fn union(mut self, other: Rights) -> Rights {
        self.all |= other.all;
        self.categories.extend(other.categories);
        self
    }
}

/// Escapes a value for an LDAP search filter (RFC 4515 §3: `*`, `(`, `)`, `\` and NUL as
/// `\XX`). Other bytes, UTF-8 included, are literal in a filter string.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// The search filter for the user object of `principal`, or `None` when the principal cannot
/// be one of the realm's users: not `name@REALM` with exactly `realm`, a service principal
/// (`HTTP/host@…`), an enterprise name (`a@b@REALM`), a Kerberos-escaped name, or a name that
/// is empty, too long or has control characters.
pub fn account_filter(principal: &str, realm: &str) -> Option<String> {
    let (name, principal_realm) = principal.rsplit_once('@')?;
    // Kerberos realms are case-sensitive: CORP.EXAMPLE and corp.example are different realms.
    if principal_realm != realm || realm.is_empty() {
        return None;
    }
    // sAMAccountName is at most 20 characters in AD; 64 leaves room for other directories.
    let plain = !name.is_empty()
        && name.chars().count() <= 64
        && !name.chars().any(|c| c.is_control() || matches!(c, '@' | '/' | '\\'));
    if !plain {
        return None;
    }
    Some(format!(
        "(&(objectCategory=person)(objectClass=user)(sAMAccountName={})\
         (!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
        escape_filter_value(name)
    ))
}

/// What a person typed as their user name on the sign-in form (`bob`, `bob@corp.example`,
/// `bob@CORP.EXAMPLE`) → the account name and the principal in `realm`; `None` for a name in
/// another realm. The realm is compared without case here (people type the DNS spelling); the
/// name itself is checked by [`account_filter`].
pub fn login_principal<'a>(login: &'a str, realm: &str) -> Option<(&'a str, String)> {
    let login = login.trim();
    let name = match login.rsplit_once('@') {
        Some((name, r)) if r.eq_ignore_ascii_case(realm) => name,
        Some(_) => return None,
        None => login,
    };
    Some((name, format!("{name}@{realm}")))
}

/// The filter that matches an object that is a member of `group_dn`, directly or through
/// nested groups.
pub fn member_filter(group_dn: &str) -> String {
    format!("(memberOf:1.2.840.113556.1.4.1941:={})", escape_filter_value(group_dn))
}

/// Looks approvers up in the directory, with a short cache.
pub struct Directory {
    config: DirectoryConfig,
    /// The simple bind's password; empty with GSSAPI.
    password: String,
    tls: Arc<rustls::ClientConfig>,
    cache: Mutex<HashMap<String, (Instant, Rights)>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").field("url", &self.config.url).finish_non_exhaustive()
    }
}

impl Directory {
    /// Reads the password and CA files.
    ///
    /// # Errors
    /// A message naming the key (`directory.password_file`, `directory.ca_file`) and the fix.
    pub fn new(config: DirectoryConfig) -> Result<Self, String> {
        let password = match &config.bind {
            Bind::Simple { password_file: pw, .. } => {
                if gatehouse_admin::approve::readable_by_others(pw) {
                    return Err(format!(
                        "directory.password_file {}: other users can read it; make it owner-only (chmod 600 {})",
                        pw.display(),
                        pw.display()
                    ));
                }
                let password = std::fs::read_to_string(pw)
                    .map_err(|e| {
                        format!("directory.password_file {}: cannot read it: {e}", pw.display())
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                if password.is_empty() {
                    return Err(format!(
                        "directory.password_file {} is empty: write the service account's password into it",
                        pw.display()
                    ));
                }
                password
            }
            Bind::Gssapi { keytab } => {
                if gatehouse_admin::approve::readable_by_others(keytab) {
                    return Err(format!(
                        "directory.keytab {}: other users can read it; make it owner-only (chmod 600 {})",
                        keytab.display(),
                        keytab.display()
                    ));
                }
                std::fs::File::open(keytab).map_err(|e| {
                    format!("directory.keytab {}: cannot read it: {e}", keytab.display())
                })?;
                String::new()
            }
        };
        let mut roots = rustls::RootCertStore::empty();
        match &config.ca_file {
            Some(ca) => {
                let pem = std::fs::read(ca).map_err(|e| {
                    format!("directory.ca_file {}: cannot read it: {e}", ca.display())
                })?;
                let mut n = 0;
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| {
                        format!("directory.ca_file {}: not PEM certificates: {e}", ca.display())
                    })?;
                    roots.add(cert).map_err(|e| {
                        format!(
                            "directory.ca_file {}: a certificate is unusable: {e}",
                            ca.display()
                        )
                    })?;
                    n += 1;
                }
                if n == 0 {
                    return Err(format!(
                        "directory.ca_file {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        ca.display()
                    ));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err("directory.ca_file is not given and the system has no CA certificates: give the CA that signed the domain controllers' certificates".into());
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { config, password, tls: Arc::new(tls), cache: Mutex::new(HashMap::new()) })
    }

    /// Whether any group is configured (else the directory is not asked).
    pub fn has_groups(&self) -> bool {
        !self.config.groups_all.is_empty()
            || self.config.groups_by_category.values().any(|g| !g.is_empty())
    }

    /// The categories `principal` decides through the directory's groups.
    ///
    /// # Errors
    /// [`LookupError`] when the directory cannot answer; the caller treats the user as no
    /// approver.
    pub async fn rights(&self, principal: &str) -> Result<Rights, LookupError> {
        if !self.has_groups() {
            return Ok(Rights::default());
        }
        let Some(filter) = account_filter(principal, &self.config.realm) else {
            return Ok(Rights::default());
        };
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, rights)) = cache.get(principal) {
                if now.duration_since(*at) < self.config.cache {
                    return Ok(rights.clone());
                }
            }
        }
        let rights = self.lookup(principal, &filter).await?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                let ttl = self.config.cache;
                cache.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            }
            cache.insert(principal.to_owned(), (now, rights.clone()));
        }
        Ok(rights)
    }

    fn fail(&self, what: &str, e: &dyn std::fmt::Display) -> LookupError {
        LookupError::Unreachable { url: self.config.url.clone(), message: format!("{what}: {e}") }
    }

    /// A connection to the directory (not bound yet): TLS (`ldaps://`, or StartTLS on
    /// `ldap://`), except for a GSSAPI bind on `ldap://`, which Kerberos seals instead (`tls`
    /// false). A password is only ever sent with `tls`.
    async fn connect(&self, tls: bool) -> Result<ldap3::Ldap, LookupError> {
        let c = &self.config;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(c.timeout)
            .set_config(self.tls.clone())
            .set_starttls(tls && c.url.starts_with("ldap://"));
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &c.url)
            .await
            .map_err(|e| self.fail("connecting", &e))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// A connection bound as the desk's service account.
    async fn bound(&self) -> Result<ldap3::Ldap, LookupError> {
        match &self.config.bind {
            Bind::Simple { dn, .. } => {
                let mut ldap = self.connect(true).await?;
                ldap.with_timeout(self.config.timeout)
                    .simple_bind(dn, &self.password)
                    .await
                    .and_then(ldap3::LdapResult::success)
                    .map_err(|e| self.fail("binding as directory.bind_dn", &e))?;
                Ok(ldap)
            }
            Bind::Gssapi { .. } => {
                let mut ldap = self.connect(self.config.url.starts_with("ldaps://")).await?;
                // The SPN is ldap/<the host in directory.url>.
                let host = url::Url::parse(&self.config.url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default();
                ldap.with_timeout(self.config.timeout)
                    .sasl_gssapi_bind(&host)
                    .await
                    .and_then(ldap3::LdapResult::success)
                    .map_err(|e| self.fail("binding with Kerberos (directory.keytab)", &e))?;
                Ok(ldap)
            }
        }
    }

    /// The one enabled user object `filter` selects: its DN and `sAMAccountName`; `None` when
    /// there is none.
    async fn find_user(
        &self,
        ldap: &mut ldap3::Ldap,
        principal: &str,
        filter: &str,
    ) -> Result<Option<(String, String)>, LookupError> {
        let (entries, _) = ldap
            .with_timeout(self.config.timeout)
            .search(&self.config.base_dn, Scope::Subtree, filter, vec!["sAMAccountName"])
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(|e| self.fail("searching for the user", &e))?;
        // AD answers a subtree search of the domain with references to its DNS partitions.
        let users: Vec<(String, String)> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            // `construct` panics on an entry it cannot parse: only the directory, authenticated
            // by TLS or Kerberos, could send one (the request's task ends, nothing else).
            .map(SearchEntry::construct)
            .map(|e| {
                let sam = e
                    .attrs
                    .get("sAMAccountName")
                    .and_then(|v| v.first())
                    .cloned()
                    .unwrap_or_default();
                (e.dn, sam)
            })
            .collect();
        match users.as_slice() {
            [] => {
                tracing::info!(principal, "no enabled user object in the directory");
                Ok(None)
            }
            [one] => Ok(Some(one.clone())),
            more => {
                Err(LookupError::Ambiguous { principal: principal.to_owned(), count: more.len() })
            }
        }
    }

    /// Checks a domain user's password by binding as that user over TLS (the LDAP-bind
    /// sign-in): `login` is `name` or `name@realm` (the configured realm, in any case). Returns
    /// the principal (`name@REALM`, the name as the directory spells it) when the password is
    /// right, `None` when it is wrong, the account is unknown, disabled, or the login not one of
    /// the realm's users. An empty password is refused without asking: LDAP treats a bind
    /// with a name and no password as anonymous, and "succeeds" (RFC 4513 §5.1.2).
    ///
    /// # Errors
    /// [`LookupError`] when the directory cannot answer.
    pub async fn check_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<String>, LookupError> {
        let realm = &self.config.realm;
        let Some((name, principal)) = login_principal(login, realm) else { return Ok(None) };
        let Some(filter) = account_filter(&principal, realm) else { return Ok(None) };
        if password.is_empty() || password.len() > 1024 {
            return Ok(None);
        }
        let mut ldap = self.bound().await?;
        let found = self.find_user(&mut ldap, &principal, &filter).await;
        let _ = ldap.unbind().await;
        let Some((user_dn, sam)) = found? else { return Ok(None) };
        let mut ldap = self.connect(true).await?;
        let result = ldap
            .with_timeout(self.config.timeout)
            .simple_bind(&user_dn, password)
            .await
            .map_err(|e| self.fail("binding as the user", &e))?;
        let _ = ldap.unbind().await;
        match result.rc {
            0 => {
                let sam = if sam.is_empty() { name.to_owned() } else { sam };
                Ok(Some(format!("{sam}@{realm}")))
            }
            // invalidCredentials (a wrong password; AD also answers so for a locked account).
            49 => Ok(None),
            rc => {
                Err(self.fail("binding as the user", &format!("result code {rc} {}", result.text)))
            }
        }
    }

    async fn lookup(&self, principal: &str, filter: &str) -> Result<Rights, LookupError> {
        let c = &self.config;
        let fail = |what: &str, e: &dyn std::fmt::Display| self.fail(what, e);
        let mut ldap = self.bound().await?;
        let found = self.find_user(&mut ldap, principal, filter).await;
        let user_dn = match found {
            Ok(Some((dn, _))) => dn,
            Ok(None) => {
                let _ = ldap.unbind().await;
                return Ok(Rights::default());
            }
            Err(e) => {
                let _ = ldap.unbind().await;
                return Err(e);
            }
        };
        let mut memberships: BTreeMap<&str, bool> = BTreeMap::new();
        let groups = c.groups_all.iter().chain(c.groups_by_category.values().flatten());
        for group in groups {
            if memberships.contains_key(group.as_str()) {
                continue;
            }
            let (found, _) = ldap
                .with_timeout(c.timeout)
                .search(&user_dn, Scope::Base, &member_filter(group), vec!["1.1"])
                .await
                .and_then(ldap3::SearchResult::success)
                .map_err(|e| fail("reading group membership", &e))?;
            memberships.insert(group, found.iter().any(|e| !e.is_ref() && !e.is_intermediate()));
        }
        let _ = ldap.unbind().await;
        let member = |gs: &[String]| gs.iter().any(|g| memberships.get(g.as_str()) == Some(&true));
        let rights = Rights {
            all: member(&c.groups_all),
            categories: c
                .groups_by_category
                .iter()
                .filter(|(_, gs)| member(gs))
                .map(|(cat, _)| cat.clone())
                .collect(),
        };
        tracing::info!(principal, user = %user_dn, all = rights.all, categories = ?rights.categories, "approver rights read from the directory");
        Ok(rights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped_per_rfc_4515() {
        assert_eq!(escape_filter_value("bob"), "bob");
        assert_eq!(escape_filter_value("*"), "\\2a");
        assert_eq!(escape_filter_value("a)(|(x=*"), "a\\29\\28|\\28x=\\2a");
        assert_eq!(escape_filter_value("back\\slash\0"), "back\\5cslash\\00");
        assert_eq!(escape_filter_value("王小明"), "王小明");
        assert_eq!(
            escape_filter_value("CN=Approvers (EU),OU=G,DC=corp,DC=example"),
            "CN=Approvers \\28EU\\29,OU=G,DC=corp,DC=example"
        );
    }

    #[test]
    fn a_principal_maps_to_one_filter_of_its_account_name() {
        let f = account_filter("bob@CORP.EXAMPLE", "CORP.EXAMPLE").unwrap();
        assert!(f.contains("(sAMAccountName=bob)"), "{f}");
        assert!(f.contains("1.2.840.113556.1.4.803:=2"), "disabled accounts excluded: {f}");
    }

    /// Hostile principals: injection into the filter, other realms, realm case, service and
    /// enterprise principals, escapes and control characters never produce a filter that
    /// matches anything but one literal account name.
    #[test]
    fn hostile_principals_do_not_inject_or_cross_realms() {
        let realm = "CORP.EXAMPLE";
        for p in [
            "bob@EVIL.EXAMPLE",
            "bob@corp.example",
            "bob@CORP.EXAMPLE.EVIL",
            "bob",
            "@CORP.EXAMPLE",
            "HTTP/desk.corp.example@CORP.EXAMPLE",
            "bob@corp.example@CORP.EXAMPLE",
            "bob\\@x@CORP.EXAMPLE",
            "bob\n@CORP.EXAMPLE",
            "bob\0@CORP.EXAMPLE",
            &format!("{}@CORP.EXAMPLE", "a".repeat(65)),
        ] {
            assert_eq!(account_filter(p, realm), None, "{p:?}");
        }
        assert_eq!(account_filter("bob@", ""), None);
        let f = account_filter("*)(sAMAccountName=*@CORP.EXAMPLE", realm).unwrap();
        assert!(f.contains("(sAMAccountName=\\2a\\29\\28sAMAccountName=\\2a)"), "{f}");
        // The filter stays balanced: the escaped value opens and closes nothing.
        let depth = f.chars().fold(0i32, |d, c| match c {
            '(' => d + 1,
            ')' => d - 1,
            _ => d,
        });
        assert_eq!(depth, 0, "{f}");
    }

    /// The sign-in form's user name: the realm's DNS spelling is the realm; anything else in
    /// another realm, or a name the filter would not take, signs nobody in.
    #[test]
    fn a_typed_login_maps_into_the_realm_only() {
        let realm = "CORP.EXAMPLE";
        assert_eq!(login_principal(" bob ", realm), Some(("bob", "bob@CORP.EXAMPLE".into())));
        assert_eq!(
            login_principal("BOB@corp.example", realm),
            Some(("BOB", "BOB@CORP.EXAMPLE".into()))
        );
        for other in ["bob@evil.example", "bob@corp.example.evil", "bob@"] {
            assert_eq!(login_principal(other, realm), None, "{other:?}");
        }
        for hostile in ["*", "bob)(|(sAMAccountName=*", "CORP\\bob", "a/b", ""] {
            let mapped =
                login_principal(hostile, realm).and_then(|(_, p)| account_filter(&p, realm));
            if let Some(f) = &mapped {
                assert!(
                    !f.contains("=*)") && f.matches('(').count() == f.matches(')').count(),
                    "{hostile:?} → {f}"
                );
            }
        }
        assert_eq!(login_principal("", realm).and_then(|(_, p)| account_filter(&p, realm)), None);
        assert_eq!(
            login_principal("CORP\\bob", realm).and_then(|(_, p)| account_filter(&p, realm)),
            None
        );
    }

    #[test]
    fn group_dns_are_escaped_in_the_chain_filter() {
        assert_eq!(
            member_filter("CN=A*(x),DC=corp"),
            "(memberOf:1.2.840.113556.1.4.1941:=CN=A\\2a\\28x\\29,DC=corp)"
        );
    }

    #[test]
    fn rights_union() {
        let a = Rights { all: false, categories: ["webmail".to_owned()].into() };
        let b = Rights { all: false, categories: ["cloud_storage".to_owned()].into() };
        let u = a.union(b);
        assert!(u.may_decide("webmail") && u.may_decide("cloud_storage") && !u.may_decide("x"));
        assert!(!Rights::default().is_approver());
    }
}
