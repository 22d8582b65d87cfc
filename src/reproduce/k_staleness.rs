//! T7: PBS k-staleness (Bailis et al., VLDB 2012, §3.1) measured on the real quorum_kv
//! protocol in its fixed-partial-quorum mode, through the whole pipeline.
//!
//! The run is `scenarios/quorum-pbs-staleness.ron` with n, r, w and the node count set per
//! configuration: one client, one key, a random mix of puts and gets, each waiting for its
//! answer. Every write reaches exactly w replicas that its coordinator draws from its own
//! random stream, and is never copied further; every read asks r replicas drawn the same way
//! and returns the newest stamp among them. So whether a read sees a write is decided by the
//! protocol's own replica choices, nothing else.
//!
//! Scoring, from the history alone: a trial is the first read after an acknowledged write,
//! once 20 writes are acknowledged (T7's warm-up). Its version index is its position among the
//! acknowledged writes (values are issued in order, and one client writes them one at a
//! time). The read is "within k" when it returned one of the last k acknowledged writes. The
//! closed form is P(within k) = 1 - p^k with p = C(n-w, r) / C(n, r); with r + w > n, p = 0.
//!
//! Consecutive trials share writes when k > 1 (a trial's last k writes overlap the next
//! trial's), so the k > 1 estimates are unbiased but slightly more variable than binomial;
//! k = 1 trials are independent.

use super::chart::{Figure, Panel, Series, Style};
use super::stats::{binomial_sigma, choose, widening};
use super::{par_map, Check, Plan, Reproduction, Row};
use crate::pipeline::run_and_report;
use crate::Registry;
use sim_core::engine::RunOptions;
use sim_core::history::{History, OpKind, Outcome};
use sim_core::ids::Value;

/// Trial counts for `--list`.
pub const TRIALS: &str = "reads per (N, R, W): 10,000 reduced, 100,000 full";

/// The bundled scenario every configuration edits.
const SCENARIO_FILE: &str = "scenarios/quorum-pbs-staleness.ron";
const SCENARIO: &str = include_str!("../../scenarios/quorum-pbs-staleness.ron");

/// The k of "within the last k versions" that T7 grades.
pub const KS: [u32; 4] = [1, 2, 3, 5];

/// T7's warm-up: trials start once this many writes are acknowledged.
pub const WARM_UP_WRITES: usize = 20;

/// T7's trial count, and the tolerance floor there.
pub const FULL_TRIALS: u64 = 100_000;
const REDUCED_TRIALS: u64 = 10_000;
const TOLERANCE_FLOOR: f64 = 0.005;

/// The configurations graded against the closed form, then those that must never be stale.
pub const PARTIAL: [(u32, u32, u32); 6] = [
    (3, 1, 1),
    (3, 1, 2),
    (3, 2, 1),
    (5, 1, 1),
    (5, 2, 2),
    (10, 1, 1),
];

/// Configurations with R + W > N: every read sees the latest write.
pub const OVERLAPPING: [(u32, u32, u32); 3] = [(3, 2, 2), (3, 1, 3), (5, 3, 3)];

/// The PBS closed form: the chance that a read quorum misses a given write quorum.
pub fn p_stale(n: u32, r: u32, w: u32) -> f64 {
    choose((n - w) as u64, r as u64) / choose(n as u64, r as u64)
}

/// Trials and, per k in [`KS`], how many were within k.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    /// Trials scored.
    pub trials: u64,
    /// Per k of [`KS`], the trials whose read returned one of the last k writes.
    pub within: [u64; 4],
}

impl Measured {
    /// The share within `KS[slot]`.
    pub fn share(&self, slot: usize) -> f64 {
        self.within[slot] as f64 / self.trials.max(1) as f64
    }
}

/// Scores a history as the module documentation says.
pub fn score(history: &History) -> Measured {
    let mut acknowledged: Vec<Value> = Vec::new();
    let mut last_was_acked_write = false;
    let mut measured = Measured::default();
    for op in &history.ops {
        match (op.kind, op.outcome) {
            (OpKind::Put, Outcome::Ok) => {
                if let Some(value) = op.write {
                    acknowledged.push(value);
                }
                last_was_acked_write = true;
                continue;
            }
            (OpKind::Get, Outcome::Ok)
                if last_was_acked_write && acknowledged.len() >= WARM_UP_WRITES =>
            {
                let seen = op.read.as_ref().and_then(|r| r.iter().max().copied());
                measured.trials += 1;
                for (slot, k) in KS.iter().enumerate() {
                    let oldest_allowed = acknowledged[acknowledged.len() - *k as usize];
                    if seen.is_some_and(|v| v >= oldest_allowed) {
                        measured.within[slot] += 1;
                    }
                }
            }
            _ => {}
        }
        last_was_acked_write = false;
    }
    measured
}

/// Runs the PBS scenario for (n, r, w) long enough for about `trials` trials, with `seed`.
pub fn measure(n: u32, r: u32, w: u32, trials: u64, seed: u64) -> Result<Measured, String> {
    // About four operations per trial (half are writes, and half the reads follow a write)
    // and 10 ms per operation at most; a margin on both.
    let ops = trials * 9 / 2 + 200;
    let replaced = [
        ("nodes: 3,", format!("nodes: {n},")),
        ("n: 3,", format!("n: {n},")),
        ("r: 1,", format!("r: {r},")),
        ("w: 1,", format!("w: {w},")),
        (
            "duration: \"30s\",",
            format!("duration: \"{}ms\",", ops * 10),
        ),
        (
            "timeout: \"1s\")",
            format!("timeout: \"1s\", ops_per_client_max: {ops})"),
        ),
    ];
    let text = super::edit_scenario(SCENARIO_FILE, SCENARIO, &replaced)?;
    let scenario = Registry::builtin()
        .load_text(SCENARIO_FILE, &text)
        .map_err(|e| e.to_string())?;
    let (result, _) = run_and_report(
        "faultline",
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        None,
    );
    Ok(score(&result.history))
}

/// T7's tolerance at `trials` trials: max(0.5 points, 4 sigma) at 100,000, widened by the
/// square root of the trial-count ratio.
pub fn tolerance(expected: f64, trials: u64) -> f64 {
    let sigma_full = binomial_sigma(expected, FULL_TRIALS);
    TOLERANCE_FLOOR.max(4.0 * sigma_full) * widening(FULL_TRIALS, trials)
}

/// Runs T7.
pub fn run(plan: &Plan) -> Result<Reproduction, String> {
    let trials = plan.trials(REDUCED_TRIALS, FULL_TRIALS);
    let configs: Vec<(u32, u32, u32)> = PARTIAL.iter().chain(&OVERLAPPING).copied().collect();
    let measured = par_map(0..configs.len() as u64, |i| {
        let (n, r, w) = configs[i as usize];
        measure(n, r, w, trials, 1 + i)
    });
    let mut rows = Vec::new();
    let mut series = Vec::new();
    for (slot, k) in KS.iter().enumerate() {
        series.push(Series {
            name: format!("k = {k}"),
            points: Vec::new(),
            style: Style::Points,
            color: slot,
        });
    }
    for ((n, r, w), measured) in configs.iter().zip(measured) {
        let measured = measured?;
        let p = p_stale(*n, *r, *w);
        let short = measured.trials < trials;
        for (slot, k) in KS.iter().enumerate() {
            let expected = 1.0 - p.powi(*k as i32);
            let got = measured.share(slot);
            let item = format!("N={n} R={r} W={w} k={k}: P(within k)");
            if r + w > *n {
                // The hard gate: overlapping quorums never return a stale read (k = 1 is the
                // strictest; larger k can only count more reads as fresh).
                if slot > 0 {
                    continue;
                }
                let stale = measured.trials - measured.within[slot];
                rows.push(Row::new(
                    format!("N={n} R={r} W={w}: stale reads (R+W>N)"),
                    format!("{stale} of {}", measured.trials),
                    "0",
                    "exact",
                    Check::from(stale == 0 && !short),
                ));
                continue;
            }
            let allowed = tolerance(expected, measured.trials);
            rows.push(Row::new(
                item,
                format!("{got:.4}"),
                format!("{expected:.4}"),
                format!("±{allowed:.4}"),
                Check::from((got - expected).abs() <= allowed && !short),
            ));
            series[slot].points.push((expected, got));
        }
    }
    series.push(Series {
        name: "closed form (y = x)".into(),
        points: vec![(0.0, 0.0), (1.0, 1.0)],
        style: Style::Dashed,
        color: 7,
    });
    Ok(Reproduction {
        id: "T7",
        name: "pbs-k-staleness",
        setup: vec![
            format!(
                "{SCENARIO_FILE} with partial_quorum: true; one client, one key; {trials} reads scored per (N, R, W) ({})",
                plan.describe()
            ),
            "a trial is the first read after an acknowledged write, after 20 warm-up writes; seeds 1-9, one run per configuration".into(),
            format!(
                "tolerance max(0.5 pp, 4σ at 100,000) × sqrt(100,000 / trials) = ×{:.2}",
                widening(FULL_TRIALS, trials)
            ),
        ],
        rows,
        notes: vec![
            "published examples (PBS §3.1): N=3 R=W=1 gives 0.667, 0.556 (k=2) ... the closed form in the expected column reproduces them exactly".into(),
        ],
        figure: Figure {
            title: "T7: PBS k-staleness, quorum_kv against the closed form".into(),
            panels: vec![Panel {
                title: "P(read within the last k versions): measured against 1 - (C(N-W,R)/C(N,R))^k".into(),
                x_label: "closed form".into(),
                y_label: "measured".into(),
                series,
                y_range: Some((0.0, 1.02)),
                ..Panel::default()
            }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_form_is_the_documented_one() {
        assert!((p_stale(3, 1, 1) - 2.0 / 3.0).abs() < 1e-12);
        assert!((p_stale(3, 1, 2) - 1.0 / 3.0).abs() < 1e-12);
        assert!((p_stale(3, 2, 1) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(p_stale(3, 2, 2), 0.0);
        assert!((p_stale(100, 30, 30) - 1.884e-6).abs() < 1e-9);
    }
}
