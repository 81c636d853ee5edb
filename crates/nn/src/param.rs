//! [`Param`]: a trainable tensor owned by a module, outside any tape.

use autograd::{Float, Tensor};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How a parameter's stored layout relates to its exported (state-dict) layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Stored and exported the same way.
    Same,
    /// A matrix stored as `[in, out]` (so that the forward pass is `x.matmul(w)` with no
    /// transpose) and exported as `[out, in]`, PyTorch's `nn.Linear.weight` layout.
    Transposed,
}

/// A trainable tensor. It lives in its module, outside any tape; each forward pass binds it
/// to that pass's tape with [`Ctx::bind`](crate::Ctx::bind), and the optimizer updates the
/// tensor in place afterwards.
///
/// Every `Param` has an id, unique in the process, by which a [`Ctx`](crate::Ctx) finds
/// the variable it was bound to. Cloning a `Param` gives it a new id: a cloned layer is a
/// new, independent layer that starts from the same values (not a tied one).
#[derive(Debug)]
pub struct Param<T: Float> {
    value: Tensor<T>,
    id: u64,
    layout: Layout,
}

impl<T: Float> Clone for Param<T> {
    fn clone(&self) -> Self {
        Param { value: self.value.clone(), id: fresh_id(), layout: self.layout }
    }
}

fn fresh_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl<T: Float> Param<T> {
    /// A parameter holding `value`, exported as is.
    pub fn new(value: Tensor<T>) -> Self {
        Param { value, id: fresh_id(), layout: Layout::Same }
    }

    /// A 2-d parameter stored `[in, out]` and exported transposed (see [`Layout::Transposed`]).
    ///
    /// # Panics
    /// If `value` is not 2-d.
    pub fn transposed(value: Tensor<T>) -> Self {
        assert_eq!(value.ndim(), 2, "Param::transposed: needs a matrix, got shape {:?}", value.shape());
        Param { value, id: fresh_id(), layout: Layout::Transposed }
    }

    /// The current value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// Mutable access, for optimizers (see [`Tensor::data_mut`]: no copy when the buffer is
    /// not shared, i.e. when no tape or variable from a finished step still holds it).
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }

    /// Replaces the value.
    ///
    /// # Panics
    /// If the shape changes.
    pub fn set(&mut self, value: Tensor<T>) {
        assert_eq!(value.shape(), self.value.shape(), "Param::set: shape changed");
        self.value = value;
    }

    /// The process-unique id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The stored layout relative to the exported one.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The shape as exported to a [`StateDict`](crate::StateDict).
    pub fn export_shape(&self) -> Vec<usize> {
        match self.layout {
            Layout::Same => self.value.shape().to_vec(),
            Layout::Transposed => vec![self.value.shape()[1], self.value.shape()[0]],
        }
    }

    /// The value in exported layout (a transposed copy for [`Layout::Transposed`], a cheap
    /// shared handle otherwise).
    pub fn export(&self) -> Tensor<T> {
        match self.layout {
            Layout::Same => self.value.clone(),
            Layout::Transposed => self.value.transpose(0, 1),
        }
    }

    /// Sets the value from a tensor in exported layout.
    ///
    /// # Errors
    /// [`NnError::ShapeMismatch`](crate::NnError::ShapeMismatch) naming `name` if the shape is not [`export_shape`](Self::export_shape).
    pub fn import(&mut self, name: &str, t: &Tensor<T>) -> Result<(), crate::NnError> {
        let want = self.export_shape();
        if t.shape() != want.as_slice() {
            return Err(crate::NnError::shape(name, &want, t.shape()));
        }
        self.value = match self.layout {
            Layout::Same => t.clone(),
            Layout::Transposed => t.transpose(0, 1),
        };
        Ok(())
    }
}
