//! Weights and checkpoints on disk, in the [safetensors] format.
//!
//! * [`save_safetensors`] / [`load_safetensors`]: a [`StateDict`] as a plain safetensors
//!   file that PyTorch (`safetensors.torch.load_file`), NumPy (`safetensors.numpy.load_file`)
//!   and candle read directly: `F32` or `F64` tensors, little-endian, row-major, under the
//!   names and with the shapes of the state dict, and its metadata as `__metadata__`.
//! * [`check_state_dict`]: compares a loaded state dict against the expected one and lists
//!   every missing, unexpected and wrongly shaped tensor.
//! * [`save_checkpoint`] / [`load_checkpoint`]: a training [`Checkpoint`] (model, optimizer
//!   state, epoch, free-form metadata) as *one* safetensors file with an integrity checksum.
//! * [`to_safetensors_bytes`] / [`from_safetensors_bytes`] and [`checkpoint_to_bytes`] /
//!   [`checkpoint_from_bytes`]: the same formats in memory (the loaders are the file
//!   readers minus the file system; they are the entry points of the fuzz targets, see
//!   `docs/reliability.md`).
//!
//! # Robustness
//!
//! * **Writes are atomic.** A file is written to a temporary file in the same directory
//!   (`.<name>.<pid>.<n>.tmp`; for a name over 218 bytes its start and a hash of it stand for
//!   `<name>`, so the temporary name never exceeds the 255-byte file-name limit), flushed,
//!   fsynced and renamed over the target; the directory
//!   is then fsynced. A reader sees the old file or the complete new one. On any error the
//!   temporary file is removed and an existing target is left untouched; the error names the
//!   file, the step and the OS cause (e.g. `ckpt.safetensors: writing the temporary file
//!   `.ckpt.safetensors.42.0.tmp` failed: No space left on device (os error 28); the file was
//!   not changed`). A process killed mid-write leaves its temporary file behind; readers never
//!   look at it, and the next successful save to the same path removes it (on Linux, once
//!   its process is gone). `docs/reliability.md` describes the SIGKILL test of all this.
//!   [`write_atomic`] writes any other file the same way, and [`check_writable`] tells before
//!   a long run whether a destination can be written at all.
//! * **Reads never trust the header.** The 8-byte header length is checked against the file
//!   size before anything else is read; the JSON header is parsed by a strict parser with a
//!   nesting limit; every tensor's dtype, shape and byte range is checked with overflow-checked
//!   arithmetic against the real data section (contiguous, no gaps, no overlaps, no trailing
//!   bytes) before any tensor is allocated, so memory use is bounded by a small multiple of
//!   the file size. The `safetensors` crate then re-validates the header as a second opinion
//!   (it is not used alone because a crafted header makes its validation (0.4 to 0.8) overflow and
//!   panic; see `json.rs`). Errors are [`NnError::Format`] (or [`NnError::Io`]) naming the
//!   file and, where known, the byte offset and the tensor.
//!
//! # Element types
//!
//! A `StateDict<f32>` is written as `F32`, a `StateDict<f64>` as `F64`. Loading into `T`
//! accepts both: the same type is copied bit for bit (NaN payloads included), `F32` into
//! `f64` is exact, and `F64` into `f32` rounds to nearest (values beyond `f32`'s range become
//! infinities). Any other dtype (`F16`, `BF16`, integers, ...) is an error naming the tensor.
//!
//! # Order
//!
//! Tensors are written in the state dict's order (their data offsets increase in that
//! order), and loading restores the order of the data offsets, so a save/load round trip
//! keeps the order of the tensors and of the metadata. (A file written by PyTorch is in its
//! own order: sorted by dtype, then by name.)
//!
//! [safetensors]: https://github.com/huggingface/safetensors

mod atomic;
mod checkpoint;
mod format;
pub(crate) mod json;
#[cfg(test)]
mod tests;

pub use atomic::{check_writable, write_atomic};
pub use checkpoint::{
    checkpoint_from_bytes, checkpoint_to_bytes, load_checkpoint, save_checkpoint, Checkpoint, CHECKPOINT_FORMAT,
};

use crate::error::NnError;
use crate::state::StateDict;
use autograd::Float;
use format::{format_err, parse_file, Entry};
use indexmap::IndexMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The metadata to write: the state dict's own, then `extra` (an `extra` key replaces the
/// state dict's value for that key).
fn merged_metadata<T: Float>(state: &StateDict<T>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut m: IndexMap<String, String> = state.metadata.clone();
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    m.into_iter().collect()
}

fn entries<T: Float>(state: &StateDict<T>) -> Vec<Entry<'_, T>> {
    state.iter().map(|(k, t)| (k.clone(), t)).collect()
}

/// Serializes a state dict to safetensors bytes in memory (the exact content
/// [`save_safetensors`] writes).
///
/// # Errors
/// [`NnError::InvalidConfig`] for a tensor named `__metadata__` (reserved by the format) or
/// a header over the format's 100 MB limit.
pub fn to_safetensors_bytes<T: Float>(state: &StateDict<T>, metadata: &[(&str, &str)]) -> Result<Vec<u8>, NnError> {
    let entries = entries(state);
    let mut out = format::encode_header(&entries, &merged_metadata(state, metadata))?;
    format::write_file(&mut out, &[], &entries).map_err(|e| NnError::config(format!("safetensors: {e}")))?;
    Ok(out)
}

/// Saves a state dict as a safetensors file, atomically.
///
/// Tensors are written under their names, in the state dict's order, as `F32` for
/// `StateDict<f32>` and `F64` for `StateDict<f64>`. The `__metadata__` map holds the state
/// dict's [`metadata`](StateDict::metadata) followed by `metadata` (whose entries replace
/// state-dict entries with the same key). The file is written to a temporary file in the
/// same directory, fsynced and renamed into place: an existing file at `path` is replaced
/// completely or, on error, left as it was.
///
/// # Errors
/// [`NnError::Io`] naming `path` when the directory does not exist or is not writable, the
/// disk is full, etc.; [`NnError::InvalidConfig`] as for [`to_safetensors_bytes`].
///
/// # Example
///
/// ```
/// use autograd::Tensor;
/// use nn::io::{load_safetensors, save_safetensors};
/// use nn::StateDict;
///
/// let mut sd = StateDict::<f32>::new();
/// sd.insert("0.weight".into(), Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3])?);
/// sd.insert("0.bias".into(), Tensor::from_vec(vec![0.5, -0.5], [2])?);
///
/// let path = std::env::temp_dir().join(format!("nn-doc-{}.safetensors", std::process::id()));
/// save_safetensors(&path, &sd, &[("framework", "nn")])?;
///
/// let loaded = load_safetensors::<f32>(&path)?;
/// assert_eq!(loaded.keys().collect::<Vec<_>>(), ["0.weight", "0.bias"]);
/// assert_eq!(loaded["0.weight"], sd["0.weight"]);
/// assert_eq!(loaded.metadata["framework"], "nn");
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_safetensors<T: Float>(
    path: impl AsRef<Path>,
    state: &StateDict<T>,
    metadata: &[(&str, &str)],
) -> Result<(), NnError> {
    let path = path.as_ref();
    let entries = entries(state);
    let header = format::encode_header(&entries, &merged_metadata(state, metadata))?;
    atomic::write_atomic(path, |w| format::write_file(w, &header, &entries))
}

/// Parses safetensors bytes held in memory into a state dict; `name` is the file name used
/// in error messages.
///
/// Same rules as [`load_safetensors`].
///
/// # Errors
/// [`NnError::Format`] naming `name` for anything malformed or an unsupported dtype.
pub fn from_safetensors_bytes<T: Float>(bytes: &[u8], name: impl AsRef<Path>) -> Result<StateDict<T>, NnError> {
    let path = name.as_ref();
    let file = parse_file(path, bytes)?;
    let mut sd = StateDict::new();
    for t in &file.tensors {
        sd.insert(t.name.clone(), format::decode_tensor::<T>(path, &file, t)?);
    }
    sd.metadata = file.metadata.into_iter().collect();
    Ok(sd)
}

/// Reads a whole file, after checking its 8-byte header length against its size (so a
/// large file that is not safetensors is rejected without being read).
fn read_checked(path: &Path) -> Result<Vec<u8>, NnError> {
    let io_err = |source| NnError::Io { path: path.to_path_buf(), source };
    let mut f = File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    if len < 8 {
        return Err(format_err(
            path,
            Some(0),
            format!("file is {len} bytes long; a safetensors file starts with an 8-byte header length"),
        ));
    }
    let mut prefix = [0u8; 8];
    f.read_exact(&mut prefix).map_err(io_err)?;
    let n = u64::from_le_bytes(prefix);
    if n > len - 8 {
        return Err(format_err(
            path,
            Some(0),
            format!(
                "header length field says {n} bytes but only {} bytes follow it \
                 (truncated file, or not a safetensors file)",
                len - 8
            ),
        ));
    }
    f.seek(SeekFrom::Start(0)).map_err(io_err)?;
    // `len` is the file's real size (not a header field); read_to_end still copes with a file
    // that changes size meanwhile, and the parser checks the bytes actually read.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.read_to_end(&mut bytes).map_err(io_err)?;
    Ok(bytes)
}

/// Loads a safetensors file into a state dict, with the file's `__metadata__` as the state
/// dict's [`metadata`](StateDict::metadata).
///
/// `F32` and `F64` tensors are accepted and converted to `T` (bit-exact for the same type,
/// exact from `F32` to `f64`, rounded to nearest from `F64` to `f32`); tensors keep the
/// order of their data in the file, which is the saved state dict's order for files written
/// by [`save_safetensors`]. Pass the result to [`check_state_dict`] (or a model's
/// `load_state_dict`) to check names and shapes.
///
/// # Errors
/// * [`NnError::Io`] when the file cannot be opened or read;
/// * [`NnError::Format`] naming the file, with the byte offset where known, when it is too
///   short, its header length exceeds the file, its header is not UTF-8 / JSON / a valid
///   tensor table, a tensor's byte range does not match its shape or lies outside the data
///   section (a truncated file), there are bytes after the last tensor, or a tensor has a
///   dtype other than `F32`/`F64` (the message names the tensor and its dtype).
///
/// # Example
///
/// See [`save_safetensors`].
pub fn load_safetensors<T: Float>(path: impl AsRef<Path>) -> Result<StateDict<T>, NnError> {
    let path = path.as_ref();
    let bytes = read_checked(path)?;
    from_safetensors_bytes(&bytes, path)
}

/// Checks that `found` has exactly the tensors of `expected`, with the same shapes.
///
/// Element types may differ (check an `f64` file against an `f32` model); values and
/// metadata are not compared.
///
/// # Errors
/// [`NnError::StateDictMismatch`] listing every missing tensor (with the expected shape),
/// every unexpected tensor (with its shape) and every tensor whose shape differs (with both
/// shapes), each list in state-dict order.
///
/// ```
/// use autograd::Tensor;
/// use nn::{io::check_state_dict, NnError, StateDict};
///
/// let mut expected = StateDict::<f32>::new();
/// expected.insert("w".into(), Tensor::zeros([2, 3]));
/// let mut found = StateDict::<f32>::new();
/// found.insert("w".into(), Tensor::zeros([3, 2]));
/// let err = check_state_dict(&found, &expected).unwrap_err();
/// assert!(matches!(err, NnError::StateDictMismatch { .. }));
/// assert_eq!(err.to_string(), "state dict mismatch: `w`: expected shape [2, 3], found [3, 2]");
/// ```
pub fn check_state_dict<T: Float, U: Float>(found: &StateDict<T>, expected: &StateDict<U>) -> Result<(), NnError> {
    let mut missing = Vec::new();
    let mut wrong_shape = Vec::new();
    for (name, e) in expected.iter() {
        match found.get(name) {
            None => missing.push((name.clone(), e.shape().to_vec())),
            Some(f) if f.shape() != e.shape() => {
                wrong_shape.push((name.clone(), e.shape().to_vec(), f.shape().to_vec()))
            }
            Some(_) => {}
        }
    }
    let unexpected: Vec<(String, Vec<usize>)> = found
        .iter()
        .filter(|(name, _)| !expected.contains_key(name.as_str()))
        .map(|(name, f)| (name.clone(), f.shape().to_vec()))
        .collect();
    if missing.is_empty() && unexpected.is_empty() && wrong_shape.is_empty() {
        Ok(())
    } else {
        Err(NnError::StateDictMismatch { missing, unexpected, wrong_shape })
    }
}
