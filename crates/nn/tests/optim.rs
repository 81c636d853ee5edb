//! Optimizers against hand-computed updates, clipping, schedules, and optimizer state.

use autograd::Tensor;
use nn::callbacks::ReduceLrOnPlateau;
use nn::optim::{clip_grad_norm, clip_grad_value};
use nn::{Adagrad, Adam, AdamW, Clip, Optimizer, RmsProp, Schedule, Sgd};

const P0: [f64; 3] = [1.0, -2.0, 0.5];
const GRADS: [[f64; 3]; 3] = [[0.5, -1.0, 0.25], [0.1, 0.3, -2.0], [-0.2, 0.4, 0.0]];

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

    let got = run(&mut Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
    let want = reference(|_, p, g, s| {
        let g = g + 0.01 * p;
        s[0] = 0.9 * s[0] + g;
        p - 0.1 * (g + 0.9 * s[0])
    });
    assert_close(&got, &want, "sgd nesterov wd");
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
