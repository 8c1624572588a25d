//! Quick native numbers for one run, and the workload files the Node wasm harness reads.
//!
//! It measures Gatehouse against adblock-rust per URL and the compile times for 100,000 hosts.
//!
//! `cargo bench -p gatehouse-core --bench compare [-- --out DIR]` writes into DIR (default
//! `target/gatehouse-bench/`):
//! - `workload.txt`: the 100,000 URLs of `common/mod.rs`, one per line;
//! - `policy-100k.json`: the default categories plus 100,000 extra hosts;
//! - `native.json`: the numbers below, also printed as one line `GATEHOUSE_BENCH_NATIVE {…}`.
//!
//! Timing: two warm-up rounds, then nine rounds over the whole workload, the engines interleaved
//! round by round so that machine noise hits them alike; the median round divided by the URL
//! count is the time per URL. `tests/wasm/bench.mjs` measures the wasm build the same way.
//! criterion (`--bench decide`) gives the same comparisons with confidence intervals.

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use gatehouse_core::{
    compile_rules, decide, Action, Engine, Parsed, Policy, Request, ResourceType,
};

const WARM_UP_ROUNDS: usize = 2;
const ROUNDS: usize = 9;
const COMPILE_ROUNDS: usize = 5;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Nanoseconds one call of `f` takes, median of `rounds`.
fn time_ns(rounds: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_nanos() as f64
            })
            .collect(),
    )
}

fn out_dir() -> PathBuf {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--out" {
            if let Some(dir) = args.next() {
                return dir.into();
            }
        }
    }
    common::workspace_root().join("target/gatehouse-bench")
}

fn main() -> std::io::Result<()> {
    let out = out_dir();
    let domains = common::domains();
    let patterns = common::catalogue_patterns();
    let workload = common::workload(&domains.list, &patterns);
    let urls = &workload.urls;
    let extra: Vec<String> =
        (0..common::EXTRA_HOSTS).map(|i| common::extra_host(&domains.list, i)).collect();
    let big_json = common::big_policy_json(&domains.list);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("workload.txt"), urls.join("\n") + "\n")?;
    std::fs::write(out.join("policy-100k.json"), &big_json)?;

    let ctx = common::context();
    let default_policy = Policy::embedded_default();
    let big_policy = Policy::from_json(&big_json).expect("the big policy parses").policy;
    let big_rules = common::adblock_rules(&patterns, &extra);
    let adblock_catalogue = common::adblock_engine(&common::adblock_rules(&patterns, &[]));
    let adblock_big = common::adblock_engine(&big_rules);

    let agree_catalogue = common::agreement(&default_policy, &adblock_catalogue, urls);
    let agree_big = common::agreement(&big_policy, &adblock_big, urls);
    common::report_agreement("catalogue", &agree_catalogue);
    common::report_agreement("catalogue + 100k hosts", &agree_big);

    let gatehouse = |policy: &Policy| {
        let mut blocked = 0usize;
        for url in urls {
            if let Ok(request) = Request::new(url, ResourceType::MainFrame) {
                blocked += usize::from(decide(policy, &ctx, &request).is_blocked());
            }
        }
        black_box(blocked);
    };
    // The service worker's question (`check`): the engine's brief verdict, the context set once.
    let engine = |policy: &Policy| {
        let mut engine =
            Engine::from_parsed(Parsed { policy: policy.clone(), warnings: Vec::new() });
        engine.set_context(ctx.clone());
        engine
    };
    let (default_engine, big_engine) = (engine(&default_policy), engine(&big_policy));
    let brief = |engine: &Engine| {
        let mut stopped = 0usize;
        for url in urls {
            if let Ok(request) = Request::new(url, ResourceType::MainFrame) {
                let action = engine.brief(&request, ctx.now_ms).action;
                stopped += usize::from(matches!(action, Action::Block | Action::Warn));
            }
        }
        black_box(stopped);
    };
    let adblock = |engine: &adblock::Engine| {
        black_box(urls.iter().filter(|u| common::adblock_blocks(engine, u)).count());
    };
    let mut samples: [Vec<f64>; 6] = Default::default();
    for round in 0..WARM_UP_ROUNDS + ROUNDS {
        let runs: [&dyn Fn(); 6] = [
            &|| gatehouse(&default_policy),
            &|| gatehouse(&big_policy),
            &|| adblock(&adblock_catalogue),
            &|| adblock(&adblock_big),
            &|| brief(&default_engine),
            &|| brief(&big_engine),
        ];
        for (run, sample) in runs.iter().zip(&mut samples) {
            let ns = time_ns(1, run);
            if round >= WARM_UP_ROUNDS {
                sample.push(ns / urls.len() as f64);
            }
        }
    }
    let [g_default, g_big, a_catalogue, a_big, b_default, b_big] = samples.map(median);

    let from_json_ms = time_ns(COMPILE_ROUNDS, || {
        black_box(Policy::from_json(&big_json).map(|p| p.warnings.len()).ok());
    }) / 1e6;
    let compile_rules_out = compile_rules(&big_policy, &ctx, common::BLOCK_PAGE);
    let compile_rules_ms = time_ns(COMPILE_ROUNDS, || {
        black_box(compile_rules(&big_policy, &ctx, common::BLOCK_PAGE).rules.len());
    }) / 1e6;
    let adblock_build_ms = time_ns(COMPILE_ROUNDS, || {
        black_box(common::adblock_engine(&big_rules));
    }) / 1e6;

    println!(
        "workload: {} URLs ({} catalogue, {} extra-rule hosts) from {}",
        urls.len(),
        workload.catalogue_urls,
        workload.extra_urls,
        domains.source.display()
    );
    println!("{:<46} {:>10}", "per URL (parse + decide/check), median of 9", "ns/URL");
    println!("{:<46} {:>10.1}", "gatehouse decide, default policy", g_default);
    println!("{:<46} {:>10.1}", "gatehouse decide, default + 100k hosts", g_big);
    println!("{:<46} {:>10.1}", "gatehouse brief (the worker's question), default", b_default);
    println!("{:<46} {:>10.1}", "gatehouse brief, default + 100k hosts", b_big);
    println!("{:<46} {:>10.1}", "adblock check, catalogue rules", a_catalogue);
    println!("{:<46} {:>10.1}", "adblock check, catalogue + 100k rules", a_big);
    println!(
        "adblock/gatehouse: {:.2}x (catalogue), {:.2}x (100k hosts) — goal >= 2x",
        a_catalogue / g_default,
        a_big / g_big
    );
    println!(
        "compile, 100k extra hosts: Policy::from_json {from_json_ms:.1} ms, \
         compile_rules {compile_rules_ms:.1} ms ({} rules, overflow {:?}); \
         adblock Engine from the same rules {adblock_build_ms:.1} ms",
        compile_rules_out.rules.len(),
        compile_rules_out.overflow
    );
    let summary = serde_json::json!({
        "urls": urls.len(),
        "catalogueUrls": workload.catalogue_urls,
        "extraUrls": workload.extra_urls,
        "domainsSource": domains.source.display().to_string(),
        "gatehouseDecideNsPerUrl": g_default,
        "gatehouseDecideBigNsPerUrl": g_big,
        "gatehouseBriefNsPerUrl": b_default,
        "gatehouseBriefBigNsPerUrl": b_big,
        "adblockCheckNsPerUrl": a_catalogue,
        "adblockCheckBigNsPerUrl": a_big,
        "gatehouseBlocked": agree_catalogue.0,
        "adblockBlocked": agree_catalogue.1,
        "disagreements": agree_catalogue.2.len(),
        "gatehouseBlockedBig": agree_big.0,
        "adblockBlockedBig": agree_big.1,
        "disagreementsBig": agree_big.2.len(),
        "policyFromJsonMs": from_json_ms,
        "compileRulesMs": compile_rules_ms,
        "compiledRules": compile_rules_out.rules.len(),
        "adblockEngineBuildMs": adblock_build_ms,
    });
    std::fs::write(out.join("native.json"), summary.to_string() + "\n")?;
    println!("GATEHOUSE_BENCH_NATIVE {summary}");
    Ok(())
}
