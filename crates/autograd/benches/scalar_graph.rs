//! Scalar graphs (target 4 of the performance issue): 100,000 recorded scalar ops (a loop
//! of mul, sin, add, tanh, exp, as in `examples/scalar_graph.rs`) built and differentiated.
//! Throughput counts recorded ops, so criterion's `elem/s` inverts to ns per op (forward +
//! backward together); `forward_only` isolates the recording cost.
//!
//! ```text
//! cargo bench -p autograd --bench scalar_graph
//! ```

use autograd::{Tape, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

const OPS: usize = 100_000;

/// Records `OPS` scalar ops on `tape`; returns `(x, y)`.
fn build(tape: &Tape<f64>) -> (Var<f64>, Var<f64>) {
    let x = tape.var(Tensor::scalar(0.5));
    let w = tape.var(Tensor::scalar(0.9));
    let mut y = x.clone();
    for _ in 0..OPS / 5 {
        let a = &y * &w;
        let b = a.sin();
        let c = &b + &x;
        let d = c.tanh();
        y = d.exp();
    }
    (x, y)
}

fn scalar_graph(c: &mut Criterion) {
    let mut g = c.benchmark_group("scalar_graph");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    g.throughput(Throughput::Elements(OPS as u64));
    g.bench_function("forward_backward/100k", |b| {
        b.iter(|| {
            let tape = Tape::<f64>::with_capacity(OPS + 8);
            let (x, y) = build(&tape);
            black_box(y.backward().wrt(&x).item())
        })
    });
    g.bench_function("forward_only/100k", |b| {
        b.iter(|| {
            let tape = Tape::<f64>::with_capacity(OPS + 8);
            black_box(build(&tape).1.item())
        })
    });
    g.finish();
}

criterion_group!(benches, scalar_graph);
criterion_main!(benches);
