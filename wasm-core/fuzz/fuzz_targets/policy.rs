//! Fuzz target: any bytes as a managed-storage policy, then a decision and a rule compile under it.
#![no_main]

use gatehouse_core::{compile_rules, decide, Context, Policy, Request, ResourceType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = Policy::from_json(text) {
        if let Ok(request) = Request::new("https://mail.google.com/", ResourceType::MainFrame) {
            let _ = decide(&parsed.policy, &Context::default(), &request);
        }
        let _ =
            compile_rules(&parsed.policy, &Context::default(), "chrome-extension://x/block.html");
    }
});
