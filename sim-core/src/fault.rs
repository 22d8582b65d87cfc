//! Faults: the primitive actions the engine applies, the schedule they come in, and the random
//! nemesis that adds seeded faults to a pinned schedule.

use crate::ids::NodeId;
use crate::network::Cut;
use crate::rng::{Purpose, SimRng};
use crate::time::{SignedDuration, SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of network fault a cut came from (the report's taxonomy uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CutKind {
    /// A clean split into groups.
    Partition,
    /// Some nodes cannot reach others, but are heard by them.
    OneWay,
    /// Two sides that talk only through one node.
    Bridge,
    /// One node cut off both ways.
    Isolate,
    /// One directed link down.
    Link,
    /// A link going up and down.
    Flap,
}

/// One thing the nemesis does to the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FaultAction {
    /// Block some directed links until `Heal { id }` or `HealAll`.
    Cut {
        /// Identity of the cut, for healing it alone.
        id: u64,
        /// What kind of fault it models.
        kind: CutKind,
        /// The links.
        #[serde(skip)]
        cut: Cut,
    },
    /// Unblock the links of one cut.
    Heal {
        /// The cut to heal.
        id: u64,
    },
    /// Unblock every link.
    HealAll,
    /// Stop a node: volatile state and timers are lost.
    Crash(NodeId),
    /// Start a crashed node from its durable storage.
    Restart(NodeId),
    /// Freeze a node (stop-the-world GC); its clocks keep running.
    Pause {
        /// The node.
        node: NodeId,
        /// For how long.
        duration: SimDuration,
    },
    /// Jump a node's wall clock.
    ClockStep {
        /// The node.
        node: NodeId,
        /// How far (negative: backwards).
        by: SignedDuration,
    },
    /// Correct a node's wall clock gradually.
    ClockSlew {
        /// The node.
        node: NodeId,
        /// The total correction.
        by: SignedDuration,
        /// How fast, in parts per million of true time.
        rate_ppm: u32,
    },
}

impl FaultAction {
    /// A fixed tag per kind, for the trace hash.
    pub fn tag(&self) -> u64 {
        match self {
            FaultAction::Cut { .. } => 1,
            FaultAction::Heal { .. } => 2,
            FaultAction::HealAll => 3,
            FaultAction::Crash(_) => 4,
            FaultAction::Restart(_) => 5,
            FaultAction::Pause { .. } => 6,
            FaultAction::ClockStep { .. } => 7,
            FaultAction::ClockSlew { .. } => 8,
        }
    }

    /// The node a process or clock fault targets.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            FaultAction::Crash(node) | FaultAction::Restart(node) => Some(*node),
            FaultAction::Pause { node, .. }
            | FaultAction::ClockStep { node, .. }
            | FaultAction::ClockSlew { node, .. } => Some(*node),
            _ => None,
        }
    }
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Cut { id, kind, cut } => {
                write!(f, "{kind:?} #{id}: blocks")?;
                for (from, to) in &cut.links {
                    write!(f, " {from}->{to}")?;
                }
                Ok(())
            }
            FaultAction::Heal { id } => write!(f, "heal #{id}"),
            FaultAction::HealAll => f.write_str("heal all"),
            FaultAction::Crash(node) => write!(f, "crash {node}"),
            FaultAction::Restart(node) => write!(f, "restart {node}"),
            FaultAction::Pause { node, duration } => write!(f, "pause {node} for {duration}"),
            FaultAction::ClockStep { node, by } => write!(f, "step {node}'s clock by {by}"),
            FaultAction::ClockSlew { node, by, rate_ppm } => {
                write!(f, "slew {node}'s clock by {by} at {rate_ppm} ppm")
            }
        }
    }
}

/// Where a scheduled fault came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultOrigin {
    /// The scenario's `faults` list, at this position.
    Pinned {
        /// Index in the scenario's list.
        index: usize,
    },
    /// A random generator of the nemesis.
    Nemesis {
        /// Which generator.
        generator: &'static str,
    },
    /// The start of the settle phase.
    Settle,
}

/// A fault at a time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScheduledFault {
    /// When it takes effect (true time).
    pub at: SimTime,
    /// What it does.
    pub action: FaultAction,
    /// Who asked for it.
    pub origin: FaultOrigin,
}

/// The random fault generators; each `*_every` is the mean time between two faults of that
/// kind (Poisson arrivals), `None` to switch the generator off.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NemesisConfig {
    /// Clean partitions that isolate a random minority.
    pub partition_every: Option<SimDuration>,
    /// One-way cuts between two random sides.
    pub one_way_every: Option<SimDuration>,
    /// Flapping directed links.
    pub flap_every: Option<SimDuration>,
    /// Crashes of a random node (restarted after the fault duration).
    pub crash_every: Option<SimDuration>,
    /// Stop-the-world pauses of a random node.
    pub pause_every: Option<SimDuration>,
    /// Wall-clock steps of a random node.
    pub clock_step_every: Option<SimDuration>,
    /// Shortest duration of a partition, cut, flap, crash or pause.
    pub duration_min: SimDuration,
    /// Longest duration of a partition, cut, flap, crash or pause.
    pub duration_max: SimDuration,
    /// Largest clock step, either way.
    pub clock_step_max: SimDuration,
    /// How long a flapping link stays in each state.
    pub flap_period: SimDuration,
}

impl Default for NemesisConfig {
    fn default() -> Self {
        NemesisConfig {
            partition_every: None,
            one_way_every: None,
            flap_every: None,
            crash_every: None,
            pause_every: None,
            clock_step_every: None,
            duration_min: SimDuration::from_millis(500),
            duration_max: SimDuration::from_secs(5),
            clock_step_max: SimDuration::from_millis(500),
            flap_period: SimDuration::from_millis(100),
        }
    }
}

/// Generator names, in a fixed order: the position is the generator's stream index, so
/// switching one generator off leaves every other generator's draws unchanged.
const GENERATORS: [&str; 6] = [
    "partition",
    "one-way",
    "flap",
    "crash",
    "pause",
    "clock-step",
];

impl NemesisConfig {
    /// Draws every random fault of a run up to `end`, as an explicit schedule (what a
    /// shrinker edits and a report shades). Cut ids start at `(generator + 1) << 32`.
    pub fn materialize(&self, seed: u64, node_count: u32, end: SimTime) -> Vec<ScheduledFault> {
        let mut out = Vec::new();
        let intervals = [
            self.partition_every,
            self.one_way_every,
            self.flap_every,
            self.crash_every,
            self.pause_every,
            self.clock_step_every,
        ];
        for (index, (name, every)) in GENERATORS.iter().zip(intervals).enumerate() {
            let Some(every) = every else { continue };
            let mut generator = Generator {
                rng: SimRng::stream(seed, Purpose::Nemesis, index as u64),
                name,
                node_count,
                end,
                next_cut_id: ((index as u64) + 1) << 32,
                busy_until: vec![SimTime::ZERO; node_count as usize],
                out: &mut out,
            };
            let mut t = SimTime::ZERO;
            loop {
                t += SimDuration(generator.rng.exponential_nanos(every.0).max(1));
                if t >= end {
                    break;
                }
                generator.one(index, t, self);
            }
        }
        // Stable sort: faults at the same instant keep generator order.
        out.sort_by_key(|fault| fault.at);
        out
    }
}

struct Generator<'a> {
    rng: SimRng,
    name: &'static str,
    node_count: u32,
    end: SimTime,
    next_cut_id: u64,
    /// Per node, until when this generator's own crash or pause holds it.
    busy_until: Vec<SimTime>,
    out: &'a mut Vec<ScheduledFault>,
}

impl Generator<'_> {
    fn push(&mut self, at: SimTime, action: FaultAction) {
        if at < self.end {
            self.out.push(ScheduledFault {
                at,
                action,
                origin: FaultOrigin::Nemesis {
                    generator: self.name,
                },
            });
        }
    }

    fn duration(&mut self, config: &NemesisConfig) -> SimDuration {
        SimDuration(
            self.rng
                .between(config.duration_min.0, config.duration_max.0),
        )
    }

    fn random_node(&mut self) -> NodeId {
        NodeId(self.rng.below(self.node_count as u64) as u32)
    }

    /// The nodes in a random order (Fisher-Yates on the generator's stream).
    fn shuffled_nodes(&mut self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = (0..self.node_count).map(NodeId).collect();
        for i in (1..nodes.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            nodes.swap(i, j);
        }
        nodes
    }

    fn cut(&mut self, at: SimTime, until: SimTime, kind: CutKind, cut: Cut) {
        let id = self.next_cut_id;
        self.next_cut_id += 1;
        self.push(at, FaultAction::Cut { id, kind, cut });
        self.push(until, FaultAction::Heal { id });
    }

    fn one(&mut self, generator: usize, at: SimTime, config: &NemesisConfig) {
        let n = self.node_count as usize;
        match generator {
            0 | 1 if n >= 2 => {
                let until = at + self.duration(config);
                let nodes = self.shuffled_nodes();
                let side = 1 + self.rng.below((n / 2).max(1) as u64) as usize;
                let (minority, majority) = nodes.split_at(side);
                let cut = if generator == 0 {
                    Cut::split(&[minority.to_vec(), majority.to_vec()], n)
                } else {
                    Cut::one_way(minority, majority)
                };
                let kind = if generator == 0 {
                    CutKind::Partition
                } else {
                    CutKind::OneWay
                };
                self.cut(at, until, kind, cut);
            }
            2 if n >= 2 => {
                let until = at + self.duration(config);
                let from = self.random_node();
                let to = NodeId((from.0 + 1 + self.rng.below(n as u64 - 1) as u32) % n as u32);
                let mut t = at;
                while t < until {
                    let up = (t + config.flap_period).min(until);
                    self.cut(t, up, CutKind::Flap, Cut::one_way(&[from], &[to]));
                    t = up + config.flap_period;
                }
            }
            3 | 4 => {
                let duration = self.duration(config);
                let free: Vec<NodeId> = (0..self.node_count)
                    .map(NodeId)
                    .filter(|node| self.busy_until[node.index()] <= at)
                    .collect();
                if free.is_empty() {
                    return;
                }
                let node = free[self.rng.below(free.len() as u64) as usize];
                self.busy_until[node.index()] = at + duration;
                if generator == 3 {
                    self.push(at, FaultAction::Crash(node));
                    self.push(at + duration, FaultAction::Restart(node));
                } else {
                    self.push(at, FaultAction::Pause { node, duration });
                }
            }
            5 => {
                let node = self.random_node();
                let magnitude = self.rng.between(1, config.clock_step_max.0.max(1)) as i64;
                let by = if self.rng.below(2) == 0 {
                    magnitude
                } else {
                    -magnitude
                };
                self.push(
                    at,
                    FaultAction::ClockStep {
                        node,
                        by: SignedDuration(by),
                    },
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NemesisConfig {
        NemesisConfig {
            partition_every: Some(SimDuration::from_secs(5)),
            crash_every: Some(SimDuration::from_secs(7)),
            pause_every: Some(SimDuration::from_secs(3)),
            clock_step_every: Some(SimDuration::from_secs(11)),
            ..NemesisConfig::default()
        }
    }

    #[test]
    fn same_seed_same_schedule_and_rates_roughly_hold() {
        let end = SimTime(600 * 1_000_000_000);
        let a = config().materialize(9, 5, end);
        let b = config().materialize(9, 5, end);
        assert_eq!(a, b);
        let pauses = a
            .iter()
            .filter(|f| matches!(f.action, FaultAction::Pause { .. }))
            .count();
        // 600 s / 3 s = 200 expected arrivals (a few are skipped when all nodes are busy).
        assert!((150..=250).contains(&pauses), "{pauses}");
    }

    #[test]
    fn switching_a_generator_off_leaves_the_others_unchanged() {
        let end = SimTime(120 * 1_000_000_000);
        let all = config().materialize(4, 5, end);
        let without_crashes = NemesisConfig {
            crash_every: None,
            ..config()
        }
        .materialize(4, 5, end);
        let not_crash = |f: &&ScheduledFault| {
            !matches!(f.action, FaultAction::Crash(_) | FaultAction::Restart(_))
        };
        let expected: Vec<&ScheduledFault> = all.iter().filter(not_crash).collect();
        let actual: Vec<&ScheduledFault> = without_crashes.iter().collect();
        assert_eq!(expected, actual);
    }
}
