//! No silent wrong results: non-finite inputs and targets are rejected (naming the first bad
//! sample) unless the check is turned off, `TerminateOnNaN` stops a diverging run with an
//! error, and `train_test_split` gives shuffled, stratified, reproducible splits.
//! (`Ctx::backward`'s errors are in `derive.rs`.)

use nn::data::{train_test_split, U8Images};
use nn::losses::{MeanSquaredError, SparseCategoricalCrossentropy};
use nn::{Dense, EvaluateOptions, FitOptions, Model, NnError, Sgd, Tensor, TerminateOnNaN};

fn regression() -> (Tensor<f32>, Tensor<f32>) {
    let x = Tensor::from_vec((0..40).map(|i| i as f32 / 20.0).collect(), [20, 2]).unwrap();
    let y = Tensor::from_vec((0..20).map(|i| i as f32).collect(), [20, 1]).unwrap();
    (x, y)
}

fn model() -> Model<Dense<f32>> {
    let mut m = Model::new(Dense::new(2, 1).seed(0));
    m.compile(Sgd::new(0.01), MeanSquaredError, []);
    m
}

fn quiet() -> FitOptions<f32> {
    FitOptions { verbose: 0, ..Default::default() }
}

#[test]
fn fit_rejects_nan_inputs_naming_the_sample() {
    let (x, y) = regression();
    let mut bad = x.to_vec();
    bad[2 * 13 + 1] = f32::NAN;
    let bad = Tensor::from_vec(bad, [20, 2]).unwrap();
    let mut m = model();
    let before = m.state_dict();
    let e = m.fit(&bad, &y, quiet()).unwrap_err();
    assert!(matches!(e, NnError::Data(_)), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("fit: input sample 13 holds a NaN (at position 1 of the sample)"), "{msg}");
    assert!(msg.contains("check_finite: false"), "{msg}");
    assert_eq!(m.state_dict(), before, "nothing was trained");
    // Targets, validation data and evaluate are checked too.
    let mut ybad = y.to_vec();
    ybad[4] = f32::INFINITY;
    let ybad = Tensor::from_vec(ybad, [20, 1]).unwrap();
    let e = m.fit(&x, &ybad, quiet()).unwrap_err().to_string();
    assert!(e.contains("the target of sample 4 holds an infinity"), "{e}");
    let opts = FitOptions { validation_data: Some((bad.clone(), y.clone())), ..quiet() };
    let e = m.fit(&x, &y, opts).unwrap_err().to_string();
    assert!(e.contains("validation input sample 13"), "{e}");
    let e = m.evaluate(&bad, &y).unwrap_err().to_string();
    assert!(e.contains("evaluate: input sample 13"), "{e}");
    // The opt-out: training runs (and gives NaN, which is what was asked for).
    let h = m.fit(&bad, &y, FitOptions { check_finite: false, ..quiet() }).unwrap();
    assert!(h.last("loss").unwrap().is_nan());
    let s = m.evaluate_with(&bad, &y, EvaluateOptions { check_finite: false, ..Default::default() }).unwrap();
    assert!(s["loss"].is_nan());
}

#[test]
fn byte_sources_are_finite_and_are_not_scanned() {
    let images = U8Images::new(vec![255u8; 20 * 2], [2], 255.0).unwrap();
    let (_, y) = regression();
    model().fit(&images, &y, quiet()).unwrap();
}

#[test]
fn terminate_on_nan_stops_a_diverging_run_with_an_error() {
    let (x, y) = regression();
    // A learning rate far too large: the loss overflows to infinity within a few batches.
    let mut m = Model::new(Dense::new(2, 1).seed(0));
    m.compile(Sgd::new(1e6), MeanSquaredError, []);
    let opts = FitOptions { epochs: 50, batch_size: 4, callbacks: vec![Box::new(TerminateOnNaN)], ..quiet() };
    let e = m.fit(&x, &y, opts).unwrap_err();
    let NnError::NonFiniteLoss { epoch, batch, value } = e else { panic!("{e}") };
    assert!(!value.is_finite());
    assert!(epoch < 2, "stopped at epoch {epoch}, batch {batch}");
    // Without the callback, the same run "succeeds" with a non-finite loss.
    let mut m = Model::new(Dense::new(2, 1).seed(0));
    m.compile(Sgd::new(1e6), MeanSquaredError, []);
    let h = m.fit(&x, &y, FitOptions { epochs: 3, batch_size: 4, ..quiet() }).unwrap();
    assert!(!h.last("loss").unwrap().is_finite());
}

#[test]
fn train_test_split_shuffles_stratifies_and_is_reproducible() {
    // 100 samples sorted by class: 70 of class 0, 30 of class 1.
    let x = Tensor::<f32>::from_vec((0..200).map(|v| v as f32).collect(), [100, 2]).unwrap();
    let y = Tensor::<f32>::from_vec((0..100).map(|i| f32::from(u8::from(i >= 70))).collect(), [100]).unwrap();
    let (xtr, xte, ytr, yte) = train_test_split(&x, &y, 0.2, 1, true).unwrap();
    assert_eq!(
        (xtr.shape(), xte.shape(), ytr.shape(), yte.shape()),
        (&[80, 2][..], &[20, 2][..], &[80][..], &[20][..])
    );
    let ones = |t: &Tensor<f32>| t.data().iter().filter(|&&v| v == 1.0).count();
    assert_eq!((ones(&yte), ones(&ytr)), (6, 24), "30% of each part is class 1");
    // Rows stay together, and every sample is in exactly one part.
    let mut firsts: Vec<f32> = xtr.data().chunks(2).chain(xte.data().chunks(2)).map(|r| r[0]).collect();
    for (r, l) in xtr.data().chunks(2).zip(ytr.data()) {
        assert_eq!(r[1], r[0] + 1.0);
        assert_eq!(*l, f32::from(u8::from(r[0] >= 140.0)));
    }
    firsts.sort_by(f32::total_cmp);
    assert_eq!(firsts, (0..100).map(|i| (2 * i) as f32).collect::<Vec<_>>());
    // Shuffled: the test part is not the tail (which Keras' validation_split would take).
    assert!(xte.data().chunks(2).any(|r| r[0] < 140.0));
    // Same seed, same split; another seed, another split.
    assert_eq!(train_test_split(&x, &y, 0.2, 1, true).unwrap().1, xte);
    assert_ne!(train_test_split(&x, &y, 0.2, 2, true).unwrap().1, xte);
    // Not stratified: ceil(0.25 * 100) = 25 test samples.
    let (_, xte, _, _) = train_test_split(&x, &y, 0.25, 1, false).unwrap();
    assert_eq!(xte.shape(), &[25, 2]);
    // One-hot targets stratify by their arg-max.
    let onehot = nn::data::one_hot::<f32>(&(0..100).map(|i| usize::from(i >= 70)).collect::<Vec<_>>(), 2).unwrap();
    let (_, _, _, yte) = train_test_split(&x, &onehot, 0.2, 1, true).unwrap();
    assert_eq!(yte.data().chunks(2).filter(|r| r[1] == 1.0).count(), 6);
}

#[test]
fn train_test_split_errors() {
    let x = Tensor::<f32>::zeros([10, 2]);
    let y = Tensor::<f32>::from_vec(vec![0., 0., 0., 0., 0., 0., 0., 0., 0., 1.], [10]).unwrap();
    let e = train_test_split(&x, &y, 0.3, 0, true).unwrap_err().to_string();
    assert!(e.contains("class 1 has only 1 sample"), "{e}");
    assert!(matches!(train_test_split(&x, &y, 1.0, 0, false), Err(NnError::InvalidConfig(_))));
    assert!(matches!(train_test_split(&x, &y, 0.0, 0, false), Err(NnError::InvalidConfig(_))));
    let e = train_test_split(&x, &Tensor::zeros([9]), 0.5, 0, false).unwrap_err().to_string();
    assert!(e.contains("10 samples") && e.contains("9"), "{e}");
    let soft = Tensor::<f32>::full([10], 0.5);
    let e = train_test_split(&x, &soft, 0.5, 0, true).unwrap_err().to_string();
    assert!(e.contains("stratify needs class labels"), "{e}");
    // Sparse labels for a classifier: the split feeds fit directly.
    let y = Tensor::<f32>::from_vec((0..10).map(|i| (i % 2) as f32).collect(), [10]).unwrap();
    let (xtr, xte, ytr, yte) = train_test_split(&x, &y, 0.2, 0, true).unwrap();
    let mut m = Model::new(Dense::new(2, 2).seed(1));
    m.compile(Sgd::new(0.1), SparseCategoricalCrossentropy::from_logits(), []);
    m.fit(&xtr, &ytr, FitOptions { validation_data: Some((xte, yte)), ..quiet() }).unwrap();
}
