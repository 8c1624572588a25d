//! The administrators' side of Gatehouse: issuing approvals, policy templates, registering the host — the library behind the `gatehouse` CLI.
//!
//! Everything that signs lives here ([`approve`]: approver keys, request files, signing,
//! inspection, revocation lists), beside [`templates`] (group-policy templates) and [`install`]
//! (the native-messaging registration). The desktop's own binary, `gatehouse-host`, is the
//! `gatehouse-host` crate in `native-host/`; it never depends on this one, so no desktop carries
//! signing code. Verifying tokens is `gatehouse-core`'s, for both sides.

pub mod approve;
pub mod install;
pub mod templates;
