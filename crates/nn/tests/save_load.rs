//! Saving and loading whole models through files.

use autograd::Tensor;
use nn::losses::SparseCategoricalCrossentropy;
use nn::metrics::Accuracy;
use nn::{Activation, Adam, Dense, FitOptions, Model, Module, Sequential, StateDict};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn model(seed: u64) -> Model<Sequential> {
    nn::manual_seed(seed);
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(4, 8).activation(Activation::Relu))
            .add(Dense::new(8, 3).activation(Activation::Softmax)),
    );
    m.compile(Adam::default(), SparseCategoricalCrossentropy::new(), nn::metrics![Accuracy::new()]);
    m
}

fn data() -> (Tensor<f32>, Tensor<f32>) {
    let mut rng = StdRng::seed_from_u64(3);
    let x = Tensor::<f32>::rand_uniform([60, 4], -1.0, 1.0, &mut rng);
    let y = Tensor::from_vec((0..60).map(|i| (i % 3) as f32).collect(), [60]).unwrap();
    (x, y)
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-save-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn save_then_load_weights_gives_the_same_predictions() {
    let (x, y) = data();
    let mut a = model(1);
    a.fit(&x, &y, FitOptions { epochs: 3, batch_size: 8, verbose: 0, ..Default::default() }).unwrap();
    let path = tmp("weights.safetensors");
    a.save(&path).unwrap();
    let mut b = model(2); // different initial weights
    assert_ne!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
    b.load_weights(&path).unwrap();
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
    // PyTorch names and layout: Sequential(Linear(4, 8), ReLU(), Linear(8, 3), Softmax()),
    // a Linear weight is [out, in].
    let sd = nn::io::load_safetensors::<f32>(&path).unwrap();
    assert_eq!(sd.keys().collect::<Vec<_>>(), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_eq!(sd.get("0.weight").unwrap().shape(), &[8, 4]);
    assert_eq!(sd.get("2.bias").unwrap().shape(), &[3]);
}

/// A file saved before `Sequential` used PyTorch's indices (one index per `Dense`, its
/// activation included) still loads.
#[test]
fn a_file_with_the_old_names_still_loads() {
    let (x, y) = data();
    let mut a = model(1);
    a.fit(&x, &y, FitOptions { epochs: 2, batch_size: 8, verbose: 0, ..Default::default() }).unwrap();
    let old: StateDict<f32> = a.state_dict().into_iter().map(|(k, t)| (k.replacen("2.", "1.", 1), t)).collect();
    assert_eq!(old.keys().collect::<Vec<_>>(), ["0.weight", "0.bias", "1.weight", "1.bias"]);
    let path = tmp("old-names.safetensors");
    nn::io::save_safetensors(&path, &old, &[("format", "pt")]).unwrap();
    let mut b = model(2);
    b.load_weights(&path).unwrap();
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
}

#[test]
fn loading_into_a_different_architecture_names_the_tensor() {
    let path = tmp("arch.safetensors");
    model(1).save(&path).unwrap();
    nn::manual_seed(0);
    let mut other = Model::new(Sequential::<f32>::new().add(Dense::new(4, 5)).add(Dense::new(5, 3)));
    let before = other.state_dict();
    let err = other.load_weights(&path).unwrap_err().to_string();
    assert!(err.contains("0.weight"), "{err}");
    assert_eq!(other.state_dict().get("0.weight"), before.get("0.weight"), "a failed load changes nothing");
}

#[test]
fn checkpoint_resume_through_a_file_is_exact() {
    let (x, y) = data();
    let opts = |epochs, initial_epoch| FitOptions {
        epochs,
        initial_epoch,
        batch_size: 8,
        verbose: 0,
        seed: Some(7),
        ..Default::default()
    };
    let mut straight = model(1);
    straight.fit(&x, &y, opts(4, 0)).unwrap();

    let path = tmp("ckpt.safetensors");
    let mut first = model(1);
    first.fit(&x, &y, opts(2, 0)).unwrap();
    first.save_checkpoint(&path, 2).unwrap();
    let mut resumed = model(5);
    let epoch = resumed.load_checkpoint(&path).unwrap();
    assert_eq!(epoch, 2);
    resumed.fit(&x, &y, opts(4, epoch)).unwrap();
    for (name, t) in straight.state_dict().iter() {
        let r = resumed.state_dict();
        let u = r.get(name).unwrap();
        let same = t.data().iter().zip(u.data()).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name} differs after resume");
    }
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let mut m = model(1);
    let err = m.load_weights("/nonexistent/weights.safetensors").unwrap_err().to_string();
    assert!(err.contains("/nonexistent/weights.safetensors"), "{err}");
}

#[test]
fn separate_activation_layers_give_pytorch_indices() {
    let m = Sequential::<f32>::new().add(Dense::new(3, 4)).add(nn::Relu).add(Dense::new(4, 2)).add(nn::Softmax);
    let names: Vec<String> = m.state_dict().keys().cloned().collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
}
