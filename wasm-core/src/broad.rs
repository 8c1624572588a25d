//! The broad tier: the long tail of category hosts (`catalogue/broad.txt`), matched whole-host only, after the curated catalogue.
//!
//! The curated catalogue (`catalogue.rs`) is the core: a service with names, paths, APIs and
//! evidence per entry. The broad tier is ~10,000 hosts from licensed lists and research
//! (`cargo xtask broad` writes the file; `xtask/src/broad.rs` says how each source becomes web
//! hosts). Each entry is a host and its subdomains in one category; the browser blocks them
//! through one static ruleset per category (`rules::broad_rules`), plain `requestDomains`, never
//! a regex, and the engine classifies them here so the block page, the audit trail and the
//! worker's safety net agree with those rules.
//!
//! Where the list comes from: natively it is embedded (`include_str!`). In wasm it is not — it
//! would add ~61 KB to a module that must stay under 300 KB gzipped — so the extension ships the
//! same file and the worker hands it to [`load`] at start-up; the file's SHA-512, computed by
//! `build.rs`, is compiled in, and any other text is refused (fail closed: the curated tier
//! still applies, and [`status`] says why the broad tier is missing).

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::policy::BUILTIN_CATEGORIES;

/// The SHA-512 (hex) of the broad-tier file this build was made with.
pub(crate) const EXPECTED_SHA512: &str = include_str!(concat!(env!("OUT_DIR"), "/broad.sha512"));

/// Why a broad-tier file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BroadError {
    /// The text is not the file this engine was built with (edited, truncated or another build's).
    #[error("broad tier refused: its SHA-512 is not the one compiled into the engine (the file was changed; reinstall the extension)")]
    HashMismatch,
    /// A line is not `host<TAB>category<TAB>source` with a known category.
    #[error("broad tier line {0} is malformed")]
    Malformed(usize),
    /// A different broad tier is already loaded.
    #[error("a broad tier is already loaded")]
    AlreadyLoaded,
}

/// The loaded tier: host → index into [`BUILTIN_CATEGORIES`].
#[derive(Debug, Default)]
pub(crate) struct Tier {
    hosts: FxHashMap<Box<str>, u8>,
    /// Hosts per category, in `BUILTIN_CATEGORIES` order.
    counts: [usize; BUILTIN_CATEGORIES.len()],
}

impl Tier {
    /// Parses the file's text (already checked, or embedded).
    fn parse(text: &str) -> Result<Self, BroadError> {
        let mut tier = Tier::default();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(host), Some(category)) = (cols.next(), cols.next()) else {
                return Err(BroadError::Malformed(i + 1));
            };
            let Some(index) = BUILTIN_CATEGORIES.iter().position(|c| c.0 == category) else {
                return Err(BroadError::Malformed(i + 1));
            };
            // `position` is below 4, so the cast cannot truncate.
            tier.hosts.insert(host.into(), index as u8);
            tier.counts[index] += 1;
        }
        Ok(tier)
    }

    /// The entry covering `host` (the host itself or a parent domain) and its category id.
    pub(crate) fn find<'h>(&self, host: &'h str) -> Option<(&'h str, &'static str)> {
        let mut rest = host;
        loop {
            if let Some(&index) = self.hosts.get(rest) {
                return Some((rest, BUILTIN_CATEGORIES.get(usize::from(index))?.0));
            }
            // Entries have at least two labels: stop before the last one.
            let dot = rest.find('.')?;
            rest = &rest[dot + 1..];
            if !rest.contains('.') {
                return None;
            }
        }
    }

    /// The hosts of one category, sorted (for the static rulesets).
    pub(crate) fn hosts_of(&self, category: &str) -> Vec<String> {
        let Some(index) = BUILTIN_CATEGORIES.iter().position(|c| c.0 == category) else {
            return Vec::new();
        };
        let mut hosts: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, &c)| usize::from(c) == index)
            .map(|(h, _)| h.to_string())
            .collect();
        hosts.sort();
        hosts
    }
}

static TIER: OnceLock<Tier> = OnceLock::new();

/// The tier in force: embedded natively; in wasm, the one [`load`] accepted (else none).
pub(crate) fn tier() -> Option<&'static Tier> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        // build.rs has validated the file, so a parse error is a build-system fault; the
        // engine then runs on the curated tier (and `broad_tier_is_embedded` fails).
        Some(TIER.get_or_init(|| {
            Tier::parse(include_str!("../catalogue/broad.txt")).unwrap_or_default()
        }))
    }
    #[cfg(target_arch = "wasm32")]
    {
        TIER.get()
    }
}

/// Loads the broad tier from the file the extension ships, refusing any text whose SHA-512 is
/// not the compiled-in one. Returns the number of hosts. Loading the same file again is a no-op.
pub fn load(text: &str) -> Result<usize, BroadError> {
    use sha2::{Digest, Sha512};
    let digest = Sha512::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if hex != EXPECTED_SHA512.trim() {
        return Err(BroadError::HashMismatch);
    }
    if let Some(t) = TIER.get() {
        return Ok(t.hosts.len());
    }
    let parsed = Tier::parse(text)?;
    let n = parsed.hosts.len();
    TIER.set(parsed).map_err(|_| BroadError::AlreadyLoaded)?;
    Ok(n)
}

/// Whether the broad tier is in force, and how many hosts per category.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadStatus {
    /// Whether it is loaded (always, natively).
    pub loaded: bool,
    /// Hosts per category id.
    pub hosts: std::collections::BTreeMap<String, usize>,
    /// The SHA-512 the engine accepts.
    pub sha512: &'static str,
}

/// The tier's status, for `Engine::info` and the status page.
pub fn status() -> BroadStatus {
    let t = tier();
    BroadStatus {
        loaded: t.is_some(),
        hosts: BUILTIN_CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, c)| (c.0.to_owned(), t.map_or(0, |t| t.counts[i])))
            .collect(),
        sha512: EXPECTED_SHA512.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_tier_is_embedded() {
        let s = status();
        assert!(s.loaded);
        assert!(s.hosts["webmail"] > 5_000, "{s:?}");
        assert!(s.hosts.values().all(|&n| n > 0), "every category has broad hosts: {s:?}");
    }

    #[test]
    fn hosts_match_with_their_subdomains_on_label_boundaries() {
        let t = Tier::parse("# c\nyopmail.com\twebmail\tx\nmail.riseup.net\twebmail\tx\n").unwrap();
        assert_eq!(t.find("yopmail.com"), Some(("yopmail.com", "webmail")));
        assert_eq!(t.find("www.yopmail.com"), Some(("yopmail.com", "webmail")));
        assert_eq!(t.find("xyopmail.com"), None);
        assert_eq!(t.find("riseup.net"), None);
        assert_eq!(t.find("a.mail.riseup.net"), Some(("mail.riseup.net", "webmail")));
        assert_eq!(t.find("com"), None);
    }

    #[test]
    fn a_changed_file_is_refused() {
        let text = include_str!("../catalogue/broad.txt");
        assert_eq!(load(text).ok(), tier().map(|t| t.hosts.len()));
        let edited = text.replacen("yopmail.com\t", "yopmail.example\t", 1);
        assert_eq!(load(&edited), Err(BroadError::HashMismatch));
        assert_eq!(load(""), Err(BroadError::HashMismatch));
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert_eq!(Tier::parse("a.example\n").err(), Some(BroadError::Malformed(1)));
        assert_eq!(Tier::parse("a.example\tnews\tx\n").err(), Some(BroadError::Malformed(1)));
    }
}
