//! TARGETS.md T11, exactly: 101 writes to one key on a single coordinator. With per-server
//! version vectors every write adds a sibling (101); with dotted version vectors the key ends
//! with the last two values, holding at most 3 on the way (scenario 1) or 2 (scenario 2).

use protocols::vclock::{Vclock, VclockConfig, VclockDisk, VclockMode};
use sim_core::ids::{ClientId, Key, NodeId, OpId, Value};
use sim_core::protocol::{
    CausalContext, Effect, Op, OpResult, Protocol, Reply, Request, RequestId, TestCtx,
};

struct Harness {
    node: Vclock,
    test: TestCtx<Vclock>,
    next_op: u64,
    most_siblings: usize,
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
            most_siblings: 0,
        }
    }

    fn request(&mut self, op: Op) -> Reply {
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
        let siblings = self.siblings().len();
        self.most_siblings = self.most_siblings.max(siblings);
        self.test
            .take_effects()
            .into_iter()
            .find_map(|e| match e {
                Effect::Reply { reply, .. } => Some(reply),
                _ => None,
            })
            .expect("every request is answered")
    }

    fn write(&mut self, value: u64, context: Option<CausalContext>) {
        let reply = self.request(Op::Put {
            key: Key(0),
            value: Value(value),
            context,
        });
        assert_eq!(reply, Reply::Ok(OpResult::Written));
    }

    fn read(&mut self) -> CausalContext {
        match self.request(Op::Get { key: Key(0) }) {
            Reply::Ok(OpResult::Read {
                context: Some(context),
                ..
            }) => context,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn siblings(&self) -> Vec<Value> {
        self.node
            .key_state(Key(0))
            .map(|s| s.siblings.iter().map(|(_, v)| *v).collect())
            .unwrap_or_default()
    }
}

/// Scenario 1: C1 writes and reads; a blind writer writes in between; 101 writes, C1 last.
fn scenario_one(mode: VclockMode) -> Harness {
    let mut h = Harness::new(mode);
    let mut context = None;
    let mut value = 0;
    while value < 101 {
        value += 1;
        h.write(value, context.clone());
        context = Some(h.read());
        if value < 101 {
            value += 1;
            h.write(value, None);
        }
    }
    h
}

/// Scenario 2: A writes and reads, then B writes and reads; 101 writes, the last by A.
fn scenario_two(mode: VclockMode) -> Harness {
    let mut h = Harness::new(mode);
    let (mut a, mut b) = (None, None);
    for value in 1..=101u64 {
        let context = if value % 2 == 1 { &mut a } else { &mut b };
        h.write(value, context.clone());
        *context = Some(h.read());
    }
    h
}

#[test]
fn server_version_vectors_keep_every_write_as_a_sibling() {
    assert_eq!(scenario_one(VclockMode::ServerVv).siblings().len(), 101);
    assert_eq!(scenario_two(VclockMode::ServerVv).siblings().len(), 101);
}

#[test]
fn dotted_version_vectors_keep_the_last_two() {
    let one = scenario_one(VclockMode::Dvv);
    assert_eq!(one.siblings(), vec![Value(100), Value(101)]);
    assert_eq!(one.most_siblings, 3);
    let two = scenario_two(VclockMode::Dvv);
    assert_eq!(two.siblings(), vec![Value(100), Value(101)]);
    assert_eq!(two.most_siblings, 2);
}
