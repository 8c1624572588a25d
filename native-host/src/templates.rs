//! Group-policy templates generated from the managed-storage schema (the one source of truth):
//! Linux JSON, Windows `.reg` and ADMX/ADML, macOS `.mobileconfig` — for Chrome and Edge.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The extension's managed-storage schema.
pub const SCHEMA: &str = include_str!("../../extension/managed_schema.json");

/// What the templates are for.
#[derive(Debug, Clone)]
pub struct TemplateInput {
    /// The extension id (32 letters a–p).
    pub extension_id: String,
    /// The update URL of the self-hosted CRX (`…/updates.xml`), for the force-install list.
    pub update_url: String,
    /// The Gatehouse policy to deploy (managed-storage form).
    pub policy: Map<String, Value>,
}

/// A generated file: path relative to the output folder, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    /// Relative path.
    pub path: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// A template that cannot be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// Not 32 letters a–p.
    #[error("extension id {0:?} must be 32 letters a-p")]
    ExtensionId(String),
    /// The update URL is not https (Chrome refuses plain http for force-installs outside tests).
    #[error("update URL {0:?} must be an https URL")]
    UpdateUrl(String),
    /// The embedded schema does not parse (a build defect).
    #[error("managed_schema.json is not valid: {0}")]
    Schema(String),
}

struct Browser {
    name: &'static str,
    /// Registry key under HKLM for the browser's policies.
    registry: &'static str,
    /// macOS preference domain.
    domain: &'static str,
    /// Linux managed-policy folder.
    linux_dir: &'static str,
    /// The browser's name for the private-window policy.
    private_mode_policy: &'static str,
}

const BROWSERS: [Browser; 3] = [
    Browser {
        name: "chrome",
        registry: r"SOFTWARE\Policies\Google\Chrome",
        domain: "com.google.Chrome",
        linux_dir: "/etc/opt/chrome/policies/managed",
        private_mode_policy: "IncognitoModeAvailability",
    },
    Browser {
        name: "chromium",
        registry: r"SOFTWARE\Policies\Chromium",
        domain: "org.chromium.Chromium",
        linux_dir: "/etc/chromium/policies/managed",
        private_mode_policy: "IncognitoModeAvailability",
    },
    Browser {
        name: "edge",
        registry: r"SOFTWARE\Policies\Microsoft\Edge",
        domain: "com.microsoft.Edge",
        linux_dir: "/etc/opt/edge/policies/managed",
        private_mode_policy: "InPrivateModeAvailability",
    },
];

/// The hardening baseline: browser policies that keep enforcement whole.
fn baseline(input: &TemplateInput, browser: &Browser) -> Map<String, Value> {
    let mut m = Map::new();
    // Install and keep the extension (users cannot disable or remove a force-installed one).
    m.insert(
        "ExtensionInstallForcelist".into(),
        json!([format!("{};{}", input.extension_id, input.update_url)]),
    );
    // No preconnect/prefetch: a blocked host must not even see a TLS handshake.
    m.insert("NetworkPredictionOptions".into(), json!(2));
    // Extensions do not run in Incognito or Guest windows unless allowed; close those doors.
    m.insert(browser.private_mode_policy.into(), json!(1));
    m.insert("BrowserGuestModeEnabled".into(), json!(false));
    // Developer tools stay off for force-installed extensions (the default, made explicit).
    m.insert("DeveloperToolsAvailability".into(), json!(0));
    m
}

/// Generates every template.
pub fn generate(input: &TemplateInput) -> Result<Vec<TemplateFile>, TemplateError> {
    let id = &input.extension_id;
    if id.len() != 32 || !id.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
        return Err(TemplateError::ExtensionId(id.clone()));
    }
    if !input.update_url.starts_with("https://") {
        return Err(TemplateError::UpdateUrl(input.update_url.clone()));
    }
    let schema: Value =
        serde_json::from_str(SCHEMA).map_err(|e| TemplateError::Schema(e.to_string()))?;
    let keys: Vec<&String> =
        schema["properties"].as_object().map(|p| p.keys().collect()).unwrap_or_default();
    let mut files = Vec::new();
    for b in &BROWSERS {
        let base = baseline(input, b);
        let mut linux = base.clone();
        linux.insert("3rdparty".into(), json!({"extensions": {id.as_str(): input.policy}}));
        files.push(text(
            &format!("linux/{}/gatehouse.json", b.name),
            pretty(&Value::Object(linux)) + "\n",
        ));
        files.push(TemplateFile {
            path: format!("windows/gatehouse-{}.reg", b.name),
            bytes: utf16_with_bom(&reg_file(b, input, &base)),
        });
    }
    files.push(text("windows/admx/gatehouse.admx", admx(&schema, &keys, id)));
    files.push(text("windows/admx/en-US/gatehouse.adml", adml(&schema, &keys, "en")));
    files.push(text("windows/admx/zh-TW/gatehouse.adml", adml(&schema, &keys, "zh_TW")));
    files.push(text("macos/gatehouse.mobileconfig", mobileconfig(input)));
    files.push(text("README.md", readme(input)));
    Ok(files)
}

fn text(path: &str, s: String) -> TemplateFile {
    TemplateFile { path: path.to_owned(), bytes: s.into_bytes() }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn utf16_with_bom(s: &str) -> Vec<u8> {
    let mut out = vec![0xff, 0xfe];
    for unit in s.replace('\n', "\r\n").encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

fn reg_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A `.reg` file: the baseline, the force-install list, and the Gatehouse policy as one value per
/// top-level key (objects and arrays as JSON strings, which Chrome parses against the schema).
fn reg_file(b: &Browser, input: &TemplateInput, base: &Map<String, Value>) -> String {
    let mut s = String::from("Windows Registry Editor Version 5.00\n\n");
    let _ = writeln!(
        s,
        "; Gatehouse for {} — generated by `gatehouse policy-templates`; do not edit by hand.",
        b.name
    );
    let _ = writeln!(s, "\n[HKEY_LOCAL_MACHINE\\{}]", b.registry);
    for (k, v) in base {
        match v {
            Value::Number(n) => {
                let _ = writeln!(s, "{}=dword:{:08x}", reg_string(k), n.as_u64().unwrap_or(0));
            }
            Value::Bool(flag) => {
                let _ = writeln!(s, "{}=dword:{:08x}", reg_string(k), u32::from(*flag));
            }
            _ => {}
        }
    }
    if let Some(list) = base.get("ExtensionInstallForcelist").and_then(Value::as_array) {
        let _ = writeln!(s, "\n[HKEY_LOCAL_MACHINE\\{}\\ExtensionInstallForcelist]", b.registry);
        for (i, entry) in list.iter().enumerate() {
            let _ = writeln!(s, "\"{}\"={}", i + 1, reg_string(entry.as_str().unwrap_or_default()));
        }
    }
    let _ = writeln!(
        s,
        "\n[HKEY_LOCAL_MACHINE\\{}\\3rdparty\\extensions\\{}\\policy]",
        b.registry, input.extension_id
    );
    for (k, v) in &input.policy {
        match v {
            Value::Bool(flag) => {
                let _ = writeln!(s, "{}=dword:{:08x}", reg_string(k), u32::from(*flag));
            }
            Value::Number(n) if n.is_u64() => {
                let _ = writeln!(s, "{}=dword:{:08x}", reg_string(k), n.as_u64().unwrap_or(0));
            }
            Value::String(text) => {
                let _ = writeln!(s, "{}={}", reg_string(k), reg_string(text));
            }
            other => {
                let _ = writeln!(s, "{}={}", reg_string(k), reg_string(&other.to_string()));
            }
        }
    }
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// ADMX: one policy per top-level schema key and browser, a JSON text value under the
/// extension's `3rdparty` policy key.
fn admx(schema: &Value, keys: &[&String], id: &str) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- Generated by `gatehouse policy-templates` from extension/managed_schema.json. -->\n\
<policyDefinitions xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\">\n\
  <policyNamespaces>\n    <target prefix=\"gatehouse\" namespace=\"Gatehouse.Policies\"/>\n  </policyNamespaces>\n\
  <resources minRequiredRevision=\"1.0\"/>\n  <supportedOn>\n    <definitions>\n      <definition name=\"SUPPORTED_CHROMIUM\" displayName=\"$(string.SUPPORTED_CHROMIUM)\"/>\n    </definitions>\n  </supportedOn>\n\
  <categories>\n    <category name=\"Gatehouse\" displayName=\"$(string.Gatehouse)\"/>\n",
    );
    for b in BROWSERS.iter().filter(|b| b.name != "chromium") {
        let _ = writeln!(s, "    <category name=\"Gatehouse_{0}\" displayName=\"$(string.Gatehouse_{0})\"><parentCategory ref=\"Gatehouse\"/></category>", b.name);
    }
    s.push_str("  </categories>\n  <policies>\n");
    for b in BROWSERS.iter().filter(|b| b.name != "chromium") {
        for key in keys {
            let kind = schema["properties"][key.as_str()]["type"].as_str().unwrap_or("string");
            let element = match kind {
                "boolean" => format!("<boolean id=\"{key}\" valueName=\"{key}\"><trueValue><decimal value=\"1\"/></trueValue><falseValue><decimal value=\"0\"/></falseValue></boolean>"),
                "integer" => format!("<decimal id=\"{key}\" valueName=\"{key}\" minValue=\"0\" maxValue=\"2000000000\"/>"),
                _ => format!("<text id=\"{key}\" valueName=\"{key}\" maxLength=\"32767\"/>"),
            };
            let _ = writeln!(
                s,
                "    <policy name=\"{b}_{key}\" class=\"Machine\" displayName=\"$(string.{key})\" explainText=\"$(string.{key}_Explain)\" presentation=\"$(presentation.{key})\" key=\"{reg}\\3rdparty\\extensions\\{id}\\policy\">\n      <parentCategory ref=\"Gatehouse_{b}\"/>\n      <supportedOn ref=\"SUPPORTED_CHROMIUM\"/>\n      <elements>{element}</elements>\n    </policy>",
                b = b.name,
                reg = b.registry,
            );
        }
    }
    s.push_str("  </policies>\n</policyDefinitions>\n");
    s
}

fn adml(schema: &Value, keys: &[&String], lang: &str) -> String {
    let culture = if lang == "en" { "en-US" } else { "zh-TW" };
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- Generated by `gatehouse policy-templates` from extension/managed_schema.json. -->\n\
<policyDefinitionResources xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\">\n\
  <displayName>Gatehouse</displayName>\n  <description>Gatehouse ({culture})</description>\n  <resources>\n    <stringTable>\n\
      <string id=\"SUPPORTED_CHROMIUM\">Google Chrome, Microsoft Edge (Chromium)</string>\n      <string id=\"Gatehouse\">Gatehouse</string>\n\
      <string id=\"Gatehouse_chrome\">Google Chrome</string>\n      <string id=\"Gatehouse_edge\">Microsoft Edge</string>\n"
    );
    let note = if lang == "en" {
        "Objects and lists are entered as JSON, exactly as in the managed-storage schema; check them with `gatehouse check-policy`."
    } else {
        "物件及清單以 JSON 輸入，格式與受管理儲存空間結構描述相同；可用 `gatehouse check-policy` 檢查。"
    };
    for key in keys {
        let node = &schema["properties"][key.as_str()];
        let title = node["title"].as_str().unwrap_or(key);
        let description = node["description"].as_str().unwrap_or_default();
        let _ = writeln!(s, "      <string id=\"{key}\">{}</string>", xml_escape(title));
        let _ = writeln!(
            s,
            "      <string id=\"{key}_Explain\">{}\n\n{}</string>",
            xml_escape(description),
            xml_escape(note)
        );
    }
    s.push_str("    </stringTable>\n    <presentationTable>\n");
    for key in keys {
        let kind = schema["properties"][key.as_str()]["type"].as_str().unwrap_or("string");
        let control = match kind {
            "boolean" => format!("<checkBox refId=\"{key}\">{key}</checkBox>"),
            "integer" => format!("<decimalTextBox refId=\"{key}\">{key}</decimalTextBox>"),
            _ => format!("<textBox refId=\"{key}\"><label>{key}</label></textBox>"),
        };
        let _ = writeln!(s, "      <presentation id=\"{key}\">{control}</presentation>");
    }
    s.push_str("    </presentationTable>\n  </resources>\n</policyDefinitionResources>\n");
    s
}

fn plist_value(v: &Value, indent: usize, out: &mut String) {
    let pad = "\t".repeat(indent);
    match v {
        Value::Null => {}
        Value::Bool(b) => {
            let _ = writeln!(out, "{pad}<{}/>", b);
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            let _ = writeln!(out, "{pad}<integer>{n}</integer>");
        }
        Value::Number(n) => {
            let _ = writeln!(out, "{pad}<real>{n}</real>");
        }
        Value::String(s) => {
            let _ = writeln!(out, "{pad}<string>{}</string>", xml_escape(s));
        }
        Value::Array(items) => {
            let _ = writeln!(out, "{pad}<array>");
            items.iter().for_each(|i| plist_value(i, indent + 1, out));
            let _ = writeln!(out, "{pad}</array>");
        }
        Value::Object(map) => {
            let _ = writeln!(out, "{pad}<dict>");
            for (k, v) in map {
                let _ = writeln!(out, "{pad}\t<key>{}</key>", xml_escape(k));
                plist_value(v, indent + 1, out);
            }
            let _ = writeln!(out, "{pad}</dict>");
        }
    }
}

/// A deterministic UUID (same input, same profile: re-deploying updates rather than duplicates).
fn uuid_for(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let h: String = d[..16].iter().map(|b| format!("{b:02X}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn mobileconfig(input: &TemplateInput) -> String {
    let mut payloads = Vec::new();
    for b in BROWSERS.iter().filter(|b| b.name != "chromium") {
        let mut browser = baseline(input, b);
        browser.insert("PayloadType".into(), json!(b.domain));
        browser.insert("PayloadIdentifier".into(), json!(format!("org.gatehouse.{}", b.name)));
        browser.insert(
            "PayloadUUID".into(),
            json!(uuid_for(&format!("{}:{}", b.domain, input.extension_id))),
        );
        browser.insert("PayloadVersion".into(), json!(1));
        payloads.push(Value::Object(browser));
        let mut ext = input.policy.clone();
        let domain = format!("{}.extensions.{}", b.domain, input.extension_id);
        ext.insert("PayloadType".into(), json!(domain));
        ext.insert(
            "PayloadIdentifier".into(),
            json!(format!("org.gatehouse.{}.extension", b.name)),
        );
        ext.insert("PayloadUUID".into(), json!(uuid_for(&domain)));
        ext.insert("PayloadVersion".into(), json!(1));
        payloads.push(Value::Object(ext));
    }
    let profile = json!({
        "PayloadContent": payloads,
        "PayloadDisplayName": "Gatehouse",
        "PayloadDescription": "Installs and configures Gatehouse for Google Chrome and Microsoft Edge.",
        "PayloadIdentifier": "org.gatehouse.profile",
        "PayloadScope": "System",
        "PayloadType": "Configuration",
        "PayloadUUID": uuid_for(&format!("profile:{}", input.extension_id)),
        "PayloadVersion": 1,
    });
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n");
    plist_value(&profile, 0, &mut out);
    out.push_str("</plist>\n");
    out
}

fn readme(input: &TemplateInput) -> String {
    let rows: String = BROWSERS
        .iter()
        .map(|b| {
            format!(
                "| {} | `HKLM\\{}` | `{}` | `{}` |\n",
                b.name, b.registry, b.domain, b.linux_dir
            )
        })
        .collect();
    format!(
        "# Group-policy templates for Gatehouse\n\nGenerated by `gatehouse policy-templates` from `extension/managed_schema.json` for extension\n`{id}` and the update URL `{url}`. Regenerate for your own extension id, update URL and policy:\n\n```sh\ngatehouse policy-templates --extension-id <id> --update-url https://<intranet>/updates.xml --policy policy.json --out <dir>\n```\n\n| file | what |\n|---|---|\n| `linux/<browser>/gatehouse.json` | copy into the browser's managed-policy folder (below) |\n| `windows/gatehouse-<browser>.reg` | import on a test machine, or convert to GPO Preferences |\n| `windows/admx/` | ADMX/ADML: one setting per policy key for Chrome and Edge (JSON values), for the Group Policy editor or Intune custom ADMX ingestion |\n| `macos/gatehouse.mobileconfig` | a configuration profile for Chrome and Edge (MDM or manual install) |\n\nEach also carries the hardening baseline: the extension force-installed, network prediction off\n(`NetworkPredictionOptions` = 2: a blocked host must not even see a TLS handshake), Incognito and\nGuest windows off (extensions do not run there), developer tools kept off for force-installed\nextensions.\n\n| browser | Windows key | macOS domain | Linux folder |\n|---|---|---|---|\n{rows}",
        id = input.extension_id,
        url = input.update_url,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TemplateInput {
        let policy = json!({"allowlist": ["mail.dept.example"], "audit": {"fullUrl": false}, "comment": "say \"hi\" \\ bye"});
        TemplateInput {
            extension_id: "gkjfgifemhclilaggdnjbnagnbpgaikk".into(),
            update_url: "https://intranet.example/gatehouse/updates.xml".into(),
            policy: policy.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn every_template_is_generated_and_escaped() {
        let files = generate(&input()).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert!(
            names.contains(&"windows/admx/gatehouse.admx")
                && names.contains(&"macos/gatehouse.mobileconfig")
        );
        let linux = files.iter().find(|f| f.path == "linux/chromium/gatehouse.json").unwrap();
        let parsed: Value = serde_json::from_slice(&linux.bytes).unwrap();
        assert_eq!(
            parsed["3rdparty"]["extensions"]["gkjfgifemhclilaggdnjbnagnbpgaikk"]["allowlist"][0],
            "mail.dept.example"
        );
        assert_eq!(parsed["NetworkPredictionOptions"], 2);
        let reg = files.iter().find(|f| f.path == "windows/gatehouse-edge.reg").unwrap();
        let units: Vec<u16> =
            reg.bytes[2..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let reg = String::from_utf16(&units).unwrap();
        assert!(reg.contains(r#""comment"="say \"hi\" \\ bye""#), "{reg}");
        assert!(reg.contains(r#""allowlist"="[\"mail.dept.example\"]""#));
        assert!(reg.contains("\"NetworkPredictionOptions\"=dword:00000002"));
        assert!(reg.contains(r"[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Edge\3rdparty\extensions\gkjfgifemhclilaggdnjbnagnbpgaikk\policy]"));
    }

    #[test]
    fn bad_input_is_refused() {
        let mut bad = input();
        bad.extension_id = "short".into();
        assert!(matches!(generate(&bad), Err(TemplateError::ExtensionId(_))));
        let mut bad = input();
        bad.update_url = "http://x/updates.xml".into();
        assert!(matches!(generate(&bad), Err(TemplateError::UpdateUrl(_))));
    }

    /// `manifests/policy/` is what the generator makes for the example policy; regenerate with
    /// `gatehouse policy-templates --policy manifests/examples/department.json --out manifests/policy`.
    #[test]
    fn committed_templates_are_fresh() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let example: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("manifests/examples/department.json")).unwrap(),
        )
        .unwrap();
        let input = TemplateInput {
            extension_id: include_str!("../../extension/EXTENSION_ID").trim().to_owned(),
            update_url: "https://intranet.example/gatehouse/updates.xml".into(),
            policy: example.as_object().cloned().unwrap(),
        };
        let files = generate(&input).unwrap();
        for f in &files {
            let committed =
                std::fs::read(root.join("manifests/policy").join(&f.path)).unwrap_or_default();
            assert!(
                committed == f.bytes,
                "manifests/policy/{} is stale; regenerate it (see this test's doc)",
                f.path
            );
        }
        assert_eq!(files.len(), 11);
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(generate(&input()).unwrap(), generate(&input()).unwrap());
    }
}
