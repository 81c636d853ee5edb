//! [`StateDict`]: named tensors, the in-memory form of a model's parameters or an
//! optimizer's state.
//!
//! A state dict is an ordered map from PyTorch-style dotted names (`"0.weight"`,
//! `"0.bias"`, `"2.weight"`, `"state.0.weight.exp_avg"`) to tensors, plus a small map of
//! string metadata. The order is the insertion order (it is an [`IndexMap`]), which for a
//! model is the order of [`Module::parameters`](crate::Module::parameters): stable, so files
//! written from it are byte-for-byte reproducible.
//!
//! Everything with state (models, optimizers) has `state_dict()` and
//! `load_state_dict(&StateDict) -> Result<(), NnError>`; loading checks that the keys and
//! shapes match exactly and names the first missing, unexpected or wrongly shaped tensor.
//!
//! The file format (safetensors) lives in the checkpoint module; it writes the tensors in
//! order and the [`metadata`](StateDict::metadata) as safetensors' `__metadata__`.
//!
//! Why a newtype over `IndexMap<String, Tensor<T>>` rather than a bare alias: it derefs to
//! the map (so all of `IndexMap`'s API is there), and it also carries metadata. Scalar
//! state that must round-trip exactly and is not naturally a tensor of `T` (an optimizer's
//! step count, which an `f32` cannot hold exactly past 2^24) goes into the metadata as a
//! decimal string.
//!
//! ```
//! use autograd::Tensor;
//! use nn::StateDict;
//! let mut sd = StateDict::<f32>::new();
//! sd.insert("0.weight".to_string(), Tensor::zeros([3, 2]));
//! sd.insert("0.bias".to_string(), Tensor::zeros([3]));
//! sd.metadata.insert("format".to_string(), "pt".to_string());
//! assert_eq!(sd.keys().collect::<Vec<_>>(), ["0.weight", "0.bias"]);
//! ```

use crate::error::NnError;
use autograd::{Float, Tensor};
use indexmap::IndexMap;
use std::ops::{Deref, DerefMut};

/// An ordered map from dotted names to tensors, plus string metadata. See the
/// [module docs](self).
#[derive(Clone, Debug, PartialEq)]
pub struct StateDict<T: Float> {
    /// The tensors, in insertion order.
    pub tensors: IndexMap<String, Tensor<T>>,
    /// Free-form string metadata (e.g. an optimizer's name and step count). Written as
    /// safetensors `__metadata__` by the checkpoint code.
    pub metadata: IndexMap<String, String>,
}

impl<T: Float> Default for StateDict<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Deref for StateDict<T> {
    type Target = IndexMap<String, Tensor<T>>;
    fn deref(&self) -> &Self::Target {
        &self.tensors
    }
}

impl<T: Float> DerefMut for StateDict<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tensors
    }
}

impl<T: Float> From<IndexMap<String, Tensor<T>>> for StateDict<T> {
    fn from(tensors: IndexMap<String, Tensor<T>>) -> Self {
        StateDict { tensors, metadata: IndexMap::new() }
    }
}

impl<T: Float> FromIterator<(String, Tensor<T>)> for StateDict<T> {
    fn from_iter<I: IntoIterator<Item = (String, Tensor<T>)>>(iter: I) -> Self {
        StateDict { tensors: iter.into_iter().collect(), metadata: IndexMap::new() }
    }
}

impl<T: Float> IntoIterator for StateDict<T> {
    type Item = (String, Tensor<T>);
    type IntoIter = indexmap::map::IntoIter<String, Tensor<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.tensors.into_iter()
    }
}

impl<'a, T: Float> IntoIterator for &'a StateDict<T> {
    type Item = (&'a String, &'a Tensor<T>);
    type IntoIter = indexmap::map::Iter<'a, String, Tensor<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.tensors.iter()
    }
}

impl<T: Float> StateDict<T> {
    /// An empty state dict.
    pub fn new() -> Self {
        StateDict { tensors: IndexMap::new(), metadata: IndexMap::new() }
    }

    /// The tensors, consuming the state dict (metadata dropped).
    pub fn into_inner(self) -> IndexMap<String, Tensor<T>> {
        self.tensors
    }

    /// The tensor named `name`, or [`NnError::MissingTensor`].
    pub fn require(&self, name: &str) -> Result<&Tensor<T>, NnError> {
        self.tensors.get(name).ok_or_else(|| NnError::MissingTensor { name: name.to_string() })
    }

    /// The tensor named `name` if it has shape `shape`; [`NnError::MissingTensor`] or
    /// [`NnError::ShapeMismatch`] otherwise.
    pub fn require_shape(&self, name: &str, shape: &[usize]) -> Result<&Tensor<T>, NnError> {
        let t = self.require(name)?;
        if t.shape() != shape {
            return Err(NnError::shape(name, shape, t.shape()));
        }
        Ok(t)
    }

    /// The metadata value for `key`, or [`NnError::MissingTensor`] naming it.
    pub fn require_meta(&self, key: &str) -> Result<&str, NnError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| NnError::MissingTensor { name: format!("metadata `{key}`") })
    }

    /// Fails with [`NnError::UnexpectedTensor`] naming the first key that is not in `expected`.
    pub fn check_no_extra<'a>(&self, expected: impl IntoIterator<Item = &'a str>) -> Result<(), NnError> {
        let expected: std::collections::HashSet<&str> = expected.into_iter().collect();
        match self.tensors.keys().find(|k| !expected.contains(k.as_str())) {
            Some(k) => Err(NnError::UnexpectedTensor { name: k.clone() }),
            None => Ok(()),
        }
    }

    /// The entries whose name starts with `prefix` followed by a dot, with that prefix
    /// and the dot removed (`"0.weight"` under prefix `"0"` becomes `"weight"`).
    pub fn sub(&self, prefix: &str) -> StateDict<T> {
        let p = format!("{prefix}.");
        self.tensors.iter().filter_map(|(k, v)| k.strip_prefix(&p).map(|rest| (rest.to_string(), v.clone()))).collect()
    }

    /// Inserts every entry of `other` with its name prefixed by `prefix` and a dot
    /// (an empty prefix inserts the names unchanged).
    pub fn extend_prefixed(&mut self, prefix: &str, other: StateDict<T>) {
        for (k, v) in other.tensors {
            let name = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
            self.tensors.insert(name, v);
        }
        for (k, v) in other.metadata {
            let name = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
            self.metadata.insert(name, v);
        }
    }
}
