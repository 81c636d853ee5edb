//! SVG plots for the examples (learning curves, and data with a fitted line), drawn with
//! the `plotters` crate's SVG backend in memory and written atomically.

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

/// One chart of a figure drawn by [`panels`].
pub enum Panel<'a> {
    /// Line charts, as [`line_chart`] draws them.
    Lines {
        /// Chart title.
        title: &'a str,
        /// Label of the x axis.
        x_label: &'a str,
        /// Label of the y axis.
        y_label: &'a str,
        /// The curves.
        series: Vec<Series<'a>>,
    },
    /// Data points with lines over them, as [`scatter_with_lines`] draws them.
    Scatter {
        /// Chart title.
        title: &'a str,
        /// Label of the x axis.
        x_label: &'a str,
        /// Label of the y axis.
        y_label: &'a str,
        /// The data points.
        points: Vec<(f64, f64)>,
        /// The lines (e.g. a fitted line).
        lines: Vec<Series<'a>>,
    },
}

fn draw_lines(
    root: &Area<'_>,
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> std::io::Result<()> {
    let all: Vec<&[(f64, f64)]> = series.iter().map(|s| s.points.as_slice()).collect();
    let ((x0, x1), (y0, y1)) = bounds(&all);
    let mut chart = ChartBuilder::on(root)
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
        // Markers on short curves (a few epochs), so that a single point still shows.
        if s.points.len() <= 30 {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| to_io(path, e))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| to_io(path, e))
}

#[allow(clippy::too_many_arguments)]
fn draw_scatter(
    root: &Area<'_>,
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    lines: &[Series],
) -> std::io::Result<()> {
    let mut all: Vec<&[(f64, f64)]> = vec![points];
    all.extend(lines.iter().map(|s| s.points.as_slice()));
    let ((x0, x1), (y0, y1)) = bounds(&all);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| to_io(path, e))?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(|e| to_io(path, e))?;
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
        .map_err(|e| to_io(path, e))
}

type Area<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;

/// Draws an SVG image of `size` pixels in memory with `draw`, then writes it to `path`
/// atomically (`nn::io::write_atomic`): a failure never leaves a half-written file.
fn write_svg(
    path: &Path,
    size: (u32, u32),
    draw: impl for<'b> FnOnce(&Area<'b>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| to_io(path, e))?;
        draw(&root)?;
        root.present().map_err(|e| to_io(path, e))?;
    }
    nn::io::write_atomic(path, |w| w.write_all(svg.as_bytes())).map_err(std::io::Error::other)
}

/// Draws line charts (e.g. loss and validation loss per epoch) into an SVG file.
pub fn line_chart(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> std::io::Result<()> {
    write_svg(path, (800, 500), |root| draw_lines(root, path, title, x_label, y_label, series))
}

/// Draws a scatter of data points with one or more lines over it (e.g. a fitted line and the
/// least-squares line) into an SVG file.
pub fn scatter_with_lines(path: &Path, title: &str, points: &[(f64, f64)], lines: &[Series]) -> std::io::Result<()> {
    write_svg(path, (800, 500), |root| draw_scatter(root, path, title, "x", "y", points, lines))
}

/// Draws several charts side by side (800 x 500 pixels each) into one SVG file, e.g. a
/// learning curve next to the data and the fitted line.
pub fn panels(path: &Path, panels: &[Panel]) -> std::io::Result<()> {
    let n = panels.len().max(1);
    write_svg(path, (800 * n as u32, 500), |root| {
        for (area, panel) in root.split_evenly((1, n)).iter().zip(panels) {
            match panel {
                Panel::Lines { title, x_label, y_label, series } => {
                    draw_lines(area, path, title, x_label, y_label, series)?
                }
                Panel::Scatter { title, x_label, y_label, points, lines } => {
                    draw_scatter(area, path, title, x_label, y_label, points, lines)?
                }
            }
        }
        Ok(())
    })
}

/// The learning-curve panels of a training history: one chart of every `*loss` series
/// (`loss`, `val_loss`) and, if the history has any, one chart of the other metrics
/// (`accuracy`, `val_accuracy`, ...), against the epoch number (from 1).
pub fn history_panels<'a>(history: &'a nn::History, title: &'a str) -> Vec<Panel<'a>> {
    let series = |want_loss: bool| -> Vec<Series<'a>> {
        history
            .history
            .iter()
            .filter(|(k, _)| k.ends_with("loss") == want_loss)
            .map(|(k, v)| Series {
                label: k.as_str(),
                points: history.epoch.iter().zip(v).map(|(&e, &y)| ((e + 1) as f64, y)).collect(),
            })
            .collect()
    };
    let mut out = vec![Panel::Lines { title, x_label: "epoch", y_label: "loss", series: series(true) }];
    let metrics = series(false);
    if !metrics.is_empty() {
        out.push(Panel::Lines { title: "Metrics", x_label: "epoch", y_label: "value", series: metrics });
    }
    out
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
    fn panels_side_by_side_and_history() {
        let dir = std::env::temp_dir().join(format!("plot-panels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut h = nn::History::default();
        for e in 0..3 {
            let logs = nn::Logs::from([
                ("loss".to_string(), 1.0 / (e + 1) as f64),
                ("accuracy".to_string(), 0.5 + 0.1 * e as f64),
                ("val_loss".to_string(), 1.2 / (e + 1) as f64),
            ]);
            h.push(e, &logs);
        }
        let panels = history_panels(&h, "Curves");
        assert_eq!(panels.len(), 2);
        let p = dir.join("h.svg");
        super::panels(&p, &panels).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("width=\"1600\"") && text.contains("val_loss") && text.contains("accuracy"));
        let q = dir.join("s.svg");
        let scatter =
            Panel::Scatter { title: "S", x_label: "a", y_label: "b", points: vec![(0.0, 1.0)], lines: vec![] };
        super::panels(&q, &[scatter]).unwrap();
        assert!(std::fs::read_to_string(&q).unwrap().contains("<circle"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_path_is_an_error() {
        let s = Series { label: "x", points: vec![(0.0, 0.0), (1.0, 1.0)] };
        let r = line_chart(Path::new("/nonexistent-dir/x.svg"), "t", "x", "y", &[s]);
        assert!(r.is_err());
    }
}
