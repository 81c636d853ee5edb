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

    // Which Hessian-vector product is cheaper: the loss of a 784-128-10 tanh MLP on a batch
    // of 32, with respect to both weight matrices (101,632 parameters).
    use rand::{rngs::StdRng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(0);
    let xb = Tensor::<f64>::randn([32, 784], &mut rng);
    let labels: Vec<usize> = (0..32).map(|i| i % 10).collect();
    let ws = [Tensor::<f64>::randn([784, 128], &mut rng).scale(0.03), Tensor::randn([128, 10], &mut rng).scale(0.09)];
    let dirs = [Tensor::<f64>::randn([784, 128], &mut rng), Tensor::randn([128, 10], &mut rng)];
    let loss = |v: &[Var<f64>]| Var::constant(xb.clone()).matmul(&v[0]).tanh().matmul(&v[1]).cross_entropy(&labels);
    let time = |name: &str, f: &dyn Fn() -> Vec<Tensor<f64>>| {
        f();
        let t0 = std::time::Instant::now();
        let n = 20;
        let mut out = Vec::new();
        for _ in 0..n {
            out = f();
        }
        println!("{name}: {:.3} ms per product", t0.elapsed().as_secs_f64() * 1e3 / n as f64);
        out
    };
    let a = time("hvp (forward-over-reverse)", &|| hvp(loss, &ws, &dirs));
    let b = time("vhp (reverse-over-reverse)", &|| vhp(loss, &ws, &dirs));
    println!("largest difference: {:.2e}", a[0].max_abs_diff(&b[0]).max(a[1].max_abs_diff(&b[1])));
    Ok(())
}

fn rounded(t: &Tensor<f64>) -> Vec<f64> {
    t.data().iter().map(|v| (v * 1e6).round() / 1e6).collect()
}
