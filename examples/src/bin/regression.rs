//! The linear-regression walkthrough: one `Dense` unit fitted by SGD to `y = 2x + 1 + noise`,
//! compared with the closed-form least-squares line.
//!
//! ```text
//! cargo run --release -p examples --bin regression
//! cargo run --release -p examples --bin regression -- --epochs 300 --lr 0.05 --plot regression.svg
//! ```

use examples::cli::{Cli, Opt};
use examples::progress::Verbosity;
use examples::regression::{run, Config};

fn main() {
    let d = Config::default();
    let cli = Cli::parse(
        "Linear regression walkthrough: 100 points x ~ U(0,1), y = 2x + 1 + U(0,1) noise; one Dense unit\n\
         (linear activation) trained by SGD on the mean squared error, compared with least squares.",
        &[
            Opt { name: "epochs", value: "N", help: "training epochs (default 100)" },
            Opt { name: "lr", value: "RATE", help: "SGD learning rate (default 0.1)" },
            Opt { name: "batch-size", value: "N", help: "mini-batch size (default 32)" },
            Opt { name: "points", value: "N", help: "number of data points (default 100)" },
            Opt { name: "seed", value: "N", help: "seed of data, weights and shuffling (default 42)" },
            Opt { name: "predict", value: "X", help: "new x to predict after training (default 0.75)" },
            Opt { name: "plot", value: "PATH.svg", help: "write the learning curve and the fitted line as SVG" },
            Opt { name: "log-every", value: "N", help: "print every N-th epoch's progress line (default 10; 1: all)" },
            Opt { name: "quiet", value: "", help: "print only the results" },
        ],
    );
    let cfg = Config {
        epochs: cli.get("epochs", d.epochs),
        lr: cli.get("lr", d.lr),
        batch_size: cli.get("batch-size", d.batch_size),
        points: cli.get("points", d.points),
        seed: cli.get("seed", d.seed),
        new_x: cli.get("predict", d.new_x),
        plot: cli.get_opt("plot"),
        verbosity: Verbosity::from_options(cli.get("log-every", 10), cli.flag("quiet")),
    };
    if cfg.epochs == 0 || cfg.batch_size == 0 {
        cli.error("--epochs and --batch-size must be positive");
    }
    if cfg.lr.is_nan() || cfg.lr <= 0.0 {
        cli.error("--lr must be positive");
    }
    match run(&cfg) {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("regression: error: {e}");
            std::process::exit(1);
        }
    }
}
