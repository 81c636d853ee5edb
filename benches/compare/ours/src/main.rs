//! Our side of the comparison harness: the workloads of `../peers.py` (numpy, PyTorch) and
//! `../peer-rust` (dfdx, matrixmultiply) on `autograd` and `nn`, printed as JSON lines
//! `{"key", "impl": "ours", "threads", "sec", ...}` (see `../README.md`).
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -- --threads 1 --only mlp,matmul-square,matmul-mlp,elementwise,fused,scalar
//! ```
//!
//! `--threads` only labels the output: the thread count is rayon's, set by
//! `RAYON_NUM_THREADS` (checked against it here).
//!
//! Diagnostics (not used by run.sh):
//! * `--mlp-batches 1024,1024`: the MLP step for these batch sizes, in this order, in one
//!   process (the second round shows the step once glibc's malloc thresholds have settled);
//! * `--repeat-mlp BATCH SECONDS`: train steps only, for `perf record`; prints the mean and
//!   median step and how many of Adam's state values are subnormal; with `OURS_FTZ=1`, runs
//!   with flush-to-zero / denormals-are-zero set.

use autograd::{Float, LinearActivation, Tape, Tensor, Var};
use nn::losses::CategoricalCrossentropy;
use nn::{Activation, Adam, Ctx, Dense, Forward, Loss, Module, Optimizer, Sequential};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

/// The harness's common timing method (the same in peers.py and peer-rust): one call to
/// calibrate, calls grouped so that a sample lasts about 2 ms, ~0.1 s of warm-up, then
/// samples until at least 5 and ~0.3 s (3 minimum for calls over 0.1 s); returns the median
/// sample's seconds per call.
fn bench<R>(mut f: impl FnMut() -> R) -> f64 {
    black_box(f());
    let t0 = Instant::now();
    black_box(f());
    let one = t0.elapsed().as_secs_f64();
    let k = (2e-3 / one.max(1e-9)).ceil().max(1.0) as usize;
    let min_samples = if one > 0.1 { 3 } else { 5 };
    let w0 = Instant::now();
    while w0.elapsed().as_secs_f64() < 0.1 {
        black_box(f());
    }
    let mut samples = Vec::new();
    let s0 = Instant::now();
    while samples.len() < min_samples || (s0.elapsed().as_secs_f64() < 0.3 && samples.len() < 1000) {
        let t = Instant::now();
        for _ in 0..k {
            black_box(f());
        }
        samples.push(t.elapsed().as_secs_f64() / k as f64);
    }
    median(&mut samples)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Out {
    threads: usize,
}

impl Out {
    fn emit(&self, key: &str, sec: f64, extra: &str) {
        println!("{{\"key\": \"{key}\", \"impl\": \"ours\", \"threads\": {}, \"sec\": {sec:e}{extra}}}", self.threads);
    }
}

// ------------------------------------------------------------------ MLP train step

fn mlp() -> Sequential<f32> {
    nn::manual_seed(42);
    Sequential::new()
        .add(Dense::new(784, 128).activation(Activation::Relu))
        .add(Dense::new(128, 64).activation(Activation::Relu))
        .add(Dense::new(64, 10).activation(Activation::Softmax))
}

/// One step as `fit` runs it (crates/nn/src/train.rs): fresh tape, forward to the logits,
/// categorical cross-entropy fused with the softmax, backward, Adam in place.
fn train_step(model: &mut Sequential<f32>, opt: &mut Adam<f32>, x: &Tensor<f32>, y: &Tensor<f32>, seed: u64) -> f32 {
    let mut ctx = Ctx::new(seed);
    let cce = CategoricalCrossentropy::new();
    let loss = match model.forward_logits(&Var::constant(x.clone()), &mut ctx, Activation::Softmax) {
        Forward::Logits(z) => cce.compute_from_logits(&z, y).unwrap(),
        Forward::Output(p) => cce.compute(&p, y).unwrap(),
    };
    let l = loss.item();
    let grads = ctx.backward(loss, &*model).unwrap();
    opt.step(&mut model.param_tensors_mut(), &grads);
    l
}

fn run_mlp(out: &Out, batches: &[usize]) {
    for &b in batches {
        let mut rng = StdRng::seed_from_u64(b as u64);
        let x = Tensor::<f32>::rand_uniform([b, 784], 0.0, 1.0, &mut rng);
        let labels: Vec<usize> = (0..b).map(|_| rng.random_range(0..10)).collect();
        let y = nn::data::one_hot(&labels, 10).unwrap();
        let (mut model, mut opt) = (mlp(), Adam::new(1e-3));
        let mut seed = 0;
        let sec = bench(|| {
            seed += 1;
            train_step(&mut model, &mut opt, &x, &y, seed)
        });
        out.emit(&format!("MLP train step b={b}"), sec, "");
    }
}

fn repeat_mlp(b: usize, secs: f64) {
    // Diagnostic: OURS_FTZ=1 sets flush-to-zero and denormals-are-zero on this thread (as
    // dfdx's examples do) to see what subnormal numbers cost.
    #[cfg(target_arch = "x86_64")]
    if std::env::var("OURS_FTZ").is_ok_and(|v| v == "1") {
        #[allow(deprecated)]
        // SAFETY: only changes this thread's floating-point control bits (FTZ | DAZ).
        unsafe {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            _mm_setcsr(_mm_getcsr() | 0x8040);
        }
    }
    let mut rng = StdRng::seed_from_u64(b as u64);
    let x = Tensor::<f32>::rand_uniform([b, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..b).map(|_| rng.random_range(0..10)).collect();
    let y = nn::data::one_hot(&labels, 10).unwrap();
    let (mut model, mut opt) = (mlp(), Adam::new(1e-3));
    let t0 = Instant::now();
    let mut steps = 0u64;
    let mut each = Vec::new();
    while t0.elapsed().as_secs_f64() < secs {
        let t = Instant::now();
        black_box(train_step(&mut model, &mut opt, &x, &y, steps));
        each.push(t.elapsed().as_secs_f64());
        steps += 1;
    }
    eprintln!(
        "{steps} steps of batch {b}: {:.1} us/step on average, median {:.1} us",
        t0.elapsed().as_secs_f64() * 1e6 / steps as f64,
        median(&mut each) * 1e6
    );
    // Subnormal numbers in the optimizer's state (they slow sqrt/div/mul on x86).
    for (name, t) in &opt.state_dict() {
        let sub = t.data().iter().filter(|v| v.is_subnormal()).count();
        if sub > 0 {
            eprintln!("  {name}: {sub} of {} values subnormal", t.numel());
        }
    }
}

// ------------------------------------------------------------------ matmul

fn rand2<T: Float>(shape: [usize; 2], rng: &mut StdRng) -> Tensor<T> {
    Tensor::rand_uniform(shape, -1.0, 1.0, rng)
}

fn run_matmul_dtype<T: Float>(out: &Out, dtype: &str, groups: &HashSet<String>) {
    let mut rng = StdRng::seed_from_u64(0);
    if groups.contains("matmul-square") {
        for n in [64usize, 256, 1024, 2048] {
            let (a, b) = (rand2::<T>([n, n], &mut rng), rand2::<T>([n, n], &mut rng));
            let sec = bench(|| a.matmul(&b));
            out.emit(&format!("matmul {dtype} {n}"), sec, &format!(", \"flops\": {}", 2 * n * n * n));
        }
    }
    if groups.contains("matmul-mlp") {
        for batch in [32usize, 1024] {
            // (name, a's shape, b's shape, transpose a, transpose b)
            let cases = [
                (format!("fwd {batch}x784 . 784x128"), [batch, 784], [784, 128], false, false),
                (format!("dW 784x{batch} . {batch}x128 (x^T g)"), [batch, 784], [batch, 128], true, false),
                (format!("dX {batch}x128 . 128x784 (g W^T)"), [batch, 128], [784, 128], false, true),
            ];
            for (name, sa, sb, ta, tb) in cases {
                // Constants (no tape): the kernel plus one branch, transposes by GEMM strides.
                let a = Var::constant(rand2::<T>(sa, &mut rng));
                let b = Var::constant(rand2::<T>(sb, &mut rng));
                let (m, k) = if ta { (sa[1], sa[0]) } else { (sa[0], sa[1]) };
                let n = if tb { sb[0] } else { sb[1] };
                let sec = bench(|| match (ta, tb) {
                    (false, false) => a.matmul(&b),
                    (true, false) => a.t_matmul(&b),
                    _ => a.matmul_t(&b),
                });
                out.emit(&format!("matmul {dtype} {name}"), sec, &format!(", \"flops\": {}", 2 * m * k * n));
            }
        }
    }
}

// ------------------------------------------------------------------ elementwise

fn run_elementwise(out: &Out) {
    let n = 10_000_000usize;
    let mut rng = StdRng::seed_from_u64(1);
    let x = Var::constant(Tensor::<f32>::rand_uniform([n], -2.0, 2.0, &mut rng));
    let y = Var::constant(Tensor::<f32>::rand_uniform([n], -2.0, 2.0, &mut rng));
    let extra = format!(", \"elems\": {n}");
    let key = |op: &str| format!("elementwise {op} 1e7 f32");
    out.emit(&key("exp"), bench(|| x.exp()), &extra);
    out.emit(&key("add"), bench(|| &x + &y), &extra);
    out.emit(&key("mul"), bench(|| &x * &y), &extra);
    out.emit(&key("relu"), bench(|| x.relu()), &extra);
    out.emit(&key("tanh"), bench(|| x.tanh()), &extra);
    out.emit(&key("sum"), bench(|| x.sum()), &extra);
    out.emit(&key("max"), bench(|| x.max()), &extra);
}

// ------------------------------------------------------------------ fused-kernel candidates

fn run_fused(out: &Out) {
    let mut rng = StdRng::seed_from_u64(7);
    for (rows, classes) in [(1024usize, 10usize), (256, 1000)] {
        let z0 = Tensor::<f32>::randn([rows, classes], &mut rng);
        let labels: Vec<usize> = (0..rows).map(|i| (i * 7) % classes).collect();
        let sec = bench(|| {
            let tape = Tape::new();
            let z = tape.var(z0.clone());
            z.cross_entropy(&labels).backward().wrt(&z)
        });
        out.emit(&format!("softmax+CE fwd+bwd {rows}x{classes}"), sec, "");
    }
    for rows in [32usize, 1024] {
        let h0 = Tensor::<f32>::randn([rows, 128], &mut rng);
        let b0 = Tensor::<f32>::randn([128], &mut rng);
        let sec = bench(|| {
            let tape = Tape::new();
            let (h, b) = (tape.var(h0.clone()), tape.var(b0.clone()));
            let g = (&h + &b).relu().sum().backward();
            (g.wrt(&h), g.wrt(&b))
        });
        out.emit(&format!("bias+ReLU fwd+bwd {rows}x128"), sec, "");
    }
    // A dense layer's product, bias and ReLU as the one fused op `Dense` records.
    for rows in [32usize, 1024] {
        let x0 = Var::constant(Tensor::<f32>::rand_uniform([rows, 784], 0.0, 1.0, &mut rng));
        let w0 = Tensor::<f32>::randn([784, 128], &mut rng).map(|v| v * 0.05);
        let b0 = Tensor::<f32>::randn([128], &mut rng).map(|v| v * 0.05);
        let sec = bench(|| {
            let tape = Tape::new();
            let (w, b) = (tape.var(w0.clone()), tape.var(b0.clone()));
            let g = x0.linear(&w, Some(&b), LinearActivation::Relu).sum().backward();
            (g.wrt(&w), g.wrt(&b))
        });
        out.emit(&format!("dense+bias+ReLU fwd+bwd {rows}x784 . 784x128"), sec, "");
    }
    let mut model = mlp();
    let grads: Vec<Tensor<f32>> =
        model.param_tensors_mut().iter().map(|p| Tensor::rand_uniform(p.shape(), -1e-2, 1e-2, &mut rng)).collect();
    let mut opt = Adam::new(1e-3);
    let sec = bench(|| opt.step(&mut model.param_tensors_mut(), &grads));
    out.emit("Adam update, 109,386 params", sec, "");
}

// ------------------------------------------------------------------ scalar graph

fn run_scalar(out: &Out) {
    const OPS: usize = 100_000;
    let sec = bench(|| {
        let tape = Tape::<f64>::with_capacity(OPS + 8);
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
        y.backward().wrt(&x).item()
    });
    out.emit("scalar graph 100k ops fwd+bwd", sec, &format!(", \"ops\": {OPS}"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let threads: usize = get("--threads").map(|s| s.parse().expect("--threads N")).unwrap_or(1);
    let groups: HashSet<String> = get("--only")
        .unwrap_or_else(|| "mlp,matmul-square,matmul-mlp,elementwise,fused,scalar".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let pool = rayon::current_num_threads();
    if pool != threads {
        eprintln!("ours: --threads {threads} but rayon has {pool} threads (set RAYON_NUM_THREADS={threads})");
        std::process::exit(2);
    }
    let out = Out { threads };
    // For profiling (`perf record`): `--repeat-mlp BATCH SECONDS` runs train steps only.
    if let Some(b) = get("--repeat-mlp") {
        let b: usize = b.parse().expect("--repeat-mlp BATCH SECONDS");
        let secs: f64 = args
            .iter()
            .position(|a| a == "--repeat-mlp")
            .and_then(|i| args.get(i + 2))
            .map_or(5.0, |s| s.parse().expect("--repeat-mlp BATCH SECONDS"));
        repeat_mlp(b, secs);
        return;
    }
    if groups.contains("mlp") {
        let batches: Vec<usize> = get("--mlp-batches")
            .unwrap_or_else(|| "32,1024".into())
            .split(',')
            .map(|s| s.parse().expect("--mlp-batches B,B.."))
            .collect();
        run_mlp(&out, &batches);
    }
    if groups.contains("matmul-square") || groups.contains("matmul-mlp") {
        run_matmul_dtype::<f32>(&out, "f32", &groups);
        run_matmul_dtype::<f64>(&out, "f64", &groups);
    }
    if groups.contains("elementwise") {
        run_elementwise(&out);
    }
    if groups.contains("fused") {
        run_fused(&out);
    }
    if groups.contains("scalar") {
        run_scalar(&out);
    }
}
