//! The shared decision fixtures (`tests/fixtures/decisions.json`), run natively; the same file
//! runs against the wasm build under Node (`tests/wasm/decisions.test.mjs`).

use gatehouse_core::{decide, Context, Policy, Request, ResourceType};
use serde_json::Value;

const FIXTURES: &str = include_str!("../../../tests/fixtures/decisions.json");

#[test]
fn decision_fixtures() {
    let fixtures: Value = serde_json::from_str(FIXTURES).expect("fixtures are JSON");
    let cases = fixtures["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let policy = match case["policy"].as_str() {
            None => Policy::embedded_default(),
            Some(name) => {
                let parsed =
                    Policy::from_value(&fixtures["policies"][name]).expect("fixture policy");
                assert!(parsed.warnings.is_empty(), "policy {name}: {:?}", parsed.warnings);
                parsed.policy
            }
        };
        let context: Context = match case["context"].as_str() {
            None => Context { now_ms: 1_800_000_000_000, ..Context::default() },
            Some(name) => {
                serde_json::from_value(fixtures["contexts"][name].clone()).expect("fixture context")
            }
        };
        let resource_type: ResourceType =
            case["resourceType"].as_str().unwrap_or("main_frame").parse().expect("resource type");
        let url = case["url"].as_str().expect("url");
        let request = Request::new(url, resource_type).expect("fixture URLs parse");
        let verdict =
            serde_json::to_value(decide(&policy, &context, &request)).expect("verdict serialises");
        for (key, want) in case["expect"].as_object().expect("expect") {
            let got = match key.as_str() {
                "service" => verdict["service"]["id"].clone(),
                _ => verdict[key].clone(),
            };
            if &got != want {
                failures.push(format!("case {i} ({url}): {key} = {got}, expected {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} fixture mismatches:\n{}", failures.len(), failures.join("\n"));
    // A fixture file that silently shrank must fail.
    assert_eq!(cases.len() as u64, fixtures["caseCount"].as_u64().expect("caseCount"));
}
