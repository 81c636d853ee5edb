//! The reverse sweep: [`Var::backward`], [`grad`] and [`Gradients`].

use crate::error::{Error, Result};
use crate::float::Float;
use crate::graph::{Input, Rule, RuleSlot, TapeInner, Var};
use crate::modes::{self, set_anomaly_mode, set_grad_mode};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use crate::var::{check_backward, kept_tangent};
use smallvec::SmallVec;
use std::panic::Location;
use std::rc::Rc;

impl<T: Float> Var<T> {
    /// Reverse sweep from this scalar (a loss): d self / d self = 1. Returns the gradients
    /// of every leaf created with [`Tape::var`](crate::Tape::var).
    ///
    /// The buffers saved for backward are freed as the sweep passes them: a second backward
    /// through the same nodes panics with a message naming the op. Use
    /// [`backward_with`](Self::backward_with) and `retain_graph` to sweep twice.
    ///
    /// # Panics
    /// If this value has more than one element (as PyTorch: a gradient can be created
    /// implicitly only for a scalar; give one with [`backward_with`](Self::backward_with)),
    /// or is not recorded on a tape (a constant has no gradient).
    #[track_caller]
    pub fn backward(&self) -> Gradients<T> {
        if self.numel() != 1 {
            panic!(
                "backward: grad can be implicitly created only for scalar outputs, and this output has shape {}; pass the gradient of the result with respect to it with backward_with(grad), or reduce it first (e.g. .sum())",
                fmt_shape(self.shape())
            );
        }
        self.backward_with(BackwardOptions::default())
    }

    /// Reverse sweep with options: the gradient of the final result with respect to this
    /// value (the seed of a vector-Jacobian product: `y.backward_with(v)` gives `v^T J` for
    /// every leaf), `create_graph` for higher-order gradients, `retain_graph` to sweep the
    /// same graph again. A `Tensor` or a `Var` converts into options with that seed.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::new();
    /// let x = tape.var(Tensor::<f64>::from_vec(vec![1.0, 2.0], [2])?);
    /// let y = &x * &x; // J = diag(2x)
    /// let v = Tensor::from_vec(vec![1.0, 10.0], [2])?;
    /// assert_eq!(y.backward_with(v).wrt(&x).to_vec(), vec![2.0, 40.0]);
    /// # Ok::<(), autograd::Error>(())
    /// ```
    ///
    /// # Panics
    /// If the seed's shape differs from this value's, or this value is not recorded on a tape.
    #[track_caller]
    pub fn backward_with(&self, opts: impl Into<BackwardOptions<T>>) -> Gradients<T> {
        let opts = opts.into();
        if self.node.is_none() {
            panic!(
                "backward: the output (shape {}) is not recorded on a tape: it does not depend on any Tape::var, or was computed under no_grad",
                fmt_shape(self.shape())
            );
        }
        let seeds = opts.seed.map(|s| vec![s]);
        match sweep(&[self], seeds, None, opts.create_graph, opts.retain_graph || opts.create_graph) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
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

impl<T: Float> From<Tensor<T>> for BackwardOptions<T> {
    fn from(seed: Tensor<T>) -> Self {
        BackwardOptions { seed: Some(Var::constant(seed)), ..Default::default() }
    }
}

impl<T: Float> From<&Tensor<T>> for BackwardOptions<T> {
    fn from(seed: &Tensor<T>) -> Self {
        BackwardOptions { seed: Some(Var::constant(seed.clone())), ..Default::default() }
    }
}

impl<T: Float> From<Var<T>> for BackwardOptions<T> {
    fn from(seed: Var<T>) -> Self {
        BackwardOptions { seed: Some(seed), ..Default::default() }
    }
}

/// Gradients of several outputs (summed, each seeded with ones) with respect to chosen
/// variables, which may be intermediate values as well as leaves. With `create_graph`, the
/// result's [`Gradients::wrt_var`] are recorded and can be differentiated again.
///
/// A variable the outputs do not depend on gets zeros, also when an output is a constant
/// (the gradient of a linear function, differentiated again, say): PyTorch's
/// `materialize_grads`. [`grad_with`] has PyTorch's other choices.
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
///
/// # Panics
/// If a variable in `wrt` is a constant, the recorded outputs are on different tapes, or
/// `wrt` is on another tape than they are.
#[track_caller]
pub fn grad<T: Float>(outputs: &[&Var<T>], wrt: &[&Var<T>], create_graph: bool) -> Gradients<T> {
    match grad_ids(wrt).and_then(|ids| sweep(outputs, None, Some(ids), create_graph, true)) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    }
}

/// Like [`grad`] with explicit seeds (vector-Jacobian products): `seeds[i]` is the gradient
/// with respect to `outputs[i]`.
#[track_caller]
pub fn grad_with_seeds<T: Float>(
    outputs: &[&Var<T>],
    seeds: Vec<Var<T>>,
    wrt: &[&Var<T>],
    create_graph: bool,
) -> Gradients<T> {
    match grad_ids(wrt).and_then(|ids| sweep(outputs, Some(seeds), Some(ids), create_graph, true)) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    }
}

/// Options for [`grad_with`], PyTorch's `torch.autograd.grad` arguments.
pub struct GradOptions<T: Float> {
    /// The gradients with respect to the outputs, one per output (`None`: ones, which
    /// requires every output to be a scalar).
    pub seeds: Option<Vec<Var<T>>>,
    /// Record the sweep, so the gradients can be differentiated again (implies
    /// `retain_graph`).
    pub create_graph: bool,
    /// Keep the graph for another sweep.
    pub retain_graph: bool,
    /// An input the outputs do not depend on is an error unless this is set (then its entry
    /// is `None`) or `materialize_grads` is.
    pub allow_unused: bool,
    /// Give zeros instead of `None` for inputs the outputs do not depend on.
    pub materialize_grads: bool,
}

impl<T: Float> Default for GradOptions<T> {
    fn default() -> Self {
        GradOptions {
            seeds: None,
            create_graph: false,
            retain_graph: false,
            allow_unused: false,
            materialize_grads: false,
        }
    }
}

/// The gradients of `outputs` with respect to `inputs`, one entry per input, with PyTorch's
/// semantics (`torch.autograd.grad`): an input the outputs do not depend on (or a constant
/// output) is an error naming it, unless `allow_unused` (its entry is `None`) or
/// `materialize_grads` (zeros); without seeds every output must be a scalar.
///
/// ```
/// use autograd::{grad_with, GradOptions, Tape, Tensor};
/// let tape = Tape::new();
/// let x = tape.var(Tensor::scalar(2.0_f64));
/// let z = tape.var(Tensor::scalar(5.0_f64));
/// let y = &x * 3.0;
/// let keep = GradOptions { retain_graph: true, ..Default::default() };
/// assert!(grad_with(&[&y], &[&x, &z], keep).is_err()); // z is unused
/// let opts = GradOptions { materialize_grads: true, create_graph: true, ..Default::default() };
/// let g = grad_with(&[&y], &[&x, &z], opts)?;
/// assert_eq!(g[1].as_ref().unwrap().item(), 0.0);
/// // dy/dx = 3 is a constant: differentiating it again gives zeros when asked
/// let opts = GradOptions { materialize_grads: true, ..Default::default() };
/// let d2 = grad_with(&[g[0].as_ref().unwrap()], &[&x], opts)?;
/// assert_eq!(d2[0].as_ref().unwrap().item(), 0.0);
/// # Ok::<(), autograd::Error>(())
/// ```
pub fn grad_with<T: Float>(
    outputs: &[&Var<T>],
    inputs: &[&Var<T>],
    opts: GradOptions<T>,
) -> Result<Vec<Option<Var<T>>>> {
    let op = "grad";
    if opts.seeds.is_none() {
        if let Some((i, o)) = outputs.iter().enumerate().find(|(_, o)| o.numel() != 1) {
            return Err(Error::new(
                op,
                format!(
                    "grad can be implicitly created only for scalar outputs; output {i} has shape {}: pass seeds",
                    fmt_shape(o.shape())
                ),
            ));
        }
    }
    for (i, v) in inputs.iter().enumerate() {
        if v.node.is_none() && !(opts.allow_unused || opts.materialize_grads) {
            return Err(Error::new(op, format!("input {i} (shape {}) is a constant, not recorded on a tape; it has no gradient (set allow_unused or materialize_grads to get None or zeros)", fmt_shape(v.shape()))));
        }
    }
    let ids: Vec<usize> = inputs.iter().filter_map(|v| v.id()).collect();
    let retain = opts.retain_graph || opts.create_graph;
    let g = sweep(outputs, opts.seeds, Some(ids), opts.create_graph, retain)?;
    let mut out = Vec::with_capacity(inputs.len());
    for (i, v) in inputs.iter().enumerate() {
        let slot = g.slot(v)?.cloned();
        out.push(match slot {
            Some(gv) => Some(gv),
            None if opts.materialize_grads => Some(Var::constant(Tensor::zeros(v.shape()))),
            None if opts.allow_unused => None,
            None => {
                return Err(Error::new(
                    op,
                    format!(
                        "input {i} (shape {}) was not used to compute the outputs; set allow_unused (None) or materialize_grads (zeros) if that is intended",
                        fmt_shape(v.shape())
                    ),
                ))
            }
        });
    }
    Ok(out)
}

fn grad_ids<T: Float>(wrt: &[&Var<T>]) -> Result<Vec<usize>> {
    wrt.iter()
        .map(|v| {
            v.id().ok_or_else(|| {
                Error::new(
                    "grad",
                    format!("an input of shape {} is a constant, not recorded on a tape", fmt_shape(v.shape())),
                )
            })
        })
        .collect()
}

/// Which variables a sweep keeps the gradients of.
enum Kept {
    /// Every leaf ([`Var::backward`]).
    Leaves,
    /// These tape positions, sorted ([`grad`]).
    Ids(Vec<usize>),
}

fn sweep<T: Float>(
    outputs: &[&Var<T>],
    seeds: Option<Vec<Var<T>>>,
    keep_ids: Option<Vec<usize>>,
    create_graph: bool,
    retain: bool,
) -> Result<Gradients<T>> {
    if let Some(s) = &seeds {
        if s.len() != outputs.len() {
            return Err(Error::new("backward", format!("{} seeds for {} outputs", s.len(), outputs.len())));
        }
    }
    // Constant outputs contribute nothing.
    let mut outs: Vec<&Var<T>> = Vec::with_capacity(outputs.len());
    let mut seeds_kept: Vec<Var<T>> = Vec::with_capacity(outputs.len());
    for (k, o) in outputs.iter().enumerate() {
        let s = match &seeds {
            Some(s) => s[k].clone(),
            None => Var::constant(Tensor::ones(o.shape())),
        };
        if !crate::shape::same_shape(s.shape(), o.shape()) {
            return Err(Error::new(
                "backward",
                format!(
                    "seed of shape {} does not match output of shape {}",
                    fmt_shape(s.shape()),
                    fmt_shape(o.shape())
                ),
            ));
        }
        if o.node.is_some() {
            outs.push(o);
            seeds_kept.push(s);
        }
    }
    let kept = match keep_ids {
        Some(mut ids) => {
            ids.sort_unstable();
            ids.dedup();
            Kept::Ids(ids)
        }
        None => Kept::Leaves,
    };
    let Some((tape, _)) = outs.first().and_then(|o| o.node.clone()) else {
        return Ok(Gradients { tape: None, grads: Vec::new(), kept });
    };
    for o in &outs {
        if let Some((t, _)) = &o.node {
            if !Rc::ptr_eq(t, &tape) {
                return Err(Error::new("backward", "outputs are recorded on different tapes".to_string()));
            }
        }
    }
    // In forward mode, on a tape that kept tangents, the sweep runs the `Var` rules so that
    // tangents flow through them (forward-over-reverse).
    let tangents = modes::current().forward() && !tape.tangents.borrow().is_empty();
    Ok(if create_graph {
        sweep_as::<T, Var<T>>(&tape, &outs, seeds_kept, kept, retain, true, tangents)
    } else if tangents {
        sweep_as::<T, Var<T>>(&tape, &outs, seeds_kept, kept, retain, false, true)
    } else {
        sweep_as::<T, Tensor<T>>(&tape, &outs, seeds_kept, kept, retain, false, false)
    })
}

/// How a sweep carries gradients: as `Var`s when it records itself (`create_graph`) or
/// carries tangents, as plain tensors otherwise, which spares building `Var`s for every node
/// and lets rules answer through their tensor and scalar forms.
trait SweepGrad<T: Float>: Clone {
    fn from_seed(seed: Var<T>) -> Self;
    fn from_scalar(v: T) -> Self;
    /// The value of a 0-d gradient in a sweep that may take the scalar lane (never when
    /// the rules must see `Var`s).
    fn as_scalar(&self) -> Option<T>;
    /// `self += g` in place where `self` is a 0-d gradient of the scalar lane; false (and
    /// nothing done) otherwise.
    fn add_scalar(&mut self, g: T) -> bool;
    fn value(&self) -> &Tensor<T>;
    fn into_var(self) -> Var<T>;
    /// `prev + g`, with the same floating-point addition in both modes.
    fn add(prev: Self, g: Self) -> Self;
    /// Runs the rule of node `i` (`ids[k]` is the tape position of input `k`, if recorded).
    #[allow(clippy::too_many_arguments)]
    fn backward(
        rule: &dyn Rule<T>,
        tape: &Rc<TapeInner<T>>,
        i: usize,
        ids: &[Option<usize>],
        inputs: &[Tensor<T>],
        output: Tensor<T>,
        g: Self,
        tangents: bool,
    ) -> SmallVec<[Option<Self>; 2]>;
}

impl<T: Float> SweepGrad<T> for Var<T> {
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
        rule: &dyn Rule<T>,
        tape: &Rc<TapeInner<T>>,
        i: usize,
        ids: &[Option<usize>],
        inputs: &[Tensor<T>],
        output: Tensor<T>,
        g: Self,
        tangents: bool,
    ) -> SmallVec<[Option<Self>; 2]> {
        let inputs = var_inputs(tape, ids, inputs, tangents);
        let mut y = Var::on_tape(tape, i, output);
        if tangents {
            y.tangent = kept_tangent(tape, i).map(Rc::new);
        }
        rule.vjp(&inputs, &y, &g)
    }
}

impl<T: Float> SweepGrad<T> for Tensor<T> {
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
        rule: &dyn Rule<T>,
        tape: &Rc<TapeInner<T>>,
        i: usize,
        ids: &[Option<usize>],
        inputs: &[Tensor<T>],
        output: Tensor<T>,
        g: Self,
        _tangents: bool,
    ) -> SmallVec<[Option<Self>; 2]> {
        let needs: SmallVec<[bool; 2]> = ids.iter().map(Option::is_some).collect();
        if let Some(grads) = rule.vjp_tensor(inputs, &needs, &output, &g) {
            return grads;
        }
        // No tensor form: the differentiable rule, run with grad mode off (so it records
        // nothing and returns constants).
        let inputs = var_inputs(tape, ids, inputs, false);
        let output = Var::on_tape(tape, i, output);
        rule.vjp(&inputs, &output, &Var::constant(g)).into_iter().map(|gi| gi.map(Var::into_value)).collect()
    }
}

/// The inputs of a node as `Var`s for a rule: recorded ones carry their tape position (so
/// rules see `requires_grad`, and with `create_graph` record onto the tape) and, in sweeps
/// that carry tangents, their tangents.
fn var_inputs<T: Float>(
    tape: &Rc<TapeInner<T>>,
    ids: &[Option<usize>],
    values: &[Tensor<T>],
    tangents: bool,
) -> SmallVec<[Var<T>; 2]> {
    ids.iter()
        .zip(values)
        .map(|(id, v)| match id {
            Some(id) => {
                let mut x = Var::on_tape(tape, *id, v.clone());
                if tangents {
                    x.tangent = kept_tangent(tape, *id).map(Rc::new);
                }
                x
            }
            None => Var::constant(v.clone()),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn sweep_as<T: Float, G: SweepGrad<T>>(
    tape: &Rc<TapeInner<T>>,
    outputs: &[&Var<T>],
    seeds: Vec<Var<T>>,
    kept: Kept,
    retain: bool,
    record: bool,
    tangents: bool,
) -> Gradients<T> {
    let mut grads: Vec<Option<G>> = Vec::new();
    let mut max_id = 0;
    let _mode = set_grad_mode(record);
    for (o, s) in outputs.iter().zip(seeds) {
        let id = o.id().expect("constant outputs were removed");
        if grads.len() <= id {
            grads.resize(id + 1, None);
        }
        max_id = max_id.max(id);
        accumulate(&mut grads[id], G::from_seed(s));
    }
    // Nodes below the lowest requested id cannot contribute to what was asked for.
    let stop = match &kept {
        Kept::Ids(ids) => ids.first().copied().unwrap_or(max_id + 1),
        Kept::Leaves => 0,
    };
    // Kept gradients, in decreasing id order (the sweep's order).
    let mut result: Vec<(usize, G)> = Vec::new();
    let anomaly = modes::current().anomaly();
    // Inside rules, blame whole rules (checked per input gradient below), not the forward
    // values of the ops they are written with.
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
        let (rule, location, lane, output) = {
            let mut nodes = tape.nodes.borrow_mut();
            let keep = match &kept {
                Kept::Ids(k) => k.binary_search(&i).is_ok(),
                Kept::Leaves => matches!(nodes[i].rule, RuleSlot::Leaf),
            };
            if matches!(nodes[i].rule, RuleSlot::Leaf) {
                if keep {
                    result.push((i, g));
                }
                continue;
            }
            if keep {
                result.push((i, g.clone()));
            }
            let node = &nodes[i];
            match node.rule {
                RuleSlot::Op(_) => {}
                RuleSlot::Freed(name) => freed(name, node.location, i),
                RuleSlot::Running(name) => panic!(
                    "backward: the rule of `{name}` (node #{i}, recorded at {}) is missing: an earlier backward panicked while running it",
                    node.location
                ),
                RuleSlot::Leaf => unreachable!("leaves were handled above"),
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
            let RuleSlot::Op(rule) = std::mem::replace(&mut node.rule, RuleSlot::Leaf) else {
                unreachable!("checked above")
            };
            if retain {
                node.rule = RuleSlot::Running(rule.name());
            } else {
                node.rule = RuleSlot::Freed(rule.name());
                node.inputs = SmallVec::new();
                node.value = None;
            }
            (rule, node.location, lane, output)
        };
        if ids.iter().any(Option::is_some) {
            let (output, g) = match (lane, output) {
                (Some((y, gs)), _) => {
                    if let Some(gx) = rule.vjp_scalar(&xs, y, gs) {
                        assert_eq!(
                            gx.len(),
                            xs.len(),
                            "backward of `{}` returned {} gradients for {} inputs",
                            rule.name(),
                            gx.len(),
                            xs.len()
                        );
                        for (k, (&id, &v)) in ids.iter().zip(gx.iter()).enumerate() {
                            let Some(id) = id else { continue };
                            if anomaly && !v.is_finite() {
                                let inputs: SmallVec<[Tensor<T>; 2]> = xs.iter().map(|&x| Tensor::scalar(x)).collect();
                                check_backward(rule.name(), location, k, &inputs, &Tensor::scalar(v));
                            }
                            accumulate_scalar(&mut grads[id], v);
                        }
                        if retain {
                            tape.nodes.borrow_mut()[i].rule = RuleSlot::Op(rule);
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
            let in_grads = G::backward(&*rule, tape, i, &ids, &inputs, output, g, tangents);
            assert_eq!(
                in_grads.len(),
                inputs.len(),
                "backward of `{}` returned {} gradients for {} inputs",
                rule.name(),
                in_grads.len(),
                inputs.len()
            );
            for (k, gi) in in_grads.into_iter().enumerate() {
                let (Some(id), Some(gi)) = (ids[k], gi) else { continue };
                assert!(
                    crate::shape::same_shape(gi.value().shape(), inputs[k].shape()),
                    "backward of `{}`: gradient for input {k} has shape {} but the input has shape {}",
                    rule.name(),
                    fmt_shape(gi.value().shape()),
                    fmt_shape(inputs[k].shape())
                );
                if anomaly {
                    check_backward(rule.name(), location, k, &inputs, gi.value());
                }
                accumulate(&mut grads[id], gi);
            }
        }
        if retain {
            tape.nodes.borrow_mut()[i].rule = RuleSlot::Op(rule);
        }
    }
    result.reverse();
    Gradients { tape: Some(tape.clone()), grads: result.into_iter().map(|(i, g)| (i, g.into_var())).collect(), kept }
}

#[cold]
fn freed(name: &str, at: &Location<'static>, id: usize) -> ! {
    panic!(
        "backward: the graph through `{name}` (node #{id}, recorded at {at}) was already freed by an earlier backward; pass retain_graph: true to the first one to sweep twice"
    )
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
    /// The swept tape; `None` when every output was a constant.
    tape: Option<Rc<TapeInner<T>>>,
    /// `(tape id, gradient)` in increasing id order.
    grads: Vec<(usize, Var<T>)>,
    kept: Kept,
}

impl<T: Float> Gradients<T> {
    /// The kept gradient of `v` (`None`: `v` does not influence the outputs), or an error if
    /// `v` is on another tape or this sweep did not keep its gradient.
    fn slot(&self, v: &Var<T>) -> Result<Option<&Var<T>>> {
        let Some((t, id)) = v.node.as_ref() else { return Ok(None) };
        let Some(tape) = &self.tape else { return Ok(None) };
        if !Rc::ptr_eq(t, tape) {
            return Err(Error::new(
                "gradients",
                format!(
                    "variable #{id} (shape {}) is recorded on a different tape than the outputs of this sweep",
                    fmt_shape(v.shape())
                ),
            ));
        }
        match &self.kept {
            Kept::Ids(ids) if ids.binary_search(id).is_err() => {
                return Err(Error::new(
                    "gradients",
                    format!(
                        "variable #{id} (shape {}) was not among the variables passed to grad",
                        fmt_shape(v.shape())
                    ),
                ))
            }
            Kept::Leaves => {
                let nodes = t.nodes.borrow();
                let node = &nodes[*id];
                if !matches!(node.rule, RuleSlot::Leaf) {
                    return Err(Error::new(
                        "gradients",
                        format!(
                            "variable #{id} (`{}` recorded at {}) is not a leaf: backward() keeps the gradients of leaves (Tape::var) only; ask for it with grad(&[&output], &[&v], ..)",
                            node.rule.name(),
                            node.location
                        ),
                    ));
                }
            }
            Kept::Ids(_) => {}
        }
        Ok(self.grads.binary_search_by_key(id, |(i, _)| *i).ok().map(|k| &self.grads[k].1))
    }

    /// The gradient with respect to `v`, or `None` if `v` does not influence the outputs.
    ///
    /// # Panics
    /// As [`wrt`](Self::wrt).
    #[track_caller]
    pub fn get(&self, v: &Var<T>) -> Option<Tensor<T>> {
        match self.slot(v) {
            Ok(g) => g.map(|g| g.value().clone()),
            Err(e) => panic!("{e}"),
        }
    }

    /// The gradient with respect to `v`, with `v`'s shape; zeros if `v` does not influence
    /// the outputs (a constant, say).
    ///
    /// # Panics
    /// If `v` is recorded on another tape than the sweep's, or its gradient was not kept
    /// ([`Var::backward`] keeps those of leaves, [`grad`] those asked for): see
    /// [`try_wrt`](Self::try_wrt).
    #[track_caller]
    pub fn wrt(&self, v: &Var<T>) -> Tensor<T> {
        match self.try_wrt(v) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    /// Fallible [`wrt`](Self::wrt).
    pub fn try_wrt(&self, v: &Var<T>) -> Result<Tensor<T>> {
        Ok(self.slot(v)?.map(|g| g.value().clone()).unwrap_or_else(|| Tensor::zeros(v.shape())))
    }

    /// The gradient as a variable: recorded on the tape when the sweep used `create_graph`,
    /// so it can be differentiated again. Zeros (a constant) if `v` does not influence the
    /// outputs.
    ///
    /// # Panics
    /// As [`wrt`](Self::wrt).
    #[track_caller]
    pub fn wrt_var(&self, v: &Var<T>) -> Var<T> {
        match self.slot(v) {
            Ok(g) => g.cloned().unwrap_or_else(|| Var::constant(Tensor::zeros(v.shape()))),
            Err(e) => panic!("{e}"),
        }
    }
}
