//! SVG plots for the examples (learning curves, and data with a fitted line), drawn with
//! the `plotters` crate's SVG backend.

use plotters::prelude::*;
use std::path::Path;

/// One named curve: `(x, y)` points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

fn bounds(series: &[&[(f64, f64)]]) -> ((f64, f64), (f64, f64)) {
    let pts = series.iter().flat_map(|s| s.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad =
        |a: f64, b: f64| if b - a < 1e-12 { (a - 0.5, b + 0.5) } else { (a - 0.05 * (b - a), b + 0.05 * (b - a)) };
    (pad(x0, x1), pad(y0, y1))
}

fn to_io<E: std::error::Error>(path: &Path, e: E) -> std::io::Error {
    std::io::Error::other(format!("{}: cannot draw plot: {e}", path.display()))
}

/// Draws line charts (e.g. loss and validation loss per epoch) into an SVG file.
pub fn line_chart(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> std::io::Result<()> {
    let all: Vec<&[(f64, f64)]> = series.iter().map(|s| s.points.as_slice()).collect();
    let ((x0, x1), (y0, y1)) = bounds(&all);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| to_io(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| to_io(path, e))?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(|e| to_io(path, e))?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| to_io(path, e))?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| to_io(path, e))?;
    root.present().map_err(|e| to_io(path, e))
}

/// Draws a scatter of data points with one or more lines over it (e.g. a fitted line and the
/// least-squares line) into an SVG file.
pub fn scatter_with_lines(path: &Path, title: &str, points: &[(f64, f64)], lines: &[Series]) -> std::io::Result<()> {
    let mut all: Vec<&[(f64, f64)]> = vec![points];
    all.extend(lines.iter().map(|s| s.points.as_slice()));
    let ((x0, x1), (y0, y1)) = bounds(&all);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| to_io(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| to_io(path, e))?;
    chart.configure_mesh().x_desc("x").y_desc("y").draw().map_err(|e| to_io(path, e))?;
    chart
        .draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 3, BLUE.mix(0.6).filled())))
        .map_err(|e| to_io(path, e))?
        .label("data")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
    for (i, s) in lines.iter().enumerate() {
        let color = Palette99::pick(i + 1).to_rgba();
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| to_io(path, e))?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| to_io(path, e))?;
    root.present().map_err(|e| to_io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_svg_files() {
        let dir = std::env::temp_dir().join(format!("plot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("curve.svg");
        let s = Series { label: "loss", points: (0..10).map(|i| (i as f64, 1.0 / (1.0 + i as f64))).collect() };
        line_chart(&p, "Learning curve", "epoch", "loss", &[s]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("<svg") && text.contains("<text") && text.contains("Learning curve"), "{text}");
        let q = dir.join("fit.svg");
        let line = Series { label: "fit", points: vec![(0.0, 1.0), (1.0, 3.0)] };
        scatter_with_lines(&q, "Fit", &[(0.5, 2.0), (0.2, 1.5)], &[line]).unwrap();
        let text = std::fs::read_to_string(&q).unwrap();
        assert!(text.contains("<circle") && text.contains("Fit"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_path_is_an_error() {
        let s = Series { label: "x", points: vec![(0.0, 0.0), (1.0, 1.0)] };
        let r = line_chart(Path::new("/nonexistent-dir/x.svg"), "t", "x", "y", &[s]);
        assert!(r.is_err());
    }
}
