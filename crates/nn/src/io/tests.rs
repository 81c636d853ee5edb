//! Tests of safetensors weights, checkpoints and atomic writes.

use super::*;
use crate::error::NnError;
use autograd::Tensor;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "nn-io-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn t32(data: Vec<f32>, shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data, shape).unwrap()
}

fn t64(data: Vec<f64>, shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data, shape).unwrap()
}

/// Names deliberately not sorted, a scalar, a zero-size tensor and special values.
fn sample_f32() -> StateDict<f32> {
    let mut sd = StateDict::new();
    let specials = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(0x7fc0_1234), // NaN with a payload
        f32::from_bits(1),           // smallest subnormal
        f32::MAX,
        f32::MIN_POSITIVE,
        1.0 / 3.0,
        -2.5e-30,
        7.0,
        f32::EPSILON,
    ];
    sd.insert("layer.2.weight".into(), t32(specials, &[3, 4]));
    sd.insert("layer.0.bias".into(), t32((0..5).map(|i| i as f32 * 0.1 - 0.2).collect(), &[5]));
    sd.insert("scalar".into(), t32(vec![std::f32::consts::PI], &[]));
    sd.insert("empty".into(), t32(vec![], &[0, 3]));
    sd.insert("a.cube".into(), t32((0..24).map(|i| (i as f32).sin()).collect(), &[2, 3, 4]));
    sd.metadata.insert("optimizer".into(), "adam".into());
    sd.metadata.insert("step".into(), "16777217".into());
    sd
}

fn sample_f64() -> StateDict<f64> {
    let mut sd = StateDict::new();
    sd.insert(
        "w".into(),
        t64(vec![f64::from_bits(0x7ff8_0000_dead_beef), -0.0, 1e-310, f64::MAX, 0.1, -1.0 / 7.0], &[2, 3]),
    );
    sd.insert("b".into(), t64(vec![1.0 + f64::EPSILON, 2.0], &[2]));
    sd
}

fn bits32(sd: &StateDict<f32>) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    sd.iter().map(|(k, t)| (k.clone(), t.shape().to_vec(), t.data().iter().map(|v| v.to_bits()).collect())).collect()
}

fn bits64(sd: &StateDict<f64>) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    sd.iter().map(|(k, t)| (k.clone(), t.shape().to_vec(), t.data().iter().map(|v| v.to_bits()).collect())).collect()
}

fn format_message(e: &NnError) -> (Option<u64>, String) {
    match e {
        NnError::Format { offset, message, .. } => (*offset, message.clone()),
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// A file from a raw header string and data section.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn load_bytes_err(bytes: &[u8]) -> NnError {
    from_safetensors_bytes::<f32>(bytes, "bad.safetensors").unwrap_err()
}

// ---------------------------------------------------------------- round trips

#[test]
fn round_trip_f32_is_bit_exact_and_keeps_order() {
    let dir = TempDir::new();
    let path = dir.path("model.safetensors");
    let sd = sample_f32();
    save_safetensors(&path, &sd, &[]).unwrap();
    let back = load_safetensors::<f32>(&path).unwrap();
    assert_eq!(bits32(&back), bits32(&sd)); // names, order, shapes and bits
    assert_eq!(back.metadata.iter().collect::<Vec<_>>(), sd.metadata.iter().collect::<Vec<_>>());
    assert_eq!(dir.entries(), ["model.safetensors"]); // no temporary left behind
}

#[test]
fn round_trip_f64_is_bit_exact_and_keeps_order() {
    let dir = TempDir::new();
    let path = dir.path("model.safetensors");
    let sd = sample_f64();
    save_safetensors(&path, &sd, &[("k", "v")]).unwrap();
    let back = load_safetensors::<f64>(&path).unwrap();
    assert_eq!(bits64(&back), bits64(&sd));
    assert_eq!(back.keys().collect::<Vec<_>>(), ["w", "b"]);
}

#[test]
fn metadata_round_trip_with_awkward_strings() {
    let mut sd = StateDict::<f32>::new();
    sd.insert("x".into(), Tensor::ones([2]));
    sd.metadata.insert("z-first".into(), "1".into());
    sd.metadata.insert("a-second".into(), "replaced below".into());
    let history = r#"{"loss": [0.5, 0.25], "note": "tab\there, newline\n, quote \" and \\ ünï😀"}"#;
    let control = "\u{0}\u{1}\u{1f}\u{7f}";
    let bytes =
        to_safetensors_bytes(&sd, &[("history", history), ("a-second", "2"), ("ctl", control), ("", "")]).unwrap();
    let back = from_safetensors_bytes::<f32>(&bytes, "mem").unwrap();
    let meta: Vec<(&str, &str)> = back.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(meta, [("z-first", "1"), ("a-second", "2"), ("history", history), ("ctl", control), ("", "")]);
}

#[test]
fn tensor_names_with_special_characters_round_trip() {
    let mut sd = StateDict::<f64>::new();
    for name in ["", "quote\"d", "back\\slash", "new\nline", "ünïcödé.😀", "model.0.weight"] {
        sd.insert(name.to_string(), Tensor::full([1, 2], 1.5));
    }
    let back = from_safetensors_bytes::<f64>(&to_safetensors_bytes(&sd, &[]).unwrap(), "mem").unwrap();
    assert_eq!(bits64(&back), bits64(&sd));
}

#[test]
fn f32_file_into_f64_is_exact_and_f64_file_into_f32_rounds() {
    let sd = sample_f32();
    let wide = from_safetensors_bytes::<f64>(&to_safetensors_bytes(&sd, &[]).unwrap(), "mem").unwrap();
    for (k, t) in sd.iter() {
        let w = &wide[k];
        assert_eq!(w.shape(), t.shape());
        for (&a, &b) in t.data().iter().zip(w.data()) {
            assert!(a.is_nan() && b.is_nan() || f64::from(a) == b, "{k}: {a} vs {b}");
        }
    }
    let mut sd64 = StateDict::<f64>::new();
    sd64.insert("v".into(), t64(vec![0.1, 1e300, -1e-320, 1.0 + f64::EPSILON], &[4]));
    let narrow = from_safetensors_bytes::<f32>(&to_safetensors_bytes(&sd64, &[]).unwrap(), "mem").unwrap();
    assert_eq!(narrow["v"].to_vec(), vec![0.1_f32, f32::INFINITY, -0.0, 1.0]);
}

#[test]
fn empty_state_dict_round_trips() {
    let sd = StateDict::<f32>::new();
    let bytes = to_safetensors_bytes(&sd, &[]).unwrap();
    // 8-byte length, then "{}" padded to 8 bytes.
    assert_eq!(bytes, raw_file("{}      ", &[]));
    assert!(from_safetensors_bytes::<f32>(&bytes, "mem").unwrap().is_empty());
}

// ---------------------------------------------------------------- interoperability with the safetensors crate

#[test]
fn bytes_match_the_safetensors_crate() {
    // The crate orders tensors by dtype then name; with names already in that order and one
    // metadata entry (so its HashMap order is fixed), both writers must agree byte for byte.
    let mut sd = StateDict::<f32>::new();
    sd.insert("a.bias".into(), t32(vec![1.0, -2.0], &[2]));
    sd.insert("a.weight".into(), t32((0..6).map(|i| i as f32 / 4.0).collect_vec(), &[2, 3]));
    sd.insert("b".into(), t32(vec![9.0], &[]));
    let ours = to_safetensors_bytes(&sd, &[("format", "pt")]).unwrap();

    let raw: Vec<(String, Vec<u8>, Vec<usize>)> = sd
        .iter()
        .map(|(k, t)| (k.clone(), t.data().iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape().to_vec()))
        .collect();
    let views: Vec<(String, TensorView<'_>)> =
        raw.iter().map(|(k, b, s)| (k.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap())).collect();
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    let theirs = safetensors::serialize(views, Some(meta)).unwrap();
    assert_eq!(ours, theirs);
}

trait CollectVec: Iterator + Sized {
    fn collect_vec(self) -> Vec<Self::Item> {
        self.collect()
    }
}
impl<I: Iterator> CollectVec for I {}

#[test]
fn the_crate_reads_our_files() {
    let sd = sample_f64();
    let bytes = to_safetensors_bytes(&sd, &[("k", "v")]).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), 2);
    let w = st.tensor("w").unwrap();
    assert_eq!(w.dtype(), Dtype::F64);
    assert_eq!(w.shape(), &[2, 3]);
    let expected: Vec<u8> = sd["w"].data().iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(w.data(), &expected[..]);
}

#[test]
fn we_read_files_written_by_the_crate_in_offset_order() {
    // The crate sorts by name: "a" comes first in the data section whatever the input order.
    let wb: Vec<u8> = [1.0_f64, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let ab: Vec<u8> = [3.0_f64].iter().flat_map(|v| v.to_le_bytes()).collect();
    let views = vec![
        ("w".to_string(), TensorView::new(Dtype::F64, vec![2, 1], &wb).unwrap()),
        ("a".to_string(), TensorView::new(Dtype::F64, vec![1], &ab).unwrap()),
    ];
    let bytes = safetensors::serialize(views, None).unwrap();
    let sd = from_safetensors_bytes::<f64>(&bytes, "mem").unwrap();
    assert_eq!(sd.keys().collect::<Vec<_>>(), ["a", "w"]);
    assert_eq!(sd["w"].shape(), &[2, 1]);
    assert_eq!(sd["w"].to_vec(), vec![1.0, 2.0]);
    assert!(sd.metadata.is_empty());
}

// ---------------------------------------------------------------- corrupt and hostile input

#[test]
fn empty_and_tiny_files_are_rejected() {
    let dir = TempDir::new();
    for (name, content) in [("empty", &b""[..]), ("three", &b"abc"[..])] {
        let path = dir.path(name);
        fs::write(&path, content).unwrap();
        let e = load_safetensors::<f32>(&path).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
        assert_eq!(format_message(&e).0, Some(0));
        assert!(msg.contains(&format!("{} bytes long", content.len())), "{msg}");
    }
}

#[test]
fn header_length_beyond_the_file_is_rejected_before_reading() {
    let dir = TempDir::new();
    let path = dir.path("big-header.safetensors");
    let mut bytes = 1000_u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    fs::write(&path, &bytes).unwrap();
    let e = load_safetensors::<f32>(&path).unwrap_err();
    assert_eq!(format_message(&e).0, Some(0));
    assert!(e.to_string().contains("header length field says 1000 bytes but only 2 bytes follow"), "{e}");
    // u64::MAX: no allocation, no overflow.
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}      ");
    assert!(load_bytes_err(&huge).to_string().contains(&u64::MAX.to_string()));
}

#[test]
fn header_that_is_not_json_is_rejected_with_its_offset() {
    let e = load_bytes_err(&raw_file("{not json}      ", &[]));
    let (offset, msg) = format_message(&e);
    assert_eq!(offset, Some(9)); // 8-byte length, then `{`, then the bad character
    assert!(msg.contains("not valid JSON"), "{msg}");
    assert!(e.to_string().starts_with("bad.safetensors: at byte 9: "), "{e}");

    let e = load_bytes_err(&raw_file("[1, 2, 3]       ", &[]));
    assert!(format_message(&e).1.contains("does not start with `{`"));

    let mut bytes = raw_file("{\"a\":\"\u{e9}\"}", &[]);
    bytes[13] = 0xff; // break the UTF-8 of `é`
    let (offset, msg) = format_message(&load_bytes_err(&bytes));
    assert_eq!((offset, msg.contains("UTF-8")), (Some(13), true));

    // Deep nesting is an error, not a stack overflow.
    let deep = format!("{{\"a\":{}}}", "[".repeat(10_000));
    assert!(format_message(&load_bytes_err(&raw_file(&deep, &[]))).1.contains("nesting"));
}

#[test]
fn malformed_tensor_tables_name_the_tensor() {
    let cases: [(&str, usize, &str); 10] = [
        (
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
            4,
            "needs 8 bytes but data_offsets [0, 4] span 4",
        ),
        (r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "should begin at 0"),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#,
            8,
            "tensor `w`: data_offsets [2, 6] should begin at 4",
        ),
        (r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, 8, "end before they begin"),
        (r#"{"w":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}"#, 4, "unknown dtype `F99`"),
        (r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "`shape` is missing"),
        (r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, 4, "`data_offsets` is missing"),
        (r#"{"w":[1,2]}"#, 0, "entry is an array"),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            "tensor `w` appears twice",
        ),
        (r#"{"__metadata__":{"k":1}}"#, 0, "metadata `k` is a number"),
    ];
    for (header, data_len, expected) in cases {
        let e = load_bytes_err(&raw_file(header, &vec![0; data_len]));
        let (offset, msg) = format_message(&e);
        assert!(msg.contains(expected), "{header}: {msg}");
        assert_eq!(offset, Some(8), "{header}");
    }
}

#[test]
fn offsets_that_overflow_are_rejected_without_panicking() {
    // The safetensors crate 0.4.5 computes `end + 8 + n` unchecked for this header and panics
    // with overflow checks on; our own validation must reject it first.
    let header = format!(r#"{{"w":{{"dtype":"U8","shape":[{m}],"data_offsets":[0,{m}]}}}}"#, m = u64::MAX);
    let e = load_bytes_err(&raw_file(&header, &[0; 8]));
    assert!(format_message(&e).1.contains("run past the end"), "{e}");
    // A shape whose element count overflows.
    let header = format!(r#"{{"w":{{"dtype":"F64","shape":[{m},{m}],"data_offsets":[0,8]}}}}"#, m = u64::MAX / 2);
    assert!(format_message(&load_bytes_err(&raw_file(&header, &[0; 8]))).1.contains("needs too many bytes"));
}

#[test]
fn truncated_data_section_names_the_tensor() {
    let dir = TempDir::new();
    let path = dir.path("truncated.safetensors");
    let bytes = to_safetensors_bytes(&sample_f32(), &[]).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    let e = load_safetensors::<f32>(&path).unwrap_err();
    let (offset, msg) = format_message(&e);
    assert!(msg.contains("tensor `a.cube`") && msg.contains("truncated"), "{msg}");
    assert_eq!(offset, Some(bytes.len() as u64 - 4));
    assert!(e.to_string().contains("truncated.safetensors"));

    // Every truncation of the file is an error, never a panic or a partial state dict.
    for len in 0..bytes.len() {
        assert!(from_safetensors_bytes::<f32>(&bytes[..len], "t").is_err(), "length {len}");
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = to_safetensors_bytes(&sample_f64(), &[]).unwrap();
    let len = bytes.len();
    bytes.extend_from_slice(&[0; 8]);
    let (offset, msg) = format_message(&load_bytes_err(&bytes));
    assert_eq!(offset, Some(len as u64));
    assert!(msg.contains("8 bytes after the last tensor"), "{msg}");
}

#[test]
fn unsupported_dtypes_are_rejected_naming_the_tensor() {
    let data = [0u8; 4];
    for (dtype, shape) in [(Dtype::BF16, vec![2]), (Dtype::I32, vec![1]), (Dtype::F16, vec![2]), (Dtype::U8, vec![4])] {
        let views = vec![("emb.weight".to_string(), TensorView::new(dtype, shape, &data).unwrap())];
        let bytes = safetensors::serialize(views, None).unwrap();
        let e = from_safetensors_bytes::<f32>(&bytes, "half.safetensors").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("tensor `emb.weight` has dtype") && msg.contains("only F32 and F64"), "{msg}");
        assert!(msg.contains(&format!("{dtype:?}")), "{msg}");
    }
}

#[test]
fn io_errors_name_the_path() {
    let dir = TempDir::new();
    let missing = dir.path("nope.safetensors");
    let e = load_safetensors::<f32>(&missing).unwrap_err();
    assert!(matches!(e, NnError::Io { ref path, .. } if *path == missing), "{e:?}");
    assert!(e.to_string().contains("nope.safetensors"));
    // A directory is not a file.
    assert!(load_safetensors::<f32>(&dir.0).is_err());
}

// ---------------------------------------------------------------- check_state_dict

#[test]
fn check_state_dict_reports_missing_unexpected_and_misshaped() {
    let mut expected = StateDict::<f32>::new();
    expected.insert("0.weight".into(), Tensor::zeros([4, 3]));
    expected.insert("0.bias".into(), Tensor::zeros([4]));
    expected.insert("1.weight".into(), Tensor::zeros([2, 4]));
    let mut found = StateDict::<f64>::new();
    found.insert("0.weight".into(), Tensor::zeros([3, 4]));
    found.insert("1.weight".into(), Tensor::zeros([2, 4]));
    found.insert("1.extra".into(), Tensor::zeros([7]));

    let e = check_state_dict(&found, &expected).unwrap_err();
    match &e {
        NnError::StateDictMismatch { missing, unexpected, wrong_shape } => {
            assert_eq!(missing, &[("0.bias".to_string(), vec![4])]);
            assert_eq!(unexpected, &[("1.extra".to_string(), vec![7])]);
            assert_eq!(wrong_shape, &[("0.weight".to_string(), vec![4, 3], vec![3, 4])]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        "state dict mismatch: missing `0.bias` (expected shape [4]); unexpected `1.extra` (shape [7]); \
         `0.weight`: expected shape [4, 3], found [3, 4]"
    );

    // Only one kind of problem at a time.
    found.insert("0.weight".into(), Tensor::zeros([4, 3]));
    found.insert("0.bias".into(), Tensor::zeros([4]));
    assert_eq!(
        check_state_dict(&found, &expected).unwrap_err().to_string(),
        "state dict mismatch: unexpected `1.extra` (shape [7])"
    );
    found.shift_remove("1.extra");
    check_state_dict(&found, &expected).unwrap();
    // Order does not matter.
    let reversed: StateDict<f32> = expected.iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect();
    check_state_dict(&reversed, &expected).unwrap();
}

// ---------------------------------------------------------------- checkpoints

fn sample_checkpoint() -> Checkpoint<f32> {
    let model = sample_f32();
    let mut optimizer = StateDict::new();
    optimizer.insert("layer.2.weight.m".into(), t32((0..12).map(|i| i as f32 * 1e-3).collect(), &[3, 4]));
    optimizer.insert("layer.2.weight.v".into(), t32(vec![1e-8; 12], &[3, 4]));
    optimizer.metadata.insert("name".into(), "adam".into());
    optimizer.metadata.insert("step".into(), "1234567890123".into());
    Checkpoint::new(model, optimizer, 17)
        .with_metadata("history", r#"{"loss":[0.7,0.4,0.31],"val_accuracy":[0.8,0.9,0.93]}"#)
        .with_metadata("seed", "42")
}

#[test]
fn checkpoint_round_trip_f32() {
    let dir = TempDir::new();
    let path = dir.path("ckpt.safetensors");
    let ckpt = sample_checkpoint();
    save_checkpoint(&path, &ckpt).unwrap();
    let back = load_checkpoint::<f32>(&path).unwrap();
    assert_eq!(back.epoch, 17);
    assert_eq!(bits32(&back.model), bits32(&ckpt.model));
    assert_eq!(bits32(&back.optimizer), bits32(&ckpt.optimizer));
    let meta = |m: &IndexMap<String, String>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>();
    assert_eq!(meta(&back.metadata), meta(&ckpt.metadata));
    assert_eq!(meta(&back.model.metadata), meta(&ckpt.model.metadata));
    assert_eq!(meta(&back.optimizer.metadata), meta(&ckpt.optimizer.metadata));
    assert_eq!(dir.entries(), ["ckpt.safetensors"]);

    // It is a plain safetensors file too, with prefixed names and the format tags.
    let plain = load_safetensors::<f32>(&path).unwrap();
    assert_eq!(plain.keys().next().unwrap(), "model.layer.2.weight");
    assert_eq!(plain.keys().last().unwrap(), "optimizer.layer.2.weight.v");
    assert_eq!(plain.metadata["format"], CHECKPOINT_FORMAT);
    assert_eq!(plain.metadata["epoch"], "17");
    assert_eq!(plain.metadata["extra.seed"], "42");
    assert_eq!(plain.metadata["optimizer.step"], "1234567890123");
    assert!(plain.metadata["checksum"].starts_with("fnv1a64:"));
}

#[test]
fn checkpoint_round_trip_f64_and_empty_optimizer() {
    let dir = TempDir::new();
    let path = dir.path("ckpt64.safetensors");
    let ckpt = Checkpoint::new(sample_f64(), StateDict::new(), 0);
    save_checkpoint(&path, &ckpt).unwrap();
    let back = load_checkpoint::<f64>(&path).unwrap();
    assert_eq!(bits64(&back.model), bits64(&ckpt.model));
    assert!(back.optimizer.is_empty() && back.metadata.is_empty());
    assert_eq!(back.epoch, 0);
}

#[test]
fn checkpoint_flipped_data_byte_fails_the_checksum() {
    let dir = TempDir::new();
    let path = dir.path("ckpt.safetensors");
    save_checkpoint(&path, &sample_checkpoint()).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01; // a data byte: structure intact, only the checksum can tell
    fs::write(&path, &bytes).unwrap();
    // The plain loader cannot notice ...
    assert!(load_safetensors::<f32>(&path).is_ok());
    // ... the checkpoint loader must.
    let e = load_checkpoint::<f32>(&path).unwrap_err();
    assert!(e.to_string().contains("checksum mismatch") && e.to_string().contains("ckpt.safetensors"), "{e}");
}

#[test]
fn checkpoint_any_altered_or_truncated_byte_is_an_error() {
    let mut ckpt = sample_checkpoint();
    ckpt.model.metadata.insert("note".into(), "x".into());
    let dir = TempDir::new();
    let path = dir.path("c.safetensors");
    save_checkpoint(&path, &ckpt).unwrap();
    let good = fs::read(&path).unwrap();
    let check = |bytes: &[u8], what: &str| {
        let name = PathBuf::from("c.safetensors");
        // Same steps as load_checkpoint, from memory (writing each variant to disk is slow).
        let result = checkpoint_from_bytes(bytes, &name);
        assert!(result.is_err(), "{what} was accepted");
    };
    for i in 0..good.len() {
        for mask in [0x01, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            check(&bad, &format!("byte {i} ^ {mask:#x}"));
        }
    }
    for len in 0..good.len() {
        check(&good[..len], &format!("truncation to {len} bytes"));
    }
    assert!(checkpoint_from_bytes(&good, &path).is_ok());
}

/// `load_checkpoint` without the file system.
fn checkpoint_from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint<f32>, NnError> {
    checkpoint::checkpoint_from_bytes(bytes, path)
}

#[test]
fn plain_weights_are_not_taken_for_a_checkpoint() {
    let dir = TempDir::new();
    let path = dir.path("weights.safetensors");
    save_safetensors(&path, &sample_f32(), &[]).unwrap();
    let e = load_checkpoint::<f32>(&path).unwrap_err();
    assert!(e.to_string().contains("not a checkpoint"), "{e}");
    save_safetensors(&path, &sample_f32(), &[("format", "pt")]).unwrap();
    let e = load_checkpoint::<f32>(&path).unwrap_err();
    assert!(e.to_string().contains("unsupported checkpoint format `pt`"), "{e}");
}

#[test]
fn checkpoint_with_forged_metadata_is_rejected() {
    // A file that claims to be a checkpoint but whose checksum was not computed over it.
    let mut sd = StateDict::<f32>::new();
    sd.insert("model.w".into(), Tensor::ones([2]));
    let forged = to_safetensors_bytes(
        &sd,
        &[("format", CHECKPOINT_FORMAT), ("epoch", "1"), ("checksum", "fnv1a64:0123456789abcdef")],
    )
    .unwrap();
    let e = checkpoint_from_bytes(&forged, Path::new("forged")).unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    let no_sum = to_safetensors_bytes(&sd, &[("format", CHECKPOINT_FORMAT), ("epoch", "1")]).unwrap();
    assert!(checkpoint_from_bytes(&no_sum, Path::new("x")).unwrap_err().to_string().contains("no `checksum`"));
    let bad_sum = to_safetensors_bytes(&sd, &[("format", CHECKPOINT_FORMAT), ("checksum", "crc32:00")]).unwrap();
    assert!(checkpoint_from_bytes(&bad_sum, Path::new("x")).unwrap_err().to_string().contains("16 hex digits"));
}

// ---------------------------------------------------------------- atomic writes

#[test]
fn saving_over_an_existing_file_replaces_it_completely() {
    let dir = TempDir::new();
    let path = dir.path("m.safetensors");
    let mut big = StateDict::<f64>::new();
    big.insert("huge".into(), Tensor::ones([1000]));
    save_safetensors(&path, &big, &[("old", "yes")]).unwrap();
    let small = sample_f64();
    save_safetensors(&path, &small, &[]).unwrap();
    let on_disk = fs::read(&path).unwrap();
    assert_eq!(on_disk, to_safetensors_bytes(&small, &[]).unwrap()); // no tail of the old file
    let back = load_safetensors::<f64>(&path).unwrap();
    assert_eq!(bits64(&back), bits64(&small));
    assert!(back.metadata.is_empty());
    assert_eq!(dir.entries(), ["m.safetensors"]);
}

#[test]
fn a_failure_while_writing_keeps_the_old_file_and_removes_the_temporary() {
    // Root ignores permission bits, so a read-only directory cannot make a write fail in a
    // test that may run as root. Instead, fail the write itself half-way through: this is
    // the path a full disk or an I/O error takes.
    let dir = TempDir::new();
    let path = dir.path("m.safetensors");
    save_safetensors(&path, &sample_f32(), &[]).unwrap();
    let before = fs::read(&path).unwrap();
    let e = atomic::write_atomic(&path, |w| {
        w.write_all(b"partial garbage")?;
        Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "simulated full disk"))
    })
    .unwrap_err();
    assert!(matches!(e, NnError::Io { ref path, .. } if path.ends_with("m.safetensors")), "{e:?}");
    assert!(e.to_string().contains("simulated full disk"));
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(dir.entries(), ["m.safetensors"]);
}

#[test]
fn a_failing_rename_keeps_the_target_and_removes_the_temporary() {
    // The target is a non-empty directory: the temporary file is written in full, then the
    // rename over the directory fails.
    let dir = TempDir::new();
    let target = dir.path("occupied");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("inside"), b"keep me").unwrap();
    let e = save_safetensors(&target, &sample_f32(), &[]).unwrap_err();
    assert!(matches!(e, NnError::Io { .. }), "{e:?}");
    assert_eq!(fs::read(target.join("inside")).unwrap(), b"keep me");
    assert_eq!(dir.entries(), ["occupied"]);
}

#[test]
fn saving_into_a_missing_directory_fails_cleanly() {
    let dir = TempDir::new();
    let path = dir.path("no/such/dir/m.safetensors");
    let e = save_safetensors(&path, &sample_f32(), &[]).unwrap_err();
    assert!(matches!(e, NnError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("m.safetensors") && e.to_string().contains("temporary file"), "{e}");
    assert!(dir.entries().is_empty());
    let e = save_checkpoint(&path, &sample_checkpoint()).unwrap_err();
    assert!(matches!(e, NnError::Io { .. }), "{e:?}");
}

#[cfg(unix)]
#[test]
fn saving_into_a_read_only_directory_fails_when_permissions_apply() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let path = dir.path("m.safetensors");
    save_safetensors(&path, &sample_f64(), &[]).unwrap();
    let before = fs::read(&path).unwrap();
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o555)).unwrap();
    // Root (CAP_DAC_OVERRIDE) writes anyway; only check the error path where it applies.
    let probe = dir.path("probe");
    let privileged = fs::write(&probe, b"").is_ok();
    let _ = fs::remove_file(&probe);
    let result = save_safetensors(&path, &sample_f32(), &[]);
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
    if privileged {
        result.unwrap();
        eprintln!("running with permission override (root): read-only directory case not testable here");
    } else {
        assert!(matches!(result, Err(NnError::Io { .. })), "{result:?}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(dir.entries(), ["m.safetensors"]);
    }
}

#[test]
fn concurrent_saves_never_expose_a_partial_file() {
    let dir = TempDir::new();
    let path = dir.path("shared.safetensors");
    let a = sample_f32();
    let mut b = StateDict::<f32>::new();
    b.insert("other".into(), Tensor::ones([5000]));
    save_safetensors(&path, &a, &[]).unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            let (path, a, b) = (&path, &a, &b);
            s.spawn(move || {
                for _ in 0..20 {
                    save_safetensors(path, if i % 2 == 0 { a } else { b }, &[]).unwrap();
                }
            });
        }
        for _ in 0..50 {
            let sd = load_safetensors::<f32>(&path).unwrap();
            assert!(bits32(&sd) == bits32(&a) || bits32(&sd) == bits32(&b));
        }
    });
    assert_eq!(dir.entries(), ["shared.safetensors"]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_successful_save_removes_only_the_temporaries_of_dead_writers() {
    let dir = TempDir::new();
    let path = dir.path("m.safetensors");
    // A process that has exited: its pid no longer exists (short of pid reuse within a few
    // microseconds, which only makes this test keep the file).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let me = std::process::id();
    let stale = format!(".m.safetensors.{dead}.3.tmp");
    let mine = format!(".m.safetensors.{me}.999.tmp"); // a live writer (this process)
    let other_target = format!(".n.safetensors.{dead}.0.tmp");
    let not_ours = ".m.safetensors.x.0.tmp".to_string();
    for name in [&stale, &mine, &other_target, &not_ours] {
        fs::write(dir.path(name), b"partial").unwrap();
    }
    save_safetensors(&path, &sample_f32(), &[]).unwrap();
    let mut expected = vec![mine, other_target, not_ours, "m.safetensors".to_string()];
    if std::path::Path::new(&format!("/proc/{dead}")).exists() {
        expected.push(stale); // the pid was reused meanwhile
    }
    expected.sort();
    assert_eq!(dir.entries(), expected);
}

#[test]
fn names_up_to_the_file_name_limit_save_and_their_temporaries_stay_within_it() {
    // A temporary name used to add 13+ bytes to the target's: 242-255-byte names failed.
    let dir = TempDir::new();
    for len in [1, 218, 219, 242, 255] {
        let path = dir.path(&"m".repeat(len));
        save_safetensors(&path, &sample_f32(), &[]).unwrap_or_else(|e| panic!("{len}-byte name: {e}"));
        assert_eq!(bits32(&load_safetensors::<f32>(&path).unwrap()), bits32(&sample_f32()));
        let tmp = atomic::temp_path(&path).unwrap();
        let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(tmp_name.len() <= 255, "{len}: {} bytes", tmp_name.len());
        assert!(tmp_name.starts_with('.') && tmp_name.ends_with(".tmp"), "{tmp_name}");
        fs::remove_file(&path).unwrap();
    }
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    // Two long names that differ only at the end get different temporaries.
    let (a, b) = (dir.path(&format!("{}a", "x".repeat(240))), dir.path(&format!("{}b", "x".repeat(240))));
    let stem = |p: &std::path::Path| {
        let t = atomic::temp_path(p).unwrap().file_name().unwrap().to_string_lossy().into_owned();
        t[..t.rfind(".tmp").unwrap()].rsplitn(3, '.').last().unwrap().to_string()
    };
    assert_ne!(stem(&a), stem(&b));
}

#[cfg(target_os = "linux")]
#[test]
fn stale_temporaries_of_a_long_name_are_removed_too() {
    let dir = TempDir::new();
    let name = "n".repeat(250);
    let path = dir.path(&name);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let tmp = atomic::temp_path(&path).unwrap().file_name().unwrap().to_string_lossy().into_owned();
    let stale = format!("{}.{dead}.7.tmp", &tmp[..tmp.rfind(".tmp").unwrap()].rsplitn(3, '.').last().unwrap());
    fs::write(dir.path(&stale), b"partial").unwrap();
    save_safetensors(&path, &sample_f32(), &[]).unwrap();
    if !std::path::Path::new(&format!("/proc/{dead}")).exists() {
        assert_eq!(dir.entries(), [name]);
    }
}

#[test]
fn check_writable_refuses_bad_destinations_and_touches_nothing() {
    let dir = TempDir::new();
    let good = dir.path("m.safetensors");
    check_writable(&good).unwrap();
    assert!(dir.entries().is_empty(), "the probe left {:?}", dir.entries());
    save_safetensors(&good, &sample_f32(), &[]).unwrap();
    let before = fs::read(&good).unwrap();
    check_writable(&good).unwrap();
    assert_eq!(fs::read(&good).unwrap(), before);
    assert_eq!(dir.entries(), ["m.safetensors"]);

    let e = check_writable(&dir.0).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
    let e = check_writable(dir.path("no/such/dir/m.safetensors")).unwrap_err().to_string();
    assert!(e.contains("no/such/dir/m.safetensors") && e.contains("No such file"), "{e}");
    let e = check_writable(good.join("below-a-file")).unwrap_err().to_string();
    assert!(e.contains("not a directory"), "{e}");
    let e = check_writable(dir.path(&"x".repeat(256))).unwrap_err().to_string();
    assert!(e.contains("too long"), "{e}");
    assert_eq!(dir.entries(), ["m.safetensors"]);
}
