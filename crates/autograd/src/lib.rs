//! Tape-based reverse-mode automatic differentiation over n-d tensors.
//!
//! A forward pass is ordinary Rust: every op on a [`Var`] computes its value at once and,
//! when some input needs a gradient, records itself on the [`Tape`]. A reverse sweep
//! ([`Var::backward`], [`grad`]) gives the gradients. Backward rules are written with the
//! same differentiable ops, so with `create_graph` gradients are on the tape again and can
//! be differentiated: second derivatives, Hessian-vector products ([`hvp`]), [`jacobian`],
//! [`hessian`]. [`gradcheck`] and [`gradgradcheck`] compare the tape against finite
//! differences.
//!
//! ```
//! use autograd::{Tape, Tensor};
//! use rand::{rngs::StdRng, SeedableRng};
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

mod error;
mod fastmath;
mod float;
mod gradcheck;
mod kernels;
mod ops;
pub mod pool;
pub mod shape;
pub mod simd;
mod tape;
mod tensor;

pub use error::{Error, Result};
pub use float::Float;
pub use gradcheck::{gradcheck, gradgradcheck, hessian, hvp, jacobian, GradcheckError, GradcheckOptions};
pub use ops::{one_hot, LinearActivation};
pub use shape::Shape;
pub use smallvec::smallvec;
pub use tape::{
    anomaly_guard, detect_anomaly, enable_grad_guard, grad, grad_with_seeds, is_anomaly_enabled, is_grad_enabled,
    no_grad, no_grad_guard, AnomalyGuard, BackwardOptions, Function, GradModeGuard, Gradients, InputGrads, Op,
    PlainGrads, ScalarGrads, Tape, Var,
};
pub use tensor::Tensor;
