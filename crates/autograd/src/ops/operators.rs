//! `+ - * /` and unary `-` on variables, references and scalars. Every impl is
//! `#[track_caller]` and calls the op directly (no closure in between, which would lose the
//! caller), so a shape panic or an anomaly report names the line with the operator.

use crate::float::Float;
use crate::graph::Var;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! var_binop {
    ($Trait:ident, $method:ident, $var:ident,
     |$x:ident, $c:ident| $scalar:expr,
     |$c2:ident, $x2:ident| $rscalar:expr) => {
        impl<T: Float> $Trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                self.$var(rhs)
            }
        }
        impl<T: Float> $Trait<Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                self.$var(&rhs)
            }
        }
        impl<T: Float> $Trait<&Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                self.$var(rhs)
            }
        }
        impl<T: Float> $Trait<Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                self.$var(&rhs)
            }
        }
        impl<T: Float> $Trait<T> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, $c: T) -> Var<T> {
                let $x = self;
                $scalar
            }
        }
        impl<T: Float> $Trait<T> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, $c: T) -> Var<T> {
                let $x = &self;
                $scalar
            }
        }
        var_binop!(@left $Trait, $method, |$c2, $x2| $rscalar, f32);
        var_binop!(@left $Trait, $method, |$c2, $x2| $rscalar, f64);
    };
    (@left $Trait:ident, $method:ident, |$c:ident, $x:ident| $rscalar:expr, $t:ty) => {
        impl $Trait<&Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn $method(self, rhs: &Var<$t>) -> Var<$t> {
                let ($c, $x) = (self, rhs);
                $rscalar
            }
        }
        impl $Trait<Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn $method(self, rhs: Var<$t>) -> Var<$t> {
                let ($c, $x) = (self, &rhs);
                $rscalar
            }
        }
    };
}

var_binop!(Add, add, add_var, |x, c| x.add_scalar(c), |c, x| x.add_scalar(c));
var_binop!(Sub, sub, sub_var, |x, c| x.add_scalar(-c), |c, x| x.neg().add_scalar(c));
var_binop!(Mul, mul, mul_var, |x, c| x.mul_scalar(c), |c, x| x.mul_scalar(c));
var_binop!(Div, div, div_var, |x, c| x.div_scalar(c), |c, x| x.recip().mul_scalar(c));

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
