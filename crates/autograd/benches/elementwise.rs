//! Elementwise ops and reductions (target 5 of the performance issue) and the candidates for
//! fused kernels (target 6); see docs/performance.md.
//!
//! * `elementwise/<op>/<n>`: `exp`, `add` over `n = 10^3 ... 10^7` f32 elements (the sizes
//!   where a rayon threshold would sit), and `relu`, `tanh`, `mul`, `sum`, `max` over 10^7.
//!   Inputs are constants (no tape), as in inference; each call allocates its output, as
//!   numpy's `np.exp(a)` does.
//! * `fused/*`: forward + backward of softmax-cross-entropy, of bias + ReLU, and of a dense
//!   layer with bias and ReLU as the one fused op `Var::linear`, on a tape.
//!
//! ```text
//! cargo bench -p autograd --bench elementwise
//! RAYON_NUM_THREADS=1 cargo bench -p autograd --bench elementwise -- elementwise/exp
//! ```

use autograd::{LinearActivation, Tape, Tensor, Var};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::hint::black_box;
use std::time::Duration;

fn input(n: usize, seed: u64) -> Var<f32> {
    Var::constant(Tensor::rand_uniform([n], -2.0, 2.0, &mut StdRng::seed_from_u64(seed)))
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for n in [1_000usize, 10_000, 100_000, 1_000_000, 10_000_000] {
        let (x, y) = (input(n, 1), input(n, 2));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(if n >= 1_000_000 { 20 } else { 100 });
        g.bench_with_input(BenchmarkId::new("exp", n), &n, |b, _| b.iter(|| black_box(x.exp())));
        g.bench_with_input(BenchmarkId::new("add", n), &n, |b, _| b.iter(|| black_box(&x + &y)));
    }
    let n = 10_000_000;
    let (x, y) = (input(n, 1), input(n, 2));
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_with_input(BenchmarkId::new("mul", n), &n, |b, _| b.iter(|| black_box(&x * &y)));
    g.bench_with_input(BenchmarkId::new("relu", n), &n, |b, _| b.iter(|| black_box(x.relu())));
    g.bench_with_input(BenchmarkId::new("tanh", n), &n, |b, _| b.iter(|| black_box(x.tanh())));
    g.bench_with_input(BenchmarkId::new("sum", n), &n, |b, _| b.iter(|| black_box(x.sum())));
    g.bench_with_input(BenchmarkId::new("max", n), &n, |b, _| b.iter(|| black_box(x.max())));
    g.finish();
}

fn fused(c: &mut Criterion) {
    let mut g = c.benchmark_group("fused");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let mut rng = StdRng::seed_from_u64(7);
    // Softmax + cross-entropy from logits (the MLP's loss at batch 1024, and a wide one).
    for (rows, classes) in [(1024usize, 10usize), (256, 1000)] {
        let logits = Tensor::<f32>::randn([rows, classes], &mut rng);
        let labels: Vec<usize> = (0..rows).map(|i| (i * 7) % classes).collect();
        g.throughput(Throughput::Elements((rows * classes) as u64));
        g.bench_function(format!("softmax_ce_fwd_bwd/{rows}x{classes}"), |b| {
            b.iter(|| {
                let tape = Tape::new();
                let z = tape.var(logits.clone());
                let loss = z.cross_entropy(&labels);
                black_box(loss.backward().wrt(&z))
            })
        });
    }
    // Bias + ReLU (a Dense layer's epilogue): h + b broadcast over rows, then relu.
    for rows in [32usize, 1024] {
        let h = Tensor::<f32>::randn([rows, 128], &mut rng);
        let bias = Tensor::<f32>::randn([128], &mut rng);
        g.throughput(Throughput::Elements((rows * 128) as u64));
        g.bench_function(format!("bias_relu_fwd_bwd/{rows}x128"), |b| {
            b.iter(|| {
                let tape = Tape::new();
                let (hv, bv) = (tape.var(h.clone()), tape.var(bias.clone()));
                let y = (&hv + &bv).relu().sum();
                let gr = y.backward();
                black_box((gr.wrt(&hv), gr.wrt(&bv)))
            })
        });
    }
    // A whole dense layer as `nn::Dense` records it: product, bias and ReLU in one op.
    for rows in [32usize, 1024] {
        let x = Var::constant(Tensor::<f32>::rand_uniform([rows, 784], 0.0, 1.0, &mut rng));
        let w = Tensor::<f32>::randn([784, 128], &mut rng).map(|v| v * 0.05);
        let bias = Tensor::<f32>::randn([128], &mut rng).map(|v| v * 0.05);
        g.throughput(Throughput::Elements((rows * 128) as u64));
        g.bench_function(format!("dense_bias_relu_fwd_bwd/{rows}x784x128"), |b| {
            b.iter(|| {
                let tape = Tape::new();
                let (wv, bv) = (tape.var(w.clone()), tape.var(bias.clone()));
                let y = x.linear(&wv, Some(&bv), LinearActivation::Relu).sum();
                let gr = y.backward();
                black_box((gr.wrt(&wv), gr.wrt(&bv)))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, elementwise, fused);
criterion_main!(benches);
