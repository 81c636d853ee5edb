//! One formula per derivative.
//!
//! Each built-in op states its derivative once, as a function generic over the arithmetic it
//! is evaluated in ([`Arith`] for elementwise formulas, [`Algebra`] for the rest). The sweeps
//! instantiate that one formula three ways:
//!
//! - on [`Var`]s: the differentiable rule, which records itself with `create_graph`;
//! - on [`Tensor`]s: the plain rule of a sweep that records nothing (an elementwise formula
//!   runs as one fused pass over its operands, evaluated per element on `T`);
//! - on `T` itself: the scalar lane, for nodes whose values are all 0-d.
//!
//! Every operation of the algebra does the same floating-point operation per element in all
//! three, so the plain sweeps give the same bits as the differentiable one. The tangent rule
//! of forward mode comes from the same formula: an elementwise derivative applied to a tangent
//! instead of a gradient (its Jacobian is diagonal), a linear op applied to the tangent, or
//! else the transpose of the op's `vjp` ([`transpose_vjp`]).

use crate::error::OrPanic;
use crate::float::Float;
use crate::forward::transpose_vjp;
use crate::graph::{InputGrads, Rule, ScalarGrads, TensorGrads, Var};
use crate::tensor::Tensor;
use smallvec::{smallvec, SmallVec};

/// `v` as the element type (for constants inside formulas).
#[inline(always)]
pub(crate) fn c<T: Float>(v: f64) -> T {
    T::from_f64(v)
}

/// The arithmetic an elementwise derivative is written in: implemented for `T` (the scalar
/// lane, and each element of a fused tensor pass), [`Tensor`] (with NumPy broadcasting) and
/// [`Var`] (differentiable). Binary operations broadcast on tensors and variables.
pub(crate) trait Arith<T: Float>: Clone {
    fn add(&self, o: &Self) -> Self;
    fn sub(&self, o: &Self) -> Self;
    fn mul(&self, o: &Self) -> Self;
    fn div(&self, o: &Self) -> Self;
    fn neg(&self) -> Self;
    fn add_c(&self, c: T) -> Self;
    fn mul_c(&self, c: T) -> Self;
    fn div_c(&self, c: T) -> Self;
    fn square(&self) -> Self;
    fn exp(&self) -> Self;
    fn ln(&self) -> Self;
    fn sin(&self) -> Self;
    fn cos(&self) -> Self;
    fn erf(&self) -> Self;
    fn sigmoid(&self) -> Self;
    fn powi(&self, n: i32) -> Self;
    fn powf(&self, p: f64) -> Self;
    fn pow(&self, e: &Self) -> Self;
    /// `f` of each element as a constant: no gradient flows through it (masks, signs).
    fn mask(&self, f: impl Fn(T) -> T + Sync) -> Self;
    /// `f` of each pair of elements as a constant.
    fn mask2(&self, o: &Self, f: impl Fn(T, T) -> T + Sync) -> Self;
    /// `self` where `cond` (a constant, see [`mask`](Self::mask)) is non-zero, else `other`;
    /// the gradient flows to the side picked.
    fn select(&self, cond: &Self, other: &Self) -> Self;
}

/// The operations of the formulas that are not elementwise (reductions, data movement,
/// products), for [`Tensor`] and [`Var`].
pub(crate) trait Algebra<T: Float>: Arith<T> {
    fn value(&self) -> &Tensor<T>;
    fn shape(&self) -> &[usize] {
        self.value().shape()
    }
    /// A constant of this kind.
    fn constant(t: Tensor<T>) -> Self;
    fn sum_to(&self, shape: &[usize]) -> Self;
    fn broadcast_to(&self, shape: &[usize]) -> Self;
    fn reshape(&self, shape: &[usize]) -> Self;
    fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Self;
    fn permute(&self, perm: &[usize]) -> Self;
    fn narrow(&self, axis: usize, start: usize, len: usize) -> Self;
    fn pad_axis(&self, axis: usize, start: usize, total: usize) -> Self;
    fn index_select(&self, axis: usize, idx: &[usize]) -> Self;
    fn index_add(&self, axis: usize, idx: &[usize], size: usize) -> Self;
    fn gather(&self, axis: usize, idx: &[usize]) -> Self;
    fn scatter_add(&self, axis: usize, idx: &[usize], size: usize) -> Self;
    /// `op(self) @ op(o)`, `op` transposing the last two axes when its flag is set.
    fn mm(&self, o: &Self, ta: bool, tb: bool) -> Self;
    fn softmax(&self, axis: isize) -> Self;
    /// An elementwise rule's derivative `r.d(x, y, g)`; on tensors one fused pass.
    fn unary_d<R: UnaryRule<T>>(r: &R, x: &Self, y: &Self, g: &Self) -> Self {
        r.d(x, y, g)
    }
    /// The cross-entropy gradient `((softmax(x) - onehot(targets)) / n) * g` (a fused kernel;
    /// recorded as its own op on variables).
    fn cross_entropy_grad(x: &Self, targets: &std::rc::Rc<[usize]>, g: &Self) -> Self;
}

/// An elementwise function of one variable, by its derivative.
pub(crate) trait UnaryRule<T: Float>: Sync + 'static {
    /// The op's name.
    const NAME: &'static str;
    /// `f'(x) g`: the gradient of the input given the output's (`y = f(x)`), linear in `g`.
    fn d<A: Arith<T>>(&self, x: &A, y: &A, g: &A) -> A;
    /// Whether the op is constant (no gradient at all), e.g. `powi(0)`.
    fn constant(&self) -> bool {
        false
    }
}

/// The sweep [`Rule`] of a [`UnaryRule`].
pub(crate) struct Unary<R>(pub(crate) R);

impl<T: Float, R: UnaryRule<T>> Rule<T> for Unary<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }
    fn vjp(&self, x: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        smallvec![(!self.0.constant()).then(|| self.0.d(&x[0], y, g))]
    }
    fn vjp_tensor(&self, x: &[Tensor<T>], needs: &[bool], y: &Tensor<T>, g: &Tensor<T>) -> Option<TensorGrads<T>> {
        Some(smallvec![(needs[0] && !self.0.constant()).then(|| fused_unary(&self.0, &x[0], y, g))])
    }
    fn vjp_scalar(&self, x: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        // A constant op has no gradient (`None`), which only the tensor forms can say.
        (!self.0.constant()).then(|| smallvec![self.0.d(&x[0], &y, &g)])
    }
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        // The Jacobian is diagonal: the tangent goes through the same formula as a gradient.
        let t = dx[0].as_ref()?;
        (!self.0.constant()).then(|| self.0.d(&x[0], y, t))
    }
}

/// `r.d(x, y, g)` on tensors of one shape in one pass, evaluated per element on `T` (the same
/// operations in the same order as on whole tensors, so the same bits).
pub(crate) fn fused_unary<T: Float, R: UnaryRule<T>>(r: &R, x: &Tensor<T>, y: &Tensor<T>, g: &Tensor<T>) -> Tensor<T> {
    Tensor::map3(x, y, g, |x, y, g| r.d(&x, &y, &g))
}

/// An elementwise function of two variables (with broadcasting), by its partial
/// derivatives.
pub(crate) trait BinaryRule<T: Float>: 'static {
    /// The op's name.
    const NAME: &'static str;
    /// `g * df/da` (output-shaped, before summing over broadcast axes), linear in `g`.
    fn da<A: Arith<T>>(&self, a: &A, b: &A, y: &A, g: &A) -> A;
    /// `g * df/db`.
    fn db<A: Arith<T>>(&self, a: &A, b: &A, y: &A, g: &A) -> A;
}

/// The sweep [`Rule`] of a [`BinaryRule`].
pub(crate) struct Binary<R>(pub(crate) R);

impl<T: Float, R: BinaryRule<T>> Rule<T> for Binary<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }
    fn vjp(&self, x: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (a, b) = (&x[0], &x[1]);
        smallvec![
            a.requires_grad().then(|| self.0.da(a, b, y, g).sum_to(a.shape())),
            b.requires_grad().then(|| self.0.db(a, b, y, g).sum_to(b.shape()))
        ]
    }
    fn vjp_tensor(&self, x: &[Tensor<T>], needs: &[bool], y: &Tensor<T>, g: &Tensor<T>) -> Option<TensorGrads<T>> {
        let (a, b) = (&x[0], &x[1]);
        Some(smallvec![
            needs[0].then(|| self.0.da(a, b, y, g).sum_to(a.shape())),
            needs[1].then(|| self.0.db(a, b, y, g).sum_to(b.shape()))
        ])
    }
    fn vjp_scalar(&self, x: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        let (a, b) = (&x[0], &x[1]);
        Some(smallvec![self.0.da(a, b, &y, &g), self.0.db(a, b, &y, &g)])
    }
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        // Elementwise: the tangent of each input goes through its partial derivative.
        let (a, b) = (&x[0], &x[1]);
        let ta = dx[0].as_ref().map(|t| self.0.da(a, b, y, t));
        let tb = dx[1].as_ref().map(|t| self.0.db(a, b, y, t));
        let t = match (ta, tb) {
            (Some(p), Some(q)) => &p + &q,
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => return None,
        };
        Some(if crate::shape::same_shape(t.shape(), y.shape()) { t } else { t.broadcast_to(y.shape()) })
    }
}

/// Gradients of a structured rule, one per input.
pub(crate) type Grads<A> = SmallVec<[Option<A>; 2]>;

/// Any other op (reductions, data movement, products, fused functions), by its
/// vector-Jacobian product written once over [`Algebra`].
pub(crate) trait StructRule<T: Float>: 'static {
    /// The op's name.
    fn name(&self) -> &'static str;
    /// The gradients of the inputs with `needs[i]` set, given the output's gradient `g`.
    fn vjp<A: Algebra<T>>(&self, x: &[A], y: &A, g: &A, needs: &[bool]) -> Grads<A>;
    /// The tangent of the output. Linear ops give themselves applied to the tangents; the
    /// default is the transpose of [`vjp`](Self::vjp).
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        transpose_vjp(
            &|x, y, g| {
                let needs: SmallVec<[bool; 2]> = x.iter().map(Var::requires_grad).collect();
                self.vjp(x, y, g, &needs)
            },
            x,
            y,
            dx,
        )
    }
}

/// The sweep [`Rule`] of a [`StructRule`].
pub(crate) struct Structured<R>(pub(crate) R);

impl<T: Float, R: StructRule<T>> Rule<T> for Structured<R> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn vjp(&self, x: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let needs: SmallVec<[bool; 2]> = x.iter().map(Var::requires_grad).collect();
        self.0.vjp(x, y, g, &needs)
    }
    fn vjp_tensor(&self, x: &[Tensor<T>], needs: &[bool], y: &Tensor<T>, g: &Tensor<T>) -> Option<TensorGrads<T>> {
        Some(self.0.vjp(x, y, g, needs))
    }
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        self.0.jvp(x, y, dx)
    }
}

// ------------------------------------------------------------------------ T

impl<T: Float> Arith<T> for T {
    #[inline(always)]
    fn add(&self, o: &Self) -> Self {
        *self + *o
    }
    #[inline(always)]
    fn sub(&self, o: &Self) -> Self {
        *self - *o
    }
    #[inline(always)]
    fn mul(&self, o: &Self) -> Self {
        *self * *o
    }
    #[inline(always)]
    fn div(&self, o: &Self) -> Self {
        *self / *o
    }
    #[inline(always)]
    fn neg(&self) -> Self {
        -*self
    }
    #[inline(always)]
    fn add_c(&self, c: T) -> Self {
        *self + c
    }
    #[inline(always)]
    fn mul_c(&self, c: T) -> Self {
        *self * c
    }
    #[inline(always)]
    fn div_c(&self, c: T) -> Self {
        *self / c
    }
    #[inline(always)]
    fn square(&self) -> Self {
        *self * *self
    }
    #[inline(always)]
    fn exp(&self) -> Self {
        Float::exp(*self)
    }
    #[inline(always)]
    fn ln(&self) -> Self {
        Float::ln(*self)
    }
    #[inline(always)]
    fn sin(&self) -> Self {
        Float::sin(*self)
    }
    #[inline(always)]
    fn cos(&self) -> Self {
        Float::cos(*self)
    }
    #[inline(always)]
    fn erf(&self) -> Self {
        Float::erf(*self)
    }
    #[inline(always)]
    fn sigmoid(&self) -> Self {
        crate::float::sigmoid(*self)
    }
    #[inline(always)]
    fn powi(&self, n: i32) -> Self {
        Float::powi(*self, n)
    }
    #[inline(always)]
    fn powf(&self, p: f64) -> Self {
        Float::powf(*self, T::from_f64(p))
    }
    #[inline(always)]
    fn pow(&self, e: &Self) -> Self {
        Float::powf(*self, *e)
    }
    #[inline(always)]
    fn mask(&self, f: impl Fn(T) -> T + Sync) -> Self {
        f(*self)
    }
    #[inline(always)]
    fn mask2(&self, o: &Self, f: impl Fn(T, T) -> T + Sync) -> Self {
        f(*self, *o)
    }
    #[inline(always)]
    fn select(&self, cond: &Self, other: &Self) -> Self {
        if *cond != T::ZERO {
            *self
        } else {
            *other
        }
    }
}

// ------------------------------------------------------------------------ Tensor

impl<T: Float> Arith<T> for Tensor<T> {
    fn add(&self, o: &Self) -> Self {
        Tensor::add(self, o)
    }
    fn sub(&self, o: &Self) -> Self {
        Tensor::sub(self, o)
    }
    fn mul(&self, o: &Self) -> Self {
        Tensor::mul(self, o)
    }
    fn div(&self, o: &Self) -> Self {
        Tensor::div(self, o)
    }
    fn neg(&self) -> Self {
        self.map(|v| -v)
    }
    fn add_c(&self, c: T) -> Self {
        self.map(|v| v + c)
    }
    fn mul_c(&self, c: T) -> Self {
        self.map(|v| v * c)
    }
    fn div_c(&self, c: T) -> Self {
        self.map(|v| v / c)
    }
    fn square(&self) -> Self {
        self.map(|v| v * v)
    }
    fn exp(&self) -> Self {
        self.map(Float::exp)
    }
    fn ln(&self) -> Self {
        self.map(Float::ln)
    }
    fn sin(&self) -> Self {
        self.map(Float::sin)
    }
    fn cos(&self) -> Self {
        self.map(Float::cos)
    }
    fn erf(&self) -> Self {
        self.map(Float::erf)
    }
    fn sigmoid(&self) -> Self {
        self.map(crate::float::sigmoid)
    }
    fn powi(&self, n: i32) -> Self {
        self.map(|v| v.powi(n))
    }
    fn powf(&self, p: f64) -> Self {
        let p = T::from_f64(p);
        self.map(|v| v.powf(p))
    }
    fn pow(&self, e: &Self) -> Self {
        self.zip_with(e, "pow", |a, b| a.powf(b))
    }
    fn mask(&self, f: impl Fn(T) -> T + Sync) -> Self {
        self.map(f)
    }
    fn mask2(&self, o: &Self, f: impl Fn(T, T) -> T + Sync) -> Self {
        self.zip_with(o, "mask", f)
    }
    fn select(&self, cond: &Self, other: &Self) -> Self {
        Tensor::select(cond, self, other)
    }
}

impl<T: Float> Algebra<T> for Tensor<T> {
    fn value(&self) -> &Tensor<T> {
        self
    }
    fn constant(t: Tensor<T>) -> Self {
        t
    }
    fn sum_to(&self, shape: &[usize]) -> Self {
        Tensor::sum_to(self, shape)
    }
    fn broadcast_to(&self, shape: &[usize]) -> Self {
        Tensor::broadcast_to(self, shape)
    }
    fn reshape(&self, shape: &[usize]) -> Self {
        Tensor::reshape(self, shape)
    }
    fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Self {
        Tensor::sum_axes(self, axes, keepdim)
    }
    fn permute(&self, perm: &[usize]) -> Self {
        Tensor::permute(self, perm)
    }
    fn narrow(&self, axis: usize, start: usize, len: usize) -> Self {
        Tensor::narrow(self, axis as isize, start, len)
    }
    fn pad_axis(&self, axis: usize, start: usize, total: usize) -> Self {
        Tensor::pad_axis(self, axis, start, total)
    }
    fn index_select(&self, axis: usize, idx: &[usize]) -> Self {
        self.try_index_select(axis as isize, idx).or_panic()
    }
    fn index_add(&self, axis: usize, idx: &[usize], size: usize) -> Self {
        self.index_add_into(axis, idx, size)
    }
    fn gather(&self, axis: usize, idx: &[usize]) -> Self {
        self.try_gather(axis as isize, idx).or_panic()
    }
    fn scatter_add(&self, axis: usize, idx: &[usize], size: usize) -> Self {
        self.scatter_add_into(axis, idx, size)
    }
    fn mm(&self, o: &Self, ta: bool, tb: bool) -> Self {
        self.try_matmul_flags(o, ta, tb).or_panic()
    }
    fn softmax(&self, axis: isize) -> Self {
        Tensor::softmax(self, axis)
    }
    fn unary_d<R: UnaryRule<T>>(r: &R, x: &Self, y: &Self, g: &Self) -> Self {
        fused_unary(r, x, y, g)
    }
    fn cross_entropy_grad(x: &Self, targets: &std::rc::Rc<[usize]>, g: &Self) -> Self {
        Tensor::cross_entropy_grad(x, targets, g.item())
    }
}

// ------------------------------------------------------------------------ Var

impl<T: Float> Arith<T> for Var<T> {
    fn add(&self, o: &Self) -> Self {
        self + o
    }
    fn sub(&self, o: &Self) -> Self {
        self - o
    }
    fn mul(&self, o: &Self) -> Self {
        self * o
    }
    fn div(&self, o: &Self) -> Self {
        self / o
    }
    fn neg(&self) -> Self {
        Var::neg(self)
    }
    fn add_c(&self, c: T) -> Self {
        self.add_scalar(c)
    }
    fn mul_c(&self, c: T) -> Self {
        self.mul_scalar(c)
    }
    fn div_c(&self, c: T) -> Self {
        self.div_scalar(c)
    }
    fn square(&self) -> Self {
        Var::square(self)
    }
    fn exp(&self) -> Self {
        Var::exp(self)
    }
    fn ln(&self) -> Self {
        Var::ln(self)
    }
    fn sin(&self) -> Self {
        Var::sin(self)
    }
    fn cos(&self) -> Self {
        Var::cos(self)
    }
    fn erf(&self) -> Self {
        Var::erf(self)
    }
    fn sigmoid(&self) -> Self {
        Var::sigmoid(self)
    }
    fn powi(&self, n: i32) -> Self {
        Var::powi(self, n)
    }
    fn powf(&self, p: f64) -> Self {
        Var::powf(self, p)
    }
    fn pow(&self, e: &Self) -> Self {
        Var::pow(self, e)
    }
    fn mask(&self, f: impl Fn(T) -> T + Sync) -> Self {
        Var::constant(self.value().map(f))
    }
    fn mask2(&self, o: &Self, f: impl Fn(T, T) -> T + Sync) -> Self {
        Var::constant(self.value().zip_with(o.value(), "mask", f))
    }
    fn select(&self, cond: &Self, other: &Self) -> Self {
        self.where_(cond.value(), other)
    }
}

impl<T: Float> Algebra<T> for Var<T> {
    fn value(&self) -> &Tensor<T> {
        Var::value(self)
    }
    fn constant(t: Tensor<T>) -> Self {
        Var::constant(t)
    }
    fn sum_to(&self, shape: &[usize]) -> Self {
        Var::sum_to(self, shape)
    }
    fn broadcast_to(&self, shape: &[usize]) -> Self {
        Var::broadcast_to(self, shape)
    }
    fn reshape(&self, shape: &[usize]) -> Self {
        Var::reshape(self, shape)
    }
    fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Self {
        Var::sum_axes(self, axes, keepdim)
    }
    fn permute(&self, perm: &[usize]) -> Self {
        Var::permute(self, perm)
    }
    fn narrow(&self, axis: usize, start: usize, len: usize) -> Self {
        Var::narrow(self, axis as isize, start, len)
    }
    fn pad_axis(&self, axis: usize, start: usize, total: usize) -> Self {
        Var::pad_axis(self, axis, start, total)
    }
    fn index_select(&self, axis: usize, idx: &[usize]) -> Self {
        Var::index_select(self, axis as isize, idx)
    }
    fn index_add(&self, axis: usize, idx: &[usize], size: usize) -> Self {
        Var::index_add(self, axis, idx, size)
    }
    fn gather(&self, axis: usize, idx: &[usize]) -> Self {
        Var::gather(self, axis as isize, idx)
    }
    fn scatter_add(&self, axis: usize, idx: &[usize], size: usize) -> Self {
        Var::scatter_add(self, axis, idx, size)
    }
    fn mm(&self, o: &Self, ta: bool, tb: bool) -> Self {
        Var::mm(self, o, ta, tb)
    }
    fn softmax(&self, axis: isize) -> Self {
        Var::softmax(self, axis)
    }
    fn cross_entropy_grad(x: &Self, targets: &std::rc::Rc<[usize]>, g: &Self) -> Self {
        x.cross_entropy_grad(targets, g)
    }
}
