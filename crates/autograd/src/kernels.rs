//! The compute kernels behind every op. Everything above this module sees only slices and
//! shapes, so a kernel can be made faster (SIMD, threads, a better GEMM) without touching
//! the ops or their gradients.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::{self, fmt_shape, numel, Shape};
use crate::simd::{Map3Into, MapInto, RowsFoldKernel, RunFoldKernel, ZipInto};
use rayon::prelude::*;
use smallvec::SmallVec;
use std::mem::MaybeUninit;

/// Calls `f(i, off)` for each element `i` (row-major over `shape`) with the offset given by
/// `strides` (one per dimension, possibly 0 for broadcast dimensions).
#[inline]
fn for_each_strided(shape: &[usize], strides: &[usize], mut f: impl FnMut(usize)) {
    let total = numel(shape);
    if total == 0 {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(0);
        return;
    }
    let inner = shape[nd - 1];
    let is = strides[nd - 1];
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, nd);
    let mut off = 0usize;
    let mut done = 0usize;
    loop {
        for j in 0..inner {
            f(off + j * is);
        }
        done += inner;
        if done >= total {
            return;
        }
        let mut d = nd - 1;
        loop {
            d -= 1;
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
}

/// Copies `data` read through `strides` into a fresh contiguous buffer of `shape`.
///
/// Dimensions that walk memory as one (a stride equal to the next dimension's stride times its
/// size, which includes runs of broadcast dimensions) are merged first, and the innermost one
/// is copied as a block (stride 1), filled with one value (stride 0, a broadcast), or read
/// element by element (a transpose): broadcasting a scalar gradient back over a tensor is then
/// one fill instead of a loop of single pushes.
pub(crate) fn gather_strided<T: Float>(data: &[T], shape: &[usize], strides: &[usize]) -> Vec<T> {
    let n = numel(shape);
    let mut out = crate::pool::take(n);
    if n == 0 {
        return out;
    }
    let mut dims: SmallVec<[usize; 6]> = SmallVec::new();
    let mut strs: SmallVec<[usize; 6]> = SmallVec::new();
    for (&d, &st) in shape.iter().zip(strides) {
        if d == 1 {
            continue;
        }
        match (dims.last_mut(), strs.last_mut()) {
            (Some(ld), Some(ls)) if *ls == st * d => {
                *ld *= d;
                *ls = st;
            }
            _ => {
                dims.push(d);
                strs.push(st);
            }
        }
    }
    let Some((&inner, outer)) = dims.split_last() else {
        out.push(data[0]); // every dimension is 1
        return out;
    };
    let is = strs[strs.len() - 1];
    for_each_strided(outer, &strs[..strs.len() - 1], |off| match is {
        1 => out.extend_from_slice(&data[off..off + inner]),
        0 => out.resize(out.len() + inner, data[off]),
        _ => out.extend((0..inner).map(|j| data[off + j * is])),
    });
    out
}

/// Outputs of at least this many elements are filled by rayon's threads (a few chunks per
/// thread); smaller ones on the calling thread, where they finish before a dispatch would.
/// Measured on this project's 2-core machine (ns per element, 1 thread -> 2 threads):
/// `exp` pays from 2^15 elements (0.232 -> 0.172), `add`, bound by memory, only from 2^17
/// (2^16: 0.057 -> 0.072, slower; 2^17: 0.105 -> 0.043).
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 17;

/// A vector of `n` elements, every slot written by `fill(start, slots)` for consecutive
/// chunks (`start` is the chunk's first index); chunks hold whole multiples of `unit`
/// elements. On several threads for large outputs; the result never depends on it, since
/// each element is computed on its own.
fn fill<T: Float>(n: usize, unit: usize, fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync) -> Vec<T> {
    let mut out: Vec<T> = crate::pool::take(n);
    let slots = &mut out.spare_capacity_mut()[..n];
    let threads = rayon::current_num_threads();
    if n >= PAR_MIN_ELEMS && threads > 1 {
        let chunk = n.div_ceil(4 * threads).max(4096).div_ceil(unit.max(1)) * unit.max(1);
        crate::modes::with_default_modes(|| {
            slots.par_chunks_mut(chunk).enumerate().for_each(|(i, s)| fill(i * chunk, s))
        });
    } else {
        fill(0, slots);
    }
    // SAFETY: `fill` writes every slot of the chunk it is given (each kernel below zips its
    // output chunk with inputs of exactly that length), and the chunks cover all `n` slots.
    unsafe { out.set_len(n) };
    out
}

/// `f(x)` for each element of `a`, which may be of another type than the result.
pub(crate) fn map<S: Copy + Sync, T: Float>(a: &[S], f: impl Fn(S) -> T + Sync) -> Vec<T> {
    fill(a.len(), 1, |start, out| {
        crate::simd::vectorized(MapInto { a: &a[start..start + out.len()], f: &f, out });
    })
}

/// `f(a, b, c)` elementwise over three slices of one length.
pub(crate) fn map3<T: Float>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T + Sync) -> Vec<T> {
    assert!(a.len() == b.len() && a.len() == c.len(), "map3: lengths {}, {} and {} differ", a.len(), b.len(), c.len());
    fill(a.len(), 1, |start, out| {
        let r = start..start + out.len();
        crate::simd::vectorized(Map3Into { a: &a[r.clone()], b: &b[r.clone()], c: &c[r], f: &f, out });
    })
}

/// `f(a, b)` with `b` equal in length to `a`, a scalar, or a row repeated (see [`ZipInto`]).
fn zip_fast<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync, swap: bool) -> Vec<T> {
    let same = b.len() == a.len() && !swap;
    let unit = if same || b.len() == 1 { 1 } else { b.len() };
    fill(a.len(), unit, |start, out| {
        let len = out.len();
        let bb = if same { &b[start..start + len] } else { b };
        crate::simd::vectorized(ZipInto { a: &a[start..start + len], b: bb, f: &f, swap, out });
    })
}

/// Elementwise `f(a, b)` over the broadcast shape `out`.
pub(crate) fn zip_broadcast<T: Float>(
    a: &[T],
    sa: &[usize],
    b: &[T],
    sb: &[usize],
    out: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> Vec<T> {
    let n = numel(out);
    if sa == sb {
        return zip_fast(a, b, f, false);
    }
    if b.len() == 1 && sa == out {
        return zip_fast(a, b, f, false);
    }
    if a.len() == 1 && sb == out {
        return zip_fast(b, a, f, true);
    }
    // Row broadcast (a bias added to every row): contiguous runs of b's length.
    if sa == out && !b.is_empty() && sb.len() <= sa.len() && sa[sa.len() - sb.len()..] == *sb {
        return zip_fast(a, b, f, false);
    }
    let stra = shape::broadcast_strides(sa, out);
    let strb = shape::broadcast_strides(sb, out);
    let mut res = crate::pool::take(n);
    // Walk both operands with one counter: offsets advance by their own strides.
    let nd = out.len();
    let inner = out[nd - 1];
    let (ia, ib) = (stra[nd - 1], strb[nd - 1]);
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, nd);
    let (mut oa, mut ob) = (0usize, 0usize);
    if n == 0 {
        return res;
    }
    loop {
        for j in 0..inner {
            res.push(f(a[oa + j * ia], b[ob + j * ib]));
        }
        if res.len() >= n {
            return res;
        }
        let mut d = nd - 1;
        loop {
            d -= 1;
            idx[d] += 1;
            oa += stra[d];
            ob += strb[d];
            if idx[d] < out[d] {
                break;
            }
            oa -= stra[d] * out[d];
            ob -= strb[d] * out[d];
            idx[d] = 0;
        }
    }
}

/// Sum of a slice with pairwise blocks of 8 accumulators (more accurate and faster than a
/// single running sum).
pub(crate) fn sum<T: Float>(a: &[T]) -> T {
    struct Sum<'a, T>(&'a [T]);
    impl<T: Float> crate::simd::Kernel for Sum<'_, T> {
        type Output = T;
        #[inline(always)]
        fn run(self) -> T {
            sum_inner(self.0)
        }
    }
    crate::simd::vectorized(Sum(a))
}

#[inline(always)]
fn sum_inner<T: Float>(a: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let chunks = a.chunks_exact(8);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &x in rem {
        s += x;
    }
    s
}

/// Folds `data` (of `shape`) into a tensor of shape `kept` (same rank, reduced axes set to 1).
pub(crate) fn reduce<T: Float>(data: &[T], shape: &[usize], kept: &[usize], init: T, f: impl Fn(T, T) -> T) -> Vec<T> {
    let n_out = numel(kept);
    let mut out = crate::pool::filled(n_out, init);
    if data.is_empty() {
        return out;
    }
    // Fast path: reducing only trailing axes means contiguous runs.
    let nd = shape.len();
    let first_reduced = (0..nd).find(|&i| kept[i] != shape[i]);
    if let Some(fr) = first_reduced {
        if (fr..nd).all(|i| kept[i] == 1) {
            let run = numel(&shape[fr..]);
            crate::simd::vectorized(RunFoldKernel { data, out: &mut out, run, init, f });
            return out;
        }
    } else {
        out.copy_from_slice(data);
        return out;
    }
    // Reducing only leading axes: fold whole rows (same order as the general path below).
    let last_reduced = (0..nd).rev().find(|&i| kept[i] != shape[i]).unwrap_or(0);
    if (0..=last_reduced).all(|i| kept[i] == 1) {
        crate::simd::vectorized(RowsFoldKernel { data, out: &mut out, f });
        return out;
    }
    let strides = shape::broadcast_strides(kept, shape);
    let mut i = 0;
    for_each_strided(shape, &strides, |o| {
        out[o] = f(out[o], data[i]);
        i += 1;
    });
    out
}

/// A matrix operand: its elements (row-major) and shape.
pub(crate) type Operand<'a, T> = (&'a [T], &'a [usize]);

/// Batched matrix product of operands with at least 2 dimensions each: `op(a) @ op(b)`
/// where `op` transposes the last two dimensions when `ta` / `tb` is set (by strides, no
/// copy). Leading (batch) dimensions broadcast. Shapes are checked here. Returns the
/// elements and the shape of the product.
pub(crate) fn matmul_nd<T: Float>(
    (a, sha): Operand<T>,
    (b, shb): Operand<T>,
    ta: bool,
    tb: bool,
) -> Result<(Vec<T>, Shape)> {
    let describe = || {
        format!("{}{} x {}{}", fmt_shape(sha), if ta { "^T" } else { "" }, fmt_shape(shb), if tb { "^T" } else { "" })
    };
    let (na, nb_) = (sha.len(), shb.len());
    if na < 2 || nb_ < 2 {
        return Err(Error::new("matmul", format!("{}: batched operands need at least 2 dimensions", describe())));
    }
    let (ra, ca) = (sha[na - 2], sha[na - 1]);
    let (rb, cb) = (shb[nb_ - 2], shb[nb_ - 1]);
    let (m, k) = if ta { (ca, ra) } else { (ra, ca) };
    let (k2, n) = if tb { (cb, rb) } else { (rb, cb) };
    if k != k2 {
        return Err(Error::new("matmul", format!("{}: inner dimensions {} and {} differ", describe(), k, k2)));
    }
    let ba = &sha[..na - 2];
    let bb = &shb[..nb_ - 2];
    let batch = shape::broadcast_shapes("matmul", ba, bb)
        .map_err(|_| Error::new("matmul", format!("{}: batch dimensions do not broadcast", describe())))?;
    let nb = numel(&batch);
    // Not zero-filled: the product overwrites every element (see the end of this function).
    let mut out: Vec<T> = crate::pool::take(nb * m * n);
    // Offsets (in whole matrices) of each batch entry in a and b, honouring broadcast.
    let (mut offs_a, mut offs_b) = (Vec::with_capacity(nb), Vec::with_capacity(nb));
    if batch.is_empty() {
        offs_a.push(0);
        offs_b.push(0);
    } else {
        for_each_strided(&batch, &shape::broadcast_strides(ba, &batch), |o| offs_a.push(o));
        for_each_strided(&batch, &shape::broadcast_strides(bb, &batch), |o| offs_b.push(o));
    }
    let (sa, sb) = (ra * ca, rb * cb);
    // Row and column strides of op(a) and op(b) inside one stored matrix.
    let (rsa, csa) = if ta { (1, ca) } else { (ca, 1) };
    let (rsb, csb) = if tb { (1, cb) } else { (cb, 1) };
    let slots = &mut out.spare_capacity_mut()[..nb * m * n];
    if m > 0 && n > 0 {
        for (bi, (&oa, &ob)) in offs_a.iter().zip(&offs_b).enumerate() {
            gemm_strided(
                &a[oa * sa..(oa + 1) * sa],
                (rsa, csa),
                &b[ob * sb..(ob + 1) * sb],
                (rsb, csb),
                &mut slots[bi * m * n..(bi + 1) * m * n],
                m,
                k,
                n,
            );
        }
    }
    // SAFETY: the `nb` products above wrote all `nb * m * n` slots (each `gemm_strided` call
    // writes every element of its `m * n` block; with m or n zero there is nothing to write).
    unsafe { out.set_len(nb * m * n) };
    let mut out_shape: Shape = batch;
    out_shape.push(m);
    out_shape.push(n);
    Ok((out, out_shape))
}

/// Threads for one product: the calling thread alone below 2^24 multiply-adds, where
/// dispatch cost more than it saved (the batch-32 MLP's 3.2M-MAC products were slower on two
/// threads), else rayon's pool.
fn gemm_threads(m: usize, k: usize, n: usize) -> usize {
    if m.saturating_mul(k).saturating_mul(n) < (1 << 24) {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// `c = op(a) (m x k) * op(b) (k x n)` with the given (row, column) strides for the
/// operands; `c` is row-major and contiguous, and every element of it is written (it may start
/// uninitialised).
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: Float>(
    a: &[T],
    sa: (usize, usize),
    b: &[T],
    sb: (usize, usize),
    c: &mut [std::mem::MaybeUninit<T>],
    m: usize,
    k: usize,
    n: usize,
) {
    assert_eq!(c.len(), m * n, "gemm: output size does not match {m}x{n}");
    if k == 0 {
        c.iter_mut().for_each(|x| {
            x.write(T::ZERO);
        });
        return;
    }
    if m == 1 || n == 1 {
        // Matrix-vector products go through the gemm crate's gemv code, which views the
        // destination as a slice: give it initialised memory (a vector: the fill is cheap).
        c.iter_mut().for_each(|x| {
            x.write(T::ZERO);
        });
    }
    // SAFETY: `c` is a distinct &mut borrow of exactly m*n slots, so it aliases neither input,
    // and without `accumulate` the product only writes it (all m*n slots), so uninitialised
    // slots are fine.
    unsafe { gemm_checked(a, sa, b, sb, c.as_mut_ptr().cast::<T>(), m, k, n, false) }
}

/// `c += op(a) @ op(b)`, like [`gemm_strided`] but adding to what `c` holds.
#[allow(clippy::too_many_arguments)]
fn gemm_accumulate<T: Float>(
    a: &[T],
    sa: (usize, usize),
    b: &[T],
    sb: (usize, usize),
    c: &mut [T],
    m: usize,
    k: usize,
    n: usize,
) {
    assert_eq!(c.len(), m * n, "gemm: output size does not match {m}x{n}");
    if k == 0 {
        return;
    }
    // SAFETY: `c` is a distinct, initialised &mut borrow of exactly m*n elements.
    unsafe { gemm_checked(a, sa, b, sb, c.as_mut_ptr(), m, k, n, true) }
}

/// Checks that the strided operands lie inside their slices, then runs the product.
///
/// # Safety
/// `c` must be valid for writes (and reads, with `accumulate`, then also initialised) of `m * n`
/// contiguous row-major elements and alias neither `a` nor `b`; `k > 0`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_checked<T: Float>(
    a: &[T],
    (rsa, csa): (usize, usize),
    b: &[T],
    (rsb, csb): (usize, usize),
    c: *mut T,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    // The largest offset read is (m-1)*rsa + (k-1)*csa; check it lies inside `a` (same for b).
    assert!(
        (m - 1) * rsa + (k - 1) * csa < a.len() && (k - 1) * rsb + (n - 1) * csb < b.len(),
        "gemm: strides exceed buffers"
    );
    let threads = gemm_threads(m, k, n);
    // SAFETY: the assert above keeps every operand element addressed through the strides inside
    // its slice; the caller guarantees `c`.
    let run = || unsafe {
        T::gemm(
            m,
            k,
            n,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            c,
            n as isize,
            1,
            accumulate,
            threads,
        )
    };
    if threads > 1 {
        crate::modes::with_default_modes(run)
    } else {
        run()
    }
}

/// The fused dense layer `x @ w + bias` for `x` `[n, in]`, `w` `[in, out]` and `bias` `[out]`:
/// the bias rows are written first and the product accumulated onto them (no separate pass
/// over the output). Shapes are checked here.
pub(crate) fn linear<T: Float>(
    (x, shx): Operand<T>,
    (w, shw): Operand<T>,
    bias: Option<Operand<T>>,
) -> Result<(Vec<T>, Shape)> {
    let bad = |why: String| {
        Err(Error::new(
            "linear",
            format!(
                "x {}, weight {}{}: {why}",
                fmt_shape(shx),
                fmt_shape(shw),
                bias.map(|(_, s)| format!(", bias {}", fmt_shape(s))).unwrap_or_default()
            ),
        ))
    };
    if shx.len() != 2 || shw.len() != 2 {
        return bad("x and weight must be 2-d ([n, in] and [in, out])".into());
    }
    let (n, k, out) = (shx[0], shx[1], shw[1]);
    if shw[0] != k {
        return bad(format!("x has {k} features but the weight takes {}", shw[0]));
    }
    let b = match bias {
        Some((_, s)) if s != [out] => return bad(format!("the bias must be [{out}]")),
        Some((b, _)) => b,
        None => return matmul_nd((x, shx), (w, shw), false, false), // nothing to accumulate onto
    };
    let mut res: Vec<T> = crate::pool::take(n * out);
    (0..n).for_each(|_| res.extend_from_slice(b));
    gemm_accumulate(x, (k, 1), w, (out, 1), &mut res, n, k, out);
    Ok((res, SmallVec::from_slice(&[n, out])))
}
