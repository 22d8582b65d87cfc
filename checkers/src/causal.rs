//! Causal consistency of key-value histories with unique write values, by the polynomial
//! bad-pattern checks for differentiated histories of Bouajjani, Enea, Guerraoui and Hamza, "On
//! verifying causal consistency" (POPL 2017).
//!
//! Every client is a thread whose program order `po` is its invocation order. Because each value
//! is written once, a read names the write it read from (`wr`), and the causal order can be
//! taken as the smallest one, `co = (po ∪ wr)+`: any larger causal order only puts more writes
//! in each operation's past. Over `co`, with the causal past of `o` being every operation
//! `co`-before it:
//!
//! | model | definition | bad patterns (any one means a violation) |
//! | --- | --- | --- |
//! | CC (causal consistency) | every read is valid in some order of its own causal past that extends `co` | CyclicCO, ThinAirRead, WriteCOInitRead, WriteCORead |
//! | CCv (causal convergence) | one total arbitration order extending `co` explains every read, each within its causal past | CC's, and CyclicCF |
//! | CM (causal memory) | for every operation, one order of its causal past explains every read of its own session up to it | CC's, and WriteHBInitRead, CyclicHB |
//!
//! The patterns, in the paper's terms (`x` a key, `w(x,v)` the write of `v`, `r(x,v)` a read of
//! it, the absent initial state standing for the paper's initial 0):
//!
//! - **CyclicCO**: `co` is cyclic — some read saw a write that causally depends on the read.
//! - **ThinAirRead**: a read returned a value that no write of that key which may have happened
//!   wrote (failed writes never happened).
//! - **WriteCOInitRead**: a read of `x` returned nothing although a write of `x` is in its causal
//!   past.
//! - **WriteCORead**: `w(x,v) co w(x,v') co r(x,v)`: the read returned a value that its own causal
//!   past had already overwritten.
//! - **CyclicCF**: `co ∪ cf` is cyclic, where `w(x,v') cf w(x,v)` when some `r(x,v)` has
//!   `w(x,v')` in its causal past: every arbitration must put `v'` before `v`, and no total order
//!   can.
//! - **WriteHBInitRead**, **CyclicHB** (for CM): for each operation `o`, `hb_o` is the smallest
//!   transitive relation containing `co` on `o`'s causal past and, for every read `r(x,v)` of
//!   `o`'s session up to `o` with `w(x,v') hb_o r(x,v)`, the edge `w(x,v') hb_o w(x,v)`. CM fails
//!   when some `hb_o` is cyclic, or orders a write of `x` before a read of `x` in `o`'s session
//!   that returned nothing. `hb_o` only grows along a session, so each session is checked once,
//!   at its last operation; the fixpoint is bounded by [`HB_ROUNDS_MAX`] rounds, after which CM
//!   is unknown.
//!
//! What counts as an operation: an ok get reads; an ok put writes; an ok compare-and-set reads
//! its expected value and then writes its new value; a write whose outcome is unknown takes part
//! only if some read returned its value (then it happened; if nobody saw it, leaving it out can
//! only help, so it is left out); failed operations and gets without a result take no part.
//!
//! Siblings: a read that returns several values reads from each of them. Each is in its causal
//! past, so two siblings where one is causally before the other is a WriteCORead (the older one
//! had been overwritten). For CCv and CM, writes in its past that it did not return must be
//! arbitrated (or happen) before each returned value, while the returned values stay unordered
//! among themselves. A read is not required to return *every* concurrent write: that is a
//! multi-value register's own contract, which this check does not assume.
//!
//! Histories whose reads all return at most one value are compared, in the tests, with the
//! definitions themselves by brute force.

use crate::session::{may_have_written, observed, Facts};
use serde::{Deserialize, Serialize};
use sim_core::history::{History, OpKind, Operation, Outcome};
use sim_core::ids::{ClientId, Key, OpId, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// Rounds of the causal-memory fixpoint before CM is declared unknown.
pub const HB_ROUNDS_MAX: u32 = 64;

/// The three causal models of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CausalModel {
    /// Causal consistency: each read explained by its own causal past.
    #[serde(rename = "CC")]
    Cc,
    /// Causal memory: each session's reads explained together.
    #[serde(rename = "CM")]
    Cm,
    /// Causal convergence: one arbitration order explains every read.
    #[serde(rename = "CCv")]
    Ccv,
}

impl fmt::Display for CausalModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CausalModel::Cc => "CC",
            CausalModel::Cm => "CM",
            CausalModel::Ccv => "CCv",
        })
    }
}

/// The bad patterns of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum BadPattern {
    /// The causal order is cyclic.
    CyclicCO,
    /// A read returned a value no write of its key that may have happened wrote.
    ThinAirRead,
    /// A read returned nothing although a write of its key is in its causal past.
    WriteCOInitRead,
    /// A read returned a value its causal past had overwritten.
    WriteCORead,
    /// No arbitration order can respect causality and what reads returned.
    CyclicCF,
    /// A read of a session returned nothing although a write of its key happens before it.
    WriteHBInitRead,
    /// A session's happens-before relation is cyclic.
    CyclicHB,
}

impl BadPattern {
    /// The weakest model this pattern rules out (it rules out the stronger ones too).
    pub fn model(self) -> CausalModel {
        match self {
            BadPattern::CyclicCF => CausalModel::Ccv,
            BadPattern::WriteHBInitRead | BadPattern::CyclicHB => CausalModel::Cm,
            _ => CausalModel::Cc,
        }
    }
}

/// Why one operation causally precedes the next in a violation's explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Via {
    /// The same client issued one and then the other.
    SessionOrder,
    /// The later operation read the earlier one's value.
    ReadFrom {
        /// The value.
        value: Value,
    },
    /// `read` returned the later write's value with the earlier write in its causal past, so
    /// every arbitration puts the earlier write first (CCv).
    ArbitratedBefore {
        /// The read that forces it.
        read: OpId,
    },
    /// `read`, of the session being checked, returned the later write's value after the
    /// earlier write, so the earlier write happens before it (CM).
    HappensBefore {
        /// The read that forces it.
        read: OpId,
    },
}

/// One link of a causal chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CausalLink {
    /// The earlier operation.
    pub from: OpId,
    /// The later operation.
    pub to: OpId,
    /// Why.
    pub via: Via,
}

/// One occurrence of a bad pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CausalViolation {
    /// Which pattern.
    pub pattern: BadPattern,
    /// The key, when the pattern is about one.
    pub key: Option<Key>,
    /// The read at its centre, when there is one.
    pub read: Option<OpId>,
    /// The operations involved: for a read-centred pattern, the write(s) then the read.
    pub ops: Vec<OpId>,
    /// The causal links that show it (a chain, or a cycle).
    pub links: Vec<CausalLink>,
    /// The same, in plain words.
    pub explanation: String,
}

/// The verdict of the causal check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CausalVerdict {
    /// Causal consistency held.
    pub cc: bool,
    /// Causal memory held (None: the fixpoint bound ran out).
    pub cm: Option<bool>,
    /// Causal convergence held.
    pub ccv: bool,
    /// The bad patterns found (CCv's and CM's only when CC held: they are implied otherwise).
    pub violations: Vec<CausalViolation>,
    /// Reads and writes that took part.
    pub events: u64,
    /// Reads that returned several values.
    pub sibling_reads: u64,
    /// Why the history could not be checked, if it could not.
    pub not_checked: Option<String>,
}

impl CausalVerdict {
    /// Whether `model` held; None when unknown or not checked.
    pub fn holds(&self, model: CausalModel) -> Option<bool> {
        if self.not_checked.is_some() {
            return None;
        }
        match model {
            CausalModel::Cc => Some(self.cc),
            CausalModel::Cm => self.cm,
            CausalModel::Ccv => Some(self.ccv),
        }
    }

    /// The models that held, weakest first.
    pub fn models_held(&self) -> Vec<CausalModel> {
        [CausalModel::Cc, CausalModel::Cm, CausalModel::Ccv]
            .into_iter()
            .filter(|m| self.holds(*m) == Some(true))
            .collect()
    }
}

/// Checks CC, CM and CCv.
pub fn check(history: &History) -> CausalVerdict {
    let mut verdict = CausalVerdict {
        cc: false,
        cm: Some(false),
        ccv: false,
        violations: Vec::new(),
        events: 0,
        sibling_reads: 0,
        not_checked: None,
    };
    let facts = match Facts::new(history) {
        Ok(facts) => facts,
        Err(reason) => {
            verdict.not_checked = Some(reason);
            return verdict;
        }
    };
    let mut graph = Graph::build(&facts);
    verdict.events = graph.events.len() as u64;
    verdict.sibling_reads = graph
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Read { values, .. } if values.len() > 1))
        .count() as u64;
    verdict.violations.extend(graph.thin_air.clone());
    if let Err(cycle) = graph.compute_clocks() {
        verdict
            .violations
            .push(graph.cycle_violation(BadPattern::CyclicCO, &cycle));
        return verdict;
    }
    verdict.violations.extend(graph.read_patterns());
    verdict.cc = verdict.violations.is_empty();
    if !verdict.cc {
        return verdict;
    }
    match graph.arbitration_cycle() {
        Some(violation) => verdict.violations.push(violation),
        None => verdict.ccv = true,
    }
    let (cm, found) = graph.causal_memory();
    verdict.cm = cm;
    verdict.violations.extend(found);
    verdict
}

// ---------------------------------------------------------------------------------------------
// Events and the causal graph.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum EventKind {
    Read { key: Key, values: Vec<Value> },
    Write { key: Key, value: Value },
}

#[derive(Clone, Debug)]
struct Event {
    op: OpId,
    client: usize,
    /// 1-based position in the client's program order.
    position: u32,
    kind: EventKind,
}

/// An edge other than program order, into the event that owns the list.
#[derive(Clone, Debug)]
struct InEdge {
    from: usize,
    via: Via,
}

#[derive(Clone)]
struct Graph<'h> {
    facts: &'h Facts<'h>,
    events: Vec<Event>,
    clients: Vec<ClientId>,
    /// Each client's events in program order.
    chains: Vec<Vec<usize>>,
    /// Non-program-order edges into each event.
    incoming: Vec<Vec<InEdge>>,
    /// Each client's writes of each key, in program order.
    writes: BTreeMap<(usize, Key), Vec<usize>>,
    writer: BTreeMap<Value, usize>,
    thin_air: Vec<CausalViolation>,
    /// Per event, how many of each client's events are in its causal past (itself included).
    clocks: Vec<u32>,
}

impl<'h> Graph<'h> {
    fn build(facts: &'h Facts<'h>) -> Graph<'h> {
        let history = facts.history;
        let seen: BTreeSet<Value> = history.ops.iter().filter_map(observed).flatten().collect();
        let clients: Vec<ClientId> = history
            .ops
            .iter()
            .map(|op| op.client)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut graph = Graph {
            facts,
            events: Vec::new(),
            chains: vec![Vec::new(); clients.len()],
            clients,
            incoming: Vec::new(),
            writes: BTreeMap::new(),
            writer: BTreeMap::new(),
            thin_air: Vec::new(),
            clocks: Vec::new(),
        };
        for op in &history.ops {
            if let Some(values) = observed(op) {
                graph.push(
                    op,
                    EventKind::Read {
                        key: op.key,
                        values,
                    },
                );
            }
            if let Some(value) = may_have_written(op) {
                if op.outcome == Outcome::Ok || seen.contains(&value) {
                    graph.push(op, EventKind::Write { key: op.key, value });
                }
            }
        }
        graph.link_reads();
        graph
    }

    fn push(&mut self, op: &Operation, kind: EventKind) {
        let client = self.clients.binary_search(&op.client).expect("a client");
        let index = self.events.len();
        self.chains[client].push(index);
        if let EventKind::Write { key, value } = kind {
            self.writes.entry((client, key)).or_default().push(index);
            self.writer.insert(value, index);
        }
        self.events.push(Event {
            op: op.id,
            client,
            position: self.chains[client].len() as u32,
            kind,
        });
        self.incoming.push(Vec::new());
    }

    /// Adds the reads-from edges; a value with no write of its key is a thin-air read.
    fn link_reads(&mut self) {
        for index in 0..self.events.len() {
            let EventKind::Read { key, values } = self.events[index].kind.clone() else {
                continue;
            };
            for value in values {
                match self.writer.get(&value) {
                    Some(&write) if self.key_of(write) == key => {
                        self.incoming[index].push(InEdge {
                            from: write,
                            via: Via::ReadFrom { value },
                        });
                    }
                    _ => {
                        let violation = self.thin_air_violation(index, key, value);
                        self.thin_air.push(violation);
                    }
                }
            }
        }
    }

    fn key_of(&self, event: usize) -> Key {
        match self.events[event].kind {
            EventKind::Read { key, .. } | EventKind::Write { key, .. } => key,
        }
    }

    fn value_of(&self, event: usize) -> Option<Value> {
        match self.events[event].kind {
            EventKind::Write { value, .. } => Some(value),
            EventKind::Read { .. } => None,
        }
    }

    fn op(&self, event: usize) -> &'h Operation {
        self.facts.op(self.events[event].op)
    }

    /// Computes every event's vector clock in topological order; on a cycle, returns it.
    fn compute_clocks(&mut self) -> Result<(), Vec<usize>> {
        let order = self.topological()?;
        let width = self.clients.len();
        let mut clocks = vec![0u32; self.events.len() * width];
        for &event in &order {
            let Event {
                client, position, ..
            } = self.events[event];
            let mut clock = vec![0u32; width];
            if position > 1 {
                let previous = self.chains[client][position as usize - 2];
                clock.copy_from_slice(&clocks[previous * width..(previous + 1) * width]);
            }
            for edge in &self.incoming[event] {
                let source = &clocks[edge.from * width..(edge.from + 1) * width];
                for (mine, theirs) in clock.iter_mut().zip(source) {
                    *mine = (*mine).max(*theirs);
                }
            }
            clock[client] = position;
            clocks[event * width..(event + 1) * width].copy_from_slice(&clock);
        }
        self.clocks = clocks;
        Ok(())
    }

    /// A topological order of program order plus the incoming edges, or a cycle.
    fn topological(&self) -> Result<Vec<usize>, Vec<usize>> {
        let count = self.events.len();
        let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut pending = vec![0usize; count];
        for (to, edges) in self.incoming.iter().enumerate() {
            for edge in edges {
                outgoing[edge.from].push(to);
                pending[to] += 1;
            }
            if let Some(previous) = self.po_previous(to) {
                outgoing[previous].push(to);
                pending[to] += 1;
            }
        }
        let mut ready: VecDeque<usize> = (0..count).filter(|e| pending[*e] == 0).collect();
        let mut order = Vec::with_capacity(count);
        while let Some(event) = ready.pop_front() {
            order.push(event);
            for &next in &outgoing[event] {
                pending[next] -= 1;
                if pending[next] == 0 {
                    ready.push_back(next);
                }
            }
        }
        if order.len() == count {
            return Ok(order);
        }
        Err(self.find_cycle(&pending))
    }

    fn po_previous(&self, event: usize) -> Option<usize> {
        let Event {
            client, position, ..
        } = self.events[event];
        (position > 1).then(|| self.chains[client][position as usize - 2])
    }

    /// Walks predecessors among the events Kahn's algorithm could not order (each has one
    /// there) until one repeats: that stretch is a cycle, returned in forward order.
    fn find_cycle(&self, pending: &[usize]) -> Vec<usize> {
        let stuck = |e: usize| pending[e] > 0;
        let mut at = (0..self.events.len()).find(|e| stuck(*e)).expect("a cycle");
        let mut walk: Vec<usize> = Vec::new();
        let mut index_of: BTreeMap<usize, usize> = BTreeMap::new();
        loop {
            if let Some(&start) = index_of.get(&at) {
                let mut cycle = walk[start..].to_vec();
                cycle.reverse();
                return cycle;
            }
            index_of.insert(at, walk.len());
            walk.push(at);
            at = self
                .po_previous(at)
                .filter(|p| stuck(*p))
                .or_else(|| self.incoming[at].iter().map(|e| e.from).find(|f| stuck(*f)))
                .expect("a stuck event has a stuck predecessor");
        }
    }

    /// Whether `a` is in the causal past of `b` (or is `b`).
    fn in_past(&self, a: usize, b: usize) -> bool {
        let width = self.clients.len();
        let Event {
            client, position, ..
        } = self.events[a];
        position <= self.clocks[b * width + client]
    }

    /// The last write of `key` by `client` in the causal past of `event`, skipping `skip`.
    fn last_write_in_past(
        &self,
        client: usize,
        key: Key,
        event: usize,
        skip: &[Value],
    ) -> Option<usize> {
        let writes = self.writes.get(&(client, key))?;
        let bound = self.clocks[event * self.clients.len() + client];
        let end = writes.partition_point(|w| self.events[*w].position <= bound);
        writes[..end]
            .iter()
            .rev()
            .copied()
            .find(|w| !skip.contains(&self.value_of(*w).expect("a write")))
    }

    // ---- CC ----

    /// WriteCOInitRead and WriteCORead, for every read.
    fn read_patterns(&self) -> Vec<CausalViolation> {
        let mut found = Vec::new();
        for (read, event) in self.events.iter().enumerate() {
            let EventKind::Read { key, values } = &event.kind else {
                continue;
            };
            if values.is_empty() {
                let write = (0..self.clients.len())
                    .find_map(|c| self.last_write_in_past(c, *key, read, &[]));
                if let Some(write) = write {
                    found.push(self.init_read_violation(BadPattern::WriteCOInitRead, write, read));
                }
                continue;
            }
            for value in values {
                let Some(&source) = self.writer.get(value) else {
                    continue;
                };
                let overwriter = (0..self.clients.len()).find_map(|c| {
                    self.last_write_in_past(c, *key, read, &[])
                        .filter(|w| *w != source && self.in_past(source, *w))
                });
                if let Some(overwriter) = overwriter {
                    found.push(self.overwritten_violation(source, overwriter, read));
                    break;
                }
            }
        }
        found
    }

    // ---- CCv ----

    /// CyclicCF: program order, reads-from and the conflict edges must be acyclic.
    fn arbitration_cycle(&self) -> Option<CausalViolation> {
        let mut graph = self.clone();
        for (read, event) in self.events.iter().enumerate() {
            let EventKind::Read { key, values } = &event.kind else {
                continue;
            };
            for value in values {
                let source = self.writer[value];
                // The last unreturned write per client suffices: the client's earlier writes
                // reach it by program order.
                for client in 0..self.clients.len() {
                    if let Some(write) = self.last_write_in_past(client, *key, read, values) {
                        graph.incoming[source].push(InEdge {
                            from: write,
                            via: Via::ArbitratedBefore {
                                read: self.events[read].op,
                            },
                        });
                    }
                }
            }
        }
        let cycle = graph.topological().err()?;
        Some(graph.cycle_violation(BadPattern::CyclicCF, &cycle))
    }

    // ---- CM ----

    /// Checks every session's happens-before fixpoint; returns CM's status and violations.
    fn causal_memory(&self) -> (Option<bool>, Vec<CausalViolation>) {
        let mut status = Some(true);
        let mut found = Vec::new();
        for client in 0..self.clients.len() {
            match self.session_memory(client) {
                Ok(None) => {}
                Ok(Some(violation)) => {
                    found.push(violation);
                    status = Some(false);
                }
                Err(()) => {
                    if status == Some(true) {
                        status = None;
                    }
                }
            }
        }
        (status, found)
    }

    /// One session's fixpoint: Ok(None) when it holds, Err(()) when the bound ran out.
    fn session_memory(&self, client: usize) -> Result<Option<CausalViolation>, ()> {
        let mut graph = self.clone();
        let reads: Vec<usize> = self.chains[client]
            .iter()
            .copied()
            .filter(|e| matches!(self.events[*e].kind, EventKind::Read { .. }))
            .collect();
        for _ in 0..HB_ROUNDS_MAX {
            if let Err(cycle) = graph.compute_clocks() {
                return Ok(Some(graph.cycle_violation(BadPattern::CyclicHB, &cycle)));
            }
            let mut added = Vec::new();
            for &read in &reads {
                let EventKind::Read { key, values } = &graph.events[read].kind else {
                    unreachable!("filtered to reads");
                };
                if values.is_empty() {
                    let write = (0..graph.clients.len())
                        .find_map(|c| graph.last_write_in_past(c, *key, read, &[]));
                    if let Some(write) = write {
                        let pattern = BadPattern::WriteHBInitRead;
                        return Ok(Some(graph.init_read_violation(pattern, write, read)));
                    }
                }
                for value in values {
                    let source = graph.writer[value];
                    for c in 0..graph.clients.len() {
                        let Some(write) = graph.last_write_in_past(c, *key, read, values) else {
                            continue;
                        };
                        if !graph.in_past(write, source) {
                            added.push((write, source, graph.events[read].op));
                        }
                    }
                }
            }
            if added.is_empty() {
                return Ok(None);
            }
            for (from, to, read) in added {
                graph.incoming[to].push(InEdge {
                    from,
                    via: Via::HappensBefore { read },
                });
            }
        }
        Err(())
    }

    // ---- Witnesses ----

    /// A chain of links from `from` to `to`, which must be in `to`'s past: at each client,
    /// jump to the first of its events that has `from` in its past, then follow the edge that
    /// brought it there.
    fn chain(&self, from: usize, to: usize) -> Vec<CausalLink> {
        let mut links = Vec::new();
        let mut at = to;
        while at != from {
            let Event {
                client, position, ..
            } = self.events[at];
            let origin = &self.events[from];
            if origin.client == client && origin.position <= position {
                links.push(self.link(from, at, Via::SessionOrder));
                break;
            }
            let chain = &self.chains[client][..position as usize];
            let first = chain[chain.partition_point(|e| !self.in_past(from, *e))];
            if first != at {
                links.push(self.link(first, at, Via::SessionOrder));
            }
            let edge = self.incoming[first]
                .iter()
                .find(|e| e.from == from || self.in_past(from, e.from))
                .expect("an edge brought `from` into the past");
            links.push(self.link(edge.from, first, edge.via.clone()));
            at = edge.from;
        }
        links.reverse();
        links
    }

    fn link(&self, from: usize, to: usize, via: Via) -> CausalLink {
        CausalLink {
            from: self.events[from].op,
            to: self.events[to].op,
            via,
        }
    }

    /// The links around a cycle of events.
    fn cycle_links(&self, cycle: &[usize]) -> Vec<CausalLink> {
        (0..cycle.len())
            .map(|i| {
                let (from, to) = (cycle[i], cycle[(i + 1) % cycle.len()]);
                let via = if self.po_previous(to) == Some(from) {
                    Via::SessionOrder
                } else {
                    self.incoming[to]
                        .iter()
                        .find(|e| e.from == from)
                        .expect("consecutive cycle events are linked")
                        .via
                        .clone()
                };
                self.link(from, to, via)
            })
            .collect()
    }

    fn cycle_violation(&self, pattern: BadPattern, cycle: &[usize]) -> CausalViolation {
        let links = self.cycle_links(cycle);
        let what = match pattern {
            BadPattern::CyclicCO => "a read saw a write that causally depends on the read itself",
            BadPattern::CyclicCF => {
                "no single order of the writes respects causality and what the reads returned"
            }
            _ => "no order of the session's causal past explains all of its reads",
        };
        let ops: Vec<OpId> = cycle.iter().map(|e| self.events[*e].op).collect();
        CausalViolation {
            pattern,
            key: None,
            read: None,
            explanation: format!("{what}: {}, and back", self.describe(&links)),
            ops,
            links,
        }
    }

    fn init_read_violation(
        &self,
        pattern: BadPattern,
        write: usize,
        read: usize,
    ) -> CausalViolation {
        let links = self.chain(write, read);
        let (w, r) = (self.op(write), self.op(read));
        let relation = match pattern {
            BadPattern::WriteHBInitRead => "happens before it in its session's view",
            _ => "is in its causal past",
        };
        CausalViolation {
            pattern,
            key: Some(r.key),
            read: Some(r.id),
            ops: vec![w.id, r.id],
            explanation: format!(
                "{} read {} ({}) and got nothing, but {}'s write of {} {relation}: {}",
                r.client,
                r.key,
                r.id,
                w.id,
                self.value_of(write).expect("a write"),
                self.describe(&links)
            ),
            links,
        }
    }

    fn overwritten_violation(
        &self,
        source: usize,
        overwriter: usize,
        read: usize,
    ) -> CausalViolation {
        let mut links = self.chain(source, overwriter);
        links.extend(self.chain(overwriter, read));
        let r = self.op(read);
        let (old, new) = (
            self.value_of(source).expect("a write"),
            self.value_of(overwriter).expect("a write"),
        );
        CausalViolation {
            pattern: BadPattern::WriteCORead,
            key: Some(r.key),
            read: Some(r.id),
            ops: vec![self.events[source].op, self.events[overwriter].op, r.id],
            explanation: format!(
                "{} read {} = {old} ({}), but its causal past had already overwritten {old} with {new}: {}",
                r.client,
                r.key,
                r.id,
                self.describe(&links)
            ),
            links,
        }
    }

    fn thin_air_violation(&self, read: usize, key: Key, value: Value) -> CausalViolation {
        let r = self.op(read);
        let facts = self.facts;
        let why = if let Some(failed) = facts.failed.get(&value) {
            format!("its write {failed} failed, so it never happened")
        } else if let Some(writer) = facts.writer.get(&value) {
            format!("{writer} wrote it to {}", facts.op(*writer).key)
        } else {
            "no operation wrote it".to_string()
        };
        CausalViolation {
            pattern: BadPattern::ThinAirRead,
            key: Some(key),
            read: Some(r.id),
            ops: vec![r.id],
            links: Vec::new(),
            explanation: format!(
                "{} read {key} ({}) and got {value}, but {why}",
                r.client, r.id
            ),
        }
    }

    /// A chain in words: "op1 (c1 wrote k0 = v1) -> read by op4 (c2 read k0) -> ...".
    fn describe(&self, links: &[CausalLink]) -> String {
        let mut text = String::new();
        for (index, link) in links.iter().enumerate() {
            if index == 0 {
                text.push_str(&self.describe_op(link.from));
            }
            let step = match &link.via {
                Via::SessionOrder => "then, in the same session,".to_string(),
                Via::ReadFrom { value } => format!("whose {value} was read by"),
                Via::ArbitratedBefore { read } => {
                    format!("which {read} shows must be arbitrated before")
                }
                Via::HappensBefore { read } => format!("which {read} shows happens before"),
            };
            text.push_str(&format!(" {step} {}", self.describe_op(link.to)));
        }
        text
    }

    fn describe_op(&self, op: OpId) -> String {
        let o = self.facts.op(op);
        let show = |v: Option<Value>| v.map_or("nothing".to_string(), |v| v.to_string());
        match o.kind {
            OpKind::Get => format!("{op} ({} read {})", o.client, o.key),
            OpKind::Put => format!("{op} ({} wrote {} = {})", o.client, o.key, show(o.write)),
            OpKind::Cas => format!(
                "{op} ({} changed {} from {} to {})",
                o.client,
                o.key,
                show(o.expected),
                show(o.write)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::{self, Builder};
    use proptest::prelude::*;

    fn patterns(verdict: &CausalVerdict) -> Vec<BadPattern> {
        verdict.violations.iter().map(|v| v.pattern).collect()
    }

    fn models(verdict: &CausalVerdict) -> Vec<CausalModel> {
        verdict.models_held()
    }

    #[test]
    fn a_history_that_reads_in_causal_order_holds_every_model() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.get(2, 0, &[1], (20, 30));
        h.put(2, 1, 2, (40, 50));
        h.get(1, 1, &[2], (60, 70));
        h.get(1, 0, &[1], (80, 90));
        let verdict = check(&h.history());
        assert!(verdict.violations.is_empty(), "{verdict:#?}");
        assert_eq!(
            models(&verdict),
            vec![CausalModel::Cc, CausalModel::Cm, CausalModel::Ccv]
        );
        assert_eq!(verdict.events, 5);
    }

    #[test]
    fn reading_a_value_your_causal_past_overwrote_is_write_co_read() {
        let mut h = Builder::default();
        let old = h.put(1, 0, 1, (0, 10));
        let new = h.put(1, 0, 2, (20, 30));
        h.get(2, 0, &[2], (40, 50));
        let read = h.get(2, 0, &[1], (60, 70));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::WriteCORead]);
        assert_eq!(models(&verdict), vec![]);
        let violation = &verdict.violations[0];
        assert_eq!(violation.ops, vec![old, new, read]);
        assert_eq!(violation.read, Some(read));
        assert_eq!(
            violation.explanation,
            "c2 read k0 = v1 (op3), but its causal past had already overwritten v1 with v2: \
             op0 (c1 wrote k0 = v1) then, in the same session, op1 (c1 wrote k0 = v2) \
             whose v2 was read by op2 (c2 read k0) then, in the same session, op3 (c2 read k0)"
        );
    }

    #[test]
    fn reading_nothing_after_a_write_in_your_causal_past_is_write_co_init_read() {
        // c2 learns of c1's write of k1 through k0, then reads k1 and finds nothing.
        let mut h = Builder::default();
        let write = h.put(1, 1, 1, (0, 10));
        h.put(1, 0, 2, (20, 30));
        h.get(2, 0, &[2], (40, 50));
        let read = h.get(2, 1, &[], (60, 70));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::WriteCOInitRead]);
        assert_eq!(verdict.violations[0].ops, vec![write, read]);
        assert_eq!(verdict.violations[0].links.len(), 3);
    }

    #[test]
    fn values_no_write_wrote_are_thin_air_reads_whatever_the_reason() {
        let mut h = Builder::default();
        h.put_failed(1, 0, 1, (0, 10));
        h.put(1, 1, 2, (0, 10));
        h.get(2, 0, &[1], (20, 30));
        h.get(2, 0, &[2], (40, 50));
        h.get(2, 0, &[9], (60, 70));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::ThinAirRead; 3]);
        let why: Vec<&str> = verdict
            .violations
            .iter()
            .map(|v| v.explanation.split(", but ").nth(1).unwrap())
            .collect();
        assert_eq!(
            why,
            vec![
                "its write op0 failed, so it never happened",
                "op1 wrote it to k1",
                "no operation wrote it"
            ]
        );
    }

    #[test]
    fn a_read_that_sees_a_write_depending_on_the_read_is_a_causal_cycle() {
        let mut h = Builder::default();
        h.get(1, 0, &[2], (0, 10));
        h.put(2, 1, 1, (0, 10));
        h.put(1, 1, 3, (20, 30));
        h.get(2, 1, &[3], (20, 30));
        h.put(2, 0, 2, (40, 50));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::CyclicCO]);
        assert_eq!(verdict.violations[0].links.len(), 4);
        assert!(verdict.violations[0].explanation.ends_with(", and back"));
    }

    #[test]
    fn two_sessions_that_each_read_the_others_write_last_are_causal_but_not_convergent() {
        // Each client writes, then reads the other's write: every read has a causal
        // explanation, but the two disagree on which write is the last one.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (0, 10));
        h.get(1, 0, &[2], (20, 30));
        h.get(2, 0, &[1], (20, 30));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::CyclicCF]);
        assert_eq!(models(&verdict), vec![CausalModel::Cc, CausalModel::Cm]);
        let links = &verdict.violations[0].links;
        assert!(links
            .iter()
            .all(|l| matches!(l.via, Via::ArbitratedBefore { .. })));
    }

    #[test]
    fn a_session_that_must_place_a_write_before_its_read_of_nothing_breaks_causal_memory() {
        // c3 reads k3 (so c2's write of k1 = v4 is in its past), finds k0 absent, then reads
        // c1's k2 (so c1's write of k1 = v2 is in its past) and finally k1 = v4. Its last read
        // puts v2 before v4, hence c1's earlier write of k0 before the read that found k0
        // absent: no single view of c3's session explains all its reads, although every read
        // alone is causal and one arbitration (v2 before v4) explains them all.
        let mut h = Builder::default();
        let write = h.put(1, 0, 1, (0, 10));
        h.put(2, 1, 4, (0, 10));
        h.put(1, 1, 2, (20, 30));
        h.put(2, 3, 5, (20, 30));
        h.put(1, 2, 3, (40, 50));
        h.get(3, 3, &[5], (60, 70));
        let read = h.get(3, 0, &[], (80, 90));
        h.get(3, 2, &[3], (100, 110));
        h.get(3, 1, &[4], (120, 130));
        let history = h.history();
        let verdict = check(&history);
        assert_eq!(patterns(&verdict), vec![BadPattern::WriteHBInitRead]);
        assert_eq!(models(&verdict), vec![CausalModel::Cc, CausalModel::Ccv]);
        assert_eq!(verdict.violations[0].ops, vec![write, read]);
        assert!(verdict.violations[0]
            .links
            .iter()
            .any(|l| matches!(l.via, Via::HappensBefore { .. })));
        assert_eq!(oracle(&history), (true, false, true));
    }

    #[test]
    fn siblings_are_read_from_together_and_must_not_overwrite_each_other() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (0, 10));
        h.get(3, 0, &[1, 2], (20, 30));
        h.get(3, 0, &[2, 1], (40, 50));
        let verdict = check(&h.history());
        assert_eq!(verdict.sibling_reads, 2);
        assert_eq!(
            models(&verdict),
            vec![CausalModel::Cc, CausalModel::Cm, CausalModel::Ccv]
        );
        // If v1 was written after its writer had read v2, v2 is overwritten: not a sibling.
        let mut h = Builder::default();
        h.put(2, 0, 2, (0, 10));
        h.get(1, 0, &[2], (20, 30));
        h.put(1, 0, 1, (40, 50));
        let read = h.get(3, 0, &[1, 2], (60, 70));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::WriteCORead]);
        assert_eq!(verdict.violations[0].read, Some(read));
    }

    #[test]
    fn unknown_writes_take_part_only_once_seen_and_a_compare_and_set_reads_first() {
        let mut h = Builder::default();
        h.put_unknown(1, 0, 1, 0);
        h.get(1, 0, &[], (600, 610));
        assert!(check(&h.history()).cc);
        let mut h = Builder::default();
        h.put_unknown(1, 0, 1, 0);
        h.get(2, 0, &[1], (600, 610));
        h.get(1, 0, &[], (700, 710));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::WriteCOInitRead]);
        // A compare-and-set reads its expected value before it writes: reading the absent
        // state after it in the same session breaks causality.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.cas(2, 0, Some(1), 2, (20, 30), Outcome::Ok);
        h.get(2, 0, &[1], (40, 50));
        let verdict = check(&h.history());
        assert_eq!(patterns(&verdict), vec![BadPattern::WriteCORead]);
    }

    // ---- brute-force oracle: the three definitions, with every linear extension ----

    #[derive(Clone, Debug)]
    struct Ev {
        client: ClientId,
        key: Key,
        read: Option<Option<Value>>,
        write: Option<Value>,
    }

    /// (CC, CM, CCv) by the definitions, trying every set of unknown writes that may have
    /// happened. Only for histories whose reads return at most one value.
    fn oracle(history: &History) -> (bool, bool, bool) {
        let mut base: Vec<(Ev, bool)> = Vec::new();
        for op in &history.ops {
            if let Some(values) = observed(op) {
                let ev = Ev {
                    client: op.client,
                    key: op.key,
                    read: Some(values.first().copied()),
                    write: None,
                };
                base.push((ev, false));
            }
            if let Some(value) = may_have_written(op) {
                let ev = Ev {
                    client: op.client,
                    key: op.key,
                    read: None,
                    write: Some(value),
                };
                base.push((ev, op.outcome != Outcome::Ok));
            }
        }
        let optional: Vec<usize> = (0..base.len()).filter(|i| base[*i].1).collect();
        let mut result = (false, false, false);
        for mask in 0..(1u32 << optional.len()) {
            let events: Vec<Ev> = base
                .iter()
                .enumerate()
                .filter(|(i, (_, opt))| {
                    !opt || mask & (1 << optional.iter().position(|o| o == i).unwrap()) != 0
                })
                .map(|(_, (ev, _))| ev.clone())
                .collect();
            if let Some((cc, cm, ccv)) = models_of(&events) {
                result = (result.0 || cc, result.1 || cm, result.2 || ccv);
            }
        }
        result
    }

    /// None when a read cannot be explained at all or the causal order is cyclic.
    fn models_of(events: &[Ev]) -> Option<(bool, bool, bool)> {
        let n = events.len();
        let mut co = vec![vec![false; n]; n];
        for i in 0..n {
            for j in i + 1..n {
                co[i][j] |= events[i].client == events[j].client;
            }
            if let Some(Some(v)) = events[i].read {
                let w = (0..n)
                    .find(|w| events[*w].write == Some(v) && events[*w].key == events[i].key)?;
                co[w][i] = true;
            }
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    co[i][j] |= co[i][k] && co[k][j];
                }
            }
        }
        if (0..n).any(|i| co[i][i]) {
            return None;
        }
        let hist = |o: usize| -> Vec<bool> { (0..n).map(|e| e == o || co[e][o]).collect() };
        let reads: Vec<usize> = (0..n).filter(|e| events[*e].read.is_some()).collect();
        let cc = reads.iter().all(|&o| {
            extend(events, &co, &hist(o), &|r, placed| {
                r != o || valid(events, r, placed, &|_| true)
            })
        });
        let cm = (0..n).all(|o| {
            let session = |r: usize| events[r].client == events[o].client && (r == o || co[r][o]);
            extend(events, &co, &hist(o), &|r, placed| {
                !session(r) || valid(events, r, placed, &|_| true)
            })
        });
        let all = vec![true; n];
        let ccv = extend(events, &co, &all, &|r, placed| {
            valid(events, r, placed, &|w| co[w][r])
        });
        Some((cc, cm, ccv))
    }

    /// Whether the events in `set` have an order extending `co` in which `ok` accepts every
    /// read when it is placed.
    fn extend(
        events: &[Ev],
        co: &[Vec<bool>],
        set: &[bool],
        ok: &dyn Fn(usize, &[usize]) -> bool,
    ) -> bool {
        fn go(
            events: &[Ev],
            co: &[Vec<bool>],
            set: &[bool],
            ok: &dyn Fn(usize, &[usize]) -> bool,
            placed: &mut Vec<usize>,
        ) -> bool {
            let n = events.len();
            let remaining: Vec<usize> = (0..n).filter(|e| set[*e] && !placed.contains(e)).collect();
            if remaining.is_empty() {
                return true;
            }
            for &e in &remaining {
                let ready = remaining.iter().all(|p| !co[*p][e]);
                if !ready || (events[e].read.is_some() && !ok(e, placed)) {
                    continue;
                }
                placed.push(e);
                if go(events, co, set, ok, placed) {
                    return true;
                }
                placed.pop();
            }
            false
        }
        go(events, co, set, ok, &mut Vec::new())
    }

    /// Whether read `r` returns the last write of its key among the placed events `counts`.
    fn valid(events: &[Ev], r: usize, placed: &[usize], counts: &dyn Fn(usize) -> bool) -> bool {
        let last = placed
            .iter()
            .rev()
            .find(|w| {
                events[**w].key == events[r].key && events[**w].write.is_some() && counts(**w)
            })
            .and_then(|w| events[*w].write);
        events[r].read == Some(last)
    }

    fn compare(history: &History) -> Result<(), TestCaseError> {
        let verdict = check(history);
        let (cc, cm, ccv) = oracle(history);
        prop_assert_eq!(verdict.cc, cc, "CC {:#?}", verdict);
        prop_assert_eq!(verdict.ccv, ccv, "CCv {:#?}", verdict);
        prop_assert_eq!(verdict.cm, Some(cm), "CM {:#?}", verdict);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_bad_patterns_agree_with_the_definitions(specs in testing::specs(6)) {
            compare(&testing::history(&specs, false))?;
        }
    }

    proptest! {
        // CM and CCv part ways only in longer histories with a third client (about one in
        // 1,500 of these), hence the larger count.
        #![proptest_config(ProptestConfig::with_cases(12000))]

        #[test]
        fn the_bad_patterns_agree_with_the_definitions_for_three_clients(
            specs in testing::specs_for(8, 3),
        ) {
            compare(&testing::history(&specs, false))?;
        }
    }
}
