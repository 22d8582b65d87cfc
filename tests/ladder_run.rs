//! The consistency ladder in `run`: every run is placed on it, and the checks a scenario lists
//! judge it. Uses bundled scenarios through the same pipeline as the CLI.

use faultline::pipeline::run_and_report;
use faultline::Registry;
use reports::{Report, Verdict};
use sim_core::engine::RunOptions;

fn path(name: &str) -> String {
    format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"))
}

/// Runs a bundled scenario on its own seed after replacing `from` with `to` in its text.
fn run_edited(name: &str, from: &str, to: &str) -> Report {
    let file = path(name);
    let text = std::fs::read_to_string(&file).expect("bundled scenario");
    assert!(text.contains(from), "{name} contains `{from}`");
    let scenario = Registry::builtin()
        .load_text(&file, &text.replace(from, to))
        .unwrap_or_else(|error| panic!("{error}"));
    let seed = scenario.seed().unwrap_or(1);
    run_and_report(
        "faultline",
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        None,
    )
    .1
}

fn run(name: &str) -> Report {
    run_edited(name, "Scenario(", "Scenario(")
}

fn status<'r>(report: &'r Report, model: &str) -> &'r str {
    &report
        .ladder
        .iter()
        .find(|e| e.model == model)
        .unwrap_or_else(|| panic!("{model} on the ladder: {:#?}", report.ladder))
        .status
}

#[test]
fn every_run_has_the_whole_ladder_in_order() {
    let report = run("lww-no-faults");
    let models: Vec<&str> = report.ladder.iter().map(|e| e.model.as_str()).collect();
    assert_eq!(
        models,
        vec![
            "linearizable",
            "sequential",
            "causal",
            "read-your-writes",
            "monotonic-reads",
            "monotonic-writes",
            "writes-follow-reads",
            "no-stale-reads",
            "converged",
            "no-lost-writes",
        ]
    );
    assert!(report.ladder_row.is_some());
}

#[test]
fn the_ladder_describes_and_only_listed_checks_judge() {
    // LWW with random routing is not linearizable, and lww-no-faults does not promise it: it
    // passes. The same run judged for linearizability fails with a witness.
    let described = run("lww-no-faults");
    assert_eq!(status(&described, "linearizable"), "violated");
    assert_eq!(
        described.verdict,
        Verdict::Pass,
        "{:#?}",
        described.violations
    );

    let judged = run_edited(
        "lww-no-faults",
        "checks: [Convergence, LostWrites]",
        "checks: [Convergence, LostWrites, Linearizable]",
    );
    assert_eq!(judged.verdict, Verdict::Fail);
    let violation = judged
        .violations
        .iter()
        .find(|v| v.name == "linearizable")
        .expect("a linearizability violation");
    assert!(!violation.witness.is_empty(), "{violation:#?}");
    assert!(violation.explanation.contains("k"), "{violation:#?}");
    assert!(violation.time_ns.is_some());
}

#[test]
fn correct_raft_is_linearizable_and_session_consistent_on_its_bundled_scenarios() {
    for name in [
        "raft-leader-isolated",
        "raft-one-way-cut",
        "raft-leader-pause",
        "raft-drifting-follower",
        "raft-random-nemesis",
    ] {
        let report = run(name);
        for model in [
            "linearizable",
            "sequential",
            "causal",
            "read-your-writes",
            "monotonic-reads",
            "no-stale-reads",
            "no-lost-writes",
        ] {
            assert_eq!(status(&report, model), "held", "{name}: {model}");
        }
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "{name}: {:#?}",
            report.violations
        );
    }
}

#[test]
fn raft_without_the_vote_log_check_and_lww_under_skew_are_flagged_by_the_history() {
    let report = run("raft-vote-without-log-check");
    assert_eq!(status(&report, "linearizable"), "violated");
    assert!(report.violations.iter().any(|v| v.name == "linearizable"));

    let report = run("raft-lease-clock-step");
    assert_eq!(status(&report, "linearizable"), "violated");
    assert_eq!(status(&report, "no-stale-reads"), "violated");

    let report = run("lww-clock-skew");
    assert_eq!(status(&report, "no-lost-writes"), "violated");
    assert_eq!(status(&report, "no-stale-reads"), "violated");
}

#[test]
fn a_judged_session_guarantee_or_stale_read_fails_the_run_and_names_the_operations() {
    let report = run_edited(
        "lww-partition-heals",
        "checks: [Convergence, LostWrites]",
        "checks: [ReadYourWrites, StaleReads]",
    );
    assert_eq!(report.verdict, Verdict::Fail);
    let names: Vec<&str> = report.violations.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, vec!["read-your-writes", "stale-reads"]);
    for violation in &report.violations {
        assert_eq!(violation.witness.len(), 2, "{violation:#?}");
        assert!(violation.witness.iter().all(|w| w.starts_with("op")));
    }
}

#[test]
fn quorum_with_r_plus_w_at_most_n_serves_stale_reads_and_overlapping_quorums_do_not() {
    let sloppy = run("quorum-r1w1-no-faults");
    assert_eq!(status(&sloppy, "no-stale-reads"), "violated");
    assert_eq!(status(&sloppy, "linearizable"), "violated");
    let strict = run("quorum-r2w2-no-faults");
    assert_eq!(status(&strict, "no-stale-reads"), "held");
    assert_eq!(status(&strict, "read-your-writes"), "held");
}

#[test]
fn a_judged_search_that_runs_out_of_budget_is_unknown_never_a_pass() {
    // 40 keys written by three clients under skew: no sequential order is found or refuted
    // within the step budget.
    let report = run_edited(
        "lww-clock-skew",
        "checks: [Convergence, LostWrites]",
        "checks: [Sequential]",
    );
    assert_eq!(status(&report, "sequential"), "unknown");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(report.verdict, Verdict::Unknown);
}
