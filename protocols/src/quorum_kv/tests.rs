//! Handler tests: one handler at a time through a `TestCtx`, comparing the exact effects.

use super::version::{Dot, Sibling, Siblings, Stamp, Stamped, VersionVector};
use super::*;
use sim_core::clock::NodeClock;
use sim_core::ids::{ClientId, OpId};
use sim_core::protocol::{CausalContext, ClusterView, Effect, OpResult, TestCtx};
use sim_core::rng::{Purpose, SimRng};
use sim_core::time::{SignedDuration, SimTime};

const N1: NodeId = NodeId(0);
const N2: NodeId = NodeId(1);
const N3: NodeId = NodeId(2);
const TIMEOUT: SimDuration = SimDuration::from_millis(250);

fn request(op: u64, what: Op) -> Request {
    Request {
        id: RequestId {
            client: ClientId(0),
            op: OpId(op),
            seq: op + 1,
            attempt: 0,
        },
        op: what,
    }
}

fn put(op: u64, key: u32, value: u64, context: Option<CausalContext>) -> Request {
    request(
        op,
        Op::Put {
            key: Key(key),
            value: Value(value),
            context,
        },
    )
}

fn get(op: u64, key: u32) -> Request {
    request(op, Op::Get { key: Key(key) })
}

fn dot(node: NodeId, counter: u64) -> Dot {
    Dot { node, counter }
}

fn sibling(node: NodeId, counter: u64, past: &[Dot], value: u64) -> Sibling {
    let mut vector = VersionVector::default();
    for d in past {
        vector.add(*d);
    }
    Sibling {
        dot: dot(node, counter),
        past: vector,
        value: Value(value),
    }
}

fn object(siblings: Vec<Sibling>) -> Object {
    Object::Siblings(Siblings::from_versions(siblings))
}

fn written(request: &Request) -> Effect<QuorumKv> {
    Effect::Reply {
        request: request.id,
        reply: Reply::Ok(OpResult::Written),
    }
}

fn store(request: &Request, key: u32, object: &Object) -> QkMessage {
    QkMessage::Store {
        request: request.id,
        key: Key(key),
        object: object.clone(),
        stand_in_for: None,
    }
}

/// Starts `node` of a cluster of `nodes` from `disk`, and drops the start's effects.
fn started(
    node: NodeId,
    nodes: u32,
    config: QuorumKvConfig,
    disk: QkDisk,
) -> (QuorumKv, TestCtx<QuorumKv>) {
    let mut test = TestCtx::new(node, nodes);
    let state = QuorumKv::start(&config, &disk, &mut test.ctx());
    test.take_effects();
    (state, test)
}

fn fresh(node: NodeId, config: QuorumKvConfig) -> (QuorumKv, TestCtx<QuorumKv>) {
    started(node, 3, config, QkDisk::default())
}

fn holding(node: NodeId, key: u32, copy: &Object) -> (QuorumKv, TestCtx<QuorumKv>) {
    let mut disk = QkDisk::default();
    disk.store.insert(Key(key), copy.clone());
    started(node, 3, QuorumKvConfig::default(), disk)
}

#[test]
fn start_arms_the_handoff_and_anti_entropy_timers_only_when_asked() {
    let mut test = TestCtx::<QuorumKv>::new(N1, 3);
    QuorumKv::start(
        &QuorumKvConfig::default(),
        &QkDisk::default(),
        &mut test.ctx(),
    );
    assert_eq!(test.take_effects(), vec![]);
    let config = QuorumKvConfig {
        sloppy_quorum: true,
        anti_entropy_every: Some(Dur(SimDuration::from_millis(200))),
        ..QuorumKvConfig::default()
    };
    let mut test = TestCtx::<QuorumKv>::new(N1, 5);
    QuorumKv::start(&config, &QkDisk::default(), &mut test.ctx());
    // The first rounds come after a random share of each period, drawn from the node's stream.
    let mut stream = SimRng::stream(0, Purpose::Test, 0);
    let handoff = SimDuration(1 + stream.below(100_000_000));
    let anti_entropy = SimDuration(1 + stream.below(200_000_000));
    assert!(handoff <= SimDuration::from_millis(100));
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::SetTimer {
                timer: QkTimer::Handoff,
                after: handoff
            },
            Effect::SetTimer {
                timer: QkTimer::AntiEntropy,
                after: anti_entropy
            },
        ]
    );
}

#[test]
fn a_put_is_stored_and_synced_before_the_copies_leave_and_is_written_at_w_acks() {
    let (mut n1, mut test) = fresh(N1, QuorumKvConfig::default());
    let request = put(0, 1, 7, None);
    n1.on_request(request.clone(), &mut test.ctx());
    let copy = object(vec![sibling(N1, 1, &[], 7)]);
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Persist(QkWrite::Store(Key(1), copy.clone())),
            Effect::Sync,
            Effect::Send {
                to: N2,
                message: store(&request, 1, &copy)
            },
            Effect::Send {
                to: N3,
                message: store(&request, 1, &copy)
            },
            Effect::SetTimer {
                timer: QkTimer::Deadline(request.id),
                after: TIMEOUT
            },
        ]
    );
    n1.on_message(
        N2,
        QkMessage::Stored {
            request: request.id,
        },
        &mut test.ctx(),
    );
    assert_eq!(
        test.take_effects(),
        vec![written(&request)],
        "n1 and n2: w = 2"
    );
    assert!(matches!(
        n1.last_step().events[..],
        [StepEvent::WriteAcknowledged { ref acks, .. }] if acks.len() == 2
    ));
    n1.on_message(
        N3,
        QkMessage::Stored {
            request: request.id,
        },
        &mut test.ctx(),
    );
    assert_eq!(
        test.take_effects(),
        vec![Effect::CancelTimer {
            timer: QkTimer::Deadline(request.id)
        }],
        "every replica has it: the coordinator forgets the write"
    );
}

#[test]
fn with_w_1_the_coordinator_answers_at_once_behind_its_own_sync() {
    let config = QuorumKvConfig {
        w: 1,
        ..QuorumKvConfig::default()
    };
    let (mut n1, mut test) = fresh(N1, config);
    let request = put(0, 1, 7, None);
    n1.on_request(request.clone(), &mut test.ctx());
    let effects = test.take_effects();
    assert_eq!(effects[1], Effect::Sync);
    assert_eq!(effects.last(), Some(&written(&request)));
}

#[test]
fn a_replica_merges_syncs_and_then_acknowledges_even_a_copy_it_already_has() {
    let (mut n2, mut test) = fresh(N2, QuorumKvConfig::default());
    let request = put(0, 1, 7, None);
    let copy = object(vec![sibling(N1, 1, &[], 7)]);
    n2.on_message(N1, store(&request, 1, &copy), &mut test.ctx());
    let ack = Effect::Send {
        to: N1,
        message: QkMessage::Stored {
            request: request.id,
        },
    };
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Persist(QkWrite::Store(Key(1), copy.clone())),
            Effect::Sync,
            ack.clone()
        ]
    );
    n2.on_message(N1, store(&request, 1, &copy), &mut test.ctx());
    assert_eq!(test.take_effects(), vec![Effect::Sync, ack]);
}

#[test]
fn blind_writes_at_one_coordinator_become_siblings_and_a_write_with_their_context_supersedes_them()
{
    let (mut n1, mut test) = fresh(N1, QuorumKvConfig::default());
    n1.on_request(put(0, 2, 10, None), &mut test.ctx());
    n1.on_request(put(1, 2, 11, None), &mut test.ctx());
    let both = object(vec![sibling(N1, 1, &[], 10), sibling(N1, 2, &[], 11)]);
    assert_eq!(n1.object(Key(2)), Some(&both));
    let context = both.read_context();
    assert_eq!(context, Some(CausalContext(vec![0, 2])));
    n1.on_request(put(2, 2, 12, context), &mut test.ctx());
    assert_eq!(
        n1.object(Key(2)),
        Some(&object(vec![sibling(N1, 3, &[dot(N1, 2)], 12)]))
    );
}

#[test]
fn a_read_answers_at_r_with_every_sibling_and_its_context_then_repairs_the_stale() {
    let copy = object(vec![sibling(N1, 1, &[], 7), sibling(N2, 1, &[], 8)]);
    let (mut n1, mut test) = holding(N1, 4, &copy);
    let request = get(3, 4);
    n1.on_request(request.clone(), &mut test.ctx());
    let fetch = QkMessage::Fetch {
        request: request.id,
        key: Key(4),
    };
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Send {
                to: N2,
                message: fetch.clone()
            },
            Effect::Send {
                to: N3,
                message: fetch
            },
            Effect::SetTimer {
                timer: QkTimer::Deadline(request.id),
                after: TIMEOUT
            },
        ],
        "n1's own copy is one answer; r = 2 needs another"
    );
    let fetched = |object: Option<Object>| QkMessage::Fetched {
        request: request.id,
        object,
    };
    n1.on_message(N2, fetched(None), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Reply {
                request: request.id,
                reply: Reply::Ok(OpResult::Read {
                    values: vec![Value(7), Value(8)],
                    context: Some(CausalContext(vec![0, 1, 1, 1])),
                }),
            },
            Effect::Send {
                to: N2,
                message: QkMessage::Repair(vec![(Key(4), copy.clone())])
            },
        ]
    );
    n1.on_message(N3, fetched(Some(copy)), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![Effect::CancelTimer {
            timer: QkTimer::Deadline(request.id)
        }],
        "n3 is up to date: nothing to repair"
    );
}

#[test]
fn a_late_answer_with_more_is_merged_and_repaired_everywhere_including_here() {
    let old = object(vec![sibling(N1, 1, &[], 7)]);
    let new = object(vec![sibling(N2, 1, &[dot(N1, 1)], 9)]);
    let (mut n1, mut test) = holding(N1, 4, &old);
    let request = get(3, 4);
    n1.on_request(request.clone(), &mut test.ctx());
    let fetched = |object: &Object| QkMessage::Fetched {
        request: request.id,
        object: Some(object.clone()),
    };
    n1.on_message(N3, fetched(&old), &mut test.ctx());
    test.take_effects();
    n1.on_message(N2, fetched(&new), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Persist(QkWrite::Store(Key(4), new.clone())),
            Effect::Send {
                to: N3,
                message: QkMessage::Repair(vec![(Key(4), new.clone())])
            },
            Effect::CancelTimer {
                timer: QkTimer::Deadline(request.id)
            },
        ]
    );
    assert_eq!(n1.object(Key(4)), Some(&new));
}

#[test]
fn the_coordinator_timeout_makes_a_write_indeterminate_and_a_read_fail() {
    let (mut n1, mut test) = fresh(N1, QuorumKvConfig::default());
    let write = put(0, 1, 7, None);
    let read = get(1, 1);
    n1.on_request(write.clone(), &mut test.ctx());
    n1.on_request(read.clone(), &mut test.ctx());
    test.take_effects();
    n1.on_timer(QkTimer::Deadline(write.id), &mut test.ctx());
    n1.on_timer(QkTimer::Deadline(read.id), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Reply {
                request: write.id,
                reply: Reply::Indeterminate(
                    "1 of w = 2 replicas acknowledged within 250ms (n1): the write may or may not have taken effect".into()
                ),
            },
            Effect::Reply {
                request: read.id,
                reply: Reply::Fail("only 1 of r = 2 replicas answered within 250ms".into()),
            },
        ]
    );
    assert_eq!(
        n1.last_step().events,
        vec![StepEvent::ReadAbandoned { request: read.id }]
    );
}

#[test]
fn compare_and_set_is_refused() {
    let (mut n1, mut test) = fresh(N1, QuorumKvConfig::default());
    let cas = request(
        0,
        Op::Cas {
            key: Key(0),
            expected: None,
            new: Value(1),
        },
    );
    n1.on_request(cas.clone(), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![Effect::Reply {
            request: cas.id,
            reply: Reply::Fail("quorum_kv does not support compare-and-set".into())
        }]
    );
}

/// A key of a five-node ring whose replicas do not include n1, and one whose do.
fn keys_on_five_nodes() -> (u32, u32) {
    let ring = Ring::new(5, 8);
    let outside = (0..).find(|k| !ring.preference_list(Key(*k), 3).contains(&N1));
    let inside = (0..).find(|k| ring.preference_list(Key(*k), 3)[0] == N1);
    (outside.unwrap(), inside.unwrap())
}

#[test]
fn with_vector_clocks_a_node_outside_the_replicas_redirects_the_write_to_one() {
    let (outside, _) = keys_on_five_nodes();
    let (mut n1, mut test) = started(N1, 5, QuorumKvConfig::default(), QkDisk::default());
    let request = put(0, outside, 7, None);
    n1.on_request(request.clone(), &mut test.ctx());
    let effects = test.take_effects();
    let homes = Ring::new(5, 8).preference_list(Key(outside), 3);
    match &effects[..] {
        [Effect::Reply {
            reply: Reply::Redirect(Some(to)),
            ..
        }] => assert!(homes.contains(to), "{to} is not one of {homes:?}"),
        other => panic!("expected a redirect, got {other:?}"),
    }
    // Reads need no dot: any node coordinates them.
    n1.on_request(get(1, outside), &mut test.ctx());
    let sent = test.take_effects();
    assert_eq!(sent.len(), 4, "three fetches and a timer: {sent:?}");
}

#[test]
fn with_timestamps_any_node_coordinates_and_stamps_with_its_wall_clock() {
    let (outside, _) = keys_on_five_nodes();
    let config = QuorumKvConfig {
        versions: Versioning::Timestamps,
        ..QuorumKvConfig::default()
    };
    let (mut n1, mut test) = started(N1, 5, config, QkDisk::default());
    test.set_clock(NodeClock::new(SignedDuration(-80_000_000), 0));
    test.set_time(SimTime(1_000_000_000));
    let request = put(0, outside, 7, None);
    n1.on_request(request.clone(), &mut test.ctx());
    let stamped = Object::Stamped(Stamped {
        stamp: Stamp {
            wall_ns: 920_000_000,
            node: N1,
        },
        value: Value(7),
    });
    let homes = Ring::new(5, 8).preference_list(Key(outside), 3);
    let mut expected: Vec<Effect<QuorumKv>> = homes
        .iter()
        .map(|home| Effect::Send {
            to: *home,
            message: store(&request, outside, &stamped),
        })
        .collect();
    expected.push(Effect::SetTimer {
        timer: QkTimer::Deadline(request.id),
        after: TIMEOUT,
    });
    assert_eq!(test.take_effects(), expected, "no local copy, so no sync");
}

fn partial(n: u32, r: u32, w: u32) -> QuorumKvConfig {
    QuorumKvConfig {
        n,
        r,
        w,
        versions: Versioning::Timestamps,
        read_repair: false,
        partial_quorum: true,
        ..QuorumKvConfig::default()
    }
}

#[test]
fn partial_quorums_send_each_write_to_exactly_w_random_replicas_and_each_read_to_r() {
    let (mut n1, mut test) = fresh(N1, partial(3, 1, 2));
    let mut chosen = BTreeMap::<Vec<NodeId>, u32>::new();
    for op in 0..3_000 {
        let request = put(op, 0, op, None);
        n1.on_request(request, &mut test.ctx());
        let mut targets: Vec<NodeId> = test
            .take_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send { to, .. } => Some(to),
                Effect::Persist(_) => Some(N1),
                _ => None,
            })
            .collect();
        targets.sort();
        assert_eq!(targets.len(), 2, "{targets:?}");
        *chosen.entry(targets).or_default() += 1;
    }
    // All three pairs, each about a third of the time.
    assert_eq!(chosen.len(), 3, "{chosen:?}");
    assert!(
        chosen.values().all(|c| (900..1_100).contains(c)),
        "{chosen:?}"
    );
    let read = get(9_999, 0);
    n1.on_request(read, &mut test.ctx());
    let asked = test
        .take_effects()
        .iter()
        .filter(|e| matches!(e, Effect::Send { .. } | Effect::Reply { .. }))
        .count();
    assert_eq!(
        asked, 1,
        "r = 1: one fetch, or the local copy answers at once"
    );
}

#[test]
fn partial_quorums_never_propagate_a_write_and_answer_from_the_newest_stamp() {
    let (mut n1, mut test) = fresh(N1, partial(3, 3, 1));
    let old = Object::Stamped(Stamped {
        stamp: Stamp {
            wall_ns: 5,
            node: N2,
        },
        value: Value(1),
    });
    let new = Object::Stamped(Stamped {
        stamp: Stamp {
            wall_ns: 9,
            node: N3,
        },
        value: Value(2),
    });
    let read = get(0, 6);
    n1.on_request(read.clone(), &mut test.ctx());
    test.take_effects();
    for (from, copy) in [(N2, old), (N3, new)] {
        let message = QkMessage::Fetched {
            request: read.id,
            object: Some(copy),
        };
        n1.on_message(from, message, &mut test.ctx());
    }
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Reply {
                request: read.id,
                reply: Reply::Ok(OpResult::Read {
                    values: vec![Value(2)],
                    context: None
                })
            },
            Effect::CancelTimer {
                timer: QkTimer::Deadline(read.id)
            },
        ],
        "no read repair: n1 and n2 keep what they had"
    );
}

/// A sloppy five-node cluster, n1 coordinating a key it replicates; returns the key's
/// replicas and fallbacks.
fn sloppy(variant: QuorumVariant) -> (QuorumKv, TestCtx<QuorumKv>, u32, Vec<NodeId>) {
    let (_, key) = keys_on_five_nodes();
    let config = QuorumKvConfig {
        sloppy_quorum: true,
        variant,
        ..QuorumKvConfig::default()
    };
    let (n1, test) = started(N1, 5, config, QkDisk::default());
    (n1, test, key, Ring::new(5, 8).walk(Key(key)))
}

#[test]
fn silent_replicas_get_stand_ins_whose_acks_do_not_make_a_write_written() {
    let (mut n1, mut test, key, walk) = sloppy(QuorumVariant::Correct);
    let request = put(0, key, 7, None);
    n1.on_request(request.clone(), &mut test.ctx());
    let copy = n1.object(Key(key)).cloned().expect("n1 stored it");
    assert_eq!(
        test.take_effects().last(),
        Some(&Effect::SetTimer {
            timer: QkTimer::StandIn(request.id),
            after: SimDuration::from_millis(50)
        })
    );
    n1.on_timer(QkTimer::StandIn(request.id), &mut test.ctx());
    let stand_in = |to: NodeId, home: NodeId| Effect::Send {
        to,
        message: QkMessage::Store {
            request: request.id,
            key: Key(key),
            object: copy.clone(),
            stand_in_for: Some(home),
        },
    };
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Sync,
            stand_in(walk[3], walk[1]),
            stand_in(walk[4], walk[2])
        ]
    );
    n1.on_message(
        walk[3],
        QkMessage::Stored {
            request: request.id,
        },
        &mut test.ctx(),
    );
    assert_eq!(
        test.take_effects(),
        vec![],
        "a stand-in is not the key's replica"
    );
    n1.on_timer(QkTimer::Deadline(request.id), &mut test.ctx());
    let reason = format!(
        "stored by a sloppy quorum ({} for {} standing in) but by only 1 of w = 2 of the key's replicas within 250ms: quorum reads see it once it is handed back",
        walk[3], walk[1]
    );
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::CancelTimer {
                timer: QkTimer::StandIn(request.id)
            },
            Effect::Reply {
                request: request.id,
                reply: Reply::Indeterminate(reason)
            },
        ]
    );
}

#[test]
fn sloppy_counted_as_strict_answers_written_on_a_stand_in_ack() {
    let (mut n1, mut test, key, walk) = sloppy(QuorumVariant::SloppyCountedAsStrict);
    let request = put(0, key, 7, None);
    n1.on_request(request.clone(), &mut test.ctx());
    n1.on_timer(QkTimer::StandIn(request.id), &mut test.ctx());
    test.take_effects();
    n1.on_message(
        walk[3],
        QkMessage::Stored {
            request: request.id,
        },
        &mut test.ctx(),
    );
    assert_eq!(test.take_effects(), vec![written(&request)]);
    match &n1.last_step().events[..] {
        [StepEvent::WriteAcknowledged { acks, .. }] => assert_eq!(
            acks,
            &vec![
                Ack {
                    node: N1,
                    stand_in_for: None
                },
                Ack {
                    node: walk[3],
                    stand_in_for: Some(walk[1])
                }
            ]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stand_in_keeps_a_durable_hint_and_hands_it_back_until_the_home_acknowledges() {
    let (_, key) = keys_on_five_nodes();
    let walk = Ring::new(5, 8).walk(Key(key));
    let (home, fallback) = (walk[1], walk[3]);
    let config = QuorumKvConfig {
        sloppy_quorum: true,
        ..QuorumKvConfig::default()
    };
    let (mut stand_in, mut test) = started(fallback, 5, config.clone(), QkDisk::default());
    let copy = object(vec![sibling(N1, 1, &[], 7)]);
    let request = put(0, key, 7, None);
    let message = QkMessage::Store {
        request: request.id,
        key: Key(key),
        object: copy.clone(),
        stand_in_for: Some(home),
    };
    stand_in.on_message(N1, message, &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Persist(QkWrite::Hint {
                home,
                key: Key(key),
                object: copy.clone()
            }),
            Effect::Sync,
            Effect::Send {
                to: N1,
                message: QkMessage::Stored {
                    request: request.id
                }
            },
        ]
    );
    let mut view = ReplicaView::new();
    stand_in.replica_view(&mut view);
    assert_eq!(
        view[&Key(key)],
        vec![Value(7)],
        "the stand-in shows what it keeps"
    );
    stand_in.on_timer(QkTimer::Handoff, &mut test.ctx());
    let handoff = QkMessage::Handoff(vec![(Key(key), copy.clone())]);
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Send {
                to: home,
                message: handoff.clone()
            },
            Effect::SetTimer {
                timer: QkTimer::Handoff,
                after: SimDuration::from_millis(100)
            },
        ]
    );
    let (mut replica, mut home_test) = started(home, 5, config, QkDisk::default());
    replica.on_message(fallback, handoff, &mut home_test.ctx());
    let handed_off = QkMessage::HandedOff(vec![(Key(key), copy.digest())]);
    assert_eq!(
        home_test.take_effects(),
        vec![
            Effect::Persist(QkWrite::Store(Key(key), copy.clone())),
            Effect::Sync,
            Effect::Send {
                to: fallback,
                message: handed_off.clone()
            },
        ]
    );
    stand_in.on_message(home, handed_off, &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![Effect::Persist(QkWrite::HintRemoved {
            home,
            key: Key(key)
        })]
    );
    assert!(stand_in.hints().is_empty());
}

#[test]
fn anti_entropy_exchanges_digests_then_the_copies_that_differ() {
    let config = QuorumKvConfig {
        anti_entropy_every: Some(Dur(SimDuration::from_millis(200))),
        ..QuorumKvConfig::default()
    };
    let copy = object(vec![sibling(N1, 1, &[], 7)]);
    let mut disk = QkDisk::default();
    disk.store.insert(Key(3), copy.clone());
    let (mut n1, mut test1) = started(N1, 3, config.clone(), disk);
    let (mut n2, mut test2) = started(N2, 3, config, QkDisk::default());
    n1.on_timer(QkTimer::AntiEntropy, &mut test1.ctx());
    let digest = QkMessage::Digest {
        from: Key(0),
        to: Key(u32::MAX),
        entries: vec![(Key(3), copy.digest())],
    };
    assert_eq!(
        test1.take_effects(),
        vec![
            Effect::Send {
                to: N2,
                message: digest.clone()
            },
            Effect::SetTimer {
                timer: QkTimer::AntiEntropy,
                after: SimDuration::from_millis(200)
            },
        ]
    );
    n2.on_message(N1, digest, &mut test2.ctx());
    let reply = QkMessage::DigestReply {
        objects: vec![],
        wanted: vec![Key(3)],
    };
    assert_eq!(
        test2.take_effects(),
        vec![Effect::Send {
            to: N1,
            message: reply.clone()
        }]
    );
    n1.on_message(N2, reply, &mut test1.ctx());
    let repair = QkMessage::Repair(vec![(Key(3), copy.clone())]);
    assert_eq!(
        test1.take_effects(),
        vec![Effect::Send {
            to: N2,
            message: repair.clone()
        }]
    );
    n2.on_message(N1, repair, &mut test2.ctx());
    assert_eq!(n2.object(Key(3)), Some(&copy));
    // The next round goes to the next peer.
    n1.on_timer(QkTimer::AntiEntropy, &mut test1.ctx());
    assert!(matches!(
        test1.take_effects()[0],
        Effect::Send { to: N3, .. }
    ));
}

#[test]
fn a_restarted_node_serves_what_its_disk_holds_and_keeps_its_dots_in_order() {
    let copy = object(vec![sibling(N1, 4, &[], 7)]);
    let (mut n1, mut test) = holding(N1, 0, &copy);
    let mut view = ReplicaView::new();
    n1.replica_view(&mut view);
    assert_eq!(view[&Key(0)], vec![Value(7)]);
    assert_eq!(n1.last_step().changed, vec![Key(0)]);
    n1.on_request(put(0, 0, 8, None), &mut test.ctx());
    assert_eq!(
        n1.object(Key(0)),
        Some(&object(vec![
            sibling(N1, 4, &[], 7),
            sibling(N1, 5, &[], 8)
        ]))
    );
}

#[test]
fn blind_overwrite_replaces_a_concurrent_sibling_instead_of_keeping_it() {
    let config = QuorumKvConfig {
        variant: QuorumVariant::BlindOverwrite,
        ..QuorumKvConfig::default()
    };
    let mut disk = QkDisk::default();
    let mine = object(vec![sibling(N2, 1, &[], 5)]);
    disk.store.insert(Key(0), mine);
    let (mut n2, mut test) = started(N2, 3, config, disk);
    let theirs = object(vec![sibling(N1, 1, &[], 6)]);
    n2.on_message(N1, store(&put(0, 0, 6, None), 0, &theirs), &mut test.ctx());
    assert_eq!(n2.object(Key(0)), Some(&theirs));
}

#[test]
fn validation_names_what_to_change() {
    let check = |config: QuorumKvConfig, nodes: u32| validate(&config, nodes);
    let base = QuorumKvConfig::default;
    assert!(check(base(), 3).is_ok());
    let weak = QuorumKvConfig {
        r: 1,
        w: 1,
        ..base()
    };
    assert!(check(weak, 3).is_ok(), "r + w <= n is legal, only weak");
    assert_eq!(
        check(QuorumKvConfig { n: 4, ..base() }, 3),
        Err(
            "n (4) must be between 1 and the node count (3): each key lives on n distinct nodes"
                .into()
        )
    );
    assert_eq!(
        check(QuorumKvConfig { r: 4, ..base() }, 5),
        Err("r (4) must be between 1 and n (3)".into())
    );
    assert!(check(
        QuorumKvConfig {
            sloppy_quorum: true,
            ..base()
        },
        3
    )
    .unwrap_err()
    .contains("there is none"));
    assert!(check(
        QuorumKvConfig {
            variant: QuorumVariant::SloppyCountedAsStrict,
            ..base()
        },
        5
    )
    .unwrap_err()
    .contains("needs sloppy_quorum: true"));
    assert!(check(
        QuorumKvConfig {
            partial_quorum: true,
            ..base()
        },
        3
    )
    .unwrap_err()
    .contains("Timestamps"));
    assert!(check(partial(3, 1, 1), 3).is_ok());
}

// ----- invariants, on hand-made clusters ------------------------------------------------

/// A node state holding `copy` for key 0, whose last step changed it and did `events`.
fn node_with(copy: &Object, events: Vec<StepEvent>) -> QuorumKv {
    let (mut node, _) = holding(N1, 0, copy);
    node.step.events = events;
    node
}

#[test]
fn replica_never_regresses_allows_supersession_and_names_a_vanished_sibling() {
    let both = object(vec![sibling(N1, 1, &[], 7), sibling(N2, 1, &[], 8)]);
    let after = object(vec![sibling(N1, 2, &[dot(N1, 1), dot(N2, 1)], 9)]);
    let lost = object(vec![sibling(N1, 2, &[dot(N1, 1)], 9)]);
    let mut invariant = ReplicaNeverRegresses::default();
    let mut check = |copy: &Object, incarnation: u32| {
        let states: Vec<(Option<QuorumKv>, u32)> =
            vec![(Some(node_with(copy, vec![])), incarnation)];
        invariant.check(&ClusterView::new(N1, SimTime::ZERO, &states))
    };
    assert_eq!(check(&both, 0), Ok(()));
    assert_eq!(check(&after, 0), Ok(()), "the new write saw both");
    assert_eq!(
        check(&both, 1),
        Ok(()),
        "a restart starts again from the disk"
    );
    let failure = check(&lost, 1).unwrap_err();
    assert_eq!(
        failure.explanation,
        "n1 held k0 = {v7 (n1:1), v8 (n2:1)} and now holds {v9 (n1:2)}: v8 (dot n2:1) vanished, and no version n1 holds supersedes it"
    );
}

#[test]
fn siblings_concurrent_names_a_superseded_sibling() {
    // Built by hand: a merge would never keep both.
    let pair = Object::Siblings(Siblings::unchecked(vec![
        sibling(N1, 1, &[], 7),
        sibling(N2, 1, &[dot(N1, 1)], 8),
    ]));
    let states: Vec<(Option<QuorumKv>, u32)> = vec![(Some(node_with(&pair, vec![])), 0)];
    let failure = SiblingsConcurrent
        .check(&ClusterView::new(N1, SimTime::ZERO, &states))
        .unwrap_err();
    assert_eq!(
        failure.explanation,
        "n1 holds k0 with siblings v7 (n1:1) and v8 (n2:1) whose past [n1:1] includes it: a superseded version is still a sibling"
    );
}

#[test]
fn reads_see_acknowledged_writes_flags_a_read_that_began_after_an_ack_and_missed_it() {
    let config = QuorumKvConfig {
        r: 1,
        w: 1,
        ..QuorumKvConfig::default()
    };
    let mut invariant = ReadsSeeAcknowledgedWrites::new(&config);
    let old = object(vec![sibling(N1, 1, &[], 7)]);
    let write = put(0, 0, 8, None);
    let read = get(1, 0);
    let acked = StepEvent::WriteAcknowledged {
        request: write.id,
        key: Key(0),
        version: Version::Dot(dot(N2, 1)),
        value: Value(8),
        acks: vec![Ack {
            node: N2,
            stand_in_for: None,
        }],
    };
    let began = StepEvent::ReadStarted {
        request: read.id,
        key: Key(0),
    };
    let answered = StepEvent::ReadAnswered {
        request: read.id,
        seen: Some(old.clone()),
        from: vec![N1],
    };
    let mut step = |node: NodeId, at: u64, events: Vec<StepEvent>| {
        let mut states: Vec<(Option<QuorumKv>, u32)> = vec![(None, 0), (None, 0), (None, 0)];
        states[node.index()] = (Some(node_with(&old, events)), 0);
        invariant.check(&ClusterView::new(node, SimTime(at), &states))
    };
    assert_eq!(step(N2, 1_000_000, vec![acked]), Ok(()));
    assert_eq!(step(N1, 2_000_000, vec![began]), Ok(()));
    let failure = step(N1, 3_000_000, vec![answered]).unwrap_err();
    assert_eq!(failure.nodes, vec![N1, N2]);
    assert_eq!(
        failure.explanation,
        "n1 answered a read of k0 that began at 2ms with {v7 (n1:1)} from n1, missing v8 (dot n2:1) that n2 had acknowledged at 1ms after n2 stored it: r (1) + w (1) <= n (3): read and write quorums need not overlap"
    );
}

#[test]
fn dots_unique_names_a_dot_given_to_two_writes_but_ignores_the_coordinator_itself() {
    let mut invariant = DotsUnique::default();
    let mut step = |holder: NodeId, copy: &Object| {
        let (node, _) = holding(holder, 0, copy);
        let mut states: Vec<(Option<QuorumKv>, u32)> = vec![(None, 0), (None, 0), (None, 0)];
        states[holder.index()] = (Some(node), 0);
        invariant.check(&ClusterView::new(holder, SimTime::ZERO, &states))
    };
    let first = object(vec![sibling(N1, 1, &[], 7)]);
    let reused = object(vec![sibling(N1, 1, &[], 8)]);
    assert_eq!(step(N1, &first), Ok(()));
    assert_eq!(
        step(N1, &reused),
        Ok(()),
        "n1 may reuse a dot no one else saw"
    );
    assert_eq!(step(N2, &first), Ok(()));
    let failure = step(N3, &reused).unwrap_err();
    assert_eq!(
        failure.explanation,
        "dot n1:1 of k0 names two writes: n2 held it as v7, n3 holds it as v8; n1 gave one dot to two writes"
    );
}
