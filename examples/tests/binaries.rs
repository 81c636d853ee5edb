//! The binaries themselves: `--help`, clear errors for bad data files, and short runs.

mod common;

use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const REGRESSION: &str = env!("CARGO_BIN_EXE_regression");
const CLASSIFICATION: &str = env!("CARGO_BIN_EXE_classification");
const DIABETES: &str = env!("CARGO_BIN_EXE_diabetes");

#[test]
fn help_lists_the_options() {
    for (bin, options) in [
        (REGRESSION, &["--epochs", "--lr", "--seed", "--plot", "--predict"][..]),
        (
            CLASSIFICATION,
            &["--epochs", "--batch-size", "--lr", "--hidden", "--seed", "--data-dir", "--save", "--load", "--plot"],
        ),
        (DIABETES, &["--epochs", "--hidden", "--data-dir", "--test-fraction", "--plot"]),
    ] {
        let out = run(bin, &["--help"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{bin} --help failed");
        for o in options {
            assert!(stdout.contains(o), "{bin} --help does not mention {o}:\n{stdout}");
        }
        let out = run(bin, &["--no-such-option"]);
        assert_eq!(out.status.code(), Some(2), "{bin}: an unknown option is a usage error");
        assert!(text(&out.stderr).contains("--no-such-option"));
    }
}

#[test]
fn missing_or_corrupt_mnist_fails_naming_the_file() {
    let dir = common::TempDir::new("bin-mnist");
    let d = dir.0.to_str().unwrap();
    let out = run(CLASSIFICATION, &["--data-dir", d]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("train-images-idx3-ubyte.gz") && err.contains("No such file"), "{err}");
    assert!(!err.contains("panicked") && !text(&out.stdout).contains("Epoch"), "{err}");

    // A label file that is not IDX at all: the test files are read first with --load.
    std::fs::write(
        dir.path("t10k-images-idx3-ubyte.gz"),
        b"\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x02abcd",
    )
    .unwrap();
    std::fs::write(dir.path("t10k-labels-idx1-ubyte.gz"), b"this is not an IDX file").unwrap();
    let out = run(CLASSIFICATION, &["--data-dir", d, "--load", "model.safetensors"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("t10k-labels-idx1-ubyte.gz") && err.contains("bad magic number"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_or_corrupt_diabetes_fails_naming_the_file() {
    let dir = common::TempDir::new("bin-diabetes");
    let d = dir.0.to_str().unwrap();
    let out = run(DIABETES, &["--data-dir", d]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("diabetes_data_raw.csv.gz") && err.contains("No such file"), "{err}");
    std::fs::write(
        dir.path("diabetes_data_raw.csv.gz"),
        "59 2 32.1 101 157 93.2 38 4 4.8598 87\n48 1 oops 87 183 103.2 70 3 3.8918 69\n",
    )
    .unwrap();
    std::fs::write(dir.path("diabetes_target.csv.gz"), "151\n75\n").unwrap();
    let out = run(DIABETES, &["--data-dir", d]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("diabetes_data_raw.csv.gz line 2") && err.contains("oops"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn regression_prints_the_keras_log_and_writes_the_plot() {
    let dir = common::TempDir::new("bin-regression");
    let plot = dir.path("reg.svg");
    let out = run(REGRESSION, &["--epochs", "20", "--log-every", "10", "--plot", plot.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for needle in [
        "Epoch 1/20",
        "Epoch 10/20",
        "Epoch 20/20",
        "4/4 [==============================]",
        "loss: ",
        "least squares",
        "Prediction for x = 0.75",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("Epoch 2/20"));
    common::assert_svg(&plot, "Data and fitted line");
}

#[test]
fn classification_trains_saves_and_classifies() {
    let dir = common::TempDir::new("bin-mnist-run");
    let (model, plot) = (dir.path("m.safetensors"), dir.path("m.svg"));
    let (model, plot) = (model.to_str().unwrap(), plot.to_str().unwrap());
    let args = [
        "--epochs",
        "1",
        "--hidden",
        "784-32-10",
        "--train-limit",
        "2000",
        "--test-limit",
        "500",
        "--save",
        model,
        "--plot",
        plot,
    ];
    let out = run(CLASSIFICATION, &args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for needle in [
        "Epoch 1/1",
        "50/50 [==============================]",
        "val_accuracy",
        "Test set (500 images)",
        "precision",
        "Confusion matrix",
        "784-32-10",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    common::assert_svg(dir.path("m.svg").as_path(), "accuracy");

    let out = run(CLASSIFICATION, &["--load", model, "--show", "2", "--test-limit", "500"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("test image #0") && stdout.contains("test image #1") && !stdout.contains("test image #2"),
        "{stdout}"
    );
    assert!(stdout.contains("label:      7") && stdout.contains("@@"), "{stdout}");
    assert!(stdout.contains("Model 784-32-10: accuracy on the first 500 test images"), "{stdout}");
}

#[test]
fn diabetes_runs_quietly_and_plots() {
    let dir = common::TempDir::new("bin-diabetes-run");
    let plot = dir.path("d.svg");
    let out = run(DIABETES, &["--epochs", "30", "--quiet", "--plot", plot.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("test R2") && stdout.contains("MLP 10-64-1") && !stdout.contains("Epoch"), "{stdout}");
    common::assert_svg(&plot, "MLP on the test patients");
}

const BACKPROP: &str = env!("CARGO_BIN_EXE_backprop_by_hand");

#[test]
fn backprop_by_hand_passes_the_right_formulas_and_catches_the_wrong_ones() {
    let dir = std::env::temp_dir().join(format!("backprop-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("loss.svg");
    let out = run(BACKPROP, &["--steps", "200", "--plot", svg.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let line = |prefix: &str| stdout.lines().find(|l| l.trim_start().starts_with(prefix)).unwrap_or("").to_string();
    assert!(line("hand-derived formulas").ends_with("PASS"), "{stdout}");
    assert!(line("tape").ends_with("PASS"), "{stdout}");
    // categorical cross-entropy on sigmoid outputs: delta2 = p - y is wrong, and so is summing over k
    assert!(line("textbook: delta2 = p - y").contains("FAIL"), "{stdout}");
    assert!(line("textbook: dW2 sums over k").contains("FAIL"), "{stdout}");
    assert!(stdout.contains("200/200 [=============================="), "Keras-style bar: {stdout}");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    // with binary cross-entropy, p - y is the right output error
    let bce = text(&run(BACKPROP, &["--loss", "bce", "--steps", "10"]).stdout);
    assert!(bce.lines().any(|l| l.contains("textbook: delta2 = p - y") && l.contains("PASS")), "{bce}");
    let bad = run(BACKPROP, &["--loss", "hinge"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("unknown loss 'hinge'"));
    std::fs::remove_dir_all(&dir).unwrap();
}
