//! The `faultline` command line and the pieces a user's own binary reuses: the protocol
//! [`registry::Registry`] and [`cli::main_with`].
//!
//! The CLI wires; sim-core runs; protocols decide; checkers judge; reports explain.

pub mod bundled;
pub mod check;
pub mod cli;
pub mod explain;
pub mod list;
pub mod pipeline;
pub mod registry;
pub mod report_cli;
pub mod reproduce;
pub mod shrink;
pub mod sweep;
mod sweep_cli;

pub use registry::Registry;

/// The report model, re-exported for users who inspect verdicts in their own tests.
pub use reports;
/// The engine, re-exported so a user's binary needs only this crate.
pub use sim_core;
