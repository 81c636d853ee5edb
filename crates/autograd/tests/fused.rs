//! Fused ops against the compositions they replace (values and gradients), their error
//! messages, and gradcheck itself catching a wrong rule. (Each op's own gradient tests are
//! rows of the op table: `ops_table.rs`.)

use autograd::{gradcheck, GradcheckOptions, Tensor, Var};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, &mut rng(seed))
}

#[test]
fn linear_fused_equals_the_unfused_layer() {
    use autograd::{LinearActivation as A, Tape};
    let mut r = rng(120);
    for act in [A::Identity, A::Relu, A::Sigmoid, A::Tanh] {
        let x0 = Tensor::<f32>::randn([33, 70], &mut r);
        let w0 = Tensor::<f32>::randn([70, 19], &mut r);
        let b0 = Tensor::<f32>::randn([19], &mut r);
        let run = |fused: bool| {
            let tape = Tape::new();
            // The input is a constant, as in a first layer: no gradient is computed for it.
            let x = Var::constant(x0.clone());
            let (w, b) = (tape.var(w0.clone()), tape.var(b0.clone()));
            let y = if fused {
                x.linear(&w, Some(&b), act)
            } else {
                let z = x.matmul(&w) + &b;
                match act {
                    A::Identity => z,
                    A::Relu => z.relu(),
                    A::Sigmoid => z.sigmoid(),
                    A::Tanh => z.tanh(),
                }
            };
            let loss = (&y * &y).sum();
            let g = loss.backward();
            (y.value().clone(), g.wrt(&w), g.wrt(&b))
        };
        let (yf, wf, bf) = run(true);
        let (yu, wu, bu) = run(false);
        assert!(yf.allclose(&yu, 1e-5, 1e-5), "{act:?}: forward differs by {}", yf.max_abs_diff(&yu));
        assert!(wf.allclose(&wu, 1e-4, 1e-4), "{act:?}: weight gradient differs by {}", wf.max_abs_diff(&wu));
        assert!(bf.allclose(&bu, 1e-4, 1e-4), "{act:?}: bias gradient differs by {}", bf.max_abs_diff(&bu));
    }
}

#[test]
fn linear_shape_errors_name_the_shapes() {
    use autograd::{LinearActivation as A, Tape};
    let tape = Tape::new();
    let x = tape.var(Tensor::<f64>::zeros([2, 3]));
    let w = tape.var(Tensor::<f64>::zeros([4, 5]));
    let b = tape.var(Tensor::<f64>::zeros([5]));
    let e = x.try_linear(&w, Some(&b), A::Relu).unwrap_err().to_string();
    assert!(e.contains("linear") && e.contains("[2, 3]") && e.contains("[4, 5]") && e.contains("3 features"), "{e}");
    let w = tape.var(Tensor::<f64>::zeros([3, 5]));
    let e = x.try_linear(&w, Some(&tape.var(Tensor::zeros([4]))), A::Relu).unwrap_err().to_string();
    assert!(e.contains("bias must be [5]"), "{e}");
    let e = tape.var(Tensor::<f64>::zeros([3])).try_linear(&w, None, A::Identity).unwrap_err().to_string();
    assert!(e.contains("2-d"), "{e}");
}

#[test]
fn cross_entropy_matches_log_softmax_composite() {
    let x = randn(&[4, 6], 120);
    let t = [1usize, 5, 0, 3];
    let tape = autograd::Tape::new();
    let v = tape.var(x.clone());
    let fused = v.cross_entropy(&t);
    let composite = -v.log_softmax(-1).gather(1, &t).mean();
    assert!((fused.item() - composite.item()).abs() < 1e-12);
    let g1 = fused.backward().wrt(&v);
    let g2 = composite.backward().wrt(&v);
    assert!(g1.allclose(&g2, 1e-10, 1e-12));
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    use autograd::{InputGrads, Op};
    // sin with a deliberately wrong backward (should be cos).
    struct BadSin;
    impl Op<f64> for BadSin {
        fn name(&self) -> &'static str {
            "bad_sin"
        }
        fn backward(&self, x: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> InputGrads<f64> {
            autograd::smallvec![Some(g * &x[0].sin())]
        }
    }
    let x = randn(&[3], 150);
    let err = gradcheck(
        |v| {
            let val = v[0].value().map(f64::sin);
            Var::from_op(BadSin, &[&v[0]], val)
        },
        &[x],
        GradcheckOptions::default(),
    )
    .unwrap_err();
    assert!(err.mismatches > 0);
    assert!(err.to_string().contains("analytic"), "{err}");
}

#[test]
fn matmul_matches_naive() {
    let a = randn(&[2, 3, 4], 1);
    let b = randn(&[4, 5], 2);
    let c = a.matmul(&b);
    assert_eq!(c.shape(), &[2, 3, 5]);
    for bi in 0..2 {
        for i in 0..3 {
            for j in 0..5 {
                let want: f64 = (0..4).map(|k| a.get(&[bi, i, k]) * b.get(&[k, j])).sum();
                assert!((c.get(&[bi, i, j]) - want).abs() < 1e-12);
            }
        }
    }
}
