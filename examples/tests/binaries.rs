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

const BACKPROP: &str = env!("CARGO_BIN_EXE_backprop_by_hand");

/// The shared flags, and which binaries take them.
const TRAINING: [&str; 4] = [REGRESSION, CLASSIFICATION, DIABETES, BACKPROP];

/// The option entries of a `--help` text: each `-x, --name` / `--name` line with the lines
/// of its description, as one string.
fn help_entries(help: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    let mut in_options = false;
    for line in help.lines() {
        if line == "Options:" {
            in_options = true;
            continue;
        }
        if !in_options {
            continue;
        }
        if line.trim_start().starts_with('-') && line.starts_with("  ") && line.len() - line.trim_start().len() <= 6 {
            entries.push(line.trim().to_string());
        } else if let Some(last) = entries.last_mut() {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    entries
}

#[test]
fn help_lists_every_flag_with_its_default() {
    for (bin, options) in [
        (REGRESSION, &["--epochs", "--batch-size", "--lr", "--seed", "--plot", "--predict", "--points", "--quiet"][..]),
        (
            CLASSIFICATION,
            &[
                "--epochs",
                "--batch-size",
                "--lr",
                "--hidden",
                "--seed",
                "--data-dir",
                "--save",
                "--load",
                "--plot",
                "--quiet",
                "--show",
            ],
        ),
        (
            DIABETES,
            &[
                "--epochs",
                "--batch-size",
                "--lr",
                "--hidden",
                "--data-dir",
                "--test-fraction",
                "--l2",
                "--plot",
                "--quiet",
            ],
        ),
        (BACKPROP, &["--loss", "--steps", "--lr", "--seed", "--plot", "--quiet"]),
    ] {
        let out = run(bin, &["--help"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{bin} --help failed");
        for o in options {
            assert!(stdout.contains(o), "{bin} --help does not mention {o}:\n{stdout}");
        }
        let entries = help_entries(&stdout);
        assert!(entries.len() > options.len(), "{bin}: {entries:#?}");
        for e in &entries {
            let own = e.starts_with("-h, --help") || e.starts_with("-V, --version");
            assert!(own || e.contains("[default: "), "{bin}: no default in `{e}`");
        }
        let out = run(bin, &["--version"]);
        assert!(out.status.success() && text(&out.stdout).contains("0.1"), "{bin} --version");
        let out = run(bin, &["--no-such-option"]);
        assert_eq!(out.status.code(), Some(2), "{bin}: an unknown option is a usage error");
        assert!(text(&out.stderr).contains("--no-such-option"));
    }
}

/// Asserts a usage error (status 2) whose message names `flag`, with no panic and no
/// training output.
fn assert_usage_error(bin: &str, args: &[&str], flag: &str, needle: &str) {
    let out = run(bin, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {err}");
    assert!(err.contains(flag) && err.contains(needle), "{bin} {args:?}: expected {flag} and {needle:?} in: {err}");
    assert!(!err.contains("panicked") && !text(&out.stdout).contains("Epoch"), "{bin} {args:?}: {err}");
}

#[test]
fn bad_flag_values_are_usage_errors_naming_the_flag() {
    for bin in TRAINING {
        for lr in ["inf", "-inf", "NaN", "nan", "0", "-1", "abc", "1e400"] {
            assert_usage_error(bin, &["--lr", lr], "--lr", "finite number greater than 0");
        }
        assert_usage_error(bin, &["--seed", "-1"], "--seed", "whole number from 0 to 18446744073709551615");
        assert_usage_error(bin, &["--plot"], "--plot", "value is required");
    }
    for bin in [REGRESSION, CLASSIFICATION, DIABETES] {
        for flag in ["--epochs", "--batch-size", "--log-every"] {
            assert_usage_error(bin, &[flag, "0"], flag, "at least 1");
            assert_usage_error(bin, &[flag, "-3"], flag, "at least 1");
            assert_usage_error(bin, &[flag, "2.5"], flag, "not a whole number");
        }
    }
    assert_usage_error(BACKPROP, &["--steps", "0"], "--steps", "at least 1");
    assert_usage_error(BACKPROP, &["--loss", "hinge"], "--loss", "possible values: ce, bce, mse");
    assert_usage_error(REGRESSION, &["--predict", "inf"], "--predict", "finite number");
    assert_usage_error(REGRESSION, &["--points", "1"], "--points", "at least 2");
    for l2 in ["-1", "NaN", "inf"] {
        assert_usage_error(DIABETES, &["--l2", l2], "--l2", "0 or more");
    }
    for f in ["0", "1", "NaN", "-0.5"] {
        assert_usage_error(DIABETES, &["--test-fraction", f], "--test-fraction", "between 0 and 1");
    }
    assert_usage_error(DIABETES, &["--hidden", "32,0"], "--hidden", "invalid layer width '0'");
    for v in ["1", "NaN", "-0.1"] {
        assert_usage_error(CLASSIFICATION, &["--validation-split", v], "--validation-split", "from 0");
    }
    assert_usage_error(CLASSIFICATION, &["--hidden", "784-64"], "--hidden", "does not end with 10");
    assert_usage_error(CLASSIFICATION, &["--train-limit", "1"], "--train-limit", "at least 2");
    assert_usage_error(CLASSIFICATION, &["--validation-batch-size", "0"], "--validation-batch-size", "at least 1");
    assert_usage_error(CLASSIFICATION, &["--show", "3"], "--load", "required");
    assert_usage_error(CLASSIFICATION, &["--load", "m.safetensors", "--epochs", "3"], "--epochs", "cannot be used");
    assert_usage_error(CLASSIFICATION, &["--load", "m", "--save", "n"], "--save", "cannot be used");
    assert_usage_error(CLASSIFICATION, &["--save", "same.x", "--plot", "same.x"], "--plot", "same file");
    assert_usage_error(REGRESSION, &["--save", "m"], "--save", "unexpected argument");
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_are_paths() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = common::TempDir::new("bin-non-utf8");
    let odd = dir.0.join(OsStr::from_bytes(b"data-\xff\xfe"));
    let out = Command::new(CLASSIFICATION).arg("--data-dir").arg(&odd).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("train-images-idx3-ubyte.gz") && err.contains("No such file"), "{err}");
    let plot = dir.0.join(OsStr::from_bytes(b"curve-\xff.svg"));
    let out = Command::new(REGRESSION).args(["--epochs", "2", "--quiet", "--plot"]).arg(&plot).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    common::assert_svg(&plot, "Learning curve");
    // A flag's value that is not UTF-8 where a number is expected is a usage error.
    let out = Command::new(REGRESSION).arg("--lr").arg(OsStr::from_bytes(b"\xff")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("panicked"));
}

#[test]
fn sizes_that_cannot_fit_in_memory_are_refused_before_allocating() {
    for (bin, args, flag) in [
        (CLASSIFICATION, &["--hidden", "100000000"][..], "--hidden 100000000"),
        (CLASSIFICATION, &["--hidden", "1000000000000,1000000000000"][..], "--hidden 1000000000000,1000000000000"),
        (DIABETES, &["--hidden", "100000000000"][..], "--hidden 100000000000"),
        (REGRESSION, &["--points", "100000000000000"][..], "--points 100000000000000"),
        (REGRESSION, &["--points", "18446744073709551615"][..], "--points 18446744073709551615"),
        (BACKPROP, &["--steps", "100000000000000000"][..], "--steps 100000000000000000"),
    ] {
        let t = std::time::Instant::now();
        assert_usage_error(bin, args, flag, "bytes) of memory, more than");
        assert!(t.elapsed().as_secs() < 5, "{bin} {args:?} took {:?}", t.elapsed());
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A tensor of a test weights file: name, shape, and the value of every element.
type Spec<'a> = (&'a str, &'a [usize], f32);

/// Writes a safetensors file of the named tensors.
fn weights_file(path: &std::path::Path, tensors: &[Spec]) {
    let mut sd = nn::StateDict::<f32>::new();
    for &(name, shape, fill) in tensors {
        let n = shape.iter().product();
        sd.insert(name.to_string(), autograd::Tensor::from_vec(vec![fill; n], shape).unwrap());
    }
    nn::io::save_safetensors(path, &sd, &[]).unwrap();
}

#[test]
fn bad_weights_files_are_refused_naming_the_file_and_the_tensor() {
    let dir = common::TempDir::new("bin-bad-weights");
    let cases: [(&str, &[Spec], &str); 7] = [
        // A zero-width layer used to panic in the initializer ("GlorotUniform: fan is zero").
        (
            "zero-width",
            &[("0.weight", &[0, 784], 0.1), ("0.bias", &[0], 0.0)],
            "`0.weight` has shape [0, 784]: a layer of 0 units",
        ),
        (
            "zero-hidden",
            &[("0.weight", &[0, 784], 0.1), ("0.bias", &[0], 0.0), ("1.weight", &[10, 0], 0.1), ("1.bias", &[10], 0.0)],
            "`0.weight` has shape [0, 784]",
        ),
        ("nan", &[("0.weight", &[10, 784], f32::NAN), ("0.bias", &[10], 0.0)], "`0.weight` holds NaN at [0, 0]"),
        ("inf-bias", &[("0.weight", &[10, 784], 0.1), ("0.bias", &[10], f32::INFINITY)], "`0.bias` holds inf at [0]"),
        (
            "five-classes",
            &[("0.weight", &[5, 784], 0.1), ("0.bias", &[5], 0.0)],
            "5 outputs, but the data has 10 classes",
        ),
        ("wrong-input", &[("0.weight", &[10, 100], 0.1), ("0.bias", &[10], 0.0)], "input width 100 should be 784"),
        ("no-bias", &[("0.weight", &[10, 784], 0.1)], "`0.bias` is missing"),
    ];
    for (name, tensors, needle) in cases {
        let path = dir.path(&format!("{name}.safetensors"));
        weights_file(&path, tensors);
        let out = run(CLASSIFICATION, &["--load", path.to_str().unwrap(), "--test-limit", "10"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(&format!("{name}.safetensors")) && err.contains(needle), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let extra = dir.path("extra.safetensors");
    weights_file(&extra, &[("0.weight", &[10, 784], 0.1), ("0.bias", &[10], 0.0), ("optimizer.m", &[3], 0.0)]);
    let out = run(CLASSIFICATION, &["--load", extra.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("unexpected tensor `optimizer.m`"), "{}", text(&out.stderr));

    // MNIST files of n x 0 x 0 images: named, no panic.
    let data = common::TempDir::new("bin-empty-images");
    let idx = b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    let labels = b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02".to_vec();
    for (images, label_file) in [
        ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    ] {
        std::fs::write(data.path(images), &idx).unwrap();
        std::fs::write(data.path(label_file), &labels).unwrap();
    }
    let d = data.0.to_str().unwrap();
    let out = run(CLASSIFICATION, &["--data-dir", d, "--load", extra.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("t10k-images-idx3-ubyte.gz: the images have 0 x 0 pixels"), "{err}");
    let out = run(CLASSIFICATION, &["--data-dir", d]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("train-images-idx3-ubyte.gz: the images have 0 x 0 pixels") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn a_diverging_run_fails_naming_epoch_and_step_and_saves_nothing() {
    let dir = common::TempDir::new("bin-diverge");
    let model = dir.path("good.safetensors");
    let plot = dir.path("curves.svg");
    let (m, p) = (model.to_str().unwrap(), plot.to_str().unwrap());
    let out = run(
        CLASSIFICATION,
        &["--epochs", "1", "--hidden", "16", "--train-limit", "500", "--test-limit", "100", "--quiet", "--save", m],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let good = std::fs::read(&model).unwrap();

    let out = run(
        CLASSIFICATION,
        &["--lr", "1e30", "--epochs", "2", "--hidden", "16", "--train-limit", "2000", "--save", m, "--plot", p],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("training diverged: the loss became NaN at epoch 1, step "), "{err}");
    assert!(err.contains("try a smaller --lr (e.g. 1e29)"), "{err}");
    assert_eq!(std::fs::read(&model).unwrap(), good, "a diverged run overwrote the saved weights");
    assert!(!plot.exists());
    assert_eq!(dir.entries(), ["good.safetensors"]);
    // Without --quiet the progress up to the failure is printed, and the error follows it.
    assert!(text(&out.stdout).contains("Epoch 1/2") && !text(&out.stdout).contains("Test set"));

    for (bin, args, needle) in [
        (REGRESSION, &["--lr", "100", "--plot", p][..], "the loss became inf at epoch 3, step 1 of 4"),
        (DIABETES, &["--lr", "1e10", "--quiet", "--plot", p][..], "the loss became inf at epoch 1, step 2 of 12"),
        (BACKPROP, &["--loss", "bce", "--lr", "1e10", "--plot", p][..], "the loss became NaN at step 2 of 1000"),
    ] {
        let out = run(bin, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bin}: {err}");
        assert!(err.contains(needle) && err.contains("smaller --lr"), "{bin}: {err}");
        assert!(!err.contains("panicked") && !plot.exists(), "{bin}: {err}");
    }
}

/// A pipe's writing end whose reading end is already closed: every write to it fails with
/// `EPIPE`, from the first, whatever the timing (with `Stdio::piped()` and closing the reading
/// end after the spawn, a fast child could fill the pipe before the close). Made of a FIFO,
/// so no `unsafe` and no dependency.
#[cfg(unix)]
fn pipe_without_reader(dir: &common::TempDir) -> std::fs::File {
    let fifo = dir.path("fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::File::open(fifo).unwrap())
    };
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    drop(reader.join().unwrap());
    writer
}

#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_quietly_with_the_sigpipe_status() {
    let dir = common::TempDir::new("bin-closed-pipe");
    for (bin, args) in [
        (REGRESSION, &["--epochs", "2"][..]),
        (DIABETES, &["--epochs", "2"][..]),
        (CLASSIFICATION, &["--epochs", "1", "--train-limit", "500", "--test-limit", "100"][..]),
        (CLASSIFICATION, &["--epochs", "1", "--train-limit", "500", "--test-limit", "100", "--quiet"][..]),
        (BACKPROP, &["--steps", "10"][..]),
        (REGRESSION, &["--help"][..]),
    ] {
        let out = Command::new(bin).args(args).stdout(pipe_without_reader(&dir)).output().unwrap();
        assert_eq!(out.status.code(), Some(141), "{bin} {args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{bin} {args:?}");
    }
    // The same as a shell runs it: `classification | head -1` prints one line, status 141.
    let mut child = Command::new(CLASSIFICATION)
        .args(["--epochs", "3", "--train-limit", "2000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("MNIST from"), "{first}");
    assert_eq!((out.status.code(), text(&out.stderr).as_str()), (Some(141), ""));
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_on_stdout_is_an_error_message() {
    for (bin, args) in [
        (REGRESSION, &["--epochs", "2"][..]),
        (DIABETES, &["--epochs", "2", "--quiet"][..]),
        (CLASSIFICATION, &["--epochs", "1", "--train-limit", "500", "--test-limit", "100"][..]),
        (BACKPROP, &["--steps", "10"][..]),
        (DIABETES, &["--help"][..]),
    ] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = Command::new(bin).args(args).stdout(full).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bin} {args:?}: {err}");
        assert!(err.contains("cannot write to standard output: No space left on device"), "{bin}: {err}");
        assert!(!err.contains("panicked"), "{bin}: {err}");
    }
}

#[test]
fn unwritable_destinations_are_refused_before_training() {
    let dir = common::TempDir::new("bin-unwritable");
    let missing = dir.path("no/such/dir/out.svg");
    let long = dir.path(&format!("{}.svg", "x".repeat(300)));
    let existing_dir = dir.0.to_str().unwrap().to_string();
    for (bin, extra) in [
        (REGRESSION, &[][..]),
        (DIABETES, &[][..]),
        (BACKPROP, &[][..]),
        (CLASSIFICATION, &["--train-limit", "500"][..]),
    ] {
        for (dest, needle) in [
            (missing.to_str().unwrap(), "No such file or directory"),
            (long.to_str().unwrap(), "File name too long"),
            (existing_dir.as_str(), "it is a directory"),
        ] {
            let mut args = extra.to_vec();
            args.extend(["--plot", dest]);
            let t = std::time::Instant::now();
            let out = run(bin, &args);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{bin} {args:?}: {err}");
            assert!(err.contains("cannot be written") && err.contains(needle), "{bin} {args:?}: {err}");
            assert!(!text(&out.stdout).contains("Epoch") && !text(&out.stdout).contains("Training"), "{bin}");
            assert!(t.elapsed().as_secs() < 5, "{bin} {args:?}: checked only after training?");
        }
    }
    let out = run(CLASSIFICATION, &["--save", missing.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(err.contains("out.svg: cannot be written") && out.status.code() == Some(1), "{err}");
    assert!(!text(&out.stdout).contains("MNIST from"), "the save path is checked before the data is read");
    // A name of 255 bytes, the limit, is fine: the temporary name no longer adds to it.
    let at_limit = dir.path(&format!("{}.svg", "y".repeat(251)));
    let out = run(REGRESSION, &["--epochs", "1", "--quiet", "--plot", at_limit.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    common::assert_svg(&at_limit, "Learning curve");
}
