//! The report of one run: a serde model with a schema version, built from a run's result and
//! its checks, and rendered for people (terminal) and machines (JSON).

pub mod terminal;

use checkers::convergence::{ConvergenceVerdict, DivergentKey};
use checkers::lost_writes::{LostWrite, LostWritesVerdict};
use serde::{Deserialize, Serialize};
use sim_core::engine::RunResult;
use sim_core::history::OutcomeCounts;
use sim_core::network::DropReason;
use sim_core::time::format_nanos;

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

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
}

/// Everything known about one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// The checks that ran on the history (None: not asked for).
pub struct CheckResults {
    /// Convergence, when asked for.
    pub convergence: Option<ConvergenceVerdict>,
    /// Lost writes, when asked for.
    pub lost_writes: Option<LostWritesVerdict>,
}

impl Report {
    /// Assembles the report of a finished run.
    pub fn build(identity: RunIdentity, result: &RunResult, checks: &CheckResults) -> Report {
        let mut violations: Vec<Violation> = result
            .violations
            .iter()
            .map(|v| Violation {
                source: "invariant".into(),
                name: v.invariant.clone(),
                event: Some(v.event),
                time_ns: Some(v.time.0),
                nodes: v.nodes.iter().map(|n| n.to_string()).collect(),
                explanation: v.explanation.clone(),
            })
            .collect();
        let convergence = checks
            .convergence
            .as_ref()
            .map(|verdict| convergence_section(result, verdict));
        if let Some(section) = &convergence {
            if !section.converged {
                violations.push(non_convergence(result, section));
            }
        }
        let lost_writes = checks.lost_writes.as_ref().map(lost_writes_section);
        if let Some(section) = &lost_writes {
            if let Some(first) = section.lost.first() {
                violations.push(Violation {
                    source: "check".into(),
                    name: "lost-writes".into(),
                    event: None,
                    time_ns: Some(first.acknowledged_ns),
                    nodes: Vec::new(),
                    explanation: format!(
                        "{} of {} acknowledged writes vanished with no write that could follow them to explain it; first: {} wrote {} = {}, acknowledged at {}, {}",
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
                        }
                    ),
                });
            }
        }
        let verdict = if !violations.is_empty() {
            Verdict::Fail
        } else if result.limit_reached.is_some() {
            Verdict::Unknown
        } else {
            Verdict::Pass
        };
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
            network: NetworkSection {
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
            },
            faults: result
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
                })
                .collect(),
            reproduce: identity.reproduce,
        }
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
    }
}

fn lost_writes_section(verdict: &LostWritesVerdict) -> LostWritesSection {
    LostWritesSection {
        acknowledged: verdict.acknowledged,
        lost: verdict.lost.iter().map(lost_line).collect(),
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
    }
}
