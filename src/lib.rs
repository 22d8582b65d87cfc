//! The `faultline` command line and the pieces a user's own binary reuses: the protocol
//! [`registry::Registry`] and [`cli::main_with`].
//!
//! The CLI wires; sim-core runs; protocols decide; checkers judge; reports explain.

pub mod cli;
pub mod pipeline;
pub mod registry;

pub use registry::Registry;
