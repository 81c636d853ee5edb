//! Fused ops: a dense layer with its bias and activation in one op.

use crate::float::Float;
use crate::kernels;
use crate::simd::{vectorized, Kernel};
use crate::tape::{is_grad_enabled, InputGrads, Op, Var};
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
            LinearActivation::Relu => self.z.iter_mut().for_each(|v| *v = super::unary::relu_value(*v)),
            LinearActivation::Sigmoid => self.z.iter_mut().for_each(|v| *v = super::unary::sigmoid(*v)),
            LinearActivation::Tanh => self.z.iter_mut().for_each(|v| *v = v.tanh()),
        }
    }
}

struct Linear {
    act: LinearActivation,
}

impl<T: Float> Op<T> for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn backward(&self, inputs: &[Var<T>], y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (x, w) = (&inputs[0], &inputs[1]);
        // The gradient at z = x @ w + b, from the output y (relu: y > 0 exactly where z > 0).
        let gz = if self.act == LinearActivation::Identity {
            g.clone()
        } else if !is_grad_enabled() {
            // A plain backward: g * act'(z) in one pass, with the rule's operations (so a NaN or
            // inf gradient still propagates through relu's mask, and both sweeps agree).
            let (gv, yv) = (g.value(), y.value());
            let gz = match self.act {
                LinearActivation::Identity => unreachable!("handled above"),
                LinearActivation::Relu => {
                    gv.zip_with(yv, "linear", |g, y| g * if y > T::ZERO { T::ONE } else { T::ZERO })
                }
                LinearActivation::Sigmoid => gv.zip_with(yv, "linear", |g, y| g * (y * (T::ONE - y))),
                LinearActivation::Tanh => gv.zip_with(yv, "linear", |g, y| g * (T::ONE - y * y)),
            };
            Var::constant(gz)
        } else {
            // With create_graph: differentiable ops, as the unfused layer would record.
            match self.act {
                LinearActivation::Identity => g.clone(),
                LinearActivation::Relu => {
                    g * &Var::constant(y.value().map(|v| if v > T::ZERO { T::ONE } else { T::ZERO }))
                }
                LinearActivation::Sigmoid => g * &(y * &(-y + T::ONE)),
                LinearActivation::Tanh => g * &(-y.square() + T::ONE),
            }
        };
        let gx = x.requires_grad().then(|| gz.matmul_t(w));
        let gw = w.requires_grad().then(|| x.t_matmul(&gz));
        let mut grads: InputGrads<T> = smallvec![gx, gw];
        if let Some(b) = inputs.get(2) {
            grads.push(b.requires_grad().then(|| gz.sum_axes(&[0], false)));
        }
        grads
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
        self.try_linear(w, b, act).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible [`linear`](Self::linear).
    #[track_caller]
    pub fn try_linear(&self, w: &Var<T>, b: Option<&Var<T>>, act: LinearActivation) -> crate::Result<Var<T>> {
        let mut value = kernels::linear(self.value(), w.value(), b.map(|b| b.value()))?;
        vectorized(ActivateInPlace { z: value.data_mut(), act });
        let op = Linear { act };
        Ok(match b {
            Some(b) => Var::from_op(op, &[self, w, b], value),
            None => Var::from_op(op, &[self, w], value),
        })
    }
}
