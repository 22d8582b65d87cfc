//! The client workload: what operations simulated clients issue, on which keys, to which
//! nodes, and how fast.

use crate::ids::{Key, NodeId};
use crate::network::Latency;
use crate::rng::SimRng;
use crate::time::SimDuration;
use serde::Serialize;

/// Parts per million in one whole.
pub const PPM_ONE: u32 = 1_000_000;

/// How keys are drawn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum KeyDistribution {
    /// Every key equally likely.
    Uniform,
    /// Key k (from 0) with weight 1 / (k + 1)^exponent: a few hot keys.
    Zipf {
        /// Larger is more skewed; 0 is uniform.
        exponent: f64,
    },
}

/// Whether a client waits for each operation before issuing the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
pub enum LoadMode {
    /// One operation at a time; the next after a think time.
    #[default]
    Closed,
    /// Operations arrive at the rate regardless of completions (Poisson arrivals).
    Open,
}

/// Which node a client sends an operation to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
pub enum Target {
    /// A node drawn at random for every operation.
    #[default]
    Random,
    /// Always the same node: client i talks to node i mod n (a sticky session).
    Sticky,
    /// The node the client believes leads, following redirects.
    Leader,
}

/// The workload of one run, in engine terms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadConfig {
    /// Number of clients.
    pub clients: u32,
    /// Number of keys, named k0..k(keys-1).
    pub keys: u32,
    /// How keys are drawn.
    pub key_distribution: KeyDistribution,
    /// Share of operations that are puts, in parts per million.
    pub put_ppm: u32,
    /// Share of operations that are compare-and-sets, in parts per million.
    pub cas_ppm: u32,
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Mean time between a client's operations (think time, or open-loop inter-arrival).
    pub interval_mean: SimDuration,
    /// How long a client waits for a reply before recording the outcome as unknown.
    pub timeout: SimDuration,
    /// Where operations go.
    pub target: Target,
    /// Stop a client after this many operations.
    pub ops_per_client_max: Option<u64>,
    /// True time from the start of the run before clients begin (their first think time
    /// counts from here).
    pub start_after: SimDuration,
    /// How many redirects a client follows for one operation before giving up.
    pub redirects_max: u32,
    /// Open loop: arrivals beyond this many outstanding operations are skipped.
    pub outstanding_max: u32,
    /// One-way latency between a client and any node.
    pub client_latency: Latency,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 3,
            keys: 5,
            key_distribution: KeyDistribution::Uniform,
            put_ppm: PPM_ONE / 2,
            cas_ppm: 0,
            mode: LoadMode::Closed,
            interval_mean: SimDuration::from_millis(100),
            timeout: SimDuration::from_secs(1),
            target: Target::Random,
            ops_per_client_max: None,
            start_after: SimDuration::ZERO,
            redirects_max: 5,
            outstanding_max: 64,
            client_latency: Latency::Constant(SimDuration::from_millis(1)),
        }
    }
}

/// What a client decided to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpChoice {
    /// Read.
    Get,
    /// Write.
    Put,
    /// Compare-and-set.
    Cas,
}

/// Draws keys for one distribution with integer thresholds (floats only at construction).
#[derive(Clone, Debug)]
pub struct KeyChooser {
    keys: u32,
    /// Cumulative thresholds out of u64::MAX; empty for uniform.
    cumulative: Vec<u64>,
}

impl KeyChooser {
    /// A chooser over `keys` keys.
    pub fn new(keys: u32, distribution: &KeyDistribution) -> KeyChooser {
        assert!(keys > 0, "a workload needs at least one key");
        let cumulative = match distribution {
            KeyDistribution::Uniform => Vec::new(),
            KeyDistribution::Zipf { exponent } => {
                let weights: Vec<f64> = (1..=keys)
                    .map(|k| 1.0 / libm::pow(k as f64, *exponent))
                    .collect();
                let total: f64 = weights.iter().sum();
                let mut running = 0.0;
                let mut thresholds: Vec<u64> = weights
                    .iter()
                    .map(|w| {
                        running += w / total;
                        (running.min(1.0) * u64::MAX as f64) as u64
                    })
                    .collect();
                *thresholds.last_mut().expect("keys > 0") = u64::MAX;
                thresholds
            }
        };
        KeyChooser { keys, cumulative }
    }

    /// Draws one key.
    pub fn choose(&self, rng: &mut SimRng) -> Key {
        if self.cumulative.is_empty() {
            return Key(rng.below(self.keys as u64) as u32);
        }
        let draw = rng.next_u64();
        let index = self.cumulative.partition_point(|&t| t < draw);
        Key(index.min(self.keys as usize - 1) as u32)
    }
}

impl WorkloadConfig {
    /// Draws the kind of the next operation.
    pub fn choose_op(&self, rng: &mut SimRng) -> OpChoice {
        let draw = rng.below(PPM_ONE as u64) as u32;
        if draw < self.put_ppm {
            OpChoice::Put
        } else if draw < self.put_ppm + self.cas_ppm {
            OpChoice::Cas
        } else {
            OpChoice::Get
        }
    }

    /// The node client `client` first sends to, before anything is known about leaders.
    pub fn initial_node(&self, client: u32, node_count: u32, rng: &mut SimRng) -> NodeId {
        match self.target {
            Target::Sticky => NodeId(client % node_count),
            Target::Random | Target::Leader => NodeId(rng.below(node_count as u64) as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn zipf_prefers_low_keys_and_uniform_does_not() {
        let mut rng = SimRng::stream(3, Purpose::Test, 0);
        let zipf = KeyChooser::new(10, &KeyDistribution::Zipf { exponent: 1.0 });
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[zipf.choose(&mut rng).0 as usize] += 1;
        }
        // Weight of key 0 is 1 / H(10) = 0.3414.
        assert!((33_000..35_300).contains(&counts[0]), "{counts:?}");
        assert!(counts[0] > counts[1] && counts[1] > counts[9]);
        let uniform = KeyChooser::new(10, &KeyDistribution::Uniform);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[uniform.choose(&mut rng).0 as usize] += 1;
        }
        assert!(
            counts.iter().all(|c| (9_500..10_500).contains(c)),
            "{counts:?}"
        );
    }
}
