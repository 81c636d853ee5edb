//! Custom ops: the public [`Op`] trait (a backward rule written with differentiable ops) and
//! [`Function`] (the forward too), and the wrapper that lets the sweeps run them.

use crate::float::Float;
use crate::graph::{InputGrads, Rule, Var};
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// A differentiable operation: the backward half. The forward value is computed by the
/// caller and handed to [`Var::from_op`] together with the op.
///
/// The backward rule is written with the same differentiable operations on [`Var`] as any
/// forward code, so that with `create_graph` the sweep records it and gradients of gradients
/// work. Forward mode ([`jvp`](crate::jvp)) needs nothing more: by default the tangent rule
/// is derived from `backward` (it is linear in `grad`, so its transpose is the
/// Jacobian-vector product); implement [`jvp`](Self::jvp) for a faster one.
///
/// The built-in ops are written differently (one formula per derivative, from which the
/// differentiable rule, the fast plain rules and the tangent rule all come: see
/// `docs/architecture.md`); this trait is the interface for ops written outside the crate.
pub trait Op<T: Float>: 'static {
    /// A short name for error messages and anomaly reports, such as `"matmul"`.
    fn name(&self) -> &'static str;

    /// Given the op's inputs, its output and the gradient `grad` of the final result with
    /// respect to that output (same shape as `output`), returns the gradient with respect to
    /// each input (same shape as that input).
    ///
    /// Inputs that do not need a gradient (`!inputs[i].requires_grad()`) may get `None`.
    fn backward(&self, inputs: &[Var<T>], output: &Var<T>, grad: &Var<T>) -> InputGrads<T>;

    /// The tangent of the output given the tangents of the inputs (`None`: zero), i.e. the
    /// Jacobian-vector product, written with differentiable ops; `None` if it is zero.
    ///
    /// The default derives it from [`backward`](Self::backward) by transposition (one small
    /// reverse sweep through the rule per call), so custom ops work in forward mode as they
    /// are.
    fn jvp(&self, inputs: &[Var<T>], output: &Var<T>, tangents: &[Option<Var<T>>]) -> Option<Var<T>> {
        crate::forward::transpose_vjp(&|x, y, g| self.backward(x, y, g), inputs, output, tangents)
    }
}

/// A custom differentiable function with both halves, in the manner of
/// `torch.autograd.Function`. Apply it with [`Var::apply`].
///
/// ```
/// use autograd::{Function, Op, InputGrads, Tape, Tensor, Var};
/// /// f(x) = x^3, written as one op.
/// struct Cube;
/// impl Op<f64> for Cube {
///     fn name(&self) -> &'static str { "cube" }
///     fn backward(&self, x: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> InputGrads<f64> {
///         // written with differentiable ops, so second derivatives work too
///         autograd::smallvec![Some(g * &x[0].square() * 3.0)]
///     }
/// }
/// impl Function<f64> for Cube {
///     fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> { x[0].map(|v| v * v * v) }
/// }
/// let tape = Tape::new();
/// let x = tape.var(Tensor::scalar(2.0));
/// let y = Var::apply(Cube, &[&x]);
/// assert_eq!(y.backward().wrt(&x).item(), 12.0);
/// // forward mode comes for free: d/dx x^3 at 2, times a tangent of 0.5
/// let (_, t) = autograd::jvp(|v| Var::apply(Cube, &[&v[0]]), &[Tensor::scalar(2.0)], &[Tensor::scalar(0.5)]);
/// assert_eq!(t.item(), 6.0);
/// ```
pub trait Function<T: Float>: Op<T> + Sized {
    /// Computes the output value from the input values.
    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T>;
}

/// A user [`Op`] as a sweep [`Rule`]: no fast plain forms, so the plain sweep runs its
/// `backward` with grad mode off.
pub(crate) struct UserOp<O>(pub(crate) O);

impl<T: Float, O: Op<T>> Rule<T> for UserOp<O> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn vjp(&self, x: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        self.0.backward(x, y, g)
    }
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        self.0.jvp(x, y, dx)
    }
}

impl<T: Float> Var<T> {
    /// Records `op` with these inputs and the already computed output `value`.
    ///
    /// Nothing is recorded (a constant is returned) when no input is on a tape or grad mode
    /// is off, so inference allocates no graph. In forward mode, the output's tangent is
    /// computed from the inputs' with [`Op::jvp`].
    ///
    /// # Panics
    /// If the inputs are on different tapes.
    #[track_caller]
    pub fn from_op<O: Op<T>>(op: O, inputs: &[&Var<T>], value: Tensor<T>) -> Var<T> {
        crate::var::record(UserOp(op), inputs, value)
    }

    /// Applies a custom [`Function`]: runs its forward on the input values and records it.
    #[track_caller]
    pub fn apply<F: Function<T>>(f: F, inputs: &[&Var<T>]) -> Var<T> {
        let values: SmallVec<[&Tensor<T>; 4]> = inputs.iter().map(|v| &v.value).collect();
        let out = f.forward(&values);
        Var::from_op(f, inputs, out)
    }
}
