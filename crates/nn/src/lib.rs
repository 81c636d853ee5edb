//! Neural networks on top of [`autograd`]: modules, layers, initialisers, losses, metrics,
//! optimizers, data loading and a Keras-style training loop.
//!
//! ```
//! use nn::losses::SparseCategoricalCrossentropy;
//! use nn::metrics::Accuracy;
//! use nn::{Activation, Adam, Dense, FitOptions, Model, Sequential, Tensor};
//!
//! nn::manual_seed(42);
//! let mut model = Model::new(
//!     Sequential::new()
//!         .add(Dense::new(4, 16).activation(Activation::Relu))
//!         .add(Dense::new(16, 3).activation(Activation::Softmax)),
//! );
//! model.compile(Adam::default(), SparseCategoricalCrossentropy::new(), nn::metrics![Accuracy::new()]);
//! let x = Tensor::<f32>::rand_uniform([30, 4], -1.0, 1.0, &mut nn::rand::rng());
//! let y = Tensor::<f32>::from_vec((0..30).map(|i| (i % 3) as f32).collect(), [30])?;
//! let history = model.fit(&x, &y, FitOptions { epochs: 2, verbose: 0, ..Default::default() })?;
//! assert_eq!(history.get("loss").unwrap().len(), 2);
//! # Ok::<(), nn::NnError>(())
//! ```
//!
//! # Map of the crate
//!
//! * [`Module`] (the layer trait; `#[derive(Module)]` for your own), [`Ctx`] (one forward
//!   pass), [`Param`], [`Buffer`]: [`module`].
//! * Layers: [`Dense`]/[`Linear`], [`Dropout`], [`Flatten`], activation layers, [`Sequential`].
//! * [`Model`]: `compile`/`fit`/`evaluate`/`predict`/`save`/`load_weights`/`summary` for any
//!   module; the loop itself in [`train`]; [`callbacks`]; [`History`].
//! * [`Loss`] and the built-in [`losses`]; [`Metric`] and the built-in [`metrics`](mod@metrics) (also as
//!   functions over slices); [`Init`]ialisers, [`Regularizer`]s, [`optim`]izers and
//!   [`Schedule`]s.
//! * [`data`]: datasets, batching, splits, one-hot, [`data::BatchSource`] (the inputs of
//!   `fit`, built batch by batch), and the file readers in [`data::datasets`].
//! * [`StateDict`]: parameters and optimizer state in memory (PyTorch names and layouts);
//!   [`io`]: safetensors files and checkpoints.
//! * [`rng`]: seeding ([`manual_seed`]).
//!
//! Everything a user names to call this API is re-exported: [`autograd`] itself (and its
//! [`Tensor`], [`Var`], [`Float`]), [`rand`] (the generators `Tensor::randn` and friends take)
//! and [`indexmap`] (the map behind [`Logs`] and [`StateDict`]), so a `Cargo.toml` needs only
//! `nn`.
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod activation;
pub mod callbacks;
pub mod data;
pub mod error;
pub mod history;
pub mod init;
pub mod io;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod module;
pub mod optim;
pub mod param;
pub mod rng;
pub mod sequential;
pub mod state;
pub mod train;

// `#[derive(Module)]` names this crate `nn`; inside it, that is the crate itself.
extern crate self as nn;

pub use autograd::{self, Float, Tensor, Var};
pub use indexmap;
pub use rand;

pub use activation::{Activation, Gelu, LeakyRelu, Relu, Sigmoid, Softmax, Tanh};
pub use callbacks::{
    Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLrOnPlateau, TerminateOnNaN,
};
pub use error::NnError;
pub use history::{History, Logs};
pub use init::Init;
pub use layers::{Dense, Dropout, Flatten, Linear, Regularizer};
pub use losses::Loss;
pub use metrics::Metric;
pub use model::Model;
pub use module::{Buffer, Ctx, Forward, Module, ModuleFields};
pub use optim::{Adagrad, Adam, AdamW, Clip, Convention, Optimizer, RmsProp, Schedule, Sgd};
pub use param::Param;
pub use rng::manual_seed;
pub use sequential::Sequential;
pub use state::StateDict;
pub use train::{EvaluateOptions, FitOptions};

/// The user guide's examples (`docs/user-guide.md`), compiled and run as doc tests: the
/// custom-module section trains a `#[derive(Module)]` struct with a loss and a metric of its
/// own.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/user-guide.md")]
pub struct UserGuide;
