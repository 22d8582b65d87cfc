//! Raft's safety properties, checked by the engine after every step.
//!
//! | property | source | what it checks |
//! | --- | --- | --- |
//! | `election-safety` | paper §5.2, Figure 3 | at most one node leads each term, over the whole run |
//! | `leader-append-only` | paper §5.3, Figure 3 | while a node leads a term, its log only grows: nothing it held is removed or replaced |
//! | `log-matching` | paper §5.3, Figure 3 | two logs holding an entry with the same index and term hold the same entries up to it |
//! | `leader-completeness` | paper §5.4, Figure 3 | an entry committed in a term is in the log of every leader of a later term |
//! | `state-machine-safety` | paper §5.4.3, Figure 3 | no two nodes apply different entries at the same index |
//! | `lease-read-safety` | thesis §6.4.1 | a read answered from a lease returns the value of every entry committed anywhere so far |
//!
//! Each check looks only at the node that just stepped and at what changed in it since the
//! last look, and keeps what it needs across steps (incarnations restart the per-node part):
//!
//! - `election-safety` remembers the leader of every term.
//! - `leader-append-only` remembers a leader's log length, last entry and truncation count.
//! - `log-matching` keeps, for every (index, term) seen in any log, the entry's command and its
//!   predecessor's term. Log matching holds exactly when that record never disagrees (by
//!   induction on the index), so each new entry costs one lookup. A node's log changes only at
//!   its tail; the log lists its truncations, so the check re-reads only from the lowest one.
//! - `leader-completeness` records every entry the first time any node shows it committed, with
//!   that node's term, and checks each leader against the record once.
//! - `state-machine-safety` records the entry applied at each index and compares each node's
//!   newly applied entries with it.
//! - `lease-read-safety` replays the committed record into its own key-value store and compares
//!   a lease read with it.

use super::log::{Command, Entry};
use super::state_machine::{KvStore, Outcome};
use super::Raft;
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{ClusterView, Invariant, InvariantFailure};
use std::collections::btree_map::Entry as Slot;
use std::collections::BTreeMap;
use std::fmt;

/// Every Raft invariant, in the order the table above lists them.
pub fn all() -> Vec<Box<dyn Invariant<Raft>>> {
    vec![
        Box::new(ElectionSafety::default()),
        Box::new(LeaderAppendOnly::default()),
        Box::new(LogMatching::default()),
        Box::new(LeaderCompleteness::default()),
        Box::new(StateMachineSafety::default()),
        Box::new(LeaseReadSafety::default()),
    ]
}

/// What went wrong, with what a person needs to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftViolation {
    /// Two nodes led the same term.
    TwoLeaders {
        /// The term.
        term: u64,
        /// The node seen leading it first.
        first: NodeId,
        /// The other one.
        second: NodeId,
    },
    /// A leader removed or replaced an entry of its own log.
    LeaderRewrote {
        /// The leader.
        leader: NodeId,
        /// Its term.
        term: u64,
        /// The first index that changed.
        index: u64,
        /// What it held there.
        before: Option<Entry>,
        /// What it holds now.
        after: Option<Entry>,
    },
    /// Two logs hold an entry with the same index and term but differ there or before it.
    LogMismatch {
        /// The index.
        index: u64,
        /// The term both entries carry.
        term: u64,
        /// The node whose entry was recorded first.
        node_a: NodeId,
        /// Its entry's command.
        command_a: Command,
        /// The term of the entry before it in node_a's log.
        prev_term_a: u64,
        /// The other node.
        node_b: NodeId,
        /// Its command.
        command_b: Command,
        /// The term of the entry before it in node_b's log.
        prev_term_b: u64,
    },
    /// A leader lacks an entry committed in an earlier term.
    MissingCommitted {
        /// The leader.
        leader: NodeId,
        /// Its term.
        term: u64,
        /// The index of the committed entry.
        index: u64,
        /// The committed entry.
        committed: Entry,
        /// The term in which it was first seen committed.
        committed_in: u64,
        /// The node that first showed it committed.
        committed_by: NodeId,
        /// What the leader holds at that index.
        found: Option<Entry>,
    },
    /// Two nodes applied different entries at the same index.
    AppliedDiffers {
        /// The index.
        index: u64,
        /// The node that applied first.
        node_a: NodeId,
        /// Its entry.
        entry_a: Entry,
        /// The other node.
        node_b: NodeId,
        /// Its entry.
        entry_b: Entry,
    },
    /// A lease read missed a committed write.
    StaleLeaseRead {
        /// The leader that answered.
        leader: NodeId,
        /// Its term.
        term: u64,
        /// The key read.
        key: Key,
        /// What it answered.
        read: Option<Value>,
        /// What the committed log says.
        committed_value: Option<Value>,
        /// The leader's applied index when it answered.
        applied_index: u64,
        /// The committed entry that wrote `committed_value`, if any.
        writer: Option<(u64, Entry)>,
    },
}

impl RaftViolation {
    /// The nodes whose state shows the violation.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            RaftViolation::TwoLeaders { first, second, .. } => vec![*first, *second],
            RaftViolation::LeaderRewrote { leader, .. } => vec![*leader],
            RaftViolation::LogMismatch { node_a, node_b, .. } => vec![*node_a, *node_b],
            RaftViolation::MissingCommitted {
                leader,
                committed_by,
                ..
            } => vec![*leader, *committed_by],
            RaftViolation::AppliedDiffers { node_a, node_b, .. } => vec![*node_a, *node_b],
            RaftViolation::StaleLeaseRead { leader, .. } => vec![*leader],
        }
    }

    fn fmt_stale_read(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RaftViolation::StaleLeaseRead {
            leader,
            term,
            key,
            read,
            committed_value,
            applied_index,
            writer,
        } = self
        else {
            unreachable!("called for stale reads only");
        };
        write!(
            f,
            "{leader}, leading term {term}, answered a lease read of {key} with {} (applied up to index {applied_index}), but the committed log holds {} for it",
            Shown(*read),
            Shown(*committed_value)
        )?;
        if let Some((index, entry)) = writer {
            write!(f, ", written at index {index} by {}", Described(entry))?;
        }
        Ok(())
    }

    fn failure(self) -> InvariantFailure {
        InvariantFailure {
            nodes: self.nodes(),
            explanation: self.to_string(),
        }
    }
}

/// An entry in words: "put k1 = v7 (c2 #5) of term 3".
struct Described<'a>(&'a Entry);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of term {}",
            DescribedCommand(&self.0.command),
            self.0.term
        )
    }
}

struct DescribedCommand<'a>(&'a Command);

impl fmt::Display for DescribedCommand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Command::Noop => f.write_str("no-op"),
            Command::Put {
                key,
                value,
                session,
            } => write!(
                f,
                "put {key} = {value} ({} #{})",
                session.client, session.seq
            ),
            Command::Cas {
                key,
                expected,
                new,
                session,
            } => write!(
                f,
                "cas {key} {} -> {new} ({} #{})",
                Shown(*expected),
                session.client,
                session.seq
            ),
            Command::Get { key, session } => {
                write!(f, "get {key} ({} #{})", session.client, session.seq)
            }
        }
    }
}

/// An optional entry or value in words.
struct Shown<T>(Option<T>);

impl fmt::Display for Shown<Value> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{value}"),
            None => f.write_str("nothing"),
        }
    }
}

impl fmt::Display for Shown<Entry> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(entry) => write!(f, "{}", Described(entry)),
            None => f.write_str("no entry"),
        }
    }
}

impl fmt::Display for RaftViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaftViolation::TwoLeaders {
                term,
                first,
                second,
            } => write!(f, "{first} and {second} both led term {term}"),
            RaftViolation::LeaderRewrote {
                leader,
                term,
                index,
                before,
                after,
            } => write!(
                f,
                "{leader}, leading term {term}, changed its own log at index {index}: it held {}, it now holds {}",
                Shown(*before),
                Shown(*after)
            ),
            RaftViolation::LogMismatch {
                index,
                term,
                node_a,
                command_a,
                prev_term_a,
                node_b,
                command_b,
                prev_term_b,
            } => write!(
                f,
                "{node_a} and {node_b} both hold an entry of term {term} at index {index}, but {node_a}'s is {} after an entry of term {prev_term_a} and {node_b}'s is {} after an entry of term {prev_term_b}",
                DescribedCommand(command_a),
                DescribedCommand(command_b)
            ),
            RaftViolation::MissingCommitted {
                leader,
                term,
                index,
                committed,
                committed_in,
                committed_by,
                found,
            } => write!(
                f,
                "{leader} leads term {term} without the entry committed at index {index} in term {committed_in} ({}, first shown committed by {committed_by}); it holds {} there",
                Described(committed),
                Shown(*found)
            ),
            RaftViolation::AppliedDiffers {
                index,
                node_a,
                entry_a,
                node_b,
                entry_b,
            } => write!(
                f,
                "{node_a} applied {} at index {index}, but {node_b} applied {} there",
                Described(entry_a),
                Described(entry_b)
            ),
            RaftViolation::StaleLeaseRead { .. } => self.fmt_stale_read(f),
        }
    }
}

/// At most one leader per term (paper §5.2).
#[derive(Debug, Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<u64, NodeId>,
}

impl Invariant<Raft> for ElectionSafety {
    fn name(&self) -> &'static str {
        "election-safety"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node).filter(|state| state.is_leader()) else {
            return Ok(());
        };
        match self.leaders.entry(state.term()) {
            Slot::Vacant(slot) => {
                slot.insert(node);
                Ok(())
            }
            Slot::Occupied(slot) if *slot.get() == node => Ok(()),
            Slot::Occupied(slot) => Err(RaftViolation::TwoLeaders {
                term: state.term(),
                first: *slot.get(),
                second: node,
            }
            .failure()),
        }
    }
}

/// What `leader-append-only` remembers of a leader.
#[derive(Debug)]
struct LeaderWatch {
    incarnation: u32,
    term: u64,
    length: u64,
    last: Option<Entry>,
    truncations: usize,
}

/// A leader never removes or replaces entries while it leads (paper §5.3).
#[derive(Debug, Default)]
pub struct LeaderAppendOnly {
    watched: BTreeMap<NodeId, LeaderWatch>,
}

impl Invariant<Raft> for LeaderAppendOnly {
    fn name(&self) -> &'static str {
        "leader-append-only"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node).filter(|state| state.is_leader()) else {
            self.watched.remove(&node);
            return Ok(());
        };
        let incarnation = view.incarnation(node);
        let log = state.log();
        if let Some(watch) = self.watched.get(&node) {
            if watch.incarnation == incarnation && watch.term == state.term() {
                let truncated = log.truncations().get(watch.truncations).copied();
                let shrank = (log.last_index() < watch.length).then_some(log.last_index() + 1);
                let replaced = (watch.length > 0 && log.get(watch.length) != watch.last.as_ref())
                    .then_some(watch.length);
                if let Some(index) = truncated.or(shrank).or(replaced) {
                    return Err(RaftViolation::LeaderRewrote {
                        leader: node,
                        term: state.term(),
                        index,
                        before: (index == watch.length).then_some(watch.last).flatten(),
                        after: log.get(index).copied(),
                    }
                    .failure());
                }
            }
        }
        self.watched.insert(
            node,
            LeaderWatch {
                incarnation,
                term: state.term(),
                length: log.last_index(),
                last: log.get(log.last_index()).copied(),
                truncations: log.truncations().len(),
            },
        );
        Ok(())
    }
}

/// What `log-matching` knows of one (index, term).
#[derive(Debug)]
struct Known {
    prev_term: u64,
    command: Command,
    node: NodeId,
}

/// How far `log-matching` has read one node's log.
#[derive(Debug)]
struct Progress {
    incarnation: u32,
    truncations: usize,
    verified: u64,
}

/// Entries with the same index and term have the same history (paper §5.3).
#[derive(Debug, Default)]
pub struct LogMatching {
    known: BTreeMap<(u64, u64), Known>,
    progress: BTreeMap<NodeId, Progress>,
}

impl Invariant<Raft> for LogMatching {
    fn name(&self) -> &'static str {
        "log-matching"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        let incarnation = view.incarnation(node);
        let log = state.log();
        let progress = self.progress.entry(node).or_insert(Progress {
            incarnation,
            truncations: 0,
            verified: 0,
        });
        if progress.incarnation != incarnation {
            *progress = Progress {
                incarnation,
                truncations: 0,
                verified: 0,
            };
        }
        let mut from = progress.verified;
        for truncated in &log.truncations()[progress.truncations..] {
            from = from.min(truncated - 1);
        }
        from = from.min(log.last_index());
        progress.truncations = log.truncations().len();
        progress.verified = log.last_index();
        for index in from + 1..=log.last_index() {
            let entry = log.get(index).expect("within the log");
            let prev_term = log.term_at(index - 1).expect("within the log");
            match self.known.entry((index, entry.term)) {
                Slot::Vacant(slot) => {
                    slot.insert(Known {
                        prev_term,
                        command: entry.command,
                        node,
                    });
                }
                Slot::Occupied(slot) => {
                    let known = slot.get();
                    if known.prev_term != prev_term || known.command != entry.command {
                        // Read this node again from here next time: the record stays as it was.
                        progress.verified = index - 1;
                        return Err(RaftViolation::LogMismatch {
                            index,
                            term: entry.term,
                            node_a: known.node,
                            command_a: known.command,
                            prev_term_a: known.prev_term,
                            node_b: node,
                            command_b: entry.command,
                            prev_term_b: prev_term,
                        }
                        .failure());
                    }
                }
            }
        }
        Ok(())
    }
}

/// An entry as first seen committed.
#[derive(Debug)]
struct Committed {
    entry: Entry,
    /// The term of the node that first showed it committed.
    term: u64,
    node: NodeId,
}

/// Learns commits from `node`: entries up to its commit index that the record lacks.
fn learn_commits(committed: &mut Vec<Committed>, node: NodeId, state: &Raft) {
    while (committed.len() as u64) < state.commit_index() {
        let Some(entry) = state.log().get(committed.len() as u64 + 1) else {
            return; // A commit index beyond the log: only a broken node shows one.
        };
        committed.push(Committed {
            entry: *entry,
            term: state.term(),
            node,
        });
    }
}

/// Every leader holds every entry committed in an earlier term (paper §5.4).
#[derive(Debug, Default)]
pub struct LeaderCompleteness {
    committed: Vec<Committed>,
    /// Per leader: its incarnation and term, and how much of the record it was checked for.
    checked: BTreeMap<NodeId, (u32, u64, usize)>,
}

impl Invariant<Raft> for LeaderCompleteness {
    fn name(&self) -> &'static str {
        "leader-completeness"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        learn_commits(&mut self.committed, node, state);
        if !state.is_leader() {
            self.checked.remove(&node);
            return Ok(());
        }
        let key = (view.incarnation(node), state.term());
        let checked = self.checked.entry(node).or_insert((key.0, key.1, 0));
        if (checked.0, checked.1) != key {
            *checked = (key.0, key.1, 0);
        }
        while let Some(committed) = self.committed.get(checked.2) {
            // Entries committed in this leader's own term (or later) are not its inheritance.
            if committed.term >= state.term() {
                break;
            }
            let index = checked.2 as u64 + 1;
            let found = state.log().get(index);
            if found != Some(&committed.entry) {
                return Err(RaftViolation::MissingCommitted {
                    leader: node,
                    term: state.term(),
                    index,
                    committed: committed.entry,
                    committed_in: committed.term,
                    committed_by: committed.node,
                    found: found.copied(),
                }
                .failure());
            }
            checked.2 += 1;
        }
        Ok(())
    }
}

/// No two nodes apply different entries at one index (paper §5.4.3).
#[derive(Debug, Default)]
pub struct StateMachineSafety {
    applied: Vec<(Entry, NodeId)>,
    /// Per node: its incarnation and how far it was compared.
    progress: BTreeMap<NodeId, (u32, u64)>,
}

impl Invariant<Raft> for StateMachineSafety {
    fn name(&self) -> &'static str {
        "state-machine-safety"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        let incarnation = view.incarnation(node);
        let progress = self.progress.entry(node).or_insert((incarnation, 0));
        if progress.0 != incarnation {
            *progress = (incarnation, 0);
        }
        let from = progress.1.min(state.last_applied());
        progress.1 = state.last_applied();
        for index in from + 1..=state.last_applied() {
            let Some(entry) = state.log().get(index) else {
                break; // Applied and then dropped from the log: log-matching tells that story.
            };
            match self.applied.get(index as usize - 1) {
                None => self.applied.push((*entry, node)),
                Some((first, first_node)) if first != entry => {
                    return Err(RaftViolation::AppliedDiffers {
                        index,
                        node_a: *first_node,
                        entry_a: *first,
                        node_b: node,
                        entry_b: *entry,
                    }
                    .failure());
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// A lease read reflects every committed write (thesis §6.4.1).
#[derive(Debug, Default)]
pub struct LeaseReadSafety {
    committed: Vec<Committed>,
    /// The committed record replayed.
    store: KvStore,
    /// The index of the committed entry that last wrote each key.
    writers: BTreeMap<Key, u64>,
    /// Per node: its incarnation and the number of its last lease read checked.
    reads_seen: BTreeMap<NodeId, (u32, u64)>,
}

impl Invariant<Raft> for LeaseReadSafety {
    fn name(&self) -> &'static str {
        "lease-read-safety"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        let replayed = self.committed.len();
        learn_commits(&mut self.committed, node, state);
        for (offset, committed) in self.committed[replayed..].iter().enumerate() {
            let outcome = self.store.apply(&committed.entry.command);
            if let (Some(key), Outcome::Written | Outcome::Swapped) =
                (committed.entry.command.written_key(), outcome)
            {
                self.writers.insert(key, (replayed + offset + 1) as u64);
            }
        }
        let Some(read) = state.last_lease_read() else {
            return Ok(());
        };
        let seen = (view.incarnation(node), read.number);
        if self.reads_seen.insert(node, seen) == Some(seen) {
            return Ok(());
        }
        let committed_value = self.store.get(read.key);
        if committed_value == read.value {
            return Ok(());
        }
        let writer = self.writers.get(&read.key).map(|index| {
            let entry = self.committed[*index as usize - 1].entry;
            (*index, entry)
        });
        Err(RaftViolation::StaleLeaseRead {
            leader: node,
            term: state.term(),
            key: read.key,
            read: read.value,
            committed_value,
            applied_index: read.applied_index,
            writer,
        }
        .failure())
    }
}
