//! Weight initialisers, as in `keras.initializers` and `torch.nn.init`.
//!
//! An [`Init`] samples a tensor given its shape and its fans (the number of inputs and
//! outputs of the unit it belongs to). The fans are passed explicitly because layouts
//! differ (a `Dense` kernel is stored `[in, out]`, PyTorch's `[out, in]`); [`fans`] gives
//! Keras' rule for a given shape.
//!
//! The variance-scaling normals (`GlorotNormal`, `HeNormal`, `LecunNormal`) follow Keras:
//! a normal truncated at two standard deviations, with its scale corrected so that the
//! *truncated* distribution has the target variance (`stddev = sqrt(scale) / 0.8796...`).
//! PyTorch's `xavier_normal_`/`kaiming_normal_` are untruncated; use [`Init::Normal`] with
//! the same standard deviation for those.
//!
//! Everything is seeded: pass a generator (see [`crate::rng`]).
//!
//! ```
//! use nn::Init;
//! use rand::{rngs::StdRng, SeedableRng};
//! let w = Init::GlorotUniform.sample::<f32, _>(&[784, 128], 784, 128, &mut StdRng::seed_from_u64(1));
//! let limit = (6.0f32 / (784.0 + 128.0)).sqrt();
//! assert!(w.data().iter().all(|v| v.abs() <= limit));
//! ```

use autograd::{Float, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// A weight initialiser. The default for `Dense` kernels is [`Init::GlorotUniform`] and for
/// biases [`Init::Zeros`], as in Keras.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Every element equal to the given value.
    Constant(f64),
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (exclusive).
        high: f64,
    },
    /// Normal N(mean, std²), untruncated.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Normal N(mean, std²) with values beyond two standard deviations redrawn (Keras'
    /// `TruncatedNormal`; `std` is the parameter before truncation, as in Keras).
    TruncatedNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation of the untruncated normal.
        std: f64,
    },
    /// Glorot/Xavier uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)). Keras' default
    /// for `Dense` kernels.
    GlorotUniform,
    /// Glorot/Xavier normal, Keras' form: truncated normal with variance 2 / (fan_in + fan_out).
    GlorotNormal,
    /// He/Kaiming uniform: U(-l, l) with l = sqrt(6 / fan_in) (for ReLU layers).
    HeUniform,
    /// He/Kaiming normal, Keras' form: truncated normal with variance 2 / fan_in.
    HeNormal,
    /// LeCun uniform: U(-l, l) with l = sqrt(3 / fan_in).
    LecunUniform,
    /// LeCun normal, Keras' form: truncated normal with variance 1 / fan_in.
    LecunNormal,
}

/// The standard deviation of a unit normal truncated to [-2, 2].
const TRUNC_STD: f64 = 0.879_625_661_034_239_8;

/// Keras' fans for a weight of this shape: `[in, out]` for a matrix; for higher ranks
/// (convolution kernels `[..spatial, in, out]`) both are multiplied by the receptive field
/// size; for a vector both are its length; for a scalar both are 1.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        2 => (shape[0], shape[1]),
        n => {
            let rf: usize = shape[..n - 2].iter().product();
            (shape[n - 2] * rf, shape[n - 1] * rf)
        }
    }
}

impl Init {
    /// Samples a tensor of `shape` for a unit with the given fans.
    ///
    /// # Panics
    /// If a variance-scaling initialiser gets a zero fan, or a `Uniform` has `low >= high`.
    pub fn sample<T: Float, R: Rng + ?Sized>(
        &self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Tensor<T> {
        let uniform = |limit: f64, rng: &mut R| Tensor::rand_uniform(shape, -limit, limit, rng);
        let fan = |f: usize| {
            assert!(f > 0, "{self:?}: fan is zero for shape {shape:?}");
            f as f64
        };
        match *self {
            Init::Zeros => Tensor::zeros(shape),
            Init::Ones => Tensor::ones(shape),
            Init::Constant(c) => Tensor::full(shape, T::from_f64(c)),
            Init::Uniform { low, high } => Tensor::rand_uniform(shape, low, high, rng),
            Init::Normal { mean, std } => Tensor::rand_normal(shape, mean, std, rng),
            Init::TruncatedNormal { mean, std } => truncated_normal(shape, mean, std, rng),
            Init::GlorotUniform => uniform((6.0 / (fan(fan_in) + fan(fan_out))).sqrt(), rng),
            Init::HeUniform => uniform((6.0 / fan(fan_in)).sqrt(), rng),
            Init::LecunUniform => uniform((3.0 / fan(fan_in)).sqrt(), rng),
            Init::GlorotNormal => {
                truncated_normal(shape, 0.0, (2.0 / (fan(fan_in) + fan(fan_out))).sqrt() / TRUNC_STD, rng)
            }
            Init::HeNormal => truncated_normal(shape, 0.0, (2.0 / fan(fan_in)).sqrt() / TRUNC_STD, rng),
            Init::LecunNormal => truncated_normal(shape, 0.0, (1.0 / fan(fan_in)).sqrt() / TRUNC_STD, rng),
        }
    }
}

/// N(mean, std²) with samples outside `mean ± 2 std` redrawn.
fn truncated_normal<T: Float, R: Rng + ?Sized>(shape: &[usize], mean: f64, std: f64, rng: &mut R) -> Tensor<T> {
    assert!(std >= 0.0 && std.is_finite(), "TruncatedNormal: std must be finite and >= 0, got {std}");
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| loop {
            let z: f64 = StandardNormal.sample(rng);
            if z.abs() <= 2.0 {
                break T::from_f64(mean + std * z);
            }
        })
        .collect();
    Tensor::from_vec(data, shape).expect("length is the product of the shape")
}
