//! Matrix products (target 3 of the performance issue; docs/performance.md): f32 and f64,
//! square `n = 64 ... 2048`, and the shapes of the MNIST MLP's first layer, forward
//! (`x W`) and the two transposed products of its backward (`x^T g` for the weight
//! gradient, `g W^T` for the input gradient), at batch 32 and 1024.
//!
//! Throughput is reported in "elements" per second where one element is one floating-point
//! operation (`2 m k n` per product), so criterion's `Gelem/s` reads as GFLOP/s.
//!
//! ```text
//! cargo bench -p autograd --bench matmul
//! RAYON_NUM_THREADS=1 cargo bench -p autograd --bench matmul -- square/f32   # one thread
//! ```

use autograd::{Float, Tensor, Var};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::hint::black_box;
use std::time::Duration;

fn rand_tensor<T: Float>(shape: [usize; 2], seed: u64) -> Tensor<T> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn square<T: Float>(c: &mut Criterion, dtype: &str) {
    let mut g = c.benchmark_group(format!("square/{dtype}"));
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for n in [64usize, 256, 1024, 2048] {
        if n >= 1024 {
            g.sample_size(10);
        }
        let a = rand_tensor::<T>([n, n], 1);
        let b = rand_tensor::<T>([n, n], 2);
        g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, _| bch.iter(|| black_box(a.matmul(&b))));
    }
    g.finish();
}

/// `(name, a's shape, b's shape, transpose a, transpose b)`.
type Case = (String, [usize; 2], [usize; 2], bool, bool);

/// The MLP's first layer `[batch, 784] x [784, 128]` and the two products of its backward.
fn mlp_shapes(batch: usize) -> [Case; 3] {
    [
        (format!("fwd_{batch}x784_784x128"), [batch, 784], [784, 128], false, false),
        (format!("dw_784x{batch}_{batch}x128"), [batch, 784], [batch, 128], true, false),
        (format!("dx_{batch}x128_128x784"), [batch, 128], [784, 128], false, true),
    ]
}

fn mlp<T: Float>(c: &mut Criterion, dtype: &str) {
    let mut g = c.benchmark_group(format!("mlp_shapes/{dtype}"));
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for batch in [32usize, 1024] {
        for (name, sa, sb, ta, tb) in mlp_shapes(batch) {
            // Constants: no tape, so this is the kernel plus one branch, as in inference.
            let a = Var::constant(rand_tensor::<T>(sa, 3));
            let b = Var::constant(rand_tensor::<T>(sb, 4));
            let (m, k) = if ta { (sa[1], sa[0]) } else { (sa[0], sa[1]) };
            let n = if tb { sb[0] } else { sb[1] };
            g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
            g.bench_function(name, |bch| {
                bch.iter(|| match (ta, tb) {
                    (false, false) => black_box(a.matmul(&b)),
                    (true, false) => black_box(a.t_matmul(&b)),
                    _ => black_box(a.matmul_t(&b)),
                })
            });
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    square::<f32>(c, "f32");
    square::<f64>(c, "f64");
    mlp::<f32>(c, "f32");
    mlp::<f64>(c, "f64");
}

criterion_group!(matmul, benches);
criterion_main!(matmul);
