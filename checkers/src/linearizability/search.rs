//! The Wing–Gong/Lowe search over one job (the operations of one key, or of a whole history).
//!
//! Invocations and completions are laid out as entries of a doubly linked list in time order.
//! The search walks the list from the front: an invocation whose operation the model accepts
//! in the current state, and whose (set, state) configuration is new, is linearized — its
//! entries are unlinked ("lifted") and the walk restarts; a completion is a wall, since an
//! operation cannot be linearized after one that completed before it began, so reaching one
//! means backtracking: the last linearized operation is relinked and the walk goes on after
//! it. Lowe's memoization of (set, state) makes each configuration explored once (twice at
//! most where new states are the rule and the cache skips them: see `try_linearize`).
//!
//! Sequential consistency uses the same list cut into one section per client: a completion
//! then walls off only the rest of its own client's operations.
//!
//! Three reductions, each keeping every verdict (the reasoning is at each):
//! - an operation with unknown outcome that would leave the state unchanged is not linearized;
//! - identical unknown-outcome operations are linearized in invocation order only;
//! - a read that can be linearized is the only choice tried at its configuration
//!   ([`Frame::first_only`]).

use super::memo::{LinSet, Memo, States};
use super::Step;
use std::hash::Hash;
use std::time::Instant;

/// One operation as the search sees it. Times are ranks: distinct, and equal across sections
/// only by accident.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobOp {
    /// 0 for linearizability; the client's rank for sequential consistency.
    pub section: u32,
    /// When it was invoked.
    pub call: u64,
    /// When it completed; None: it may take effect at any time after `call`, or never.
    pub ret: Option<u64>,
    /// An earlier identical unknown-outcome operation that must be linearized first.
    pub twin_before: Option<u32>,
    /// It never changes the state ([`super::Model::is_read_only`]).
    pub read_only: bool,
}

impl JobOp {
    fn optional(&self) -> bool {
        self.ret.is_none()
    }
}

/// The model, seen through the job's operation indices.
pub(crate) trait Stepper {
    /// The model's state.
    type State: Clone + Eq + Hash;
    /// The initial state.
    fn init(&self) -> Self::State;
    /// Applies job operation `op` to `state`.
    fn step(&self, state: &Self::State, op: usize) -> Step<Self::State>;
}

/// How much work the searches of one check may do; shared by all of them.
pub(crate) struct Meter {
    /// Loop iterations so far.
    pub steps: u64,
    steps_max: u64,
    deadline: Option<Instant>,
    /// The most memory one search's cache held, in bytes.
    pub memo_bytes_max: usize,
    /// The next step at which [`Meter::check`] runs.
    next_check: u64,
}

/// How often the wall clock is read, in steps: reading it costs more than a step.
const STEPS_PER_CLOCK_READ: u64 = 1 << 14;

impl Meter {
    pub(crate) fn new(steps_max: u64, deadline: Option<Instant>) -> Self {
        Meter {
            steps: 0,
            steps_max,
            deadline,
            memo_bytes_max: 0,
            next_check: 0,
        }
    }

    /// A meter for a sub-search: its own step limit, the same deadline.
    pub(crate) fn sub(&self, steps_max: u64) -> Meter {
        Meter::new(steps_max, self.deadline)
    }

    /// Counts a step; false once the budget is spent.
    #[inline]
    fn tick(&mut self) -> bool {
        self.steps += 1;
        // One comparison on the common path: `next_check` is the next step at which the budget
        // could run out or the clock is due.
        self.steps < self.next_check || self.check()
    }

    #[cold]
    fn check(&mut self) -> bool {
        if self.steps > self.steps_max {
            self.next_check = 0;
            return false;
        }
        if self.steps % STEPS_PER_CLOCK_READ == 0 {
            if let Some(deadline) = self.deadline {
                // Wall time only ever turns a verdict into Unknown, never into pass or fail.
                #[allow(clippy::disallowed_methods)]
                let now = Instant::now();
                if now >= deadline {
                    self.steps_max = self.steps;
                    self.next_check = 0;
                    return false;
                }
            }
        }
        let clock = (self.steps / STEPS_PER_CLOCK_READ + 1).saturating_mul(STEPS_PER_CLOCK_READ);
        self.next_check = clock.min(self.steps_max.saturating_add(1));
        true
    }
}

/// What the search found.
pub(crate) enum Found<S> {
    /// Every operation with a known outcome was linearized.
    Holds,
    /// No order exists; the furthest the search got.
    Violated(Deepest<S>),
    /// The budget ran out first.
    Exhausted,
}

/// The furthest point of a failed search.
pub(crate) struct Deepest<S> {
    /// Linearizability: the operation whose completion no order could get past.
    pub culprit: Option<usize>,
    /// One order of the operations linearized at that point.
    pub linearized: Vec<usize>,
    /// The distinct states the model could be in there (at most `STATES_KEPT`).
    pub states: Vec<S>,
}

/// States kept for the witness: enough to say "x could only hold 3 or 5".
const STATES_KEPT: usize = 8;

const SENTINEL: u32 = u32::MAX;

/// The entry list: node codes, links, and where each completion's section ends.
struct Entries {
    code: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    section_end: Vec<u32>,
    call_node: Vec<u32>,
    ret_node: Vec<u32>,
}

impl Entries {
    /// Node 0 is the first section's sentinel; the last node is the end sentinel.
    fn build(ops: &[JobOp]) -> Self {
        let mut events: Vec<(u32, u64, u32, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.section, op.call, 0, i as u32));
            if let Some(ret) = op.ret {
                assert!(ret > op.call, "an operation completes after it begins");
                events.push((op.section, ret, 1, i as u32));
            }
        }
        // At equal times invocations come first: touching operations count as concurrent.
        events.sort_unstable();
        let mut code = Vec::with_capacity(events.len() + 8);
        let mut section_of = Vec::with_capacity(events.len() + 8);
        let mut sentinels = Vec::new();
        let mut section = None;
        for &(s, _, kind, op) in &events {
            if section != Some(s) {
                sentinels.push(code.len() as u32);
                code.push(SENTINEL);
                section_of.push(sentinels.len() - 1);
                section = Some(s);
            }
            code.push(op * 2 + kind);
            section_of.push(sentinels.len() - 1);
        }
        if sentinels.is_empty() {
            sentinels.push(0);
            code.push(SENTINEL);
            section_of.push(0);
        }
        let end = code.len() as u32;
        sentinels.push(end);
        code.push(SENTINEL);
        section_of.push(sentinels.len() - 1);
        let len = code.len();
        let next = (0..len as u32).map(|i| (i + 1).min(end)).collect();
        let prev = (0..len as u32).map(|i| i.saturating_sub(1)).collect();
        let section_end = section_of
            .iter()
            .map(|&s| sentinels[(s + 1).min(sentinels.len() - 1)])
            .collect();
        let mut call_node = vec![0; ops.len()];
        let mut ret_node = vec![SENTINEL; ops.len()];
        for (node, &c) in code.iter().enumerate() {
            if c != SENTINEL {
                let table = if c & 1 == 0 {
                    &mut call_node
                } else {
                    &mut ret_node
                };
                table[(c >> 1) as usize] = node as u32;
            }
        }
        Entries {
            code,
            next,
            prev,
            section_end,
            call_node,
            ret_node,
        }
    }

    fn end(&self) -> u32 {
        self.code.len() as u32 - 1
    }

    fn unlink(&mut self, x: u32) {
        let (p, n) = (self.prev[x as usize], self.next[x as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    fn relink(&mut self, x: u32) {
        let (p, n) = (self.prev[x as usize], self.next[x as usize]);
        self.next[p as usize] = x;
        self.prev[n as usize] = x;
    }

    /// Takes operation `op`'s entries out of the list.
    fn lift(&mut self, op: usize) {
        self.unlink(self.call_node[op]);
        if self.ret_node[op] != SENTINEL {
            self.unlink(self.ret_node[op]);
        }
    }

    /// Puts them back, in the reverse order of `lift` (dancing links).
    fn unlift(&mut self, op: usize) {
        if self.ret_node[op] != SENTINEL {
            self.relink(self.ret_node[op]);
        }
        self.relink(self.call_node[op]);
    }
}

/// Tracks the furthest configuration: for linearizability, the latest completion reached as
/// the first wall (every operation that completed before it is then linearized); for
/// sequential consistency, the most operations with a known outcome linearized.
struct Furthest {
    progress: Option<u64>,
    culprit: Option<usize>,
    linearized: Vec<usize>,
    states: Vec<u32>,
}

impl Furthest {
    fn observe(&mut self, progress: u64, culprit: Option<usize>, stack: &[Frame], state: u32) {
        match self.progress {
            Some(best) if best > progress => {}
            Some(best) if best == progress => {
                if self.states.len() < STATES_KEPT && !self.states.contains(&state) {
                    self.states.push(state);
                }
            }
            _ => {
                self.progress = Some(progress);
                self.culprit = culprit;
                self.linearized = stack.iter().map(|f| f.op as usize).collect();
                self.states = vec![state];
            }
        }
    }
}

/// One linearized operation on the search stack, with the state before it.
struct Frame {
    op: u32,
    before: u32,
    /// The operation is a read that must take effect: if no order works with it linearized
    /// here, none works from the configuration before it, so the search backtracks past that
    /// configuration at once instead of trying the entries after it. Any order from there
    /// places the read somewhere later; moving it to the front keeps the order valid, since
    /// it is legal here and a read changes no state wherever it stands, and it keeps real
    /// time, since every operation that completed before it began is already linearized (its
    /// invocation was reached before any completion) and moving an operation earlier only
    /// satisfies more of the order "it completed before the other began". The same holds per
    /// client for sequential consistency. (An operation that merely left this state as it
    /// was, such as a write of the value already there, may change the state where it stands
    /// later: it does not qualify.)
    first_only: bool,
}

/// What trying to linearize an operation did.
enum Try {
    /// It is linearized.
    Taken,
    /// It cannot be linearized here; the walk goes on.
    Rejected,
    /// It is a read and its configuration already failed: so does this one.
    Dead,
}

/// One search, resumable: [`Search::resume`] runs it for a slice of steps, so that the keys
/// of a history can take turns and the first violated key ends the check (Porcupine checks
/// keys in parallel and stops at the first failure for the same reason: a linearizable key is
/// usually quick to confirm, a violated one can be very slow to refute).
pub(crate) struct Search<'s, T: Stepper> {
    stepper: &'s T,
    ops: &'s [JobOp],
    linearizable: bool,
    determinate: usize,
    remaining: usize,
    entries: Entries,
    set: LinSet,
    memo: Memo,
    states: States<T::State>,
    state: u32,
    stack: Vec<Frame>,
    furthest: Furthest,
    node: u32,
    /// Steps that led to a state never seen before, and to one seen before.
    steps_to_new: u64,
    steps_to_seen: u64,
}

impl<'s, T: Stepper> Search<'s, T> {
    /// A search for an order of `ops` that the model accepts and that keeps the job's
    /// real-time (or per-client) order; `linearizable` selects how progress is measured for
    /// the witness.
    pub(crate) fn new(stepper: &'s T, ops: &'s [JobOp], linearizable: bool) -> Self {
        let determinate = ops.iter().filter(|op| !op.optional()).count();
        let entries = Entries::build(ops);
        let mut states = States::new();
        let state = states.intern(stepper.init());
        let node = entries.next[0];
        Search {
            stepper,
            ops,
            linearizable,
            determinate,
            remaining: determinate,
            entries,
            set: LinSet::new(ops.len()),
            memo: Memo::new(),
            states,
            state,
            stack: Vec::new(),
            furthest: Furthest {
                progress: None,
                culprit: None,
                linearized: Vec::new(),
                states: Vec::new(),
            },
            node,
            steps_to_new: 0,
            steps_to_seen: 0,
        }
    }

    /// Runs up to `slice_steps` steps; None when the slice ended without an answer.
    pub(crate) fn resume(
        &mut self,
        meter: &mut Meter,
        slice_steps: u64,
    ) -> Option<Found<T::State>> {
        if self.remaining == 0 {
            return Some(Found::Holds);
        }
        let found = self.run(meter, slice_steps);
        let bytes = self.memo.bytes() + self.states.len() * std::mem::size_of::<T::State>();
        meter.memo_bytes_max = meter.memo_bytes_max.max(bytes);
        found
    }

    fn run(&mut self, meter: &mut Meter, slice_steps: u64) -> Option<Found<T::State>> {
        let ops = self.ops;
        let end = self.entries.end();
        for _ in 0..slice_steps {
            if !meter.tick() {
                return Some(Found::Exhausted);
            }
            let node = self.node;
            if node == end {
                // A dead end: undo the last choice and try the entry after it.
                let Some(frame) = self.stack.pop() else {
                    return Some(Found::Violated(self.deepest()));
                };
                let op = frame.op as usize;
                self.entries.unlift(op);
                self.set.remove(op);
                self.state = frame.before;
                self.remaining += usize::from(!ops[op].optional());
                self.node = if frame.first_only {
                    // Nothing after it can succeed where it failed (see `Frame::first_only`).
                    end
                } else {
                    self.entries.next[self.entries.call_node[op] as usize]
                };
                continue;
            }
            let code = self.entries.code[node as usize];
            if code == SENTINEL {
                self.node = self.entries.next[node as usize];
                continue;
            }
            let op = (code >> 1) as usize;
            if code & 1 == 1 {
                let progress = if self.linearizable {
                    u64::from(node)
                } else {
                    (self.determinate - self.remaining) as u64
                };
                let culprit = self.linearizable.then_some(op);
                self.furthest
                    .observe(progress, culprit, &self.stack, self.state);
                self.node = self.entries.section_end[node as usize];
                continue;
            }
            match self.try_linearize(op) {
                Try::Taken => {}
                Try::Rejected => {
                    self.node = self.entries.next[node as usize];
                    continue;
                }
                Try::Dead => {
                    self.node = end;
                    continue;
                }
            }
            if !ops[op].optional() {
                self.remaining -= 1;
                if self.remaining == 0 {
                    return Some(Found::Holds);
                }
            }
            self.node = self.entries.next[0];
        }
        None
    }

    /// Linearizes `op` if the model accepts it and the configuration it leads to is new.
    fn try_linearize(&mut self, op: usize) -> Try {
        let job_op = &self.ops[op];
        if job_op
            .twin_before
            .is_some_and(|t| !self.set.contains(t as usize))
        {
            return Try::Rejected;
        }
        let (after, fresh) = match self.stepper.step(self.states.get(self.state), op) {
            Step::Illegal => return Try::Rejected,
            Step::Unchanged => (self.state, false),
            Step::To(next) => {
                let (after, fresh) = self.states.intern_new(next);
                let count = if fresh {
                    &mut self.steps_to_new
                } else {
                    &mut self.steps_to_seen
                };
                *count += 1;
                (after, fresh)
            }
        };
        // An unknown-outcome operation that changes nothing is better left out: leaving it
        // unlinearized keeps every later choice open, and it need never be linearized.
        if job_op.optional() && after == self.state {
            return Try::Rejected;
        }
        let first_only = job_op.read_only && !job_op.optional();
        self.set.insert(op);
        // A configuration whose state was never seen before cannot be in the cache. Where new
        // states are the rule (a kv string grows differently along every order of appends),
        // it is not stored either: storing it would only help if the same state came back
        // with the same set, and then the configuration is explored a second time, stored
        // at that point (its state is no longer new). Every configuration is so explored at
        // most twice, and the cache holds a fraction of them. Where states recur (registers,
        // commuting appends to a whole map), everything is stored.
        let skip_cache = fresh && self.steps_to_new > self.steps_to_seen;
        if !skip_cache && !self.memo.insert(&self.set, after) {
            self.set.remove(op);
            // The configuration with `op` linearized was explored and failed; for a read, so
            // has this one (see `Frame::first_only`).
            return if first_only { Try::Dead } else { Try::Rejected };
        }
        self.stack.push(Frame {
            op: op as u32,
            before: self.state,
            first_only,
        });
        self.state = after;
        self.entries.lift(op);
        Try::Taken
    }

    fn deepest(&self) -> Deepest<T::State> {
        Deepest {
            culprit: self.furthest.culprit,
            linearized: self.furthest.linearized.clone(),
            states: self
                .furthest
                .states
                .iter()
                .map(|&id| self.states.get(id).clone())
                .collect(),
        }
    }
}

/// Runs one search to its end (or the meter's).
pub(crate) fn search<T: Stepper>(
    stepper: &T,
    ops: &[JobOp],
    linearizable: bool,
    meter: &mut Meter,
) -> Found<T::State> {
    let mut search = Search::new(stepper, ops, linearizable);
    loop {
        if let Some(found) = search.resume(meter, u64::MAX) {
            return found;
        }
    }
}
