//! Training checkpoints: model and optimizer state, epoch and metadata in one safetensors
//! file, guarded by a checksum.

use super::format::{self, format_err, parse_file, Entry, Fnv1a64, RawFile, RawTensor};
use super::{atomic, read_checked};
use crate::error::NnError;
use crate::state::StateDict;
use autograd::Float;
use indexmap::IndexMap;
use std::io;
use std::path::Path;

/// The value of the `format` metadata key of a checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "nn-checkpoint-v1";

const KEY_FORMAT: &str = "format";
const KEY_EPOCH: &str = "epoch";
const KEY_CHECKSUM: &str = "checksum";
const CHECKSUM_PREFIX: &str = "fnv1a64:";
const MODEL: &str = "model.";
const OPTIMIZER: &str = "optimizer.";
const EXTRA: &str = "extra.";

/// Everything needed to resume training: the model's and the optimizer's state, the number
/// of epochs completed, and free-form string metadata (e.g. the loss history as a JSON
/// string, the random seed).
///
/// On disk ([`save_checkpoint`]) it is one safetensors file:
///
/// * tensors `model.<name>` for each model tensor, then `optimizer.<name>` for each
///   optimizer tensor, in state-dict order, all `F32` or all `F64`;
/// * `__metadata__`: `format` = [`CHECKPOINT_FORMAT`], `epoch` (decimal), `model.<key>` and
///   `optimizer.<key>` for the two state dicts' own metadata (an optimizer's step count,
///   say), `extra.<key>` for [`metadata`](Checkpoint::metadata), and `checksum`.
///
/// The `checksum` is `fnv1a64:` followed by 16 lowercase hex digits: the 64-bit FNV-1a hash
/// of, in order, the bytes `nn-checkpoint-v1\0`; the number of tensors (`u64`
/// little-endian); for each tensor in data order its name and dtype (each as a `u64` length
/// then the UTF-8 bytes), its rank, its dimensions, and its begin and end data offsets (each
/// a `u64`); the number of metadata entries other than `checksum`, then each (key, value)
/// as two length-prefixed strings, sorted by key; and finally the whole data section. So it
/// covers the tensor table, the metadata and every data byte: a flipped bit or byte anywhere
/// the JSON parser does not already reject changes the hash (a single changed byte always
/// does), and a truncated file fails the size checks first.
///
/// The file is an ordinary safetensors file, so PyTorch can read it too (with the prefixed
/// names).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint<T: Float> {
    /// The model's parameters (and buffers).
    pub model: StateDict<T>,
    /// The optimizer's state.
    pub optimizer: StateDict<T>,
    /// Epochs completed.
    pub epoch: usize,
    /// Free-form metadata (history as JSON, seed, ...), in insertion order.
    pub metadata: IndexMap<String, String>,
}

impl<T: Float> Checkpoint<T> {
    /// A checkpoint with no extra metadata.
    pub fn new(model: StateDict<T>, optimizer: StateDict<T>, epoch: usize) -> Self {
        Checkpoint { model, optimizer, epoch, metadata: IndexMap::new() }
    }

    /// Adds (or replaces) a metadata entry; for chaining.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// The checksum described on [`Checkpoint`]. `data` feeds the data section.
fn checksum(
    tensors: &[RawTensor],
    metadata: &[(String, String)],
    data: impl FnOnce(&mut Fnv1a64) -> io::Result<()>,
) -> io::Result<u64> {
    let mut h = Fnv1a64::new();
    h.update(CHECKPOINT_FORMAT.as_bytes());
    h.update(&[0]);
    h.update(&(tensors.len() as u64).to_le_bytes());
    for t in tensors {
        h.update_field(t.name.as_bytes());
        h.update_field(t.dtype.as_bytes());
        h.update(&(t.shape.len() as u64).to_le_bytes());
        for &d in &t.shape {
            h.update(&(d as u64).to_le_bytes());
        }
        h.update(&(t.begin as u64).to_le_bytes());
        h.update(&(t.end as u64).to_le_bytes());
    }
    let mut meta: Vec<&(String, String)> = metadata.iter().filter(|(k, _)| k != KEY_CHECKSUM).collect();
    meta.sort_by(|a, b| a.0.cmp(&b.0));
    h.update(&(meta.len() as u64).to_le_bytes());
    for (k, v) in meta {
        h.update_field(k.as_bytes());
        h.update_field(v.as_bytes());
    }
    data(&mut h)?;
    Ok(h.finish())
}

/// Saves a checkpoint as one safetensors file, atomically (see [`Checkpoint`] for the
/// layout and the checksum).
///
/// # Errors
/// As [`save_safetensors`](super::save_safetensors).
///
/// # Example
///
/// ```
/// use autograd::Tensor;
/// use nn::io::{load_checkpoint, save_checkpoint, Checkpoint};
/// use nn::StateDict;
///
/// let mut model = StateDict::<f32>::new();
/// model.insert("0.weight".into(), Tensor::ones([4, 2]));
/// let mut optimizer = StateDict::<f32>::new();
/// optimizer.insert("0.weight.momentum".into(), Tensor::zeros([4, 2]));
/// optimizer.metadata.insert("step".into(), "120".into());
/// let ckpt = Checkpoint::new(model, optimizer, 3).with_metadata("history", r#"{"loss":[0.9,0.5,0.3]}"#);
///
/// let path = std::env::temp_dir().join(format!("nn-doc-ckpt-{}.safetensors", std::process::id()));
/// save_checkpoint(&path, &ckpt)?;
/// let back = load_checkpoint::<f32>(&path)?;
/// assert_eq!(back, ckpt);
/// assert_eq!(back.optimizer.metadata["step"], "120");
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), nn::NnError>(())
/// ```
pub fn save_checkpoint<T: Float>(path: impl AsRef<Path>, checkpoint: &Checkpoint<T>) -> Result<(), NnError> {
    let (entries, header) = encode(checkpoint)?;
    atomic::write_atomic(path.as_ref(), |w| format::write_file(w, &header, &entries))
}

/// Serializes a checkpoint to bytes in memory: the exact content [`save_checkpoint`] writes,
/// which [`checkpoint_from_bytes`] reads back.
///
/// # Errors
/// [`NnError::InvalidConfig`] for a header over the format's 100 MB limit.
pub fn checkpoint_to_bytes<T: Float>(checkpoint: &Checkpoint<T>) -> Result<Vec<u8>, NnError> {
    let (entries, mut out) = encode(checkpoint)?;
    format::write_file(&mut out, &[], &entries).map_err(|e| NnError::config(format!("checkpoint: {e}")))?;
    Ok(out)
}

/// The tensors to write (prefixed names) and the header (checksum included).
fn encode<T: Float>(checkpoint: &Checkpoint<T>) -> Result<(Vec<Entry<'_, T>>, Vec<u8>), NnError> {
    let dtype = format::dtype_of::<T>()
        .ok_or_else(|| NnError::config(format!("checkpoint: cannot save element type {}", T::NAME)))?;
    let size = std::mem::size_of::<T>();
    let entries: Vec<Entry<'_, T>> = checkpoint
        .model
        .iter()
        .map(|(k, t)| (format!("{MODEL}{k}"), t))
        .chain(checkpoint.optimizer.iter().map(|(k, t)| (format!("{OPTIMIZER}{k}"), t)))
        .collect();
    let mut metadata = vec![(KEY_FORMAT.to_string(), CHECKPOINT_FORMAT.to_string())];
    metadata.push((KEY_EPOCH.to_string(), checkpoint.epoch.to_string()));
    let prefixed = |prefix: &str, m: &IndexMap<String, String>| -> Vec<(String, String)> {
        m.iter().map(|(k, v)| (format!("{prefix}{k}"), v.clone())).collect()
    };
    metadata.extend(prefixed(MODEL, &checkpoint.model.metadata));
    metadata.extend(prefixed(OPTIMIZER, &checkpoint.optimizer.metadata));
    metadata.extend(prefixed(EXTRA, &checkpoint.metadata));

    // The tensor table as the reader will see it (offsets in entry order), for the checksum.
    let mut offset = 0;
    let table: Vec<RawTensor> = entries
        .iter()
        .map(|(name, t)| {
            let begin = offset;
            offset += t.numel() * size;
            RawTensor { name: name.clone(), dtype, shape: t.shape().to_vec(), begin, end: offset }
        })
        .collect();
    let sum = checksum(&table, &metadata, |h| {
        for (_, t) in &entries {
            format::tensor_bytes(*t, &mut |b| {
                h.update(b);
                Ok(())
            })?;
        }
        Ok(())
    })
    .map_err(|e| NnError::config(format!("checkpoint: {e}")))?;
    metadata.push((KEY_CHECKSUM.to_string(), format!("{CHECKSUM_PREFIX}{sum:016x}")));

    let header = format::encode_header(&entries, &metadata)?;
    Ok((entries, header))
}

/// Verifies the checksum of a parsed checkpoint file.
fn verify(path: &Path, file: &RawFile<'_>) -> Result<(), NnError> {
    let stored = file
        .meta(KEY_CHECKSUM)
        .ok_or_else(|| format_err(path, None, "checkpoint has no `checksum` in its metadata"))?;
    let stored_sum = stored
        .strip_prefix(CHECKSUM_PREFIX)
        .filter(|h| h.len() == 16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| {
            format_err(path, None, format!("checkpoint checksum `{stored}` is not `fnv1a64:` + 16 hex digits"))
        })?;
    let actual = checksum(&file.tensors, &file.metadata, |h| {
        h.update(file.data());
        Ok(())
    })
    .map_err(|e| format_err(path, None, e.to_string()))?;
    if actual != stored_sum {
        return Err(format_err(
            path,
            None,
            format!(
                "checkpoint checksum mismatch: the header records {CHECKSUM_PREFIX}{stored_sum:016x} but the \
                 contents hash to {CHECKSUM_PREFIX}{actual:016x}; the file is corrupt"
            ),
        ));
    }
    Ok(())
}

/// Loads a checkpoint written by [`save_checkpoint`], after verifying its format tag and
/// checksum.
///
/// Tensors are converted to `T` as by [`load_safetensors`](super::load_safetensors); names,
/// order and all metadata come back as saved.
///
/// # Errors
/// * Everything [`load_safetensors`](super::load_safetensors) reports (I/O, truncation,
///   malformed header, unsupported dtype);
/// * [`NnError::Format`] naming the file when the `format` is not [`CHECKPOINT_FORMAT`]
///   (e.g. a plain weights file), the checksum is missing or does not match the contents
///   (any altered byte), the epoch is not a number, or a tensor or metadata key lacks the
///   `model.` / `optimizer.` (/ `extra.`) prefix.
///
/// # Example
///
/// See [`save_checkpoint`].
pub fn load_checkpoint<T: Float>(path: impl AsRef<Path>) -> Result<Checkpoint<T>, NnError> {
    let path = path.as_ref();
    checkpoint_from_bytes(&read_checked(path)?, path)
}

/// Parses checkpoint bytes held in memory (the content of a file written by
/// [`save_checkpoint`]); `name` is the file name used in error messages.
///
/// Same checks and results as [`load_checkpoint`], which reads the file and calls this. (It
/// is also the entry point of the `checkpoint` fuzz target, see `docs/reliability.md`.)
///
/// # Errors
/// [`NnError::Format`] naming `name`, as for [`load_checkpoint`].
pub fn checkpoint_from_bytes<T: Float>(bytes: &[u8], name: impl AsRef<Path>) -> Result<Checkpoint<T>, NnError> {
    let path = name.as_ref();
    let file = parse_file(path, bytes)?;
    match file.meta(KEY_FORMAT) {
        Some(CHECKPOINT_FORMAT) => {}
        Some(other) => {
            return Err(format_err(
                path,
                None,
                format!("unsupported checkpoint format `{other}` (expected `{CHECKPOINT_FORMAT}`)"),
            ))
        }
        None => {
            return Err(format_err(
                path,
                None,
                "not a checkpoint: no `format` in the metadata (a plain weights file? use load_safetensors)",
            ))
        }
    }
    verify(path, &file)?;
    let epoch_text = file.meta(KEY_EPOCH).ok_or_else(|| format_err(path, None, "checkpoint has no `epoch`"))?;
    let epoch = epoch_text.parse::<usize>().map_err(|_| {
        format_err(path, None, format!("checkpoint epoch `{epoch_text}` is not a non-negative integer"))
    })?;

    let mut ckpt = Checkpoint::new(StateDict::new(), StateDict::new(), epoch);
    for t in &file.tensors {
        let tensor = format::decode_tensor::<T>(path, &file, t)?;
        if let Some(name) = t.name.strip_prefix(MODEL) {
            ckpt.model.insert(name.to_string(), tensor);
        } else if let Some(name) = t.name.strip_prefix(OPTIMIZER) {
            ckpt.optimizer.insert(name.to_string(), tensor);
        } else {
            return Err(format_err(
                path,
                None,
                format!("checkpoint tensor `{}` is neither `model.*` nor `optimizer.*`", t.name),
            ));
        }
    }
    for (k, v) in &file.metadata {
        if let Some(key) = k.strip_prefix(MODEL) {
            ckpt.model.metadata.insert(key.to_string(), v.clone());
        } else if let Some(key) = k.strip_prefix(OPTIMIZER) {
            ckpt.optimizer.metadata.insert(key.to_string(), v.clone());
        } else if let Some(key) = k.strip_prefix(EXTRA) {
            ckpt.metadata.insert(key.to_string(), v.clone());
        } else if ![KEY_FORMAT, KEY_EPOCH, KEY_CHECKSUM].contains(&k.as_str()) {
            return Err(format_err(path, None, format!("checkpoint metadata has an unknown key `{k}`")));
        }
    }
    Ok(ckpt)
}
