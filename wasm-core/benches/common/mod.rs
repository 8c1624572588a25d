//! The benchmark workload shared by every bench target: 100,000 URLs, a 100,000-host policy.
//!
//! Both are generated deterministically from the top-100k popularity list and the catalogue.
//!
//! One generator, written once. The Node harness (`tests/wasm/bench.mjs`) does not regenerate it:
//! the `compare` bench target writes it to files (`workload.txt`, `policy-100k.json`) that the
//! harness reads, so native and wasm are measured on byte-identical input.
//!
//! Mix (fixed LCG, no randomness crate, same output on every machine):
//! - 85 % background: `https://<sub><domain><path>` with `<domain>` from the top-100k list;
//! - 5 % extra-rule hosts: `https://share<i>.<domain i>/…`, uncategorised under the default
//!   policy and categorised by the 100k-host policy (so that policy's index is hit, not only
//!   missed);
//! - 10 % catalogue: a host (and path prefix) from a catalogue pattern, with subdomain and path
//!   variations.

// Each bench target includes this module and uses a different subset of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gatehouse_core::Pattern;

/// URLs in the workload.
pub const WORKLOAD_LEN: usize = 100_000;
/// Extra hosts in the big policy's `rules`.
pub const EXTRA_HOSTS: usize = 100_000;
/// The `now` every decision is made at (2027-01-15T08:00Z; after any adaptation date).
pub const NOW_MS: i64 = 1_800_000_000_000;
/// The block page the rule compiler redirects to.
pub const BLOCK_PAGE: &str = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/block.html";

const SEED: u64 = 0x6761_7465_686f_7573; // "gatehous"

/// Knuth's MMIX linear congruential generator; the high bits are good enough to pick from lists.
pub struct Lcg(u64);

impl Lcg {
    /// A generator with the workload's fixed seed.
    pub fn new() -> Self {
        Self(SEED)
    }

    /// The next 31 pseudo-random bits.
    pub fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SUBDOMAINS: [&str; 9] = ["", "", "www.", "www.", "m.", "api.", "cdn.", "login.", "en."];
const PATHS: [&str; 10] = [
    "/",
    "/index.html",
    "/search?q=rust+wasm&hl=en",
    "/news/2026/03/15/story-48213.html",
    "/static/js/app.3f9a1c.min.js",
    "/login?next=%2Fhome",
    "/en-us/products/item/12345",
    "/api/v2/items?id=42&sort=desc",
    "/%E4%B8%AD%E6%96%87/page",
    "/a/b/c/d/e/f",
];
const PATH_TAILS: [&str; 4] = ["", "/", "/inbox/0", "?tab=1"];

/// The popularity list, one registrable domain per line.
pub struct Domains {
    /// The domains, in rank order.
    pub list: Vec<String>,
    /// Where they were read from.
    pub source: PathBuf,
}

/// The workspace root (`wasm-core/..`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| ".".into(), Path::to_path_buf)
}

/// Reads the top-100k list: `$GATEHOUSE_BENCH_DOMAINS` if set, else the repository's copy
/// (`tests/corpus/top/`), else the shared corpus next to the repository.
pub fn domains() -> Domains {
    let root = workspace_root();
    let candidates: Vec<PathBuf> = std::env::var_os("GATEHOUSE_BENCH_DOMAINS")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("tests/corpus/top/top100k.domains"),
            root.join("tests/corpus/top100k.domains"),
            root.join("../shared/corpus/top/top100k.domains"),
        ])
        .collect();
    for path in &candidates {
        if let Ok(text) = std::fs::read_to_string(path) {
            let list: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_ascii_lowercase)
                .collect();
            if !list.is_empty() {
                return Domains { list, source: path.clone() };
            }
        }
    }
    panic!("no top-100k domain list found; looked at {candidates:?} (set GATEHOUSE_BENCH_DOMAINS)");
}

/// Every catalogue pattern, parsed (the catalogue is validated at build time).
pub fn catalogue_patterns() -> Vec<Pattern> {
    gatehouse_core::catalogue()
        .iter()
        .flat_map(|s| &s.patterns)
        .filter_map(|p| Pattern::parse(p).ok())
        .collect()
}

/// The host of the `i`-th extra rule of the big policy.
pub fn extra_host(domains: &[String], i: usize) -> String {
    format!("share{i}.{}", domains[i % domains.len()])
}

/// The generated workload.
pub struct Workload {
    /// The URLs, as a browser would report them.
    pub urls: Vec<String>,
    /// How many were built from catalogue patterns.
    pub catalogue_urls: usize,
    /// How many hit the big policy's extra hosts.
    pub extra_urls: usize,
}

/// The 100,000-URL workload.
pub fn workload(domains: &[String], patterns: &[Pattern]) -> Workload {
    let mut rng = Lcg::new();
    let mut urls = Vec::with_capacity(WORKLOAD_LEN);
    let (mut catalogue_urls, mut extra_urls) = (0, 0);
    for _ in 0..WORKLOAD_LEN {
        let scheme = if rng.below(20) == 0 { "http" } else { "https" };
        let url = match rng.below(100) {
            0..=9 => {
                catalogue_urls += 1;
                let p = rng.pick(patterns);
                let sub = if p.is_exact() { "" } else { *rng.pick(&SUBDOMAINS[..4]) };
                let path = match p.path() {
                    Some(prefix) => format!("{prefix}{}", rng.pick(&PATH_TAILS)),
                    None => (*rng.pick(&PATHS)).to_owned(),
                };
                format!("{scheme}://{sub}{}{path}", p.host())
            }
            10..=14 => {
                extra_urls += 1;
                let host = extra_host(domains, rng.below(EXTRA_HOSTS));
                format!("{scheme}://{host}{}", rng.pick(&PATHS))
            }
            _ => {
                let domain = rng.pick(domains);
                format!("{scheme}://{}{domain}{}", rng.pick(&SUBDOMAINS), rng.pick(&PATHS))
            }
        };
        urls.push(url);
    }
    Workload { urls, catalogue_urls, extra_urls }
}

/// A policy: the embedded default's categories plus one `rules` entry with the 100,000 extra
/// hosts (an administrator's own block list).
pub fn big_policy_json(domains: &[String]) -> String {
    let hosts: Vec<String> = (0..EXTRA_HOSTS).map(|i| extra_host(domains, i)).collect();
    serde_json::json!({
        "categories": {
            "webmail": { "mode": "block" },
            "cloud_storage": { "mode": "block" },
            "instant_messaging": { "mode": "block" }
        },
        "rules": [{
            "category": "cloud_storage",
            "service": "bench-extra",
            "name": { "en": "Benchmark extra hosts", "zh_TW": "基準測試額外主機" },
            "match": hosts
        }]
    })
    .to_string()
}

/// The same patterns as adblock network rules. Every pattern gets `$document`, because
/// adblock-rust applies a rule without a type option to sub-resources only, never to the
/// top-level navigation this benchmark asks about. Exact (`=host`) patterns become `||host^` too:
/// the workload never puts a subdomain in front of them, so both engines see the same hits.
pub fn adblock_rules(patterns: &[Pattern], extra: &[String]) -> String {
    let mut list = String::new();
    for p in patterns {
        list.push_str("||");
        list.push_str(p.host());
        if let Some(path) = p.path() {
            list.push_str(path);
        }
        list.push_str("^$document\n");
    }
    for host in extra {
        list.push_str("||");
        list.push_str(host);
        list.push_str("^$document\n");
    }
    list
}

/// adblock-rust without its `embedded-domain-resolver` feature needs a resolver for the
/// registrable domain. This one takes the last two labels: cheaper than a public-suffix lookup,
/// so if anything it flatters adblock. Only used for first/third-party checks, which the rules
/// here do not have.
pub struct LastTwoLabels;

impl adblock::url_parser::ResolvesDomain for LastTwoLabels {
    fn get_host_domain(&self, host: &str) -> (usize, usize) {
        let start = host.rmatch_indices('.').nth(1).map_or(0, |(i, _)| i + 1);
        (start, host.len())
    }
}

/// Installs [`LastTwoLabels`] (once per process).
pub fn install_adblock_resolver() {
    // Already set is fine: the same resolver.
    let _ = adblock::url_parser::set_domain_resolver(Box::new(LastTwoLabels));
}

/// An adblock engine over `rules` (a filter list, one rule a line).
pub fn adblock_engine(rules: &str) -> adblock::Engine {
    install_adblock_resolver();
    let mut set = adblock::lists::FilterSet::new(false);
    set.add_filter_list(rules.to_owned(), adblock::lists::ParseOptions::default());
    adblock::Engine::new_with_filter_set(set)
}

/// adblock's answer to "is this URL in the list" for a top-level navigation.
pub fn adblock_blocks(engine: &adblock::Engine, url: &str) -> bool {
    adblock::request::Request::new(url, "", "document", "GET")
        .is_ok_and(|r| engine.check_network_request(&r).should_block())
}

/// The decision context of every benchmark: no identity or network facts (in scope), at [`NOW_MS`].
pub fn context() -> gatehouse_core::Context {
    gatehouse_core::Context { now_ms: NOW_MS, ..Default::default() }
}

/// Gatehouse's answer to the same question: parse, decide, blocked?
pub fn gatehouse_blocks(
    policy: &gatehouse_core::Policy,
    context: &gatehouse_core::Context,
    url: &str,
) -> bool {
    gatehouse_core::Request::new(url, gatehouse_core::ResourceType::MainFrame)
        .is_ok_and(|r| gatehouse_core::decide(policy, context, &r).is_blocked())
}

/// How far the two engines agree on the workload: (Gatehouse hits, adblock hits, the URLs where
/// they differ). A benchmark comparing engines that answer different questions would be void.
pub fn agreement(
    policy: &gatehouse_core::Policy,
    engine: &adblock::Engine,
    urls: &[String],
) -> (usize, usize, Vec<String>) {
    let ctx = context();
    let (mut gatehouse, mut adblock, mut differ) = (0, 0, Vec::new());
    for url in urls {
        let (g, a) = (gatehouse_blocks(policy, &ctx, url), adblock_blocks(engine, url));
        gatehouse += usize::from(g);
        adblock += usize::from(a);
        if g != a {
            differ.push(url.clone());
        }
    }
    (gatehouse, adblock, differ)
}

/// Prints the agreement line (and a few disagreeing URLs) to stderr.
pub fn report_agreement(label: &str, result: &(usize, usize, Vec<String>)) {
    let (g, a, differ) = result;
    eprintln!(
        "{label}: Gatehouse blocks {g}, adblock blocks {a}, {} URLs differ{}",
        differ.len(),
        if differ.is_empty() {
            String::new()
        } else {
            format!(", e.g. {:?}", &differ[..differ.len().min(5)])
        }
    );
}
