//! Integration tests: the real host binary over real pipes, identity fixtures, files the user plants, no signing code.

mod identity;
mod pipes;
mod roles;
mod tamper;
