//! Elementwise functions of two variables with NumPy broadcasting, scalar forms, and `where`.
//! Every backward sums the gradient over the broadcast axes (`sum_to`) so it has the
//! input's shape.

use crate::float::Float;
use crate::tape::{InputGrads, Op, PlainGrads, ScalarGrads, Var};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// Gradient `g` for input `x` if it needs one, summed back to `x`'s shape.
fn to_input<T: Float>(x: &Var<T>, g: impl FnOnce() -> Var<T>) -> Option<Var<T>> {
    x.requires_grad().then(|| g().sum_to(x.shape()))
}

/// The plain form of [`to_input`]: `g()` summed to `shape` if the input needs a gradient.
fn to_input_plain<T: Float>(needs: bool, shape: &[usize], g: impl FnOnce() -> Tensor<T>) -> Option<Tensor<T>> {
    needs.then(|| g().sum_to(shape))
}

/// Defines a binary op: a unit struct, its backward rules, and `apply`. `bwd` is written
/// with `Var`s (differentiable, used with `create_graph`), `plain` with the same `Tensor`
/// kernels in the same order (the plain sweep), so both sweeps give the same bits (checked
/// in tests/plain_backward.rs). Each returns the two gradients before `sum_to`.
macro_rules! binary_op {
    ($Op:ident, $name:literal, $f:expr,
     bwd: |$a:ident, $b:ident, $y:ident, $g:ident| ($ga:expr, $gb:expr),
     plain: |$pa:ident, $pb:ident, $py:ident, $pg:ident| ($pga:expr, $pgb:expr),
     scalar: |$sa:ident, $sb:ident, $sy:ident, $sg:ident| ($sga:expr, $sgb:expr)) => {
        struct $Op;
        impl<T: Float> Op<T> for $Op {
            fn name(&self) -> &'static str {
                $name
            }
            #[allow(unused_variables)]
            fn backward(&self, inputs: &[Var<T>], $y: &Var<T>, $g: &Var<T>) -> InputGrads<T> {
                let ($a, $b) = (&inputs[0], &inputs[1]);
                smallvec![to_input($a, || $ga), to_input($b, || $gb)]
            }
            #[allow(unused_variables)]
            fn backward_plain(
                &self,
                inputs: &[Tensor<T>],
                needs_grad: &[bool],
                $py: &Tensor<T>,
                $pg: &Tensor<T>,
            ) -> Option<PlainGrads<T>> {
                let ($pa, $pb) = (&inputs[0], &inputs[1]);
                Some(smallvec![
                    to_input_plain(needs_grad[0], $pa.shape(), || $pga),
                    to_input_plain(needs_grad[1], $pb.shape(), || $pgb)
                ])
            }
            #[allow(unused_variables)]
            fn backward_scalar(&self, inputs: &[T], $sy: T, $sg: T) -> Option<ScalarGrads<T>> {
                let ($sa, $sb) = (inputs[0], inputs[1]);
                Some(smallvec![$sga, $sgb])
            }
        }
        impl $Op {
            fn apply<T: Float>(a: &Var<T>, b: &Var<T>) -> Var<T> {
                let value = a.value().zip_with(b.value(), $name, $f);
                Var::from_op($Op, &[a, b], value)
            }
        }
    };
}

binary_op!(Add, "add", |x, y| x + y,
    bwd: |a, b, y, g| (g.clone(), g.clone()),
    plain: |a, b, y, g| (g.clone(), g.clone()),
    scalar: |a, b, y, g| (g, g));
binary_op!(Sub, "sub", |x, y| x - y,
    bwd: |a, b, y, g| (g.clone(), -g),
    plain: |a, b, y, g| (g.clone(), g.map(|v| -v)),
    scalar: |a, b, y, g| (g, -g));
binary_op!(Mul, "mul", |x, y| x * y,
    bwd: |a, b, y, g| (g * b, g * a),
    plain: |a, b, y, g| (g.mul(b), g.mul(a)),
    scalar: |a, b, y, g| (g * b, g * a));
binary_op!(Div, "div", |x, y| x / y,
    bwd: |a, b, y, g| (g / b, -(&(g * y) / b)),
    plain: |a, b, y, g| (g.div(b), g.mul(y).div(b).map(|v| -v)),
    scalar: |a, b, y, g| (g / b, -((g * y) / b)));

/// Elementwise sum with broadcasting (`a + b`).
#[track_caller]
pub(crate) fn add<T: Float>(a: &Var<T>, b: &Var<T>) -> Var<T> {
    Add::apply(a, b)
}
/// Elementwise difference with broadcasting (`a - b`).
#[track_caller]
pub(crate) fn sub<T: Float>(a: &Var<T>, b: &Var<T>) -> Var<T> {
    Sub::apply(a, b)
}
/// Elementwise product with broadcasting (`a * b`).
#[track_caller]
pub(crate) fn mul<T: Float>(a: &Var<T>, b: &Var<T>) -> Var<T> {
    Mul::apply(a, b)
}
/// Elementwise quotient with broadcasting (`a / b`).
#[track_caller]
pub(crate) fn div<T: Float>(a: &Var<T>, b: &Var<T>) -> Var<T> {
    Div::apply(a, b)
}

struct Pow;
impl<T: Float> Op<T> for Pow {
    fn name(&self) -> &'static str {
        "pow"
    }
    fn backward(&self, inputs: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (a, b) = (&inputs[0], &inputs[1]);
        // Where a mask is set, a "safe" operand is substituted inside and the result is
        // masked to 0 outside, so no 0 * inf reaches the value or any higher derivative.
        // Masks are computed only when some element needs one.
        let mask = |f: fn(T, T) -> bool| {
            let m = a.value().zip_with(b.value(), "pow", |x, e| if f(x, e) { T::ONE } else { T::ZERO });
            m.data().iter().any(|&v| v != T::ZERO).then_some(m)
        };
        // d/da a^b = b a^(b-1); at a == 0, b == 0 that is 0 * inf, taken as 0 (x^0 is
        // constant), as PyTorch does.
        let ga = to_input(a, || match mask(|x, e| x == T::ZERO && e == T::ZERO) {
            None => g * &(b * &a.pow(&(b - T::ONE))),
            Some(m) => {
                let safe_b = Var::scalar(T::ONE).where_(&m, b);
                g * &Var::scalar(T::ZERO).where_(&m, &(b * &a.pow(&(safe_b - T::ONE))))
            }
        });
        // d/db a^b = a^b ln a. At a == 0 with b >= 0 the limit is 0 and is taken as 0 (as
        // PyTorch); for b < 0 it is inf * -inf = -inf, left as it is (PyTorch too).
        let gb = to_input(b, || match mask(|x, e| x == T::ZERO && e >= T::ZERO) {
            None => g * &(y * &a.ln()),
            Some(m) => {
                let safe_a = Var::scalar(T::ONE).where_(&m, a);
                let ln_a = Var::scalar(T::ZERO).where_(&m, &safe_a.ln());
                g * &(y * &ln_a)
            }
        });
        smallvec![ga, gb]
    }
}

struct Extremum {
    max: bool,
}
impl<T: Float> Op<T> for Extremum {
    fn name(&self) -> &'static str {
        if self.max {
            "maximum"
        } else {
            "minimum"
        }
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (a, b) = (&inputs[0], &inputs[1]);
        // Share of the gradient that goes to `a`: 1 where a wins, 1/2 on ties (as PyTorch).
        let max = self.max;
        let half = T::from_f64(0.5);
        let share_a = a.value().zip_with(b.value(), "maximum", move |x, y| {
            if x == y {
                half
            } else if (x > y) == max {
                T::ONE
            } else {
                T::ZERO
            }
        });
        let share_b = share_a.map(|s| T::ONE - s);
        smallvec![to_input(a, || g * &Var::constant(share_a)), to_input(b, || g * &Var::constant(share_b))]
    }
}

/// `where(cond, a, b)`: the condition is a constant mask, already broadcast.
struct WhereOp<T: Float> {
    cond: Tensor<T>,
}
impl<T: Float> Op<T> for WhereOp<T> {
    fn name(&self) -> &'static str {
        "where"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let keep_a = Var::constant(self.cond.map(|c| if c != T::ZERO { T::ONE } else { T::ZERO }));
        let keep_b = Var::constant(self.cond.map(|c| if c != T::ZERO { T::ZERO } else { T::ONE }));
        smallvec![to_input(a, || g * &keep_a), to_input(b, || g * &keep_b)]
    }
}

struct AddScalar;
impl<T: Float> Op<T> for AddScalar {
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn backward(&self, _inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.clone())]
    }
    fn backward_plain(
        &self,
        _inputs: &[Tensor<T>],
        needs_grad: &[bool],
        _y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        Some(smallvec![needs_grad[0].then(|| g.clone())])
    }
    fn backward_scalar(&self, _inputs: &[T], _y: T, g: T) -> Option<ScalarGrads<T>> {
        Some(smallvec![g])
    }
}

struct MulScalar<T>(T);
impl<T: Float> Op<T> for MulScalar<T> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(&self, _inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.mul_scalar(self.0))]
    }
    fn backward_plain(
        &self,
        _inputs: &[Tensor<T>],
        needs_grad: &[bool],
        _y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        let c = self.0;
        Some(smallvec![needs_grad[0].then(|| g.map(|v| v * c))])
    }
    fn backward_scalar(&self, _inputs: &[T], _y: T, g: T) -> Option<ScalarGrads<T>> {
        Some(smallvec![g * self.0])
    }
}

struct DivScalar<T>(T);
impl<T: Float> Op<T> for DivScalar<T> {
    fn name(&self) -> &'static str {
        "div_scalar"
    }
    fn backward(&self, _inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![Some(g.div_scalar(self.0))]
    }
    fn backward_plain(
        &self,
        _inputs: &[Tensor<T>],
        needs_grad: &[bool],
        _y: &Tensor<T>,
        g: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        let c = self.0;
        Some(smallvec![needs_grad[0].then(|| g.map(|v| v / c))])
    }
    fn backward_scalar(&self, _inputs: &[T], _y: T, g: T) -> Option<ScalarGrads<T>> {
        Some(smallvec![g / self.0])
    }
}

impl<T: Float> Var<T> {
    /// `self ^ exponent` elementwise with broadcasting.
    ///
    /// At a base of 0 the gradients follow PyTorch: with respect to the base, `b a^(b-1)`
    /// (so `inf` for `0 < b < 1`, `-inf` for `b < 0`), and 0 where `b == 0` too; with
    /// respect to the exponent, `a^b ln a`, taken as 0 where `a == 0` and `b >= 0` (its
    /// limit), and `-inf` where `a == 0` and `b < 0`. A negative base gives NaN (complex).
    #[track_caller]
    pub fn pow(&self, exponent: &Var<T>) -> Var<T> {
        let value = self.value().zip_with(exponent.value(), "pow", |a, b| a.powf(b));
        Var::from_op(Pow, &[self, exponent], value)
    }

    /// Elementwise maximum with broadcasting; on ties each side gets half the gradient.
    /// NaN on either side gives NaN (as `torch.maximum`).
    #[track_caller]
    pub fn maximum(&self, other: &Var<T>) -> Var<T> {
        let value = self.value().zip_with(other.value(), "maximum", |a, b| if a >= b || a.is_nan() { a } else { b });
        Var::from_op(Extremum { max: true }, &[self, other], value)
    }

    /// Elementwise minimum with broadcasting; on ties each side gets half the gradient.
    /// NaN on either side gives NaN (as `torch.minimum`).
    #[track_caller]
    pub fn minimum(&self, other: &Var<T>) -> Var<T> {
        let value = self.value().zip_with(other.value(), "minimum", |a, b| if a <= b || a.is_nan() { a } else { b });
        Var::from_op(Extremum { max: false }, &[self, other], value)
    }

    /// Picks `self` where `cond` is non-zero and `other` elsewhere; all three broadcast
    /// together. `cond` is a constant mask (for example from [`Tensor::gt`]).
    #[track_caller]
    pub fn where_(&self, cond: &Tensor<T>, other: &Var<T>) -> Var<T> {
        let shape = crate::shape::broadcast_shapes("where", cond.shape(), self.shape())
            .and_then(|s| crate::shape::broadcast_shapes("where", &s, other.shape()))
            .unwrap_or_else(|e| panic!("{e}"));
        let cond = cond.broadcast_to(&shape);
        let a = self.value().broadcast_to(&shape);
        let b = other.value().broadcast_to(&shape);
        let data = cond
            .data()
            .iter()
            .zip(a.data())
            .zip(b.data())
            .map(|((&c, &x), &y)| if c != T::ZERO { x } else { y })
            .collect();
        let value = Tensor::from_vec(data, &shape).expect("where: broadcast lengths agree");
        Var::from_op(WhereOp { cond }, &[self, other], value)
    }

    /// Replaces the elements where `mask` is non-zero by `value` (no gradient flows there).
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<T>, value: T) -> Var<T> {
        Var::scalar(value).where_(mask, self).broadcast_to(self.shape())
    }

    /// `self + c` for a scalar `c`.
    #[track_caller]
    pub fn add_scalar(&self, c: T) -> Var<T> {
        let value = self.value().map(|v| v + c);
        Var::from_op(AddScalar, &[self], value)
    }

    /// `self * c` for a scalar `c`.
    #[track_caller]
    pub fn mul_scalar(&self, c: T) -> Var<T> {
        let value = self.value().map(|v| v * c);
        Var::from_op(MulScalar(c), &[self], value)
    }

    /// `self / c` for a scalar `c`.
    #[track_caller]
    pub fn div_scalar(&self, c: T) -> Var<T> {
        let value = self.value().map(|v| v / c);
        Var::from_op(DivScalar(c), &[self], value)
    }
}
