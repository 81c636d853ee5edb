//! Loaders for the toy data sets bundled with scikit-learn (`sklearn/datasets/data/`):
//! iris, digits and diabetes, in exactly the file formats scikit-learn ships.

use std::path::Path;

use super::csv::{csv_error, parse_lines, CsvTable, Separator};
use super::{quote, read_text, CsvErrorKind, DataError};

/// A feature matrix with targets, as returned by the scikit-learn loaders.
///
/// * `features` is row-major, `n_rows * n_cols` values; row `i` is sample `i`.
/// * `targets` always has `n_rows` values: for regression (diabetes) the target, for
///   classification (iris, digits) the class index as an exactly representable `f64`.
/// * For classification, `labels` holds the same class indices as `usize` (each
///   `< class_names.len()`); for regression `labels` and `class_names` are empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Feature values, row-major, `n_rows * n_cols`.
    pub features: Vec<f64>,
    /// Number of samples.
    pub n_rows: usize,
    /// Number of features per sample.
    pub n_cols: usize,
    /// One target per sample (class index as `f64` for classification data).
    pub targets: Vec<f64>,
    /// Class index per sample for classification data; empty for regression data.
    pub labels: Vec<usize>,
    /// Class names, indexed by label; empty for regression data.
    pub class_names: Vec<String>,
    /// Feature (column) names, `n_cols` of them, as scikit-learn names them.
    pub feature_names: Vec<String>,
}

impl Table {
    /// Features of sample `i`, or `None` if out of range.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        let start = i.checked_mul(self.n_cols)?;
        self.features.get(start..start.checked_add(self.n_cols)?)
    }

    /// Number of classes (0 for regression data).
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Whether this is classification data (it has class labels).
    pub fn is_classification(&self) -> bool {
        !self.class_names.is_empty()
    }
}

/// Loads scikit-learn's `iris.csv` (gzipped or not).
///
/// Format: a metadata header line `n_samples,n_features,class_0,class_1,...`
/// (`150,4,setosa,versicolor,virginica`), then `n_samples` lines of `n_features` values and a
/// class index. The header's counts are checked against the data, and the class names are kept.
///
/// # Errors
///
/// [`DataError::Csv`] with `BadHeader`, `HeaderMismatch`, `BadLabel` or any CSV parse error;
/// read errors as for [`read_bytes`](super::read_bytes).
pub fn load_iris(path: impl AsRef<Path>) -> Result<Table, DataError> {
    let path = path.as_ref();
    parse_iris(&read_text(path)?, &path.display().to_string())
}

/// Loads scikit-learn's `digits.csv.gz` (gzipped or not).
///
/// Format: no header; each line holds 64 pixel values (an 8x8 image, row-major, integers
/// 0..=16) and then the class label 0..=9, separated by `,`.
///
/// # Errors
///
/// [`DataError::Csv`] with `WrongColumnCount`, `OutOfRange` (pixel), `BadLabel` or any CSV parse
/// error; read errors as for [`read_bytes`](super::read_bytes).
pub fn load_digits(path: impl AsRef<Path>) -> Result<Table, DataError> {
    let path = path.as_ref();
    parse_digits(&read_text(path)?, &path.display().to_string())
}

/// Loads scikit-learn's raw diabetes data: `diabetes_data_raw.csv.gz` (10 space-separated
/// columns `age sex bmi bp s1 s2 s3 s4 s5 s6`, no header, unscaled) and
/// `diabetes_target.csv.gz` (one value per line, the regression target). Either file may be
/// gzipped or not.
///
/// # Errors
///
/// [`DataError::Csv`] with `WrongColumnCount` or any CSV parse error,
/// [`DataError::LengthMismatch`] if the files have different numbers of rows; read errors as for
/// [`read_bytes`](super::read_bytes).
pub fn load_diabetes(data_path: impl AsRef<Path>, target_path: impl AsRef<Path>) -> Result<Table, DataError> {
    let (data_path, target_path) = (data_path.as_ref(), target_path.as_ref());
    parse_diabetes(
        &read_text(data_path)?,
        &data_path.display().to_string(),
        &read_text(target_path)?,
        &target_path.display().to_string(),
    )
}

const IRIS_FEATURES: [&str; 4] = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"];

const DIABETES_FEATURES: [&str; 10] = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"];

/// Splits a table whose last column is a class label into features and validated labels.
fn split_labelled(table: &CsvTable, n_classes: usize, name: &str) -> Result<(Vec<f64>, Vec<usize>), DataError> {
    let n_features = table.n_cols.saturating_sub(1);
    let mut features = Vec::with_capacity(table.values.len());
    let mut labels = Vec::with_capacity(table.n_rows);
    for (i, row) in table.values.chunks_exact(table.n_cols).enumerate() {
        let (x, label) = row.split_at(n_features);
        features.extend_from_slice(x);
        let value = label.first().copied().unwrap_or(f64::NAN);
        let valid = value.fract() == 0.0 && value >= 0.0 && value < n_classes as f64;
        if !valid {
            return Err(csv_error(
                name,
                Some(table.first_line + i),
                Some(table.n_cols),
                CsvErrorKind::BadLabel { value, n_classes },
            ));
        }
        labels.push(value as usize);
    }
    Ok((features, labels))
}

/// Parses the text of `iris.csv` (see [`load_iris`]); `name` is only used in error messages.
///
/// # Errors
///
/// As [`load_iris`], without the read errors.
pub fn parse_iris(text: &str, name: &str) -> Result<Table, DataError> {
    let (header, rest) = text.split_once('\n').unwrap_or((text, ""));
    let header = header.strip_suffix('\r').unwrap_or(header);
    if header.trim().is_empty() {
        // Either an empty file, or a blank first line where the header should be.
        return Err(if rest.trim().is_empty() {
            csv_error(name, None, None, CsvErrorKind::Empty)
        } else {
            csv_error(name, Some(1), None, CsvErrorKind::BlankLine)
        });
    }
    let header_error =
        |field: Option<usize>, message: String| csv_error(name, Some(1), field, CsvErrorKind::BadHeader { message });
    let fields: Vec<&str> = header.split(',').map(str::trim).collect();
    if fields.len() < 3 {
        return Err(header_error(
            None,
            format!("expected `n_samples,n_features,class names...`, found {} fields", fields.len()),
        ));
    }
    let count = |j: usize, what: &str| {
        fields[j].parse::<usize>().map_err(|_| {
            header_error(Some(j + 1), format!("cannot parse {} as the number of {what}", quote(fields[j])))
        })
    };
    let n_samples = count(0, "samples")?;
    let n_features = count(1, "features")?;
    let class_names: Vec<String> = fields[2..].iter().map(ToString::to_string).collect();
    if let Some(j) = class_names.iter().position(|s| s.is_empty()) {
        return Err(header_error(Some(j + 3), "empty class name".to_string()));
    }
    let n_fields = n_features
        .checked_add(1)
        .ok_or_else(|| header_error(Some(2), "number of features is too large".to_string()))?;

    let table = parse_lines(rest, Separator::COMMA, name, 2)?;
    if table.n_cols != n_fields {
        return Err(csv_error(
            name,
            Some(table.first_line),
            None,
            CsvErrorKind::HeaderMismatch {
                what: "fields per row (features + label)",
                declared: n_fields,
                found: table.n_cols,
            },
        ));
    }
    if table.n_rows != n_samples {
        return Err(csv_error(
            name,
            None,
            None,
            CsvErrorKind::HeaderMismatch { what: "samples", declared: n_samples, found: table.n_rows },
        ));
    }
    let (features, labels) = split_labelled(&table, class_names.len(), name)?;
    let feature_names = if n_features == IRIS_FEATURES.len() {
        IRIS_FEATURES.iter().map(ToString::to_string).collect()
    } else {
        (0..n_features).map(|j| format!("feature_{j}")).collect()
    };
    Ok(Table {
        features,
        n_rows: table.n_rows,
        n_cols: n_features,
        targets: labels.iter().map(|&l| l as f64).collect(),
        labels,
        class_names,
        feature_names,
    })
}

/// Parses the (decompressed) text of `digits.csv.gz` (see [`load_digits`]); `name` is only
/// used in error messages.
///
/// # Errors
///
/// As [`load_digits`], without the read errors.
pub fn parse_digits(text: &str, name: &str) -> Result<Table, DataError> {
    const PIXELS: usize = 64;
    const MAX_PIXEL: f64 = 16.0;
    let table = parse_lines(text, Separator::COMMA, name, 1)?;
    if table.n_cols != PIXELS + 1 {
        return Err(csv_error(
            name,
            Some(table.first_line),
            None,
            CsvErrorKind::WrongColumnCount { found: table.n_cols, expected: PIXELS + 1 },
        ));
    }
    let (features, labels) = split_labelled(&table, 10, name)?;
    if let Some(k) = features.iter().position(|&v| v.fract() != 0.0 || !(0.0..=MAX_PIXEL).contains(&v)) {
        return Err(csv_error(
            name,
            Some(table.first_line + k / PIXELS),
            Some(k % PIXELS + 1),
            CsvErrorKind::OutOfRange { value: features[k], min: 0.0, max: MAX_PIXEL, integer: true },
        ));
    }
    Ok(Table {
        features,
        n_rows: table.n_rows,
        n_cols: PIXELS,
        targets: labels.iter().map(|&l| l as f64).collect(),
        labels,
        class_names: (0..10).map(|d: usize| d.to_string()).collect(),
        feature_names: (0..PIXELS).map(|k| format!("pixel_{}_{}", k / 8, k % 8)).collect(),
    })
}

/// Parses the (decompressed) texts of the two diabetes files (see [`load_diabetes`]); the
/// names are only used in error messages.
///
/// # Errors
///
/// As [`load_diabetes`], without the read errors.
pub fn parse_diabetes(
    data_text: &str,
    data_name: &str,
    target_text: &str,
    target_name: &str,
) -> Result<Table, DataError> {
    let data = parse_lines(data_text, Separator::Whitespace, data_name, 1)?;
    if data.n_cols != DIABETES_FEATURES.len() {
        return Err(csv_error(
            data_name,
            Some(data.first_line),
            None,
            CsvErrorKind::WrongColumnCount { found: data.n_cols, expected: DIABETES_FEATURES.len() },
        ));
    }
    let target = parse_lines(target_text, Separator::Whitespace, target_name, 1)?;
    if target.n_cols != 1 {
        return Err(csv_error(
            target_name,
            Some(target.first_line),
            None,
            CsvErrorKind::WrongColumnCount { found: target.n_cols, expected: 1 },
        ));
    }
    if data.n_rows != target.n_rows {
        return Err(DataError::LengthMismatch {
            path_a: data_name.to_string(),
            what_a: "rows",
            count_a: data.n_rows,
            path_b: target_name.to_string(),
            what_b: "targets",
            count_b: target.n_rows,
        });
    }
    Ok(Table {
        features: data.values,
        n_rows: data.n_rows,
        n_cols: data.n_cols,
        targets: target.values,
        labels: Vec::new(),
        class_names: Vec::new(),
        feature_names: DIABETES_FEATURES.iter().map(ToString::to_string).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::data_path;
    use super::*;

    fn iris_text() -> String {
        std::fs::read_to_string(data_path("sklearn/iris.csv")).unwrap()
    }

    fn csv_kind(err: &DataError) -> (Option<usize>, Option<usize>, &CsvErrorKind) {
        match err {
            DataError::Csv { line, field, kind, .. } => (*line, *field, kind),
            other => panic!("expected a Csv error, got {other:?}"),
        }
    }

    /// Replaces field `field` (1-based) on line `line` (1-based) of `text`.
    fn replace_field(text: &str, line: usize, field: usize, new: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut fields: Vec<&str> = lines[line - 1].split(',').collect();
        fields[field - 1] = new;
        lines[line - 1] = fields.join(",");
        lines.join("\n") + "\n"
    }

    fn column_mean(t: &Table, j: usize) -> f64 {
        (0..t.n_rows).map(|i| t.features[i * t.n_cols + j]).sum::<f64>() / t.n_rows as f64
    }

    #[test]
    fn load_real_iris() {
        let t = load_iris(data_path("sklearn/iris.csv")).unwrap();
        assert_eq!((t.n_rows, t.n_cols), (150, 4));
        assert_eq!(t.features.len(), 600);
        assert_eq!(t.class_names, ["setosa", "versicolor", "virginica"]);
        assert_eq!(t.feature_names[0], "sepal length (cm)");
        assert!(t.is_classification() && t.n_classes() == 3);
        assert_eq!(t.row(0), Some(&[5.1, 3.5, 1.4, 0.2][..]));
        assert_eq!(t.row(149), Some(&[5.9, 3.0, 5.1, 1.8][..]));
        assert_eq!(t.row(150), None);
        // Grouped by class, 50 per class.
        let want: Vec<usize> = (0..150).map(|i| i / 50).collect();
        assert_eq!(t.labels, want);
        assert_eq!(t.targets, want.iter().map(|&l| l as f64).collect::<Vec<_>>());
        for (j, mean) in [5.843, 3.057, 3.758, 1.199].into_iter().enumerate() {
            let got = column_mean(&t, j);
            assert!((got - mean).abs() < 5e-4, "column {j}: mean {got}, want {mean}");
        }
    }

    #[test]
    fn load_real_digits() {
        let t = load_digits(data_path("sklearn/digits.csv.gz")).unwrap();
        assert_eq!((t.n_rows, t.n_cols), (1797, 64));
        assert_eq!(t.class_names.len(), 10);
        assert_eq!(t.feature_names[9], "pixel_1_1");
        assert_eq!(t.row(0).unwrap()[..8], [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
        assert_eq!(t.row(0).unwrap()[56..], [0.0, 0.0, 6.0, 13.0, 10.0, 0.0, 0.0, 0.0]);
        assert_eq!(t.labels[..3], [0, 1, 2]);
        let mut hist = [0usize; 10];
        for &l in &t.labels {
            hist[l] += 1;
        }
        assert_eq!(hist, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert_eq!(t.features.iter().copied().fold(f64::MIN, f64::max), 16.0);
        assert_eq!(t.features.iter().copied().fold(f64::MAX, f64::min), 0.0);
    }

    #[test]
    fn load_real_diabetes() {
        let t =
            load_diabetes(data_path("sklearn/diabetes_data_raw.csv.gz"), data_path("sklearn/diabetes_target.csv.gz"))
                .unwrap();
        assert_eq!((t.n_rows, t.n_cols, t.targets.len()), (442, 10, 442));
        assert!(!t.is_classification() && t.labels.is_empty());
        assert_eq!(t.feature_names, DIABETES_FEATURES);
        assert_eq!(t.row(0), Some(&[59.0, 2.0, 32.1, 101.0, 157.0, 93.2, 38.0, 4.0, 4.8598, 87.0][..]));
        let ranges = [
            (19.0, 79.0),
            (1.0, 2.0),
            (18.0, 42.2),
            (62.0, 133.0),
            (97.0, 301.0),
            (41.6, 242.4),
            (22.0, 99.0),
            (2.0, 9.09),
            (3.2581, 6.107),
            (58.0, 124.0),
        ];
        for (j, (lo, hi)) in ranges.into_iter().enumerate() {
            let col: Vec<f64> = (0..t.n_rows).map(|i| t.features[i * 10 + j]).collect();
            let min = col.iter().copied().fold(f64::MAX, f64::min);
            let max = col.iter().copied().fold(f64::MIN, f64::max);
            assert_eq!((min, max), (lo, hi), "column {j} ({})", t.feature_names[j]);
        }
        assert_eq!(t.targets[..3], [151.0, 75.0, 141.0]);
        let min = t.targets.iter().copied().fold(f64::MAX, f64::min);
        let max = t.targets.iter().copied().fold(f64::MIN, f64::max);
        let mean = t.targets.iter().sum::<f64>() / 442.0;
        assert_eq!((min, max), (25.0, 346.0));
        assert!((mean - 152.13).abs() < 5e-3, "mean target {mean}");
    }

    #[test]
    fn iris_non_number_names_line_and_field() {
        let text = replace_field(&iris_text(), 7, 3, "abc");
        let err = parse_iris(&text, "iris.csv").unwrap_err();
        assert_eq!(err.to_string(), "iris.csv line 7: field 3: cannot parse \"abc\" as a number");
    }

    #[test]
    fn iris_counts_must_match_header() {
        let text = iris_text();
        // Header claims one sample more than present.
        let err = parse_iris(&text.replacen("150,", "151,", 1), "iris.csv").unwrap_err();
        assert_eq!(err.to_string(), "iris.csv: the header (line 1) declares 151 samples, but the data has 150");
        // A data line removed.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(60);
        let err = parse_iris(&(lines.join("\n") + "\n"), "iris.csv").unwrap_err();
        assert!(
            matches!(csv_kind(&err).2, CsvErrorKind::HeaderMismatch { what: "samples", declared: 150, found: 149 }),
            "{err:?}"
        );
        // Header claims 5 features: rows would need 6 fields.
        let err = parse_iris(&text.replacen("150,4,", "150,5,", 1), "iris.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "iris.csv line 2: the header (line 1) declares 6 fields per row (features + label), \
             but the data has 5"
        );
    }

    #[test]
    fn iris_bad_header() {
        let text = iris_text();
        for (header, field) in [
            ("abc,4,setosa,versicolor,virginica", Some(1)),
            ("150,-4,setosa,versicolor,virginica", Some(2)),
            ("150,4", None),
            ("150,4,setosa,,virginica", Some(4)),
        ] {
            let bad = text.replacen("150,4,setosa,versicolor,virginica", header, 1);
            let err = parse_iris(&bad, "iris.csv").unwrap_err();
            let (line, f, kind) = csv_kind(&err);
            assert_eq!((line, f), (Some(1), field), "{header}: {err}");
            assert!(matches!(kind, CsvErrorKind::BadHeader { .. }), "{header}: {err}");
        }
        // Header without class names for label 2: the labels are out of range.
        let bad = text.replacen(",virginica", "", 1);
        let err = parse_iris(&bad, "iris.csv").unwrap_err();
        assert_eq!(err.to_string(), "iris.csv line 102: field 5: class label 2 is not an integer in 0..2");
    }

    #[test]
    fn iris_bad_labels_and_empty() {
        let text = iris_text();
        for (label, value) in [("3", 3.0), ("1.5", 1.5), ("-1", -1.0)] {
            let err = parse_iris(&replace_field(&text, 40, 5, label), "iris.csv").unwrap_err();
            let (line, field, kind) = csv_kind(&err);
            assert_eq!((line, field), (Some(40), Some(5)), "{label}");
            assert_eq!(kind, &CsvErrorKind::BadLabel { value, n_classes: 3 }, "{label}");
        }
        let err = parse_iris("", "iris.csv").unwrap_err();
        assert_eq!(csv_kind(&err), (None, None, &CsvErrorKind::Empty));
        let err = parse_iris("150,4,setosa,versicolor,virginica\n", "iris.csv").unwrap_err();
        assert_eq!(csv_kind(&err), (None, None, &CsvErrorKind::Empty));
        // A ragged row in the data.
        let err = parse_iris(&replace_field(&text, 20, 4, "0.2,9"), "iris.csv").unwrap_err();
        assert!(
            matches!(csv_kind(&err), (Some(20), None, CsvErrorKind::Ragged { found: 6, expected: 5, first_line: 2 })),
            "{err:?}"
        );
    }

    #[test]
    fn digits_corruptions() {
        let good = super::super::read_text(&data_path("sklearn/digits.csv.gz")).unwrap();
        let t = parse_digits(&good, "d").unwrap();
        assert_eq!(t.n_rows, 1797);
        // Label 10 on line 5.
        let err = parse_digits(&replace_field(&good, 5, 65, "10"), "digits.csv").unwrap_err();
        assert_eq!(err.to_string(), "digits.csv line 5: field 65: class label 10 is not an integer in 0..10");
        // Pixel 17 on line 3, field 10.
        let err = parse_digits(&replace_field(&good, 3, 10, "17"), "digits.csv").unwrap_err();
        assert_eq!(err.to_string(), "digits.csv line 3: field 10: value 17 is not an integer in 0..=16");
        let err = parse_digits(&replace_field(&good, 1, 1, "0.5"), "digits.csv").unwrap_err();
        assert!(matches!(csv_kind(&err), (Some(1), Some(1), CsvErrorKind::OutOfRange { .. })));
        // 64 fields per row (the label column dropped everywhere).
        let short: String =
            good.lines().map(|l| l.rsplit_once(',').map_or(l, |(head, _)| head).to_string() + "\n").collect();
        let err = parse_digits(&short, "digits.csv").unwrap_err();
        assert_eq!(err.to_string(), "digits.csv line 1: 64 fields, expected 65");
    }

    #[test]
    fn diabetes_corruptions() {
        let data = super::super::read_text(&data_path("sklearn/diabetes_data_raw.csv.gz")).unwrap();
        let target = super::super::read_text(&data_path("sklearn/diabetes_target.csv.gz")).unwrap();
        assert!(parse_diabetes(&data, "x", &target, "y").is_ok());
        // One target missing.
        let short_target = target.lines().skip(1).collect::<Vec<_>>().join("\n");
        let err = parse_diabetes(&data, "data.gz", &short_target, "target.gz").unwrap_err();
        assert_eq!(err.to_string(), "data.gz has 442 rows but target.gz has 441 targets");
        // Comma-separated data are not this format.
        let commas = data.replace(' ', ",");
        let err = parse_diabetes(&commas, "data.gz", &target, "target.gz").unwrap_err();
        assert!(matches!(csv_kind(&err), (Some(1), Some(1), CsvErrorKind::NotANumber { .. })), "{err:?}");
        // Eleven columns.
        let wide: String = data.lines().map(|l| format!("{l} 1\n")).collect();
        let err = parse_diabetes(&wide, "data.gz", &target, "target.gz").unwrap_err();
        assert_eq!(err.to_string(), "data.gz line 1: 11 fields, expected 10");
        // Two values on one target line: ragged.
        let mut lines: Vec<&str> = target.lines().collect();
        lines[100] = "1 2";
        let err = parse_diabetes(&data, "data.gz", &(lines.join("\n") + "\n"), "target.gz").unwrap_err();
        assert!(matches!(csv_kind(&err), (Some(101), None, CsvErrorKind::Ragged { .. })), "{err:?}");
    }
}
