//! One training step of the MNIST MLP (target 1 of the performance issue; see
//! docs/performance.md): `784-128(ReLU)-64(ReLU)-10(softmax)`, categorical cross-entropy
//! against one-hot targets (fused with the softmax), Adam. A step is what `fit` does per
//! batch (crates/nn/src/train.rs): a fresh `Ctx` (tape), the forward pass to the logits, the
//! loss, the backward sweep, and `Optimizer::step` updating the parameters in place.
//!
//! * `train_step/b32`, `train_step/b1024`: the whole step.
//! * `parts/forward_loss/*`: forward + loss only (the tape is built, not swept).
//! * `parts/inference/b1024`: forward under `Ctx::no_grad` (no tape).
//! * `parts/adam_update`: `Adam::step` alone over the MLP's 109,386 parameters (target 6's
//!   one-pass optimizer update).
//!
//! ```text
//! cargo bench -p nn --bench train_step
//! RAYON_NUM_THREADS=1 cargo bench -p nn --bench train_step -- train_step/b32
//! ```

use autograd::{Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn::losses::CategoricalCrossentropy;
use nn::{Activation, Adam, Ctx, Dense, Forward, Loss, Module, Optimizer, Sequential};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

fn mlp() -> Sequential<f32> {
    nn::manual_seed(42);
    Sequential::new()
        .add(Dense::new(784, 128).activation(Activation::Relu))
        .add(Dense::new(128, 64).activation(Activation::Relu))
        .add(Dense::new(64, 10).activation(Activation::Softmax))
}

/// A batch of `b` random "images" in [0, 1] and one-hot targets.
fn batch(b: usize) -> (Tensor<f32>, Tensor<f32>) {
    let mut rng = StdRng::seed_from_u64(b as u64);
    let x = Tensor::rand_uniform([b, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..b).map(|_| rng.random_range(0..10)).collect();
    (x, nn::data::one_hot(&labels, 10).unwrap())
}

/// The forward pass to the logits and the cross-entropy from them, as `fit` computes them.
fn forward_loss(model: &Sequential<f32>, x: &Tensor<f32>, y: &Tensor<f32>, ctx: &mut Ctx<f32>) -> Var<f32> {
    let loss = CategoricalCrossentropy::new();
    match model.forward_logits(&Var::constant(x.clone()), ctx, Activation::Softmax) {
        Forward::Logits(z) => loss.compute_from_logits(&z, y).unwrap(),
        Forward::Output(p) => loss.compute(&p, y).unwrap(),
    }
}

/// One step, as `fit` runs it.
fn step(model: &mut Sequential<f32>, opt: &mut Adam<f32>, x: &Tensor<f32>, y: &Tensor<f32>, seed: u64) -> f32 {
    let mut ctx = Ctx::new(seed);
    let loss = forward_loss(model, x, y, &mut ctx);
    let l = loss.item();
    let grads = ctx.backward(loss, &*model).unwrap();
    opt.step(&mut model.param_tensors_mut(), &grads);
    l
}

fn train_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_step");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for b in [32usize, 1024] {
        let (x, y) = batch(b);
        let (mut model, mut opt) = (mlp(), Adam::new(1e-3));
        let mut seed = 0;
        g.throughput(Throughput::Elements(b as u64));
        g.bench_function(format!("b{b}"), |bch| {
            bch.iter(|| {
                seed += 1;
                black_box(step(&mut model, &mut opt, &x, &y, seed))
            })
        });
    }
    g.finish();
}

fn parts(c: &mut Criterion) {
    let mut g = c.benchmark_group("parts");
    g.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let model = mlp();
    for b in [32usize, 1024] {
        let (x, y) = batch(b);
        g.bench_function(format!("forward_loss/b{b}"), |bch| {
            bch.iter(|| {
                let mut ctx = Ctx::new(0);
                black_box(forward_loss(&model, &x, &y, &mut ctx).item())
            })
        });
    }
    let (x, _) = batch(1024);
    g.bench_function("inference/b1024", |bch| {
        bch.iter(|| {
            let mut ctx = Ctx::no_grad();
            black_box(model.forward(&Var::constant(x.clone()), &mut ctx))
        })
    });
    // Adam alone: gradients of the right shapes, parameters updated in place.
    let mut model = mlp();
    let mut rng = StdRng::seed_from_u64(3);
    let grads: Vec<Tensor<f32>> =
        model.param_tensors_mut().iter().map(|p| Tensor::rand_uniform(p.shape(), -1e-2, 1e-2, &mut rng)).collect();
    let mut opt = Adam::new(1e-3);
    g.throughput(Throughput::Elements(model.num_parameters() as u64));
    g.bench_function("adam_update", |bch| bch.iter(|| opt.step(&mut model.param_tensors_mut(), &grads)));
    g.finish();
}

criterion_group!(benches, train_step, parts);
criterion_main!(benches);
