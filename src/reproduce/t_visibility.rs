//! T8: PBS t-visibility under the WARS model (Bailis et al., VLDB 2012, §4.1 and §5.4–5.8),
//! on the real quorum_kv protocol with the paper's production latency fits.
//!
//! Two independent halves, checked against each other and against TARGETS.md:
//!
//! - **The WARS oracle**: a Monte Carlo of the model's definition, independent of sim-core
//!   (its own SplitMix64 stream and its own samplers), checked against TARGETS.md's [OURS]
//!   values and the paper's t = 0 figures for LNKD-SSD, LNKD-DISK, YMMR (W body α = 3.5, as
//!   the authors' simulator; TARGETS.md records that 3.35 gives 88.75% at t = 0) and WAN.
//! - **quorum_kv in the engine**, with each fit written as a scenario: the Table 3 mixtures as
//!   `Mixture` latencies, W (the write request) as the class latency of quorum_kv's "write"
//!   messages, and A = R = S as the network's latency. WAN adds 75 ms (`Shifted`) to the
//!   "write" and "write-ack" classes on the links to and from every replica but a write-local
//!   one, and to "read" and "read-reply" on all but a read-local one. WARS draws those two
//!   per trial; one run cannot, so each WAN measurement pools equal trial counts from the 9
//!   (write-local, read-local) runs, which is exactly the per-trial distribution.
//!
//! The simulated configuration: N = 3, R = W = 1, timestamps, no read repair, no hinted
//! handoff, no anti-entropy; the client talks to the one node that is not a replica of its
//! key (extra idle nodes make such a ring), so all N messages of each phase cross the
//! network; every link reorders (each message draws its own delay, as WARS's iid draws
//! require). A trial is a read right after an acknowledged write by the same client; t is
//! the time from the write's commit at the coordinator to the read's arrival there. The read
//! is consistent when it returns that write. Reads are placed two ways:
//!
//! - spread by the client's exponential think time (mean 10 ms): judged per bin of t against
//!   the oracle's prediction for the same t's;
//! - at exactly t = 0, 1, 5 and 10 ms: the client's hops take t/2 each way and its think time
//!   is about a nanosecond, so every read arrives t after its write committed; judged against
//!   TARGETS.md's [OURS] within ±0.5 pp at 200,000 trials, widened by sqrt(200,000 / trials)
//!   in the reduced form.
//!
//! The 99.9th percentile read and write latencies (Table 4's L_r and L_w for R = W = 1) are
//! the coordinator-side latencies of every successful operation of a fit's runs; they are
//! graded (±5%) only when each has Table 4's million operations, as in the full form.
//! t@99.9% is bracketed: reads at exactly 0.9 and 1.1 times TARGETS.md's unbiased value must
//! fall below and reach 99.9% (a million trials each in the full form). Not done: the R, W ≠ 1
//! cells of Table 4. The engine also still runs the earlier all-exponential configuration (T9's cell
//! "W mean 10, ARS mean 10"), per bin of t.

use super::chart::{Figure, Panel, Series, Style};
use super::stats::{binomial_sigma, quantile, widening};
use super::{percent, Check, Plan, Reproduction, Row};
use crate::Registry;
use protocols::quorum_kv::Ring;
use sim_core::engine::RunOptions;
use sim_core::history::{History, OpKind, Outcome};
use sim_core::ids::{Key, NodeId};

/// Trial counts for `--list`.
pub const TRIALS: &str = "oracle: 400,000 WARS trials per fit in both forms; quorum_kv: about 200,000 read-after-write trials per fit and placement of reads full (5 placements x 4 fits, plus the exponential check), reduced 6,000 per fit and placement and 20,000 for the exponential check";

const REDUCED_TRIALS: u64 = 20_000;
/// The reduced form's trials per production fit and placement of reads: 20 runs of them
/// must stay within a few seconds for the test suite.
const REDUCED_FIT_TRIALS: u64 = 6_000;
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

/// TARGETS.md's [OURS] unbiased t@99.9% per fit in [`FITS`] order (ms: midpoint, range as
/// written there). The simulator's crossing is bracketed at 0.9 and 1.1 times the midpoint.
const T999_OURS: [(f64, &str); 4] = [
    (1.975, "1.97-1.98"),
    (52.1, "51.4-52.8"),
    (1468.0, "1461-1475"),
    (117.0, "116-118"),
];

/// The bracket around [`T999_OURS`]: T8 accepts t@99.9% within ±10%.
const T999_BRACKET: [f64; 2] = [0.9, 1.1];

/// The fewest trials at each side of the bracket for it to be graded: the oracle puts
/// LNKD-DISK's sides only 0.014 and 0.017 pp from 99.9%, and a million trials make one
/// standard deviation 0.003 pp there.
const T999_TRIALS: u64 = 1_000_000;

/// Trials asked for at each side in the full form: a run yields about four fifths of the
/// trials it is sized for (some reads follow reads), so this gives at least [`T999_TRIALS`].
const T999_TRIALS_ASKED: u64 = 1_300_000;

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

/// What one simulated run leaves behind: its trials and, from every successful operation,
/// the coordinator-side latency in ms (the client's two constant hops taken off).
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Read-after-write trials, in history order.
    pub trials: Vec<Trial>,
    /// Successful reads' latencies, ms.
    pub read_ms: Vec<f64>,
    /// Successful writes' latencies, ms.
    pub write_ms: Vec<f64>,
}

/// Scores the history of a run whose client hops take `client_ns` each way: each read that
/// directly follows an acknowledged write of the same client is a trial, and t is the time
/// from the write's commit at the coordinator to the read's arrival there.
pub fn score(history: &History, client_ns: u64) -> Measured {
    let mut measured = Measured::default();
    let mut last_write: Option<(u64, f64)> = None;
    for op in &history.ops {
        let latency_ms = op
            .complete
            .filter(|_| op.outcome == Outcome::Ok)
            .map(|done| (done.0 - op.invoke.0).saturating_sub(2 * client_ns) as f64 / 1e6);
        match (op.kind, op.outcome, op.complete) {
            (OpKind::Put, Outcome::Ok, Some(done)) => {
                measured.write_ms.extend(latency_ms);
                let commit_ns = done.0 - client_ns;
                last_write = op.write.map(|v| (v.0, commit_ns as f64 / 1e6));
                continue;
            }
            (OpKind::Get, Outcome::Ok, _) => {
                measured.read_ms.extend(latency_ms);
                if let Some((value, commit_ms)) = last_write {
                    let arrival_ms = (op.invoke.0 + client_ns) as f64 / 1e6;
                    let newest = op.read.iter().flatten().map(|v| v.0).max();
                    measured
                        .trials
                        .push((arrival_ms - commit_ms, newest.is_some_and(|v| v >= value)));
                }
            }
            _ => {}
        }
        last_write = None;
    }
    measured
}

/// A ring on which n1, the client's node, is not one of key 0's replicas, so it coordinates
/// without being one: (node count, tokens per node, key 0's replicas in preference order).
/// n1's first token lies just after key 0 on every ring of 4 nodes, so more nodes are
/// needed; the extra ones stay idle.
fn layout() -> Result<(u32, u32, Vec<NodeId>), String> {
    (4..=12)
        .flat_map(|nodes| (1..=64).map(move |vnodes| (nodes, vnodes)))
        .map(|(nodes, vnodes)| {
            let replicas = Ring::new(nodes, vnodes).preference_list(Key(0), N as u32);
            (nodes, vnodes, replicas)
        })
        .find(|(_, _, replicas)| !replicas.contains(&NodeId(0)))
        .ok_or_else(|| "no ring keeps n1 off key 0's replicas".to_string())
}

/// Where a simulated run's reads fall in t.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reads {
    /// Spread out by the client's exponential think time (mean 10 ms); judged per bin of t.
    Spread,
    /// Every read at this t (ms): the client's hops take t/2 each way and its think time is
    /// about a nanosecond, so a read reaches the coordinator t after the write committed.
    At(f64),
}

/// One simulated run: a fit, where reads fall, and for WAN which replica is local to the
/// write and which to the read (indices into key 0's replicas).
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    /// The latency fit.
    pub fit: &'a Fit,
    /// Where reads fall in t.
    pub reads: Reads,
    /// WAN: the replica whose write request and ack skip the 75 ms.
    pub write_local: usize,
    /// WAN: the replica whose read request and response skip the 75 ms.
    pub read_local: usize,
}

/// A duration as scenarios write it, in whole nanoseconds.
fn ns_text(ms: f64) -> String {
    format!("{}ns", libm::round(ms * 1e6) as u64)
}

impl Dist {
    /// The distribution as a scenario writes it.
    fn ron(&self) -> String {
        match *self {
            Dist::Pareto { xm, alpha } => {
                format!("Pareto(min: \"{}\", shape: {alpha:?})", ns_text(xm))
            }
            Dist::Exponential { lambda } => {
                format!("Exponential(mean: \"{}\")", ns_text(1.0 / lambda))
            }
        }
    }
}

impl Mix {
    /// The mixture as a scenario writes it (one component when `share` is 1).
    fn ron(&self) -> String {
        if self.share >= 1.0 {
            return self.first.ron();
        }
        format!(
            "Mixture([({:?}, {}), ({:?}, {})])",
            self.share,
            self.first.ron(),
            1.0 - self.share,
            self.second.ron()
        )
    }

    /// The mixture, plus 75 ms when `far`.
    fn ron_far(&self, far: bool) -> String {
        if far {
            format!("Shifted(by: \"75ms\", latency: {})", self.ron())
        } else {
            self.ron()
        }
    }
}

/// The client's one-way latency and think time (rate per second) of a run.
fn client_timing(reads: Reads) -> (u64, u64) {
    match reads {
        Reads::Spread => (CLIENT_LATENCY_NS, 100),
        // A think time of about 1 ns: the read leaves as soon as the write's answer lands.
        Reads::At(t_ms) => ((libm::round(t_ms * 1e6) as u64) / 2, 1_000_000_000),
    }
}

/// The simulated run's scenario, for about `trials` trials. Write requests draw from the
/// class latency "write", everything else from the network's latency (A = R = S); on WAN,
/// the links to and from the non-local replicas carry their classes shifted by 75 ms.
pub fn scenario_text(setup: &Setup, trials: u64) -> Result<String, String> {
    let (nodes, vnodes, replicas) = layout()?;
    let fit = setup.fit;
    let (client_ns, rate_per_s) = client_timing(setup.reads);
    let mut links = Vec::new();
    if fit.wan {
        for (i, replica) in replicas.iter().enumerate() {
            let (w_far, r_far) = (i != setup.write_local, i != setup.read_local);
            links.push(format!(
                "(from: \"n1\", to: \"{replica}\", class_latency: {{\"write\": {}, \"read\": {}}})",
                fit.w.ron_far(w_far),
                fit.ars.ron_far(r_far)
            ));
            links.push(format!(
                "(from: \"{replica}\", to: \"n1\", class_latency: {{\"write-ack\": {}, \"read-reply\": {}}})",
                fit.ars.ron_far(w_far),
                fit.ars.ron_far(r_far)
            ));
        }
    }
    // About four and a half operations per trial; each takes a few ms, rarely seconds.
    let ops = trials * 9 / 2 + 200;
    let t_ms = match setup.reads {
        Reads::Spread => 10,
        Reads::At(t) => t as u64,
    };
    Ok(format!(
        r#"Scenario(
    name: "pbs-t-visibility-{name}",
    nodes: {nodes},
    duration: "{duration_ms}ms",
    protocol: QuorumKv(n: 3, r: 1, w: 1, vnodes: {vnodes}, versions: Timestamps, read_repair: false, request_timeout: "1s"),
    network: (
        latency: {ars},
        class_latency: {{"write": {w}}},
        delivery: Reorder,
        client_latency: Constant("{client_ns}ns"),
        links: [{links}],
    ),
    workload: (clients: 1, keys: 1, writes: 0.5, rate_per_s: {rate_per_s}, target: Sticky, timeout: "{timeout_ms}ms", ops_per_client_max: {ops}),
    checks: [],
)"#,
        name = fit.name.to_lowercase().replace([' ', ','], "-"),
        duration_ms = ops * (60 + t_ms),
        // The client's hops alone take t: the timeout must not cut off the slow commits.
        timeout_ms = 2_000 + t_ms,
        ars = fit.ars.ron(),
        w = fit.w.ron(),
        links = links.join(",\n            "),
    ))
}

/// Runs quorum_kv on one setup for about `trials` trials.
pub fn simulate(setup: &Setup, trials: u64, seed: u64) -> Result<Measured, String> {
    let text = scenario_text(setup, trials)?;
    let scenario = Registry::builtin()
        .load_text("pbs-t-visibility (generated)", &text)
        .map_err(|e| e.to_string())?;
    let result = scenario.run(seed, RunOptions::default(), None);
    if let Some(limit) = result.limit_reached {
        // A truncated run would quietly measure fewer trials than asked for.
        return Err(format!(
            "a T8 run of {} stopped early: {limit}",
            setup.fit.name
        ));
    }
    Ok(score(&result.history, client_timing(setup.reads).0))
}

/// Pools runs of one fit and placement of reads: every run's latencies, and the same number
/// of trials from each run (the first ones), so that each WAN combination weighs the same.
fn pool(runs: Vec<Measured>) -> Measured {
    let each = runs.iter().map(|m| m.trials.len()).min().unwrap_or(0);
    let mut pooled = Measured::default();
    for run in runs {
        pooled.trials.extend_from_slice(&run.trials[..each]);
        pooled.read_ms.extend(run.read_ms);
        pooled.write_ms.extend(run.write_ms);
    }
    pooled
}

/// Runs `fit` with reads placed by `reads` for about `trials` trials. On WAN, the trials are
/// pooled from the 9 (write-local, read-local) combinations, the same number from each: the
/// oracle draws both uniformly and independently per trial, so an equal-weight pool of the
/// 9 fixed choices has exactly its distribution (one run cannot re-draw them per trial).
pub fn simulate_fit(fit: &Fit, reads: Reads, trials: u64, seed: u64) -> Result<Measured, String> {
    let jobs = jobs(fit, reads, trials, seed);
    let runs = super::par_map(0..jobs.len() as u64, |i| {
        let (setup, trials, seed) = &jobs[i as usize];
        simulate(setup, *trials, *seed)
    });
    Ok(pool(runs.into_iter().collect::<Result<_, _>>()?))
}

/// The most trials one run is sized for: a run stops at the engine's event limit, which a
/// run sized for much more than this would reach before its last trial.
const RUN_TRIALS_MAX: u64 = 400_000;

/// The runs behind one (fit, reads) measurement: one, or nine on WAN (each with a ninth of
/// the trials and a seed of its own), each split into parts of at most [`RUN_TRIALS_MAX`]
/// trials with seeds of their own.
fn jobs<'a>(fit: &'a Fit, reads: Reads, trials: u64, seed: u64) -> Vec<(Setup<'a>, u64, u64)> {
    let combos = if fit.wan { (N * N) as u64 } else { 1 };
    let per_combo = trials.div_ceil(combos);
    let parts = per_combo.div_ceil(RUN_TRIALS_MAX).max(1);
    (0..combos)
        .flat_map(|combo| {
            let setup = Setup {
                fit,
                reads,
                write_local: (combo / N as u64) as usize,
                read_local: (combo % N as u64) as usize,
            };
            (0..parts).map(move |part| {
                let part_seed = seed * 16 + combo + part * 1_000_000;
                (setup, per_combo.div_ceil(parts), part_seed)
            })
        })
        .collect()
}

/// The bins of t (ms) the spread-out trials are judged in.
const BINS_MS: [(f64, f64); 7] = [
    (0.0, 1.0),
    (1.0, 2.0),
    (2.0, 5.0),
    (5.0, 10.0),
    (10.0, 20.0),
    (20.0, 50.0),
    (50.0, f64::INFINITY),
];

/// Per bin: trials, measured share consistent, the oracle's prediction for the same t's, and
/// the standard deviation of the measured share under the oracle.
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

/// The oracle's rows and curves for the four fits and the exponential configuration; returns
/// the curves and each fit's sorted thresholds (in [`FITS`] order, then [`EXPONENTIAL_10`]).
fn oracle_rows(rows: &mut Vec<Row>) -> (Vec<Series>, Vec<Vec<f64>>) {
    let mut series = Vec::new();
    let mut all_thresholds = Vec::new();
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
        all_thresholds.push(thresholds);
    }
    (series, all_thresholds)
}

/// The per-bin rows of one fit's spread-out trials; returns the bin middles measured.
fn bin_rows(
    rows: &mut Vec<Row>,
    name: &str,
    trials: &[Trial],
    thresholds: &[f64],
) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    for ((lo, hi), (count, share, expected, sigma)) in
        BINS_MS.iter().zip(binned(trials, thresholds))
    {
        // 4σ, plus one trial's worth: in a small bin where the outcome is rare (a stale read
        // at t ≥ 50 ms), one trial moves the share by 1/count and the normal approximation
        // behind 4σ no longer holds.
        let allowed = TOLERANCE.max(4.0 * sigma.max(binomial_sigma(expected, count as u64)))
            + 1.0 / count.max(1) as f64;
        let check = if count == 0 {
            Check::Report
        } else {
            Check::from((share - expected).abs() <= allowed)
        };
        rows.push(Row::new(
            format!("quorum_kv, {name}: P(consistent), t in [{lo}, {hi}) ms"),
            format!("{} ({count} trials)", percent(share, 2)),
            format!("{} (oracle at the same t's)", percent(expected, 2)),
            format!("±{:.2} pp", allowed * 100.0),
            check,
        ));
        if hi.is_finite() && count > 0 {
            points.push(((lo + hi) / 2.0, share * 100.0));
        }
    }
    points
}

/// Table 4's 99.9th percentile read and write latencies for R = W = 1 (ms), and TARGETS.md's
/// [OURS] ranges, per fit in [`FITS`] order.
const TABLE_4: [(f64, f64, &str); 4] = [
    (0.66, 0.66, "[OURS] 0.66 / 0.66"),
    (0.66, 10.99, "[OURS] 0.65 / 10.91-10.97"),
    (5.58, 10.83, "[OURS] 5.60-5.61 / 10.75-10.94"),
    (3.4, 55.12, "[OURS] 3.42-3.44 / 53.68-54.47"),
];

/// Table 4's trial count for latencies.
const LATENCY_TRIALS: usize = 1_000_000;

/// Table 4's tolerance on a latency percentile.
const LATENCY_TOLERANCE: f64 = 0.05;

/// The L_r / L_w rows of one fit: graded when each has Table 4's million operations,
/// reported otherwise.
fn latency_rows(rows: &mut Vec<Row>, fit: usize, reads: &mut [f64], writes: &mut [f64]) {
    let (paper_r, paper_w, ours) = TABLE_4[fit];
    for (what, values, paper) in [("read L_r", reads, paper_r), ("write L_w", writes, paper_w)] {
        values.sort_by(f64::total_cmp);
        let Some(p999) = quantile(values, 0.999) else {
            continue;
        };
        let graded = values.len() >= LATENCY_TRIALS;
        let within = (p999 - paper).abs() <= LATENCY_TOLERANCE * paper;
        rows.push(Row::new(
            format!("quorum_kv, {}: p99.9 {what} (ms)", FITS[fit].name),
            format!("{p999:.2} ({} ops)", values.len()),
            format!("{paper} (Table 4; {ours})"),
            if graded {
                "±5%".to_string()
            } else {
                "report (< 1M ops)".to_string()
            },
            if graded {
                Check::from(within)
            } else {
                Check::Report
            },
        ));
    }
}

/// The placements of reads simulated for production fit `fit`: spread, each t of T8, and the
/// two sides of the t@99.9% bracket.
fn placements(fit: usize) -> Vec<Reads> {
    std::iter::once(Reads::Spread)
        .chain(TS_MS.iter().map(|t| Reads::At(*t)))
        .chain(T999_BRACKET.iter().map(|k| Reads::At(k * T999_OURS[fit].0)))
        .collect()
}

/// Runs every simulation of T8 over the available cores: the exponential configuration
/// spread out, then each fit at every placement. Results come back in that order.
fn simulate_all(
    exponential_trials: u64,
    fit_trials: u64,
    bracket_trials: u64,
) -> Result<Vec<Measured>, String> {
    let mut groups = vec![jobs(&EXPONENTIAL_10, Reads::Spread, exponential_trials, 1)];
    for (index, fit) in FITS.iter().enumerate() {
        for (slot, reads) in placements(index).into_iter().enumerate() {
            let trials = if slot > TS_MS.len() {
                bracket_trials
            } else {
                fit_trials
            };
            groups.push(jobs(fit, reads, trials, 2 + (index * 8 + slot) as u64));
        }
    }
    let flat: Vec<&(Setup, u64, u64)> = groups.iter().flatten().collect();
    let runs = super::par_map(0..flat.len() as u64, |i| {
        let (setup, trials, seed) = flat[i as usize];
        simulate(setup, *trials, *seed)
    });
    let mut runs = runs.into_iter();
    let mut pooled = Vec::new();
    for group in &groups {
        let taken = runs
            .by_ref()
            .take(group.len())
            .collect::<Result<Vec<_>, _>>()?;
        pooled.push(pool(taken));
    }
    Ok(pooled)
}

/// The rows of one production fit: per bin of t, at each t of T8, and its latencies.
fn fit_rows(
    rows: &mut Vec<Row>,
    fit: usize,
    measured: &mut [Measured],
    thresholds: &[f64],
) -> Vec<(f64, f64)> {
    let name = FITS[fit].name;
    let points = bin_rows(rows, name, &measured[0].trials, thresholds);
    for (slot, t) in TS_MS.iter().enumerate() {
        let trials = &measured[1 + slot].trials;
        let count = trials.len() as u64;
        let share = trials.iter().filter(|(_, ok)| *ok).count() as f64 / count.max(1) as f64;
        let want = OURS[fit].1[slot];
        let allowed = TOLERANCE * widening(FULL_TRIALS, count);
        rows.push(Row::new(
            format!("quorum_kv, {name}: P(consistent) at t = {t} ms"),
            format!("{} ({count} trials)", percent(share, 2)),
            format!(
                "{} [OURS] (oracle {})",
                percent(want, 2),
                percent(consistent_at(thresholds, *t), 2)
            ),
            format!("±{:.2} pp", allowed * 100.0),
            Check::from(count > 0 && (share - want).abs() <= allowed),
        ));
    }
    let share = |trials: &[Trial]| {
        trials.iter().filter(|(_, ok)| *ok).count() as f64 / trials.len().max(1) as f64
    };
    let (below, above) = (
        &measured[1 + TS_MS.len()].trials,
        &measured[2 + TS_MS.len()].trials,
    );
    let (t999, range) = T999_OURS[fit];
    let [low, high] = T999_BRACKET.map(|k| k * t999);
    let count = below.len().min(above.len()) as u64;
    let bracketed = share(below) < 0.999 && share(above) >= 0.999;
    rows.push(Row::new(
        format!("quorum_kv, {name}: t@99.9% within ±10% of [OURS]"),
        format!(
            "P({low:.3} ms) {}, P({high:.3} ms) {} ({count} trials each)",
            percent(share(below), 3),
            percent(share(above), 3)
        ),
        format!(
            "< 99.9% ≤ (t@99.9% {range} ms [OURS]; oracle P {} / {})",
            percent(consistent_at(thresholds, low), 3),
            percent(consistent_at(thresholds, high), 3)
        ),
        format!("graded at ≥ {T999_TRIALS} trials"),
        if count >= T999_TRIALS {
            Check::from(bracketed)
        } else {
            Check::Report
        },
    ));
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    for run in measured.iter_mut() {
        reads.append(&mut run.read_ms);
        writes.append(&mut run.write_ms);
    }
    latency_rows(rows, fit, &mut reads, &mut writes);
    points
}

/// Runs T8.
pub fn run(plan: &Plan) -> Result<Reproduction, String> {
    let trials = plan.trials(REDUCED_TRIALS, FULL_TRIALS);
    let fit_trials = plan.trials(REDUCED_FIT_TRIALS, FULL_TRIALS);
    let mut rows = Vec::new();
    let (oracle_series, thresholds) = oracle_rows(&mut rows);
    let bracket_trials = plan.trials(REDUCED_FIT_TRIALS, T999_TRIALS_ASKED);
    let mut measured = simulate_all(trials, fit_trials, bracket_trials)?;
    let exponential = &thresholds[FITS.len()];
    let exponential_points = bin_rows(
        &mut rows,
        "exponential 10 ms",
        &measured[0].trials,
        exponential,
    );
    let per_fit = placements(0).len();
    let mut fit_series = Vec::new();
    for fit in 0..FITS.len() {
        let runs = &mut measured[1 + fit * per_fit..1 + (fit + 1) * per_fit];
        let points = fit_rows(&mut rows, fit, runs, &thresholds[fit]);
        fit_series.push(Series {
            name: format!("quorum_kv {} (bin middles)", FITS[fit].name),
            points,
            style: Style::Points,
            color: fit,
        });
    }
    let curve = |thresholds: &[f64], until_ms: f64| {
        (0..=250)
            .map(|i| {
                let t = i as f64 * until_ms / 250.0;
                (t, consistent_at(thresholds, t) * 100.0)
            })
            .collect::<Vec<_>>()
    };
    let mut production = oracle_series;
    production.truncate(FITS.len());
    for series in &mut production {
        series.style = Style::Dashed;
    }
    for (series, thresholds) in production.iter_mut().zip(&thresholds) {
        series.points = curve(thresholds, 50.0);
    }
    production.extend(fit_series);
    let at_counts: Vec<String> = FITS
        .iter()
        .enumerate()
        .map(|(fit, f)| {
            format!(
                "{} {}",
                f.name,
                measured[1 + fit * per_fit + 1].trials.len()
            )
        })
        .collect();
    Ok(Reproduction {
        id: "T8",
        name: "pbs-t-visibility",
        setup: vec![
            format!("WARS oracle (independent of sim-core), N=3 R=W=1, {ORACLE_TRIALS} trials per fit; YMMR W body α = 3.5"),
            format!(
                "quorum_kv: N=3 R=W=1, timestamps, no repair/handoff/anti-entropy, client on the non-replica node, reordering links; W as class latency \"write\", A = R = S as the network's latency; about {fit_trials} read-after-write trials per fit and placement of reads, {trials} for the exponential check ({})",
                plan.describe()
            ),
            format!(
                "trials at each fixed t: {}; WAN pools equal trial counts from its 9 (write-local, read-local) runs",
                at_counts.join(", ")
            ),
        ],
        rows,
        notes: vec![
            "per bin of t: reads spread by the client's exponential think time (mean 10 ms), judged against the oracle at the same t's".into(),
            "at t = 0/1/5/10 ms: the client's hops take t/2 each way and it thinks for about 1 ns, so every read reaches the coordinator t after its write committed; judged against TARGETS.md's [OURS] with ±0.5 pp widened by sqrt(200,000 / trials)".into(),
            "WAN: which replica is local to the write and to the read is drawn per trial in WARS; a run fixes it, so 9 runs (one per combination) contribute equal trial counts, which is exactly the per-trial distribution".into(),
            "p99.9 L_r / L_w: coordinator-side latency of every successful read and write of the fit's runs; graded against Table 4 only with ≥ 1M operations each (the full form), reported otherwise".into(),
            "t@99.9% through the simulator: reads at exactly 0.9 and 1.1 times TARGETS.md's unbiased [OURS] value; P(consistent) rises with t, so the simulator's crossing lies within ±10% when the first is below 99.9% and the second at or above it (graded with ≥ 1,000,000 trials each, the full form)".into(),
        ],
        figure: Figure {
            title: "T8: PBS t-visibility (N=3, R=W=1)".into(),
            panels: vec![
                Panel {
                    title: "quorum_kv on the paper's latency fits against the WARS oracle".into(),
                    x_label: "t after commit (ms)".into(),
                    y_label: "P(consistent) (%)".into(),
                    series: production,
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
                            points: curve(exponential, 50.0),
                            style: Style::Dashed,
                            color: 7,
                        },
                        Series {
                            name: "quorum_kv (bin middles)".into(),
                            points: exponential_points,
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
        let (nodes, vnodes, _) = layout().unwrap();
        let replicas = Ring::new(nodes, vnodes).preference_list(Key(0), 3);
        assert_eq!(replicas.len(), 3);
        assert!(!replicas.contains(&NodeId(0)));
    }
}
