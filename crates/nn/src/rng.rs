//! Random numbers: the thread's default generator (for initialisers), and the derived,
//! stateless generators the training loop uses.
//!
//! Two sources, for two needs:
//!
//! * **Initialisation** draws from a per-thread generator, like `torch.manual_seed`:
//!   [`manual_seed`] makes every layer created afterwards on this thread reproducible. Each
//!   layer takes exactly one `u64` from it when it is created and derives all its samples
//!   from that, so builder calls (`.kernel_initializer(..)`) do not shift later layers.
//!   Without `manual_seed` the generator is seeded from the OS, as in Keras and PyTorch.
//! * **Training** (per-epoch shuffling, dropout masks) uses generators derived from
//!   `(seed, epoch, step)` by [`derive_seed`], never one long-lived generator. Resuming at
//!   epoch `e` therefore needs no saved RNG state: epoch `e` of a resumed run draws exactly
//!   what epoch `e` of an uninterrupted run drew.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::cell::RefCell;

thread_local! {
    static THREAD_RNG: RefCell<StdRng> = RefCell::new(rand::make_rng::<StdRng>());
}

/// Reseeds this thread's default generator, so that layers created (and `fit` runs started
/// without an explicit seed) afterwards on this thread are reproducible.
///
/// ```
/// use nn::{manual_seed, Dense, Module};
/// manual_seed(7);
/// let a = Dense::<f32>::new(3, 2);
/// manual_seed(7);
/// let b = Dense::<f32>::new(3, 2);
/// assert_eq!(a.kernel().data(), b.kernel().data());
/// ```
pub fn manual_seed(seed: u64) {
    THREAD_RNG.with(|r| *r.borrow_mut() = StdRng::seed_from_u64(seed));
}

/// Draws a fresh `u64` from this thread's default generator.
pub fn next_seed() -> u64 {
    THREAD_RNG.with(|r| r.borrow_mut().random())
}

/// SplitMix64's finaliser: a bijective mix with good avalanche, used to combine seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed derived from a base seed and a path of integers (e.g. `[purpose, epoch, step]`):
/// different paths give unrelated streams, the same path always the same one.
pub fn derive_seed(seed: u64, path: &[u64]) -> u64 {
    path.iter().fold(mix(seed), |acc, &p| mix(acc ^ mix(p)))
}

/// A generator seeded by [`derive_seed`].
pub fn derived_rng(seed: u64, path: &[u64]) -> StdRng {
    StdRng::seed_from_u64(derive_seed(seed, path))
}

/// Stream tag for the per-epoch shuffle.
pub(crate) const STREAM_SHUFFLE: u64 = 1;
/// Stream tag for per-step dropout (and any other training-time noise).
pub(crate) const STREAM_DROPOUT: u64 = 2;
/// Stream tag for `train_test_split`.
pub(crate) const STREAM_SPLIT: u64 = 3;
