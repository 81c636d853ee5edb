//! Activation functions: the [`Activation`] enum (for `Dense::activation`) and one layer
//! per activation ([`Relu`], [`Sigmoid`], [`Tanh`], [`Softmax`], [`LeakyRelu`], [`Gelu`])
//! for use in a [`Sequential`](crate::Sequential).

use crate::module::{Ctx, Forward, Module};
use autograd::{Float, Tensor, Var};

/// An elementwise (or, for softmax, last-axis) activation function.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    /// The identity (Keras' `"linear"`).
    #[default]
    Linear,
    /// max(x, 0).
    Relu,
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// tanh(x).
    Tanh,
    /// Softmax over the last axis.
    Softmax,
    /// x for x > 0, else `alpha * x`. (Keras' `LeakyReLU` layer defaults to 0.3, its
    /// `leaky_relu` function to 0.2, PyTorch to 0.01: choose explicitly.)
    LeakyRelu(f64),
    /// GELU, the exact form x Φ(x) (PyTorch's and Keras' default).
    Gelu,
    /// x for x > 0, else `alpha (e^x - 1)`.
    Elu(f64),
    /// ln(1 + e^x).
    Softplus,
}

impl Activation {
    /// Applies the activation to a variable (recorded if `x` is).
    pub fn apply<T: Float>(&self, x: &Var<T>) -> Var<T> {
        match *self {
            Activation::Linear => x.clone(),
            Activation::Relu => x.relu(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => x.softmax(-1),
            Activation::LeakyRelu(a) => x.leaky_relu(a),
            Activation::Gelu => x.gelu(),
            Activation::Elu(a) => x.elu(a),
            Activation::Softplus => x.softplus(),
        }
    }

    /// Applies the activation to a tensor, untracked.
    pub fn apply_tensor<T: Float>(&self, x: &Tensor<T>) -> Tensor<T> {
        match self {
            Activation::Linear => x.clone(),
            Activation::Softmax => x.softmax(-1),
            Activation::Sigmoid => x.sigmoid(),
            _ => autograd::no_grad(|| self.apply(&Var::constant(x.clone())).into_value()),
        }
    }

    /// Keras' name: `"relu"`, `"softmax"`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Gelu => "gelu",
            Activation::Elu(_) => "elu",
            Activation::Softplus => "softplus",
        }
    }
}

/// Implements `Module` for a parameterless activation layer.
macro_rules! activation_layer {
    ($(#[$doc:meta])* $Name:ident, $act:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, Module)]
        #[module(crate = crate)]
        pub struct $Name;
        impl<T: Float> Module<T> for $Name {
            fn forward(&self, x: &Var<T>, _ctx: &mut Ctx<T>) -> Var<T> {
                $act.apply(x)
            }
            fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>, head: Activation) -> Forward<T> {
                if head == $act {
                    Forward::Logits(x.clone())
                } else {
                    Forward::Output(self.forward(x, ctx))
                }
            }
            fn describe(&self) -> String {
                stringify!($Name).to_string()
            }
            fn out_features(&self, input: Option<usize>) -> Option<usize> {
                input
            }
        }
    };
}

activation_layer!(
    /// max(x, 0), as a layer.
    Relu,
    Activation::Relu
);
activation_layer!(
    /// The logistic function, as a layer.
    Sigmoid,
    Activation::Sigmoid
);
activation_layer!(
    /// tanh, as a layer.
    Tanh,
    Activation::Tanh
);
activation_layer!(
    /// Softmax over the last axis, as a layer.
    Softmax,
    Activation::Softmax
);
activation_layer!(
    /// Exact GELU, as a layer.
    Gelu,
    Activation::Gelu
);

/// Leaky ReLU as a layer: x for x > 0, else `alpha * x`.
#[derive(Clone, Copy, Debug, Module)]
#[module(crate = crate)]
pub struct LeakyRelu {
    /// The slope for negative inputs.
    pub alpha: f64,
}

impl LeakyRelu {
    /// A leaky ReLU with this negative slope.
    pub fn new(alpha: f64) -> Self {
        LeakyRelu { alpha }
    }
}

impl Default for LeakyRelu {
    /// Keras' `LeakyReLU` layer default, `alpha = 0.3`.
    fn default() -> Self {
        LeakyRelu { alpha: 0.3 }
    }
}

impl<T: Float> Module<T> for LeakyRelu {
    fn forward(&self, x: &Var<T>, _ctx: &mut Ctx<T>) -> Var<T> {
        x.leaky_relu(self.alpha)
    }
    fn describe(&self) -> String {
        format!("LeakyRelu({})", self.alpha)
    }
    fn out_features(&self, input: Option<usize>) -> Option<usize> {
        input
    }
}
