//! Property tests: any string as a URL and any JSON as a policy never panic, and a category is
//! only ever given on a label-boundary host match.

use gatehouse_core::{catalogue, compile_rules, decide, Context, Policy, Request, ResourceType};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "block",
            "warn",
            "monitor",
            "off",
            "mail.google.com",
            "service:gmail",
            "2027-01-01",
            "10.0.0.0/8"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop::sample::select(vec![
            "categories",
            "webmail",
            "cloud_storage",
            "mode",
            "adaptationEnd",
            "allowlist",
            "rules",
            "category",
            "match",
            "service",
            "scope",
            "joinedDomains",
            "network",
            "cidrs",
            "approvals",
            "keys",
            "revoked",
            "maxDays",
            "requests",
            "url",
            "mail",
            "tenantRestrictions",
            "google",
            "allowedDomains",
            "blockPage",
            "department",
            "en",
            "zh_TW",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Hosts built around catalogue hosts: exact, subdomains, look-alike prefixes and suffixes.
fn near_catalogue_host() -> impl Strategy<Value = String> {
    let hosts: Vec<String> = catalogue()
        .iter()
        .flat_map(|s| s.patterns.iter())
        .map(|p| p.trim_start_matches('=').split('/').next().unwrap_or_default().to_owned())
        .collect();
    (prop::sample::select(hosts), "[a-z0-9-]{0,6}", 0..4u8).prop_map(|(host, label, shape)| {
        match shape {
            0 => host,
            1 => format!("{label}.{host}"),
            2 => format!("{label}{host}"),
            _ => format!("{host}.{label}x.example"),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn any_string_as_url_never_panics(url in ".{0,80}", scheme in prop::sample::select(vec!["", "https://", "blob:https://", "view-source:", "http://[", "wss://"])) {
        let url = format!("{scheme}{url}");
        if let Ok(request) = Request::new(&url, ResourceType::MainFrame) {
            let _ = decide(&Policy::embedded_default(), &Context::default(), &request);
        }
    }

    #[test]
    fn any_json_as_policy_never_panics(value in json_value()) {
        if let Ok(parsed) = Policy::from_value(&value) {
            let request = Request::new("https://mail.google.com/", ResourceType::MainFrame).unwrap();
            let verdict = decide(&parsed.policy, &Context::default(), &request);
            let _ = compile_rules(&parsed.policy, &Context::default(), "chrome-extension://x/block.html");
            // Whatever the policy, an uncategorised site is never blocked.
            let other = Request::new("https://www.gov.hk/", ResourceType::MainFrame).unwrap();
            prop_assert!(!decide(&parsed.policy, &Context::default(), &other).is_blocked());
            prop_assert!(verdict.category.is_some());
        }
        let _ = Policy::from_json(&value.to_string());
    }

    #[test]
    fn categories_only_on_label_boundaries(host in near_catalogue_host(), path in "(/[a-z]{0,8}){0,3}") {
        let policy = Policy::embedded_default();
        let url = format!("https://{host}{path}");
        if let Ok(request) = Request::new(&url, ResourceType::MainFrame) {
            if let Some(hit) = policy.classify(&request) {
                let rule_host = hit.matched_rule.trim_start_matches('=').split('/').next().unwrap_or_default();
                let host = request.host().unwrap_or_default();
                prop_assert!(
                    host == rule_host || host.ends_with(&format!(".{rule_host}")),
                    "{url} matched {} across a label boundary", hit.matched_rule
                );
            }
        }
    }
}
