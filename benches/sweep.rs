//! Sweep throughput: runs per second of a seed sweep with 1 and 2 worker threads, the median
//! of a few repetitions each, and the ratio of the medians (each simulation is single-threaded,
//! so 2 jobs should approach 2x on 2 free cores; the target is >= 1.8x).
//!
//! `cargo bench --bench sweep` measures the LWW random nemesis (seeds 0..400) and the Raft
//! random nemesis (seeds 0..100), 3 repetitions each;
//! `cargo bench --bench sweep -- SCENARIO SEEDS [REPETITIONS]` measures one scenario.
//! Figures only: nothing here judges them.

use faultline::sweep::{parse_seeds, run_sweep, SweepPlan};
use faultline::Registry;
use std::collections::BTreeSet;
use std::ops::Range;

/// Repetitions per job count when the command line does not say.
const REPETITIONS_DEFAULT: usize = 3;

struct Case {
    file: String,
    seeds: Range<u64>,
}

fn bundled(name: &str, seeds: Range<u64>) -> Case {
    Case {
        file: format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR")),
        seeds,
    }
}

/// Runs per second of one sweep of `case` over `jobs` threads.
fn runs_per_second(
    case: &Case,
    scenarios: &[Box<dyn faultline::registry::LoadedScenario>],
    jobs: usize,
) -> f64 {
    let plan = SweepPlan {
        scenarios,
        seeds: case.seeds.clone(),
        jobs,
        shard: None,
        fail_fast: false,
        done: BTreeSet::new(),
        program: "faultline",
    };
    let mut sink = std::io::sink();
    // Wall time is what this benchmark measures.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let lines = run_sweep(&plan, &mut sink, &mut |_| {}).expect("writing to a sink");
    let seconds = started.elapsed().as_secs_f64();
    let runs = case.seeds.end - case.seeds.start;
    assert_eq!(lines.len() as u64, runs, "every seed ran");
    runs as f64 / seconds
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

fn measure(case: &Case, repetitions: usize) {
    let scenarios = vec![Registry::builtin()
        .load_file(&case.file)
        .expect("a valid scenario")];
    let runs = case.seeds.end - case.seeds.start;
    println!(
        "sweep throughput: {}, seeds {}..{} ({runs} runs per sweep), {repetitions} repetitions",
        case.file, case.seeds.start, case.seeds.end
    );
    // Alternate 1 and 2 jobs, so that a change in the machine's load touches both alike.
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..repetitions {
        for (slot, jobs) in [1, 2].into_iter().enumerate() {
            rates[slot].push(runs_per_second(case, &scenarios, jobs));
        }
    }
    for (slot, jobs) in [1, 2].into_iter().enumerate() {
        let each: Vec<String> = rates[slot].iter().map(|r| format!("{r:.1}")).collect();
        println!(
            "  --jobs {jobs}: median {:.1} runs/s (each: {})",
            median(&rates[slot]),
            each.join(", ")
        );
    }
    println!(
        "  2 jobs / 1 job = {:.2}x (target >= 1.8x on an otherwise idle 2-core machine)",
        median(&rates[1]) / median(&rates[0])
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (cases, repetitions) = match args.as_slice() {
        [] => (
            vec![
                bundled("lww-random-nemesis.ron", 0..400),
                bundled("raft-random-nemesis.ron", 0..100),
            ],
            REPETITIONS_DEFAULT,
        ),
        [file, seeds, rest @ ..] => {
            let seeds = parse_seeds(seeds).expect("a seed range such as 0..400");
            let repetitions = rest.first().map_or(REPETITIONS_DEFAULT, |r| {
                r.parse().expect("repetitions: a whole number")
            });
            (
                vec![Case {
                    file: file.clone(),
                    seeds,
                }],
                repetitions,
            )
        }
        _ => panic!("usage: cargo bench --bench sweep [-- SCENARIO SEEDS [REPETITIONS]]"),
    };
    for case in &cases {
        measure(case, repetitions.max(1));
    }
}
