//! `cargo xtask dist`: the release folder an administrator rolls out, built reproducibly.
//!
//! `target/dist/gatehouse-<version>/` holds the extension as CRX3 signed with the release key and
//! its `updates.xml`, zips for a Chrome Web Store / Edge Add-ons listing, the host and CLI for
//! Linux and Windows x86_64, an MSI (wixl), a .deb (dpkg-deb), the policy templates for the
//! release id, `RELEASE.md` and `SHA256SUMS`.
//!
//! Reproducible: every input is the source tree at its last commit, the release key and the base
//! URL. Timestamps are `SOURCE_DATE_EPOCH` (the last commit's time unless set), zip entries are
//! sorted with fixed times and modes, paths are remapped out of the binaries, the PE timestamp is
//! left out, the .deb is built from a tree with fixed mtimes and root ownership, and the MSI's
//! package code and dates (which wixl draws from the clock and a random UUID) are set from the
//! inputs. CRX3 signatures are RSA PKCS #1 v1.5, itself deterministic, so two runs with the same
//! key give the same bytes everywhere; `--twice` checks that.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context as _, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::{step, tools, Built};

/// The host's registered name, as `native-host/src/install.rs` has it.
const HOST_NAME: &str = "org.gatehouse.host";
/// Never used for a release: its private half is committed for the browser tests.
const TEST_KEY: &str = "tests/browser/fixtures/dev-extension-key.pem";
/// The MSI's upgrade code: the same for every version forever (a major upgrade finds the old one).
const UPGRADE_CODE: &str = "6C0E5A0B-3E1F-4B8A-9C1D-5F2A7E3B9D41";
/// Component codes: stable while each component's key path stays the same.
const COMPONENT_HOST: &str = "0B9F3C2E-7A41-4D5E-8F60-1C2B3D4E5F01";
const COMPONENT_REGISTRY: &str = "0B9F3C2E-7A41-4D5E-8F60-1C2B3D4E5F02";
const COMPONENT_EVENTLOG: &str = "0B9F3C2E-7A41-4D5E-8F60-1C2B3D4E5F03";
/// The Event Log source the host's audit trail writes to (`native-host/src/audit.rs`).
const EVENT_SOURCE: &str = "Gatehouse";
/// The event id the host reports every audit record under (`ReportEventW(…, 1000, …)`).
const EVENT_ID: u32 = 1000;
const LINUX: &str = "x86_64-unknown-linux-gnu";
const WINDOWS: &str = "x86_64-pc-windows-gnu";

/// Flags of `cargo xtask dist`.
#[derive(clap::Args)]
pub(crate) struct DistArgs {
    /// The release key (PEM, RSA 2048+). Default: ~/.config/gatehouse/release-key.pem, made on
    /// first use. It decides the extension id; keep it (and a backup) outside the repository.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Where the intranet server publishes the release, e.g. https://intranet.example/gatehouse:
    /// updates.xml points at <URL>/gatehouse-<version>.crx, the policy at <URL>/updates.xml.
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The id the Chrome Web Store gave the listing, for the store zip's first-run rules.
    #[arg(long, value_name = "ID")]
    store_id: Option<String>,
    /// The id Edge Add-ons gave the listing, for the Edge store zip's first-run rules.
    #[arg(long, value_name = "ID")]
    edge_store_id: Option<String>,
    /// Build a second time in a fresh target dir and require byte-identical artefacts.
    #[arg(long)]
    twice: bool,
}

/// The base URL the tests' release is built for: the browser test maps the host to its stand-in.
const TEST_BASE_URL: &str = "https://updates.gatehouse.test/gatehouse";

/// `cargo xtask test`'s release step: `dist --twice` (reproducible), then tests/release/ — the
/// MSI read back and installed under Wine, every template validated. The browser suite's
/// deploy.test.mjs installs the same folder's .deb.
pub(crate) fn release_tests(root: &Path, built: &Built) -> Result<()> {
    let args = DistArgs {
        key: None,
        base_url: TEST_BASE_URL.into(),
        store_id: None,
        edge_store_id: None,
        twice: true,
    };
    let release = dist(root, &args)?;
    if !Path::new(WINE).exists() {
        tools::apt_install(&["wine64"])?;
    }
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1", "tests/release/"])
        .env("GATEHOUSE_DIST_DIR", &release)
        .env("GATEHOUSE_CLI_BIN", &built.cli_bin);
    step("release artefacts: MSI (msitools, Wine), policy templates", node)
}

/// Debian's wine64 (Wine 8), for the MSI test.
const WINE: &str = "/usr/lib/wine/wine64";

/// Builds the release folder (twice with `--twice`); returns it.
pub(crate) fn dist(root: &Path, args: &DistArgs) -> Result<PathBuf> {
    let first = dist_once(root, args, &root.join("target/dist-build"), &root.join("target/dist"))?;
    if args.twice {
        // A target dir of its own: everything, dependencies included, compiled a second time.
        let second = dist_once(
            root,
            args,
            &root.join("target/dist-repro"),
            &root.join("target/dist-repro-out"),
        )?;
        compare(&first, &second)?;
    }
    Ok(first)
}

fn dist_once(root: &Path, args: &DistArgs, target_dir: &Path, out_root: &Path) -> Result<PathBuf> {
    let version = workspace_version(root)?;
    let epoch = source_date_epoch(root)?;
    let base_url = check_base_url(&args.base_url)?;
    let key = release_key(root, args.key.as_deref())?;
    let public_der = public_key_der(&key)?;
    let public_b64 = STANDARD.encode(&public_der);
    let id = tools::extension_id(&public_b64)?;
    for store in [&args.store_id, &args.edge_store_id].into_iter().flatten() {
        ensure!(is_extension_id(store), "{store:?} is not an extension id (32 letters a-p)");
    }
    println!("xtask: release {version}, extension id {id}, key {}", key.display());
    println!("xtask: SOURCE_DATE_EPOCH={epoch}");
    warn_if_dirty(root);

    let out = out_root.join(format!("gatehouse-{version}"));
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let stage = target_dir.join("stage");
    if stage.exists() {
        std::fs::remove_dir_all(&stage).with_context(|| format!("clearing {}", stage.display()))?;
    }
    mkdir(&out)?;
    mkdir(&stage)?;

    let bins = build_binaries(root, target_dir, epoch)?;
    let wasm_dir = stage.join("wasm");
    wasm_bindgen(root, &bins.wasm, &wasm_dir)?;

    // The extension: CRX3 + updates.xml for self-hosting, zips without `key` for the stores.
    let crx_name = format!("gatehouse-{version}.crx");
    let ext = stage_extension(root, &wasm_dir, &stage.join("extension"), &id, Some(&public_b64))?;
    let archive = zip_dir(&ext, epoch)?;
    write(&out.join(&crx_name), &crx3(&archive, &public_der, &key, &stage)?)?;
    write(
        &out.join("updates.xml"),
        updates_xml(&id, &format!("{base_url}/{crx_name}"), &version).as_bytes(),
    )?;
    let stores = [
        ("chrome-web-store", args.store_id.as_deref()),
        ("edge-addons", args.edge_store_id.as_deref()),
    ];
    mkdir(&out.join("store"))?;
    for (store, store_id) in stores {
        let store_ext = stage_extension(
            root,
            &wasm_dir,
            &stage.join(format!("extension-{store}")),
            store_id.unwrap_or(&id),
            None,
        )?;
        let zip = zip_dir(&store_ext, epoch)?;
        write(&out.join(format!("store/gatehouse-{version}-{store}.zip")), &zip)?;
    }

    // Host and CLI.
    for (dir, files) in [
        ("linux-x86_64", [&bins.linux_host, &bins.linux_cli]),
        ("windows-x86_64", [&bins.windows_host, &bins.windows_cli]),
    ] {
        mkdir(&out.join(dir))?;
        for file in files {
            let name = file.file_name().context("binary without a name")?;
            copy(file, &out.join(dir).join(name), 0o755)?;
        }
    }

    // Policy templates for this release's id and update URL, from the release CLI itself.
    let policy_dir = out.join("policy");
    let mut templates = Command::new(out.join("linux-x86_64/gatehouse"));
    templates
        .arg("policy-templates")
        .arg("--policy")
        .arg(root.join("manifests/examples/department.json"))
        .args(["--extension-id", &id, "--update-url", &format!("{base_url}/updates.xml")])
        .arg("--out")
        .arg(&policy_dir);
    step("policy templates for the release id", templates)?;
    copy(
        &root.join("manifests/examples/department.json"),
        &policy_dir.join("department.example.json"),
        0o644,
    )?;

    let messages = message_dll(&stage.join("messages"))?;
    let msi = out.join(format!("gatehouse-{version}-x64.msi"));
    let product_code = build_msi(&stage.join("msi"), &bins, &messages, &id, &version, epoch, &msi)?;
    let deb = out.join(format!("gatehouse_{version}_amd64.deb"));
    build_deb(root, &stage.join("deb"), &out, &id, &version, epoch, &deb)?;

    write(
        &out.join("RELEASE.md"),
        release_notes(&version, &id, &public_der, &base_url, &crx_name, &product_code, args)
            .as_bytes(),
    )?;
    let sums = checksums(&out)?;
    write(&out.join("SHA256SUMS"), sums.as_bytes())?;
    set_mtimes(&out, epoch)?;

    println!("xtask: release folder {}", out.display());
    for (path, size) in files_with_sizes(&out)? {
        println!("xtask:   {size:>10}  {path}");
    }
    println!("xtask: extension id {id} (release key {})", key.display());
    Ok(out)
}

/// The workspace version, which must be the extension's too.
fn workspace_version(root: &Path) -> Result<String> {
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let mut in_package = false;
    let mut version = None;
    for line in cargo.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package {
            if let Some(v) =
                line.strip_prefix("version").map(str::trim).and_then(|v| v.strip_prefix('='))
            {
                version = Some(v.trim().trim_matches('"').to_owned());
            }
        }
    }
    let version = version.context("Cargo.toml has no [workspace.package] version")?;
    let manifest = read_json(&root.join("extension/manifest.json"))?;
    let ext = manifest["version"].as_str().context("extension/manifest.json has no version")?;
    ensure!(
        ext == version,
        "the extension is {ext} but the workspace is {version}: give both the release's version"
    );
    Ok(version)
}

/// `SOURCE_DATE_EPOCH` if set, else the last commit's time.
fn source_date_epoch(root: &Path) -> Result<u64> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        return v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number"));
    }
    let out = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(root)
        .output()
        .context("running git log (set SOURCE_DATE_EPOCH outside a git checkout)")?;
    ensure!(
        out.status.success(),
        "git log failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().with_context(|| format!("git log gave {text:?}, not a time"))
}

/// A release is reproducible from a commit only when the tree is that commit.
fn warn_if_dirty(root: &Path) {
    let status = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output();
    if let Ok(out) = status {
        let changed = String::from_utf8_lossy(&out.stdout).lines().count();
        if changed > 0 {
            println!(
                "xtask: WARNING: {changed} tracked files differ from the last commit: this release \
                 cannot be rebuilt from a commit (build releases from a clean checkout)"
            );
        }
    }
}

fn check_base_url(url: &str) -> Result<String> {
    let url = url.trim_end_matches('/');
    ensure!(
        url.starts_with("https://") && url.len() > "https://".len(),
        "--base-url {url:?}: browsers fetch a self-hosted extension over https only"
    );
    ensure!(
        !url.contains(['\'', '"', '<', '>', '&', ' ']),
        "--base-url {url:?}: quotes, angle brackets, '&' and spaces are not allowed"
    );
    Ok(url.to_owned())
}

/// The release key: `--key`, or ~/.config/gatehouse/release-key.pem (made once). Never the
/// committed test key, never a file inside the repository.
fn release_key(root: &Path, given: Option<&Path>) -> Result<PathBuf> {
    let key = match given {
        Some(k) => {
            ensure!(k.is_file(), "--key {}: no such file", k.display());
            k.to_path_buf()
        }
        None => {
            let home =
                std::env::var_os("HOME").context("HOME is not set: give the key with --key")?;
            let key = PathBuf::from(home).join(".config/gatehouse/release-key.pem");
            if !key.exists() {
                make_key(&key)?;
            }
            key
        }
    };
    let key = key.canonicalize().with_context(|| format!("resolving {}", key.display()))?;
    let root = root.canonicalize().context("resolving the repository root")?;
    ensure!(
        !key.starts_with(&root),
        "the release key {} is inside the repository: keep it outside (and never commit it)",
        key.display()
    );
    let test_key = public_key_der(&root.join(TEST_KEY))?;
    ensure!(
        public_key_der(&key)? != test_key,
        "{} is the test key (its private half is public in {TEST_KEY}): use a release key",
        key.display()
    );
    Ok(key)
}

fn make_key(key: &Path) -> Result<()> {
    let dir = key.parent().context("key path without a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut gen = Command::new("openssl");
    gen.args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"]).arg(key);
    step("make the release key", gen)?;
    set_mode(key, 0o600)?;
    println!(
        "xtask: NEW RELEASE KEY {} — it decides the extension id; back it up and keep it secret",
        key.display()
    );
    Ok(())
}

/// The SubjectPublicKeyInfo DER of a PEM private key (what CRX3 and the manifest `key` carry).
fn public_key_der(key: &Path) -> Result<Vec<u8>> {
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(key)
        .output()
        .context("running openssl (install it: apt-get install openssl)")?;
    ensure!(
        out.status.success(),
        "{} is not a private key openssl can read: {}",
        key.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(out.stdout)
}

fn is_extension_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

struct Binaries {
    wasm: PathBuf,
    linux_host: PathBuf,
    linux_cli: PathBuf,
    windows_host: PathBuf,
    windows_cli: PathBuf,
}

/// Release builds of the host and CLI (Linux, Windows) and the wasm engine, with the paths of
/// this machine remapped out of them.
fn build_binaries(root: &Path, target_dir: &Path, epoch: u64) -> Result<Binaries> {
    ensure_windows_toolchain()?;
    tools::ensure_target("wasm32-unknown-unknown")?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let remap = format!(
        "--remap-path-prefix={}=/gatehouse --remap-path-prefix={}=/target --remap-path-prefix={}=/cargo",
        root.display(),
        target_dir.display(),
        cargo_home.display()
    );
    let env = |c: &mut Command| {
        c.env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env(
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
                format!("{remap} -Cstrip=symbols"),
            )
            // GNU ld stamps PE files with the link time unless told not to.
            .env(
                "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS",
                format!("{remap} -Cstrip=symbols -Clink-arg=-Wl,--no-insert-timestamp"),
            )
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", &remap);
    };
    let target_dir_arg = target_dir.to_string_lossy().into_owned();
    let mut args = vec!["build", "--release", "--locked", "-p", "gatehouse-host"];
    // The CLI `gatehouse` lives in its own crate once admin/ exists (the desktop host carries
    // no signing code), in gatehouse-host before that.
    if root.join("admin/Cargo.toml").exists() {
        args.extend(["-p", "gatehouse-admin"]);
    }
    args.extend([
        "--bins",
        "--target",
        LINUX,
        "--target",
        WINDOWS,
        "--target-dir",
        &target_dir_arg,
    ]);
    let mut native = crate::cargo(&args);
    env(&mut native);
    step("release build: host and CLI for Linux and Windows x86_64", native)?;
    let mut wasm = crate::cargo(&[
        "build",
        "--locked",
        "-p",
        "gatehouse-core",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm",
        "--target-dir",
        &target_dir_arg,
    ]);
    env(&mut wasm);
    step("release build: wasm engine", wasm)?;
    let bin = |target: &str, name: &str| target_dir.join(target).join("release").join(name);
    Ok(Binaries {
        wasm: target_dir.join("wasm32-unknown-unknown/wasm/gatehouse_core.wasm"),
        linux_host: bin(LINUX, "gatehouse-host"),
        linux_cli: bin(LINUX, "gatehouse"),
        windows_host: bin(WINDOWS, "gatehouse-host.exe"),
        windows_cli: bin(WINDOWS, "gatehouse.exe"),
    })
}

/// The Windows GNU target, Debian's mingw-w64 (linker, windmc, windres) and wixl/msitools.
fn ensure_windows_toolchain() -> Result<()> {
    tools::ensure_target(WINDOWS)?;
    let have = |p: &str| Path::new(p).exists();
    if [
        "/usr/bin/x86_64-w64-mingw32-gcc",
        "/usr/bin/x86_64-w64-mingw32-windmc",
        "/usr/bin/wixl",
        "/usr/bin/msiinfo",
        "/usr/bin/dpkg-deb",
    ]
    .iter()
    .all(|p| have(p))
    {
        return Ok(());
    }
    tools::apt_install(&["mingw-w64", "msitools", "wixl", "dpkg"])
}

fn wasm_bindgen(root: &Path, wasm: &Path, out: &Path) -> Result<()> {
    let wasm_bindgen = tools::ensure_wasm_bindgen(root)?;
    let mut bindgen = Command::new(wasm_bindgen);
    bindgen
        .args(["--target", "web", "--out-name", "gatehouse_core", "--no-typescript", "--out-dir"])
        .arg(out)
        .arg(wasm);
    step("wasm-bindgen (release)", bindgen)
}

/// A copy of the extension sources with the release wasm and first-run rules for `id`;
/// `key` is the manifest `key` (self-hosted) or none (a store assigns its own).
fn stage_extension(
    root: &Path,
    wasm: &Path,
    dir: &Path,
    id: &str,
    key: Option<&str>,
) -> Result<PathBuf> {
    let src = root.join("extension");
    for rel in walk(&src)? {
        let first = rel.split('/').next().unwrap_or_default();
        // Build outputs of `cargo xtask build` (replaced below), the test id, developer notes,
        // Chrome's own files.
        if matches!(first, "wasm" | "_metadata" | "EXTENSION_ID" | "README.md")
            || rel == "rules/bootstrap.json"
            || (rel.starts_with("rules/broad_") && rel.ends_with(".json"))
            || rel == "broad.txt"
            || rel.ends_with(".DS_Store")
        {
            continue;
        }
        copy(&src.join(&rel), &dir.join(&rel), 0o644)?;
    }
    for rel in walk(wasm)? {
        copy(&wasm.join(&rel), &dir.join("wasm").join(&rel), 0o644)?;
    }
    for (name, text) in crate::static_rule_files(&format!("chrome-extension://{id}/block.html"))? {
        write(&dir.join(name), &text)?;
    }
    let mut manifest = read_json(&src.join("manifest.json"))?;
    let fields = manifest.as_object_mut().context("extension/manifest.json is not an object")?;
    match key {
        Some(k) => fields.insert("key".into(), k.into()),
        None => fields.remove("key"),
    };
    write(
        &dir.join("manifest.json"),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    Ok(dir.to_path_buf())
}

/// A zip of `dir`: entries sorted, deflated, all dated `epoch`, mode 0644, no extra fields.
fn zip_dir(dir: &Path, epoch: u64) -> Result<Vec<u8>> {
    let (time, date) = dos_time(epoch);
    let mut out = Vec::new();
    let mut central = Vec::new();
    let entries = walk(dir)?;
    ensure!(entries.len() < 0xffff, "too many files for a zip without zip64");
    for name in &entries {
        let data = std::fs::read(dir.join(name)).with_context(|| format!("reading {name}"))?;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&data)?;
        let packed = enc.finish()?;
        let crc = crc32fast::hash(&data);
        let offset = u32::try_from(out.len()).context("zip over 4 GiB")?;
        let (size, packed_size) = (u32::try_from(data.len())?, u32::try_from(packed.len())?);
        let name_len = u16::try_from(name.len())?;
        // Local file header (APPNOTE 4.3.7).
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20u16, 0, 8, time, date] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, packed_size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&packed);
        // Central directory header (4.3.12): made by Unix (3), mode 0100644.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [0x0314u16, 20, 0, 8, time, date] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, packed_size, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len())?;
    let cd_size = u32::try_from(central.len())?;
    out.extend_from_slice(&central);
    let count = u16::try_from(entries.len())?;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, count, count] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

/// MS-DOS time and date of a Unix time (UTC), clamped to the format's 1980–2107 range.
fn dos_time(epoch: u64) -> (u16, u16) {
    let epoch = i64::try_from(epoch.max(315_532_800)).unwrap_or(i64::MAX); // 1980-01-01
    let t = time::OffsetDateTime::from_unix_timestamp(epoch)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let clock =
        (u16::from(t.hour()) << 11) | (u16::from(t.minute()) << 5) | u16::from(t.second() / 2);
    let year = u16::try_from((t.year() - 1980).clamp(0, 127)).unwrap_or(0);
    let date = (year << 9) | (u16::from(u8::from(t.month())) << 5) | u16::from(t.day());
    (clock, date)
}

/// A CRX3 file: magic, version 3, the header (the RSA proof and the crx id), the zip.
/// <https://chromium.googlesource.com/chromium/src/+/main/components/crx_file/crx3.proto>
fn crx3(archive: &[u8], public_der: &[u8], key: &Path, stage: &Path) -> Result<Vec<u8>> {
    let crx_id = &Sha256::digest(public_der)[..16];
    let signed_data = proto_bytes(1, crx_id); // SignedData { crx_id = 1 }
    let mut message = b"CRX3 SignedData\x00".to_vec();
    message.extend_from_slice(&u32::try_from(signed_data.len())?.to_le_bytes());
    message.extend_from_slice(&signed_data);
    message.extend_from_slice(archive);
    let to_sign = stage.join("crx-signed-data");
    write(&to_sign, &message)?;
    let signature = stage.join("crx-signature");
    let mut sign = Command::new("openssl");
    sign.args(["dgst", "-sha256", "-sign"]).arg(key).arg("-out").arg(&signature).arg(&to_sign);
    step("sign the CRX3 (RSA PKCS #1 v1.5, SHA-256)", sign)?;
    let signature = std::fs::read(&signature).context("reading the signature")?;
    // AsymmetricKeyProof { public_key = 1, signature = 2 }
    let mut proof = proto_bytes(1, public_der);
    proof.extend(proto_bytes(2, &signature));
    // CrxFileHeader { sha256_with_rsa = 2, signed_header_data = 10000 }
    let mut header = proto_bytes(2, &proof);
    header.extend(proto_bytes(10_000, &signed_data));
    let mut crx = b"Cr24".to_vec();
    crx.extend_from_slice(&3u32.to_le_bytes());
    crx.extend_from_slice(&u32::try_from(header.len())?.to_le_bytes());
    crx.extend_from_slice(&header);
    crx.extend_from_slice(archive);
    Ok(crx)
}

/// A length-delimited protobuf field.
fn proto_bytes(field: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(&mut out, field << 3 | 2);
    varint(&mut out, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn updates_xml(id: &str, codebase: &str, version: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n\
         <gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>\n  \
         <app appid='{id}'>\n    \
         <updatecheck codebase='{codebase}' version='{version}' />\n  \
         </app>\n\
         </gupdate>\n"
    )
}

/// The Event Log message file: a resource-only DLL whose message 1000 is "%1", so Event Viewer
/// shows the host's audit line as it is instead of "the description … cannot be found".
fn message_dll(dir: &Path) -> Result<PathBuf> {
    mkdir(dir)?;
    write(
        &dir.join("gatehouse-messages.mc"),
        format!(
            "MessageIdTypedef=DWORD\r\nLanguageNames=(English=0x409:MSG00409)\r\n\
             MessageId={EVENT_ID}\r\nSymbolicName=GATEHOUSE_AUDIT\r\nLanguage=English\r\n%1\r\n.\r\n"
        )
        .as_bytes(),
    )?;
    let mut mc = Command::new("x86_64-w64-mingw32-windmc");
    mc.args(["-U", "gatehouse-messages.mc"]).current_dir(dir);
    step("Event Log message table (windmc)", mc)?;
    let mut rc = Command::new("x86_64-w64-mingw32-windres");
    rc.args(["-i", "gatehouse-messages.rc", "-o", "gatehouse-messages.o"]).current_dir(dir);
    step("Event Log message resource (windres)", rc)?;
    let mut link = Command::new("x86_64-w64-mingw32-gcc");
    link.args([
        "-shared",
        "-nostdlib",
        "-s",
        "-Wl,--no-insert-timestamp",
        "-Wl,-e,0",
        "-o",
        "gatehouse-messages.dll",
        "gatehouse-messages.o",
    ])
    .current_dir(dir);
    step("Event Log message file (resource-only DLL)", link)?;
    Ok(dir.join("gatehouse-messages.dll"))
}

/// A GUID from a hash, in the registry's upper-case form (RFC 9562 version 8 layout).
fn guid(seed: &[u8]) -> String {
    let h = Sha256::digest(seed);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The MSI: the host, the CLI, its manifest (path relative to itself), the native-messaging
/// registrations under HKLM for Chrome, Edge and Chromium, and the Event Log source. Returns
/// the product code.
fn build_msi(
    dir: &Path,
    bins: &Binaries,
    messages: &Path,
    id: &str,
    version: &str,
    epoch: u64,
    msi: &Path,
) -> Result<String> {
    mkdir(dir)?;
    copy(&bins.windows_host, &dir.join("gatehouse-host.exe"), 0o755)?;
    copy(&bins.windows_cli, &dir.join("gatehouse.exe"), 0o755)?;
    copy(messages, &dir.join("gatehouse-messages.dll"), 0o644)?;
    // On Windows a manifest's path may be relative to the manifest's own folder.
    let manifest = serde_json::json!({
        "name": HOST_NAME,
        "description": "Gatehouse native host: identity, network facts, approvals, audit",
        "path": "gatehouse-host.exe",
        "type": "stdio",
        "allowed_origins": [format!("chrome-extension://{id}/")],
    });
    write(
        &dir.join(format!("{HOST_NAME}.json")),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    let product_code = guid(format!("gatehouse product {version}").as_bytes());
    let wxs = wxs(&product_code, version);
    write(&dir.join("gatehouse.wxs"), wxs.as_bytes())?;
    set_mtimes(dir, epoch)?;
    let built = dir.join("gatehouse.msi");
    let mut wixl = Command::new("wixl");
    wixl.args(["-a", "x64", "-o"]).arg(&built).arg("gatehouse.wxs").current_dir(dir);
    step("MSI (wixl)", wixl)?;
    // wixl stamps the summary with the clock and a random package code: set both from the inputs.
    let mut seed = wxs.into_bytes();
    for f in ["gatehouse-host.exe", "gatehouse.exe", "gatehouse-messages.dll"] {
        seed.extend_from_slice(&Sha256::digest(std::fs::read(dir.join(f))?));
    }
    let bytes = std::fs::read(&built).context("reading the MSI wixl wrote")?;
    let fixed = fix_msi_summary(&built, bytes, &format!("{{{}}}", guid(&seed)), epoch)?;
    write(msi, &fixed)?;
    Ok(format!("{{{product_code}}}"))
}

fn wxs(product_code: &str, version: &str) -> String {
    // wixl takes sources relative to the folder it runs in (an absolute one is refused).
    let src = |f: &str| xml_escape(f);
    let native = |root: &str| {
        format!(
            "          <RegistryValue Root=\"HKLM\" Key=\"{root}\\NativeMessagingHosts\\{HOST_NAME}\" \
             Type=\"string\" Value=\"[#NativeManifest]\" />\n"
        )
    };
    let log_key =
        format!("SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\{EVENT_SOURCE}");
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by cargo xtask dist (xtask/src/dist.rs). -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="{product_code}" Name="Gatehouse" Language="1033" Version="{version}"
           Manufacturer="Gatehouse" UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="Gatehouse native host {version}" Comments="Native-messaging host and admin CLI for the Gatehouse extension" />
    <Media Id="1" Cabinet="gatehouse.cab" EmbedCab="yes" />
    <MajorUpgrade DowngradeErrorMessage="A newer Gatehouse is already installed." />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Gatehouse">
          <Component Id="Host" Guid="{COMPONENT_HOST}" Win64="yes">
            <File Id="HostExe" Name="gatehouse-host.exe" Source="{host}" KeyPath="yes" />
            <File Id="CliExe" Name="gatehouse.exe" Source="{cli}" />
            <File Id="NativeManifest" Name="{HOST_NAME}.json" Source="{manifest}" />
          </Component>
          <Component Id="NativeMessaging" Guid="{COMPONENT_REGISTRY}" Win64="yes">
{chrome}{edge}{chromium}          </Component>
          <Component Id="EventLog" Guid="{COMPONENT_EVENTLOG}" Win64="yes">
            <File Id="Messages" Name="gatehouse-messages.dll" Source="{messages}" KeyPath="yes" />
            <RegistryValue Root="HKLM" Key="{log_key}" Name="EventMessageFile" Type="string" Value="[#Messages]" />
            <RegistryValue Root="HKLM" Key="{log_key}" Name="TypesSupported" Type="integer" Value="7" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Gatehouse" Title="Gatehouse native host" Level="1">
      <ComponentRef Id="Host" />
      <ComponentRef Id="NativeMessaging" />
      <ComponentRef Id="EventLog" />
    </Feature>
  </Product>
</Wix>
"#,
        host = src("gatehouse-host.exe"),
        cli = src("gatehouse.exe"),
        manifest = src(&format!("{HOST_NAME}.json")),
        messages = src("gatehouse-messages.dll"),
        chrome = native("SOFTWARE\\Google\\Chrome"),
        edge = native("SOFTWARE\\Microsoft\\Edge"),
        chromium = native("SOFTWARE\\Chromium"),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Replaces the package code (revision number) and the two FILETIMEs (created, last saved) in
/// the MSI's summary information, in place, and checks the result with `msiinfo suminfo`.
fn fix_msi_summary(
    msi: &Path,
    mut bytes: Vec<u8>,
    package_code: &str,
    epoch: u64,
) -> Result<Vec<u8>> {
    let summary = msiinfo(&["suminfo"], msi)?;
    let old = summary
        .lines()
        .find_map(|l| l.strip_prefix("Revision number (UUID): "))
        .context("msiinfo suminfo shows no revision number")?
        .trim()
        .to_owned();
    ensure!(old.len() == package_code.len(), "unexpected package code {old:?}");
    let at = find_all(&bytes, old.as_bytes());
    ensure!(at.len() == 1, "the package code {old} occurs {} times in the MSI", at.len());
    bytes[at[0]..at[0] + old.len()].copy_from_slice(package_code.as_bytes());
    // VT_FILETIME (0x40) properties within two days of now: wixl's clock stamps.
    let to_filetime = |unix: u64| (unix + 11_644_473_600) * 10_000_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let window = to_filetime(now.saturating_sub(172_800))..to_filetime(now + 172_800);
    let stamps: Vec<usize> = find_all(&bytes, &[0x40, 0, 0, 0])
        .into_iter()
        .filter(|&i| {
            bytes.get(i + 4..i + 12).is_some_and(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                window.contains(&u64::from_le_bytes(a))
            })
        })
        .collect();
    ensure!(
        stamps.len() == 2,
        "expected 2 clock stamps in the MSI summary, found {}",
        stamps.len()
    );
    for i in stamps {
        bytes[i + 4..i + 12].copy_from_slice(&to_filetime(epoch).to_le_bytes());
    }
    write(msi, &bytes)?;
    let check = msiinfo(&["suminfo"], msi)?;
    ensure!(check.contains(package_code), "the package code did not take:\n{check}");
    Ok(bytes)
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

fn msiinfo(args: &[&str], msi: &Path) -> Result<String> {
    let out = Command::new("msiinfo")
        .args(args)
        .arg(msi)
        .output()
        .context("running msiinfo (apt-get install msitools)")?;
    ensure!(out.status.success(), "msiinfo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The .deb: the host in /usr/lib/gatehouse, the CLI in /usr/bin, the registrations for Chrome,
/// Chromium and Edge (written by the release CLI's own `install-host`), the policy templates and
/// the example policy, built with `dpkg-deb` from a tree with fixed mtimes, owned by root.
fn build_deb(
    root: &Path,
    tree: &Path,
    out: &Path,
    id: &str,
    version: &str,
    epoch: u64,
    deb: &Path,
) -> Result<()> {
    mkdir(tree)?;
    copy(
        &out.join("linux-x86_64/gatehouse-host"),
        &tree.join("usr/lib/gatehouse/gatehouse-host"),
        0o755,
    )?;
    copy(&out.join("linux-x86_64/gatehouse"), &tree.join("usr/bin/gatehouse"), 0o755)?;
    let mut register = Command::new(out.join("linux-x86_64/gatehouse"));
    register
        .args(["install-host", "--scope", "system", "--browser", "all", "--extension-id", id])
        .args(["--host-path", "/usr/lib/gatehouse/gatehouse-host", "--root"])
        .arg(tree);
    step("native-messaging registrations for the .deb (install-host --root)", register)?;
    let policy = out.join("policy");
    for rel in walk(&policy)? {
        copy(&policy.join(&rel), &tree.join("usr/share/gatehouse/policy").join(&rel), 0o644)?;
    }
    let doc = tree.join("usr/share/doc/gatehouse");
    copy(
        &root.join("manifests/examples/department.json"),
        &doc.join("examples/department.json"),
        0o644,
    )?;
    for (src, name) in
        [("docs/admin-guide.md", "admin-guide.md"), ("docs/threat-model.md", "threat-model.md")]
    {
        if root.join(src).exists() {
            copy(&root.join(src), &doc.join(name), 0o644)?;
        }
    }
    write(
        &doc.join("copyright"),
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
          Upstream-Name: gatehouse\n\n\
          Files: *\nCopyright: Gatehouse contributors\nLicense: Apache-2.0\n \
          On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.\n",
    )?;
    let mut conffiles = String::new();
    let mut installed = 0u64;
    for rel in walk(tree)? {
        installed += std::fs::metadata(tree.join(&rel))?.len().div_ceil(1024);
        if rel.starts_with("etc/") {
            conffiles.push_str(&format!("/{rel}\n"));
        }
    }
    let md5 = md5sums(tree)?;
    let control = format!(
        "Package: gatehouse\n\
         Version: {version}\n\
         Architecture: amd64\n\
         Maintainer: Gatehouse maintainers <gatehouse@example.invalid>\n\
         Installed-Size: {installed}\n\
         Depends: libc6 (>= 2.34), libgcc-s1\n\
         Section: admin\n\
         Priority: optional\n\
         Description: Gatehouse native-messaging host and admin CLI\n \
         Gatehouse keeps personal webmail, cloud storage and web messaging closed on\n \
         desktops on the internal network unless management has approved them, inside\n \
         Chrome and Edge. This package installs the native host (identity, network\n \
         facts, approvals, audit to syslog), registers it machine-wide for Chrome,\n \
         Chromium and Edge for extension {id}, and ships the\n \
         gatehouse CLI and policy templates (/usr/share/gatehouse/policy).\n"
    );
    let debian = tree.join("DEBIAN");
    write(&debian.join("control"), control.as_bytes())?;
    write(&debian.join("conffiles"), conffiles.as_bytes())?;
    write(&debian.join("md5sums"), md5.as_bytes())?;
    set_mode(&debian, 0o755)?;
    set_mtimes(tree, epoch)?;
    let mut build = Command::new("dpkg-deb");
    build
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(tree)
        .arg(deb)
        .env("SOURCE_DATE_EPOCH", epoch.to_string());
    step(".deb (dpkg-deb)", build)
}

fn md5sums(tree: &Path) -> Result<String> {
    let files: Vec<String> = walk(tree)?.into_iter().filter(|r| !r.starts_with("etc/")).collect();
    let out =
        Command::new("md5sum").args(&files).current_dir(tree).output().context("running md5sum")?;
    ensure!(out.status.success(), "md5sum failed");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn release_notes(
    version: &str,
    id: &str,
    public_der: &[u8],
    base_url: &str,
    crx: &str,
    product_code: &str,
    args: &DistArgs,
) -> String {
    let fingerprint: String =
        Sha256::digest(public_der).iter().map(|b| format!("{b:02x}")).collect();
    let store = |name: &str, given: &Option<String>| match given {
        Some(s) => format!("built for the listing's id `{s}`"),
        None => format!(
            "first-run rules point at `{id}`: once {name} has given the listing its id, rebuild \
             with `--{}` so the rules of the first seconds after install name the right block page",
            if name.starts_with("Edge") { "edge-store-id" } else { "store-id" }
        ),
    };
    format!(
        "# Gatehouse {version}\n\n\
         Built by `cargo xtask dist` (reproducible: the same commit, key and base URL give the same bytes).\n\n\
         - Extension id (self-hosted): `{id}`\n\
         - Release key: SHA-256 of its public key `{fingerprint}`\n\
         - Update URL for the policy: `{base_url}/updates.xml` (serves `{crx}`)\n\
         - MSI product code (detection rules, `msiexec /x`): `{product_code}`\n\n\
         | file | what |\n|---|---|\n\
         | `{crx}` | the extension, CRX3 signed with the release key: publish beside `updates.xml` |\n\
         | `updates.xml` | the update manifest the force-install policy names |\n\
         | `store/gatehouse-{version}-chrome-web-store.zip` | for a private Chrome Web Store listing (no `key`); {cws} |\n\
         | `store/gatehouse-{version}-edge-addons.zip` | for a private Edge Add-ons listing (no `key`); {edge} |\n\
         | `gatehouse-{version}-x64.msi` | Windows: host and CLI in Program Files\\Gatehouse, registered under HKLM for Chrome, Edge and Chromium; Event Log source `Gatehouse` |\n\
         | `gatehouse_{version}_amd64.deb` | Debian/Ubuntu: host, CLI, registrations for Chrome, Chromium and Edge, templates in /usr/share/gatehouse/policy |\n\
         | `linux-x86_64/`, `windows-x86_64/` | the host and CLI on their own |\n\
         | `policy/` | group-policy templates (ADMX/ADML, .reg, JSON, .mobileconfig) for this id and update URL, from the example policy: edit the policy and regenerate with `gatehouse policy-templates` |\n\
         | `SHA256SUMS` | `sha256sum -c SHA256SUMS` |\n\n\
         The administrator's guide: docs/admin-guide.md (in the .deb: /usr/share/doc/gatehouse/admin-guide.md).\n",
        cws = store("the Chrome Web Store", &args.store_id),
        edge = store("Edge Add-ons", &args.edge_store_id),
    )
}

/// `sha256sum` format over every file but SHA256SUMS itself, sorted by path.
fn checksums(out: &Path) -> Result<String> {
    let mut sums = String::new();
    for rel in walk(out)? {
        if rel == "SHA256SUMS" {
            continue;
        }
        let digest = Sha256::digest(std::fs::read(out.join(&rel))?);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        sums.push_str(&format!("{hex}  {rel}\n"));
    }
    Ok(sums)
}

/// Both release folders must be byte-identical, file for file.
fn compare(a: &Path, b: &Path) -> Result<()> {
    let (fa, fb) = (walk(a)?, walk(b)?);
    ensure!(fa == fb, "the two release folders list different files:\n{fa:?}\n{fb:?}");
    let mut differ = Vec::new();
    for rel in &fa {
        if std::fs::read(a.join(rel))? != std::fs::read(b.join(rel))? {
            differ.push(rel.clone());
        }
    }
    if !differ.is_empty() {
        bail!(
            "not reproducible: {} differ between {} and {}",
            differ.join(", "),
            a.display(),
            b.display()
        );
    }
    println!("xtask: reproducible: {} files byte-identical across two builds", fa.len());
    Ok(())
}

fn files_with_sizes(dir: &Path) -> Result<BTreeMap<String, u64>> {
    walk(dir)?
        .into_iter()
        .map(|rel| Ok((rel.clone(), std::fs::metadata(dir.join(&rel))?.len())))
        .collect()
}

/// Every file under `dir`, as sorted `/`-separated relative paths.
fn walk(dir: &Path) -> Result<Vec<String>> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                go(base, &path, out)?;
            } else {
                let rel = path.strip_prefix(base)?.to_string_lossy().replace('\\', "/");
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Sets every file's and folder's mtime under `dir` (and its own) to `epoch`.
fn set_mtimes(dir: &Path, epoch: u64) -> Result<()> {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    fn go(path: &Path, time: std::time::SystemTime) -> Result<()> {
        if path.is_dir() {
            for entry in std::fs::read_dir(path)? {
                go(&entry?.path(), time)?;
            }
        }
        std::fs::File::open(path)
            .and_then(|f| f.set_modified(time))
            .with_context(|| format!("setting the mtime of {}", path.display()))
    }
    go(dir, time)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    set_mode(dir, 0o755)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        mkdir(parent)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    set_mode(path, 0o644)
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    write(to, &bytes)?;
    set_mode(to, mode)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_time_of_a_known_instant() {
        // 2026-11-30 15:04:36 UTC
        let (time, date) = dos_time(1796051076);
        assert_eq!(date >> 9, 2026 - 1980);
        assert_eq!((date >> 5) & 0xf, 11);
        assert_eq!(date & 0x1f, 30);
        assert_eq!(time >> 11, 15);
        assert_eq!((time >> 5) & 0x3f, 4);
        assert_eq!((time & 0x1f) * 2, 36);
    }

    #[test]
    fn protobuf_field_10000_has_a_three_byte_key() {
        let f = proto_bytes(10_000, b"x");
        assert_eq!(f, vec![0x82, 0xf1, 0x04, 1, b'x']);
    }

    #[test]
    fn guids_are_stable_and_well_formed() {
        let g = guid(b"gatehouse product 0.1.0");
        assert_eq!(g, guid(b"gatehouse product 0.1.0"));
        assert_ne!(g, guid(b"gatehouse product 0.1.1"));
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "8");
    }

    #[test]
    fn base_url_must_be_https() {
        assert!(check_base_url("http://intranet.example/gatehouse").is_err());
        assert_eq!(
            check_base_url("https://intranet.example/g/").unwrap(),
            "https://intranet.example/g"
        );
        assert!(check_base_url("https://x/'onload").is_err());
    }
}
