//! The administrator's policy (Chrome/Edge managed storage): parsed once, fallibly, into the
//! compiled form `decide` reads. Bad entries become warnings with the JSON path of each; only a
//! policy that cannot be used at all is an error, and the caller then enforces the embedded
//! default (fail closed).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalogue::{self, Names};
use crate::context::{Approval, Identity};
use crate::matcher::{Matcher, PatternRef};
use crate::parse::{kind, Parser, Warning};
use crate::pattern::{path_within, Pattern};
use crate::request::Request;
use crate::scope::Scope;
use crate::token::{ApproverKeys, ListFreshness, TokenRejection, Trust};

/// The embedded default: every category blocked, no scope restriction.
const DEFAULT_POLICY: &str = include_str!("default-policy.json");
/// Six months, the guideline's adaptation period, as the default cap on approvals and requests.
pub(crate) const DEFAULT_MAX_DAYS: u32 = 183;
/// How long a "continue" on a warning page lasts unless the policy says otherwise.
pub(crate) const DEFAULT_PROCEED_MINUTES: u32 = 60;
/// Managed storage is capped well below this; anything larger is not a policy.
const MAX_POLICY_BYTES: usize = 16 * 1024 * 1024;

/// The built-in categories, with their display names. `circumvention` (web proxies and
/// remote-access web clients) is not one of the guideline's three: it is there because such a
/// site reaches the other three from an allowed page (issue 12).
pub const BUILTIN_CATEGORIES: [(&str, &str, &str, &str); 4] = [
    ("webmail", "Personal webmail", "個人網上郵件", "个人网上邮件"),
    ("cloud_storage", "Public cloud storage", "公共雲端儲存", "公共云端储存"),
    ("instant_messaging", "Web instant messaging", "網頁版即時通訊", "网页版即时通讯"),
    ("circumvention", "Web proxies and remote access", "網頁代理及遙距存取", "网页代理及远程访问"),
];

/// What a category does today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Not enforced.
    Off,
    /// Allowed and logged.
    Monitor,
    /// An interstitial; the user may continue with a reason, which is logged.
    Warn,
    /// Blocked unless approved.
    Block,
}

/// One category's policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryPolicy {
    /// The configured mode.
    pub mode: Mode,
    /// `block` applies from this instant (Unix milliseconds); before it, `block` is softened to
    /// `warn`. One instant for the whole department, never the desk's own time zone.
    pub adaptation_end_ms: Option<i64>,
    /// Display name.
    pub name: Names,
    /// Whether the category's broad tier (`catalogue/broad.txt`) applies (`broad`, default true).
    pub broad: bool,
}

/// The policy's time zone as a fixed offset east of UTC, in minutes: what a date-only value
/// such as `"adaptationEnd": "2027-04-23"` means. A fixed offset, not an IANA name, keeps the
/// engine free of a time-zone database; a zone with daylight saving gives instants instead.
#[derive(Debug, Clone, Copy, Default)]
struct TimeZone {
    /// Minutes east of UTC.
    offset_minutes: i32,
    /// Whether the policy named it (otherwise dates fall at midnight UTC, with a warning).
    configured: bool,
}

/// A service known to this policy: from the catalogue or defined by the policy's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceInfo {
    /// Stable id.
    pub id: String,
    /// Category id.
    pub category: String,
    /// Display name.
    pub name: Names,
    /// Tenant-restriction vendor, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Where approval requests go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRouting {
    /// Intranet endpoint that accepts the request record by HTTP POST.
    pub url: Option<String>,
    /// Mail address for a prefilled message.
    pub mail: Option<String>,
    /// Whether the user may download the request as a file.
    pub file: bool,
    /// The longest approval a user may ask for.
    pub max_days: u32,
}

/// Where the approval desk publishes its signed revocation list, and how often to fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationFeed {
    /// The list's https URL (the desk's `/api/revocations`).
    pub url: String,
    /// Minutes between fetches.
    pub minutes: u32,
    /// Approvals are honoured only while the newest verified list was signed less than this
    /// many hours ago (a desk out of reach fails closed once it has passed).
    pub max_hours: u32,
}

/// Minutes between revocation-list fetches unless the policy says otherwise.
const DEFAULT_REVOCATION_LIST_MINUTES: u32 = 5;
/// Hours a verified revocation list counts as current unless the policy says otherwise: a
/// weekend without the desk, not a week.
const DEFAULT_REVOCATION_LIST_MAX_HOURS: u32 = 72;

/// Tenant restrictions: the department's sanctioned tenants, per vendor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantRestrictions {
    /// Google Workspace domains (`X-GoogApps-Allowed-Domains`).
    pub google_allowed_domains: Vec<String>,
    /// Microsoft Entra tenants allowed to sign in (`Restrict-Access-To-Tenants`).
    pub microsoft_tenants: Vec<String>,
    /// The directory id of the tenant setting the restriction (`Restrict-Access-Context`).
    pub microsoft_context: Option<String>,
    /// Tenant restrictions v2 (`sec-Restrict-Tenant-Access-Policy`), e.g. `<tenant>:<policy>`.
    pub microsoft_tenant_access_policy: Option<String>,
    /// Slack workspace or org ids (`X-Slack-Allowed-Workspaces`).
    pub slack_workspaces: Vec<String>,
    /// The Slack id that requests the restriction (`X-Slack-Allowed-Workspaces-Requester`).
    pub slack_requester: Option<String>,
    /// Dropbox team ids (`X-Dropbox-allowed-Team-Ids`).
    pub dropbox_team_ids: Vec<String>,
}

/// Texts the department puts on the block page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockPageText {
    /// The department's name.
    pub department: Option<Names>,
    /// Who to contact (phone, mail, intranet page).
    pub contact: Option<String>,
    /// A message from the department.
    pub message: Option<Names>,
}

/// A policy that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not JSON.
    #[error("policy is not valid JSON: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("policy must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    /// Larger than any managed-storage policy can be.
    #[error("policy of {0} bytes exceeds the 16 MiB limit")]
    TooLarge(usize),
}

/// What the classifier found for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification<'p> {
    /// The service (built on the spot for a broad-tier host: id and name are the host).
    pub service: Cow<'p, ServiceInfo>,
    /// The pattern that matched, in canonical form.
    pub matched_rule: String,
    /// Where the rule came from: `catalogue` or `policy`.
    pub rule_source: RuleSource,
}

/// What the classifier found, borrowed from the policy: the form `decide` works on, which
/// allocates nothing ([`Classification`] is the owned one callers read).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit<'p> {
    /// The service's id (a broad-tier host's is the host).
    pub(crate) service_id: &'p str,
    pub(crate) category: &'p str,
    /// The curated or policy service; `None` for a broad-tier host.
    pub(crate) service: Option<&'p ServiceInfo>,
    pub(crate) pattern: PatternRef<'p>,
    pub(crate) rule_source: RuleSource,
}

impl<'p> Hit<'p> {
    /// The service (built on the spot for a broad-tier host: id and name are the host).
    pub(crate) fn service_info(&self) -> Cow<'p, ServiceInfo> {
        match self.service {
            Some(service) => Cow::Borrowed(service),
            None => Cow::Owned(ServiceInfo {
                id: self.service_id.to_owned(),
                category: self.category.to_owned(),
                name: Names::same(self.service_id),
                tenant: None,
            }),
        }
    }

    fn classification(&self) -> Classification<'p> {
        Classification {
            service: self.service_info(),
            matched_rule: self.pattern.to_string(),
            rule_source: self.rule_source,
        }
    }
}

/// The allowlist entry that sanctions a request: a service id or a pattern.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AllowEntry<'p> {
    Service(&'p str),
    Pattern(PatternRef<'p>),
}

impl std::fmt::Display for AllowEntry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Service(id) => write!(f, "service:{id}"),
            Self::Pattern(pattern) => pattern.fmt(f),
        }
    }
}

/// Whether a rule is built in or the administrator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// The built-in catalogue.
    Catalogue,
    /// The policy's `rules`.
    Policy,
    /// The broad tier (`catalogue/broad.txt`).
    Broad,
}

/// A parsed, compiled policy. Build with [`Policy::from_json`] or [`Policy::embedded_default`].
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) categories: BTreeMap<String, CategoryPolicy>,
    pub(crate) services: Vec<ServiceInfo>,
    pub(crate) classifier: Matcher<(usize, RuleSource)>,
    pub(crate) allowlist: Matcher<()>,
    pub(crate) allowed_services: BTreeSet<String>,
    pub(crate) scope: Scope,
    pub(crate) trust: Trust,
    pub(crate) revocation_feed: Option<RevocationFeed>,
    pub(crate) requests: RequestRouting,
    pub(crate) warn_proceed_minutes: u32,
    pub(crate) tenants: TenantRestrictions,
    pub(crate) audit_full_url: bool,
    pub(crate) block_page: BlockPageText,
}

/// A policy and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The usable policy.
    pub policy: Policy,
    /// Entries skipped or adjusted.
    pub warnings: Vec<Warning>,
}

impl Policy {
    /// Parses a managed-storage policy. Unknown keys and bad entries become warnings.
    pub fn from_json(json: &str) -> Result<Parsed, PolicyError> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge(json.len()));
        }
        let value: Value =
            serde_json::from_str(json).map_err(|e| PolicyError::Json(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Parses an already-decoded policy value (the object `storage.managed.get` returns).
    pub fn from_value(value: &Value) -> Result<Parsed, PolicyError> {
        let Value::Object(root) = value else {
            return Err(PolicyError::NotAnObject(kind(value)));
        };
        let mut p = Parser::default();
        let policy = p.policy(root);
        Ok(Parsed { policy, warnings: p.warnings })
    }

    /// The embedded default policy: every category blocked, always in scope.
    pub fn embedded_default() -> Self {
        match Self::from_json(DEFAULT_POLICY) {
            Ok(parsed) => parsed.policy,
            // Unreachable in a tested build (see `default_policy_is_clean`); if it ever happened,
            // an empty object still yields "all categories blocked".
            Err(_) => Parser::default().policy(&Map::new()),
        }
    }

    /// The service and rule a request falls under, if any.
    pub fn classify(&self, request: &Request) -> Option<Classification<'_>> {
        self.hit(request).map(|hit| hit.classification())
    }

    /// [`Policy::classify`], borrowed.
    pub(crate) fn hit(&self, request: &Request) -> Option<Hit<'_>> {
        let target = request.target()?;
        let (pattern, &(index, rule_source)) =
            self.classifier.find(target.host(), target.path())?;
        if rule_source != RuleSource::Broad {
            let service = self.services.get(index)?;
            return Some(Hit {
                service_id: &service.id,
                category: &service.category,
                service: Some(service),
                pattern,
                rule_source,
            });
        }
        // The broad tier (`insert_broad_tier`), on the host as requested: behind a translate
        // proxy only a regex could spell it in the rules (`dnr.rs`), and the broad rulesets have
        // none, so the engine does not look there either.
        if target.via_proxy.is_some() {
            return None;
        }
        Some(Hit {
            service_id: pattern.host(),
            category: BUILTIN_CATEGORIES.get(index)?.0,
            service: None,
            pattern,
            rule_source,
        })
    }

    /// The broad-tier entry covering `host`, if its category's `broad` switch is on.
    pub(crate) fn broad_find<'h>(&self, host: &'h str) -> Option<(&'h str, &'static str)> {
        let (entry, category) = crate::broad::tier()?.find(host)?;
        self.categories.get(category).is_none_or(|c| c.broad).then_some((entry, category))
    }

    /// Whether the allowlist covers this request (by pattern or by service id).
    pub(crate) fn is_allowlisted<'a>(
        &'a self,
        request: &Request,
        service_id: &'a str,
    ) -> Option<AllowEntry<'a>> {
        if self.allowed_services.contains(service_id) {
            return Some(AllowEntry::Service(service_id));
        }
        let target = request.target()?;
        self.allowlist.find(target.host(), target.path()).map(|(p, ())| AllowEntry::Pattern(p))
    }

    /// The policy for a category; unknown categories are blocked (fail closed). Borrowed when
    /// known: the brief reads it on every categorised request, and a copy cost three strings.
    pub fn category(&self, id: &str) -> Cow<'_, CategoryPolicy> {
        match self.categories.get(id) {
            Some(category) => Cow::Borrowed(category),
            None => Cow::Owned(CategoryPolicy {
                mode: Mode::Block,
                adaptation_end_ms: None,
                name: Names::same(id),
                broad: true,
            }),
        }
    }

    /// Every category this policy knows, by id.
    pub fn categories(&self) -> &BTreeMap<String, CategoryPolicy> {
        &self.categories
    }

    /// Every service, catalogue first, then the policy's own.
    pub fn services(&self) -> &[ServiceInfo] {
        &self.services
    }

    /// Where approval requests go.
    pub fn requests(&self) -> &RequestRouting {
        &self.requests
    }

    /// Minutes a warn-mode "continue" lasts.
    pub fn warn_proceed_minutes(&self) -> u32 {
        self.warn_proceed_minutes
    }

    /// Whether audit events may carry full URLs (otherwise origins only).
    pub fn audit_full_url(&self) -> bool {
        self.audit_full_url
    }

    /// The longest approval this policy accepts, in days.
    pub fn max_approval_days(&self) -> u32 {
        self.trust.max_days
    }

    /// Verifies one token for `identity` at `now_ms` against this policy's approver keys,
    /// revocations and longest approval.
    pub fn verify_approval(
        &self,
        token: &str,
        identity: Option<&Identity>,
        now_ms: i64,
        source: &str,
    ) -> Result<Approval, TokenRejection> {
        crate::token::verify_approval(&self.trust, token, identity, now_ms, source)
    }
}

impl Parser {
    /// `YYYY-MM-DD` (midnight in the policy's time zone) or an RFC 3339 instant, in Unix ms.
    fn time(&mut self, v: &Value, path: &str, zone: TimeZone) -> Option<i64> {
        let s = self.string(v, path)?;
        match parse_policy_time(s, zone.offset_minutes) {
            None => {
                self.warn(
                    path,
                    format!("{s:?} is not a date (YYYY-MM-DD) or RFC 3339 time; ignored"),
                );
                None
            }
            Some(PolicyTime { ms, date_only: true }) if !zone.configured => {
                self.warn(
                    path,
                    format!(
                        "{s:?} has no time zone, so it falls at midnight UTC; set $.timeZone \
                         (e.g. \"+08:00\") so that the whole department switches at its own midnight"
                    ),
                );
                Some(ms)
            }
            Some(t) => Some(t.ms),
        }
    }

    /// `"+08:00"`, `"-05:30"`, `"Z"` or `"UTC"`: the offset every date-only value is read in.
    fn time_zone(&mut self, v: &Value) -> TimeZone {
        const PATH: &str = "$.timeZone";
        if v.is_null() {
            return TimeZone::default();
        }
        let Some(s) = self.string(v, PATH) else { return TimeZone::default() };
        match parse_utc_offset(s) {
            Some(offset_minutes) => TimeZone { offset_minutes, configured: true },
            None => {
                self.warn(
                    PATH,
                    format!(
                        "{s:?} is not a UTC offset such as \"+08:00\" (IANA names are not \
                         supported; where daylight saving applies, give adaptationEnd as an \
                         RFC 3339 instant); dates fall at midnight UTC"
                    ),
                );
                TimeZone::default()
            }
        }
    }

    fn policy(&mut self, root: &Map<String, Value>) -> Policy {
        self.known_keys(
            root,
            "$",
            &[
                "categories",
                "allowlist",
                "rules",
                "scope",
                "approvals",
                "requests",
                "warn",
                "tenantRestrictions",
                "audit",
                "blockPage",
                "timeZone",
                "$schema",
                "comment",
            ],
        );
        let null = Value::Null;
        let get = |key: &str| root.get(key).unwrap_or(&null);

        let time_zone = self.time_zone(get("timeZone"));
        let categories = self.categories(get("categories"), time_zone);
        let (services, classifier) = self.classifier(get("rules"), &categories);
        let (allowlist, allowed_services) =
            self.allowlist(get("allowlist"), &services, &classifier);
        let scope = crate::scope::parse(self, get("scope"), "$.scope");
        let (keys, revoked, max_days, revocation_feed) = self.approvals(get("approvals"));
        let requests = self.requests(get("requests"), max_days);
        let warn_proceed_minutes = self.warn_settings(get("warn"));
        let tenants = self.tenants(get("tenantRestrictions"));
        let audit_full_url = self.audit(get("audit"));
        let block_page = self.block_page(get("blockPage"));
        Policy {
            categories,
            services,
            classifier,
            allowlist,
            allowed_services,
            scope,
            trust: Trust {
                keys,
                revoked,
                max_days,
                list: revocation_feed.as_ref().map(|f| ListFreshness {
                    max_age_ms: i64::from(f.max_hours) * 3_600_000,
                    issued_ms: None,
                }),
            },
            revocation_feed,
            requests,
            warn_proceed_minutes,
            tenants,
            audit_full_url,
            block_page,
        }
    }

    fn categories(&mut self, v: &Value, zone: TimeZone) -> BTreeMap<String, CategoryPolicy> {
        let mut out: BTreeMap<String, CategoryPolicy> = BUILTIN_CATEGORIES
            .iter()
            .map(|&(id, en, zh_tw, zh_cn)| {
                let name = Names { en: en.into(), zh_tw: zh_tw.into(), zh_cn: Some(zh_cn.into()) };
                (
                    id.to_owned(),
                    CategoryPolicy {
                        mode: Mode::Block,
                        adaptation_end_ms: None,
                        name,
                        broad: true,
                    },
                )
            })
            .collect();
        if v.is_null() {
            return out;
        }
        let Some(obj) = self.object(v, "$.categories") else { return out };
        for (id, entry) in obj {
            let path = format!("$.categories.{id}");
            if !is_identifier(id) {
                self.warn(
                    &path,
                    "category ids are lowercase letters, digits and underscores; ignored",
                );
                continue;
            }
            let Some(entry) = self.object(entry, &path) else { continue };
            self.known_keys(entry, &path, &["mode", "adaptationEnd", "name", "broad"]);
            let builtin = out.get(id).cloned();
            let builtin_broad = builtin.as_ref().map(|b| b.broad);
            let mode = match entry.get("mode") {
                None => Mode::Block,
                Some(m) => self.mode(m, &format!("{path}.mode")),
            };
            let adaptation_end_ms = entry
                .get("adaptationEnd")
                .and_then(|t| self.time(t, &format!("{path}.adaptationEnd"), zone));
            let name = entry
                .get("name")
                .and_then(|n| self.names(n, &format!("{path}.name")))
                .or(builtin.map(|b| b.name))
                .unwrap_or_else(|| Names::same(id));
            // Only the built-in categories have a broad tier; elsewhere the switch is meaningless.
            let broad = match entry.get("broad") {
                None => true,
                Some(_) if builtin_broad.is_none() => {
                    self.warn(
                        &format!("{path}.broad"),
                        "only webmail, cloud_storage, instant_messaging and circumvention have a broad tier; ignored",
                    );
                    true
                }
                // Not a boolean: warned by `boolean`, and the tier stays on (fail closed).
                Some(b) => self.boolean(b, &format!("{path}.broad")).unwrap_or(true),
            };
            out.insert(id.clone(), CategoryPolicy { mode, adaptation_end_ms, name, broad });
        }
        out
    }

    fn mode(&mut self, v: &Value, path: &str) -> Mode {
        match v.as_str() {
            Some("off") => Mode::Off,
            Some("monitor") => Mode::Monitor,
            Some("warn") => Mode::Warn,
            Some("block") => Mode::Block,
            _ => {
                self.warn(
                    path,
                    format!("mode must be off, monitor, warn or block, found {v}; block applied"),
                );
                Mode::Block
            }
        }
    }

    /// The catalogue plus the policy's `rules`, compiled into one classifier. Policy rules are
    /// inserted first so that, for the same host and path, the administrator's rule wins.
    fn classifier(
        &mut self,
        rules: &Value,
        categories: &BTreeMap<String, CategoryPolicy>,
    ) -> (Vec<ServiceInfo>, Matcher<(usize, RuleSource)>) {
        let mut services: Vec<ServiceInfo> = catalogue::services()
            .iter()
            .map(|s| ServiceInfo {
                id: s.id.clone(),
                category: s.category.clone(),
                name: s.name.clone(),
                tenant: s.tenant.clone(),
            })
            .collect();
        let mut classifier = Matcher::default();
        if !rules.is_null() {
            if let Value::Array(items) = rules {
                for (i, item) in items.iter().enumerate() {
                    self.rule(
                        item,
                        &format!("$.rules[{i}]"),
                        i,
                        categories,
                        &mut services,
                        &mut classifier,
                    );
                }
            } else {
                self.warn(
                    "$.rules",
                    format!("expected an array of rules, found {}; ignored", kind(rules)),
                );
            }
        }
        for (index, pattern) in catalogue::patterns() {
            // The build validated every catalogue pattern; a failure is caught by its unit test.
            if let Ok(pattern) = pattern {
                classifier.insert(pattern, (index, RuleSource::Catalogue));
            }
        }
        insert_broad_tier(&mut classifier, categories);
        classifier.shrink_to_fit();
        (services, classifier)
    }

    fn rule(
        &mut self,
        item: &Value,
        path: &str,
        index: usize,
        categories: &BTreeMap<String, CategoryPolicy>,
        services: &mut Vec<ServiceInfo>,
        classifier: &mut Matcher<(usize, RuleSource)>,
    ) {
        let Some(obj) = self.object(item, path) else { return };
        self.known_keys(obj, path, &["category", "service", "name", "match"]);
        let existing = obj
            .get("service")
            .and_then(Value::as_str)
            .and_then(|id| services.iter().position(|s| s.id == id));
        let category = match (obj.get("category").and_then(Value::as_str), existing) {
            (Some(c), _) if categories.contains_key(c) => c.to_owned(),
            (Some(c), _) => {
                self.warn(&format!("{path}.category"), format!("unknown category {c:?}; define it under \"categories\" first; rule ignored"));
                return;
            }
            (None, Some(i)) => services[i].category.clone(),
            (None, None) => {
                self.warn(
                    path,
                    "a rule needs a \"category\" (or a catalogue \"service\"); rule ignored",
                );
                return;
            }
        };
        let service_index = match existing {
            Some(i) if services[i].category == category => i,
            _ => {
                let id = match obj.get("service") {
                    Some(v) => match self.string(v, &format!("{path}.service")) {
                        Some(id) if is_identifier(id) => id.to_owned(),
                        _ => format!("rule-{index}"),
                    },
                    None => format!("rule-{index}"),
                };
                let name = obj
                    .get("name")
                    .and_then(|n| self.names(n, &format!("{path}.name")))
                    .unwrap_or_else(|| Names::same(&id));
                services.push(ServiceInfo { id, category, name, tenant: None });
                services.len() - 1
            }
        };
        let patterns = match obj.get("match") {
            Some(m) => self.strings(m, &format!("{path}.match")),
            None => {
                self.warn(path, "a rule needs \"match\" patterns; rule ignored");
                Vec::new()
            }
        };
        for (pattern_path, text) in patterns {
            match Pattern::parse(&text) {
                Ok(p) => classifier.insert(p, (service_index, RuleSource::Policy)),
                Err(e) => self.warn(&pattern_path, format!("{e}; pattern ignored")),
            }
        }
    }

    fn allowlist(
        &mut self,
        v: &Value,
        services: &[ServiceInfo],
        classifier: &Matcher<(usize, RuleSource)>,
    ) -> (Matcher<()>, BTreeSet<String>) {
        let mut matcher = Matcher::default();
        let mut ids = BTreeSet::new();
        if v.is_null() {
            return (matcher, ids);
        }
        for (path, text) in self.strings(v, "$.allowlist") {
            if let Some(id) = text.strip_prefix("service:") {
                // A catalogue or policy service, or a broad-tier host (its id is the host).
                let broad = crate::broad::tier()
                    .and_then(|t| t.find(id))
                    .is_some_and(|(host, _)| host == id);
                if broad || services.iter().any(|s| s.id == id) {
                    ids.insert(id.to_owned());
                } else {
                    self.warn(&path, format!("no service has id {id:?}; entry ignored"));
                }
                continue;
            }
            match Pattern::parse(&text) {
                Ok(p) => {
                    self.warn_if_broad(&p, &path, services, classifier);
                    matcher.insert(p, ());
                }
                Err(e) => self.warn(&path, format!("{e}; entry ignored")),
            }
        }
        (matcher, ids)
    }

    /// An allowlist entry such as `google.com` also opens every catalogued service under it
    /// (Gmail, Drive, Chat, …): legal, but rarely meant, so the policy check says which.
    fn warn_if_broad(
        &mut self,
        entry: &Pattern,
        path: &str,
        services: &[ServiceInfo],
        classifier: &Matcher<(usize, RuleSource)>,
    ) {
        let covered: BTreeSet<usize> = classifier
            .iter()
            .filter(|(_, (_, source))| *source != RuleSource::Broad)
            .filter(|(p, _)| {
                let p = p.to_pattern();
                entry.matches(p.host(), p.path().unwrap_or("/"))
                    && entry
                        .path()
                        .is_none_or(|prefix| p.path().is_some_and(|q| path_within(q, prefix)))
            })
            .map(|(_, &(index, _))| index)
            .collect();
        if covered.len() < 2 {
            return;
        }
        let mut names: Vec<&str> =
            covered.iter().filter_map(|&i| services.get(i)).map(|s| s.name.en.as_str()).collect();
        let more = names.len().saturating_sub(6);
        names.truncate(6);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        self.warn(
            path,
            format!(
                "{entry} also allows {} catalogued services under it ({}{more}); list the \
                 department's own address or use \"service:<id>\" for the one service meant",
                covered.len(),
                names.join(", ")
            ),
        );
    }

    #[allow(clippy::type_complexity)]
    fn approvals(
        &mut self,
        v: &Value,
    ) -> (ApproverKeys, BTreeSet<String>, u32, Option<RevocationFeed>) {
        let mut keys = ApproverKeys::default();
        let mut revoked = BTreeSet::new();
        let mut max_days = DEFAULT_MAX_DAYS;
        if v.is_null() {
            return (keys, revoked, max_days, None);
        }
        let Some(obj) = self.object(v, "$.approvals") else {
            return (keys, revoked, max_days, None);
        };
        self.known_keys(
            obj,
            "$.approvals",
            &[
                "keys",
                "revoked",
                "maxDays",
                "revocationListUrl",
                "revocationListMinutes",
                "revocationListMaxHours",
            ],
        );
        if let Some(list) = obj.get("keys") {
            match list {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let path = format!("$.approvals.keys[{i}]");
                        if let Err(e) = keys.add_jwk(item) {
                            self.warn(&path, format!("{e}; key ignored"));
                        }
                    }
                }
                other => self.warn(
                    "$.approvals.keys",
                    format!("expected an array of keys, found {}", kind(other)),
                ),
            }
        }
        if let Some(list) = obj.get("revoked") {
            revoked =
                self.strings(list, "$.approvals.revoked").into_iter().map(|(_, s)| s).collect();
        }
        if let Some(days) = obj.get("maxDays") {
            max_days = self.positive(days, "$.approvals.maxDays", 3660).unwrap_or(DEFAULT_MAX_DAYS);
        }
        let feed = self.revocation_feed(obj);
        (keys, revoked, max_days, feed)
    }

    /// `revocationListUrl` (https only), `revocationListMinutes` and `revocationListMaxHours`.
    fn revocation_feed(&mut self, obj: &Map<String, Value>) -> Option<RevocationFeed> {
        let minutes = obj
            .get("revocationListMinutes")
            .and_then(|m| self.positive(m, "$.approvals.revocationListMinutes", 1440))
            .unwrap_or(DEFAULT_REVOCATION_LIST_MINUTES);
        let max_hours = obj
            .get("revocationListMaxHours")
            .and_then(|h| self.positive(h, "$.approvals.revocationListMaxHours", 720))
            .unwrap_or(DEFAULT_REVOCATION_LIST_MAX_HOURS);
        let path = "$.approvals.revocationListUrl";
        let u = obj.get("revocationListUrl").and_then(|u| self.string(u, path))?;
        match url::Url::parse(u) {
            Ok(parsed) if parsed.scheme() == "https" => {
                Some(RevocationFeed { url: parsed.to_string(), minutes, max_hours })
            }
            _ => {
                self.warn(path, format!("{u:?} is not an https URL; ignored"));
                None
            }
        }
    }

    fn requests(&mut self, v: &Value, max_approval_days: u32) -> RequestRouting {
        let mut routing =
            RequestRouting { url: None, mail: None, file: true, max_days: max_approval_days };
        if v.is_null() {
            return routing;
        }
        let Some(obj) = self.object(v, "$.requests") else { return routing };
        self.known_keys(obj, "$.requests", &["url", "mail", "file", "maxDays"]);
        if let Some(u) = obj.get("url").and_then(|u| self.string(u, "$.requests.url")) {
            match url::Url::parse(u) {
                Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => {
                    routing.url = Some(parsed.to_string())
                }
                _ => self.warn("$.requests.url", format!("{u:?} is not an http(s) URL; ignored")),
            }
        }
        if let Some(m) = obj.get("mail").and_then(|m| self.string(m, "$.requests.mail")) {
            let plausible =
                m.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
                    && !m.contains([' ', '?', '&', '<', '>']);
            if plausible {
                routing.mail = Some(m.to_owned());
            } else {
                self.warn("$.requests.mail", format!("{m:?} is not a mail address; ignored"));
            }
        }
        if let Some(f) = obj.get("file").and_then(|f| self.boolean(f, "$.requests.file")) {
            routing.file = f;
        }
        if let Some(d) =
            obj.get("maxDays").and_then(|d| self.positive(d, "$.requests.maxDays", 3660))
        {
            routing.max_days = d.min(max_approval_days);
        }
        if routing.url.is_none() && routing.mail.is_none() && !routing.file {
            self.warn(
                "$.requests",
                "no way to send a request is left; downloading a request file stays on",
            );
            routing.file = true;
        }
        routing
    }

    fn warn_settings(&mut self, v: &Value) -> u32 {
        if v.is_null() {
            return DEFAULT_PROCEED_MINUTES;
        }
        let Some(obj) = self.object(v, "$.warn") else { return DEFAULT_PROCEED_MINUTES };
        self.known_keys(obj, "$.warn", &["proceedMinutes"]);
        obj.get("proceedMinutes")
            .and_then(|m| self.positive(m, "$.warn.proceedMinutes", 24 * 60))
            .unwrap_or(DEFAULT_PROCEED_MINUTES)
    }

    fn tenants(&mut self, v: &Value) -> TenantRestrictions {
        let mut t = TenantRestrictions::default();
        if v.is_null() {
            return t;
        }
        let base = "$.tenantRestrictions";
        let Some(obj) = self.object(v, base) else { return t };
        self.known_keys(obj, base, &["google", "microsoft", "slack", "dropbox"]);
        let list = |p: &mut Self,
                    vendor: &Map<String, Value>,
                    key: &str,
                    path: &str|
         -> Vec<String> {
            vendor
                .get(key)
                .map(|v| p.strings(v, &format!("{path}.{key}")))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(item_path, s)| {
                    // Header values: reject anything that could split or extend a header.
                    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b',');
                    if !ok {
                        p.warn(&item_path, format!("{s:?} is not a tenant name or id; ignored"));
                    }
                    ok.then_some(s)
                })
                .collect()
        };
        let single =
            |p: &mut Self, vendor: &Map<String, Value>, key: &str, path: &str| -> Option<String> {
                let s = vendor.get(key).and_then(|v| p.string(v, &format!("{path}.{key}")))?;
                let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    p.warn(
                        &format!("{path}.{key}"),
                        format!("{s:?} is not a valid header value; ignored"),
                    );
                }
                ok.then(|| s.to_owned())
            };
        if let Some(g) = obj.get("google").and_then(|g| self.object(g, &format!("{base}.google"))) {
            let path = format!("{base}.google");
            self.known_keys(g, &path, &["allowedDomains"]);
            t.google_allowed_domains = list(self, g, "allowedDomains", &path);
        }
        if let Some(m) =
            obj.get("microsoft").and_then(|m| self.object(m, &format!("{base}.microsoft")))
        {
            let path = format!("{base}.microsoft");
            self.known_keys(m, &path, &["tenants", "context", "tenantAccessPolicy"]);
            t.microsoft_tenants = list(self, m, "tenants", &path);
            t.microsoft_context = single(self, m, "context", &path);
            t.microsoft_tenant_access_policy = single(self, m, "tenantAccessPolicy", &path);
            if !t.microsoft_tenants.is_empty() && t.microsoft_context.is_none() {
                self.warn(&path, "\"tenants\" needs \"context\" (the directory id that sets the restriction); Microsoft ignores the header without it");
            }
        }
        if let Some(s) = obj.get("slack").and_then(|s| self.object(s, &format!("{base}.slack"))) {
            let path = format!("{base}.slack");
            self.known_keys(s, &path, &["workspaces", "requester"]);
            t.slack_workspaces = list(self, s, "workspaces", &path);
            t.slack_requester = single(self, s, "requester", &path);
        }
        if let Some(d) = obj.get("dropbox").and_then(|d| self.object(d, &format!("{base}.dropbox")))
        {
            let path = format!("{base}.dropbox");
            self.known_keys(d, &path, &["teamIds"]);
            t.dropbox_team_ids = list(self, d, "teamIds", &path);
        }
        t
    }

    fn audit(&mut self, v: &Value) -> bool {
        if v.is_null() {
            return false;
        }
        let Some(obj) = self.object(v, "$.audit") else { return false };
        self.known_keys(obj, "$.audit", &["fullUrl"]);
        obj.get("fullUrl").and_then(|f| self.boolean(f, "$.audit.fullUrl")).unwrap_or(false)
    }

    fn block_page(&mut self, v: &Value) -> BlockPageText {
        let mut b = BlockPageText::default();
        if v.is_null() {
            return b;
        }
        let Some(obj) = self.object(v, "$.blockPage") else { return b };
        self.known_keys(obj, "$.blockPage", &["department", "contact", "message"]);
        b.department = obj.get("department").and_then(|d| self.names(d, "$.blockPage.department"));
        b.contact = obj
            .get("contact")
            .and_then(|c| self.string(c, "$.blockPage.contact"))
            .map(str::to_owned);
        b.message = obj.get("message").and_then(|m| self.names(m, "$.blockPage.message"));
        b
    }
}

/// The broad tier's hosts of every category whose `broad` switch is on, added after the
/// catalogue and the policy's rules into the same index, with the category's index in
/// `BUILTIN_CATEGORIES` as value: one look-up per label then serves both tiers (a second index
/// cost `decide` 18 % on the benchmark workload, this 3 to 4 %; `wasm-core/README.md`). An entry that a
/// catalogue or policy pattern already touches (on its host or a parent) is left out, so the
/// catalogue and the policy decide there, as they would without the tier.
fn insert_broad_tier(
    classifier: &mut Matcher<(usize, RuleSource)>,
    categories: &BTreeMap<String, CategoryPolicy>,
) {
    let Some(tier) = crate::broad::tier() else { return };
    let mut entries = Vec::new();
    for (index, (category, ..)) in BUILTIN_CATEGORIES.iter().enumerate() {
        if categories.get(*category).is_some_and(|c| !c.broad) {
            continue;
        }
        for pattern in tier.entries(category) {
            if classifier.find(pattern.host(), "/").is_none() {
                entries.push((pattern.clone(), (index, RuleSource::Broad)));
            }
        }
    }
    for (pattern, value) in entries {
        classifier.insert(pattern, value);
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A policy time resolved to an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PolicyTime {
    /// Unix milliseconds.
    ms: i64,
    /// Given as a calendar date, so its instant came from the policy's time zone.
    date_only: bool,
}

/// `YYYY-MM-DD` (midnight `offset_minutes` east of UTC) or RFC 3339.
fn parse_policy_time(s: &str, offset_minutes: i32) -> Option<PolicyTime> {
    if let Some(ms) = crate::date::parse_rfc3339(s) {
        return Some(PolicyTime { ms, date_only: false });
    }
    let days = crate::date::parse_date(s)?;
    let ms = days.saturating_mul(86_400_000).saturating_sub(i64::from(offset_minutes) * 60_000);
    Some(PolicyTime { ms, date_only: true })
}

/// `±HH:MM` (at most ±14:00), `Z` or `UTC`, in minutes east of UTC.
fn parse_utc_offset(s: &str) -> Option<i32> {
    if s == "Z" || s.eq_ignore_ascii_case("UTC") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && h * 60 + m <= 14 * 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Parsed {
        Policy::from_json(json).unwrap()
    }

    /// The desk's revocation list: https only, minutes bounded, nothing without a URL.
    #[test]
    fn revocation_list_location() {
        let feed = |approvals: &str| {
            let parsed = parse(&format!(r#"{{"approvals": {approvals}}}"#));
            let paths: Vec<String> = parsed.warnings.iter().map(|w| w.path.clone()).collect();
            (parsed.policy.revocation_feed, paths)
        };
        let url = "https://desk.corp.example/api/revocations";
        assert_eq!(
            feed(&format!(
                r#"{{"revocationListUrl": "{url}", "revocationListMinutes": 2, "revocationListMaxHours": 8}}"#
            )),
            (Some(RevocationFeed { url: url.into(), minutes: 2, max_hours: 8 }), vec![])
        );
        assert_eq!(
            feed(&format!(r#"{{"revocationListUrl": "{url}"}}"#)).0,
            Some(RevocationFeed {
                url: url.into(),
                minutes: DEFAULT_REVOCATION_LIST_MINUTES,
                max_hours: DEFAULT_REVOCATION_LIST_MAX_HOURS,
            })
        );
        let (bounded, paths) =
            feed(&format!(r#"{{"revocationListUrl": "{url}", "revocationListMaxHours": 9999}}"#));
        assert_eq!(bounded.map(|f| f.max_hours), Some(DEFAULT_REVOCATION_LIST_MAX_HOURS));
        assert_eq!(paths, vec!["$.approvals.revocationListMaxHours".to_owned()]);
        let (none, paths) = feed(r#"{"revocationListUrl": "http://desk.corp.example/x"}"#);
        assert_eq!((none, paths), (None, vec!["$.approvals.revocationListUrl".to_owned()]));
        let (kept, paths) =
            feed(&format!(r#"{{"revocationListUrl": "{url}", "revocationListMinutes": 0}}"#));
        assert_eq!(kept.map(|f| f.minutes), Some(DEFAULT_REVOCATION_LIST_MINUTES));
        assert_eq!(paths, vec!["$.approvals.revocationListMinutes".to_owned()]);
        assert_eq!(feed(r#"{"revocationListMinutes": 3}"#), (None, vec![]));
    }

    #[test]
    fn default_policy_is_clean() {
        let parsed = parse(DEFAULT_POLICY);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        for (id, c) in parsed.policy.categories() {
            assert_eq!(c.mode, Mode::Block, "{id}");
        }
        assert_eq!(parsed.policy.categories().len(), BUILTIN_CATEGORIES.len());
        assert!(parsed.policy.categories().contains_key("circumvention"));
    }

    #[test]
    fn unusable_policies_are_errors() {
        assert!(matches!(Policy::from_json("{"), Err(PolicyError::Json(_))));
        assert_eq!(Policy::from_json("[]").unwrap_err(), PolicyError::NotAnObject("an array"));
        assert_eq!(Policy::from_json("null").unwrap_err(), PolicyError::NotAnObject("null"));
    }

    #[test]
    fn bad_entries_are_warnings_with_paths_and_fail_closed() {
        let parsed = parse(
            r#"{"categories": {"webmail": {"mode": "blok"}, "cloud_storage": {"mode": "warn"}},
                "allowlist": ["mail.dept.gov.hk", 7, "a.*.b", "service:nope", "service:gmail"],
                "colour": "blue"}"#,
        );
        let paths: Vec<&str> = parsed.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "$.colour",
                "$.categories.webmail.mode",
                "$.allowlist[1]",
                "$.allowlist[2]",
                "$.allowlist[3]"
            ]
        );
        let p = parsed.policy;
        assert_eq!(p.category("webmail").mode, Mode::Block, "a bad mode must fall back to block");
        assert_eq!(p.category("cloud_storage").mode, Mode::Warn);
        assert_eq!(p.category("instant_messaging").mode, Mode::Block, "omitted categories block");
        assert!(p.allowed_services.contains("gmail"));
        assert_eq!(p.allowlist.len(), 1);
    }

    #[test]
    fn policy_rules_define_services_and_win_ties() {
        let parsed = parse(
            r#"{"rules": [{"category": "webmail", "service": "isp-mail", "name": {"en": "ISP Mail", "zh_TW": "寬頻郵件"},
                           "match": ["webmail.isp.example", "bad pattern"]},
                          {"category": "nope", "match": ["x.example"]}]}"#,
        );
        assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
        let req = Request::new("https://webmail.isp.example/inbox", crate::ResourceType::MainFrame)
            .unwrap();
        let c = parsed.policy.classify(&req).unwrap();
        assert_eq!((c.service.id.as_str(), c.rule_source), ("isp-mail", RuleSource::Policy));
        assert_eq!(c.service.name.zh_tw, "寬頻郵件");
    }

    #[test]
    fn adaptation_dates_are_midnight_in_the_policy_time_zone_or_instants() {
        let end = |json: &str| {
            let parsed = parse(json);
            (parsed.policy.category("webmail").adaptation_end_ms, parsed.warnings.len())
        };
        let hk =
            r#"{"timeZone": "+08:00", "categories": {"webmail": {"adaptationEnd": "1970-01-02"}}}"#;
        assert_eq!(end(hk), (Some(86_400_000 - 8 * 3_600_000), 0));
        let instant = r#"{"categories": {"webmail": {"adaptationEnd": "1970-01-01T00:00:01Z"}}}"#;
        assert_eq!(end(instant), (Some(1000), 0), "an instant needs no time zone");
        let bad = r#"{"categories": {"webmail": {"adaptationEnd": "2027-02-30"}}}"#;
        assert_eq!(end(bad), (None, 1));
    }

    /// Regression (issue 9, finding 13): a date used to mean midnight on the desk's own clock, so
    /// a user-set `TZ` moved "block from" by up to a day. Without `timeZone` a date is midnight
    /// UTC, and the policy check says so.
    #[test]
    fn a_date_without_a_policy_time_zone_is_midnight_utc_and_warned() {
        let parsed = parse(r#"{"categories": {"webmail": {"adaptationEnd": "1970-01-02"}}}"#);
        assert_eq!(parsed.policy.category("webmail").adaptation_end_ms, Some(86_400_000));
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].path, "$.categories.webmail.adaptationEnd");
        assert!(parsed.warnings[0].message.contains("$.timeZone"), "{:?}", parsed.warnings);
    }

    #[test]
    fn time_zones_are_fixed_offsets() {
        for (s, want) in [
            ("+08:00", Some(480)),
            ("-05:30", Some(-330)),
            ("Z", Some(0)),
            ("utc", Some(0)),
            ("+14:00", Some(840)),
        ] {
            assert_eq!(parse_utc_offset(s), want, "{s}");
        }
        for s in [
            "Asia/Hong_Kong",
            "+8",
            "+08",
            "+0800",
            "+14:01",
            "+08:60",
            "",
            "+",
            "08:00",
            "+０8:00",
        ] {
            assert_eq!(parse_utc_offset(s), None, "{s}");
        }
        let parsed = parse(r#"{"timeZone": "Asia/Hong_Kong"}"#);
        assert_eq!(parsed.warnings[0].path, "$.timeZone");
    }

    /// Regression (issue 9, finding 14): `google.com` in the allowlist silently opened Gmail,
    /// Drive and every other catalogued Google service.
    #[test]
    fn an_allowlist_entry_covering_several_services_is_warned() {
        let parsed = parse(
            r#"{"allowlist": ["google.com", "mail.google.com", "outlook.live.com", "mail.google.com/a/dept.gov.hk"]}"#,
        );
        let paths: Vec<&str> = parsed.warnings.iter().map(|w| w.path.as_str()).collect();
        // `mail.google.com` is a shared host: Google Chat lives under it too.
        assert_eq!(paths, ["$.allowlist[0]", "$.allowlist[1]"], "{:?}", parsed.warnings);
        assert!(parsed.warnings[0].message.contains("Gmail"), "{}", parsed.warnings[0].message);
        assert!(
            parsed.warnings[1].message.contains("Google Chat"),
            "{}",
            parsed.warnings[1].message
        );
        // The entries still apply: the warning informs, the administrator decides.
        assert_eq!(parsed.policy.allowlist.len(), 4);
    }

    #[test]
    fn tenant_header_values_cannot_be_injected() {
        let parsed = parse(
            r#"{"tenantRestrictions": {"google": {"allowedDomains": ["dept.gov.hk", "a.com,evil.com", "x\r\ny: z"]}}}"#,
        );
        assert_eq!(parsed.policy.tenants.google_allowed_domains, ["dept.gov.hk"]);
        assert_eq!(parsed.warnings.len(), 2);
    }

    #[test]
    fn broad_tier_classifies_after_the_catalogue_and_follows_its_switch() {
        use crate::request::ResourceType;
        fn req(u: &str) -> Request<'_> {
            Request::new(u, ResourceType::MainFrame).unwrap()
        }
        let policy = Policy::embedded_default();
        let c = policy.classify(&req("https://www.yopmail.com/en/")).unwrap();
        assert_eq!(
            (c.service.id.as_str(), c.service.category.as_str(), c.rule_source),
            ("yopmail.com", "webmail", RuleSource::Broad)
        );
        assert_eq!(c.matched_rule, "yopmail.com");
        // Curated first: gmail.com is the Gmail service, not a broad entry.
        assert_eq!(
            policy.classify(&req("https://gmail.com/")).unwrap().rule_source,
            RuleSource::Catalogue
        );
        // Behind a translate proxy the broad tier does not apply (the rules cannot spell it).
        assert!(policy.classify(&req("https://www-yopmail-com.translate.goog/")).is_none());
        let parsed = Policy::from_json(r#"{"categories": {"webmail": {"broad": false}}}"#).unwrap();
        assert!(parsed.warnings.is_empty());
        assert!(parsed.policy.classify(&req("https://yopmail.com/")).is_none());
        assert!(parsed.policy.classify(&req("https://gmail.com/")).is_some());
    }

    #[test]
    fn a_broad_host_can_be_allowlisted_by_service_id() {
        let parsed = Policy::from_json(
            r#"{"allowlist": ["service:yopmail.com", "service:nosuch.example"]}"#,
        )
        .unwrap();
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        assert!(parsed.policy.allowed_services.contains("yopmail.com"));
    }

    #[test]
    fn broad_switch_is_validated() {
        let parsed = Policy::from_json(
            r#"{"categories": {"webmail": {"broad": "no"}, "news": {"mode": "block", "broad": false}}}"#,
        )
        .unwrap();
        let paths: Vec<&str> = parsed.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["$.categories.news.broad", "$.categories.webmail.broad"]);
        // A bad value keeps the tier on (fail closed).
        assert!(parsed.policy.category("webmail").broad);
    }
}
