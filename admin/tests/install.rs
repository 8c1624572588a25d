//! `gatehouse install-host` / `uninstall-host` under a temporary root, and the committed manifest templates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gatehouse_admin::install::{self, Browser, Manifest, Os, HOST_NAME};
use serde_json::Value;

const CLI: &str = env!("CARGO_BIN_EXE_gatehouse");
const ID_A: &str = "abcdefghijklmnopabcdefghijklmnop";
const ID_B: &str = "ponmlkjihgfedcbaponmlkjihgfedcba";

fn gatehouse(args: &[&str]) -> Output {
    Command::new(CLI).args(args).output().expect("run gatehouse")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn install_and_uninstall_for_the_user_under_a_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let out = gatehouse(&[
        "install-host",
        "--root",
        root,
        "--scope",
        "user",
        "--extension-id",
        ID_A,
        "--extension-id",
        ID_B,
        "--host-path",
        "/opt/gatehouse/gatehouse-host",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dirs = [".config/google-chrome", ".config/chromium", ".config/microsoft-edge"];
    for dir in dirs {
        let file = tmp
            .path()
            .join("home")
            .join(dir)
            .join("NativeMessagingHosts")
            .join(format!("{HOST_NAME}.json"));
        let manifest = read_json(&file);
        assert_eq!(manifest["name"], HOST_NAME);
        assert_eq!(manifest["type"], "stdio");
        assert_eq!(manifest["path"], "/opt/gatehouse/gatehouse-host");
        assert_eq!(
            manifest["allowed_origins"],
            serde_json::json!([
                format!("chrome-extension://{ID_A}/"),
                format!("chrome-extension://{ID_B}/")
            ])
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(file.to_str().unwrap()));
    }

    let out =
        gatehouse(&["uninstall-host", "--root", root, "--scope", "user", "--browser", "chromium"]);
    assert!(out.status.success());
    assert!(!tmp
        .path()
        .join("home/.config/chromium/NativeMessagingHosts")
        .join(format!("{HOST_NAME}.json"))
        .exists());
    assert!(tmp
        .path()
        .join("home/.config/google-chrome/NativeMessagingHosts")
        .join(format!("{HOST_NAME}.json"))
        .exists());
    let out = gatehouse(&["uninstall-host", "--root", root, "--scope", "user"]);
    assert!(out.status.success());
    let out = gatehouse(&["uninstall-host", "--root", root, "--scope", "user"]);
    assert!(out.status.success(), "uninstalling twice is fine");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was registered"));
}

/// Issue 9 finding 1: the baseline makes browsers ignore per-user hosts, so the deployment
/// registers machine-wide — and that is what `install-host` does unless told otherwise.
#[test]
fn install_host_defaults_to_machine_wide() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let out = gatehouse(&[
        "install-host",
        "--root",
        root,
        "--browser",
        "chromium",
        "--extension-id",
        ID_A,
        "--host-path",
        "/usr/lib/gatehouse/gatehouse-host",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tmp
        .path()
        .join("etc/chromium/native-messaging-hosts")
        .join(format!("{HOST_NAME}.json"))
        .is_file());
    assert!(!tmp.path().join("home").exists(), "nothing in the user's profile");
    let out = gatehouse(&["uninstall-host", "--root", root, "--browser", "chromium"]);
    assert!(out.status.success());
    assert!(!tmp
        .path()
        .join("etc/chromium/native-messaging-hosts")
        .join(format!("{HOST_NAME}.json"))
        .exists());
}

#[test]
fn system_scope_writes_the_system_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let out = gatehouse(&[
        "install-host",
        "--root",
        root,
        "--scope",
        "system",
        "--browser",
        "edge",
        "--extension-id",
        ID_A,
        "--host-path",
        "/usr/lib/gatehouse/gatehouse-host",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file =
        tmp.path().join("etc/opt/edge/native-messaging-hosts").join(format!("{HOST_NAME}.json"));
    assert_eq!(read_json(&file)["path"], "/usr/lib/gatehouse/gatehouse-host");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "every user's browser must read a system manifest");
    }
    assert!(!tmp.path().join("etc/opt/chrome").exists(), "only the browser asked for");
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let out = gatehouse(&[
        "install-host",
        "--root",
        root,
        "--extension-id",
        "not-an-id",
        "--host-path",
        "/x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Chrome extension id"));
    let out = gatehouse(&[
        "install-host",
        "--root",
        root,
        "--extension-id",
        ID_A,
        "--host-path",
        "relative/host",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be absolute"));
    let out = gatehouse(&["install-host", "--root", root]);
    assert_eq!(out.status.code(), Some(2), "a usage error is clap's exit 2");
    let out = gatehouse(&[
        "install-host",
        "--root",
        root,
        "--extension-id",
        ID_A,
        "--browser",
        "firefox",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
}

// ---- committed templates in manifests/native-messaging/ ----

fn templates_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/native-messaging")
}

/// The host path each OS's template uses (where packages install the binary).
fn template_host_path(os: Os) -> &'static str {
    match os {
        Os::Linux => "/usr/lib/gatehouse/gatehouse-host",
        Os::Macos => "/Library/Application Support/Gatehouse/gatehouse-host",
        Os::Windows => r"C:\Program Files\Gatehouse\gatehouse-host.exe",
    }
}

/// Every template file and its expected content.
fn expected_templates() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for os in [Os::Linux, Os::Macos, Os::Windows] {
        for browser in Browser::ALL {
            let manifest = Manifest {
                allowed_origins: vec!["chrome-extension://EXTENSION_ID/".into()],
                ..Manifest::new(template_host_path(os), &[])
            };
            let dir = PathBuf::from(os.name()).join(browser.name());
            out.push((dir.join(format!("{HOST_NAME}.json")), manifest.to_json()));
            if os == Os::Windows {
                let manifest_path = format!(
                    r"C:\ProgramData\Gatehouse\native-messaging\{HOST_NAME}.{}.json",
                    browser.name()
                );
                out.push((
                    dir.join(format!("{HOST_NAME}.reg")),
                    install::reg_file(browser, &manifest_path),
                ));
            }
        }
    }
    out
}

/// The templates are generated from the same code and table as `install-host`; this fails when
/// they drift. Regenerate with `GATEHOUSE_BLESS=1 cargo test -p gatehouse-admin --test tests templates`.
#[test]
fn templates_match_the_installer() {
    let bless = std::env::var("GATEHOUSE_BLESS").is_ok_and(|v| v == "1");
    let expected = expected_templates();
    for (rel, content) in &expected {
        let path = templates_dir().join(rel);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        let actual =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            &actual,
            content,
            "{} is stale; regenerate with GATEHOUSE_BLESS=1",
            rel.display()
        );
    }
    // Guard: 3 OSes × 3 browsers manifests + 3 Windows .reg files.
    assert_eq!(expected.len(), 12);
}
