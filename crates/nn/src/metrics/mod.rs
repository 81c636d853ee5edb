//! Metrics, in one place: the [`Metric`] trait that `fit` and `evaluate` report (Keras'
//! stateful metrics: accumulated over an epoch, shown in the progress bar and recorded in the
//! [`History`](crate::History)), one struct per built-in metric, and the same metrics as plain
//! functions of slices for use after the fact.
//!
//! | fit metric | logged as | function |
//! |---|---|---|
//! | [`Accuracy`] (the kind the loss implies) | `accuracy` | [`binary_accuracy`], [`categorical_accuracy`], [`sparse_categorical_accuracy`] |
//! | [`BinaryAccuracy`], [`CategoricalAccuracy`], [`SparseCategoricalAccuracy`] | `binary_accuracy`, ... | the same |
//! | [`TopKAccuracy`] | `top_5_accuracy` | [`top_k_accuracy`] |
//! | [`Precision`], [`Recall`], [`F1Score`] ([`Average`]: binary, macro, micro, weighted) | `precision`, `recall_macro`, `f1_micro`, ... | [`ConfusionMatrix::precision`], [`precision`], [`recall`], [`f1_score`], [`macro_f1`] |
//! | [`Auc`] (binary, or one-vs-rest for several classes) | `auc` | [`roc_auc`], [`roc_auc_ovr`] |
//! | [`ConfusionMatrixMetric`] | `confusion_matrix_{true}_{pred}` (one value per cell) | [`confusion_matrix`] |
//! | [`MeanAbsoluteError`], [`MeanSquaredError`] | `mae`, `mse` | |
//! | [`MeanMetric`] (your closure) or your own [`Metric`] | its name | |
//!
//! The functions take row-major slices; nothing needs a tape or a [`Var`](autograd::Var).
//! Pass `tensor.data()` of a prediction or target tensor.
//!
//! # Conventions
//!
//! * Predictions and one-hot targets of `n` samples and `k` classes are row-major slices of
//!   length `n * k` (sample `i` is `[i * k, (i + 1) * k)`), together with `n_classes = k`.
//! * Integer labels are `usize` in `0..n_classes`.
//! * Binary targets are `0.0` or `1.0` exactly (as stored in a float target tensor); anything
//!   else is an error.
//! * `argmax` is [`Tensor::argmax`](autograd::Tensor::argmax), the workspace's one arg-max:
//!   the first maximum on ties, and a NaN counts as the largest value (as in NumPy and PyTorch).
//! * Definitions follow scikit-learn: the confusion matrix has the true class in rows and the
//!   predicted class in columns; a precision, recall or F1 whose denominator is zero is `0.0`
//!   (scikit-learn's `zero_division=0`); the macro average is the unweighted mean over *all*
//!   `n_classes` classes, including classes with no samples.
//! * Misuse (mismatched lengths, out-of-range labels, ...) and undefined results (accuracy of
//!   no samples, ROC AUC with a single class) return a [`MetricError`]; nothing here panics on
//!   bad input.
//!
//! # Example
//!
//! ```
//! use nn::metrics::{classification_report, roc_auc, sparse_categorical_accuracy};
//!
//! // 3 samples, 2 classes: argmax is [1, 0, 1].
//! let probs = [0.2_f32, 0.8, 0.6, 0.4, 0.3, 0.7];
//! let labels = [1, 0, 0];
//! assert!((sparse_categorical_accuracy(&probs, &labels, 2)? - 2.0 / 3.0).abs() < 1e-12);
//!
//! let auc = roc_auc(&[0.1_f64, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0])?;
//! assert!((auc - 0.75).abs() < 1e-12);
//!
//! let report = classification_report(&[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1], 3)?;
//! println!("{report}"); // a scikit-learn style table
//! # Ok::<(), nn::metrics::MetricError>(())
//! ```

mod fit;

pub use fit::{
    Accuracy, Auc, BinaryAccuracy, CategoricalAccuracy, ConfusionMatrixMetric, F1Score, MeanAbsoluteError, MeanMetric,
    MeanSquaredError, Metric, MetricSetup, Precision, Recall, SparseCategoricalAccuracy, TopKAccuracy,
};

use autograd::{Float, Tensor};
use std::fmt;

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetricError {
    /// Two inputs that must describe the same samples have different lengths.
    LengthMismatch {
        /// The metric that failed.
        metric: &'static str,
        /// What the lengths are of, e.g. `"predictions and targets"`.
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// `n_classes` is zero.
    ZeroClasses {
        /// The metric that failed.
        metric: &'static str,
    },
    /// A row-major prediction slice is not a whole number of rows of `n_classes`.
    RaggedRows {
        /// The metric that failed.
        metric: &'static str,
        /// Slice length.
        len: usize,
        /// Row length (number of classes).
        n_classes: usize,
    },
    /// An integer label is not in `0..n_classes`.
    LabelOutOfRange {
        /// The metric that failed.
        metric: &'static str,
        /// Sample index of the bad label.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A binary target is neither `0` nor `1`.
    InvalidBinaryTarget {
        /// The metric that failed.
        metric: &'static str,
        /// Sample index of the bad target.
        index: usize,
        /// The target value.
        value: f64,
    },
    /// A score is NaN (ROC AUC cannot rank it).
    NanScore {
        /// The metric that failed.
        metric: &'static str,
        /// Sample index of the NaN.
        index: usize,
    },
    /// There are no samples, so the metric is 0/0.
    Empty {
        /// The metric that failed.
        metric: &'static str,
    },
    /// ROC AUC is undefined because every target belongs to the same class.
    SingleClass {
        /// The metric that failed.
        metric: &'static str,
        /// The only class present (`0` or `1`).
        class: u8,
        /// Number of samples.
        n: usize,
    },
    /// Top-k accuracy with `k = 0`.
    ZeroK {
        /// The metric that failed.
        metric: &'static str,
    },
    /// The number of class names differs from the number of classes.
    ClassNames {
        /// Number of names given.
        names: usize,
        /// Number of classes.
        n_classes: usize,
    },
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricError::LengthMismatch { metric, what, left, right } => {
                write!(f, "{metric}: {what} have different lengths ({left} and {right})")
            }
            MetricError::ZeroClasses { metric } => write!(f, "{metric}: n_classes must be at least 1"),
            MetricError::RaggedRows { metric, len, n_classes } => {
                write!(f, "{metric}: {len} values are not a whole number of rows of {n_classes} classes")
            }
            MetricError::LabelOutOfRange { metric, index, label, n_classes } => {
                write!(f, "{metric}: label {label} of sample {index} is out of range for {n_classes} classes")
            }
            MetricError::InvalidBinaryTarget { metric, index, value } => {
                write!(f, "{metric}: target {value} of sample {index} is not 0 or 1")
            }
            MetricError::NanScore { metric, index } => write!(f, "{metric}: score of sample {index} is NaN"),
            MetricError::Empty { metric } => write!(f, "{metric}: no samples"),
            MetricError::SingleClass { metric, class, n } => {
                write!(f, "{metric}: undefined when only one class is present (all {n} targets are {class})")
            }
            MetricError::ZeroK { metric } => write!(f, "{metric}: k must be at least 1"),
            MetricError::ClassNames { names, n_classes } => {
                write!(f, "classification report: {names} class names given for {n_classes} classes")
            }
        }
    }
}

impl std::error::Error for MetricError {}

/// Shorthand for `Result<T, MetricError>`.
pub type Result<T> = std::result::Result<T, MetricError>;

fn check_len(metric: &'static str, what: &'static str, left: usize, right: usize) -> Result<()> {
    if left != right {
        return Err(MetricError::LengthMismatch { metric, what, left, right });
    }
    Ok(())
}

fn check_rows(metric: &'static str, len: usize, n_classes: usize) -> Result<usize> {
    if n_classes == 0 {
        return Err(MetricError::ZeroClasses { metric });
    }
    if !len.is_multiple_of(n_classes) {
        return Err(MetricError::RaggedRows { metric, len, n_classes });
    }
    Ok(len / n_classes)
}

fn check_labels(metric: &'static str, labels: &[usize], n_classes: usize) -> Result<()> {
    if n_classes == 0 {
        return Err(MetricError::ZeroClasses { metric });
    }
    match labels.iter().position(|&l| l >= n_classes) {
        Some(index) => Err(MetricError::LabelOutOfRange { metric, index, label: labels[index], n_classes }),
        None => Ok(()),
    }
}

/// Reads binary targets as `bool`, rejecting anything but exactly `0` or `1`.
fn binary_targets<T: Float>(metric: &'static str, targets: &[T]) -> Result<Vec<bool>> {
    targets
        .iter()
        .enumerate()
        .map(|(index, &t)| {
            if t == T::ONE {
                Ok(true)
            } else if t == T::ZERO {
                Ok(false)
            } else {
                Err(MetricError::InvalidBinaryTarget { metric, index, value: t.to_f64() })
            }
        })
        .collect()
}

/// The index of the largest value of each row of a row-major `[n, n_classes]` slice.
///
/// Ties go to the first maximum and a NaN counts as the largest value (as in NumPy and
/// PyTorch): this is [`Tensor::argmax`] over the rows.
///
/// # Errors
/// [`MetricError::ZeroClasses`] or [`MetricError::RaggedRows`] when `values.len()` is not a
/// multiple of `n_classes`.
///
/// ```
/// let idx = nn::metrics::argmax_rows(&[0.1_f32, 0.7, 0.2, 0.5, 0.5, 0.0], 3)?;
/// assert_eq!(idx, vec![1, 0]);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
pub fn argmax_rows<T: Float>(values: &[T], n_classes: usize) -> Result<Vec<usize>> {
    let n = check_rows("argmax_rows", values.len(), n_classes)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let t = Tensor::from_vec(values.to_vec(), [n, n_classes]).expect("n rows of n_classes values");
    Ok(t.argmax(-1).0)
}

fn fraction(metric: &'static str, hits: usize, n: usize) -> Result<f64> {
    if n == 0 {
        return Err(MetricError::Empty { metric });
    }
    Ok(hits as f64 / n as f64)
}

/// Binary accuracy: the fraction of samples whose probability, thresholded at 0.5, equals the
/// `0`/`1` target.
///
/// A probability strictly greater than `0.5` predicts `1` (the Keras convention); exactly
/// `0.5` and NaN predict `0`. Pass probabilities, not logits (for logits, a logit `> 0`
/// corresponds to a probability `> 0.5`).
///
/// # Errors
/// Different lengths, a target other than `0`/`1`, or no samples.
///
/// ```
/// // predictions 1, 0, 0, 1 vs targets 1, 1, 0, 0: two of four right.
/// let acc = nn::metrics::binary_accuracy(&[0.9_f32, 0.2, 0.5, 0.6], &[1.0, 1.0, 0.0, 0.0])?;
/// assert_eq!(acc, 0.5);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
pub fn binary_accuracy<T: Float>(probabilities: &[T], targets: &[T]) -> Result<f64> {
    const M: &str = "binary_accuracy";
    check_len(M, "predictions and targets", probabilities.len(), targets.len())?;
    let targets = binary_targets(M, targets)?;
    let half = T::from_f64(0.5);
    let hits = probabilities.iter().zip(&targets).filter(|&(&p, &t)| (p > half) == t).count();
    fraction(M, hits, targets.len())
}

/// Categorical accuracy: the fraction of rows where the argmax of the predictions equals the
/// argmax of the (one-hot) targets.
///
/// `predictions` and `targets` are row-major `[n, n_classes]` slices; argmax ties go to the
/// first maximum.
///
/// # Errors
/// `n_classes == 0`, a length that is not a multiple of `n_classes`, different lengths, or no
/// samples.
///
/// ```
/// let preds = [0.1_f64, 0.9, 0.8, 0.2];
/// let onehot = [0.0, 1.0, 0.0, 1.0];
/// assert_eq!(nn::metrics::categorical_accuracy(&preds, &onehot, 2)?, 0.5);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
pub fn categorical_accuracy<T: Float>(predictions: &[T], targets: &[T], n_classes: usize) -> Result<f64> {
    const M: &str = "categorical_accuracy";
    check_len(M, "predictions and targets", predictions.len(), targets.len())?;
    let n = check_rows(M, predictions.len(), n_classes)?;
    let (p, t) = (argmax_rows(predictions, n_classes)?, argmax_rows(targets, n_classes)?);
    let hits = p.iter().zip(&t).filter(|(a, b)| a == b).count();
    fraction(M, hits, n)
}

/// Sparse categorical accuracy: the fraction of rows where the argmax of the predictions
/// equals the integer label.
///
/// `predictions` is a row-major `[n, n_classes]` slice and `labels` has `n` entries in
/// `0..n_classes`.
///
/// # Errors
/// `n_classes == 0`, a length that is not a multiple of `n_classes`, a label count other
/// than `n`, a label out of range, or no samples.
///
/// ```
/// let preds = [0.1_f32, 0.9, 0.8, 0.2];
/// assert_eq!(nn::metrics::sparse_categorical_accuracy(&preds, &[1, 1], 2)?, 0.5);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
pub fn sparse_categorical_accuracy<T: Float>(predictions: &[T], labels: &[usize], n_classes: usize) -> Result<f64> {
    const M: &str = "sparse_categorical_accuracy";
    let n = check_rows(M, predictions.len(), n_classes)?;
    check_len(M, "prediction rows and labels", n, labels.len())?;
    check_labels(M, labels, n_classes)?;
    let hits = argmax_rows(predictions, n_classes)?.iter().zip(labels).filter(|(p, l)| p == l).count();
    fraction(M, hits, n)
}

/// Top-`k` accuracy: the fraction of rows whose true label is among the `k` highest scores.
/// A label counts as in the top `k` when fewer than `k` classes score strictly higher (so
/// ties at the boundary count as hits, as TensorFlow's `in_top_k`); a NaN score of the true
/// class is a miss. `k >= n_classes` gives 1.
///
/// # Errors
/// As [`sparse_categorical_accuracy`], and `k == 0`.
///
/// ```
/// // Row 0 ranks label 2 second, row 1 ranks label 0 third.
/// let scores = [0.1_f32, 0.6, 0.3, 0.2, 0.5, 0.3];
/// assert_eq!(nn::metrics::top_k_accuracy(&scores, &[2, 0], 3, 2)?, 0.5);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
pub fn top_k_accuracy<T: Float>(predictions: &[T], labels: &[usize], n_classes: usize, k: usize) -> Result<f64> {
    const M: &str = "top_k_accuracy";
    let n = check_rows(M, predictions.len(), n_classes)?;
    check_len(M, "prediction rows and labels", n, labels.len())?;
    check_labels(M, labels, n_classes)?;
    if k == 0 {
        return Err(MetricError::ZeroK { metric: M });
    }
    let hits = predictions
        .chunks_exact(n_classes)
        .zip(labels)
        .filter(|(row, &l)| !row[l].is_nan() && row.iter().filter(|&&v| v > row[l]).count() < k)
        .count();
    fraction(M, hits, n)
}

/// Accuracy of integer predictions against integer labels: the fraction that are equal.
///
/// # Errors
/// Different lengths or no samples.
pub fn label_accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    const M: &str = "label_accuracy";
    check_len(M, "y_true and y_pred", y_true.len(), y_pred.len())?;
    let hits = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
    fraction(M, hits, y_true.len())
}

/// `num / den`, or `0.0` when `den == 0` (scikit-learn's `zero_division=0`).
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// A confusion matrix of counts: rows are the true class, columns the predicted class (as
/// scikit-learn's `confusion_matrix`).
///
/// Build it at once with [`confusion_matrix`] or accumulate batch by batch with
/// [`ConfusionMatrix::update`]; the per-class scores come from its counts. Every ratio whose
/// denominator is zero is defined as `0.0` (scikit-learn's `zero_division=0`).
///
/// ```
/// use nn::metrics::confusion_matrix;
/// let cm = confusion_matrix(&[0, 1, 1], &[0, 0, 1], 2)?;
/// assert_eq!(cm.to_rows(), vec![vec![1, 0], vec![1, 1]]);
/// assert_eq!(cm.precision(), vec![0.5, 1.0]);
/// assert_eq!(cm.recall(), vec![1.0, 0.5]);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    n_classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An all-zero `n_classes x n_classes` matrix.
    ///
    /// # Errors
    /// [`MetricError::ZeroClasses`] when `n_classes == 0`.
    pub fn new(n_classes: usize) -> Result<Self> {
        if n_classes == 0 {
            return Err(MetricError::ZeroClasses { metric: "confusion_matrix" });
        }
        Ok(ConfusionMatrix { n_classes, counts: vec![0; n_classes * n_classes] })
    }

    /// Adds one count per sample: `y_true[i]` selects the row, `y_pred[i]` the column.
    ///
    /// # Errors
    /// Different lengths or a label out of `0..n_classes`; the matrix is unchanged then.
    pub fn update(&mut self, y_true: &[usize], y_pred: &[usize]) -> Result<()> {
        const M: &str = "confusion_matrix";
        check_len(M, "y_true and y_pred", y_true.len(), y_pred.len())?;
        check_labels(M, y_true, self.n_classes)?;
        check_labels(M, y_pred, self.n_classes)?;
        for (&t, &p) in y_true.iter().zip(y_pred) {
            self.counts[t * self.n_classes + p] += 1;
        }
        Ok(())
    }

    /// Number of classes (rows and columns).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The number of samples of true class `true_class` predicted as `pred_class`.
    ///
    /// # Panics
    /// When either index is `>= n_classes`.
    pub fn get(&self, true_class: usize, pred_class: usize) -> u64 {
        assert!(
            true_class < self.n_classes && pred_class < self.n_classes,
            "ConfusionMatrix::get: index ({true_class}, {pred_class}) out of range for {} classes",
            self.n_classes
        );
        self.counts[true_class * self.n_classes + pred_class]
    }

    /// The counts, row-major (`[true][pred]`).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The counts as one `Vec` per true class.
    pub fn to_rows(&self) -> Vec<Vec<u64>> {
        self.counts.chunks_exact(self.n_classes).map(<[u64]>::to_vec).collect()
    }

    /// Total number of samples.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// True positives per class (the diagonal).
    pub fn true_positives(&self) -> Vec<u64> {
        (0..self.n_classes).map(|c| self.get(c, c)).collect()
    }

    /// Support per class: the number of samples whose true class it is (row sums).
    pub fn support(&self) -> Vec<u64> {
        self.counts.chunks_exact(self.n_classes).map(|r| r.iter().sum()).collect()
    }

    /// Number of samples predicted as each class (column sums).
    pub fn predicted(&self) -> Vec<u64> {
        (0..self.n_classes).map(|c| (0..self.n_classes).map(|r| self.get(r, c)).sum()).collect()
    }

    /// Accuracy: trace / total.
    ///
    /// # Errors
    /// [`MetricError::Empty`] when the matrix holds no samples.
    pub fn accuracy(&self) -> Result<f64> {
        fraction("accuracy", self.true_positives().iter().sum::<u64>() as usize, self.total() as usize)
    }

    /// Precision per class: `tp / (tp + fp)`, i.e. diagonal / column sum; `0.0` for a class
    /// that is never predicted.
    pub fn precision(&self) -> Vec<f64> {
        self.true_positives().iter().zip(self.predicted()).map(|(&tp, p)| ratio(tp, p)).collect()
    }

    /// Recall per class: `tp / (tp + fn)`, i.e. diagonal / row sum; `0.0` for a class with no
    /// samples.
    pub fn recall(&self) -> Vec<f64> {
        self.true_positives().iter().zip(self.support()).map(|(&tp, s)| ratio(tp, s)).collect()
    }

    /// F1 per class: `2 tp / (2 tp + fp + fn)`, the harmonic mean of precision and recall
    /// where that is defined, and `0.0` when `tp + fp + fn == 0` (a class that is neither
    /// present nor predicted) or when precision and recall are both `0`.
    pub fn f1(&self) -> Vec<f64> {
        let (tp, pred, sup) = (self.true_positives(), self.predicted(), self.support());
        (0..self.n_classes).map(|c| ratio(2 * tp[c], pred[c] + sup[c])).collect()
    }

    /// Macro-averaged precision: the unweighted mean over all classes.
    pub fn macro_precision(&self) -> f64 {
        mean(&self.precision())
    }

    /// Macro-averaged recall: the unweighted mean over all classes.
    pub fn macro_recall(&self) -> f64 {
        mean(&self.recall())
    }

    /// Macro-averaged F1: the unweighted mean of the per-class F1 over all classes (classes
    /// with no samples count, with their F1 of `0.0` unless they are predicted correctly).
    pub fn macro_f1(&self) -> f64 {
        mean(&self.f1())
    }
}

/// How per-class precision, recall and F1 are combined into one number (scikit-learn's
/// `average`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Average {
    /// The score of class 1, the positive class (for two classes; scikit-learn's default).
    Binary,
    /// The unweighted mean over all classes.
    Macro,
    /// From the total counts: true positives over all predictions (or all samples). For
    /// single-label classification, micro precision, recall and F1 all equal the accuracy.
    Micro,
    /// The mean over classes weighted by their support.
    Weighted,
}

impl ConfusionMatrix {
    fn average(&self, per_class: Vec<f64>, avg: Average) -> f64 {
        match avg {
            Average::Binary => per_class.get(1).copied().unwrap_or(0.0),
            Average::Macro => mean(&per_class),
            // Every sample is one prediction and one true class: micro precision = micro
            // recall = micro F1 = trace / total.
            Average::Micro => ratio(self.true_positives().iter().sum(), self.total()),
            Average::Weighted => {
                let s = self.support();
                ratio_f(per_class.iter().zip(&s).map(|(&v, &w)| v * w as f64).sum(), self.total())
            }
        }
    }

    /// Precision combined over classes by `avg`.
    pub fn precision_avg(&self, avg: Average) -> f64 {
        self.average(self.precision(), avg)
    }

    /// Recall combined over classes by `avg`.
    pub fn recall_avg(&self, avg: Average) -> f64 {
        self.average(self.recall(), avg)
    }

    /// F1 combined over classes by `avg` (macro: the mean of the per-class F1, as
    /// scikit-learn; micro: from the total counts).
    pub fn f1_avg(&self, avg: Average) -> f64 {
        self.average(self.f1(), avg)
    }
}

fn ratio_f(num: f64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num / den as f64
    }
}

impl fmt::Display for ConfusionMatrix {
    /// A right-aligned grid, one line per true class.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.counts.iter().map(|c| c.to_string().len()).max().unwrap_or(1);
        for row in self.counts.chunks_exact(self.n_classes) {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
            writeln!(f, "[{}]", cells.join(" "))?;
        }
        Ok(())
    }
}

/// The confusion matrix of integer labels (rows: true class, columns: predicted class).
///
/// # Errors
/// `n_classes == 0`, different lengths, or a label out of `0..n_classes`.
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<ConfusionMatrix> {
    let mut cm = ConfusionMatrix::new(n_classes)?;
    cm.update(y_true, y_pred)?;
    Ok(cm)
}

/// Precision per class (`0.0` for a class never predicted). See [`ConfusionMatrix::precision`].
///
/// # Errors
/// As [`confusion_matrix`].
pub fn precision(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Vec<f64>> {
    Ok(confusion_matrix(y_true, y_pred, n_classes)?.precision())
}

/// Recall per class (`0.0` for a class with no samples). See [`ConfusionMatrix::recall`].
///
/// # Errors
/// As [`confusion_matrix`].
pub fn recall(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Vec<f64>> {
    Ok(confusion_matrix(y_true, y_pred, n_classes)?.recall())
}

/// F1 score per class. See [`ConfusionMatrix::f1`].
///
/// # Errors
/// As [`confusion_matrix`].
pub fn f1_score(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Vec<f64>> {
    Ok(confusion_matrix(y_true, y_pred, n_classes)?.f1())
}

/// Macro-averaged F1: the unweighted mean of the per-class F1 over all `n_classes` classes
/// (scikit-learn's `f1_score(..., labels=range(n_classes), average="macro", zero_division=0)`).
///
/// # Errors
/// As [`confusion_matrix`].
pub fn macro_f1(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<f64> {
    Ok(confusion_matrix(y_true, y_pred, n_classes)?.macro_f1())
}

/// Area under the ROC curve of binary scores, computed from ranks (the Mann–Whitney U
/// statistic): the probability that a random positive scores higher than a random negative,
/// a tie counting one half.
///
/// This equals the trapezoidal area under the ROC curve, with tied scores handled by giving
/// each the average of their ranks (as scikit-learn's `roc_auc_score`). `scores` can be
/// probabilities, logits or any monotone score; `targets` are `0`/`1`. Takes `O(n log n)`.
///
/// # Errors
/// * [`MetricError::SingleClass`] when all targets are `0` or all are `1` (the AUC is
///   undefined; scikit-learn raises a `ValueError` there too),
/// * [`MetricError::Empty`] when there are no samples,
/// * [`MetricError::NanScore`] for a NaN score (infinite scores are ranked normally),
/// * a length mismatch or a target other than `0`/`1`.
///
/// ```
/// let auc = nn::metrics::roc_auc(&[0.1_f32, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0])?;
/// assert!((auc - 0.75).abs() < 1e-12);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
pub fn roc_auc<T: Float>(scores: &[T], targets: &[T]) -> Result<f64> {
    const M: &str = "roc_auc";
    check_len(M, "scores and targets", scores.len(), targets.len())?;
    let positive = binary_targets(M, targets)?;
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(MetricError::NanScore { metric: M, index });
    }
    let n = scores.len();
    if n == 0 {
        return Err(MetricError::Empty { metric: M });
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = n - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(MetricError::SingleClass { metric: M, class: u8::from(n_pos > 0), n });
    }
    let mut order: Vec<usize> = (0..n).collect();
    // No NaN, so partial_cmp always succeeds.
    order.sort_by(|&a, &b| scores[a].partial_cmp(&scores[b]).unwrap_or(std::cmp::Ordering::Equal));
    // Sum of the (1-based, tie-averaged) ranks of the positives. Ranks of a tie group
    // i+1..=j average to (i + 1 + j) / 2; doubled to stay in integers.
    let mut twice_rank_sum: u128 = 0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        let pos_in_group = order[i..j].iter().filter(|&&k| positive[k]).count() as u128;
        twice_rank_sum += pos_in_group * (i as u128 + 1 + j as u128);
        i = j;
    }
    let (p, q) = (n_pos as u128, n_neg as u128);
    // U = rank_sum - p (p + 1) / 2, so 2U = twice_rank_sum - p (p + 1).
    let twice_u = twice_rank_sum - p * (p + 1);
    Ok(twice_u as f64 / (2.0 * p as f64 * q as f64))
}

/// One-vs-rest ROC AUC of multi-class scores: for each class, [`roc_auc`] of its column
/// against "is this class", then the unweighted mean over the classes (scikit-learn's
/// `roc_auc_score(y, scores, multi_class="ovr", average="macro")`). `scores` is a row-major
/// `[n, n_classes]` slice (probabilities, or any scores monotone per class).
///
/// # Errors
/// As [`roc_auc`] for any class, in particular [`MetricError::SingleClass`] when a class never
/// occurs (scikit-learn raises there too); a label out of range.
///
/// ```
/// let scores = [0.8_f64, 0.1, 0.1, 0.2, 0.7, 0.1, 0.3, 0.3, 0.4, 0.1, 0.2, 0.7];
/// assert_eq!(nn::metrics::roc_auc_ovr(&scores, &[0, 1, 2, 2], 3)?, 1.0);
/// # Ok::<(), nn::metrics::MetricError>(())
/// ```
pub fn roc_auc_ovr<T: Float>(scores: &[T], labels: &[usize], n_classes: usize) -> Result<f64> {
    const M: &str = "roc_auc_ovr";
    let n = check_rows(M, scores.len(), n_classes)?;
    check_len(M, "score rows and labels", n, labels.len())?;
    check_labels(M, labels, n_classes)?;
    let mut sum = 0.0;
    for c in 0..n_classes {
        let col: Vec<T> = scores.chunks_exact(n_classes).map(|r| r[c]).collect();
        let is_c: Vec<T> = labels.iter().map(|&l| if l == c { T::ONE } else { T::ZERO }).collect();
        sum += roc_auc(&col, &is_c)?;
    }
    Ok(sum / n_classes as f64)
}

/// Precision, recall, F1 and support of one class (or one average) in a
/// [`ClassificationReport`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    /// Precision (`0.0` when the class is never predicted).
    pub precision: f64,
    /// Recall (`0.0` when the class has no samples).
    pub recall: f64,
    /// F1 score (`0.0` when precision and recall are both `0`).
    pub f1: f64,
    /// Number of samples of the class (for an average: of all classes).
    pub support: u64,
}

/// Per-class precision, recall, F1 and support with accuracy and the macro and weighted
/// averages, like scikit-learn's `classification_report`.
///
/// `Display` prints the same table as scikit-learn (two decimals by default; a precision such
/// as `{:.4}` selects the number of decimals). For `y_true = [0, 1, 2, 2, 2]` and
/// `y_pred = [0, 0, 2, 2, 1]`:
///
/// ```text
///               precision    recall  f1-score   support
///
///            0       0.50      1.00      0.67         1
///            1       0.00      0.00      0.00         1
///            2       1.00      0.67      0.80         3
///
///     accuracy                           0.60         5
///    macro avg       0.50      0.56      0.49         5
/// weighted avg       0.70      0.60      0.61         5
/// ```
///
/// The weighted average weights each class by its support; with no samples at all it is `0`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// Class names, one per class (default: `"0"`, `"1"`, ...).
    pub class_names: Vec<String>,
    /// Scores per class, in class order.
    pub per_class: Vec<ClassScores>,
    /// Accuracy (`0.0` when there are no samples).
    pub accuracy: f64,
    /// Unweighted mean over classes; `support` is the total.
    pub macro_avg: ClassScores,
    /// Mean over classes weighted by support; `support` is the total.
    pub weighted_avg: ClassScores,
}

impl ClassificationReport {
    /// The report of a confusion matrix, with classes named `"0"`, `"1"`, ...
    pub fn from_confusion(cm: &ConfusionMatrix) -> Self {
        let (p, r, f, s) = (cm.precision(), cm.recall(), cm.f1(), cm.support());
        let per_class: Vec<ClassScores> = (0..cm.n_classes())
            .map(|c| ClassScores { precision: p[c], recall: r[c], f1: f[c], support: s[c] })
            .collect();
        let total = cm.total();
        let weighted = |v: &[f64]| {
            if total == 0 {
                0.0
            } else {
                v.iter().zip(&s).map(|(&x, &w)| x * w as f64).sum::<f64>() / total as f64
            }
        };
        ClassificationReport {
            class_names: (0..cm.n_classes()).map(|c| c.to_string()).collect(),
            per_class,
            accuracy: cm.accuracy().unwrap_or(0.0),
            macro_avg: ClassScores { precision: mean(&p), recall: mean(&r), f1: mean(&f), support: total },
            weighted_avg: ClassScores {
                precision: weighted(&p),
                recall: weighted(&r),
                f1: weighted(&f),
                support: total,
            },
        }
    }

    /// Replaces the class names (e.g. `["setosa", "versicolor", "virginica"]`).
    ///
    /// # Errors
    /// [`MetricError::ClassNames`] when the number of names is not the number of classes.
    pub fn with_class_names<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self> {
        if names.len() != self.per_class.len() {
            return Err(MetricError::ClassNames { names: names.len(), n_classes: self.per_class.len() });
        }
        self.class_names = names.iter().map(|s| s.as_ref().to_string()).collect();
        Ok(self)
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = f.precision().unwrap_or(2);
        let width = self.class_names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max("weighted avg".len());
        let num = 9.max(digits + 2);
        writeln!(
            f,
            "{:>width$}  {:>num$} {:>num$} {:>num$} {:>num$}",
            "", "precision", "recall", "f1-score", "support"
        )?;
        writeln!(f)?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, s: &ClassScores| {
            writeln!(
                f,
                "{:>width$}  {:>num$.digits$} {:>num$.digits$} {:>num$.digits$} {:>num$}",
                name, s.precision, s.recall, s.f1, s.support
            )
        };
        for (name, s) in self.class_names.iter().zip(&self.per_class) {
            row(f, name, s)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:>width$}  {:>num$} {:>num$} {:>num$.digits$} {:>num$}",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        )?;
        row(f, "macro avg", &self.macro_avg)?;
        row(f, "weighted avg", &self.weighted_avg)
    }
}

/// A [`ClassificationReport`] of integer labels, classes named `"0"`, `"1"`, ... (rename them
/// with [`ClassificationReport::with_class_names`]).
///
/// # Errors
/// As [`confusion_matrix`].
pub fn classification_report(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<ClassificationReport> {
    Ok(ClassificationReport::from_confusion(&confusion_matrix(y_true, y_pred, n_classes)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn assert_all_close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        assert!(a.iter().zip(b).all(|(&x, &y)| close(x, y)), "{a:?} vs {b:?}");
    }

    #[test]
    fn binary_accuracy_threshold_is_strict() {
        // p > 0.5 predicts 1: [1, 0, 0, 1, 0] vs targets [1, 1, 0, 0, 0] -> right at 0, 2, 4.
        let p = [0.9_f32, 0.1, 0.5, 0.51, f32::NAN];
        let t = [1.0, 1.0, 0.0, 0.0, 0.0];
        assert!(close(binary_accuracy(&p, &t).unwrap(), 3.0 / 5.0));
        // f64 too, and all right.
        assert_eq!(binary_accuracy(&[0.7_f64, 0.2], &[1.0, 0.0]).unwrap(), 1.0);
    }

    #[test]
    fn binary_accuracy_errors() {
        assert_eq!(
            binary_accuracy(&[0.1_f32], &[0.5]),
            Err(MetricError::InvalidBinaryTarget { metric: "binary_accuracy", index: 0, value: 0.5 })
        );
        assert!(matches!(binary_accuracy(&[0.1_f32, 0.2], &[1.0]), Err(MetricError::LengthMismatch { .. })));
        assert_eq!(binary_accuracy::<f32>(&[], &[]), Err(MetricError::Empty { metric: "binary_accuracy" }));
        let msg = binary_accuracy(&[0.1_f32], &[2.0]).unwrap_err().to_string();
        assert_eq!(msg, "binary_accuracy: target 2 of sample 0 is not 0 or 1");
    }

    #[test]
    fn argmax_first_max_on_ties() {
        assert_eq!(argmax_rows(&[1.0_f32, 3.0, 3.0, 2.0, 2.0, 0.0], 3).unwrap(), vec![1, 0]);
        assert_eq!(argmax_rows::<f32>(&[], 3).unwrap(), Vec::<usize>::new());
        assert!(matches!(argmax_rows(&[1.0_f32; 5], 2), Err(MetricError::RaggedRows { len: 5, n_classes: 2, .. })));
        assert!(matches!(argmax_rows(&[1.0_f32; 4], 0), Err(MetricError::ZeroClasses { .. })));
    }

    #[test]
    fn categorical_accuracy_argmax_both() {
        // rows: argmax preds [2, 0, 1], argmax targets [2, 1, 1] -> 2 of 3.
        let preds = [0.1_f64, 0.2, 0.7, 0.5, 0.3, 0.2, 0.3, 0.4, 0.3];
        let onehot = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        assert!(close(categorical_accuracy(&preds, &onehot, 3).unwrap(), 2.0 / 3.0));
        assert!(matches!(categorical_accuracy(&preds, &onehot[..6], 3), Err(MetricError::LengthMismatch { .. })));
        assert!(matches!(categorical_accuracy(&preds[..8], &onehot[..8], 3), Err(MetricError::RaggedRows { .. })));
        assert!(matches!(categorical_accuracy::<f32>(&[], &[], 3), Err(MetricError::Empty { .. })));
    }

    #[test]
    fn sparse_categorical_accuracy_cases() {
        let preds = [0.1_f32, 0.2, 0.7, 0.5, 0.3, 0.2, 0.3, 0.4, 0.3];
        // argmax [2, 0, 1] vs labels [2, 0, 0] -> 2 of 3.
        assert!(close(sparse_categorical_accuracy(&preds, &[2, 0, 0], 3).unwrap(), 2.0 / 3.0));
        assert_eq!(
            sparse_categorical_accuracy(&preds, &[2, 3, 0], 3),
            Err(MetricError::LabelOutOfRange {
                metric: "sparse_categorical_accuracy",
                index: 1,
                label: 3,
                n_classes: 3
            })
        );
        assert!(matches!(sparse_categorical_accuracy(&preds, &[2, 0], 3), Err(MetricError::LengthMismatch { .. })));
        assert_eq!(label_accuracy(&[1, 2, 3, 4], &[1, 2, 0, 0]).unwrap(), 0.5);
    }

    #[test]
    fn confusion_matrix_three_classes() {
        // y_true = [0, 1, 2, 2, 2, 1, 0], y_pred = [0, 0, 2, 2, 1, 1, 2]
        // (true, pred) pairs: (0,0) (1,0) (2,2) (2,2) (2,1) (1,1) (0,2)
        //        pred 0  1  2
        // true 0    [1, 0, 1]
        // true 1    [1, 1, 0]
        // true 2    [0, 1, 2]
        let cm = confusion_matrix(&[0, 1, 2, 2, 2, 1, 0], &[0, 0, 2, 2, 1, 1, 2], 3).unwrap();
        assert_eq!(cm.to_rows(), vec![vec![1, 0, 1], vec![1, 1, 0], vec![0, 1, 2]]);
        assert_eq!(cm.get(2, 1), 1);
        assert_eq!(cm.counts(), &[1, 0, 1, 1, 1, 0, 0, 1, 2]);
        assert_eq!(cm.total(), 7);
        assert_eq!(cm.support(), vec![2, 2, 3]);
        assert_eq!(cm.predicted(), vec![2, 2, 3]);
        assert!(close(cm.accuracy().unwrap(), 4.0 / 7.0));
        // precision = diag / column sums = [1/2, 1/2, 2/3]; recall = diag / row sums = [1/2, 1/2, 2/3].
        assert_all_close(&cm.precision(), &[0.5, 0.5, 2.0 / 3.0]);
        assert_all_close(&cm.recall(), &[0.5, 0.5, 2.0 / 3.0]);
        assert_all_close(&cm.f1(), &[0.5, 0.5, 2.0 / 3.0]);
        assert_eq!(cm.to_string(), "[1 0 1]\n[1 1 0]\n[0 1 2]\n");
    }

    #[test]
    fn confusion_matrix_accumulates_and_validates() {
        let mut cm = ConfusionMatrix::new(2).unwrap();
        cm.update(&[0, 1], &[0, 0]).unwrap();
        cm.update(&[1], &[1]).unwrap();
        assert_eq!(cm.to_rows(), vec![vec![1, 0], vec![1, 1]]);
        // A bad batch leaves the matrix unchanged.
        assert!(matches!(cm.update(&[0, 1], &[0, 2]), Err(MetricError::LabelOutOfRange { index: 1, label: 2, .. })));
        assert!(matches!(cm.update(&[0, 1], &[0]), Err(MetricError::LengthMismatch { .. })));
        assert_eq!(cm.total(), 3);
        assert!(matches!(ConfusionMatrix::new(0), Err(MetricError::ZeroClasses { .. })));
        assert!(matches!(ConfusionMatrix::new(3).unwrap().accuracy(), Err(MetricError::Empty { .. })));
    }

    #[test]
    fn precision_recall_f1_and_macro() {
        // y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]
        //        pred 0  1  2
        // true 0    [1, 0, 0]
        // true 1    [1, 0, 0]
        // true 2    [0, 1, 2]
        // precision: 1/2, 0/1 = 0, 2/2 = 1
        // recall:    1/1, 0/1 = 0, 2/3
        // F1 = 2tp / (2tp + fp + fn): 2/(2+1+0) = 2/3, 0/(0+1+1) = 0, 4/(4+0+1) = 4/5
        // macro F1 = (2/3 + 0 + 4/5) / 3 = 22/45
        let (t, p) = ([0, 1, 2, 2, 2], [0, 0, 2, 2, 1]);
        assert_all_close(&precision(&t, &p, 3).unwrap(), &[0.5, 0.0, 1.0]);
        assert_all_close(&recall(&t, &p, 3).unwrap(), &[1.0, 0.0, 2.0 / 3.0]);
        assert_all_close(&f1_score(&t, &p, 3).unwrap(), &[2.0 / 3.0, 0.0, 0.8]);
        assert!(close(macro_f1(&t, &p, 3).unwrap(), 22.0 / 45.0));
        let cm = confusion_matrix(&t, &p, 3).unwrap();
        assert!(close(cm.macro_precision(), 0.5));
        assert!(close(cm.macro_recall(), 5.0 / 9.0));
    }

    #[test]
    fn zero_division_is_zero() {
        // Class 2 never occurs and is never predicted; class 1 is never predicted.
        // y_true = [0, 1], y_pred = [0, 0]: precision [1/2, 0/0 -> 0, 0/0 -> 0],
        // recall [1, 0, 0/0 -> 0], F1 [2/3, 0, 0/0 -> 0]; macro F1 = (2/3) / 3 = 2/9.
        let cm = confusion_matrix(&[0, 1], &[0, 0], 3).unwrap();
        assert_all_close(&cm.precision(), &[0.5, 0.0, 0.0]);
        assert_all_close(&cm.recall(), &[1.0, 0.0, 0.0]);
        assert_all_close(&cm.f1(), &[2.0 / 3.0, 0.0, 0.0]);
        assert!(close(cm.macro_f1(), 2.0 / 9.0));
        // Perfect predictions give 1 for the classes that occur.
        let cm = confusion_matrix(&[0, 1, 1], &[0, 1, 1], 2).unwrap();
        assert_eq!(cm.f1(), vec![1.0, 1.0]);
        assert_eq!(cm.macro_f1(), 1.0);
    }

    #[test]
    fn roc_auc_known_value() {
        // Sorted scores: 0.1 (neg, rank 1), 0.35 (pos, 2), 0.4 (neg, 3), 0.8 (pos, 4).
        // U = (2 + 4) - 2*3/2 = 3, AUC = 3 / (2*2) = 0.75.
        assert!(close(roc_auc(&[0.1_f64, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]).unwrap(), 0.75));
        assert!(close(roc_auc(&[0.1_f32, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]).unwrap(), 0.75));
    }

    #[test]
    fn roc_auc_perfect_inverted_and_constant() {
        let t = [0.0_f64, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.3, 0.4, 0.5], &t).unwrap(), 1.0);
        assert_eq!(roc_auc(&[0.5, 0.4, 0.3, 0.2, 0.1], &t).unwrap(), 0.0);
        // All scores tied: every positive/negative pair is a tie worth 1/2.
        assert_eq!(roc_auc(&[0.3; 5], &t).unwrap(), 0.5);
        // Infinite scores rank normally.
        assert_eq!(roc_auc(&[f64::NEG_INFINITY, 0.0, f64::INFINITY], &[0.0, 1.0, 1.0]).unwrap(), 1.0);
    }

    #[test]
    fn roc_auc_ties_average_ranks() {
        // scores [0.1, 0.5, 0.5, 0.9], targets [0, 0, 1, 1]
        // ranks: 0.1 -> 1, the tied 0.5s -> (2 + 3) / 2 = 2.5 each, 0.9 -> 4.
        // Positive rank sum = 2.5 + 4 = 6.5; U = 6.5 - 3 = 3.5; AUC = 3.5 / 4 = 0.875.
        // (Pairs: (pos 0.5 vs neg 0.1) 1, (pos 0.5 vs neg 0.5) 1/2, (pos 0.9 vs both) 2 -> 3.5.)
        assert_eq!(roc_auc(&[0.1_f64, 0.5, 0.5, 0.9], &[0.0, 0.0, 1.0, 1.0]).unwrap(), 0.875);
        // A tie group of three mixed: scores [0.2, 0.2, 0.2, 0.7], targets [1, 0, 1, 0]
        // Pairs (pos, neg): pos 0.2 vs neg 0.2 -> 1/2 each (2 pairs), pos 0.2 vs neg 0.7 -> 0 (2 pairs).
        // U = 1, AUC = 1 / 4.
        assert_eq!(roc_auc(&[0.2_f64, 0.2, 0.2, 0.7], &[1.0, 0.0, 1.0, 0.0]).unwrap(), 0.25);
    }

    #[test]
    fn roc_auc_matches_pair_count_on_random_data() {
        // Brute force over all pairs on data with many ties.
        let mut state = 12345_u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let n = 200;
        let scores: Vec<f64> = (0..n).map(|_| (next() % 17) as f64 / 16.0).collect();
        let targets: Vec<f64> = (0..n).map(|_| (next() % 2) as f64).collect();
        let mut u = 0.0;
        let (mut p, mut q) = (0.0, 0.0);
        for i in 0..n {
            if targets[i] == 1.0 {
                p += 1.0;
            } else {
                q += 1.0;
            }
            for j in 0..n {
                if targets[i] == 1.0 && targets[j] == 0.0 {
                    u += if scores[i] > scores[j] {
                        1.0
                    } else if scores[i] == scores[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        assert!(close(roc_auc(&scores, &targets).unwrap(), u / (p * q)));
    }

    #[test]
    fn roc_auc_errors() {
        assert_eq!(
            roc_auc(&[0.1_f64, 0.2], &[1.0, 1.0]),
            Err(MetricError::SingleClass { metric: "roc_auc", class: 1, n: 2 })
        );
        assert_eq!(
            roc_auc(&[0.1_f64, 0.2], &[0.0, 0.0]),
            Err(MetricError::SingleClass { metric: "roc_auc", class: 0, n: 2 })
        );
        assert_eq!(roc_auc::<f64>(&[], &[]), Err(MetricError::Empty { metric: "roc_auc" }));
        assert_eq!(
            roc_auc(&[0.1_f64, f64::NAN], &[0.0, 1.0]),
            Err(MetricError::NanScore { metric: "roc_auc", index: 1 })
        );
        assert!(matches!(roc_auc(&[0.1_f64], &[0.0, 1.0]), Err(MetricError::LengthMismatch { .. })));
        assert!(matches!(roc_auc(&[0.1_f64, 0.3], &[0.0, -1.0]), Err(MetricError::InvalidBinaryTarget { .. })));
        assert_eq!(
            roc_auc(&[0.1_f64, 0.2], &[1.0, 1.0]).unwrap_err().to_string(),
            "roc_auc: undefined when only one class is present (all 2 targets are 1)"
        );
    }

    #[test]
    fn classification_report_matches_sklearn_layout() {
        // y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]: see precision_recall_f1_and_macro.
        // macro: P = (0.5 + 0 + 1) / 3 = 0.50, R = (1 + 0 + 2/3) / 3 = 0.556, F1 = 22/45 = 0.489
        // weighted (support 1, 1, 3): P = (0.5 + 0 + 3) / 5 = 0.70, R = (1 + 0 + 2) / 5 = 0.60,
        //   F1 = (2/3 + 0 + 2.4) / 5 = 0.613
        // Output of sklearn.metrics.classification_report([0,1,2,2,2], [0,0,2,2,1]):
        let expected = "              precision    recall  f1-score   support

           0       0.50      1.00      0.67         1
           1       0.00      0.00      0.00         1
           2       1.00      0.67      0.80         3

    accuracy                           0.60         5
   macro avg       0.50      0.56      0.49         5
weighted avg       0.70      0.60      0.61         5
";
        let report = classification_report(&[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1], 3).unwrap();
        assert_eq!(report.to_string(), expected);
        assert_eq!(report.per_class[2], ClassScores { precision: 1.0, recall: 2.0 / 3.0, f1: 0.8, support: 3 });
        assert!(close(report.accuracy, 0.6));
        assert!(close(report.macro_avg.f1, 22.0 / 45.0));
        assert!(close(report.weighted_avg.precision, 0.7));
        assert_eq!(report.weighted_avg.support, 5);
    }

    #[test]
    fn classification_report_names_and_digits() {
        let report = classification_report(&[0, 1, 1], &[0, 1, 0], 2).unwrap();
        let named = report.clone().with_class_names(&["setosa", "a much longer class name"]).unwrap();
        let text = format!("{named:.3}");
        let lines: Vec<&str> = text.lines().collect();
        // The name column is as wide as the longest name; three decimals are printed.
        assert_eq!(lines[2], "                  setosa      0.500     1.000     0.667         1");
        assert_eq!(lines[3], "a much longer class name      1.000     0.500     0.667         2");
        assert!(lines[0].starts_with(&" ".repeat(24)));
        assert_eq!(report.with_class_names(&["one"]), Err(MetricError::ClassNames { names: 1, n_classes: 2 }));
        // An empty report prints zeros rather than NaN.
        let empty = ClassificationReport::from_confusion(&ConfusionMatrix::new(2).unwrap());
        assert!(empty.to_string().contains("accuracy                           0.00         0"));
    }
}
