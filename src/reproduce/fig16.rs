//! T1: Raft Figure 16 (Ongaro and Ousterhout, ATC 2014; thesis §9.4): how long a five-node
//! cluster is without a leader after its leader crashes, for each election-timeout range,
//! against the paper's per-trial data (../shared/paper-data/raft-fig16).
//!
//! The run is `scenarios/raft-election-timing.ron` (read its header for the setup: 0.1–0.3 ms
//! links, a 2.9 ms disk sync paid only by writes, timers up to 2 ms late, no pre-vote, drift
//! up to 50 ppm, two of the four survivors one batch of entries behind yet reset by the same
//! last heartbeat, the leader crashing up to one heartbeat after its last heartbeat) with the
//! timeout range
//! [lo, hi] and heartbeats every lo/2 set per curve. A trial is one seed; its downtime runs
//! from the crash until the last survivor hears the new leader
//! ([`LeadershipLog::downtime_after`]). A trial with no leader 3 s after the crash is re-run
//! (same seed, same events) with 60 s, then 600 s; one with none by then is censored, as
//! TARGETS.md says.
//!
//! Gates (TARGETS.md T1): A, for the uncontested lines, medians ±15% and p90 ±25% of the data
//! (150-175, 150-200, 150-300, 100-200, 50-100), means ±20% (12-24, 25-50); B, the order of the
//! medians exactly as in the data; C, no downtime below lo/2 in any trial. Reported, not gated:
//! the contested medians (150-155, 150-151: flagged outside ×1/1.6…1.6), the 150-150 median,
//! and the two-sample KS distance per line, with Howard et al.'s 2015 re-simulation's distance
//! beside it for scale. With fewer trials than the paper's, tolerances widen by
//! sqrt(paper trials / trials).
//!
//! Model choice (docs/reproductions.md): a vote splits when a second survivor times out while
//! the first candidate is still syncing its vote, and timer slack decides how often two timers
//! drawn alike fire apart, so the candidate's sync latency and the slack set the contested
//! lines. 2.9 ms and 2 ms pass every gate and put 150-155 and 150-151 within a few percent of
//! the paper; 150-150 then ends far sooner than the paper's (its real timers were steadier
//! than 2 ms of slack). An election round is about 6.3 ms rather than the paper's 15 ms.

use super::chart::{Figure, Panel, Series, Style};
use super::stats::{ks_distance, widening, Censored};
use super::{par_map, AnnotationsOnly, Check, Plan, Reproduction, Row};
use crate::registry::LoadedScenario;
use crate::Registry;
use protocols::raft::timing::{Leadership, LeadershipLog};
use sim_core::engine::RunOptions;
use sim_core::fault::FaultAction;
use sim_core::ids::NodeId;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Trial counts for `--list`.
pub const TRIALS: &str =
    "trials per timeout range: 200 reduced (20 for 150-150), 1,000 full (100 for 150-150); 10 ranges";

const SCENARIO_FILE: &str = "scenarios/raft-election-timing.ron";
const SCENARIO: &str = include_str!("../../scenarios/raft-election-timing.ron");

/// The data file, under the paper-data folder.
const DATA_FILE: &str = "raft-fig16/ongaro-2014-logcabin-trials.csv";

/// When n1 crashes in the scenario, in ms.
const CRASH_MS: u64 = 2_000;

/// How long after the crash a trial may run before it is re-run longer, then censored, in ms.
const CAPS_MS: [u64; 3] = [3_000, 60_000, 600_000];

/// Give up on a line after this many seeds per trial asked (skipped seeds included).
const SEEDS_PER_TRIAL_MAX: u64 = 4;

/// Trials per line in the reduced form.
const REDUCED_TRIALS: u64 = 200;

/// One line of Figure 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Shortest election timeout, ms.
    pub lo_ms: u64,
    /// Longest election timeout, ms.
    pub hi_ms: u64,
}

impl Range {
    /// "150-300", as the data file names it.
    pub fn label(&self) -> String {
        format!("{}-{}", self.lo_ms, self.hi_ms)
    }

    /// The paper's trial count for this line.
    pub fn paper_trials(&self) -> u64 {
        if self.lo_ms == self.hi_ms {
            100
        } else {
            1_000
        }
    }
}

const fn range(lo_ms: u64, hi_ms: u64) -> Range {
    Range { lo_ms, hi_ms }
}

/// Every line of both panels of Figure 16, top panel first (150-300 is in both).
pub const RANGES: [Range; 10] = [
    range(150, 150),
    range(150, 151),
    range(150, 155),
    range(150, 175),
    range(150, 200),
    range(150, 300),
    range(12, 24),
    range(25, 50),
    range(50, 100),
    range(100, 200),
];

/// Gate A lines judged on median (±15%) and p90 (±25%).
const MEDIAN_GATED: [Range; 5] = [
    range(150, 175),
    range(150, 200),
    range(150, 300),
    range(100, 200),
    range(50, 100),
];

/// Gate A lines judged on the mean (±20%).
const MEAN_GATED: [Range; 2] = [range(12, 24), range(25, 50)];

/// Gate B: medians strictly increase along each chain.
const ORDERINGS: [&[Range]; 2] = [
    &[
        range(150, 175),
        range(150, 200),
        range(150, 300),
        range(150, 155),
        range(150, 151),
        range(150, 150),
    ],
    &[
        range(12, 24),
        range(25, 50),
        range(50, 100),
        range(100, 200),
        range(150, 300),
    ],
];

/// Howard et al. 2015's two-sample KS distance to the same data, per line (data README).
const HOWARD_KS: [(Range, f64); 9] = [
    (range(150, 151), 0.229),
    (range(150, 155), 0.326),
    (range(150, 175), 0.137),
    (range(150, 200), 0.178),
    (range(150, 300), 0.260),
    (range(12, 24), 0.202),
    (range(25, 50), 0.350),
    (range(50, 100), 0.286),
    (range(100, 200), 0.241),
];

/// The folder with the paper's data: `FAULTLINE_PAPER_DATA`, else `../shared/paper-data`
/// beside the source tree.
pub fn paper_data_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_PAPER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/paper-data"))
        })
}

/// The paper's per-trial downtimes in ms, per line label, sorted.
pub fn paper_data() -> Result<BTreeMap<String, Censored>, String> {
    let path = paper_data_dir().join(DATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read the paper's data {}: {e} (set FAULTLINE_PAPER_DATA to the paper-data folder)",
            path.display()
        )
    })?;
    let mut lines: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed = match fields.as_slice() {
            [label, _, ms] => ms.parse::<f64>().ok().map(|ms| (label.to_string(), ms)),
            _ => None,
        };
        let (label, ms) = parsed.ok_or_else(|| {
            format!(
                "{}:{}: expected `range,position,ms`, found `{line}`",
                path.display(),
                number + 1
            )
        })?;
        lines.entry(label).or_default().push(ms);
    }
    Ok(lines
        .into_iter()
        .map(|(label, values)| (label, Censored::new(values, 0)))
        .collect())
}

/// What the trials of one line gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Downtimes {
    /// Downtimes in ms, and the censored trials.
    pub sample: Censored,
    /// Invariant violations seen, as "seed N: explanation".
    pub violations: Vec<String>,
    /// Seeds skipped because n1 was not leading when it crashed.
    pub skipped: u64,
}

/// The scenario for one line with the run ending `cap_ms` after the crash.
fn scenario_text(range: Range, cap_ms: u64) -> Result<String, String> {
    let heartbeat_us = range.lo_ms * 1_000 / 2;
    let edits = [
        (
            "election_timeout_min: \"150ms\"".to_string(),
            format!("election_timeout_min: \"{}ms\"", range.lo_ms),
        ),
        (
            "election_timeout_max: \"300ms\"".to_string(),
            format!("election_timeout_max: \"{}ms\"", range.hi_ms),
        ),
        (
            "heartbeat_every: \"75ms\"".to_string(),
            format!("heartbeat_every: \"{heartbeat_us}us\""),
        ),
        (
            "duration: \"5s\"".to_string(),
            format!("duration: \"{}ms\"", CRASH_MS + cap_ms),
        ),
        // n4 and n5 start one heartbeat interval before the crash, so that exactly one
        // heartbeat (and one batch of entries) reaches them.
        (
            "At(\"1925ms\", Restart(\"n4\"))".to_string(),
            format!(
                "At(\"{}us\", Restart(\"n4\"))",
                CRASH_MS * 1_000 - heartbeat_us
            ),
        ),
        (
            "At(\"1925ms\", Restart(\"n5\"))".to_string(),
            format!(
                "At(\"{}us\", Restart(\"n5\"))",
                CRASH_MS * 1_000 - heartbeat_us
            ),
        ),
    ];
    super::edit_scenario(SCENARIO_FILE, SCENARIO, &edits)
}

/// How one seed went.
#[derive(Clone, Debug, PartialEq)]
enum Trial {
    /// The downtime, ms.
    Down(f64),
    /// No leader reached every survivor within 600 s.
    Censored,
    /// n1 was not leading when it crashed, so the crash replaced no leader.
    NotLeading,
    /// An invariant failed.
    Violation(String),
}

/// The leader of the latest term any leadership note before `crash` names.
fn leader_before(log: &LeadershipLog, crash: sim_core::time::SimTime) -> Option<NodeId> {
    let mut latest: Option<(u64, NodeId)> = None;
    for (at, event) in log.events() {
        if *at >= crash {
            break;
        }
        let (term, leader) = match *event {
            Leadership::Leads { node, term } => (term, node),
            Leadership::Follows { leader, term, .. } => (term, leader),
        };
        if latest.is_none_or(|(t, _)| term > t) {
            latest = Some((term, leader));
        }
    }
    latest.map(|(_, leader)| leader)
}

/// Runs one seed, re-running it longer while no leader has reached every survivor.
fn trial(scenarios: &[Box<dyn LoadedScenario>], seed: u64) -> Trial {
    let survivors: Vec<NodeId> = (1..5).map(NodeId).collect();
    for scenario in scenarios {
        let mut log = LeadershipLog::default();
        let mut sink = AnnotationsOnly(&mut log);
        let result = scenario.run(seed, RunOptions::default(), Some(&mut sink));
        if let Some(violation) = result.violations.first() {
            return Trial::Violation(format!("seed {seed}: {}", violation.explanation));
        }
        let crash = result
            .faults
            .iter()
            .find(|fault| fault.action == FaultAction::Crash(NodeId(0)))
            .map(|fault| fault.at);
        let Some(crash) = crash else {
            return Trial::Violation(format!("seed {seed}: n1 never crashed"));
        };
        if leader_before(&log, crash) != Some(NodeId(0)) {
            return Trial::NotLeading;
        }
        if let Some(downtime) = log.downtime_after(crash, &survivors) {
            return Trial::Down(downtime.0 as f64 / 1e6);
        }
    }
    Trial::Censored
}

/// Downtimes (crash to the last survivor hearing the new leader), in ms, for `trials` seeds of
/// one line, counting from seed 0. A seed where n1 was not leading when it crashed is no
/// trial of Figure 16 (n2 or n3 timed out first at the start); it is skipped and the next seed taken, and the
/// count of skipped seeds is reported.
pub fn downtimes(range: Range, trials: u64) -> Result<Downtimes, String> {
    let registry = Registry::builtin();
    let mut scenarios = Vec::new();
    for cap in CAPS_MS {
        let text = scenario_text(range, cap)?;
        let scenario = registry
            .load_text(SCENARIO_FILE, &text)
            .map_err(|e| e.to_string())?;
        scenarios.push(scenario);
    }
    let mut out = Downtimes::default();
    let (mut values, mut censored) = (Vec::new(), 0);
    let mut next_seed = 0;
    while (values.len() + censored) < trials as usize && next_seed < trials * SEEDS_PER_TRIAL_MAX {
        let missing = trials - (values.len() + censored) as u64;
        let batch = next_seed..next_seed + missing + missing / 4;
        next_seed = batch.end;
        for outcome in par_map(batch, |seed| trial(&scenarios, seed)) {
            if (values.len() + censored) as u64 == trials {
                break;
            }
            match outcome {
                Trial::Down(ms) => values.push(ms),
                Trial::Censored => censored += 1,
                Trial::NotLeading => out.skipped += 1,
                Trial::Violation(why) => out.violations.push(why),
            }
        }
    }
    out.sample = Censored::new(values, censored);
    Ok(out)
}

fn ms(value: Option<f64>) -> String {
    value.map_or("censored".to_string(), |v| format!("{v:.1}"))
}

fn relative(measured: Option<f64>, paper: f64, allowed: f64) -> Check {
    Check::from(measured.is_some_and(|m| (m / paper - 1.0).abs() <= allowed))
}

/// The rows of one line: the gate A checks it is subject to, its median, and its KS distance.
fn line_rows(range: Range, ours: &Censored, paper: &Censored, trials: u64) -> Vec<Row> {
    let label = range.label();
    let widen = widening(range.paper_trials(), trials);
    let median = ours.median();
    let paper_median = paper.median().unwrap_or(f64::NAN);
    let mut rows = Vec::new();
    if MEDIAN_GATED.contains(&range) {
        let paper_p90 = paper.quantile(0.9).unwrap_or(f64::NAN);
        rows.push(Row::new(
            format!("{label} ms: median (ms)"),
            ms(median),
            format!("{paper_median:.1}"),
            format!("±{:.0}%", 15.0 * widen),
            relative(median, paper_median, 0.15 * widen),
        ));
        rows.push(Row::new(
            format!("{label} ms: p90 (ms)"),
            ms(ours.quantile(0.9)),
            format!("{paper_p90:.1}"),
            format!("±{:.0}%", 25.0 * widen),
            relative(ours.quantile(0.9), paper_p90, 0.25 * widen),
        ));
    } else if MEAN_GATED.contains(&range) {
        let paper_mean = paper.mean().unwrap_or(f64::NAN);
        rows.push(Row::new(
            format!("{label} ms: mean (ms)"),
            ms(ours.mean()),
            format!("{paper_mean:.1}"),
            format!("±{:.0}%", 20.0 * widen),
            relative(ours.mean(), paper_mean, 0.20 * widen),
        ));
        rows.push(Row::new(
            format!("{label} ms: median (ms)"),
            ms(median),
            format!("{paper_median:.1}"),
            "report",
            Check::Report,
        ));
    } else {
        let ratio = median.map(|m| m / paper_median);
        let flag = ratio.is_some_and(|r| !(1.0 / 1.6..=1.6).contains(&r));
        let contested = range.lo_ms != range.hi_ms;
        rows.push(Row::new(
            format!(
                "{label} ms: median (ms){}",
                if flag && contested {
                    ", FLAGGED: ratio outside ×1/1.6…1.6"
                } else {
                    ""
                }
            ),
            match ratio {
                Some(r) => format!("{} (×{r:.2})", ms(median)),
                None => ms(median),
            },
            format!("{paper_median:.1}"),
            if contested {
                "report; flag outside ×1/1.6…1.6"
            } else {
                "report"
            },
            Check::Report,
        ));
    }
    let howard = HOWARD_KS
        .iter()
        .find(|(r, _)| *r == range)
        .map_or("—".to_string(), |(_, d)| format!("{d:.3} (Howard 2015)"));
    rows.push(Row::new(
        format!("{label} ms: KS distance to the data"),
        format!("{:.3}", ks_distance(ours, paper)),
        howard,
        "report",
        Check::Report,
    ));
    rows
}

/// Gate B: one row per chain of medians that must increase.
fn ordering_rows(medians: &BTreeMap<String, Option<f64>>) -> Vec<Row> {
    ORDERINGS
        .iter()
        .map(|chain| {
            let values: Vec<f64> = chain
                .iter()
                .map(|r| medians[&r.label()].unwrap_or(f64::INFINITY))
                .collect();
            let holds = values.windows(2).all(|pair| pair[0] < pair[1]);
            let names: Vec<String> = chain.iter().map(Range::label).collect();
            let shown: Vec<String> = values
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        format!("{v:.0}")
                    } else {
                        "∞".to_string()
                    }
                })
                .collect();
            Row::new(
                format!("gate B: medians increase {}", names.join(" < ")),
                shown.join(" < "),
                "strictly increasing",
                "exact",
                Check::from(holds),
            )
        })
        .collect()
}

/// A CDF curve of `sample` in % at 200 quantile levels, for the chart.
fn cdf_points(sample: &Censored) -> Vec<(f64, f64)> {
    let n = sample.trials().max(1) as f64;
    let step = (sample.sorted.len() / 200).max(1);
    let mut points: Vec<(f64, f64)> = sample
        .sorted
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i + 1 == sample.sorted.len())
        .map(|(i, v)| (*v, (i + 1) as f64 / n * 100.0))
        .collect();
    points.dedup_by(|a, b| a.0 == b.0);
    points
}

fn panel(
    title: &str,
    lines: &[Range],
    ours: &BTreeMap<String, Censored>,
    paper: &BTreeMap<String, Censored>,
) -> Panel {
    let mut series = Vec::new();
    for (color, range) in lines.iter().enumerate() {
        let label = range.label();
        series.push(Series {
            name: format!("{label} faultline"),
            points: cdf_points(&ours[&label]),
            style: Style::Line,
            color,
        });
        series.push(Series {
            name: format!("{label} paper"),
            points: cdf_points(&paper[&label]),
            style: Style::Dashed,
            color,
        });
    }
    Panel {
        title: title.into(),
        x_label: "time without a leader (ms, log scale)".into(),
        y_label: "cumulative %".into(),
        x_log: true,
        series,
        y_range: Some((0.0, 100.0)),
        ..Panel::default()
    }
}

/// Runs T1.
pub fn run(plan: &Plan) -> Result<Reproduction, String> {
    let paper = paper_data()?;
    let mut rows = Vec::new();
    let mut ours = BTreeMap::new();
    let mut medians = BTreeMap::new();
    let mut violations = Vec::new();
    let mut floor_ok = true;
    let mut floor_worst = f64::INFINITY;
    let mut counts = Vec::new();
    for range in RANGES {
        let label = range.label();
        let full = range.paper_trials();
        let reduced = if range.lo_ms == range.hi_ms {
            REDUCED_TRIALS / 10
        } else {
            REDUCED_TRIALS
        };
        let trials = plan.trials(reduced, full);
        let measured = downtimes(range, trials)?;
        let theirs = paper
            .get(&label)
            .ok_or_else(|| format!("the paper's data has no line {label}"))?;
        if let Some(first) = measured.sample.sorted.first() {
            let ratio = first / (range.lo_ms as f64 / 2.0);
            floor_worst = floor_worst.min(ratio);
            floor_ok &= ratio >= 1.0;
        }
        violations.extend(measured.violations.iter().map(|v| format!("{label}: {v}")));
        rows.extend(line_rows(
            range,
            &measured.sample,
            theirs,
            measured.sample.trials() as u64,
        ));
        medians.insert(label.clone(), measured.sample.median());
        counts.push(format!(
            "{label}: {} trials, {} censored, {} seeds skipped",
            measured.sample.trials(),
            measured.sample.censored,
            measured.skipped
        ));
        ours.insert(label, measured.sample);
    }
    rows.extend(ordering_rows(&medians));
    rows.push(Row::new(
        "gate C: every downtime ≥ lo/2 (shortest, as a multiple of lo/2)",
        format!("×{floor_worst:.2}"),
        "≥ ×1.00",
        "exact",
        Check::from(floor_ok),
    ));
    rows.push(Row::new(
        "invariant violations in any trial",
        violations.len().to_string(),
        "0",
        "exact",
        Check::from(violations.is_empty()),
    ));
    let mut notes = vec![
        "contested lines (150-155, 150-151, 150-150) are split-vote dominated and depend on the disk/timer model; TARGETS.md reports them without a gate".to_string(),
        "model: a candidate syncs its vote (2.9 ms) before asking and timers fire up to 2 ms late; the sync is the split window and the slack separates timers drawn alike, so together they set the contested lines; an election round is ~6.3 ms, not the paper's 15 ms (docs/reproductions.md)".to_string(),
        "Howard et al. 2015, a published re-simulation, reached KS 0.14-0.35 and median ratios 0.79-1.60 against the same data".to_string(),
    ];
    notes.extend(violations.into_iter().take(5));
    let top: Vec<Range> = RANGES[..6].to_vec();
    let bottom: Vec<Range> = vec![RANGES[6], RANGES[7], RANGES[8], RANGES[9], RANGES[5]];
    Ok(Reproduction {
        id: "T1",
        name: "raft-fig16",
        setup: vec![
            format!(
                "{SCENARIO_FILE} per timeout range, heartbeats every lo/2; seeds from 0, skipping those where n1 was not leading at its crash ({})",
                plan.describe()
            ),
            format!("paper: {} (per-trial data)", paper_data_dir().join(DATA_FILE).display()),
            counts.join("; "),
        ],
        rows,
        notes,
        figure: Figure {
            title: "T1: Raft Figure 16, time to replace a crashed leader (solid: faultline, dashed: paper's data)".into(),
            panels: vec![
                panel("timeouts with 150 ms minimum and growing randomness", &top, &ours, &paper),
                panel("timeouts scaled down: lo-2lo ms", &bottom, &ours, &paper),
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_edits_apply() {
        let text = scenario_text(range(12, 24), 60_000).unwrap();
        assert!(text.contains("election_timeout_min: \"12ms\""));
        assert!(text.contains("election_timeout_max: \"24ms\""));
        assert!(text.contains("heartbeat_every: \"6000us\""));
        assert!(text.contains("duration: \"62000ms\""));
    }

    #[test]
    fn orderings_treat_censored_medians_as_infinite() {
        let mut medians = BTreeMap::new();
        for (i, range) in RANGES.iter().enumerate() {
            medians.insert(range.label(), Some(i as f64));
        }
        let rows = ordering_rows(&medians);
        assert_eq!(rows[0].check, Check::Fail, "{:?}", rows[0]);
        medians.insert("150-175".into(), Some(1.0));
        medians.insert("150-200".into(), Some(2.0));
        medians.insert("150-300".into(), Some(3.0));
        medians.insert("150-155".into(), Some(4.0));
        medians.insert("150-151".into(), Some(5.0));
        medians.insert("150-150".into(), None);
        assert_eq!(ordering_rows(&medians)[0].check, Check::Pass);
    }
}
