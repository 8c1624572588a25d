//! A host-suffix index: the most specific pattern that covers a host and path, in a handful of
//! hash look-ups (one per label of the host) whatever the number of patterns.

use std::collections::HashMap;

use crate::pattern::{host_within, path_within, Pattern};

/// Patterns with a value attached (a service, a category rule, an allowlist entry).
#[derive(Debug, Clone)]
pub(crate) struct Matcher<T> {
    by_host: HashMap<Box<str>, Vec<Entry<T>>>,
    len: usize,
}

#[derive(Debug, Clone)]
struct Entry<T> {
    pattern: Pattern,
    value: T,
}

impl<T> Default for Matcher<T> {
    fn default() -> Self {
        Self { by_host: HashMap::new(), len: 0 }
    }
}

impl<T> Matcher<T> {
    /// Adds a pattern. A later pattern with the same host and path replaces nothing: both stay,
    /// and the first one added wins ties, so callers add the entries that should win first.
    pub(crate) fn insert(&mut self, pattern: Pattern, value: T) {
        let entries = self.by_host.entry(pattern.host().into()).or_default();
        entries.push(Entry { pattern, value });
        // Within one host: path patterns (more specific) before host-wide ones, longer first.
        entries.sort_by_key(|e| std::cmp::Reverse(e.pattern.path().map_or(0, str::len)));
        self.len += 1;
    }

    /// How many patterns were inserted.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The most specific match: the longest matching host suffix, then the longest path prefix.
    pub(crate) fn find(&self, host: &str, path: &str) -> Option<(&Pattern, &T)> {
        let mut suffix = host;
        loop {
            if let Some(entries) = self.by_host.get(suffix) {
                let hit = entries.iter().find(|e| {
                    (!e.pattern.is_exact() || suffix.len() == host.len())
                        && e.pattern.path().is_none_or(|p| path_within(path, p))
                });
                if let Some(e) = hit {
                    debug_assert!(host_within(host, e.pattern.host()));
                    return Some((&e.pattern, &e.value));
                }
            }
            match suffix.split_once('.') {
                Some((_, rest)) if !rest.is_empty() => suffix = rest,
                _ => return None,
            }
        }
    }

    /// Every pattern with its value, in a deterministic order (host, then pattern).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Pattern, &T)> {
        let mut all: Vec<_> =
            self.by_host.values().flatten().map(|e| (&e.pattern, &e.value)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> Matcher<usize> {
        let mut m = Matcher::default();
        for (i, p) in patterns.iter().enumerate() {
            m.insert(Pattern::parse(p).unwrap(), i);
        }
        m
    }

    #[test]
    fn most_specific_wins() {
        let m = matcher(&[
            "google.com",
            "mail.google.com",
            "=x.mail.google.com",
            "www.facebook.com/messages",
        ]);
        assert_eq!(m.find("a.mail.google.com", "/").map(|h| *h.1), Some(1));
        assert_eq!(m.find("x.mail.google.com", "/").map(|h| *h.1), Some(2));
        assert_eq!(m.find("y.x.mail.google.com", "/").map(|h| *h.1), Some(1));
        assert_eq!(m.find("drive.google.com", "/").map(|h| *h.1), Some(0));
        assert_eq!(m.find("www.facebook.com", "/messages/t/1").map(|h| *h.1), Some(3));
        assert_eq!(m.find("www.facebook.com", "/groups").map(|h| *h.1), None);
        assert_eq!(m.find("google.com.evil.example", "/").map(|h| *h.1), None);
        assert_eq!(m.find("", "/"), None);
    }
}
