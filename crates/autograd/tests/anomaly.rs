//! Anomaly mode names the op (and where it was called) that first produced NaN or infinity,
//! in the forward pass or in the backward pass.

use autograd::{detect_anomaly, is_anomaly_enabled, Tape, Tensor, Var};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

/// A small model whose hidden layer has an exact zero (relu of a negative pre-activation).
fn model(tape: &Tape<f64>) -> (Var<f64>, Var<f64>) {
    let x = tape.var(Tensor::from_vec(vec![1.0, 2.0], [1, 2]).unwrap());
    let w = tape.var(Tensor::from_vec(vec![1.0, -1.0, 0.5, -2.0], [2, 2]).unwrap());
    let h = x.matmul(&w).relu(); // [[2, 0]]: the second unit is dead
    (x, h)
}

#[test]
fn forward_ln_of_zero_is_reported_at_ln() {
    let tape = Tape::new();
    let (_x, h) = model(&tape);
    let line = line!() + 3;
    let msg = panic_message(|| {
        detect_anomaly(|| {
            let logh = h.ln(); // ln(0) = -inf
            (&logh * 2.0).tanh().sum()
        });
    });
    assert!(msg.contains("anomaly: forward of `ln`"), "{msg}");
    assert!(msg.contains(&format!("anomaly.rs:{line}")), "location missing from: {msg}");
    assert!(msg.contains("-inf") && msg.contains("[1, 2]"), "{msg}");
    assert!(!is_anomaly_enabled(), "the mode is restored after a panic");
}

#[test]
fn forward_zero_over_zero_is_reported_at_div() {
    let tape = Tape::new();
    let (_x, h) = model(&tape);
    let msg = panic_message(|| {
        detect_anomaly(|| {
            let a = h.exp() - 1.0; // [[e^2 - 1, 0]]
            let r = &a / &h; // 0/0 in the second unit
            r.sum() // sum of NaN is NaN, but only div is blamed
        });
    });
    assert!(msg.contains("anomaly: forward of `div`") && msg.contains("NaN"), "{msg}");
}

#[test]
fn backward_inf_is_reported_at_sqrt() {
    let tape = Tape::new();
    let (_x, h) = model(&tape);
    let line = line!() + 2;
    let msg = panic_message(|| {
        let y = detect_anomaly(|| h.sqrt().sum()); // forward sqrt(0) = 0 is fine
        detect_anomaly(|| y.backward()); // d sqrt at 0 = inf
    });
    assert!(msg.contains("anomaly: backward of `sqrt`"), "{msg}");
    assert!(msg.contains(&format!("anomaly.rs:{line}")), "recording location missing from: {msg}");
}

#[test]
fn backward_inf_is_reported_at_powf() {
    // h^0.5 is finite at h = 0 but its gradient 0.5 h^-0.5 is +inf there.
    let tape = Tape::new();
    let (_x, h) = model(&tape);
    let msg = panic_message(|| {
        detect_anomaly(|| (h.powf(0.5) * 3.0).sum().backward());
    });
    assert!(msg.contains("anomaly: backward of `powf`") && msg.contains("inf"), "{msg}");
}

#[test]
fn without_anomaly_mode_nothing_is_checked() {
    let tape = Tape::new();
    let (x, h) = model(&tape);
    let y = (h.ln() * 0.0).sum(); // -inf * 0 = NaN, silently
    assert!(y.item().is_nan());
    let g = y.backward().wrt(&x);
    assert!(g.data().iter().any(|v| v.is_nan()));
}

#[test]
fn propagated_nan_is_not_blamed_on_later_ops() {
    let bad = Var::constant(Tensor::<f64>::from_vec(vec![f64::NAN, 1.0], [2]).unwrap());
    // A NaN that comes from outside: no op created it, so nothing panics.
    let y = detect_anomaly(|| (bad.exp() * 2.0).sum());
    assert!(y.item().is_nan());
}
