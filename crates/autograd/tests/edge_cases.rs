//! Values at numerical edges: softmax / log-softmax / cross-entropy with logits of ±1e4 and
//! -inf, NaN propagation, empty tensors and zero-size dimensions, 0-d tensors through every op
//! family, and the errors at those edges. (The gradients at such points, PyTorch's at kinks,
//! saturations and infinities, are edge points of the op table: `cases/mod.rs`.)

use autograd::{Tape, Tensor, Var};
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

// ------------------------------------------------------------------ softmax family at ±1e4

#[test]
fn log_softmax_with_huge_logits_is_finite_and_exact() {
    let tape = Tape::new();
    let v = tape.var(t(&[1e4, 0.0, -1e4], &[3]));
    let y = v.log_softmax(0);
    assert_eq!(y.value().to_vec(), vec![0.0, -1e4, -2e4]);
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
    let ls = v.log_softmax(0);
    assert_eq!(ls.value().data()[0], f64::NEG_INFINITY);
    assert!((ls.value().data()[1] + 2f64.ln()).abs() < 1e-15);
    let lse = v.logsumexp(&[], false);
    assert!((lse.item() - 2f64.ln()).abs() < 1e-15);
    let tape = Tape::new();
    let v = tape.var(t(&[f64::NEG_INFINITY, 0.0], &[1, 2]));
    let ce = v.cross_entropy(&[1]);
    assert_eq!(ce.item(), 0.0);
}

// ------------------------------------------------------------------ sigmoid, softplus, tanh at ±100

// ------------------------------------------------------------------ gradients at 0 (vs PyTorch)

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
    }
    let a = Var::constant(Tensor::<f64>::zeros([0, 3]));
    let b2 = Var::constant(Tensor::<f64>::ones([3, 2]));
    assert_eq!(a.matmul_t(&b2.t()).shape(), &[0, 2]);
}

// ------------------------------------------------------------------ 0-d tensors everywhere

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
        let _ = g;
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
    let _ = back;
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
