//! Times one training step of the 784-128-64-10 MLP (ReLU, softmax, categorical
//! cross-entropy, Adam) at batch 32 and 1024, and a `fit` epoch over 48,000 random samples.
//!
//! ```text
//! cargo run --release -p nn --example train_step
//! ```

use autograd::{Tensor, Var};
use nn::losses::CategoricalCrossentropy;
use nn::metrics::Accuracy;
use nn::{Activation, Adam, Ctx, Dense, FitOptions, Forward, Model, Module, Optimizer, Sequential};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Instant;

fn model() -> Sequential {
    nn::manual_seed(0);
    Sequential::new()
        .add(Dense::new(784, 128).activation(Activation::Relu))
        .add(Dense::new(128, 64).activation(Activation::Relu))
        .add(Dense::new(64, 10).activation(Activation::Softmax))
}

fn step_time(batch: usize, steps: usize) -> f64 {
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::<f32>::rand_uniform([batch, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let mut m = model();
    let mut opt = Adam::default();
    let mut times = Vec::new();
    for s in 0..steps + 5 {
        let t = Instant::now();
        let mut ctx = Ctx::new(s as u64);
        let Forward::Logits(logits) = m.forward_logits(&Var::constant(x.clone()), &mut ctx, Activation::Softmax) else {
            unreachable!("the model ends in softmax")
        };
        let loss = logits.cross_entropy(&labels);
        let grads = ctx.backward(loss, &m).expect("the loss comes from this pass");
        opt.step(&mut m.param_tensors_mut(), &grads);
        if s >= 5 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

fn main() {
    let s32 = step_time(32, 2000);
    let s1024 = step_time(1024, 100);
    println!("train step, batch 32: {:.3} ms; batch 1024: {:.3} ms (median)", s32 * 1e3, s1024 * 1e3);
    let mut rng = StdRng::seed_from_u64(2);
    let n = 48_000;
    let x = Tensor::<f32>::rand_uniform([n, 784], 0.0, 1.0, &mut rng);
    let y = nn::data::one_hot::<f32>(&(0..n).map(|i| i % 10).collect::<Vec<_>>(), 10).unwrap();
    let mut m = Model::new(model());
    m.compile(Adam::default(), CategoricalCrossentropy::new(), nn::metrics![Accuracy::new()]);
    let t = Instant::now();
    m.fit(&x, &y, FitOptions { epochs: 1, batch_size: 32, verbose: 0, seed: Some(1), ..Default::default() }).unwrap();
    println!("fit epoch, 48000 samples, batch 32: {:.2} s", t.elapsed().as_secs_f64());
}
