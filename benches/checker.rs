//! Checker speed beside Porcupine's, on the conformance histories, and peak memory on a
//! generated 100,000-operation register history.
//!
//! Run with `cargo bench --bench checker` (add e.g. `-- kv` to run some groups only: etcd, kv,
//! whole-map, knossos, memory). Parsing is excluded from every time, as in
//! Porcupine's figures (`../shared/conformance/README.md`, `porcupine/TIMINGS.tsv`, measured on
//! a 2-core machine of the kind CI runs on). Each figure is the median of several repetitions.
//! Speed is measured here only, never in a test.

// A benchmark measures wall time by definition; nothing here feeds a simulation.
#![allow(clippy::disallowed_methods)]

use checkers::history_formats::{jepsen, porcupine};
use checkers::linearizability::models::{
    CasRegister, Kv, KvWholeMap, RegisterInput, RegisterOp, RegisterOutput,
};
use checkers::linearizability::{self as lin, Model, OpLog, Operation, Options, Source, TimeUnit};
use checkers::linearizability::{Report, Verdict};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Repetitions per figure; the median is reported.
const REPETITIONS: usize = 5;
/// The argument that turns this binary into a child measuring its own peak memory.
const PEAK_MEMORY_ARG: &str = "--peak-memory-child";

fn conformance() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

fn options() -> Options {
    Options {
        witness: false,
        ..Options::default()
    }
}

/// The median time of `REPETITIONS` runs of `check`, and its last report.
fn median<F: FnMut() -> Report>(mut check: F) -> (Duration, Report) {
    let mut times = Vec::with_capacity(REPETITIONS);
    let mut report = None;
    for _ in 0..REPETITIONS {
        let start = Instant::now();
        report = Some(std::hint::black_box(check()));
        times.push(start.elapsed());
    }
    times.sort();
    (times[REPETITIONS / 2], report.expect("ran"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Porcupine's per-file figures: (file, median ms, cold ms).
fn porcupine_timings() -> Vec<(String, f64, f64)> {
    let text = std::fs::read_to_string(conformance().join("porcupine/TIMINGS.tsv"))
        .expect("porcupine/TIMINGS.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Some((f[0].to_string(), f[4].parse().ok()?, f[6].parse().ok()?))
        })
        .collect()
}

fn etcd() {
    let timings = porcupine_timings();
    let logs: Vec<(String, OpLog<RegisterInput, RegisterOutput>)> = timings
        .iter()
        .map(|(file, ..)| {
            let text = std::fs::read_to_string(conformance().join("porcupine").join(file))
                .expect("an etcd log");
            (file.clone(), porcupine::read(&text).expect("readable"))
        })
        .collect();
    let model = CasRegister { init: None };
    let cold_start = Instant::now();
    for (_, log) in &logs {
        std::hint::black_box(lin::check(&model, log, &options()));
    }
    let cold = cold_start.elapsed();
    let mut per_file: Vec<(String, Duration, f64)> = Vec::new();
    let mut total = Duration::ZERO;
    for ((file, log), (_, porcupine_ms, _)) in logs.iter().zip(&timings) {
        let (time, report) = median(|| lin::check(&model, log, &options()));
        assert_ne!(report.verdict, Verdict::Unknown, "{file}");
        total += time;
        per_file.push((file.clone(), time, *porcupine_ms));
    }
    let porcupine_median: f64 = timings.iter().map(|t| t.1).sum();
    let porcupine_cold: f64 = timings.iter().map(|t| t.2).sum();
    println!("porcupine etcd histories ({} files)", logs.len());
    println!("  {:<44} {:>12} {:>12}", "", "faultline", "porcupine");
    println!(
        "  {:<44} {:>12} {:>9.1} ms",
        "sum of per-file medians",
        ms(total),
        porcupine_median
    );
    println!(
        "  {:<44} {:>12} {:>9.1} ms",
        "one cold pass",
        ms(cold),
        porcupine_cold
    );
    per_file.sort_by(|a, b| b.2.total_cmp(&a.2));
    for (file, time, porcupine_ms) in per_file.iter().take(4) {
        println!("  {:<44} {:>12} {:>9.1} ms", file, ms(*time), porcupine_ms);
    }
}

fn kv_file(
    name: &str,
) -> OpLog<checkers::linearizability::models::KvInput, checkers::linearizability::models::KvOutput>
{
    let text =
        std::fs::read_to_string(conformance().join("porcupine/kv").join(name)).expect("a kv log");
    jepsen::kv(&jepsen::read(&text).expect("readable")).expect("a kv history")
}

fn kv(whole_map: bool) {
    println!();
    println!("porcupine kv histories");
    println!("  {:<44} {:>12} {:>12}", "", "faultline", "porcupine");
    for (name, porcupine_ms) in [("c50-ok.txt", 239.0), ("c50-bad.txt", 38.0)] {
        let log = kv_file(name);
        let (time, report) = median(|| lin::check(&Kv, &log, &options()));
        let label = format!("{name}, key by key ({:?})", report.verdict);
        println!("  {:<44} {:>12} {:>9.1} ms", label, ms(time), porcupine_ms);
    }
    if !whole_map {
        return;
    }
    let log = kv_file("c10-ok.txt");
    let start = Instant::now();
    let report = lin::check(&KvWholeMap, &log, &options());
    let label = format!("c10-ok.txt, one map-valued state ({:?})", report.verdict);
    println!(
        "  {:<44} {:>12} {:>12}",
        label,
        ms(start.elapsed()),
        "about 3 s"
    );
}

fn knossos() {
    let manifest =
        std::fs::read_to_string(conformance().join("knossos/MANIFEST.tsv")).expect("manifest");
    let mut logs = Vec::new();
    for line in manifest.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let init = match f[1] {
            "cas-register(init=0)" => Some(0),
            "cas-register(init=nil)" => None,
            _ => continue,
        };
        let text =
            std::fs::read_to_string(conformance().join("knossos").join(f[0])).expect("a file");
        let log = jepsen::cas_register(&jepsen::read(&text).expect("readable")).expect("registers");
        logs.push((init, log));
    }
    let (time, _) = median(|| {
        let mut last = None;
        for (init, log) in &logs {
            last = Some(lin::check(&CasRegister { init: *init }, log, &options()));
        }
        last.expect("files")
    });
    println!();
    println!("knossos histories");
    let label = format!("{} cas-register rows", logs.len());
    println!(
        "  {:<44} {:>12} {:>9.1} ms (all 122 files)",
        label,
        ms(time),
        37.0
    );
}

/// A linearizable single-register history of `length` operations from 8 concurrent clients:
/// each operation takes effect at a random point inside its interval; 2% of the writes time
/// out (half of those took effect). Deterministic (SplitMix64 from a fixed seed).
fn generated(length: usize) -> OpLog<RegisterInput, RegisterOutput> {
    let mut seed = 0x5EED_u64;
    let mut draw = move |below: u64| {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    };
    const CLIENTS: u64 = 8;
    let mut clock = [0u64; CLIENTS as usize];
    // (linearization point, op index, took effect)
    let mut ops: Vec<Operation<RegisterInput, RegisterOutput>> = Vec::with_capacity(length);
    let mut points: Vec<(u64, usize, bool)> = Vec::with_capacity(length);
    for i in 0..length {
        let client = draw(CLIENTS);
        let call = clock[client as usize] + draw(50);
        let ret = call + 1 + draw(200);
        clock[client as usize] = ret + 1;
        let (op, unknown) = match draw(10) {
            0..=4 => (RegisterOp::Read, false),
            5..=8 => (RegisterOp::Write(i as i64), draw(50) == 0),
            _ => (
                RegisterOp::Cas {
                    expected: None,
                    new: i as i64,
                },
                false,
            ),
        };
        points.push((call + draw(ret - call), i, !unknown || draw(2) == 0));
        ops.push(Operation {
            client: client + CLIENTS * i as u64,
            call,
            ret: (!unknown).then_some(ret),
            input: RegisterInput { key: None, op },
            output: None,
            source: Source::default(),
        });
    }
    points.sort_unstable();
    let mut value: Option<i64> = None;
    for (_, i, effect) in points {
        let op = &mut ops[i];
        let output = match op.input.op {
            RegisterOp::Read => RegisterOutput::Read(value),
            RegisterOp::Write(v) => {
                if effect {
                    value = Some(v);
                }
                RegisterOutput::Done
            }
            RegisterOp::Cas { new, .. } => {
                // Expect what the register holds now: the cas succeeds.
                op.input.op = RegisterOp::Cas {
                    expected: value,
                    new,
                };
                value = Some(new);
                RegisterOutput::Done
            }
        };
        if op.ret.is_some() {
            op.output = Some(output);
        }
    }
    OpLog {
        ops,
        time_unit: TimeUnit::Nanos,
    }
}

/// The child side: checks a generated history of `length` operations (or only generates it,
/// for the baseline) and prints its peak resident memory in kB, the check's time and steps.
fn peak_memory_child(length: usize, check: bool) {
    let log = generated(length);
    let mut line = String::new();
    if check {
        let start = Instant::now();
        let report = lin::check(&CasRegister::default(), &log, &options());
        assert_eq!(
            report.verdict,
            Verdict::Holds,
            "the generated history is linearizable"
        );
        line = format!(
            " {} {} {}",
            start.elapsed().as_millis(),
            report.steps,
            report.memo_bytes_max / 1024
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    println!("{hwm}{line}");
}

fn memory() {
    println!();
    println!(
        "peak memory on a generated single-register history (8 clients, 2% of writes time out)"
    );
    println!(
        "  {:<14} {:>14} {:>14} {:>10} {:>12} {:>10}",
        "operations", "VmHWM, only", "VmHWM, check", "time", "steps", "memo"
    );
    for length in [10_000usize, 100_000] {
        let run = |check: bool| {
            let exe = std::env::current_exe().expect("the benchmark binary");
            let mut args = vec![PEAK_MEMORY_ARG.to_string(), length.to_string()];
            if check {
                args.push("check".into());
            }
            let output = Command::new(exe)
                .args(args)
                .output()
                .expect("the child runs");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        };
        let base = run(false);
        let checked = run(true);
        let f: Vec<&str> = checked.split_whitespace().collect();
        println!(
            "  {:<14} {:>11} kB {:>11} kB {:>7} ms {:>12} {:>7} kB",
            length, base, f[0], f[1], f[2], f[3]
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(PEAK_MEMORY_ARG) {
        let length = args[2].parse().expect("a length");
        return peak_memory_child(length, args.get(3).is_some());
    }
    // `cargo bench` passes `--bench`; other arguments not starting with `-` name the groups
    // to run (etcd, kv, whole-map, knossos, memory), e.g. `cargo bench --bench checker -- kv`;
    // none: all of them.
    let groups: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |group: &str| groups.is_empty() || groups.contains(&group);
    if wanted("etcd") {
        etcd();
    }
    if wanted("kv") || wanted("whole-map") {
        kv(wanted("whole-map"));
    }
    if wanted("knossos") {
        knossos();
    }
    if wanted("memory") {
        memory();
    }
    let _ = Model::describe_state(&CasRegister::default(), &None);
}
