//! `cargo xtask`: the one place that knows how Gatehouse is built, tested, demonstrated and measured.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};

mod ad;
mod broad;
mod dist;
mod tools;

#[derive(Parser)]
#[command(about = "Gatehouse build, test, demo and benchmark tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the native host, the admin CLI, the approval desk, the wasm engine and the extension
    /// (bootstrap rules included).
    Build,
    /// Every check and test: fmt, clippy, Rust tests, the wasm build under Node, the browser.
    Test {
        /// Skip the end-to-end tests in Chromium (for quick local iterations only; CI runs all).
        #[arg(long)]
        no_browser: bool,
    },
    /// Build everything and show Gatehouse working on the embedded default policy, then the
    /// approval desk on SQLite: one request → approve → access round trip, with screenshots
    /// (target/demo/).
    Demo,
    /// Benchmarks: criterion (native) and the Node harness (wasm).
    Bench,
    /// The release folder an administrator rolls out: CRX3 + updates.xml, store zips, MSI,
    /// .deb, host and CLI for Linux and Windows, policy templates, SHA256SUMS (target/dist/).
    Dist(dist::DistArgs),
    /// Refresh the broad tier (wasm-core/catalogue/broad.txt) from its sources and report what
    /// changed: added, removed, newly conflicting with the top-10k list.
    Broad(broad::BroadArgs),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    match Cli::parse().task {
        Task::Build => build(&root).map(drop),
        Task::Test { no_browser } => test(&root, !no_browser),
        Task::Demo => demo(&root),
        Task::Bench => bench(&root),
        Task::Dist(args) => dist::dist(&root, &args).map(drop),
        Task::Broad(args) => broad::broad(&root, &args),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).context("xtask has no parent directory")
}

/// What `build` produced, for the tasks that use it.
struct Built {
    extension: PathBuf,
    /// The product host: no test hooks, no `GATEHOUSE_*` string (checked); a copy in
    /// target/product.
    host_bin: PathBuf,
    /// The host built with `--features test-hooks` (obeys `GATEHOUSE_*` overrides), in its own
    /// target dir so the two builds do not replace each other: what the browser and AD suites
    /// point at their scenario folders.
    test_host_bin: PathBuf,
    cli_bin: PathBuf,
    /// The approval desk, run by the browser tests against the real service (desk.test.mjs).
    approval_bin: PathBuf,
}

fn build(root: &Path) -> Result<Built> {
    tools::ensure_target("wasm32-unknown-unknown")?;
    let wasm_bindgen = tools::ensure_wasm_bindgen(root)?;
    step(
        "desktop host and admin CLI",
        cargo(&["build", "-p", "gatehouse-host", "-p", "gatehouse-admin", "--bins"]),
    )?;
    // target/debug/gatehouse-host is replaced by any `cargo test` (the tests enable the hooks);
    // the browser suites get a copy, checked, that nothing else writes.
    let host_bin = root.join("target/product/gatehouse-host");
    std::fs::create_dir_all(root.join("target/product"))?;
    std::fs::copy(root.join("target/debug/gatehouse-host"), &host_bin)
        .context("copying the product host to target/product")?;
    check_product_host(&host_bin)?;
    check_no_signing_code(&host_bin, &root.join("target/debug/gatehouse"))?;
    // The desk builds against MIT krb5 (libgssapi).
    tools::ensure_approval_desk_packages()?;
    step(
        "approval desk",
        cargo(&["build", "-p", "gatehouse-approval", "--bin", "gatehouse-approval"]),
    )?;
    step(
        "native host with test hooks (for the browser tests)",
        cargo(&[
            "build",
            "-p",
            "gatehouse-host",
            "--bin",
            "gatehouse-host",
            "--features",
            "test-hooks",
            "--target-dir",
            "target/test-hooks",
        ]),
    )?;
    step(
        "wasm engine",
        cargo(&[
            "build",
            "-p",
            "gatehouse-core",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm",
        ]),
    )?;
    let extension = root.join("extension");
    let wasm = root.join("target/wasm32-unknown-unknown/wasm/gatehouse_core.wasm");
    let out = extension.join("wasm");
    let mut bindgen = Command::new(wasm_bindgen);
    bindgen
        .args(["--target", "web", "--out-name", "gatehouse_core", "--no-typescript"])
        // Function names and the producers note are for debuggers: 23 KB of the gzipped module.
        .args(["--remove-name-section", "--remove-producers-section", "--out-dir"])
        .arg(&out)
        .arg(&wasm);
    step("wasm-bindgen", bindgen)?;
    write_bootstrap_rules(&extension)?;
    Ok(Built {
        extension,
        host_bin,
        test_host_bin: root.join("target/test-hooks/debug/gatehouse-host"),
        cli_bin: root.join("target/debug/gatehouse"),
        approval_bin: root.join("target/debug/gatehouse-approval"),
    })
}

/// The product host must neither obey nor even name the test hooks' `GATEHOUSE_*` environment
/// variables (issue 9, finding 2: the browser's environment is the user's). The feature is off
/// in the release profile exactly as here, so the debug binary stands for both.
fn check_product_host(bin: &Path) -> Result<()> {
    let bytes = std::fs::read(bin).with_context(|| format!("reading {}", bin.display()))?;
    let needle = b"GATEHOUSE_";
    if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
        bail!(
            "{} contains \"GATEHOUSE_\" at byte {at}: the product host must not read environment \
             overrides (they belong behind the test-hooks feature)",
            bin.display()
        );
    }
    println!("xtask: product host: no GATEHOUSE_ string in its {} bytes", bytes.len());
    Ok(())
}

/// The desktop host must carry no signing code (issue 10, item 4): no function of
/// `ed25519_dalek`'s `SigningKey` in its symbol table, while the admin CLI, built in the same
/// step, has them (so the check can see what it looks for). Debug info may still name the type:
/// that is the verifier's crate describing itself, not code.
fn check_no_signing_code(host: &Path, cli: &Path) -> Result<()> {
    let signing_symbols = |bin: &Path| -> Result<usize> {
        let out = Command::new("nm")
            .arg(bin)
            .output()
            .with_context(|| format!("running nm on {} (binutils)", bin.display()))?;
        if !out.status.success() {
            bail!("nm {} failed: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("SigningKey"))
            .count())
    };
    let in_cli = signing_symbols(cli)?;
    if in_cli == 0 {
        bail!("{} has no SigningKey symbol: the check cannot see signing code", cli.display());
    }
    let in_host = signing_symbols(host)?;
    if in_host > 0 {
        bail!(
            "{} has {in_host} SigningKey symbols: the desktop host must not sign (signing belongs \
             to gatehouse-admin)",
            host.display()
        );
    }
    println!(
        "xtask: desktop host: no signing code (the admin CLI has {in_cli} SigningKey symbols)"
    );
    Ok(())
}

/// The desktop host's dependency tree, for every target: no admin crate, and `ed25519-dalek`
/// only through `gatehouse-core` (the verifier).
fn check_host_dependencies() -> Result<()> {
    let tree = |args: &[&str]| -> Result<Vec<String>> {
        let mut command =
            cargo(&["tree", "-p", "gatehouse-host", "-e", "normal", "--target", "all"]);
        let out = command.args(args).output().context("running cargo tree")?;
        if !out.status.success() {
            bail!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
    };
    let all = tree(&["--prefix", "none"])?;
    if let Some(admin) = all.iter().find(|l| l.starts_with("gatehouse-admin")) {
        bail!(
            "gatehouse-host depends on {admin}: the desktop host must not include the admin side"
        );
    }
    let dalek = tree(&["--prefix", "none", "--depth", "1", "-i", "ed25519-dalek"])?;
    let users: Vec<&String> = dalek.iter().skip(1).filter(|l| !l.trim().is_empty()).collect();
    if users.is_empty() || users.iter().any(|l| !l.starts_with("gatehouse-core")) {
        bail!("ed25519-dalek reaches gatehouse-host through {users:?}, not only gatehouse-core");
    }
    println!(
        "xtask: desktop host: {} crates, no gatehouse-admin; ed25519-dalek only via gatehouse-core",
        all.len()
    );
    Ok(())
}

/// The static ruleset the extension enables from install: the catalogue under the default policy,
/// redirecting to this extension's block page (its id follows from the manifest `key`).
fn write_bootstrap_rules(extension: &Path) -> Result<()> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(extension.join("manifest.json"))
            .context("reading extension/manifest.json")?,
    )
    .context("extension/manifest.json is not JSON")?;
    let key = manifest["key"].as_str().context("extension/manifest.json has no \"key\"")?;
    let id = tools::extension_id(key)?;
    let block_page = format!("chrome-extension://{id}/block.html");
    let dir = extension.join("rules");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in static_rule_files(&block_page)? {
        println!("xtask: {name}: {} bytes for extension {id}", text.len());
        std::fs::write(extension.join(&name), text)?;
    }
    Ok(())
}

/// Every static ruleset file (`rules/bootstrap.json`, `rules/broad_<category>.json`) and the
/// broad-tier data file (`broad.txt`), by path inside the extension — deterministic for one
/// block page URL. Fails when the catalogue's regex rules pass `REGEX_BUDGET`: Chrome allows
/// 1,000 per extension and a department's own rules need the rest.
pub(crate) fn static_rule_files(block_page: &str) -> Result<Vec<(String, Vec<u8>)>> {
    // Rules are written pretty-printed, one key per line: count the `regexFilter` keys.
    let regexes = |text: &[u8]| text.windows(13).filter(|w| w == b"\"regexFilter\"").count();
    let bootstrap = serde_json::to_string_pretty(&gatehouse_core::bootstrap_rules(block_page))?;
    let mut files = vec![("rules/bootstrap.json".to_owned(), (bootstrap + "\n").into_bytes())];
    for (category, ..) in gatehouse_core::BUILTIN_CATEGORIES {
        let rules = gatehouse_core::broad_rules(category, block_page);
        if rules.is_empty() {
            bail!("the broad tier has no rules for {category}");
        }
        let id = gatehouse_core::broad_ruleset_id(category);
        let text = serde_json::to_string_pretty(&rules)? + "\n";
        files.push((format!("rules/{id}.json"), text.into_bytes()));
    }
    let mut total: usize = files.iter().map(|(_, text)| regexes(text)).sum();
    let policy = gatehouse_core::Policy::embedded_default();
    let dynamic = gatehouse_core::compile_rules(&policy, &Default::default(), block_page);
    total += dynamic.stats.regex_rules;
    if total > gatehouse_core::REGEX_BUDGET {
        bail!(
            "the catalogue compiles to {total} regex rules (static and dynamic), over the budget \
             of {} (Chrome allows 1,000 per extension; policies need the rest)",
            gatehouse_core::REGEX_BUDGET
        );
    }
    println!("xtask: regex rules: {total} of the budget of {}", gatehouse_core::REGEX_BUDGET);
    files.push((
        "broad.txt".to_owned(),
        std::fs::read(broad::OUTPUT).context("reading the broad tier")?,
    ));
    Ok(files)
}

fn test(root: &Path, browser: bool) -> Result<()> {
    step("rustfmt", cargo(&["fmt", "--all", "--check"]))?;
    // Before clippy: the approval desk builds against MIT krb5 (libgssapi).
    tools::ensure_approval_desk_packages()?;
    step("clippy", cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    tools::ensure_target("wasm32-unknown-unknown")?;
    step(
        "clippy (wasm32)",
        cargo(&[
            "clippy",
            "-p",
            "gatehouse-core",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    for target in ["x86_64-pc-windows-msvc", "x86_64-apple-darwin"] {
        // The Windows and macOS readers cannot run here; at least they must compile.
        tools::ensure_target(target)?;
        step(
            &format!("desktop host and admin CLI compile for {target}"),
            cargo(&[
                "check",
                "-p",
                "gatehouse-host",
                "-p",
                "gatehouse-admin",
                "--lib",
                "--bins",
                "--target",
                target,
            ]),
        )?;
    }
    println!("xtask: == the desktop host's dependencies");
    check_host_dependencies()?;
    // The approval desk's tests start PostgreSQL and a Kerberos KDC themselves (packages above).
    step("Rust tests", cargo(&["test", "--workspace"]))?;
    for fuzz in ["wasm-core/fuzz", "native-host/fuzz"] {
        // Fuzz targets live outside the workspace; keep them compiling (running them is manual).
        // `--locked`: their lock files are committed, and a test run must not rewrite them.
        let manifest = format!("{fuzz}/Cargo.toml");
        step(
            &format!("fuzz targets build ({fuzz})"),
            cargo(&[
                "check",
                "--locked",
                "--manifest-path",
                &manifest,
                "--target-dir",
                "target/fuzz-check",
            ]),
        )?;
    }
    let built = build(root)?;
    let mut node = Command::new("node");
    node.args(["--test", "tests/wasm/"]);
    step("wasm engine under Node", node)?;
    // Before the browser suite: its deploy.test.mjs installs this release folder's .deb.
    dist::release_tests(root, &built)?;
    if browser {
        browser_tests(root, &built)?;
    }
    ad::ad_tests(root, &built, browser)?;
    println!("xtask: all checks passed");
    Ok(())
}

fn browser_tests(root: &Path, built: &Built) -> Result<()> {
    let chromium = tools::ensure_chromium()?;
    tools::ensure_node_modules(&root.join("tests/browser"))?;
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1", "tests/browser/"])
        .env("GATEHOUSE_EXTENSION_DIR", &built.extension)
        .env("GATEHOUSE_HOST_BIN", &built.test_host_bin)
        .env("GATEHOUSE_PRODUCT_HOST_BIN", &built.host_bin)
        .env("GATEHOUSE_CLI_BIN", &built.cli_bin)
        .env("GATEHOUSE_APPROVAL_BIN", &built.approval_bin)
        .env("CHROMIUM", chromium);
    step("end-to-end tests in Chromium", node)
}

fn demo(root: &Path) -> Result<()> {
    let built = build(root)?;
    let urls = [
        "https://mail.google.com/mail/u/0/",
        "https://web.whatsapp.com/",
        "https://www.dropbox.com/home",
        "https://www.facebook.com/messages/t/1",
        "https://www.gov.hk/",
    ];
    let mut classify = Command::new(&built.cli_bin);
    classify.arg("classify").args(urls);
    step("verdicts under the embedded default policy", classify)?;
    let chromium = tools::ensure_chromium()?;
    tools::ensure_node_modules(&root.join("tests/browser"))?;
    let mut node = Command::new("node");
    node.arg("tests/browser/demo.mjs")
        .env("GATEHOUSE_EXTENSION_DIR", &built.extension)
        .env("GATEHOUSE_HOST_BIN", &built.test_host_bin)
        .env("CHROMIUM", &chromium);
    step("the extension in Chromium", node)?;
    // Issue 13: the real approval desk on SQLite and one request → approve → access round trip,
    // headless, with screenshots in target/demo/round-trip (desk.test.mjs's flow, narrated).
    let mut desk = Command::new("node");
    desk.arg("tests/browser/demo-desk.mjs")
        .env("GATEHOUSE_EXTENSION_DIR", &built.extension)
        .env("GATEHOUSE_HOST_BIN", &built.test_host_bin)
        .env("GATEHOUSE_APPROVAL_BIN", &built.approval_bin)
        .env("CHROMIUM", &chromium);
    step("the approval desk: request → approve → access", desk)
}

fn bench(root: &Path) -> Result<()> {
    // Benchmarks, never timed tests: each prints its numbers and the ratios to its baseline,
    // measured in the same run.
    step("engine: criterion", cargo(&["bench", "-p", "gatehouse-core", "--bench", "decide"]))?;
    step("native host: round trip and start-up", cargo(&["bench", "-p", "gatehouse-host"]))?;
    let built = build(root)?;
    let chromium = tools::ensure_chromium()?;
    tools::ensure_node_modules(&root.join("tests/browser"))?;
    // Runs the native comparison (adblock-rust, memory) itself, then the wasm build in Node and in
    // a Chromium page (with tests/browser's playwright-core), one workload.
    let mut wasm = Command::new("node");
    wasm.arg("tests/wasm/bench.mjs").env("CHROMIUM", &chromium);
    step("engine: native vs adblock-rust vs wasm in Node and Chromium", wasm)?;
    let mut browser = Command::new("node");
    browser
        .arg("tests/browser/bench.mjs")
        .env("GATEHOUSE_EXTENSION_DIR", &built.extension)
        .env("GATEHOUSE_HOST_BIN", &built.test_host_bin)
        .env("CHROMIUM", chromium);
    step("extension: block page vs URLBlocklist, worker start, memory", browser)
}

fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.args(args);
    c
}

/// Runs one step, failing with its name.
pub(crate) fn step(name: &str, mut command: Command) -> Result<()> {
    println!("xtask: == {name}");
    let status = command
        .status()
        .with_context(|| format!("{name}: could not start {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}
