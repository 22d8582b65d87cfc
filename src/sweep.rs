//! `faultline sweep` and `faultline merge`: many seeds of many scenarios, spread over worker
//! threads (each simulation single-threaded) and over machines (`--shard K/N`), streamed to a
//! JSON Lines file one finished run at a time, and summarized the same way however the work
//! was split.

use crate::pipeline::{reproduction_command, run_and_report};
use crate::registry::{LoadedScenario, Registry};
use checkers::ladder::{render_tallies, Column, LadderRow, LadderTally};
use reports::terminal::thousands;
use reports::Verdict;
use serde::{Deserialize, Serialize};
use sim_core::engine::RunOptions;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// How many failing seeds the summary lists a reproduction command for, per scenario.
pub const REPRODUCTIONS_LISTED_MAX: usize = 10;

/// One finished run, as one line of the results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepLine {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as given on the command line.
    pub file: String,
    /// The seed.
    pub seed: u64,
    /// Pass, fail or unknown.
    pub verdict: Verdict,
    /// The names of what was violated, in order.
    pub violations: Vec<String>,
    /// The first violation's explanation, for a quick look.
    pub first_violation: Option<String>,
    /// The trace hash.
    pub trace_hash: String,
    /// Trace events.
    pub events: u64,
    /// Wall-clock time of the run in milliseconds (the only field that varies between
    /// machines and runs).
    pub wall_ms: f64,
    /// Where the run sits on the consistency ladder (absent from older results files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<LadderRow>,
}

/// A share of the (scenario, seed) pairs: pair i belongs to shard K of N when i mod N = K - 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// Reads "K/N" with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let expected =
            || format!("expected --shard K/N with 1 <= K <= N, such as 2/8, found \"{text}\"");
        let (index, count) = text.split_once('/').ok_or_else(expected)?;
        let index: u64 = index.trim().parse().map_err(|_| expected())?;
        let count: u64 = count.trim().parse().map_err(|_| expected())?;
        if index == 0 || count == 0 || index > count {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }

    fn includes(self, pair: usize) -> bool {
        pair as u64 % self.count == self.index - 1
    }
}

/// Reads a seed range: "A..B" (B excluded) or "A..=B" (B included), or one seed "A".
pub fn parse_seeds(text: &str) -> Result<std::ops::Range<u64>, String> {
    let expected = || {
        format!("expected --seeds A..B (B excluded), A..=B or A, such as 0..1000, found \"{text}\"")
    };
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| expected());
    let range = if let Some((a, b)) = text.split_once("..=") {
        number(a)?..number(b)?.checked_add(1).ok_or_else(expected)?
    } else if let Some((a, b)) = text.split_once("..") {
        number(a)?..number(b)?
    } else {
        let a = number(text)?;
        a..a + 1
    };
    if range.start >= range.end {
        return Err(format!(
            "the seed range \"{text}\" is empty: expected A < B in A..B"
        ));
    }
    Ok(range)
}

/// What a sweep was asked to do.
pub struct SweepPlan<'a> {
    /// The loaded scenarios, in command-line order.
    pub scenarios: &'a [Box<dyn LoadedScenario>],
    /// The seeds of each scenario.
    pub seeds: std::ops::Range<u64>,
    /// Worker threads.
    pub jobs: usize,
    /// This machine's share, if any.
    pub shard: Option<Shard>,
    /// Stop handing out work after the first failure.
    pub fail_fast: bool,
    /// Pairs already recorded (by an earlier, interrupted sweep) to skip.
    pub done: BTreeSet<(String, u64)>,
    /// The program name, for reproduction commands.
    pub program: &'a str,
}

/// Runs the plan, writing each finished run to `out` (flushed at once) and calling
/// `progress` after each; returns the lines written, in completion order.
pub fn run_sweep(
    plan: &SweepPlan<'_>,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(&SweepLine),
) -> std::io::Result<Vec<SweepLine>> {
    let seeds_per_scenario = plan.seeds.end - plan.seeds.start;
    let pairs: Vec<(usize, u64)> = (0..plan.scenarios.len())
        .flat_map(|s| plan.seeds.clone().map(move |seed| (s, seed)))
        .enumerate()
        .filter(|(i, _)| plan.shard.is_none_or(|shard| shard.includes(*i)))
        .map(|(_, pair)| pair)
        .filter(|(s, seed)| {
            !plan
                .done
                .contains(&(plan.scenarios[*s].file().to_string(), *seed))
        })
        .collect();
    debug_assert!(pairs.len() as u64 <= seeds_per_scenario * plan.scenarios.len() as u64);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<SweepLine>();
    let mut written = Vec::new();
    std::thread::scope(|scope| -> std::io::Result<()> {
        for _ in 0..plan.jobs.max(1) {
            let sender = sender.clone();
            let (next, stop, pairs) = (&next, &stop, &pairs);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(scenario, seed)) = pairs.get(index) else {
                    break;
                };
                let line = run_one(plan.scenarios[scenario].as_ref(), seed, plan.program);
                if line.verdict == Verdict::Fail && plan.fail_fast {
                    stop.store(true, Ordering::Relaxed);
                }
                if sender.send(line).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for line in receiver {
            let text = serde_json::to_string(&line).expect("sweep lines serialize");
            writeln!(out, "{text}")?;
            // A killed sweep keeps every run it finished.
            out.flush()?;
            progress(&line);
            written.push(line);
        }
        Ok(())
    })?;
    Ok(written)
}

fn run_one(scenario: &dyn LoadedScenario, seed: u64, program: &str) -> SweepLine {
    crate::cli::set_reproduction(reproduction_command(program, scenario.file(), seed));
    #[allow(clippy::disallowed_methods)]
    // Wall time is reported, never used by the simulation: the one reading per run is here.
    let started = std::time::Instant::now();
    let (_, report) = run_and_report(program, scenario, seed, RunOptions::default(), None);
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    SweepLine {
        scenario: report.scenario.clone(),
        file: report.file.clone(),
        seed,
        verdict: report.verdict,
        violations: report.violations.iter().map(|v| v.name.clone()).collect(),
        first_violation: report.violations.first().map(|v| v.explanation.clone()),
        trace_hash: report.trace_hash,
        events: report.events,
        wall_ms,
        ladder: report.ladder_row,
    }
}

/// Reads a results file; a malformed line is an error naming the file and line.
pub fn read_results(path: &str) -> Result<Vec<SweepLine>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
    let mut lines = Vec::new();
    for (number, text) in std::io::BufReader::new(file).lines().enumerate() {
        let text = text.map_err(|e| format!("{path}:{}: cannot read: {e}", number + 1))?;
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<SweepLine>(&text) {
            Ok(line) => lines.push(line),
            // A sweep killed mid-write can leave a torn last line: say so rather than guess.
            Err(e) => {
                return Err(format!(
                    "{path}:{}:{}: expected a sweep result line (JSON with scenario, file, seed, verdict, ...): {e}",
                    number + 1,
                    e.column()
                ))
            }
        }
    }
    Ok(lines)
}

/// The summary of one scenario's runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioSummary {
    /// The scenario's name.
    pub scenario: String,
    /// The file.
    pub file: String,
    /// Runs recorded.
    pub runs: u64,
    /// Runs with a violation.
    pub failures: u64,
    /// Runs cut short by a bound.
    pub unknown: u64,
    /// Each violation kind with the number of runs showing it.
    pub violation_kinds: BTreeMap<String, u64>,
    /// The seed with the most events (the slowest to simulate), and its event count.
    pub slowest_seed: Option<(u64, u64)>,
    /// Failing seeds, in seed order.
    pub failing_seeds: Vec<u64>,
    /// How often each consistency model held over the runs that recorded a ladder row.
    pub ladder: Option<LadderTally>,
}

/// Summaries per scenario file, independent of the order lines were written in and of how
/// the work was split: duplicate (file, seed) lines count once.
pub fn summarize(lines: &[SweepLine]) -> Vec<ScenarioSummary> {
    let mut unique: BTreeMap<(&str, u64), &SweepLine> = BTreeMap::new();
    for line in lines {
        unique
            .entry((line.file.as_str(), line.seed))
            .or_insert(line);
    }
    let mut by_file: BTreeMap<&str, ScenarioSummary> = BTreeMap::new();
    for ((file, seed), line) in unique {
        let summary = by_file.entry(file).or_insert_with(|| ScenarioSummary {
            scenario: line.scenario.clone(),
            file: file.to_string(),
            runs: 0,
            failures: 0,
            unknown: 0,
            violation_kinds: BTreeMap::new(),
            slowest_seed: None,
            failing_seeds: Vec::new(),
            ladder: None,
        });
        summary.runs += 1;
        match line.verdict {
            Verdict::Fail => {
                summary.failures += 1;
                summary.failing_seeds.push(seed);
            }
            Verdict::Unknown => summary.unknown += 1,
            Verdict::Pass => {}
        }
        for kind in line.violations.iter().collect::<BTreeSet<_>>() {
            *summary.violation_kinds.entry(kind.clone()).or_default() += 1;
        }
        if summary
            .slowest_seed
            .is_none_or(|(_, events)| line.events > events)
        {
            summary.slowest_seed = Some((seed, line.events));
        }
        if let Some(row) = &line.ladder {
            let tally = summary.ladder.get_or_insert_with(|| LadderTally {
                group: line.scenario.clone(),
                runs: 0,
                columns: vec![Default::default(); Column::ALL.len()],
            });
            tally.add(row);
        }
    }
    by_file.into_values().collect()
}

/// The summary as text: a table per scenario and a reproduction command per failing seed.
pub fn render_summary(summaries: &[ScenarioSummary], program: &str) -> String {
    let mut out = String::new();
    let name_width = summaries
        .iter()
        .map(|s| s.scenario.chars().count())
        .max()
        .unwrap_or(0)
        .max(28);
    let _ = writeln!(
        out,
        "{:<name_width$} {:>8} {:>9} {:>8}  {:<24} violation kinds",
        "scenario", "runs", "failures", "unknown", "slowest seed (events)"
    );
    for summary in summaries {
        let slowest = summary
            .slowest_seed
            .map_or(String::new(), |(seed, events)| {
                format!("{seed} ({})", thousands(events))
            });
        let kinds: Vec<String> = summary
            .violation_kinds
            .iter()
            .map(|(kind, runs)| format!("{kind} x{runs}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<name_width$} {:>8} {:>9} {:>8}  {:<24} {}",
            summary.scenario,
            thousands(summary.runs),
            thousands(summary.failures),
            thousands(summary.unknown),
            slowest,
            if kinds.is_empty() {
                "-".to_string()
            } else {
                kinds.join(", ")
            }
        );
    }
    let tallies: Vec<LadderTally> = summaries.iter().filter_map(|s| s.ladder.clone()).collect();
    if !tallies.is_empty() {
        let _ = writeln!(out, "\nconsistency ladder per scenario:");
        out.push_str(&render_tallies(&tallies));
    }
    for summary in summaries.iter().filter(|s| !s.failing_seeds.is_empty()) {
        let _ = writeln!(out, "\nreproduce failures of {}:", summary.scenario);
        for seed in summary.failing_seeds.iter().take(REPRODUCTIONS_LISTED_MAX) {
            let _ = writeln!(
                out,
                "  {}",
                reproduction_command(program, &summary.file, *seed)
            );
        }
        let more = summary
            .failing_seeds
            .len()
            .saturating_sub(REPRODUCTIONS_LISTED_MAX);
        if more > 0 {
            let _ = writeln!(
                out,
                "  ... and {more} more failing seeds in the results file"
            );
        }
    }
    out
}

/// The exit code a sweep or merge ends with: 1 if anything failed, 4 if anything was cut
/// short and nothing failed, 0 otherwise.
pub fn exit_code(summaries: &[ScenarioSummary]) -> u8 {
    if summaries.iter().any(|s| s.failures > 0) {
        crate::cli::exit::VIOLATION
    } else if summaries.iter().any(|s| s.unknown > 0) {
        crate::cli::exit::UNKNOWN
    } else {
        crate::cli::exit::PASS
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: a test suite per scenario, a test case per seed, a failure element with the
/// violations and the reproduction command.
pub fn junit(lines: &[SweepLine], program: &str) -> String {
    let mut by_file: BTreeMap<&str, BTreeMap<u64, &SweepLine>> = BTreeMap::new();
    for line in lines {
        by_file
            .entry(&line.file)
            .or_default()
            .entry(line.seed)
            .or_insert(line);
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (file, runs) in by_file {
        let failures = runs.values().filter(|l| l.verdict != Verdict::Pass).count();
        let name = runs.values().next().map_or(file, |l| l.scenario.as_str());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            xml_escape(name),
            runs.len()
        );
        for (seed, line) in runs {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"seed {seed}\" time=\"{:.3}\"",
                xml_escape(name),
                line.wall_ms / 1e3
            );
            if line.verdict == Verdict::Pass {
                out.push_str("/>\n");
                continue;
            }
            let message = match line.verdict {
                Verdict::Unknown => "cut short by a bound".to_string(),
                _ => line.violations.join(", "),
            };
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\">{}\nreproduce: {}</failure>\n    </testcase>",
                xml_escape(&message),
                xml_escape(line.first_violation.as_deref().unwrap_or("")),
                xml_escape(&reproduction_command(program, file, seed))
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Loads every scenario; the first unreadable one is the error.
pub fn load_all(
    registry: &Registry,
    files: &[String],
) -> Result<Vec<Box<dyn LoadedScenario>>, sim_core::scenario::ScenarioError> {
    files.iter().map(|file| registry.load_file(file)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(file: &str, seed: u64, verdict: Verdict, events: u64) -> SweepLine {
        SweepLine {
            scenario: file.trim_end_matches(".ron").to_string(),
            file: file.to_string(),
            seed,
            verdict,
            violations: if verdict == Verdict::Fail {
                vec!["lost-writes".into()]
            } else {
                vec![]
            },
            first_violation: None,
            ladder: None,
            trace_hash: format!("{seed:016x}"),
            events,
            wall_ms: seed as f64,
        }
    }

    #[test]
    fn seeds_and_shards_parse_and_reject_nonsense() {
        assert_eq!(parse_seeds("0..10").unwrap(), 0..10);
        assert_eq!(parse_seeds("5..=7").unwrap(), 5..8);
        assert_eq!(parse_seeds("3").unwrap(), 3..4);
        for bad in ["10..5", "a..b", "", "1...3", "5..5"] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1/0", "x", "1-3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_pairs() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for pair in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.includes(pair)).count(), 1);
        }
    }

    #[test]
    fn the_summary_ignores_order_and_duplicates() {
        let lines = vec![
            line("a.ron", 1, Verdict::Pass, 10),
            line("a.ron", 2, Verdict::Fail, 30),
            line("b.ron", 1, Verdict::Unknown, 5),
        ];
        let mut shuffled = lines.clone();
        shuffled.reverse();
        shuffled.push(lines[1].clone());
        assert_eq!(summarize(&lines), summarize(&shuffled));
        let summary = summarize(&lines);
        assert_eq!(summary[0].failures, 1);
        assert_eq!(summary[0].slowest_seed, Some((2, 30)));
        assert_eq!(summary[0].violation_kinds["lost-writes"], 1);
        assert_eq!(exit_code(&summary), 1);
        assert_eq!(exit_code(&summary[1..]), 4);
        let xml = junit(&lines, "faultline");
        assert!(
            xml.contains("<testsuite name=\"a\" tests=\"2\" failures=\"1\">"),
            "{xml}"
        );
        assert!(
            xml.contains("reproduce: faultline run a.ron --seed 2"),
            "{xml}"
        );
    }
}
