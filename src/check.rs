//! `faultline check`: linearizability (or sequential consistency) of a history recorded
//! elsewhere — Jepsen/Knossos EDN, Porcupine's etcd logs — or by `faultline run --history`,
//! and the writer behind `--history`.
//!
//! Exit codes: 0 the history holds, 1 it does not (the witness says why), 2 the file cannot be
//! read (line, column and reason), 4 the search budget ran out (never reported as a pass).

use crate::cli::exit;
use checkers::history_formats::{faultline, jepsen, porcupine, ReadError};
use checkers::linearizability::models::{CasRegister, Kv, MultiRegister, Mutex};
use checkers::linearizability::{self as lin, Budget, Consistency, Model, OpLog, Options, Verdict};
use clap::ValueEnum;
use sim_core::history::History;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The history file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Jepsen EDN: one collection of operation maps (Knossos) or one map per line (Jepsen's
    /// history.edn, Porcupine's kv logs). `:fail` never happened; a read of nil is unknown.
    Edn,
    /// Porcupine's Jepsen etcd logs: a failed cas did not match; the register starts absent.
    Porcupine,
    /// faultline's own history as JSON (`sim_core::history::History`).
    Faultline,
}

/// The sequential specification to check against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelName {
    /// A register with read, write and cas (one per `:key` when operations have one).
    CasRegister,
    /// String keys with get, put and append, initially empty (Porcupine's kv).
    Kv,
    /// A lock with acquire and release.
    Mutex,
    /// Registers updated by `:txn` transactions of reads and writes (`--init x=0,y=0`).
    MultiRegister,
}

/// The arguments of `faultline check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The history file.
    pub file: PathBuf,
    /// The file's format.
    #[arg(long, value_enum, default_value = "edn")]
    pub format: Format,
    /// The model the history must follow.
    #[arg(long, value_enum, default_value = "cas-register")]
    pub model: ModelName,
    /// The initial state: nil or an integer for cas-register (default nil; Knossos's
    /// cas-register files are for 0), NAME=V,... for multi-register.
    #[arg(long, value_name = "V")]
    pub init: Option<String>,
    /// Check sequential consistency (each client's order) instead of linearizability.
    #[arg(long)]
    pub sequential: bool,
    /// Search steps before the verdict becomes unknown (exit 4).
    #[arg(long, default_value_t = Budget::default().steps_max)]
    pub steps_max: u64,
    /// Wall-clock seconds before the verdict becomes unknown (exit 4); none by default.
    #[arg(long, value_name = "SECONDS")]
    pub seconds_max: Option<u64>,
    /// Skip the witness (faster on violations).
    #[arg(long)]
    pub no_witness: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `faultline check` and returns its exit code.
pub fn run(args: &CheckArgs) -> u8 {
    let file = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read {file}: {error}");
            return exit::BAD_INPUT;
        }
    };
    let options = Options {
        consistency: if args.sequential {
            Consistency::Sequential
        } else {
            Consistency::Linearizable
        },
        budget: Budget {
            steps_max: args.steps_max,
            wall_ms_max: args.seconds_max.map(|s| s.saturating_mul(1000)),
            ..Budget::default()
        },
        witness: !args.no_witness,
    };
    match check_text(&text, args, &options) {
        Ok(report) => print(&file, args, &report),
        Err(error) => {
            eprintln!("error: {file}: {error}");
            exit::BAD_INPUT
        }
    }
}

/// Reads `text` in the chosen format and checks it under the chosen model.
fn check_text(text: &str, args: &CheckArgs, options: &Options) -> Result<lin::Report, String> {
    let whole = |reason: String| ReadError::at_line(1, reason).to_string();
    match (args.format, args.model) {
        (Format::Porcupine, ModelName::CasRegister) => {
            let model = CasRegister { init: register_init(args)? };
            Ok(lin::check(&model, &porcupine::read(text).map_err(|e| e.to_string())?, options))
        }
        (Format::Porcupine, _) => Err(whole(
            "--format porcupine reads Porcupine's etcd cas-register logs: use --model cas-register \
             (Porcupine's kv logs are EDN: --format edn --model kv)"
                .into(),
        )),
        (Format::Faultline, ModelName::CasRegister) => {
            let model = CasRegister { init: register_init(args)? };
            let history = faultline::read(text).map_err(|e| e.to_string())?;
            Ok(lin::check(&model, &faultline::register_log(&history), options))
        }
        (Format::Faultline, _) => Err(whole(
            "a faultline history is per-key get/put/cas registers: use --model cas-register".into(),
        )),
        (Format::Edn, model) => {
            let ops = jepsen::read(text).map_err(|e| e.to_string())?;
            let read = |e: ReadError| e.to_string();
            match model {
                ModelName::CasRegister => {
                    let model = CasRegister { init: register_init(args)? };
                    edn_check(&model, jepsen::cas_register(&ops).map_err(read)?, options)
                }
                ModelName::Kv => edn_check(&Kv, jepsen::kv(&ops).map_err(read)?, options),
                ModelName::Mutex => edn_check(&Mutex, jepsen::mutex(&ops).map_err(read)?, options),
                ModelName::MultiRegister => {
                    let model = MultiRegister { init: registers_init(args)? };
                    edn_check(&model, jepsen::multi_register(&ops).map_err(read)?, options)
                }
            }
        }
    }
}

fn edn_check<M: Model>(
    model: &M,
    log: OpLog<M::Input, M::Output>,
    options: &Options,
) -> Result<lin::Report, String> {
    Ok(lin::check(model, &log, options))
}

/// `--init` for a register: nil or an integer.
fn register_init(args: &CheckArgs) -> Result<Option<i64>, String> {
    match args.init.as_deref() {
        None | Some("nil") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| format!("--init {text:?}: expected nil or an integer, e.g. --init 0")),
    }
}

/// `--init` for a multi-register: NAME=V,NAME=V.
fn registers_init(args: &CheckArgs) -> Result<std::collections::BTreeMap<String, i64>, String> {
    let Some(text) = args.init.as_deref() else {
        return Ok(Default::default());
    };
    text.split(',')
        .map(|pair| {
            let (name, value) = pair.split_once('=').ok_or(())?;
            let value: i64 = value.trim().parse().map_err(|_| ())?;
            Ok((name.trim().trim_start_matches(':').to_string(), value))
        })
        .collect::<Result<_, ()>>()
        .map_err(|()| format!("--init {text:?}: expected NAME=V pairs, e.g. --init x=0,y=0"))
}

fn print(file: &str, args: &CheckArgs, report: &lin::Report) -> u8 {
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "file": file,
            "format": format!("{:?}", args.format).to_lowercase(),
            "model": args.model.to_possible_value().map(|v| v.get_name().to_string()),
            "report": report,
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).expect("serializable")
        );
    } else {
        let verdict = match report.verdict {
            Verdict::Holds => format!("{}", report.consistency).to_uppercase(),
            Verdict::Violated => format!("NOT {}", report.consistency).to_uppercase(),
            Verdict::Unknown => "UNKNOWN (neither pass nor fail)".to_string(),
        };
        let _ = writeln!(out, "verdict     {verdict}");
        let _ = writeln!(
            out,
            "history     {file}: {} operations on {} key{}, {} search steps",
            report.operations,
            report.keys,
            if report.keys == 1 { "" } else { "s" },
            report.steps
        );
        if let Some(why) = &report.unknown {
            let _ = writeln!(out, "unknown     {why} (--steps-max, --seconds-max)");
        }
        if let Some(witness) = &report.witness {
            let _ = write!(out, "{witness}");
        }
    }
    match report.verdict {
        Verdict::Holds => exit::PASS,
        Verdict::Violated => exit::VIOLATION,
        Verdict::Unknown => exit::UNKNOWN,
    }
}

/// Writes `history` as Jepsen EDN (one map per line) for `faultline run --history FILE`.
pub fn write_history(path: &Path, history: &History) -> Result<(), String> {
    std::fs::write(path, faultline::to_edn(history))
        .map_err(|error| format!("cannot write the history to {}: {error}", path.display()))
}
