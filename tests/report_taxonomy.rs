//! The taxonomy of causes on the bundled scenarios: each names the fault its story is about.
//! Also: reports round-trip through JSON, and budgets turn excess into violations.

use faultline::pipeline::{check, reproduction_command, run_and_report};
use faultline::registry::LoadedScenario;
use faultline::Registry;
use reports::{BudgetStatus, Cause, CheckResults, Report, RunIdentity, StaleRead, Subject};
use sim_core::engine::{RunOptions, RunResult};
use sim_core::history::{History, OpKind, Outcome};
use sim_core::ids::OpId;

fn scenario(name: &str) -> Box<dyn LoadedScenario> {
    let file = format!("{}/scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
    Registry::builtin()
        .load_file(&file)
        .expect("bundled scenario")
}

fn report(name: &str) -> (RunResult, Report) {
    let scenario = scenario(name);
    let seed = scenario.seed().expect("pinned seed");
    run_and_report(
        "faultline",
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        None,
    )
}

/// A stand-in for the stale-read checker (checkers::stale_reads, being written elsewhere):
/// an ok read is stale when an ok write of its key completed before the read began, and
/// every value the read returned was written by an operation that completed before that write
/// began. The missed write is the latest such.
fn stale_reads_stand_in(history: &History) -> Vec<StaleRead> {
    let ops = &history.ops;
    let writer = |v| ops.iter().find(|op| op.write == Some(v));
    let mut stale = Vec::new();
    for read in ops
        .iter()
        .filter(|op| op.kind == OpKind::Get && op.outcome == Outcome::Ok)
    {
        let values = read.read.as_deref().unwrap_or_default();
        let missed = ops
            .iter()
            .filter(|w| w.is_write() && w.key == read.key && w.outcome == Outcome::Ok)
            .filter(|w| w.complete.is_some_and(|c| c < read.invoke))
            .filter(|w| {
                values.iter().all(|v| {
                    writer(*v).is_some_and(|seen| seen.complete.is_some_and(|c| c < w.invoke))
                })
            })
            .max_by_key(|w| w.complete);
        if let Some(missed) = missed {
            stale.push(StaleRead {
                op: read.id,
                missed: missed.id,
            });
        }
    }
    stale
}

#[test]
fn lww_clock_skew_attributes_its_lost_writes_to_clock_skew() {
    let (_, report) = report("lww-clock-skew");
    let lost = &report
        .lost_writes
        .as_ref()
        .expect("lost writes checked")
        .lost;
    assert!(!lost.is_empty());
    for write in lost {
        assert_eq!(write.cause, Some(Cause::ClockSkew), "{write:?}");
    }
    let skew = report
        .diagnostics
        .cause(Cause::ClockSkew)
        .expect("clock skew listed");
    assert_eq!(skew.lost_writes, lost.len() as u64);
    assert!(skew.nodes.contains(&"n2".to_string()), "{:?}", skew.nodes);
    let first = report
        .diagnostics
        .attributions
        .iter()
        .find(|a| a.subject == Subject::LostWrite)
        .expect("lost writes listed");
    assert!(
        first.evidence.contains("n2's clock (offset -50ms)"),
        "{}",
        first.evidence
    );
}

#[test]
fn lww_partition_heals_attributes_its_divergence_to_the_partition() {
    let (_, report) = report("lww-partition-heals");
    let diagnostics = &report.diagnostics;
    assert_eq!(
        diagnostics.dominant_divergence_cause(),
        Some(Cause::Partition)
    );
    let first = diagnostics.first_divergence.as_ref().expect("a divergence");
    assert_eq!(first.cause, Cause::Partition);
    // Every divergence that began while n1 was cut off (3 s to 6 s) is the partition's.
    for attribution in diagnostics
        .attributions
        .iter()
        .filter(|a| a.subject == Subject::Divergence)
    {
        if (3_100_000_000..6_000_000_000).contains(&attribution.start_ns) {
            assert_eq!(attribution.cause, Cause::Partition, "{attribution:?}");
        }
    }
    // Convergence is measured after every heal, not only after settle began.
    let heal = diagnostics
        .heals
        .iter()
        .find(|h| h.at_ns == 6_000_000_000)
        .expect("the 6 s heal");
    assert!(heal.converged_after_ns.is_some(), "{heal:?}");
}

#[test]
fn lww_gc_pause_attributes_divergence_and_stale_reads_to_the_paused_node() {
    let scenario = scenario("lww-gc-pause");
    let seed = scenario.seed().unwrap();
    let (result, report) = run_and_report(
        "faultline",
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        None,
    );
    let diagnostics = &report.diagnostics;
    assert_eq!(
        diagnostics.dominant_divergence_cause(),
        Some(Cause::PausedNode)
    );
    let paused = diagnostics.cause(Cause::PausedNode).unwrap();
    assert_eq!(paused.nodes, vec!["n3".to_string()]);
    assert_eq!(
        diagnostics.first_divergence.as_ref().unwrap().cause,
        Cause::PausedNode
    );
    // Stale reads through the hook a stale-read checker will fill.
    let mut checks: CheckResults = check(scenario.as_ref(), &result);
    let stale = stale_reads_stand_in(&result.history);
    checks.stale_reads = Some(stale.clone());
    let report = Report::build(identity(scenario.as_ref(), seed), &result, &checks);
    let section = report.stale_reads.as_ref().expect("stale reads section");
    let paused_reads = section
        .stale
        .iter()
        .filter(|s| s.cause == Some(Cause::PausedNode))
        .count();
    assert!(paused_reads > 0, "{:#?}", section.stale);
    assert_eq!(
        report
            .diagnostics
            .cause(Cause::PausedNode)
            .unwrap()
            .stale_reads,
        paused_reads as u64
    );
    // A stale read whose missed write came through n3 during or just before a pause is the
    // pause's, and names n3.
    for attribution in report
        .diagnostics
        .attributions
        .iter()
        .filter(|a| a.subject == Subject::StaleRead)
    {
        let in_pause = (3_000_000_000..5_000_000_000).contains(&attribution.start_ns)
            || (7_000_000_000..8_500_000_000).contains(&attribution.start_ns);
        if attribution.cause == Cause::PausedNode {
            assert!(
                attribution.nodes.contains(&"n3".to_string()),
                "{attribution:?}"
            );
            assert!(in_pause, "{attribution:?}");
        }
    }
    // With the hook filled, the stale-read budget is measured.
    let budget = report
        .budgets
        .iter()
        .find(|b| b.budget == "stale_read_rate_max")
        .unwrap();
    assert_ne!(budget.status, BudgetStatus::NotMeasured);
}

fn identity(scenario: &dyn LoadedScenario, seed: u64) -> RunIdentity {
    RunIdentity {
        scenario: scenario.name().to_string(),
        file: scenario.file().to_string(),
        protocol: scenario.protocol().to_string(),
        protocol_config: scenario.protocol_config(),
        reproduce: reproduction_command("faultline", scenario.file(), seed),
        budgets: scenario.budgets(),
    }
}

#[test]
fn an_exceeded_budget_is_a_violation_and_a_kept_one_is_not() {
    let (_, report) = report("lww-gc-pause");
    let keys = report
        .budgets
        .iter()
        .find(|b| b.budget == "keys_diverged_max")
        .unwrap();
    assert_eq!(keys.status, BudgetStatus::Exceeded);
    // First exceeded during the first pause (3 s to 5 s).
    let at = keys.exceeded_at_ns.expect("when");
    assert!((3_000_000_000..5_000_000_000).contains(&at), "{at}");
    let convergence = report
        .budgets
        .iter()
        .find(|b| b.budget == "convergence_after_heal_max")
        .unwrap();
    assert_eq!(convergence.status, BudgetStatus::Within);
    let stale = report
        .budgets
        .iter()
        .find(|b| b.budget == "stale_read_rate_max")
        .unwrap();
    // The stale-read checker measures the rate: the paused node's reads go stale.
    assert_eq!(stale.status, BudgetStatus::Exceeded);
    assert!(stale.measured.expect("measured") > 0.01, "{stale:?}");
    let names: Vec<&str> = report.violations.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["budget:keys_diverged_max", "budget:stale_read_rate_max"]
    );
    assert_eq!(report.verdict, reports::Verdict::Fail);
}

#[test]
fn every_bundled_report_round_trips_through_json() {
    let dir = format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"));
    let files = faultline::bundled::scenario_files(std::path::Path::new(&dir));
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
    {
        let scenario = Registry::builtin()
            .load_file(&path.display().to_string())
            .unwrap();
        let seed = scenario.seed().unwrap_or(1);
        let (_, mut report) = run_and_report(
            "faultline",
            scenario.as_ref(),
            seed,
            RunOptions::default(),
            None,
        );
        faultline::report_cli::attach_trace_window(scenario.as_ref(), &mut report).unwrap();
        let text = reports::json::render(&report);
        let back =
            reports::json::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(back, report, "{}", path.display());
        assert_eq!(reports::json::render(&back), text);
    }
}

#[test]
fn a_report_from_a_newer_schema_is_refused_with_a_reason() {
    let (_, report) = report("lww-no-faults");
    let mut value = serde_json::to_value(&report).unwrap();
    value["schema_version"] = serde_json::json!(reports::SCHEMA_VERSION + 1);
    let error = reports::json::parse(&value.to_string()).unwrap_err();
    assert!(error.contains("newer"), "{error}");
    assert!(reports::json::parse("{}")
        .unwrap_err()
        .contains("schema_version"));
}

#[test]
fn the_stand_in_finds_the_read_that_missed_an_acknowledged_write() {
    // Sanity of the test's own stand-in: a read returning nothing after an acknowledged write.
    use sim_core::history::Operation;
    use sim_core::ids::{ClientId, Key, NodeId, Value};
    use sim_core::time::SimTime;
    let op = |id, kind, write: Option<u64>, read: Option<Vec<Value>>, invoke, complete| Operation {
        id: OpId(id),
        client: ClientId(0),
        node: NodeId(0),
        kind,
        key: Key(0),
        write: write.map(Value),
        expected: None,
        invoke: SimTime(invoke),
        complete: Some(SimTime(complete)),
        outcome: Outcome::Ok,
        read,
        note: None,
    };
    let history = History {
        ops: vec![
            op(0, OpKind::Put, Some(1), None, 0, 10),
            op(1, OpKind::Get, None, Some(vec![]), 20, 30),
            op(2, OpKind::Get, None, Some(vec![Value(1)]), 40, 50),
        ],
    };
    let stale = stale_reads_stand_in(&history);
    assert_eq!(
        stale,
        vec![StaleRead {
            op: OpId(1),
            missed: OpId(0)
        }]
    );
}
