//! Criterion benchmarks of the real host over pipes: a request's round trip on a long-lived port, and process start to first reply.
//!
//! Goals (issue 3): round trip p50 < 1 ms; start to first reply < 20 ms. Besides criterion's
//! estimates, the round-trip bench prints p50/p99 over a fixed sample, since the goal is a median.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

const HOST: &str = env!("CARGO_BIN_EXE_gatehouse-host");

struct Port {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

fn spawn(dir: &Path) -> Port {
    let mut child = Command::new(HOST)
        .env("GATEHOUSE_APPROVALS_DIR", dir.join("machine"))
        .env("GATEHOUSE_USER_APPROVALS_DIR", dir.join("user"))
        .env("GATEHOUSE_AUDIT_DIR", dir.join("audit"))
        .env("GATEHOUSE_SYSLOG", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gatehouse-host");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    Port { child, stdin, stdout }
}

fn frame(body: &str) -> Vec<u8> {
    let mut out = (body.len() as u32).to_ne_bytes().to_vec();
    out.extend_from_slice(body.as_bytes());
    out
}

impl Port {
    fn round_trip(&mut self, request: &[u8], buf: &mut Vec<u8>) {
        self.stdin.write_all(request).expect("write");
        self.stdin.flush().expect("flush");
        let mut len = [0u8; 4];
        self.stdout.read_exact(&mut len).expect("reply length");
        buf.resize(u32::from_ne_bytes(len) as usize, 0);
        self.stdout.read_exact(buf).expect("reply body");
    }

    fn close(mut self) {
        drop(self.stdin);
        let _ = self.stdout.read_to_end(&mut Vec::new());
        let _ = self.child.wait();
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99))
}

fn long_lived(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut port = spawn(tmp.path());
    let mut buf = Vec::new();
    let mut group = c.benchmark_group("long_lived_port");
    for (name, body) in [
        ("hello", r#"{"v":1,"id":1,"type":"hello"}"#),
        ("identity", r#"{"v":1,"id":2,"type":"identity"}"#),
        ("approvals_empty", r#"{"v":1,"id":3,"type":"approvals"}"#),
        (
            "audit_one_event",
            r#"{"v":1,"id":4,"type":"audit","event":{"kind":"blocked","url":"https://mail.example.com/x"}}"#,
        ),
    ] {
        let request = frame(body);
        group.bench_function(name, |b| b.iter(|| port.round_trip(&request, &mut buf)));
        let samples: Vec<Duration> = (0..2000)
            .map(|_| {
                let start = Instant::now();
                port.round_trip(&request, &mut buf);
                start.elapsed()
            })
            .collect();
        let (p50, p99) = percentiles(samples);
        eprintln!("long_lived_port/{name}: p50 {p50:?}, p99 {p99:?} over 2000 round trips");
    }
    group.finish();
    port.close();
}

fn start_to_first_reply(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let request = frame(r#"{"v":1,"id":1,"type":"hello"}"#);
    let mut buf = Vec::new();
    let mut one = || {
        let mut port = spawn(tmp.path());
        port.round_trip(&request, &mut buf);
        port.close();
    };
    let mut group = c.benchmark_group("one_shot");
    group.sample_size(50);
    group.bench_function("spawn_hello_exit", |b| b.iter(&mut one));
    group.finish();
    let samples: Vec<Duration> = (0..100)
        .map(|_| {
            let start = Instant::now();
            one();
            start.elapsed()
        })
        .collect();
    let (p50, p99) = percentiles(samples);
    eprintln!("one_shot/spawn_hello_exit: p50 {p50:?}, p99 {p99:?} over 100 processes");
}

criterion_group!(benches, long_lived, start_to_first_reply);
criterion_main!(benches);
