//! The training loop: compile/fit/evaluate/predict, validation split, callbacks, History,
//! resuming exactly, and a real data set (iris).

use autograd::{Float, Tensor};
use nn::callbacks::{Callback, Mode, TrainContext};
use nn::data::one_hot;
use nn::losses::{BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError, SparseCategoricalCrossentropy};
use nn::{
    manual_seed, Activation, Adam, Dense, Dropout, EarlyStopping, EvaluateOptions, FitOptions, LearningRateScheduler,
    Logs, Model, ModelCheckpoint, Module, NnError, Schedule, Sequential, Sgd,
};
use rand::{rngs::StdRng, RngExt, SeedableRng};
use std::cell::RefCell;
use std::rc::Rc;

/// Three Gaussian blobs in `dim` dimensions.
fn blobs(n: usize, dim: usize, seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let mut r = StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 3;
        for d in 0..dim {
            let centre = if d % 3 == c { 2.0 } else { 0.0 };
            x.push(centre + r.random_range(-1.0f32..1.0));
        }
        labels.push(c);
    }
    (Tensor::from_vec(x, [n, dim]).unwrap(), labels)
}

fn labels_tensor(labels: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(labels.iter().map(|&l| l as f32).collect(), [labels.len()]).unwrap()
}

fn weights<T: Float>(m: &dyn Module<T>) -> Vec<Vec<T>> {
    m.parameters().iter().map(|p| p.value().to_vec()).collect()
}

#[test]
fn the_issue_example_runs() {
    // The code from the issue, on synthetic 784-feature data (one short epoch, verbose).
    manual_seed(0);
    let (x_train, labels) = blobs(320, 784, 1);
    let y_train = one_hot::<f32>(&labels, 3).unwrap();
    let mut model = Model::new(
        Sequential::new()
            .add(Dense::new(784, 128).activation(Activation::Relu))
            .add(Dense::new(128, 64).activation(Activation::Relu))
            .add(Dense::new(64, 3).activation(Activation::Softmax)),
    );
    model.compile(Adam::default(), CategoricalCrossentropy::new(), nn::metrics![nn::metrics::Accuracy::new()]);
    let history = model
        .fit(&x_train, &y_train, FitOptions { epochs: 2, batch_size: 32, validation_split: 0.2, ..Default::default() })
        .unwrap();
    assert_eq!(history.epoch, vec![0, 1]);
    assert_eq!(history.history.keys().collect::<Vec<_>>(), ["loss", "accuracy", "val_loss", "val_accuracy"]);
    let (x_test, lt) = blobs(60, 784, 2);
    let scores = model.evaluate(&x_test, &one_hot(&lt, 3).unwrap()).unwrap();
    assert!(scores["accuracy"] > 0.9, "{scores:?}");
    let probs = model.predict(&x_test).unwrap();
    assert_eq!(probs.shape(), &[60, 3]);
    for row in probs.data().chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "predict applies the softmax");
    }
}

#[test]
fn fit_reduces_loss_and_metrics_match_evaluate() {
    manual_seed(1);
    let (x, labels) = blobs(200, 6, 3);
    let y = labels_tensor(&labels);
    let mut model = Model::new(
        Sequential::new()
            .add(Dense::new(6, 16).activation(Activation::Tanh))
            .add(Dense::new(16, 3).activation(Activation::Softmax)),
    );
    model.compile(
        Sgd::new(0.1).momentum(0.9),
        SparseCategoricalCrossentropy::new(),
        nn::metrics![nn::metrics::Accuracy::new(), nn::metrics::MeanSquaredError::new()],
    );
    let h = model
        .fit(
            &x,
            &y,
            FitOptions {
                epochs: 8,
                batch_size: 20,
                validation_split: 0.25,
                verbose: 0,
                seed: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
    let loss = h.get("loss").unwrap();
    assert!(loss[7] < loss[0] * 0.5, "{loss:?}");
    assert_eq!(
        h.history.keys().collect::<Vec<_>>(),
        ["loss", "accuracy", "mse", "val_loss", "val_accuracy", "val_mse"]
    );
    // The validation set is the last 25% (samples 150..200) and the val_ metrics are those
    // of the final weights of the epoch.
    let (xv, yv) = (x.narrow(0, 150, 50), y.narrow(0, 150, 50));
    let ev = model.evaluate_with(&xv, &yv, EvaluateOptions { batch_size: 20, ..Default::default() }).unwrap();
    assert_eq!(ev["loss"], h.last("val_loss").unwrap());
    assert_eq!(ev["accuracy"], h.last("val_accuracy").unwrap());
    assert_eq!(ev["mse"], h.last("val_mse").unwrap());
    assert!(ev["accuracy"] > 0.9);
    // Batch size does not change evaluate beyond rounding.
    let ev2 = model.evaluate_with(&xv, &yv, EvaluateOptions { batch_size: 7, ..Default::default() }).unwrap();
    assert!((ev2["loss"] - ev["loss"]).abs() < 1e-6);
    // predict = forward in inference mode, independent of batching.
    let p = model.predict(&x).unwrap();
    let direct = model.module.forward(&autograd::Var::constant(x.clone()), &mut nn::Ctx::no_grad());
    assert_eq!(p.to_vec(), direct.value().to_vec());
}

#[test]
fn binary_classification_with_sigmoid() {
    manual_seed(2);
    let mut r = StdRng::seed_from_u64(0);
    let x = Tensor::<f32>::rand_uniform([300, 2], -1.0, 1.0, &mut r);
    let y: Vec<f32> = x.data().chunks(2).map(|p| if p[0] + p[1] > 0.0 { 1.0 } else { 0.0 }).collect();
    let y = Tensor::from_vec(y, [300, 1]).unwrap();
    let mut model = Model::new(
        Sequential::new()
            .add(Dense::new(2, 8).activation(Activation::Relu))
            .add(Dense::new(8, 1).activation(Activation::Sigmoid)),
    );
    model.compile(Adam::new(0.05), BinaryCrossentropy::new(), nn::metrics![nn::metrics::Accuracy::new()]);
    let h = model.fit(&x, &y, FitOptions { epochs: 20, verbose: 0, seed: Some(0), ..Default::default() }).unwrap();
    assert!(h.last("accuracy").unwrap() > 0.95, "{:?}", h.get("accuracy"));
    let p = model.predict(&x).unwrap();
    assert!(p.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
}

/// Records the weights at every epoch end (before later callbacks run).
struct Recorder(Rc<RefCell<Vec<Vec<Vec<f64>>>>>);
impl Callback<f64> for Recorder {
    fn on_epoch_end(&mut self, _e: usize, _l: &mut Logs, ctx: &mut TrainContext<'_, f64>) -> Result<(), NnError> {
        self.0.borrow_mut().push(weights(&*ctx.module));
        Ok(())
    }
}

#[test]
fn early_stopping_stops_and_restores_best_weights() {
    // Train towards y = x while validating against y = -x: val_loss is best after the
    // first epoch and gets worse every epoch after.
    let x = Tensor::<f64>::from_vec((0..40).map(|i| i as f64 / 20.0 - 1.0).collect(), [40, 1]).unwrap();
    let mut model = Model::new(
        Sequential::new().add(Dense::from_weights(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap()),
    );
    model.compile(Sgd::new(0.1), MeanSquaredError, []);
    let recorded = Rc::new(RefCell::new(vec![]));
    let mut rec = Recorder(recorded.clone());
    let mut es = EarlyStopping::new("val_loss").patience(2).restore_best_weights(true);
    let opts = FitOptions {
        epochs: 50,
        batch_size: 8,
        validation_data: Some((x.clone(), x.scale(-1.0))),
        verbose: 0,
        seed: Some(0),
        ..Default::default()
    };
    let h = model.fit_with_callbacks(&x, &x, opts, &mut [&mut rec, &mut es]).unwrap();
    let val = h.get("val_loss").unwrap();
    assert!(val[1] > val[0] && val[2] > val[1], "{val:?}");
    assert_eq!(h.len(), 3, "stopped after `patience` epochs without improvement");
    assert_eq!(es.stopped_epoch(), Some(2));
    assert_eq!(es.best().map(|b| b.0), Some(0));
    let rec = recorded.borrow();
    assert_ne!(rec[2], rec[0]);
    assert_eq!(weights(&model.module), rec[0], "weights restored to the best epoch's");

    // Without an early stop, the best weights are restored at the end too (Keras 3).
    let mut model = Model::new(
        Sequential::new().add(Dense::from_weights(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap()),
    );
    model.compile(Sgd::new(0.1), MeanSquaredError, []);
    let recorded = Rc::new(RefCell::new(vec![]));
    let mut rec = Recorder(recorded.clone());
    let mut es = EarlyStopping::new("val_loss").patience(10).restore_best_weights(true);
    let opts = FitOptions {
        epochs: 3,
        batch_size: 8,
        validation_data: Some((x.clone(), x.scale(-1.0))),
        verbose: 0,
        seed: Some(0),
        ..Default::default()
    };
    let h = model.fit_with_callbacks(&x, &x, opts, &mut [&mut rec, &mut es]).unwrap();
    assert_eq!((h.len(), es.stopped_epoch()), (3, None));
    assert_eq!(weights(&model.module), recorded.borrow()[0]);

    // min_delta: improvements smaller than it do not count.
    let mut model = Model::new(
        Sequential::new().add(Dense::from_weights(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap()),
    );
    model.compile(Sgd::new(1e-6), MeanSquaredError, []);
    let mut es = EarlyStopping::new("loss").min_delta(0.01).patience(1);
    let h = model
        .fit_with_callbacks(&x, &x, FitOptions { epochs: 10, verbose: 0, ..Default::default() }, &mut [&mut es])
        .unwrap();
    assert_eq!(h.len(), 2);
    // An unknown metric is an error that lists the available ones.
    let mut es = EarlyStopping::new("val_acc");
    let e =
        model.fit_with_callbacks(&x, &x, FitOptions { verbose: 0, ..Default::default() }, &mut [&mut es]).unwrap_err();
    assert!(e.to_string().contains("val_acc") && e.to_string().contains("loss"), "{e}");
}

#[test]
fn checkpoint_every_epoch_and_on_best() {
    let x = Tensor::<f64>::from_vec((0..40).map(|i| i as f64 / 20.0 - 1.0).collect(), [40, 1]).unwrap();
    let make = || {
        let mut m = Model::new(
            Sequential::new().add(Dense::from_weights(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap()),
        );
        m.compile(Adam::<f64>::new(0.05), MeanSquaredError, []);
        m
    };
    // Validation against y = -x again: only epoch 0 is an improvement.
    let saved = Rc::new(RefCell::new(vec![]));
    let s2 = saved.clone();
    let mut best = ModelCheckpoint::new(move |ev| {
        assert_eq!(ev.model.keys().collect::<Vec<_>>(), ["0.weight", "0.bias"]);
        assert_eq!(ev.optimizer.metadata["optimizer"], "adam");
        s2.borrow_mut().push((ev.epoch, ev.logs["val_loss"]));
        Ok(())
    })
    .save_best_only("val_loss");
    let mut every = ModelCheckpoint::in_memory();
    let mut m = make();
    let opts = FitOptions {
        epochs: 4,
        batch_size: 8,
        validation_data: Some((x.clone(), x.scale(-1.0))),
        verbose: 0,
        ..Default::default()
    };
    let h = m.fit_with_callbacks(&x, &x, opts, &mut [&mut best, &mut every]).unwrap();
    let saved = saved.borrow();
    assert_eq!(saved.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0]);
    assert_eq!(saved[0].1, h.get("val_loss").unwrap()[0]);
    let (epoch, model_sd, opt_sd) = every.last_saved().unwrap();
    assert_eq!(*epoch, 3);
    assert_eq!(model_sd, &m.state_dict());
    assert_eq!(opt_sd.metadata["step"], (4 * 5).to_string());
    // Errors from the sink stop training.
    let mut failing = ModelCheckpoint::new(|_| Err(NnError::config("disk full")));
    let e = make().fit_with_callbacks(
        &x,
        &x,
        FitOptions { epochs: 3, verbose: 0, ..Default::default() },
        &mut [&mut failing],
    );
    assert!(e.unwrap_err().to_string().contains("disk full"));
    let _ = Mode::Min;
}

#[test]
fn learning_rate_schedule_callback_and_history_files() {
    let (x, labels) = blobs(60, 3, 4);
    let y = labels_tensor(&labels);
    manual_seed(3);
    let mut model = Model::new(Sequential::new().add(Dense::new(3, 3).activation(Activation::Softmax)));
    model.compile(Sgd::new(1.0), SparseCategoricalCrossentropy::new(), nn::metrics![nn::metrics::Accuracy::new()]);
    let sched = Schedule::Step { initial: 0.2, step_size: 2, gamma: 0.1 };
    let opts = FitOptions {
        epochs: 5,
        verbose: 0,
        callbacks: vec![Box::new(LearningRateScheduler::per_epoch(sched))],
        ..Default::default()
    };
    let h = model.fit(&x, &y, opts).unwrap();
    let lrs = h.get("learning_rate").unwrap();
    let want = [0.2, 0.2, 0.02, 0.02, 0.002];
    assert!(lrs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15), "{lrs:?}");
    assert!((model.optimizer().unwrap().learning_rate() - 0.002).abs() < 1e-15);

    // Per step: the optimizer's step count drives the schedule.
    let mut model = Model::new(Sequential::new().add(Dense::new(3, 3).activation(Activation::Softmax)));
    model.compile(Sgd::new(1.0), SparseCategoricalCrossentropy::new(), []);
    let cos = Schedule::Cosine { initial: 0.1, decay_steps: 4, alpha: 0.0 };
    let opts = FitOptions {
        epochs: 2,
        batch_size: 30,
        verbose: 0,
        callbacks: vec![Box::new(LearningRateScheduler::per_step(cos))],
        ..Default::default()
    };
    let h2 = model.fit(&x, &y, opts).unwrap();
    // 2 steps per epoch: the last step of epoch 0 uses t=1, of epoch 1 t=3.
    assert!((h2.get("learning_rate").unwrap()[0] - cos.value(1)).abs() < 1e-15);
    assert!((h2.get("learning_rate").unwrap()[1] - cos.value(3)).abs() < 1e-15);

    // History as CSV and JSON.
    let csv = h.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "epoch,loss,accuracy,learning_rate");
    assert_eq!(lines.len(), 6);
    let row: Vec<f64> = lines[3].split(',').map(|v| v.parse().unwrap()).collect();
    assert_eq!(row, vec![2.0, h.get("loss").unwrap()[2], h.get("accuracy").unwrap()[2], lrs[2]]);
    let json = h.to_json();
    assert!(json.starts_with("{\"epoch\":[0,1,2,3,4],\"history\":{\"loss\":["), "{json}");
    assert!(json.contains(&format!("\"learning_rate\":[{:?},{:?},", lrs[0], lrs[1])), "{json}");
    let dir = std::env::temp_dir().join(format!("nn-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    h.write_csv(dir.join("h.csv")).unwrap();
    h.write_json(dir.join("h.json")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("h.csv")).unwrap(), csv);
    assert_eq!(std::fs::read_to_string(dir.join("h.json")).unwrap(), json);
    let e = h.write_csv(dir.join("missing-dir").join("h.csv")).unwrap_err();
    assert!(matches!(&e, NnError::Io { path, .. } if path.ends_with("missing-dir/h.csv")), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn resumable_model(seed: u64) -> Model<Sequential<f32>> {
    manual_seed(seed);
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(5, 16).activation(Activation::Relu))
            .add(Dropout::new(0.3))
            .add(Dense::new(16, 3).activation(Activation::Softmax)),
    );
    m.compile(Adam::new(0.01), SparseCategoricalCrossentropy::new(), nn::metrics![nn::metrics::Accuracy::new()]);
    m
}

fn resume_opts(initial_epoch: usize, epochs: usize) -> FitOptions<f32> {
    FitOptions {
        epochs,
        initial_epoch,
        batch_size: 16,
        validation_split: 0.2,
        verbose: 0,
        seed: Some(77),
        callbacks: vec![Box::new(LearningRateScheduler::per_epoch(Schedule::Exponential {
            initial: 0.01,
            decay_steps: 1,
            decay_rate: 0.7,
            staircase: false,
        }))],
        ..Default::default()
    }
}

#[test]
fn resume_is_bit_identical() {
    let (x, labels) = blobs(150, 5, 9);
    let y = labels_tensor(&labels);
    // Straight: 4 epochs.
    let mut a = resumable_model(1);
    let init = a.state_dict();
    let ha = a.fit(&x, &y, resume_opts(0, 4)).unwrap();
    // 2 epochs, export, import into fresh objects, 2 more.
    let mut b = resumable_model(1);
    b.load_state_dict(&init).unwrap();
    b.fit(&x, &y, resume_opts(0, 2)).unwrap();
    let model_sd = b.state_dict();
    let opt_sd = b.optimizer_state_dict().unwrap();
    drop(b);
    let mut c = resumable_model(12345); // different initial weights, fresh optimizer
    assert_ne!(c.state_dict(), model_sd);
    c.load_state_dict(&model_sd).unwrap();
    c.load_optimizer_state_dict(&opt_sd).unwrap();
    let hc = c.fit(&x, &y, resume_opts(2, 4)).unwrap();
    let bits = |m: &Model<Sequential<f32>>| -> Vec<Vec<u32>> {
        m.module.parameters().iter().map(|p| p.value().data().iter().map(|v| v.to_bits()).collect()).collect()
    };
    assert_eq!(bits(&a), bits(&c), "resumed training must match bit for bit");
    assert_eq!(hc.epoch, vec![2, 3]);
    assert_eq!(hc.get("loss").unwrap(), &ha.get("loss").unwrap()[2..]);
    assert_eq!(hc.get("val_accuracy").unwrap(), &ha.get("val_accuracy").unwrap()[2..]);
    assert_eq!(a.optimizer().unwrap().iterations(), c.optimizer().unwrap().iterations());
    // The same through a checkpoint file written by the ModelCheckpoint callback.
    let dir = std::env::temp_dir().join(format!("nn-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = resumable_model(1);
    b.load_state_dict(&init).unwrap();
    let mut opts = resume_opts(0, 2);
    opts.callbacks.push(Box::new(ModelCheckpoint::to_file(dir.join("ckpt-{epoch}.safetensors"))));
    b.fit(&x, &y, opts).unwrap();
    assert!(dir.join("ckpt-1.safetensors").exists());
    let ck = nn::io::load_checkpoint::<f32>(dir.join("ckpt-2.safetensors")).unwrap();
    assert_eq!(ck.epoch, 2);
    let mut c = resumable_model(999);
    c.load_state_dict(&ck.model).unwrap();
    c.load_optimizer_state_dict(&ck.optimizer).unwrap();
    c.fit(&x, &y, resume_opts(ck.epoch, 4)).unwrap();
    assert_eq!(bits(&a), bits(&c), "resumed from a file must match bit for bit");
    std::fs::remove_dir_all(&dir).unwrap();
    // Sanity: dropout and shuffling really are in play (another seed gives other weights).
    let mut d = resumable_model(1);
    d.load_state_dict(&init).unwrap();
    d.fit(&x, &y, FitOptions { seed: Some(78), ..resume_opts(0, 4) }).unwrap();
    assert_ne!(bits(&a), bits(&d));
    // The optimizer state is checked against the model.
    let mut small = Model::new(Sequential::<f32>::new().add(Dense::new(5, 3)));
    small.compile(Adam::new(0.01), SparseCategoricalCrossentropy::new(), []);
    let e = small.load_optimizer_state_dict(&opt_sd).unwrap_err();
    assert!(matches!(e, NnError::ShapeMismatch { .. } | NnError::UnexpectedTensor { .. }), "{e}");
}

#[test]
fn iris_reaches_90_percent_on_held_out_data() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/sklearn/iris.csv");
    let table = nn::data::datasets::load_iris(path).expect("iris.csv");
    assert_eq!((table.n_rows, table.n_cols), (150, 4));
    // The file is sorted by class: shuffle once (seeded), hold out the last 30.
    let order = nn::data::epoch_permutation(150, 2024, 0);
    let x: Vec<f32> = order.iter().flat_map(|&i| table.row(i).unwrap().iter().map(|&v| v as f32)).collect();
    let labels: Vec<usize> = order.iter().map(|&i| table.labels[i]).collect();
    let mut x = Tensor::from_vec(x, [150, 4]).unwrap();
    // Standardise with the training part's statistics.
    let train = x.narrow(0, 0, 120);
    let mean = train.sum_axes(&[0], false).scale(1.0 / 120.0);
    let var = train.sub(&mean).mul(&train.sub(&mean)).sum_axes(&[0], false).scale(1.0 / 120.0);
    x = x.sub(&mean).div(&var.map(|v| v.sqrt()));
    let y = one_hot::<f32>(&labels, 3).unwrap();
    let (x_train, y_train) = (x.narrow(0, 0, 120), y.narrow(0, 0, 120));
    let (x_test, y_test) = (x.narrow(0, 120, 30), y.narrow(0, 120, 30));

    manual_seed(7);
    let mut model = Model::new(
        Sequential::new()
            .add(Dense::new(4, 16).activation(Activation::Relu))
            .add(Dense::new(16, 3).activation(Activation::Softmax)),
    );
    model.compile(Adam::new(0.01), CategoricalCrossentropy::new(), nn::metrics![nn::metrics::Accuracy::new()]);
    let start = std::time::Instant::now();
    let h = model
        .fit(
            &x_train,
            &y_train,
            FitOptions { epochs: 60, batch_size: 16, verbose: 0, seed: Some(1), ..Default::default() },
        )
        .unwrap();
    let scores = model.evaluate(&x_test, &y_test).unwrap();
    eprintln!("iris: {:?} after {:?}; train accuracy {:?}", scores, start.elapsed(), h.last("accuracy"));
    assert!(scores["accuracy"] >= 0.9, "held-out accuracy {scores:?}");
}

#[test]
fn progress_bar_format() {
    use nn::train::{bar, final_line, format_logs};
    assert_eq!(bar(375, 375), "375/375 [==============================]");
    assert_eq!(bar(1, 375), "  1/375 [..............................]");
    assert_eq!(bar(200, 375), "200/375 [===============>..............]");
    let logs = Logs::from([
        ("loss".to_string(), 0.25),
        ("accuracy".to_string(), 0.93),
        ("val_loss".to_string(), 0.000_123_4),
        ("val_accuracy".to_string(), 0.9),
    ]);
    assert_eq!(format_logs(&logs), " - loss: 0.2500 - accuracy: 0.9300 - val_loss: 1.2340e-04 - val_accuracy: 0.9000");
    assert_eq!(
        final_line(375, std::time::Duration::from_millis(1200), &logs),
        "375/375 [==============================] - 1s 3ms/step - loss: 0.2500 - accuracy: 0.9300 - val_loss: 1.2340e-04 - val_accuracy: 0.9000"
    );
    assert!(final_line(10, std::time::Duration::from_micros(50), &Logs::new()).ends_with(" - 0s 5us/step"));
}

#[test]
fn misuse_is_reported() {
    let x = Tensor::<f32>::zeros([10, 4]);
    let y = Tensor::<f32>::zeros([10]);
    let mut m = Model::new(Sequential::<f32>::new().add(Dense::new(3, 2).activation(Activation::Softmax)));
    let e = m.fit(&x, &y, FitOptions { verbose: 0, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("not compiled"), "{e}");
    m.compile(Adam::default(), SparseCategoricalCrossentropy::new(), nn::metrics![nn::metrics::Accuracy::new()]);
    let e = m.fit(&x, &y, FitOptions { verbose: 0, ..Default::default() }).unwrap_err();
    assert!(
        matches!(&e, NnError::ShapeMismatch { expected, found, .. } if expected == &[10, 3] && found == &[10, 4]),
        "{e}"
    );
    let x = Tensor::<f32>::zeros([10, 3]);
    let bad = Tensor::<f32>::full([10], 2.0);
    let e = m.fit(&x, &bad, FitOptions { verbose: 0, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("label 2 at position 0 is not a class index below 2"), "{e}");
    let e = m.fit(&x, &Tensor::zeros([9]), FitOptions { verbose: 0, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("10 samples"), "{e}");
    let e = m.fit(&x, &y, FitOptions { verbose: 0, batch_size: 0, ..Default::default() }).unwrap_err();
    assert!(matches!(e, NnError::InvalidConfig(_)));
    let e = m.fit(&x, &y, FitOptions { verbose: 0, validation_split: 1.5, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("validation_split"), "{e}");
    m.compile(Adam::default(), CategoricalCrossentropy::new(), []);
    let e = m.evaluate(&x, &Tensor::zeros([10, 3])).unwrap_err();
    assert!(matches!(&e, NnError::ShapeMismatch { expected, .. } if expected == &[10, 2]), "{e}");
    assert!(m.predict(&Tensor::zeros([2, 5])).is_err());
}

#[test]
fn validation_batch_size_changes_speed_not_results() {
    let (x, labels) = blobs(300, 6, 31);
    let y: Tensor<f32> = one_hot(&labels, 3).unwrap();
    let run = |vb: Option<usize>| {
        manual_seed(5);
        let mut model = Model::new(
            Sequential::new()
                .add(Dense::new(6, 16).activation(Activation::Relu))
                .add(Dense::new(16, 3).activation(Activation::Softmax)),
        );
        model.compile(Adam::new(1e-2), CategoricalCrossentropy::new(), nn::metrics![nn::metrics::Accuracy::new()]);
        let opts = FitOptions {
            epochs: 2,
            batch_size: 8,
            validation_split: 0.3,
            validation_batch_size: vb,
            verbose: 0,
            seed: Some(1),
            ..Default::default()
        };
        model.fit(&x, &y, opts)
    };
    let small = run(None).unwrap();
    let large = run(Some(64)).unwrap();
    // Training is untouched: the same batches, bit for bit.
    assert_eq!(small.get("loss"), large.get("loss"));
    for key in ["val_loss", "val_accuracy"] {
        let (a, b) = (small.get(key).unwrap(), large.get(key).unwrap());
        for (p, q) in a.iter().zip(b) {
            assert!((p - q).abs() <= 1e-5 * p.abs().max(1.0), "{key}: {a:?} vs {b:?}");
        }
    }
    let e = run(Some(0)).unwrap_err().to_string();
    assert!(e.contains("validation_batch_size"), "{e}");
}

/// Records every `on_batch_end` call, and fails at a chosen batch.
struct BatchLog {
    calls: Vec<(usize, usize, f64)>,
    fail_at: Option<(usize, usize)>,
}
impl Callback<f64> for BatchLog {
    fn on_batch_end(
        &mut self,
        e: usize,
        b: usize,
        logs: &Logs,
        _ctx: &mut TrainContext<'_, f64>,
    ) -> Result<(), NnError> {
        self.calls.push((e, b, logs["loss"]));
        if self.fail_at == Some((e, b)) {
            return Err(NnError::config("stop here"));
        }
        Ok(())
    }
}

#[test]
fn on_batch_end_sees_the_running_loss_and_its_error_ends_fit_at_once() {
    let x = Tensor::<f64>::from_vec((0..20).map(|i| i as f64 / 10.0).collect(), [20, 1]).unwrap();
    let y = x.scale(3.0);
    let model = || {
        let mut m = Model::new(
            Sequential::new().add(Dense::from_weights(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap()),
        );
        m.compile(Sgd::new(0.05), MeanSquaredError, []);
        m
    };
    let opts = || FitOptions { epochs: 2, batch_size: 8, verbose: 0, seed: Some(1), ..Default::default() };
    let mut log = BatchLog { calls: vec![], fail_at: None };
    let h = model().fit_with_callbacks(&x, &y, opts(), &mut [&mut log]).unwrap();
    let seen: Vec<(usize, usize)> = log.calls.iter().map(|&(e, b, _)| (e, b)).collect();
    assert_eq!(seen, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
    // The last batch's running loss is the epoch's loss, as Keras logs it.
    assert!((log.calls[2].2 - h.get("loss").unwrap()[0]).abs() < 1e-12);

    let mut log = BatchLog { calls: vec![], fail_at: Some((0, 1)) };
    let e = model().fit_with_callbacks(&x, &y, opts(), &mut [&mut log]).unwrap_err();
    assert!(e.to_string().contains("stop here"), "{e}");
    assert_eq!(log.calls.len(), 2, "fit went on after the callback's error");
}
