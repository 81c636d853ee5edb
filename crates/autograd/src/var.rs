//! Recording: how an op's result becomes a [`Var`], a node on the tape when some input needs a
//! gradient, and its tangent when forward mode is on.

use crate::float::Float;
use crate::graph::{Input, Node, Rule, RuleSlot, TangentEntry, TapeInner, Var};
use crate::modes::{self, set_forward_mode};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::panic::Location;
use std::rc::Rc;

/// Records `rule` with these inputs and output `value` (see [`Var::from_op`]).
#[track_caller]
#[inline]
pub(crate) fn record<T: Float, R: Rule<T>>(rule: R, inputs: &[&Var<T>], value: Tensor<T>) -> Var<T> {
    let modes = modes::current();
    if modes.anomaly() {
        check_forward(rule.name(), inputs, &value);
    }
    if modes.forward() && inputs.iter().any(|v| v.tangent.is_some()) {
        return record_dual(rule, inputs, value, modes.grad());
    }
    // Inference, no_grad and untracked backward sweeps: one branch, nothing recorded.
    if !modes.grad() {
        return Var::constant(value);
    }
    let Some(tape) = common_tape(rule.name(), inputs) else { return Var::constant(value) };
    let id = push(&tape, Box::new(rule), inputs, value.clone());
    Var { node: Some((tape, id)), value, tangent: None }
}

/// The tape the recorded inputs are on, if any.
///
/// # Panics
/// If they are on different tapes.
#[track_caller]
#[inline(always)]
fn common_tape<T: Float>(name: &'static str, inputs: &[&Var<T>]) -> Option<Rc<TapeInner<T>>> {
    let mut tape: Option<&Rc<TapeInner<T>>> = None;
    for v in inputs {
        if let Some((t, _)) = &v.node {
            match tape {
                None => tape = Some(t),
                Some(t0) => {
                    if !Rc::ptr_eq(t0, t) {
                        panic!("{name}: inputs are recorded on different tapes; build one forward pass on one tape")
                    }
                }
            }
        }
    }
    tape.cloned()
}

/// Appends a node; returns its position.
#[track_caller]
#[inline(always)]
fn push<T: Float>(tape: &Rc<TapeInner<T>>, rule: Box<dyn Rule<T>>, inputs: &[&Var<T>], value: Tensor<T>) -> usize {
    // Pushed one by one: `collect` into a SmallVec goes through an out-of-line `extend`.
    let mut saved = SmallVec::new();
    for v in inputs {
        saved.push(match v.id() {
            Some(id) => Input::Node(id),
            None => Input::Const(Box::new(v.value.clone())),
        });
    }
    let mut nodes = tape.nodes.borrow_mut();
    let id = nodes.len();
    nodes.push(Node { rule: RuleSlot::Op(rule), location: Location::caller(), inputs: saved, value: Some(value) });
    id
}

/// [`record`] when some input has a tangent: records as usual, then computes the output's
/// tangent with the rule's `jvp` (tangent propagation off meanwhile: the tangent rule's own
/// ops carry no tangents of their own).
#[cold]
#[track_caller]
fn record_dual<T: Float, R: Rule<T>>(rule: R, inputs: &[&Var<T>], value: Tensor<T>, grad: bool) -> Var<T> {
    let name = rule.name();
    let tangents: SmallVec<[Option<Var<T>>; 2]> =
        inputs.iter().map(|v| v.tangent.as_deref().map(Var::primal)).collect();
    let xs: SmallVec<[Var<T>; 2]> = inputs.iter().map(|v| v.primal()).collect();
    let tape = if grad { common_tape(name, inputs) } else { None };
    let (y, t) = match tape {
        None => {
            let y = Var::constant(value);
            let _f = set_forward_mode(false);
            let t = rule.jvp(&xs, &y, &tangents);
            (y, t)
        }
        Some(tape) => {
            let id = push(&tape, Box::new(rule), inputs, value.clone());
            let y = Var::on_tape(&tape, id, value);
            // The rule is taken out while it runs (its ops record onto the same tape).
            let rule = {
                let mut nodes = tape.nodes.borrow_mut();
                match std::mem::replace(&mut nodes[id].rule, RuleSlot::Running(name)) {
                    RuleSlot::Op(rule) => rule,
                    _ => unreachable!("just pushed"),
                }
            };
            let t = {
                let _f = set_forward_mode(false);
                rule.jvp(&xs, &y, &tangents)
            };
            tape.nodes.borrow_mut()[id].rule = RuleSlot::Op(rule);
            if let Some(t) = &t {
                register_tangent(&tape, id, t);
            }
            (y, t)
        }
    };
    if let Some(t) = &t {
        assert!(
            crate::shape::same_shape(t.shape(), y.shape()),
            "jvp of `{name}`: tangent of shape {} for an output of shape {}",
            fmt_shape(t.shape()),
            fmt_shape(y.shape())
        );
    }
    Var { tangent: t.map(Rc::new), ..y }
}

/// Keeps the tangent of node `id` on its tape, for sweeps that carry tangents.
pub(crate) fn register_tangent<T: Float>(tape: &Rc<TapeInner<T>>, id: usize, t: &Var<T>) {
    let tangent_node = match &t.node {
        Some((tt, tid)) if Rc::ptr_eq(tt, tape) => Some(*tid),
        _ => None,
    };
    let entry = TangentEntry { node: id, tangent_node, value: t.value.clone() };
    let mut tangents = tape.tangents.borrow_mut();
    match tangents.binary_search_by_key(&id, |e| e.node) {
        Ok(k) => tangents[k] = entry,
        Err(k) => tangents.insert(k, entry),
    }
}

/// The tangent kept for node `id`, as a `Var` (recorded when the tangent was).
pub(crate) fn kept_tangent<T: Float>(tape: &Rc<TapeInner<T>>, id: usize) -> Option<Var<T>> {
    let tangents = tape.tangents.borrow();
    let k = tangents.binary_search_by_key(&id, |e| e.node).ok()?;
    let e = &tangents[k];
    Some(match e.tangent_node {
        Some(tid) => Var::on_tape(tape, tid, e.value.clone()),
        None => Var::constant(e.value.clone()),
    })
}

fn first_non_finite<T: Float>(t: &Tensor<T>) -> Option<(usize, T)> {
    t.data().iter().enumerate().find(|(_, v)| !v.is_finite()).map(|(i, &v)| (i, v))
}

/// The shapes of some tensors, as `[2, 3], [3]`.
pub(crate) fn shapes_of<T: Float>(inputs: &[&Tensor<T>]) -> String {
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

/// Panics if the gradient `g` a rule returned for input `k` has a NaN or an infinity.
#[cold]
pub(crate) fn check_backward<T: Float>(
    name: &str,
    location: &Location<'static>,
    k: usize,
    inputs: &[Tensor<T>],
    g: &Tensor<T>,
) {
    if let Some((i, v)) = first_non_finite(g) {
        let shapes: Vec<&Tensor<T>> = inputs.iter().collect();
        panic!(
            "anomaly: backward of `{name}` (recorded at {location}) produced {v} at flat index {i} of the gradient for input {k} (shape {}); input shapes: [{}]",
            fmt_shape(g.shape()),
            shapes_of(&shapes)
        );
    }
}
