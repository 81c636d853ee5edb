//! In-memory datasets: `(inputs, targets)` tensor pairs, validation splits, shuffled
//! mini-batches and one-hot encoding; [`BatchSource`], the inputs of `fit`/`evaluate`/
//! `predict`, which materialises one batch at a time (a [`Tensor`], or [`U8Images`]: pixel
//! bytes scaled to floats per batch).
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
use std::ops::Range;
use std::sync::Arc;

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
        Ok(self.split_at(validation_split_point(self.len(), fraction)?))
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

/// Where Keras' `validation_split` cuts `n` samples: the first `floor(n · (1 − fraction))`
/// train, the rest validate (see [`Dataset::split_validation`]; `fit` uses the same rule).
///
/// # Errors
/// [`NnError::InvalidConfig`] unless `0 <= fraction < 1`; [`NnError::Data`] if either part
/// would be empty while `fraction > 0`.
pub fn validation_split_point(n: usize, fraction: f64) -> Result<usize, NnError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(NnError::config(format!("validation_split must be in [0, 1), got {fraction}")));
    }
    let at = (n as f64 * (1.0 - fraction)).floor() as usize;
    if fraction > 0.0 && (at == 0 || at == n) {
        return Err(NnError::data(format!(
            "validation_split {fraction} of {n} samples leaves {at} for training and {} for validation",
            n - at
        )));
    }
    Ok(at)
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

// ------------------------------------------------------------------------ batch sources

/// The inputs of [`fit`](crate::Sequential::fit), [`evaluate`](crate::Sequential::evaluate)
/// and [`predict`](crate::Sequential::predict): `len()` samples of shape `sample_shape()`,
/// materialised one batch at a time by [`gather`](Self::gather).
///
/// A [`Tensor`] `[n, ...]` is a source (a batch is a copy of its rows, as always). Other
/// sources keep the data in a compact or lazy form and build each batch's floats on demand,
/// so the whole float array never exists: [`U8Images`] holds pixel bytes (a quarter of the
/// `f32` size) and scales them per batch; a source could as well read from a memory-mapped
/// file or decode images. The targets stay a [`Tensor`]: they are small next to the inputs.
///
/// The training loop only ever asks for shuffled batches (`gather` with a slice of
/// [`epoch_permutation`]) and for consecutive samples ([`gather_range`](Self::gather_range):
/// evaluation, prediction, unshuffled training and the validation part of
/// `validation_split`, which is therefore just an index range: nothing is copied to split).
/// Fetching a whole batch per call, rather than one sample, lets a source write the batch
/// into one buffer (PyTorch added `Dataset.__getitems__` for the same reason).
///
/// Results are identical whatever the source, as long as it returns the same values: the
/// batches, their order and the arithmetic do not depend on where they came from.
///
/// ```
/// use autograd::Tensor;
/// use nn::data::{BatchSource, U8Images};
/// let pixels = U8Images::new(vec![0u8, 51, 255, 102, 0, 255], [3], 255.0)?;
/// assert_eq!((pixels.len(), pixels.item_shape()), (2, &[3][..]));
/// let batch: Tensor<f32> = pixels.gather(&[1, 0]);
/// assert_eq!(batch.shape(), &[2, 3]);
/// assert_eq!(batch.to_vec(), [0.4, 0.0, 1.0, 0.0, 0.2, 1.0]);
/// # Ok::<(), nn::NnError>(())
/// ```
pub trait BatchSource<T: Float> {
    /// The number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of one sample (a batch of `k` samples has shape `[k, sample_shape..]`).
    fn sample_shape(&self) -> &[usize];

    /// The samples at `indices`, in that order (repeats allowed), as one `[indices.len(),
    /// sample_shape..]` tensor.
    ///
    /// # Panics
    /// If an index is not below [`len`](Self::len).
    fn gather(&self, indices: &[usize]) -> Tensor<T>;

    /// Samples `range.start..range.end`, in order. The default gathers the range's indices;
    /// override it when consecutive samples are cheaper (a [`Tensor`] copies one block, or
    /// returns itself when the range covers it).
    ///
    /// # Panics
    /// If the range goes beyond [`len`](Self::len).
    fn gather_range(&self, range: Range<usize>) -> Tensor<T> {
        self.gather(&range.collect::<Vec<_>>())
    }

    /// Checks that the source can be used (called by `fit`, `evaluate` and `predict` before
    /// anything else). The default accepts; a [`Tensor`] must have a sample axis (not be a
    /// scalar).
    ///
    /// # Errors
    /// [`NnError::Data`] saying what is wrong.
    fn check(&self) -> Result<(), NnError> {
        Ok(())
    }
}

/// Rows of a tensor `[n, ...]`: `gather` is [`Tensor::try_index_select`] on axis 0,
/// `gather_range` [`Tensor::narrow`] (or the tensor itself, without a copy, when the range
/// covers it): exactly the batches that training took before sources existed.
impl<T: Float> BatchSource<T> for Tensor<T> {
    fn len(&self) -> usize {
        self.shape().first().copied().unwrap_or(0)
    }

    fn sample_shape(&self) -> &[usize] {
        self.shape().get(1..).unwrap_or(&[])
    }

    fn gather(&self, indices: &[usize]) -> Tensor<T> {
        self.try_index_select(0, indices).unwrap_or_else(|e| panic!("{e}"))
    }

    fn gather_range(&self, range: Range<usize>) -> Tensor<T> {
        let n = BatchSource::<T>::len(self);
        if range.start == 0 && range.end == n {
            return self.clone();
        }
        self.narrow(0, range.start, range.end.saturating_sub(range.start))
    }

    fn check(&self) -> Result<(), NnError> {
        if self.ndim() == 0 {
            return Err(NnError::data("inputs need a sample axis (they are a scalar)"));
        }
        Ok(())
    }
}

/// A reference to a source is a source (so `&dyn BatchSource<T>` can be passed on).
impl<T: Float, S: BatchSource<T> + ?Sized> BatchSource<T> for &S {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn sample_shape(&self) -> &[usize] {
        (**self).sample_shape()
    }

    fn gather(&self, indices: &[usize]) -> Tensor<T> {
        (**self).gather(indices)
    }

    fn gather_range(&self, range: Range<usize>) -> Tensor<T> {
        (**self).gather_range(range)
    }

    fn check(&self) -> Result<(), NnError> {
        (**self).check()
    }
}

/// Images (or any samples) stored as bytes, converted to floats one batch at a time: value
/// `p` becomes `p / divisor` (computed in `T`), so `divisor: 255.0` maps pixels to `[0, 1]`
/// exactly as [`images_to_f32`](crate::datasets::images_to_f32) does, bit for bit.
///
/// MNIST's 60,000 training images take 47 MB as bytes and 188 MB as `f32`; with this source
/// `fit` never holds more than one batch of floats, so training on bytes gives the same
/// weights as training on the converted tensor with a quarter of its memory.
///
/// Why a divisor and not a scale factor: `p * (1.0 / 255.0)` differs from `p / 255.0` in the
/// last bit for 126 of the 256 byte values in `f32`, which would change every result
/// downstream. Dividing keeps batches identical to the usual preprocessing.
///
/// The bytes are shared (`Arc<Vec<u8>>`, so a `Vec<u8>` moves in without a copy; an
/// `Arc<[u8]>` would copy it), and [`slice`](Self::slice) takes a range of samples without
/// copying: a training and a validation part can use one buffer.
///
/// ```
/// use autograd::Tensor;
/// use nn::data::{BatchSource, U8Images};
/// // Two 2x2 "images".
/// let images = U8Images::new(vec![0u8, 255, 51, 102, 255, 0, 0, 255], [2, 2], 255.0)?;
/// let second: Tensor<f32> = images.slice(1..2).gather_range(0..1);
/// assert_eq!(second.shape(), &[1, 2, 2]);
/// assert_eq!(second.to_vec(), [1.0, 0.0, 0.0, 1.0]);
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct U8Images {
    data: Arc<Vec<u8>>,
    /// The first sample of this view in `data`.
    first: usize,
    len: usize,
    item_shape: Vec<usize>,
    item_len: usize,
    divisor: f32,
}

impl U8Images {
    /// Samples of shape `item_shape` stored one after the other in `data` (for MNIST images
    /// flattened to 784 values, `item_shape` is `[784]`; `[28, 28]` keeps them 2-d). Each
    /// byte `p` becomes `p / divisor`.
    ///
    /// # Errors
    /// [`NnError::Data`] if a sample would hold no values, or `data.len()` is not a whole
    /// number of samples; [`NnError::InvalidConfig`] if `divisor` is zero or not finite.
    pub fn new(data: impl Into<Arc<Vec<u8>>>, item_shape: impl AsRef<[usize]>, divisor: f32) -> Result<Self, NnError> {
        let data = data.into();
        let item_shape = item_shape.as_ref().to_vec();
        let item_len = item_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&l| l > 0)
            .ok_or_else(|| NnError::data(format!("U8Images: samples of shape {item_shape:?} hold no values")))?;
        if data.len() % item_len != 0 {
            return Err(NnError::data(format!(
                "U8Images: {} bytes are not a whole number of samples of shape {item_shape:?} ({item_len} bytes each)",
                data.len()
            )));
        }
        if !(divisor.is_finite() && divisor != 0.0) {
            return Err(NnError::config(format!("U8Images: the divisor must be finite and non-zero, got {divisor}")));
        }
        Ok(U8Images { len: data.len() / item_len, data, first: 0, item_shape, item_len, divisor })
    }

    /// Samples `range` of this view, sharing the bytes (no copy).
    ///
    /// # Panics
    /// If the range is reversed or goes beyond the samples.
    pub fn slice(&self, range: Range<usize>) -> U8Images {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "U8Images::slice: {range:?} is out of range for {} samples",
            self.len
        );
        U8Images { first: self.first + range.start, len: range.end - range.start, ..self.clone() }
    }

    /// The bytes of this view's samples, one sample after the other.
    pub fn bytes(&self) -> &[u8] {
        &self.data[self.first * self.item_len..(self.first + self.len) * self.item_len]
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shape of one sample.
    pub fn item_shape(&self) -> &[usize] {
        &self.item_shape
    }

    /// The divisor applied to each byte.
    pub fn divisor(&self) -> f32 {
        self.divisor
    }

    /// Every sample as one `[len, item_shape..]` tensor (what a batch source avoids; for
    /// small sets and tests).
    pub fn to_tensor<T: Float>(&self) -> Tensor<T> {
        self.gather_range(0..self.len)
    }

    /// The samples `rows` (`k` of them) as floats: `T::from(p) / T::from(divisor)` for each
    /// byte (a division the compiler vectorises; a 256-entry lookup table gives the same values
    /// but was 3x slower, its loads being scalar).
    fn batch<T: Float>(&self, k: usize, rows: impl Iterator<Item = usize>) -> Tensor<T> {
        let d = T::from_f64(f64::from(self.divisor));
        // The bytes first (a cheap copy), then one vectorized conversion of the whole batch.
        let mut bytes = Vec::with_capacity(k * self.item_len);
        for i in rows {
            assert!(i < self.len, "U8Images::gather: index {i} is out of range for {} samples", self.len);
            let start = (self.first + i) * self.item_len;
            bytes.extend_from_slice(&self.data[start..start + self.item_len]);
        }
        let mut shape = Vec::with_capacity(1 + self.item_shape.len());
        shape.push(k);
        shape.extend_from_slice(&self.item_shape);
        Tensor::from_map(&bytes, shape, |p| T::from_f64(f64::from(p)) / d)
            .expect("U8Images: k samples of item_len values")
    }
}

impl<T: Float> BatchSource<T> for U8Images {
    fn len(&self) -> usize {
        self.len
    }

    fn sample_shape(&self) -> &[usize] {
        &self.item_shape
    }

    fn gather(&self, indices: &[usize]) -> Tensor<T> {
        self.batch(indices.len(), indices.iter().copied())
    }

    fn gather_range(&self, range: Range<usize>) -> Tensor<T> {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "U8Images::gather_range: {range:?} is out of range for {} samples",
            self.len
        );
        self.batch(range.end - range.start, range)
    }
}
