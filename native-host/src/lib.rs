//! Gatehouse's desktop side: the native-messaging host — framing, the request protocol, the facts it reports, the token store and the audit trail.
//!
//! The `gatehouse-host` binary is a thin wrapper around [`host::serve`]. `PROTOCOL.md` beside
//! this crate is the wire contract. The administrators' side (issuing and signing approvals,
//! templates, `install-host`) is the `gatehouse-admin` crate: this crate never depends on it and
//! holds no signing code (`tests/roles.rs`); token verification is `gatehouse-core`'s.

pub mod approvals;
pub mod audit;
pub mod frame;
pub mod host;
pub mod identity;
pub mod network;
pub mod protocol;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
mod userfile;
mod util;

pub use util::{now_rfc3339, rfc3339_from_millis};
