//! The same workloads on faultline's real engine: a small `Protocol` per workload, run by
//! `Simulation` with the full model on (drifting per-node clocks, links with latency
//! distributions and drop/duplicate checks, trace hashing, the trace window).

use crate::Workload;
use serde::{Deserialize, Serialize};
use sim_core::clock::NodeClock;
use sim_core::engine::{Limits, RunOptions, RunResult, SimConfig, Simulation, StorageConfig};
use sim_core::ids::NodeId;
use sim_core::network::{Delivery, Latency, LinkConfig};
use sim_core::protocol::{Ctx, Protocol, ReplicaView, Request};
use sim_core::rng::Probability;
use sim_core::time::{SignedDuration, SimDuration};
use sim_core::workload::WorkloadConfig;

/// Local monotonic time between two broadcast ticks.
const TICK_EVERY: SimDuration = SimDuration::from_millis(10);

/// Clock drift of the nodes, alternating fast and slow so that timer deadlines go through
/// the clock inversion in both directions.
const DRIFT_PPM: i64 = 20;

/// Options of the ping-pong protocol.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PingPongConfig {
    /// Round trips node 0 starts before it stops.
    pub round_trips: u64,
}

/// Node 0 sends round 0 to node 1, node 1 echoes every round, node 0 sends the next.
pub struct PingPong {
    round_trips: u64,
}

impl Protocol for PingPong {
    const NAME: &'static str = "bench-ping-pong";
    const SUMMARY: &'static str = "two nodes bounce a round number back and forth";
    type Config = PingPongConfig;
    type Message = u64;
    type Timer = ();
    type Durable = ();

    fn start(config: &PingPongConfig, _durable: &(), ctx: &mut Ctx<Self>) -> Self {
        if ctx.node() == NodeId(0) && config.round_trips > 0 {
            ctx.send(NodeId(1), 0);
        }
        PingPong {
            round_trips: config.round_trips,
        }
    }

    fn on_message(&mut self, from: NodeId, round: u64, ctx: &mut Ctx<Self>) {
        if ctx.node() == NodeId(1) {
            ctx.send(from, round);
        } else if round + 1 < self.round_trips {
            ctx.send(from, round + 1);
        }
    }

    fn on_timer(&mut self, _timer: (), _ctx: &mut Ctx<Self>) {}

    fn on_request(&mut self, _request: Request, _ctx: &mut Ctx<Self>) {
        unreachable!("the benchmark runs without workload clients");
    }

    fn replica_view(&self, _view: &mut ReplicaView) {}
}

/// Options of the broadcast protocol.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BroadcastConfig {
    /// Ticks each node makes before it stops.
    pub ticks: u64,
}

/// The broadcast protocol's only timer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tick;

/// Every tick, a node sends its counter to every other node; it remembers the highest
/// counter heard from each peer.
pub struct Broadcast {
    ticks_max: u64,
    counter: u64,
    heard: Vec<u64>,
}

impl Protocol for Broadcast {
    const NAME: &'static str = "bench-broadcast";
    const SUMMARY: &'static str = "every node sends a counter to all others every 10 ms";
    type Config = BroadcastConfig;
    type Message = u64;
    type Timer = Tick;
    type Durable = ();

    fn start(config: &BroadcastConfig, _durable: &(), ctx: &mut Ctx<Self>) -> Self {
        if config.ticks > 0 {
            ctx.set_timer(Tick, TICK_EVERY);
        }
        Broadcast {
            ticks_max: config.ticks,
            counter: 0,
            heard: vec![0; ctx.node_count() as usize],
        }
    }

    fn on_message(&mut self, from: NodeId, counter: u64, _ctx: &mut Ctx<Self>) {
        let heard = &mut self.heard[from.index()];
        *heard = (*heard).max(counter);
    }

    fn on_timer(&mut self, _timer: Tick, ctx: &mut Ctx<Self>) {
        self.counter += 1;
        ctx.broadcast(self.counter);
        if self.counter < self.ticks_max {
            ctx.set_timer(Tick, TICK_EVERY);
        }
    }

    fn on_request(&mut self, _request: Request, _ctx: &mut Ctx<Self>) {
        unreachable!("the benchmark runs without workload clients");
    }

    fn replica_view(&self, _view: &mut ReplicaView) {}
}

/// A run's configuration, built directly: every node drifts by ±`DRIFT_PPM`, every link has
/// `latency`, drop and duplicate checks at probability 0, FIFO delivery (the scenario
/// default), no faults, no clients, no settle.
fn sim_config<P: Protocol>(
    seed: u64,
    nodes: u32,
    protocol: P::Config,
    latency: Latency,
    duration: SimDuration,
) -> SimConfig<P> {
    let clocks = (0..nodes)
        .map(|i| {
            let drift_ppm = if i % 2 == 0 { DRIFT_PPM } else { -DRIFT_PPM };
            NodeClock::new(SignedDuration(0), drift_ppm)
        })
        .collect();
    let link = LinkConfig {
        latency,
        class_latency: Default::default(),
        drop: Probability::NEVER,
        duplicate: Probability::NEVER,
        delivery: Delivery::Fifo,
    };
    SimConfig {
        seed,
        node_count: nodes,
        protocol,
        clocks,
        links: vec![link; (nodes * nodes) as usize],
        storage: StorageConfig::default(),
        schedule: Vec::new(),
        workload: WorkloadConfig {
            clients: 0,
            ..Default::default()
        },
        duration,
        settle: None,
        limits: Limits {
            events_max: u64::MAX,
            ..Default::default()
        },
        // One divergence sample at the start and one at the end: there is nothing to compare.
        sample_every: duration,
    }
}

/// Runs `workload` with `seed` on faultline's engine.
pub fn run(workload: Workload, seed: u64) -> RunResult {
    let duration = workload.duration();
    match workload {
        Workload::PingPong { round_trips } => {
            let config = PingPongConfig { round_trips };
            let latency = Latency::Constant(SimDuration::from_millis(1));
            let config = sim_config::<PingPong>(seed, 2, config, latency, duration);
            Simulation::new(config, RunOptions::default()).run()
        }
        Workload::Broadcast { nodes, ticks } => {
            let config = BroadcastConfig { ticks };
            let latency = Latency::Uniform {
                min: SimDuration::from_millis(1),
                max: SimDuration::from_millis(10),
            };
            let config = sim_config::<Broadcast>(seed, nodes, config, latency, duration);
            Simulation::new(config, RunOptions::default()).run()
        }
    }
}
