//! T11: sibling explosion with server-id version vectors, and none with dotted version vectors
//! (the DVVSet README's "Real World with Riak" experiment; TARGETS.md T11).
//!
//! 101 writes to one key on a single vclock coordinator, driven handler by handler through a
//! test context (the protocol's real code, no network: the README's setup has one coordinator
//! and no faults, and the engine's random workload cannot script who writes when). Each
//! client's put carries the causal context of its own last get; the blind writer of scenario 1
//! sends none.
//!
//! - Scenario 1: C1 writes, then reads; another client writes without context; repeat, C1
//!   last.
//! - Scenario 2: A writes, then reads; B writes, then reads; repeat, A last.
//!
//! Exact: with server version vectors every write adds a sibling (101 in both scenarios); with
//! DVV the key ends holding the last two values, and holds at most 3 on the way in scenario 1
//! and 2 in scenario 2.

use super::chart::{Figure, Panel, Series, Style};
use super::{Check, Plan, Reproduction, Row};
use protocols::vclock::{Vclock, VclockConfig, VclockDisk, VclockMode};
use sim_core::ids::{ClientId, Key, NodeId, OpId, Value};
use sim_core::protocol::{
    CausalContext, Effect, Op, OpResult, Protocol, Reply, Request, RequestId, TestCtx,
};

/// Trial counts for `--list`.
pub const TRIALS: &str = "exact: 101 writes per scenario and mode (--trials does not apply)";

/// Writes per scenario, as in the README.
pub const WRITES: u64 = 101;

/// One vclock node driven request by request, counting siblings after every write.
struct Harness {
    node: Vclock,
    test: TestCtx<Vclock>,
    next_op: u64,
    /// Siblings of the key after each write, in order.
    after_each_write: Vec<usize>,
}

impl Harness {
    fn new(mode: VclockMode) -> Harness {
        let config = VclockConfig {
            mode,
            ..VclockConfig::default()
        };
        let mut test = TestCtx::<Vclock>::new(NodeId(0), 1);
        let node = Vclock::start(&config, &VclockDisk::default(), &mut test.ctx());
        Harness {
            node,
            test,
            next_op: 0,
            after_each_write: Vec::new(),
        }
    }

    fn request(&mut self, op: Op) -> Result<Reply, String> {
        self.next_op += 1;
        let id = RequestId {
            client: ClientId(0),
            op: OpId(self.next_op),
            seq: self.next_op,
            attempt: 0,
        };
        self.test.take_effects();
        self.node
            .on_request(Request { id, op }, &mut self.test.ctx());
        self.test
            .take_effects()
            .into_iter()
            .find_map(|e| match e {
                Effect::Reply { reply, .. } => Some(reply),
                _ => None,
            })
            .ok_or_else(|| format!("request {} was not answered", self.next_op))
    }

    fn write(&mut self, value: u64, context: Option<CausalContext>) -> Result<(), String> {
        let reply = self.request(Op::Put {
            key: Key(0),
            value: Value(value),
            context,
        })?;
        if reply != Reply::Ok(OpResult::Written) {
            return Err(format!("write {value} answered {reply:?}"));
        }
        let siblings = self.siblings().len();
        self.after_each_write.push(siblings);
        Ok(())
    }

    fn read(&mut self) -> Result<CausalContext, String> {
        match self.request(Op::Get { key: Key(0) })? {
            Reply::Ok(OpResult::Read {
                context: Some(context),
                ..
            }) => Ok(context),
            other => Err(format!("a read answered {other:?}")),
        }
    }

    fn siblings(&self) -> Vec<Value> {
        self.node
            .key_state(Key(0))
            .map(|s| s.siblings.iter().map(|(_, v)| *v).collect())
            .unwrap_or_default()
    }
}

/// What one scenario left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiblingRun {
    /// The key's siblings at the end, in dot order.
    pub siblings: Vec<Value>,
    /// The sibling count after each write.
    pub after_each_write: Vec<usize>,
}

impl SiblingRun {
    /// The most siblings the key held after any write.
    pub fn most(&self) -> usize {
        self.after_each_write.iter().copied().max().unwrap_or(0)
    }
}

impl From<Harness> for SiblingRun {
    fn from(harness: Harness) -> SiblingRun {
        SiblingRun {
            siblings: harness.siblings(),
            after_each_write: harness.after_each_write,
        }
    }
}

/// Scenario 1: C1 writes and reads; a blind writer writes in between; C1 writes last.
pub fn scenario_one(mode: VclockMode) -> Result<SiblingRun, String> {
    let mut h = Harness::new(mode);
    let mut context = None;
    let mut value = 0;
    while value < WRITES {
        value += 1;
        h.write(value, context.clone())?;
        context = Some(h.read()?);
        if value < WRITES {
            value += 1;
            h.write(value, None)?;
        }
    }
    Ok(h.into())
}

/// Scenario 2: A writes and reads, then B writes and reads; A writes last.
pub fn scenario_two(mode: VclockMode) -> Result<SiblingRun, String> {
    let mut h = Harness::new(mode);
    let (mut a, mut b) = (None, None);
    for value in 1..=WRITES {
        let context = if value % 2 == 1 { &mut a } else { &mut b };
        h.write(value, context.clone())?;
        *context = Some(h.read()?);
    }
    Ok(h.into())
}

fn values(values: &[Value]) -> String {
    if values.len() > 4 {
        return format!("{} values", values.len());
    }
    let names: Vec<String> = values.iter().map(|v| format!("v{}", v.0)).collect();
    format!("[{}]", names.join(", "))
}

/// Runs T11.
pub fn run(plan: &Plan) -> Result<Reproduction, String> {
    let runs = [
        (
            "scenario 1",
            "server VV",
            scenario_one(VclockMode::ServerVv)?,
        ),
        (
            "scenario 2",
            "server VV",
            scenario_two(VclockMode::ServerVv)?,
        ),
        ("scenario 1", "DVV", scenario_one(VclockMode::Dvv)?),
        ("scenario 2", "DVV", scenario_two(VclockMode::Dvv)?),
    ];
    let last_two = vec![Value(WRITES - 1), Value(WRITES)];
    let mut rows = Vec::new();
    for (scenario, mode, result) in &runs {
        let count = result.siblings.len();
        if *mode == "server VV" {
            rows.push(Row::new(
                format!("{scenario}, {mode}: siblings after {WRITES} writes"),
                count.to_string(),
                "101",
                "exact",
                Check::from(count == 101),
            ));
        } else {
            rows.push(Row::new(
                format!("{scenario}, {mode}: siblings after {WRITES} writes"),
                values(&result.siblings),
                values(&last_two),
                "exact",
                Check::from(result.siblings == last_two),
            ));
            let bound = if *scenario == "scenario 1" { 3 } else { 2 };
            rows.push(Row::new(
                format!("{scenario}, {mode}: most siblings during the run"),
                result.most().to_string(),
                format!("≤ {bound}"),
                "exact",
                Check::from(result.most() <= bound),
            ));
        }
    }
    let series = runs
        .iter()
        .enumerate()
        .map(|(i, (scenario, mode, result))| Series {
            name: format!("{mode}, {scenario}"),
            points: result
                .after_each_write
                .iter()
                .enumerate()
                .map(|(w, count)| ((w + 1) as f64, *count as f64))
                .collect(),
            style: if i % 2 == 0 {
                Style::Line
            } else {
                Style::Dashed
            },
            color: i / 2,
        })
        .collect();
    let mut notes = vec![
        "driven through the vclock protocol's handlers on one coordinator (no network), as the README's single-node Riak run".to_string(),
        "published: Riak with VV `Siblings: 101` in both scenarios; with DVVSet `Siblings: 2` (v100, v101)".to_string(),
    ];
    if plan.trials.is_some() {
        notes.push("--trials does not apply: T11 is exact and deterministic".to_string());
    }
    Ok(Reproduction {
        id: "T11",
        name: "vclock-siblings",
        setup: vec![format!(
            "{WRITES} writes to one key per scenario; modes: server-id version vectors (merge on conflict) and dotted version vectors"
        )],
        rows,
        notes,
        figure: Figure {
            title: "T11: siblings of one key after each write".into(),
            panels: vec![Panel {
                title: "server version vectors keep every write; DVV keeps the last two".into(),
                x_label: "writes".into(),
                y_label: "siblings".into(),
                series,
                ..Panel::default()
            }],
        },
    })
}
