//! Jepsen histories in EDN, with Knossos's semantics (`knossos.history/preprocess`):
//!
//! - a file is one collection of operation maps (Knossos's `data/`) or a sequence of
//!   top-level maps, one per line (Jepsen's `history.edn`); both may mix;
//! - a completion pairs with the open invocation of the same process, and a second invocation
//!   while one is open is an error;
//! - an `:ok` completion's `:value` replaces the invocation's (a read's value is known then);
//! - an operation that completes with `:fail` never happened and is dropped;
//! - one that completes with `:info`, or never completes, may take effect at any time after
//!   its invocation, or never;
//! - operations of non-integer processes (`:nemesis`) are ignored;
//! - positions count every entry, nemesis ones included (Knossos's `:index`).

use super::edn::{self, Edn, Node};
use super::ReadError;
use crate::linearizability::models::{KvInput, KvOp, KvOutput, MicroOp, MutexOp};
use crate::linearizability::models::{RegisterInput, RegisterOp, RegisterOutput};
use crate::linearizability::{OpLog, Operation, Source, TimeUnit};
use std::collections::BTreeMap;

/// How an entry ended (or began).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpType {
    /// `:invoke`.
    Invoke,
    /// `:ok`: it took effect.
    Ok,
    /// `:fail`: it did not.
    Fail,
    /// `:info`: unknown.
    Info,
}

/// The completion of an operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// Ok, fail or info.
    pub kind: OpType,
    /// Its `:value`.
    pub value: Node,
    /// Its position among all entries.
    pub index: u64,
    /// Its line.
    pub line: u32,
}

/// An invocation paired with its completion, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct JepsenOp {
    /// The process.
    pub process: i64,
    /// `:f`, without the colon.
    pub f: String,
    /// `:key`, when the entry has one (Porcupine's kv histories, faultline's exports).
    pub key: Option<String>,
    /// The invocation's `:value`.
    pub value: Node,
    /// The invocation's position among all entries.
    pub index: u64,
    /// The invocation's map, for error positions.
    pub at: Node,
    /// How it ended; None: it never did.
    pub completion: Option<Completion>,
}

impl JepsenOp {
    /// The value that counts: the completion's when it is `:ok`, else the invocation's.
    pub fn effective_value(&self) -> &Node {
        match &self.completion {
            Some(c) if c.kind == OpType::Ok => &c.value,
            _ => &self.value,
        }
    }

    fn ok(&self) -> bool {
        self.completion
            .as_ref()
            .is_some_and(|c| c.kind == OpType::Ok)
    }

    fn failed(&self) -> bool {
        self.completion
            .as_ref()
            .is_some_and(|c| c.kind == OpType::Fail)
    }

    /// The operation with the model's input and output; failed operations are dropped by the
    /// callers before this.
    fn operation<I, O>(&self, input: I, output: Option<O>) -> Operation<I, O> {
        let known = self.ok();
        Operation {
            client: self.process as u64,
            call: self.index,
            ret: self.completion.as_ref().filter(|_| known).map(|c| c.index),
            input,
            output: if known { output } else { None },
            source: Source {
                invoke_line: Some(self.at.line),
                complete_line: self.completion.as_ref().map(|c| c.line),
                id: None,
            },
        }
    }
}

/// Reads the operations of a Jepsen EDN history, paired.
pub fn read(text: &str) -> Result<Vec<JepsenOp>, ReadError> {
    let mut entries = Vec::new();
    for form in edn::parse(text)? {
        match &form.value {
            Edn::Map(_) => entries.push(form),
            Edn::Vector(items) | Edn::List(items) => entries.extend(items.iter().cloned()),
            other => {
                return Err(form.error(format!(
                    "expected an operation map, or a vector or list of them; found {}",
                    kind_of(other)
                )))
            }
        }
    }
    let mut ops: Vec<JepsenOp> = Vec::new();
    let mut open: BTreeMap<i64, usize> = BTreeMap::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let index = index as u64;
        if !matches!(entry.value, Edn::Map(_)) {
            return Err(entry.error(format!(
                "expected an operation map like {{:type :invoke, :f :read, :value nil, :process 0}}, found {}",
                kind_of(&entry.value)
            )));
        }
        let kind = op_type(&entry)?;
        let Some(process) = process(&entry)? else {
            continue;
        };
        let value = entry.get("value").cloned().unwrap_or(Node {
            value: Edn::Nil,
            line: entry.line,
            column: entry.column,
        });
        if kind == OpType::Invoke {
            if let Some(&earlier) = open.get(&process) {
                return Err(entry.error(format!(
                    "process {process} invokes again while its operation invoked at line {} is \
                     still open (a process waits for each completion; Jepsen gives a crashed \
                     process a new id)",
                    ops[earlier].at.line
                )));
            }
            open.insert(process, ops.len());
            ops.push(JepsenOp {
                process,
                f: function(&entry)?,
                key: entry.get("key").map(key_name),
                value,
                index,
                at: entry,
                completion: None,
            });
        } else {
            let Some(at) = open.remove(&process) else {
                return Err(entry.error(format!(
                    "a completion ({}) of process {process}, which has no operation open",
                    type_name(kind)
                )));
            };
            ops[at].completion = Some(Completion {
                kind,
                value,
                index,
                line: entry.line,
            });
        }
    }
    Ok(ops)
}

fn kind_of(value: &Edn) -> &'static str {
    match value {
        Edn::Nil => "nil",
        Edn::Bool(_) => "a boolean",
        Edn::Int(_) => "an integer",
        Edn::Float(_) => "a float",
        Edn::Str(_) => "a string",
        Edn::Char(_) => "a character",
        Edn::Keyword(_) => "a keyword",
        Edn::Symbol(_) => "a symbol",
        Edn::List(_) => "a list",
        Edn::Vector(_) => "a vector",
        Edn::Map(_) => "a map",
        Edn::Set(_) => "a set",
        Edn::Tagged(..) => "a tagged value",
    }
}

fn type_name(kind: OpType) -> &'static str {
    match kind {
        OpType::Invoke => ":invoke",
        OpType::Ok => ":ok",
        OpType::Fail => ":fail",
        OpType::Info => ":info",
    }
}

fn op_type(entry: &Node) -> Result<OpType, ReadError> {
    let Some(node) = entry.get("type") else {
        return Err(
            entry.error("this operation has no :type (expected :invoke, :ok, :fail or :info)")
        );
    };
    match &node.value {
        Edn::Keyword(k) if k == "invoke" => Ok(OpType::Invoke),
        Edn::Keyword(k) if k == "ok" => Ok(OpType::Ok),
        Edn::Keyword(k) if k == "fail" => Ok(OpType::Fail),
        Edn::Keyword(k) if k == "info" => Ok(OpType::Info),
        other => Err(node.error(format!(
            ":type must be :invoke, :ok, :fail or :info, found {other}"
        ))),
    }
}

/// The process; None for non-integer ones (the nemesis), which are ignored.
fn process(entry: &Node) -> Result<Option<i64>, ReadError> {
    match entry.get("process").map(|n| &n.value) {
        Some(Edn::Int(p)) if *p >= 0 => Ok(Some(*p)),
        Some(Edn::Int(p)) => Err(entry.error(format!("process {p} is negative"))),
        Some(_) => Ok(None),
        None => Err(entry.error("this operation has no :process")),
    }
}

fn function(entry: &Node) -> Result<String, ReadError> {
    match entry.get("f").map(|n| &n.value) {
        Some(Edn::Keyword(f) | Edn::Symbol(f) | Edn::Str(f)) => Ok(f.clone()),
        Some(other) => Err(entry
            .get("f")
            .unwrap()
            .error(format!(":f must be a keyword like :read, found {other}"))),
        None => Err(entry.error("this operation has no :f (expected e.g. :read, :write, :cas)")),
    }
}

fn key_name(node: &Node) -> String {
    match &node.value {
        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s.clone(),
        other => other.to_string(),
    }
}

fn int(node: &Node, what: &str) -> Result<i64, ReadError> {
    match node.value {
        Edn::Int(v) => Ok(v),
        ref other => Err(node.error(format!("{what} must be an integer, found {other}"))),
    }
}

fn int_or_nil(node: &Node, what: &str) -> Result<Option<i64>, ReadError> {
    match node.value {
        Edn::Nil => Ok(None),
        _ => int(node, what).map(Some),
    }
}

fn not_in_model(op: &JepsenOp, model: &str, expected: &str) -> ReadError {
    op.at.get("f").unwrap_or(&op.at).error(format!(
        ":f :{} is not an operation of the {model} model (expected {expected}){}",
        op.f,
        match op.f.as_str() {
            "get" | "put" | "append" => "; for get/put/append histories use --model kv",
            "read" | "write" | "cas" => "; for read/write/cas histories use --model cas-register",
            _ => "",
        }
    ))
}

/// A compare-and-set register (Knossos's `cas-register`), one per `:key` when entries have one.
/// A read of nil is unknown; a read of a set or vector of integers returned siblings.
pub fn cas_register(ops: &[JepsenOp]) -> Result<OpLog<RegisterInput, RegisterOutput>, ReadError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops.iter().filter(|op| !op.failed()) {
        let value = op.effective_value();
        let (register_op, output) = match op.f.as_str() {
            "read" => {
                let output = match &value.value {
                    Edn::Nil => None,
                    Edn::Set(items) | Edn::Vector(items) if op.ok() => {
                        Some(RegisterOutput::Siblings(
                            items
                                .iter()
                                .map(|n| int(n, "a sibling value"))
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    _ if op.ok() => Some(RegisterOutput::Read(Some(int(value, "a read's value")?))),
                    _ => None,
                };
                (RegisterOp::Read, output)
            }
            "write" => (
                RegisterOp::Write(int(value, "a write's value")?),
                Some(RegisterOutput::Done),
            ),
            "cas" => {
                let pair = value
                    .elements()
                    .filter(|items| items.len() == 2)
                    .ok_or_else(|| {
                        value.error(format!(
                            "a cas's value must be [expected new], found {}",
                            value.value
                        ))
                    })?;
                let register_op = RegisterOp::Cas {
                    expected: int_or_nil(&pair[0], "a cas's expected value")?,
                    new: int(&pair[1], "a cas's new value")?,
                };
                (register_op, Some(RegisterOutput::Done))
            }
            _ => return Err(not_in_model(op, "cas-register", ":read, :write or :cas")),
        };
        let input = RegisterInput {
            key: op.key.clone(),
            op: register_op,
        };
        out.push(op.operation(input, output));
    }
    Ok(OpLog {
        ops: out,
        time_unit: TimeUnit::Position,
    })
}

fn string(node: &Node, what: &str) -> Result<String, ReadError> {
    match &node.value {
        Edn::Str(s) => Ok(s.clone()),
        other => Err(node.error(format!("{what} must be a string, found {other}"))),
    }
}

/// Porcupine's key-value store: get, put and append on string keys, initially empty. A get
/// that completed with nil is an unknown read.
pub fn kv(ops: &[JepsenOp]) -> Result<OpLog<KvInput, KvOutput>, ReadError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops.iter().filter(|op| !op.failed()) {
        let Some(key) = op.key.clone() else {
            return Err(op.at.error("a kv operation needs a :key"));
        };
        let value = op.effective_value();
        let (kv_op, output) = match op.f.as_str() {
            "get" => {
                let output = match &value.value {
                    Edn::Nil => None,
                    _ => Some(KvOutput::Value(string(value, "a get's value")?)),
                };
                (KvOp::Get, output)
            }
            "put" => (
                KvOp::Put(string(value, "a put's value")?),
                Some(KvOutput::Done),
            ),
            "append" => (
                KvOp::Append(string(value, "an append's value")?),
                Some(KvOutput::Done),
            ),
            _ => return Err(not_in_model(op, "kv", ":get, :put or :append")),
        };
        out.push(op.operation(KvInput { key, op: kv_op }, output));
    }
    Ok(OpLog {
        ops: out,
        time_unit: TimeUnit::Position,
    })
}

/// Knossos's mutex: acquire and release.
pub fn mutex(ops: &[JepsenOp]) -> Result<OpLog<MutexOp, ()>, ReadError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops.iter().filter(|op| !op.failed()) {
        let input = match op.f.as_str() {
            "acquire" => MutexOp::Acquire,
            "release" => MutexOp::Release,
            _ => return Err(not_in_model(op, "mutex", ":acquire or :release")),
        };
        out.push(op.operation(input, Some(())));
    }
    Ok(OpLog {
        ops: out,
        time_unit: TimeUnit::Position,
    })
}

/// Knossos's multi-register: `:txn` of `[:read k v]` and `[:write k v]` micro-operations.
pub fn multi_register(ops: &[JepsenOp]) -> Result<OpLog<Vec<MicroOp>, ()>, ReadError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops.iter().filter(|op| !op.failed()) {
        if op.f != "txn" {
            return Err(not_in_model(op, "multi-register", ":txn"));
        }
        let value = op.effective_value();
        let micros = value
            .elements()
            .ok_or_else(|| value.error("a :txn's value must be a vector of [f k v]"))?;
        let mut input = Vec::with_capacity(micros.len());
        for micro in micros {
            let parts = micro
                .elements()
                .filter(|p| p.len() == 3)
                .ok_or_else(|| micro.error("a micro-operation must be [f k v]"))?;
            let key = key_name(&parts[1]);
            input.push(match &parts[0].value {
                Edn::Keyword(f) if f == "read" => {
                    MicroOp::Read(key, int_or_nil(&parts[2], "a read's value")?)
                }
                Edn::Keyword(f) if f == "write" => {
                    MicroOp::Write(key, int(&parts[2], "a write's value")?)
                }
                other => {
                    return Err(parts[0].error(format!("expected :read or :write, found {other}")))
                }
            });
        }
        out.push(op.operation(input, Some(())));
    }
    Ok(OpLog {
        ops: out,
        time_unit: TimeUnit::Position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_collection_and_one_map_per_line_read_the_same() {
        let maps = "{:type :invoke, :process 1, :f :read, :value nil}\n\
                    {:type :invoke, :process 101, :f :write, :value 3}\n\
                    {:type :fail, :process 101, :f :write, :value 3, :error [:temporarily-unavailable nil]}\n\
                    {:type :ok, :process 1, :f :read, :value 3}\n";
        let vector = format!("; a comment\n[{maps}]");
        let a = read(maps).unwrap();
        let b = read(&vector).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a.iter().map(|o| o.index).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(b.iter().map(|o| o.index).collect::<Vec<_>>(), vec![0, 1]);
        let log = cas_register(&a).unwrap();
        // The failed write is dropped; the read's value comes from its completion.
        assert_eq!(log.ops.len(), 1);
        assert_eq!(log.ops[0].output, Some(RegisterOutput::Read(Some(3))));
        assert_eq!((log.ops[0].call, log.ops[0].ret), (0, Some(3)));
        assert_eq!(log.ops[0].source.invoke_line, Some(1));
    }

    #[test]
    fn info_and_open_operations_have_no_completion_and_nil_reads_are_unknown() {
        let text = "[{:type :invoke, :process 0, :f :write, :value 1}
                     {:type :info, :process :nemesis, :f :start, :value \"partition\"}
                     {:type :info, :process 0, :f :write, :value 1}
                     {:type :invoke, :process 1, :f :read, :value nil}
                     {:type :ok, :process 1, :f :read, :value nil}
                     {:type :invoke, :process 2, :f :cas, :value [1 2]}]";
        let log = cas_register(&read(text).unwrap()).unwrap();
        assert_eq!(log.ops.len(), 3);
        assert_eq!((log.ops[0].ret, &log.ops[0].output), (None, &None));
        assert_eq!(log.ops[1].output, None, "a nil read is unknown");
        assert_eq!(
            log.ops[2].input.op,
            RegisterOp::Cas {
                expected: Some(1),
                new: 2
            }
        );
        assert_eq!(log.ops[2].call, 5, "positions count nemesis entries");
    }

    #[test]
    fn bad_histories_say_where_and_why() {
        let cases = [
            (
                "[{:type :invoke, :process 0, :f :read}\n{:type :invoke, :process 0, :f :read}]",
                2,
                "invokes again",
            ),
            (
                "{:type :ok, :process 3, :f :read, :value 1}",
                1,
                "no operation open",
            ),
            ("{:type :done, :process 3, :f :read}", 1, ":type must be"),
            ("{:type :invoke, :f :read}", 1, "no :process"),
            ("[1 2]", 1, "expected an operation map"),
        ];
        for (text, line, reason) in cases {
            let error = read(text).expect_err(text);
            assert_eq!(error.line, line, "{text}: {error}");
            assert!(error.reason.contains(reason), "{text}: {error}");
        }
        let appends =
            read("{:type :invoke, :process 0, :f :append, :key \"k\", :value \"x\"}").unwrap();
        let error = cas_register(&appends).expect_err("not a register op");
        assert!(error.reason.contains("use --model kv"), "{error}");
        let bad_value = read("{:type :invoke, :process 0, :f :write, :value \"x\"}").unwrap();
        let error = cas_register(&bad_value).expect_err("a string write");
        assert_eq!((error.line, error.column), (1, Some(47)), "{error}");
    }

    #[test]
    fn kv_and_multi_register_values() {
        let text = "{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                    {:process 0, :type :ok, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                    {:process 0, :type :invoke, :f :get, :key \"0\", :value nil}\n\
                    {:process 0, :type :ok, :f :get, :key \"0\", :value \"x 0 0 y\"}\n";
        let log = kv(&read(text).unwrap()).unwrap();
        assert_eq!(log.ops[1].output, Some(KvOutput::Value("x 0 0 y".into())));
        let txn = "[{:type :invoke, :f :txn, :value [[:read :x nil] [:write :y 2]], :process 2}
                    {:type :ok, :f :txn, :value [[:read :x 0] [:write :y 2]], :process 2}]";
        let log = multi_register(&read(txn).unwrap()).unwrap();
        assert_eq!(
            log.ops[0].input,
            vec![
                MicroOp::Read("x".into(), Some(0)),
                MicroOp::Write("y".into(), 2)
            ]
        );
    }
}
