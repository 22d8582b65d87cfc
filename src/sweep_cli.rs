//! Wiring of `sweep` and `merge`: flags to a [`SweepPlan`], files, the progress bar, output.

use crate::cli::{exit, program_name};
use crate::registry::Registry;
use crate::sweep::{
    exit_code, junit, load_all, parse_seeds, read_results, render_summary, run_sweep, summarize,
    Shard, SweepLine, SweepPlan,
};
use indicatif::{ProgressBar, ProgressStyle};
use reports::Verdict;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The flags of `faultline sweep`.
pub struct SweepArgs {
    pub scenarios: Vec<PathBuf>,
    pub seeds: String,
    pub jobs: Option<usize>,
    pub shard: Option<String>,
    pub fail_fast: bool,
    pub out: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub json: bool,
}

fn bad_input(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    exit::BAD_INPUT
}

pub fn sweep(registry: &Registry, args: SweepArgs) -> u8 {
    let seeds = match parse_seeds(&args.seeds) {
        Ok(seeds) => seeds,
        Err(message) => return bad_input(message),
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard,
        Err(message) => return bad_input(message),
    };
    if args.jobs == Some(0) {
        return bad_input("--jobs must be at least 1");
    }
    let files: Vec<String> = args
        .scenarios
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let scenarios = match load_all(registry, &files) {
        Ok(scenarios) => scenarios,
        Err(error) => return bad_input(error),
    };
    let (path, done, earlier) = match &args.resume {
        Some(path) => {
            if let Err(error) = drop_torn_tail(path) {
                return bad_input(format!("cannot resume from {}: {error}", path.display()));
            }
            let earlier = match read_results(&path.display().to_string()) {
                Ok(lines) => lines,
                Err(message) => return bad_input(message),
            };
            let done: BTreeSet<(String, u64)> =
                earlier.iter().map(|l| (l.file.clone(), l.seed)).collect();
            (path.clone(), done, earlier)
        }
        None => (
            args.out
                .clone()
                .unwrap_or_else(|| PathBuf::from("sweep-results.jsonl")),
            BTreeSet::new(),
            Vec::new(),
        ),
    };
    // Like --png and --report, a results file may go into a folder that does not exist yet.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(error) = std::fs::create_dir_all(parent) {
            return bad_input(format!("cannot create {}: {error}", parent.display()));
        }
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(args.resume.is_some())
        .write(true)
        .truncate(args.resume.is_none())
        .open(&path);
    let mut out = match file {
        Ok(file) => std::io::BufWriter::new(file),
        Err(error) => return bad_input(format!("cannot write {}: {error}", path.display())),
    };
    let program = program_name();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let plan = SweepPlan {
        scenarios: &scenarios,
        seeds: seeds.clone(),
        jobs,
        shard,
        fail_fast: args.fail_fast,
        done,
        program: &program,
    };
    let total = (seeds.end - seeds.start) * scenarios.len() as u64;
    let bar = progress_bar(shard.map_or(total, |s| total.div_ceil(s.count)));
    let mut failures = 0u64;
    let result = run_sweep(&plan, &mut out, &mut |line: &SweepLine| {
        if line.verdict == Verdict::Fail {
            failures += 1;
        }
        if let Some(bar) = &bar {
            bar.set_message(format!("{failures} failed"));
            bar.inc(1);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let lines = match result {
        Ok(lines) => lines,
        Err(error) => {
            eprintln!("error: writing {} failed: {error}", path.display());
            return exit::INTERNAL;
        }
    };
    let mut all = earlier;
    all.extend(lines);
    eprintln!("results: {} ({} runs)", path.display(), all.len());
    report(&all, args.junit.as_deref(), args.json, &program)
}

/// A sweep killed in the middle of a write can leave half a line at the end of its results
/// file: cut it off (that run is simply run again) so appended lines start on a fresh line.
fn drop_torn_tail(path: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(path)?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    eprintln!(
        "note: {} ended in a torn line ({} bytes); dropping it, that run will be run again",
        path.display(),
        bytes.len() - keep
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(keep as u64)
}

pub fn merge(paths: &[PathBuf], junit_path: Option<&Path>, json: bool) -> u8 {
    let mut all = Vec::new();
    for path in paths {
        match read_results(&path.display().to_string()) {
            Ok(lines) => all.extend(lines),
            Err(message) => return bad_input(message),
        }
    }
    report(&all, junit_path, json, &program_name())
}

fn report(lines: &[SweepLine], junit_path: Option<&Path>, json: bool, program: &str) -> u8 {
    let summaries = summarize(lines);
    if let Some(path) = junit_path {
        if let Err(error) = std::fs::write(path, junit(lines, program)) {
            eprintln!("error: cannot write {}: {error}", path.display());
            return exit::INTERNAL;
        }
    }
    let text = if json {
        serde_json::to_string_pretty(&summaries).expect("summaries serialize") + "\n"
    } else {
        render_summary(&summaries, program)
    };
    // Ignored: a closed pipe must not turn a finished sweep into a crash.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    exit_code(&summaries)
}

/// A progress bar on stderr, only when stderr is a terminal.
fn progress_bar(total: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {per_sec}, {msg}, eta {eta}")
            .ok()?;
    bar.set_style(style);
    Some(bar)
}
