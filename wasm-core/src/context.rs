//! The facts a decision depends on besides the URL: who, where, when, and which approvals verified.
//!
//! `Identity` and `NetworkFacts` are exactly what the native host reports (the same serde types
//! are used on both sides of the native-messaging boundary), so there is one definition of each.

use serde::{Deserialize, Serialize};

/// Who is signed in on which machine, as the native host determined it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Identity {
    /// The OS account name (`alice`).
    pub user: String,
    /// The directory principal where the OS knows one: a UPN (`alice@corp.example`) or
    /// `CORP\alice`. Approvals are issued to this.
    pub principal: Option<String>,
    /// The machine's short name (`WS01`).
    pub machine: String,
    /// The machine's fully qualified name (`ws01.corp.example`), if known.
    pub fqdn: Option<String>,
    /// Whether the machine is joined to a directory domain.
    pub joined: bool,
    /// The DNS name of the joined domain (`corp.example`).
    pub domain: Option<String>,
    /// How the join state was determined (`sssd.conf`, `NetGetJoinInformation`, …): shown to
    /// administrators so they can tell a reader's evidence from a guess.
    pub source: String,
}

/// Facts about the network the machine is on. `None` means "not determined", which the scope
/// check treats as unknown, never as false evidence of being off the internal network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NetworkFacts {
    /// Addresses of the machine's up interfaces (loopback excluded).
    pub addresses: Vec<String>,
    /// DNS search domains and per-connection DNS suffixes.
    pub dns_suffixes: Vec<String>,
    /// Windows Network Location Awareness: a connection is `DomainAuthenticated`.
    pub domain_authenticated: Option<bool>,
    /// The joined domain's controllers are discoverable (`_ldap._tcp.dc._msdcs.<domain>` SRV).
    pub domain_controllers_discoverable: Option<bool>,
    /// SSSD reports its domain online.
    pub sssd_online: Option<bool>,
    /// Internal host names the policy asked about, and whether each resolved.
    pub resolved_hosts: Vec<ResolvedHost>,
}

/// Whether one policy-named internal host resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResolvedHost {
    /// The host name as the policy gave it.
    pub host: String,
    /// Whether it resolved to at least one address.
    pub resolved: bool,
}

/// Everything `decide` needs besides the policy and the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Context {
    /// From the native host; `None` while it is unavailable (fail closed: treated as in scope).
    pub identity: Option<Identity>,
    /// From the native host; `None` while it is unavailable.
    pub network: Option<NetworkFacts>,
    /// Current time, milliseconds since the Unix epoch (the caller's clock, never ours).
    pub now_ms: i64,
    /// Approvals that verified against the policy for this identity (see [`crate::Policy::verify_approval`]).
    pub approvals: Vec<Approval>,
    /// Warn-mode "continue"s the user made: each opens its one service until it ends.
    pub proceeds: Vec<Proceed>,
}

/// A warn-mode "continue": the user gave a reason and went on to one service. It opens that
/// service alone, by its own patterns at their own specificity (never the host it is served
/// from, which may carry other services), and only while the service's category warns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Proceed {
    /// The service id continued on (`google_chat`).
    pub service: String,
    /// When it ends (ms since the Unix epoch, exclusive).
    pub until_ms: i64,
}

impl Proceed {
    /// Whether it opens `service_id` at `now_ms`.
    pub fn covers(&self, service_id: &str, now_ms: i64) -> bool {
        self.service == service_id && now_ms < self.until_ms
    }
}

/// An approval that verified: who may use what, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The token's unique id (`jti`), the handle for revocation.
    pub id: String,
    /// The approver key id.
    pub issuer: String,
    /// The approver's name, if the token states it.
    #[serde(default)]
    pub approver: Option<String>,
    /// The user principal it was issued to.
    pub subject: String,
    /// The machine it is bound to, if any.
    #[serde(default)]
    pub machine: Option<String>,
    /// Service ids it covers.
    #[serde(default)]
    pub services: Vec<String>,
    /// Category ids it covers (every service in them).
    #[serde(default)]
    pub categories: Vec<String>,
    /// The business purpose stated in the request.
    #[serde(default)]
    pub purpose: String,
    /// The request id it answers.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Valid from (ms).
    pub not_before_ms: i64,
    /// Valid until (ms).
    pub expires_ms: i64,
    /// Where the token was found (`machine`, `user`, `policy` …), as the caller reported it.
    #[serde(default)]
    pub source: String,
}

impl Approval {
    /// Whether it covers a service of a category.
    pub fn covers(&self, service_id: &str, category: &str) -> bool {
        self.services.iter().any(|s| s == service_id)
            || self.categories.iter().any(|c| c == category)
    }
}
