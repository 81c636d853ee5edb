//! The MNIST walkthrough: the real MNIST files, pixels scaled to `[0, 1]` and flattened to
//! 784 values, a `784-128(ReLU)-64(ReLU)-10(softmax)` network trained by Adam on the
//! categorical cross-entropy (batch 32, the last 20% of the training images held out for
//! validation, 10 epochs), then evaluated on the 10,000 test images: accuracy, per-class
//! precision/recall/F1 and the confusion matrix.
//!
//! The images stay bytes, as loaded (47 MB for the training set; 188 MB as `f32`): an
//! [`U8Images`] source scales each batch to `[0, 1]` when `fit`, `evaluate` or `predict` asks
//! for it, with the same arithmetic as [`images_to_f32`](nn::data::datasets::images_to_f32), so the
//! results are those of training on the converted arrays, bit for bit.
//!
//! [`run`] trains (and optionally saves the weights as safetensors); [`classify_saved`]
//! loads saved weights and classifies test images, which [`ascii_art`] can draw.

use crate::cli::{check_positive, Real, UsageError, Widths};
use crate::guard::{check_memory, first_non_finite, mlp_memory, short_number, thousands, Divergence};
use crate::plot;
use crate::progress::{EpochLog, Verbosity};
use crate::{out, outln};
use nn::data::datasets::{
    load_idx_pair, load_mnist, Mnist, MNIST_CLASSES, MNIST_TEST_IMAGES, MNIST_TEST_LABELS, MNIST_TRAIN_IMAGES,
};
use nn::data::{BatchSource, U8Images};
use nn::losses::CategoricalCrossentropy;
use nn::metrics::Accuracy;
use nn::metrics::{ClassificationReport, ConfusionMatrix};
use nn::{Activation, Adam, Dense, EvaluateOptions, FitOptions, History, Model, Sequential, StateDict};
use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The bundled MNIST files (`examples/data/mnist`), found from the crate's source directory.
pub fn default_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join("mnist")
}

/// The walkthrough's settings; `Default` is the walkthrough (the Keras tutorial's setup).
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory holding the four MNIST files (gzipped IDX).
    pub data_dir: PathBuf,
    /// Training epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Hidden layer widths (ReLU); the input is 784 and the output 10 (softmax).
    pub hidden: Vec<usize>,
    /// Seed of the initial weights and the shuffling.
    pub seed: u64,
    /// The last fraction of the training images held out for validation (Keras'
    /// `validation_split`).
    pub validation_split: f64,
    /// Batch size of the validation pass after each epoch (Keras' `validation_batch_size`);
    /// `None`: the training batch size, as Keras. Results are the same up to rounding.
    pub validation_batch_size: Option<usize>,
    /// Use only the first `n` training images (before the validation split).
    pub train_limit: Option<usize>,
    /// Evaluate on the first `n` test images only.
    pub test_limit: Option<usize>,
    /// Save the trained weights to this safetensors file.
    pub save: Option<PathBuf>,
    /// Write the learning curves to this SVG file.
    pub plot: Option<PathBuf>,
    /// What to print while training.
    pub verbosity: Verbosity,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            hidden: vec![128, 64],
            seed: 42,
            validation_split: 0.2,
            validation_batch_size: None,
            train_limit: None,
            test_limit: None,
            save: None,
            plot: None,
            verbosity: Verbosity::EveryEpoch,
        }
    }
}

/// What the walkthrough measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The layer widths, e.g. `784-128-64-10`.
    pub architecture: String,
    /// Number of trainable parameters.
    pub num_parameters: usize,
    /// Images trained on, held out for validation, and tested on.
    pub n_train: usize,
    /// Validation images (the last `validation_split` of the training images used).
    pub n_val: usize,
    /// Test images evaluated.
    pub n_test: usize,
    /// Per-epoch loss, accuracy, val_loss, val_accuracy.
    pub history: History,
    /// Wall-clock seconds of each epoch (validation included).
    pub epoch_seconds: Vec<f64>,
    /// Seconds spent loading the data.
    pub load_seconds: f64,
    /// Test loss (categorical cross-entropy).
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// The predicted class of each evaluated test image.
    pub test_predictions: Vec<usize>,
    /// Confusion matrix on the test images (rows: true digit, columns: predicted).
    pub confusion: ConfusionMatrix,
    /// Per-class precision, recall and F1.
    pub report: ClassificationReport,
    /// Where the weights were saved, if asked.
    pub saved: Option<PathBuf>,
    /// Where the plot was written, if asked.
    pub plot: Option<PathBuf>,
}

impl Report {
    /// Mean seconds per epoch.
    pub fn seconds_per_epoch(&self) -> f64 {
        self.epoch_seconds.iter().sum::<f64>() / self.epoch_seconds.len().max(1) as f64
    }
}

/// A trainable stack of layers, as the walkthroughs build them.
pub type Network = Model<Sequential<f32>>;

/// The network `input-hidden..-classes`: `Dense` layers with ReLU, the last with softmax,
/// Glorot-uniform kernels and zero biases (Keras' defaults).
pub fn build_model(input: usize, hidden: &[usize], classes: usize) -> Sequential<f32> {
    let mut model = Sequential::new();
    let mut fan_in = input;
    for &h in hidden {
        model.push(Dense::new(fan_in, h).activation(Activation::Relu));
        fan_in = h;
    }
    model.push(Dense::new(fan_in, classes).activation(Activation::Softmax));
    model
}

/// `"784-128-64-10"`.
pub fn architecture_string(input: usize, hidden: &[usize], classes: usize) -> String {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain([classes])
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// Parses hidden layer widths: `"128,64"`, `"128-64"`, a full architecture
/// `"784-128-64-10"` (its ends must be 784 and 10), or `"none"` / `""` for no hidden layer.
///
/// # Errors
/// A message naming the bad part.
pub fn parse_hidden(s: &str) -> Result<Vec<usize>, String> {
    let parts = Widths::parse(s)?.0;
    let image = 28 * 28;
    if parts.len() >= 2 && parts[0] == image && parts[parts.len() - 1] == MNIST_CLASSES {
        return Ok(parts[1..parts.len() - 1].to_vec());
    }
    if parts.first() == Some(&image) {
        return Err(format!("'{}' starts with the input width 784 but does not end with 10 classes", s.trim()));
    }
    Ok(parts)
}

/// Images of `image_len` pixel bytes each as a source of `[batch, image_len]` inputs in
/// `[0, 1]` (each byte divided by 255, as `images_to_f32`), converted batch by batch.
fn image_source(pixels: Vec<u8>, image_len: usize) -> Result<U8Images, Box<dyn Error>> {
    Ok(U8Images::new(pixels, [image_len], 255.0)?)
}

fn labels_usize(labels: &[u8]) -> Vec<usize> {
    labels.iter().map(|&l| usize::from(l)).collect()
}

/// Pixels of an MNIST image, the input width [`Config::validate`] assumes before the data is
/// read.
const MNIST_IMAGE_LEN: usize = 28 * 28;
/// Training images in MNIST.
const MNIST_TRAIN: usize = 60_000;
/// The batch size of `evaluate_with` and `predict` below.
const EVAL_BATCH: usize = 256;

impl Config {
    /// Checks every setting, each error naming the flag it comes from: counts at least 1, a
    /// finite positive learning rate, a validation split in `[0, 1)`, and a model that fits in
    /// memory (for MNIST's 784-pixel images; [`run`] checks again with the data's size).
    ///
    /// # Errors
    /// A [`UsageError`] naming the flag.
    pub fn validate(&self) -> Result<(), UsageError> {
        check_positive("--epochs", self.epochs)?;
        check_positive("--batch-size", self.batch_size)?;
        if let Some(v) = self.validation_batch_size {
            check_positive("--validation-batch-size", v)?;
        }
        Real::Positive.check_flag("--lr", self.lr)?;
        Real::UnitFromZero.check_flag("--validation-split", self.validation_split)?;
        if let Some(w) = self.hidden.iter().find(|&&w| w == 0) {
            return Err(UsageError(format!("invalid value '{w}' in '--hidden': layer widths must be at least 1")));
        }
        if let Some(n) = self.train_limit.filter(|&n| n < 2) {
            return Err(UsageError(format!("invalid value '{n}' for '--train-limit': must be at least 2")));
        }
        if let Some(n) = self.test_limit {
            check_positive("--test-limit", n)?;
        }
        if let (Some(save), Some(plot)) = (&self.save, &self.plot) {
            if save == plot {
                return Err(UsageError(format!("--save and --plot name the same file `{}`", save.display())));
            }
        }
        self.check_memory(MNIST_IMAGE_LEN, self.train_limit.unwrap_or(MNIST_TRAIN).min(MNIST_TRAIN))
    }

    /// Checks that the model for `input`-pixel images, trained on `n` images, fits in memory.
    fn check_memory(&self, input: usize, n: usize) -> Result<(), UsageError> {
        let widths: Vec<usize> =
            std::iter::once(input).chain(self.hidden.iter().copied()).chain([MNIST_CLASSES]).collect();
        let batch = self.batch_size.max(self.validation_batch_size.unwrap_or(0)).min(n.max(1)).max(EVAL_BATCH);
        let (bytes, params) = mlp_memory(&widths, batch);
        let hidden = Widths(self.hidden.clone());
        check_memory(&format!("--hidden {hidden} (a model of {} parameters)", thousands(params)), bytes)
    }
}

/// Trains and evaluates (see the module docs). Checks first: [`Config::validate`], that
/// `--save` and `--plot` can be written (before the data is even read), and the data's
/// image size. Training stops with a [`Diverged`](crate::guard::Diverged) error if the loss
/// becomes NaN or infinite, and nothing is saved then. Prints the data summary, the model and
/// Keras' progress bar unless `cfg.verbosity` is silent; the binary prints the returned
/// report.
///
/// # Errors
/// A missing or corrupt data file (the message names the file and what is wrong), invalid
/// settings, or a save/plot path that cannot be written.
pub fn run(cfg: &Config) -> Result<Report, Box<dyn Error>> {
    cfg.validate()?;
    for path in cfg.save.iter().chain(&cfg.plot) {
        nn::io::check_writable(path)?;
    }
    let verbose = cfg.verbosity.is_on();
    let t0 = Instant::now();
    let mnist: Mnist = load_mnist(&cfg.data_dir)?;
    let image_len = mnist.image_len();
    let train_file = cfg.data_dir.join(MNIST_TRAIN_IMAGES);
    if image_len == 0 {
        return Err(format!("{}: the images have 0 x 0 pixels: nothing to learn from", train_file.display()).into());
    }
    let n_train = cfg.train_limit.unwrap_or(usize::MAX).min(mnist.n_train());
    let n_test = cfg.test_limit.unwrap_or(usize::MAX).min(mnist.n_test());
    if n_train < 2 {
        return Err(format!("{}: {n_train} images; training needs at least 2", train_file.display()).into());
    }
    if n_test == 0 {
        let test_file = cfg.data_dir.join(MNIST_TEST_IMAGES);
        return Err(format!("{}: no images; the evaluation needs at least 1", test_file.display()).into());
    }
    cfg.check_memory(image_len, n_train)?;
    // Keras' validation_split: the last fraction of the samples, before shuffling, with
    // `floor(n (1 - split))` left for training (as `nn::data::Dataset::split_validation`).
    // Both parts are views of the one byte buffer: nothing is copied or converted here.
    let n_fit = (n_train as f64 * (1.0 - cfg.validation_split)).floor() as usize;
    let n_val = n_train - n_fit;
    if n_fit == 0 {
        return Err(format!("validation split {} leaves no training images", cfg.validation_split).into());
    }
    let one_hot = |labels: &[u8]| nn::data::one_hot::<f32>(&labels_usize(labels), MNIST_CLASSES);
    let Mnist { train_images, train_labels, test_images, test_labels, .. } = mnist;
    let train_images = image_source(train_images, image_len)?;
    let x_train = train_images.slice(0..n_fit);
    let y_train = one_hot(&train_labels[..n_fit])?;
    let validation_source = if n_val > 0 {
        let x_val: Box<dyn BatchSource<f32>> = Box::new(train_images.slice(n_fit..n_train));
        Some((x_val, one_hot(&train_labels[n_fit..n_train])?))
    } else {
        None
    };
    drop(train_images);
    let x_test = image_source(test_images, image_len)?.slice(0..n_test);
    let y_test = one_hot(&test_labels[..n_test])?;
    let test_labels = labels_usize(&test_labels[..n_test]);
    drop(train_labels);
    let load_seconds = t0.elapsed().as_secs_f64();

    nn::manual_seed(cfg.seed);
    let mut model = Model::new(build_model(image_len, &cfg.hidden, MNIST_CLASSES));
    let architecture = architecture_string(image_len, &cfg.hidden, MNIST_CLASSES);
    model.compile(Adam::new(cfg.lr), CategoricalCrossentropy::new(), nn::metrics![Accuracy::new()]);
    if verbose {
        outln!(
            "MNIST from {}: {} training images ({} for validation), {} test images, {} pixels in [0, 1] each (loaded in {:.1}s)",
            crate::display_path(&cfg.data_dir),
            n_train,
            n_val,
            n_test,
            image_len,
            load_seconds
        )?;
        out!("{}", model.summary())?;
        outln!(
            "Training {architecture}: Adam(lr={}), categorical cross-entropy, batch size {}, {} epochs, seed {}",
            short_number(cfg.lr),
            cfg.batch_size,
            cfg.epochs,
            cfg.seed
        )?;
    }

    let mut log = EpochLog::new(cfg.verbosity, cfg.epochs);
    let mut guard = Divergence::new(cfg.lr);
    let opts = FitOptions {
        epochs: cfg.epochs,
        batch_size: cfg.batch_size,
        validation_source,
        validation_batch_size: cfg.validation_batch_size,
        verbose: cfg.verbosity.fit_verbose(),
        seed: Some(cfg.seed),
        ..Default::default()
    };
    let fit = model.fit_with_callbacks(&x_train, &y_train, opts, &mut [&mut log, &mut guard]);
    let history = guard.check(fit)?;
    drop((x_train, y_train));

    let scores =
        model.evaluate_with(&x_test, &y_test, EvaluateOptions { batch_size: EVAL_BATCH, ..Default::default() })?;
    let test_predictions = model.predict_with(&x_test, EVAL_BATCH)?.argmax(-1).0;
    let confusion = nn::metrics::confusion_matrix(&test_labels, &test_predictions, MNIST_CLASSES)?;
    let report = ClassificationReport::from_confusion(&confusion);

    if let Some(path) = &cfg.save {
        save_model(&model, path)?;
    }
    if let Some(path) = &cfg.plot {
        plot::panels(path, &plot::history_panels(&history, "MNIST learning curve"))?;
    }
    Ok(Report {
        num_parameters: model.num_parameters(),
        architecture,
        n_train: n_fit,
        n_val,
        n_test,
        history,
        epoch_seconds: log.epoch_seconds,
        load_seconds,
        test_loss: scores.get("loss").copied().unwrap_or(f64::NAN),
        test_accuracy: confusion.accuracy()?,
        test_predictions,
        confusion,
        report,
        saved: cfg.save.clone(),
        plot: cfg.plot.clone(),
    })
}

/// Saves the model's weights with [`Model::save`]: a safetensors file with the names and
/// layouts of the equivalent `torch.nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)`
/// (`0.weight` `[out, in]`, `0.bias`, `2.weight`, ...), which loads it with `strict=True`
/// (`crates/nn/examples/check_in_pytorch.py` checks it), written atomically. Refuses NaN or
/// infinite weights, leaving an existing file as it was.
///
/// # Errors
/// A non-finite weight (naming the tensor), or the file cannot be written (naming it).
pub fn save_model(model: &Network, path: &Path) -> Result<(), Box<dyn Error>> {
    if let Some((name, index, v)) = first_non_finite(&model.state_dict()) {
        return Err(
            format!("{}: not saved: weight `{name}` {index:?} is {v} (the training diverged)", path.display()).into()
        );
    }
    model.save(path)?;
    Ok(())
}

/// Loads a model saved by [`save_model`] (or any safetensors file holding a stack of dense
/// layers `N.weight` `[out, in]`, `N.bias` `[out]` with increasing indices `N`: PyTorch's
/// `0, 2, 4, ...`, or `0, 1, 2, ...` as written before layers were numbered as in PyTorch): the
/// layer widths are read from the weight shapes. Returns the model and its architecture string.
///
/// The file is checked before a model is built from it, so that no file can make the
/// program panic: every layer has at least one unit, each layer's input width is the
/// previous one's output width (the first's is `input`), the last layer has `classes`
/// outputs, every weight and bias is finite, and no other tensor is present.
///
/// # Errors
/// The file is missing or not valid safetensors, or fails one of the checks above; each
/// message names the file and the tensor.
pub fn load_model(path: &Path, input: usize, classes: usize) -> Result<(Network, String), Box<dyn Error>> {
    let sd: StateDict<f32> = nn::io::load_safetensors(path)?;
    let bad = |msg: String| -> Box<dyn Error> { format!("{}: {msg}", path.display()).into() };
    let mut layers: Vec<usize> =
        sd.keys().filter_map(|k| k.strip_suffix(".weight").and_then(|i| i.parse().ok())).collect();
    layers.sort_unstable();
    let mut widths = Vec::new();
    for &i in &layers {
        let w = &sd[&format!("{i}.weight")];
        if w.ndim() != 2 {
            return Err(bad(format!("tensor `{i}.weight` has shape {:?}, expected [out, in]", w.shape())));
        }
        let (out, inp) = (w.shape()[0], w.shape()[1]);
        let expected_in = widths.last().copied().unwrap_or(input);
        if inp != expected_in {
            return Err(bad(format!(
                "tensor `{i}.weight` has shape {:?}: its input width {inp} should be {expected_in}",
                w.shape()
            )));
        }
        if out == 0 {
            return Err(bad(format!("tensor `{i}.weight` has shape {:?}: a layer of 0 units", w.shape())));
        }
        match sd.get(&format!("{i}.bias")) {
            Some(b) if b.shape() == [out] => {}
            Some(b) => return Err(bad(format!("tensor `{i}.bias` has shape {:?}, expected [{out}]", b.shape()))),
            None => return Err(bad(format!("tensor `{i}.bias` is missing (layer {i} has a weight)"))),
        }
        widths.push(out);
    }
    let Some((&found_classes, hidden)) = widths.split_last() else {
        return Err(bad("no dense layer weights (`0.weight`) found; not a model saved by this example".into()));
    };
    if found_classes != classes {
        return Err(bad(format!(
            "tensor `{}.weight` gives {found_classes} outputs, but the data has {classes} classes",
            layers[layers.len() - 1]
        )));
    }
    let ours = |k: &str| {
        let layer = k.strip_suffix(".weight").or_else(|| k.strip_suffix(".bias"));
        layer.and_then(|l| l.parse::<usize>().ok()).is_some_and(|l| layers.contains(&l))
    };
    if let Some(extra) = sd.keys().find(|k| !ours(k)) {
        let n = widths.len();
        return Err(bad(format!("unexpected tensor `{extra}` (not a weight or bias of the {n} dense layers)")));
    }
    if let Some((name, index, v)) = first_non_finite(&sd) {
        return Err(bad(format!("tensor `{name}` holds {v} at {index:?}: the weights of a diverged run?")));
    }
    // With the architecture known in advance, `model.load_weights(path)` is the one-liner;
    // here it comes from the file, so the state dict read above is loaded directly.
    let mut model = Model::new(build_model(input, hidden, found_classes));
    model.load_state_dict(&sd).map_err(|e| bad(e.to_string()))?;
    Ok((model, architecture_string(input, hidden, found_classes)))
}

/// One classified test image.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Index in the test set.
    pub index: usize,
    /// The true digit.
    pub label: usize,
    /// The predicted digit.
    pub predicted: usize,
    /// The model's probability for each digit.
    pub probabilities: Vec<f32>,
    /// The image's pixels (0..=255, row by row).
    pub pixels: Vec<u8>,
}

/// What [`classify_saved`] found.
#[derive(Clone, Debug)]
pub struct Classified {
    /// The model's layer widths.
    pub architecture: String,
    /// Test images evaluated.
    pub n_test: usize,
    /// Accuracy on them.
    pub accuracy: f64,
    /// The predicted class of every evaluated test image.
    pub predictions: Vec<usize>,
    /// The images asked for in detail.
    pub shown: Vec<Prediction>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

/// Loads weights saved by `classification --save`, classifies the first `test_limit` (all
/// if `None`) MNIST test images from `data_dir`, and details `show` of them from `first`.
///
/// # Errors
/// A missing or corrupt model or data file (the message names it), or a model that does not
/// take MNIST images.
pub fn classify_saved(
    model_path: &Path,
    data_dir: &Path,
    test_limit: Option<usize>,
    first: usize,
    show: usize,
) -> Result<Classified, Box<dyn Error>> {
    let images_file = data_dir.join(MNIST_TEST_IMAGES);
    let (images, labels) = load_idx_pair(&images_file, data_dir.join(MNIST_TEST_LABELS), MNIST_CLASSES)?;
    let (rows, cols) = (images.dims[1], images.dims[2]);
    let image_len = rows * cols;
    if image_len == 0 || labels.is_empty() {
        let what = if image_len == 0 { format!("the images have {rows} x {cols} pixels") } else { "no images".into() };
        return Err(format!("{}: {what}: nothing to classify", images_file.display()).into());
    }
    let (mut model, architecture) = load_model(model_path, image_len, MNIST_CLASSES)?;
    let n_test = test_limit.unwrap_or(usize::MAX).min(labels.len());
    let images = image_source(images.data, image_len)?;
    let probs = model.predict(&images.slice(0..n_test))?;
    let predictions = probs.argmax(-1).0;
    let truth = labels_usize(&labels[..n_test]);
    let hits = predictions.iter().zip(&truth).filter(|(p, t)| p == t).count();
    let classes = probs.shape()[1];
    let end = first.saturating_add(show).min(labels.len());
    if first >= labels.len() && show > 0 {
        return Err(format!("--first {first} is beyond the {} test images", labels.len()).into());
    }
    let mut shown = Vec::new();
    for (index, &label) in labels.iter().enumerate().take(end).skip(first) {
        let pixels = images.bytes()[index * image_len..(index + 1) * image_len].to_vec();
        let (p, predicted) = if index < n_test {
            (probs.data()[index * classes..(index + 1) * classes].to_vec(), predictions[index])
        } else {
            let row = model.predict(&images.slice(index..index + 1))?;
            let predicted = row.argmax(-1).0[0];
            (row.into_vec(), predicted)
        };
        shown.push(Prediction { index, label: usize::from(label), predicted, probabilities: p, pixels });
    }
    Ok(Classified {
        architecture,
        n_test,
        accuracy: hits as f64 / n_test.max(1) as f64,
        predictions,
        shown,
        rows,
        cols,
    })
}

/// Draws a grey image as text, one line per pixel row, two characters per pixel (so the
/// digit keeps its proportions): `" "` for background up to `"@@"` for full ink.
pub fn ascii_art(pixels: &[u8], rows: usize, cols: usize) -> Vec<String> {
    const RAMP: &[u8] = b" .:-=+*#%@";
    (0..rows)
        .map(|r| {
            pixels[r * cols..(r + 1) * cols]
                .iter()
                .flat_map(|&p| {
                    let c = RAMP[usize::from(p) * (RAMP.len() - 1) / 255] as char;
                    [c, c]
                })
                .collect()
        })
        .collect()
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.shown {
            let art = ascii_art(&p.pixels, self.rows, self.cols);
            let mut ranked: Vec<(usize, f32)> = p.probabilities.iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let verdict = if p.predicted == p.label { "correct" } else { "WRONG" };
            let mut side = vec![
                format!("test image #{}", p.index),
                format!("label:      {}", p.label),
                format!("prediction: {}  ({verdict})", p.predicted),
                String::new(),
                "top probabilities:".to_string(),
            ];
            side.extend(ranked.iter().take(3).map(|(d, q)| format!("  {d}: {:6.2}%", 100.0 * q)));
            // Skip the blank rows at the top and bottom of the image to keep it compact.
            let blank = |l: &String| l.trim().is_empty();
            let top = art.iter().position(|l| !blank(l)).unwrap_or(0).saturating_sub(1);
            let bottom = art.iter().rposition(|l| !blank(l)).map_or(art.len(), |b| (b + 2).min(art.len()));
            let width = 2 * self.cols;
            writeln!(f, "+{}+", "-".repeat(width))?;
            for (i, line) in art[top..bottom].iter().enumerate() {
                match side.get(i).filter(|t| !t.is_empty()) {
                    Some(text) => writeln!(f, "|{line}|  {text}")?,
                    None => writeln!(f, "|{line}|")?,
                }
            }
            writeln!(f, "+{}+", "-".repeat(width))?;
        }
        writeln!(
            f,
            "Model {}: accuracy on the first {} test images: {:.2}%",
            self.architecture,
            self.n_test,
            100.0 * self.accuracy
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        writeln!(
            f,
            "Test set ({} images): loss {:.4}, accuracy {:.4} ({:.2}%)",
            self.n_test,
            self.test_loss,
            self.test_accuracy,
            100.0 * self.test_accuracy
        )?;
        writeln!(f)?;
        writeln!(f, "Per-class precision, recall and F1 on the test set:")?;
        write!(f, "{:.4}", self.report)?;
        writeln!(f)?;
        writeln!(f, "Confusion matrix (rows: true digit, columns: predicted digit):")?;
        write!(f, "     ")?;
        let width = self.confusion.counts().iter().map(|c| c.to_string().len()).max().unwrap_or(1).max(3);
        for c in 0..self.confusion.n_classes() {
            write!(f, " {c:>width$}")?;
        }
        writeln!(f)?;
        for (t, row) in self.confusion.to_rows().iter().enumerate() {
            write!(f, "  {t:>2} ")?;
            for c in row {
                write!(f, " {c:>width$}")?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{} ({} parameters): {} epochs on {} images, {:.1}s per epoch, test accuracy {:.2}%",
            self.architecture,
            self.num_parameters,
            self.epoch_seconds.len(),
            self.n_train,
            self.seconds_per_epoch(),
            100.0 * self.test_accuracy
        )?;
        if let Some(p) = &self.saved {
            writeln!(f, "Weights saved to {} (classify with --load {})", p.display(), p.display())?;
        }
        if let Some(p) = &self.plot {
            writeln!(f, "Learning curves written to {}", p.display())?;
        }
        Ok(())
    }
}
