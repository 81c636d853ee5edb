//! The training loop behind [`Model`](crate::Model)'s `fit`/`evaluate`/`predict`:
//! [`FitOptions`], [`EvaluateOptions`], the Keras-style progress bar ([`Progress`]), and the
//! functions [`fit`], [`evaluate`], [`predict`] that work on any [`Module`].
//!
//! # One training step
//!
//! For each batch: a fresh [`Ctx`] (own tape; dropout generator derived from
//! `(seed, epoch, batch)`), the forward pass, the loss plus the regularisation penalties, the
//! backward sweep, then — with the tape and every variable of the step dropped — the optimizer
//! updates the parameters in place with no copy of their buffers. When the loss can absorb a
//! final softmax or sigmoid ([`Loss::logits_of`]) the forward pass stops before it
//! ([`Module::forward_logits`]) and the loss is computed from the logits; the metrics get the
//! probabilities (see [`losses`](crate::losses)).
//!
//! The module is in training mode ([`Module::train`]) for the training batches and in
//! evaluation mode for validation, `evaluate` and `predict`; `fit` leaves it in evaluation mode.
//!
//! # Reproducibility
//!
//! With [`FitOptions::seed`] set, a run is a pure function of the initial weights, the
//! data, the options and the optimizer state: the shuffle of epoch `e` is
//! [`epoch_permutation`]`(n, seed, e)` and the dropout masks of batch `b` come from
//! `derive_seed(seed, [dropout, e, b])`. Training 4 epochs equals training 2, exporting
//! model and optimizer state, importing them into fresh objects and training with
//! `initial_epoch: 2, epochs: 4`, bit for bit.
//!
//! # Inputs
//!
//! The inputs are any [`BatchSource`]: a [`Tensor`], or a source that builds each batch on
//! demand such as [`U8Images`](crate::data::U8Images) (bytes scaled per batch), so that the
//! full float array of a large data set never exists. The targets are a [`Tensor`]. A batch
//! is [`BatchSource::gather`] of a slice of the epoch's permutation (or
//! [`BatchSource::gather_range`] of consecutive samples when not shuffling, for validation,
//! evaluation and prediction), and `validation_split` is a range of sample indices: nothing is
//! copied to split. Only the values matter: training on a source gives the same weights, bit
//! for bit, as training on a tensor holding the same values.
//!
//! Before anything runs, `fit` and `evaluate` check that the data fits the model and the loss,
//! and that every input and target is finite ([`BatchSource::first_non_finite`]; the error
//! names the first bad sample). `check_finite: false` skips the scan.

use crate::callbacks::{Callback, TrainContext};
use crate::data::{epoch_permutation, labels_from_tensor, num_batches, validation_split_point, BatchSource};
use crate::error::NnError;
use crate::history::{History, Logs};
use crate::losses::{Loss, TargetKind};
use crate::metrics::{Metric, MetricSetup};
use crate::module::{Ctx, Forward, Module};
use crate::optim::Optimizer;
use crate::rng::{next_seed, STREAM_DROPOUT};
use crate::state::StateDict;
use autograd::{Float, Tensor, Var};
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::time::{Duration, Instant};

/// What `compile` sets: the optimizer, the loss and the metrics.
pub struct Compiled<T: Float> {
    /// The optimizer.
    pub optimizer: Box<dyn Optimizer<T> + Send>,
    /// The loss.
    pub loss: Box<dyn Loss<T>>,
    /// The metrics besides the loss.
    pub metrics: Vec<Box<dyn Metric<T>>>,
}

impl<T: Float> Compiled<T> {
    /// Bundles an optimizer, a loss and metrics.
    pub fn new(
        optimizer: impl Optimizer<T> + Send + 'static,
        loss: impl Loss<T> + 'static,
        metrics: impl IntoIterator<Item = Box<dyn Metric<T>>>,
    ) -> Self {
        Compiled { optimizer: Box::new(optimizer), loss: Box::new(loss), metrics: metrics.into_iter().collect() }
    }

    /// Tells the metrics what the loss implies, and checks that no two log the same name.
    fn prepare_metrics(&mut self, op: &str) -> Result<(), NnError> {
        let setup = MetricSetup { target: self.loss.target_kind(), logits: self.loss.outputs_are_logits() };
        let mut seen = vec!["loss".to_string()];
        for m in &mut self.metrics {
            m.prepare(&setup);
            let name = m.name();
            if seen.contains(&name) {
                return Err(NnError::config(format!(
                    "{op}: two metrics (or a metric and the loss) are logged as `{name}`; give one another name"
                )));
            }
            seen.push(name);
        }
        Ok(())
    }
}

/// Options of `fit`, with Keras' defaults (`epochs: 1, batch_size: 32, shuffle: true,
/// verbose: 1`).
pub struct FitOptions<T: Float = f32> {
    /// Train until this epoch (exclusive, counted from 0, so with `initial_epoch: 0` this is
    /// the number of epochs).
    pub epochs: usize,
    /// Samples per gradient step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Keras' `validation_split`: the **last** fraction of the samples, taken before any
    /// shuffling, is held out for validation (so sorted data gives a skewed validation set;
    /// split with [`train_test_split`](crate::data::train_test_split) and pass
    /// `validation_data` for a shuffled or stratified split). Ignored if `validation_data` or
    /// `validation_source` is given. The split is a range of sample indices: the inputs are not
    /// copied.
    pub validation_split: f64,
    /// Explicit validation inputs and targets.
    pub validation_data: Option<(Tensor<T>, Tensor<T>)>,
    /// Explicit validation inputs from any [`BatchSource`] (such as
    /// [`U8Images`](crate::data::U8Images), which converts one batch at a time), and their
    /// targets: `validation_data` without materialising the inputs. At most one of the two
    /// may be set.
    pub validation_source: Option<(Box<dyn BatchSource<T>>, Tensor<T>)>,
    /// Samples per batch of the validation pass at the end of each epoch (Keras'
    /// `validation_batch_size`); `None`: `batch_size`. Only speed depends on it (a larger
    /// batch makes better use of the matrix products); the loss and metrics are the same up
    /// to rounding.
    pub validation_batch_size: Option<usize>,
    /// Reshuffle the training samples every epoch.
    pub shuffle: bool,
    /// 0: silent; 1: a progress bar per epoch (updated in place on a terminal, one final line
    /// otherwise); 2: one line per epoch.
    pub verbose: u8,
    /// The seed of shuffling and dropout; `None` draws one from this thread's generator
    /// (see [`manual_seed`](crate::manual_seed)). Set it to make a run reproducible or
    /// resumable.
    pub seed: Option<u64>,
    /// The epoch to start from (for resuming: epochs `initial_epoch..epochs` run).
    pub initial_epoch: usize,
    /// Callbacks, called in order. (To get a callback back after `fit`, pass it to
    /// `fit_with_callbacks` instead.)
    pub callbacks: Vec<Box<dyn Callback<T>>>,
    /// Check that every input and target (validation data included) is finite before
    /// training, and fail naming the first sample that is not (default `true`). The scan
    /// reads the data once; turn it off for speed when the data is known to be clean.
    pub check_finite: bool,
}

impl<T: Float> Default for FitOptions<T> {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            validation_split: 0.0,
            validation_data: None,
            validation_source: None,
            validation_batch_size: None,
            shuffle: true,
            verbose: 1,
            seed: None,
            initial_epoch: 0,
            callbacks: Vec::new(),
            check_finite: true,
        }
    }
}

/// Options of `evaluate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluateOptions {
    /// Samples per batch (Keras' default 32); only speed depends on it.
    pub batch_size: usize,
    /// Check that every input and target is finite first (see [`FitOptions::check_finite`]).
    pub check_finite: bool,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions { batch_size: 32, check_finite: true }
    }
}

/// `[len, sample_shape..]`: the shape of all of `x` as one tensor (for messages).
fn full_shape<T: Float>(x: &dyn BatchSource<T>) -> Vec<usize> {
    std::iter::once(x.len()).chain(x.sample_shape().iter().copied()).collect()
}

/// Checks `x` against the model's input width (when it has one and the samples are vectors).
fn check_features<T: Float, M: Module<T> + ?Sized>(module: &M, x: &dyn BatchSource<T>) -> Result<(), NnError> {
    if let (Some(f), [found]) = (module.in_features(), x.sample_shape()) {
        if *found != f {
            return Err(NnError::shape("x (features)", &[x.len(), f], &full_shape(x)));
        }
    }
    Ok(())
}

/// Fails naming the first sample of `x` or `y` that holds a NaN or an infinity.
fn check_finite<T: Float>(op: &str, part: &str, x: &dyn BatchSource<T>, y: &Tensor<T>) -> Result<(), NnError> {
    let what = |v: T| if v.is_nan() { "a NaN" } else { "an infinity" };
    if let Some((i, j)) = x.first_non_finite() {
        let v = x.gather_range(i..i + 1).data()[j];
        return Err(NnError::data(format!(
            "{op}: {part}input sample {i} holds {} (at position {j} of the sample); training on it would give NaN \
             weights (set check_finite: false to skip this check)",
            what(v)
        )));
    }
    if let Some((i, j)) = BatchSource::first_non_finite(y) {
        let v = BatchSource::gather_range(y, i..i + 1).data()[j];
        return Err(NnError::data(format!(
            "{op}: the {part}target of sample {i} holds {} (at position {j}) (set check_finite: false to skip this \
             check)",
            what(v)
        )));
    }
    Ok(())
}

/// Checks `x` and `y` against the model and the loss before training or evaluating.
fn check_data<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    loss: &dyn Loss<T>,
    x: &dyn BatchSource<T>,
    y: &Tensor<T>,
) -> Result<(), NnError> {
    x.check()?;
    if y.ndim() == 0 {
        return Err(NnError::data("targets need a sample axis (they are a scalar)"));
    }
    if x.len() != y.shape()[0] {
        return Err(NnError::data(format!(
            "inputs have {} samples (shape {:?}) but targets {} (shape {:?})",
            x.len(),
            full_shape(x),
            y.shape()[0],
            y.shape()
        )));
    }
    if x.is_empty() {
        return Err(NnError::data("no samples"));
    }
    check_features(module, x)?;
    let in_f = module.in_features();
    let out_f = module.out_features(in_f.or_else(|| x.sample_shape().first().copied()));
    let n = y.shape()[0];
    match (loss.target_kind(), out_f) {
        (TargetKind::Sparse, _) => {
            labels_from_tensor(y, out_f.unwrap_or(usize::MAX))?;
        }
        (TargetKind::OneHot, Some(c)) if y.shape() != [n, c] => {
            return Err(NnError::shape("y (one-hot)", &[n, c], y.shape()))
        }
        (TargetKind::Dense | TargetKind::Binary, Some(c)) => {
            let ok = y.shape() == [n, c] || (c == 1 && y.shape() == [n]);
            if !ok {
                return Err(NnError::shape("y", &[n, c], y.shape()));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Samples `rows` of inputs `x` and targets `y`: all the data, or its training or validation
/// part (a range of indices, so splitting copies nothing).
struct Part<'a, T: Float> {
    x: &'a dyn BatchSource<T>,
    y: &'a Tensor<T>,
    rows: Range<usize>,
}

impl<'a, T: Float> Part<'a, T> {
    fn all(x: &'a dyn BatchSource<T>, y: &'a Tensor<T>) -> Self {
        Part { x, y, rows: 0..x.len() }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Mini-batches `(x, y)` of `batch_size` samples (the last one smaller), in order, or in
    /// the order [`epoch_permutation`]`(len, seed, epoch)` when `shuffle = Some((seed,
    /// epoch))`: the batches of [`Dataset::batches`](crate::data::Dataset::batches) on the
    /// same samples.
    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<(u64, u64)>,
    ) -> impl Iterator<Item = (Tensor<T>, Tensor<T>)> + '_ {
        let (start, n) = (self.rows.start, self.len());
        let order = shuffle.map(|(seed, epoch)| {
            let mut o = epoch_permutation(n, seed, epoch);
            o.iter_mut().for_each(|i| *i += start);
            o
        });
        (0..num_batches(n, batch_size)).map(move |b| {
            let (lo, hi) = (b * batch_size, ((b + 1) * batch_size).min(n));
            match &order {
                Some(o) => (self.x.gather(&o[lo..hi]), BatchSource::gather(self.y, &o[lo..hi])),
                None => (
                    self.x.gather_range(start + lo..start + hi),
                    BatchSource::gather_range(self.y, start + lo..start + hi),
                ),
            }
        })
    }
}

/// The running loss over an epoch (weighted by batch size, as Keras) and the metrics.
struct Accum<'m, T: Float> {
    loss_sum: f64,
    samples: f64,
    metrics: &'m mut [Box<dyn Metric<T>>],
}

impl<'m, T: Float> Accum<'m, T> {
    fn new(metrics: &'m mut [Box<dyn Metric<T>>]) -> Self {
        metrics.iter_mut().for_each(|m| m.reset());
        Accum { loss_sum: 0.0, samples: 0.0, metrics }
    }

    fn add(&mut self, loss: f64, y_pred: Option<&Tensor<T>>, y: &Tensor<T>) -> Result<(), NnError> {
        let n = y.shape().first().copied().unwrap_or(1) as f64;
        self.loss_sum += loss * n;
        self.samples += n;
        if let Some(p) = y_pred {
            for m in self.metrics.iter_mut() {
                m.update(p, y)?;
            }
        }
        Ok(())
    }

    fn loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1.0)
    }

    /// What `on_batch_end` sees: the running loss and the metrics cheap enough to report
    /// after every batch ([`Metric::per_batch`]).
    fn batch_logs(&self) -> Logs {
        let mut l = Logs::new();
        l.insert("loss".to_string(), self.loss());
        for m in self.metrics.iter().filter(|m| m.per_batch()) {
            l.extend(m.results());
        }
        l
    }

    fn logs(&self, prefix: &str) -> Logs {
        let mut l = Logs::new();
        l.insert(format!("{prefix}loss"), self.loss());
        for m in self.metrics.iter() {
            for (name, v) in m.results() {
                l.insert(format!("{prefix}{name}"), v);
            }
        }
        l
    }
}

/// The forward pass and the loss (plus regularisation) of one batch, and, when `outputs`, the
/// model's outputs for the metrics (the probabilities, also when the loss took the logits).
fn forward_loss<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    loss: &dyn Loss<T>,
    xb: Tensor<T>,
    yb: &Tensor<T>,
    ctx: &mut Ctx<T>,
    outputs: bool,
) -> Result<(Var<T>, Option<Tensor<T>>), NnError> {
    let x = Var::constant(xb);
    let (l, out) = match loss.logits_of().map(|head| (head, module.forward_logits(&x, ctx, head))) {
        Some((head, Forward::Logits(z))) => {
            let l = loss.compute_from_logits(&z, yb)?;
            (l, outputs.then(|| head.apply_tensor(z.value())))
        }
        Some((_, Forward::Output(p))) => (loss.compute(&p, yb)?, outputs.then(|| p.value().clone())),
        None => {
            let p = module.forward(&x, ctx);
            (loss.compute(&p, yb)?, outputs.then(|| p.value().clone()))
        }
    };
    if l.numel() != 1 {
        return Err(NnError::config(format!(
            "loss `{}` returned shape {:?}; a loss must be a scalar (the mean over the batch)",
            loss.name(),
            l.shape()
        )));
    }
    let l = if l.ndim() == 0 { l } else { l.reshape([]) };
    let l = match module.regularization(ctx) {
        Some(r) => l + r,
        None => l,
    };
    Ok((l, out))
}

/// One optimisation step on a batch; updates `acc`.
fn train_step<T: Float, M: Module<T> + ?Sized>(
    module: &mut M,
    optimizer: &mut (dyn Optimizer<T> + Send),
    loss: &dyn Loss<T>,
    acc: &mut Accum<'_, T>,
    xb: Tensor<T>,
    yb: &Tensor<T>,
    rng_path: [u64; 4],
) -> Result<(), NnError> {
    let mut ctx = Ctx::derived(rng_path[0], &rng_path[1..]);
    let outputs = !acc.metrics.is_empty();
    let (l, out) = forward_loss(&*module, loss, xb, yb, &mut ctx, outputs)?;
    acc.add(l.item().to_f64(), out.as_ref(), yb)?;
    drop(out);
    let grads = ctx.backward(l, &*module)?;
    let mut params = module.param_tensors_mut();
    optimizer.step(&mut params, &grads);
    Ok(())
}

/// Trains `module` on inputs `x` (a [`Tensor`] or any [`BatchSource`]) and targets `y` (see
/// [`Model::fit`](crate::Model::fit)); `callbacks` run after those in `opts.callbacks`.
///
/// # Errors
/// Invalid options ([`NnError::InvalidConfig`]), data that does not fit the model or the
/// loss or is not finite ([`NnError::ShapeMismatch`], [`NnError::Data`]), or an error from a
/// callback.
pub fn fit<T: Float, S: BatchSource<T> + ?Sized>(
    module: &mut dyn Module<T>,
    c: &mut Compiled<T>,
    x: &S,
    y: &Tensor<T>,
    opts: FitOptions<T>,
    callbacks: &mut [&mut dyn Callback<T>],
) -> Result<History, NnError> {
    // `&S` is a sized source, so it can go behind `dyn` even when `S` is itself `dyn`.
    fit_dyn(module, c, &x, y, opts, callbacks)
}

fn fit_dyn<T: Float>(
    module: &mut dyn Module<T>,
    c: &mut Compiled<T>,
    x: &dyn BatchSource<T>,
    y: &Tensor<T>,
    mut opts: FitOptions<T>,
    callbacks: &mut [&mut dyn Callback<T>],
) -> Result<History, NnError> {
    if opts.batch_size == 0 {
        return Err(NnError::config("batch_size must be positive"));
    }
    if opts.validation_batch_size == Some(0) {
        return Err(NnError::config("validation_batch_size must be positive"));
    }
    if opts.initial_epoch > opts.epochs {
        return Err(NnError::config(format!("initial_epoch {} is after epochs {}", opts.initial_epoch, opts.epochs)));
    }
    c.prepare_metrics("fit")?;
    check_data(module, &*c.loss, x, y)?;
    if opts.check_finite {
        check_finite("fit", "", x, y)?;
    }
    let explicit_val: Option<(Box<dyn BatchSource<T>>, Tensor<T>)> =
        match (opts.validation_data.take(), opts.validation_source.take()) {
            (Some(_), Some(_)) => {
                return Err(NnError::config("validation_data and validation_source are both set; give one"))
            }
            (Some((vx, vy)), None) => Some((Box::new(vx), vy)),
            (None, v) => v,
        };
    let (train, val) = match &explicit_val {
        Some((vx, vy)) => {
            check_data(module, &*c.loss, &**vx, vy)?;
            if opts.check_finite {
                check_finite("fit", "validation ", &**vx, vy)?;
            }
            (Part::all(x, y), Some(Part::all(&**vx, vy)))
        }
        None => {
            let (n, at) = (x.len(), validation_split_point(x.len(), opts.validation_split)?);
            let val = (opts.validation_split > 0.0).then_some(Part { x, y, rows: at..n });
            (Part { x, y, rows: 0..at }, val)
        }
    };
    let seed = opts.seed.unwrap_or_else(next_seed);
    let steps = num_batches(train.len(), opts.batch_size);
    let mut boxed = std::mem::take(&mut opts.callbacks);
    let mut cbs: Vec<&mut dyn Callback<T>> = boxed.iter_mut().map(|b| &mut **b as &mut dyn Callback<T>).collect();
    cbs.extend(callbacks.iter_mut().map(|c| &mut **c));
    let Compiled { optimizer, loss, metrics } = c;

    macro_rules! each_callback {
        ($stop:ident, |$cb:ident, $tc:ident| $body:expr) => {{
            let mut $tc = TrainContext {
                module: &mut *module,
                optimizer: &mut **optimizer as &mut dyn Optimizer<T>,
                stop_training: $stop,
                verbose: opts.verbose,
                steps_per_epoch: steps,
            };
            for $cb in cbs.iter_mut() {
                $body?;
            }
            $stop = $tc.stop_training;
        }};
    }
    let _ = &mut cbs; // (used by the macro)

    let mut history = History::default();
    let mut stop = false;
    each_callback!(stop, |cb, tc| cb.on_train_begin(&mut tc));
    for epoch in opts.initial_epoch..opts.epochs {
        if stop {
            break;
        }
        if opts.verbose > 0 {
            print_out(format_args!("Epoch {}/{}\n", epoch + 1, opts.epochs))?;
        }
        module.set_training(true);
        each_callback!(stop, |cb, tc| cb.on_epoch_begin(epoch, &mut tc));
        let mut progress = Progress::new(steps, opts.verbose);
        let mut acc = Accum::new(metrics);
        let shuffle = opts.shuffle.then_some((seed, epoch as u64));
        for (b, (xb, yb)) in train.batches(opts.batch_size, shuffle).enumerate() {
            if !cbs.is_empty() {
                each_callback!(stop, |cb, tc| cb.on_batch_begin(epoch, b, &mut tc));
            }
            let path = [seed, STREAM_DROPOUT, epoch as u64, b as u64];
            train_step(&mut *module, &mut **optimizer, &**loss, &mut acc, xb, &yb, path)?;
            if !cbs.is_empty() {
                let batch_logs = acc.batch_logs();
                each_callback!(stop, |cb, tc| cb.on_batch_end(epoch, b, &batch_logs, &mut tc));
            }
            if progress.wants_update(b + 1) {
                progress.update(b + 1, &acc.logs(""))?;
            }
        }
        let mut logs = acc.logs("");
        module.set_training(false);
        if let Some(v) = &val {
            let vb = opts.validation_batch_size.unwrap_or(opts.batch_size);
            logs.extend(evaluate_impl(&*module, &**loss, metrics, v, vb, "val_")?);
        }
        progress.finish(&logs)?;
        each_callback!(stop, |cb, tc| cb.on_epoch_end(epoch, &mut logs, &mut tc));
        history.push(epoch, &logs);
    }
    module.set_training(false);
    each_callback!(stop, |cb, tc| cb.on_train_end(&mut tc));
    let _ = stop;
    Ok(history)
}

fn evaluate_impl<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    loss: &dyn Loss<T>,
    metrics: &mut [Box<dyn Metric<T>>],
    ds: &Part<'_, T>,
    batch_size: usize,
    prefix: &str,
) -> Result<Logs, NnError> {
    let _g = autograd::no_grad_guard();
    let mut acc = Accum::new(metrics);
    let outputs = !acc.metrics.is_empty();
    for (xb, yb) in ds.batches(batch_size, None) {
        let (l, out) = forward_loss(module, loss, xb, &yb, &mut Ctx::no_grad(), outputs)?;
        acc.add(l.item().to_f64(), out.as_ref(), &yb)?;
    }
    Ok(acc.logs(prefix))
}

/// The loss and metrics of `module` on inputs `x` (a [`Tensor`] or any [`BatchSource`]) and
/// targets `y`, in evaluation mode, batch by batch.
///
/// # Errors
/// Data that does not fit the model or the loss, or is not finite.
pub fn evaluate<T: Float, S: BatchSource<T> + ?Sized>(
    module: &mut dyn Module<T>,
    c: &mut Compiled<T>,
    x: &S,
    y: &Tensor<T>,
    opts: EvaluateOptions,
) -> Result<Logs, NnError> {
    if opts.batch_size == 0 {
        return Err(NnError::config("batch_size must be positive"));
    }
    let x: &dyn BatchSource<T> = &x;
    c.prepare_metrics("evaluate")?;
    check_data(&*module, &*c.loss, x, y)?;
    if opts.check_finite {
        check_finite("evaluate", "", x, y)?;
    }
    module.set_training(false);
    evaluate_impl(&*module, &*c.loss, &mut c.metrics, &Part::all(x, y), opts.batch_size, "")
}

/// The outputs of `module` for inputs `x` (a [`Tensor`] `[n, ...]` or any [`BatchSource`]),
/// in evaluation mode, batch by batch.
///
/// # Errors
/// [`NnError::ShapeMismatch`] if `x` does not have the model's input width.
pub fn predict<T: Float, S: BatchSource<T> + ?Sized>(
    module: &mut dyn Module<T>,
    x: &S,
    batch_size: usize,
) -> Result<Tensor<T>, NnError> {
    if batch_size == 0 {
        return Err(NnError::config("batch_size must be positive"));
    }
    x.check().map_err(|e| match e {
        NnError::Data(m) => NnError::data(format!("predict: {m}")),
        e => e,
    })?;
    let x: &dyn BatchSource<T> = &x;
    check_features(&*module, x)?;
    module.set_training(false);
    let _g = autograd::no_grad_guard();
    let n = x.len();
    let mut outs = Vec::with_capacity(num_batches(n, batch_size));
    let mut start = 0;
    while start < n {
        let len = batch_size.min(n - start);
        let xb = x.gather_range(start..start + len);
        outs.push(module.forward(&Var::constant(xb), &mut Ctx::no_grad()).into_value());
        start += len;
    }
    match outs.len() {
        0 => Ok(module.forward(&Var::constant(x.gather_range(0..0)), &mut Ctx::no_grad()).into_value()),
        1 => Ok(outs.pop().expect("one")),
        _ => Ok(Tensor::try_concat(&outs.iter().collect::<Vec<_>>(), 0)?),
    }
}

/// Checks an optimizer state dict against the parameters it is for (`state.{i}.*` must
/// have parameter `i`'s stored shape).
///
/// # Errors
/// [`NnError::UnexpectedTensor`] for an index beyond the parameters or a malformed key,
/// [`NnError::ShapeMismatch`] for a wrong shape.
pub fn check_optimizer_state<T: Float>(sd: &StateDict<T>, param_shapes: &[Vec<usize>]) -> Result<(), NnError> {
    for (k, t) in sd.iter() {
        let i = k
            .strip_prefix("state.")
            .and_then(|r| r.split('.').next())
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|&i| i < param_shapes.len())
            .ok_or_else(|| NnError::UnexpectedTensor { name: k.clone() })?;
        if t.shape() != param_shapes[i].as_slice() {
            return Err(NnError::shape(k.clone(), &param_shapes[i], t.shape()));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------ progress bar

/// Keras' progress bar for one epoch (`verbose: 1`) or one line per epoch (`verbose: 2`),
/// printed to stdout:
///
/// ```text
/// 375/375 [==============================] - 1s 2ms/step - loss: 0.2500 - accuracy: 0.9300 - val_loss: 0.2000 - val_accuracy: 0.9400
/// ```
///
/// On a terminal the bar is redrawn in place (at most every 50 ms) with an ETA; when stdout
/// is not a terminal only the final line is printed.
pub struct Progress {
    target: usize,
    verbose: u8,
    start: Instant,
    last_draw: Option<Instant>,
    dynamic: bool,
    last_len: usize,
}

impl Progress {
    /// A bar for `target` steps.
    pub fn new(target: usize, verbose: u8) -> Self {
        Progress {
            target,
            verbose,
            start: Instant::now(),
            last_draw: None,
            dynamic: std::io::stdout().is_terminal(),
            last_len: 0,
        }
    }

    /// Whether [`update`](Self::update) would draw now (so the caller can skip building
    /// the logs): only with `verbose: 1`, on a terminal, before the last step, and at most
    /// every 50 ms.
    pub fn wants_update(&self, current: usize) -> bool {
        let due = match self.last_draw {
            None => true,
            Some(t) => t.elapsed() >= Duration::from_millis(50),
        };
        self.verbose == 1 && self.dynamic && current < self.target && due
    }

    /// Step `current` (1-based) is done; `logs` are the running averages.
    ///
    /// # Errors
    /// [`NnError::Stdout`] when stdout cannot be written (a closed pipe, a full disk).
    pub fn update(&mut self, current: usize, logs: &Logs) -> Result<(), NnError> {
        if !self.wants_update(current) {
            return Ok(());
        }
        let now = Instant::now();
        self.last_draw = Some(now);
        let elapsed = now.duration_since(self.start).as_secs_f64();
        let eta = elapsed / current as f64 * (self.target - current) as f64;
        let line = format!("{} - ETA: {}{}", bar(current, self.target), format_eta(eta), format_logs(logs));
        let pad = self.last_len.saturating_sub(line.len());
        self.last_len = line.len();
        print_out(format_args!("\r{line}{}", " ".repeat(pad)))
    }

    /// The epoch is done: prints the final line with `logs` (validation included).
    ///
    /// # Errors
    /// [`NnError::Stdout`] when stdout cannot be written (a closed pipe, a full disk).
    pub fn finish(&mut self, logs: &Logs) -> Result<(), NnError> {
        let elapsed = self.start.elapsed();
        let line = match self.verbose {
            0 => return Ok(()),
            1 => final_line(self.target, elapsed, logs),
            _ => format!(
                "{}/{} - {:.0}s{} - {:.0}s/epoch - {}",
                self.target,
                self.target,
                elapsed.as_secs_f64(),
                format_logs(logs),
                elapsed.as_secs_f64(),
                format_time_per_step(elapsed.as_secs_f64() / self.target.max(1) as f64)
            ),
        };
        if self.dynamic && self.verbose == 1 {
            let pad = self.last_len.saturating_sub(line.len());
            print_out(format_args!("\r{line}{}\n", " ".repeat(pad)))
        } else {
            print_out(format_args!("{line}\n"))
        }
    }
}

/// Writes training output to stdout and flushes it. Unlike `print!`, which panics, a closed
/// pipe (`| head -1`) or a full disk (`> /dev/full`) is an error, [`NnError::Stdout`], that
/// ends `fit` and keeps its kind (`BrokenPipe`, `StorageFull`) for the caller to act on.
pub(crate) fn print_out(args: std::fmt::Arguments<'_>) -> Result<(), NnError> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).and_then(|()| out.flush()).map_err(NnError::Stdout)
}

/// `"375/375 [==============================]"`, Keras' 30-character bar.
pub fn bar(current: usize, target: usize) -> String {
    let digits = target.to_string().len();
    let mut s = format!("{current:>digits$}/{target} [");
    let width = 30;
    let filled = (width * current.min(target)).checked_div(target).unwrap_or(width);
    if filled > 0 {
        s.push_str(&"=".repeat(filled - 1));
        s.push(if current < target { '>' } else { '=' });
    }
    s.push_str(&".".repeat(width - filled));
    s.push(']');
    s
}

/// The line printed at the end of an epoch with `verbose: 1`.
pub fn final_line(steps: usize, elapsed: Duration, logs: &Logs) -> String {
    let secs = elapsed.as_secs_f64();
    format!(
        "{} - {:.0}s {}{}",
        bar(steps, steps),
        secs,
        format_time_per_step(secs / steps.max(1) as f64),
        format_logs(logs)
    )
}

fn format_time_per_step(t: f64) -> String {
    if t >= 1.0 || t == 0.0 {
        format!("{t:.0}s/step")
    } else if t >= 1e-3 {
        format!("{:.0}ms/step", t * 1e3)
    } else {
        format!("{:.0}us/step", t * 1e6)
    }
}

fn format_eta(eta: f64) -> String {
    let e = eta as u64;
    if e > 3600 {
        format!("{}:{:02}:{:02}", e / 3600, (e % 3600) / 60, e % 60)
    } else if e > 60 {
        format!("{}:{:02}", e / 60, e % 60)
    } else {
        format!("{e}s")
    }
}

/// `" - loss: 0.2500 - accuracy: 0.9300"`: Keras' `%.4f`, or `%.4e` for magnitudes up to 1e-3.
pub fn format_logs(logs: &Logs) -> String {
    let mut s = String::new();
    for (k, &v) in logs {
        s.push_str(" - ");
        s.push_str(k);
        s.push_str(": ");
        s.push_str(&format_value(v));
    }
    s
}

fn format_value(v: f64) -> String {
    if v.abs() > 1e-3 || !v.is_finite() {
        format!("{v:.4}")
    } else {
        // Python's %.4e: two-digit exponent with sign, e.g. 1.2345e-04.
        let s = format!("{v:.4e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', e),
                };
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    }
}
