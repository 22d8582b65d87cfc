//! The five-protocol comparison (docs/comparison.md): the facts its table rests on, on fewer
//! seeds than the page's sweep, and a reduced form of its 1,000-seed convergence sweep.

use faultline::pipeline::run_and_report;
use faultline::registry::LoadedScenario;
use faultline::Registry;
use reports::Report;
use sim_core::engine::RunOptions;

fn load(name: &str) -> Box<dyn LoadedScenario> {
    let file = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    Registry::builtin()
        .load_file(&file)
        .unwrap_or_else(|error| panic!("{error}"))
}

fn run(scenario: &dyn LoadedScenario, seed: u64) -> Report {
    run_and_report("faultline", scenario, seed, RunOptions::default(), None).1
}

fn status<'r>(report: &'r Report, model: &str) -> &'r str {
    &report
        .ladder
        .iter()
        .find(|e| e.model == model)
        .expect("every model is on the ladder")
        .status
}

const PROTOCOLS: [&str; 5] = ["raft", "quorum-r2w2", "quorum-r1w1", "lww", "vclock"];
const FAULTS: [&str; 4] = ["no-faults", "partition", "skew", "gc-pause"];

#[test]
fn the_twenty_scenarios_differ_only_in_protocol_and_fault() {
    for protocol in PROTOCOLS {
        for fault in FAULTS {
            let scenario = load(&format!("compare/{protocol}-{fault}"));
            assert_eq!(scenario.name(), format!("compare-{protocol}-{fault}"));
            assert_eq!(scenario.clients(), 3);
            assert!(scenario.has_settle());
        }
    }
}

#[test]
fn raft_stays_linearizable_under_every_fault() {
    for fault in FAULTS {
        let scenario = load(&format!("compare/raft-{fault}"));
        for seed in 1..6 {
            let report = run(scenario.as_ref(), seed);
            assert_eq!(
                status(&report, "linearizable"),
                "held",
                "{fault} seed {seed}"
            );
            assert!(report.violations.is_empty(), "{fault} seed {seed}");
        }
    }
}

#[test]
fn overlapping_quorums_never_serve_a_stale_read_and_r1w1_does_under_a_partition() {
    for fault in FAULTS {
        let scenario = load(&format!("compare/quorum-r2w2-{fault}"));
        for seed in 1..6 {
            let report = run(scenario.as_ref(), seed);
            assert_eq!(status(&report, "no-stale-reads"), "held", "{fault} {seed}");
            assert_eq!(
                status(&report, "read-your-writes"),
                "held",
                "{fault} {seed}"
            );
            // Siblings: concurrent writes are not ordered, so no register explains a read.
            assert_eq!(
                status(&report, "linearizable"),
                "violated",
                "{fault} {seed}"
            );
        }
    }
    let scenario = load("compare/quorum-r1w1-partition");
    for seed in 1..6 {
        let report = run(scenario.as_ref(), seed);
        assert_eq!(status(&report, "no-stale-reads"), "violated", "seed {seed}");
        assert!(
            report
                .violations
                .iter()
                .any(|v| v.name == "reads-see-acknowledged-writes"),
            "seed {seed}"
        );
    }
}

#[test]
fn only_lww_under_skew_loses_acknowledged_writes() {
    for protocol in PROTOCOLS {
        for fault in ["no-faults", "skew"] {
            let scenario = load(&format!("compare/{protocol}-{fault}"));
            for seed in 1..4 {
                let report = run(scenario.as_ref(), seed);
                let expected = if (protocol, fault) == ("lww", "skew") {
                    "violated"
                } else {
                    "held"
                };
                assert_eq!(
                    status(&report, "no-lost-writes"),
                    expected,
                    "{protocol} {fault} seed {seed}"
                );
            }
        }
    }
}

/// The page's sweep has 1,000 seeds; the suite runs the first 100 of each scenario.
#[test]
fn after_settle_lww_vclock_and_quorum_with_repair_converge_and_quorum_without_does_not() {
    for name in [
        "compare/lww-partition",
        "compare/vclock-partition",
        "compare/quorum-r2w2-partition",
    ] {
        let scenario = load(name);
        let diverged: Vec<u64> = (0..100)
            .filter(|&seed| {
                run(scenario.as_ref(), seed)
                    .convergence
                    .is_none_or(|c| !c.converged)
            })
            .collect();
        assert_eq!(
            diverged,
            Vec::<u64>::new(),
            "{name}: seeds that did not converge"
        );
    }
    let scenario = load("quorum-r2w2-partition-no-repair");
    let diverged: Vec<Report> = (0..20)
        .map(|seed| run(scenario.as_ref(), seed))
        .filter(|report| report.convergence.as_ref().is_some_and(|c| !c.converged))
        .collect();
    assert!(
        !diverged.is_empty(),
        "without repair some seed must diverge"
    );
    for report in &diverged {
        let convergence = report.convergence.as_ref().expect("checked");
        assert!(!convergence.divergent_keys.is_empty());
        let violation = report
            .violations
            .iter()
            .find(|v| v.name == "convergence")
            .expect("judged");
        let key = &convergence.divergent_keys[0].key;
        assert!(
            violation.explanation.contains(key.as_str()),
            "{violation:#?}"
        );
    }
}
