//! Ops that move data around without arithmetic: reshape, broadcast, permute, slicing,
//! joining and indexing. Each backward is the adjoint data movement.

use crate::float::Float;
use crate::shape::{self as sh, fmt_shape, Shape};
use crate::tape::{InputGrads, Op, Var};
use crate::tensor::{check_perm, swap_perm, Tensor};
use smallvec::{smallvec, SmallVec};
use std::rc::Rc;

struct Reshape;
impl<T: Float> Op<T> for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.reshape(inputs[0].shape()))]
    }
}

struct BroadcastTo;
impl<T: Float> Op<T> for BroadcastTo {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.sum_to(inputs[0].shape()))]
    }
}

struct SumTo;
impl<T: Float> Op<T> for SumTo {
    fn name(&self) -> &'static str {
        "sum_to"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.broadcast_to(inputs[0].shape()))]
    }
}

struct Permute(SmallVec<[usize; 4]>);
impl<T: Float> Op<T> for Permute {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(&self, _inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let mut inv: SmallVec<[usize; 4]> = SmallVec::from_elem(0, self.0.len());
        for (i, &p) in self.0.iter().enumerate() {
            inv[p] = i;
        }
        smallvec![Some(g.permute(&inv))]
    }
}

struct Narrow {
    axis: usize,
    start: usize,
}
impl<T: Float> Op<T> for Narrow {
    fn name(&self) -> &'static str {
        "narrow"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let total = inputs[0].shape()[self.axis];
        smallvec![Some(pad_axis(g, self.axis, self.start, total))]
    }
}

/// The adjoint of narrow: zero padding along one axis.
struct PadAxis {
    axis: usize,
    start: usize,
}
impl<T: Float> Op<T> for PadAxis {
    fn name(&self) -> &'static str {
        "pad_axis"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.narrow(self.axis as isize, self.start, inputs[0].shape()[self.axis]))]
    }
}

fn pad_axis<T: Float>(x: &Var<T>, axis: usize, start: usize, total: usize) -> Var<T> {
    let value = x.value().pad_axis(axis, start, total);
    Var::from_op(PadAxis { axis, start }, &[x], value)
}

struct Concat {
    axis: usize,
}
impl<T: Float> Op<T> for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let mut start = 0;
        inputs
            .iter()
            .map(|x| {
                let len = x.shape()[self.axis];
                let gi = x.requires_grad().then(|| g.narrow(self.axis as isize, start, len));
                start += len;
                gi
            })
            .collect()
    }
}

struct IndexSelect {
    axis: usize,
    indices: Rc<[usize]>,
}
impl<T: Float> Op<T> for IndexSelect {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let size = inputs[0].shape()[self.axis];
        let value = g.value().index_add_into(self.axis, &self.indices, size);
        smallvec![Some(Var::from_op(IndexAdd { axis: self.axis, indices: self.indices.clone() }, &[g], value))]
    }
}

/// The adjoint of index_select: scatter rows into zeros, accumulating repeats.
struct IndexAdd {
    axis: usize,
    indices: Rc<[usize]>,
}
impl<T: Float> Op<T> for IndexAdd {
    fn name(&self) -> &'static str {
        "index_add"
    }
    fn backward(&self, _inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.index_select(self.axis as isize, &self.indices))]
    }
}

struct Gather {
    axis: usize,
    index: Rc<[usize]>,
}
impl<T: Float> Op<T> for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let size = inputs[0].shape()[self.axis];
        let value = g.value().scatter_add_into(self.axis, &self.index, size);
        smallvec![Some(Var::from_op(ScatterAdd { axis: self.axis, index: self.index.clone() }, &[g], value))]
    }
}

/// The adjoint of gather.
struct ScatterAdd {
    axis: usize,
    index: Rc<[usize]>,
}
impl<T: Float> Op<T> for ScatterAdd {
    fn name(&self) -> &'static str {
        "scatter_add"
    }
    fn backward(&self, _inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.gather(self.axis as isize, &self.index))]
    }
}

impl<T: Float> Var<T> {
    /// The same elements with a new shape of equal size (no copy).
    ///
    /// # Panics
    /// If the sizes differ; see [`try_reshape`](Self::try_reshape).
    #[track_caller]
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Var<T> {
        self.try_reshape(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible [`reshape`](Self::reshape).
    #[track_caller]
    pub fn try_reshape(&self, shape: impl AsRef<[usize]>) -> crate::Result<Var<T>> {
        let shape = shape.as_ref();
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let value = self.value().try_reshape(shape)?;
        Ok(Var::from_op(Reshape, &[self], value))
    }

    /// Reshape where one entry may be `-1`, inferred from the others (as in NumPy).
    #[track_caller]
    pub fn reshape_infer(&self, shape: &[isize]) -> Var<T> {
        let s = crate::tensor::infer_shape(shape, self.numel(), self.shape()).unwrap_or_else(|e| panic!("{e}"));
        self.reshape(s)
    }

    /// Merges the axes `start..=end` (negative counts from the end) into one, as `torch.flatten`.
    #[track_caller]
    pub fn flatten(&self, start: isize, end: isize) -> Var<T> {
        if self.ndim() == 0 {
            return self.reshape([1]);
        }
        let s = sh::normalize_axis("flatten", start, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        let e = sh::normalize_axis("flatten", end, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
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
        let a = sh::normalize_axis("squeeze", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
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
        let a = sh::normalize_axis("unsqueeze", axis, self.ndim() + 1).unwrap_or_else(|e| panic!("{e}"));
        let mut s: Shape = self.shape().into();
        s.insert(a, 1);
        self.reshape(s)
    }

    /// Repeats the value along broadcast dimensions to exactly `shape`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Var<T> {
        self.try_broadcast_to(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible [`broadcast_to`](Self::broadcast_to).
    #[track_caller]
    pub fn try_broadcast_to(&self, shape: &[usize]) -> crate::Result<Var<T>> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let value = self.value().try_broadcast_to(shape)?;
        Ok(Var::from_op(BroadcastTo, &[self], value))
    }

    /// Sums over the dimensions along which `shape` was broadcast to `self.shape()`, giving
    /// a value of `shape` (the adjoint of [`broadcast_to`](Self::broadcast_to)).
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Var<T> {
        if crate::shape::same_shape(shape, self.shape()) {
            return self.clone();
        }
        let value = self.value().sum_to(shape);
        Var::from_op(SumTo, &[self], value)
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Var<T> {
        check_perm(perm, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self.clone();
        }
        let value = self.value().permute(perm);
        Var::from_op(Permute(perm.into()), &[self], value)
    }

    /// Swaps two axes (negative counts from the end).
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Var<T> {
        let perm = swap_perm("transpose", self.ndim(), a, b).unwrap_or_else(|e| panic!("{e}"));
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
        self.try_narrow(axis, start, len).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible [`narrow`](Self::narrow).
    #[track_caller]
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> crate::Result<Var<T>> {
        let ax = sh::normalize_axis("narrow", axis, self.ndim())?;
        let value = self.value().try_narrow(axis, start, len)?;
        Ok(Var::from_op(Narrow { axis: ax, start }, &[self], value))
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
        Self::try_concat(vars, axis).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible [`concat`](Self::concat).
    #[track_caller]
    pub fn try_concat(vars: &[&Var<T>], axis: isize) -> crate::Result<Var<T>> {
        let values: SmallVec<[&Tensor<T>; 4]> = vars.iter().map(|v| v.value()).collect();
        let value = Tensor::try_concat(&values, axis)?;
        let ax = sh::normalize_axis("concat", axis, vars[0].ndim())?;
        Ok(Var::from_op(Concat { axis: ax }, vars, value))
    }

    /// Joins variables of equal shape along a new axis.
    #[track_caller]
    pub fn stack(vars: &[&Var<T>], axis: isize) -> Var<T> {
        assert!(!vars.is_empty(), "stack: needs at least one variable");
        let ax = sh::normalize_axis("stack", axis, vars[0].ndim() + 1).unwrap_or_else(|e| panic!("{e}"));
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
        let ax = sh::normalize_axis("split", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
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
        let ax = sh::normalize_axis("chunk", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
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
        let ax = sh::normalize_axis("index_select", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        let value = self.value().try_index_select(axis, indices).unwrap_or_else(|e| panic!("{e}"));
        Var::from_op(IndexSelect { axis: ax, indices: indices.into() }, &[self], value)
    }

    /// `torch.gather`: `index` has this value's shape except along `axis` (row-major).
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &[usize]) -> Var<T> {
        let ax = sh::normalize_axis("gather", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        let value = self.value().try_gather(axis, index).unwrap_or_else(|e| panic!("{e}"));
        Var::from_op(Gather { axis: ax, index: index.into() }, &[self], value)
    }
}

/// One-hot encoding: a `[labels.len(), classes]` tensor with a 1 at each label.
///
/// # Panics
/// If a label is not below `classes`; see [`Tensor::try_one_hot`].
pub fn one_hot<T: Float>(labels: &[usize], classes: usize) -> Tensor<T> {
    Tensor::try_one_hot(labels, classes).unwrap_or_else(|e| panic!("{e}"))
}
