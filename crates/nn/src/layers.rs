//! Layers with parameters or shape logic: [`Dense`] (alias [`Linear`]), [`Dropout`],
//! [`Flatten`], and the weight penalties [`Regularizer`].

use crate::activation::Activation;
use crate::init::Init;
use crate::module::{Ctx, Forward, Module};
use crate::param::Param;
use crate::rng::{derived_rng, next_seed};
use autograd::{Float, LinearActivation, Tensor, Var};
use rand::RngExt;

/// A weight penalty added to the loss, as Keras' `kernel_regularizer`:
/// `L1(a)` adds `a * sum(|w|)`, `L2(a)` adds `a * sum(w²)` (no factor ½, as in Keras).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regularizer {
    /// `l1 * sum(|w|)`.
    L1(f64),
    /// `l2 * sum(w²)`.
    L2(f64),
    /// `l1 * sum(|w|) + l2 * sum(w²)`.
    L1L2 {
        /// The L1 factor.
        l1: f64,
        /// The L2 factor.
        l2: f64,
    },
}

impl Regularizer {
    /// The penalty for `w`, as a scalar variable.
    pub fn penalty<T: Float>(&self, w: &Var<T>) -> Var<T> {
        match *self {
            Regularizer::L1(a) => w.abs().sum() * T::from_f64(a),
            Regularizer::L2(a) => w.square().sum() * T::from_f64(a),
            Regularizer::L1L2 { l1, l2 } => w.abs().sum() * T::from_f64(l1) + w.square().sum() * T::from_f64(l2),
        }
    }
}

/// A fully connected layer, `y = activation(x W + b)` (Keras' `Dense`, PyTorch's `Linear`).
///
/// Input `[batch, in]` (or any `[..., in]`), output `[batch, out]`. The kernel is
/// initialised Glorot-uniform and the bias with zeros, as in Keras.
///
/// **Layout.** The kernel `W` is stored `[in, out]`, so the forward pass is one
/// `x.matmul(W)` with no transpose plus a broadcast bias add. In a [`StateDict`](crate::StateDict)
/// it is exported as `weight` with shape `[out, in]` (and `bias` `[out]`), PyTorch's
/// `nn.Linear` layout, so a state dict of a [`Sequential`](crate::Sequential) of `Dense`
/// layers loads into the equivalent `torch.nn.Sequential` of `nn.Linear` with
/// `load_state_dict`, and the other way round. Optimizer state for the kernel stays in the
/// stored `[in, out]` layout. A `Dense` with an activation stands for two PyTorch modules
/// (`Linear` and the activation), and a [`Sequential`](crate::Sequential) numbers it so.
///
/// ```
/// use nn::{Activation, Dense, Init, Regularizer};
/// let d = Dense::<f32>::new(784, 128)
///     .activation(Activation::Relu)
///     .kernel_initializer(Init::HeUniform)
///     .kernel_regularizer(Regularizer::L2(1e-4))
///     .seed(42);
/// assert_eq!(d.kernel().shape(), &[784, 128]);
/// ```
#[derive(Clone, Debug, Module)]
#[module(crate = crate)]
pub struct Dense<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    kernel_init: Init,
    #[module(skip)]
    bias_init: Init,
    #[module(skip)]
    kernel_reg: Option<Regularizer>,
    #[module(skip)]
    bias_reg: Option<Regularizer>,
    seed: u64,
    in_features: usize,
    out_features: usize,
}

/// PyTorch's name for [`Dense`].
pub type Linear<T> = Dense<T>;

impl<T: Float> Dense<T> {
    /// A layer from `in_features` to `out_features`, Glorot-uniform kernel, zero bias, no
    /// activation. Its initial values come from a seed drawn from this thread's generator
    /// (see [`manual_seed`](crate::manual_seed)); [`seed`](Self::seed) sets it explicitly.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        let mut d = Dense {
            weight: Param::transposed(Tensor::zeros([in_features, out_features])),
            bias: Some(Param::new(Tensor::zeros([out_features]))),
            activation: Activation::Linear,
            kernel_init: Init::GlorotUniform,
            bias_init: Init::Zeros,
            kernel_reg: None,
            bias_reg: None,
            seed: next_seed(),
            in_features,
            out_features,
        };
        d.reinit();
        d
    }

    /// A layer with the given kernel `[in, out]` and bias `[out]` (`None`: no bias).
    ///
    /// # Errors
    /// [`NnError::ShapeMismatch`](crate::NnError::ShapeMismatch) if the kernel is not 2-d or the bias does not match.
    pub fn from_weights(kernel: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self, crate::NnError> {
        if kernel.ndim() != 2 {
            return Err(crate::NnError::shape("Dense kernel [in, out]", &[0, 0], kernel.shape()));
        }
        let (i, o) = (kernel.shape()[0], kernel.shape()[1]);
        if let Some(b) = &bias {
            if b.shape() != [o] {
                return Err(crate::NnError::shape("Dense bias", &[o], b.shape()));
            }
        }
        Ok(Dense {
            weight: Param::transposed(kernel),
            bias: bias.map(Param::new),
            activation: Activation::Linear,
            kernel_init: Init::GlorotUniform,
            bias_init: Init::Zeros,
            kernel_reg: None,
            bias_reg: None,
            seed: 0,
            in_features: i,
            out_features: o,
        })
    }

    fn reinit(&mut self) {
        let (i, o) = (self.in_features, self.out_features);
        let w = self.kernel_init.sample(&[i, o], i, o, &mut derived_rng(self.seed, &[0]));
        self.weight.set(w);
        if let Some(b) = &mut self.bias {
            b.set(self.bias_init.sample(&[o], i, o, &mut derived_rng(self.seed, &[1])));
        }
    }

    /// Sets the activation applied after the affine map.
    pub fn activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }

    /// Sets the kernel initialiser and re-samples the kernel.
    pub fn kernel_initializer(mut self, init: Init) -> Self {
        self.kernel_init = init;
        self.reinit();
        self
    }

    /// Sets the bias initialiser and re-samples the bias.
    pub fn bias_initializer(mut self, init: Init) -> Self {
        self.bias_init = init;
        self.reinit();
        self
    }

    /// Sets the seed of this layer's initialisers and re-samples kernel and bias.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.reinit();
        self
    }

    /// With or without a bias (default: with).
    pub fn use_bias(mut self, yes: bool) -> Self {
        if !yes {
            self.bias = None;
        } else if self.bias.is_none() {
            self.bias = Some(Param::new(Tensor::zeros([self.out_features])));
            self.reinit();
        }
        self
    }

    /// Adds a penalty on the kernel to the loss (Keras' `kernel_regularizer`).
    pub fn kernel_regularizer(mut self, r: Regularizer) -> Self {
        self.kernel_reg = Some(r);
        self
    }

    /// Adds a penalty on the bias to the loss (Keras' `bias_regularizer`).
    pub fn bias_regularizer(mut self, r: Regularizer) -> Self {
        self.bias_reg = Some(r);
        self
    }

    /// The kernel, `[in, out]`.
    pub fn kernel(&self) -> &Tensor<T> {
        self.weight.value()
    }

    /// The bias, `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor<T>> {
        self.bias.as_ref().map(|b| b.value())
    }

    /// The activation.
    pub fn get_activation(&self) -> Activation {
        self.activation
    }

    /// `(in_features, out_features)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.in_features, self.out_features)
    }

    /// `act(x @ W + b)`: one fused op ([`Var::linear`]) for 2-d inputs and the activations it
    /// covers, else the product, the bias and the activation as separate ops.
    fn affine(&self, x: &Var<T>, ctx: &mut Ctx<T>, act: Activation) -> Var<T> {
        let w = ctx.bind(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.bind(b));
        let fused = match act {
            Activation::Linear => Some(LinearActivation::Identity),
            Activation::Relu => Some(LinearActivation::Relu),
            Activation::Sigmoid => Some(LinearActivation::Sigmoid),
            Activation::Tanh => Some(LinearActivation::Tanh),
            _ => None,
        };
        match fused {
            Some(la) if x.ndim() == 2 => x.linear(&w, b.as_ref(), la),
            _ => {
                let y = x.matmul(&w);
                let z = match &b {
                    Some(b) => y + b,
                    None => y,
                };
                act.apply(&z)
            }
        }
    }
}

impl<T: Float> Module<T> for Dense<T> {
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
        self.affine(x, ctx, self.activation)
    }

    fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>, head: Activation) -> Forward<T> {
        if self.activation == head && head != Activation::Linear {
            Forward::Logits(self.affine(x, ctx, Activation::Linear))
        } else {
            Forward::Output(self.affine(x, ctx, self.activation))
        }
    }

    fn regularization(&self, ctx: &mut Ctx<T>) -> Option<Var<T>> {
        let k = self.kernel_reg.map(|r| r.penalty(&ctx.bind(&self.weight)));
        let b = match (&self.bias, self.bias_reg) {
            (Some(b), Some(r)) => Some(r.penalty(&ctx.bind(b))),
            _ => None,
        };
        match (k, b) {
            (Some(k), Some(b)) => Some(k + b),
            (k, b) => k.or(b),
        }
    }

    fn describe(&self) -> String {
        format!("Dense({} -> {}, {})", self.in_features, self.out_features, self.activation.name())
    }

    fn in_features(&self) -> Option<usize> {
        Some(self.in_features)
    }

    fn out_features(&self, _input: Option<usize>) -> Option<usize> {
        Some(self.out_features)
    }

    fn torch_modules(&self) -> usize {
        if self.activation == Activation::Linear {
            1
        } else {
            2
        }
    }
}

/// Inverted dropout: in training, each element is zeroed with probability `rate` and the
/// survivors are scaled by `1 / (1 - rate)`, so the expected value is unchanged and
/// inference (evaluation mode, see [`Module::eval`]) is the identity. Masks come from the
/// pass's generator ([`Ctx::rng`]), which the training loop derives from `(seed, epoch, step)`.
#[derive(Clone, Copy, Debug, Module)]
#[module(crate = crate)]
pub struct Dropout {
    rate: f64,
    #[module(training)]
    training: bool,
}

impl Dropout {
    /// Dropout with drop probability `rate`.
    ///
    /// # Panics
    /// If `rate` is not in `[0, 1)`.
    pub fn new(rate: f64) -> Self {
        assert!((0.0..1.0).contains(&rate), "Dropout: rate must be in [0, 1), got {rate}");
        Dropout { rate, training: true }
    }

    /// The drop probability.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl<T: Float> Module<T> for Dropout {
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
        if !self.training || self.rate == 0.0 {
            return x.clone();
        }
        let keep = T::from_f64(1.0 / (1.0 - self.rate));
        let rng = ctx.rng();
        let mask: Vec<T> =
            (0..x.numel()).map(|_| if rng.random::<f64>() < self.rate { T::ZERO } else { keep }).collect();
        let mask = Tensor::from_vec(mask, x.shape()).expect("mask has x's shape");
        x * &Var::constant(mask)
    }

    fn describe(&self) -> String {
        format!("Dropout({})", self.rate)
    }

    fn out_features(&self, input: Option<usize>) -> Option<usize> {
        input
    }
}

/// Flattens every axis but the first: `[batch, d1, d2, ...]` to `[batch, d1 * d2 * ...]`.
#[derive(Clone, Copy, Debug, Default, Module)]
#[module(crate = crate)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    fn forward(&self, x: &Var<T>, _ctx: &mut Ctx<T>) -> Var<T> {
        if x.ndim() <= 2 {
            return x.clone();
        }
        let n = x.shape()[0];
        let rest: usize = x.shape()[1..].iter().product();
        x.reshape([n, rest])
    }

    fn describe(&self) -> String {
        "Flatten".to_string()
    }
}
