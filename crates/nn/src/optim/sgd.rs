//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

use super::{apply_clip, c, Clip, Convention, Optimizer, Slots};
use crate::error::NnError;
use crate::state::StateDict;
use autograd::{Float, Tensor};

/// SGD (PyTorch's momentum update; see the [module docs](super) for how it relates to Keras'):
///
/// ```text
/// Keras convention (default):  p ← p − lr·weight_decay·p      (decoupled, before the update)
/// PyTorch convention:          g ← g + weight_decay·p         (L2, in the gradient)
/// buf ← g at the first step, then momentum·buf + (1 − dampening)·g      (if momentum > 0)
/// d ← g + momentum·buf if nesterov, else buf (or g without momentum)
/// p ← p − lr·d
/// ```
///
/// This is `torch.optim.SGD`'s documented algorithm (`dampening` included; Nesterov needs
/// `dampening = 0` there too).
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
    dampening: f64,
    weight_decay: f64,
    convention: Convention,
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
        Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            dampening: 0.0,
            weight_decay: 0.0,
            convention: Convention::Keras,
            clip: None,
            state: Slots::new(vec![]),
        }
    }

    /// PyTorch's default learning rate (1e-3) and weight decay form (L2 in the gradient).
    pub fn pytorch() -> Self {
        Sgd { convention: Convention::PyTorch, ..Sgd::new(1e-3) }
    }

    /// Sets the learning rate.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Chooses the weight decay form: decoupled (Keras) or L2 in the gradient (PyTorch).
    pub fn convention(mut self, conv: Convention) -> Self {
        self.convention = conv;
        self
    }

    /// Sets the dampening of the momentum (PyTorch's `dampening`): after the first step,
    /// `buf ← momentum·buf + (1 − dampening)·g`.
    pub fn dampening(mut self, d: f64) -> Self {
        self.dampening = d;
        self
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

    /// Weight decay: decoupled (`p ← p − lr·wd·p`) in the Keras convention, added to the
    /// gradient (`g ← g + wd·p`) in PyTorch's.
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
        assert!(
            !(self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0)),
            "Sgd::step: Nesterov momentum needs momentum > 0 and dampening 0 (as in PyTorch), got momentum {} and \
             dampening {}",
            self.momentum,
            self.dampening
        );
        self.state.prepare("Sgd::step", params, &grads, &[T::ZERO][..self.state.names.len()]);
        let (lr, mu, damp) = (c::<T>(self.lr), c::<T>(self.momentum), c::<T>(1.0 - self.dampening));
        // Decoupled decay scales p before the update; the L2 form adds wd·p to the gradient.
        let (wd, decay) = match self.convention {
            Convention::Keras => (T::ZERO, c::<T>(1.0 - self.lr * self.weight_decay)),
            Convention::PyTorch => (c::<T>(self.weight_decay), T::ONE),
        };
        let use_mom = self.momentum != 0.0;
        // PyTorch starts the buffer at the first gradient, undamped.
        let first = self.state.step == 0;
        for (i, (p, g)) in params.iter_mut().zip(grads.iter()).enumerate() {
            let p = p.data_mut();
            let g = g.data();
            if use_mom {
                let buf = self.state.slots[i][0].data_mut();
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let g = g + wd * *p;
                    *p *= decay;
                    *b = if first { g } else { mu * *b + damp * g };
                    let d = if self.nesterov { g + mu * *b } else { *b };
                    *p -= lr * d;
                }
            } else {
                for (p, &g) in p.iter_mut().zip(g) {
                    let g = g + wd * *p;
                    *p = *p * decay - lr * g;
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
