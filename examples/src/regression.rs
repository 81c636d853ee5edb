//! The linear-regression walkthrough: 100 points `x ~ U(0, 1)`, `y = 2x + 1 + U(0, 1)`
//! noise, one `Dense` unit with a linear activation trained by SGD on the mean squared error,
//! compared with the closed-form least-squares line.
//!
//! The noise has mean 0.5, so the line the data supports is about `y = 2x + 1.5`; training
//! should land next to the least-squares solution, not next to `2x + 1`.

use crate::cli::{check_positive, Real, UsageError};
use crate::guard::{check_memory, short_number, Divergence};
use crate::plot::{self, Panel, Series};
use crate::progress::{EpochLog, Verbosity};
use crate::{out, outln};
use autograd::Tensor;
use nn::losses::MeanSquaredError;
use nn::{Dense, FitOptions, History, Model, Sequential, Sgd};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::error::Error;
use std::fmt;
use std::path::PathBuf;

/// The walkthrough's settings; `Default` is the walkthrough.
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of data points.
    pub points: usize,
    /// Training epochs.
    pub epochs: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Seed of the data, the initial weights and the shuffling.
    pub seed: u64,
    /// The new `x` to predict after training.
    pub new_x: f64,
    /// Write the learning curve and the data with the fitted line to this SVG file.
    pub plot: Option<PathBuf>,
    /// What to print while training.
    pub verbosity: Verbosity,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            points: 100,
            epochs: 100,
            lr: 0.1,
            batch_size: 32,
            seed: 42,
            new_x: 0.75,
            plot: None,
            verbosity: Verbosity::Every(10),
        }
    }
}

/// What the walkthrough found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The data, `(x, y)`.
    pub data: Vec<(f64, f64)>,
    /// The learned weight.
    pub weight: f64,
    /// The learned bias.
    pub bias: f64,
    /// The least-squares weight.
    pub lsq_weight: f64,
    /// The least-squares bias.
    pub lsq_bias: f64,
    /// Mean squared error of the trained model on the data.
    pub mse: f64,
    /// Mean squared error of the least-squares line on the data (the smallest possible).
    pub lsq_mse: f64,
    /// The new `x`.
    pub new_x: f64,
    /// The model's prediction for `new_x`.
    pub prediction: f64,
    /// Per-epoch loss.
    pub history: History,
    /// Where the plot was written, if asked.
    pub plot: Option<PathBuf>,
}

/// The data set: `n` points, `x ~ U(0, 1)`, `y = 2x + 1 + U(0, 1)`.
pub fn make_data(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x: f64 = rng.random();
            let noise: f64 = rng.random();
            (x, 2.0 * x + 1.0 + noise)
        })
        .collect()
}

/// The least-squares line `(weight, bias)` through the points: `w = cov(x, y) / var(x)`,
/// `b = mean(y) - w mean(x)`.
pub fn least_squares(data: &[(f64, f64)]) -> (f64, f64) {
    let n = data.len() as f64;
    let mx = data.iter().map(|p| p.0).sum::<f64>() / n;
    let my = data.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = data.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = data.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    let w = sxy / sxx;
    (w, my - w * mx)
}

fn mse(data: &[(f64, f64)], w: f64, b: f64) -> f64 {
    data.iter().map(|(x, y)| (w * x + b - y).powi(2)).sum::<f64>() / data.len() as f64
}

/// Bytes of memory per data point: the `(x, y)` pair, its `f32` tensors, and with a plot its
/// copy and its SVG circle (about 90 bytes of text).
fn bytes_per_point(plot: bool) -> u128 {
    if plot {
        16 + 8 + 16 + 96
    } else {
        16 + 8
    }
}

impl Config {
    /// Checks every setting, each error naming the flag it comes from: counts at least 1 (2
    /// points), a finite positive learning rate, a finite `--predict`, and data that fits in
    /// memory.
    ///
    /// # Errors
    /// A [`UsageError`] naming the flag.
    pub fn validate(&self) -> Result<(), UsageError> {
        check_positive("--epochs", self.epochs)?;
        check_positive("--batch-size", self.batch_size)?;
        Real::Positive.check_flag("--lr", self.lr)?;
        Real::Finite.check_flag("--predict", self.new_x)?;
        if self.points < 2 {
            return Err(UsageError(format!("invalid value '{}' for '--points': must be at least 2", self.points)));
        }
        let bytes = (self.points as u128).saturating_mul(bytes_per_point(self.plot.is_some()));
        check_memory(&format!("--points {}", self.points), bytes)
    }
}

/// Runs the walkthrough: [`Config::validate`], a check that the plot can be written, then
/// training (stopped with an error if the loss becomes NaN or infinite).
///
/// # Errors
/// Invalid settings, a diverged run ([`Diverged`](crate::guard::Diverged)), a plot that
/// cannot be written, or stdout that cannot be written.
pub fn run(cfg: &Config) -> Result<Report, Box<dyn Error>> {
    cfg.validate()?;
    if let Some(path) = &cfg.plot {
        nn::io::check_writable(path)?;
    }
    let data = make_data(cfg.points, cfg.seed);
    let x = Tensor::<f32>::from_vec(data.iter().map(|p| p.0 as f32).collect(), [cfg.points, 1])?;
    let y = Tensor::<f32>::from_vec(data.iter().map(|p| p.1 as f32).collect(), [cfg.points, 1])?;

    nn::manual_seed(cfg.seed);
    let mut model = Model::new(Sequential::new().add(Dense::new(1, 1)));
    model.compile(Sgd::new(cfg.lr), MeanSquaredError, []);
    let verbose = cfg.verbosity.is_on();
    if verbose {
        outln!("Data: {} points, x ~ U(0, 1), y = 2x + 1 + U(0, 1) noise (seed {})", cfg.points, cfg.seed)?;
        out!("{}", model.summary())?;
        outln!(
            "Training: SGD(lr={}), mean squared error, batch size {}, {} epochs",
            short_number(cfg.lr),
            cfg.batch_size,
            cfg.epochs
        )?;
    }
    let mut log = EpochLog::new(cfg.verbosity, cfg.epochs);
    let mut guard = Divergence::new(cfg.lr);
    let opts = FitOptions {
        epochs: cfg.epochs,
        batch_size: cfg.batch_size,
        verbose: cfg.verbosity.fit_verbose(),
        seed: Some(cfg.seed),
        ..Default::default()
    };
    let fit = model.fit_with_callbacks(&x, &y, opts, &mut [&mut log, &mut guard]);
    let history = guard.check(fit)?;

    let sd = model.state_dict();
    let weight = f64::from(sd.require_shape("0.weight", &[1, 1])?.data()[0]);
    let bias = f64::from(sd.require_shape("0.bias", &[1])?.data()[0]);
    let (lsq_weight, lsq_bias) = least_squares(&data);
    let new_x = cfg.new_x;
    let prediction = f64::from(model.predict(&Tensor::from_vec(vec![new_x as f32], [1, 1])?)?.data()[0]);

    if let Some(path) = &cfg.plot {
        let line = |w: f64, b: f64| vec![(0.0, b), (1.0, w + b)];
        let loss: Vec<(f64, f64)> =
            history.get("loss").unwrap_or(&[]).iter().enumerate().map(|(e, &l)| ((e + 1) as f64, l)).collect();
        plot::panels(
            path,
            &[
                Panel::Lines {
                    title: "Learning curve",
                    x_label: "epoch",
                    y_label: "mean squared error",
                    series: vec![Series { label: "loss", points: loss }],
                },
                Panel::Scatter {
                    title: "Data and fitted line",
                    x_label: "x",
                    y_label: "y",
                    points: data.clone(),
                    lines: vec![
                        Series { label: "trained Dense(1)", points: line(weight, bias) },
                        Series { label: "least squares", points: line(lsq_weight, lsq_bias) },
                    ],
                },
            ],
        )?;
    }

    Ok(Report {
        mse: mse(&data, weight, bias),
        lsq_mse: mse(&data, lsq_weight, lsq_bias),
        data,
        weight,
        bias,
        lsq_weight,
        lsq_bias,
        new_x,
        prediction,
        history,
        plot: cfg.plot.clone(),
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<22} {:>10} {:>10} {:>12}", "", "weight", "bias", "MSE on data")?;
        writeln!(f, "{:<22} {:>10.4} {:>10.4} {:>12.5}", "trained Dense(1)", self.weight, self.bias, self.mse)?;
        writeln!(
            f,
            "{:<22} {:>10.4} {:>10.4} {:>12.5}",
            "least squares", self.lsq_weight, self.lsq_bias, self.lsq_mse
        )?;
        writeln!(f, "{:<22} {:>10.4} {:>10.4}", "expected (2x + 1.5)", 2.0, 1.5)?;
        writeln!(
            f,
            "difference             {:>10.4} {:>10.4}",
            self.weight - self.lsq_weight,
            self.bias - self.lsq_bias
        )?;
        writeln!(
            f,
            "Prediction for x = {}: {:.4} (least squares: {:.4}, expected 2x + 1.5 = {:.4})",
            self.new_x,
            self.prediction,
            self.lsq_weight * self.new_x + self.lsq_bias,
            2.0 * self.new_x + 1.5
        )?;
        if let Some(p) = &self.plot {
            writeln!(f, "Plot written to {}", p.display())?;
        }
        Ok(())
    }
}
