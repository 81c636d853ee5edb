//! Shapes, strides, axes and broadcasting rules.

use crate::error::{Error, Result};
use smallvec::SmallVec;

/// The dimensions of a tensor, outermost first. Inline for up to 4 dimensions.
pub type Shape = SmallVec<[usize; 4]>;

/// Formats a shape as `[2, 3]` for error messages.
pub(crate) fn fmt_shape(s: &[usize]) -> String {
    format!("{s:?}")
}

/// Whether two shapes are equal. Shapes are short, so an inline loop beats the `memcmp` call
/// that slice equality makes (a visible cost per op in graphs of scalars).
#[inline(always)]
pub(crate) fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A copy of a shape. Up to the inline capacity it is copied as a fixed array of 4 words:
/// `Shape::clone` goes through `SmallVec::extend` and `Shape::from_slice` through a
/// `memcpy` call of variable length, both visible costs per op in graphs of scalars.
#[inline(always)]
pub(crate) fn copy_shape(s: &[usize]) -> Shape {
    if s.len() > 4 {
        return Shape::from_slice(s);
    }
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    Shape::from_buf_and_len([at(0), at(1), at(2), at(3)], s.len())
}

/// Number of elements of a shape (1 for a 0-d shape).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C-order) strides of a contiguous tensor of this shape.
pub fn contiguous_strides(shape: &[usize]) -> Shape {
    let mut strides: Shape = SmallVec::from_elem(1, shape.len());
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i];
    }
    strides
}

/// Resolves a possibly negative axis (`-1` is the last) against `ndim` dimensions.
pub fn normalize_axis(op: &'static str, axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        return Err(Error::new(op, format!("axis {axis} is out of range for a tensor with {ndim} dimensions")));
    }
    Ok(a as usize)
}

/// Resolves a list of axes; an empty list means every axis. Duplicates are an error.
pub fn normalize_axes(op: &'static str, axes: &[isize], ndim: usize) -> Result<SmallVec<[usize; 4]>> {
    if axes.is_empty() {
        return Ok((0..ndim).collect());
    }
    let mut out: SmallVec<[usize; 4]> = SmallVec::new();
    for &a in axes {
        let a = normalize_axis(op, a, ndim)?;
        if out.contains(&a) {
            return Err(Error::new(op, format!("axis {a} is repeated in {axes:?}")));
        }
        out.push(a);
    }
    out.sort_unstable();
    Ok(out)
}

/// The NumPy broadcast of two shapes: dimensions are aligned from the right, and each pair
/// must be equal or contain a 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Shape> {
    let n = a.len().max(b.len());
    let mut out: Shape = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i < n - a.len() { 1 } else { a[i - (n - a.len())] };
        let db = if i < n - b.len() { 1 } else { b[i - (n - b.len())] };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::new(
                op,
                format!(
                    "shapes {} and {} cannot be broadcast together (dimension {} is {} vs {})",
                    fmt_shape(a),
                    fmt_shape(b),
                    i,
                    da,
                    db
                ),
            ));
        };
    }
    Ok(out)
}

/// Strides with which to read a tensor of shape `from` as if it had the broadcast shape `to`:
/// broadcast dimensions get stride 0. `from` must broadcast to `to`.
pub(crate) fn broadcast_strides(from: &[usize], to: &[usize]) -> Shape {
    let strides = contiguous_strides(from);
    let off = to.len() - from.len();
    let mut out: Shape = SmallVec::from_elem(0, to.len());
    for i in 0..from.len() {
        out[i + off] = if from[i] == 1 && to[i + off] != 1 { 0 } else { strides[i] };
    }
    out
}

/// Whether `from` can be broadcast to exactly `to`.
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    if from.len() > to.len() {
        return false;
    }
    let off = to.len() - from.len();
    from.iter().enumerate().all(|(i, &d)| d == to[i + off] || d == 1)
}

// --------------------------------------------------------------------- helpers of the ops

/// `(product of dims before axis, dim at axis, product of dims after axis)`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (numel(&shape[..axis]), shape[axis], numel(&shape[axis + 1..]))
}

pub(crate) fn drop_axes(shape: &[usize], axes: &[usize]) -> Shape {
    shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
}

pub(crate) fn check_perm(perm: &[usize], ndim: usize) -> Result<()> {
    let mut seen: SmallVec<[bool; 8]> = SmallVec::from_elem(false, ndim);
    if perm.len() != ndim {
        return Err(Error::new(
            "permute",
            format!("permutation {perm:?} has {} entries for {ndim} dimensions", perm.len()),
        ));
    }
    for &p in perm {
        if p >= ndim || seen[p] {
            return Err(Error::new("permute", format!("{perm:?} is not a permutation of 0..{ndim}")));
        }
        seen[p] = true;
    }
    Ok(())
}

pub(crate) fn swap_perm(op: &'static str, ndim: usize, a: isize, b: isize) -> Result<SmallVec<[usize; 4]>> {
    let a = normalize_axis(op, a, ndim)?;
    let b = normalize_axis(op, b, ndim)?;
    let mut perm: SmallVec<[usize; 4]> = (0..ndim).collect();
    perm.swap(a, b);
    Ok(perm)
}

pub(crate) fn infer_shape(shape: &[isize], n: usize, from: &[usize]) -> Result<Shape> {
    let mut out: Shape = SmallVec::new();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in shape.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(Error::new("reshape", format!("only one dimension may be -1 in {shape:?}")));
            }
            infer = Some(i);
            out.push(0);
        } else if d < 0 {
            return Err(Error::new("reshape", format!("invalid dimension {d} in {shape:?}")));
        } else {
            known *= d as usize;
            out.push(d as usize);
        }
    }
    if let Some(i) = infer {
        if known == 0 || !n.is_multiple_of(known) {
            return Err(Error::new(
                "reshape",
                format!("cannot reshape {} ({n} elements) into {shape:?}", fmt_shape(from)),
            ));
        }
        out[i] = n / known;
    }
    Ok(out)
}
