//! The plain sweep (no `create_graph`) runs ops' `backward_plain` (tensors) and, for 0-d
//! nodes, `backward_scalar` (scalars) instead of their differentiable `backward`. These must
//! give the same gradients bit for bit as the `create_graph` sweep, which runs `backward`:
//! every op with a fast rule, in f32 and f64, at 0-d, one-element, empty, broadcast and
//! large shapes, with and without constant operands.

use autograd::{
    detect_anomaly, grad, grad_with_seeds, BackwardOptions, Float, InputGrads, Op, PlainGrads, ScalarGrads, Tape,
    Tensor, Var,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

/// Uniform in `[lo, hi)`, of the given shape.
fn uniform<T: Float>(shape: &[usize], lo: f64, hi: f64, rng: &mut StdRng) -> Tensor<T> {
    let n = shape.iter().product();
    let data = (0..n).map(|_| T::from_f64(rng.gen_range(lo..hi))).collect();
    Tensor::from_vec(data, shape).unwrap()
}

/// The exact bits of a gradient (shape and elements), so that NaN compares too.
fn bits<T: Float>(t: &Tensor<T>) -> (Vec<usize>, Vec<u64>) {
    (t.shape().to_vec(), t.data().iter().map(|v| v.to_f64().to_bits()).collect())
}

/// Gradients of `f` with respect to the recorded inputs, seeded with a random gradient,
/// from the plain sweep and from the `create_graph` sweep, each on a fresh tape.
/// `requires[i]` says whether input `i` is recorded (else a constant).
fn both_sweeps<T: Float>(
    f: &dyn Fn(&[Var<T>]) -> Var<T>,
    inputs: &[Tensor<T>],
    requires: &[bool],
    seed: u64,
) -> [Vec<Option<Tensor<T>>>; 2] {
    [false, true].map(|create_graph| {
        let tape = Tape::new();
        let xs: Vec<Var<T>> = inputs
            .iter()
            .zip(requires)
            .map(|(t, &r)| if r { tape.var(t.clone()) } else { Var::constant(t.clone()) })
            .collect();
        let y = f(&xs);
        let seed = Var::constant(uniform::<T>(y.shape(), -2.0, 2.0, &mut StdRng::seed_from_u64(seed)));
        let wrt: Vec<&Var<T>> = xs.iter().filter(|x| x.requires_grad()).collect();
        let g = grad_with_seeds(&[&y], vec![seed], &wrt, create_graph);
        wrt.iter().map(|x| g.get(x)).collect()
    })
}

fn assert_same<T: Float>(what: &str, f: &dyn Fn(&[Var<T>]) -> Var<T>, inputs: &[Tensor<T>], requires: &[bool]) {
    let [plain, graph] = both_sweeps(f, inputs, requires, 7);
    assert_eq!(plain.len(), graph.len());
    for (k, (p, g)) in plain.iter().zip(&graph).enumerate() {
        assert_eq!(
            p.as_ref().map(bits),
            g.as_ref().map(bits),
            "{what} ({}), input {k}: plain sweep {p:?} vs create_graph sweep {g:?}",
            T::NAME
        );
    }
}

type UnaryCase<T> = (&'static str, fn(&Var<T>) -> Var<T>, f64, f64);

/// Every unary op with a fast rule, with a domain to draw its input from.
fn unary_cases<T: Float>() -> Vec<UnaryCase<T>> {
    vec![
        ("neg", |x| x.neg(), -3.0, 3.0),
        ("exp", |x| x.exp(), -3.0, 3.0),
        ("ln", |x| x.ln(), 0.1, 4.0),
        ("log1p", |x| x.log1p(), 0.1, 4.0),
        ("sqrt", |x| x.sqrt(), 0.1, 4.0),
        ("square", |x| x.square(), -3.0, 3.0),
        ("recip", |x| x.recip(), 0.2, 3.0),
        ("abs", |x| x.abs(), -3.0, 3.0),
        ("sin", |x| x.sin(), -3.0, 3.0),
        ("cos", |x| x.cos(), -3.0, 3.0),
        ("tanh", |x| x.tanh(), -3.0, 3.0),
        ("sigmoid", |x| x.sigmoid(), -6.0, 6.0),
        ("relu", |x| x.relu(), -3.0, 3.0),
        ("erf", |x| x.erf(), -3.0, 3.0),
        ("gelu", |x| x.gelu(), -3.0, 3.0),
        ("softplus", |x| x.softplus(), -6.0, 6.0),
        ("powi 3", |x| x.powi(3), -3.0, 3.0),
        ("powi -2", |x| x.powi(-2), 0.2, 3.0),
        ("powi 1", |x| x.powi(1), -3.0, 3.0),
        ("powi 0", |x| x.powi(0), -3.0, 3.0),
        ("powf 2.5", |x| x.powf(2.5), 0.1, 3.0),
        ("powf 0", |x| x.powf(0.0), 0.1, 3.0),
        ("leaky_relu", |x| x.leaky_relu(0.1), -3.0, 3.0),
        ("elu", |x| x.elu(1.3), -3.0, 3.0),
        ("clamp", |x| x.clamp(-0.5, 0.5), -1.0, 1.0),
        // scalar forms
        ("x + c", |x| x + T::from_f64(0.3), -3.0, 3.0),
        ("x - c", |x| x - T::from_f64(0.3), -3.0, 3.0),
        ("x * c", |x| x * T::from_f64(-1.7), -3.0, 3.0),
        ("x / c", |x| x / T::from_f64(3.0), -3.0, 3.0),
        ("c - x", |x| Var::scalar(T::from_f64(0.3)) - x, -3.0, 3.0),
        ("c / x", |x| x.recip() * T::from_f64(2.5), 0.2, 3.0),
    ]
}

const UNARY_SHAPES: &[&[usize]] = &[&[], &[1], &[5], &[3, 4], &[0, 3], &[1, 1], &[400, 400]];

fn unary_agree<T: Float>() {
    let mut rng = StdRng::seed_from_u64(1);
    for (name, op, lo, hi) in unary_cases::<T>() {
        for shape in UNARY_SHAPES {
            let x = uniform::<T>(shape, lo, hi, &mut rng);
            // A second op after the one under test makes the incoming gradient non-trivial
            // on the scalar lane too (its seed is random as well).
            assert_same(&format!("{name} at {shape:?}"), &|v| op(&v[0]), std::slice::from_ref(&x), &[true]);
            assert_same(&format!("{name}, then sin, at {shape:?}"), &|v| op(&v[0]).sin(), &[x], &[true]);
        }
    }
}

#[test]
fn unary_plain_and_scalar_rules_match_create_graph_f64() {
    unary_agree::<f64>();
}

#[test]
fn unary_plain_and_scalar_rules_match_create_graph_f32() {
    unary_agree::<f32>();
}

type BinaryCase<T> = (&'static str, fn(&Var<T>, &Var<T>) -> Var<T>);

fn binary_agree<T: Float>() {
    let cases: Vec<BinaryCase<T>> =
        vec![("add", |a, b| a + b), ("sub", |a, b| a - b), ("mul", |a, b| a * b), ("div", |a, b| a / b)];
    let pairs: &[(&[usize], &[usize])] = &[
        (&[], &[]),
        (&[3, 4], &[3, 4]),
        (&[3, 4], &[]),
        (&[], &[3, 4]),
        (&[3, 4], &[4]),
        (&[3, 1], &[1, 4]),
        (&[2, 3, 4], &[3, 1]),
        (&[1], &[]),
        (&[5], &[1]),
        (&[0, 3], &[3]),
        (&[300, 500], &[500]),
    ];
    let mut rng = StdRng::seed_from_u64(2);
    for (name, op) in cases {
        for (sa, sb) in pairs {
            // Divisors kept away from 0; signs mixed.
            let a = uniform::<T>(sa, -3.0, 3.0, &mut rng);
            let b = uniform::<T>(sb, 0.5, 3.0, &mut rng);
            for requires in [[true, true], [true, false], [false, true]] {
                let what = format!("{name} {sa:?} {sb:?} requires {requires:?}");
                assert_same(&what, &|v| op(&v[0], &v[1]), &[a.clone(), b.clone()], &requires);
                // The same input twice (gradients accumulate into one slot).
                assert_same(&format!("{what}, x op x"), &|v| op(&v[0], &v[0]), std::slice::from_ref(&b), &[true]);
            }
        }
    }
}

#[test]
fn binary_plain_and_scalar_rules_match_create_graph_f64() {
    binary_agree::<f64>();
}

#[test]
fn binary_plain_and_scalar_rules_match_create_graph_f32() {
    binary_agree::<f32>();
}

/// The benchmark's loop (mul, sin, add, tanh, exp): leaves used many times, long chains.
fn scalar_loop<T: Float>(v: &[Var<T>]) -> Var<T> {
    let (x, w) = (&v[0], &v[1]);
    let mut y = x.clone();
    for _ in 0..50 {
        let a = &y * w;
        let c = &a.sin() + x;
        y = c.tanh().exp();
    }
    y
}

#[test]
fn scalar_graphs_match_create_graph() {
    fn check<T: Float>() {
        for shape in [&[][..], &[1], &[3]] {
            let x = Tensor::full(shape, T::from_f64(0.5));
            let w = Tensor::full(shape, T::from_f64(0.9));
            assert_same(&format!("loop at {shape:?}"), &scalar_loop, &[x.clone(), w.clone()], &[true, true]);
            assert_same(&format!("loop at {shape:?}, w constant"), &scalar_loop, &[x, w], &[true, false]);
        }
        // Scalars feeding tensor ops and back: 0-d gradients come from `sum_to` and `sum`.
        let a = Tensor::scalar(T::from_f64(0.7));
        let t = Tensor::from_vec(vec![T::from_f64(1.0), T::from_f64(-2.0), T::from_f64(0.5)], [3]).unwrap();
        let mixed = |v: &[Var<T>]| {
            let s = (&v[0] * &v[1]).tanh().sum(); // [] * [3] -> [3] -> []
            (&s * &v[0]).exp() + v[0].sin()
        };
        assert_same("scalar and tensor mixed", &mixed, &[a, t], &[true, true]);
    }
    check::<f64>();
    check::<f32>();
}

#[test]
fn backward_frees_and_matches_on_the_scalar_lane() {
    // `backward` (no retain: nodes freed as the sweep passes) against `create_graph`.
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
    assert_eq!(bits(&px), bits(&gx));
    assert_eq!(bits(&pw), bits(&gw));
    let msg = panic_message(|| {
        let _ = y.backward();
    });
    assert!(msg.contains("already freed") && msg.contains("exp"), "{msg}");
}

#[test]
fn intermediate_gradients_on_the_scalar_lane() {
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(0.3_f64));
    let h = x.sin() * 2.0;
    let y = (&h * &h).exp() + &x;
    let plain = grad(&[&y], &[&h, &x], false);
    let graph = grad(&[&y], &[&h, &x], true);
    assert_eq!(bits(&plain.wrt(&h)), bits(&graph.wrt(&h)));
    assert_eq!(bits(&plain.wrt(&x)), bits(&graph.wrt(&x)));
    // d/dh e^(h^2) = 2h e^(h^2)
    let hv = 2.0 * 0.3f64.sin();
    assert!((plain.wrt(&h).item() - 2.0 * hv * (hv * hv).exp()).abs() < 1e-12);
}

#[test]
fn no_gradient_stays_none_on_the_scalar_lane() {
    // powi(0) and powf(0) give their input no gradient at all (`None`), not a zero.
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(1.5_f64));
    let g = x.powi(0).backward();
    assert!(g.get(&x).is_none());
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(1.5_f64));
    let g = x.powf(0.0).backward();
    assert!(g.get(&x).is_none());
}

#[test]
fn anomaly_in_backward_is_reported_on_the_scalar_lane() {
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(0.0_f64));
    let line = line!() + 2;
    let msg = panic_message(|| {
        let y = detect_anomaly(|| x.sqrt() * 3.0); // sqrt(0) = 0 is fine forward
        detect_anomaly(|| y.backward()); // d sqrt at 0 = inf
    });
    assert!(msg.contains("anomaly: backward of `sqrt`"), "{msg}");
    assert!(msg.contains(&format!("plain_backward.rs:{line}")), "recording location missing from: {msg}");
    assert!(msg.contains("inf") && msg.contains("shape []"), "{msg}");
}

/// Counts which of its rules the sweep called: f(x) = 2x.
struct Double {
    calls: Rc<[Cell<usize>; 3]>,
}
impl Op<f64> for Double {
    fn name(&self) -> &'static str {
        "double"
    }
    fn backward(&self, _x: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> InputGrads<f64> {
        self.calls[0].set(self.calls[0].get() + 1);
        autograd::smallvec![Some(g * 2.0)]
    }
    fn backward_plain(
        &self,
        _x: &[Tensor<f64>],
        _n: &[bool],
        _y: &Tensor<f64>,
        g: &Tensor<f64>,
    ) -> Option<PlainGrads<f64>> {
        self.calls[1].set(self.calls[1].get() + 1);
        Some(autograd::smallvec![Some(g.scale(2.0))])
    }
    fn backward_scalar(&self, _x: &[f64], _y: f64, g: f64) -> Option<ScalarGrads<f64>> {
        self.calls[2].set(self.calls[2].get() + 1);
        Some(autograd::smallvec![g * 2.0])
    }
}

#[test]
fn sweep_picks_the_rule_by_mode_and_shape() {
    let calls: Rc<[Cell<usize>; 3]> = Rc::new(Default::default());
    let run = |x: Tensor<f64>, create_graph: bool| {
        let tape = Tape::new();
        let x = tape.var(x);
        let y = Var::from_op(Double { calls: calls.clone() }, &[&x], x.value().scale(2.0));
        let g = grad(&[&y], &[&x], create_graph).wrt(&x);
        let counts = calls.iter().map(Cell::take).collect::<Vec<_>>();
        (g, counts)
    };
    assert_eq!(run(Tensor::scalar(3.0), false), (Tensor::scalar(2.0), vec![0, 0, 1]));
    assert_eq!(run(Tensor::ones([2]), false), (Tensor::full([2], 2.0), vec![0, 1, 0]));
    assert_eq!(run(Tensor::scalar(3.0), true), (Tensor::scalar(2.0), vec![1, 0, 0]));
    assert_eq!(run(Tensor::ones([2]), true), (Tensor::full([2], 2.0), vec![1, 0, 0]));
}

#[test]
fn custom_ops_without_fast_rules_still_work_on_scalars() {
    // Only `backward`: the plain sweep falls back to it, on the scalar lane's values too.
    struct Cube;
    impl Op<f64> for Cube {
        fn name(&self) -> &'static str {
            "cube"
        }
        fn backward(&self, x: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> InputGrads<f64> {
            assert!(x[0].requires_grad(), "recorded inputs are passed as recorded");
            autograd::smallvec![Some(g * &x[0].square() * 3.0)]
        }
    }
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(2.0));
    let y = Var::from_op(Cube, &[&x], x.value().map(|v| v * v * v)).sin();
    let plain = y.backward_with(BackwardOptions { retain_graph: true, ..Default::default() }).wrt(&x);
    let graph = y.backward_with(BackwardOptions { create_graph: true, ..Default::default() }).wrt(&x);
    assert_eq!(plain, graph);
    assert!((plain.item() - 12.0 * 8.0f64.cos()).abs() < 1e-12);
}

#[test]
fn fast_rule_returning_the_wrong_count_is_reported() {
    struct Bad;
    impl Op<f64> for Bad {
        fn name(&self) -> &'static str {
            "bad"
        }
        fn backward(&self, _x: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> InputGrads<f64> {
            autograd::smallvec![Some(g.clone())]
        }
        fn backward_scalar(&self, _x: &[f64], _y: f64, g: f64) -> Option<ScalarGrads<f64>> {
            Some(autograd::smallvec![g, g])
        }
    }
    let tape = Tape::new();
    let x = tape.var(Tensor::scalar(2.0));
    let y = Var::from_op(Bad, &[&x], x.value().clone());
    let msg = panic_message(|| {
        let _ = y.backward();
    });
    assert!(msg.contains("`bad`") && msg.contains("2 gradients for 1 inputs"), "{msg}");
}
