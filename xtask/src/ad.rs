//! The real-domain suite (`tests/ad/`): a Samba AD domain controller and realmd/SSSD-joined
//! workstations in private namespaces, the real native host and CLI against them and, unless
//! `--no-browser`, the extension in Chromium running as the domain users. `tests/ad/run.sh`
//! knows the domain (packages, set-up, tear-down); this only hands it what `build` produced.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{step, tools, Built};

/// Runs `tests/ad/run.sh` (needs root: namespaces, mounts, a domain controller).
pub(crate) fn ad_tests(root: &Path, built: &Built, browser: bool) -> Result<()> {
    let mut run = Command::new(root.join("tests/ad/run.sh"));
    run.env("GATEHOUSE_HOST_BIN", &built.test_host_bin)
        .env("GATEHOUSE_CLI_BIN", &built.cli_bin)
        .env("GATEHOUSE_EXTENSION_DIR", &built.extension)
        .env("GATEHOUSE_APPROVAL_BIN", &built.approval_bin);
    if browser {
        run.env("CHROMIUM", tools::ensure_chromium()?);
        tools::ensure_node_modules(&root.join("tests/browser"))?;
    } else {
        run.arg("--no-browser");
    }
    step("real Active Directory domain (tests/ad)", run)
}
