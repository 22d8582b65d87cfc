//! Lost writes: an acknowledged write whose value is gone from every replica at the end of the
//! run, while no other write of the same key can account for its disappearance.
//!
//! Another write `w'` accounts for the disappearance of `w` when it may legitimately be ordered
//! after `w` — it did not complete before `w` was invoked (it started later, or overlapped) —
//! and there is evidence that it happened: it was acknowledged, or its value survives. A write
//! that completed before `w` began cannot excuse `w`'s loss: that is last-writer-wins under
//! clock skew, where the earlier write in true time carries the later stamp and wins.
//!
//! Two ways to be lost, both excused the same way:
//! - gone at the end: absent from every live replica's final view, and no other write of the
//!   key accounts for it;
//! - never held: no live replica held the value at any divergence sample, and no write that
//!   accounts for it had even been invoked by the first sample after the acknowledgement. This
//!   sees losses the final state hides, once later writes have overwritten the key.

use serde::Serialize;
use sim_core::history::{History, Operation, Outcome};
use sim_core::ids::{Key, OpId, Value};
use sim_core::protocol::ReplicaView;
use sim_core::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// How a lost write was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// No replica held it at any sample, and nothing had overwritten it by the next sample.
    NeverHeld,
    /// No replica holds it at the end.
    GoneAtEnd,
}

/// What the replicas were seen to hold during the run: from the engine's divergence samples.
#[derive(Clone, Copy, Debug)]
pub struct Observations<'a> {
    /// The sample times, in order.
    pub sample_times: &'a [SimTime],
    /// For each value, the first sample at which a live replica held it.
    pub first_seen: &'a BTreeMap<Value, SimTime>,
}

/// One acknowledged write that vanished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LostWrite {
    /// The write.
    pub op: OpId,
    /// Its key.
    pub key: Key,
    /// The value that vanished.
    pub value: Value,
    /// When the client was told it succeeded.
    pub acknowledged_at: SimTime,
    /// What the replicas hold for the key at the end.
    pub survivors: Vec<Value>,
    /// How the loss was found.
    pub kind: LossKind,
}

/// Every lost write, in history order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LostWritesVerdict {
    /// The lost writes.
    pub lost: Vec<LostWrite>,
    /// How many acknowledged writes there were.
    pub acknowledged: u64,
}

/// Finds acknowledged writes that vanished and that no other write of their key explains.
pub fn check(
    history: &History,
    final_views: &[Option<ReplicaView>],
    observed: Option<Observations<'_>>,
) -> LostWritesVerdict {
    let mut present: BTreeMap<Key, BTreeSet<Value>> = BTreeMap::new();
    for view in final_views.iter().flatten() {
        for (key, values) in view {
            present
                .entry(*key)
                .or_default()
                .extend(values.iter().copied());
        }
    }
    let mut writes_by_key: BTreeMap<Key, Vec<&Operation>> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.is_write()) {
        writes_by_key.entry(op.key).or_default().push(op);
    }
    let no_values = BTreeSet::new();
    let mut verdict = LostWritesVerdict::default();
    for op in &history.ops {
        let (Some(value), Some(completed), Outcome::Ok) = (op.write, op.complete, op.outcome)
        else {
            continue;
        };
        verdict.acknowledged += 1;
        let survivors = present.get(&op.key).unwrap_or(&no_values);
        // Writes that may follow `op` and evidently happened, by invocation time.
        let excuse_times: Vec<SimTime> = writes_by_key[&op.key]
            .iter()
            .filter(|other| {
                let preceded = other.complete.is_some_and(|done| done < op.invoke);
                other.id != op.id
                    && !preceded
                    && (other.outcome == Outcome::Ok
                        || other.write.is_some_and(|v| {
                            // A value a replica held, at the end or at any sample, proves its
                            // write happened even if its client never learned.
                            survivors.contains(&v)
                                || observed.is_some_and(|seen| seen.first_seen.contains_key(&v))
                        }))
            })
            .map(|other| other.invoke)
            .collect();
        let excused_by = |deadline: SimTime| excuse_times.iter().any(|t| *t <= deadline);
        let gone_at_end = !survivors.contains(&value) && excuse_times.is_empty();
        let never_held = observed.is_some_and(|seen| {
            let next = seen.sample_times.iter().find(|t| **t >= completed);
            !seen.first_seen.contains_key(&value) && next.is_some_and(|t| !excused_by(*t))
        });
        let kind = if never_held {
            LossKind::NeverHeld
        } else if gone_at_end {
            LossKind::GoneAtEnd
        } else {
            continue;
        };
        verdict.lost.push(LostWrite {
            op: op.id,
            key: op.key,
            value,
            acknowledged_at: completed,
            survivors: survivors.iter().copied().collect(),
            kind,
        });
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::history::OpKind;
    use sim_core::ids::{ClientId, NodeId};

    fn write(id: u64, value: u64, invoke: u64, complete: u64, outcome: Outcome) -> Operation {
        Operation {
            id: OpId(id),
            client: ClientId(0),
            node: NodeId(0),
            kind: OpKind::Put,
            key: Key(0),
            write: Some(Value(value)),
            expected: None,
            invoke: SimTime(invoke),
            complete: (outcome != Outcome::Unknown).then_some(SimTime(complete)),
            outcome,
            read: None,
            note: None,
        }
    }

    fn holding(value: u64) -> Vec<Option<ReplicaView>> {
        vec![Some([(Key(0), vec![Value(value)])].into_iter().collect())]
    }

    #[test]
    fn a_write_overwritten_by_a_later_acknowledged_write_is_not_lost() {
        let history = History {
            ops: vec![
                write(0, 1, 0, 10, Outcome::Ok),
                write(1, 2, 20, 30, Outcome::Ok),
            ],
        };
        let verdict = check(&history, &holding(2), None);
        assert!(verdict.lost.is_empty());
        assert_eq!(verdict.acknowledged, 2);
    }

    #[test]
    fn a_later_write_that_vanished_while_an_earlier_one_survived_is_lost() {
        // The skew case: write 2 started after write 1 completed, yet write 1 survives.
        let history = History {
            ops: vec![
                write(0, 1, 0, 10, Outcome::Ok),
                write(1, 2, 20, 30, Outcome::Ok),
            ],
        };
        let verdict = check(&history, &holding(1), None);
        assert_eq!(verdict.lost.len(), 1);
        assert_eq!(verdict.lost[0].value, Value(2));
        assert_eq!(verdict.lost[0].survivors, vec![Value(1)]);
    }

    #[test]
    fn a_write_no_replica_ever_held_is_lost_even_if_a_later_write_hides_it() {
        // Write 1 is acknowledged at 30 but never held; write 2 starts at 500, after the sample
        // at 100 that should have seen write 1, and overwrites the key.
        let history = History {
            ops: vec![
                write(0, 1, 0, 10, Outcome::Ok),
                write(1, 2, 20, 30, Outcome::Ok),
                write(2, 3, 500, 510, Outcome::Ok),
            ],
        };
        let samples = [SimTime(0), SimTime(100), SimTime(600)];
        let first_seen: BTreeMap<Value, SimTime> =
            [(Value(1), SimTime(100)), (Value(3), SimTime(600))]
                .into_iter()
                .collect();
        let seen = Observations {
            sample_times: &samples,
            first_seen: &first_seen,
        };
        let verdict = check(&history, &holding(3), Some(seen));
        assert_eq!(verdict.lost.len(), 1);
        assert_eq!(verdict.lost[0].value, Value(2));
        assert_eq!(verdict.lost[0].kind, LossKind::NeverHeld);
        // Without the samples, the final state hides it.
        assert!(check(&history, &holding(3), None).lost.is_empty());
        // Had write 2 started before the sample, it would excuse the gap.
        let mut early = history.clone();
        early.ops[2].invoke = SimTime(90);
        assert!(check(&early, &holding(3), Some(seen)).lost.is_empty());
    }

    #[test]
    fn an_unacknowledged_write_seen_on_a_replica_excuses_what_it_overwrote() {
        // Write 0 is acknowledged, then overwritten by write 1 whose client timed out; write 1
        // was held at a sample, then overwritten in turn by write 2 (unknown, never seen).
        let history = History {
            ops: vec![
                write(0, 1, 0, 10, Outcome::Ok),
                write(1, 2, 20, 0, Outcome::Unknown),
                write(2, 3, 300, 0, Outcome::Unknown),
            ],
        };
        let samples = [SimTime(0), SimTime(100), SimTime(400)];
        let first_seen: BTreeMap<Value, SimTime> = [(Value(2), SimTime(100))].into_iter().collect();
        let seen = Observations {
            sample_times: &samples,
            first_seen: &first_seen,
        };
        let empty = [Some(ReplicaView::new())];
        assert!(check(&history, &empty, Some(seen)).lost.is_empty());
        // Without the sighting, nothing explains write 0's disappearance.
        assert_eq!(check(&history, &empty, None).lost.len(), 1);
    }

    #[test]
    fn a_write_overwritten_by_a_concurrent_write_is_not_lost() {
        // Write 1 overlaps write 0 in time, so it may be ordered after it.
        let history = History {
            ops: vec![
                write(0, 1, 0, 10, Outcome::Ok),
                write(1, 2, 5, 15, Outcome::Ok),
            ],
        };
        assert!(check(&history, &holding(2), None).lost.is_empty());
        assert!(check(&history, &holding(1), None).lost.is_empty());
    }

    #[test]
    fn unknown_and_failed_writes_are_never_lost_and_excuse_nothing_unless_they_survive() {
        let history = History {
            ops: vec![
                write(0, 1, 0, 10, Outcome::Ok),
                write(1, 2, 20, 0, Outcome::Unknown),
                write(2, 3, 20, 30, Outcome::Fail),
            ],
        };
        // Nothing survives at all: write 1 is lost; the unknown and failed writes are not.
        let verdict = check(&history, &[Some(ReplicaView::new())], None);
        assert_eq!(
            verdict.lost.iter().map(|l| l.op).collect::<Vec<_>>(),
            vec![OpId(0)]
        );
        // The unknown write survives: it happened, and it supersedes write 1.
        assert!(check(&history, &holding(2), None).lost.is_empty());
    }
}
