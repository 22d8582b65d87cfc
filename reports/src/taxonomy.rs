//! The taxonomy of causes: each divergence, lost write and stale read is attributed to what the
//! fault timeline, the clocks and the history show happened to the nodes involved.
//!
//! | cause | divergence of a key | lost write | stale read |
//! | --- | --- | --- | --- |
//! | crash-lost-unsynced | a replica of the key was down (crashed, restarted without what it had or missed) during the stretch | its coordinator crashed after taking it and before any replica was seen holding it | the writer's or the reader's node crashed between the write's acknowledgement and the read |
//! | partition / one-way-cut | a cut blocked a link from a replica holding the newest value to one lacking it | a cut blocked its coordinator's links while the write was replicating | a cut blocked the writer's node from the reader's node |
//! | paused-node | a replica of the key, or the newest write's coordinator, was paused | its coordinator was paused while the write was replicating | the writer's node (holding the write unreplicated) or the reader's node was paused |
//! | clock-skew | — | an earlier write of the key carried a larger wall-clock stamp: its node's clock was ahead by more than the true-time gap | the value read was stamped later than the write it missed, though written earlier |
//! | concurrent-writes | a replica held siblings, or the differing values came from overlapping writes through different nodes | an overlapping write through another node | — |
//! | replication-lag | none of the above: the update simply had not arrived yet | — | none of the above |
//! | unexplained | — | none of the above | — |
//!
//! The rules are tried in the order of each column, first match wins: a fault on the nodes
//! involved explains more than ordinary lag does. Stamps are estimated from each node's clock
//! model at the midpoint of the operation (the engine does not record when the request reached
//! the node), which is exact to within the client latency.

use crate::timeline::{Span, SpanKind};
use checkers::lost_writes::LostWrite;
use serde::{Deserialize, Serialize};
use sim_core::engine::{KeyDivergence, RunResult};
use sim_core::fault::FaultAction;
use sim_core::history::{Operation, Outcome};
use sim_core::ids::{Key, NodeId, OpId, Value};
use sim_core::time::{format_nanos, SimTime};
use std::collections::BTreeMap;

/// Why replicas disagreed, a write vanished, or a read was stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Replicas on different sides of a partition could not exchange updates.
    Partition,
    /// Messages could flow one way only.
    OneWayCut,
    /// Clocks disagreed (offset, drift, a step or a slew), so stamps ordered writes wrongly.
    ClockSkew,
    /// The update had not reached every replica yet; no fault involved.
    ReplicationLag,
    /// Overlapping writes through different nodes (siblings, or a race resolved later).
    ConcurrentWrites,
    /// A node crashed and lost, or missed, data it had not synced or received.
    CrashLostUnsynced,
    /// A node was paused (a stop-the-world GC): it held updates, or missed them, meanwhile.
    PausedNode,
    /// Nothing the run recorded explains it.
    Unexplained,
}

impl Cause {
    /// Every cause, in the order reports list them.
    pub const ALL: [Cause; 8] = [
        Cause::Partition,
        Cause::OneWayCut,
        Cause::ClockSkew,
        Cause::CrashLostUnsynced,
        Cause::PausedNode,
        Cause::ConcurrentWrites,
        Cause::ReplicationLag,
        Cause::Unexplained,
    ];

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Partition => "partition",
            Cause::OneWayCut => "one-way cut",
            Cause::ClockSkew => "clock skew",
            Cause::ReplicationLag => "replication lag",
            Cause::ConcurrentWrites => "concurrent writes",
            Cause::CrashLostUnsynced => "crash lost unsynced data",
            Cause::PausedNode => "paused node",
            Cause::Unexplained => "unexplained",
        }
    }

    /// One sentence on what the cause means.
    pub fn explanation(self) -> &'static str {
        match self {
            Cause::Partition => "replicas on different sides of a partition could not exchange updates",
            Cause::OneWayCut => "a one-way cut let messages flow in one direction only",
            Cause::ClockSkew => "wall clocks disagreed, so a write stamped by a clock that ran behind lost to an earlier one",
            Cause::ReplicationLag => "updates had simply not reached every replica yet; no fault was involved",
            Cause::ConcurrentWrites => "overlapping writes through different nodes left replicas holding different versions",
            Cause::CrashLostUnsynced => "a node crashed and came back without data it had acknowledged or had not yet received",
            Cause::PausedNode => "a paused node (stop-the-world GC) held its updates back, or missed others, while frozen",
            Cause::Unexplained => "no fault, clock disagreement or concurrent write on the nodes involved explains it",
        }
    }
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subject {
    /// A stretch of time during which the replicas of a key disagreed.
    Divergence,
    /// An acknowledged write that vanished.
    LostWrite,
    /// A read that missed a write acknowledged before it began.
    StaleRead,
}

/// One divergence, lost write or stale read and its cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// What it is about.
    pub subject: Subject,
    /// The key.
    pub key: String,
    /// The operation (lost write, stale read), when there is one.
    pub op: Option<String>,
    /// When it began (divergence: first sample seeing it; operation: its invocation), in ns.
    pub start_ns: u64,
    /// When it ended (divergence: first sample at which replicas agreed), in ns.
    pub end_ns: Option<u64>,
    /// The cause.
    pub cause: Cause,
    /// The nodes the cause implicates.
    pub nodes: Vec<String>,
    /// What the run shows, in plain words.
    pub evidence: String,
}

/// How much of the run one cause accounts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseTotal {
    /// The cause.
    pub cause: Cause,
    /// Stretches of per-key divergence attributed to it.
    pub divergences: u64,
    /// Their summed length (key-nanoseconds: two keys diverged for 1 s count 2 s).
    pub diverged_ns: u64,
    /// Lost writes attributed to it.
    pub lost_writes: u64,
    /// Stale reads attributed to it.
    pub stale_reads: u64,
    /// Every node it implicates.
    pub nodes: Vec<String>,
    /// What the cause means.
    pub explanation: String,
}

/// A stale read as the stale-read checker reports it, reduced to what the taxonomy and the
/// budgets need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRead {
    /// The read.
    pub op: OpId,
    /// The acknowledged write it should have reflected and did not.
    pub missed: OpId,
}

/// A finding before it is written for people.
#[derive(Clone, Debug)]
pub(crate) struct Finding {
    pub subject: Subject,
    pub key: Key,
    pub op: Option<OpId>,
    pub start: u64,
    pub end: Option<u64>,
    pub cause: Cause,
    pub nodes: Vec<NodeId>,
    pub evidence: String,
    /// For a divergence: how its length splits among causes (a stretch that began as lag and
    /// was kept going by a partition counts partly to each).
    pub portions: Vec<Portion>,
}

impl Finding {
    pub fn attribution(&self) -> Attribution {
        Attribution {
            subject: self.subject,
            key: self.key.to_string(),
            op: self.op.map(|op| op.to_string()),
            start_ns: self.start,
            end_ns: self.end,
            cause: self.cause,
            nodes: names(&self.nodes),
            evidence: self.evidence.clone(),
        }
    }

    /// For a divergence: its length up to `run_end`.
    pub fn length(&self, run_end: u64) -> u64 {
        self.end.unwrap_or(run_end).saturating_sub(self.start)
    }
}

pub(crate) fn names(nodes: &[NodeId]) -> Vec<String> {
    nodes.iter().map(|n| n.to_string()).collect()
}

fn list(nodes: &[NodeId]) -> String {
    match nodes.len() {
        0 => "no node".into(),
        1 => nodes[0].to_string(),
        _ => {
            let (last, rest) = nodes.split_last().expect("two or more");
            format!("{} and {last}", names(rest).join(", "))
        }
    }
}

fn at(ns: u64) -> String {
    format_nanos(ns as i128)
}

fn signed(ns: i64) -> String {
    if ns >= 0 {
        format!("+{}", format_nanos(ns as i128))
    } else {
        format!("-{}", format_nanos(-(ns as i128)))
    }
}

/// What the taxonomy consults: the run, its fault spans and indexes over its history.
pub(crate) struct Evidence<'a> {
    pub result: &'a RunResult,
    pub spans: &'a [Span],
    /// The operation that wrote each value.
    writer: BTreeMap<Value, usize>,
    /// Per key, the writes in invocation order (indexes into the history).
    writes_by_key: BTreeMap<Key, Vec<usize>>,
    sample_times: Vec<u64>,
    /// Widest clock disagreement of the run, in ns.
    clock_spread_ns: i64,
}

impl<'a> Evidence<'a> {
    pub fn new(result: &'a RunResult, spans: &'a [Span], clock_spread_ns: i64) -> Self {
        let mut writer = BTreeMap::new();
        let mut writes_by_key: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        for (index, op) in result.history.ops.iter().enumerate() {
            if let Some(value) = op.write {
                writer.insert(value, index);
                writes_by_key.entry(op.key).or_default().push(index);
            }
        }
        Evidence {
            result,
            spans,
            writer,
            writes_by_key,
            sample_times: result.divergence.iter().map(|s| s.time.0).collect(),
            clock_spread_ns,
        }
    }

    fn op(&self, index: usize) -> &'a Operation {
        &self.result.history.ops[index]
    }

    pub fn writer_of(&self, value: Value) -> Option<&'a Operation> {
        self.writer.get(&value).map(|i| self.op(*i))
    }

    /// The last sample strictly before `t`.
    pub fn sample_before(&self, t: u64) -> Option<u64> {
        let position = self.sample_times.partition_point(|s| *s < t);
        position.checked_sub(1).map(|i| self.sample_times[i])
    }

    fn sample_interval(&self) -> u64 {
        self.sample_times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(100_000_000)
    }

    /// The wall-clock offset of `node` at `t`.
    pub fn offset(&self, node: NodeId, t: u64) -> i64 {
        self.result.clocks[node.index()].wall_offset(SimTime(t))
    }

    /// When the node probably stamped the operation: the midpoint of its interval.
    fn stamp_time(op: &Operation) -> u64 {
        let end = op.complete.map_or(op.invoke.0, |c| c.0);
        op.invoke.0 + (end - op.invoke.0) / 2
    }

    /// The estimated wall-clock stamp the coordinator gave the operation.
    pub fn stamp(&self, op: &Operation) -> i64 {
        let t = Self::stamp_time(op);
        (t as i64).saturating_add(self.offset(op.node, t))
    }

    fn spans_of(&self, kind: SpanKind, node: NodeId, from: u64, to: u64) -> Option<&'a Span> {
        self.spans
            .iter()
            .find(|s| s.kind == kind && s.touches(node) && s.overlaps(from, to))
    }

    /// A cut in force during [from, to] that blocked a link from one of `senders` to one of
    /// `receivers`.
    fn cut_between(
        &self,
        senders: &[NodeId],
        receivers: &[NodeId],
        from: u64,
        to: u64,
    ) -> Option<(&'a Span, NodeId, NodeId)> {
        self.spans
            .iter()
            .filter(|s| matches!(s.kind, SpanKind::Partition | SpanKind::OneWay))
            .filter(|s| s.overlaps(from, to))
            .find_map(|span| {
                senders.iter().find_map(|a| {
                    receivers
                        .iter()
                        .find(|b| a != *b && span.blocks(*a, **b))
                        .map(|b| (span, *a, *b))
                })
            })
    }

    fn span_words(span: &Span) -> String {
        let until = if span.open {
            "the end of the run".to_string()
        } else {
            at(span.end)
        };
        format!("{} from {} to {until}", span.description, at(span.start))
    }

    /// Clock steps or slews that hit one of `nodes` before `t`, in words.
    fn clock_faults_before(&self, nodes: &[NodeId], t: u64) -> String {
        let steps: Vec<String> = self
            .result
            .faults
            .iter()
            .filter(|f| f.at.0 <= t)
            .filter(|f| {
                matches!(
                    f.action,
                    FaultAction::ClockStep { .. } | FaultAction::ClockSlew { .. }
                ) && f.action.node().is_some_and(|n| nodes.contains(&n))
            })
            .map(|f| format!("{} at {}", f.description, at(f.at.0)))
            .collect();
        if steps.is_empty() {
            String::new()
        } else {
            format!(" ({})", steps.join("; "))
        }
    }
}

// ----- divergences ---------------------------------------------------------------------------

/// Who held the newest value of a diverged key and who lacked it.
struct Sides<'a> {
    newest: Option<&'a Operation>,
    ahead: Vec<NodeId>,
    behind: Vec<NodeId>,
}

fn sides<'a>(evidence: &Evidence<'a>, divergence: &KeyDivergence) -> Sides<'a> {
    let newest = divergence
        .holdings
        .iter()
        .flat_map(|(_, values)| values.iter())
        .filter_map(|v| evidence.writer_of(*v))
        .max_by_key(|op| (op.invoke, op.id));
    let holds = |values: &Vec<Value>| match newest {
        Some(op) => op.write.is_some_and(|v| values.contains(&v)),
        None => !values.is_empty(),
    };
    let (ahead, behind): (Vec<_>, Vec<_>) = divergence
        .holdings
        .iter()
        .partition(|(_, values)| holds(values));
    Sides {
        newest,
        ahead: ahead.into_iter().map(|(n, _)| *n).collect(),
        behind: behind.into_iter().map(|(n, _)| *n).collect(),
    }
}

/// Attributes one stretch of per-key divergence.
pub(crate) fn divergence(evidence: &Evidence<'_>, divergence: &KeyDivergence) -> Finding {
    let run_end = evidence.result.end_time.0;
    let start = divergence.start.0;
    let end = divergence.end.map_or(run_end, |t| t.0);
    let sides = sides(evidence, divergence);
    let previous = evidence.sample_before(start).unwrap_or(0);
    let from = sides
        .newest
        .map_or(previous, |op| op.invoke.0.min(previous));
    let mut senders = sides.ahead.clone();
    if let Some(op) = sides.newest {
        if !senders.contains(&op.node) {
            senders.push(op.node);
        }
    }
    let mut involved: Vec<NodeId> = senders.iter().chain(&sides.behind).copied().collect();
    involved.sort();
    involved.dedup();
    let what = held_words(divergence);
    // The cause is what was in force when the disagreement began; faults that began later and
    // kept it going get their share of its length in `portions`.
    let began = (from, start);
    let (cause, nodes, why) =
        divergence_cause(evidence, divergence, &sides, &senders, &involved, began);
    let relevant = relevant_spans(evidence, &sides, &senders, &involved);
    let portions = portions(&relevant, (cause, &nodes), start, end, &involved);
    let prolonged: Vec<&str> = portions
        .iter()
        .filter(|p| p.cause != cause)
        .map(|p| p.cause.label())
        .collect();
    let prolonged = if prolonged.is_empty() {
        String::new()
    } else {
        format!("; prolonged by {}", prolonged.join(", "))
    };
    Finding {
        subject: Subject::Divergence,
        key: divergence.key,
        op: sides.newest.map(|op| op.id),
        start,
        end: divergence.end.map(|t| t.0),
        cause,
        nodes,
        evidence: format!("{}: {what}; {why}{prolonged}", divergence.key),
        portions,
    }
}

/// The fault spans that could keep this key's replicas apart, each with the cause it stands
/// for, in the order causes are tried.
fn relevant_spans<'a>(
    evidence: &Evidence<'a>,
    sides: &Sides<'_>,
    senders: &[NodeId],
    involved: &[NodeId],
) -> Vec<(&'a Span, Cause)> {
    let spans = evidence.spans;
    let on = |s: &Span| involved.iter().any(|n| s.touches(*n));
    let cuts = |s: &Span| {
        senders
            .iter()
            .any(|a| sides.behind.iter().any(|b| a != b && s.blocks(*a, *b)))
    };
    let mut relevant = Vec::new();
    relevant.extend(
        spans
            .iter()
            .filter(|s| s.kind == SpanKind::Crashed && on(s))
            .map(|s| (s, Cause::CrashLostUnsynced)),
    );
    relevant.extend(
        spans
            .iter()
            .filter(|s| s.kind == SpanKind::Partition && cuts(s))
            .map(|s| (s, Cause::Partition)),
    );
    relevant.extend(
        spans
            .iter()
            .filter(|s| s.kind == SpanKind::OneWay && cuts(s))
            .map(|s| (s, Cause::OneWayCut)),
    );
    relevant.extend(
        spans
            .iter()
            .filter(|s| s.kind == SpanKind::Paused && on(s))
            .map(|s| (s, Cause::PausedNode)),
    );
    relevant
}

/// A share of a divergence's length and the nodes behind it.
#[derive(Clone, Debug)]
pub(crate) struct Portion {
    pub cause: Cause,
    pub length: u64,
    pub nodes: Vec<NodeId>,
}

/// Splits [start, end] among causes: each instant goes to the first relevant span in force
/// then, or to the primary cause when none is.
fn portions(
    relevant: &[(&Span, Cause)],
    (primary, primary_nodes): (Cause, &[NodeId]),
    start: u64,
    end: u64,
    involved: &[NodeId],
) -> Vec<Portion> {
    let mut bounds: Vec<u64> = vec![start, end];
    for (span, _) in relevant {
        bounds.extend([span.start.clamp(start, end), span.end.clamp(start, end)]);
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut shares: BTreeMap<Cause, Portion> = BTreeMap::new();
    for pair in bounds.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let (cause, nodes) = relevant
            .iter()
            .find(|(span, _)| span.start <= a && span.end >= b)
            .map_or((primary, primary_nodes.to_vec()), |(span, cause)| {
                let nodes = span.nodes.iter().filter(|n| involved.contains(n)).copied();
                (*cause, nodes.collect())
            });
        let share = shares.entry(cause).or_insert_with(|| Portion {
            cause,
            length: 0,
            nodes: Vec::new(),
        });
        share.length += b - a;
        share.nodes.extend(nodes);
        share.nodes.sort();
        share.nodes.dedup();
    }
    shares.into_values().filter(|p| p.length > 0).collect()
}

fn divergence_cause(
    evidence: &Evidence<'_>,
    divergence: &KeyDivergence,
    sides: &Sides<'_>,
    senders: &[NodeId],
    involved: &[NodeId],
    (from, end): (u64, u64),
) -> (Cause, Vec<NodeId>, String) {
    for node in involved {
        if let Some(span) = evidence.spans_of(SpanKind::Crashed, *node, from, end) {
            let why = format!("{node} was down ({})", Evidence::span_words(span));
            return (Cause::CrashLostUnsynced, vec![*node], why);
        }
    }
    if let Some((span, a, b)) = evidence.cut_between(senders, &sides.behind, from, end) {
        let cause = match span.kind {
            SpanKind::OneWay => Cause::OneWayCut,
            _ => Cause::Partition,
        };
        let why = format!("{a} could not reach {b}: {}", Evidence::span_words(span));
        return (cause, vec![a, b], why);
    }
    for node in involved {
        if let Some(span) = evidence.spans_of(SpanKind::Paused, *node, from, end) {
            let why = format!("{node} was paused ({})", Evidence::span_words(span));
            return (Cause::PausedNode, vec![*node], why);
        }
    }
    if let Some(why) = concurrent_values(evidence, &divergence.holdings) {
        return (Cause::ConcurrentWrites, involved.to_vec(), why);
    }
    let why = match sides.newest {
        Some(op) => format!(
            "{} took {} ({}) at {} and the others had not received it yet; no fault touched {}",
            op.node,
            op.write.map_or("it".into(), |v| v.to_string()),
            op.id,
            at(op.invoke.0),
            list(involved)
        ),
        None => format!("no fault touched {}", list(involved)),
    };
    (Cause::ReplicationLag, senders.to_vec(), why)
}

/// Siblings on a replica, or differing values written by overlapping operations through
/// different nodes.
fn concurrent_values(evidence: &Evidence<'_>, holdings: &[(NodeId, Vec<Value>)]) -> Option<String> {
    if let Some((node, values)) = holdings.iter().find(|(_, values)| values.len() > 1) {
        let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        return Some(format!("{node} held siblings {}", shown.join(", ")));
    }
    let writers: Vec<&Operation> = holdings
        .iter()
        .flat_map(|(_, values)| values.iter())
        .filter_map(|v| evidence.writer_of(*v))
        .collect();
    for (i, a) in writers.iter().enumerate() {
        for b in &writers[i + 1..] {
            if a.id != b.id && a.node != b.node && overlap(a, b) {
                return Some(format!(
                    "{} ({} via {}) and {} ({} via {}) overlapped in time",
                    a.id, a.client, a.node, b.id, b.client, b.node
                ));
            }
        }
    }
    None
}

fn overlap(a: &Operation, b: &Operation) -> bool {
    let a_end = a.complete.map_or(u64::MAX, |t| t.0);
    let b_end = b.complete.map_or(u64::MAX, |t| t.0);
    a.invoke.0 <= b_end && b.invoke.0 <= a_end
}

fn held_words(divergence: &KeyDivergence) -> String {
    let mut groups: BTreeMap<Vec<Value>, Vec<NodeId>> = BTreeMap::new();
    for (node, values) in &divergence.holdings {
        groups.entry(values.clone()).or_default().push(*node);
    }
    let mut parts: Vec<String> = groups
        .iter()
        .map(|(values, nodes)| {
            let held = if values.is_empty() {
                "nothing".to_string()
            } else {
                values
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("{} held {held}", list(nodes))
        })
        .collect();
    parts.sort();
    parts.join(", ")
}

// ----- lost writes ---------------------------------------------------------------------------

/// Attributes one lost write.
pub(crate) fn lost_write(evidence: &Evidence<'_>, lost: &LostWrite) -> Finding {
    let op = &evidence.result.history.ops[lost.op.0 as usize];
    let (cause, nodes, why) = lost_write_cause(evidence, op, lost);
    Finding {
        subject: Subject::LostWrite,
        key: lost.key,
        op: Some(lost.op),
        start: op.invoke.0,
        end: op.complete.map(|t| t.0),
        cause,
        nodes,
        portions: Vec::new(),
        evidence: format!(
            "{} ({} put {} = {} via {}, acknowledged at {}): {why}",
            op.id,
            op.client,
            op.key,
            lost.value,
            op.node,
            at(lost.acknowledged_at.0)
        ),
    }
}

fn lost_write_cause(
    evidence: &Evidence<'_>,
    op: &Operation,
    lost: &LostWrite,
) -> (Cause, Vec<NodeId>, String) {
    let node = op.node;
    let invoke = op.invoke.0;
    let seen = evidence.result.first_seen.get(&lost.value).map(|t| t.0);
    let run_end = evidence.result.end_time.0;
    if let Some(span) = evidence
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Crashed && s.touches(node))
        .find(|s| s.start >= invoke && s.start <= seen.unwrap_or(run_end))
    {
        let why = format!(
            "{node} crashed at {} before any replica was seen holding {}: the write was neither synced nor replicated",
            at(span.start),
            lost.value
        );
        return (Cause::CrashLostUnsynced, vec![node], why);
    }
    if let Some((winner, why)) = earlier_larger_stamp(evidence, op) {
        let mut nodes = vec![node, winner.node];
        nodes.dedup();
        return (Cause::ClockSkew, nodes, why);
    }
    let horizon = seen.unwrap_or_else(|| lost.acknowledged_at.0 + 2 * evidence.sample_interval());
    if let Some((cause, nodes, why)) = node_fault(evidence, node, invoke, horizon) {
        return (cause, nodes, why);
    }
    if let Some(other) = overlapping_write(evidence, op) {
        let why = format!(
            "{} ({} via {}) overlapped it in time and was ordered after it",
            other.id, other.client, other.node
        );
        return (Cause::ConcurrentWrites, vec![node, other.node], why);
    }
    let why = format!(
        "no crash, cut, pause, clock disagreement or overlapping write touched {node} around it"
    );
    (Cause::Unexplained, vec![node], why)
}

/// A cut or pause of `node` during [from, to], as a cause.
fn node_fault(
    evidence: &Evidence<'_>,
    node: NodeId,
    from: u64,
    to: u64,
) -> Option<(Cause, Vec<NodeId>, String)> {
    let others: Vec<NodeId> = (0..evidence.result.clocks.len() as u32)
        .map(NodeId)
        .filter(|n| *n != node)
        .collect();
    if let Some((span, a, b)) = evidence.cut_between(&[node], &others, from, to) {
        let cause = match span.kind {
            SpanKind::OneWay => Cause::OneWayCut,
            _ => Cause::Partition,
        };
        let why = format!("{a} could not reach {b}: {}", Evidence::span_words(span));
        return Some((cause, vec![a, b], why));
    }
    evidence
        .spans_of(SpanKind::Paused, node, from, to)
        .map(|span| {
            let why = format!("{node} was paused ({})", Evidence::span_words(span));
            (Cause::PausedNode, vec![node], why)
        })
}

/// The latest write of the same key invoked before `op` whose estimated stamp is not smaller
/// than `op`'s: last-writer-wins keeps it, though it came first.
fn earlier_larger_stamp<'a>(
    evidence: &Evidence<'a>,
    op: &Operation,
) -> Option<(&'a Operation, String)> {
    let writes = evidence.writes_by_key.get(&op.key)?;
    let stamp = evidence.stamp(op);
    let reach = evidence.clock_spread_ns.max(0) as u64 + 1_000_000;
    let floor = op.invoke.0.saturating_sub(reach);
    let position = writes.partition_point(|i| evidence.op(*i).invoke < op.invoke);
    let winner = writes[..position]
        .iter()
        .rev()
        .map(|i| evidence.op(*i))
        .take_while(|w| w.invoke.0 >= floor)
        .find(|w| w.id != op.id && evidence.stamp(w) >= stamp)?;
    let t_op = Evidence::stamp_time(op);
    let t_win = Evidence::stamp_time(winner);
    let why = format!(
        "{} wrote {} through {} {} earlier, stamped {} by {}'s clock (offset {}), while {}'s clock (offset {}) stamped this write {}: last-writer-wins kept the earlier write{}",
        winner.id,
        winner.write.map_or("a value".into(), |v| v.to_string()),
        winner.node,
        at(t_op.saturating_sub(t_win)),
        at(evidence.stamp(winner).max(0) as u64),
        winner.node,
        signed(evidence.offset(winner.node, t_win)),
        op.node,
        signed(evidence.offset(op.node, t_op)),
        at(stamp.max(0) as u64),
        evidence.clock_faults_before(&[op.node, winner.node], t_op)
    );
    Some((winner, why))
}

fn overlapping_write<'a>(evidence: &Evidence<'a>, op: &Operation) -> Option<&'a Operation> {
    evidence
        .writes_by_key
        .get(&op.key)?
        .iter()
        .map(|i| evidence.op(*i))
        .find(|w| {
            w.id != op.id && w.node != op.node && overlap(w, op) && w.outcome != Outcome::Fail
        })
}

// ----- stale reads ---------------------------------------------------------------------------

/// Attributes one stale read (from the stale-read hook).
pub(crate) fn stale_read(evidence: &Evidence<'_>, stale: &StaleRead) -> Option<Finding> {
    let ops = &evidence.result.history.ops;
    let read = ops.get(stale.op.0 as usize)?;
    let missed = ops.get(stale.missed.0 as usize)?;
    let acknowledged = missed.complete.map_or(missed.invoke.0, |t| t.0);
    let (cause, nodes, why) = stale_cause(evidence, read, missed, acknowledged);
    let seen: Vec<String> = read.read.iter().flatten().map(|v| v.to_string()).collect();
    Some(Finding {
        portions: Vec::new(),
        subject: Subject::StaleRead,
        key: read.key,
        op: Some(read.id),
        start: read.invoke.0,
        end: read.complete.map(|t| t.0),
        cause,
        nodes,
        evidence: format!(
            "{} ({} get {} via {} at {}) returned {} though {} ({} = {} via {}) was acknowledged at {}: {why}",
            read.id,
            read.client,
            read.key,
            read.node,
            at(read.invoke.0),
            if seen.is_empty() { "nothing".to_string() } else { seen.join(", ") },
            missed.id,
            missed.key,
            missed.write.map_or("?".into(), |v| v.to_string()),
            missed.node,
            at(acknowledged)
        ),
    })
}

fn stale_cause(
    evidence: &Evidence<'_>,
    read: &Operation,
    missed: &Operation,
    acknowledged: u64,
) -> (Cause, Vec<NodeId>, String) {
    let read_end = read.complete.map_or(read.invoke.0, |t| t.0);
    let holders = [(missed.node, read.invoke.0), (read.node, read_end)];
    for (node, until) in holders {
        if let Some(span) = evidence.spans_of(SpanKind::Paused, node, acknowledged, until) {
            let role = if node == missed.node {
                "holding the write"
            } else {
                "serving the read"
            };
            let why = format!(
                "{node} ({role}) was paused ({})",
                Evidence::span_words(span)
            );
            return (Cause::PausedNode, vec![node], why);
        }
    }
    for (node, until) in holders {
        if let Some(span) = evidence.spans_of(SpanKind::Crashed, node, acknowledged, until) {
            let why = format!("{node} was down ({})", Evidence::span_words(span));
            return (Cause::CrashLostUnsynced, vec![node], why);
        }
    }
    if let Some((span, a, b)) =
        evidence.cut_between(&[missed.node], &[read.node], acknowledged, read.invoke.0)
    {
        let cause = match span.kind {
            SpanKind::OneWay => Cause::OneWayCut,
            _ => Cause::Partition,
        };
        let why = format!("{a} could not reach {b}: {}", Evidence::span_words(span));
        return (cause, vec![a, b], why);
    }
    let read_writer = read
        .read
        .iter()
        .flatten()
        .filter_map(|v| evidence.writer_of(*v))
        .find(|w| w.invoke < missed.invoke && evidence.stamp(w) >= evidence.stamp(missed));
    if let Some(winner) = read_writer {
        let why = format!(
            "the value read, written earlier by {} through {}, carried a larger stamp than {}'s write through {}{}",
            winner.id,
            winner.node,
            missed.id,
            missed.node,
            evidence.clock_faults_before(&[winner.node, missed.node], read.invoke.0)
        );
        return (Cause::ClockSkew, vec![winner.node, missed.node], why);
    }
    let why = format!(
        "{} had not received the update from {} yet; no fault touched either",
        read.node, missed.node
    );
    (Cause::ReplicationLag, vec![missed.node, read.node], why)
}
