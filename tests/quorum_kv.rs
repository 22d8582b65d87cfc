//! quorum_kv end to end, through `faultline::Registry` and the same pipeline as the CLI: the
//! bundled scenarios, the configurations that are wrong on purpose (each caught on every seed
//! of a sweep while the correct one passes the same seeds, STYLE.md §9), convergence with and
//! without repair, and hinted handoff.

use faultline::pipeline::run_and_report;
use faultline::registry::LoadedScenario;
use faultline::Registry;
use reports::{Report, Verdict};
use sim_core::engine::{RunOptions, RunResult};

fn path(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Box<dyn LoadedScenario> {
    Registry::builtin()
        .load_file(&path(name))
        .unwrap_or_else(|error| panic!("{error}"))
}

/// `name` with every `from` replaced by `to` (which must change the text; comments that
/// quote the option change too).
fn load_edited(name: &str, from: &str, to: &str) -> Box<dyn LoadedScenario> {
    let text = std::fs::read_to_string(path(name)).expect("readable scenario");
    let edited = text.replace(from, to);
    assert_ne!(text, edited, "{name} has `{from}`");
    Registry::builtin()
        .load_text(&path(name), &edited)
        .unwrap_or_else(|error| panic!("{error}"))
}

fn run(scenario: &dyn LoadedScenario, seed: u64) -> (RunResult, Report) {
    run_and_report("faultline", scenario, seed, RunOptions::default(), None)
}

fn report(scenario: &dyn LoadedScenario, seed: u64) -> Report {
    run(scenario, seed).1
}

fn pinned(scenario: &dyn LoadedScenario) -> Report {
    report(scenario, scenario.seed().expect("a pinned seed"))
}

fn violation_names(report: &Report) -> Vec<&str> {
    report.violations.iter().map(|v| v.name.as_str()).collect()
}

fn explanation<'a>(report: &'a Report, name: &str) -> &'a str {
    let violation = report.violations.iter().find(|v| v.name == name);
    &violation
        .unwrap_or_else(|| panic!("no {name}: {:#?}", report.violations))
        .explanation
}

fn converged(report: &Report) -> bool {
    report
        .convergence
        .as_ref()
        .expect("convergence ran")
        .converged
}

fn lost_writes(report: &Report) -> usize {
    report
        .lost_writes
        .as_ref()
        .expect("lost writes ran")
        .lost
        .len()
}

/// The seeds every sweep below runs (the 1,000-seed sweeps are run by hand with
/// `faultline sweep ... --seeds 0..1000`).
const SWEEP_SEEDS: std::ops::Range<u64> = 0..20;

const FAULTS: [&str; 4] = ["no-faults", "partition-heals", "clock-skew", "gc-pause"];

const STALE: &str = "reads-see-acknowledged-writes";

#[test]
fn the_builtin_registry_knows_quorum_kv_and_every_quorum_scenario_loads() {
    let registry = Registry::builtin();
    assert!(registry.protocols().any(|p| p.name() == "quorum_kv"));
    let dir = format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir).expect("scenarios/") {
        let file = entry.expect("an entry").path();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("quorum-") && name.ends_with(".ron") {
            let scenario = load(&name);
            assert_eq!(scenario.protocol(), "quorum_kv", "{name}");
            assert!(scenario.seed().is_some(), "{name} pins a seed");
            loaded += 1;
        }
    }
    assert!(loaded >= 12, "{loaded} quorum scenarios");
}

#[test]
fn a_bad_option_is_reported_with_its_position_and_what_to_change() {
    let error = Registry::builtin()
        .load_text(
            "bad.ron",
            r#"Scenario(name: "x", nodes: 3, duration: "1s", protocol: QuorumKv(n: 3, r: 4))"#,
        )
        .err()
        .expect("r > n is rejected");
    assert!(
        error.message.contains("r (4) must be between 1 and n (3)"),
        "{error}"
    );
    assert!(error.line > 0 && error.column > 0, "{error}");
}

#[test]
fn strict_quorums_keep_every_promise_in_the_four_comparison_scenarios() {
    for fault in FAULTS {
        let report = pinned(load(&format!("quorum-r2w2-{fault}.ron")).as_ref());
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "{fault}: {:#?}",
            report.violations
        );
        assert!(converged(&report), "{fault}");
        assert_eq!(lost_writes(&report), 0, "{fault}");
        assert!(
            report.operations.ok > 200,
            "{fault}: {:?}",
            report.operations
        );
    }
}

#[test]
fn r1_w1_serves_a_stale_read_in_each_comparison_scenario_yet_converges_and_loses_nothing() {
    for fault in FAULTS {
        let report = pinned(load(&format!("quorum-r1w1-{fault}.ron")).as_ref());
        assert_eq!(report.verdict, Verdict::Fail, "{fault}");
        assert_eq!(violation_names(&report), vec![STALE], "{fault}");
        assert!(
            explanation(&report, STALE)
                .ends_with("r (1) + w (1) <= n (3): read and write quorums need not overlap"),
            "{fault}: {}",
            explanation(&report, STALE)
        );
        assert!(converged(&report), "{fault}");
        assert_eq!(lost_writes(&report), 0, "{fault}");
    }
}

#[test]
fn r1_w1_is_caught_on_every_seed_of_the_partition_sweep_and_r2_w2_never_is() {
    let weak = load("quorum-r1w1-partition-heals.ron");
    let strict = load("quorum-r2w2-partition-heals.ron");
    for seed in SWEEP_SEEDS {
        let caught = report(weak.as_ref(), seed);
        assert!(
            violation_names(&caught).contains(&STALE),
            "seed {seed}: r = w = 1 was not caught: {:?}",
            violation_names(&caught)
        );
        let correct = report(strict.as_ref(), seed);
        assert_eq!(
            correct.verdict,
            Verdict::Pass,
            "seed {seed}: {:#?}",
            correct.violations
        );
    }
}

#[test]
fn a_sloppy_quorum_counted_as_strict_is_caught_on_every_seed_and_the_correct_one_never_is() {
    let file = "quorum-sloppy-counted-as-strict.ron";
    let bad = load(file);
    let good = load_edited(file, "variant: SloppyCountedAsStrict", "variant: Correct");
    for seed in SWEEP_SEEDS {
        let caught = report(bad.as_ref(), seed);
        assert!(
            explanation(&caught, STALE).contains("a sloppy quorum was counted as a strict one"),
            "seed {seed}: {}",
            explanation(&caught, STALE)
        );
        let correct = report(good.as_ref(), seed);
        assert_eq!(
            correct.verdict,
            Verdict::Pass,
            "seed {seed}: {:#?}",
            correct.violations
        );
        assert!(converged(&correct), "seed {seed}");
    }
}

#[test]
fn stand_ins_hand_every_hint_back_and_the_sloppy_quorum_loses_nothing() {
    let scenario = load("quorum-sloppy-handoff.ron");
    let (result, report) = run(scenario.as_ref(), scenario.seed().unwrap());
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.violations);
    assert!(
        report.operations.unknown > 0,
        "writes held only by stand-ins are indeterminate: {:?}",
        report.operations
    );
    // A stand-in shows the hints it keeps in its view; once they are handed back, no node
    // outside a key's replicas shows the key.
    for (key, replicas) in result.key_replicas.iter().enumerate() {
        for (node, view) in result.final_views.iter().enumerate() {
            let outside = !replicas.iter().any(|r| r.index() == node);
            let holds = view
                .as_ref()
                .is_some_and(|v| v.contains_key(&sim_core::ids::Key(key as u32)));
            assert!(
                !(outside && holds),
                "n{} still keeps a hint for k{key}",
                node + 1
            );
        }
    }
}

#[test]
fn with_anti_entropy_the_partition_converges_on_every_seed_and_without_repair_it_does_not() {
    let repaired = load("quorum-r2w2-partition-heals.ron");
    let unrepaired = load("quorum-r2w2-partition-no-repair.ron");
    let read_repair_only = load_edited(
        "quorum-r2w2-partition-no-repair.ron",
        "read_repair: false",
        "read_repair: true",
    );
    for seed in SWEEP_SEEDS {
        assert!(converged(&report(repaired.as_ref(), seed)), "seed {seed}");
        for scenario in [&unrepaired, &read_repair_only] {
            // Clients stop when settle begins, so read repair has nothing left to repair with.
            let diverged = report(scenario.as_ref(), seed);
            let convergence = diverged.convergence.as_ref().expect("convergence ran");
            assert!(!convergence.converged, "seed {seed}");
            let key = &convergence.divergent_keys[0];
            assert!(key.key.starts_with('k'), "{key:?}");
            assert_eq!(key.replicas.len(), 3, "every replica is listed: {key:?}");
            assert!(
                explanation(&diverged, "convergence").contains(&format!("{}:", key.key)),
                "the report names the key: {}",
                explanation(&diverged, "convergence")
            );
        }
    }
}

#[test]
fn blind_overwrite_is_caught_by_replica_never_regresses_on_every_seed() {
    let bad = load_edited(
        "quorum-r2w2-partition-heals.ron",
        "anti_entropy_every: \"200ms\")",
        "anti_entropy_every: \"200ms\", variant: BlindOverwrite)",
    );
    for seed in SWEEP_SEEDS {
        let caught = report(bad.as_ref(), seed);
        assert!(
            violation_names(&caught).contains(&"replica-never-regresses"),
            "seed {seed}: {:?}",
            violation_names(&caught)
        );
    }
}

#[test]
fn timestamps_lose_writes_to_the_skewed_clock_that_vector_clocks_keep() {
    let vector_clocks = load("quorum-r2w2-clock-skew.ron");
    let timestamps = load_edited(
        "quorum-r2w2-clock-skew.ron",
        "anti_entropy_every: \"200ms\")",
        "anti_entropy_every: \"200ms\", versions: Timestamps)",
    );
    let seed = vector_clocks.seed().unwrap();
    assert_eq!(lost_writes(&report(vector_clocks.as_ref(), seed)), 0);
    let skewed = report(timestamps.as_ref(), seed);
    assert!(lost_writes(&skewed) > 0, "{:#?}", skewed.lost_writes);
    assert!(converged(&skewed), "the replicas agree, on the wrong value");
}

#[test]
fn the_same_seed_gives_the_same_trace_hash_and_another_seed_does_not() {
    for name in [
        "quorum-r2w2-partition-heals.ron",
        "quorum-sloppy-handoff.ron",
    ] {
        let scenario = load(name);
        let first = report(scenario.as_ref(), 5);
        let second = report(scenario.as_ref(), 5);
        assert_eq!(first.trace_hash, second.trace_hash, "{name}");
        assert_ne!(
            first.trace_hash,
            report(scenario.as_ref(), 6).trace_hash,
            "{name}"
        );
    }
}

/// One golden hash for quorum_kv (sloppy quorum, hints, read repair and anti-entropy all take
/// part): if it changes, every recorded quorum_kv seed replays differently. Change it only on
/// purpose, in the commit that changes the engine or the protocol.
#[test]
fn golden_trace_hash_of_quorum_kv() {
    let scenario = load("quorum-sloppy-handoff.ron");
    assert_eq!(pinned(scenario.as_ref()).trace_hash, "1fc244f8505275f2");
}

#[test]
fn crashes_on_a_slow_disk_lose_no_acknowledged_write_and_break_no_invariant() {
    // Every replica syncs before it acknowledges and every coordinator before it sends, so a
    // crash that loses unsynced writes takes nothing a client was promised.
    let crashy = load_edited(
        "quorum-r2w2-partition-heals.ron",
        "    workload: (",
        "    storage: (sync_latency: \"2ms\", lose_unsynced_on_crash: true),
    nemesis: Some((crashes_per_min: 8, pauses_per_min: 4, fault_duration_max: \"2s\")),
    workload: (",
    );
    for seed in SWEEP_SEEDS {
        let report = report(crashy.as_ref(), seed);
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "seed {seed}: {:#?}",
            report.violations
        );
    }
}
