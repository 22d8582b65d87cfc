//! The command line: argument parsing and wiring, nothing else. Every subcommand works with
//! any [`Registry`], so a binary that adds its own protocol gets them all.

use crate::pipeline::{reproduction_command, run_and_report};
use crate::registry::{LoadedScenario, Registry};
use clap::{Parser, Subcommand};
use reports::terminal::{self, Colour};
use reports::{Report, Verdict};
use sim_core::engine::RunOptions;
use sim_core::trace::{JsonLinesSink, TraceRecord};
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes, as DESIGN.md fixes them.
pub mod exit {
    /// Every invariant and check held.
    pub const PASS: u8 = 0;
    /// A violation was found.
    pub const VIOLATION: u8 = 1;
    /// Bad input: scenario, flags, history file.
    pub const BAD_INPUT: u8 = 2;
    /// An internal error (a panic, a nondeterministic run).
    pub const INTERNAL: u8 = 3;
    /// Unknown: a bound ran out before a verdict.
    pub const UNKNOWN: u8 = 4;
}

#[derive(Parser, Debug)]
#[command(
    name = "faultline",
    version,
    about = "A deterministic distributed-systems simulator: replay failure scenarios, check consistency, reproduce from one seed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario once and report what happened.
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// The seed (overrides the scenario's; without either, one is picked and printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Stream every event to FILE as JSON Lines.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Print the report as JSON instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Run twice and compare the traces event by event.
        #[arg(long)]
        check_determinism: bool,
        /// Also write the history as Jepsen EDN, one map per line, for Knossos or Porcupine.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Write DIR/report.json and DIR/report.html (charts, causes, the trace around the
        /// first violation).
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Write the report's charts as PNG files into DIR.
        #[arg(long, value_name = "DIR")]
        png: Option<PathBuf>,
    },
    /// Render a saved JSON report again: the summary, and HTML or PNG on request.
    Report {
        /// The report.json a run wrote.
        report: PathBuf,
        /// Write the HTML page to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Write the charts as PNG files into DIR.
        #[arg(long, value_name = "DIR")]
        png: Option<PathBuf>,
        /// Print the report as JSON instead of the human summary.
        #[arg(long)]
        json: bool,
    },
    /// Check a recorded history (Jepsen EDN, Porcupine, faultline) for linearizability.
    Check(crate::check::CheckArgs),
    /// Check scenario files without running them.
    Validate {
        /// The scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// List the protocols and invariants, the checks, the bundled scenarios and explain terms.
    List,
    /// Explain a consistency model, anomaly, fault or mechanism (no term: list them all).
    Explain {
        /// The term, e.g. `linearizability` or `split brain` (case, spaces, `-`, `_` ignored).
        term: Vec<String>,
    },
    /// Run many seeds of one or more scenarios over all cores; one JSON line per run.
    Sweep {
        /// The scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Seeds: A..B (B excluded), A..=B, or one seed.
        #[arg(long, default_value = "0..100")]
        seeds: String,
        /// Worker threads (default: the cores available).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only this machine's share K of N of the (scenario, seed) pairs.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Stop handing out runs after the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// Write one JSON line per finished run here (default: sweep-results.jsonl).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Skip the runs already recorded in FILE and append the rest to it.
        #[arg(long, value_name = "FILE", conflicts_with = "out")]
        resume: Option<PathBuf>,
        /// Also write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cut a failing seed down to what its violation needs; write it as a scenario.
    Shrink {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the minimal scenario (default: NAME-seed-N-min.ron here).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The most candidate runs to try.
        #[arg(long, default_value_t = 2_000)]
        runs_max: u64,
    },
    /// Re-run a published result (see --list) and compare; write NAME.csv and NAME.svg.
    Reproduce(crate::reproduce::ReproduceArgs),
    /// Combine results files (from shards of one sweep) into one summary.
    Merge {
        /// The results files.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Also write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

thread_local! {
    /// What the panic hook prints: the run in progress on this thread (a sweep runs one per
    /// worker) and how to reproduce it.
    static REPRODUCTION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records the reproduction command of the run starting on this thread, for the panic hook.
pub fn set_reproduction(command: String) {
    REPRODUCTION.with(|cell| *cell.borrow_mut() = Some(command));
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let context = REPRODUCTION
            .with(|cell| cell.borrow().clone())
            .unwrap_or_else(|| "no run in progress".to_string());
        eprintln!("faultline: internal error: {info}");
        eprintln!("  this is a bug in faultline or in the protocol; it reproduces with:");
        eprintln!("  {context}");
        std::process::exit(exit::INTERNAL as i32);
    }));
}

/// The name this binary was invoked as, for reproduction commands.
pub fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|arg0| {
            PathBuf::from(arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "faultline".to_string())
}

/// A seed for runs that name none: drawn from the process's randomized hasher keys, so no
/// clock is read and nothing inside the simulation depends on it.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    hasher.finish() % 1_000_000_000
}

/// Runs the CLI with the built-in protocols.
pub fn main() -> ExitCode {
    main_with(Registry::builtin())
}

/// Runs the CLI with `registry`: how a binary with its own protocol reuses every subcommand.
pub fn main_with(registry: Registry) -> ExitCode {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::PASS
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Run {
            scenario,
            seed,
            trace,
            json,
            check_determinism,
            history,
            report,
            png,
        } => run(
            &registry,
            &scenario,
            seed,
            trace,
            json,
            check_determinism,
            history.as_deref(),
            &crate::report_cli::ReportOutputs { dir: report, png },
        ),
        Command::Report {
            report,
            html,
            png,
            json,
        } => crate::report_cli::report(&report, html.as_deref(), png.as_deref(), json),
        Command::Check(args) => crate::check::run(&args),
        Command::Validate { scenarios } => validate(&registry, &scenarios),
        Command::List => list(&registry),
        Command::Explain { term } => crate::explain::run(&term),
        Command::Sweep {
            scenarios,
            seeds,
            jobs,
            shard,
            fail_fast,
            out,
            resume,
            junit,
            json,
        } => crate::sweep_cli::sweep(
            &registry,
            crate::sweep_cli::SweepArgs {
                scenarios,
                seeds,
                jobs,
                shard,
                fail_fast,
                out,
                resume,
                junit,
                json,
            },
        ),
        Command::Shrink {
            scenario,
            seed,
            out,
            runs_max,
        } => shrink(&registry, &scenario, seed, out, runs_max),
        Command::Merge {
            results,
            junit,
            json,
        } => crate::sweep_cli::merge(&results, junit.as_deref(), json),
        Command::Reproduce(args) => crate::reproduce::cli(&args),
    };
    ExitCode::from(code)
}

fn colour() -> Colour {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || !std::io::stdout().is_terminal()
    {
        Colour::Off
    } else {
        Colour::On
    }
}

// One argument per flag of `run`, each used once: a struct would only rename them.
#[allow(clippy::too_many_arguments)]
fn run(
    registry: &Registry,
    path: &std::path::Path,
    seed: Option<u64>,
    trace: Option<PathBuf>,
    json: bool,
    check_determinism: bool,
    history: Option<&std::path::Path>,
    outputs: &crate::report_cli::ReportOutputs,
) -> u8 {
    let file = path.display().to_string();
    let scenario = match registry.load_file(&file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    let seed = seed.or(scenario.seed()).unwrap_or_else(fresh_seed);
    let program = program_name();
    set_reproduction(reproduction_command(&program, &file, seed));
    if check_determinism {
        return determinism(scenario.as_ref(), seed);
    }
    let mut sink = match &trace {
        None => None,
        Some(trace_path) => match std::fs::File::create(trace_path) {
            Ok(out) => Some(JsonLinesSink::new(std::io::BufWriter::new(out))),
            Err(error) => {
                eprintln!(
                    "error: cannot write the trace to {}: {error}",
                    trace_path.display()
                );
                return exit::BAD_INPUT;
            }
        },
    };
    let (result, mut report) = run_and_report(
        &program,
        scenario.as_ref(),
        seed,
        RunOptions::default(),
        sink.as_mut()
            .map(|s| s as &mut dyn sim_core::trace::TraceSink),
    );
    if let Some(Err(error)) = history.map(|path| crate::check::write_history(path, &result.history))
    {
        eprintln!("error: {error}");
        return exit::BAD_INPUT;
    }
    if let (Some(sink), Some(trace_path)) = (sink, &trace) {
        if let Err(error) = sink.finish() {
            eprintln!(
                "error: writing the trace to {} failed: {error}",
                trace_path.display()
            );
            return exit::INTERNAL;
        }
    }
    if outputs.wanted() {
        if let Err((code, error)) =
            crate::report_cli::write_outputs(scenario.as_ref(), &mut report, outputs)
        {
            eprintln!("error: {error}");
            return code;
        }
    }
    print_report(&report, json);
    verdict_code(&report)
}

fn print_report(report: &Report, json: bool) {
    let mut stdout = std::io::stdout().lock();
    let text = if json {
        serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
    } else {
        terminal::render(report, colour())
    };
    let _ = stdout.write_all(text.as_bytes());
}

fn verdict_code(report: &Report) -> u8 {
    match report.verdict {
        Verdict::Pass => exit::PASS,
        Verdict::Fail => exit::VIOLATION,
        Verdict::Unknown => exit::UNKNOWN,
    }
}

fn determinism(scenario: &dyn LoadedScenario, seed: u64) -> u8 {
    let options = RunOptions {
        keep_full_trace: true,
        ..RunOptions::default()
    };
    let first = scenario.run(seed, options.clone(), None);
    let second = scenario.run(seed, options, None);
    let a = first.full_trace.as_deref().unwrap_or_default();
    let b = second.full_trace.as_deref().unwrap_or_default();
    let difference = a
        .iter()
        .zip(b)
        .position(|((ra, ha), (rb, hb))| ra != rb || ha != hb)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())));
    match difference {
        None => {
            let _ = writeln!(
                std::io::stdout(),
                "deterministic: seed {seed}, two runs, {} events each, trace hash {}",
                first.events,
                first.trace_hash
            );
            exit::PASS
        }
        Some(index) => {
            let show = |record: Option<&(TraceRecord, u64)>| {
                record.map_or("(trace ended)".to_string(), |(r, _)| {
                    format!(
                        "{} at {} on {} (peer {}, detail {:#x})",
                        r.kind.name(),
                        r.time,
                        r.node,
                        r.peer,
                        r.detail
                    )
                })
            };
            eprintln!("NOT deterministic: seed {seed}: the traces differ first at event {index}");
            eprintln!("  run 1: {}", show(a.get(index)));
            eprintln!("  run 2: {}", show(b.get(index)));
            eprintln!("  hashes {} and {}", first.trace_hash, second.trace_hash);
            eprintln!("  look for HashMap iteration, wall-clock reads or thread-local state in the protocol");
            exit::INTERNAL
        }
    }
}

fn shrink(
    registry: &Registry,
    path: &std::path::Path,
    seed: u64,
    out: Option<PathBuf>,
    runs_max: u64,
) -> u8 {
    let file = path.display().to_string();
    let scenario = match registry.load_file(&file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    let program = program_name();
    set_reproduction(format!("{program} shrink {file} --seed {seed}"));
    let outcome = match crate::shrink::shrink(&program, scenario.as_ref(), seed, runs_max) {
        Ok(outcome) => outcome,
        Err(error @ crate::shrink::ShrinkError::Passes(_)) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return exit::INTERNAL;
        }
    };
    let out = out.unwrap_or_else(|| {
        let stem = path
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-seed-{seed}-min.ron"))
    });
    let reduction = crate::shrink::describe_reduction(&outcome.before, &outcome.after);
    let text = crate::shrink::minimal_scenario_file(&program, &file, seed, &outcome);
    if let Err(error) = std::fs::write(&out, text) {
        eprintln!("error: cannot write {}: {error}", out.display());
        return exit::INTERNAL;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "violation   {} (kept)", outcome.violation);
    let _ = writeln!(stdout, "removed     {reduction}");
    let _ = writeln!(
        stdout,
        "trace hash  {} (minimal run)",
        outcome.report.trace_hash
    );
    let _ = writeln!(stdout, "runs tried  {}", outcome.runs);
    if outcome.budget_exhausted {
        let _ = writeln!(
            stdout,
            "note        stopped at --runs-max {runs_max}; it may shrink further"
        );
    }
    let _ = writeln!(stdout, "written     {}", out.display());
    let _ = writeln!(
        stdout,
        "reproduce   {}",
        reproduction_command(&program, &out.display().to_string(), seed)
    );
    exit::VIOLATION
}

fn validate(registry: &Registry, paths: &[PathBuf]) -> u8 {
    let mut code = exit::PASS;
    for path in paths {
        let file = path.display().to_string();
        match registry.load_file(&file) {
            Ok(scenario) => {
                let _ = writeln!(
                    std::io::stdout(),
                    "ok    {file}: {} ({}, {} fault phase)",
                    scenario.name(),
                    scenario.protocol(),
                    scenario.duration()
                );
            }
            Err(error) => {
                eprintln!("error: {error}");
                code = exit::BAD_INPUT;
            }
        }
    }
    code
}

fn list(registry: &Registry) -> u8 {
    crate::list::print(registry, std::path::Path::new("scenarios"))
}
