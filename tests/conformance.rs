//! Conformance: every history with a verdict in `../shared/conformance/*/MANIFEST.tsv` (from
//! Porcupine's and Knossos's own test suites), checked under the manifest's model. Our verdict
//! must match theirs on every row, and where Knossos's tests pin the first operation it cannot
//! linearize, our witness must name the same one.
//!
//! Speed is measured by `cargo bench --bench checker`, never here.

use checkers::history_formats::{jepsen, porcupine, ReadError};
use checkers::linearizability::models::{CasRegister, Kv, KvWholeMap, MultiRegister, Mutex};
use checkers::linearizability::{self as lin, Model, OpLog, Options, Report, Verdict};
use std::path::{Path, PathBuf};

fn conformance() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

/// One manifest row.
#[derive(Debug)]
struct Row {
    file: String,
    model: String,
    expected: Verdict,
}

fn manifest(set: &str) -> Vec<Row> {
    let path = conformance().join(set).join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared folder sits beside the repository)",
            path.display()
        )
    });
    let mut lines = text.lines();
    assert_eq!(
        lines
            .next()
            .map(|h| h.split('\t').take(3).collect::<Vec<_>>()),
        Some(vec!["file", "model", "expected"]),
        "{} header",
        path.display()
    );
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let expected = match fields[2] {
                "linearizable" => Verdict::Holds,
                "not" => Verdict::Violated,
                other => panic!("{}: unknown verdict {other:?}", path.display()),
            };
            Row {
                file: fields[0].to_string(),
                model: fields[1].to_string(),
                expected,
            }
        })
        .collect()
}

fn run<M: Model>(
    model: &M,
    log: Result<OpLog<M::Input, M::Output>, ReadError>,
    options: &Options,
) -> Result<Report, String> {
    log.map(|log| lin::check(model, &log, options))
        .map_err(|e| e.to_string())
}

/// Reads `row`'s file with its format's semantics and checks it under `row`'s model.
fn check_row(set: &str, row: &Row, options: &Options) -> Result<Report, String> {
    let path = conformance().join(set).join(&row.file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ops = || jepsen::read(&text);
    match row.model.as_str() {
        "etcd-cas-register" => run(&CasRegister { init: None }, porcupine::read(&text), options),
        "kv-append-put-get/partitioned-by-key" => {
            run(&Kv, ops().and_then(|o| jepsen::kv(&o)), options)
        }
        "kv-append-put-get/whole-map-no-partition" => {
            run(&KvWholeMap, ops().and_then(|o| jepsen::kv(&o)), options)
        }
        "cas-register(init=0)" => run(
            &CasRegister { init: Some(0) },
            ops().and_then(|o| jepsen::cas_register(&o)),
            options,
        ),
        "cas-register(init=nil)" => run(
            &CasRegister { init: None },
            ops().and_then(|o| jepsen::cas_register(&o)),
            options,
        ),
        "multi-register(x=0,y=0)" => {
            let init = [("x".to_string(), 0), ("y".to_string(), 0)]
                .into_iter()
                .collect();
            run(
                &MultiRegister { init },
                ops().and_then(|o| jepsen::multi_register(&o)),
                options,
            )
        }
        "mutex(unlocked)" => run(&Mutex, ops().and_then(|o| jepsen::mutex(&o)), options),
        other => Err(format!("unknown model {other:?}")),
    }
}

fn verdicts_only() -> Options {
    Options {
        witness: false,
        ..Options::default()
    }
}

/// Checks every row of `set` whose model `wanted` accepts; returns the rows checked.
fn check_set(set: &str, wanted: impl Fn(&str) -> bool) -> usize {
    let rows: Vec<Row> = manifest(set)
        .into_iter()
        .filter(|r| wanted(&r.model))
        .collect();
    let mut wrong = Vec::new();
    for row in &rows {
        match check_row(set, row, &verdicts_only()) {
            Ok(report) if report.verdict == row.expected => {}
            Ok(report) => wrong.push(format!(
                "{set}/{} under {}: expected {:?}, got {:?} ({})",
                row.file,
                row.model,
                row.expected,
                report.verdict,
                report.unknown.unwrap_or_default()
            )),
            Err(error) => wrong.push(format!("{set}/{}: unreadable: {error}", row.file)),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows differ:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
    rows.len()
}

#[test]
fn porcupine_etcd_histories_match_porcupines_verdicts() {
    assert_eq!(check_set("porcupine", |m| m == "etcd-cas-register"), 102);
}

#[test]
fn porcupine_kv_histories_match_partitioned_and_whole_map() {
    assert_eq!(check_set("porcupine", |m| m.starts_with("kv-")), 10);
}

#[test]
fn knossos_histories_match_knossos_verdicts() {
    assert_eq!(check_set("knossos", |_| true), 124);
}

#[test]
fn the_empty_etcd_log_without_a_verdict_reads_as_an_empty_linearizable_history() {
    let row = Row {
        file: "jepsen/etcd_095.log".into(),
        model: "etcd-cas-register".into(),
        expected: Verdict::Holds,
    };
    let report = check_row("porcupine", &row, &verdicts_only()).unwrap();
    assert_eq!((report.verdict, report.operations), (Verdict::Holds, 0));
}

/// The operations Knossos's tests name as the first it cannot linearize (conformance README):
/// (file, init, the completion's `:index`).
const KNOSSOS_CULPRITS: [(&str, &str, u64); 5] = [
    (
        "cas-register/bad/cas-failure.edn",
        "cas-register(init=0)",
        491,
    ),
    (
        "cas-register/bad/immediate-failure.edn",
        "cas-register(init=0)",
        3,
    ),
    (
        "cas-register/bad/rethink-fail-minimal.edn",
        "cas-register(init=nil)",
        4,
    ),
    (
        "cas-register/bad/rethink-fail-smaller.edn",
        "cas-register(init=nil)",
        217,
    ),
    (
        "cas-register/bad/bad-analysis.edn",
        "cas-register(init=0)",
        14,
    ),
];

#[test]
fn witnesses_name_the_operation_knossos_names() {
    for (file, model, index) in KNOSSOS_CULPRITS {
        let row = Row {
            file: file.into(),
            model: model.into(),
            expected: Verdict::Violated,
        };
        let report = check_row("knossos", &row, &Options::default()).unwrap();
        assert_eq!(report.verdict, Verdict::Violated, "{file}");
        let witness = report.witness.expect("a witness");
        let culprit = witness.culprit.as_ref().expect("a culprit");
        assert_eq!(culprit.ret, Some(index), "{file}:\n{witness}");
        assert!(
            witness.ops.iter().any(|op| op == culprit),
            "{file}: the culprit is in the set"
        );
    }
}

#[test]
fn every_manifest_row_names_a_file_that_exists() {
    for set in ["porcupine", "knossos"] {
        for row in manifest(set) {
            assert!(
                conformance().join(set).join(&row.file).is_file(),
                "{set}/{}",
                row.file
            );
        }
    }
}
