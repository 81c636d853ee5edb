//! Elementwise functions of one variable.

use super::c;
use crate::float::Float;

use crate::tape::{InputGrads, Op, PlainGrads, ScalarGrads, Var};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// Defines a unary op: a unit struct, its backward rules, and the `Var` method.
/// In the backward expressions, `x` is the input, `y` the output, `g` the incoming gradient:
/// `Var`s in `bwd` (differentiable, used with `create_graph`), elements in `plain` (the
/// plain sweep). `plain` repeats `bwd`'s arithmetic in the same order, so both sweeps give
/// the same bits (checked in tests/plain_backward.rs).
macro_rules! unary_op {
    ($(#[$doc:meta])* $method:ident, $Op:ident, $name:literal,
     fwd: |$v:ident| $fwd:expr,
     bwd: |$x:ident, $y:ident, $g:ident| $bwd:expr,
     plain: |$px:ident, $py:ident, $pg:ident| $plain:expr) => {
        struct $Op;
        impl<T: Float> Op<T> for $Op {
            fn name(&self) -> &'static str {
                $name
            }
            #[allow(unused_variables)]
            fn backward(&self, inputs: &[Var<T>], $y: &Var<T>, $g: &Var<T>) -> InputGrads<T> {
                let $x = &inputs[0];
                smallvec![Some($bwd)]
            }
            #[allow(unused_variables)]
            fn backward_plain(
                &self,
                inputs: &[Tensor<T>],
                needs_grad: &[bool],
                output: &Tensor<T>,
                grad: &Tensor<T>,
            ) -> Option<PlainGrads<T>> {
                Some(unary_plain(inputs, needs_grad, output, grad, |$px: T, $py: T, $pg: T| $plain))
            }
            #[allow(unused_variables)]
            fn backward_scalar(&self, inputs: &[T], $py: T, $pg: T) -> Option<ScalarGrads<T>> {
                let $px = inputs[0];
                Some(smallvec![$plain])
            }
        }
        impl<T: Float> Var<T> {
            $(#[$doc])*
            #[track_caller]
            pub fn $method(&self) -> Var<T> {
                let value = self.value().map(|$v: T| $fwd);
                Var::from_op($Op, &[self], value)
            }
        }
    };
}

/// The plain backward of a unary op: `f(x, y, g)` elementwise (input, output, incoming
/// gradient, all of one shape), in one pass instead of the rule's few.
#[inline]
fn unary_plain<T: Float>(
    inputs: &[Tensor<T>],
    needs_grad: &[bool],
    y: &Tensor<T>,
    g: &Tensor<T>,
    f: impl Fn(T, T, T) -> T + Sync,
) -> PlainGrads<T> {
    smallvec![needs_grad[0].then(|| map3(&inputs[0], y, g, f))]
}

/// `f(a, b, c)` elementwise over three tensors of one shape (pooled, vectorized, threaded
/// for large tensors as the forward kernels are).
fn map3<T: Float>(a: &Tensor<T>, b: &Tensor<T>, c: &Tensor<T>, f: impl Fn(T, T, T) -> T + Sync) -> Tensor<T> {
    assert!(
        a.shape() == b.shape() && a.shape() == c.shape(),
        "backward: shapes {:?}, {:?} and {:?} of a unary op's values differ",
        a.shape(),
        b.shape(),
        c.shape()
    );
    if a.ndim() == 0 {
        // Scalars: no buffer, no kernel.
        return Tensor::scalar(f(a.data()[0], b.data()[0], c.data()[0]));
    }
    let data = crate::kernels::map3(a.data(), b.data(), c.data(), f);
    Tensor::from_vec(data, a.shape()).expect("one length for one shape")
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

/// The derivative of relu: 1 above 0, else 0.
#[inline(always)]
fn step<T: Float>(v: T) -> T {
    if v > T::ZERO {
        T::ONE
    } else {
        T::ZERO
    }
}

/// A constant mask: `f(x)` elementwise, with no gradient.
fn mask<T: Float>(x: &Var<T>, f: impl Fn(T) -> T + Sync) -> Var<T> {
    Var::constant(x.value().map(f))
}

unary_op!(
    /// -x.
    neg, Neg, "neg",
    fwd: |v| -v,
    bwd: |x, y, g| -g,
    plain: |x, y, g| -g
);
unary_op!(
    /// e^x.
    exp, Exp, "exp",
    fwd: |v| v.exp(),
    bwd: |x, y, g| g * y,
    plain: |x, y, g| g * y
);
unary_op!(
    /// Natural logarithm (-inf at 0, NaN below). The gradient at 0 is +inf (1/0), as in PyTorch.
    ln, Ln, "ln",
    fwd: |v| v.ln(),
    bwd: |x, y, g| g / x,
    plain: |x, y, g| g / x
);
unary_op!(
    /// ln(1 + x), accurate for small x.
    log1p, Log1p, "log1p",
    fwd: |v| v.ln_1p(),
    bwd: |x, y, g| g / &(x + T::ONE),
    plain: |x, y, g| g / (x + T::ONE)
);
unary_op!(
    /// Square root. The gradient at 0 is +inf, as in PyTorch.
    sqrt, Sqrt, "sqrt",
    fwd: |v| v.sqrt(),
    bwd: |x, y, g| g / &(y * c::<T>(2.0)),
    plain: |x, y, g| g / (y * c::<T>(2.0))
);
unary_op!(
    /// x^2.
    square, Square, "square",
    fwd: |v| v * v,
    bwd: |x, y, g| g * &(x * c::<T>(2.0)),
    plain: |x, y, g| g * (x * c::<T>(2.0))
);
unary_op!(
    /// 1/x.
    recip, Recip, "recip",
    fwd: |v| T::ONE / v,
    bwd: |x, y, g| -(g * &y.square()),
    plain: |x, y, g| -(g * (y * y))
);
unary_op!(
    /// |x|. The gradient at 0 is 0 (the subgradient PyTorch uses).
    abs, Abs, "abs",
    fwd: |v| v.abs(),
    bwd: |x, y, g| g * &mask(x, sign),
    plain: |x, y, g| g * sign(x)
);
unary_op!(
    /// Sine.
    sin, Sin, "sin",
    fwd: |v| v.sin(),
    bwd: |x, y, g| g * &x.cos(),
    plain: |x, y, g| g * x.cos()
);
unary_op!(
    /// Cosine.
    cos, Cos, "cos",
    fwd: |v| v.cos(),
    bwd: |x, y, g| -(g * &x.sin()),
    plain: |x, y, g| -(g * x.sin())
);
unary_op!(
    /// Hyperbolic tangent.
    tanh, Tanh, "tanh",
    fwd: |v| v.tanh(),
    bwd: |x, y, g| g * &(-y.square() + T::ONE),
    plain: |x, y, g| g * (-(y * y) + T::ONE)
);
unary_op!(
    /// The logistic function 1 / (1 + e^-x), computed without overflow for large |x|.
    sigmoid, Sigmoid, "sigmoid",
    fwd: |v| sigmoid(v),
    bwd: |x, y, g| g * &(y * &(-y + T::ONE)),
    plain: |x, y, g| g * (y * (-y + T::ONE))
);
unary_op!(
    /// max(x, 0). The gradient at 0 is 0 (as PyTorch); NaN stays NaN.
    relu, Relu, "relu",
    fwd: |v| relu_value(v),
    bwd: |x, y, g| g * &mask(x, step),
    plain: |x, y, g| g * step(x)
);
unary_op!(
    /// The error function.
    erf, Erf, "erf",
    fwd: |v| v.erf(),
    // d/dx erf(x) = 2/sqrt(pi) e^(-x^2)
    bwd: |x, y, g| g * &(x.square().neg().exp() * c::<T>(std::f64::consts::FRAC_2_SQRT_PI)),
    plain: |x, y, g| g * ((-(x * x)).exp() * c::<T>(std::f64::consts::FRAC_2_SQRT_PI))
);
unary_op!(
    /// ln(1 + e^x), computed stably as max(x, 0) + ln(1 + e^-|x|).
    softplus, Softplus, "softplus",
    fwd: |v| v.max(T::ZERO) + (-v.abs()).exp().ln_1p(),
    bwd: |x, y, g| g * &x.sigmoid(),
    plain: |x, y, g| g * sigmoid(x)
);

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

/// GELU's derivative Phi(x) + x phi(x) is split in two: `gelu_cdf` (with `erf`, a library
/// call that keeps its loop scalar) and `gelu_grad` (with `exp`, which vectorizes), so that
/// the plain tensor rule can run them as two loops. Every form uses both, in this order.
#[inline(always)]
fn gelu_cdf<T: Float>(x: T) -> T {
    (x * c::<T>(std::f64::consts::FRAC_1_SQRT_2)).erf() * c::<T>(0.5) + c::<T>(0.5)
}
#[inline(always)]
fn gelu_grad<T: Float>(x: T, cdf: T, g: T) -> T {
    let pdf = ((x * x) * c::<T>(-0.5)).exp() * c::<T>(1.0 / (2.0 * std::f64::consts::PI).sqrt());
    g * (cdf + x * pdf)
}

struct Gelu;
impl<T: Float> Op<T> for Gelu {
    fn name(&self) -> &'static str {
        "gelu"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        // d/dx x Phi(x) = Phi(x) + x phi(x)
        let x = &inputs[0];
        let cdf = (x * c::<T>(std::f64::consts::FRAC_1_SQRT_2)).erf() * c::<T>(0.5) + c::<T>(0.5);
        let pdf = (x.square() * c::<T>(-0.5)).exp() * c::<T>(1.0 / (2.0 * std::f64::consts::PI).sqrt());
        smallvec![Some(g * &(cdf + &(x * &pdf)))]
    }
    fn backward_plain(
        &self,
        inputs: &[Tensor<T>],
        needs_grad: &[bool],
        _y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        let x = &inputs[0];
        Some(smallvec![needs_grad[0].then(|| map3(x, &x.map(gelu_cdf), g, gelu_grad))])
    }
    fn backward_scalar(&self, inputs: &[T], _y: T, g: T) -> Option<ScalarGrads<T>> {
        let x = inputs[0];
        Some(smallvec![gelu_grad(x, gelu_cdf(x), g)])
    }
}

struct Powi(i32);
impl<T: Float> Op<T> for Powi {
    fn name(&self) -> &'static str {
        "powi"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        if self.0 == 0 {
            return smallvec![None];
        }
        smallvec![Some(g * &(inputs[0].powi(self.0 - 1) * T::from_f64(self.0 as f64)))]
    }
    fn backward_plain(
        &self,
        inputs: &[Tensor<T>],
        needs_grad: &[bool],
        y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        if self.0 == 0 {
            return Some(smallvec![None]);
        }
        let (m, n) = (self.0 - 1, T::from_f64(self.0 as f64));
        Some(unary_plain(inputs, needs_grad, y, g, move |x, _, g| g * (x.powi(m) * n)))
    }
    fn backward_scalar(&self, inputs: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        let _ = y;
        // powi(0) has no gradient (`None`), which only the tensor forms can say.
        (self.0 != 0).then(|| smallvec![g * (inputs[0].powi(self.0 - 1) * T::from_f64(self.0 as f64))])
    }
}

struct Powf(f64);
impl<T: Float> Op<T> for Powf {
    fn name(&self) -> &'static str {
        "powf"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        if self.0 == 0.0 {
            return smallvec![None];
        }
        smallvec![Some(g * &(inputs[0].powf(self.0 - 1.0) * T::from_f64(self.0)))]
    }
    fn backward_plain(
        &self,
        inputs: &[Tensor<T>],
        needs_grad: &[bool],
        y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        if self.0 == 0.0 {
            return Some(smallvec![None]);
        }
        let (m, p) = (T::from_f64(self.0 - 1.0), T::from_f64(self.0));
        Some(unary_plain(inputs, needs_grad, y, g, move |x, _, g| g * (x.powf(m) * p)))
    }
    fn backward_scalar(&self, inputs: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        let _ = y;
        // powf(0) has no gradient (`None`), which only the tensor forms can say.
        (self.0 != 0.0).then(|| smallvec![g * (inputs[0].powf(T::from_f64(self.0 - 1.0)) * T::from_f64(self.0))])
    }
}

struct LeakyRelu(f64);
impl<T: Float> Op<T> for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let a = T::from_f64(self.0);
        smallvec![Some(g * &mask(&inputs[0], move |v| if v > T::ZERO { T::ONE } else { a }))]
    }
    fn backward_plain(
        &self,
        inputs: &[Tensor<T>],
        needs_grad: &[bool],
        y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        let a = T::from_f64(self.0);
        Some(unary_plain(inputs, needs_grad, y, g, move |x, _, g| g * if x > T::ZERO { T::ONE } else { a }))
    }
    fn backward_scalar(&self, inputs: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        let (x, a) = (inputs[0], T::from_f64(self.0));
        let _ = y;
        Some(smallvec![g * if x > T::ZERO { T::ONE } else { a }])
    }
}

struct Elu(f64);
impl<T: Float> Op<T> for Elu {
    fn name(&self) -> &'static str {
        "elu"
    }
    fn backward(&self, inputs: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        // x > 0: 1; else alpha e^x = y + alpha (kept as a Var so second derivatives flow).
        let pos = mask(&inputs[0], |v| if v > T::ZERO { T::ONE } else { T::ZERO });
        let neg = mask(&inputs[0], |v| if v > T::ZERO { T::ZERO } else { T::ONE });
        let d = &pos + &(&neg * &(y + T::from_f64(self.0)));
        smallvec![Some(g * &d)]
    }
    fn backward_plain(
        &self,
        inputs: &[Tensor<T>],
        needs_grad: &[bool],
        y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        let a = T::from_f64(self.0);
        Some(unary_plain(inputs, needs_grad, y, g, move |x, y, g| {
            let (pos, neg) = if x > T::ZERO { (T::ONE, T::ZERO) } else { (T::ZERO, T::ONE) };
            g * (pos + neg * (y + a))
        }))
    }
    fn backward_scalar(&self, inputs: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        let (x, a) = (inputs[0], T::from_f64(self.0));
        let (pos, neg) = if x > T::ZERO { (T::ONE, T::ZERO) } else { (T::ZERO, T::ONE) };
        Some(smallvec![g * (pos + neg * (y + a))])
    }
}

struct Clamp(f64, f64);
impl<T: Float> Op<T> for Clamp {
    fn name(&self) -> &'static str {
        "clamp"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (lo, hi) = (T::from_f64(self.0), T::from_f64(self.1));
        smallvec![Some(g * &mask(&inputs[0], move |v| if v >= lo && v <= hi { T::ONE } else { T::ZERO }))]
    }
    fn backward_plain(
        &self,
        inputs: &[Tensor<T>],
        needs_grad: &[bool],
        y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        let (lo, hi) = (T::from_f64(self.0), T::from_f64(self.1));
        Some(unary_plain(inputs, needs_grad, y, g, move |x, _, g| {
            g * if x >= lo && x <= hi { T::ONE } else { T::ZERO }
        }))
    }
    fn backward_scalar(&self, inputs: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        let (x, lo, hi) = (inputs[0], T::from_f64(self.0), T::from_f64(self.1));
        let _ = y;
        Some(smallvec![g * if x >= lo && x <= hi { T::ONE } else { T::ZERO }])
    }
}

impl<T: Float> Var<T> {
    /// GELU, the exact form x * Phi(x) with Phi the standard normal CDF (PyTorch's and
    /// Keras' default, not the tanh approximation).
    #[track_caller]
    pub fn gelu(&self) -> Var<T> {
        let value =
            self.value().map(|v| v * c::<T>(0.5) * (T::ONE + (v * c::<T>(std::f64::consts::FRAC_1_SQRT_2)).erf()));
        Var::from_op(Gelu, &[self], value)
    }

    /// x^n for an integer n. The gradient `n x^(n-1)` at 0 is 0 for n >= 2, 1 for n = 1,
    /// -inf for n = -1 (as PyTorch); `powi(0)` is constant, so no gradient flows through it.
    #[track_caller]
    pub fn powi(&self, n: i32) -> Var<T> {
        let value = self.value().map(|v| v.powi(n));
        Var::from_op(Powi(n), &[self], value)
    }

    /// x^p for a real constant p (see [`pow`](Self::pow) for a variable exponent). The
    /// gradient `p x^(p-1)` at 0 is +inf for 0 < p < 1 (e.g. `powf(0.5)`), 1 for p = 1 and 0
    /// for p > 1, as in PyTorch; `powf(0.0)` is constant, so no gradient flows through it.
    #[track_caller]
    pub fn powf(&self, p: f64) -> Var<T> {
        let pt = T::from_f64(p);
        let value = self.value().map(|v| v.powf(pt));
        Var::from_op(Powf(p), &[self], value)
    }

    /// x for x > 0, else `alpha * x`. The gradient at 0 is `alpha` (as PyTorch).
    #[track_caller]
    pub fn leaky_relu(&self, alpha: f64) -> Var<T> {
        let a = T::from_f64(alpha);
        let value = self.value().map(|v| if v > T::ZERO { v } else { a * v });
        Var::from_op(LeakyRelu(alpha), &[self], value)
    }

    /// x for x > 0, else `alpha * (e^x - 1)`. The gradient at 0 is `alpha` (as PyTorch).
    #[track_caller]
    pub fn elu(&self, alpha: f64) -> Var<T> {
        let a = T::from_f64(alpha);
        let value = self.value().map(|v| if v > T::ZERO { v } else { a * v.exp_m1() });
        Var::from_op(Elu(alpha), &[self], value)
    }

    /// Limits every element to `[min, max]`. The gradient is 1 inside the closed interval
    /// and 0 outside (as in PyTorch).
    ///
    /// # Panics
    /// If `min > max`.
    #[track_caller]
    pub fn clamp(&self, min: f64, max: f64) -> Var<T> {
        assert!(min <= max, "clamp: min ({min}) is above max ({max})");
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
        Var::from_op(Clamp(min, max), &[self], value)
    }
}

impl<T: Float> Tensor<T> {
    /// The logistic function, elementwise and numerically stable.
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor<T> {
        self.map(sigmoid)
    }
}
