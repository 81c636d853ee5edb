//! Every gradient test over the one table of op cases (`cases/mod.rs`):
//!
//! - `gradcheck` (reverse mode and forward mode against central differences) and
//!   `gradgradcheck`, in f64;
//! - forward mode against reverse mode: `<u, J v> == <J^T u, v>` (jvp against vjp), and
//!   forward-over-reverse `hvp` against reverse-over-reverse `vhp`;
//! - the plain sweep (tensor rules, scalar lane) against the `create_graph` sweep, bit for
//!   bit, in f32 and f64, with every input recorded and with each one constant, and for
//!   elementwise rows at 0-d, one-element, empty and large (threaded) shapes;
//! - the edge points of each row (PyTorch's values and gradients at kinks, saturations and
//!   infinities, Hessians at a few), in both sweeps.

mod cases;

use autograd::{grad_with_seeds, gradcheck, gradgradcheck, hvp, jvp, vhp, Float, GradcheckOptions, Tape, Tensor, Var};
use cases::{broadcast, cases, sample, Case, Domain, Kind, F};

/// Runs `check` on every case and reports every failure at once.
fn each(what: &str, check: impl Fn(&Case) -> Result<(), String>) {
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|c| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(c)))
                .unwrap_or_else(|e| {
                    Err(format!(
                        "panicked: {}",
                        e.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    ))
                })
                .err()
                .map(|e| format!("{}: {e}", c.name))
        })
        .collect();
    assert!(failures.is_empty(), "{what} failed for {} cases:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_table_covers_every_family() {
    let names: Vec<String> = cases().into_iter().map(|c| c.name).collect();
    for op in [
        "neg",
        "exp",
        "ln",
        "log1p",
        "sqrt",
        "square",
        "recip",
        "abs",
        "sin",
        "cos",
        "tanh",
        "sigmoid",
        "relu",
        "leaky_relu",
        "elu",
        "gelu",
        "erf",
        "softplus",
        "clamp",
        "powi",
        "powf",
        "masked_fill",
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "maximum",
        "minimum",
        "where",
        "sum",
        "mean",
        "max",
        "min",
        "var",
        "std",
        "logsumexp",
        "matmul",
        "matmul_t",
        "t_matmul",
        "dot",
        "outer",
        "linear",
        "reshape",
        "flatten",
        "unsqueeze",
        "squeeze",
        "broadcast_to",
        "sum_to",
        "transpose",
        "permute",
        "narrow",
        "slice",
        "concat",
        "stack",
        "split",
        "chunk",
        "index_select",
        "gather",
        "softmax",
        "log_softmax",
        "cross_entropy",
        "bce_with_logits",
    ] {
        assert!(names.iter().any(|n| n == op || n.starts_with(&format!("{op} "))), "no row for {op}");
    }
}

#[test]
fn gradcheck_reverse_and_forward_mode() {
    let opts = GradcheckOptions { check_forward_ad: true, ..Default::default() };
    each("gradcheck", |c| gradcheck(&c.f64, &c.inputs, opts).map_err(|e| e.to_string()));
}

#[test]
fn gradgradcheck_every_case() {
    each("gradgradcheck", |c| {
        if !c.second_order {
            return Ok(());
        }
        gradgradcheck(&c.f64, &c.inputs, GradcheckOptions::default()).map_err(|e| e.to_string())
    });
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
}

/// `<u, J v>` from forward mode equals `<J^T u, v>` from reverse mode.
#[test]
fn jvp_is_the_transpose_of_vjp() {
    each("jvp against vjp", |c| {
        let v: Vec<Tensor<f64>> =
            c.inputs.iter().enumerate().map(|(i, x)| sample(Domain::Real, x.shape(), 300 + i as u64)).collect();
        let (y, jv) = jvp(&c.f64, &c.inputs, &v);
        let u = sample(Domain::Real, y.shape(), 400);
        let tape = Tape::new();
        let xs: Vec<Var<f64>> = c.inputs.iter().map(|x| tape.var(x.clone())).collect();
        let refs: Vec<&Var<f64>> = xs.iter().collect();
        let out = (c.f64)(&xs);
        let lhs = dot(&u, &jv);
        let rhs: f64 = if out.requires_grad() {
            let g = grad_with_seeds(&[&out], vec![Var::constant(u.clone())], &refs, false);
            xs.iter().zip(&v).map(|(x, vi)| dot(&g.wrt(x), vi)).sum()
        } else {
            0.0
        };
        if (lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs().max(rhs.abs())) || (lhs.is_nan() && rhs.is_nan()) {
            Ok(())
        } else {
            Err(format!("<u, J v> = {lhs} but <J^T u, v> = {rhs}"))
        }
    });
}

/// Forward-over-reverse `hvp` against reverse-over-reverse `vhp`, on `sum(w * f(x))`.
#[test]
fn hvp_forward_over_reverse_equals_reverse_over_reverse() {
    each("hvp against vhp", |c| {
        if !c.second_order {
            return Ok(());
        }
        let y0 = (c.f64)(&c.inputs.iter().map(|x| Var::constant(x.clone())).collect::<Vec<_>>());
        let w = Var::constant(sample(Domain::Real, y0.shape(), 500));
        let f = |v: &[Var<f64>]| ((c.f64)(v) * &w).sum();
        let dirs: Vec<Tensor<f64>> =
            c.inputs.iter().enumerate().map(|(i, x)| sample(Domain::Real, x.shape(), 600 + i as u64)).collect();
        let a = hvp(f, &c.inputs, &dirs);
        let b = vhp(f, &c.inputs, &dirs);
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            if !p.allclose(q, 1e-9, 1e-10) {
                return Err(format!("input {i}: hvp {p:?} vs vhp {q:?}"));
            }
        }
        Ok(())
    });
}

/// The exact bits of a gradient (shape and elements), so that NaN compares too.
fn bits<T: Float>(t: &Tensor<T>) -> (Vec<usize>, Vec<u64>) {
    (t.shape().to_vec(), t.data().iter().map(|v| v.to_f64().to_bits()).collect())
}

/// The gradients of `f` with respect to its recorded inputs for a random output gradient, from
/// the plain sweep and from the `create_graph` sweep.
fn both_sweeps<T: Float>(f: &F<T>, inputs: &[Tensor<T>], recorded: &[bool]) -> [Vec<Option<Tensor<T>>>; 2] {
    [false, true].map(|create_graph| {
        let tape = Tape::new();
        let xs: Vec<Var<T>> = inputs
            .iter()
            .zip(recorded)
            .map(|(t, &r)| if r { tape.var(t.clone()) } else { Var::constant(t.clone()) })
            .collect();
        let y = f(&xs);
        let wrt: Vec<&Var<T>> = xs.iter().filter(|x| x.requires_grad()).collect();
        if !y.requires_grad() {
            return wrt.iter().map(|_| None).collect();
        }
        let seed = Var::constant(sample(Domain::Real, y.shape(), 7).cast::<T>());
        let g = grad_with_seeds(&[&y], vec![seed], &wrt, create_graph);
        wrt.iter().map(|x| g.get(x)).collect()
    })
}

fn same_bits<T: Float>(f: &F<T>, inputs: &[Tensor<f64>], recorded: &[bool]) -> Result<(), String> {
    let inputs: Vec<Tensor<T>> = inputs.iter().map(|t| t.cast()).collect();
    let [plain, graph] = both_sweeps(f, &inputs, recorded);
    for (k, (p, g)) in plain.iter().zip(&graph).enumerate() {
        if p.as_ref().map(bits) != g.as_ref().map(bits) {
            return Err(format!(
                "{} with recorded inputs {recorded:?}, gradient {k}: plain {p:?} vs create_graph {g:?}",
                T::NAME
            ));
        }
    }
    Ok(())
}

/// The input sets a row runs at in the bit-equality test: its own, each input constant in
/// turn, and for elementwise rows other shapes (0-d and one-element values take the scalar
/// lane; the large one takes the threaded kernels).
fn variants(c: &Case) -> Vec<(Vec<Tensor<f64>>, Vec<bool>)> {
    let n = c.inputs.len();
    let mut out = vec![(c.inputs.clone(), vec![true; n])];
    if n > 1 {
        for k in 0..n {
            let mut r = vec![true; n];
            r[k] = false;
            out.push((c.inputs.clone(), r));
        }
    }
    match c.kind {
        Kind::Unary(d) => {
            for shape in [&[][..], &[1], &[0, 3], &[(1 << 17) + 5]] {
                out.push((vec![sample(d, shape, 1)], vec![true]));
            }
        }
        Kind::Binary(da, db) => {
            out.push((vec![sample(da, &[], 1), sample(db, &[], 2)], vec![true, true]));
            out.push((vec![sample(da, &[], 1), sample(db, &[], 2)], vec![true, false]));
            out.push((vec![sample(da, &[0, 3], 1), sample(db, &[3], 2)], vec![true, true]));
        }
        Kind::Other => {}
    }
    out
}

#[test]
fn plain_sweep_equals_create_graph_sweep_bit_for_bit() {
    each("plain vs create_graph", |c| {
        for (inputs, recorded) in variants(c) {
            same_bits(&c.f64, &inputs, &recorded)?;
            same_bits(&c.f32, &inputs, &recorded)?;
        }
        Ok(())
    });
}

/// Elementwise rows give a 0-d input the same value and gradient, to the bit, as the same
/// value of shape [1] (the scalar lane against the tensor kernels).
#[test]
fn zero_d_equals_one_element() {
    each("0-d against [1]", |c| {
        let Kind::Unary(d) = c.kind else { return Ok(()) };
        let x = sample(d, &[], 9);
        let run = |x: Tensor<f64>| {
            let tape = Tape::new();
            let v = tape.var(x);
            let y = (c.f64)(std::slice::from_ref(&v));
            let g = y.sum().backward().wrt(&v);
            (y.value().data()[0].to_bits(), g.data()[0].to_bits(), y.shape().len(), g.shape().len())
        };
        let (ys, gs, ry, rg) = run(x.clone());
        let (yv, gv, _, _) = run(x.reshape([1]));
        if (ys, gs) != (yv, gv) || ry != 0 || rg != 0 {
            return Err(format!("0-d: value {ys:x} grad {gs:x} (ranks {ry}, {rg}); [1]: value {yv:x} grad {gv:x}"));
        }
        Ok(())
    });
}

/// Equal, or both NaN, or within `rtol` of each other (for values like e^-100).
fn close(got: f64, want: f64) -> bool {
    got == want || (got.is_nan() && want.is_nan()) || (got - want).abs() <= 1e-12 * want.abs().max(1e-300)
}

#[test]
fn edge_points_match_pytorch() {
    each("edge points", |c| {
        for (e, edge) in c.edges.iter().enumerate() {
            let [plain, graph] = [false, true].map(|create_graph| {
                let tape = Tape::new();
                let xs: Vec<Var<f64>> = edge.inputs.iter().map(|t| tape.var(t.clone())).collect();
                let refs: Vec<&Var<f64>> = xs.iter().collect();
                let y = (c.f64)(&xs);
                let seed = Var::constant(edge.seed.clone().unwrap_or_else(|| Tensor::ones(y.shape())));
                let g = grad_with_seeds(&[&y], vec![seed], &refs, create_graph);
                (y.value().clone(), xs.iter().map(|x| g.wrt(x)).collect::<Vec<_>>())
            });
            let (y, grads) = plain;
            if !y.data().iter().zip(&edge.value).all(|(&a, &b)| close(a, b)) || y.numel() != edge.value.len() {
                return Err(format!("edge {e}: value {:?}, expected {:?}", y.data(), edge.value));
            }
            for (k, (g, want)) in grads.iter().zip(&edge.grads).enumerate() {
                if g.numel() != want.len() || !g.data().iter().zip(want).all(|(&a, &b)| close(a, b)) {
                    return Err(format!("edge {e}: gradient {k} is {:?}, expected {want:?}", g.data()));
                }
                if bits(g) != bits(&graph.1[k]) {
                    return Err(format!("edge {e}: gradient {k}: plain {g:?} vs create_graph {:?}", graph.1[k]));
                }
            }
            if let Some(h) = &edge.hessian {
                let blocks = autograd::hessian(|v| (c.f64)(v).sum(), &edge.inputs);
                let flat: Vec<f64> = blocks.iter().flat_map(|row| row.iter().flat_map(|b| b.to_vec())).collect();
                if !flat.iter().zip(h).all(|(&a, &b)| close(a, b)) || flat.len() != h.len() {
                    return Err(format!("edge {e}: Hessian {flat:?}, expected {h:?}"));
                }
            }
        }
        Ok(())
    });
}

/// Random shapes for the elementwise rows: any shape for unary ops, any broadcasting pair
/// for binary ones, gradchecked in both modes.
#[test]
fn elementwise_rows_at_other_shapes() {
    let opts = GradcheckOptions { check_forward_ad: true, ..Default::default() };
    let shapes: [&[usize]; 4] = [&[], &[1], &[2, 1, 3], &[0, 2]];
    let pairs: [(&[usize], &[usize]); 3] = [(&[3, 1, 2], &[4, 1]), (&[1], &[2, 2]), (&[], &[0])];
    each("elementwise rows at other shapes", |c| {
        match c.kind {
            Kind::Unary(d) => {
                for s in shapes {
                    gradcheck(&c.f64, &[sample(d, s, 3)], opts).map_err(|e| format!("shape {s:?}: {e}"))?;
                }
            }
            Kind::Binary(da, db) => {
                for (sa, sb) in pairs {
                    assert_eq!(broadcast(sa, sb).len(), sa.len().max(sb.len()));
                    gradcheck(&c.f64, &[sample(da, sa, 3), sample(db, sb, 4)], opts)
                        .map_err(|e| format!("shapes {sa:?} {sb:?}: {e}"))?;
                }
            }
            Kind::Other => {}
        }
        Ok(())
    });
}
