//! Engine throughput, side by side in one run: faultline's `Simulation` against a hand-written
//! minimal event loop doing the same work (the physical limit of the approach), on three
//! workloads, and the peak memory of both at two run lengths (it must not grow with length).
//!
//! Run with `cargo bench --bench engine`. Each figure is the median of several repetitions;
//! both sides must deliver exactly the same number of messages, or the benchmark panics.
//! Speed is measured here only, never in a test.

// The modules sit in benches/engine/ rather than beside this file: Cargo would take any
// benches/*.rs for a benchmark target of its own.
#[path = "engine/faultline_side.rs"]
mod faultline_side;
#[path = "engine/minimal_loop.rs"]
mod minimal_loop;

use sim_core::time::SimDuration;
use std::hint::black_box;
use std::ops::Range;
use std::process::Command;
use std::time::{Duration, Instant};

/// Repetitions per workload and side; the median is reported.
const REPETITIONS: usize = 5;
/// Round trips of the ping-pong workload (two deliveries each).
const PING_PONG_ROUND_TRIPS: u64 = 1_000_000;
/// Nodes of the broadcast workloads.
const BROADCAST_NODES: u32 = 5;
/// Ticks per node of broadcast-5: one every 10 ms for 1,000 simulated seconds.
const BROADCAST_TICKS: u64 = 100_000;
/// Ticks per node of each many-seeds run: 10 simulated seconds.
const MANY_SEEDS_TICKS: u64 = 1_000;
/// Seeds of the many-seeds workload, all in this one process.
const MANY_SEEDS: Range<u64> = 0..200;
/// The argument that turns this binary into a child measuring its own peak memory.
const PEAK_MEMORY_ARG: &str = "--peak-memory-child";

/// One workload, described once for both sides.
#[derive(Clone, Copy, Debug)]
pub enum Workload {
    /// Two nodes, constant 1 ms latency, `round_trips` request/echo pairs.
    PingPong {
        /// Round trips before node 0 stops.
        round_trips: u64,
    },
    /// `nodes` nodes, each sending a counter to all others every 10 ms, latency uniform in
    /// 1-10 ms, `ticks` times.
    Broadcast {
        /// Cluster size.
        nodes: u32,
        /// Ticks per node.
        ticks: u64,
    },
}

impl Workload {
    /// Messages delivered by one run, the same on both sides by construction.
    pub fn deliveries(self) -> u64 {
        match self {
            Workload::PingPong { round_trips } => 2 * round_trips,
            Workload::Broadcast { nodes, ticks } => u64::from(nodes * (nodes - 1)) * ticks,
        }
    }

    /// Simulated time a run may take: every message sent is delivered within it, even on the
    /// slowest drifting clock (20 ppm of 1,000 s is 20 ms, well inside the one-second slack).
    pub fn duration(self) -> SimDuration {
        let busy = match self {
            Workload::PingPong { round_trips } => SimDuration::from_millis(2 * round_trips),
            Workload::Broadcast { ticks, .. } => SimDuration::from_millis(10 * ticks),
        };
        busy + SimDuration::from_secs(1)
    }
}

/// The wall-clock time of one call.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    // Real time is what a benchmark measures; nothing here feeds a simulation.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let output = f();
    (output, start.elapsed())
}

/// Total deliveries of faultline over `seeds`, checking each run ended normally.
fn faultline_deliveries(workload: Workload, seeds: Range<u64>) -> u64 {
    seeds
        .map(|seed| {
            let result = faultline_side::run(workload, seed);
            assert_eq!(result.limit_reached, None, "{workload:?} seed {seed}");
            black_box(result.trace_hash);
            result.net.delivered
        })
        .sum()
}

/// Total deliveries of the minimal loop over `seeds`.
fn minimal_deliveries(workload: Workload, seeds: Range<u64>) -> u64 {
    seeds.map(|seed| minimal_loop::run(workload, seed)).sum()
}

/// Median wall-clock seconds per repetition of each side.
struct Timings {
    faultline_s: f64,
    minimal_s: f64,
}

/// Runs both sides `REPETITIONS` times, alternating which goes first so that neither always
/// runs on a warmer or quieter machine, and checks both delivered the expected count.
fn compare(workload: Workload, seeds: Range<u64>) -> Timings {
    let expected = workload.deliveries() * (seeds.end - seeds.start);
    let mut faultline = Vec::new();
    let mut minimal = Vec::new();
    for repetition in 0..REPETITIONS {
        let run_faultline = || timed(|| faultline_deliveries(workload, seeds.clone()));
        let run_minimal = || timed(|| minimal_deliveries(workload, seeds.clone()));
        let ((f, f_time), (m, m_time)) = if repetition % 2 == 0 {
            let f = run_faultline();
            (f, run_minimal())
        } else {
            let m = run_minimal();
            (run_faultline(), m)
        };
        assert_eq!(
            f, m,
            "{workload:?}: faultline and the minimal loop disagree"
        );
        assert_eq!(f, expected, "{workload:?}: unexpected delivery count");
        faultline.push(f_time.as_secs_f64());
        minimal.push(m_time.as_secs_f64());
    }
    Timings {
        faultline_s: median(faultline),
        minimal_s: median(minimal),
    }
}

/// The middle value (the upper middle of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One row of the throughput table: `work` items per repetition, rates shown in `unit`
/// (`scale` items each).
fn print_row(name: &str, work: f64, scale: f64, unit: &str, timings: &Timings) {
    let faultline = work / timings.faultline_s;
    let minimal = work / timings.minimal_s;
    println!(
        "{name:<12} {unit:<15} {:>9.3} s {:>9.3} s {:>12.2} {:>12.2} {:>9.3}",
        timings.faultline_s,
        timings.minimal_s,
        faultline / scale,
        minimal / scale,
        faultline / minimal,
    );
}

/// Which implementation a memory child runs.
#[derive(Clone, Copy)]
enum Side {
    Faultline,
    Minimal,
}

impl Side {
    /// The side's name on the child's command line.
    fn arg(self) -> &'static str {
        match self {
            Side::Faultline => "faultline",
            Side::Minimal => "minimal",
        }
    }
}

/// Re-executes this binary to run one workload alone and returns the child's VmHWM in kB, so
/// that each length is measured in a fresh process with nothing left over from the others.
fn child_peak_memory_kb(side: Side, workload: &str, length: u64) -> u64 {
    let exe = std::env::current_exe().expect("the benchmark binary's path");
    let output = Command::new(exe)
        .args([PEAK_MEMORY_ARG, side.arg(), workload, &length.to_string()])
        .output()
        .expect("the memory child starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "memory child {} {workload} {length} failed: {}",
        side.arg(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.trim().parse().expect("the child prints VmHWM in kB")
}

/// The child side: runs one workload (or nothing, for the process baseline) on one side and
/// prints this process's peak resident memory in kB.
fn peak_memory_child(side: &str, workload: &str, length: u64) {
    let run = match workload {
        "ping-pong" => Some(Workload::PingPong {
            round_trips: length,
        }),
        "broadcast-5" => Some(Workload::Broadcast {
            nodes: BROADCAST_NODES,
            ticks: length,
        }),
        "baseline" => None,
        other => panic!("unknown memory workload {other:?}"),
    };
    if let Some(run) = run {
        let delivered = match side {
            "faultline" => faultline_deliveries(run, 1..2),
            "minimal" => minimal_deliveries(run, 1..2),
            other => panic!("unknown side {other:?}"),
        };
        assert_eq!(delivered, run.deliveries());
    }
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let hwm_kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("a VmHWM line in kB");
    println!("{hwm_kb}");
}

/// Peak memory at two lengths of each workload, one child process per side and length.
fn print_memory() {
    println!();
    println!("peak memory (VmHWM of a child process running one workload alone)");
    println!(
        "  {:<12} {:<34} {:>12} {:>12}",
        "workload", "length", "faultline", "minimal"
    );
    let rows: [(&str, u64, &str); 5] = [
        ("baseline", 0, "no run (process and binary only)"),
        ("ping-pong", 100_000, "100,000 round trips"),
        ("ping-pong", 1_000_000, "1,000,000 round trips"),
        ("broadcast-5", 10_000, "100 simulated s"),
        ("broadcast-5", 100_000, "1,000 simulated s"),
    ];
    for (workload, length, label) in rows {
        let faultline = child_peak_memory_kb(Side::Faultline, workload, length);
        let minimal = child_peak_memory_kb(Side::Minimal, workload, length);
        println!("  {workload:<12} {label:<34} {faultline:>9} kB {minimal:>9} kB");
    }
}

/// Throughput of the three workloads, both sides, medians and ratios.
fn print_throughput() {
    println!("engine throughput: faultline vs a minimal event loop, median of {REPETITIONS}");
    println!(
        "{:<12} {:<15} {:^23} {:^25} {:>9}",
        "", "", "median time/repetition", "median rate", "ratio"
    );
    println!(
        "{:<12} {:<15} {:>11} {:>11} {:>12} {:>12} {:>9}",
        "workload", "rate unit", "faultline", "minimal", "faultline", "minimal", "f/minimal"
    );
    let ping_pong = Workload::PingPong {
        round_trips: PING_PONG_ROUND_TRIPS,
    };
    let timings = compare(ping_pong, 1..2);
    print_row(
        "ping-pong",
        ping_pong.deliveries() as f64,
        1e6,
        "M deliveries/s",
        &timings,
    );
    let broadcast = Workload::Broadcast {
        nodes: BROADCAST_NODES,
        ticks: BROADCAST_TICKS,
    };
    let timings = compare(broadcast, 1..2);
    print_row(
        "broadcast-5",
        broadcast.deliveries() as f64,
        1e6,
        "M deliveries/s",
        &timings,
    );
    let short = Workload::Broadcast {
        nodes: BROADCAST_NODES,
        ticks: MANY_SEEDS_TICKS,
    };
    let timings = compare(short, MANY_SEEDS);
    let seeds = (MANY_SEEDS.end - MANY_SEEDS.start) as f64;
    print_row("many-seeds", seeds, 1.0, "seeds/s", &timings);
    println!("(ratio = faultline rate / minimal rate; times are per repetition)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(PEAK_MEMORY_ARG) {
        let side = args.get(2).expect("a side: faultline or minimal");
        let workload = args.get(3).expect("a workload name");
        let length = args.get(4).and_then(|l| l.parse().ok()).expect("a length");
        return peak_memory_child(side, workload, length);
    }
    print_throughput();
    print_memory();
}
