//! `+ - * /` and unary `-` on variables, references and scalars.

use super::binary;
use crate::float::Float;
use crate::tape::Var;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! var_binop {
    ($Trait:ident, $method:ident, $f:path, $scalar:expr, $rscalar:expr) => {
        impl<T: Float> $Trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                $f(self, rhs)
            }
        }
        impl<T: Float> $Trait<Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                $f(&self, &rhs)
            }
        }
        impl<T: Float> $Trait<&Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                $f(&self, rhs)
            }
        }
        impl<T: Float> $Trait<Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                $f(self, &rhs)
            }
        }
        impl<T: Float> $Trait<T> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: T) -> Var<T> {
                #[allow(clippy::redundant_closure_call)]
                ($scalar)(self, rhs)
            }
        }
        impl<T: Float> $Trait<T> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: T) -> Var<T> {
                #[allow(clippy::redundant_closure_call)]
                ($scalar)(&self, rhs)
            }
        }
        var_binop!(@left $Trait, $method, $rscalar, f32);
        var_binop!(@left $Trait, $method, $rscalar, f64);
    };
    (@left $Trait:ident, $method:ident, $rscalar:expr, $t:ty) => {
        impl $Trait<&Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn $method(self, rhs: &Var<$t>) -> Var<$t> {
                #[allow(clippy::redundant_closure_call)]
                ($rscalar)(self, rhs)
            }
        }
        impl $Trait<Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn $method(self, rhs: Var<$t>) -> Var<$t> {
                #[allow(clippy::redundant_closure_call)]
                ($rscalar)(self, &rhs)
            }
        }
    };
}

var_binop!(Add, add, binary::add, |x: &Var<T>, c: T| x.add_scalar(c), |c, x: &Var<_>| x.add_scalar(c));
var_binop!(Sub, sub, binary::sub, |x: &Var<T>, c: T| x.add_scalar(-c), |c, x: &Var<_>| x.neg().add_scalar(c));
var_binop!(Mul, mul, binary::mul, |x: &Var<T>, c: T| x.mul_scalar(c), |c, x: &Var<_>| x.mul_scalar(c));
var_binop!(Div, div, binary::div, |x: &Var<T>, c: T| x.div_scalar(c), |c, x: &Var<_>| x.recip().mul_scalar(c));

impl<T: Float> Neg for &Var<T> {
    type Output = Var<T>;
    #[track_caller]
    fn neg(self) -> Var<T> {
        Var::neg(self)
    }
}

impl<T: Float> Neg for Var<T> {
    type Output = Var<T>;
    #[track_caller]
    fn neg(self) -> Var<T> {
        Var::neg(&self)
    }
}
