//! Operation latency: percentiles by kind and outcome, and a log-scale histogram for the
//! latency chart. Operations whose outcome the client never learned have no latency; they are
//! counted apart.

use serde::{Deserialize, Serialize};
use sim_core::history::{History, OpKind, Outcome};
use std::collections::BTreeMap;

/// Histogram buckets per factor of ten of latency.
pub const BUCKETS_PER_DECADE: u32 = 5;

/// Latency percentiles of one (kind, outcome) group, nearest-rank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyGroup {
    /// get, put or cas.
    pub kind: String,
    /// ok or fail.
    pub outcome: String,
    /// Operations in the group.
    pub count: u64,
    /// Median, in ns.
    pub p50_ns: u64,
    /// 90th percentile, in ns.
    pub p90_ns: u64,
    /// 99th percentile, in ns.
    pub p99_ns: u64,
    /// Slowest, in ns.
    pub max_ns: u64,
    /// Mean, in ns.
    pub mean_ns: u64,
}

/// One histogram series: a (kind, outcome) group's counts per bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramSeries {
    /// "get ok", "put fail", ...
    pub label: String,
    /// Count per bucket.
    pub counts: Vec<u64>,
}

/// Latency statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySection {
    /// One group per (kind, outcome) that occurred.
    pub groups: Vec<LatencyGroup>,
    /// Operations with no known outcome, by kind.
    pub unknown: Vec<(String, u64)>,
    /// Bucket edges in ns, increasing: bucket i holds latencies in [edges[i], edges[i+1]).
    pub edges_ns: Vec<u64>,
    /// One series per group, in the order of `groups`.
    pub histogram: Vec<HistogramSeries>,
}

/// Latencies grouped, then summarized.
pub(crate) fn latency(history: &History) -> LatencySection {
    let mut groups: BTreeMap<(OpKind, Outcome), Vec<u64>> = BTreeMap::new();
    let mut unknown: BTreeMap<OpKind, u64> = BTreeMap::new();
    for op in &history.ops {
        match op.complete {
            Some(done) if op.outcome != Outcome::Unknown => groups
                .entry((op.kind, op.outcome))
                .or_default()
                .push(done.0.saturating_sub(op.invoke.0)),
            _ => *unknown.entry(op.kind).or_default() += 1,
        }
    }
    for latencies in groups.values_mut() {
        latencies.sort_unstable();
    }
    let edges = edges(groups.values().flatten().copied());
    LatencySection {
        groups: groups
            .iter()
            .map(|((kind, outcome), l)| summarize(*kind, *outcome, l))
            .collect(),
        unknown: unknown
            .iter()
            .map(|(kind, n)| (kind.name().to_string(), *n))
            .collect(),
        histogram: groups
            .iter()
            .map(|((kind, outcome), l)| HistogramSeries {
                label: format!("{} {}", kind.name(), outcome.name()),
                counts: counts(&edges, l),
            })
            .collect(),
        edges_ns: edges,
    }
}

fn percentile(sorted: &[u64], per_mille: u64) -> u64 {
    // Nearest rank: the smallest value with at least p of the values at or below it.
    let rank = (sorted.len() as u64 * per_mille).div_ceil(1000).max(1);
    sorted[(rank - 1) as usize]
}

fn summarize(kind: OpKind, outcome: Outcome, sorted: &[u64]) -> LatencyGroup {
    let total: u128 = sorted.iter().map(|l| *l as u128).sum();
    LatencyGroup {
        kind: kind.name().into(),
        outcome: outcome.name().into(),
        count: sorted.len() as u64,
        p50_ns: percentile(sorted, 500),
        p90_ns: percentile(sorted, 900),
        p99_ns: percentile(sorted, 990),
        max_ns: *sorted.last().expect("groups are never empty"),
        mean_ns: (total / sorted.len() as u128) as u64,
    }
}

/// Log-spaced edges covering every latency: 10^(i / BUCKETS_PER_DECADE) ns, from the
/// decade of the fastest operation to past the slowest.
fn edges(latencies: impl Iterator<Item = u64>) -> Vec<u64> {
    let (low, high) = latencies.fold((u64::MAX, 0), |(lo, hi), l| (lo.min(l), hi.max(l)));
    if low > high {
        return Vec::new();
    }
    // From a whole decade at or below the fastest to at least one bucket past the slowest,
    // and never fewer than eight buckets, so a narrow distribution still has context.
    let mut step = 0u32;
    while edge(step + BUCKETS_PER_DECADE) <= low.max(1) {
        step += BUCKETS_PER_DECADE;
    }
    let first = step;
    let mut edges = vec![edge(step)];
    while *edges.last().expect("one edge") <= high || step < first + 8 {
        step += 1;
        edges.push(edge(step));
    }
    // Below 10 ns rounding makes neighbours equal; a bucket of zero width holds nothing.
    edges.dedup();
    edges
}

/// 10^(step / 5) ns, rounded to three digits, in integers so that every machine draws the same
/// buckets.
fn edge(step: u32) -> u64 {
    const MANTISSAS: [u128; BUCKETS_PER_DECADE as usize] = [100, 158, 251, 398, 631];
    let decade = step / BUCKETS_PER_DECADE;
    let mantissa = MANTISSAS[(step % BUCKETS_PER_DECADE) as usize];
    let value = 10u128
        .checked_pow(decade)
        .map_or(u128::MAX, |scale| mantissa.saturating_mul(scale) / 100);
    value.min(u64::MAX as u128) as u64
}

fn counts(edges: &[u64], sorted: &[u64]) -> Vec<u64> {
    let buckets = edges.len().saturating_sub(1);
    let mut counts = vec![0u64; buckets];
    for latency in sorted {
        let index = edges.partition_point(|e| e <= latency).saturating_sub(1);
        counts[index.min(buckets.saturating_sub(1))] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 500), 50);
        assert_eq!(percentile(&sorted, 990), 99);
        assert_eq!(percentile(&[7], 990), 7);
    }

    #[test]
    fn edges_cover_every_latency() {
        let latencies = [1_500_000u64, 9_000_000, 120_000_000];
        let edges = edges(latencies.iter().copied());
        assert!(edges[0] <= 1_500_000 && *edges.last().unwrap() > 120_000_000);
        let c = counts(&edges, &latencies);
        assert_eq!(c.iter().sum::<u64>(), 3);
    }
}
