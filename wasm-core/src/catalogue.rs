//! The built-in service catalogue: `catalogue/services.toml`, validated by `build.rs`, embedded.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::pattern::Pattern;

/// A name in the languages the block page speaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    /// English.
    pub en: String,
    /// Traditional Chinese.
    #[serde(rename = "zh_TW")]
    pub zh_tw: String,
    /// Simplified Chinese, where the catalogue or policy gives one.
    #[serde(rename = "zh_CN", default, skip_serializing_if = "Option::is_none")]
    pub zh_cn: Option<String>,
}

impl Names {
    /// The same text in every language (for ids and policy-defined names without translations).
    pub fn same(text: &str) -> Self {
        Self { en: text.to_owned(), zh_tw: text.to_owned(), zh_cn: None }
    }
}

/// One service of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Stable id (`gmail`), used in approvals, rules and audit events.
    pub id: String,
    /// `webmail`, `cloud_storage`, `instant_messaging` or `circumvention`.
    pub category: String,
    /// Display names.
    pub name: Names,
    /// Patterns in the [`crate::pattern`] grammar (`match` in the catalogue file).
    #[serde(rename(serialize = "patterns", deserialize = "match"))]
    pub patterns: Vec<String>,
    /// The vendor whose tenant-restriction header applies to this service's hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The embedded catalogue, parsed once. `build.rs` has already validated it, so a failure here
/// can only mean a build-system fault; the engine then runs with an empty catalogue plus the
/// policy's own rules, and the `catalogue_is_complete` test catches it long before release.
pub fn services() -> &'static [Service] {
    static SERVICES: OnceLock<Vec<Service>> = OnceLock::new();
    SERVICES.get_or_init(|| {
        serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/catalogue.json")))
            .unwrap_or_default()
    })
}

/// Every catalogue pattern, parsed, with the index of its service.
pub(crate) fn patterns() -> impl Iterator<Item = (usize, Result<Pattern, String>)> {
    services().iter().enumerate().flat_map(|(i, s)| {
        s.patterns.iter().map(move |p| (i, Pattern::parse(p).map_err(|e| format!("{}: {e}", s.id))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_complete() {
        assert!(!services().is_empty(), "embedded catalogue failed to load");
        let broken: Vec<String> = patterns().filter_map(|(_, p)| p.err()).collect();
        assert!(broken.is_empty(), "catalogue patterns that do not parse: {broken:?}");
    }
}
