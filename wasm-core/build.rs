//! Validates the service catalogue (`catalogue/services.toml`) and embeds it as compact JSON.

use std::collections::BTreeSet;
use std::{env, fs, path::Path, process::ExitCode};

use serde::{Deserialize, Serialize};

const CATEGORIES: [&str; 4] = ["webmail", "cloud_storage", "instant_messaging", "circumvention"];
const TENANT_VENDORS: [&str; 4] = ["google", "microsoft", "slack", "dropbox"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    service: Vec<Service>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Service {
    id: String,
    category: String,
    name: Names,
    #[serde(rename = "match")]
    patterns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(skip_serializing)]
    #[allow(dead_code)] // Read by people, not by the engine.
    evidence: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Names {
    en: String,
    #[serde(rename = "zh_TW")]
    zh_tw: String,
    #[serde(rename = "zh_CN", default, skip_serializing_if = "Option::is_none")]
    zh_cn: Option<String>,
}

fn main() -> ExitCode {
    let source = Path::new("catalogue/services.toml");
    println!("cargo::rerun-if-changed={}", source.display());
    match build(source) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // A broken catalogue must stop the build: the product would otherwise ship without it.
            println!("cargo::error={}: {message}", source.display());
            ExitCode::FAILURE
        }
    }
}

fn build(source: &Path) -> Result<(), String> {
    let text = fs::read_to_string(source).map_err(|e| e.to_string())?;
    let catalogue: Catalogue = toml::from_str(&text).map_err(|e| e.to_string())?;
    let mut ids = BTreeSet::new();
    for s in &catalogue.service {
        let valid_id = !s.id.is_empty()
            && s.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_id {
            return Err(format!("service id {:?} must be lowercase [a-z0-9_-]", s.id));
        }
        if !ids.insert(s.id.as_str()) {
            return Err(format!("service id {:?} appears twice", s.id));
        }
        if !CATEGORIES.contains(&s.category.as_str()) {
            return Err(format!("service {:?}: unknown category {:?}", s.id, s.category));
        }
        if s.patterns.is_empty() {
            return Err(format!("service {:?} has no match patterns", s.id));
        }
        if let Some(t) = &s.tenant {
            if !TENANT_VENDORS.contains(&t.as_str()) {
                return Err(format!("service {:?}: unknown tenant vendor {t:?}", s.id));
            }
        }
        if s.name.en.trim().is_empty() || s.name.zh_tw.trim().is_empty() {
            return Err(format!("service {:?} needs names in en and zh_TW", s.id));
        }
    }
    let json = serde_json::to_string(&catalogue.service).map_err(|e| e.to_string())?;
    let out = Path::new(&env::var("OUT_DIR").map_err(|e| e.to_string())?).join("catalogue.json");
    fs::write(out, json).map_err(|e| e.to_string())
}
