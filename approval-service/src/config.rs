//! The service's TOML configuration: raw text → one validated [`Config`]. Every error names the
//! key and says what to write instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file `init` writes into the data directory.
pub const CONFIG_FILE: &str = "gatehouse-approval.toml";
/// The signing key file `init` writes into the data directory.
pub const KEY_FILE: &str = "signing-key.jwk";
/// The SQLite database file in the data directory.
pub const SQLITE_FILE: &str = "approvals.sqlite3";
/// The request body cap unless configured: the admin CLI's request-file cap.
pub const DEFAULT_MAX_BODY_BYTES: usize = gatehouse_admin::approve::MAX_REQUEST_BYTES;
/// Requests one requester may file per hour unless configured.
pub const DEFAULT_REQUESTS_PER_HOUR: u32 = 10;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration {path}: {source}; create it with `gatehouse-approval init --data-dir DIR --public-url URL`")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type (toml's message names the key).
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// toml's message, with the line and the key.
        message: String,
    },
    /// A key whose value cannot be used.
    #[error("{path}: `{key}` {problem}")]
    Value {
        /// The file.
        path: String,
        /// The key, dotted (`limits.max_body_bytes`).
        key: &'static str,
        /// What is wrong and the fix.
        problem: String,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    public_url: Option<String>,
    database: Option<String>,
    policy: Option<PathBuf>,
    #[serde(default)]
    signing: RawSigning,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    log: RawLog,
    auth: Option<RawAuth>,
    #[serde(default)]
    approvers: RawApprovers,
    directory: Option<RawDirectory>,
    mail: Option<RawMail>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    url: Option<String>,
    base_dn: Option<String>,
    realm: Option<String>,
    bind_dn: Option<String>,
    password_file: Option<PathBuf>,
    keytab: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    cache_seconds: Option<i64>,
    timeout_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    smtp: String,
    from: String,
    tls: Option<String>,
    ca_file: Option<PathBuf>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    #[serde(default)]
    approvers: Vec<String>,
    #[serde(default)]
    categories: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    mode: String,
    user_header: Option<String>,
    secret_file: Option<PathBuf>,
    keytab: Option<PathBuf>,
    #[serde(default)]
    require_requester: bool,
    #[serde(default)]
    password_sign_in: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovers {
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    categories: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    category_groups: std::collections::BTreeMap<String, Vec<String>>,
}

/// How approvers sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthConfig {
    /// A reverse proxy authenticates (Kerberos) and passes the principal in `user_header`,
    /// with the secret in `secret_file` (see [`crate::auth::ProxyHeader`]).
    Proxy {
        /// The header with the principal.
        user_header: String,
        /// The file with the shared secret.
        secret_file: PathBuf,
    },
    /// The desk does SPNEGO itself with the service keytab (see `crate::auth::Negotiate`).
    Negotiate {
        /// The keytab holding `HTTP/<the desk's DNS name>`.
        keytab: PathBuf,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    key: Option<PathBuf>,
    #[serde(default)]
    retired: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_body_bytes: Option<i64>,
    requests_per_hour: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
}

/// Where the service keeps its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded default: one file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (it may carry a password: never logged).
    Postgres(String),
}

impl Database {
    /// The sqlx connection URL.
    pub fn url(&self) -> String {
        match self {
            // `mode=rwc`: create the file on first use.
            Self::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }

    /// What to print or log: the file, or the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite {}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    let _ = u.set_password(None);
                    format!("PostgreSQL {u}")
                }
                Err(_) => "PostgreSQL (unparsable URL)".to_owned(),
            },
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (for a log collector).
    Json,
}

/// A validated configuration; paths are absolute or relative to the data directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder holding the key, the SQLite file and backups.
    pub data_dir: PathBuf,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The address desktops and approvers use (status URLs are built from it), without a
    /// trailing slash.
    pub public_url: String,
    /// The database.
    pub database: Database,
    /// The department's Gatehouse policy (the managed-storage JSON), if given.
    pub policy: Option<PathBuf>,
    /// The current signing key file.
    pub signing_key: PathBuf,
    /// Earlier signing key files, whose public keys stay published while their tokens run out.
    pub retired_keys: Vec<PathBuf>,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Requests one requester may file per hour.
    pub requests_per_hour: u32,
    /// Log format.
    pub log_format: LogFormat,
    /// How approvers sign in; `None`: the pages are off.
    pub auth: Option<AuthConfig>,
    /// Whether requests must be authenticated by the domain (`auth.require_requester`).
    pub require_requester: bool,
    /// Whether approvers may sign in with their domain password (`auth.password_sign_in`).
    pub password_sign_in: bool,
    /// Principals who decide every category.
    pub approvers_all: Vec<String>,
    /// Principals who decide one category.
    pub approvers_by_category: std::collections::BTreeMap<String, Vec<String>>,
    /// Approvers from AD groups (`[directory]` with `approvers.groups` /
    /// `approvers.category_groups`); `None`: only the listed principals.
    pub directory: Option<crate::directory::DirectoryConfig>,
    /// Mail; `None`: no mail is sent.
    pub mail: Option<crate::mail::MailConfig>,
}

impl Config {
    /// Reads and validates a configuration file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key and the fix.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, path)
    }

    /// Validates configuration text; `path` is for messages, and its folder is the default
    /// data directory.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key and the fix.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let raw: Raw = toml::from_str(text)
            .map_err(|e| ConfigError::Syntax { path: file.clone(), message: e.to_string() })?;
        let bad = |key: &'static str, problem: String| ConfigError::Value {
            path: file.clone(),
            key,
            problem,
        };
        let data_dir = match raw.data_dir {
            Some(d) if d.as_os_str().is_empty() => {
                return Err(bad("data_dir", "is empty: give the folder `init` created".into()))
            }
            Some(d) => d,
            None => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let data_dir = if data_dir.as_os_str().is_empty() { PathBuf::from(".") } else { data_dir };
        let in_data = |p: PathBuf| if p.is_absolute() { p } else { data_dir.join(p) };

        let listen = raw.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let listen: SocketAddr = listen.parse().map_err(|_| {
            bad(
                "listen",
                format!("{listen:?} is not an address and port: write e.g. \"0.0.0.0:8080\" or \"127.0.0.1:8080\""),
            )
        })?;

        let public_url = raw.public_url.ok_or_else(|| {
            bad("public_url", "is missing: write the address desktops use, e.g. public_url = \"https://desk.corp.example\"".into())
        })?;
        match url::Url::parse(&public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {}
            _ => {
                return Err(bad(
                    "public_url",
                    format!("{public_url:?} is not an http(s) URL without a query: write e.g. \"https://desk.corp.example\""),
                ))
            }
        }
        let public_url = public_url.trim_end_matches('/').to_owned();

        let database = match raw.database.as_deref() {
            None | Some("sqlite") => Database::Sqlite(data_dir.join(SQLITE_FILE)),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Database::Postgres(url.to_owned())
            }
            Some(url) if url.starts_with("sqlite:") => {
                return Err(bad(
                    "database",
                    "takes \"sqlite\" (the file approvals.sqlite3 in data_dir) or a postgres:// URL; to move the SQLite file, move data_dir".into(),
                ))
            }
            Some(_) => {
                return Err(bad(
                    "database",
                    "must be \"sqlite\" or a PostgreSQL URL: postgres://user@host/dbname".into(),
                ))
            }
        };

        let max_body_bytes = match raw.limits.max_body_bytes {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(n) if (1024..=1024 * 1024).contains(&n) => n as usize,
            Some(n) => {
                return Err(bad(
                    "limits.max_body_bytes",
                    format!(
                        "is {n}: give 1024 to 1048576 (the block page's requests are under 8 KiB)"
                    ),
                ))
            }
        };
        let requests_per_hour = match raw.limits.requests_per_hour {
            None => DEFAULT_REQUESTS_PER_HOUR,
            Some(n) if (1..=10_000).contains(&n) => n as u32,
            Some(n) => {
                return Err(bad(
                    "limits.requests_per_hour",
                    format!("is {n}: give 1 to 10000 requests per requester per hour"),
                ))
            }
        };
        let log_format = match raw.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad("log.format", format!("is {other:?}: write \"text\" or \"json\"")))
            }
        };
        let require_requester = raw.auth.as_ref().is_some_and(|a| a.require_requester);
        let password_sign_in = raw.auth.as_ref().is_some_and(|a| a.password_sign_in);
        let auth = match raw.auth {
            None => None,
            Some(RawAuth { mode, keytab, .. }) if mode == "negotiate" => {
                let keytab = keytab.ok_or_else(|| {
                    bad("auth.keytab", "is missing: give the service keytab with HTTP/<the desk's DNS name> (samba-tool domain exportkeytab or ktpass), owner-only".into())
                })?;
                Some(AuthConfig::Negotiate { keytab: in_data(keytab) })
            }
            Some(RawAuth { mode, user_header, secret_file, .. }) if mode == "proxy" => {
                let secret_file = secret_file.ok_or_else(|| {
                    bad("auth.secret_file", "is missing: give a file holding the secret the reverse proxy sends in X-Gatehouse-Proxy-Secret (at least 16 characters, owner-only)".into())
                })?;
                Some(AuthConfig::Proxy {
                    user_header: user_header.unwrap_or_else(|| "X-Remote-User".into()),
                    secret_file: in_data(secret_file),
                })
            }
            Some(RawAuth { mode, .. }) => {
                return Err(bad(
                    "auth.mode",
                    format!("is {mode:?}: write \"negotiate\" (the desk does Kerberos with a keytab) or \"proxy\" (a reverse proxy signs approvers in); a password (LDAP bind) fallback is `password_sign_in = true` beside either"),
                ))
            }
        };
        let has_groups = !raw.approvers.groups.is_empty()
            || raw.approvers.category_groups.values().any(|g| !g.is_empty());
        if auth.is_some()
            && raw.approvers.all.is_empty()
            && raw.approvers.categories.values().all(Vec::is_empty)
            && !has_groups
        {
            return Err(bad(
                "approvers",
                "names nobody: under [approvers] give all = [\"bob@CORP.EXAMPLE\"] and/or per category, e.g. [approvers.categories] webmail = [\"carol@CORP.EXAMPLE\"], or AD groups with groups = [\"CN=Gatehouse Approvers,OU=Groups,DC=corp,DC=example\"] and [directory]".into(),
            ));
        }
        for group in
            raw.approvers.groups.iter().chain(raw.approvers.category_groups.values().flatten())
        {
            if !looks_like_dn(group) {
                let key = if raw.approvers.groups.contains(group) {
                    "approvers.groups"
                } else {
                    "approvers.category_groups"
                };
                return Err(bad(
                    key,
                    format!("has {group:?}, which is not a group's distinguished name: write e.g. \"CN=Gatehouse Approvers,OU=Groups,DC=corp,DC=example\""),
                ));
            }
        }
        if password_sign_in {
            if raw.directory.is_none() {
                return Err(bad(
                    "auth.password_sign_in",
                    "needs [directory]: the password is checked by binding to it as the user; add [directory] (docs/admin-guide.md, \"Approvers from AD groups\") or set password_sign_in = false".into(),
                ));
            }
            let loopback = url::Url::parse(&public_url)
                .ok()
                .is_some_and(|u| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")));
            if !public_url.starts_with("https://") && !loopback {
                return Err(bad(
                    "auth.password_sign_in",
                    format!("needs an https public_url (passwords cross the network), not {public_url:?}: put the desk behind the TLS proxy and write public_url = \"https://…\", or set password_sign_in = false"),
                ));
            }
        }
        let directory = match (raw.directory, has_groups) {
            (None, false) => None,
            (None, true) => {
                return Err(bad(
                    "directory",
                    "is missing, but [approvers] names AD groups: add [directory] with url, base_dn, realm and keytab (or bind_dn and password_file) (docs/admin-guide.md, \"Approvers from AD groups\")".into(),
                ))
            }
            (Some(d), _) => Some(directory(d, &raw.approvers, &in_data, &bad)?),
        };
        let mail = match raw.mail {
            None => None,
            Some(m) => {
                let (host, port) = m
                    .smtp
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
                    .filter(|(h, _)| !h.is_empty())
                    .ok_or_else(|| {
                        bad(
                            "mail.smtp",
                            format!(
                                "{:?} is not host:port: write e.g. \"smtp.corp.example:25\"",
                                m.smtp
                            ),
                        )
                    })?;
                let tls = match m.tls.as_deref() {
                    None => crate::mail::MailTls::default(),
                    Some(t) => crate::mail::MailTls::parse(t).ok_or_else(|| {
                        bad(
                            "mail.tls",
                            format!("{t:?} is not \"starttls\", \"tls\" or \"none\": write \"starttls\" for a relay on port 25 or 587, \"tls\" for port 465, \"none\" only for a relay on this machine"),
                        )
                    })?,
                };
                let clear = tls == crate::mail::MailTls::None;
                if clear && m.ca_file.is_some() {
                    return Err(bad(
                        "mail.ca_file",
                        "is set but mail.tls = \"none\": set tls = \"starttls\" (or \"tls\") or remove ca_file".into(),
                    ));
                }
                let auth = match (m.username, m.password_file) {
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(bad(
                            "mail.password_file",
                            "is missing, but mail.username is set: give an owner-only file holding the SMTP account's password".into(),
                        ))
                    }
                    (None, Some(_)) => {
                        return Err(bad(
                            "mail.username",
                            "is missing, but mail.password_file is set: give the SMTP account's user name".into(),
                        ))
                    }
                    (Some(u), Some(_)) if u.trim().is_empty() => {
                        return Err(bad("mail.username", "is empty: give the SMTP account's user name".into()))
                    }
                    (Some(u), Some(p)) => Some((u, in_data(p))),
                };
                if clear && auth.is_some() && !is_loopback(&host) {
                    return Err(bad(
                        "mail.username",
                        format!("would send the SMTP password in clear text to {host} (mail.tls = \"none\"): set tls = \"starttls\" (or \"tls\"); clear text is for a relay on this machine only"),
                    ));
                }
                Some(crate::mail::MailConfig {
                    host,
                    port,
                    from: m.from,
                    approvers: m.approvers,
                    by_category: m.categories,
                    tls,
                    ca_file: m.ca_file.map(&in_data),
                    auth,
                })
            }
        };
        let signing_key = in_data(raw.signing.key.unwrap_or_else(|| PathBuf::from(KEY_FILE)));
        let retired_keys = raw.signing.retired.into_iter().map(&in_data).collect();
        Ok(Self {
            policy: raw.policy.map(&in_data),
            data_dir,
            listen,
            public_url,
            database,
            signing_key,
            retired_keys,
            max_body_bytes,
            requests_per_hour,
            log_format,
            auth,
            require_requester,
            password_sign_in,
            approvers_all: raw.approvers.all,
            approvers_by_category: raw.approvers.categories,
            directory,
            mail,
        })
    }
}

/// Whether `s` has the shape of a distinguished name (`CN=…,DC=…`): attribute=value pairs.
/// Whether the relay is this machine (where clear-text SMTP crosses no network).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn looks_like_dn(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.len() <= 1024
        && !s.chars().any(char::is_control)
        && s.split(',').next().is_some_and(|rdn| {
            rdn.split_once('=').is_some_and(|(k, v)| {
                !k.trim().is_empty()
                    && k.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !v.trim().is_empty()
            })
        })
}

/// `[directory]`, validated.
fn directory(
    d: RawDirectory,
    approvers: &RawApprovers,
    in_data: &dyn Fn(PathBuf) -> PathBuf,
    bad: &dyn Fn(&'static str, String) -> ConfigError,
) -> Result<crate::directory::DirectoryConfig, ConfigError> {
    let url = d.url.ok_or_else(|| {
        bad(
            "directory.url",
            "is missing: write e.g. \"ldaps://dc1.corp.example\" (or ldap://… for StartTLS)".into(),
        )
    })?;
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "ldaps" | "ldap")
            && u.host_str().is_some_and(|h| !h.is_empty())
            && matches!(u.path(), "" | "/")
            && u.query().is_none()
            && u.username().is_empty() => {}
        _ => {
            return Err(bad(
                "directory.url",
                format!("{url:?} is not ldaps://host[:port] or ldap://host[:port] (StartTLS; plain-text LDAP is never used): write e.g. \"ldaps://dc1.corp.example\""),
            ))
        }
    }
    let base_dn = d.base_dn.ok_or_else(|| {
        bad(
            "directory.base_dn",
            "is missing: write the domain's naming context, e.g. \"DC=corp,DC=example\"".into(),
        )
    })?;
    if !looks_like_dn(&base_dn) {
        return Err(bad(
            "directory.base_dn",
            format!("{base_dn:?} is not a distinguished name: write e.g. \"DC=corp,DC=example\""),
        ));
    }
    let realm = d.realm.ok_or_else(|| {
        bad("directory.realm", "is missing: write the Kerberos realm whose users the directory holds, e.g. \"CORP.EXAMPLE\" (principals of other realms are never approvers)".into())
    })?;
    if realm.is_empty() || realm.contains(['@', '/', ' ']) || realm.chars().any(char::is_control) {
        return Err(bad(
            "directory.realm",
            format!("{realm:?} is not a realm: write e.g. \"CORP.EXAMPLE\""),
        ));
    }
    let bind = match (d.keytab, d.bind_dn, d.password_file) {
        (Some(keytab), None, None) => crate::directory::Bind::Gssapi { keytab: in_data(keytab) },
        (Some(_), _, _) => {
            return Err(bad(
                "directory.keytab",
                "and bind_dn/password_file both given: the desk binds with Kerberos (keytab) or with a password (bind_dn and password_file), not both; remove one".into(),
            ))
        }
        (None, None, None) => {
            return Err(bad(
                "directory.keytab",
                "is missing, and so are bind_dn and password_file: give the desk's service account as keytab = \"desksvc.keytab\" (Kerberos, preferred) or as bind_dn and password_file".into(),
            ))
        }
        (None, bind_dn, password_file) => {
            let dn = bind_dn.ok_or_else(|| {
                bad("directory.bind_dn", "is missing: write the desk's service account, e.g. \"CN=desksvc,CN=Users,DC=corp,DC=example\" or \"desksvc@corp.example\"".into())
            })?;
            if dn.trim().is_empty() {
                return Err(bad(
                    "directory.bind_dn",
                    "is empty: write the desk's service account, e.g. \"desksvc@corp.example\"".into(),
                ));
            }
            let password_file = password_file.ok_or_else(|| {
                bad(
                    "directory.password_file",
                    "is missing: give an owner-only file holding the service account's password".into(),
                )
            })?;
            crate::directory::Bind::Simple { dn, password_file: in_data(password_file) }
        }
    };
    let seconds = |key: &'static str, v: Option<i64>, default: i64, max: i64| match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(bad(key, format!("is {n}: give 1 to {max} seconds"))),
    };
    let cache = seconds("directory.cache_seconds", d.cache_seconds, 60, 3600)?;
    let timeout = seconds("directory.timeout_seconds", d.timeout_seconds, 5, 60)?;
    Ok(crate::directory::DirectoryConfig {
        url,
        base_dn,
        realm,
        bind,
        ca_file: d.ca_file.map(in_data),
        cache: std::time::Duration::from_secs(cache.unsigned_abs()),
        timeout: std::time::Duration::from_secs(timeout.unsigned_abs()),
        groups_all: approvers.groups.clone(),
        groups_by_category: approvers.category_groups.clone(),
    })
}

/// The configuration `init` writes, commented.
pub fn template(
    data_dir: &Path,
    public_url: &str,
    database: Option<&str>,
    policy: Option<&Path>,
) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let policy = match policy {
        Some(p) => format!("policy = {}\n", quote(&p.display().to_string())),
        None => "# policy = \"/etc/gatehouse/policy.json\"\n".to_owned(),
    };
    format!(
        r#"# Gatehouse approval desk (docs/admin-guide.md, "The approval desk").

# The folder holding the signing key, the SQLite database and backups.
data_dir = {data_dir}
# The address to listen on; put a TLS reverse proxy (IIS, nginx) in front of it.
listen = "127.0.0.1:8080"
# The address desktops and approvers use; status URLs are built from it.
public_url = {public_url}
# "sqlite" (the file approvals.sqlite3 in data_dir) or a PostgreSQL URL.
database = {database}
# The department's Gatehouse policy (the managed-storage JSON the browsers get): its services,
# categories and requests.maxDays decide what may be requested. Without it, the built-in
# catalogue and the default six-month cap apply.
{policy}
[signing]
# The Ed25519 private JWK tokens are signed with (owner-only; never logged).
key = "{KEY_FILE}"
# Earlier keys, still published by `keys` while tokens they signed run out.
retired = []

[limits]
max_body_bytes = {DEFAULT_MAX_BODY_BYTES}
requests_per_hour = {DEFAULT_REQUESTS_PER_HOUR}

[log]
format = "text"

# How approvers sign in to the pages under /desk (and requesters are authenticated). Without
# [auth] the pages are off.
# "negotiate": the desk does Kerberos (SPNEGO) itself with the keytab of HTTP/<its DNS name>:
# [auth]
# mode = "negotiate"
# keytab = "/etc/gatehouse/desk.keytab"
# require_requester = false   # true: refuse requests the domain did not authenticate
# password_sign_in = false    # true: /desk/sign-in also takes the domain password (LDAP bind;
#                             # needs [directory] and an https public_url)
# "proxy": the reverse proxy in front of the desk authenticates them and passes the principal in
# user_header, together with the secret from secret_file in X-Gatehouse-Proxy-Secret:
# [auth]
# mode = "proxy"
# user_header = "X-Remote-User"
# secret_file = "proxy-secret"

# Who may decide: principals for every category, and per category.
# [approvers]
# all = ["bob@CORP.EXAMPLE"]
# [approvers.categories]
# webmail = ["carol@CORP.EXAMPLE"]

# Or (and) AD groups: their members, through nested groups too, decide every category or one.
# [approvers]
# groups = ["CN=Gatehouse Approvers,OU=Groups,DC=corp,DC=example"]
# [approvers.category_groups]
# webmail = ["CN=Webmail Approvers,OU=Groups,DC=corp,DC=example"]
# The directory the groups are read from: LDAP over TLS only (ldaps://, or ldap:// with
# StartTLS), bound as a service account. An unreachable directory makes nobody an approver
# through a group.
# [directory]
# url = "ldaps://dc1.corp.example"
# base_dn = "DC=corp,DC=example"
# realm = "CORP.EXAMPLE"
# keytab = "desksvc.keytab"               # owner-only: Kerberos (preferred; sealed on ldap://)
# or a password, over TLS only:
# bind_dn = "desksvc@corp.example"
# password_file = "directory-password"   # owner-only
# ca_file = "/etc/gatehouse/corp-ca.pem"  # without it, the system's CA store
# cache_seconds = 60

# Mail through the intranet relay: new requests to the approvers, decisions to the requester (at
# their principal, when it is a mail address). Without [mail] no mail is sent.
# [mail]
# smtp = "smtp.corp.example:587"
# tls = "starttls"                        # the default; "tls" for port 465; "none" for localhost only
# ca_file = "/etc/gatehouse/corp-ca.pem"  # without it, the system's CA store
# username = "gatehouse-desk"             # SMTP AUTH, with:
# password_file = "smtp-password"         # owner-only
# from = "Gatehouse desk <gatehouse-desk@corp.example>"
# approvers = ["gatehouse-approvers@corp.example"]
# [mail.categories]
# webmail = ["webmail-approvers@corp.example"]
"#,
        data_dir = quote(&data_dir.display().to_string()),
        public_url = quote(public_url),
        database = quote(database.unwrap_or("sqlite")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/srv/desk/gatehouse-approval.toml"))
    }

    #[test]
    fn the_template_parses_back() {
        let text = template(Path::new("/srv/desk"), "https://desk.corp.example/", None, None);
        let c = parse(&text).unwrap();
        assert_eq!(c.public_url, "https://desk.corp.example");
        assert_eq!(c.database, Database::Sqlite(PathBuf::from("/srv/desk/approvals.sqlite3")));
        assert_eq!(c.signing_key, PathBuf::from("/srv/desk/signing-key.jwk"));
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    }

    const DIRECTORY: [(&str, &str); 5] = [
        ("url", "\"ldaps://dc1.corp.example\""),
        ("base_dn", "\"DC=corp,DC=example\""),
        ("realm", "\"CORP.EXAMPLE\""),
        ("bind_dn", "\"desksvc@corp.example\""),
        ("password_file", "\"directory-password\""),
    ];

    /// A configuration with groups and a [directory] whose `line` replaces its key's.
    fn dir(line: &str) -> String {
        let key = line.split('=').next().unwrap_or_default().trim();
        let mut text = "public_url = \"https://d\"\n[approvers]\ngroups = [\"CN=G,DC=corp,DC=example\"]\n[directory]\n".to_owned();
        for (k, v) in DIRECTORY {
            if k != key {
                text.push_str(&format!("{k} = {v}\n"));
            }
        }
        if line.contains('=') {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// The same without `key`.
    fn dir_without(key: &str) -> String {
        dir(key)
    }

    #[test]
    fn a_directory_configuration_parses() {
        let c = parse(&dir("ca_file = \"ca.pem\"")).unwrap();
        let d = c.directory.unwrap();
        assert_eq!(d.url, "ldaps://dc1.corp.example");
        assert_eq!(d.realm, "CORP.EXAMPLE");
        assert_eq!(
            d.bind,
            crate::directory::Bind::Simple {
                dn: "desksvc@corp.example".into(),
                password_file: PathBuf::from("/srv/desk/directory-password")
            }
        );
        let k = dir("keytab = \"desksvc.keytab\"")
            .replace("bind_dn = \"desksvc@corp.example\"\n", "")
            .replace("password_file = \"directory-password\"\n", "");
        assert_eq!(
            parse(&k).unwrap().directory.unwrap().bind,
            crate::directory::Bind::Gssapi { keytab: PathBuf::from("/srv/desk/desksvc.keytab") }
        );
        assert_eq!(d.ca_file, Some(PathBuf::from("/srv/desk/ca.pem")));
        assert_eq!(d.cache, std::time::Duration::from_secs(60));
        assert_eq!(d.groups_all, ["CN=G,DC=corp,DC=example"]);
        // Groups alone are enough approvers for [auth].
        let with_auth = dir("") + "[auth]\nmode = \"proxy\"\nsecret_file = \"s\"\n";
        assert!(parse(&with_auth).is_ok());
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let cases = [
            ("public_url = \"https://d\"\nlisten = \"nowhere\"", "`listen`", "0.0.0.0:8080"),
            ("listen = \"127.0.0.1:1\"", "`public_url` is missing", "public_url = "),
            ("public_url = \"ftp://d\"", "`public_url`", "https://desk.corp.example"),
            ("public_url = \"https://d\"\ndatabase = \"mysql://x\"", "`database`", "postgres://"),
            (
                "public_url = \"https://d\"\n[limits]\nmax_body_bytes = 5",
                "`limits.max_body_bytes`",
                "1024 to",
            ),
            (
                "public_url = \"https://d\"\n[limits]\nrequests_per_hour = 0",
                "`limits.requests_per_hour`",
                "1 to 10000",
            ),
            ("public_url = \"https://d\"\n[log]\nformat = \"xml\"", "`log.format`", "\"json\""),
            (
                "public_url = \"https://d\"\n[approvers]\ngroups = [\"CN=A,DC=corp\"]",
                "`directory` is missing",
                "[directory]",
            ),
            (
                "public_url = \"https://d\"\n[approvers]\ngroups = [\"Gatehouse Approvers\"]",
                "`approvers.groups`",
                "CN=Gatehouse Approvers,",
            ),
            (
                "public_url = \"https://d\"\n[approvers.category_groups]\nwebmail = [\"\"]",
                "`approvers.category_groups`",
                "CN=Gatehouse Approvers,",
            ),
            (&dir("url = \"http://dc1\""), "`directory.url`", "ldaps://dc1.corp.example"),
            (&dir("url = \"ldap://u:p@dc1\""), "`directory.url`", "StartTLS"),
            (&dir_without("base_dn"), "`directory.base_dn` is missing", "DC=corp,DC=example"),
            (&dir("base_dn = \"corp.example\""), "`directory.base_dn`", "DC=corp,DC=example"),
            (&dir_without("realm"), "`directory.realm` is missing", "CORP.EXAMPLE"),
            (&dir("realm = \"a@b\""), "`directory.realm`", "CORP.EXAMPLE"),
            (&dir_without("bind_dn"), "`directory.bind_dn` is missing", "desksvc"),
            (&dir_without("password_file"), "`directory.password_file` is missing", "owner-only"),
            (&dir("keytab = \"k\""), "`directory.keytab` and bind_dn/password_file", "remove one"),
            (
                &dir("").replace("bind_dn = \"desksvc@corp.example\"\n", "").replace("password_file = \"directory-password\"\n", ""),
                "`directory.keytab` is missing",
                "keytab = \"desksvc.keytab\"",
            ),
            (&dir("cache_seconds = 0"), "`directory.cache_seconds`", "1 to 3600"),
            (&dir("timeout_seconds = 600"), "`directory.timeout_seconds`", "1 to 60"),
            (
                "public_url = \"https://d\"\n[auth]\nmode = \"proxy\"\nsecret_file = \"s\"\npassword_sign_in = true\n[approvers]\nall = [\"b@R\"]",
                "`auth.password_sign_in` needs [directory]",
                "password_sign_in = false",
            ),
            (
                &dir("").replace("https://d", "http://desk.corp.example").replace("[directory]", "[auth]\nmode = \"proxy\"\nsecret_file = \"s\"\npassword_sign_in = true\n[directory]"),
                "`auth.password_sign_in` needs an https public_url",
                "public_url = \"https://…\"",
            ),
            (
                "public_url = \"https://d\"\nlisten_on = \"x\"",
                "unknown field `listen_on`",
                "expected one of",
            ),
        ];
        for (text, key, fix) in &cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(fix), "{text:?} → {e}");
        }
    }

    /// A configuration with a [mail] section plus `lines`.
    fn mail(lines: &str) -> String {
        format!("public_url = \"https://d\"\n[mail]\nsmtp = \"smtp.corp.example:587\"\nfrom = \"d@corp.example\"\n{lines}\n")
    }

    #[test]
    fn mail_is_starttls_unless_told_otherwise() {
        let m = parse(&mail("")).unwrap().mail.unwrap();
        assert_eq!((m.tls, m.ca_file, m.auth), (crate::mail::MailTls::StartTls, None, None));
        let m = parse(&mail(
            "tls = \"tls\"\nca_file = \"corp-ca.pem\"\nusername = \"desk\"\npassword_file = \"smtp-password\"",
        ))
        .unwrap()
        .mail
        .unwrap();
        assert_eq!(m.tls, crate::mail::MailTls::Tls);
        assert_eq!(m.ca_file, Some(PathBuf::from("/srv/desk/corp-ca.pem")));
        assert_eq!(m.auth, Some(("desk".into(), PathBuf::from("/srv/desk/smtp-password"))));
        // Clear text with credentials is for a relay on this machine only.
        let local = mail("tls = \"none\"\nusername = \"desk\"\npassword_file = \"p\"")
            .replace("smtp.corp.example:587", "127.0.0.1:25");
        assert_eq!(parse(&local).unwrap().mail.unwrap().tls, crate::mail::MailTls::None);
        assert!(is_loopback("localhost") && is_loopback("[::1]") && !is_loopback("smtp.corp"));
    }

    #[test]
    fn mail_errors_name_the_key_and_the_fix() {
        let cases = [
            (mail("tls = \"ssl\""), "`mail.tls`", "\"starttls\""),
            (mail("tls = \"none\"\nca_file = \"ca.pem\""), "`mail.ca_file`", "remove ca_file"),
            (mail("username = \"desk\""), "`mail.password_file` is missing", "owner-only"),
            (mail("password_file = \"p\""), "`mail.username` is missing", "user name"),
            (
                mail("username = \" \"\npassword_file = \"p\""),
                "`mail.username` is empty",
                "user name",
            ),
            (
                mail("tls = \"none\"\nusername = \"desk\"\npassword_file = \"p\""),
                "`mail.username`",
                "tls = \"starttls\"",
            ),
            (mail("ca = \"x\""), "unknown field `ca`", "ca_file"),
        ];
        for (text, key, fix) in &cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(fix), "{text:?} → {e}");
        }
    }

    #[test]
    fn postgres_passwords_are_not_described() {
        let c = parse("public_url = \"https://d\"\ndatabase = \"postgres://desk:s3cret@db/desk\"")
            .unwrap();
        assert!(!c.database.describe().contains("s3cret"), "{}", c.database.describe());
    }
}
