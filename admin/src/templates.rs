//! Group-policy templates generated from the managed-storage schema (the one source of truth):
//! Linux JSON, Windows `.reg` and ADMX/ADML, macOS `.mobileconfig` — for Chrome, Chromium and
//! Edge — each with the hardening baseline that keeps the person at the desk from switching
//! Gatehouse off or walking around it (issue 9), every setting with its reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::install::HOST_NAME;

/// The extension's managed-storage schema.
pub const SCHEMA: &str = include_str!("../../extension/managed_schema.json");
/// The ADML strings in Traditional Chinese: a title and an explanation per schema key.
const ZH_TW: &str = include_str!("templates/zh-TW.json");

/// Where one browser family gets Gatehouse from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// The extension id (32 letters a–p): from the release key when self-hosted, or the store
    /// listing's id (Chrome Web Store and Edge Add-ons give different ids).
    pub extension_id: String,
    /// The update URL: the intranet's `…/updates.xml`, or the store's own update URL.
    pub update_url: String,
}

/// What the templates are for. Nothing has a default: a template for the wrong extension id or
/// update URL installs nothing, silently.
#[derive(Debug, Clone)]
pub struct TemplateInput {
    /// Gatehouse for Chrome and Chromium.
    pub chrome: Distribution,
    /// Gatehouse for Edge (the same as `chrome` when self-hosted with one key).
    pub edge: Distribution,
    /// The department's own extensions that users may still install (ids); every other
    /// extension is blocked.
    pub allowed_extensions: Vec<String>,
    /// The department's own native-messaging hosts that stay usable besides Gatehouse's.
    pub native_hosts: Vec<String>,
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
    #[error("extension id {0:?} must be 32 letters a-p (as shown on chrome://extensions)")]
    ExtensionId(String),
    /// The update URL is not https (Chrome refuses plain http for force-installs outside tests).
    #[error("update URL {0:?} must be an https URL")]
    UpdateUrl(String),
    /// A native-messaging host name Chrome would not accept.
    #[error(
        "native host name {0:?} must be lowercase letters, digits, '_' and dots, \
         not starting or ending with a dot and without '..'"
    )]
    NativeHost(String),
    /// The embedded schema does not parse (a build defect).
    #[error("managed_schema.json is not valid: {0}")]
    Schema(String),
    /// A schema key has no Traditional Chinese strings (a build defect: add them to
    /// `admin/src/templates/zh-TW.json`).
    #[error(
        "no Traditional Chinese ADML strings for policy key {0:?} (admin/src/templates/zh-TW.json)"
    )]
    Translation(String),
}

/// Which vendor's policy names and distribution a browser uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Chrome,
    Edge,
}

/// Where a template is deployed: some policies exist on some platforms only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Linux,
    Windows,
    Macos,
}

impl Platform {
    const ALL: [Platform; 3] = [Platform::Linux, Platform::Windows, Platform::Macos];

    fn name(self) -> &'static str {
        match self {
            Platform::Linux => "Linux",
            Platform::Windows => "Windows",
            Platform::Macos => "macOS",
        }
    }
}

struct Browser {
    name: &'static str,
    family: Family,
    /// Registry key under HKLM for the browser's policies.
    registry: &'static str,
    /// macOS preference domain.
    domain: &'static str,
    /// Linux managed-policy folder.
    linux_dir: &'static str,
    /// The browser's name for the private-window policy.
    private_mode_policy: &'static str,
    /// The browser's name for the "add a profile" policy.
    add_profile_policy: &'static str,
    /// The browser's default user data folder, in policy path variables (Windows).
    windows_user_data: &'static str,
    /// The same on macOS.
    macos_user_data: &'static str,
}

const BROWSERS: [Browser; 3] = [
    Browser {
        name: "chrome",
        family: Family::Chrome,
        registry: r"SOFTWARE\Policies\Google\Chrome",
        domain: "com.google.Chrome",
        linux_dir: "/etc/opt/chrome/policies/managed",
        private_mode_policy: "IncognitoModeAvailability",
        add_profile_policy: "BrowserAddPersonEnabled",
        windows_user_data: r"${local_app_data}\Google\Chrome\User Data",
        macos_user_data: "${users}/${user_name}/Library/Application Support/Google/Chrome",
    },
    Browser {
        name: "chromium",
        family: Family::Chrome,
        registry: r"SOFTWARE\Policies\Chromium",
        domain: "org.chromium.Chromium",
        linux_dir: "/etc/chromium/policies/managed",
        private_mode_policy: "IncognitoModeAvailability",
        add_profile_policy: "BrowserAddPersonEnabled",
        windows_user_data: r"${local_app_data}\Chromium\User Data",
        macos_user_data: "${users}/${user_name}/Library/Application Support/Chromium",
    },
    Browser {
        name: "edge",
        family: Family::Edge,
        registry: r"SOFTWARE\Policies\Microsoft\Edge",
        domain: "com.microsoft.Edge",
        linux_dir: "/etc/opt/edge/policies/managed",
        private_mode_policy: "InPrivateModeAvailability",
        add_profile_policy: "BrowserAddProfileEnabled",
        windows_user_data: r"${local_app_data}\Microsoft\Edge\User Data",
        macos_user_data: "${users}/${user_name}/Library/Application Support/Microsoft Edge",
    },
];

impl Browser {
    fn distribution<'a>(&self, input: &'a TemplateInput) -> &'a Distribution {
        match self.family {
            Family::Chrome => &input.chrome,
            Family::Edge => &input.edge,
        }
    }
}

/// One baseline policy: its name in this browser, its value, and why it is set.
struct Setting {
    name: &'static str,
    value: Value,
    reason: &'static str,
}

/// The hardening baseline for one browser on one platform, in the order the README explains it.
/// Every name is from the vendors' policy lists (chromeenterprise.google/policies,
/// learn.microsoft.com/deployedge/microsoft-edge-policies).
fn baseline(input: &TemplateInput, b: &Browser, platform: Platform) -> Vec<Setting> {
    let dist = b.distribution(input);
    let mut extensions = Map::new();
    extensions.insert(
        "*".into(),
        json!({
            "installation_mode": "blocked",
            "blocked_install_message": "Extensions are managed by your department.",
        }),
    );
    for id in &input.allowed_extensions {
        extensions.insert(id.clone(), json!({"installation_mode": "allowed"}));
    }
    extensions.insert(
        dist.extension_id.clone(),
        json!({"installation_mode": "force_installed", "update_url": dist.update_url}),
    );
    let mut hosts = vec![Value::from(HOST_NAME)];
    hosts.extend(input.native_hosts.iter().filter(|h| *h != HOST_NAME).map(|h| json!(h)));

    let mut s = vec![
        Setting {
            name: "ExtensionSettings",
            value: Value::Object(extensions),
            reason: "Gatehouse force-installed (users cannot disable or remove it); every other \
                     extension blocked, since other extensions' own requests are outside \
                     Gatehouse's rules; the department's own list allowed (--allow-extension)",
        },
        Setting {
            name: "ExtensionDeveloperModeSettings",
            value: json!(1),
            reason: "developer mode off: no unpacked extension loaded from the extensions page",
        },
        Setting {
            name: "DeveloperToolsAvailability",
            value: json!(0),
            reason: "developer tools stay off for force-installed extensions: Gatehouse's \
                     worker cannot be inspected or paused",
        },
        Setting {
            name: "NativeMessagingUserLevelHosts",
            value: json!(false),
            reason: "machine-wide native hosts only: a host manifest planted in the user's \
                     profile (or HKCU) would otherwise replace Gatehouse's and answer \
                     'not joined, not on the internal network'",
        },
        Setting {
            name: "NativeMessagingBlocklist",
            value: json!(["*"]),
            reason: "every native host blocked except the allowlist: an allowlist alone \
                     permits nothing that was not already allowed",
        },
        Setting {
            name: "NativeMessagingAllowlist",
            value: Value::Array(hosts),
            reason: "Gatehouse's host, and the department's own hosts (--allow-native-host; \
                     list every one, this list replaces any other)",
        },
        Setting {
            name: "NetworkPredictionOptions",
            value: json!(2),
            reason: "no preconnect or prefetch: a blocked host must not even see a TLS handshake",
        },
        Setting {
            name: b.private_mode_policy,
            value: json!(1),
            reason: "no private windows: extensions do not run there unless allowed",
        },
        Setting {
            name: "BrowserGuestModeEnabled",
            value: json!(false),
            reason: "no Guest windows: extensions do not run there",
        },
        Setting {
            name: b.add_profile_policy,
            value: json!(false),
            reason: "no new profiles from the profile menu: a new profile has no Gatehouse \
                     until the force-install completes (the command line's \
                     --profile-directory=<new> is not covered)",
        },
    ];
    if platform != Platform::Linux {
        s.push(Setting {
            name: "UserDataDir",
            value: json!(match platform {
                Platform::Macos => b.macos_user_data,
                _ => b.windows_user_data,
            }),
            reason: "the browser's data folder pinned to its default: a shortcut with \
                     --user-data-dir cannot start a fresh set of profiles that has no Gatehouse \
                     yet (Windows and macOS only: Linux browsers ignore this policy)",
        });
    }
    s.push(Setting {
        name: "RemoteDebuggingAllowed",
        value: json!(false),
        reason: "no --remote-debugging-port or --remote-debugging-pipe: a debugger drives the \
                 browser around any extension",
    });
    if b.family == Family::Chrome {
        s.push(Setting {
            name: "BrowserSignin",
            value: json!(0),
            reason: "no browser sign-in: a personal Google account in the browser brings its \
                     sync and account features with it",
        });
    }
    s.push(Setting {
        name: "SyncDisabled",
        value: json!(true),
        reason: "no sync: it carries tabs, history and notes to the account's cloud, outside \
                 any web request Gatehouse sees (a department that syncs work accounts sets \
                 RestrictSigninToPattern instead)",
    });
    if b.family == Family::Edge {
        s.push(Setting {
            name: "EdgeEDropEnabled",
            value: json!(false),
            reason: "no Drop: it sends files and notes to the user's OneDrive from the \
                     browser's own pane, not through web requests Gatehouse sees",
        });
        if platform == Platform::Windows {
            s.push(Setting {
                name: "InternetExplorerIntegrationReloadInIEModeAllowed",
                value: json!(false),
                reason: "no 'Reload in Internet Explorer mode': IE-mode tabs render with \
                         MSHTML, where extensions do not run",
            });
        }
    }
    s
}

fn as_map(settings: &[Setting]) -> Map<String, Value> {
    settings.iter().map(|s| (s.name.to_owned(), s.value.clone())).collect()
}

fn check_id(id: &str) -> Result<(), TemplateError> {
    if id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
        Ok(())
    } else {
        Err(TemplateError::ExtensionId(id.to_owned()))
    }
}

/// Chrome's rule for host names: lowercase alphanumerics, `_` and `.`, no leading, trailing or
/// doubled dot (developer.chrome.com/docs/extensions/develop/concepts/native-messaging).
fn check_host_name(name: &str) -> Result<(), TemplateError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(TemplateError::NativeHost(name.to_owned()))
    }
}

fn check(input: &TemplateInput) -> Result<(), TemplateError> {
    for dist in [&input.chrome, &input.edge] {
        check_id(&dist.extension_id)?;
        if !dist.update_url.starts_with("https://") {
            return Err(TemplateError::UpdateUrl(dist.update_url.clone()));
        }
    }
    for id in &input.allowed_extensions {
        check_id(id)?;
    }
    for host in &input.native_hosts {
        check_host_name(host)?;
    }
    Ok(())
}

/// Generates every template.
pub fn generate(input: &TemplateInput) -> Result<Vec<TemplateFile>, TemplateError> {
    check(input)?;
    let schema: Value =
        serde_json::from_str(SCHEMA).map_err(|e| TemplateError::Schema(e.to_string()))?;
    let keys: Vec<&String> =
        schema["properties"].as_object().map(|p| p.keys().collect()).unwrap_or_default();
    let mut files = Vec::new();
    for b in &BROWSERS {
        let id = b.distribution(input).extension_id.as_str();
        let mut linux = as_map(&baseline(input, b, Platform::Linux));
        linux.insert("3rdparty".into(), json!({"extensions": {id: input.policy}}));
        files.push(text(
            &format!("linux/{}/gatehouse.json", b.name),
            pretty(&Value::Object(linux)) + "\n",
        ));
        files.push(TemplateFile {
            path: format!("windows/gatehouse-{}.reg", b.name),
            bytes: utf16_with_bom(&reg_file(b, input, &baseline(input, b, Platform::Windows))),
        });
    }
    // One ADMX per browser: Intune ingests custom ADMX only outside Software\Policies\Microsoft,
    // so Chrome's file must not carry Edge's keys (Edge gets a platform script instead).
    for b in BROWSERS.iter().filter(|b| b.name != "chromium") {
        files.push(text(
            &format!("windows/admx/gatehouse-{}.admx", b.name),
            admx(&schema, &keys, input, b),
        ));
    }
    let en = AdmlStrings::english(&schema, &keys);
    let zh_tw = AdmlStrings::traditional_chinese(&keys)?;
    for b in BROWSERS.iter().filter(|b| b.name != "chromium") {
        for (culture, strings) in [("en-US", &en), ("zh-TW", &zh_tw)] {
            files.push(text(
                &format!("windows/admx/{culture}/gatehouse-{}.adml", b.name),
                adml(&schema, &keys, culture, strings, b),
            ));
        }
    }
    if let Some(edge) = BROWSERS.iter().find(|b| b.family == Family::Edge) {
        let reg = reg_file(edge, input, &baseline(input, edge, Platform::Windows));
        files.push(text("windows/intune/gatehouse-edge.ps1", intune_script(edge, &reg)));
    }
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

/// One `.reg` value line: booleans and integers as DWORD, strings as REG_SZ, objects and arrays
/// as JSON text (Chrome parses such a string against the policy's schema).
fn reg_value(name: &str, v: &Value) -> String {
    match v {
        Value::Bool(flag) => format!("{}=dword:{:08x}", reg_string(name), u32::from(*flag)),
        Value::Number(n) if n.is_u64() => {
            format!("{}=dword:{:08x}", reg_string(name), n.as_u64().unwrap_or(0))
        }
        Value::String(text) => format!("{}={}", reg_string(name), reg_string(text)),
        other => format!("{}={}", reg_string(name), reg_string(&other.to_string())),
    }
}

/// A `.reg` file: the baseline (each value after a `;` line with its reason; list policies as
/// numbered values under their own key, replaced whole), then the Gatehouse policy as one value
/// per top-level key.
fn reg_file(b: &Browser, input: &TemplateInput, base: &[Setting]) -> String {
    let id = &b.distribution(input).extension_id;
    let mut s = String::from("Windows Registry Editor Version 5.00\n\n");
    let _ = writeln!(
        s,
        "; Gatehouse for {} — generated by `gatehouse policy-templates`; do not edit by hand.",
        b.name
    );
    let _ = writeln!(s, "\n[HKEY_LOCAL_MACHINE\\{}]", b.registry);
    for setting in base.iter().filter(|x| !x.value.is_array()) {
        let _ = writeln!(s, "; {}", setting.reason);
        let _ = writeln!(s, "{}", reg_value(setting.name, &setting.value));
    }
    for setting in base.iter().filter(|x| x.value.is_array()) {
        let key = format!("HKEY_LOCAL_MACHINE\\{}\\{}", b.registry, setting.name);
        let _ = writeln!(s, "\n; {}", setting.reason);
        let _ = writeln!(s, "[-{key}]\n[{key}]");
        for (i, entry) in setting.value.as_array().into_iter().flatten().enumerate() {
            let _ = writeln!(s, "\"{}\"={}", i + 1, reg_string(entry.as_str().unwrap_or_default()));
        }
    }
    let _ =
        writeln!(s, "\n[HKEY_LOCAL_MACHINE\\{}\\3rdparty\\extensions\\{}\\policy]", b.registry, id);
    for (k, v) in &input.policy {
        let _ = writeln!(s, "{}", reg_value(k, v));
    }
    s
}
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// ADMX for one browser: one policy per top-level schema key, a JSON text value under the
/// extension's `3rdparty` policy key.
fn admx(schema: &Value, keys: &[&String], input: &TemplateInput, b: &Browser) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- Generated by `gatehouse policy-templates` from extension/managed_schema.json. -->\n\
<policyDefinitions xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\">\n\
  <policyNamespaces>\n    <target prefix=\"gatehouse_{name}\" namespace=\"Gatehouse.{name}.Policies\"/>\n  </policyNamespaces>\n\
  <resources minRequiredRevision=\"1.0\"/>\n  <supportedOn>\n    <definitions>\n      <definition name=\"SUPPORTED_CHROMIUM\" displayName=\"$(string.SUPPORTED_CHROMIUM)\"/>\n    </definitions>\n  </supportedOn>\n\
  <categories>\n    <category name=\"Gatehouse_{name}\" displayName=\"$(string.Gatehouse_{name})\"/>\n  </categories>\n  <policies>\n",
        name = b.name
    );
    let id = &b.distribution(input).extension_id;
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
    s.push_str("  </policies>\n</policyDefinitions>\n");
    s
}

/// An Intune platform script that writes `reg` (the browser's `.reg` template) as SYSTEM: the
/// way to reach `Software\Policies\Microsoft\Edge`, which Intune's ADMX ingestion refuses.
fn intune_script(b: &Browser, reg: &str) -> String {
    // UTF-8 with a byte-order mark: Windows PowerShell 5.1 reads a script without one in the
    // ANSI code page, which would garble the policy's Chinese texts.
    format!(
        "\u{feff}# Gatehouse for {name}: the hardening baseline and the Gatehouse policy, as in\r\n\
# windows/gatehouse-{name}.reg. Generated by `gatehouse policy-templates`; do not edit by hand.\r\n\
#\r\n\
# Intune: Devices > Scripts and remediations > Platform scripts > Add (Windows 10 and later).\r\n\
# Run this script using the logged on credentials: No (it runs as SYSTEM).\r\n\
# Enforce script signature check: as your tenant requires. Run script in 64 bit PowerShell: Yes.\r\n\
# Assign to the device groups of the pilot, then of the department.\r\n\
$ErrorActionPreference = 'Stop'\r\n\
$reg = @'\r\n{body}\r\n'@\r\n\
$file = Join-Path $env:SystemRoot 'Temp\\gatehouse-{name}.reg'\r\n\
[System.IO.File]::WriteAllText($file, $reg, [System.Text.Encoding]::Unicode)\r\n\
& (Join-Path $env:SystemRoot 'System32\\reg.exe') import $file\r\n\
$code = $LASTEXITCODE\r\n\
Remove-Item -LiteralPath $file -Force\r\n\
exit $code\r\n",
        name = b.name,
        body = reg.trim_end().replace('\n', "\r\n"),
    )
}

/// The texts of one ADML language: the supported-on line, the JSON note, and per schema key
/// its title and explanation.
struct AdmlStrings {
    supported: String,
    note: String,
    keys: BTreeMap<String, (String, String)>,
}

impl AdmlStrings {
    /// From the schema's own titles and descriptions.
    fn english(schema: &Value, keys: &[&String]) -> Self {
        let keys = keys
            .iter()
            .map(|key| {
                let node = &schema["properties"][key.as_str()];
                let title = node["title"].as_str().unwrap_or(key).to_owned();
                let description = node["description"].as_str().unwrap_or_default().to_owned();
                ((*key).clone(), (title, description))
            })
            .collect();
        AdmlStrings {
            supported: "Google Chrome, Microsoft Edge (Chromium)".into(),
            note: "Objects and lists are entered as JSON, exactly as in the managed-storage \
                   schema; check them with `gatehouse check-policy`."
                .into(),
            keys,
        }
    }

    /// From `templates/zh-TW.json`; every schema key must have its strings there.
    fn traditional_chinese(keys: &[&String]) -> Result<Self, TemplateError> {
        let table: Value = serde_json::from_str(ZH_TW)
            .map_err(|e| TemplateError::Schema(format!("zh-TW.json: {e}")))?;
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let mut out = BTreeMap::new();
        for key in keys {
            let entry = &table["keys"][key.as_str()];
            match (text(&entry["title"]), text(&entry["explain"])) {
                (Some(title), Some(explain)) => out.insert((*key).clone(), (title, explain)),
                _ => return Err(TemplateError::Translation((*key).clone())),
            };
        }
        let missing = || TemplateError::Translation("supported/note".into());
        Ok(AdmlStrings {
            supported: text(&table["supported"]).ok_or_else(missing)?,
            note: text(&table["note"]).ok_or_else(missing)?,
            keys: out,
        })
    }
}

fn adml(
    schema: &Value,
    keys: &[&String],
    culture: &str,
    strings: &AdmlStrings,
    b: &Browser,
) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- Generated by `gatehouse policy-templates` from extension/managed_schema.json. -->\n\
<policyDefinitionResources xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\">\n\
  <displayName>Gatehouse</displayName>\n  <description>Gatehouse ({culture})</description>\n  <resources>\n    <stringTable>\n\
      <string id=\"SUPPORTED_CHROMIUM\">{}</string>\n      <string id=\"Gatehouse_{}\">Gatehouse ({})</string>\n",
        xml_escape(&strings.supported),
        b.name,
        if b.family == Family::Edge { "Microsoft Edge" } else { "Google Chrome" },
    );
    for key in keys {
        let (title, explain) = strings.keys.get(key.as_str()).map_or(("", ""), |(t, e)| (t, e));
        let _ = writeln!(s, "      <string id=\"{key}\">{}</string>", xml_escape(title));
        let _ = writeln!(
            s,
            "      <string id=\"{key}_Explain\">{}\n\n{}</string>",
            xml_escape(explain),
            xml_escape(&strings.note)
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
        Value::Object(map) => plist_dict(map, &[], indent, out),
    }
}

/// A plist `<dict>`; keys named in `notes` get an XML comment with their reason before them.
fn plist_dict(map: &Map<String, Value>, notes: &[Setting], indent: usize, out: &mut String) {
    let pad = "\t".repeat(indent);
    let _ = writeln!(out, "{pad}<dict>");
    for (k, v) in map {
        if let Some(note) = notes.iter().find(|n| n.name == k) {
            // "--" may not appear inside an XML comment.
            let _ = writeln!(out, "{pad}\t<!-- {} -->", note.reason.replace("--", "- -"));
        }
        let _ = writeln!(out, "{pad}\t<key>{}</key>", xml_escape(k));
        plist_value(v, indent + 1, out);
    }
    let _ = writeln!(out, "{pad}</dict>");
}

/// A deterministic UUID (same input, same profile: re-deploying updates rather than duplicates).
fn uuid_for(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let h: String = d[..16].iter().map(|b| format!("{b:02X}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn mobileconfig(input: &TemplateInput) -> String {
    let mut payloads = String::new();
    for b in BROWSERS.iter().filter(|b| b.name != "chromium") {
        let id = &b.distribution(input).extension_id;
        let settings = baseline(input, b, Platform::Macos);
        let mut browser = as_map(&settings);
        browser.insert("PayloadType".into(), json!(b.domain));
        browser.insert("PayloadIdentifier".into(), json!(format!("org.gatehouse.{}", b.name)));
        browser.insert("PayloadUUID".into(), json!(uuid_for(&format!("{}:{}", b.domain, id))));
        browser.insert("PayloadVersion".into(), json!(1));
        plist_dict(&browser, &settings, 2, &mut payloads);
        let mut ext = input.policy.clone();
        let domain = format!("{}.extensions.{}", b.domain, id);
        ext.insert("PayloadType".into(), json!(domain));
        ext.insert(
            "PayloadIdentifier".into(),
            json!(format!("org.gatehouse.{}.extension", b.name)),
        );
        ext.insert("PayloadUUID".into(), json!(uuid_for(&domain)));
        ext.insert("PayloadVersion".into(), json!(1));
        plist_dict(&ext, &[], 2, &mut payloads);
    }
    let header = json!({
        "PayloadDisplayName": "Gatehouse",
        "PayloadDescription": "Installs and configures Gatehouse for Google Chrome and Microsoft Edge.",
        "PayloadIdentifier": "org.gatehouse.profile",
        "PayloadScope": "System",
        "PayloadType": "Configuration",
        "PayloadUUID": uuid_for(&format!("profile:{}", input.chrome.extension_id)),
        "PayloadVersion": 1,
    });
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n\t<key>PayloadContent</key>\n\t<array>\n");
    out.push_str(&payloads);
    out.push_str("\t</array>\n");
    for (k, v) in header.as_object().into_iter().flatten() {
        let _ = writeln!(out, "\t<key>{}</key>", xml_escape(k));
        plist_value(v, 1, &mut out);
    }
    out.push_str("</dict>\n</plist>\n");
    out
}

/// A value as the README shows it: short ones in full, the extension list by name.
fn readme_value(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "`*` blocked; {}",
            m.iter()
                .filter(|(k, _)| *k != "*")
                .map(|(k, e)| format!(
                    "`{k}` {}",
                    e["installation_mode"].as_str().unwrap_or("?").replace('_', " ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Value::String(text) => format!("`{text}`"),
        other => format!("`{}`", other.to_string().replace('|', "\\|")),
    }
}

/// The baseline table for one browser family: each policy once, with the platforms it is set on.
fn readme_baseline(input: &TemplateInput, b: &Browser) -> String {
    let mut rows: Vec<(Setting, Vec<&str>)> = Vec::new();
    for platform in Platform::ALL {
        for setting in baseline(input, b, platform) {
            match rows.iter_mut().find(|(s, _)| s.name == setting.name && s.value == setting.value)
            {
                Some((_, platforms)) => platforms.push(platform.name()),
                None => rows.push((setting, vec![platform.name()])),
            }
        }
    }
    rows.iter()
        .map(|(s, platforms)| {
            let on = if platforms.len() == Platform::ALL.len() {
                "all".to_owned()
            } else {
                platforms.join(", ")
            };
            format!("| `{}` | {} | {} | {} |\n", s.name, readme_value(&s.value), on, s.reason)
        })
        .collect()
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
    let head = "| policy | value | in the files for | why |\n|---|---|---|---|\n";
    format!(
        "# Group-policy templates for Gatehouse\n\n\
Generated by `gatehouse policy-templates` from `extension/managed_schema.json` for the Chrome and\n\
Chromium extension `{cid}` (update URL `{curl}`) and the Edge extension `{eid}` (update URL\n\
`{eurl}`). Regenerate for your own release, policy, extensions and native hosts; nothing has a\n\
default:\n\n\
```sh\n\
gatehouse policy-templates --policy policy.json --out <dir> \\\n  \
--extension-id <id> --update-url https://<intranet>/gatehouse/updates.xml \\\n  \
[--edge-extension-id <Edge Add-ons id> --edge-update-url https://edge.microsoft.com/extensionwebstorebase/v1/crx] \\\n  \
[--allow-extension <id> ...] [--allow-native-host <name> ...]\n\
```\n\n\
This folder is the example: `--policy manifests/examples/department.json --extension-id \"$(cat extension/EXTENSION_ID)\"\n\
--update-url https://intranet.example/gatehouse/updates.xml` (a test fails when it is stale).\n\n\
| file | what |\n|---|---|\n\
| `linux/<browser>/gatehouse.json` | copy into the browser's managed-policy folder (below) |\n\
| `windows/gatehouse-<browser>.reg` | import on a test machine, or convert to GPO Preferences; each value follows a `;` line with its reason |\n\
| `windows/admx/gatehouse-<browser>.admx` | ADMX/ADML (en-US, zh-TW), one file per browser: one setting per policy key (JSON values), for the Group Policy editor; Chrome's also for Intune custom ADMX ingestion (the Gatehouse policy only: the baseline is in Chrome's and Edge's own ADMX) |\n\
| `windows/intune/gatehouse-edge.ps1` | Intune platform script for Edge (Intune will not ingest an ADMX that writes under `Software\\Policies\\Microsoft`): writes the Edge `.reg` values as SYSTEM |\n\
| `macos/gatehouse.mobileconfig` | a configuration profile for Chrome and Edge, to deploy through MDM: a self-hosted extension is force-installed only on a Mac that is MDM-managed (Chrome also: enrolled in Chrome Enterprise Core), so a profile installed by hand is not enough; each baseline key follows a comment with its reason |\n\n\
| browser | Windows key | macOS domain | Linux folder |\n|---|---|---|---|\n{rows}\n\
## The hardening baseline\n\n\
Gatehouse holds a rule against the wishes of the person at the desk, who has no admin rights but\n\
owns their home folder, environment, browser settings and programs. Each file carries these\n\
browser policies with the extension; Chromium's are Chrome's.\n\n\
### Chrome and Chromium\n\n{head}{chrome}\n\
### Edge\n\n{head}{edge}\n\
Adding the department's own:\n\n\
- **Extensions**: `--allow-extension <id>` (repeat) adds `\"installation_mode\": \"allowed\"` to\n  \
`ExtensionSettings`; users may then install it from the store. Extensions the department already\n  \
force-installs through `ExtensionInstallForcelist` stay installed (that list wins over `\"*\"`).\n  \
`ExtensionSettings` is one dictionary: where another GPO also sets it, only one source wins unless\n  \
`PolicyDictionaryMultipleSourceMergeList` names it — merge the entries into one.\n\
- **Native-messaging hosts**: `--allow-native-host <name>` (repeat), e.g. a smart-card or\n  \
signing tool. The `.reg` files replace the `NativeMessagingAllowlist` and `NativeMessagingBlocklist`\n  \
keys whole, so every host the department needs must be listed. Hosts must also be registered\n  \
machine-wide (`gatehouse install-host` does so by default), since user-level hosts are off.\n\n\
What the baseline does not close (see `docs/threat-model.md`):\n\n\
- A brand-new profile's first seconds, before the force-install has completed: no extension runs\n  \
there yet. The profile policies close the profile menu and Guest, and `UserDataDir` (Windows and\n  \
macOS) a shortcut's `--user-data-dir`; but `--profile-directory=<new name>` still starts a new\n  \
profile on every OS, and **on Linux** so does `--user-data-dir=<new folder>` (`UserDataDir` is\n  \
not supported there). The same window opens once at each user's very first start. Where that\n  \
matters, pair with application control over how the browser is started.\n\
- Other browsers and desktop programs (application control), and Edge's IE mode for sites the\n  \
department itself puts on the Enterprise Mode Site List (keep personal services off that list).\n",
        cid = input.chrome.extension_id,
        curl = input.chrome.update_url,
        eid = input.edge.extension_id,
        eurl = input.edge.update_url,
        chrome = readme_baseline(input, &BROWSERS[0]),
        edge = readme_baseline(input, &BROWSERS[2]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_ID: &str = "gkjfgifemhclilaggdnjbnagnbpgaikk";
    const EDGE_ID: &str = "abcdefghijklmnopabcdefghijklmnop";
    const OTHER_ID: &str = "ponmlkjihgfedcbaponmlkjihgfedcba";

    fn input() -> TemplateInput {
        let policy = json!({"allowlist": ["mail.dept.example"], "audit": {"fullUrl": false}, "comment": "say \"hi\" \\ bye"});
        TemplateInput {
            chrome: Distribution {
                extension_id: CHROME_ID.into(),
                update_url: "https://intranet.example/gatehouse/updates.xml".into(),
            },
            edge: Distribution {
                extension_id: EDGE_ID.into(),
                update_url: "https://edge.microsoft.com/extensionwebstorebase/v1/crx".into(),
            },
            allowed_extensions: vec![OTHER_ID.into()],
            native_hosts: vec!["gov.dept.smartcard".into()],
            policy: policy.as_object().cloned().unwrap_or_default(),
        }
    }

    fn file<'a>(files: &'a [TemplateFile], path: &str) -> &'a TemplateFile {
        files.iter().find(|f| f.path == path).unwrap()
    }

    fn reg_text(f: &TemplateFile) -> String {
        let units: Vec<u16> =
            f.bytes[2..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16(&units).unwrap().replace("\r\n", "\n")
    }

    #[test]
    fn every_template_is_generated_and_escaped() {
        let files = generate(&input()).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert!(
            names.contains(&"windows/admx/gatehouse-chrome.admx")
                && names.contains(&"windows/admx/gatehouse-edge.admx")
                && names.contains(&"windows/intune/gatehouse-edge.ps1")
                && names.contains(&"macos/gatehouse.mobileconfig")
        );
        let parsed: Value =
            serde_json::from_slice(&file(&files, "linux/chromium/gatehouse.json").bytes).unwrap();
        assert_eq!(
            parsed["3rdparty"]["extensions"][CHROME_ID]["allowlist"][0],
            "mail.dept.example"
        );
        assert_eq!(parsed["NetworkPredictionOptions"], 2);
        let reg = reg_text(file(&files, "windows/gatehouse-edge.reg"));
        assert!(reg.contains(r#""comment"="say \"hi\" \\ bye""#), "{reg}");
        assert!(reg.contains(r#""allowlist"="[\"mail.dept.example\"]""#));
        assert!(reg.contains("\"NetworkPredictionOptions\"=dword:00000002"));
        assert!(reg.contains(&format!(
            r"[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Edge\3rdparty\extensions\{EDGE_ID}\policy]"
        )));
    }

    /// Issue 11 F8: an indexed `ExtensionInstallForcelist\1` overwrote the department's own
    /// entry 1. Gatehouse now has its own `ExtensionSettings` entry, keyed by its id.
    #[test]
    fn force_install_is_an_extension_settings_entry_not_an_indexed_list() {
        let files = generate(&input()).unwrap();
        for f in &files {
            let text = if f.path.ends_with(".reg") {
                reg_text(f)
            } else {
                String::from_utf8(f.bytes.clone()).unwrap()
            };
            assert!(!text.contains("ExtensionInstallForcelist\""), "{}", f.path);
            assert!(!text.contains("ExtensionInstallForcelist]"), "{}", f.path);
        }
        let linux: Value =
            serde_json::from_slice(&file(&files, "linux/chrome/gatehouse.json").bytes).unwrap();
        let settings = &linux["ExtensionSettings"];
        assert_eq!(settings["*"]["installation_mode"], "blocked");
        assert_eq!(settings[CHROME_ID]["installation_mode"], "force_installed");
        assert_eq!(
            settings[CHROME_ID]["update_url"],
            "https://intranet.example/gatehouse/updates.xml"
        );
        assert_eq!(settings[OTHER_ID]["installation_mode"], "allowed");
        let edge: Value =
            serde_json::from_slice(&file(&files, "linux/edge/gatehouse.json").bytes).unwrap();
        assert_eq!(edge["ExtensionSettings"][EDGE_ID]["installation_mode"], "force_installed");
        assert!(edge["ExtensionSettings"].get(CHROME_ID).is_none(), "each browser its own id");
        assert!(edge["3rdparty"]["extensions"].get(EDGE_ID).is_some());
        let reg = reg_text(file(&files, "windows/gatehouse-chrome.reg"));
        assert!(
            reg.contains(r#""ExtensionSettings"="{\"*\":{\"blocked_install_message\""#),
            "{reg}"
        );
    }

    /// Issue 9 findings 1, 3 and 4: the tamper baseline, with each browser's own policy names.
    #[test]
    fn the_baseline_closes_the_tamper_paths_in_every_format() {
        let files = generate(&input()).unwrap();
        let chrome: Value =
            serde_json::from_slice(&file(&files, "linux/chrome/gatehouse.json").bytes).unwrap();
        assert_eq!(chrome["NativeMessagingUserLevelHosts"], false);
        assert_eq!(chrome["NativeMessagingBlocklist"], json!(["*"]));
        assert_eq!(chrome["NativeMessagingAllowlist"], json!([HOST_NAME, "gov.dept.smartcard"]));
        assert_eq!(chrome["ExtensionDeveloperModeSettings"], 1);
        assert_eq!(chrome["BrowserAddPersonEnabled"], false);
        assert_eq!(chrome["BrowserGuestModeEnabled"], false);
        assert_eq!(chrome["RemoteDebuggingAllowed"], false);
        assert!(chrome.get("UserDataDir").is_none(), "not supported on Linux");
        let edge: Value =
            serde_json::from_slice(&file(&files, "linux/edge/gatehouse.json").bytes).unwrap();
        assert_eq!(edge["BrowserAddProfileEnabled"], false);
        assert!(edge.get("BrowserAddPersonEnabled").is_none());
        assert_eq!(edge["EdgeEDropEnabled"], false);
        assert_eq!(edge["InPrivateModeAvailability"], 1);
        assert!(edge.get("InternetExplorerIntegrationReloadInIEModeAllowed").is_none());

        let reg = reg_text(file(&files, "windows/gatehouse-edge.reg"));
        assert!(reg.contains("\"NativeMessagingUserLevelHosts\"=dword:00000000"));
        assert!(reg.contains("\"InternetExplorerIntegrationReloadInIEModeAllowed\"=dword:00000000"));
        assert!(reg.contains(r#""UserDataDir"="${local_app_data}\\Microsoft\\Edge\\User Data""#));
        assert!(reg.contains(
            "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\NativeMessagingBlocklist]\n\
             [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\NativeMessagingBlocklist]\n\"1\"=\"*\""
        ));
        assert!(reg.contains("; machine-wide native hosts only"), "each value has its reason");

        let plist =
            String::from_utf8(file(&files, "macos/gatehouse.mobileconfig").bytes.clone()).unwrap();
        assert!(plist.contains("<key>NativeMessagingUserLevelHosts</key>\n\t\t\t<false/>"));
        assert!(plist.contains("<key>UserDataDir</key>\n\t\t\t<string>${users}/${user_name}/Library/Application Support/Microsoft Edge</string>"));
        assert!(plist.contains("<!-- no Drop:"));
        assert!(!plist.contains("InternetExplorer"), "IE mode is Windows only");
        assert_eq!(plist.matches("<dict>").count(), plist.matches("</dict>").count());

        let readme = String::from_utf8(file(&files, "README.md").bytes.clone()).unwrap();
        for name in [
            "NativeMessagingUserLevelHosts",
            "ExtensionSettings",
            "UserDataDir",
            "EdgeEDropEnabled",
        ] {
            assert!(readme.contains(&format!("| `{name}` |")), "{name} explained in the README");
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let mut bad = input();
        bad.chrome.extension_id = "short".into();
        assert!(matches!(generate(&bad), Err(TemplateError::ExtensionId(_))));
        let mut bad = input();
        bad.edge.extension_id = "short".into();
        assert!(matches!(generate(&bad), Err(TemplateError::ExtensionId(_))));
        let mut bad = input();
        bad.allowed_extensions.push("short".into());
        assert!(matches!(generate(&bad), Err(TemplateError::ExtensionId(_))));
        let mut bad = input();
        bad.chrome.update_url = "http://x/updates.xml".into();
        assert!(matches!(generate(&bad), Err(TemplateError::UpdateUrl(_))));
        for host in ["Org.Dept", ".dept", "dept.", "a..b", "a b", ""] {
            let mut bad = input();
            bad.native_hosts.push(host.into());
            assert!(matches!(generate(&bad), Err(TemplateError::NativeHost(_))), "{host:?}");
        }
    }

    /// Regression (issue 11, F3): one ADMX carried Chrome's and Edge's keys, and Intune's ADMX
    /// ingestion refuses a file that writes under `Software\Policies\Microsoft` — so neither half
    /// could be ingested. Chrome's file now names Chrome's keys only, and Edge gets a platform
    /// script that imports exactly its `.reg` values.
    #[test]
    fn chrome_admx_is_ingestible_and_edge_has_an_intune_script() {
        let files = generate(&input()).unwrap();
        let utf8 = |path: &str| String::from_utf8(file(&files, path).bytes.clone()).unwrap();
        let chrome = utf8("windows/admx/gatehouse-chrome.admx");
        assert!(chrome.contains(r#"key="SOFTWARE\Policies\Google\Chrome\3rdparty"#));
        assert!(!chrome.to_ascii_lowercase().contains(r"software\policies\microsoft"));
        let edge = utf8("windows/admx/gatehouse-edge.admx");
        assert!(edge.contains(r#"key="SOFTWARE\Policies\Microsoft\Edge\3rdparty"#));
        assert!(!edge.contains("Google"));
        let script = utf8("windows/intune/gatehouse-edge.ps1");
        let reg = reg_text(file(&files, "windows/gatehouse-edge.reg"));
        let body = script
            .split("$reg = @'\r\n")
            .nth(1)
            .and_then(|rest| rest.split("\r\n'@\r\n").next())
            .unwrap()
            .replace("\r\n", "\n");
        assert_eq!(body, reg.trim_end(), "the script imports exactly the .reg values");
        // A line starting with '@ would end PowerShell's here-string early.
        assert!(!reg.lines().any(|l| l.starts_with("'@")));
        assert!(script.contains("reg.exe') import $file"));
        assert!(
            script.starts_with('\u{feff}'),
            "UTF-8 with BOM, or PowerShell 5.1 garbles non-ASCII"
        );
    }

    /// Regression (issue 11, F6): most zh-TW ADML strings were the schema's English. Every key
    /// now has its own Traditional Chinese title and explanation, and no English text is left.
    #[test]
    fn the_zh_tw_adml_is_chinese_throughout() {
        let files = generate(&input()).unwrap();
        let adml = |path: &str| {
            let f = files.iter().find(|f| f.path == path).unwrap();
            String::from_utf8(f.bytes.clone()).unwrap()
        };
        let (en, zh) = (
            adml("windows/admx/en-US/gatehouse-edge.adml"),
            adml("windows/admx/zh-TW/gatehouse-edge.adml"),
        );
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        for (key, node) in schema["properties"].as_object().unwrap() {
            let title = xml_escape(node["title"].as_str().unwrap());
            let description = xml_escape(node["description"].as_str().unwrap());
            assert!(en.contains(&format!(">{title}</string>")), "{key}: English title");
            assert!(!zh.contains(&format!(">{title}</string>")), "{key}: title left in English");
            assert!(!zh.contains(&description), "{key}: explanation left in English");
        }
        assert!(!zh.contains("Objects and lists"), "the JSON note is translated");
        assert!(!zh.contains("(Chromium)<"), "the supported-on line is translated");
        let table: Value = serde_json::from_str(ZH_TW).unwrap();
        let translated: Vec<&String> = table["keys"].as_object().unwrap().keys().collect();
        let schema_keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let mut a = translated.clone();
        let mut b = schema_keys.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "zh-TW.json has exactly the schema's keys (none missing, none stale)");
    }

    /// `manifests/policy/` is what the generator makes for the example policy; regenerate with
    /// `gatehouse policy-templates --policy manifests/examples/department.json --out manifests/policy
    /// --extension-id "$(cat extension/EXTENSION_ID)" --update-url https://intranet.example/gatehouse/updates.xml`.
    #[test]
    fn committed_templates_are_fresh() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let example: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("manifests/examples/department.json")).unwrap(),
        )
        .unwrap();
        let dist = Distribution {
            extension_id: include_str!("../../extension/EXTENSION_ID").trim().to_owned(),
            update_url: "https://intranet.example/gatehouse/updates.xml".into(),
        };
        let input = TemplateInput {
            chrome: dist.clone(),
            edge: dist,
            allowed_extensions: Vec::new(),
            native_hosts: Vec::new(),
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
        assert_eq!(files.len(), 15);
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(generate(&input()).unwrap(), generate(&input()).unwrap());
    }
}
