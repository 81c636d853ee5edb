//! The tape (the record of one forward pass), variables on it, and the reverse sweep.

use crate::float::Float;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

/// The gradients an [`Op`]'s backward rule returns: one entry per input, `None` where the
/// input needs no gradient (or the gradient is identically zero).
pub type InputGrads<T> = SmallVec<[Option<Var<T>>; 2]>;

/// The gradients an [`Op::backward_plain`] returns: one entry per input, `None` where the
/// input needs no gradient (or the gradient is identically zero).
pub type PlainGrads<T> = SmallVec<[Option<Tensor<T>>; 2]>;

/// The gradients an [`Op::backward_scalar`] returns: one per input.
pub type ScalarGrads<T> = SmallVec<[T; 2]>;

/// A differentiable operation: the backward half. The forward value is computed by the
/// caller and handed to [`Var::from_op`] together with the op.
///
/// The backward rule is written with the same differentiable operations on [`Var`] as any
/// forward code, so that with [`BackwardOptions::create_graph`] the sweep records it and
/// gradients of gradients work. Implementing this trait is also how users write custom ops
/// (see [`Function`] for the form that bundles the forward too).
///
/// Only `name` and `backward` are required. A sweep that records nothing (the default, no
/// `create_graph`) first asks for the optional fast forms, which skip building `Var`s:
/// [`backward_scalar`](Self::backward_scalar) where every value is 0-d, else
/// [`backward_plain`](Self::backward_plain) on tensors; where they return `None` (their
/// default) it runs `backward` with grad mode off.
pub trait Op<T: Float>: 'static {
    /// A short name for error messages and anomaly reports, such as `"matmul"`.
    fn name(&self) -> &'static str;

    /// Given the op's inputs, its output and the gradient `grad` of the final result with
    /// respect to that output (same shape as `output`), returns the gradient with respect to
    /// each input (same shape as that input).
    ///
    /// Inputs that do not need a gradient (`!inputs[i].requires_grad()`) may get `None`.
    fn backward(&self, inputs: &[Var<T>], output: &Var<T>, grad: &Var<T>) -> InputGrads<T>;

    /// Optional fast form of [`backward`](Self::backward) for sweeps that record nothing
    /// (no [`BackwardOptions::create_graph`]): the same gradients computed directly on the
    /// values, with no `Var` built. `inputs` are the input values, `needs_grad[i]` says whether
    /// input `i` needs a gradient (the others may get `None`), `output` is the op's value and
    /// `grad` the gradient with respect to it.
    ///
    /// Return `None` (the default) to have the sweep call `backward` instead, so implementing
    /// this is never required. An implementation must give the same gradients as `backward`;
    /// written with the same floating-point operations in the same order, both sweeps agree
    /// bit for bit. It runs with grad mode off.
    fn backward_plain(
        &self,
        inputs: &[Tensor<T>],
        needs_grad: &[bool],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Option<PlainGrads<T>> {
        let _ = (inputs, needs_grad, output, grad);
        None
    }

    /// Optional scalar form of [`backward_plain`](Self::backward_plain), used instead of it
    /// for nodes whose inputs, output and incoming gradient are all 0-d (graphs of scalar
    /// code, where building tensors would cost more than the arithmetic). Returns the
    /// gradient with respect to every input, in order; those of inputs that need none are
    /// ignored.
    ///
    /// Return `None` (the default) to have the sweep use `backward_plain` or `backward`
    /// instead, which is also the way to give some input no gradient at all (`None` there).
    /// The same agreement with `backward` is required as for `backward_plain`.
    fn backward_scalar(&self, inputs: &[T], output: T, grad: T) -> Option<ScalarGrads<T>> {
        let _ = (inputs, output, grad);
        None
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
/// ```
pub trait Function<T: Float>: Op<T> + Sized {
    /// Computes the output value from the input values.
    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T>;
}

/// An input of a recorded node: a position on the tape (its value is that node's output,
/// which stays alive until that node itself is swept) or a constant, boxed so that the common
/// case keeps nodes small.
enum Input<T> {
    Node(usize),
    Const(Box<Tensor<T>>),
}

struct Node<T> {
    rule: Rule<T>,
    /// Where the op was called from (for anomaly reports and freed-graph errors).
    location: &'static Location<'static>,
    inputs: SmallVec<[Input<T>; 2]>,
    /// `None` once freed.
    value: Option<Tensor<T>>,
}

/// What the sweep does at a node. One field rather than the op, its name and two flags keeps
/// a node at 128 bytes, which is pushed with a few vector moves instead of a `memcpy` call
/// (graphs of scalars push one per op).
enum Rule<T> {
    /// A leaf ([`Tape::var`]): gradients stop and are kept here.
    Leaf,
    /// An op, with its backward rules.
    Op(Box<dyn Op<T>>),
    /// The op's rules are out, being run by a sweep (back when it is done, with `retain`).
    Running(&'static str),
    /// Freed by a sweep without `retain`: only the name is left, for the error message.
    Freed(&'static str),
}

impl<T: Float> Rule<T> {
    fn name(&self) -> &'static str {
        match self {
            Rule::Leaf => "leaf",
            Rule::Op(op) => op.name(),
            Rule::Running(name) | Rule::Freed(name) => name,
        }
    }
}

pub(crate) struct TapeInner<T> {
    nodes: RefCell<Vec<Node<T>>>,
}

/// The record of a forward pass. Create one per forward/backward step; every op on a
/// [`Var`] of this tape appends a node, and [`Var::backward`] sweeps it in reverse.
///
/// The tape is shared by its variables (reference counted): the graph is freed when the tape
/// and every `Var` on it are dropped, and the buffers saved for backward are released by the
/// sweep itself unless [`BackwardOptions::retain_graph`] is set.
///
/// A `Tape` is not `Send`: a graph belongs to one thread. Tensors are `Send` and can cross.
pub struct Tape<T: Float> {
    inner: Rc<TapeInner<T>>,
}

impl<T: Float> Clone for Tape<T> {
    fn clone(&self) -> Self {
        Tape { inner: self.inner.clone() }
    }
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> fmt::Debug for Tape<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tape({} nodes)", self.len())
    }
}

impl<T: Float> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape { inner: Rc::new(TapeInner { nodes: RefCell::new(Vec::new()) }) }
    }

    /// An empty tape with room for `n` nodes (avoids regrowth in big scalar graphs).
    pub fn with_capacity(n: usize) -> Self {
        Tape { inner: Rc::new(TapeInner { nodes: RefCell::new(Vec::with_capacity(n)) }) }
    }

    /// A variable that gradients are computed for (a leaf of the graph).
    #[track_caller]
    pub fn var(&self, value: Tensor<T>) -> Var<T> {
        let mut nodes = self.inner.nodes.borrow_mut();
        let id = nodes.len();
        nodes.push(Node {
            rule: Rule::Leaf,
            location: Location::caller(),
            inputs: SmallVec::new(),
            value: Some(value.clone()),
        });
        Var { node: Some((self.inner.clone(), id)), value }
    }

    /// A constant: takes part in ops but gets no gradient. Same as [`Var::constant`].
    pub fn constant(&self, value: Tensor<T>) -> Var<T> {
        Var::constant(value)
    }

    /// The number of recorded nodes (leaves included).
    pub fn len(&self) -> usize {
        self.inner.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two handles refer to the same tape.
    pub fn same(&self, other: &Tape<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

// ------------------------------------------------------------------------ grad mode

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops currently record onto tapes (false inside [`no_grad`]).
#[inline] // read by every op: without it, a call across crates
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the previous grad mode when dropped. Made by [`no_grad_guard`] or [`enable_grad_guard`].
#[must_use = "the mode is restored when the guard is dropped"]
pub struct GradModeGuard {
    prev: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

fn set_grad_mode(on: bool) -> GradModeGuard {
    let prev = GRAD_ENABLED.with(|g| g.replace(on));
    GradModeGuard { prev }
}

/// Turns recording off until the guard is dropped (for evaluation and inference).
pub fn no_grad_guard() -> GradModeGuard {
    set_grad_mode(false)
}

/// Turns recording on until the guard is dropped (e.g. inside a [`no_grad`] scope).
pub fn enable_grad_guard() -> GradModeGuard {
    set_grad_mode(true)
}

/// Runs `f` without recording: ops on variables compute values only, allocate no graph and
/// return constants, like `torch.no_grad()`.
///
/// ```
/// use autograd::{no_grad, Tape, Tensor};
/// let tape = Tape::<f32>::new();
/// let x = tape.var(Tensor::scalar(3.0));
/// let y = no_grad(|| &x * 2.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = no_grad_guard();
    f()
}

// ------------------------------------------------------------------------ anomaly mode

thread_local! {
    static ANOMALY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a parallel kernel) with this thread's grad and anomaly modes at their defaults,
/// restoring them afterwards. While a rayon worker waits for its parallel chunks it may run
/// other queued jobs, such as the user's own `par_iter` closures; those must see the modes a
/// fresh thread has, not a backward sweep's "grad off" or a `no_grad` scope of the caller.
/// The kernels themselves never read the modes.
pub(crate) fn with_default_modes<R>(f: impl FnOnce() -> R) -> R {
    let _grad = set_grad_mode(true);
    let _anomaly = set_anomaly_mode(false);
    f()
}

fn set_anomaly_mode(on: bool) -> AnomalyGuard {
    AnomalyGuard { prev: ANOMALY.with(|a| a.replace(on)) }
}

/// Whether anomaly detection is on for this thread (see [`detect_anomaly`]).
#[inline] // read by every op: without it, a call across crates
pub fn is_anomaly_enabled() -> bool {
    ANOMALY.with(|a| a.get())
}

/// Restores the previous anomaly mode when dropped. Made by [`anomaly_guard`].
#[must_use = "the mode is restored when the guard is dropped"]
pub struct AnomalyGuard {
    prev: bool,
}

impl Drop for AnomalyGuard {
    fn drop(&mut self) {
        ANOMALY.with(|a| a.set(self.prev));
    }
}

/// Turns anomaly detection on until the guard is dropped (see [`detect_anomaly`]).
pub fn anomaly_guard() -> AnomalyGuard {
    set_anomaly_mode(true)
}

/// Runs `f` with anomaly detection, like PyTorch's `detect_anomaly`: the first op whose
/// forward value or backward gradient contains NaN or infinity panics with a message naming
/// the op, its input shapes and the source location that called it. Off (the default), the
/// check is never made.
///
/// ```should_panic
/// use autograd::{detect_anomaly, Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Tensor::zeros([3]));
/// // panics: "anomaly: forward of `ln` at src/main.rs:..: produced -inf ..."
/// detect_anomaly(|| x.ln().sum());
/// ```
pub fn detect_anomaly<R>(f: impl FnOnce() -> R) -> R {
    let _g = anomaly_guard();
    f()
}

fn first_non_finite<T: Float>(t: &Tensor<T>) -> Option<(usize, T)> {
    t.data().iter().enumerate().find(|(_, v)| !v.is_finite()).map(|(i, &v)| (i, v))
}

fn shapes_of<T: Float>(inputs: &[&Tensor<T>]) -> String {
    inputs.iter().map(|t| fmt_shape(t.shape())).collect::<Vec<_>>().join(", ")
}

#[cold]
#[track_caller]
fn check_forward<T: Float>(name: &str, inputs: &[&Var<T>], value: &Tensor<T>) {
    if let Some((i, v)) = first_non_finite(value) {
        // Only the op that *creates* a non-finite value is at fault, not those that pass one on.
        if inputs.iter().all(|x| x.value().all_finite()) {
            let shapes: Vec<&Tensor<T>> = inputs.iter().map(|x| x.value()).collect();
            panic!(
                "anomaly: forward of `{name}` at {} produced {v} at flat index {i} of its output (shape {}); input shapes: [{}]",
                Location::caller(),
                fmt_shape(value.shape()),
                shapes_of(&shapes)
            );
        }
    }
}

// ------------------------------------------------------------------------ Var

/// A value in a computation: a [`Tensor`] plus, if it was recorded on a [`Tape`], its place
/// there. Ops on `Var`s compute their value at once and record themselves when some input
/// needs a gradient, so plain Rust control flow builds the graph as it runs.
///
/// Operators `+ - * /` and unary `-` work between `Var`s, references and scalars.
///
/// ```
/// use autograd::{Tape, Tensor};
/// let tape = Tape::new();
/// let x = tape.var(Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], [3])?);
/// let w = tape.var(Tensor::<f64>::ones([3, 2]));
/// let y = (x.matmul(&w).tanh() * 2.0).sum();
/// let g = y.backward();
/// assert_eq!(g.wrt(&w).shape(), &[3, 2]);
/// # Ok::<(), autograd::Error>(())
/// ```
pub struct Var<T: Float> {
    node: Option<(Rc<TapeInner<T>>, usize)>,
    value: Tensor<T>,
}

impl<T: Float> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var { node: self.node.clone(), value: self.value.clone() }
    }
}

impl<T: Float> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some((_, id)) => write!(f, "Var(#{id}, {:?})", self.value),
            None => write!(f, "Var(constant, {:?})", self.value),
        }
    }
}

impl<T: Float> fmt::Display for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl<T: Float> From<Tensor<T>> for Var<T> {
    fn from(t: Tensor<T>) -> Self {
        Var::constant(t)
    }
}

impl<T: Float> Var<T> {
    /// A constant, on no tape: it takes part in ops but gets no gradient.
    pub fn constant(value: Tensor<T>) -> Self {
        Var { node: None, value }
    }

    /// A 0-d constant.
    pub fn scalar(v: T) -> Self {
        Var::constant(Tensor::scalar(v))
    }

    /// The current value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value, consuming the variable.
    pub fn into_value(self) -> Tensor<T> {
        self.value
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.value.ndim()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.value.numel()
    }

    /// The single value of a one-element variable (see [`Tensor::item`]).
    pub fn item(&self) -> T {
        self.value.item()
    }

    /// Whether this value is recorded on a tape, so that gradients flow to it.
    pub fn requires_grad(&self) -> bool {
        self.node.is_some()
    }

    /// The same value as a constant: gradients stop here.
    pub fn detach(&self) -> Var<T> {
        Var::constant(self.value.clone())
    }

    /// The tape this variable is recorded on, if any.
    pub fn tape(&self) -> Option<Tape<T>> {
        self.node.as_ref().map(|(t, _)| Tape { inner: t.clone() })
    }

    /// The position on its tape (for diagnostics), if recorded.
    pub fn id(&self) -> Option<usize> {
        self.node.as_ref().map(|(_, id)| *id)
    }

    /// Records `op` with these inputs and the already computed output `value`.
    ///
    /// Nothing is recorded (a constant is returned) when no input is on a tape or grad mode
    /// is off, so inference allocates no graph.
    ///
    /// # Panics
    /// If the inputs are on different tapes.
    #[track_caller]
    pub fn from_op<O: Op<T>>(op: O, inputs: &[&Var<T>], value: Tensor<T>) -> Var<T> {
        if is_anomaly_enabled() {
            check_forward(op.name(), inputs, &value);
        }
        // Inference, no_grad and untracked backward sweeps: one branch, nothing recorded.
        if !is_grad_enabled() {
            return Var::constant(value);
        }
        let mut tape: Option<&Rc<TapeInner<T>>> = None;
        for v in inputs {
            if let Some((t, _)) = &v.node {
                match tape {
                    None => tape = Some(t),
                    Some(t0) => {
                        if !Rc::ptr_eq(t0, t) {
                            panic!(
                                "{}: inputs are recorded on different tapes; build one forward pass on one tape",
                                op.name()
                            )
                        }
                    }
                }
            }
        }
        let Some(tape) = tape.cloned() else { return Var::constant(value) };
        // Pushed one by one: `collect` into a SmallVec goes through an out-of-line `extend`.
        let mut saved = SmallVec::new();
        for v in inputs {
            saved.push(match v.id() {
                Some(id) => Input::Node(id),
                None => Input::Const(Box::new(v.value.clone())),
            });
        }
        let id = {
            let mut nodes = tape.nodes.borrow_mut();
            let id = nodes.len();
            nodes.push(Node {
                rule: Rule::Op(Box::new(op)),
                location: Location::caller(),
                inputs: saved,
                value: Some(value.clone()),
            });
            id
        };
        Var { node: Some((tape, id)), value }
    }

    /// Applies a custom [`Function`]: runs its forward on the input values and records it.
    #[track_caller]
    pub fn apply<F: Function<T>>(f: F, inputs: &[&Var<T>]) -> Var<T> {
        let values: SmallVec<[&Tensor<T>; 4]> = inputs.iter().map(|v| &v.value).collect();
        let out = f.forward(&values);
        Var::from_op(f, inputs, out)
    }

    // -------------------------------------------------------------------- backward

    /// Reverse sweep from this value, seeded with ones (so for a scalar loss, d loss/d loss = 1;
    /// for a non-scalar value it gives the gradient of `self.sum()`). Returns the gradients of
    /// every leaf created with [`Tape::var`].
    ///
    /// The buffers saved for backward are freed as the sweep passes them: a second backward
    /// through the same nodes panics with a message naming the op. Use
    /// [`backward_with`](Self::backward_with) and `retain_graph` to sweep twice.
    ///
    /// # Panics
    /// If this value is not recorded on a tape (a constant has no gradient).
    pub fn backward(&self) -> Gradients<T> {
        self.backward_with(BackwardOptions::default())
    }

    /// Reverse sweep with options: a seed other than ones, `create_graph` for higher-order
    /// gradients, `retain_graph` to sweep the same graph again.
    pub fn backward_with(&self, opts: BackwardOptions<T>) -> Gradients<T> {
        sweep(&[self], opts.seed.map(|s| vec![s]), None, opts.create_graph, opts.retain_graph || opts.create_graph)
    }
}

/// Options for [`Var::backward_with`].
pub struct BackwardOptions<T: Float> {
    /// The gradient of the final result with respect to this value (`None`: ones). Its shape
    /// must match the value's shape. A recorded `Var` here makes the result differentiable
    /// with respect to the seed too (with `create_graph`).
    pub seed: Option<Var<T>>,
    /// Record the backward sweep onto the tape, so the gradients are differentiable `Var`s
    /// (for second derivatives, Hessian-vector products, gradient penalties). Implies
    /// `retain_graph`.
    pub create_graph: bool,
    /// Keep the saved buffers so the same graph can be swept again.
    pub retain_graph: bool,
}

impl<T: Float> Default for BackwardOptions<T> {
    fn default() -> Self {
        BackwardOptions { seed: None, create_graph: false, retain_graph: false }
    }
}

/// Gradients of several outputs (summed, each with its seed) with respect to chosen
/// variables, which may be intermediate values as well as leaves. With `create_graph`, the
/// result's [`Gradients::wrt_var`] are recorded and can be differentiated again.
///
/// ```
/// use autograd::{grad, Tape, Tensor};
/// let tape = Tape::new();
/// let x = tape.var(Tensor::scalar(3.0_f64));
/// let y = &x * &x * &x; // x^3
/// let dy = grad(&[&y], &[&x], true).wrt_var(&x); // 3x^2, on the tape
/// let d2y = grad(&[&dy], &[&x], false).wrt(&x); // 6x
/// assert_eq!(d2y.item(), 18.0);
/// ```
pub fn grad<T: Float>(outputs: &[&Var<T>], wrt: &[&Var<T>], create_graph: bool) -> Gradients<T> {
    let ids: Vec<usize> = wrt
        .iter()
        .map(|v| {
            v.id().unwrap_or_else(|| {
                panic!("grad: an input of shape {} is a constant, not recorded on a tape", fmt_shape(v.shape()))
            })
        })
        .collect();
    sweep(outputs, None, Some(ids), create_graph, true)
}

/// Like [`grad`] with explicit seeds (vector-Jacobian products): `seeds[i]` is the gradient
/// with respect to `outputs[i]`.
pub fn grad_with_seeds<T: Float>(
    outputs: &[&Var<T>],
    seeds: Vec<Var<T>>,
    wrt: &[&Var<T>],
    create_graph: bool,
) -> Gradients<T> {
    let ids: Vec<usize> = wrt
        .iter()
        .map(|v| {
            v.id().unwrap_or_else(|| {
                panic!("grad: an input of shape {} is a constant, not recorded on a tape", fmt_shape(v.shape()))
            })
        })
        .collect();
    sweep(outputs, Some(seeds), Some(ids), create_graph, true)
}

fn sweep<T: Float>(
    outputs: &[&Var<T>],
    seeds: Option<Vec<Var<T>>>,
    keep_ids: Option<Vec<usize>>,
    create_graph: bool,
    retain: bool,
) -> Gradients<T> {
    if create_graph {
        sweep_as::<T, Var<T>>(outputs, seeds, keep_ids, retain)
    } else {
        sweep_as::<T, Tensor<T>>(outputs, seeds, keep_ids, retain)
    }
}

/// How a sweep carries gradients: as `Var`s when it records itself (`create_graph`), as
/// plain tensors otherwise, which spares building `Var`s for every node and lets ops answer
/// through [`Op::backward_plain`].
trait SweepGrad<T: Float>: Clone {
    /// Whether the sweep records itself (grad mode on inside backward rules).
    const RECORDS: bool;
    fn from_seed(seed: Var<T>) -> Self;
    fn from_scalar(v: T) -> Self;
    /// The value of a 0-d gradient in a sweep that may take the scalar lane (never with
    /// `create_graph`, whose rules must see `Var`s).
    fn as_scalar(&self) -> Option<T>;
    /// `self += g` in place where `self` is a 0-d gradient of the scalar lane; false (and
    /// nothing done) otherwise.
    fn add_scalar(&mut self, g: T) -> bool;
    fn value(&self) -> &Tensor<T>;
    fn into_var(self) -> Var<T>;
    /// `prev + g`, with the same floating-point addition in both modes.
    fn add(prev: Self, g: Self) -> Self;
    /// Runs the backward rule of node `i` (`ids[k]` is the tape position of input `k`, if
    /// it is recorded).
    fn backward(
        op: &dyn Op<T>,
        tape: &Rc<TapeInner<T>>,
        i: usize,
        ids: &[Option<usize>],
        inputs: &[Tensor<T>],
        output: Tensor<T>,
        g: Self,
    ) -> SmallVec<[Option<Self>; 2]>;
}

impl<T: Float> SweepGrad<T> for Var<T> {
    const RECORDS: bool = true;
    fn from_seed(seed: Var<T>) -> Self {
        seed
    }
    fn from_scalar(v: T) -> Self {
        Var::scalar(v)
    }
    fn as_scalar(&self) -> Option<T> {
        None
    }
    fn add_scalar(&mut self, _g: T) -> bool {
        false
    }
    fn value(&self) -> &Tensor<T> {
        &self.value
    }
    fn into_var(self) -> Var<T> {
        self
    }
    fn add(prev: Self, g: Self) -> Self {
        &prev + &g
    }
    fn backward(
        op: &dyn Op<T>,
        tape: &Rc<TapeInner<T>>,
        i: usize,
        ids: &[Option<usize>],
        inputs: &[Tensor<T>],
        output: Tensor<T>,
        g: Self,
    ) -> SmallVec<[Option<Self>; 2]> {
        let inputs = var_inputs(tape, ids, inputs);
        op.backward(&inputs, &Var { node: Some((tape.clone(), i)), value: output }, &g)
    }
}

impl<T: Float> SweepGrad<T> for Tensor<T> {
    const RECORDS: bool = false;
    fn from_seed(seed: Var<T>) -> Self {
        seed.value
    }
    fn from_scalar(v: T) -> Self {
        Tensor::scalar(v)
    }
    fn as_scalar(&self) -> Option<T> {
        Tensor::as_scalar(self)
    }
    fn add_scalar(&mut self, g: T) -> bool {
        match self.scalar_mut() {
            Some(p) => {
                *p += g;
                true
            }
            None => false,
        }
    }
    fn value(&self) -> &Tensor<T> {
        self
    }
    fn into_var(self) -> Var<T> {
        Var::constant(self)
    }
    fn add(prev: Self, g: Self) -> Self {
        // The same kernel and operand order as the `Var` addition (`&prev + &g`).
        prev.add(&g)
    }
    fn backward(
        op: &dyn Op<T>,
        tape: &Rc<TapeInner<T>>,
        i: usize,
        ids: &[Option<usize>],
        inputs: &[Tensor<T>],
        output: Tensor<T>,
        g: Self,
    ) -> SmallVec<[Option<Self>; 2]> {
        let needs: SmallVec<[bool; 2]> = ids.iter().map(Option::is_some).collect();
        if let Some(grads) = op.backward_plain(inputs, &needs, &output, &g) {
            return grads;
        }
        // No plain form: the differentiable rule, run with grad mode off (so it records
        // nothing and returns constants).
        let inputs = var_inputs(tape, ids, inputs);
        let output = Var { node: Some((tape.clone(), i)), value: output };
        op.backward(&inputs, &output, &Var::constant(g)).into_iter().map(|gi| gi.map(Var::into_value)).collect()
    }
}

/// The inputs of a node as `Var`s for [`Op::backward`]: recorded ones carry their tape
/// position (so rules see `requires_grad`, and with `create_graph` record onto the tape).
fn var_inputs<T: Float>(tape: &Rc<TapeInner<T>>, ids: &[Option<usize>], values: &[Tensor<T>]) -> SmallVec<[Var<T>; 2]> {
    ids.iter().zip(values).map(|(id, v)| Var { node: id.map(|id| (tape.clone(), id)), value: v.clone() }).collect()
}

fn sweep_as<T: Float, G: SweepGrad<T>>(
    outputs: &[&Var<T>],
    seeds: Option<Vec<Var<T>>>,
    keep_ids: Option<Vec<usize>>,
    retain: bool,
) -> Gradients<T> {
    assert!(!outputs.is_empty(), "backward: no outputs given");
    let tape = outputs[0]
        .node
        .as_ref()
        .map(|(t, _)| t.clone())
        .unwrap_or_else(|| panic!("backward: the output (shape {}) is not recorded on a tape: it does not depend on any Tape::var, or was computed under no_grad", fmt_shape(outputs[0].shape())));
    let mut grads: Vec<Option<G>> = Vec::new();
    let mut max_id = 0;
    let _mode = set_grad_mode(G::RECORDS);
    let seeds = seeds.unwrap_or_else(|| outputs.iter().map(|o| Var::constant(Tensor::ones(o.shape()))).collect());
    assert_eq!(seeds.len(), outputs.len(), "backward: {} seeds for {} outputs", seeds.len(), outputs.len());
    for (o, s) in outputs.iter().zip(seeds) {
        let (t, id) = o.node.as_ref().unwrap_or_else(|| {
            panic!("backward: an output of shape {} is not recorded on a tape", fmt_shape(o.shape()))
        });
        assert!(Rc::ptr_eq(t, &tape), "backward: outputs are recorded on different tapes");
        assert!(
            s.shape() == o.shape(),
            "backward: seed of shape {} does not match output of shape {}",
            fmt_shape(s.shape()),
            fmt_shape(o.shape())
        );
        if grads.len() <= *id {
            grads.resize(*id + 1, None);
        }
        max_id = max_id.max(*id);
        accumulate(&mut grads[*id], G::from_seed(s));
    }
    // Nodes below the lowest requested id cannot contribute to what was asked for.
    let stop = keep_ids.as_ref().map(|k| k.iter().copied().min().unwrap_or(0)).unwrap_or(0);
    let mut keep_sorted: Vec<usize> = keep_ids.clone().unwrap_or_default();
    keep_sorted.sort_unstable();
    // Kept gradients, in decreasing id order (the sweep's order).
    let mut result: Vec<(usize, G)> = Vec::new();
    let anomaly = is_anomaly_enabled();
    // Inside backward rules, blame whole rules (checked per input gradient below), not the
    // forward values of the ops they are written with.
    let _quiet = anomaly.then(|| set_anomaly_mode(false));
    // Per-node buffers, filled in place: building them inside the borrow below and moving
    // them out cost store-forwarding stalls that were a visible part of a scalar node.
    let mut ids: SmallVec<[Option<usize>; 2]> = SmallVec::new();
    let mut xs: SmallVec<[T; 2]> = SmallVec::new();
    let mut inputs: SmallVec<[Tensor<T>; 2]> = SmallVec::new();
    for i in (stop..=max_id).rev() {
        let Some(g) = grads[i].take() else { continue };
        ids.clear();
        xs.clear();
        inputs.clear();
        // One borrow per node: copy out what the rule needs (cheap: scalars are inline,
        // larger values shared) and, without `retain`, free the node at the same time. The
        // borrow ends before the rule runs, so rules (custom ones too) may use the tape.
        //
        // `lane` is `Some((output, gradient))` on the scalar lane (a plain sweep through a
        // node whose values are all 0-d, with the inputs in `xs`), else the output tensor
        // is returned and the inputs are in `inputs`.
        let (op, location, lane, output) = {
            let mut nodes = tape.nodes.borrow_mut();
            let keep = match &keep_ids {
                Some(_) => keep_sorted.binary_search(&i).is_ok(),
                None => matches!(nodes[i].rule, Rule::Leaf),
            };
            if matches!(nodes[i].rule, Rule::Leaf) {
                if keep {
                    result.push((i, g));
                }
                continue;
            }
            if keep {
                result.push((i, g.clone()));
            }
            let node = &nodes[i];
            let freed = |name: &str, at: &Location<'static>, id: usize| -> ! {
                panic!(
                    "backward: the graph through `{name}` (node #{id}, recorded at {at}) was already freed by an earlier backward; pass retain_graph: true to the first one to sweep twice"
                )
            };
            match node.rule {
                Rule::Op(_) => {}
                Rule::Freed(name) => freed(name, node.location, i),
                Rule::Running(name) => panic!(
                    "backward: the rule of `{name}` (node #{i}, recorded at {}) is missing: an earlier backward panicked while running it",
                    node.location
                ),
                Rule::Leaf => unreachable!("leaves were handled above"),
            }
            let output = node.value.as_ref().expect("unfreed node has a value");
            let lane = g.as_scalar().and_then(|gs| Some((output.as_scalar()?, gs)));
            let mut scalar = lane.is_some();
            for inp in &node.inputs {
                let (id, value) = match inp {
                    Input::Node(id) => {
                        let src = &nodes[*id];
                        (Some(*id), src.value.as_ref().unwrap_or_else(|| freed(src.rule.name(), src.location, *id)))
                    }
                    Input::Const(t) => (None, &**t),
                };
                ids.push(id);
                if scalar {
                    match value.as_scalar() {
                        Some(x) => xs.push(x),
                        None => scalar = false,
                    }
                }
            }
            let lane = if scalar { lane } else { None };
            let output = match lane {
                Some(_) => None,
                None => {
                    // Not all 0-d: gather the tensors (a second, rarer pass).
                    for inp in &node.inputs {
                        inputs.push(match inp {
                            Input::Node(id) => nodes[*id].value.clone().expect("checked above"),
                            Input::Const(t) => (**t).clone(),
                        });
                    }
                    Some(output.clone())
                }
            };
            let node = &mut nodes[i];
            let Rule::Op(op) = std::mem::replace(&mut node.rule, Rule::Leaf) else { unreachable!("checked above") };
            if retain {
                node.rule = Rule::Running(op.name());
            } else {
                node.rule = Rule::Freed(op.name());
                node.inputs = SmallVec::new();
                node.value = None;
            }
            (op, node.location, lane, output)
        };
        if ids.iter().any(Option::is_some) {
            let (output, g) = match (lane, output) {
                (Some((y, gs)), _) => {
                    let gx = op.backward_scalar(&xs, y, gs);
                    if let Some(gx) = &gx {
                        assert_eq!(
                            gx.len(),
                            xs.len(),
                            "backward_scalar of `{}` returned {} gradients for {} inputs",
                            op.name(),
                            gx.len(),
                            xs.len()
                        );
                        for (k, (&id, &v)) in ids.iter().zip(gx.iter()).enumerate() {
                            let Some(id) = id else { continue };
                            if anomaly && !v.is_finite() {
                                let inputs: SmallVec<[Tensor<T>; 2]> = xs.iter().map(|&x| Tensor::scalar(x)).collect();
                                check_backward(op.name(), location, k, &inputs, &Tensor::scalar(v));
                            }
                            accumulate_scalar(&mut grads[id], v);
                        }
                        if retain {
                            tape.nodes.borrow_mut()[i].rule = Rule::Op(op);
                        }
                        continue;
                    }
                    // No scalar rule: the general path, on 0-d tensors.
                    inputs.extend(xs.iter().map(|&x| Tensor::scalar(x)));
                    (Tensor::scalar(y), G::from_scalar(gs))
                }
                (None, Some(output)) => (output, g),
                (None, None) => unreachable!("the tensor path returns the output"),
            };
            let in_grads = G::backward(&*op, &tape, i, &ids, &inputs, output, g);
            assert_eq!(
                in_grads.len(),
                inputs.len(),
                "backward of `{}` returned {} gradients for {} inputs",
                op.name(),
                in_grads.len(),
                inputs.len()
            );
            for (k, gi) in in_grads.into_iter().enumerate() {
                let (Some(id), Some(gi)) = (ids[k], gi) else { continue };
                assert!(
                    crate::shape::same_shape(gi.value().shape(), inputs[k].shape()),
                    "backward of `{}`: gradient for input {k} has shape {} but the input has shape {}",
                    op.name(),
                    fmt_shape(gi.value().shape()),
                    fmt_shape(inputs[k].shape())
                );
                if anomaly {
                    check_backward(op.name(), location, k, &inputs, gi.value());
                }
                accumulate(&mut grads[id], gi);
            }
        }
        if retain {
            tape.nodes.borrow_mut()[i].rule = Rule::Op(op);
        }
    }
    result.reverse();
    Gradients { tape, grads: result.into_iter().map(|(i, g)| (i, g.into_var())).collect() }
}

#[cold]
fn check_backward<T: Float>(name: &str, location: &Location<'static>, k: usize, inputs: &[Tensor<T>], g: &Tensor<T>) {
    if let Some((i, v)) = first_non_finite(g) {
        let shapes: Vec<&Tensor<T>> = inputs.iter().collect();
        panic!(
            "anomaly: backward of `{name}` (recorded at {location}) produced {v} at flat index {i} of the gradient for input {k} (shape {}); input shapes: [{}]",
            fmt_shape(g.shape()),
            shapes_of(&shapes)
        );
    }
}

fn accumulate<T: Float, G: SweepGrad<T>>(slot: &mut Option<G>, g: G) {
    *slot = Some(match slot.take() {
        None => g,
        Some(prev) => G::add(prev, g),
    });
}

/// [`accumulate`] for the scalar lane: `prev + g`, the same addition as on tensors. The
/// slot is updated in place: building a whole new gradient and moving it in cost a
/// store-forwarding stall per input.
#[inline]
fn accumulate_scalar<T: Float, G: SweepGrad<T>>(slot: &mut Option<G>, g: T) {
    match slot {
        None => *slot = Some(G::from_scalar(g)),
        Some(prev) => {
            if !prev.add_scalar(g) {
                *slot = Some(G::add(slot.take().expect("checked above"), G::from_scalar(g)));
            }
        }
    }
}

/// The result of a backward sweep: gradients keyed by the variables they belong to.
pub struct Gradients<T: Float> {
    tape: Rc<TapeInner<T>>,
    /// `(tape id, gradient)` in increasing id order.
    grads: Vec<(usize, Var<T>)>,
}

impl<T: Float> Gradients<T> {
    fn slot(&self, v: &Var<T>) -> Option<&Var<T>> {
        let (t, id) = v.node.as_ref()?;
        assert!(Rc::ptr_eq(t, &self.tape), "gradients: the variable is on a different tape than the sweep");
        self.grads.binary_search_by_key(id, |(i, _)| *i).ok().map(|k| &self.grads[k].1)
    }

    /// The gradient with respect to `v`, or `None` if `v` does not influence the output (or
    /// was not kept by this sweep: [`Var::backward`] keeps leaves only).
    pub fn get(&self, v: &Var<T>) -> Option<Tensor<T>> {
        self.slot(v).map(|g| g.value().clone())
    }

    /// The gradient with respect to `v`, with `v`'s shape; zeros if `v` does not influence
    /// the output.
    pub fn wrt(&self, v: &Var<T>) -> Tensor<T> {
        self.get(v).unwrap_or_else(|| Tensor::zeros(v.shape()))
    }

    /// The gradient as a variable: recorded on the tape when the sweep used `create_graph`,
    /// so it can be differentiated again. Zeros (a constant) if `v` does not influence the output.
    pub fn wrt_var(&self, v: &Var<T>) -> Var<T> {
        self.slot(v).cloned().unwrap_or_else(|| Var::constant(Tensor::zeros(v.shape())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mechanism behind the parallel kernels' isolation: inside `with_default_modes` a job
    /// sees a fresh thread's modes, and the caller's come back afterwards (also on a panic).
    #[test]
    fn default_modes_inside_restored_after() {
        let _ng = no_grad_guard();
        let _an = anomaly_guard();
        assert!(!is_grad_enabled() && is_anomaly_enabled());
        with_default_modes(|| assert!(is_grad_enabled() && !is_anomaly_enabled()));
        assert!(!is_grad_enabled() && is_anomaly_enabled());
        let r = std::panic::catch_unwind(|| with_default_modes(|| panic!("inside")));
        assert!(r.is_err());
        assert!(!is_grad_enabled() && is_anomaly_enabled());
    }
}
