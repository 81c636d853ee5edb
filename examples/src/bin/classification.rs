//! The MNIST walkthrough: a 784-128-64-10 network (ReLU, softmax) trained by Adam on the
//! real MNIST files, evaluated on the 10,000 test images.
//!
//! ```text
//! cargo run --release -p examples --bin classification
//! cargo run --release -p examples --bin classification -- --hidden 64 --epochs 5
//! cargo run --release -p examples --bin classification -- --save mnist.safetensors --plot mnist.svg
//! cargo run --release -p examples --bin classification -- --load mnist.safetensors --show 5
//! ```

use examples::classification::{classify_saved, parse_hidden, run, Config};
use examples::cli::{Cli, Opt};
use examples::progress::Verbosity;
use std::path::PathBuf;

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("classification: error: {e}");
    std::process::exit(1)
}

fn main() {
    let d = Config::default();
    let cli = Cli::parse(
        "MNIST walkthrough: a 784-128(ReLU)-64(ReLU)-10(softmax) network trained by Adam on the categorical\n\
         cross-entropy (batch 32, validation split 0.2, 10 epochs), then evaluated on the 10,000 test images:\n\
         accuracy, per-class precision/recall/F1 and the confusion matrix.\n\
         With --load, classifies test images with saved weights instead of training.",
        &[
            Opt { name: "epochs", value: "N", help: "training epochs (default 10)" },
            Opt { name: "batch-size", value: "N", help: "mini-batch size (default 32)" },
            Opt { name: "lr", value: "RATE", help: "Adam learning rate (default 0.001)" },
            Opt {
                name: "hidden",
                value: "W,W..",
                help: "hidden layer widths, e.g. 64 or 128,64 or 784-64-10 (default 128,64)",
            },
            Opt { name: "seed", value: "N", help: "seed of the initial weights and shuffling (default 42)" },
            Opt { name: "validation-split", value: "F", help: "fraction of training images held out (default 0.2)" },
            Opt {
                name: "validation-batch-size",
                value: "N",
                help: "batch size of the validation pass (default: the batch size, as Keras)",
            },
            Opt {
                name: "data-dir",
                value: "DIR",
                help: "directory of the four MNIST .gz files (default examples/data/mnist)",
            },
            Opt { name: "train-limit", value: "N", help: "train on the first N training images only" },
            Opt { name: "test-limit", value: "N", help: "evaluate on the first N test images only" },
            Opt { name: "save", value: "PATH", help: "save the trained weights (safetensors)" },
            Opt { name: "plot", value: "PATH.svg", help: "write the learning curves as SVG" },
            Opt { name: "quiet", value: "", help: "no progress output, only the results" },
            Opt { name: "load", value: "PATH", help: "do not train: load saved weights and classify test images" },
            Opt { name: "show", value: "N", help: "with --load: test images to draw as ASCII art (default 5)" },
            Opt { name: "first", value: "I", help: "with --load: index of the first test image to draw (default 0)" },
        ],
    );
    let data_dir: PathBuf = cli.get("data-dir", d.data_dir.clone());
    let test_limit = cli.get_opt::<usize>("test-limit");
    if let Some(model) = cli.get_opt::<PathBuf>("load") {
        let (show, first) = (cli.get("show", 5usize), cli.get("first", 0usize));
        match classify_saved(&model, &data_dir, test_limit, first, show) {
            Ok(c) => print!("{c}"),
            Err(e) => fail(e),
        }
        return;
    }
    if cli.get_opt::<String>("show").is_some() || cli.get_opt::<String>("first").is_some() {
        cli.error("--show and --first go with --load");
    }
    let hidden = match cli.get_opt::<String>("hidden") {
        Some(s) => parse_hidden(&s).unwrap_or_else(|e| cli.error(&format!("--hidden: {e}"))),
        None => d.hidden.clone(),
    };
    let cfg = Config {
        data_dir,
        epochs: cli.get("epochs", d.epochs),
        batch_size: cli.get("batch-size", d.batch_size),
        lr: cli.get("lr", d.lr),
        hidden,
        seed: cli.get("seed", d.seed),
        validation_split: cli.get("validation-split", d.validation_split),
        validation_batch_size: cli.get_opt("validation-batch-size"),
        train_limit: cli.get_opt("train-limit"),
        test_limit,
        save: cli.get_opt("save"),
        plot: cli.get_opt("plot"),
        verbosity: Verbosity::from_options(1, cli.flag("quiet")),
    };
    if cfg.epochs == 0 || cfg.batch_size == 0 || cfg.validation_batch_size == Some(0) {
        cli.error("--epochs, --batch-size and --validation-batch-size must be positive");
    }
    if cfg.lr.is_nan() || cfg.lr <= 0.0 {
        cli.error("--lr must be positive");
    }
    if !(0.0..1.0).contains(&cfg.validation_split) {
        cli.error("--validation-split must be in [0, 1)");
    }
    match run(&cfg) {
        Ok(report) => print!("{report}"),
        Err(e) => fail(e),
    }
}
