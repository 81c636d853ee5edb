//! Every differentiable op passes `gradcheck` and `gradgradcheck` in f64 on random inputs,
//! broadcasting shapes included.

use autograd::{gradcheck, gradgradcheck, GradcheckOptions, Tensor, Var};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, &mut rng(seed))
}

/// Uniform in [lo, hi): for ops with a restricted domain.
fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, lo, hi, &mut rng(seed))
}

/// Values in ±[0.2, 2): away from the kinks at 0 of relu, abs and friends.
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor<f64> {
    let u = uniform(shape, 0.2, 2.0, seed);
    let s = uniform(shape, -1.0, 1.0, seed + 1000);
    u.zip_with(&s, "sign", |a, b| if b < 0.0 { -a } else { a })
}

fn both(name: &str, f: impl Fn(&[Var<f64>]) -> Var<f64>, inputs: &[Tensor<f64>]) {
    let opts = GradcheckOptions::default();
    if let Err(e) = gradcheck(&f, inputs, opts) {
        panic!("{name}: {e}");
    }
    if let Err(e) = gradgradcheck(&f, inputs, opts) {
        panic!("{name}: {e}");
    }
}

// ------------------------------------------------------------------ unary

#[test]
fn unary_ops() {
    let x = randn(&[3, 4], 1);
    let pos = uniform(&[3, 4], 0.3, 3.0, 2);
    let nz = away_from_zero(&[3, 4], 3);
    both("neg", |v| v[0].neg(), std::slice::from_ref(&x));
    both("exp", |v| v[0].exp(), std::slice::from_ref(&x));
    both("ln", |v| v[0].ln(), std::slice::from_ref(&pos));
    both("log1p", |v| v[0].log1p(), std::slice::from_ref(&pos));
    both("sqrt", |v| v[0].sqrt(), std::slice::from_ref(&pos));
    both("square", |v| v[0].square(), std::slice::from_ref(&x));
    both("powi3", |v| v[0].powi(3), std::slice::from_ref(&x));
    both("powi-2", |v| v[0].powi(-2), std::slice::from_ref(&pos));
    both("powf", |v| v[0].powf(2.5), std::slice::from_ref(&pos));
    both("recip", |v| v[0].recip(), std::slice::from_ref(&nz));
    both("abs", |v| v[0].abs(), std::slice::from_ref(&nz));
    both("sin", |v| v[0].sin(), std::slice::from_ref(&x));
    both("cos", |v| v[0].cos(), std::slice::from_ref(&x));
    both("tanh", |v| v[0].tanh(), std::slice::from_ref(&x));
    both("sigmoid", |v| v[0].sigmoid(), std::slice::from_ref(&x));
    both("relu", |v| v[0].relu(), std::slice::from_ref(&nz));
    both("leaky_relu", |v| v[0].leaky_relu(0.1), std::slice::from_ref(&nz));
    both("elu", |v| v[0].elu(1.3), std::slice::from_ref(&nz));
    both("gelu", |v| v[0].gelu(), std::slice::from_ref(&x));
    both("erf", |v| v[0].erf(), std::slice::from_ref(&x));
    both("softplus", |v| v[0].softplus(), std::slice::from_ref(&x));
    // clamp: elements away from the bounds ±0.5
    let c = away_from_zero(&[3, 4], 4).map(|v| if (v.abs() - 0.5).abs() < 0.1 { v * 1.5 } else { v });
    both("clamp", |v| v[0].clamp(-0.5, 0.5), &[c]);
}

#[test]
fn unary_on_scalars_and_empty() {
    both("tanh 0-d", |v| v[0].tanh(), &[Tensor::scalar(0.7)]);
    both("exp empty", |v| v[0].exp(), &[Tensor::zeros([0, 3])]);
}

// ------------------------------------------------------------------ binary, broadcasting

/// Shape pairs exercising NumPy broadcasting: equal, scalar, trailing, middle, both sides.
fn broadcast_pairs() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![
        (vec![2, 3], vec![2, 3]),
        (vec![2, 3], vec![]),
        (vec![], vec![2, 3]),
        (vec![2, 3], vec![3]),
        (vec![4, 1, 3], vec![2, 1]),
        (vec![2, 1], vec![1, 3]),
    ]
}

#[test]
fn binary_ops_with_broadcasting() {
    for (k, (sa, sb)) in broadcast_pairs().into_iter().enumerate() {
        let a = randn(&sa, 10 + k as u64);
        let b = randn(&sb, 20 + k as u64);
        let bpos = uniform(&sb, 0.5, 2.0, 30 + k as u64);
        let apos = uniform(&sa, 0.5, 2.0, 40 + k as u64);
        let tag = format!("{sa:?} {sb:?}");
        both(&format!("add {tag}"), |v| &v[0] + &v[1], &[a.clone(), b.clone()]);
        both(&format!("sub {tag}"), |v| &v[0] - &v[1], &[a.clone(), b.clone()]);
        both(&format!("mul {tag}"), |v| &v[0] * &v[1], &[a.clone(), b.clone()]);
        both(&format!("div {tag}"), |v| &v[0] / &v[1], &[a.clone(), bpos.clone()]);
        both(&format!("pow {tag}"), |v| v[0].pow(&v[1]), &[apos.clone(), b.clone()]);
        both(&format!("maximum {tag}"), |v| v[0].maximum(&v[1]), &[a.clone(), b.clone()]);
        both(&format!("minimum {tag}"), |v| v[0].minimum(&v[1]), &[a.clone(), b.clone()]);
        let cond = randn(&sa, 50 + k as u64).map(|v| if v > 0.0 { 1.0 } else { 0.0 });
        both(&format!("where {tag}"), |v| v[0].where_(&cond, &v[1]), &[a.clone(), b.clone()]);
    }
}

#[test]
fn scalar_forms() {
    let x = uniform(&[2, 3], 0.5, 2.0, 5);
    both("x*2", |v| &v[0] * 2.0, std::slice::from_ref(&x));
    both("2*x", |v| 2.0 * &v[0], std::slice::from_ref(&x));
    both("x+1", |v| &v[0] + 1.0, std::slice::from_ref(&x));
    both("1-x", |v| 1.0 - &v[0], std::slice::from_ref(&x));
    both("x-1", |v| &v[0] - 1.0, std::slice::from_ref(&x));
    both("x/3", |v| &v[0] / 3.0, std::slice::from_ref(&x));
    both("3/x", |v| 3.0 / &v[0], std::slice::from_ref(&x));
    both("-x", |v| -&v[0], std::slice::from_ref(&x));
    let mask = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [2, 3]).unwrap();
    both("masked_fill", |v| v[0].masked_fill(&mask, -3.0), std::slice::from_ref(&x));
}

// ------------------------------------------------------------------ reductions

#[test]
fn reductions() {
    let x = randn(&[2, 3, 4], 60);
    for (axes, keep) in [(vec![], false), (vec![0], false), (vec![1], true), (vec![-1], false), (vec![0, 2], true)] {
        let tag = format!("{axes:?} keepdim={keep}");
        both(&format!("sum {tag}"), |v| v[0].sum_axes(&axes, keep), std::slice::from_ref(&x));
        both(&format!("mean {tag}"), |v| v[0].mean_axes(&axes, keep), std::slice::from_ref(&x));
        both(&format!("max {tag}"), |v| v[0].max_axes(&axes, keep), std::slice::from_ref(&x));
        both(&format!("min {tag}"), |v| v[0].min_axes(&axes, keep), std::slice::from_ref(&x));
        both(&format!("var {tag}"), |v| v[0].var_axes(&axes, keep, 1), std::slice::from_ref(&x));
        both(&format!("std {tag}"), |v| v[0].std_axes(&axes, keep, 0), std::slice::from_ref(&x));
        both(&format!("logsumexp {tag}"), |v| v[0].logsumexp(&axes, keep), std::slice::from_ref(&x));
    }
    both("sum()", |v| v[0].sum(), std::slice::from_ref(&x));
    both("mean()", |v| v[0].mean(), std::slice::from_ref(&x));
}

#[test]
fn max_ties_share_gradient() {
    let tape = autograd::Tape::new();
    let x = tape.var(Tensor::<f64>::from_vec(vec![1.0, 3.0, 3.0, 2.0], [4]).unwrap());
    let g = x.max().backward().wrt(&x);
    assert_eq!(g.to_vec(), vec![0.0, 0.5, 0.5, 0.0]);
    let y = tape.var(Tensor::<f64>::from_vec(vec![2.0, 2.0], [2]).unwrap());
    let z = tape.var(Tensor::<f64>::from_vec(vec![2.0, 1.0], [2]).unwrap());
    let gr = y.maximum(&z).sum().backward();
    assert_eq!(gr.wrt(&y).to_vec(), vec![0.5, 1.0]);
    assert_eq!(gr.wrt(&z).to_vec(), vec![0.5, 0.0]);
}

// ------------------------------------------------------------------ linear algebra

#[test]
fn matmul_all_forms() {
    let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![3, 4], vec![4, 2]),
        (vec![4], vec![4, 2]),
        (vec![3, 4], vec![4]),
        (vec![4], vec![4]),
        (vec![2, 3, 4], vec![4, 5]),
        (vec![3, 4], vec![2, 4, 5]),
        (vec![2, 1, 3, 4], vec![3, 4, 2]),
    ];
    for (k, (sa, sb)) in cases.into_iter().enumerate() {
        let a = randn(&sa, 70 + k as u64);
        let b = randn(&sb, 80 + k as u64);
        both(&format!("matmul {sa:?} {sb:?}"), |v| v[0].matmul(&v[1]), &[a, b]);
    }
    let a = randn(&[3, 4], 90);
    let b = randn(&[5, 4], 91);
    both("matmul_t", |v| v[0].matmul_t(&v[1]), &[a.clone(), b]);
    both("t_matmul", |v| v[0].t_matmul(&v[1]), &[a, randn(&[3, 5], 97)]);
    let u = randn(&[4], 92);
    let w = randn(&[4], 93);
    both("dot", |v| v[0].dot(&v[1]), &[u.clone(), w.clone()]);
    both("outer", |v| v[0].outer(&v[1]), &[u, randn(&[3], 94)]);
    let m = randn(&[2, 3, 4], 95);
    both("transpose", |v| v[0].transpose(0, 2), std::slice::from_ref(&m));
    both("permute", |v| v[0].permute(&[1, 2, 0]), std::slice::from_ref(&m));
    both("t", |v| v[0].t(), &[randn(&[3, 2], 96)]);
}

#[test]
fn linear_fused_with_every_activation() {
    use autograd::LinearActivation as A;
    let x = randn(&[5, 4], 110);
    let w = randn(&[4, 3], 111);
    let b = randn(&[3], 112);
    // The relu case needs pre-activations away from the kink.
    let z = x.matmul(&w).zip_with(&b, "add", |p, q| p + q);
    assert!(z.data().iter().all(|v| v.abs() > 1e-3), "pick other seeds: a pre-activation is at the kink");
    for act in [A::Identity, A::Relu, A::Sigmoid, A::Tanh] {
        both(&format!("linear {act:?}"), |v| v[0].linear(&v[1], Some(&v[2]), act), &[x.clone(), w.clone(), b.clone()]);
        both(&format!("linear {act:?} without bias"), |v| v[0].linear(&v[1], None, act), &[x.clone(), w.clone()]);
    }
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

// ------------------------------------------------------------------ shape ops

#[test]
fn shape_ops() {
    let x = randn(&[2, 3, 4], 100);
    both("reshape", |v| v[0].reshape([6, 4]), std::slice::from_ref(&x));
    both("reshape_infer", |v| v[0].reshape_infer(&[4, -1]), std::slice::from_ref(&x));
    both("flatten", |v| v[0].flatten(1, -1), std::slice::from_ref(&x));
    both("unsqueeze", |v| v[0].unsqueeze(1), std::slice::from_ref(&x));
    both("squeeze", |v| v[0].squeeze(1), &[randn(&[3, 1, 2], 101)]);
    both("broadcast_to", |v| v[0].broadcast_to(&[2, 3, 4]), &[randn(&[3, 1], 102)]);
    both("sum_to", |v| v[0].sum_to(&[3, 1]), std::slice::from_ref(&x));
    both("narrow", |v| v[0].narrow(1, 1, 2), std::slice::from_ref(&x));
    both("slice", |v| v[0].slice(-1, 1..3), std::slice::from_ref(&x));
    let y = randn(&[2, 2, 4], 103);
    both("concat", |v| Var::concat(&[&v[0], &v[1]], 1), &[x.clone(), y]);
    let z = randn(&[2, 3, 4], 104);
    both("stack", |v| Var::stack(&[&v[0], &v[1]], 1), &[x.clone(), z]);
    both("split", |v| v[0].split(&[1, 2], 1)[1].clone(), std::slice::from_ref(&x));
    both("chunk", |v| &v[0].chunk(2, -1)[0] * &v[0].chunk(2, -1)[1], std::slice::from_ref(&x));
    both("index_select", |v| v[0].index_select(1, &[2, 0, 2, 1]), std::slice::from_ref(&x));
    // gather along the last axis: 2 picks per row
    let idx = [0usize, 3, 1, 1, 2, 0, 3, 3, 0, 1, 2, 2];
    both("gather", |v| v[0].gather(-1, &idx), std::slice::from_ref(&x));
}

// ------------------------------------------------------------------ functional

#[test]
fn functional_ops() {
    let x = randn(&[3, 5], 110);
    both("softmax -1", |v| v[0].softmax(-1), std::slice::from_ref(&x));
    both("softmax 0", |v| v[0].softmax(0), std::slice::from_ref(&x));
    both("log_softmax -1", |v| v[0].log_softmax(-1), std::slice::from_ref(&x));
    both("log_softmax 0", |v| v[0].log_softmax(0), std::slice::from_ref(&x));
    both("cross_entropy", |v| v[0].cross_entropy(&[4, 0, 2]), std::slice::from_ref(&x));
    let t = uniform(&[3, 5], 0.0, 1.0, 111);
    both("bce_with_logits", |v| v[0].binary_cross_entropy_with_logits(&v[1]), &[x.clone(), t]);
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

// ------------------------------------------------------------------ composites

#[test]
fn composite_mlp_softmax_ce() {
    let x = randn(&[5, 4], 130);
    let w1 = randn(&[4, 6], 131);
    let b1 = randn(&[6], 132);
    let w2 = randn(&[6, 3], 133);
    let labels = [0usize, 2, 1, 1, 0];
    both("mlp", |v| v[0].matmul(&v[1]).add_b(&v[2]).tanh().matmul(&v[3]).cross_entropy(&labels), &[x, w1, b1, w2]);
}

#[test]
fn composite_loop_recurrence() {
    // h_{t+1} = tanh(W h_t + x_t): a graph built by a Rust loop.
    let w = randn(&[3, 3], 140).scale(0.5);
    let h0 = randn(&[3], 141);
    let xs = randn(&[4, 3], 142);
    both(
        "rnn",
        |v| {
            let mut h = v[1].clone();
            for t in 0..4 {
                h = (v[0].matmul(&h) + v[2].narrow(0, t, 1).squeeze(0)).tanh();
            }
            h.square().sum()
        },
        &[w, h0, xs],
    );
}

trait AddB {
    fn add_b(&self, b: &Var<f64>) -> Var<f64>;
}
impl AddB for Var<f64> {
    fn add_b(&self, b: &Var<f64>) -> Var<f64> {
        self + b
    }
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
