//! Safetensors weights reader: `from_safetensors_bytes` (what `load_safetensors` runs on the
//! file's bytes) into `f32` and `f64`; anything accepted must survive a save/load round trip
//! bit for bit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn::io::{check_state_dict, from_safetensors_bytes, to_safetensors_bytes};
use nn::StateDict;

#[path = "common.rs"]
mod common;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

/// An element type whose bit patterns can be compared (NaN payloads included).
trait Bits: autograd::Float {
    fn bits(&self) -> u64;
}

impl Bits for f32 {
    fn bits(&self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Bits for f64 {
    fn bits(&self) -> u64 {
        self.to_bits()
    }
}

fn bits<T: Bits>(sd: &StateDict<T>) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    sd.iter().map(|(k, t)| (k.clone(), t.shape().to_vec(), t.data().iter().map(|v| v.bits()).collect())).collect()
}

fn round_trip<T: Bits>(data: &[u8]) {
    let (result, peak) = common::peak_during(|| from_safetensors_bytes::<T>(data, "fuzz.safetensors"));
    // An f32 file read into f64 doubles its data: still within the budget.
    common::check_budget("from_safetensors_bytes", peak, data.len());
    let sd = match result {
        Ok(sd) => sd,
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.safetensors"), "{message}");
            return;
        }
    };
    check_state_dict(&sd, &sd).unwrap();
    let bytes = to_safetensors_bytes(&sd, &[]).expect("a loaded state dict can be saved");
    let back = from_safetensors_bytes::<T>(&bytes, "again.safetensors").expect("a saved state dict loads");
    assert_eq!(bits(&back), bits(&sd));
    assert_eq!(back.metadata, sd.metadata);
    // Saving is deterministic.
    assert_eq!(to_safetensors_bytes(&back, &[]).unwrap(), bytes);
}

fuzz_target!(|data: &[u8]| {
    round_trip::<f32>(data);
    round_trip::<f64>(data);
});
