//! Last-writer-wins replication.
//!
//! Every replica accepts writes and stamps them with its own wall clock (node id breaks ties);
//! updates travel asynchronously to the other replicas, which keep whichever version has the
//! larger stamp. Updates stay in a per-peer outbox and are resent every `replicate_every`
//! until the peer acknowledges them, so replicas converge once the network heals.
//!
//! The design loses writes by construction when clocks disagree: a write stamped by a clock
//! that runs behind loses to an earlier write stamped by a clock that runs ahead, even though
//! the client was told it succeeded. That is the point of the protocol as a teaching case.
//!
//! Known-bad variants, to prove the checks:
//! - `FireAndForget`: updates are sent once and never resent; a partition leaves replicas
//!   diverged for ever (the Convergence check fails).
//! - `BlindMerge`: a replica applies every incoming update regardless of its stamp, so replicas
//!   step back to older versions and end up disagreeing (the `stamp-monotonic` invariant fails).
//!
//! | invariant | what it checks |
//! | --- | --- |
//! | stamp-monotonic | a running replica never replaces a key's version with one of a smaller stamp |

use serde::{Deserialize, Serialize};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{
    ClusterView, Ctx, Durable, Invariant, InvariantFailure, Op, OpResult, Protocol, ReplicaView,
    Reply, Request,
};
use sim_core::scenario::Dur;
use sim_core::time::SimDuration;
use std::collections::BTreeMap;

/// A version's stamp: the writer's wall clock, then its node id to break ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// The coordinating replica's wall clock when it accepted the write, in ns.
    pub wall_ns: i64,
    /// The coordinating replica.
    pub node: NodeId,
}

/// A value with its stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Versioned {
    /// The stamp that orders versions.
    pub stamp: Stamp,
    /// The value.
    pub value: Value,
}

/// Which implementation to run: the correct one, or a known-bad one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LwwVariant {
    /// Retransmit until acknowledged; merge by stamp.
    #[default]
    Correct,
    /// Send each update once; never retransmit.
    FireAndForget,
    /// Apply incoming updates without comparing stamps.
    BlindMerge,
}

/// `protocol: Lww(replicate_every: "20ms", sync_writes: true, variant: Correct)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LwwConfig {
    /// How often a replica sends its unacknowledged updates to each peer (default 20ms).
    pub replicate_every: Dur,
    /// Sync each write to disk before acknowledging it (default true).
    pub sync_writes: bool,
    /// Correct or known-bad.
    pub variant: LwwVariant,
    /// On every read, compare the key's version with every peer and repair the older side.
    pub read_repair: bool,
    /// Every this often, compare all versions with one random peer and repair both sides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anti_entropy_every: Option<Dur>,
}

impl Default for LwwConfig {
    fn default() -> Self {
        LwwConfig {
            replicate_every: Dur(SimDuration::from_millis(20)),
            sync_writes: true,
            variant: LwwVariant::Correct,
            read_repair: false,
            anti_entropy_every: None,
        }
    }
}

/// Messages between replicas.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LwwMessage {
    /// Versions the sender wants the receiver to have.
    Update(Vec<(Key, Versioned)>),
    /// The stamps of the versions received, so the sender can stop resending them.
    Ack(Vec<(Key, Stamp)>),
    /// The stamps the sender holds (all its keys when `complete`, else just these), so the
    /// receiver can send what is newer and ask for what is older.
    Digest {
        /// Key and stamp of each version.
        entries: Vec<(Key, Stamp)>,
        /// Whether keys missing from `entries` are missing at the sender.
        complete: bool,
    },
    /// Send me your versions of these keys.
    Pull(Vec<Key>),
}

/// The timers of a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LwwTimer {
    /// Time to send the outboxes.
    Replicate,
    /// Time to compare digests with a random peer.
    AntiEntropy,
}

/// What survives a crash: the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LwwDisk {
    /// The latest version of each key, as written to disk.
    pub store: BTreeMap<Key, Versioned>,
}

impl Durable for LwwDisk {
    type Write = (Key, Versioned);
    fn apply(&mut self, (key, version): &(Key, Versioned)) {
        self.store.insert(*key, *version);
    }
}

/// One LWW replica.
#[derive(Clone, Debug)]
pub struct Lww {
    config: LwwConfig,
    store: BTreeMap<Key, Versioned>,
    /// Per peer, the versions not yet acknowledged, newest per key.
    outbox: BTreeMap<NodeId, BTreeMap<Key, Versioned>>,
}

impl Lww {
    /// The version this replica holds for `key`.
    pub fn version(&self, key: Key) -> Option<Versioned> {
        self.store.get(&key).copied()
    }

    /// Every key's version.
    pub fn versions(&self) -> impl Iterator<Item = (Key, Versioned)> + '_ {
        self.store.iter().map(|(k, v)| (*k, *v))
    }

    /// Stores `incoming` if it wins (or always, in the BlindMerge variant); returns whether
    /// the store changed.
    fn merge(&mut self, key: Key, incoming: Versioned, ctx: &mut Ctx<Self>) -> bool {
        let wins = match self.store.get(&key) {
            None => true,
            Some(current) if self.config.variant == LwwVariant::BlindMerge => current != &incoming,
            Some(current) => incoming.stamp > current.stamp,
        };
        if wins {
            self.store.insert(key, incoming);
            ctx.persist((key, incoming));
        }
        wins
    }

    /// Answers a peer's digest: push the versions that are newer here, pull the older ones.
    fn compare_digest(
        &mut self,
        from: NodeId,
        entries: &[(Key, Stamp)],
        complete: bool,
        ctx: &mut Ctx<Self>,
    ) {
        let theirs: BTreeMap<Key, Stamp> = entries.iter().copied().collect();
        let mut push = Vec::new();
        let mut pull = Vec::new();
        for (key, stamp) in &theirs {
            match self.store.get(key) {
                Some(mine) if mine.stamp > *stamp => push.push((*key, *mine)),
                Some(mine) if mine.stamp == *stamp => {}
                _ => pull.push(*key),
            }
        }
        if complete {
            push.extend(
                self.store
                    .iter()
                    .filter(|(key, _)| !theirs.contains_key(key))
                    .map(|(k, v)| (*k, *v)),
            );
        }
        if !push.is_empty() {
            ctx.send(from, LwwMessage::Update(push));
        }
        if !pull.is_empty() {
            ctx.send(from, LwwMessage::Pull(pull));
        }
    }

    fn enqueue(&mut self, key: Key, version: Versioned, ctx: &Ctx<Self>) {
        for peer in ctx.peers() {
            self.outbox.entry(peer).or_default().insert(key, version);
        }
    }
}

impl Protocol for Lww {
    const NAME: &'static str = "lww";
    const SUMMARY: &'static str =
        "last-writer-wins: every replica accepts writes stamped by its own wall clock";

    type Config = LwwConfig;
    type Message = LwwMessage;
    type Timer = LwwTimer;
    type Durable = LwwDisk;

    fn validate_config(config: &LwwConfig, _node_count: u32) -> Result<(), String> {
        if config.replicate_every.0 == SimDuration::ZERO {
            return Err("replicate_every must be longer than 0s".into());
        }
        if config
            .anti_entropy_every
            .is_some_and(|d| d.0 == SimDuration::ZERO)
        {
            return Err("anti_entropy_every must be longer than 0s".into());
        }
        Ok(())
    }

    fn start(config: &LwwConfig, durable: &LwwDisk, ctx: &mut Ctx<Self>) -> Self {
        ctx.set_timer(LwwTimer::Replicate, config.replicate_every.0);
        if let Some(every) = config.anti_entropy_every {
            ctx.set_timer(LwwTimer::AntiEntropy, every.0);
        }
        let mut node = Lww {
            config: config.clone(),
            store: durable.store.clone(),
            outbox: BTreeMap::new(),
        };
        // After a restart, offer everything we hold: peers may have missed it.
        let recovered: Vec<(Key, Versioned)> = node.versions().collect();
        for (key, version) in recovered {
            node.enqueue(key, version, ctx);
        }
        node
    }

    fn on_message(&mut self, from: NodeId, message: LwwMessage, ctx: &mut Ctx<Self>) {
        match message {
            LwwMessage::Update(entries) => {
                let mut changed = false;
                let acks = entries.iter().map(|(key, v)| (*key, v.stamp)).collect();
                for (key, version) in entries {
                    changed |= self.merge(key, version, ctx);
                }
                if changed && self.config.sync_writes {
                    ctx.sync();
                }
                ctx.send(from, LwwMessage::Ack(acks));
            }
            LwwMessage::Ack(acks) => {
                if let Some(pending) = self.outbox.get_mut(&from) {
                    for (key, stamp) in acks {
                        if pending.get(&key).is_some_and(|v| v.stamp <= stamp) {
                            pending.remove(&key);
                        }
                    }
                }
            }
            LwwMessage::Digest { entries, complete } => {
                self.compare_digest(from, &entries, complete, ctx)
            }
            LwwMessage::Pull(keys) => {
                let entries: Vec<(Key, Versioned)> = keys
                    .iter()
                    .filter_map(|key| self.store.get(key).map(|v| (*key, *v)))
                    .collect();
                if !entries.is_empty() {
                    ctx.send(from, LwwMessage::Update(entries));
                }
            }
        }
    }

    fn on_timer(&mut self, timer: LwwTimer, ctx: &mut Ctx<Self>) {
        if timer == LwwTimer::AntiEntropy {
            let peers: Vec<NodeId> = ctx.peers().collect();
            if !peers.is_empty() {
                let peer = peers[ctx.rng().below(peers.len() as u64) as usize];
                let entries = self.store.iter().map(|(k, v)| (*k, v.stamp)).collect();
                ctx.send(
                    peer,
                    LwwMessage::Digest {
                        entries,
                        complete: true,
                    },
                );
            }
            if let Some(every) = self.config.anti_entropy_every {
                ctx.set_timer(LwwTimer::AntiEntropy, every.0);
            }
            return;
        }
        for (peer, pending) in self.outbox.iter_mut() {
            if pending.is_empty() {
                continue;
            }
            let entries = pending.iter().map(|(k, v)| (*k, *v)).collect();
            ctx.send(*peer, LwwMessage::Update(entries));
            if self.config.variant == LwwVariant::FireAndForget {
                pending.clear();
            }
        }
        ctx.set_timer(LwwTimer::Replicate, self.config.replicate_every.0);
    }

    fn on_request(&mut self, request: Request, ctx: &mut Ctx<Self>) {
        match request.op {
            Op::Get { key } => {
                if self.config.read_repair {
                    let entries = self
                        .store
                        .get(&key)
                        .map(|v| (key, v.stamp))
                        .into_iter()
                        .collect();
                    let digest = LwwMessage::Digest {
                        entries,
                        complete: false,
                    };
                    ctx.broadcast(digest);
                }
                let values = self.store.get(&key).map(|v| v.value).into_iter().collect();
                ctx.reply(
                    request.id,
                    Reply::Ok(OpResult::Read {
                        values,
                        context: None,
                    }),
                );
            }
            Op::Put { key, value, .. } => {
                let stamp = Stamp {
                    wall_ns: ctx.wall_clock().0,
                    node: ctx.node(),
                };
                let version = Versioned { stamp, value };
                if self.merge(key, version, ctx) {
                    self.enqueue(key, version, ctx);
                } else {
                    ctx.annotate(format!(
                        "{} stamped {value} at {} ns, older than the stored {} ns: the write is silently superseded",
                        ctx.node(),
                        stamp.wall_ns,
                        self.store[&key].stamp.wall_ns
                    ));
                }
                if self.config.sync_writes {
                    ctx.sync();
                }
                ctx.reply(request.id, Reply::Ok(OpResult::Written));
            }
            Op::Cas { .. } => ctx.reply(
                request.id,
                Reply::Fail("lww does not support compare-and-set".into()),
            ),
        }
    }

    fn replica_view(&self, view: &mut ReplicaView) {
        for (key, version) in &self.store {
            view.insert(*key, vec![version.value]);
        }
    }

    fn invariants(_config: &LwwConfig) -> Vec<Box<dyn Invariant<Self>>> {
        vec![Box::new(StampMonotonic::default())]
    }
}

/// A running replica never replaces a key's version with one that has a smaller stamp.
#[derive(Default)]
pub struct StampMonotonic {
    /// Per (node, key): the incarnation and stamp last seen.
    seen: BTreeMap<(NodeId, Key), (u32, Stamp)>,
}

impl Invariant<Lww> for StampMonotonic {
    fn name(&self) -> &'static str {
        "stamp-monotonic"
    }

    fn check(&mut self, view: &ClusterView<'_, Lww>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        let incarnation = view.incarnation(node);
        for (key, version) in state.versions() {
            let previous = self.seen.insert((node, key), (incarnation, version.stamp));
            if let Some((seen_incarnation, seen_stamp)) = previous {
                if seen_incarnation == incarnation && version.stamp < seen_stamp {
                    return Err(InvariantFailure {
                        nodes: vec![node, version.stamp.node],
                        explanation: format!(
                            "{node} replaced {key} stamped {} ns by {} with {} stamped {} ns by {}: an older version overwrote a newer one",
                            seen_stamp.wall_ns, seen_stamp.node, version.value, version.stamp.wall_ns, version.stamp.node
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::clock::NodeClock;
    use sim_core::ids::{ClientId, OpId};
    use sim_core::protocol::{Effect, RequestId, TestCtx};
    use sim_core::time::{SignedDuration, SimTime};

    fn put(key: u32, value: u64) -> Request {
        Request {
            id: RequestId {
                client: ClientId(0),
                op: OpId(value),
                seq: value,
                attempt: 0,
            },
            op: Op::Put {
                key: Key(key),
                value: Value(value),
                context: None,
            },
        }
    }

    #[test]
    fn a_put_is_synced_before_it_is_acknowledged() {
        let mut test = TestCtx::<Lww>::new(NodeId(0), 3);
        test.set_time(SimTime(5_000));
        let mut node = Lww::start(&LwwConfig::default(), &LwwDisk::default(), &mut test.ctx());
        test.take_effects();
        node.on_request(put(1, 7), &mut test.ctx());
        let version = Versioned {
            stamp: Stamp {
                wall_ns: 5_000,
                node: NodeId(0),
            },
            value: Value(7),
        };
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Persist((Key(1), version)),
                Effect::Sync,
                Effect::Reply {
                    request: put(1, 7).id,
                    reply: Reply::Ok(OpResult::Written)
                },
            ]
        );
    }

    #[test]
    fn a_write_stamped_by_a_lagging_clock_loses_to_an_earlier_one() {
        let mut test = TestCtx::<Lww>::new(NodeId(1), 3);
        test.set_clock(NodeClock::new(SignedDuration(-50_000_000), 0));
        test.set_time(SimTime(1_010_000_000));
        let mut node = Lww::start(&LwwConfig::default(), &LwwDisk::default(), &mut test.ctx());
        let earlier = Versioned {
            stamp: Stamp {
                wall_ns: 1_000_000_000,
                node: NodeId(0),
            },
            value: Value(1),
        };
        node.on_message(
            NodeId(0),
            LwwMessage::Update(vec![(Key(0), earlier)]),
            &mut test.ctx(),
        );
        node.on_request(put(0, 2), &mut test.ctx());
        // The client was told Written, yet the replica still holds the earlier value.
        assert_eq!(node.version(Key(0)), Some(earlier));
    }

    #[test]
    fn acknowledged_updates_leave_the_outbox() {
        let mut test = TestCtx::<Lww>::new(NodeId(0), 2);
        let mut node = Lww::start(&LwwConfig::default(), &LwwDisk::default(), &mut test.ctx());
        node.on_request(put(0, 1), &mut test.ctx());
        test.take_effects();
        node.on_timer(LwwTimer::Replicate, &mut test.ctx());
        let sent = test.take_effects();
        let Effect::Send {
            message: LwwMessage::Update(entries),
            ..
        } = &sent[0]
        else {
            panic!("expected an update, got {sent:?}");
        };
        let acks = entries.iter().map(|(k, v)| (*k, v.stamp)).collect();
        node.on_message(NodeId(1), LwwMessage::Ack(acks), &mut test.ctx());
        node.on_timer(LwwTimer::Replicate, &mut test.ctx());
        let resent: Vec<_> = test
            .take_effects()
            .into_iter()
            .filter(|e| matches!(e, Effect::Send { .. }))
            .collect();
        assert!(resent.is_empty(), "{resent:?}");
    }
}
