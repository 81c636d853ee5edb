//! Optimizers, gradient clipping and learning-rate schedules.
//!
//! An optimizer is a function of (parameters, gradients, its own state): [`Optimizer::step`]
//! takes the parameter tensors and their gradients in the same order and updates the
//! tensors in place ([`Tensor::data_mut`]: no copy when the buffer is not shared). Its state
//! (moment estimates, step count, learning rate) round-trips through a [`StateDict`] with
//! PyTorch-like keys `state.{i}.{slot}` (`i` the parameter's position, `slot` e.g.
//! `exp_avg`) and metadata `optimizer`, `step` and `lr`; so training resumes exactly.
//!
//! # Conventions: Keras or PyTorch
//!
//! Keras and PyTorch differ in defaults *and* in where epsilon sits in the update. Each
//! optimizer takes a [`Convention`]; `Default` is Keras' (this crate's training API is
//! Keras'), and a `pytorch()` constructor gives PyTorch's defaults and formula:
//!
//! | optimizer | Keras (`default()`) | PyTorch (`pytorch()`) |
//! |---|---|---|
//! | [`Sgd`] | lr 0.01 | lr 1e-3 (same update but for weight decay) |
//! | [`Adam`] | lr 1e-3, β 0.9/0.999, ε 1e-7, `p -= lr·√(1-β₂ᵗ)/(1-β₁ᵗ) · m/(√v + ε)` | ε 1e-8, `p -= lr/(1-β₁ᵗ) · m/(√v/√(1-β₂ᵗ) + ε)` |
//! | [`AdamW`] | as Adam, weight decay 0.004 | as Adam, weight decay 0.01 |
//! | [`RmsProp`] | lr 1e-3, ρ 0.9, ε 1e-7, `p -= lr·g/√(v + ε)` | lr 0.01, α 0.99, ε 1e-8, `p -= lr·g/(√v + ε)` |
//! | [`Adagrad`] | lr 1e-3, initial accumulator 0.1, ε 1e-7, `p -= lr·g/√(acc + ε)` | lr 0.01, initial 0, ε 1e-10, `p -= lr·g/(√acc + ε)` |
//!
//! SGD's momentum follows PyTorch (`buf = μ buf + (1 − dampening) g; p -= lr buf`; Nesterov
//! `p -= lr (g + μ buf)`), which equals Keras' `v = μ v - lr g; p += v` while the learning rate
//! is constant and there is no dampening.
//!
//! `weight_decay` follows the convention too. Keras 3 decouples it on every optimizer: before
//! the update, `p -= lr·wd·p`. PyTorch adds it to the gradient (`g += wd·p`, the L2 form) on
//! SGD, Adam, RMSProp and Adagrad, and decouples it only in AdamW. So `Adam::default()
//! .weight_decay(wd)` is Keras' `Adam(weight_decay=wd)` and `Adam::pytorch().weight_decay(wd)`
//! is PyTorch's; [`AdamW`] is decoupled in both. The PyTorch-only options are here too: SGD's
//! `dampening`, Adam's and AdamW's `amsgrad`, Adagrad's `lr_decay`, each as in PyTorch's
//! documented algorithm. Clipping ([`Clip`]) is applied to the gradients before anything else.

/// The `Optimizer` methods shared by every optimizer that keeps its learning rate in `lr` and
/// its state in `state: Slots` (everything but `step` and `name`).
macro_rules! slot_optimizer_methods {
    () => {
        fn learning_rate(&self) -> f64 {
            self.lr
        }
        fn set_learning_rate(&mut self, lr: f64) {
            self.lr = lr;
        }
        fn iterations(&self) -> u64 {
            self.state.step
        }
        fn state_dict(&self) -> StateDict<T> {
            self.state.state_dict(self.name(), self.lr)
        }
        fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
            self.lr = self.state.load(self.name(), sd)?;
            Ok(())
        }
    };
}

/// The builder setters shared by the optimizers with a learning rate, an ε, a formula
/// convention and clipping (fields `lr`, `eps`, `convention`, `clip`).
macro_rules! common_setters {
    () => {
        /// Sets the learning rate.
        pub fn lr(mut self, lr: f64) -> Self {
            self.lr = lr;
            self
        }

        /// Sets ε.
        pub fn epsilon(mut self, eps: f64) -> Self {
            self.eps = eps;
            self
        }

        /// Chooses the update formula (the other defaults are not changed).
        pub fn convention(mut self, conv: Convention) -> Self {
            self.convention = conv;
            self
        }

        /// Gradient clipping.
        pub fn clip(mut self, clip: Clip) -> Self {
            self.clip = Some(clip);
            self
        }
    };
}

mod adagrad;
mod adam;
mod rmsprop;
mod schedule;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use rmsprop::RmsProp;
pub use schedule::Schedule;
pub use sgd::Sgd;

use crate::error::NnError;
use crate::state::StateDict;
use autograd::{Float, Tensor};
use std::borrow::Cow;

/// Whose defaults and update formula an optimizer follows (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Convention {
    /// Keras 3.
    #[default]
    Keras,
    /// PyTorch 2.
    PyTorch,
}

/// Gradient clipping, applied by an optimizer before its update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clip {
    /// Rescale each gradient tensor whose L2 norm exceeds the value to that norm (Keras'
    /// `clipnorm`).
    Norm(f64),
    /// Rescale all gradients together when their joint L2 norm exceeds the value (Keras'
    /// `global_clipnorm`, PyTorch's `clip_grad_norm_`).
    GlobalNorm(f64),
    /// Clamp every gradient element to `[-v, v]` (Keras' `clipvalue`, PyTorch's `clip_grad_value_`).
    Value(f64),
}

/// An optimizer: updates parameters from their gradients, keeping its own state.
pub trait Optimizer<T: Float> {
    /// One update. `params[i]` gets `grads[i]`; the order must be the same at every step
    /// (it is the order of [`Module::parameters`](crate::Module::parameters) in the training loop).
    ///
    /// # Panics
    /// If the lengths differ, a gradient's shape differs from its parameter's, or the
    /// state (e.g. loaded from a state dict) does not match the parameters.
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[Tensor<T>]);

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (schedules and callbacks use this).
    fn set_learning_rate(&mut self, lr: f64);

    /// The number of steps taken.
    fn iterations(&self) -> u64;

    /// A short name: `"sgd"`, `"adam"`, ...
    fn name(&self) -> &'static str;

    /// The state: slots `state.{i}.{slot}` and metadata `optimizer`, `step`, `lr`.
    fn state_dict(&self) -> StateDict<T>;

    /// Restores the state written by [`state_dict`](Self::state_dict) of the same kind of
    /// optimizer.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for another optimizer's state, [`NnError::MissingTensor`]
    /// or [`NnError::UnexpectedTensor`] naming a key.
    fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError>;
}

impl<T: Float, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[Tensor<T>]) {
        (**self).step(params, grads)
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        (**self).set_learning_rate(lr)
    }
    fn iterations(&self) -> u64 {
        (**self).iterations()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn state_dict(&self) -> StateDict<T> {
        (**self).state_dict()
    }
    fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        (**self).load_state_dict(sd)
    }
}

/// The joint L2 norm of several tensors.
pub fn global_norm<T: Float>(grads: &[Tensor<T>]) -> f64 {
    grads.iter().map(|g| g.data().iter().map(|&v| v.to_f64() * v.to_f64()).sum::<f64>()).sum::<f64>().sqrt()
}

/// Scales all gradients together so that their joint L2 norm is at most `max_norm`
/// (PyTorch's `clip_grad_norm_`). Returns the norm before clipping.
pub fn clip_grad_norm<T: Float>(grads: &mut [Tensor<T>], max_norm: f64) -> f64 {
    let norm = global_norm(grads);
    if norm > max_norm {
        let s = T::from_f64(max_norm / (norm + 1e-6));
        for g in grads.iter_mut() {
            g.data_mut().iter_mut().for_each(|v| *v *= s);
        }
    }
    norm
}

/// Clamps every gradient element to `[-value, value]` (PyTorch's `clip_grad_value_`).
pub fn clip_grad_value<T: Float>(grads: &mut [Tensor<T>], value: f64) {
    let (lo, hi) = (T::from_f64(-value), T::from_f64(value));
    for g in grads.iter_mut() {
        g.data_mut().iter_mut().for_each(|v| *v = v.max(lo).min(hi));
    }
}

/// Applies `clip` to `grads`, copying only when clipping changes something.
pub(crate) fn apply_clip<'a, T: Float>(clip: Option<Clip>, grads: &'a [Tensor<T>]) -> Cow<'a, [Tensor<T>]> {
    match clip {
        None => Cow::Borrowed(grads),
        Some(Clip::Value(v)) => {
            let mut g = grads.to_vec();
            clip_grad_value(&mut g, v);
            Cow::Owned(g)
        }
        Some(Clip::GlobalNorm(m)) => {
            if global_norm(grads) > m {
                let mut g = grads.to_vec();
                clip_grad_norm(&mut g, m);
                Cow::Owned(g)
            } else {
                Cow::Borrowed(grads)
            }
        }
        Some(Clip::Norm(m)) => Cow::Owned(
            grads
                .iter()
                .map(|g| {
                    let n = global_norm(std::slice::from_ref(g));
                    if n > m {
                        g.scale(T::from_f64(m / n))
                    } else {
                        g.clone()
                    }
                })
                .collect(),
        ),
    }
}

/// Per-parameter state slots shared by the optimizers: `slots[i][k]` is slot `names[k]`
/// of parameter `i`, created lazily at the first step.
#[derive(Clone, Debug)]
pub(crate) struct Slots<T: Float> {
    pub names: Vec<&'static str>,
    pub slots: Vec<Vec<Tensor<T>>>,
    pub step: u64,
}

impl<T: Float> Slots<T> {
    pub fn new(names: Vec<&'static str>) -> Self {
        Slots { names, slots: Vec::new(), step: 0 }
    }

    /// Checks the arguments of a step and creates the slots (filled with `init[k]`) if needed.
    pub fn prepare(&mut self, op: &str, params: &[&mut Tensor<T>], grads: &[Tensor<T>], init: &[T]) {
        debug_assert_eq!(init.len(), self.names.len(), "{op}: one initial value per state slot");
        assert_eq!(params.len(), grads.len(), "{op}: {} parameters but {} gradients", params.len(), grads.len());
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            assert!(
                p.shape() == g.shape(),
                "{op}: parameter {i} has shape {:?} but its gradient {:?}",
                p.shape(),
                g.shape()
            );
        }
        if self.slots.is_empty() && !self.names.is_empty() {
            self.slots = params.iter().map(|p| init.iter().map(|&v| Tensor::full(p.shape(), v)).collect()).collect();
        }
        if !self.names.is_empty() {
            assert_eq!(
                self.slots.len(),
                params.len(),
                "{op}: the optimizer state is for {} parameters but {} were given",
                self.slots.len(),
                params.len()
            );
            for (i, (p, s)) in params.iter().zip(&self.slots).enumerate() {
                assert!(
                    s[0].shape() == p.shape(),
                    "{op}: state of parameter {i} has shape {:?} but the parameter {:?}",
                    s[0].shape(),
                    p.shape()
                );
            }
        }
    }

    pub fn state_dict(&self, name: &str, lr: f64) -> StateDict<T> {
        let mut sd = StateDict::new();
        for (i, s) in self.slots.iter().enumerate() {
            for (k, t) in self.names.iter().zip(s) {
                sd.insert(format!("state.{i}.{k}"), t.clone());
            }
        }
        sd.metadata.insert("optimizer".into(), name.into());
        sd.metadata.insert("step".into(), self.step.to_string());
        sd.metadata.insert("lr".into(), format!("{lr:?}"));
        sd
    }

    /// Loads slots and returns the learning rate stored.
    pub fn load(&mut self, name: &str, sd: &StateDict<T>) -> Result<f64, NnError> {
        let got = sd.require_meta("optimizer")?;
        if got != name {
            return Err(NnError::config(format!("state dict is for optimizer `{got}`, not `{name}`")));
        }
        let step: u64 = sd
            .require_meta("step")?
            .parse()
            .map_err(|e| NnError::config(format!("optimizer state: bad step count: {e}")))?;
        let lr: f64 =
            sd.require_meta("lr")?.parse().map_err(|e| NnError::config(format!("optimizer state: bad lr: {e}")))?;
        let mut slots = Vec::new();
        if !self.names.is_empty() {
            let n = (0..).take_while(|i| sd.contains_key(&format!("state.{i}.{}", self.names[0]))).count();
            for i in 0..n {
                let mut s = Vec::new();
                for k in &self.names {
                    s.push(sd.require(&format!("state.{i}.{k}"))?.clone());
                }
                slots.push(s);
            }
        }
        let expected: Vec<String> =
            (0..slots.len()).flat_map(|i| self.names.iter().map(move |k| format!("state.{i}.{k}"))).collect();
        sd.check_no_extra(expected.iter().map(String::as_str))?;
        self.slots = slots;
        self.step = step;
        Ok(lr)
    }
}

#[inline]
pub(crate) fn c<T: Float>(v: f64) -> T {
    T::from_f64(v)
}
