//! Stale reads, measured against real time: a read that returned a version which another write
//! had already overwritten, and that overwriting write had completed before the read began.
//!
//! A write `w'` overwrites the version `x` a read returned when `w'` was invoked after `x` is
//! known to have taken effect (`x` was acknowledged, or returned by some read, before `w'`
//! began): in real time, `w'` is the newer version. The read is stale when such a `w'` completed
//! (was acknowledged) before the read was invoked, so the read began after the newer version
//! was in place and still returned the older one. A read of nothing is stale when any write of
//! the key had completed before it began.
//!
//! | situation | stale? |
//! | --- | --- |
//! | `w'` still in flight when the read began | no: the read may precede it |
//! | `w'` overlapped the write of `x` | no: `w'` may be the older version |
//! | `x`'s write timed out (unknown) and nobody saw it before `w'` began | no: it may have landed after `w'` |
//! | several values (siblings) | stale when one `w'` overwrote every one of them |
//!
//! This is what linearizability would call the most common anomaly, counted rather than
//! searched for: it needs no model and no budget, so a sweep can report a stale-read rate for
//! any protocol. Only gets are counted (a compare-and-set compares against its expected value,
//! which the linearizability check judges). Reads of values no write could have written are not
//! judged; the causal check reports them.

use crate::session::{observed, Facts};
use serde::Serialize;
use sim_core::history::{History, OpKind, Operation, Outcome};
use sim_core::ids::{ClientId, Key, OpId, Value};
use sim_core::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// One read that returned an overwritten version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaleRead {
    /// The read.
    pub op: OpId,
    /// Its client.
    pub client: ClientId,
    /// The key.
    pub key: Key,
    /// When the read was invoked.
    pub invoked_at: SimTime,
    /// What it returned (empty: nothing).
    pub returned: Vec<Value>,
    /// The writes of those values, in the same order.
    pub returned_writes: Vec<OpId>,
    /// The write that had overwritten them: the first to complete.
    pub overwritten_by: OpId,
    /// The value it wrote.
    pub overwriting_value: Value,
    /// When it completed.
    pub overwrite_completed_at: SimTime,
    /// How long before the read began the returned version had been overwritten.
    pub stale_for: SimDuration,
    /// The same, in plain words.
    pub explanation: String,
}

/// The verdict of the stale-read measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaleReadsVerdict {
    /// Ok gets that were judged.
    pub reads: u64,
    /// How many of them were stale.
    pub stale_count: u64,
    /// `stale_count / reads` (0 when there were no reads).
    pub rate: f64,
    /// Every stale read, in history order.
    pub stale: Vec<StaleRead>,
    /// Gets whose values no write could have written; not judged.
    pub unexplained: u64,
    /// Why the history could not be checked, if it could not.
    pub not_checked: Option<String>,
}

impl StaleReadsVerdict {
    /// True when no read was stale.
    pub fn none_stale(&self) -> bool {
        self.stale.is_empty()
    }
}

/// The acknowledged writes of one key, sorted by invocation, with the earliest completion among
/// each suffix: "of the writes invoked from here on, which completed first".
struct KeyWrites {
    invoked: Vec<SimTime>,
    first_completed: Vec<(SimTime, OpId)>,
}

impl KeyWrites {
    fn new(mut writes: Vec<(SimTime, SimTime, OpId)>) -> KeyWrites {
        writes.sort();
        let mut first_completed = vec![(SimTime::MAX, OpId(u64::MAX)); writes.len()];
        let mut best = (SimTime::MAX, OpId(u64::MAX));
        for (index, (_, completed, op)) in writes.iter().enumerate().rev() {
            best = best.min((*completed, *op));
            first_completed[index] = best;
        }
        KeyWrites {
            invoked: writes.iter().map(|(invoked, _, _)| *invoked).collect(),
            first_completed,
        }
    }

    /// The first-completed write among those invoked after `after` (any, for None).
    fn first_invoked_after(&self, after: Option<SimTime>) -> Option<(SimTime, OpId)> {
        let from = match after {
            None => 0,
            Some(at) => self.invoked.partition_point(|invoked| *invoked <= at),
        };
        self.first_completed.get(from).copied()
    }
}

/// Counts and lists the reads that returned a version overwritten before they began.
pub fn check(history: &History) -> StaleReadsVerdict {
    let mut verdict = StaleReadsVerdict {
        reads: 0,
        stale_count: 0,
        rate: 0.0,
        stale: Vec::new(),
        unexplained: 0,
        not_checked: None,
    };
    let facts = match Facts::new(history) {
        Ok(facts) => facts,
        Err(reason) => {
            verdict.not_checked = Some(reason);
            return verdict;
        }
    };
    let mut by_key: BTreeMap<Key, Vec<(SimTime, SimTime, OpId)>> = BTreeMap::new();
    for op in &history.ops {
        if let (true, Outcome::Ok, Some(completed)) = (op.is_write(), op.outcome, op.complete) {
            by_key
                .entry(op.key)
                .or_default()
                .push((op.invoke, completed, op.id));
        }
    }
    let writes: BTreeMap<Key, KeyWrites> = by_key
        .into_iter()
        .map(|(key, list)| (key, KeyWrites::new(list)))
        .collect();
    for op in history.ops.iter().filter(|op| op.kind == OpKind::Get) {
        match judge(&facts, &writes, op) {
            Judged::NotARead => {}
            Judged::Unexplained => verdict.unexplained += 1,
            Judged::Fresh => verdict.reads += 1,
            Judged::Stale(stale) => {
                verdict.reads += 1;
                verdict.stale.push(*stale);
            }
        }
    }
    verdict.stale_count = verdict.stale.len() as u64;
    if verdict.reads > 0 {
        verdict.rate = verdict.stale_count as f64 / verdict.reads as f64;
    }
    verdict
}

/// What one get turned out to be.
enum Judged {
    /// It returned no result (failed or unknown).
    NotARead,
    /// It returned a value no write of its key could have written.
    Unexplained,
    /// Nothing had overwritten what it returned before it began.
    Fresh,
    /// Something had.
    Stale(Box<StaleRead>),
}

fn judge(facts: &Facts<'_>, writes: &BTreeMap<Key, KeyWrites>, op: &Operation) -> Judged {
    let Some(returned) = observed(op) else {
        return Judged::NotARead;
    };
    // The latest moment any returned version is known to have taken effect: a newer write
    // must have been invoked after all of them.
    let mut newest: Option<SimTime> = None;
    let mut returned_writes = Vec::new();
    for value in &returned {
        let Some(write) = facts.write_of(op.key, *value) else {
            return Judged::Unexplained;
        };
        // A version never seen taking effect before the read can have nothing newer.
        newest = newest.max(Some(facts.effective_at(*value).unwrap_or(SimTime::MAX)));
        returned_writes.push(write.id);
    }
    let overwrite = writes
        .get(&op.key)
        .and_then(|key_writes| key_writes.first_invoked_after(newest));
    let Some((completed, overwriter)) = overwrite.filter(|(done, _)| *done < op.invoke) else {
        return Judged::Fresh;
    };
    let mut stale = StaleRead {
        op: op.id,
        client: op.client,
        key: op.key,
        invoked_at: op.invoke,
        returned,
        returned_writes,
        overwritten_by: overwriter,
        overwriting_value: facts.op(overwriter).write.expect("a write"),
        overwrite_completed_at: completed,
        stale_for: op.invoke.since(completed),
        explanation: String::new(),
    };
    stale.explanation = explain(&stale);
    Judged::Stale(Box::new(stale))
}

fn explain(stale: &StaleRead) -> String {
    let StaleRead {
        op,
        client,
        key,
        invoked_at,
        overwritten_by,
        overwriting_value,
        overwrite_completed_at,
        stale_for,
        ..
    } = stale;
    let got = if stale.returned.is_empty() {
        "nothing".to_string()
    } else {
        stale
            .returned
            .iter()
            .zip(&stale.returned_writes)
            .map(|(value, write)| format!("{value} (written by {write})"))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let overwritten = if stale.returned.is_empty() {
        "but"
    } else {
        "which had been overwritten:"
    };
    format!(
        "{client} read {key} ({op}) at {invoked_at} and got {got}, {overwritten} {overwritten_by} wrote {overwriting_value} and completed at {overwrite_completed_at}, {stale_for} before the read began"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::{self, Builder};
    use proptest::prelude::*;

    fn stale_ops(verdict: &StaleReadsVerdict) -> Vec<OpId> {
        verdict.stale.iter().map(|s| s.op).collect()
    }

    #[test]
    fn a_read_of_a_version_overwritten_before_it_began_is_stale() {
        let mut h = Builder::default();
        let old = h.put(1, 0, 1, (0, 10));
        let new = h.put(2, 0, 2, (20, 30));
        let stale = h.get(3, 0, &[1], (40, 50));
        let fresh = h.get(3, 0, &[2], (60, 70));
        let verdict = check(&h.history());
        assert_eq!(stale_ops(&verdict), vec![stale]);
        assert_ne!(stale, fresh);
        assert_eq!(verdict.reads, 2);
        assert_eq!(verdict.rate, 0.5);
        let read = &verdict.stale[0];
        assert_eq!(read.returned_writes, vec![old]);
        assert_eq!(read.overwritten_by, new);
        assert_eq!(read.stale_for, SimDuration::from_millis(10));
        assert_eq!(
            read.explanation,
            "c3 read k0 (op2) at 40ms and got v1 (written by op0), which had been overwritten: \
             op1 wrote v2 and completed at 30ms, 10ms before the read began"
        );
    }

    #[test]
    fn a_read_that_overlaps_the_newer_write_or_whose_version_overlapped_it_is_not_stale() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (20, 30));
        h.get(3, 0, &[1], (25, 35));
        // v3 overlaps v4, so v4 may be the older version.
        h.put(1, 1, 3, (100, 120));
        h.put(2, 1, 4, (110, 130));
        h.get(3, 1, &[3], (140, 150));
        assert!(check(&h.history()).none_stale());
    }

    #[test]
    fn a_write_invoked_at_the_instant_the_read_version_was_acknowledged_does_not_overwrite_it() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (10, 20));
        h.get(3, 0, &[1], (30, 40));
        assert!(check(&h.history()).none_stale());
    }

    #[test]
    fn reading_nothing_after_a_completed_write_is_stale_and_before_it_is_not() {
        let mut h = Builder::default();
        h.get(2, 0, &[], (0, 5));
        let write = h.put(1, 0, 1, (0, 10));
        let stale = h.get(2, 0, &[], (20, 30));
        let verdict = check(&h.history());
        assert_eq!(stale_ops(&verdict), vec![stale]);
        assert_eq!(verdict.stale[0].overwritten_by, write);
        assert!(verdict.stale[0]
            .explanation
            .contains("got nothing, but op1 wrote v1"));
    }

    #[test]
    fn an_unknown_write_seen_late_may_be_the_newest_but_one_seen_early_is_overwritten() {
        let mut h = Builder::default();
        h.put_unknown(1, 0, 1, 0);
        h.put(2, 0, 2, (20, 30));
        h.get(3, 0, &[1], (40, 50));
        assert!(check(&h.history()).none_stale());
        let mut h = Builder::default();
        h.put_unknown(1, 0, 1, 0);
        h.get(3, 0, &[1], (5, 15));
        h.put(2, 0, 2, (20, 30));
        let stale = h.get(3, 0, &[1], (40, 50));
        assert_eq!(stale_ops(&check(&h.history())), vec![stale]);
    }

    #[test]
    fn siblings_are_stale_only_when_one_write_overwrote_all_of_them() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(3, 0, 3, (12, 40));
        h.put(2, 0, 2, (15, 25));
        // v3 overlaps v2: the pair {v2, v3} may be current although v3 overwrote v1.
        h.get(1, 0, &[1, 2], (50, 60));
        h.put(1, 0, 4, (70, 80));
        let stale = h.get(2, 0, &[2, 3], (90, 100));
        assert_eq!(stale_ops(&check(&h.history())), vec![stale]);
    }

    #[test]
    fn failed_writes_never_overwrite_and_reads_of_them_are_unexplained() {
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put_failed(2, 0, 2, (20, 30));
        h.get(3, 0, &[1], (40, 50));
        h.get(3, 0, &[2], (60, 70));
        let verdict = check(&h.history());
        assert!(verdict.none_stale());
        assert_eq!((verdict.reads, verdict.unexplained), (1, 1));
    }

    /// The definition, read literally: every read against every completed write.
    fn oracle(history: &History) -> BTreeMap<OpId, SimDuration> {
        let effective = |value: Value| -> Option<SimTime> {
            let write = history
                .ops
                .iter()
                .find(|w| w.write == Some(value) && w.is_write())?;
            let ack = (write.outcome == Outcome::Ok)
                .then_some(write.complete)
                .flatten();
            let seen = history
                .ops
                .iter()
                .filter(|r| r.key == write.key && observed(r).is_some_and(|v| v.contains(&value)))
                .filter_map(|r| r.complete);
            ack.into_iter()
                .chain(seen)
                .min()
                .map(|t| t.max(write.invoke))
        };
        let mut stale = BTreeMap::new();
        for read in history.ops.iter().filter(|op| op.kind == OpKind::Get) {
            let Some(values) = observed(read) else {
                continue;
            };
            let writes_ok = values.iter().all(|v| {
                history
                    .ops
                    .iter()
                    .any(|w| w.write == Some(*v) && w.key == read.key && w.outcome != Outcome::Fail)
            });
            if !writes_ok {
                continue;
            }
            for write in &history.ops {
                let (true, Outcome::Ok, Some(done)) =
                    (write.is_write(), write.outcome, write.complete)
                else {
                    continue;
                };
                let newer = values
                    .iter()
                    .all(|v| effective(*v).is_some_and(|t| t < write.invoke));
                if write.key == read.key && done < read.invoke && newer {
                    let age = read.invoke.since(done);
                    let entry = stale.entry(read.id).or_insert(age);
                    *entry = (*entry).max(age);
                }
            }
        }
        stale
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_measurement_agrees_with_comparing_every_read_with_every_write(
            specs in testing::specs(6),
            siblings in any::<bool>(),
        ) {
            let history = testing::history(&specs, siblings);
            let verdict = check(&history);
            let found: BTreeMap<OpId, SimDuration> =
                verdict.stale.iter().map(|s| (s.op, s.stale_for)).collect();
            prop_assert_eq!(found, oracle(&history));
        }
    }
}
