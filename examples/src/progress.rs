//! Training logs for the walkthroughs: an [`EpochLog`] callback that times every epoch and,
//! for runs of many tiny epochs, prints the Keras-style epoch line only every `n` epochs.

use autograd::Float;
use nn::callbacks::{Callback, TrainContext};
use nn::{Logs, NnError};
use std::time::{Duration, Instant};

/// How much a walkthrough prints while it trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing (tests).
    Silent,
    /// Keras' progress bar for every epoch (`fit(verbose=1)`): redrawn in place on a
    /// terminal, one final line per epoch otherwise.
    EveryEpoch,
    /// The same final epoch line, but only for the first epoch, every `n`-th epoch and the
    /// last one (for runs of hundreds of epochs that take milliseconds each).
    Every(usize),
}

impl Verbosity {
    /// From a `--log-every N` option and a `--quiet` flag: `N <= 1` is every epoch.
    pub fn from_options(log_every: usize, quiet: bool) -> Self {
        match (quiet, log_every) {
            (true, _) => Verbosity::Silent,
            (false, 0 | 1) => Verbosity::EveryEpoch,
            (false, n) => Verbosity::Every(n),
        }
    }

    /// Whether anything is printed.
    pub fn is_on(self) -> bool {
        self != Verbosity::Silent
    }

    /// The `verbose` value to pass to `fit`: 1 for [`Verbosity::EveryEpoch`], else 0 (the
    /// [`EpochLog`] callback then prints the selected epochs).
    pub fn fit_verbose(self) -> u8 {
        u8::from(self == Verbosity::EveryEpoch)
    }
}

/// Times each epoch and, with [`Verbosity::Every`], prints the selected epochs' Keras lines:
///
/// ```text
/// Epoch 10/100
/// 4/4 [==============================] - 0s 212us/step - loss: 0.0871
/// ```
pub struct EpochLog {
    verbosity: Verbosity,
    epochs: usize,
    started: Option<Instant>,
    /// Wall-clock seconds of each epoch (validation included).
    pub epoch_seconds: Vec<f64>,
}

impl EpochLog {
    /// A log for a run of `epochs` epochs.
    pub fn new(verbosity: Verbosity, epochs: usize) -> Self {
        EpochLog { verbosity, epochs, started: None, epoch_seconds: Vec::new() }
    }

    /// Mean seconds per epoch (0 if no epoch ran).
    pub fn mean_epoch_seconds(&self) -> f64 {
        if self.epoch_seconds.is_empty() {
            0.0
        } else {
            self.epoch_seconds.iter().sum::<f64>() / self.epoch_seconds.len() as f64
        }
    }
}

impl<T: Float> Callback<T> for EpochLog {
    fn on_epoch_begin(&mut self, _epoch: usize, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        self.started = Some(Instant::now());
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        let elapsed = self.started.map(|t| t.elapsed()).unwrap_or(Duration::ZERO);
        self.epoch_seconds.push(elapsed.as_secs_f64());
        if let Verbosity::Every(n) = self.verbosity {
            let shown = epoch == 0 || (epoch + 1).is_multiple_of(n) || epoch + 1 == self.epochs;
            if shown {
                crate::outln!("Epoch {}/{}", epoch + 1, self.epochs)?;
                crate::outln!("{}", nn::train::final_line(ctx.steps_per_epoch, elapsed, logs))?;
            }
        }
        Ok(())
    }
}
