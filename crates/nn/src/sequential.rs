//! [`Sequential`]: a stack of modules, and the Keras-style training API
//! (`compile`/`fit`/`evaluate`/`predict`); [`Model`] gives the same API to any module.

use crate::activation::Activation;
use crate::callbacks::Callback;
use crate::data::BatchSource;
use crate::error::NnError;
use crate::history::{History, Logs};
use crate::io;
use crate::losses::Loss;
use crate::module::{Ctx, Module};
use crate::optim::Optimizer;
use crate::param::Param;
use crate::state::StateDict;
use crate::train::{self, Compiled, FitOptions, Metric};
use autograd::{Float, Tensor, Var};
use indexmap::IndexMap;
use std::path::Path;

/// Layers applied in order (each `Send`, so a model can move to another thread); parameter names are `{position}.{name}` as in PyTorch's
/// `nn.Sequential` (`0.weight`, `0.bias`, `2.weight`, ... — parameterless layers such as
/// activations and dropout take a position too).
///
/// A `Sequential` is also a trainable model: `compile` it with an optimizer, a loss and
/// metrics, then `fit`, `evaluate` and `predict`.
///
/// ```
/// use autograd::Tensor;
/// use nn::{Activation, Adam, Dense, FitOptions, Loss, Metric, Sequential};
/// use nn::data::one_hot;
///
/// nn::manual_seed(0);
/// // XOR-like toy data: class = (x0 > 0) != (x1 > 0)
/// let xs: Vec<f32> = vec![1., 1., -1., -1., 1., -1., -1., 1.].repeat(16);
/// let labels: Vec<usize> = vec![0, 0, 1, 1].repeat(16);
/// let x = Tensor::from_vec(xs, [64, 2])?;
/// let y = one_hot::<f32>(&labels, 2)?;
///
/// let mut model = Sequential::new()
///     .add(Dense::new(2, 16).activation(Activation::Relu))
///     .add(Dense::new(16, 2).activation(Activation::Softmax));
/// model.compile(Adam::new(0.05), Loss::CategoricalCrossentropy, &[Metric::Accuracy]);
/// let history = model.fit(&x, &y, FitOptions { epochs: 30, batch_size: 16, verbose: 0, seed: Some(1), ..Default::default() })?;
/// assert_eq!(history.len(), 30);
/// let scores = model.evaluate(&x, &y)?;
/// assert!(scores["accuracy"] > 0.99);
/// let probs = model.predict(&x)?;
/// assert_eq!(probs.shape(), &[64, 2]);
/// # Ok::<(), nn::NnError>(())
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Module<T> + Send>>,
    compiled: Option<Compiled<T>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty stack.
    pub fn new() -> Self {
        Sequential { layers: Vec::new(), compiled: None }
    }

    /// Appends a layer (builder form).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + Send + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a layer.
    pub fn push(&mut self, layer: impl Module<T> + Send + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layer at `i`.
    pub fn layer(&self, i: usize) -> Option<&dyn Module<T>> {
        self.layers.get(i).map(|l| &**l as &dyn Module<T>)
    }

    /// A Keras-like summary: one line per layer with its parameter count, and the total.
    pub fn summary(&self) -> String {
        let mut s = format!("{:<6} {:<40} {:>10}\n", "#", "Layer", "Params");
        for (i, l) in self.layers.iter().enumerate() {
            s.push_str(&format!("{:<6} {:<40} {:>10}\n", i, l.describe(), l.num_parameters()));
        }
        s.push_str(&format!("Total params: {}\n", self.num_parameters()));
        s
    }

    /// Sets the optimizer, the loss and the metrics for `fit` and `evaluate`.
    pub fn compile(&mut self, optimizer: impl Optimizer<T> + Send + 'static, loss: Loss, metrics: &[Metric]) {
        self.compiled = Some(Compiled::new(optimizer, loss, metrics));
    }

    fn take_compiled(&mut self, op: &str) -> Result<Compiled<T>, NnError> {
        self.compiled
            .take()
            .ok_or_else(|| NnError::config(format!("{op}: the model is not compiled; call compile first")))
    }

    /// The optimizer set by `compile`.
    pub fn optimizer(&self) -> Option<&dyn Optimizer<T>> {
        self.compiled.as_ref().map(|c| &*c.optimizer as &dyn Optimizer<T>)
    }

    /// The optimizer set by `compile`, mutably (e.g. to change the learning rate).
    pub fn optimizer_mut(&mut self) -> Option<&mut (dyn Optimizer<T> + Send + 'static)> {
        self.compiled.as_mut().map(|c| &mut *c.optimizer)
    }

    /// Trains for `opts.epochs` epochs and returns the per-epoch metrics. See [`FitOptions`]
    /// and the [`train`] module for what happens in an epoch.
    ///
    /// `x` is a [`Tensor`] `[n, ...]` or any other [`BatchSource`], such as
    /// [`U8Images`](crate::data::U8Images), which keeps images as bytes and converts one batch
    /// at a time; `y` is a [`Tensor`] with `n` targets.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if not compiled or the options are invalid; shape or data
    /// errors if `x`/`y` do not fit the model and the loss; errors from callbacks.
    pub fn fit(
        &mut self,
        x: &(impl BatchSource<T> + ?Sized),
        y: &Tensor<T>,
        opts: FitOptions<T>,
    ) -> Result<History, NnError> {
        self.fit_with_callbacks(x, y, opts, &mut [])
    }

    /// [`fit`](Self::fit) with callbacks you keep ownership of (to read them afterwards);
    /// they run after those in `opts.callbacks`.
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn fit_with_callbacks(
        &mut self,
        x: &(impl BatchSource<T> + ?Sized),
        y: &Tensor<T>,
        opts: FitOptions<T>,
        callbacks: &mut [&mut dyn Callback<T>],
    ) -> Result<History, NnError> {
        let mut c = self.take_compiled("fit")?;
        let r = train::fit(self, &mut c, x, y, opts, callbacks);
        self.compiled = Some(c);
        r
    }

    /// The loss and metrics on inputs `x` (a [`Tensor`] or any [`BatchSource`]) and targets
    /// `y`, in inference mode (batch size 32).
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn evaluate(&self, x: &(impl BatchSource<T> + ?Sized), y: &Tensor<T>) -> Result<Logs, NnError> {
        self.evaluate_with(x, y, 32)
    }

    /// [`evaluate`](Self::evaluate) with a batch size.
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn evaluate_with(
        &self,
        x: &(impl BatchSource<T> + ?Sized),
        y: &Tensor<T>,
        batch_size: usize,
    ) -> Result<Logs, NnError> {
        let c = self.compiled.as_ref().ok_or_else(|| NnError::config("evaluate: the model is not compiled"))?;
        train::evaluate(self, c, x, y, batch_size)
    }

    /// The model's outputs for `x` (a [`Tensor`] or any [`BatchSource`]) in inference mode
    /// (dropout off), computed in batches of 256.
    ///
    /// # Errors
    /// [`NnError::ShapeMismatch`] if `x` does not fit the first layer.
    pub fn predict(&self, x: &(impl BatchSource<T> + ?Sized)) -> Result<Tensor<T>, NnError> {
        train::predict(self, x, 256)
    }

    /// The optimizer's state (see [`Optimizer::state_dict`]).
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if not compiled.
    pub fn optimizer_state_dict(&self) -> Result<StateDict<T>, NnError> {
        self.optimizer().map(|o| o.state_dict()).ok_or_else(|| NnError::config("not compiled"))
    }

    /// Restores the optimizer's state, checked against this model's parameters.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if not compiled or the state is another optimizer's;
    /// key or shape errors naming the tensor.
    pub fn load_optimizer_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        let shapes: Vec<Vec<usize>> = self.parameters().values().map(|p| p.value().shape().to_vec()).collect();
        train::check_optimizer_state(sd, &shapes)?;
        let c = self.compiled.as_mut().ok_or_else(|| NnError::config("not compiled"))?;
        c.optimizer.load_state_dict(sd)
    }

    /// Saves the weights as a safetensors file with PyTorch names and layouts (`0.weight`
    /// `[out, in]`, `0.bias`, ...), so `torch.nn.Sequential(...).load_state_dict(
    /// safetensors.torch.load_file(path))` reads it. The file is written to a temporary
    /// name and renamed into place: an existing file is never left half-written.
    ///
    /// # Errors
    /// [`NnError::Io`] naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        io::save_safetensors(path, &self.state_dict(), &[("format", "pt")])
    }

    /// Loads weights saved by [`save`](Self::save) (or by PyTorch's `safetensors.torch.save_file`
    /// from an equivalent `nn.Sequential`). Every tensor must be present with this model's
    /// shape; nothing is changed if any check fails.
    ///
    /// # Errors
    /// I/O and format errors naming the file; a mismatch error naming every missing,
    /// unexpected or wrongly shaped tensor.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<(), NnError> {
        let sd = io::load_safetensors::<T>(path)?;
        io::check_state_dict(&sd, &self.state_dict())?;
        self.load_state_dict(&sd)
    }

    /// Saves weights, optimizer state and the number of completed epochs to one checksummed
    /// file (see [`io::save_checkpoint`]), to resume training exactly with
    /// [`load_checkpoint`](Self::load_checkpoint) and `FitOptions::initial_epoch`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if not compiled; I/O errors naming the path.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>, epoch: usize) -> Result<(), NnError> {
        let ckpt = io::Checkpoint::new(self.state_dict(), self.optimizer_state_dict()?, epoch);
        io::save_checkpoint(path, &ckpt)
    }

    /// Restores weights and optimizer state from a checkpoint; returns the epochs completed
    /// (pass it as `FitOptions::initial_epoch`). The model must be compiled with the same
    /// kind of optimizer.
    ///
    /// # Errors
    /// I/O, format or checksum errors naming the file; mismatch errors naming the tensor.
    pub fn load_checkpoint(&mut self, path: impl AsRef<Path>) -> Result<usize, NnError> {
        let ckpt = io::load_checkpoint::<T>(path)?;
        io::check_state_dict(&ckpt.model, &self.state_dict())?;
        self.load_optimizer_state_dict(&ckpt.optimizer)?;
        self.load_state_dict(&ckpt.model)?;
        Ok(ckpt.epoch)
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.forward(&h, ctx);
        }
        h
    }

    fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> (Var<T>, Option<Activation>) {
        let Some((last, rest)) = self.layers.split_last() else { return (x.clone(), None) };
        let mut h = x.clone();
        for l in rest {
            h = l.forward(&h, ctx);
        }
        last.forward_logits(&h, ctx)
    }

    fn parameters(&self) -> IndexMap<String, &Param<T>> {
        let mut m = IndexMap::new();
        for (i, l) in self.layers.iter().enumerate() {
            for (k, p) in l.parameters() {
                m.insert(format!("{i}.{k}"), p);
            }
        }
        m
    }

    fn parameters_mut(&mut self) -> IndexMap<String, &mut Param<T>> {
        let mut m = IndexMap::new();
        for (i, l) in self.layers.iter_mut().enumerate() {
            for (k, p) in l.parameters_mut() {
                m.insert(format!("{i}.{k}"), p);
            }
        }
        m
    }

    fn param_refs(&self) -> Vec<&Param<T>> {
        self.layers.iter().flat_map(|l| l.param_refs()).collect()
    }

    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        self.layers.iter_mut().flat_map(|l| l.param_refs_mut()).collect()
    }

    fn regularization(&self, ctx: &mut Ctx<T>) -> Option<Var<T>> {
        self.layers.iter().filter_map(|l| l.regularization(ctx)).reduce(|a, b| a + b)
    }

    fn describe(&self) -> String {
        format!("Sequential({})", self.layers.iter().map(|l| l.describe()).collect::<Vec<_>>().join(", "))
    }

    fn in_features(&self) -> Option<usize> {
        self.layers.first().and_then(|l| l.in_features())
    }

    fn out_features(&self, input: Option<usize>) -> Option<usize> {
        self.layers.iter().try_fold(input, |f, l| Some(l.out_features(f))).flatten()
    }
}

/// Any [`Module`] with the training API of [`Sequential`] (`compile`, `fit`, `evaluate`,
/// `predict`, state dicts), for custom architectures.
///
/// ```
/// use autograd::{Tensor, Var};
/// use nn::{Ctx, Dense, Loss, Model, Module, Sgd, FitOptions};
/// struct Twice(Dense<f64>);
/// impl Module<f64> for Twice {
///     fn forward(&self, x: &Var<f64>, ctx: &mut Ctx<f64>) -> Var<f64> { self.0.forward(x, ctx) * 2.0 }
///     fn parameters(&self) -> indexmap::IndexMap<String, &nn::Param<f64>> { self.0.parameters() }
///     fn parameters_mut(&mut self) -> indexmap::IndexMap<String, &mut nn::Param<f64>> { self.0.parameters_mut() }
/// }
/// let mut m = Model::new(Twice(Dense::new(1, 1).seed(3)));
/// m.compile(Sgd::new(0.05), Loss::MeanSquaredError, &[]);
/// let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], [4, 1])?;
/// let y = x.scale(6.0); // y = 2 * (3 x)
/// m.fit(&x, &y, FitOptions { epochs: 200, batch_size: 4, verbose: 0, ..Default::default() })?;
/// assert!(m.evaluate(&x, &y)?["loss"] < 1e-6);
/// # Ok::<(), nn::NnError>(())
/// ```
pub struct Model<T: Float, M: Module<T>> {
    /// The wrapped module.
    pub module: M,
    compiled: Option<Compiled<T>>,
}

impl<T: Float, M: Module<T>> Model<T, M> {
    /// Wraps a module.
    pub fn new(module: M) -> Self {
        Model { module, compiled: None }
    }

    /// As [`Sequential::compile`].
    pub fn compile(&mut self, optimizer: impl Optimizer<T> + Send + 'static, loss: Loss, metrics: &[Metric]) {
        self.compiled = Some(Compiled::new(optimizer, loss, metrics));
    }

    /// As [`Sequential::fit`].
    ///
    /// # Errors
    /// As [`Sequential::fit`].
    pub fn fit(
        &mut self,
        x: &(impl BatchSource<T> + ?Sized),
        y: &Tensor<T>,
        opts: FitOptions<T>,
    ) -> Result<History, NnError> {
        self.fit_with_callbacks(x, y, opts, &mut [])
    }

    /// As [`Sequential::fit_with_callbacks`].
    ///
    /// # Errors
    /// As [`Sequential::fit`].
    pub fn fit_with_callbacks(
        &mut self,
        x: &(impl BatchSource<T> + ?Sized),
        y: &Tensor<T>,
        opts: FitOptions<T>,
        callbacks: &mut [&mut dyn Callback<T>],
    ) -> Result<History, NnError> {
        let c = self.compiled.as_mut().ok_or_else(|| NnError::config("fit: the model is not compiled"))?;
        train::fit(&mut self.module, c, x, y, opts, callbacks)
    }

    /// As [`Sequential::evaluate`].
    ///
    /// # Errors
    /// As [`Sequential::fit`].
    pub fn evaluate(&self, x: &(impl BatchSource<T> + ?Sized), y: &Tensor<T>) -> Result<Logs, NnError> {
        let c = self.compiled.as_ref().ok_or_else(|| NnError::config("evaluate: the model is not compiled"))?;
        train::evaluate(&self.module, c, x, y, 32)
    }

    /// As [`Sequential::predict`].
    ///
    /// # Errors
    /// As [`Sequential::predict`].
    pub fn predict(&self, x: &(impl BatchSource<T> + ?Sized)) -> Result<Tensor<T>, NnError> {
        train::predict(&self.module, x, 256)
    }

    /// The optimizer set by `compile`, mutably.
    pub fn optimizer_mut(&mut self) -> Option<&mut (dyn Optimizer<T> + Send + 'static)> {
        self.compiled.as_mut().map(|c| &mut *c.optimizer)
    }

    /// The module's parameters as a state dict.
    pub fn state_dict(&self) -> StateDict<T> {
        self.module.state_dict()
    }

    /// Loads the module's parameters.
    ///
    /// # Errors
    /// As [`Module::load_state_dict`].
    pub fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        self.module.load_state_dict(sd)
    }

    /// The optimizer's state.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if not compiled.
    pub fn optimizer_state_dict(&self) -> Result<StateDict<T>, NnError> {
        self.compiled.as_ref().map(|c| c.optimizer.state_dict()).ok_or_else(|| NnError::config("not compiled"))
    }

    /// Restores the optimizer's state, checked against the module's parameters.
    ///
    /// # Errors
    /// As [`Sequential::load_optimizer_state_dict`].
    pub fn load_optimizer_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        let shapes: Vec<Vec<usize>> = self.module.parameters().values().map(|p| p.value().shape().to_vec()).collect();
        train::check_optimizer_state(sd, &shapes)?;
        let c = self.compiled.as_mut().ok_or_else(|| NnError::config("not compiled"))?;
        c.optimizer.load_state_dict(sd)
    }
}
