//! Shared code for the example binaries: command-line parsing, plotting and small helpers.

pub mod cli;
pub mod plot;
