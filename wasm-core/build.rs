//! Validates the service catalogue (`catalogue/services.toml`) and the broad tier (`catalogue/broad.txt`); embeds the first as JSON and the second's SHA-512.

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
    let broad = Path::new("catalogue/broad.txt");
    println!("cargo::rerun-if-changed={}", source.display());
    println!("cargo::rerun-if-changed={}", broad.display());
    for (path, result) in [(source, build(source)), (broad, build_broad(broad))] {
        if let Err(message) = result {
            // A broken catalogue must stop the build: the product would otherwise ship without it.
            println!("cargo::error={}: {message}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Checks the broad tier (`host<TAB>category<TAB>source`, sorted, unique, whole hosts only: the
/// static rulesets spell them as plain `requestDomains`) and writes its SHA-512, which the wasm
/// engine requires of the file the extension hands it (`src/broad.rs`).
fn build_broad(path: &Path) -> Result<(), String> {
    use sha2::{Digest, Sha512};
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut previous: Option<&str> = None;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#')) {
        let n = i + 1;
        let cols: Vec<&str> = line.split('\t').collect();
        let [host, category, source] = cols.as_slice() else {
            return Err(format!("line {n}: expected host<TAB>category<TAB>source"));
        };
        let valid_host = host.contains('.')
            && host.split('.').all(|l| !l.is_empty() && l.len() <= 63)
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid_host {
            return Err(format!("line {n}: {host:?} is not a lowercase host name"));
        }
        if !CATEGORIES.contains(category) || source.is_empty() {
            return Err(format!("line {n}: unknown category {category:?} or no source"));
        }
        if previous.is_some_and(|p| p >= *host) {
            return Err(format!(
                "line {n}: {host} is out of order or repeated (run cargo xtask broad)"
            ));
        }
        previous = Some(host);
    }
    let hex: String = Sha512::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let out = Path::new(&env::var("OUT_DIR").map_err(|e| e.to_string())?).join("broad.sha512");
    fs::write(out, hex).map_err(|e| e.to_string())
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
