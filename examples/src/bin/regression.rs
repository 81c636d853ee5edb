//! The linear-regression walkthrough: one `Dense` unit fitted by SGD to `y = 2x + 1 + noise`,
//! compared with the closed-form least-squares line.
//!
//! ```text
//! cargo run --release -p examples --bin regression
//! cargo run --release -p examples --bin regression -- --epochs 300 --lr 0.05 --plot regression.svg
//! ```

use clap::{Command, Parser};
use examples::cli::{self, CommandExt, FitArgs, OptimArgs, OutputArgs, Real};
use examples::out;
use examples::progress::Verbosity;
use examples::regression::{run, Config};
use std::process::ExitCode;

/// Linear regression walkthrough: x ~ U(0,1), y = 2x + 1 + U(0,1) noise; one Dense unit
/// (linear activation) trained by SGD on the mean squared error, compared with least squares.
#[derive(Parser, Debug)]
#[command(name = "regression", version)]
struct Args {
    #[command(flatten)]
    fit: FitArgs,
    #[command(flatten)]
    optim: OptimArgs,
    /// Number of data points (at least 2)
    #[arg(long, value_name = "N", value_parser = cli::positive_int, allow_negative_numbers = true)]
    points: usize,
    /// The new x to predict after training
    #[arg(long, value_name = "X", value_parser = |s: &str| Real::Finite.parse(s), allow_hyphen_values = true)]
    predict: f64,
    #[command(flatten)]
    output: OutputArgs,
}

/// The defaults of the shared flags: the walkthrough's (`Config::default()`).
fn setup(c: Command) -> Command {
    let d = Config::default();
    let c = FitArgs::defaults(c, d.epochs, d.batch_size, 10);
    OptimArgs::defaults(c, d.lr, d.seed).default_of("points", d.points).default_of("predict", d.new_x)
}

fn main() -> ExitCode {
    cli::run_main("regression", || {
        let a: Args = cli::parse(setup)?;
        let cfg = Config {
            epochs: a.fit.epochs,
            lr: a.optim.lr,
            batch_size: a.fit.batch_size,
            points: a.points,
            seed: a.optim.seed,
            new_x: a.predict,
            plot: a.output.plot,
            verbosity: Verbosity::from_options(a.fit.log_every, a.output.quiet),
        };
        out!("{}", run(&cfg)?)?;
        Ok(())
    })
}
