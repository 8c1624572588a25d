//! The differential generator: every catalogue (and policy) pattern × spelling × resource type, with the engine's verdict — and a model of Chromium's rule matching to check the compiled rules against it.
//!
//! `examples/differential.rs` writes the same cases as JSON for the browser test
//! (`tests/browser/differential.test.mjs`), where Chromium's own
//! `declarativeNetRequest.testMatchOutcome` is the judge; the model here only makes the native
//! test fast and is checked by that browser test, not trusted instead of it.

#![allow(dead_code)] // Shared with examples/differential.rs, which uses a different subset.

use gatehouse_core::{
    catalogue, decide, CompiledRules, Context, Pattern, Policy, Request, ResourceType,
};

/// One request to check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Case {
    /// The URL as a page would request it.
    pub url: String,
    /// The declarativeNetRequest resource type.
    #[serde(rename = "type")]
    pub resource_type: &'static str,
    /// `get` or `post`.
    pub method: &'static str,
    /// What the spelling is (`trailing dot`, `%-encoded path`, …).
    pub spelling: &'static str,
    /// The pattern it was derived from.
    pub pattern: String,
    /// The engine's verdict: must not load (block, or warn until the user continues).
    pub blocked: bool,
}

/// Resource types a request of each spelling is sent as, with the method.
pub const TYPES: [(ResourceType, &str); 10] = [
    (ResourceType::MainFrame, "get"),
    (ResourceType::SubFrame, "get"),
    (ResourceType::SubFrame, "post"),
    (ResourceType::Xmlhttprequest, "get"),
    (ResourceType::Xmlhttprequest, "post"),
    (ResourceType::Websocket, "get"),
    (ResourceType::Script, "get"),
    (ResourceType::Image, "get"),
    (ResourceType::Ping, "post"),
    (ResourceType::Other, "get"),
];

/// Every pattern the generator covers: the catalogue's, then `extra` (a policy's own).
pub fn patterns(extra: &[String]) -> Vec<Pattern> {
    let mut out: Vec<Pattern> = catalogue()
        .iter()
        .flat_map(|s| s.patterns.iter())
        .chain(extra)
        .filter_map(|p| Pattern::parse(p).ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Percent-escapes the unreserved characters of `path` (after its leading `/`): `all` of them,
/// or only the first; `upper` writes the escape of the uppercase letter (`%4D` for `m`).
fn escape_path(path: &str, all: bool, upper: bool) -> String {
    let mut out = String::from("/");
    let mut done = false;
    for c in path.chars().skip(1) {
        let unreserved = c.is_ascii_alphanumeric() || "-._~".contains(c);
        if unreserved && (all || !done) {
            let c = if upper { c.to_ascii_uppercase() } else { c };
            out.push_str(&format!("%{:02X}", u32::from(c)));
            done = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// The proxy host label for `host` (`-` doubled, `.` as `-`).
fn proxy_label(host: &str) -> String {
    host.replace('-', "--").replace('.', "-")
}

/// `(spelling, https URL)` for one pattern: blocked forms and near misses.
pub fn spellings(p: &Pattern) -> Vec<(&'static str, String)> {
    let host = p.host();
    let path = p.path().unwrap_or("/");
    let deeper = if path == "/" { "/x/1?y=2".to_owned() } else { format!("{path}/t/1?y=2") };
    let mut out = vec![
        ("plain", format!("https://{host}{path}")),
        ("plain, deeper", format!("https://{host}{deeper}")),
        ("trailing dot", format!("https://{host}.{deeper}")),
        (
            "uppercase",
            format!("https://{}{}", host.to_ascii_uppercase(), deeper.to_ascii_uppercase()),
        ),
        ("port", format!("https://{host}:8443{deeper}")),
        ("default port", format!("https://{host}:443{path}")),
        ("userinfo", format!("https://user:pw@{host}{deeper}")),
        ("userinfo, trailing dot, port", format!("https://u@{host}.:444{path}")),
        ("http", format!("http://{host}{path}")),
        ("label lookalike", format!("https://x{host}{path}")),
        ("suffix lookalike", format!("https://{host}.evil.example{path}")),
        ("subdomain", format!("https://www.{host}{path}")),
        ("proxy", format!("https://{}.translate.goog{deeper}", proxy_label(host))),
        ("proxy subdomain", format!("https://www-{}.translate.goog{path}", proxy_label(host))),
        ("proxy odd dashes", format!("https://a---{}.translate.goog{path}", proxy_label(host))),
        ("proxy even dashes", format!("https://a--{}.translate.goog{path}", proxy_label(host))),
        ("proxy nested label", format!("https://x.{}.translate.goog{path}", proxy_label(host))),
        (
            "?u=",
            format!("https://translate.google.com/translate?sl=auto&tl=en&u=https://{host}{path}"),
        ),
        (
            "?u= encoded",
            format!("https://translate.google.com.hk/translate?u=https%3A%2F%2F{host}%2F"),
        ),
        ("?u= bare host", format!("https://translate.google.com/translate?u={host}")),
        ("?u= subdomain", format!("https://translate.google.com/?U=//www.{host}.:443/")),
        (
            "?u= second",
            format!(
                "https://translate.googleusercontent.com/translate_c?u=example.org&u=http:{host}"
            ),
        ),
        (
            "?u= lookalike",
            format!("https://translate.google.com/translate?u=https://{host}.evil.example/"),
        ),
        (
            "?u= escaped host",
            format!(
                "https://translate.google.com/translate?u=https://{}",
                host.replacen('.', "%2E", 1)
            ),
        ),
        ("?u= frontend subdomain", format!("https://x.translate.google.co.uk/?u={host}")),
        ("?u= not a frontend", format!("https://translate.google.example/translate?u={host}")),
    ];
    if p.path().is_some() {
        out.extend([
            (
                "%-encoded first character",
                format!("https://{host}{}/t/1", escape_path(path, false, false)),
            ),
            (
                "%-encoded path",
                format!("https://{host}{}", escape_path(path, true, false).to_ascii_lowercase()),
            ),
            (
                "%-encoded uppercase letter",
                format!("https://{host}{}?x", escape_path(path, false, true)),
            ),
            (
                "%-encoded, proxied",
                format!(
                    "https://{}.translate.goog{}",
                    proxy_label(host),
                    escape_path(path, true, false)
                ),
            ),
            (
                "%-encoded, proxy subdomain",
                format!(
                    "https://m-{}.translate.goog{}",
                    proxy_label(host),
                    escape_path(path, false, false)
                ),
            ),
            ("escaped ~ after the prefix", format!("https://{host}{path}%7Ex")),
            ("~ after the prefix", format!("https://{host}{path}~x")),
            ("escaped letter after the prefix", format!("https://{host}{path}%41")),
            ("path lookalike", format!("https://{host}{path}x")),
            ("other path", format!("https://{host}/elsewhere")),
        ]);
    }
    out
}

/// Every case for `policy` under `context`, with the engine's verdict. Deterministic.
pub fn cases(policy: &Policy, context: &Context, extra: &[String]) -> Vec<Case> {
    let mut out = Vec::new();
    for p in patterns(extra) {
        for (spelling, url) in spellings(&p) {
            for (t, method) in TYPES {
                let url = if t == ResourceType::Websocket {
                    url.replacen("http", "ws", 1)
                } else {
                    url.clone()
                };
                let Ok(request) = Request::new(&url, t) else { continue };
                let blocked = decide(policy, context, &request).is_blocked();
                out.push(Case {
                    url,
                    resource_type: t.name(),
                    method,
                    spelling,
                    pattern: p.to_string(),
                    blocked,
                });
            }
        }
    }
    out
}

/// A model of Chromium's matching, for the native test: the winning rule's action for a URL.
/// Hosts compare without the trailing dot (as `requestDomains` does); regexes run case-folded
/// on the URL as the WHATWG parser serialises it (escapes kept, as Chromium keeps them).
pub struct Simulator<'r> {
    rules: &'r CompiledRules,
    regexes: Vec<Option<regex::Regex>>,
}

impl<'r> Simulator<'r> {
    pub fn new(rules: &'r CompiledRules) -> Self {
        let regexes = rules
            .rules
            .iter()
            .map(|r| {
                r.condition.regex_filter.as_ref().map(|re| {
                    regex::RegexBuilder::new(re).case_insensitive(true).build().expect("regex")
                })
            })
            .collect();
        Self { rules, regexes }
    }

    /// The action of the rule Chromium would apply, if any.
    pub fn outcome(&self, url: &str, resource_type: &str) -> Option<&'static str> {
        let parsed = url::Url::parse(url).ok()?;
        let host = parsed.host_str()?.trim_end_matches('.');
        let mut best: Option<(u32, u8, &'static str)> = None;
        for (rule, regex) in self.rules.rules.iter().zip(&self.regexes) {
            let c = &rule.condition;
            let types_ok = match (&c.resource_types, &c.excluded_resource_types) {
                (Some(list), _) => list.contains(&resource_type),
                (None, Some(excluded)) => !excluded.contains(&resource_type),
                (None, None) => resource_type != "main_frame",
            };
            let domain_ok = c.request_domains.as_ref().is_none_or(|ds| {
                ds.iter().any(|d| {
                    host == d || host.strip_suffix(d.as_str()).is_some_and(|r| r.ends_with('.'))
                })
            });
            if !types_ok
                || !domain_ok
                || regex.as_ref().is_some_and(|re| !re.is_match(parsed.as_str()))
            {
                continue;
            }
            // On equal priority: allow, then block, then redirect (Chromium's documented order).
            let rank = match rule.action.kind {
                "allow" => 3,
                "block" => 2,
                "redirect" => 1,
                _ => continue,
            };
            if best.is_none_or(|(p, r, _)| (rule.priority, rank) > (p, r)) {
                best = Some((rule.priority, rank, rule.action.kind));
            }
        }
        best.map(|(_, _, kind)| kind)
    }

    /// The rules keep the request from the network (redirect to the block page, or block).
    pub fn blocks(&self, url: &str, resource_type: &str) -> bool {
        matches!(self.outcome(url, resource_type), Some("block" | "redirect"))
    }
}
