//! Property tests (`proptest`) of the readers of outside data, the normal-suite companions
//! of the fuzz targets in `fuzz/` (see `docs/reliability.md`): whatever the writers produce
//! reads back bit for bit, and damaged files are rejected.
//!
//! Cases per property (set `PROPTEST_CASES` to override them all; `PROPTEST_RNG_SEED`
//! replays a run):
//!
//! | property                                          | cases |
//! | ------------------------------------------------- | ----- |
//! | `safetensors_round_trip_is_bit_exact`             | 256   |
//! | `checkpoint_round_trip_is_bit_exact`              | 256   |
//! | `damaged_checkpoints_are_rejected`                | 256   |
//! | `idx_round_trips_and_rejects_wrong_lengths`       | 256   |
//! | `csv_round_trips_bit_exact`                       | 256   |
//!
//! Everything is in memory (the `*_from_bytes` / `*_to_bytes` twins of the file functions),
//! so the file runs in well under a second with `--release`.

use autograd::Tensor;
use nn::data::datasets::{decode_bytes, parse_csv, parse_idx, Separator, MAX_DECOMPRESSED_BYTES};
use nn::io::{
    checkpoint_from_bytes, checkpoint_to_bytes, from_safetensors_bytes, load_checkpoint, save_checkpoint,
    to_safetensors_bytes, Checkpoint,
};
use nn::StateDict;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::io::Write;

/// `cases` unless `PROPTEST_CASES` is set; failures are not persisted to files.
fn cfg(cases: u32) -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

type Bits = Vec<(String, Vec<usize>, Vec<u32>)>;

fn bits(sd: &StateDict<f32>) -> Bits {
    sd.iter().map(|(k, t)| (k.clone(), t.shape().to_vec(), t.data().iter().map(|v| v.to_bits()).collect())).collect()
}

/// A shape of rank 0-3 with dimensions 0-4.
fn shape() -> impl Strategy<Value = Vec<usize>> {
    vec(0usize..5, 0..4)
}

/// A tensor of any `f32` bit patterns (NaN payloads, infinities, subnormals, -0).
fn tensor() -> impl Strategy<Value = Tensor<f32>> {
    shape().prop_flat_map(|s| {
        let n: usize = s.iter().product();
        vec(any::<u32>(), n)
            .prop_map(move |b| Tensor::from_vec(b.into_iter().map(f32::from_bits).collect(), s.as_slice()).unwrap())
    })
}

/// Up to 5 tensors with distinct names (dots, digits, unicode, quotes and backslashes
/// included), in random order.
fn state_dict() -> impl Strategy<Value = StateDict<f32>> {
    (vec(("[a-z0-9._\"\\\\é]{1,10}", tensor()), 0..6), metadata()).prop_map(|(entries, meta)| {
        let mut sd = StateDict::new();
        for (k, t) in entries {
            if k != "__metadata__" && !sd.contains_key(k.as_str()) {
                sd.insert(k, t);
            }
        }
        sd.metadata = meta.into_iter().collect();
        sd
    })
}

/// Up to 3 metadata entries with any printable strings (JSON escapes included).
fn metadata() -> impl Strategy<Value = Vec<(String, String)>> {
    btree_map("\\PC{0,8}", "\\PC{0,16}|[\"\\\\\n\t\u{1}]{0,4}", 0..4).prop_map(|m| m.into_iter().collect())
}

fn checkpoint() -> impl Strategy<Value = Checkpoint<f32>> {
    (state_dict(), state_dict(), 0usize..1_000_000, metadata()).prop_map(|(model, optimizer, epoch, meta)| {
        let mut c = Checkpoint::new(model, optimizer, epoch);
        c.metadata = meta.into_iter().collect();
        c
    })
}

fn same_checkpoint(a: &Checkpoint<f32>, b: &Checkpoint<f32>) -> bool {
    bits(&a.model) == bits(&b.model)
        && bits(&a.optimizer) == bits(&b.optimizer)
        && (a.epoch, &a.metadata, &a.model.metadata, &a.optimizer.metadata)
            == (b.epoch, &b.metadata, &b.model.metadata, &b.optimizer.metadata)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn safetensors_round_trip_is_bit_exact(sd in state_dict()) {
        let bytes = to_safetensors_bytes(&sd, &[]).unwrap();
        let back = from_safetensors_bytes::<f32>(&bytes, "p.safetensors").unwrap();
        prop_assert_eq!(bits(&back), bits(&sd));
        prop_assert_eq!(&back.metadata, &sd.metadata);
        prop_assert_eq!(to_safetensors_bytes(&back, &[]).unwrap(), bytes.clone());
        // Into f64: exact (NaN stays NaN).
        let wide = from_safetensors_bytes::<f64>(&bytes, "p.safetensors").unwrap();
        for ((_, a), (_, b)) in sd.iter().zip(wide.iter()) {
            for (&x, &y) in a.data().iter().zip(b.data()) {
                let exact = if x.is_nan() { y.is_nan() } else { f64::from(x).to_bits() == y.to_bits() };
                prop_assert!(exact, "{} read into f64 as {}", x, y);
            }
        }
    }

    #[test]
    fn checkpoint_round_trip_is_bit_exact(c in checkpoint()) {
        let bytes = checkpoint_to_bytes(&c).unwrap();
        let back = checkpoint_from_bytes::<f32>(&bytes, "p.ckpt").unwrap();
        prop_assert!(same_checkpoint(&back, &c));
        prop_assert_eq!(checkpoint_to_bytes(&back).unwrap(), bytes);
    }

    /// Any single byte changed (to any other value) is rejected, or, where it only changes
    /// JSON whitespace, decodes to the identical checkpoint; any truncation and any appended
    /// byte is rejected.
    #[test]
    fn damaged_checkpoints_are_rejected(
        c in checkpoint(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        cut in any::<prop::sample::Index>(),
        extra in any::<u8>(),
    ) {
        let good = checkpoint_to_bytes(&c).unwrap();
        let mut bad = good.clone();
        bad[at.index(good.len())] ^= mask;
        if let Ok(back) = checkpoint_from_bytes::<f32>(&bad, "p.ckpt") {
            prop_assert!(same_checkpoint(&back, &c), "byte {} ^ {mask:#x} gave a different checkpoint", at.index(good.len()));
        }
        prop_assert!(checkpoint_from_bytes::<f32>(&good[..cut.index(good.len())], "p.ckpt").is_err());
        let mut longer = good.clone();
        longer.push(extra);
        prop_assert!(checkpoint_from_bytes::<f32>(&longer, "p.ckpt").is_err());
    }

    #[test]
    fn idx_round_trips_and_rejects_wrong_lengths(
        dims in vec(0u32..6, 1..5),
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
        extra in any::<u8>(),
    ) {
        let n: usize = dims.iter().map(|&d| d as usize).product();
        let payload: Vec<u8> = (0..n).map(|i| (seed.wrapping_mul(i as u64 + 1) >> 56) as u8).collect();
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        for d in &dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(&payload);
        let a = parse_idx(&bytes, "p.idx").unwrap();
        prop_assert_eq!(a.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
        prop_assert_eq!(&a.data, &payload);
        // Through the gzip path, as `read_idx` reads a `.gz` file.
        let decoded = decode_bytes(&gzip(&bytes), "p.idx.gz", MAX_DECOMPRESSED_BYTES).unwrap();
        prop_assert_eq!(&decoded, &bytes);
        prop_assert!(parse_idx(&bytes[..cut.index(bytes.len())], "p.idx").is_err());
        let mut longer = bytes.clone();
        longer.push(extra);
        prop_assert!(parse_idx(&longer, "p.idx").is_err());
    }

    #[test]
    fn csv_round_trips_bit_exact(
        rows in 1usize..6,
        cols in 1usize..6,
        values in vec(any::<f64>().prop_filter("finite", |v| v.is_finite()), 36),
        comma in any::<bool>(),
        crlf in any::<bool>(),
        exp in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let values = &values[..rows * cols];
        let sep = if comma { ", " } else { " \t" };
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        for r in 0..rows {
            let fields: Vec<String> = values[r * cols..(r + 1) * cols]
                .iter()
                .map(|v| if exp { format!("{v:e}") } else { format!("{v}") })
                .collect();
            text.push_str(&fields.join(sep));
            if r + 1 < rows || final_newline {
                text.push_str(eol);
            }
        }
        let separator = if comma { Separator::COMMA } else { Separator::Whitespace };
        let t = parse_csv(&text, separator, "p.csv").unwrap();
        prop_assert_eq!((t.n_rows, t.n_cols), (rows, cols));
        prop_assert_eq!(
            t.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

/// `checkpoint_to_bytes` is exactly what `save_checkpoint` writes.
#[test]
fn checkpoint_to_bytes_matches_the_file() {
    let mut model = StateDict::new();
    model.insert("0.weight".into(), Tensor::from_vec(vec![1.0f32, f32::NAN, -0.0, 3.5], [2, 2]).unwrap());
    let c = Checkpoint::new(model, StateDict::new(), 4).with_metadata("seed", "7");
    let path = std::env::temp_dir().join(format!("nn-reader-props-{}.ckpt", std::process::id()));
    save_checkpoint(&path, &c).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), checkpoint_to_bytes(&c).unwrap());
    assert!(same_checkpoint(&load_checkpoint::<f32>(&path).unwrap(), &c));
    std::fs::remove_file(&path).unwrap();
}
