//! The CLI as a user meets it: exit codes, the human summary, JSON and the JSON Lines trace.

mod common;
use common::faultline;

use std::path::PathBuf;
use std::process::{Command, Output};

fn scenario(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn no_faults_passes_and_converges_without_losing_writes() {
    let output = faultline(&["run", &scenario("lww-no-faults.ron")]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("seed        1"), "{text}");
    assert!(text.contains("lost writes 0 of"), "{text}");
    assert!(text.contains("verdict     PASS"), "{text}");
}

#[test]
fn clock_skew_loses_acknowledged_writes_and_exits_1_with_a_reproduction_command() {
    let file = scenario("lww-clock-skew.ron");
    let output = faultline(&["run", &file, "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["schema_version"], faultline::reports::SCHEMA_VERSION);
    let lost = report["lost_writes"]["lost"]
        .as_array()
        .expect("lost writes listed");
    assert!(!lost.is_empty());
    assert_eq!(report["violations"][0]["name"], "lost-writes");
    assert_eq!(
        report["reproduce"],
        format!("faultline run {file} --seed 7")
    );
    // With the offset removed, nothing is lost: the skew is the cause.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"-50ms\"", "\"0ms\"");
    let unskewed = temp_file("unskewed.ron", &text);
    let output = faultline(&["run", &unskewed, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["lost_writes"]["lost"].as_array().unwrap().len(), 0);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_partition_diverges_then_converges() {
    let output = faultline(&["run", &scenario("lww-partition-heals.ron"), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let convergence = &report["convergence"];
    assert_eq!(convergence["converged"], true);
    assert!(convergence["peak_keys_diverged"].as_u64().unwrap() > 0);
    assert!(convergence["time_to_converge_ns"].as_u64().is_some());
    let partitioned = report["network"]["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry[0] == "partitioned")
        .map(|entry| entry[1].as_u64().unwrap());
    assert!(partitioned.unwrap_or(0) > 0);
}

#[test]
fn fire_and_forget_replication_never_converges_after_a_partition() {
    let text = std::fs::read_to_string(scenario("lww-partition-heals.ron"))
        .unwrap()
        .replace(
            "replicate_every: \"20ms\")",
            "replicate_every: \"20ms\", variant: FireAndForget)",
        );
    let file = temp_file("fire-and-forget.ron", &text);
    let output = faultline(&["run", &file, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["convergence"]["converged"], false);
    assert_eq!(report["violations"][0]["name"], "convergence");
}

#[test]
fn blind_merge_is_caught_by_the_stamp_invariant() {
    let text = std::fs::read_to_string(scenario("lww-partition-heals.ron"))
        .unwrap()
        .replace(
            "replicate_every: \"20ms\")",
            "replicate_every: \"20ms\", variant: BlindMerge)",
        );
    let file = temp_file("blind-merge.ron", &text);
    let output = faultline(&["run", &file, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let invariant = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["source"] == "invariant")
        .expect("an invariant violation");
    assert_eq!(invariant["name"], "stamp-monotonic");
    assert!(invariant["event"].as_u64().is_some());
}

#[test]
fn trace_file_holds_one_json_line_per_event() {
    let trace = temp_file("trace.jsonl", "");
    let output = faultline(&[
        "run",
        &scenario("lww-no-faults.ron"),
        "--json",
        "--trace",
        &trace,
    ]);
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len() as u64, report["events"].as_u64().unwrap());
    assert_eq!(lines[0]["i"], 0);
    assert!(lines.iter().any(|l| l["kind"] == "deliver"));
}

#[test]
fn validate_accepts_every_bundled_scenario_and_list_names_them() {
    let mut args = vec!["validate".to_string()];
    for path in faultline::bundled::scenario_files(std::path::Path::new(&scenario(""))) {
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = faultline(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout(&output)
            .lines()
            .filter(|l| l.starts_with("ok"))
            .count(),
        args.len() - 1
    );
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("list")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(text.contains("lww"), "{text}");
    assert!(text.contains("lww-clock-skew"), "{text}");
}

#[test]
fn a_run_without_a_seed_anywhere_picks_one_and_reports_it() {
    let text = std::fs::read_to_string(scenario("lww-no-faults.ron"))
        .unwrap()
        .replace("seed: 1,", "");
    let file = temp_file("no-seed.ron", &text);
    let output = faultline(&["run", &file, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let seed = report["seed"].as_u64().expect("a seed");
    let again = faultline(&["run", &file, "--json", "--seed", &seed.to_string()]);
    let replay: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(report["trace_hash"], replay["trace_hash"]);
}

fn temp_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("faultline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}
