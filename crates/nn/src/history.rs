//! [`History`]: per-epoch metrics returned by `fit`, writable as CSV or JSON.

use crate::error::NnError;
use indexmap::IndexMap;
use std::fmt::Write as _;
use std::path::Path;

/// Metrics of one epoch (or one evaluation) by name: `loss`, `accuracy`, `val_loss`, ...
pub type Logs = IndexMap<String, f64>;

/// What `fit` returns: the epochs that ran (0-based, as Keras' `history.epoch`) and, for
/// each metric, its value at each of those epochs (Keras' `history.history`).
///
/// ```
/// use nn::{History, Logs};
/// let mut h = History::default();
/// h.push(0, &Logs::from([("loss".to_string(), 0.5), ("accuracy".to_string(), 0.75)]));
/// h.push(1, &Logs::from([("loss".to_string(), 0.25), ("accuracy".to_string(), 0.875)]));
/// assert_eq!(h.to_csv(), "epoch,loss,accuracy\n0,0.5,0.75\n1,0.25,0.875\n");
/// assert_eq!(h.to_json(), r#"{"epoch":[0,1],"history":{"loss":[0.5,0.25],"accuracy":[0.75,0.875]}}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The epoch numbers, 0-based.
    pub epoch: Vec<usize>,
    /// Metric name to per-epoch values, in the order the metrics were first logged.
    pub history: IndexMap<String, Vec<f64>>,
}

impl History {
    /// Appends one epoch's logs. A metric missing from this epoch (or new in it) gets NaN in
    /// the epochs where it was absent, so all columns stay aligned.
    pub fn push(&mut self, epoch: usize, logs: &Logs) {
        let n = self.epoch.len();
        for (k, &v) in logs {
            self.history.entry(k.clone()).or_insert_with(|| vec![f64::NAN; n]).push(v);
        }
        for col in self.history.values_mut() {
            if col.len() == n {
                col.push(f64::NAN);
            }
        }
        self.epoch.push(epoch);
    }

    /// The number of epochs recorded.
    pub fn len(&self) -> usize {
        self.epoch.len()
    }

    /// Whether no epoch was recorded.
    pub fn is_empty(&self) -> bool {
        self.epoch.is_empty()
    }

    /// The values of one metric, per epoch.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.history.get(name).map(Vec::as_slice)
    }

    /// The last value of one metric.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.last().copied())
    }

    /// CSV with a header `epoch,<metric>,...` and one row per epoch (as Keras' `CSVLogger`,
    /// but in logging order rather than sorted). Numbers are written in the shortest form
    /// that reads back to the same `f64`; NaN as `nan`.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("epoch");
        for k in self.history.keys() {
            s.push(',');
            s.push_str(&csv_field(k));
        }
        s.push('\n');
        for (i, e) in self.epoch.iter().enumerate() {
            let _ = write!(s, "{e}");
            for col in self.history.values() {
                let v = col[i];
                if v.is_nan() {
                    s.push_str(",nan");
                } else {
                    let _ = write!(s, ",{v}");
                }
            }
            s.push('\n');
        }
        s
    }

    /// JSON: `{"epoch":[0,1,...],"history":{"loss":[...],...}}`. Non-finite values are
    /// written as `null` (JSON has no NaN).
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\"epoch\":[");
        for (i, e) in self.epoch.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{e}");
        }
        s.push_str("],\"history\":{");
        for (j, (k, col)) in self.history.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            crate::io::json::write_string(&mut s, k);
            s.push_str(":[");
            for (i, v) in col.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                if v.is_finite() {
                    let _ = write!(s, "{v:?}");
                    // `{:?}` writes 1.0 as "1.0" and 1e-7 as "1e-7": both valid JSON numbers.
                } else {
                    s.push_str("null");
                }
            }
            s.push(']');
        }
        s.push_str("}}");
        s
    }

    /// Writes [`to_csv`](Self::to_csv) to a file.
    ///
    /// # Errors
    /// [`NnError::Io`] with the path.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        write_file(path.as_ref(), &self.to_csv())
    }

    /// Writes [`to_json`](Self::to_json) to a file.
    ///
    /// # Errors
    /// [`NnError::Io`] with the path.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        write_file(path.as_ref(), &self.to_json())
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), NnError> {
    std::fs::write(path, text).map_err(|source| NnError::Io { path: path.to_path_buf(), source })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
