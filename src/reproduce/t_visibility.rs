//! T8: PBS t-visibility under the WARS model (Bailis et al., VLDB 2012, §4.1 and §5.4–5.8),
//! as far as the engine can express it. The honest summary first:
//!
//! - The production fits (LNKD-SSD, LNKD-DISK, YMMR, WAN) need two things the engine lacks: a
//!   latency that is a *mixture* of a Pareto and an exponential, and a different latency for a
//!   write request than for a read request on the same coordinator→replica link (message
//!   classes). sim-core's links carry one distribution each, without mixtures. So quorum_kv
//!   cannot be run on those fits; this reproduction does not pretend to.
//! - What it does instead: (1) a WARS Monte Carlo oracle, independent of sim-core (its own
//!   SplitMix64 stream and its own samplers), checked against TARGETS.md's [OURS] values and
//!   the paper's t = 0 figures for the four fits. That validates the model and our reading of
//!   the fits, not the simulator. (2) quorum_kv itself on the one PBS-style configuration the
//!   engine can express: every message exponential with the same mean (10 ms), which is
//!   T9's grid cell "W mean 10, ARS mean 10", checked against the same oracle.
//!
//! The simulated configuration: N = 3, R = W = 1, timestamps, no read repair, no
//! hinted handoff, no anti-entropy; the client talks to the one node that is not a replica of
//! its key (extra idle nodes make such a ring), so all N messages of each phase cross the
//! network; every link reorders (each
//! message draws its own delay, as WARS's iid draws require). A trial is a read right after
//! an acknowledged write by the same client; t is the time from the write's commit at the
//! coordinator to the read's arrival there (the client's think time plus its two 10 µs
//! hops). The read is consistent when it returns that write. Reads land at all t, so the
//! check is per bin of t: the measured share against the oracle's prediction for the same t's.

use super::chart::{Figure, Panel, Series, Style};
use super::stats::binomial_sigma;
use super::{percent, Check, Plan, Reproduction, Row};
use crate::Registry;
use protocols::quorum_kv::Ring;
use sim_core::engine::RunOptions;
use sim_core::history::{History, OpKind, Outcome};
use sim_core::ids::{Key, NodeId};

/// Trial counts for `--list`.
pub const TRIALS: &str = "oracle: 400,000 WARS trials per fit in both forms; quorum_kv: 20,000 read-after-write trials reduced, 200,000 full";

const REDUCED_TRIALS: u64 = 20_000;
const FULL_TRIALS: u64 = 200_000;
const ORACLE_TRIALS: u64 = 400_000;

/// Replicas per key and quorum sizes of every T8 row graded here.
const N: usize = 3;

/// T8's tolerance on P(consistent), at ≥ 200,000 trials.
const TOLERANCE: f64 = 0.005;

/// The client's one-way latency in the simulated runs, ns.
const CLIENT_LATENCY_NS: u64 = 10_000;

/// A latency distribution in ms, as the paper's Table 3 writes them.
#[derive(Clone, Copy, Debug)]
pub enum Dist {
    /// x_m / U^{1/α}.
    Pareto {
        /// Scale, ms.
        xm: f64,
        /// Shape.
        alpha: f64,
    },
    /// Exponential with rate λ per ms.
    Exponential {
        /// Rate per ms.
        lambda: f64,
    },
}

/// A two-part mixture: `share` of the first, the rest of the second.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Weight of `first`.
    pub share: f64,
    /// The first component.
    pub first: Dist,
    /// The second component.
    pub second: Dist,
}

/// One latency fit of Table 3: W (write request) and A = R = S, and whether it is the WAN
/// variant (75 ms added to every replica but one random local one, per phase).
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    /// Its name in the paper.
    pub name: &'static str,
    /// Write-request delay.
    pub w: Mix,
    /// Ack, read-request and read-response delay.
    pub ars: Mix,
    /// Add 75 ms to all but one local replica.
    pub wan: bool,
}

const LNKD_SSD_MIX: Mix = Mix {
    share: 0.9122,
    first: Dist::Pareto {
        xm: 0.235,
        alpha: 10.0,
    },
    second: Dist::Exponential { lambda: 1.66 },
};

const LNKD_DISK_W: Mix = Mix {
    share: 0.38,
    first: Dist::Pareto {
        xm: 1.05,
        alpha: 1.51,
    },
    second: Dist::Exponential { lambda: 0.183 },
};

/// The four production fits; YMMR's W body uses α = 3.5, as the authors' simulator does
/// (TARGETS.md: 3.35 in the paper's table gives 88.75% at t = 0 instead of 89.3%).
pub const FITS: [Fit; 4] = [
    Fit {
        name: "LNKD-SSD",
        w: LNKD_SSD_MIX,
        ars: LNKD_SSD_MIX,
        wan: false,
    },
    Fit {
        name: "LNKD-DISK",
        w: LNKD_DISK_W,
        ars: LNKD_SSD_MIX,
        wan: false,
    },
    Fit {
        name: "YMMR",
        w: Mix {
            share: 0.939,
            first: Dist::Pareto {
                xm: 3.0,
                alpha: 3.5,
            },
            second: Dist::Exponential { lambda: 0.0028 },
        },
        ars: Mix {
            share: 0.982,
            first: Dist::Pareto {
                xm: 1.5,
                alpha: 3.8,
            },
            second: Dist::Exponential { lambda: 0.0217 },
        },
        wan: false,
    },
    Fit {
        name: "WAN",
        w: LNKD_DISK_W,
        ars: LNKD_SSD_MIX,
        wan: true,
    },
];

/// Every message exponential with mean 10 ms: what quorum_kv can run (T9's grid cell).
pub const EXPONENTIAL_10: Fit = Fit {
    name: "exponential, all means 10 ms",
    w: Mix {
        share: 1.0,
        first: Dist::Exponential { lambda: 0.1 },
        second: Dist::Exponential { lambda: 0.1 },
    },
    ars: Mix {
        share: 1.0,
        first: Dist::Exponential { lambda: 0.1 },
        second: Dist::Exponential { lambda: 0.1 },
    },
    wan: false,
};

/// The t's of T8's acceptance, ms.
pub const TS_MS: [f64; 4] = [0.0, 1.0, 5.0, 10.0];

/// TARGETS.md's [OURS] P(consistent) at t = 0, 1, 5, 10 ms (N=3, R=W=1; midpoints where it
/// gives a range), and the paper's own t = 0 figure.
const OURS: [(&str, [f64; 4], &str); 4] = [
    ("LNKD-SSD", [0.9734, 0.9950, 1.0, 1.0], "97.4%"),
    ("LNKD-DISK", [0.43685, 0.5837, 0.8182, 0.9263], "43.9%"),
    ("YMMR", [0.89305, 0.9110, 0.9340, 0.9398], "89.3%"),
    ("WAN", [0.3339, 0.3335, 0.3335, 0.3335], "33%"),
];

/// TARGETS.md T9's oracle values for W mean 10, ARS mean 10, R = W = 1 at t = 0, 1, 5, 10.
const EXPONENTIAL_10_OURS: [f64; 4] = [0.7530, 0.7763, 0.8505, 0.9090];

/// A SplitMix64 stream: the oracle's own randomness, independent of the engine's.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

impl Dist {
    fn sample(&self, rng: &mut SplitMix) -> f64 {
        match *self {
            Dist::Pareto { xm, alpha } => xm / libm::pow(rng.unit(), 1.0 / alpha),
            Dist::Exponential { lambda } => -libm::log(rng.unit()) / lambda,
        }
    }
}

impl Mix {
    fn sample(&self, rng: &mut SplitMix) -> f64 {
        if self.share >= 1.0 || rng.unit() < self.share {
            self.first.sample(rng)
        } else {
            self.second.sample(rng)
        }
    }
}

/// The WARS oracle for N = 3, R = W = 1: per trial, the smallest t at which the read is
/// consistent (negative: at once), sorted. P(consistent at t) is the share at or below t.
pub fn oracle(fit: &Fit, trials: u64, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix(seed);
    let mut thresholds = Vec::with_capacity(trials as usize);
    for _ in 0..trials {
        let write_local = rng.below(N);
        let read_local = rng.below(N);
        let far = |local: usize, i: usize| if fit.wan && i != local { 75.0 } else { 0.0 };
        let mut w = [0.0; N];
        let mut commit = f64::INFINITY;
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = fit.w.sample(&mut rng) + far(write_local, i);
            let ack = fit.ars.sample(&mut rng) + far(write_local, i);
            commit = commit.min(*wi + ack);
        }
        // R = 1: the read answers from the replica whose request and response are fastest.
        let mut first = (f64::INFINITY, 0.0);
        for (i, wi) in w.iter().enumerate() {
            let request = fit.ars.sample(&mut rng) + far(read_local, i);
            let response = fit.ars.sample(&mut rng) + far(read_local, i);
            if request + response < first.0 {
                first = (request + response, wi - commit - request);
            }
        }
        thresholds.push(first.1);
    }
    thresholds.sort_by(f64::total_cmp);
    thresholds
}

/// The share of `thresholds` at or below `t`: P(consistent at t).
pub fn consistent_at(thresholds: &[f64], t: f64) -> f64 {
    thresholds.partition_point(|x| *x <= t) as f64 / thresholds.len().max(1) as f64
}

/// The smallest t with P(consistent) ≥ 99.9% (0 when it holds at once).
pub fn t_at_999(thresholds: &[f64]) -> f64 {
    let rank = ((0.999 * thresholds.len() as f64).ceil() as usize).clamp(1, thresholds.len());
    thresholds[rank - 1].max(0.0)
}

/// One read-after-write trial of the simulation: t in ms, and whether it was consistent.
pub type Trial = (f64, bool);

/// Scores the history: each read that directly follows an acknowledged write of the same
/// client is a trial.
pub fn score(history: &History) -> Vec<Trial> {
    let mut trials = Vec::new();
    let mut last_write: Option<(u64, f64)> = None;
    for op in &history.ops {
        match (op.kind, op.outcome, op.complete) {
            (OpKind::Put, Outcome::Ok, Some(done)) => {
                let commit_ns = done.0 - CLIENT_LATENCY_NS;
                last_write = op.write.map(|v| (v.0, commit_ns as f64 / 1e6));
                continue;
            }
            (OpKind::Get, Outcome::Ok, _) => {
                if let Some((value, commit_ms)) = last_write {
                    let arrival_ms = (op.invoke.0 + CLIENT_LATENCY_NS) as f64 / 1e6;
                    let newest = op.read.iter().flatten().map(|v| v.0).max();
                    trials.push((arrival_ms - commit_ms, newest.is_some_and(|v| v >= value)));
                }
            }
            _ => {}
        }
        last_write = None;
    }
    trials
}

/// A ring on which n1, the client's node, is not one of key 0's replicas, so it coordinates
/// without being one: (node count, tokens per node). n1's first token lies just after key 0
/// on every ring of 4 nodes, so more nodes are needed; the extra ones stay idle.
fn layout() -> Result<(u32, u32), String> {
    (4..=12)
        .flat_map(|nodes| (1..=64).map(move |vnodes| (nodes, vnodes)))
        .find(|(nodes, vnodes)| {
            !Ring::new(*nodes, *vnodes)
                .preference_list(Key(0), N as u32)
                .contains(&NodeId(0))
        })
        .ok_or_else(|| "no ring keeps n1 off key 0's replicas".to_string())
}

/// The simulated runs' scenario, for about `trials` trials.
pub fn scenario_text(trials: u64) -> Result<String, String> {
    let (nodes, vnodes) = layout()?;
    // About four operations per trial; each at most a few tens of ms.
    let ops = trials * 9 / 2 + 200;
    Ok(format!(
        r#"Scenario(
    name: "pbs-t-visibility-exponential",
    nodes: {nodes},
    duration: "{duration_ms}ms",
    protocol: QuorumKv(n: 3, r: 1, w: 1, vnodes: {vnodes}, versions: Timestamps, read_repair: false),
    network: (
        latency: Exponential(mean: "10ms"),
        delivery: Reorder,
        client_latency: Constant("{client_us}us"),
    ),
    workload: (clients: 1, keys: 1, writes: 0.5, rate_per_s: 100, target: Sticky, timeout: "1s", ops_per_client_max: {ops}),
    checks: [],
)"#,
        duration_ms = ops * 40,
        client_us = CLIENT_LATENCY_NS / 1_000,
    ))
}

/// Runs quorum_kv on [`EXPONENTIAL_10`] for about `trials` trials.
pub fn simulate(trials: u64, seed: u64) -> Result<Vec<Trial>, String> {
    let text = scenario_text(trials)?;
    let scenario = Registry::builtin()
        .load_text("pbs-t-visibility (generated)", &text)
        .map_err(|e| e.to_string())?;
    let result = scenario.run(seed, RunOptions::default(), None);
    Ok(score(&result.history))
}

/// The bins of t (ms) the simulated trials are judged in.
const BINS_MS: [(f64, f64); 7] = [
    (0.0, 1.0),
    (1.0, 2.0),
    (2.0, 5.0),
    (5.0, 10.0),
    (10.0, 20.0),
    (20.0, 50.0),
    (50.0, f64::INFINITY),
];

/// Per bin: trials, measured share consistent, the oracle's prediction for the same t's.
fn binned(trials: &[Trial], thresholds: &[f64]) -> Vec<(usize, f64, f64, f64)> {
    BINS_MS
        .iter()
        .map(|(lo, hi)| {
            let inside: Vec<&Trial> = trials.iter().filter(|(t, _)| t >= lo && t < hi).collect();
            let count = inside.len();
            let consistent = inside.iter().filter(|(_, ok)| *ok).count();
            let predicted: Vec<f64> = inside
                .iter()
                .map(|(t, _)| consistent_at(thresholds, *t))
                .collect();
            let expected = predicted.iter().sum::<f64>() / count.max(1) as f64;
            let variance: f64 = predicted.iter().map(|p| p * (1.0 - p)).sum();
            let sigma = variance.sqrt() / count.max(1) as f64;
            (
                count,
                consistent as f64 / count.max(1) as f64,
                expected,
                sigma,
            )
        })
        .collect()
}

fn oracle_rows(rows: &mut Vec<Row>) -> Vec<Series> {
    let mut series = Vec::new();
    let fits = FITS.iter().zip(OURS.iter().map(|(_, v, p)| (*v, Some(*p))));
    let all = fits.chain(std::iter::once((
        &EXPONENTIAL_10,
        (EXPONENTIAL_10_OURS, None),
    )));
    for (index, (fit, (ours, paper))) in all.enumerate() {
        let thresholds = oracle(fit, ORACLE_TRIALS, 1 + index as u64);
        for (t, want) in TS_MS.iter().zip(ours) {
            let got = consistent_at(&thresholds, *t);
            let expected = match (paper, *t == 0.0) {
                (Some(paper), true) => format!("{} (paper {paper})", percent(want, 2)),
                _ => percent(want, 2),
            };
            rows.push(Row::new(
                format!("oracle, {}: P(consistent) at t = {t} ms", fit.name),
                percent(got, 2),
                expected,
                format!("±{:.1} pp", TOLERANCE * 100.0),
                Check::from((got - want).abs() <= TOLERANCE),
            ));
        }
        rows.push(Row::new(
            format!("oracle, {}: t at 99.9% consistent (ms)", fit.name),
            format!("{:.2}", t_at_999(&thresholds)),
            match fit.name {
                "LNKD-SSD" => "1.97-1.98 (paper 1.85, biased sweep)",
                "LNKD-DISK" => "51.4-52.8 (paper 45.5, biased sweep)",
                "YMMR" => "1461-1475 (paper 1364, biased sweep)",
                "WAN" => "116-118 (paper 113.0, biased sweep)",
                _ => "—",
            },
            "report",
            Check::Report,
        ));
        let curve = (0..=100)
            .map(|i| {
                let t = i as f64 * 0.2;
                (t, consistent_at(&thresholds, t) * 100.0)
            })
            .collect();
        series.push(Series {
            name: format!("oracle {}", fit.name),
            points: curve,
            style: Style::Line,
            color: index,
        });
    }
    series
}

/// Runs T8.
pub fn run(plan: &Plan) -> Result<Reproduction, String> {
    let trials = plan.trials(REDUCED_TRIALS, FULL_TRIALS);
    let mut rows = Vec::new();
    let oracle_series = oracle_rows(&mut rows);
    let simulated = simulate(trials, 1)?;
    let thresholds = oracle(&EXPONENTIAL_10, ORACLE_TRIALS, 99);
    let mut measured_points = Vec::new();
    for ((lo, hi), (count, share, expected, sigma)) in
        BINS_MS.iter().zip(binned(&simulated, &thresholds))
    {
        let allowed = TOLERANCE.max(4.0 * sigma.max(binomial_sigma(expected, count as u64)));
        rows.push(Row::new(
            format!("quorum_kv, exponential 10 ms: P(consistent), t in [{lo}, {hi}) ms"),
            format!("{} ({count} trials)", percent(share, 2)),
            format!("{} (oracle at the same t's)", percent(expected, 2)),
            format!("±{:.2} pp", allowed * 100.0),
            Check::from(count > 0 && (share - expected).abs() <= allowed),
        ));
        if hi.is_finite() {
            measured_points.push(((lo + hi) / 2.0, share * 100.0));
        }
    }
    rows.push(Row::new(
        "quorum_kv on the production fits (LNKD-SSD, LNKD-DISK, YMMR, WAN)",
        "not run",
        "needs mixture latencies and per-message-class latency",
        "—",
        Check::Report,
    ));
    let exponential_curve = (0..=250)
        .map(|i| {
            let t = i as f64 * 0.2;
            (t, consistent_at(&thresholds, t) * 100.0)
        })
        .collect();
    Ok(Reproduction {
        id: "T8",
        name: "pbs-t-visibility",
        setup: vec![
            format!("WARS oracle (independent of sim-core), N=3 R=W=1, {ORACLE_TRIALS} trials per fit; YMMR W body α = 3.5"),
            format!(
                "quorum_kv: N=3 R=W=1, timestamps, no repair, client on the non-replica node, every message Exponential(mean 10 ms), reordering links; {} read-after-write trials ({})",
                simulated.len(),
                plan.describe()
            ),
        ],
        rows,
        notes: vec![
            "MISSING: quorum_kv on the paper's latency fits. The engine has no mixture distribution and no per-message-class latency (a write request and a read request on one link draw from one distribution), so LNKD-SSD/DISK, YMMR and WAN cannot be simulated; only the oracle rows cover them".into(),
            "MISSING: p99.9 read/write latencies (Table 4) and t@99.9% through the simulator, for the same reason".into(),
            "the simulated check is against the oracle for the same t's, bin by bin: the client's think time spreads reads over t instead of reading at fixed t".into(),
        ],
        figure: Figure {
            title: "T8: PBS t-visibility (N=3, R=W=1)".into(),
            panels: vec![
                Panel {
                    title: "WARS oracle on the paper's latency fits (not the simulator)".into(),
                    x_label: "t after commit (ms)".into(),
                    y_label: "P(consistent) (%)".into(),
                    series: oracle_series,
                    y_range: Some((0.0, 100.0)),
                    ..Panel::default()
                },
                Panel {
                    title: "quorum_kv, every message Exponential(10 ms), against the oracle".into(),
                    x_label: "t after commit (ms)".into(),
                    y_label: "P(consistent) (%)".into(),
                    series: vec![
                        Series {
                            name: "oracle".into(),
                            points: exponential_curve,
                            style: Style::Dashed,
                            color: 7,
                        },
                        Series {
                            name: "quorum_kv (bin middles)".into(),
                            points: measured_points,
                            style: Style::Points,
                            color: 0,
                        },
                    ],
                    y_range: Some((0.0, 100.0)),
                    ..Panel::default()
                },
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_is_deterministic_and_sorted() {
        let a = oracle(&FITS[0], 1_000, 5);
        assert_eq!(a, oracle(&FITS[0], 1_000, 5));
        assert!(a.windows(2).all(|p| p[0] <= p[1]));
        assert_eq!(consistent_at(&[-1.0, 0.0, 2.0, 3.0], 0.0), 0.5);
        assert_eq!(t_at_999(&[-1.0, -0.5]), 0.0);
    }

    #[test]
    fn a_node_outside_the_key_coordinates() {
        let (nodes, vnodes) = layout().unwrap();
        let replicas = Ring::new(nodes, vnodes).preference_list(Key(0), 3);
        assert_eq!(replicas.len(), 3);
        assert!(!replicas.contains(&NodeId(0)));
    }
}
