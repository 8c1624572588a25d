//! Who is signed in, who may decide what, and the forms' CSRF tokens.
//!
//! Authentication is behind [`Authenticate`], with two implementations:
//! - `Negotiate` (Unix): SPNEGO in the desk itself — Kerberos through the system's GSS-API
//!   (MIT krb5, the `libgssapi` crate, which accepts the SPNEGO-wrapped tokens browsers send)
//!   with the service keytab in `KRB5_KTNAME`; no mutual authentication (Chromium does not ask
//!   for it), single-leg only (NTLM is refused);
//! - [`ProxyHeader`]: a reverse proxy in front of the desk authenticates (IIS Windows
//!   Authentication, Apache `mod_auth_gssapi`) and passes the principal in a header, with a
//!   secret shared with the desk so that nothing else can set it.
//!
//! Who may approve: principals listed in the configuration ([`Approvers`]) and/or the (nested)
//! members of AD groups ([`crate::directory`]). A password (LDAP bind) sign-in is the
//! fallback for browsers without Kerberos ([`crate::signin`], session cookies).

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{HeaderMap, HeaderName};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The header carrying the proxy's shared secret.
pub const PROXY_SECRET_HEADER: &str = "x-gatehouse-proxy-secret";

/// Finds the signed-in user of a request.
pub trait Authenticate: Send + Sync + std::fmt::Debug {
    /// The authenticated principal, or `None` when the request is not authenticated.
    fn user(&self, headers: &HeaderMap) -> Option<String>;

    /// The `WWW-Authenticate` challenge a 401 carries, if this method has one.
    fn challenge(&self) -> Option<&'static str> {
        None
    }
}

/// SPNEGO (HTTP Negotiate, RFC 4559) with the service keytab in `KRB5_KTNAME`.
#[cfg(unix)]
pub struct Negotiate {
    cred: libgssapi::credential::Cred,
}

#[cfg(unix)]
impl std::fmt::Debug for Negotiate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Negotiate")
    }
}

#[cfg(unix)]
impl Negotiate {
    /// The largest Negotiate token read (a Kerberos ticket with a large PAC is a few KiB).
    const MAX_TOKEN_BYTES: usize = 64 * 1024;

    /// Acceptor credentials for any service principal in the keytab (`KRB5_KTNAME`): the
    /// browser's ticket names the one it wants (`HTTP/<the desk's DNS name>`).
    ///
    /// # Errors
    /// GSS-API's message (no keytab, unreadable, no keys).
    pub fn new() -> Result<Self, String> {
        use libgssapi::credential::{Cred, CredUsage};
        let cred = Cred::acquire(None, None, CredUsage::Accept, None).map_err(|e| e.to_string())?;
        Ok(Self { cred })
    }
}

#[cfg(unix)]
impl Authenticate for Negotiate {
    fn user(&self, headers: &HeaderMap) -> Option<String> {
        use base64::engine::general_purpose::STANDARD;
        use libgssapi::context::{SecurityContext as _, ServerCtx};
        let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("negotiate") || token.len() > Self::MAX_TOKEN_BYTES {
            return None;
        }
        let token = STANDARD.decode(token.trim()).ok()?;
        let mut ctx = ServerCtx::new(Some(self.cred.clone()));
        match ctx.step(&token) {
            Ok(_) if ctx.is_complete() => {}
            Ok(_) => {
                tracing::warn!("a Negotiate exchange needs more legs (NTLM?); refused");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "a Negotiate token was not accepted");
                return None;
            }
        }
        let user = ctx.source_name().ok()?.to_string();
        let ok = !user.is_empty() && user.len() <= 256 && !user.chars().any(char::is_control);
        ok.then_some(user)
    }

    fn challenge(&self) -> Option<&'static str> {
        Some("Negotiate")
    }
}

/// Trusts the principal a reverse proxy authenticated, when the request carries the proxy's
/// secret.
pub struct ProxyHeader {
    user_header: HeaderName,
    secret: Vec<u8>,
}

impl std::fmt::Debug for ProxyHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHeader")
            .field("user_header", &self.user_header)
            .finish_non_exhaustive()
    }
}

impl ProxyHeader {
    /// `user_header` carries the principal; the secret must be at least 16 bytes.
    ///
    /// # Errors
    /// A message when the header name is invalid or the secret too short.
    pub fn new(user_header: &str, secret: &[u8]) -> Result<Self, String> {
        let user_header = HeaderName::try_from(user_header)
            .map_err(|_| format!("{user_header:?} is not an HTTP header name"))?;
        let secret = secret.trim_ascii().to_vec();
        if secret.len() < 16 {
            return Err("the proxy secret must be at least 16 characters".into());
        }
        Ok(Self { user_header, secret })
    }
}

impl Authenticate for ProxyHeader {
    fn user(&self, headers: &HeaderMap) -> Option<String> {
        let given = headers.get(PROXY_SECRET_HEADER)?.as_bytes();
        if !bool::from(given.ct_eq(&self.secret)) {
            return None;
        }
        let user = headers.get(&self.user_header)?.to_str().ok()?.trim();
        let ok = !user.is_empty() && user.len() <= 256 && !user.chars().any(char::is_control);
        ok.then(|| user.to_owned())
    }
}

/// Who may decide requests: principals for every category, and per category.
/// Principals compare case-insensitively (`bob@corp.example` is `BOB@CORP.EXAMPLE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approvers {
    all: BTreeSet<String>,
    by_category: BTreeMap<String, BTreeSet<String>>,
}

impl Approvers {
    /// From the configuration's `[approvers]`.
    pub fn new(all: &[String], by_category: &BTreeMap<String, Vec<String>>) -> Self {
        let set = |v: &[String]| v.iter().map(|p| p.trim().to_lowercase()).collect();
        Self {
            all: set(all),
            by_category: by_category.iter().map(|(c, v)| (c.clone(), set(v))).collect(),
        }
    }

    /// Whether `user` may decide any request at all.
    pub fn is_approver(&self, user: &str) -> bool {
        let user = user.to_lowercase();
        self.all.contains(&user) || self.by_category.values().any(|s| s.contains(&user))
    }

    /// Whether `user` may decide requests in `category`.
    pub fn may_decide(&self, user: &str, category: &str) -> bool {
        let user = user.to_lowercase();
        self.all.contains(&user)
            || self.by_category.get(category).is_some_and(|s| s.contains(&user))
    }

    /// The categories `user` decides by this list.
    pub fn rights(&self, user: &str) -> crate::directory::Rights {
        let user = user.to_lowercase();
        crate::directory::Rights {
            all: self.all.contains(&user),
            categories: self
                .by_category
                .iter()
                .filter(|(_, s)| s.contains(&user))
                .map(|(c, _)| c.clone())
                .collect(),
        }
    }

    /// Whether no approver is configured.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.by_category.values().all(BTreeSet::is_empty)
    }
}

/// CSRF tokens for the approvers' forms: an HMAC of the signed-in user under a key made at
/// start-up (so a restart invalidates open forms, which then ask to reload).
pub struct Csrf {
    key: [u8; 32],
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf")
    }
}

impl Csrf {
    /// A new random key.
    ///
    /// # Errors
    /// When the operating system has no randomness.
    pub fn new() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self { key })
    }

    /// The token for `user`'s forms.
    pub fn token(&self, user: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else { return String::new() };
        mac.update(b"gatehouse-approval csrf\0");
        mac.update(user.to_lowercase().as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is `user`'s.
    pub fn check(&self, user: &str, token: &str) -> bool {
        let expected = self.token(user);
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_header_needs_the_secret() {
        let auth = ProxyHeader::new("x-remote-user", b"0123456789abcdef\n").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-remote-user", "bob@CORP.EXAMPLE".parse().unwrap());
        assert_eq!(auth.user(&h), None);
        h.insert(PROXY_SECRET_HEADER, "0123456789abcdeX".parse().unwrap());
        assert_eq!(auth.user(&h), None);
        h.insert(PROXY_SECRET_HEADER, "0123456789abcdef".parse().unwrap());
        assert_eq!(auth.user(&h).as_deref(), Some("bob@CORP.EXAMPLE"));
        assert!(ProxyHeader::new("x-remote-user", b"short").is_err());
    }

    #[test]
    fn approvers_by_category() {
        let by = BTreeMap::from([("webmail".to_owned(), vec!["Carol@corp.example".to_owned()])]);
        let a = Approvers::new(&["bob@corp.example".to_owned()], &by);
        assert!(a.may_decide("BOB@CORP.EXAMPLE", "cloud_storage"));
        assert!(a.may_decide("carol@CORP.example", "webmail"));
        assert!(!a.may_decide("carol@corp.example", "cloud_storage"));
        assert!(!a.is_approver("mallory@corp.example"));
    }

    #[test]
    fn csrf_tokens_are_per_user() {
        let c = Csrf::new().unwrap();
        let t = c.token("bob@corp.example");
        assert!(c.check("BOB@corp.example", &t));
        assert!(!c.check("mallory@corp.example", &t));
        assert!(!c.check("bob@corp.example", ""));
        assert!(!Csrf::new().unwrap().check("bob@corp.example", &t));
    }
}
