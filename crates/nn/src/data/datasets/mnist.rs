//! MNIST (and anything else stored in the same four-file IDX layout, such as Fashion-MNIST).

use std::path::Path;

use super::idx::{check_labels, read_idx_with_ndim, IdxArray};
use super::DataError;

/// File name of the MNIST training images inside the data directory.
pub const MNIST_TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
/// File name of the MNIST training labels inside the data directory.
pub const MNIST_TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
/// File name of the MNIST test images inside the data directory.
pub const MNIST_TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// File name of the MNIST test labels inside the data directory.
pub const MNIST_TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";
/// Number of MNIST classes (the digits 0..=9).
pub const MNIST_CLASSES: usize = 10;

/// The MNIST data set: flat pixel and label buffers.
///
/// Images are stored image after image, row by row, one byte per pixel (0 = background,
/// 255 = full ink); image `i` of the training set is
/// `train_images[i * rows * cols..(i + 1) * rows * cols]`. Labels are the digits 0..=9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// Training images, `n_train() * rows * cols` bytes.
    pub train_images: Vec<u8>,
    /// Training labels, one per training image, each `< 10`.
    pub train_labels: Vec<u8>,
    /// Test images, `n_test() * rows * cols` bytes.
    pub test_images: Vec<u8>,
    /// Test labels, one per test image, each `< 10`.
    pub test_labels: Vec<u8>,
    /// Image height in pixels (28 for MNIST).
    pub rows: usize,
    /// Image width in pixels (28 for MNIST).
    pub cols: usize,
}

impl Mnist {
    /// Number of training examples.
    pub fn n_train(&self) -> usize {
        self.train_labels.len()
    }

    /// Number of test examples.
    pub fn n_test(&self) -> usize {
        self.test_labels.len()
    }

    /// Pixels per image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows.saturating_mul(self.cols)
    }

    /// Pixels of training image `i`, or `None` if out of range.
    pub fn train_image(&self, i: usize) -> Option<&[u8]> {
        image_slice(&self.train_images, i, self.image_len())
    }

    /// Pixels of test image `i`, or `None` if out of range.
    pub fn test_image(&self, i: usize) -> Option<&[u8]> {
        image_slice(&self.test_images, i, self.image_len())
    }
}

fn image_slice(images: &[u8], i: usize, len: usize) -> Option<&[u8]> {
    let start = i.checked_mul(len)?;
    images.get(start..start.checked_add(len)?)
}

/// Loads a pair of IDX files: images (magic `0x00000803`, `n x rows x cols`) and labels
/// (magic `0x00000801`, `n`), checking that every label is `< n_classes` and that both files
/// hold the same number of examples. Returns the images and the label bytes.
///
/// # Errors
///
/// Any [`read_idx`](super::read_idx) error for either file, [`DataError::LabelOutOfRange`], or
/// [`DataError::LengthMismatch`] if the counts differ.
pub fn load_idx_pair(
    images_path: impl AsRef<Path>,
    labels_path: impl AsRef<Path>,
    n_classes: usize,
) -> Result<(IdxArray, Vec<u8>), DataError> {
    let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
    let images = read_idx_with_ndim(images_path, 3)?;
    let labels = read_idx_with_ndim(labels_path, 1)?.data;
    check_labels(&labels, n_classes, &labels_path.display().to_string())?;
    if images.num_items() != labels.len() {
        return Err(DataError::LengthMismatch {
            path_a: images_path.display().to_string(),
            what_a: "images",
            count_a: images.num_items(),
            path_b: labels_path.display().to_string(),
            what_b: "labels",
            count_b: labels.len(),
        });
    }
    Ok((images, labels))
}

/// Loads MNIST from `dir`, which must hold the four standard files
/// [`MNIST_TRAIN_IMAGES`], [`MNIST_TRAIN_LABELS`], [`MNIST_TEST_IMAGES`] and
/// [`MNIST_TEST_LABELS`] (gzipped or not; the names are fixed).
///
/// Checks magic numbers, exact payload lengths, labels `< 10`, matching image and label counts,
/// and that the test images have the same size as the training images. Fashion-MNIST uses the
/// same file names and format and loads with this function too.
///
/// # Errors
///
/// Any [`load_idx_pair`] error, or [`DataError::ShapeMismatch`] if the training and test images
/// differ in size.
pub fn load_mnist(dir: impl AsRef<Path>) -> Result<Mnist, DataError> {
    let dir = dir.as_ref();
    let (train, train_labels) =
        load_idx_pair(dir.join(MNIST_TRAIN_IMAGES), dir.join(MNIST_TRAIN_LABELS), MNIST_CLASSES)?;
    let (test, test_labels) = load_idx_pair(dir.join(MNIST_TEST_IMAGES), dir.join(MNIST_TEST_LABELS), MNIST_CLASSES)?;
    if test.item_shape() != train.item_shape() {
        return Err(DataError::ShapeMismatch {
            path: dir.join(MNIST_TEST_IMAGES).display().to_string(),
            expected: train.item_shape().to_vec(),
            found: test.item_shape().to_vec(),
        });
    }
    // Both arrays were read with exactly 3 dims, so `dims[1]` and `dims[2]` exist.
    let rows = train.dims.get(1).copied().unwrap_or(0);
    let cols = train.dims.get(2).copied().unwrap_or(0);
    Ok(Mnist { train_images: train.data, train_labels, test_images: test.data, test_labels, rows, cols })
}

/// Converts pixel bytes to `f32` scaled to `[0, 1]` (`p / 255`).
pub fn images_to_f32(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| f32::from(p) / 255.0).collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{data_path, idx_bytes, TempDir};
    use super::*;

    fn histogram(labels: &[u8]) -> [usize; 10] {
        let mut hist = [0; 10];
        for &l in labels {
            hist[usize::from(l)] += 1;
        }
        hist
    }

    #[test]
    fn load_real_mnist() {
        let m = load_mnist(data_path("mnist")).unwrap();
        assert_eq!((m.n_train(), m.n_test(), m.rows, m.cols), (60_000, 10_000, 28, 28));
        assert_eq!(m.image_len(), 784);
        assert_eq!(m.train_images.len(), 60_000 * 784);
        assert_eq!(m.test_images.len(), 10_000 * 784);
        assert_eq!(m.train_labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        assert_eq!(m.test_labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        assert_eq!(histogram(&m.train_labels), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
        assert_eq!(histogram(&m.test_labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
        let sum: u64 = m.train_images.iter().map(|&p| u64::from(p)).sum();
        let mean = sum as f64 / m.train_images.len() as f64;
        assert!((mean - 33.318).abs() < 5e-4, "mean train pixel {mean}");
        // The first training image (a "5"): ink in the middle, blank border rows.
        let first = m.train_image(0).unwrap();
        assert!(first[..28].iter().all(|&p| p == 0));
        assert!(first[27 * 28..].iter().all(|&p| p == 0));
        assert!(first.iter().filter(|&&p| p > 0).count() > 50);
        assert!(m.train_image(59_999).is_some() && m.train_image(60_000).is_none());
        assert!(m.test_image(9_999).is_some() && m.test_image(10_000).is_none());

        let x = images_to_f32(&m.train_images);
        let fmean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
        assert!((fmean - 0.1307).abs() < 1e-4, "scaled mean {fmean}");
        assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn images_to_f32_scales_to_unit_interval() {
        assert_eq!(images_to_f32(&[0, 255, 51]), [0.0, 1.0, 0.2]);
        assert!(images_to_f32(&[]).is_empty());
    }

    /// Writes a synthetic MNIST-layout directory.
    fn write_set(dir: &TempDir, train: (u32, u32, u32, u32), test: (u32, u32, u32, u32)) {
        for (names, (n_img, rows, cols, n_lab)) in
            [((MNIST_TRAIN_IMAGES, MNIST_TRAIN_LABELS), train), ((MNIST_TEST_IMAGES, MNIST_TEST_LABELS), test)]
        {
            let pixels = vec![128u8; (n_img * rows * cols) as usize];
            dir.write(names.0, &idx_bytes(&[n_img, rows, cols], &pixels));
            let labels: Vec<u8> = (0..n_lab).map(|i| (i % 10) as u8).collect();
            dir.write(names.1, &idx_bytes(&[n_lab], &labels));
        }
    }

    #[test]
    fn synthetic_directory_loads() {
        let dir = TempDir::new("mnist-ok");
        write_set(&dir, (12, 3, 2, 12), (4, 3, 2, 4));
        let m = load_mnist(&dir.0).unwrap();
        assert_eq!((m.n_train(), m.n_test(), m.rows, m.cols), (12, 4, 3, 2));
        assert_eq!(m.train_labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    }

    #[test]
    fn images_labels_count_mismatch() {
        let dir = TempDir::new("mnist-count");
        write_set(&dir, (5, 2, 2, 5), (3, 2, 2, 4));
        let err = load_mnist(&dir.0).unwrap_err();
        match &err {
            DataError::LengthMismatch { count_a, count_b, .. } => assert_eq!((*count_a, *count_b), (3, 4)),
            other => panic!("expected LengthMismatch, got {other:?}"),
        }
        let msg = err.to_string();
        let img = dir.0.join(MNIST_TEST_IMAGES).display().to_string();
        let lab = dir.0.join(MNIST_TEST_LABELS).display().to_string();
        assert_eq!(msg, format!("{img} has 3 images but {lab} has 4 labels"));
    }

    #[test]
    fn train_test_shape_mismatch() {
        let dir = TempDir::new("mnist-shape");
        write_set(&dir, (2, 28, 28, 2), (2, 28, 27, 2));
        let err = load_mnist(&dir.0).unwrap_err();
        assert!(matches!(err, DataError::ShapeMismatch { .. }), "{err:?}");
        assert!(err.to_string().ends_with("item shape 28x27 does not match the expected 28x28"));
    }

    #[test]
    fn label_out_of_range_in_file() {
        let dir = TempDir::new("mnist-label");
        write_set(&dir, (3, 2, 2, 3), (1, 2, 2, 1));
        dir.write(MNIST_TRAIN_LABELS, &idx_bytes(&[3], &[0, 1, 10]));
        let err = load_mnist(&dir.0).unwrap_err();
        match &err {
            DataError::LabelOutOfRange { path, index, value, .. } => {
                assert_eq!((*index, *value), (2, 10));
                assert!(path.ends_with(MNIST_TRAIN_LABELS));
            }
            other => panic!("expected LabelOutOfRange, got {other:?}"),
        }
        // The same file passes with more classes.
        let (_, labels) = load_idx_pair(dir.0.join(MNIST_TRAIN_IMAGES), dir.0.join(MNIST_TRAIN_LABELS), 11).unwrap();
        assert_eq!(labels, [0, 1, 10]);
    }

    #[test]
    fn swapped_files_give_bad_magic() {
        let err = load_idx_pair(
            data_path("mnist/t10k-labels-idx1-ubyte.gz"),
            data_path("mnist/t10k-images-idx3-ubyte.gz"),
            10,
        )
        .unwrap_err();
        assert!(matches!(err, DataError::BadMagic { found: 0x801, .. }), "{err:?}");
        assert!(err
            .to_string()
            .contains("bad magic number 0x00000801, expected 0x00000803 (IDX ubyte images, 3 dims)"));
    }

    #[test]
    fn missing_directory_is_io_error() {
        let err = load_mnist("/nonexistent/mnist").unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err:?}");
        assert!(err.to_string().starts_with("/nonexistent/mnist/train-images-idx3-ubyte.gz: cannot read file"));
    }
}
