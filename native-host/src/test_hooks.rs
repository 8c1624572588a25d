//! Test builds only (`--features test-hooks`): the `GATEHOUSE_*` environment variables that point the host at a test's folders.
//!
//! The product binary is built without this module. Its environment comes from the browser,
//! which is the user's to set (a shell, a shortcut, `HKCU\Environment` on Windows), so nothing
//! in it may move where the host reads identity, looks for approvals or writes the audit trail.
//! `cargo xtask build` checks that the product binary contains no `GATEHOUSE_` string at all;
//! the browser tests and the AD suite run a separate test-hooks build
//! (`target/test-hooks/debug/gatehouse-host`).

use std::path::PathBuf;

use crate::approvals::ApprovalDirs;
use crate::audit::AuditLog;
use crate::host::HostConfig;

/// Machine-wide approvals folder.
pub const APPROVALS_DIR: &str = "GATEHOUSE_APPROVALS_DIR";
/// Per-user approvals folder (where imports go).
pub const USER_APPROVALS_DIR: &str = "GATEHOUSE_USER_APPROVALS_DIR";
/// Audit JSON-lines folder.
pub const AUDIT_DIR: &str = "GATEHOUSE_AUDIT_DIR";
/// Linux: the root the identity reader and `resolv.conf` are read under.
pub const IDENTITY_ROOT: &str = "GATEHOUSE_IDENTITY_ROOT";
/// `0` turns off the system log; the JSON-lines file is then the record.
pub const SYSLOG: &str = "GATEHOUSE_SYSLOG";

/// [`HostConfig::system`] with the overrides above applied.
pub fn config_from_env() -> HostConfig {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut config = HostConfig::system();
    config.approvals = ApprovalDirs {
        machine: var(APPROVALS_DIR).unwrap_or(config.approvals.machine),
        user: var(USER_APPROVALS_DIR).or(config.approvals.user),
    };
    config.audit = AuditLog::new(var(AUDIT_DIR).or_else(AuditLog::default_dir))
        .with_system_log(std::env::var(SYSLOG).map_or(true, |v| v != "0"));
    #[cfg(all(unix, not(target_os = "macos")))]
    if let Some(root) = var(IDENTITY_ROOT) {
        config.identity =
            Box::new(crate::identity::linux::LinuxReader::system_with_root(root.clone()));
        config.network = crate::network::NetworkProbe::new(root);
    }
    config
}
