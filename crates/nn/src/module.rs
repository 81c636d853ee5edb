//! The [`Module`] trait and the forward context [`Ctx`].
//!
//! # Design
//!
//! Parameters ([`Param`]) live in their modules, outside any tape. A forward pass gets a
//! [`Ctx`]: it owns that pass's [`Tape`] (none for inference), says whether the pass is
//! training (dropout on) or not, carries the generator for dropout masks, and remembers
//! which variable each parameter was bound to. A module's `forward` calls
//! [`Ctx::bind`] on each of its parameters to get a [`Var`]; binding the same parameter twice
//! in one pass gives the same variable (so weight tying works).
//! [`Ctx::backward`] then sweeps the tape and returns one gradient per parameter, in the
//! order of [`Module::parameters`], and drops the tape, so that the optimizer can update the
//! parameters in place without copying their buffers.
//!
//! Train/eval mode is a property of the pass (the `Ctx`), not of the module: `fit` trains
//! with [`Ctx::train`], `evaluate`/`predict` run with [`Ctx::eval`]. There is no mode flag
//! on a module that could be left in the wrong state (Keras passes `training=` to `call`
//! in the same way).
//!
//! # A custom module
//!
//! ```
//! use autograd::{Float, Tensor, Var};
//! use indexmap::IndexMap;
//! use nn::{Ctx, Module, Param};
//!
//! /// y = x * scale + shift, elementwise over the last axis.
//! struct Affine<T: Float> { scale: Param<T>, shift: Param<T> }
//!
//! impl<T: Float> Module<T> for Affine<T> {
//!     fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
//!         x * &ctx.bind(&self.scale) + ctx.bind(&self.shift)
//!     }
//!     fn parameters(&self) -> IndexMap<String, &Param<T>> {
//!         IndexMap::from([("scale".to_string(), &self.scale), ("shift".to_string(), &self.shift)])
//!     }
//!     fn parameters_mut(&mut self) -> IndexMap<String, &mut Param<T>> {
//!         IndexMap::from([("scale".to_string(), &mut self.scale), ("shift".to_string(), &mut self.shift)])
//!     }
//! }
//!
//! let m = Affine { scale: Param::new(Tensor::<f64>::full([2], 2.0)), shift: Param::new(Tensor::zeros([2])) };
//! let mut ctx = Ctx::train(0);
//! let x = Var::constant(Tensor::from_vec(vec![1.0, 3.0], [1, 2])?);
//! let loss = m.forward(&x, &mut ctx).sum();
//! let grads = ctx.backward(loss, &m);
//! assert_eq!(grads[0].to_vec(), vec![1.0, 3.0]); // d/d scale
//! assert_eq!(grads[1].to_vec(), vec![1.0, 1.0]); // d/d shift
//! # Ok::<(), autograd::Error>(())
//! ```

use crate::activation::Activation;
use crate::error::NnError;
use crate::param::Param;
use crate::rng::derive_seed;
use crate::state::StateDict;
use autograd::{Float, Tape, Tensor, Var};
use indexmap::IndexMap;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A layer or a network of layers.
///
/// Required: [`forward`](Module::forward). Modules with parameters also implement
/// [`parameters`](Module::parameters) and [`parameters_mut`](Module::parameters_mut),
/// which must list the same parameters under the same names in the same order; composite
/// modules prefix their children's names with the child's name and a dot
/// (`Sequential` uses the position: `0.weight`, `0.bias`, `2.weight`, ...).
/// Everything else has a default.
pub trait Module<T: Float = f32> {
    /// The forward pass. Bind parameters with [`Ctx::bind`]; check [`Ctx::is_training`] for
    /// behaviour that differs between training and inference.
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T>;

    /// The forward pass stopped before a final softmax or sigmoid, if the module ends in
    /// one: returns the pre-activation ("logits") and that activation. The training loop
    /// uses it to compute cross-entropy from logits (fused and stable) when the model ends
    /// in softmax/sigmoid. The default is `(self.forward(x, ctx), None)`.
    fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> (Var<T>, Option<Activation>) {
        (self.forward(x, ctx), None)
    }

    /// The trainable parameters by name, in a stable order.
    fn parameters(&self) -> IndexMap<String, &Param<T>> {
        IndexMap::new()
    }

    /// The same parameters as [`parameters`](Module::parameters), mutably, in the same order.
    fn parameters_mut(&mut self) -> IndexMap<String, &mut Param<T>> {
        IndexMap::new()
    }

    /// The parameters without their names, in [`parameters`](Module::parameters) order.
    /// The training loop uses this on every step; the default collects `parameters()`,
    /// composite modules override it to skip building the dotted names.
    fn param_refs(&self) -> Vec<&Param<T>> {
        self.parameters().into_values().collect()
    }

    /// [`param_refs`](Module::param_refs), mutably.
    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        self.parameters_mut().into_values().collect()
    }

    /// The regularisation penalty of this module (L1/L2 on weights, see
    /// [`Regularizer`](crate::Regularizer)), to be added to the loss; `None` if there is none.
    /// Bind the parameters through `ctx` so gradients flow.
    fn regularization(&self, _ctx: &mut Ctx<T>) -> Option<Var<T>> {
        None
    }

    /// A short description for summaries, such as `Dense(784 -> 128, relu)`.
    fn describe(&self) -> String {
        std::any::type_name::<Self>().rsplit("::").next().unwrap_or("Module").to_string()
    }

    /// The number of input features (the last axis) this module needs, when it knows it
    /// (a `Dense` does). Used to check data before training. Default `None`.
    fn in_features(&self) -> Option<usize> {
        None
    }

    /// The number of output features given `input` input features, when known (a `Dense`
    /// knows its own; elementwise layers pass `input` through). Default `None`.
    fn out_features(&self, _input: Option<usize>) -> Option<usize> {
        None
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().values().map(|p| p.value().numel()).sum()
    }

    /// The parameters' tensors, mutably, in [`parameters`](Module::parameters) order: what
    /// [`Optimizer::step`](crate::Optimizer::step) takes.
    fn param_tensors_mut(&mut self) -> Vec<&mut Tensor<T>> {
        self.param_refs_mut().into_iter().map(|p| p.value_mut()).collect()
    }

    /// The parameters as a [`StateDict`], in exported layout (PyTorch's: a `Dense` weight
    /// is written `[out, in]`).
    fn state_dict(&self) -> StateDict<T> {
        self.parameters().into_iter().map(|(k, p)| (k, p.export())).collect()
    }

    /// Sets every parameter from a state dict in exported layout.
    ///
    /// # Errors
    /// [`NnError::MissingTensor`], [`NnError::UnexpectedTensor`] or
    /// [`NnError::ShapeMismatch`] naming the tensor; the module is unchanged on error.
    fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        let params = self.parameters();
        for (name, p) in &params {
            sd.require_shape(name, &p.export_shape())?;
        }
        sd.check_no_extra(params.keys().map(String::as_str))?;
        drop(params);
        for (name, p) in self.parameters_mut() {
            p.import(&name, &sd[&name])?;
        }
        Ok(())
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
        (**self).forward(x, ctx)
    }
    fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> (Var<T>, Option<Activation>) {
        (**self).forward_logits(x, ctx)
    }
    fn parameters(&self) -> IndexMap<String, &Param<T>> {
        (**self).parameters()
    }
    fn parameters_mut(&mut self) -> IndexMap<String, &mut Param<T>> {
        (**self).parameters_mut()
    }
    fn param_refs(&self) -> Vec<&Param<T>> {
        (**self).param_refs()
    }
    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        (**self).param_refs_mut()
    }
    fn regularization(&self, ctx: &mut Ctx<T>) -> Option<Var<T>> {
        (**self).regularization(ctx)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn in_features(&self) -> Option<usize> {
        (**self).in_features()
    }
    fn out_features(&self, input: Option<usize>) -> Option<usize> {
        (**self).out_features(input)
    }
}

/// The context of one forward pass: the tape (if gradients are wanted), the mode, the
/// generator for dropout, and the variables the parameters were bound to. See the
/// [module docs](self).
pub struct Ctx<T: Float> {
    tape: Option<Tape<T>>,
    training: bool,
    /// The dropout generator's seed; the generator itself is made on first use, since
    /// seeding a ChaCha generator every step cost 10% of a small MLP's step without dropout.
    seed: u64,
    rng: Option<StdRng>,
    bound: Vec<(u64, Var<T>)>,
}

impl<T: Float> Ctx<T> {
    /// A training pass: a fresh tape, dropout on, dropout masks drawn from a generator
    /// seeded with `seed`.
    pub fn train(seed: u64) -> Self {
        Ctx { tape: Some(Tape::new()), training: true, seed, rng: None, bound: Vec::new() }
    }

    /// A training pass whose dropout generator is derived from `(seed, path)` (see
    /// [`derive_seed`](crate::rng::derive_seed)); the training loop uses
    /// `path = [stream, epoch, step]`.
    pub fn train_derived(seed: u64, path: &[u64]) -> Self {
        Ctx { tape: Some(Tape::new()), training: true, seed: derive_seed(seed, path), rng: None, bound: Vec::new() }
    }

    /// An inference pass: no tape (parameters bind as constants, nothing is recorded),
    /// dropout off.
    pub fn eval() -> Self {
        Ctx { tape: None, training: false, seed: 0, rng: None, bound: Vec::new() }
    }

    /// A pass on a tape you own, with the mode and dropout seed given (for custom loops
    /// that, e.g., need gradients in eval mode).
    pub fn with_tape(tape: Tape<T>, training: bool, seed: u64) -> Self {
        Ctx { tape: Some(tape), training, seed, rng: None, bound: Vec::new() }
    }

    /// Whether this is a training pass (dropout active).
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The tape, if this pass records gradients.
    pub fn tape(&self) -> Option<&Tape<T>> {
        self.tape.as_ref()
    }

    /// The generator for training-time noise (dropout masks).
    pub fn rng(&mut self) -> &mut StdRng {
        let seed = self.seed;
        self.rng.get_or_insert_with(|| StdRng::seed_from_u64(seed))
    }

    /// The variable for parameter `p` in this pass: on the first call, `p`'s value is put on
    /// the tape as a leaf (or wrapped as a constant when there is no tape); later calls
    /// return the same variable.
    pub fn bind(&mut self, p: &Param<T>) -> Var<T> {
        if let Some((_, v)) = self.bound.iter().find(|(id, _)| *id == p.id()) {
            return v.clone();
        }
        let v = match &self.tape {
            Some(t) => t.var(p.value().clone()),
            None => Var::constant(p.value().clone()),
        };
        self.bound.push((p.id(), v.clone()));
        v
    }

    /// Runs the reverse sweep from `loss` and returns the gradient of every parameter of
    /// `module`, in [`Module::parameters`] order (zeros for a parameter the loss does not
    /// depend on). Consumes the context and the loss, so that once the caller has dropped
    /// its other variables of this pass, the parameters' buffers are no longer shared and
    /// the optimizer updates them without a copy.
    ///
    /// # Panics
    /// If this is an inference context (no tape) or `loss` is not on this context's tape.
    pub fn backward<M: Module<T> + ?Sized>(self, loss: Var<T>, module: &M) -> Vec<Tensor<T>> {
        assert!(self.tape.is_some(), "Ctx::backward: this is an inference context (Ctx::eval), it has no tape");
        let g = loss.backward();
        drop(loss);
        let grads = module
            .param_refs()
            .into_iter()
            .map(|p| match self.bound.iter().find(|(id, _)| *id == p.id()) {
                Some((_, v)) => g.wrt(v),
                None => Tensor::zeros(p.value().shape()),
            })
            .collect();
        drop(g);
        drop(self);
        grads
    }
}
