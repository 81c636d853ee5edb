//! Neural networks on top of [`autograd`]: layers, initialisers, losses, optimizers, data
//! batching and a Keras-style training loop.
//!
//! ```
//! use autograd::Tensor;
//! use nn::{Activation, Adam, Dense, FitOptions, Loss, Metric, Sequential};
//!
//! nn::manual_seed(42);
//! let mut model = Sequential::new()
//!     .add(Dense::new(4, 16).activation(Activation::Relu))
//!     .add(Dense::new(16, 3).activation(Activation::Softmax));
//! model.compile(Adam::default(), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy]);
//! let x = Tensor::<f32>::rand_uniform([30, 4], -1.0, 1.0, &mut rand::rng());
//! let y = Tensor::<f32>::from_vec((0..30).map(|i| (i % 3) as f32).collect(), [30])?;
//! let history = model.fit(&x, &y, FitOptions { epochs: 2, verbose: 0, ..Default::default() })?;
//! assert_eq!(history.get("loss").unwrap().len(), 2);
//! # Ok::<(), nn::NnError>(())
//! ```
//!
//! # Map of the crate
//!
//! * [`Module`] (the layer trait), [`Ctx`] (one forward pass), [`Param`]: [`module`].
//! * Layers: [`Dense`]/[`Linear`], [`Dropout`], [`Flatten`], activation layers, [`Sequential`].
//! * [`Init`]ialisers, [`Regularizer`]s, [`losses`], [`optim`]izers and [`Schedule`]s.
//! * [`data`]: datasets, batching, one-hot; [`data::BatchSource`], the inputs of `fit`, built
//!   batch by batch ([`data::U8Images`]: bytes scaled to floats per batch).
//! * [`train`]: `fit`/`evaluate`/`predict`, metrics, progress bar; [`callbacks`]; [`History`].
//! * [`StateDict`]: parameters and optimizer state in memory (PyTorch names and layouts).
//! * [`rng`]: seeding ([`manual_seed`]).
//! * [`datasets`] (file loaders), [`metrics`] (evaluation metrics over slices), [`io`]
//!   (safetensors files and checkpoints).
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod activation;
pub mod callbacks;
pub mod data;
pub mod datasets;
pub mod error;
pub mod history;
pub mod init;
pub mod io;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod module;
pub mod optim;
pub mod param;
pub mod rng;
pub mod sequential;
pub mod state;
pub mod train;

pub use activation::{Activation, Gelu, LeakyRelu, Relu, Sigmoid, Softmax, Tanh};
pub use callbacks::{Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLrOnPlateau};
pub use error::NnError;
pub use history::{History, Logs};
pub use init::Init;
pub use layers::{Dense, Dropout, Flatten, Linear, Regularizer};
pub use losses::Loss;
pub use module::{Ctx, Module};
pub use optim::{Adagrad, Adam, AdamW, Clip, Convention, Optimizer, RmsProp, Schedule, Sgd};
pub use param::Param;
pub use rng::manual_seed;
pub use sequential::{Model, Sequential};
pub use state::StateDict;
pub use train::{FitOptions, Metric};
