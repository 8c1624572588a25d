//! Fuzz target: any bytes as a URL through normalisation, classification and the decision.
#![no_main]

use gatehouse_core::{decide, Context, Policy, Request, ResourceType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let url = String::from_utf8_lossy(data);
    if let Ok(request) = Request::new(&url, ResourceType::SubFrame) {
        let policy = Policy::embedded_default();
        let verdict = decide(&policy, &Context::default(), &request);
        if let (Some(host), Some(rule)) = (request.host(), verdict.matched_rule.as_deref()) {
            let rule_host = rule.trim_start_matches('=').split('/').next().unwrap_or_default();
            assert!(host == rule_host || host.ends_with(&format!(".{rule_host}")), "{url}: {rule}");
        }
    }
});
