//! `faultline shrink`: cut a failing run down to what its violation needs — faults (random
//! ones first turned into an explicit schedule), clients, operations, simulated time — and
//! write the result as a scenario with the seed pinned.
//!
//! Every candidate is a whole scenario re-read from RON and run with the same seed; it is kept
//! when its first violation is still of the same kind. Removing a fault or a client leaves every other
//! random draw unchanged (the engine derives one stream per fault generator, client and link),
//! so a smaller scenario replays the rest of the run as it was. Steps repeat until none removes
//! anything: shrinking the output again removes nothing more.

use crate::pipeline::run_and_report;
use crate::registry::LoadedScenario;
use reports::Report;
use sim_core::engine::RunOptions;
use sim_core::scenario::{ScenarioEdit, ScenarioError};
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

struct Shrinker<'a> {
    program: &'a str,
    seed: u64,
    violation: String,
    runs: u64,
    runs_max: u64,
}

impl Shrinker<'_> {
    fn run(&mut self, scenario: &dyn LoadedScenario) -> Report {
        self.runs += 1;
        run_and_report(
            self.program,
            scenario,
            self.seed,
            RunOptions::default(),
            None,
        )
        .1
    }

    fn budget_left(&self) -> bool {
        self.runs < self.runs_max
    }

    /// The edited scenario, when it still shows the violation.
    fn try_edit(
        &mut self,
        scenario: &dyn LoadedScenario,
        edit: ScenarioEdit,
    ) -> Result<Option<Box<dyn LoadedScenario>>, ShrinkError> {
        if !self.budget_left() {
            return Ok(None);
        }
        let candidate = scenario.edited(&edit).map_err(ShrinkError::Scenario)?;
        let report = self.run(candidate.as_ref());
        // The same kind must stay the *first* violation, so that shrinking the output again
        // aims at the same thing and removes nothing more.
        let keeps = report
            .violations
            .first()
            .is_some_and(|v| v.name == self.violation);
        Ok(keeps.then_some(candidate))
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
                    scenario = smaller;
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

    fn clients(
        &mut self,
        mut scenario: Box<dyn LoadedScenario>,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        // Only the last client can go: removing another would renumber the rest.
        while scenario.clients() > 1 {
            let edit = ScenarioEdit {
                clients: Some(scenario.clients() - 1),
                ..ScenarioEdit::default()
            };
            match self.try_edit(scenario.as_ref(), edit)? {
                Some(smaller) => scenario = smaller,
                None => break,
            }
        }
        Ok(scenario)
    }

    /// The smallest value in `1..=high` for which `edit_for` keeps the violation, by binary
    /// search (assuming more is never needed than works), confirmed by a final run.
    fn smallest(
        &mut self,
        scenario: Box<dyn LoadedScenario>,
        high: u64,
        edit_for: impl Fn(u64) -> ScenarioEdit,
    ) -> Result<Box<dyn LoadedScenario>, ShrinkError> {
        let (mut low, mut high) = (1u64, high);
        let mut best: Option<Box<dyn LoadedScenario>> = None;
        while low < high && self.budget_left() {
            let middle = low + (high - low) / 2;
            match self.try_edit(scenario.as_ref(), edit_for(middle))? {
                Some(smaller) => {
                    best = Some(smaller);
                    high = middle;
                }
                None => low = middle + 1,
            }
        }
        Ok(best.unwrap_or(scenario))
    }

    fn size(&mut self, scenario: &dyn LoadedScenario) -> (Size, Report) {
        let report = self.run(scenario);
        let size = Size {
            faults: scenario.fault_count(),
            clients: scenario.clients(),
            operations: (report.operations.ok + report.operations.fail + report.operations.unknown)
                as usize,
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
    loop {
        let start = scenario.to_ron();
        scenario = shrinker.faults(scenario)?;
        scenario = shrinker.clients(scenario)?;
        // Faults that happen earlier need less of the run before them.
        while scenario.fault_count() > 0 {
            let edit = ScenarioEdit {
                fault_time_scale: Some((1, 2)),
                ..ScenarioEdit::default()
            };
            match shrinker.try_edit(scenario.as_ref(), edit)? {
                // Stop once every fault sits at time zero: halving changes nothing more.
                Some(earlier) if earlier.to_ron() != scenario.to_ron() => scenario = earlier,
                _ => break,
            }
        }
        let (size, _) = shrinker.size(scenario.as_ref());
        let ops_high = size.operations.max(1) as u64;
        scenario = shrinker.smallest(scenario, ops_high, |limit| ScenarioEdit {
            ops_per_client_max: Some(limit),
            ..ScenarioEdit::default()
        })?;
        let duration_ms = scenario.duration().as_nanos().div_ceil(NS_PER_MS);
        scenario = shrinker.smallest(scenario, duration_ms, |ms| ScenarioEdit {
            duration: Some(SimDuration::from_millis(ms)),
            ..ScenarioEdit::default()
        })?;
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
