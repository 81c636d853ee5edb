//! The error type of fallible tensor operations.

use std::fmt;

/// An error from a tensor operation: which op failed and why, with the shapes involved.
///
/// Ops on [`Var`](crate::Var) panic with this message on misuse (see `docs/architecture.md`);
/// their `try_` twins and the data constructors return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    message: String,
}

impl Error {
    /// An error raised by `op` (a short name such as `"matmul"`).
    pub fn new(op: &'static str, message: impl Into<String>) -> Self {
        Error { op, message: message.into() }
    }
    /// The name of the op that failed.
    pub fn op(&self) -> &'static str {
        self.op
    }
    /// What went wrong, without the op name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for `Result<T, autograd::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// `Result::unwrap` for the panicking ops: panics with the error's message at the caller's
/// location (a closure in `unwrap_or_else` would report its own).
pub(crate) trait OrPanic<T> {
    fn or_panic(self) -> T;
}

impl<T> OrPanic<T> for Result<T> {
    #[track_caller]
    #[inline]
    fn or_panic(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }
}
