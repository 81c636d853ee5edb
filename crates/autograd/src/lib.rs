//! Tape-based reverse-mode automatic differentiation over n-d tensors.
//!
//! A forward pass is ordinary Rust: every op on a [`Var`] computes its value at once and,
//! when some input needs a gradient, records itself on the [`Tape`]. A reverse sweep
//! ([`Var::backward`], [`grad`]) gives the gradients. Backward rules are written with the
//! same differentiable ops, so with `create_graph` gradients are on the tape again and can
//! be differentiated: second derivatives, Hessian-vector products ([`hvp`]), [`jacobian`],
//! [`hessian`]. Forward mode ([`jvp`], [`jacfwd`]) carries tangents alongside values.
//! [`gradcheck`] and [`gradgradcheck`] compare the tape against finite differences.
//!
//! ```
//! use autograd::{Tape, Tensor};
//! use autograd::rand::{rngs::StdRng, SeedableRng};
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let tape = Tape::new();
//! let x = tape.var(Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], [3])?);
//! let w = tape.var(Tensor::<f64>::randn([3, 2], &mut rng));
//! let y = (x.matmul(&w).tanh() * 2.0).sum();
//! let g = y.backward();
//! let dw = g.wrt(&w); // a Tensor with w's shape
//! assert_eq!(dw.shape(), &[3, 2]);
//! # Ok::<(), autograd::Error>(())
//! ```
//!
//! Errors: ops panic on misuse (shape mismatch, bad axis, mixed tapes) with a message that
//! names the op and the shapes; the ops whose validity depends on run-time shapes have
//! `try_` twins that return [`Error`] instead. Constructors from data return `Result`.
#![warn(missing_docs)]

mod derivatives;
mod error;
mod fastmath;
mod float;
mod forward;
mod gemm;
mod gradcheck;
mod graph;
mod kernels;
mod modes;
mod op;
mod ops;
pub mod pool;
mod rules;
pub mod shape;
pub mod simd;
mod softmax;
mod sweep;
mod tensor;
mod tensor_ops;
mod var;

pub use derivatives::{hessian, hvp, jacobian, vhp};
pub use error::{Error, Result};
pub use float::Float;
pub use forward::{forward_ad, jacfwd, jvp};
pub use gradcheck::{gradcheck, gradgradcheck, GradcheckError, GradcheckOptions};
pub use graph::{InputGrads, Tape, Var};
pub use modes::{
    anomaly_guard, detect_anomaly, enable_grad_guard, is_anomaly_enabled, is_forward_ad_enabled, is_grad_enabled,
    no_grad, no_grad_guard, AnomalyGuard, GradModeGuard, ModeGuard,
};
pub use op::{Function, Op};
pub use ops::fused::LinearActivation;
pub use shape::Shape;
pub use smallvec::smallvec;
pub use sweep::{grad, grad_with, grad_with_seeds, BackwardOptions, GradOptions, Gradients};
pub use tensor::Tensor;

/// The `rand` this crate is built with: [`Tensor::randn`] and friends take its generators, so
/// `autograd::rand::rngs::StdRng` always fits (a different major version of `rand` in your
/// own `Cargo.toml` would not).
pub use rand;

/// One-hot encoding: a `[labels.len(), classes]` tensor with a 1 at each label.
///
/// # Panics
/// If a label is not below `classes`; see [`Tensor::try_one_hot`].
#[track_caller]
pub fn one_hot<T: Float>(labels: &[usize], classes: usize) -> Tensor<T> {
    match Tensor::try_one_hot(labels, classes) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}
