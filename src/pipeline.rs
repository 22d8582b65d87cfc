//! Wiring of one run: simulate, check the history, build the report.

use crate::registry::LoadedScenario;
use checkers::{convergence, lost_writes};
use reports::{CheckResults, Report, RunIdentity};
use sim_core::engine::{RunOptions, RunResult};
use sim_core::scenario::CheckName;
use sim_core::trace::TraceSink;

/// The command that reproduces a run of `file` with `seed`.
pub fn reproduction_command(program: &str, file: &str, seed: u64) -> String {
    format!("{program} run {file} --seed {seed}")
}

/// Runs the checks the scenario asks for on a finished run.
pub fn check(scenario: &dyn LoadedScenario, result: &RunResult) -> CheckResults {
    let wants = |check: CheckName| scenario.checks().contains(&check);
    // A lost-writes budget needs the count even when the check itself is not listed.
    let count_lost = wants(CheckName::LostWrites) || scenario.budgets().lost_writes_max.is_some();
    CheckResults {
        convergence: wants(CheckName::Convergence)
            .then(|| convergence::check(&result.final_views, &result.key_replicas)),
        lost_writes: count_lost.then(|| {
            let sample_times: Vec<_> = result.divergence.iter().map(|s| s.time).collect();
            let observed = lost_writes::Observations {
                sample_times: &sample_times,
                first_seen: &result.first_seen,
            };
            lost_writes::check(&result.history, &result.final_views, Some(observed))
        }),
        ..CheckResults::default()
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
