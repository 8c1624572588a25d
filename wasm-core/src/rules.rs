//! The rule compiler: policy + catalogue + context → declarativeNetRequest rules, so the browser
//! enforces every decision itself, even while the service worker sleeps.
//!
//! DNR picks the highest-priority matching rule (allow beats redirect on a tie). Priorities
//! follow pattern specificity — more labels, then a path — so the browser resolves overlaps
//! exactly as [`crate::Policy::classify`] does: the most specific pattern wins. Each pattern is
//! spelled in every form the engine accepts (`dnr.rs`: trailing dots, escapes, translate
//! proxies), all at the pattern's own priority. Output is deterministic: same input,
//! byte-identical JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context::Context;
use crate::matcher::Matcher;
use crate::pattern::Pattern;
use crate::policy::{Mode, Policy};
use crate::request::ResourceType;

/// Specificity-ordered enforcement and carve-out rules sit at `PRIORITY_BASE + specificity`.
pub const PRIORITY_BASE: u32 = 100;
/// The allowlist outranks every categorisation.
pub const PRIORITY_ALLOW: u32 = 1_000;
/// `modifyHeaders` only applies above the highest matching allow rule.
pub const PRIORITY_TENANT_HEADERS: u32 = 2_000;
/// The broad tier's static rules sit just below every catalogue and policy rule: its hosts never
/// overlap a catalogue pattern (`cargo xtask broad` drops those), so any more specific allow or
/// carve-out rule outranks them.
pub const PRIORITY_BROAD: u32 = PRIORITY_BASE - 1;
/// The most regex rules the catalogue's own rules (dynamic under the embedded default, plus
/// every static ruleset) may use: Chrome allows 1,000 per extension, and a department's policy
/// rules need the rest. `cargo xtask build` and `regex_rules_stay_within_budget` enforce it.
pub const REGEX_BUDGET: usize = 800;
/// The static ruleset of a category's broad tier (`rules/broad_<category>.json`).
pub fn broad_ruleset_id(category: &str) -> String {
    format!("broad_{category}")
}
/// Domains packed into one rule's `requestDomains`.
const DOMAINS_PER_RULE: usize = 5_000;
/// Chrome's limit on dynamic rules that redirect or modify headers.
pub const MAX_DYNAMIC_UNSAFE_RULES: usize = 5_000;
/// Chrome's limit on regex rules.
pub const MAX_REGEX_RULES: usize = 1_000;

/// A declarativeNetRequest rule, serialised exactly as `chrome.declarativeNetRequest` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Rule id, sequential from 1.
    pub id: u32,
    /// Priority (see the `PRIORITY_*` constants).
    pub priority: u32,
    /// What to do.
    pub action: RuleAction,
    /// When.
    pub condition: Condition,
}

/// A rule action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleAction {
    /// `redirect`, `block`, `allow` or `modifyHeaders`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// For `redirect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    /// For `modifyHeaders`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<Vec<HeaderOperation>>,
}

/// A redirect target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    /// The block page with the original URL (`\0`) in the fragment.
    pub regex_substitution: String,
}

/// A request header to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderOperation {
    /// Header name.
    pub header: &'static str,
    /// Always `set`.
    pub operation: &'static str,
    /// Header value.
    pub value: String,
}

/// A rule condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Hosts (and their subdomains).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_domains: Option<Vec<String>>,
    /// An RE2 regex over the URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex_filter: Option<String>,
    /// Only these resource types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_types: Option<Vec<&'static str>>,
    /// All but these resource types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded_resource_types: Option<Vec<&'static str>>,
}

/// Counts, for limits and for administrators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleStats {
    /// Rules in total.
    pub rules: usize,
    /// Rules that use `regexFilter` (limit 1,000).
    pub regex_rules: usize,
    /// Redirect and modifyHeaders rules (limit 5,000 dynamic).
    pub unsafe_rules: usize,
    /// Patterns enforced (redirected or blocked).
    pub enforced_patterns: usize,
    /// Patterns carved out of a broader enforced pattern, or allowlisted.
    pub allowed_patterns: usize,
}

/// The compiler's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompiledRules {
    /// Rules for `updateDynamicRules` (or a static ruleset).
    pub rules: Vec<Rule>,
    /// Whether the static bootstrap ruleset can be switched off once these rules are installed.
    pub disable_bootstrap: bool,
    /// The static broad-tier rulesets to enable (`updateEnabledRulesets`); every other
    /// `broad_*` ruleset is disabled.
    pub broad_rulesets: Vec<String>,
    /// When the decision changes by itself (adaptation date, approval start or end): recompile then.
    pub next_change_ms: Option<i64>,
    /// Counts.
    pub stats: RuleStats,
    /// Limits that were exceeded, if any (the excess falls back to the service worker's check).
    pub overflow: Vec<String>,
}

const NAVIGATION: [&str; 2] = [ResourceType::MainFrame.name(), ResourceType::SubFrame.name()];
/// Every resource type. A condition without `resourceTypes` matches everything *except*
/// `main_frame` (chrome.declarativeNetRequest docs, RuleCondition.resourceTypes), so allow and
/// header rules list them all to apply to page loads too.
fn all_types() -> Vec<&'static str> {
    ResourceType::ALL.map(ResourceType::name).to_vec()
}

/// Compiles the rules for `policy` under `context`. `block_page_url` is the extension's
/// `block.html` (`chrome.runtime.getURL("block.html")`).
pub fn compile_rules(policy: &Policy, context: &Context, block_page_url: &str) -> CompiledRules {
    let scope = policy.scope.evaluate(context);
    if !scope.in_scope {
        return CompiledRules {
            rules: Vec::new(),
            disable_bootstrap: true,
            broad_rulesets: Vec::new(),
            next_change_ms: None,
            stats: RuleStats::default(),
            overflow: Vec::new(),
        };
    }
    let now = context.now_ms;
    let approvals: Vec<_> =
        context.approvals.iter().filter(|a| policy.trust.in_force(a, now)).collect();
    let proceeds: Vec<_> = context.proceeds.iter().filter(|p| p.until_ms > now).collect();
    let enforced_id = |id: &str, category_id: &str| {
        let category = policy.category(category_id);
        // Warns today: warn mode, or block mode before its adaptation date (as `decide`).
        let warns = match category.mode {
            Mode::Warn => true,
            Mode::Block => category.adaptation_end_ms.is_some_and(|end| now < end),
            Mode::Off | Mode::Monitor => false,
        };
        let proceeded = warns && proceeds.iter().any(|p| p.covers(id, now));
        matches!(category.mode, Mode::Warn | Mode::Block)
            && !proceeded
            && !policy.allowed_services.contains(id)
            && !approvals.iter().any(|a| a.covers(id, category_id))
    };
    let enforced_service = |index: usize| {
        let Some(service) = policy.services.get(index) else { return true };
        enforced_id(&service.id, &service.category)
    };
    // A category's broad ruleset is on while the category is enforced as a whole: its switch
    // is on, it warns or blocks, and no approval covers the whole category.
    let broad_rulesets: Vec<String> = crate::policy::BUILTIN_CATEGORIES
        .iter()
        .map(|c| c.0)
        .filter(|id| {
            let category = policy.category(id);
            category.broad
                && matches!(category.mode, Mode::Warn | Mode::Block)
                && !approvals.iter().any(|a| a.categories.iter().any(|c| c == id))
        })
        .map(broad_ruleset_id)
        .collect();

    let mut enforced = Matcher::default();
    let mut carved = Vec::new();
    // The broad tier's entries are enforced by their static rulesets, not here.
    for (pattern, &(index, source)) in policy.classifier.iter() {
        if source == crate::policy::RuleSource::Broad {
            continue;
        }
        if enforced_service(index) {
            enforced.insert(pattern.to_pattern(), ());
        } else {
            carved.push(pattern.to_pattern());
        }
    }
    // A non-enforced pattern only needs an allow rule where a broader enforced one covers it:
    // a catalogue or policy pattern, or an enabled broad-tier host.
    carved.retain(|p| {
        enforced.find(p.host(), p.path().unwrap_or("/")).is_some()
            || broad_enabled(policy, &broad_rulesets, p.host()).is_some()
    });
    // Broad-tier hosts opened for this user (approved, continued past, allowlisted by service
    // id) while their ruleset stays on: an allow rule each, above the ruleset's priority.
    // (A handful of ids: `contains` dedups without another sort routine in the wasm module.)
    let mut exceptions: Vec<&str> = Vec::new();
    let ids = approvals
        .iter()
        .flat_map(|a| a.services.iter())
        .chain(proceeds.iter().map(|p| &p.service))
        .chain(policy.allowed_services.iter());
    for id in ids {
        if !exceptions.contains(&id.as_str()) {
            exceptions.push(id);
        }
    }
    for id in exceptions {
        if let Some((host, category)) = broad_enabled(policy, &broad_rulesets, id) {
            if host == id && !enforced_id(id, category) {
                if let Ok(p) = Pattern::parse(host) {
                    carved.push(p);
                }
            }
        }
    }
    let enforced: Vec<Pattern> = enforced.iter().map(|(p, ())| p.to_pattern()).collect();

    let mut out = Builder::default();
    out.enforce(&enforced, block_page_url);
    let allowlisted: Vec<Pattern> = policy.allowlist.iter().map(|(p, ())| p.to_pattern()).collect();
    out.allow(&carved, None);
    out.allow(&allowlisted, Some(PRIORITY_ALLOW));
    out.tenant_headers(policy);
    out.stats.enforced_patterns = enforced.len();
    out.stats.allowed_patterns = carved.len() + allowlisted.len();

    let next_change_ms = next_change(policy, context, &approvals);
    let mut compiled = out.finish(true, next_change_ms);
    compiled.broad_rulesets = broad_rulesets;
    compiled
}

/// The broad-tier entry covering `host` when its category's ruleset is among `enabled`.
fn broad_enabled<'h>(
    policy: &Policy,
    enabled: &[String],
    host: &'h str,
) -> Option<(&'h str, &'static str)> {
    policy.broad_find(host).filter(|(_, category)| enabled.contains(&broad_ruleset_id(category)))
}

/// The static ruleset of one category's broad tier (`rules/broad_<category>.json`): its hosts in
/// plain `requestDomains`, navigations redirected to the block page, everything else blocked —
/// one `^.+$` regex per redirect rule (the redirect needs the URL), no other regex. Sorted and
/// numbered from 1, so the output is byte-identical for the same tier. Empty when the tier is
/// not loaded. Never part of the bootstrap ruleset ([`bootstrap_rules`]).
pub fn broad_rules(category: &str, block_page_url: &str) -> Vec<Rule> {
    let Some(tier) = crate::broad::tier() else { return Vec::new() };
    let hosts = tier.hosts_of(category);
    let mut out = Builder::default();
    let redirect = RuleAction {
        kind: "redirect",
        redirect: Some(Redirect { regex_substitution: format!("{block_page_url}#\\0") }),
        request_headers: None,
    };
    let block = RuleAction { kind: "block", redirect: None, request_headers: None };
    for chunk in hosts.chunks(DOMAINS_PER_RULE) {
        let nav = Condition {
            request_domains: Some(chunk.to_vec()),
            regex_filter: Some("^.+$".into()),
            resource_types: Some(NAVIGATION.to_vec()),
            ..Condition::default()
        };
        let rest = Condition {
            request_domains: Some(chunk.to_vec()),
            excluded_resource_types: Some(NAVIGATION.to_vec()),
            ..Condition::default()
        };
        out.push(PRIORITY_BROAD, redirect.clone(), nav);
        out.push(PRIORITY_BROAD, block.clone(), rest);
    }
    out.rules
}

/// The static bootstrap ruleset, enabled from install so that nothing loads before the first
/// policy read completes (fail closed): the catalogue's whole-host patterns under the embedded
/// default policy. Only those — a handful of regex rules. Chromium loads a static ruleset
/// asynchronously when the extension loads, and with the full catalogue's regex rules (601) a
/// navigation at the moment of a force-install got through 2 of 4 times, 0 of 4 with 100 rules
/// (`forceinstall.test.mjs`). Path patterns, exact hosts and translate-proxy spellings wait for
/// the first compile, a few seconds later (docs/threat-model.md).
pub fn bootstrap_rules(block_page_url: &str) -> Vec<Rule> {
    let policy = Policy::embedded_default();
    let whole_hosts: Vec<Pattern> = policy
        .classifier
        .iter()
        .filter(|(_, (_, source))| *source != crate::policy::RuleSource::Broad)
        .map(|(p, _)| p.to_pattern())
        .filter(|p| p.path().is_none() && !p.is_exact())
        .collect();
    let mut out = Builder::default();
    out.enforce(&whole_hosts, block_page_url);
    out.deferred.clear();
    out.finish(false, None).rules
}

fn next_change(
    policy: &Policy,
    context: &Context,
    approvals: &[&crate::context::Approval],
) -> Option<i64> {
    let now = context.now_ms;
    let adaptation = policy.categories.values().filter_map(|c| c.adaptation_end_ms);
    let approval_edges = context
        .approvals
        .iter()
        .map(|a| a.not_before_ms)
        .chain(approvals.iter().map(|a| a.expires_ms));
    let proceed_ends = context.proceeds.iter().map(|p| p.until_ms);
    // Approvals in force end together when the desk's revocation list grows too old.
    let list_ages =
        policy.trust.list.and_then(|l| l.current_until_ms()).filter(|_| !approvals.is_empty());
    adaptation.chain(approval_edges).chain(proceed_ends).chain(list_ages).filter(|&t| t > now).min()
}

/// Specificity of a pattern: two points per label, one for a path.
fn specificity(host: &str, has_path: bool) -> u32 {
    let labels = u32::try_from(host.split('.').count()).unwrap_or(u32::MAX / 4).min(200);
    labels * 2 + u32::from(has_path)
}

#[derive(Default)]
struct Builder {
    rules: Vec<Rule>,
    stats: RuleStats,
    /// Rules for regex-spelled translate proxies, added last while Chrome's regex limit allows.
    deferred: Vec<Vec<(u32, RuleAction, Condition)>>,
}

impl Builder {
    /// Adds rules now, or (`optional`) once every other rule is in (`finish`).
    fn add(&mut self, optional: bool, rules: Vec<(u32, RuleAction, Condition)>) {
        if optional {
            self.deferred.push(rules);
        } else {
            for (priority, action, condition) in rules {
                self.push(priority, action, condition);
            }
        }
    }

    fn push(&mut self, priority: u32, action: RuleAction, condition: Condition) {
        let id = u32::try_from(self.rules.len() + 1).unwrap_or(u32::MAX);
        self.rules.push(Rule { id, priority, action, condition });
    }

    /// Redirect navigations to the block page and block every other request, for `patterns`.
    fn enforce(&mut self, patterns: &[Pattern], block_page_url: &str) {
        let redirect = RuleAction {
            kind: "redirect",
            redirect: Some(Redirect { regex_substitution: format!("{block_page_url}#\\0") }),
            request_headers: None,
        };
        let block = RuleAction { kind: "block", redirect: None, request_headers: None };
        for (priority, group) in group_by_priority(patterns) {
            for ((domains, regex), optional) in conditions(&group) {
                let nav = Condition {
                    request_domains: domains.clone(),
                    regex_filter: Some(regex.clone().unwrap_or_else(|| "^.+$".into())),
                    resource_types: Some(NAVIGATION.to_vec()),
                    ..Condition::default()
                };
                let rest = Condition {
                    request_domains: domains,
                    regex_filter: regex,
                    excluded_resource_types: Some(NAVIGATION.to_vec()),
                    ..Condition::default()
                };
                let rules =
                    vec![(priority, redirect.clone(), nav), (priority, block.clone(), rest)];
                self.add(optional, rules);
            }
        }
    }

    /// Allow `patterns`, at their specificity or at a fixed priority.
    fn allow(&mut self, patterns: &[Pattern], fixed: Option<u32>) {
        let allow = RuleAction { kind: "allow", redirect: None, request_headers: None };
        let mut groups = group_by_priority(patterns);
        if let Some(priority) = fixed {
            let merged = std::mem::take(&mut groups).into_values().flatten().collect();
            groups.insert(priority, merged);
        }
        for (priority, group) in groups {
            for ((domains, regex), optional) in conditions(&group) {
                let condition = Condition {
                    request_domains: domains,
                    regex_filter: regex,
                    resource_types: Some(all_types()),
                    ..Condition::default()
                };
                self.add(optional, vec![(priority, allow.clone(), condition)]);
            }
        }
    }

    fn tenant_headers(&mut self, policy: &Policy) {
        let t = &policy.tenants;
        let mut rule = |domains: &[&str], headers: Vec<HeaderOperation>| {
            if headers.is_empty() {
                return;
            }
            let action = RuleAction {
                kind: "modifyHeaders",
                redirect: None,
                request_headers: Some(headers),
            };
            let condition = Condition {
                request_domains: Some(domains.iter().map(|d| (*d).to_owned()).collect()),
                resource_types: Some(all_types()),
                ..Condition::default()
            };
            self.push(PRIORITY_TENANT_HEADERS, action, condition);
        };
        let set = |header: &'static str, value: String| HeaderOperation {
            header,
            operation: "set",
            value,
        };
        if !t.google_allowed_domains.is_empty() {
            rule(
                &["google.com"],
                vec![set("X-GoogApps-Allowed-Domains", t.google_allowed_domains.join(","))],
            );
        }
        let mut microsoft = Vec::new();
        if !t.microsoft_tenants.is_empty() {
            microsoft.push(set("Restrict-Access-To-Tenants", t.microsoft_tenants.join(",")));
            if let Some(context) = &t.microsoft_context {
                microsoft.push(set("Restrict-Access-Context", context.clone()));
            }
        }
        if let Some(v2) = &t.microsoft_tenant_access_policy {
            microsoft.push(set("sec-Restrict-Tenant-Access-Policy", v2.clone()));
        }
        rule(
            &[
                "login.microsoftonline.com",
                "login.microsoft.com",
                "login.windows.net",
                "login.live.com",
            ],
            microsoft,
        );
        if !t.slack_workspaces.is_empty() {
            let mut headers = vec![set("X-Slack-Allowed-Workspaces", t.slack_workspaces.join(","))];
            if let Some(requester) = &t.slack_requester {
                headers.push(set("X-Slack-Allowed-Workspaces-Requester", requester.clone()));
            }
            rule(&["slack.com"], headers);
        }
        if !t.dropbox_team_ids.is_empty() {
            rule(
                &["dropbox.com", "dropboxapi.com"],
                vec![set("X-Dropbox-allowed-Team-Ids", t.dropbox_team_ids.join(","))],
            );
        }
    }

    fn finish(mut self, disable_bootstrap: bool, next_change_ms: Option<i64>) -> CompiledRules {
        // Translate-proxy spellings go in while Chrome's regex limit allows (all of them for the
        // catalogue and any ordinary policy); past it they are left out and reported, and the
        // service worker's check still covers main frames.
        let mut regexes = self.rules.iter().filter(|r| r.condition.regex_filter.is_some()).count();
        let mut left_out = 0;
        for group in std::mem::take(&mut self.deferred) {
            if regexes + group.len() <= MAX_REGEX_RULES {
                regexes += group.len();
                for (priority, action, condition) in group {
                    self.push(priority, action, condition);
                }
            } else {
                left_out += 1;
            }
        }
        self.stats.rules = self.rules.len();
        self.stats.regex_rules =
            self.rules.iter().filter(|r| r.condition.regex_filter.is_some()).count();
        self.stats.unsafe_rules = self
            .rules
            .iter()
            .filter(|r| matches!(r.action.kind, "redirect" | "modifyHeaders"))
            .count();
        let mut overflow = Vec::new();
        if left_out > 0 {
            overflow.push(format!(
                "{left_out} translate-proxy spellings left out to stay within Chrome's {MAX_REGEX_RULES} regex rules"
            ));
        }
        if self.stats.regex_rules > MAX_REGEX_RULES {
            overflow.push(format!(
                "{} regex rules exceed Chrome's {MAX_REGEX_RULES}",
                self.stats.regex_rules
            ));
        }
        if self.stats.unsafe_rules > MAX_DYNAMIC_UNSAFE_RULES {
            overflow.push(format!(
                "{} redirect/header rules exceed Chrome's {MAX_DYNAMIC_UNSAFE_RULES}",
                self.stats.unsafe_rules
            ));
        }
        CompiledRules {
            rules: self.rules,
            disable_bootstrap,
            broad_rulesets: Vec::new(),
            next_change_ms,
            stats: self.stats,
            overflow,
        }
    }
}

/// Patterns by the priority their rules get: their specificity, whatever the spelling, so a
/// more specific carve-out outranks a broader pattern in every spelling (`dnr::conditions`).
fn group_by_priority(patterns: &[Pattern]) -> BTreeMap<u32, Vec<Pattern>> {
    let mut groups: BTreeMap<u32, Vec<Pattern>> = BTreeMap::new();
    for p in patterns {
        let priority = PRIORITY_BASE + specificity(p.host(), p.path().is_some());
        groups.entry(priority).or_default().push(p.clone());
    }
    groups
}

/// `dnr::conditions`, with host-only conditions cut to `DOMAINS_PER_RULE` hosts each.
type Spelled = ((Option<Vec<String>>, Option<String>), bool);

fn conditions(patterns: &[Pattern]) -> Vec<Spelled> {
    let mut out = Vec::new();
    for ((domains, regex), optional) in crate::dnr::conditions(patterns) {
        if regex.is_some() {
            out.push(((Some(domains), regex), optional));
        } else {
            out.extend(
                domains.chunks(DOMAINS_PER_RULE).map(|c| ((Some(c.to_vec()), None), optional)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{alice, claims, jwk, sign, signing_key, NOW};
    use serde_json::json;

    const BLOCK: &str = "chrome-extension://abc/block.html";

    /// The bootstrap ruleset stays small and regex-light (Chromium loads it asynchronously at
    /// install), and still closes the catalogue's whole hosts in every spelling the host list has.
    #[test]
    fn bootstrap_is_whole_hosts_only() {
        let rules = bootstrap_rules("chrome-extension://x/block.html");
        assert!(rules.len() <= 10, "{} rules", rules.len());
        let regexes: Vec<_> =
            rules.iter().filter_map(|r| r.condition.regex_filter.as_deref()).collect();
        assert!(regexes.iter().all(|r| *r == "^.+$"), "{regexes:?}");
        let domains: Vec<&str> = rules
            .iter()
            .flat_map(|r| r.condition.request_domains.iter().flatten())
            .map(String::as_str)
            .collect();
        for host in ["gmail.com", "dropbox.com", "dropboxapi.com", "gmail-com.translate.goog"] {
            assert!(domains.contains(&host), "{host}");
        }
    }

    fn compile(policy: &str, ctx: &Context) -> CompiledRules {
        compile_rules(&Policy::from_json(policy).unwrap().policy, ctx, BLOCK)
    }

    /// Hosts a rule of `kind` covers whole (not narrowed by a path or exact-host regex).
    fn domains_with(rules: &[Rule], kind: &str) -> Vec<String> {
        rules
            .iter()
            .filter(|r| r.action.kind == kind)
            .filter(|r| r.condition.regex_filter.as_deref().is_none_or(|re| re == "^.+$"))
            .flat_map(|r| r.condition.request_domains.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn default_policy_redirects_and_blocks_the_catalogue() {
        let out = compile("{}", &Context::default());
        assert!(out.overflow.is_empty());
        let redirected = domains_with(&out.rules, "redirect");
        assert!(redirected.contains(&"mail.google.com".to_owned()));
        assert!(redirected.contains(&"mail-google-com.translate.goog".to_owned()));
        assert!(domains_with(&out.rules, "block").contains(&"mail.google.com".to_owned()));
        let first = &out.rules[0];
        assert_eq!(
            first.action.redirect.as_ref().unwrap().regex_substitution,
            format!("{BLOCK}#\\0")
        );
        assert_eq!(first.condition.resource_types.as_deref(), Some(&NAVIGATION[..]));
    }

    #[test]
    fn output_is_deterministic() {
        let policy = r#"{"allowlist": ["mail.dept.example"], "rules": [{"category": "webmail", "match": ["b.example", "a.example", "=c.example", "d.example/x"]}]}"#;
        let a = serde_json::to_string(&compile(policy, &Context::default())).unwrap();
        let b = serde_json::to_string(&compile(policy, &Context::default())).unwrap();
        assert_eq!(a, b);
        let ids: Vec<u32> =
            compile(policy, &Context::default()).rules.iter().map(|r| r.id).collect();
        assert_eq!(ids, (1..=u32::try_from(ids.len()).unwrap()).collect::<Vec<_>>());
    }

    #[test]
    fn modes_out_of_scope_and_allowlist() {
        let monitor =
            compile(r#"{"categories": {"webmail": {"mode": "monitor"}}}"#, &Context::default());
        assert!(!domains_with(&monitor.rules, "redirect").contains(&"mail.google.com".to_owned()));
        let scoped = compile(
            r#"{"scope": {"joinedDomains": ["corp.example"]}}"#,
            &Context { identity: Some(crate::Identity::default()), ..Context::default() },
        );
        assert!(scoped.rules.is_empty() && scoped.disable_bootstrap);
        let allow = compile(
            r#"{"allowlist": ["=mail.dept.example", "drive.dept.example"]}"#,
            &Context::default(),
        );
        let allow_rules: Vec<&Rule> =
            allow.rules.iter().filter(|r| r.action.kind == "allow").collect();
        assert!(allow_rules.iter().all(|r| r.priority == PRIORITY_ALLOW));
        assert_eq!(
            domains_with(&allow.rules, "allow"),
            [
                "drive-dept-example.translate.goog",
                "drive.dept.example",
                "mail-dept-example.translate.goog"
            ]
        );
        let exact = allow_rules
            .iter()
            .find(|r| {
                r.condition.request_domains.as_deref()
                    == Some(&["mail.dept.example".to_owned()][..])
            })
            .unwrap();
        assert!(exact
            .condition
            .regex_filter
            .as_deref()
            .unwrap()
            .contains("@)?mail\\.dept\\.example[.:0-9]*/"));
    }

    #[test]
    fn carve_outs_outrank_the_broader_block() {
        let out = compile(
            r#"{"categories": {"extra": {"mode": "monitor"}},
                "rules": [{"category": "webmail", "match": ["portal.example"]},
                          {"category": "extra", "match": ["ok.portal.example"]}]}"#,
            &Context::default(),
        );
        let block = out
            .rules
            .iter()
            .find(|r| {
                r.action.kind == "redirect"
                    && r.condition
                        .request_domains
                        .as_ref()
                        .is_some_and(|d| d.contains(&"portal.example".into()))
            })
            .unwrap();
        let allow = out.rules.iter().find(|r| r.action.kind == "allow").unwrap();
        assert_eq!(
            allow.condition.request_domains.as_deref(),
            Some(
                &["ok-portal-example.translate.goog".to_owned(), "ok.portal.example".to_owned()][..]
            )
        );
        assert!(allow.priority > block.priority);
    }

    #[test]
    fn approvals_remove_their_services_and_schedule_expiry() {
        let policy_json =
            json!({"approvals": {"keys": [jwk("dept-1", &signing_key(1))]}}).to_string();
        let policy = Policy::from_json(&policy_json).unwrap().policy;
        let token = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &claims(), &signing_key(1));
        let approval = policy.verify_approval(&token, Some(&alice()), NOW, "user").unwrap();
        let ctx = Context { now_ms: NOW, approvals: vec![approval.clone()], ..Context::default() };
        let out = compile_rules(&policy, &ctx, BLOCK);
        assert!(!domains_with(&out.rules, "redirect").contains(&"mail.google.com".to_owned()));
        assert!(domains_with(&out.rules, "redirect").contains(&"drive.google.com".to_owned()));
        assert_eq!(out.next_change_ms, Some(approval.expires_ms));
    }

    /// The catalogue's regex rules — dynamic under the embedded default, the bootstrap ruleset
    /// (on together with them for a moment) and every broad ruleset — leave a department's own
    /// rules at least `MAX_REGEX_RULES - REGEX_BUDGET` of Chrome's 1,000.
    #[test]
    fn regex_rules_stay_within_budget() {
        let regexes =
            |rules: &[Rule]| rules.iter().filter(|r| r.condition.regex_filter.is_some()).count();
        let dynamic = compile("{}", &Context::default()).stats.regex_rules;
        let bootstrap = regexes(&bootstrap_rules(BLOCK));
        let broad: usize = crate::policy::BUILTIN_CATEGORIES
            .iter()
            .map(|c| regexes(&broad_rules(c.0, BLOCK)))
            .sum();
        let total = dynamic + bootstrap + broad;
        eprintln!(
            "regex rules: {dynamic} dynamic + {bootstrap} bootstrap + {broad} broad = {total}"
        );
        assert!(total <= REGEX_BUDGET, "{total} regex rules exceed the budget of {REGEX_BUDGET}");
    }

    /// Broad rulesets are plain host lists: no regex but the redirect's `^.+$`, no path, no
    /// translate-proxy spelling; sorted and numbered, so two builds are byte-identical.
    #[test]
    fn broad_rulesets_are_plain_deterministic_host_rules() {
        for (category, ..) in crate::policy::BUILTIN_CATEGORIES {
            let rules = broad_rules(category, BLOCK);
            assert!(!rules.is_empty(), "{category}");
            assert_eq!(rules, broad_rules(category, BLOCK));
            for (i, r) in rules.iter().enumerate() {
                assert_eq!(r.id as usize, i + 1);
                assert_eq!(r.priority, PRIORITY_BROAD);
                assert!(r.condition.regex_filter.as_deref().is_none_or(|re| re == "^.+$"));
                let domains = r.condition.request_domains.as_deref().unwrap_or_default();
                assert!(!domains.is_empty() && domains.windows(2).all(|w| w[0] < w[1]));
            }
        }
        let webmail = domains_with(&broad_rules("webmail", BLOCK), "redirect");
        assert!(webmail.contains(&"yopmail.com".to_owned()));
        // Never in the bootstrap ruleset.
        assert!(!domains_with(&bootstrap_rules(BLOCK), "redirect").contains(&"yopmail.com".into()));
    }

    #[test]
    fn broad_rulesets_follow_the_policy() {
        let all: Vec<String> =
            crate::policy::BUILTIN_CATEGORIES.iter().map(|c| broad_ruleset_id(c.0)).collect();
        assert_eq!(compile("{}", &Context::default()).broad_rulesets, all);
        let off = compile(
            r#"{"categories": {"webmail": {"broad": false}, "circumvention": {"mode": "monitor"}}}"#,
            &Context::default(),
        );
        assert_eq!(off.broad_rulesets, ["broad_cloud_storage", "broad_instant_messaging"]);
        let out_of_scope = compile(
            r#"{"scope": {"joinedDomains": ["corp.example"]}}"#,
            &Context { identity: Some(crate::Identity::default()), ..Context::default() },
        );
        assert!(out_of_scope.broad_rulesets.is_empty());
    }

    #[test]
    fn a_broad_host_approved_for_the_user_gets_an_allow_rule() {
        let policy_json =
            json!({"approvals": {"keys": [jwk("dept-1", &signing_key(1))]}}).to_string();
        let policy = Policy::from_json(&policy_json).unwrap().policy;
        let mut c = claims();
        c["services"] = json!(["yopmail.com"]);
        let token = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &c, &signing_key(1));
        let approval = policy.verify_approval(&token, Some(&alice()), NOW, "user").unwrap();
        let ctx = Context { now_ms: NOW, approvals: vec![approval], ..Context::default() };
        let out = compile_rules(&policy, &ctx, BLOCK);
        assert!(out.broad_rulesets.contains(&"broad_webmail".to_owned()));
        let allow = out
            .rules
            .iter()
            .find(|r| {
                r.action.kind == "allow"
                    && r.condition
                        .request_domains
                        .as_deref()
                        .is_some_and(|d| d.contains(&"yopmail.com".to_owned()))
            })
            .expect("an allow rule for the approved broad host");
        assert!(allow.priority > PRIORITY_BROAD);
        // A whole-category approval switches the ruleset off instead.
        let mut c = claims();
        c["services"] = json!([]);
        c["categories"] = json!(["webmail"]);
        let token = sign(&json!({"alg": "EdDSA", "kid": "dept-1"}), &c, &signing_key(1));
        let approval = policy.verify_approval(&token, Some(&alice()), NOW, "user").unwrap();
        let ctx = Context { now_ms: NOW, approvals: vec![approval], ..Context::default() };
        assert!(!compile_rules(&policy, &ctx, BLOCK)
            .broad_rulesets
            .contains(&"broad_webmail".into()));
    }

    /// Chromium skips a rule whose regex compiles past 2 KB of RE2 memory, and the whole
    /// `updateDynamicRules` call then fails. `dnr.rs` keeps each regex inside the budget it
    /// measured; the browser tests install the real output.
    #[test]
    fn regex_rules_stay_within_chromes_limits() {
        let out = compile("{}", &Context::default());
        assert!(out.overflow.is_empty(), "{:?}", out.overflow);
        assert!(out.stats.regex_rules > 10 && out.stats.regex_rules <= MAX_REGEX_RULES);
        for r in &out.rules {
            if let Some(re) = r.condition.regex_filter.as_deref().filter(|re| *re != "^.+$") {
                assert!(re.starts_with("^[a-z]+://") && re.len() < 400, "{re}");
            }
        }
    }

    /// Regression: without `resourceTypes` a rule skips `main_frame`, so an allowlisted page
    /// still landed on the block page (found by the browser tests).
    #[test]
    fn allow_and_header_rules_cover_page_loads() {
        let out = compile(
            r#"{"allowlist": ["mail.dept.example", "=x.dept.example"], "tenantRestrictions": {"google": {"allowedDomains": ["dept.gov.hk"]}}}"#,
            &Context::default(),
        );
        let open: Vec<&Rule> = out
            .rules
            .iter()
            .filter(|r| matches!(r.action.kind, "allow" | "modifyHeaders"))
            .collect();
        assert!(open.len() >= 3);
        for r in open {
            assert!(
                r.condition.resource_types.as_ref().is_some_and(|t| t.contains(&"main_frame")),
                "{r:?}"
            );
        }
    }

    #[test]
    fn tenant_headers_outrank_allow_rules() {
        let out = compile(
            r#"{"allowlist": ["mail.google.com"], "tenantRestrictions": {"google": {"allowedDomains": ["dept.gov.hk"]},
                "microsoft": {"tenants": ["dept.onmicrosoft.com"], "context": "0000-1111"}}}"#,
            &Context::default(),
        );
        let headers: Vec<&Rule> =
            out.rules.iter().filter(|r| r.action.kind == "modifyHeaders").collect();
        assert_eq!(headers.len(), 2);
        assert!(headers.iter().all(|r| r.priority > PRIORITY_ALLOW));
        let values: Vec<String> = headers
            .iter()
            .flat_map(|r| r.action.request_headers.clone().unwrap())
            .map(|h| format!("{}: {}", h.header, h.value))
            .collect();
        assert_eq!(
            values,
            [
                "X-GoogApps-Allowed-Domains: dept.gov.hk",
                "Restrict-Access-To-Tenants: dept.onmicrosoft.com",
                "Restrict-Access-Context: 0000-1111"
            ]
        );
    }

    #[test]
    fn a_hundred_thousand_extra_hosts_fit_chromes_limits() {
        let hosts: Vec<String> =
            (0..100_000).map(|i| format!("host{i}.example{}.com", i % 7)).collect();
        let policy = json!({"rules": [{"category": "webmail", "match": hosts}]}).to_string();
        let out = compile(&policy, &Context::default());
        // Every host and its exact proxy host is in; only regex-spelled proxy forms (subdomain
        // labels, `?u=`) of some hosts do not fit Chrome's regex limit, and that is reported.
        assert_eq!(out.overflow.len(), 1, "{:?}", out.overflow);
        assert!(out.overflow[0].contains("translate-proxy spellings left out"));
        assert!(out.stats.unsafe_rules <= MAX_DYNAMIC_UNSAFE_RULES);
        assert!(out.stats.regex_rules <= MAX_REGEX_RULES);
        assert!(out.stats.enforced_patterns >= 100_000);
    }

    /// Regression (issue 10): the allow behind a continue on Google Chat is Chat's own
    /// patterns at their own specificity — it outranks Gmail's `mail.google.com` only under
    /// `/chat`, and nothing host-wide or at `PRIORITY_ALLOW` is emitted.
    #[test]
    fn a_proceed_allows_its_service_not_its_host() {
        let policy = r#"{"categories": {"instant_messaging": {"mode": "warn"}}}"#;
        let until_ms = NOW + 60_000;
        let proceeds = vec![crate::Proceed { service: "google_chat".into(), until_ms }];
        let before = compile(policy, &Context { now_ms: NOW, ..Context::default() });
        let out = compile(policy, &Context { now_ms: NOW, proceeds, ..Context::default() });
        let allows: Vec<&Rule> = out.rules.iter().filter(|r| r.action.kind == "allow").collect();
        let before_allows = before.rules.iter().filter(|r| r.action.kind == "allow").count();
        assert!(allows.len() > before_allows, "the continue added allow rules");
        assert!(allows.iter().all(|r| r.priority < PRIORITY_ALLOW), "{allows:?}");
        assert!(!domains_with(&out.rules, "allow").contains(&"mail.google.com".to_owned()));
        let gmail = out
            .rules
            .iter()
            .filter(|r| r.action.kind == "redirect")
            .find(|r| {
                r.condition
                    .request_domains
                    .as_deref()
                    .is_some_and(|d| d.contains(&"mail.google.com".to_owned()))
                    && r.condition.regex_filter.as_deref() == Some("^.+$")
            })
            .expect("Gmail is still redirected");
        let chat: Vec<&&Rule> = allows
            .iter()
            .filter(|r| {
                r.condition
                    .request_domains
                    .as_deref()
                    .is_some_and(|d| d.contains(&"mail.google.com".to_owned()))
            })
            .collect();
        assert!(!chat.is_empty());
        for r in chat {
            let re = r.condition.regex_filter.as_deref().expect("narrowed to a path");
            let re = regex::Regex::new(re).unwrap();
            assert!(re.is_match("https://mail.google.com/chat/u/0/"));
            assert!(!re.is_match("https://mail.google.com/mail/u/0/"), "{re}");
            assert!(!re.is_match("https://mail.google.com/mail/u/0/upload"), "{re}");
            assert!(r.priority > gmail.priority);
        }
        // Chat's own hosts are simply no longer enforced.
        assert!(!domains_with(&out.rules, "redirect").contains(&"chat.google.com".to_owned()));
        assert_eq!(out.next_change_ms, Some(until_ms));
        // A continue on a blocked service changes nothing.
        let gmail_proceed = vec![crate::Proceed { service: "gmail".into(), until_ms }];
        let same = compile(
            policy,
            &Context { now_ms: NOW, proceeds: gmail_proceed, ..Context::default() },
        );
        assert_eq!(same.rules, before.rules);
    }
}
