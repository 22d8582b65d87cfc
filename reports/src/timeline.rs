//! The fault timeline of a run: when each node was cut off, paused or crashed, and where each
//! node's wall clock stood against true time. The taxonomy reads the spans to decide causes;
//! the charts shade them and draw the clock offsets.

use serde::{Deserialize, Serialize};
use sim_core::engine::RunResult;
use sim_core::fault::{CutKind, FaultAction};
use sim_core::ids::NodeId;
use sim_core::time::SimTime;
use std::collections::BTreeMap;

/// How many evenly spaced points each node's clock-offset series has (plus two around every
/// step or slew), so the chart shows drift, steps and slews without growing with the run.
pub const CLOCK_POINTS: u64 = 240;

/// What kind of fault a span is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpanKind {
    /// Links blocked both ways (a partition, an isolated node, a bridge).
    Partition,
    /// Links blocked one way only (a one-way cut, a link down, a flapping link).
    OneWay,
    /// A stop-the-world pause.
    Paused,
    /// Crashed, until restarted.
    Crashed,
}

impl SpanKind {
    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            SpanKind::Partition => "partition",
            SpanKind::OneWay => "one-way cut",
            SpanKind::Paused => "paused",
            SpanKind::Crashed => "crashed",
        }
    }
}

/// One fault from the moment it took effect to the moment it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpan {
    /// Partition, one-way cut, pause or crash.
    pub kind: SpanKind,
    /// When it began, in ns.
    pub start_ns: u64,
    /// When it ended, in ns (None: it lasted to the end of the run).
    pub end_ns: Option<u64>,
    /// The nodes it touched: for a cut, every node at either end of a blocked link.
    pub nodes: Vec<String>,
    /// For a cut, the blocked directed links (from, to).
    pub links: Vec<(String, String)>,
    /// The fault as applied, in words.
    pub description: String,
}

/// One node's wall-clock offset from true time over the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSeries {
    /// The node.
    pub node: String,
    /// (true time in ns, wall clock minus true time in ns), in time order.
    pub points: Vec<(u64, i64)>,
    /// Steps and slews applied: (true time in ns, amount in ns).
    pub steps: Vec<(u64, i64)>,
}

/// The fault spans and clock offsets of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// When the settle phase began (faults healed, clients stopped), in ns.
    pub settle_started_ns: Option<u64>,
    /// Every cut, pause and crash, in order of start.
    pub spans: Vec<FaultSpan>,
    /// One series per node.
    pub clocks: Vec<ClockSeries>,
}

/// A span with node ids, for the taxonomy's questions ("was n1 cut from n3 then?").
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub kind: SpanKind,
    pub start: u64,
    /// The end, or the end of the run.
    pub end: u64,
    pub open: bool,
    pub nodes: Vec<NodeId>,
    pub links: Vec<(NodeId, NodeId)>,
    pub description: String,
}

impl Span {
    /// Whether the span was in force at some instant of [from, to].
    pub fn overlaps(&self, from: u64, to: u64) -> bool {
        self.start <= to && self.end >= from
    }

    /// Whether it blocked messages from `from` to `to`.
    pub fn blocks(&self, from: NodeId, to: NodeId) -> bool {
        self.links.contains(&(from, to))
    }

    pub fn touches(&self, node: NodeId) -> bool {
        self.nodes.contains(&node)
    }
}

fn cut_span_kind(kind: CutKind) -> SpanKind {
    match kind {
        CutKind::Partition | CutKind::Isolate | CutKind::Bridge => SpanKind::Partition,
        CutKind::OneWay | CutKind::Link | CutKind::Flap => SpanKind::OneWay,
    }
}

/// Replays the applied faults into spans. Pauses end at their deadline, at a crash, or when
/// settle resumes every node; cuts end at their heal; crashes at their restart.
pub(crate) fn spans(result: &RunResult) -> Vec<Span> {
    let end = result.end_time.0;
    let settle = result.settle.as_ref().map(|s| s.started.0);
    let mut spans: Vec<Span> = Vec::new();
    let mut cuts: BTreeMap<u64, usize> = BTreeMap::new();
    let mut crashed: BTreeMap<NodeId, usize> = BTreeMap::new();
    let mut paused: BTreeMap<NodeId, usize> = BTreeMap::new();
    for fault in &result.faults {
        let at = fault.at.0;
        // A pause runs out by itself: forget the ones that ended before this fault.
        paused.retain(|_, index| spans[*index].end > at);
        match &fault.action {
            FaultAction::Cut { id, kind, cut } => {
                let mut nodes: Vec<NodeId> = cut.links.iter().flat_map(|(a, b)| [*a, *b]).collect();
                nodes.sort();
                nodes.dedup();
                cuts.insert(*id, spans.len());
                spans.push(Span {
                    kind: cut_span_kind(*kind),
                    start: at,
                    end,
                    open: true,
                    nodes,
                    links: cut.links.clone(),
                    description: fault.description.clone(),
                });
            }
            FaultAction::Heal { id } => {
                if let Some(index) = cuts.remove(id) {
                    close(&mut spans[index], at);
                }
            }
            FaultAction::HealAll => {
                for (_, index) in std::mem::take(&mut cuts) {
                    close(&mut spans[index], at);
                }
            }
            FaultAction::Crash(node) if fault.effective => {
                if let Some(index) = paused.remove(node) {
                    close(&mut spans[index], at);
                }
                crashed.insert(*node, spans.len());
                spans.push(node_span(SpanKind::Crashed, *node, at, end, true, fault));
            }
            FaultAction::Restart(node) if fault.effective => {
                if let Some(index) = crashed.remove(node) {
                    close(&mut spans[index], at);
                }
            }
            FaultAction::Pause { node, duration } if fault.effective => {
                let until = at.saturating_add(duration.0).min(end);
                match paused.get(node) {
                    // A second pause of a paused node extends it to the later end.
                    Some(index) => spans[*index].end = spans[*index].end.max(until),
                    None => {
                        paused.insert(*node, spans.len());
                        spans.push(node_span(SpanKind::Paused, *node, at, until, false, fault));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(settle) = settle {
        for span in spans.iter_mut().filter(|s| s.kind == SpanKind::Paused) {
            if span.start <= settle && span.end > settle {
                span.end = settle;
            }
        }
    }
    spans.sort_by_key(|s| s.start);
    spans
}

fn close(span: &mut Span, at: u64) {
    span.end = at;
    span.open = false;
}

fn node_span(
    kind: SpanKind,
    node: NodeId,
    start: u64,
    end: u64,
    open: bool,
    fault: &sim_core::engine::AppliedFault,
) -> Span {
    Span {
        kind,
        start,
        end,
        open,
        nodes: vec![node],
        links: Vec::new(),
        description: fault.description.clone(),
    }
}

/// Builds the report's timeline from the run and its spans.
pub(crate) fn timeline(result: &RunResult, spans: &[Span]) -> Timeline {
    Timeline {
        settle_started_ns: result.settle.as_ref().map(|s| s.started.0),
        spans: spans
            .iter()
            .map(|span| FaultSpan {
                kind: span.kind,
                start_ns: span.start,
                end_ns: (!span.open).then_some(span.end),
                nodes: span.nodes.iter().map(|n| n.to_string()).collect(),
                links: span
                    .links
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                description: span.description.clone(),
            })
            .collect(),
        clocks: clock_series(result),
    }
}

/// Each node's clock offset, evenly sampled and on both sides of every step and slew.
fn clock_series(result: &RunResult) -> Vec<ClockSeries> {
    let end = result.end_time.0.max(1);
    result
        .clocks
        .iter()
        .enumerate()
        .map(|(index, clock)| {
            let node = NodeId(index as u32);
            let steps: Vec<(u64, i64)> = result
                .faults
                .iter()
                .filter_map(|fault| match &fault.action {
                    FaultAction::ClockStep { node: n, by } if *n == node => {
                        Some((fault.at.0, by.0))
                    }
                    FaultAction::ClockSlew { node: n, by, .. } if *n == node => {
                        Some((fault.at.0, by.0))
                    }
                    _ => None,
                })
                .collect();
            let mut times: Vec<u64> = (0..=CLOCK_POINTS).map(|i| end / CLOCK_POINTS * i).collect();
            times.push(end);
            for (at, _) in &steps {
                times.push(at.saturating_sub(1));
                times.push(*at);
            }
            times.sort_unstable();
            times.dedup();
            ClockSeries {
                node: node.to_string(),
                points: times
                    .into_iter()
                    .map(|t| (t, clock.wall_offset(SimTime(t))))
                    .collect(),
                steps,
            }
        })
        .collect()
}

/// The widest disagreement between any two clocks at any sampled instant, in ns: a write can
/// lose to an earlier one only if the earlier one's clock was ahead by more than the gap.
pub(crate) fn clock_spread_ns(timeline: &Timeline) -> i64 {
    let offsets = timeline
        .clocks
        .iter()
        .flat_map(|series| series.points.iter().map(|(_, offset)| *offset));
    let (low, high) = offsets.fold((i64::MAX, i64::MIN), |(lo, hi), o| (lo.min(o), hi.max(o)));
    if low > high {
        0
    } else {
        high.saturating_sub(low)
    }
}
