//! The engine's semantics, end to end: network statistics, FIFO and reordering, partitions,
//! pauses, crashes, durability, timers under drift. Each test drives a tiny purpose-built
//! protocol through the real event loop.

use sim_core::clock::NodeClock;
use sim_core::engine::{Limits, RunOptions, RunResult, SimConfig, Simulation, StorageConfig};
use sim_core::fault::{CutKind, FaultAction, FaultOrigin, ScheduledFault};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::network::{Cut, Delivery, DropReason, Latency, LinkConfig};
use sim_core::protocol::{
    ClusterView, Ctx, Durable, Invariant, InvariantFailure, Protocol, ReplicaView, Request,
};
use sim_core::rng::Probability;
use sim_core::time::{SignedDuration, SimDuration, SimTime, NS_PER_MS};
use sim_core::trace::TraceKind;
use sim_core::workload::WorkloadConfig;

const N1: NodeId = NodeId(0);
const N2: NodeId = NodeId(1);

fn ms(value: u64) -> SimDuration {
    SimDuration::from_millis(value)
}

fn at_ms(value: u64) -> SimTime {
    SimTime(value * NS_PER_MS)
}

/// A config with `n` perfect nodes, 1 ms constant links, no clients and no settle.
fn config<P: Protocol>(n: u32, protocol: P::Config, duration: SimDuration) -> SimConfig<P> {
    SimConfig {
        seed: 11,
        node_count: n,
        protocol,
        clocks: vec![NodeClock::perfect(); n as usize],
        links: vec![LinkConfig::default(); (n * n) as usize],
        storage: StorageConfig::default(),
        schedule: Vec::new(),
        workload: WorkloadConfig {
            clients: 0,
            ..WorkloadConfig::default()
        },
        duration,
        settle: None,
        limits: Limits::default(),
        sample_every: SimDuration::from_secs(1),
    }
}

fn fault(at: SimTime, action: FaultAction) -> ScheduledFault {
    ScheduledFault {
        at,
        action,
        origin: FaultOrigin::Pinned { index: 0 },
    }
}

fn run_full<P: Protocol>(config: SimConfig<P>) -> (RunResult, Vec<Option<P>>) {
    let options = RunOptions {
        keep_full_trace: true,
        ..RunOptions::default()
    };
    Simulation::new(config, options).run_keeping_states()
}

// ----- a sender that streams numbered messages from n1 to n2 -------------------------------------

/// Options of the streaming protocol.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct StreamConfig {
    /// Messages to send in total.
    count: u64,
    /// Messages per tick of 1 ms.
    per_tick: u64,
}

#[derive(Clone, Debug, Hash, PartialEq)]
struct Numbered(u64);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Tick;

/// n1 sends `count` numbered messages to n2; n2 records what it received and when.
#[derive(Clone, Debug, Default)]
struct Stream {
    next: u64,
    count: u64,
    per_tick: u64,
    received: Vec<(u64, SimTime)>,
}

impl Protocol for Stream {
    const NAME: &'static str = "stream";
    const SUMMARY: &'static str = "n1 streams numbered messages to n2";
    type Config = StreamConfig;
    type Message = Numbered;
    type Timer = Tick;
    type Durable = ();

    fn start(config: &StreamConfig, _: &(), ctx: &mut Ctx<Self>) -> Self {
        if ctx.node() == N1 {
            ctx.set_timer(Tick, ms(1));
        }
        Stream {
            count: config.count,
            per_tick: config.per_tick,
            ..Stream::default()
        }
    }

    fn on_message(&mut self, _from: NodeId, message: Numbered, ctx: &mut Ctx<Self>) {
        // The monotonic clock of a perfect node is true time: a portable "now" for the test.
        self.received.push((message.0, SimTime(ctx.monotonic().0)));
    }

    fn on_timer(&mut self, _: Tick, ctx: &mut Ctx<Self>) {
        for _ in 0..self.per_tick {
            if self.next == self.count {
                return;
            }
            ctx.send(N2, Numbered(self.next));
            self.next += 1;
        }
        ctx.set_timer(Tick, ms(1));
    }

    fn on_request(&mut self, _: Request, _: &mut Ctx<Self>) {}

    fn replica_view(&self, _: &mut ReplicaView) {}

    fn invariants(_: &StreamConfig) -> Vec<Box<dyn Invariant<Self>>> {
        vec![Box::new(InOrder)]
    }
}

/// Messages arrive at n2 in the order n1 sent them.
struct InOrder;

impl Invariant<Stream> for InOrder {
    fn name(&self) -> &'static str {
        "in-order"
    }
    fn check(&mut self, view: &ClusterView<'_, Stream>) -> Result<(), InvariantFailure> {
        let Some(receiver) = view.node(N2) else {
            return Ok(());
        };
        let received = &receiver.received;
        if received.len() >= 2 && received[received.len() - 1].0 < received[received.len() - 2].0 {
            return Err(InvariantFailure {
                nodes: vec![N1, N2],
                explanation: format!(
                    "message {} arrived after message {}",
                    received[received.len() - 1].0,
                    received[received.len() - 2].0
                ),
            });
        }
        Ok(())
    }
}

fn stream_config(count: u64, link: LinkConfig) -> SimConfig<Stream> {
    let mut config = config::<Stream>(
        2,
        StreamConfig {
            count,
            per_tick: 100,
        },
        SimDuration::from_secs(count / 100_000 + 10),
    );
    config.links = vec![link; 4];
    config
}

#[test]
fn a_ten_percent_drop_rate_drops_ten_percent_of_100k_messages() {
    let link = LinkConfig {
        drop: Probability::from_f64(0.1).unwrap(),
        ..LinkConfig::default()
    };
    let (result, _) =
        Simulation::new(stream_config(100_000, link), RunOptions::default()).run_keeping_states();
    assert_eq!(result.net.sent, 100_000);
    let lost = result.net.dropped[&DropReason::Lost];
    let rate = lost as f64 / 100_000.0;
    assert!((0.095..=0.105).contains(&rate), "drop rate {rate}");
    assert_eq!(result.net.delivered + lost, 100_000);
}

#[test]
fn duplicates_arrive_twice_and_are_counted() {
    let link = LinkConfig {
        duplicate: Probability::from_f64(0.2).unwrap(),
        ..LinkConfig::default()
    };
    let (result, _) =
        Simulation::new(stream_config(50_000, link), RunOptions::default()).run_keeping_states();
    let rate = result.net.duplicated as f64 / 50_000.0;
    assert!((0.19..=0.21).contains(&rate), "duplicate rate {rate}");
    assert_eq!(result.net.delivered, 50_000 + result.net.duplicated);
}

#[test]
fn fifo_links_never_reorder_and_reordering_links_do() {
    let uniform = Latency::Uniform {
        min: ms(1),
        max: ms(30),
    };
    let fifo = LinkConfig {
        latency: uniform.clone(),
        delivery: Delivery::Fifo,
        ..LinkConfig::default()
    };
    let (result, states) = run_full(stream_config(100_000, fifo));
    assert!(result.violations.is_empty(), "{:?}", result.violations);
    assert_eq!(states[1].as_ref().unwrap().received.len(), 100_000);
    // The same stream over a reordering link: the in-order invariant must catch it.
    let reorder = LinkConfig {
        latency: uniform,
        delivery: Delivery::Reorder,
        ..LinkConfig::default()
    };
    let (result, _) = run_full(stream_config(10_000, reorder));
    assert_eq!(result.violations.len(), 1);
    assert_eq!(result.violations[0].invariant, "in-order");
}

#[test]
fn a_one_way_cut_blocks_a_to_b_and_not_b_to_a() {
    // n1 streams to n2: cutting n1 -> n2 stops everything; cutting n2 -> n1 stops nothing.
    let mut config = stream_config(1_000, LinkConfig::default());
    config.schedule = vec![fault(
        SimTime::ZERO,
        FaultAction::Cut {
            id: 1,
            kind: CutKind::OneWay,
            cut: Cut::one_way(&[N1], &[N2]),
        },
    )];
    let (result, _) = run_full(config);
    assert_eq!(result.net.delivered, 0);
    assert_eq!(result.net.dropped[&DropReason::Partitioned], 1_000);
    let mut config = stream_config(1_000, LinkConfig::default());
    config.schedule = vec![fault(
        SimTime::ZERO,
        FaultAction::Cut {
            id: 1,
            kind: CutKind::OneWay,
            cut: Cut::one_way(&[N2], &[N1]),
        },
    )];
    let (result, _) = run_full(config);
    assert_eq!(result.net.delivered, 1_000);
}

#[test]
fn messages_to_a_paused_node_are_handled_in_order_after_it_resumes() {
    let mut config = stream_config(
        2_000,
        LinkConfig {
            latency: Latency::Uniform {
                min: ms(1),
                max: ms(5),
            },
            ..LinkConfig::default()
        },
    );
    config.schedule = vec![fault(
        at_ms(5),
        FaultAction::Pause {
            node: N2,
            duration: ms(50),
        },
    )];
    let (result, states) = run_full(config);
    assert!(result.violations.is_empty(), "{:?}", result.violations);
    let received = &states[1].as_ref().unwrap().received;
    assert_eq!(received.len(), 2_000);
    let resume = at_ms(55);
    assert!(
        received.iter().all(|(_, t)| *t <= at_ms(5) || *t >= resume),
        "a paused node handled a message"
    );
    let at_resume = received.iter().filter(|(_, t)| *t == resume).count();
    assert!(at_resume > 100, "only {at_resume} handled at resume");
    let numbers: Vec<u64> = received.iter().map(|(n, _)| *n).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "handled out of order"
    );
}

#[test]
fn a_timer_for_one_local_second_fires_at_the_right_true_time_under_drift() {
    let mut config = stream_config(1, LinkConfig::default());
    config.clocks[0] = NodeClock::new(SignedDuration(0), 100);
    config.protocol.per_tick = 0; // n1 only ticks.
    let (result, _) = run_full(config);
    let timers: Vec<SimTime> = result
        .full_trace
        .unwrap()
        .iter()
        .filter(|(r, _)| r.kind == TraceKind::Timer && r.node == N1)
        .map(|(r, _)| r.time)
        .collect();
    // A 1 ms local timer on a clock 100 ppm fast fires after 1 ms / 1.0001 of true time.
    assert_eq!(timers[0], SimTime(999_901));
}

#[test]
fn timer_slack_makes_timers_fire_late_by_up_to_the_slack_and_no_earlier() {
    let fire_times = |slack_us: u64| -> Vec<u64> {
        let mut config = stream_config(1, LinkConfig::default());
        config.clocks[0] = NodeClock::perfect().with_timer_slack(SimDuration(slack_us * 1_000));
        config.protocol.per_tick = 0; // n1 only ticks.
        let (result, _) = run_full(config);
        result
            .full_trace
            .unwrap()
            .iter()
            .filter(|(r, _)| r.kind == TraceKind::Timer && r.node == N1)
            .map(|(r, _)| r.time.0)
            .collect()
    };
    let exact = fire_times(0);
    let intervals = |times: &[u64]| -> Vec<u64> { times.windows(2).map(|w| w[1] - w[0]).collect() };
    assert!(intervals(&exact).iter().all(|&gap| gap == NS_PER_MS));
    let late = fire_times(300);
    assert!(late.len() > 100, "{} timers", late.len());
    // Each tick is set when the previous one fires, so every gap is 1 ms plus that tick's
    // lateness: between 0 and 300 us, spread uniformly (mean 150 us).
    let lateness: Vec<u64> = intervals(&late).iter().map(|gap| gap - NS_PER_MS).collect();
    assert!(lateness.iter().all(|&l| l <= 300_000), "{lateness:?}");
    let mean = lateness.iter().sum::<u64>() as f64 / lateness.len() as f64;
    assert!(
        (mean - 150_000.0).abs() < 30_000.0,
        "mean lateness {mean} ns"
    );
    assert_eq!(fire_times(300), late, "the slack is drawn from the seed");
}

// ----- a node that persists, syncs, crashes and restarts ----------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Disk {
    writes: Vec<u64>,
}

impl Durable for Disk {
    type Write = u64;
    fn apply(&mut self, write: &u64) {
        self.writes.push(*write);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Step {
    WriteSynced,
    WriteUnsynced,
    Late,
}

/// Writes 1 and syncs at 1 ms, writes 2 without syncing at 2 ms, sets a timer for 50 ms, and
/// after a sync sends n2 a message (which must wait for the sync).
#[derive(Clone, Debug)]
struct Diary {
    recovered: Vec<u64>,
    late_fired: bool,
    heard_at: Vec<SimTime>,
}

impl Protocol for Diary {
    const NAME: &'static str = "diary";
    const SUMMARY: &'static str = "persists, syncs and forgets";
    type Config = ();
    type Message = u64;
    type Timer = Step;
    type Durable = Disk;

    fn start(_: &(), durable: &Disk, ctx: &mut Ctx<Self>) -> Self {
        if ctx.node() == N1 && durable.writes.is_empty() {
            ctx.set_timer(Step::WriteSynced, ms(1));
            ctx.set_timer(Step::WriteUnsynced, ms(2));
            ctx.set_timer(Step::Late, ms(50));
        }
        Diary {
            recovered: durable.writes.clone(),
            late_fired: false,
            heard_at: Vec::new(),
        }
    }

    fn on_message(&mut self, _: NodeId, _: u64, ctx: &mut Ctx<Self>) {
        self.heard_at.push(SimTime(ctx.monotonic().0));
    }

    fn on_timer(&mut self, step: Step, ctx: &mut Ctx<Self>) {
        match step {
            Step::WriteSynced => {
                ctx.persist(1);
                ctx.sync();
                ctx.send(N2, 1);
            }
            Step::WriteUnsynced => ctx.persist(2),
            Step::Late => self.late_fired = true,
        }
    }

    fn on_request(&mut self, _: Request, _: &mut Ctx<Self>) {}

    fn replica_view(&self, view: &mut ReplicaView) {
        view.insert(Key(0), self.recovered.iter().map(|v| Value(*v)).collect());
    }
}

fn diary(lose_unsynced_on_crash: bool) -> SimConfig<Diary> {
    let mut config = config::<Diary>(2, (), SimDuration::from_secs(1));
    config.storage = StorageConfig {
        sync_latency: ms(3),
        lose_unsynced_on_crash,
    };
    config.schedule = vec![
        fault(at_ms(10), FaultAction::Crash(N1)),
        fault(at_ms(100), FaultAction::Restart(N1)),
    ];
    config
}

#[test]
fn a_restarted_node_sees_only_synced_state_when_unsynced_writes_are_lost() {
    let (_, states) = run_full(diary(true));
    assert_eq!(states[0].as_ref().unwrap().recovered, vec![1]);
    let (_, states) = run_full(diary(false));
    assert_eq!(states[0].as_ref().unwrap().recovered, vec![1, 2]);
}

#[test]
fn a_crashed_nodes_timers_never_fire() {
    let (result, states) = run_full(diary(true));
    assert!(!states[0].as_ref().unwrap().late_fired);
    let late_timers = result
        .full_trace
        .unwrap()
        .iter()
        .filter(|(r, _)| r.kind == TraceKind::Timer && r.node == N1 && r.time >= at_ms(10))
        .count();
    assert_eq!(late_timers, 0);
}

#[test]
fn a_message_sent_after_sync_leaves_only_when_the_sync_completes() {
    let (_, states) = run_full(diary(true));
    // Sync at 1 ms takes 3 ms; the link takes 1 ms.
    assert_eq!(states[1].as_ref().unwrap().heard_at, vec![at_ms(5)]);
}

#[test]
fn a_crash_before_the_sync_completes_loses_the_held_message() {
    let mut config = diary(true);
    config.schedule[0].at = SimTime(2 * NS_PER_MS);
    let (result, states) = run_full(config);
    // Nothing reached n2 before the restart at 100 ms (after it, the diary starts over).
    let heard = &states[1].as_ref().unwrap().heard_at;
    assert!(heard.iter().all(|t| *t > at_ms(100)), "{heard:?}");
    assert_eq!(result.net.dropped[&DropReason::SenderCrashedBeforeSync], 1);
    // The sync never completed: the restarted node recovered nothing.
    assert!(states[0].as_ref().unwrap().recovered.is_empty());
}

/// Like fsync: at 1 ms writes and syncs (3 ms) and sends 1; at 2 ms syncs with nothing new
/// written and sends 2; at 10 ms, all durable, syncs again and sends 3.
#[derive(Clone, Debug)]
struct Fsync {
    heard: Vec<(u64, SimTime)>,
}

impl Protocol for Fsync {
    const NAME: &'static str = "fsync";
    const SUMMARY: &'static str = "syncs with and without dirty writes";
    type Config = ();
    type Message = u64;
    type Timer = u64;
    type Durable = Disk;

    fn start(_: &(), _: &Disk, ctx: &mut Ctx<Self>) -> Self {
        if ctx.node() == N1 {
            for at in [1, 2, 10] {
                ctx.set_timer(at, ms(at));
            }
        }
        Fsync { heard: Vec::new() }
    }

    fn on_message(&mut self, _: NodeId, message: u64, ctx: &mut Ctx<Self>) {
        self.heard.push((message, SimTime(ctx.monotonic().0)));
    }

    fn on_timer(&mut self, at: u64, ctx: &mut Ctx<Self>) {
        let message = match at {
            1 => {
                ctx.persist(1);
                1
            }
            2 => 2,
            _ => 3,
        };
        ctx.sync();
        ctx.send(N2, message);
    }

    fn on_request(&mut self, _: Request, _: &mut Ctx<Self>) {}

    fn replica_view(&self, _: &mut ReplicaView) {}
}

#[test]
fn a_sync_waits_only_for_writes_not_yet_durable() {
    let mut config = config::<Fsync>(2, (), SimDuration::from_secs(1));
    config.storage = StorageConfig {
        sync_latency: ms(3),
        lose_unsynced_on_crash: true,
    };
    let (result, states) = run_full(config);
    // 1 waits for its sync (1 + 3 ms, then the 1 ms link); 2 waits for that same running
    // sync rather than a new one; 3 finds nothing dirty and leaves at once.
    assert_eq!(
        states[1].as_ref().unwrap().heard,
        vec![(1, at_ms(5)), (2, at_ms(5)), (3, at_ms(11))]
    );
    let syncs = result
        .full_trace
        .unwrap()
        .iter()
        .filter(|(r, _)| r.kind == TraceKind::SyncDone)
        .count();
    assert_eq!(syncs, 1);
}

#[test]
fn same_seed_same_hash_and_another_seed_another_hash() {
    let link = LinkConfig {
        latency: Latency::Exponential {
            min: ms(1),
            mean: ms(3),
        },
        drop: Probability::from_f64(0.05).unwrap(),
        delivery: Delivery::Reorder,
        ..LinkConfig::default()
    };
    let run = |seed| {
        let mut config = stream_config(5_000, link.clone());
        config.seed = seed;
        Simulation::new(config, RunOptions::default())
            .run()
            .trace_hash
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}
