//! Fused ops: a dense layer with its bias and activation in one op.

use crate::error::OrPanic;
use crate::float::{relu_value, sigmoid, Float};
use crate::graph::Var;
use crate::ops::unary::{Relu, Sigmoid, Tanh};
use crate::rules::{Algebra, Grads, StructRule, Structured};
use crate::simd::{vectorized, Kernel};
use crate::var::record;
use smallvec::smallvec;

/// The activation applied by [`Var::linear`], on the layer's output buffer in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LinearActivation {
    /// None: `x @ w + b`.
    #[default]
    Identity,
    /// max(z, 0), as [`Var::relu`].
    Relu,
    /// 1 / (1 + e^-z), as [`Var::sigmoid`].
    Sigmoid,
    /// tanh(z), as [`Var::tanh`].
    Tanh,
}

/// Applies the activation to `z` in place.
struct ActivateInPlace<'a, T> {
    z: &'a mut [T],
    act: LinearActivation,
}
impl<T: Float> Kernel for ActivateInPlace<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        match self.act {
            LinearActivation::Identity => {}
            LinearActivation::Relu => self.z.iter_mut().for_each(|v| *v = relu_value(*v)),
            LinearActivation::Sigmoid => self.z.iter_mut().for_each(|v| *v = sigmoid(*v)),
            LinearActivation::Tanh => self.z.iter_mut().for_each(|v| *v = v.tanh()),
        }
    }
}

struct Linear {
    act: LinearActivation,
}

impl Linear {
    /// The activation's derivative applied to `g` (the same formulas as the `relu`,
    /// `sigmoid` and `tanh` ops, which need only the output `y`).
    fn act_d<T: Float, A: Algebra<T>>(&self, y: &A, g: &A) -> A {
        match self.act {
            LinearActivation::Identity => g.clone(),
            LinearActivation::Relu => A::unary_d(&Relu, y, y, g),
            LinearActivation::Sigmoid => A::unary_d(&Sigmoid, y, y, g),
            LinearActivation::Tanh => A::unary_d(&Tanh, y, y, g),
        }
    }
}

impl<T: Float> StructRule<T> for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        let (xv, w) = (&x[0], &x[1]);
        // The gradient at z = x @ w + b.
        let gz = self.act_d(y, g);
        let mut grads: Grads<A> =
            smallvec![needs[0].then(|| gz.mm(w, false, true)), needs[1].then(|| xv.mm(&gz, true, false))];
        if x.len() > 2 {
            grads.push(needs[2].then(|| gz.sum_axes(&[0], false)));
        }
        grads
    }
    fn jvp(&self, x: &[Var<T>], y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        // dz = dx w + x dw + db, then the activation's derivative.
        let terms = [
            dx[0].as_ref().map(|t| t.mm(&x[1], false, false)),
            dx[1].as_ref().map(|t| x[0].mm(t, false, false)),
            dx.get(2).and_then(|t| t.as_ref()).map(|t| t.broadcast_to(y.shape())),
        ];
        let dz = terms.into_iter().flatten().reduce(|a, b| &a + &b)?;
        Some(self.act_d(y, &dz))
    }
}

impl<T: Float> Var<T> {
    /// A dense layer in one op: `act(self @ w + b)` for `self` `[n, in]`, `w` `[in, out]`
    /// and `b` `[out]`. The bias is written into the output before the matrix product
    /// accumulates onto it, and the activation is applied in place, so the forward pass makes
    /// one buffer instead of three; the plain backward turns the activation's derivative and
    /// the incoming gradient into one buffer too. Equal to
    /// `self.matmul(w) + b` followed by the activation, up to rounding; differentiable to any
    /// order (`create_graph` records the unfused backward).
    ///
    /// ```
    /// use autograd::{LinearActivation, Tape, Tensor};
    /// let tape = Tape::new();
    /// let x = tape.var(Tensor::<f64>::from_vec(vec![1.0, -2.0, 0.5, 3.0], [2, 2])?);
    /// let w = tape.var(Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25], [2, 2])?);
    /// let b = tape.var(Tensor::from_vec(vec![0.1, -0.2], [2])?);
    /// let fused = x.linear(&w, Some(&b), LinearActivation::Relu);
    /// let plain = (x.matmul(&w) + &b).relu();
    /// assert!(fused.value().allclose(plain.value(), 1e-12, 1e-12));
    /// # Ok::<(), autograd::Error>(())
    /// ```
    ///
    /// # Panics
    /// On shapes that do not fit, naming them (see [`try_linear`](Self::try_linear)).
    #[track_caller]
    pub fn linear(&self, w: &Var<T>, b: Option<&Var<T>>, act: LinearActivation) -> Var<T> {
        self.try_linear(w, b, act).or_panic()
    }

    /// Fallible [`linear`](Self::linear).
    #[track_caller]
    pub fn try_linear(&self, w: &Var<T>, b: Option<&Var<T>>, act: LinearActivation) -> crate::error::Result<Var<T>> {
        let mut value = self.value().try_linear(w.value(), b.map(|b| b.value()))?;
        vectorized(ActivateInPlace { z: value.data_mut(), act });
        let op = Linear { act };
        Ok(match b {
            Some(b) => record(Structured(op), &[self, w, b], value),
            None => record(Structured(op), &[self, w], value),
        })
    }
}
