//! The teaching catalog shows what it says it shows: every scenarios/teaching/*.ron reports
//! exactly the violations its header promises (no more: the point of each file is one anomaly),
//! and the one-line changes its header suggests make the anomaly go away.

use faultline::pipeline::run_and_report;
use faultline::reports::taxonomy::Cause;
use faultline::reports::Report;
use faultline::Registry;
use sim_core::engine::{RunOptions, RunResult};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each teaching scenario must report: its file name and the exact set of violations.
const EXPECTED: [(&str, &[&str]); 19] = [
    ("01-linearizable-register.ron", &[]),
    ("02-sequential-not-linearizable.ron", &["linearizable"]),
    ("03-stale-read.ron", &["stale-reads"]),
    ("04-read-your-writes.ron", &["read-your-writes"]),
    ("05-monotonic-reads.ron", &["monotonic-reads"]),
    ("06-monotonic-writes.ron", &["monotonic-writes"]),
    ("07-convergence-after-heal.ron", &[]),
    ("08-divergence-without-anti-entropy.ron", &["convergence"]),
    ("09-one-way-partition.ron", &["stale-reads"]),
    (
        "10-quorum-without-intersection.ron",
        &["reads-see-acknowledged-writes"],
    ),
    (
        "11-sloppy-quorum-counted-as-strict.ron",
        &["reads-see-acknowledged-writes"],
    ),
    ("12-lost-update-clock-skew.ron", &["lost-writes"]),
    ("13-clock-drift.ron", &["lost-writes"]),
    (
        "14-lease-read-clock-step.ron",
        &["lease-read-safety", "linearizable"],
    ),
    ("15-siblings.ron", &[]),
    ("16-sibling-explosion.ron", &["causal"]),
    ("17-split-brain.ron", &["election-safety"]),
    (
        "18-raft-figure8.ron",
        &["leader-completeness", "state-machine-safety"],
    ),
    ("19-gc-pause-stale-leader.ron", &["lease-read-safety"]),
];

fn teaching_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/teaching")
}

fn run_text(file: &str, text: &str) -> (RunResult, Report) {
    let registry = Registry::builtin();
    let scenario = registry
        .load_text(file, text)
        .unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed().expect("teaching scenarios pin their seed");
    run_and_report(
        "faultline",
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        None,
    )
}

fn read(name: &str) -> String {
    std::fs::read_to_string(teaching_dir().join(name)).expect("the scenario exists")
}

fn run(name: &str) -> (RunResult, Report) {
    run_text(name, &read(name))
}

fn violations(report: &Report) -> BTreeSet<&str> {
    report.violations.iter().map(|v| v.name.as_str()).collect()
}

fn ladder(report: &Report, model: &str) -> String {
    let entry = report.ladder.iter().find(|e| e.model == model);
    entry
        .unwrap_or_else(|| panic!("no ladder cell {model}"))
        .status
        .clone()
}

/// The most values any successful read returned.
fn widest_read(result: &RunResult) -> usize {
    let reads = result.history.ops.iter().filter_map(|op| op.read.as_ref());
    reads.map(Vec::len).max().unwrap_or(0)
}

#[test]
fn the_table_covers_every_teaching_scenario_and_each_tells_its_story() {
    let files: BTreeSet<String> = faultline::bundled::scenario_files(&teaching_dir())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = EXPECTED.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(files, listed);
    for file in &files {
        let text = read(file);
        let purpose = faultline::list::purpose(&text);
        assert!(purpose.is_some(), "{file}: no opening comment");
        assert!(text.contains("What to look for"), "{file}");
    }
}

#[test]
fn every_teaching_scenario_reports_exactly_its_anomaly() {
    for (file, expected) in EXPECTED {
        let (_, report) = run(file);
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(violations(&report), expected, "{file}");
        let judged_fail = !expected.is_empty();
        assert_eq!(
            report.verdict == faultline::reports::Verdict::Fail,
            judged_fail,
            "{file}"
        );
    }
}

#[test]
fn the_register_holds_every_model_and_sequential_survives_where_linearizable_fails() {
    let (_, register) = run("01-linearizable-register.ron");
    for model in ["linearizable", "sequential", "causal", "no-stale-reads"] {
        assert_eq!(ladder(&register, model), "held", "{model}");
    }
    let (_, report) = run("02-sequential-not-linearizable.ron");
    assert_eq!(ladder(&report, "linearizable"), "violated");
    assert_eq!(ladder(&report, "sequential"), "held");
    assert_eq!(ladder(&report, "causal"), "held");
}

#[test]
fn the_one_way_cut_is_to_blame_for_every_stale_read_and_only_on_the_deaf_node() {
    let (_, report) = run("09-one-way-partition.ron");
    let stale = report.stale_reads.as_ref().expect("stale reads measured");
    assert!(!stale.stale.is_empty());
    for read in &stale.stale {
        assert_eq!(read.node, "n1", "{read:?}");
        assert_eq!(read.cause, Some(Cause::OneWayCut), "{read:?}");
    }
}

#[test]
fn drift_loses_writes_only_once_it_has_built_up() {
    let (_, skew) = run("12-lost-update-clock-skew.ron");
    let (_, drift) = run("13-clock-drift.ron");
    let first_lost = |report: &Report| {
        let lost = &report.lost_writes.as_ref().expect("checked").lost;
        lost.iter()
            .map(|w| w.acknowledged_ns)
            .min()
            .expect("a lost write")
    };
    assert!(first_lost(&skew) < 500_000_000);
    assert!(first_lost(&drift) > 1_000_000_000);
}

#[test]
fn siblings_are_kept_and_blind_writes_pile_them_up() {
    let (siblings, report) = run("15-siblings.ron");
    assert!(widest_read(&siblings) >= 2, "no read returned siblings");
    assert_eq!(ladder(&report, "causal"), "held");
    let (explosion, _) = run("16-sibling-explosion.ron");
    assert!(widest_read(&explosion) >= 3 * widest_read(&siblings));
}

#[test]
fn the_gc_paused_leader_answers_only_clients_that_had_given_up() {
    let (_, report) = run("19-gc-pause-stale-leader.ron");
    assert_eq!(ladder(&report, "linearizable"), "held");
}

/// The fixes the headers suggest: (file, text to replace, replacement).
const FIXES: [(&str, &str, &str); 10] = [
    (
        "02-sequential-not-linearizable.ron",
        "target: Sticky",
        "target: Random",
    ),
    (
        "04-read-your-writes.ron",
        "target: Random",
        "target: Sticky",
    ),
    (
        "08-divergence-without-anti-entropy.ron",
        "variant: FireAndForget",
        "variant: FireAndForget, anti_entropy_every: \"200ms\"",
    ),
    (
        "10-quorum-without-intersection.ron",
        "r: 1, w: 1",
        "r: 2, w: 2",
    ),
    ("12-lost-update-clock-skew.ron", "\"-100ms\"", "\"0ms\""),
    (
        "14-lease-read-clock-step.ron",
        "LeaseOnWallClock",
        "Correct",
    ),
    ("16-sibling-explosion.ron", "DropContext", "Correct"),
    ("17-split-brain.ron", "VoteBeforeSync", "Correct"),
    ("18-raft-figure8.ron", "CommitOldTermByCounting", "Correct"),
    (
        "19-gc-pause-stale-leader.ron",
        "LeaseFromAckArrival",
        "Correct",
    ),
];

#[test]
fn the_changes_the_headers_suggest_do_what_they_say() {
    for (file, from, to) in FIXES {
        // Edit the scenario itself, not the header that suggests the edit.
        let text = read(file);
        let at = text.find("Scenario(").expect("a scenario");
        let (header, body) = text.split_at(at);
        assert!(body.contains(from), "{file}: no {from:?}");
        let edited = format!("{header}{}", body.replacen(from, to, 1));
        let (_, report) = run_text(file, &edited);
        if file.starts_with("02-") {
            // The opposite direction: random routing breaks sequential consistency too.
            assert_eq!(ladder(&report, "sequential"), "violated");
        } else {
            assert!(
                report.violations.is_empty(),
                "{file}: {:?}",
                violations(&report)
            );
        }
    }
}

/// A linearizability violation is dated by the last operation its witness needs (the stale
/// read, in teaching 02), not by the earliest write of the witness, so the report points at
/// the moment the anomaly becomes visible.
#[test]
fn a_linearizability_violation_is_dated_by_its_last_witness_operation() {
    let (result, report) = run("02-sequential-not-linearizable.ron");
    let violation = report
        .violations
        .iter()
        .find(|v| v.name == "linearizable")
        .expect("teaching 02 breaks linearizability");
    let latest_invocation = violation
        .witness
        .iter()
        .filter_map(|line| {
            line.strip_prefix("op")?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .map(|op| result.history.ops[op].invoke.0)
        .max()
        .expect("the witness names operations");
    assert_eq!(violation.time_ns, Some(latest_invocation));
    let read = result
        .history
        .ops
        .iter()
        .filter(|op| op.kind == sim_core::history::OpKind::Get)
        .map(|op| op.invoke.0)
        .find(|&at| at == latest_invocation);
    assert!(read.is_some(), "the last witness operation is a read");
}

/// When every outcome is known and there is no compare-and-set, the sequential and causal
/// checks read a history alike, so sequential consistency (which implies causal consistency)
/// never holds where causal consistency fails; and a sequential search that runs out of
/// budget on such a history is answered by the causal violation (teaching 12).
#[test]
fn sequential_never_holds_where_causal_fails_and_a_causal_violation_answers_it() {
    for (name, _) in EXPECTED {
        let (result, report) = run(name);
        let comparable = result.history.ops.iter().all(|op| {
            op.outcome != sim_core::history::Outcome::Unknown
                && op.kind != sim_core::history::OpKind::Cas
        });
        if comparable && ladder(&report, "causal") == "violated" {
            assert_eq!(ladder(&report, "sequential"), "violated", "{name}");
        }
    }
    let (_, report) = run("12-lost-update-clock-skew.ron");
    let sequential = report
        .ladder
        .iter()
        .find(|e| e.model == "sequential")
        .unwrap();
    assert_eq!(sequential.status, "violated");
    assert!(
        sequential.detail.contains("implies causal consistency"),
        "{}",
        sequential.detail
    );
}
