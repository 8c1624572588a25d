//! The compliance overview's page time on a large history (not a timed test): seeds N requests
//! (default 200,000; `-- --rows N`) into SQLite and a throwaway PostgreSQL and times
//! `GET /desk/overview` in-process, for an approver of every category and for one of one
//! category: the first call and the median of five more.
//!
//! `cargo bench -p gatehouse-approval --bench overview` (add `-- sqlite` or `-- postgres`).

#[path = "../tests/common.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use gatehouse_approval::config::Database;
use gatehouse_approval::server::now_ms;

async fn run(label: &str, db: &Database, rows: usize) {
    let h = common::Harness::new(db).await;
    let start = Instant::now();
    common::seed(db, rows, now_ms()).await;
    println!("{label}: seeded {rows} requests in {:.1} s", start.elapsed().as_secs_f64());
    for (who, user) in
        [("every category", "bob@CORP.EXAMPLE"), ("one category", "carol@CORP.EXAMPLE")]
    {
        let mut times = Vec::new();
        for _ in 0..6 {
            let start = Instant::now();
            let (status, page) = h.page(Some(user), "/desk/overview").await;
            times.push(start.elapsed());
            assert_eq!(status, StatusCode::OK, "{page}");
        }
        let first = times.remove(0);
        times.sort();
        println!(
            "{label}: overview for an approver of {who}: first {:.0} ms, median of 5 {:.0} ms",
            ms(first),
            ms(times[2])
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let which = |name: &str| {
        !args.iter().any(|a| a == "sqlite" || a == "postgres") || args.iter().any(|a| a == name)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        if which("sqlite") {
            let (db, _dir) = common::sqlite();
            run("SQLite", &db, rows).await;
        }
        if which("postgres") {
            let pg = common::Postgres::start();
            run("PostgreSQL", &pg.database("overview").await, rows).await;
        }
    });
}
