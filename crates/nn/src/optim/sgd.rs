//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

use super::{apply_clip, c, Clip, Optimizer, Slots};
use crate::error::NnError;
use crate::state::StateDict;
use autograd::{Float, Tensor};

/// SGD (PyTorch's update; see the [module docs](super) for how it relates to Keras'):
///
/// ```text
/// g ← g + weight_decay·p
/// buf ← momentum·buf + g            (if momentum > 0; buf starts at 0)
/// d ← g + momentum·buf if nesterov, else buf (or g without momentum)
/// p ← p − lr·d
/// ```
///
/// ```
/// use nn::{Optimizer, Sgd};
/// use autograd::Tensor;
/// let mut opt = Sgd::new(0.1).momentum(0.9);
/// let mut w = Tensor::<f64>::from_vec(vec![1.0], [1])?;
/// opt.step(&mut [&mut w], &[Tensor::from_vec(vec![2.0], [1])?]);
/// assert!((w.data()[0] - 0.8).abs() < 1e-12);
/// # Ok::<(), autograd::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<T: Float = f32> {
    lr: f64,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    clip: Option<Clip>,
    state: Slots<T>,
}

impl<T: Float> Default for Sgd<T> {
    /// Keras' default: learning rate 0.01, no momentum.
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

impl<T: Float> Sgd<T> {
    /// Plain SGD with this learning rate.
    pub fn new(lr: f64) -> Self {
        Sgd { lr, momentum: 0.0, nesterov: false, weight_decay: 0.0, clip: None, state: Slots::new(vec![]) }
    }

    /// PyTorch's default learning rate, 1e-3.
    pub fn pytorch() -> Self {
        Sgd::new(1e-3)
    }

    /// Sets the momentum factor (0 disables momentum).
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self.state = Slots::new(if m != 0.0 { vec!["momentum_buffer"] } else { vec![] });
        self
    }

    /// Nesterov momentum (needs `momentum > 0`).
    pub fn nesterov(mut self, yes: bool) -> Self {
        self.nesterov = yes;
        self
    }

    /// L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }

    /// Gradient clipping.
    pub fn clip(mut self, clip: Clip) -> Self {
        self.clip = Some(clip);
        self
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[Tensor<T>]) {
        let grads = apply_clip(self.clip, grads);
        self.state.prepare("Sgd::step", params, &grads, &[T::ZERO]);
        let (lr, mu, wd) = (c::<T>(self.lr), c::<T>(self.momentum), c::<T>(self.weight_decay));
        let use_mom = self.momentum != 0.0;
        for (i, (p, g)) in params.iter_mut().zip(grads.iter()).enumerate() {
            let p = p.data_mut();
            let g = g.data();
            if use_mom {
                let buf = self.state.slots[i][0].data_mut();
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let g = g + wd * *p;
                    *b = mu * *b + g;
                    let d = if self.nesterov { g + mu * *b } else { *b };
                    *p -= lr * d;
                }
            } else {
                for (p, &g) in p.iter_mut().zip(g) {
                    let g = g + wd * *p;
                    *p -= lr * g;
                }
            }
        }
        self.state.step += 1;
    }

    fn name(&self) -> &'static str {
        "sgd"
    }
    slot_optimizer_methods!();
}
