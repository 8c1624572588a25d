//! Criterion benchmarks of the host over real pipes.
fn main() {}
