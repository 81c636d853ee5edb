//! In-memory datasets: `(inputs, targets)` tensor pairs, validation splits, shuffled
//! mini-batches and one-hot encoding.
//!
//! Shuffling is derived from `(seed, epoch)` ([`epoch_permutation`]), so epoch `e` sees the
//! same order whether or not training was interrupted before it.
//!
//! ```
//! use autograd::Tensor;
//! use nn::data::Dataset;
//! let x = Tensor::<f32>::from_vec((0..20).map(|v| v as f32).collect(), [10, 2])?;
//! let y = Tensor::<f32>::from_vec((0..10).map(|v| v as f32).collect(), [10])?;
//! let ds = Dataset::new(x, y)?;
//! let (train, val) = ds.split_validation(0.2)?; // the last 2 samples, as Keras
//! assert_eq!((train.len(), val.len()), (8, 2));
//! let mut seen: Vec<f32> = train.batches(3, Some((42, 0))).flat_map(|(_, y)| y.to_vec()).collect();
//! seen.sort_by(f32::total_cmp);
//! assert_eq!(seen, (0..8).map(|v| v as f32).collect::<Vec<_>>());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::NnError;
use crate::rng::{derived_rng, STREAM_SHUFFLE};
use autograd::{Float, Tensor};
use rand::seq::SliceRandom;

/// A dataset held in memory: inputs and targets with the same number of samples (their
/// first axis).
#[derive(Clone, Debug)]
pub struct Dataset<T: Float> {
    x: Tensor<T>,
    y: Tensor<T>,
}

impl<T: Float> Dataset<T> {
    /// A dataset of `x` (`[n, ...]`) and `y` (`[n, ...]`).
    ///
    /// # Errors
    /// [`NnError::Data`] if either is a scalar or their first dimensions differ.
    pub fn new(x: Tensor<T>, y: Tensor<T>) -> Result<Self, NnError> {
        if x.ndim() == 0 || y.ndim() == 0 {
            return Err(NnError::data("inputs and targets need a sample axis (they are scalars)"));
        }
        if x.shape()[0] != y.shape()[0] {
            return Err(NnError::data(format!(
                "inputs have {} samples (shape {:?}) but targets {} (shape {:?})",
                x.shape()[0],
                x.shape(),
                y.shape()[0],
                y.shape()
            )));
        }
        Ok(Dataset { x, y })
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The inputs.
    pub fn x(&self) -> &Tensor<T> {
        &self.x
    }

    /// The targets.
    pub fn y(&self) -> &Tensor<T> {
        &self.y
    }

    /// Samples `[0, at)` and `[at, n)`.
    ///
    /// # Panics
    /// If `at > len()`.
    pub fn split_at(&self, at: usize) -> (Dataset<T>, Dataset<T>) {
        let n = self.len();
        assert!(at <= n, "Dataset::split_at: {at} is beyond {n} samples");
        (
            Dataset { x: self.x.narrow(0, 0, at), y: self.y.narrow(0, 0, at) },
            Dataset { x: self.x.narrow(0, at, n - at), y: self.y.narrow(0, at, n - at) },
        )
    }

    /// Keras' `validation_split`: the **last** `fraction` of the samples (before any
    /// shuffling) become the validation set, `floor(n · (1 − fraction))` samples stay for
    /// training.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] unless `0 <= fraction < 1`; [`NnError::Data`] if either
    /// part would be empty while `fraction > 0`.
    pub fn split_validation(&self, fraction: f64) -> Result<(Dataset<T>, Dataset<T>), NnError> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(NnError::config(format!("validation_split must be in [0, 1), got {fraction}")));
        }
        let n = self.len();
        let at = (n as f64 * (1.0 - fraction)).floor() as usize;
        if fraction > 0.0 && (at == 0 || at == n) {
            return Err(NnError::data(format!(
                "validation_split {fraction} of {n} samples leaves {at} for training and {} for validation",
                n - at
            )));
        }
        Ok(self.split_at(at))
    }

    /// The samples at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, indices: &[usize]) -> (Tensor<T>, Tensor<T>) {
        let x = self.x.try_index_select(0, indices).unwrap_or_else(|e| panic!("{e}"));
        let y = self.y.try_index_select(0, indices).unwrap_or_else(|e| panic!("{e}"));
        (x, y)
    }

    /// Mini-batches of `batch_size` samples (the last one smaller if `batch_size` does not
    /// divide the length), in order, or shuffled by [`epoch_permutation`]`(n, seed, epoch)`
    /// when `shuffle = Some((seed, epoch))`.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn batches(&self, batch_size: usize, shuffle: Option<(u64, u64)>) -> Batches<'_, T> {
        assert!(batch_size > 0, "Dataset::batches: batch_size must be positive");
        let order = shuffle.map(|(seed, epoch)| epoch_permutation(self.len(), seed, epoch));
        Batches { ds: self, order, batch_size, pos: 0 }
    }
}

/// The number of batches of `batch_size` in `n` samples (the last one possibly partial).
pub fn num_batches(n: usize, batch_size: usize) -> usize {
    n.div_ceil(batch_size.max(1))
}

/// A permutation of `0..n` derived from `(seed, epoch)` alone: the shuffle of that epoch.
pub fn epoch_permutation(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut derived_rng(seed, &[STREAM_SHUFFLE, epoch]));
    idx
}

/// An iterator over mini-batches, from [`Dataset::batches`].
pub struct Batches<'a, T: Float> {
    ds: &'a Dataset<T>,
    order: Option<Vec<usize>>,
    batch_size: usize,
    pos: usize,
}

impl<T: Float> Iterator for Batches<'_, T> {
    type Item = (Tensor<T>, Tensor<T>);
    fn next(&mut self) -> Option<Self::Item> {
        let n = self.ds.len();
        if self.pos >= n {
            return None;
        }
        let end = (self.pos + self.batch_size).min(n);
        let out = match &self.order {
            Some(o) => self.ds.select(&o[self.pos..end]),
            None => (self.ds.x.narrow(0, self.pos, end - self.pos), self.ds.y.narrow(0, self.pos, end - self.pos)),
        };
        self.pos = end;
        Some(out)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = num_batches(self.ds.len() - self.pos.min(self.ds.len()), self.batch_size);
        (left, Some(left))
    }
}

impl<T: Float> ExactSizeIterator for Batches<'_, T> {}

/// One-hot encoding: `[labels.len(), classes]` with a 1 at each label
/// (`keras.utils.to_categorical`).
///
/// # Errors
/// [`NnError::Data`] naming the first label that is not below `classes`.
pub fn one_hot<T: Float>(labels: &[usize], classes: usize) -> Result<Tensor<T>, NnError> {
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(NnError::data(format!("one_hot: label {l} at position {i} is not below {classes} classes")));
    }
    Ok(Tensor::try_one_hot(labels, classes)?)
}

/// [`one_hot`] of a tensor of whole-number labels (`[n]` or `[n, 1]`).
///
/// # Errors
/// [`NnError::Data`] if a value is not a whole number below `classes`.
pub fn one_hot_tensor<T: Float>(labels: &Tensor<T>, classes: usize) -> Result<Tensor<T>, NnError> {
    one_hot(&crate::losses::labels_from_tensor(labels, classes)?, classes)
}
