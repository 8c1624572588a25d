//! Criterion: `decide` per URL against adblock-rust, and compiling 100,000 extra hosts.
//!
//! adblock-rust is loaded with the same hosts as network rules (see `common::adblock_rules`).
//!
//! Each measured iteration runs the whole 100,000-URL workload (see `common/mod.rs`), so
//! criterion's time per iteration divided by 100,000 is the time per URL; the `thrpt` line gives
//! URLs per second directly. Sample counts are small so the run takes about two minutes on two
//! cores: `cargo bench -p gatehouse-core --bench decide`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use gatehouse_core::{compile_rules, decide, Policy, Request, ResourceType};

struct Setup {
    urls: Vec<String>,
    default_policy: Policy,
    big_json: String,
    big_policy: Policy,
    catalogue_rules: String,
    big_rules: String,
    adblock_catalogue: adblock::Engine,
    adblock_big: adblock::Engine,
}

fn setup() -> Setup {
    let domains = common::domains();
    let patterns = common::catalogue_patterns();
    let workload = common::workload(&domains.list, &patterns);
    eprintln!(
        "workload: {} URLs ({} catalogue, {} extra-rule hosts) from {}",
        workload.urls.len(),
        workload.catalogue_urls,
        workload.extra_urls,
        domains.source.display()
    );
    let extra: Vec<String> =
        (0..common::EXTRA_HOSTS).map(|i| common::extra_host(&domains.list, i)).collect();
    let big_json = common::big_policy_json(&domains.list);
    let big_policy = Policy::from_json(&big_json).expect("the big policy parses").policy;
    let catalogue_rules = common::adblock_rules(&patterns, &[]);
    let big_rules = common::adblock_rules(&patterns, &extra);
    let setup = Setup {
        default_policy: Policy::embedded_default(),
        adblock_catalogue: common::adblock_engine(&catalogue_rules),
        adblock_big: common::adblock_engine(&big_rules),
        urls: workload.urls,
        big_json,
        big_policy,
        catalogue_rules,
        big_rules,
    };
    common::report_agreement(
        "catalogue",
        &common::agreement(&setup.default_policy, &setup.adblock_catalogue, &setup.urls),
    );
    common::report_agreement(
        "catalogue + 100k hosts",
        &common::agreement(&setup.big_policy, &setup.adblock_big, &setup.urls),
    );
    setup
}

fn per_url(c: &mut Criterion, s: &Setup) {
    let ctx = common::context();
    let mut group = c.benchmark_group("per_url");
    group.throughput(Throughput::Elements(s.urls.len() as u64));
    group.sampling_mode(SamplingMode::Flat);

    // Parse + decide: what the service worker does for each navigation it observes.
    for (name, policy) in [
        ("gatehouse_decide/catalogue", &s.default_policy),
        ("gatehouse_decide/catalogue+100k", &s.big_policy),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut blocked = 0usize;
                for url in &s.urls {
                    if let Ok(request) = Request::new(url, ResourceType::MainFrame) {
                        blocked += usize::from(decide(policy, &ctx, &request).is_blocked());
                    }
                }
                black_box(blocked)
            })
        });
    }
    for (name, engine) in [
        ("adblock_check/catalogue", &s.adblock_catalogue),
        ("adblock_check/catalogue+100k", &s.adblock_big),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let blocked = s.urls.iter().filter(|u| common::adblock_blocks(engine, u)).count();
                black_box(blocked)
            })
        });
    }

    // The two halves separately, to see where the time goes.
    group.bench_function("gatehouse_parse_only", |b| {
        b.iter(|| {
            for url in &s.urls {
                black_box(Request::new(url, ResourceType::MainFrame).ok());
            }
        })
    });
    group.bench_function("adblock_parse_only", |b| {
        b.iter(|| {
            for url in &s.urls {
                black_box(adblock::request::Request::new(url, "", "document", "GET").ok());
            }
        })
    });
    let requests: Vec<Request> =
        s.urls.iter().filter_map(|u| Request::new(u, ResourceType::MainFrame).ok()).collect();
    group.bench_function("gatehouse_decide_preparsed/catalogue+100k", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(decide(&s.big_policy, &ctx, request).is_blocked());
            }
        })
    });
    group.bench_function("gatehouse_classify_preparsed/catalogue+100k", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(s.big_policy.classify(request).is_some());
            }
        })
    });
    let adblock_requests: Vec<adblock::request::Request> = s
        .urls
        .iter()
        .filter_map(|u| adblock::request::Request::new(u, "", "document", "GET").ok())
        .collect();
    group.bench_function("adblock_check_preparsed/catalogue+100k", |b| {
        b.iter(|| {
            for request in &adblock_requests {
                black_box(s.adblock_big.check_network_request(request).should_block());
            }
        })
    });
    group.finish();
}

fn compile(c: &mut Criterion, s: &Setup) {
    let ctx = common::context();
    let mut group = c.benchmark_group("compile_100k_hosts");
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("gatehouse_policy_from_json", |b| {
        b.iter(|| black_box(Policy::from_json(&s.big_json).map(|p| p.warnings.len()).ok()))
    });
    group.bench_function("gatehouse_compile_rules", |b| {
        b.iter(|| black_box(compile_rules(&s.big_policy, &ctx, common::BLOCK_PAGE).rules.len()))
    });
    group.bench_function("adblock_engine_from_rules", |b| {
        b.iter(|| black_box(common::adblock_engine(&s.big_rules)))
    });
    group.bench_function("adblock_engine_from_rules/catalogue_only", |b| {
        b.iter(|| black_box(common::adblock_engine(&s.catalogue_rules)))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let s = setup();
    per_url(c, &s);
    compile(c, &s);
}

criterion_group! {
    name = group;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);
