//! A real regression data set: scikit-learn's diabetes data (442 patients, 10 baseline
//! measurements, a measure of disease progression one year later). The features are
//! standardised with the training set's mean and standard deviation, the patients split
//! into training and test sets, and two models trained with Adam on the mean squared error:
//! a linear model (one `Dense` unit) and a small MLP. Both are reported with their test MSE
//! and R², beside the closed-form least-squares fit as a reference.
//!
//! The target is standardised for training too (its scale, about 77, would otherwise make
//! the first steps huge); predictions are mapped back, so every figure is in the target's
//! own units.

use crate::classification::Network;
use crate::cli::{check_positive, Real, UsageError, Widths};
use crate::guard::{check_memory, mlp_memory, short_number, thousands, Divergence};
use crate::plot::{self, Panel, Series};
use crate::progress::{EpochLog, Verbosity};
use crate::{out, outln};
use autograd::Tensor;
use nn::data::datasets::{load_diabetes, Table};
use nn::losses::MeanSquaredError;
use nn::{Activation, Adam, Dense, FitOptions, History, Model, Regularizer, Sequential};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

/// File name of the raw (unscaled) features inside the data directory.
pub const DATA_FILE: &str = "diabetes_data_raw.csv.gz";
/// File name of the targets inside the data directory.
pub const TARGET_FILE: &str = "diabetes_target.csv.gz";

/// The bundled scikit-learn files (`examples/data/sklearn`).
pub fn default_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join("sklearn")
}

/// The walkthrough's settings; `Default` is the walkthrough.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory holding [`DATA_FILE`] and [`TARGET_FILE`].
    pub data_dir: PathBuf,
    /// Fraction of the patients held out for testing.
    pub test_fraction: f64,
    /// Training epochs (both models).
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Hidden layer widths of the MLP (ReLU).
    pub hidden: Vec<usize>,
    /// L2 penalty on the MLP's kernels (Keras' `kernel_regularizer=l2(..)`); 0 for none. Without it
    /// the MLP overfits 354 patients badly (test R² about 0.2 with the other defaults).
    pub l2: f64,
    /// Seed of the split, the initial weights and the shuffling.
    pub seed: u64,
    /// Write the learning curves and the test predictions to this SVG file.
    pub plot: Option<PathBuf>,
    /// What to print while training.
    pub verbosity: Verbosity,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            test_fraction: 0.2,
            epochs: 100,
            batch_size: 32,
            lr: 0.01,
            hidden: vec![64],
            l2: 0.03,
            seed: 42,
            plot: None,
            verbosity: Verbosity::Every(25),
        }
    }
}

/// Test-set figures of one model, in the target's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// Mean squared error on the training patients.
    pub train_mse: f64,
    /// Mean squared error on the test patients.
    pub test_mse: f64,
    /// Coefficient of determination on the test patients, `1 - SSE / SST` (SST around the
    /// test targets' mean, as scikit-learn's `r2_score`).
    pub test_r2: f64,
}

/// What the walkthrough measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Training and test patients.
    pub n_train: usize,
    /// Test patients.
    pub n_test: usize,
    /// The MLP's layer widths, e.g. `10-16-1`.
    pub mlp_architecture: String,
    /// The linear model trained by Adam.
    pub linear: Scores,
    /// The MLP.
    pub mlp: Scores,
    /// The closed-form least-squares fit (the best any linear model can do on the training set).
    pub least_squares: Scores,
    /// Per-epoch loss of the linear model (standardised units).
    pub linear_history: History,
    /// Per-epoch loss of the MLP (standardised units).
    pub mlp_history: History,
    /// Where the plot was written, if asked.
    pub plot: Option<PathBuf>,
}

/// Mean and (population) standard deviation of each column of a row-major matrix; a
/// constant column gets standard deviation 1.
pub fn column_stats(x: &[f64], cols: usize) -> (Vec<f64>, Vec<f64>) {
    let rows = x.len() / cols;
    let mut mean = vec![0.0; cols];
    for r in x.chunks(cols) {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v / rows as f64;
        }
    }
    let mut var = vec![0.0; cols];
    for r in x.chunks(cols) {
        for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
            *s += (v - m) * (v - m) / rows as f64;
        }
    }
    let std = var.iter().map(|v| if *v > 0.0 { v.sqrt() } else { 1.0 }).collect();
    (mean, std)
}

/// `(x - mean) / std`, column by column.
pub fn standardise(x: &[f64], mean: &[f64], std: &[f64]) -> Vec<f64> {
    let cols = mean.len();
    x.chunks(cols).flat_map(|r| r.iter().zip(mean).zip(std).map(|((v, m), s)| (v - m) / s)).collect()
}

/// Mean squared error and R² of predictions against targets.
pub fn mse_r2(pred: &[f64], truth: &[f64]) -> (f64, f64) {
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let sse: f64 = pred.iter().zip(truth).map(|(p, t)| (p - t) * (p - t)).sum();
    let sst: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    (sse / n, 1.0 - sse / sst)
}

/// Ordinary least squares with an intercept: solves the normal equations
/// `[1 X]ᵀ[1 X] β = [1 X]ᵀ y` by Gaussian elimination with partial pivoting. Returns
/// `β = [intercept, w_1, ..., w_cols]`.
///
/// # Errors
/// A singular system (collinear features).
pub fn least_squares(x: &[f64], cols: usize, y: &[f64]) -> Result<Vec<f64>, String> {
    let k = cols + 1;
    let mut a = vec![0.0; k * (k + 1)]; // augmented [XᵀX | Xᵀy]
    for (row, &t) in x.chunks(cols).zip(y) {
        let z: Vec<f64> = std::iter::once(1.0).chain(row.iter().copied()).collect();
        for i in 0..k {
            for j in 0..k {
                a[i * (k + 1) + j] += z[i] * z[j];
            }
            a[i * (k + 1) + k] += z[i] * t;
        }
    }
    for c in 0..k {
        let p = (c..k).max_by(|&i, &j| a[i * (k + 1) + c].abs().total_cmp(&a[j * (k + 1) + c].abs())).unwrap_or(c);
        if a[p * (k + 1) + c].abs() < 1e-12 {
            return Err("least squares: the features are collinear".into());
        }
        for j in 0..=k {
            a.swap(c * (k + 1) + j, p * (k + 1) + j);
        }
        for i in 0..k {
            if i != c {
                let f = a[i * (k + 1) + c] / a[c * (k + 1) + c];
                for j in c..=k {
                    a[i * (k + 1) + j] -= f * a[c * (k + 1) + j];
                }
            }
        }
    }
    Ok((0..k).map(|i| a[i * (k + 1) + k] / a[i * (k + 1) + i]).collect())
}

/// Loads the two diabetes files from `dir`.
///
/// # Errors
/// A missing or corrupt file (the message names it and what is wrong).
pub fn load(dir: &Path) -> Result<Table, Box<dyn Error>> {
    Ok(load_diabetes(dir.join(DATA_FILE), dir.join(TARGET_FILE))?)
}

fn tensor(values: &[f64], rows: usize, cols: usize) -> Result<Tensor<f32>, Box<dyn Error>> {
    Ok(Tensor::from_vec(values.iter().map(|&v| v as f32).collect(), [rows, cols])?)
}

struct Split {
    x: Vec<f64>,
    y: Vec<f64>,
}

fn select(t: &Table, idx: &[usize]) -> Split {
    Split {
        x: idx.iter().flat_map(|&i| t.row(i).unwrap_or(&[]).iter().copied()).collect(),
        y: idx.iter().map(|&i| t.targets[i]).collect(),
    }
}

/// Patients and features of scikit-learn's diabetes data, assumed by [`Config::validate`]
/// before the files are read.
const DIABETES_SHAPE: (usize, usize) = (442, 10);

impl Config {
    /// Checks every setting, each error naming the flag it comes from: counts at least 1, a
    /// finite positive learning rate, a finite L2 penalty of 0 or more, a test fraction
    /// strictly between 0 and 1, and an MLP that fits in memory (for the diabetes data's
    /// shape; [`run`] checks again with the data's).
    ///
    /// # Errors
    /// A [`UsageError`] naming the flag.
    pub fn validate(&self) -> Result<(), UsageError> {
        check_positive("--epochs", self.epochs)?;
        check_positive("--batch-size", self.batch_size)?;
        Real::Positive.check_flag("--lr", self.lr)?;
        Real::NonNegative.check_flag("--l2", self.l2)?;
        Real::OpenUnit.check_flag("--test-fraction", self.test_fraction)?;
        if let Some(w) = self.hidden.iter().find(|&&w| w == 0) {
            return Err(UsageError(format!("invalid value '{w}' in '--hidden': layer widths must be at least 1")));
        }
        self.check_memory(DIABETES_SHAPE.0, DIABETES_SHAPE.1)
    }

    /// Checks that the MLP for `n` patients of `cols` features fits in memory.
    fn check_memory(&self, n: usize, cols: usize) -> Result<(), UsageError> {
        let widths: Vec<usize> = std::iter::once(cols).chain(self.hidden.iter().copied()).chain([1]).collect();
        let (bytes, params) = mlp_memory(&widths, n);
        let hidden = Widths(self.hidden.clone());
        check_memory(&format!("--hidden {hidden} (an MLP of {} parameters)", thousands(params)), bytes)
    }
}

/// Runs the walkthrough: [`Config::validate`], a check that the plot can be written, the
/// data (enough patients for the split and the least-squares fit), then both models, each
/// stopped with a [`Diverged`](crate::guard::Diverged) error if its loss becomes NaN or
/// infinite.
///
/// # Errors
/// A missing or corrupt data file, too few patients, invalid settings, a diverged run, or a
/// plot or stdout that cannot be written.
pub fn run(cfg: &Config) -> Result<Report, Box<dyn Error>> {
    cfg.validate()?;
    if let Some(path) = &cfg.plot {
        nn::io::check_writable(path)?;
    }
    let table = load(&cfg.data_dir)?;
    let (n, cols) = (table.n_rows, table.n_cols);
    // The least-squares reference needs more training patients than coefficients (cols + 1),
    // and the test set at least one patient.
    let needed = cols + 3;
    if n < needed {
        return Err(format!(
            "{}: {n} patients of {cols} features; the walkthrough needs at least {needed} ({} for the \
             least-squares fit of {cols} features and an intercept, and 1 to test on)",
            cfg.data_dir.join(DATA_FILE).display(),
            cols + 2
        )
        .into());
    }
    cfg.check_memory(n, cols)?;
    let n_test = ((n as f64 * cfg.test_fraction).round() as usize).clamp(1, n.saturating_sub(cols + 2).max(1));
    let n_train = n - n_test;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(cfg.seed));
    let (train, test) = (select(&table, &order[..n_train]), select(&table, &order[n_train..]));

    // Standardise with the training set's statistics only.
    let (mean, std) = column_stats(&train.x, cols);
    let (xtr, xte) = (standardise(&train.x, &mean, &std), standardise(&test.x, &mean, &std));
    let (ymean, ystd) = column_stats(&train.y, 1);
    let (ymean, ystd) = (ymean[0], ystd[0]);
    let x_train = tensor(&xtr, n_train, cols)?;
    let y_train = tensor(&train.y.iter().map(|y| (y - ymean) / ystd).collect::<Vec<_>>(), n_train, 1)?;
    let x_test = tensor(&xte, n_test, cols)?;

    let verbose = cfg.verbosity.is_on();
    if verbose {
        outln!(
            "Diabetes data from {}: {n} patients x {cols} features ({}); {n_train} for training, {n_test} for testing (seed {})",
            crate::display_path(&cfg.data_dir),
            table.feature_names.join(", "),
            cfg.seed
        )?;
        outln!("Features standardised with the training mean and standard deviation; target mean {ymean:.1}, std {ystd:.1}")?;
    }

    let scores = |model: &mut Network| -> Result<Scores, Box<dyn Error>> {
        let back = |t: Tensor<f32>| t.data().iter().map(|&v| f64::from(v) * ystd + ymean).collect::<Vec<f64>>();
        let (train_mse, _) = mse_r2(&back(model.predict(&x_train)?), &train.y);
        let (test_mse, test_r2) = mse_r2(&back(model.predict(&x_test)?), &test.y);
        Ok(Scores { train_mse, test_mse, test_r2 })
    };
    let train_one = |name: &str, model: Sequential<f32>| -> Result<(Network, History), Box<dyn Error>> {
        let mut model = Model::new(model);
        model.compile(Adam::new(cfg.lr), MeanSquaredError, []);
        if verbose {
            outln!(
                "\n{name}: Adam(lr={}), mean squared error, batch size {}, {} epochs",
                short_number(cfg.lr),
                cfg.batch_size,
                cfg.epochs
            )?;
            out!("{}", model.summary())?;
        }
        let mut log = EpochLog::new(cfg.verbosity, cfg.epochs);
        let mut guard = Divergence::new(cfg.lr).model(name);
        let opts = FitOptions {
            epochs: cfg.epochs,
            batch_size: cfg.batch_size,
            verbose: cfg.verbosity.fit_verbose(),
            seed: Some(cfg.seed),
            ..Default::default()
        };
        let fit = model.fit_with_callbacks(&x_train, &y_train, opts, &mut [&mut log, &mut guard]);
        let history = guard.check(fit)?;
        Ok((model, history))
    };

    nn::manual_seed(cfg.seed);
    let (mut linear_model, linear_history) = train_one("Linear model", Sequential::new().add(Dense::new(cols, 1)))?;
    let mut mlp = Sequential::new();
    let mut fan_in = cols;
    let penalty = |d: Dense<f32>| if cfg.l2 > 0.0 { d.kernel_regularizer(Regularizer::L2(cfg.l2)) } else { d };
    for &h in &cfg.hidden {
        mlp.push(penalty(Dense::new(fan_in, h).activation(Activation::Relu)));
        fan_in = h;
    }
    mlp.push(penalty(Dense::new(fan_in, 1)));
    let mlp_architecture = std::iter::once(cols)
        .chain(cfg.hidden.iter().copied())
        .chain([1])
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("-");
    let mlp_name = if cfg.l2 > 0.0 {
        format!("MLP {mlp_architecture} with an L2 penalty of {} on its kernels", cfg.l2)
    } else {
        format!("MLP {mlp_architecture}")
    };
    let (mut mlp_model, mlp_history) = train_one(&mlp_name, mlp)?;

    let beta = least_squares(&xtr, cols, &train.y)
        .map_err(|e| format!("{}: {e} in the {n_train} training patients", cfg.data_dir.join(DATA_FILE).display()))?;
    let ols = |x: &[f64]| -> Vec<f64> {
        x.chunks(cols).map(|r| beta[0] + r.iter().zip(&beta[1..]).map(|(a, b)| a * b).sum::<f64>()).collect()
    };
    let (ls_train, _) = mse_r2(&ols(&xtr), &train.y);
    let (ls_test, ls_r2) = mse_r2(&ols(&xte), &test.y);

    let mlp_scores = scores(&mut mlp_model)?;
    if let Some(path) = &cfg.plot {
        let curve = |h: &History| -> Vec<(f64, f64)> {
            h.get("loss").unwrap_or(&[]).iter().enumerate().map(|(e, &l)| ((e + 1) as f64, l)).collect()
        };
        let pred = mlp_model.predict(&x_test)?;
        let points: Vec<(f64, f64)> =
            test.y.iter().zip(pred.data()).map(|(&t, &p)| (t, f64::from(p) * ystd + ymean)).collect();
        let (lo, hi) = test.y.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| (a.min(t), b.max(t)));
        plot::panels(
            path,
            &[
                Panel::Lines {
                    title: "Learning curves (standardised target)",
                    x_label: "epoch",
                    y_label: "training loss",
                    series: vec![
                        Series { label: "linear (MSE)", points: curve(&linear_history) },
                        Series { label: "MLP (MSE + L2 penalty)", points: curve(&mlp_history) },
                    ],
                },
                Panel::Scatter {
                    title: "MLP on the test patients",
                    x_label: "true progression",
                    y_label: "predicted progression",
                    points,
                    lines: vec![Series { label: "perfect prediction", points: vec![(lo, lo), (hi, hi)] }],
                },
            ],
        )?;
    }

    Ok(Report {
        n_train,
        n_test,
        mlp_architecture,
        linear: scores(&mut linear_model)?,
        mlp: mlp_scores,
        least_squares: Scores { train_mse: ls_train, test_mse: ls_test, test_r2: ls_r2 },
        linear_history,
        mlp_history,
        plot: cfg.plot.clone(),
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        writeln!(
            f,
            "Results ({} training / {} test patients; MSE in squared target units):",
            self.n_train, self.n_test
        )?;
        writeln!(f, "{:<28} {:>10} {:>10} {:>8}", "model", "train MSE", "test MSE", "test R2")?;
        let mlp = format!("MLP {}", self.mlp_architecture);
        for (name, s) in [
            ("linear (Dense(1), Adam)", &self.linear),
            (mlp.as_str(), &self.mlp),
            ("least squares (closed form)", &self.least_squares),
        ] {
            writeln!(f, "{name:<28} {:>10.1} {:>10.1} {:>8.4}", s.train_mse, s.test_mse, s.test_r2)?;
        }
        if let Some(p) = &self.plot {
            writeln!(f, "Plot written to {}", p.display())?;
        }
        Ok(())
    }
}
