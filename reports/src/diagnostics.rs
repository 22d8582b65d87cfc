//! Divergence diagnostics: mismatch counts over time, peak divergence, time to convergence
//! after each heal, the causes of every divergence, lost write and stale read, and the first
//! divergence with the chain of events behind it.

use crate::taxonomy::{
    self, Attribution, Cause, CauseTotal, Evidence, Finding, StaleRead, Subject,
};
use crate::timeline::{Span, SpanKind};
use checkers::lost_writes::LostWritesVerdict;
use serde::{Deserialize, Serialize};
use sim_core::engine::{KeyDivergence, RunResult};
use sim_core::fault::FaultAction;
use sim_core::ids::NodeId;
use sim_core::time::format_nanos;
use std::collections::BTreeSet;

/// The most divergence samples a report keeps; longer runs keep the largest count of each
/// stretch of consecutive samples, so peaks survive.
pub const SAMPLES_MAX: usize = 2_000;
/// The most attributions a report lists per subject (the totals count every one).
pub const ATTRIBUTIONS_MAX: usize = 60;

/// How time to convergence after one heal turned out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealOutcome {
    /// A later sample found every replica in agreement.
    Converged,
    /// Another fault began before the replicas agreed.
    Interrupted,
    /// The replicas never agreed again before the run ended.
    Never,
}

/// One heal (a cut healed, a node restarted, a pause over, settle's heal-all) and how long the
/// replicas took to agree after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealLine {
    /// When, in ns.
    pub at_ns: u64,
    /// What healed.
    pub description: String,
    /// Time from the heal to the first sample with no key diverged, in ns (None unless
    /// converged).
    pub converged_after_ns: Option<u64>,
    /// Converged, interrupted by another fault, or never.
    pub outcome: HealOutcome,
}

/// A per-node view of one diverging key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaDiff {
    /// The node.
    pub node: String,
    /// The values it held (empty: nothing).
    pub values: Vec<String>,
    /// The write behind each value, in words.
    pub writes: Vec<String>,
    /// Whether it lacked the newest value the others held.
    pub behind: bool,
}

/// One link in the chain of events behind a divergence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStep {
    /// When, in ns.
    pub at_ns: u64,
    /// The trace event, when known.
    pub event: Option<u64>,
    /// What happened.
    pub what: String,
}

/// The first divergence worth reading about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstDivergence {
    /// The key.
    pub key: String,
    /// The sample before, at which the replicas still agreed (ns).
    pub agreed_ns: Option<u64>,
    /// The first sample at which they disagreed (ns).
    pub detected_ns: u64,
    /// The first sample at which they agreed again (ns).
    pub resolved_ns: Option<u64>,
    /// The newest write among the values held: the one that had not reached everyone.
    pub op: Option<String>,
    /// Its cause.
    pub cause: Cause,
    /// The nodes the cause implicates.
    pub nodes: Vec<String>,
    /// Why this one was chosen.
    pub chosen_because: String,
    /// The trace event at which it began: the request that brought the newest value (filled
    /// when the trace was replayed for the report).
    pub event: Option<u64>,
    /// What each replica held.
    pub replicas: Vec<ReplicaDiff>,
    /// The writes, faults, clock readings and messages that led there, in time order.
    pub chain: Vec<ChainStep>,
    /// The cause, in words.
    pub evidence: String,
}

/// Everything the report says about divergence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// (true time in ns, keys on which live replicas differed), at most [`SAMPLES_MAX`].
    pub samples: Vec<(u64, u32)>,
    /// How many samples the run took.
    pub samples_total: u64,
    /// Most keys diverged at one sample.
    pub peak_keys_diverged: u32,
    /// When that peak was first reached, in ns.
    pub peak_at_ns: Option<u64>,
    /// Every heal and how long convergence took after it.
    pub heals: Vec<HealLine>,
    /// When the last heal happened, in ns.
    pub last_heal_ns: Option<u64>,
    /// Time from the last heal to convergence, in ns (None: never converged after it).
    pub convergence_after_last_heal_ns: Option<u64>,
    /// Per cause, how much it accounts for (causes with nothing attributed are left out).
    pub causes: Vec<CauseTotal>,
    /// Individual findings: every lost write and stale read and the longest divergences, up to
    /// [`ATTRIBUTIONS_MAX`] of each.
    pub attributions: Vec<Attribution>,
    /// Findings counted in `causes` but not listed.
    pub attributions_omitted: u64,
    /// Stretches of per-key divergence in the run.
    pub divergences_total: u64,
    /// Stretches the engine only counted (past its bound): not attributed.
    pub divergences_unattributed: u64,
    /// The first divergence worth reading about.
    pub first_divergence: Option<FirstDivergence>,
}

impl Diagnostics {
    /// The cause with the most attributed divergence time, if any divergence was attributed.
    pub fn dominant_divergence_cause(&self) -> Option<Cause> {
        self.causes
            .iter()
            .filter(|c| c.diverged_ns > 0)
            .max_by_key(|c| c.diverged_ns)
            .map(|c| c.cause)
    }

    /// The total for `cause`, if anything was attributed to it.
    pub fn cause(&self, cause: Cause) -> Option<&CauseTotal> {
        self.causes.iter().find(|c| c.cause == cause)
    }
}

/// Builds the diagnostics of a run.
pub(crate) fn diagnose(
    result: &RunResult,
    spans: &[Span],
    evidence: &Evidence<'_>,
    lost: Option<&LostWritesVerdict>,
    stale: Option<&[StaleRead]>,
) -> (Diagnostics, Vec<Cause>, Vec<Cause>) {
    let divergences: Vec<Finding> = result
        .key_divergences
        .iter()
        .map(|d| taxonomy::divergence(evidence, d))
        .collect();
    let losses: Vec<Finding> = lost
        .map(|v| {
            v.lost
                .iter()
                .map(|l| taxonomy::lost_write(evidence, l))
                .collect()
        })
        .unwrap_or_default();
    let stales: Vec<Finding> = stale
        .map(|s| {
            s.iter()
                .filter_map(|r| taxonomy::stale_read(evidence, r))
                .collect()
        })
        .unwrap_or_default();
    let run_end = result.end_time.0;
    let (peak, peak_at) = peak(result);
    let heals = heals(result, spans);
    let last = heals.last();
    let (attributions, omitted) = attributions(&divergences, &losses, &stales, run_end);
    let diagnostics = Diagnostics {
        samples: downsample(result),
        samples_total: result.divergence.len() as u64,
        peak_keys_diverged: peak,
        peak_at_ns: peak_at,
        last_heal_ns: last.map(|h| h.at_ns),
        convergence_after_last_heal_ns: last.and_then(|h| h.converged_after_ns),
        heals,
        causes: totals(&divergences, &losses, &stales),
        attributions,
        attributions_omitted: omitted,
        divergences_total: result.key_divergences.len() as u64 + result.key_divergences_dropped,
        divergences_unattributed: result.key_divergences_dropped,
        first_divergence: first_divergence(result, evidence, &divergences),
    };
    let causes = |findings: &[Finding]| findings.iter().map(|f| f.cause).collect();
    (diagnostics, causes(&losses), causes(&stales))
}

fn peak(result: &RunResult) -> (u32, Option<u64>) {
    let mut best = (0, None);
    for sample in &result.divergence {
        if sample.keys_diverged > best.0 {
            best = (sample.keys_diverged, Some(sample.time.0));
        }
    }
    best
}

/// At most [`SAMPLES_MAX`] samples: each stretch of consecutive samples keeps its largest.
fn downsample(result: &RunResult) -> Vec<(u64, u32)> {
    let all: Vec<(u64, u32)> = result
        .divergence
        .iter()
        .map(|s| (s.time.0, s.keys_diverged))
        .collect();
    if all.len() <= SAMPLES_MAX {
        return all;
    }
    let chunk = all.len().div_ceil(SAMPLES_MAX);
    all.chunks(chunk)
        .map(|c| {
            *c.iter()
                .max_by_key(|(t, k)| (*k, std::cmp::Reverse(*t)))
                .expect("non-empty")
        })
        .collect()
}

/// Heals in time order: healed cuts, restarts, pauses that ran out, and settle's start.
fn heals(result: &RunResult, spans: &[Span]) -> Vec<HealLine> {
    let mut heals: Vec<(u64, String)> = Vec::new();
    for fault in result.faults.iter().filter(|f| f.effective) {
        let healing = matches!(
            fault.action,
            FaultAction::Heal { .. } | FaultAction::HealAll | FaultAction::Restart(_)
        );
        if healing {
            heals.push((fault.at.0, fault.description.clone()));
        }
    }
    for span in spans
        .iter()
        .filter(|s| s.kind == SpanKind::Paused && !s.open)
    {
        heals.push((span.end, format!("pause of {} over", span.nodes[0])));
    }
    if let Some(settle) = &result.settle {
        heals.push((settle.started.0, "settle began: every fault healed".into()));
    }
    heals.sort();
    heals.dedup_by_key(|(t, _)| *t);
    // A fault that begins later interrupts the wait for convergence.
    let starts: Vec<u64> = spans.iter().map(|s| s.start).collect();
    heals
        .into_iter()
        .map(|(at, description)| heal_line(result, &starts, at, description))
        .collect()
}

fn heal_line(result: &RunResult, starts: &[u64], at: u64, description: String) -> HealLine {
    let converged = result
        .divergence
        .iter()
        .find(|s| s.time.0 >= at && s.keys_diverged == 0)
        .map(|s| s.time.0);
    let next_fault = starts.iter().copied().filter(|s| *s > at).min();
    let (converged_after_ns, outcome) = match (converged, next_fault) {
        (Some(t), Some(f)) if f < t => (None, HealOutcome::Interrupted),
        (Some(t), _) => (Some(t - at), HealOutcome::Converged),
        (None, Some(_)) => (None, HealOutcome::Interrupted),
        (None, None) => (None, HealOutcome::Never),
    };
    HealLine {
        at_ns: at,
        description,
        converged_after_ns,
        outcome,
    }
}

fn totals(divergences: &[Finding], losses: &[Finding], stales: &[Finding]) -> Vec<CauseTotal> {
    Cause::ALL
        .iter()
        .filter_map(|cause| {
            let (d, l, s) = (
                of_cause(divergences, *cause),
                of_cause(losses, *cause),
                of_cause(stales, *cause),
            );
            let shares: Vec<&taxonomy::Portion> = divergences
                .iter()
                .flat_map(|f| f.portions.iter())
                .filter(|p| p.cause == *cause)
                .collect();
            let diverged_ns = shares.iter().map(|p| p.length).sum();
            if d.is_empty() && l.is_empty() && s.is_empty() && diverged_ns == 0 {
                return None;
            }
            // A divergence that this cause only prolonged implicates its nodes too.
            let nodes: BTreeSet<NodeId> = d
                .iter()
                .chain(&l)
                .chain(&s)
                .flat_map(|f| f.nodes.iter().copied())
                .chain(shares.iter().flat_map(|p| p.nodes.iter().copied()))
                .collect();
            Some(CauseTotal {
                cause: *cause,
                divergences: d.len() as u64,
                diverged_ns,
                lost_writes: l.len() as u64,
                stale_reads: s.len() as u64,
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
                explanation: cause.explanation().to_string(),
            })
        })
        .collect()
}

fn of_cause(findings: &[Finding], cause: Cause) -> Vec<&Finding> {
    findings.iter().filter(|f| f.cause == cause).collect()
}

/// Lost writes and stale reads first by time, then the longest divergences; each list bounded.
fn attributions(
    divergences: &[Finding],
    losses: &[Finding],
    stales: &[Finding],
    run_end: u64,
) -> (Vec<Attribution>, u64) {
    let mut longest: Vec<&Finding> = divergences.iter().collect();
    longest.sort_by_key(|f| (std::cmp::Reverse(f.length(run_end)), f.start));
    longest.truncate(ATTRIBUTIONS_MAX);
    longest.sort_by_key(|f| (f.start, f.key));
    let mut listed: Vec<Attribution> = Vec::new();
    listed.extend(
        losses
            .iter()
            .take(ATTRIBUTIONS_MAX)
            .map(Finding::attribution),
    );
    listed.extend(
        stales
            .iter()
            .take(ATTRIBUTIONS_MAX)
            .map(Finding::attribution),
    );
    listed.extend(longest.iter().map(|f| f.attribution()));
    let omitted = (divergences.len() + losses.len() + stales.len() - listed.len()) as u64;
    (listed, omitted)
}

/// The earliest divergence with a cause other than replication lag, else the earliest.
fn first_divergence(
    result: &RunResult,
    evidence: &Evidence<'_>,
    findings: &[Finding],
) -> Option<FirstDivergence> {
    let earliest = findings.first()?;
    let (index, chosen_because) = match findings
        .iter()
        .position(|f| f.cause != Cause::ReplicationLag)
    {
        Some(0) => (0, "the first divergence of the run".to_string()),
        Some(i) => (
            i,
            format!(
                "the first divergence with a cause other than replication lag; {i} earlier one(s) were ordinary replication lag (the first on {} at {})",
                earliest.key,
                format_nanos(earliest.start as i128)
            ),
        ),
        None => (
            0,
            "the first divergence of the run; every divergence was ordinary replication lag"
                .to_string(),
        ),
    };
    let finding = &findings[index];
    let divergence = &result.key_divergences[index];
    Some(FirstDivergence {
        key: finding.key.to_string(),
        agreed_ns: evidence.sample_before(finding.start),
        detected_ns: finding.start,
        resolved_ns: finding.end,
        op: finding.op.map(|op| op.to_string()),
        cause: finding.cause,
        nodes: taxonomy::names(&finding.nodes),
        chosen_because,
        event: None,
        replicas: replica_diffs(evidence, divergence),
        chain: chain(result, evidence, divergence, finding),
        evidence: finding.evidence.clone(),
    })
}

fn replica_diffs(evidence: &Evidence<'_>, divergence: &KeyDivergence) -> Vec<ReplicaDiff> {
    let newest = divergence
        .holdings
        .iter()
        .flat_map(|(_, values)| values.iter())
        .filter_map(|v| evidence.writer_of(*v))
        .max_by_key(|op| (op.invoke, op.id))
        .and_then(|op| op.write);
    divergence
        .holdings
        .iter()
        .map(|(node, values)| ReplicaDiff {
            node: node.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
            writes: values
                .iter()
                .map(|v| match evidence.writer_of(*v) {
                    Some(op) => format!(
                        "{v}: {} by {} via {} at {}",
                        op.id,
                        op.client,
                        op.node,
                        format_nanos(op.invoke.0 as i128)
                    ),
                    None => format!("{v}: written outside the history"),
                })
                .collect(),
            behind: newest.is_some_and(|v| !values.contains(&v)),
        })
        .collect()
}

/// The writes behind the held values, the clock readings of their nodes, the faults on the
/// nodes involved, and the sample that saw the disagreement.
fn chain(
    result: &RunResult,
    evidence: &Evidence<'_>,
    divergence: &KeyDivergence,
    finding: &Finding,
) -> Vec<ChainStep> {
    let mut steps: Vec<ChainStep> = Vec::new();
    let mut involved: Vec<NodeId> = divergence.holdings.iter().map(|(n, _)| *n).collect();
    let mut from = evidence.sample_before(finding.start).unwrap_or(0);
    for value in divergence.holdings.iter().flat_map(|(_, v)| v.iter()) {
        let Some(op) = evidence.writer_of(*value) else {
            continue;
        };
        if steps
            .iter()
            .any(|s| s.what.starts_with(&format!("{} ", op.id)))
        {
            continue;
        }
        from = from.min(op.invoke.0);
        involved.push(op.node);
        let offset = evidence.offset(op.node, op.invoke.0);
        steps.push(ChainStep {
            at_ns: op.invoke.0,
            event: None,
            what: format!(
                "{} {} put {} = {} via {} (its clock read {}, offset {}){}",
                op.id,
                op.client,
                op.key,
                value,
                op.node,
                format_nanos(op.invoke.0 as i128 + offset as i128),
                if offset >= 0 {
                    format!("+{}", format_nanos(offset as i128))
                } else {
                    format!("-{}", format_nanos(-(offset as i128)))
                },
                op.complete
                    .map_or(", never acknowledged".to_string(), |t| format!(
                        ", acknowledged at {}",
                        format_nanos(t.0 as i128)
                    ))
            ),
        });
    }
    involved.sort();
    involved.dedup();
    let horizon = from.saturating_sub(1_000_000_000);
    for fault in &result.faults {
        let touches = match fault.action.node() {
            Some(node) => involved.contains(&node),
            None => true,
        };
        if touches && fault.effective && fault.at.0 >= horizon && fault.at.0 <= finding.start {
            steps.push(ChainStep {
                at_ns: fault.at.0,
                event: Some(fault.event),
                what: format!("fault: {}", fault.description),
            });
        }
    }
    steps.push(ChainStep {
        at_ns: finding.start,
        event: None,
        what: format!("sample: {}", finding.evidence),
    });
    steps.sort_by_key(|s| s.at_ns);
    steps
}

/// Whether a finding is a divergence (for callers filtering attributions).
pub fn is_divergence(attribution: &Attribution) -> bool {
    attribution.subject == Subject::Divergence
}
