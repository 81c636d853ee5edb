//! The training loop written by hand, as in the user guide: bind, forward, loss, backward,
//! optimizer step. It must reach the same result as `fit` with the same seed and no shuffling.

use nn::losses::MeanSquaredError;
use nn::{Activation, Ctx, Dense, FitOptions, Model, Module, Optimizer, Sequential, Sgd, Tensor, Var};

fn net(seed: u64) -> Sequential {
    nn::manual_seed(seed);
    Sequential::new().add(Dense::new(2, 8).activation(Activation::Tanh)).add(Dense::new(8, 1))
}

fn xor() -> (Tensor<f32>, Tensor<f32>) {
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2]).unwrap();
    let y = Tensor::from_vec(vec![0., 1., 1., 0.], [4, 1]).unwrap();
    (x, y)
}

#[test]
fn hand_written_loop_learns_xor_and_matches_fit() {
    let (x, y) = xor();
    let mut model = net(11);
    let mut opt = Sgd::new(0.2).momentum(0.9);
    let mut first = None;
    let mut last = 0.0;
    model.train();
    for _step in 0..300 {
        let mut ctx = Ctx::new(0);
        let pred = model.forward(&Var::constant(x.clone()), &mut ctx);
        let loss = (&pred - &Var::constant(y.clone())).square().mean();
        last = loss.item();
        first.get_or_insert(last);
        let grads = ctx.backward(loss, &model).unwrap();
        opt.step(&mut model.param_tensors_mut(), &grads);
    }
    assert!(last < 0.01 && last < first.unwrap() / 10.0, "loss {first:?} -> {last}");
    model.eval();
    let a = model.forward(&Var::constant(x.clone()), &mut Ctx::no_grad()).into_value();

    // The same 300 full-batch steps through compile/fit.
    let mut fitted = Model::new(net(11));
    fitted.compile(Sgd::new(0.2).momentum(0.9), MeanSquaredError, []);
    let opts = FitOptions { epochs: 300, batch_size: 4, shuffle: false, verbose: 0, ..Default::default() };
    fitted.fit(&x, &y, opts).unwrap();
    let b = fitted.predict(&x).unwrap();
    assert!(a.allclose(&b, 1e-5, 1e-6), "{a} vs {b}");
}
