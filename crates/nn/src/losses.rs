//! Loss functions, as differentiable functions of [`Var`]s and as the [`Loss`] enum that
//! [`Sequential::compile`](crate::Sequential::compile) takes.
//!
//! Every loss returns a scalar: the mean over the batch (Keras' default reduction,
//! `"sum_over_batch_size"`). The elementwise losses average over every element, which is
//! Keras' "mean over the last axis, then over the batch".
//!
//! The probability-based cross-entropies follow Keras: probabilities are clipped to
//! `[EPSILON, 1 - EPSILON]` with [`EPSILON`] = 1e-7 before the logarithm (and categorical
//! ones are first renormalised to sum to 1), so they are finite but have zero gradient where
//! clipped. The `_from_logits` forms are exact and stable for any finite logits.
//!
//! **Fusion in the training loop.** When a model ends in softmax and the loss is
//! (sparse) categorical cross-entropy, or ends in sigmoid and the loss is binary
//! cross-entropy, `fit`/`evaluate` compute the loss from the logits (the pre-activation,
//! see [`Module::forward_logits`](crate::Module::forward_logits)) with the `_from_logits`
//! form: mathematically the same value, but no `ln` of a rounded-to-zero probability and
//! a gradient `(softmax - onehot) / n` that does not pass through a divide. Keras does the
//! same internally (TensorFlow backend, via `_keras_logits`). The values differ from the
//! clipped probability form only where a probability is below 1e-7.

use crate::activation::Activation;
use crate::error::NnError;
use autograd::{Float, Tensor, Var};

/// Keras' fuzz factor `keras.backend.epsilon()`, used to clip probabilities.
pub const EPSILON: f64 = 1e-7;

fn check_same(op: &str, pred: &[usize], target: &[usize]) -> Result<(), NnError> {
    if pred != target {
        return Err(NnError::shape(format!("{op}: target"), pred, target));
    }
    Ok(())
}

/// Mean of `(pred - target)²`.
pub fn mean_squared_error<T: Float>(pred: &Var<T>, target: &Var<T>) -> Var<T> {
    (pred - target).square().mean()
}

/// Mean of `|pred - target|`.
pub fn mean_absolute_error<T: Float>(pred: &Var<T>, target: &Var<T>) -> Var<T> {
    (pred - target).abs().mean()
}

/// Mean Huber loss with threshold `delta` (Keras' default 1.0): `½ e²` where
/// `|e| <= delta`, `delta (|e| - ½ delta)` elsewhere, `e = pred - target`.
/// Computed as `½ q² + delta (|e| - q)` with `q = min(|e|, delta)`.
pub fn huber<T: Float>(pred: &Var<T>, target: &Var<T>, delta: f64) -> Var<T> {
    let a = (pred - target).abs();
    let q = a.clamp(0.0, delta);
    (q.square() * T::from_f64(0.5) + (&a - &q) * T::from_f64(delta)).mean()
}

/// Mean binary cross-entropy of probabilities `probs` (clipped to `[ε, 1-ε]`) against
/// targets in `[0, 1]`, as Keras' `binary_crossentropy(from_logits=False)`.
pub fn binary_crossentropy<T: Float>(probs: &Var<T>, target: &Var<T>) -> Var<T> {
    let p = probs.clamp(EPSILON, 1.0 - EPSILON);
    let one_minus_t = -target + T::ONE;
    let one_minus_p = -&p + T::ONE;
    -(target * &p.ln() + one_minus_t * one_minus_p.ln()).mean()
}

/// Mean binary cross-entropy from logits, stable for any finite logits
/// (`max(x, 0) - x t + ln(1 + e^-|x|)`).
pub fn binary_crossentropy_from_logits<T: Float>(logits: &Var<T>, target: &Var<T>) -> Var<T> {
    logits.binary_cross_entropy_with_logits(target)
}

/// Mean over the batch of `-sum(t ln p)` over the last axis, for probabilities `probs`
/// (renormalised to sum to 1 and clipped to `[ε, 1-ε]`, as Keras does) and one-hot (or soft)
/// targets of the same shape.
pub fn categorical_crossentropy<T: Float>(probs: &Var<T>, target: &Var<T>) -> Var<T> {
    let p = (probs / &probs.sum_axes(&[-1], true)).clamp(EPSILON, 1.0 - EPSILON);
    -(target * &p.ln()).sum_axes(&[-1], false).mean()
}

/// Categorical cross-entropy from logits: mean over the batch of `-sum(t log_softmax(x))`,
/// stable. Targets are one-hot (or soft) with the logits' shape.
pub fn categorical_crossentropy_from_logits<T: Float>(logits: &Var<T>, target: &Var<T>) -> Var<T> {
    -(target * &logits.log_softmax(-1)).sum_axes(&[-1], false).mean()
}

/// Sparse categorical cross-entropy of probabilities `[n, classes]` against integer
/// labels: the categorical form on the one-hot labels (clipped as Keras does).
///
/// # Panics
/// If a label is not below the number of classes or there is not one label per row.
pub fn sparse_categorical_crossentropy<T: Float>(probs: &Var<T>, labels: &[usize]) -> Var<T> {
    let classes = *probs.shape().last().expect("sparse_categorical_crossentropy: probabilities must be [n, classes]");
    assert_eq!(labels.len() * classes, probs.numel(), "sparse_categorical_crossentropy: one label per row");
    let onehot = Tensor::try_one_hot(labels, classes).unwrap_or_else(|e| panic!("{e}"));
    categorical_crossentropy(probs, &Var::constant(onehot.reshape(probs.shape())))
}

/// Sparse categorical cross-entropy from logits `[n, classes]` and integer labels: the
/// fused `Var::cross_entropy` (PyTorch's `F.cross_entropy`).
///
/// # Panics
/// As [`Var::cross_entropy`].
pub fn sparse_categorical_crossentropy_from_logits<T: Float>(logits: &Var<T>, labels: &[usize]) -> Var<T> {
    logits.cross_entropy(labels)
}

/// The loss a model is compiled with. The names follow Keras.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// [`mean_squared_error`].
    MeanSquaredError,
    /// [`mean_absolute_error`].
    MeanAbsoluteError,
    /// [`huber`] with this `delta` (Keras' default is 1.0, see [`Loss::huber`]).
    Huber {
        /// The threshold between the quadratic and the linear part.
        delta: f64,
    },
    /// [`binary_crossentropy`] on probabilities (fused with a final sigmoid, see the module docs).
    BinaryCrossentropy,
    /// [`binary_crossentropy_from_logits`].
    BinaryCrossentropyFromLogits,
    /// [`categorical_crossentropy`] on probabilities against one-hot targets (fused with a
    /// final softmax, see the module docs).
    CategoricalCrossentropy,
    /// [`categorical_crossentropy_from_logits`] against one-hot targets.
    CategoricalCrossentropyFromLogits,
    /// [`sparse_categorical_crossentropy`] on probabilities against integer labels (given
    /// as a tensor of whole numbers `[n]` or `[n, 1]`; fused with a final softmax).
    SparseCategoricalCrossentropy,
    /// [`sparse_categorical_crossentropy_from_logits`] against integer labels.
    SparseCategoricalCrossentropyFromLogits,
}

/// What kind of targets a loss takes; decides which accuracy `Metric::Accuracy` means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Real-valued targets with the prediction's shape.
    Dense,
    /// Binary targets in [0, 1] with the prediction's shape.
    Binary,
    /// One-hot (or soft) class targets `[n, classes]`.
    OneHot,
    /// Integer class labels `[n]` (or `[n, 1]`).
    Sparse,
}

impl Loss {
    /// Huber with Keras' default `delta = 1.0`.
    pub fn huber() -> Self {
        Loss::Huber { delta: 1.0 }
    }

    /// Keras' name, e.g. `"categorical_crossentropy"`.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::Huber { .. } => "huber",
            Loss::BinaryCrossentropy | Loss::BinaryCrossentropyFromLogits => "binary_crossentropy",
            Loss::CategoricalCrossentropy | Loss::CategoricalCrossentropyFromLogits => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy | Loss::SparseCategoricalCrossentropyFromLogits => {
                "sparse_categorical_crossentropy"
            }
        }
    }

    /// The kind of targets this loss takes.
    pub fn target_kind(&self) -> TargetKind {
        match self {
            Loss::MeanSquaredError | Loss::MeanAbsoluteError | Loss::Huber { .. } => TargetKind::Dense,
            Loss::BinaryCrossentropy | Loss::BinaryCrossentropyFromLogits => TargetKind::Binary,
            Loss::CategoricalCrossentropy | Loss::CategoricalCrossentropyFromLogits => TargetKind::OneHot,
            Loss::SparseCategoricalCrossentropy | Loss::SparseCategoricalCrossentropyFromLogits => TargetKind::Sparse,
        }
    }

    /// Whether the loss takes logits (so the model's raw output is not a probability).
    pub fn from_logits(&self) -> bool {
        matches!(
            self,
            Loss::BinaryCrossentropyFromLogits
                | Loss::CategoricalCrossentropyFromLogits
                | Loss::SparseCategoricalCrossentropyFromLogits
        )
    }

    /// The loss of predictions `pred` against `target` (a tensor of labels for the sparse
    /// losses).
    ///
    /// # Errors
    /// [`NnError::ShapeMismatch`] if the target's shape does not fit, [`NnError::Data`] if a
    /// sparse label is not a whole number below the number of classes.
    pub fn compute<T: Float>(&self, pred: &Var<T>, target: &Tensor<T>) -> Result<Var<T>, NnError> {
        self.compute_deferred(pred, None, target)
    }

    /// The loss of `activation(pre)` (the identity if `None`) against `target`, fused where
    /// possible: softmax with a categorical cross-entropy and sigmoid with a binary one are
    /// computed from the logits `pre` (see the module docs).
    ///
    /// # Errors
    /// As [`compute`](Self::compute).
    pub fn compute_deferred<T: Float>(
        &self,
        pre: &Var<T>,
        activation: Option<Activation>,
        target: &Tensor<T>,
    ) -> Result<Var<T>, NnError> {
        let op = self.name();
        let act = activation.unwrap_or(Activation::Linear);
        let fused_softmax = act == Activation::Softmax;
        let fused_sigmoid = act == Activation::Sigmoid;
        let out = || act.apply(pre);
        match self.target_kind() {
            TargetKind::Sparse => {
                let classes = *pre.shape().last().unwrap_or(&1);
                let n = if pre.ndim() == 0 { 1 } else { pre.numel() / classes.max(1) };
                let labels = labels_from_tensor(target, classes)?;
                if labels.len() != n {
                    return Err(NnError::shape(format!("{op}: labels"), &[n], target.shape()));
                }
                if pre.ndim() != 2 {
                    return Err(NnError::data(format!(
                        "{op}: predictions must be [n, classes], got {:?}",
                        pre.shape()
                    )));
                }
                Ok(match (*self, fused_softmax) {
                    (Loss::SparseCategoricalCrossentropy, true) => pre.cross_entropy(&labels),
                    (Loss::SparseCategoricalCrossentropy, false) => sparse_categorical_crossentropy(&out(), &labels),
                    _ => out().cross_entropy(&labels),
                })
            }
            _ => {
                let target = if target.shape() != pre.shape() && target.numel() == pre.numel() && pre.ndim() >= 1 {
                    // Keras accepts [n] targets for [n, 1] outputs (and the reverse).
                    let squeezable = |a: &[usize], b: &[usize]| a.len() == b.len() + 1 && a.last() == Some(&1);
                    if squeezable(pre.shape(), target.shape()) || squeezable(target.shape(), pre.shape()) {
                        target.reshape(pre.shape())
                    } else {
                        target.clone()
                    }
                } else {
                    target.clone()
                };
                check_same(op, pre.shape(), target.shape())?;
                let t = Var::constant(target);
                Ok(match *self {
                    Loss::MeanSquaredError => mean_squared_error(&out(), &t),
                    Loss::MeanAbsoluteError => mean_absolute_error(&out(), &t),
                    Loss::Huber { delta } => huber(&out(), &t, delta),
                    Loss::BinaryCrossentropy if fused_sigmoid => binary_crossentropy_from_logits(pre, &t),
                    Loss::BinaryCrossentropy => binary_crossentropy(&out(), &t),
                    Loss::BinaryCrossentropyFromLogits => binary_crossentropy_from_logits(&out(), &t),
                    Loss::CategoricalCrossentropy if fused_softmax => categorical_crossentropy_from_logits(pre, &t),
                    Loss::CategoricalCrossentropy => categorical_crossentropy(&out(), &t),
                    Loss::CategoricalCrossentropyFromLogits => categorical_crossentropy_from_logits(&out(), &t),
                    _ => unreachable!("sparse losses are handled above"),
                })
            }
        }
    }
}

/// Integer class labels from a tensor of whole numbers (`[n]` or `[n, 1]`), each checked to
/// be below `classes`.
///
/// # Errors
/// [`NnError::Data`] naming the first bad label and its position.
pub fn labels_from_tensor<T: Float>(t: &Tensor<T>, classes: usize) -> Result<Vec<usize>, NnError> {
    if t.ndim() > 2 || (t.ndim() == 2 && t.shape()[1] != 1) {
        return Err(NnError::data(format!("class labels must be [n] or [n, 1], got shape {:?}", t.shape())));
    }
    t.data()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = v.to_f64();
            if f < 0.0 || f.fract() != 0.0 || f >= classes as f64 {
                Err(NnError::data(format!("label {v} at position {i} is not a class index below {classes}")))
            } else {
                Ok(f as usize)
            }
        })
        .collect()
}
