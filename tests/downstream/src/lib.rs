//! A crate that uses the library the way a user's crate does: see `Cargo.toml`.

#[cfg(test)]
mod tests {
    use nn::losses::MeanSquaredError;
    use nn::{Ctx, Dense, FitOptions, Model, Module, Param, Tensor, Var};
    use rand::SeedableRng;

    #[test]
    fn randn_with_the_users_rand_and_through_the_reexports() {
        // The user's own rand (the current major version).
        let mut mine = rand::rngs::StdRng::seed_from_u64(7);
        let a = autograd::Tensor::<f32>::randn([3, 4], &mut mine);
        // The same generator named through autograd's and nn's re-exports.
        let mut via_autograd = autograd::rand::rngs::StdRng::seed_from_u64(7);
        let b = Tensor::<f32>::randn([3, 4], &mut via_autograd);
        let mut via_nn = nn::rand::rngs::StdRng::seed_from_u64(7);
        let c = nn::autograd::Tensor::<f32>::randn([3, 4], &mut via_nn);
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert!(a.data().iter().any(|&v| v != 0.0));
    }

    /// `#[derive(Module)]` needs nothing but `nn` in Cargo.toml.
    #[derive(Module)]
    struct Scaled {
        dense: Dense<f32>,
        gain: Param<f32>,
    }

    impl Module for Scaled {
        fn forward(&self, x: &Var<f32>, ctx: &mut Ctx<f32>) -> Var<f32> {
            self.dense.forward(x, ctx) * &ctx.bind(&self.gain)
        }
    }

    #[test]
    fn a_derived_module_trains() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let x = Tensor::<f32>::rand_uniform([64, 2], -1.0, 1.0, &mut rng);
        let y = Tensor::from_vec(x.data().chunks(2).map(|r| r[0] - 2.0 * r[1]).collect(), [64, 1]).unwrap();
        let mut model = Model::new(Scaled { dense: Dense::new(2, 1).seed(3), gain: Param::new(Tensor::ones([1])) });
        model.compile(nn::Adam::new(0.05), MeanSquaredError, []);
        let opts = FitOptions { epochs: 100, batch_size: 16, verbose: 0, seed: Some(0), ..Default::default() };
        let h = model.fit(&x, &y, opts).unwrap();
        assert!(h.last("loss").unwrap() < 1e-3, "{:?}", h.last("loss"));
        assert_eq!(model.state_dict().keys().collect::<Vec<_>>(), ["dense.weight", "dense.bias", "gain"]);
    }
}
