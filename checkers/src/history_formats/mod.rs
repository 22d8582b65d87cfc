//! Readers (and one writer) of concurrent histories, each keeping its source's semantics
//! exactly, as `conformance/README.md` in the team's shared folder spells them out:
//!
//! | format | reader | semantics |
//! | --- | --- | --- |
//! | Jepsen / Knossos EDN | [`jepsen`] over [`edn`] | `:fail` never happened; `:info` or no completion may take effect any time after the invocation, or never; a read of `nil` is an unknown read |
//! | Porcupine's Jepsen etcd logs | [`porcupine`] | a failed cas means the compare did not match; a failed read timed out; `:info` lines are ignored, so the operation never returns; the register starts absent |
//! | faultline's own history (JSON) | [`faultline`] | a failed operation never happened; an unknown one may take effect any time after it began, or never; a read returns a set of values |
//!
//! [`faultline::to_edn`] writes a faultline history as Jepsen EDN for cross-checking with
//! Knossos or Porcupine.

pub mod edn;
pub mod faultline;
pub mod jepsen;
pub mod porcupine;

use std::fmt;

/// Why a history file could not be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What was wrong and what was expected.
    pub reason: String,
}

impl ReadError {
    /// An error about a whole line.
    pub fn at_line(line: u32, reason: impl Into<String>) -> Self {
        ReadError {
            line,
            column: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

impl std::error::Error for ReadError {}
