//! The data of a recorded computation: [`Tape`] (the nodes of one forward pass), [`Var`]
//! (a value, possibly recorded) and [`Rule`], what a node does in the sweeps. Only types and
//! their plain accessors live here: recording is in `var.rs`, the reverse sweep in
//! `sweep.rs`, forward mode in `forward.rs`.

use crate::float::Float;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

/// The gradients a backward rule returns: one entry per input, `None` where the input needs
/// no gradient (or the gradient is identically zero).
pub type InputGrads<T> = SmallVec<[Option<Var<T>>; 2]>;

/// [`InputGrads`] on plain tensors (the sweep that records nothing).
pub(crate) type TensorGrads<T> = SmallVec<[Option<Tensor<T>>; 2]>;

/// The gradients of the scalar lane, one per input.
pub(crate) type ScalarGrads<T> = SmallVec<[T; 2]>;

/// What a recorded node does in the sweeps. Built-in ops implement it from one derivative
/// formula each (see `rules.rs`); user ops ([`Op`](crate::Op)) through a wrapper.
pub(crate) trait Rule<T: Float>: 'static {
    /// A short name for error messages and anomaly reports.
    fn name(&self) -> &'static str;

    /// The vector-Jacobian product on `Var`s: gradients of the inputs given the gradient `g`
    /// of the output `y`. With grad mode on (`create_graph`) it records itself.
    fn vjp(&self, x: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T>;

    /// The same on plain tensors, for sweeps that record nothing; `None` to have the sweep
    /// run [`vjp`](Self::vjp) with grad mode off. Must give the same bits as `vjp`.
    fn vjp_tensor(&self, x: &[Tensor<T>], needs: &[bool], y: &Tensor<T>, g: &Tensor<T>) -> Option<TensorGrads<T>> {
        let _ = (x, needs, y, g);
        None
    }

    /// The same on the values of a node whose inputs, output and gradient are all 0-d (graphs
    /// of scalar code); `None` to use the tensor forms. Must give the same bits as `vjp`.
    fn vjp_scalar(&self, x: &[T], y: T, g: T) -> Option<ScalarGrads<T>> {
        let _ = (x, y, g);
        None
    }

    /// The Jacobian-vector product: the tangent of the output given the tangents `dx` of the
    /// inputs (`None`: zero). `None` when the result is zero.
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>>;
}

/// An input of a recorded node: a position on the tape (its value is that node's output,
/// which stays alive until that node itself is swept) or a constant, boxed so that the common
/// case keeps nodes small.
pub(crate) enum Input<T> {
    Node(usize),
    Const(Box<Tensor<T>>),
}

pub(crate) struct Node<T> {
    pub(crate) rule: RuleSlot<T>,
    /// Where the op was called from (for anomaly reports and freed-graph errors).
    pub(crate) location: &'static Location<'static>,
    pub(crate) inputs: SmallVec<[Input<T>; 2]>,
    /// `None` once freed.
    pub(crate) value: Option<Tensor<T>>,
}

/// What the sweep does at a node. One field rather than the rule, its name and two flags
/// keeps a node at 128 bytes, which is pushed with a few vector moves instead of a `memcpy`
/// call (graphs of scalars push one per op).
pub(crate) enum RuleSlot<T> {
    /// A leaf ([`Tape::var`]): gradients stop and are kept here.
    Leaf,
    /// An op, with its rules.
    Op(Box<dyn Rule<T>>),
    /// The rules are out, being run by a sweep or a tangent computation (back when done).
    Running(&'static str),
    /// Freed by a sweep without `retain`: only the name is left, for the error message.
    Freed(&'static str),
}

impl<T: Float> RuleSlot<T> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            RuleSlot::Leaf => "leaf",
            RuleSlot::Op(op) => op.name(),
            RuleSlot::Running(name) | RuleSlot::Freed(name) => name,
        }
    }
}

/// The tangent of a recorded node, kept for sweeps that carry tangents (forward-over-reverse):
/// its value and, when the tangent is itself recorded on this tape, its node. Not a `Var`,
/// which would hold the tape and never let it be freed.
pub(crate) struct TangentEntry<T> {
    pub(crate) node: usize,
    pub(crate) tangent_node: Option<usize>,
    pub(crate) value: Tensor<T>,
}

pub(crate) struct TapeInner<T> {
    pub(crate) nodes: RefCell<Vec<Node<T>>>,
    /// Tangents of recorded nodes, by increasing node, when forward mode ran on this tape.
    pub(crate) tangents: RefCell<Vec<TangentEntry<T>>>,
}

impl<T: Float> TapeInner<T> {
    fn new(capacity: usize) -> Self {
        TapeInner { nodes: RefCell::new(Vec::with_capacity(capacity)), tangents: RefCell::new(Vec::new()) }
    }
}

/// The record of a forward pass. Create one per forward/backward step; every op on a
/// [`Var`] of this tape appends a node, and [`Var::backward`] sweeps it in reverse.
///
/// The tape is shared by its variables (reference counted): the graph is freed when the tape
/// and every `Var` on it are dropped, and the buffers saved for backward are released by the
/// sweep itself unless `retain_graph` is set.
///
/// A `Tape` is not `Send`: a graph belongs to one thread. Tensors are `Send` and can cross.
pub struct Tape<T: Float> {
    pub(crate) inner: Rc<TapeInner<T>>,
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
        Tape { inner: Rc::new(TapeInner::new(0)) }
    }

    /// An empty tape with room for `n` nodes (avoids regrowth in big scalar graphs).
    pub fn with_capacity(n: usize) -> Self {
        Tape { inner: Rc::new(TapeInner::new(n)) }
    }

    /// A variable that gradients are computed for (a leaf of the graph).
    #[track_caller]
    pub fn var(&self, value: Tensor<T>) -> Var<T> {
        let mut nodes = self.inner.nodes.borrow_mut();
        let id = nodes.len();
        nodes.push(Node {
            rule: RuleSlot::Leaf,
            location: Location::caller(),
            inputs: SmallVec::new(),
            value: Some(value.clone()),
        });
        Var { node: Some((self.inner.clone(), id)), value, tangent: None }
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

/// A value in a computation: a [`Tensor`] plus, if it was recorded on a [`Tape`], its place
/// there, and, in forward mode, its tangent. Ops on `Var`s compute their value at once and
/// record themselves when some input needs a gradient, so plain Rust control flow builds the
/// graph as it runs.
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
    pub(crate) node: Option<(Rc<TapeInner<T>>, usize)>,
    pub(crate) value: Tensor<T>,
    /// The forward-mode tangent (see [`forward_ad`](crate::forward_ad)).
    pub(crate) tangent: Option<Rc<Var<T>>>,
}

impl<T: Float> Clone for Var<T> {
    #[inline]
    fn clone(&self) -> Self {
        Var { node: self.node.clone(), value: self.value.clone(), tangent: self.tangent.clone() }
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
    #[inline]
    pub fn constant(value: Tensor<T>) -> Self {
        Var { node: None, value, tangent: None }
    }

    /// A variable at `id` on `tape` (the sweep rebuilds inputs with it).
    #[inline]
    pub(crate) fn on_tape(tape: &Rc<TapeInner<T>>, id: usize, value: Tensor<T>) -> Self {
        Var { node: Some((tape.clone(), id)), value, tangent: None }
    }

    /// A 0-d constant.
    pub fn scalar(v: T) -> Self {
        Var::constant(Tensor::scalar(v))
    }

    /// The current value.
    #[inline]
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value, consuming the variable.
    #[inline]
    pub fn into_value(self) -> Tensor<T> {
        self.value
    }

    /// The shape of the value.
    #[inline]
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
    #[track_caller]
    pub fn item(&self) -> T {
        self.value.item()
    }

    /// Whether this value is recorded on a tape, so that gradients flow to it.
    #[inline]
    pub fn requires_grad(&self) -> bool {
        self.node.is_some()
    }

    /// The same value as a constant: gradients stop here, and it has no tangent.
    pub fn detach(&self) -> Var<T> {
        Var::constant(self.value.clone())
    }

    /// The tape this variable is recorded on, if any.
    pub fn tape(&self) -> Option<Tape<T>> {
        self.node.as_ref().map(|(t, _)| Tape { inner: t.clone() })
    }

    /// The position on its tape (for diagnostics), if recorded.
    #[inline]
    pub fn id(&self) -> Option<usize> {
        self.node.as_ref().map(|(_, id)| *id)
    }

    /// The same variable without its tangent (a primal, for tangent rules).
    #[inline]
    pub(crate) fn primal(&self) -> Var<T> {
        Var { node: self.node.clone(), value: self.value.clone(), tangent: None }
    }
}
