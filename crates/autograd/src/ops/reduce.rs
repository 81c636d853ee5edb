//! Reductions over all elements or chosen axes, with `keepdim`.

use crate::float::Float;
use crate::graph::Var;
use crate::rules::{Algebra, Grads, StructRule, Structured};
use crate::shape::{self as sh, Shape};
use crate::var::record;
use smallvec::smallvec;

/// The shape of the input with reduced axes set to 1 (the `keepdim` shape).
fn kept_shape(shape: &[usize], axes: &[usize]) -> Shape {
    let mut k: Shape = shape.into();
    for &a in axes {
        k[a] = 1;
    }
    k
}

struct Sum {
    axes: Shape,
}
impl<T: Float> StructRule<T> for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        let x = &x[0];
        smallvec![needs[0].then(|| g.reshape(&kept_shape(x.shape(), &self.axes)).broadcast_to(x.shape()))]
    }
    fn jvp(&self, _x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        // Linear: the sum of the tangent.
        let axes: Vec<isize> = self.axes.iter().map(|&a| a as isize).collect();
        Some(dx[0].as_ref()?.sum_axes(&axes, true).reshape(y.shape()))
    }
}

/// max / min: the gradient goes to the elements equal to the result, shared equally on ties.
struct Extreme {
    axes: Shape,
    name: &'static str,
}
impl<T: Float> StructRule<T> for Extreme {
    fn name(&self) -> &'static str {
        self.name
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        let x = &x[0];
        let kept = kept_shape(x.shape(), &self.axes);
        let hit = x.value().eq_mask(&y.value().reshape(&kept));
        let count = hit.sum_to(&kept);
        let share = A::constant(hit.div(&count.broadcast_to(x.shape())));
        smallvec![needs[0].then(|| g.reshape(&kept).broadcast_to(x.shape()).mul(&share))]
    }
}

#[track_caller]
fn axes_of(op: &'static str, axes: &[isize], ndim: usize) -> Shape {
    match sh::normalize_axes(op, axes, ndim) {
        Ok(a) => a.into_iter().collect(),
        Err(e) => panic!("{e}"),
    }
}

impl<T: Float> Var<T> {
    /// Sum of all elements, as a 0-d value.
    #[track_caller]
    pub fn sum(&self) -> Var<T> {
        self.sum_axes(&[], false)
    }

    /// Sum over `axes` (every axis if empty); `keepdim` keeps them with size 1. The sum
    /// over an empty axis is 0.
    #[track_caller]
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        let ax = axes_of("sum", axes, self.ndim());
        let value = self.value().sum_axes(axes, keepdim);
        record(Structured(Sum { axes: ax }), &[self], value)
    }

    /// Mean of all elements, as a 0-d value.
    #[track_caller]
    pub fn mean(&self) -> Var<T> {
        self.mean_axes(&[], false)
    }

    /// Mean over `axes` (every axis if empty). The mean over an empty axis is NaN (0/0),
    /// as in NumPy and PyTorch.
    #[track_caller]
    pub fn mean_axes(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        let ax = axes_of("mean", axes, self.ndim());
        let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
        self.sum_axes(axes, keepdim).div_scalar(T::from_usize(n))
    }

    /// Maximum over `axes` (every axis if empty). Where several elements tie for the
    /// maximum, the gradient is shared equally among them (as `torch.amax`). NaN propagates.
    ///
    /// The maximum over an empty axis is -infinity, the identity of `max` (NumPy and
    /// PyTorch raise an error instead); its gradient goes to no element.
    #[track_caller]
    pub fn max_axes(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        let ax = axes_of("max", axes, self.ndim());
        let value = self.value().max_axes(axes, keepdim);
        record(Structured(Extreme { axes: ax, name: "max" }), &[self], value)
    }

    /// Maximum of all elements, as a 0-d value.
    #[track_caller]
    pub fn max(&self) -> Var<T> {
        self.max_axes(&[], false)
    }

    /// Minimum over `axes`; ties share the gradient equally. NaN propagates. The minimum
    /// over an empty axis is +infinity (see [`max_axes`](Self::max_axes)).
    #[track_caller]
    pub fn min_axes(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        let ax = axes_of("min", axes, self.ndim());
        let value = self.value().min_axes(axes, keepdim);
        record(Structured(Extreme { axes: ax, name: "min" }), &[self], value)
    }

    /// Minimum of all elements, as a 0-d value.
    #[track_caller]
    pub fn min(&self) -> Var<T> {
        self.min_axes(&[], false)
    }

    /// Variance over `axes`, dividing by `n - correction`: `correction = 0` is the
    /// population variance (NumPy's and Keras' default), `1` the unbiased estimate
    /// (PyTorch's default).
    #[track_caller]
    pub fn var_axes(&self, axes: &[isize], keepdim: bool, correction: usize) -> Var<T> {
        let ax = axes_of("var", axes, self.ndim());
        let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
        let centred = self - &self.mean_axes(axes, true);
        let ss = centred.square().sum_axes(axes, keepdim);
        ss.div_scalar(T::from_usize(n.saturating_sub(correction)))
    }

    /// Standard deviation: the square root of [`var_axes`](Self::var_axes).
    #[track_caller]
    pub fn std_axes(&self, axes: &[isize], keepdim: bool, correction: usize) -> Var<T> {
        self.var_axes(axes, keepdim, correction).sqrt()
    }

    /// ln(sum(exp(x))) over `axes`, computed stably by shifting by the maximum.
    #[track_caller]
    pub fn logsumexp(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        // The shift is a constant: its derivative cancels exactly, so detaching it is exact.
        let m = self.value().max_axes(axes, true).map(|v| if v.is_finite() { v } else { T::ZERO });
        let m = Var::constant(m);
        let lse = (self - &m).exp().sum_axes(axes, true).ln() + m;
        if keepdim {
            lse
        } else {
            let ax = axes_of("logsumexp", axes, self.ndim());
            let s: Shape = self.shape().iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, &d)| d).collect();
            lse.reshape(s)
        }
    }

    /// Index of the largest element along `axis` (first on ties), per position of the other
    /// axes in row-major order. Not differentiable.
    #[track_caller]
    pub fn argmax(&self, axis: isize) -> Vec<usize> {
        self.value().argmax(axis).0
    }

    /// Index of the smallest element along `axis` (first on ties). Not differentiable.
    #[track_caller]
    pub fn argmin(&self, axis: isize) -> Vec<usize> {
        self.value().argmin(axis).0
    }
}
