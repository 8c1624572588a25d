//! Gatehouse's approval desk: the department service that receives the block page's requests,
//! keeps the record of who asked, who decided and why, and signs approval tokens in the format
//! `gatehouse-core` verifies (issued by `gatehouse_admin::approve`, the CLI's issuing code).
//!
//! [`config`] (TOML → validated config), [`store`] (SQLite or PostgreSQL, one set of
//! migrations), [`desk`] (intake checks, decisions, signing), [`server`] (the HTTP routes), [`pages`] (the approvers' pages) and [`auth`] (who is
//! signed in, who may decide what, CSRF) with [`directory`] (approvers from AD groups) and
//! [`signin`] (the password sign-in fallback).

pub mod auth;
pub mod config;
pub mod desk;
pub mod directory;
pub mod mail;
pub mod overview;
pub mod pages;
pub mod server;
pub mod signin;
pub mod store;
