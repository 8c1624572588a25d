//! `gatehouse install-host` / `uninstall-host`: raw flags, validated into an install plan, then applied.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use gatehouse_admin::install::{self, Bases, Browser, ExtensionId, Os, Report, Scope};

/// Which browsers to register with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrowserArg {
    /// Google Chrome.
    Chrome,
    /// Chromium.
    Chromium,
    /// Microsoft Edge.
    Edge,
    /// All three.
    All,
}

/// Per user or machine-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// The current user's browser profile folders (HKCU on Windows): development only, since the
    /// hardening baseline (NativeMessagingUserLevelHosts = false) makes browsers ignore them.
    User,
    /// Every user of the machine (HKLM on Windows); needs administrator rights.
    System,
}

/// `install-host` flags.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Browser to register with.
    #[arg(long, value_enum, default_value = "all")]
    browser: BrowserArg,
    /// Register machine-wide (the deployment) or for the current user only (development).
    #[arg(long, value_enum, default_value = "system")]
    scope: ScopeArg,
    /// Extension id allowed to talk to the host (32 letters a-p); repeat for several.
    #[arg(long = "extension-id", value_name = "ID", required = true, num_args = 1..)]
    extension_ids: Vec<String>,
    /// Absolute path of gatehouse-host [default: the gatehouse-host next to this program].
    #[arg(long, value_name = "PATH")]
    host_path: Option<PathBuf>,
    /// Stage everything under DIR instead of the real system (home = DIR/home; on Windows the
    /// registry is left alone and the values it would set are printed).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// `uninstall-host` flags.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Browser to unregister from.
    #[arg(long, value_enum, default_value = "all")]
    browser: BrowserArg,
    /// Remove the machine-wide or the per-user registration.
    #[arg(long, value_enum, default_value = "system")]
    scope: ScopeArg,
    /// Remove what `install-host --root DIR` staged.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

fn browsers(arg: BrowserArg) -> Vec<Browser> {
    match arg {
        BrowserArg::Chrome => vec![Browser::Chrome],
        BrowserArg::Chromium => vec![Browser::Chromium],
        BrowserArg::Edge => vec![Browser::Edge],
        BrowserArg::All => Browser::ALL.to_vec(),
    }
}

fn scope(arg: ScopeArg) -> Scope {
    match arg {
        ScopeArg::User => Scope::User,
        ScopeArg::System => Scope::System,
    }
}

fn bases(root: Option<&PathBuf>) -> Bases {
    root.map_or_else(Bases::system, Bases::under)
}

fn default_host_path() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()
        .context("cannot locate this program to find gatehouse-host beside it")?;
    Ok(me.with_file_name(format!("gatehouse-host{}", std::env::consts::EXE_SUFFIX)))
}

/// Runs `install-host`.
pub fn install(args: &InstallArgs) -> anyhow::Result<()> {
    let ids = args
        .extension_ids
        .iter()
        .map(|id| id.parse::<ExtensionId>())
        .collect::<Result<Vec<_>, _>>()?;
    let host_path = match &args.host_path {
        Some(p) => p.clone(),
        None => default_host_path()?,
    };
    let host_path_text =
        host_path.to_str().context("the host path is not valid Unicode")?.to_owned();
    if args.root.is_none() && !host_path.is_file() {
        bail!("{} does not exist; build it or pass --host-path", host_path.display());
    }
    let plan = install::plan(
        Os::current(),
        &browsers(args.browser),
        scope(args.scope),
        &host_path_text,
        &ids,
        &bases(args.root.as_ref()),
    )?;
    let report =
        install::apply(&plan, args.root.is_none()).context("installing the host manifest")?;
    print_report("wrote", &report);
    Ok(())
}

/// Runs `uninstall-host`.
pub fn uninstall(args: &UninstallArgs) -> anyhow::Result<()> {
    let targets = install::targets(
        Os::current(),
        &browsers(args.browser),
        scope(args.scope),
        &bases(args.root.as_ref()),
    )?;
    let report =
        install::remove(&targets, args.root.is_none()).context("removing the host manifest")?;
    if report.files.is_empty() && report.registry.is_empty() {
        eprintln!("gatehouse: nothing was registered");
    }
    print_report("removed", &report);
    Ok(())
}

fn print_report(verb: &str, report: &Report) {
    for file in &report.files {
        println!("{verb} {}", file.display());
    }
    for key in &report.registry {
        println!("{verb} registry key {key}");
    }
    for key in &report.skipped_registry {
        eprintln!("gatehouse: staged under --root: registry key {key} left alone");
    }
}
