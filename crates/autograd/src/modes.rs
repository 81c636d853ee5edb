//! Per-thread modes every op consults: grad mode (record or not), anomaly detection, and
//! forward-mode tangent propagation. One `Cell` holds all three, so an op reads them with one
//! thread-local access.

use std::cell::Cell;

const GRAD: u8 = 1;
const ANOMALY: u8 = 2;
const FORWARD: u8 = 4;

thread_local! {
    static MODES: Cell<u8> = const { Cell::new(GRAD) };
}

/// The modes of this thread, as one value (read once per op).
#[derive(Clone, Copy)]
pub(crate) struct Modes(u8);

impl Modes {
    #[inline(always)]
    pub(crate) fn grad(self) -> bool {
        self.0 & GRAD != 0
    }
    #[inline(always)]
    pub(crate) fn anomaly(self) -> bool {
        self.0 & ANOMALY != 0
    }
    #[inline(always)]
    pub(crate) fn forward(self) -> bool {
        self.0 & FORWARD != 0
    }
}

/// This thread's modes.
#[inline(always)]
pub(crate) fn current() -> Modes {
    Modes(MODES.with(|m| m.get()))
}

/// Sets or clears `bit`, returning a guard that restores the previous modes.
fn set_bit(bit: u8, on: bool) -> ModeGuard {
    let prev = MODES.with(|m| {
        let prev = m.get();
        m.set(if on { prev | bit } else { prev & !bit });
        prev
    });
    ModeGuard { prev, bit }
}

/// Restores one mode to what it was when dropped. Made by [`no_grad_guard`],
/// [`enable_grad_guard`], [`anomaly_guard`] and the forward-mode scopes.
#[must_use = "the mode is restored when the guard is dropped"]
pub struct ModeGuard {
    prev: u8,
    bit: u8,
}

impl Drop for ModeGuard {
    fn drop(&mut self) {
        let (prev, bit) = (self.prev, self.bit);
        MODES.with(|m| m.set((m.get() & !bit) | (prev & bit)));
    }
}

/// The guard of grad mode (see [`no_grad_guard`]).
pub type GradModeGuard = ModeGuard;
/// The guard of anomaly mode (see [`anomaly_guard`]).
pub type AnomalyGuard = ModeGuard;

/// Whether ops currently record onto tapes (false inside [`no_grad`]).
#[inline] // read by every op: without it, a call across crates
pub fn is_grad_enabled() -> bool {
    current().grad()
}

/// Whether anomaly detection is on for this thread (see [`detect_anomaly`]).
#[inline]
pub fn is_anomaly_enabled() -> bool {
    current().anomaly()
}

/// Whether ops propagate tangents (inside [`forward_ad`](crate::forward_ad) and
/// [`jvp`](crate::jvp)).
#[inline]
pub fn is_forward_ad_enabled() -> bool {
    current().forward()
}

pub(crate) fn set_grad_mode(on: bool) -> ModeGuard {
    set_bit(GRAD, on)
}

pub(crate) fn set_anomaly_mode(on: bool) -> ModeGuard {
    set_bit(ANOMALY, on)
}

pub(crate) fn set_forward_mode(on: bool) -> ModeGuard {
    set_bit(FORWARD, on)
}

/// Turns recording off until the guard is dropped (for evaluation and inference).
pub fn no_grad_guard() -> GradModeGuard {
    set_grad_mode(false)
}

/// Turns recording on until the guard is dropped (e.g. inside a [`no_grad`] scope).
pub fn enable_grad_guard() -> GradModeGuard {
    set_grad_mode(true)
}

/// Runs `f` without recording: ops on variables compute values only, allocate no graph and
/// return constants, like `torch.no_grad()`. Forward-mode tangents still propagate (as in
/// PyTorch, where `no_grad` does not affect forward AD).
///
/// ```
/// use autograd::{no_grad, Tape, Tensor};
/// let tape = Tape::<f32>::new();
/// let x = tape.var(Tensor::scalar(3.0));
/// let y = no_grad(|| &x * 2.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = no_grad_guard();
    f()
}

/// Turns anomaly detection on until the guard is dropped (see [`detect_anomaly`]).
pub fn anomaly_guard() -> AnomalyGuard {
    set_anomaly_mode(true)
}

/// Runs `f` with anomaly detection, like PyTorch's `detect_anomaly`: the first op whose
/// forward value or backward gradient contains NaN or infinity panics with a message naming
/// the op, its input shapes and the source location that called it. Off (the default), the
/// check is never made.
///
/// ```should_panic
/// use autograd::{detect_anomaly, Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Tensor::zeros([3]));
/// // panics: "anomaly: forward of `ln` at src/main.rs:..: produced -inf ..."
/// detect_anomaly(|| x.ln().sum());
/// ```
pub fn detect_anomaly<R>(f: impl FnOnce() -> R) -> R {
    let _g = anomaly_guard();
    f()
}

/// Runs `f` (a parallel kernel) with this thread's modes at their defaults, restoring them
/// afterwards. While a rayon worker waits for its parallel chunks it may run other queued
/// jobs, such as the user's own `par_iter` closures; those must see the modes a fresh thread
/// has, not a backward sweep's "grad off" or a `no_grad` scope of the caller. The kernels
/// themselves never read the modes.
pub(crate) fn with_default_modes<R>(f: impl FnOnce() -> R) -> R {
    let prev = MODES.with(|m| m.replace(GRAD));
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            MODES.with(|m| m.set(self.0));
        }
    }
    let _restore = Restore(prev);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mechanism behind the parallel kernels' isolation: inside `with_default_modes` a job
    /// sees a fresh thread's modes, and the caller's come back afterwards (also on a panic).
    #[test]
    fn default_modes_inside_restored_after() {
        let _ng = no_grad_guard();
        let _an = anomaly_guard();
        let _fw = set_forward_mode(true);
        assert!(!is_grad_enabled() && is_anomaly_enabled() && is_forward_ad_enabled());
        with_default_modes(|| assert!(is_grad_enabled() && !is_anomaly_enabled() && !is_forward_ad_enabled()));
        assert!(!is_grad_enabled() && is_anomaly_enabled() && is_forward_ad_enabled());
        let r = std::panic::catch_unwind(|| with_default_modes(|| panic!("inside")));
        assert!(r.is_err());
        assert!(!is_grad_enabled() && is_anomaly_enabled() && is_forward_ad_enabled());
    }

    /// Guards restore only their own mode, whatever order they are dropped in.
    #[test]
    fn guards_restore_their_own_bit() {
        let g = no_grad_guard();
        let a = anomaly_guard();
        drop(g);
        assert!(is_grad_enabled() && is_anomaly_enabled());
        drop(a);
        assert!(is_grad_enabled() && !is_anomaly_enabled());
    }
}
