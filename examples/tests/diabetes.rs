//! The diabetes walkthrough: both models learn, and the linear one reaches least squares.

mod common;

use examples::diabetes::{column_stats, least_squares, mse_r2, run, standardise, Config};
use examples::progress::Verbosity;

#[test]
fn helpers_standardise_and_solve() {
    let x = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 41.0];
    let (m, s) = column_stats(&x, 2);
    let z = standardise(&x, &m, &s);
    let (m2, s2) = column_stats(&z, 2);
    assert!(m2.iter().all(|v| v.abs() < 1e-12) && s2.iter().all(|v| (v - 1.0).abs() < 1e-12));
    // y = 1 + 2 a - b exactly.
    let y: Vec<f64> = x.chunks(2).map(|r| 1.0 + 2.0 * r[0] - r[1]).collect();
    let beta = least_squares(&x, 2, &y).unwrap();
    assert!((beta[0] - 1.0).abs() < 1e-9 && (beta[1] - 2.0).abs() < 1e-9 && (beta[2] + 1.0).abs() < 1e-9, "{beta:?}");
    assert_eq!(mse_r2(&y, &y), (0.0, 1.0));
}

#[test]
fn linear_model_reaches_least_squares_and_mlp_learns() {
    let dir = common::TempDir::new("diabetes");
    let plot = dir.path("diabetes.svg");
    let cfg = Config { verbosity: Verbosity::Silent, plot: Some(plot.clone()), ..Config::default() };
    let r = run(&cfg).unwrap();
    assert_eq!((r.n_train, r.n_test), (354, 88));
    let (lin, mlp, ols) = (r.linear, r.mlp, r.least_squares);
    // Least squares minimises the training MSE of a linear model; Adam gets within 3% of it.
    assert!(lin.train_mse >= ols.train_mse - 1e-6 && lin.train_mse < 1.03 * ols.train_mse, "{lin:?} vs {ols:?}");
    assert!((lin.test_r2 - ols.test_r2).abs() < 0.05, "{lin:?} vs {ols:?}");
    // A model that learned nothing has R² <= 0 (the target's variance is about 5900).
    assert!(ols.test_r2 > 0.4 && lin.test_r2 > 0.4, "{lin:?}");
    assert!(mlp.test_r2 > 0.35 && mlp.test_mse < 4000.0, "{mlp:?}");
    assert_eq!(r.mlp_history.len(), cfg.epochs);
    common::assert_svg(&plot, "Learning curves");
}
