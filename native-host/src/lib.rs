//! Gatehouse's native-messaging host: framing, the request protocol, and the facts it reports to the extension.
//!
//! The `gatehouse-host` binary is a thin wrapper around [`host::serve`]; the `gatehouse` admin
//! CLI uses [`install`] (and, later, the approval and policy modules). `PROTOCOL.md` beside this
//! crate is the wire contract.

pub mod approvals;
pub mod approve;
pub mod audit;
pub mod frame;
pub mod host;
pub mod identity;
pub mod install;
pub mod network;
pub mod protocol;
pub mod templates;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
mod userfile;
mod util;

pub use util::{now_rfc3339, rfc3339_from_millis};
