//! The network: directed links with latency distributions, loss, duplication, FIFO or
//! reordering delivery, and partitions as blocked directed links.

use crate::ids::NodeId;
use crate::rng::{clamp_to_nanos, Probability, Purpose, SimRng};
use crate::time::{SimDuration, SimTime};
use serde::Serialize;
use std::collections::BTreeMap;

/// The longest latency any distribution may produce: heavy tails are cut here so a single
/// draw cannot push a message past the end of time.
pub const LATENCY_NS_MAX: u64 = 3_600 * 1_000_000_000;

/// How deep mixtures and shifts may nest inside one another: a bound on the recursion of
/// both the scenario reader and every draw.
pub const LATENCY_NESTING_MAX: usize = 4;

/// A distribution of one-way message latency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Latency {
    /// Always the same.
    Constant(SimDuration),
    /// Uniform between `min` and `max` inclusive, drawn as an integer (no float involved).
    Uniform {
        /// Smallest latency.
        min: SimDuration,
        /// Largest latency.
        max: SimDuration,
    },
    /// Normal around `mean`; draws below zero become zero.
    Normal {
        /// Mean latency.
        mean: SimDuration,
        /// Standard deviation.
        stddev: SimDuration,
    },
    /// Log-normal: `median * exp(sigma * z)`, a long right tail.
    LogNormal {
        /// The median latency.
        median: SimDuration,
        /// The spread of the underlying normal (dimensionless).
        sigma: f64,
    },
    /// `min` plus an exponential tail with mean `mean`.
    Exponential {
        /// The floor under every draw.
        min: SimDuration,
        /// Mean of the exponential part.
        mean: SimDuration,
    },
    /// Pareto with scale `min` and the given shape: heavy tail, mean `min * shape / (shape - 1)`.
    Pareto {
        /// The smallest value (the scale).
        min: SimDuration,
        /// Tail index; smaller is heavier.
        shape: f64,
    },
    /// A weighted mixture: one component is drawn by weight, then a value from it.
    Mixture(Mixture),
    /// A fixed delay added to every draw of another distribution (a long-haul link's
    /// propagation delay over a local latency).
    Shifted {
        /// Added to every draw.
        by: SimDuration,
        /// The distribution shifted.
        latency: Box<Latency>,
    },
}

/// The components of a [`Latency::Mixture`], with their weights as written and as integer
/// thresholds, so that choosing a component is one integer draw (no float decides).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mixture {
    /// (weight as written, distribution), in the order written.
    components: Vec<(f64, Latency)>,
    /// Cumulative upper bounds: a draw `u` picks the first component with `u < bound`; the
    /// last bound is `u64::MAX` and catches the rest.
    #[serde(skip)]
    bounds: Vec<u64>,
}

impl Mixture {
    /// A mixture of `components`; weights must be finite and > 0 and are normalized.
    pub fn new(components: Vec<(f64, Latency)>) -> Result<Mixture, String> {
        if components.is_empty() {
            return Err(
                "a Mixture needs at least one component, e.g. Mixture([(0.9, Constant(\"1ms\")), (0.1, Constant(\"10ms\"))])"
                    .into(),
            );
        }
        for (index, (weight, _)) in components.iter().enumerate() {
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(format!(
                    "Mixture component {} has weight {weight}: expected a finite number > 0 (weights are normalized, so they need not add up to 1)",
                    index + 1
                ));
            }
        }
        let total: f64 = components.iter().map(|(w, _)| w).sum();
        let mut running = 0.0;
        let mut bounds: Vec<u64> = components
            .iter()
            .map(|(weight, _)| {
                running += weight / total;
                // running * 2^64, read once here; the cast saturates at u64::MAX.
                (running * 18_446_744_073_709_551_616.0) as u64
            })
            .collect();
        *bounds.last_mut().expect("not empty") = u64::MAX;
        Ok(Mixture { components, bounds })
    }

    /// The components with their weights as written.
    pub fn components(&self) -> &[(f64, Latency)] {
        &self.components
    }

    /// Draws the component, then its value, both from `rng`. A single component draws no
    /// extra number, so a one-part mixture is the same stream as its component.
    #[inline]
    fn sample(&self, rng: &mut SimRng) -> SimDuration {
        let index = if self.components.len() == 1 {
            0
        } else {
            let draw = rng.next_u64();
            self.bounds
                .partition_point(|bound| *bound <= draw)
                .min(self.components.len() - 1)
        };
        self.components[index].1.sample(rng)
    }
}

impl Latency {
    /// Draws one latency in integer nanoseconds.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        let ns = match self {
            Latency::Mixture(mixture) => mixture.sample(rng).0,
            Latency::Shifted { by, latency } => by.0.saturating_add(latency.sample(rng).0),
            _ => self.sample_simple(rng),
        };
        SimDuration(ns.min(LATENCY_NS_MAX))
    }

    /// Draws from a distribution that holds no other distribution, in ns (uncapped).
    #[inline]
    fn sample_simple(&self, rng: &mut SimRng) -> u64 {
        match *self {
            Latency::Constant(d) => d.0,
            Latency::Uniform { min, max } => rng.between(min.0, max.0),
            Latency::Normal { mean, stddev } => {
                clamp_to_nanos(mean.0 as f64 + stddev.0 as f64 * rng.standard_normal())
            }
            Latency::LogNormal { median, sigma } => {
                clamp_to_nanos(median.0 as f64 * libm::exp(sigma * rng.standard_normal()))
            }
            Latency::Exponential { min, mean } => {
                min.0.saturating_add(rng.exponential_nanos(mean.0))
            }
            Latency::Pareto { min, shape } => {
                let u = rng.open_unit();
                clamp_to_nanos(min.0 as f64 / libm::pow(u, 1.0 / shape))
            }
            Latency::Mixture(_) | Latency::Shifted { .. } => {
                unreachable!("composite distributions are drawn by `sample`")
            }
        }
    }

    /// How many mixtures and shifts are nested in this distribution (0 for a plain one).
    pub fn nesting(&self) -> usize {
        match self {
            Latency::Mixture(mixture) => {
                1 + mixture
                    .components
                    .iter()
                    .map(|(_, c)| c.nesting())
                    .max()
                    .unwrap_or(0)
            }
            Latency::Shifted { latency, .. } => 1 + latency.nesting(),
            _ => 0,
        }
    }

    /// Checks the parameters; the message says what is wrong and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        if self.nesting() > LATENCY_NESTING_MAX {
            return Err(format!(
                "Mixture and Shifted nest {} deep here; at most {LATENCY_NESTING_MAX} levels are allowed",
                self.nesting()
            ));
        }
        match self {
            Latency::Mixture(mixture) => {
                return mixture
                    .components
                    .iter()
                    .try_for_each(|(_, component)| component.validate())
            }
            Latency::Shifted { latency, .. } => return latency.validate(),
            _ => {}
        }
        match *self {
            Latency::Uniform { min, max } if min > max => Err(format!(
                "Uniform latency needs min <= max, found min {min} and max {max}"
            )),
            Latency::LogNormal { sigma, .. } if !(sigma.is_finite() && sigma >= 0.0) => Err(
                format!("LogNormal sigma must be a finite number >= 0, found {sigma}"),
            ),
            Latency::Pareto { shape, .. } if !(shape.is_finite() && shape > 0.0) => Err(format!(
                "Pareto shape must be a finite number > 0, found {shape}"
            )),
            _ => Ok(()),
        }
    }
}

/// How a link orders the messages it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
pub enum Delivery {
    /// Messages arrive in the order they were sent (a TCP connection).
    #[default]
    Fifo,
    /// Each message takes its own latency and may overtake earlier ones (UDP).
    Reorder,
}

/// Everything that describes one directed link.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkConfig {
    /// One-way latency of messages whose class has no entry in `class_latency`.
    pub latency: Latency,
    /// Latency by message class ([`crate::protocol::Protocol::message_class`]), resolved: a
    /// scenario's precedence (per-link class, per-link, global class, global) is already
    /// applied when a link config is built. Empty on most links: then no class is looked up.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub class_latency: BTreeMap<String, Latency>,
    /// Probability that a message is lost.
    pub drop: Probability,
    /// Probability that a message is delivered twice.
    pub duplicate: Probability,
    /// FIFO or reordering.
    pub delivery: Delivery,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Latency::Constant(SimDuration::from_millis(1)),
            class_latency: BTreeMap::new(),
            drop: Probability::NEVER,
            duplicate: Probability::NEVER,
            delivery: Delivery::Fifo,
        }
    }
}

/// Why a message never arrived; every drop is traced with one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum DropReason {
    /// The link was blocked by a partition when the message was sent.
    Partitioned,
    /// The link was blocked while the message was in flight.
    PartitionedInFlight,
    /// Random loss on the link.
    Lost,
    /// The destination was crashed when the message arrived.
    DestinationDown,
    /// The sender crashed before a sync the message waited for completed.
    SenderCrashedBeforeSync,
}

impl DropReason {
    /// Every reason, in a fixed order (for tables).
    pub const ALL: [DropReason; 5] = [
        DropReason::Partitioned,
        DropReason::PartitionedInFlight,
        DropReason::Lost,
        DropReason::DestinationDown,
        DropReason::SenderCrashedBeforeSync,
    ];

    /// A fixed tag for the trace encoding.
    #[inline]
    pub fn tag(self) -> u64 {
        match self {
            DropReason::Partitioned => 1,
            DropReason::PartitionedInFlight => 2,
            DropReason::Lost => 3,
            DropReason::DestinationDown => 4,
            DropReason::SenderCrashedBeforeSync => 5,
        }
    }

    /// A short name for people and JSON.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Partitioned => "partitioned",
            DropReason::PartitionedInFlight => "partitioned-in-flight",
            DropReason::Lost => "lost",
            DropReason::DestinationDown => "destination-down",
            DropReason::SenderCrashedBeforeSync => "sender-crashed-before-sync",
        }
    }
}

/// What the network decided for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmission {
    /// Arrives at the first time; and a second copy at the second, when duplicated.
    Deliver(SimTime, Option<SimTime>),
    /// Never arrives.
    Drop(DropReason),
}

/// A set of directed links cut together, so that healing one cut does not heal another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The directed links (from, to) this cut blocks.
    pub links: Vec<(NodeId, NodeId)>,
}

impl Cut {
    /// Every link between different groups, both ways: a clean split. Nodes in no group form
    /// one more group together.
    pub fn split(groups: &[Vec<NodeId>], node_count: usize) -> Cut {
        let mut group_of = vec![usize::MAX; node_count];
        for (g, members) in groups.iter().enumerate() {
            for node in members {
                group_of[node.index()] = g;
            }
        }
        let mut links = Vec::new();
        for a in 0..node_count {
            for b in 0..node_count {
                if a != b && group_of[a] != group_of[b] {
                    links.push((NodeId(a as u32), NodeId(b as u32)));
                }
            }
        }
        Cut { links }
    }

    /// Blocks every link from a node in `from` to a node in `to`, and nothing the other way.
    pub fn one_way(from: &[NodeId], to: &[NodeId]) -> Cut {
        let mut links = Vec::new();
        for &a in from {
            for &b in to {
                if a != b {
                    links.push((a, b));
                }
            }
        }
        Cut { links }
    }

    /// `left` and `right` cannot talk to each other, but both still talk to `via`.
    pub fn bridge(left: &[NodeId], right: &[NodeId], via: NodeId) -> Cut {
        let left: Vec<NodeId> = left.iter().copied().filter(|n| *n != via).collect();
        let right: Vec<NodeId> = right.iter().copied().filter(|n| *n != via).collect();
        let mut cut = Cut::one_way(&left, &right);
        cut.links.extend(Cut::one_way(&right, &left).links);
        cut
    }

    /// Cuts one node off from everyone, both ways.
    pub fn isolate(node: NodeId, node_count: usize) -> Cut {
        let others: Vec<NodeId> = (0..node_count as u32)
            .map(NodeId)
            .filter(|n| *n != node)
            .collect();
        let mut cut = Cut::one_way(&[node], &others);
        cut.links.extend(Cut::one_way(&others, &[node]).links);
        cut
    }
}

/// Everything the network keeps about one directed link, together so one lookup finds it.
struct LinkState {
    config: LinkConfig,
    rng: SimRng,
    /// The latest delivery time handed out (keeps FIFO links in order).
    fifo_horizon: SimTime,
    /// How many active cuts block this link.
    blocked: u32,
}

/// The network of one run: link settings, per-link random streams, FIFO horizons and cuts.
pub struct Network {
    node_count: usize,
    links: Vec<LinkState>,
    cuts: BTreeMap<u64, Cut>,
}

impl Network {
    /// A network of `node_count` nodes with `links[from * n + to]` describing each link.
    pub fn new(seed: u64, node_count: usize, links: Vec<LinkConfig>) -> Network {
        assert_eq!(
            links.len(),
            node_count * node_count,
            "one config per directed link"
        );
        let links = links
            .into_iter()
            .enumerate()
            .map(|(i, config)| LinkState {
                config,
                rng: SimRng::stream(seed, Purpose::Link, i as u64),
                fifo_horizon: SimTime::ZERO,
                blocked: 0,
            })
            .collect();
        Network {
            node_count,
            links,
            cuts: BTreeMap::new(),
        }
    }

    #[inline]
    fn link_index(&self, from: NodeId, to: NodeId) -> usize {
        from.index() * self.node_count + to.index()
    }

    /// The configuration of one directed link.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        &self.links[self.link_index(from, to)].config
    }

    /// True when some active cut blocks `from -> to`.
    #[inline]
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.links[self.link_index(from, to)].blocked > 0
    }

    /// Decides the fate of one message of class `class` sent now: dropped (and why) or
    /// delivered when. The class only picks the latency distribution; it draws nothing.
    #[inline]
    pub fn transmit(
        &mut self,
        from: NodeId,
        to: NodeId,
        class: &str,
        now: SimTime,
    ) -> Transmission {
        let index = self.link_index(from, to);
        let link = &mut self.links[index];
        if link.blocked > 0 {
            return Transmission::Drop(DropReason::Partitioned);
        }
        if link.rng.chance(link.config.drop) {
            return Transmission::Drop(DropReason::Lost);
        }
        let latency = if link.config.class_latency.is_empty() {
            &link.config.latency
        } else {
            link.config
                .class_latency
                .get(class)
                .unwrap_or(&link.config.latency)
        };
        let mut first = now + latency.sample(&mut link.rng);
        let mut duplicate = if link.rng.chance(link.config.duplicate) {
            Some(now + latency.sample(&mut link.rng))
        } else {
            None
        };
        if link.config.delivery == Delivery::Fifo {
            // Equal times keep send order: the event queue breaks ties by insertion.
            first = first.max(link.fifo_horizon);
            link.fifo_horizon = first;
            if let Some(at) = duplicate.as_mut() {
                *at = (*at).max(link.fifo_horizon);
                link.fifo_horizon = *at;
            }
        }
        Transmission::Deliver(first, duplicate)
    }

    /// Activates a cut under `id`; links it blocks stay blocked until every cut on them heals.
    pub fn add_cut(&mut self, id: u64, cut: Cut) {
        for &(from, to) in &cut.links {
            let index = self.link_index(from, to);
            self.links[index].blocked += 1;
        }
        let previous = self.cuts.insert(id, cut);
        assert!(previous.is_none(), "cut {id} added twice");
    }

    /// Heals one cut; unknown ids (already healed) are ignored.
    pub fn remove_cut(&mut self, id: u64) -> bool {
        let Some(cut) = self.cuts.remove(&id) else {
            return false;
        };
        for &(from, to) in &cut.links {
            let index = self.link_index(from, to);
            assert!(
                self.links[index].blocked > 0,
                "link blocked count underflow"
            );
            self.links[index].blocked -= 1;
        }
        true
    }

    /// Heals every cut.
    pub fn heal_all(&mut self) {
        self.cuts.clear();
        self.links.iter_mut().for_each(|link| link.blocked = 0);
    }

    /// How many cuts are active.
    pub fn active_cuts(&self) -> usize {
        self.cuts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    #[test]
    fn split_blocks_across_groups_only() {
        let cut = Cut::split(&[vec![n(0)], vec![n(1), n(2)]], 3);
        let mut net = Network::new(1, 3, vec![LinkConfig::default(); 9]);
        net.add_cut(1, cut);
        assert!(net.is_blocked(n(0), n(1)) && net.is_blocked(n(1), n(0)));
        assert!(net.is_blocked(n(0), n(2)) && net.is_blocked(n(2), n(0)));
        assert!(!net.is_blocked(n(1), n(2)) && !net.is_blocked(n(2), n(1)));
        net.remove_cut(1);
        assert!(!net.is_blocked(n(0), n(1)));
    }

    #[test]
    fn overlapping_cuts_heal_independently() {
        let mut net = Network::new(1, 3, vec![LinkConfig::default(); 9]);
        net.add_cut(1, Cut::isolate(n(0), 3));
        net.add_cut(2, Cut::one_way(&[n(0)], &[n(1)]));
        net.remove_cut(1);
        assert!(net.is_blocked(n(0), n(1)));
        assert!(!net.is_blocked(n(1), n(0)));
        assert!(!net.is_blocked(n(0), n(2)));
    }

    #[test]
    fn bridge_keeps_the_middle_node_connected() {
        let cut = Cut::bridge(&[n(0), n(1)], &[n(3), n(4)], n(2));
        let mut net = Network::new(1, 5, vec![LinkConfig::default(); 25]);
        net.add_cut(7, cut);
        assert!(net.is_blocked(n(0), n(3)) && net.is_blocked(n(4), n(1)));
        assert!(!net.is_blocked(n(0), n(2)) && !net.is_blocked(n(2), n(4)));
        assert!(!net.is_blocked(n(0), n(1)) && !net.is_blocked(n(3), n(4)));
    }

    fn uniform_link() -> LinkConfig {
        LinkConfig {
            latency: Latency::Uniform {
                min: SimDuration::from_millis(1),
                max: SimDuration::from_millis(9),
            },
            delivery: Delivery::Reorder,
            ..LinkConfig::default()
        }
    }

    fn times(net: &mut Network, class: &str) -> Vec<Transmission> {
        (0..100)
            .map(|_| net.transmit(n(0), n(1), class, SimTime::ZERO))
            .collect()
    }

    #[test]
    fn a_class_latency_applies_to_its_class_only_and_draws_nothing_extra() {
        let plain = vec![uniform_link(); 4];
        let mut classed = plain.clone();
        classed[1].class_latency.insert(
            "write".into(),
            Latency::Constant(SimDuration::from_millis(50)),
        );
        // Messages of other classes see the same stream as on a link without classes.
        let mut a = Network::new(3, 2, plain.clone());
        let mut b = Network::new(3, 2, classed.clone());
        assert_eq!(times(&mut a, "read"), times(&mut b, "read"));
        assert_eq!(times(&mut a, ""), times(&mut b, "ack"));
        let mut c = Network::new(3, 2, classed);
        let fifty = SimTime::ZERO + SimDuration::from_millis(50);
        assert!(times(&mut c, "write")
            .iter()
            .all(|t| *t == Transmission::Deliver(fifty, None)));
    }
}
