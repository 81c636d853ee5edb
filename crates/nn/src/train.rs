//! The training loop behind `compile`/`fit`/`evaluate`/`predict`: [`FitOptions`],
//! [`Metric`], the Keras-style progress bar ([`Progress`]), and the functions
//! [`fit`], [`evaluate`], [`predict`] that [`Sequential`](crate::Sequential) and
//! [`Model`](crate::Model) call.
//!
//! # One training step
//!
//! For each batch: a fresh [`Ctx`] (own tape; dropout generator derived from
//! `(seed, epoch, batch)`), the forward pass to the logits
//! ([`Module::forward_logits`]), the loss (fused with a final softmax/sigmoid, see
//! [`losses`](crate::losses)), plus the regularisation penalties, the backward sweep, then
//! — with the tape and every variable of the step dropped — the optimizer updates the
//! parameters in place with no copy of their buffers.
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

use crate::activation::Activation;
use crate::callbacks::{Callback, TrainContext};
use crate::data::{epoch_permutation, num_batches, validation_split_point, BatchSource};
use crate::error::NnError;
use crate::history::{History, Logs};
use crate::losses::{labels_from_tensor, Loss, TargetKind};
use crate::module::{Ctx, Module};
use crate::optim::Optimizer;
use crate::rng::{next_seed, STREAM_DROPOUT};
use crate::state::StateDict;
use autograd::{Float, Tensor, Var};
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::time::{Duration, Instant};

/// A metric reported during `fit` and by `evaluate` (besides the loss).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Accuracy of the kind the loss implies, as Keras' `"accuracy"`: sparse categorical
    /// for sparse losses, categorical for categorical losses, binary for binary
    /// cross-entropy; for other losses, binary if the output has one feature and
    /// categorical otherwise. Logged as `accuracy`.
    Accuracy,
    /// Fraction of elements with `(pred > threshold) == (target > 0.5)`; the threshold is
    /// 0.5 on probabilities, 0 on logits. Logged as `binary_accuracy`.
    BinaryAccuracy,
    /// Fraction of rows whose arg-max matches the one-hot target's. Logged as `categorical_accuracy`.
    CategoricalAccuracy,
    /// Fraction of rows whose arg-max equals the integer label. Logged as `sparse_categorical_accuracy`.
    SparseCategoricalAccuracy,
    /// Mean absolute error of the outputs. Logged as `mae`.
    MeanAbsoluteError,
    /// Mean squared error of the outputs. Logged as `mse`.
    MeanSquaredError,
}

impl Metric {
    /// The name in logs and [`History`].
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BinaryAccuracy => "binary_accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy",
            Metric::MeanAbsoluteError => "mae",
            Metric::MeanSquaredError => "mse",
        }
    }

    /// The concrete metric `Accuracy` stands for with this loss and output width.
    fn resolve(self, loss: Loss, out_features: usize) -> Metric {
        if self != Metric::Accuracy {
            return self;
        }
        match loss.target_kind() {
            TargetKind::Sparse => Metric::SparseCategoricalAccuracy,
            TargetKind::OneHot => Metric::CategoricalAccuracy,
            TargetKind::Binary => Metric::BinaryAccuracy,
            TargetKind::Dense if out_features == 1 => Metric::BinaryAccuracy,
            TargetKind::Dense => Metric::CategoricalAccuracy,
        }
    }

    /// `(sum, count)` of this metric over one batch. `pre` is the output before the
    /// deferred activation `act`; `logits` says whether the model's output is a logit.
    fn batch<T: Float>(self, pre: &Tensor<T>, act: Option<Activation>, logits: bool, y: &Tensor<T>) -> (f64, f64) {
        let classes = *pre.shape().last().unwrap_or(&1);
        let rows = if pre.ndim() == 0 { 1 } else { pre.numel() / classes.max(1) };
        match self {
            Metric::Accuracy => unreachable!("resolved before use"),
            Metric::CategoricalAccuracy | Metric::SparseCategoricalAccuracy => {
                // softmax keeps the arg-max, so logits do.
                let pred: Vec<usize> = pre.data().chunks(classes.max(1)).map(argmax).collect();
                let truth: Vec<usize> = if self == Metric::SparseCategoricalAccuracy {
                    y.data().iter().map(|v| v.to_f64() as usize).collect()
                } else {
                    y.data().chunks(classes.max(1)).map(argmax).collect()
                };
                let hits = pred.iter().zip(&truth).filter(|(a, b)| a == b).count();
                (hits as f64, rows as f64)
            }
            Metric::BinaryAccuracy => {
                let threshold = if logits || act == Some(Activation::Sigmoid) { 0.0 } else { 0.5 };
                let out = if act.is_some() && act != Some(Activation::Sigmoid) {
                    act.map(|a| a.apply_tensor(pre)).unwrap_or_else(|| pre.clone())
                } else {
                    pre.clone()
                };
                let hits = out
                    .data()
                    .iter()
                    .zip(y.data())
                    .filter(|(&p, &t)| (p.to_f64() > threshold) == (t.to_f64() > 0.5))
                    .count();
                (hits as f64, out.numel() as f64)
            }
            Metric::MeanAbsoluteError | Metric::MeanSquaredError => {
                let out = act.map(|a| a.apply_tensor(pre)).unwrap_or_else(|| pre.clone());
                // Integer labels against [n, classes] outputs: compare with their one-hot
                // encoding (for probabilities, the MSE is then the Brier score).
                let y = if y.numel() != out.numel() && y.numel() * classes == out.numel() {
                    let labels: Vec<usize> = y.data().iter().map(|v| v.to_f64() as usize).collect();
                    Tensor::try_one_hot(&labels, classes).unwrap_or_else(|_| y.clone())
                } else {
                    y.clone()
                };
                let sq = self == Metric::MeanSquaredError;
                let s: f64 = out
                    .data()
                    .iter()
                    .zip(y.data())
                    .map(|(&p, &t)| {
                        let d = p.to_f64() - t.to_f64();
                        if sq {
                            d * d
                        } else {
                            d.abs()
                        }
                    })
                    .sum();
                (s, out.numel() as f64)
            }
        }
    }
}

fn argmax<T: Float>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// What `compile` sets: the optimizer, the loss and the metrics.
pub struct Compiled<T: Float> {
    /// The optimizer.
    pub optimizer: Box<dyn Optimizer<T> + Send>,
    /// The loss.
    pub loss: Loss,
    /// The metrics besides the loss.
    pub metrics: Vec<Metric>,
}

impl<T: Float> Compiled<T> {
    /// Bundles an optimizer, a loss and metrics.
    pub fn new(optimizer: impl Optimizer<T> + Send + 'static, loss: Loss, metrics: &[Metric]) -> Self {
        Compiled { optimizer: Box::new(optimizer), loss, metrics: metrics.to_vec() }
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
    /// The last fraction of the samples, taken before shuffling, is held out for
    /// validation (Keras' `validation_split`). Ignored if `validation_data` or
    /// `validation_source` is given. The split is a range of sample indices: the inputs are
    /// not copied.
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
        }
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

/// Checks `x` and `y` against the model and the loss before training or evaluating.
fn check_data<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    loss: Loss,
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

fn out_features<T: Float, M: Module<T> + ?Sized>(module: &M, x: &dyn BatchSource<T>) -> usize {
    module.out_features(module.in_features().or_else(|| x.sample_shape().first().copied())).unwrap_or(0)
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

/// Running sums of the loss and metrics over an epoch, weighted by batch size as Keras does.
struct Accum {
    loss_sum: f64,
    samples: f64,
    metrics: Vec<(Named, f64, f64)>,
}

/// A metric as logged (`name`, e.g. `accuracy`) and as computed (`metric`, resolved from the loss).
#[derive(Clone, Copy)]
struct Named {
    name: &'static str,
    metric: Metric,
}

fn resolve_all(metrics: &[Metric], loss: Loss, out_features: usize) -> Vec<Named> {
    metrics.iter().map(|m| Named { name: m.name(), metric: m.resolve(loss, out_features) }).collect()
}

impl Accum {
    fn new(metrics: &[Named]) -> Self {
        Accum { loss_sum: 0.0, samples: 0.0, metrics: metrics.iter().map(|&m| (m, 0.0, 0.0)).collect() }
    }

    fn add<T: Float>(&mut self, loss: f64, pre: &Tensor<T>, act: Option<Activation>, logits: bool, y: &Tensor<T>) {
        let n = y.shape().first().copied().unwrap_or(1) as f64;
        self.loss_sum += loss * n;
        self.samples += n;
        for (m, s, c) in &mut self.metrics {
            let (ds, dc) = m.metric.batch(pre, act, logits, y);
            *s += ds;
            *c += dc;
        }
    }

    fn logs(&self, prefix: &str) -> Logs {
        let mut l = Logs::new();
        l.insert(format!("{prefix}loss"), self.loss_sum / self.samples.max(1.0));
        for (m, s, c) in &self.metrics {
            l.insert(format!("{prefix}{}", m.name), s / c.max(1.0));
        }
        l
    }
}

/// One optimisation step on a batch; returns the loss and updates `acc`.
fn train_step<T: Float, M: Module<T> + ?Sized>(
    module: &mut M,
    c: &mut Compiled<T>,
    xb: Tensor<T>,
    yb: &Tensor<T>,
    rng_path: [u64; 4],
    acc: &mut Accum,
) -> Result<(), NnError> {
    let mut ctx = Ctx::train_derived(rng_path[0], &rng_path[1..]);
    let (pre, act) = module.forward_logits(&Var::constant(xb), &mut ctx);
    let mut loss = c.loss.compute_deferred(&pre, act, yb)?;
    if let Some(r) = module.regularization(&mut ctx) {
        loss = loss + r;
    }
    acc.add(loss.item().to_f64(), pre.value(), act, c.loss.from_logits(), yb);
    drop(pre);
    let grads = ctx.backward(loss, &*module);
    let mut params = module.param_tensors_mut();
    c.optimizer.step(&mut params, &grads);
    Ok(())
}

/// Trains `module` on inputs `x` (a [`Tensor`] or any [`BatchSource`]) and targets `y` (see
/// [`Sequential::fit`](crate::Sequential::fit)); `callbacks` run after those in
/// `opts.callbacks`.
///
/// # Errors
/// Invalid options ([`NnError::InvalidConfig`]), data that does not fit the model or the
/// loss ([`NnError::ShapeMismatch`], [`NnError::Data`]), or an error from a callback.
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
    check_data(module, c.loss, x, y)?;
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
            check_data(module, c.loss, &**vx, vy)?;
            (Part::all(x, y), Some(Part::all(&**vx, vy)))
        }
        None => {
            let (n, at) = (x.len(), validation_split_point(x.len(), opts.validation_split)?);
            let val = (opts.validation_split > 0.0).then_some(Part { x, y, rows: at..n });
            (Part { x, y, rows: 0..at }, val)
        }
    };
    let metrics = resolve_all(&c.metrics, c.loss, out_features(module, x));
    let seed = opts.seed.unwrap_or_else(next_seed);
    let steps = num_batches(train.len(), opts.batch_size);
    let mut boxed = std::mem::take(&mut opts.callbacks);
    let mut cbs: Vec<&mut dyn Callback<T>> = boxed.iter_mut().map(|b| &mut **b as &mut dyn Callback<T>).collect();
    cbs.extend(callbacks.iter_mut().map(|c| &mut **c));

    macro_rules! each_callback {
        ($stop:ident, |$cb:ident, $tc:ident| $body:expr) => {{
            let mut $tc = TrainContext {
                module: &mut *module,
                optimizer: &mut *c.optimizer as &mut dyn Optimizer<T>,
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
        each_callback!(stop, |cb, tc| cb.on_epoch_begin(epoch, &mut tc));
        let mut progress = Progress::new(steps, opts.verbose);
        let mut acc = Accum::new(&metrics);
        let shuffle = opts.shuffle.then_some((seed, epoch as u64));
        for (b, (xb, yb)) in train.batches(opts.batch_size, shuffle).enumerate() {
            if !cbs.is_empty() {
                each_callback!(stop, |cb, tc| cb.on_batch_begin(epoch, b, &mut tc));
            }
            train_step(module, c, xb, &yb, [seed, STREAM_DROPOUT, epoch as u64, b as u64], &mut acc)?;
            if !cbs.is_empty() {
                let logs = acc.logs("");
                each_callback!(stop, |cb, tc| cb.on_batch_end(epoch, b, &logs, &mut tc));
            }
            if progress.wants_update(b + 1) {
                progress.update(b + 1, &acc.logs(""))?;
            }
        }
        let mut logs = acc.logs("");
        if let Some(v) = &val {
            let vb = opts.validation_batch_size.unwrap_or(opts.batch_size);
            logs.extend(evaluate_impl(module, c.loss, &metrics, v, vb, "val_"));
        }
        progress.finish(&logs)?;
        each_callback!(stop, |cb, tc| cb.on_epoch_end(epoch, &mut logs, &mut tc));
        history.push(epoch, &logs);
    }
    each_callback!(stop, |cb, tc| cb.on_train_end(&mut tc));
    let _ = stop;
    Ok(history)
}

fn evaluate_impl<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    loss: Loss,
    metrics: &[Named],
    ds: &Part<'_, T>,
    batch_size: usize,
    prefix: &str,
) -> Logs {
    let _g = autograd::no_grad_guard();
    let mut acc = Accum::new(metrics);
    for (xb, yb) in ds.batches(batch_size, None) {
        let mut ctx = Ctx::eval();
        let (pre, act) = module.forward_logits(&Var::constant(xb), &mut ctx);
        let mut l = loss.compute_deferred(&pre, act, &yb).expect("data checked before");
        if let Some(r) = module.regularization(&mut ctx) {
            l = l + r;
        }
        acc.add(l.item().to_f64(), pre.value(), act, loss.from_logits(), &yb);
    }
    acc.logs(prefix)
}

/// The loss and metrics of `module` on inputs `x` (a [`Tensor`] or any [`BatchSource`]) and
/// targets `y`, in inference mode, batch by batch.
///
/// # Errors
/// Data that does not fit the model or the loss.
pub fn evaluate<T: Float, M: Module<T> + ?Sized, S: BatchSource<T> + ?Sized>(
    module: &M,
    c: &Compiled<T>,
    x: &S,
    y: &Tensor<T>,
    batch_size: usize,
) -> Result<Logs, NnError> {
    if batch_size == 0 {
        return Err(NnError::config("batch_size must be positive"));
    }
    let x: &dyn BatchSource<T> = &x;
    check_data(module, c.loss, x, y)?;
    let metrics = resolve_all(&c.metrics, c.loss, out_features(module, x));
    Ok(evaluate_impl(module, c.loss, &metrics, &Part::all(x, y), batch_size, ""))
}

/// The outputs of `module` for inputs `x` (a [`Tensor`] `[n, ...]` or any [`BatchSource`]),
/// in inference mode, batch by batch.
///
/// # Errors
/// [`NnError::ShapeMismatch`] if `x` does not have the model's input width.
pub fn predict<T: Float, M: Module<T> + ?Sized, S: BatchSource<T> + ?Sized>(
    module: &M,
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
    check_features(module, x)?;
    let _g = autograd::no_grad_guard();
    let n = x.len();
    let mut outs = Vec::with_capacity(num_batches(n, batch_size));
    let mut start = 0;
    while start < n {
        let len = batch_size.min(n - start);
        let xb = x.gather_range(start..start + len);
        outs.push(module.forward(&Var::constant(xb), &mut Ctx::eval()).into_value());
        start += len;
    }
    match outs.len() {
        0 => Ok(module.forward(&Var::constant(x.gather_range(0..0)), &mut Ctx::eval()).into_value()),
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
