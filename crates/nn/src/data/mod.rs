//! Data: everything between files and the training loop, in one tree that needs nothing
//! from the model side.
//!
//! * In memory: [`Dataset`] (`(inputs, targets)` tensor pairs), Keras' tail
//!   [`validation_split_point`], scikit-learn's shuffled (optionally stratified)
//!   [`train_test_split`], shuffled mini-batches, [`one_hot`] encoding and
//!   [`labels_from_tensor`].
//! * [`BatchSource`] (in [`source`]): the inputs of `fit`/`evaluate`/`predict`, which
//!   materialises one batch at a time (a [`Tensor`], or [`U8Images`]: pixel bytes scaled to
//!   floats per batch).
//! * [`datasets`]: file readers (IDX/MNIST, numeric CSV, scikit-learn's toy sets), returning
//!   plain buffers; their errors are [`DataError`](datasets::DataError), which converts into
//!   [`NnError`].
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

pub mod datasets;
pub mod source;

pub use source::{BatchSource, U8Images};

use crate::error::NnError;
use crate::rng::{derived_rng, STREAM_SHUFFLE, STREAM_SPLIT};
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
    one_hot(&labels_from_tensor(labels, classes)?, classes)
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
            if !(f >= 0.0 && f.fract() == 0.0 && f < classes as f64) {
                Err(NnError::data(format!("label {v} at position {i} is not a class index below {classes}")))
            } else {
                Ok(f as usize)
            }
        })
        .collect()
}

/// The class of each sample of `y`: whole-number labels `[n]`/`[n, 1]`, or the arg-max of
/// each row of one-hot (or probability) targets `[n, classes]`.
fn classes_of<T: Float>(y: &Tensor<T>) -> Result<Vec<usize>, NnError> {
    if y.ndim() == 2 && y.shape()[1] > 1 {
        return Ok(y.argmax(-1).0);
    }
    labels_from_tensor(y, usize::MAX).map_err(|e| match e {
        NnError::Data(m) => {
            NnError::data(format!("train_test_split: stratify needs class labels or one-hot rows: {m}"))
        }
        e => e,
    })
}

/// Splits in-memory data into a shuffled training and test part, as scikit-learn's
/// `train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y if
/// stratify)`: `ceil(n · test_fraction)` samples go to the test part, the rest to training,
/// both in random order. With `stratify`, each class (whole-number labels `[n]`, or the
/// arg-max of one-hot rows `[n, classes]`) keeps its proportion in both parts up to
/// rounding. Returns `(x_train, x_test, y_train, y_test)`.
///
/// `fit`'s `validation_split` is another thing: Keras' rule, the *last* fraction of the
/// samples before any shuffling. Split with this function first when the data is sorted
/// (by class, by date) and pass `validation_data`.
///
/// ```
/// use nn::data::train_test_split;
/// use nn::Tensor;
/// let x = Tensor::<f32>::from_vec((0..20).map(|v| v as f32).collect(), [10, 2])?;
/// let y = Tensor::<f32>::from_vec(vec![0., 0., 0., 0., 0., 1., 1., 1., 1., 1.], [10])?;
/// let (x_train, x_test, y_train, y_test) = train_test_split(&x, &y, 0.4, 7, true)?;
/// assert_eq!((x_train.shape(), x_test.shape()), (&[6, 2][..], &[4, 2][..]));
/// assert_eq!(y_test.data().iter().filter(|&&c| c == 1.0).count(), 2); // half of the test part
/// # Ok::<(), nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::InvalidConfig`] unless `0 < test_fraction < 1`; [`NnError::Data`] if `x` and `y`
/// have different numbers of samples, either part would be empty, or (with `stratify`) `y` is
/// not class labels, a class has fewer than 2 samples, or a part is smaller than the number
/// of classes.
#[allow(clippy::type_complexity)]
pub fn train_test_split<T: Float>(
    x: &Tensor<T>,
    y: &Tensor<T>,
    test_fraction: f64,
    seed: u64,
    stratify: bool,
) -> Result<(Tensor<T>, Tensor<T>, Tensor<T>, Tensor<T>), NnError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(NnError::config(format!("train_test_split: test_fraction must be in (0, 1), got {test_fraction}")));
    }
    let ds = Dataset::new(x.clone(), y.clone())?;
    let n = ds.len();
    let n_test = (n as f64 * test_fraction).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(NnError::data(format!(
            "train_test_split: a test fraction of {test_fraction} of {n} samples leaves {} for training and {n_test} for testing",
            n.saturating_sub(n_test)
        )));
    }
    let mut rng = derived_rng(seed, &[STREAM_SPLIT]);
    let (mut train, mut test) = if stratify {
        let classes = classes_of(y)?;
        let k = classes.iter().max().map_or(0, |m| m + 1);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, &c) in classes.iter().enumerate() {
            members[c].push(i);
        }
        let present: Vec<usize> = (0..k).filter(|&c| !members[c].is_empty()).collect();
        if let Some(&c) = present.iter().find(|&&c| members[c].len() < 2) {
            return Err(NnError::data(format!(
                "train_test_split: class {c} has only {} sample; stratifying needs at least 2 per class",
                members[c].len()
            )));
        }
        if n_test < present.len() || n - n_test < present.len() {
            return Err(NnError::data(format!(
                "train_test_split: {n_test} test and {} training samples cannot hold all {} classes",
                n - n_test,
                present.len()
            )));
        }
        // Largest-remainder allocation of the test samples to the classes.
        let exact: Vec<f64> = present.iter().map(|&c| n_test as f64 * members[c].len() as f64 / n as f64).collect();
        let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
        let mut order: Vec<usize> = (0..present.len()).collect();
        order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
        let short = n_test - take.iter().sum::<usize>();
        for &j in order.iter().take(short) {
            take[j] += 1;
        }
        let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
        for (j, &c) in present.iter().enumerate() {
            let idx = &mut members[c];
            idx.shuffle(&mut rng);
            test.extend_from_slice(&idx[..take[j]]);
            train.extend_from_slice(&idx[take[j]..]);
        }
        (train, test)
    } else {
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut rng);
        let train = perm.split_off(n_test);
        (train, perm)
    };
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);
    let (x_train, y_train) = ds.select(&train);
    let (x_test, y_test) = ds.select(&test);
    Ok((x_train, x_test, y_train, y_test))
}
