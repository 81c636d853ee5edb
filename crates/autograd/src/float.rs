//! The element types a [`Tensor`](crate::Tensor) can hold.

use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point element type: implemented for `f32` (the fast default for training)
/// and `f64` (for finite-difference gradient checks).
///
/// The methods mirror the inherent float methods so that kernels can be written once,
/// generically. The trait is sealed (its supertraits, the buffer pool and the GEMM kernel of
/// each type, are private to the crate): it is implemented for `f32` and `f64` only.
pub trait Float:
    crate::pool::sealed::Pooled
    + crate::gemm::sealed::Gemm
    + Copy
    + Send
    + Sync
    + 'static
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + LowerExp
    + Default
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// The type's name, `"f32"` or `"f64"`, used in error messages and file formats.
    const NAME: &'static str;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Not a number.
    const NAN: Self;

    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts from `usize` (for counts such as the divisor of a mean).
    fn from_usize(v: usize) -> Self {
        Self::from_f64(v as f64)
    }
    /// e^x (for `f32` a vectorizable version within 2 ulp of libm's correctly rounded one).
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// e^x - 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Integer power.
    fn powi(self, n: i32) -> Self;
    /// Real power.
    fn powf(self, p: Self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Hyperbolic tangent (for `f32` a vectorizable version within 2 ulp).
    fn tanh(self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
    /// The larger of two values (NaN-propagating is not guaranteed; see [`f64::max`]).
    fn max(self, other: Self) -> Self;
    /// The smaller of two values.
    fn min(self, other: Self) -> Self;
    /// Whether the value is neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// 1 / x.
    fn recip(self) -> Self {
        Self::ONE / self
    }
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $erf:path, $exp:path, $tanh:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAME: &'static str = $name;
            const EPSILON: Self = <$t>::EPSILON;
            const INFINITY: Self = <$t>::INFINITY;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const NAN: Self = <$t>::NAN;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            #[inline(always)]
            fn powf(self, p: Self) -> Self {
                <$t>::powf(self, p)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}

// f32's exp and tanh are the vectorizable ones of `fastmath` (within 2 ulp); f64 keeps libm's.
impl_float!(f32, "f32", libm::erff, crate::fastmath::exp_f32, crate::fastmath::tanh_f32);
impl_float!(f64, "f64", libm::erf, f64::exp, f64::tanh);

/// max(v, 0), keeping NaN.
#[inline(always)]
pub(crate) fn relu_value<T: Float>(v: T) -> T {
    if v > T::ZERO || v.is_nan() {
        v
    } else {
        T::ZERO
    }
}

/// Numerically stable logistic function: 1 / (1 + e^-v) for v >= 0, e^v / (1 + e^v) below,
/// with one exponential (of -|v|, which never overflows) so that it vectorizes.
#[inline(always)]
pub(crate) fn sigmoid<T: Float>(v: T) -> T {
    let e = (-v.abs()).exp();
    let num = if v >= T::ZERO { T::ONE } else { e };
    num / (T::ONE + e)
}
