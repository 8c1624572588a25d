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

use crate::pattern::Pattern;
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
}

/// The loaded tier: each category's entries, sorted by host (the file is sorted; `build.rs`
/// checks it). Each policy adds them to its own classifier (`policy::insert_broad_tier`), where
/// `decide` finds them; [`Tier::find`] is for the few look-ups outside `decide` (compiling
/// rules, reading the allowlist), a binary search per label.
#[derive(Debug, Default)]
pub(crate) struct Tier {
    entries: [Vec<Pattern>; BUILTIN_CATEGORIES.len()],
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
            // A whole host only: no `=`, no path, nothing the pattern grammar would rewrite.
            let pattern = Pattern::parse(host).map_err(|_| BroadError::Malformed(i + 1))?;
            if pattern.is_exact() || pattern.path().is_some() || pattern.host() != host {
                return Err(BroadError::Malformed(i + 1));
            }
            // Sorted, as binary search needs (the file is; an edited one is refused anyway).
            let list = &mut tier.entries[index];
            if list.last().is_some_and(|last| last.host() >= host) {
                return Err(BroadError::Malformed(i + 1));
            }
            list.push(pattern);
        }
        Ok(tier)
    }

    /// The entry covering `host` (the host itself or a parent domain) and its category id.
    pub(crate) fn find(&self, host: &str) -> Option<(&str, &'static str)> {
        let mut suffix = host;
        loop {
            for (list, category) in self.entries.iter().zip(BUILTIN_CATEGORIES) {
                if let Ok(i) = list.binary_search_by(|p| p.host().cmp(suffix)) {
                    return Some((list[i].host(), category.0));
                }
            }
            match suffix.split_once('.') {
                Some((_, rest)) if rest.contains('.') => suffix = rest,
                _ => return None,
            }
        }
    }

    /// The hosts of one category, sorted (for the static rulesets).
    pub(crate) fn hosts_of(&self, category: &str) -> Vec<String> {
        self.entries(category).iter().map(|p| p.host().to_owned()).collect()
    }

    /// The entries of one category, sorted by host.
    pub(crate) fn entries(&self, category: &str) -> &[Pattern] {
        match BUILTIN_CATEGORIES.iter().position(|c| c.0 == category) {
            Some(index) => &self.entries[index],
            None => &[],
        }
    }

    /// Hosts per category, in `BUILTIN_CATEGORIES` order.
    fn counts(&self) -> [usize; BUILTIN_CATEGORIES.len()] {
        let mut counts = [0; BUILTIN_CATEGORIES.len()];
        for (n, list) in counts.iter_mut().zip(&self.entries) {
            *n = list.len();
        }
        counts
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
    let expected = EXPECTED_SHA512.trim().as_bytes();
    let hex = |n: u8| b"0123456789abcdef"[usize::from(n & 0xf)];
    let same = expected.len() == digest.len() * 2
        && digest.iter().zip(expected.chunks(2)).all(|(b, h)| h == [hex(b >> 4), hex(*b)]);
    if !same {
        return Err(BroadError::HashMismatch);
    }
    if let Some(t) = TIER.get() {
        return Ok(t.counts().iter().sum());
    }
    let parsed = Tier::parse(text)?;
    // The hash matched, so a tier set meanwhile is this very file.
    Ok(TIER.get_or_init(|| parsed).counts().iter().sum())
}

/// Whether the broad tier is in force (kept to two numbers: this crosses into wasm, where every
/// serialised shape costs module size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BroadStatus {
    /// Whether it is loaded (always, natively).
    pub loaded: bool,
    /// Hosts in force, all categories.
    pub hosts: u32,
}

/// The tier's status, for `Engine::info` and the status page.
pub fn status() -> BroadStatus {
    let hosts = tier().map_or(0, |t| t.counts().iter().sum::<usize>());
    BroadStatus { loaded: tier().is_some(), hosts: u32::try_from(hosts).unwrap_or(u32::MAX) }
}

/// The category of a broad-tier service: its id is its host, exactly as the verdict names it
/// (`yopmail.com`), never a subdomain of one. Approvals for the long tail name these ids.
pub fn service_category(id: &str) -> Option<&'static str> {
    tier()?.find(id).filter(|(host, _)| *host == id).map(|(_, category)| category)
}

/// Hosts per category id, in `BUILTIN_CATEGORIES` order (none when not loaded).
pub fn counts() -> [usize; BUILTIN_CATEGORIES.len()] {
    tier().map_or([0; BUILTIN_CATEGORIES.len()], |t| t.counts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_tier_is_embedded() {
        let s = status();
        assert!(s.loaded);
        let counts = counts();
        assert!(counts[0] > 5_000, "{counts:?}");
        assert!(counts.iter().all(|&n| n > 0), "every category has broad hosts: {counts:?}");
        assert_eq!(s.hosts as usize, counts.iter().sum::<usize>());
    }

    /// An approval names a broad service by its exact host, as the verdict does.
    #[test]
    fn broad_service_ids_are_exact_hosts() {
        assert_eq!(service_category("yopmail.com"), Some("webmail"));
        assert_eq!(service_category("www.yopmail.com"), None, "a subdomain is not an id");
        assert_eq!(service_category("gmail"), None, "curated services are the catalogue's");
        assert_eq!(service_category(""), None);
    }

    #[test]
    fn hosts_match_with_their_subdomains_on_label_boundaries() {
        let t = Tier::parse("# c\nmail.riseup.net\twebmail\tx\nyopmail.com\twebmail\tx\n").unwrap();
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
        assert_eq!(load(text).ok(), tier().map(|t| t.counts().iter().sum()));
        let edited = text.replacen("yopmail.com\t", "yopmail.example\t", 1);
        assert_eq!(load(&edited), Err(BroadError::HashMismatch));
        assert_eq!(load(""), Err(BroadError::HashMismatch));
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert_eq!(Tier::parse("a.example\n").err(), Some(BroadError::Malformed(1)));
        assert_eq!(Tier::parse("a.example\tnews\tx\n").err(), Some(BroadError::Malformed(1)));
        let unsorted = "b.example\twebmail\tx\na.example\twebmail\tx\n";
        assert_eq!(Tier::parse(unsorted).err(), Some(BroadError::Malformed(2)));
    }
}
