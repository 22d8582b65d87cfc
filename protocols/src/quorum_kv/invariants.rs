//! quorum_kv's safety properties, checked by the engine after every step.
//!
//! | property | source | what it checks |
//! | --- | --- | --- |
//! | replica-never-regresses | Dynamo §4.4 (versioning); DVV sync | a running replica never drops a version of a key unless a version it now holds supersedes it (stamps never go back) |
//! | siblings-concurrent | DVV (Preguiça et al. 2012) | no sibling a replica holds supersedes another sibling of the same key |
//! | dots-unique | DVV (Preguiça et al. 2012) | no two writes of a key carry the same dot, as seen on any node but the dot's coordinator |
//! | reads-see-acknowledged-writes | Gifford 1979; Dynamo §4.5: R + W > N | a read that began after a write was acknowledged returns that version or one that supersedes it |
//!
//! Each looks only at what the last handler changed or did ([`super::StepLog`]), so a step
//! costs the keys it touched.

use super::version::{Dot, Object, Version};
use super::{Ack, QuorumKv, QuorumKvConfig, StepEvent};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{ClusterView, Invariant, InvariantFailure, RequestId};
use sim_core::time::SimTime;
use std::collections::BTreeMap;

/// A running replica never drops a version unless a version it now holds supersedes it.
///
/// Remembers each node's last copy of each key, per incarnation: a restarted node starts
/// again from its disk.
#[derive(Debug, Default)]
pub struct ReplicaNeverRegresses {
    held: BTreeMap<(NodeId, Key), (u32, Object)>,
}

impl Invariant<QuorumKv> for ReplicaNeverRegresses {
    fn name(&self) -> &'static str {
        "replica-never-regresses"
    }

    fn check(&mut self, view: &ClusterView<'_, QuorumKv>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        let incarnation = view.incarnation(node);
        for key in &state.last_step().changed {
            let Some(now) = state.object(*key) else {
                continue;
            };
            if let Some((seen_in, before)) = self.held.get(&(node, *key)) {
                let dropped = before
                    .versions()
                    .into_iter()
                    .find(|(version, _)| !now.covers(*version));
                if let (true, Some((version, value))) = (*seen_in == incarnation, dropped) {
                    return Err(InvariantFailure {
                        nodes: vec![node],
                        explanation: format!(
                            "{node} held {key} = {before} and now holds {now}: {value} ({version}) vanished, and no version {node} holds supersedes it"
                        ),
                    });
                }
            }
            self.held.insert((node, *key), (incarnation, now.clone()));
        }
        Ok(())
    }
}

/// No sibling a replica holds supersedes another sibling of the same key.
#[derive(Debug, Default)]
pub struct SiblingsConcurrent;

impl Invariant<QuorumKv> for SiblingsConcurrent {
    fn name(&self) -> &'static str {
        "siblings-concurrent"
    }

    fn check(&mut self, view: &ClusterView<'_, QuorumKv>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        for key in &state.last_step().changed {
            let Some(Object::Siblings(siblings)) = state.object(*key) else {
                continue;
            };
            for newer in siblings.iter() {
                if let Some(older) = siblings
                    .iter()
                    .find(|older| older.dot != newer.dot && newer.supersedes(older))
                {
                    return Err(InvariantFailure {
                        nodes: vec![node],
                        explanation: format!(
                            "{node} holds {key} with siblings {} ({}) and {} ({}) whose past {} includes it: a superseded version is still a sibling",
                            older.value, older.dot, newer.value, newer.dot, newer.past
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Each dot names one write: no two values ever carry the same (coordinator, counter) for a
/// key. Version vectors rest on it; a coordinator that forgot its own dots would break it.
///
/// Only copies held by nodes other than the dot's coordinator are recorded: a coordinator may
/// hold a version in memory that a crash erases before its sync (and before any copy left),
/// and then rightly give the dot to the next write; no other node can ever have seen it.
#[derive(Debug, Default)]
pub struct DotsUnique {
    seen: BTreeMap<(Key, Dot), (Value, NodeId)>,
}

impl Invariant<QuorumKv> for DotsUnique {
    fn name(&self) -> &'static str {
        "dots-unique"
    }

    fn check(&mut self, view: &ClusterView<'_, QuorumKv>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        for key in &state.last_step().changed {
            let Some(Object::Siblings(siblings)) = state.object(*key) else {
                continue;
            };
            for sibling in siblings.iter().filter(|s| s.dot.node != node) {
                let (value, holder) = *self
                    .seen
                    .entry((*key, sibling.dot))
                    .or_insert((sibling.value, node));
                if value != sibling.value {
                    return Err(InvariantFailure {
                        nodes: vec![sibling.dot.node, holder, node],
                        explanation: format!(
                            "dot {} of {key} names two writes: {holder} held it as {value}, {node} holds it as {}; {} gave one dot to two writes",
                            sibling.dot, sibling.value, sibling.dot.node
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// One acknowledged write, with what a person needs to find it.
#[derive(Clone, Debug)]
struct Acknowledged {
    version: Version,
    value: Value,
    coordinator: NodeId,
    at: SimTime,
    acks: Vec<Ack>,
}

impl Acknowledged {
    /// Which acknowledged writes a newer one makes redundant: under vector clocks, a later
    /// dot of the same coordinator (a copy holding it holds or supersedes the earlier ones);
    /// under timestamps, any larger stamp.
    fn same_slot(&self, other: &Acknowledged) -> bool {
        match (self.version, other.version) {
            (Version::Dot(a), Version::Dot(b)) => a.node == b.node,
            (Version::Stamped(_), Version::Stamped(_)) => true,
            _ => false,
        }
    }

    fn newer_than(&self, other: &Acknowledged) -> bool {
        match (self.version, other.version) {
            (Version::Dot(a), Version::Dot(b)) => a.counter > b.counter,
            (Version::Stamped(a), Version::Stamped(b)) => a > b,
            _ => false,
        }
    }
}

/// A read in flight: the writes acknowledged before it began.
#[derive(Clone, Debug)]
struct ReadInFlight {
    incarnation: u32,
    key: Key,
    began: SimTime,
    floor: Vec<Acknowledged>,
}

/// A read that began after a write was acknowledged returns that version or one that
/// supersedes it: what R + W > N promises with strict quorums.
///
/// Keeps, per key, the newest acknowledged write of each coordinator (one per key under
/// timestamps), and for each read in flight the set it must cover, taken when it began.
/// Times are true times of the steps: "acknowledged" is the step where the coordinator
/// answered `Written`, "began" the step where a coordinator received the get.
#[derive(Debug)]
pub struct ReadsSeeAcknowledgedWrites {
    n: u32,
    r: u32,
    w: u32,
    acknowledged: BTreeMap<Key, Vec<Acknowledged>>,
    reads: BTreeMap<(NodeId, RequestId), ReadInFlight>,
    incarnations: BTreeMap<NodeId, u32>,
}

impl ReadsSeeAcknowledgedWrites {
    /// The invariant for one configuration (its n, r and w explain failures).
    pub fn new(config: &QuorumKvConfig) -> Self {
        ReadsSeeAcknowledgedWrites {
            n: config.n,
            r: config.r,
            w: config.w,
            acknowledged: BTreeMap::new(),
            reads: BTreeMap::new(),
            incarnations: BTreeMap::new(),
        }
    }

    fn acknowledge(&mut self, key: Key, write: Acknowledged) {
        let floor = self.acknowledged.entry(key).or_default();
        match floor.iter_mut().find(|known| known.same_slot(&write)) {
            Some(known) if write.newer_than(known) => *known = write,
            Some(_) => {}
            None => floor.push(write),
        }
    }

    /// Why a read could miss an acknowledged write, in this configuration.
    fn cause(&self, write: &Acknowledged) -> String {
        let (n, r, w) = (self.n, self.r, self.w);
        if let Some(ack) = write.acks.iter().find(|a| a.stand_in_for.is_some()) {
            let home = ack.stand_in_for.expect("found above");
            format!(
                "{} stood in for {home}: a sloppy quorum was counted as a strict one, and the read asked only the key's own replicas",
                ack.node
            )
        } else if r + w <= n {
            format!("r ({r}) + w ({w}) <= n ({n}): read and write quorums need not overlap")
        } else {
            format!(
                "r ({r}) + w ({w}) > n ({n}), so the quorums overlap: a replica lost an acknowledged version"
            )
        }
    }
}

fn names(nodes: impl Iterator<Item = String>) -> String {
    nodes.collect::<Vec<_>>().join(", ")
}

impl Invariant<QuorumKv> for ReadsSeeAcknowledgedWrites {
    fn name(&self) -> &'static str {
        "reads-see-acknowledged-writes"
    }

    fn check(&mut self, view: &ClusterView<'_, QuorumKv>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        let incarnation = view.incarnation(node);
        if self.incarnations.insert(node, incarnation) != Some(incarnation) {
            // Reads a crashed coordinator had in flight will never be answered.
            self.reads
                .retain(|(at, _), read| *at != node || read.incarnation == incarnation);
        }
        for event in &state.last_step().events {
            match event {
                StepEvent::WriteAcknowledged {
                    key,
                    version,
                    value,
                    acks,
                    ..
                } => {
                    let write = Acknowledged {
                        version: *version,
                        value: *value,
                        coordinator: node,
                        at: view.now(),
                        acks: acks.clone(),
                    };
                    self.acknowledge(*key, write);
                }
                StepEvent::ReadStarted { request, key } => {
                    let floor = self.acknowledged.get(key).cloned().unwrap_or_default();
                    let read = ReadInFlight {
                        incarnation,
                        key: *key,
                        began: view.now(),
                        floor,
                    };
                    self.reads.insert((node, *request), read);
                }
                StepEvent::ReadAnswered {
                    request,
                    seen,
                    from,
                } => {
                    let Some(read) = self.reads.remove(&(node, *request)) else {
                        continue;
                    };
                    let covered = |write: &&Acknowledged| {
                        seen.as_ref().is_some_and(|seen| seen.covers(write.version))
                    };
                    if let Some(missed) = read.floor.iter().find(|w| !covered(w)) {
                        return Err(self.stale_read(node, &read, seen.as_ref(), from, missed));
                    }
                }
                StepEvent::ReadAbandoned { request } => {
                    self.reads.remove(&(node, *request));
                }
            }
        }
        Ok(())
    }
}

impl ReadsSeeAcknowledgedWrites {
    fn stale_read(
        &self,
        reader: NodeId,
        read: &ReadInFlight,
        seen: Option<&Object>,
        from: &[NodeId],
        missed: &Acknowledged,
    ) -> InvariantFailure {
        let returned = seen.map_or("nothing".to_string(), |o| o.to_string());
        let acks = names(missed.acks.iter().map(|a| a.node.to_string()));
        InvariantFailure {
            nodes: vec![reader, missed.coordinator],
            explanation: format!(
                "{reader} answered a read of {} that began at {} with {returned} from {}, missing {} ({}) that {} had acknowledged at {} after {acks} stored it: {}",
                read.key,
                read.began,
                names(from.iter().map(|n| n.to_string())),
                missed.value,
                missed.version,
                missed.coordinator,
                missed.at,
                self.cause(missed)
            ),
        }
    }
}
