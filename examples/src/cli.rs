//! The command lines of the example binaries, with `clap` (derive): generated `--help` and
//! `--version`, arguments read with `args_os` (a non-UTF-8 path is a valid path), and one
//! definition of every flag the examples share, flattened into each binary's own options:
//!
//! * [`FitArgs`] for `--epochs`, `--batch-size`, `--log-every`
//! * [`OptimArgs`] for `--lr`, `--seed`
//! * [`DataArgs`] for `--data-dir`
//! * [`OutputArgs`] for `--plot`, `--quiet`
//! * [`WeightsArgs`] for `--save`, `--load`
//!
//! Each example gives the shared flags its own defaults (from its `Config::default()`) with
//! [`CommandExt::default_of`], so `--help` shows the real default of every flag. Every
//! numeric flag is checked as it is parsed ([`positive_int`], [`Real`]): a NaN, an infinity,
//! a zero or a negative where none makes sense is a usage error naming the flag, exit
//! status 2. [`run_main`] turns the errors of a run into messages and exit statuses.

use crate::output;
use clap::builder::OsStr;
use clap::error::ErrorKind;
use clap::{Args, Command, CommandFactory, Parser};
use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status of a run whose standard output was closed early (`| head -1`): 128 + SIGPIPE,
/// what the shell reports for a program killed by the signal, as C programs are.
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// The length and logging of a fit: `--epochs`, `--batch-size`, `--log-every`.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct FitArgs {
    /// Training epochs
    #[arg(long, value_name = "N", value_parser = positive_int, allow_negative_numbers = true)]
    pub epochs: usize,
    /// Mini-batch size (one larger than the data makes one batch of all of it)
    #[arg(long, value_name = "N", value_parser = positive_int, allow_negative_numbers = true)]
    pub batch_size: usize,
    /// Print the progress line of the first, every N-th and the last epoch (1: every epoch, with
    /// Keras' progress bar)
    #[arg(long, value_name = "N", value_parser = positive_int, allow_negative_numbers = true)]
    pub log_every: usize,
}

/// The optimizer's learning rate and the seed of everything random: `--lr`, `--seed`.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct OptimArgs {
    /// Learning rate: a finite number > 0 (a run whose loss becomes NaN or infinite stops with
    /// an error: try a smaller one)
    #[arg(long, value_name = "RATE", value_parser = |s: &str| Real::Positive.parse(s), allow_hyphen_values = true)]
    pub lr: f64,
    /// Seed of everything random (data, initial weights, shuffling)
    #[arg(long, value_name = "N", value_parser = seed, allow_negative_numbers = true)]
    pub seed: u64,
}

/// Where the data files are: `--data-dir`.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct DataArgs {
    /// Directory of the data files
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
}

/// What is written and printed besides the results: `--plot`, `--quiet`.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct OutputArgs {
    /// Write the plots to this SVG file (its directory is checked before training; it is
    /// written atomically, after a successful run only) [default: no plot]
    #[arg(long, value_name = "PATH.svg")]
    pub plot: Option<PathBuf>,
    /// Print only the results, no progress [default: off]
    #[arg(long)]
    pub quiet: bool,
}

/// Saved weights: `--save`, `--load`.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct WeightsArgs {
    /// Save the trained weights to this safetensors file (checked before training; written
    /// atomically, and never after a diverged run) [default: not saved]
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Do not train: load weights saved by --save and use them (the file is checked: layer
    /// shapes, class count, finite values) [default: train]
    #[arg(long, value_name = "PATH", conflicts_with = "save")]
    pub load: Option<PathBuf>,
}

impl FitArgs {
    /// Gives the flags of [`FitArgs`] an example's defaults.
    pub fn defaults(cmd: Command, epochs: usize, batch_size: usize, log_every: usize) -> Command {
        cmd.default_of("epochs", epochs).default_of("batch_size", batch_size).default_of("log_every", log_every)
    }
}

impl OptimArgs {
    /// Gives the flags of [`OptimArgs`] an example's defaults.
    pub fn defaults(cmd: Command, lr: f64, seed: u64) -> Command {
        cmd.default_of("lr", lr).default_of("seed", seed)
    }
}

impl DataArgs {
    /// Gives `--data-dir` an example's default.
    pub fn defaults(cmd: Command, data_dir: &std::path::Path) -> Command {
        cmd.default_of("data_dir", data_dir.display())
    }
}

/// Per-example changes to a derived [`Command`].
pub trait CommandExt {
    /// Sets the default of the flag with id `id` (the field name, e.g. `"batch_size"`), shown
    /// by `--help` as `[default: ..]`. Panics (in the example's tests) if there is no such flag.
    #[must_use]
    fn default_of(self, id: &str, value: impl fmt::Display) -> Self;
}

impl CommandExt for Command {
    fn default_of(self, id: &str, value: impl fmt::Display) -> Self {
        let value = OsStr::from(value.to_string());
        self.mut_arg(id, |a| a.default_value(value).required(false))
    }
}

/// Parses the process's command line (`args_os`) into `A` after `setup` has given the shared
/// flags this example's defaults. On `--help` / `--version` prints the text and exits 0
/// (through [`output`], so that a full disk is an error, not a silent success).
///
/// # Errors
/// The clap error for a bad command line, naming the flag ([`run_main`] prints it and exits
/// with status 2), or a failure to write the help.
pub fn parse<A: Parser>(setup: impl FnOnce(Command) -> Command) -> Result<A, Box<dyn Error>> {
    match try_parse_from(std::env::args_os(), setup) {
        Ok(a) => Ok(a),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let text = e.render();
            if io::stdout().is_terminal() {
                crate::out!("{}", text.ansi())?;
            } else {
                crate::out!("{text}")?;
            }
            output::flush()?;
            std::process::exit(0)
        }
        Err(e) => Err(Box::new(e)),
    }
}

/// [`parse`] of the given arguments (the first is the program name), returning the error.
///
/// # Errors
/// clap's error for a bad command line (and for `--help`, `--version`).
pub fn try_parse_from<A: Parser, I, T>(args: I, setup: impl FnOnce(Command) -> Command) -> Result<A, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cmd = setup(A::command());
    // clap's consistency checks (conflicts and defaults naming real flags, ...) run only in
    // debug builds by themselves; the tests run release builds of every binary.
    cmd.clone().debug_assert();
    let mut matches = cmd.try_get_matches_from(args)?;
    A::from_arg_matches_mut(&mut matches)
}

/// A command line that parses but asks for something impossible (a combination of flags, a
/// model that cannot fit in memory). [`run_main`] prints it like clap's own errors and exits
/// with status 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for UsageError {}

/// A whole number >= 1, for counts (`--epochs`, `--batch-size`, ...).
///
/// # Errors
/// A message for clap to show after "invalid value '..' for '--flag'".
pub fn positive_int(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) if s.trim().starts_with('-') => Err("must be at least 1".into()),
        Err(e) => Err(format!("not a whole number ({e})")),
    }
}

/// A whole number >= 0 (`--first`, `--show`).
///
/// # Errors
/// A message for clap to show after "invalid value '..' for '--flag'".
pub fn natural(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) => Ok(n),
        Err(_) if s.trim().starts_with('-') => Err("must be 0 or more".into()),
        Err(e) => Err(format!("not a whole number ({e})")),
    }
}

/// A seed: a whole number from 0 to 2^64 - 1.
///
/// # Errors
/// A message for clap to show after "invalid value '..' for '--seed'".
pub fn seed(s: &str) -> Result<u64, String> {
    s.trim().parse().map_err(|_| format!("must be a whole number from 0 to {}", u64::MAX))
}

/// The range a floating-point flag accepts. Every kind rejects NaN and the infinities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Real {
    /// Any finite number (`--predict`).
    Finite,
    /// Greater than 0 (`--lr`).
    Positive,
    /// 0 or more (`--l2`).
    NonNegative,
    /// Strictly between 0 and 1 (`--test-fraction`).
    OpenUnit,
    /// From 0 (included) to 1 (excluded) (`--validation-split`).
    UnitFromZero,
}

impl Real {
    fn requirement(self) -> &'static str {
        match self {
            Real::Finite => "must be a finite number",
            Real::Positive => "must be a finite number greater than 0",
            Real::NonNegative => "must be a finite number, 0 or more",
            Real::OpenUnit => "must be a number between 0 and 1 (both excluded)",
            Real::UnitFromZero => "must be a number from 0 (included) to 1 (excluded)",
        }
    }

    /// `v` if it is in range.
    ///
    /// # Errors
    /// What the range requires.
    pub fn check(self, v: f64) -> Result<f64, String> {
        let ok = v.is_finite()
            && match self {
                Real::Finite => true,
                Real::Positive => v > 0.0,
                Real::NonNegative => v >= 0.0,
                Real::OpenUnit => v > 0.0 && v < 1.0,
                Real::UnitFromZero => (0.0..1.0).contains(&v),
            };
        if ok {
            Ok(v)
        } else {
            Err(self.requirement().to_string())
        }
    }

    /// Parses and [`check`](Self::check)s a flag's value.
    ///
    /// # Errors
    /// Not a number, or out of range.
    pub fn parse(self, s: &str) -> Result<f64, String> {
        let v: f64 = s.trim().parse().map_err(|_| format!("not a number ({})", self.requirement()))?;
        self.check(v)
    }

    /// [`check`](Self::check) of a `Config` field, with the error phrased as for its flag.
    ///
    /// # Errors
    /// A [`UsageError`] naming `flag`.
    pub fn check_flag(self, flag: &str, v: f64) -> Result<(), UsageError> {
        self.check(v).map(drop).map_err(|m| UsageError(format!("invalid value '{v}' for '{flag}': {m}")))
    }
}

/// A `Config` count that must be at least 1, with the error phrased as for its flag.
///
/// # Errors
/// A [`UsageError`] naming `flag`.
pub fn check_positive(flag: &str, v: usize) -> Result<(), UsageError> {
    if v == 0 {
        return Err(UsageError(format!("invalid value '0' for '{flag}': must be at least 1")));
    }
    Ok(())
}

/// Layer widths, as `--hidden` takes them: `128,64` or `128-64` (`none` or empty: no hidden
/// layer). `Display` writes them back in the first form.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Widths(pub Vec<usize>);

impl Widths {
    /// Parses `s`.
    ///
    /// # Errors
    /// A message naming the bad part.
    pub fn parse(s: &str) -> Result<Widths, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(Widths(Vec::new()));
        }
        s.split([',', '-', 'x'])
            .map(|p| match p.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("invalid layer width '{p}' in '{s}' (expected positive integers like 128,64)")),
            })
            .collect::<Result<_, _>>()
            .map(Widths)
    }
}

impl fmt::Display for Widths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// Whether `e` or any error below it is an I/O error of kind `BrokenPipe`: the reader of
/// standard output went away.
pub fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Runs an example's body and turns its outcome into the exit status, the one place where
/// the examples print errors:
///
/// * success, with standard output flushed: 0;
/// * a closed standard output (`| head -1`): nothing more is printed, [`EXIT_BROKEN_PIPE`];
/// * a [`UsageError`] or a clap error: the message and a pointer to `--help`, 2;
/// * any other error (a bad file, a diverged run, a full disk): `<name>: error: <message>`, 1.
///
/// Messages go to stderr with `write!`, which, unlike `eprintln!`, cannot panic.
pub fn run_main(name: &str, body: impl FnOnce() -> Result<(), Box<dyn Error>>) -> ExitCode {
    let outcome = body().and_then(|()| output::flush().map_err(Into::into));
    let Err(e) = outcome else { return ExitCode::SUCCESS };
    if is_broken_pipe(&*e) {
        return ExitCode::from(EXIT_BROKEN_PIPE);
    }
    if let Some(c) = e.downcast_ref::<clap::Error>() {
        let _ = c.print();
        return ExitCode::from(2);
    }
    let mut err = io::stderr().lock();
    if let Some(u) = e.downcast_ref::<UsageError>() {
        let _ = writeln!(err, "{name}: error: {u}\n\nFor more information, try '--help'.");
        return ExitCode::from(2);
    }
    let _ = writeln!(err, "{name}: error: {e}");
    ExitCode::from(1)
}

/// A clap usage error for `A`'s command (exit status 2 through [`run_main`]).
pub fn usage_error<A: CommandFactory>(kind: ErrorKind, message: impl fmt::Display) -> Box<dyn Error> {
    Box::new(A::command().error(kind, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_out_of_range_are_refused_with_the_rule() {
        assert_eq!(positive_int("3"), Ok(3));
        assert!(positive_int("0").unwrap_err().contains("at least 1"));
        assert!(positive_int("-2").unwrap_err().contains("at least 1"));
        assert!(positive_int("1e3").unwrap_err().contains("not a whole number"));
        assert!(positive_int("99999999999999999999999").unwrap_err().contains("not a whole number"));
        assert_eq!(natural("0"), Ok(0));
        for bad in ["nan", "NaN", "inf", "-inf", "infinity", "1e309"] {
            assert!(Real::Finite.parse(bad).is_err(), "{bad}");
            assert!(Real::Positive.parse(bad).is_err(), "{bad}");
        }
        assert!(Real::Positive.parse("0").is_err() && Real::Positive.parse("-1e-3").is_err());
        assert_eq!(Real::Positive.parse("1e-3"), Ok(1e-3));
        assert!(Real::NonNegative.parse("-1").is_err());
        assert_eq!(Real::NonNegative.parse("0"), Ok(0.0));
        assert!(Real::OpenUnit.parse("0").is_err() && Real::OpenUnit.parse("1").is_err());
        assert_eq!(Real::UnitFromZero.parse("0"), Ok(0.0));
        assert!(Real::UnitFromZero.parse("1").is_err());
        assert!(Real::Finite.parse("abc").unwrap_err().contains("not a number"));
        let e = Real::Positive.check_flag("--lr", f64::INFINITY).unwrap_err().to_string();
        assert_eq!(e, "invalid value 'inf' for '--lr': must be a finite number greater than 0");
    }

    #[test]
    fn widths_parse_and_print() {
        assert_eq!(Widths::parse("128,64"), Ok(Widths(vec![128, 64])));
        assert_eq!(Widths::parse(" 32-16 "), Ok(Widths(vec![32, 16])));
        assert_eq!(Widths::parse("none"), Ok(Widths(vec![])));
        assert!(Widths::parse("128,0").is_err() && Widths::parse("a").is_err() && Widths::parse("-5").is_err());
        assert_eq!(Widths(vec![128, 64]).to_string(), "128,64");
        assert_eq!(Widths(vec![]).to_string(), "none");
    }

    #[test]
    fn broken_pipes_are_found_below_other_errors() {
        let pipe = nn::NnError::Stdout(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&pipe));
        let full = nn::NnError::Stdout(io::Error::from(io::ErrorKind::StorageFull));
        assert!(!is_broken_pipe(&full));
        assert!(!is_broken_pipe(&UsageError("x".into())));
    }
}
