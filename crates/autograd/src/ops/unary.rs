//! Elementwise functions of one variable. Each states its derivative once (`d`, in terms of
//! the input `x`, the output `y` and the incoming gradient `g`); `rules.rs` makes the
//! differentiable rule, the fused plain rule, the scalar lane and the tangent rule of it.

use crate::float::{relu_value, sigmoid, Float};
use crate::graph::Var;
use crate::rules::{c, Arith, Unary, UnaryRule};
use crate::var::record;

/// Defines a unary op: a unit struct with its derivative, and the `Var` method computing the
/// forward value.
macro_rules! unary_op {
    ($(#[$doc:meta])* $method:ident, $Op:ident, $name:literal,
     fwd: |$v:ident| $fwd:expr,
     d: |$x:ident, $y:ident, $g:ident| $d:expr) => {
        pub(crate) struct $Op;
        impl<T: Float> UnaryRule<T> for $Op {
            const NAME: &'static str = $name;
            #[inline(always)]
            #[allow(unused_variables)]
            fn d<A: Arith<T>>(&self, $x: &A, $y: &A, $g: &A) -> A {
                $d
            }
        }
        impl<T: Float> Var<T> {
            $(#[$doc])*
            #[track_caller]
            pub fn $method(&self) -> Var<T> {
                let value = self.value().map(|$v: T| $fwd);
                record(Unary($Op), &[self], value)
            }
        }
    };
}

/// The derivative of |x|: the sign, 0 at 0 (and for NaN).
#[inline(always)]
fn sign<T: Float>(v: T) -> T {
    if v > T::ZERO {
        T::ONE
    } else if v < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// 1 above 0, else 0: the derivative of relu, from its input or (the same) its output.
#[inline(always)]
fn step<T: Float>(v: T) -> T {
    if v > T::ZERO {
        T::ONE
    } else {
        T::ZERO
    }
}

unary_op!(
    /// -x.
    neg, Neg, "neg",
    fwd: |v| -v,
    d: |x, y, g| g.neg()
);
unary_op!(
    /// e^x.
    exp, Exp, "exp",
    fwd: |v| v.exp(),
    d: |x, y, g| g.mul(y)
);
unary_op!(
    /// Natural logarithm (-inf at 0, NaN below). The gradient at 0 is +inf (1/0), as in PyTorch.
    ln, Ln, "ln",
    fwd: |v| v.ln(),
    d: |x, y, g| g.div(x)
);
unary_op!(
    /// ln(1 + x), accurate for small x.
    log1p, Log1p, "log1p",
    fwd: |v| v.ln_1p(),
    d: |x, y, g| g.div(&x.add_c(T::ONE))
);
unary_op!(
    /// Square root. The gradient at 0 is +inf, as in PyTorch.
    sqrt, Sqrt, "sqrt",
    fwd: |v| v.sqrt(),
    d: |x, y, g| g.div(&y.mul_c(c(2.0)))
);
unary_op!(
    /// x^2.
    square, Square, "square",
    fwd: |v| v * v,
    d: |x, y, g| g.mul(&x.mul_c(c(2.0)))
);
unary_op!(
    /// 1/x.
    recip, Recip, "recip",
    fwd: |v| T::ONE / v,
    d: |x, y, g| g.mul(&y.square()).neg()
);
unary_op!(
    /// |x|. The gradient at 0 is 0 (the subgradient PyTorch uses).
    abs, Abs, "abs",
    fwd: |v| v.abs(),
    d: |x, y, g| g.mul(&x.mask(sign))
);
unary_op!(
    /// Sine.
    sin, Sin, "sin",
    fwd: |v| v.sin(),
    d: |x, y, g| g.mul(&x.cos())
);
unary_op!(
    /// Cosine.
    cos, Cos, "cos",
    fwd: |v| v.cos(),
    d: |x, y, g| g.mul(&x.sin()).neg()
);
unary_op!(
    /// Hyperbolic tangent.
    tanh, Tanh, "tanh",
    fwd: |v| v.tanh(),
    d: |x, y, g| g.mul(&y.square().neg().add_c(T::ONE))
);
unary_op!(
    /// The logistic function 1 / (1 + e^-x), computed without overflow for large |x|.
    sigmoid, Sigmoid, "sigmoid",
    fwd: |v| sigmoid(v),
    d: |x, y, g| g.mul(&y.mul(&y.neg().add_c(T::ONE)))
);
unary_op!(
    /// max(x, 0). The gradient at 0 is 0 (as PyTorch); NaN stays NaN.
    relu, Relu, "relu",
    fwd: |v| relu_value(v),
    // From the output: y > 0 exactly where x > 0, so fused layers that keep only y share it.
    d: |x, y, g| g.mul(&y.mask(step))
);
unary_op!(
    /// The error function.
    erf, Erf, "erf",
    fwd: |v| v.erf(),
    // 2/sqrt(pi) e^(-x^2)
    d: |x, y, g| g.mul(&x.square().neg().exp().mul_c(c(std::f64::consts::FRAC_2_SQRT_PI)))
);
unary_op!(
    /// ln(1 + e^x), computed stably as max(x, 0) + ln(1 + e^-|x|).
    softplus, Softplus, "softplus",
    fwd: |v| v.max(T::ZERO) + (-v.abs()).exp().ln_1p(),
    d: |x, y, g| g.mul(&x.sigmoid())
);
unary_op!(
    /// SiLU (swish), x * sigmoid(x), as `torch.nn.functional.silu`.
    silu, Silu, "silu",
    fwd: |v| v * sigmoid(v),
    // s + x s (1 - s) = s + y (1 - s), with s = sigmoid(x)
    d: |x, y, g| {
        let s = x.sigmoid();
        g.mul(&s.add(&y.mul(&s.neg().add_c(T::ONE))))
    }
);
unary_op!(
    /// GELU, the exact form x * Phi(x) with Phi the standard normal CDF (PyTorch's and
    /// Keras' default, not the tanh approximation).
    gelu, Gelu, "gelu",
    fwd: |v| v * c::<T>(0.5) * (T::ONE + (v * c::<T>(std::f64::consts::FRAC_1_SQRT_2)).erf()),
    // Phi(x) + x phi(x)
    d: |x, y, g| {
        let cdf = x.mul_c(c(std::f64::consts::FRAC_1_SQRT_2)).erf().mul_c(c(0.5)).add_c(c(0.5));
        let pdf = x.square().mul_c(c(-0.5)).exp().mul_c(c(1.0 / (2.0 * std::f64::consts::PI).sqrt()));
        g.mul(&cdf.add(&x.mul(&pdf)))
    }
);

/// `self + c`, `self * c`, `self / c` for a scalar `c`, and the parameterised functions.
pub(crate) struct AddScalar;
impl<T: Float> UnaryRule<T> for AddScalar {
    const NAME: &'static str = "add_scalar";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, _x: &A, _y: &A, g: &A) -> A {
        g.clone()
    }
}

pub(crate) struct MulScalar<T>(T);
impl<T: Float> UnaryRule<T> for MulScalar<T> {
    const NAME: &'static str = "mul_scalar";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, _x: &A, _y: &A, g: &A) -> A {
        g.mul_c(self.0)
    }
}

pub(crate) struct DivScalar<T>(T);
impl<T: Float> UnaryRule<T> for DivScalar<T> {
    const NAME: &'static str = "div_scalar";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, _x: &A, _y: &A, g: &A) -> A {
        g.div_c(self.0)
    }
}

pub(crate) struct Powi(i32);
impl<T: Float> UnaryRule<T> for Powi {
    const NAME: &'static str = "powi";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, x: &A, _y: &A, g: &A) -> A {
        g.mul(&x.powi(self.0 - 1).mul_c(T::from_f64(self.0 as f64)))
    }
    fn constant(&self) -> bool {
        self.0 == 0
    }
}

pub(crate) struct Powf(f64);
impl<T: Float> UnaryRule<T> for Powf {
    const NAME: &'static str = "powf";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, x: &A, _y: &A, g: &A) -> A {
        g.mul(&x.powf(self.0 - 1.0).mul_c(T::from_f64(self.0)))
    }
    fn constant(&self) -> bool {
        self.0 == 0.0
    }
}

pub(crate) struct LeakyRelu(f64);
impl<T: Float> UnaryRule<T> for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, x: &A, _y: &A, g: &A) -> A {
        let a = T::from_f64(self.0);
        g.mul(&x.mask(move |v| if v > T::ZERO { T::ONE } else { a }))
    }
}

pub(crate) struct Elu(f64);
impl<T: Float> UnaryRule<T> for Elu {
    const NAME: &'static str = "elu";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, x: &A, y: &A, g: &A) -> A {
        // x > 0: 1; else alpha e^x = y + alpha (through y, so second derivatives flow).
        let pos = x.mask(|v| if v > T::ZERO { T::ONE } else { T::ZERO });
        let neg = x.mask(|v| if v > T::ZERO { T::ZERO } else { T::ONE });
        g.mul(&pos.add(&neg.mul(&y.add_c(T::from_f64(self.0)))))
    }
}

pub(crate) struct Clamp(f64, f64);
impl<T: Float> UnaryRule<T> for Clamp {
    const NAME: &'static str = "clamp";
    #[inline(always)]
    fn d<A: Arith<T>>(&self, x: &A, _y: &A, g: &A) -> A {
        let (lo, hi) = (T::from_f64(self.0), T::from_f64(self.1));
        g.mul(&x.mask(move |v| if v >= lo && v <= hi { T::ONE } else { T::ZERO }))
    }
}

impl<T: Float> Var<T> {
    /// `self + c` for a scalar `c`.
    #[track_caller]
    pub fn add_scalar(&self, c: T) -> Var<T> {
        let value = self.value().map(|v| v + c);
        record(Unary(AddScalar), &[self], value)
    }

    /// `self * c` for a scalar `c`.
    #[track_caller]
    pub fn mul_scalar(&self, c: T) -> Var<T> {
        let value = self.value().map(|v| v * c);
        record(Unary(MulScalar(c)), &[self], value)
    }

    /// `self / c` for a scalar `c`.
    #[track_caller]
    pub fn div_scalar(&self, c: T) -> Var<T> {
        let value = self.value().map(|v| v / c);
        record(Unary(DivScalar(c)), &[self], value)
    }

    /// x^n for an integer n. The gradient `n x^(n-1)` at 0 is 0 for n >= 2, 1 for n = 1,
    /// -inf for n = -1 (as PyTorch); `powi(0)` is constant, so no gradient flows through it.
    #[track_caller]
    pub fn powi(&self, n: i32) -> Var<T> {
        let value = self.value().map(|v| v.powi(n));
        record(Unary(Powi(n)), &[self], value)
    }

    /// x^p for a real constant p (see [`pow`](Self::pow) for a variable exponent). The
    /// gradient `p x^(p-1)` at 0 is +inf for 0 < p < 1 (e.g. `powf(0.5)`), 1 for p = 1 and 0
    /// for p > 1, as in PyTorch; `powf(0.0)` is constant, so no gradient flows through it.
    #[track_caller]
    pub fn powf(&self, p: f64) -> Var<T> {
        let pt = T::from_f64(p);
        let value = self.value().map(|v| v.powf(pt));
        record(Unary(Powf(p)), &[self], value)
    }

    /// x for x > 0, else `alpha * x`. The gradient at 0 is `alpha` (as PyTorch).
    #[track_caller]
    pub fn leaky_relu(&self, alpha: f64) -> Var<T> {
        let a = T::from_f64(alpha);
        let value = self.value().map(|v| if v > T::ZERO { v } else { a * v });
        record(Unary(LeakyRelu(alpha)), &[self], value)
    }

    /// x for x > 0, else `alpha * (e^x - 1)`. The gradient at 0 is `alpha` (as PyTorch).
    #[track_caller]
    pub fn elu(&self, alpha: f64) -> Var<T> {
        let a = T::from_f64(alpha);
        let value = self.value().map(|v| if v > T::ZERO { v } else { a * v.exp_m1() });
        record(Unary(Elu(alpha)), &[self], value)
    }

    /// Limits every element to `[min, max]`. The gradient is 1 inside the closed interval
    /// and 0 outside (as in PyTorch).
    ///
    /// # Panics
    /// If `min > max`.
    #[track_caller]
    pub fn clamp(&self, min: f64, max: f64) -> Var<T> {
        if min > max {
            panic!("clamp: min ({min}) is above max ({max})");
        }
        let (lo, hi) = (T::from_f64(min), T::from_f64(max));
        let value = self.value().map(|v| {
            if v < lo {
                lo
            } else if v > hi {
                hi
            } else {
                v
            }
        });
        record(Unary(Clamp(min, max)), &[self], value)
    }
}
