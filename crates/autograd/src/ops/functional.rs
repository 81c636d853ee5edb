//! Neural-network functions with fused, numerically stable forward passes: softmax,
//! log-softmax, cross-entropy from logits, binary cross-entropy with logits.

use crate::float::Float;
use crate::shape::{self as sh, fmt_shape};
use crate::simd::{fold_lanes, vectorized, Kernel};
use crate::tape::{InputGrads, Op, Var};
use crate::tensor::{split_at_axis, Tensor};
use smallvec::smallvec;
use std::rc::Rc;

/// Softmax or log-softmax of every lane along `axis`. Contiguous lanes (the last axis, the
/// usual case) run in one vectorized kernel; other axes copy each lane out and back.
fn lanes<T: Float>(x: &Tensor<T>, axis: usize, log: bool) -> Tensor<T> {
    let (outer, n, inner) = split_at_axis(x.shape(), axis);
    let mut out = crate::pool::filled(x.numel(), T::ZERO);
    let data = x.data();
    if inner == 1 {
        vectorized(SoftmaxRows { data, out: &mut out, n, log });
    } else {
        let mut lane = vec![T::ZERO; n];
        let mut res = vec![T::ZERO; n];
        for o in 0..outer {
            for i in 0..inner {
                for k in 0..n {
                    lane[k] = data[(o * n + k) * inner + i];
                }
                vectorized(SoftmaxRows { data: &lane, out: &mut res, n, log });
                for k in 0..n {
                    out[(o * n + k) * inner + i] = res[k];
                }
            }
        }
    }
    Tensor::from_vec(out, x.shape()).expect("lanes keep the shape")
}

/// The largest element of a row ignoring NaN, or 0 when that is not finite (an all -inf row,
/// an empty one), so that subtracting it never makes NaN out of infinities.
#[inline(always)]
fn lane_max<T: Float>(row: &[T]) -> T {
    let m = fold_lanes(row, T::NEG_INFINITY, &|a: T, v: T| if v > a { v } else { a });
    if m.is_finite() {
        m
    } else {
        T::ZERO
    }
}

/// Softmax (or log-softmax) of each row of `n` contiguous elements of `data` into `out`: the
/// maximum subtracted, exponentials in one vector pass, their sum in vector lanes.
struct SoftmaxRows<'a, T> {
    data: &'a [T],
    out: &'a mut [T],
    n: usize,
    log: bool,
}
impl<T: Float> Kernel for SoftmaxRows<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        if self.n == 0 {
            return;
        }
        for (row, o) in self.data.chunks_exact(self.n).zip(self.out.chunks_exact_mut(self.n)) {
            let m = lane_max(row);
            for (o, &v) in o.iter_mut().zip(row) {
                *o = (v - m).exp();
            }
            let s = fold_lanes(o, T::ZERO, &|a: T, b: T| a + b);
            if self.log {
                let lse = m + s.ln();
                for (o, &v) in o.iter_mut().zip(row) {
                    *o = v - lse;
                }
            } else {
                for o in o.iter_mut() {
                    *o /= s;
                }
            }
        }
    }
}

/// Sum over rows of `logsumexp(row) - row[target]`, in f64.
struct CrossEntropyRows<'a, T> {
    data: &'a [T],
    targets: &'a [usize],
    scratch: &'a mut [T],
}
impl<T: Float> Kernel for CrossEntropyRows<'_, T> {
    type Output = f64;
    #[inline(always)]
    fn run(self) -> f64 {
        let c = self.scratch.len();
        let mut total = 0.0f64;
        if c == 0 {
            return total;
        }
        for (row, &t) in self.data.chunks_exact(c).zip(self.targets) {
            let m = lane_max(row);
            for (e, &v) in self.scratch.iter_mut().zip(row) {
                *e = (v - m).exp();
            }
            let s = fold_lanes(self.scratch, T::ZERO, &|a: T, b: T| a + b);
            total += (m + s.ln() - row[t]).to_f64();
        }
        total
    }
}

/// `((softmax(x) - onehot(targets)) / n) * g` for logits `[n, c]`: the cross-entropy gradient
/// in one buffer, with the operations of the differentiable rule in its order (so both
/// sweeps give the same bits).
fn cross_entropy_grad<T: Float>(x: &Tensor<T>, targets: &[usize], n: T, g: T) -> Tensor<T> {
    let c = x.shape()[1];
    let mut out = crate::pool::filled(x.numel(), T::ZERO);
    vectorized(SoftmaxRows { data: x.data(), out: &mut out, n: c, log: false });
    if c > 0 {
        for (row, &t) in out.chunks_exact_mut(c).zip(targets) {
            row[t] -= T::ONE;
        }
    }
    struct Scale<'a, T>(&'a mut [T], T, T);
    impl<T: Float> Kernel for Scale<'_, T> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            let (n, g) = (self.1, self.2);
            for v in self.0.iter_mut() {
                *v = (*v / n) * g;
            }
        }
    }
    vectorized(Scale(&mut out, n, g));
    Tensor::from_vec(out, x.shape()).expect("same shape as the logits")
}

struct Softmax {
    axis: isize,
}
impl<T: Float> Op<T> for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn backward(&self, _inputs: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        // dx = y * (g - sum(g * y))
        let gy = g * y;
        smallvec![Some(&gy - &(y * &gy.sum_axes(&[self.axis], true)))]
    }
}

struct LogSoftmax {
    axis: isize,
}
impl<T: Float> Op<T> for LogSoftmax {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(&self, _inputs: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        // dx = g - softmax(x) * sum(g), with softmax(x) = exp(y)
        smallvec![Some(g - &(&y.exp() * &g.sum_axes(&[self.axis], true)))]
    }
}

struct CrossEntropy {
    targets: Rc<[usize]>,
}
impl<T: Float> Op<T> for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let x = &inputs[0];
        let n = x.shape()[0];
        if !crate::tape::is_grad_enabled() {
            // A plain backward: nothing will differentiate this gradient, so compute it in one
            // fused pass instead of the differentiable composite below.
            let grad = cross_entropy_grad(x.value(), &self.targets, T::from_usize(n), g.value().item());
            return smallvec![Some(Var::constant(grad))];
        }
        let onehot = Var::constant(Tensor::try_one_hot(&self.targets, x.shape()[1]).expect("checked in forward"));
        // d/dx mean_i(lse(x_i) - x_i[t_i]) = (softmax(x) - onehot) / n
        let d = (&x.softmax(-1) - &onehot).div_scalar(T::from_usize(n));
        smallvec![Some(&d * g)]
    }
}

struct BceWithLogits;
impl<T: Float> Op<T> for BceWithLogits {
    fn name(&self) -> &'static str {
        "binary_cross_entropy_with_logits"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (x, t) = (&inputs[0], &inputs[1]);
        let n = T::from_usize(x.numel());
        let gx = x.requires_grad().then(|| &(&x.sigmoid() - t).div_scalar(n) * g);
        let gt = t.requires_grad().then(|| &(-x).div_scalar(n) * g);
        smallvec![gx, gt]
    }
}

impl<T: Float> Var<T> {
    /// Softmax along `axis`: exp(x) / sum(exp(x)), computed with the maximum subtracted so
    /// large logits do not overflow.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Var<T> {
        let ax = sh::normalize_axis("softmax", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        let value = lanes(self.value(), ax, false);
        Var::from_op(Softmax { axis: ax as isize }, &[self], value)
    }

    /// log(softmax(x)) along `axis`, computed as x - logsumexp(x) (stable, no log of 0).
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Var<T> {
        let ax = sh::normalize_axis("log_softmax", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        let value = lanes(self.value(), ax, true);
        Var::from_op(LogSoftmax { axis: ax as isize }, &[self], value)
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
        self.try_cross_entropy(targets).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible [`cross_entropy`](Self::cross_entropy).
    #[track_caller]
    pub fn try_cross_entropy(&self, targets: &[usize]) -> crate::Result<Var<T>> {
        let op = "cross_entropy";
        if self.ndim() != 2 {
            return Err(crate::Error::new(op, format!("logits must be [n, classes], got {}", fmt_shape(self.shape()))));
        }
        let (n, c) = (self.shape()[0], self.shape()[1]);
        if targets.len() != n {
            return Err(crate::Error::new(
                op,
                format!("{} targets for logits of shape {}", targets.len(), fmt_shape(self.shape())),
            ));
        }
        if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= c) {
            return Err(crate::Error::new(op, format!("target {t} at position {i} is not below {c} classes")));
        }
        let mut scratch = vec![T::ZERO; c];
        let total = vectorized(CrossEntropyRows { data: self.value().data(), targets, scratch: &mut scratch });
        let value = Tensor::scalar(T::from_f64(total / n as f64));
        Ok(Var::from_op(CrossEntropy { targets: targets.into() }, &[self], value))
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
        Var::from_op(BceWithLogits, &[self, targets], value)
    }
}

impl<T: Float> Tensor<T> {
    /// Softmax along `axis` (untracked).
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor<T> {
        let ax = sh::normalize_axis("softmax", axis, self.ndim()).unwrap_or_else(|e| panic!("{e}"));
        lanes(self, ax, false)
    }
}
