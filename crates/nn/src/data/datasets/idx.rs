//! Reader for unsigned-byte IDX files, the format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a big-endian header followed by raw data:
//!
//! | bytes | content |
//! | --- | --- |
//! | 0..2 | zero |
//! | 2 | element type, `0x08` = unsigned byte (the only type supported here) |
//! | 3 | number of dimensions `n` (at least 1) |
//! | 4..4+4n | the dimensions, one big-endian `u32` each |
//! | 4+4n.. | the data, `d0*d1*...*dn-1` elements in row-major order |
//!
//! The payload length must equal the product of the dimensions exactly.

use std::path::Path;

use super::{read_bytes, DataError, MAX_DECOMPRESSED_BYTES};

/// IDX element-type code for unsigned bytes.
const IDX_UBYTE: u8 = 0x08;

/// IDX element-type codes this reader recognises but does not support.
const IDX_OTHER_TYPES: [u8; 5] = [0x09, 0x0b, 0x0c, 0x0d, 0x0e];

/// An n-dimensional array of unsigned bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (e.g. `[60000, 28, 28]` for the MNIST training images).
    pub dims: Vec<usize>,
    /// The elements in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// Number of items along the first dimension (0 if `dims` is empty).
    pub fn num_items(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// Shape of one item: every dimension after the first (e.g. `[28, 28]`).
    pub fn item_shape(&self) -> &[usize] {
        self.dims.get(1..).unwrap_or(&[])
    }

    /// Number of elements in one item: the product of [`item_shape`](Self::item_shape).
    ///
    /// Never overflows for an array returned by the readers, which check it; for an array
    /// built by hand with absurd `dims` it saturates at `usize::MAX`.
    pub fn item_len(&self) -> usize {
        checked_product(self.item_shape()).unwrap_or(usize::MAX)
    }

    /// The elements of item `i`, or `None` if `i` is out of range.
    pub fn item(&self, i: usize) -> Option<&[u8]> {
        let len = self.item_len();
        let start = i.checked_mul(len)?;
        if i >= self.num_items() {
            return None;
        }
        self.data.get(start..start.checked_add(len)?)
    }
}

/// Reads an unsigned-byte IDX file (gzipped or not) with any number of dimensions.
///
/// The file is decompressed through a bounded reader (at most
/// [`MAX_DECOMPRESSED_BYTES`](super::MAX_DECOMPRESSED_BYTES)) and then validated: magic number,
/// header length, no overflow in the product of the dimensions, and a payload of exactly that
/// many bytes.
///
/// # Errors
///
/// Any read or decompression error (see [`read_bytes`](super::read_bytes)), and
/// [`DataError::BadMagic`], [`DataError::UnsupportedIdxType`], [`DataError::TruncatedHeader`],
/// [`DataError::DimsOverflow`], [`DataError::Truncated`] or [`DataError::TrailingBytes`].
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    read_idx_impl(path.as_ref(), None)
}

/// Like [`read_idx`], but also requires exactly `ndim` dimensions, i.e. the magic number
/// `0x00000800 | ndim` (`0x00000803` for images, `0x00000801` for labels).
///
/// # Errors
///
/// As [`read_idx`]; a file with another magic number gives [`DataError::BadMagic`].
pub fn read_idx_with_ndim(path: impl AsRef<Path>, ndim: u8) -> Result<IdxArray, DataError> {
    read_idx_impl(path.as_ref(), Some(ndim))
}

fn read_idx_impl(path: &Path, want_ndim: Option<u8>) -> Result<IdxArray, DataError> {
    let mut bytes = read_bytes(path, MAX_DECOMPRESSED_BYTES)?;
    let (dims, header_len) = parse_header(&bytes, &path.display().to_string(), want_ndim)?;
    // Drop the header in place instead of copying the payload into a new buffer.
    bytes.drain(..header_len);
    Ok(IdxArray { dims, data: bytes })
}

/// Parses an unsigned-byte IDX file that is already in memory and decompressed.
///
/// `name` is only used in error messages (typically the file name).
///
/// # Errors
///
/// [`DataError::BadMagic`], [`DataError::UnsupportedIdxType`], [`DataError::TruncatedHeader`],
/// [`DataError::DimsOverflow`], [`DataError::Truncated`] or [`DataError::TrailingBytes`].
pub fn parse_idx(bytes: &[u8], name: &str) -> Result<IdxArray, DataError> {
    parse_idx_impl(bytes, name, None)
}

pub(crate) fn parse_idx_impl(bytes: &[u8], name: &str, want_ndim: Option<u8>) -> Result<IdxArray, DataError> {
    let (dims, header_len) = parse_header(bytes, name, want_ndim)?;
    Ok(IdxArray { dims, data: bytes[header_len..].to_vec() })
}

/// The product of `dims`, or `None` if it overflows `usize`. A zero anywhere makes it zero,
/// whatever the order (`[2^32-1, 2^32-1, 2^32-1, 0]` is 0, not an overflow).
fn checked_product(dims: &[usize]) -> Option<usize> {
    if dims.contains(&0) {
        return Some(0);
    }
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Human-readable description of the magic number for `ndim` dimensions.
fn describe_magic(ndim: u8) -> String {
    let magic = 0x0800 | u32::from(ndim);
    match ndim {
        1 => format!("{magic:#010x} (IDX ubyte labels, 1 dim)"),
        3 => format!("{magic:#010x} (IDX ubyte images, 3 dims)"),
        n => format!("{magic:#010x} (IDX ubyte, {n} dims)"),
    }
}

/// Validates the header and the payload length; returns the dimensions and the header length.
fn parse_header(bytes: &[u8], name: &str, want_ndim: Option<u8>) -> Result<(Vec<usize>, usize), DataError> {
    let Some(&[zero0, zero1, type_code, ndim]) = bytes.first_chunk::<4>() else {
        return Err(DataError::TruncatedHeader {
            path: name.to_string(),
            needed: 4,
            available: bytes.len(),
            ndim: None,
        });
    };
    let found = u32::from_be_bytes([zero0, zero1, type_code, ndim]);
    let bad_magic = |expected: String| DataError::BadMagic { path: name.to_string(), found, expected };
    match want_ndim {
        Some(want) => {
            if found != 0x0800 | u32::from(want) {
                return Err(bad_magic(describe_magic(want)));
            }
        }
        None => {
            let generic = "0x000008NN (IDX ubyte with NN >= 1 dims)".to_string();
            if zero0 != 0 || zero1 != 0 || ndim == 0 {
                return Err(bad_magic(generic));
            }
            if type_code != IDX_UBYTE {
                if IDX_OTHER_TYPES.contains(&type_code) {
                    return Err(DataError::UnsupportedIdxType { path: name.to_string(), type_code });
                }
                return Err(bad_magic(generic));
            }
        }
    }

    let header_len = 4 + 4 * usize::from(ndim);
    let Some(dim_bytes) = bytes.get(4..header_len) else {
        return Err(DataError::TruncatedHeader {
            path: name.to_string(),
            needed: header_len,
            available: bytes.len(),
            ndim: Some(ndim),
        });
    };
    let raw_dims: Vec<u32> = dim_bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
    let overflow = || DataError::DimsOverflow { path: name.to_string(), dims: raw_dims.clone() };
    let dims = raw_dims.iter().map(|&d| usize::try_from(d).map_err(|_| overflow())).collect::<Result<Vec<_>, _>>()?;
    // The size of one item (the product of the dims after the first) must fit too, even when
    // there are no items: `IdxArray::item_len` computes it. (Found by fuzzing: a header
    // `0 x 2^32-1 x 2^32-1 x 2^32-1` has a product of 0 but made `item` overflow.)
    checked_product(dims.get(1..).unwrap_or(&[])).ok_or_else(overflow)?;
    let expected = checked_product(&dims).ok_or_else(overflow)?;

    let available = bytes.len() - header_len;
    if available < expected {
        return Err(DataError::Truncated { path: name.to_string(), dims, expected, available });
    }
    if available > expected {
        return Err(DataError::TrailingBytes { path: name.to_string(), dims, header_len, expected, available });
    }
    Ok((dims, header_len))
}

/// Checks that every label is smaller than `n_classes`.
///
/// `name` is only used in the error message.
///
/// # Errors
///
/// [`DataError::LabelOutOfRange`] naming the index and value of the first bad label.
pub fn check_labels(labels: &[u8], n_classes: usize, name: &str) -> Result<(), DataError> {
    match labels.iter().position(|&label| usize::from(label) >= n_classes) {
        None => Ok(()),
        Some(index) => {
            Err(DataError::LabelOutOfRange { path: name.to_string(), index, value: labels[index], n_classes })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{data_path, gzip, idx_bytes, TempDir};
    use super::*;
    use std::time::Instant;

    #[test]
    fn parses_a_small_array_exactly() {
        let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let a = parse_idx(&bytes, "a").unwrap();
        assert_eq!(a.dims, [2, 3]);
        assert_eq!(a.data, [1, 2, 3, 4, 5, 6]);
        assert_eq!((a.num_items(), a.item_shape(), a.item_len()), (2, &[3][..], 3));
        assert_eq!(a.item(1), Some(&[4u8, 5, 6][..]));
        assert_eq!(a.item(2), None);
        // Zero items is a valid (empty) array.
        let empty = parse_idx(&idx_bytes(&[0, 28, 28], &[]), "e").unwrap();
        assert_eq!((empty.dims.as_slice(), empty.data.len()), (&[0, 28, 28][..], 0));
    }

    #[test]
    fn real_mnist_test_files() {
        let images = read_idx(data_path("mnist/t10k-images-idx3-ubyte.gz")).unwrap();
        assert_eq!(images.dims, [10_000, 28, 28]);
        assert_eq!(images.data.len(), 7_840_000);
        let sum: u64 = images.data.iter().map(|&p| u64::from(p)).sum();
        let mean = sum as f64 / images.data.len() as f64;
        assert!((mean - 33.791).abs() < 5e-4, "mean test pixel {mean}");
        assert_eq!(images.data.iter().max(), Some(&255));
        assert_eq!(images.data.iter().min(), Some(&0));

        let labels = read_idx_with_ndim(data_path("mnist/t10k-labels-idx1-ubyte.gz"), 1).unwrap();
        assert_eq!(labels.dims, [10_000]);
        assert_eq!(labels.data[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        let mut hist = [0usize; 10];
        for &l in &labels.data {
            hist[usize::from(l)] += 1;
        }
        assert_eq!(hist, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
        check_labels(&labels.data, 10, "t10k").unwrap();
    }

    #[test]
    fn plain_idx_file_is_accepted() {
        let dir = TempDir::new("plain-idx");
        let p = dir.write("x-idx1-ubyte", &idx_bytes(&[3], &[9, 8, 7]));
        let a = read_idx(&p).unwrap();
        assert_eq!((a.dims, a.data), (vec![3], vec![9, 8, 7]));
    }

    #[test]
    fn bad_magic_for_images() {
        let mut bytes = idx_bytes(&[1, 1, 1, 1], &[0]);
        bytes[3] = 4; // 0x00000804
        let err = parse_idx_impl(&bytes, "examples/data/mnist/train-images-idx3-ubyte.gz", Some(3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "examples/data/mnist/train-images-idx3-ubyte.gz: bad magic number 0x00000804, \
             expected 0x00000803 (IDX ubyte images, 3 dims)"
        );
        // A labels file where images are expected.
        let labels = idx_bytes(&[2], &[1, 2]);
        let err = parse_idx_impl(&labels, "l", Some(3)).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { found: 0x801, .. }), "{err:?}");
        let err = parse_idx_impl(&idx_bytes(&[2, 1, 1], &[1, 2]), "i", Some(1)).unwrap_err();
        assert_eq!(err.to_string(), "i: bad magic number 0x00000803, expected 0x00000801 (IDX ubyte labels, 1 dim)");
    }

    #[test]
    fn bad_magic_generic() {
        for (magic, why) in [
            ([0x12, 0x34, 0x08, 0x01], "nonzero leading bytes"),
            ([0x00, 0x00, 0x08, 0x00], "zero dims"),
            ([0x00, 0x00, 0x07, 0x01], "unknown type"),
        ] {
            let mut bytes = magic.to_vec();
            bytes.extend_from_slice(&[0, 0, 0, 1, 5]);
            let err = parse_idx(&bytes, "g").unwrap_err();
            assert!(matches!(err, DataError::BadMagic { .. }), "{why}: {err:?}");
        }
        // Gzip data given to the in-memory parser: a helpful hint.
        let gz = gzip(&idx_bytes(&[1], &[1]));
        let msg = parse_idx(&gz, "x.gz").unwrap_err().to_string();
        assert!(msg.starts_with("x.gz: bad magic number 0x1f8b08"), "{msg}");
        assert!(msg.contains("looks like gzip"), "{msg}");
    }

    #[test]
    fn unsupported_element_type() {
        let mut bytes = idx_bytes(&[1], &[0, 0, 0, 0]);
        bytes[2] = 0x0d; // f32
        let err = parse_idx(&bytes, "f").unwrap_err();
        assert!(matches!(err, DataError::UnsupportedIdxType { type_code: 0x0d, .. }), "{err:?}");
        assert!(err.to_string().contains("0x0d (f32)"), "{err}");
    }

    #[test]
    fn truncated_header() {
        let err = parse_idx(&[0, 0, 8], "h").unwrap_err();
        assert!(matches!(err, DataError::TruncatedHeader { needed: 4, available: 3, ndim: None, .. }), "{err:?}");
        let err = parse_idx(&[], "h").unwrap_err();
        assert!(matches!(err, DataError::TruncatedHeader { available: 0, .. }), "{err:?}");
        // Three dims announced (16-byte header) but only 10 bytes.
        let full = idx_bytes(&[60_000, 28, 28], &[]);
        let err = parse_idx(&full[..10], "h3").unwrap_err();
        assert!(matches!(err, DataError::TruncatedHeader { needed: 16, available: 10, ndim: Some(3), .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "h3: truncated header: an IDX header with 3 dims is 16 bytes, but the file has only \
             10 bytes"
        );
    }

    #[test]
    fn truncated_payload() {
        let bytes = idx_bytes(&[60_000, 28, 28], &[7u8; 1234]);
        let err = parse_idx(&bytes, "examples/data/mnist/train-images-idx3-ubyte.gz").unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 47_040_000, available: 1234, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "examples/data/mnist/train-images-idx3-ubyte.gz: truncated: header says 60000 images \
             of 28x28 = 47040000 bytes but only 1234 bytes follow the header"
        );
        // One byte short is already an error.
        let err = parse_idx(&idx_bytes(&[2, 2], &[1, 2, 3]), "s").unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 4, available: 3, .. }), "{err:?}");
        // The real test labels with the last byte cut off.
        let real = read_bytes_for_test("mnist/t10k-labels-idx1-ubyte.gz");
        let err = parse_idx(&real[..real.len() - 1], "t10k-labels").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t10k-labels: truncated: header says 10000 items = 10000 bytes but only 9999 bytes \
             follow the header"
        );
    }

    fn read_bytes_for_test(rel: &str) -> Vec<u8> {
        super::super::read_bytes(data_path(rel), 1 << 30).unwrap()
    }

    #[test]
    fn trailing_bytes() {
        let err = parse_idx(&idx_bytes(&[2, 2], &[1, 2, 3, 4, 5]), "t").unwrap_err();
        assert!(matches!(err, DataError::TrailingBytes { header_len: 12, expected: 4, available: 5, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "t: 1 trailing bytes from byte offset 16: header says 2 items of 2 = 4 bytes but 5 \
             bytes follow the 12-byte header"
        );
        let mut real = read_bytes_for_test("mnist/t10k-labels-idx1-ubyte.gz");
        real.extend_from_slice(&[0, 0]);
        let err = parse_idx(&real, "t10k-labels").unwrap_err();
        assert!(matches!(err, DataError::TrailingBytes { available: 10_002, .. }), "{err:?}");
    }

    #[test]
    fn dims_product_overflow() {
        let bytes = idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]);
        let err = parse_idx(&bytes, "o").unwrap_err();
        match &err {
            DataError::DimsOverflow { dims, .. } => assert_eq!(dims, &[u32::MAX; 3]),
            other => panic!("expected DimsOverflow, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "o: header dims 4294967295x4294967295x4294967295 overflow: their product (or that of \
             one item's dims) does not fit in usize"
        );
    }

    #[test]
    fn huge_dims_product_without_overflow_is_truncated() {
        // u32::MAX * u32::MAX fits in a 64-bit usize: it must be reported as truncated with the
        // exact product (no wrap-around), not overflow and not attempt an allocation.
        let bytes = idx_bytes(&[u32::MAX, u32::MAX], &[1, 2, 3]);
        let err = parse_idx(&bytes, "big").unwrap_err();
        if usize::BITS >= 64 {
            let expected = (u64::from(u32::MAX) * u64::from(u32::MAX)) as usize;
            match err {
                DataError::Truncated { expected: e, available, .. } => assert_eq!((e, available), (expected, 3)),
                other => panic!("expected Truncated, got {other:?}"),
            }
        } else {
            assert!(matches!(err, DataError::DimsOverflow { .. }), "{err:?}");
        }
    }

    #[test]
    fn header_claiming_terabytes_in_a_tiny_file_fails_fast() {
        // ~3.4 TB claimed by a 16-byte header (+ a few bytes), plain and gzipped. Allocating
        // a buffer of the claimed size would abort the test process.
        let bytes = idx_bytes(&[u32::MAX, 28, 28], &[0; 20]);
        let dir = TempDir::new("huge");
        let plain = dir.write("huge-idx3-ubyte", &bytes);
        let gz = dir.write("huge-idx3-ubyte.gz", &gzip(&bytes));
        for p in [plain, gz] {
            let start = Instant::now();
            let err = read_idx_with_ndim(&p, 3).unwrap_err();
            assert!(start.elapsed().as_secs() < 2, "took {:?}", start.elapsed());
            match err {
                DataError::Truncated { expected, available, .. } => {
                    assert_eq!((expected, available), (4_294_967_295 * 784, 20))
                }
                other => panic!("expected Truncated, got {other:?}"),
            }
        }
    }

    #[test]
    fn labels_out_of_range() {
        check_labels(&[0, 9, 3], 10, "ok").unwrap();
        let err = check_labels(&[1, 2, 10, 3, 200], 10, "labels.idx").unwrap_err();
        match &err {
            DataError::LabelOutOfRange { index, value, n_classes, .. } => {
                assert_eq!((*index, *value, *n_classes), (2, 10, 10))
            }
            other => panic!("expected LabelOutOfRange, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "labels.idx: label at index 2 is 10, but there are only 10 classes (valid labels \
             are 0..10)"
        );
        // The class count is a parameter: 9 is fine for 10 classes but not for 9.
        assert!(check_labels(&[9], 10, "x").is_ok());
        assert!(check_labels(&[9], 9, "x").is_err());
        assert!(check_labels(&[], 0, "x").is_ok());
    }
}
