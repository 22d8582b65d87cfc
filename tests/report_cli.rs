//! `faultline run --report DIR --png DIR` and `faultline report FILE` as a user meets them.

mod common;
use common::faultline;

use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("report-cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn run_writes_json_html_and_png_and_report_renders_them_again() {
    let scenario = format!(
        "{}/scenarios/lww-partition-heals.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = scratch("partition");
    let (out, png) = (dir.join("out"), dir.join("png"));
    let run = faultline(&[
        "run",
        &scenario,
        "--report",
        out.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(summary.contains("causes      partition:"), "{summary}");
    assert!(summary.lines().count() <= 24, "{summary}");
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(report["space_time"]["events"]
        .as_array()
        .is_some_and(|e| !e.is_empty()));
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("chart-space-time"));
    for chart in ["divergence", "space-time", "history", "clocks", "latency"] {
        let bytes = std::fs::read(png.join(format!("{chart}.png"))).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{chart}");
    }
    // The saved report renders the same summary, and the page again, from the JSON alone.
    let page = dir.join("again.html");
    let again = faultline(&[
        "report",
        out.join("report.json").to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout), summary);
    assert_eq!(
        std::fs::read_to_string(&page).unwrap(),
        std::fs::read_to_string(out.join("report.html")).unwrap()
    );
}

#[test]
fn report_exits_like_the_run_and_refuses_what_is_not_a_report() {
    let scenario = format!(
        "{}/scenarios/lww-clock-skew.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = scratch("skew");
    let run = faultline(&["run", &scenario, "--report", dir.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    let again = faultline(&[
        "report",
        dir.join("report.json").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(again.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(report["lost_writes"]["lost"][0]["cause"], "clock-skew");
    let bogus = dir.join("bogus.json");
    std::fs::write(&bogus, "{\"hello\": 1}").unwrap();
    let refused = faultline(&["report", bogus.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("schema_version"));
}
