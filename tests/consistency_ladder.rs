//! The consistency ladder on real runs: the bundled last-writer-wins scenarios go through the
//! same pipeline as `faultline run`, and their histories through the session-guarantee,
//! stale-read and causal checks.
//!
//! What the runs show, and why:
//! - lww-clock-skew (sticky sessions, n2 50 ms behind): c2's writes through n2 carry stamps up
//!   to 50 ms too small, so a write made shortly after another client's loses to it. When c2
//!   then reads the key, it gets the older value back: read-your-writes fails against real
//!   time, and reads that return the surviving older value are stale. Against the order the
//!   sessions observed, every guarantee holds, and the history is causal (CC, CM and CCv): the
//!   stamp order is a legal version order that each sticky session sees monotonically. The
//!   skew is a real-time anomaly, which is what the real-time columns are for.
//! - lww-no-faults: replicas apply writes a replication round late. With sticky sessions every
//!   client reads the replica it writes to, and every session guarantee holds; with the
//!   scenario's random routing, a client reads a replica its last write has not reached yet and
//!   read-your-writes fails with no fault at all. Stale reads appear either way: a read on
//!   another replica within a replication round of a write sees the older version.
//! - lww-partition-heals: the same contrast, stronger: with random routing, causality,
//!   read-your-writes and monotonic reads fail while the partition lasts; sticky sessions keep
//!   them all. Monotonic writes and writes-follow-reads hold against real time: with
//!   synchronised clocks the stamp order is the real-time order, so the store orders every
//!   session's writes, and its writes after its reads, as they happened; the inversions readers
//!   see are their own reads going backwards across the partition. Against the observed order
//!   alone, those inversions can only be blamed on the store, and all four fail.
//! - The known-bad BlindMerge variant (a replica applies updates without comparing stamps)
//!   breaks read-your-writes even for sticky sessions, on every seed where the correct
//!   protocol keeps it.

use checkers::causal::{self, CausalModel, CausalVerdict};
use checkers::ladder::{render_table, LadderInputs, LadderRow, Status};
use checkers::session::{self, Evidence, Guarantee, SessionVerdict, VersionOrder};
use checkers::stale_reads::{self, StaleReadsVerdict};
use faultline::pipeline::{check, run_and_report};
use faultline::Registry;
use reports::CheckResults;
use sim_core::engine::{RunOptions, RunResult};
use sim_core::ids::NodeId;
use sim_core::time::SimDuration;

/// One run with every consistency verdict on its history.
struct Checked {
    label: String,
    result: RunResult,
    checks: CheckResults,
    real_time: SessionVerdict,
    observed: SessionVerdict,
    causal: CausalVerdict,
    stale: StaleReadsVerdict,
}

impl Checked {
    fn violations(&self, guarantee: Guarantee) -> usize {
        self.real_time.violations_of(guarantee).count()
    }

    fn lost(&self) -> usize {
        self.checks
            .lost_writes
            .as_ref()
            .expect("asked for")
            .lost
            .len()
    }

    fn row(&self, order: VersionOrder) -> LadderRow {
        let (session, label) = match order {
            VersionOrder::RealTime => (&self.real_time, self.label.clone()),
            VersionOrder::Observed => (&self.observed, format!("{} [observed]", self.label)),
        };
        LadderRow::build(
            label,
            &LadderInputs {
                causal: Some(&self.causal),
                session: Some(session),
                convergence: self.checks.convergence.as_ref(),
                lost_writes: self.checks.lost_writes.as_ref(),
                ..LadderInputs::default()
            },
        )
    }
}

/// A change to a scenario's text, named for the run's label.
struct Edit {
    name: &'static str,
    apply: fn(String) -> String,
}

const AS_WRITTEN: Edit = Edit {
    name: "",
    apply: |text| text,
};

const STICKY: Edit = Edit {
    name: " (sticky)",
    apply: |text| {
        let edited = text.replace("timeout: \"500ms\")", "target: Sticky, timeout: \"500ms\")");
        assert_ne!(edited, text, "the workload line changed: update this edit");
        edited
    },
};

const UNSKEWED: Edit = Edit {
    name: " (no skew)",
    apply: |text| {
        let edited = text.replace("\"-50ms\"", "\"0ms\"");
        assert_ne!(edited, text, "the clock offset changed: update this edit");
        edited
    },
};

/// Runs a bundled scenario, after `edit` on its text, with `seed` (None: the file's seed).
fn run(name: &str, edit: &Edit, seed: Option<u64>) -> Checked {
    let file = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    let text = (edit.apply)(std::fs::read_to_string(&file).expect("bundled scenario"));
    let scenario = Registry::builtin()
        .load_text(&file, &text)
        .expect("the edited scenario is valid");
    let seed = seed.or(scenario.seed()).unwrap_or(1);
    let (result, _report) = run_and_report(
        "faultline",
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        None,
    );
    let checks = check(scenario.as_ref(), &result);
    let history = &result.history;
    Checked {
        label: format!("{name}{} seed {seed}", edit.name),
        real_time: session::check(history, VersionOrder::RealTime),
        observed: session::check(history, VersionOrder::Observed),
        causal: causal::check(history),
        stale: stale_reads::check(history),
        checks,
        result,
    }
}

#[test]
fn clock_skew_shows_stale_reads_and_a_session_reading_an_older_write_over_its_own() {
    let run = run("lww-clock-skew", &AS_WRITTEN, None);
    assert!(run.stale.stale_count > 0, "no stale read");
    for stale in &run.stale.stale {
        assert!(stale.overwrite_completed_at < stale.invoked_at);
    }
    assert!(run.lost() > 0, "the skew loses writes");
    let violation = run
        .real_time
        .violations_of(Guarantee::ReadYourWrites)
        .next()
        .expect("a read-your-writes violation against real time");
    // The session is c2, pinned to the lagging n2, and the older write beat its own by less
    // than the 50 ms offset: a stamp comparison, not an ordering anyone saw.
    let read = &run.result.history.ops[violation.op.0 as usize];
    assert_eq!(read.node, NodeId(1), "{}", violation.explanation);
    let [Evidence::RealTime {
        effective_at,
        invoked_at,
        ..
    }] = violation.evidence[..]
    else {
        panic!("one real-time link: {}", violation.explanation);
    };
    assert!(invoked_at.since(effective_at) < SimDuration::from_millis(50));
    // The write the session missed is one the lost-writes check lists.
    let lost = &run.checks.lost_writes.as_ref().unwrap().lost;
    assert!(
        lost.iter().any(|l| l.op == violation.earlier_op),
        "{}",
        violation.explanation
    );
    // Against the order the sessions observed, nothing is wrong, and the history is causal:
    // the stamp order is a legal version order that every sticky session sees monotonically.
    assert!(
        run.observed.violations.is_empty(),
        "{:#?}",
        run.observed.violations
    );
    assert_eq!(
        run.causal.models_held(),
        vec![CausalModel::Cc, CausalModel::Cm, CausalModel::Ccv]
    );
    let row = run.row(VersionOrder::RealTime);
    assert_eq!(row.read_your_writes, Status::Violated);
    assert_eq!(row.causal, Status::Held);
    assert_eq!(row.no_lost_writes, Status::Violated);
}

#[test]
fn without_the_skew_no_session_reads_an_older_write_over_its_own_and_nothing_is_lost() {
    let (mut skewed_ryw, mut skewed_stale, mut level_stale) = (0, 0, 0);
    for seed in 1..=6 {
        let skewed = run("lww-clock-skew", &AS_WRITTEN, Some(seed));
        let level = run("lww-clock-skew", &UNSKEWED, Some(seed));
        skewed_ryw += skewed.violations(Guarantee::ReadYourWrites);
        skewed_stale += skewed.stale.stale_count;
        level_stale += level.stale.stale_count;
        assert!(
            level.real_time.violations.is_empty(),
            "seed {seed}: {:#?}",
            level.real_time.violations
        );
        assert_eq!(level.lost(), 0, "seed {seed}");
        assert!(level.causal.cc && level.causal.ccv, "seed {seed}");
    }
    assert!(skewed_ryw > 0);
    // Replication lag alone makes a few reads stale; the skew makes more.
    assert!(
        skewed_stale > level_stale,
        "{skewed_stale} stale reads with skew, {level_stale} without"
    );
}

#[test]
fn sticky_sessions_keep_every_session_guarantee_and_random_routing_does_not() {
    let sticky_run = run("lww-no-faults", &STICKY, None);
    for verdict in [&sticky_run.real_time, &sticky_run.observed] {
        assert!(verdict.violations.is_empty(), "{:#?}", verdict.violations);
        assert!(verdict.tallies.iter().all(|t| t.checked > 0));
    }
    assert_eq!(sticky_run.causal.models_held().len(), 3);
    assert_eq!(sticky_run.lost(), 0);
    // The stale reads that remain are replication lag: each read began within a replication
    // round (20 ms, plus up to 5 ms on the wire) of the write it missed.
    for stale in &sticky_run.stale.stale {
        assert!(
            stale.stale_for < SimDuration::from_millis(30),
            "{}",
            stale.explanation
        );
    }
    // The scenario as written routes every operation to a random replica: a client can read
    // a replica its own write has not reached yet, with no fault at all.
    let random = run("lww-no-faults", &AS_WRITTEN, None);
    assert!(random.violations(Guarantee::ReadYourWrites) > 0);
    assert!(!random.causal.cc);
    assert_eq!(random.lost(), 0);
}

#[test]
fn the_ladder_places_routing_and_faults_on_one_table() {
    let runs = [
        run("lww-clock-skew", &AS_WRITTEN, None),
        run("lww-no-faults", &STICKY, None),
        run("lww-no-faults", &AS_WRITTEN, None),
        run("lww-partition-heals", &STICKY, None),
        run("lww-partition-heals", &AS_WRITTEN, None),
    ];
    let mut rows: Vec<LadderRow> = runs
        .iter()
        .map(|run| run.row(VersionOrder::RealTime))
        .collect();
    rows.push(runs[4].row(VersionOrder::Observed));
    let table = render_table(&rows);
    eprintln!("{table}");
    let status = |row: usize| -> Vec<Status> {
        [
            rows[row].causal,
            rows[row].read_your_writes,
            rows[row].monotonic_reads,
            rows[row].monotonic_writes,
            rows[row].writes_follow_reads,
            rows[row].converged,
        ]
        .to_vec()
    };
    use Status::{Held as Y, Violated as N};
    assert_eq!(status(0), vec![Y, N, Y, Y, Y, Y], "{table}");
    assert_eq!(status(1), vec![Y, Y, Y, Y, Y, Y], "{table}");
    assert_eq!(status(3), vec![Y, Y, Y, Y, Y, Y], "{table}");
    assert_eq!(status(4), vec![N, N, N, Y, Y, Y], "{table}");
    assert_eq!(status(5), vec![N, N, N, N, N, Y], "{table}");
    // Under real time the readers are to blame: a session read a write and then an older one.
    let inversion = runs[4]
        .observed
        .violations_of(Guarantee::MonotonicWrites)
        .next()
        .expect("an inversion");
    let reader = match inversion.evidence[..] {
        [Evidence::ReadThenRead { then, .. }] => then,
        _ => panic!("one observation: {}", inversion.explanation),
    };
    assert!(
        runs[4]
            .real_time
            .violations_of(Guarantee::MonotonicReads)
            .any(|v| v.op == reader),
        "{}",
        inversion.explanation
    );
    // A partition makes many more reads stale than replication lag does.
    assert!(runs[3].stale.rate > 4.0 * runs[1].stale.rate, "{table}");
}

#[test]
fn the_blind_merge_variant_breaks_read_your_writes_where_the_correct_protocol_keeps_it() {
    // BlindMerge applies every incoming update whatever its stamp: a replica that has a
    // client's write can step back to an older version, which the client then reads.
    const BLIND: Edit = Edit {
        name: " (blind merge, sticky)",
        apply: |text| {
            let edited = text.replace(
                "Lww(replicate_every: \"20ms\")",
                "Lww(replicate_every: \"20ms\", variant: BlindMerge)",
            );
            assert_ne!(edited, text, "the protocol line changed: update this edit");
            (STICKY.apply)(edited)
        },
    };
    let mut convergence_broken = 0;
    for seed in 1..=4 {
        let blind = run("lww-no-faults", &BLIND, Some(seed));
        let correct = run("lww-no-faults", &STICKY, Some(seed));
        assert!(
            blind.violations(Guarantee::ReadYourWrites) > 0,
            "seed {seed}: {:#?}",
            blind.real_time.tallies
        );
        assert!(correct.real_time.violations.is_empty(), "seed {seed}");
        assert!(correct.causal.ccv, "seed {seed}");
        convergence_broken += usize::from(!blind.causal.ccv);
    }
    // Replicas that step back disagree on the order of writes: causal convergence fails too.
    assert!(convergence_broken > 0);
}
