//! Linearizability and sequential consistency of concurrent histories.
//!
//! A Wing–Gong/Lowe search (the algorithm of Knossos's `wgl` and of Porcupine) over any
//! sequential [`Model`]: it looks for one order of the operations that the model accepts and
//! that respects real time (linearizability) or each client's program order (sequential
//! consistency), memoizing the (set of linearized operations, model state) configurations it
//! has explored.
//!
//! | property | how it is checked |
//! | --- | --- |
//! | linearizable | per key when the model partitions (Herlihy and Wing's locality, "P-compositionality"), real-time order kept |
//! | sequentially consistent | per key first (a necessary condition: a key that fails fails the whole), then the whole history at once, since sequential consistency is not local |
//!
//! Operations with an unknown outcome (Jepsen's `:info`, [`Outcome::Unknown`]) may take effect
//! at any time after their invocation, or never. A [`Budget`] bounds the work: when it runs
//! out the verdict is [`Verdict::Unknown`], never a pass. On a violation the [`Witness`] names
//! the key, the operation that could not be placed, a minimized set of operations that cannot
//! be ordered, and why, in words.
//!
//! [`Outcome::Unknown`]: sim_core::history::Outcome::Unknown

mod memo;
pub mod models;
mod search;
mod witness;

pub use witness::{Case, Witness, WitnessOp};

use hashbrown::HashMap;
use search::{Found, JobOp, Meter, Search, Stepper};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// What one step of a sequential model does with an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<S> {
    /// The operation (with its output) is impossible in this state.
    Illegal,
    /// It is possible and leaves the state as it was (a read).
    Unchanged,
    /// It is possible and moves the model to this state.
    To(S),
}

/// A sequential specification: what one operation may do in one state.
pub trait Model {
    /// The model's state; hashed and compared by the search's memo cache, so keep it small.
    type State: Clone + Eq + Hash + fmt::Debug;
    /// What a client asked for.
    type Input: Clone + Eq + Hash + fmt::Debug;
    /// What it was told.
    type Output: Clone + Eq + fmt::Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state`. `output` is None when the outcome is unknown: the step then
    /// says what the operation would do had it taken effect.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Step<Self::State>;

    /// The independent part of the state an operation touches (a key), for checking each part
    /// on its own; None puts every operation in one part.
    fn partition(&self, _input: &Self::Input) -> Option<String> {
        None
    }

    /// True when the operation never changes the state: with an unknown outcome it constrains
    /// nothing and is left out of the search.
    fn is_read_only(&self, _input: &Self::Input) -> bool {
        false
    }

    /// The operation in words, e.g. "read of x returned 3".
    fn describe(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    /// The state in words, e.g. "3" or "absent".
    fn describe_state(&self, state: &Self::State) -> String;

    /// A plain-language reason for a violation, when the model knows one better than the
    /// generic "no order of these operations works".
    fn explain(&self, _case: &Case<'_, Self>) -> Option<String> {
        None
    }
}

/// Where an operation came from, for people: file lines or the run's operation id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The line of the invocation in the history file.
    pub invoke_line: Option<u32>,
    /// The line of the completion.
    pub complete_line: Option<u32>,
    /// The operation's id in a faultline history.
    pub id: Option<u64>,
}

/// One operation of a concurrent history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The client (Jepsen's process) that issued it.
    pub client: u64,
    /// When it was invoked (see [`TimeUnit`]).
    pub call: u64,
    /// When it completed; None: never (it may take effect at any later time, or not at all).
    pub ret: Option<u64>,
    /// What was asked.
    pub input: I,
    /// What was answered; None: unknown, and then the operation need not take effect.
    pub output: Option<O>,
    /// Where it came from.
    pub source: Source,
}

impl<I, O> Operation<I, O> {
    /// True when the operation completed with a known output: it must take effect.
    pub fn is_known(&self) -> bool {
        self.output.is_some() && self.ret.is_some()
    }
}

/// What the numbers in [`Operation::call`] and [`Operation::ret`] are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Nanoseconds of true time (a faultline run).
    Nanos,
    /// Positions of entries in a file (Jepsen and Porcupine logs).
    Position,
}

/// A concurrent history to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpLog<I, O> {
    /// The operations, in any order.
    pub ops: Vec<Operation<I, O>>,
    /// What their times are.
    pub time_unit: TimeUnit,
}

/// Which consistency model to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// One order, consistent with real time.
    Linearizable,
    /// One order, consistent with each client's program order.
    Sequential,
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Consistency::Linearizable => "linearizable",
            Consistency::Sequential => "sequentially consistent",
        })
    }
}

/// How much work a check may do before it answers Unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Search steps over all keys (each visit of an entry is one step).
    pub steps_max: u64,
    /// Wall-clock limit; it makes the verdict machine-dependent (only ever Unknown instead of
    /// a verdict), so runs of the simulator leave it unset.
    pub wall_ms_max: Option<u64>,
    /// Search steps for minimizing the witness, after a violation was found.
    pub witness_steps_max: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            steps_max: 500_000_000,
            wall_ms_max: None,
            witness_steps_max: 50_000_000,
        }
    }
}

/// What to check and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Linearizability or sequential consistency.
    pub consistency: Consistency,
    /// The work allowed.
    pub budget: Budget,
    /// Whether to build a witness on a violation (it costs more searches).
    pub witness: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            consistency: Consistency::Linearizable,
            budget: Budget::default(),
            witness: true,
        }
    }
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The history satisfies the consistency model.
    Holds,
    /// It does not.
    Violated,
    /// The budget ran out before an answer: neither.
    Unknown,
}

/// The result of a check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What was checked.
    pub consistency: Consistency,
    /// The answer.
    pub verdict: Verdict,
    /// Keys (parts) checked.
    pub keys: usize,
    /// Operations in the history.
    pub operations: usize,
    /// Search steps taken (the budget's unit).
    pub steps: u64,
    /// The largest memo cache of one search, in bytes.
    pub memo_bytes_max: usize,
    /// On a violation (when asked for), what shows it.
    pub witness: Option<Witness>,
    /// On Unknown, what ran out and where.
    pub unknown: Option<String>,
    /// When the verdict follows from another check rather than from this search, why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implied_by: Option<String>,
}

/// Steps a key's search runs before the next key's turn.
const STEPS_PER_TURN: u64 = 1 << 16;

/// Checks `log` against `model`.
pub fn check<M: Model>(model: &M, log: &OpLog<M::Input, M::Output>, options: &Options) -> Report {
    // Wall time only ever turns a verdict into Unknown, never into pass or fail.
    #[allow(clippy::disallowed_methods)]
    let deadline = options
        .budget
        .wall_ms_max
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let mut meter = Meter::new(options.budget.steps_max, deadline);
    let parts = partition(model, log);
    let linearizable = options.consistency == Consistency::Linearizable;
    let mut report = Report {
        consistency: options.consistency,
        verdict: Verdict::Holds,
        keys: parts.len(),
        operations: log.ops.len(),
        steps: 0,
        memo_bytes_max: 0,
        witness: None,
        unknown: None,
        implied_by: None,
    };
    let keys: Vec<(&Option<String>, &Vec<usize>)> = parts.iter().collect();
    let jobs: Vec<Job<'_, M::Input, M::Output>> = keys
        .iter()
        .map(|(_, members)| {
            let selection: Vec<Pick> = members.iter().map(|&i| Pick::known(i)).collect();
            Job::build(model, log, &selection, options.consistency, None)
        })
        .collect();
    let steppers: Vec<JobStepper<'_, '_, M>> = jobs.iter().map(|job| job.stepper(model)).collect();
    let mut searches: Vec<Option<Search<'_, JobStepper<'_, '_, M>>>> = steppers
        .iter()
        .zip(&jobs)
        .map(|(stepper, job)| Some(Search::new(stepper, &job.ops, linearizable)))
        .collect();
    // The keys take turns, a slice of steps each, in key order: the first key found violated
    // ends the check, however slow the others are (deterministic: slices count steps).
    let mut running = searches.len();
    'turns: while running > 0 {
        for (turn, slot) in searches.iter_mut().enumerate() {
            let Some(search) = slot else { continue };
            match search.resume(&mut meter, STEPS_PER_TURN) {
                None => {}
                Some(Found::Holds) => {
                    *slot = None;
                    running -= 1;
                }
                Some(Found::Exhausted) => {
                    report.verdict = Verdict::Unknown;
                    report.unknown = Some(budget_message(&meter, keys[turn].0.as_deref()));
                    break 'turns;
                }
                Some(Found::Violated(deepest)) => {
                    report.verdict = Verdict::Violated;
                    if options.witness {
                        let found = witness::Found {
                            key: keys[turn].0.as_deref(),
                            members: keys[turn].1,
                            job: &jobs[turn],
                            deepest,
                        };
                        report.witness = Some(witness::build(model, log, found, options, &meter));
                    }
                    break 'turns;
                }
            }
        }
    }
    drop(searches);
    if report.verdict == Verdict::Holds && !linearizable && parts.len() > 1 {
        whole_history(model, log, options, &mut meter, &mut report);
    }
    report.steps = meter.steps;
    report.memo_bytes_max = meter.memo_bytes_max;
    report
}

/// Sequential consistency is not local: with every key consistent on its own, one order of
/// the whole history must still exist. The state is then one state per key.
fn whole_history<M: Model>(
    model: &M,
    log: &OpLog<M::Input, M::Output>,
    options: &Options,
    meter: &mut Meter,
    report: &mut Report,
) {
    let keys: BTreeMap<Option<String>, u32> = partition(model, log)
        .keys()
        .enumerate()
        .map(|(i, key)| (key.clone(), i as u32))
        .collect();
    let part: Vec<u32> = log
        .ops
        .iter()
        .map(|op| keys[&model.partition(&op.input)])
        .collect();
    let selection: Vec<Pick> = (0..log.ops.len()).map(Pick::known).collect();
    let job = Job::build(model, log, &selection, Consistency::Sequential, Some(&part));
    let stepper = ProductStepper {
        model,
        job: &job,
        parts: keys.len(),
    };
    match search::search(&stepper, &job.ops, false, meter) {
        Found::Holds => {}
        Found::Exhausted => {
            report.verdict = Verdict::Unknown;
            report.unknown = Some(budget_message(meter, Some("the whole history")));
        }
        Found::Violated(_) => {
            report.verdict = Verdict::Violated;
            if options.witness {
                report.witness = Some(witness::whole_history(model, log, &job));
            }
        }
    }
}

fn budget_message(meter: &Meter, key: Option<&str>) -> String {
    let place = key.map_or(String::new(), |k| format!(" while checking {k}"));
    format!(
        "the search budget ran out after {} steps{place}; raise it to get a verdict",
        meter.steps
    )
}

/// The operations of each part, by key (sorted, so the first violated key is reproducible).
fn partition<M: Model>(
    model: &M,
    log: &OpLog<M::Input, M::Output>,
) -> BTreeMap<Option<String>, Vec<usize>> {
    let mut parts: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, op) in log.ops.iter().enumerate() {
        parts.entry(model.partition(&op.input)).or_default().push(i);
    }
    if parts.is_empty() {
        parts.insert(None, Vec::new());
    }
    parts
}

/// One operation picked for a search, and how much of what it was told still counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pick {
    index: usize,
    treat: Treat,
}

/// How a picked operation enters a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Treat {
    /// As recorded.
    Known,
    /// Its output counts but it has no deadline and need not take effect: it was still running
    /// at the cut the witness is taken at.
    Open,
    /// Its outcome is forgotten: it may take effect at any time after it began, or never.
    Forgotten,
}

impl Pick {
    pub(crate) fn known(index: usize) -> Self {
        Pick {
            index,
            treat: Treat::Known,
        }
    }

    pub(crate) fn open(index: usize) -> Self {
        Pick {
            index,
            treat: Treat::Open,
        }
    }

    pub(crate) fn forgotten(index: usize) -> Self {
        Pick {
            index,
            treat: Treat::Forgotten,
        }
    }

    /// Whether its output is used (it is known and not forgotten).
    pub(crate) fn output_used<I, O>(&self, log: &OpLog<I, O>) -> bool {
        self.treat != Treat::Forgotten && log.ops[self.index].is_known()
    }
}

/// A search problem: the picked operations, ordered by invocation, in the search's terms.
pub(crate) struct Job<'a, I, O> {
    ops: Vec<JobOp>,
    inputs: Vec<&'a I>,
    outputs: Vec<Option<&'a O>>,
    /// The log index of each job operation.
    origin: Vec<usize>,
    /// For the whole-history search: each operation's part.
    parts: Vec<u32>,
}

impl<'a, I: Eq + Hash, O> Job<'a, I, O> {
    /// Builds the job. Times become ranks (invocations before completions at equal times);
    /// an operation whose outcome is unknown or forgotten loses its completion, since it may
    /// take effect at any time after it began, or never.
    pub(crate) fn build<M: Model<Input = I, Output = O>>(
        model: &M,
        log: &'a OpLog<I, O>,
        selection: &[Pick],
        consistency: Consistency,
        parts: Option<&[u32]>,
    ) -> Self {
        // (log index, output used, completion used); an operation with neither constraint
        // that never changes the state constrains nothing and is left out.
        let picked: Vec<(usize, bool, bool)> = selection
            .iter()
            .map(|pick| {
                let used = pick.output_used(log);
                (pick.index, used, used && pick.treat == Treat::Known)
            })
            .filter(|&(i, _, deadline)| deadline || !model.is_read_only(&log.ops[i].input))
            .collect();
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(picked.len() * 2);
        for (slot, &(i, _, deadline)) in picked.iter().enumerate() {
            let op = &log.ops[i];
            events.push((op.call, 0, slot));
            if let (true, Some(ret)) = (deadline, op.ret) {
                events.push((ret.max(op.call), 1, slot));
            }
        }
        events.sort_unstable();
        let mut call_rank = vec![0; picked.len()];
        let mut ret_rank = vec![None; picked.len()];
        for (rank, &(_, kind, slot)) in events.iter().enumerate() {
            if kind == 0 {
                call_rank[slot] = rank as u64;
            } else {
                ret_rank[slot] = Some(rank as u64);
            }
        }
        let mut order: Vec<usize> = (0..picked.len()).collect();
        order.sort_unstable_by_key(|&slot| call_rank[slot]);
        let clients: BTreeMap<u64, u32> = match consistency {
            Consistency::Linearizable => BTreeMap::new(),
            Consistency::Sequential => {
                let mut all: Vec<u64> = picked.iter().map(|&(i, ..)| log.ops[i].client).collect();
                all.sort_unstable();
                all.dedup();
                all.into_iter().zip(0..).collect()
            }
        };
        // Identical unknown-outcome operations of one section, the earlier-invoked first: any
        // order that uses the later one can use the earlier one in its place, since the earlier
        // was available whenever the later was and neither has a deadline.
        let mut last_twin: HashMap<(u32, &I), u32, foldhash::fast::FixedState> =
            HashMap::with_hasher(foldhash::fast::FixedState::with_seed(7));
        let mut job = Job {
            ops: Vec::with_capacity(order.len()),
            inputs: Vec::with_capacity(order.len()),
            outputs: Vec::with_capacity(order.len()),
            origin: Vec::with_capacity(order.len()),
            parts: Vec::new(),
        };
        for slot in order {
            let (i, used, _) = picked[slot];
            let op = &log.ops[i];
            let section = clients.get(&op.client).copied().unwrap_or(0);
            let here = job.ops.len() as u32;
            // Only operations whose output is unknown are interchangeable by input alone.
            let twin_before = if used {
                None
            } else {
                last_twin.insert((section, &op.input), here)
            };
            job.ops.push(JobOp {
                section,
                call: call_rank[slot],
                ret: ret_rank[slot],
                twin_before,
                read_only: model.is_read_only(&op.input),
            });
            job.inputs.push(&op.input);
            job.outputs
                .push(if used { op.output.as_ref() } else { None });
            job.origin.push(i);
            if let Some(parts) = parts {
                job.parts.push(parts[i]);
            }
        }
        job
    }

    fn stepper<'j, M: Model<Input = I, Output = O>>(
        &'j self,
        model: &'j M,
    ) -> JobStepper<'j, 'a, M> {
        JobStepper { model, job: self }
    }
}

/// The model applied to a job's operations.
struct JobStepper<'j, 'a, M: Model> {
    model: &'j M,
    job: &'j Job<'a, M::Input, M::Output>,
}

impl<M: Model> Stepper for JobStepper<'_, '_, M> {
    type State = M::State;

    fn init(&self) -> M::State {
        self.model.init()
    }

    fn step(&self, state: &M::State, op: usize) -> Step<M::State> {
        self.model
            .step(state, self.job.inputs[op], self.job.outputs[op])
    }
}

/// The model applied to a whole history: one state per part.
struct ProductStepper<'j, 'a, M: Model> {
    model: &'j M,
    job: &'j Job<'a, M::Input, M::Output>,
    parts: usize,
}

impl<M: Model> Stepper for ProductStepper<'_, '_, M> {
    type State = Vec<M::State>;

    fn init(&self) -> Vec<M::State> {
        vec![self.model.init(); self.parts]
    }

    fn step(&self, state: &Vec<M::State>, op: usize) -> Step<Vec<M::State>> {
        let part = self.job.parts[op] as usize;
        match self
            .model
            .step(&state[part], self.job.inputs[op], self.job.outputs[op])
        {
            Step::Illegal => Step::Illegal,
            Step::Unchanged => Step::Unchanged,
            Step::To(next) => {
                let mut whole = state.clone();
                whole[part] = next;
                Step::To(whole)
            }
        }
    }
}

/// Runs one search on a job (for the witness's sub-searches).
pub(crate) fn run_job<M: Model>(
    model: &M,
    job: &Job<'_, M::Input, M::Output>,
    consistency: Consistency,
    meter: &mut Meter,
) -> Found<M::State> {
    search::search(
        &job.stepper(model),
        &job.ops,
        consistency == Consistency::Linearizable,
        meter,
    )
}
