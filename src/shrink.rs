//! `faultline shrink`: cut a failing run down to what its violation needs — faults (random
//! ones first turned into an explicit schedule), clients, keys, operations, simulated time —
//! and write the result as a scenario with the seed pinned.
//!
//! Every candidate is a whole scenario re-read from RON and run with the same seed; it is kept
//! when its first violation is still of the same kind. Removing a fault or a client leaves
//! every other random draw unchanged (the engine derives one stream per fault generator,
//! client and link), so a smaller scenario replays the rest of the run as it was.
//!
//! One pass tries, in order: delta debugging over the faults; the fewest clients (from none
//! up) and keys (from one up); faster or slower clients, kept only when the violation then
//! needs fewer operations (a race shows sooner among faster clients, a late fault after fewer
//! operations of slower ones); clients that start just before the first violation, latest
//! first; faults and the clients' start moved earlier; the fewest operations per client; the
//! shortest fault phase. Passes repeat until one changes nothing: shrinking the output again
//! removes nothing more.

use crate::pipeline::run_and_report;
use crate::registry::LoadedScenario;
use reports::Report;
use sim_core::engine::RunOptions;
use sim_core::scenario::{OperationMix, ScenarioEdit, ScenarioError};
use sim_core::time::{SimDuration, NS_PER_MS};
use std::fmt;

/// How big a scenario's run is, in the units shrinking reduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Pinned faults (random ones made explicit).
    pub faults: usize,
    /// Clients.
    pub clients: u32,
    /// Operations in the history.
    pub operations: usize,
    /// Length of the fault phase.
    pub duration: SimDuration,
}

/// What shrinking produced.
pub struct ShrinkOutcome {
    /// The minimal scenario, seed pinned.
    pub scenario: Box<dyn LoadedScenario>,
    /// The violation kind kept.
    pub violation: String,
    /// Size before and after.
    pub before: Size,
    /// Size of the minimal run.
    pub after: Size,
    /// The minimal run's report.
    pub report: Report,
    /// How many candidate runs were tried.
    pub runs: u64,
    /// Set when the run budget ended shrinking before a fixpoint.
    pub budget_exhausted: bool,
}

/// Why shrinking could not start.
#[derive(Debug)]
pub enum ShrinkError {
    /// The seed does not fail: there is nothing to keep.
    Passes(Box<Report>),
    /// An edited scenario could not be read back (a bug: edits keep scenarios valid).
    Scenario(ScenarioError),
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::Passes(report) => write!(
                f,
                "seed {} of {} shows no violation ({:?}): there is nothing to shrink",
                report.seed, report.file, report.verdict
            ),
            ShrinkError::Scenario(error) => {
                write!(f, "an edited scenario did not read back: {error}")
            }
        }
    }
}

/// How long before the first violation the clients' start is tried, per decade of
/// milliseconds (1, 1.5, 2, 3, 5, 7, 10, 15, ... ms, in tenths).
const LEAD_STEPS: [u64; 6] = [10, 15, 20, 30, 50, 70];

struct Shrinker<'a> {
    program: &'a str,
    seed: u64,
    violation: String,
    runs: u64,
    runs_max: u64,
}

/// A candidate that kept the violation, with its run.
struct Kept {
    scenario: Box<dyn LoadedScenario>,
    trial: Trial,
}

/// One run of a candidate, as the shrinker judges it.
struct Trial {
    report: Report,
    /// Operations invoked up to the first violation: what the run needed to show it (the
    /// rest can go by shortening the run).
    operations_needed: usize,
}

fn operations(report: &Report) -> usize {
    (report.operations.ok + report.operations.fail + report.operations.unknown) as usize
}

impl Shrinker<'_> {
    fn run(&mut self, scenario: &dyn LoadedScenario) -> Trial {
        self.runs += 1;
        let (result, report) = run_and_report(
            self.program,
            scenario,
            self.seed,
            RunOptions::default(),
            None,
        );
        let first_ns = report
            .violations
            .first()
            .and_then(|v| v.time_ns)
            .unwrap_or(u64::MAX);
        let operations_needed = result
            .history
            .ops
            .iter()
            .filter(|op| op.invoke.0 <= first_ns)
            .count();
        Trial {
            report,
            operations_needed,
        }
    }

    fn budget_left(&self) -> bool {
        self.runs < self.runs_max
    }

    /// The edited scenario and its run, when it still shows the violation first.
    fn try_edit(
        &mut self,
        scenario: &dyn LoadedScenario,
        edit: ScenarioEdit,
    ) -> Result<Option<Kept>, ShrinkError> {
        if !self.budget_left() {
            return Ok(None);
        }
        let candidate = scenario.edited(&edit).map_err(ShrinkError::Scenario)?;
        let trial = self.run(candidate.as_ref());
        // The same kind must stay the *first* violation, so that shrinking the output again
        // aims at the same thing and removes nothing more.
        let keeps = trial
            .report
            .violations
            .first()
            .is_some_and(|v| v.name == self.violation);
        Ok(keeps.then_some(Kept {
            scenario: candidate,
            trial,
        }))
    }

    /// Delta debugging over the fault list: remove chunks while the violation stays.
    fn faults(
        &mut self,
        mut scenario: Box<dyn LoadedScenario>,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        let mut chunks = 2usize;
        while scenario.fault_count() > 0 && self.budget_left() {
            let count = scenario.fault_count();
            let chunk = count.div_ceil(chunks.min(count));
            let mut reduced = false;
            for start in (0..count).step_by(chunk) {
                let keep: Vec<usize> = (0..count)
                    .filter(|i| *i < start || *i >= start + chunk)
                    .collect();
                let edit = ScenarioEdit {
                    keep_faults: Some(keep),
                    ..ScenarioEdit::default()
                };
                if let Some(smaller) = self.try_edit(scenario.as_ref(), edit)? {
                    scenario = smaller.scenario;
                    chunks = (chunks - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if chunk == 1 {
                    break;
                }
                chunks = (chunks * 2).min(count);
            }
        }
        Ok(scenario)
    }

    /// The first of `candidates` (smallest first) for which `edit_for` keeps the violation.
    /// Every candidate is tried: none of these measures is monotonic (one client fewer is a
    /// different run, and may fail where two fewer does not).
    fn first_that_keeps(
        &mut self,
        scenario: Box<dyn LoadedScenario>,
        candidates: impl Iterator<Item = u64>,
        edit_for: impl Fn(u64) -> ScenarioEdit,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        for candidate in candidates {
            if let Some(smaller) = self.try_edit(scenario.as_ref(), edit_for(candidate))? {
                return Ok(smaller.scenario);
            }
        }
        Ok(scenario)
    }

    /// Applies `edit` again and again while the violation stays, the scenario changes and
    /// the run needs fewer operations to show it than before (or no more, when `ties_too`):
    /// a faster, slower or earlier run is smaller only if it needs fewer operations.
    fn repeat_while_fewer_needed(
        &mut self,
        mut scenario: Box<dyn LoadedScenario>,
        edit: &ScenarioEdit,
        ties_too: bool,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        let mut needed = self.run(scenario.as_ref()).operations_needed;
        while let Some(kept) = self.try_edit(scenario.as_ref(), edit.clone())? {
            let fewer = kept.trial.operations_needed < needed
                || (ties_too && kept.trial.operations_needed == needed);
            if !fewer || kept.scenario.to_ron() == scenario.to_ron() {
                break;
            }
            needed = kept.trial.operations_needed;
            scenario = kept.scenario;
        }
        Ok(scenario)
    }

    /// The smallest value in `low..=high` for which `edit_for` keeps the violation, by binary
    /// search (assuming more is never needed than works), confirmed by a final run.
    fn smallest(
        &mut self,
        scenario: Box<dyn LoadedScenario>,
        low: u64,
        high: u64,
        edit_for: impl Fn(u64) -> ScenarioEdit,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        let (mut low, mut high) = (low, high);
        let mut best: Option<Box<dyn LoadedScenario>> = None;
        while low < high && self.budget_left() {
            let middle = low + (high - low) / 2;
            match self.try_edit(scenario.as_ref(), edit_for(middle))? {
                Some(smaller) => {
                    best = Some(smaller.scenario);
                    high = middle;
                }
                None => low = middle + 1,
            }
        }
        Ok(best.unwrap_or(scenario))
    }

    /// Clients that begin later issue none of the operations before what matters: try
    /// starting them 1 ms, 1.5 ms, 2 ms, 3 ms, 5 ms, 7 ms, 10 ms, ... before the first
    /// violation, latest first, and keep the first start that needs fewer operations.
    fn later_start(
        &mut self,
        scenario: Box<dyn LoadedScenario>,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        let trial = self.run(scenario.as_ref());
        let start_ns = scenario.clients_start_after().as_nanos();
        let violation_ns = trial
            .report
            .violations
            .first()
            .and_then(|v| v.time_ns)
            .unwrap_or(trial.report.end_time_ns)
            .min(scenario.duration().as_nanos());
        let leads_tenths_ms = LEAD_STEPS.into_iter().cycle().scan(1u64, |decade, step| {
            let lead = step * *decade;
            if step == LEAD_STEPS[LEAD_STEPS.len() - 1] {
                *decade *= 10;
            }
            Some(lead)
        });
        for lead_tenths_ms in leads_tenths_ms {
            let lead_ns = lead_tenths_ms.saturating_mul(NS_PER_MS / 10);
            let Some(start) = violation_ns.checked_sub(lead_ns) else {
                break;
            };
            // Whole milliseconds, so that the scenario reads well.
            let start = start / NS_PER_MS * NS_PER_MS;
            if start <= start_ns {
                break;
            }
            let edit = ScenarioEdit {
                start_after: Some(SimDuration(start)),
                ..ScenarioEdit::default()
            };
            if let Some(kept) = self.try_edit(scenario.as_ref(), edit)? {
                if kept.trial.operations_needed < trial.operations_needed {
                    return Ok(kept.scenario);
                }
            }
        }
        Ok(scenario)
    }

    /// Only puts, when neither reads nor compare-and-sets are what fails; else no
    /// compare-and-sets.
    fn fewer_kinds(
        &mut self,
        scenario: Box<dyn LoadedScenario>,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        let mix = scenario.operation_mix();
        let puts_only = OperationMix {
            writes: 1.0,
            cas: 0.0,
        };
        let no_cas = OperationMix { cas: 0.0, ..mix };
        for candidate in [puts_only, no_cas] {
            if candidate == mix {
                break;
            }
            let edit = ScenarioEdit {
                mix: Some(candidate),
                ..ScenarioEdit::default()
            };
            if let Some(kept) = self.try_edit(scenario.as_ref(), edit)? {
                return Ok(kept.scenario);
            }
        }
        Ok(scenario)
    }

    /// Faster clients meet a race in fewer operations; slower ones issue fewer before a late
    /// fault. Each doubling or halving is kept only if it needs fewer operations, so this
    /// ends after at most as many steps as operations needed.
    fn rate(
        &mut self,
        scenario: Box<dyn LoadedScenario>,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        let before = scenario.to_ron();
        let faster = ScenarioEdit {
            rate_scale: Some((2, 1)),
            ..ScenarioEdit::default()
        };
        let scenario = self.repeat_while_fewer_needed(scenario, &faster, false)?;
        if scenario.to_ron() != before {
            return Ok(scenario);
        }
        let slower = ScenarioEdit {
            rate_scale: Some((1, 2)),
            ..ScenarioEdit::default()
        };
        self.repeat_while_fewer_needed(scenario, &slower, false)
    }

    /// One pass of every reduction, from the most structural to the finest.
    fn pass(
        &mut self,
        mut scenario: Box<dyn LoadedScenario>,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        scenario = self.faults(scenario)?;
        // Fewer clients, from none up; then fewer keys, from one up (more contention often
        // shows a race sooner).
        let clients = scenario.clients() as u64;
        scenario = self.first_that_keeps(scenario, 0..clients, |count| ScenarioEdit {
            clients: Some(count as u32),
            ..ScenarioEdit::default()
        })?;
        let keys = scenario.keys() as u64;
        scenario = self.first_that_keeps(scenario, 1..keys, |count| ScenarioEdit {
            keys: Some(count as u32),
            ..ScenarioEdit::default()
        })?;
        if scenario.clients() > 0 {
            scenario = self.fewer_kinds(scenario)?;
            scenario = self.rate(scenario)?;
            scenario = self.later_start(scenario)?;
        }
        // Faults and clients that start earlier need less of the run before them.
        let starts_late = scenario.clients() > 0 && scenario.clients_start_after().as_nanos() > 0;
        if scenario.fault_count() > 0 || starts_late {
            let earlier = ScenarioEdit {
                time_scale: Some((1, 2)),
                ..ScenarioEdit::default()
            };
            scenario = self.repeat_while_fewer_needed(scenario, &earlier, true)?;
        }
        if scenario.clients() > 0 {
            let ops_high = self.run(scenario.as_ref()).operations_needed.max(1) as u64;
            scenario = self.smallest(scenario, 1, ops_high, |limit| ScenarioEdit {
                ops_per_client_max: Some(limit),
                ..ScenarioEdit::default()
            })?;
        }
        // The fault phase must outlast the clients' start.
        let start_ms = scenario.clients_start_after().as_nanos() / NS_PER_MS;
        let duration_ms = scenario.duration().as_nanos().div_ceil(NS_PER_MS);
        self.smallest(scenario, start_ms + 1, duration_ms, |ms| ScenarioEdit {
            duration: Some(SimDuration::from_millis(ms)),
            ..ScenarioEdit::default()
        })
    }

    fn size(&mut self, scenario: &dyn LoadedScenario) -> (Size, Report) {
        let report = self.run(scenario).report;
        let size = Size {
            faults: scenario.fault_count(),
            clients: scenario.clients(),
            operations: operations(&report),
            duration: scenario.duration(),
        };
        (size, report)
    }
}

/// Shrinks seed `seed` of `original`, trying at most `runs_max` candidate runs.
pub fn shrink(
    program: &str,
    original: &dyn LoadedScenario,
    seed: u64,
    runs_max: u64,
) -> Result<ShrinkOutcome, ShrinkError> {
    let first = run_and_report(program, original, seed, RunOptions::default(), None).1;
    let Some(violation) = first.violations.first().map(|v| v.name.clone()) else {
        return Err(ShrinkError::Passes(Box::new(first)));
    };
    let mut shrinker = Shrinker {
        program,
        seed,
        violation,
        runs: 1,
        runs_max,
    };
    let explicit = original
        .with_explicit_faults(seed)
        .map_err(ShrinkError::Scenario)?;
    let (before, _) = shrinker.size(original);
    let before = Size {
        faults: explicit.fault_count(),
        ..before
    };
    let mut scenario = explicit;
    // Repeat to a fixpoint: then shrinking the output again tries exactly the last pass,
    // which changed nothing.
    loop {
        let start = scenario.to_ron();
        scenario = shrinker.pass(scenario)?;
        if scenario.to_ron() == start || !shrinker.budget_left() {
            break;
        }
    }
    let (after, report) = shrinker.size(scenario.as_ref());
    Ok(ShrinkOutcome {
        violation: shrinker.violation.clone(),
        budget_exhausted: !shrinker.budget_left(),
        scenario,
        before,
        after,
        report,
        runs: shrinker.runs,
    })
}

/// The minimal scenario as `faultline shrink` writes it: two comment lines saying how it was
/// made and what it still fails with, then the RON.
pub fn minimal_scenario_file(
    program: &str,
    file: &str,
    seed: u64,
    outcome: &ShrinkOutcome,
) -> String {
    format!(
        "// Shrunk by `{program} shrink {file} --seed {seed}`: {}.\n// It still fails with `{}`.\n{}",
        describe_reduction(&outcome.before, &outcome.after),
        outcome.violation,
        outcome.scenario.to_ron()
    )
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} faults, {} clients, {} operations, {}",
            self.faults, self.clients, self.operations, self.duration
        )
    }
}

/// "faults 14 -> 2, clients 5 -> 1, operations 3,000 -> 11, duration 60s -> 2.4s".
pub fn describe_reduction(before: &Size, after: &Size) -> String {
    use reports::terminal::thousands;
    format!(
        "faults {} -> {}, clients {} -> {}, operations {} -> {}, duration {} -> {}",
        before.faults,
        after.faults,
        before.clients,
        after.clients,
        thousands(before.operations as u64),
        thousands(after.operations as u64),
        before.duration,
        after.duration
    )
}
