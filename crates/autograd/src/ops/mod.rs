//! Every differentiable op, grouped by family. Each op is one struct implementing
//! [`Op`](crate::Op) (its backward rule, written with differentiable ops) next to the
//! `Var` method that computes its forward value and records it.

mod binary;
mod functional;
mod fused;
pub use fused::LinearActivation;
mod linalg;
mod operators;
mod reduce;
mod shape;
pub use shape::one_hot;
mod unary;

use crate::float::Float;

/// `v` as the element type (for constants inside backward rules).
#[inline(always)]
pub(crate) fn c<T: Float>(v: f64) -> T {
    T::from_f64(v)
}
