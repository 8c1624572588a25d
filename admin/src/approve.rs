//! Issuing approvals: approver keys as JWKs, the block page's request file, checked claims, EdDSA signing, inspection and revocation lists.
//!
//! Verification is not here: [`gatehouse_core::Policy::verify_approval`] is the one verifier, used by the
//! extension and by [`inspect`] alike, and the tests check every token issued here against it.
//!
//! Token format (JWS compact, RFC 7515 / RFC 8037): header `{"alg":"EdDSA","typ":"JWT","kid"}`;
//! claims `iss` (= `kid`), `sub` (user principal), `jti`, `iat`, `nbf`, `exp` (seconds),
//! optional `machine`, `services` and/or `categories`, `purpose`, optional `req` (request id)
//! and `approver` (name). `admin/APPROVALS.md` is the issuer's guide.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use gatehouse_core::{
    Approval, Identity, Policy, Request, ResourceType, RevocationClaims, TokenClaims,
    TokenRejection, BUILTIN_CATEGORIES, MAX_TOKEN_BYTES, REVOCATION_LIST_TYPE,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use gatehouse_host::rfc3339_from_millis;

/// The longest approval issued unless told otherwise: six months, the policy's default cap.
pub const DEFAULT_MAX_DAYS: u32 = 183;
/// Request files larger than this are not the block page's.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The longest purpose (the block page caps justifications at 2,000 characters too).
pub const MAX_PURPOSE_CHARS: usize = 2000;
const MAX_KID_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 256;
const DAY_S: i64 = 86_400;

/// Why an approval cannot be issued, inspected or revoked. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApproveError {
    /// A key id that would not survive policy files, headers and file names.
    #[error("key id {0:?} must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadKid(String),
    /// The operating system's random source failed.
    #[error("the system random source failed: {0}")]
    Random(String),
    /// The key file is not an Ed25519 private JWK.
    #[error("not an approver private key (the JWK `gatehouse keygen` writes, with \"kty\":\"OKP\", \"crv\":\"Ed25519\", \"kid\", \"x\" and \"d\"): {0}")]
    BadKeyFile(String),
    /// A request file that is not the block page's record.
    #[error("not a Gatehouse request file (the JSON the block page saves): {0}")]
    BadRequest(String),
    /// No user to issue to.
    #[error("no user: give --user PRINCIPAL (the UPN or DOMAIN\\user the user's machine reports)")]
    NoSubject,
    /// The request file leaves out the service or the machine, which would widen the approval
    /// to a whole category or to every machine; only the approver may decide that, by flag.
    #[error("the request {}; a request file is the user's own work, so a missing field is not read as 'everything'", .0.join("; it "))]
    RequestTooWide(Vec<String>),
    /// `--whole-category` on a request that names no category.
    #[error("the request names no category to approve as a whole: give --category ID")]
    NoCategoryToWiden,
    /// A malformed text field.
    #[error("{field} {value:?} {problem}")]
    BadField {
        /// Which flag or field.
        field: &'static str,
        /// Its value.
        value: String,
        /// What is wrong, and the fix.
        problem: &'static str,
    },
    /// Neither a service nor a category.
    #[error("nothing to approve: give --service ID or --category ID")]
    NothingApproved,
    /// A service id that neither the catalogue nor the policy knows.
    #[error("unknown service {id:?}{suggestion}: use an id from the catalogue (`gatehouse classify URL` shows a URL's service){policy_hint}, or pass --allow-unknown")]
    UnknownService {
        /// The id.
        id: String,
        /// `; did you mean "gmail"?`, when one is close.
        suggestion: String,
        /// A reminder to pass `--policy` when no policy was given.
        policy_hint: &'static str,
    },
    /// A category id that neither the built-ins nor the policy knows.
    #[error("unknown category {id:?}: use one of {known}{policy_hint}, or pass --allow-unknown")]
    UnknownCategory {
        /// The id.
        id: String,
        /// The known ids.
        known: String,
        /// A reminder to pass `--policy` when no policy was given.
        policy_hint: &'static str,
    },
    /// No purpose.
    #[error("no purpose: give --purpose TEXT (the business reason; it is shown to the user and in the audit trail)")]
    NoPurpose,
    /// The purpose is too long.
    #[error("purpose is {0} characters; give a --purpose of at most {MAX_PURPOSE_CHARS}")]
    PurposeTooLong(usize),
    /// No duration.
    #[error("no duration: give --days N or --until DATE")]
    NoDuration,
    /// `--days 0`.
    #[error("an approval lasts at least 1 day: give --days 1 or more")]
    ZeroDays,
    /// Longer than allowed.
    #[error("{days} days is longer than the {max}-day maximum: approve at most {max} days with --days, or raise --max-days (up to the policy's approvals.maxDays)")]
    TooLong {
        /// The length asked for.
        days: i64,
        /// The cap.
        max: u32,
    },
    /// `--max-days` above what the policy accepts.
    #[error("--max-days {asked} exceeds the policy's approvals.maxDays {policy}; browsers would reject such a token as too_long")]
    MaxAbovePolicy {
        /// The flag.
        asked: u32,
        /// The policy's cap.
        policy: u32,
    },
    /// An end time that has passed.
    #[error("--until {0} is not in the future: give a later date")]
    EndInPast(String),
    /// A time that does not parse.
    #[error("cannot read the time {0:?}: give a date (2025-06-30) or an RFC 3339 time (2025-06-30T18:00:00+08:00)")]
    BadTime(String),
    /// The signed token is over the verifier's size limit.
    #[error("the signed token is {0} bytes, over the {MAX_TOKEN_BYTES}-byte limit: give a shorter --purpose or fewer services")]
    TokenTooLarge(usize),
    /// A URL that does not parse.
    #[error("--url {url:?} is not a URL: {problem}")]
    BadUrl {
        /// The text.
        url: String,
        /// Why.
        problem: String,
    },
    /// A policy whose revocation list is not a list of strings.
    #[error("the policy's approvals.revoked {0}; fix the policy first (`gatehouse check-policy`)")]
    BadRevokedList(&'static str),
    /// Refusing to overwrite.
    #[error("{0} already exists; refusing to overwrite it: choose another file name or remove it")]
    Exists(String),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

/// An approver's signing key with its key id.
pub struct ApproverKey {
    kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for ApproverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApproverKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl ApproverKey {
    /// A new key from the operating system's random source.
    ///
    /// # Errors
    /// [`ApproveError::BadKid`], or [`ApproveError::Random`] if the OS has no randomness.
    pub fn generate(kid: &str) -> Result<Self, ApproveError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| ApproveError::Random(e.to_string()))?;
        let key = Self::from_seed(kid, &seed);
        seed.fill(0);
        key
    }

    /// A key from its 32-byte seed (RFC 8032's private key; the JWK's `d`).
    ///
    /// # Errors
    /// [`ApproveError::BadKid`].
    pub fn from_seed(kid: &str, seed: &[u8; 32]) -> Result<Self, ApproveError> {
        check_kid(kid)?;
        Ok(Self { kid: kid.to_owned(), key: SigningKey::from_bytes(seed) })
    }

    /// Reads the private JWK `gatehouse keygen` writes (any RFC 8037 Ed25519 private JWK with a `kid`).
    ///
    /// # Errors
    /// [`ApproveError::BadKeyFile`] saying what is missing or wrong.
    pub fn from_jwk(text: &str) -> Result<Self, ApproveError> {
        let bad = |m: &str| ApproveError::BadKeyFile(m.to_owned());
        let jwk: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| bad(&e.to_string()))?;
        let field = |k: &str| jwk.get(k).and_then(Value::as_str);
        if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
            return Err(bad("\"kty\" must be \"OKP\" and \"crv\" \"Ed25519\""));
        }
        let Some(d) = field("d") else {
            return Err(bad(
                "it has no \"d\": this is a public key; give the private key file keygen wrote",
            ));
        };
        let kid = field("kid").ok_or_else(|| bad("missing \"kid\""))?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(d)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("\"d\" is not 32 bytes of base64url"))?;
        let key = Self::from_seed(kid, &seed).map_err(|e| bad(&e.to_string()))?;
        if let Some(x) = field("x") {
            if x != key.public_x() {
                return Err(bad("\"x\" does not match \"d\": the file is damaged"));
            }
        }
        Ok(key)
    }

    /// The key id (`kid` in the header, `iss` in the claims).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn public_x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }

    /// The public JWK to put in the policy's `approvals.keys`.
    pub fn public_jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "x": self.public_x()})
    }

    /// The private JWK (the public one plus `d`), as the key file holds it.
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        jwk["d"] = Value::String(URL_SAFE_NO_PAD.encode(self.key.to_bytes()));
        jwk
    }

    /// Signs `claims` as a JWS compact token. `claims.iss` is set to this key's id.
    ///
    /// # Errors
    /// [`ApproveError::TokenTooLarge`] when the result would be over the verifier's limit.
    pub fn sign(&self, claims: &TokenClaims) -> Result<String, ApproveError> {
        let claims = TokenClaims { iss: Some(self.kid.clone()), ..claims.clone() };
        let token = self.sign_jws("JWT", &claims);
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ApproveError::TokenTooLarge(token.len()));
        }
        Ok(token)
    }

    /// Signs a revocation list (`revoked` approval ids, issued at `iat_s`) in the format
    /// [`gatehouse_core::Engine::apply_revocation_list`] verifies.
    pub fn sign_revocations(&self, revoked: Vec<String>, iat_s: i64) -> String {
        let claims = RevocationClaims { iss: self.kid.clone(), iat: iat_s, revoked };
        self.sign_jws(REVOCATION_LIST_TYPE, &claims)
    }

    fn sign_jws(&self, typ: &str, claims: &impl Serialize) -> String {
        let header = json!({"alg": "EdDSA", "typ": typ, "kid": self.kid});
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        // Serializing a struct of strings and integers cannot fail; fall back to an empty
        // payload (rejected by every verifier) rather than panic.
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signature = self.key.sign(format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// Checks a key id: 1–64 characters of `A-Z a-z 0-9 . _ -`.
///
/// # Errors
/// [`ApproveError::BadKid`].
pub fn check_kid(kid: &str) -> Result<(), ApproveError> {
    let ok = !kid.is_empty()
        && kid.chars().count() <= MAX_KID_CHARS
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApproveError::BadKid(kid.to_owned()))
    }
}

/// The policy fragment that trusts `public_jwk`, as `keygen` prints it.
pub fn policy_fragment(public_jwk: &Value) -> Value {
    json!({"approvals": {"keys": [public_jwk], "revoked": [], "maxDays": DEFAULT_MAX_DAYS}})
}

/// A new `jti`: 128 random bits, base64url (22 characters).
///
/// # Errors
/// [`ApproveError::Random`].
pub fn new_jti() -> Result<String, ApproveError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApproveError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The approval request the block page produces (downloaded as a file, posted, or mailed).
/// Unknown fields are ignored, so the page may add some.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// The request id (a UUID); becomes the token's `req`.
    pub request_id: String,
    /// The OS account name.
    #[serde(default)]
    pub user: Option<String>,
    /// The directory principal the host reported; becomes the token's `sub`.
    #[serde(default)]
    pub principal: Option<String>,
    /// The machine the request came from; the token is bound to it.
    #[serde(default)]
    pub machine: Option<String>,
    /// The service id asked for.
    #[serde(default)]
    pub service: Option<String>,
    /// Its category.
    #[serde(default)]
    pub category: Option<String>,
    /// The blocked page's origin.
    #[serde(default)]
    pub origin: Option<String>,
    /// The business justification; becomes the token's `purpose`.
    #[serde(default)]
    pub justification: Option<String>,
    /// Days asked for.
    #[serde(default)]
    pub days: Option<u32>,
    /// When the request was made (ms since the epoch).
    #[serde(default)]
    pub created_ms: Option<i64>,
}

impl RequestRecord {
    /// Parses a request file's text (a UTF-8 byte-order mark is allowed).
    ///
    /// # Errors
    /// [`ApproveError::BadRequest`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, ApproveError> {
        if text.len() > MAX_REQUEST_BYTES {
            return Err(ApproveError::BadRequest(format!(
                "{} bytes, over the {MAX_REQUEST_BYTES}-byte limit",
                text.len()
            )));
        }
        let bad = |e: serde_json::Error| ApproveError::BadRequest(e.to_string());
        let value: Value =
            serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(bad)?;
        if !value.is_object() {
            return Err(ApproveError::BadRequest("expected a JSON object".into()));
        }
        let mut record: Self = serde_json::from_value(value).map_err(bad)?;
        for field in [
            &mut record.user,
            &mut record.principal,
            &mut record.machine,
            &mut record.service,
            &mut record.category,
            &mut record.origin,
            &mut record.justification,
        ] {
            *field = field.take().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        }
        record.request_id = record.request_id.trim().to_owned();
        if record.request_id.is_empty() {
            return Err(ApproveError::BadRequest("\"requestId\" is empty".into()));
        }
        Ok(record)
    }
}

/// How long an approval lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// This many days from now.
    Days(u32),
    /// Until this instant (seconds since the epoch).
    Until(i64),
}

/// What to approve, before checking: from flags, a request file, or a request file with flags
/// on top (see [`Draft::from_request`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// The user principal.
    pub subject: Option<String>,
    /// The machine to bind to.
    pub machine: Option<String>,
    /// Service ids.
    pub services: Vec<String>,
    /// Category ids.
    pub categories: Vec<String>,
    /// The business purpose.
    pub purpose: Option<String>,
    /// The request id answered.
    pub request_id: Option<String>,
    /// The approver's name.
    pub approver: Option<String>,
    /// How long.
    pub validity: Option<Validity>,
}

impl Draft {
    /// The draft a request asks for, and notes for the approver (a missing principal).
    ///
    /// The subject is the request's `principal`; only when that is missing is the OS account
    /// name (`user`) used, with a note, because tokens are matched against the principal alone.
    /// The approval covers the requested service, or its whole category when the request names
    /// no service; it is bound to the requesting machine.
    pub fn from_request(record: &RequestRecord) -> (Self, Vec<String>) {
        let mut notes = Vec::new();
        let subject = match (&record.principal, &record.user) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(user)) => {
                notes.push(format!(
                    "the request has no principal: the host on {} could not read the user's \
                     directory principal; using the account name {user:?} as the subject, which \
                     only matches if the host later reports exactly that principal — confirm it \
                     with the user, or give --user PRINCIPAL",
                    record.machine.as_deref().unwrap_or("the user's machine")
                ));
                Some(user.clone())
            }
            (None, None) => None,
        };
        let (services, categories) = match (&record.service, &record.category) {
            (Some(s), _) => (vec![s.clone()], Vec::new()),
            (None, Some(c)) => (Vec::new(), vec![c.clone()]),
            (None, None) => (Vec::new(), Vec::new()),
        };
        let draft = Draft {
            subject,
            machine: record.machine.clone(),
            services,
            categories,
            purpose: record.justification.clone(),
            request_id: Some(record.request_id.clone()),
            approver: None,
            validity: record.days.map(Validity::Days),
        };
        (draft, notes)
    }
}

/// What the approver decided by flag on top of a request file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestFlags {
    /// `--service` or `--category` given: they replace what the request asks for.
    pub scope_given: bool,
    /// `--whole-category`: every service in the request's category.
    pub whole_category: bool,
    /// `--machine` given.
    pub machine_given: bool,
    /// `--any-machine`: not bound to a machine.
    pub any_machine: bool,
}

/// Checks that a request file names what it asks for, unless the approver's flags decide it:
/// a request without `service` would otherwise become a whole-category approval and one
/// without `machine` an any-machine approval (issue 9, finding 7: the user can delete both).
/// With `--whole-category`, narrows `draft` to the request's category.
///
/// # Errors
/// [`ApproveError::RequestTooWide`] naming each missing field and the flags that decide it;
/// [`ApproveError::NoCategoryToWiden`] for `--whole-category` without a category.
pub fn check_request_scope(
    record: &RequestRecord,
    flags: RequestFlags,
    draft: &mut Draft,
) -> Result<(), ApproveError> {
    let mut missing = Vec::new();
    if record.service.is_none() && !flags.scope_given && !flags.whole_category {
        missing.push(
            "names no service: give --service ID for the service the user needs, or \
             --whole-category to approve every service in its category"
                .to_owned(),
        );
    }
    if record.machine.is_none() && !flags.machine_given && !flags.any_machine {
        missing.push(
            "names no machine: give --machine NAME for the user's computer, or --any-machine \
             to approve it on every machine"
                .to_owned(),
        );
    }
    if !missing.is_empty() {
        return Err(ApproveError::RequestTooWide(missing));
    }
    if flags.whole_category {
        let category = record.category.clone().ok_or(ApproveError::NoCategoryToWiden)?;
        draft.services.clear();
        draft.categories = vec![category];
    }
    Ok(())
}

/// Warnings, in capitals, for an approval wider than one service on one machine.
pub fn wide_approval_warnings(claims: &TokenClaims) -> Vec<String> {
    let mut warnings: Vec<String> = claims
        .categories
        .iter()
        .map(|c| {
            format!(
                "WARNING: THIS APPROVAL COVERS EVERY SERVICE IN {}, NOT ONE SERVICE",
                c.to_uppercase()
            )
        })
        .collect();
    if claims.machine.is_none() {
        warnings.push(format!(
            "WARNING: THIS APPROVAL IS NOT BOUND TO A MACHINE: IT WORKS ON EVERY COMPUTER {} SIGNS IN TO",
            claims.sub.to_uppercase()
        ));
    }
    warnings
}

/// The service and category ids an approval may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    services: BTreeSet<String>,
    categories: BTreeSet<String>,
    from_policy: bool,
}

impl Known {
    /// The built-in catalogue and categories.
    pub fn catalogue() -> Self {
        Self {
            services: gatehouse_core::catalogue().iter().map(|s| s.id.clone()).collect(),
            categories: BUILTIN_CATEGORIES.iter().map(|c| c.0.to_owned()).collect(),
            from_policy: false,
        }
    }

    /// The catalogue plus a policy's own services and categories.
    pub fn from_policy(policy: &Policy) -> Self {
        let mut known = Self::catalogue();
        known.services.extend(policy.services().iter().map(|s| s.id.clone()));
        known.categories.extend(policy.categories().keys().cloned());
        known.from_policy = true;
        known
    }

    /// A catalogue or policy service, or a host of the broad tier (whose id is its host).
    fn has_service(&self, id: &str) -> bool {
        self.services.contains(id) || gatehouse_core::broad_service_category(id).is_some()
    }

    fn policy_hint(&self) -> &'static str {
        if self.from_policy {
            ""
        } else {
            " or your policy (give --policy FILE)"
        }
    }
}

/// The checks [`claims`] applies.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Ids that may be named.
    pub known: Known,
    /// Accept unknown ids (with a note).
    pub allow_unknown: bool,
    /// The longest approval, in days.
    pub max_days: u32,
}

/// Checks a draft and turns it into claims issued `now_s` (seconds), with notes for the approver.
///
/// # Errors
/// The first problem, as an [`ApproveError`] that names the flag to fix.
pub fn claims(
    draft: &Draft,
    rules: &Rules,
    kid: &str,
    jti: String,
    now_s: i64,
) -> Result<(TokenClaims, Vec<String>), ApproveError> {
    let mut notes = Vec::new();
    let sub = draft.subject.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let sub = sub.ok_or(ApproveError::NoSubject)?;
    check_name("--user", sub)?;
    if !sub.contains(['@', '\\']) {
        notes.push(format!(
            "{sub:?} is neither a UPN (user@domain) nor DOMAIN\\user; the host reports principals \
             in one of those forms, so check the spelling"
        ));
    }
    let machine = match draft.machine.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => {
            check_name("--machine", m)?;
            Some(m.to_owned())
        }
        None => None,
    };
    let services = dedup(&draft.services);
    let categories = dedup(&draft.categories);
    if services.is_empty() && categories.is_empty() {
        return Err(ApproveError::NothingApproved);
    }
    for id in &services {
        if !rules.known.has_service(id) {
            if !rules.allow_unknown {
                return Err(ApproveError::UnknownService {
                    id: id.clone(),
                    suggestion: closest(id, &rules.known.services)
                        .map(|s| format!("; did you mean {s:?}?"))
                        .unwrap_or_default(),
                    policy_hint: rules.known.policy_hint(),
                });
            }
            notes.push(format!("service {id:?} is not known; issued anyway (--allow-unknown)"));
        }
    }
    for id in &categories {
        if !rules.known.categories.contains(id) {
            if !rules.allow_unknown {
                return Err(ApproveError::UnknownCategory {
                    id: id.clone(),
                    known: rules.known.categories.iter().cloned().collect::<Vec<_>>().join(", "),
                    policy_hint: rules.known.policy_hint(),
                });
            }
            notes.push(format!("category {id:?} is not known; issued anyway (--allow-unknown)"));
        }
    }
    let purpose = draft.purpose.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let purpose = purpose.ok_or(ApproveError::NoPurpose)?;
    let chars = purpose.chars().count();
    if chars > MAX_PURPOSE_CHARS {
        return Err(ApproveError::PurposeTooLong(chars));
    }
    let exp = match draft.validity.ok_or(ApproveError::NoDuration)? {
        Validity::Days(0) => return Err(ApproveError::ZeroDays),
        Validity::Days(days) => {
            if days > rules.max_days {
                return Err(ApproveError::TooLong { days: i64::from(days), max: rules.max_days });
            }
            now_s.saturating_add(i64::from(days) * DAY_S)
        }
        Validity::Until(until) => {
            if until <= now_s {
                return Err(ApproveError::EndInPast(rfc3339_from_millis(
                    until.saturating_mul(1000),
                )));
            }
            // Rounded up, as the verifier counts.
            let days = (until - now_s).saturating_add(DAY_S - 1) / DAY_S;
            if days > i64::from(rules.max_days) {
                return Err(ApproveError::TooLong { days, max: rules.max_days });
            }
            until
        }
    };
    let approver = match draft.approver.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => {
            check_name("--approver", a)?;
            Some(a.to_owned())
        }
        None => None,
    };
    let claims = TokenClaims {
        iss: Some(kid.to_owned()),
        sub: sub.to_owned(),
        jti,
        iat: Some(now_s),
        nbf: Some(now_s),
        exp,
        machine,
        services,
        categories,
        purpose: purpose.to_owned(),
        req: draft.request_id.clone().filter(|r| !r.is_empty()),
        approver,
    };
    Ok((claims, notes))
}

fn check_name(field: &'static str, value: &str) -> Result<(), ApproveError> {
    let problem = if value.chars().count() > MAX_NAME_CHARS {
        "is too long (256 characters at most)"
    } else if value.chars().any(char::is_control) {
        "contains control characters"
    } else if value != value.trim() {
        "has surrounding spaces"
    } else {
        return Ok(());
    };
    Err(ApproveError::BadField { field, value: value.to_owned(), problem })
}

/// Trimmed, non-empty, first occurrence kept.
fn dedup(ids: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    ids.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && seen.insert(s.clone()))
        .collect()
}

/// The known id nearest to `id` (at most two edits away), for "did you mean".
fn closest<'a>(id: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(id, k), k.as_str()))
        .filter(|&(d, _)| d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Seconds since the epoch, now.
pub fn now_s() -> i64 {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// An end time: an RFC 3339 time, or a date meaning the end of that day in UTC.
///
/// # Errors
/// [`ApproveError::BadTime`].
pub fn parse_until(text: &str) -> Result<i64, ApproveError> {
    let text = text.trim();
    match Date::parse(text, format_description!("[year]-[month]-[day]")) {
        Ok(date) => Ok(date.midnight().assume_utc().unix_timestamp() + DAY_S),
        Err(_) => parse_instant(text),
    }
}

/// An instant: an RFC 3339 time, or a date meaning its start (midnight UTC). Seconds.
///
/// # Errors
/// [`ApproveError::BadTime`].
pub fn parse_instant(text: &str) -> Result<i64, ApproveError> {
    let text = text.trim();
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| ApproveError::BadTime(text.to_owned()))
}

/// Writes a new file readable by its owner only (mode 0600 on Unix; on Windows the folder's
/// inherited ACL), refusing to replace an existing file (`O_EXCL`).
///
/// # Errors
/// [`ApproveError::Exists`] or [`ApproveError::Write`].
pub fn write_new_private(path: &Path, contents: &[u8]) -> Result<(), ApproveError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let failed = |source| ApproveError::Write { path: path.display().to_string(), source };
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(ApproveError::Exists(path.display().to_string()))
        }
        Err(e) => return Err(failed(e)),
    };
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(failed)
}

/// Whether a key file can be read by anyone but its owner (Unix permission bits).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// What a token says, decoded without checking anything: shown even for a token that fails.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Decoded {
    /// The header, if it decodes to JSON.
    pub header: Option<Value>,
    /// The claims, if they decode to JSON.
    pub claims: Option<Value>,
    /// Why a part could not be decoded.
    pub problems: Vec<String>,
}

/// Decodes a token's header and claims without verifying anything.
pub fn decode_unverified(token: &str) -> Decoded {
    let token = token.trim();
    let mut out = Decoded::default();
    // Four times the verifier's limit is plenty to show what an oversized token claims.
    if token.len() > 4 * MAX_TOKEN_BYTES {
        out.problems.push(format!("{} bytes: too large to decode", token.len()));
        return out;
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        out.problems
            .push(format!("{} dot-separated parts; a JWS compact token has 3", parts.len()));
    }
    let part = |i: usize, what: &str, problems: &mut Vec<String>| -> Option<Value> {
        let text = parts.get(i)?;
        match URL_SAFE_NO_PAD.decode(text) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(format!("{what} is not JSON: {e}"));
                    None
                }
            },
            Err(_) => {
                problems.push(format!("{what} is not base64url"));
                None
            }
        }
    };
    out.header = part(0, "header", &mut out.problems);
    out.claims = part(1, "claims", &mut out.problems);
    out
}

/// Who and when `inspect` checks a token for. Missing user/machine are taken from the token.
#[derive(Debug, Clone, Default)]
pub struct InspectFor<'a> {
    /// The user principal; default: the token's `sub`.
    pub user: Option<&'a str>,
    /// The machine; default: the token's `machine` (so a machine binding is not held against it).
    pub machine: Option<&'a str>,
    /// The time (ms since the epoch).
    pub now_ms: i64,
    /// A URL whose service the approval should cover.
    pub url: Option<&'a str>,
}

/// Whom the check assumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedFor {
    /// The user principal.
    pub user: Option<String>,
    /// Taken from the token's `sub` rather than given.
    pub user_from_token: bool,
    /// The machine.
    pub machine: Option<String>,
    /// Taken from the token's `machine` rather than given.
    pub machine_from_token: bool,
    /// The time, RFC 3339.
    pub now: String,
}

/// What `inspect --url` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlCheck {
    /// The URL.
    pub url: String,
    /// Its service, if Gatehouse controls it.
    pub service: Option<String>,
    /// Its category.
    pub category: Option<String>,
    /// Whether the token names its service or category, verified or not (`None` when the URL
    /// needs no approval).
    pub covered: Option<bool>,
}

/// The outcome of inspecting a token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// What the token claims, unverified.
    pub decoded: Decoded,
    /// Whom and when it was checked for.
    pub checked_for: CheckedFor,
    /// Whether it is valid (and covers `url`, when one was given).
    pub valid: bool,
    /// `valid`, or the rejection's reason code.
    pub code: &'static str,
    /// The verifier's message, or a summary of the approval.
    pub message: String,
    /// What to do about a rejection.
    pub hint: Option<&'static str>,
    /// The approval, when the token verified.
    pub approval: Option<Approval>,
    /// The `--url` check.
    pub url: Option<UrlCheck>,
}

/// Decodes, verifies against `policy` with the core verifier, and checks `url`'s service.
///
/// # Errors
/// [`ApproveError::BadUrl`] when `url` does not parse.
pub fn inspect(
    policy: &Policy,
    token: &str,
    target: &InspectFor<'_>,
) -> Result<Inspection, ApproveError> {
    let decoded = decode_unverified(token);
    let claim = |k: &str| {
        decoded.claims.as_ref().and_then(|c| c.get(k)).and_then(Value::as_str).map(str::to_owned)
    };
    let user = target.user.map(str::to_owned).or_else(|| claim("sub"));
    let machine = target.machine.map(str::to_owned).or_else(|| claim("machine"));
    let checked_for = CheckedFor {
        user_from_token: target.user.is_none() && user.is_some(),
        machine_from_token: target.machine.is_none() && machine.is_some(),
        user: user.clone(),
        machine: machine.clone(),
        now: rfc3339_from_millis(target.now_ms),
    };
    let identity = user.map(|principal| Identity {
        principal: Some(principal),
        machine: machine.unwrap_or_default(),
        ..Identity::default()
    });
    let url = match target.url {
        Some(u) => Some(classify(policy, u)?),
        None => None,
    };
    let verdict = policy.verify_approval(token, identity.as_ref(), target.now_ms, "inspect");
    let verdict = verdict.and_then(|approval| match &url {
        Some(UrlCheck { service: Some(s), category: Some(c), .. }) if !approval.covers(s, c) => {
            Err(TokenRejection::ServiceNotCovered(s.clone()))
        }
        _ => Ok(approval),
    });
    // Whether the token names the URL's service or category, from its claims even when it
    // failed verification (the verdict says whether it counts).
    let names = |key: &str, id: &str| {
        decoded
            .claims
            .as_ref()
            .and_then(|c| c.get(key))
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|v| v.as_str() == Some(id)))
    };
    let url = url.map(|mut check| {
        if let (Some(s), Some(c)) = (&check.service, &check.category) {
            check.covered = Some(names("services", s) || names("categories", c));
        }
        check
    });
    Ok(match verdict {
        Ok(approval) => Inspection {
            decoded,
            checked_for,
            valid: true,
            code: "valid",
            message: summary(&approval),
            hint: None,
            approval: Some(approval),
            url,
        },
        Err(rejection) => Inspection {
            decoded,
            checked_for,
            valid: false,
            code: rejection.code(),
            message: rejection.to_string(),
            hint: hint(rejection.code()),
            approval: None,
            url,
        },
    })
}

fn classify(policy: &Policy, url: &str) -> Result<UrlCheck, ApproveError> {
    let request = Request::new(url, ResourceType::MainFrame)
        .map_err(|e| ApproveError::BadUrl { url: url.to_owned(), problem: e.to_string() })?;
    let class = policy.classify(&request);
    Ok(UrlCheck {
        url: url.to_owned(),
        service: class.as_ref().map(|c| c.service.id.clone()),
        category: class.as_ref().map(|c| c.service.category.clone()),
        covered: None,
    })
}

/// One line on what a verified approval allows.
pub fn summary(a: &Approval) -> String {
    let mut what: Vec<String> = a.services.clone();
    what.extend(a.categories.iter().map(|c| format!("every {c} service")));
    format!(
        "approves {} for {}{} until {} ({})",
        what.join(", "),
        a.subject,
        a.machine.as_deref().map(|m| format!(" on {m}")).unwrap_or_default(),
        rfc3339_from_millis(a.expires_ms),
        a.id
    )
}

/// What an issuer or administrator can do about each rejection.
pub fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "malformed" => "this is not a token Gatehouse issues; check that it was copied whole, or issue a new one with `gatehouse approve`",
        "oversize" => "issue a new token with a shorter purpose or fewer services",
        "unsupported_algorithm" => "approvals must be signed with EdDSA (Ed25519); issue it with `gatehouse approve`",
        "unknown_key" => "put the approver's public JWK (printed by `gatehouse keygen`) in the policy's approvals.keys, or check --policy",
        "bad_signature" => "the token was altered, or signed with a different key than its kid names; issue a new one",
        "not_yet_valid" => "wait until it starts, or check the clocks of the approver's and the user's machines",
        "expired" => "issue a new approval",
        "too_long" => "issue one no longer than the policy's approvals.maxDays",
        "other_user" => "tokens are issued to the principal the user's machine reports (the block page shows it); issue one to that principal",
        "other_machine" => "issue one for this machine, or one without --machine",
        "identity_unknown" => "give --user PRINCIPAL",
        "revoked" => "a revocation cannot be undone; issue a new approval",
        "nothing_approved" => "issue one with --service or --category",
        "service_not_covered" => "issue an approval that names this service or its category",
        _ => return None,
    })
}

/// The revocation list a policy already has (a managed-storage policy, or a Chrome/Edge policy
/// file whose `3rdparty` section holds one).
///
/// # Errors
/// [`ApproveError::BadRevokedList`] when `approvals.revoked` is not a list of strings.
pub fn revoked_in_policy(policy: &Value) -> Result<Vec<String>, ApproveError> {
    let inner = policy
        .get("3rdparty")
        .and_then(|t| t.get("extensions"))
        .and_then(Value::as_object)
        .filter(|m| m.len() == 1)
        .and_then(|m| m.values().next())
        .unwrap_or(policy);
    match inner.get("approvals").and_then(|a| a.get("revoked")) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or(ApproveError::BadRevokedList("has a non-string entry"))
            })
            .collect(),
        Some(_) => Err(ApproveError::BadRevokedList("is not a list")),
    }
}

/// `{"approvals": {"revoked": [...]}}`: `existing` and `new`, sorted, without duplicates.
///
/// # Errors
/// [`ApproveError::BadField`] for an empty id or one with spaces or control characters.
pub fn revocation_fragment(existing: &[String], new: &[String]) -> Result<Value, ApproveError> {
    let mut all = BTreeSet::new();
    for jti in new {
        let jti = jti.trim();
        if jti.is_empty() || jti.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ApproveError::BadField {
                field: "jti",
                value: jti.to_owned(),
                problem: "is not a token id: give the jti that `gatehouse inspect` shows",
            });
        }
        all.insert(jti.to_owned());
    }
    all.extend(existing.iter().cloned());
    Ok(json!({"approvals": {"revoked": all}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_S: i64 = 1_800_000_000;

    fn key(seed: u8) -> ApproverKey {
        ApproverKey::from_seed("dept-1", &[seed; 32]).unwrap()
    }

    fn policy_with(keys: &[&ApproverKey], extra: Value) -> Policy {
        let mut json =
            json!({"approvals": {"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}});
        if let (Some(a), Some(e)) = (json["approvals"].as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        let parsed = Policy::from_value(&json).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        parsed.policy
    }

    fn rules() -> Rules {
        Rules { known: Known::catalogue(), allow_unknown: false, max_days: DEFAULT_MAX_DAYS }
    }

    fn draft() -> Draft {
        Draft {
            subject: Some("alice@corp.example".into()),
            services: vec!["gmail".into()],
            purpose: Some("liaison with overseas office".into()),
            validity: Some(Validity::Days(30)),
            ..Draft::default()
        }
    }

    fn issue(draft: &Draft) -> Result<TokenClaims, ApproveError> {
        claims(draft, &rules(), "dept-1", "jti-1".into(), NOW_S).map(|(c, _)| c)
    }

    fn alice() -> Identity {
        Identity {
            principal: Some("alice@corp.example".into()),
            machine: "WS01".into(),
            ..Identity::default()
        }
    }

    #[test]
    fn issued_tokens_verify_in_the_core() {
        let k = key(1);
        let mut d = draft();
        d.machine = Some("WS01".into());
        d.categories = vec!["cloud_storage".into()];
        d.request_id = Some("req-1".into());
        d.approver = Some("Director Chan".into());
        let c = issue(&d).unwrap();
        assert_eq!((c.iat, c.nbf, c.exp), (Some(NOW_S), Some(NOW_S), NOW_S + 30 * DAY_S));
        let token = k.sign(&c).unwrap();
        let a = policy_with(&[&k], json!({}))
            .verify_approval(&token, Some(&alice()), NOW_S * 1000, "user")
            .unwrap();
        assert_eq!(a.issuer, "dept-1");
        assert_eq!(a.subject, "alice@corp.example");
        assert_eq!(a.machine.as_deref(), Some("WS01"));
        assert_eq!(a.services, ["gmail"]);
        assert_eq!(a.categories, ["cloud_storage"]);
        assert_eq!(a.request_id.as_deref(), Some("req-1"));
        assert_eq!(a.approver.as_deref(), Some("Director Chan"));
        assert_eq!(a.expires_ms, (NOW_S + 30 * DAY_S) * 1000);
        let header = decode_unverified(&token).header.unwrap();
        assert_eq!(header, json!({"alg": "EdDSA", "typ": "JWT", "kid": "dept-1"}));
    }

    #[test]
    fn the_longest_allowed_token_verifies_under_the_same_cap() {
        let k = key(1);
        let mut d = draft();
        d.validity = Some(Validity::Days(DEFAULT_MAX_DAYS));
        let token = k.sign(&issue(&d).unwrap()).unwrap();
        // The default policy cap is DEFAULT_MAX_DAYS too.
        let policy = policy_with(&[&k], json!({}));
        assert_eq!(policy.max_approval_days(), DEFAULT_MAX_DAYS);
        assert!(policy.verify_approval(&token, Some(&alice()), NOW_S * 1000, "user").is_ok());
        // --until on the last allowed second.
        d.validity = Some(Validity::Until(NOW_S + i64::from(DEFAULT_MAX_DAYS) * DAY_S));
        let token = k.sign(&issue(&d).unwrap()).unwrap();
        assert!(policy.verify_approval(&token, Some(&alice()), NOW_S * 1000, "user").is_ok());
    }

    #[test]
    fn keys_round_trip_through_jwk() {
        let k = ApproverKey::generate("dept-2025").unwrap();
        let text = k.private_jwk().to_string();
        let back = ApproverKey::from_jwk(&format!("\u{feff}{text}\n")).unwrap();
        assert_eq!(back.kid(), "dept-2025");
        assert_eq!(back.public_jwk(), k.public_jwk());
        assert!(k.public_jwk().get("d").is_none());
        // The public JWK is what the core accepts in a policy.
        let mut keys = gatehouse_core::ApproverKeys::default();
        keys.add_jwk(&k.public_jwk()).unwrap();
        assert_ne!(ApproverKey::generate("a").unwrap().public_jwk()["x"], k.public_jwk()["x"]);
        assert_eq!(policy_fragment(&k.public_jwk())["approvals"]["keys"][0], k.public_jwk());
    }

    #[test]
    fn bad_key_files_say_what_is_wrong() {
        let k = key(1);
        let mut swapped = k.private_jwk();
        swapped["x"] = key(2).public_jwk()["x"].clone();
        let mut bad_kid = k.private_jwk();
        bad_kid["kid"] = json!("has space");
        let cases = [
            ("not json".to_owned(), "expected"),
            (k.public_jwk().to_string(), "public key"),
            (json!({"kty": "RSA"}).to_string(), "OKP"),
            (json!({"kty": "OKP", "crv": "Ed25519", "d": "AAAA"}).to_string(), "kid"),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "d": "AAAA"}).to_string(),
                "32 bytes",
            ),
            (swapped.to_string(), "damaged"),
            (bad_kid.to_string(), "1-64 characters"),
        ];
        for (text, needle) in &cases {
            let e = ApproverKey::from_jwk(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert_eq!(cases.len(), 7);
    }

    #[test]
    fn key_ids_are_checked() {
        for good in ["dept-1", "hk.gov_2025", &"k".repeat(64)] {
            assert!(check_kid(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "../x", "é", &"k".repeat(65)] {
            assert!(matches!(check_kid(bad), Err(ApproveError::BadKid(_))), "{bad}");
        }
        assert!(ApproverKey::generate("a/b").is_err());
    }

    #[test]
    fn jtis_are_unique_and_url_safe() {
        let ids: BTreeSet<String> = (0..100).map(|_| new_jti().unwrap()).collect();
        assert_eq!(ids.len(), 100);
        assert!(ids.iter().all(|i| i.len() == 22 && !i.contains(['+', '/', '='])));
    }

    #[test]
    fn every_draft_problem_is_reported() {
        let with = |f: &dyn Fn(&mut Draft)| {
            let mut d = draft();
            f(&mut d);
            issue(&d).map(|_| ()).unwrap_err().to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            (with(&|d| d.subject = None), "--user"),
            (with(&|d| d.subject = Some("  ".into())), "--user"),
            (with(&|d| d.subject = Some("a\u{7}@b".into())), "control characters"),
            (with(&|d| d.machine = Some("x".repeat(300))), "too long"),
            (with(&|d| d.services.clear()), "--service ID or --category ID"),
            (with(&|d| d.services = vec!["gmial".into()]), "did you mean \"gmail\"?"),
            (with(&|d| d.services = vec!["intranet-mail".into()]), "give --policy FILE"),
            (with(&|d| d.categories = vec!["social".into()]), "webmail"),
            (with(&|d| d.purpose = None), "--purpose"),
            (with(&|d| d.purpose = Some("x".repeat(MAX_PURPOSE_CHARS + 1))), "at most 2000"),
            (with(&|d| d.validity = None), "--days N or --until"),
            (with(&|d| d.validity = Some(Validity::Days(0))), "at least 1 day"),
            (
                with(&|d| d.validity = Some(Validity::Days(184))),
                "184 days is longer than the 183-day",
            ),
            (with(&|d| d.validity = Some(Validity::Until(NOW_S))), "not in the future"),
            (with(&|d| d.validity = Some(Validity::Until(NOW_S + 183 * DAY_S + 1))), "184 days"),
            (with(&|d| d.approver = Some("a\nb".into())), "--approver"),
        ];
        for (message, needle) in &cases {
            assert!(message.contains(needle), "{message:?} should contain {needle:?}");
        }
        assert_eq!(cases.len(), 16);
    }

    #[test]
    fn broad_tier_hosts_are_services_by_their_exact_host() {
        // The block page asks for what the verdict names: a broad host is its own service id.
        let mut d = draft();
        d.services = vec!["yopmail.com".into()];
        let (c, notes) = claims(&d, &rules(), "k", "j".into(), NOW_S).unwrap();
        assert_eq!((c.services, notes), (vec!["yopmail.com".to_owned()], vec![]));
        d.services = vec!["www.yopmail.com".into()];
        let e = claims(&d, &rules(), "k", "j".into(), NOW_S).unwrap_err().to_string();
        assert!(e.contains("unknown service \"www.yopmail.com\""), "{e}");
    }

    #[test]
    fn unknown_ids_pass_with_allow_unknown_or_a_policy_that_defines_them() {
        let mut d = draft();
        d.services = vec!["intranet_chat".into(), "gmail".into(), "gmail".into()];
        d.categories = vec!["social".into()];
        let loose = Rules { allow_unknown: true, ..rules() };
        let (c, notes) = claims(&d, &loose, "k", "j".into(), NOW_S).unwrap();
        assert_eq!(c.services, ["intranet_chat", "gmail"]);
        assert_eq!(notes.len(), 2, "{notes:?}");
        let policy = Policy::from_value(&json!({
            "categories": {"social": {"mode": "block"}},
            "rules": [{"service": "intranet_chat", "category": "social", "match": ["chat.example"]}]
        }))
        .unwrap()
        .policy;
        let strict = Rules { known: Known::from_policy(&policy), ..rules() };
        let (_, notes) = claims(&d, &strict, "k", "j".into(), NOW_S).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let e = claims(&d, &rules(), "k", "j".into(), NOW_S).unwrap_err().to_string();
        assert!(e.contains("intranet_chat") && e.contains("--allow-unknown"), "{e}");
    }

    #[test]
    fn notes_for_odd_principals() {
        let mut d = draft();
        d.subject = Some("alice".into());
        let (_, notes) = claims(&d, &rules(), "k", "j".into(), NOW_S).unwrap();
        assert!(notes[0].contains("neither a UPN"), "{notes:?}");
        d.subject = Some("CORP\\alice".into());
        assert!(claims(&d, &rules(), "k", "j".into(), NOW_S).unwrap().1.is_empty());
    }

    #[test]
    fn request_records_become_drafts() {
        let text = r#"{"requestId":"9b1c","user":"alice","principal":"alice@corp.example","machine":"WS01",
            "service":"gmail","category":"webmail","origin":"https://mail.google.com",
            "justification":" liaison with overseas office ","days":14,"createdMs":1800000000000,"future":1}"#;
        let record = RequestRecord::parse(text).unwrap();
        let (d, notes) = Draft::from_request(&record);
        assert!(notes.is_empty());
        assert_eq!(d.subject.as_deref(), Some("alice@corp.example"));
        assert_eq!(d.machine.as_deref(), Some("WS01"));
        assert_eq!((d.services.as_slice(), d.categories.len()), (&["gmail".to_owned()][..], 0));
        assert_eq!(d.purpose.as_deref(), Some("liaison with overseas office"));
        assert_eq!(d.request_id.as_deref(), Some("9b1c"));
        assert_eq!(d.validity, Some(Validity::Days(14)));

        // No principal: the account name, with a note; no service: the category.
        let text = r#"{"requestId":"r2","user":"alice","principal":null,"machine":"WS01",
            "service":null,"category":"cloud_storage","justification":"x","days":1}"#;
        let (d, notes) = Draft::from_request(&RequestRecord::parse(text).unwrap());
        assert_eq!(d.subject.as_deref(), Some("alice"));
        assert!(notes[0].contains("no principal") && notes[0].contains("WS01"), "{notes:?}");
        assert_eq!(d.categories, ["cloud_storage"]);
        let (d, _) = Draft::from_request(&RequestRecord::parse(r#"{"requestId":"r3"}"#).unwrap());
        assert_eq!(issue(&d).unwrap_err().to_string(), ApproveError::NoSubject.to_string());
    }

    #[test]
    fn bad_request_files_are_rejected() {
        for (text, needle) in [
            ("[]", "JSON object"),
            ("{", "EOF"),
            ("{}", "requestId"),
            (r#"{"requestId":"  "}"#, "empty"),
            (r#"{"requestId":"r","days":-1}"#, "invalid value"),
            (r#"{"requestId":"r","days":"14"}"#, "invalid type"),
        ] {
            let e = RequestRecord::parse(text).unwrap_err().to_string();
            assert!(
                e.contains("not a Gatehouse request file") && e.contains(needle),
                "{text}: {e}"
            );
        }
        let huge =
            format!(r#"{{"requestId":"r","justification":"{}"}}"#, "x".repeat(MAX_REQUEST_BYTES));
        assert!(RequestRecord::parse(&huge).unwrap_err().to_string().contains("limit"));
    }

    #[test]
    fn oversized_tokens_are_refused_at_signing() {
        let mut d = draft();
        d.purpose = Some("長".repeat(MAX_PURPOSE_CHARS));
        let c = issue(&d).unwrap();
        assert!(matches!(key(1).sign(&c), Err(ApproveError::TokenTooLarge(_))));
    }

    #[test]
    fn times() {
        assert_eq!(parse_until("2027-01-15").unwrap(), 1_800_057_600);
        assert_eq!(parse_instant("2027-01-15").unwrap(), 1_799_971_200);
        assert_eq!(parse_until("2027-01-15T08:00:00+08:00").unwrap(), 1_799_971_200);
        assert_eq!(parse_instant(" 2027-01-15T00:00:00Z ").unwrap(), 1_799_971_200);
        for bad in ["tomorrow", "2027-13-01", "2027-01-15 00:00"] {
            assert!(parse_until(bad).unwrap_err().to_string().contains("RFC 3339"), "{bad}");
        }
        assert!(now_s() > 1_700_000_000);
    }

    #[test]
    fn private_files_are_new_and_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k.jwk");
        write_new_private(&path, b"secret").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        assert!(matches!(write_new_private(&path, b"other"), Err(ApproveError::Exists(_))));
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        assert!(!readable_by_others(&path));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(readable_by_others(&path));
        }
        let missing = tmp.path().join("no/such/dir/k.jwk");
        assert!(write_new_private(&missing, b"x")
            .unwrap_err()
            .to_string()
            .contains("cannot write"));
    }

    #[test]
    fn decoding_shows_what_a_broken_token_claims() {
        let token = key(1).sign(&issue(&draft()).unwrap()).unwrap();
        let d = decode_unverified(&token);
        assert_eq!(d.claims.unwrap()["sub"], "alice@corp.example");
        assert!(d.problems.is_empty());
        let (hp, _) = token.rsplit_once('.').unwrap();
        let d = decode_unverified(hp);
        assert!(d.header.is_some() && d.claims.is_some());
        assert!(d.problems[0].contains("2 dot-separated parts"));
        let d = decode_unverified("!!.e30.x");
        assert_eq!(d.header, None);
        assert_eq!(d.claims, Some(json!({})));
        assert!(d.problems[0].contains("header is not base64url"));
        let d = decode_unverified(&format!("{}.aGk.x", URL_SAFE_NO_PAD.encode("{}")));
        assert!(d.problems[0].contains("claims is not JSON"));
        assert!(decode_unverified(&"a".repeat(40_000)).problems[0].contains("too large"));
    }

    #[test]
    fn inspection_explains_each_verdict() {
        let k = key(1);
        let token = k.sign(&issue(&draft()).unwrap()).unwrap();
        let policy = policy_with(&[&k], json!({"revoked": ["gone"]}));
        let at = |now_s: i64| InspectFor { now_ms: now_s * 1000, ..InspectFor::default() };
        let ok = inspect(&policy, &token, &at(NOW_S)).unwrap();
        assert!(ok.valid && ok.code == "valid" && ok.hint.is_none(), "{ok:?}");
        assert!(ok.message.contains("approves gmail for alice@corp.example until"));
        assert!(ok.checked_for.user_from_token && !ok.checked_for.machine_from_token);

        let bob = InspectFor { user: Some("bob@corp.example"), ..at(NOW_S) };
        let later = at(NOW_S + 31 * DAY_S);
        let gmail = InspectFor { url: Some("https://mail.google.com/mail/u/0"), ..at(NOW_S) };
        let dropbox = InspectFor { url: Some("https://www.dropbox.com/home"), ..at(NOW_S) };
        let news = InspectFor { url: Some("https://news.example/"), ..at(NOW_S) };
        let revoked = {
            let mut d = draft();
            d.services = vec!["gmail".into()];
            let c = claims(&d, &rules(), "dept-1", "gone".into(), NOW_S).unwrap().0;
            k.sign(&c).unwrap()
        };
        let (hp, sig) = token.rsplit_once('.').unwrap();
        let tampered = format!("{hp}.{}", &sig[..sig.len() - 4]);
        let other_key =
            policy_with(&[&ApproverKey::from_seed("dept-2", &[2; 32]).unwrap()], json!({}));
        let cases = [
            (inspect(&policy, &token, &bob).unwrap(), "other_user"),
            (inspect(&policy, &token, &later).unwrap(), "expired"),
            (inspect(&policy, &revoked, &at(NOW_S)).unwrap(), "revoked"),
            (inspect(&policy, &tampered, &at(NOW_S)).unwrap(), "bad_signature"),
            (inspect(&other_key, &token, &at(NOW_S)).unwrap(), "unknown_key"),
            (inspect(&policy, &token, &dropbox).unwrap(), "service_not_covered"),
            (inspect(&policy, "nonsense", &at(NOW_S)).unwrap(), "malformed"),
        ];
        for (inspection, code) in &cases {
            assert!(!inspection.valid, "{code}");
            assert_eq!(inspection.code, *code, "{}", inspection.message);
            assert!(inspection.hint.is_some(), "{code} has a hint");
        }
        assert_eq!(cases.len(), 7);
        // The unverified claims are still shown for a rejected token.
        assert_eq!(cases[3].0.decoded.claims.as_ref().unwrap()["sub"], "alice@corp.example");
        assert_eq!(cases[5].0.url.as_ref().unwrap().covered, Some(false));
        // Coverage is what the token names, even when it fails for another reason.
        let bob_gmail = InspectFor { user: Some("bob@corp.example"), ..gmail.clone() };
        let other = inspect(&policy, &token, &bob_gmail).unwrap();
        assert_eq!((other.code, other.url.unwrap().covered), ("other_user", Some(true)));

        let covered = inspect(&policy, &token, &gmail).unwrap();
        assert!(covered.valid);
        assert_eq!(covered.url.unwrap().covered, Some(true));
        let free = inspect(&policy, &token, &news).unwrap();
        assert!(free.valid && free.url.as_ref().unwrap().service.is_none());
        assert_eq!(free.url.unwrap().covered, None);
        let bad_url = InspectFor { url: Some("not a url"), ..at(NOW_S) };
        assert!(matches!(inspect(&policy, &token, &bad_url), Err(ApproveError::BadUrl { .. })));
    }

    #[test]
    fn machine_bound_tokens_are_checked_for_the_given_machine() {
        let k = key(1);
        let mut d = draft();
        d.machine = Some("WS01".into());
        let token = k.sign(&issue(&d).unwrap()).unwrap();
        let policy = policy_with(&[&k], json!({}));
        let own =
            inspect(&policy, &token, &InspectFor { now_ms: NOW_S * 1000, ..InspectFor::default() })
                .unwrap();
        assert!(own.valid && own.checked_for.machine_from_token);
        let ws02 =
            InspectFor { machine: Some("WS02"), now_ms: NOW_S * 1000, ..InspectFor::default() };
        assert_eq!(inspect(&policy, &token, &ws02).unwrap().code, "other_machine");
    }

    #[test]
    fn revocation_lists_merge_sorted_and_deduplicated() {
        let existing = revoked_in_policy(&json!({"approvals": {"revoked": ["b", "a"]}})).unwrap();
        let fragment = revocation_fragment(&existing, &["c".into(), " a ".into()]).unwrap();
        assert_eq!(fragment, json!({"approvals": {"revoked": ["a", "b", "c"]}}));
        let chrome =
            json!({"3rdparty": {"extensions": {"abc": {"approvals": {"revoked": ["z"]}}}}});
        assert_eq!(revoked_in_policy(&chrome).unwrap(), ["z"]);
        assert!(revoked_in_policy(&json!({})).unwrap().is_empty());
        assert!(revoked_in_policy(&json!({"approvals": {"revoked": "a"}})).is_err());
        assert!(revoked_in_policy(&json!({"approvals": {"revoked": [1]}})).is_err());
        for bad in ["", "a b", "a\u{0}"] {
            assert!(revocation_fragment(&[], &[bad.into()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_rejection_code_has_a_hint() {
        for code in [
            "malformed",
            "oversize",
            "unsupported_algorithm",
            "unknown_key",
            "bad_signature",
            "not_yet_valid",
            "expired",
            "too_long",
            "other_user",
            "other_machine",
            "identity_unknown",
            "revoked",
            "nothing_approved",
            "service_not_covered",
        ] {
            assert!(hint(code).is_some(), "{code}");
        }
        assert_eq!(hint("valid"), None);
    }

    /// Every prefix of a good key file, request file and token: an error or a rejection, never a
    /// panic and never a valid token.
    #[test]
    fn truncated_inputs_fail_cleanly() {
        let k = key(1);
        let jwk = k.private_jwk().to_string();
        let request = r#"{"requestId":"r","principal":"alice@corp.example","machine":"WS01","service":"gmail","days":3}"#;
        let token = k.sign(&issue(&draft()).unwrap()).unwrap();
        let policy = policy_with(&[&k], json!({}));
        let at = InspectFor { now_ms: NOW_S * 1000, ..InspectFor::default() };
        for cut in 0..jwk.len() {
            assert!(ApproverKey::from_jwk(&jwk[..cut]).is_err(), "key cut at {cut}");
        }
        for cut in 0..request.len() {
            assert!(RequestRecord::parse(&request[..cut]).is_err(), "request cut at {cut}");
        }
        for cut in 0..token.len() {
            assert!(!inspect(&policy, &token[..cut], &at).unwrap().valid, "token cut at {cut}");
        }
        assert!(inspect(&policy, &token, &at).unwrap().valid);
    }

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("gmial", "gmail"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("dropbox", "dropbox"), 0);
        let known: BTreeSet<String> = ["gmail".into(), "dropbox".into()].into();
        assert_eq!(closest("drpbox", &known), Some("dropbox"));
        assert_eq!(closest("whatsapp", &known), None);
    }
}
