//! Test helpers shared by the unit tests: a signing key, its JWK, signed tokens, a user.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use crate::context::Identity;
use crate::policy::Policy;

/// 2027-01-15T08:00Z.
pub(crate) const NOW: i64 = 1_800_000_000_000;

pub(crate) fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub(crate) fn jwk(kid: &str, key: &SigningKey) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())})
}

pub(crate) fn sign(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = key.sign(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Alice's approval `a1` for Gmail, a day long.
pub(crate) fn claims() -> Value {
    json!({"iss": "dept-1", "sub": "alice@corp.example", "jti": "a1", "iat": NOW / 1000 - 60,
           "exp": NOW / 1000 + 86_400, "services": ["gmail"], "purpose": "liaison"})
}

/// A policy trusting key `dept-1` (seed 1), with `gone` revoked and a 30-day cap.
pub(crate) fn approvals_policy() -> Policy {
    let json = json!({"approvals": {"keys": [jwk("dept-1", &signing_key(1))], "revoked": ["gone"], "maxDays": 30}});
    Policy::from_json(&json.to_string()).unwrap().policy
}

pub(crate) fn alice() -> Identity {
    Identity {
        principal: Some("alice@CORP.EXAMPLE".into()),
        machine: "WS01".into(),
        ..Identity::default()
    }
}
