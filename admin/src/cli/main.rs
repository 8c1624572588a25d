//! `gatehouse`: the administrators' command line — approvals (keygen, approve, inspect, revoke), policy tools and templates, host registration.
//!
//! Exit codes: 0 on success, 1 on any error (printed to stderr with its causes), 2 for a usage
//! error (clap's own). Each subcommand group lives in its own module with a clap `Args` struct
//! and a `run` function; adding one is a variant in [`Command`] and a match arm in [`run`].

mod approvals;
mod host;
mod policy;

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
    /// Classify URLs under a policy: one JSON object per line, in input order.
    Classify(policy::ClassifyArgs),
    /// Check a policy file: errors and warnings with the JSON path of each.
    CheckPolicy(policy::CheckArgs),
    /// Print the declarativeNetRequest rules a policy compiles to.
    Rules(policy::RulesArgs),
    /// Write group-policy templates (Linux JSON, .reg, ADMX/ADML, .mobileconfig) for a policy.
    PolicyTemplates(policy::TemplatesArgs),
    /// Make an approver key pair: the private key to a file, the public JWK for the policy.
    Keygen(approvals::KeygenArgs),
    /// Issue an approval token, from a block-page request file or from flags.
    Approve(approvals::ApproveArgs),
    /// Decode a token, verify it against a policy, and explain the verdict.
    Inspect(approvals::InspectArgs),
    /// Print the policy fragment that revokes approvals by token id (jti).
    Revoke(approvals::RevokeArgs),
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
        Command::Classify(args) => policy::classify(&args),
        Command::CheckPolicy(args) => policy::check_policy(&args),
        Command::Rules(args) => policy::rules(&args),
        Command::PolicyTemplates(args) => policy::templates(&args),
        Command::Keygen(args) => approvals::keygen(&args),
        Command::Approve(args) => approvals::approve(&args),
        Command::Inspect(args) => approvals::inspect(&args),
        Command::Revoke(args) => approvals::revoke(&args),
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
