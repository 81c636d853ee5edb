//! File readers: IDX files (MNIST, Fashion-MNIST), numeric CSV, and the toy data sets that
//! scikit-learn bundles (iris, digits, diabetes).
//!
//! Everything here is plain Rust with no dependency on `autograd`: loaders return flat
//! `Vec<u8>` / `Vec<f64>` buffers plus their shapes, and the caller turns them into tensors.
//!
//! # Robustness
//!
//! All files are treated as untrusted input:
//!
//! * Files are gzip-transparent: a file that starts with the gzip magic bytes `1f 8b` is
//!   decompressed (multi-member streams are accepted, trailing garbage is not), anything else is
//!   read as is.
//! * The decompressed stream is read through a bounded reader (at most
//!   [`MAX_DECOMPRESSED_BYTES`] by default) into a buffer that only grows with data actually
//!   read. No buffer is ever sized from a header field, so a 16-byte file that claims to hold
//!   terabytes fails fast with [`DataError::Truncated`] instead of attempting a huge allocation.
//! * Every error is a [`DataError`] whose message names the file and, where it makes sense, the
//!   byte offset, line or field (1-based) that is wrong.
//!
//! # Example
//!
//! ```no_run
//! use nn::data::datasets::{images_to_f32, load_iris, load_mnist};
//!
//! let mnist = load_mnist("examples/data/mnist")?;
//! assert_eq!((mnist.n_train(), mnist.n_test()), (60_000, 10_000));
//! let x = images_to_f32(&mnist.train_images); // 60000 * 784 values in [0, 1]
//! assert_eq!(x.len(), 60_000 * 28 * 28);
//!
//! let iris = load_iris("examples/data/sklearn/iris.csv")?;
//! assert_eq!((iris.n_rows, iris.n_cols), (150, 4));
//! assert_eq!(iris.class_names, ["setosa", "versicolor", "virginica"]);
//! # Ok::<(), nn::data::datasets::DataError>(())
//! ```
#![forbid(unsafe_code)]

use std::error::Error;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

mod csv;
mod idx;
mod mnist;
mod sklearn;

pub use self::csv::{parse_csv, read_csv, CsvTable, Separator};
pub use self::idx::{check_labels, parse_idx, read_idx, read_idx_with_ndim, IdxArray};
pub use self::mnist::{
    images_to_f32, load_idx_pair, load_mnist, Mnist, MNIST_CLASSES, MNIST_TEST_IMAGES, MNIST_TEST_LABELS,
    MNIST_TRAIN_IMAGES, MNIST_TRAIN_LABELS,
};
pub use self::sklearn::{load_diabetes, load_digits, load_iris, parse_diabetes, parse_digits, parse_iris, Table};

/// Default cap on the size of a file's (decompressed) content: 1 GiB.
///
/// The largest file in the bundled data, the MNIST training images, is 47,040,016 bytes.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// The two bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Longest excerpt of offending file content that an error message quotes.
const MAX_QUOTE_CHARS: usize = 40;

/// Error returned by every loader in this module.
///
/// The `path` field of each variant is the file path as given by the caller (or the `name`
/// passed to an in-memory parser such as [`parse_idx`] / [`parse_csv`]); the [`Display`]
/// message always starts with it.
///
/// [`Display`]: std::fmt::Display
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    Io {
        /// File path.
        path: String,
        /// Underlying I/O error.
        source: io::Error,
    },
    /// The file starts like a gzip stream but is corrupt or truncated (bad deflate data,
    /// CRC / length mismatch, garbage after the last member, ...).
    Decompress {
        /// File path.
        path: String,
        /// Number of bytes that were decompressed successfully before the failure.
        decompressed_bytes: u64,
        /// Error reported by the decompressor.
        source: io::Error,
    },
    /// The (decompressed) content is larger than the allowed cap.
    TooLarge {
        /// File path.
        path: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// A text file is not valid UTF-8.
    InvalidUtf8 {
        /// File path.
        path: String,
        /// Byte offset (in the decompressed content) of the first invalid byte.
        offset: usize,
        /// 1-based line of that byte.
        line: usize,
    },
    /// The IDX magic number is wrong.
    BadMagic {
        /// File path.
        path: String,
        /// The magic number found in the first four bytes (big-endian).
        found: u32,
        /// Human-readable description of what was expected.
        expected: String,
    },
    /// The IDX magic number is well formed but names an element type other than unsigned byte.
    UnsupportedIdxType {
        /// File path.
        path: String,
        /// The type code (third byte of the magic number).
        type_code: u8,
    },
    /// The file is shorter than the IDX header it announces.
    TruncatedHeader {
        /// File path.
        path: String,
        /// Header length needed, in bytes.
        needed: usize,
        /// Bytes actually available.
        available: usize,
        /// Number of dimensions announced by the magic number, if it could be read.
        ndim: Option<u8>,
    },
    /// The product of the IDX dimensions, or of the dimensions of one item (all but the
    /// first), does not fit in `usize`.
    DimsOverflow {
        /// File path.
        path: String,
        /// The dimensions from the header.
        dims: Vec<u32>,
    },
    /// Fewer payload bytes follow the IDX header than the dimensions require.
    Truncated {
        /// File path.
        path: String,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// Payload length required by the dimensions.
        expected: usize,
        /// Payload bytes actually present after the header.
        available: usize,
    },
    /// More payload bytes follow the IDX header than the dimensions allow.
    TrailingBytes {
        /// File path.
        path: String,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// Length of the header, in bytes.
        header_len: usize,
        /// Payload length required by the dimensions.
        expected: usize,
        /// Payload bytes actually present after the header.
        available: usize,
    },
    /// An array's per-item shape differs from the shape it must agree with (for example the
    /// MNIST test images versus the training images).
    ShapeMismatch {
        /// File path.
        path: String,
        /// Shape that was required.
        expected: Vec<usize>,
        /// Shape that was found.
        found: Vec<usize>,
    },
    /// Two files that must describe the same number of samples do not.
    LengthMismatch {
        /// First file.
        path_a: String,
        /// What the first count counts (e.g. `"images"`).
        what_a: &'static str,
        /// Count in the first file.
        count_a: usize,
        /// Second file.
        path_b: String,
        /// What the second count counts (e.g. `"labels"`).
        what_b: &'static str,
        /// Count in the second file.
        count_b: usize,
    },
    /// A class label is not smaller than the number of classes.
    LabelOutOfRange {
        /// File path.
        path: String,
        /// 0-based index of the label.
        index: usize,
        /// The offending value.
        value: u8,
        /// Number of classes; valid labels are `0..n_classes`.
        n_classes: usize,
    },
    /// A problem in a CSV / text file.
    Csv {
        /// File path.
        path: String,
        /// 1-based line number, if the problem is on one line.
        line: Option<usize>,
        /// 1-based field number within the line, if the problem is in one field.
        field: Option<usize>,
        /// What is wrong.
        kind: CsvErrorKind,
    },
}

/// What is wrong in a CSV / text file (see [`DataError::Csv`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CsvErrorKind {
    /// The input holds no data rows.
    Empty,
    /// A blank line that is followed by more data (blank lines are only accepted at the end).
    BlankLine,
    /// A field is empty (e.g. `1,,2` or a trailing separator).
    EmptyField,
    /// A field is not a number.
    NotANumber {
        /// The field's text.
        text: String,
    },
    /// A field parses as a number but is NaN or infinite.
    NotFinite {
        /// The field's text.
        text: String,
    },
    /// A row has a different number of fields than the first row.
    Ragged {
        /// Fields on this line.
        found: usize,
        /// Fields on the first data line.
        expected: usize,
        /// 1-based line number of the first data line.
        first_line: usize,
    },
    /// A row has the wrong number of columns for the data set being loaded.
    WrongColumnCount {
        /// Fields on this line.
        found: usize,
        /// Fields required.
        expected: usize,
    },
    /// The metadata header line is malformed.
    BadHeader {
        /// What is wrong.
        message: String,
    },
    /// The data disagree with a count declared in the header line.
    HeaderMismatch {
        /// What is counted (e.g. `"samples"`).
        what: &'static str,
        /// Count declared in the header.
        declared: usize,
        /// Count actually found.
        found: usize,
    },
    /// A class label is not an integer in `0..n_classes`.
    BadLabel {
        /// The value found.
        value: f64,
        /// Number of classes.
        n_classes: usize,
    },
    /// A value lies outside the range allowed for its column.
    OutOfRange {
        /// The value found.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
        /// Whether the value must also be an integer.
        integer: bool,
    },
}

/// Formats IDX dimensions the way error messages describe them, e.g. `60000 images of 28x28`.
fn describe_dims(dims: &[usize]) -> String {
    match dims {
        [] => "a scalar".to_string(),
        [n] => format!("{n} items"),
        [n, r, c] => format!("{n} images of {r}x{c}"),
        [n, rest @ ..] => format!("{n} items of {}", join_dims(rest)),
    }
}

/// Formats a shape as `28x28`.
fn join_dims(dims: &[usize]) -> String {
    if dims.is_empty() {
        return "()".to_string();
    }
    dims.iter().map(ToString::to_string).collect::<Vec<_>>().join("x")
}

/// Quotes file content for an error message, shortening very long excerpts.
fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTE_CHARS {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX_QUOTE_CHARS).collect();
        format!("{head:?}... ({} bytes)", text.len())
    }
}

impl fmt::Display for CsvErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvErrorKind::Empty => write!(f, "no data rows (empty input)"),
            CsvErrorKind::BlankLine => write!(f, "blank line before the end of the data"),
            CsvErrorKind::EmptyField => write!(f, "empty field"),
            CsvErrorKind::NotANumber { text } => {
                write!(f, "cannot parse {} as a number", quote(text))
            }
            CsvErrorKind::NotFinite { text } => write!(f, "{} is not a finite number", quote(text)),
            CsvErrorKind::Ragged { found, expected, first_line } => {
                write!(f, "ragged row: {found} fields, but line {first_line} has {expected}")
            }
            CsvErrorKind::WrongColumnCount { found, expected } => {
                write!(f, "{found} fields, expected {expected}")
            }
            CsvErrorKind::BadHeader { message } => write!(f, "bad header: {message}"),
            CsvErrorKind::HeaderMismatch { what, declared, found } => {
                write!(f, "the header (line 1) declares {declared} {what}, but the data has {found}")
            }
            CsvErrorKind::BadLabel { value, n_classes } => {
                write!(f, "class label {value} is not an integer in 0..{n_classes}")
            }
            CsvErrorKind::OutOfRange { value, min, max, integer } => {
                let kind = if *integer { "an integer" } else { "a number" };
                write!(f, "value {value} is not {kind} in {min}..={max}")
            }
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, source } => write!(f, "{path}: cannot read file: {source}"),
            DataError::Decompress { path, decompressed_bytes, source } => write!(
                f,
                "{path}: corrupt gzip stream (failed after {decompressed_bytes} decompressed \
                 bytes): {source}"
            ),
            DataError::TooLarge { path, limit } => {
                write!(f, "{path}: content is larger than the limit of {limit} bytes (after decompression)")
            }
            DataError::InvalidUtf8 { path, offset, line } => {
                write!(f, "{path} line {line}: invalid UTF-8 at byte offset {offset}")
            }
            DataError::BadMagic { path, found, expected } => {
                write!(f, "{path}: bad magic number {found:#010x}, expected {expected}")?;
                if found >> 16 == 0x1f8b {
                    write!(f, " (this looks like gzip data that was not decompressed)")?;
                }
                Ok(())
            }
            DataError::UnsupportedIdxType { path, type_code } => {
                let name = match type_code {
                    0x09 => "signed byte",
                    0x0b => "i16",
                    0x0c => "i32",
                    0x0d => "f32",
                    0x0e => "f64",
                    _ => "unknown",
                };
                write!(
                    f,
                    "{path}: unsupported IDX element type {type_code:#04x} ({name}); only 0x08 \
                     (unsigned byte) is supported"
                )
            }
            DataError::TruncatedHeader { path, needed, available, ndim } => match ndim {
                None => write!(
                    f,
                    "{path}: truncated header: the file has only {available} bytes, but an IDX \
                     file starts with a {needed}-byte magic number"
                ),
                Some(n) => write!(
                    f,
                    "{path}: truncated header: an IDX header with {n} dims is {needed} bytes, but \
                     the file has only {available} bytes"
                ),
            },
            DataError::DimsOverflow { path, dims } => {
                let dims: Vec<String> = dims.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{path}: header dims {} overflow: their product (or that of one item's dims) does not fit in usize",
                    dims.join("x")
                )
            }
            DataError::Truncated { path, dims, expected, available } => write!(
                f,
                "{path}: truncated: header says {} = {expected} bytes but only {available} bytes \
                 follow the header",
                describe_dims(dims)
            ),
            DataError::TrailingBytes { path, dims, header_len, expected, available } => {
                let end = header_len.saturating_add(*expected);
                write!(
                    f,
                    "{path}: {} trailing bytes from byte offset {end}: header says {} = \
                     {expected} bytes but {available} bytes follow the {header_len}-byte header",
                    available.saturating_sub(*expected),
                    describe_dims(dims)
                )
            }
            DataError::ShapeMismatch { path, expected, found } => {
                write!(f, "{path}: item shape {} does not match the expected {}", join_dims(found), join_dims(expected))
            }
            DataError::LengthMismatch { path_a, what_a, count_a, path_b, what_b, count_b } => {
                write!(f, "{path_a} has {count_a} {what_a} but {path_b} has {count_b} {what_b}")
            }
            DataError::LabelOutOfRange { path, index, value, n_classes } => write!(
                f,
                "{path}: label at index {index} is {value}, but there are only {n_classes} \
                 classes (valid labels are 0..{n_classes})"
            ),
            DataError::Csv { path, line, field, kind } => {
                write!(f, "{path}")?;
                if let Some(line) = line {
                    write!(f, " line {line}")?;
                }
                if let Some(field) = field {
                    write!(f, ": field {field}")?;
                }
                write!(f, ": {kind}")
            }
        }
    }
}

impl Error for DataError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            DataError::Io { source, .. } | DataError::Decompress { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads a whole file into memory, decompressing it if it is gzip, and refusing content larger
/// than `limit` bytes (after decompression).
///
/// Gzip is detected by the magic bytes `1f 8b`; concatenated gzip members are accepted. The
/// buffer grows with the data actually read and never exceeds `limit + 1` bytes' worth of
/// content, whatever the file's headers claim.
///
/// # Errors
///
/// [`DataError::Io`] if the file cannot be opened or read, [`DataError::Decompress`] if the gzip
/// stream is corrupt or truncated, [`DataError::TooLarge`] if the content exceeds `limit`.
pub fn read_bytes(path: impl AsRef<Path>, limit: u64) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| DataError::Io { path: name.clone(), source })?;
    decode_limited(BufReader::new(file), &name, limit)
}

/// [`read_bytes`] of a file's content held in memory: decompresses `bytes` if they start with
/// the gzip magic, and refuses content larger than `limit` bytes (after decompression). `name`
/// is only used in error messages.
///
/// With [`parse_idx`], [`parse_csv`] and the `parse_*` twins of the scikit-learn loaders, this
/// makes every loader reachable without the file system (the fuzz targets use it, see
/// `docs/reliability.md`). As for [`read_bytes`], the output grows only with data actually
/// decompressed, never from a header field.
///
/// # Errors
///
/// [`DataError::Decompress`] if the gzip stream is corrupt or truncated,
/// [`DataError::TooLarge`] if the content exceeds `limit`.
pub fn decode_bytes(bytes: &[u8], name: &str, limit: u64) -> Result<Vec<u8>, DataError> {
    decode_limited(bytes, name, limit)
}

/// Core of [`read_bytes`], generic over the source so tests can feed in-memory bytes.
pub(crate) fn decode_limited<R: BufRead>(mut reader: R, name: &str, limit: u64) -> Result<Vec<u8>, DataError> {
    let io_err = |source: io::Error| DataError::Io { path: name.to_string(), source };
    // Read up to two bytes to sniff the gzip magic, then put them back in front of the stream.
    let mut magic = [0u8; 2];
    let mut n_magic = 0;
    while n_magic < magic.len() {
        match reader.read(&mut magic[n_magic..]) {
            Ok(0) => break,
            Ok(n) => n_magic += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    let sniffed = &magic[..n_magic];
    let is_gzip = sniffed == GZIP_MAGIC;
    let source = sniffed.chain(reader);
    // One byte more than the limit, so that "exactly at the limit" and "over it" differ.
    let take = limit.saturating_add(1);
    let mut out = Vec::new();
    let result = if is_gzip {
        flate2::bufread::MultiGzDecoder::new(source).take(take).read_to_end(&mut out)
    } else {
        source.take(take).read_to_end(&mut out)
    };
    if let Err(source) = result {
        return Err(if is_gzip {
            DataError::Decompress { path: name.to_string(), decompressed_bytes: out.len() as u64, source }
        } else {
            io_err(source)
        });
    }
    if out.len() as u64 > limit {
        return Err(DataError::TooLarge { path: name.to_string(), limit });
    }
    Ok(out)
}

/// Reads a (possibly gzipped) text file and checks that it is UTF-8.
pub(crate) fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes = read_bytes(path, MAX_DECOMPRESSED_BYTES)?;
    bytes_to_text(bytes, &path.display().to_string())
}

/// Converts decompressed bytes to a `String`, reporting the offset and line of invalid UTF-8.
pub(crate) fn bytes_to_text(bytes: Vec<u8>, name: &str) -> Result<String, DataError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count();
        DataError::InvalidUtf8 { path: name.to_string(), offset, line }
    })
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers shared by the tests of all submodules.

    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The committed data folder `examples/data` of the workspace.
    pub const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data");

    /// Path of a committed data file, e.g. `data_path("sklearn/iris.csv")`.
    pub fn data_path(rel: &str) -> PathBuf {
        Path::new(DATA_DIR).join(rel)
    }

    /// A scratch directory removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("nn-datasets-test-{}-{tag}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        /// Writes `bytes` to `name` inside the directory and returns the full path.
        pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).expect("write temp file");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Gzip-compresses `bytes`.
    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).expect("gzip in memory");
        enc.finish().expect("gzip in memory")
    }

    /// Builds an unsigned-byte IDX file from dims (as u32, unchecked) and a payload.
    pub fn idx_bytes(dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{data_path, gzip, TempDir};
    use super::*;
    use std::time::Instant;

    #[test]
    fn gzip_and_plain_files_read_the_same() {
        let content: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let dir = TempDir::new("same");
        let plain = dir.write("x.bin", &content);
        let gz = dir.write("x.bin.gz", &gzip(&content));
        assert_eq!(read_bytes(&plain, MAX_DECOMPRESSED_BYTES).unwrap(), content);
        assert_eq!(read_bytes(&gz, MAX_DECOMPRESSED_BYTES).unwrap(), content);
        // A one-byte file and an empty file are read as plain data.
        assert_eq!(read_bytes(dir.write("one", &[0x1f]), 10).unwrap(), [0x1f]);
        assert_eq!(read_bytes(dir.write("empty", &[]), 10).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn multi_member_gzip_is_concatenated() {
        let mut two = gzip(b"hello ");
        two.extend_from_slice(&gzip(b"world"));
        assert_eq!(decode_limited(&two[..], "m", 100).unwrap(), b"hello world");
    }

    #[test]
    fn real_gz_file_decompresses_to_documented_size() {
        let bytes = read_bytes(data_path("mnist/t10k-labels-idx1-ubyte.gz"), MAX_DECOMPRESSED_BYTES).unwrap();
        assert_eq!(bytes.len(), 10_008);
        assert_eq!(&bytes[..8], &[0, 0, 8, 1, 0, 0, 0x27, 0x10]);
    }

    #[test]
    fn corrupted_gzip_stream_is_an_error_not_a_panic() {
        let path = data_path("mnist/t10k-images-idx3-ubyte.gz");
        let good = std::fs::read(&path).unwrap();
        assert_eq!(good.len(), 1_648_877);
        // Sanity: the untouched stream decodes.
        assert_eq!(decode_limited(&good[..], "good", 1 << 30).unwrap().len(), 7_840_016);
        for (start, len) in [(good.len() / 2, 16), (good.len() / 3, 1), (100, 4)] {
            let mut bad = good.clone();
            for b in &mut bad[start..start + len] {
                *b ^= 0xa5;
            }
            match decode_limited(&bad[..], "bad.gz", 1 << 30) {
                Err(DataError::Decompress { path, .. }) => assert_eq!(path, "bad.gz"),
                other => panic!("flip at {start}: expected Decompress, got {other:?}"),
            }
        }
        // Cut in half: unexpected end of stream.
        let err = decode_limited(&good[..good.len() / 2], "half.gz", 1 << 30).unwrap_err();
        assert!(matches!(err, DataError::Decompress { .. }), "{err:?}");
        // Trailer removed (CRC and size missing).
        let err = decode_limited(&good[..good.len() - 8], "notrailer.gz", 1 << 30).unwrap_err();
        assert!(matches!(err, DataError::Decompress { .. }), "{err:?}");
        // Garbage after the last member.
        let mut tail = good.clone();
        tail.extend_from_slice(b"garbage!");
        let err = decode_limited(&tail[..], "tail.gz", 1 << 30).unwrap_err();
        assert!(matches!(err, DataError::Decompress { .. }), "{err:?}");
        // Through the public file API, the message names the file.
        let dir = TempDir::new("corrupt");
        let mut bad = good.clone();
        bad[good.len() / 2] ^= 0xff;
        bad[good.len() / 2 + 1] ^= 0xff;
        let p = dir.write("t10k-images-idx3-ubyte.gz", &bad);
        let err = read_idx(&p).unwrap_err();
        assert!(matches!(err, DataError::Decompress { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(&p.display().to_string()), "{msg}");
        assert!(msg.contains("corrupt gzip stream"), "{msg}");
        assert!(err.source().is_some());
    }

    #[test]
    fn decompressed_size_is_capped() {
        // 4 MiB of zeros compresses to a few KiB: a small "gzip bomb".
        let bomb = gzip(&vec![0u8; 4 << 20]);
        assert!(bomb.len() < 64 << 10);
        let start = Instant::now();
        let err = decode_limited(&bomb[..], "bomb.gz", 1 << 20).unwrap_err();
        assert!(start.elapsed().as_secs() < 5);
        match &err {
            DataError::TooLarge { path, limit } => {
                assert_eq!((path.as_str(), *limit), ("bomb.gz", 1 << 20))
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(err.to_string(), "bomb.gz: content is larger than the limit of 1048576 bytes (after decompression)");
        // Exactly at the limit is fine, one byte over is not (plain data too).
        assert_eq!(decode_limited(&bomb[..], "b", 4 << 20).unwrap().len(), 4 << 20);
        assert!(decode_limited(&[1u8, 2, 3][..], "p", 3).is_ok());
        assert!(matches!(decode_limited(&[1u8, 2, 3, 4][..], "p", 3), Err(DataError::TooLarge { .. })));
    }

    /// A reader that fails once more than `budget` bytes have been pulled from it, so a test
    /// can tell whether the decoder stopped reading at the limit.
    struct Guard<R> {
        inner: R,
        budget: u64,
    }

    impl<R: Read> Read for Guard<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.budget =
                self.budget.checked_sub(n as u64).ok_or_else(|| io::Error::other("read past the test budget"))?;
            Ok(n)
        }
    }

    #[test]
    fn reading_stops_at_the_limit_on_endless_input() {
        // Endless plain input: an unbounded reader would never finish.
        let plain = BufReader::new(Guard { inner: io::repeat(7), budget: 1 << 22 });
        let err = decode_limited(plain, "endless", 1 << 20).unwrap_err();
        assert!(matches!(err, DataError::TooLarge { .. }), "{err:?}");
        // An endless gzip stream of zeros (about 1000:1). Decompressing 1 MiB needs about 1 KiB
        // of it; 256 KiB of compressed input would already be ~256 MiB of output.
        let endless_gz = flate2::read::GzEncoder::new(io::repeat(0), flate2::Compression::best());
        let gz = BufReader::new(Guard { inner: endless_gz, budget: 256 << 10 });
        let err = decode_limited(gz, "endless.gz", 1 << 20).unwrap_err();
        assert!(matches!(err, DataError::TooLarge { .. }), "{err:?}");
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let err = read_bytes("/nonexistent-dir/train-images-idx3-ubyte.gz", 10).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert!(err.to_string().starts_with("/nonexistent-dir/train-images-idx3-ubyte.gz: cannot read file: "));
    }

    #[test]
    fn invalid_utf8_reports_offset_and_line() {
        let err = bytes_to_text(b"1,2\n3,\xff4\n".to_vec(), "u.csv").unwrap_err();
        match &err {
            DataError::InvalidUtf8 { offset, line, .. } => assert_eq!((*offset, *line), (6, 2)),
            other => panic!("expected InvalidUtf8, got {other:?}"),
        }
        assert_eq!(err.to_string(), "u.csv line 2: invalid UTF-8 at byte offset 6");
    }

    #[test]
    fn long_quotes_are_shortened() {
        let kind = CsvErrorKind::NotANumber { text: "x".repeat(1000) };
        let msg = kind.to_string();
        assert!(msg.len() < 120, "{msg}");
        assert_eq!(msg, format!("cannot parse \"{}\"... (1000 bytes) as a number", "x".repeat(40)));
    }
}
