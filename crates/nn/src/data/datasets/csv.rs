//! A small, strict parser for numeric CSV / whitespace-separated text.
//!
//! Rules:
//!
//! * Every field must parse as a finite `f64` (`1`, `-2.5`, `1.51e+02`, ...). Spaces and tabs
//!   around a field are ignored (unless they are the separator).
//! * All rows must have the same number of fields (no ragged rows).
//! * Lines may end in `\n` or `\r\n`; a final newline is optional. Blank lines are accepted only
//!   at the end of the input, so data row `i` is always on line `first_line + i`.
//! * There must be at least one data row.
//!
//! Line and field numbers in errors are 1-based.

use std::path::Path;

use super::{read_text, CsvErrorKind, DataError};

/// How the fields of a line are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// Exactly this character between two fields (e.g. `,`). `a,,b` has an empty middle
    /// field, which is an error.
    Char(char),
    /// One or more whitespace characters; leading and trailing whitespace is ignored.
    Whitespace,
}

impl Separator {
    /// The comma separator, `Separator::Char(',')`.
    pub const COMMA: Separator = Separator::Char(',');
}

/// A rectangular table of numbers parsed from CSV text.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// The values in row-major order, `n_rows * n_cols` of them.
    pub values: Vec<f64>,
    /// Number of data rows.
    pub n_rows: usize,
    /// Number of fields per row.
    pub n_cols: usize,
    /// 1-based line number of row 0 in the source; row `i` is on line `first_line + i`.
    pub first_line: usize,
}

impl CsvTable {
    /// Row `i`, or `None` if out of range.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        let start = i.checked_mul(self.n_cols)?;
        self.values.get(start..start.checked_add(self.n_cols)?)
    }

    /// A copy of column `j`, or `None` if out of range.
    pub fn column(&self, j: usize) -> Option<Vec<f64>> {
        if j >= self.n_cols {
            return None;
        }
        Some(self.values.iter().skip(j).step_by(self.n_cols).copied().collect())
    }
}

/// Parses numeric CSV text (see the module rules). `name` is only used in error messages.
///
/// # Errors
///
/// [`DataError::Csv`] with the line, field and a [`CsvErrorKind`] of `Empty`, `BlankLine`,
/// `EmptyField`, `NotANumber`, `NotFinite` or `Ragged`.
pub fn parse_csv(text: &str, separator: Separator, name: &str) -> Result<CsvTable, DataError> {
    parse_lines(text, separator, name, 1)
}

/// Reads a numeric CSV file, gzipped or not, and parses it with [`parse_csv`].
///
/// # Errors
///
/// Any [`read_bytes`](super::read_bytes) error, [`DataError::InvalidUtf8`], or a
/// [`parse_csv`] error.
pub fn read_csv(path: impl AsRef<Path>, separator: Separator) -> Result<CsvTable, DataError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    parse_csv(&text, separator, &path.display().to_string())
}

/// Builds a [`DataError::Csv`].
pub(crate) fn csv_error(name: &str, line: Option<usize>, field: Option<usize>, kind: CsvErrorKind) -> DataError {
    DataError::Csv { path: name.to_string(), line, field, kind }
}

/// Parses `text` whose first line is line `first_line` of the file (for files with a header
/// line that the caller has already consumed).
pub(crate) fn parse_lines(
    text: &str,
    separator: Separator,
    name: &str,
    first_line: usize,
) -> Result<CsvTable, DataError> {
    let mut values = Vec::new();
    let mut n_cols: Option<usize> = None;
    let mut n_rows = 0;
    let mut blank_line: Option<usize> = None;
    let mut fields: Vec<&str> = Vec::new();

    for (i, raw) in text.split('\n').enumerate() {
        let line_no = first_line + i;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            blank_line.get_or_insert(line_no);
            continue;
        }
        if let Some(blank) = blank_line {
            return Err(csv_error(name, Some(blank), None, CsvErrorKind::BlankLine));
        }

        fields.clear();
        match separator {
            Separator::Whitespace => fields.extend(line.split_whitespace()),
            Separator::Char(sep) => {
                fields.extend(line.split(sep).map(|f| f.trim_matches(|c: char| (c == ' ' || c == '\t') && c != sep)))
            }
        }
        let expected = *n_cols.get_or_insert(fields.len());
        if fields.len() != expected {
            return Err(csv_error(
                name,
                Some(line_no),
                None,
                CsvErrorKind::Ragged { found: fields.len(), expected, first_line },
            ));
        }
        for (j, field) in fields.iter().enumerate() {
            let err = |kind| csv_error(name, Some(line_no), Some(j + 1), kind);
            if field.is_empty() {
                return Err(err(CsvErrorKind::EmptyField));
            }
            let value: f64 = field.parse().map_err(|_| err(CsvErrorKind::NotANumber { text: field.to_string() }))?;
            if !value.is_finite() {
                return Err(err(CsvErrorKind::NotFinite { text: field.to_string() }));
            }
            values.push(value);
        }
        n_rows += 1;
    }

    match n_cols {
        Some(n_cols) if n_rows > 0 => Ok(CsvTable { values, n_rows, n_cols, first_line }),
        _ => Err(csv_error(name, None, None, CsvErrorKind::Empty)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{gzip, TempDir};
    use super::*;

    fn kind(err: DataError) -> (Option<usize>, Option<usize>, CsvErrorKind) {
        match err {
            DataError::Csv { line, field, kind, .. } => (line, field, kind),
            other => panic!("expected a Csv error, got {other:?}"),
        }
    }

    #[test]
    fn parses_comma_separated() {
        let t = parse_csv("1,2.5,-3\n4, 5e1 ,6\n", Separator::COMMA, "a").unwrap();
        assert_eq!((t.n_rows, t.n_cols, t.first_line), (2, 3, 1));
        assert_eq!(t.values, [1.0, 2.5, -3.0, 4.0, 50.0, 6.0]);
        assert_eq!(t.row(1), Some(&[4.0, 50.0, 6.0][..]));
        assert_eq!(t.row(2), None);
        assert_eq!(t.column(2), Some(vec![-3.0, 6.0]));
        assert_eq!(t.column(3), None);
    }

    #[test]
    fn line_endings_and_trailing_newlines() {
        let want = parse_csv("1,2\n3,4", Separator::COMMA, "a").unwrap();
        for text in ["1,2\n3,4\n", "1,2\r\n3,4\r\n", "1,2\r\n3,4", "1,2\n3,4\n\n \n"] {
            assert_eq!(parse_csv(text, Separator::COMMA, "a").unwrap(), want, "{text:?}");
        }
    }

    #[test]
    fn whitespace_separator() {
        let t = parse_csv("59 2 32.1\n  48\t1   21.6 \r\n", Separator::Whitespace, "w").unwrap();
        assert_eq!((t.n_rows, t.n_cols), (2, 3));
        assert_eq!(t.values, [59.0, 2.0, 32.1, 48.0, 1.0, 21.6]);
        // Single-character space separator is strict: a double space is an empty field.
        let (line, field, k) = kind(parse_csv("1 2\n3  4\n", Separator::Char(' '), "s").unwrap_err());
        assert_eq!((line, field, k), (Some(2), None, CsvErrorKind::Ragged { found: 3, expected: 2, first_line: 1 }));
    }

    #[test]
    fn ragged_row() {
        let err = parse_csv("1,2,3\n4,5,6\n7,8\n", Separator::COMMA, "r.csv").unwrap_err();
        assert_eq!(err.to_string(), "r.csv line 3: ragged row: 2 fields, but line 1 has 3");
        let (line, _, k) = kind(parse_csv("1\n2,3\n", Separator::COMMA, "r").unwrap_err());
        assert_eq!((line, k), (Some(2), CsvErrorKind::Ragged { found: 2, expected: 1, first_line: 1 }));
    }

    #[test]
    fn not_a_number() {
        let err = parse_csv("1,2,3\n4,5,abc\n", Separator::COMMA, "t.csv").unwrap_err();
        assert_eq!(err.to_string(), "t.csv line 2: field 3: cannot parse \"abc\" as a number");
        for bad in ["1.2.3", "0x10", "1,5e", "--1", "١"] {
            let text = format!("0;{bad}\n");
            let (line, field, k) = kind(parse_csv(&text, Separator::Char(';'), "n").unwrap_err());
            assert_eq!((line, field), (Some(1), Some(2)), "{bad}");
            assert!(matches!(k, CsvErrorKind::NotANumber { .. }), "{bad}: {k:?}");
        }
    }

    #[test]
    fn non_finite_and_empty_fields() {
        for bad in ["NaN", "inf", "-infinity"] {
            let (_, field, k) = kind(parse_csv(&format!("1,{bad}"), Separator::COMMA, "f").unwrap_err());
            assert_eq!(field, Some(2));
            assert!(matches!(k, CsvErrorKind::NotFinite { .. }), "{bad}: {k:?}");
        }
        let (line, field, k) = kind(parse_csv("1,2,3\n1,,3\n", Separator::COMMA, "e").unwrap_err());
        assert_eq!((line, field, k), (Some(2), Some(2), CsvErrorKind::EmptyField));
        let (_, field, k) = kind(parse_csv("1,2,\n", Separator::COMMA, "e").unwrap_err());
        assert_eq!((field, k), (Some(3), CsvErrorKind::EmptyField));
    }

    #[test]
    fn empty_input() {
        for text in ["", "\n", "\r\n\r\n", "   \n\t\n"] {
            let err = parse_csv(text, Separator::COMMA, "empty.csv").unwrap_err();
            assert_eq!(err.to_string(), "empty.csv: no data rows (empty input)", "{text:?}");
        }
    }

    #[test]
    fn blank_line_inside_data() {
        let (line, _, k) = kind(parse_csv("1,2\n\n3,4\n", Separator::COMMA, "b").unwrap_err());
        assert_eq!((line, k), (Some(2), CsvErrorKind::BlankLine));
        let (line, _, k) = kind(parse_csv("\n1,2\n", Separator::COMMA, "b").unwrap_err());
        assert_eq!((line, k), (Some(1), CsvErrorKind::BlankLine));
    }

    #[test]
    fn line_numbers_respect_first_line() {
        let (line, field, _) = kind(parse_lines("1,2\n3,x\n", Separator::COMMA, "h", 2).unwrap_err());
        assert_eq!((line, field), (Some(3), Some(2)));
    }

    #[test]
    fn read_csv_is_gzip_transparent() {
        let text = b"1,2\n3,4\n";
        let dir = TempDir::new("csv-gz");
        let plain = read_csv(dir.write("a.csv", text), Separator::COMMA).unwrap();
        let gz = read_csv(dir.write("a.csv.gz", &gzip(text)), Separator::COMMA).unwrap();
        assert_eq!(plain, gz);
        assert_eq!(gz.values, [1.0, 2.0, 3.0, 4.0]);
        let p = dir.write("bad.csv.gz", &gzip(b"1,2\n3,q\n"));
        let msg = read_csv(&p, Separator::COMMA).unwrap_err().to_string();
        assert_eq!(msg, format!("{} line 2: field 2: cannot parse \"q\" as a number", p.display()));
    }
}
