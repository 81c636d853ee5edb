//! Guards shared by the walkthroughs, so that a bad setting ends with an error that says
//! what to change rather than an abort or a NaN result:
//!
//! * [`check_memory`]: a size (a layer width, a point count) that cannot fit in memory is an
//!   error naming the flag and the bytes it needs, before anything is allocated;
//! * [`Divergence`]: a callback that stops `fit` when the loss becomes NaN or infinite, with
//!   the epoch, the step and the advice to lower the learning rate ([`check_loss`] does the
//!   same for a hand-written loop);
//! * [`first_non_finite`]: finds a NaN or infinite weight, to refuse to load or save it.

use crate::cli::UsageError;
use autograd::Float;
use nn::callbacks::{Callback, TrainContext};
use nn::{Logs, NnError, StateDict};
use std::error::Error;
use std::fmt;

/// `bytes` in binary units: `"1.14 TiB"`.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn meminfo_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Memory this process can still get, where the system tells: on Linux, `MemAvailable` plus
/// free swap, capped by the cgroup (container) limit. `None` elsewhere.
pub fn available_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = meminfo_kib(&text, "MemAvailable:")? + meminfo_kib(&text, "SwapFree:").unwrap_or(0);
    let mut bytes = u128::from(kib) * 1024;
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse::<u128>().ok());
    if let (Some(max), Some(current)) = (read("/sys/fs/cgroup/memory.max"), read("/sys/fs/cgroup/memory.current")) {
        bytes = bytes.min(max.saturating_sub(current));
    }
    Some(bytes)
}

/// Checks that `bytes` more can be allocated. `what` names the cause, e.g.
/// `"--hidden 100000000 (a model of 78,500,001,010 parameters)"`. Where the system does not
/// say how much memory is free, asks the allocator for the amount (and gives it back at once;
/// on a system that overcommits, no page is touched).
///
/// # Errors
/// A [`UsageError`]: `<what> would need about 1.1 TiB (1256000000000 bytes) of memory, more
/// than the 21.3 GiB available`.
pub fn check_memory(what: &str, bytes: u128) -> Result<(), UsageError> {
    let too_much = |limit: &str| {
        UsageError(format!(
            "{what} would need about {} ({bytes} bytes) of memory, more than {limit}",
            human_bytes(bytes)
        ))
    };
    if bytes > isize::MAX as u128 {
        return Err(too_much("this machine can address"));
    }
    match available_memory() {
        Some(avail) if bytes > avail => Err(too_much(&format!("the {} available", human_bytes(avail)))),
        Some(_) => Ok(()),
        None => Vec::<u8>::new().try_reserve_exact(bytes as usize).map_err(|_| too_much("the system can give")),
    }
}

/// The memory a stack of `Dense` layers of `widths` (input first) needs to train on batches of
/// `batch` rows with Adam, in `f32`: for each parameter its value, gradient and Adam's two
/// moments; for each unit of a batch its pre-activation, activation and gradient. Also the
/// parameter count. Saturates instead of overflowing.
pub fn mlp_memory(widths: &[usize], batch: usize) -> (u128, u128) {
    let params: u128 = widths
        .windows(2)
        .map(|w| (w[0] as u128).saturating_mul(w[1] as u128).saturating_add(w[1] as u128))
        .fold(0, u128::saturating_add);
    let units: u128 = widths.iter().skip(1).map(|&w| w as u128).fold(0, u128::saturating_add);
    let bytes = params.saturating_mul(4 * 4).saturating_add(units.saturating_mul(batch as u128).saturating_mul(4 * 3));
    (bytes, params)
}

/// `1234567` as `"1,234,567"`.
pub fn thousands(n: u128) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number as a person would type it on a command line: `0.001`, `1e30`.
pub fn short_number(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// `v / 10` rounded to 3 significant digits (`1e29`, not `1.0000000000000001e29`).
fn a_tenth(v: f64) -> f64 {
    format!("{:.2e}", v / 10.0).parse().unwrap_or(v / 10.0)
}

/// A run whose loss became NaN or infinite.
#[derive(Clone, Debug, PartialEq)]
pub struct Diverged {
    /// What became non-finite: `"loss"` or `"val_loss"`.
    pub quantity: String,
    /// Its value (NaN or an infinity).
    pub value: f64,
    /// The epoch, from 1 (`None` for a loop without epochs).
    pub epoch: Option<usize>,
    /// The step within the epoch, from 1, and the steps per epoch (`None`: at the end of the
    /// epoch, e.g. for the validation loss).
    pub step: Option<(usize, usize)>,
    /// The learning rate the run used.
    pub lr: f64,
    /// The model, when a run trains several (`"the MLP"`).
    pub model: Option<String>,
}

impl fmt::Display for Diverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "training diverged: ")?;
        if let Some(m) = &self.model {
            write!(f, "{m}: ")?;
        }
        write!(f, "the {} became {}", self.quantity, self.value)?;
        match (self.epoch, self.step) {
            (Some(e), Some((s, n))) => write!(f, " at epoch {e}, step {s} of {n}")?,
            (Some(e), None) => write!(f, " at the end of epoch {e}")?,
            (None, Some((s, n))) => write!(f, " at step {s} of {n}")?,
            (None, None) => {}
        }
        write!(
            f,
            ". The learning rate {} is too large for this model and data: try a smaller --lr (e.g. {}). \
             Nothing was saved or plotted.",
            short_number(self.lr),
            short_number(a_tenth(self.lr))
        )
    }
}

impl Error for Diverged {}

/// `Ok` for a finite loss, else the [`Diverged`] error of `step` (from 1) of `steps`.
///
/// # Errors
/// [`Diverged`] for NaN or an infinity.
pub fn check_loss(loss: f64, step: usize, steps: usize, lr: f64) -> Result<(), Diverged> {
    if loss.is_finite() {
        return Ok(());
    }
    Err(Diverged { quantity: "loss".into(), value: loss, epoch: None, step: Some((step, steps)), lr, model: None })
}

/// A `fit` callback that ends training as soon as the loss (a running mean over the epoch's
/// batches, so the first non-finite batch makes it non-finite) or, at the end of an epoch,
/// the validation loss is NaN or infinite, as Keras' `TerminateOnNaN` but with an error, not
/// a quiet stop: pass the result of `fit` through [`Divergence::check`] to get the
/// [`Diverged`] error.
#[derive(Clone, Debug)]
pub struct Divergence {
    lr: f64,
    model: Option<String>,
    /// Set when training diverged.
    pub diverged: Option<Diverged>,
}

impl Divergence {
    /// A guard for a run at learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Divergence { lr, model: None, diverged: None }
    }

    /// Names the model in the message (for runs that train several).
    #[must_use]
    pub fn model(mut self, name: impl Into<String>) -> Self {
        self.model = Some(name.into());
        self
    }

    fn stop(&mut self, quantity: &str, value: f64, epoch: usize, step: Option<(usize, usize)>) -> NnError {
        let d = Diverged {
            quantity: quantity.into(),
            value,
            epoch: Some(epoch + 1),
            step,
            lr: self.lr,
            model: self.model.clone(),
        };
        let e = NnError::config(d.to_string());
        self.diverged = Some(d);
        e
    }

    /// `fit`'s result, with the [`Diverged`] error in place of the one that stopped `fit`.
    ///
    /// # Errors
    /// [`Diverged`], or `fit`'s own error.
    pub fn check<R>(&mut self, fit: Result<R, NnError>) -> Result<R, Box<dyn Error>> {
        match (self.diverged.take(), fit) {
            (Some(d), _) => Err(Box::new(d)),
            (None, r) => Ok(r?),
        }
    }
}

impl<T: Float> Callback<T> for Divergence {
    fn on_batch_end(
        &mut self,
        epoch: usize,
        batch: usize,
        logs: &Logs,
        ctx: &mut TrainContext<'_, T>,
    ) -> Result<(), NnError> {
        match logs.get("loss") {
            Some(&l) if !l.is_finite() => Err(self.stop("loss", l, epoch, Some((batch + 1, ctx.steps_per_epoch)))),
            _ => Ok(()),
        }
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        for quantity in ["loss", "val_loss"] {
            if let Some(&l) = logs.get(quantity).filter(|l| !l.is_finite()) {
                return Err(self.stop(quantity, l, epoch, None));
            }
        }
        Ok(())
    }
}

/// The first NaN or infinite value of a state dict: tensor name, element index (as a
/// multi-index into the tensor's shape) and value.
pub fn first_non_finite<T: Float>(sd: &StateDict<T>) -> Option<(String, Vec<usize>, f64)> {
    sd.iter().find_map(|(name, t)| {
        let flat = t.data().iter().position(|v| !v.to_f64().is_finite())?;
        let mut index = vec![0; t.ndim()];
        let mut rest = flat;
        for (i, &d) in t.shape().iter().enumerate().rev() {
            index[i] = rest % d.max(1);
            rest /= d.max(1);
        }
        Some((name.clone(), index, t.data()[flat].to_f64()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::Tensor;

    #[test]
    fn sizes_beyond_memory_are_refused_naming_the_cause() {
        check_memory("a small buffer", 1 << 20).unwrap();
        let e = check_memory("--points 100000000000000", 100_000_000_000_000 * 40).unwrap_err().to_string();
        assert!(e.starts_with("--points 100000000000000 would need about 3.6 PiB"), "{e}");
        assert!(e.contains("(4000000000000000 bytes)"), "{e}");
        let e = check_memory("--hidden 1e30", u128::MAX).unwrap_err().to_string();
        assert!(e.contains("more than this machine can address"), "{e}");
    }

    #[test]
    fn mlp_memory_counts_parameters_and_saturates() {
        let (bytes, params) = mlp_memory(&[784, 128, 64, 10], 32);
        assert_eq!(params, 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
        assert_eq!(bytes, params * 16 + 32 * (128 + 64 + 10) * 12);
        assert_eq!(mlp_memory(&[784, usize::MAX, usize::MAX, 10], usize::MAX).0, u128::MAX);
    }

    #[test]
    fn numbers_print_for_people() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(thousands(78_500_001_010), "78,500,001,010");
        assert_eq!(thousands(999), "999");
        assert_eq!(
            (short_number(0.001), short_number(1e30), short_number(1e-7)),
            ("0.001".into(), "1e30".into(), "1e-7".into())
        );
    }

    #[test]
    fn the_first_non_finite_weight_is_named_with_its_index() {
        let mut sd = StateDict::<f32>::new();
        sd.insert("0.weight".into(), Tensor::ones([2, 3]));
        assert_eq!(first_non_finite(&sd), None);
        let mut t = Tensor::<f32>::ones([4, 5]);
        t.data_mut()[7] = f32::NAN;
        sd.insert("1.weight".into(), t);
        let (name, index, v) = first_non_finite(&sd).unwrap();
        assert_eq!((name.as_str(), index), ("1.weight", vec![1, 2]));
        assert!(v.is_nan());
    }

    #[test]
    fn divergence_messages_say_where_and_what_to_do() {
        let e = check_loss(f64::NAN, 3, 1500, 1e30).unwrap_err().to_string();
        assert!(e.contains("the loss became NaN at step 3 of 1500"), "{e}");
        assert!(e.contains("learning rate 1e30 is too large") && e.contains("smaller --lr (e.g. 1e29)"), "{e}");
        check_loss(0.5, 1, 1, 0.1).unwrap();
        let d = Diverged {
            quantity: "loss".into(),
            value: f64::INFINITY,
            epoch: Some(2),
            step: Some((17, 40)),
            lr: 100.0,
            model: Some("the MLP".into()),
        };
        let e = d.to_string();
        assert!(e.contains("the MLP: the loss became inf at epoch 2, step 17 of 40"), "{e}");
    }
}
