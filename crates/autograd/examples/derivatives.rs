//! Forward mode, Jacobians and Hessians of a function of two inputs, against each other and
//! against finite differences: the user guide's "Forward mode, Jacobians and Hessians".
//!
//! `cargo run --release -p autograd --example derivatives`

use autograd::{hessian, hvp, jacfwd, jacobian, jvp, vhp, Tensor, Var};

fn main() -> Result<(), autograd::Error> {
    // f(x, w) = tanh(x . w)
    let f = |v: &[Var<f64>]| v[0].dot(&v[1]).tanh();
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0], [3])?;
    let w = Tensor::from_vec(vec![0.1, 0.2, 0.3], [3])?;
    let inputs = [x.clone(), w.clone()];

    let u = Tensor::from_vec(vec![1.0, 0.0, 0.0], [3])?;
    let (y, jv) = jvp(f, &inputs, &[u.clone(), Tensor::zeros([3])]);
    println!("f(x, w) = {:.6}", y.item());
    // finite difference of f along (u, 0)
    let h = 1e-6;
    let at = |s: f64| f(&[Var::constant(x.add(&u.scale(s))), Var::constant(w.clone())]).item();
    println!("J (u, 0) = {:.9}  (finite difference {:.9})", jv.item(), (at(h) - at(-h)) / (2.0 * h));

    let jf = jacfwd(f, &inputs);
    let jr = jacobian(f, &inputs);
    println!("d f / d x: forward {:?}, reverse {:?}", rounded(&jf[0]), rounded(&jr[0]));
    println!("d f / d w: forward {:?}, reverse {:?}", rounded(&jf[1]), rounded(&jr[1]));

    let dirs = [Tensor::ones([3]), Tensor::zeros([3])];
    let hv = hvp(f, &inputs, &dirs);
    let vh = vhp(f, &inputs, &dirs);
    println!("H v (forward-over-reverse): x {:?}, w {:?}", rounded(&hv[0]), rounded(&hv[1]));
    println!("v^T H (reverse-over-reverse): x {:?}, w {:?}", rounded(&vh[0]), rounded(&vh[1]));
    let hs = hessian(f, &inputs);
    println!("d2 f / dx dw:\n{}", hs[0][1]);
    Ok(())
}

fn rounded(t: &Tensor<f64>) -> Vec<f64> {
    t.data().iter().map(|v| (v * 1e6).round() / 1e6).collect()
}
