//! `faultline reproduce NAME`: published results (../shared/paper-data/TARGETS.md) re-run on
//! the simulator, each printed as a table of measured figures beside the published or
//! expected ones, with the tolerance and a verdict per row, and written as `NAME.csv` and
//! `NAME.svg`.
//!
//! | id | name | module | what is compared |
//! | --- | --- | --- | --- |
//! | T1 | raft-fig16 | [`fig16`] | time to replace a crashed Raft leader per timeout range, against the paper's per-trial data |
//! | T2 | raft-split-vote | [`split_vote`] | first-term split-vote rate against the thesis's closed form |
//! | T7 | pbs-k-staleness | [`k_staleness`] | reads within k versions against the PBS closed form |
//! | T8 | pbs-t-visibility | [`t_visibility`] | quorum_kv on the PBS production latency fits (mixtures, per-class latency) against the WARS oracle and TARGETS.md |
//! | T11 | vclock-siblings | [`siblings`] | siblings after 101 writes, server version vectors against DVV |
//! | T12 | jepsen-lww-sets | [`lww_sets`] | acknowledged set adds lost under LWW, none under set union |
//! | T13 | lww-clock-skew | [`lww_skew`] | LWW lost updates against ½(1−e^{−μs/2}) |
//!
//! Every reproduction has a reduced form (the default: well under a minute in release mode)
//! and the full form of TARGETS.md (`--full`). Tolerances are set for the full trial count;
//! with fewer trials they widen by the square root of the trial-count ratio, as TARGETS.md's
//! compute note says, and the table shows the widened value. Everything is seeded: the same
//! command prints the same numbers on every machine.

pub mod chart;
pub mod fig16;
pub mod k_staleness;
pub mod lww_sets;
pub mod lww_skew;
pub mod siblings;
pub mod split_vote;
pub mod stats;
pub mod t_visibility;

use crate::cli::exit;
use sim_core::trace::{TraceKind, TraceRecord, TraceSink};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How much to run: the reduced or the full form, or an explicit trial count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Run TARGETS.md's full trial counts.
    pub full: bool,
    /// Trials per curve or row, overriding both forms.
    pub trials: Option<u64>,
}

impl Plan {
    /// The reduced form.
    pub const REDUCED: Plan = Plan {
        full: false,
        trials: None,
    };

    /// The full form.
    pub const FULL: Plan = Plan {
        full: true,
        trials: None,
    };

    /// The trial count to use where the reduced form runs `reduced` and the full form `full`.
    pub fn trials(&self, reduced: u64, full: u64) -> u64 {
        self.trials
            .unwrap_or(if self.full { full } else { reduced })
            .max(1)
    }

    /// A short description for the table's header.
    pub fn describe(&self) -> &'static str {
        match (self.trials, self.full) {
            (Some(_), _) => "explicit trial count",
            (None, true) => "full form",
            (None, false) => "reduced form",
        }
    }
}

/// Whether a row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Within tolerance.
    Pass,
    /// Outside tolerance.
    Fail,
    /// Reported, not gated.
    Report,
}

impl Check {
    /// Pass when `holds`, else Fail.
    pub fn from(holds: bool) -> Check {
        if holds {
            Check::Pass
        } else {
            Check::Fail
        }
    }

    /// The word printed in the table.
    pub fn word(self) -> &'static str {
        match self {
            Check::Pass => "PASS",
            Check::Fail => "FAIL",
            Check::Report => "report",
        }
    }
}

/// One row of a reproduction's table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What is measured: "150-300 ms median (ms)".
    pub item: String,
    /// The measured figure, as printed.
    pub measured: String,
    /// The published or expected figure, as printed.
    pub expected: String,
    /// The tolerance, as printed ("±15%", "≤ 0.5 pp", "exact").
    pub tolerance: String,
    /// The verdict.
    pub check: Check,
}

impl Row {
    /// A row from its parts.
    pub fn new(
        item: impl Into<String>,
        measured: impl Into<String>,
        expected: impl Into<String>,
        tolerance: impl Into<String>,
        check: Check,
    ) -> Row {
        Row {
            item: item.into(),
            measured: measured.into(),
            expected: expected.into(),
            tolerance: tolerance.into(),
            check,
        }
    }
}

/// What one reproduction measured.
#[derive(Clone, Debug)]
pub struct Reproduction {
    /// The target's id in TARGETS.md ("T1").
    pub id: &'static str,
    /// The name the command takes ("raft-fig16").
    pub name: &'static str,
    /// What was run, one line each: setup, trial counts, seeds.
    pub setup: Vec<String>,
    /// The table.
    pub rows: Vec<Row>,
    /// Caveats and what is missing, one line each.
    pub notes: Vec<String>,
    /// The chart.
    pub figure: chart::Figure,
}

impl Reproduction {
    /// True when no row failed.
    pub fn passed(&self) -> bool {
        self.rows.iter().all(|row| row.check != Check::Fail)
    }

    /// The rows that failed.
    pub fn failures(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|row| row.check == Check::Fail)
            .collect()
    }

    /// The table as CSV: one line per row, with a header.
    pub fn csv(&self) -> String {
        let mut out = String::from("target,item,measured,expected,tolerance,verdict\n");
        for row in &self.rows {
            let fields = [
                self.id,
                &row.item,
                &row.measured,
                &row.expected,
                &row.tolerance,
                row.check.word(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }

    /// The table and notes as text for a terminal.
    pub fn render(&self) -> String {
        let title = format!("{} {}", self.id, self.name);
        let mut out = format!("{title}\n{}\n", "=".repeat(title.chars().count()));
        for line in &self.setup {
            out.push_str(&format!("  {line}\n"));
        }
        out.push('\n');
        let header = ["item", "measured", "expected", "tolerance", "verdict"];
        let cells: Vec<[&str; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.item.as_str(),
                    r.measured.as_str(),
                    r.expected.as_str(),
                    r.tolerance.as_str(),
                    r.check.word(),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&cells) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| pad(cell, width))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out.push_str(&format!("note: {note}\n"));
            }
        }
        let failed = self.failures().len();
        out.push_str(&match failed {
            0 => "\nresult: PASS (every gated row holds)\n".to_string(),
            n => format!("\nresult: FAIL ({n} gated rows out of tolerance)\n"),
        });
        out
    }
}

fn pad(cell: &str, width: usize) -> String {
    let fill = width.saturating_sub(cell.chars().count());
    format!("{cell}{}", " ".repeat(fill))
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// One reproducible target.
pub struct Target {
    /// Its id in TARGETS.md.
    pub id: &'static str,
    /// The name the command takes.
    pub name: &'static str,
    /// One line on what it compares.
    pub summary: &'static str,
    /// Trials of the reduced and of the full form, as a phrase.
    pub trials: &'static str,
    /// Runs it.
    pub run: fn(&Plan) -> Result<Reproduction, String>,
}

/// Every target, in TARGETS.md order.
pub fn targets() -> &'static [Target] {
    &TARGETS
}

static TARGETS: [Target; 7] = [
    Target {
        id: "T1",
        name: "raft-fig16",
        summary: "Raft Figure 16: time to replace a crashed leader, per election-timeout range, against the paper's per-trial data",
        trials: fig16::TRIALS,
        run: fig16::run,
    },
    Target {
        id: "T2",
        name: "raft-split-vote",
        summary: "Raft thesis §9.2: first-term split-vote rate against the fixed-latency closed form",
        trials: split_vote::TRIALS,
        run: split_vote::run,
    },
    Target {
        id: "T7",
        name: "pbs-k-staleness",
        summary: "PBS §3.1: reads within k versions against (C(N-W,R)/C(N,R))^k; none stale when R+W>N",
        trials: k_staleness::TRIALS,
        run: k_staleness::run,
    },
    Target {
        id: "T8",
        name: "pbs-t-visibility",
        summary: "PBS WARS t-visibility: quorum_kv on LNKD-SSD/DISK, YMMR and WAN against the WARS oracle and [OURS] at t = 0/1/5/10 ms",
        trials: t_visibility::TRIALS,
        run: t_visibility::run,
    },
    Target {
        id: "T11",
        name: "vclock-siblings",
        summary: "DVVSet README: 101 writes leave 101 siblings with server version vectors and 2 with DVV",
        trials: siblings::TRIALS,
        run: siblings::run,
    },
    Target {
        id: "T12",
        name: "jepsen-lww-sets",
        summary: "Jepsen 2013: LWW loses 50-90% of contended set adds; set union (vclock siblings) loses none",
        trials: lww_sets::TRIALS,
        run: lww_sets::run,
    },
    Target {
        id: "T13",
        name: "lww-clock-skew",
        summary: "LWW lost updates against ½(1-e^(-μs/2)) per clock skew s; none at s = 0",
        trials: lww_skew::TRIALS,
        run: lww_skew::run,
    },
];

/// The target called `name` (its name or its id, ignoring case), or None.
pub fn find(name: &str) -> Option<&'static Target> {
    targets()
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name) || t.id.eq_ignore_ascii_case(name))
}

/// Runs the target called `name` with `plan`.
pub fn reproduce(name: &str, plan: &Plan) -> Result<Reproduction, String> {
    let target = find(name).ok_or_else(|| unknown(name))?;
    (target.run)(plan)
}

fn unknown(name: &str) -> String {
    let known: Vec<String> = targets()
        .iter()
        .map(|t| format!("{} ({})", t.name, t.id))
        .collect();
    format!(
        "no reproduction called `{name}`; expected one of: {}, or `all`",
        known.join(", ")
    )
}

/// A bundled scenario's text with each `(from, to)` edit applied once, in order; an edit whose
/// `from` the text no longer contains is an error naming `file`, so a reproduction never runs
/// a scenario someone changed under it.
pub fn edit_scenario<F: AsRef<str>, T: AsRef<str>>(
    file: &str,
    text: &str,
    edits: &[(F, T)],
) -> Result<String, String> {
    let mut text = text.to_string();
    for (from, to) in edits {
        let (from, to) = (from.as_ref(), to.as_ref());
        if !text.contains(from) {
            return Err(format!("{file} no longer contains `{from}`"));
        }
        text = text.replacen(from, to, 1);
    }
    Ok(text)
}

/// Runs `trial` for every seed in `seeds` over the available cores and returns the results
/// in seed order, so the outcome never depends on how the work was split.
pub fn par_map<T: Send>(seeds: std::ops::Range<u64>, trial: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8) as u64;
    let count = seeds.end.saturating_sub(seeds.start);
    if workers == 1 || count < 2 {
        return seeds.map(&trial).collect();
    }
    let trial = &trial;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let seeds = seeds.clone();
                let start = seeds.start;
                scope.spawn(move || {
                    seeds
                        .filter(|seed| (seed - start) % workers == worker)
                        .map(|seed| (seed, trial(seed)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(u64, T)> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("a reproduction worker"))
            .collect();
        all.sort_by_key(|(seed, _)| *seed);
        all.into_iter().map(|(_, value)| value).collect()
    })
}

/// A trace sink that passes only annotations on to `inner`, so the engine formats the text of
/// no other event (the leadership notes are annotations; formatting every message would cost
/// more than simulating it).
pub struct AnnotationsOnly<'a, S: TraceSink>(pub &'a mut S);

impl<S: TraceSink> TraceSink for AnnotationsOnly<'_, S> {
    fn event(&mut self, record: &TraceRecord, description: &str) {
        if record.kind == TraceKind::Annotation {
            self.0.event(record, description);
        }
    }

    fn wants_text(&self, record: &TraceRecord) -> bool {
        record.kind == TraceKind::Annotation
    }
}

/// Writes `DIR/NAME.csv` and `DIR/NAME.svg`; returns their paths.
pub fn write_outputs(
    reproduction: &Reproduction,
    dir: &Path,
) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
    let csv = dir.join(format!("{}.csv", reproduction.name));
    std::fs::write(&csv, reproduction.csv())
        .map_err(|e| format!("cannot write {}: {e}", csv.display()))?;
    let svg = dir.join(format!("{}.svg", reproduction.name));
    let drawing = chart::svg(&reproduction.figure)
        .map_err(|e| format!("cannot draw the chart of {}: {e}", reproduction.name))?;
    std::fs::write(&svg, drawing).map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
    Ok((csv, svg))
}

/// `faultline reproduce NAME [--full] [--out DIR] [--trials N]`, and `--list`.
#[derive(clap::Args, Debug)]
pub struct ReproduceArgs {
    /// The target: a name or id from --list (raft-fig16 or T1, ...), or `all`.
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// List the targets and exit.
    #[arg(long, conflicts_with_all = ["full", "trials"])]
    pub list: bool,
    /// Run the full trial counts of TARGETS.md (minutes, not seconds).
    #[arg(long)]
    pub full: bool,
    /// Where to write NAME.csv and NAME.svg.
    #[arg(long, value_name = "DIR", default_value = "reproductions")]
    pub out: PathBuf,
    /// Trials per curve or table row, overriding the reduced or full count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub trials: Option<u64>,
}

/// Runs the subcommand; returns the exit code.
pub fn cli(args: &ReproduceArgs) -> u8 {
    let mut out = std::io::stdout().lock();
    if args.list {
        for target in targets() {
            let _ = writeln!(
                out,
                "{:<4} {:<18} {}",
                target.id, target.name, target.summary
            );
            let _ = writeln!(out, "{:<23} trials: {}", "", target.trials);
        }
        return exit::PASS;
    }
    let name = args.name.as_deref().unwrap_or_default();
    let chosen: Vec<&Target> = if name.eq_ignore_ascii_case("all") {
        targets().iter().collect()
    } else {
        match find(name) {
            Some(target) => vec![target],
            None => {
                eprintln!("error: {}", unknown(name));
                return exit::BAD_INPUT;
            }
        }
    };
    let plan = Plan {
        full: args.full,
        trials: args.trials,
    };
    let mut code = exit::PASS;
    for target in chosen {
        crate::cli::set_reproduction(format!("faultline reproduce {}", target.name));
        let reproduction = match (target.run)(&plan) {
            Ok(reproduction) => reproduction,
            Err(error) => {
                eprintln!("error: {}: {error}", target.name);
                return exit::BAD_INPUT;
            }
        };
        let _ = write!(out, "{}", reproduction.render());
        match write_outputs(&reproduction, &args.out) {
            Ok((csv, svg)) => {
                let _ = writeln!(out, "written {} and {}\n", csv.display(), svg.display());
            }
            Err(error) => {
                eprintln!("error: {error}");
                return exit::BAD_INPUT;
            }
        }
        if !reproduction.passed() {
            code = exit::VIOLATION;
        }
    }
    code
}

/// A percentage with `digits` decimals.
pub fn percent(share: f64, digits: usize) -> String {
    format!("{:.*}%", digits, share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_found_by_name_or_id_in_any_case() {
        assert_eq!(find("raft-fig16").map(|t| t.id), Some("T1"));
        assert_eq!(find("t13").map(|t| t.name), Some("lww-clock-skew"));
        assert!(find("T3").is_none());
        assert!(unknown("nope").contains("raft-split-vote (T2)"));
    }

    #[test]
    fn par_map_keeps_seed_order() {
        let squares = par_map(3..20, |seed| seed * seed);
        assert_eq!(squares, (3..20u64).map(|s| s * s).collect::<Vec<_>>());
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        let reproduction = Reproduction {
            id: "T0",
            name: "example",
            setup: vec![],
            rows: vec![Row::new("a, b", "1", "2", "±1", Check::Pass)],
            notes: vec![],
            figure: chart::Figure::default(),
        };
        assert_eq!(
            reproduction.csv(),
            "target,item,measured,expected,tolerance,verdict\nT0,\"a, b\",1,2,±1,PASS\n"
        );
        assert!(reproduction.render().contains("result: PASS"));
    }
}
