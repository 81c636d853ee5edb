//! Optimizers against hand-computed updates, clipping, schedules, and optimizer state.

use autograd::Tensor;
use nn::callbacks::ReduceLrOnPlateau;
use nn::optim::{clip_grad_norm, clip_grad_value};
use nn::{Adagrad, Adam, AdamW, Clip, Convention, Optimizer, RmsProp, Schedule, Sgd};

const P0: [f64; 3] = [1.0, -2.0, 0.5];
const GRADS: [[f64; 3]; 3] = [[0.5, -1.0, 0.25], [0.1, 0.3, -2.0], [-0.2, 0.4, 0.0]];

// Parameters after the third step, computed by torch 2.15 in float64 from P0 and the gradients
// of each test (crates/nn/tests/optim_reference.py prints them).
const TORCH_SGD_DAMPENING: [f64; 3] = [0.8422675762499999, -1.7509126524999998, 0.6862815381249999];
const TORCH_ADAM_AMSGRAD: [f64; 3] = [0.9780815059484705, -1.9782129096729322, 0.4775683693721127];
const TORCH_ADAGRAD_LR_DECAY: [f64; 3] = [0.8768945185420614, -1.8969368442295163, 0.4632029527410966];

/// Runs `opt` for three steps on P0 with GRADS and returns the parameters after each step.
fn run(opt: &mut dyn Optimizer<f64>) -> Vec<Vec<f64>> {
    let mut p = Tensor::from_vec(P0.to_vec(), [3]).unwrap();
    GRADS
        .iter()
        .map(|g| {
            opt.step(&mut [&mut p], &[Tensor::from_vec(g.to_vec(), [3]).unwrap()]);
            p.to_vec()
        })
        .collect()
}

/// The same three steps computed elementwise by `rule(t, p, g, state) -> p` (t from 1).
fn reference(mut rule: impl FnMut(i32, f64, f64, &mut [f64; 4]) -> f64) -> Vec<Vec<f64>> {
    let mut p = P0.to_vec();
    let mut state = [[0.0f64; 4]; 3];
    GRADS
        .iter()
        .enumerate()
        .map(|(k, g)| {
            for j in 0..3 {
                p[j] = rule(k as i32 + 1, p[j], g[j], &mut state[j]);
            }
            p.clone()
        })
        .collect()
}

fn assert_close(got: &[Vec<f64>], want: &[Vec<f64>], what: &str) {
    for (s, (a, b)) in got.iter().zip(want).enumerate() {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{what}: step {}: {a:?} vs {b:?}", s + 1);
        }
    }
}

#[test]
fn sgd_plain_momentum_nesterov_weight_decay() {
    let got = run(&mut Sgd::new(0.1));
    assert_close(&got, &reference(|_, p, g, _| p - 0.1 * g), "sgd");
    // Literal first step: 1 - 0.1 * 0.5
    assert_eq!(got[0][0], 0.95);

    let got = run(&mut Sgd::new(0.1).momentum(0.9));
    let want = reference(|_, p, g, s| {
        s[0] = 0.9 * s[0] + g;
        p - 0.1 * s[0]
    });
    assert_close(&got, &want, "sgd momentum");
    // Step 2 of element 0 by hand: buf = 0.9*0.5 + 0.1 = 0.55; p = 0.95 - 0.055 = 0.895
    assert!((got[1][0] - 0.895).abs() < 1e-15);

    // PyTorch's weight decay is L2 in the gradient.
    let got = run(&mut Sgd::pytorch().lr(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
    let want = reference(|_, p, g, s| {
        let g = g + 0.01 * p;
        s[0] = 0.9 * s[0] + g;
        p - 0.1 * (g + 0.9 * s[0])
    });
    assert_close(&got, &want, "sgd nesterov wd (pytorch)");
    // Keras 3's is decoupled: p -= lr * wd * p before the update.
    let got = run(&mut Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
    let want = reference(|_, p, g, s| {
        let p = p - 0.1 * 0.01 * p;
        s[0] = 0.9 * s[0] + g;
        p - 0.1 * (g + 0.9 * s[0])
    });
    assert_close(&got, &want, "sgd nesterov wd (keras)");
}

/// torch.optim.SGD's documented algorithm with dampening τ:
/// `b_1 = g_1`; `b_t = μ b_{t-1} + (1 − τ) g_t`; `θ_t = θ_{t-1} − γ b_t`.
#[test]
fn sgd_dampening_as_pytorch_documents() {
    let got = run(&mut Sgd::pytorch().lr(0.1).momentum(0.9).dampening(0.3).weight_decay(0.05));
    let want = reference(|t, p, g, s| {
        let g = g + 0.05 * p;
        s[0] = if t == 1 { g } else { 0.9 * s[0] + 0.7 * g };
        p - 0.1 * s[0]
    });
    assert_close(&got, &want, "sgd dampening");
    // Step 2, element 0, by hand: g1 = 0.5 + 0.05 = 0.55, b1 = 0.55, p1 = 1 - 0.055 = 0.945;
    // g2 = 0.1 + 0.05 * 0.945 = 0.14725, b2 = 0.495 + 0.7 * 0.14725 = 0.598075, p2 = 0.945 - 0.0598075.
    assert!((got[1][0] - (0.945 - 0.0598075)).abs() < 1e-15, "{}", got[1][0]);
    // Values from torch 2 (torch.optim.SGD(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05)).
    assert_close(&got[2..], &[TORCH_SGD_DAMPENING.to_vec()], "sgd dampening vs torch");
    let nesterov = std::panic::catch_unwind(|| run(&mut Sgd::new(0.1).momentum(0.9).dampening(0.1).nesterov(true)));
    assert!(nesterov.is_err(), "Nesterov with dampening is refused, as in PyTorch");
}

/// torch.optim.Adam's documented algorithm with amsgrad: `v̂max = max(v̂max, v_t)`,
/// `θ_t = θ_{t-1} − γ m̂_t / (√(v̂max / (1 − β₂ᵗ)) + ε)`.
#[test]
fn adam_amsgrad_as_pytorch_documents() {
    let (lr, b1, b2) = (0.01, 0.9, 0.999);
    // A gradient that shrinks makes v fall below its maximum.
    let grads = [[0.5, -1.0, 0.25], [0.01, -0.01, 0.01], [-0.02, 0.04, 0.0]];
    let mut opt = Adam::pytorch().lr(lr).amsgrad(true).weight_decay(0.001);
    let mut p = Tensor::from_vec(P0.to_vec(), [3]).unwrap();
    let mut want = P0.to_vec();
    let (mut m, mut v, mut vmax) = ([0.0f64; 3], [0.0f64; 3], [0.0f64; 3]);
    for (k, g) in grads.iter().enumerate() {
        opt.step(&mut [&mut p], &[Tensor::from_vec(g.to_vec(), [3]).unwrap()]);
        let t = k as i32 + 1;
        for j in 0..3 {
            let gj = g[j] + 0.001 * want[j];
            m[j] = b1 * m[j] + (1.0 - b1) * gj;
            v[j] = b2 * v[j] + (1.0 - b2) * gj * gj;
            vmax[j] = vmax[j].max(v[j]);
            let mhat = m[j] / (1.0 - b1.powi(t));
            want[j] -= lr * mhat / ((vmax[j] / (1.0 - b2.powi(t))).sqrt() + 1e-8);
        }
        assert_close(&[p.to_vec()], &[want.clone()], &format!("amsgrad step {t}"));
    }
    assert!(vmax.iter().zip(&v).any(|(a, b)| a > b), "the maximum mattered");
    assert_close(&[p.to_vec()], &[TORCH_ADAM_AMSGRAD.to_vec()], "amsgrad vs torch");
    // The state has PyTorch's slot name and round-trips.
    let sd = opt.state_dict();
    assert!(sd.contains_key("state.0.max_exp_avg_sq"));
    let mut again = Adam::<f64>::pytorch().lr(lr).amsgrad(true).weight_decay(0.001);
    again.load_state_dict(&sd).unwrap();
    // AdamW's amsgrad keeps its decay decoupled.
    let mut w = AdamW::<f64>::pytorch().amsgrad(true);
    let mut q = Tensor::from_vec(P0.to_vec(), [3]).unwrap();
    w.step(&mut [&mut q], &[Tensor::from_vec(grads[0].to_vec(), [3]).unwrap()]);
    assert!((q.data()[0] - (1.0 * (1.0 - 1e-3 * 0.01) - 1e-3)).abs() < 1e-9, "{}", q.data()[0]);
}

/// torch.optim.Adagrad's documented algorithm: `γ̃ = γ / (1 + (t − 1) η)`,
/// `θ_t = θ_{t-1} − γ̃ g / (√state_sum + ε)`.
#[test]
fn adagrad_lr_decay_as_pytorch_documents() {
    let got = run(&mut Adagrad::pytorch().lr(0.1).lr_decay(0.5).weight_decay(0.2));
    let want = reference(|t, p, g, s| {
        let g = g + 0.2 * p;
        let clr = 0.1 / (1.0 + (t - 1) as f64 * 0.5);
        s[0] += g * g;
        p - clr * g / (s[0].sqrt() + 1e-10)
    });
    assert_close(&got, &want, "adagrad lr_decay");
    assert_close(&got[2..], &[TORCH_ADAGRAD_LR_DECAY.to_vec()], "adagrad lr_decay vs torch");
}

/// Keras 3 applies weight decay to every optimizer the same way: `p -= lr·wd·p` before the
/// update (BaseOptimizer._apply_weight_decay). PyTorch adds `wd·p` to the gradient.
#[test]
fn weight_decay_is_decoupled_in_the_keras_convention() {
    let wd = 0.1;
    let decoupled = |lr: f64, update: fn(f64, f64, &mut [f64; 4], i32) -> f64| {
        reference(move |t, p, g, s| update(p - lr * wd * p, g, s, t))
    };
    let got = run(&mut RmsProp::new(0.01).weight_decay(wd));
    let want = decoupled(0.01, |p, g, s, _| {
        s[0] = 0.9 * s[0] + 0.1 * g * g;
        p - 0.01 * g / (s[0] + 1e-7).sqrt()
    });
    assert_close(&got, &want, "rmsprop keras wd");
    let got = run(&mut Adagrad::new(0.1).weight_decay(wd));
    let want = decoupled(0.1, |p, g, s, t| {
        if t == 1 {
            s[0] = 0.1;
        }
        s[0] += g * g;
        p - 0.1 * g / (s[0] + 1e-7).sqrt()
    });
    assert_close(&got, &want, "adagrad keras wd");
    let got = run(&mut Adam::new(0.01).weight_decay(wd));
    let want = decoupled(0.01, |p, g, s, t| {
        s[0] = 0.9 * s[0] + 0.1 * g;
        s[1] = 0.999 * s[1] + 0.001 * g * g;
        p - 0.01 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t)) * s[0] / (s[1].sqrt() + 1e-7)
    });
    assert_close(&got, &want, "adam keras wd");
    // The same options in the PyTorch convention put the decay in the gradient.
    let got = run(&mut RmsProp::new(0.01).convention(Convention::PyTorch).weight_decay(wd));
    let want = reference(|_, p, g, s| {
        let g = g + wd * p;
        s[0] = 0.9 * s[0] + 0.1 * g * g;
        p - 0.01 * g / (s[0].sqrt() + 1e-7)
    });
    assert_close(&got, &want, "rmsprop pytorch wd");
}

#[test]
fn adam_keras_and_pytorch() {
    let (lr, b1, b2) = (0.01, 0.9, 0.999);
    let got = run(&mut Adam::new(lr));
    let want = reference(|t, p, g, s| {
        s[0] = b1 * s[0] + (1.0 - b1) * g;
        s[1] = b2 * s[1] + (1.0 - b2) * g * g;
        let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        p - alpha * s[0] / (s[1].sqrt() + 1e-7)
    });
    assert_close(&got, &want, "adam keras");
    // First step of Adam moves each weight by ~lr against the gradient's sign.
    assert!((got[0][0] - (1.0 - lr)).abs() < 1e-6);
    assert!((got[0][1] - (-2.0 + lr)).abs() < 1e-6);

    let got = run(&mut Adam::pytorch().lr(lr).weight_decay(0.1));
    let want = reference(|t, p, g, s| {
        let g = g + 0.1 * p;
        s[0] = b1 * s[0] + (1.0 - b1) * g;
        s[1] = b2 * s[1] + (1.0 - b2) * g * g;
        let mhat = s[0] / (1.0 - b1.powi(t));
        let vhat = s[1] / (1.0 - b2.powi(t));
        p - lr * mhat / (vhat.sqrt() + 1e-8)
    });
    assert_close(&got, &want, "adam pytorch");
}

#[test]
fn adamw_decoupled() {
    let (lr, b1, b2, wd) = (0.01, 0.9, 0.999, 0.004);
    let got = run(&mut AdamW::new(lr));
    let want = reference(|t, p, g, s| {
        let p = p - lr * wd * p;
        s[0] = b1 * s[0] + (1.0 - b1) * g;
        s[1] = b2 * s[1] + (1.0 - b2) * g * g;
        let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        p - alpha * s[0] / (s[1].sqrt() + 1e-7)
    });
    assert_close(&got, &want, "adamw keras");
    let mut pt = AdamW::<f64>::pytorch();
    pt.set_learning_rate(lr);
    let got = run(&mut pt);
    let want = reference(|t, p, g, s| {
        let p = p * (1.0 - lr * 0.01);
        s[0] = b1 * s[0] + (1.0 - b1) * g;
        s[1] = b2 * s[1] + (1.0 - b2) * g * g;
        p - lr / (1.0 - b1.powi(t)) * s[0] / ((s[1] / (1.0 - b2.powi(t))).sqrt() + 1e-8)
    });
    assert_close(&got, &want, "adamw pytorch");
}

#[test]
fn rmsprop_variants() {
    let got = run(&mut RmsProp::new(0.01));
    let want = reference(|_, p, g, s| {
        s[0] = 0.9 * s[0] + 0.1 * g * g;
        p - 0.01 * g / (s[0] + 1e-7).sqrt()
    });
    assert_close(&got, &want, "rmsprop keras");
    // First step, element 0: v = 0.1 * 0.25 = 0.025; p = 1 - 0.01 * 0.5 / sqrt(0.025 + 1e-7)
    assert!((got[0][0] - (1.0 - 0.005 / (0.025f64 + 1e-7).sqrt())).abs() < 1e-15);

    let got = run(&mut RmsProp::new(0.01).momentum(0.5).centered(true));
    let want = reference(|_, p, g, s| {
        s[0] = 0.9 * s[0] + 0.1 * g * g;
        s[2] = 0.9 * s[2] + 0.1 * g;
        let u = 0.01 * g / (s[0] - s[2] * s[2] + 1e-7).sqrt();
        s[1] = 0.5 * s[1] + u;
        p - s[1]
    });
    assert_close(&got, &want, "rmsprop keras centered momentum");

    let got = run(&mut RmsProp::pytorch().momentum(0.5));
    let want = reference(|_, p, g, s| {
        s[0] = 0.99 * s[0] + 0.01 * g * g;
        s[1] = 0.5 * s[1] + g / (s[0].sqrt() + 1e-8);
        p - 0.01 * s[1]
    });
    assert_close(&got, &want, "rmsprop pytorch momentum");
}

#[test]
fn adagrad_variants() {
    let got = run(&mut Adagrad::new(0.1));
    let want = reference(|t, p, g, s| {
        if t == 1 {
            s[0] = 0.1;
        }
        s[0] += g * g;
        p - 0.1 * g / (s[0] + 1e-7).sqrt()
    });
    assert_close(&got, &want, "adagrad keras");
    let got = run(&mut Adagrad::pytorch());
    let want = reference(|_, p, g, s| {
        s[0] += g * g;
        p - 0.01 * g / (s[0].sqrt() + 1e-10)
    });
    assert_close(&got, &want, "adagrad pytorch");
}

#[test]
fn clipping() {
    let mut g = vec![Tensor::<f64>::from_vec(vec![3.0], [1]).unwrap(), Tensor::from_vec(vec![4.0], [1]).unwrap()];
    let n = clip_grad_norm(&mut g, 1.0);
    assert_eq!(n, 5.0);
    assert!((g[0].data()[0] - 0.6).abs() < 1e-6 && (g[1].data()[0] - 0.8).abs() < 1e-6);
    let mut g = vec![Tensor::<f64>::from_vec(vec![3.0, -0.5, -7.0], [3]).unwrap()];
    clip_grad_value(&mut g, 1.0);
    assert_eq!(g[0].to_vec(), vec![1.0, -0.5, -1.0]);

    // Inside an optimizer: SGD(lr=1) with clipping moves by exactly the clipped gradient.
    let step = |clip: Clip| {
        let mut a = Tensor::<f64>::zeros([2]);
        let mut b = Tensor::<f64>::zeros([1]);
        let ga = Tensor::from_vec(vec![3.0, 4.0], [2]).unwrap();
        let gb = Tensor::from_vec(vec![12.0], [1]).unwrap();
        Sgd::new(1.0).clip(clip).step(&mut [&mut a, &mut b], &[ga, gb]);
        (a.to_vec(), b.to_vec())
    };
    let (a, b) = step(Clip::Value(3.5));
    assert_eq!((a, b), (vec![-3.0, -3.5], vec![-3.5]));
    let (a, b) = step(Clip::Norm(1.0)); // per tensor: [0.6, 0.8] and [1.0]
    assert!((a[0] + 0.6).abs() < 1e-12 && (a[1] + 0.8).abs() < 1e-12 && (b[0] + 1.0).abs() < 1e-12);
    let (a, b) = step(Clip::GlobalNorm(1.3)); // joint norm 13 -> scale 0.1
    assert!((a[0] + 0.3).abs() < 1e-6 && (a[1] + 0.4).abs() < 1e-6 && (b[0] + 1.2).abs() < 1e-6, "{a:?} {b:?}");
}

#[test]
fn schedules() {
    let s = Schedule::Step { initial: 0.1, step_size: 3, gamma: 0.5 };
    assert_eq!([0, 2, 3, 5, 6].map(|t| s.value(t)), [0.1, 0.1, 0.05, 0.05, 0.025]);
    let e = Schedule::Exponential { initial: 1.0, decay_steps: 10, decay_rate: 0.5, staircase: false };
    assert!((e.value(5) - 0.5f64.sqrt()).abs() < 1e-15);
    assert!((e.value(20) - 0.25).abs() < 1e-15);
    let es = Schedule::Exponential { initial: 1.0, decay_steps: 10, decay_rate: 0.5, staircase: true };
    assert_eq!([es.value(9), es.value(10), es.value(25)], [1.0, 0.5, 0.25]);
    let c = Schedule::Cosine { initial: 0.1, decay_steps: 100, alpha: 0.0 };
    assert!((c.value(0) - 0.1).abs() < 1e-15);
    assert!((c.value(50) - 0.05).abs() < 1e-15);
    assert!(c.value(100).abs() < 1e-15 && c.value(1000).abs() < 1e-15);
    let ca = Schedule::Cosine { initial: 1.0, decay_steps: 10, alpha: 0.1 };
    assert!((ca.value(10) - 0.1).abs() < 1e-15);
    assert!((ca.value(5) - 0.55).abs() < 1e-15);
}

#[test]
fn reduce_on_plateau_rule() {
    let mut r = ReduceLrOnPlateau::new("val_loss").factor(0.5).patience(2).cooldown(1).min_lr(0.2);
    let mut lr = 1.0;
    let mut lrs = vec![];
    for v in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95] {
        if let Some(n) = r.observe(v, lr) {
            lr = n;
        }
        lrs.push(lr);
    }
    // Keras' rule: best 0.9 at t=1; t=2,3 no improvement -> reduce at t=3 to 0.5 and start a
    // cooldown of 1; at t=4 the cooldown ends (wait reset, then counted: wait=1); t=5 wait=2
    // -> 0.25; likewise t=7 -> max(0.125, min_lr 0.2) = 0.2; then lr is at min_lr and stays.
    assert_eq!(lrs, vec![1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]);
    // min_delta: 0.89995 is not an improvement over 0.9 by more than 1e-4.
    let mut r = ReduceLrOnPlateau::new("val_loss").patience(1);
    assert_eq!(r.observe(0.9, 1.0), None);
    assert_eq!(r.observe(0.89995, 1.0), Some(0.1));
}

#[test]
fn optimizer_state_round_trip() {
    let make = || -> Vec<Box<dyn Optimizer<f64>>> {
        vec![
            Box::new(Sgd::new(0.1).momentum(0.9)),
            Box::new(Adam::new(0.01)),
            Box::new(AdamW::pytorch()),
            Box::new(RmsProp::new(0.01).momentum(0.3).centered(true)),
            Box::new(Adagrad::new(0.1)),
        ]
    };
    for (mut a, mut b) in make().into_iter().zip(make()) {
        let mut pa = Tensor::from_vec(P0.to_vec(), [3]).unwrap();
        let g = |k: usize| Tensor::from_vec(GRADS[k].to_vec(), [3]).unwrap();
        a.step(&mut [&mut pa], &[g(0)]);
        a.step(&mut [&mut pa], &[g(1)]);
        a.set_learning_rate(0.003);
        let sd = a.state_dict();
        assert_eq!(sd.metadata["step"], "2");
        assert_eq!(sd.metadata["optimizer"], a.name());
        b.load_state_dict(&sd).unwrap();
        assert_eq!(b.iterations(), 2);
        assert_eq!(b.learning_rate(), 0.003);
        let mut pb = pa.clone();
        a.step(&mut [&mut pa], &[g(2)]);
        b.step(&mut [&mut pb], &[g(2)]);
        assert_eq!(pa.to_vec(), pb.to_vec(), "{}", a.name());
    }
    // Errors name the problem.
    let sd = Adam::<f64>::new(0.1).state_dict();
    let e = Sgd::<f64>::new(0.1).load_state_dict(&sd).unwrap_err();
    assert!(e.to_string().contains("adam"), "{e}");
    let mut a = Adam::<f64>::new(0.1);
    let mut p = Tensor::zeros([2]);
    a.step(&mut [&mut p], &[Tensor::ones([2])]);
    let mut sd = a.state_dict();
    sd.insert("state.0.bogus".into(), Tensor::zeros([2]));
    let e = Adam::<f64>::new(0.1).load_state_dict(&sd).unwrap_err();
    assert!(matches!(&e, nn::NnError::UnexpectedTensor { name } if name == "state.0.bogus"), "{e}");
    sd.shift_remove("state.0.bogus");
    sd.shift_remove("state.0.exp_avg_sq");
    let e = Adam::<f64>::new(0.1).load_state_dict(&sd).unwrap_err();
    assert!(matches!(&e, nn::NnError::MissingTensor { name } if name == "state.0.exp_avg_sq"), "{e}");
}
