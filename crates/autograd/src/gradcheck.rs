//! Checking gradients against finite differences: [`gradcheck`] (and, optionally, the
//! forward-mode Jacobian) and [`gradgradcheck`].

use crate::graph::{Tape, Var};
use crate::modes::no_grad;
use crate::sweep::grad_with_seeds;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::fmt;

/// Tolerances for [`gradcheck`] and [`gradgradcheck`]. The defaults are PyTorch's: a
/// central-difference step of 1e-6 and `|analytic - numeric| <= atol + rtol * |numeric|`
/// with `atol = 1e-5`, `rtol = 1e-3`.
#[derive(Debug, Clone, Copy)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Also check the Jacobian computed by forward mode ([`jvp`](crate::jvp), one per input
    /// element) against the finite differences, as PyTorch's `check_forward_ad`.
    pub check_forward_ad: bool,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions { eps: 1e-6, atol: 1e-5, rtol: 1e-3, check_forward_ad: false }
    }
}

/// A gradient check failure: the worst Jacobian entry, with both values and the errors.
#[derive(Debug, Clone)]
pub struct GradcheckError {
    /// Which input (position in the `inputs` slice).
    pub input: usize,
    /// Multi-index of the element within that input.
    pub input_index: Vec<usize>,
    /// Flat index of the output element.
    pub output_index: usize,
    /// d output / d input from the tape.
    pub analytic: f64,
    /// The central-difference estimate.
    pub numeric: f64,
    /// `|analytic - numeric|`.
    pub abs_err: f64,
    /// `abs_err / |numeric|` (infinite when the numeric value is 0).
    pub rel_err: f64,
    /// How many Jacobian entries were outside the tolerance.
    pub mismatches: usize,
    /// What was checked: `"gradcheck"`, `"gradcheck (forward mode)"` or `"gradgradcheck"`.
    pub check: &'static str,
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} Jacobian entries disagree; worst at input {} index {:?}, output element {}: analytic {:.10e} vs numeric {:.10e} (abs err {:.3e}, rel err {:.3e})",
            self.check, self.mismatches, self.input, self.input_index, self.output_index, self.analytic, self.numeric, self.abs_err, self.rel_err
        )
    }
}

impl std::error::Error for GradcheckError {}

fn unravel(mut k: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = k % shape[d];
        k /= shape[d];
    }
    idx
}

/// Checks the gradients of `f` at `inputs` against central finite differences, entry by
/// entry of the full Jacobian (every output element against every input element), in `f64`.
///
/// `f` may return a value of any shape. On failure the error names the worst entry.
///
/// ```
/// use autograd::{gradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], [3])?;
/// gradcheck(|v| v[0].tanh() * &v[0], &[x], GradcheckOptions::default()).unwrap();
/// # Ok::<(), autograd::Error>(())
/// ```
pub fn gradcheck<F>(f: F, inputs: &[Tensor<f64>], opts: GradcheckOptions) -> Result<(), GradcheckError>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    check_jacobian(&f, inputs, opts, "gradcheck")
}

fn check_jacobian<F>(
    f: &F,
    inputs: &[Tensor<f64>],
    opts: GradcheckOptions,
    check: &'static str,
) -> Result<(), GradcheckError>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    // Analytic Jacobian, one reverse sweep per output element.
    let tape = Tape::new();
    let xs: Vec<Var<f64>> = inputs.iter().map(|t| tape.var(t.clone())).collect();
    let y = f(&xs);
    let out_shape: Vec<usize> = y.shape().to_vec();
    let n_out = y.numel();
    let refs: Vec<&Var<f64>> = xs.iter().collect();
    // analytic[i][j * n_in + k] = d y_j / d x_i[k]
    let mut analytic: Vec<Vec<f64>> = inputs.iter().map(|t| vec![0.0; n_out * t.numel()]).collect();
    if y.requires_grad() {
        for j in 0..n_out {
            let mut seed = vec![0.0; n_out];
            seed[j] = 1.0;
            let seed = Var::constant(Tensor::from_vec(seed, &out_shape).expect("seed shape"));
            let g = grad_with_seeds(&[&y], vec![seed], &refs, false);
            for (i, x) in xs.iter().enumerate() {
                let gi = g.wrt(x);
                let n_in = inputs[i].numel();
                analytic[i][j * n_in..(j + 1) * n_in].copy_from_slice(gi.data());
            }
        }
    }
    // Numeric Jacobian, two evaluations per input element.
    // Inputs are constants here, so nothing is recorded unless `f` builds its own tape
    // (as gradgradcheck's function does).
    let eval = |vals: &[Tensor<f64>]| -> Tensor<f64> {
        let vs: Vec<Var<f64>> = vals.iter().map(|t| Var::constant(t.clone())).collect();
        f(&vs).into_value()
    };
    let mut numeric: Vec<Vec<f64>> = inputs.iter().map(|t| vec![0.0; n_out * t.numel()]).collect();
    for i in 0..inputs.len() {
        let n_in = inputs[i].numel();
        for k in 0..n_in {
            let mut vals = inputs.to_vec();
            let x0 = inputs[i].data()[k];
            vals[i].data_mut()[k] = x0 + opts.eps;
            let fp = eval(&vals);
            vals[i].data_mut()[k] = x0 - opts.eps;
            let fm = eval(&vals);
            for j in 0..n_out {
                numeric[i][j * n_in + k] = (fp.data()[j] - fm.data()[j]) / (2.0 * opts.eps);
            }
        }
    }
    compare(inputs, n_out, &analytic, &numeric, opts, check)?;
    if opts.check_forward_ad && check == "gradcheck" {
        // Forward mode: column k of input i is the tangent of the output for a unit tangent
        // at that element.
        let zeros: Vec<Tensor<f64>> = inputs.iter().map(|t| Tensor::zeros(t.shape())).collect();
        let mut forward: Vec<Vec<f64>> = inputs.iter().map(|t| vec![0.0; n_out * t.numel()]).collect();
        for i in 0..inputs.len() {
            let n_in = inputs[i].numel();
            for k in 0..n_in {
                let mut ts = zeros.clone();
                ts[i].data_mut()[k] = 1.0;
                let (_, t) = crate::forward::jvp(f, inputs, &ts);
                for j in 0..n_out {
                    forward[i][j * n_in + k] = t.data()[j];
                }
            }
        }
        compare(inputs, n_out, &forward, &numeric, opts, "gradcheck (forward mode)")?;
    }
    Ok(())
}

/// Compares an analytic Jacobian with the numeric one entry by entry; the error names the
/// worst entry.
fn compare(
    inputs: &[Tensor<f64>],
    n_out: usize,
    analytic: &[Vec<f64>],
    numeric: &[Vec<f64>],
    opts: GradcheckOptions,
    check: &'static str,
) -> Result<(), GradcheckError> {
    let mut worst: Option<GradcheckError> = None;
    let mut worst_ratio = 0.0;
    let mut mismatches = 0;
    for i in 0..inputs.len() {
        let n_in = inputs[i].numel();
        for k in 0..n_in {
            for j in 0..n_out {
                let numeric = numeric[i][j * n_in + k];
                let a = analytic[i][j * n_in + k];
                let abs_err = (a - numeric).abs();
                let tol = opts.atol + opts.rtol * numeric.abs();
                // NaN errors count as failures; exact agreement (including infinities) passes.
                let bad = a != numeric && abs_err.partial_cmp(&tol) != Some(std::cmp::Ordering::Less) && abs_err != tol;
                if bad {
                    mismatches += 1;
                    let ratio = if abs_err.is_nan() { f64::INFINITY } else { abs_err / tol };
                    if worst.is_none() || ratio > worst_ratio {
                        worst_ratio = ratio;
                        worst = Some(GradcheckError {
                            input: i,
                            input_index: unravel(k, inputs[i].shape()),
                            output_index: j,
                            analytic: a,
                            numeric,
                            abs_err,
                            rel_err: if numeric == 0.0 { f64::INFINITY } else { abs_err / numeric.abs() },
                            mismatches: 0,
                            check,
                        });
                    }
                }
            }
        }
    }
    match worst {
        Some(mut w) => {
            w.mismatches = mismatches;
            Err(w)
        }
        None => Ok(()),
    }
}

/// Checks second derivatives: that the gradients of `f`, computed with `create_graph`, are
/// themselves correctly differentiated. As in PyTorch, it gradchecks the function
/// `(inputs, v) -> vjp(f, inputs, v)` for a fixed random cotangent `v`, which exercises
/// every backward rule's own backward.
pub fn gradgradcheck<F>(f: F, inputs: &[Tensor<f64>], opts: GradcheckOptions) -> Result<(), GradcheckError>
where
    F: Fn(&[Var<f64>]) -> Var<f64>,
{
    let out_shape: Vec<usize> = no_grad(|| {
        let vs: Vec<Var<f64>> = inputs.iter().map(|t| Var::constant(t.clone())).collect();
        f(&vs).shape().to_vec()
    });
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let v = Tensor::<f64>::randn(&out_shape, &mut rng);
    let n = inputs.len();
    let g = |all: &[Var<f64>]| -> Var<f64> {
        let xs = &all[..n];
        let y = f(xs);
        let wrt: Vec<&Var<f64>> = xs.iter().filter(|x| x.requires_grad()).collect();
        if !y.requires_grad() || wrt.is_empty() {
            // Constant inputs (numeric evaluation): compute the same vjp on a fresh tape so
            // the value matches the analytic path.
            let tape = Tape::new();
            let xs2: Vec<Var<f64>> = xs.iter().map(|x| tape.var(x.value().clone())).collect();
            let y2 = f(&xs2);
            let refs: Vec<&Var<f64>> = xs2.iter().collect();
            let parts: Vec<Var<f64>> = if y2.requires_grad() {
                let gr = grad_with_seeds(&[&y2], vec![all[n].detach()], &refs, false);
                xs2.iter().map(|x| Var::constant(gr.wrt(x)).reshape([x.numel()])).collect()
            } else {
                xs2.iter().map(|x| Var::constant(Tensor::zeros([x.numel()]))).collect()
            };
            let prefs: Vec<&Var<f64>> = parts.iter().collect();
            return Var::concat(&prefs, 0);
        }
        let gr = grad_with_seeds(&[&y], vec![all[n].clone()], &wrt, true);
        let parts: Vec<Var<f64>> = xs.iter().map(|x| gr.wrt_var(x).reshape([x.numel()])).collect();
        let prefs: Vec<&Var<f64>> = parts.iter().collect();
        Var::concat(&prefs, 0)
    };
    let mut all_inputs = inputs.to_vec();
    all_inputs.push(v);
    check_jacobian(&g, &all_inputs, opts, "gradgradcheck")
}
