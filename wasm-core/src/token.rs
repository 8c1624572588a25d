//! Approval tokens: JWS compact, EdDSA over Ed25519 (RFC 7515, RFC 8037), verified offline
//! against the approver keys the policy carries. Every way to fail has its own reason code.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{Approval, Identity};

/// Tokens larger than this are rejected before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Allowed clock difference between the approver's machine and the desk, in milliseconds.
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// What a policy trusts for approvals: the approver keys, the revocation list and the longest
/// approval it accepts. The token rules take this, never the whole policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// The approver public keys.
    pub(crate) keys: ApproverKeys,
    /// Revoked approval ids (`jti`).
    pub(crate) revoked: BTreeSet<String>,
    /// The longest approval accepted, in days.
    pub(crate) max_days: u32,
    /// When the policy names the desk's revocation list: how fresh the last verified one is.
    pub(crate) list: Option<ListFreshness>,
}

/// Approvals are honoured only while the desk's signed revocation list is recent: a desk made
/// unreachable (and the kept copy deleted) must not bring a revoked approval back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFreshness {
    /// The oldest list (by its signed `iat`) that still counts, in milliseconds of age.
    pub max_age_ms: i64,
    /// The signed `iat` of the newest verified list, in milliseconds; `None`: none yet.
    pub issued_ms: Option<i64>,
}

impl ListFreshness {
    /// Until when approvals may be honoured (`None`: not now — no list yet).
    pub fn current_until_ms(&self) -> Option<i64> {
        self.issued_ms.map(|at| at.saturating_add(self.max_age_ms))
    }
}

impl Trust {
    /// Whether `approval` is in force at `now_ms` (window, key still trusted, not revoked, the
    /// revocation list recent enough).
    pub fn in_force(&self, approval: &Approval, now_ms: i64) -> bool {
        approval.not_before_ms <= now_ms + CLOCK_SKEW_MS
            && now_ms < approval.expires_ms
            && self.keys.contains(&approval.issuer)
            && !self.revoked.contains(&approval.id)
            && self.revocations_current(now_ms)
    }

    /// Whether revocations are known well enough to honour any approval at `now_ms`: always
    /// without a desk list in the policy; with one, only while the newest verified list is
    /// younger than the policy's maximum age.
    pub fn revocations_current(&self, now_ms: i64) -> bool {
        self.list.is_none_or(|l| l.current_until_ms().is_some_and(|until| now_ms < until))
    }
}

/// Why a token was rejected. The `code` is stable and shown to users and in audit events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not a JWS compact string, or its parts do not decode.
    #[error("not an approval token: {0}")]
    Malformed(String),
    /// Larger than any genuine token.
    #[error("token of {0} bytes exceeds the {MAX_TOKEN_BYTES}-byte limit")]
    Oversize(usize),
    /// `alg` is not `EdDSA` (this includes `none` and HMAC/RSA algorithms).
    #[error("algorithm {0:?} is not accepted; approvals are signed with EdDSA (Ed25519)")]
    UnsupportedAlgorithm(String),
    /// No approver key with this id is in the policy.
    #[error("approver key {0:?} is not trusted by this policy")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("signature does not verify: the token was altered or signed by another key")]
    BadSignature,
    /// `nbf` is in the future.
    #[error("not valid until {}", utc(*.0))]
    NotYetValid(i64),
    /// `exp` has passed.
    #[error("expired at {}", utc(*.0))]
    Expired(i64),
    /// Longer than the policy allows.
    #[error("valid for {days} days, longer than the {max} days the policy allows")]
    TooLong {
        /// The token's length in days.
        days: i64,
        /// The policy's cap.
        max: u32,
    },
    /// Issued to someone else.
    #[error("issued to {0}, not to the signed-in user")]
    OtherUser(String),
    /// Bound to another machine.
    #[error("bound to machine {0}, not this one")]
    OtherMachine(String),
    /// The signed-in user is unknown (native host unavailable), so nothing can be matched.
    #[error("the signed-in user could not be determined, so the approval cannot be matched")]
    IdentityUnknown,
    /// On the policy's revocation list.
    #[error("approval {0} has been revoked")]
    Revoked(String),
    /// The token names no service or category.
    #[error("approval names no service or category")]
    NothingApproved,
    /// The policy names the desk's revocation list and no list recent enough has been verified
    /// (the last one's signing time, if any).
    #[error("{}", stale_list(*.0))]
    RevocationListStale(Option<i64>),
    /// A well-formed, valid approval that does not cover the service asked about.
    #[error("approval does not cover {0}")]
    ServiceNotCovered(String),
}

impl TokenRejection {
    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Oversize(_) => "oversize",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::UnknownKey(_) => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::NotYetValid(_) => "not_yet_valid",
            Self::Expired(_) => "expired",
            Self::TooLong { .. } => "too_long",
            Self::OtherUser(_) => "other_user",
            Self::OtherMachine(_) => "other_machine",
            Self::IdentityUnknown => "identity_unknown",
            Self::Revoked(_) => "revoked",
            Self::NothingApproved => "nothing_approved",
            Self::RevocationListStale(_) => "revocation_list_stale",
            Self::ServiceNotCovered(_) => "service_not_covered",
        }
    }
}

use crate::date::format_utc as utc;

fn stale_list(issued_ms: Option<i64>) -> String {
    match issued_ms {
        None => "the approval desk's revocation list has not been received yet, so approvals are not honoured until it is".into(),
        Some(at) => format!("the approval desk's revocation list is out of date (signed {}), so approvals are not honoured until a recent one is received", utc(at)),
    }
}

/// A policy key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not an Ed25519 OKP JWK with `kid` and `x`.
    #[error("expected an Ed25519 public JWK {{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":…,\"x\":…}}: {0}")]
    NotAJwk(String),
    /// `x` is not a valid Ed25519 public key.
    #[error("\"x\" is not a valid Ed25519 public key")]
    BadKey,
    /// A private key (`d`) was pasted into the policy.
    #[error("the JWK contains a private key (\"d\"); put only the public part in the policy")]
    PrivateKey,
    /// Two keys share a `kid`.
    #[error("key id {0:?} appears twice")]
    Duplicate(String),
}

/// The approver public keys, by key id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApproverKeys(BTreeMap<String, VerifyingKey>);

impl ApproverKeys {
    /// Adds a public JWK (RFC 8037 OKP, Ed25519).
    pub fn add_jwk(&mut self, jwk: &Value) -> Result<(), KeyError> {
        let field = |k: &str| jwk.get(k).and_then(Value::as_str);
        if jwk.get("d").is_some() {
            return Err(KeyError::PrivateKey);
        }
        if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
            return Err(KeyError::NotAJwk("kty must be \"OKP\" and crv \"Ed25519\"".into()));
        }
        let kid = field("kid")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| KeyError::NotAJwk("missing \"kid\"".into()))?;
        let x = field("x").ok_or_else(|| KeyError::NotAJwk("missing \"x\"".into()))?;
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(x)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::BadKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadKey)?;
        if key.is_weak() {
            return Err(KeyError::BadKey);
        }
        if self.0.insert(kid.to_owned(), key).is_some() {
            return Err(KeyError::Duplicate(kid.to_owned()));
        }
        Ok(())
    }

    /// Whether a key id is trusted.
    pub fn contains(&self, kid: &str) -> bool {
        self.0.contains_key(kid)
    }

    /// The trusted key ids.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// An approval token's claims, the one definition shared by the issuer (`gatehouse approve`)
/// and the verifier. Unknown claims are ignored (JWT practice); known ones must have the right
/// types, or the token is malformed. Times are JWT NumericDates (seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The approver key id; when present it must equal the header's `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The user principal it is issued to.
    pub sub: String,
    /// Unique id, the handle for revocation.
    pub jti: String,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Valid from (`iat` when absent; one of the two is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Valid until (exclusive).
    pub exp: i64,
    /// The machine it is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// Approved service ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Approved category ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// The business purpose.
    #[serde(default)]
    pub purpose: String,
    /// The request id it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
    /// The approver's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
}

/// Verifies one token for `identity` at `now_ms`. `source` is carried into the approval.
pub fn verify_approval(
    trust: &Trust,
    token: &str,
    identity: Option<&Identity>,
    now_ms: i64,
    source: &str,
) -> Result<Approval, TokenRejection> {
    check_approval(trust, signed_approval(trust, token, source)?, identity, now_ms)
}

/// The checks after the signature: revocation, validity window, the policy's cap, and the
/// user and machine. [`verify_approval`] is [`signed_approval`] followed by this.
pub fn check_approval(
    trust: &Trust,
    approval: Approval,
    identity: Option<&Identity>,
    now_ms: i64,
) -> Result<Approval, TokenRejection> {
    if trust.revoked.contains(&approval.id) {
        return Err(TokenRejection::Revoked(approval.id));
    }
    if !trust.revocations_current(now_ms) {
        return Err(TokenRejection::RevocationListStale(trust.list.and_then(|l| l.issued_ms)));
    }
    if now_ms >= approval.expires_ms {
        return Err(TokenRejection::Expired(approval.expires_ms));
    }
    if approval.not_before_ms > now_ms + CLOCK_SKEW_MS {
        return Err(TokenRejection::NotYetValid(approval.not_before_ms));
    }
    let days = (approval.expires_ms - approval.not_before_ms)
        .saturating_add(86_399_999)
        .div_euclid(86_400_000);
    if days > i64::from(trust.max_days) {
        return Err(TokenRejection::TooLong { days, max: trust.max_days });
    }
    if approval.services.is_empty() && approval.categories.is_empty() {
        return Err(TokenRejection::NothingApproved);
    }
    let identity = identity.ok_or(TokenRejection::IdentityUnknown)?;
    if !same_principal(identity, &approval.subject) {
        return Err(TokenRejection::OtherUser(approval.subject));
    }
    if let Some(machine) = &approval.machine {
        let here = [Some(identity.machine.as_str()), identity.fqdn.as_deref()];
        if !here.into_iter().flatten().any(|m| !m.is_empty() && m.eq_ignore_ascii_case(machine)) {
            return Err(TokenRejection::OtherMachine(machine.clone()));
        }
    }
    Ok(approval)
}

/// What a token signed by a trusted approver key says, checked for form and signature only —
/// not for time, revocation, user or machine. It lets the pages tell a user that *their*
/// approval for a service has ended or was revoked; it never grants anything (only
/// [`verify_approval`] does).
pub fn signed_approval(
    trust: &Trust,
    token: &str,
    source: &str,
) -> Result<Approval, TokenRejection> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenRejection::Oversize(token.len()));
    }
    let (kid, p64) = verify_jws(&trust.keys, token)?;

    // Only signed content from here on.
    let claims: TokenClaims = decode_json(p64, "claims")?;
    if claims.iss.as_deref().is_some_and(|iss| iss != kid) {
        return Err(TokenRejection::Malformed(
            "\"iss\" does not match the header's \"kid\"".into(),
        ));
    }
    if claims.jti.is_empty() || claims.sub.is_empty() {
        return Err(TokenRejection::Malformed("\"jti\" and \"sub\" must not be empty".into()));
    }
    let start = claims
        .nbf
        .or(claims.iat)
        .ok_or_else(|| TokenRejection::Malformed("needs \"nbf\" or \"iat\"".into()))?;
    Ok(Approval {
        id: claims.jti,
        issuer: kid,
        approver: claims.approver,
        subject: claims.sub,
        machine: claims.machine,
        services: claims.services,
        categories: claims.categories,
        purpose: claims.purpose,
        request_id: claims.req,
        not_before_ms: start.saturating_mul(1000),
        expires_ms: claims.exp.saturating_mul(1000),
        source: source.to_owned(),
    })
}

/// Checks a JWS compact string's form, algorithm and signature against the trusted keys;
/// returns the signing key's id and the (still encoded) payload. The one signature check for
/// approval tokens and revocation lists.
fn verify_jws<'t>(
    keys: &ApproverKeys,
    token: &'t str,
) -> Result<(String, &'t str), TokenRejection> {
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRejection::Malformed(
            "expected three dot-separated parts (JWS compact)".into(),
        ));
    };
    let header: Header = decode_json(h64, "header")?;
    if header.alg != "EdDSA" {
        return Err(TokenRejection::UnsupportedAlgorithm(header.alg));
    }
    if header.crit.is_some() {
        return Err(TokenRejection::Malformed(
            "\"crit\" header extensions are not supported".into(),
        ));
    }
    let kid =
        header.kid.ok_or_else(|| TokenRejection::Malformed("header has no \"kid\"".into()))?;
    let key = keys.0.get(&kid).ok_or_else(|| TokenRejection::UnknownKey(kid.clone()))?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(s64)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(TokenRejection::BadSignature)?;
    key.verify_strict(format!("{h64}.{p64}").as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| TokenRejection::BadSignature)?;
    Ok((kid, p64))
}

/// Revocation lists larger than this are rejected before any decoding (about 40,000 ids).
pub const MAX_REVOCATION_LIST_BYTES: usize = 1024 * 1024;

/// A signed revocation list's claims, the one definition for the approval desk that signs it
/// and the engine that verifies it. The JWS header is `{"alg":"EdDSA","typ":
/// "gatehouse-revocations","kid"}`, signed by an approver key the policy trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationClaims {
    /// The signing key's id; must equal the header's `kid`.
    pub iss: String,
    /// When it was signed (seconds).
    pub iat: i64,
    /// Revoked approval ids (`jti`).
    pub revoked: Vec<String>,
}

/// The header `typ` of a revocation list, so an approval token is never read as one.
pub const REVOCATION_LIST_TYPE: &str = "gatehouse-revocations";

/// Verifies a signed revocation list against the policy's approver keys. It is only ever added
/// to the policy's own `approvals.revoked` (see `Engine::apply_revocation_list`), so a list that
/// verifies can only take approvals away, and one that does not verify changes nothing.
pub fn verify_revocation_list(
    trust: &Trust,
    jws: &str,
) -> Result<RevocationClaims, TokenRejection> {
    let jws = jws.trim();
    if jws.len() > MAX_REVOCATION_LIST_BYTES {
        return Err(TokenRejection::Oversize(jws.len()));
    }
    let header: Header = jws
        .split('.')
        .next()
        .ok_or_else(|| TokenRejection::Malformed("empty".into()))
        .and_then(|h| decode_json(h, "header"))?;
    if header.typ.as_deref() != Some(REVOCATION_LIST_TYPE) {
        return Err(TokenRejection::Malformed(format!(
            "header \"typ\" must be {REVOCATION_LIST_TYPE:?}: this is not a revocation list"
        )));
    }
    let (kid, p64) = verify_jws(&trust.keys, jws)?;
    let claims: RevocationClaims = decode_json(p64, "revocation list")?;
    if claims.iss != kid {
        return Err(TokenRejection::Malformed(
            "\"iss\" does not match the header's \"kid\"".into(),
        ));
    }
    Ok(claims)
}

impl Trust {
    /// Adds revoked ids (never removes any).
    pub(crate) fn revoke(&mut self, ids: impl IntoIterator<Item = String>) -> usize {
        let before = self.revoked.len();
        self.revoked.extend(ids.into_iter().filter(|id| !id.is_empty()));
        self.revoked.len() - before
    }

    /// Records a verified list's signing time (seconds); an older list never makes it staler.
    pub(crate) fn list_signed_at(&mut self, iat_seconds: i64) {
        if let Some(list) = &mut self.list {
            let at = iat_seconds.saturating_mul(1000);
            list.issued_ms = Some(list.issued_ms.map_or(at, |known| known.max(at)));
        }
    }
}

/// AD compares principals case-insensitively (`alice@corp.example` is `ALICE@CORP.EXAMPLE`);
/// a different spelling (`CORP\alice`) is a different principal here, never a fuzzy match.
fn same_principal(identity: &Identity, subject: &str) -> bool {
    identity.principal.as_deref().is_some_and(|p| !p.is_empty() && p.eq_ignore_ascii_case(subject))
}

fn decode_json<T: serde::de::DeserializeOwned>(
    part: &str,
    what: &str,
) -> Result<T, TokenRejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenRejection::Malformed(format!("{what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|e| TokenRejection::Malformed(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{alice, claims, jwk, sign, signing_key, NOW};
    use serde_json::json;

    fn trust() -> Trust {
        let mut keys = ApproverKeys::default();
        keys.add_jwk(&jwk("dept-1", &signing_key(1))).unwrap();
        Trust { keys, revoked: BTreeSet::from(["gone".to_owned()]), max_days: 30, list: None }
    }

    fn verify(token: &str) -> Result<Approval, TokenRejection> {
        verify_approval(&trust(), token, Some(&alice()), NOW, "user")
    }

    fn header() -> Value {
        json!({"alg": "EdDSA", "kid": "dept-1", "typ": "JWT"})
    }

    fn with(claim: &str, value: Value) -> Value {
        let mut c = claims();
        c[claim] = value;
        c
    }

    #[test]
    fn a_good_token_verifies() {
        let a = verify(&sign(&header(), &claims(), &signing_key(1))).unwrap();
        assert_eq!(
            (a.id.as_str(), a.subject.as_str(), a.source.as_str()),
            ("a1", "alice@corp.example", "user")
        );
        assert!(a.covers("gmail", "webmail") && !a.covers("dropbox", "cloud_storage"));
        assert!(trust().in_force(&a, NOW));
        assert!(!trust().in_force(&a, a.expires_ms));
    }

    #[test]
    fn every_rejection_has_its_own_code() {
        let k1 = signing_key(1);
        let cases: Vec<(String, &str)> = vec![
            ("x".repeat(MAX_TOKEN_BYTES + 1), "oversize"),
            ("a.b".into(), "malformed"),
            ("!!.b.c".into(), "malformed"),
            (
                sign(&json!({"alg": "none", "kid": "dept-1"}), &claims(), &k1),
                "unsupported_algorithm",
            ),
            (
                sign(&json!({"alg": "HS256", "kid": "dept-1"}), &claims(), &k1),
                "unsupported_algorithm",
            ),
            (sign(&json!({"alg": "EdDSA", "kid": "other"}), &claims(), &k1), "unknown_key"),
            (sign(&header(), &claims(), &signing_key(2)), "bad_signature"),
            (sign(&header(), &with("nbf", json!(NOW / 1000 + 3600)), &k1), "not_yet_valid"),
            (sign(&header(), &with("exp", json!(NOW / 1000 - 1)), &k1), "expired"),
            (sign(&header(), &with("exp", json!(NOW / 1000 + 40 * 86_400)), &k1), "too_long"),
            (sign(&header(), &with("sub", json!("bob@corp.example")), &k1), "other_user"),
            (sign(&header(), &with("sub", json!("CORP\\alice")), &k1), "other_user"),
            (sign(&header(), &with("machine", json!("WS02")), &k1), "other_machine"),
            (sign(&header(), &with("jti", json!("gone")), &k1), "revoked"),
            (sign(&header(), &with("services", json!([])), &k1), "nothing_approved"),
            (sign(&header(), &with("exp", json!("tomorrow")), &k1), "malformed"),
            (sign(&header(), &with("iss", json!("dept-2")), &k1), "malformed"),
        ];
        for (token, code) in &cases {
            let got = verify(token).map(|a| a.id).map_err(|e| e.code());
            assert_eq!(got, Err(*code), "token {:.60}…", token);
        }
        assert_eq!(cases.len(), 17);
    }

    proptest::proptest! {
        /// Any one character of a valid token changed, anywhere: never accepted. (The signature
        /// covers the base64 text itself, and non-canonical base64 is refused.)
        #[test]
        fn no_single_character_edit_verifies(at in 0usize..400, with in "[A-Za-z0-9_.=-]") {
            let token = sign(&header(), &claims(), &signing_key(1));
            let at = at % token.len();
            let replacement = with.chars().next().unwrap_or('A');
            proptest::prop_assume!(token.as_bytes()[at] != replacement as u8);
            let mut edited = token.clone();
            edited.replace_range(at..=at, &replacement.to_string());
            proptest::prop_assert!(verify(&edited).is_err(), "edit at {} accepted", at);
        }
    }

    #[test]
    fn times_in_messages_are_readable() {
        assert_eq!(TokenRejection::Expired(NOW).to_string(), "expired at 2027-01-15 08:00 UTC");
        assert_eq!(
            TokenRejection::NotYetValid(i64::MAX).to_string(),
            format!("not valid until {} ms after 1970", i64::MAX)
        );
    }

    #[test]
    fn tampering_is_detected() {
        let token = sign(&header(), &claims(), &signing_key(1));
        let (hp, sig) = token.rsplit_once('.').unwrap();
        let (h, _) = hp.split_once('.').unwrap();
        let edited =
            URL_SAFE_NO_PAD.encode(with("services", json!(["gmail", "dropbox"])).to_string());
        assert_eq!(verify(&format!("{h}.{edited}.{sig}")).unwrap_err().code(), "bad_signature");
        assert_eq!(verify(&format!("{hp}.{}", &sig[..40])).unwrap_err().code(), "bad_signature");
        assert_eq!(
            verify_approval(&trust(), &token, None, NOW, "user").unwrap_err().code(),
            "identity_unknown"
        );
    }

    #[test]
    fn bad_policy_keys_are_specific() {
        let mut keys = ApproverKeys::default();
        assert_eq!(
            keys.add_jwk(&json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "AAAA"})),
            Err(KeyError::BadKey)
        );
        assert_eq!(
            keys.add_jwk(&json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "", "d": "x"})),
            Err(KeyError::PrivateKey)
        );
        assert!(matches!(keys.add_jwk(&json!({"kty": "RSA"})), Err(KeyError::NotAJwk(_))));
        let good = jwk("k", &signing_key(3));
        assert_eq!(keys.add_jwk(&good), Ok(()));
        assert_eq!(keys.add_jwk(&good), Err(KeyError::Duplicate("k".into())));
    }
}
