//! Wiring of one run: simulate, check the history, build the report.

use crate::registry::LoadedScenario;
use checkers::ladder::{LadderInputs, LadderRow, Status};
use checkers::linearizability::models::CasRegister;
use checkers::linearizability::{self, Budget, Consistency, Options};
use checkers::session::{self, VersionOrder};
use checkers::{causal, convergence, history_formats, lost_writes, stale_reads};
use reports::{CheckResults, Report, RunIdentity};
use sim_core::engine::{RunOptions, RunResult};
use sim_core::history::{History, OpKind, Outcome};
use sim_core::scenario::CheckName;
use sim_core::trace::TraceSink;

/// The command that reproduces a run of `file` with `seed`.
pub fn reproduction_command(program: &str, file: &str, seed: u64) -> String {
    format!("{program} run {file} --seed {seed}")
}

/// Search steps the linearizability search may take on one run. A step budget (never a
/// wall-clock one) keeps reports identical on every machine; a search that runs out says
/// "unknown", which fails nothing unless the scenario judges it.
pub const SEARCH_STEPS_MAX: u64 = 2_000_000;

/// Search steps for sequential consistency when the scenario only describes it: without
/// real-time order the search space is far larger, and every run of a sweep pays for it.
/// A scenario that judges `Sequential` gets [`SEARCH_STEPS_MAX`].
pub const SEQUENTIAL_DESCRIBED_STEPS_MAX: u64 = 200_000;

/// Runs every checker on a finished run: all of them describe it (the consistency ladder),
/// and the ones the scenario lists in `checks` judge it.
pub fn check(scenario: &dyn LoadedScenario, result: &RunResult) -> CheckResults {
    let history = &result.history;
    let judged = scenario.checks().to_vec();
    let wants = |check: CheckName| judged.contains(&check);
    let convergence = (scenario.has_settle() || wants(CheckName::Convergence))
        .then(|| convergence::check(&result.final_views, &result.key_replicas));
    let sample_times: Vec<_> = result.divergence.iter().map(|s| s.time).collect();
    let observed = lost_writes::Observations {
        sample_times: &sample_times,
        first_seen: &result.first_seen,
    };
    let lost_writes = lost_writes::check(history, &result.final_views, Some(observed));
    let stale = stale_reads::check(history);
    let session = session::check(history, VersionOrder::RealTime);
    let causal = causal::check(history);
    let log = history_formats::faultline::register_log(history);
    let search = |consistency: Consistency| {
        let steps_max = match consistency {
            Consistency::Sequential if !wants(CheckName::Sequential) => {
                SEQUENTIAL_DESCRIBED_STEPS_MAX
            }
            _ => SEARCH_STEPS_MAX,
        };
        let options = Options {
            consistency,
            budget: Budget {
                steps_max,
                wall_ms_max: None,
                witness_steps_max: SEARCH_STEPS_MAX / 4,
            },
            // Witnesses cost further searches: build them only where a person will read them.
            witness: wants(match consistency {
                Consistency::Linearizable => CheckName::Linearizable,
                Consistency::Sequential => CheckName::Sequential,
            }),
        };
        linearizability::check(&CasRegister::default(), &log, &options)
    };
    let linearizable = search(Consistency::Linearizable);
    // Linearizable implies sequential: the costlier search runs only when it can say more.
    let sequential = match linearizable.verdict {
        linearizability::Verdict::Holds if !wants(CheckName::Sequential) => {
            linearizability::Report {
                consistency: Consistency::Sequential,
                ..linearizable.clone()
            }
        }
        _ => search(Consistency::Sequential),
    };
    let sequential = implied_not_sequential(sequential, &causal, history, wants);
    let status = |report: &linearizability::Report| match report.verdict {
        linearizability::Verdict::Holds => Status::Held,
        linearizability::Verdict::Violated => Status::Violated,
        linearizability::Verdict::Unknown => Status::Unknown,
    };
    let ladder_row = LadderRow::build(
        format!("{} seed {}", scenario.name(), result.seed),
        &LadderInputs {
            linearizable: status(&linearizable),
            sequential: status(&sequential),
            causal: Some(&causal),
            session: Some(&session),
            convergence: convergence.as_ref(),
            lost_writes: Some(&lost_writes),
            stale_reads: Some(&stale),
        },
    );
    CheckResults {
        judged,
        convergence,
        lost_writes: Some(lost_writes),
        stale_reads: Some(
            stale
                .stale
                .iter()
                .map(|s| reports::StaleRead {
                    op: s.op,
                    missed: s.overwritten_by,
                })
                .collect(),
        ),
        stale: Some(stale),
        linearizable: Some(linearizable),
        sequential: Some(sequential),
        session: Some(session),
        causal: Some(causal),
        ladder_row: Some(ladder_row),
    }
}

/// A sequential search that ran out of budget while the history is not causally consistent:
/// sequential consistency implies causal consistency, so the answer is no. Only where both
/// checks read the history alike: every operation's outcome known (a timed-out write may take
/// effect after its client's later operations in the search, never in the causal check) and
/// no compare-and-set (the causal check reasons about reads and writes). A scenario that
/// judges `Sequential` still gets the search's own verdict and witness.
fn implied_not_sequential(
    sequential: linearizability::Report,
    causal: &causal::CausalVerdict,
    history: &History,
    wants: impl Fn(CheckName) -> bool,
) -> linearizability::Report {
    let applies = sequential.verdict == linearizability::Verdict::Unknown
        && !wants(CheckName::Sequential)
        && causal.not_checked.is_none()
        && !causal.cc
        && history
            .ops
            .iter()
            .all(|op| op.outcome != Outcome::Unknown && op.kind != OpKind::Cas);
    if !applies {
        return sequential;
    }
    linearizability::Report {
        verdict: linearizability::Verdict::Violated,
        unknown: None,
        implied_by: Some(
            "not causally consistent, and sequential consistency implies causal consistency".into(),
        ),
        ..sequential
    }
}

/// Runs, checks and reports one seed of a scenario.
pub fn run_and_report(
    program: &str,
    scenario: &dyn LoadedScenario,
    seed: u64,
    options: RunOptions,
    sink: Option<&mut dyn TraceSink>,
) -> (RunResult, Report) {
    let result = scenario.run(seed, options, sink);
    let checks = check(scenario, &result);
    let identity = RunIdentity {
        scenario: scenario.name().to_string(),
        file: scenario.file().to_string(),
        protocol: scenario.protocol().to_string(),
        protocol_config: scenario.protocol_config(),
        reproduce: reproduction_command(program, scenario.file(), seed),
        budgets: scenario.budgets(),
    };
    let report = Report::build(identity, &result, &checks);
    (result, report)
}
