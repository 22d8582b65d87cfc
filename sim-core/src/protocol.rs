//! The contract between a protocol and the engine: a pure state machine whose handlers record
//! effects in a context, and the client-facing request and reply types.

use crate::clock::{MonoTime, NodeClock, WallTime};
use crate::ids::{ClientId, Key, NodeId, OpId, Value};
use crate::rng::{Purpose, SimRng};
use crate::time::{SimDuration, SimTime};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::hash::Hash;

/// What each replica holds, key by key: the values it currently considers live (one for a
/// register, several when concurrent writes are kept as siblings), sorted.
pub type ReplicaView = BTreeMap<Key, Vec<Value>>;

/// A protocol's simulated disk: the state that survives a crash, changed only by writes.
///
/// The engine keeps two copies per node: what has been synced, and the writes since. A crash
/// may lose the unsynced writes (when the scenario says so); a restart hands the protocol
/// what survived.
pub trait Durable: Default + Clone + Debug + 'static {
    /// One write to the durable state.
    type Write: Clone + Debug;
    /// Applies one write.
    fn apply(&mut self, write: &Self::Write);
}

impl Durable for () {
    type Write = ();
    fn apply(&mut self, _write: &()) {}
}

/// An opaque causal context a protocol hands a client with a read and expects back with the
/// next write of the same key (version vectors, dotted version vectors).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct CausalContext(pub Vec<u64>);

/// Identifies a client request. A redirected operation is sent again with the same `client`,
/// `op` and `seq` (what a protocol deduplicates on) and the next `attempt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// The client that sent it (a session).
    pub client: ClientId,
    /// The operation in the history.
    pub op: OpId,
    /// The client's own sequence number, from 1, for deduplicating retries.
    pub seq: u64,
    /// How many times the client has re-sent this operation after a redirect (0 at first).
    pub attempt: u32,
}

/// What a client asks of the key-value store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// Read a key.
    Get {
        /// The key read.
        key: Key,
    },
    /// Write a key unconditionally.
    Put {
        /// The key written.
        key: Key,
        /// The value written (unique in the run).
        value: Value,
        /// The context of the client's last read of this key, if the protocol gave one.
        context: Option<CausalContext>,
    },
    /// Write `new` only if the key currently holds `expected` (None: absent).
    Cas {
        /// The key.
        key: Key,
        /// The value the key must hold.
        expected: Option<Value>,
        /// The value written (unique in the run).
        new: Value,
    },
}

impl Op {
    /// The key the operation touches.
    pub fn key(&self) -> Key {
        match self {
            Op::Get { key } | Op::Put { key, .. } | Op::Cas { key, .. } => *key,
        }
    }
}

/// A client request as a node receives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// Who asked, and which operation.
    pub id: RequestId,
    /// What was asked.
    pub op: Op,
}

/// A successful result.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpResult {
    /// The values read: none (absent), one, or several siblings.
    Read {
        /// The values, sorted.
        values: Vec<Value>,
        /// A context to send back with the next write of this key.
        context: Option<CausalContext>,
    },
    /// A put took effect.
    Written,
    /// A compare-and-set matched and took effect.
    Swapped,
}

/// A node's answer to a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    /// Done.
    Ok(OpResult),
    /// Definitely not done (a cas whose compare did not match, a rejected request).
    Fail(String),
    /// Maybe done, maybe not (a coordinator that gave up waiting for replicas).
    Indeterminate(String),
    /// Not done here: ask this node instead (or another node, when None).
    Redirect(Option<NodeId>),
}

/// One thing a handler asked the engine to do. The engine applies effects in order, after
/// the handler returns.
pub enum Effect<P: Protocol> {
    /// Send a message; it leaves when the handler ends, or, when a `Sync` came earlier in the
    /// same handler, once that sync completes.
    Send {
        /// Destination.
        to: NodeId,
        /// Payload.
        message: P::Message,
    },
    /// Fire `timer` after `after` of this node's monotonic time; replaces a pending equal timer.
    SetTimer {
        /// The timer (its value is its identity).
        timer: P::Timer,
        /// Local monotonic duration.
        after: SimDuration,
    },
    /// Forget a pending timer equal to this one.
    CancelTimer {
        /// The timer.
        timer: P::Timer,
    },
    /// Answer a client; like a send, held back by a `Sync` earlier in the same handler.
    Reply {
        /// The request answered.
        request: RequestId,
        /// The answer.
        reply: Reply,
    },
    /// Write to durable storage (not yet synced).
    Persist(<P::Durable as Durable>::Write),
    /// Make every write so far durable; sends and replies after this wait for it.
    Sync,
    /// A note for the trace and the report.
    Annotate(String),
}

impl<P: Protocol> Clone for Effect<P> {
    fn clone(&self) -> Self {
        match self {
            Effect::Send { to, message } => Effect::Send {
                to: *to,
                message: message.clone(),
            },
            Effect::SetTimer { timer, after } => Effect::SetTimer {
                timer: timer.clone(),
                after: *after,
            },
            Effect::CancelTimer { timer } => Effect::CancelTimer {
                timer: timer.clone(),
            },
            Effect::Reply { request, reply } => Effect::Reply {
                request: *request,
                reply: reply.clone(),
            },
            Effect::Persist(write) => Effect::Persist(write.clone()),
            Effect::Sync => Effect::Sync,
            Effect::Annotate(text) => Effect::Annotate(text.clone()),
        }
    }
}

impl<P: Protocol> Debug for Effect<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Send { to, message } => write!(f, "Send {{ to: {to}, message: {message:?} }}"),
            Effect::SetTimer { timer, after } => {
                write!(f, "SetTimer {{ timer: {timer:?}, after: {after} }}")
            }
            Effect::CancelTimer { timer } => write!(f, "CancelTimer {{ timer: {timer:?} }}"),
            Effect::Reply { request, reply } => {
                write!(f, "Reply {{ request: {request:?}, reply: {reply:?} }}")
            }
            Effect::Persist(write) => write!(f, "Persist({write:?})"),
            Effect::Sync => f.write_str("Sync"),
            Effect::Annotate(text) => write!(f, "Annotate({text:?})"),
        }
    }
}

impl<P: Protocol> PartialEq for Effect<P>
where
    P::Message: PartialEq,
    <P::Durable as Durable>::Write: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Effect::Send { to: a, message: m }, Effect::Send { to: b, message: n }) => {
                a == b && m == n
            }
            (Effect::SetTimer { timer: a, after: x }, Effect::SetTimer { timer: b, after: y }) => {
                a == b && x == y
            }
            (Effect::CancelTimer { timer: a }, Effect::CancelTimer { timer: b }) => a == b,
            (
                Effect::Reply {
                    request: a,
                    reply: x,
                },
                Effect::Reply {
                    request: b,
                    reply: y,
                },
            ) => a == b && x == y,
            (Effect::Persist(a), Effect::Persist(b)) => a == b,
            (Effect::Sync, Effect::Sync) => true,
            (Effect::Annotate(a), Effect::Annotate(b)) => a == b,
            _ => false,
        }
    }
}

/// What a handler can see and do: its identity, its own clocks, its random stream, and an
/// effect buffer. Nothing else of the world is reachable from here.
pub struct Ctx<'a, P: Protocol> {
    node: NodeId,
    node_count: u32,
    now: SimTime,
    clock: &'a NodeClock,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<P>>,
}

impl<'a, P: Protocol> Ctx<'a, P> {
    /// Built by the engine (and by [`TestCtx`]) for one handler call.
    pub fn new(
        node: NodeId,
        node_count: u32,
        now: SimTime,
        clock: &'a NodeClock,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect<P>>,
    ) -> Self {
        Ctx {
            node,
            node_count,
            now,
            clock,
            rng,
            effects,
        }
    }

    /// This node.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// How many nodes the cluster has (ids are `0..node_count`).
    pub fn node_count(&self) -> u32 {
        self.node_count
    }

    /// Every node but this one, in id order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + 'static {
        let me = self.node;
        (0..self.node_count).map(NodeId).filter(move |n| *n != me)
    }

    /// This node's wall clock now (offset, drift, steps and slews included).
    pub fn wall_clock(&self) -> WallTime {
        self.clock.wall(self.now)
    }

    /// This node's monotonic clock now (drift only).
    pub fn monotonic(&self) -> MonoTime {
        self.clock.monotonic(self.now)
    }

    /// This node's own random stream.
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends `message` to `to`.
    pub fn send(&mut self, to: NodeId, message: P::Message) {
        debug_assert!(to.0 < self.node_count, "send to unknown node {to}");
        self.effects.push(Effect::Send { to, message });
    }

    /// Sends a copy of `message` to every other node.
    pub fn broadcast(&mut self, message: P::Message) {
        for to in self.peers() {
            self.effects.push(Effect::Send {
                to,
                message: message.clone(),
            });
        }
    }

    /// Fires `timer` after `after` of local monotonic time, replacing an equal pending timer.
    pub fn set_timer(&mut self, timer: P::Timer, after: SimDuration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Cancels a pending timer equal to `timer`, if any.
    pub fn cancel_timer(&mut self, timer: P::Timer) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// Answers a client request.
    pub fn reply(&mut self, request: RequestId, reply: Reply) {
        self.effects.push(Effect::Reply { request, reply });
    }

    /// Writes to durable storage; the write survives a crash only once synced (or when the
    /// scenario keeps unsynced writes).
    pub fn persist(&mut self, write: <P::Durable as Durable>::Write) {
        self.effects.push(Effect::Persist(write));
    }

    /// Makes all writes so far durable. Messages and replies issued after this call leave
    /// only once the sync has completed.
    pub fn sync(&mut self) {
        self.effects.push(Effect::Sync);
    }

    /// Adds a note to the trace.
    pub fn annotate(&mut self, text: impl Into<String>) {
        self.effects.push(Effect::Annotate(text.into()));
    }
}

/// A standalone context for unit tests of one handler: no engine, no network; the test
/// reads back the exact list of effects.
pub struct TestCtx<P: Protocol> {
    node: NodeId,
    node_count: u32,
    now: SimTime,
    clock: NodeClock,
    rng: SimRng,
    effects: Vec<Effect<P>>,
}

impl<P: Protocol> TestCtx<P> {
    /// A context for `node` in a cluster of `node_count`, at true time zero, perfect clock.
    pub fn new(node: NodeId, node_count: u32) -> Self {
        TestCtx {
            node,
            node_count,
            now: SimTime::ZERO,
            clock: NodeClock::perfect(),
            rng: SimRng::stream(0, Purpose::Test, node.0 as u64),
            effects: Vec::new(),
        }
    }

    /// Moves true time to `now`.
    pub fn set_time(&mut self, now: SimTime) {
        self.now = now;
    }

    /// Replaces the node's clock.
    pub fn set_clock(&mut self, clock: NodeClock) {
        self.clock = clock;
    }

    /// The context to pass to a handler.
    pub fn ctx(&mut self) -> Ctx<'_, P> {
        Ctx::new(
            self.node,
            self.node_count,
            self.now,
            &self.clock,
            &mut self.rng,
            &mut self.effects,
        )
    }

    /// The effects recorded since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect<P>> {
        std::mem::take(&mut self.effects)
    }
}

/// A protocol-registered safety property, evaluated by the engine after every step.
pub trait Invariant<P: Protocol> {
    /// A short name, e.g. "election-safety".
    fn name(&self) -> &'static str;
    /// Checks the cluster after `view.stepped()` handled an event.
    fn check(&mut self, view: &ClusterView<'_, P>) -> Result<(), InvariantFailure>;
}

/// Why an invariant failed: the nodes involved and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvariantFailure {
    /// The nodes whose state shows the failure.
    pub nodes: Vec<NodeId>,
    /// What is wrong, in plain words.
    pub explanation: String,
}

/// Read access to every node's state, implemented by the engine (and by a plain vector of
/// `(state, incarnation)` pairs, for testing an invariant without an engine).
pub trait NodeStates<P> {
    /// How many nodes there are.
    fn node_count(&self) -> usize;
    /// A node's state, or None while it is crashed.
    fn state(&self, id: NodeId) -> Option<&P>;
    /// How many times the node has crashed (each crash starts a new incarnation).
    fn incarnation(&self, id: NodeId) -> u32;
}

impl<P> NodeStates<P> for Vec<(Option<P>, u32)> {
    fn node_count(&self) -> usize {
        self.len()
    }
    fn state(&self, id: NodeId) -> Option<&P> {
        self[id.index()].0.as_ref()
    }
    fn incarnation(&self, id: NodeId) -> u32 {
        self[id.index()].1
    }
}

/// The live state of every node, as an invariant sees it after one step.
pub struct ClusterView<'a, P> {
    stepped: NodeId,
    now: SimTime,
    nodes: &'a dyn NodeStates<P>,
}

impl<'a, P> ClusterView<'a, P> {
    /// A view after `stepped` handled an event at `now`.
    pub fn new(stepped: NodeId, now: SimTime, nodes: &'a dyn NodeStates<P>) -> Self {
        ClusterView {
            stepped,
            now,
            nodes,
        }
    }

    /// The node that just handled an event.
    pub fn stepped(&self) -> NodeId {
        self.stepped
    }

    /// True time now.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// A node's state, or None while it is crashed.
    pub fn node(&self, id: NodeId) -> Option<&'a P> {
        self.nodes.state(id)
    }

    /// How many times the node has crashed (each crash starts a new incarnation).
    pub fn incarnation(&self, id: NodeId) -> u32 {
        self.nodes.incarnation(id)
    }

    /// Every node id.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.node_count() as u32).map(NodeId)
    }
}

/// A replication protocol: a pure, synchronous state machine.
///
/// Handlers take `&mut self` and a [`Ctx`], and act only by recording effects in it. There is
/// no I/O, no async, no thread and no global state; randomness comes from `ctx.rng()` and time
/// from the node's own clocks. Start and restart go through [`Protocol::start`], so volatile
/// state cannot survive a crash by accident.
///
/// # Example
///
/// A register on one primary (n1) that copies every write to the others:
///
/// ```
/// use sim_core::protocol::*;
/// use sim_core::ids::{Key, NodeId, Value};
/// use std::collections::BTreeMap;
///
/// #[derive(Default)]
/// struct Primary { store: BTreeMap<Key, Value> }
///
/// impl Protocol for Primary {
///     const NAME: &'static str = "primary";
///     const SUMMARY: &'static str = "one primary copies writes to backups";
///     type Config = ();
///     type Message = (Key, Value);
///     type Timer = ();
///     type Durable = ();
///
///     fn start(_: &(), _: &(), _: &mut Ctx<Self>) -> Self { Primary::default() }
///     fn on_message(&mut self, _from: NodeId, (key, value): (Key, Value), _: &mut Ctx<Self>) {
///         self.store.insert(key, value);
///     }
///     fn on_timer(&mut self, _: (), _: &mut Ctx<Self>) {}
///     fn on_request(&mut self, request: Request, ctx: &mut Ctx<Self>) {
///         if ctx.node() != NodeId(0) {
///             return ctx.reply(request.id, Reply::Redirect(Some(NodeId(0))));
///         }
///         match request.op {
///             Op::Put { key, value, .. } => {
///                 self.store.insert(key, value);
///                 ctx.broadcast((key, value));
///                 ctx.reply(request.id, Reply::Ok(OpResult::Written));
///             }
///             Op::Get { key } => {
///                 let values = self.store.get(&key).copied().into_iter().collect();
///                 ctx.reply(request.id, Reply::Ok(OpResult::Read { values, context: None }));
///             }
///             Op::Cas { .. } => ctx.reply(request.id, Reply::Fail("no cas".into())),
///         }
///     }
///     fn replica_view(&self, view: &mut ReplicaView) {
///         for (key, value) in &self.store {
///             view.insert(*key, vec![*value]);
///         }
///     }
/// }
///
/// // Drive one handler through a test context and look at the effects it recorded.
/// let mut test = TestCtx::<Primary>::new(NodeId(0), 3);
/// let mut node = Primary::start(&(), &(), &mut test.ctx());
/// let id = RequestId { client: sim_core::ids::ClientId(0), op: sim_core::ids::OpId(0), seq: 1, attempt: 0 };
/// node.on_request(Request { id, op: Op::Put { key: Key(1), value: Value(7), context: None } },
///                 &mut test.ctx());
/// assert_eq!(test.take_effects().len(), 3); // two copies and one reply
/// ```
pub trait Protocol: Sized + 'static {
    /// The name scenarios and the CLI use ("lww", "raft").
    const NAME: &'static str;
    /// One line on what the protocol is, for `faultline list`.
    const SUMMARY: &'static str;
    /// Whether clients may send compare-and-set.
    const SUPPORTS_CAS: bool = false;

    /// The options a scenario sets, e.g. `Lww(replicate_every: "20ms")`.
    type Config: Clone + Debug + Default + Serialize + DeserializeOwned + Send + Sync;
    /// Messages between nodes. `Hash` feeds the trace hash, so it must not depend on
    /// addresses or map iteration order.
    type Message: Clone + Debug + Hash;
    /// Timers; a timer's value is its identity.
    type Timer: Clone + Debug + Ord + Hash;
    /// What survives a crash.
    type Durable: Durable;

    /// The message classes this protocol names, for per-class latency in scenarios
    /// (`network: (class_latency: {"write": ...})`); a scenario naming any other class is
    /// rejected with this list. Empty (the default): the protocol has no classes.
    fn message_classes() -> &'static [&'static str] {
        &[]
    }

    /// The class of `message`, one of [`Protocol::message_classes`] (or "" for none). It only
    /// picks a latency distribution when the scenario configures one for that class; it draws
    /// nothing and is not part of the trace.
    fn message_class(_message: &Self::Message) -> &'static str {
        ""
    }

    /// Checks options that depend on each other or on the cluster size.
    fn validate_config(_config: &Self::Config, _node_count: u32) -> Result<(), String> {
        Ok(())
    }

    /// Creates a node at first start and after every restart, from what its disk holds.
    fn start(config: &Self::Config, durable: &Self::Durable, ctx: &mut Ctx<Self>) -> Self;

    /// Handles a message from another node.
    fn on_message(&mut self, from: NodeId, message: Self::Message, ctx: &mut Ctx<Self>);

    /// Handles a timer that came due on this node's monotonic clock.
    fn on_timer(&mut self, timer: Self::Timer, ctx: &mut Ctx<Self>);

    /// Handles a client request; answer it with `ctx.reply` now or later.
    fn on_request(&mut self, request: Request, ctx: &mut Ctx<Self>);

    /// Fills `view` with what this replica holds, for divergence and convergence checks.
    fn replica_view(&self, view: &mut ReplicaView);

    /// Whether `node` is meant to hold `key` (all nodes, unless the protocol shards keys).
    fn is_replica(_config: &Self::Config, _node_count: u32, _key: Key, _node: NodeId) -> bool {
        true
    }

    /// Safety properties the engine checks after every step.
    fn invariants(_config: &Self::Config) -> Vec<Box<dyn Invariant<Self>>> {
        Vec::new()
    }

    /// Whether this node holds work that will still change what replicas hold, such as a log
    /// entry it stores but has not applied. The settle phase ends only when the replicas agree
    /// and no running node has pending work, so a moment of agreement before that work lands
    /// (a leader crashed right after committing an entry its followers have not applied yet)
    /// is not mistaken for convergence.
    fn has_pending_work(&self) -> bool {
        false
    }
}
