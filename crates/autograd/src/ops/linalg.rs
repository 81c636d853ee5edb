//! Matrix products.

use crate::float::Float;
use crate::graph::Var;
use crate::rules::{Algebra, Grads, StructRule, Structured};
use crate::shape::fmt_shape;
use crate::var::record;
use smallvec::smallvec;

/// `op(a) @ op(b)` on operands of 2 or more dimensions, where `op` transposes the last two
/// axes when the flag is set. Keeping the flags in the op lets every gradient be another
/// flagged product (no transposed copies), and the family is closed under differentiation.
struct MatMul {
    ta: bool,
    tb: bool,
}

#[track_caller]
fn try_mm<T: Float>(a: &Var<T>, b: &Var<T>, ta: bool, tb: bool) -> crate::error::Result<Var<T>> {
    let value = a.value().try_matmul_flags(b.value(), ta, tb)?;
    Ok(record(Structured(MatMul { ta, tb }), &[a, b], value))
}

impl<T: Float> StructRule<T> for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn vjp<A: Algebra<T>>(&self, x: &[A], _y: &A, g: &A, needs: &[bool]) -> Grads<A> {
        let (a, b) = (&x[0], &x[1]);
        let ga = needs[0].then(|| {
            match (self.ta, self.tb) {
                (false, false) => g.mm(b, false, true),
                (false, true) => g.mm(b, false, false),
                (true, false) => b.mm(g, false, true),
                (true, true) => b.mm(g, true, true),
            }
            .sum_to(a.shape())
        });
        let gb = needs[1].then(|| {
            match (self.ta, self.tb) {
                (false, false) => a.mm(g, true, false),
                (false, true) => g.mm(a, true, false),
                (true, false) => a.mm(g, false, false),
                (true, true) => g.mm(a, true, true),
            }
            .sum_to(b.shape())
        });
        smallvec![ga, gb]
    }
    fn jvp(&self, x: &[Var<T>], _y: &Var<T>, dx: &[Option<Var<T>>]) -> Option<Var<T>> {
        // Bilinear: d(a b) = da b + a db.
        let ta = dx[0].as_ref().map(|t| t.mm(&x[1], self.ta, self.tb));
        let tb = dx[1].as_ref().map(|t| x[0].mm(t, self.ta, self.tb));
        match (ta, tb) {
            (Some(p), Some(q)) => Some(&p + &q),
            (p, q) => p.or(q),
        }
    }
}

impl<T: Float> Var<T> {
    /// `op(self) @ op(other)`, `op` transposing the last two axes when its flag is set.
    #[track_caller]
    pub(crate) fn mm(&self, other: &Var<T>, ta: bool, tb: bool) -> Var<T> {
        match try_mm(self, other, ta, tb) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Matrix product with `numpy.matmul` semantics: 2-d x 2-d is the matrix product; a 1-d
    /// left operand is a row vector and a 1-d right operand a column vector (the added axis
    /// is removed from the result); more dimensions are batches, which broadcast.
    ///
    /// # Panics
    /// On mismatched inner dimensions, e.g. `matmul: [3, 4] x [5, 2]: inner dimensions 4 and 5 differ`.
    #[track_caller]
    pub fn matmul(&self, other: &Var<T>) -> Var<T> {
        match self.try_matmul(other) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Fallible [`matmul`](Self::matmul).
    #[track_caller]
    pub fn try_matmul(&self, other: &Var<T>) -> crate::error::Result<Var<T>> {
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
            return Err(crate::error::Error::new(
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
        self.mm(other, false, true)
    }

    /// `self^T @ other` for 2-d (or batched) operands, without materialising the transpose.
    #[track_caller]
    pub fn t_matmul(&self, other: &Var<T>) -> Var<T> {
        self.mm(other, true, false)
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
