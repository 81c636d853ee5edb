//! A real regression data set, scikit-learn's diabetes data (442 patients x 10 features):
//! standardised features, a train/test split, a linear model vs an MLP, test MSE and R².
//!
//! ```text
//! cargo run --release -p examples --bin diabetes
//! cargo run --release -p examples --bin diabetes -- --hidden 32,16 --l2 0 --epochs 300 --plot diabetes.svg
//! ```

use clap::{Command, Parser};
use examples::cli::{self, CommandExt, DataArgs, FitArgs, OptimArgs, OutputArgs, Real, Widths};
use examples::diabetes::{run, Config};
use examples::out;
use examples::progress::Verbosity;
use std::process::ExitCode;

/// Diabetes regression (scikit-learn's data, 442 patients x 10 features): standardised
/// features, an 80/20 train/test split, a linear model and an MLP trained by Adam on the mean
/// squared error; reports test MSE and R^2 of both beside the closed-form least-squares fit.
#[derive(Parser, Debug)]
#[command(name = "diabetes", version)]
struct Args {
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    optim: OptimArgs,
    /// Hidden layer widths of the MLP, e.g. 64 or 32,16 (none: no hidden layer)
    #[arg(long, value_name = "W,W..", value_parser = Widths::parse)]
    hidden: Widths,
    /// L2 penalty on the MLP's kernels: a finite number, 0 or more (0: none)
    #[arg(long, value_name = "A", value_parser = |s: &str| Real::NonNegative.parse(s), allow_hyphen_values = true)]
    l2: f64,
    /// Fraction of the patients held out for testing, strictly between 0 and 1
    #[arg(long, value_name = "F", value_parser = |s: &str| Real::OpenUnit.parse(s), allow_hyphen_values = true)]
    test_fraction: f64,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// The defaults of the shared flags: the walkthrough's (`Config::default()`).
fn setup(c: Command) -> Command {
    let d = Config::default();
    let c = FitArgs::defaults(c, d.epochs, d.batch_size, 25);
    let c = OptimArgs::defaults(c, d.lr, d.seed);
    DataArgs::defaults(c, &d.data_dir)
        .default_of("hidden", Widths(d.hidden.clone()))
        .default_of("l2", d.l2)
        .default_of("test_fraction", d.test_fraction)
}

fn main() -> ExitCode {
    cli::run_main("diabetes", || {
        let a: Args = cli::parse(setup)?;
        let cfg = Config {
            data_dir: a.data.data_dir,
            test_fraction: a.test_fraction,
            epochs: a.fit.epochs,
            batch_size: a.fit.batch_size,
            lr: a.optim.lr,
            hidden: a.hidden.0,
            l2: a.l2,
            seed: a.optim.seed,
            plot: a.output.plot,
            verbosity: Verbosity::from_options(a.fit.log_every, a.output.quiet),
        };
        out!("{}", run(&cfg)?)?;
        Ok(())
    })
}
