//! Registering the host with Chrome, Chromium and Edge: the manifest, and where each browser looks for it.
//!
//! Where each browser looks is a data table ([`LOCATIONS`]) over operating system × browser ×
//! scope, from the browsers' documentation:
//! <https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location>
//! and <https://learn.microsoft.com/microsoft-edge/extensions-chromium/developer-guide/native-messaging>.
//! An install is first computed as a [`Plan`] (files to write, registry values to set), which is
//! pure and tested for every row of the table on any OS; [`apply`] then carries it out under a
//! root, so tests write into a temporary folder and never touch the real system.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The host's registered name, as the host's protocol defines it.
pub use gatehouse_host::protocol::HOST_NAME;

/// The manifest's description.
pub const DESCRIPTION: &str = "Gatehouse native host: identity, network facts, approvals, audit";

/// An operating system with its own locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Os {
    /// Linux (and other free Unixes that follow its layout).
    Linux,
    /// macOS.
    Macos,
    /// Windows.
    Windows,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Self {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::Macos
        } else {
            Os::Linux
        }
    }

    /// Lowercase name, as used in `manifests/native-messaging/<os>/`.
    pub fn name(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Macos => "macos",
            Os::Windows => "windows",
        }
    }
}

/// A browser that speaks Chrome's native messaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Browser {
    /// Google Chrome.
    Chrome,
    /// Chromium (Debian's package included).
    Chromium,
    /// Microsoft Edge.
    Edge,
}

impl Browser {
    /// Every browser, in table order.
    pub const ALL: [Browser; 3] = [Browser::Chrome, Browser::Chromium, Browser::Edge];

    /// Lowercase name, as on the command line and in `manifests/native-messaging/<os>/<browser>/`.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
        }
    }
}

/// Per user or for every user of the machine.
///
/// Machine-wide is the deployment ([`Scope::default`]): the hardening baseline sets
/// `NativeMessagingUserLevelHosts = false`, so browsers ignore per-user registrations — otherwise
/// a user could plant their own host under Gatehouse's name. Per user is for development.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The current user's profile (development only: ignored under the baseline).
    User,
    /// Machine-wide (needs administrator rights).
    #[default]
    System,
}

/// Where a manifest goes, relative to a base the installer resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// An absolute folder (Linux, macOS system-wide).
    Absolute(&'static str),
    /// A folder under the user's home.
    Home(&'static str),
    /// Windows: the manifest file lives in the Gatehouse data folder and a registry value under
    /// `HKCU` or `HKLM` + this key points at it.
    Registry(&'static str),
}

/// One row of the location table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Operating system.
    pub os: Os,
    /// Browser.
    pub browser: Browser,
    /// Scope.
    pub scope: Scope,
    /// Where the browser looks.
    pub place: Place,
}

const fn row(os: Os, browser: Browser, scope: Scope, place: Place) -> Location {
    Location { os, browser, scope, place }
}

/// Where each browser looks for native-messaging host manifests.
pub const LOCATIONS: [Location; 18] = {
    use Browser::*;
    use Os::*;
    use Place::*;
    use Scope::*;
    [
        row(Linux, Chrome, System, Absolute("/etc/opt/chrome/native-messaging-hosts")),
        row(Linux, Chrome, User, Home(".config/google-chrome/NativeMessagingHosts")),
        row(Linux, Chromium, System, Absolute("/etc/chromium/native-messaging-hosts")),
        row(Linux, Chromium, User, Home(".config/chromium/NativeMessagingHosts")),
        row(Linux, Edge, System, Absolute("/etc/opt/edge/native-messaging-hosts")),
        row(Linux, Edge, User, Home(".config/microsoft-edge/NativeMessagingHosts")),
        row(Macos, Chrome, System, Absolute("/Library/Google/Chrome/NativeMessagingHosts")),
        row(
            Macos,
            Chrome,
            User,
            Home("Library/Application Support/Google/Chrome/NativeMessagingHosts"),
        ),
        row(
            Macos,
            Chromium,
            System,
            Absolute("/Library/Application Support/Chromium/NativeMessagingHosts"),
        ),
        row(
            Macos,
            Chromium,
            User,
            Home("Library/Application Support/Chromium/NativeMessagingHosts"),
        ),
        row(Macos, Edge, System, Absolute("/Library/Microsoft/Edge/NativeMessagingHosts")),
        row(
            Macos,
            Edge,
            User,
            Home("Library/Application Support/Microsoft Edge/NativeMessagingHosts"),
        ),
        row(Windows, Chrome, System, Registry(r"Software\Google\Chrome\NativeMessagingHosts")),
        row(Windows, Chrome, User, Registry(r"Software\Google\Chrome\NativeMessagingHosts")),
        row(Windows, Chromium, System, Registry(r"Software\Chromium\NativeMessagingHosts")),
        row(Windows, Chromium, User, Registry(r"Software\Chromium\NativeMessagingHosts")),
        row(Windows, Edge, System, Registry(r"Software\Microsoft\Edge\NativeMessagingHosts")),
        row(Windows, Edge, User, Registry(r"Software\Microsoft\Edge\NativeMessagingHosts")),
    ]
};

/// The row for `os`, `browser`, `scope` (the table has one for each).
pub fn location(os: Os, browser: Browser, scope: Scope) -> Option<&'static Location> {
    LOCATIONS.iter().find(|l| l.os == os && l.browser == browser && l.scope == scope)
}

/// The manifest Chrome reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// [`HOST_NAME`].
    pub name: String,
    /// [`DESCRIPTION`].
    pub description: String,
    /// Absolute path of the `gatehouse-host` executable.
    pub path: String,
    /// Always `stdio`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `chrome-extension://<id>/` for each allowed extension (Edge uses the same scheme).
    pub allowed_origins: Vec<String>,
}

impl Manifest {
    /// The manifest for `host_path`, allowing `extension_ids`.
    pub fn new(host_path: &str, extension_ids: &[ExtensionId]) -> Self {
        Manifest {
            name: HOST_NAME.into(),
            description: DESCRIPTION.into(),
            path: host_path.into(),
            kind: "stdio".into(),
            allowed_origins: extension_ids
                .iter()
                .map(|id| format!("chrome-extension://{}/", id.0))
                .collect(),
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// A Chrome extension id: 32 letters `a`–`p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionId(String);

impl ExtensionId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ExtensionId {
    type Err = InstallError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() == 32 && s.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
            Ok(ExtensionId(s.to_owned()))
        } else {
            Err(InstallError::BadExtensionId(s.to_owned()))
        }
    }
}

/// Why an install or uninstall failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// An extension id is not 32 letters a–p.
    #[error("not a Chrome extension id: {0:?} (32 letters a-p, as shown on chrome://extensions)")]
    BadExtensionId(String),
    /// No extension id was given.
    #[error("at least one --extension-id is needed")]
    NoExtensionId,
    /// The host path is not absolute (Chrome on Linux and macOS requires an absolute path).
    #[error("the host path must be absolute: {0}")]
    RelativeHostPath(String),
    /// There is no home folder for a per-user install.
    #[error("no home folder for a per-user install")]
    NoHome,
    /// Writing or removing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// `write`, `remove`, `create`.
        action: &'static str,
        /// The path.
        path: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The Windows registry refused.
    #[error("cannot {action} registry key {key}: {source}")]
    Registry {
        /// `set` or `delete`.
        action: &'static str,
        /// The key.
        key: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

/// The folders an install resolves [`Place`]s against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bases {
    /// Prefix for absolute places: `/` normally, a temporary folder in tests.
    pub root: PathBuf,
    /// The user's home.
    pub home: Option<PathBuf>,
    /// Windows: where manifest files go for system scope (`%ProgramData%\Gatehouse\native-messaging`).
    pub windows_system_dir: PathBuf,
    /// Windows: where manifest files go for user scope (`%LOCALAPPDATA%\Gatehouse\native-messaging`).
    pub windows_user_dir: Option<PathBuf>,
}

impl Bases {
    /// The real system's folders.
    pub fn system() -> Self {
        let dirs = directories::BaseDirs::new();
        let program_data = std::env::var_os("ProgramData")
            .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
        Bases {
            root: PathBuf::from("/"),
            home: dirs.as_ref().map(|d| d.home_dir().to_path_buf()),
            windows_system_dir: program_data.join("Gatehouse").join("native-messaging"),
            windows_user_dir: dirs
                .as_ref()
                .map(|d| d.data_local_dir().join("Gatehouse").join("native-messaging")),
        }
    }

    /// Everything under `root`: absolute places below it, the home at `root/home`, the Windows
    /// folders at `root/ProgramData/…` and `root/home/AppData/Local/…`. For tests and staging.
    pub fn under(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let home = root.join("home");
        Bases {
            windows_system_dir: root.join("ProgramData").join("Gatehouse").join("native-messaging"),
            windows_user_dir: Some(
                home.join("AppData").join("Local").join("Gatehouse").join("native-messaging"),
            ),
            home: Some(home),
            root,
        }
    }
}

/// A registry value pointing a browser at a manifest file (Windows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// `HKCU` or `HKLM`.
    pub hive: &'static str,
    /// The key, ending in [`HOST_NAME`]; its default value is the manifest's path.
    pub key: String,
    /// The manifest's path.
    pub value: String,
}

/// Where one browser's registration lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Which browser.
    pub browser: Browser,
    /// The manifest file.
    pub file: PathBuf,
    /// Windows only: the registry value that points at `file`.
    pub registry: Option<RegistryEntry>,
}

/// What an install writes for one browser and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Where.
    pub target: Target,
    /// The manifest's content.
    pub manifest: Manifest,
}

/// Everything an install writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One step per browser.
    pub steps: Vec<Step>,
}

/// Where the registrations for `browsers` × `scope` on `os` live.
///
/// # Errors
/// [`InstallError::NoHome`] for a per-user location without a home folder.
pub fn targets(
    os: Os,
    browsers: &[Browser],
    scope: Scope,
    bases: &Bases,
) -> Result<Vec<Target>, InstallError> {
    browsers
        .iter()
        .map(|&browser| {
            let (file, registry) = manifest_file(os, browser, scope, bases)?;
            Ok(Target { browser, file, registry })
        })
        .collect()
}

/// Computes the install for `browsers` × `scope` on `os`.
///
/// # Errors
/// [`InstallError`] for no or bad extension ids, a relative host path (Linux, macOS) or a missing home.
pub fn plan(
    os: Os,
    browsers: &[Browser],
    scope: Scope,
    host_path: &str,
    extension_ids: &[ExtensionId],
    bases: &Bases,
) -> Result<Plan, InstallError> {
    if extension_ids.is_empty() {
        return Err(InstallError::NoExtensionId);
    }
    if os != Os::Windows && !host_path.starts_with('/') {
        return Err(InstallError::RelativeHostPath(host_path.into()));
    }
    let manifest = Manifest::new(host_path, extension_ids);
    let steps = targets(os, browsers, scope, bases)?
        .into_iter()
        .map(|target| Step { target, manifest: manifest.clone() })
        .collect();
    Ok(Plan { steps })
}

/// Where the manifest for `os` × `browser` × `scope` lives, and the registry value on Windows.
///
/// # Errors
/// [`InstallError::NoHome`] for a per-user location without a home folder.
pub fn manifest_file(
    os: Os,
    browser: Browser,
    scope: Scope,
    bases: &Bases,
) -> Result<(PathBuf, Option<RegistryEntry>), InstallError> {
    let file_name = format!("{HOST_NAME}.json");
    let Some(row) = location(os, browser, scope) else {
        // The table is complete (a test checks it); this is unreachable in practice.
        return Err(InstallError::NoHome);
    };
    Ok(match row.place {
        Place::Absolute(dir) => {
            (bases.root.join(dir.trim_start_matches('/')).join(file_name), None)
        }
        Place::Home(dir) => {
            (bases.home.as_ref().ok_or(InstallError::NoHome)?.join(dir).join(file_name), None)
        }
        Place::Registry(key) => {
            let dir = match scope {
                Scope::System => bases.windows_system_dir.clone(),
                Scope::User => bases.windows_user_dir.clone().ok_or(InstallError::NoHome)?,
            };
            // One file per browser, so uninstalling one browser leaves the others working.
            let file = dir.join(format!("{HOST_NAME}.{}.json", browser.name()));
            let entry = RegistryEntry {
                hive: if scope == Scope::System { "HKLM" } else { "HKCU" },
                key: format!(r"{key}\{HOST_NAME}"),
                value: file.display().to_string(),
            };
            (file, Some(entry))
        }
    })
}

/// What [`apply`] and [`remove`] did, for the CLI to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files written or removed.
    pub files: Vec<PathBuf>,
    /// Registry keys set or deleted (`HKCU\…`).
    pub registry: Vec<String>,
    /// Registry entries skipped because the install is staged under a root or not on Windows.
    pub skipped_registry: Vec<String>,
}

/// Writes the plan's files (world-readable: every user's browser must read a system manifest)
/// and, on Windows when `registry` is true, its registry values.
///
/// # Errors
/// [`InstallError::Io`] or [`InstallError::Registry`] at the first failure.
pub fn apply(plan: &Plan, registry: bool) -> Result<Report, InstallError> {
    let mut report = Report::default();
    for Step { target, manifest } in &plan.steps {
        if let Some(dir) = target.file.parent() {
            fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        }
        write_atomic(&target.file, manifest.to_json().as_bytes())
            .map_err(io_error("write", &target.file))?;
        report.files.push(target.file.clone());
        if let Some(entry) = &target.registry {
            let name = format!(r"{}\{}", entry.hive, entry.key);
            if registry && cfg!(windows) {
                set_registry(entry)?;
                report.registry.push(name);
            } else {
                report.skipped_registry.push(name);
            }
        }
    }
    Ok(report)
}

/// Removes the registrations at `targets` (missing files and keys are fine).
///
/// # Errors
/// [`InstallError::Io`] or [`InstallError::Registry`] at the first failure.
pub fn remove(targets: &[Target], registry: bool) -> Result<Report, InstallError> {
    let mut report = Report::default();
    for step in targets {
        match fs::remove_file(&step.file) {
            Ok(()) => report.files.push(step.file.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove", &step.file)(e)),
        }
        if let Some(entry) = &step.registry {
            let name = format!(r"{}\{}", entry.hive, entry.key);
            if registry && cfg!(windows) {
                delete_registry(entry)?;
                report.registry.push(name);
            } else {
                report.skipped_registry.push(name);
            }
        }
    }
    Ok(report)
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> InstallError {
    let path = path.display().to_string();
    move |source| InstallError::Io { action, path, source }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".gatehouse-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(windows)]
fn set_registry(entry: &RegistryEntry) -> Result<(), InstallError> {
    use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
    let hive = winreg::RegKey::predef(if entry.hive == "HKLM" {
        HKEY_LOCAL_MACHINE
    } else {
        HKEY_CURRENT_USER
    });
    let fail = |source| InstallError::Registry { action: "set", key: entry.key.clone(), source };
    let (key, _) = hive.create_subkey(&entry.key).map_err(fail)?;
    key.set_value("", &entry.value).map_err(fail)
}

#[cfg(not(windows))]
fn set_registry(_entry: &RegistryEntry) -> Result<(), InstallError> {
    Ok(())
}

#[cfg(windows)]
fn delete_registry(entry: &RegistryEntry) -> Result<(), InstallError> {
    use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
    let hive = winreg::RegKey::predef(if entry.hive == "HKLM" {
        HKEY_LOCAL_MACHINE
    } else {
        HKEY_CURRENT_USER
    });
    match hive.delete_subkey_all(&entry.key) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => {
            Err(InstallError::Registry { action: "delete", key: entry.key.clone(), source })
        }
    }
}

#[cfg(not(windows))]
fn delete_registry(_entry: &RegistryEntry) -> Result<(), InstallError> {
    Ok(())
}

/// The `.reg` file that registers a Windows system-wide manifest at `manifest_path`.
pub fn reg_file(browser: Browser, manifest_path: &str) -> String {
    let key = match location(Os::Windows, browser, Scope::System).map(|l| l.place) {
        Some(Place::Registry(key)) => key,
        _ => "",
    };
    let escaped = manifest_path.replace('\\', "\\\\");
    format!(
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\{key}\\{HOST_NAME}]\r\n@=\"{escaped}\"\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abcdefghijklmnopabcdefghijklmnop";

    fn ids() -> Vec<ExtensionId> {
        vec![ID.parse().unwrap()]
    }

    #[test]
    fn table_has_every_combination_once() {
        let mut n = 0;
        for os in [Os::Linux, Os::Macos, Os::Windows] {
            for browser in Browser::ALL {
                for scope in [Scope::User, Scope::System] {
                    let rows = LOCATIONS
                        .iter()
                        .filter(|l| l.os == os && l.browser == browser && l.scope == scope);
                    assert_eq!(rows.count(), 1, "{os:?} {browser:?} {scope:?}");
                    n += 1;
                }
            }
        }
        assert_eq!(n, LOCATIONS.len());
    }

    #[test]
    fn extension_ids() {
        assert!(ID.parse::<ExtensionId>().is_ok());
        for bad in [
            "",
            "abc",
            "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP",
            "qbcdefghijklmnopabcdefghijklmnop",
            "abcdefghijklmnopabcdefghijklmno/",
        ] {
            assert!(bad.parse::<ExtensionId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn manifest_json() {
        let m = Manifest::new("/usr/lib/gatehouse/gatehouse-host", &ids());
        let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(v["name"], HOST_NAME);
        assert_eq!(v["type"], "stdio");
        assert_eq!(v["path"], "/usr/lib/gatehouse/gatehouse-host");
        assert_eq!(v["allowed_origins"], serde_json::json!([format!("chrome-extension://{ID}/")]));
    }

    #[test]
    fn plan_validates_inputs() {
        let bases = Bases::under("/tmp/x");
        assert!(matches!(
            plan(Os::Linux, &Browser::ALL, Scope::User, "/h", &[], &bases),
            Err(InstallError::NoExtensionId)
        ));
        assert!(matches!(
            plan(Os::Linux, &Browser::ALL, Scope::User, "gatehouse-host", &ids(), &bases),
            Err(InstallError::RelativeHostPath(_))
        ));
        assert!(plan(
            Os::Windows,
            &Browser::ALL,
            Scope::User,
            r"C:\gh\gatehouse-host.exe",
            &ids(),
            &bases
        )
        .is_ok());
    }

    #[test]
    fn windows_plan_points_the_registry_at_per_browser_files() {
        let bases = Bases::under("/stage");
        let p = plan(
            Os::Windows,
            &[Browser::Edge],
            Scope::System,
            r"C:\gh\gatehouse-host.exe",
            &ids(),
            &bases,
        )
        .unwrap();
        let step = &p.steps[0].target;
        assert_eq!(
            step.file,
            PathBuf::from(
                "/stage/ProgramData/Gatehouse/native-messaging/org.gatehouse.host.edge.json"
            )
        );
        let reg = step.registry.as_ref().unwrap();
        assert_eq!(reg.hive, "HKLM");
        assert_eq!(reg.key, r"Software\Microsoft\Edge\NativeMessagingHosts\org.gatehouse.host");
        assert_eq!(reg.value, step.file.display().to_string());
        let p = plan(Os::Windows, &[Browser::Chrome], Scope::User, r"C:\x.exe", &ids(), &bases)
            .unwrap();
        assert_eq!(p.steps[0].target.registry.as_ref().unwrap().hive, "HKCU");
    }

    #[test]
    fn reg_file_escapes_backslashes() {
        let reg = reg_file(Browser::Chrome, r"C:\ProgramData\Gatehouse\m.json");
        assert!(reg.contains(
            r"[HKEY_LOCAL_MACHINE\Software\Google\Chrome\NativeMessagingHosts\org.gatehouse.host]"
        ));
        assert!(reg.contains(r#"@="C:\\ProgramData\\Gatehouse\\m.json""#));
    }
}
