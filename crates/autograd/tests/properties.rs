//! Property tests (`proptest`): broadcasting binary ops, reductions over random axes,
//! reshape/permute round trips and matmul against naive index-based references, and
//! `gradcheck` / `gradgradcheck` of the rows of the op table (`cases/mod.rs`) at random
//! shapes and in random chains.
//!
//! Cases per property (set `PROPTEST_CASES` to override them all, e.g. for a long soak run;
//! `PROPTEST_RNG_SEED` replays a run):
//!
//! | property                                  | cases |
//! | ----------------------------------------- | ----- |
//! | `binary_ops_broadcast_like_naive`           | 256   |
//! | `broadcast_to_and_sum_to_are_adjoint`       | 256   |
//! | `reductions_match_naive`                    | 256   |
//! | `permute_matches_naive_and_round_trips`     | 256   |
//! | `reshape_round_trips`                       | 256   |
//! | `matmul_matches_naive`                      | 256   |
//! | `matmul_rejects_mismatched_inner_dims`      | 64    |
//! | `table_rows_pass_gradcheck_at_random_shapes` | 256   |
//! | `matmul_passes_gradcheck`                   | 128   |
//! | `random_chains_pass_gradcheck`              | 256   |
//! | `random_chains_pass_gradgradcheck`          | 128   |
//!
//! Shapes are small (rank 0-4, dimensions 0-4 for the value properties; rank 0-3,
//! dimensions 1-3 for gradient checks), so the whole file runs in well under a second with
//! `--release` (a soak run with `PROPTEST_CASES=20000` takes about 10 s on one core).
//! Values that feed a kink (maximum, max, relu, ...) are drawn from grids that keep them well
//! apart, so a finite-difference step never straddles a tie, and the rare random chain whose
//! values or gradients exceed 1e3 (squares feeding `exp`) is discarded: there, rounding in
//! the finite differences swamps gradcheck's tolerance and nothing can be checked.

mod cases;

use autograd::{gradcheck, gradgradcheck, GradcheckOptions, Tape, Tensor, Var};
use cases::{cases, generics, sample, Case, Domain, Kind};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

type TestResult = Result<(), TestCaseError>;

/// `cases` unless `PROPTEST_CASES` is set. Failures are not persisted to files (a failure
/// prints its minimal input, and `PROPTEST_RNG_SEED` replays the run).
fn cfg(cases: u32) -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

// ------------------------------------------------------------------ naive helpers

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn unravel(mut k: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = k % shape[d];
        k /= shape[d];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// The NumPy broadcast of two compatible shapes, written out directly.
fn naive_broadcast(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
            let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
            assert!(da == db || da == 1 || db == 1, "test bug: {a:?} and {b:?} do not broadcast");
            if da == 1 {
                db
            } else {
                da
            }
        })
        .collect()
}

/// Flat offset in a tensor of shape `from` of the element read at `out_idx` of the
/// broadcast shape (dimensions aligned from the right; size-1 dimensions read index 0).
fn src_offset(out_idx: &[usize], from: &[usize]) -> usize {
    let off = out_idx.len() - from.len();
    let idx: Vec<usize> = from.iter().enumerate().map(|(j, &d)| if d == 1 { 0 } else { out_idx[j + off] }).collect();
    ravel(&idx, from)
}

/// Equal, both NaN, or within `tol * (1 + |want|)`.
fn close(got: f64, want: f64, tol: f64) -> bool {
    got == want || (got.is_nan() && want.is_nan()) || (got - want).abs() <= tol * (1.0 + want.abs())
}

fn check_close(what: &str, got: &Tensor<f64>, shape: &[usize], want: &[f64], tol: f64) -> TestResult {
    prop_assert_eq!(got.shape(), shape, "{}: shape", what);
    prop_assert_eq!(got.numel(), want.len(), "{}: length", what);
    for (i, (&g, &w)) in got.data().iter().zip(want).enumerate() {
        prop_assert!(close(g, w, tol), "{}: element {} ({:?}): got {:e}, want {:e}", what, i, unravel(i, shape), g, w);
    }
    Ok(())
}

fn randn(shape: &[usize], rng: &mut StdRng) -> Tensor<f64> {
    Tensor::randn(shape, rng)
}

/// Values on the grid `offset + 0.1 k` for random integers `|k| <= 20`: two tensors with
/// offsets 0 and 0.05 never tie, and differ by at least 0.05.
fn grid(shape: &[usize], offset: f64, rng: &mut StdRng) -> Tensor<f64> {
    let data = (0..numel(shape)).map(|_| offset + 0.1 * rng.random_range(-20i32..=20) as f64).collect();
    Tensor::from_vec(data, shape).unwrap()
}

/// Pairwise distinct values (a shuffled grid with spacing 0.1), for max/min reductions.
fn distinct(shape: &[usize], rng: &mut StdRng) -> Tensor<f64> {
    let n = numel(shape);
    let mut data: Vec<f64> = (0..n).map(|i| 0.1 * i as f64 - 0.05 * n as f64).collect();
    data.shuffle(rng);
    Tensor::from_vec(data, shape).unwrap()
}

/// A random subset of the axes of a rank-`rank` tensor, each possibly written as a negative
/// axis; the `bool`s say which axes are reduced (all of them when the list is empty).
fn random_axes(rank: usize, rng: &mut StdRng) -> (Vec<isize>, Vec<bool>) {
    let mut axes = Vec::new();
    let mut mask = vec![false; rank];
    for (a, m) in mask.iter_mut().enumerate() {
        if rng.random_bool(0.5) {
            *m = true;
            axes.push(if rng.random_bool(0.5) { a as isize - rank as isize } else { a as isize });
        }
    }
    if axes.is_empty() {
        mask = vec![true; rank];
    }
    axes.shuffle(rng);
    (axes, mask)
}

// ------------------------------------------------------------------ strategies

/// A shape of rank `0..=max_rank` with dimensions in `dims`.
fn shape_strategy(max_rank: usize, dims: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dims, 0..=max_rank)
}

/// Derives a shape that broadcasts to `full`: some dimensions replaced by 1 and some
/// leading dimensions dropped.
fn derive_partner(full: &[usize], ones: &[bool], drop: usize) -> Vec<usize> {
    let mut p: Vec<usize> = full.iter().zip(ones).map(|(&d, &one)| if one { 1 } else { d }).collect();
    let drop = drop.min(p.len());
    p.drain(..drop);
    p
}

/// Two shapes that broadcast together: both derived from one full shape, so broadcasting
/// can happen on either side, in the middle, at the front, or against a 0-d operand.
fn broadcast_pair(
    max_rank: usize,
    dims: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        shape_strategy(max_rank, dims),
        prop::collection::vec(prop::bool::weighted(0.3), max_rank),
        prop::collection::vec(prop::bool::weighted(0.3), max_rank),
        prop_oneof![3 => Just(0usize), 1 => 1..=max_rank],
        prop_oneof![3 => Just(0usize), 1 => 1..=max_rank],
    )
        .prop_map(|(full, oa, ob, da, db)| (derive_partner(&full, &oa, da), derive_partner(&full, &ob, db)))
}

/// Operand shapes for matmul in every `numpy.matmul` form: 1-d x 1-d, 1-d x n-d, n-d x
/// 1-d and batched with broadcasting batch dimensions; `m`, `k`, `n` and batch sizes may be 0.
fn matmul_shapes(dims: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (0..4u8, dims.clone(), dims.clone(), dims.clone(), broadcast_pair(2, dims)).prop_map(|(kind, m, k, n, (ba, bb))| {
        let mat = |batch: &[usize], r: usize, c: usize| {
            let mut s = batch.to_vec();
            s.extend([r, c]);
            s
        };
        match kind {
            0 => (vec![k], vec![k]),
            1 => (vec![k], mat(&bb, k, n)),
            2 => (mat(&ba, m, k), vec![k]),
            _ => (mat(&ba, m, k), mat(&bb, k, n)),
        }
    })
}

// ------------------------------------------------------------------ broadcasting binary ops

#[derive(Debug, Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
}

const BINS: [Bin; 6] = [Bin::Add, Bin::Sub, Bin::Mul, Bin::Div, Bin::Maximum, Bin::Minimum];

impl Bin {
    fn var(self, a: &Var<f64>, b: &Var<f64>) -> Var<f64> {
        match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Maximum => a.maximum(b),
            Bin::Minimum => a.minimum(b),
        }
    }
    fn value(self, x: f64, y: f64) -> f64 {
        match self {
            Bin::Add => x + y,
            Bin::Sub => x - y,
            Bin::Mul => x * y,
            Bin::Div => x / y,
            Bin::Maximum => x.max(y),
            Bin::Minimum => x.min(y),
        }
    }
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Every broadcasting binary op agrees with an index-by-index reference in value and
    /// shape (their gradients at random broadcasting shapes are checked from the table).
    #[test]
    fn binary_ops_broadcast_like_naive((sa, sb) in broadcast_pair(4, 0..=4), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        // Grids with different offsets: no ties for maximum/minimum, no zero divisors.
        let a = grid(&sa, 0.0, &mut rng);
        let b = grid(&sb, 0.05, &mut rng);
        let out = naive_broadcast(&sa, &sb);
        for op in BINS {
            let y = op.var(&Var::constant(a.clone()), &Var::constant(b.clone()));
            let mut want = vec![0.0; numel(&out)];
            for (o, slot) in want.iter_mut().enumerate() {
                let idx = unravel(o, &out);
                let (ia, ib) = (src_offset(&idx, &sa), src_offset(&idx, &sb));
                *slot = op.value(a.data()[ia], b.data()[ib]);
            }
            check_close(&format!("{op:?} {sa:?} {sb:?}"), y.value(), &out, &want, 0.0)?;
        }
    }

    /// `<broadcast_to(x), w> == <x, sum_to(w)>`: the two are adjoint, which is what makes
    /// the backward of every broadcasting op correct.
    #[test]
    fn broadcast_to_and_sum_to_are_adjoint((sa, sb) in broadcast_pair(4, 0..=4), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let out = naive_broadcast(&sa, &sb);
        let x = randn(&sa, &mut rng);
        let w = randn(&out, &mut rng);
        let bx = x.broadcast_to(&out);
        let sw = w.sum_to(&sa);
        prop_assert_eq!(bx.shape(), &out[..]);
        prop_assert_eq!(sw.shape(), &sa[..]);
        let lhs = bx.mul(&w).sum_all();
        let rhs = x.mul(&sw).sum_all();
        prop_assert!(close(lhs, rhs, 1e-12), "{} vs {}", lhs, rhs);
        // broadcast_to agrees with the reference element by element.
        let want: Vec<f64> = (0..numel(&out)).map(|o| x.data()[src_offset(&unravel(o, &out), &sa)]).collect();
        check_close("broadcast_to", &bx, &out, &want, 0.0)?;
    }
}

// ------------------------------------------------------------------ reductions

/// Folds `x` over the axes marked in `mask` (NumPy semantics), with `keepdim`.
fn naive_reduce(
    x: &Tensor<f64>,
    mask: &[bool],
    keepdim: bool,
    init: f64,
    f: impl Fn(f64, f64) -> f64,
) -> (Vec<usize>, Vec<f64>) {
    let shape = x.shape();
    let kept: Vec<usize> = shape.iter().zip(mask).map(|(&d, &m)| if m { 1 } else { d }).collect();
    let mut out = vec![init; numel(&kept)];
    for (i, &v) in x.data().iter().enumerate() {
        let idx: Vec<usize> = unravel(i, shape).iter().zip(mask).map(|(&j, &m)| if m { 0 } else { j }).collect();
        let o = ravel(&idx, &kept);
        out[o] = f(out[o], v);
    }
    let s = if keepdim { kept } else { shape.iter().zip(mask).filter(|(_, &m)| !m).map(|(&d, _)| d).collect() };
    (s, out)
}

/// For each element of `x`, the flat index of the output element it is reduced into.
fn reduce_target(shape: &[usize], mask: &[bool]) -> Vec<usize> {
    let kept: Vec<usize> = shape.iter().zip(mask).map(|(&d, &m)| if m { 1 } else { d }).collect();
    (0..numel(shape))
        .map(|i| {
            let idx: Vec<usize> = unravel(i, shape).iter().zip(mask).map(|(&j, &m)| if m { 0 } else { j }).collect();
            ravel(&idx, &kept)
        })
        .collect()
}

proptest! {
    #![proptest_config(cfg(256))]

    /// sum / mean / max / min over a random subset of axes (negative axes included, the
    /// empty list meaning all), with and without keepdim, against the reference, values and
    /// gradients. Empty axes give sum 0, mean NaN, max -inf and min +inf.
    #[test]
    fn reductions_match_naive(shape in shape_strategy(4, 0..=4), keepdim in any::<bool>(), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (axes, mask) = random_axes(shape.len(), &mut rng);
        let x = distinct(&shape, &mut rng);
        let count: usize = shape.iter().zip(&mask).filter(|(_, &m)| m).map(|(&d, _)| d).product();
        let target = reduce_target(&shape, &mask);
        let what = format!("{shape:?} axes {axes:?} keepdim {keepdim}");

        let (s, sum) = naive_reduce(&x, &mask, keepdim, 0.0, |a, v| a + v);
        let (_, max) = naive_reduce(&x, &mask, keepdim, f64::NEG_INFINITY, f64::max);
        let (_, min) = naive_reduce(&x, &mask, keepdim, f64::INFINITY, f64::min);
        let mean: Vec<f64> = sum.iter().map(|&v| v / count as f64).collect();
        let w = randn(&s, &mut rng);

        let tape = Tape::new();
        let v = tape.var(x.clone());
        let cases: [(&str, Var<f64>, &Vec<f64>); 4] = [
            ("sum", v.sum_axes(&axes, keepdim), &sum),
            ("mean", v.mean_axes(&axes, keepdim), &mean),
            ("max", v.max_axes(&axes, keepdim), &max),
            ("min", v.min_axes(&axes, keepdim), &min),
        ];
        for (name, y, want) in cases {
            check_close(&format!("{name} {what}"), y.value(), &s, want, 1e-12)?;
            let g = (&y * &Var::constant(w.clone())).sum().backward().wrt(&v);
            let want_g: Vec<f64> = (0..x.numel())
                .map(|i| {
                    let o = target[i];
                    match name {
                        "sum" => w.data()[o],
                        "mean" => w.data()[o] / count as f64,
                        // distinct values: exactly one winner per output element
                        "max" => if x.data()[i] == max[o] { w.data()[o] } else { 0.0 },
                        _ => if x.data()[i] == min[o] { w.data()[o] } else { 0.0 },
                    }
                })
                .collect();
            check_close(&format!("{name} grad {what}"), &g, &shape, &want_g, 1e-12)?;
        }
        // Listing every axis is the same as the empty list.
        let all: Vec<isize> = (0..shape.len() as isize).collect();
        prop_assert_eq!(x.sum_axes(&all, keepdim), x.sum_axes(&[], keepdim));
    }
}

// ------------------------------------------------------------------ reshape / permute

fn inverse(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    inv
}

fn shape_and_perm() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape_strategy(4, 0..=4).prop_flat_map(|s| {
        let n = s.len();
        (Just(s), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(cfg(256))]

    /// permute agrees with the reference, permuting by `p` then by `p^-1` gives the input
    /// back, and the gradient of a permute is the inverse permute of the incoming gradient.
    #[test]
    fn permute_matches_naive_and_round_trips((shape, perm) in shape_and_perm(), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = randn(&shape, &mut rng);
        let inv = inverse(&perm);
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let want: Vec<f64> = (0..numel(&out))
            .map(|o| {
                let idx = unravel(o, &out);
                let mut src = vec![0; shape.len()];
                for (i, &p) in perm.iter().enumerate() {
                    src[p] = idx[i];
                }
                x.data()[ravel(&src, &shape)]
            })
            .collect();
        let px = x.permute(&perm);
        check_close(&format!("permute {shape:?} by {perm:?}"), &px, &out, &want, 0.0)?;
        prop_assert_eq!(&px.permute(&inv), &x);

        let tape = Tape::new();
        let v = tape.var(x.clone());
        let y = v.permute(&perm);
        prop_assert_eq!(y.value(), &px);
        prop_assert_eq!(y.permute(&inv).into_value(), x.clone());
        let w = randn(&out, &mut rng);
        let g = (&y * &Var::constant(w.clone())).sum().backward().wrt(&v);
        prop_assert_eq!(g, w.permute(&inv));
        if shape.len() >= 2 {
            let (a, b) = (rng.random_range(0..shape.len()) as isize, -(rng.random_range(1..=shape.len()) as isize));
            prop_assert_eq!(&x.transpose(a, b).transpose(a, b), &x);
        }
    }

    /// Reshaping into a random shape of the same size (the dimensions shuffled, with 1s
    /// inserted) keeps the row-major data, shares the buffer, and reshaping back gives the
    /// input; the gradient is reshaped back too.
    #[test]
    fn reshape_round_trips((shape, perm) in shape_and_perm(), ones in prop::collection::vec(0..=5usize, 0..3), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = randn(&shape, &mut rng);
        let mut target: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        for pos in ones {
            let pos = pos.min(target.len());
            target.insert(pos, 1);
        }
        let r = x.reshape(&target);
        prop_assert_eq!(r.shape(), &target[..]);
        prop_assert_eq!(r.data(), x.data());
        // One-element tensors are stored inline; anything else shares the buffer.
        prop_assert!(r.shares_buffer(&x) || x.numel() == 1);
        prop_assert_eq!(&r.reshape(&shape), &x);
        // -1 infers the missing dimension when the others are non-zero.
        if !target.is_empty() && target.iter().all(|&d| d > 0) {
            let k = rng.random_range(0..target.len());
            let spec: Vec<isize> = target.iter().enumerate().map(|(i, &d)| if i == k { -1 } else { d as isize }).collect();
            let inferred = x.try_reshape_infer(&spec).unwrap();
            prop_assert_eq!(inferred.shape(), &target[..]);
        }
        let tape = Tape::new();
        let v = tape.var(x.clone());
        let y = v.reshape(&target).permute(&(0..target.len()).rev().collect::<Vec<_>>()).reshape_infer(&[-1]);
        let w = randn(&[x.numel()], &mut rng);
        let g = (&y * &Var::constant(w.clone())).sum().backward().wrt(&v);
        let rev: Vec<usize> = (0..target.len()).rev().collect();
        let want = w.reshape(target.iter().rev().copied().collect::<Vec<_>>()).permute(&rev).reshape(&shape);
        prop_assert_eq!(g, want);
    }
}

// ------------------------------------------------------------------ matmul

/// `numpy.matmul` by a triple loop: the result shape and data, and the vector-Jacobian
/// products for the output cotangent `w` (each with its operand's shape).
fn naive_matmul(
    a: &Tensor<f64>,
    b: &Tensor<f64>,
    w: Option<&Tensor<f64>>,
) -> (Vec<usize>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let pa: Vec<usize> = if a.ndim() == 1 { vec![1, a.shape()[0]] } else { a.shape().to_vec() };
    let pb: Vec<usize> = if b.ndim() == 1 { vec![b.shape()[0], 1] } else { b.shape().to_vec() };
    let (ra, rb) = (pa.len(), pb.len());
    let (m, k, n) = (pa[ra - 2], pa[ra - 1], pb[rb - 1]);
    assert_eq!(k, pb[rb - 2], "test bug: inner dimensions");
    let (ba, bb) = (&pa[..ra - 2], &pb[..rb - 2]);
    let batch = naive_broadcast(ba, bb);
    let nb = numel(&batch);
    let mut out = vec![0.0; nb * m * n];
    let mut ga = vec![0.0; a.numel()];
    let mut gb = vec![0.0; b.numel()];
    for bi in 0..nb {
        let bidx = unravel(bi, &batch);
        let (oa, ob) = (src_offset(&bidx, ba), src_offset(&bidx, bb));
        for i in 0..m {
            for j in 0..n {
                let o = (bi * m + i) * n + j;
                let g = w.map_or(0.0, |w| w.data()[o]);
                for kk in 0..k {
                    let (ia, ib) = ((oa * m + i) * k + kk, (ob * k + kk) * n + j);
                    out[o] += a.data()[ia] * b.data()[ib];
                    ga[ia] += g * b.data()[ib];
                    gb[ib] += g * a.data()[ia];
                }
            }
        }
    }
    let mut shape = batch;
    if a.ndim() > 1 {
        shape.push(m);
    }
    if b.ndim() > 1 {
        shape.push(n);
    }
    (shape, out, ga, gb)
}

proptest! {
    #![proptest_config(cfg(256))]

    /// `Tensor::matmul` and `Var::matmul` (and its backward) agree with a triple loop in
    /// every `numpy.matmul` form, zero-size dimensions included.
    #[test]
    fn matmul_matches_naive((sa, sb) in matmul_shapes(0..=4), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let a = randn(&sa, &mut rng);
        let b = randn(&sb, &mut rng);
        let (shape, want, _, _) = naive_matmul(&a, &b, None);
        let what = format!("matmul {sa:?} x {sb:?}");
        check_close(&what, &a.matmul(&b), &shape, &want, 1e-12)?;

        let w = randn(&shape, &mut rng);
        let (_, _, ga, gb) = naive_matmul(&a, &b, Some(&w));
        let tape = Tape::new();
        let (va, vb) = (tape.var(a.clone()), tape.var(b.clone()));
        let y = va.matmul(&vb);
        check_close(&format!("Var {what}"), y.value(), &shape, &want, 1e-12)?;
        let g = (&y * &Var::constant(w)).sum().backward();
        check_close(&format!("{what} grad a"), &g.wrt(&va), &sa, &ga, 1e-12)?;
        check_close(&format!("{what} grad b"), &g.wrt(&vb), &sb, &gb, 1e-12)?;
    }
}

proptest! {
    #![proptest_config(cfg(64))]

    /// A mismatched inner dimension is an error naming the op and both shapes, from the
    /// `try_` form and as a panic from the plain form.
    #[test]
    fn matmul_rejects_mismatched_inner_dims((sa, sb) in matmul_shapes(0..=3), extra in 1..=3usize) {
        // Grow b's inner dimension so it differs from a's.
        let mut sb = sb;
        let kb = if sb.len() == 1 { 0 } else { sb.len() - 2 };
        sb[kb] += extra;
        let a = Var::constant(Tensor::<f64>::zeros(&sa));
        let b = Var::constant(Tensor::<f64>::zeros(&sb));
        let err = a.try_matmul(&b).unwrap_err();
        let msg = err.to_string();
        prop_assert_eq!(err.op(), "matmul");
        prop_assert!(msg.contains(&format!("{sa:?}")) && msg.contains(&format!("{sb:?}")), "{}", msg);
        prop_assert!(msg.contains("inner dimensions"), "{}", msg);
        prop_assert!(a.value().try_matmul(b.value()).is_err());
    }
}

// ------------------------------------------------------------------ the op table at random shapes

/// Row `k` of the table at random shapes: elementwise rows at `sa` (and binary ones at the
/// broadcasting pair `(sa, sb)`), generic rows built for `sa`. `None` where the row does not
/// apply.
fn table_row_at(k: usize, sa: &[usize], sb: &[usize], seed: u64) -> Option<Case> {
    let rows: Vec<Case> = cases().into_iter().filter(|c| c.kind != Kind::Other).collect();
    let generics = generics();
    let mut rng = StdRng::seed_from_u64(seed);
    if k < rows.len() {
        let mut c = rows.into_iter().nth(k)?;
        c.inputs = match c.kind {
            Kind::Unary(d) => vec![sample(d, sa, seed)],
            Kind::Binary(da, db) => vec![sample(da, sa, seed), sample(db, sb, seed + 1)],
            Kind::Other => unreachable!("filtered out"),
        };
        c.name = format!("{} at {sa:?} {sb:?}", c.name);
        Some(c)
    } else {
        let (name, build) = generics[(k - rows.len()) % generics.len()];
        let mut c = build(sa, &mut rng)?;
        c.name = format!("{name} at {sa:?}");
        Some(c)
    }
}

fn table_rows() -> usize {
    cases().into_iter().filter(|c| c.kind != Kind::Other).count() + generics().len()
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Every elementwise and generic row of the op table on random shapes (0-d and
    /// broadcasting included): `gradcheck` in both modes and `gradgradcheck`, in f64.
    #[test]
    fn table_rows_pass_gradcheck_at_random_shapes(k in 0..table_rows(), (sa, sb) in broadcast_pair(3, 1..=3), seed in any::<u64>()) {
        let Some(c) = table_row_at(k, &sa, &sb, seed) else { return Ok(()) };
        let opts = GradcheckOptions { check_forward_ad: true, ..Default::default() };
        if let Err(e) = gradcheck(&c.f64, &c.inputs, opts) {
            return Err(TestCaseError::fail(format!("{}: {e}", c.name)));
        }
        if let Err(e) = gradgradcheck(&c.f64, &c.inputs, GradcheckOptions::default()) {
            return Err(TestCaseError::fail(format!("{}: {e}", c.name)));
        }
    }
}

proptest! {
    #![proptest_config(cfg(128))]

    /// matmul in every form (1-d, batched, broadcast batches): `gradcheck` and `gradgradcheck`.
    #[test]
    fn matmul_passes_gradcheck((sa, sb) in matmul_shapes(1..=3), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let inputs = [randn(&sa, &mut rng), randn(&sb, &mut rng)];
        let c = cases().into_iter().find(|c| c.name.starts_with("matmul [3, 4] [4, 2]")).expect("a matmul row");
        let opts = GradcheckOptions::default();
        if let Err(e) = gradcheck(&c.f64, &inputs, opts) {
            return Err(TestCaseError::fail(format!("matmul {sa:?} x {sb:?}: {e}")));
        }
        if let Err(e) = gradgradcheck(&c.f64, &inputs, opts) {
            return Err(TestCaseError::fail(format!("matmul {sa:?} x {sb:?}: {e}")));
        }
    }
}

// ------------------------------------------------------------------ random chains of table rows

/// A chain of 2-5 table rows, each applied to the previous result (its first input) with its
/// other inputs as extra gradcheck inputs. Rows whose first input is not drawn from the real
/// line (logarithms, kinks, ties) are left out: a chain's intermediate values can be anything.
struct Chain {
    steps: Vec<Case>,
    inputs: Vec<Tensor<f64>>,
}

impl Chain {
    fn build(shape: &[usize], picks: &[(usize, u64)]) -> Chain {
        let smooth = |c: &Case| {
            matches!(c.kind, Kind::Unary(Domain::Real) | Kind::Binary(Domain::Real, _))
                && !c.name.starts_with("powi 0")
                && !c.name.starts_with("exp")
        };
        let n_smooth = cases().iter().filter(|c| smooth(c)).count();
        let generics = generics();
        let mut shape = shape.to_vec();
        let mut rng = StdRng::seed_from_u64(picks.first().map_or(0, |p| p.1));
        let mut inputs = vec![randn(&shape, &mut rng).scale(0.7)];
        let mut steps = Vec::new();
        for &(k, seed) in picks {
            let k = k % (n_smooth + generics.len());
            let step = if k < n_smooth {
                // the row, fitted to the chain's shape
                let mut c = cases().into_iter().filter(|c| smooth(c)).nth(k).expect("k < n_smooth");
                c.inputs = match c.kind {
                    Kind::Binary(_, db) => {
                        let partner: Vec<usize> =
                            shape.iter().map(|&d| if rng.random_bool(0.3) { 1 } else { d }).collect();
                        vec![Tensor::zeros(&shape), sample(db, &partner, seed)]
                    }
                    _ => vec![Tensor::zeros(&shape)],
                };
                Some(c)
            } else {
                generics[k - n_smooth].1(&shape, &mut StdRng::seed_from_u64(seed))
            };
            let Some(step) = step else { continue };
            // the output shape, from a run on constants
            let probe: Vec<Var<f64>> = step.inputs.iter().map(|t| Var::constant(t.clone())).collect();
            shape = (step.f64)(&probe).shape().to_vec();
            inputs.extend(step.inputs[1..].iter().map(|t| t.scale(0.7)));
            steps.push(step);
        }
        Chain { steps, inputs }
    }

    fn run(&self, v: &[Var<f64>]) -> Var<f64> {
        let mut h = v[0].clone();
        let mut next = 1;
        for step in &self.steps {
            let extra = step.inputs.len() - 1;
            let mut args = vec![h];
            args.extend(v[next..next + extra].iter().cloned());
            next += extra;
            h = (step.f64)(&args);
        }
        h
    }

    fn describe(&self) -> String {
        self.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" -> ")
    }
}

/// Largest magnitude that chain values and gradients may reach for a finite-difference
/// check to be meaningful: central differences with a step of 1e-6 carry a rounding error of
/// about `|f| * 1e-10`, which must stay well below gradcheck's `atol` of 1e-5.
const WELL_CONDITIONED: f64 = 1e3;

/// Whether the chain's values and a vector-Jacobian product stay below [`WELL_CONDITIONED`]
/// (squares feeding `exp` can reach 1e30, where no finite difference resolves anything).
fn well_conditioned(chain: &Chain, seed: u64) -> bool {
    let max_abs = |t: &Tensor<f64>| t.data().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tape = Tape::new();
    let vs: Vec<Var<f64>> = chain.inputs.iter().map(|t| tape.var(t.clone())).collect();
    let y = chain.run(&vs);
    if !y.value().all_finite() || max_abs(y.value()) > WELL_CONDITIONED || !y.requires_grad() {
        return y.value().all_finite() && max_abs(y.value()) <= WELL_CONDITIONED;
    }
    let r = randn(y.shape(), &mut StdRng::seed_from_u64(seed ^ 0x9e37_79b9));
    let g = (&y * &Var::constant(r)).sum().backward();
    vs.iter().all(|v| {
        let gv = g.wrt(v);
        gv.all_finite() && max_abs(&gv) <= WELL_CONDITIONED
    })
}

fn chain_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<(usize, u64)>)> {
    (shape_strategy(3, 1..=3), prop::collection::vec((any::<usize>(), any::<u64>()), 2..=5))
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Random chains of 2-5 table rows: `gradcheck` (both modes) with respect to every input.
    #[test]
    fn random_chains_pass_gradcheck((shape, picks) in chain_strategy(), seed in any::<u64>()) {
        let chain = Chain::build(&shape, &picks);
        prop_assume!(well_conditioned(&chain, seed), "values or gradients above {}", WELL_CONDITIONED);
        let opts = GradcheckOptions { check_forward_ad: true, ..Default::default() };
        if let Err(e) = gradcheck(|v| chain.run(v), &chain.inputs, opts) {
            return Err(TestCaseError::fail(format!("x {shape:?}, {}: {e}", chain.describe())));
        }
    }
}

proptest! {
    #![proptest_config(cfg(128))]

    /// Second derivatives of random chains: `gradgradcheck`.
    #[test]
    fn random_chains_pass_gradgradcheck((shape, picks) in chain_strategy(), seed in any::<u64>()) {
        let chain = Chain::build(&shape, &picks);
        prop_assume!(well_conditioned(&chain, seed), "values or gradients above {}", WELL_CONDITIONED);
        if let Err(e) = gradgradcheck(|v| chain.run(v), &chain.inputs, GradcheckOptions::default()) {
            return Err(TestCaseError::fail(format!("x {shape:?}, {}: {e}", chain.describe())));
        }
    }
}
