//! Softmax, log-softmax and cross-entropy kernels over rows of slices: the maximum
//! subtracted, exponentials in one vector pass, sums in vector lanes.

use crate::float::Float;
use crate::simd::{fold_lanes, vectorized, Kernel};

/// Softmax or log-softmax of every lane along `axis`. Contiguous lanes (the last axis, the
/// usual case) run in one vectorized kernel; other axes copy each lane out and back.
pub(crate) fn lanes<T: Float>(data: &[T], (outer, n, inner): (usize, usize, usize), log: bool) -> Vec<T> {
    let mut out = crate::pool::filled(data.len(), T::ZERO);
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
    out
}

/// The largest element of a row ignoring NaN, or 0 when that is not finite (an all -inf row,
/// an empty one), so that subtracting it never makes NaN out of infinities.
#[inline(always)]
pub(crate) fn lane_max<T: Float>(row: &[T]) -> T {
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
pub(crate) struct CrossEntropyRows<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) targets: &'a [usize],
    pub(crate) scratch: &'a mut [T],
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
pub(crate) fn cross_entropy_grad<T: Float>(x: &[T], c: usize, targets: &[usize], n: T, g: T) -> Vec<T> {
    let mut out = crate::pool::filled(x.len(), T::ZERO);
    vectorized(SoftmaxRows { data: x, out: &mut out, n: c, log: false });
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
    out
}
