//! Integration tests: the real binaries over real pipes, identity fixtures, installation under a temp root.

mod approvals;
mod identity;
mod install;
mod pipes;
mod tamper;
