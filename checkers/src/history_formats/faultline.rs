//! faultline's own history: the JSON serialization of [`History`], read as per-key registers,
//! and written as Jepsen EDN so that Knossos or Porcupine can check our runs too.
//!
//! Semantics: a failed operation definitely did not take effect and is dropped (a cas that
//! did not match fails the same way as a rejected one, so a failure says nothing about the
//! value); an operation with an unknown outcome may take effect at any time after its
//! invocation, or never; a read returns a set of values: none (absent), one, or several
//! siblings, which no register can return.

use super::ReadError;
use crate::linearizability::models::{RegisterInput, RegisterOp, RegisterOutput};
use crate::linearizability::{OpLog, Operation, Source, TimeUnit};
use sim_core::history::{History, OpKind, Outcome};
use sim_core::ids::Value;
use std::fmt::Write;

/// Reads a history written by `serde_json` (`faultline run`'s JSON).
pub fn read(text: &str) -> Result<History, ReadError> {
    serde_json::from_str(text).map_err(|error| ReadError {
        line: error.line() as u32,
        column: Some(error.column() as u32),
        reason: format!("not a faultline history: {error}"),
    })
}

/// Values are compared only for equality, so the bit-for-bit conversion (one-to-one) is
/// enough even above `i64::MAX`.
fn value(v: Value) -> i64 {
    v.0 as i64
}

/// The history as compare-and-set registers, one per key, initially absent.
pub fn register_log(history: &History) -> OpLog<RegisterInput, RegisterOutput> {
    let ops = history
        .ops
        .iter()
        .filter(|op| op.outcome != Outcome::Fail)
        .map(|op| {
            let register_op = match (op.kind, op.write) {
                (OpKind::Get, _) | (_, None) => RegisterOp::Read,
                (OpKind::Put, Some(v)) => RegisterOp::Write(value(v)),
                (OpKind::Cas, Some(v)) => RegisterOp::Cas {
                    expected: op.expected.map(value),
                    new: value(v),
                },
            };
            let output = match (register_op, op.outcome, &op.read) {
                (_, Outcome::Unknown | Outcome::Fail, _) => None,
                (RegisterOp::Read, Outcome::Ok, Some(values)) => Some(match values.as_slice() {
                    [] => RegisterOutput::Read(None),
                    [one] => RegisterOutput::Read(Some(value(*one))),
                    many => RegisterOutput::Siblings(many.iter().map(|v| value(*v)).collect()),
                }),
                (RegisterOp::Read, Outcome::Ok, None) => None,
                (_, Outcome::Ok, _) => Some(RegisterOutput::Done),
            };
            Operation {
                client: u64::from(op.client.0),
                call: op.invoke.0,
                ret: op.complete.filter(|_| output.is_some()).map(|t| t.0),
                input: RegisterInput {
                    key: Some(op.key.to_string()),
                    op: register_op,
                },
                output,
                source: Source {
                    invoke_line: None,
                    complete_line: None,
                    id: Some(op.id.0),
                },
            }
        })
        .collect();
    OpLog {
        ops,
        time_unit: TimeUnit::Nanos,
    }
}

/// The history as Jepsen EDN, one map per line, in time order (invocations before completions
/// at equal times, so touching operations stay concurrent). Keys are strings (`:key "k3"`),
/// puts are `:write`, a read of an absent key is `nil` (an unknown read to Knossos), siblings
/// are a set (never a legal register value). An operation with an unknown outcome ends with
/// `:info` at the end of the history, and its client continues under a new process id, as
/// Jepsen does: process = client + clients × (unknown operations of the client so far).
pub fn to_edn(history: &History) -> String {
    let clients = history
        .ops
        .iter()
        .map(|op| u64::from(op.client.0) + 1)
        .max()
        .unwrap_or(1);
    let mut unknown_so_far = vec![0u64; clients as usize];
    let mut events: Vec<(u64, u8, usize, u64)> = Vec::with_capacity(history.ops.len() * 2);
    let mut infos = Vec::new();
    for (i, op) in history.ops.iter().enumerate() {
        let client = op.client.0 as usize;
        let process = u64::from(op.client.0) + clients * unknown_so_far[client];
        events.push((op.invoke.0, 0, i, process));
        match (op.outcome, op.complete) {
            (Outcome::Unknown, _) | (_, None) => {
                unknown_so_far[client] += 1;
                infos.push((i, process));
            }
            (_, Some(done)) => events.push((done.0.max(op.invoke.0), 1, i, process)),
        }
    }
    events.sort_unstable();
    let mut out = String::new();
    let mut index = 0;
    for (time, kind, i, process) in events {
        let op = &history.ops[i];
        let (type_, value) = match (kind, op.outcome) {
            (0, _) => ("invoke", invoke_value(op)),
            (_, Outcome::Ok) => ("ok", complete_value(op)),
            _ => ("fail", invoke_value(op)),
        };
        line(&mut out, type_, op, &value, process, time, index);
        index += 1;
    }
    let end = history
        .ops
        .iter()
        .filter_map(|op| op.complete.or(Some(op.invoke)))
        .max();
    for (i, process) in infos {
        let op = &history.ops[i];
        let time = end.map_or(0, |t| t.0);
        line(
            &mut out,
            "info",
            op,
            &invoke_value(op),
            process,
            time,
            index,
        );
        index += 1;
    }
    out
}

fn line(
    out: &mut String,
    type_: &str,
    op: &sim_core::history::Operation,
    value: &str,
    process: u64,
    time: u64,
    index: u64,
) {
    let f = match op.kind {
        OpKind::Get => "read",
        OpKind::Put => "write",
        OpKind::Cas => "cas",
    };
    let _ = write!(
        out,
        "{{:type :{type_}, :f :{f}, :key \"{}\", :value {value}, :process {process}, :time {time}, :index {index}",
        op.key
    );
    if let (Some(note), "fail" | "info") = (&op.note, type_) {
        let _ = write!(out, ", :error {note:?}");
    }
    out.push_str("}\n");
}

fn invoke_value(op: &sim_core::history::Operation) -> String {
    match (op.kind, op.write) {
        (OpKind::Put, Some(v)) => v.0.to_string(),
        (OpKind::Cas, Some(v)) => format!(
            "[{} {}]",
            op.expected.map_or("nil".to_string(), |e| e.0.to_string()),
            v.0
        ),
        _ => "nil".to_string(),
    }
}

fn complete_value(op: &sim_core::history::Operation) -> String {
    match (op.kind, &op.read) {
        (OpKind::Get, Some(values)) => match values.as_slice() {
            [] => "nil".to_string(),
            [one] => one.0.to_string(),
            many => {
                let items: Vec<String> = many.iter().map(|v| v.0.to_string()).collect();
                format!("#{{{}}}", items.join(" "))
            }
        },
        _ => invoke_value(op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history_formats::jepsen;
    use sim_core::history::Operation as SimOp;
    use sim_core::ids::{ClientId, Key, NodeId, OpId};
    use sim_core::time::SimTime;

    fn op(id: u64, client: u32, kind: OpKind, span: (u64, Option<u64>), outcome: Outcome) -> SimOp {
        SimOp {
            id: OpId(id),
            client: ClientId(client),
            node: NodeId(0),
            kind,
            key: Key(1),
            write: (kind != OpKind::Get).then_some(Value(100 + id)),
            expected: None,
            invoke: SimTime(span.0),
            complete: span.1.map(SimTime),
            outcome,
            read: None,
            note: None,
        }
    }

    fn sample() -> History {
        let mut read = op(2, 1, OpKind::Get, (30, Some(40)), Outcome::Ok);
        read.read = Some(vec![Value(100), Value(103)]);
        History {
            ops: vec![
                op(0, 0, OpKind::Put, (0, Some(10)), Outcome::Ok),
                op(1, 0, OpKind::Put, (20, None), Outcome::Unknown),
                read,
                op(3, 0, OpKind::Cas, (25, Some(50)), Outcome::Fail),
            ],
        }
    }

    #[test]
    fn json_round_trip_and_register_semantics() {
        let history = sample();
        let text = serde_json::to_string_pretty(&history).unwrap();
        assert_eq!(read(&text).unwrap(), history);
        let log = register_log(&history);
        assert_eq!(log.ops.len(), 3, "the failed cas is dropped");
        assert_eq!(log.ops[1].ret, None);
        assert_eq!(
            log.ops[2].output,
            Some(RegisterOutput::Siblings(vec![100, 103]))
        );
        assert_eq!(log.ops[2].input.key.as_deref(), Some("k1"));
        let error = read("{\"ops\": [\n  {\"id\": 0,}\n]}").expect_err("bad JSON");
        assert_eq!(error.line, 2, "{error}");
    }

    #[test]
    fn edn_export_reads_back_with_jepsen_semantics() {
        let history = sample();
        let text = to_edn(&history);
        assert_eq!(text.lines().count(), 8, "{text}");
        assert!(
            text.contains(":process 2"),
            "a new process after the unknown write: {text}"
        );
        assert!(
            text.lines().last().unwrap().contains(":type :info"),
            "{text}"
        );
        assert!(text.contains(":value #{100 103}"), "{text}");
        let ops = jepsen::read(&text).unwrap();
        let log = jepsen::cas_register(&ops).unwrap();
        assert_eq!(log.ops.len(), 3);
        let ours = register_log(&history);
        for (theirs, ours) in log.ops.iter().zip(&ours.ops) {
            assert_eq!(theirs.input, ours.input);
            assert_eq!(theirs.output, ours.output);
            assert_eq!(theirs.ret.is_some(), ours.ret.is_some());
        }
    }
}
