//! Load benchmark (not a timed test): the desk on loopback, simulated desktops polling the
//! revocation list (answered 304) and their requests' status, plus a stream of new requests.
//! Bounded: a few seconds per phase, 32 connections. Reports requests/s, p50 and p99 and the
//! error count, on SQLite (WAL, synchronous FULL) and on a throwaway PostgreSQL (fsync on).
//!
//! `cargo bench -p gatehouse-approval --bench load` (add `-- sqlite` or `-- postgres` for one).

#[path = "../tests/common.rs"]
#[allow(dead_code)]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_approval::config::Database;
use gatehouse_approval::server::{now_ms, router, Limits};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 32;
const PHASE: Duration = Duration::from_secs(5);

/// One keep-alive HTTP/1.1 connection: sends a request, reads the status and the body.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self { stream: BufReader::new(stream) }
    }

    async fn send(&mut self, request: &str) -> std::io::Result<u16> {
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok(status)
    }
}

struct Outcome {
    latencies: Vec<Duration>,
    errors: usize,
}

fn report(name: &str, wall: Duration, mut o: Outcome) {
    o.latencies.sort();
    let n = o.latencies.len();
    let pct = |p: f64| {
        o.latencies
            .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{name:<58} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
        n as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        o.errors
    );
}

/// Runs `CONNECTIONS` clients for `PHASE`, each sending what `pick(i, n)` returns with the
/// status it expects: as fast as answers come, or with `rate` (requests/s in all) on a fixed
/// schedule, latency then counted from the scheduled moment so that a slow answer is not hidden
/// by the requests it held back.
async fn phase<F>(port: u16, rate: Option<f64>, pick: F) -> (Duration, Outcome)
where
    F: Fn(usize, usize) -> (String, u16) + Send + Sync + 'static,
{
    let pick = Arc::new(pick);
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let pick = Arc::clone(&pick);
            tokio::spawn(async move {
                let mut client = Client::connect(port).await;
                let mut out = Outcome { latencies: Vec::new(), errors: 0 };
                let mut n = 0;
                while start.elapsed() < PHASE {
                    let t = match rate {
                        Some(rate) => {
                            let due = start
                                + Duration::from_secs_f64((n * CONNECTIONS + c) as f64 / rate);
                            tokio::time::sleep_until(due.into()).await;
                            due
                        }
                        None => Instant::now(),
                    };
                    let (request, expected) = pick(c, n);
                    n += 1;
                    match client.send(&request).await {
                        Ok(s) if s == expected => out.latencies.push(t.elapsed()),
                        _ => {
                            out.errors += 1;
                            client = Client::connect(port).await;
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut all = Outcome { latencies: Vec::new(), errors: 0 };
    for t in tasks {
        let o = t.await.unwrap();
        all.latencies.extend(o.latencies);
        all.errors += o.errors;
    }
    (start.elapsed(), all)
}

async fn run(label: &str, db: &Database) {
    let limits = Limits { max_body_bytes: 16 * 1024, requests_per_hour: 1_000_000 };
    let h = common::Harness::with(db, limits, None).await;
    let app = Arc::clone(&h.app);
    // 2,000 requests: half approved, 200 of those revoked.
    let mut ids = Vec::new();
    for i in 0..2000 {
        let (_, body) = h.post(&common::record(&format!("load-{i}"))).await;
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        app.desk.approve(id, "bob", 7, now_ms()).await.unwrap();
        if i % 10 == 0 {
            app.desk.revoke(id, "bob", now_ms()).await.unwrap();
        }
    }
    let (etag, _) = app.desk.revocations(now_ms()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, router(app)).await });

    let revocations =
        format!("GET /api/revocations HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n");
    let (wall, o) = phase(port, None, move |_, _| (revocations.clone(), 304)).await;
    report(&format!("{label}: revocation list, 304"), wall, o);

    let ids = Arc::new(ids);
    let status_ids = Arc::clone(&ids);
    let (wall, o) = phase(port, None, move |c, n| {
        let id = &status_ids[(c * 7919 + n) % status_ids.len()];
        (format!("GET /api/requests/{id} HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
    })
    .await;
    report(&format!("{label}: status polls"), wall, o);

    // Mixed: 90 % status, 9 % revocation list, 1 % new requests; at full speed, then at the
    // 1,000 requests/s a large department's desktops make.
    let (etag, _) = h.app.desk.revocations(now_ms()).await.unwrap();
    for (name, rate) in [("mixed", None), ("mixed at 1,000/s", Some(1000.0))] {
        let (etag, ids) = (etag.clone(), Arc::clone(&ids));
        let (wall, o) = phase(port, rate, move |c, n| match n % 100 {
            0 => {
                let body = common::record(&format!("{name}-{c}-{n}")).to_string();
                (
                    format!("POST /api/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
                    201,
                )
            }
            1..=9 => (format!("GET /api/revocations HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n"), 304),
            _ => {
                let id = &ids[(c * 7919 + n) % ids.len()];
                (format!("GET /api/requests/{id} HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
            }
        })
        .await;
        report(&format!("{label}: {name} (90% status, 9% list, 1% new)"), wall, o);
    }
    server.abort();
    h.app.desk.store.close().await;
}

fn main() {
    let which = std::env::args().skip(1).find(|a| a == "sqlite" || a == "postgres");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        println!(
            "{CONNECTIONS} keep-alive connections on loopback, {} s per phase, 2 worker threads",
            PHASE.as_secs()
        );
        if which.as_deref() != Some("postgres") {
            let (db, _dir) = common::sqlite();
            run("SQLite", &db).await;
        }
        if which.as_deref() != Some("sqlite") {
            // Commits synced, as SQLite's are: the tests' server skips that.
            let pg = common::Postgres::start_with_fsync(true);
            let db = pg.database("load").await;
            run("PostgreSQL", &db).await;
        }
    });
}
