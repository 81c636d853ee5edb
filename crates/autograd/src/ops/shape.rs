//! Ops that move data around without arithmetic: reshape, broadcast, permute, slicing,
//! joining and indexing. Each backward is the adjoint data movement.

use crate::error::OrPanic;
use crate::float::Float;
use crate::graph::Var;
use crate::rules::{Algebra, Grads, StructRule, Structured};
use crate::shape::{self as sh, check_perm, fmt_shape, swap_perm, Shape};
use crate::tensor::Tensor;
use crate::var::record;
use smallvec::{smallvec, SmallVec};
use std::rc::Rc;

/// Defines a data-movement op of one input: its vector-Jacobian product (the adjoint
/// movement) and its tangent rule (the op itself applied to the tangent: these ops are
/// linear).
macro_rules! linear_op {
    ($Op:ty, $name:literal,
     vjp: |$s:ident, $x:ident, $g:ident| $vjp:expr,
     jvp: |$s2:ident, $t:ident, $y:ident| $jvp:expr) => {
        impl<T: Float> StructRule<T> for $Op {
            fn name(&self) -> &'static str {
                $name
            }
            #[allow(unused_variables)]
            fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, $g: &A, needs: &[bool]) -> Grads<A> {
                let ($s, $x) = (self, &x[0]);
                smallvec![needs[0].then(|| $vjp)]
            }
            #[allow(unused_variables)]
            fn jvp(&self, _x: &[Var<T>], $y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
                let ($s2, $t) = (self, dx[0].as_ref()?);
                Some($jvp)
            }
        }
    };
}

struct Reshape;
linear_op!(Reshape, "reshape",
    vjp: |s, x, g| g.reshape(x.shape()),
    jvp: |s, t, y| t.reshape(y.shape()));

struct BroadcastTo;
linear_op!(BroadcastTo, "broadcast_to",
    vjp: |s, x, g| g.sum_to(x.shape()),
    jvp: |s, t, y| t.broadcast_to(y.shape()));

struct SumTo;
linear_op!(SumTo, "sum_to",
    vjp: |s, x, g| g.broadcast_to(x.shape()),
    jvp: |s, t, y| t.sum_to(y.shape()));

struct Permute(SmallVec<[usize; 4]>);
linear_op!(Permute, "permute",
    vjp: |s, x, g| g.permute(&inverse(&s.0)),
    jvp: |s, t, y| t.permute(&s.0));

fn inverse(perm: &[usize]) -> SmallVec<[usize; 4]> {
    let mut inv: SmallVec<[usize; 4]> = SmallVec::from_elem(0, perm.len());
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    inv
}

struct Narrow {
    axis: usize,
    start: usize,
}
linear_op!(Narrow, "narrow",
    vjp: |s, x, g| g.pad_axis(s.axis, s.start, x.shape()[s.axis]),
    jvp: |s, t, y| t.narrow(s.axis as isize, s.start, y.shape()[s.axis]));

/// The adjoint of narrow: zero padding along one axis.
struct PadAxis {
    axis: usize,
    start: usize,
}
linear_op!(PadAxis, "pad_axis",
    vjp: |s, x, g| Algebra::narrow(g, s.axis, s.start, x.shape()[s.axis]),
    jvp: |s, t, y| t.pad_axis(s.axis, s.start, y.shape()[s.axis]));

struct IndexSelect {
    axis: usize,
    indices: Rc<[usize]>,
}
linear_op!(IndexSelect, "index_select",
    vjp: |s, x, g| g.index_add(s.axis, &s.indices, x.shape()[s.axis]),
    jvp: |s, t, y| Algebra::index_select(t, s.axis, &s.indices));

/// The adjoint of index_select: scatter rows into zeros, accumulating repeats.
struct IndexAdd {
    axis: usize,
    indices: Rc<[usize]>,
}
linear_op!(IndexAdd, "index_add",
    vjp: |s, x, g| Algebra::index_select(g, s.axis, &s.indices),
    jvp: |s, t, y| t.index_add(s.axis, &s.indices, y.shape()[s.axis]));

struct Gather {
    axis: usize,
    index: Rc<[usize]>,
}
linear_op!(Gather, "gather",
    vjp: |s, x, g| g.scatter_add(s.axis, &s.index, x.shape()[s.axis]),
    jvp: |s, t, y| Algebra::gather(t, s.axis, &s.index));

/// The adjoint of gather.
struct ScatterAdd {
    axis: usize,
    index: Rc<[usize]>,
}
linear_op!(ScatterAdd, "scatter_add",
    vjp: |s, x, g| Algebra::gather(g, s.axis, &s.index),
    jvp: |s, t, y| t.scatter_add(s.axis, &s.index, y.shape()[s.axis]));

struct Concat {
    axis: usize,
}
impl<T: Float> StructRule<T> for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        let mut start = 0;
        x.iter()
            .zip(needs)
            .map(|(x, &need)| {
                let len = x.shape()[self.axis];
                let gi = need.then(|| Algebra::narrow(g, self.axis, start, len));
                start += len;
                gi
            })
            .collect()
    }
    fn jvp(&self, x: &[Var<T>], _y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        if dx.iter().all(Option::is_none) {
            return None;
        }
        let parts: Vec<Var<T>> = x
            .iter()
            .zip(dx)
            .map(|(x, t)| t.clone().unwrap_or_else(|| Var::constant(Tensor::zeros(x.shape()))))
            .collect();
        let refs: Vec<&Var<T>> = parts.iter().collect();
        Some(Var::concat(&refs, self.axis as isize))
    }
}

impl<T: Float> Var<T> {
    /// Zero padding along `axis`: this value placed at `start` in `total` entries.
    #[track_caller]
    pub(crate) fn pad_axis(&self, axis: usize, start: usize, total: usize) -> Var<T> {
        let value = self.value().pad_axis(axis, start, total);
        record(Structured(PadAxis { axis, start }), &[self], value)
    }

    /// The adjoint of [`index_select`](Self::index_select): the entries along `axis` added
    /// into `size` zero entries at `indices`.
    #[track_caller]
    pub(crate) fn index_add(&self, axis: usize, indices: &[usize], size: usize) -> Var<T> {
        let value = self.value().index_add_into(axis, indices, size);
        record(Structured(IndexAdd { axis, indices: indices.into() }), &[self], value)
    }

    /// The adjoint of [`gather`](Self::gather).
    #[track_caller]
    pub(crate) fn scatter_add(&self, axis: usize, index: &[usize], size: usize) -> Var<T> {
        let value = self.value().scatter_add_into(axis, index, size);
        record(Structured(ScatterAdd { axis, index: index.into() }), &[self], value)
    }
}

impl<T: Float> Var<T> {
    /// The same elements with a new shape of equal size (no copy).
    ///
    /// # Panics
    /// If the sizes differ; see [`try_reshape`](Self::try_reshape).
    #[track_caller]
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Var<T> {
        self.try_reshape(shape).or_panic()
    }

    /// Fallible [`reshape`](Self::reshape).
    #[track_caller]
    pub fn try_reshape(&self, shape: impl AsRef<[usize]>) -> crate::error::Result<Var<T>> {
        let shape = shape.as_ref();
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let value = self.value().try_reshape(shape)?;
        Ok(record(Structured(Reshape), &[self], value))
    }

    /// Reshape where one entry may be `-1`, inferred from the others (as in NumPy).
    #[track_caller]
    pub fn reshape_infer(&self, shape: &[isize]) -> Var<T> {
        let s = sh::infer_shape(shape, self.numel(), self.shape()).or_panic();
        self.reshape(s)
    }

    /// Merges the axes `start..=end` (negative counts from the end) into one, as `torch.flatten`.
    #[track_caller]
    pub fn flatten(&self, start: isize, end: isize) -> Var<T> {
        if self.ndim() == 0 {
            return self.reshape([1]);
        }
        let s = sh::normalize_axis("flatten", start, self.ndim()).or_panic();
        let e = sh::normalize_axis("flatten", end, self.ndim()).or_panic();
        assert!(s <= e, "flatten: start axis {s} is after end axis {e}");
        let shape = self.shape();
        let mut out: Shape = shape[..s].into();
        out.push(sh::numel(&shape[s..=e]));
        out.extend_from_slice(&shape[e + 1..]);
        self.reshape(out)
    }

    /// Removes axis `axis`, which must have size 1.
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Var<T> {
        let a = sh::normalize_axis("squeeze", axis, self.ndim()).or_panic();
        assert!(
            self.shape()[a] == 1,
            "squeeze: axis {a} of shape {} has size {}, not 1",
            fmt_shape(self.shape()),
            self.shape()[a]
        );
        let mut s: Shape = self.shape().into();
        s.remove(a);
        self.reshape(s)
    }

    /// Removes every axis of size 1.
    #[track_caller]
    pub fn squeeze_all(&self) -> Var<T> {
        let s: Shape = self.shape().iter().copied().filter(|&d| d != 1).collect();
        self.reshape(s)
    }

    /// Inserts an axis of size 1 at position `axis` (`-1` appends at the end).
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Var<T> {
        let a = sh::normalize_axis("unsqueeze", axis, self.ndim() + 1).or_panic();
        let mut s: Shape = self.shape().into();
        s.insert(a, 1);
        self.reshape(s)
    }

    /// Repeats the value along broadcast dimensions to exactly `shape`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Var<T> {
        self.try_broadcast_to(shape).or_panic()
    }

    /// Fallible [`broadcast_to`](Self::broadcast_to).
    #[track_caller]
    pub fn try_broadcast_to(&self, shape: &[usize]) -> crate::error::Result<Var<T>> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let value = self.value().try_broadcast_to(shape)?;
        Ok(record(Structured(BroadcastTo), &[self], value))
    }

    /// Sums over the dimensions along which `shape` was broadcast to `self.shape()`, giving
    /// a value of `shape` (the adjoint of [`broadcast_to`](Self::broadcast_to)).
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Var<T> {
        if crate::shape::same_shape(shape, self.shape()) {
            return self.clone();
        }
        let value = self.value().sum_to(shape);
        record(Structured(SumTo), &[self], value)
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Var<T> {
        check_perm(perm, self.ndim()).or_panic();
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self.clone();
        }
        let value = self.value().permute(perm);
        record(Structured(Permute(perm.into())), &[self], value)
    }

    /// Swaps two axes (negative counts from the end).
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Var<T> {
        let perm = swap_perm("transpose", self.ndim(), a, b).or_panic();
        self.permute(&perm)
    }

    /// The transpose of a 2-d matrix.
    ///
    /// # Panics
    /// If the value is not 2-d.
    #[track_caller]
    pub fn t(&self) -> Var<T> {
        assert_eq!(self.ndim(), 2, "t: expects a 2-d matrix, got shape {}", fmt_shape(self.shape()));
        self.transpose(0, 1)
    }

    /// `len` entries along `axis` starting at `start`.
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Var<T> {
        self.try_narrow(axis, start, len).or_panic()
    }

    /// Fallible [`narrow`](Self::narrow).
    #[track_caller]
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> crate::error::Result<Var<T>> {
        let ax = sh::normalize_axis("narrow", axis, self.ndim())?;
        let value = self.value().try_narrow(axis, start, len)?;
        Ok(record(Structured(Narrow { axis: ax, start }), &[self], value))
    }

    /// Alias of [`narrow`](Self::narrow) with a range, as in slicing `x[.., a..b, ..]`.
    #[track_caller]
    pub fn slice(&self, axis: isize, range: std::ops::Range<usize>) -> Var<T> {
        assert!(range.start <= range.end, "slice: range {range:?} is reversed");
        self.narrow(axis, range.start, range.end - range.start)
    }

    /// Joins variables along an existing axis.
    ///
    /// # Panics
    /// If the list is empty or the shapes differ outside `axis`.
    #[track_caller]
    pub fn concat(vars: &[&Var<T>], axis: isize) -> Var<T> {
        Self::try_concat(vars, axis).or_panic()
    }

    /// Fallible [`concat`](Self::concat).
    #[track_caller]
    pub fn try_concat(vars: &[&Var<T>], axis: isize) -> crate::error::Result<Var<T>> {
        let values: SmallVec<[&Tensor<T>; 4]> = vars.iter().map(|v| v.value()).collect();
        let value = Tensor::try_concat(&values, axis)?;
        let ax = sh::normalize_axis("concat", axis, vars[0].ndim())?;
        Ok(record(Structured(Concat { axis: ax }), vars, value))
    }

    /// Joins variables of equal shape along a new axis.
    #[track_caller]
    pub fn stack(vars: &[&Var<T>], axis: isize) -> Var<T> {
        assert!(!vars.is_empty(), "stack: needs at least one variable");
        let ax = sh::normalize_axis("stack", axis, vars[0].ndim() + 1).or_panic();
        for v in vars {
            assert!(
                v.shape() == vars[0].shape(),
                "stack: shapes {} and {} differ",
                fmt_shape(vars[0].shape()),
                fmt_shape(v.shape())
            );
        }
        let parts: Vec<Var<T>> = vars.iter().map(|v| v.unsqueeze(ax as isize)).collect();
        let refs: Vec<&Var<T>> = parts.iter().collect();
        Var::concat(&refs, ax as isize)
    }

    /// Splits along `axis` into pieces of the given sizes (which must add up to the axis size).
    #[track_caller]
    pub fn split(&self, sizes: &[usize], axis: isize) -> Vec<Var<T>> {
        let ax = sh::normalize_axis("split", axis, self.ndim()).or_panic();
        let total: usize = sizes.iter().sum();
        assert!(
            total == self.shape()[ax],
            "split: sizes {sizes:?} add up to {total} but axis {ax} of shape {} has size {}",
            fmt_shape(self.shape()),
            self.shape()[ax]
        );
        let mut start = 0;
        sizes
            .iter()
            .map(|&n| {
                let v = self.narrow(ax as isize, start, n);
                start += n;
                v
            })
            .collect()
    }

    /// Splits along `axis` into `n` nearly equal pieces (the last may be smaller), as `torch.chunk`.
    #[track_caller]
    pub fn chunk(&self, n: usize, axis: isize) -> Vec<Var<T>> {
        assert!(n > 0, "chunk: number of chunks must be positive");
        let ax = sh::normalize_axis("chunk", axis, self.ndim()).or_panic();
        let size = self.shape()[ax];
        let step = size.div_ceil(n).max(1);
        let mut sizes = Vec::new();
        let mut left = size;
        while left > 0 {
            let s = step.min(left);
            sizes.push(s);
            left -= s;
        }
        self.split(&sizes, axis)
    }

    /// Entries along `axis` at `indices`, in that order (repeats allowed).
    #[track_caller]
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Var<T> {
        let ax = sh::normalize_axis("index_select", axis, self.ndim()).or_panic();
        let value = self.value().try_index_select(axis, indices).or_panic();
        record(Structured(IndexSelect { axis: ax, indices: indices.into() }), &[self], value)
    }

    /// `torch.gather`: `index` has this value's shape except along `axis` (row-major).
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &[usize]) -> Var<T> {
        let ax = sh::normalize_axis("gather", axis, self.ndim()).or_panic();
        let value = self.value().try_gather(axis, index).or_panic();
        record(Structured(Gather { axis: ax, index: index.into() }), &[self], value)
    }
}
