//! Forward-mode automatic differentiation: tangents carried alongside values.
//!
//! Inside [`forward_ad`] (or [`jvp`], which opens that scope), a variable may carry a
//! tangent ([`Var::with_tangent`]); every op computes its output's tangent from its inputs'
//! with its tangent rule as it computes its value, so `f(x)` and `J v` come out of one forward
//! pass with no graph kept. Tangent rules come from the ops' single derivative formulas (see
//! `rules.rs`); rules with no direct form (and users' ops) derive theirs from their backward
//! rule by transposition ([`transpose_vjp`]).
//!
//! Tangents on a tape are kept there too, so a reverse sweep inside the scope carries them
//! through the backward rules: forward-over-reverse, which is how [`hvp`](crate::hvp) gets
//! `H v`.

use crate::float::Float;
use crate::graph::{InputGrads, Var};
use crate::modes::{enable_grad_guard, is_grad_enabled, set_forward_mode};
use crate::shape::fmt_shape;
use crate::sweep::grad;
use crate::tensor::Tensor;
use crate::var::register_tangent;
use std::rc::Rc;

/// Runs `f` with forward-mode AD: inside, ops propagate the tangents that variables carry
/// ([`Var::with_tangent`]), like PyTorch's `torch.autograd.forward_ad.dual_level`. Outside,
/// tangents are ignored (ops give results without one). [`jvp`] is the short form.
///
/// ```
/// use autograd::{forward_ad, Tensor, Var};
/// let y = forward_ad(|| {
///     let x = Var::constant(Tensor::<f64>::scalar(2.0)).with_tangent(Tensor::scalar(1.0));
///     x.powi(3) // tangent: 3 x^2 = 12
/// });
/// assert_eq!(y.tangent().unwrap().item(), 12.0);
/// ```
pub fn forward_ad<R>(f: impl FnOnce() -> R) -> R {
    let _g = set_forward_mode(true);
    f()
}

impl<T: Float> Var<T> {
    /// This value with `tangent` (the direction of a Jacobian-vector product) attached, for
    /// forward mode ([`forward_ad`]). The tangent must have this value's shape; a recorded
    /// tangent (a `Var` on the same tape) makes results differentiable with respect to it.
    ///
    /// # Panics
    /// If the shapes differ.
    #[track_caller]
    pub fn with_tangent(&self, tangent: impl Into<Var<T>>) -> Var<T> {
        let t: Var<T> = tangent.into();
        if !crate::shape::same_shape(t.shape(), self.shape()) {
            panic!(
                "with_tangent: tangent of shape {} for a value of shape {}",
                fmt_shape(t.shape()),
                fmt_shape(self.shape())
            );
        }
        if let Some((tape, id)) = &self.node {
            register_tangent(tape, *id, &t);
        }
        Var { node: self.node.clone(), value: self.value.clone(), tangent: Some(Rc::new(t.primal())) }
    }

    /// The forward-mode tangent of this value (`None`: zero, or not computed in forward mode).
    pub fn tangent(&self) -> Option<Var<T>> {
        self.tangent.as_deref().cloned()
    }
}

/// The Jacobian-vector product of `f` at `inputs` in the direction `tangents` (one per input,
/// same shapes), by forward mode: returns `(f(inputs), J tangents)`, like `torch.func.jvp`.
/// One forward pass; no graph is kept.
///
/// ```
/// use autograd::{jvp, Tensor};
/// // f(x, y) = x * sin(y): J (u, v) = u sin(y) + x cos(y) v
/// let (x, y) = (Tensor::<f64>::scalar(2.0), Tensor::scalar(0.5));
/// let (u, v) = (Tensor::scalar(1.0), Tensor::scalar(3.0));
/// let (f, t) = jvp(|a| &a[0] * &a[1].sin(), &[x, y], &[u, v]);
/// assert!((f.item() - 2.0 * 0.5f64.sin()).abs() < 1e-15);
/// assert!((t.item() - (0.5f64.sin() + 2.0 * 0.5f64.cos() * 3.0)).abs() < 1e-15);
/// ```
///
/// # Panics
/// If `tangents` and `inputs` differ in number or shapes.
#[track_caller]
pub fn jvp<T: Float>(
    f: impl Fn(&[Var<T>]) -> Var<T>,
    inputs: &[Tensor<T>],
    tangents: &[Tensor<T>],
) -> (Tensor<T>, Tensor<T>) {
    if inputs.len() != tangents.len() {
        panic!("jvp: {} tangents for {} inputs", tangents.len(), inputs.len());
    }
    forward_ad(|| {
        let xs: Vec<Var<T>> =
            inputs.iter().zip(tangents).map(|(x, t)| Var::constant(x.clone()).with_tangent(t.clone())).collect();
        let y = f(&xs);
        let t = y.tangent().map(Var::into_value).unwrap_or_else(|| Tensor::zeros(y.shape()));
        (y.into_value(), t)
    })
}

/// The Jacobian of `f` with respect to each input, by forward mode: one [`jvp`] per input
/// element. Entry `i` has shape `f(inputs).shape() ++ inputs[i].shape()`. Cheaper than
/// [`jacobian`](crate::jacobian) (one reverse sweep per output element) when the inputs have
/// fewer elements than the output.
///
/// ```
/// use autograd::{jacfwd, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], [2])?;
/// let j = jacfwd(|v| v[0].square(), &[x]); // diag(2x)
/// assert_eq!(j[0].to_vec(), vec![2.0, 0.0, 0.0, 4.0]);
/// # Ok::<(), autograd::Error>(())
/// ```
pub fn jacfwd<T: Float>(f: impl Fn(&[Var<T>]) -> Var<T>, inputs: &[Tensor<T>]) -> Vec<Tensor<T>> {
    let zeros: Vec<Tensor<T>> = inputs.iter().map(|x| Tensor::zeros(x.shape())).collect();
    let mut out_shape: Option<Vec<usize>> = None;
    let mut blocks = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        let mut cols: Vec<Tensor<T>> = Vec::with_capacity(x.numel());
        for k in 0..x.numel() {
            let mut ts = zeros.clone();
            let mut e = vec![T::ZERO; x.numel()];
            e[k] = T::ONE;
            ts[i] = Tensor::from_vec(e, x.shape()).expect("one element per position");
            let (y, t) = jvp(&f, inputs, &ts);
            out_shape.get_or_insert_with(|| y.shape().to_vec());
            cols.push(t);
        }
        let out_shape = match &out_shape {
            Some(s) => s.clone(),
            None => f(&inputs.iter().map(|x| Var::constant(x.clone())).collect::<Vec<_>>()).shape().to_vec(),
        };
        // cols[k] is column k (output-shaped): the block is their transpose.
        let m: usize = out_shape.iter().product();
        let n = x.numel();
        let mut data = vec![T::ZERO; m * n];
        for (k, c) in cols.iter().enumerate() {
            for (r, &v) in c.data().iter().enumerate() {
                data[r * n + k] = v;
            }
        }
        let mut shape = out_shape.clone();
        shape.extend_from_slice(x.shape());
        blocks.push(Tensor::from_vec(data, shape).expect("jacobian block shape"));
    }
    blocks
}

/// A backward rule as a function: `(inputs, output, output gradient) -> input gradients`.
pub(crate) type VjpFn<'a, T> = dyn Fn(&[Var<T>], &Var<T>, &Var<T>) -> InputGrads<T> + 'a;

/// The tangent rule of an op derived from its backward rule `vjp` (linear in its gradient
/// argument `g`): `J dx = d/du <vjp(x, y, u), dx>`, one small reverse sweep. The result is
/// recorded (differentiable again) when the primal is, grad mode being on.
pub(crate) fn transpose_vjp<T: Float>(
    vjp: &VjpFn<'_, T>,
    x: &[Var<T>],
    y: &Var<T>,
    dx: &[Option<Var<T>>],
) -> Option<Var<T>> {
    if dx.iter().all(Option::is_none) {
        return None;
    }
    let record = is_grad_enabled();
    let tape = x.iter().chain(std::iter::once(y)).chain(dx.iter().flatten()).find_map(Var::tape);
    let recorded = record && tape.is_some();
    let tape = tape.unwrap_or_default();
    let _g = enable_grad_guard();
    // Inputs with a tangent must ask for a gradient: constants become leaves of the tape
    // (they have no graph to keep), recorded ones stay as they are.
    let xs: Vec<Var<T>> = x
        .iter()
        .zip(dx)
        .map(|(xi, t)| if t.is_some() && !xi.requires_grad() { tape.var(xi.value().clone()) } else { xi.clone() })
        .collect();
    let u = tape.var(Tensor::zeros(y.shape()));
    let gs = vjp(&xs, y, &u);
    let mut s: Option<Var<T>> = None;
    for (g, t) in gs.iter().zip(dx) {
        if let (Some(g), Some(t)) = (g, t) {
            let term = (g * t).sum();
            s = Some(match s {
                None => term,
                Some(acc) => acc + term,
            });
        }
    }
    let s = s?;
    let jv = grad(&[&s], &[&u], recorded).wrt_var(&u);
    Some(if recorded { jv } else { jv.detach() })
}
