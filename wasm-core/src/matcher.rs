//! A host-suffix index: the most specific pattern that covers a host and path, in a handful of
//! hash look-ups (one per label of the host) whatever the number of patterns.
//!
//! Compact: every pattern's text lives in one string, each pattern is a 16-byte record,
//! and the hash table holds only a `u32` per host, so 100,000 hosts take about 40 bytes each
//! beyond their text.

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::pattern::{host_within, path_within, Pattern};

/// Patterns with a value attached (a service, a category rule, an allowlist entry).
#[derive(Debug, Clone)]
pub(crate) struct Matcher<T> {
    /// Each pattern's host followed by its path, back to back.
    text: String,
    /// The patterns, in insertion order.
    patterns: Vec<Packed>,
    /// Distinct values; runs of the same value (one rule's many hosts) share one slot.
    values: Vec<T>,
    /// For each distinct host, the index of its first pattern in `find` order.
    table: HashTable<u32>,
    /// A one-hash Bloom filter over the hosts, about 16 bits per host: most suffixes of most
    /// hosts are in no pattern, and this small, cache-warm bitmap says so without touching the
    /// table.
    present: Vec<u64>,
}

/// One pattern: `text[start..start + host_len]` is the host, the path follows it.
#[derive(Debug, Clone, Copy)]
struct Packed {
    start: u32,
    /// The next pattern of the same host in `find` order (`u32::MAX`: none).
    next: u32,
    value: u32,
    host_len: u16,
    /// Path length; the top bit marks an exact (`=host`) pattern.
    path_len_exact: u16,
}

const NONE: u32 = u32::MAX;
const EXACT: u16 = 1 << 15;
/// Bits of the filter per distinct host (false-positive rate about 6 %).
const FILTER_BITS_PER_HOST: usize = 16;

/// A pattern as stored: borrowed, printable, comparable like [`Pattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PatternRef<'a> {
    host: &'a str,
    exact: bool,
    path: Option<&'a str>,
}

impl<'a> PatternRef<'a> {
    /// The pattern's host.
    pub(crate) fn host(self) -> &'a str {
        self.host
    }

    /// Host, exactness and path, as stored.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // the wasm brief cache's key
    pub(crate) fn parts(self) -> (&'a str, bool, Option<&'a str>) {
        (self.host, self.exact, self.path)
    }

    pub(crate) fn to_pattern(self) -> Pattern {
        Pattern::from_parts(self.host, self.exact, self.path)
    }
}

impl fmt::Display for PatternRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exact {
            f.write_str("=")?;
        }
        f.write_str(self.host)?;
        f.write_str(self.path.unwrap_or(""))
    }
}

impl<T> Default for Matcher<T> {
    fn default() -> Self {
        Self {
            text: String::new(),
            patterns: Vec::new(),
            values: Vec::new(),
            table: HashTable::new(),
            present: Vec::new(),
        }
    }
}

fn hash(host: &str) -> u64 {
    FxBuildHasher.hash_one(host)
}

impl<T: PartialEq> Matcher<T> {
    /// Adds a pattern. A later pattern with the same host and path replaces nothing: both stay,
    /// and the first one added wins ties, so callers add the entries that should win first.
    pub(crate) fn insert(&mut self, pattern: Pattern, value: T) {
        let path = pattern.path().unwrap_or("");
        // `Pattern::parse` caps hosts at 253 and paths at `MAX_PATH_LEN` bytes, so both fit
        // (the path in 15 bits); a pattern built any other way is a programming error.
        let (Ok(host_len), Ok(path_len)) =
            (u16::try_from(pattern.host().len()), u16::try_from(path.len()))
        else {
            debug_assert!(false, "pattern longer than Pattern::parse allows");
            return;
        };
        debug_assert!(path_len & EXACT == 0, "path longer than Pattern::parse allows");
        if self.values.last() != Some(&value) {
            self.values.push(value);
        }
        // Policies are capped at 16 MiB of JSON, so counts and offsets fit in u32.
        let index = self.patterns.len() as u32;
        let start = self.text.len() as u32;
        self.text.push_str(pattern.host());
        self.text.push_str(path);
        let exact = if pattern.is_exact() { EXACT } else { 0 };
        self.patterns.push(Packed {
            start,
            next: NONE,
            value: self.values.len() as u32 - 1,
            host_len,
            path_len_exact: path_len | exact,
        });
        let h = hash(pattern.host());
        let Self { text, patterns, table, .. } = self;
        let host_of = |i: u32| {
            let p = &patterns[i as usize];
            &text[p.start as usize..p.start as usize + usize::from(p.host_len)]
        };
        match table.find(h, |&i| host_of(i) == pattern.host()) {
            Some(&head) => {
                // Within one host: longer paths (more specific) first; ties keep insertion order.
                let longer_or_equal =
                    |i: u32| patterns[i as usize].path_len_exact & !EXACT >= path_len;
                if !longer_or_equal(head) {
                    patterns[index as usize].next = head;
                    if let Some(slot) = table.find_mut(h, |&i| i == head) {
                        *slot = index;
                    }
                } else {
                    let mut at = head;
                    while patterns[at as usize].next != NONE
                        && longer_or_equal(patterns[at as usize].next)
                    {
                        at = patterns[at as usize].next;
                    }
                    patterns[index as usize].next = patterns[at as usize].next;
                    patterns[at as usize].next = index;
                }
            }
            None => {
                let (text, patterns) = (&*text, &*patterns);
                table.insert_unique(h, index, |&i| {
                    let p = &patterns[i as usize];
                    hash(&text[p.start as usize..p.start as usize + usize::from(p.host_len)])
                });
                if self.table.len() * FILTER_BITS_PER_HOST > self.present.len() * 64 {
                    self.rebuild_filter();
                } else {
                    self.mark(h);
                }
            }
        }
    }

    /// Releases the growth slack once every pattern is in (policies are built once, used long).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.patterns.shrink_to_fit();
        self.values.shrink_to_fit();
        let Self { text, patterns, table, .. } = self;
        table.shrink_to_fit(|&i| {
            let p = &patterns[i as usize];
            hash(&text[p.start as usize..p.start as usize + usize::from(p.host_len)])
        });
    }

    fn rebuild_filter(&mut self) {
        let bits = (self.table.len() * FILTER_BITS_PER_HOST).next_power_of_two().max(1024);
        self.present = vec![0; bits / 64];
        let hashes: Vec<u64> = self.table.iter().map(|&i| hash(self.pattern(i).host)).collect();
        for h in hashes {
            self.mark(h);
        }
    }
}

impl<T> Matcher<T> {
    /// The filter word and bit for a hash (Fibonacci hashing of the whole value: FxHasher's
    /// output is only 32 bits wide on wasm32).
    fn slot(&self, hash: u64) -> (usize, u64) {
        let bits = self.present.len() * 64; // a power of two
        let mixed = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let index = (mixed >> (64 - bits.trailing_zeros())) as usize;
        (index / 64, 1 << (index % 64))
    }

    fn mark(&mut self, hash: u64) {
        let (word, bit) = self.slot(hash);
        self.present[word] |= bit;
    }

    fn pattern(&self, i: u32) -> PatternRef<'_> {
        let p = &self.patterns[i as usize];
        let start = p.start as usize;
        let host_end = start + usize::from(p.host_len);
        let path_len = usize::from(p.path_len_exact & !EXACT);
        PatternRef {
            host: &self.text[start..host_end],
            exact: p.path_len_exact & EXACT != 0,
            path: (path_len > 0).then(|| &self.text[host_end..host_end + path_len]),
        }
    }

    /// How many patterns were inserted.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.patterns.len()
    }

    /// The most specific match: the longest matching host suffix, then the longest path prefix.
    pub(crate) fn find(&self, host: &str, path: &str) -> Option<(PatternRef<'_>, &T)> {
        if self.present.is_empty() {
            return None;
        }
        let mut suffix = host;
        loop {
            let h = hash(suffix);
            let (word, bit) = self.slot(h);
            let head = if self.present[word] & bit == 0 {
                None
            } else {
                self.table.find(h, |&i| self.pattern(i).host == suffix)
            };
            let mut at = head.copied().unwrap_or(NONE);
            while at != NONE {
                let p = self.pattern(at);
                if (!p.exact || suffix.len() == host.len())
                    && p.path.is_none_or(|q| path_within(path, q))
                {
                    debug_assert!(host_within(host, p.host));
                    let value = &self.values[self.patterns[at as usize].value as usize];
                    return Some((p, value));
                }
                at = self.patterns[at as usize].next;
            }
            // A pattern's host always has a dot (a bare `com` is refused as too broad), so a
            // suffix without one cannot match: stop before looking up the top-level label.
            // (Byte loops: host labels are short, and `str`'s searchers cost more to set up.)
            let dot = suffix.bytes().position(|b| b == b'.')?;
            let rest = &suffix[dot + 1..];
            if !rest.bytes().any(|b| b == b'.') {
                return None;
            }
            suffix = rest;
        }
    }

    /// Every pattern with its value, in a deterministic order (host, then pattern).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PatternRef<'_>, &T)> {
        let mut all: Vec<_> = (0..self.patterns.len() as u32)
            .map(|i| (self.pattern(i), &self.values[self.patterns[i as usize].value as usize]))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
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
