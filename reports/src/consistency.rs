//! The consistency section of a report: the ladder row (which models held, whatever the
//! scenario judges) and the violations of the models the scenario does judge.
//!
//! The ladder describes and `checks` judges: a last-writer-wins store is never linearizable,
//! and saying so is not a failure unless the scenario promised it.

use crate::{CheckResults, LadderEntry, Violation};
use checkers::causal::BadPattern;
use checkers::ladder::{Column, LadderRow, Status};
use checkers::linearizability as lin;
use checkers::session::Guarantee;
use sim_core::engine::RunResult;
use sim_core::ids::OpId;
use sim_core::scenario::CheckName;

/// The ladder as report entries, one per column.
pub(crate) fn entries(row: &LadderRow, checks: &CheckResults) -> Vec<LadderEntry> {
    Column::ALL
        .iter()
        .map(|&column| LadderEntry {
            model: column.name().to_string(),
            status: status_word(row.status(column)).to_string(),
            detail: detail(column, row, checks),
        })
        .collect()
}

/// A causal bad pattern in a few words.
fn pattern_words(pattern: BadPattern) -> &'static str {
    match pattern {
        BadPattern::CyclicCO => "the causal order has a cycle",
        BadPattern::ThinAirRead => "a read returned a value never written",
        BadPattern::WriteCOInitRead => "a read missed a write in its causal past",
        BadPattern::WriteCORead => "a read returned a value its causal past had overwritten",
        BadPattern::CyclicCF => "no single order of writes explains every read (CCv)",
        BadPattern::WriteHBInitRead => "a session missed a write that happened before (CM)",
        BadPattern::CyclicHB => "a session's happens-before has a cycle (CM)",
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Held => "held",
        Status::Violated => "violated",
        Status::NotChecked => "not-checked",
        Status::Unknown => "unknown",
    }
}

fn search_detail(report: Option<&lin::Report>) -> String {
    match report {
        None => "no checker ran".into(),
        Some(r) => match r.verdict {
            lin::Verdict::Holds => format!(
                "{} operations on {} keys ordered ({} search steps)",
                r.operations, r.keys, r.steps
            ),
            lin::Verdict::Violated => r.witness.as_ref().map_or_else(
                || {
                    r.implied_by.as_ref().map_or_else(
                        || "no order exists".to_string(),
                        |why| format!("no order exists: {why}"),
                    )
                },
                |w| {
                    format!(
                        "key {}: {} operations cannot be ordered",
                        w.key.as_deref().unwrap_or("-"),
                        w.ops.len()
                    )
                },
            ),
            lin::Verdict::Unknown => format!(
                "search budget ran out: {}",
                r.unknown.as_deref().unwrap_or("no verdict")
            ),
        },
    }
}

fn detail(column: Column, row: &LadderRow, checks: &CheckResults) -> String {
    let session = |guarantee: Guarantee| match &checks.session {
        None => "no checker ran".to_string(),
        Some(v) => match &v.not_checked {
            Some(why) => why.clone(),
            None => {
                let tally = v.tallies.iter().find(|t| t.guarantee == guarantee);
                tally.map_or_else(String::new, |t| {
                    format!("{} of {} operations broke it", t.violated, t.checked)
                })
            }
        },
    };
    match column {
        Column::Linearizable => search_detail(checks.linearizable.as_ref()),
        Column::Sequential => search_detail(checks.sequential.as_ref()),
        Column::Causal => match &checks.causal {
            None => "no checker ran".into(),
            Some(v) => match &v.not_checked {
                Some(why) => why.clone(),
                None if row.causal == Status::Held => {
                    let held: Vec<String> =
                        row.causal_models.iter().map(|m| m.to_string()).collect();
                    format!("models that held: {}", held.join(", "))
                }
                None => v.violations.first().map_or_else(String::new, |first| {
                    format!(
                        "{} violation(s); first: {}",
                        v.violations.len(),
                        pattern_words(first.pattern)
                    )
                }),
            },
        },
        Column::ReadYourWrites => session(Guarantee::ReadYourWrites),
        Column::MonotonicReads => session(Guarantee::MonotonicReads),
        Column::MonotonicWrites => session(Guarantee::MonotonicWrites),
        Column::WritesFollowReads => session(Guarantee::WritesFollowReads),
        Column::NoStaleReads => match &checks.stale {
            None => "no checker ran".into(),
            Some(v) => match &v.not_checked {
                Some(why) => why.clone(),
                None => format!(
                    "{} of {} reads stale ({:.2}%)",
                    v.stale_count,
                    v.reads,
                    v.rate * 100.0
                ),
            },
        },
        Column::Converged => match &checks.convergence {
            None => "no settle phase: replicas are not compared".into(),
            Some(v) if v.converged() => "replicas agreed after settle".into(),
            Some(v) => format!("{} key(s) still differ", v.divergent.len()),
        },
        Column::NoLostWrites => match &checks.lost_writes {
            None => "no checker ran".into(),
            Some(v) => format!(
                "{} of {} acknowledged writes lost",
                v.lost.len(),
                v.acknowledged
            ),
        },
    }
}

/// Violations of the judged consistency checks (linearizable, sequential, causal, session
/// guarantees, stale reads), and the names of judged checks whose search ran out of budget.
pub(crate) fn violations(
    result: &RunResult,
    checks: &CheckResults,
) -> (Vec<Violation>, Vec<String>) {
    let judged = |name: CheckName| checks.judged.contains(&name);
    let op_time = |op: OpId| result.history.ops.get(op.0 as usize).map(|o| o.invoke.0);
    let op_node = |op: OpId| {
        result
            .history
            .ops
            .get(op.0 as usize)
            .map(|o| o.node.to_string())
    };
    let mut violations = Vec::new();
    let mut unknown = Vec::new();
    for (name, report) in [
        (CheckName::Linearizable, &checks.linearizable),
        (CheckName::Sequential, &checks.sequential),
    ] {
        let (Some(report), true) = (report, judged(name)) else {
            continue;
        };
        let check = match name {
            CheckName::Linearizable => "linearizable",
            _ => "sequential",
        };
        match report.verdict {
            lin::Verdict::Holds => {}
            lin::Verdict::Unknown => unknown.push(format!(
                "{check}: {}",
                report.unknown.as_deref().unwrap_or("search budget ran out")
            )),
            lin::Verdict::Violated => {
                let witness = report.witness.as_ref();
                let ops: Vec<OpId> = witness
                    .map(|w| w.ops.iter().filter_map(|o| o.id.map(OpId)).collect())
                    .unwrap_or_default();
                let mut nodes: Vec<String> = ops.iter().filter_map(|&op| op_node(op)).collect();
                nodes.sort();
                nodes.dedup();
                violations.push(Violation {
                    source: "check".into(),
                    name: check.into(),
                    event: None,
                    // The anomaly needs every witness operation, so it exists from the
                    // invocation of the last of them (typically the bad read), not the first.
                    time_ns: ops.iter().filter_map(|&op| op_time(op)).max(),
                    nodes,
                    explanation: witness.map_or_else(
                        || format!("the history is not {}", report.consistency),
                        |w| w.explanation.clone(),
                    ),
                    witness: witness
                        .map(|w| {
                            w.ops
                                .iter()
                                .map(|o| {
                                    let id = o.id.map_or_else(String::new, |id| format!("op{id} "));
                                    format!("{id}client {}: {}", o.client, o.operation)
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
    }
    if let (Some(causal), true) = (&checks.causal, judged(CheckName::Causal)) {
        if causal.not_checked.is_none() && !causal.cc {
            if let Some(first) = causal.violations.first() {
                violations.push(Violation {
                    source: "check".into(),
                    name: "causal".into(),
                    event: None,
                    time_ns: first.ops.iter().filter_map(|&op| op_time(op)).max(),
                    nodes: Vec::new(),
                    explanation: format!(
                        "{} causal violation(s); first: {}",
                        causal.violations.len(),
                        first.explanation
                    ),
                    witness: first.ops.iter().map(|op| op.to_string()).collect(),
                });
            }
        }
    }
    if let Some(session) = &checks.session {
        for (name, guarantee) in [
            (CheckName::ReadYourWrites, Guarantee::ReadYourWrites),
            (CheckName::MonotonicReads, Guarantee::MonotonicReads),
            (CheckName::MonotonicWrites, Guarantee::MonotonicWrites),
            (CheckName::WritesFollowReads, Guarantee::WritesFollowReads),
        ] {
            if !judged(name) {
                continue;
            }
            let broken: Vec<_> = session.violations_of(guarantee).collect();
            let Some(first) = broken.first() else {
                continue;
            };
            violations.push(Violation {
                source: "check".into(),
                name: guarantee.name().into(),
                event: None,
                time_ns: op_time(first.op),
                nodes: op_node(first.op).into_iter().collect(),
                explanation: format!(
                    "{} operation(s) broke {}; first: {}",
                    broken.len(),
                    guarantee.name(),
                    first.explanation
                ),
                witness: vec![first.earlier_op.to_string(), first.op.to_string()],
            });
        }
    }
    if let (Some(stale), true) = (&checks.stale, judged(CheckName::StaleReads)) {
        if let Some(first) = stale.stale.first() {
            violations.push(Violation {
                source: "check".into(),
                name: "stale-reads".into(),
                event: None,
                time_ns: Some(first.invoked_at.0),
                nodes: op_node(first.op).into_iter().collect(),
                explanation: format!(
                    "{} of {} reads were stale ({:.2}%); first: {}",
                    stale.stale_count,
                    stale.reads,
                    stale.rate * 100.0,
                    first.explanation
                ),
                witness: vec![first.overwritten_by.to_string(), first.op.to_string()],
            });
        }
    }
    (violations, unknown)
}
