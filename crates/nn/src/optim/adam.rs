//! Adam and AdamW.

use super::{apply_clip, c, Clip, Convention, Optimizer, Slots};
use crate::error::NnError;
use crate::state::StateDict;
use autograd::{Float, Tensor};

/// Adam (Kingma & Ba). With `t` the step number (from 1) and `g` the gradient:
///
/// ```text
/// weight decay:  Keras: p ← p − lr·weight_decay·p (decoupled, before the update)
///                PyTorch: g ← g + weight_decay·p (L2; AdamW decouples in both)
/// m ← β₁ m + (1−β₁) g;   v ← β₂ v + (1−β₂) g²
/// amsgrad:       v̂ ← max(v̂, v), and v̂ replaces v below
/// Keras:   p ← p − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)
/// PyTorch: p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)
/// ```
///
/// The PyTorch form is `torch.optim.Adam`'s documented algorithm, `amsgrad` included (its
/// state slot is PyTorch's `max_exp_avg_sq`).
///
/// `Adam::default()` is Keras' (lr 1e-3, β 0.9/0.999, ε 1e-7); [`Adam::pytorch`] is
/// PyTorch's (ε 1e-8 and the PyTorch formula). The two formulas differ only in how ε is
/// scaled.
#[derive(Clone, Debug)]
pub struct Adam<T: Float = f32> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    amsgrad: bool,
    convention: Convention,
    clip: Option<Clip>,
    state: Slots<T>,
}

impl<T: Float> Default for Adam<T> {
    /// Keras' defaults: lr 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-7.
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl<T: Float> Adam<T> {
    common_setters!();

    /// Keras-convention Adam with this learning rate.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            convention: Convention::Keras,
            clip: None,
            state: Slots::new(vec!["exp_avg", "exp_avg_sq"]),
        }
    }

    /// PyTorch's defaults and formula: lr 1e-3, β 0.9/0.999, ε 1e-8.
    pub fn pytorch() -> Self {
        Adam { eps: 1e-8, convention: Convention::PyTorch, ..Adam::new(1e-3) }
    }

    /// Sets β₁ and β₂.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Weight decay: decoupled (`p ← p − lr·wd·p`, Keras 3's `Adam(weight_decay=..)`) in the
    /// Keras convention, L2 added to the gradient (PyTorch's `Adam(weight_decay=..)`) in
    /// PyTorch's; [`AdamW`] decouples in both.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }

    /// The AMSGrad variant (Reddi et al.): divide by the running maximum of `v`.
    pub fn amsgrad(mut self, yes: bool) -> Self {
        self.amsgrad = yes;
        self.state = Slots::new(if yes {
            vec!["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            vec!["exp_avg", "exp_avg_sq"]
        });
        self
    }
}

/// The per-step constants of the Adam update (passed by value so the loop keeps them in
/// registers).
#[derive(Clone, Copy)]
struct AdamConsts<T> {
    a: T,
    s: T,
    eps: T,
    b1t: T,
    b2t: T,
    omb1: T,
    omb2: T,
    wd: T,
    decay: T,
    tiny: T,
}

/// One fused pass over a parameter: weight decay, both moments and the update.
struct AdamKernel<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    /// The running maximum of `v` (AMSGrad), if used.
    vmax: Option<&'a mut [T]>,
    k: AdamConsts<T>,
}

impl<T: Float> autograd::simd::Kernel for AdamKernel<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        match self.vmax {
            None => adam_update::<T, false>(self.p, self.g, self.m, self.v, &mut [], self.k),
            Some(vmax) => adam_update::<T, true>(self.p, self.g, self.m, self.v, vmax, self.k),
        }
    }
}

/// The update of one parameter; with `AMSGRAD`, dividing by the running maximum of `v` kept in
/// `vmax` (a constant parameter, so each variant compiles to its own loop).
#[inline(always)]
fn adam_update<T: Float, const AMSGRAD: bool>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    k: AdamConsts<T>,
) {
    let n = p.len().min(g.len()).min(m.len()).min(v.len());
    let n = if AMSGRAD { n.min(vmax.len()) } else { n };
    let (p, g, m, v) = (&mut p[..n], &g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        // The L2 form adds wd·p (with wd 0 when decoupled); decoupled decay scales p (by 1).
        let gi = g[i] + k.wd * p[i];
        let pi = p[i] * k.decay;
        let mi = k.b1t * m[i] + k.omb1 * gi;
        let vi = k.b2t * v[i] + k.omb2 * gi * gi;
        // Moments of parameters whose gradient stays zero (dead units, pixels that are never
        // lit) decay into subnormal numbers, where arithmetic is many times slower: a third
        // of the first layer's moments after 2,000 MNIST steps. Below 1e-30 they are flushed
        // to zero; the update they would make is below 1e-22 of the learning rate.
        let mi = if mi.abs() < k.tiny { T::ZERO } else { mi };
        let vi = if vi < k.tiny { T::ZERO } else { vi };
        m[i] = mi;
        v[i] = vi;
        let vd = if AMSGRAD {
            vmax[i] = vmax[i].max(vi);
            vmax[i]
        } else {
            vi
        };
        p[i] = pi - k.a * mi / (vd.sqrt() * k.s + k.eps);
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[Tensor<T>]) {
        let grads = apply_clip(self.clip, grads);
        let zeros = [T::ZERO; 3];
        self.state.prepare("Adam::step", params, &grads, &zeros[..self.state.names.len()]);
        let t = (self.state.step + 1) as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        // p -= a * m / (sqrt(v) * s + eps)
        let (a, s) = match self.convention {
            Convention::Keras => (self.lr * bc2.sqrt() / bc1, 1.0),
            Convention::PyTorch => (self.lr / bc1, 1.0 / bc2.sqrt()),
        };
        let (a, s, eps) = (c::<T>(a), c::<T>(s), c::<T>(self.eps));
        let (b1t, b2t, omb1, omb2) = (c::<T>(b1), c::<T>(b2), c::<T>(1.0 - b1), c::<T>(1.0 - b2));
        let (wd, decay) = if self.decoupled || self.convention == Convention::Keras {
            (T::ZERO, c::<T>(1.0 - self.lr * self.weight_decay))
        } else {
            (c::<T>(self.weight_decay), T::ONE)
        };
        for (i, (p, g)) in params.iter_mut().zip(grads.iter()).enumerate() {
            let p = p.data_mut();
            let (m, v, vmax) = match &mut self.state.slots[i][..] {
                [m, v] => (m.data_mut(), v.data_mut(), None),
                [m, v, vmax] => (m.data_mut(), v.data_mut(), Some(vmax.data_mut())),
                _ => unreachable!("two or three slots"),
            };
            let k = AdamConsts { a, s, eps, b1t, b2t, omb1, omb2, wd, decay, tiny: c::<T>(1e-30) };
            autograd::simd::vectorized(AdamKernel { p, g: g.data(), m, v, vmax, k });
        }
        self.state.step += 1;
    }

    fn name(&self) -> &'static str {
        if self.decoupled {
            "adamw"
        } else {
            "adam"
        }
    }
    slot_optimizer_methods!();
}

/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter): before each Adam update,
/// `p ← p − lr·weight_decay·p`. `AdamW::default()` is Keras' (lr 1e-3, weight decay 0.004,
/// ε 1e-7); [`AdamW::pytorch`] is PyTorch's (weight decay 0.01, ε 1e-8, PyTorch formula).
#[derive(Clone, Debug)]
pub struct AdamW<T: Float = f32>(Adam<T>);

impl<T: Float> Default for AdamW<T> {
    fn default() -> Self {
        AdamW::new(1e-3)
    }
}

impl<T: Float> AdamW<T> {
    /// Keras-convention AdamW with this learning rate and weight decay 0.004.
    pub fn new(lr: f64) -> Self {
        AdamW(Adam { weight_decay: 0.004, decoupled: true, ..Adam::new(lr) })
    }

    /// PyTorch's defaults and formula: lr 1e-3, weight decay 0.01, ε 1e-8.
    pub fn pytorch() -> Self {
        AdamW(Adam { weight_decay: 0.01, decoupled: true, ..Adam::pytorch() })
    }

    /// Sets the (decoupled) weight decay.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.0.weight_decay = wd;
        self
    }

    /// The AMSGrad variant (see [`Adam::amsgrad`]).
    pub fn amsgrad(mut self, yes: bool) -> Self {
        self.0 = self.0.amsgrad(yes);
        self
    }

    /// Sets β₁ and β₂.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.0 = self.0.betas(beta1, beta2);
        self
    }

    /// Sets ε.
    pub fn epsilon(mut self, eps: f64) -> Self {
        self.0.eps = eps;
        self
    }

    /// Chooses the update formula.
    pub fn convention(mut self, conv: Convention) -> Self {
        self.0.convention = conv;
        self
    }

    /// Gradient clipping.
    pub fn clip(mut self, clip: Clip) -> Self {
        self.0.clip = Some(clip);
        self
    }
}

impl<T: Float> Optimizer<T> for AdamW<T> {
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[Tensor<T>]) {
        self.0.step(params, grads)
    }
    fn learning_rate(&self) -> f64 {
        self.0.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.0.lr = lr;
    }
    fn iterations(&self) -> u64 {
        self.0.iterations()
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn state_dict(&self) -> StateDict<T> {
        self.0.state_dict()
    }
    fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        self.0.load_state_dict(sd)
    }
}
