//! Reuse of large tensor buffers.
//!
//! A training step allocates the same buffers step after step (activations, gradients, GEMM
//! outputs), and so does any loop over big tensors. glibc's `malloc` serves large requests
//! with fresh `mmap`s (or trims its heap back to the system), so every page of such a buffer
//! page-faults on its first write: a fresh 40 MB output costs ~15 ms of faults against ~3 ms of
//! arithmetic, and a batch-1024 MLP step spent a third of its time in them. So the buffers of
//! tensors of at least [`MIN_BYTES`] go back to a small per-type pool when their last handle is
//! dropped, and the kernels take their outputs from it. A buffer taken from the pool is empty
//! (length 0): kernels fill it, so stale data is never visible.
//!
//! The pool keeps at most [`limit`] bytes per element type (64 MiB unless changed with
//! [`set_limit`]; 0 turns it off) in at most 64 buffers; the oldest go first. [`clear`] hands
//! everything back to the allocator. Results never depend on the pool, only speed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Buffers smaller than this (in bytes) are left to the allocator, whose small-size free lists
/// are already fast and fault-free.
pub const MIN_BYTES: usize = 16 * 1024;

const MAX_BUFFERS: usize = 64;

static LIMIT: AtomicUsize = AtomicUsize::new(64 << 20);

/// The most bytes the pool keeps per element type.
pub fn limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Sets the most bytes the pool keeps per element type (0 turns pooling off) and drops what is
/// over it now.
pub fn set_limit(bytes: usize) {
    // Stored under each pool's lock (see `give`), then the pool is trimmed to it.
    <f32 as Pooled>::pool().set_limit_and_trim(bytes);
    <f64 as Pooled>::pool().set_limit_and_trim(bytes);
}

/// Returns every pooled buffer to the allocator.
pub fn clear() {
    <f32 as Pooled>::pool().trim(0);
    <f64 as Pooled>::pool().trim(0);
}

/// Bytes held by the pool now, over both element types.
pub fn pooled_bytes() -> usize {
    <f32 as Pooled>::pool().bytes() + <f64 as Pooled>::pool().bytes()
}

pub(crate) mod sealed {
    /// An element type with a pool of its own (implemented for every type tensors or the
    /// kernels keep in buffers). Sealed: nameable only inside the crate.
    pub trait Pooled: Copy + Send + 'static {
        /// The pool of spare buffers of this type.
        fn pool() -> &'static Pool<Self>;
    }

    /// A pool of spare buffers for one element type.
    pub struct Pool<T> {
        pub(super) inner: std::sync::Mutex<super::Inner<T>>,
    }
}
use sealed::{Pool, Pooled};

macro_rules! pooled {
    ($($t:ty),*) => {$(
        impl Pooled for $t {
            fn pool() -> &'static Pool<$t> {
                static POOL: Pool<$t> = Pool::new();
                &POOL
            }
        }
    )*};
}
pooled!(f32, f64);

struct Inner<T> {
    /// Oldest first.
    bufs: Vec<Vec<T>>,
    bytes: usize,
}

impl<T> Pool<T> {
    /// An empty pool (usable in a `static`).
    const fn new() -> Self {
        Pool { inner: Mutex::new(Inner { bufs: Vec::new(), bytes: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        // Nothing panics while the lock is held, but a poisoned pool is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn set_limit_and_trim(&self, limit: usize) {
        {
            let _p = self.lock();
            LIMIT.store(limit, Ordering::Relaxed);
        }
        self.trim(limit);
    }

    fn trim(&self, limit: usize) {
        let mut freed = Vec::new();
        {
            let mut p = self.lock();
            while p.bytes > limit {
                let b = p.bufs.remove(0);
                p.bytes -= b.capacity() * std::mem::size_of::<T>();
                freed.push(b);
            }
        }
        drop(freed); // outside the lock: unmapping is slow
    }
}

/// An empty vector with room for at least `n` elements: a pooled buffer of capacity between
/// `n` and `2n` when there is one (the smallest such), else a fresh allocation.
pub(crate) fn take<T: Pooled>(n: usize) -> Vec<T> {
    if n * std::mem::size_of::<T>() < MIN_BYTES {
        return Vec::with_capacity(n);
    }
    let pool = T::pool();
    let mut p = pool.lock();
    let best = p
        .bufs
        .iter()
        .enumerate()
        .filter(|(_, b)| b.capacity() >= n && b.capacity() <= 2 * n)
        .min_by_key(|(_, b)| b.capacity())
        .map(|(i, _)| i);
    if let Some(i) = best {
        let mut v = p.bufs.remove(i);
        p.bytes -= v.capacity() * std::mem::size_of::<T>();
        drop(p);
        v.clear();
        return v;
    }
    drop(p);
    Vec::with_capacity(n)
}

/// `n` copies of `v`, in a pooled buffer when there is one.
pub(crate) fn filled<T: Pooled>(n: usize, v: T) -> Vec<T> {
    let mut out = take(n);
    out.resize(n, v);
    out
}

/// Hands `v` to the pool (or drops it when it is small, or does not fit under the limit).
pub(crate) fn give<T: Pooled>(v: Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < MIN_BYTES {
        return;
    }
    let mut freed = Vec::new();
    {
        let mut p = T::pool().lock();
        // Read under the lock, so that a concurrent `set_limit` (which trims under it too) is
        // never undone by a buffer admitted against the old limit.
        let limit = limit();
        if bytes > limit {
            return;
        }
        while p.bytes + bytes > limit || p.bufs.len() >= MAX_BUFFERS {
            let b = p.bufs.remove(0);
            p.bytes -= b.capacity() * std::mem::size_of::<T>();
            freed.push(b);
        }
        p.bytes += bytes;
        p.bufs.push(v);
    }
    drop(freed);
}
