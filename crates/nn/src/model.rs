//! [`Model`]: the Keras-style training API (`compile`/`fit`/`evaluate`/`predict`, saving and
//! loading, a summary) for any [`Module`].

use crate::callbacks::Callback;
use crate::data::BatchSource;
use crate::error::NnError;
use crate::history::{History, Logs};
use crate::io;
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::module::Module;
use crate::optim::Optimizer;
use crate::state::StateDict;
use crate::train::{self, Compiled, EvaluateOptions, FitOptions};
use autograd::{Float, Tensor};
use std::path::Path;

/// A module with an optimizer, a loss and metrics: Keras' `Model` for any [`Module`]: a
/// [`Sequential`](crate::Sequential), a layer, or a struct of your own with
/// `#[derive(Module)]`.
///
/// ```
/// use nn::data::one_hot;
/// use nn::losses::CategoricalCrossentropy;
/// use nn::metrics::Accuracy;
/// use nn::{Activation, Adam, Dense, FitOptions, Model, Sequential, Tensor};
///
/// nn::manual_seed(0);
/// // XOR-like toy data: class = (x0 > 0) != (x1 > 0)
/// let xs: Vec<f32> = vec![1., 1., -1., -1., 1., -1., -1., 1.].repeat(16);
/// let labels: Vec<usize> = vec![0, 0, 1, 1].repeat(16);
/// let x = Tensor::from_vec(xs, [64, 2])?;
/// let y = one_hot::<f32>(&labels, 2)?;
///
/// let mut model = Model::new(
///     Sequential::new()
///         .add(Dense::new(2, 16).activation(Activation::Relu))
///         .add(Dense::new(16, 2).activation(Activation::Softmax)),
/// );
/// model.compile(Adam::new(0.05), CategoricalCrossentropy::new(), nn::metrics![Accuracy::new()]);
/// let history = model.fit(&x, &y, FitOptions { epochs: 30, batch_size: 16, verbose: 0, seed: Some(1), ..Default::default() })?;
/// assert_eq!(history.len(), 30);
/// let scores = model.evaluate(&x, &y)?;
/// assert!(scores["accuracy"] > 0.99);
/// let probs = model.predict(&x)?;
/// assert_eq!(probs.shape(), &[64, 2]);
/// # Ok::<(), nn::NnError>(())
/// ```
pub struct Model<M, T: Float = f32> {
    /// The module being trained.
    pub module: M,
    compiled: Option<Compiled<T>>,
}

impl<T: Float, M: Module<T>> Model<M, T> {
    /// Wraps a module (not yet compiled).
    pub fn new(module: M) -> Self {
        Model { module, compiled: None }
    }

    /// The module.
    pub fn into_module(self) -> M {
        self.module
    }

    /// Sets the optimizer, the loss and the metrics for `fit` and `evaluate` (Keras'
    /// `compile`). The loss is any [`Loss`]: a built-in one from [`losses`](crate::losses), a
    /// struct of your own, or a closure `|y_pred: &Var<T>, y_true: &Var<T>| -> Var<T>`. The
    /// metrics are [`Metric`]s, boxed: [`metrics!`](crate::metrics!)`[Accuracy::new(),
    /// Auc::new()]`, or `[]` for none.
    pub fn compile(
        &mut self,
        optimizer: impl Optimizer<T> + Send + 'static,
        loss: impl Loss<T> + 'static,
        metrics: impl IntoIterator<Item = Box<dyn Metric<T>>>,
    ) {
        self.compiled = Some(Compiled::new(optimizer, loss, metrics));
    }

    fn compiled(&mut self, op: &str) -> Result<&mut Compiled<T>, NnError> {
        self.compiled
            .as_mut()
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

    /// The metrics set by `compile`, as left by the last `fit` epoch or `evaluate`.
    pub fn metrics(&self) -> &[Box<dyn Metric<T>>] {
        self.compiled.as_ref().map_or(&[], |c| &c.metrics)
    }

    /// Trains for `opts.epochs` epochs and returns the per-epoch loss and metrics (training
    /// and `val_`). See [`FitOptions`] and the [`train`] module for what happens in an epoch.
    ///
    /// `x` is a [`Tensor`] `[n, ...]` or any other [`BatchSource`], such as
    /// [`U8Images`](crate::data::U8Images), which keeps images as bytes and converts one batch
    /// at a time; `y` is a [`Tensor`] with `n` targets.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if not compiled or the options are invalid; shape or data
    /// errors if `x`/`y` do not fit the model and the loss, or hold a NaN or an infinity
    /// (naming the first such sample); errors from callbacks (such as
    /// [`TerminateOnNaN`](crate::callbacks::TerminateOnNaN)).
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
        let c = self
            .compiled
            .as_mut()
            .ok_or_else(|| NnError::config("fit: the model is not compiled; call compile first"))?;
        train::fit(&mut self.module, c, x, y, opts, callbacks)
    }

    /// The loss and metrics on inputs `x` (a [`Tensor`] or any [`BatchSource`]) and targets
    /// `y`, in evaluation mode, in batches of 32.
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn evaluate(&mut self, x: &(impl BatchSource<T> + ?Sized), y: &Tensor<T>) -> Result<Logs, NnError> {
        self.evaluate_with(x, y, EvaluateOptions::default())
    }

    /// [`evaluate`](Self::evaluate) with options (batch size, the finiteness check).
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn evaluate_with(
        &mut self,
        x: &(impl BatchSource<T> + ?Sized),
        y: &Tensor<T>,
        opts: EvaluateOptions,
    ) -> Result<Logs, NnError> {
        let c = self
            .compiled
            .as_mut()
            .ok_or_else(|| NnError::config("evaluate: the model is not compiled; call compile first"))?;
        train::evaluate(&mut self.module, c, x, y, opts)
    }

    /// The model's outputs for `x` (a [`Tensor`] or any [`BatchSource`]) in evaluation mode
    /// (dropout off), computed in batches of 256.
    ///
    /// # Errors
    /// [`NnError::ShapeMismatch`] if `x` does not fit the first layer.
    pub fn predict(&mut self, x: &(impl BatchSource<T> + ?Sized)) -> Result<Tensor<T>, NnError> {
        train::predict(&mut self.module, x, 256)
    }

    /// [`predict`](Self::predict) in batches of `batch_size`.
    ///
    /// # Errors
    /// As [`predict`](Self::predict).
    pub fn predict_with(
        &mut self,
        x: &(impl BatchSource<T> + ?Sized),
        batch_size: usize,
    ) -> Result<Tensor<T>, NnError> {
        train::predict(&mut self.module, x, batch_size)
    }

    /// A Keras-like summary: one line per direct sub-module (named as in the state dict) with
    /// its parameter count, and the total.
    pub fn summary(&self) -> String {
        let mut s = format!("{:<6} {:<40} {:>10}\n", "#", "Layer", "Params");
        let children = self.module.children();
        if children.is_empty() {
            s.push_str(&format!("{:<6} {:<40} {:>10}\n", "", self.module.describe(), self.module.num_parameters()));
        }
        for (name, l) in children {
            s.push_str(&format!("{:<6} {:<40} {:>10}\n", name, l.describe(), l.num_parameters()));
        }
        s.push_str(&format!("Total params: {}\n", self.module.num_parameters()));
        s
    }

    /// The number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.module.num_parameters()
    }

    /// The module's parameters and buffers (see [`Module::state_dict`]).
    pub fn state_dict(&self) -> StateDict<T> {
        self.module.state_dict()
    }

    /// Loads the module's parameters and buffers (see [`Module::load_state_dict`]).
    ///
    /// # Errors
    /// As [`Module::load_state_dict`].
    pub fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        self.module.load_state_dict(sd)
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
        let shapes: Vec<Vec<usize>> = self.module.parameters().iter().map(|p| p.value().shape().to_vec()).collect();
        train::check_optimizer_state(sd, &shapes)?;
        self.compiled("load_optimizer_state_dict")?.optimizer.load_state_dict(sd)
    }

    /// Saves the weights (and buffers) as a safetensors file under the names and layouts of
    /// the equivalent PyTorch module (`0.weight` `[out, in]`, `0.bias`, `2.weight`, ... for a
    /// [`Sequential`](crate::Sequential)), so `torch_module.load_state_dict(
    /// safetensors.torch.load_file(path))` reads it, `strict=True`. The file is written to a
    /// temporary name and renamed into place: an existing file is never left half-written.
    ///
    /// # Errors
    /// [`NnError::Io`] naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        io::save_safetensors(path, &self.state_dict(), &[("format", "pt")])
    }

    /// Loads weights saved by [`save`](Self::save) (or by PyTorch's
    /// `safetensors.torch.save_file` from the equivalent module; or a file written when
    /// `Sequential` numbered each layer once). Every tensor must be present with this model's
    /// shape; nothing is changed if any check fails.
    ///
    /// # Errors
    /// I/O and format errors naming the file; a mismatch error naming every missing,
    /// unexpected or wrongly shaped tensor.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<(), NnError> {
        let sd = io::load_safetensors::<T>(path)?;
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
        let shapes: Vec<Vec<usize>> = self.module.parameters().iter().map(|p| p.value().shape().to_vec()).collect();
        train::check_optimizer_state(&ckpt.optimizer, &shapes)?;
        let before = self.state_dict();
        self.load_state_dict(&ckpt.model)?;
        if let Err(e) = self.load_optimizer_state_dict(&ckpt.optimizer) {
            self.load_state_dict(&before).expect("the model's own state loads back");
            return Err(e);
        }
        Ok(ckpt.epoch)
    }
}

/// Boxes metrics for [`Model::compile`]: `nn::metrics![Accuracy::new(), Auc::new()]` is a
/// `Vec<Box<dyn Metric<T>>>`.
#[macro_export]
macro_rules! metrics {
    ($($m:expr),* $(,)?) => {
        ::std::vec![$(::std::boxed::Box::new($m) as ::std::boxed::Box<dyn $crate::metrics::Metric<_>>),*]
    };
}
