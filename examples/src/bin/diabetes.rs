//! A real regression data set, scikit-learn's diabetes data (442 patients x 10 features):
//! standardised features, a train/test split, a linear model vs an MLP, test MSE and R².
//!
//! ```text
//! cargo run --release -p examples --bin diabetes
//! cargo run --release -p examples --bin diabetes -- --hidden 32,16 --l2 0 --epochs 300 --plot diabetes.svg
//! ```

use examples::cli::{Cli, Opt};
use examples::diabetes::{run, Config};
use examples::progress::Verbosity;

fn parse_hidden(s: &str) -> Result<Vec<usize>, String> {
    if s.trim().is_empty() || s.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    s.split([',', '-'])
        .map(|p| match p.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("invalid layer width '{p}' (expected positive integers like 32,16)")),
        })
        .collect()
}

fn main() {
    let d = Config::default();
    let cli = Cli::parse(
        "Diabetes regression (scikit-learn's data, 442 patients x 10 features): standardised features,\n\
         an 80/20 train/test split, a linear model and an MLP trained by Adam on the mean squared\n\
         error; reports test MSE and R^2 of both beside the closed-form least-squares fit.",
        &[
            Opt { name: "epochs", value: "N", help: "training epochs of each model (default 100)" },
            Opt { name: "batch-size", value: "N", help: "mini-batch size (default 32)" },
            Opt { name: "lr", value: "RATE", help: "Adam learning rate (default 0.01)" },
            Opt { name: "hidden", value: "W,W..", help: "hidden layer widths of the MLP (default 64)" },
            Opt { name: "l2", value: "A", help: "L2 penalty on the MLP's kernels (default 0.03; 0: none)" },
            Opt { name: "test-fraction", value: "F", help: "fraction of patients held out for testing (default 0.2)" },
            Opt { name: "seed", value: "N", help: "seed of the split, weights and shuffling (default 42)" },
            Opt {
                name: "data-dir",
                value: "DIR",
                help: "directory of the two diabetes .csv.gz files (default examples/data/sklearn)",
            },
            Opt { name: "plot", value: "PATH.svg", help: "write the learning curves and the test predictions as SVG" },
            Opt { name: "log-every", value: "N", help: "print every N-th epoch's progress line (default 25; 1: all)" },
            Opt { name: "quiet", value: "", help: "print only the results" },
        ],
    );
    let hidden = match cli.get_opt::<String>("hidden") {
        Some(s) => parse_hidden(&s).unwrap_or_else(|e| cli.error(&format!("--hidden: {e}"))),
        None => d.hidden.clone(),
    };
    let cfg = Config {
        data_dir: cli.get("data-dir", d.data_dir.clone()),
        test_fraction: cli.get("test-fraction", d.test_fraction),
        epochs: cli.get("epochs", d.epochs),
        batch_size: cli.get("batch-size", d.batch_size),
        lr: cli.get("lr", d.lr),
        hidden,
        l2: cli.get("l2", d.l2),
        seed: cli.get("seed", d.seed),
        plot: cli.get_opt("plot"),
        verbosity: Verbosity::from_options(cli.get("log-every", 25), cli.flag("quiet")),
    };
    if cfg.epochs == 0 || cfg.batch_size == 0 {
        cli.error("--epochs and --batch-size must be positive");
    }
    if cfg.lr.is_nan() || cfg.lr <= 0.0 {
        cli.error("--lr must be positive");
    }
    if !(cfg.test_fraction > 0.0 && cfg.test_fraction < 1.0) {
        cli.error("--test-fraction must be in (0, 1)");
    }
    match run(&cfg) {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("diabetes: error: {e}");
            std::process::exit(1);
        }
    }
}
