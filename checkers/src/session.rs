//! Session guarantees per client: read-your-writes, monotonic reads, monotonic writes and
//! writes-follow-reads (Terry, Demers, Petersen, Spreitzer, Theimer and Welch, "Session
//! guarantees for weakly consistent replicated data", 1994), read from a key-value history in
//! which every write writes a different value, so that a read names the write it saw.
//!
//! Each client is one session; its session order is the order in which it invoked its
//! operations (a closed-loop client has one operation in flight, so this is also real-time order
//! within the session; an open-loop client's overlapping operations are ordered by invocation).
//! An ok get observes the values it returned (none: the key's initial, absent state); an ok
//! compare-and-set observes its expected value and then writes its new value. Failed writes
//! never happened and are left out. A write whose outcome is unknown may have happened: it takes
//! part in the version order, is never *required* to be visible (its client never learned that
//! it took effect), and is known to have happened once a read returned it.
//!
//! # The version order
//!
//! Terry's guarantees are stated against the servers' write order, which a client-side history
//! does not show. We use, per key, a total order of the key's writes with the absent state first,
//! and ask whether *some* such order satisfies the guarantee. The order may not be arbitrary:
//!
//! - [`VersionOrder::RealTime`] (the default): it must extend the real-time order of writes. `a`
//!   precedes `b` when `a` is known to have taken effect before `b` was invoked: `a` was
//!   acknowledged, or returned by some read, before `b`'s invocation. A later write in real time
//!   is a later version; that is what a person reading the history means by "newer", and it is
//!   the order last-writer-wins promises with synchronised clocks. Writes that overlap in time,
//!   or whose effect was never seen before the other began, stay unordered.
//! - [`VersionOrder::Observed`]: no real-time constraint; only what the sessions themselves
//!   observed orders writes. This is the textbook reading, under which every sequentially or
//!   causally consistent (CCv) history satisfies all four guarantees. Use it to separate "a
//!   session saw versions out of order" from "a session saw its write undone by one that had
//!   finished before it began" (which real time flags and sequential consistency allows).
//!
//! Under real time, a closed-loop session's acknowledged writes, and its writes after what it
//! read, are already in the order it issued them, so monotonic writes and writes-follow-reads
//! can fail only through writes whose outcome was unknown (which real time does not order) or
//! through cycles of several sessions' observations; a reader that sees such writes inverted
//! is blamed for its own monotonic reads. That matches Terry's server-side reading whenever the
//! store's own order is the real-time one (last-writer-wins with synchronised clocks). The
//! observed reading, which knows nothing of real time, blames the store instead.
//!
//! # The guarantees
//!
//! "`r` reflects `w`" means `r` returned `w` or a version ordered after it.
//!
//! | guarantee | requirement (same client, same key) | violated when |
//! | --- | --- | --- |
//! | read-your-writes | a read reflects every acknowledged write the session made before it | no version order satisfies every session's requirement |
//! | monotonic reads | a read reflects every version an earlier read of the session returned | as above |
//! | monotonic writes | the session's writes are ordered in session order | the history shows the later write ordered first |
//! | writes-follow-reads | a write is ordered after every version the session read before it | the history shows the write ordered first |
//!
//! Read-your-writes and monotonic reads constrain what reads return, so the history tests them
//! directly: every requirement is an edge `w <= x` in a graph over the key's versions, together
//! with the version order's own edges, and the guarantee fails exactly when a requirement is
//! contradicted on its own (below) or that graph has a cycle; every requirement edge on a cycle
//! is listed, with the cycle as its evidence (for the first [`EVIDENCE_LISTED_MAX`] violations
//! of each guarantee).
//!
//! Monotonic writes and writes-follow-reads constrain the order itself, which only reads reveal
//! (Jepsen's phrasing: every process *observes* `a` before `b`). "What sessions observed" is
//! the order evidence: a session that read `a` and later read `b` saw `a` no later than `b` (its
//! monotonic-reads edges). A requirement `a < b` is violated when that evidence, with the version
//! order's edges and the same guarantee's other requirements, leads from `b` back to `a`:
//! typically some session read `b` and afterwards `a`. A session's own writes are not evidence
//! here: "wrote `b`, then read `a`" is the writer failing to read its write (read-your-writes),
//! not anyone seeing the writes out of order. When a session reads `b` and then `a` after their
//! writer wrote `a` then `b`, the history cannot tell whether the store ordered the writes
//! wrongly or the reader moved to a staler replica; the version order decides. If real time
//! already puts `a` first, the reader went backwards (monotonic reads); if not (say `a` timed
//! out and landed late), the store showed the writes out of order (monotonic writes).
//!
//! A requirement contradicted on its own (a read of nothing after a version it must reflect,
//! or, under real time, a version that took effect before the required write began) is
//! reported at once and kept out of the graph: a contradiction must not spread through the
//! graph and make other sessions' requirements look cyclic.
//!
//! Each guarantee is judged on its own, so a history can break them only jointly: a session
//! that reads `a`, writes `b` and reads `a` again satisfies read-your-writes (if `b` precedes
//! `a`) and writes-follow-reads (if nobody saw `b` before `a`) separately. Real time catches it
//! as read-your-writes when `a` finished before `b` began; the causal check always catches it
//! (WriteCORead).
//!
//! # What the check sees and what it cannot
//!
//! - Keys are checked independently. Terry's monotonic writes and writes-follow-reads also order
//!   writes to different keys; those dependencies are the causal check's job
//!   ([`crate::causal`]), which follows causality across keys.
//! - A read returning several values (siblings) reflects each of them. As a source of
//!   requirements it counts fully (every sibling must be reflected later). As the read that must
//!   reflect an earlier version, it satisfies the requirement when any sibling is at least as
//!   new, which is a disjunction: such reads are judged against the real-time order alone (a
//!   violation when every sibling is known to be older) and add no edges. This can miss a
//!   violation that needs other sessions' evidence, but never invents one.
//! - Reads of values that no write that may have happened wrote (to the same key) are listed as
//!   unexplained and left out: the causal check reports them as thin-air reads.
//! - Session order is invocation order. With an open-loop workload a client has several
//!   operations in flight, and a read is then required to reflect an earlier write of its
//!   session that was acknowledged only after the read began: stricter than such a client could
//!   expect. The bundled workloads are closed-loop.
//! - The check needs unique write values; a history that writes a value twice is not checked.

use serde::{Deserialize, Serialize};
use sim_core::history::{History, OpKind, Operation, Outcome};
use sim_core::ids::{ClientId, Key, OpId, Value};
use sim_core::time::SimTime;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

// ---------------------------------------------------------------------------------------------
// Facts every history check here shares (also used by stale_reads and causal).
// ---------------------------------------------------------------------------------------------

/// The values an operation saw: an ok get's values, or an ok compare-and-set's expected value.
pub(crate) fn observed(op: &Operation) -> Option<Vec<Value>> {
    if op.outcome != Outcome::Ok {
        return None;
    }
    match op.kind {
        OpKind::Get => Some(op.read.clone().unwrap_or_default()),
        OpKind::Cas => Some(op.expected.into_iter().collect()),
        OpKind::Put => None,
    }
}

/// The value an operation may have written: failed writes never happened.
pub(crate) fn may_have_written(op: &Operation) -> Option<Value> {
    if op.is_write() && op.outcome != Outcome::Fail {
        op.write
    } else {
        None
    }
}

/// Per-history facts: who wrote each value, and when each write is first known to have taken
/// effect.
pub(crate) struct Facts<'h> {
    /// The history.
    pub(crate) history: &'h History,
    /// The operation that may have written each value (failed writes excluded).
    pub(crate) writer: BTreeMap<Value, OpId>,
    /// Values written only by failed operations: they never happened.
    pub(crate) failed: BTreeMap<Value, OpId>,
    /// For each value that may have been written, the earliest time it is known to have taken
    /// effect and the read that showed it (None: its acknowledgement).
    pub(crate) effective: BTreeMap<Value, (SimTime, Option<OpId>)>,
}

impl<'h> Facts<'h> {
    /// Indexes `history`; fails when ids are out of order or a value is written twice.
    pub(crate) fn new(history: &'h History) -> Result<Facts<'h>, String> {
        let mut writer = BTreeMap::new();
        let mut failed = BTreeMap::new();
        let mut effective = BTreeMap::new();
        for (index, op) in history.ops.iter().enumerate() {
            if op.id != OpId(index as u64) {
                return Err(format!(
                    "operation {} sits at position {index}: a history lists operations in id order",
                    op.id
                ));
            }
            let Some(value) = op.write.filter(|_| op.is_write()) else {
                continue;
            };
            let first = writer.get(&value).or(failed.get(&value));
            if let Some(first) = first {
                return Err(format!(
                    "{value} is written by both {first} and {}: the checks need unique write values",
                    op.id
                ));
            }
            if op.outcome == Outcome::Fail {
                failed.insert(value, op.id);
                continue;
            }
            writer.insert(value, op.id);
            if let (Outcome::Ok, Some(done)) = (op.outcome, op.complete) {
                effective.insert(value, (done, None));
            }
        }
        let mut facts = Facts {
            history,
            writer,
            failed,
            effective,
        };
        facts.note_sightings();
        Ok(facts)
    }

    /// A read that returned a value proves its write had taken effect by the read's completion.
    fn note_sightings(&mut self) {
        for op in &self.history.ops {
            let (Some(values), Some(done)) = (observed(op), op.complete) else {
                continue;
            };
            for value in values {
                let Some(write) = self.write_of(op.key, value) else {
                    continue;
                };
                // A write cannot take effect before it was invoked; a read that claims otherwise
                // is a real-time anomaly for the linearizability check, not an order here.
                let at = done.max(write.invoke);
                let (id, entry) = (op.id, self.effective.entry(value));
                let slot = entry.or_insert((at, Some(id)));
                if at < slot.0 {
                    *slot = (at, Some(id));
                }
            }
        }
    }

    /// The operation with this id.
    pub(crate) fn op(&self, id: OpId) -> &'h Operation {
        let history: &'h History = self.history;
        &history.ops[id.0 as usize]
    }

    /// The write of `value` to `key` that may have happened, if any.
    pub(crate) fn write_of(&self, key: Key, value: Value) -> Option<&'h Operation> {
        let history: &'h History = self.history;
        let id = *self.writer.get(&value)?;
        let op = &history.ops[id.0 as usize];
        (op.key == key).then_some(op)
    }

    /// When the write of `value` is first known to have taken effect.
    pub(crate) fn effective_at(&self, value: Value) -> Option<SimTime> {
        self.effective.get(&value).map(|(at, _)| *at)
    }
}

// ---------------------------------------------------------------------------------------------
// The verdict.
// ---------------------------------------------------------------------------------------------

/// One of Terry et al.'s four session guarantees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// A read reflects the session's earlier acknowledged writes.
    ReadYourWrites,
    /// A read reflects what the session's earlier reads returned.
    MonotonicReads,
    /// The session's writes are ordered as it issued them.
    MonotonicWrites,
    /// A write is ordered after what the session had read.
    WritesFollowReads,
}

impl Guarantee {
    /// All four, in the ladder's order.
    pub const ALL: [Guarantee; 4] = [
        Guarantee::ReadYourWrites,
        Guarantee::MonotonicReads,
        Guarantee::MonotonicWrites,
        Guarantee::WritesFollowReads,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Guarantee::ReadYourWrites => "read-your-writes",
            Guarantee::MonotonicReads => "monotonic-reads",
            Guarantee::MonotonicWrites => "monotonic-writes",
            Guarantee::WritesFollowReads => "writes-follow-reads",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which constraint the version order must respect besides what sessions observed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionOrder {
    /// A write known to have taken effect before another was invoked is the older version.
    #[default]
    RealTime,
    /// Only the sessions' observations order writes (the textbook definitions).
    Observed,
}

/// A version of a key: its initial absent state, or the write of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Version {
    /// The key's initial state: nothing written yet.
    Absent,
    /// The version written with this value.
    Value(Value),
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Absent => f.write_str("nothing (the initial, absent state)"),
            Version::Value(value) => write!(f, "{value}"),
        }
    }
}

/// One link of evidence that a version precedes another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// `earlier` took effect before `later` was invoked.
    RealTime {
        /// The older write's value.
        earlier: Value,
        /// When it was first known to have taken effect.
        effective_at: SimTime,
        /// The read that showed it then (None: its acknowledgement).
        shown_by: Option<OpId>,
        /// The newer write's value.
        later: Value,
        /// The newer write.
        later_op: OpId,
        /// When the newer write was invoked.
        invoked_at: SimTime,
    },
    /// A session wrote `earlier` and later read `later`.
    WroteThenRead {
        /// The session.
        client: ClientId,
        /// Its write.
        wrote: OpId,
        /// Its later read.
        read: OpId,
        /// What it wrote.
        earlier: Version,
        /// What it read.
        later: Version,
    },
    /// A session read `earlier` and later read `later`.
    ReadThenRead {
        /// The session.
        client: ClientId,
        /// The first read.
        first: OpId,
        /// The later read.
        then: OpId,
        /// What the first read returned.
        earlier: Version,
        /// What the later read returned.
        later: Version,
    },
    /// A session wrote `earlier` and then `later`.
    WroteThenWrote {
        /// The session.
        client: ClientId,
        /// The first write.
        first: OpId,
        /// The later write.
        then: OpId,
        /// The first value.
        earlier: Value,
        /// The later value.
        later: Value,
    },
    /// A session read `earlier` and then wrote `later`.
    ReadThenWrote {
        /// The session.
        client: ClientId,
        /// The read.
        read: OpId,
        /// The write.
        write: OpId,
        /// What it read.
        earlier: Version,
        /// What it wrote.
        later: Value,
    },
    /// The absent state precedes every write.
    Initial {
        /// The write.
        later: Value,
    },
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::RealTime {
                earlier,
                effective_at,
                shown_by,
                later,
                later_op,
                invoked_at,
            } => {
                let how = match shown_by {
                    None => format!("{earlier} was acknowledged at {effective_at}"),
                    Some(read) => format!("{read} had returned {earlier} by {effective_at}"),
                };
                write!(
                    f,
                    "{how}, before {later} ({later_op}) was invoked at {invoked_at}"
                )
            }
            Evidence::WroteThenRead {
                client,
                wrote,
                read,
                earlier,
                later,
            } => write!(
                f,
                "{client} wrote {earlier} ({wrote}) and later read {later} ({read})"
            ),
            Evidence::ReadThenRead {
                client,
                first,
                then,
                earlier,
                later,
            } => write!(
                f,
                "{client} read {earlier} ({first}) and later {later} ({then})"
            ),
            Evidence::WroteThenWrote {
                client,
                first,
                then,
                earlier,
                later,
            } => write!(
                f,
                "{client} wrote {earlier} ({first}) before {later} ({then})"
            ),
            Evidence::ReadThenWrote {
                client,
                read,
                write,
                earlier,
                later,
            } => write!(
                f,
                "{client} read {earlier} ({read}) before writing {later} ({write})"
            ),
            Evidence::Initial { later } => {
                write!(
                    f,
                    "the initial absent state precedes every write, {later} included"
                )
            }
        }
    }
}

/// One broken guarantee: a later operation of a session that does not respect an earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionViolation {
    /// Which guarantee.
    pub guarantee: Guarantee,
    /// The session.
    pub client: ClientId,
    /// The key.
    pub key: Key,
    /// The operation that broke it: the read (read-your-writes, monotonic reads) or the write
    /// (monotonic writes, writes-follow-reads).
    pub op: OpId,
    /// The earlier operation of the same session it fails to respect.
    pub earlier_op: OpId,
    /// The version the earlier operation wrote or saw, which must not be newer than `shown`.
    pub required: Version,
    /// What `op` returned or wrote.
    pub shown: Vec<Version>,
    /// Why `shown` is older than `required`: links from `shown` up to `required` (empty past
    /// the first [`EVIDENCE_LISTED_MAX`] violations of the guarantee).
    pub evidence: Vec<Evidence>,
    /// The same, in plain words.
    pub explanation: String,
}

/// How often one guarantee applied and how often it broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GuaranteeTally {
    /// Which guarantee.
    pub guarantee: Guarantee,
    /// Operations it constrained.
    pub checked: u64,
    /// Operations that broke it.
    pub violated: u64,
}

/// The verdict of the session-guarantee check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionVerdict {
    /// The version order the check used.
    pub version_order: VersionOrder,
    /// One tally per guarantee, in [`Guarantee::ALL`] order.
    pub tallies: Vec<GuaranteeTally>,
    /// Every violation, by guarantee, then key, then operation.
    pub violations: Vec<SessionViolation>,
    /// Reads of values no write that may have happened wrote to that key; not judged.
    pub unexplained_reads: Vec<OpId>,
    /// Why the history could not be checked at all, if it could not.
    pub not_checked: Option<String>,
}

impl SessionVerdict {
    /// Whether `guarantee` held; None when the history could not be checked.
    pub fn held(&self, guarantee: Guarantee) -> Option<bool> {
        if self.not_checked.is_some() {
            return None;
        }
        Some(self.tallies[guarantee.index()].violated == 0)
    }

    /// The violations of one guarantee.
    pub fn violations_of(&self, guarantee: Guarantee) -> impl Iterator<Item = &SessionViolation> {
        self.violations
            .iter()
            .filter(move |v| v.guarantee == guarantee)
    }
}

/// Violations of one guarantee that get their evidence spelled out; later ones are listed with
/// their operations only (finding the cycle behind each is the costly part, and nobody reads
/// ten thousand of them).
pub const EVIDENCE_LISTED_MAX: usize = 200;

/// Checks the four session guarantees of every client against `order`.
pub fn check(history: &History, order: VersionOrder) -> SessionVerdict {
    let mut verdict = SessionVerdict {
        version_order: order,
        tallies: Guarantee::ALL
            .iter()
            .map(|g| GuaranteeTally {
                guarantee: *g,
                checked: 0,
                violated: 0,
            })
            .collect(),
        violations: Vec::new(),
        unexplained_reads: Vec::new(),
        not_checked: None,
    };
    let facts = match Facts::new(history) {
        Ok(facts) => facts,
        Err(reason) => {
            verdict.not_checked = Some(reason);
            return verdict;
        }
    };
    let mut by_key: BTreeMap<Key, Vec<&Operation>> = BTreeMap::new();
    for op in &history.ops {
        by_key.entry(op.key).or_default().push(op);
    }
    let mut evidence_budget = [EVIDENCE_LISTED_MAX; 4];
    for (key, ops) in by_key {
        let graph = KeyGraph::build(&facts, key, &ops, order);
        verdict.unexplained_reads.extend(&graph.unexplained);
        for guarantee in Guarantee::ALL {
            let tally = &mut verdict.tallies[guarantee.index()];
            tally.checked += graph.checked[guarantee.index()].len() as u64;
            let budget = &mut evidence_budget[guarantee.index()];
            let found = graph.violations(&facts, guarantee, budget);
            tally.violated += found.len() as u64;
            verdict.violations.extend(found);
        }
    }
    verdict.unexplained_reads.sort();
    verdict
        .violations
        .sort_by_key(|v| (v.guarantee, v.key, v.op));
    verdict
}

// ---------------------------------------------------------------------------------------------
// The per-key constraint graph.
// ---------------------------------------------------------------------------------------------

/// Which constraint an edge stands for; the graph of a guarantee uses a subset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EdgeKind {
    RealTime,
    Ryw,
    Mr,
    Mw,
    Wfr,
}

impl EdgeKind {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The edges each guarantee's graph uses: its own requirements, the version order, and for
/// the order-constraining guarantees the sessions' observations.
fn mask(guarantee: Guarantee) -> u8 {
    let base = EdgeKind::RealTime.bit();
    let observed = EdgeKind::Mr.bit();
    match guarantee {
        Guarantee::ReadYourWrites => base | EdgeKind::Ryw.bit(),
        Guarantee::MonotonicReads => base | EdgeKind::Mr.bit(),
        Guarantee::MonotonicWrites => base | observed | EdgeKind::Mw.bit(),
        Guarantee::WritesFollowReads => base | observed | EdgeKind::Wfr.bit(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Node {
    /// The initial absent state.
    Absent,
    /// A write that may have happened.
    Write { op: OpId, value: Value },
    /// A point of the real-time chain: "writes invoked from here on".
    Time,
    /// A point of a session's chain of acknowledged writes: "this write and the session's
    /// earlier ones"; `op` is the write that joined here, `write` its node, `previous` the
    /// chain's point before it.
    SessionWrites {
        op: OpId,
        write: u32,
        previous: Option<u32>,
    },
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    to: u32,
    kind: EdgeKind,
    /// The earlier and the later operation of the session that imposed it.
    cause: Option<(OpId, OpId)>,
}

/// A requirement `from <= to` (or `<` for writes) that one operation imposes.
#[derive(Clone, Copy, Debug)]
struct Requirement {
    guarantee: Guarantee,
    from: u32,
    to: u32,
    op: OpId,
    /// The earlier operation, when the requirement names one write (not a session chain).
    earlier: Option<OpId>,
}

/// What a session last read on the key: the last single version, and sibling reads since.
#[derive(Clone, Default)]
struct ReadState {
    last: Option<(OpId, u32)>,
    siblings: Vec<(OpId, Vec<u32>)>,
}

#[derive(Clone, Default)]
struct SessionState {
    reads: ReadState,
    /// The last write that may have happened, for monotonic writes.
    last_write: Option<(OpId, u32)>,
    /// The session's acknowledged writes: (op, write node, chain node).
    acknowledged: Vec<(OpId, u32, u32)>,
}

struct KeyGraph {
    key: Key,
    order: VersionOrder,
    nodes: Vec<Node>,
    edges: Vec<Vec<Edge>>,
    value_node: BTreeMap<Value, u32>,
    requirements: Vec<Requirement>,
    /// Violations found directly (sibling reads judged against real time).
    direct: Vec<SessionViolation>,
    /// Per guarantee, the operations it constrained.
    checked: [BTreeSet<OpId>; 4],
    unexplained: Vec<OpId>,
}

const ABSENT: u32 = 0;

impl KeyGraph {
    fn build(facts: &Facts<'_>, key: Key, ops: &[&Operation], order: VersionOrder) -> KeyGraph {
        let mut graph = KeyGraph {
            key,
            order,
            nodes: vec![Node::Absent],
            edges: vec![Vec::new()],
            value_node: BTreeMap::new(),
            requirements: Vec::new(),
            direct: Vec::new(),
            checked: Default::default(),
            unexplained: Vec::new(),
        };
        for op in ops {
            if let Some(value) = may_have_written(op) {
                let node = graph.add(Node::Write { op: op.id, value });
                graph.value_node.insert(value, node);
            }
        }
        if order == VersionOrder::RealTime {
            graph.add_real_time(facts);
        }
        let mut sessions: BTreeMap<ClientId, SessionState> = BTreeMap::new();
        for op in ops {
            let state = sessions.entry(op.client).or_default();
            graph.session_step(facts, op, state);
        }
        graph
    }

    fn add(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        self.edges.push(Vec::new());
        (self.nodes.len() - 1) as u32
    }

    fn edge(&mut self, from: u32, to: u32, kind: EdgeKind, cause: Option<(OpId, OpId)>) {
        self.edges[from as usize].push(Edge { to, kind, cause });
    }

    fn write_value(&self, node: u32) -> Option<Value> {
        match self.nodes[node as usize] {
            Node::Write { value, .. } => Some(value),
            _ => None,
        }
    }

    fn version(&self, node: u32) -> Version {
        self.write_value(node)
            .map_or(Version::Absent, Version::Value)
    }

    /// The real-time order as a chain of time points, so that it costs O(writes) edges: the
    /// writes sorted by invocation hang off the chain, and a write points at the first time
    /// point invoked after it took effect.
    fn add_real_time(&mut self, facts: &Facts<'_>) {
        let mut writes: Vec<(SimTime, u32)> = self
            .value_node
            .iter()
            .map(|(value, node)| (facts.op(facts.writer[value]).invoke, *node))
            .collect();
        writes.sort();
        let points: Vec<u32> = writes.iter().map(|_| self.add(Node::Time)).collect();
        for (index, (_, write)) in writes.iter().enumerate() {
            self.edge(points[index], *write, EdgeKind::RealTime, None);
            if index + 1 < points.len() {
                self.edge(points[index], points[index + 1], EdgeKind::RealTime, None);
            }
        }
        for &(_, write) in &writes {
            let value = self.write_value(write).expect("a write node");
            let Some(effective) = facts.effective_at(value) else {
                continue;
            };
            let next = writes.partition_point(|(invoked, _)| *invoked <= effective);
            if next < writes.len() {
                self.edge(write, points[next], EdgeKind::RealTime, None);
            }
        }
    }

    /// Adds the requirements one operation imposes on its session, then updates the session.
    fn session_step(&mut self, facts: &Facts<'_>, op: &Operation, state: &mut SessionState) {
        if let Some(values) = observed(op) {
            let nodes: Option<Vec<u32>> = values
                .iter()
                .map(|v| {
                    facts
                        .write_of(op.key, *v)
                        .and(self.value_node.get(v).copied())
                })
                .collect();
            match nodes {
                Some(mut nodes) => {
                    if nodes.is_empty() {
                        nodes.push(ABSENT);
                    }
                    self.read_your_writes(facts, op, &nodes, state);
                    self.monotonic_reads(facts, op, &nodes, state);
                    if let [single] = nodes[..] {
                        state.reads = ReadState {
                            last: Some((op.id, single)),
                            siblings: Vec::new(),
                        };
                    } else {
                        state.reads.siblings.push((op.id, nodes));
                    }
                }
                None => self.unexplained.push(op.id),
            }
        }
        let Some(value) = may_have_written(op) else {
            return;
        };
        let node = self.value_node[&value];
        if let Some((earlier, from)) = state.last_write {
            let pair = (from, node);
            self.require(facts, Guarantee::MonotonicWrites, pair, op, Some(earlier));
        }
        state.last_write = Some((op.id, node));
        let sources: Vec<(OpId, u32)> = state.reads.sources().collect();
        for (read, from) in sources {
            if from != ABSENT && from != node {
                let pair = (from, node);
                self.require(facts, Guarantee::WritesFollowReads, pair, op, Some(read));
            }
        }
        if op.outcome == Outcome::Ok {
            let previous = state.acknowledged.last().map(|(_, _, chain)| *chain);
            let chain = self.add(Node::SessionWrites {
                op: op.id,
                write: node,
                previous,
            });
            self.edge(node, chain, EdgeKind::Ryw, None);
            if let Some(previous) = previous {
                self.edge(previous, chain, EdgeKind::Ryw, None);
            }
            state.acknowledged.push((op.id, node, chain));
        }
    }

    /// Records that `from` (a version, or every write of a session chain) must be reflected by
    /// `to` (ordered before it, for writes). A requirement that contradicts the absent state or
    /// real time on its own is a violation at once and stays out of the graph, so that it
    /// cannot lend its contradiction to cycles through other sessions' requirements.
    fn require(
        &mut self,
        facts: &Facts<'_>,
        guarantee: Guarantee,
        (from, to): (u32, u32),
        op: &Operation,
        earlier: Option<OpId>,
    ) {
        self.checked[guarantee.index()].insert(op.id);
        // The absent state is reflected by every version.
        if from == ABSENT || from == to {
            return;
        }
        // A chain's latest write was invoked last, so it is the one real time can contradict.
        let source = match self.nodes[from as usize] {
            Node::SessionWrites { write, .. } => write,
            _ => from,
        };
        if let Some(evidence) = self.contradicted(facts, source, to) {
            let earlier = earlier.or(self.write_op(source)).expect("a source write");
            self.direct.push(violation(
                facts,
                guarantee,
                self.key,
                (op.id, earlier),
                self.version(source),
                vec![self.version(to)],
                evidence,
            ));
            return;
        }
        let kind = match guarantee {
            Guarantee::ReadYourWrites => EdgeKind::Ryw,
            Guarantee::MonotonicReads => EdgeKind::Mr,
            Guarantee::MonotonicWrites => EdgeKind::Mw,
            Guarantee::WritesFollowReads => EdgeKind::Wfr,
        };
        // A session chain's exit names the chain's latest write; the evidence replaces it with
        // the write that entered the chain on the path actually taken.
        let first = earlier.or(match self.nodes[from as usize] {
            Node::SessionWrites { op, .. } => Some(op),
            _ => None,
        });
        self.edge(from, to, kind, first.map(|e| (e, op.id)));
        self.requirements.push(Requirement {
            guarantee,
            from,
            to,
            op: op.id,
            earlier,
        });
    }

    /// Evidence, from the absent state or real time alone, that `to` is older than `source`.
    fn contradicted(&self, facts: &Facts<'_>, source: u32, to: u32) -> Option<Vec<Evidence>> {
        let required = self.write_value(source)?;
        match self.write_value(to) {
            None => Some(vec![Evidence::Initial { later: required }]),
            Some(shown) if self.order == VersionOrder::RealTime => {
                real_time_link(facts, shown, required).map(|link| vec![link])
            }
            Some(_) => None,
        }
    }

    /// Every acknowledged write of the session must be reflected by the read.
    fn read_your_writes(
        &mut self,
        facts: &Facts<'_>,
        op: &Operation,
        nodes: &[u32],
        state: &SessionState,
    ) {
        let written = &state.acknowledged;
        if written.is_empty() {
            return;
        }
        self.checked[Guarantee::ReadYourWrites.index()].insert(op.id);
        let [target] = nodes[..] else {
            let sources: Vec<(OpId, u32)> = written
                .iter()
                .map(|(earlier, node, _)| (*earlier, *node))
                .collect();
            self.sibling_check(facts, Guarantee::ReadYourWrites, op, &sources, nodes);
            return;
        };
        // A read of one of the session's own writes satisfies that write's requirement; the
        // chain must not pass through the target itself, or it would close a cycle on its own.
        match written.iter().position(|(_, node, _)| *node == target) {
            None => {
                let chain = written.last().expect("non-empty").2;
                self.require(facts, Guarantee::ReadYourWrites, (chain, target), op, None);
            }
            Some(position) => {
                if position > 0 {
                    let chain = written[position - 1].2;
                    self.require(facts, Guarantee::ReadYourWrites, (chain, target), op, None);
                }
                for &(earlier, node, _) in &written[position + 1..] {
                    let pair = (node, target);
                    self.require(facts, Guarantee::ReadYourWrites, pair, op, Some(earlier));
                }
            }
        }
    }

    /// Everything the session read before must be reflected by the read.
    fn monotonic_reads(
        &mut self,
        facts: &Facts<'_>,
        op: &Operation,
        nodes: &[u32],
        state: &SessionState,
    ) {
        let sources: Vec<(OpId, u32)> = state.reads.sources().collect();
        if sources.is_empty() {
            return;
        }
        let [target] = nodes[..] else {
            self.sibling_check(facts, Guarantee::MonotonicReads, op, &sources, nodes);
            return;
        };
        self.checked[Guarantee::MonotonicReads.index()].insert(op.id);
        for (earlier, from) in sources {
            if from != target {
                let pair = (from, target);
                self.require(facts, Guarantee::MonotonicReads, pair, op, Some(earlier));
            }
        }
    }

    /// A read with siblings satisfies "reflect `w`" when any sibling is `w` or newer: a
    /// disjunction, judged against the real-time order alone (every sibling known older).
    fn sibling_check(
        &mut self,
        facts: &Facts<'_>,
        guarantee: Guarantee,
        op: &Operation,
        sources: &[(OpId, u32)],
        nodes: &[u32],
    ) {
        self.checked[guarantee.index()].insert(op.id);
        if self.order != VersionOrder::RealTime {
            return;
        }
        for &(earlier, source) in sources {
            let Some(required) = self.write_value(source) else {
                continue;
            };
            if nodes.contains(&source) {
                continue;
            }
            let links: Option<Vec<Evidence>> = nodes
                .iter()
                .map(|node| {
                    let value = self.write_value(*node)?;
                    real_time_link(facts, value, required)
                })
                .collect();
            if let Some(evidence) = links {
                let shown = nodes.iter().map(|n| self.version(*n)).collect();
                self.direct.push(violation(
                    facts,
                    guarantee,
                    self.key,
                    (op.id, earlier),
                    Version::Value(required),
                    shown,
                    evidence,
                ));
                return;
            }
        }
    }

    /// The violations of one guarantee: its requirement edges that lie on a cycle. The first
    /// `evidence_budget` of them get the cycle as evidence.
    fn violations(
        &self,
        facts: &Facts<'_>,
        guarantee: Guarantee,
        evidence_budget: &mut usize,
    ) -> Vec<SessionViolation> {
        let mask = mask(guarantee);
        let component = components(&self.edges, mask);
        let mut search = Search::new(self.nodes.len());
        let mut found: BTreeMap<OpId, SessionViolation> = BTreeMap::new();
        for found_direct in self.direct.iter().filter(|v| v.guarantee == guarantee) {
            found.insert(found_direct.op, found_direct.clone());
        }
        for requirement in &self.requirements {
            let (from, to) = (requirement.from, requirement.to);
            if requirement.guarantee != guarantee
                || found.contains_key(&requirement.op)
                || component[from as usize] != component[to as usize]
            {
                continue;
            }
            // The earlier write: the requirement's own, or, for a session chain, one of the
            // chain's writes on the cycle (in the same component as the version shown).
            let source = match requirement.earlier {
                Some(_) => from,
                None => self.chain_write_in(from, component[to as usize], &component),
            };
            let earlier = requirement
                .earlier
                .or(self.write_op(source))
                .expect("a source write");
            let evidence = if *evidence_budget > 0 {
                *evidence_budget -= 1;
                let path = search.path(&self.edges, to, source, mask, &component);
                self.evidence(facts, &path)
            } else {
                Vec::new()
            };
            found.insert(
                requirement.op,
                violation(
                    facts,
                    guarantee,
                    self.key,
                    (requirement.op, earlier),
                    self.version(source),
                    vec![self.version(to)],
                    evidence,
                ),
            );
        }
        found.into_values().collect()
    }

    /// The latest write of a session chain (ending at `chain`) that lies in component `scc`.
    fn chain_write_in(&self, chain: u32, scc: u32, component: &[u32]) -> u32 {
        let mut at = Some(chain);
        while let Some(point) = at {
            let Node::SessionWrites {
                write, previous, ..
            } = self.nodes[point as usize]
            else {
                unreachable!("a session chain holds only chain points");
            };
            if component[write as usize] == scc {
                return write;
            }
            at = previous;
        }
        unreachable!("a chain edge on a cycle enters the cycle through one of its writes")
    }

    /// Turns a path between versions into evidence links, collapsing the auxiliary chains.
    fn evidence(&self, facts: &Facts<'_>, path: &[(u32, Option<Edge>)]) -> Vec<Evidence> {
        let mut links = Vec::new();
        let mut from = path[0].0;
        let mut entered: Option<OpId> = None;
        for &(node, edge) in &path[1..] {
            let edge = edge.expect("every later entry has an edge");
            match self.nodes[node as usize] {
                Node::Time => continue,
                Node::SessionWrites { op, .. } => {
                    entered.get_or_insert(op);
                    continue;
                }
                Node::Absent | Node::Write { .. } => {}
            }
            links.push(self.link(facts, from, node, edge, entered.take()));
            from = node;
        }
        links
    }

    fn write_op(&self, node: u32) -> Option<OpId> {
        match self.nodes[node as usize] {
            Node::Write { op, .. } => Some(op),
            _ => None,
        }
    }

    /// One link between two versions; `entered` is the write that entered a session chain.
    fn link(
        &self,
        facts: &Facts<'_>,
        from: u32,
        to: u32,
        edge: Edge,
        entered: Option<OpId>,
    ) -> Evidence {
        let (earlier, later) = (self.version(from), self.version(to));
        let client = |op: OpId| facts.op(op).client;
        let value = |v: Version| match v {
            Version::Value(value) => value,
            Version::Absent => unreachable!("the absent state is never on a cycle"),
        };
        match edge.kind {
            EdgeKind::RealTime => {
                real_time_link(facts, value(earlier), value(later)).expect("a real-time edge")
            }
            EdgeKind::Ryw => {
                let (first, read) = edge.cause.expect("a read-your-writes edge has a cause");
                let wrote = entered.unwrap_or(first);
                Evidence::WroteThenRead {
                    client: client(read),
                    wrote,
                    read,
                    earlier,
                    later,
                }
            }
            EdgeKind::Mr => {
                let (first, then) = edge.cause.expect("a monotonic-reads edge has a cause");
                Evidence::ReadThenRead {
                    client: client(then),
                    first,
                    then,
                    earlier,
                    later,
                }
            }
            EdgeKind::Mw => {
                let (first, then) = edge.cause.expect("a monotonic-writes edge has a cause");
                Evidence::WroteThenWrote {
                    client: client(then),
                    first,
                    then,
                    earlier: value(earlier),
                    later: value(later),
                }
            }
            EdgeKind::Wfr => {
                let (read, write) = edge.cause.expect("a writes-follow-reads edge has a cause");
                Evidence::ReadThenWrote {
                    client: client(write),
                    read,
                    write,
                    earlier,
                    later: value(later),
                }
            }
        }
    }
}

/// Breadth-first search with scratch arrays reused across the searches of one graph, so that a
/// search costs what it visits rather than the size of the graph.
struct Search {
    /// The search in which each node was last reached.
    reached_in: Vec<u32>,
    /// How each node was reached in that search.
    parent: Vec<Option<(u32, Edge)>>,
    round: u32,
}

impl Search {
    fn new(nodes: usize) -> Search {
        Search {
            reached_in: vec![0; nodes],
            parent: vec![None; nodes],
            round: 0,
        }
    }

    /// A shortest path from `start` to `goal` inside their component, as (node, edge taken to
    /// reach it) pairs.
    fn path(
        &mut self,
        edges: &[Vec<Edge>],
        start: u32,
        goal: u32,
        mask: u8,
        component: &[u32],
    ) -> Vec<(u32, Option<Edge>)> {
        self.round += 1;
        let scc = component[start as usize];
        self.reached_in[start as usize] = self.round;
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            if node == goal {
                break;
            }
            for edge in &edges[node as usize] {
                let to = edge.to as usize;
                if edge.kind.bit() & mask == 0
                    || component[to] != scc
                    || self.reached_in[to] == self.round
                {
                    continue;
                }
                self.reached_in[to] = self.round;
                self.parent[to] = Some((node, *edge));
                queue.push_back(edge.to);
            }
        }
        let mut path = Vec::new();
        let mut at = goal;
        while at != start {
            let (previous, edge) = self.parent[at as usize].expect("the goal was reached");
            path.push((at, Some(edge)));
            at = previous;
        }
        path.push((start, None));
        path.reverse();
        path
    }
}

impl ReadState {
    /// The versions every later read (and write, for writes-follow-reads) must reflect; earlier
    /// ones are reflected by these through the session's monotonic-reads edges.
    fn sources(&self) -> impl Iterator<Item = (OpId, u32)> + '_ {
        self.last.into_iter().chain(
            self.siblings
                .iter()
                .flat_map(|(op, nodes)| nodes.iter().map(move |n| (*op, *n))),
        )
    }
}

/// Evidence that `earlier` took effect before `later` was invoked, if it did.
fn real_time_link(facts: &Facts<'_>, earlier: Value, later: Value) -> Option<Evidence> {
    let (effective_at, shown_by) = *facts.effective.get(&earlier)?;
    let later_op = facts.op(facts.writer[&later]);
    (effective_at < later_op.invoke).then_some(Evidence::RealTime {
        earlier,
        effective_at,
        shown_by,
        later,
        later_op: later_op.id,
        invoked_at: later_op.invoke,
    })
}

fn violation(
    facts: &Facts<'_>,
    guarantee: Guarantee,
    key: Key,
    (op, earlier_op): (OpId, OpId),
    required: Version,
    shown: Vec<Version>,
    evidence: Vec<Evidence>,
) -> SessionViolation {
    let client = facts.op(op).client;
    let shown_text = shown
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    let because = if evidence.is_empty() {
        format!(
            "evidence listed for the first {EVIDENCE_LISTED_MAX} violations of {} only",
            guarantee.name()
        )
    } else {
        evidence
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let explanation = match guarantee {
        Guarantee::ReadYourWrites => format!(
            "{client} wrote {key} = {required} ({earlier_op}), then read {key} ({op}) and got {shown_text}, an older version: {because}"
        ),
        Guarantee::MonotonicReads => format!(
            "{client} read {key} = {required} ({earlier_op}), then read {key} again ({op}) and got {shown_text}, an older version: {because}"
        ),
        Guarantee::MonotonicWrites => format!(
            "{client} wrote {key} = {required} ({earlier_op}) and then {shown_text} ({op}), but {shown_text} is ordered before {required}: {because}"
        ),
        Guarantee::WritesFollowReads => format!(
            "{client} read {key} = {required} ({earlier_op}) and then wrote {shown_text} ({op}), which must be ordered after it, but is ordered before: {because}"
        ),
    };
    SessionViolation {
        guarantee,
        client,
        key,
        op,
        earlier_op,
        required,
        shown,
        evidence,
        explanation,
    }
}

/// Strongly connected components over the edges of `mask` (iterative Tarjan), as a component
/// number per node.
fn components(edges: &[Vec<Edge>], mask: u8) -> Vec<u32> {
    const UNSEEN: u32 = u32::MAX;
    let count = edges.len();
    let mut index = vec![UNSEEN; count];
    let mut low = vec![0u32; count];
    let mut on_stack = vec![false; count];
    let mut component = vec![UNSEEN; count];
    let mut stack: Vec<u32> = Vec::new();
    let mut next_index = 0u32;
    let mut next_component = 0u32;
    for root in 0..count as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        // Each frame: (node, position of the next edge to look at).
        let mut frames: Vec<(u32, usize)> = vec![(root, 0)];
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&(node, position)) = frames.last() {
            let out = &edges[node as usize];
            if let Some(edge) = out.get(position) {
                frames.last_mut().expect("non-empty").1 += 1;
                if edge.kind.bit() & mask == 0 {
                    continue;
                }
                let to = edge.to as usize;
                if index[to] == UNSEEN {
                    index[to] = next_index;
                    low[to] = next_index;
                    next_index += 1;
                    stack.push(edge.to);
                    on_stack[to] = true;
                    frames.push((edge.to, 0));
                } else if on_stack[to] {
                    low[node as usize] = low[node as usize].min(index[to]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                low[parent as usize] = low[parent as usize].min(low[node as usize]);
            }
            if low[node as usize] == index[node as usize] {
                loop {
                    let member = stack.pop().expect("the root is on the stack");
                    on_stack[member as usize] = false;
                    component[member as usize] = next_component;
                    if member == node {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

/// Small hand-written and random histories for the checkers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;
    use sim_core::history::{History, OpKind, Operation, Outcome};
    use sim_core::ids::{ClientId, Key, NodeId, OpId, Value};
    use sim_core::time::SimTime;

    const NS_PER_MS: u64 = 1_000_000;

    /// Builds a history one operation at a time, in invocation order; times in milliseconds,
    /// clients and keys by number (client 1 is "c1").
    #[derive(Default)]
    pub(crate) struct Builder {
        ops: Vec<Operation>,
    }

    impl Builder {
        fn push(
            &mut self,
            client: u32,
            kind: OpKind,
            key: u32,
            (invoke, complete): (u64, Option<u64>),
            outcome: Outcome,
        ) -> &mut Operation {
            let id = OpId(self.ops.len() as u64);
            if let Some(last) = self.ops.last() {
                assert!(
                    last.invoke.0 <= invoke * NS_PER_MS,
                    "add in invocation order"
                );
            }
            self.ops.push(Operation {
                id,
                client: ClientId(client - 1),
                node: NodeId(0),
                kind,
                key: Key(key),
                write: None,
                expected: None,
                invoke: SimTime(invoke * NS_PER_MS),
                complete: complete.map(|c| SimTime(c * NS_PER_MS)),
                outcome,
                read: None,
                note: None,
            });
            self.ops.last_mut().expect("just pushed")
        }

        /// An acknowledged put.
        pub(crate) fn put(&mut self, client: u32, key: u32, value: u64, at: (u64, u64)) -> OpId {
            self.put_with(client, key, value, (at.0, Some(at.1)), Outcome::Ok)
        }

        /// A put whose client never learned the outcome.
        pub(crate) fn put_unknown(&mut self, client: u32, key: u32, value: u64, at: u64) -> OpId {
            self.put_with(client, key, value, (at, None), Outcome::Unknown)
        }

        /// A put that definitely failed.
        pub(crate) fn put_failed(
            &mut self,
            client: u32,
            key: u32,
            value: u64,
            at: (u64, u64),
        ) -> OpId {
            self.put_with(client, key, value, (at.0, Some(at.1)), Outcome::Fail)
        }

        fn put_with(
            &mut self,
            client: u32,
            key: u32,
            value: u64,
            at: (u64, Option<u64>),
            outcome: Outcome,
        ) -> OpId {
            let op = self.push(client, OpKind::Put, key, at, outcome);
            op.write = Some(Value(value));
            op.id
        }

        /// An ok get that returned `values` (empty: nothing).
        pub(crate) fn get(
            &mut self,
            client: u32,
            key: u32,
            values: &[u64],
            at: (u64, u64),
        ) -> OpId {
            let op = self.push(client, OpKind::Get, key, (at.0, Some(at.1)), Outcome::Ok);
            op.read = Some(values.iter().map(|v| Value(*v)).collect());
            op.id
        }

        /// A compare-and-set from `expected` (None: absent) to `value`.
        pub(crate) fn cas(
            &mut self,
            client: u32,
            key: u32,
            expected: Option<u64>,
            value: u64,
            at: (u64, u64),
            outcome: Outcome,
        ) -> OpId {
            let complete = (outcome != Outcome::Unknown).then_some(at.1);
            let op = self.push(client, OpKind::Cas, key, (at.0, complete), outcome);
            op.expected = expected.map(Value);
            op.write = Some(Value(value));
            op.id
        }

        /// The history.
        pub(crate) fn history(&self) -> History {
            History {
                ops: self.ops.clone(),
            }
        }
    }

    /// One operation of a random history before times and read values are fixed.
    #[derive(Clone, Debug)]
    pub(crate) struct Spec {
        client: u32,
        kind: u8,
        key: u32,
        outcome: u8,
        gap: u64,
        duration: u64,
        choice: u8,
        siblings: bool,
    }

    /// Specs for up to `ops_max` operations by two clients on two keys.
    pub(crate) fn specs(ops_max: usize) -> impl Strategy<Value = Vec<Spec>> {
        specs_for(ops_max, 2)
    }

    /// Specs for up to `ops_max` operations by `clients` clients (at most 4) on two keys.
    pub(crate) fn specs_for(ops_max: usize, clients: u32) -> impl Strategy<Value = Vec<Spec>> {
        let spec = (
            0u32..clients,
            0u8..10,
            0u32..2,
            0u8..20,
            0u64..15,
            1u64..25,
            any::<u8>(),
            prop::bool::weighted(0.5),
        )
            .prop_map(
                |(client, kind, key, outcome, gap, duration, choice, siblings)| Spec {
                    client,
                    kind,
                    key,
                    outcome,
                    gap,
                    duration,
                    choice,
                    siblings,
                },
            );
        prop::collection::vec(spec, 1..=ops_max)
    }

    /// A closed-loop history from specs: each client's operations follow one another; reads
    /// return values of writes to the same key invoked before the read completed (or nothing;
    /// sometimes two values when `siblings` allows it).
    pub(crate) fn history(specs: &[Spec], siblings: bool) -> History {
        let mut clock = [0u64; 4];
        let mut timed: Vec<(u64, usize, Operation)> = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            let invoke = clock[spec.client as usize] + spec.gap;
            let end = invoke + spec.duration;
            clock[spec.client as usize] = end;
            let outcome = match spec.outcome {
                0..=13 => Outcome::Ok,
                14..=16 => Outcome::Unknown,
                _ => Outcome::Fail,
            };
            let kind = match spec.kind {
                0..=4 => OpKind::Get,
                5..=8 => OpKind::Put,
                _ => OpKind::Cas,
            };
            let op = Operation {
                id: OpId(0),
                client: ClientId(spec.client),
                node: NodeId(0),
                kind,
                key: Key(spec.key),
                write: (kind != OpKind::Get).then_some(Value(index as u64 + 1)),
                expected: None,
                invoke: SimTime(invoke),
                complete: (outcome != Outcome::Unknown).then_some(SimTime(end)),
                outcome,
                read: None,
                note: None,
            };
            timed.push((invoke, index, op));
        }
        timed.sort_by_key(|(invoke, index, _)| (*invoke, *index));
        let mut ops: Vec<Operation> = timed.into_iter().map(|(_, _, op)| op).collect();
        for (position, op) in ops.iter_mut().enumerate() {
            op.id = OpId(position as u64);
        }
        let snapshot = ops.clone();
        for (op, spec_index) in ops.iter_mut().zip(order_of(specs, &snapshot)) {
            let spec = &specs[spec_index];
            let deadline = op.complete.unwrap_or(SimTime(u64::MAX));
            let candidates: Vec<Value> = snapshot
                .iter()
                .filter(|w| w.is_write() && w.key == op.key && w.invoke < deadline && w.id != op.id)
                .filter_map(|w| w.write)
                .collect();
            let pick = |shift: u32| {
                let slot = (spec.choice as usize >> shift) % (candidates.len() + 1);
                candidates.get(slot).copied()
            };
            match op.kind {
                OpKind::Get if op.outcome == Outcome::Ok => {
                    let mut values: Vec<Value> = pick(0).into_iter().collect();
                    if siblings && spec.siblings {
                        values.extend(pick(4).filter(|v| !values.contains(v)));
                    }
                    op.read = Some(values);
                }
                OpKind::Cas => op.expected = pick(0),
                _ => {}
            }
        }
        History { ops }
    }

    /// For each operation of the built history, the index of the spec it came from.
    fn order_of(specs: &[Spec], ops: &[Operation]) -> Vec<usize> {
        ops.iter()
            .map(|op| match op.write {
                Some(Value(v)) => v as usize - 1,
                None => {
                    // Gets carry no value: find the spec by client and invocation time.
                    let mut clock = [0u64; 4];
                    let mut found = usize::MAX;
                    for (index, spec) in specs.iter().enumerate() {
                        let invoke = clock[spec.client as usize] + spec.gap;
                        clock[spec.client as usize] = invoke + spec.duration;
                        if spec.client == op.client.0 && invoke == op.invoke.0 {
                            found = index;
                        }
                    }
                    found
                }
            })
            .collect()
    }

    /// Every permutation of `items` (Heap's algorithm); fine for the handful a brute-force
    /// oracle enumerates.
    pub(crate) fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        fn heap<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
            if k <= 1 {
                out.push(items.clone());
                return;
            }
            for i in 0..k {
                heap(k - 1, items, out);
                let j = if k % 2 == 0 { i } else { 0 };
                items.swap(j, k - 1);
            }
        }
        let mut out = Vec::new();
        heap(items.len(), &mut items.to_vec(), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{self, Builder};
    use super::*;
    use proptest::prelude::*;

    fn held(verdict: &SessionVerdict) -> Vec<Guarantee> {
        Guarantee::ALL
            .into_iter()
            .filter(|g| verdict.held(*g) == Some(true))
            .collect()
    }

    fn broken(verdict: &SessionVerdict) -> Vec<(Guarantee, OpId)> {
        verdict
            .violations
            .iter()
            .map(|v| (v.guarantee, v.op))
            .collect()
    }

    #[test]
    fn a_session_that_reads_its_own_write_back_holds_every_guarantee() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.get(1, 0, &[1], (20, 30));
        h.put(2, 0, 2, (40, 50));
        h.get(1, 0, &[2], (60, 70));
        h.get(2, 0, &[2], (60, 70));
        for order in [VersionOrder::RealTime, VersionOrder::Observed] {
            let verdict = check(&h.history(), order);
            assert_eq!(held(&verdict), Guarantee::ALL.to_vec(), "{order:?}");
            assert_eq!(verdict.tallies[0].checked, 3);
            assert!(verdict.unexplained_reads.is_empty());
        }
    }

    #[test]
    fn reading_a_write_that_finished_before_your_own_began_breaks_read_your_writes_in_real_time() {
        // The last-writer-wins skew case: c2's write loses to c1's earlier one.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        let write = h.put(2, 0, 2, (20, 30));
        let read = h.get(2, 0, &[1], (40, 50));
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(broken(&verdict), vec![(Guarantee::ReadYourWrites, read)]);
        let violation = &verdict.violations[0];
        assert_eq!(violation.earlier_op, write);
        assert_eq!(violation.required, Version::Value(Value(2)));
        assert_eq!(violation.shown, vec![Version::Value(Value(1))]);
        assert_eq!(
            violation.explanation,
            "c2 wrote k0 = v2 (op1), then read k0 (op2) and got v1, an older version: \
             v1 was acknowledged at 10ms, before v2 (op1) was invoked at 20ms"
        );
        // Without real time, c1's write may be the newer one: nothing is broken.
        assert!(check(&h.history(), VersionOrder::Observed)
            .violations
            .is_empty());
    }

    #[test]
    fn reading_nothing_after_your_own_write_breaks_read_your_writes_in_every_order() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        let read = h.get(1, 0, &[], (20, 30));
        for order in [VersionOrder::RealTime, VersionOrder::Observed] {
            let verdict = check(&h.history(), order);
            assert_eq!(broken(&verdict), vec![(Guarantee::ReadYourWrites, read)]);
            assert_eq!(
                verdict.violations[0].evidence,
                vec![Evidence::Initial { later: Value(1) }]
            );
        }
    }

    #[test]
    fn two_sessions_that_each_read_the_others_write_break_read_your_writes_without_real_time() {
        // No single order of v1 and v2 lets both clients read their own writes.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (0, 10));
        let first = h.get(1, 0, &[2], (20, 30));
        let second = h.get(2, 0, &[1], (20, 30));
        let verdict = check(&h.history(), VersionOrder::Observed);
        assert_eq!(
            broken(&verdict),
            vec![
                (Guarantee::ReadYourWrites, first),
                (Guarantee::ReadYourWrites, second)
            ]
        );
        assert!(matches!(
            verdict.violations[0].evidence[..],
            [Evidence::WroteThenRead { .. }]
        ));
    }

    #[test]
    fn reading_an_older_version_after_a_newer_one_breaks_monotonic_reads_or_monotonic_writes() {
        let mut h = Builder::default();
        let first_write = h.put(1, 0, 1, (0, 10));
        let second_write = h.put(1, 0, 2, (20, 30));
        h.get(2, 0, &[2], (40, 50));
        let stale = h.get(2, 0, &[1], (60, 70));
        // Real time puts v1 first, as c1 wrote them: c2's view went backwards.
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(broken(&verdict), vec![(Guarantee::MonotonicReads, stale)]);
        // Without real time, c2's reads alone are consistent (v2 may precede v1); only c1's
        // order of writes contradicts what c2 saw.
        let verdict = check(&h.history(), VersionOrder::Observed);
        assert_eq!(
            broken(&verdict),
            vec![(Guarantee::MonotonicWrites, second_write)]
        );
        let writes = &verdict.violations[0];
        assert_eq!(writes.earlier_op, first_write);
        assert_eq!(
            writes.explanation,
            "c1 wrote k0 = v1 (op0) and then v2 (op1), but v2 is ordered before v1: \
             c2 read v2 (op2) and later v1 (op3)"
        );
        assert_eq!(
            writes.evidence,
            vec![Evidence::ReadThenRead {
                client: ClientId(1),
                first: OpId(2),
                then: OpId(3),
                earlier: Version::Value(Value(2)),
                later: Version::Value(Value(1)),
            }]
        );
    }

    #[test]
    fn reading_nothing_after_reading_a_value_breaks_monotonic_reads() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.get(2, 0, &[1], (20, 30));
        let read = h.get(2, 0, &[], (40, 50));
        let verdict = check(&h.history(), VersionOrder::Observed);
        assert_eq!(broken(&verdict), vec![(Guarantee::MonotonicReads, read)]);
    }

    #[test]
    fn a_timed_out_write_that_lands_after_the_next_one_breaks_only_monotonic_writes() {
        // c1's first write times out and takes effect late, over its second write.
        let mut h = Builder::default();
        h.put_unknown(1, 0, 1, 0);
        let second = h.put(1, 0, 2, (600, 610));
        h.get(2, 0, &[2], (700, 710));
        h.get(2, 0, &[1], (800, 810));
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(broken(&verdict), vec![(Guarantee::MonotonicWrites, second)]);
    }

    #[test]
    fn a_write_ordered_before_what_its_session_had_read_breaks_writes_follow_reads() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        let read = h.get(2, 0, &[1], (20, 30));
        let write = h.put(2, 0, 2, (40, 50));
        h.get(3, 0, &[2], (60, 70));
        let stale = h.get(3, 0, &[1], (80, 90));
        let verdict = check(&h.history(), VersionOrder::Observed);
        assert_eq!(
            broken(&verdict),
            vec![(Guarantee::WritesFollowReads, write)]
        );
        assert_eq!(verdict.violations[0].earlier_op, read);
        // In real time v1 precedes v2 anyway (c2 saw v1 before writing v2): c3 went backwards.
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(broken(&verdict), vec![(Guarantee::MonotonicReads, stale)]);
    }

    #[test]
    fn a_session_whose_write_loses_to_what_it_had_read_breaks_read_your_writes_in_real_time() {
        // The other last-writer-wins skew case: c2 reads v1, writes v2 with a smaller stamp,
        // and reads v1 again. Read-your-writes alone holds if v2 precedes v1, and
        // writes-follow-reads alone holds if nobody reads v2: only real time (v1 was seen
        // before v2 began) or the causal check (WriteCORead) rules it out.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.get(2, 0, &[1], (20, 30));
        h.put(2, 0, 2, (40, 50));
        let read = h.get(2, 0, &[1], (60, 70));
        assert!(check(&h.history(), VersionOrder::Observed)
            .violations
            .is_empty());
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(broken(&verdict), vec![(Guarantee::ReadYourWrites, read)]);
        assert_eq!(
            verdict.violations[0].evidence,
            vec![Evidence::RealTime {
                earlier: Value(1),
                effective_at: SimTime(10_000_000),
                shown_by: None,
                later: Value(2),
                later_op: OpId(2),
                invoked_at: SimTime(40_000_000),
            }]
        );
    }

    #[test]
    fn a_session_that_misses_its_own_later_write_breaks_read_your_writes_not_monotonic_writes() {
        // Nobody read v2, so nobody saw c1's writes out of order.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(1, 0, 2, (20, 30));
        let read = h.get(1, 0, &[1], (40, 50));
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(broken(&verdict), vec![(Guarantee::ReadYourWrites, read)]);
    }

    #[test]
    fn a_compare_and_set_reads_its_expected_value_before_writing() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        let cas = h.cas(2, 0, Some(1), 2, (20, 30), Outcome::Ok);
        h.get(3, 0, &[2], (40, 50));
        h.get(3, 0, &[1], (60, 70));
        let verdict = check(&h.history(), VersionOrder::Observed);
        assert_eq!(broken(&verdict), vec![(Guarantee::WritesFollowReads, cas)]);
    }

    #[test]
    fn sibling_reads_reflect_a_write_when_any_sibling_is_it_or_newer() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (0, 10));
        h.put(1, 0, 3, (20, 30));
        let missing = h.get(1, 0, &[1, 2], (40, 50));
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(broken(&verdict), vec![(Guarantee::ReadYourWrites, missing)]);
        assert_eq!(verdict.violations[0].evidence.len(), 2);
        assert_eq!(verdict.violations[0].shown.len(), 2);
        // With the session's write among the siblings, it is reflected.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (0, 10));
        h.get(1, 0, &[1, 2], (20, 30));
        h.get(2, 0, &[2, 1], (20, 30));
        h.get(1, 0, &[2], (40, 50));
        assert!(check(&h.history(), VersionOrder::RealTime)
            .violations
            .is_empty());
    }

    #[test]
    fn every_value_of_a_sibling_read_must_be_reflected_by_later_reads_and_followed_by_writes() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (0, 10));
        h.get(3, 0, &[1, 2], (20, 30));
        let write = h.put(3, 0, 3, (40, 50));
        h.get(4, 0, &[3], (60, 70));
        h.get(4, 0, &[1], (80, 90));
        let read = h.get(3, 0, &[], (100, 110));
        let verdict = check(&h.history(), VersionOrder::Observed);
        assert_eq!(
            broken(&verdict),
            vec![
                (Guarantee::ReadYourWrites, read),
                (Guarantee::MonotonicReads, read),
                (Guarantee::WritesFollowReads, write)
            ]
        );
    }

    #[test]
    fn failed_and_unknown_writes_are_never_required_and_a_read_of_a_failed_write_is_unexplained() {
        let mut h = Builder::default();
        h.put_failed(1, 0, 1, (0, 10));
        h.put_unknown(1, 0, 2, 20);
        h.get(1, 0, &[], (600, 610));
        let thin_air = h.get(1, 0, &[1], (700, 710));
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert!(verdict.violations.is_empty());
        assert_eq!(verdict.unexplained_reads, vec![thin_air]);
    }

    #[test]
    fn a_value_written_twice_is_not_checked() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 1, (0, 10));
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert!(verdict.not_checked.is_some());
        assert_eq!(verdict.held(Guarantee::ReadYourWrites), None);
    }

    #[test]
    fn real_time_can_close_a_cycle_that_no_single_requirement_contradicts() {
        // c1 needs v1 <= v3, c2 needs v4 <= v1, and v3 finished before v4 began: no order
        // satisfies both clients, although neither read alone contradicts real time.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(3, 0, 3, (0, 5));
        h.put(2, 0, 4, (6, 15));
        let first = h.get(1, 0, &[3], (20, 30));
        let second = h.get(2, 0, &[1], (20, 30));
        let verdict = check(&h.history(), VersionOrder::RealTime);
        assert_eq!(
            broken(&verdict),
            vec![
                (Guarantee::ReadYourWrites, first),
                (Guarantee::ReadYourWrites, second)
            ]
        );
        assert_eq!(verdict.violations[0].evidence.len(), 2);
        assert!(check(&h.history(), VersionOrder::Observed)
            .violations
            .is_empty());
    }

    #[test]
    fn every_earlier_write_of_the_session_must_be_reflected_not_only_the_last() {
        // c1 wrote v1 then v2 and read v3; c2 wrote v3 and read v1. v1 <= v3 (c1) and v3 <= v1
        // (c2) cannot both hold, although c1's last write v2 alone could precede v3.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 3, (0, 10));
        h.put(1, 0, 2, (20, 30));
        let first = h.get(1, 0, &[3], (40, 50));
        let second = h.get(2, 0, &[1], (40, 50));
        let verdict = check(&h.history(), VersionOrder::Observed);
        assert_eq!(
            broken(&verdict),
            vec![
                (Guarantee::ReadYourWrites, first),
                (Guarantee::ReadYourWrites, second)
            ]
        );
        assert_eq!(verdict.violations[0].required, Version::Value(Value(1)));
    }

    #[test]
    fn a_write_invoked_at_the_instant_another_was_acknowledged_is_not_ordered_after_it() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (0, 10));
        h.put(1, 0, 3, (10, 20));
        h.get(1, 0, &[1, 2], (30, 40));
        h.get(1, 0, &[3], (50, 60));
        assert!(check(&h.history(), VersionOrder::RealTime)
            .violations
            .is_empty());
    }

    #[test]
    fn keys_are_checked_apart() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.get(1, 1, &[], (20, 30));
        assert!(check(&h.history(), VersionOrder::RealTime)
            .violations
            .is_empty());
    }

    // ---- brute-force oracle ----

    /// What the oracle decides for one history, per guarantee: does some version order per
    /// key satisfy it (for monotonic writes and writes-follow-reads: together with every
    /// session's monotonic-reads observations)?
    struct Oracle {
        satisfiable: [bool; 4],
        observations_consistent: bool,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Rule {
        Ryw,
        Mr,
        Mw,
        Wfr,
    }

    fn oracle(history: &History, order: VersionOrder) -> Oracle {
        let facts = Facts::new(history).expect("unique values");
        let sat = |rules: &[Rule]| {
            let keys: BTreeSet<Key> = history.ops.iter().map(|op| op.key).collect();
            keys.into_iter()
                .all(|key| key_satisfiable(&facts, key, order, rules))
        };
        Oracle {
            satisfiable: [
                sat(&[Rule::Ryw]),
                sat(&[Rule::Mr]),
                sat(&[Rule::Mr, Rule::Mw]),
                sat(&[Rule::Mr, Rule::Wfr]),
            ],
            observations_consistent: sat(&[Rule::Mr]),
        }
    }

    /// Tries every order of the key's writes (the absent state first).
    fn key_satisfiable(facts: &Facts<'_>, key: Key, order: VersionOrder, rules: &[Rule]) -> bool {
        let ops: Vec<&Operation> = facts.history.ops.iter().filter(|o| o.key == key).collect();
        let writes: Vec<Value> = ops.iter().filter_map(|o| may_have_written(o)).collect();
        testing::permutations(&writes).into_iter().any(|perm| {
            let position = |v: Option<Value>| match v {
                None => 0,
                Some(v) => {
                    1 + perm
                        .iter()
                        .position(|w| *w == v)
                        .expect("a write of the key")
                }
            };
            let real_time = order == VersionOrder::Observed
                || writes.iter().all(|a| {
                    writes.iter().all(|b| {
                        let before = facts
                            .effective_at(*a)
                            .is_some_and(|t| t < facts.op(facts.writer[b]).invoke);
                        !before || position(Some(*a)) < position(Some(*b))
                    })
                });
            real_time && sessions_hold(facts, &ops, rules, &position)
        })
    }

    /// The guarantees' definitions, checked on one order of one key's versions.
    fn sessions_hold(
        facts: &Facts<'_>,
        ops: &[&Operation],
        rules: &[Rule],
        position: &dyn Fn(Option<Value>) -> usize,
    ) -> bool {
        let reflects = |w: Option<Value>, seen: &[Option<Value>]| {
            seen.iter().any(|x| position(w) <= position(*x))
        };
        let clients: BTreeSet<ClientId> = ops.iter().map(|o| o.client).collect();
        clients.into_iter().all(|client| {
            let mine: Vec<&&Operation> = ops.iter().filter(|o| o.client == client).collect();
            let mut acknowledged: Vec<Option<Value>> = Vec::new();
            let mut written: Vec<Value> = Vec::new();
            let mut read: Vec<Vec<Option<Value>>> = Vec::new();
            for op in mine {
                if let Some(values) = observed(op) {
                    let explained = values.iter().all(|v| facts.write_of(op.key, *v).is_some());
                    if explained {
                        let seen: Vec<Option<Value>> = if values.is_empty() {
                            vec![None]
                        } else {
                            values.into_iter().map(Some).collect()
                        };
                        if rules.contains(&Rule::Ryw)
                            && !acknowledged.iter().all(|w| reflects(*w, &seen))
                        {
                            return false;
                        }
                        if rules.contains(&Rule::Mr)
                            && !read.iter().flatten().all(|x| reflects(*x, &seen))
                        {
                            return false;
                        }
                        read.push(seen);
                    }
                }
                if let Some(value) = may_have_written(op) {
                    let after = |earlier: &Value| position(Some(*earlier)) < position(Some(value));
                    if rules.contains(&Rule::Mw) && !written.iter().all(after) {
                        return false;
                    }
                    let follows = read
                        .iter()
                        .flatten()
                        .flatten()
                        .filter(|x| **x != value)
                        .all(after);
                    if rules.contains(&Rule::Wfr) && !follows {
                        return false;
                    }
                    written.push(value);
                    if op.outcome == Outcome::Ok {
                        acknowledged.push(Some(value));
                    }
                }
            }
            true
        })
    }

    fn has_siblings(history: &History) -> bool {
        history
            .ops
            .iter()
            .any(|op| observed(op).is_some_and(|v| v.len() > 1))
    }

    fn compare(history: &History, order: VersionOrder) -> Result<(), TestCaseError> {
        let verdict = check(history, order);
        let truth = oracle(history, order);
        let siblings = has_siblings(history);
        for guarantee in Guarantee::ALL {
            let held = verdict.held(guarantee).expect("checked");
            let satisfiable = truth.satisfiable[guarantee.index()];
            // Sound always: a reported violation is real.
            prop_assert!(
                held || !satisfiable,
                "{guarantee:?} reported falsely: {verdict:#?}"
            );
            let exact = !siblings
                && match guarantee {
                    Guarantee::ReadYourWrites | Guarantee::MonotonicReads => true,
                    _ => truth.observations_consistent,
                };
            if exact {
                prop_assert_eq!(held, satisfiable, "{:?}: {:#?}", guarantee, verdict);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_checker_agrees_with_trying_every_version_order(
            specs in testing::specs(6),
            siblings in any::<bool>(),
        ) {
            let history = testing::history(&specs, siblings);
            compare(&history, VersionOrder::RealTime)?;
            compare(&history, VersionOrder::Observed)?;
        }
    }
}
