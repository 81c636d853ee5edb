//! [`Tensor`]: an immutable, reference-counted n-d array, and the forward kernels on it.

use crate::error::{Error, Result};
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
    data: Storage<T>,
    shape: Shape,
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
enum Storage<T> {
    Inline(T),
    Shared(Arc<Buffer<T>>),
}

/// A heap buffer that goes back to the [`pool`](crate::pool) when dropped (`recycle` is the
/// pool's entry for `T`, kept here so that `Tensor<T>` itself needs no trait bound).
struct Buffer<T> {
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
    /// If `low >= high`.
    pub fn rand_uniform<R: Rng + ?Sized>(shape: impl AsRef<[usize]>, low: f64, high: f64, rng: &mut R) -> Self {
        assert!(low < high, "rand_uniform: low ({low}) must be below high ({high})");
        let shape: Shape = SmallVec::from_slice(shape.as_ref());
        let dist = Uniform::new(low, high);
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
        self.try_zip_with(other, op, f).unwrap_or_else(|e| panic!("{e}"))
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

    // ----------------------------------------------------------------- reductions

    /// Sums over `axes` (all axes if empty); `keepdim` keeps reduced axes with size 1.
    ///
    /// # Panics
    /// On an out-of-range or repeated axis.
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        self.reduce("sum", axes, keepdim, T::ZERO, |a, x| a + x)
    }

    /// Maximum over `axes` (all if empty). Reducing an empty axis gives -infinity.
    pub fn max_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        self.reduce("max", axes, keepdim, T::NEG_INFINITY, |a, x| if x > a || x.is_nan() { x } else { a })
    }

    /// Minimum over `axes` (all if empty). Reducing an empty axis gives +infinity.
    pub fn min_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        self.reduce("min", axes, keepdim, T::INFINITY, |a, x| if x < a || x.is_nan() { x } else { a })
    }

    /// Sum of all elements as a plain number.
    pub fn sum_all(&self) -> T {
        kernels::sum(&self.data)
    }

    /// Mean of all elements as a plain number (NaN for an empty tensor).
    pub fn mean_all(&self) -> T {
        self.sum_all() / T::from_usize(self.numel())
    }

    /// A general fold over axes, with `init` as the identity.
    pub fn reduce(&self, op: &'static str, axes: &[isize], keepdim: bool, init: T, f: impl Fn(T, T) -> T) -> Tensor<T> {
        let axes = shape::normalize_axes(op, axes, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        let mut kept: Shape = self.shape.clone();
        for &a in &axes {
            kept[a] = 1;
        }
        let data = kernels::reduce(&self.data, &self.shape, &kept, init, f);
        let out_shape = if keepdim { kept } else { drop_axes(&self.shape, &axes) };
        Tensor::from_parts(data, out_shape)
    }

    /// Reduces a tensor that was broadcast to `self.shape` back to `shape` by summing over the
    /// broadcast dimensions (the backward of broadcasting).
    pub fn sum_to(&self, shape: &[usize]) -> Tensor<T> {
        if shape::same_shape(&self.shape, shape) {
            return self.clone();
        }
        assert!(
            shape::broadcasts_to(shape, &self.shape),
            "sum_to: shape {} does not broadcast to {}",
            fmt_shape(shape),
            fmt_shape(&self.shape)
        );
        let off = self.ndim() - shape.len();
        let mut kept: Shape = self.shape.clone();
        for i in 0..self.ndim() {
            if i < off || shape[i - off] == 1 {
                kept[i] = 1;
            }
        }
        let data = kernels::reduce(&self.data, &self.shape, &kept, T::ZERO, |a, x| a + x);
        Tensor::from_parts(data, SmallVec::from_slice(shape))
    }

    /// Index of the largest element along `axis` (first one on ties), as numbers of type `usize`.
    /// The result has the input's shape without `axis`.
    pub fn argmax(&self, axis: isize) -> (Vec<usize>, Shape) {
        self.arg_reduce("argmax", axis, |x, best| x > best)
    }

    /// Index of the smallest element along `axis` (first one on ties).
    pub fn argmin(&self, axis: isize) -> (Vec<usize>, Shape) {
        self.arg_reduce("argmin", axis, |x, best| x < best)
    }

    fn arg_reduce(&self, op: &'static str, axis: isize, better: impl Fn(T, T) -> bool) -> (Vec<usize>, Shape) {
        let ax = shape::normalize_axis(op, axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        let (outer, n, inner) = split_at_axis(&self.shape, ax);
        assert!(n > 0, "{op}: axis {ax} of shape {} is empty", fmt_shape(&self.shape));
        let mut out = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let base = o * n * inner + i;
                let mut best = self.data[base];
                let mut bi = 0;
                for k in 1..n {
                    let v = self.data[base + k * inner];
                    if better(v, best) || (v.is_nan() && !best.is_nan()) {
                        best = v;
                        bi = k;
                    }
                }
                out.push(bi);
            }
        }
        (out, drop_axes(&self.shape, &[ax]))
    }

    // ----------------------------------------------------------------- shape

    /// The same data (shared, not copied) with a new shape of equal size. See
    /// [`try_reshape_infer`](Self::try_reshape_infer) for a `-1` dimension.
    pub fn try_reshape(&self, shape: impl AsRef<[usize]>) -> Result<Tensor<T>> {
        let shape = shape.as_ref();
        if numel(shape) != self.numel() {
            return Err(Error::new(
                "reshape",
                format!(
                    "cannot reshape {} ({} elements) into {} ({} elements)",
                    fmt_shape(&self.shape),
                    self.numel(),
                    fmt_shape(shape),
                    numel(shape)
                ),
            ));
        }
        Ok(Tensor { data: self.data.clone(), shape: SmallVec::from_slice(shape) })
    }

    /// Reshape where one entry may be `-1`, inferred from the others (as in NumPy).
    pub fn try_reshape_infer(&self, shape: &[isize]) -> Result<Tensor<T>> {
        let s = infer_shape(shape, self.numel(), &self.shape)?;
        self.try_reshape(s)
    }

    /// Like [`try_reshape`](Self::try_reshape), panicking on a size mismatch.
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Tensor<T> {
        self.try_reshape(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reorders the dimensions: output dimension `i` is input dimension `perm[i]`.
    pub fn try_permute(&self, perm: &[usize]) -> Result<Tensor<T>> {
        check_perm(perm, self.ndim())?;
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let in_strides = shape::contiguous_strides(&self.shape);
        let out_shape: Shape = perm.iter().map(|&p| self.shape[p]).collect();
        let strides: Shape = perm.iter().map(|&p| in_strides[p]).collect();
        let data = kernels::gather_strided(&self.data, &out_shape, &strides);
        Ok(Tensor::from_parts(data, out_shape))
    }

    /// Like [`try_permute`](Self::try_permute), panicking on an invalid permutation.
    pub fn permute(&self, perm: &[usize]) -> Tensor<T> {
        self.try_permute(perm).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Swaps two dimensions (negative indices count from the end).
    pub fn transpose(&self, a: isize, b: isize) -> Tensor<T> {
        let perm = swap_perm("transpose", self.ndim(), a, b).unwrap_or_else(|e| panic!("{e}"));
        self.permute(&perm)
    }

    /// Materialises the broadcast of this tensor to `shape`.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        if self.shape.as_slice() == shape {
            return Ok(self.clone());
        }
        if !shape::broadcasts_to(&self.shape, shape) {
            return Err(Error::new(
                "broadcast_to",
                format!("shape {} cannot be broadcast to {}", fmt_shape(&self.shape), fmt_shape(shape)),
            ));
        }
        let strides = shape::broadcast_strides(&self.shape, shape);
        let data = kernels::gather_strided(&self.data, shape, &strides);
        Ok(Tensor::from_parts(data, SmallVec::from_slice(shape)))
    }

    /// Like [`try_broadcast_to`](Self::try_broadcast_to), panicking on incompatible shapes.
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        self.try_broadcast_to(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `len` consecutive entries along `axis` starting at `start`.
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor<T>> {
        let ax = shape::normalize_axis("narrow", axis, self.ndim())?;
        let (outer, n, inner) = split_at_axis(&self.shape, ax);
        if start.checked_add(len).is_none_or(|e| e > n) {
            return Err(Error::new(
                "narrow",
                format!(
                    "range {}..{} is out of bounds for axis {} of size {} (shape {})",
                    start,
                    start.saturating_add(len),
                    ax,
                    n,
                    fmt_shape(&self.shape)
                ),
            ));
        }
        let mut out = crate::pool::take(outer * len * inner);
        for o in 0..outer {
            let base = (o * n + start) * inner;
            out.extend_from_slice(&self.data[base..base + len * inner]);
        }
        let mut s = self.shape.clone();
        s[ax] = len;
        Ok(Tensor::from_parts(out, s))
    }

    /// Like [`try_narrow`](Self::try_narrow), panicking when out of bounds.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Tensor<T> {
        self.try_narrow(axis, start, len).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Places this tensor at `start` along `axis` inside zeros of size `total` along that axis
    /// (the adjoint of [`narrow`](Self::narrow)).
    pub fn pad_axis(&self, axis: usize, start: usize, total: usize) -> Tensor<T> {
        let (outer, len, inner) = split_at_axis(&self.shape, axis);
        assert!(start + len <= total, "pad_axis: {start}+{len} exceeds {total}");
        let mut out = crate::pool::filled(outer * total * inner, T::ZERO);
        for o in 0..outer {
            let dst = (o * total + start) * inner;
            out[dst..dst + len * inner].copy_from_slice(&self.data[o * len * inner..(o + 1) * len * inner]);
        }
        let mut s = self.shape.clone();
        s[axis] = total;
        Tensor::from_parts(out, s)
    }

    /// Joins tensors along an existing axis; all other dimensions must agree.
    pub fn try_concat(tensors: &[&Tensor<T>], axis: isize) -> Result<Tensor<T>> {
        let first = tensors.first().ok_or_else(|| Error::new("concat", "needs at least one tensor"))?;
        let ax = shape::normalize_axis("concat", axis, first.ndim())?;
        let mut total = 0;
        for t in tensors {
            let ok = t.ndim() == first.ndim()
                && t.shape.iter().zip(first.shape.iter()).enumerate().all(|(i, (a, b))| i == ax || a == b);
            if !ok {
                return Err(Error::new(
                    "concat",
                    format!(
                        "shapes {} and {} differ outside axis {}",
                        fmt_shape(&first.shape),
                        fmt_shape(&t.shape),
                        ax
                    ),
                ));
            }
            total += t.shape[ax];
        }
        let (outer, _, inner) = split_at_axis(&first.shape, ax);
        let mut out = crate::pool::take(outer * total * inner);
        for o in 0..outer {
            for t in tensors {
                let len = t.shape[ax] * inner;
                out.extend_from_slice(&t.data[o * len..(o + 1) * len]);
            }
        }
        let mut s = first.shape.clone();
        s[ax] = total;
        Ok(Tensor::from_parts(out, s))
    }

    /// Rows (entries along `axis`) picked by `indices`, in that order, repeats allowed.
    pub fn try_index_select(&self, axis: isize, indices: &[usize]) -> Result<Tensor<T>> {
        let ax = shape::normalize_axis("index_select", axis, self.ndim())?;
        let (outer, n, inner) = split_at_axis(&self.shape, ax);
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::new(
                "index_select",
                format!("index {bad} is out of range for axis {ax} of size {n} (shape {})", fmt_shape(&self.shape)),
            ));
        }
        let mut out = crate::pool::take(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let base = (o * n + i) * inner;
                out.extend_from_slice(&self.data[base..base + inner]);
            }
        }
        let mut s = self.shape.clone();
        s[ax] = indices.len();
        Ok(Tensor::from_parts(out, s))
    }

    /// Adds the rows of `self` (entries along `axis`) into zeros of size `size` at `indices`
    /// (repeated indices accumulate): the adjoint of [`try_index_select`](Self::try_index_select).
    pub fn index_add_into(&self, axis: usize, indices: &[usize], size: usize) -> Tensor<T> {
        let (outer, k, inner) = split_at_axis(&self.shape, axis);
        assert_eq!(k, indices.len(), "index_add: {} rows for {} indices", k, indices.len());
        let mut out = crate::pool::filled(outer * size * inner, T::ZERO);
        for o in 0..outer {
            for (j, &i) in indices.iter().enumerate() {
                let src = (o * k + j) * inner;
                let dst = (o * size + i) * inner;
                for t in 0..inner {
                    out[dst + t] += self.data[src + t];
                }
            }
        }
        let mut s = self.shape.clone();
        s[axis] = size;
        Tensor::from_parts(out, s)
    }

    /// `out[.., j, ..] = self[.., index[.., j, ..], ..]` along `axis`, as `torch.gather`.
    /// `index` is row-major with the shape of `self` except along `axis`, where its size is
    /// `index.len() / (other dimensions)`.
    pub fn try_gather(&self, axis: isize, index: &[usize]) -> Result<Tensor<T>> {
        let ax = shape::normalize_axis("gather", axis, self.ndim())?;
        let (outer, n, inner) = split_at_axis(&self.shape, ax);
        let others = outer * inner;
        if (others == 0 && !index.is_empty()) || (others != 0 && !index.len().is_multiple_of(others)) {
            return Err(Error::new(
                "gather",
                format!("{} indices do not fit shape {} along axis {}", index.len(), fmt_shape(&self.shape), ax),
            ));
        }
        let k = index.len().checked_div(others).unwrap_or(0);
        if let Some(&bad) = index.iter().find(|&&i| i >= n) {
            return Err(Error::new(
                "gather",
                format!("index {bad} is out of range for axis {ax} of size {n} (shape {})", fmt_shape(&self.shape)),
            ));
        }
        let mut out = crate::pool::take(index.len());
        for o in 0..outer {
            for j in 0..k {
                for i in 0..inner {
                    let idx = index[(o * k + j) * inner + i];
                    out.push(self.data[(o * n + idx) * inner + i]);
                }
            }
        }
        let mut s = self.shape.clone();
        s[ax] = k;
        Ok(Tensor::from_parts(out, s))
    }

    /// Adds `self` into zeros of size `size` along `axis` at the positions `index` (the
    /// adjoint of [`try_gather`](Self::try_gather)).
    pub fn scatter_add_into(&self, axis: usize, index: &[usize], size: usize) -> Tensor<T> {
        let (outer, k, inner) = split_at_axis(&self.shape, axis);
        let mut out = crate::pool::filled(outer * size * inner, T::ZERO);
        for o in 0..outer {
            for j in 0..k {
                for i in 0..inner {
                    let p = (o * k + j) * inner + i;
                    out[(o * size + index[p]) * inner + i] += self.data[p];
                }
            }
        }
        let mut s = self.shape.clone();
        s[axis] = size;
        Tensor::from_parts(out, s)
    }

    /// One-hot rows: `[labels.len(), classes]` with a 1 at each label.
    pub fn try_one_hot(labels: &[usize], classes: usize) -> Result<Tensor<T>> {
        let mut out = crate::pool::filled(labels.len() * classes, T::ZERO);
        for (r, &l) in labels.iter().enumerate() {
            if l >= classes {
                return Err(Error::new("one_hot", format!("label {l} at position {r} is not below {classes} classes")));
            }
            out[r * classes + l] = T::ONE;
        }
        Ok(Tensor::from_parts(out, SmallVec::from_slice(&[labels.len(), classes])))
    }

    // ----------------------------------------------------------------- linear algebra

    /// Matrix product with `numpy.matmul` semantics: 1-d operands are promoted to a row
    /// (left) or column (right) and the added dimension removed after; leading (batch)
    /// dimensions broadcast.
    pub fn try_matmul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        kernels::matmul(self, other)
    }

    /// Like [`try_matmul`](Self::try_matmul), panicking on a shape mismatch.
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        self.try_matmul(other).unwrap_or_else(|e| panic!("{e}"))
    }
}

// --------------------------------------------------------------------- helpers

/// `(product of dims before axis, dim at axis, product of dims after axis)`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (numel(&shape[..axis]), shape[axis], numel(&shape[axis + 1..]))
}

pub(crate) fn drop_axes(shape: &[usize], axes: &[usize]) -> Shape {
    shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
}

pub(crate) fn check_perm(perm: &[usize], ndim: usize) -> Result<()> {
    let mut seen: SmallVec<[bool; 8]> = SmallVec::from_elem(false, ndim);
    if perm.len() != ndim {
        return Err(Error::new(
            "permute",
            format!("permutation {perm:?} has {} entries for {ndim} dimensions", perm.len()),
        ));
    }
    for &p in perm {
        if p >= ndim || seen[p] {
            return Err(Error::new("permute", format!("{perm:?} is not a permutation of 0..{ndim}")));
        }
        seen[p] = true;
    }
    Ok(())
}

pub(crate) fn swap_perm(op: &'static str, ndim: usize, a: isize, b: isize) -> Result<SmallVec<[usize; 4]>> {
    let a = shape::normalize_axis(op, a, ndim)?;
    let b = shape::normalize_axis(op, b, ndim)?;
    let mut perm: SmallVec<[usize; 4]> = (0..ndim).collect();
    perm.swap(a, b);
    Ok(perm)
}

pub(crate) fn infer_shape(shape: &[isize], n: usize, from: &[usize]) -> Result<Shape> {
    let mut out: Shape = SmallVec::new();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in shape.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(Error::new("reshape", format!("only one dimension may be -1 in {shape:?}")));
            }
            infer = Some(i);
            out.push(0);
        } else if d < 0 {
            return Err(Error::new("reshape", format!("invalid dimension {d} in {shape:?}")));
        } else {
            known *= d as usize;
            out.push(d as usize);
        }
    }
    if let Some(i) = infer {
        if known == 0 || !n.is_multiple_of(known) {
            return Err(Error::new(
                "reshape",
                format!("cannot reshape {} ({n} elements) into {shape:?}", fmt_shape(from)),
            ));
        }
        out[i] = n / known;
    }
    Ok(out)
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
