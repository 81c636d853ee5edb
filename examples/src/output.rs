//! Standard output for the examples. `print!` panics when stdout cannot be written (a closed
//! pipe: `| head -1`; a full disk: `> /dev/full`); [`out!`](crate::out) and
//! [`outln!`](crate::outln) return the error instead, as [`nn::NnError::Stdout`] (the error
//! `fit`'s progress output gives too), and [`run_main`](crate::cli::run_main) turns it into a
//! quiet exit or a message.

use nn::NnError;
use std::fmt;
use std::io::{self, Write};

/// Writes formatted text to stdout.
///
/// # Errors
/// [`NnError::Stdout`] with the OS error (kind `BrokenPipe` for a closed pipe).
pub fn write(args: fmt::Arguments<'_>) -> Result<(), NnError> {
    io::stdout().lock().write_fmt(args).map_err(NnError::Stdout)
}

/// Flushes stdout (it is line-buffered: call before exiting after a partial line).
///
/// # Errors
/// [`NnError::Stdout`] with the OS error.
pub fn flush() -> Result<(), NnError> {
    io::stdout().lock().flush().map_err(NnError::Stdout)
}

/// `print!` that returns `Result<(), NnError>` instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*)) };
}

/// `println!` that returns `Result<(), NnError>` instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}
