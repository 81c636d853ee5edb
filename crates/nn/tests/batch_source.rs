//! Batch sources: `fit`/`evaluate`/`predict` on inputs built batch by batch ([`BatchSource`]),
//! a tensor as a source (today's batches), [`U8Images`] (bytes scaled per batch, equal to
//! `images_to_f32`), bit-identical training on bytes and on the converted tensor, and the
//! validation split as an index range (no copy of the inputs).

use autograd::Tensor;
use nn::data::datasets::images_to_f32;
use nn::data::{epoch_permutation, one_hot, BatchSource, Dataset, U8Images};
use nn::losses::CategoricalCrossentropy;
use nn::metrics::Accuracy;
use nn::{
    manual_seed, Activation, Adam, Dense, Dropout, EvaluateOptions, FitOptions, History, Model, Module, NnError,
    Sequential,
};
use rand::{rngs::StdRng, RngExt, SeedableRng};
use std::cell::RefCell;
use std::ops::Range;

/// `n` random images of `len` bytes (every byte value occurs for n * len >= a few thousand)
/// and labels in `0..classes` that depend on the pixels (so there is something to learn).
fn byte_images(n: usize, len: usize, classes: usize, seed: u64) -> (Vec<u8>, Vec<usize>) {
    let mut r = StdRng::seed_from_u64(seed);
    let bytes: Vec<u8> = (0..n * len).map(|_| r.random()).collect();
    let labels = bytes.chunks(len).map(|img| usize::from(img[0] / 2 + img[1] / 2) * classes / 256).collect();
    (bytes, labels)
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.data().iter().map(|v| v.to_bits()).collect()
}

fn weight_bits(m: &dyn Module<f32>) -> Vec<Vec<u32>> {
    m.parameters().iter().map(|p| bits(p.value())).collect()
}

fn history_bits(h: &History) -> Vec<(String, Vec<u64>)> {
    h.history.iter().map(|(k, v)| (k.clone(), v.iter().map(|x| x.to_bits()).collect())).collect()
}

fn model(inputs: usize, classes: usize) -> Model<Sequential<f32>> {
    manual_seed(7);
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(inputs, 16).activation(Activation::Relu))
            .add(Dropout::new(0.25))
            .add(Dense::new(16, classes).activation(Activation::Softmax)),
    );
    m.compile(Adam::new(0.01), CategoricalCrossentropy::new(), nn::metrics![Accuracy::new()]);
    m
}

fn opts(validation_split: f64) -> FitOptions<f32> {
    FitOptions { epochs: 3, batch_size: 16, validation_split, verbose: 0, seed: Some(11), ..Default::default() }
}

#[test]
fn a_tensor_source_gives_the_dataset_batches() {
    let n = 23;
    let x = Tensor::<f32>::from_vec((0..n * 3).map(|v| v as f32 * 0.5).collect(), [n, 3]).unwrap();
    let y = Tensor::<f32>::from_vec((0..n).map(|v| v as f32).collect(), [n]).unwrap();
    assert_eq!(BatchSource::<f32>::len(&x), n);
    assert_eq!(BatchSource::<f32>::sample_shape(&x), &[3]);
    assert!(BatchSource::<f32>::check(&x).is_ok());
    assert!(BatchSource::<f32>::check(&Tensor::<f32>::scalar(1.0)).is_err(), "a scalar has no sample axis");
    let ds = Dataset::new(x.clone(), y).unwrap();
    // Shuffled batches: gather of a slice of the epoch's permutation.
    let order = epoch_permutation(n, 42, 3);
    for ((xb, _), idx) in ds.batches(5, Some((42, 3))).zip(order.chunks(5)) {
        assert_eq!(BatchSource::gather(&x, idx), xb);
    }
    // In order: gather_range, equal to gather of the same indices; the full range is the
    // tensor itself.
    for ((xb, _), start) in ds.batches(5, None).zip((0..n).step_by(5)) {
        let r = start..(start + 5).min(n);
        assert_eq!(BatchSource::gather_range(&x, r.clone()), xb);
        assert_eq!(BatchSource::gather(&x, &r.collect::<Vec<_>>()), xb);
    }
    assert_eq!(BatchSource::gather_range(&x, 0..n), x);
    assert_eq!(BatchSource::gather_range(&x, 4..4).shape(), &[0, 3]);
}

#[test]
fn u8_images_equal_images_to_f32_rows() {
    let (bytes, _) = byte_images(40, 12, 2, 1);
    let f = Tensor::from_vec(images_to_f32(&bytes), [40, 12]).unwrap();
    let img = U8Images::new(bytes.clone(), [12], 255.0).unwrap();
    assert_eq!((img.len(), img.item_shape(), img.divisor()), (40, &[12][..], 255.0));
    assert_eq!(BatchSource::<f32>::sample_shape(&img), &[12]);
    let idx = [39, 0, 7, 7, 21];
    let g: Tensor<f32> = img.gather(&idx);
    assert_eq!(g.shape(), &[5, 12]);
    assert_eq!(bits(&g), bits(&BatchSource::gather(&f, &idx)), "bit for bit");
    assert_eq!(bits(&img.to_tensor()), bits(&f));
    let every_byte: Vec<u8> = (0..=255).collect();
    let all = U8Images::new(every_byte.clone(), [1], 255.0).unwrap().to_tensor::<f32>();
    assert_eq!(bits(&all), bits(&Tensor::from_vec(images_to_f32(&every_byte), [256]).unwrap()));
    // f64: the division in f64.
    let g64: Tensor<f64> = img.gather(&idx);
    let want: Vec<f64> =
        idx.iter().flat_map(|&i| bytes[i * 12..(i + 1) * 12].iter().map(|&p| f64::from(p) / 255.0)).collect();
    assert_eq!(g64.to_vec(), want);

    // Slices share the bytes and index from their own start; a 2-d item shape.
    let s = img.slice(10..30);
    assert_eq!((s.len(), s.bytes()), (20, &bytes[120..360]));
    assert_eq!(bits(&s.gather_range(2..5)), bits(&f.narrow(0, 12, 3)));
    assert_eq!(bits(&s.slice(5..6).gather(&[0])), bits(&f.narrow(0, 15, 1)));
    let square = U8Images::new(bytes.clone(), [3, 4], 255.0).unwrap();
    assert_eq!(BatchSource::<f32>::gather(&square, &[1, 2]).shape(), &[2, 3, 4]);
    assert!(U8Images::new(Vec::new(), [12], 255.0).unwrap().is_empty());

    // Construction errors.
    let e = U8Images::new(vec![0u8; 13], [12], 255.0).unwrap_err().to_string();
    assert!(e.contains("13 bytes"), "{e}");
    assert!(U8Images::new(vec![0u8; 12], [0, 3], 255.0).is_err(), "empty samples");
    assert!(U8Images::new(vec![0u8; 12], [12], 0.0).is_err());
    assert!(U8Images::new(vec![0u8; 12], [12], f32::NAN).is_err());
}

#[test]
#[should_panic(expected = "out of range")]
fn u8_images_gather_out_of_range_panics() {
    let img = U8Images::new(vec![0u8; 12], [3], 255.0).unwrap().slice(1..3);
    let _: Tensor<f32> = img.gather(&[2]);
}

#[test]
fn fit_on_u8_images_is_bit_identical_to_fit_on_the_f32_tensor() {
    let (bytes, labels) = byte_images(150, 20, 3, 2);
    let x = Tensor::from_vec(images_to_f32(&bytes), [150, 20]).unwrap();
    let y = one_hot::<f32>(&labels, 3).unwrap();
    let img = U8Images::new(bytes, [20], 255.0).unwrap();
    for (split, shuffle) in [(0.2, true), (0.0, true), (0.3, false)] {
        let (mut a, mut b) = (model(20, 3), model(20, 3));
        let ha = a.fit(&x, &y, FitOptions { shuffle, ..opts(split) }).unwrap();
        let hb = b.fit(&img, &y, FitOptions { shuffle, ..opts(split) }).unwrap();
        assert_eq!(history_bits(&ha), history_bits(&hb), "split {split}, shuffle {shuffle}");
        assert_eq!(weight_bits(&a.module), weight_bits(&b.module), "split {split}, shuffle {shuffle}");
        assert!(ha.get("loss").unwrap()[2] < ha.get("loss").unwrap()[0], "it learns: {:?}", ha.get("loss"));
        assert_eq!(
            b.evaluate_with(&img, &y, EvaluateOptions { batch_size: 64, ..Default::default() }).unwrap(),
            a.evaluate_with(&x, &y, EvaluateOptions { batch_size: 64, ..Default::default() }).unwrap(),
            "evaluate on the source"
        );
        assert_eq!(bits(&b.predict(&img).unwrap()), bits(&a.predict(&x).unwrap()), "predict on the source");
    }

    // An explicit validation source equals validation_data with the converted tensors.
    let (mut a, mut b) = (model(20, 3), model(20, 3));
    let (xv, yv) = (x.narrow(0, 100, 50), y.narrow(0, 100, 50));
    let (xt, yt) = (x.narrow(0, 0, 100), y.narrow(0, 0, 100));
    let ha = a.fit(&xt, &yt, FitOptions { validation_data: Some((xv, yv.clone())), ..opts(0.0) }).unwrap();
    let val: Box<dyn BatchSource<f32>> = Box::new(img.slice(100..150));
    let hb = b.fit(&img.slice(0..100), &yt, FitOptions { validation_source: Some((val, yv)), ..opts(0.0) }).unwrap();
    assert!(ha.get("val_loss").is_some());
    assert_eq!(history_bits(&ha), history_bits(&hb));
    assert_eq!(weight_bits(&a.module), weight_bits(&b.module));
}

/// A source that records the samples it is asked for.
struct Recording<'a> {
    inner: &'a U8Images,
    gathers: RefCell<Vec<Vec<usize>>>,
    ranges: RefCell<Vec<Range<usize>>>,
}

impl BatchSource<f32> for Recording<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn sample_shape(&self) -> &[usize] {
        self.inner.item_shape()
    }
    fn gather(&self, indices: &[usize]) -> Tensor<f32> {
        self.gathers.borrow_mut().push(indices.to_vec());
        self.inner.gather(indices)
    }
    fn gather_range(&self, range: Range<usize>) -> Tensor<f32> {
        self.ranges.borrow_mut().push(range.clone());
        self.inner.gather_range(range)
    }
    // Bytes are always finite: no need to read them all before training.
    fn first_non_finite(&self) -> Option<(usize, usize)> {
        BatchSource::<f32>::first_non_finite(self.inner)
    }
}

#[test]
fn validation_split_over_a_source_is_an_index_range() {
    let (bytes, labels) = byte_images(50, 8, 2, 3);
    let y = one_hot::<f32>(&labels, 2).unwrap();
    let img = U8Images::new(bytes.clone(), [8], 255.0).unwrap();
    let rec = Recording { inner: &img, gathers: RefCell::default(), ranges: RefCell::default() };
    let mut m = model(8, 2);
    let epochs = 2;
    let h = m.fit(&rec, &y, FitOptions { epochs, batch_size: 16, ..opts(0.2) }).unwrap();
    // floor(50 * 0.8) = 40 for training: each epoch gathers a permutation of 0..40 in batches
    // of at most 16 ...
    let gathers = rec.gathers.borrow();
    assert_eq!(gathers.len(), epochs * 3);
    for (e, epoch) in gathers.chunks(3).enumerate() {
        assert!(epoch.iter().all(|b| b.len() <= 16));
        assert_eq!(epoch.concat(), epoch_permutation(40, 11, e as u64));
    }
    // ... and validates on 40..50 by range: the source is never asked for all of its samples.
    assert_eq!(*rec.ranges.borrow(), vec![40..50; epochs]);
    // The same numbers as the tensor path (which narrows the last 20%).
    let x = Tensor::from_vec(images_to_f32(&bytes), [50, 8]).unwrap();
    let mut t = model(8, 2);
    let ht = t.fit(&x, &y, FitOptions { epochs, batch_size: 16, ..opts(0.2) }).unwrap();
    assert_eq!(history_bits(&h), history_bits(&ht));
    assert_eq!(weight_bits(&m.module), weight_bits(&t.module));
    // A source behind `dyn` works too.
    let dynamic: &dyn BatchSource<f32> = &img;
    assert_eq!(bits(&m.predict(dynamic).unwrap()), bits(&t.predict(&x).unwrap()));
}

#[test]
fn sources_are_checked_like_tensors() {
    let img = U8Images::new(vec![0u8; 40], [4], 255.0).unwrap();
    let y = one_hot::<f32>(&[0; 10], 2).unwrap();
    let mut m = model(5, 2);
    let e = m.fit(&img, &y, opts(0.0)).unwrap_err();
    assert!(matches!(&e, NnError::ShapeMismatch { found, .. } if found == &[10, 4]), "{e}");
    assert!(m.predict(&img).is_err());
    let mut m = model(4, 2);
    let e = m.fit(&img.slice(0..9), &y, opts(0.0)).unwrap_err().to_string();
    assert!(e.contains("9 samples") && e.contains("10"), "{e}");
    let e = m.fit(&img.slice(0..0), &y.narrow(0, 0, 0), opts(0.0)).unwrap_err().to_string();
    assert!(e.contains("no samples"), "{e}");
    let both = FitOptions {
        validation_data: Some((Tensor::zeros([2, 4]), Tensor::zeros([2, 2]))),
        validation_source: Some((Box::new(img.slice(0..2)), Tensor::zeros([2, 2]))),
        ..opts(0.0)
    };
    let e = m.fit(&img, &y, both).unwrap_err().to_string();
    assert!(e.contains("validation_data and validation_source"), "{e}");
    let bad_val =
        FitOptions { validation_source: Some((Box::new(img.slice(0..3)), Tensor::zeros([2, 2]))), ..opts(0.0) };
    assert!(m.fit(&img, &y, bad_val).is_err(), "the validation source is checked too");
    assert_eq!(m.predict(&img.slice(0..0)).unwrap().shape(), &[0, 2], "no samples, no outputs");
}
