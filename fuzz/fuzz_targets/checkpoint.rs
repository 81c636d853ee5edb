//! Checkpoint reader: `checkpoint_from_bytes` (what `load_checkpoint` runs on the file's
//! bytes). Random mutations almost never keep the checksum right, so an input whose only
//! fault is its checksum is also tried with the checksum repaired (same length, so no offset
//! moves): that lets the fuzzer reach the code after the check (format tag, epoch, prefixes,
//! tensor decoding). Anything accepted must survive a save/load round trip bit for bit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn::io::{checkpoint_from_bytes, checkpoint_to_bytes, Checkpoint};
use nn::NnError;

#[path = "common.rs"]
mod common;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

fn bits(c: &Checkpoint<f64>) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    c.model
        .iter()
        .map(|(k, t)| (format!("m{k}"), t))
        .chain(c.optimizer.iter().map(|(k, t)| (format!("o{k}"), t)))
        .map(|(k, t)| (k, t.shape().to_vec(), t.data().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

fn load(data: &[u8]) -> Result<Checkpoint<f64>, NnError> {
    let (result, peak) = common::peak_during(|| checkpoint_from_bytes::<f64>(data, "fuzz.ckpt"));
    common::check_budget("checkpoint_from_bytes", peak, data.len());
    // The f32 path must agree on acceptance.
    let f32_ok = checkpoint_from_bytes::<f32>(data, "fuzz.ckpt").is_ok();
    assert_eq!(result.is_ok(), f32_ok);
    result
}

/// `data` with its stored checksum replaced by the one the error message says the contents
/// hash to, if the error is a checksum mismatch and the stored value appears verbatim.
fn repaired(data: &[u8], e: &NnError) -> Option<Vec<u8>> {
    let m = e.to_string();
    let stored = m.split("the header records ").nth(1)?.get(..24)?;
    let actual = m.split("the contents hash to ").nth(1)?.get(..24)?;
    let at = data.windows(24).position(|w| w == stored.as_bytes())?;
    let mut fixed = data.to_vec();
    fixed[at..at + 24].copy_from_slice(actual.as_bytes());
    Some(fixed)
}

fn check_accepted(c: &Checkpoint<f64>) {
    let bytes = checkpoint_to_bytes(c).expect("a loaded checkpoint can be saved");
    let back = checkpoint_from_bytes::<f64>(&bytes, "again.ckpt").expect("a saved checkpoint loads");
    assert_eq!(bits(&back), bits(c));
    assert_eq!((back.epoch, &back.metadata), (c.epoch, &c.metadata));
    assert_eq!((&back.model.metadata, &back.optimizer.metadata), (&c.model.metadata, &c.optimizer.metadata));
    assert_eq!(checkpoint_to_bytes(&back).unwrap(), bytes);
}

fuzz_target!(|data: &[u8]| {
    match load(data) {
        Ok(c) => check_accepted(&c),
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.ckpt"), "{message}");
            if let Some(fixed) = repaired(data, &e) {
                if let Ok(c) = load(&fixed) {
                    check_accepted(&c);
                }
            }
        }
    }
});
