//! Running a hot loop with the widest vector instructions this CPU has.
//!
//! The crate is compiled for the baseline x86-64 target (SSE2), so that binaries run on any
//! x86-64 machine. [`vectorized`] runs a [`Kernel`] inside a function compiled for AVX-512
//! (F, VL, BW, DQ) or else AVX2 + FMA (x86-64-v3) when the CPU has them, detected once at run
//! time. A kernel's `run` is
//! `#[inline(always)]`, so its loops are compiled into that function and auto-vectorized 8
//! f32 lanes wide instead of 4. (A closure would not do: whether it is inlined is up to the
//! optimizer, and when it is not, its loop silently stays scalar.) Elsewhere (older CPUs,
//! other architectures) the kernel simply runs as it is.

use std::mem::MaybeUninit;

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::sync::atomic::{AtomicU8, Ordering};

    static LEVEL: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 baseline, 2 x86-64-v3, 3 AVX-512

    #[inline]
    fn level() -> u8 {
        match LEVEL.load(Ordering::Relaxed) {
            0 => {
                let v3 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
                let v4 = v3
                    && std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512dq");
                let l = if v4 {
                    3
                } else if v3 {
                    2
                } else {
                    1
                };
                LEVEL.store(l, Ordering::Relaxed);
                l
            }
            l => l,
        }
    }

    #[target_feature(enable = "avx,avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
    unsafe fn run_v4<K: super::Kernel>(k: K) -> K::Output {
        k.run()
    }

    #[target_feature(enable = "avx,avx2,fma")]
    unsafe fn run_v3<K: super::Kernel>(k: K) -> K::Output {
        k.run()
    }

    #[inline]
    pub fn vectorized<K: super::Kernel>(k: K) -> K::Output {
        match level() {
            // SAFETY: `run_v4` requires AVX, AVX2, FMA and AVX-512 F/VL/BW/DQ, all checked at
            // run time by `level` (3 is stored only when every one of them is present).
            3 => unsafe { run_v4(k) },
            // SAFETY: `run_v3` requires AVX, AVX2 and FMA, checked at run time by `level`.
            2 => unsafe { run_v3(k) },
            _ => k.run(),
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    #[inline]
    pub fn vectorized<K: super::Kernel>(k: K) -> K::Output {
        k.run()
    }
}

/// A loop to run with the widest vector instructions available: put the loop in `run` and
/// mark it `#[inline(always)]` (that is what gets it compiled for AVX2), keep its data in the
/// struct (slices are then known not to alias, so the loop vectorizes).
pub trait Kernel {
    /// What the loop returns.
    type Output;
    /// The loop. Must be `#[inline(always)]`.
    fn run(self) -> Self::Output;
}

/// Runs `k`, compiled for AVX-512 or AVX2 + FMA when the CPU supports them (see the module
/// docs). The
/// result is bit-for-bit the same on every CPU: the compiler does not contract `a * b + c`
/// into a fused multiply-add without being asked, and lanes are independent, so only the
/// speed changes. (A kernel that reduces in lanes, like a sum with several accumulators,
/// must fix its accumulation order itself, as `Tensor::sum_all` does.)
///
/// ```
/// use autograd::simd::{vectorized, Kernel};
/// struct Axpy<'a> { a: f32, x: &'a [f32], y: &'a mut [f32] }
/// impl Kernel for Axpy<'_> {
///     type Output = ();
///     #[inline(always)]
///     fn run(self) {
///         for (y, &x) in self.y.iter_mut().zip(self.x) { *y += self.a * x; }
///     }
/// }
/// let x = vec![1.0f32; 1000];
/// let mut y = vec![2.0f32; 1000];
/// vectorized(Axpy { a: 0.5, x: &x, y: &mut y });
/// assert_eq!(y[999], 2.5);
/// ```
#[inline]
pub fn vectorized<K: Kernel>(k: K) -> K::Output {
    imp::vectorized(k)
}

/// Elementwise `f(x)` into the slots `out` (as many as `a` has elements). The input may be of
/// another type than the output (bytes of an image into floats).
///
/// Kernels write through `MaybeUninit` slots handed out by `kernels::fill`, not with
/// `Vec::extend`: `extend` is not inlined into the `#[target_feature]` wrapper, so its loop
/// would be compiled for the baseline target, without AVX.
pub(crate) struct MapInto<'a, S, T, F> {
    pub a: &'a [S],
    pub f: &'a F,
    pub out: &'a mut [MaybeUninit<T>],
}
impl<S: Copy, T, F: Fn(S) -> T> Kernel for MapInto<'_, S, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        assert_eq!(self.a.len(), self.out.len());
        let f = self.f;
        for (o, &x) in self.out.iter_mut().zip(self.a) {
            o.write(f(x));
        }
    }
}

/// Elementwise `f(a, b, c)` of three slices of `out`'s length into the slots `out` (a unary
/// op's backward: input, output and incoming gradient).
pub(crate) struct Map3Into<'a, T, F> {
    pub a: &'a [T],
    pub b: &'a [T],
    pub c: &'a [T],
    pub f: &'a F,
    pub out: &'a mut [MaybeUninit<T>],
}
impl<T: Copy, F: Fn(T, T, T) -> T> Kernel for Map3Into<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let n = self.out.len();
        assert!(self.a.len() == n && self.b.len() == n && self.c.len() == n);
        let f = self.f;
        for (((o, &x), &y), &z) in self.out.iter_mut().zip(self.a).zip(self.b).zip(self.c) {
            o.write(f(x, y, z));
        }
    }
}

/// Elementwise `f(a, b)` into the slots `out` (as many as `a` has elements), with `b` of the
/// same length, of length 1 (a scalar; on the left of `f` with `swap`), or a row repeated
/// (its length divides `a`'s).
pub(crate) struct ZipInto<'a, T, F> {
    pub a: &'a [T],
    pub b: &'a [T],
    pub f: &'a F,
    pub swap: bool,
    pub out: &'a mut [MaybeUninit<T>],
}
impl<T: Copy, F: Fn(T, T) -> T> Kernel for ZipInto<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (a, b, f, out) = (self.a, self.b, self.f, self.out);
        assert_eq!(a.len(), out.len());
        if b.len() == a.len() && !self.swap {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                o.write(f(x, y));
            }
        } else if b.len() == 1 {
            let y = b[0];
            if self.swap {
                for (o, &x) in out.iter_mut().zip(a) {
                    o.write(f(y, x));
                }
            } else {
                for (o, &x) in out.iter_mut().zip(a) {
                    o.write(f(x, y));
                }
            }
        } else {
            assert!(!b.is_empty() && a.len() % b.len() == 0, "zip: {} elements against rows of {}", a.len(), b.len());
            for (orow, row) in out.chunks_exact_mut(b.len()).zip(a.chunks_exact(b.len())) {
                for ((o, &x), &y) in orow.iter_mut().zip(row).zip(b) {
                    o.write(f(x, y));
                }
            }
        }
    }
}

/// Folds each contiguous run of `run` elements into one output (`f` must be associative up to
/// rounding: sum, max, min).
pub(crate) struct RunFoldKernel<'a, T, F> {
    pub data: &'a [T],
    pub out: &'a mut [T],
    pub run: usize,
    pub init: T,
    pub f: F,
}
impl<T: Copy, F: Fn(T, T) -> T> Kernel for RunFoldKernel<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (f, init) = (self.f, self.init);
        for (o, chunk) in self.out.iter_mut().zip(self.data.chunks_exact(self.run)) {
            *o = fold_lanes(chunk, init, &f);
        }
    }
}

/// Folds whole rows into one: `out[j] = f(out[j], row[j])` for each row of `out.len()`
/// elements, in row order (the bias-gradient pattern: a sum over leading axes).
pub(crate) struct RowsFoldKernel<'a, T, F> {
    pub data: &'a [T],
    pub out: &'a mut [T],
    pub f: F,
}
impl<T: Copy, F: Fn(T, T) -> T> Kernel for RowsFoldKernel<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let f = self.f;
        let n = self.out.len();
        for row in self.data.chunks_exact(n) {
            for (o, &x) in self.out.iter_mut().zip(row) {
                *o = f(*o, x);
            }
        }
    }
}

/// Folds `xs` with 32 independent accumulators (two to four vector registers), combined in a
/// fixed order at the end, so the loop vectorizes and the result is the same on every CPU.
/// Short runs fold in order.
#[inline(always)]
pub(crate) fn fold_lanes<T: Copy, F: Fn(T, T) -> T>(xs: &[T], init: T, f: &F) -> T {
    const LANES: usize = 32;
    if xs.len() < 4 * LANES {
        return xs.iter().fold(init, |a, &x| f(a, x));
    }
    let mut acc = [init; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = f(acc[i], c[i]);
        }
    }
    let mut r = init;
    for a in acc {
        r = f(r, a);
    }
    rem.iter().fold(r, |a, &x| f(a, x))
}
