//! The client history as the report shows it: the operations nearest the focus, as
//! Jepsen-style bars from invocation to completion, with the offending ones flagged.

use serde::{Deserialize, Serialize};
use sim_core::history::{History, Operation};
use std::collections::BTreeMap;

/// The most operations the history chart draws; the rest of the history is summarized by
/// counts, so a long run's page stays small.
pub const OPS_SHOWN_MAX: usize = 400;

/// One operation as a bar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpBar {
    /// The operation ("op17").
    pub op: String,
    /// The client ("c2").
    pub client: String,
    /// The node that last received it.
    pub node: String,
    /// get, put or cas.
    pub kind: String,
    /// The key.
    pub key: String,
    /// The value a put or cas wrote.
    pub value: Option<String>,
    /// The values an ok read returned.
    pub read: Option<Vec<String>>,
    /// Invocation, in ns.
    pub invoke_ns: u64,
    /// Completion, in ns (None: the client never learned).
    pub complete_ns: Option<u64>,
    /// ok, fail or unknown.
    pub outcome: String,
    /// Why it is highlighted: "lost-write", "stale-read" or "witness".
    pub flag: Option<String>,
}

/// The operations shown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryWindow {
    /// Operations in the whole history.
    pub ops_total: u64,
    /// The clients, in order (one row each).
    pub clients: Vec<String>,
    /// The operations nearest the focus, in invocation order.
    pub ops: Vec<OpBar>,
    /// Flagged operations outside the shown ones.
    pub flagged_not_shown: u64,
}

fn bar(op: &Operation, flag: Option<&String>) -> OpBar {
    OpBar {
        op: op.id.to_string(),
        client: op.client.to_string(),
        node: op.node.to_string(),
        kind: op.kind.name().into(),
        key: op.key.to_string(),
        value: op.write.map(|v| v.to_string()),
        read: op
            .read
            .as_ref()
            .map(|r| r.iter().map(|v| v.to_string()).collect()),
        invoke_ns: op.invoke.0,
        complete_ns: op.complete.map(|t| t.0),
        outcome: op.outcome.name().into(),
        flag: flag.cloned(),
    }
}

/// The [`OPS_SHOWN_MAX`] operations invoked nearest `focus_ns`; `flags` maps operation
/// numbers to why they are highlighted.
pub(crate) fn window(
    history: &History,
    clients: u32,
    focus_ns: u64,
    flags: &BTreeMap<u64, String>,
) -> HistoryWindow {
    let ops = &history.ops;
    // Operations are in invocation order: widen a range around the focus, taking the nearer
    // neighbour each time.
    let mut low = ops.partition_point(|op| op.invoke.0 < focus_ns);
    let mut high = low;
    while high - low < OPS_SHOWN_MAX && (low > 0 || high < ops.len()) {
        let left = low.checked_sub(1).map(|i| focus_ns - ops[i].invoke.0);
        let right = ops.get(high).map(|op| op.invoke.0 - focus_ns);
        match (left, right) {
            (Some(l), Some(r)) if l <= r => low -= 1,
            (Some(_), None) => low -= 1,
            _ => high += 1,
        }
    }
    let shown = &ops[low..high];
    let flagged_not_shown = flags
        .keys()
        .filter(|id| !(low as u64..high as u64).contains(id))
        .count() as u64;
    HistoryWindow {
        ops_total: ops.len() as u64,
        clients: (0..clients)
            .map(|c| sim_core::ids::ClientId(c).to_string())
            .collect(),
        ops: shown
            .iter()
            .map(|op| bar(op, flags.get(&op.id.0)))
            .collect(),
        flagged_not_shown,
    }
}
