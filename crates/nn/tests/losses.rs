//! Loss functions: gradient checks (f64), known values, and the fused softmax/sigmoid paths.

use autograd::{gradcheck, GradcheckOptions, Tape, Tensor, Var};
use nn::losses::*;
use nn::{Activation, Dense, Forward, Loss, Module, Sequential};
use rand::{rngs::StdRng, SeedableRng};

fn rng() -> StdRng {
    StdRng::seed_from_u64(1234)
}

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

fn check(name: &str, f: impl Fn(&[Var<f64>]) -> Var<f64>, inputs: &[Tensor<f64>]) {
    gradcheck(f, inputs, GradcheckOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn gradcheck_regression_losses() {
    let mut r = rng();
    let p = Tensor::<f64>::randn([4, 3], &mut r);
    let y = Tensor::<f64>::randn([4, 3], &mut r);
    check("mse", |v| mean_squared_error(&v[0], &v[1]), &[p.clone(), y.clone()]);
    check("mae", |v| mean_absolute_error(&v[0], &v[1]), &[p.clone(), y.clone()]);
    // Differences on both sides of delta, none within the finite-difference step of it.
    let p = t(&[0.1, -0.4, 2.0, -3.0, 0.9, 1.7], &[2, 3]);
    let y = t(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[2, 3]);
    check("huber", |v| huber(&v[0], &v[1], 1.0), &[p.clone(), y.clone()]);
    check("huber delta 0.5", |v| huber(&v[0], &v[1], 0.5), &[p, y]);
}

#[test]
fn gradcheck_binary_crossentropy() {
    let mut r = rng();
    let probs = Tensor::<f64>::rand_uniform([5, 2], 0.05, 0.95, &mut r);
    let targets = Tensor::<f64>::rand_uniform([5, 2], 0.0, 1.0, &mut r);
    check("bce", |v| binary_crossentropy(&v[0], &v[1]), &[probs, targets.clone()]);
    let logits = Tensor::<f64>::randn([5, 2], &mut r).scale(3.0);
    check("bce logits", |v| binary_crossentropy_from_logits(&v[0], &v[1]), &[logits, targets]);
}

#[test]
fn gradcheck_categorical_crossentropy() {
    let mut r = rng();
    let logits = Tensor::<f64>::randn([4, 5], &mut r);
    let soft = Tensor::<f64>::rand_uniform([4, 5], 0.0, 1.0, &mut r);
    let soft = soft.div(&soft.sum_axes(&[-1], true)); // soft targets
                                                      // Unnormalised positive "probabilities": the renormalisation is differentiated too.
    let probs = Tensor::<f64>::rand_uniform([4, 5], 0.05, 0.5, &mut r);
    check("cce", |v| categorical_crossentropy(&v[0], &v[1]), &[probs.clone(), soft.clone()]);
    check("cce logits", |v| categorical_crossentropy_from_logits(&v[0], &v[1]), &[logits.clone(), soft]);
    let labels = [0usize, 4, 2, 2];
    check("sparse cce", |v| sparse_categorical_crossentropy(&v[0], &labels), &[probs]);
    check(
        "sparse cce logits",
        |v| sparse_categorical_crossentropy_from_logits(&v[0], &labels),
        std::slice::from_ref(&logits),
    );
    // Through the trait, from the logits of a softmax head.
    let y = t(&[0.0, 4.0, 2.0, 2.0], &[4]);
    check(
        "SparseCategoricalCrossentropy from logits",
        |v| SparseCategoricalCrossentropy::new().compute_from_logits(&v[0], &y).unwrap(),
        &[logits],
    );
}

#[test]
fn known_values() {
    let c = |v: Vec<f64>, s: &[usize]| Var::constant(t(&v, s));
    let mse = mean_squared_error(&c(vec![1.0, 2.0], &[2]), &c(vec![0.0, 0.0], &[2])).item();
    assert!((mse - 2.5).abs() < 1e-15);
    let mae = mean_absolute_error(&c(vec![1.0, -3.0], &[2]), &c(vec![0.0, 0.0], &[2])).item();
    assert!((mae - 2.0).abs() < 1e-15);
    // Huber(delta=1): 0.5*0.5^2 = 0.125 and 1*(3 - 0.5) = 2.5 -> mean 1.3125
    let h = huber(&c(vec![0.5, 3.0], &[2]), &c(vec![0.0, 0.0], &[2]), 1.0).item();
    assert!((h - 1.3125).abs() < 1e-15, "{h}");
    // BCE: -(ln 0.8 + ln 0.6)/2
    let b = binary_crossentropy(&c(vec![0.8, 0.4], &[2]), &c(vec![1.0, 0.0], &[2])).item();
    assert!((b - (-(0.8f64.ln() + 0.6f64.ln()) / 2.0)).abs() < 1e-12, "{b}");
    // Clipping as Keras: p = 0 gives -ln(1e-7), not infinity.
    let b0 = binary_crossentropy(&c(vec![0.0], &[1]), &c(vec![1.0], &[1])).item();
    assert!((b0 + (1e-7f64).ln()).abs() < 1e-9, "{b0}");
    // CCE on probabilities: -ln 0.7
    let p = c(vec![0.2, 0.7, 0.1], &[1, 3]);
    let y = c(vec![0.0, 1.0, 0.0], &[1, 3]);
    assert!((categorical_crossentropy(&p, &y).item() + 0.7f64.ln()).abs() < 1e-12);
    // Sparse CE from logits [0, ln 2, 0] label 1: -ln(2/4)
    let z = c(vec![0.0, 2f64.ln(), 0.0], &[1, 3]);
    assert!((sparse_categorical_crossentropy_from_logits(&z, &[1]).item() - 2f64.ln()).abs() < 1e-12);
}

#[test]
fn fused_equals_unfused_and_is_stable() {
    let mut r = rng();
    let logits = Tensor::<f64>::randn([6, 4], &mut r).scale(2.0);
    let labels = [0usize, 1, 2, 3, 1, 0];
    let onehot: Tensor<f64> = nn::data::one_hot(&labels, 4).unwrap();
    let z = Var::constant(logits.clone());
    let cce = CategoricalCrossentropy::new();
    assert_eq!(Loss::<f64>::logits_of(&cce), Some(Activation::Softmax));
    let fused = cce.compute_from_logits(&z, &onehot).unwrap().item();
    let plain = cce.compute(&z.softmax(-1), &onehot).unwrap().item();
    assert!((fused - plain).abs() < 1e-12, "{fused} vs {plain}");
    // The from_logits form takes the logits as its outputs and asks for nothing more.
    let from_logits = CategoricalCrossentropy::from_logits();
    assert_eq!(Loss::<f64>::logits_of(&from_logits), None);
    assert!((from_logits.compute(&z, &onehot).unwrap().item() - plain).abs() < 1e-12);
    let y = Tensor::from_vec(labels.iter().map(|&l| l as f64).collect(), [6]).unwrap();
    let sparse = SparseCategoricalCrossentropy::new().compute_from_logits(&z, &y).unwrap().item();
    assert!((sparse - plain).abs() < 1e-12);
    let bin_t = Tensor::<f64>::rand_uniform([6, 4], 0.0, 1.0, &mut r).gt(&Tensor::full([6, 4], 0.5));
    let bf = BinaryCrossentropy::new().compute_from_logits(&z, &bin_t).unwrap().item();
    let bp = BinaryCrossentropy::new().compute(&z.sigmoid(), &bin_t).unwrap().item();
    assert!((bf - bp).abs() < 1e-9, "{bf} vs {bp}");

    // Huge logits: the fused path has an exact, finite loss and gradient; the clipped
    // probability path saturates at -ln(1e-7).
    let tape = Tape::new();
    let big = tape.var(t(&[1000.0, -1000.0, 0.0], &[1, 3]));
    let y = t(&[0.0, 1.0, 0.0], &[1, 3]);
    let l = cce.compute_from_logits(&big, &y).unwrap();
    assert!((l.item() - 2000.0).abs() < 1e-9, "{}", l.item());
    let g = l.backward().wrt(&big);
    assert!(g.all_finite());
    assert!((g.data()[1] + 1.0).abs() < 1e-12);
    let clipped = cce.compute(&Var::constant(t(&[1.0, 0.0, 0.0], &[1, 3])), &y).unwrap();
    assert!((clipped.item() + (1e-7f64).ln()).abs() < 1e-6);
}

#[test]
fn target_checks() {
    let z = Var::constant(Tensor::<f64>::zeros([3, 2]));
    let bad = Tensor::<f64>::from_vec(vec![0.0, 2.0, 1.0], [3]).unwrap();
    let e = SparseCategoricalCrossentropy::new().compute(&z, &bad).unwrap_err();
    assert!(e.to_string().contains("sparse_categorical_crossentropy: label 2 at position 1"), "{e}");
    let frac = Tensor::<f64>::from_vec(vec![0.0, 0.5, 1.0], [3]).unwrap();
    assert!(SparseCategoricalCrossentropy::new().compute(&z, &frac).is_err());
    let wrong = Tensor::<f64>::zeros([3, 3]);
    assert!(matches!(MeanSquaredError.compute(&z, &wrong), Err(nn::NnError::ShapeMismatch { .. })));
    // [n] targets for [n, 1] outputs are accepted, as in Keras.
    let z1 = Var::constant(Tensor::<f64>::ones([3, 1]));
    let l = MeanSquaredError.compute(&z1, &Tensor::zeros([3])).unwrap();
    assert_eq!(l.item(), 1.0);
}

/// A closure is a loss; `LossFn` names one; a struct of your own implements the trait.
#[test]
fn user_losses() {
    let p = Var::constant(t(&[1.0, 2.0], &[2, 1]));
    let y = t(&[0.0, 0.0], &[2]);
    let closure = |p: &Var<f64>, t: &Var<f64>| (p - t).abs().sum();
    assert_eq!(closure.compute(&p, &y).unwrap().item(), 3.0);
    let named = LossFn::new("total_abs", closure);
    assert_eq!(Loss::<f64>::name(&named), "total_abs");
    // The target shape is checked and named.
    let e = named.compute(&p, &t(&[0.0, 0.0, 0.0], &[3])).unwrap_err();
    assert!(e.to_string().contains("total_abs"), "{e}");
}

/// The fusion is decided by the loss and the model: a softmax head gives up its logits only
/// when asked for softmax, and a model ending in something else gives its output.
#[test]
fn models_give_logits_only_for_the_head_the_loss_names() {
    let seq = Sequential::<f64>::new()
        .add(Dense::new(3, 4).activation(Activation::Relu))
        .add(Dense::new(4, 2).activation(Activation::Softmax));
    let x = Var::constant(Tensor::<f64>::ones([1, 3]));
    let out = seq.forward(&x, &mut nn::Ctx::no_grad());
    match seq.forward_logits(&x, &mut nn::Ctx::no_grad(), Activation::Softmax) {
        Forward::Logits(z) => assert!(z.value().softmax(-1).allclose(out.value(), 1e-12, 1e-12)),
        Forward::Output(_) => panic!("a softmax head gives its logits"),
    }
    assert!(matches!(seq.forward_logits(&x, &mut nn::Ctx::no_grad(), Activation::Sigmoid), Forward::Output(_)));
    let seq2 = Sequential::<f64>::new().add(Dense::new(3, 2)).add(nn::Softmax);
    assert!(matches!(seq2.forward_logits(&x, &mut nn::Ctx::no_grad(), Activation::Softmax), Forward::Logits(_)));
}
