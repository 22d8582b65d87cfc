//! Report rendering on a long run: a random-nemesis LWW scenario of about 1,000,000 trace
//! events. Prints the time to build the report from the finished run, to replay the trace
//! window, and to render it (terminal, JSON, HTML with its SVG charts; PNG apart), and the
//! size of the HTML page and the JSON. Targets: rendering under 1 s, HTML under 2 MB.
//!
//! `cargo bench --bench report`

use faultline::pipeline::{check, reproduction_command};
use faultline::report_cli::attach_trace_window;
use faultline::Registry;
use reports::{Report, RunIdentity};
use sim_core::engine::RunOptions;

/// Five nodes, twenty clients and every kind of random fault for 4 minutes: about a million
/// events, with the fault timeline, divergence samples and history a long run brings.
const SCENARIO: &str = r#"Scenario(
    name: "report-bench",
    seed: 17,
    nodes: 5,
    duration: "240s",
    protocol: Lww(replicate_every: "20ms", sync_writes: false),
    network: (latency: LogNormal(median: "3ms", sigma: 0.6), drop: 0.01, duplicate: 0.005, delivery: Reorder),
    storage: (sync_latency: "2ms", lose_unsynced_on_crash: true),
    nemesis: Some((
        partitions_per_min: 4, one_way_per_min: 2, flaps_per_min: 2, crashes_per_min: 3,
        pauses_per_min: 4, clock_steps_per_min: 3,
        fault_duration_min: "200ms", fault_duration_max: "3s", clock_step_max: "300ms",
    )),
    workload: (clients: 20, keys: 50, writes: 0.6, rate_per_s: 20, timeout: "1s"),
    settle: Some("5s"),
    checks: [Convergence, LostWrites],
)"#;

fn seconds<T>(what: impl FnOnce() -> T) -> (T, f64) {
    // Wall time is what this benchmark measures.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let value = what();
    (value, started.elapsed().as_secs_f64())
}

fn main() {
    let scenario = Registry::builtin()
        .load_text("report-bench.ron", SCENARIO)
        .expect("the benchmark scenario is valid");
    let seed = 17;
    let (result, run_s) = seconds(|| scenario.run(seed, RunOptions::default(), None));
    println!(
        "report rendering: {} events, {} operations, {} faults (simulated in {run_s:.2} s)",
        result.events,
        result.history.ops.len(),
        result.faults.len()
    );
    let identity = RunIdentity {
        scenario: scenario.name().to_string(),
        file: scenario.file().to_string(),
        protocol: scenario.protocol().to_string(),
        protocol_config: scenario.protocol_config(),
        reproduce: reproduction_command("faultline", scenario.file(), seed),
        budgets: scenario.budgets(),
    };
    let (checks, check_s) = seconds(|| check(scenario.as_ref(), &result));
    let (mut report, build_s) = seconds(|| Report::build(identity, &result, &checks));
    let (replayed, replay_s) = seconds(|| attach_trace_window(scenario.as_ref(), &mut report));
    replayed.expect("the replay matches the run");
    let (terminal, terminal_s) =
        seconds(|| reports::terminal::render(&report, reports::terminal::Colour::Off));
    let (json, json_s) = seconds(|| reports::json::render(&report));
    let (html, html_s) = seconds(|| reports::html::render(&report).expect("renders"));
    let dir = std::env::temp_dir().join("faultline-report-bench");
    let (png, png_s) = seconds(|| reports::png::write_all(&report, &dir));
    png.expect("PNG charts written");
    let render_s = terminal_s + json_s + html_s;
    println!("  checks on the history: {check_s:.3} s; build the report (diagnostics, taxonomy): {build_s:.3} s");
    println!("  replay for the trace window: {replay_s:.3} s");
    println!("  render terminal {terminal_s:.4} s, JSON {json_s:.3} s, HTML+SVG {html_s:.3} s: {render_s:.3} s in all (target < 1 s)");
    println!("  PNG charts (apart): {png_s:.3} s, into {}", dir.display());
    println!(
        "  HTML {:.2} MB (target < 2 MB), JSON {:.2} MB, summary {} lines",
        html.len() as f64 / 1e6,
        json.len() as f64 / 1e6,
        terminal.lines().count()
    );
}
