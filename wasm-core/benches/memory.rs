//! Heap retained by a compiled policy against an adblock-rust engine with the same rules.
//!
//! Measured with a counting global allocator (a plain `main`, no criterion).
//!
//! `cargo bench -p gatehouse-core --bench memory` prints a table. "Retained" is the growth of live
//! heap bytes across construction, once the inputs (policy JSON, filter-list text) and every
//! temporary are dropped; "peak" is the most the construction had live at once above that start.
//! The embedded catalogue (a process-wide static shared by every policy) is loaded before
//! measuring and reported on its own line. With `--json` the table is also printed as one line
//! `GATEHOUSE_BENCH_MEMORY {…}` for `tests/wasm/bench.mjs`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_core::Policy;

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only the counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (that is, by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is valid per the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Retained and peak bytes of building `T`; the value is returned so it stays alive.
fn measure<T>(build: impl FnOnce() -> T) -> (T, usize, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let value = build();
    let retained = LIVE.load(Ordering::Relaxed).saturating_sub(start);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(start);
    (value, retained, peak)
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let json_out = std::env::args().any(|a| a == "--json");
    // The catalogue static is shared by all policies: load it first (before anything else
    // touches it), and report it apart.
    let ((), catalogue, _) = measure(|| {
        gatehouse_core::catalogue();
    });
    let domains = common::domains();
    let patterns = common::catalogue_patterns();
    let extra: Vec<String> =
        (0..common::EXTRA_HOSTS).map(|i| common::extra_host(&domains.list, i)).collect();
    let big_json = common::big_policy_json(&domains.list);
    let catalogue_rules = common::adblock_rules(&patterns, &[]);
    let big_rules = common::adblock_rules(&patterns, &extra);
    common::install_adblock_resolver();

    let (default_policy, g_default, g_default_peak) = measure(Policy::embedded_default);
    let (big_policy, g_big, g_big_peak) =
        measure(|| Policy::from_json(&big_json).expect("the big policy parses").policy);
    let (a_catalogue_engine, a_catalogue, a_catalogue_peak) =
        measure(|| common::adblock_engine(&catalogue_rules));
    let (a_big_engine, a_big, a_big_peak) = measure(|| common::adblock_engine(&big_rules));

    println!("heap retained after construction (counting allocator; inputs excluded)");
    println!("{:<44} {:>12} {:>12}", "", "retained", "peak");
    println!(
        "{:<44} {:>12} {:>12}",
        "gatehouse embedded catalogue (static, shared)",
        mib(catalogue),
        ""
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "gatehouse Policy: default",
        mib(g_default),
        mib(g_default_peak)
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "adblock Engine: catalogue rules",
        mib(a_catalogue),
        mib(a_catalogue_peak)
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "gatehouse Policy: default + 100k hosts",
        mib(g_big),
        mib(g_big_peak)
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "adblock Engine: catalogue + 100k hosts",
        mib(a_big),
        mib(a_big_peak)
    );
    println!(
        "ratio gatehouse/adblock, 100k hosts: retained {:.2}x (goal < 1), peak {:.2}x",
        g_big as f64 / a_big as f64,
        g_big_peak as f64 / a_big_peak as f64
    );
    if json_out {
        println!(
            "GATEHOUSE_BENCH_MEMORY {}",
            serde_json::json!({
                "catalogueStaticBytes": catalogue,
                "gatehouseDefaultBytes": g_default,
                "gatehouseBigBytes": g_big,
                "gatehouseBigPeakBytes": g_big_peak,
                "adblockCatalogueBytes": a_catalogue,
                "adblockBigBytes": a_big,
                "adblockBigPeakBytes": a_big_peak,
            })
        );
    }
    // Keep everything alive until the numbers are taken.
    drop((default_policy, big_policy, a_catalogue_engine, a_big_engine));
}
