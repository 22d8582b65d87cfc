//! T2: Raft's first-term split-vote rate with fixed latency, against the closed form of
//! Ongaro's thesis (§9.2, "Split vote rate with fixed latency"; TARGETS.md T2).
//!
//! The run is `scenarios/raft-split-vote.ron` with the node count, the crashed nodes and the
//! latency set per row: election timeouts uniform in [T, 2T] with T = 100 ms (so the range is
//! T), every message exactly l·T one way, no disk delay, no loss, no drift, no pre-vote, and
//! n − s nodes crashed from 0 s. The s live nodes start in term 0 with identical (empty) logs
//! and fresh timers, so the first term any node campaigns in is term 1. A seed is a split when
//! no node becomes leader of term 1; the leadership notes the Raft nodes write in the trace
//! ([`protocols::raft::timing`]) say who led which term. Timeouts are drawn at 1 ns resolution;
//! events at the same instant run in insertion order.
//!
//! The closed form: with c = s − ⌊n/2⌋ + 1, Pr(split) = Σ_{k=c−1}^{s} C(s,k) l^k (1−l)^{s−k}.
//! Acceptance at 100,000 trials per row: within max(0.5 pp, 4σ).

use super::chart::{Figure, Panel, Series, Style};
use super::stats::{binomial_sigma, choose, widening};
use super::{par_map, percent, AnnotationsOnly, Check, Plan, Reproduction, Row};
use crate::Registry;
use protocols::raft::timing::{Leadership, LeadershipLog};
use sim_core::engine::RunOptions;

/// Trial counts for `--list`.
pub const TRIALS: &str = "seeds per (n, s, l) row: 10,000 reduced, 100,000 full (9 rows)";

const SCENARIO_FILE: &str = "scenarios/raft-split-vote.ron";
const SCENARIO: &str = include_str!("../../scenarios/raft-split-vote.ron");

/// T2's trial count per row, and the reduced form's.
pub const FULL_TRIALS: u64 = 100_000;
const REDUCED_TRIALS: u64 = 10_000;
const TOLERANCE_FLOOR: f64 = 0.005;

/// The election-timeout range T, in ms (timeouts are uniform in [T, 2T]).
const RANGE_MS: u64 = 100;

/// One row of T2: cluster size n, available servers s, one-way latency l (in ranges), and
/// what the thesis says.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Servers in the cluster.
    pub n: u32,
    /// Servers available (the rest crashed from the start).
    pub s: u32,
    /// One-way latency as a fraction of the timeout range.
    pub l: f64,
    /// The thesis's words for this row.
    pub thesis: &'static str,
}

/// The nine rows of TARGETS.md T2 with the thesis's own numbers.
pub const SHAPES: [Shape; 9] = [
    Shape {
        n: 5,
        s: 4,
        l: 0.01,
        thesis: "about 0.06%",
    },
    Shape {
        n: 5,
        s: 4,
        l: 0.10,
        thesis: "about 5.2%",
    },
    Shape {
        n: 5,
        s: 4,
        l: 0.20,
        thesis: "about 18.1%",
    },
    Shape {
        n: 5,
        s: 3,
        l: 0.20,
        thesis: "about half",
    },
    Shape {
        n: 9,
        s: 7,
        l: 0.20,
        thesis: "about 15%",
    },
    Shape {
        n: 9,
        s: 5,
        l: 0.20,
        thesis: "nearly 70%",
    },
    Shape {
        n: 9,
        s: 6,
        l: 0.20,
        thesis: "about 35%",
    },
    Shape {
        n: 7,
        s: 6,
        l: 0.20,
        thesis: "about 10%",
    },
    Shape {
        n: 9,
        s: 5,
        l: 0.10,
        thesis: "40%",
    },
];

/// The thesis's closed form for Pr(split).
pub fn formula(n: u32, s: u32, l: f64) -> f64 {
    let c = s - n / 2 + 1;
    (c - 1..=s)
        .map(|k| choose(s as u64, k as u64) * l.powi(k as i32) * (1.0 - l).powi((s - k) as i32))
        .sum()
}

/// The scenario for one shape, edited from the bundled file.
pub fn scenario_text(shape: &Shape) -> Result<String, String> {
    let latency_us = (shape.l * RANGE_MS as f64 * 1_000.0).round() as u64;
    let crashes: Vec<String> = (shape.s + 1..=shape.n)
        .map(|node| format!("At(\"0s\", Crash(\"n{node}\")),"))
        .collect();
    let edits = [
        ("nodes: 5,", format!("nodes: {},", shape.n)),
        (
            "Constant(\"10ms\")",
            format!("Constant(\"{latency_us}us\")"),
        ),
        ("At(\"0s\", Crash(\"n5\")),", crashes.join("\n        ")),
    ];
    super::edit_scenario(SCENARIO_FILE, SCENARIO, &edits)
}

/// How many of `seeds` split the first term, for one shape.
pub fn measure(shape: &Shape, seeds: std::ops::Range<u64>) -> Result<u64, String> {
    let text = scenario_text(shape)?;
    let scenario = Registry::builtin()
        .load_text(SCENARIO_FILE, &text)
        .map_err(|e| e.to_string())?;
    let outcomes = par_map(seeds, |seed| {
        let mut log = LeadershipLog::default();
        let mut sink = AnnotationsOnly(&mut log);
        let result = scenario.run(seed, RunOptions::default(), Some(&mut sink));
        if let Some(violation) = result.violations.first() {
            return Err(format!("seed {seed}: {}", violation.explanation));
        }
        let won = log
            .events()
            .iter()
            .any(|(_, event)| matches!(event, Leadership::Leads { term: 1, .. }));
        Ok(!won)
    });
    let mut splits = 0;
    for outcome in outcomes {
        splits += u64::from(outcome?);
    }
    Ok(splits)
}

/// T2's tolerance at `trials` trials: max(0.5 pp, 4σ at 100,000), widened by the square root
/// of the trial-count ratio.
pub fn tolerance(expected: f64, trials: u64) -> f64 {
    TOLERANCE_FLOOR.max(4.0 * binomial_sigma(expected, FULL_TRIALS)) * widening(FULL_TRIALS, trials)
}

/// Runs T2.
pub fn run(plan: &Plan) -> Result<Reproduction, String> {
    let trials = plan.trials(REDUCED_TRIALS, FULL_TRIALS);
    let mut rows = Vec::new();
    let mut measured_points = Vec::new();
    for shape in &SHAPES {
        let splits = measure(shape, 0..trials)?;
        let got = splits as f64 / trials as f64;
        let expected = formula(shape.n, shape.s, shape.l);
        let allowed = tolerance(expected, trials);
        rows.push(Row::new(
            format!("n={} s={} l={:.2}: split rate", shape.n, shape.s, shape.l),
            percent(got, 2),
            format!("{} (thesis: {})", percent(expected, 2), shape.thesis),
            format!("±{:.2} pp", allowed * 100.0),
            Check::from((got - expected).abs() <= allowed),
        ));
        measured_points.push((expected * 100.0, got * 100.0));
    }
    let top = measured_points
        .iter()
        .map(|(x, y)| x.max(*y))
        .fold(0.0, f64::max);
    Ok(Reproduction {
        id: "T2",
        name: "raft-split-vote",
        setup: vec![
            format!(
                "{SCENARIO_FILE}: timeouts U[100 ms, 200 ms], latency l × 100 ms, n − s nodes crashed at 0 s, no pre-vote"
            ),
            format!(
                "{trials} seeds (0..{trials}) per row ({}); a split is a seed where nobody leads term 1",
                plan.describe()
            ),
            format!(
                "tolerance max(0.5 pp, 4σ at 100,000) × sqrt(100,000 / trials) = ×{:.2}",
                widening(FULL_TRIALS, trials)
            ),
        ],
        rows,
        notes: vec![],
        figure: Figure {
            title: "T2: Raft split votes with fixed latency, simulated against the thesis's closed form".into(),
            panels: vec![Panel {
                title: "first-term split rate per (n, s, l)".into(),
                x_label: "closed form (%)".into(),
                y_label: "measured (%)".into(),
                series: vec![
                    Series {
                        name: "faultline raft".into(),
                        points: measured_points,
                        style: Style::Points,
                        color: 0,
                    },
                    Series {
                        name: "closed form (y = x)".into(),
                        points: vec![(0.0, 0.0), (top, top)],
                        style: Style::Dashed,
                        color: 7,
                    },
                ],
                ..Panel::default()
            }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formula_gives_the_thesis_numbers() {
        let expected = [
            0.0006, 0.0523, 0.1808, 0.488, 0.148, 0.672, 0.345, 0.099, 0.410,
        ];
        for (shape, want) in SHAPES.iter().zip(expected) {
            let got = formula(shape.n, shape.s, shape.l);
            assert!((got - want).abs() < 0.0006, "{shape:?}: {got}");
        }
    }

    #[test]
    fn the_scenario_edits_apply() {
        let text = scenario_text(&SHAPES[4]).unwrap();
        assert!(text.contains("nodes: 9,"));
        assert!(text.contains("Constant(\"20000us\")"));
        assert!(text.contains("Crash(\"n8\")") && text.contains("Crash(\"n9\")"));
        assert!(!text.contains("Crash(\"n7\")"));
    }
}
