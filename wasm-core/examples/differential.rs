//! Writes the differential cases (catalogue and policy patterns × spellings × resource types, with the engine's verdict) and the compiled rules as JSON, for `tests/browser/differential.test.mjs`.
//!
//! `cargo run -p gatehouse-core --example differential -- [POLICY.json] [BLOCK_PAGE_URL]`

use std::process::ExitCode;

use gatehouse_core::{compile_rules, Context, Policy};
use serde_json::{json, Value};

#[path = "../tests/integration/spellings.rs"]
mod spellings;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("differential: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let text = match args.next() {
        Some(path) => std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?,
        None => "{}".to_owned(),
    };
    let block_page = args.next().unwrap_or_else(|| "chrome-extension://x/block.html".to_owned());
    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let policy = Policy::from_value(&value).map_err(|e| e.to_string())?.policy;
    // The policy's own patterns: its rules and its allowlist entries (not `service:` ones).
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let mut extra: Vec<String> = value
        .get("rules")
        .and_then(Value::as_array)
        .map(|rules| rules.iter().flat_map(|r| strings(r.get("match"))).collect())
        .unwrap_or_default();
    extra
        .extend(strings(value.get("allowlist")).into_iter().filter(|s| !s.starts_with("service:")));
    let context = Context::default();
    let rules = compile_rules(&policy, &context, &block_page);
    let cases = spellings::cases(&policy, &context, &extra);
    let out = json!({ "rules": rules, "cases": cases });
    println!("{}", serde_json::to_string(&out).map_err(|e| e.to_string())?);
    Ok(())
}
