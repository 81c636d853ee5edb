//! The walkthroughs behind the example binaries ([`regression`], [`classification`],
//! [`diabetes`]): each has a `Config` (its `Default` is the walkthrough) and a `run` that
//! returns the figures, so the tests can run them in a short mode. Plus what the binaries
//! share: the command-line flags ([`cli`], with `clap`), the guards against impossible
//! sizes and diverging runs ([`guard`]), standard output that reports errors instead of
//! panicking ([`output`]), SVG plots and the training log.

pub mod classification;
pub mod cli;
pub mod diabetes;
pub mod guard;
pub mod output;
pub mod plot;
pub mod progress;
pub mod regression;

/// A path for messages: relative to the current directory when it lies below it
/// (`examples/data/mnist` rather than `/home/.../examples/data/mnist`).
pub fn display_path(p: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| p.display().to_string())
}
