//! Adagrad.

use super::{apply_clip, c, Clip, Convention, Optimizer, Slots};
use crate::error::NnError;
use crate::state::StateDict;
use autograd::{Float, Tensor};

/// Adagrad. With `t` the step number (from 1) and `g` the gradient:
///
/// ```text
/// weight decay: Keras: p ← p − lr·weight_decay·p (decoupled); PyTorch: g ← g + weight_decay·p
/// clr ← lr / (1 + (t − 1)·lr_decay)      (PyTorch's lr_decay; 0 by default)
/// acc ← acc + g²   (acc starts at initial_accumulator_value)
/// Keras:   p ← p − clr·g / √(acc + ε)
/// PyTorch: p ← p − clr·g / (√acc + ε)
/// ```
///
/// The PyTorch form is `torch.optim.Adagrad`'s documented algorithm.
///
/// `Adagrad::default()` is Keras' (lr 1e-3, initial accumulator 0.1, ε 1e-7);
/// [`Adagrad::pytorch`] is PyTorch's (lr 0.01, initial accumulator 0, ε 1e-10).
#[derive(Clone, Debug)]
pub struct Adagrad<T: Float = f32> {
    lr: f64,
    initial: f64,
    eps: f64,
    lr_decay: f64,
    weight_decay: f64,
    convention: Convention,
    clip: Option<Clip>,
    state: Slots<T>,
}

impl<T: Float> Default for Adagrad<T> {
    fn default() -> Self {
        Adagrad::new(1e-3)
    }
}

impl<T: Float> Adagrad<T> {
    common_setters!();

    /// Keras-convention Adagrad with this learning rate.
    pub fn new(lr: f64) -> Self {
        Adagrad {
            lr,
            initial: 0.1,
            eps: 1e-7,
            lr_decay: 0.0,
            weight_decay: 0.0,
            convention: Convention::Keras,
            clip: None,
            state: Slots::new(vec!["sum"]),
        }
    }

    /// PyTorch's defaults and formula.
    pub fn pytorch() -> Self {
        Adagrad { initial: 0.0, eps: 1e-10, convention: Convention::PyTorch, ..Adagrad::new(0.01) }
    }

    /// Sets the accumulator's starting value.
    pub fn initial_accumulator_value(mut self, v: f64) -> Self {
        self.initial = v;
        self
    }

    /// Weight decay: decoupled in the Keras convention, added to the gradient in PyTorch's.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }

    /// PyTorch's `lr_decay`: step `t` uses the learning rate `lr / (1 + (t − 1)·lr_decay)`.
    pub fn lr_decay(mut self, d: f64) -> Self {
        self.lr_decay = d;
        self
    }
}

impl<T: Float> Optimizer<T> for Adagrad<T> {
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[Tensor<T>]) {
        let grads = apply_clip(self.clip, grads);
        self.state.prepare("Adagrad::step", params, &grads, &[c::<T>(self.initial)]);
        let clr = self.lr / (1.0 + self.state.step as f64 * self.lr_decay);
        let (lr, eps) = (c::<T>(clr), c::<T>(self.eps));
        let keras = self.convention == Convention::Keras;
        let (wd, decay) = if keras {
            (T::ZERO, c::<T>(1.0 - self.lr * self.weight_decay))
        } else {
            (c::<T>(self.weight_decay), T::ONE)
        };
        for (i, (p, g)) in params.iter_mut().zip(grads.iter()).enumerate() {
            let p = p.data_mut();
            let acc = self.state.slots[i][0].data_mut();
            for ((p, &g), a) in p.iter_mut().zip(g.data()).zip(acc.iter_mut()) {
                let g = g + wd * *p;
                *p *= decay;
                *a += g * g;
                *p -= if keras { lr * g / (*a + eps).sqrt() } else { lr * g / (a.sqrt() + eps) };
            }
        }
        self.state.step += 1;
    }

    fn name(&self) -> &'static str {
        "adagrad"
    }
    slot_optimizer_methods!();
}
