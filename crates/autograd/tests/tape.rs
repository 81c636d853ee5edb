//! Behaviour of the tape: constants, no_grad, detach, accumulation, second backward,
//! higher-order gradients, custom ops, and error messages.

use autograd::{grad, hessian, hvp, jacobian, no_grad, BackwardOptions, Function, InputGrads, Op, Tape, Tensor, Var};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn simple_gradient_by_hand() {
    // y = sum(tanh(x W) * 2); dW = x^T (2 (1 - tanh^2))
    let tape = Tape::new();
    let x = tape.var(t(&[1.0, 2.0, 3.0], &[3]));
    let w = tape.var(t(&[0.1, -0.2, 0.3, 0.0, -0.1, 0.2], &[3, 2]));
    let y = (x.matmul(&w).tanh() * 2.0).sum();
    let g = y.backward();
    let z = x.value().matmul(w.value());
    for i in 0..3 {
        for j in 0..2 {
            let want = x.value().get(&[i]) * 2.0 * (1.0 - z.get(&[j]).tanh().powi(2));
            assert!((g.wrt(&w).get(&[i, j]) - want).abs() < 1e-14);
        }
    }
    assert_eq!(g.wrt(&x).shape(), &[3]);
}

#[test]
fn constants_get_no_gradient_and_record_nothing() {
    let tape = Tape::<f64>::new();
    let c = Var::constant(t(&[1.0, 2.0], &[2]));
    let d = &c * 3.0 + 1.0;
    assert!(!d.requires_grad());
    assert_eq!(tape.len(), 0);
    let x = tape.var(t(&[1.0, 1.0], &[2]));
    let y = (&x * &c).sum();
    assert_eq!(y.backward().wrt(&x).to_vec(), vec![1.0, 2.0]);
}

#[test]
fn no_grad_and_detach_stop_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(3.0));
    let n0 = tape.len();
    let y = no_grad(|| x.exp() * 2.0);
    assert!(!y.requires_grad());
    assert_eq!(tape.len(), n0, "no_grad must not record");
    assert!(autograd::is_grad_enabled());
    // z = x * detach(x): dz/dx = detach(x) = 3, not 2x = 6
    let z = &x * &x.detach();
    assert_eq!(z.backward().wrt(&x).item(), 3.0);
}

#[test]
fn gradient_accumulates_over_uses() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(2.0));
    // y = x*x + 3x + x  => dy/dx = 2x + 4 = 8
    let y = &x * &x + &x * 3.0 + &x;
    assert_eq!(y.backward().wrt(&x).item(), 8.0);
}

#[test]
fn dag_with_several_outputs_keeps_all_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(1.5));
    let a = x.sin();
    let b = x.cos();
    let y = &a * &b + a.square(); // two paths through a
    let g = grad(&[&y], &[&x, &a], false);
    let want_a = b.item() + 2.0 * a.item();
    assert!((g.wrt(&a).item() - want_a).abs() < 1e-14);
    let want_x = (2.0 * 1.5f64).cos() + (2.0 * 1.5f64).sin();
    assert!((g.wrt(&x).item() - want_x).abs() < 1e-14);
}

#[test]
fn second_backward_is_a_clear_error_unless_retained() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(2.0));
    let y = x.exp();
    let _ = y.backward();
    let msg = panic_message(|| {
        let _ = y.backward();
    });
    assert!(msg.contains("already freed") && msg.contains("exp"), "{msg}");

    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(2.0));
    let y = x.exp();
    let g1 = y.backward_with(BackwardOptions { retain_graph: true, ..Default::default() }).wrt(&x);
    let g2 = y.backward().wrt(&x);
    assert_eq!(g1, g2);
}

#[test]
fn backward_frees_saved_buffers() {
    // After a sweep without retain_graph, the tape holds no copies of the intermediates:
    // an intermediate's buffer is then referenced only by our own handle.
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::ones([1000]));
    let h = x.exp();
    let buf = h.value().clone();
    let y = h.sum();
    drop(h);
    let _ = y.backward();
    // one count for `buf`, none from the tape
    let again = buf.clone();
    assert!(again.shares_buffer(&buf));
    let mut only = buf;
    drop(again);
    let p = only.data().as_ptr();
    only.data_mut()[0] = 5.0; // would copy if the tape still shared it
    assert_eq!(only.data().as_ptr(), p, "tape still referenced the intermediate buffer");
}

#[test]
fn second_derivatives() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(0.7));
    let y = x.sin() * &x; // y = x sin x
    let dy = grad(&[&y], &[&x], true).wrt_var(&x); // sin x + x cos x
    assert!((dy.item() - (0.7f64.sin() + 0.7 * 0.7f64.cos())).abs() < 1e-14);
    let d2y = grad(&[&dy], &[&x], true).wrt_var(&x); // 2 cos x - x sin x
    assert!((d2y.item() - (2.0 * 0.7f64.cos() - 0.7 * 0.7f64.sin())).abs() < 1e-14);
    let d3y = grad(&[&d2y], &[&x], false).wrt(&x); // -3 sin x - x cos x
    assert!((d3y.item() - (-3.0 * 0.7f64.sin() - 0.7 * 0.7f64.cos())).abs() < 1e-13);
}

#[test]
fn jacobian_hessian_hvp() {
    let x = t(&[0.5, -1.0, 2.0], &[3]);
    // f(x) = x^2 elementwise: J = diag(2x), in reverse and in forward mode
    let want = vec![1.0, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 4.0];
    let j = jacobian(|x| x[0].square(), std::slice::from_ref(&x));
    assert_eq!(j[0].shape(), &[3, 3]);
    assert_eq!(j[0].to_vec(), want);
    assert_eq!(autograd::jacfwd(|x| x[0].square(), std::slice::from_ref(&x))[0].to_vec(), want);
    // f(x) = x0 x1 + x2^3: H = [[0,1,0],[1,0,0],[0,0,6 x2]]
    let f = |x: &Var<f64>| &x.narrow(0, 0, 1) * &x.narrow(0, 1, 1) + x.narrow(0, 2, 1).powi(3);
    let fs = |x: &[Var<f64>]| f(&x[0]).sum();
    let h = hessian(fs, std::slice::from_ref(&x));
    assert_eq!(h[0][0].to_vec(), vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 12.0]);
    let v = t(&[1.0, 2.0, 3.0], &[3]);
    assert_eq!(hvp(fs, std::slice::from_ref(&x), std::slice::from_ref(&v))[0].to_vec(), vec![2.0, 1.0, 36.0]);
    assert_eq!(autograd::vhp(fs, &[x], &[v])[0].to_vec(), vec![2.0, 1.0, 36.0]);
}

/// Several inputs: the blocks of the Jacobian and the Hessian, and H v, against hand-derived
/// values, forward and reverse.
#[test]
fn derivatives_of_functions_of_several_inputs() {
    // f(x, y) = sum(x^2 * y) for x, y in R^2: grad_x = 2xy, grad_y = x^2;
    // H_xx = diag(2y), H_xy = diag(2x), H_yy = 0.
    let x = t(&[1.0, 2.0], &[2]);
    let y = t(&[3.0, -1.0], &[2]);
    let f = |v: &[Var<f64>]| (v[0].square() * &v[1]).sum();
    let h = hessian(f, &[x.clone(), y.clone()]);
    assert_eq!(h[0][0].to_vec(), vec![6.0, 0.0, 0.0, -2.0]);
    assert_eq!(h[0][1].to_vec(), vec![2.0, 0.0, 0.0, 4.0]);
    assert_eq!(h[1][0].to_vec(), vec![2.0, 0.0, 0.0, 4.0]);
    assert_eq!(h[1][1].to_vec(), vec![0.0; 4]);
    let (u, w) = (t(&[1.0, 0.5], &[2]), t(&[-1.0, 2.0], &[2]));
    let hv = hvp(f, &[x.clone(), y.clone()], &[u.clone(), w.clone()]);
    // H_xx u + H_xy w = (6 - 2, -1 + 8), H_yx u + H_yy w = (2, 2)
    assert_eq!(hv[0].to_vec(), vec![4.0, 7.0]);
    assert_eq!(hv[1].to_vec(), vec![2.0, 2.0]);
    let vh = autograd::vhp(f, &[x.clone(), y.clone()], &[u, w]);
    assert_eq!(vh[0].to_vec(), hv[0].to_vec());
    assert_eq!(vh[1].to_vec(), hv[1].to_vec());
    // The Jacobian of g(x, y) = x * y (elementwise): diag(y) and diag(x), both modes.
    let g = |v: &[Var<f64>]| &v[0] * &v[1];
    for j in [jacobian(g, &[x.clone(), y.clone()]), autograd::jacfwd(g, &[x.clone(), y.clone()])] {
        assert_eq!(j[0].to_vec(), vec![3.0, 0.0, 0.0, -1.0]);
        assert_eq!(j[1].to_vec(), vec![1.0, 0.0, 0.0, 2.0]);
    }
}

#[test]
fn custom_function_is_gradchecked() {
    // softsign(x) = x / (1 + |x|), with a hand-written backward.
    struct Softsign;
    impl Op<f64> for Softsign {
        fn name(&self) -> &'static str {
            "softsign"
        }
        fn backward(&self, x: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> InputGrads<f64> {
            let d = (x[0].abs() + 1.0).powi(-2);
            autograd::smallvec![Some(g * &d)]
        }
    }
    impl Function<f64> for Softsign {
        fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
            x[0].map(|v| v / (1.0 + v.abs()))
        }
    }
    let x = t(&[0.3, -1.7, 2.5, -0.4], &[2, 2]);
    let opts = autograd::GradcheckOptions::default();
    autograd::gradcheck(|v| Var::apply(Softsign, &[&v[0]]), std::slice::from_ref(&x), opts).unwrap();
    autograd::gradgradcheck(|v| Var::apply(Softsign, &[&v[0]]), &[x], opts).unwrap();
}

#[test]
fn custom_op_with_wrong_gradient_shape_is_reported() {
    struct Bad;
    impl Op<f64> for Bad {
        fn name(&self) -> &'static str {
            "bad_shape"
        }
        fn backward(&self, _x: &[Var<f64>], _y: &Var<f64>, _g: &Var<f64>) -> InputGrads<f64> {
            autograd::smallvec![Some(Var::constant(Tensor::zeros([7])))]
        }
    }
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::zeros([2]));
    let y = Var::from_op(Bad, &[&x], Tensor::zeros([2]));
    let msg = panic_message(|| {
        let _ = y.sum().backward();
    });
    assert!(msg.contains("bad_shape") && msg.contains("[7]") && msg.contains("[2]"), "{msg}");
}

#[test]
fn error_messages_name_op_and_shapes() {
    let tape = Tape::<f64>::new();
    let a = tape.var(Tensor::zeros([3, 4]));
    let b = tape.var(Tensor::zeros([5, 2]));
    let e = a.try_matmul(&b).unwrap_err();
    assert_eq!(e.to_string(), "matmul: [3, 4] x [5, 2]: inner dimensions 4 and 5 differ");
    let msg = panic_message(|| {
        let _ = &a + &b;
    });
    assert!(msg.starts_with("add: shapes [3, 4] and [5, 2] cannot be broadcast"), "{msg}");
    let msg = panic_message(|| {
        let _ = a.sum_axes(&[2], false);
    });
    assert!(msg.contains("sum: axis 2 is out of range for a tensor with 2 dimensions"), "{msg}");
    let e = a.try_reshape([5, 5]).unwrap_err();
    assert!(e.to_string().contains("reshape: cannot reshape [3, 4] (12 elements) into [5, 5]"), "{e}");
    let e = Tensor::<f32>::from_vec(vec![1.0; 5], [2, 3]).unwrap_err();
    assert_eq!(e.to_string(), "from_vec: shape [2, 3] needs 6 elements but 5 were given");
    let other = Tape::<f64>::new();
    let c = other.var(Tensor::zeros([3, 4]));
    let msg = panic_message(|| {
        let _ = &a * &c;
    });
    assert!(msg.contains("mul: inputs are recorded on different tapes"), "{msg}");
    let msg = panic_message(|| {
        let _ = Var::constant(Tensor::<f64>::scalar(1.0)).backward();
    });
    assert!(msg.contains("not recorded on a tape"), "{msg}");
    let e = a.try_cross_entropy(&[0, 1, 9]).unwrap_err();
    assert!(e.to_string().contains("target 9 at position 2 is not below 4 classes"), "{e}");
}

#[test]
fn scalar_graph_from_a_loop() {
    // micrograd-style: many tiny ops, gradient by the chain rule in closed form.
    let tape = Tape::<f64>::with_capacity(4096);
    let x = tape.var(Tensor::scalar(0.3));
    let mut y = x.clone();
    for _ in 0..1000 {
        y = (&y * 0.999).sin() + 0.001;
    }
    let g = y.backward().wrt(&x).item();
    // check against a central difference of the same recurrence
    let f = |x0: f64| (0..1000).fold(x0, |y, _| (y * 0.999).sin() + 0.001);
    let fd = (f(0.3 + 1e-6) - f(0.3 - 1e-6)) / 2e-6;
    assert!((g - fd).abs() < 1e-7, "{g} vs {fd}");
}

#[test]
fn f32_works_too() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Tensor::from_vec(vec![1.0f32, -2.0], [2]).unwrap());
    let y = (x.relu() * 3.0f32).sum();
    assert_eq!(y.backward().wrt(&x).to_vec(), vec![3.0f32, 0.0]);
    let z = 2.0f32 * &x;
    assert_eq!(z.value().to_vec(), vec![2.0, -4.0]);
}

/// A user's own `par_iter` over independent graphs: while a worker waits for the chunks of a
/// large kernel (here the backward of `exp`, above the threading threshold) it may run another
/// of the user's jobs, which must still record (the sweep's "grad off" must not leak into it).
/// Whether a worker steals at that moment is up to the scheduler, so this exercises the pattern
/// many times rather than forcing it.
#[test]
fn threaded_kernels_inside_a_users_par_iter_keep_each_jobs_grad_mode() {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let grads: Vec<(f32, f32)> = pool.install(|| {
        (0..256)
            .into_par_iter()
            .map(|i| {
                let v = 0.001 * i as f32;
                let tape = Tape::new();
                let x = tape.var(Tensor::<f32>::full([512, 512], v));
                let y = x.exp();
                let want = y.value().data()[0];
                (y.sum().backward().wrt(&x).data()[7], want)
            })
            .collect()
    });
    for (g, want) in grads {
        assert_eq!(g, want);
    }
}

/// The fused plain backward of cross-entropy and of `linear` give the bits of their
/// differentiable rules (what `create_graph` records).
#[test]
fn fused_plain_backward_matches_the_recorded_rule_bit_for_bit() {
    use autograd::{grad, LinearActivation as A};
    use rand::{rngs::StdRng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(11);
    let bits = |t: &Tensor<f64>| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for n in [3usize, 5, 7, 10] {
        let z0 = Tensor::<f64>::randn([n, 4], &mut rng);
        let targets: Vec<usize> = (0..n).map(|i| (i * 3) % 4).collect();
        let run = |create_graph: bool| {
            let tape = Tape::new();
            let z = tape.var(z0.clone());
            let loss = z.cross_entropy(&targets) * 1.7;
            grad(&[&loss], &[&z], create_graph).wrt(&z)
        };
        assert_eq!(bits(&run(false)), bits(&run(true)), "cross_entropy, n = {n}");
    }
    let x0 = Tensor::<f64>::randn([6, 5], &mut rng);
    let w0 = Tensor::<f64>::randn([5, 4], &mut rng);
    let b0 = Tensor::<f64>::randn([4], &mut rng);
    let s0 = Tensor::<f64>::randn([6, 4], &mut rng);
    for act in [A::Identity, A::Relu, A::Sigmoid, A::Tanh] {
        let run = |create_graph: bool| {
            let tape = Tape::new();
            let (x, w, b) = (tape.var(x0.clone()), tape.var(w0.clone()), tape.var(b0.clone()));
            let loss = (x.linear(&w, Some(&b), act) * &Var::constant(s0.clone())).sum();
            let g = grad(&[&loss], &[&x, &w, &b], create_graph);
            [g.wrt(&x), g.wrt(&w), g.wrt(&b)]
        };
        let (p, r) = (run(false), run(true));
        for k in 0..3 {
            assert_eq!(bits(&p[k]), bits(&r[k]), "linear {act:?}, input {k}");
        }
    }
}
