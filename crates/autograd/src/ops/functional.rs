//! Neural-network functions with fused, numerically stable forward passes: softmax,
//! log-softmax, cross-entropy from logits, binary cross-entropy with logits.

use crate::error::OrPanic;
use crate::float::Float;
use crate::graph::Var;
use crate::rules::{Algebra, Grads, StructRule, Structured};
use crate::shape::{self as sh, fmt_shape};
use crate::simd::vectorized;
use crate::softmax::CrossEntropyRows;
use crate::tensor::Tensor;
use crate::var::record;
use smallvec::smallvec;
use std::rc::Rc;

/// `y * (g - sum(g * y))` along `axis`: the gradient of softmax's input given its output `y`
/// and the output's gradient `g`. Softmax's Jacobian is symmetric, so this is its tangent
/// rule too.
fn softmax_vjp<T: Float, A: Algebra<T>>(y: &A, g: &A, axis: isize) -> A {
    let gy = g.mul(y);
    gy.sub(&y.mul(&gy.sum_axes(&[axis], true)))
}

struct Softmax {
    axis: isize,
}
impl<T: Float> StructRule<T> for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn vjp<A: Algebra<T>>(&self, _x: &[A], y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        smallvec![needs[0].then(|| softmax_vjp(y, g, self.axis))]
    }
    fn jvp(&self, _x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        Some(softmax_vjp(y, dx[0].as_ref()?, self.axis))
    }
}

struct LogSoftmax {
    axis: isize,
}
impl<T: Float> StructRule<T> for LogSoftmax {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn vjp<A: Algebra<T>>(&self, _x: &[A], y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        // g - softmax(x) * sum(g), with softmax(x) = exp(y)
        smallvec![needs[0].then(|| g.sub(&y.exp().mul(&g.sum_axes(&[self.axis], true))))]
    }
}

/// Mean cross-entropy of logits `[n, c]` against integer targets. Its gradient is the fused
/// [`CrossEntropyGrad`], an op of its own, so that both sweeps compute it in one pass.
struct CrossEntropy {
    targets: Rc<[usize]>,
}
impl<T: Float> StructRule<T> for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        // d/dx mean_i(lse(x_i) - x_i[t_i]) = (softmax(x) - onehot) / n
        smallvec![needs[0].then(|| A::cross_entropy_grad(&x[0], &self.targets, g))]
    }
}

/// `((softmax(x) - onehot(targets)) / n) * g` for logits `x` `[n, c]` and a scalar `g`: the
/// gradient of [`CrossEntropy`], differentiable in turn.
struct CrossEntropyGrad {
    targets: Rc<[usize]>,
}
impl<T: Float> StructRule<T> for CrossEntropyGrad {
    fn name(&self) -> &'static str {
        "cross_entropy_grad"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, u: &A, needs: &[bool]) -> Grads<A> {
        let (x, g) = (&x[0], &x[1]);
        let n = T::from_usize(x.shape()[0]);
        // The output is softmax(x) scaled by g / n, less a constant: through softmax's rule.
        let gx = needs[0].then(|| softmax_vjp(&x.softmax(-1), &u.mul(&g.div_c(n)), -1));
        let gg = needs[1].then(|| {
            A::cross_entropy_grad(x, &self.targets, &A::constant(Tensor::scalar(T::ONE))).mul(u).sum_axes(&[], false)
        });
        smallvec![gx, gg]
    }
}

struct BceWithLogits;
impl<T: Float> StructRule<T> for BceWithLogits {
    fn name(&self) -> &'static str {
        "binary_cross_entropy_with_logits"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        let (x, t) = (&x[0], &x[1]);
        let n = T::from_usize(x.value().numel());
        smallvec![needs[0].then(|| x.sigmoid().sub(t).div_c(n).mul(g)), needs[1].then(|| x.neg().div_c(n).mul(g))]
    }
}

impl<T: Float> Var<T> {
    /// Softmax along `axis`: exp(x) / sum(exp(x)), computed with the maximum subtracted so
    /// large logits do not overflow.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Var<T> {
        let ax = sh::normalize_axis("softmax", axis, self.ndim()).or_panic();
        let value = self.value().softmax(ax as isize);
        record(Structured(Softmax { axis: ax as isize }), &[self], value)
    }

    /// log(softmax(x)) along `axis`, computed as x - logsumexp(x) (stable, no log of 0).
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Var<T> {
        let ax = sh::normalize_axis("log_softmax", axis, self.ndim()).or_panic();
        let value = self.value().log_softmax(ax as isize);
        record(Structured(LogSoftmax { axis: ax as isize }), &[self], value)
    }

    /// Mean cross-entropy between logits `[n, classes]` and integer class targets
    /// (`torch.nn.functional.cross_entropy`), fused: no softmax is materialised in the
    /// forward pass and the result is finite for any finite logits.
    ///
    /// # Panics
    /// If the logits are not 2-d, the number of targets is not `n`, or a target is not a
    /// valid class.
    #[track_caller]
    pub fn cross_entropy(&self, targets: &[usize]) -> Var<T> {
        self.try_cross_entropy(targets).or_panic()
    }

    /// Fallible [`cross_entropy`](Self::cross_entropy).
    #[track_caller]
    pub fn try_cross_entropy(&self, targets: &[usize]) -> crate::error::Result<Var<T>> {
        let op = "cross_entropy";
        if self.ndim() != 2 {
            return Err(crate::error::Error::new(
                op,
                format!("logits must be [n, classes], got {}", fmt_shape(self.shape())),
            ));
        }
        let (n, c) = (self.shape()[0], self.shape()[1]);
        if targets.len() != n {
            return Err(crate::error::Error::new(
                op,
                format!("{} targets for logits of shape {}", targets.len(), fmt_shape(self.shape())),
            ));
        }
        if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= c) {
            return Err(crate::error::Error::new(op, format!("target {t} at position {i} is not below {c} classes")));
        }
        let mut scratch = vec![T::ZERO; c];
        let total = vectorized(CrossEntropyRows { data: self.value().data(), targets, scratch: &mut scratch });
        let value = Tensor::scalar(T::from_f64(total / n as f64));
        Ok(record(Structured(CrossEntropy { targets: targets.into() }), &[self], value))
    }

    /// Mean binary cross-entropy between logits and targets in [0, 1] of the same shape
    /// (`torch.nn.functional.binary_cross_entropy_with_logits`), computed stably as
    /// `max(x, 0) - x t + ln(1 + e^-|x|)`.
    ///
    /// # Panics
    /// If the shapes differ.
    #[track_caller]
    pub fn binary_cross_entropy_with_logits(&self, targets: &Var<T>) -> Var<T> {
        assert!(
            self.shape() == targets.shape(),
            "binary_cross_entropy_with_logits: logits {} and targets {} differ in shape",
            fmt_shape(self.shape()),
            fmt_shape(targets.shape())
        );
        let total: f64 = self
            .value()
            .data()
            .iter()
            .zip(targets.value().data())
            .map(|(&x, &t)| (x.max(T::ZERO) - x * t + (-x.abs()).exp().ln_1p()).to_f64())
            .sum();
        let value = Tensor::scalar(T::from_f64(total / self.numel() as f64));
        record(Structured(BceWithLogits), &[self, targets], value)
    }
}

impl<T: Float> Var<T> {
    /// The gradient of [`cross_entropy`](Self::cross_entropy) given the loss's gradient `g`
    /// (a scalar), recorded as its own op.
    #[track_caller]
    pub(crate) fn cross_entropy_grad(&self, targets: &Rc<[usize]>, g: &Var<T>) -> Var<T> {
        let value = self.value().cross_entropy_grad(targets, g.value().item());
        record(Structured(CrossEntropyGrad { targets: targets.clone() }), &[self, g], value)
    }
}
