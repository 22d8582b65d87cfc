//! Dynamo-style quorum replication (DeCandia et al., SOSP 2007): `n` replicas per key on a
//! consistent-hash ring, any node coordinates, writes wait for `w` acknowledgements and reads
//! for `r` answers.
//!
//! **Placement.** A key's replicas are the first `n` distinct nodes clockwise from the key on a
//! ring where every node owns `vnodes` tokens ([`ring`]; the hash is fixed and documented).
//! [`Protocol::is_replica`] says the same, so convergence compares only a key's replicas.
//!
//! **Writes.** The coordinator creates the new version ([`version`]: a dotted version vector
//! whose past is the client's causal context, or a wall-clock stamp), stores it if it is a
//! replica itself, syncs, and sends its whole copy of the key to the other replicas. Each
//! replica merges, persists, syncs and only then acknowledges. The client hears `Written` at
//! `w` acknowledgements from the key's own replicas; when the coordinator timeout
//! (`request_timeout`) passes first, it hears `Indeterminate`: the write may have reached some
//! replicas and may still surface. With vector clocks only a replica of the key coordinates its
//! writes, because the new dot must come after every dot that node ever gave the key; any other
//! node redirects the client to a random replica.
//!
//! **Reads.** The coordinator asks all `n` replicas and answers from the first `r`: every
//! sibling of the merged copies and, with vector clocks, the causal context the client sends
//! back with its next write of the key. A read that times out fails. With `read_repair`, the
//! coordinator then sends the merged copy to every replica that answered with less, late
//! answers included.
//!
//! **Sloppy quorum and hinted handoff** (`sloppy_quorum: true`). When a replica has not
//! acknowledged a write within `stand_in_after`, the coordinator sends the write to the next
//! node on the ring outside the key's replicas, naming the replica it stands in for. That node
//! keeps the copy as a durable hint and offers it to the home replica every `handoff_every`
//! until the home acknowledges it. Reads ask only the key's own replicas, so a write stored
//! only by a sloppy quorum is durable but not visible to quorum reads until it is handed back;
//! the correct coordinator therefore does not call it `Written` (the client hears
//! `Indeterminate`): only acknowledgements of the key's own replicas count.
//!
//! **Anti-entropy** (`anti_entropy_every`). Each node, in turn with each peer, sends per-key
//! digests of the keys both replicate; the peer answers with its copies where they differ and
//! asks for the sender's, and both merge. Replicas then converge after any partition, even for
//! keys no client touches again.
//!
//! **Fixed partial quorums** (`partial_quorum: true`, the PBS model of Bailis et al., VLDB
//! 2012). Each write goes to exactly `w` replicas drawn at random from the coordinator's stream
//! and is never propagated further; each read asks exactly `r` random replicas. A read right
//! after a write then misses it with probability C(n-w, r) / C(n, r). Needs timestamps and no
//! repair of any kind.
//!
//! **Wrong on purpose.** `r + w <= n` is legal and weak: read and write quorums need not
//! overlap, and the `reads-see-acknowledged-writes` invariant names the first read that missed
//! an acknowledged write (`QuorumKv(n: 3, r: 1, w: 1)`). `variant: SloppyCountedAsStrict`
//! counts the stand-ins of a sloppy quorum toward `w`, as if they were the key's replicas, and
//! the same invariant catches the stale read that follows. `variant: BlindOverwrite` stores an
//! incoming copy instead of merging it, which `replica-never-regresses` catches.
//!
//! | invariant | source | what it checks |
//! | --- | --- | --- |
//! | replica-never-regresses | Dynamo §4.4; DVV sync | a running replica never drops a version unless a version it now holds supersedes it |
//! | siblings-concurrent | DVV (Preguiça et al. 2012) | no sibling a replica holds supersedes another |
//! | dots-unique | DVV (Preguiça et al. 2012) | no two writes of a key carry the same dot |
//! | reads-see-acknowledged-writes | Gifford 1979; Dynamo §4.5 (R + W > N) | a read that began after a write was acknowledged returns it or a version that supersedes it |

mod coordinator;
pub mod invariants;
mod repair;
pub mod ring;
pub mod version;

#[cfg(test)]
mod tests;

use coordinator::{PendingRead, PendingWrite};
use serde::{Deserialize, Serialize};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{
    Ctx, Durable, Invariant, Op, Protocol, ReplicaView, Reply, Request, RequestId,
};
use sim_core::scenario::Dur;
use sim_core::time::SimDuration;
use std::collections::BTreeMap;

pub use invariants::{
    DotsUnique, ReadsSeeAcknowledgedWrites, ReplicaNeverRegresses, SiblingsConcurrent,
};
pub use ring::Ring;
pub use version::{Object, Version, Versioning};

/// The most keys one anti-entropy digest, answer or handoff batch carries; the rest wait for
/// the next round.
pub const EXCHANGE_KEYS_MAX: usize = 256;

/// Which implementation to run: the correct one, or one that is wrong on purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumVariant {
    /// Only the key's own replicas count toward `w`.
    #[default]
    Correct,
    /// A sloppy quorum's stand-ins count toward `w` as if they were the key's replicas: the
    /// client hears `Written` for a write no quorum read is sure to see.
    SloppyCountedAsStrict,
    /// A replica replaces its copy with an incoming one instead of merging the two.
    BlindOverwrite,
}

/// `protocol: QuorumKv(n: 3, r: 2, w: 2, anti_entropy_every: "200ms")`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuorumKvConfig {
    /// Replicas per key (default 3); at most the node count.
    pub n: u32,
    /// Answers a read waits for (default 2), 1 to `n`.
    pub r: u32,
    /// Acknowledgements a write waits for (default 2), 1 to `n`.
    pub w: u32,
    /// Tokens each node owns on the ring (default 8).
    pub vnodes: u32,
    /// `VectorClocks` (siblings, default) or `Timestamps` (last writer wins).
    pub versions: Versioning,
    /// How long a coordinator waits before answering `Indeterminate` (writes) or failing
    /// (reads) (default 250ms); keep it below the clients' timeout.
    pub request_timeout: Dur,
    /// Send the merged copy to replicas that answered a read with less (default true).
    pub read_repair: bool,
    /// Let nodes outside a key's replicas stand in for unresponsive ones (default false).
    pub sloppy_quorum: bool,
    /// Sloppy quorum: how long a replica may stay silent before a stand-in is asked (default 50ms).
    pub stand_in_after: Dur,
    /// Sloppy quorum: how often a stand-in offers its hints to their home replicas (default 100ms).
    pub handoff_every: Dur,
    /// How often each node compares digests with its next peer; None: no anti-entropy (default).
    pub anti_entropy_every: Option<Dur>,
    /// The PBS fixed-partial-quorum mode: writes reach exactly `w` random replicas and reads
    /// ask exactly `r` (default false).
    pub partial_quorum: bool,
    /// Correct or wrong on purpose.
    pub variant: QuorumVariant,
}

impl Default for QuorumKvConfig {
    fn default() -> Self {
        QuorumKvConfig {
            n: 3,
            r: 2,
            w: 2,
            vnodes: 8,
            versions: Versioning::VectorClocks,
            request_timeout: Dur(SimDuration::from_millis(250)),
            read_repair: true,
            sloppy_quorum: false,
            stand_in_after: Dur(SimDuration::from_millis(50)),
            handoff_every: Dur(SimDuration::from_millis(100)),
            anti_entropy_every: None,
            partial_quorum: false,
            variant: QuorumVariant::Correct,
        }
    }
}

/// The message classes a scenario may give their own latency (`class_latency`), by what the
/// message does: "write" (coordinator to replica, [`QkMessage::Store`]), "write-ack"
/// ([`QkMessage::Stored`], also for stand-ins), "read" ([`QkMessage::Fetch`]), "read-reply"
/// ([`QkMessage::Fetched`]), "repair" (read repair and anti-entropy's last step,
/// [`QkMessage::Repair`]), "hint" (a write to a sloppy-quorum stand-in), "handoff" and
/// "handoff-ack" (hinted handoff), "anti-entropy" (digests and their answers).
pub const MESSAGE_CLASSES: [&str; 9] = [
    "write",
    "write-ack",
    "read",
    "read-reply",
    "repair",
    "hint",
    "handoff",
    "handoff-ack",
    "anti-entropy",
];

/// Messages between nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QkMessage {
    /// Coordinator to replica (or stand-in): merge this copy, sync, then acknowledge.
    Store {
        /// The client request being coordinated.
        request: RequestId,
        /// The key.
        key: Key,
        /// The coordinator's whole copy of the key, new version included.
        object: Object,
        /// When the receiver is a stand-in: the replica whose place it takes.
        stand_in_for: Option<NodeId>,
    },
    /// Replica to coordinator: the copy is merged and on disk.
    Stored {
        /// The request acknowledged.
        request: RequestId,
    },
    /// Coordinator to replica: send your copy of the key.
    Fetch {
        /// The client request being coordinated.
        request: RequestId,
        /// The key.
        key: Key,
    },
    /// Replica to coordinator: my copy (None: I hold nothing for the key).
    Fetched {
        /// The request answered.
        request: RequestId,
        /// The replica's copy.
        object: Option<Object>,
    },
    /// Read repair and the last step of anti-entropy: merge these copies; no answer expected.
    Repair(Vec<(Key, Object)>),
    /// Anti-entropy: my digests of the keys in `from..=to` that we both replicate.
    Digest {
        /// The first key the exchange covers.
        from: Key,
        /// The last key it covers.
        to: Key,
        /// Each key I hold in the range, with the digest of my copy.
        entries: Vec<(Key, u64)>,
    },
    /// Anti-entropy answer: my copies where they differ from yours, and the keys I want yours of.
    DigestReply {
        /// My copies of keys where we differ, or that you lack.
        objects: Vec<(Key, Object)>,
        /// Keys whose copy I lack or differ on.
        wanted: Vec<Key>,
    },
    /// Hinted handoff: copies a stand-in kept for the receiver.
    Handoff(Vec<(Key, Object)>),
    /// The home replica has merged and synced these hints (key and the digest of the copy).
    HandedOff(Vec<(Key, u64)>),
}

/// Timers; each value is its own timer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QkTimer {
    /// The coordinator timeout of one client request.
    Deadline(RequestId),
    /// Sloppy quorum: time to ask stand-ins for the replicas that have not acknowledged.
    StandIn(RequestId),
    /// Sloppy quorum: time to offer hints to their home replicas.
    Handoff,
    /// Time for the next anti-entropy exchange.
    AntiEntropy,
}

/// One write to a node's disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QkWrite {
    /// The node's copy of a key it replicates.
    Store(Key, Object),
    /// A copy kept for `home` while it could not be reached.
    Hint {
        /// The replica the copy belongs to.
        home: NodeId,
        /// The key.
        key: Key,
        /// The copy.
        object: Object,
    },
    /// A hint the home replica has acknowledged.
    HintRemoved {
        /// The replica it belonged to.
        home: NodeId,
        /// The key.
        key: Key,
    },
}

/// What survives a crash: the store and the hints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QkDisk {
    /// Per key this node replicates, its copy.
    pub store: BTreeMap<Key, Object>,
    /// Per (home replica, key), the copy kept for it.
    pub hints: BTreeMap<(NodeId, Key), Object>,
}

impl Durable for QkDisk {
    type Write = QkWrite;
    fn apply(&mut self, write: &QkWrite) {
        match write {
            QkWrite::Store(key, object) => {
                self.store.insert(*key, object.clone());
            }
            QkWrite::Hint { home, key, object } => {
                self.hints.insert((*home, *key), object.clone());
            }
            QkWrite::HintRemoved { home, key } => {
                self.hints.remove(&(*home, *key));
            }
        }
    }
}

/// One acknowledgement a coordinator counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The node that acknowledged.
    pub node: NodeId,
    /// When it is a stand-in: the replica whose place it took.
    pub stand_in_for: Option<NodeId>,
}

/// Something a handler did that the invariants need to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepEvent {
    /// The coordinator told the client `Written`.
    WriteAcknowledged {
        /// The request.
        request: RequestId,
        /// The key.
        key: Key,
        /// The version the write created.
        version: Version,
        /// The value written.
        value: Value,
        /// The acknowledgements counted.
        acks: Vec<Ack>,
    },
    /// The coordinator received a read.
    ReadStarted {
        /// The request.
        request: RequestId,
        /// The key.
        key: Key,
    },
    /// The coordinator answered a read.
    ReadAnswered {
        /// The request.
        request: RequestId,
        /// The merged copy it answered from (None: no replica held the key).
        seen: Option<Object>,
        /// The replicas whose answers it merged.
        from: Vec<NodeId>,
    },
    /// The coordinator gave up on a read.
    ReadAbandoned {
        /// The request.
        request: RequestId,
    },
}

/// What the last handler changed and did; cleared when the next handler starts, so the
/// invariants look only at what is new.
#[derive(Clone, Debug, Default)]
pub struct StepLog {
    /// Keys whose stored copy changed.
    pub changed: Vec<Key>,
    /// Coordinator events, in order.
    pub events: Vec<StepEvent>,
}

impl StepLog {
    fn clear(&mut self) {
        self.changed.clear();
        self.events.clear();
    }
}

/// One quorum_kv node: a replica of some keys, a stand-in for others, and a coordinator.
#[derive(Clone, Debug)]
pub struct QuorumKv {
    config: QuorumKvConfig,
    ring: Ring,
    store: BTreeMap<Key, Object>,
    hints: BTreeMap<(NodeId, Key), Object>,
    writes: BTreeMap<RequestId, PendingWrite>,
    reads: BTreeMap<RequestId, PendingRead>,
    /// The peer index of the next anti-entropy exchange, and the first key it covers.
    anti_entropy_turn: (u32, Key),
    step: StepLog,
}

impl QuorumKv {
    /// The options this node runs with.
    pub fn config(&self) -> &QuorumKvConfig {
        &self.config
    }

    /// This node's copy of `key`, if it replicates the key and holds a version.
    pub fn object(&self, key: Key) -> Option<&Object> {
        self.store.get(&key)
    }

    /// Every key this node holds a copy of, with the copy.
    pub fn objects(&self) -> impl Iterator<Item = (Key, &Object)> {
        self.store.iter().map(|(key, object)| (*key, object))
    }

    /// The copies this node keeps for other replicas, by (home, key).
    pub fn hints(&self) -> &BTreeMap<(NodeId, Key), Object> {
        &self.hints
    }

    /// What the last handler changed and did.
    pub fn last_step(&self) -> &StepLog {
        &self.step
    }

    /// The key's replicas, in preference order.
    pub fn preference_list(&self, key: Key) -> Vec<NodeId> {
        self.ring.preference_list(key, self.config.n)
    }

    /// Merges `object` into the stored copy of `key` (replaces it, in the BlindOverwrite
    /// variant) and persists the result; returns whether the copy changed.
    fn store_object(&mut self, key: Key, object: &Object, ctx: &mut Ctx<Self>) -> bool {
        let changed = match self.store.get_mut(&key) {
            None => {
                self.store.insert(key, object.clone());
                true
            }
            // The bug: whatever arrives last wins, concurrent versions included.
            Some(current) if self.config.variant == QuorumVariant::BlindOverwrite => {
                let differs = current != object;
                *current = object.clone();
                differs
            }
            Some(current) => current.merge(object),
        };
        if changed {
            ctx.persist(QkWrite::Store(key, self.store[&key].clone()));
            self.step.changed.push(key);
        }
        changed
    }
}

impl Protocol for QuorumKv {
    const NAME: &'static str = "quorum_kv";
    const SUMMARY: &'static str =
        "Dynamo-style quorums: N replicas on a hash ring, R/W quorums, siblings, repair";

    type Config = QuorumKvConfig;
    type Message = QkMessage;
    type Timer = QkTimer;
    type Durable = QkDisk;

    fn validate_config(config: &QuorumKvConfig, node_count: u32) -> Result<(), String> {
        validate(config, node_count)
    }

    fn message_classes() -> &'static [&'static str] {
        &MESSAGE_CLASSES
    }

    fn message_class(message: &QkMessage) -> &'static str {
        match message {
            QkMessage::Store {
                stand_in_for: None, ..
            } => "write",
            QkMessage::Store {
                stand_in_for: Some(_),
                ..
            } => "hint",
            QkMessage::Stored { .. } => "write-ack",
            QkMessage::Fetch { .. } => "read",
            QkMessage::Fetched { .. } => "read-reply",
            QkMessage::Repair(_) => "repair",
            QkMessage::Digest { .. } | QkMessage::DigestReply { .. } => "anti-entropy",
            QkMessage::Handoff(_) => "handoff",
            QkMessage::HandedOff(_) => "handoff-ack",
        }
    }

    fn start(config: &QuorumKvConfig, durable: &QkDisk, ctx: &mut Ctx<Self>) -> Self {
        // The first round of each periodic task comes after a random share of its period, so
        // that nodes started together do not all exchange at the same instants for ever.
        if config.sloppy_quorum {
            let first = first_round(config.handoff_every.0, ctx);
            ctx.set_timer(QkTimer::Handoff, first);
        }
        if let Some(every) = config.anti_entropy_every {
            let first = first_round(every.0, ctx);
            ctx.set_timer(QkTimer::AntiEntropy, first);
        }
        let store = durable.store.clone();
        // Every recovered key counts as changed, so the invariants start from the disk.
        let step = StepLog {
            changed: store.keys().copied().collect(),
            events: Vec::new(),
        };
        QuorumKv {
            config: config.clone(),
            ring: Ring::new(ctx.node_count(), config.vnodes),
            store,
            hints: durable.hints.clone(),
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            anti_entropy_turn: (0, Key(0)),
            step,
        }
    }

    fn on_message(&mut self, from: NodeId, message: QkMessage, ctx: &mut Ctx<Self>) {
        self.step.clear();
        match message {
            QkMessage::Store {
                request,
                key,
                object,
                stand_in_for,
            } => self.on_store(from, request, key, object, stand_in_for, ctx),
            QkMessage::Stored { request } => self.on_stored(from, request, ctx),
            QkMessage::Fetch { request, key } => {
                let object = self.store.get(&key).cloned();
                ctx.send(from, QkMessage::Fetched { request, object });
            }
            QkMessage::Fetched { request, object } => self.on_fetched(from, request, object, ctx),
            QkMessage::Repair(objects) => {
                for (key, object) in objects {
                    self.store_object(key, &object, ctx);
                }
            }
            QkMessage::Digest {
                from: low,
                to,
                entries,
            } => self.on_digest(from, low, to, entries, ctx),
            QkMessage::DigestReply { objects, wanted } => {
                self.on_digest_reply(from, objects, wanted, ctx)
            }
            QkMessage::Handoff(objects) => self.on_handoff(from, objects, ctx),
            QkMessage::HandedOff(entries) => self.on_handed_off(from, entries, ctx),
        }
    }

    fn on_timer(&mut self, timer: QkTimer, ctx: &mut Ctx<Self>) {
        self.step.clear();
        match timer {
            QkTimer::Deadline(request) => self.on_deadline(request, ctx),
            QkTimer::StandIn(request) => self.ask_stand_ins(request, ctx),
            QkTimer::Handoff => {
                self.offer_hints(ctx);
                ctx.set_timer(QkTimer::Handoff, self.config.handoff_every.0);
            }
            QkTimer::AntiEntropy => {
                self.send_digest(ctx);
                if let Some(every) = self.config.anti_entropy_every {
                    ctx.set_timer(QkTimer::AntiEntropy, every.0);
                }
            }
        }
    }

    fn on_request(&mut self, request: Request, ctx: &mut Ctx<Self>) {
        self.step.clear();
        match request.op {
            Op::Get { key } => self.start_read(request.id, key, ctx),
            Op::Put {
                key,
                value,
                context,
            } => self.start_write(request.id, key, value, context, ctx),
            Op::Cas { .. } => ctx.reply(
                request.id,
                Reply::Fail("quorum_kv does not support compare-and-set".into()),
            ),
        }
    }

    fn replica_view(&self, view: &mut ReplicaView) {
        for (key, object) in &self.store {
            view.insert(*key, object.values());
        }
        // A stand-in shows what it keeps for others too: it holds those writes and will hand
        // them over. It is never a replica of those keys, so convergence does not compare it.
        let mut kept: BTreeMap<Key, Object> = BTreeMap::new();
        for ((_, key), object) in &self.hints {
            match kept.get_mut(key) {
                Some(copy) => {
                    copy.merge(object);
                }
                None => {
                    kept.insert(*key, object.clone());
                }
            }
        }
        for (key, object) in kept {
            if !self.store.contains_key(&key) {
                view.insert(key, object.values());
            }
        }
    }

    fn is_replica(config: &QuorumKvConfig, node_count: u32, key: Key, node: NodeId) -> bool {
        Ring::new(node_count, config.vnodes)
            .preference_list(key, config.n)
            .contains(&node)
    }

    fn invariants(config: &QuorumKvConfig) -> Vec<Box<dyn Invariant<Self>>> {
        vec![
            Box::new(ReplicaNeverRegresses::default()),
            Box::new(SiblingsConcurrent),
            Box::new(DotsUnique::default()),
            Box::new(ReadsSeeAcknowledgedWrites::new(config)),
        ]
    }
}

/// When the first round of a periodic task is due: uniformly in (0, every].
fn first_round(every: SimDuration, ctx: &mut Ctx<QuorumKv>) -> SimDuration {
    SimDuration(1 + ctx.rng().below(every.0.max(1)))
}

/// The checks `validate_config` makes, with messages that say what to change.
fn validate(config: &QuorumKvConfig, node_count: u32) -> Result<(), String> {
    let QuorumKvConfig { n, r, w, .. } = *config;
    if n == 0 || n > node_count {
        return Err(format!(
            "n ({n}) must be between 1 and the node count ({node_count}): each key lives on n distinct nodes"
        ));
    }
    for (name, value) in [("r", r), ("w", w)] {
        if value == 0 || value > n {
            return Err(format!("{name} ({value}) must be between 1 and n ({n})"));
        }
    }
    if config.vnodes == 0 || config.vnodes > ring::VNODES_MAX {
        return Err(format!(
            "vnodes ({}) must be between 1 and {}",
            config.vnodes,
            ring::VNODES_MAX
        ));
    }
    if config.request_timeout.0 == SimDuration::ZERO {
        return Err("request_timeout must be longer than 0s".into());
    }
    if config
        .anti_entropy_every
        .is_some_and(|every| every.0 == SimDuration::ZERO)
    {
        return Err("anti_entropy_every must be longer than 0s".into());
    }
    if config.sloppy_quorum {
        validate_sloppy(config, node_count)?;
    }
    if config.partial_quorum {
        validate_partial(config)?;
    }
    if config.variant == QuorumVariant::SloppyCountedAsStrict && !config.sloppy_quorum {
        return Err(
            "variant SloppyCountedAsStrict counts a sloppy quorum's stand-ins: it needs sloppy_quorum: true".into(),
        );
    }
    Ok(())
}

fn validate_sloppy(config: &QuorumKvConfig, node_count: u32) -> Result<(), String> {
    if node_count <= config.n {
        return Err(format!(
            "sloppy_quorum needs a node outside each key's n replicas to stand in: with n = {} and {node_count} nodes there is none",
            config.n
        ));
    }
    if config.stand_in_after.0 == SimDuration::ZERO
        || config.stand_in_after.0 >= config.request_timeout.0
    {
        return Err(format!(
            "stand_in_after ({}) must be longer than 0s and shorter than request_timeout ({})",
            config.stand_in_after.0, config.request_timeout.0
        ));
    }
    if config.handoff_every.0 == SimDuration::ZERO {
        return Err("handoff_every must be longer than 0s".into());
    }
    Ok(())
}

fn validate_partial(config: &QuorumKvConfig) -> Result<(), String> {
    let never_propagated = "partial_quorum never propagates a write beyond its w replicas";
    if config.versions != Versioning::Timestamps {
        return Err(
            "partial_quorum needs versions: Timestamps: with vector clocks only a replica may coordinate, and it would always hold the write".into(),
        );
    }
    if config.read_repair {
        return Err(format!("{never_propagated}: set read_repair: false"));
    }
    if config.sloppy_quorum {
        return Err(format!("{never_propagated}: set sloppy_quorum: false"));
    }
    if config.anti_entropy_every.is_some() {
        return Err(format!("{never_propagated}: leave anti_entropy_every out"));
    }
    Ok(())
}
