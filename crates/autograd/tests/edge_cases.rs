//! Numerical edge cases: softmax / log-softmax / cross-entropy with logits of ±1e4, sigmoid
//! and softplus at ±100, gradients at 0 of `sqrt`, `ln`, `pow` and the kinks (compared with
//! what PyTorch gives), NaN propagation, empty tensors and zero-size dimensions, and 0-d
//! tensors through every op family.

use autograd::{grad, gradcheck, gradgradcheck, GradcheckOptions, Tape, Tensor, Var};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn t32(v: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

/// The value of `f(x)` and its derivative, for a scalar `x`.
fn value_and_grad(x: f64, f: impl Fn(&Var<f64>) -> Var<f64>) -> (f64, f64) {
    let tape = Tape::new();
    let v = tape.var(Tensor::scalar(x));
    let y = f(&v);
    (y.item(), y.backward().wrt(&v).item())
}

/// The value of `f(x, y)` and its two partial derivatives.
fn value_and_grads2(x: f64, y: f64, f: impl Fn(&Var<f64>, &Var<f64>) -> Var<f64>) -> (f64, f64, f64) {
    let tape = Tape::new();
    let (vx, vy) = (tape.var(Tensor::scalar(x)), tape.var(Tensor::scalar(y)));
    let z = f(&vx, &vy);
    let g = z.backward();
    (z.item(), g.wrt(&vx).item(), g.wrt(&vy).item())
}

/// Relative closeness for values far from 1 (e.g. 3.7e-44).
fn rel_close(a: f64, b: f64, rtol: f64) -> bool {
    a == b || (a - b).abs() <= rtol * b.abs()
}

const E100: f64 = 3.720075976020836e-44; // e^-100

// ------------------------------------------------------------------ softmax family at ±1e4

#[test]
fn softmax_with_huge_logits_is_finite_and_exact() {
    for (x, want) in [
        (vec![1e4, 0.0], vec![1.0, 0.0]),
        (vec![-1e4, 0.0], vec![0.0, 1.0]),
        (vec![1e4, 1e4], vec![0.5, 0.5]),
        (vec![-1e4, -1e4], vec![0.5, 0.5]),
        (vec![1e4, -1e4, 0.0], vec![1.0, 0.0, 0.0]),
    ] {
        let n = x.len();
        let tape = Tape::new();
        let v = tape.var(t(&x, &[n]));
        let y = v.softmax(-1);
        assert_eq!(y.value().to_vec(), want, "softmax({x:?})");
        // d/dx sum(w * softmax(x)) = y * (w - sum(w * y)): finite, and 0 where y is 0 or 1.
        let w = Var::constant(Tensor::arange(n));
        let g = (&y * &w).sum().backward().wrt(&v);
        assert!(g.all_finite(), "softmax grad at {x:?}: {g:?}");
        let wy: f64 = want.iter().enumerate().map(|(i, p)| i as f64 * p).sum();
        let expect: Vec<f64> = want.iter().enumerate().map(|(i, p)| p * (i as f64 - wy)).collect();
        assert!(g.allclose(&t(&expect, &[n]), 1e-12, 1e-12), "{g:?} vs {expect:?}");
    }
    // Along axis 0 of a matrix, and in f32.
    let x = t(&[1e4, 0.0, 0.0, 1e4], &[2, 2]);
    assert_eq!(Var::constant(x).softmax(0).value().to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    let y = Var::constant(t32(&[1e4, 0.0, -1e4], &[3])).softmax(0);
    assert_eq!(y.value().to_vec(), vec![1.0f32, 0.0, 0.0]);
}

#[test]
fn log_softmax_with_huge_logits_is_finite_and_exact() {
    let tape = Tape::new();
    let v = tape.var(t(&[1e4, 0.0, -1e4], &[3]));
    let y = v.log_softmax(0);
    assert_eq!(y.value().to_vec(), vec![0.0, -1e4, -2e4]);
    // d/dx sum(log_softmax(x)) = 1 - n softmax(x)
    let g = y.sum().backward().wrt(&v);
    assert_eq!(g.to_vec(), vec![-2.0, 1.0, 1.0]);
    let y = Var::constant(t32(&[-1e4, 0.0], &[2])).log_softmax(-1);
    assert_eq!(y.value().to_vec(), vec![-1e4f32, 0.0]);
    // logsumexp at the same scale
    let l = Var::constant(t(&[1e4, 0.0], &[2])).logsumexp(&[], false);
    assert_eq!(l.item(), 1e4);
    let l = Var::constant(t(&[-1e4, -1e4], &[2])).logsumexp(&[], false);
    assert!((l.item() - (-1e4 + 2f64.ln())).abs() < 1e-9);
}

#[test]
fn masked_logits_of_minus_infinity() {
    // The attention-mask pattern: -inf logits get probability 0 and gradient 0, not NaN.
    let tape = Tape::new();
    let v = tape.var(t(&[f64::NEG_INFINITY, 0.0, 0.0], &[3]));
    let y = v.softmax(0);
    assert_eq!(y.value().to_vec(), vec![0.0, 0.5, 0.5]);
    let w = Var::constant(t(&[1.0, 2.0, 3.0], &[3]));
    let g = (&y * &w).sum().backward().wrt(&v);
    assert_eq!(g.to_vec(), vec![0.0, -0.25, 0.25]);
    let ls = v.log_softmax(0);
    assert_eq!(ls.value().data()[0], f64::NEG_INFINITY);
    assert!((ls.value().data()[1] + 2f64.ln()).abs() < 1e-15);
    let lse = v.logsumexp(&[], false);
    assert!((lse.item() - 2f64.ln()).abs() < 1e-15);
    assert_eq!(lse.backward().wrt(&v).to_vec(), vec![0.0, 0.5, 0.5]);
    let tape = Tape::new();
    let v = tape.var(t(&[f64::NEG_INFINITY, 0.0], &[1, 2]));
    let ce = v.cross_entropy(&[1]);
    assert_eq!(ce.item(), 0.0);
    assert_eq!(ce.backward().wrt(&v).to_vec(), vec![0.0, 0.0]);
}

#[test]
fn cross_entropy_with_huge_logits() {
    let tape = Tape::new();
    let v = tape.var(t(&[1e4, 0.0, 0.0, 1e4, 0.0, -1e4], &[3, 2]));
    // Targets at the 1e4 logits (or at 0 against -1e4): loss 0. Targets at 0 against 1e4,
    // or at -1e4 against 0: loss 1e4 per row.
    for (targets, want) in [([0usize, 1, 0], 0.0), ([1, 0, 1], 1e4)] {
        let ce = v.cross_entropy(&targets);
        assert!((ce.item() - want).abs() <= 1e-12 * want, "targets {targets:?}: {} vs {want}", ce.item());
    }
    for (targets, want) in [([0usize], 0.0), ([1], 1e4)] {
        let tape = Tape::new();
        let v = tape.var(t(&[1e4, 0.0], &[1, 2]));
        let ce = v.cross_entropy(&targets);
        assert_eq!(ce.item(), want, "targets {targets:?}");
        // (softmax - onehot) / n
        let g = ce.backward().wrt(&v);
        let expect = if targets[0] == 0 { vec![0.0, 0.0] } else { vec![1.0, -1.0] };
        assert_eq!(g.to_vec(), expect);
    }
    // f32 too
    let ce = Var::constant(t32(&[1e4, 0.0], &[1, 2])).cross_entropy(&[1]);
    assert_eq!(ce.item(), 1e4f32);
}

#[test]
fn binary_cross_entropy_with_huge_logits() {
    for (x, target, want) in [(1e4, 1.0, 0.0), (1e4, 0.0, 1e4), (-1e4, 1.0, 1e4), (-1e4, 0.0, 0.0), (100.0, 0.0, 100.0)]
    {
        let tape = Tape::new();
        let v = tape.var(Tensor::scalar(x));
        let l = v.binary_cross_entropy_with_logits(&Var::scalar(target));
        assert_eq!(l.item(), want, "bce({x}, {target})");
        // d/dx = sigmoid(x) - t
        let g = l.backward().wrt(&v).item();
        let s = if x > 0.0 { 1.0 } else { 0.0 };
        assert_eq!(g, s - target, "bce'({x}, {target})");
    }
}

// ------------------------------------------------------------------ sigmoid, softplus, tanh at ±100

#[test]
fn sigmoid_at_plus_minus_100() {
    let (y, g) = value_and_grad(100.0, |x| x.sigmoid());
    assert_eq!(y, 1.0);
    assert_eq!(g, 0.0); // y (1 - y) rounds to 0, as in PyTorch; finite either way
    let (y, g) = value_and_grad(-100.0, |x| x.sigmoid());
    assert!(rel_close(y, E100, 1e-12), "{y}");
    assert!(rel_close(g, E100, 1e-12), "{g}");
    // f32: e^-100 is a subnormal, not 0
    let s = Var::constant(t32(&[-100.0, 100.0], &[2])).sigmoid();
    assert!(s.value().data()[0] > 0.0 && s.value().data()[0] < 1e-43);
    assert_eq!(s.value().data()[1], 1.0);
    assert!(Var::constant(t(&[1e4, -1e4], &[2])).sigmoid().value().all_finite());
}

#[test]
fn softplus_at_plus_minus_100() {
    let (y, g) = value_and_grad(100.0, |x| x.softplus());
    assert_eq!(y, 100.0);
    assert_eq!(g, 1.0);
    let (y, g) = value_and_grad(-100.0, |x| x.softplus());
    assert!(rel_close(y, E100, 1e-12), "{y}");
    assert!(rel_close(g, E100, 1e-12), "{g}"); // the gradient is sigmoid(x)
    let (y, g) = value_and_grad(1e4, |x| x.softplus());
    assert_eq!((y, g), (1e4, 1.0));
    let (y, g) = value_and_grad(-1e4, |x| x.softplus());
    assert_eq!((y, g), (0.0, 0.0));
    // Second derivative sigmoid'(x) stays finite too.
    for x in [-100.0f64, 100.0] {
        let tape = Tape::new();
        let v = tape.var(Tensor::scalar(x));
        let d1 = grad(&[&v.softplus()], &[&v], true).wrt_var(&v);
        let d2 = grad(&[&d1], &[&v], false).wrt(&v).item();
        assert!(d2.is_finite() && (0.0..1e-40).contains(&d2), "softplus''({x}) = {d2}");
    }
}

#[test]
fn other_saturating_functions_at_plus_minus_100() {
    for (x, tanh, gelu, gelu_g) in [(100.0, 1.0, 100.0, 1.0), (-100.0, -1.0, 0.0, 0.0)] {
        assert_eq!(value_and_grad(x, |v| v.tanh()), (tanh, 0.0));
        let (y, g) = value_and_grad(x, |v| v.gelu());
        assert_eq!((y.abs(), g.abs()), (gelu, gelu_g), "gelu({x})");
        let (y, g) = value_and_grad(x, |v| v.erf());
        assert_eq!((y, g), (x.signum(), 0.0));
    }
    // elu'(x) = alpha e^x for x <= 0 is computed as y + alpha, which rounds to 0 at -100
    // (the exact value is 5.6e-44): finite and correct to within 1e-43.
    let (y, g) = value_and_grad(-100.0, |v| v.elu(1.5));
    assert!(rel_close(y, -1.5, 1e-15) && (0.0..1e-42).contains(&g), "elu: {y} {g}");
}

// ------------------------------------------------------------------ gradients at 0 (vs PyTorch)

#[test]
fn sqrt_and_ln_at_zero() {
    // torch: sqrt'(0) = inf, log(0) = -inf with log'(0) = inf
    assert_eq!(value_and_grad(0.0, |x| x.sqrt()), (0.0, f64::INFINITY));
    assert_eq!(value_and_grad(0.0, |x| x.ln()), (f64::NEG_INFINITY, f64::INFINITY));
    assert_eq!(value_and_grad(-1.0, |x| x.log1p()), (f64::NEG_INFINITY, f64::INFINITY));
    assert_eq!(value_and_grad(0.0, |x| x.recip()), (f64::INFINITY, f64::NEG_INFINITY));
}

#[test]
fn powf_and_powi_at_zero() {
    // torch.pow(x, p) with a constant p at x = 0: p * 0^(p-1)
    assert_eq!(value_and_grad(0.0, |x| x.powf(0.5)), (0.0, f64::INFINITY));
    assert_eq!(value_and_grad(0.0, |x| x.powf(2.0)), (0.0, 0.0));
    assert_eq!(value_and_grad(0.0, |x| x.powf(1.0)), (0.0, 1.0));
    assert_eq!(value_and_grad(0.0, |x| x.powf(0.0)), (1.0, 0.0));
    assert_eq!(value_and_grad(0.0, |x| x.powi(2)), (0.0, 0.0));
    assert_eq!(value_and_grad(0.0, |x| x.powi(1)), (0.0, 1.0));
    assert_eq!(value_and_grad(0.0, |x| x.powi(0)), (1.0, 0.0));
    assert_eq!(value_and_grad(0.0, |x| x.powi(-1)), (f64::INFINITY, f64::NEG_INFINITY));
    assert_eq!(value_and_grad(0.0, |x| x.square()), (0.0, 0.0));
    // second derivative of x^2 at 0 is 2, of x^3 is 0
    for (p, want) in [(2, 2.0), (3, 0.0)] {
        let tape = Tape::new();
        let v = tape.var(Tensor::scalar(0.0));
        let d1 = grad(&[&v.powi(p)], &[&v], true).wrt_var(&v);
        assert_eq!(grad(&[&d1], &[&v], false).wrt(&v).item(), want);
    }
}

#[test]
fn pow_with_a_variable_exponent_at_base_zero() {
    // torch.pow(a, b) at a = 0 (both requiring grad):
    //   d/da = 0 where b == 0, else b * 0^(b-1);
    //   d/db = a^b ln a, masked to 0 where a == 0 and b >= 0 (so -inf for b < 0).
    let pow = |a: &Var<f64>, b: &Var<f64>| a.pow(b);
    assert_eq!(value_and_grads2(0.0, 2.0, pow), (0.0, 0.0, 0.0));
    assert_eq!(value_and_grads2(0.0, 1.0, pow), (0.0, 1.0, 0.0));
    assert_eq!(value_and_grads2(0.0, 0.5, pow), (0.0, f64::INFINITY, 0.0));
    assert_eq!(value_and_grads2(0.0, 0.0, pow), (1.0, 0.0, 0.0));
    assert_eq!(value_and_grads2(0.0, -1.0, pow), (f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY));
    // Away from 0 nothing is masked: d/db 2^3 = 8 ln 2, d/da 2^0 = 0.
    let (y, ga, gb) = value_and_grads2(2.0, 3.0, pow);
    assert_eq!((y, ga), (8.0, 12.0));
    assert!((gb - 8.0 * 2f64.ln()).abs() < 1e-12);
    assert_eq!(value_and_grads2(2.0, 0.0, pow), (1.0, 0.0, 2f64.ln()));
    // Second derivatives at a = 0, b = 2 are finite: d2/da2 = 2, d2/da db = 0, d2/db2 = 0.
    let tape = Tape::new();
    let (a, b) = (tape.var(Tensor::scalar(0.0)), tape.var(Tensor::scalar(2.0)));
    let y = a.pow(&b);
    let g = grad(&[&y], &[&a, &b], true);
    let (ga, gb) = (g.wrt_var(&a), g.wrt_var(&b));
    let h_a = grad(&[&ga], &[&a, &b], false);
    let h_b = grad(&[&gb], &[&a, &b], false);
    assert_eq!((h_a.wrt(&a).item(), h_a.wrt(&b).item()), (2.0, 0.0));
    assert_eq!((h_b.wrt(&a).item(), h_b.wrt(&b).item()), (0.0, 0.0));
    // ... and at a = 0, b = 0 (where a^(b-1) is infinite) the gradients are still 0, not NaN.
    let tape = Tape::new();
    let (a, b) = (tape.var(Tensor::scalar(0.0)), tape.var(Tensor::scalar(0.0)));
    let g = grad(&[&a.pow(&b)], &[&a, &b], true);
    let h = grad(&[&g.wrt_var(&a)], &[&a, &b], false);
    assert_eq!((h.wrt(&a).item(), h.wrt(&b).item()), (0.0, 0.0));
    // Broadcasting with zeros in the base: the mask follows the broadcast shape.
    let tape = Tape::new();
    let a = tape.var(t(&[0.0, 2.0], &[2, 1]));
    let b = tape.var(t(&[0.0, 1.0, -1.0], &[3]));
    let g = a.pow(&b).sum().backward();
    let (ga, gb) = (g.wrt(&a), g.wrt(&b));
    // a = 0 row: d/da = 0 (b = 0) + 1 (b = 1) + -inf (b = -1)
    assert_eq!(ga.data()[0], f64::NEG_INFINITY);
    // a = 2 row: 0 + 1 + -1/4
    assert_eq!(ga.data()[1], 0.75);
    // d/db: a = 0 row contributes 0, 0, -inf; a = 2 row contributes 2^b ln 2
    let l2 = 2f64.ln();
    assert_eq!(gb.data()[0], l2);
    assert!((gb.data()[1] - 2.0 * l2).abs() < 1e-15);
    assert_eq!(gb.data()[2], f64::NEG_INFINITY);
}

#[test]
fn kinks_at_zero_follow_pytorch() {
    assert_eq!(value_and_grad(0.0, |x| x.relu()), (0.0, 0.0));
    assert_eq!(value_and_grad(0.0, |x| x.abs()), (0.0, 0.0));
    assert_eq!(value_and_grad(0.0, |x| x.leaky_relu(0.1)), (0.0, 0.1));
    assert_eq!(value_and_grad(0.0, |x| x.elu(0.7)), (0.0, 0.7));
    // clamp: gradient 1 on the closed interval, boundaries included
    assert_eq!(value_and_grad(-1.0, |x| x.clamp(-1.0, 2.0)), (-1.0, 1.0));
    assert_eq!(value_and_grad(2.0, |x| x.clamp(-1.0, 2.0)), (2.0, 1.0));
    assert_eq!(value_and_grad(2.5, |x| x.clamp(-1.0, 2.0)), (2.0, 0.0));
    assert_eq!(value_and_grad(0.5, |x| x.clamp(0.5, 0.5)), (0.5, 1.0));
    // ties share: maximum / minimum half each, max over equal elements equally
    assert_eq!(value_and_grads2(1.0, 1.0, |a, b| a.maximum(b)), (1.0, 0.5, 0.5));
    assert_eq!(value_and_grads2(1.0, 1.0, |a, b| a.minimum(b)), (1.0, 0.5, 0.5));
    let tape = Tape::new();
    let v = tape.var(t(&[2.0, 2.0, 2.0, 1.0], &[4]));
    assert_eq!(v.max().backward().wrt(&v).to_vec(), vec![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0]);
}

#[test]
fn nan_propagates_like_pytorch() {
    let nan = f64::NAN;
    // torch.maximum / torch.minimum return NaN if either side is NaN.
    for (a, b) in [(nan, 1.0), (1.0, nan), (nan, nan)] {
        let (x, y) = (Var::scalar(a), Var::scalar(b));
        assert!(x.maximum(&y).item().is_nan(), "maximum({a}, {b})");
        assert!(x.minimum(&y).item().is_nan(), "minimum({a}, {b})");
    }
    let x = Var::constant(t(&[1.0, nan, -2.0], &[3]));
    for (name, y) in [
        ("relu", x.relu()),
        ("abs", x.abs()),
        ("clamp", x.clamp(-1.0, 1.0)),
        ("sigmoid", x.sigmoid()),
        ("softplus", x.softplus()),
        ("leaky_relu", x.leaky_relu(0.1)),
        ("elu", x.elu(1.0)),
        ("tanh", x.tanh()),
    ] {
        assert!(y.value().data()[1].is_nan(), "{name}(NaN) = {}", y.value().data()[1]);
    }
    assert!(x.max().item().is_nan());
    assert!(x.min().item().is_nan());
    assert!(x.sum().item().is_nan());
}

// ------------------------------------------------------------------ empty tensors

#[test]
fn reductions_of_empty_tensors() {
    let x = Var::constant(Tensor::<f64>::zeros([0, 3]));
    // Like NumPy / PyTorch: the sum of nothing is 0 and the mean NaN.
    assert_eq!(x.sum().value(), &Tensor::scalar(0.0));
    assert_eq!(x.sum_axes(&[0], false).value(), &Tensor::zeros([3]));
    assert_eq!(x.sum_axes(&[0], true).value(), &Tensor::zeros([1, 3]));
    assert_eq!(x.sum_axes(&[1], false).shape(), &[0]);
    assert!(x.mean().item().is_nan());
    let m = x.mean_axes(&[0], false);
    assert_eq!(m.shape(), &[3]);
    assert!(m.value().data().iter().all(|v| v.is_nan()));
    assert_eq!(x.mean_axes(&[1], true).shape(), &[0, 1]);
    // max over an empty axis: NumPy and PyTorch raise; here it is the identity of max,
    // -inf (and +inf for min), documented on max_axes / min_axes.
    assert_eq!(x.max_axes(&[0], false).value(), &Tensor::full([3], f64::NEG_INFINITY));
    assert_eq!(x.min_axes(&[0], true).value(), &Tensor::full([1, 3], f64::INFINITY));
    assert_eq!(x.max().item(), f64::NEG_INFINITY);
    assert_eq!(x.max_axes(&[1], false).shape(), &[0]);
    assert_eq!(x.logsumexp(&[0], false).value(), &Tensor::full([3], f64::NEG_INFINITY));
    assert!(x.var_axes(&[0], false, 0).value().data().iter().all(|v| v.is_nan()));
    // argmax has no answer over an empty axis: a clear panic.
    let msg = panic_message(|| {
        x.argmax(0);
    });
    assert!(msg.contains("argmax") && msg.contains("[0, 3]") && msg.contains("empty"), "{msg}");
    assert_eq!(x.argmax(1), Vec::<usize>::new());
}

#[test]
fn elementwise_and_shape_ops_on_empty_tensors() {
    let tape = Tape::new();
    let x = tape.var(Tensor::<f64>::zeros([0, 3]));
    let w = tape.var(t(&[1.0, 2.0, 3.0], &[3]));
    for y in [
        x.exp(),
        x.tanh(),
        x.sigmoid(),
        x.relu(),
        x.ln(),
        x.softmax(-1),
        x.softmax(0),
        x.log_softmax(0),
        &x + &w,
        &x * &w,
        &w / &x,
        x.maximum(&w),
        x.pow(&w),
        &x * 2.0,
        x.permute(&[1, 0]).t(),
        x.clamp(0.0, 1.0),
    ] {
        assert_eq!(y.shape(), &[0, 3]);
    }
    // broadcasting against 1s and empty partners
    assert_eq!((&x + &Var::constant(Tensor::ones([1, 1]))).shape(), &[0, 3]);
    let a = Var::constant(Tensor::<f64>::zeros([0, 1]));
    let b = Var::constant(Tensor::<f64>::zeros([1, 3]));
    assert_eq!((&a + &b).shape(), &[0, 3]);
    assert_eq!(x.reshape([3, 0]).shape(), &[3, 0]);
    assert_eq!(x.reshape_infer(&[-1, 3]).shape(), &[0, 3]);
    assert_eq!(x.flatten(0, -1).shape(), &[0]);
    assert_eq!(x.unsqueeze(1).shape(), &[0, 1, 3]);
    assert_eq!(x.broadcast_to(&[2, 0, 3]).shape(), &[2, 0, 3]);
    assert_eq!(x.narrow(1, 1, 2).shape(), &[0, 2]);
    assert_eq!(w.narrow(0, 1, 0).shape(), &[0]);
    assert_eq!(Var::concat(&[&x, &w.unsqueeze(0)], 0).shape(), &[1, 3]);
    assert_eq!(Var::stack(&[&x, &x], 0).shape(), &[2, 0, 3]);
    assert_eq!(w.index_select(0, &[]).shape(), &[0]);
    assert_eq!(x.split(&[1, 2], 1)[1].shape(), &[0, 2]);
    // printing does not panic
    assert_eq!(format!("{}", x.value()), "[]");
    let _ = format!("{:?} {}", Tensor::<f64>::zeros([3, 0]), Tensor::<f32>::zeros([2, 0, 2]));
}

#[test]
fn backward_through_empty_tensors() {
    let tape = Tape::new();
    let x = tape.var(Tensor::<f64>::zeros([0, 3]));
    let w = tape.var(t(&[1.0, 2.0, 3.0], &[3]));
    let y = (&x * &w).exp().sum() + w.sum();
    assert_eq!(y.item(), 6.0);
    let g = y.backward();
    assert_eq!(g.wrt(&x).shape(), &[0, 3]);
    // w gets only the gradient of w.sum(): the empty product contributes a sum over nothing.
    assert_eq!(g.wrt(&w).to_vec(), vec![1.0, 1.0, 1.0]);
    // A NaN mean of an empty tensor still gives an empty (not NaN-filled) gradient, and a
    // broadcast partner gets 0 from the sum over no elements, as in PyTorch.
    let tape = Tape::new();
    let x = tape.var(Tensor::<f64>::zeros([0, 3]));
    let w = tape.var(t(&[1.0, 2.0, 3.0], &[3]));
    let m = (&x * &w).mean();
    assert!(m.item().is_nan());
    let g = m.backward();
    assert_eq!(g.wrt(&x).shape(), &[0, 3]);
    assert_eq!(g.wrt(&w).to_vec(), vec![0.0, 0.0, 0.0]);
    // Max over an empty axis, then backward.
    let tape = Tape::new();
    let x = tape.var(Tensor::<f64>::zeros([2, 0]));
    let g = x.max_axes(&[1], false).sum().backward();
    assert_eq!(g.wrt(&x).shape(), &[2, 0]);
    // cross-entropy over zero rows: NaN loss (PyTorch's mean over nothing), empty gradient
    let tape = Tape::new();
    let x = tape.var(Tensor::<f64>::zeros([0, 4]));
    let ce = x.cross_entropy(&[]);
    assert!(ce.item().is_nan());
    assert_eq!(ce.backward().wrt(&x).shape(), &[0, 4]);
    // gradcheck and gradgradcheck accept empty inputs
    let opts = GradcheckOptions::default();
    let f = |v: &[Var<f64>]| (&v[0] * &v[1]).tanh().sum_axes(&[0], false);
    let inputs = [Tensor::zeros([0, 3]), t(&[0.1, 0.2, 0.3], &[3])];
    gradcheck(f, &inputs, opts).unwrap();
    gradgradcheck(f, &inputs, opts).unwrap();
}

#[test]
fn matmul_with_zero_size_dimensions() {
    let cases: [(&[usize], &[usize], &[usize]); 8] = [
        (&[0, 3], &[3, 2], &[0, 2]),
        (&[2, 0], &[0, 3], &[2, 3]), // inner dimension 0: a matrix of zeros
        (&[2, 3], &[3, 0], &[2, 0]),
        (&[0, 2, 3], &[3, 4], &[0, 2, 4]),
        (&[2, 1, 1, 3], &[0, 3, 4], &[2, 0, 1, 4]),
        (&[0], &[0], &[]), // an empty dot product is 0
        (&[0], &[0, 2], &[2]),
        (&[2, 0], &[0], &[2]),
    ];
    for (sa, sb, out) in cases {
        let tape = Tape::new();
        let a = tape.var(Tensor::<f64>::ones(sa));
        let b = tape.var(Tensor::<f64>::ones(sb));
        let y = a.matmul(&b);
        assert_eq!(y.shape(), out, "{sa:?} x {sb:?}");
        assert!(y.value().data().iter().all(|&v| v == 0.0), "{sa:?} x {sb:?}: {:?}", y.value());
        assert_eq!(a.value().matmul(b.value()), y.value().clone());
        let g = y.sum().backward();
        assert_eq!(g.wrt(&a), Tensor::zeros(sa), "{sa:?} x {sb:?}");
        assert_eq!(g.wrt(&b), Tensor::zeros(sb), "{sa:?} x {sb:?}");
    }
    // [0, 3] x [3, 2]: b's gradient is a sum over no rows, zeros of b's shape.
    let tape = Tape::new();
    let a = tape.var(Tensor::<f64>::zeros([0, 3]));
    let b = tape.var(Tensor::<f64>::ones([3, 2]));
    assert_eq!(a.matmul(&b).sum().backward().wrt(&b), Tensor::zeros([3, 2]));
    let b2 = Var::constant(Tensor::<f64>::ones([3, 2]));
    assert_eq!(a.matmul_t(&b2.t()).shape(), &[0, 2]);
}

// ------------------------------------------------------------------ 0-d tensors everywhere

/// `f` on a 0-d input agrees, value and gradient, with `f` on the same value as shape [1].
fn check_scalar_matches_vector(name: &str, x: f64, f: impl Fn(&Var<f64>) -> Var<f64>) {
    let tape = Tape::new();
    let s = tape.var(Tensor::scalar(x));
    let v = tape.var(t(&[x], &[1]));
    let (ys, yv) = (f(&s), f(&v));
    assert_eq!(ys.shape(), &[] as &[usize], "{name}: shape");
    assert_eq!(ys.item().to_bits(), yv.item().to_bits(), "{name}: value");
    let (gs, gv) = (ys.backward().wrt(&s), yv.backward().wrt(&v));
    assert_eq!(gs.shape(), &[] as &[usize], "{name}: grad shape");
    assert_eq!(gs.item().to_bits(), gv.item().to_bits(), "{name}: grad");
}

#[test]
fn scalars_through_unary_ops() {
    let x = 0.7;
    check_scalar_matches_vector("neg", x, |v| v.neg());
    check_scalar_matches_vector("exp", x, |v| v.exp());
    check_scalar_matches_vector("ln", x, |v| v.ln());
    check_scalar_matches_vector("log1p", x, |v| v.log1p());
    check_scalar_matches_vector("sqrt", x, |v| v.sqrt());
    check_scalar_matches_vector("square", x, |v| v.square());
    check_scalar_matches_vector("powi", x, |v| v.powi(3));
    check_scalar_matches_vector("powf", x, |v| v.powf(1.5));
    check_scalar_matches_vector("recip", x, |v| v.recip());
    check_scalar_matches_vector("abs", x, |v| v.abs());
    check_scalar_matches_vector("sin", x, |v| v.sin());
    check_scalar_matches_vector("cos", x, |v| v.cos());
    check_scalar_matches_vector("tanh", x, |v| v.tanh());
    check_scalar_matches_vector("sigmoid", x, |v| v.sigmoid());
    check_scalar_matches_vector("relu", x, |v| v.relu());
    check_scalar_matches_vector("leaky_relu", -x, |v| v.leaky_relu(0.2));
    check_scalar_matches_vector("elu", -x, |v| v.elu(1.0));
    check_scalar_matches_vector("gelu", x, |v| v.gelu());
    check_scalar_matches_vector("erf", x, |v| v.erf());
    check_scalar_matches_vector("softplus", x, |v| v.softplus());
    check_scalar_matches_vector("clamp", x, |v| v.clamp(0.0, 0.5));
    check_scalar_matches_vector("scalar ops", x, |v| (2.0 - v) * 3.0 / 4.0 + 1.0);
}

#[test]
fn scalars_broadcast_against_nd() {
    let tape = Tape::new();
    let s = tape.var(Tensor::scalar(2.0));
    let m = tape.var(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    for (name, y, gs) in [
        ("s + m", &s + &m, 6.0),
        ("m - s", &m - &s, -6.0),
        ("s * m", &s * &m, 21.0),
        ("m / s", &m / &s, -21.0 / 4.0),
        ("s.pow(m)", s.pow(&m), (1..=6).map(|k| k as f64 * 2f64.powi(k - 1)).sum()),
        ("m.maximum(s)", m.maximum(&s), 1.5),
    ] {
        assert_eq!(y.shape(), &[2, 3], "{name}");
        let g = y.sum().backward();
        assert_eq!(g.wrt(&s).shape(), &[] as &[usize], "{name}");
        assert!((g.wrt(&s).item() - gs).abs() < 1e-12, "{name}: {} vs {gs}", g.wrt(&s).item());
        assert_eq!(g.wrt(&m).shape(), &[2, 3], "{name}");
    }
    // 0-d with 0-d, and where_ with a 0-d condition
    let (y, ga, gb) = value_and_grads2(3.0, 4.0, |a, b| a * b + a / b);
    assert_eq!((y, ga, gb), (12.75, 4.25, 3.0 - 3.0 / 16.0));
    let c = Tensor::scalar(1.0);
    let w = s.where_(&c, &m);
    assert_eq!(w.value(), &Tensor::full([2, 3], 2.0));
    assert_eq!(w.sum().backward().wrt(&s).item(), 6.0);
    // gradcheck / gradgradcheck with a 0-d input against an n-d one
    let opts = GradcheckOptions::default();
    let f = |v: &[Var<f64>]| (&v[0] * &v[1]).tanh() + v[0].sigmoid();
    let inputs = [Tensor::scalar(0.3), t(&[0.5, -1.0, 2.0], &[3])];
    gradcheck(f, &inputs, opts).unwrap();
    gradgradcheck(f, &inputs, opts).unwrap();
}

#[test]
fn scalars_through_reductions() {
    let tape = Tape::new();
    let s = tape.var(Tensor::<f64>::scalar(1.5));
    for (name, y, g) in [
        ("sum", s.sum(), 1.0),
        ("sum keepdim", s.sum_axes(&[], true), 1.0),
        ("mean", s.mean(), 1.0),
        ("max", s.max(), 1.0),
        ("min_axes", s.min_axes(&[], true), 1.0),
        ("logsumexp", s.logsumexp(&[], false), 1.0),
    ] {
        assert_eq!(y.shape(), &[] as &[usize], "{name}");
        assert_eq!(y.item(), 1.5, "{name}");
        let gr = grad(&[&y], &[&s], false).wrt(&s);
        assert_eq!((gr.shape(), gr.item()), (&[] as &[usize], g), "{name}");
    }
    assert_eq!(s.var_axes(&[], false, 0).item(), 0.0);
    assert!(s.var_axes(&[], false, 1).item().is_nan()); // 0 / 0, as torch.var of one element
                                                        // An explicit axis does not exist on a 0-d value (NumPy's rule): a clear panic.
    let msg = panic_message(|| {
        s.sum_axes(&[0], false);
    });
    assert!(msg.contains("sum") && msg.contains("axis 0 is out of range for a tensor with 0 dimensions"), "{msg}");
    let msg = panic_message(|| {
        s.softmax(-1);
    });
    assert!(msg.contains("softmax") && msg.contains("0 dimensions"), "{msg}");
    let msg = panic_message(|| {
        s.argmax(0);
    });
    assert!(msg.contains("argmax") && msg.contains("0 dimensions"), "{msg}");
}

#[test]
fn scalars_through_shape_ops() {
    let tape = Tape::new();
    let s = tape.var(Tensor::scalar(1.5));
    let r = s.reshape([1, 1]);
    assert_eq!(r.shape(), &[1, 1]);
    let back = r.reshape([]);
    assert_eq!(back.shape(), &[] as &[usize]);
    assert_eq!(back.item(), 1.5);
    assert_eq!(r.squeeze_all().shape(), &[] as &[usize]);
    assert_eq!(r.squeeze(0).squeeze(0).shape(), &[] as &[usize]);
    assert_eq!(s.unsqueeze(0).shape(), &[1]);
    assert_eq!(s.unsqueeze(-1).shape(), &[1]);
    assert_eq!(s.flatten(0, -1).shape(), &[1]);
    assert_eq!(s.reshape_infer(&[-1]).shape(), &[1]);
    assert_eq!(s.permute(&[]).item(), 1.5);
    assert_eq!(Var::stack(&[&s, &s, &s], 0).shape(), &[3]);
    let b = s.broadcast_to(&[2, 3]);
    assert_eq!(b.value(), &Tensor::full([2, 3], 1.5));
    let g = (b.sum() + back * 2.0).backward().wrt(&s);
    assert_eq!((g.shape(), g.item()), (&[] as &[usize], 8.0));
    assert_eq!(Tensor::<f64>::full([2, 3], 1.0).sum_to(&[]), Tensor::scalar(6.0));
    let msg = panic_message(|| {
        Var::concat(&[&s, &s], 0);
    });
    assert!(msg.contains("concat") && msg.contains("0 dimensions"), "{msg}");
    assert_eq!(format!("{}", s.value()), "1.5000");
    assert_eq!(Tensor::<f32>::scalar(2.5).item(), 2.5);
}

#[test]
fn matmul_refuses_scalars_with_a_clear_error() {
    let s = Var::constant(Tensor::<f64>::scalar(2.0));
    let v = Var::constant(Tensor::<f64>::ones([3]));
    let m = Var::constant(Tensor::<f64>::ones([3, 3]));
    for (a, b, want) in [(&s, &v, "[] x [3]"), (&v, &s, "[3] x []"), (&m, &s, "[3, 3] x []"), (&s, &s, "[] x []")] {
        let err = a.try_matmul(b).unwrap_err();
        assert_eq!(err.op(), "matmul");
        let msg = err.to_string();
        assert!(msg.contains(want) && msg.contains("at least 1 dimension"), "{msg}");
        let msg = panic_message(|| {
            a.matmul(b);
        });
        assert!(msg.contains(want) && msg.contains("at least 1 dimension"), "{msg}");
        assert!(a.value().try_matmul(b.value()).is_err());
    }
    // 0-d cross-entropy logits are refused too
    let err = s.try_cross_entropy(&[0]).unwrap_err();
    assert!(err.to_string().contains("logits must be [n, classes], got []"), "{err}");
}
