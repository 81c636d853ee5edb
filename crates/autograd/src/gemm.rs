//! The general matrix multiply of each element type, from the `gemm` crate, behind a sealed
//! trait: the kernels call it, the public [`Float`](crate::Float) trait does not expose it.

pub(crate) mod sealed {
    /// An element type with a GEMM kernel. Sealed: nameable only inside the crate.
    pub trait Gemm: Sized {
        /// `C = A B` (or `C += A B` with `accumulate`) on strided row/column layouts, on
        /// `threads` threads (1: the calling thread). Without `accumulate`, `C` is only
        /// written, never read.
        ///
        /// # Safety
        /// `a` must be valid for reads of an `m x k` matrix with strides `(rsa, csa)`, `b` of
        /// a `k x n` matrix with `(rsb, csb)`, and `c` valid for writes of an `m x n` matrix
        /// with `(rsc, csc)` that aliases neither input (and initialised, with `accumulate`).
        #[allow(clippy::too_many_arguments)]
        unsafe fn gemm(
            m: usize,
            k: usize,
            n: usize,
            a: *const Self,
            rsa: isize,
            csa: isize,
            b: *const Self,
            rsb: isize,
            csb: isize,
            c: *mut Self,
            rsc: isize,
            csc: isize,
            accumulate: bool,
            threads: usize,
        );
    }
}

macro_rules! impl_gemm {
    ($($t:ty),*) => {$(
        impl sealed::Gemm for $t {
            unsafe fn gemm(
                m: usize,
                k: usize,
                n: usize,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                c: *mut Self,
                rsc: isize,
                csc: isize,
                accumulate: bool,
                threads: usize,
            ) {
                let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
                // SAFETY: the caller upholds the pointer and stride contract documented on the
                // trait method. gemm computes dst = alpha dst + beta lhs rhs (alpha = beta = 1);
                // `accumulate` is its read_dst: when false, dst is only written.
                unsafe {
                    gemm::gemm(
                        m, n, k, c, csc, rsc, accumulate, a, csa, rsa, b, csb, rsb, 1.0, 1.0, false, false, false, par,
                    )
                }
            }
        }
    )*};
}
impl_gemm!(f32, f64);
