//! The MNIST walkthrough in a short mode: one epoch on 10,000 images, and the
//! save -> load -> classify round trip.

mod common;

use examples::classification::{ascii_art, classify_saved, load_model, parse_hidden, run, Config};
use examples::progress::Verbosity;

#[test]
fn one_epoch_on_10000_images_beats_90_percent() {
    let cfg = Config {
        epochs: 1,
        train_limit: Some(10_000),
        validation_split: 0.0,
        verbosity: Verbosity::Silent,
        ..Config::default()
    };
    let r = run(&cfg).unwrap();
    assert_eq!((r.n_train, r.n_val, r.n_test), (10_000, 0, 10_000));
    assert_eq!(r.architecture, "784-128-64-10");
    assert_eq!(r.num_parameters, 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
    // A Keras run of this setup reaches about 91-92%; an untrained network about 10%.
    assert!(r.test_accuracy > 0.90, "test accuracy {}", r.test_accuracy);
    assert!(r.test_loss < 0.4, "test loss {}", r.test_loss);
    assert_eq!(r.confusion.total(), 10_000);
    assert_eq!(r.confusion.support(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert!((r.report.accuracy - r.test_accuracy).abs() < 1e-12);
    assert!(r.report.per_class.iter().all(|c| c.f1 > 0.8), "{}", r.report);
    let train_acc = r.history.last("accuracy").unwrap();
    assert!(train_acc > 0.8, "training accuracy {train_acc}");
}

#[test]
fn save_load_classify_round_trip_and_plot() {
    let dir = common::TempDir::new("mnist-round-trip");
    let (model_path, plot_path) = (dir.path("mnist.safetensors"), dir.path("curves.svg"));
    let cfg = Config {
        epochs: 2,
        hidden: vec![32],
        train_limit: Some(3_000),
        test_limit: Some(1_000),
        verbosity: Verbosity::Silent,
        save: Some(model_path.clone()),
        plot: Some(plot_path.clone()),
        ..Config::default()
    };
    let r = run(&cfg).unwrap();
    assert_eq!((r.n_train, r.n_val, r.n_test), (2_400, 600, 1_000));
    assert!(r.history.get("val_accuracy").is_some_and(|v| v.len() == 2));
    assert!(r.test_accuracy > 0.8, "test accuracy {}", r.test_accuracy);
    common::assert_svg(&plot_path, "val_loss");

    let c = classify_saved(&model_path, &cfg.data_dir, Some(1_000), 995, 10).unwrap();
    assert_eq!(c.architecture, "784-32-10");
    assert_eq!(c.predictions, r.test_predictions, "the loaded model predicts differently");
    assert!((c.accuracy - r.test_accuracy).abs() < 1e-12);
    // Images 995..1005: the first five come from the batch, the rest one by one.
    assert_eq!(c.shown.iter().map(|p| p.index).collect::<Vec<_>>(), (995..1005).collect::<Vec<_>>());
    for p in &c.shown[..5] {
        assert_eq!(p.predicted, r.test_predictions[p.index]);
    }
    for p in &c.shown {
        let sum: f32 = p.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4 && p.pixels.len() == 784);
    }
    let text = c.to_string();
    assert!(text.contains("test image #995") && text.contains("prediction:") && text.contains("label:"), "{text}");

    // The names and layouts of torch.nn.Sequential(Linear(784, 32), ReLU(), Linear(32, 10)); a
    // file with the names written before (one index per Dense) loads the same; a corrupt file
    // is an error naming it.
    let sd = nn::io::load_safetensors::<f32>(&model_path).unwrap();
    assert_eq!(sd.keys().collect::<Vec<_>>(), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_eq!(sd["0.weight"].shape(), [32, 784]);
    let old: nn::StateDict<f32> = sd.iter().map(|(k, t)| (k.replacen("2.", "1.", 1), t.clone())).collect();
    let old_path = dir.path("old-names.safetensors");
    nn::io::save_safetensors(&old_path, &old, &[]).unwrap();
    let (mut old_model, arch) = load_model(&old_path, 784, 10).unwrap();
    let (mut new_model, _) = load_model(&model_path, 784, 10).unwrap();
    assert_eq!(arch, "784-32-10");
    assert_eq!(old_model.state_dict(), new_model.state_dict());
    let probe = nn::Tensor::<f32>::zeros([1, 784]);
    assert_eq!(old_model.predict(&probe).unwrap(), new_model.predict(&probe).unwrap());
    let bad = dir.path("bad.safetensors");
    std::fs::write(&bad, &std::fs::read(&model_path).unwrap()[..1000]).unwrap();
    let e = load_model(&bad, 784, 10).err().expect("a truncated model must not load").to_string();
    assert!(e.contains("bad.safetensors"), "{e}");
    let e = load_model(&model_path, 100, 10).err().expect("wrong input width").to_string();
    assert!(e.contains("input width 784 should be 100"), "{e}");
}

#[test]
fn missing_and_corrupt_data_files_are_named() {
    let dir = common::TempDir::new("mnist-bad");
    let cfg = Config { data_dir: dir.0.clone(), verbosity: Verbosity::Silent, ..Config::default() };
    let e = run(&cfg).expect_err("no data").to_string();
    assert!(e.contains("train-images-idx3-ubyte.gz") && e.contains("cannot read"), "{e}");
    let good = std::fs::read(Config::default().data_dir.join("train-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(dir.path("train-images-idx3-ubyte.gz"), &good[..5000]).unwrap();
    let e = run(&cfg).expect_err("truncated data").to_string();
    assert!(e.contains("train-images-idx3-ubyte.gz") && e.contains("corrupt gzip"), "{e}");
}

#[test]
fn hidden_sizes_parse() {
    assert_eq!(parse_hidden("128,64").unwrap(), [128, 64]);
    assert_eq!(parse_hidden("64").unwrap(), [64]);
    assert_eq!(parse_hidden("784-64-10").unwrap(), [64]);
    assert_eq!(parse_hidden("784-10").unwrap(), Vec::<usize>::new());
    assert_eq!(parse_hidden("none").unwrap(), Vec::<usize>::new());
    assert!(parse_hidden("128,x").is_err() && parse_hidden("0").is_err() && parse_hidden("784-64").is_err());
}

#[test]
fn ascii_art_maps_ink_to_characters() {
    let art = ascii_art(&[0, 255, 128, 0], 2, 2);
    assert_eq!(art, ["  @@", "==  "]);
}
