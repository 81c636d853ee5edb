//! Callbacks for `fit`: [`EarlyStopping`], [`ModelCheckpoint`], [`LearningRateScheduler`],
//! [`ReduceLrOnPlateau`], [`TerminateOnNaN`], and the [`Callback`] trait to write your own.
//!
//! Hooks receive a [`TrainContext`] with the module and the optimizer, so a callback can
//! read or restore weights, change the learning rate, or stop training.
//!
//! Note on resuming: the schedulers derive the learning rate from the epoch or the
//! optimizer's step count, so they resume exactly. The state of [`EarlyStopping`] and
//! [`ReduceLrOnPlateau`] (best value, patience counter) is not part of any state dict.

use crate::error::NnError;
use crate::history::Logs;
use crate::module::Module;
use crate::optim::{Optimizer, Schedule};
use crate::state::StateDict;
use crate::train::print_out;
use autograd::Float;

/// What a callback hook can reach during `fit`.
pub struct TrainContext<'a, T: Float> {
    /// The model being trained.
    pub module: &'a mut dyn Module<T>,
    /// Its optimizer.
    pub optimizer: &'a mut dyn Optimizer<T>,
    /// Set to `true` to end training after the current epoch.
    pub stop_training: bool,
    /// The `verbose` level of this `fit`.
    pub verbose: u8,
    /// Batches per epoch.
    pub steps_per_epoch: usize,
}

/// A hook into `fit`. Every method has an empty default. Epochs are 0-based; `logs` at
/// epoch end hold the epoch's metrics (training and `val_`), and a callback may add its
/// own (the learning-rate callbacks add `learning_rate`), which then appear in the
/// [`History`](crate::History).
pub trait Callback<T: Float> {
    /// Before the first epoch.
    fn on_train_begin(&mut self, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        Ok(())
    }
    /// Before each epoch.
    fn on_epoch_begin(&mut self, _epoch: usize, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        Ok(())
    }
    /// Before each batch (`batch` counts from 0 within the epoch).
    fn on_batch_begin(&mut self, _epoch: usize, _batch: usize, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        Ok(())
    }
    /// After each training batch's optimizer step; `logs` hold the epoch's running averages
    /// so far (`loss`, and the metrics cheap enough to compute after every batch, see
    /// [`Metric::per_batch`](crate::Metric::per_batch)), as Keras' `on_train_batch_end`. An
    /// error ends `fit` at once (e.g. on a NaN loss, see [`TerminateOnNaN`]).
    fn on_batch_end(
        &mut self,
        _epoch: usize,
        _batch: usize,
        _logs: &Logs,
        _ctx: &mut TrainContext<'_, T>,
    ) -> Result<(), NnError> {
        Ok(())
    }
    /// After each epoch, validation included.
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &mut Logs, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        Ok(())
    }
    /// After the last epoch (also when stopped early).
    fn on_train_end(&mut self, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        Ok(())
    }
}

/// Whether a lower or a higher monitored value is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracies).
    Max,
    /// `Max` if the monitored name is a score where higher is better (it contains `acc`,
    /// `auc`, `precision`, `recall` or `f1`), `Min` otherwise (losses, errors), as Keras.
    Auto,
}

impl Mode {
    fn resolve(self, monitor: &str) -> Mode {
        match self {
            Mode::Auto if ["acc", "auc", "precision", "recall", "f1"].iter().any(|s| monitor.contains(s)) => Mode::Max,
            Mode::Auto => Mode::Min,
            m => m,
        }
    }
}

/// `current` improves on `best` by more than `min_delta` (Keras' rule).
fn improves(mode: Mode, current: f64, best: f64, min_delta: f64) -> bool {
    match mode {
        Mode::Max => current - min_delta.abs() > best,
        _ => current + min_delta.abs() < best,
    }
}

fn worst(mode: Mode) -> f64 {
    if mode == Mode::Max {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    }
}

fn snapshot<T: Float>(m: &dyn Module<T>) -> StateDict<T> {
    m.state_dict()
}

fn restore<T: Float>(m: &mut dyn Module<T>, weights: &StateDict<T>) -> Result<(), NnError> {
    m.load_state_dict(weights)
}

/// Stops training when the monitored metric has not improved for `patience` epochs
/// (Keras' `EarlyStopping`).
///
/// An epoch improves if its value beats the best so far by more than `min_delta`. After
/// `patience` epochs without improvement, training stops. With `restore_best_weights`, the
/// model's weights are set back to those of the best epoch when training ends, whether it
/// stopped early or ran all its epochs (Keras 3's behaviour; Keras 2 restored only on an
/// early stop).
#[derive(Clone, Debug)]
pub struct EarlyStopping<T: Float = f32> {
    /// The metric watched, e.g. `"val_loss"`.
    pub monitor: String,
    /// The smallest change that counts as an improvement.
    pub min_delta: f64,
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Direction of improvement.
    pub mode: Mode,
    /// Restore the best epoch's weights when stopping.
    pub restore_best_weights: bool,
    best: f64,
    wait: usize,
    best_epoch: Option<usize>,
    stopped_epoch: Option<usize>,
    best_weights: Option<StateDict<T>>,
}

impl<T: Float> EarlyStopping<T> {
    /// Watches `monitor` with patience 0, min_delta 0, mode auto, no restoring (Keras' defaults).
    pub fn new(monitor: &str) -> Self {
        EarlyStopping {
            monitor: monitor.to_string(),
            min_delta: 0.0,
            patience: 0,
            mode: Mode::Auto,
            restore_best_weights: false,
            best: f64::NAN,
            wait: 0,
            best_epoch: None,
            stopped_epoch: None,
            best_weights: None,
        }
    }

    /// Sets the patience.
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }

    /// Sets min_delta.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.min_delta = d;
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, m: Mode) -> Self {
        self.mode = m;
        self
    }

    /// Restores the best weights when stopping.
    pub fn restore_best_weights(mut self, yes: bool) -> Self {
        self.restore_best_weights = yes;
        self
    }

    /// The epoch at which training was stopped, if it was.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The best epoch so far and its value.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best_epoch.map(|e| (e, self.best))
    }
}

impl<T: Float> Callback<T> for EarlyStopping<T> {
    fn on_train_begin(&mut self, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        self.best = worst(self.mode.resolve(&self.monitor));
        self.wait = 0;
        self.best_epoch = None;
        self.stopped_epoch = None;
        self.best_weights = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        let Some(&current) = logs.get(&self.monitor) else {
            return Err(NnError::config(format!(
                "EarlyStopping: metric `{}` is not logged (available: {})",
                self.monitor,
                logs.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        let mode = self.mode.resolve(&self.monitor);
        self.wait += 1;
        if improves(mode, current, self.best, self.min_delta) {
            self.best = current;
            self.best_epoch = Some(epoch);
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights = Some(snapshot(&*ctx.module));
            }
            return Ok(());
        }
        if self.wait >= self.patience && self.best_epoch.is_some() {
            self.stopped_epoch = Some(epoch);
            ctx.stop_training = true;
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        if let (Some(e), true) = (self.stopped_epoch, ctx.verbose > 0) {
            print_out(format_args!("Epoch {}: early stopping\n", e + 1))?;
        }
        if let (true, Some(w)) = (self.restore_best_weights, self.best_weights.take()) {
            if ctx.verbose > 0 {
                print_out(format_args!(
                    "Restoring model weights from the end of the best epoch: {}.\n",
                    self.best_epoch.unwrap_or(0) + 1
                ))?;
            }
            restore(ctx.module, &w)?;
        }
        Ok(())
    }
}

/// What a [`ModelCheckpoint`] hands to its sink.
pub struct CheckpointEvent<'a, T: Float> {
    /// The epoch just finished (0-based).
    pub epoch: usize,
    /// Its logs.
    pub logs: &'a Logs,
    /// The model's parameters (exported layout, see [`Module::state_dict`]).
    pub model: &'a StateDict<T>,
    /// The optimizer's state.
    pub optimizer: &'a StateDict<T>,
}

/// The sink a [`ModelCheckpoint`] writes to.
pub type CheckpointSink<T> = Box<dyn FnMut(&CheckpointEvent<'_, T>) -> Result<(), NnError>>;

/// Saves the model (and optimizer) state after every epoch, or only when the monitored
/// metric improves (Keras' `ModelCheckpoint` with `save_best_only`).
///
/// The state is handed to a sink (a closure), which may write a file with the checkpoint
/// module or keep it in memory; the last saved state is also kept in
/// [`last_saved`](Self::last_saved).
pub struct ModelCheckpoint<T: Float = f32> {
    sink: Option<CheckpointSink<T>>,
    /// The metric for `save_best_only`.
    pub monitor: String,
    /// Save only when `monitor` improves.
    pub save_best_only: bool,
    /// Direction of improvement.
    pub mode: Mode,
    best: f64,
    last: Option<(usize, StateDict<T>, StateDict<T>)>,
}

impl<T: Float> Default for ModelCheckpoint<T> {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl<T: Float> ModelCheckpoint<T> {
    /// Saves to `sink` every epoch (`monitor = "val_loss"` for when `save_best_only` is set).
    pub fn new(sink: impl FnMut(&CheckpointEvent<'_, T>) -> Result<(), NnError> + 'static) -> Self {
        ModelCheckpoint { sink: Some(Box::new(sink)), ..Self::in_memory() }
    }

    /// Saves a training checkpoint file ([`crate::io::save_checkpoint`]: model,
    /// optimizer state and the number of epochs completed, written atomically) to `path`;
    /// `{epoch}` in the path is replaced by that number (so `"ckpt-{epoch}.safetensors"`
    /// keeps one file per epoch, a fixed path keeps the latest).
    pub fn to_file(path: impl Into<std::path::PathBuf>) -> Self {
        let path: std::path::PathBuf = path.into();
        Self::new(move |ev| {
            let done = ev.epoch + 1;
            let p = match path.to_str() {
                Some(s) if s.contains("{epoch}") => s.replace("{epoch}", &done.to_string()).into(),
                _ => path.clone(),
            };
            let ck = crate::io::Checkpoint::new(ev.model.clone(), ev.optimizer.clone(), done);
            crate::io::save_checkpoint(p, &ck)
        })
    }

    /// Keeps the saved state in memory only ([`last_saved`](Self::last_saved)).
    pub fn in_memory() -> Self {
        ModelCheckpoint {
            sink: None,
            monitor: "val_loss".to_string(),
            save_best_only: false,
            mode: Mode::Auto,
            best: f64::NAN,
            last: None,
        }
    }

    /// Saves only when `monitor` improves.
    pub fn save_best_only(mut self, monitor: &str) -> Self {
        self.monitor = monitor.to_string();
        self.save_best_only = true;
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, m: Mode) -> Self {
        self.mode = m;
        self
    }

    /// The last saved `(epoch, model state, optimizer state)`.
    pub fn last_saved(&self) -> Option<&(usize, StateDict<T>, StateDict<T>)> {
        self.last.as_ref()
    }
}

impl<T: Float> Callback<T> for ModelCheckpoint<T> {
    fn on_train_begin(&mut self, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        self.best = worst(self.mode.resolve(&self.monitor));
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        if self.save_best_only {
            let Some(&current) = logs.get(&self.monitor) else {
                return Err(NnError::config(format!("ModelCheckpoint: metric `{}` is not logged", self.monitor)));
            };
            if !improves(self.mode.resolve(&self.monitor), current, self.best, 0.0) {
                return Ok(());
            }
            if ctx.verbose > 0 {
                print_out(format_args!(
                    "Epoch {}: {} improved from {:.5} to {:.5}, saving model\n",
                    epoch + 1,
                    self.monitor,
                    self.best,
                    current
                ))?;
            }
            self.best = current;
        }
        let model = ctx.module.state_dict();
        let optimizer = ctx.optimizer.state_dict();
        if let Some(sink) = &mut self.sink {
            sink(&CheckpointEvent { epoch, logs, model: &model, optimizer: &optimizer })?;
        }
        self.last = Some((epoch, model, optimizer));
        Ok(())
    }
}

/// When a [`LearningRateScheduler`] advances its schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleUnit {
    /// `t` is the epoch (0-based); set at the start of each epoch (Keras'
    /// `LearningRateScheduler`, PyTorch's per-epoch `scheduler.step()`).
    Epoch,
    /// `t` is the optimizer's step count; set before each batch (a Keras schedule passed as
    /// `learning_rate`).
    Step,
}

/// Sets the optimizer's learning rate from a [`Schedule`] every epoch or every step, and
/// logs it as `learning_rate`.
#[derive(Clone, Debug)]
pub struct LearningRateScheduler {
    /// The schedule.
    pub schedule: Schedule,
    /// Epoch- or step-wise.
    pub unit: ScheduleUnit,
}

impl LearningRateScheduler {
    /// A per-epoch scheduler.
    pub fn per_epoch(schedule: Schedule) -> Self {
        LearningRateScheduler { schedule, unit: ScheduleUnit::Epoch }
    }

    /// A per-step scheduler.
    pub fn per_step(schedule: Schedule) -> Self {
        LearningRateScheduler { schedule, unit: ScheduleUnit::Step }
    }
}

impl<T: Float> Callback<T> for LearningRateScheduler {
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        if self.unit == ScheduleUnit::Epoch {
            ctx.optimizer.set_learning_rate(self.schedule.value(epoch as u64));
        }
        Ok(())
    }

    fn on_batch_begin(&mut self, _epoch: usize, _batch: usize, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        if self.unit == ScheduleUnit::Step {
            let t = ctx.optimizer.iterations();
            ctx.optimizer.set_learning_rate(self.schedule.value(t));
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, logs: &mut Logs, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        logs.insert("learning_rate".to_string(), ctx.optimizer.learning_rate());
        Ok(())
    }
}

/// Multiplies the learning rate by `factor` when the monitored metric has not improved for
/// `patience` epochs (Keras' `ReduceLROnPlateau`, same rules: `min_delta`, `cooldown`,
/// `min_lr`).
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    /// The metric watched.
    pub monitor: String,
    /// The factor applied to the learning rate (< 1).
    pub factor: f64,
    /// Epochs without improvement before reducing.
    pub patience: usize,
    /// The smallest change that counts as an improvement.
    pub min_delta: f64,
    /// Epochs to wait after a reduction before counting again.
    pub cooldown: usize,
    /// The learning rate is never reduced below this.
    pub min_lr: f64,
    /// Direction of improvement.
    pub mode: Mode,
    best: f64,
    wait: usize,
    cooldown_counter: usize,
}

impl ReduceLrOnPlateau {
    /// Keras' defaults: factor 0.1, patience 10, min_delta 1e-4, cooldown 0, min_lr 0.
    pub fn new(monitor: &str) -> Self {
        ReduceLrOnPlateau {
            monitor: monitor.to_string(),
            factor: 0.1,
            patience: 10,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            mode: Mode::Auto,
            best: f64::NAN,
            wait: 0,
            cooldown_counter: 0,
        }
    }

    /// Sets the factor.
    pub fn factor(mut self, f: f64) -> Self {
        self.factor = f;
        self
    }

    /// Sets the patience.
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }

    /// Sets min_delta.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.min_delta = d;
        self
    }

    /// Sets the cooldown.
    pub fn cooldown(mut self, c: usize) -> Self {
        self.cooldown = c;
        self
    }

    /// Sets the floor of the learning rate.
    pub fn min_lr(mut self, lr: f64) -> Self {
        self.min_lr = lr;
        self
    }

    /// Feeds one epoch's value; returns the new learning rate if it was reduced. (The
    /// callback calls this; it is public so the rule can be used in a hand-written loop.)
    pub fn observe(&mut self, current: f64, lr: f64) -> Option<f64> {
        let mode = self.mode.resolve(&self.monitor);
        if self.best.is_nan() {
            self.best = worst(mode);
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if improves(mode, current, self.best, self.min_delta) {
            self.best = current;
            self.wait = 0;
        } else if self.cooldown_counter == 0 {
            self.wait += 1;
            if self.wait >= self.patience && lr > self.min_lr {
                self.cooldown_counter = self.cooldown;
                self.wait = 0;
                return Some((lr * self.factor).max(self.min_lr));
            }
        }
        None
    }
}

impl<T: Float> Callback<T> for ReduceLrOnPlateau {
    fn on_train_begin(&mut self, _ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        self.best = f64::NAN;
        self.wait = 0;
        self.cooldown_counter = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut TrainContext<'_, T>) -> Result<(), NnError> {
        let Some(&current) = logs.get(&self.monitor) else {
            return Err(NnError::config(format!("ReduceLrOnPlateau: metric `{}` is not logged", self.monitor)));
        };
        let lr = ctx.optimizer.learning_rate();
        if let Some(new) = self.observe(current, lr) {
            ctx.optimizer.set_learning_rate(new);
            if ctx.verbose > 0 {
                print_out(format_args!("Epoch {}: ReduceLROnPlateau reducing learning rate to {new}.\n", epoch + 1))?;
            }
        }
        logs.insert("learning_rate".to_string(), ctx.optimizer.learning_rate());
        Ok(())
    }
}

/// Stops training with [`NnError::NonFiniteLoss`] as soon as the loss (the running mean of the
/// epoch) is NaN or infinite (Keras' `TerminateOnNaN`, which stops without an error; here
/// `fit` returns the error, so a diverged run is never mistaken for a finished one). The
/// check runs after each batch's update.
///
/// ```
/// use nn::{Callback, TerminateOnNaN};
/// let mut callbacks: Vec<Box<dyn Callback<f32>>> = vec![Box::new(TerminateOnNaN)];
/// # let _ = &mut callbacks;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminateOnNaN;

impl<T: Float> Callback<T> for TerminateOnNaN {
    fn on_batch_end(
        &mut self,
        epoch: usize,
        batch: usize,
        logs: &Logs,
        ctx: &mut TrainContext<'_, T>,
    ) -> Result<(), NnError> {
        match logs.get("loss") {
            Some(&value) if !value.is_finite() => {
                ctx.stop_training = true;
                if ctx.verbose > 0 {
                    let _ = print_out(format_args!("Batch {}: invalid loss, terminating training\n", batch + 1));
                }
                Err(NnError::NonFiniteLoss { epoch, batch, value })
            }
            _ => Ok(()),
        }
    }
}
