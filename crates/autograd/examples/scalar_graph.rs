//! Times a graph of 100,000 recorded scalar ops (a loop mixing add, mul, sin, tanh, exp):
//! build (forward) and differentiate (backward), reported in ns per op.
//!
//! ```text
//! cargo run --release -p autograd --example scalar_graph
//! N_OPS=1000 cargo run --release -p autograd --example scalar_graph   # another graph size
//! ```

use autograd::{Tape, Tensor};
use std::time::Instant;

fn run(n_ops: usize) -> (f64, f64, f64) {
    let t0 = Instant::now();
    let tape = Tape::<f64>::with_capacity(n_ops + 8);
    let x = tape.var(Tensor::scalar(0.5));
    let w = tape.var(Tensor::scalar(0.9));
    let mut y = x.clone();
    // 5 recorded ops per iteration: mul, sin, add, tanh, exp
    for _ in 0..n_ops / 5 {
        let a = &y * &w;
        let b = a.sin();
        let c = &b + &x;
        let d = c.tanh();
        y = d.exp();
    }
    let t1 = Instant::now();
    let g = y.backward();
    let gx = g.wrt(&x).item();
    let t2 = Instant::now();
    std::hint::black_box(gx);
    let recorded = tape.len();
    let fwd = (t1 - t0).as_secs_f64() * 1e9 / recorded as f64;
    let bwd = (t2 - t1).as_secs_f64() * 1e9 / recorded as f64;
    (fwd, bwd, recorded as f64)
}

fn main() {
    let n: usize = std::env::var("N_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    run(n); // warm up the allocator
    let mut results: Vec<(f64, f64, f64)> = (0..7).map(|_| run(n)).collect();
    results.sort_by(|a, b| (a.0 + a.1).partial_cmp(&(b.0 + b.1)).unwrap());
    let (fwd, bwd, recorded) = results[results.len() / 2];
    println!(
        "scalar graph: {recorded} recorded ops; forward {fwd:.0} ns/op, backward {bwd:.0} ns/op, total {:.0} ns/op (median of 7)",
        fwd + bwd
    );
}
