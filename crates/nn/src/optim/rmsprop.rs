//! RMSProp.

use super::{apply_clip, c, Clip, Convention, Optimizer, Slots};
use crate::error::NnError;
use crate::state::StateDict;
use autograd::{Float, Tensor};

/// RMSProp. With `g` the gradient; weight decay is decoupled (`p ← p − lr·weight_decay·p`
/// before the update) in the Keras convention and added to the gradient
/// (`g ← g + weight_decay·p`) in PyTorch's:
///
/// ```text
/// v ← ρ v + (1−ρ) g²;   centered: ḡ ← ρ ḡ + (1−ρ) g, v' = v − ḡ², else v' = v
/// Keras:   u = lr·g / √(v' + ε);   momentum: buf ← μ buf + u, p ← p − buf;  else p ← p − u
/// PyTorch: u = g / (√v' + ε);      momentum: buf ← μ buf + u, p ← p − lr·buf; else p ← p − lr·u
/// ```
///
/// `RmsProp::default()` is Keras' (lr 1e-3, ρ 0.9, ε 1e-7); [`RmsProp::pytorch`] is
/// PyTorch's (lr 0.01, α = ρ = 0.99, ε 1e-8).
#[derive(Clone, Debug)]
pub struct RmsProp<T: Float = f32> {
    lr: f64,
    rho: f64,
    eps: f64,
    momentum: f64,
    centered: bool,
    weight_decay: f64,
    convention: Convention,
    clip: Option<Clip>,
    state: Slots<T>,
}

impl<T: Float> Default for RmsProp<T> {
    fn default() -> Self {
        RmsProp::new(1e-3)
    }
}

impl<T: Float> RmsProp<T> {
    common_setters!();

    /// Keras-convention RMSProp with this learning rate.
    pub fn new(lr: f64) -> Self {
        let mut o = RmsProp {
            lr,
            rho: 0.9,
            eps: 1e-7,
            momentum: 0.0,
            centered: false,
            weight_decay: 0.0,
            convention: Convention::Keras,
            clip: None,
            state: Slots::new(vec![]),
        };
        o.reslot();
        o
    }

    /// PyTorch's defaults and formula.
    pub fn pytorch() -> Self {
        RmsProp { rho: 0.99, eps: 1e-8, convention: Convention::PyTorch, ..RmsProp::new(0.01) }
    }

    fn reslot(&mut self) {
        let mut names = vec!["square_avg"];
        if self.momentum != 0.0 {
            names.push("momentum_buffer");
        }
        if self.centered {
            names.push("grad_avg");
        }
        self.state = Slots::new(names);
    }

    /// Sets the decay ρ of the squared-gradient average (PyTorch's `alpha`).
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }

    /// Sets the momentum.
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self.reslot();
        self
    }

    /// Centered RMSProp (normalise by the variance estimate instead of the second moment).
    pub fn centered(mut self, yes: bool) -> Self {
        self.centered = yes;
        self.reslot();
        self
    }

    /// Weight decay: decoupled in the Keras convention, added to the gradient in PyTorch's.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
}

impl<T: Float> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[Tensor<T>]) {
        let grads = apply_clip(self.clip, grads);
        let init = vec![T::ZERO; self.state.names.len()];
        self.state.prepare("RmsProp::step", params, &grads, &init);
        let (lr, rho, omr, eps, mu) =
            (c::<T>(self.lr), c::<T>(self.rho), c::<T>(1.0 - self.rho), c::<T>(self.eps), c::<T>(self.momentum));
        let keras = self.convention == Convention::Keras;
        let (wd, decay) = if keras {
            (T::ZERO, c::<T>(1.0 - self.lr * self.weight_decay))
        } else {
            (c::<T>(self.weight_decay), T::ONE)
        };
        let has_mom = self.momentum != 0.0;
        for (i, (p, g)) in params.iter_mut().zip(grads.iter()).enumerate() {
            let p = p.data_mut();
            let slots = &mut self.state.slots[i];
            let n = p.len();
            // Split the slots into disjoint mutable buffers.
            let mut it = slots.iter_mut();
            let sq = it.next().expect("square_avg").data_mut();
            let mut buf = if has_mom { Some(it.next().expect("momentum_buffer").data_mut()) } else { None };
            let mut gavg = if self.centered { Some(it.next().expect("grad_avg").data_mut()) } else { None };
            let g = g.data();
            for j in 0..n {
                let gj = g[j] + wd * p[j];
                p[j] *= decay;
                sq[j] = rho * sq[j] + omr * gj * gj;
                let mut var = sq[j];
                if let Some(ga) = gavg.as_deref_mut() {
                    ga[j] = rho * ga[j] + omr * gj;
                    var -= ga[j] * ga[j];
                }
                let u = if keras { lr * gj / (var + eps).sqrt() } else { gj / (var.sqrt() + eps) };
                match buf.as_deref_mut() {
                    Some(b) => {
                        b[j] = mu * b[j] + u;
                        p[j] -= if keras { b[j] } else { lr * b[j] };
                    }
                    None => p[j] -= if keras { u } else { lr * u },
                }
            }
        }
        self.state.step += 1;
    }

    fn name(&self) -> &'static str {
        "rmsprop"
    }
    slot_optimizer_methods!();
}
