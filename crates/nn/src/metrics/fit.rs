//! The [`Metric`] trait and the built-in metrics `fit` and `evaluate` can report.

use super::{roc_auc, top_k_accuracy, Average, ConfusionMatrix};
use crate::data::labels_from_tensor;
use crate::error::NnError;
use crate::losses::TargetKind;
use autograd::{Float, Tensor};

/// What `fit` and `evaluate` tell a metric before its first update, from the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricSetup {
    /// The kind of targets the loss takes (decides what [`Accuracy`] means).
    pub target: TargetKind,
    /// Whether the model's outputs are logits (a `from_logits` loss): binary decisions
    /// threshold at 0 instead of 0.5, and multi-class scores go through softmax before they
    /// are ranked.
    pub logits: bool,
}

impl Default for MetricSetup {
    fn default() -> Self {
        MetricSetup { target: TargetKind::Dense, logits: false }
    }
}

/// A metric reported by `fit` (per epoch, in the progress bar and the
/// [`History`](crate::History)) and by `evaluate`: Keras' stateful metric. The training loop
/// calls [`reset`](Metric::reset) at the start of each epoch (and of each evaluation),
/// [`update`](Metric::update) with every batch's outputs and targets, and reads
/// [`results`](Metric::results). So a metric over the whole epoch (precision, AUC) is exact,
/// not an average of per-batch values.
///
/// `y_pred` is what the model outputs (probabilities when it ends in softmax or sigmoid, even
/// when the loss was computed from the logits); `y_true` are the targets as given to `fit`.
///
/// ```
/// use nn::metrics::Metric;
/// use nn::{NnError, Tensor};
///
/// /// The largest absolute error seen.
/// #[derive(Default)]
/// struct MaxError(f64);
/// impl Metric<f32> for MaxError {
///     fn name(&self) -> String { "max_error".into() }
///     fn reset(&mut self) { self.0 = 0.0 }
///     fn update(&mut self, y_pred: &Tensor<f32>, y_true: &Tensor<f32>) -> Result<(), NnError> {
///         let worst = y_pred.data().iter().zip(y_true.data()).map(|(p, t)| (p - t).abs() as f64).fold(0.0, f64::max);
///         self.0 = self.0.max(worst);
///         Ok(())
///     }
///     fn result(&self) -> f64 { self.0 }
/// }
/// let mut m = MaxError::default();
/// m.update(&Tensor::from_vec(vec![1.0, 2.0], [2, 1])?, &Tensor::from_vec(vec![1.5, 0.0], [2, 1])?)?;
/// assert_eq!(m.result(), 2.0);
/// # Ok::<(), NnError>(())
/// ```
pub trait Metric<T: Float>: Send {
    /// The name in logs (`val_` is prefixed for validation).
    fn name(&self) -> String;

    /// Called by `fit` and `evaluate` before the first update, with what the loss implies.
    /// The default ignores it.
    fn prepare(&mut self, _setup: &MetricSetup) {}

    /// Forgets everything accumulated.
    fn reset(&mut self);

    /// Accumulates one batch.
    ///
    /// # Errors
    /// Outputs or targets this metric cannot use (wrong shape, a label out of range, ...),
    /// naming the metric.
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError>;

    /// The value over everything accumulated since the last reset.
    fn result(&self) -> f64;

    /// The values to log: `(name, result)` by default. A metric with several values (the
    /// cells of a confusion matrix) returns them all.
    fn results(&self) -> Vec<(String, f64)> {
        vec![(self.name(), self.result())]
    }

    /// Whether [`results`](Metric::results) is cheap enough to be given to callbacks after
    /// every batch (`Callback::on_batch_end`); default `true`. A metric whose result costs
    /// time in what it has accumulated (an exact AUC sorts every score of the epoch) says
    /// `false` and is reported at the end of each epoch and in the progress bar only.
    fn per_batch(&self) -> bool {
        true
    }
}

impl<T: Float, M: Metric<T> + ?Sized> Metric<T> for Box<M> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn prepare(&mut self, setup: &MetricSetup) {
        (**self).prepare(setup)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        (**self).update(y_pred, y_true)
    }
    fn result(&self) -> f64 {
        (**self).result()
    }
    fn results(&self) -> Vec<(String, f64)> {
        (**self).results()
    }
    fn per_batch(&self) -> bool {
        (**self).per_batch()
    }
}

/// `(rows, columns)` of a prediction tensor: `[n, k]` (or `[n, ..., k]`) gives `(n·.., k)`,
/// `[n]` gives `(n, 1)`.
fn rows_cols<T: Float>(y_pred: &Tensor<T>) -> (usize, usize) {
    match y_pred.ndim() {
        0 => (1, 1),
        1 => (y_pred.numel(), 1),
        _ => {
            let k = *y_pred.shape().last().expect("ndim >= 2");
            (y_pred.numel() / k.max(1), k)
        }
    }
}

fn err(metric: &str, e: NnError) -> NnError {
    match e {
        NnError::Data(m) => NnError::data(format!("{metric}: {m}")),
        e => e,
    }
}

/// The true class of each of the `n` rows: integer labels (`[n]`/`[n, 1]`), the arg-max of
/// one-hot rows (`[n, k]`), or for one output column, binary targets that must be 0 or 1.
fn true_classes<T: Float>(metric: &str, y_true: &Tensor<T>, n: usize, k: usize) -> Result<Vec<usize>, NnError> {
    if k == 1 {
        if y_true.numel() != n {
            return Err(NnError::shape(format!("{metric}: targets"), &[n, 1], y_true.shape()));
        }
        return y_true
            .data()
            .iter()
            .enumerate()
            .map(|(i, &t)| match t.to_f64() {
                1.0 => Ok(1),
                0.0 => Ok(0),
                v => Err(NnError::data(format!("{metric}: target {v} of sample {i} is not 0 or 1"))),
            })
            .collect();
    }
    if y_true.numel() == n {
        labels_from_tensor(&y_true.reshape([n]), k).map_err(|e| err(metric, e))
    } else if y_true.numel() == n * k {
        Ok(y_true.reshape([n, k]).argmax(-1).0)
    } else {
        Err(NnError::shape(format!("{metric}: targets (labels [n] or one-hot [n, {k}])"), &[n, k], y_true.shape()))
    }
}

/// The predicted class of each row: arg-max, or for one column, the score above the threshold.
fn predicted_classes<T: Float>(y_pred: &Tensor<T>, n: usize, k: usize, threshold: f64) -> Vec<usize> {
    if k == 1 {
        y_pred.data().iter().map(|&p| usize::from(p.to_f64() > threshold)).collect()
    } else if n == 0 {
        Vec::new()
    } else {
        y_pred.reshape([n, k]).argmax(-1).0
    }
}

fn threshold(setup: &MetricSetup) -> f64 {
    if setup.logits {
        0.0
    } else {
        0.5
    }
}

/// A running mean weighted by counts.
#[derive(Clone, Copy, Debug, Default)]
struct Mean {
    sum: f64,
    count: f64,
}

impl Mean {
    fn add(&mut self, sum: f64, count: f64) {
        self.sum += sum;
        self.count += count;
    }
    fn value(&self) -> f64 {
        if self.count == 0.0 {
            f64::NAN
        } else {
            self.sum / self.count
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AccuracyKind {
    Binary,
    Categorical,
    Sparse,
}

fn accuracy_update<T: Float>(
    metric: &str,
    kind: AccuracyKind,
    thr: f64,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
) -> Result<(f64, f64), NnError> {
    let (n, k) = rows_cols(y_pred);
    match kind {
        AccuracyKind::Binary => {
            let t = crate::losses::dense_target(metric, y_pred.shape(), y_true)?;
            let hits =
                y_pred.data().iter().zip(t.data()).filter(|(&p, &t)| (p.to_f64() > thr) == (t.to_f64() > 0.5)).count();
            Ok((hits as f64, y_pred.numel() as f64))
        }
        AccuracyKind::Categorical | AccuracyKind::Sparse => {
            let truth = if kind == AccuracyKind::Sparse {
                if y_true.numel() != n {
                    return Err(NnError::shape(format!("{metric}: labels"), &[n], y_true.shape()));
                }
                labels_from_tensor(&y_true.reshape([n]), k.max(1)).map_err(|e| err(metric, e))?
            } else {
                if y_true.numel() != n * k {
                    return Err(NnError::shape(format!("{metric}: one-hot targets"), &[n, k], y_true.shape()));
                }
                predicted_classes(&y_true.reshape([n, k]), n, k, 0.5)
            };
            let pred = predicted_classes(y_pred, n, k, thr);
            let hits = pred.iter().zip(&truth).filter(|(a, b)| a == b).count();
            Ok((hits as f64, n as f64))
        }
    }
}

/// Accuracy of the kind the loss implies, as Keras' `"accuracy"`: sparse categorical for
/// sparse losses, categorical for categorical ones, binary for binary cross-entropy; for other
/// losses, binary if the output has one column and categorical otherwise. Logged as `accuracy`.
#[derive(Clone, Debug, Default)]
pub struct Accuracy {
    setup: MetricSetup,
    mean: Mean,
}

impl Accuracy {
    /// The metric.
    pub fn new() -> Self {
        Self::default()
    }

    fn kind(&self, k: usize) -> AccuracyKind {
        match self.setup.target {
            TargetKind::Sparse => AccuracyKind::Sparse,
            TargetKind::OneHot => AccuracyKind::Categorical,
            TargetKind::Binary => AccuracyKind::Binary,
            TargetKind::Dense if k == 1 => AccuracyKind::Binary,
            TargetKind::Dense => AccuracyKind::Categorical,
        }
    }
}

impl<T: Float> Metric<T> for Accuracy {
    fn name(&self) -> String {
        "accuracy".into()
    }
    fn prepare(&mut self, setup: &MetricSetup) {
        self.setup = *setup;
    }
    fn reset(&mut self) {
        self.mean = Mean::default();
    }
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        let kind = self.kind(rows_cols(y_pred).1);
        let (s, c) = accuracy_update("accuracy", kind, threshold(&self.setup), y_pred, y_true)?;
        self.mean.add(s, c);
        Ok(())
    }
    fn result(&self) -> f64 {
        self.mean.value()
    }
}

/// Fraction of elements with `(pred > threshold) == (target > 0.5)`; the threshold is 0.5 on
/// probabilities and 0 on logits unless set. Logged as `binary_accuracy`.
#[derive(Clone, Debug, Default)]
pub struct BinaryAccuracy {
    /// The decision threshold; `None`: 0.5, or 0 when the outputs are logits.
    pub threshold: Option<f64>,
    setup: MetricSetup,
    mean: Mean,
}

impl BinaryAccuracy {
    /// The metric with the default threshold.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: Float> Metric<T> for BinaryAccuracy {
    fn name(&self) -> String {
        "binary_accuracy".into()
    }
    fn prepare(&mut self, setup: &MetricSetup) {
        self.setup = *setup;
    }
    fn reset(&mut self) {
        self.mean = Mean::default();
    }
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        let thr = self.threshold.unwrap_or_else(|| threshold(&self.setup));
        let (s, c) = accuracy_update("binary_accuracy", AccuracyKind::Binary, thr, y_pred, y_true)?;
        self.mean.add(s, c);
        Ok(())
    }
    fn result(&self) -> f64 {
        self.mean.value()
    }
}

/// A metric that is the mean of per-batch `(sum, count)` pairs, from
/// `|y_pred, y_true| -> Result<(sum, count), NnError>`.
macro_rules! mean_metric {
    ($(#[$doc:meta])* $Name:ident, $name:literal, $update:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        pub struct $Name {
            mean: Mean,
        }

        impl $Name {
            /// The metric.
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl<T: Float> Metric<T> for $Name {
            fn name(&self) -> String {
                $name.into()
            }
            fn reset(&mut self) {
                self.mean = Mean::default();
            }
            fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
                let (s, c) = $update(y_pred, y_true)?;
                self.mean.add(s, c);
                Ok(())
            }
            fn result(&self) -> f64 {
                self.mean.value()
            }
        }
    };
}

mean_metric!(
    /// Fraction of rows whose arg-max matches the one-hot target's. Logged as `categorical_accuracy`.
    CategoricalAccuracy,
    "categorical_accuracy",
    |p, t| accuracy_update("categorical_accuracy", AccuracyKind::Categorical, 0.5, p, t)
);
mean_metric!(
    /// Fraction of rows whose arg-max equals the integer label. Logged as `sparse_categorical_accuracy`.
    SparseCategoricalAccuracy,
    "sparse_categorical_accuracy",
    |p, t| accuracy_update("sparse_categorical_accuracy", AccuracyKind::Sparse, 0.5, p, t)
);

/// Fraction of rows whose true class (integer label or one-hot row) is among the `k` highest
/// scores (see [`top_k_accuracy`]). Logged as `top_{k}_accuracy`.
#[derive(Clone, Debug)]
pub struct TopKAccuracy {
    k: usize,
    mean: Mean,
}

impl TopKAccuracy {
    /// Top-`k` accuracy (Keras' default is 5).
    pub fn new(k: usize) -> Self {
        TopKAccuracy { k, mean: Mean::default() }
    }
}

impl<T: Float> Metric<T> for TopKAccuracy {
    fn name(&self) -> String {
        format!("top_{}_accuracy", self.k)
    }
    fn reset(&mut self) {
        self.mean = Mean::default();
    }
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        let name = <Self as Metric<T>>::name(self);
        let (n, k) = rows_cols(y_pred);
        if n == 0 {
            return Ok(());
        }
        let labels = true_classes(&name, y_true, n, k)?;
        let acc = top_k_accuracy(y_pred.data(), &labels, k, self.k)?;
        self.mean.add(acc * n as f64, n as f64);
        Ok(())
    }
    fn result(&self) -> f64 {
        self.mean.value()
    }
}

/// `(sum of f(pred - target), count)` over the elements; integer labels against `[n, classes]`
/// outputs are compared with their one-hot encoding (for probabilities, the MSE is then the
/// Brier score).
fn error_sums<T: Float>(
    metric: &str,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
    f: impl Fn(f64) -> f64,
) -> Result<(f64, f64), NnError> {
    let (n, k) = rows_cols(y_pred);
    let y = if k > 1 && y_true.numel() == n {
        let labels = labels_from_tensor(&y_true.reshape([n]), k).map_err(|e| err(metric, e))?;
        Tensor::try_one_hot(&labels, k)?.reshape(y_pred.shape())
    } else {
        crate::losses::dense_target(metric, y_pred.shape(), y_true)?
    };
    let s: f64 = y_pred.data().iter().zip(y.data()).map(|(&p, &t)| f(p.to_f64() - t.to_f64())).sum();
    Ok((s, y_pred.numel() as f64))
}

mean_metric!(
    /// Mean absolute error of the outputs. Logged as `mae`.
    MeanAbsoluteError,
    "mae",
    |p, t| error_sums("mae", p, t, f64::abs)
);
mean_metric!(
    /// Mean squared error of the outputs. Logged as `mse`.
    MeanSquaredError,
    "mse",
    |p, t| error_sums("mse", p, t, |d| d * d)
);

/// A confusion matrix accumulated over the epoch: the predicted class is the arg-max (or, for
/// one output column, the score above 0.5, or 0 for logits), the true class the label, the
/// one-hot row's arg-max, or the 0/1 target.
#[derive(Clone, Debug, Default)]
struct Counts {
    setup: MetricSetup,
    cm: Option<ConfusionMatrix>,
}

impl Counts {
    fn update<T: Float>(&mut self, metric: &str, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        let (n, k) = rows_cols(y_pred);
        let truth = true_classes(metric, y_true, n, k)?;
        let pred = predicted_classes(y_pred, n, k, threshold(&self.setup));
        let classes = k.max(2);
        let cm = match &mut self.cm {
            Some(cm) if cm.n_classes() == classes => cm,
            Some(cm) => {
                return Err(NnError::data(format!(
                    "{metric}: outputs with {classes} classes after {} in the same epoch",
                    cm.n_classes()
                )))
            }
            None => self.cm.insert(ConfusionMatrix::new(classes)?),
        };
        cm.update(&truth, &pred)?;
        Ok(())
    }
    fn reset(&mut self) {
        self.cm = None;
    }
}

macro_rules! averaged {
    ($(#[$doc:meta])* $Name:ident, $base:literal, $method:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        pub struct $Name {
            average: Option<Average>,
            counts: Counts,
        }

        impl $Name {
            /// The binary score (class 1) for models with one output column, the macro average
            /// over classes otherwise. Logged under the base name.
            pub fn new() -> Self {
                Self::default()
            }

            /// Combined over classes by `average` ([`Average::Macro`], [`Average::Micro`],
            /// ...). Logged as the base name, `_`, the average: `_macro`, `_micro`, ...
            pub fn average(average: Average) -> Self {
                $Name { average: Some(average), counts: Counts::default() }
            }
        }

        impl<T: Float> Metric<T> for $Name {
            fn name(&self) -> String {
                match self.average {
                    None => $base.into(),
                    Some(a) => format!("{}_{}", $base, format!("{a:?}").to_lowercase()),
                }
            }
            fn prepare(&mut self, setup: &MetricSetup) {
                self.counts.setup = *setup;
            }
            fn reset(&mut self) {
                self.counts.reset();
            }
            fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
                let name = <Self as Metric<T>>::name(self);
                self.counts.update(&name, y_pred, y_true)
            }
            fn result(&self) -> f64 {
                match &self.counts.cm {
                    None => f64::NAN,
                    Some(cm) => {
                        let avg = self.average.unwrap_or(if cm.n_classes() == 2 { Average::Binary } else { Average::Macro });
                        cm.$method(avg)
                    }
                }
            }
        }
    };
}

averaged!(
    /// Precision over the epoch (true positives over predicted positives; 0 when nothing is
    /// predicted, scikit-learn's `zero_division=0`). Logged as `precision`.
    Precision,
    "precision",
    precision_avg
);
averaged!(
    /// Recall over the epoch (true positives over actual positives). Logged as `recall`.
    Recall,
    "recall",
    recall_avg
);
averaged!(
    /// F1 score over the epoch (per class `2 tp / (2 tp + fp + fn)`, then averaged). Logged as `f1`.
    F1Score,
    "f1",
    f1_avg
);

/// The confusion matrix over the epoch, logged cell by cell as
/// `confusion_matrix_{true}_{predicted}` (so it appears in the progress bar and the
/// [`History`](crate::History)); [`result`](Metric::result) is the accuracy. After `evaluate`,
/// [`matrix`](Self::matrix) gives the whole matrix.
#[derive(Clone, Debug, Default)]
pub struct ConfusionMatrixMetric {
    counts: Counts,
}

impl ConfusionMatrixMetric {
    /// The metric.
    pub fn new() -> Self {
        Self::default()
    }

    /// The matrix accumulated since the last reset.
    pub fn matrix(&self) -> Option<&ConfusionMatrix> {
        self.counts.cm.as_ref()
    }
}

impl<T: Float> Metric<T> for ConfusionMatrixMetric {
    fn name(&self) -> String {
        "confusion_matrix".into()
    }
    fn prepare(&mut self, setup: &MetricSetup) {
        self.counts.setup = *setup;
    }
    fn reset(&mut self) {
        self.counts.reset();
    }
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        self.counts.update("confusion_matrix", y_pred, y_true)
    }
    fn result(&self) -> f64 {
        self.counts.cm.as_ref().and_then(|cm| cm.accuracy().ok()).unwrap_or(f64::NAN)
    }
    fn results(&self) -> Vec<(String, f64)> {
        let Some(cm) = &self.counts.cm else { return Vec::new() };
        let k = cm.n_classes();
        (0..k * k).map(|i| (format!("confusion_matrix_{}_{}", i / k, i % k), cm.counts()[i] as f64)).collect()
    }
}

/// Area under the ROC curve over the epoch: for one output column, of the scores against the
/// 0/1 targets ([`roc_auc`]); for several classes, one-vs-rest, the mean over the classes of
/// each class's AUC (scikit-learn's `multi_class="ovr", average="macro"`), with logits put
/// through softmax first. A class that is absent (or the only one present) in the epoch's
/// targets has no AUC and is left out of the mean; with no class left the result is NaN.
/// Logged as `auc`.
#[derive(Clone, Debug, Default)]
pub struct Auc {
    setup: MetricSetup,
    k: usize,
    scores: Vec<f64>,
    labels: Vec<usize>,
}

impl Auc {
    /// The metric.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: Float> Metric<T> for Auc {
    fn name(&self) -> String {
        "auc".into()
    }
    fn per_batch(&self) -> bool {
        false
    }
    fn prepare(&mut self, setup: &MetricSetup) {
        self.setup = *setup;
    }
    fn reset(&mut self) {
        self.scores.clear();
        self.labels.clear();
        self.k = 0;
    }
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        let (n, k) = rows_cols(y_pred);
        if self.k != 0 && self.k != k {
            return Err(NnError::data(format!("auc: outputs with {k} columns after {} in the same epoch", self.k)));
        }
        self.k = k;
        self.labels.extend(true_classes("auc", y_true, n, k)?);
        let probs = if k > 1 && self.setup.logits { y_pred.reshape([n, k]).softmax(-1) } else { y_pred.clone() };
        self.scores.extend(probs.data().iter().map(|v| v.to_f64()));
        Ok(())
    }
    fn result(&self) -> f64 {
        let k = self.k;
        if k <= 1 {
            let t: Vec<f64> = self.labels.iter().map(|&l| l as f64).collect();
            return roc_auc(&self.scores, &t).unwrap_or(f64::NAN);
        }
        let aucs: Vec<f64> = (0..k)
            .filter_map(|c| {
                let col: Vec<f64> = self.scores.chunks_exact(k).map(|r| r[c]).collect();
                let is_c: Vec<f64> = self.labels.iter().map(|&l| f64::from(u8::from(l == c))).collect();
                roc_auc(&col, &is_c).ok()
            })
            .collect();
        if aucs.is_empty() {
            f64::NAN
        } else {
            aucs.iter().sum::<f64>() / aucs.len() as f64
        }
    }
}

/// A metric from a closure `|y_pred, y_true| -> f64` giving one batch's mean value; the epoch's
/// value is the mean weighted by batch size (Keras' `MeanMetricWrapper`).
///
/// ```
/// use nn::metrics::{MeanMetric, Metric};
/// use nn::Tensor;
/// let mut m = MeanMetric::new("mean_output", |p: &Tensor<f32>, _t: &Tensor<f32>| p.mean_all() as f64);
/// m.update(&Tensor::from_vec(vec![1.0, 3.0], [2, 1])?, &Tensor::zeros([2, 1]))?;
/// assert_eq!(m.result(), 2.0);
/// # Ok::<(), nn::NnError>(())
/// ```
pub struct MeanMetric<F> {
    name: String,
    f: F,
    mean: Mean,
}

impl<F> MeanMetric<F> {
    /// A metric named `name` computed by `f`.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        MeanMetric { name: name.into(), f, mean: Mean::default() }
    }
}

impl<T: Float, F: Fn(&Tensor<T>, &Tensor<T>) -> f64 + Send> Metric<T> for MeanMetric<F> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn reset(&mut self) {
        self.mean = Mean::default();
    }
    fn update(&mut self, y_pred: &Tensor<T>, y_true: &Tensor<T>) -> Result<(), NnError> {
        let n = rows_cols(y_pred).0 as f64;
        self.mean.add((self.f)(y_pred, y_true) * n, n);
        Ok(())
    }
    fn result(&self) -> f64 {
        self.mean.value()
    }
}
