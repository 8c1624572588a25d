//! The compiled rules decide what `decide` decides, for every catalogue pattern × spelling × resource type (modelled natively; `tests/browser/differential.test.mjs` runs the same cases in Chromium).

use std::collections::HashMap;

use gatehouse_core::{compile_rules, Context, Policy};

use crate::spellings::{cases, Simulator};

const BLOCK: &str = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/block.html";

/// A policy with every kind of rule: a monitored category (carve-outs under enforced patterns
/// are not needed there, but its services' rules must not block), allowlisted hosts, an
/// allowlisted path inside a blocked service, exact and path patterns of the policy's own.
pub const MIXED_POLICY: &str = r#"{
  "categories": {"instant_messaging": {"mode": "monitor"}},
  "allowlist": ["drive.google.com", "=www.126.com", "dropbox.com/team", "service:mega"],
  "rules": [
    {"category": "webmail", "service": "portal", "match": ["portal.example", "=exact.example", "files.example/upload/v2"]},
    {"category": "instant_messaging", "service": "ok_chat", "match": ["ok.portal.example"]}
  ]
}"#;

/// The policy's own patterns, for the generator.
pub fn mixed_extra() -> Vec<String> {
    [
        "drive.google.com",
        "=www.126.com",
        "dropbox.com/team",
        "portal.example",
        "=exact.example",
        "files.example/upload/v2",
        "ok.portal.example",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn check(name: &str, policy_json: &str, extra: &[String], min_cases: usize) {
    let policy = Policy::from_json(policy_json).expect("policy").policy;
    let context = Context::default();
    let rules = compile_rules(&policy, &context, BLOCK);
    assert!(rules.overflow.is_empty(), "{name}: {:?}", rules.overflow);
    let sim = Simulator::new(&rules);
    let all = cases(&policy, &context, extra);
    // The compiled rules tell apart only main frames, subframes and everything else, so one
    // simulation per URL and class keeps this test quick (the browser test checks every type).
    let class = |t: &'static str| if matches!(t, "main_frame" | "sub_frame") { t } else { "other" };
    let mut seen: HashMap<(String, &str), bool> = HashMap::new();
    let mut rules_block = |url: &str, t: &'static str| -> bool {
        *seen.entry((url.to_owned(), class(t))).or_insert_with(|| sim.blocks(url, class(t)))
    };
    let wrong: Vec<String> = all
        .iter()
        .filter(|c| c.blocked != rules_block(&c.url, c.resource_type))
        .map(|c| {
            format!(
                "{} {} {} ({}; engine blocked: {})",
                c.resource_type, c.method, c.url, c.spelling, c.blocked
            )
        })
        .collect();
    println!(
        "{name}: {} cases, {} disagreements, {} rules",
        all.len(),
        wrong.len(),
        rules.rules.len()
    );
    assert!(
        wrong.is_empty(),
        "{name}: {} of {} disagree:\n{}",
        wrong.len(),
        all.len(),
        wrong[..wrong.len().min(40)].join("\n")
    );
    // Count guard: a generator that silently shrank must fail.
    assert!(all.len() >= min_cases, "{name}: only {} cases", all.len());
    assert!(
        all.iter().filter(|c| c.blocked).count() * 4 >= all.len(),
        "{name}: too few blocked cases"
    );
}

#[test]
fn compiled_rules_agree_with_decide_default_policy() {
    check("default policy", "{}", &[], 80_000);
}

#[test]
fn compiled_rules_agree_with_decide_mixed_policy() {
    check("mixed policy", MIXED_POLICY, &mixed_extra(), 80_000);
}
