//! Shared by the fuzz targets: a global allocator that records the peak number of live heap
//! bytes, so a target can check that a reader never allocates more than the size of its input
//! justifies (a header claiming gigabytes must not reserve them). libFuzzer's `-rss_limit_mb`
//! and `-malloc_limit_mb` catch only the gross cases; this catches a 100-byte file that makes
//! a reader reserve 10 MB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call forwards to `System` unchanged; the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            // Both blocks may be live during the copy.
            grew(new_size);
            CURRENT.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

/// Runs `f` and returns its result with the peak number of heap bytes it had live at once,
/// beyond what was live before (its result included, until it is returned).
pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    let r = f();
    (r, PEAK.load(Relaxed).saturating_sub(base))
}

/// The allocation budget for reading `len` bytes: a generous constant factor (a JSON header
/// or a CSV table of one-character numbers legitimately needs tens of bytes per input byte)
/// plus a fixed allowance (decompressor state, error messages). An allocation sized from a
/// header field overshoots this by orders of magnitude.
pub fn budget(len: usize) -> usize {
    64 * len + (1 << 20)
}

/// Asserts that `peak` is within [`budget`] of `len` input bytes.
#[track_caller]
pub fn check_budget(what: &str, peak: usize, len: usize) {
    assert!(peak <= budget(len), "{what}: {peak} bytes allocated at peak for {len} bytes of input");
}
