//! `faultline shrink` on the known-bad LWW variants: the minimal scenario keeps the violation,
//! is at most a tenth of the operations, replays with the reported hash, and is stable.

mod common;
use common::faultline;

fn temp(name: &str) -> String {
    common::temp("shrink", name)
}

fn variant(name: &str) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/scenarios/lww-partition-heals.ron",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace(
        "replicate_every: \"20ms\")",
        &format!("replicate_every: \"20ms\", variant: {name})"),
    );
    let path = temp(&format!("{name}.ron"));
    std::fs::write(&path, text).unwrap();
    path
}

/// (removed line, trace hash line) of a shrink's output.
fn shrink(file: &str, seed: &str, out: &str) -> (String, String) {
    let output = faultline(&["shrink", file, "--seed", seed, "--out", out]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("--runs-max"),
        "the run budget ran out: {text}"
    );
    let line = |label: &str| {
        text.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {text}"))
            .to_string()
    };
    (line("removed"), line("trace hash"))
}

/// The "operations A -> B" pair of a "removed" line (numbers written with thousands commas).
fn operations(removed: &str) -> (u64, u64) {
    let pair = removed
        .split("operations ")
        .nth(1)
        .and_then(|rest| rest.split(", duration").next())
        .unwrap_or_else(|| panic!("no operations in {removed}"));
    let (before, after) = pair.split_once(" -> ").unwrap();
    let number = |n: &str| n.replace(',', "").trim().parse::<u64>().unwrap();
    (number(before), number(after))
}

fn check_variant(name: &str, violation: &str) {
    let file = variant(name);
    let minimal = temp(&format!("{name}-min.ron"));
    let (removed, hash) = shrink(&file, "3", &minimal);
    let (before, after) = operations(&removed);
    assert!(after * 10 <= before, "{name}: {removed}");
    // The minimal scenario fails the same way, with the hash shrink reported.
    let run = faultline(&["run", &minimal, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["violations"][0]["name"], violation, "{name}");
    assert!(
        hash.ends_with(&format!(
            "{} (minimal run)",
            report["trace_hash"].as_str().unwrap()
        )),
        "{hash}"
    );
    // Shrinking the output again removes nothing.
    let again = temp(&format!("{name}-min2.ron"));
    let (removed_again, _) = shrink(&minimal, "3", &again);
    let (x, y) = operations(&removed_again);
    assert_eq!(x, y, "{name}: second shrink removed more: {removed_again}");
    let strip = |path: &str| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(2)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&minimal),
        strip(&again),
        "{name}: the second shrink changed the scenario"
    );
}

#[test]
fn blind_merge_shrinks_to_a_stable_minimal_scenario() {
    check_variant("BlindMerge", "stamp-monotonic");
}

#[test]
fn fire_and_forget_shrinks_to_a_stable_minimal_scenario() {
    check_variant("FireAndForget", "convergence");
}

#[test]
fn a_passing_seed_has_nothing_to_shrink() {
    let file = format!("{}/scenarios/lww-no-faults.ron", env!("CARGO_MANIFEST_DIR"));
    let output = faultline(&["shrink", &file, "--seed", "1", "--out", &temp("pass.ron")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to shrink"));
}
