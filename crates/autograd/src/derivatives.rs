//! Whole derivatives of functions of several inputs: Jacobians ([`jacobian`], reverse mode;
//! [`jacfwd`](crate::jacfwd), forward mode), Hessian-vector products ([`hvp`]:
//! forward-over-reverse; [`vhp`]: reverse-over-reverse) and Hessians ([`hessian`]).

use crate::float::Float;
use crate::forward::forward_ad;
use crate::graph::{Tape, Var};
use crate::shape::fmt_shape;
use crate::sweep::{grad, grad_with_seeds};
use crate::tensor::Tensor;

/// The Jacobian of `f` with respect to each input, by reverse mode: one sweep per output
/// element. Entry `i` has shape `f(inputs).shape() ++ inputs[i].shape()`. Cheaper than
/// [`jacfwd`](crate::jacfwd) when the output has fewer elements than the inputs.
///
/// ```
/// use autograd::{jacobian, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], [2])?;
/// let y = Tensor::<f64>::from_vec(vec![3.0, 4.0], [2])?;
/// let j = jacobian(|v| &v[0] * &v[1], &[x, y]); // d(x*y)/dx = diag(y), d/dy = diag(x)
/// assert_eq!(j[0].to_vec(), vec![3.0, 0.0, 0.0, 4.0]);
/// assert_eq!(j[1].to_vec(), vec![1.0, 0.0, 0.0, 2.0]);
/// # Ok::<(), autograd::Error>(())
/// ```
pub fn jacobian<T: Float>(f: impl Fn(&[Var<T>]) -> Var<T>, inputs: &[Tensor<T>]) -> Vec<Tensor<T>> {
    let tape = Tape::new();
    let xs: Vec<Var<T>> = inputs.iter().map(|x| tape.var(x.clone())).collect();
    let refs: Vec<&Var<T>> = xs.iter().collect();
    let y = f(&xs);
    let n_out = y.numel();
    let mut data: Vec<Vec<T>> = inputs.iter().map(|x| Vec::with_capacity(n_out * x.numel())).collect();
    for j in 0..n_out {
        let mut seed = vec![T::ZERO; n_out];
        seed[j] = T::ONE;
        let seed = Var::constant(Tensor::from_vec(seed, y.shape()).expect("seed shape"));
        let g = grad_with_seeds(&[&y], vec![seed], &refs, false);
        for (d, x) in data.iter_mut().zip(&xs) {
            d.extend_from_slice(g.wrt(x).data());
        }
    }
    data.into_iter()
        .zip(inputs)
        .map(|(d, x)| {
            let mut shape = y.shape().to_vec();
            shape.extend_from_slice(x.shape());
            Tensor::from_vec(d, shape).expect("jacobian shape")
        })
        .collect()
}

/// The Hessian-vector products `H v` of a scalar function of several inputs: entry `i` is
/// `sum_j H[i][j] v[j]`, with `inputs[i]`'s shape. Forward-over-reverse: the tangents `v`
/// ride along one forward pass and through one reverse sweep, no Hessian materialised and
/// nothing recorded for the backward pass. [`vhp`] (reverse-over-reverse) gives the same
/// vector and measured 1.3x faster on an MLP loss (`docs/performance.md`); this one needs
/// less memory (no recorded backward graph).
///
/// ```
/// use autograd::{hvp, Tensor};
/// // f(x) = sum(x^3): H = diag(6x), so H v = 6 x v.
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], [2])?;
/// let v = Tensor::<f64>::from_vec(vec![0.5, -1.0], [2])?;
/// let hv = hvp(|x| x[0].powi(3).sum(), &[x], &[v]);
/// assert_eq!(hv[0].to_vec(), vec![3.0, -12.0]);
/// # Ok::<(), autograd::Error>(())
/// ```
///
/// # Panics
/// If `f` does not return one element, or `v` does not match the inputs' shapes.
#[track_caller]
pub fn hvp<T: Float>(f: impl Fn(&[Var<T>]) -> Var<T>, inputs: &[Tensor<T>], v: &[Tensor<T>]) -> Vec<Tensor<T>> {
    check_directions("hvp", inputs, v);
    forward_ad(|| {
        let tape = Tape::new();
        let xs: Vec<Var<T>> = inputs.iter().zip(v).map(|(x, t)| tape.var(x.clone()).with_tangent(t.clone())).collect();
        let y = scalar_output("hvp", f(&xs));
        let refs: Vec<&Var<T>> = xs.iter().collect();
        let g = grad(&[&y], &refs, false);
        xs.iter()
            .map(|x| g.wrt_var(x).tangent().map(Var::into_value).unwrap_or_else(|| Tensor::zeros(x.shape())))
            .collect()
    })
}

/// `v^T H` of a scalar function of several inputs (equal to [`hvp`], the Hessian being
/// symmetric), by reverse-over-reverse: the gradient of `<grad f, v>`, two reverse sweeps.
///
/// # Panics
/// As [`hvp`].
#[track_caller]
pub fn vhp<T: Float>(f: impl Fn(&[Var<T>]) -> Var<T>, inputs: &[Tensor<T>], v: &[Tensor<T>]) -> Vec<Tensor<T>> {
    check_directions("vhp", inputs, v);
    let tape = Tape::new();
    let xs: Vec<Var<T>> = inputs.iter().map(|x| tape.var(x.clone())).collect();
    let refs: Vec<&Var<T>> = xs.iter().collect();
    let y = scalar_output("vhp", f(&xs));
    let g = grad(&[&y], &refs, true);
    let mut gv: Option<Var<T>> = None;
    for (x, t) in xs.iter().zip(v) {
        let term = (g.wrt_var(x) * Var::constant(t.clone())).sum();
        gv = Some(match gv {
            None => term,
            Some(acc) => acc + term,
        });
    }
    let Some(gv) = gv else { return Vec::new() };
    let h = grad(&[&gv], &refs, false);
    xs.iter().map(|x| h.wrt(x)).collect()
}

/// The Hessian of a scalar function of several inputs: `H[i][j]` has shape
/// `inputs[i].shape() ++ inputs[j].shape()`. The gradient is recorded once (`create_graph`)
/// and swept once per input element (reverse-over-reverse): measured cheaper here than one
/// forward-over-reverse product ([`hvp`]) per element, which would redo the forward and
/// backward passes each time (`docs/performance.md`).
///
/// ```
/// use autograd::{hessian, Tensor};
/// // f(x, y) = x^2 y: H = [[2y, 2x], [2x, 0]]
/// let h = hessian(|v| (v[0].square() * &v[1]).sum(), &[Tensor::<f64>::scalar(3.0), Tensor::scalar(5.0)]);
/// assert_eq!((h[0][0].item(), h[0][1].item(), h[1][0].item(), h[1][1].item()), (10.0, 6.0, 6.0, 0.0));
/// ```
///
/// # Panics
/// If `f` does not return one element.
#[track_caller]
pub fn hessian<T: Float>(f: impl Fn(&[Var<T>]) -> Var<T>, inputs: &[Tensor<T>]) -> Vec<Vec<Tensor<T>>> {
    let tape = Tape::new();
    let xs: Vec<Var<T>> = inputs.iter().map(|x| tape.var(x.clone())).collect();
    let refs: Vec<&Var<T>> = xs.iter().collect();
    let y = scalar_output("hessian", f(&xs));
    let g = grad(&[&y], &refs, true);
    let grads: Vec<Var<T>> = xs.iter().map(|x| g.wrt_var(x)).collect();
    // Row (i, k): the gradient of element k of grad_i, with respect to every input.
    let mut blocks: Vec<Vec<Vec<T>>> = inputs.iter().map(|_| inputs.iter().map(|_| Vec::new()).collect()).collect();
    for (i, gi) in grads.iter().enumerate() {
        for k in 0..gi.numel() {
            let mut seed = vec![T::ZERO; gi.numel()];
            seed[k] = T::ONE;
            let seed = Var::constant(Tensor::from_vec(seed, gi.shape()).expect("seed shape"));
            let row = grad_with_seeds(&[gi], vec![seed], &refs, false);
            for (j, x) in xs.iter().enumerate() {
                blocks[i][j].extend_from_slice(row.wrt(x).data());
            }
        }
    }
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            row.into_iter()
                .enumerate()
                .map(|(j, d)| {
                    let mut shape = inputs[i].shape().to_vec();
                    shape.extend_from_slice(inputs[j].shape());
                    Tensor::from_vec(d, shape).expect("hessian block shape")
                })
                .collect()
        })
        .collect()
}

#[track_caller]
fn check_directions<T: Float>(what: &str, inputs: &[Tensor<T>], v: &[Tensor<T>]) {
    if inputs.len() != v.len() {
        panic!("{what}: {} directions for {} inputs", v.len(), inputs.len());
    }
    for (i, (x, t)) in inputs.iter().zip(v).enumerate() {
        if x.shape() != t.shape() {
            panic!(
                "{what}: direction {i} has shape {} but input {i} has shape {}",
                fmt_shape(t.shape()),
                fmt_shape(x.shape())
            );
        }
    }
}

#[track_caller]
fn scalar_output<T: Float>(what: &str, y: Var<T>) -> Var<T> {
    if y.numel() != 1 {
        panic!("{what}: f must return one element, got shape {}", fmt_shape(y.shape()));
    }
    y
}
