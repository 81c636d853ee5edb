//! [`Tensor`]: an immutable, reference-counted n-d array, and the forward kernels on it.

use crate::error::{Error, OrPanic, Result};
use crate::float::Float;
use crate::kernels;
use crate::shape::{self, fmt_shape, numel, Shape};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use smallvec::SmallVec;
use std::fmt;
use std::sync::Arc;

/// An n-dimensional array of `f32` or `f64`, stored contiguously in row-major order.
///
/// A `Tensor` is a value: cloning it is cheap (the buffer is shared behind an [`Arc`]) and no
/// operation mutates a tensor that another handle can see. Operations that record gradients
/// live on [`Var`](crate::Var); the methods here are the plain, untracked computations that
/// the ops are built from, and are useful on their own.
///
/// ```
/// use autograd::Tensor;
/// let t = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3])?;
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.get(&[1, 2]), 6.0);
/// assert_eq!(t.sum_axes(&[0], false).to_vec(), vec![5.0, 7.0, 9.0]);
/// # Ok::<(), autograd::Error>(())
/// ```
pub struct Tensor<T> {
    pub(crate) data: Storage<T>,
    pub(crate) shape: Shape,
}

// By hand: the derived clone copies the shape through `SmallVec::extend`, an out-of-line
// call that was most of the cost of cloning a scalar (tapes clone values per op). So does
// `Shape::clone`; `shape::copy_shape` is used on hot paths instead.
impl<T: Clone> Clone for Tensor<T> {
    #[inline]
    fn clone(&self) -> Self {
        Tensor { data: self.data.clone(), shape: shape::copy_shape(&self.shape) }
    }
}

/// The buffer: one-element tensors (scalars, the bulk of a micrograd-style graph) live
/// inline, so creating, cloning and dropping them never touches the allocator; anything
/// larger is shared behind an `Arc`.
#[derive(Clone)]
pub(crate) enum Storage<T> {
    Inline(T),
    Shared(Arc<Buffer<T>>),
}

/// A heap buffer that goes back to the [`pool`](crate::pool) when dropped (`recycle` is the
/// pool's entry for `T`, kept here so that `Tensor<T>` itself needs no trait bound).
pub(crate) struct Buffer<T> {
    v: Vec<T>,
    recycle: fn(Vec<T>),
}

impl<T> Drop for Buffer<T> {
    fn drop(&mut self) {
        (self.recycle)(std::mem::take(&mut self.v));
    }
}

impl<T: Float> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        let mut v = crate::pool::take(self.v.len());
        v.extend_from_slice(&self.v);
        Buffer { v, recycle: self.recycle }
    }
}

impl<T: Float> Storage<T> {
    #[inline]
    fn from_vec(v: Vec<T>) -> Self {
        if v.len() == 1 {
            Storage::Inline(v[0])
        } else {
            Storage::Shared(Arc::new(Buffer { v, recycle: crate::pool::give::<T> }))
        }
    }
}

impl<T> std::ops::Deref for Storage<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Storage::Inline(v) => std::slice::from_ref(v),
            Storage::Shared(a) => a.v.as_slice(),
        }
    }
}

impl<T: PartialEq> PartialEq for Storage<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Float> Tensor<T> {
    // ----------------------------------------------------------------- constructors

    /// A tensor from row-major data; fails if `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<T>, shape: impl AsRef<[usize]>) -> Result<Self> {
        let shape = shape.as_ref();
        let n = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Error::new("from_vec", format!("shape {} overflows usize", fmt_shape(shape))))?;
        if n != data.len() {
            return Err(Error::new(
                "from_vec",
                format!("shape {} needs {} elements but {} were given", fmt_shape(shape), n, data.len()),
            ));
        }
        Ok(Tensor { data: Storage::from_vec(data), shape: SmallVec::from_slice(shape) })
    }

    /// Internal constructor for kernels that already guarantee the length.
    pub(crate) fn from_parts(data: Vec<T>, shape: Shape) -> Self {
        debug_assert_eq!(data.len(), numel(&shape), "kernel produced wrong length");
        Tensor { data: Storage::from_vec(data), shape }
    }

    /// A tensor of `shape` holding `f(x)` for each element `x` of `src`, which may be of any
    /// type (bytes of an image, integers...), computed in one vectorized pass; fails if
    /// `src.len()` is not the product of `shape`.
    ///
    /// ```
    /// use autograd::Tensor;
    /// let pixels: [u8; 4] = [0, 51, 204, 255];
    /// let t = Tensor::<f32>::from_map(&pixels, [2, 2], |p| f32::from(p) / 255.0)?;
    /// assert_eq!(t.data(), &[0.0, 0.2, 0.8, 1.0]);
    /// # Ok::<(), autograd::Error>(())
    /// ```
    pub fn from_map<S: Copy + Sync>(src: &[S], shape: impl AsRef<[usize]>, f: impl Fn(S) -> T + Sync) -> Result<Self> {
        let shape = shape.as_ref();
        match shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) {
            Some(n) if n == src.len() => {}
            _ => {
                return Err(Error::new(
                    "from_map",
                    format!("shape {} does not hold the {} elements given", fmt_shape(shape), src.len()),
                ))
            }
        }
        let data = kernels::map(src, f);
        Ok(Tensor::from_parts(data, SmallVec::from_slice(shape)))
    }

    /// A 1-d tensor holding a copy of `data`.
    pub fn from_slice(data: &[T]) -> Self {
        Tensor::from_parts(data.to_vec(), SmallVec::from_slice(&[data.len()]))
    }

    /// A 0-d tensor (a scalar) holding `v`.
    pub fn scalar(v: T) -> Self {
        Tensor { data: Storage::Inline(v), shape: Shape::new() }
    }

    /// A tensor of the given shape filled with `v`.
    pub fn full(shape: impl AsRef<[usize]>, v: T) -> Self {
        let shape: Shape = SmallVec::from_slice(shape.as_ref());
        Tensor::from_parts(crate::pool::filled(numel(&shape), v), shape)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: impl AsRef<[usize]>) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// A tensor of ones.
    pub fn ones(shape: impl AsRef<[usize]>) -> Self {
        Self::full(shape, T::ONE)
    }

    /// `[0, 1, ..., n-1]` as a 1-d tensor.
    pub fn arange(n: usize) -> Self {
        Tensor::from_parts((0..n).map(T::from_usize).collect(), SmallVec::from_slice(&[n]))
    }

    /// `start, start + step, ...` up to but excluding `end`, as in `numpy.arange`.
    ///
    /// # Panics
    /// If `step` is zero or not finite.
    pub fn arange_step(start: f64, end: f64, step: f64) -> Self {
        assert!(step != 0.0 && step.is_finite(), "arange_step: step must be finite and non-zero, got {step}");
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        Tensor::from_parts((0..n).map(|i| T::from_f64(start + i as f64 * step)).collect(), SmallVec::from_slice(&[n]))
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize) -> Self {
        let mut d = vec![T::ZERO; n * n];
        for i in 0..n {
            d[i * n + i] = T::ONE;
        }
        Tensor::from_parts(d, SmallVec::from_slice(&[n, n]))
    }

    /// Samples uniformly from `[low, high)`.
    ///
    /// # Panics
    /// If `low >= high` or the range is not finite.
    pub fn rand_uniform<R: Rng + ?Sized>(shape: impl AsRef<[usize]>, low: f64, high: f64, rng: &mut R) -> Self {
        assert!(low < high, "rand_uniform: low ({low}) must be below high ({high})");
        let shape: Shape = SmallVec::from_slice(shape.as_ref());
        let dist = Uniform::new(low, high).unwrap_or_else(|e| panic!("rand_uniform: [{low}, {high}): {e}"));
        let data = (0..numel(&shape)).map(|_| T::from_f64(dist.sample(rng))).collect();
        Tensor::from_parts(data, shape)
    }

    /// Samples from the standard normal distribution N(0, 1).
    pub fn randn<R: Rng + ?Sized>(shape: impl AsRef<[usize]>, rng: &mut R) -> Self {
        Self::rand_normal(shape, 0.0, 1.0, rng)
    }

    /// Samples from N(mean, std^2).
    ///
    /// # Panics
    /// If `std` is negative or not finite.
    pub fn rand_normal<R: Rng + ?Sized>(shape: impl AsRef<[usize]>, mean: f64, std: f64, rng: &mut R) -> Self {
        assert!(std >= 0.0 && std.is_finite(), "rand_normal: std must be finite and >= 0, got {std}");
        let shape: Shape = SmallVec::from_slice(shape.as_ref());
        let data = (0..numel(&shape))
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                T::from_f64(mean + std * z)
            })
            .collect();
        Tensor::from_parts(data, shape)
    }

    // ----------------------------------------------------------------- access

    /// The dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions (0 for a scalar).
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements in row-major order, copied (or moved, if this is the only handle).
    pub fn to_vec(&self) -> Vec<T> {
        self.data.to_vec()
    }

    /// The elements, without copying when this handle is the only one.
    pub fn into_vec(self) -> Vec<T> {
        match self.data {
            Storage::Inline(v) => vec![v],
            Storage::Shared(a) => match Arc::try_unwrap(a) {
                Ok(mut b) => std::mem::take(&mut b.v),
                Err(a) => a.v.clone(),
            },
        }
    }

    /// Mutable access to the elements; copies the buffer first if it is shared (copy on write).
    pub fn data_mut(&mut self) -> &mut [T] {
        match &mut self.data {
            Storage::Inline(v) => std::slice::from_mut(v),
            Storage::Shared(a) => Arc::make_mut(a).v.as_mut_slice(),
        }
    }

    /// Whether two tensors share one heap buffer (used to check that ops avoid copies).
    /// Always false for one-element tensors, which are stored inline.
    pub fn shares_buffer(&self, other: &Tensor<T>) -> bool {
        match (&self.data, &other.data) {
            (Storage::Shared(a), Storage::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The element at a multi-index; `None` if the index has the wrong length or is out of range.
    pub fn try_get(&self, index: &[usize]) -> Option<T> {
        if index.len() != self.ndim() {
            return None;
        }
        let mut off = 0;
        for (&i, &d) in index.iter().zip(self.shape.iter()) {
            if i >= d {
                return None;
            }
            off = off * d + i;
        }
        Some(self.data[off])
    }

    /// The element at a multi-index.
    ///
    /// # Panics
    /// If the index has the wrong number of dimensions or is out of range.
    pub fn get(&self, index: &[usize]) -> T {
        self.try_get(index).unwrap_or_else(|| {
            panic!("get: index {:?} is invalid for a tensor of shape {}", index, fmt_shape(&self.shape))
        })
    }

    /// The value of a 0-d tensor, `None` for any other shape (the scalar lane of the
    /// backward sweep).
    #[inline]
    pub(crate) fn as_scalar(&self) -> Option<T> {
        match self.data {
            Storage::Inline(v) if self.shape.is_empty() => Some(v),
            _ => None,
        }
    }

    /// The value of a 0-d tensor, to update in place; `None` for any other shape.
    #[inline]
    pub(crate) fn scalar_mut(&mut self) -> Option<&mut T> {
        match &mut self.data {
            Storage::Inline(v) if self.shape.is_empty() => Some(v),
            _ => None,
        }
    }

    /// The single value of a tensor with one element (any shape, e.g. `[]` or `[1, 1]`).
    ///
    /// # Panics
    /// If the tensor does not have exactly one element.
    pub fn item(&self) -> T {
        assert!(
            self.data.len() == 1,
            "item: tensor of shape {} has {} elements, expected exactly 1",
            fmt_shape(&self.shape),
            self.data.len()
        );
        self.data[0]
    }

    /// Converts the elements to another float type (`f32` <-> `f64`).
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_parts(self.data.iter().map(|&v| U::from_f64(v.to_f64())).collect(), self.shape.clone())
    }

    /// Whether every element is finite (no NaN or infinity).
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }

    /// The largest absolute elementwise difference to `other` (same shape required), or
    /// infinity if the shapes differ.
    pub fn max_abs_diff(&self, other: &Tensor<T>) -> f64 {
        if self.shape != other.shape {
            return f64::INFINITY;
        }
        self.data.iter().zip(other.data.iter()).map(|(a, b)| (a.to_f64() - b.to_f64()).abs()).fold(0.0, f64::max)
    }

    /// Whether `self` and `other` have the same shape and all elements are within
    /// `atol + rtol * |other|` (NumPy's `allclose`).
    pub fn allclose(&self, other: &Tensor<T>, rtol: f64, atol: f64) -> bool {
        self.shape == other.shape
            && self.data.iter().zip(other.data.iter()).all(|(a, b)| {
                let (a, b) = (a.to_f64(), b.to_f64());
                (a - b).abs() <= atol + rtol * b.abs() || (a == b)
            })
    }

    // ----------------------------------------------------------------- elementwise

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
        if let Storage::Inline(v) = self.data {
            return Tensor { data: Storage::Inline(f(v)), shape: shape::copy_shape(&self.shape) };
        }
        Tensor::from_parts(kernels::map(&self.data, f), shape::copy_shape(&self.shape))
    }

    /// Combines two tensors elementwise with NumPy broadcasting.
    pub fn try_zip_with(&self, other: &Tensor<T>, op: &'static str, f: impl Fn(T, T) -> T + Sync) -> Result<Tensor<T>> {
        if let (Storage::Inline(a), Storage::Inline(b)) = (&self.data, &other.data) {
            if shape::same_shape(&self.shape, &other.shape) {
                return Ok(Tensor { data: Storage::Inline(f(*a, *b)), shape: shape::copy_shape(&self.shape) });
            }
        }
        let out_shape = shape::broadcast_shapes(op, &self.shape, &other.shape)?;
        let data = kernels::zip_broadcast(&self.data, &self.shape, &other.data, &other.shape, &out_shape, f);
        Ok(Tensor::from_parts(data, out_shape))
    }

    /// Like [`try_zip_with`](Self::try_zip_with), panicking with the error message on a shape mismatch.
    pub fn zip_with(&self, other: &Tensor<T>, op: &'static str, f: impl Fn(T, T) -> T + Sync) -> Tensor<T> {
        self.try_zip_with(other, op, f).or_panic()
    }

    /// Elementwise sum with broadcasting.
    pub fn add(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "add", |a, b| a + b)
    }
    /// Elementwise difference with broadcasting.
    pub fn sub(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "sub", |a, b| a - b)
    }
    /// Elementwise product with broadcasting.
    pub fn mul(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "mul", |a, b| a * b)
    }
    /// Elementwise quotient with broadcasting.
    pub fn div(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "div", |a, b| a / b)
    }
    /// Multiplies every element by `c`.
    pub fn scale(&self, c: T) -> Tensor<T> {
        self.map(|a| a * c)
    }

    /// 1 where `self > other` (broadcast), else 0.
    pub fn gt(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "gt", |a, b| if a > b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self >= other` (broadcast), else 0.
    pub fn ge(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "ge", |a, b| if a >= b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self < other` (broadcast), else 0.
    pub fn lt(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "lt", |a, b| if a < b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self <= other` (broadcast), else 0.
    pub fn le(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "le", |a, b| if a <= b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self == other` (broadcast), else 0.
    pub fn eq_mask(&self, other: &Tensor<T>) -> Tensor<T> {
        self.zip_with(other, "eq", |a, b| if a == b { T::ONE } else { T::ZERO })
    }
}

// --------------------------------------------------------------------- formatting

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor(shape={}, dtype={}, ", fmt_shape(&self.shape), T::NAME)?;
        fmt_nested(self, f, 7)?;
        write!(f, ")")
    }
}

/// Prints like NumPy: nested brackets, aligned columns, and `...` in place of the middle of
/// any dimension longer than 6 once the tensor has more than 1000 elements.
impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nested(self, f, 0)
    }
}

fn fmt_nested<T: Float>(t: &Tensor<T>, f: &mut fmt::Formatter<'_>, indent: usize) -> fmt::Result {
    let summarise = t.numel() > 1000;
    let prec = f.precision().unwrap_or(4);
    let fmt_val = |v: T| -> String {
        let x = v.to_f64();
        if x.is_nan() {
            "nan".into()
        } else if x.is_infinite() {
            if x > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            }
        } else if x != 0.0 && (x.abs() >= 1e8 || x.abs() < 1e-4) {
            format!("{x:.prec$e}")
        } else {
            format!("{x:.prec$}")
        }
    };
    if t.ndim() == 0 {
        return write!(f, "{}", fmt_val(t.data[0]));
    }
    let width = t.data.iter().map(|&v| fmt_val(v).len()).max().unwrap_or(1);
    let strides = shape::contiguous_strides(&t.shape);
    #[allow(clippy::too_many_arguments)]
    fn rec<T: Float>(
        t: &Tensor<T>,
        f: &mut fmt::Formatter<'_>,
        dim: usize,
        offset: usize,
        strides: &[usize],
        width: usize,
        indent: usize,
        summarise: bool,
        fmt_val: &dyn Fn(T) -> String,
    ) -> fmt::Result {
        let n = t.shape[dim];
        let edge = 3;
        let show: Vec<Option<usize>> = if summarise && n > 2 * edge {
            (0..edge).map(Some).chain(std::iter::once(None)).chain((n - edge..n).map(Some)).collect()
        } else {
            (0..n).map(Some).collect()
        };
        write!(f, "[")?;
        let last = dim + 1 == t.ndim();
        for (k, i) in show.iter().enumerate() {
            if k > 0 {
                if last {
                    write!(f, " ")?;
                } else {
                    let blank = t.ndim() - dim - 1;
                    for _ in 0..blank {
                        writeln!(f)?;
                    }
                    write!(f, "{:width$}", "", width = indent + dim + 1)?;
                }
            }
            match i {
                None => write!(f, "...")?,
                Some(i) => {
                    let off = offset + i * strides[dim];
                    if last {
                        write!(f, "{:>width$}", fmt_val(t.data[off]), width = width)?;
                    } else {
                        rec(t, f, dim + 1, off, strides, width, indent, summarise, fmt_val)?;
                    }
                }
            }
        }
        write!(f, "]")
    }
    rec(t, f, 0, 0, &strides, width, indent, summarise, &fmt_val)
}

impl<T: Float> PartialEq for Tensor<T> {
    /// Same shape and elementwise equal values (so NaN != NaN, as for floats).
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.data == other.data
    }
}
