//! Installs what a fresh machine lacks (wasm32 target, wasm-bindgen-cli, Chromium, PostgreSQL,
//! npm packages).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::step;

/// Debian's real Chromium binary (the `/usr/bin/chromium` wrapper adds flags of its own).
const CHROMIUM: &str = "/usr/lib/chromium/chromium";
/// Present once `chromium-l10n` is installed.
const CHROMIUM_ZH_TW: &str = "/usr/lib/chromium/locales/zh-TW.pak";
/// Present once `fonts-noto-cjk` is installed.
const NOTO_CJK: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs a compilation target for the pinned toolchain when it is missing.
pub fn ensure_target(target: &str) -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", target]);
    step(&format!("install the {target} target"), add)
}

/// `wasm-bindgen` must be exactly the version of the `wasm-bindgen` crate in Cargo.lock, or
/// its output does not match the crate's ABI.
pub fn ensure_wasm_bindgen(root: &Path) -> Result<PathBuf> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let version =
        locked_version(&lock, "wasm-bindgen").context("wasm-bindgen is not in Cargo.lock")?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let bin = cargo_home.join("bin/wasm-bindgen");
    let have = output(&bin.to_string_lossy(), &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(version.as_str()) {
        return Ok(bin);
    }
    // No --locked: a transitive version pinned by the CLI's lock file is not on every registry mirror.
    let mut install = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    install.args(["install", "wasm-bindgen-cli", "--version", &format!("={version}")]);
    step(&format!("install wasm-bindgen-cli {version} (about 4 minutes)"), install)?;
    Ok(bin)
}

fn locked_version(lock: &str, package: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            let version = lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(version.to_owned());
        }
    }
    None
}

/// Debian's Chromium with its language packs (the block page is tested in Traditional Chinese)
/// and CJK fonts (for readable screenshots).
pub fn ensure_chromium() -> Result<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    let complete = [CHROMIUM, CHROMIUM_ZH_TW, NOTO_CJK].iter().all(|p| Path::new(p).exists());
    if complete {
        return Ok(path);
    }
    apt_install(&["chromium", "chromium-l10n", "fonts-noto-cjk"])?;
    if !path.exists() {
        bail!("chromium installed but {CHROMIUM} is missing");
    }
    Ok(path)
}

/// What the approval desk needs from Debian: PostgreSQL's server binaries (its tests start a
/// throwaway cluster as an unprivileged user), MIT Kerberos' GSS-API headers and the clang
/// libraries bindgen uses to build `libgssapi`, and a KDC, `kinit` and curl with SPNEGO for its
/// Kerberos sign-in test.
pub fn ensure_approval_desk_packages() -> Result<()> {
    let postgres = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|version| version.path().join("bin/initdb").exists());
    let present = [
        "/usr/include/gssapi/gssapi.h",
        "/usr/sbin/krb5kdc",
        "/usr/sbin/kadmin.local",
        "/usr/bin/kinit",
        "/usr/bin/curl",
        "/usr/bin/pkg-config",
    ]
    .iter()
    .all(|p| Path::new(p).exists());
    let clang = std::fs::read_dir("/usr/lib/x86_64-linux-gnu")
        .into_iter()
        .flatten()
        .flatten()
        .chain(std::fs::read_dir("/usr/lib/aarch64-linux-gnu").into_iter().flatten().flatten())
        .any(|e| e.file_name().to_string_lossy().starts_with("libclang"));
    if postgres && present && clang {
        return Ok(());
    }
    apt_install(&[
        "postgresql",
        "libkrb5-dev",
        "libclang-dev",
        "pkg-config",
        "krb5-kdc",
        "krb5-admin-server",
        "krb5-user",
        "curl",
    ])
}

/// `apt-get update` and `apt-get install -y` (Debian: the machines this project builds on).
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let mut update = Command::new("apt-get");
    update.arg("update");
    step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    step(&format!("install {}", packages.join(" ")), install)
}

/// `npm ci` where a package-lock.json is newer than the installed node_modules.
pub fn ensure_node_modules(dir: &Path) -> Result<()> {
    let lock = dir.join("package-lock.json");
    if !lock.exists() {
        bail!("{} is missing", lock.display());
    }
    let marker = dir.join("node_modules/.package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(installed), Some(wanted)) = (modified(&marker), modified(&lock)) {
        if installed >= wanted {
            return Ok(());
        }
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    step(&format!("npm ci in {}", dir.display()), npm)
}

/// Chrome's extension id: the first 128 bits of SHA-256 over the DER public key, as hex digits
/// spelled with the letters a–p.
pub fn extension_id(key_base64: &str) -> Result<String> {
    let der = STANDARD.decode(key_base64.trim()).context("manifest key is not base64")?;
    let digest = Sha256::digest(der);
    Ok(digest[..16]
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|nibble| char::from(b'a' + nibble))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_locked_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        assert_eq!(locked_version(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(locked_version(lock, "serde"), None);
    }

    #[test]
    fn extension_id_is_sixteen_bytes_in_a_to_p() {
        let id = extension_id("AAAA").unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| (b'a'..=b'p').contains(&b)));
    }
}
