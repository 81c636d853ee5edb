//! Elementwise functions of two variables with NumPy broadcasting, and `where`. Each states
//! its two partial derivatives once (`da`, `db`: the gradient `g` times df/da and df/db,
//! output-shaped); the rule sums them over the broadcast axes.

use crate::float::Float;
use crate::graph::Var;
use crate::rules::{Algebra, Arith, Binary, BinaryRule, Grads, StructRule, Structured};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;
use crate::var::record;
use smallvec::smallvec;

/// Defines a binary op: a unit struct with its partial derivatives.
macro_rules! binary_op {
    ($Op:ident, $name:literal,
     da: |$a:ident, $b:ident, $y:ident, $g:ident| $da:expr,
     db: |$a2:ident, $b2:ident, $y2:ident, $g2:ident| $db:expr) => {
        pub(crate) struct $Op;
        impl<T: Float> BinaryRule<T> for $Op {
            const NAME: &'static str = $name;
            #[inline(always)]
            #[allow(unused_variables)]
            fn da<A: Arith<T>>(&self, $a: &A, $b: &A, $y: &A, $g: &A) -> A {
                $da
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn db<A: Arith<T>>(&self, $a2: &A, $b2: &A, $y2: &A, $g2: &A) -> A {
                $db
            }
        }
    };
}

binary_op!(Add, "add",
    da: |a, b, y, g| g.clone(),
    db: |a, b, y, g| g.clone());
binary_op!(Sub, "sub",
    da: |a, b, y, g| g.clone(),
    db: |a, b, y, g| g.neg());
binary_op!(Mul, "mul",
    da: |a, b, y, g| g.mul(b),
    db: |a, b, y, g| g.mul(a));
binary_op!(Div, "div",
    da: |a, b, y, g| g.div(b),
    db: |a, b, y, g| g.mul(y).div(b).neg());
// d/da a^b = b a^(b-1): where a == 0 and b == 0 that is 0 * inf, taken as 0 (x^0 is
// constant), as PyTorch does; a safe exponent is substituted there so that no 0 * inf
// reaches the value or any higher derivative.
binary_op!(Pow, "pow",
da: |a, b, y, g| {
    let m = a.mask2(b, |x, e| if x == T::ZERO && e == T::ZERO { T::ONE } else { T::ZERO });
    let one = b.mask(|_| T::ONE);
    let safe_b = one.select(&m, b);
    let zero = b.mask(|_| T::ZERO);
    g.mul(&zero.select(&m, &b.mul(&a.pow(&safe_b.add_c(-T::ONE)))))
},
// d/db a^b = a^b ln a. At a == 0 with b >= 0 the limit is 0 and is taken as 0 (as
// PyTorch); for b < 0 it is inf * -inf = -inf, left as it is (PyTorch too).
db: |a, b, y, g| {
    let m = a.mask2(b, |x, e| if x == T::ZERO && e >= T::ZERO { T::ONE } else { T::ZERO });
    let safe_a = a.mask(|_| T::ONE).select(&m, a);
    let ln_a = a.mask(|_| T::ZERO).select(&m, &safe_a.ln());
    g.mul(&y.mul(&ln_a))
});

/// The share of the gradient that goes to `a` in `maximum`/`minimum`: 1 where `a` wins, 1/2
/// on ties (as PyTorch).
#[inline(always)]
fn share<T: Float>(x: T, y: T, max: bool) -> T {
    if x == y {
        T::from_f64(0.5)
    } else if (x > y) == max {
        T::ONE
    } else {
        T::ZERO
    }
}

binary_op!(Maximum, "maximum",
    da: |a, b, y, g| g.mul(&a.mask2(b, |x, z| share(x, z, true))),
    db: |a, b, y, g| g.mul(&a.mask2(b, |x, z| T::ONE - share(x, z, true))));
binary_op!(Minimum, "minimum",
    da: |a, b, y, g| g.mul(&a.mask2(b, |x, z| share(x, z, false))),
    db: |a, b, y, g| g.mul(&a.mask2(b, |x, z| T::ONE - share(x, z, false))));

impl<T: Float> Var<T> {
    /// Elementwise sum with broadcasting (`a + b`).
    #[track_caller]
    #[inline]
    pub(crate) fn add_var(&self, b: &Var<T>) -> Var<T> {
        let value = zip(self, b, "add", |x, y| x + y);
        record(Binary(Add), &[self, b], value)
    }

    /// Elementwise difference with broadcasting (`a - b`).
    #[track_caller]
    #[inline]
    pub(crate) fn sub_var(&self, b: &Var<T>) -> Var<T> {
        let value = zip(self, b, "sub", |x, y| x - y);
        record(Binary(Sub), &[self, b], value)
    }

    /// Elementwise product with broadcasting (`a * b`).
    #[track_caller]
    #[inline]
    pub(crate) fn mul_var(&self, b: &Var<T>) -> Var<T> {
        let value = zip(self, b, "mul", |x, y| x * y);
        record(Binary(Mul), &[self, b], value)
    }

    /// Elementwise quotient with broadcasting (`a / b`).
    #[track_caller]
    #[inline]
    pub(crate) fn div_var(&self, b: &Var<T>) -> Var<T> {
        let value = zip(self, b, "div", |x, y| x / y);
        record(Binary(Div), &[self, b], value)
    }

    /// `self ^ exponent` elementwise with broadcasting.
    ///
    /// At a base of 0 the gradients follow PyTorch: with respect to the base, `b a^(b-1)`
    /// (so `inf` for `0 < b < 1`, `-inf` for `b < 0`), and 0 where `b == 0` too; with
    /// respect to the exponent, `a^b ln a`, taken as 0 where `a == 0` and `b >= 0` (its
    /// limit), and `-inf` where `a == 0` and `b < 0`. A negative base gives NaN (complex).
    #[track_caller]
    pub fn pow(&self, exponent: &Var<T>) -> Var<T> {
        let value = zip(self, exponent, "pow", |a, b| a.powf(b));
        record(Binary(Pow), &[self, exponent], value)
    }

    /// Elementwise maximum with broadcasting; on ties each side gets half the gradient.
    /// NaN on either side gives NaN (as `torch.maximum`).
    #[track_caller]
    pub fn maximum(&self, other: &Var<T>) -> Var<T> {
        let value = zip(self, other, "maximum", |a, b| if a >= b || a.is_nan() { a } else { b });
        record(Binary(Maximum), &[self, other], value)
    }

    /// Elementwise minimum with broadcasting; on ties each side gets half the gradient.
    /// NaN on either side gives NaN (as `torch.minimum`).
    #[track_caller]
    pub fn minimum(&self, other: &Var<T>) -> Var<T> {
        let value = zip(self, other, "minimum", |a, b| if a <= b || a.is_nan() { a } else { b });
        record(Binary(Minimum), &[self, other], value)
    }

    /// Picks `self` where `cond` is non-zero and `other` elsewhere; all three broadcast
    /// together. `cond` is a constant mask (for example from [`Tensor::gt`]).
    #[track_caller]
    pub fn where_(&self, cond: &Tensor<T>, other: &Var<T>) -> Var<T> {
        let shape = match broadcast_shapes("where", cond.shape(), self.shape())
            .and_then(|s| broadcast_shapes("where", &s, other.shape()))
        {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let cond = cond.broadcast_to(&shape);
        let value = Tensor::select(&cond, self.value(), other.value());
        record(Structured(Where { cond }), &[self, other], value)
    }

    /// Replaces the elements where `mask` is non-zero by `value` (no gradient flows there).
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<T>, value: T) -> Var<T> {
        Var::scalar(value).where_(mask, self).broadcast_to(self.shape())
    }
}

/// The broadcast elementwise forward value, panicking at the caller on shapes that do not
/// broadcast.
#[track_caller]
#[inline]
fn zip<T: Float>(a: &Var<T>, b: &Var<T>, op: &'static str, f: impl Fn(T, T) -> T + Sync) -> Tensor<T> {
    match a.value().try_zip_with(b.value(), op, f) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// `where(cond, a, b)`: the condition is a constant mask, already broadcast to the output.
struct Where<T: Float> {
    cond: Tensor<T>,
}
impl<T: Float> StructRule<T> for Where<T> {
    fn name(&self) -> &'static str {
        "where"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        let keep_a = A::constant(self.cond.map(|c| if c != T::ZERO { T::ONE } else { T::ZERO }));
        let keep_b = A::constant(self.cond.map(|c| if c != T::ZERO { T::ZERO } else { T::ONE }));
        smallvec![
            needs[0].then(|| g.mul(&keep_a).sum_to(x[0].shape())),
            needs[1].then(|| g.mul(&keep_b).sum_to(x[1].shape()))
        ]
    }
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        // Linear in (a, b): the same selection of the tangents (zeros where one has none).
        if dx.iter().all(Option::is_none) {
            return None;
        }
        let t = |k: usize| dx[k].clone().unwrap_or_else(|| Var::constant(Tensor::zeros(x[k].shape())));
        Some(t(0).where_(&self.cond, &t(1)).broadcast_to(y.shape()))
    }
}
