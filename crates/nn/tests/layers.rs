//! Layers, modules, initialisers, regularisers, dropout and state dicts.

use autograd::{gradcheck, GradcheckOptions, Tensor, Var};
use nn::{
    manual_seed, Activation, Ctx, Dense, Dropout, Flatten, Forward, Gelu, Init, LeakyRelu, Module, NnError, Param,
    Regularizer, Relu, Sequential, Sigmoid, Softmax, StateDict, Tanh,
};
use rand::{rngs::StdRng, SeedableRng};

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn dense_forward_is_affine_then_activation() {
    let k = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    let b = t(&[0.5, -100.0], &[2]);
    let d = Dense::from_weights(k, Some(b)).unwrap().activation(Activation::Relu);
    let x = Var::constant(t(&[1.0, 0.0, -1.0, 2.0, 1.0, 0.0], &[2, 3]));
    let y = d.forward(&x, &mut Ctx::no_grad());
    // [1,0,-1]·W = [1-5, 2-6] = [-4,-4] + b = [-3.5, -104] -> relu [0, 0]
    // [2,1,0]·W = [2+3, 4+4] = [5, 8] + b = [5.5, -92] -> [5.5, 0]
    assert_eq!(y.value().to_vec(), vec![0.0, 0.0, 5.5, 0.0]);
    assert_eq!(d.dims(), (3, 2));
    assert!(Dense::<f64>::from_weights(Tensor::zeros([3, 2]), Some(Tensor::zeros([3]))).is_err());
}

#[test]
fn dense_gradcheck_with_regularizer() {
    let mut r = StdRng::seed_from_u64(5);
    let x = Tensor::<f64>::randn([4, 3], &mut r);
    let w = Tensor::<f64>::randn([3, 2], &mut r);
    let b = Tensor::<f64>::randn([2], &mut r);
    gradcheck(
        |v| {
            // The formula of Dense's forward, tanh(x W + b), plus L1L2 on W.
            let y = (v[0].matmul(&v[1]) + &v[2]).tanh().sum();
            y + Regularizer::L1L2 { l1: 0.01, l2: 0.1 }.penalty(&v[1])
        },
        &[x.clone(), w.clone(), b.clone()],
        GradcheckOptions::default(),
    )
    .unwrap();
    // And Dense's own backward agrees with the formula's.
    let d = Dense::from_weights(w.clone(), Some(b.clone()))
        .unwrap()
        .activation(Activation::Tanh)
        .kernel_regularizer(Regularizer::L1L2 { l1: 0.01, l2: 0.1 });
    let mut ctx = Ctx::new(0);
    let y = d.forward(&Var::constant(x.clone()), &mut ctx).sum() + d.regularization(&mut ctx).unwrap();
    let grads = ctx.backward(y, &d).unwrap();
    let tape = autograd::Tape::new();
    let (wv, bv) = (tape.var(w.clone()), tape.var(b.clone()));
    let y2 = (Var::constant(x).matmul(&wv) + &bv).tanh().sum() + Regularizer::L1L2 { l1: 0.01, l2: 0.1 }.penalty(&wv);
    let g2 = y2.backward();
    assert!(grads[0].allclose(&g2.wrt(&wv), 1e-12, 1e-12));
    assert!(grads[1].allclose(&g2.wrt(&bv), 1e-12, 1e-12));
}

#[test]
fn regularizer_values() {
    let w = Var::constant(t(&[1.0, -2.0, 3.0], &[3]));
    assert!((Regularizer::L2(0.01).penalty(&w).item() - 0.14).abs() < 1e-15);
    assert!((Regularizer::L1(0.1).penalty(&w).item() - 0.6).abs() < 1e-15);
    // A Sequential sums its layers' penalties; bias regularizer too.
    let m = Sequential::<f64>::new()
        .add(
            Dense::from_weights(t(&[1.0, 2.0], &[1, 2]), Some(t(&[3.0, 0.0], &[2])))
                .unwrap()
                .kernel_regularizer(Regularizer::L2(1.0)),
        )
        .add(Relu)
        .add(
            Dense::from_weights(t(&[1.0, -1.0], &[2, 1]), None)
                .unwrap()
                .kernel_regularizer(Regularizer::L1(0.5))
                .bias_regularizer(Regularizer::L2(9.0)),
        )
        .add(
            Dense::from_weights(t(&[4.0], &[1, 1]), Some(t(&[2.0], &[1])))
                .unwrap()
                .bias_regularizer(Regularizer::L2(0.5)),
        );
    let r = m.regularization(&mut Ctx::no_grad()).unwrap().item();
    assert!((r - (5.0 + 1.0 + 2.0)).abs() < 1e-15, "{r}");
}

#[test]
fn sequential_names_and_state_dict_layout() {
    manual_seed(1);
    let mut m = Sequential::<f32>::new()
        .add(Dense::new(4, 3).activation(Activation::Relu))
        .add(Relu)
        .add(Dense::new(3, 2))
        .add(Dropout::new(0.5));
    // PyTorch's indices: the Dense with ReLU is Linear (0) and ReLU (1), then ReLU (2),
    // Linear (3), Dropout (4).
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
    assert_eq!(m.num_parameters(), 4 * 3 + 3 + 3 * 2 + 2);
    let sd = m.state_dict();
    // PyTorch layout: weight [out, in].
    assert_eq!(sd["0.weight"].shape(), &[3, 4]);
    assert_eq!(sd["3.weight"].shape(), &[2, 3]);
    assert_eq!(sd["3.bias"].shape(), &[2]);
    let kernel = m.parameters()[0].value().clone();
    assert_eq!(kernel.shape(), &[4, 3]);
    assert_eq!(sd["0.weight"].get(&[2, 1]), kernel.get(&[1, 2]));

    // Round trip into a fresh model with the same PyTorch structure.
    manual_seed(2);
    let mut fresh = Sequential::<f32>::new().add(Dense::new(4, 3)).add(Relu).add(Relu).add(Dense::new(3, 2));
    assert_ne!(fresh.state_dict(), sd);
    fresh.load_state_dict(&sd).unwrap();
    assert_eq!(fresh.state_dict(), sd);
    assert_eq!(fresh.parameters()[0].value().to_vec(), kernel.to_vec());

    // Errors name every bad tensor, and leave the model unchanged.
    let before = m.state_dict();
    let mut bad = sd.clone();
    bad.shift_remove("3.bias");
    bad.insert("5.weight".into(), Tensor::zeros([1]));
    bad.insert("0.weight".into(), Tensor::zeros([4, 3]));
    let e = m.load_state_dict(&bad).unwrap_err();
    match &e {
        NnError::StateDictMismatch { missing, unexpected, wrong_shape } => {
            assert_eq!(missing, &[("3.bias".to_string(), vec![2])]);
            assert_eq!(unexpected, &[("5.weight".to_string(), vec![1])]);
            assert_eq!(wrong_shape, &[("0.weight".to_string(), vec![3, 4], vec![4, 3])]);
        }
        e => panic!("{e}"),
    }
    assert!(e.to_string().contains("missing `3.bias`"), "{e}");
    assert_eq!(m.state_dict(), before);
    let _ = &mut m;
}

/// The README's MNIST model is named as `torch.nn.Sequential(Linear, ReLU, Linear, ReLU,
/// Linear)`; a file written with one index per layer (`0.*`, `1.*`, `2.*`) still loads.
#[test]
fn sequential_uses_pytorch_indices_and_loads_old_names() {
    manual_seed(4);
    let build = || {
        Sequential::<f32>::new()
            .add(Dense::new(6, 5).activation(Activation::Relu))
            .add(Dense::new(5, 4).activation(Activation::Relu))
            .add(Dense::new(4, 3).activation(Activation::Softmax))
    };
    let model = build();
    let sd = model.state_dict();
    assert_eq!(sd.keys().collect::<Vec<_>>(), ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
    // The same tensors under the names written before (one index per Dense).
    let old: StateDict<f32> = sd
        .iter()
        .map(|(k, t)| {
            let (i, rest) = k.split_once('.').unwrap();
            (format!("{}.{rest}", i.parse::<usize>().unwrap() / 2), t.clone())
        })
        .collect();
    assert_eq!(old.keys().collect::<Vec<_>>(), ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]);
    let mut fresh = build();
    assert_ne!(fresh.state_dict(), sd);
    fresh.load_state_dict(&old).unwrap();
    assert_eq!(fresh.state_dict(), sd);
    // Old names only count when they match completely.
    let mut partial = old.clone();
    partial.shift_remove("1.bias");
    assert!(matches!(fresh.load_state_dict(&partial), Err(NnError::StateDictMismatch { .. })));
}

#[test]
fn state_dict_helpers() {
    let mut sd = StateDict::<f32>::new();
    sd.insert("0.weight".into(), Tensor::zeros([2, 2]));
    sd.insert("0.bias".into(), Tensor::zeros([2]));
    sd.insert("1.weight".into(), Tensor::zeros([1, 2]));
    let sub = sd.sub("0");
    assert_eq!(sub.keys().collect::<Vec<_>>(), ["weight", "bias"]);
    let mut outer = StateDict::new();
    outer.extend_prefixed("encoder", sub);
    assert_eq!(outer.keys().collect::<Vec<_>>(), ["encoder.weight", "encoder.bias"]);
    assert!(sd.require_shape("0.bias", &[3]).is_err());
}

#[test]
fn initialisers_statistics_and_seeding() {
    let (fi, fo) = (300, 200);
    let mut r = StdRng::seed_from_u64(0);
    let w: Tensor<f64> = Init::GlorotUniform.sample(&[fi, fo], fi, fo, &mut r);
    let limit = (6.0 / (fi + fo) as f64).sqrt();
    let d = w.data();
    assert!(d.iter().all(|v| v.abs() <= limit));
    let max = d.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(max > 0.99 * limit, "uniform should reach close to the bound");
    let var = d.iter().map(|v| v * v).sum::<f64>() / d.len() as f64;
    assert!((var / (limit * limit / 3.0) - 1.0).abs() < 0.02, "variance {var}");

    for (init, want_var) in [
        (Init::GlorotNormal, 2.0 / (fi + fo) as f64),
        (Init::HeNormal, 2.0 / fi as f64),
        (Init::LecunNormal, 1.0 / fi as f64),
        (Init::HeUniform, 2.0 / fi as f64),
        (Init::LecunUniform, 1.0 / fi as f64),
    ] {
        let w: Tensor<f64> = init.sample(&[fi, fo], fi, fo, &mut r);
        let d = w.data();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let var = d.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d.len() as f64;
        assert!(mean.abs() < 0.05 * want_var.sqrt(), "{init:?} mean {mean}");
        assert!((var / want_var - 1.0).abs() < 0.03, "{init:?}: variance {var}, want {want_var}");
        if matches!(init, Init::GlorotNormal | Init::HeNormal | Init::LecunNormal) {
            // truncated at two (pre-truncation) standard deviations
            let bound = 2.0 * want_var.sqrt() / 0.879_625_661_034_239_8;
            assert!(d.iter().all(|v| v.abs() <= bound + 1e-12), "{init:?} not truncated");
        }
    }
    let z: Tensor<f32> = Init::Constant(0.25).sample(&[3], 1, 1, &mut r);
    assert_eq!(z.to_vec(), vec![0.25; 3]);
    assert_eq!(Init::Zeros.sample::<f32, _>(&[2], 1, 1, &mut r).to_vec(), vec![0.0; 2]);
    assert_eq!(nn::init::fans(&[3, 3, 16, 32]), (144, 288));

    // Reproducible with a seed; a different seed gives different weights.
    let a: Tensor<f32> = Init::GlorotUniform.sample(&[5, 5], 5, 5, &mut StdRng::seed_from_u64(9));
    let b: Tensor<f32> = Init::GlorotUniform.sample(&[5, 5], 5, 5, &mut StdRng::seed_from_u64(9));
    let c: Tensor<f32> = Init::GlorotUniform.sample(&[5, 5], 5, 5, &mut StdRng::seed_from_u64(10));
    assert_eq!(a.to_vec(), b.to_vec());
    assert_ne!(a.to_vec(), c.to_vec());
    // Layers: manual_seed and per-layer seeds.
    manual_seed(3);
    let l1 = Dense::<f32>::new(4, 4);
    let l2 = Dense::<f32>::new(4, 4);
    manual_seed(3);
    let l1b = Dense::<f32>::new(4, 4).kernel_initializer(Init::GlorotUniform); // builder does not shift l2
    let l2b = Dense::<f32>::new(4, 4);
    assert_eq!(l1.kernel().to_vec(), l1b.kernel().to_vec());
    assert_eq!(l2.kernel().to_vec(), l2b.kernel().to_vec());
    assert_ne!(l1.kernel().to_vec(), l2.kernel().to_vec());
    assert_eq!(Dense::<f32>::new(4, 4).seed(5).kernel().to_vec(), Dense::<f32>::new(4, 4).seed(5).kernel().to_vec());
    assert_eq!(l1.bias().unwrap().to_vec(), vec![0.0; 4]);
    let he = Dense::<f32>::new(1000, 10).kernel_initializer(Init::HeUniform).bias_initializer(Init::Constant(0.1));
    let lim = (6.0f32 / 1000.0).sqrt();
    assert!(he.kernel().data().iter().all(|v| v.abs() <= lim));
    assert!(he.kernel().data().iter().any(|v| v.abs() > (6.0f32 / 1010.0).sqrt()), "He bound is wider than Glorot's");
    assert_eq!(he.bias().unwrap().to_vec(), vec![0.1; 10]);
}

#[test]
fn dropout_scaling_and_eval_identity() {
    let x = Var::constant(Tensor::<f64>::ones([200, 50]));
    let mut d = Dropout::new(0.3);
    assert_eq!(Module::<f64>::is_training(&d), Some(true), "a new module is in training mode, as in PyTorch");
    Module::<f64>::eval(&mut d);
    let y = d.forward(&x, &mut Ctx::new(7));
    assert!(y.value().shares_buffer(x.value()), "eval mode is the identity (no copy)");
    Module::<f64>::train(&mut d);
    let y = d.forward(&x, &mut Ctx::new(7));
    let vals = y.value().data();
    let keep = 1.0 / 0.7;
    assert!(vals.iter().all(|&v| v == 0.0 || (v - keep).abs() < 1e-12), "survivors scaled by 1/(1-p)");
    let zeros = vals.iter().filter(|&&v| v == 0.0).count() as f64 / vals.len() as f64;
    assert!((zeros - 0.3).abs() < 0.02, "drop fraction {zeros}");
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    assert!((mean - 1.0).abs() < 0.03, "expectation preserved: {mean}");
    // Same seed, same mask; another seed, another mask.
    let y2 = d.forward(&x, &mut Ctx::new(7));
    let y3 = d.forward(&x, &mut Ctx::new(8));
    assert_eq!(y.value().to_vec(), y2.value().to_vec());
    assert_ne!(y.value().to_vec(), y3.value().to_vec());
    // Gradient flows through the kept elements, scaled.
    let tape = autograd::Tape::new();
    let xv = tape.var(Tensor::<f64>::ones([10, 10]));
    let mut ctx = Ctx::with_tape(tape, 3);
    let out = Dropout::new(0.5).forward(&xv, &mut ctx);
    let g = out.sum().backward().wrt(&xv);
    assert_eq!(g.to_vec(), out.value().to_vec());
    assert_eq!(Dropout::new(0.0).forward(&x, &mut Ctx::new(1)).value().to_vec(), x.value().to_vec());
}

#[test]
fn activation_layers_and_flatten() {
    let x = Var::constant(t(&[-2.0, 0.0, 1.0, 3.0], &[2, 2]));
    let mut c = Ctx::no_grad();
    assert_eq!(Relu.forward(&x, &mut c).value().to_vec(), vec![0.0, 0.0, 1.0, 3.0]);
    assert_eq!(LeakyRelu::new(0.1).forward(&x, &mut c).value().to_vec(), vec![-0.2, 0.0, 1.0, 3.0]);
    assert_eq!(LeakyRelu::default().alpha, 0.3);
    let s = Sigmoid.forward(&x, &mut c).value().to_vec();
    assert!((s[1] - 0.5).abs() < 1e-15 && (s[2] - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-15);
    let th = Tanh.forward(&x, &mut c).value().to_vec();
    assert!((th[3] - 3f64.tanh()).abs() < 1e-15);
    let sm = Softmax.forward(&x, &mut c).value().to_vec();
    assert!((sm[0] + sm[1] - 1.0).abs() < 1e-15 && (sm[2] / sm[3] - (-2.0f64).exp()).abs() < 1e-12);
    let g = Gelu.forward(&x, &mut c).value().to_vec();
    assert!((g[2] - 0.841_344_746_068_542_9).abs() < 1e-9, "gelu(1) = Φ(1) = {}", g[2]);
    for (a, want) in [(Activation::Elu(1.0), (-2.0f64).exp_m1()), (Activation::Softplus, (1.0 + (-2.0f64).exp()).ln())]
    {
        assert!((a.apply(&x).value().data()[0] - want).abs() < 1e-12, "{a:?}");
    }
    let img = Var::constant(Tensor::<f64>::zeros([5, 2, 3, 4]));
    assert_eq!(Flatten.forward(&img, &mut c).shape(), &[5, 24]);
    assert_eq!(Flatten.forward(&x, &mut c).shape(), &[2, 2]);
    // Softmax as a separate last layer gives its logits to a loss that asks for them.
    let m = Sequential::<f64>::new().add(Dense::from_weights(Tensor::eye(2), None).unwrap()).add(Softmax);
    let Forward::Logits(pre) = m.forward_logits(&x, &mut c, Activation::Softmax) else { panic!("logits") };
    assert_eq!(pre.value().to_vec(), x.value().to_vec());
}

/// A module written by a user: a residual block `x + gate * W2 relu(W1 x)`, with the
/// structure derived from its fields.
#[derive(Module)]
struct Residual {
    inner: Dense<f64>,
    outer: Dense<f64>,
    gate: Param<f64>,
    /// Not part of the state.
    #[module(skip)]
    note: &'static str,
}

impl Module<f64> for Residual {
    fn forward(&self, x: &Var<f64>, ctx: &mut Ctx<f64>) -> Var<f64> {
        let h = self.outer.forward(&self.inner.forward(x, ctx), ctx);
        x + &(h * &ctx.bind(&self.gate))
    }
}

#[test]
fn custom_module_in_a_sequential() {
    let block = Residual {
        inner: Dense::new(3, 5).activation(Activation::Relu).seed(1),
        outer: Dense::new(5, 3).seed(2),
        gate: Param::new(Tensor::full([3], 0.5)),
        note: "residual",
    };
    assert_eq!(block.note, "residual");
    let mut model = Sequential::new().add(block).add(Dense::new(3, 1).seed(3));
    let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["0.inner.weight", "0.inner.bias", "0.outer.weight", "0.outer.bias", "0.gate", "1.weight", "1.bias"]
    );
    let sd = model.state_dict();
    assert_eq!(sd["0.outer.weight"].shape(), &[3, 5]);
    // Gradcheck the whole model's output w.r.t. its input (parameters fixed).
    let xin = Tensor::<f64>::randn([4, 3], &mut StdRng::seed_from_u64(0));
    gradcheck(
        |v| model.forward(&v[0], &mut Ctx::no_grad()).sum(),
        std::slice::from_ref(&xin),
        GradcheckOptions::default(),
    )
    .unwrap();
    // One hand-driven step with an optimizer decreases the loss.
    use nn::Optimizer;
    let y = Tensor::<f64>::zeros([4, 1]);
    let loss_of = |m: &Sequential<f64>| {
        nn::losses::mean_squared_error(
            &m.forward(&Var::constant(xin.clone()), &mut Ctx::no_grad()),
            &Var::constant(y.clone()),
        )
        .item()
    };
    let before = loss_of(&model);
    let mut opt = nn::Sgd::new(0.05);
    for _ in 0..5 {
        let mut ctx = Ctx::new(0);
        let out = model.forward(&Var::constant(xin.clone()), &mut ctx);
        let loss = nn::losses::mean_squared_error(&out, &Var::constant(y.clone()));
        drop(out);
        let grads = ctx.backward(loss, &model).unwrap();
        assert_eq!(grads.len(), 7);
        opt.step(&mut model.param_tensors_mut(), &grads);
    }
    assert!(loss_of(&model) < before);
}

#[test]
fn parameters_update_in_place_without_copy() {
    // After ctx.backward the tape is gone, so the optimizer's data_mut finds each
    // parameter's buffer unshared and updates it where it is.
    let mut m = Sequential::<f32>::new()
        .add(Dense::new(8, 4).seed(0).activation(Activation::Tanh))
        .add(Dense::new(4, 2).seed(1));
    let ptrs: Vec<*const f32> = m.parameters().iter().map(|p| p.value().data().as_ptr()).collect();
    // (A deep copy: an exported state dict would share the bias buffers.)
    let before: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.value().to_vec()).collect();
    let x = Tensor::<f32>::ones([3, 8]);
    let mut opt = nn::Adam::default();
    use nn::Optimizer;
    let mut ctx = Ctx::new(0);
    let out = m.forward(&Var::constant(x), &mut ctx);
    let loss = out.square().mean();
    drop(out);
    let grads = ctx.backward(loss, &m).unwrap();
    opt.step(&mut m.param_tensors_mut(), &grads);
    let after: Vec<*const f32> = m.parameters().iter().map(|p| p.value().data().as_ptr()).collect();
    assert_eq!(ptrs, after, "a parameter buffer was copied");
    let now: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.value().to_vec()).collect();
    assert!(now.iter().zip(&before).all(|(a, b)| a != b), "every parameter changed");
}

#[test]
fn tied_parameter_binds_once() {
    let p = Param::new(Tensor::<f64>::full([1], 3.0));
    let mut ctx = Ctx::new(0);
    let a = ctx.bind(&p);
    let b = ctx.bind(&p);
    assert_eq!(a.id(), b.id());
    // A cloned parameter is a new, untied one.
    let q = p.clone();
    assert_ne!(q.id(), p.id());
}
