//! The physical limit of the approach: a std `BinaryHeap` of (time, seq, event), one ChaCha8
//! stream, and nodes as plain structs with callbacks. No clocks, no link table, no trace, no
//! effect buffer: whatever faultline spends beyond this loop is the price of its model.

use crate::Workload;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Nanoseconds between two broadcast ticks (10 ms), as in faultline's protocol.
const TICK_EVERY_NS: u64 = 10_000_000;

/// A message arrival or a node's tick.
enum Event {
    Deliver { from: u32, to: u32, message: u64 },
    Tick { node: u32 },
}

/// An event due at `time`; `seq` breaks ties in insertion order, as in faultline.
struct Entry {
    time: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: the std heap is a max-heap and the loop wants the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// One-way latency: the two shapes the workloads use, in nanoseconds.
#[derive(Clone, Copy)]
enum Latency {
    Constant(u64),
    Uniform { min: u64, max: u64 },
}

/// What a node's callbacks can do: send a message and set its tick.
struct Net {
    now: u64,
    seq: u64,
    queue: BinaryHeap<Entry>,
    rng: ChaCha8Rng,
    latency: Latency,
}

impl Net {
    fn new(seed: u64, latency: Latency) -> Net {
        Net {
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            latency,
        }
    }

    #[inline]
    fn push(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Entry {
            time,
            seq: self.seq,
            event,
        });
    }

    #[inline]
    fn send(&mut self, from: u32, to: u32, message: u64) {
        let at = self.now + self.latency_ns();
        self.push(at, Event::Deliver { from, to, message });
    }

    #[inline]
    fn set_tick(&mut self, node: u32, after_ns: u64) {
        self.push(self.now + after_ns, Event::Tick { node });
    }

    /// The same unbiased integer draw faultline makes (Lemire's multiply-and-reject), so
    /// neither side is charged for a cheaper or dearer distribution.
    #[inline]
    fn latency_ns(&mut self) -> u64 {
        match self.latency {
            Latency::Constant(ns) => ns,
            Latency::Uniform { min, max } => {
                let bound = max - min + 1;
                let threshold = bound.wrapping_neg() % bound;
                loop {
                    let product = (self.rng.next_u64() as u128) * (bound as u128);
                    if (product as u64) >= threshold {
                        return min + (product >> 64) as u64;
                    }
                }
            }
        }
    }
}

/// A node of the minimal loop: a plain struct with callbacks.
trait Node {
    fn on_message(&mut self, me: u32, from: u32, message: u64, net: &mut Net);
    fn on_tick(&mut self, me: u32, net: &mut Net);
}

/// Node 0 sends round 0, node 1 echoes every round, node 0 sends the next until done.
struct PingPong {
    round_trips: u64,
}

impl Node for PingPong {
    fn on_message(&mut self, me: u32, from: u32, round: u64, net: &mut Net) {
        if me == 1 {
            net.send(me, from, round);
        } else if round + 1 < self.round_trips {
            net.send(me, from, round + 1);
        }
    }

    fn on_tick(&mut self, _me: u32, _net: &mut Net) {}
}

/// Every tick, a node sends its counter to every other node; it remembers the highest
/// counter heard from each peer.
struct Broadcast {
    nodes: u32,
    ticks_max: u64,
    counter: u64,
    heard: Vec<u64>,
}

impl Node for Broadcast {
    fn on_message(&mut self, _me: u32, from: u32, counter: u64, _net: &mut Net) {
        let heard = &mut self.heard[from as usize];
        *heard = (*heard).max(counter);
    }

    fn on_tick(&mut self, me: u32, net: &mut Net) {
        self.counter += 1;
        for peer in (0..self.nodes).filter(|peer| *peer != me) {
            net.send(me, peer, self.counter);
        }
        if self.counter < self.ticks_max {
            net.set_tick(me, TICK_EVERY_NS);
        }
    }
}

/// Pops events in (time, seq) order until the queue is empty or past `end_ns`; returns the
/// number of messages delivered.
fn run_loop<N: Node>(nodes: &mut [N], net: &mut Net, end_ns: u64) -> u64 {
    let mut delivered = 0;
    while let Some(entry) = net.queue.pop() {
        if entry.time > end_ns {
            break;
        }
        net.now = entry.time;
        match entry.event {
            Event::Deliver { from, to, message } => {
                delivered += 1;
                nodes[to as usize].on_message(to, from, message, net);
            }
            Event::Tick { node } => nodes[node as usize].on_tick(node, net),
        }
    }
    delivered
}

/// Runs `workload` with `seed` on the minimal loop; returns the number of deliveries.
pub fn run(workload: Workload, seed: u64) -> u64 {
    let end_ns = workload.duration().as_nanos();
    match workload {
        Workload::PingPong { round_trips } => {
            let mut net = Net::new(seed, Latency::Constant(1_000_000));
            let mut nodes = [PingPong { round_trips }, PingPong { round_trips }];
            if round_trips > 0 {
                net.send(0, 1, 0);
            }
            run_loop(&mut nodes, &mut net, end_ns)
        }
        Workload::Broadcast { nodes, ticks } => {
            let latency = Latency::Uniform {
                min: 1_000_000,
                max: 10_000_000,
            };
            let mut net = Net::new(seed, latency);
            let mut states: Vec<Broadcast> = (0..nodes)
                .map(|_| Broadcast {
                    nodes,
                    ticks_max: ticks,
                    counter: 0,
                    heard: vec![0; nodes as usize],
                })
                .collect();
            if ticks > 0 {
                for node in 0..nodes {
                    net.set_tick(node, TICK_EVERY_NS);
                }
            }
            run_loop(&mut states, &mut net, end_ns)
        }
    }
}
