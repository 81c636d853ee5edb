//! Every differentiable op, grouped by family: the `Var` method computing the forward value
//! next to the op's derivative, stated once (see `rules.rs`).

pub(crate) mod binary;
pub(crate) mod functional;
pub(crate) mod fused;
pub(crate) mod linalg;
pub(crate) mod operators;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod unary;
