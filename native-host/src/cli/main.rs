//! `gatehouse`: the administrator's command line — host registration now; approvals and policy tools as they land.
//!
//! Exit codes: 0 on success, 1 on any error (printed to stderr with its causes), 2 for a usage
//! error (clap's own). Each subcommand group lives in its own module with a clap `Args` struct
//! and a `run` function; adding one is a variant in [`Command`] and a match arm in [`run`].

mod host;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Gatehouse administration: register the native host; manage approvals and policy.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register gatehouse-host with Chrome, Chromium and/or Edge.
    InstallHost(host::InstallArgs),
    /// Remove the registration install-host wrote.
    UninstallHost(host::UninstallArgs),
    // Later: `classify`, `check-policy`, `rules` (policy tools) and `keygen`, `approve`,
    // `inspect`, `revoke` (approvals), each a module beside `host`.
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::InstallHost(args) => host::install(&args),
        Command::UninstallHost(args) => host::uninstall(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
