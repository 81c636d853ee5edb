//! [`NnError`]: the error type of every fallible operation in `nn`.
//!
//! One enum for the whole crate, so that `?` works across layers, the training loop, state
//! dicts and file I/O. Each variant says *what* went wrong and *where* (a tensor name, a
//! path, a byte offset). Misuse that is a plain programming error inside a forward pass
//! (feeding a `[batch, 3]` input to a `Dense::new(4, _)`) panics in `autograd` with a message
//! naming the op and the shapes; the API entry points that take user data (`fit`,
//! `evaluate`, `predict`, `load_state_dict`) check shapes first and return this error instead.

use std::fmt;
use std::path::PathBuf;

/// Shorthand for `Result<T, NnError>`.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

/// An error from `nn`.
#[derive(Debug)]
#[non_exhaustive]
pub enum NnError {
    /// A tensor does not have the shape it must have.
    ShapeMismatch {
        /// What was being checked: a state-dict key such as `"0.weight"`, or an argument such as `"fit: y"`.
        name: String,
        /// The shape that was required.
        expected: Vec<usize>,
        /// The shape that was found.
        found: Vec<usize>,
    },
    /// A state dict lacks a tensor that the model or optimizer needs.
    MissingTensor {
        /// The missing key, e.g. `"2.bias"`.
        name: String,
    },
    /// A state dict holds a tensor that the model or optimizer does not have.
    UnexpectedTensor {
        /// The extra key.
        name: String,
    },
    /// A configuration value is out of range or inconsistent (a learning rate of -1,
    /// a validation split of 1.5, `fit` before `compile`, ...).
    InvalidConfig(String),
    /// The data handed to an API is unusable (empty, inconsistent sample counts, a label
    /// out of range, ...).
    Data(String),
    /// An operating-system I/O error, with the file it concerned.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file has the wrong format (corrupt or truncated header, bad dtype, ...).
    Format {
        /// The file.
        path: PathBuf,
        /// The byte offset where the problem was found, when known.
        offset: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// An error from a tensor operation in `autograd` (e.g. a constructor given the wrong
    /// number of elements).
    Tensor(autograd::Error),
    /// A state dict does not match the one expected (see `nn::io::check_state_dict`): every
    /// missing, unexpected and wrongly shaped tensor, each list in state-dict order.
    StateDictMismatch {
        /// Expected tensors that are absent: name and expected shape.
        missing: Vec<(String, Vec<usize>)>,
        /// Tensors that were not expected: name and shape.
        unexpected: Vec<(String, Vec<usize>)>,
        /// Tensors present in both with different shapes: name, expected shape, found shape.
        wrong_shape: Vec<(String, Vec<usize>, Vec<usize>)>,
    },
    /// A metric could not be computed (mismatched lengths, a label out of range, ROC AUC of
    /// a single class, ...).
    Metric(crate::metrics::MetricError),
    /// The progress output (`verbose > 0`) could not be written to standard output: a closed
    /// pipe (`| head -1`, kind `BrokenPipe`) or a full disk. `print!` would have panicked.
    Stdout(std::io::Error),
    /// A data file could not be read (see [`data::datasets`](crate::data::datasets)): the
    /// error names the file and what is wrong in it.
    DataFile(crate::data::datasets::DataError),
    /// The loss became NaN or infinite during `fit` and a
    /// [`TerminateOnNaN`](crate::callbacks::TerminateOnNaN) callback stopped training.
    NonFiniteLoss {
        /// The epoch (0-based).
        epoch: usize,
        /// The batch within the epoch (0-based).
        batch: usize,
        /// The loss value (NaN or an infinity).
        value: f64,
    },
}

impl NnError {
    /// An [`NnError::InvalidConfig`] with this message.
    pub fn config(message: impl Into<String>) -> Self {
        NnError::InvalidConfig(message.into())
    }

    /// An [`NnError::Data`] with this message.
    pub fn data(message: impl Into<String>) -> Self {
        NnError::Data(message.into())
    }

    /// An [`NnError::ShapeMismatch`].
    pub fn shape(name: impl Into<String>, expected: &[usize], found: &[usize]) -> Self {
        NnError::ShapeMismatch { name: name.into(), expected: expected.to_vec(), found: found.to_vec() }
    }
}

impl fmt::Display for NnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NnError::ShapeMismatch { name, expected, found } => {
                write!(f, "{name}: expected shape {expected:?}, found {found:?}")
            }
            NnError::MissingTensor { name } => write!(f, "state dict: missing tensor `{name}`"),
            NnError::UnexpectedTensor { name } => write!(f, "state dict: unexpected tensor `{name}`"),
            NnError::InvalidConfig(m) => write!(f, "invalid configuration: {m}"),
            NnError::Data(m) => write!(f, "invalid data: {m}"),
            NnError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            NnError::Format { path, offset: Some(o), message } => {
                write!(f, "{}: at byte {o}: {message}", path.display())
            }
            NnError::Format { path, offset: None, message } => write!(f, "{}: {message}", path.display()),
            NnError::Tensor(e) => write!(f, "{e}"),
            NnError::StateDictMismatch { missing, unexpected, wrong_shape } => {
                write!(f, "state dict mismatch:")?;
                let mut sep = " ";
                for (name, shape) in missing {
                    write!(f, "{sep}missing `{name}` (expected shape {shape:?})")?;
                    sep = "; ";
                }
                for (name, shape) in unexpected {
                    write!(f, "{sep}unexpected `{name}` (shape {shape:?})")?;
                    sep = "; ";
                }
                for (name, expected, found) in wrong_shape {
                    write!(f, "{sep}`{name}`: expected shape {expected:?}, found {found:?}")?;
                    sep = "; ";
                }
                Ok(())
            }
            NnError::Metric(e) => write!(f, "{e}"),
            NnError::Stdout(e) => write!(f, "cannot write to standard output: {e}"),
            NnError::DataFile(e) => write!(f, "{e}"),
            NnError::NonFiniteLoss { epoch, batch, value } => write!(
                f,
                "training stopped: the loss became {value} at epoch {}, batch {} (TerminateOnNaN); the weights \
                 are those after that batch's update",
                epoch + 1,
                batch + 1
            ),
        }
    }
}

impl std::error::Error for NnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NnError::Io { source, .. } => Some(source),
            NnError::Tensor(e) => Some(e),
            NnError::Metric(e) => Some(e),
            NnError::Stdout(e) => Some(e),
            NnError::DataFile(e) => Some(e),
            _ => None,
        }
    }
}

impl From<autograd::Error> for NnError {
    fn from(e: autograd::Error) -> Self {
        NnError::Tensor(e)
    }
}

impl From<crate::data::datasets::DataError> for NnError {
    fn from(e: crate::data::datasets::DataError) -> Self {
        NnError::DataFile(e)
    }
}

impl From<crate::metrics::MetricError> for NnError {
    fn from(e: crate::metrics::MetricError) -> Self {
        NnError::Metric(e)
    }
}
