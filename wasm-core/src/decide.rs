//! `decide`: the verdict for one request under a policy and context. Total: never panics, never
//! fails — every input has a verdict.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde::Serialize;

use crate::catalogue::Names;
use crate::context::{Approval, Context};
use crate::policy::{AllowEntry, Hit, Mode, Policy};
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

/// A decision before it is put into words, borrowed from the policy and the context: everything
/// a [`Verdict`] says but the display names and the sentence. Deciding this far allocates
/// nothing, so it is what the worker's hot path asks for ([`crate::Engine::brief`]).
#[derive(Debug, Clone, Copy)]
pub struct Brief<'p> {
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// Whether the policy applies to this machine now.
    pub in_scope: bool,
    hit: Option<Hit<'p>>,
    approval: Option<&'p Approval>,
    allowlisted: Option<AllowEntry<'p>>,
}

impl<'p> Brief<'p> {
    /// The category, if the request is categorised.
    pub fn category(&self) -> Option<&'p str> {
        self.hit.map(|hit| hit.category)
    }

    /// The service's id, if categorised.
    pub fn service_id(&self) -> Option<&'p str> {
        self.hit.map(|hit| hit.service_id)
    }

    /// The pattern that matched, printable (`mail.google.com`, `=126.com`).
    pub fn matched_rule(&self) -> Option<impl std::fmt::Display + Copy + PartialEq + 'p> {
        self.hit.map(|hit| hit.pattern)
    }

    /// The matched pattern's host, exactness and path, borrowed from the policy.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // the wasm brief cache's key
    pub(crate) fn pattern_parts(&self) -> Option<(&'p str, bool, Option<&'p str>)> {
        self.hit.map(|hit| hit.pattern.parts())
    }

    /// The approval that applied: its id and end (ms).
    pub fn approval(&self) -> Option<(&'p str, i64)> {
        self.approval.map(|a| (a.id.as_str(), a.expires_ms))
    }

    /// The verdict in words: display names and the sentence for people. `scope` gives the
    /// explanation of the scope this brief was judged in (asked for only when out of scope).
    pub(crate) fn verdict(&self, policy: &Policy, scope: impl FnOnce() -> String) -> Verdict {
        let base = |explanation: Cow<'static, str>| Verdict {
            action: self.action,
            reason: self.reason,
            category: None,
            category_name: None,
            service: None,
            matched_rule: None,
            approval: None,
            in_scope: self.in_scope,
            explanation,
        };
        let Some(hit) = self.hit else {
            return base(match self.reason {
                Reason::NotWeb => "Not a web address; Gatehouse does not apply.".into(),
                _ => "Not personal webmail, cloud storage or web messaging.".into(),
            });
        };
        let category = policy.category(hit.category);
        let service = hit.service_info();
        let (service_name, category_name) = (&service.name.en, &category.name.en);
        let explanation = match self.reason {
            Reason::OutOfScope => scope(),
            Reason::Allowlisted => format!(
                "{service_name} is sanctioned by the department (allowlist entry {}).",
                self.allowlisted.map(|e| e.to_string()).unwrap_or_default()
            ),
            Reason::Approved => match self.approval {
                Some(a) => format!("{service_name} is allowed by approval {} for {}.", a.id, a.subject),
                None => format!("{service_name} is allowed by an approval."),
            },
            Reason::CategoryOff => format!("{category_name} is not restricted by the policy."),
            Reason::Monitored => format!("{service_name} ({category_name}) is allowed and recorded."),
            Reason::Warned => format!("{service_name} ({category_name}) needs approval from department management; you may continue with a reason, which is recorded."),
            Reason::AdaptationPeriod => format!("{service_name} ({category_name}) will need approval from department management when the adaptation period ends."),
            Reason::Proceeded => format!("{service_name} ({category_name}) is open: you continued past the warning with a reason, which was recorded."),
            _ => format!("{service_name} ({category_name}) needs approval from department management on computers connected to the internal network."),
        };
        Verdict {
            category: Some(hit.category.to_owned()),
            category_name: Some(category.name.clone()),
            service: Some(ServiceRef { id: service.id.clone(), name: service.name.clone() }),
            matched_rule: Some(hit.pattern.to_string()),
            approval: self
                .approval
                .map(|a| ApprovalRef { id: a.id.clone(), expires_ms: a.expires_ms }),
            ..base(explanation.into())
        }
    }
}

/// Decides one request.
pub fn decide(policy: &Policy, context: &Context, request: &Request) -> Verdict {
    // The scope only matters for a categorised request: evaluated then, once.
    let scope = OnceCell::new();
    let scope = || scope.get_or_init(|| policy.scope.evaluate(context));
    let brief = judge(policy, context, || scope().in_scope, context.now_ms, request);
    brief.verdict(policy, || scope().explanation.clone())
}

/// The [`Brief`] for one request at `now_ms` in `context`. `in_scope` says whether the policy
/// applies in `context` (an engine evaluates that once per context; the time moves on); it is
/// asked only for a categorised request.
pub(crate) fn judge<'p>(
    policy: &'p Policy,
    context: &'p Context,
    in_scope: impl FnOnce() -> bool,
    now_ms: i64,
    request: &Request,
) -> Brief<'p> {
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
    let brief = |action, reason, hit| Brief {
        action,
        reason,
        in_scope: true,
        hit,
        approval: None,
        allowlisted: None,
    };
    if !request.is_web() {
        return brief(Action::Allow, Reason::NotWeb, None);
    }
    // A translate frontend may carry several sites (`Request::alternatives`): the first that is
    // categorised decides, as any of the compiled rules' `?u=` spellings would match.
    let carried;
    let (request, hit) = match policy.hit(request) {
        Some(hit) => (request, hit),
        None => match request.alternatives().find_map(|r| policy.hit(&r).map(|h| (r, h))) {
            Some((r, hit)) => {
                carried = r;
                (&carried, hit)
            }
            None => return brief(Action::Allow, Reason::Uncategorised, None),
        },
    };
    let categorised = |action, reason| brief(action, reason, Some(hit));
    if !in_scope() {
        return Brief { in_scope: false, ..categorised(Action::Allow, Reason::OutOfScope) };
    }
    if let Some(entry) = policy.is_allowlisted(request, hit.service_id) {
        return Brief {
            allowlisted: Some(entry),
            ..categorised(Action::Allow, Reason::Allowlisted)
        };
    }
    let approval = context
        .approvals
        .iter()
        .filter(|a| a.covers(hit.service_id, hit.category) && policy.trust.in_force(a, now_ms))
        .max_by_key(|a| a.expires_ms);
    if let Some(a) = approval {
        return Brief { approval: Some(a), ..categorised(Action::Allow, Reason::Approved) };
    }
    let category = policy.category(hit.category);
    let (action, reason) = match category.mode {
        Mode::Off => (Action::Allow, Reason::CategoryOff),
        Mode::Monitor => (Action::Monitor, Reason::Monitored),
        Mode::Warn => (Action::Warn, Reason::Warned),
        Mode::Block if category.adaptation_end_ms.is_some_and(|end| now_ms < end) => {
            (Action::Warn, Reason::AdaptationPeriod)
        }
        Mode::Block => (Action::Block, Reason::Blocked),
    };
    if action == Action::Warn && context.proceeds.iter().any(|p| p.covers(hit.service_id, now_ms)) {
        return categorised(Action::Allow, Reason::Proceeded);
    }
    categorised(action, reason)
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
