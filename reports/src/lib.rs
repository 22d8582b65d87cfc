//! The report of one run: a serde model with a schema version, built from a run's result and
//! its checks, and rendered for people (terminal, an HTML page with SVG charts, PNG charts)
//! and machines (JSON). A report is self-sufficient: every renderer works from the model
//! alone, so `faultline report report.json` redraws everything a run printed.
//!
//! Schema history: version 1 had the verdict, violations, convergence, lost writes, network
//! and faults; version 2 added the divergence diagnostics (taxonomy of causes, mismatch counts
//! over time, heals, the first divergence), budgets, the consistency ladder, stale reads (from the stale-read
//! checker), latency, the fault timeline with clock offsets, the history window and the
//! space-time window. docs/report.md documents every field.

pub mod budgets;
pub mod charts;
mod consistency;
pub mod diagnostics;
pub mod html;
pub mod json;
pub mod latency;
pub mod ops;
pub mod png;
pub mod taxonomy;
pub mod terminal;
pub mod text;
pub mod timeline;
pub mod window;

pub use budgets::{BudgetLine, BudgetStatus};
pub use diagnostics::{Diagnostics, FirstDivergence, HealLine};
pub use latency::LatencySection;
pub use ops::HistoryWindow;
pub use taxonomy::{Attribution, Cause, CauseTotal, StaleRead, Subject};
pub use timeline::Timeline;
pub use window::{SpaceTime, TraceCapture};

use checkers::causal::CausalVerdict;
use checkers::convergence::{ConvergenceVerdict, DivergentKey};
use checkers::ladder::LadderRow;
use checkers::linearizability as lin;
use checkers::lost_writes::{LostWrite, LostWritesVerdict};
use checkers::session::SessionVerdict;
use checkers::stale_reads::StaleReadsVerdict;
use serde::{Deserialize, Serialize};
use sim_core::engine::RunResult;
use sim_core::history::OutcomeCounts;
use sim_core::network::DropReason;
use sim_core::scenario::{Budgets, CheckName};
use sim_core::time::{format_nanos, SimTime};
use std::collections::BTreeMap;

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 2;

/// How a run ended, for people and exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every invariant and check held.
    Pass,
    /// Something was violated.
    Fail,
    /// The run or a check was cut short by a bound: neither pass nor fail.
    Unknown,
}

/// One thing that went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// "invariant" (checked online by the protocol) or "check" (on the history).
    pub source: String,
    /// Which invariant or check.
    pub name: String,
    /// The first trace event at which it was seen, when known.
    pub event: Option<u64>,
    /// True time of that event, in ns.
    pub time_ns: Option<u64>,
    /// Nodes involved.
    pub nodes: Vec<String>,
    /// What went wrong, in plain words.
    pub explanation: String,
    /// The operations that show it (for a lost-writes violation: the lost writes).
    #[serde(default)]
    pub witness: Vec<String>,
}

/// The convergence section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvergenceSection {
    /// Whether all live replicas agreed at the end.
    pub converged: bool,
    /// When settle began, in ns.
    pub settle_started_ns: Option<u64>,
    /// When replicas first agreed during settle, in ns.
    pub converged_at_ns: Option<u64>,
    /// Time from the start of settle to agreement, in ns.
    pub time_to_converge_ns: Option<u64>,
    /// Keys still diverging at the end, with each replica's versions.
    pub divergent_keys: Vec<DivergentKeyLine>,
    /// Nodes down at the end.
    pub down: Vec<String>,
    /// Most keys diverging at any sample.
    pub peak_keys_diverged: u32,
}

/// One diverging key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivergentKeyLine {
    /// The key.
    pub key: String,
    /// Per node, the values it holds.
    pub replicas: Vec<(String, Vec<String>)>,
}

/// The lost-writes section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostWritesSection {
    /// Acknowledged writes in the run.
    pub acknowledged: u64,
    /// The writes lost.
    pub lost: Vec<LostWriteLine>,
}

/// One lost write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostWriteLine {
    /// The operation.
    pub op: String,
    /// The key.
    pub key: String,
    /// The value that vanished.
    pub value: String,
    /// When it was acknowledged, in ns.
    pub acknowledged_ns: u64,
    /// What the replicas hold for the key at the end.
    pub survivors: Vec<String>,
    /// "never-held" or "gone-at-end".
    pub kind: String,
    /// Why it was lost, per the taxonomy (schema 2).
    #[serde(default)]
    pub cause: Option<Cause>,
}

/// Message statistics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSection {
    /// Sent by protocols.
    pub sent: u64,
    /// Delivered to protocols.
    pub delivered: u64,
    /// Extra copies made by the network.
    pub duplicated: u64,
    /// Dropped, by reason.
    pub dropped: Vec<(String, u64)>,
}

/// One applied fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultLine {
    /// When, in ns.
    pub at_ns: u64,
    /// What it did.
    pub description: String,
    /// "pinned", "nemesis" or "settle".
    pub origin: String,
    /// Whether it changed anything.
    pub effective: bool,
    /// The trace event of the fault (schema 2).
    #[serde(default)]
    pub event: Option<u64>,
    /// The node a process or clock fault targets (schema 2).
    #[serde(default)]
    pub node: Option<String>,
}

/// The stale-read section: the reads that returned a value overwritten by a write that had
/// completed before they began.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaleReadsSection {
    /// Successful reads in the run.
    pub reads_ok: u64,
    /// Stale reads / successful reads.
    pub rate: f64,
    /// The stale reads.
    pub stale: Vec<StaleReadLine>,
}

/// One stale read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleReadLine {
    /// The read.
    pub op: String,
    /// The key.
    pub key: String,
    /// The node that served it.
    pub node: String,
    /// When it was invoked, in ns.
    pub invoke_ns: u64,
    /// What it returned.
    pub read: Vec<String>,
    /// The acknowledged write it missed.
    pub missed_op: String,
    /// That write's value.
    pub missed_value: Option<String>,
    /// Why, per the taxonomy.
    pub cause: Option<Cause>,
}

/// One row of the consistency ladder: whether a model held in this run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderEntry {
    /// The model ("linearizable", "eventual convergence", ...).
    pub model: String,
    /// "held", "violated", "unknown" (a checker's budget ran out) or "not-checked".
    pub status: String,
    /// A few words on why.
    pub detail: String,
}

/// What the report centres its windows on: the first violation, else the first divergence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Focus {
    /// When, in ns.
    pub at_ns: u64,
    /// What it is.
    pub reason: String,
    /// The trace event, when known.
    pub event: Option<u64>,
}

/// Everything known about one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file.
    pub file: String,
    /// The seed.
    pub seed: u64,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// The protocol's name.
    pub protocol: String,
    /// The protocol's options, as the engine saw them.
    pub protocol_config: String,
    /// Pass, fail or unknown.
    pub verdict: Verdict,
    /// Trace events.
    pub events: u64,
    /// True time at the end, in ns.
    pub end_time_ns: u64,
    /// Set when a bound ended the run early.
    pub limit_reached: Option<String>,
    /// Operations by outcome.
    pub operations: OutcomeCounts,
    /// Everything violated, first by time.
    pub violations: Vec<Violation>,
    /// The lost-writes check, when it ran.
    pub lost_writes: Option<LostWritesSection>,
    /// The convergence check, when it ran.
    pub convergence: Option<ConvergenceSection>,
    /// Message statistics.
    pub network: NetworkSection,
    /// Faults applied.
    pub faults: Vec<FaultLine>,
    /// A command that reproduces this run.
    pub reproduce: String,
    /// The nodes, n1..nN (schema 2).
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Which consistency models held, with a few words each (schema 2).
    #[serde(default)]
    pub ladder: Vec<LadderEntry>,
    /// The same as one row a sweep can tally (schema 2).
    #[serde(default)]
    pub ladder_row: Option<LadderRow>,
    /// The scenario's drift budgets and what was measured (schema 2).
    #[serde(default)]
    pub budgets: Vec<BudgetLine>,
    /// Stale reads, when the stale-read checker ran (schema 2).
    #[serde(default)]
    pub stale_reads: Option<StaleReadsSection>,
    /// Divergence diagnostics (schema 2).
    #[serde(default)]
    pub diagnostics: Diagnostics,
    /// Operation latency (schema 2).
    #[serde(default)]
    pub latency: LatencySection,
    /// Fault spans and clock offsets (schema 2).
    #[serde(default)]
    pub timeline: Timeline,
    /// Where the windows below are centred (schema 2).
    #[serde(default)]
    pub focus: Option<Focus>,
    /// The operations nearest the focus (schema 2).
    #[serde(default)]
    pub history: HistoryWindow,
    /// The trace events around the focus; present when the run was replayed for the report
    /// (`run --report`), absent from plain `run --json` (schema 2).
    #[serde(default)]
    pub space_time: Option<SpaceTime>,
}

/// What the run was and how to reproduce it: the parts of a report not computed from the run.
pub struct RunIdentity {
    /// The scenario's name.
    pub scenario: String,
    /// The file.
    pub file: String,
    /// The protocol's name.
    pub protocol: String,
    /// The protocol's options as text.
    pub protocol_config: String,
    /// A command that reproduces the run.
    pub reproduce: String,
    /// The scenario's drift budgets.
    pub budgets: Budgets,
}

/// The checkers' verdicts on a run (None: that checker did not run), and which of them judge
/// it. Every verdict describes the run (the ladder, the diagnostics); only the checks in
/// `judged` turn into violations. Build with `..CheckResults::default()` so new checkers can
/// add fields.
#[derive(Default)]
pub struct CheckResults {
    /// The checks the scenario asks for: their failures are violations.
    pub judged: Vec<CheckName>,
    /// Convergence after settle.
    pub convergence: Option<ConvergenceVerdict>,
    /// Lost acknowledged writes.
    pub lost_writes: Option<LostWritesVerdict>,
    /// The stale reads the taxonomy attributes (from `stale`, or set directly).
    pub stale_reads: Option<Vec<StaleRead>>,
    /// The stale-read measurement.
    pub stale: Option<StaleReadsVerdict>,
    /// The linearizability search.
    pub linearizable: Option<lin::Report>,
    /// The sequential-consistency search.
    pub sequential: Option<lin::Report>,
    /// The four session guarantees.
    pub session: Option<SessionVerdict>,
    /// Causal consistency (CC, CM, CCv).
    pub causal: Option<CausalVerdict>,
    /// The ladder row built from the verdicts above.
    pub ladder_row: Option<LadderRow>,
}

impl Report {
    /// Assembles the report of a finished run.
    pub fn build(identity: RunIdentity, result: &RunResult, checks: &CheckResults) -> Report {
        let spans = timeline::spans(result);
        let timeline = timeline::timeline(result, &spans);
        let evidence =
            taxonomy::Evidence::new(result, &spans, timeline::clock_spread_ns(&timeline));
        let stale = checks.stale_reads.as_deref();
        let (diagnostics, loss_causes, stale_causes) = diagnostics::diagnose(
            result,
            &spans,
            &evidence,
            checks.lost_writes.as_ref(),
            stale,
        );
        let convergence = checks
            .convergence
            .as_ref()
            .map(|verdict| convergence_section(result, verdict));
        let lost_writes = checks
            .lost_writes
            .as_ref()
            .map(|verdict| lost_writes_section(verdict, &loss_causes));
        let stale_reads = stale.map(|s| stale_reads_section(result, s, &stale_causes));
        let budgets = budgets::measure(
            &identity.budgets,
            &diagnostics,
            lost_writes.as_ref(),
            stale_reads.as_ref(),
            result.end_time.0,
        );
        let judged = |name: CheckName| checks.judged.contains(&name);
        let mut violations = violations(
            result,
            &identity.budgets,
            (
                convergence
                    .as_ref()
                    .filter(|_| judged(CheckName::Convergence)),
                lost_writes
                    .as_ref()
                    .filter(|_| judged(CheckName::LostWrites)),
            ),
            &budgets,
        );
        let (consistency_violations, unknown_checks) = consistency::violations(result, checks);
        // Invariants, then the checks, then the budgets: the consistency checks go with the checks.
        let at = violations
            .iter()
            .position(|v| v.source == "budget")
            .unwrap_or(violations.len());
        violations.splice(at..at, consistency_violations);
        let verdict = if !violations.is_empty() {
            Verdict::Fail
        } else if result.limit_reached.is_some() || !unknown_checks.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::Pass
        };
        let focus = focus(
            result,
            &violations,
            checks.lost_writes.as_ref(),
            &diagnostics,
        );
        let flags = flags(checks.lost_writes.as_ref(), stale);
        let clients = result
            .history
            .ops
            .iter()
            .map(|op| op.client.0 + 1)
            .max()
            .unwrap_or(0);
        let ladder = checks
            .ladder_row
            .as_ref()
            .map(|row| consistency::entries(row, checks))
            .unwrap_or_default();
        Report {
            schema_version: SCHEMA_VERSION,
            scenario: identity.scenario,
            file: identity.file,
            seed: result.seed,
            trace_hash: result.trace_hash.to_string(),
            protocol: identity.protocol,
            protocol_config: identity.protocol_config,
            verdict,
            events: result.events,
            end_time_ns: result.end_time.0,
            limit_reached: result.limit_reached.clone(),
            operations: result.history.outcome_counts(),
            violations,
            lost_writes,
            convergence,
            network: network_section(result),
            faults: fault_lines(result),
            reproduce: identity.reproduce,
            nodes: (0..result.clocks.len() as u32)
                .map(|n| sim_core::ids::NodeId(n).to_string())
                .collect(),
            ladder,
            ladder_row: checks.ladder_row.clone(),
            budgets,
            stale_reads,
            latency: latency::latency(&result.history),
            history: ops::window(
                &result.history,
                clients,
                focus.as_ref().map_or(0, |f| f.at_ns),
                &flags,
            ),
            focus,
            diagnostics,
            timeline,
            space_time: None,
        }
    }

    /// Adds what a replay of the run with `capture` saw: the space-time window, and the trace
    /// events behind the first divergence.
    pub fn attach_trace(&mut self, capture: &TraceCapture) {
        self.space_time = Some(capture.space_time());
        let Some(first) = self.diagnostics.first_divergence.as_mut() else {
            return;
        };
        first.event = capture.request_event();
        for event in capture.chain_events() {
            let peer = if event.peer.is_empty() {
                String::new()
            } else {
                format!(" (peer {})", event.peer)
            };
            first.chain.push(diagnostics::ChainStep {
                at_ns: event.t_ns,
                event: Some(event.index),
                what: format!("{} on {}{peer}: {}", event.kind, event.node, event.text),
            });
        }
        first.chain.sort_by_key(|s| (s.at_ns, s.event));
        first
            .chain
            .dedup_by_key(|s| (s.at_ns, s.event, s.what.clone()));
        if let (Some(focus), Some(event)) = (self.focus.as_mut(), first.event) {
            if focus.event.is_none() && focus.at_ns == first.detected_ns {
                focus.event = Some(event);
            }
        }
    }

    /// Where a replay should look for the chain of events behind the first divergence.
    pub fn chain_focus(&self) -> Option<window::ChainFocus> {
        let first = self.diagnostics.first_divergence.as_ref()?;
        let mut nodes: Vec<sim_core::ids::NodeId> = first
            .replicas
            .iter()
            .filter_map(|r| sim_core::ids::NodeId::parse(&r.node))
            .collect();
        nodes.extend(
            first
                .nodes
                .iter()
                .filter_map(|n| sim_core::ids::NodeId::parse(n)),
        );
        nodes.sort();
        nodes.dedup();
        let from = first
            .chain
            .first()
            .map_or(first.agreed_ns.unwrap_or(0), |s| s.at_ns)
            .min(first.agreed_ns.unwrap_or(u64::MAX));
        let op = first
            .op
            .as_deref()
            .and_then(|op| op.strip_prefix("op")?.parse().ok());
        Some(window::ChainFocus {
            from: SimTime(from),
            to: SimTime(first.detected_ns),
            nodes,
            op,
            key: Some(first.key.clone()),
        })
    }
}

/// Invariants first, then the checks, then the budgets.
fn violations(
    result: &RunResult,
    declared: &Budgets,
    (convergence, lost_writes): (Option<&ConvergenceSection>, Option<&LostWritesSection>),
    budgets: &[BudgetLine],
) -> Vec<Violation> {
    let mut violations = invariant_violations(result);
    if let Some(section) = convergence.filter(|c| !c.converged) {
        violations.push(non_convergence(result, section));
    }
    // A lost-writes budget replaces the check's zero tolerance.
    if declared.lost_writes_max.is_none() {
        if let Some(violation) = lost_writes.and_then(lost_writes_violation) {
            violations.push(violation);
        }
    }
    violations.extend(budgets::violations(budgets));
    violations
}

fn invariant_violations(result: &RunResult) -> Vec<Violation> {
    result
        .violations
        .iter()
        .map(|v| Violation {
            source: "invariant".into(),
            name: v.invariant.clone(),
            event: Some(v.event),
            time_ns: Some(v.time.0),
            nodes: v.nodes.iter().map(|n| n.to_string()).collect(),
            explanation: v.explanation.clone(),
            witness: Vec::new(),
        })
        .collect()
}

fn lost_writes_violation(section: &LostWritesSection) -> Option<Violation> {
    let first = section.lost.first()?;
    let mut causes: BTreeMap<Cause, usize> = BTreeMap::new();
    for lost in &section.lost {
        *causes
            .entry(lost.cause.unwrap_or(Cause::Unexplained))
            .or_default() += 1;
    }
    let causes: Vec<String> = causes
        .iter()
        .map(|(cause, n)| format!("{} {n}", cause.label()))
        .collect();
    Some(Violation {
        source: "check".into(),
        name: "lost-writes".into(),
        event: None,
        time_ns: Some(first.acknowledged_ns),
        nodes: Vec::new(),
        explanation: format!(
            "{} of {} acknowledged writes vanished with no write that could follow them to explain it; first: {} wrote {} = {}, acknowledged at {}, {}; causes: {}",
            section.lost.len(),
            section.acknowledged,
            first.op,
            first.key,
            first.value,
            format_nanos(first.acknowledged_ns as i128),
            if first.kind == "never-held" {
                "but no replica held it at the next sample".to_string()
            } else {
                format!(
                    "but at the end the replicas hold {}",
                    if first.survivors.is_empty() { "nothing".to_string() } else { first.survivors.join(", ") }
                )
            },
            causes.join(", ")
        ),
        witness: section.lost.iter().take(10).map(|l| l.op.clone()).collect(),
    })
}

fn network_section(result: &RunResult) -> NetworkSection {
    NetworkSection {
        sent: result.net.sent,
        delivered: result.net.delivered,
        duplicated: result.net.duplicated,
        dropped: DropReason::ALL
            .iter()
            .filter_map(|reason| {
                let count = result.net.dropped.get(reason).copied().unwrap_or(0);
                (count > 0).then(|| (reason.name().to_string(), count))
            })
            .collect(),
    }
}

fn fault_lines(result: &RunResult) -> Vec<FaultLine> {
    result
        .faults
        .iter()
        .map(|f| FaultLine {
            at_ns: f.at.0,
            description: f.description.clone(),
            origin: match f.origin {
                sim_core::fault::FaultOrigin::Pinned { .. } => "pinned".into(),
                sim_core::fault::FaultOrigin::Nemesis { .. } => "nemesis".into(),
                sim_core::fault::FaultOrigin::Settle => "settle".into(),
            },
            effective: f.effective,
            event: Some(f.event),
            node: f.action.node().map(|n| n.to_string()),
        })
        .collect()
}

/// The earliest violation with a meaningful time; else the first divergence.
fn focus(
    result: &RunResult,
    violations: &[Violation],
    lost: Option<&LostWritesVerdict>,
    diagnostics: &Diagnostics,
) -> Option<Focus> {
    let mut candidates: Vec<Focus> = Vec::new();
    for violation in violations {
        let (at_ns, reason) = match violation.name.as_str() {
            "lost-writes" => {
                let Some(first) = lost.and_then(|l| l.lost.first()) else {
                    continue;
                };
                let op = &result.history.ops[first.op.0 as usize];
                (
                    op.invoke.0,
                    format!(
                        "the first lost write, {} ({} = {})",
                        first.op, first.key, first.value
                    ),
                )
            }
            "convergence" => {
                let open = result.key_divergences.iter().find(|d| d.end.is_none());
                let Some(open) = open else { continue };
                (
                    open.start.0,
                    format!("{} diverged from here to the end of the run", open.key),
                )
            }
            name => {
                let Some(at) = violation.time_ns else {
                    continue;
                };
                (at, format!("{} violated", name))
            }
        };
        candidates.push(Focus {
            at_ns,
            reason,
            event: violation.event,
        });
    }
    if let Some(first) = candidates.into_iter().min_by_key(|f| f.at_ns) {
        return Some(first);
    }
    diagnostics.first_divergence.as_ref().map(|d| Focus {
        at_ns: d.detected_ns,
        reason: format!("the first divergence ({}, {})", d.key, d.cause.label()),
        event: None,
    })
}

fn flags(lost: Option<&LostWritesVerdict>, stale: Option<&[StaleRead]>) -> BTreeMap<u64, String> {
    let mut flags = BTreeMap::new();
    for l in lost.iter().flat_map(|v| v.lost.iter()) {
        flags.insert(l.op.0, "lost-write".to_string());
    }
    for s in stale.into_iter().flatten() {
        flags.insert(s.op.0, "stale-read".to_string());
        flags
            .entry(s.missed.0)
            .or_insert_with(|| "witness".to_string());
    }
    flags
}

fn stale_reads_section(
    result: &RunResult,
    stale: &[StaleRead],
    causes: &[Cause],
) -> StaleReadsSection {
    let reads_ok = result
        .history
        .ops
        .iter()
        .filter(|op| {
            op.kind == sim_core::history::OpKind::Get
                && op.outcome == sim_core::history::Outcome::Ok
        })
        .count() as u64;
    let ops = &result.history.ops;
    let line = |(i, s): (usize, &StaleRead)| -> Option<StaleReadLine> {
        let read = ops.get(s.op.0 as usize)?;
        let missed = ops.get(s.missed.0 as usize)?;
        Some(StaleReadLine {
            op: read.id.to_string(),
            key: read.key.to_string(),
            node: read.node.to_string(),
            invoke_ns: read.invoke.0,
            read: read.read.iter().flatten().map(|v| v.to_string()).collect(),
            missed_op: missed.id.to_string(),
            missed_value: missed.write.map(|v| v.to_string()),
            cause: causes.get(i).copied(),
        })
    };
    let stale: Vec<StaleReadLine> = stale.iter().enumerate().filter_map(line).collect();
    StaleReadsSection {
        reads_ok,
        rate: if reads_ok == 0 {
            0.0
        } else {
            stale.len() as f64 / reads_ok as f64
        },
        stale,
    }
}

fn convergence_section(result: &RunResult, verdict: &ConvergenceVerdict) -> ConvergenceSection {
    let settle = result.settle.as_ref();
    let converged_at = settle.and_then(|s| s.converged_at);
    ConvergenceSection {
        converged: verdict.converged(),
        settle_started_ns: settle.map(|s| s.started.0),
        converged_at_ns: converged_at.map(|t| t.0),
        time_to_converge_ns: settle.and_then(|s| s.converged_at.map(|t| (t - s.started).0)),
        divergent_keys: verdict.divergent.iter().map(divergent_line).collect(),
        down: verdict.down.iter().map(|n| n.to_string()).collect(),
        peak_keys_diverged: result
            .divergence
            .iter()
            .map(|s| s.keys_diverged)
            .max()
            .unwrap_or(0),
    }
}

fn divergent_line(key: &DivergentKey) -> DivergentKeyLine {
    DivergentKeyLine {
        key: key.key.to_string(),
        replicas: key
            .replicas
            .iter()
            .map(|(node, values)| {
                (
                    node.to_string(),
                    values.iter().map(|v| v.to_string()).collect(),
                )
            })
            .collect(),
    }
}

fn non_convergence(result: &RunResult, section: &ConvergenceSection) -> Violation {
    let deadline = result
        .settle
        .as_ref()
        .map_or("the end of the run".to_string(), |s| {
            format!("{}", s.deadline)
        });
    let example = section.divergent_keys.first().map_or(String::new(), |key| {
        let holdings: Vec<String> = key
            .replicas
            .iter()
            .map(|(node, values)| {
                let held = if values.is_empty() {
                    "nothing".to_string()
                } else {
                    values.join(", ")
                };
                format!("{node} holds {held}")
            })
            .collect();
        format!("; {}: {}", key.key, holdings.join(", "))
    });
    Violation {
        source: "check".into(),
        name: "convergence".into(),
        event: None,
        time_ns: Some(result.end_time.0),
        nodes: Vec::new(),
        explanation: format!(
            "replicas still disagree on {} key(s) at {deadline}, when settle gave up{example}",
            section.divergent_keys.len()
        ),
        witness: Vec::new(),
    }
}

fn lost_writes_section(verdict: &LostWritesVerdict, causes: &[Cause]) -> LostWritesSection {
    LostWritesSection {
        acknowledged: verdict.acknowledged,
        lost: verdict
            .lost
            .iter()
            .zip(causes.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(lost, cause)| LostWriteLine {
                cause: cause.copied(),
                ..lost_line(lost)
            })
            .collect(),
    }
}

fn lost_line(lost: &LostWrite) -> LostWriteLine {
    LostWriteLine {
        op: lost.op.to_string(),
        key: lost.key.to_string(),
        value: lost.value.to_string(),
        acknowledged_ns: lost.acknowledged_at.0,
        survivors: lost.survivors.iter().map(|v| v.to_string()).collect(),
        kind: match lost.kind {
            checkers::lost_writes::LossKind::NeverHeld => "never-held".into(),
            checkers::lost_writes::LossKind::GoneAtEnd => "gone-at-end".into(),
        },
        cause: None,
    }
}
