//! What a person needs after a violation: the key, the operation that could not be placed, a
//! small set of operations that cannot be ordered, and a sentence saying why.
//!
//! For linearizability the failed search already knows the culprit: the latest completion any
//! order got to with every earlier-completing operation placed. The history cut at that
//! completion is not linearizable while the cut just before it is (linearizability is
//! prefix-closed), so the culprit's answer is what breaks it. The witness starts from that
//! cut — operations invoked before the culprit completed, those still running then with their
//! outcome forgotten — and drops operations (delta debugging) as long as two things stay true:
//! the set cannot be ordered, and it can once the culprit's answer is forgotten. The second
//! condition keeps the culprit the culprit: without it, dropping the write a later read saw
//! would "explain" the violation with a read that was in fact fine.
//!
//! A set that cannot be ordered on its own does not by itself prove the whole history wrong
//! (the search did that); it is the smallest evidence to show a person.

use super::search::{Deepest, Found as SearchFound, Meter};
use super::{run_job, Consistency, Job, Model, OpLog, Operation, Options, Pick, TimeUnit, Treat};
use serde::Serialize;
use sim_core::time::format_nanos;
use std::fmt;

/// One operation of a witness, described for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WitnessOp {
    /// The client (process).
    pub client: u64,
    /// What it did, e.g. "read of x returned 3".
    pub operation: String,
    /// When it was invoked ("1.204s", or "line 12" for a file).
    pub invoked: String,
    /// When it completed; None: never.
    pub completed: Option<String>,
    /// False when its outcome was unknown, or was forgotten because it was still running when
    /// the culprit completed: it may or may not have taken effect.
    pub outcome_used: bool,
    /// True when it was still running when the culprit completed: its output counts, but it
    /// may have taken effect at any time after it began, or not yet.
    pub running: bool,
    /// The operation's id in a faultline history.
    pub id: Option<u64>,
    /// Its invocation time, as in the history (nanoseconds, or position in the file).
    pub call: u64,
    /// Its completion time, likewise.
    pub ret: Option<u64>,
}

/// Why a history is not linearizable (or not sequentially consistent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Witness {
    /// What was violated.
    pub consistency: Consistency,
    /// The key (None: the whole register, or the whole history).
    pub key: Option<String>,
    /// The operation that no order could place before it completed (linearizability).
    pub culprit: Option<WitnessOp>,
    /// How many operations the longest order found placed before it got stuck.
    pub ordered: usize,
    /// The last few operations of that order, oldest first.
    pub ordered_tail: Vec<WitnessOp>,
    /// What the key could hold at that point, in words.
    pub states: Vec<String>,
    /// A small set of operations that cannot be ordered, by invocation.
    pub ops: Vec<WitnessOp>,
    /// True when no single operation can be dropped from `ops` (the minimization finished
    /// within its budget).
    pub minimal: bool,
    /// Why, in plain words.
    pub explanation: String,
}

/// An operation of a witness and whether its outcome counts.
pub type UsedOp<'c, M> = (
    &'c Operation<<M as Model>::Input, <M as Model>::Output>,
    bool,
);

/// Everything a model's [`Model::explain`] gets to say why.
pub struct Case<'c, M: Model + ?Sized> {
    /// What was violated.
    pub consistency: Consistency,
    /// The key.
    pub key: Option<&'c str>,
    /// The operation that could not be placed (linearizability).
    pub culprit: Option<&'c Operation<M::Input, M::Output>>,
    /// The minimized operations, culprit included, with whether each one's outcome counts.
    pub ops: Vec<UsedOp<'c, M>>,
    /// Every operation of the key.
    pub all: Vec<&'c Operation<M::Input, M::Output>>,
    /// The states the key could be in when the culprit had to take effect.
    pub states: &'c [M::State],
    /// What the operations' times are.
    pub time_unit: TimeUnit,
}

impl<M: Model + ?Sized> Case<'_, M> {
    /// When `op` was invoked, for people.
    pub fn invoked(&self, op: &Operation<M::Input, M::Output>) -> String {
        moment(self.time_unit, op.call, op.source.invoke_line)
    }

    /// When `op` completed, for people ("never" when it did not).
    pub fn completed(&self, op: &Operation<M::Input, M::Output>) -> String {
        match op.ret {
            Some(ret) => moment(self.time_unit, ret, op.source.complete_line),
            None => "never".to_string(),
        }
    }

    /// The key's name in a sentence ("the state" when the model has no keys).
    pub fn key_name(&self) -> String {
        self.key.unwrap_or("the state").to_string()
    }
}

fn moment(unit: TimeUnit, at: u64, line: Option<u32>) -> String {
    match (unit, line) {
        (TimeUnit::Nanos, _) => format_nanos(i128::from(at)),
        (TimeUnit::Position, Some(line)) => format!("line {line}"),
        (TimeUnit::Position, None) => format!("entry {at}"),
    }
}

/// A failed search of one key.
pub(crate) struct Found<'f, 'a, M: Model> {
    pub key: Option<&'f str>,
    pub members: &'f [usize],
    pub job: &'f Job<'a, M::Input, M::Output>,
    pub deepest: Deepest<M::State>,
}

/// Operations of the order found shown before the culprit.
const ORDERED_TAIL_LEN: usize = 5;

/// Builds the witness of one key's violation.
pub(crate) fn build<M: Model>(
    model: &M,
    log: &OpLog<M::Input, M::Output>,
    found: Found<'_, '_, M>,
    options: &Options,
    meter: &Meter,
) -> Witness {
    let consistency = options.consistency;
    let culprit = found.deepest.culprit.map(|j| found.job.origin[j]);
    let start = match culprit {
        Some(c) => cut_at_completion(log, found.members, c),
        None => found.members.iter().map(|&i| Pick::known(i)).collect(),
    };
    let mut minimizer = Minimizer {
        model,
        log,
        consistency,
        culprit,
        universe: start,
        steps_left: options.budget.witness_steps_max,
        meter,
        complete: true,
    };
    let (picks, minimal) = minimizer.minimize();
    let linearized: Vec<usize> = found
        .deepest
        .linearized
        .iter()
        .map(|&j| found.job.origin[j])
        .collect();
    let case = Case::<M> {
        consistency,
        key: found.key,
        culprit: culprit.map(|c| &log.ops[c]),
        ops: picks
            .iter()
            .map(|p| (&log.ops[p.index], p.output_used(log)))
            .collect(),
        all: found.members.iter().map(|&i| &log.ops[i]).collect(),
        states: &found.deepest.states,
        time_unit: log.time_unit,
    };
    let explanation = model
        .explain(&case)
        .unwrap_or_else(|| generic_explanation(model, &case));
    let describe =
        |index: usize, used: bool, running: bool| describe_op(model, log, index, used, running);
    Witness {
        consistency,
        key: found.key.map(str::to_string),
        culprit: culprit.map(|c| describe(c, true, false)),
        ordered: linearized.len(),
        ordered_tail: linearized
            .iter()
            .skip(linearized.len().saturating_sub(ORDERED_TAIL_LEN))
            .map(|&i| describe(i, log.ops[i].is_known(), false))
            .collect(),
        states: found
            .deepest
            .states
            .iter()
            .map(|s| model.describe_state(s))
            .collect(),
        ops: picks
            .iter()
            .map(|p| describe(p.index, p.output_used(log), p.treat == Treat::Open))
            .collect(),
        minimal,
        explanation,
    }
}

/// The witness when every key is sequentially consistent on its own but the whole history is
/// not: no small set is computed (the search over all keys is the expensive one).
pub(crate) fn whole_history<M: Model>(
    _model: &M,
    log: &OpLog<M::Input, M::Output>,
    job: &Job<'_, M::Input, M::Output>,
) -> Witness {
    Witness {
        consistency: Consistency::Sequential,
        key: None,
        culprit: None,
        ordered: 0,
        ordered_tail: Vec::new(),
        states: Vec::new(),
        ops: Vec::new(),
        minimal: false,
        explanation: format!(
            "every key is sequentially consistent on its own, but no single order of all {} \
             operations ({} of them with a known outcome) keeps each client's order: the \
             clients disagree on the order of writes to different keys",
            job.origin.len(),
            job.origin
                .iter()
                .filter(|&&i| log.ops[i].is_known())
                .count()
        ),
    }
}

fn describe_op<M: Model>(
    model: &M,
    log: &OpLog<M::Input, M::Output>,
    index: usize,
    used: bool,
    running: bool,
) -> WitnessOp {
    let op = &log.ops[index];
    let output = if used { op.output.as_ref() } else { None };
    WitnessOp {
        client: op.client,
        operation: model.describe(&op.input, output),
        invoked: moment(log.time_unit, op.call, op.source.invoke_line),
        completed: op
            .ret
            .map(|ret| moment(log.time_unit, ret, op.source.complete_line)),
        outcome_used: used,
        running,
        id: op.source.id,
        call: op.call,
        ret: op.ret,
    }
}

/// The key's history cut at the culprit's completion: the operations invoked before it; those
/// still running then keep their output (the search only ever used it) but lose their
/// deadline and need not take effect. Ties break as the search's ranks do.
fn cut_at_completion<I, O>(log: &OpLog<I, O>, members: &[usize], culprit: usize) -> Vec<Pick> {
    let cut = log.ops[culprit].ret.expect("the culprit completed");
    members
        .iter()
        .filter(|&&i| log.ops[i].call <= cut)
        .map(|&i| {
            let later = log.ops[i]
                .ret
                .is_none_or(|ret| ret > cut || (ret == cut && i > culprit));
            if later && i != culprit {
                Pick::open(i)
            } else {
                Pick::known(i)
            }
        })
        .collect()
}

/// Steps one minimization test may take; a test that needs more counts as failed (the
/// operation stays in the witness), so one hard test cannot eat the whole budget.
const TEST_STEPS_MAX: u64 = 2_000_000;

/// Delta debugging of a witness, within a step budget. The witness is the set of operations
/// whose outcome is used; every other operation of the cut stays in each test with its outcome
/// forgotten (it may or may not have taken effect, at any time after it began). Forgetting
/// only ever makes ordering easier, so a set that still cannot be ordered this way explains
/// the violation whatever the other operations did.
struct Minimizer<'m, M: Model> {
    model: &'m M,
    log: &'m OpLog<M::Input, M::Output>,
    consistency: Consistency,
    culprit: Option<usize>,
    /// Every operation of the cut, by log index, with its outcome forgotten when it was still
    /// running at the cut.
    universe: Vec<Pick>,
    steps_left: u64,
    meter: &'m Meter,
    /// False once a test was cut short: the result may then not be minimal.
    complete: bool,
}

/// What happens to the operations left out of a candidate witness.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dropped {
    /// They are removed: cheap tests, but a witness found this way may rely on the absence of
    /// an operation that could have helped (say, the write a read saw).
    Deleted,
    /// Their outcome is forgotten: a witness found this way holds whatever they did.
    Forgotten,
}

impl<M: Model> Minimizer<'_, M> {
    /// Shrinks the set of operations whose outcome is used; returns it (culprit included) and
    /// whether it is minimal. Tests with forgotten operations are slow (each forgotten write
    /// may take effect anywhere later), so a cheap pass with deletion finds a candidate first;
    /// when the candidate does not survive forgetting, the forgetting pass starts from every
    /// non-read operation instead (forgotten reads cost nothing: they constrain nothing).
    fn minimize(&mut self) -> (Vec<Pick>, bool) {
        let all: Vec<usize> = self
            .universe
            .iter()
            .filter(|p| p.output_used(self.log) && Some(p.index) != self.culprit)
            .map(|p| p.index)
            .collect();
        let candidate = self.ddmin(all.clone(), Dropped::Deleted);
        let start = if self.test(&candidate, Dropped::Forgotten) {
            candidate
        } else {
            let mut writes: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&i| {
                    !self.model.is_read_only(&self.log.ops[i].input)
                        || candidate.binary_search(&i).is_ok()
                })
                .collect();
            writes.sort_unstable();
            if self.test(&writes, Dropped::Forgotten) {
                writes
            } else {
                all
            }
        };
        let mut used = self.ddmin(start, Dropped::Forgotten);
        let minimal = self.complete && self.steps_left > 0;
        used.extend(self.culprit);
        used.sort_unstable();
        let picks = self
            .universe
            .iter()
            .filter(|p| used.binary_search(&p.index).is_ok())
            .copied()
            .collect();
        (picks, minimal)
    }

    /// Delta debugging of `items` (sorted), keeping what [`Self::test`] needs.
    fn ddmin(&mut self, mut items: Vec<usize>, dropped: Dropped) -> Vec<usize> {
        let mut chunks = 2;
        while !items.is_empty() && self.steps_left > 0 {
            let size = items.len().div_ceil(chunks);
            let mut reduced = false;
            for from in (0..items.len()).step_by(size) {
                let candidate: Vec<usize> = items[..from]
                    .iter()
                    .chain(items[(from + size).min(items.len())..].iter())
                    .copied()
                    .collect();
                if self.test(&candidate, dropped) {
                    items = candidate;
                    chunks = (chunks - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if chunks >= items.len() {
                    break;
                }
                chunks = (chunks * 2).min(items.len());
            }
        }
        items
    }

    /// The cut with only `used` (and the culprit, unless `culprit_forgotten`) keeping their
    /// outcome; the others forgotten or deleted.
    fn picks(&self, used: &[usize], culprit_forgotten: bool, dropped: Dropped) -> Vec<Pick> {
        self.universe
            .iter()
            .filter_map(|p| {
                let keep = if Some(p.index) == self.culprit {
                    !culprit_forgotten
                } else {
                    p.output_used(self.log) && used.binary_search(&p.index).is_ok()
                };
                match (keep, dropped) {
                    (true, _) => Some(*p),
                    (false, Dropped::Forgotten) => Some(Pick::forgotten(p.index)),
                    (false, Dropped::Deleted) if Some(p.index) == self.culprit => {
                        Some(Pick::forgotten(p.index))
                    }
                    (false, Dropped::Deleted) => None,
                }
            })
            .collect()
    }

    /// Whether `used` (sorted) plus the culprit still shows the violation, and the culprit's
    /// answer is still what breaks it.
    fn test(&mut self, used: &[usize], dropped: Dropped) -> bool {
        if self.search(&self.picks(used, false, dropped)) != Some(Outcome::Violated) {
            return false;
        }
        // With forgetting, the culprit stays the culprit by construction: without its answer
        // the cut can be ordered, and forgetting more only makes ordering easier.
        self.culprit.is_none()
            || dropped == Dropped::Forgotten
            || self.search(&self.picks(used, true, dropped)) == Some(Outcome::Holds)
    }

    /// None when the test ran out of steps.
    fn search(&mut self, picks: &[Pick]) -> Option<Outcome> {
        let job = Job::build(self.model, self.log, picks, self.consistency, None);
        let mut meter = self.meter.sub(self.steps_left.min(TEST_STEPS_MAX));
        let found = run_job(self.model, &job, self.consistency, &mut meter);
        self.steps_left = self.steps_left.saturating_sub(meter.steps);
        match found {
            SearchFound::Holds => Some(Outcome::Holds),
            SearchFound::Violated(_) => Some(Outcome::Violated),
            SearchFound::Exhausted => {
                self.complete = false;
                None
            }
        }
    }
}

#[derive(PartialEq, Eq)]
enum Outcome {
    Holds,
    Violated,
}

/// The sentence when the model has nothing better to say.
fn generic_explanation<M: Model + ?Sized>(model: &M, case: &Case<'_, M>) -> String {
    let key = case.key_name();
    let Some(culprit) = case.culprit else {
        return format!(
            "no order of these {} operations on {key} keeps each client's own order and is \
             legal for the model",
            case.ops.len()
        );
    };
    let states: Vec<String> = case
        .states
        .iter()
        .map(|s| model.describe_state(s))
        .collect();
    format!(
        "{} (invoked {}, completed {}) cannot take effect: every order of the operations that \
         had to come before it leaves {key} as {}, and it is impossible there",
        model.describe(&culprit.input, culprit.output.as_ref()),
        case.invoked(culprit),
        case.completed(culprit),
        or_list(&states)
    )
}

/// "a", "a or b", "a, b or c".
pub(crate) fn or_list(items: &[String]) -> String {
    match items {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

impl fmt::Display for WitnessOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let completed = self.completed.as_deref().unwrap_or("never");
        write!(
            f,
            "client {:<4} {:<44} invoked {:<10} completed {}",
            self.client, self.operation, self.invoked, completed
        )?;
        if let Some(id) = self.id {
            write!(f, " (op{id})")?;
        }
        if self.running {
            write!(f, " [still running when the culprit completed]")?;
        } else if !self.outcome_used {
            write!(f, " [may or may not have taken effect]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.key.as_deref().unwrap_or("the state");
        match &self.key {
            Some(k) => writeln!(f, "not {} on key {k}", self.consistency)?,
            None => writeln!(f, "not {}", self.consistency)?,
        }
        writeln!(f, "  why: {}", self.explanation)?;
        if let Some(culprit) = &self.culprit {
            writeln!(f, "  the operation no order can place:")?;
            writeln!(f, "    {culprit}")?;
            writeln!(
                f,
                "  the longest order found places {} operations before it gets stuck{}",
                self.ordered,
                if self.ordered_tail.is_empty() {
                    ""
                } else {
                    "; its last ones:"
                }
            )?;
            for op in &self.ordered_tail {
                writeln!(f, "    {op}")?;
            }
            if !self.states.is_empty() {
                writeln!(f, "  there, {key} could only be: {}", or_list(&self.states))?;
            }
        }
        if !self.ops.is_empty() {
            let how = if self.minimal {
                "even if every other operation may or may not have taken effect; none of these \
                 can be dropped"
            } else {
                "even if every other operation may or may not have taken effect; not fully \
                 minimized: the budget ran out"
            };
            let these = match self.ops.len() {
                1 => "this operation cannot be placed".to_string(),
                n => format!("these {n} operations cannot be ordered"),
            };
            writeln!(f, "  {these} ({how}):")?;
            for op in &self.ops {
                writeln!(f, "    {op}")?;
            }
        }
        Ok(())
    }
}
