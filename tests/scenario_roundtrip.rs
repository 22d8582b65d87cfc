//! Scenarios written back as RON (what `shrink` writes) read back to the very same runs, and
//! a random nemesis turned into explicit faults replays the same trace.

use faultline::pipeline::run_and_report;
use faultline::Registry;
use sim_core::engine::RunOptions;

fn hash(scenario: &dyn faultline::registry::LoadedScenario, seed: u64) -> String {
    run_and_report("faultline", scenario, seed, RunOptions::default(), None)
        .1
        .trace_hash
}

#[test]
fn every_bundled_scenario_round_trips_through_ron() {
    let registry = Registry::builtin();
    let dir = format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"));
    for path in faultline::bundled::scenario_files(std::path::Path::new(&dir)) {
        let file = path.display().to_string();
        let original = registry.load_file(&file).unwrap();
        let text = original.to_ron();
        let again = registry.load_text(&file, &text).unwrap_or_else(|e| {
            panic!("{file}: the written scenario does not read back: {e}\n{text}")
        });
        assert_eq!(again.to_ron(), text, "{file}: writing is not stable");
        assert_eq!(
            hash(original.as_ref(), 5),
            hash(again.as_ref(), 5),
            "{file}"
        );
    }
}

#[test]
fn explicit_nemesis_faults_replay_the_same_trace() {
    let registry = Registry::builtin();
    let file = format!(
        "{}/scenarios/lww-random-nemesis.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let original = registry.load_file(&file).unwrap();
    for seed in [1, 2, 3] {
        let explicit = original.with_explicit_faults(seed).unwrap();
        assert!(!explicit.has_nemesis());
        assert!(explicit.fault_count() > original.fault_count());
        assert_eq!(
            hash(original.as_ref(), seed),
            hash(explicit.as_ref(), seed),
            "seed {seed}"
        );
    }
}
