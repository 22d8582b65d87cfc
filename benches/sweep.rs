//! Sweep throughput: runs per second of a seed sweep with 1 and 2 worker threads, and their
//! ratio (each simulation is single-threaded, so 2 jobs should approach 2x on 2 free cores).
//!
//! `cargo bench --bench sweep [-- SCENARIO SEEDS]`; defaults to the LWW random nemesis, 0..400.

use faultline::sweep::{run_sweep, SweepPlan};
use faultline::Registry;
use std::collections::BTreeSet;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let file = args.next().unwrap_or_else(|| {
        format!(
            "{}/scenarios/lww-random-nemesis.ron",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let seeds = faultline::sweep::parse_seeds(&args.next().unwrap_or_else(|| "0..400".into()))
        .expect("a seed range such as 0..400");
    let scenarios = vec![Registry::builtin()
        .load_file(&file)
        .expect("a valid scenario")];
    let runs = seeds.end - seeds.start;
    println!(
        "sweep throughput: {file}, seeds {}..{}",
        seeds.start, seeds.end
    );
    let mut rates = Vec::new();
    for jobs in [1, 2] {
        let plan = SweepPlan {
            scenarios: &scenarios,
            seeds: seeds.clone(),
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
        assert_eq!(lines.len() as u64, runs);
        let rate = runs as f64 / seconds;
        println!("  --jobs {jobs}: {runs} runs in {seconds:.2} s = {rate:.1} runs/s");
        rates.push(rate);
    }
    println!(
        "  2 jobs / 1 job = {:.2}x (target >= 1.8x on an otherwise idle 2-core machine)",
        rates[1] / rates[0]
    );
}
