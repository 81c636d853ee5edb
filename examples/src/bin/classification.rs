//! The MNIST walkthrough: a 784-128-64-10 network (ReLU, softmax) trained by Adam on the
//! real MNIST files, evaluated on the 10,000 test images.
//!
//! ```text
//! cargo run --release -p examples --bin classification
//! cargo run --release -p examples --bin classification -- --hidden 64 --epochs 5
//! cargo run --release -p examples --bin classification -- --save mnist.safetensors --plot mnist.svg
//! cargo run --release -p examples --bin classification -- --load mnist.safetensors --show 5
//! ```

use clap::{Command, Parser};
use examples::classification::{classify_saved, parse_hidden, run, Config};
use examples::cli::{self, CommandExt, DataArgs, FitArgs, OptimArgs, OutputArgs, Real, WeightsArgs, Widths};
use examples::out;
use examples::progress::Verbosity;
use std::process::ExitCode;

/// MNIST walkthrough: a 784-128(ReLU)-64(ReLU)-10(softmax) network trained by Adam on the
/// categorical cross-entropy (batch 32, validation split 0.2, 10 epochs), then evaluated on
/// the 10,000 test images: accuracy, per-class precision/recall/F1 and the confusion matrix.
/// With --load, classifies test images with saved weights instead of training.
#[derive(Parser, Debug)]
#[command(name = "classification", version)]
struct Args {
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    optim: OptimArgs,
    /// Hidden layer widths, e.g. 64 or 128,64 or 784-64-10 (none: no hidden layer)
    #[arg(long, value_name = "W,W..", value_parser = |s: &str| parse_hidden(s).map(Widths))]
    hidden: Widths,
    /// Fraction of the training images held out for validation (the last ones, as Keras), in [0, 1)
    #[arg(long, value_name = "F", value_parser = |s: &str| Real::UnitFromZero.parse(s), allow_hyphen_values = true)]
    validation_split: f64,
    /// Batch size of the validation pass [default: the batch size, as Keras]
    #[arg(long, value_name = "N", value_parser = cli::positive_int, allow_negative_numbers = true)]
    validation_batch_size: Option<usize>,
    #[command(flatten)]
    data: DataArgs,
    /// Train on the first N training images only (at least 2) [default: all]
    #[arg(long, value_name = "N", value_parser = cli::positive_int, allow_negative_numbers = true)]
    train_limit: Option<usize>,
    /// Evaluate on the first N test images only [default: all]
    #[arg(long, value_name = "N", value_parser = cli::positive_int, allow_negative_numbers = true)]
    test_limit: Option<usize>,
    #[command(flatten)]
    weights: WeightsArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// With --load: test images to draw as ASCII art [default: 5]
    #[arg(long, value_name = "N", value_parser = cli::natural, requires = "load", allow_negative_numbers = true)]
    show: Option<usize>,
    /// With --load: index of the first test image to draw [default: 0]
    #[arg(long, value_name = "I", value_parser = cli::natural, requires = "load", allow_negative_numbers = true)]
    first: Option<usize>,
}

/// The flags that only make sense when training, refused with --load.
const TRAINING_ONLY: [&str; 10] = [
    "epochs",
    "batch_size",
    "log_every",
    "lr",
    "seed",
    "hidden",
    "validation_split",
    "validation_batch_size",
    "train_limit",
    "plot",
];

/// The defaults of the shared flags (the walkthrough's, `Config::default()`), and --load
/// refusing the training flags.
fn setup(c: Command) -> Command {
    let d = Config::default();
    let c = FitArgs::defaults(c, d.epochs, d.batch_size, 1);
    let c = OptimArgs::defaults(c, d.lr, d.seed);
    let mut c = DataArgs::defaults(c, &d.data_dir)
        .default_of("hidden", Widths(d.hidden.clone()))
        .default_of("validation_split", d.validation_split);
    for id in TRAINING_ONLY {
        c = c.mut_arg(id, |a| a.conflicts_with("load"));
    }
    c
}

fn main() -> ExitCode {
    cli::run_main("classification", || {
        let a: Args = cli::parse(setup)?;
        if let Some(model) = &a.weights.load {
            let (show, first) = (a.show.unwrap_or(5), a.first.unwrap_or(0));
            out!("{}", classify_saved(model, &a.data.data_dir, a.test_limit, first, show)?)?;
            return Ok(());
        }
        let cfg = Config {
            data_dir: a.data.data_dir,
            epochs: a.fit.epochs,
            batch_size: a.fit.batch_size,
            lr: a.optim.lr,
            hidden: a.hidden.0,
            seed: a.optim.seed,
            validation_split: a.validation_split,
            validation_batch_size: a.validation_batch_size,
            train_limit: a.train_limit,
            test_limit: a.test_limit,
            save: a.weights.save,
            plot: a.output.plot,
            verbosity: Verbosity::from_options(a.fit.log_every, a.output.quiet),
        };
        out!("{}", run(&cfg)?)?;
        Ok(())
    })
}
