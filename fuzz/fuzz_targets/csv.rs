//! CSV readers: `parse_csv` with each separator, and the scikit-learn parsers (iris, digits,
//! diabetes), after the gzip-transparent decoding and UTF-8 check that the loaders do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn::data::datasets::{
    decode_bytes, parse_csv, parse_diabetes, parse_digits, parse_iris, CsvTable, Separator, Table,
    MAX_DECOMPRESSED_BYTES,
};

#[path = "common.rs"]
mod common;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

fn check_csv(t: &CsvTable) {
    assert!(t.n_rows > 0 && t.n_cols > 0);
    assert_eq!(t.values.len(), t.n_rows * t.n_cols);
    assert!(t.values.iter().all(|v| v.is_finite()));
    assert_eq!(t.row(t.n_rows - 1).map(<[f64]>::len), Some(t.n_cols));
    assert_eq!(t.row(t.n_rows), None);
}

fn check_table(t: &Table) {
    assert_eq!(t.features.len(), t.n_rows * t.n_cols);
    assert_eq!(t.targets.len(), t.n_rows);
    assert_eq!(t.feature_names.len(), t.n_cols);
    if t.is_classification() {
        assert_eq!(t.labels.len(), t.n_rows);
        assert!(t.labels.iter().all(|&l| l < t.n_classes()));
    } else {
        assert!(t.labels.is_empty());
    }
}

fn parse_all(text: &str) {
    let len = text.len();
    for sep in [Separator::COMMA, Separator::Whitespace, Separator::Char(';'), Separator::Char('\t')] {
        let (r, peak) = common::peak_during(|| parse_csv(text, sep, "fuzz.csv"));
        common::check_budget("parse_csv", peak, len);
        if let Ok(t) = r {
            check_csv(&t);
        }
    }
    let (r, peak) = common::peak_during(|| parse_iris(text, "iris.csv"));
    common::check_budget("parse_iris", peak, len);
    if let Ok(t) = r {
        check_table(&t);
    }
    let (r, peak) = common::peak_during(|| parse_digits(text, "digits.csv"));
    common::check_budget("parse_digits", peak, len);
    if let Ok(t) = r {
        check_table(&t);
    }
    // Diabetes reads two files: split at the first NUL (the whole text for both if none).
    let (data, target) = text.split_once('\0').unwrap_or((text, text));
    let (r, peak) = common::peak_during(|| parse_diabetes(data, "data.csv", target, "target.csv"));
    common::check_budget("parse_diabetes", peak, len);
    if let Ok(t) = r {
        check_table(&t);
    }
}

fuzz_target!(|data: &[u8]| {
    let (decoded, peak) = common::peak_during(|| decode_bytes(data, "fuzz.csv", MAX_DECOMPRESSED_BYTES));
    let Ok(bytes) = decoded else {
        common::check_budget("decode_bytes", peak, data.len());
        return;
    };
    assert!(peak <= 4 * bytes.len().max(data.len()) + (1 << 20), "decode: {peak} bytes for {} decoded", bytes.len());
    if let Ok(text) = std::str::from_utf8(&bytes) {
        parse_all(text);
    }
});
