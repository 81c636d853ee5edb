//! `#[derive(Module)]`: names from fields (PyTorch's dotted form), containers, skipped fields,
//! buffers (saved, not trained, updated in training mode only), train/eval flags; and the
//! errors of `Ctx::backward` when the gradients would be meaningless.

use nn::losses::MeanSquaredError;
use nn::{
    Activation, Buffer, Ctx, Dense, Dropout, FitOptions, Model, Module, NnError, Optimizer, Param, Sequential, Sgd,
    Tensor, Var,
};

/// Generic over the float type, with every kind of field.
#[derive(Module)]
struct Encoder<T: nn::Float> {
    layers: Vec<Dense<T>>,
    head: Option<Dense<T>>,
    #[module(rename = "proj")]
    projection: Dense<T>,
    scale: Param<T>,
    #[module(buffer)]
    offsets: Tensor<T>,
    seq: Sequential<T>,
    boxed: Box<dyn Module<T> + Send>,
    #[module(skip)]
    activation: Activation,
    width: usize,
}

impl<T: nn::Float> Module<T> for Encoder<T> {
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
        let mut h = x.clone();
        for l in &self.layers {
            h = self.activation.apply(&l.forward(&h, ctx));
        }
        h = self.projection.forward(&h, ctx) * &ctx.bind(&self.scale);
        h = self.seq.forward(&h, ctx);
        self.boxed.forward(&h, ctx)
    }
}

fn encoder() -> Encoder<f64> {
    nn::manual_seed(1);
    Encoder {
        layers: vec![Dense::new(3, 4), Dense::new(4, 4)],
        head: None,
        projection: Dense::new(4, 2),
        scale: Param::new(Tensor::ones([2])),
        offsets: Tensor::zeros([2]),
        seq: Sequential::new().add(Dense::new(2, 2).activation(Activation::Tanh)).add(Dense::new(2, 2)),
        boxed: Box::new(Dense::new(2, 1)),
        activation: Activation::Relu,
        width: 4,
    }
}

#[test]
fn derived_names_follow_pytorch() {
    let mut e = encoder();
    assert_eq!(e.width, 4);
    let names: Vec<String> = e.state_dict().keys().cloned().collect();
    assert_eq!(
        names,
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias",
            "proj.weight",
            "proj.bias",
            "scale",
            "offsets",
            "seq.0.weight",
            "seq.0.bias",
            "seq.2.weight",
            "seq.2.bias",
            "boxed.weight",
            "boxed.bias",
        ]
    );
    // The buffer is saved but is not a parameter.
    assert_eq!(e.parameters().len(), 13);
    assert_eq!(e.named_buffers().iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["offsets"]);
    let children: Vec<String> = e.children().into_iter().map(|(n, _)| n).collect();
    assert_eq!(children, ["layers.0", "layers.1", "proj", "seq", "boxed"]);
    // An Option that is Some shows up.
    e.head = Some(Dense::new(1, 1));
    assert!(e.state_dict().contains_key("head.weight"));
    // Round trip, buffer included.
    let mut sd = e.state_dict();
    sd.insert("offsets".into(), Tensor::full([2], 7.0));
    let mut f = encoder();
    f.head = Some(Dense::new(1, 1));
    f.load_state_dict(&sd).unwrap();
    assert_eq!(f.offsets.to_vec(), [7.0, 7.0]);
    assert_eq!(f.state_dict(), sd);
}

/// Non-generic structs, tuple structs and unit structs derive too.
#[derive(Module)]
struct Pair(Dense<f32>, Dense<f32>);

impl Module for Pair {
    fn forward(&self, x: &Var<f32>, ctx: &mut Ctx<f32>) -> Var<f32> {
        self.1.forward(&self.0.forward(x, ctx), ctx)
    }
}

#[derive(Module)]
struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Var<f32>, _ctx: &mut Ctx<f32>) -> Var<f32> {
        x.clone()
    }
}

#[test]
fn tuple_and_unit_structs() {
    let p = Pair(Dense::new(2, 3), Dense::new(3, 1));
    let names: Vec<String> = p.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
    assert_eq!(Identity.num_parameters(), 0);
    assert_eq!(Identity.describe(), "Identity");
    let s = Sequential::new().add(Identity).add(p);
    assert_eq!(s.state_dict().keys().next().map(String::as_str), Some("1.0.weight"));
}

/// A layer with a running statistic: a buffer updated by the forward pass in training mode,
/// read in evaluation mode, as batch normalisation will be.
#[derive(Module)]
struct Centre {
    running_mean: Buffer<f32>,
    #[module(training)]
    training: bool,
    momentum: f32,
}

impl Centre {
    fn new(features: usize) -> Self {
        Centre { running_mean: Buffer::new(Tensor::zeros([features])), training: true, momentum: 0.5 }
    }
}

impl Module for Centre {
    fn forward(&self, x: &Var<f32>, _ctx: &mut Ctx<f32>) -> Var<f32> {
        if self.training {
            let batch_mean = x.value().sum_axes(&[0], false).scale(1.0 / x.shape()[0] as f32);
            let m = self.momentum;
            let old = self.running_mean.get();
            self.running_mean.replace(old.scale(1.0 - m).add(&batch_mean.scale(m)));
        }
        x - &Var::constant(self.running_mean.get())
    }
}

#[derive(Module)]
struct Net {
    centre: Centre,
    dropout: Dropout,
    out: Dense<f32>,
}

impl Module for Net {
    fn forward(&self, x: &Var<f32>, ctx: &mut Ctx<f32>) -> Var<f32> {
        let h = self.dropout.forward(&self.centre.forward(x, ctx), ctx);
        self.out.forward(&h, ctx)
    }
}

#[test]
fn buffers_are_saved_not_trained_and_follow_the_mode() {
    nn::manual_seed(3);
    let mut model = Model::new(Net { centre: Centre::new(2), dropout: Dropout::new(0.0), out: Dense::new(2, 1) });
    let names: Vec<String> = model.state_dict().keys().cloned().collect();
    assert_eq!(names, ["centre.running_mean", "out.weight", "out.bias"]);
    assert_eq!(model.module.parameters().len(), 2, "the buffer is not trained");
    // train()/eval() reach the flags of every sub-module.
    assert_eq!(model.module.is_training(), Some(true));
    model.module.eval();
    assert!(!model.module.centre.training && Module::<f32>::is_training(&model.module.dropout) == Some(false));
    model.module.train();
    assert!(model.module.centre.training);

    let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], [2, 2]).unwrap();
    let y = Tensor::from_vec(vec![0.0f32, 1.0], [2, 1]).unwrap();
    model.compile(Sgd::new(0.01), MeanSquaredError, []);
    model.fit(&x, &y, FitOptions { epochs: 3, batch_size: 2, verbose: 0, ..Default::default() }).unwrap();
    // Three training steps moved the running mean towards the batch mean [2, 20].
    let after_fit = model.module.centre.running_mean.get().to_vec();
    assert_eq!(after_fit, [1.75, 17.5]);
    assert_eq!(model.module.is_training(), Some(false), "fit leaves the model in evaluation mode");
    // Evaluation and prediction read the buffer without changing it.
    model.evaluate(&x, &y).unwrap();
    model.predict(&x).unwrap();
    assert_eq!(model.module.centre.running_mean.get().to_vec(), after_fit);
    // Saved and loaded with the weights.
    let sd = model.state_dict();
    assert_eq!(sd["centre.running_mean"].to_vec(), after_fit);
    let mut fresh = Net { centre: Centre::new(2), dropout: Dropout::new(0.0), out: Dense::new(2, 1) };
    fresh.load_state_dict(&sd).unwrap();
    assert_eq!(fresh.centre.running_mean.get().to_vec(), after_fit);
}

/// `Ctx::backward` with a loss from another pass gave all-zero gradients; now it is an error
/// naming the loss and the module.
#[test]
fn backward_with_a_foreign_loss_is_an_error() {
    let model = Dense::<f64>::new(3, 1).seed(1);
    let x = Var::constant(Tensor::ones([2, 3]));
    let mut other = Ctx::new(0);
    let foreign = model.forward(&x, &mut other).sum();
    let ctx = Ctx::new(0);
    let e = ctx.backward(foreign, &model).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("the loss (value") && msg.contains("another tape"), "{msg}");
    assert!(msg.contains("Dense(3 -> 1, linear)"), "{msg}");
    // A constant loss does not depend on anything either.
    let e = Ctx::new(0).backward(Var::scalar(1.0), &model).unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
    // A pass without a tape cannot give gradients.
    let mut nog = Ctx::no_grad();
    let l = model.forward(&x, &mut nog).sum();
    assert!(nog.backward(l, &model).unwrap_err().to_string().contains("Ctx::no_grad"));
}

#[test]
fn backward_for_a_module_that_was_not_used_is_an_error() {
    let used = Dense::<f64>::new(3, 1).seed(1);
    let unused = Dense::<f64>::new(3, 1).seed(2);
    let mut ctx = Ctx::new(0);
    let loss = used.forward(&Var::constant(Tensor::ones([2, 3])), &mut ctx).sum();
    let e = ctx.backward(loss, &unused).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("does not depend on module Dense(3 -> 1, linear)"), "{msg}");
    assert!(msg.contains("weight, bias"), "{msg}");
    // A module partly used (one branch of two) gets zeros for the other branch.
    #[derive(Module)]
    struct Two {
        a: Dense<f64>,
        b: Dense<f64>,
    }
    impl Module<f64> for Two {
        fn forward(&self, x: &Var<f64>, ctx: &mut Ctx<f64>) -> Var<f64> {
            self.a.forward(x, ctx)
        }
    }
    let two = Two { a: used, b: unused };
    let mut ctx = Ctx::new(0);
    let loss = two.forward(&Var::constant(Tensor::ones([2, 3])), &mut ctx).sum();
    let g = ctx.backward(loss, &two).unwrap();
    assert_eq!(g.len(), 4);
    assert!(g[2].data().iter().all(|&v| v == 0.0) && g[0].data().iter().any(|&v| v != 0.0));
    let _ = &two.b;
    let mut opt = Sgd::new(0.1);
    let mut two = two;
    opt.step(&mut two.param_tensors_mut(), &g);
}

/// A model that is not a Sequential trains through `Model` like any other.
#[test]
fn model_trains_any_module() {
    nn::manual_seed(5);
    let mut m = Model::new(Pair(Dense::new(1, 4).activation(Activation::Tanh), Dense::new(4, 1)));
    m.compile(nn::Adam::new(0.05), MeanSquaredError, nn::metrics![nn::metrics::MeanAbsoluteError::new()]);
    let x = Tensor::from_vec((0..32).map(|i| i as f32 / 16.0 - 1.0).collect(), [32, 1]).unwrap();
    let y = x.map(|v| 0.5 * v);
    let h = m.fit(&x, &y, FitOptions { epochs: 60, batch_size: 8, verbose: 0, seed: Some(1), ..Default::default() });
    let h = h.unwrap();
    assert!(h.last("loss").unwrap() < 1e-3, "{:?}", h.get("loss"));
    assert!(h.last("mae").unwrap() < 0.03);
    assert!(m.summary().contains("Total params: 13"), "{}", m.summary());
    assert!(matches!(Model::new(Identity).fit(&x, &y, FitOptions::default()), Err(NnError::InvalidConfig(_))));
}
