//! Determinism is the product: every bundled scenario gives the same trace hash twice — once
//! in this process and once in a child process — and a different seed gives a different hash.

use faultline::pipeline::run_and_report;
use faultline::Registry;
use sim_core::engine::RunOptions;
use std::path::PathBuf;
use std::process::Command;

fn bundled_scenarios() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = faultline::bundled::scenario_files(&dir);
    assert!(
        files.len() >= 3,
        "expected the bundled scenarios in {dir:?}"
    );
    files
}

fn hash_in_process(registry: &Registry, file: &str, seed: u64) -> String {
    let scenario = registry
        .load_file(file)
        .expect("bundled scenarios are valid");
    let (_, report) = run_and_report(
        "faultline",
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        None,
    );
    report.trace_hash
}

fn hash_in_child(file: &str, seed: u64) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", file, "--json", "--seed", &seed.to_string()])
        .output()
        .expect("the binary runs");
    let code = output.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "{file}: exit {code:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    report["trace_hash"]
        .as_str()
        .expect("trace_hash")
        .to_string()
}

#[test]
fn every_bundled_scenario_hashes_the_same_in_process_and_in_a_child_process() {
    let registry = Registry::builtin();
    for path in bundled_scenarios() {
        let file = path.display().to_string();
        let seed = registry.load_file(&file).unwrap().seed().unwrap_or(1);
        let here = hash_in_process(&registry, &file, seed);
        let again = hash_in_process(&registry, &file, seed);
        let child = hash_in_child(&file, seed);
        assert_eq!(here, again, "{file}: two runs in one process differ");
        assert_eq!(here, child, "{file}: the child process disagrees");
        let other = hash_in_process(&registry, &file, seed + 1);
        assert_ne!(
            here,
            other,
            "{file}: seeds {seed} and {} give the same hash",
            seed + 1
        );
    }
}

#[test]
fn check_determinism_flag_reports_a_deterministic_run() {
    let file = format!(
        "{}/scenarios/lww-partition-heals.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", &file, "--check-determinism"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("deterministic: seed 3"), "{stdout}");
}

/// One golden hash per protocol. If this changes, every recorded seed replays differently:
/// change it only on purpose, in the commit that changes the engine or the protocol.
#[test]
fn golden_trace_hash_of_lww() {
    let registry = Registry::builtin();
    let file = format!("{}/scenarios/lww-no-faults.ron", env!("CARGO_MANIFEST_DIR"));
    assert_eq!(hash_in_process(&registry, &file, 1), "55b219c150f5f1c4");
}
