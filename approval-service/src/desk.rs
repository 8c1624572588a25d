//! The desk: what a request must say to be accepted, and what deciding one does. The issuing
//! rules are `gatehouse_admin::approve`'s (the same as `gatehouse approve --request`): a
//! request is checked at intake by building the claims it would be approved with, so nothing
//! is accepted that could not be approved as asked.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_admin::approve::{
    self, ApproveError, ApproverKey, Draft, Known, RequestRecord, Rules, Validity,
};
use gatehouse_core::Policy;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::store::{
    Changed, Grant, IdentitySource, Inserted, NewRequest, Record, State, Store, StoreError,
};

/// The block page's minimum justification (`MIN_JUSTIFICATION` in extension/background.js).
pub const MIN_JUSTIFICATION_CHARS: usize = 10;
/// The longest `requestId` kept (the block page sends a 36-character UUID).
const MAX_CLIENT_ID_CHARS: usize = 100;
/// The longest deny reason.
pub const MAX_REASON_CHARS: usize = 2000;

/// A request that is not accepted: the HTTP status, the field at fault and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field.map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct Rejected {
    /// 400, 409, 413, 415, 422, 429, or 503 when the database does not answer.
    pub status: u16,
    /// The JSON field (`days`, `service`…), when one is at fault.
    pub field: Option<&'static str>,
    /// What is wrong and the fix.
    pub message: String,
}

impl Rejected {
    fn field(status: u16, field: &'static str, message: impl Into<String>) -> Self {
        Self { status, field: Some(field), message: message.into() }
    }
}

/// A decision that cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecideError {
    /// No request with this id.
    #[error("no request {0}")]
    NotFound(String),
    /// Already approved or denied (by someone else, or a repeated form).
    #[error("request {0} was already decided")]
    AlreadyDecided(String),
    /// Not an approval in force (pending, denied, or already revoked).
    #[error("request {0} is not an approval that can be revoked")]
    NotRevocable(String),
    /// The approval would break the issuing rules (e.g. more days than the policy allows).
    #[error(transparent)]
    Issue(#[from] ApproveError),
    /// More days than the requester asked for.
    #[error("{days} days is more than the {asked} days asked for: approve {asked} days or fewer")]
    MoreThanAsked {
        /// Days given.
        days: u32,
        /// Days asked.
        asked: i64,
    },
    /// No reason given for a denial.
    #[error(
        "a denial needs a reason (at most {MAX_REASON_CHARS} characters): the requester sees it"
    )]
    NoReason,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the requester is told about a request (the status URL's answer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Status {
    /// Waiting.
    Pending,
    /// Approved: import `token`.
    #[serde(rename_all = "camelCase")]
    Approved {
        /// The signed approval token (bound to the requester's principal and machine).
        token: String,
        /// Its end, ms since the epoch.
        expires_ms: i64,
        /// Days granted (may be fewer than asked).
        days: i64,
    },
    /// Approved, then revoked.
    #[serde(rename_all = "camelCase")]
    Revoked {
        /// When, ms since the epoch.
        revoked_ms: i64,
    },
    /// Denied.
    Denied {
        /// The approver's reason.
        reason: String,
    },
}

/// The department's desk: policy, signing key and records.
#[derive(Debug)]
pub struct Desk {
    /// The records.
    pub store: Store,
    policy: Policy,
    key: ApproverKey,
    retired: Vec<ApproverKey>,
    /// The last revocation list read: when, its tag and ids.
    revocations: std::sync::Mutex<Option<(std::time::Instant, String, Vec<String>)>>,
}

/// How long a revocation list read from the database is served from memory. A revocation on
/// this desk clears it at once; one made by another desk on the same PostgreSQL database shows
/// within this time (desktops poll every few minutes).
const REVOCATIONS_CACHED: std::time::Duration = std::time::Duration::from_secs(1);

/// How often the revocation list is signed anew although unchanged.
const REVOCATIONS_RESIGNED_MS: i64 = 3_600_000;

impl Desk {
    /// A desk signing with `key`, publishing `retired` keys too.
    pub fn new(store: Store, policy: Policy, key: ApproverKey, retired: Vec<ApproverKey>) -> Self {
        Self { store, policy, key, retired, revocations: std::sync::Mutex::new(None) }
    }

    /// The policy requests are checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The public JWKs of the current and the retired keys, current first: the policy's
    /// `approvals.keys` must hold them.
    pub fn public_jwks(&self) -> Vec<Value> {
        std::iter::once(&self.key).chain(&self.retired).map(ApproverKey::public_jwk).collect()
    }

    /// The longest approval the desk issues: the policy's cap on requests (never above its cap
    /// on approvals).
    pub fn max_days(&self) -> u32 {
        self.policy.requests().max_days.min(self.policy.max_approval_days())
    }

    fn rules(&self) -> Rules {
        Rules {
            known: Known::from_policy(&self.policy),
            allow_unknown: false,
            max_days: self.max_days(),
        }
    }

    /// Checks what the block page posted and turns it into a request to store. `authenticated`
    /// is the principal the domain signed the request in as, if any.
    ///
    /// # Errors
    /// [`Rejected`] naming the field at fault.
    pub fn check(
        &self,
        body: &[u8],
        authenticated: Option<&str>,
        now_ms: i64,
    ) -> Result<NewRequest, Rejected> {
        let text = std::str::from_utf8(body).map_err(|_| Rejected {
            status: 400,
            field: None,
            message: "the body is not UTF-8 JSON".into(),
        })?;
        let value: Value =
            serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| Rejected {
                status: 400,
                field: None,
                message: format!("the body is not JSON: {e}"),
            })?;
        let Some(object) = value.as_object() else {
            return Err(Rejected {
                status: 400,
                field: None,
                message: "expected a JSON object (the block page's request record)".into(),
            });
        };
        // Types first, so that a wrong type names its field (serde's message does not).
        for field in [
            "requestId",
            "user",
            "principal",
            "machine",
            "service",
            "category",
            "origin",
            "justification",
        ] {
            if let Some(v) = object.get(field) {
                if !(v.is_string() || v.is_null()) {
                    return Err(Rejected::field(422, static_name(field), "must be a string"));
                }
            }
        }
        for field in ["days", "createdMs"] {
            if let Some(v) = object.get(field) {
                if !(v.is_null() || v.is_i64() || v.is_u64()) {
                    return Err(Rejected::field(422, static_name(field), "must be a whole number"));
                }
            }
        }
        if let Some(days) = object.get("days").and_then(Value::as_i64) {
            if days < 1 || days > i64::from(u32::MAX) {
                return Err(Rejected::field(
                    422,
                    "days",
                    format!("is {days}: ask for 1 to {} days", self.max_days()),
                ));
            }
        }
        let record = match RequestRecord::parse(text) {
            Ok(r) => r,
            Err(ApproveError::BadRequest(m)) if m.contains("requestId") => {
                return Err(Rejected::field(
                    422,
                    "requestId",
                    "is missing or empty: send the block page's request record",
                ))
            }
            Err(e) => return Err(Rejected { status: 400, field: None, message: e.to_string() }),
        };
        if record.request_id.chars().count() > MAX_CLIENT_ID_CHARS
            || record.request_id.chars().any(char::is_control)
        {
            return Err(Rejected::field(
                422,
                "requestId",
                "must be at most 100 characters without control characters",
            ));
        }
        let machine = record.machine.clone().ok_or_else(|| {
            Rejected::field(
                422,
                "machine",
                "is missing: the approval is bound to the requesting machine",
            )
        })?;
        if record.principal.is_none() && record.user.is_none() {
            return Err(Rejected::field(
                422,
                "principal",
                "is missing (and so is user): the approval is issued to the requester's principal",
            ));
        }
        // A principal the domain authenticated (through the reverse proxy) is the requester;
        // a desktop that reports someone else is refused rather than believed.
        let mut record = record;
        let identity = match authenticated {
            None => IdentitySource::Reported,
            Some(user) => {
                if let Some(reported) = record.principal.as_deref() {
                    if !reported.eq_ignore_ascii_case(user) {
                        return Err(Rejected::field(
                            422,
                            "principal",
                            format!("is {reported:?}, but the domain signed this request in as {user:?}"),
                        ));
                    }
                }
                record.principal = Some(user.to_owned());
                IdentitySource::Kerberos
            }
        };
        let service_id = record.service.clone().ok_or_else(|| {
            Rejected::field(
                422,
                "service",
                "is missing: a request names the one service it asks for",
            )
        })?;
        let Some(service) = self.policy.services().iter().find(|s| s.id == service_id) else {
            return Err(Rejected::field(
                422,
                "service",
                format!(
                    "{service_id:?} is not a service in the department's policy or the catalogue"
                ),
            ));
        };
        if let Some(category) = &record.category {
            if *category != service.category {
                return Err(Rejected::field(
                    422,
                    "category",
                    format!("{category:?} is not {service_id}'s category ({})", service.category),
                ));
            }
        }
        let justification = record.justification.clone().unwrap_or_default();
        if justification.chars().count() < MIN_JUSTIFICATION_CHARS {
            return Err(Rejected::field(422, "justification", format!("is missing or shorter than {MIN_JUSTIFICATION_CHARS} characters: say what the service is needed for")));
        }
        let days = record
            .days
            .ok_or_else(|| Rejected::field(422, "days", "is missing: ask for a number of days"))?;
        // The issuing rules decide the rest, exactly as they will when it is approved.
        let (draft, _) = Draft::from_request(&record);
        if let Err(e) =
            approve::claims(&draft, &self.rules(), self.key.kid(), "check".into(), now_ms / 1000)
        {
            return Err(issue_rejection(e, self.max_days()));
        }
        Ok(NewRequest {
            id: new_id().map_err(|e| Rejected {
                status: 500,
                field: None,
                message: e.to_string(),
            })?,
            client_request_id: record.request_id,
            created_ms: now_ms,
            principal: record.principal,
            os_user: record.user,
            machine,
            identity_source: identity,
            service: service_id,
            category: service.category.clone(),
            origin: record.origin,
            justification,
            days_requested: i64::from(days),
        })
    }

    /// Stores a checked request; returns the desk's id (the first one's, for a retry).
    ///
    /// # Errors
    /// [`Rejected`] with 409 when another request has the same `requestId`; 500 on a database
    /// failure.
    pub async fn submit(&self, request: &NewRequest) -> Result<String, Rejected> {
        match self.store.insert(request).await {
            Ok(Inserted::New) => Ok(request.id.clone()),
            Ok(Inserted::Existing(id)) => Ok(id),
            Ok(Inserted::Conflict) => Err(Rejected::field(
                409,
                "requestId",
                "another request already has this requestId: send a new one",
            )),
            Err(e) => {
                tracing::error!(error = %e, "storing a request failed");
                Err(Rejected {
                    status: 500,
                    field: None,
                    message: "the request could not be stored; try again later".into(),
                })
            }
        }
    }

    /// The revocation list as of `now_ms`: its entity tag (the same for the same ids and key)
    /// and the list signed by the current key. The engine adds the ids to the policy's own
    /// revocations ([`gatehouse_core::Engine::apply_revocation_list`]).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn revocations(&self, now_ms: i64) -> Result<(String, Vec<String>), StoreError> {
        if let Ok(cache) = self.revocations.lock() {
            if let Some((at, tag, ids)) = cache.as_ref() {
                if at.elapsed() < REVOCATIONS_CACHED {
                    return Ok((tag.clone(), ids.clone()));
                }
            }
        }
        let ids = self.store.revoked_jtis(now_ms).await?;
        let mut hash = Sha256::new();
        hash.update(self.key.kid().as_bytes());
        // A new tag every hour even when nothing changed, so desktops fetch a newly signed
        // list: its `iat` is what keeps their approvals honoured (revocationListMaxHours).
        hash.update(now_ms.div_euclid(REVOCATIONS_RESIGNED_MS).to_be_bytes());
        for id in &ids {
            hash.update(b"\n");
            hash.update(id.as_bytes());
        }
        let digest = hash.finalize();
        let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let tag = format!("\"{tag}\"");
        if let Ok(mut cache) = self.revocations.lock() {
            *cache = Some((std::time::Instant::now(), tag.clone(), ids.clone()));
        }
        Ok((tag, ids))
    }

    /// Signs a revocation list with the current key.
    pub fn sign_revocations(&self, ids: Vec<String>, now_ms: i64) -> String {
        self.key.sign_revocations(ids, now_ms / 1000)
    }

    /// The requester's view of a request.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn status(&self, id: &str) -> Result<Option<Status>, StoreError> {
        Ok(self.store.get(id).await?.map(|r| status_of(&r)))
    }

    /// Approves a pending request for `days` (at most what was asked and what the policy
    /// allows), signing the token with the current key.
    ///
    /// # Errors
    /// [`DecideError`].
    pub async fn approve(
        &self,
        id: &str,
        by: &str,
        days: u32,
        now_ms: i64,
    ) -> Result<Grant, DecideError> {
        let record = self.store.get(id).await?.ok_or_else(|| DecideError::NotFound(id.into()))?;
        if record.state != State::Pending {
            return Err(DecideError::AlreadyDecided(id.into()));
        }
        let r = &record.request;
        if i64::from(days) > r.days_requested {
            return Err(DecideError::MoreThanAsked { days, asked: r.days_requested });
        }
        let draft = Draft {
            subject: r.principal.clone().or_else(|| r.os_user.clone()),
            machine: Some(r.machine.clone()),
            services: vec![r.service.clone()],
            categories: Vec::new(),
            purpose: Some(r.justification.clone()),
            request_id: Some(r.client_request_id.clone()),
            approver: Some(by.to_owned()),
            validity: Some(Validity::Days(days)),
        };
        let jti = approve::new_jti()?;
        let (claims, _) =
            approve::claims(&draft, &self.rules(), self.key.kid(), jti, now_ms / 1000)?;
        let token = self.key.sign(&claims)?;
        let grant = Grant {
            by: by.to_owned(),
            at_ms: now_ms,
            days: i64::from(days),
            jti: claims.jti.clone(),
            kid: self.key.kid().to_owned(),
            token,
            expires_ms: claims.exp.saturating_mul(1000),
        };
        match self.store.approve(id, &grant).await? {
            Changed::Done => {
                tracing::info!(request = id, approver = by, days, jti = %grant.jti, "approved");
                Ok(grant)
            }
            Changed::NotApplicable => Err(DecideError::AlreadyDecided(id.into())),
        }
    }

    /// Denies a pending request with a reason the requester sees.
    ///
    /// # Errors
    /// [`DecideError`].
    pub async fn deny(
        &self,
        id: &str,
        by: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), DecideError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(DecideError::NoReason);
        }
        match self.store.deny(id, by, reason, now_ms).await? {
            Changed::Done => {
                tracing::info!(request = id, approver = by, "denied");
                Ok(())
            }
            Changed::NotApplicable => match self.store.get(id).await? {
                None => Err(DecideError::NotFound(id.into())),
                Some(_) => Err(DecideError::AlreadyDecided(id.into())),
            },
        }
    }

    /// Revokes an approval in force.
    ///
    /// # Errors
    /// [`DecideError`].
    pub async fn revoke(&self, id: &str, by: &str, now_ms: i64) -> Result<(), DecideError> {
        let changed = self.store.revoke(id, by, now_ms).await?;
        if let Ok(mut cache) = self.revocations.lock() {
            *cache = None;
        }
        match changed {
            Changed::Done => {
                tracing::info!(request = id, by, "revoked");
                Ok(())
            }
            Changed::NotApplicable => match self.store.get(id).await? {
                None => Err(DecideError::NotFound(id.into())),
                Some(_) => Err(DecideError::NotRevocable(id.into())),
            },
        }
    }
}

/// The requester's view of a record.
pub fn status_of(record: &Record) -> Status {
    match &record.state {
        State::Pending => Status::Pending,
        State::Denied { reason } => Status::Denied { reason: reason.clone() },
        State::Approved { revoked: Some((at, _)), .. } => Status::Revoked { revoked_ms: *at },
        State::Approved { token, expires_ms, days, .. } => {
            Status::Approved { token: token.clone(), expires_ms: *expires_ms, days: *days }
        }
    }
}

/// A new desk id: 128 random bits, base64url (22 characters). It is also what lets the
/// requester's desktop read the status, so it must not be guessable.
///
/// # Errors
/// [`ApproveError::Random`].
pub fn new_id() -> Result<String, ApproveError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApproveError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `id` has the shape of a desk id (so other text never reaches a query).
pub fn is_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads a signing key file, refusing one that others can read.
///
/// # Errors
/// A message naming the file and the fix.
pub fn load_key(path: &Path) -> anyhow::Result<ApproverKey> {
    use anyhow::Context as _;
    if approve::readable_by_others(path) {
        anyhow::bail!(
            "{} can be read by other users; make it owner-only (chmod 600 {}) — anyone who reads it can sign approvals",
            path.display(),
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {} (signing.key)", path.display()))?;
    ApproverKey::from_jwk(&text).with_context(|| format!("signing key {}", path.display()))
}

fn static_name(field: &str) -> &'static str {
    match field {
        "requestId" => "requestId",
        "user" => "user",
        "principal" => "principal",
        "machine" => "machine",
        "service" => "service",
        "category" => "category",
        "origin" => "origin",
        "justification" => "justification",
        "days" => "days",
        "createdMs" => "createdMs",
        _ => "body",
    }
}

/// The issuing rules' objection, as the field of the block page's record at fault.
fn issue_rejection(e: ApproveError, max_days: u32) -> Rejected {
    let field = match &e {
        ApproveError::NoSubject => "principal",
        ApproveError::BadField { field: "--user", .. } => "principal",
        ApproveError::BadField { field: "--machine", .. } => "machine",
        ApproveError::UnknownService { .. } | ApproveError::NothingApproved => "service",
        ApproveError::UnknownCategory { .. } => "category",
        ApproveError::NoPurpose | ApproveError::PurposeTooLong(_) => "justification",
        ApproveError::ZeroDays | ApproveError::NoDuration => "days",
        ApproveError::TooLong { days, .. } => {
            return Rejected::field(422, "days", format!("{days} days is past the policy's maximum of {max_days}: ask for {max_days} days or fewer"))
        }
        _ => return Rejected { status: 422, field: None, message: e.to_string() },
    };
    Rejected::field(422, field, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_128_bits_and_distinct() {
        let a = new_id().unwrap();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, new_id().unwrap());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
        assert!(!is_id("' OR 1=1 --xxxxxxxxxxxx"));
    }
}
