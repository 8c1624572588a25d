//! The approval desk's integration tests: one binary, every scenario on SQLite and on a real
//! PostgreSQL the harness starts (`common::Postgres`).

mod cli;
mod common;
mod kerberos;
mod scenarios;
