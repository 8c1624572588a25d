//! The extension's managed-storage schema and the policy parser describe the same policy: a
//! policy that fills every property of the schema parses without an "unknown key" warning.

use gatehouse_core::Policy;
use serde_json::{json, Map, Value};

const SCHEMA: &str = include_str!("../../../extension/managed_schema.json");

/// A value of the schema node's type, with every property and one array item filled in.
fn sample(node: &Value, count: &mut usize) -> Value {
    *count += 1;
    match node["type"].as_str() {
        Some("object") => {
            let mut out = Map::new();
            for (key, child) in node["properties"].as_object().into_iter().flatten() {
                out.insert(key.clone(), sample(child, count));
            }
            if let Some(extra) = node.get("additionalProperties").filter(|v| v.is_object()) {
                out.insert("custom_category".into(), sample(extra, count));
            }
            Value::Object(out)
        }
        Some("array") => json!([sample(&node["items"], count)]),
        Some("boolean") => json!(true),
        Some("integer") | Some("number") => json!(1),
        _ => json!("x"),
    }
}

#[test]
fn every_schema_property_is_known_to_the_parser() {
    let schema: Value = serde_json::from_str(SCHEMA).expect("managed_schema.json is JSON");
    let mut count = 0;
    let policy = sample(&schema, &mut count);
    let parsed = Policy::from_value(&policy).expect("a schema-shaped policy is usable");
    let unknown: Vec<_> =
        parsed.warnings.iter().filter(|w| w.message.starts_with("unknown key")).collect();
    assert!(unknown.is_empty(), "schema keys the parser does not know: {unknown:?}");
    assert!(count > 80, "schema walk covered only {count} nodes");
}

#[test]
fn every_schema_property_has_a_title_and_description() {
    fn walk(node: &Value, path: &str, missing: &mut Vec<String>) {
        if node.get("title").is_none() || node.get("description").is_none() {
            missing.push(path.to_owned());
        }
        for (key, child) in node["properties"].as_object().into_iter().flatten() {
            walk(child, &format!("{path}.{key}"), missing);
        }
        if let Some(items) = node.get("items") {
            walk(items, &format!("{path}[]"), missing);
        }
    }
    let schema: Value = serde_json::from_str(SCHEMA).expect("managed_schema.json is JSON");
    let mut missing = Vec::new();
    walk(&schema, "$", &mut missing);
    assert!(missing.is_empty(), "schema nodes without title/description: {missing:?}");
}

#[test]
fn example_policies_are_clean() {
    let examples = [include_str!("../../../manifests/examples/department.json")];
    for example in examples {
        let parsed = Policy::from_json(example).expect("example policy is usable");
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }
}
