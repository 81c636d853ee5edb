//! The [`Module`] trait, its structure ([`ModuleFields`], usually derived), buffers
//! ([`Buffer`]) and the forward context [`Ctx`].
//!
//! # Design
//!
//! A module is a struct of parameters ([`Param`]: trained), buffers (saved and loaded, never
//! trained, such as running statistics) and sub-modules. [`ModuleFields`] walks them by
//! name; `#[derive(Module)]` writes it from the struct's fields (see [`derive@Module`]), so
//! a custom module lists nothing by hand. [`Module`] adds `forward` (written by hand) and
//! provides everything that follows from the walk: [`named_parameters`](Module::named_parameters),
//! [`state_dict`](Module::state_dict) / [`load_state_dict`](Module::load_state_dict) under
//! PyTorch's dotted names, [`train`](Module::train) / [`eval`](Module::eval), the number of
//! parameters, the regularisation penalties of the sub-modules.
//!
//! Parameters live in their modules, outside any tape. A forward pass gets a [`Ctx`]: it owns
//! that pass's [`Tape`] (none for inference), carries the generator for dropout, and
//! remembers which variable each parameter was bound to. A module's `forward` calls
//! [`Ctx::bind`] on each of its parameters to get a [`Var`]; binding the same parameter twice
//! in one pass gives the same variable (so weight tying works). [`Ctx::backward`] sweeps the
//! tape and returns one gradient per parameter, in the order of [`Module::parameters`], and
//! drops the tape, so that the optimizer can update the parameters in place.
//!
//! **Train/eval mode** is PyTorch's: a flag on the modules that care (dropout today; batch
//! normalisation later), set for the whole tree by [`Module::train`] / [`Module::eval`]
//! (`#[module(training)]` marks such a flag in a derived struct). `fit` switches to training
//! mode for its training batches and to evaluation mode for validation; `evaluate` and
//! `predict` run in evaluation mode. A new module is in training mode, as in PyTorch: a
//! hand-written inference pass calls `eval()` first. Whether gradients are recorded is the
//! pass's business ([`Ctx::new`] records, [`Ctx::no_grad`] does not), independent of the mode.
//!
//! # A custom module
//!
//! ```
//! use nn::{Ctx, Dense, Module, Param, Tensor, Var};
//!
//! /// y = dense(x) * scale + shift.
//! #[derive(Module)]
//! struct Scaled {
//!     dense: Dense<f64>,
//!     scale: Param<f64>,
//!     shift: Param<f64>,
//! }
//!
//! impl Module<f64> for Scaled {
//!     fn forward(&self, x: &Var<f64>, ctx: &mut Ctx<f64>) -> Var<f64> {
//!         self.dense.forward(x, ctx) * &ctx.bind(&self.scale) + ctx.bind(&self.shift)
//!     }
//! }
//!
//! let m = Scaled {
//!     dense: Dense::from_weights(Tensor::eye(2), None)?,
//!     scale: Param::new(Tensor::full([2], 2.0)),
//!     shift: Param::new(Tensor::zeros([2])),
//! };
//! let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["dense.weight", "scale", "shift"]);
//! let mut ctx = Ctx::new(0);
//! let x = Var::constant(Tensor::from_vec(vec![1.0, 3.0], [1, 2])?);
//! let loss = m.forward(&x, &mut ctx).sum();
//! let grads = ctx.backward(loss, &m)?;
//! assert_eq!(grads[1].to_vec(), vec![1.0, 3.0]); // d/d scale
//! # Ok::<(), nn::NnError>(())
//! ```

use crate::activation::Activation;
use crate::error::NnError;
use crate::param::Param;
use crate::rng::derive_seed;
use crate::state::StateDict;
use autograd::{Float, Tape, Tensor, Var};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::RwLock;

pub use nn_derive::Module;

/// What a module is made of: its parameters, buffers, sub-modules and train/eval flags, each
/// visited by name. Write it with `#[derive(Module)]` (see [`derive@Module`]); implement it
/// by hand only for a module whose structure is dynamic (as [`Sequential`](crate::Sequential)'s).
///
/// Both methods must visit the same things under the same names in the same order.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not describe its parameters and sub-modules",
    label = "add `#[derive(Module)]` to `{Self}` (or implement `nn::ModuleFields<{T}>` by hand)"
)]
pub trait ModuleFields<T: Float> {
    /// Calls `v` once for each parameter, buffer, flag and direct sub-module, with its name.
    fn visit<'a>(&'a self, v: &mut dyn Visitor<'a, T>);

    /// [`visit`](Self::visit), mutably.
    fn visit_mut<'a>(&'a mut self, v: &mut dyn VisitorMut<'a, T>);
}

/// Receives what [`ModuleFields::visit`] finds. Sub-modules are handed over whole; a visitor
/// that wants their contents calls their `visit` itself (with the name as a prefix).
pub trait Visitor<'a, T: Float> {
    /// A trainable parameter.
    fn param(&mut self, name: &str, p: &'a Param<T>);
    /// A buffer (saved, not trained).
    fn buffer(&mut self, _name: &str, _b: &'a dyn BufferSlot<T>) {}
    /// A direct sub-module.
    fn module(&mut self, name: &str, m: &'a dyn Module<T>);
    /// A train/eval flag (`true`: training).
    fn flag(&mut self, _training: bool) {}
    /// Whether to name a [`Sequential`](crate::Sequential)'s layers by position (the names of
    /// files written before layers were named as in PyTorch) rather than PyTorch's index.
    fn legacy_names(&self) -> bool {
        false
    }
}

/// Receives what [`ModuleFields::visit_mut`] finds (see [`Visitor`]).
pub trait VisitorMut<'a, T: Float> {
    /// A trainable parameter.
    fn param(&mut self, name: &str, p: &'a mut Param<T>);
    /// A buffer (saved, not trained).
    fn buffer(&mut self, _name: &str, _b: &'a mut dyn BufferSlot<T>) {}
    /// A direct sub-module.
    fn module(&mut self, name: &str, m: &'a mut dyn Module<T>);
    /// A train/eval flag (`true`: training).
    fn flag(&mut self, _training: &'a mut bool) {}
    /// As [`Visitor::legacy_names`].
    fn legacy_names(&self) -> bool {
        false
    }
}

/// Something a derived module can hold a parameter in (a [`Param`]); used by `#[derive(Module)]`.
pub trait AsParam<T: Float> {
    /// The parameter.
    fn as_param(&self) -> &Param<T>;
    /// The parameter, mutably.
    fn as_param_mut(&mut self) -> &mut Param<T>;
}

impl<T: Float> AsParam<T> for Param<T> {
    fn as_param(&self) -> &Param<T> {
        self
    }
    fn as_param_mut(&mut self) -> &mut Param<T> {
        self
    }
}

/// Storage of a buffer: a [`Buffer`] (which a forward pass can update through `&self`), or a
/// plain [`Tensor`] marked `#[module(buffer)]` (a constant that is saved and loaded).
pub trait BufferSlot<T: Float> {
    /// The current value (a cheap shared handle).
    fn get(&self) -> Tensor<T>;
    /// Replaces the value (the shape may not change).
    ///
    /// # Errors
    /// [`NnError::ShapeMismatch`] naming `name` if the shape differs.
    fn set(&mut self, name: &str, value: Tensor<T>) -> Result<(), NnError>;
}

impl<T: Float> BufferSlot<T> for Tensor<T> {
    fn get(&self) -> Tensor<T> {
        self.clone()
    }
    fn set(&mut self, name: &str, value: Tensor<T>) -> Result<(), NnError> {
        if value.shape() != self.shape() {
            return Err(NnError::shape(name, self.shape(), value.shape()));
        }
        *self = value;
        Ok(())
    }
}

/// A tensor that belongs to a module's state but is not trained (PyTorch's
/// `register_buffer`): saved and loaded with the parameters, never given to the optimizer.
/// Running statistics are the typical case; a training forward pass updates them through
/// `&self` with [`replace`](Self::replace) (so the value sits behind a lock).
///
/// ```
/// use nn::{Buffer, Tensor};
/// let running_mean = Buffer::new(Tensor::<f32>::zeros([3]));
/// running_mean.replace(Tensor::full([3], 0.5));
/// assert_eq!(running_mean.get().to_vec(), [0.5, 0.5, 0.5]);
/// ```
#[derive(Debug)]
pub struct Buffer<T: Float> {
    value: RwLock<Tensor<T>>,
}

impl<T: Float> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        Buffer::new(self.get())
    }
}

impl<T: Float> Buffer<T> {
    /// A buffer holding `value`.
    pub fn new(value: Tensor<T>) -> Self {
        Buffer { value: RwLock::new(value) }
    }

    /// The current value (a cheap shared handle).
    pub fn get(&self) -> Tensor<T> {
        self.value.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value through a shared reference (from `forward`).
    ///
    /// # Panics
    /// If the shape changes.
    pub fn replace(&self, value: Tensor<T>) {
        let mut v = self.value.write().unwrap_or_else(|e| e.into_inner());
        assert_eq!(value.shape(), v.shape(), "Buffer::replace: the shape may not change");
        *v = value;
    }
}

impl<T: Float> BufferSlot<T> for Buffer<T> {
    fn get(&self) -> Tensor<T> {
        Buffer::get(self)
    }
    fn set(&mut self, name: &str, value: Tensor<T>) -> Result<(), NnError> {
        let v = self.value.get_mut().unwrap_or_else(|e| e.into_inner());
        if value.shape() != v.shape() {
            return Err(NnError::shape(name, v.shape(), value.shape()));
        }
        *v = value;
        Ok(())
    }
}

/// What [`Module::forward_logits`] returns.
pub enum Forward<T: Float> {
    /// The module ends in the activation that was asked for; this is that activation's input
    /// (the logits).
    Logits(Var<T>),
    /// The module's output: it does not end in that activation.
    Output(Var<T>),
}

/// A layer or a network of layers.
///
/// Required: [`forward`](Module::forward), and the structure [`ModuleFields`], normally
/// `#[derive(Module)]`. Everything else has a default: the provided methods below follow
/// from the structure, the others ([`describe`](Module::describe), feature counts,
/// [`forward_logits`](Module::forward_logits), [`regularization`](Module::regularization))
/// are hints a module may give.
///
/// Names are PyTorch's: a field's name, dotted through sub-modules (`encoder.fc1.weight`);
/// a [`Sequential`](crate::Sequential) numbers its layers as `torch.nn.Sequential` does.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Module<{T}>`",
    label = "not a `Module<{T}>`",
    note = "a module implements `nn::Module<{T}>` (its `forward`) and `#[derive(Module)]`",
    note = "in a `#[derive(Module)]` struct, a field that holds no parameters is marked `#[module(skip)]`"
)]
pub trait Module<T: Float = f32>: ModuleFields<T> {
    /// The forward pass. Bind parameters with [`Ctx::bind`].
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T>;

    /// The forward pass stopped before a final `head` activation if the module ends in one
    /// ([`Forward::Logits`]), else the output. A loss that is computed better from logits
    /// (cross-entropy after softmax or sigmoid) asks for them through this; see
    /// [`Loss::logits_of`](crate::Loss::logits_of). The default is the output.
    fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>, head: Activation) -> Forward<T> {
        let _ = head;
        Forward::Output(self.forward(x, ctx))
    }

    /// The regularisation penalty to add to the loss (L1/L2 on weights, see
    /// [`Regularizer`](crate::Regularizer)), binding parameters through `ctx`; `None` if
    /// there is none. The default adds up the sub-modules' penalties.
    fn regularization(&self, ctx: &mut Ctx<T>) -> Option<Var<T>> {
        self.children().into_iter().filter_map(|(_, m)| m.regularization(ctx)).reduce(|a, b| a + b)
    }

    /// A short description for summaries and messages, such as `Dense(784 -> 128, relu)`.
    /// The default is the type's name.
    fn describe(&self) -> String {
        std::any::type_name::<Self>()
            .split('<')
            .next()
            .unwrap_or("")
            .rsplit("::")
            .next()
            .unwrap_or("Module")
            .to_string()
    }

    /// The number of input features (the last axis) this module needs, when it knows it (a
    /// `Dense` does). Used to check data before training. Default `None`.
    fn in_features(&self) -> Option<usize> {
        None
    }

    /// The number of output features given `input` input features, when known. Default `None`.
    fn out_features(&self, _input: Option<usize>) -> Option<usize> {
        None
    }

    /// How many modules of the equivalent idiomatic PyTorch model this one stands for, as
    /// numbered in a `torch.nn.Sequential`: 1, or 2 for a `Dense` with an activation
    /// (`Linear` then the activation module). A [`Sequential`](crate::Sequential) names its
    /// layers by this count, so its state dict loads into the `torch.nn.Sequential` a
    /// PyTorch user would write.
    fn torch_modules(&self) -> usize {
        1
    }

    /// Sets training (`true`) or evaluation mode on every flag of this module and its
    /// sub-modules (PyTorch's `module.train(mode)`). `fit`, `evaluate` and `predict` call it.
    fn set_training(&mut self, training: bool) {
        struct Set(bool);
        impl<'a, T: Float> VisitorMut<'a, T> for Set {
            fn param(&mut self, _: &str, _: &'a mut Param<T>) {}
            fn module(&mut self, _: &str, m: &'a mut dyn Module<T>) {
                m.set_training(self.0);
            }
            fn flag(&mut self, f: &'a mut bool) {
                *f = self.0;
            }
        }
        self.visit_mut(&mut Set(training));
    }

    /// Training mode (`set_training(true)`).
    fn train(&mut self) {
        self.set_training(true)
    }

    /// Evaluation mode (`set_training(false)`): dropout off, running statistics used.
    fn eval(&mut self) {
        self.set_training(false)
    }

    /// Whether the first train/eval flag found (depth first) is set; `None` if the module has
    /// no flag (its forward pass is the same in both modes).
    fn is_training(&self) -> Option<bool> {
        struct Find(Option<bool>);
        impl<'a, T: Float> Visitor<'a, T> for Find {
            fn param(&mut self, _: &str, _: &'a Param<T>) {}
            fn module(&mut self, _: &str, m: &'a dyn Module<T>) {
                if self.0.is_none() {
                    self.0 = m.is_training();
                }
            }
            fn flag(&mut self, f: bool) {
                self.0.get_or_insert(f);
            }
        }
        let mut f = Find(None);
        self.visit(&mut f);
        f.0
    }

    /// The direct sub-modules with their names (PyTorch's `named_children`).
    fn children(&self) -> Vec<(String, &dyn Module<T>)> {
        struct Children<'a, T: Float>(Vec<(String, &'a dyn Module<T>)>);
        impl<'a, T: Float> Visitor<'a, T> for Children<'a, T> {
            fn param(&mut self, _: &str, _: &'a Param<T>) {}
            fn module(&mut self, name: &str, m: &'a dyn Module<T>) {
                self.0.push((name.to_string(), m));
            }
        }
        let mut c = Children(Vec::new());
        self.visit(&mut c);
        c.0
    }

    /// Every parameter with its dotted name, depth first in field order.
    fn named_parameters(&self) -> Vec<(String, &Param<T>)> {
        let mut w = Walk::new(true, false);
        self.visit(&mut w);
        w.params
    }

    /// Every parameter in [`named_parameters`](Self::named_parameters) order (the order of
    /// the gradients of [`Ctx::backward`] and of an optimizer's state).
    fn parameters(&self) -> Vec<&Param<T>> {
        let mut w = Walk::new(false, false);
        self.visit(&mut w);
        w.params.into_iter().map(|(_, p)| p).collect()
    }

    /// [`parameters`](Self::parameters), mutably.
    fn parameters_mut(&mut self) -> Vec<&mut Param<T>> {
        let mut w = WalkMut::new(false, false);
        self.visit_mut(&mut w);
        w.params.into_iter().map(|(_, p)| p).collect()
    }

    /// The parameters' tensors, mutably, in [`parameters`](Self::parameters) order: what
    /// [`Optimizer::step`](crate::Optimizer::step) takes.
    fn param_tensors_mut(&mut self) -> Vec<&mut Tensor<T>> {
        self.parameters_mut().into_iter().map(|p| p.value_mut()).collect()
    }

    /// Every buffer with its dotted name and current value.
    fn named_buffers(&self) -> Vec<(String, Tensor<T>)> {
        let mut w = Walk::new(true, false);
        self.visit(&mut w);
        w.buffers.into_iter().map(|(n, b)| (n, b.get())).collect()
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value().numel()).sum()
    }

    /// Parameters (in exported layout: a `Dense` weight is written `[out, in]` as in
    /// PyTorch) and buffers as a [`StateDict`], under their dotted names.
    fn state_dict(&self) -> StateDict<T> {
        let mut w = Walk::new(true, false);
        self.visit(&mut w);
        let mut sd = StateDict::new();
        for (name, e) in w.entries {
            let t = match e {
                Entry::Param(p) => p.export(),
                Entry::Buffer(b) => b.get(),
            };
            sd.insert(name, t);
        }
        sd
    }

    /// Sets every parameter and buffer from a state dict in exported layout. The names must
    /// be exactly this module's; a file written before `Sequential` layers were numbered as
    /// in PyTorch (one index per layer, a `Dense` with its activation counting once) is
    /// recognised and loaded too.
    ///
    /// # Errors
    /// [`NnError::StateDictMismatch`] naming every missing, unexpected and wrongly shaped
    /// tensor; the module is unchanged on error.
    fn load_state_dict(&mut self, sd: &StateDict<T>) -> Result<(), NnError> {
        let expected = expected_shapes(self, false);
        let renamed;
        let sd = match check_shapes(sd, &expected) {
            Ok(()) => sd,
            Err(e) => {
                let legacy = expected_shapes(self, true);
                if legacy.iter().map(|(n, _)| n).eq(expected.iter().map(|(n, _)| n))
                    || check_shapes(sd, &legacy).is_err()
                {
                    return Err(e);
                }
                renamed = legacy
                    .iter()
                    .zip(&expected)
                    .map(|((old, _), (new, _))| (new.clone(), sd[old].clone()))
                    .collect::<StateDict<T>>();
                &renamed
            }
        };
        let mut w = WalkMut::new(true, false);
        self.visit_mut(&mut w);
        for (name, e) in w.entries {
            match e {
                EntryMut::Param(p) => p.import(&name, &sd[&name])?,
                EntryMut::Buffer(b) => b.set(&name, sd[&name].clone())?,
            }
        }
        Ok(())
    }
}

/// `(name, exported shape)` of every parameter and buffer, in state-dict order.
fn expected_shapes<T: Float, M: Module<T> + ?Sized>(m: &M, legacy: bool) -> Vec<(String, Vec<usize>)> {
    let mut w = Walk::new(true, legacy);
    m.visit(&mut w);
    w.entries
        .into_iter()
        .map(|(n, e)| match e {
            Entry::Param(p) => (n, p.export_shape()),
            Entry::Buffer(b) => (n, b.get().shape().to_vec()),
        })
        .collect()
}

/// Compares a state dict against expected names and shapes, listing every difference.
pub(crate) fn check_shapes<T: Float>(sd: &StateDict<T>, expected: &[(String, Vec<usize>)]) -> Result<(), NnError> {
    let mut missing = Vec::new();
    let mut wrong_shape = Vec::new();
    for (name, shape) in expected {
        match sd.get(name) {
            None => missing.push((name.clone(), shape.clone())),
            Some(t) if t.shape() != shape.as_slice() => {
                wrong_shape.push((name.clone(), shape.clone(), t.shape().to_vec()))
            }
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let unexpected: Vec<(String, Vec<usize>)> =
        sd.iter().filter(|(n, _)| !known.contains(n.as_str())).map(|(n, t)| (n.clone(), t.shape().to_vec())).collect();
    if missing.is_empty() && unexpected.is_empty() && wrong_shape.is_empty() {
        Ok(())
    } else {
        Err(NnError::StateDictMismatch { missing, unexpected, wrong_shape })
    }
}

enum Entry<'a, T: Float> {
    Param(&'a Param<T>),
    Buffer(&'a dyn BufferSlot<T>),
}

enum EntryMut<'a, T: Float> {
    Param(&'a mut Param<T>),
    Buffer(&'a mut dyn BufferSlot<T>),
}

/// Collects parameters and buffers depth first, with dotted names when `named`.
struct Walk<'a, T: Float> {
    named: bool,
    legacy: bool,
    prefix: String,
    params: Vec<(String, &'a Param<T>)>,
    buffers: Vec<(String, &'a dyn BufferSlot<T>)>,
    entries: Vec<(String, Entry<'a, T>)>,
}

impl<T: Float> Walk<'_, T> {
    fn new(named: bool, legacy: bool) -> Self {
        Walk { named, legacy, prefix: String::new(), params: vec![], buffers: vec![], entries: vec![] }
    }
    fn full(&self, name: &str) -> String {
        if self.named {
            format!("{}{name}", self.prefix)
        } else {
            String::new()
        }
    }
}

impl<'a, T: Float> Visitor<'a, T> for Walk<'a, T> {
    fn param(&mut self, name: &str, p: &'a Param<T>) {
        let n = self.full(name);
        if self.named {
            self.entries.push((n.clone(), Entry::Param(p)));
        }
        self.params.push((n, p));
    }
    fn buffer(&mut self, name: &str, b: &'a dyn BufferSlot<T>) {
        let n = self.full(name);
        if self.named {
            self.entries.push((n.clone(), Entry::Buffer(b)));
        }
        self.buffers.push((n, b));
    }
    fn module(&mut self, name: &str, m: &'a dyn Module<T>) {
        let len = self.prefix.len();
        if self.named {
            self.prefix.push_str(name);
            self.prefix.push('.');
        }
        m.visit(self);
        self.prefix.truncate(len);
    }
    fn legacy_names(&self) -> bool {
        self.legacy
    }
}

/// [`Walk`], mutably.
struct WalkMut<'a, T: Float> {
    named: bool,
    legacy: bool,
    prefix: String,
    params: Vec<(String, &'a mut Param<T>)>,
    entries: Vec<(String, EntryMut<'a, T>)>,
}

impl<T: Float> WalkMut<'_, T> {
    fn new(named: bool, legacy: bool) -> Self {
        WalkMut { named, legacy, prefix: String::new(), params: vec![], entries: vec![] }
    }
}

impl<'a, T: Float> VisitorMut<'a, T> for WalkMut<'a, T> {
    fn param(&mut self, name: &str, p: &'a mut Param<T>) {
        if self.named {
            self.entries.push((format!("{}{name}", self.prefix), EntryMut::Param(p)));
        } else {
            self.params.push((String::new(), p));
        }
    }
    fn buffer(&mut self, name: &str, b: &'a mut dyn BufferSlot<T>) {
        if self.named {
            self.entries.push((format!("{}{name}", self.prefix), EntryMut::Buffer(b)));
        }
    }
    fn module(&mut self, name: &str, m: &'a mut dyn Module<T>) {
        let len = self.prefix.len();
        if self.named {
            self.prefix.push_str(name);
            self.prefix.push('.');
        }
        m.visit_mut(self);
        self.prefix.truncate(len);
    }
    fn legacy_names(&self) -> bool {
        self.legacy
    }
}

impl<T: Float, M: ModuleFields<T> + ?Sized> ModuleFields<T> for Box<M> {
    fn visit<'a>(&'a self, v: &mut dyn Visitor<'a, T>) {
        (**self).visit(v)
    }
    fn visit_mut<'a>(&'a mut self, v: &mut dyn VisitorMut<'a, T>) {
        (**self).visit_mut(v)
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
        (**self).forward(x, ctx)
    }
    fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>, head: Activation) -> Forward<T> {
        (**self).forward_logits(x, ctx, head)
    }
    fn regularization(&self, ctx: &mut Ctx<T>) -> Option<Var<T>> {
        (**self).regularization(ctx)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn in_features(&self) -> Option<usize> {
        (**self).in_features()
    }
    fn out_features(&self, input: Option<usize>) -> Option<usize> {
        (**self).out_features(input)
    }
    fn torch_modules(&self) -> usize {
        (**self).torch_modules()
    }
    fn set_training(&mut self, training: bool) {
        (**self).set_training(training)
    }
    fn is_training(&self) -> Option<bool> {
        (**self).is_training()
    }
}

/// The context of one forward pass: the tape (if gradients are wanted), the generator for
/// dropout, and the variables the parameters were bound to. See the [module docs](self).
pub struct Ctx<T: Float> {
    tape: Option<Tape<T>>,
    /// The dropout generator's seed; the generator itself is made on first use, since
    /// seeding a ChaCha generator every step cost 10% of a small MLP's step without dropout.
    seed: u64,
    rng: Option<StdRng>,
    bound: Vec<(u64, Var<T>)>,
}

impl<T: Float> Ctx<T> {
    /// A pass that records gradients on a fresh tape; training-time noise (dropout masks)
    /// comes from a generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Ctx { tape: Some(Tape::new()), seed, rng: None, bound: Vec::new() }
    }

    /// [`Ctx::new`] with the generator derived from `(seed, path)` (see
    /// [`derive_seed`]); the training loop uses
    /// `path = [stream, epoch, step]`.
    pub fn derived(seed: u64, path: &[u64]) -> Self {
        Ctx::new(derive_seed(seed, path))
    }

    /// A pass that records nothing (parameters bind as constants): inference.
    pub fn no_grad() -> Self {
        Ctx { tape: None, seed: 0, rng: None, bound: Vec::new() }
    }

    /// A pass on a tape you own (for custom loops that differentiate further).
    pub fn with_tape(tape: Tape<T>, seed: u64) -> Self {
        Ctx { tape: Some(tape), seed, rng: None, bound: Vec::new() }
    }

    /// The tape, if this pass records gradients.
    pub fn tape(&self) -> Option<&Tape<T>> {
        self.tape.as_ref()
    }

    /// The generator for training-time noise (dropout masks).
    pub fn rng(&mut self) -> &mut StdRng {
        let seed = self.seed;
        self.rng.get_or_insert_with(|| StdRng::seed_from_u64(seed))
    }

    /// The variable for parameter `p` in this pass: on the first call, `p`'s value is put on
    /// the tape as a leaf (or wrapped as a constant when there is no tape); later calls
    /// return the same variable.
    pub fn bind(&mut self, p: &Param<T>) -> Var<T> {
        if let Some((_, v)) = self.bound.iter().find(|(id, _)| *id == p.id()) {
            return v.clone();
        }
        let v = match &self.tape {
            Some(t) => t.var(p.value().clone()),
            None => Var::constant(p.value().clone()),
        };
        self.bound.push((p.id(), v.clone()));
        v
    }

    /// Runs the reverse sweep from `loss` and returns the gradient of every parameter of
    /// `module`, in [`Module::parameters`] order (zeros for a parameter that was not bound in
    /// this pass, such as an unused branch). Consumes the context and the loss, so that once
    /// the caller has dropped its other variables of this pass, the parameters' buffers are
    /// no longer shared and the optimizer updates them without a copy.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`], naming the loss and the module, when the gradients would
    /// be meaningless: this context records nothing ([`Ctx::no_grad`]); the loss was computed
    /// in another pass (on another tape) or is a constant; or none of `module`'s parameters
    /// was used in this pass.
    pub fn backward<M: Module<T> + ?Sized>(self, loss: Var<T>, module: &M) -> Result<Vec<Tensor<T>>, NnError> {
        let describe_loss = || {
            let v = loss.value();
            if v.numel() == 1 {
                format!("the loss (value {})", v.data()[0].to_f64())
            } else {
                format!("the loss (shape {:?})", v.shape())
            }
        };
        let Some(tape) = &self.tape else {
            return Err(NnError::config(format!(
                "Ctx::backward: {} of module {} was computed in a pass without a tape (Ctx::no_grad); use Ctx::new",
                describe_loss(),
                module.describe()
            )));
        };
        match loss.tape() {
            Some(t) if t.same(tape) => {}
            Some(_) => {
                return Err(NnError::config(format!(
                    "Ctx::backward: {} was computed on another tape, not in this pass, so it does not depend on \
                     module {} as bound here; compute the loss from this Ctx's forward pass",
                    describe_loss(),
                    module.describe()
                )))
            }
            None => {
                return Err(NnError::config(format!(
                    "Ctx::backward: {} is a constant: it does not depend on any parameter of module {}",
                    describe_loss(),
                    module.describe()
                )))
            }
        }
        let params = module.parameters();
        let bound: Vec<Option<&Var<T>>> =
            params.iter().map(|p| self.bound.iter().find(|(id, _)| *id == p.id()).map(|(_, v)| v)).collect();
        if !params.is_empty() && bound.iter().all(Option::is_none) {
            let names: Vec<String> = module.named_parameters().into_iter().map(|(n, _)| n).collect();
            return Err(NnError::config(format!(
                "Ctx::backward: {} does not depend on module {}: none of its parameters ({}) was bound in this \
                 pass; was the forward pass run on another module?",
                describe_loss(),
                module.describe(),
                names.join(", ")
            )));
        }
        let g = loss.backward();
        drop(loss);
        let grads = params
            .iter()
            .zip(&bound)
            .map(|(p, v)| match v {
                Some(v) => g.wrt(v),
                None => Tensor::zeros(p.value().shape()),
            })
            .collect();
        drop(g);
        drop(bound);
        drop(self);
        Ok(grads)
    }
}
