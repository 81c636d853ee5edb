//! IDX (MNIST) reader: `parse_idx` on raw bytes, and the gzip-transparent path of `read_idx`
//! (`decode_bytes`, then `parse_idx`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn::data::datasets::{check_labels, decode_bytes, parse_idx, MAX_DECOMPRESSED_BYTES};

#[path = "common.rs"]
mod common;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

fn parse(bytes: &[u8]) {
    let (result, peak) = common::peak_during(|| parse_idx(bytes, "fuzz.idx"));
    common::check_budget("parse_idx", peak, bytes.len());
    match result {
        Ok(a) => {
            assert!(!a.dims.is_empty());
            let product = if a.dims.contains(&0) { 0 } else { a.dims.iter().product::<usize>() };
            assert_eq!(a.data.len(), product);
            assert_eq!(a.data.len() + 4 + 4 * a.dims.len(), bytes.len());
            let n = a.num_items();
            if n > 0 {
                assert_eq!(a.item(n - 1).map(<[u8]>::len), Some(a.item_len()));
            }
            assert_eq!(a.item(n), None);
            let _ = check_labels(&a.data, 10, "fuzz.idx");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.idx"), "{message}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    parse(data);
    if data.starts_with(&nn::data::datasets::GZIP_MAGIC) {
        let (decoded, peak) = common::peak_during(|| decode_bytes(data, "fuzz.idx.gz", MAX_DECOMPRESSED_BYTES));
        if let Ok(bytes) = decoded {
            // The output is sized by what was decompressed, never by a header.
            assert!(peak <= 4 * bytes.len() + (1 << 20), "decode: {peak} bytes for {} decoded", bytes.len());
            parse(&bytes);
        } else {
            common::check_budget("decode_bytes", peak, data.len());
        }
    }
});
