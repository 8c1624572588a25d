//! The embedded service catalogue measured against real public lists (`tests/corpus/README.md`):
//! enterprise Microsoft 365 endpoints must never be categorised, every categorised domain among
//! the 10,000 most popular must be a known category service, and recall on the v2fly category
//! lists (minus `noise.txt`) must not regress.
//!
//! Run with `cargo test -p gatehouse-core --test integration corpus -- --nocapture` to see the numbers.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_core::{catalogue, Pattern, Policy, Request, ResourceType};

const MS365: [(&str, &str, usize); 6] = [
    ("All", include_str!("../../../tests/corpus/ms365/worldwide_All.fqdn_wildcard"), 262),
    ("Common", include_str!("../../../tests/corpus/ms365/worldwide_Common.fqdn_wildcard"), 162),
    ("Exchange", include_str!("../../../tests/corpus/ms365/worldwide_Exchange.fqdn_wildcard"), 9),
    ("MEM", include_str!("../../../tests/corpus/ms365/worldwide_MEM.fqdn_wildcard"), 73),
    (
        "SharePoint",
        include_str!("../../../tests/corpus/ms365/worldwide_SharePoint.fqdn_wildcard"),
        10,
    ),
    ("Skype", include_str!("../../../tests/corpus/ms365/worldwide_Skype.fqdn_wildcard"), 12),
];

const TOP: &str = include_str!("../../../tests/corpus/top/top100k.domains");
const TOP_N: usize = 10_000;
const TOP_IN_CATEGORY: &str = include_str!("../../../tests/corpus/top-in-category.txt");
const NOISE: &str = include_str!("../../../tests/corpus/noise.txt");
/// Google endpoints shared by Workspace tenants and every Google product (`# reason` per URL).
const GOOGLE_SHARED: &str = include_str!("../../../tests/corpus/google-shared.txt");
const GOOGLE_SHARED_LINES: usize = 33;

/// A v2fly list, the category it stands for, its size, and the measured recall floors
/// (entries hit directly, entries whose service the catalogue covers) on the cleaned list.
struct List {
    name: &'static str,
    text: &'static str,
    category: &'static str,
    lines: usize,
    min_direct: usize,
    min_covered: usize,
}

const LISTS: [List; 4] = [
    List {
        name: "im_communication",
        text: include_str!("../../../tests/corpus/v2fly/im_communication.domains"),
        category: "instant_messaging",
        lines: 148,
        min_direct: 9,
        min_covered: 20,
    },
    List {
        name: "netdisk_intl",
        text: include_str!("../../../tests/corpus/v2fly/netdisk_intl.domains"),
        category: "cloud_storage",
        lines: 45,
        min_direct: 20,
        min_covered: 20,
    },
    List {
        name: "netdisk_cn",
        text: include_str!("../../../tests/corpus/v2fly/netdisk_cn.domains"),
        category: "cloud_storage",
        lines: 91,
        min_direct: 66,
        min_covered: 66,
    },
    List {
        name: "mail_services",
        text: include_str!("../../../tests/corpus/v2fly/mail_services.domains"),
        category: "webmail",
        lines: 34,
        min_direct: 3,
        min_covered: 11,
    },
];

/// Non-empty lines with any `# comment` removed, trimmed.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty())
}

/// `domain  # reason` files as domain → reason; a line without a reason is a fixture bug.
fn annotated(text: &str, file: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (domain, reason) = line.split_once('#').unwrap_or((line, ""));
        let (domain, reason) = (domain.trim(), reason.trim());
        assert!(!reason.is_empty(), "{file}: {domain:?} needs a \"# reason\"");
        assert!(
            map.insert(domain.to_owned(), reason.to_owned()).is_none(),
            "{file}: {domain} twice"
        );
    }
    map
}

/// `(service id, category, matched rule)` for a URL, or `None` when not categorised.
fn classify(policy: &Policy, url: &str) -> Option<(String, String, String)> {
    let request = Request::new(url, ResourceType::MainFrame).expect("corpus URLs are valid");
    policy
        .classify(&request)
        .map(|c| (c.service.id.clone(), c.service.category.clone(), c.matched_rule))
}

/// The host itself or its `www.` form, as a user would type it.
fn classify_domain(policy: &Policy, domain: &str) -> Option<(String, String, String)> {
    classify(policy, &format!("https://{domain}/"))
        .or_else(|| classify(policy, &format!("https://www.{domain}/")))
}

fn catalogue_patterns() -> Vec<(String, Pattern)> {
    catalogue()
        .iter()
        .flat_map(|s| s.patterns.iter().map(move |p| (s.id.clone(), p)))
        .map(|(id, p)| {
            (id, Pattern::parse(p).unwrap_or_else(|e| panic!("catalogue pattern {p:?}: {e}")))
        })
        .collect()
}

/// `host` is `domain` or one of its subdomains.
fn within(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

#[test]
fn ms365_enterprise_endpoints_are_never_categorised() {
    let policy = Policy::embedded_default();
    // Probe every host at the root and at every path prefix the catalogue uses, so a path rule
    // (`/mail`, `/messages`, …) cannot slip onto an enterprise host either.
    let mut paths: BTreeSet<String> =
        catalogue_patterns().iter().filter_map(|(_, p)| p.path().map(str::to_owned)).collect();
    paths.insert("/".to_owned());

    let (mut lines, mut probes) = (0, 0);
    let mut hits = Vec::new();
    for (file, text, expected) in MS365 {
        let mut n = 0;
        for entry in entries(text) {
            n += 1;
            // `*.example.com` is the base and every subdomain; a `*` anywhere else stands for
            // one label or part of one (`autodiscover.*.onmicrosoft.com`, `*cdn.onenote.net`).
            let (wildcard, rest) = match entry.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, entry),
            };
            let base = rest.replace('*', "tenant");
            let mut hosts = vec![base.clone()];
            if wildcard {
                hosts.push(format!("x.{base}"));
            }
            for host in &hosts {
                for path in &paths {
                    probes += 1;
                    if let Some(hit) = classify(&policy, &format!("https://{host}{path}")) {
                        hits.push(format!("{file}: {entry} -> https://{host}{path} = {hit:?}"));
                    }
                }
            }
        }
        assert_eq!(n, expected, "ms365 {file}: fixture has {n} entries, expected {expected}");
        lines += n;
    }
    eprintln!("ms365: {lines} endpoint entries, {probes} URL probes, {} categorised", hits.len());
    assert!(
        hits.is_empty(),
        "enterprise Microsoft 365 endpoints categorised:\n{}",
        hits.join("\n")
    );
}

#[test]
fn google_shared_endpoints_are_never_categorised() {
    // The catalogue lists Gmail's, Drive's, Docs', Photos' and Chat's own APIs, some as paths on
    // the shared API hosts (www.googleapis.com/drive, …): every other API there stays open.
    let policy = Policy::embedded_default();
    let urls = annotated(GOOGLE_SHARED, "google-shared.txt");
    let hits: Vec<String> = urls
        .keys()
        .filter_map(|url| classify(&policy, url).map(|hit| format!("{url} = {hit:?}")))
        .collect();
    assert_eq!(urls.len(), GOOGLE_SHARED_LINES, "google-shared.txt has {} URLs", urls.len());
    eprintln!("google shared: {} URLs, {} categorised", urls.len(), hits.len());
    assert!(hits.is_empty(), "shared Google endpoints categorised:\n{}", hits.join("\n"));
}

#[test]
fn every_categorised_top_10k_domain_is_a_known_category_service() {
    let policy = Policy::embedded_default();
    let expected = annotated(TOP_IN_CATEGORY, "top-in-category.txt");

    let mut n = 0;
    let mut hits: BTreeMap<String, (usize, String, String)> = BTreeMap::new();
    for (rank, domain) in TOP.lines().take(TOP_N).enumerate() {
        n += 1;
        if let Some((id, category, _)) = classify_domain(&policy, domain.trim()) {
            hits.insert(domain.trim().to_owned(), (rank + 1, id, category));
        }
    }
    assert_eq!(n, TOP_N, "top list has only {n} lines");

    eprintln!(
        "top-10k: {} of {TOP_N} domains categorised (https://<d>/ or https://www.<d>/):",
        hits.len()
    );
    for (domain, (rank, id, category)) in &hits {
        eprintln!("  #{rank:<5} {domain:<28} {id} ({category})");
    }
    let unexpected: Vec<_> = hits.keys().filter(|d| !expected.contains_key(*d)).collect();
    assert!(
        unexpected.is_empty(),
        "categorised top-10k domains not justified in tests/corpus/top-in-category.txt \
         (a false positive, or add it with a justification): {unexpected:?}"
    );
    // The expectation list must not go stale: every entry is still a hit.
    let stale: Vec<_> = expected.keys().filter(|d| !hits.contains_key(*d)).collect();
    assert!(stale.is_empty(), "top-in-category.txt lists domains no longer categorised: {stale:?}");
}

#[test]
fn recall_on_v2fly_category_lists() {
    let policy = Policy::embedded_default();
    let noise = annotated(NOISE, "noise.txt");
    let patterns = catalogue_patterns();

    let mut seen_noise = BTreeSet::new();
    let mut failures = Vec::new();
    for list in &LISTS {
        let (mut n, mut total, mut direct, mut covered, mut other_category) = (0, 0, 0, 0, 0);
        let mut raw_covered = 0;
        let mut misses = Vec::new();
        for domain in entries(list.text) {
            n += 1;
            let hit = classify_domain(&policy, domain);
            // Covered: the catalogue names this domain or a host beneath it (the service's web
            // UI under this domain, e.g. proton.me via mail.proton.me).
            let under = patterns.iter().find(|(_, p)| within(p.host(), domain));
            if hit.is_some() || under.is_some() {
                raw_covered += 1;
            }
            if noise.contains_key(domain) {
                seen_noise.insert(domain);
                // Noise is by definition not a category web UI: the catalogue must not hit it.
                if let Some(hit) = hit {
                    failures.push(format!(
                        "{}: noise entry {domain} is categorised: {hit:?}",
                        list.name
                    ));
                }
                continue;
            }
            total += 1;
            match (&hit, under) {
                (Some((_, category, _)), _) => {
                    direct += 1;
                    covered += 1;
                    if category != list.category {
                        other_category += 1;
                    }
                }
                (None, Some(_)) => covered += 1,
                (None, None) => misses.push(domain),
            }
        }
        assert_eq!(
            n, list.lines,
            "v2fly {}: fixture has {n} entries, expected {}",
            list.name, list.lines
        );
        eprintln!(
            "v2fly {:<16} {n:>3} entries (raw coverage {raw_covered}/{n}), {total:>3} after noise: \
             direct {direct:>3}/{total} ({:.1}%), covered {covered:>3}/{total} ({:.1}%), \
             {other_category} of another category; misses: {}",
            list.name,
            100.0 * direct as f64 / total as f64,
            100.0 * covered as f64 / total as f64,
            misses.join(" "),
        );
        if direct < list.min_direct || covered < list.min_covered {
            failures.push(format!(
                "{}: recall regressed: direct {direct} (floor {}), covered {covered} (floor {})",
                list.name, list.min_direct, list.min_covered
            ));
        }
    }
    let stale: Vec<_> = noise.keys().filter(|d| !seen_noise.contains(d.as_str())).collect();
    if !stale.is_empty() {
        failures.push(format!("noise.txt entries in none of the lists: {stale:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_catalogue_pattern_classifies_as_its_own_service() {
    // A pattern shadowed by another service's (more specific) pattern would silently change
    // what the block page says; probe each pattern's own host and path.
    let policy = Policy::embedded_default();
    let mut wrong = Vec::new();
    let patterns = catalogue_patterns();
    for (id, pattern) in &patterns {
        let url = format!("https://{}{}", pattern.host(), pattern.path().unwrap_or("/"));
        match classify(&policy, &url) {
            Some((got, _, _)) if &got == id => {}
            other => wrong.push(format!("{pattern} ({id}): {url} -> {other:?}")),
        }
    }
    eprintln!("catalogue: {} services, {} patterns", catalogue().len(), patterns.len());
    assert!(
        wrong.is_empty(),
        "patterns not classified as their own service:\n{}",
        wrong.join("\n")
    );
}
