//! The Rust peers' side of the comparison harness: the workloads of `../ours` on dfdx (MLP
//! train step, matmul) and on raw matrixmultiply (matmul), as JSON lines
//! `{"key", "impl", "threads", "sec", ...}` (see `../README.md`).
//!
//! ```text
//! RAYON_NUM_THREADS=1 MATMUL_NUM_THREADS=1 cargo run --release -- --threads 1
//! ```
//!
//! dfdx has no scalar tape (a tape belongs to one tensor) and is not run on the scalar graph;
//! its elementwise kernels are not compared (the issue compares those with numpy).

use dfdx::optim::Adam;
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

/// The harness's common timing method (the same in ours/ and peers.py).
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
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

fn emit(key: &str, imp: &str, threads: usize, sec: f64, extra: &str) {
    println!("{{\"key\": \"{key}\", \"impl\": \"{imp}\", \"threads\": {threads}, \"sec\": {sec:e}{extra}}}");
}

// ------------------------------------------------------------------ MLP train step (dfdx)

type Mlp = ((Linear<784, 128>, ReLU), (Linear<128, 64>, ReLU), Linear<64, 10>);

fn mlp_step<const B: usize>(dev: &Cpu, threads: usize) {
    let mut rng = StdRng::seed_from_u64(B as u64);
    let x: Vec<f32> = (0..B * 784).map(|_| rng.gen_range(0.0..1.0)).collect();
    let mut y = vec![0.0f32; B * 10];
    for r in 0..B {
        y[r * 10 + rng.gen_range(0..10)] = 1.0;
    }
    let x: Tensor<Rank2<B, 784>, f32, Cpu> = dev.tensor_from_vec(x, (Const::<B>, Const::<784>));
    let y: Tensor<Rank2<B, 10>, f32, Cpu> = dev.tensor_from_vec(y, (Const::<B>, Const::<10>));
    let mut model = dev.build_module::<Mlp, f32>();
    let mut grads = model.alloc_grads();
    let mut opt = Adam::new(&model, AdamConfig { lr: 1e-3, ..Default::default() });
    // The training loop of dfdx's own MNIST example (examples/06-mnist.rs).
    let sec = bench(|| {
        let logits = model.forward_mut(x.clone().traced(grads.clone()));
        let loss = cross_entropy_with_logits_loss(logits, y.clone());
        let l = loss.array();
        grads = loss.backward();
        opt.update(&mut model, &grads).unwrap();
        model.zero_grads(&mut grads);
        l
    });
    emit(&format!("MLP train step b={B}"), "dfdx", threads, sec, "");
}

// ------------------------------------------------------------------ matmul

trait Elem: Dtype + Copy {
    const NAME: &'static str;
    fn of(v: f64) -> Self;
    /// `c = a (m x k, strides rsa/csa) * b (k x n, strides rsb/csb)` with matrixmultiply.
    #[allow(clippy::too_many_arguments)]
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        c: *mut Self,
    );
}

impl Elem for f32 {
    const NAME: &'static str = "f32";
    fn of(v: f64) -> Self {
        v as f32
    }
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        c: *mut f32,
    ) {
        matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, n as isize, 1);
    }
}

impl Elem for f64 {
    const NAME: &'static str = "f64";
    fn of(v: f64) -> Self {
        v
    }
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        c: *mut f64,
    ) {
        matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, n as isize, 1);
    }
}

/// `(key suffix, a's shape, b's shape, transpose a, transpose b)`.
type Case = (String, [usize; 2], [usize; 2], bool, bool);

/// The square products and the MLP's first layer with its backward, as `groups` asks.
fn matmul_cases(groups: &HashSet<String>) -> Vec<Case> {
    let mut v = Vec::new();
    if groups.contains("matmul-square") {
        for n in [64usize, 256, 1024, 2048] {
            v.push((format!("{n}"), [n, n], [n, n], false, false));
        }
    }
    if groups.contains("matmul-mlp") {
        for b in [32usize, 1024] {
            v.push((format!("fwd {b}x784 . 784x128"), [b, 784], [784, 128], false, false));
            v.push((format!("dW 784x{b} . {b}x128 (x^T g)"), [b, 784], [b, 128], true, false));
            v.push((format!("dX {b}x128 . 128x784 (g W^T)"), [b, 128], [784, 128], false, true));
        }
    }
    v
}

fn matmul<E: Elem>(dev: &Cpu, groups: &HashSet<String>, threads: usize, impls: &HashSet<String>)
where
    Cpu: Device<E>,
{
    let mut rng = StdRng::seed_from_u64(0);
    for (name, sa, sb, ta, tb) in matmul_cases(groups) {
        let av: Vec<E> = (0..sa[0] * sa[1]).map(|_| E::of(rng.gen_range(-1.0..1.0))).collect();
        let bv: Vec<E> = (0..sb[0] * sb[1]).map(|_| E::of(rng.gen_range(-1.0..1.0))).collect();
        let (m, k) = if ta { (sa[1], sa[0]) } else { (sa[0], sa[1]) };
        let n = if tb { sb[0] } else { sb[1] };
        let key = format!("matmul {} {name}", E::NAME);
        let extra = format!(", \"flops\": {}", 2 * m * k * n);
        if impls.contains("dfdx") {
            let a = dev.tensor_from_vec(av.clone(), (sa[0], sa[1]));
            let b = dev.tensor_from_vec(bv.clone(), (sb[0], sb[1]));
            // dfdx's permute is a stride change; its matmul passes the strides to gemm.
            let sec = match (ta, tb) {
                (false, false) => bench(|| a.clone().matmul(b.clone())),
                (true, false) => bench(|| a.clone().permute::<_, Axes2<1, 0>>().matmul(b.clone())),
                _ => bench(|| a.clone().matmul(b.clone().permute::<_, Axes2<1, 0>>())),
            };
            emit(&key, "dfdx", threads, sec, &extra);
        }
        if impls.contains("matrixmultiply") {
            let (rsa, csa) = if ta { (1, sa[1] as isize) } else { (sa[1] as isize, 1) };
            let (rsb, csb) = if tb { (1, sb[1] as isize) } else { (sb[1] as isize, 1) };
            let sec = bench(|| {
                // Allocates its output like the others do.
                let mut c: Vec<E> = vec![E::of(0.0); m * n];
                unsafe { E::mm(m, k, n, av.as_ptr(), rsa, csa, bv.as_ptr(), rsb, csb, c.as_mut_ptr()) };
                c
            });
            emit(&key, "matrixmultiply", threads, sec, &extra);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let threads: usize = get("--threads").map(|s| s.parse().expect("--threads N")).unwrap_or(1);
    let groups: HashSet<String> =
        get("--only").unwrap_or_else(|| "mlp,matmul-square,matmul-mlp".into()).split(',').map(str::to_string).collect();
    let impls: HashSet<String> =
        get("--impl").unwrap_or_else(|| "dfdx,matrixmultiply".into()).split(',').map(str::to_string).collect();
    let pool = rayon::current_num_threads();
    let mm_threads: usize = std::env::var("MATMUL_NUM_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    if pool != threads || (impls.contains("matrixmultiply") && mm_threads != threads) {
        eprintln!(
            "peer-rust: --threads {threads} but RAYON_NUM_THREADS gives {pool} and MATMUL_NUM_THREADS={mm_threads}; set both"
        );
        std::process::exit(2);
    }
    // As dfdx's own examples do.
    dfdx::flush_denormals_to_zero();
    let dev = Cpu::default();
    if groups.contains("mlp") && impls.contains("dfdx") {
        mlp_step::<32>(&dev, threads);
        mlp_step::<1024>(&dev, threads);
    }
    matmul::<f32>(&dev, &groups, threads, &impls);
    matmul::<f64>(&dev, &groups, threads, &impls);
}
