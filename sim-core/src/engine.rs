//! The event loop: one thread, one queue ordered by (true time, insertion sequence), and the
//! rules for delivering messages, firing timers, serving clients and applying faults.

use crate::clock::NodeClock;
use crate::fault::{FaultAction, FaultOrigin, ScheduledFault};
use crate::history::{History, OpKind, Operation, Outcome};
use crate::ids::{ClientId, Key, NodeId, OpId, Value};
use crate::network::{DropReason, LinkConfig, Network, Transmission};
use crate::protocol::{
    CausalContext, ClusterView, Ctx, Durable, Effect, Invariant, NodeStates, Op, OpResult,
    Protocol, ReplicaView, Reply, Request, RequestId,
};
use crate::rng::{Purpose, SimRng};
use crate::time::{SimDuration, SimTime};
use crate::trace::{
    digest, TraceHash, TraceHasher, TraceKind, TraceRecord, TraceSink, TraceWindow,
};
use crate::workload::{KeyChooser, LoadMode, OpChoice, Target, WorkloadConfig};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

/// How the simulated disks behave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StorageConfig {
    /// How long a sync takes; messages sent after it wait this long.
    pub sync_latency: SimDuration,
    /// Whether a crash loses writes that were not yet synced (a machine crash) or keeps them
    /// (a process crash, where the OS still had them).
    pub lose_unsynced_on_crash: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            sync_latency: SimDuration::ZERO,
            lose_unsynced_on_crash: true,
        }
    }
}

/// How the settle phase runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SettleConfig {
    /// The longest the settle phase may last before convergence is declared failed.
    pub duration_max: SimDuration,
    /// How often replicas are compared during settle.
    pub check_every: SimDuration,
    /// Whether nodes still crashed at the end of the fault phase are restarted.
    pub restart_crashed: bool,
}

/// Bounds that end a run with "limit reached" instead of growing without end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Limits {
    /// Stop after this many events.
    pub events_max: u64,
    /// How many recent events the report window keeps.
    pub trace_window_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            events_max: 50_000_000,
            trace_window_events: 4_096,
        }
    }
}

/// Everything the engine needs for one run, resolved and validated.
#[derive(Clone, Debug)]
pub struct SimConfig<P: Protocol> {
    /// The seed every random stream derives from.
    pub seed: u64,
    /// Number of nodes.
    pub node_count: u32,
    /// The protocol's options.
    pub protocol: P::Config,
    /// One clock per node.
    pub clocks: Vec<NodeClock>,
    /// One config per directed link, `links[from * n + to]`.
    pub links: Vec<LinkConfig>,
    /// Disk behaviour.
    pub storage: StorageConfig,
    /// Every fault of the run, pinned and random, sorted by time.
    pub schedule: Vec<ScheduledFault>,
    /// The clients.
    pub workload: WorkloadConfig,
    /// Length of the fault phase.
    pub duration: SimDuration,
    /// The settle phase, if any.
    pub settle: Option<SettleConfig>,
    /// Bounds.
    pub limits: Limits,
    /// How often divergence between replicas is sampled during the fault phase.
    pub sample_every: SimDuration,
}

/// Choices about what a run records, beyond what every run records.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keep every trace record with the running hash after it (for `--check-determinism`).
    pub keep_full_trace: bool,
    /// End the run at the first invariant violation.
    pub stop_at_first_violation: bool,
}

/// A protocol invariant that failed, where and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvariantViolation {
    /// The invariant's name.
    pub invariant: String,
    /// Index of the event after which it first failed.
    pub event: u64,
    /// True time of that event.
    pub time: SimTime,
    /// Nodes involved.
    pub nodes: Vec<NodeId>,
    /// What is wrong.
    pub explanation: String,
}

/// How many keys differed between replicas at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DivergenceSample {
    /// When.
    pub time: SimTime,
    /// Keys on which live replicas did not all hold the same versions.
    pub keys_diverged: u32,
}

/// The most per-key divergence stretches a run records; later ones are only counted, so a
/// long run's memory stays bounded.
pub const KEY_DIVERGENCES_MAX: usize = 10_000;

/// A stretch of time during which the live replicas of one key disagreed, as the divergence
/// samples saw it: it began after the sample before `start` and ended by `end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyDivergence {
    /// The key.
    pub key: Key,
    /// The first sample at which the replicas disagreed.
    pub start: SimTime,
    /// The first sample at which they agreed again (None: still disagreeing when the run ended).
    pub end: Option<SimTime>,
    /// What each live replica of the key held at `start`.
    pub holdings: Vec<(NodeId, Vec<Value>)>,
}

/// Message counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// Messages protocols sent.
    pub sent: u64,
    /// Messages handed to a protocol.
    pub delivered: u64,
    /// Extra copies created by the network.
    pub duplicated: u64,
    /// Messages lost, by reason.
    pub dropped: BTreeMap<DropReason, u64>,
}

impl NetStats {
    /// All drops, whatever the reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// A fault as it was applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppliedFault {
    /// Trace index of the fault event.
    pub event: u64,
    /// When it happened.
    pub at: SimTime,
    /// What it did, in words.
    pub description: String,
    /// The action itself.
    pub action: FaultAction,
    /// Where it came from.
    pub origin: FaultOrigin,
    /// Whether it changed anything (crashing a crashed node does not).
    pub effective: bool,
}

/// How the settle phase ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettleOutcome {
    /// When faults healed and clients stopped.
    pub started: SimTime,
    /// When all replicas first agreed, if they did.
    pub converged_at: Option<SimTime>,
    /// When the settle phase would have given up.
    pub deadline: SimTime,
}

/// Everything a run produced, independent of the protocol type.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// Hash of the whole trace.
    pub trace_hash: TraceHash,
    /// Number of trace events.
    pub events: u64,
    /// True time when the run ended.
    pub end_time: SimTime,
    /// Every client operation.
    pub history: History,
    /// Each node's replica view at the end (None: crashed at the end).
    pub final_views: Vec<Option<ReplicaView>>,
    /// For each workload key, the nodes meant to hold it.
    pub key_replicas: Vec<Vec<NodeId>>,
    /// First failure of each protocol invariant, in order of occurrence.
    pub violations: Vec<InvariantViolation>,
    /// Divergence over time; the sample times are also when `first_seen` was updated.
    pub divergence: Vec<DivergenceSample>,
    /// For each value, the first sample at which some live replica held it.
    pub first_seen: BTreeMap<Value, SimTime>,
    /// The settle phase, if the run had one.
    pub settle: Option<SettleOutcome>,
    /// Message statistics.
    pub net: NetStats,
    /// Faults in the order they were applied.
    pub faults: Vec<AppliedFault>,
    /// The most recent events.
    pub window: Vec<TraceRecord>,
    /// The events around the first invariant violation, if there was one.
    pub violation_window: Option<Vec<TraceRecord>>,
    /// Every record with the running hash after it, when asked for.
    pub full_trace: Option<Vec<(TraceRecord, u64)>>,
    /// Set when a bound ended the run early.
    pub limit_reached: Option<String>,
    /// Each node's clock at the end (with every step and slew applied).
    pub clocks: Vec<NodeClock>,
    /// Per key, each stretch of disagreement the samples saw, in order of start (at most
    /// [`KEY_DIVERGENCES_MAX`]).
    pub key_divergences: Vec<KeyDivergence>,
    /// Stretches of disagreement that began after [`KEY_DIVERGENCES_MAX`] were recorded.
    pub key_divergences_dropped: u64,
}

/// A message, timer, client event or fault, due at a time.
enum Event<P: Protocol> {
    Deliver {
        from: NodeId,
        to: NodeId,
        message: P::Message,
        digest: u64,
        /// Already passed the network (re-queued after a pause).
        arrived: bool,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        timer: P::Timer,
        generation: u64,
    },
    // Client traffic is rare next to messages; boxing it keeps every queue entry small.
    Request {
        node: NodeId,
        request: Box<Request>,
    },
    ClientReply(Box<(NodeId, RequestId, Reply)>),
    ClientTimeout {
        client: ClientId,
        op: OpId,
    },
    ClientWake {
        client: ClientId,
    },
    Fault {
        index: usize,
    },
    Resume {
        node: NodeId,
        pause_id: u64,
    },
    SyncDone {
        node: NodeId,
        incarnation: u32,
        sync_id: u64,
        persisted_upto: u64,
    },
    SettleStart,
    Sample {
        generation: u64,
    },
}

impl<P: Protocol> Event<P> {
    /// The node whose process must be running to handle this event.
    fn target_node(&self) -> Option<NodeId> {
        match self {
            Event::Deliver { to, .. } => Some(*to),
            Event::Timer { node, .. }
            | Event::Request { node, .. }
            | Event::SyncDone { node, .. } => Some(*node),
            _ => None,
        }
    }
}

/// A queued event and its place in line: (time, insertion sequence), packed into one number
/// so that the heap compares entries with a single integer comparison.
struct Entry<P: Protocol> {
    /// `!(time << 64 | seq)`: the max-heap pops the earliest time and, among equal times, the
    /// earliest insertion, so two events due at the same instant never race on anything but
    /// their order of birth.
    key: u128,
    event: Event<P>,
}

impl<P: Protocol> Entry<P> {
    #[inline]
    fn new(time: SimTime, seq: u64, event: Event<P>) -> Self {
        Entry {
            key: !(((time.0 as u128) << 64) | seq as u128),
            event,
        }
    }

    #[inline]
    fn time(&self) -> SimTime {
        SimTime(((!self.key) >> 64) as u64)
    }
}

impl<P: Protocol> PartialEq for Entry<P> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<P: Protocol> Eq for Entry<P> {}
impl<P: Protocol> PartialOrd for Entry<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<P: Protocol> Ord for Entry<P> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

enum Held<P: Protocol> {
    Send(NodeId, P::Message),
    Reply(RequestId, Reply),
}

struct NodeRuntime<P: Protocol> {
    state: Option<P>,
    incarnation: u32,
    clock: NodeClock,
    rng: SimRng,
    /// How late each timer fires, when the clock has timer slack; never drawn otherwise.
    slack_rng: SimRng,
    /// Pending timers and the generation of their latest setting.
    timers: BTreeMap<P::Timer, u64>,
    timer_generation: u64,
    paused_until: Option<SimTime>,
    pause_id: u64,
    deferred: VecDeque<Event<P>>,
    synced: P::Durable,
    unsynced: VecDeque<<P::Durable as Durable>::Write>,
    persisted_total: u64,
    synced_total: u64,
    next_sync_id: u64,
    /// The latest sync still running: its id and how many writes it makes durable.
    sync_in_flight: Option<(u64, u64)>,
    held: Vec<(u64, Held<P>)>,
}

impl<P: Protocol> NodeRuntime<P> {
    fn is_up(&self) -> bool {
        self.state.is_some()
    }

    fn sync_upto(&mut self, upto: u64) {
        while self.synced_total < upto {
            let write = self
                .unsynced
                .pop_front()
                .expect("a sync never covers more writes than were persisted");
            self.synced.apply(&write);
            self.synced_total += 1;
        }
    }
}

struct NodeTable<'a, P: Protocol>(&'a [NodeRuntime<P>]);

impl<P: Protocol> NodeStates<P> for NodeTable<'_, P> {
    fn node_count(&self) -> usize {
        self.0.len()
    }
    fn state(&self, id: NodeId) -> Option<&P> {
        self.0[id.index()].state.as_ref()
    }
    fn incarnation(&self, id: NodeId) -> u32 {
        self.0[id.index()].incarnation
    }
}

struct Outstanding {
    request: Request,
    node: NodeId,
    attempt: u32,
}

struct ClientRuntime {
    rng: SimRng,
    link_rng: SimRng,
    home: NodeId,
    leader: Option<NodeId>,
    outstanding: BTreeMap<OpId, Outstanding>,
    issued: u64,
    stopped: bool,
    /// The last value read or written per key: a cas expects it.
    last_seen: BTreeMap<Key, Option<Value>>,
    /// The causal context of the last read per key, sent back with the next write.
    contexts: BTreeMap<Key, CausalContext>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Faults,
    Settle,
    Done,
}

/// One simulation run of protocol `P`.
pub struct Simulation<'sink, P: Protocol> {
    config: SimConfig<P>,
    options: RunOptions,
    now: SimTime,
    end: SimTime,
    phase: Phase,
    queue: BinaryHeap<Entry<P>>,
    seq: u64,
    nodes: Vec<NodeRuntime<P>>,
    network: Network,
    clients: Vec<ClientRuntime>,
    key_chooser: KeyChooser,
    key_replicas: Vec<Vec<NodeId>>,
    history: Vec<Operation>,
    next_value: u64,
    effects: Vec<Effect<P>>,
    invariants: Vec<Box<dyn Invariant<P>>>,
    violated: Vec<bool>,
    violations: Vec<InvariantViolation>,
    hasher: TraceHasher,
    events: u64,
    trigger_event: u64,
    window: TraceWindow,
    violation_window: Option<Vec<TraceRecord>>,
    full_trace: Option<Vec<(TraceRecord, u64)>>,
    sink: Option<&'sink mut dyn TraceSink>,
    net: NetStats,
    faults: Vec<AppliedFault>,
    divergence: Vec<DivergenceSample>,
    settle: Option<SettleOutcome>,
    limit_reached: Option<String>,
    view_buffers: Vec<ReplicaView>,
    first_seen: BTreeMap<Value, SimTime>,
    sample_generation: u64,
    key_divergences: Vec<KeyDivergence>,
    key_divergences_dropped: u64,
    /// Per key: None while its replicas agree; Some(index into `key_divergences`, or None
    /// when the stretch was only counted) while they disagree.
    open_divergences: Vec<Option<Option<usize>>>,
    /// Reused per sample: which keys disagree.
    diverged_scratch: Vec<bool>,
}

impl<'sink, P: Protocol> Simulation<'sink, P> {
    /// Prepares a run; nothing happens until [`Simulation::run`].
    pub fn new(config: SimConfig<P>, options: RunOptions) -> Self {
        let n = config.node_count as usize;
        assert!(n > 0, "a cluster needs at least one node");
        assert_eq!(config.clocks.len(), n, "one clock per node");
        assert!(
            config.schedule.windows(2).all(|w| w[0].at <= w[1].at),
            "the fault schedule must be sorted by time"
        );
        let nodes = (0..n)
            .map(|i| NodeRuntime {
                state: None,
                incarnation: 0,
                clock: config.clocks[i].clone(),
                rng: SimRng::stream(config.seed, Purpose::Protocol, i as u64),
                slack_rng: SimRng::stream(config.seed, Purpose::TimerSlack, i as u64),
                timers: BTreeMap::new(),
                timer_generation: 0,
                paused_until: None,
                pause_id: 0,
                deferred: VecDeque::new(),
                synced: P::Durable::default(),
                unsynced: VecDeque::new(),
                persisted_total: 0,
                synced_total: 0,
                next_sync_id: 0,
                sync_in_flight: None,
                held: Vec::new(),
            })
            .collect();
        let workload = &config.workload;
        let clients = (0..workload.clients)
            .map(|c| {
                let mut rng = SimRng::stream(config.seed, Purpose::Client, c as u64);
                let home = workload.initial_node(c, config.node_count, &mut rng);
                ClientRuntime {
                    rng,
                    link_rng: SimRng::stream(config.seed, Purpose::ClientLink, c as u64),
                    home,
                    leader: None,
                    outstanding: BTreeMap::new(),
                    issued: 0,
                    stopped: false,
                    last_seen: BTreeMap::new(),
                    contexts: BTreeMap::new(),
                }
            })
            .collect();
        let key_replicas = (0..workload.keys)
            .map(|k| {
                (0..config.node_count)
                    .map(NodeId)
                    .filter(|node| {
                        P::is_replica(&config.protocol, config.node_count, Key(k), *node)
                    })
                    .collect()
            })
            .collect();
        let end = SimTime::ZERO
            + config.duration
            + config
                .settle
                .as_ref()
                .map_or(SimDuration::ZERO, |s| s.duration_max);
        let invariants = P::invariants(&config.protocol);
        Simulation {
            network: Network::new(config.seed, n, config.links.clone()),
            key_chooser: KeyChooser::new(workload.keys.max(1), &workload.key_distribution),
            window: TraceWindow::new(config.limits.trace_window_events),
            violated: vec![false; invariants.len()],
            invariants,
            full_trace: options.keep_full_trace.then(Vec::new),
            options,
            now: SimTime::ZERO,
            end,
            phase: Phase::Faults,
            queue: BinaryHeap::new(),
            seq: 0,
            nodes,
            clients,
            key_replicas,
            history: Vec::new(),
            next_value: 1,
            effects: Vec::new(),
            violations: Vec::new(),
            hasher: TraceHasher::default(),
            events: 0,
            trigger_event: 0,
            violation_window: None,
            sink: None,
            net: NetStats::default(),
            faults: Vec::new(),
            divergence: Vec::new(),
            settle: None,
            limit_reached: None,
            view_buffers: vec![ReplicaView::new(); n],
            first_seen: BTreeMap::new(),
            sample_generation: 0,
            key_divergences: Vec::new(),
            key_divergences_dropped: 0,
            open_divergences: vec![None; workload.keys as usize],
            diverged_scratch: Vec::new(),
            config,
        }
    }

    /// Streams every event to `sink` as it happens (for `--trace FILE`).
    pub fn with_sink(mut self, sink: &'sink mut dyn TraceSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Runs to the end of the fault phase and, if configured, through settle.
    pub fn run(self) -> RunResult {
        self.run_keeping_states().0
    }

    /// Like [`Simulation::run`], and also hands back each node's final protocol state (None
    /// for a node crashed at the end), for tests and protocol-specific reports.
    pub fn run_keeping_states(mut self) -> (RunResult, Vec<Option<P>>) {
        self.start();
        while self.phase != Phase::Done {
            let Some(entry) = self.queue.pop() else { break };
            if entry.time() > self.end {
                break;
            }
            assert!(entry.time() >= self.now, "time never runs backwards");
            self.now = entry.time();
            self.dispatch(entry.event);
            if self.events >= self.config.limits.events_max && self.phase != Phase::Done {
                self.limit_reached = Some(format!(
                    "events_max ({}) reached at {}",
                    self.config.limits.events_max, self.now
                ));
                break;
            }
            if self.options.stop_at_first_violation && !self.violations.is_empty() {
                break;
            }
        }
        self.finish()
    }

    fn start(&mut self) {
        let config = self.config.protocol.clone();
        for index in 0..self.nodes.len() {
            self.start_node(NodeId(index as u32), &config);
        }
        for (index, fault) in self.config.schedule.iter().enumerate() {
            let at = fault.at;
            self.seq += 1;
            self.queue
                .push(Entry::new(at, self.seq, Event::Fault { index }));
        }
        let clients_start = SimTime::ZERO + self.config.workload.start_after;
        for c in 0..self.clients.len() {
            let client = ClientId(c as u32);
            let delay = self.think_time(client);
            self.schedule(clients_start + delay, Event::ClientWake { client });
        }
        self.schedule(SimTime::ZERO, Event::Sample { generation: 0 });
        if self.config.settle.is_some() {
            self.schedule(SimTime::ZERO + self.config.duration, Event::SettleStart);
        }
    }

    #[inline]
    fn schedule(&mut self, time: SimTime, event: Event<P>) {
        debug_assert!(time >= self.now, "events are never scheduled in the past");
        self.seq += 1;
        self.queue.push(Entry::new(time, self.seq, event));
    }

    #[inline]
    fn record(
        &mut self,
        kind: TraceKind,
        node: NodeId,
        peer: u32,
        detail: u64,
        describe: impl FnOnce() -> String,
    ) -> u64 {
        let record = TraceRecord {
            index: self.events,
            time: self.now,
            kind,
            node,
            peer,
            detail,
        };
        self.events += 1;
        self.hasher.add(&record);
        self.window.push(record);
        if let Some(sink) = self.sink.as_mut() {
            if sink.wants_text(&record) {
                sink.event(&record, &describe());
            } else {
                sink.event(&record, "");
            }
        }
        if let Some(full) = self.full_trace.as_mut() {
            full.push((record, self.hasher.finish().0));
        }
        record.index
    }

    fn dispatch(&mut self, event: Event<P>) {
        if let Some(node) = event.target_node() {
            let runtime = &mut self.nodes[node.index()];
            if runtime.is_up() && runtime.paused_until.is_some() {
                let deliverable = match event {
                    Event::Deliver {
                        from, to, arrived, ..
                    } => arrived || !self.network.is_blocked(from, to),
                    _ => true,
                };
                if deliverable {
                    let event = match event {
                        Event::Deliver {
                            from,
                            to,
                            message,
                            digest,
                            ..
                        } => Event::Deliver {
                            from,
                            to,
                            message,
                            digest,
                            arrived: true,
                        },
                        other => other,
                    };
                    self.nodes[node.index()].deferred.push_back(event);
                    return;
                }
            }
        }
        match event {
            Event::Deliver {
                from,
                to,
                message,
                digest,
                arrived,
            } => self.on_deliver(from, to, message, digest, arrived),
            Event::Timer {
                node,
                incarnation,
                timer,
                generation,
            } => self.on_timer(node, incarnation, timer, generation),
            Event::Request { node, request } => self.on_request(node, *request),
            Event::ClientReply(reply) => {
                let (from, request, reply) = *reply;
                self.on_client_reply(from, request, reply)
            }
            Event::ClientTimeout { client, op } => self.on_client_timeout(client, op),
            Event::ClientWake { client } => self.on_client_wake(client),
            Event::Fault { index } => self.on_fault(index),
            Event::Resume { node, pause_id } => self.on_resume(node, pause_id),
            Event::SyncDone {
                node,
                incarnation,
                sync_id,
                persisted_upto,
            } => self.on_sync_done(node, incarnation, sync_id, persisted_upto),
            Event::SettleStart => self.on_settle_start(),
            Event::Sample { generation } => self.on_sample(generation),
        }
    }

    // ----- nodes -------------------------------------------------------------------------

    fn start_node(&mut self, node: NodeId, config: &P::Config) {
        let n = self.config.node_count;
        let runtime = &mut self.nodes[node.index()];
        debug_assert!(runtime.state.is_none(), "only a stopped node starts");
        let mut effects = std::mem::take(&mut self.effects);
        let mut ctx = Ctx::new(
            node,
            n,
            self.now,
            &runtime.clock,
            &mut runtime.rng,
            &mut effects,
        );
        let state = P::start(config, &runtime.synced, &mut ctx);
        runtime.state = Some(state);
        self.effects = effects;
        self.apply_effects(node);
        self.check_invariants(node);
    }

    /// Runs one handler on a live node, then applies its effects and checks invariants.
    #[inline]
    fn step_node(&mut self, node: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P>)) {
        let n = self.config.node_count;
        let runtime = &mut self.nodes[node.index()];
        let state = runtime
            .state
            .as_mut()
            .expect("handlers run only on live nodes");
        let mut ctx = Ctx::new(
            node,
            n,
            self.now,
            &runtime.clock,
            &mut runtime.rng,
            &mut self.effects,
        );
        handler(state, &mut ctx);
        self.apply_effects(node);
        self.check_invariants(node);
    }

    fn apply_effects(&mut self, node: NodeId) {
        if self.effects.is_empty() {
            return;
        }
        let mut effects = std::mem::take(&mut self.effects);
        let mut holding_for: Option<u64> = None;
        // Reversed and popped: cheaper than a drain for the one or two effects most handlers
        // record, and the buffer keeps its capacity for the next handler.
        effects.reverse();
        while let Some(effect) = effects.pop() {
            match effect {
                Effect::Send { to, message } => match holding_for {
                    Some(sync_id) => self.nodes[node.index()]
                        .held
                        .push((sync_id, Held::Send(to, message))),
                    None => self.send(node, to, message),
                },
                Effect::Reply { request, reply } => match holding_for {
                    Some(sync_id) => self.nodes[node.index()]
                        .held
                        .push((sync_id, Held::Reply(request, reply))),
                    None => self.reply(node, request, reply),
                },
                Effect::SetTimer { timer, after } => self.set_timer(node, timer, after),
                Effect::CancelTimer { timer } => {
                    self.nodes[node.index()].timers.remove(&timer);
                }
                Effect::Persist(write) => {
                    let runtime = &mut self.nodes[node.index()];
                    runtime.unsynced.push_back(write);
                    runtime.persisted_total += 1;
                }
                Effect::Sync => {
                    let latency = self.config.storage.sync_latency;
                    let runtime = &mut self.nodes[node.index()];
                    let upto = runtime.persisted_total;
                    // Like fsync: nothing dirty costs nothing, and writes a running sync
                    // already covers wait for that sync rather than start another.
                    if latency == SimDuration::ZERO {
                        runtime.sync_upto(upto);
                    } else if runtime.synced_total == upto {
                        // Everything is durable already (so no sync is running either).
                    } else if let Some((sync_id, _)) =
                        runtime.sync_in_flight.filter(|(_, covers)| *covers >= upto)
                    {
                        holding_for = Some(sync_id);
                    } else {
                        runtime.next_sync_id += 1;
                        let sync_id = runtime.next_sync_id;
                        let event = Event::SyncDone {
                            node,
                            incarnation: runtime.incarnation,
                            sync_id,
                            persisted_upto: runtime.persisted_total,
                        };
                        holding_for = Some(sync_id);
                        runtime.sync_in_flight = Some((sync_id, upto));
                        self.schedule(self.now + latency, event);
                    }
                }
                Effect::Annotate(text) => {
                    let detail = digest(text.as_str());
                    self.record(TraceKind::Annotation, node, 0, detail, || text);
                }
            }
        }
        self.effects = effects;
    }

    fn set_timer(&mut self, node: NodeId, timer: P::Timer, after: SimDuration) {
        let runtime = &mut self.nodes[node.index()];
        runtime.timer_generation += 1;
        let generation = runtime.timer_generation;
        let mut deadline = runtime.clock.deadline_after(self.now, after);
        let slack = runtime.clock.timer_slack();
        if slack > SimDuration::ZERO {
            deadline += SimDuration(runtime.slack_rng.below(slack.0 + 1));
        }
        let incarnation = runtime.incarnation;
        runtime.timers.insert(timer.clone(), generation);
        self.schedule(
            deadline,
            Event::Timer {
                node,
                incarnation,
                timer,
                generation,
            },
        );
    }

    #[inline]
    fn check_invariants(&mut self, node: NodeId) {
        if !self.invariants.is_empty() {
            self.evaluate_invariants(node);
        }
    }

    fn evaluate_invariants(&mut self, node: NodeId) {
        let table = NodeTable(&self.nodes);
        let view = ClusterView::new(node, self.now, &table);
        for (index, invariant) in self.invariants.iter_mut().enumerate() {
            if self.violated[index] {
                continue;
            }
            if let Err(failure) = invariant.check(&view) {
                self.violated[index] = true;
                self.violations.push(InvariantViolation {
                    invariant: invariant.name().to_string(),
                    event: self.trigger_event,
                    time: self.now,
                    nodes: failure.nodes,
                    explanation: failure.explanation,
                });
                if self.violation_window.is_none() {
                    self.violation_window = Some(self.window.to_vec());
                }
            }
        }
    }

    // ----- messages ----------------------------------------------------------------------

    #[inline]
    fn send(&mut self, from: NodeId, to: NodeId, message: P::Message) {
        let message_digest = digest(&message);
        self.net.sent += 1;
        self.record(TraceKind::Send, from, to.0, message_digest, || {
            format!("{from} -> {to}: {message:?}")
        });
        match self
            .network
            .transmit(from, to, P::message_class(&message), self.now)
        {
            Transmission::Drop(reason) => {
                *self.net.dropped.entry(reason).or_default() += 1;
                self.record(TraceKind::Drop(reason), from, to.0, message_digest, || {
                    format!("{from} -> {to} dropped: {}", reason.name())
                });
            }
            Transmission::Deliver(at, duplicate) => {
                if let Some(again) = duplicate {
                    self.net.duplicated += 1;
                    self.record(TraceKind::Duplicate, from, to.0, message_digest, || {
                        format!("{from} -> {to} duplicated, copy due at {again}")
                    });
                    self.schedule(
                        again,
                        Event::Deliver {
                            from,
                            to,
                            message: message.clone(),
                            digest: message_digest,
                            arrived: false,
                        },
                    );
                }
                self.schedule(
                    at,
                    Event::Deliver {
                        from,
                        to,
                        message,
                        digest: message_digest,
                        arrived: false,
                    },
                );
            }
        }
    }

    fn drop_message(&mut self, from: NodeId, to: NodeId, message_digest: u64, reason: DropReason) {
        *self.net.dropped.entry(reason).or_default() += 1;
        self.record(TraceKind::Drop(reason), from, to.0, message_digest, || {
            format!("{from} -> {to} dropped: {}", reason.name())
        });
    }

    #[inline]
    fn on_deliver(
        &mut self,
        from: NodeId,
        to: NodeId,
        message: P::Message,
        message_digest: u64,
        arrived: bool,
    ) {
        if !self.nodes[to.index()].is_up() {
            return self.drop_message(from, to, message_digest, DropReason::DestinationDown);
        }
        if !arrived && self.network.is_blocked(from, to) {
            return self.drop_message(from, to, message_digest, DropReason::PartitionedInFlight);
        }
        self.net.delivered += 1;
        self.trigger_event = self.record(TraceKind::Deliver, to, from.0, message_digest, || {
            format!("{from} -> {to}: {message:?}")
        });
        self.step_node(to, |state, ctx| state.on_message(from, message, ctx));
    }

    fn on_timer(&mut self, node: NodeId, incarnation: u32, timer: P::Timer, generation: u64) {
        let runtime = &mut self.nodes[node.index()];
        if runtime.incarnation != incarnation || !runtime.is_up() {
            return;
        }
        if runtime.timers.get(&timer) != Some(&generation) {
            return; // Cancelled or replaced by a later setting.
        }
        runtime.timers.remove(&timer);
        let timer_digest = digest(&timer);
        self.trigger_event = self.record(TraceKind::Timer, node, 0, timer_digest, || {
            format!("{node} timer {timer:?}")
        });
        self.step_node(node, |state, ctx| state.on_timer(timer, ctx));
    }

    fn on_request(&mut self, node: NodeId, request: Request) {
        let client = request.id.client;
        if !self.nodes[node.index()].is_up() {
            self.record(
                TraceKind::RequestLost,
                node,
                client.0,
                request.id.op.0,
                || format!("{client} -> {node}: {:?} lost, node is down", request.op),
            );
            return;
        }
        self.trigger_event =
            self.record(TraceKind::Request, node, client.0, request.id.op.0, || {
                format!("{client} -> {node}: {:?} ({})", request.op, request.id.op)
            });
        self.step_node(node, |state, ctx| state.on_request(request, ctx));
    }

    fn reply(&mut self, node: NodeId, request: RequestId, reply: Reply) {
        let client = request.client;
        self.record(TraceKind::Reply, node, client.0, request.op.0, || {
            format!("{node} -> {client}: {reply:?} ({})", request.op)
        });
        let latency = self.client_hop(client);
        self.schedule(
            self.now + latency,
            Event::ClientReply(Box::new((node, request, reply))),
        );
    }

    fn on_sync_done(&mut self, node: NodeId, incarnation: u32, sync_id: u64, upto: u64) {
        let runtime = &mut self.nodes[node.index()];
        if runtime.incarnation != incarnation || !runtime.is_up() {
            return;
        }
        runtime.sync_upto(upto);
        if runtime
            .sync_in_flight
            .is_some_and(|(latest, _)| latest == sync_id)
        {
            runtime.sync_in_flight = None;
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut runtime.held)
            .into_iter()
            .partition(|(id, _)| *id <= sync_id);
        runtime.held = waiting;
        self.record(TraceKind::SyncDone, node, 0, upto, || {
            format!("{node} sync done: {upto} writes durable")
        });
        for (_, held) in ready {
            match held {
                Held::Send(to, message) => self.send(node, to, message),
                Held::Reply(request, reply) => self.reply(node, request, reply),
            }
        }
    }

    // ----- faults ------------------------------------------------------------------------

    fn on_fault(&mut self, index: usize) {
        let fault = self.config.schedule[index].clone();
        let description = fault.action.to_string();
        let event = self.record(
            TraceKind::Fault,
            NodeId(0),
            fault.action.tag() as u32,
            index as u64,
            || description.clone(),
        );
        // A restart runs the protocol's start: an invariant failing there points at the fault.
        self.trigger_event = event;
        let effective = self.apply_fault(&fault.action);
        self.faults.push(AppliedFault {
            event,
            at: self.now,
            description,
            action: fault.action,
            origin: fault.origin,
            effective,
        });
    }

    fn apply_fault(&mut self, action: &FaultAction) -> bool {
        match action {
            FaultAction::Cut { id, cut, .. } => {
                self.network.add_cut(*id, cut.clone());
                true
            }
            FaultAction::Heal { id } => self.network.remove_cut(*id),
            FaultAction::HealAll => {
                let any = self.network.active_cuts() > 0;
                self.network.heal_all();
                any
            }
            FaultAction::Crash(node) => self.crash(*node),
            FaultAction::Restart(node) => {
                if self.nodes[node.index()].is_up() {
                    return false;
                }
                let config = self.config.protocol.clone();
                self.start_node(*node, &config);
                true
            }
            FaultAction::Pause { node, duration } => self.pause(*node, *duration),
            FaultAction::ClockStep { node, by } => {
                self.nodes[node.index()].clock.step(self.now, *by);
                true
            }
            FaultAction::ClockSlew { node, by, rate_ppm } => {
                self.nodes[node.index()]
                    .clock
                    .slew(self.now, *by, *rate_ppm);
                true
            }
        }
    }

    fn crash(&mut self, node: NodeId) -> bool {
        let lose_unsynced = self.config.storage.lose_unsynced_on_crash;
        let runtime = &mut self.nodes[node.index()];
        if !runtime.is_up() {
            return false;
        }
        runtime.state = None;
        runtime.incarnation += 1;
        runtime.timers.clear();
        runtime.paused_until = None;
        if lose_unsynced {
            runtime.unsynced.clear();
        } else {
            let upto = runtime.persisted_total;
            runtime.sync_upto(upto);
        }
        runtime.persisted_total = 0;
        runtime.synced_total = 0;
        runtime.sync_in_flight = None;
        let held = std::mem::take(&mut runtime.held);
        let deferred = std::mem::take(&mut runtime.deferred);
        for (_, held) in held {
            if let Held::Send(to, message) = held {
                let message_digest = digest(&message);
                self.drop_message(
                    node,
                    to,
                    message_digest,
                    DropReason::SenderCrashedBeforeSync,
                );
            }
        }
        for event in deferred {
            match event {
                Event::Deliver { from, digest, .. } => {
                    self.drop_message(from, node, digest, DropReason::DestinationDown)
                }
                Event::Request { request, .. } => {
                    let client = request.id.client;
                    self.record(
                        TraceKind::RequestLost,
                        node,
                        client.0,
                        request.id.op.0,
                        || format!("{client} -> {node}: request lost in crash"),
                    );
                }
                _ => {}
            }
        }
        true
    }

    fn pause(&mut self, node: NodeId, duration: SimDuration) -> bool {
        let until = self.now + duration;
        let runtime = &mut self.nodes[node.index()];
        if !runtime.is_up() {
            return false;
        }
        let until = runtime
            .paused_until
            .map_or(until, |current| current.max(until));
        runtime.paused_until = Some(until);
        runtime.pause_id += 1;
        let pause_id = runtime.pause_id;
        self.schedule(until, Event::Resume { node, pause_id });
        true
    }

    fn on_resume(&mut self, node: NodeId, pause_id: u64) {
        let runtime = &mut self.nodes[node.index()];
        if runtime.pause_id != pause_id || runtime.paused_until.is_none() {
            return;
        }
        runtime.paused_until = None;
        let deferred = std::mem::take(&mut runtime.deferred);
        let waiting = deferred.len() as u64;
        self.record(TraceKind::Resume, node, 0, waiting, || {
            format!("{node} resumes with {waiting} events waiting")
        });
        // Everything that arrived during the pause is handled now, in arrival order.
        for event in deferred {
            self.schedule(self.now, event);
        }
    }

    // ----- clients -----------------------------------------------------------------------

    fn think_time(&mut self, client: ClientId) -> SimDuration {
        let mean = self.config.workload.interval_mean;
        let rng = &mut self.clients[client.index()].rng;
        SimDuration(rng.exponential_nanos(mean.0))
    }

    fn on_client_wake(&mut self, client: ClientId) {
        let workload = &self.config.workload;
        let runtime = &self.clients[client.index()];
        if runtime.stopped || self.phase != Phase::Faults {
            return;
        }
        if workload
            .ops_per_client_max
            .is_some_and(|limit| runtime.issued >= limit)
        {
            self.clients[client.index()].stopped = true;
            return;
        }
        let open = workload.mode == LoadMode::Open;
        if !open || runtime.outstanding.len() < workload.outstanding_max as usize {
            self.issue(client);
        }
        if open {
            let delay = self.think_time(client);
            self.schedule(self.now + delay, Event::ClientWake { client });
        }
    }

    fn issue(&mut self, client: ClientId) {
        let node_count = self.config.node_count;
        let workload = &self.config.workload;
        let runtime = &mut self.clients[client.index()];
        let choice = workload.choose_op(&mut runtime.rng);
        let key = self.key_chooser.choose(&mut runtime.rng);
        let node = match workload.target {
            Target::Sticky => runtime.home,
            Target::Random => NodeId(runtime.rng.below(node_count as u64) as u32),
            Target::Leader => runtime.leader.unwrap_or(runtime.home),
        };
        let id = OpId(self.history.len() as u64);
        runtime.issued += 1;
        let (kind, op, write, expected) = match choice {
            OpChoice::Get => (OpKind::Get, Op::Get { key }, None, None),
            OpChoice::Put => {
                let value = Value(self.next_value);
                self.next_value += 1;
                let context = runtime.contexts.get(&key).cloned();
                let op = Op::Put {
                    key,
                    value,
                    context,
                };
                (OpKind::Put, op, Some(value), None)
            }
            OpChoice::Cas => {
                let new = Value(self.next_value);
                self.next_value += 1;
                let expected = runtime.last_seen.get(&key).copied().flatten();
                let op = Op::Cas { key, expected, new };
                (OpKind::Cas, op, Some(new), expected)
            }
        };
        let request = Request {
            id: RequestId {
                client,
                op: id,
                seq: runtime.issued,
                attempt: 0,
            },
            op,
        };
        self.history.push(Operation {
            id,
            client,
            node,
            kind,
            key,
            write,
            expected,
            invoke: self.now,
            complete: None,
            outcome: Outcome::Unknown,
            read: None,
            note: None,
        });
        runtime.outstanding.insert(
            id,
            Outstanding {
                request: request.clone(),
                node,
                attempt: 0,
            },
        );
        let timeout = workload.timeout;
        self.send_request(client, node, request);
        self.schedule(self.now + timeout, Event::ClientTimeout { client, op: id });
    }

    /// One trip between `client` and a node, drawn from the client's own link stream (the
    /// same stream both ways, so requests and replies keep their order of draws).
    fn client_hop(&mut self, client: ClientId) -> SimDuration {
        let runtime = &mut self.clients[client.index()];
        self.config
            .workload
            .client_latency
            .sample(&mut runtime.link_rng)
    }

    fn send_request(&mut self, client: ClientId, node: NodeId, request: Request) {
        let op = request.id.op;
        self.record(TraceKind::Invoke, node, client.0, op.0, || {
            format!("{client} invokes {:?} on {node} ({op})", request.op)
        });
        let latency = self.client_hop(client);
        self.schedule(
            self.now + latency,
            Event::Request {
                node,
                request: Box::new(request),
            },
        );
    }

    fn on_client_reply(&mut self, from: NodeId, request: RequestId, reply: Reply) {
        let client = request.client;
        let runtime = &mut self.clients[client.index()];
        let Some(outstanding) = runtime.outstanding.get_mut(&request.op) else {
            return; // Already timed out: the outcome stays unknown.
        };
        if outstanding.attempt != request.attempt {
            return; // An answer to an earlier attempt of a redirected operation.
        }
        if let Reply::Redirect(hint) = reply {
            return self.redirect(client, request.op, from, hint);
        }
        runtime.outstanding.remove(&request.op);
        let op = &mut self.history[request.op.0 as usize];
        op.complete = Some(self.now);
        match reply {
            Reply::Ok(result) => {
                op.outcome = Outcome::Ok;
                match result {
                    OpResult::Read { values, context } => {
                        let seen = if values.len() == 1 {
                            Some(values[0])
                        } else {
                            None
                        };
                        runtime.last_seen.insert(op.key, seen);
                        match context {
                            Some(context) => runtime.contexts.insert(op.key, context),
                            None => runtime.contexts.remove(&op.key),
                        };
                        op.read = Some(values);
                    }
                    OpResult::Written | OpResult::Swapped => {
                        runtime.last_seen.insert(op.key, op.write);
                    }
                }
            }
            Reply::Fail(reason) => {
                op.outcome = Outcome::Fail;
                op.note = Some(reason);
            }
            Reply::Indeterminate(reason) => {
                op.outcome = Outcome::Unknown;
                op.complete = None;
                op.note = Some(reason);
            }
            Reply::Redirect(_) => unreachable!("handled above"),
        }
        let outcome = op.outcome;
        let op_id = request.op;
        self.record(TraceKind::Complete, from, client.0, op_id.0, || {
            format!("{client} completes {op_id}: {outcome:?}")
        });
        self.after_completion(client);
    }

    fn redirect(&mut self, client: ClientId, op: OpId, from: NodeId, hint: Option<NodeId>) {
        let node_count = self.config.node_count;
        let redirects_max = self.config.workload.redirects_max;
        let follow_leader = self.config.workload.target == Target::Leader;
        let runtime = &mut self.clients[client.index()];
        let outstanding = runtime
            .outstanding
            .get_mut(&op)
            .expect("redirect of an outstanding operation");
        if outstanding.attempt >= redirects_max {
            runtime.outstanding.remove(&op);
            let entry = &mut self.history[op.0 as usize];
            entry.outcome = Outcome::Fail;
            entry.complete = Some(self.now);
            entry.note = Some(format!("gave up after {redirects_max} redirects"));
            self.record(TraceKind::Complete, from, client.0, op.0, || {
                format!("{client} gives up {op} after {redirects_max} redirects")
            });
            return self.after_completion(client);
        }
        let next = match hint {
            Some(node) if node != from => node,
            _ if node_count > 1 => {
                NodeId((from.0 + 1 + runtime.rng.below(node_count as u64 - 1) as u32) % node_count)
            }
            _ => from,
        };
        if follow_leader {
            runtime.leader = Some(next);
        }
        outstanding.attempt += 1;
        outstanding.node = next;
        outstanding.request.id.attempt = outstanding.attempt;
        let request = outstanding.request.clone();
        self.history[op.0 as usize].node = next;
        self.send_request(client, next, request);
    }

    fn on_client_timeout(&mut self, client: ClientId, op: OpId) {
        let runtime = &mut self.clients[client.index()];
        let Some(outstanding) = runtime.outstanding.remove(&op) else {
            return;
        };
        if self.config.workload.target == Target::Leader {
            // The guess went unanswered: try the next node, as a client rotating through its
            // endpoints would, rather than its home node again (which may be the one down).
            let next = (outstanding.node.0 + 1) % self.config.node_count;
            runtime.leader = Some(NodeId(next));
        }
        let timeout = self.config.workload.timeout;
        let entry = &mut self.history[op.0 as usize];
        entry.note = Some(format!("no reply within {timeout}"));
        self.record(
            TraceKind::ClientTimeout,
            outstanding.node,
            client.0,
            op.0,
            || format!("{client} timed out on {op}"),
        );
        self.after_completion(client);
    }

    fn after_completion(&mut self, client: ClientId) {
        if self.config.workload.mode == LoadMode::Closed && self.phase == Phase::Faults {
            let delay = self.think_time(client);
            self.schedule(self.now + delay, Event::ClientWake { client });
        }
    }

    // ----- phases and sampling -----------------------------------------------------------

    fn on_settle_start(&mut self) {
        let settle = self.config.settle.clone().expect("settle configured");
        self.phase = Phase::Settle;
        self.record(TraceKind::SettleStart, NodeId(0), 0, 0, || {
            "settle: faults heal, clients stop".to_string()
        });
        self.apply_settle_fault(FaultAction::HealAll);
        for index in 0..self.nodes.len() {
            let node = NodeId(index as u32);
            if self.nodes[index].paused_until.is_some() {
                // A pause still running ends now.
                let pause_id = self.nodes[index].pause_id;
                self.on_resume(node, pause_id);
            } else if !self.nodes[index].is_up() && settle.restart_crashed {
                self.apply_settle_fault(FaultAction::Restart(node));
            }
        }
        self.settle = Some(SettleOutcome {
            started: self.now,
            converged_at: None,
            deadline: self.now + settle.duration_max,
        });
        // Compare replicas from now on at the settle pace, starting at once.
        self.sample_generation += 1;
        let generation = self.sample_generation;
        self.schedule(self.now, Event::Sample { generation });
    }

    fn apply_settle_fault(&mut self, action: FaultAction) {
        let description = action.to_string();
        let event = self.record(
            TraceKind::Fault,
            NodeId(0),
            action.tag() as u32,
            u64::MAX,
            || description.clone(),
        );
        self.trigger_event = event;
        let effective = self.apply_fault(&action);
        self.faults.push(AppliedFault {
            event,
            at: self.now,
            description,
            action,
            origin: FaultOrigin::Settle,
            effective,
        });
    }

    fn on_sample(&mut self, generation: u64) {
        if generation != self.sample_generation {
            return; // The fault phase's sampling chain, superseded by settle's.
        }
        let keys_diverged = self.count_diverged_keys();
        self.divergence.push(DivergenceSample {
            time: self.now,
            keys_diverged,
        });
        match self.phase {
            Phase::Faults => {
                let next = self.now + self.config.sample_every.max(SimDuration(1));
                self.schedule(next, Event::Sample { generation });
            }
            Phase::Settle => {
                let all_running = self
                    .nodes
                    .iter()
                    .all(|n| n.paused_until.is_none() && (n.is_up() || !self.restarts_on_settle()));
                let pending = self
                    .nodes
                    .iter()
                    .any(|n| n.state.as_ref().is_some_and(P::has_pending_work));
                if keys_diverged == 0 && all_running && !pending {
                    if let Some(settle) = self.settle.as_mut() {
                        settle.converged_at = Some(self.now);
                    }
                    self.phase = Phase::Done;
                    return;
                }
                let every = self
                    .config
                    .settle
                    .as_ref()
                    .map_or(SimDuration(1), |s| s.check_every);
                self.schedule(
                    self.now + every.max(SimDuration(1)),
                    Event::Sample { generation },
                );
            }
            Phase::Done => {}
        }
    }

    fn restarts_on_settle(&self) -> bool {
        self.config
            .settle
            .as_ref()
            .is_some_and(|s| s.restart_crashed)
    }

    fn count_diverged_keys(&mut self) -> u32 {
        for (index, buffer) in self.view_buffers.iter_mut().enumerate() {
            buffer.clear();
            if let Some(state) = &self.nodes[index].state {
                state.replica_view(buffer);
            }
        }
        for (index, view) in self.view_buffers.iter().enumerate() {
            if !self.nodes[index].is_up() {
                continue;
            }
            for value in view.values().flatten() {
                self.first_seen.entry(*value).or_insert(self.now);
            }
        }
        let mut diverged = 0;
        let empty: Vec<Value> = Vec::new();
        let mut flags = std::mem::take(&mut self.diverged_scratch);
        flags.clear();
        for (key, replicas) in self.key_replicas.iter().enumerate() {
            let key = Key(key as u32);
            let mut first: Option<&Vec<Value>> = None;
            let mut differs = false;
            for node in replicas {
                if !self.nodes[node.index()].is_up() {
                    continue;
                }
                let held = self.view_buffers[node.index()].get(&key).unwrap_or(&empty);
                match first {
                    None => first = Some(held),
                    Some(expected) if expected != held => {
                        diverged += 1;
                        differs = true;
                        break;
                    }
                    Some(_) => {}
                }
            }
            flags.push(differs);
        }
        for (key, differs) in flags.iter().enumerate() {
            self.track_key_divergence(Key(key as u32), *differs);
        }
        self.diverged_scratch = flags;
        diverged
    }

    /// Opens or closes the stretch of disagreement of `key`; reports read these to say which
    /// fault lay behind each one. Nothing here touches the trace.
    fn track_key_divergence(&mut self, key: Key, differs: bool) {
        let slot = key.0 as usize;
        match (differs, self.open_divergences[slot]) {
            (true, None) => {
                if self.key_divergences.len() >= KEY_DIVERGENCES_MAX {
                    self.key_divergences_dropped += 1;
                    self.open_divergences[slot] = Some(None);
                    return;
                }
                let holdings = self.key_replicas[slot]
                    .iter()
                    .filter(|node| self.nodes[node.index()].is_up())
                    .map(|node| {
                        let held = self.view_buffers[node.index()].get(&key);
                        (*node, held.cloned().unwrap_or_default())
                    })
                    .collect();
                self.open_divergences[slot] = Some(Some(self.key_divergences.len()));
                self.key_divergences.push(KeyDivergence {
                    key,
                    start: self.now,
                    end: None,
                    holdings,
                });
            }
            (false, Some(open)) => {
                if let Some(index) = open {
                    self.key_divergences[index].end = Some(self.now);
                }
                self.open_divergences[slot] = None;
            }
            _ => {}
        }
    }

    fn finish(mut self) -> (RunResult, Vec<Option<P>>) {
        if self.phase == Phase::Faults {
            // A run without settle ends at the end of the fault phase.
            self.now = self
                .now
                .max(SimTime::ZERO + self.config.duration)
                .min(self.end);
        }
        let final_views = self
            .nodes
            .iter()
            .map(|node| {
                node.state.as_ref().map(|state| {
                    let mut view = ReplicaView::new();
                    state.replica_view(&mut view);
                    view
                })
            })
            .collect();
        let clocks = self.nodes.iter().map(|n| n.clock.clone()).collect();
        let states = self.nodes.into_iter().map(|n| n.state).collect();
        let result = RunResult {
            seed: self.config.seed,
            trace_hash: self.hasher.finish(),
            events: self.events,
            end_time: self.now,
            history: History { ops: self.history },
            final_views,
            key_replicas: self.key_replicas,
            violations: self.violations,
            divergence: self.divergence,
            first_seen: self.first_seen,
            settle: self.settle,
            net: self.net,
            faults: self.faults,
            window: self.window.to_vec(),
            violation_window: self.violation_window,
            full_trace: self.full_trace,
            limit_reached: self.limit_reached,
            clocks,
            key_divergences: self.key_divergences,
            key_divergences_dropped: self.key_divergences_dropped,
        };
        (result, states)
    }
}
