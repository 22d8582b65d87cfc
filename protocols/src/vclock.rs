//! Vector-clock replication: multi-value registers whose concurrent writes become siblings.
//!
//! Every replica accepts writes. A read returns all siblings of a key and a causal context (the
//! key's version vector); a write carrying that context supersedes exactly the siblings the
//! context has seen. Replicas exchange whole key states asynchronously (resent until
//! acknowledged, as in `lww`) and merge them by causality, so replicas that have seen the same
//! writes hold the same siblings whatever order the updates arrived in.
//!
//! Two ways to track versions:
//! - `Dvv` (dotted version vectors, the default): each sibling carries the dot — (node,
//!   counter) — of the write that created it, and the key's clock summarizes every write seen.
//!   A write removes exactly the siblings whose dots its context covers; merging keeps a
//!   sibling unless the other side has seen its dot and dropped it.
//! - `ServerVv` (one version vector per key, merged on conflict, as Riak did before DVVSet):
//!   a write replaces the siblings only when its context dominates the key's whole clock;
//!   otherwise it is added to them. Under interleaved writers siblings pile up (TARGETS.md T11):
//!   a known-bad configuration that the sibling counts show.
//!
//! Known-bad variant: `UnionMerge` keeps every sibling of both sides when merging, so a value a
//! write already superseded comes back from a replica that had not seen the write
//! (the `no-resurrection` invariant fails).
//!
//! | invariant | what it checks |
//! | --- | --- |
//! | clock-covers-siblings | every sibling's dot is within its key's clock (Dvv) |
//! | no-resurrection | a running replica never again holds a sibling it saw superseded |

use serde::{Deserialize, Serialize};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{
    CausalContext, ClusterView, Ctx, Durable, Invariant, InvariantFailure, Op, OpResult, Protocol,
    ReplicaView, Reply, Request,
};
use sim_core::scenario::Dur;
use sim_core::time::SimDuration;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// A version vector: per node, the number of that node's writes seen.
pub type VersionVector = BTreeMap<NodeId, u64>;

/// How two version vectors relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    /// Identical.
    Equal,
    /// The first has seen strictly less.
    Before,
    /// The first has seen strictly more.
    After,
    /// Each has seen something the other has not.
    Concurrent,
}

/// Compares two version vectors (absent entries are 0).
pub fn compare(a: &VersionVector, b: &VersionVector) -> Causality {
    let nodes: BTreeSet<&NodeId> = a.keys().chain(b.keys()).collect();
    let (mut less, mut more) = (false, false);
    for node in nodes {
        let (x, y) = (
            a.get(node).copied().unwrap_or(0),
            b.get(node).copied().unwrap_or(0),
        );
        match x.cmp(&y) {
            Ordering::Less => less = true,
            Ordering::Greater => more = true,
            Ordering::Equal => {}
        }
    }
    match (less, more) {
        (false, false) => Causality::Equal,
        (true, false) => Causality::Before,
        (false, true) => Causality::After,
        (true, true) => Causality::Concurrent,
    }
}

/// The least upper bound of two version vectors.
pub fn join(a: &VersionVector, b: &VersionVector) -> VersionVector {
    let mut out = a.clone();
    for (node, counter) in b {
        let entry = out.entry(*node).or_insert(0);
        *entry = (*entry).max(*counter);
    }
    out
}

/// The write that created a sibling: its coordinator and that coordinator's counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    /// The coordinating replica.
    pub node: NodeId,
    /// Its write counter for this key.
    pub counter: u64,
}

impl Dot {
    /// Whether a version vector has seen this write.
    pub fn covered_by(&self, clock: &VersionVector) -> bool {
        clock.get(&self.node).is_some_and(|c| *c >= self.counter)
    }
}

/// One key's state on a replica.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyState {
    /// Every write to the key this replica has seen.
    pub clock: VersionVector,
    /// The live values, each with the dot of its write, sorted by dot.
    pub siblings: Vec<(Dot, Value)>,
}

/// Version tracking, as the scenario chooses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VclockMode {
    /// Dotted version vectors.
    #[default]
    Dvv,
    /// One merged version vector per key (siblings pile up).
    ServerVv,
}

/// Correct or known-bad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VclockVariant {
    /// Causal merge.
    #[default]
    Correct,
    /// Merge keeps every sibling of both sides: superseded values come back.
    UnionMerge,
    /// The coordinator ignores the client's context: every write is blind.
    DropContext,
}

/// `protocol: Vclock(replicate_every: "20ms", mode: Dvv, variant: Correct)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VclockConfig {
    /// How often unacknowledged key states are sent to each peer.
    pub replicate_every: Dur,
    /// Dotted version vectors or per-key server version vectors.
    pub mode: VclockMode,
    /// Correct or known-bad.
    pub variant: VclockVariant,
    /// Sync each change to disk before acknowledging it.
    pub sync_writes: bool,
}

impl Default for VclockConfig {
    fn default() -> Self {
        VclockConfig {
            replicate_every: Dur(SimDuration::from_millis(20)),
            mode: VclockMode::Dvv,
            variant: VclockVariant::Correct,
            sync_writes: true,
        }
    }
}

/// Applies a client write coordinated by `node` with the client's `context`.
pub fn write(
    state: &mut KeyState,
    node: NodeId,
    context: &VersionVector,
    value: Value,
    mode: VclockMode,
) {
    let counter = state.clock.get(&node).copied().unwrap_or(0) + 1;
    let dot = Dot { node, counter };
    match mode {
        VclockMode::Dvv => state.siblings.retain(|(d, _)| !d.covered_by(context)),
        VclockMode::ServerVv => {
            if matches!(
                compare(context, &state.clock),
                Causality::Equal | Causality::After
            ) {
                state.siblings.clear();
            }
        }
    }
    state.siblings.push((dot, value));
    state.siblings.sort();
    state.clock = join(&state.clock, context);
    state.clock.insert(node, counter);
}

/// Merges a replica's state of a key with another's.
pub fn merge(
    ours: &KeyState,
    theirs: &KeyState,
    mode: VclockMode,
    variant: VclockVariant,
) -> KeyState {
    let clock = join(&ours.clock, &theirs.clock);
    let mut siblings: BTreeMap<Dot, Value> = BTreeMap::new();
    if variant == VclockVariant::UnionMerge {
        siblings.extend(ours.siblings.iter().chain(&theirs.siblings).copied());
    } else {
        match mode {
            VclockMode::Dvv => {
                let theirs_dots: BTreeSet<Dot> = theirs.siblings.iter().map(|(d, _)| *d).collect();
                let ours_dots: BTreeSet<Dot> = ours.siblings.iter().map(|(d, _)| *d).collect();
                for (dot, value) in &ours.siblings {
                    if theirs_dots.contains(dot) || !dot.covered_by(&theirs.clock) {
                        siblings.insert(*dot, *value);
                    }
                }
                for (dot, value) in &theirs.siblings {
                    if ours_dots.contains(dot) || !dot.covered_by(&ours.clock) {
                        siblings.insert(*dot, *value);
                    }
                }
            }
            VclockMode::ServerVv => match compare(&ours.clock, &theirs.clock) {
                Causality::Equal | Causality::After => return ours.clone(),
                Causality::Before => return theirs.clone(),
                Causality::Concurrent => {
                    siblings.extend(ours.siblings.iter().chain(&theirs.siblings).copied());
                }
            },
        }
    }
    KeyState {
        clock,
        siblings: siblings.into_iter().collect(),
    }
}

/// A version vector as a client carries it: node, counter, node, counter...
pub fn encode(clock: &VersionVector) -> CausalContext {
    CausalContext(clock.iter().flat_map(|(n, c)| [n.0 as u64, *c]).collect())
}

/// The version vector a client sent back (malformed contexts read as empty: a blind write).
pub fn decode(context: &CausalContext) -> VersionVector {
    context
        .0
        .chunks_exact(2)
        .filter_map(|pair| u32::try_from(pair[0]).ok().map(|n| (NodeId(n), pair[1])))
        .collect()
}

/// Messages between replicas.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VclockMessage {
    /// Key states the sender wants the receiver to merge.
    Update(Vec<(Key, KeyState)>),
    /// The clocks received, so the sender can stop resending states they cover.
    Ack(Vec<(Key, VersionVector)>),
}

/// The only timer: time to send the outboxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicateTick;

/// What survives a crash: every key's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VclockDisk {
    /// The states as last written.
    pub keys: BTreeMap<Key, KeyState>,
}

impl Durable for VclockDisk {
    type Write = (Key, KeyState);
    fn apply(&mut self, (key, state): &(Key, KeyState)) {
        self.keys.insert(*key, state.clone());
    }
}

/// One replica.
#[derive(Clone, Debug)]
pub struct Vclock {
    config: VclockConfig,
    keys: BTreeMap<Key, KeyState>,
    outbox: BTreeMap<NodeId, BTreeMap<Key, KeyState>>,
}

impl Vclock {
    /// The replica's state of a key.
    pub fn key_state(&self, key: Key) -> Option<&KeyState> {
        self.keys.get(&key)
    }

    /// Every key's state.
    pub fn key_states(&self) -> impl Iterator<Item = (&Key, &KeyState)> {
        self.keys.iter()
    }

    fn changed(&mut self, key: Key, ctx: &mut Ctx<Self>) {
        let state = self.keys[&key].clone();
        for peer in ctx.peers() {
            self.outbox
                .entry(peer)
                .or_default()
                .insert(key, state.clone());
        }
        ctx.persist((key, state));
    }
}

impl Protocol for Vclock {
    const NAME: &'static str = "vclock";
    const SUMMARY: &'static str =
        "vector-clock replication: concurrent writes become siblings, reads return them all";

    type Config = VclockConfig;
    type Message = VclockMessage;
    type Timer = ReplicateTick;
    type Durable = VclockDisk;

    fn validate_config(config: &VclockConfig, _node_count: u32) -> Result<(), String> {
        if config.replicate_every.0 == SimDuration::ZERO {
            return Err("replicate_every must be longer than 0s".into());
        }
        Ok(())
    }

    fn start(config: &VclockConfig, durable: &VclockDisk, ctx: &mut Ctx<Self>) -> Self {
        ctx.set_timer(ReplicateTick, config.replicate_every.0);
        let mut node = Vclock {
            config: config.clone(),
            keys: durable.keys.clone(),
            outbox: BTreeMap::new(),
        };
        // Peers may have missed what we hold: offer it all again after a restart.
        for (key, state) in &durable.keys {
            for peer in ctx.peers() {
                node.outbox
                    .entry(peer)
                    .or_default()
                    .insert(*key, state.clone());
            }
        }
        node
    }

    fn on_message(&mut self, from: NodeId, message: VclockMessage, ctx: &mut Ctx<Self>) {
        match message {
            VclockMessage::Update(states) => {
                let mut any = false;
                let acks = states.iter().map(|(k, s)| (*k, s.clock.clone())).collect();
                for (key, theirs) in states {
                    let ours = self.keys.get(&key).cloned().unwrap_or_default();
                    let merged = merge(&ours, &theirs, self.config.mode, self.config.variant);
                    if merged != ours {
                        self.keys.insert(key, merged);
                        self.changed(key, ctx);
                        any = true;
                    }
                }
                if any && self.config.sync_writes {
                    ctx.sync();
                }
                ctx.send(from, VclockMessage::Ack(acks));
            }
            VclockMessage::Ack(acks) => {
                if let Some(pending) = self.outbox.get_mut(&from) {
                    for (key, clock) in acks {
                        let covered = pending.get(&key).is_some_and(|s| {
                            matches!(
                                compare(&s.clock, &clock),
                                Causality::Equal | Causality::Before
                            )
                        });
                        if covered {
                            pending.remove(&key);
                        }
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, _timer: ReplicateTick, ctx: &mut Ctx<Self>) {
        for (peer, pending) in &self.outbox {
            if !pending.is_empty() {
                let states = pending.iter().map(|(k, s)| (*k, s.clone())).collect();
                ctx.send(*peer, VclockMessage::Update(states));
            }
        }
        ctx.set_timer(ReplicateTick, self.config.replicate_every.0);
    }

    fn on_request(&mut self, request: Request, ctx: &mut Ctx<Self>) {
        match request.op {
            Op::Get { key } => {
                let state = self.keys.get(&key).cloned().unwrap_or_default();
                let mut values: Vec<Value> = state.siblings.iter().map(|(_, v)| *v).collect();
                values.sort();
                let context = Some(encode(&state.clock));
                ctx.reply(request.id, Reply::Ok(OpResult::Read { values, context }));
            }
            Op::Put {
                key,
                value,
                context,
            } => {
                let context = match (self.config.variant, context) {
                    (VclockVariant::DropContext, _) | (_, None) => VersionVector::new(),
                    (_, Some(context)) => decode(&context),
                };
                let state = self.keys.entry(key).or_default();
                write(state, ctx.node(), &context, value, self.config.mode);
                self.changed(key, ctx);
                if self.config.sync_writes {
                    ctx.sync();
                }
                ctx.reply(request.id, Reply::Ok(OpResult::Written));
            }
            Op::Cas { .. } => ctx.reply(
                request.id,
                Reply::Fail("vclock does not support compare-and-set".into()),
            ),
        }
    }

    fn replica_view(&self, view: &mut ReplicaView) {
        for (key, state) in &self.keys {
            let mut values: Vec<Value> = state.siblings.iter().map(|(_, v)| *v).collect();
            values.sort();
            view.insert(*key, values);
        }
    }

    fn invariants(config: &VclockConfig) -> Vec<Box<dyn Invariant<Self>>> {
        let mut invariants: Vec<Box<dyn Invariant<Self>>> =
            vec![Box::new(NoResurrection::default())];
        if config.mode == VclockMode::Dvv {
            invariants.push(Box::new(ClockCoversSiblings));
        }
        invariants
    }
}

/// Every sibling's dot is within its key's clock: a replica never holds a write it has not
/// accounted for.
pub struct ClockCoversSiblings;

impl Invariant<Vclock> for ClockCoversSiblings {
    fn name(&self) -> &'static str {
        "clock-covers-siblings"
    }

    fn check(&mut self, view: &ClusterView<'_, Vclock>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        for (key, key_state) in state.key_states() {
            if let Some((dot, value)) = key_state
                .siblings
                .iter()
                .find(|(d, _)| !d.covered_by(&key_state.clock))
            {
                return Err(InvariantFailure {
                    nodes: vec![node, dot.node],
                    explanation: format!(
                        "{node} holds {value} for {key} with dot ({}, {}), which its clock {:?} does not cover",
                        dot.node, dot.counter, key_state.clock
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Once a running replica has seen a sibling superseded (its dot covered by the clock and the
/// sibling gone), the sibling never comes back.
#[derive(Default)]
pub struct NoResurrection {
    /// Per (node, key): the incarnation, the clock and the live dots after the last step.
    previous: BTreeMap<(NodeId, Key), (u32, VersionVector, BTreeSet<Dot>)>,
}

impl Invariant<Vclock> for NoResurrection {
    fn name(&self) -> &'static str {
        "no-resurrection"
    }

    fn check(&mut self, view: &ClusterView<'_, Vclock>) -> Result<(), InvariantFailure> {
        let node = view.stepped();
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        let incarnation = view.incarnation(node);
        for (key, key_state) in state.key_states() {
            let live: BTreeSet<Dot> = key_state.siblings.iter().map(|(d, _)| *d).collect();
            let previous = self.previous.insert(
                (node, *key),
                (incarnation, key_state.clock.clone(), live.clone()),
            );
            let Some((seen_incarnation, clock, was_live)) = previous else {
                continue;
            };
            if seen_incarnation != incarnation {
                continue;
            }
            // Covered by the clock but not live a step ago means superseded: it must stay gone.
            let back = key_state
                .siblings
                .iter()
                .find(|(d, _)| d.covered_by(&clock) && !was_live.contains(d));
            if let Some((dot, value)) = back {
                return Err(InvariantFailure {
                    nodes: vec![node, dot.node],
                    explanation: format!(
                        "{node} holds {value} for {key} again (dot ({}, {})), after a later write had superseded it",
                        dot.node, dot.counter
                    ),
                });
            }
        }
        Ok(())
    }
}
