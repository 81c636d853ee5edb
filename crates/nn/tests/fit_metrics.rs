//! Metrics in `fit` and `evaluate`: every metric of `nn::metrics` can be a fit metric, is
//! printed per epoch and recorded in the History, and agrees with the after-the-fact
//! functions; user-defined losses and metrics.

use nn::data::one_hot;
use nn::losses::{BinaryCrossentropy, LossFn, SparseCategoricalCrossentropy};
use nn::metrics::{
    self as m, Accuracy, Auc, Average, ConfusionMatrixMetric, F1Score, Metric, Precision, Recall, TopKAccuracy,
};
use nn::rand::rngs::StdRng;
use nn::rand::{RngExt, SeedableRng};
use nn::{Activation, Adam, Dense, EvaluateOptions, FitOptions, Model, NnError, Sequential, Tensor, Var};

/// Four overlapping Gaussian blobs in 2-d (so no metric is trivially 1).
fn blobs(n: usize, seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let mut r = StdRng::seed_from_u64(seed);
    let centres = [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)];
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 4;
        x.push(centres[c].0 + r.random_range(-1.3f32..1.3));
        x.push(centres[c].1 + r.random_range(-1.3f32..1.3));
        labels.push(c);
    }
    (Tensor::from_vec(x, [n, 2]).unwrap(), labels)
}

fn labels_tensor(labels: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(labels.iter().map(|&l| l as f32).collect(), [labels.len()]).unwrap()
}

fn binary_data(n: usize, seed: u64) -> (Tensor<f32>, Tensor<f32>) {
    let mut r = StdRng::seed_from_u64(seed);
    let x = Tensor::<f32>::rand_uniform([n, 2], -1.0, 1.0, &mut r);
    let y: Vec<f32> = x
        .data()
        .chunks(2)
        .map(|p| f32::from(u8::from(p[0] + 0.5 * p[1] + r.random_range(-0.4f32..0.4) > 0.0)))
        .collect();
    (x, Tensor::from_vec(y, [n, 1]).unwrap())
}

fn binary_model() -> Model<Sequential<f32>> {
    nn::manual_seed(11);
    let mut model = Model::new(
        Sequential::new()
            .add(Dense::new(2, 8).activation(Activation::Tanh))
            .add(Dense::new(8, 1).activation(Activation::Sigmoid)),
    );
    model.compile(
        Adam::new(0.05),
        BinaryCrossentropy::new(),
        nn::metrics![Accuracy::new(), Precision::new(), Recall::new(), F1Score::new(), Auc::new()],
    );
    model
}

/// The run behind `fit_prints_and_records_accuracy_precision_recall_f1_auc`, in a child
/// process so that its standard output can be read.
#[test]
fn child_fit_with_five_metrics() {
    if std::env::var_os("NN_FIT_METRICS_CHILD").is_none() {
        return;
    }
    let (x, y) = binary_data(200, 1);
    let mut model = binary_model();
    model
        .fit(&x, &y, FitOptions { epochs: 3, validation_split: 0.25, verbose: 2, seed: Some(2), ..Default::default() })
        .unwrap();
}

#[test]
fn fit_prints_and_records_accuracy_precision_recall_f1_auc() {
    let (x, y) = binary_data(200, 1);
    let mut model = binary_model();
    let opts = FitOptions { epochs: 3, validation_split: 0.25, verbose: 0, seed: Some(2), ..Default::default() };
    let h = model.fit(&x, &y, opts).unwrap();
    let keys: Vec<&str> = h.history.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "loss",
            "accuracy",
            "precision",
            "recall",
            "f1",
            "auc",
            "val_loss",
            "val_accuracy",
            "val_precision",
            "val_recall",
            "val_f1",
            "val_auc"
        ]
    );
    assert!(h.history.values().all(|v| v.len() == 3 && v.iter().all(|x| x.is_finite())), "{h:?}");
    // The val_ metrics are those of the final weights on the last 25% (samples 150..200),
    // computed after the fact by the functions of nn::metrics.
    let (xv, yv) = (x.narrow(0, 150, 50), y.narrow(0, 150, 50));
    let p = model.predict(&xv).unwrap();
    let pred: Vec<usize> = p.data().iter().map(|&v| usize::from(v > 0.5)).collect();
    let truth: Vec<usize> = yv.data().iter().map(|&v| v as usize).collect();
    let cm = m::confusion_matrix(&truth, &pred, 2).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(h.last("val_accuracy").unwrap(), cm.accuracy().unwrap()));
    assert!(close(h.last("val_precision").unwrap(), cm.precision()[1]));
    assert!(close(h.last("val_recall").unwrap(), cm.recall()[1]));
    assert!(close(h.last("val_f1").unwrap(), cm.f1()[1]));
    assert!(close(h.last("val_auc").unwrap(), m::roc_auc(p.data(), yv.data()).unwrap()));
    assert!(h.last("val_auc").unwrap() > 0.8);

    // And they are printed, one line per epoch (`verbose: 2`), by the same run in a child.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_fit_with_five_metrics", "--exact", "--nocapture", "--test-threads=1"])
        .env("NN_FIT_METRICS_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let epoch_lines: Vec<&str> = stdout.lines().filter(|l| l.contains(" - loss: ")).collect();
    assert_eq!(epoch_lines.len(), 3, "{stdout}");
    for (line, e) in epoch_lines.iter().zip(0..) {
        for name in ["accuracy", "precision", "recall", "f1", "auc"] {
            let want = format!(" - {name}: {:.4}", h.get(name).unwrap()[e]);
            assert!(line.contains(&want), "{want} not in {line}");
            assert!(line.contains(&format!(" - val_{name}: ")), "{line}");
        }
    }
}

/// Multi-class: macro/micro averages, top-k, one-vs-rest AUC from logits, the confusion
/// matrix, all agreeing with the functions.
#[test]
fn every_metric_of_the_metrics_module_is_a_fit_metric() {
    let (x, labels) = blobs(400, 3);
    let y = labels_tensor(&labels);
    nn::manual_seed(4);
    // No final activation: the outputs are logits, which the metrics are told.
    let mut model =
        Model::new(Sequential::new().add(Dense::new(2, 16).activation(Activation::Relu)).add(Dense::new(16, 4)));
    model.compile(
        Adam::new(0.02),
        SparseCategoricalCrossentropy::from_logits(),
        nn::metrics![
            Accuracy::new(),
            Precision::average(Average::Macro),
            Precision::average(Average::Micro),
            Recall::average(Average::Weighted),
            F1Score::new(),
            F1Score::average(Average::Micro),
            TopKAccuracy::new(2),
            Auc::new(),
            ConfusionMatrixMetric::new(),
            m::MeanSquaredError::new(),
        ],
    );
    let h = model.fit(&x, &y, FitOptions { epochs: 5, verbose: 0, seed: Some(1), ..Default::default() }).unwrap();
    for k in ["precision_macro", "precision_micro", "recall_weighted", "f1", "f1_micro", "top_2_accuracy", "auc"] {
        assert!(h.get(k).is_some(), "{k} missing from {:?}", h.history.keys());
    }
    assert!(h.get("confusion_matrix_3_3").is_some() && h.get("confusion_matrix_0_1").is_some());

    let scores = model.evaluate_with(&x, &y, EvaluateOptions { batch_size: 64, ..Default::default() }).unwrap();
    let logits = model.predict(&x).unwrap();
    let probs = logits.softmax(-1);
    let pred = m::argmax_rows(logits.data(), 4).unwrap();
    let cm = m::confusion_matrix(&labels, &pred, 4).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(scores["accuracy"], cm.accuracy().unwrap()));
    assert!(close(scores["precision_macro"], cm.macro_precision()));
    assert!(close(scores["precision_micro"], cm.accuracy().unwrap()), "micro precision is the accuracy");
    assert!(close(scores["recall_weighted"], cm.recall_avg(Average::Weighted)));
    assert!(close(scores["f1"], m::macro_f1(&labels, &pred, 4).unwrap()));
    assert!(close(scores["f1_micro"], cm.accuracy().unwrap()));
    assert!(close(scores["top_2_accuracy"], m::top_k_accuracy(logits.data(), &labels, 4, 2).unwrap()));
    assert!(close(scores["auc"], m::roc_auc_ovr(probs.data(), &labels, 4).unwrap()), "{} vs ovr", scores["auc"]);
    for t in 0..4 {
        for p in 0..4 {
            assert_eq!(scores[&format!("confusion_matrix_{t}_{p}")], cm.get(t, p) as f64);
        }
    }
    // The metric object keeps the last matrix.
    let _ = model.metrics().iter().find(|m| m.name() == "confusion_matrix").unwrap();
    // MSE of logits against the one-hot labels.
    let onehot: Tensor<f32> = one_hot(&labels, 4).unwrap();
    let mse = logits.sub(&onehot).map(|v| v * v).mean_all() as f64;
    assert!((scores["mse"] - mse).abs() < 1e-4 * mse.max(1.0));
}

/// A struct metric of one's own.
struct MaxAbsError(f64);

impl Metric<f32> for MaxAbsError {
    fn name(&self) -> String {
        "max_abs_error".into()
    }
    fn reset(&mut self) {
        self.0 = 0.0;
    }
    fn update(&mut self, y_pred: &Tensor<f32>, y_true: &Tensor<f32>) -> Result<(), NnError> {
        let t = y_true.reshape(y_pred.shape());
        let worst = y_pred.data().iter().zip(t.data()).map(|(p, t)| f64::from((p - t).abs())).fold(0.0, f64::max);
        self.0 = self.0.max(worst);
        Ok(())
    }
    fn result(&self) -> f64 {
        self.0
    }
}

#[test]
fn user_loss_and_user_metrics_in_fit() {
    let x = Tensor::from_vec((0..64).map(|i| i as f32 / 32.0 - 1.0).collect(), [64, 1]).unwrap();
    let y = x.map(|v| 3.0 * v - 0.5);
    nn::manual_seed(9);
    let mut model = Model::new(Dense::new(1, 1));
    // A closure loss (mean absolute error to the 1.5th power).
    let loss = |p: &Var<f32>, t: &Var<f32>| (p - t).abs().powf(1.5).mean();
    model.compile(
        Adam::new(0.1),
        LossFn::new("l1.5", loss),
        nn::metrics![
            MaxAbsError(0.0),
            m::MeanMetric::new("mean_prediction", |p: &Tensor<f32>, _: &Tensor<f32>| p.mean_all() as f64)
        ],
    );
    let h = model
        .fit(&x, &y, FitOptions { epochs: 150, batch_size: 16, verbose: 0, seed: Some(3), ..Default::default() })
        .unwrap();
    assert!(h.last("loss").unwrap() < 1e-2, "{:?}", h.get("loss").map(|v| &v[v.len() - 3..]));
    assert!(h.last("max_abs_error").unwrap() < 0.1, "{:?}", h.last("max_abs_error"));
    assert!((h.last("mean_prediction").unwrap() + 0.5).abs() < 0.1);
    // A closure without a name works as well.
    model.compile(Adam::new(0.1), |p: &Var<f32>, t: &Var<f32>| (p - t).square().mean(), []);
    assert!(model.evaluate(&x, &y).unwrap()["loss"] < 1e-2);
    // A loss that is not a scalar is an error naming it.
    model.compile(Adam::new(0.1), LossFn::new("per_sample", |p: &Var<f32>, t: &Var<f32>| (p - t).square()), []);
    let e = model.evaluate(&x, &y).unwrap_err();
    assert!(e.to_string().contains("loss `per_sample` returned shape [32, 1]"), "{e}");
    // Two metrics logged under one name would overwrite each other: an error.
    model.compile(Adam::new(0.1), nn::losses::MeanSquaredError, nn::metrics![Accuracy::new(), Accuracy::new()]);
    let e = model.fit(&x, &y, FitOptions { verbose: 0, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("`accuracy`"), "{e}");
}

/// Records the names `on_batch_end` sees.
struct BatchNames(Vec<Vec<String>>);

impl nn::Callback<f32> for BatchNames {
    fn on_batch_end(
        &mut self,
        _epoch: usize,
        _batch: usize,
        logs: &nn::Logs,
        _ctx: &mut nn::callbacks::TrainContext<'_, f32>,
    ) -> Result<(), NnError> {
        self.0.push(logs.keys().cloned().collect());
        Ok(())
    }
}

/// After each batch, callbacks see the running loss and the metrics cheap to compute; an
/// exact AUC (a sort of the epoch's scores) waits for the end of the epoch.
#[test]
fn batch_logs_leave_out_metrics_costly_per_batch() {
    let (x, y) = binary_data(64, 5);
    let mut model = binary_model();
    let mut names = BatchNames(Vec::new());
    let opts = FitOptions { epochs: 1, batch_size: 16, verbose: 0, seed: Some(2), ..Default::default() };
    let h = model.fit_with_callbacks(&x, &y, opts, &mut [&mut names]).unwrap();
    assert_eq!(names.0.len(), 4);
    assert_eq!(names.0[3], ["loss", "accuracy", "precision", "recall", "f1"]);
    assert!(h.last("auc").is_some());
}
