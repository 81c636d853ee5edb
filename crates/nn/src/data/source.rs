//! [`BatchSource`]: the inputs of `fit`, `evaluate` and `predict`, one batch at a time; a
//! [`Tensor`] is one, and [`U8Images`] keeps images as bytes.

use crate::error::NnError;
use autograd::{Float, Tensor};
use std::ops::Range;
use std::sync::Arc;

/// The inputs of [`fit`](crate::Model::fit), [`evaluate`](crate::Model::evaluate)
/// and [`predict`](crate::Model::predict): `len()` samples of shape `sample_shape()`,
/// materialised one batch at a time by [`gather`](Self::gather).
///
/// A [`Tensor`] `[n, ...]` is a source (a batch is a copy of its rows, as always). Other
/// sources keep the data in a compact or lazy form and build each batch's floats on demand,
/// so the whole float array never exists: [`U8Images`] holds pixel bytes (a quarter of the
/// `f32` size) and scales them per batch; a source could as well read from a memory-mapped
/// file or decode images. The targets stay a [`Tensor`]: they are small next to the inputs.
///
/// The training loop only ever asks for shuffled batches (`gather` with a slice of
/// [`epoch_permutation`](super::epoch_permutation)) and for consecutive samples ([`gather_range`](Self::gather_range):
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

    /// The first sample holding a NaN or an infinity, and the position of that value within
    /// the sample, or `None` if every value is finite. `fit` and `evaluate` call it before
    /// training (unless told not to): a NaN input trains silently into NaN weights otherwise.
    /// The default converts the samples in chunks of 1024; a source whose values cannot be
    /// non-finite (bytes scaled by a finite divisor) says so without looking.
    fn first_non_finite(&self) -> Option<(usize, usize)> {
        const CHUNK: usize = 1024;
        let n = self.len();
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let t = self.gather_range(start..end);
            if let Some(i) = t.data().iter().position(|v| !v.is_finite()) {
                let per = t.numel() / (end - start).max(1);
                return Some((start + i / per.max(1), i % per.max(1)));
            }
            start = end;
        }
        None
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

    fn first_non_finite(&self) -> Option<(usize, usize)> {
        let per: usize = self.shape().iter().skip(1).product();
        self.data().iter().position(|v| !v.is_finite()).map(|i| (i / per.max(1), i % per.max(1)))
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

    fn first_non_finite(&self) -> Option<(usize, usize)> {
        (**self).first_non_finite()
    }
}

/// Images (or any samples) stored as bytes, converted to floats one batch at a time: value
/// `p` becomes `p / divisor` (computed in `T`), so `divisor: 255.0` maps pixels to `[0, 1]`
/// exactly as [`images_to_f32`](crate::data::datasets::images_to_f32) does, bit for bit.
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

    /// Bytes divided by a finite, non-zero divisor are always finite.
    fn first_non_finite(&self) -> Option<(usize, usize)> {
        None
    }
}
