//! `sweep` and `merge` as CI uses them: results independent of --jobs, shards that add up to
//! the whole, and a killed sweep that resumes without rerunning what it finished.

mod common;
use common::faultline;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

fn scenario(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn temp(name: &str) -> String {
    common::temp("sweep", name)
}

/// The results file as a sorted set of lines without the wall time, the one field that
/// legitimately varies.
fn results(path: &str) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            value.as_object_mut().unwrap().remove("wall_ms");
            value.to_string()
        })
        .collect()
}

fn sweep(extra: &[&str], out: &str) -> Output {
    let mut args = vec![
        "sweep".to_string(),
        scenario("lww-partition-heals.ron"),
        scenario("lww-clock-skew.ron"),
        "--seeds".into(),
        "0..24".into(),
        "--out".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    faultline(&args)
}

#[test]
fn results_and_summary_do_not_depend_on_jobs() {
    let (one, two) = (temp("jobs1.jsonl"), temp("jobs2.jsonl"));
    let a = sweep(&["--jobs", "1"], &one);
    let b = sweep(&["--jobs", "2"], &two);
    assert_eq!(a.status.code(), Some(1), "clock skew loses writes");
    assert_eq!(b.status.code(), Some(1));
    assert_eq!(results(&one).len(), 48);
    assert_eq!(results(&one), results(&two));
    assert_eq!(a.stdout, b.stdout, "the summaries differ");
    let summary = String::from_utf8_lossy(&a.stdout);
    assert!(summary.contains("lww-clock-skew"), "{summary}");
    assert!(summary.contains("--seed"), "{summary}");
}

#[test]
fn three_shards_add_up_to_the_whole_and_merge_prints_the_same_summary() {
    let whole = temp("whole.jsonl");
    let full = sweep(&[], &whole);
    let mut union = BTreeSet::new();
    let mut shards = Vec::new();
    for k in 1..=3 {
        let path = temp(&format!("shard{k}.jsonl"));
        let shard = format!("{k}/3");
        sweep(&["--shard", &shard], &path);
        let part = results(&path);
        assert!(part.is_disjoint(&union), "shard {k} overlaps another");
        union.extend(part);
        shards.push(path);
    }
    assert_eq!(union, results(&whole));
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(String::as_str));
    let merged = faultline(&args);
    assert_eq!(merged.status.code(), full.status.code());
    assert_eq!(merged.stdout, full.stdout);
}

#[test]
fn a_killed_sweep_keeps_what_it_finished_and_resume_runs_only_the_rest() {
    let path = temp("killed.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "sweep",
            &scenario("lww-random-nemesis.ron"),
            "--seeds",
            "0..400",
            "--jobs",
            "1",
            "--out",
            &path,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for a few finished runs, then kill it mid-sweep.
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let lines = std::fs::read_to_string(&path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 5 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it could be killed"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    let finished: Vec<serde_json::Value> = before
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(
        finished.len() >= 5 && finished.len() < 400,
        "{} finished",
        finished.len()
    );
    let resumed = faultline(&[
        "sweep",
        &scenario("lww-random-nemesis.ron"),
        "--seeds",
        "0..400",
        "--jobs",
        "2",
        "--resume",
        &path,
    ]);
    assert!(
        matches!(resumed.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let after: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line whole after resume"))
        .collect();
    let seeds: Vec<u64> = after.iter().map(|v| v["seed"].as_u64().unwrap()).collect();
    let unique: BTreeSet<u64> = seeds.iter().copied().collect();
    assert_eq!(unique, (0..400).collect(), "every seed recorded");
    assert_eq!(seeds.len(), 400, "no seed run twice");
    // The runs finished before the kill are still there, untouched, first in the file.
    for (kept, line) in finished.iter().zip(&after) {
        assert_eq!(kept, line);
    }
}

#[test]
fn junit_and_bad_flags() {
    let out = temp("junit.jsonl");
    let xml_path = temp("junit.xml");
    sweep(&["--junit", &xml_path], &out);
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(
        xml.contains("<testsuite name=\"lww-clock-skew\" tests=\"24\""),
        "{xml}"
    );
    assert!(xml.contains("<failure message=\"lost-writes\">"), "{xml}");
    let file = scenario("lww-no-faults.ron");
    for (flag, value, message) in [
        ("--seeds", "9..3", "the seed range \"9..3\" is empty"),
        ("--shard", "4/3", "expected --shard K/N with 1 <= K <= N"),
        ("--jobs", "0", "--jobs must be at least 1"),
    ] {
        let output = faultline(&["sweep", &file, flag, value, "--out", &temp("bad.jsonl")]);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{flag} {value}: {stderr}");
    }
    let torn = temp("torn.jsonl");
    std::fs::write(&torn, "{\"scenario\": 3}\n").unwrap();
    let output = faultline(&["merge", &torn]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("torn.jsonl:1:"));
}

#[test]
fn results_may_go_into_a_folder_that_does_not_exist_yet() {
    let folder = temp("new-folder");
    let _ = std::fs::remove_dir_all(&folder);
    let out = format!("{folder}/nested/results.jsonl");
    let output = faultline(&[
        "sweep",
        &scenario("lww-no-faults.ron"),
        "--seeds",
        "1..3",
        "--out",
        &out,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let results = std::fs::read_to_string(&out).expect("the results file was written");
    assert_eq!(results.lines().count(), 2);
}
