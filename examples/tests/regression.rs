//! The linear-regression walkthrough trains to the least-squares line.

mod common;

use examples::progress::Verbosity;
use examples::regression::{least_squares, make_data, run, Config};

#[test]
fn least_squares_recovers_an_exact_line() {
    let data: Vec<(f64, f64)> = (0..10).map(|i| (i as f64 / 10.0, 3.0 * i as f64 / 10.0 - 2.0)).collect();
    let (w, b) = least_squares(&data);
    assert!((w - 3.0).abs() < 1e-12 && (b + 2.0).abs() < 1e-12, "{w} {b}");
}

#[test]
fn data_is_seeded_and_follows_the_recipe() {
    let a = make_data(100, 7);
    assert_eq!(a, make_data(100, 7));
    assert_ne!(a, make_data(100, 8));
    for &(x, y) in &a {
        assert!((0.0..1.0).contains(&x));
        let noise = y - (2.0 * x + 1.0);
        assert!((0.0..1.0).contains(&noise), "noise {noise}");
    }
}

#[test]
fn default_walkthrough_lands_on_least_squares() {
    let cfg = Config { verbosity: Verbosity::Silent, ..Config::default() };
    let r = run(&cfg).unwrap();
    assert_eq!(r.history.len(), 100);
    assert!((r.weight - r.lsq_weight).abs() < 0.2, "weight {} vs least squares {}", r.weight, r.lsq_weight);
    assert!((r.bias - r.lsq_bias).abs() < 0.2, "bias {} vs least squares {}", r.bias, r.lsq_bias);
    // The least-squares line has the smallest possible MSE; training gets within 10% of it.
    assert!(r.mse >= r.lsq_mse - 1e-9 && r.mse < 1.1 * r.lsq_mse, "mse {} vs {}", r.mse, r.lsq_mse);
    // The data supports y = 2x + 1.5 (the noise has mean 0.5).
    assert!((r.lsq_weight - 2.0).abs() < 0.3 && (r.lsq_bias - 1.5).abs() < 0.2);
    let expected = r.weight * r.new_x + r.bias;
    assert!((r.prediction - expected).abs() < 1e-5, "prediction {} vs w x + b = {expected}", r.prediction);
    let losses = r.history.get("loss").unwrap();
    assert!(losses[99] < 0.2 * losses[0], "loss {} -> {}", losses[0], losses[99]);
}

#[test]
fn plot_shows_learning_curve_data_and_fitted_line() {
    let dir = common::TempDir::new("regression-plot");
    let path = dir.path("fit.svg");
    let cfg = Config { epochs: 5, verbosity: Verbosity::Silent, plot: Some(path.clone()), ..Config::default() };
    run(&cfg).unwrap();
    common::assert_svg(&path, "Learning curve");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Data and fitted line") && text.contains("least squares") && text.contains("<circle"));
}
