//! Gatehouse's policy engine: classifies URLs and decides what the browser does, pure and
//! deterministic (no clock, file, environment or randomness — `now` is a parameter).
//!
//! Parse once, fallibly ([`Policy::from_json`], [`Request::new`]); decide infallibly
//! ([`decide`]); compile the same decisions into declarativeNetRequest rules
//! ([`compile_rules`]) so the browser enforces them itself.

#![warn(missing_docs)]

mod broad;
mod catalogue;
mod context;
mod date;
mod decide;
mod dnr;
mod engine;
mod matcher;
mod parse;
mod pattern;
mod policy;
mod request;
mod rules;
mod scope;
#[cfg(test)]
mod testing;
mod token;
#[cfg(target_arch = "wasm32")]
mod wasm;

// The public surface: what the CLI, the host, the benches and the tests use, and the types in
// `Engine`'s signatures. Field types (rule actions, approval notes, category info…) stay
// unnamed: read them, do not build them.
pub use broad::{
    counts as broad_tier_counts, load as load_broad_tier,
    service_category as broad_service_category, status as broad_tier_status, BroadError,
    BroadStatus,
};
pub use catalogue::{services as catalogue, Names, Service};
pub use context::{Approval, Context, Identity, NetworkFacts, Proceed, ResolvedHost};
pub use decide::{decide, Action, Brief, Reason, Verdict};
pub use engine::{
    Defaults, Engine, Explanation, NotWarned, PolicyInfo, TokenInput, TokenResult, DEFAULTS,
};
pub use parse::Warning;
pub use pattern::{Pattern, PatternError};
pub use policy::{Classification, Mode, Parsed, Policy, PolicyError, BUILTIN_CATEGORIES};
pub use request::{Request, RequestError, ResourceType};
pub use rules::{
    bootstrap_rules, broad_rules, broad_ruleset_id, compile_rules, CompiledRules, PRIORITY_BROAD,
    REGEX_BUDGET,
};
pub use scope::ScopeDecision;
pub use token::{
    ApproverKeys, KeyError, RevocationClaims, TokenClaims, TokenRejection,
    MAX_REVOCATION_LIST_BYTES, MAX_TOKEN_BYTES, REVOCATION_LIST_TYPE,
};
