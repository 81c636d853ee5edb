//! The untracked computations on [`Tensor`]: reductions, shape and index ops, matrix
//! products. Each checks its arguments and calls a kernel in `kernels`, which sees only
//! slices and shapes.

use crate::error::{Error, OrPanic, Result};
use crate::float::Float;
use crate::kernels;
use crate::shape::{self, check_perm, drop_axes, fmt_shape, infer_shape, numel, split_at_axis, swap_perm, Shape};
use crate::tensor::Tensor;
use smallvec::SmallVec;

impl<T: Float> Tensor<T> {
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
        kernels::sum(self.data())
    }

    /// Mean of all elements as a plain number (NaN for an empty tensor).
    pub fn mean_all(&self) -> T {
        self.sum_all() / T::from_usize(self.numel())
    }

    /// A general fold over axes, with `init` as the identity.
    pub fn reduce(&self, op: &'static str, axes: &[isize], keepdim: bool, init: T, f: impl Fn(T, T) -> T) -> Tensor<T> {
        let axes = shape::normalize_axes(op, axes, self.ndim()).or_panic();
        let mut kept: Shape = shape::copy_shape(self.shape());
        for &a in &axes {
            kept[a] = 1;
        }
        let data = kernels::reduce(self.data(), self.shape(), &kept, init, f);
        let out_shape = if keepdim { kept } else { drop_axes(self.shape(), &axes) };
        Tensor::from_parts(data, out_shape)
    }

    /// Reduces a tensor that was broadcast to `self.shape()` back to `shape` by summing over the
    /// broadcast dimensions (the backward of broadcasting).
    pub fn sum_to(&self, shape: &[usize]) -> Tensor<T> {
        if shape::same_shape(self.shape(), shape) {
            return self.clone();
        }
        assert!(
            shape::broadcasts_to(shape, self.shape()),
            "sum_to: shape {} does not broadcast to {}",
            fmt_shape(shape),
            fmt_shape(self.shape())
        );
        let off = self.ndim() - shape.len();
        let mut kept: Shape = shape::copy_shape(self.shape());
        for i in 0..self.ndim() {
            if i < off || shape[i - off] == 1 {
                kept[i] = 1;
            }
        }
        let data = kernels::reduce(self.data(), self.shape(), &kept, T::ZERO, |a, x| a + x);
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
        let ax = shape::normalize_axis(op, axis, self.ndim()).or_panic();
        let (outer, n, inner) = split_at_axis(self.shape(), ax);
        assert!(n > 0, "{op}: axis {ax} of shape {} is empty", fmt_shape(self.shape()));
        let mut out = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let base = o * n * inner + i;
                let mut best = self.data()[base];
                let mut bi = 0;
                for k in 1..n {
                    let v = self.data()[base + k * inner];
                    if better(v, best) || (v.is_nan() && !best.is_nan()) {
                        best = v;
                        bi = k;
                    }
                }
                out.push(bi);
            }
        }
        (out, drop_axes(self.shape(), &[ax]))
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
                    fmt_shape(self.shape()),
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
        let s = infer_shape(shape, self.numel(), self.shape())?;
        self.try_reshape(s)
    }

    /// Like [`try_reshape`](Self::try_reshape), panicking on a size mismatch.
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Tensor<T> {
        self.try_reshape(shape).or_panic()
    }

    /// Reorders the dimensions: output dimension `i` is input dimension `perm[i]`.
    pub fn try_permute(&self, perm: &[usize]) -> Result<Tensor<T>> {
        check_perm(perm, self.ndim())?;
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let in_strides = shape::contiguous_strides(self.shape());
        let out_shape: Shape = perm.iter().map(|&p| self.shape()[p]).collect();
        let strides: Shape = perm.iter().map(|&p| in_strides[p]).collect();
        let data = kernels::gather_strided(self.data(), &out_shape, &strides);
        Ok(Tensor::from_parts(data, out_shape))
    }

    /// Like [`try_permute`](Self::try_permute), panicking on an invalid permutation.
    pub fn permute(&self, perm: &[usize]) -> Tensor<T> {
        self.try_permute(perm).or_panic()
    }

    /// Swaps two dimensions (negative indices count from the end).
    pub fn transpose(&self, a: isize, b: isize) -> Tensor<T> {
        let perm = swap_perm("transpose", self.ndim(), a, b).or_panic();
        self.permute(&perm)
    }

    /// Materialises the broadcast of this tensor to `shape`.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        if !shape::broadcasts_to(self.shape(), shape) {
            return Err(Error::new(
                "broadcast_to",
                format!("shape {} cannot be broadcast to {}", fmt_shape(self.shape()), fmt_shape(shape)),
            ));
        }
        let strides = shape::broadcast_strides(self.shape(), shape);
        let data = kernels::gather_strided(self.data(), shape, &strides);
        Ok(Tensor::from_parts(data, SmallVec::from_slice(shape)))
    }

    /// Like [`try_broadcast_to`](Self::try_broadcast_to), panicking on incompatible shapes.
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        self.try_broadcast_to(shape).or_panic()
    }

    /// `len` consecutive entries along `axis` starting at `start`.
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor<T>> {
        let ax = shape::normalize_axis("narrow", axis, self.ndim())?;
        let (outer, n, inner) = split_at_axis(self.shape(), ax);
        if start.checked_add(len).is_none_or(|e| e > n) {
            return Err(Error::new(
                "narrow",
                format!(
                    "range {}..{} is out of bounds for axis {} of size {} (shape {})",
                    start,
                    start.saturating_add(len),
                    ax,
                    n,
                    fmt_shape(self.shape())
                ),
            ));
        }
        let mut out = crate::pool::take(outer * len * inner);
        for o in 0..outer {
            let base = (o * n + start) * inner;
            out.extend_from_slice(&self.data()[base..base + len * inner]);
        }
        let mut s = shape::copy_shape(self.shape());
        s[ax] = len;
        Ok(Tensor::from_parts(out, s))
    }

    /// Like [`try_narrow`](Self::try_narrow), panicking when out of bounds.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Tensor<T> {
        self.try_narrow(axis, start, len).or_panic()
    }

    /// Places this tensor at `start` along `axis` inside zeros of size `total` along that axis
    /// (the adjoint of [`narrow`](Self::narrow)).
    pub fn pad_axis(&self, axis: usize, start: usize, total: usize) -> Tensor<T> {
        let (outer, len, inner) = split_at_axis(self.shape(), axis);
        assert!(start + len <= total, "pad_axis: {start}+{len} exceeds {total}");
        let mut out = crate::pool::filled(outer * total * inner, T::ZERO);
        for o in 0..outer {
            let dst = (o * total + start) * inner;
            out[dst..dst + len * inner].copy_from_slice(&self.data()[o * len * inner..(o + 1) * len * inner]);
        }
        let mut s = shape::copy_shape(self.shape());
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
                && t.shape().iter().zip(first.shape().iter()).enumerate().all(|(i, (a, b))| i == ax || a == b);
            if !ok {
                return Err(Error::new(
                    "concat",
                    format!(
                        "shapes {} and {} differ outside axis {}",
                        fmt_shape(first.shape()),
                        fmt_shape(t.shape()),
                        ax
                    ),
                ));
            }
            total += t.shape()[ax];
        }
        let (outer, _, inner) = split_at_axis(first.shape(), ax);
        let mut out = crate::pool::take(outer * total * inner);
        for o in 0..outer {
            for t in tensors {
                let len = t.shape()[ax] * inner;
                out.extend_from_slice(&t.data[o * len..(o + 1) * len]);
            }
        }
        let mut s = shape::copy_shape(first.shape());
        s[ax] = total;
        Ok(Tensor::from_parts(out, s))
    }

    /// Rows (entries along `axis`) picked by `indices`, in that order, repeats allowed.
    pub fn try_index_select(&self, axis: isize, indices: &[usize]) -> Result<Tensor<T>> {
        let ax = shape::normalize_axis("index_select", axis, self.ndim())?;
        let (outer, n, inner) = split_at_axis(self.shape(), ax);
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::new(
                "index_select",
                format!("index {bad} is out of range for axis {ax} of size {n} (shape {})", fmt_shape(self.shape())),
            ));
        }
        let mut out = crate::pool::take(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let base = (o * n + i) * inner;
                out.extend_from_slice(&self.data()[base..base + inner]);
            }
        }
        let mut s = shape::copy_shape(self.shape());
        s[ax] = indices.len();
        Ok(Tensor::from_parts(out, s))
    }

    /// Adds the rows of `self` (entries along `axis`) into zeros of size `size` at `indices`
    /// (repeated indices accumulate): the adjoint of [`try_index_select`](Self::try_index_select).
    pub fn index_add_into(&self, axis: usize, indices: &[usize], size: usize) -> Tensor<T> {
        let (outer, k, inner) = split_at_axis(self.shape(), axis);
        assert_eq!(k, indices.len(), "index_add: {} rows for {} indices", k, indices.len());
        let mut out = crate::pool::filled(outer * size * inner, T::ZERO);
        for o in 0..outer {
            for (j, &i) in indices.iter().enumerate() {
                let src = (o * k + j) * inner;
                let dst = (o * size + i) * inner;
                for t in 0..inner {
                    out[dst + t] += self.data()[src + t];
                }
            }
        }
        let mut s = shape::copy_shape(self.shape());
        s[axis] = size;
        Tensor::from_parts(out, s)
    }

    /// `out[.., j, ..] = self[.., index[.., j, ..], ..]` along `axis`, as `torch.gather`.
    /// `index` is row-major with the shape of `self` except along `axis`, where its size is
    /// `index.len() / (other dimensions)`.
    pub fn try_gather(&self, axis: isize, index: &[usize]) -> Result<Tensor<T>> {
        let ax = shape::normalize_axis("gather", axis, self.ndim())?;
        let (outer, n, inner) = split_at_axis(self.shape(), ax);
        let others = outer * inner;
        if (others == 0 && !index.is_empty()) || (others != 0 && !index.len().is_multiple_of(others)) {
            return Err(Error::new(
                "gather",
                format!("{} indices do not fit shape {} along axis {}", index.len(), fmt_shape(self.shape()), ax),
            ));
        }
        let k = index.len().checked_div(others).unwrap_or(0);
        if let Some(&bad) = index.iter().find(|&&i| i >= n) {
            return Err(Error::new(
                "gather",
                format!("index {bad} is out of range for axis {ax} of size {n} (shape {})", fmt_shape(self.shape())),
            ));
        }
        let mut out = crate::pool::take(index.len());
        for o in 0..outer {
            for j in 0..k {
                for i in 0..inner {
                    let idx = index[(o * k + j) * inner + i];
                    out.push(self.data()[(o * n + idx) * inner + i]);
                }
            }
        }
        let mut s = shape::copy_shape(self.shape());
        s[ax] = k;
        Ok(Tensor::from_parts(out, s))
    }

    /// Adds `self` into zeros of size `size` along `axis` at the positions `index` (the
    /// adjoint of [`try_gather`](Self::try_gather)).
    pub fn scatter_add_into(&self, axis: usize, index: &[usize], size: usize) -> Tensor<T> {
        let (outer, k, inner) = split_at_axis(self.shape(), axis);
        let mut out = crate::pool::filled(outer * size * inner, T::ZERO);
        for o in 0..outer {
            for j in 0..k {
                for i in 0..inner {
                    let p = (o * k + j) * inner + i;
                    out[(o * size + index[p]) * inner + i] += self.data()[p];
                }
            }
        }
        let mut s = shape::copy_shape(self.shape());
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
        if self.ndim() == 0 || other.ndim() == 0 {
            return Err(Error::new(
                "matmul",
                format!(
                    "{} x {}: operands must have at least 1 dimension",
                    fmt_shape(self.shape()),
                    fmt_shape(other.shape())
                ),
            ));
        }
        let ka = self.shape()[self.ndim() - 1];
        let kb = if other.ndim() == 1 { other.shape()[0] } else { other.shape()[other.ndim() - 2] };
        if ka != kb {
            return Err(Error::new(
                "matmul",
                format!(
                    "{} x {}: inner dimensions {} and {} differ",
                    fmt_shape(self.shape()),
                    fmt_shape(other.shape()),
                    ka,
                    kb
                ),
            ));
        }
        // 1-d operands as a row (left) or a column (right), the added dimension removed after.
        let sa: Shape = if self.ndim() == 1 { SmallVec::from_slice(&[1, ka]) } else { shape::copy_shape(self.shape()) };
        let sb: Shape =
            if other.ndim() == 1 { SmallVec::from_slice(&[kb, 1]) } else { shape::copy_shape(other.shape()) };
        let (out, mut s) = kernels::matmul_nd((self.data(), &sa), (other.data(), &sb), false, false)?;
        if other.ndim() == 1 {
            s.pop();
        }
        if self.ndim() == 1 {
            s.remove(s.len() - if other.ndim() == 1 { 1 } else { 2 });
        }
        Ok(Tensor::from_parts(out, s))
    }

    /// Like [`try_matmul`](Self::try_matmul), panicking on a shape mismatch.
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        self.try_matmul(other).or_panic()
    }

    /// `op(self) @ op(other)` for operands of 2 or more dimensions, where `op` transposes the
    /// last two axes when its flag is set (through strides, no copy); batch dimensions
    /// broadcast.
    pub fn try_matmul_flags(&self, other: &Tensor<T>, ta: bool, tb: bool) -> Result<Tensor<T>> {
        let (out, s) = kernels::matmul_nd((self.data(), self.shape()), (other.data(), other.shape()), ta, tb)?;
        Ok(Tensor::from_parts(out, s))
    }

    /// The fused dense layer `self @ w + bias` for `self` `[n, in]`, `w` `[in, out]`, `bias`
    /// `[out]`: the bias is written first and the product accumulated onto it.
    pub fn try_linear(&self, w: &Tensor<T>, bias: Option<&Tensor<T>>) -> Result<Tensor<T>> {
        let b = bias.map(|b| (b.data(), b.shape()));
        let (out, s) = kernels::linear((self.data(), self.shape()), (w.data(), w.shape()), b)?;
        Ok(Tensor::from_parts(out, s))
    }

    /// Softmax along `axis` (untracked).
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor<T> {
        let ax = shape::normalize_axis("softmax", axis, self.ndim()).or_panic();
        Tensor::from_parts(
            crate::softmax::lanes(self.data(), split_at_axis(self.shape(), ax), false),
            shape::copy_shape(self.shape()),
        )
    }

    /// Log-softmax along `axis` (untracked): `x - logsumexp(x)`, stable.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Tensor<T> {
        let ax = shape::normalize_axis("log_softmax", axis, self.ndim()).or_panic();
        Tensor::from_parts(
            crate::softmax::lanes(self.data(), split_at_axis(self.shape(), ax), true),
            shape::copy_shape(self.shape()),
        )
    }

    /// `((softmax(self) - onehot(targets)) / n) * g` for logits `[n, c]`, in one buffer: the
    /// gradient of the mean cross-entropy.
    pub(crate) fn cross_entropy_grad(&self, targets: &[usize], g: T) -> Tensor<T> {
        let (n, c) = (self.shape()[0], self.shape()[1]);
        let out = crate::softmax::cross_entropy_grad(self.data(), c, targets, T::from_usize(n), g);
        Tensor::from_parts(out, shape::copy_shape(self.shape()))
    }

    /// `f(a, b, c)` elementwise over three tensors of one shape (pooled, vectorized, threaded
    /// for large tensors as the forward kernels are).
    #[track_caller]
    pub(crate) fn map3(a: &Tensor<T>, b: &Tensor<T>, c: &Tensor<T>, f: impl Fn(T, T, T) -> T + Sync) -> Tensor<T> {
        if !(shape::same_shape(a.shape(), b.shape()) && shape::same_shape(a.shape(), c.shape())) {
            panic!(
                "map3: shapes {}, {} and {} differ",
                fmt_shape(a.shape()),
                fmt_shape(b.shape()),
                fmt_shape(c.shape())
            );
        }
        if let (Some(x), Some(y), Some(z)) = (a.as_scalar(), b.as_scalar(), c.as_scalar()) {
            // Scalars: no buffer, no kernel.
            return Tensor::scalar(f(x, y, z));
        }
        Tensor::from_parts(kernels::map3(a.data(), b.data(), c.data(), f), shape::copy_shape(a.shape()))
    }

    /// `a` where `cond` is non-zero, else `b`, all three broadcast together.
    #[track_caller]
    pub fn select(cond: &Tensor<T>, a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
        let s = shape::broadcast_shapes("where", cond.shape(), a.shape())
            .and_then(|s| shape::broadcast_shapes("where", &s, b.shape()))
            .or_panic();
        let (c, a, b) = (cond.broadcast_to(&s), a.broadcast_to(&s), b.broadcast_to(&s));
        let data = c
            .data()
            .iter()
            .zip(a.data())
            .zip(b.data())
            .map(|((&c, &x), &y)| if c != T::ZERO { x } else { y })
            .collect();
        Tensor::from_parts(data, s)
    }

    /// The logistic function, elementwise and numerically stable.
    pub fn sigmoid(&self) -> Tensor<T> {
        self.map(crate::float::sigmoid)
    }
}
