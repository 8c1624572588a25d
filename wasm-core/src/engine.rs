//! `Engine`: a parsed policy and the context it decides in — the one entry point that the CLI, the native host and the extension (through `wasm.rs`) all drive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::Names;
use crate::context::Approval;
use crate::context::{Context, Identity, Proceed};
use crate::decide::{judge, Action, Brief, Reason, Verdict};
use crate::parse::Warning;
use crate::policy::{Mode, Parsed, Policy, PolicyError, RequestRouting, RevocationFeed};
use crate::request::Request;
use crate::rules::CompiledRules;
use crate::scope::ScopeDecision;
use crate::token::{check_approval, signed_approval, verify_revocation_list, TokenRejection};

/// The defaults a policy falls back to, for the pages and the admin tools (never copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Defaults {
    /// How many days an approval (and an approval request) may last at most.
    pub max_approval_days: u32,
    /// How long a warn-mode "continue" lasts, in minutes.
    pub warn_proceed_minutes: u32,
}

/// The built-in defaults.
pub const DEFAULTS: Defaults = Defaults {
    max_approval_days: crate::policy::DEFAULT_MAX_DAYS,
    warn_proceed_minutes: crate::policy::DEFAULT_PROCEED_MINUTES,
};

/// One approval token as the native host read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TokenInput {
    /// The JWS compact token.
    pub token: String,
    /// Where it was found (`machine`, `user`, …).
    pub source: String,
    /// The file it came from, if any.
    pub file: Option<String>,
}

/// What verifying one token found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResult {
    /// Whether it is an approval in force for this user and machine.
    pub ok: bool,
    /// The approval, when `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The rejection code ([`crate::TokenRejection::code`]), when not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The rejection, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// An authentic token that is not in force keeps its claims, so the block page can say
    /// "your approval for this ended" (it grants nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Approval>,
    /// As given.
    pub source: String,
    /// As given.
    pub file: Option<String>,
}

/// Why an authentic approval for the service asked about does not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalNote {
    /// The approval's id (`jti`).
    pub id: String,
    /// The rejection code (`expired`, `revoked`, `other_machine`, …).
    pub reason: &'static str,
    /// Valid from (ms).
    pub not_before_ms: i64,
    /// Valid until (ms).
    pub expires_ms: i64,
}

/// Everything the block page shows about one URL, decided here so the page copies nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The verdict (`reason: proceeded` once the user continued on this service).
    pub verdict: Verdict,
    /// When the category's adaptation period ends, if it has one.
    pub adaptation_end_ms: Option<i64>,
    /// Authentic approvals for this service that do not apply, and why.
    pub approval_notes: Vec<ApprovalNote>,
    /// How approval requests are routed (`maxDays` is the policy's, never a copy).
    pub requests: RequestRouting,
    /// How long a "continue" lasts here.
    pub warn_proceed_minutes: u32,
}

/// A category as the pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryInfo {
    /// Its mode.
    pub mode: Mode,
    /// When its adaptation period ends.
    pub adaptation_end_ms: Option<i64>,
    /// Display name.
    pub name: Names,
    /// Whether its broad tier applies (`categories.<id>.broad`).
    pub broad: bool,
}

/// What the pages and the worker need to know about the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    /// The department's name on the block page.
    pub department: Option<Names>,
    /// Whom to contact.
    pub contact: Option<String>,
    /// The department's message.
    pub message: Option<Names>,
    /// How approval requests are routed.
    pub requests: RequestRouting,
    /// Where the approval desk's signed revocation list is fetched from, if anywhere.
    pub revocation_list: Option<RevocationFeed>,
    /// How long a "continue" lasts.
    pub warn_proceed_minutes: u32,
    /// Whether audit events carry full URLs.
    pub audit_full_url: bool,
    /// Internal host names the native host should try to resolve.
    pub probe_hosts: Vec<String>,
    /// The cap on approvals.
    pub max_approval_days: u32,
    /// The categories by id.
    pub categories: BTreeMap<String, CategoryInfo>,
    /// The built-in defaults the policy falls back to.
    pub defaults: Defaults,
    /// Whether the broad tier is loaded, and its hosts per category.
    pub broad_tier: crate::broad::BroadStatus,
}

/// Why a "continue" is refused: the verdict's reason (only `warned` and `adaptation_period`
/// verdicts can be continued past).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("continuing is not possible: {}", .0.code())]
pub struct NotWarned(pub Reason);

/// A compiled policy with the context it decides in.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Policy,
    warnings: Vec<Warning>,
    context: Context,
    /// The policy's scope in `context`, evaluated once per context (it does not change with time).
    scope: ScopeDecision,
}

impl Engine {
    /// Parses a policy (JSON text). Bad entries become [`Engine::warnings`]; only an unusable
    /// policy is an error.
    pub fn new(policy_json: &str) -> Result<Self, PolicyError> {
        Policy::from_json(policy_json).map(Self::from_parsed)
    }

    /// An engine for an already parsed policy.
    pub fn from_parsed(parsed: Parsed) -> Self {
        let context = Context::default();
        let scope = parsed.policy.scope.evaluate(&context);
        Self { policy: parsed.policy, warnings: parsed.warnings, context, scope }
    }

    /// The embedded default policy (every category blocked).
    pub fn embedded_default() -> Self {
        Self::from_parsed(Parsed { policy: Policy::embedded_default(), warnings: Vec::new() })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Every policy entry that was skipped or adjusted.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The context decisions are made in.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Sets the context (once per change of identity, network, approvals or proceeds).
    pub fn set_context(&mut self, context: Context) {
        self.scope = self.policy.scope.evaluate(&context);
        self.context = context;
    }

    /// The verdict for `request` in the engine's context at `now_ms`.
    pub fn decide(&self, request: &Request, now_ms: i64) -> Verdict {
        self.brief(request, now_ms).verdict(&self.policy, || self.scope.explanation.clone())
    }

    /// The verdict without names or sentence, borrowed from the engine: what the service
    /// worker asks on every navigation (`check`), deciding without allocating.
    pub fn brief(&self, request: &Request, now_ms: i64) -> Brief<'_> {
        judge(&self.policy, &self.context, || self.scope.in_scope, now_ms, request)
    }

    /// The rules for the engine's context at `now_ms`.
    pub fn compile_rules(&self, now_ms: i64, block_page_url: &str) -> CompiledRules {
        let context = Context { now_ms, ..self.context.clone() };
        crate::rules::compile_rules(&self.policy, &context, block_page_url)
    }

    /// Whether this machine is in the policy's scope, given the engine's context.
    pub fn scope(&self) -> ScopeDecision {
        self.scope.clone()
    }

    /// Adds the approval ids of a signed revocation list (the approval desk's, signed by an
    /// approver key this policy trusts) to the policy's own `approvals.revoked`; returns how many
    /// were new. Only ever adds: a list that verifies can take approvals away, never give one
    /// back, and one that does not verify is an error for the caller to report and changes
    /// nothing. Parsing a new policy starts from its own list again, so the caller applies its
    /// last list after each policy change. Its signing time is what keeps approvals honoured
    /// (`approvals.revocationListMaxHours`).
    pub fn apply_revocation_list(&mut self, jws: &str) -> Result<usize, TokenRejection> {
        let list = verify_revocation_list(&self.policy.trust, jws)?;
        self.policy.trust.list_signed_at(list.iat);
        Ok(self.policy.trust.revoke(list.revoked))
    }

    /// Verifies tokens for `identity` at `now_ms`. The signature is checked once; an authentic
    /// token not in force keeps its claims ([`TokenResult::claims`]).
    pub fn verify_tokens(
        &self,
        tokens: Vec<TokenInput>,
        identity: Option<&Identity>,
        now_ms: i64,
    ) -> Vec<TokenResult> {
        tokens
            .into_iter()
            .map(|t| {
                let (verdict, claims) =
                    match signed_approval(&self.policy.trust, &t.token, &t.source) {
                        Err(e) => (Err(e), None),
                        Ok(signed) => {
                            let checked = check_approval(
                                &self.policy.trust,
                                signed.clone(),
                                identity,
                                now_ms,
                            );
                            let claims = checked.is_err().then_some(signed);
                            (checked, claims)
                        }
                    };
                let (approval, reason, message) = match verdict {
                    Ok(approval) => (Some(approval), None, None),
                    Err(e) => (None, Some(e.code()), Some(e.to_string())),
                };
                TokenResult {
                    ok: approval.is_some(),
                    approval,
                    reason,
                    message,
                    claims,
                    source: t.source,
                    file: t.file,
                }
            })
            .collect()
    }

    /// What the block page shows for `request` at `now_ms`; `tokens` are the last
    /// [`Engine::verify_tokens`] results.
    pub fn explain(&self, request: &Request, now_ms: i64, tokens: &[TokenResult]) -> Explanation {
        let verdict = self.decide(request, now_ms);
        let approval_notes = match (&verdict.service, &verdict.category) {
            (Some(service), Some(category)) if verdict.action != Action::Allow => tokens
                .iter()
                .filter_map(|r| Some((r.claims.as_ref()?, r.reason?)))
                .filter(|(claims, _)| claims.covers(&service.id, category))
                .map(|(claims, reason)| ApprovalNote {
                    id: claims.id.clone(),
                    reason,
                    not_before_ms: claims.not_before_ms,
                    expires_ms: claims.expires_ms,
                })
                .collect(),
            _ => Vec::new(),
        };
        let adaptation_end_ms =
            verdict.category.as_deref().and_then(|c| self.policy.category(c).adaptation_end_ms);
        Explanation {
            verdict,
            adaptation_end_ms,
            approval_notes,
            requests: self.policy.requests.clone(),
            warn_proceed_minutes: self.policy.warn_proceed_minutes,
        }
    }

    /// The "continue" for `request` at `now_ms`: its service, until the policy's time is up.
    /// Only a warning can be continued past.
    pub fn proceed(&self, request: &Request, now_ms: i64) -> Result<Proceed, NotWarned> {
        let verdict = self.decide(request, now_ms);
        match (verdict.action, verdict.service) {
            (Action::Warn, Some(service)) => Ok(Proceed {
                service: service.id,
                until_ms: now_ms
                    .saturating_add(i64::from(self.policy.warn_proceed_minutes) * 60_000),
            }),
            _ => Err(NotWarned(verdict.reason)),
        }
    }

    /// What the pages need to know about the policy.
    pub fn info(&self) -> PolicyInfo {
        let p = &self.policy;
        PolicyInfo {
            department: p.block_page.department.clone(),
            contact: p.block_page.contact.clone(),
            message: p.block_page.message.clone(),
            requests: p.requests.clone(),
            revocation_list: p.revocation_feed.clone(),
            warn_proceed_minutes: p.warn_proceed_minutes,
            audit_full_url: p.audit_full_url,
            probe_hosts: p.scope.probe_hosts().to_vec(),
            max_approval_days: p.trust.max_days,
            categories: p
                .categories
                .iter()
                .map(|(id, c)| {
                    let info = CategoryInfo {
                        mode: c.mode,
                        adaptation_end_ms: c.adaptation_end_ms,
                        name: c.name.clone(),
                        broad: c.broad,
                    };
                    (id.clone(), info)
                })
                .collect(),
            defaults: DEFAULTS,
            broad_tier: crate::broad::status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ResourceType;
    use crate::testing::{alice, claims, jwk, sign, signing_key, NOW};
    use serde_json::json;

    fn req(url: &str) -> Request<'_> {
        Request::new(url, ResourceType::MainFrame).unwrap()
    }

    fn list(kid: &str, key: u8, typ: &str, revoked: &[&str]) -> String {
        list_signed(kid, key, typ, revoked, NOW)
    }

    fn list_signed(kid: &str, key: u8, typ: &str, revoked: &[&str], at_ms: i64) -> String {
        let header = json!({"alg": "EdDSA", "typ": typ, "kid": kid});
        sign(
            &header,
            &json!({"iss": kid, "iat": at_ms / 1000, "revoked": revoked}),
            &signing_key(key),
        )
    }

    fn revocation_engine() -> Engine {
        let policy =
            json!({"approvals": {"keys": [jwk("dept-1", &signing_key(1))], "revoked": ["old"]}});
        Engine::new(&policy.to_string()).unwrap()
    }

    fn a1_verdict(engine: &Engine) -> Option<&'static str> {
        let token = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(1));
        let input = TokenInput { token, source: "user".into(), file: None };
        engine.verify_tokens(vec![input], Some(&alice()), NOW).remove(0).reason
    }

    /// A verified revocation list revokes live, on top of the policy's own list.
    #[test]
    fn a_signed_revocation_list_revokes() {
        let mut engine = revocation_engine();
        assert_eq!(a1_verdict(&engine), None);
        let good = list("dept-1", 1, crate::token::REVOCATION_LIST_TYPE, &["a1", "old", ""]);
        assert_eq!(engine.apply_revocation_list(&good), Ok(1));
        assert_eq!(a1_verdict(&engine), Some("revoked"));
        assert!(engine.policy().trust.revoked.contains("old"));
        // An empty (or older, shorter) list later never gives anything back.
        let empty = list("dept-1", 1, crate::token::REVOCATION_LIST_TYPE, &[]);
        assert_eq!(engine.apply_revocation_list(&empty), Ok(0));
        assert_eq!(a1_verdict(&engine), Some("revoked"));
        assert!(engine.policy().trust.revoked.contains("old"));
    }

    /// With the desk's list in the policy, approvals are honoured only while a verified list is
    /// recent: none yet, or one older than `revocationListMaxHours`, and nothing is approved —
    /// a desk made unreachable with its kept list deleted cannot bring a revocation back.
    #[test]
    fn approvals_need_a_recent_revocation_list() {
        let hour = 3_600_000;
        let policy = json!({"approvals": {
            "keys": [jwk("dept-1", &signing_key(1))],
            "revocationListUrl": "https://desk.corp.example/api/revocations",
            "revocationListMaxHours": 2,
        }});
        let mut engine = Engine::new(&policy.to_string()).unwrap();
        let typ = crate::token::REVOCATION_LIST_TYPE;
        let tokens_at = |engine: &Engine, now: i64| {
            let token = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(1));
            let input = TokenInput { token, source: "user".into(), file: None };
            engine.verify_tokens(vec![input], Some(&alice()), now).remove(0)
        };
        let none_yet = tokens_at(&engine, NOW);
        assert_eq!(none_yet.reason, Some("revocation_list_stale"));
        assert!(none_yet.claims.is_some(), "authentic, only not honoured");

        // A list signed an hour ago: honoured for one more hour, then not.
        let signed = NOW - hour;
        assert_eq!(
            engine.apply_revocation_list(&list_signed("dept-1", 1, typ, &[], signed)),
            Ok(0)
        );
        assert_eq!(tokens_at(&engine, NOW).reason, None);
        assert_eq!(tokens_at(&engine, NOW + hour - 1).reason, None);
        assert_eq!(tokens_at(&engine, NOW + hour).reason, Some("revocation_list_stale"));
        // An older list put back later never moves the time back.
        let older = list_signed("dept-1", 1, typ, &[], NOW - 10 * hour);
        assert_eq!(engine.apply_revocation_list(&older), Ok(0));
        assert_eq!(tokens_at(&engine, NOW).reason, None);

        // Deciding and the compiled rules drop the approval when the list ages out.
        let mut context = engine.context().clone();
        context.identity = Some(alice());
        context.approvals = tokens_at(&engine, NOW).approval.into_iter().collect();
        context.now_ms = NOW;
        engine.set_context(context);
        let compiled = engine.compile_rules(NOW, "chrome-extension://x/block.html");
        assert_eq!(compiled.next_change_ms, Some(signed + 2 * hour));
        let gmail = req("https://mail.google.com/mail/u/0/");
        assert!(engine.decide(&gmail, NOW).approval.is_some());
        assert!(engine.decide(&gmail, NOW + hour).approval.is_none());
    }

    /// A list that does not verify is refused with a reason and changes nothing.
    #[test]
    fn an_unverifiable_revocation_list_changes_nothing() {
        let typ = crate::token::REVOCATION_LIST_TYPE;
        let good = list("dept-1", 1, typ, &["a1"]);
        let (hp, _) = good.rsplit_once('.').unwrap();
        let approval = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(1));
        let cases = [
            (list("dept-1", 2, typ, &["a1"]), "bad_signature"),
            (list("dept-9", 1, typ, &["a1"]), "unknown_key"),
            (list("dept-1", 1, "JWT", &["a1"]), "malformed"),
            (
                sign(
                    &json!({"alg": "none", "typ": typ, "kid": "dept-1"}),
                    &json!({"iss": "dept-1", "iat": 1, "revoked": ["a1"]}),
                    &signing_key(1),
                ),
                "unsupported_algorithm",
            ),
            (
                sign(
                    &json!({"alg": "EdDSA", "typ": typ, "kid": "dept-1"}),
                    &json!({"iss": "dept-2", "iat": 1, "revoked": ["a1"]}),
                    &signing_key(1),
                ),
                "malformed",
            ),
            (
                sign(
                    &json!({"alg": "EdDSA", "typ": typ, "kid": "dept-1"}),
                    &json!({"iss": "dept-1", "iat": 1, "revoked": "a1"}),
                    &signing_key(1),
                ),
                "malformed",
            ),
            (format!("{hp}.{}", "A".repeat(86)), "bad_signature"),
            (approval, "malformed"),
            ("not a list".into(), "malformed"),
            ("x".repeat(crate::token::MAX_REVOCATION_LIST_BYTES + 1), "oversize"),
        ];
        let mut engine = revocation_engine();
        let before = engine.policy().trust.clone();
        for (jws, code) in &cases {
            assert_eq!(
                engine.apply_revocation_list(jws).map_err(|e| e.code()),
                Err(*code),
                "{jws:.80}"
            );
            assert_eq!(engine.policy().trust, before);
        }
        assert_eq!(a1_verdict(&engine), None);
        assert_eq!(cases.len(), 10);
    }

    /// The shared-host case end to end through the engine: continue on Chat, Gmail stays shut.
    #[test]
    fn proceed_then_decide_opens_only_that_service() {
        let mut engine =
            Engine::new(r#"{"categories": {"instant_messaging": {"mode": "warn"}}, "warn": {"proceedMinutes": 5}}"#)
                .unwrap();
        let chat = req("https://mail.google.com/chat/u/0/");
        let gmail = req("https://mail.google.com/mail/u/0/");
        assert_eq!(engine.proceed(&gmail, NOW), Err(NotWarned(Reason::Blocked)));
        let proceed = engine.proceed(&chat, NOW).unwrap();
        assert_eq!(proceed, Proceed { service: "google_chat".into(), until_ms: NOW + 300_000 });
        engine.set_context(Context { proceeds: vec![proceed], ..Context::default() });
        assert_eq!(engine.decide(&chat, NOW).reason, Reason::Proceeded);
        assert_eq!(engine.decide(&gmail, NOW).reason, Reason::Blocked);
        assert_eq!(engine.decide(&chat, NOW + 300_000).reason, Reason::Warned);
        let page = engine.explain(&chat, NOW, &[]);
        assert_eq!((page.verdict.action, page.warn_proceed_minutes), (Action::Allow, 5));
    }

    /// The worker's brief verdict (`check`) and the worded one say the same, at every step of
    /// the evaluation order — the wasm surface's brief cache is keyed on the brief alone.
    #[test]
    fn brief_says_what_the_verdict_says() {
        let policy = json!({
            "approvals": {"keys": [jwk("dept-1", &signing_key(1))]},
            "categories": {"instant_messaging": {"mode": "warn"}, "cloud_storage": {"mode": "monitor"}},
            "allowlist": ["=126.com", "service:proton_mail"],
            "scope": {"joinedDomains": ["corp.example"]},
        });
        let mut engine = Engine::new(&policy.to_string()).unwrap();
        let token = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(1));
        let input = TokenInput { token, source: "user".into(), file: None };
        let approval = engine.verify_tokens(vec![input], Some(&alice()), NOW).remove(0).approval;
        let joined = Identity { joined: true, domain: Some("corp.example".into()), ..alice() };
        let urls = [
            "chrome://settings/",
            "https://example.org/",
            "https://mail.google.com/mail/u/0/", // approved
            "https://outlook.live.com/mail/",    // blocked
            "https://126.com/",                  // allowlisted by pattern
            "https://mail.proton.me/u/0/",       // allowlisted by service
            "https://web.whatsapp.com/",         // warned, then continued
            "https://www.dropbox.com/home",      // monitored
            "https://www.yopmail.com/en/",       // broad tier
            "https://translate.google.com/translate?u=https://web.telegram.org/", // carried
        ];
        let contexts = [
            Context {
                identity: Some(joined.clone()),
                approvals: approval.into_iter().collect(),
                ..Context::default()
            },
            Context {
                identity: Some(joined),
                proceeds: vec![engine.proceed(&req("https://web.whatsapp.com/"), NOW).unwrap()],
                ..Context::default()
            },
            Context { identity: Some(Identity { joined: false, ..alice() }), ..Context::default() },
        ];
        let mut reasons = std::collections::BTreeSet::new();
        for context in contexts {
            engine.set_context(context);
            for url in urls {
                let request = req(url);
                let (brief, verdict) = (engine.brief(&request, NOW), engine.decide(&request, NOW));
                let rule = brief.matched_rule().map(|p| p.to_string());
                assert_eq!(
                    (
                        brief.action,
                        brief.reason,
                        brief.in_scope,
                        brief.category(),
                        brief.service_id()
                    ),
                    (
                        verdict.action,
                        verdict.reason,
                        verdict.in_scope,
                        verdict.category.as_deref(),
                        verdict.service.as_ref().map(|s| s.id.as_str())
                    ),
                    "{url}"
                );
                assert_eq!(rule, verdict.matched_rule, "{url}");
                assert_eq!(
                    brief.approval(),
                    verdict.approval.as_ref().map(|a| (a.id.as_str(), a.expires_ms)),
                    "{url}"
                );
                reasons.insert(verdict.reason.code());
            }
        }
        let every = [
            "allowlisted",
            "approved",
            "blocked",
            "monitored",
            "not_web",
            "out_of_scope",
            "proceeded",
            "uncategorised",
            "warned",
        ];
        assert_eq!(reasons.into_iter().collect::<Vec<_>>(), every);
    }

    /// The token logic that used to live (untested natively) in `wasm.rs`.
    #[test]
    fn verify_tokens_keeps_claims_of_authentic_tokens_not_in_force() {
        let policy =
            json!({"approvals": {"keys": [jwk("dept-1", &signing_key(1))], "maxDays": 30}});
        let engine = Engine::new(&policy.to_string()).unwrap();
        let good = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(1));
        let mut other = claims();
        other["machine"] = json!("WS99");
        other["jti"] = json!("a2");
        let elsewhere = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &other, &signing_key(1));
        let forged = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(2));
        let input = |token: &str, file: &str| TokenInput {
            token: token.into(),
            source: "user".into(),
            file: Some(file.into()),
        };
        let results = engine.verify_tokens(
            vec![input(&good, "a"), input(&elsewhere, "b"), input(&forged, "c")],
            Some(&alice()),
            NOW,
        );
        let summary: Vec<_> = results
            .iter()
            .map(|r| (r.ok, r.reason, r.claims.as_ref().map(|c| c.id.as_str()), r.file.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (true, None, None, Some("a")),
                (false, Some("other_machine"), Some("a2"), Some("b")),
                (false, Some("bad_signature"), None, Some("c")),
            ]
        );
        assert_eq!(results[0].approval.as_ref().map(|a| a.source.as_str()), Some("user"));
        // The block page learns why the authentic one does not apply.
        let page = engine.explain(&req("https://mail.google.com/"), NOW, &results);
        assert_eq!(page.verdict.reason, Reason::Blocked);
        assert_eq!(
            page.approval_notes.iter().map(|n| (n.id.as_str(), n.reason)).collect::<Vec<_>>(),
            [("a2", "other_machine")]
        );
        assert!(engine
            .explain(&req("https://www.dropbox.com/"), NOW, &results)
            .approval_notes
            .is_empty());
        // With the good one in the context, Gmail is approved.
        let mut engine = engine;
        let approvals = results.into_iter().filter_map(|r| r.approval).collect();
        engine.set_context(Context { approvals, ..Context::default() });
        assert_eq!(engine.decide(&req("https://mail.google.com/"), NOW).reason, Reason::Approved);
    }

    #[test]
    fn defaults_are_the_policys_fallbacks() {
        let info = Engine::new("{}").unwrap().info();
        assert_eq!(info.max_approval_days, DEFAULTS.max_approval_days);
        assert_eq!(info.warn_proceed_minutes, DEFAULTS.warn_proceed_minutes);
        assert_eq!(info.requests.max_days, DEFAULTS.max_approval_days);
        assert_eq!(info.defaults, DEFAULTS);
    }
}
