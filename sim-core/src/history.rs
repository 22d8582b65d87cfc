//! The history: every client operation with its invocation and completion in true time.
//! Checkers read only this (and the replicas' final views), never the engine's internals.

use crate::ids::{ClientId, Key, NodeId, OpId, Value};
use crate::time::SimTime;
use serde::{Deserialize, Serialize};

/// What kind of operation a history entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// A read.
    Get,
    /// An unconditional write.
    Put,
    /// A compare-and-set.
    Cas,
}

impl OpKind {
    /// The lowercase name reports print: "get", "put" or "cas".
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Cas => "cas",
        }
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It took effect, and the client knows it.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// The client never learned (timeout, indeterminate reply): it may or may not have
    /// taken effect, at any time after its invocation.
    Unknown,
}

impl Outcome {
    /// The lowercase name reports print: "ok", "fail" or "unknown".
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One client operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Position in the history (invocation order).
    pub id: OpId,
    /// The client (session) that issued it.
    pub client: ClientId,
    /// The node that last received it (after any redirects).
    pub node: NodeId,
    /// Get, put or cas.
    pub kind: OpKind,
    /// The key.
    pub key: Key,
    /// The value written by a put or cas.
    pub write: Option<Value>,
    /// For a cas: the value the key had to hold (None: absent).
    pub expected: Option<Value>,
    /// When the client invoked it (true time).
    pub invoke: SimTime,
    /// When the client learned the outcome; None when it never did.
    pub complete: Option<SimTime>,
    /// How it ended.
    pub outcome: Outcome,
    /// For an ok read: the values seen (empty: absent; several: siblings).
    pub read: Option<Vec<Value>>,
    /// Why it failed or is unknown, when the node or the client said.
    pub note: Option<String>,
}

impl Operation {
    /// True for puts and cas.
    pub fn is_write(&self) -> bool {
        matches!(self.kind, OpKind::Put | OpKind::Cas)
    }
}

/// All operations of a run, in invocation order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The operations; `ops[i].id == OpId(i)`.
    pub ops: Vec<Operation>,
}

/// How many operations ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Completed and took effect.
    pub ok: u64,
    /// Definitely did not take effect.
    pub fail: u64,
    /// Outcome never learned.
    pub unknown: u64,
}

impl History {
    /// Counts operations by outcome.
    pub fn outcome_counts(&self) -> OutcomeCounts {
        let mut counts = OutcomeCounts::default();
        for op in &self.ops {
            match op.outcome {
                Outcome::Ok => counts.ok += 1,
                Outcome::Fail => counts.fail += 1,
                Outcome::Unknown => counts.unknown += 1,
            }
        }
        counts
    }

    /// The write that wrote `value`, if any (values are unique per run).
    pub fn writer_of(&self, value: Value) -> Option<&Operation> {
        self.ops.iter().find(|op| op.write == Some(value))
    }
}
