//! The sweep's contract: gradients where PyTorch gives them (`grad` / `grad_with`'s
//! `allow_unused` and `materialize_grads`, constant outputs, `backward` on non-scalars,
//! vector-Jacobian products), errors for gradients asked of the wrong tape or not kept,
//! freeing on the scalar lane, and errors that point at the user's line (`#[track_caller]`
//! through operators and methods, in shape panics and anomaly reports).

use autograd::{detect_anomaly, grad, grad_with, BackwardOptions, GradOptions, InputGrads, Op, Tape, Tensor, Var};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The message of the panic `f` raises and the location the panic reports, `file:line`.
fn panic_at(f: impl FnOnce()) -> (String, String) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(at));
            prev(info);
        }));
    });
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    let msg =
        err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap();
    (msg, LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default())
}

fn here(line: u32) -> String {
    format!("{}:{line}", file!())
}

// ------------------------------------------------------------------ gradients where PyTorch gives them

#[test]
fn a_constant_output_has_zero_gradients_when_asked() {
    // The gradient of a linear function is a constant; differentiating it again gives zeros
    // (PyTorch's materialize_grads), not a panic.
    let tape = Tape::new();
    let x = tape.var(t(&[1.0, 2.0], &[2]));
    let y = (&x * 3.0).sum();
    let dy = grad(&[&y], &[&x], true).wrt_var(&x);
    assert!(!dy.requires_grad());
    assert_eq!(grad(&[&dy.sum()], &[&x], false).wrt(&x).to_vec(), vec![0.0, 0.0]);
    let opts = GradOptions { materialize_grads: true, ..Default::default() };
    let g = grad_with(&[&dy.sum()], &[&x], opts).unwrap();
    assert_eq!(g[0].as_ref().unwrap().value().to_vec(), vec![0.0, 0.0]);
    // allow_unused: None; neither: an error naming the input
    let opts = GradOptions { allow_unused: true, ..Default::default() };
    assert!(grad_with(&[&dy.sum()], &[&x], opts).unwrap()[0].is_none());
    let e = grad_with(&[&dy.sum()], &[&x], GradOptions::default()).unwrap_err().to_string();
    assert!(e.contains("input 0") && e.contains("not used") && e.contains("allow_unused"), "{e}");
}

#[test]
fn unused_inputs_follow_allow_unused_and_materialize() {
    let tape = Tape::new();
    let (x, z) = (tape.var(Tensor::scalar(2.0)), tape.var(t(&[1.0, 1.0], &[2])));
    let y = x.sin();
    let keep = || GradOptions { retain_graph: true, ..Default::default() };
    let e = grad_with(&[&y], &[&x, &z], keep()).unwrap_err().to_string();
    assert!(e.contains("input 1 (shape [2])"), "{e}");
    let g = grad_with(&[&y], &[&x, &z], GradOptions { allow_unused: true, ..keep() }).unwrap();
    assert_eq!(g[0].as_ref().unwrap().item(), 2f64.cos());
    assert!(g[1].is_none());
    let g = grad_with(&[&y], &[&x, &z], GradOptions { materialize_grads: true, ..keep() }).unwrap();
    assert_eq!(g[1].as_ref().unwrap().value().to_vec(), vec![0.0, 0.0]);
    // `grad` materializes
    assert_eq!(grad(&[&y], &[&z], false).wrt(&z).to_vec(), vec![0.0, 0.0]);
}

#[test]
fn backward_on_a_non_scalar_is_an_error_naming_the_shape() {
    let tape = Tape::new();
    let x = tape.var(t(&[1.0, 2.0, 3.0], &[3]));
    let y = &x * &x;
    let (msg, _) = panic_at(|| {
        y.backward();
    });
    assert!(msg.contains("grad can be implicitly created only for scalar outputs") && msg.contains("[3]"), "{msg}");
    let e = grad_with(&[&y], &[&x], GradOptions::default()).unwrap_err().to_string();
    assert!(e.contains("scalar outputs") && e.contains("[3]"), "{e}");
    // A one-element value is fine, as in PyTorch.
    let s = (&x * &x).sum_axes(&[0], true);
    assert_eq!(s.shape(), &[1]);
    assert_eq!(s.backward().wrt(&x).to_vec(), vec![2.0, 4.0, 6.0]);
}

#[test]
fn backward_with_a_gradient_gives_vector_jacobian_products() {
    let tape = Tape::new();
    let x = tape.var(t(&[1.0, 2.0, 3.0], &[3]));
    let w = tape.var(t(&[1.0, -1.0, 2.0, 0.5, 0.0, 1.0], &[3, 2]));
    let y = x.matmul(&w); // [2]
    let v = t(&[1.0, 10.0], &[2]);
    let g = y.backward_with(v.clone());
    // d(v . xW)/dx = W v, d/dW = x v^T
    assert_eq!(g.wrt(&x).to_vec(), vec![1.0 - 10.0, 2.0 + 5.0, 0.0 + 10.0]);
    assert_eq!(g.wrt(&w).to_vec(), vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    // a Var seed and options together
    let y = x.square();
    let opts = BackwardOptions {
        seed: Some(Var::constant(t(&[1.0, 0.0, 2.0], &[3]))),
        create_graph: true,
        retain_graph: false,
    };
    assert_eq!(y.backward_with(opts).wrt(&x).to_vec(), vec![2.0, 0.0, 12.0]);
    let (msg, _) = panic_at(|| {
        x.square().backward_with(t(&[1.0], &[1]));
    });
    assert!(msg.contains("seed of shape [1] does not match output of shape [3]"), "{msg}");
}

#[test]
fn gradients_of_another_tape_or_not_kept_are_errors() {
    let (a, b) = (Tape::new(), Tape::new());
    let x = a.var(Tensor::scalar(1.0));
    let z = b.var(Tensor::scalar(1.0));
    let g = (&x * 2.0).backward();
    let e = g.try_wrt(&z).unwrap_err().to_string();
    assert!(e.contains("different tape"), "{e}");
    let (msg, _) = panic_at(|| {
        g.wrt(&z);
    });
    assert!(msg.contains("different tape"), "{msg}");
    // backward() keeps leaves: an intermediate is an error, not zeros
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(0.5));
    let h = x.exp();
    let g = (&h * &h).backward();
    let e = g.try_wrt(&h).unwrap_err().to_string();
    assert!(e.contains("not a leaf") && e.contains("exp"), "{e}");
    // grad keeps what it was asked for
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(0.5));
    let h = x.exp();
    let y = &h * &h;
    let g = grad(&[&y], &[&h], false);
    assert_eq!(g.wrt(&h).item(), 2.0 * 0.5f64.exp());
    let e = g.try_wrt(&x).unwrap_err().to_string();
    assert!(e.contains("not among the variables passed to grad"), "{e}");
}

// ------------------------------------------------------------------ the scalar lane

fn scalar_loop(v: &[Var<f64>]) -> Var<f64> {
    let (x, w) = (&v[0], &v[1]);
    let mut y = x.clone();
    for _ in 0..50 {
        y = ((&y * w).sin() + x).tanh().exp();
    }
    y
}

#[test]
fn backward_frees_and_matches_on_the_scalar_lane() {
    let run = |opts: BackwardOptions<f64>| {
        let tape = Tape::new();
        let x = tape.var(Tensor::scalar(0.5));
        let w = tape.var(Tensor::scalar(0.9));
        let y = scalar_loop(&[x.clone(), w.clone()]);
        let g = y.backward_with(opts);
        (g.wrt(&x), g.wrt(&w), y)
    };
    let (px, pw, y) = run(BackwardOptions::default());
    let (gx, gw, _) = run(BackwardOptions { create_graph: true, ..Default::default() });
    assert_eq!(px.item().to_bits(), gx.item().to_bits());
    assert_eq!(pw.item().to_bits(), gw.item().to_bits());
    let (msg, _) = panic_at(|| {
        let _ = y.backward();
    });
    assert!(msg.contains("already freed") && msg.contains("exp"), "{msg}");
}

#[test]
fn no_gradient_stays_none_on_the_scalar_lane() {
    // powi(0) and powf(0) give their input no gradient at all (`None`), not a zero.
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(1.5_f64));
    assert!(x.powi(0).backward().get(&x).is_none());
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(1.5_f64));
    assert!(x.powf(0.0).backward().get(&x).is_none());
}

#[test]
fn custom_ops_work_on_scalars_and_in_forward_mode() {
    struct Cube;
    impl Op<f64> for Cube {
        fn name(&self) -> &'static str {
            "cube"
        }
        fn backward(&self, x: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> InputGrads<f64> {
            autograd::smallvec![Some(g * &x[0].square() * 3.0)]
        }
    }
    let cube = |v: &Var<f64>| Var::from_op(Cube, &[v], v.value().map(|a| a * a * a));
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(2.0));
    assert_eq!(cube(&x).backward().wrt(&x).item(), 12.0);
    // forward mode derives the tangent rule from the backward one
    let (_, jv) = autograd::jvp(|v| cube(&v[0]), &[Tensor::scalar(2.0)], &[Tensor::scalar(0.5)]);
    assert_eq!(jv.item(), 6.0);
    // forward-over-reverse through the custom rule: d2/dx2 x^3 = 6x
    let hv = autograd::hvp(|v| cube(&v[0]), &[Tensor::scalar(2.0)], &[Tensor::scalar(1.0)]);
    assert_eq!(hv[0].item(), 12.0);
    assert_eq!(autograd::hessian(|v| cube(&v[0]), &[Tensor::scalar(2.0)])[0][0].item(), 12.0);
}

// ------------------------------------------------------------------ errors at the user's line

#[test]
fn shape_panics_point_at_the_callers_line() {
    let a = Var::constant(Tensor::<f64>::zeros([2, 3]));
    let b = Var::constant(Tensor::<f64>::zeros([4, 5]));
    let line = line!() + 2;
    let (msg, at) = panic_at(|| {
        let _ = &a * &b;
    });
    assert!(msg.contains("mul") && msg.contains("[2, 3]") && msg.contains("[4, 5]"), "{msg}");
    assert_eq!(at, here(line), "operator: {msg}");
    let line = line!() + 2;
    let (msg, at) = panic_at(|| {
        let _ = a.matmul(&b);
    });
    assert!(msg.contains("matmul") && msg.contains("inner dimensions 3 and 4"), "{msg}");
    assert_eq!(at, here(line), "method: {msg}");
    let line = line!() + 2;
    let (_, at) = panic_at(|| {
        let _ = a.reshape([7]);
    });
    assert_eq!(at, here(line), "reshape");
    let line = line!() + 2;
    let (_, at) = panic_at(|| {
        let _ = a.sum_axes(&[5], false);
    });
    assert_eq!(at, here(line), "sum_axes");
    let line = line!() + 2;
    let (_, at) = panic_at(|| {
        let _ = a.softmax(4);
    });
    assert_eq!(at, here(line), "softmax");
}

#[test]
fn anomaly_reports_name_the_callers_line() {
    let tape = Tape::new();
    let x = tape.var(t(&[0.0, 1.0], &[2]));
    let zero = Var::constant(t(&[0.0, 0.0], &[2]));
    // forward, an operator
    let line = line!() + 2;
    let (msg, _) = panic_at(|| {
        detect_anomaly(|| &x / &zero);
    });
    assert!(msg.contains("anomaly: forward of `div`") && msg.contains(&here(line)), "{msg}");
    // forward, a scalar operator
    let line = line!() + 2;
    let (msg, _) = panic_at(|| {
        detect_anomaly(|| &x / 0.0);
    });
    assert!(msg.contains("anomaly: forward of `div_scalar`") && msg.contains(&here(line)), "{msg}");
    // forward, a method
    let line = line!() + 2;
    let (msg, _) = panic_at(|| {
        detect_anomaly(|| x.ln());
    });
    assert!(msg.contains("anomaly: forward of `ln`") && msg.contains(&here(line)), "{msg}");
    // backward: the line that recorded the op (sqrt(0) is fine forward, its derivative is not)
    let s = tape.var(Tensor::scalar(0.0));
    let line = line!() + 1;
    let y = s.sqrt() * 3.0;
    let (msg, _) = panic_at(|| {
        detect_anomaly(|| y.backward());
    });
    assert!(
        msg.contains("anomaly: backward of `sqrt`") && msg.contains(&format!("recorded at {}", here(line))),
        "{msg}"
    );
}
