//! Matrix products.

use crate::float::Float;
use crate::kernels;
use crate::shape::fmt_shape;
use crate::tape::{InputGrads, Op, Var};
use smallvec::smallvec;

/// `op(a) @ op(b)` on operands of 2 or more dimensions, where `op` transposes the last two
/// axes when the flag is set. Keeping the flags in the op lets every gradient be another
/// flagged product (no transposed copies), and the family is closed under differentiation.
struct MatMul {
    ta: bool,
    tb: bool,
}

fn try_mm<T: Float>(a: &Var<T>, b: &Var<T>, ta: bool, tb: bool) -> crate::Result<Var<T>> {
    let value = kernels::matmul_nd(a.value(), b.value(), ta, tb)?;
    Ok(Var::from_op(MatMul { ta, tb }, &[a, b], value))
}

fn mm<T: Float>(a: &Var<T>, b: &Var<T>, ta: bool, tb: bool) -> Var<T> {
    try_mm(a, b, ta, tb).unwrap_or_else(|e| panic!("{e}"))
}

impl<T: Float> Op<T> for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, inputs: &[Var<T>], _y: &Var<T>, g: &Var<T>) -> InputGrads<T> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let ga = a.requires_grad().then(|| {
            match (self.ta, self.tb) {
                (false, false) => mm(g, b, false, true),
                (false, true) => mm(g, b, false, false),
                (true, false) => mm(b, g, false, true),
                (true, true) => mm(b, g, true, true),
            }
            .sum_to(a.shape())
        });
        let gb = b.requires_grad().then(|| {
            match (self.ta, self.tb) {
                (false, false) => mm(a, g, true, false),
                (false, true) => mm(g, a, true, false),
                (true, false) => mm(a, g, false, false),
                (true, true) => mm(g, a, true, true),
            }
            .sum_to(b.shape())
        });
        smallvec![ga, gb]
    }
}

impl<T: Float> Var<T> {
    /// Matrix product with `numpy.matmul` semantics: 2-d x 2-d is the matrix product; a 1-d
    /// left operand is a row vector and a 1-d right operand a column vector (the added axis
    /// is removed from the result); more dimensions are batches, which broadcast.
    ///
    /// # Panics
    /// On mismatched inner dimensions, e.g. `matmul: [3, 4] x [5, 2]: inner dimensions 4 and 5 differ`.
    #[track_caller]
    pub fn matmul(&self, other: &Var<T>) -> Var<T> {
        self.try_matmul(other).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible [`matmul`](Self::matmul).
    #[track_caller]
    pub fn try_matmul(&self, other: &Var<T>) -> crate::Result<Var<T>> {
        if self.ndim() >= 2 && other.ndim() >= 2 {
            return try_mm(self, other, false, false);
        }
        // Checks 1-d shapes with the caller's shapes in the message.
        if self.ndim() == 0 || other.ndim() == 0 {
            self.value().try_matmul(other.value())?;
        }
        let ka = self.shape()[self.ndim() - 1];
        let kb = if other.ndim() == 1 { other.shape()[0] } else { other.shape()[other.ndim() - 2] };
        if ka != kb {
            return Err(crate::Error::new(
                "matmul",
                format!(
                    "{} x {}: inner dimensions {} and {} differ",
                    fmt_shape(self.shape()),
                    fmt_shape(other.shape()),
                    ka,
                    kb
                ),
            ));
        }
        let a = if self.ndim() == 1 { self.unsqueeze(0) } else { self.clone() };
        let b = if other.ndim() == 1 { other.unsqueeze(1) } else { other.clone() };
        let mut out = try_mm(&a, &b, false, false)?;
        if other.ndim() == 1 {
            out = out.squeeze(-1);
        }
        if self.ndim() == 1 {
            out = out.squeeze(if other.ndim() == 1 { -1 } else { -2 });
        }
        Ok(out)
    }

    /// `self @ other^T` for 2-d (or batched) operands, without materialising the transpose.
    #[track_caller]
    pub fn matmul_t(&self, other: &Var<T>) -> Var<T> {
        mm(self, other, false, true)
    }

    /// `self^T @ other` for 2-d (or batched) operands, without materialising the transpose.
    #[track_caller]
    pub fn t_matmul(&self, other: &Var<T>) -> Var<T> {
        mm(self, other, true, false)
    }

    /// Inner product of two 1-d vectors of equal length.
    #[track_caller]
    pub fn dot(&self, other: &Var<T>) -> Var<T> {
        assert!(
            self.ndim() == 1 && other.ndim() == 1 && self.shape() == other.shape(),
            "dot: expects two 1-d vectors of equal length, got {} and {}",
            fmt_shape(self.shape()),
            fmt_shape(other.shape())
        );
        (self * other).sum()
    }

    /// Outer product of two 1-d vectors: `[n] x [m] -> [n, m]`.
    #[track_caller]
    pub fn outer(&self, other: &Var<T>) -> Var<T> {
        assert!(
            self.ndim() == 1 && other.ndim() == 1,
            "outer: expects two 1-d vectors, got {} and {}",
            fmt_shape(self.shape()),
            fmt_shape(other.shape())
        );
        &self.unsqueeze(1) * &other.unsqueeze(0)
    }
}
