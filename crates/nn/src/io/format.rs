//! The safetensors file format: header encoding, strict parsing and validation, conversion
//! between little-endian bytes and tensors, and the FNV-1a checksum.
//!
//! Layout: an 8-byte little-endian `u64` `n`, then `n` bytes of UTF-8 JSON (padded with
//! spaces to a multiple of 8), then the data section: every tensor's elements, row-major,
//! little-endian, back to back. The JSON maps each tensor name to
//! `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}` (offsets relative to
//! the data section) and the optional key `__metadata__` to a string-to-string map.

use super::json::{self, Json};
use crate::error::NnError;
use autograd::{Float, Tensor};
use std::any::{Any, TypeId};
use std::io::{self, Write};
use std::path::Path;

/// Largest header the reference implementation accepts (100 MB).
pub(crate) const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Bytes converted per chunk when streaming tensor data.
const CHUNK_ELEMS: usize = 8192;

/// A format error about `path`.
pub(crate) fn format_err(path: &Path, offset: Option<u64>, message: impl Into<String>) -> NnError {
    NnError::Format { path: path.to_path_buf(), offset, message: message.into() }
}

/// The on-disk dtypes the reference implementation (safetensors 0.4) knows, with their sizes.
const DTYPES: [(&str, usize); 15] = [
    ("BOOL", 1),
    ("U8", 1),
    ("I8", 1),
    ("F8_E5M2", 1),
    ("F8_E4M3", 1),
    ("I16", 2),
    ("U16", 2),
    ("F16", 2),
    ("BF16", 2),
    ("I32", 4),
    ("U32", 4),
    ("F32", 4),
    ("F64", 8),
    ("I64", 8),
    ("U64", 8),
];

/// The dtype name and element size this crate writes for `T`, or `None` for an element type
/// other than `f32` / `f64`.
pub(crate) fn dtype_of<T: Float>() -> Option<&'static str> {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        Some("F32")
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        Some("F64")
    } else {
        None
    }
}

/// One entry of a parsed header, validated against the data section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawTensor {
    pub(crate) name: String,
    pub(crate) dtype: &'static str,
    pub(crate) shape: Vec<usize>,
    /// Byte range within the data section.
    pub(crate) begin: usize,
    pub(crate) end: usize,
}

/// A parsed and validated safetensors file (borrowing its bytes).
#[derive(Debug)]
pub(crate) struct RawFile<'a> {
    /// The whole file.
    pub(crate) bytes: &'a [u8],
    /// Offset of the data section (8 + header length).
    pub(crate) data_start: usize,
    /// Tensors in data order (by offset; ties, which only zero-size tensors can have, in
    /// header order).
    pub(crate) tensors: Vec<RawTensor>,
    /// `__metadata__`, in header order.
    pub(crate) metadata: Vec<(String, String)>,
}

impl RawFile<'_> {
    /// The data section.
    pub(crate) fn data(&self) -> &[u8] {
        &self.bytes[self.data_start..]
    }

    /// The metadata value for `key`.
    pub(crate) fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn u64_list(v: &Json) -> Option<Vec<u64>> {
    match v {
        Json::Array(items) => items.iter().map(Json::as_u64).collect(),
        _ => None,
    }
}

/// Parses and validates a whole safetensors file held in memory.
///
/// Every check uses checked arithmetic against the real length of `bytes`, so no header value
/// can cause an allocation or an out-of-bounds slice: the header length is checked against
/// the file size before anything is parsed, and every tensor's byte range against the data
/// section. Errors are [`NnError::Format`] naming `path`, with the byte offset where known and
/// the tensor where there is one.
pub(crate) fn parse_file<'a>(path: &Path, bytes: &'a [u8]) -> Result<RawFile<'a>, NnError> {
    let len = bytes.len();
    if len < 8 {
        return Err(format_err(
            path,
            Some(0),
            format!("file is {len} bytes long; a safetensors file starts with an 8-byte header length"),
        ));
    }
    let n = u64::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]);
    let after = (len - 8) as u64;
    if n > after {
        return Err(format_err(
            path,
            Some(0),
            format!(
                "header length field says {n} bytes but only {after} bytes follow it \
                 (truncated file, or not a safetensors file)"
            ),
        ));
    }
    if n > MAX_HEADER_BYTES {
        return Err(format_err(
            path,
            Some(0),
            format!("header length {n} exceeds the limit of {MAX_HEADER_BYTES} bytes"),
        ));
    }
    let data_start = 8 + n as usize;
    let header = std::str::from_utf8(&bytes[8..data_start]).map_err(|e| {
        format_err(path, Some(8 + e.valid_up_to() as u64), "header is not valid UTF-8 (not a safetensors file?)")
    })?;
    if !header.starts_with('{') {
        return Err(format_err(path, Some(8), "header does not start with `{` (not a safetensors file?)"));
    }
    let root = json::parse(header)
        .map_err(|e| format_err(path, Some(8 + e.pos as u64), format!("header is not valid JSON: {}", e.message)))?;
    let Json::Object(entries) = root else {
        return Err(format_err(path, Some(8), "header is not a JSON object"));
    };

    let header_err = |message: String| format_err(path, Some(8), message);
    let mut metadata: Option<Vec<(String, String)>> = None;
    let mut tensors: Vec<RawTensor> = Vec::with_capacity(entries.len());
    let mut names = std::collections::HashSet::with_capacity(entries.len());
    for (key, value) in entries {
        if key == "__metadata__" {
            if metadata.is_some() {
                return Err(header_err("`__metadata__` appears twice in the header".into()));
            }
            let Json::Object(items) = value else {
                return Err(header_err(format!("`__metadata__` is {}, not an object", value.kind())));
            };
            let mut meta = Vec::with_capacity(items.len());
            let mut keys = std::collections::HashSet::with_capacity(items.len());
            for (k, v) in items {
                if !keys.insert(k.clone()) {
                    return Err(header_err(format!("metadata `{k}` appears twice in the header")));
                }
                match v {
                    Json::String(s) => meta.push((k, s)),
                    other => {
                        return Err(header_err(format!("metadata `{k}` is {}, not a string", other.kind())));
                    }
                }
            }
            metadata = Some(meta);
            continue;
        }
        let Json::Object(fields) = value else {
            return Err(header_err(format!("tensor `{key}`: entry is {}, not an object", value.kind())));
        };
        let field = |f: &str| fields.iter().find(|(k, _)| k == f).map(|(_, v)| v);
        let dtype = match field("dtype") {
            Some(Json::String(s)) => s.clone(),
            Some(other) => {
                return Err(header_err(format!("tensor `{key}`: `dtype` is {}, not a string", other.kind())))
            }
            None => return Err(header_err(format!("tensor `{key}`: no `dtype`"))),
        };
        let Some(&(dtype, size)) = DTYPES.iter().find(|(d, _)| *d == dtype) else {
            return Err(header_err(format!("tensor `{key}`: unknown dtype `{dtype}`")));
        };
        let shape = field("shape")
            .and_then(u64_list)
            .and_then(|s| s.into_iter().map(|d| usize::try_from(d).ok()).collect::<Option<Vec<usize>>>())
            .ok_or_else(|| header_err(format!("tensor `{key}`: `shape` is missing or not a list of integers")))?;
        let offsets = field("data_offsets")
            .and_then(u64_list)
            .filter(|o| o.len() == 2)
            .ok_or_else(|| header_err(format!("tensor `{key}`: `data_offsets` is missing or not two integers")))?;
        let (begin, end) = (offsets[0], offsets[1]);
        if end < begin {
            return Err(header_err(format!("tensor `{key}`: data_offsets [{begin}, {end}] end before they begin")));
        }
        let data_len = (len - data_start) as u64;
        if end > data_len {
            return Err(format_err(
                path,
                Some(len as u64),
                format!(
                    "tensor `{key}`: data_offsets [{begin}, {end}] run past the end of the {data_len}-byte data \
                     section (truncated file?)"
                ),
            ));
        }
        let nbytes = shape.iter().try_fold(size, |acc, &d| acc.checked_mul(d));
        if nbytes != Some((end - begin) as usize) {
            return Err(header_err(format!(
                "tensor `{key}`: shape {shape:?} of {dtype} needs {} bytes but data_offsets [{begin}, {end}] span {}",
                nbytes.map_or("too many".to_string(), |b| b.to_string()),
                end - begin
            )));
        }
        if !names.insert(key.clone()) {
            return Err(header_err(format!("tensor `{key}` appears twice in the header")));
        }
        tensors.push(RawTensor { name: key, dtype, shape, begin: begin as usize, end: end as usize });
    }
    // Stable: zero-size tensors sharing an offset keep their header order.
    tensors.sort_by_key(|t| (t.begin, t.end));
    let mut expected = 0usize;
    for t in &tensors {
        if t.begin != expected {
            return Err(header_err(format!(
                "tensor `{}`: data_offsets [{}, {}] should begin at {expected}, where the previous tensor ends \
                 (gap or overlap)",
                t.name, t.begin, t.end
            )));
        }
        expected = t.end;
    }
    let data_len = len - data_start;
    if expected != data_len {
        return Err(format_err(
            path,
            Some((data_start + expected) as u64),
            format!("{} bytes after the last tensor's data (the header describes {expected})", data_len - expected),
        ));
    }
    // Second opinion from the reference implementation. Safe to call now: every offset has
    // been checked against the real length, so its unchecked additions cannot overflow.
    if let Err(e) = safetensors::SafeTensors::read_metadata(bytes) {
        return Err(format_err(path, None, format!("rejected by the safetensors crate: {e:?}")));
    }
    Ok(RawFile { bytes, data_start, tensors, metadata: metadata.unwrap_or_default() })
}

/// Moves a `Vec<S>` into a `Vec<T>`: without copying or touching the bits when `S` and `T`
/// are the same type, by converting through `f64` otherwise (exact from `f32` to `f64`,
/// rounding to nearest from `f64` to `f32`).
fn convert_vec<S: Float, T: Float>(v: Vec<S>) -> Vec<T> {
    let any: Box<dyn Any> = Box::new(v);
    match any.downcast::<Vec<T>>() {
        Ok(same) => *same,
        Err(any) => match any.downcast::<Vec<S>>() {
            Ok(v) => v.into_iter().map(|x| T::from_f64(x.to_f64())).collect(),
            Err(_) => unreachable!("a Box<Vec<S>> downcasts to Vec<S>"),
        },
    }
}

/// Decodes one tensor of a parsed file into a `Tensor<T>`: F32 and F64 only.
pub(crate) fn decode_tensor<T: Float>(path: &Path, file: &RawFile<'_>, t: &RawTensor) -> Result<Tensor<T>, NnError> {
    let bytes = &file.data()[t.begin..t.end];
    let data: Vec<T> = match t.dtype {
        "F32" => convert_vec(
            bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<f32>>(),
        ),
        "F64" => convert_vec(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect::<Vec<f64>>(),
        ),
        other => {
            return Err(format_err(
                path,
                Some((file.data_start + t.begin) as u64),
                format!("tensor `{}` has dtype {other}; only F32 and F64 can be loaded (into {})", t.name, T::NAME),
            ))
        }
    };
    Tensor::from_vec(data, &t.shape)
        .map_err(|e| format_err(path, Some((file.data_start + t.begin) as u64), format!("tensor `{}`: {e}", t.name)))
}

/// Streams the little-endian bytes of a tensor to `sink`, in chunks.
pub(crate) fn tensor_bytes<T: Float>(t: &Tensor<T>, sink: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    fn stream<U: Copy, const N: usize>(
        data: &[U],
        le: impl Fn(U) -> [u8; N],
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut buf = Vec::with_capacity(CHUNK_ELEMS.min(data.len()) * N);
        for chunk in data.chunks(CHUNK_ELEMS) {
            buf.clear();
            for &v in chunk {
                buf.extend_from_slice(&le(v));
            }
            sink(&buf)?;
        }
        Ok(())
    }
    let any = t as &dyn Any;
    if let Some(t) = any.downcast_ref::<Tensor<f32>>() {
        stream(t.data(), f32::to_le_bytes, sink)
    } else if let Some(t) = any.downcast_ref::<Tensor<f64>>() {
        stream(t.data(), f64::to_le_bytes, sink)
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("element type {} cannot be saved", T::NAME)))
    }
}

/// A tensor to write: its name and value.
pub(crate) type Entry<'a, T> = (String, &'a Tensor<T>);

/// Builds the header (length prefix included, JSON padded with spaces to a multiple of 8),
/// assigning data offsets in the order of `entries`. The JSON is laid out as `serde_json`
/// (and so the `safetensors` crate) writes it.
pub(crate) fn encode_header<T: Float>(
    entries: &[Entry<'_, T>],
    metadata: &[(String, String)],
) -> Result<Vec<u8>, NnError> {
    let dtype =
        dtype_of::<T>().ok_or_else(|| NnError::config(format!("safetensors: cannot save element type {}", T::NAME)))?;
    let size = std::mem::size_of::<T>();
    let mut h = String::from("{");
    if !metadata.is_empty() {
        h.push_str("\"__metadata__\":{");
        for (i, (k, v)) in metadata.iter().enumerate() {
            if i > 0 {
                h.push(',');
            }
            json::write_string(&mut h, k);
            h.push(':');
            json::write_string(&mut h, v);
        }
        h.push('}');
    }
    let mut offset = 0usize;
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for (i, (name, t)) in entries.iter().enumerate() {
        if name == "__metadata__" {
            return Err(NnError::config("safetensors: the tensor name `__metadata__` is reserved"));
        }
        if !seen.insert(name.as_str()) {
            return Err(NnError::config(format!("safetensors: tensor name `{name}` is used twice")));
        }
        if i > 0 || !metadata.is_empty() {
            h.push(',');
        }
        let nbytes = t.numel() * size;
        json::write_string(&mut h, name);
        h.push_str(&format!(
            ":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            t.shape().iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","),
            offset + nbytes
        ));
        offset += nbytes;
    }
    h.push('}');
    while h.len() % 8 != 0 {
        h.push(' ');
    }
    if h.len() as u64 > MAX_HEADER_BYTES {
        return Err(NnError::config(format!(
            "safetensors: the header would be {} bytes, over the limit of {MAX_HEADER_BYTES}",
            h.len()
        )));
    }
    let mut out = Vec::with_capacity(8 + h.len());
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    Ok(out)
}

/// Writes a complete file: `header` (from [`encode_header`] over the same `entries`), then
/// the data of every tensor in order.
pub(crate) fn write_file<T: Float>(w: &mut dyn Write, header: &[u8], entries: &[Entry<'_, T>]) -> io::Result<()> {
    w.write_all(header)?;
    for (_, t) in entries {
        tensor_bytes(*t, &mut |b| w.write_all(b))?;
    }
    Ok(())
}

/// 64-bit FNV-1a (Fowler–Noll–Vo), fed incrementally.
///
/// Not cryptographic, but every step is a bijection of the state for a fixed input byte, so
/// changing any single byte of the input always changes the hash; other corruptions collide
/// with probability about 2^-64.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a64(u64);

impl Fnv1a64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub(crate) fn new() -> Self {
        Fnv1a64(Self::OFFSET_BASIS)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(Self::PRIME);
        }
        self.0 = h;
    }

    /// Feeds a length-prefixed byte string (length as `u64` little-endian), so that
    /// concatenations of fields cannot be confused.
    pub(crate) fn update_field(&mut self, bytes: &[u8]) {
        self.update(&(bytes.len() as u64).to_le_bytes());
        self.update(bytes);
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}
