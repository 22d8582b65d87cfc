//! Porcupine's Jepsen etcd logs (`test_data/jepsen/etcd_NNN.log`), with the semantics of
//! Porcupine's `parseJepsenLog` and `etcdModel`:
//!
//! ```text
//! INFO  jepsen.util - 2    :invoke    :cas    [3 0]    (separators: tabs or runs of spaces)
//! ```
//!
//! Fields are separated by any whitespace. A completion pairs with the open invocation of the
//! same process. The register starts absent; `:ok :read nil` read it absent; `:fail :read
//! :timed-out` returned with an unknown value; `:fail :cas` means the compare did not match;
//! `:info` lines are ignored, so that operation never returns and may take effect at any time
//! after its invocation (Jepsen gives the process a new id afterwards). Blank lines are skipped.

use super::ReadError;
use crate::linearizability::models::{RegisterInput, RegisterOp, RegisterOutput};
use crate::linearizability::{OpLog, Operation, Source, TimeUnit};
use std::collections::BTreeMap;

const MARKER: &str = "jepsen.util -";

/// Reads an etcd log as a compare-and-set register history.
pub fn read(text: &str) -> Result<OpLog<RegisterInput, RegisterOutput>, ReadError> {
    let mut ops: Vec<Operation<RegisterInput, RegisterOutput>> = Vec::new();
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let mut position = 0u64;
    for (number, line) in text.lines().enumerate() {
        let number = number as u32 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields = fields(line).ok_or_else(|| {
            ReadError::at_line(
                number,
                format!(
                    "expected `INFO  jepsen.util - <process> <type> <f> <value>`, found {:?}",
                    line
                ),
            )
        })?;
        let [process, kind, f, value] = fields;
        let process: u64 = process.parse().map_err(|_| {
            ReadError::at_line(
                number,
                format!("the process must be a number, found {process:?}"),
            )
        })?;
        let bad = |what: &str| ReadError::at_line(number, format!("{what} in {:?}", line.trim()));
        position += 1;
        match kind {
            ":invoke" => {
                if let Some(&earlier) = open.get(&process) {
                    return Err(bad(&format!(
                        "process {process} invokes again while its operation at line {} is open",
                        ops[earlier].source.invoke_line.unwrap_or(0)
                    )));
                }
                let op = match f {
                    ":read" => RegisterOp::Read,
                    ":write" => RegisterOp::Write(
                        integer(value).ok_or_else(|| bad("a write needs an integer value"))?,
                    ),
                    ":cas" => {
                        let (expected, new) =
                            pair(value).ok_or_else(|| bad("a cas needs a value [expected new]"))?;
                        RegisterOp::Cas {
                            expected: Some(expected),
                            new,
                        }
                    }
                    _ => {
                        return Err(bad(&format!(
                            "unknown operation {f} (expected :read, :write or :cas)"
                        )))
                    }
                };
                open.insert(process, ops.len());
                ops.push(Operation {
                    client: process,
                    call: position,
                    ret: None,
                    input: RegisterInput { key: None, op },
                    output: None,
                    source: Source {
                        invoke_line: Some(number),
                        complete_line: None,
                        id: None,
                    },
                });
            }
            // The operation stays open: it never returns.
            ":info" => {
                open.remove(&process);
            }
            ":ok" | ":fail" => {
                let at = open.remove(&process).ok_or_else(|| {
                    bad(&format!(
                        "a completion of process {process}, which has no operation open"
                    ))
                })?;
                let op = &mut ops[at];
                op.ret = Some(position);
                op.source.complete_line = Some(number);
                op.output = match (op.input.op, kind) {
                    (RegisterOp::Read, ":ok") if value == "nil" => Some(RegisterOutput::Read(None)),
                    (RegisterOp::Read, ":ok") => Some(RegisterOutput::Read(Some(
                        integer(value).ok_or_else(|| bad("a read returns an integer or nil"))?,
                    ))),
                    // A timed-out read returned with an unknown value.
                    (RegisterOp::Read, _) => None,
                    (RegisterOp::Write(_), ":ok") => Some(RegisterOutput::Done),
                    (RegisterOp::Write(_), _) => {
                        return Err(bad("a write cannot fail in this format"))
                    }
                    (RegisterOp::Cas { .. }, ":ok") => Some(RegisterOutput::Done),
                    (RegisterOp::Cas { .. }, _) => Some(RegisterOutput::CasMismatch),
                };
            }
            _ => {
                return Err(bad(&format!(
                    "unknown type {kind} (expected :invoke, :ok, :fail or :info)"
                )))
            }
        }
    }
    Ok(OpLog {
        ops,
        time_unit: TimeUnit::Position,
    })
}

/// The four fields after the marker; the value is the rest of the line (`[1 2]` has a space).
fn fields(line: &str) -> Option<[&str; 4]> {
    let mut rest = &line[line.find(MARKER)? + MARKER.len()..];
    let mut take = || {
        let trimmed = rest.trim_start();
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        rest = &trimmed[end..];
        (end > 0).then_some(&trimmed[..end])
    };
    let (process, kind, f) = (take()?, take()?, take()?);
    let value = rest.trim();
    (!value.is_empty()).then_some([process, kind, f, value])
}

fn integer(text: &str) -> Option<i64> {
    text.parse().ok()
}

fn pair(text: &str) -> Option<(i64, i64)> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut parts = inner.split_whitespace();
    let pair = (integer(parts.next()?)?, integer(parts.next()?)?);
    parts.next().is_none().then_some(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_or_runs_of_spaces_and_porcupine_semantics() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 2   :invoke :cas    [3 0]\n\
                    INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
                    INFO  jepsen.util - 2\t:fail\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 1\t:invoke\t:write\t4\n\
                    INFO  jepsen.util - 1\t:info\t:write\t:timed-out\n\
                    \n\
                    INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n";
        let log = read(text).unwrap();
        let outputs: Vec<_> = log.ops.iter().map(|o| o.output.clone()).collect();
        assert_eq!(
            outputs,
            vec![
                Some(RegisterOutput::Read(None)),
                Some(RegisterOutput::CasMismatch),
                None,
                None
            ]
        );
        assert_eq!(log.ops[2].ret, None, "an :info write never returns");
        assert_eq!(
            log.ops[3].ret,
            Some(8),
            "a timed-out read returns, value unknown"
        );
        assert_eq!(
            log.ops[1].input.op,
            RegisterOp::Cas {
                expected: Some(3),
                new: 0
            }
        );
    }

    #[test]
    fn bad_lines_name_the_line() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nsomething else\n";
        let error = read(text).expect_err("bad line");
        assert_eq!(error.line, 2);
        assert!(error.reason.contains("expected `INFO"), "{error}");
        let text = "INFO  jepsen.util - 0\t:invoke\t:cas\t[1]\n";
        assert!(read(text)
            .expect_err("bad cas")
            .reason
            .contains("[expected new]"));
        let text = "INFO  jepsen.util - 0\t:ok\t:read\t1\n";
        assert!(read(text)
            .expect_err("orphan")
            .reason
            .contains("no operation open"));
    }
}
