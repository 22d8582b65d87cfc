//! The linearizability checker against a brute-force oracle on small register histories.
//!
//! Histories of up to 8 operations (reads, writes, compare-and-sets; some with an unknown
//! outcome that may or may not take effect, with no deadline) are generated at random. The
//! oracle tries every order of every subset of the unknown operations together with all the
//! known ones, keeping those whose order respects real time (or, for sequential consistency,
//! each client's order), and asks the register model whether one is legal. The checker must
//! agree on every history; and when it says "not linearizable", its witness must hold up: the
//! witness's operations cannot be ordered even with every other operation's outcome forgotten,
//! and can once the culprit's answer is forgotten too.

use checkers::linearizability::models::{CasRegister, RegisterInput, RegisterOp, RegisterOutput};
use checkers::linearizability::{
    self as lin, Consistency, Model, OpLog, Operation, Options, Source, Step, TimeUnit, Verdict,
};
use proptest::prelude::*;

type RegisterOp_ = Operation<RegisterInput, RegisterOutput>;

/// One generated operation: client, what, the value(s), invocation, duration, and whether its
/// outcome is known.
fn operation() -> impl Strategy<Value = RegisterOp_> {
    (
        0..3u64,
        0..3u8,
        0..3i64,
        0..3i64,
        0..24u64,
        1..10u64,
        0..5u8,
        proptest::option::weighted(0.8, 0..3i64),
    )
        .prop_map(|(client, kind, a, b, call, length, known, read)| {
            let known = known > 0;
            let (op, output) = match kind {
                0 => (RegisterOp::Read, RegisterOutput::Read(read)),
                1 => (RegisterOp::Write(a), RegisterOutput::Done),
                _ => {
                    let output = if b % 2 == 0 {
                        RegisterOutput::Done
                    } else {
                        RegisterOutput::CasMismatch
                    };
                    (
                        RegisterOp::Cas {
                            expected: (a > 0).then_some(a - 1),
                            new: b,
                        },
                        output,
                    )
                }
            };
            Operation {
                client,
                call: call * 2,
                ret: known.then_some(call * 2 + length),
                input: RegisterInput { key: None, op },
                output: known.then_some(output),
                source: Source::default(),
            }
        })
}

fn history() -> impl Strategy<Value = OpLog<RegisterInput, RegisterOutput>> {
    proptest::collection::vec(operation(), 0..=8).prop_map(|ops| OpLog {
        ops,
        time_unit: TimeUnit::Nanos,
    })
}

/// Must `before` come before `after`? Real time: `before` completed before `after` began;
/// program order additionally needs the same client.
fn precedes(before: &RegisterOp_, after: &RegisterOp_, consistency: Consistency) -> bool {
    let in_order = before.ret.is_some_and(|ret| ret < after.call) && before.output.is_some();
    match consistency {
        Consistency::Linearizable => in_order,
        Consistency::Sequential => in_order && before.client == after.client,
    }
}

/// Every order of every subset containing all known operations, depth first, no pruning but
/// the order constraint and the model's own legality of each prefix.
fn oracle(
    log: &OpLog<RegisterInput, RegisterOutput>,
    consistency: Consistency,
    init: Option<i64>,
) -> bool {
    let model = CasRegister { init };
    fn extend(
        model: &CasRegister,
        ops: &[RegisterOp_],
        placed: &mut Vec<bool>,
        state: Option<i64>,
        consistency: Consistency,
    ) -> bool {
        let known_left = ops
            .iter()
            .zip(placed.iter())
            .any(|(op, &done)| !done && op.ret.is_some());
        if !known_left {
            return true;
        }
        for i in 0..ops.len() {
            if placed[i] {
                continue;
            }
            let blocked = (0..ops.len())
                .any(|j| j != i && !placed[j] && precedes(&ops[j], &ops[i], consistency));
            if blocked {
                continue;
            }
            // No completion: optional; no output: any effect the model allows.
            let output = ops[i].output.as_ref();
            let next = match model.step(&state, &ops[i].input, output) {
                Step::Illegal => continue,
                Step::Unchanged => state,
                Step::To(s) => s,
            };
            placed[i] = true;
            let found = extend(model, ops, placed, next, consistency);
            placed[i] = false;
            if found {
                return true;
            }
        }
        false
    }
    let mut placed = vec![false; log.ops.len()];
    extend(&model, &log.ops, &mut placed, init, consistency)
}

fn options(consistency: Consistency, witness: bool) -> Options {
    Options {
        consistency,
        witness,
        ..Options::default()
    }
}

/// The witness's claim as a history: the cut at the culprit's completion (later operations
/// deleted), the witness's operations as shown (those still running keep their output but
/// lose their deadline), every other operation forgotten; the culprit forgotten too if asked.
fn claim(
    log: &OpLog<RegisterInput, RegisterOutput>,
    used: &[(usize, bool)],
    cut: u64,
    culprit: Option<usize>,
) -> OpLog<RegisterInput, RegisterOutput> {
    let mut out = log.clone();
    for (i, op) in out.ops.iter_mut().enumerate() {
        match used.iter().find(|(u, _)| *u == i) {
            Some(_) if Some(i) == culprit => {
                op.ret = None;
                op.output = None;
            }
            Some((_, true)) => op.ret = None,
            Some((_, false)) => {}
            None => {
                op.ret = None;
                op.output = None;
            }
        }
    }
    let keep: Vec<bool> = log.ops.iter().map(|op| op.call <= cut).collect();
    let mut k = keep.iter();
    out.ops.retain(|_| *k.next().unwrap());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn linearizability_agrees_with_the_oracle(log in history(), init in proptest::option::of(0..2i64)) {
        let report = lin::check(&CasRegister { init }, &log, &options(Consistency::Linearizable, false));
        let expected = if oracle(&log, Consistency::Linearizable, init) { Verdict::Holds } else { Verdict::Violated };
        prop_assert_eq!(report.verdict, expected);
    }

    #[test]
    fn sequential_consistency_agrees_with_the_oracle(log in history()) {
        let report = lin::check(&CasRegister::default(), &log, &options(Consistency::Sequential, false));
        let expected = if oracle(&log, Consistency::Sequential, None) { Verdict::Holds } else { Verdict::Violated };
        prop_assert_eq!(report.verdict, expected);
    }

    #[test]
    fn witnesses_hold_up_under_the_oracle(log in history()) {
        let report = lin::check(&CasRegister::default(), &log, &options(Consistency::Linearizable, true));
        if report.verdict != Verdict::Violated {
            return Ok(());
        }
        let witness = report.witness.expect("a witness for every violation");
        prop_assert!(witness.minimal);
        // Witness operations are named by their invocation times, unique per generated op
        // only up to duplicates: map each to the first matching operation not yet used.
        let mut used: Vec<(usize, bool)> = Vec::new();
        for shown in &witness.ops {
            let index = log.ops.iter().enumerate().position(|(i, op)| {
                !used.iter().any(|(u, _)| *u == i) && op.call == shown.call && op.ret == shown.ret
                    && op.is_known()
                    && CasRegister::default().describe(&op.input, op.output.as_ref()) == shown.operation
            });
            prop_assert!(index.is_some(), "witness op {} not in the history", shown);
            used.push((index.unwrap(), shown.running));
        }
        let culprit = witness.culprit.as_ref().expect("a culprit");
        let position = witness.ops.iter().position(|op| op == culprit).expect("the culprit is in the witness");
        let cut = culprit.ret.expect("the culprit completed");
        prop_assert!(!oracle(&claim(&log, &used, cut, None), Consistency::Linearizable, None),
            "the witness alone can be ordered:\n{}", witness);
        prop_assert!(oracle(&claim(&log, &used, cut, Some(used[position].0)), Consistency::Linearizable, None),
            "the witness without the culprit's answer still cannot be ordered:\n{}", witness);
    }
}

#[test]
fn the_oracle_itself_sees_a_stale_read() {
    let op = |call, ret, op, output| Operation {
        client: 0,
        call,
        ret: Some(ret),
        input: RegisterInput { key: None, op },
        output: Some(output),
        source: Source::default(),
    };
    let mut log = OpLog {
        ops: vec![
            op(0, 1, RegisterOp::Write(1), RegisterOutput::Done),
            op(2, 3, RegisterOp::Write(2), RegisterOutput::Done),
            op(4, 5, RegisterOp::Read, RegisterOutput::Read(Some(1))),
        ],
        time_unit: TimeUnit::Nanos,
    };
    assert!(!oracle(&log, Consistency::Linearizable, None));
    assert!(
        !oracle(&log, Consistency::Sequential, None),
        "one client: program order is real time"
    );
    log.ops[2].client = 1;
    assert!(
        oracle(&log, Consistency::Sequential, None),
        "another client may read before the write of 2"
    );
    assert!(!oracle(&log, Consistency::Linearizable, None));
    log.ops[2].call = 1;
    assert!(oracle(&log, Consistency::Linearizable, None));
}
