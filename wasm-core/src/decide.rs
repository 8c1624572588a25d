//! `decide`: the verdict for one request under a policy and context. Total: never panics, never
//! fails — every input has a verdict.

use std::borrow::Cow;

use serde::Serialize;

use crate::catalogue::Names;
use crate::context::Context;
use crate::policy::{Mode, Policy};
use crate::request::Request;

/// What the browser should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Load it.
    Allow,
    /// Redirect to the block page.
    Block,
    /// Show the interstitial; the user may continue with a reason.
    Warn,
    /// Load it and log it.
    Monitor,
}

/// Why: a stable code, shown on the block page and in audit events. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Not an http(s)/ws(s) URL.
    NotWeb,
    /// Not personal webmail, cloud storage or web messaging.
    Uncategorised,
    /// The policy does not apply to this machine (not on the internal network).
    OutOfScope,
    /// The department sanctions this host or service.
    Allowlisted,
    /// A management approval covers it.
    Approved,
    /// The category is switched off.
    CategoryOff,
    /// The category is monitored only.
    Monitored,
    /// The category blocks from the adaptation date; until then it warns.
    AdaptationPeriod,
    /// The category warns.
    Warned,
    /// The category is blocked and no approval covers it.
    Blocked,
    /// The category warns and the user continued on this service (a [`crate::Proceed`]).
    Proceeded,
}

impl Reason {
    /// The code as written in JSON and audit events.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotWeb => "not_web",
            Self::Uncategorised => "uncategorised",
            Self::OutOfScope => "out_of_scope",
            Self::Allowlisted => "allowlisted",
            Self::Approved => "approved",
            Self::CategoryOff => "category_off",
            Self::Monitored => "monitored",
            Self::AdaptationPeriod => "adaptation_period",
            Self::Warned => "warned",
            Self::Blocked => "blocked",
            Self::Proceeded => "proceeded",
        }
    }

    /// Every reason, in code order (for the tables the pages mirror).
    pub const ALL: [Reason; 11] = [
        Self::NotWeb,
        Self::Uncategorised,
        Self::OutOfScope,
        Self::Allowlisted,
        Self::Approved,
        Self::CategoryOff,
        Self::Monitored,
        Self::AdaptationPeriod,
        Self::Warned,
        Self::Blocked,
        Self::Proceeded,
    ];
}

/// The service a verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRef {
    /// Service id.
    pub id: String,
    /// Display name.
    pub name: Names,
}

/// The approval that allowed a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRef {
    /// The approval's `jti`.
    pub id: String,
    /// When it ends (ms).
    pub expires_ms: i64,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// The category, if the request is categorised.
    pub category: Option<String>,
    /// The category's display name.
    pub category_name: Option<Names>,
    /// The service, if categorised.
    pub service: Option<ServiceRef>,
    /// The pattern that matched (`mail.google.com`, `www.facebook.com/messages`).
    pub matched_rule: Option<String>,
    /// The approval that applied.
    pub approval: Option<ApprovalRef>,
    /// Whether the policy applies to this machine now.
    pub in_scope: bool,
    /// One sentence for people: administrators reading logs, staff on the block page.
    /// Borrowed for the fixed sentences (most requests), so deciding allocates nothing there.
    pub explanation: Cow<'static, str>,
}

impl Verdict {
    /// Whether the request must not load (block, or warn until the user continues).
    pub fn is_blocked(&self) -> bool {
        matches!(self.action, Action::Block | Action::Warn)
    }
}

/// Decides one request.
pub fn decide(policy: &Policy, context: &Context, request: &Request) -> Verdict {
    decide_at(policy, context, context.now_ms, request)
}

/// [`decide`] at `now_ms` rather than `context.now_ms` (an engine's context is set once per
/// change; the time moves on).
pub(crate) fn decide_at(
    policy: &Policy,
    context: &Context,
    now_ms: i64,
    request: &Request,
) -> Verdict {
    // Evaluation order (docs/architecture.md, "The decision, in order"):
    // 1. not a web URL, or not categorised → allow;
    // 2. policy scope says this machine is not on the internal network → allow (`out_of_scope`);
    // 3. the policy's allowlist (sanctioned hosts or services) → allow (`allowlisted`);
    // 4. a valid approval covers this service/category for this user and machine → allow
    //    (`approved`); approvals arrive verified, and are re-checked here for time and revocation;
    // 5. the category's mode for today: `off`, `monitor` (log only), `warn`, `block` — with
    //    `block` softened to `warn` before the adaptation date;
    // 6. a warning the user continued past for this very service (`Context::proceeds`) → allow
    //    (`proceeded`). Only a warning: a continue never opens a blocked service.
    let base = |action, reason, explanation: Cow<'static, str>| Verdict {
        action,
        reason,
        category: None,
        category_name: None,
        service: None,
        matched_rule: None,
        approval: None,
        in_scope: true,
        explanation,
    };
    if !request.is_web() {
        return base(
            Action::Allow,
            Reason::NotWeb,
            "Not a web address; Gatehouse does not apply.".into(),
        );
    }
    // A translate frontend may carry several sites (`Request::alternatives`): the first that is
    // categorised decides, as any of the compiled rules' `?u=` spellings would match.
    let carried;
    let (request, hit) = match policy.classify(request) {
        Some(hit) => (request, Some(hit)),
        None => match request.alternatives().find_map(|r| policy.classify(&r).map(|h| (r, h))) {
            Some((r, hit)) => {
                carried = r;
                (&carried, Some(hit))
            }
            None => (request, None),
        },
    };
    let Some(hit) = hit else {
        return base(
            Action::Allow,
            Reason::Uncategorised,
            "Not personal webmail, cloud storage or web messaging.".into(),
        );
    };
    let category = policy.category(&hit.service.category);
    let categorised = |action, reason, explanation: Cow<'static, str>| Verdict {
        category: Some(hit.service.category.clone()),
        category_name: Some(category.name.clone()),
        service: Some(ServiceRef { id: hit.service.id.clone(), name: hit.service.name.clone() }),
        matched_rule: Some(hit.matched_rule.clone()),
        ..base(action, reason, explanation)
    };
    let service_name = &hit.service.name.en;
    let category_name = &category.name.en;

    let scope = policy.scope.evaluate(context);
    if !scope.in_scope {
        return Verdict {
            in_scope: false,
            ..categorised(Action::Allow, Reason::OutOfScope, scope.explanation.into())
        };
    }
    if let Some(entry) = policy.is_allowlisted(request, &hit.service.id) {
        return categorised(
            Action::Allow,
            Reason::Allowlisted,
            format!("{service_name} is sanctioned by the department (allowlist entry {entry}).")
                .into(),
        );
    }
    let approval = context
        .approvals
        .iter()
        .filter(|a| {
            a.covers(&hit.service.id, &hit.service.category) && policy.trust.in_force(a, now_ms)
        })
        .max_by_key(|a| a.expires_ms);
    if let Some(a) = approval {
        return Verdict {
            approval: Some(ApprovalRef { id: a.id.clone(), expires_ms: a.expires_ms }),
            ..categorised(
                Action::Allow,
                Reason::Approved,
                format!("{service_name} is allowed by approval {} for {}.", a.id, a.subject).into(),
            )
        };
    }
    let verdict = match category.mode {
        Mode::Off => categorised(Action::Allow, Reason::CategoryOff, format!("{category_name} is not restricted by the policy.").into()),
        Mode::Monitor => categorised(
            Action::Monitor,
            Reason::Monitored,
            format!("{service_name} ({category_name}) is allowed and recorded.").into(),
        ),
        Mode::Warn => categorised(
            Action::Warn,
            Reason::Warned,
            format!("{service_name} ({category_name}) needs approval from department management; you may continue with a reason, which is recorded.").into(),
        ),
        Mode::Block => {
            let adaptation = category.adaptation_end_ms;
            if adaptation.is_some_and(|end| now_ms < end) {
                categorised(
                    Action::Warn,
                    Reason::AdaptationPeriod,
                    format!("{service_name} ({category_name}) will need approval from department management when the adaptation period ends.").into(),
                )
            } else {
                categorised(
                    Action::Block,
                    Reason::Blocked,
                    format!("{service_name} ({category_name}) needs approval from department management on computers connected to the internal network.").into(),
                )
            }
        }
    };
    if verdict.action == Action::Warn
        && context.proceeds.iter().any(|p| p.covers(&hit.service.id, now_ms))
    {
        return categorised(
            Action::Allow,
            Reason::Proceeded,
            format!("{service_name} ({category_name}) is open: you continued past the warning with a reason, which was recorded.").into(),
        );
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ResourceType;
    use crate::testing::{alice, approvals_policy, claims, jwk, sign, signing_key, NOW};
    use serde_json::json;

    fn verdict(policy_json: &str, url: &str, ctx: &Context) -> Verdict {
        let policy = Policy::from_json(policy_json).unwrap().policy;
        decide(&policy, ctx, &Request::new(url, ResourceType::MainFrame).unwrap())
    }

    #[test]
    fn evaluation_order() {
        let ctx = Context { now_ms: NOW, ..Context::default() };
        let v = verdict("{}", "chrome://settings", &ctx);
        assert_eq!((v.action, v.reason), (Action::Allow, Reason::NotWeb));
        let v = verdict("{}", "https://example.org/", &ctx);
        assert_eq!((v.action, v.reason), (Action::Allow, Reason::Uncategorised));
        let v = verdict("{}", "https://mail.google.com/mail/u/0/", &ctx);
        assert_eq!(
            (v.action, v.reason, v.category.as_deref()),
            (Action::Block, Reason::Blocked, Some("webmail"))
        );
        assert!(v.is_blocked());
        let v = verdict(r#"{"allowlist": ["mail.google.com"]}"#, "https://mail.google.com/", &ctx);
        assert_eq!(v.reason, Reason::Allowlisted);
        let v = verdict(
            r#"{"scope": {"joinedDomains": ["corp.example"]}}"#,
            "https://mail.google.com/",
            &Context { identity: Some(crate::Identity::default()), ..ctx.clone() },
        );
        assert_eq!((v.action, v.reason, v.in_scope), (Action::Allow, Reason::OutOfScope, false));
    }

    #[test]
    fn modes_and_adaptation_date() {
        let ctx = Context { now_ms: NOW, ..Context::default() };
        let mode = |m: &str| {
            verdict(
                &format!(r#"{{"categories": {{"webmail": {{"mode": "{m}"}}}}}}"#),
                "https://mail.google.com/",
                &ctx,
            )
        };
        assert_eq!(mode("off").reason, Reason::CategoryOff);
        assert_eq!(
            (mode("monitor").action, mode("monitor").reason),
            (Action::Monitor, Reason::Monitored)
        );
        assert_eq!((mode("warn").action, mode("warn").reason), (Action::Warn, Reason::Warned));
        // NOW is 2027-01-15T08:00Z; the adaptation date is midnight in the policy's time zone.
        let adapt = |date: &str, zone: &str| {
            verdict(
                &format!(r#"{{"timeZone": "{zone}", "categories": {{"webmail": {{"mode": "block", "adaptationEnd": "{date}"}}}}}}"#),
                "https://mail.google.com/",
                &ctx,
            )
            .reason
        };
        assert_eq!(adapt("2027-01-16", "+08:00"), Reason::AdaptationPeriod);
        assert_eq!(adapt("2027-01-15", "+08:00"), Reason::Blocked);
        assert_eq!(
            adapt("2027-01-15", "-10:00"),
            Reason::AdaptationPeriod,
            "still the 14th in Hawaii"
        );
    }

    #[test]
    fn approvals_open_only_what_they_cover() {
        let policy = approvals_policy();
        let token = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(1));
        let approval = policy.verify_approval(&token, Some(&alice()), NOW, "user").unwrap();
        let ctx = Context { now_ms: NOW, approvals: vec![approval.clone()], ..Context::default() };
        let req = |u| Request::new(u, ResourceType::MainFrame).unwrap();
        let v = decide(&policy, &ctx, &req("https://mail.google.com/"));
        assert_eq!((v.reason, v.approval.map(|a| a.id)), (Reason::Approved, Some("a1".into())));
        assert_eq!(decide(&policy, &ctx, &req("https://www.dropbox.com/")).reason, Reason::Blocked);
        let later = Context { now_ms: approval.expires_ms, ..ctx.clone() };
        assert_eq!(
            decide(&policy, &later, &req("https://mail.google.com/")).reason,
            Reason::Blocked
        );
        // Revoked by a later policy: the already-verified approval no longer applies.
        let revoking =
            json!({"approvals": {"keys": [jwk("dept-1", &signing_key(1))], "revoked": ["a1"]}});
        let revoking = Policy::from_json(&revoking.to_string()).unwrap().policy;
        assert_eq!(
            decide(&revoking, &ctx, &req("https://mail.google.com/")).reason,
            Reason::Blocked
        );
    }

    /// Regression (issue 10): a continue on Google Chat, served under mail.google.com/chat,
    /// opens Chat alone; Gmail on the same host stays blocked, and a continue never opens a
    /// blocked service or outlives its end.
    #[test]
    fn a_proceed_opens_its_service_not_its_host() {
        let policy = r#"{"categories": {"instant_messaging": {"mode": "warn"}}}"#;
        let proceed = crate::Proceed { service: "google_chat".into(), until_ms: NOW + 60_000 };
        let ctx = Context { now_ms: NOW, proceeds: vec![proceed.clone()], ..Context::default() };
        let v = verdict(policy, "https://mail.google.com/chat/u/0/", &ctx);
        assert_eq!((v.action, v.reason), (Action::Allow, Reason::Proceeded));
        assert_eq!(v.service.map(|s| s.id).as_deref(), Some("google_chat"));
        assert!(!Reason::Proceeded.code().is_empty());
        let v = verdict(policy, "https://mail.google.com/mail/u/0/", &ctx);
        assert_eq!((v.action, v.reason), (Action::Block, Reason::Blocked), "Gmail stays blocked");
        let v = verdict(policy, "https://chat.google.com/", &ctx);
        assert_eq!(v.reason, Reason::Proceeded, "the service's other hosts are the service too");
        let ended = Context { now_ms: proceed.until_ms, ..ctx.clone() };
        let v = verdict(policy, "https://mail.google.com/chat/u/0/", &ended);
        assert_eq!((v.action, v.reason), (Action::Warn, Reason::Warned), "ended");
        // A continue recorded for a blocked service opens nothing.
        let blocked = Context {
            proceeds: vec![crate::Proceed { service: "gmail".into(), until_ms: NOW + 60_000 }],
            ..ctx
        };
        let v = verdict(policy, "https://mail.google.com/mail/u/0/", &blocked);
        assert_eq!(v.reason, Reason::Blocked);
    }
}
