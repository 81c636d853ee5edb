//! Learning-rate schedules: the learning rate as a function of a counter (the epoch or the
//! step, whichever the [`LearningRateScheduler`](crate::callbacks::LearningRateScheduler)
//! that drives it counts). Reduce-on-plateau depends on the monitored metric and is a
//! callback: [`ReduceLrOnPlateau`](crate::callbacks::ReduceLrOnPlateau).

/// A learning-rate schedule, `lr = schedule.value(t)` for `t = 0, 1, 2, ...`.
///
/// ```
/// use nn::Schedule;
/// let s = Schedule::Step { initial: 0.1, step_size: 10, gamma: 0.5 };
/// assert_eq!(s.value(9), 0.1);
/// assert_eq!(s.value(10), 0.05);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// A fixed learning rate.
    Constant(f64),
    /// `initial · gamma^floor(t / step_size)` (PyTorch's `StepLR`).
    Step {
        /// The starting learning rate.
        initial: f64,
        /// How many units between decays.
        step_size: u64,
        /// The factor per decay.
        gamma: f64,
    },
    /// `initial · decay_rate^(t / decay_steps)`, with the exponent floored if `staircase`
    /// (Keras' `ExponentialDecay`).
    Exponential {
        /// The starting learning rate.
        initial: f64,
        /// The number of units over which the rate decays by `decay_rate`.
        decay_steps: u64,
        /// The decay factor.
        decay_rate: f64,
        /// Decay in discrete steps.
        staircase: bool,
    },
    /// `initial · ((1 − alpha) · ½ (1 + cos(π · min(t, decay_steps) / decay_steps)) + alpha)`
    /// (Keras' `CosineDecay` without warm-up): from `initial` down to `alpha · initial` at
    /// `decay_steps`, constant after.
    Cosine {
        /// The starting learning rate.
        initial: f64,
        /// The length of the decay.
        decay_steps: u64,
        /// The final rate as a fraction of `initial`.
        alpha: f64,
    },
}

impl Schedule {
    /// The learning rate at `t`.
    pub fn value(&self, t: u64) -> f64 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::Step { initial, step_size, gamma } => initial * gamma.powi((t / step_size.max(1)) as i32),
            Schedule::Exponential { initial, decay_steps, decay_rate, staircase } => {
                let mut p = t as f64 / decay_steps.max(1) as f64;
                if staircase {
                    p = p.floor();
                }
                initial * decay_rate.powf(p)
            }
            Schedule::Cosine { initial, decay_steps, alpha } => {
                let d = decay_steps.max(1) as f64;
                let frac = (t as f64).min(d) / d;
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * frac).cos());
                initial * ((1.0 - alpha) * cosine + alpha)
            }
        }
    }
}
