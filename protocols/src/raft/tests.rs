//! Handler tests: one handler at a time through a `TestCtx`, comparing exact effect lists, and
//! the invariants on hand-made clusters. Tests are named after the section of the Raft paper
//! (or thesis) whose rule they pin.

use super::invariants::{self, RaftViolation};
use super::log::{Command, ConflictHint, Entry, Session};
use super::*;
use sim_core::clock::NodeClock;
use sim_core::ids::ClientId;
use sim_core::ids::OpId;
use sim_core::protocol::{
    ClusterView, Effect, Invariant, Op, OpResult, Reply, Request, RequestId, TestCtx,
};
use sim_core::time::{SignedDuration, SimTime};

const N1: NodeId = NodeId(0);
const N2: NodeId = NodeId(1);
const N3: NodeId = NodeId(2);

/// Fixed timeouts, so that every drawn timeout is known: 150 ms.
fn config() -> RaftConfig {
    RaftConfig {
        election_timeout_min: Dur(SimDuration::from_millis(150)),
        election_timeout_max: Dur(SimDuration::from_millis(150)),
        ..RaftConfig::default()
    }
}

fn with(variant: RaftVariant) -> RaftConfig {
    RaftConfig {
        variant,
        ..config()
    }
}

fn election_timer() -> Effect<Raft> {
    Effect::SetTimer {
        timer: RaftTimer::Election,
        after: SimDuration::from_millis(150),
    }
}

fn heartbeat_timer() -> Effect<Raft> {
    Effect::SetTimer {
        timer: RaftTimer::Heartbeat,
        after: SimDuration::from_millis(50),
    }
}

fn entry(term: u64, value: u64) -> Entry {
    Entry {
        term,
        command: Command::Put {
            key: Key(0),
            value: Value(value),
            session: Session {
                client: ClientId(0),
                seq: value,
            },
        },
    }
}

fn noop(term: u64) -> Entry {
    Entry {
        term,
        command: Command::Noop,
    }
}

fn disk(term: u64, voted_for: Option<NodeId>, log: &[Entry]) -> RaftDisk {
    RaftDisk {
        term,
        voted_for,
        log: log.to_vec(),
    }
}

/// `node` of a three-node cluster started from `disk` with `config`, start effects dropped.
fn started(node: NodeId, disk: &RaftDisk, config: RaftConfig) -> (Raft, TestCtx<Raft>) {
    let mut test = TestCtx::new(node, 3);
    let state = Raft::start(&config, disk, &mut test.ctx());
    test.take_effects();
    (state, test)
}

/// n1 leading `term` of a three-node cluster over `log`, its election effects dropped.
fn leader(term: u64, log: &[Entry], config: RaftConfig) -> (Raft, TestCtx<Raft>) {
    let (mut node, mut test) = started(N1, &disk(term - 1, None, log), config);
    node.on_timer(RaftTimer::Election, &mut test.ctx());
    if node.config.pre_vote {
        node.on_message(N2, pre_vote_granted(term), &mut test.ctx());
    }
    node.on_message(N2, vote_granted(term), &mut test.ctx());
    assert!(node.is_leader());
    test.take_effects();
    (node, test)
}

fn pre_vote_granted(term: u64) -> RaftMessage {
    RaftMessage::Vote {
        term,
        granted: true,
        pre_vote: true,
    }
}

fn vote_granted(term: u64) -> RaftMessage {
    RaftMessage::Vote {
        term,
        granted: true,
        pre_vote: false,
    }
}

fn ask_vote(term: u64, last_index: u64, last_term: u64) -> RaftMessage {
    RaftMessage::RequestVote {
        term,
        last_index,
        last_term,
        pre_vote: false,
    }
}

fn append(term: u64, prev: (u64, u64), entries: &[Entry], commit: u64) -> RaftMessage {
    append_round(term, prev, entries, commit, 1)
}

fn append_round(
    term: u64,
    prev: (u64, u64),
    entries: &[Entry],
    commit: u64,
    round: u64,
) -> RaftMessage {
    RaftMessage::Append(AppendEntries {
        term,
        prev_index: prev.0,
        prev_term: prev.1,
        entries: entries.to_vec(),
        leader_commit: commit,
        round,
    })
}

fn matched(term: u64, round: u64, index: u64) -> RaftMessage {
    RaftMessage::AppendReply {
        term,
        round,
        outcome: AppendOutcome::Matched(index),
    }
}

fn request(seq: u64, op: Op) -> Request {
    Request {
        id: RequestId {
            client: ClientId(0),
            op: OpId(seq),
            seq,
            attempt: 0,
        },
        op,
    }
}

fn put(seq: u64, value: u64) -> Request {
    request(
        seq,
        Op::Put {
            key: Key(0),
            value: Value(value),
            context: None,
        },
    )
}

fn get(seq: u64) -> Request {
    request(seq, Op::Get { key: Key(0) })
}

fn sends(effects: &[Effect<Raft>]) -> Vec<(NodeId, RaftMessage)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send { to, message } => Some((*to, message.clone())),
            _ => None,
        })
        .collect()
}

fn replies(effects: &[Effect<Raft>]) -> Vec<(RequestId, Reply)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Reply { request, reply } => Some((*request, reply.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn start_recovers_term_vote_and_log_from_the_disk_alone_and_arms_the_election_timer() {
    let mut test = TestCtx::<Raft>::new(N2, 3);
    let recovered = disk(4, Some(N3), &[entry(1, 1), entry(4, 2)]);
    let node = Raft::start(&config(), &recovered, &mut test.ctx());
    assert_eq!(test.take_effects(), vec![election_timer()]);
    assert_eq!(
        (node.term(), node.voted_for(), node.log().entries()),
        (4, Some(N3), &recovered.log[..])
    );
    assert_eq!(
        (node.commit_index(), node.last_applied(), node.is_leader()),
        (0, 0, false),
        "commitment and the state machine are volatile: relearned from the leader"
    );
}

#[test]
fn section_9_6_pre_vote_asks_for_the_next_term_without_changing_any() {
    let (mut node, mut test) = started(N1, &disk(2, None, &[entry(2, 1)]), config());
    node.on_timer(RaftTimer::Election, &mut test.ctx());
    let ask = RaftMessage::RequestVote {
        term: 3,
        last_index: 1,
        last_term: 2,
        pre_vote: true,
    };
    assert_eq!(
        test.take_effects(),
        vec![
            election_timer(),
            heartbeat_timer(),
            Effect::Send {
                to: N2,
                message: ask.clone()
            },
            Effect::Send {
                to: N3,
                message: ask
            },
        ]
    );
    assert_eq!(node.term(), 2);
}

#[test]
fn section_5_2_a_candidate_syncs_its_own_vote_before_asking_for_votes() {
    let (mut node, mut test) = started(N1, &disk(2, None, &[entry(2, 1)]), config());
    node.on_timer(RaftTimer::Election, &mut test.ctx());
    test.take_effects();
    node.on_message(N3, pre_vote_granted(3), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Persist(DiskWrite::TermAndVote {
                term: 3,
                voted_for: Some(N1)
            }),
            election_timer(),
            heartbeat_timer(),
            Effect::Sync,
            Effect::Send {
                to: N2,
                message: ask_vote(3, 1, 2)
            },
            Effect::Send {
                to: N3,
                message: ask_vote(3, 1, 2)
            },
        ]
    );
}

#[test]
fn section_5_2_a_voter_syncs_the_new_term_and_its_vote_before_granting() {
    let (mut voter, mut test) = started(N2, &disk(2, None, &[entry(2, 1)]), config());
    voter.on_message(N1, ask_vote(3, 1, 2), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Persist(DiskWrite::TermAndVote {
                term: 3,
                voted_for: None
            }),
            Effect::Persist(DiskWrite::TermAndVote {
                term: 3,
                voted_for: Some(N1)
            }),
            election_timer(),
            Effect::Sync,
            Effect::Send {
                to: N1,
                message: vote_granted(3)
            },
        ]
    );
    // A second candidate of the same term is refused, and the refusal also waits for the
    // disk: the grant before it may still be syncing.
    voter.on_message(N3, ask_vote(3, 1, 2), &mut test.ctx());
    let refused = RaftMessage::Vote {
        term: 3,
        granted: false,
        pre_vote: false,
    };
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Sync,
            Effect::Send {
                to: N3,
                message: refused
            }
        ]
    );
}

#[test]
fn vote_before_sync_answers_before_the_vote_is_on_disk() {
    let config = with(RaftVariant::VoteBeforeSync);
    let (mut voter, mut test) = started(N2, &disk(2, None, &[]), config);
    voter.on_message(N1, ask_vote(3, 0, 0), &mut test.ctx());
    let effects = test.take_effects();
    assert!(!effects.contains(&Effect::Sync), "{effects:?}");
    assert_eq!(sends(&effects), vec![(N1, vote_granted(3))]);
}

#[test]
fn section_5_4_1_a_voter_refuses_a_candidate_whose_log_is_behind() {
    let log = [entry(1, 1), entry(2, 2)];
    let refused = RaftMessage::Vote {
        term: 3,
        granted: false,
        pre_vote: false,
    };
    for (last_index, last_term) in [(1, 1), (5, 1), (1, 2)] {
        let (mut voter, mut test) = started(N2, &disk(2, None, &log), config());
        voter.on_message(N1, ask_vote(3, last_index, last_term), &mut test.ctx());
        let effects = test.take_effects();
        assert_eq!(sends(&effects), vec![(N1, refused.clone())]);
        assert_eq!(voter.voted_for(), None);
    }
    // A later last term wins even with a shorter log.
    let (mut voter, mut test) = started(N2, &disk(2, None, &log), config());
    voter.on_message(N1, ask_vote(3, 1, 3), &mut test.ctx());
    assert_eq!(voter.voted_for(), Some(N1));
    let effects = test.take_effects();
    assert_eq!(sends(&effects), vec![(N1, vote_granted(3))]);
}

#[test]
fn vote_without_log_check_grants_to_a_candidate_that_missed_entries() {
    let log = [entry(1, 1), entry(2, 2)];
    let (mut voter, mut test) = started(
        N2,
        &disk(2, None, &log),
        with(RaftVariant::VoteWithoutLogCheck),
    );
    voter.on_message(N1, ask_vote(3, 0, 0), &mut test.ctx());
    assert_eq!(voter.voted_for(), Some(N1));
    assert_eq!(sends(&test.take_effects()), vec![(N1, vote_granted(3))]);
}

#[test]
fn thesis_4_2_3_a_follower_that_hears_its_leader_ignores_a_disruptive_candidate() {
    let (mut follower, mut test) = started(N2, &disk(2, None, &[]), config());
    follower.on_message(N1, append(2, (0, 0), &[], 0), &mut test.ctx());
    test.take_effects();
    test.set_time(SimTime(100_000_000));
    follower.on_message(N3, ask_vote(5, 0, 0), &mut test.ctx());
    let refused = RaftMessage::Vote {
        term: 2,
        granted: false,
        pre_vote: false,
    };
    assert_eq!(
        test.take_effects(),
        vec![Effect::Send {
            to: N3,
            message: refused
        }]
    );
    assert_eq!(follower.term(), 2, "the disruptive term is not adopted");
    // Once a whole minimum election timeout has passed, the vote is possible again.
    test.set_time(SimTime(160_000_000));
    follower.on_message(N3, ask_vote(5, 0, 0), &mut test.ctx());
    assert_eq!((follower.term(), follower.voted_for()), (5, Some(N3)));
}

#[test]
fn section_5_2_a_new_leader_announces_itself_at_once_then_syncs_its_noop_before_sending_it() {
    let (mut node, mut test) = started(N1, &disk(2, None, &[entry(2, 1)]), config());
    node.on_timer(RaftTimer::Election, &mut test.ctx());
    node.on_message(N2, pre_vote_granted(3), &mut test.ctx());
    test.take_effects();
    node.on_message(N2, vote_granted(3), &mut test.ctx());
    let heartbeat = |to| Effect::Send {
        to,
        message: append(3, (1, 2), &[], 0),
    };
    let with_noop = |to| Effect::Send {
        to,
        message: append_round(3, (1, 2), &[noop(3)], 0, 2),
    };
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Annotate("n1 leads term 3".into()),
            Effect::SetTimer {
                timer: RaftTimer::QuorumCheck,
                after: SimDuration::from_millis(50)
            },
            heartbeat_timer(),
            heartbeat(N2),
            heartbeat(N3),
            Effect::Persist(DiskWrite::Entries {
                from: 2,
                entries: vec![noop(3)]
            }),
            heartbeat_timer(),
            Effect::Sync,
            with_noop(N2),
            with_noop(N3),
        ]
    );
}

#[test]
fn section_5_3_a_follower_reports_the_conflicting_term_and_its_first_index() {
    let log = [entry(1, 1), entry(2, 2), entry(2, 3), entry(2, 4)];
    let (mut follower, mut test) = started(N2, &disk(3, None, &log), config());
    follower.on_message(N1, append(3, (4, 3), &[], 0), &mut test.ctx());
    let conflict = RaftMessage::AppendReply {
        term: 3,
        round: 1,
        outcome: AppendOutcome::Conflict(ConflictHint {
            term: Some(2),
            first_index: 2,
        }),
    };
    assert_eq!(
        test.take_effects(),
        vec![
            election_timer(),
            Effect::Annotate("n2 follows n1 in term 3".into()),
            Effect::Sync,
            Effect::Send {
                to: N1,
                message: conflict
            },
        ]
    );
}

#[test]
fn section_5_3_a_follower_replaces_a_conflicting_suffix_syncs_and_then_acknowledges() {
    let log = [entry(1, 1), entry(2, 2), entry(2, 3)];
    let (mut follower, mut test) = started(N2, &disk(3, None, &log), config());
    let incoming = [entry(3, 7), entry(3, 8)];
    follower.on_message(N1, append(3, (1, 1), &incoming, 2), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            election_timer(),
            Effect::Annotate("n2 follows n1 in term 3".into()),
            Effect::Persist(DiskWrite::Entries {
                from: 2,
                entries: incoming.to_vec()
            }),
            Effect::Sync,
            Effect::Send {
                to: N1,
                message: matched(3, 1, 3)
            },
        ]
    );
    assert_eq!(
        follower.log().entries(),
        &[entry(1, 1), entry(3, 7), entry(3, 8)]
    );
    assert_eq!((follower.commit_index(), follower.last_applied()), (2, 2));
    assert_eq!(follower.value(Key(0)), Some(Value(7)));
    // The same message again (a duplicate) changes nothing, and still waits for the disk.
    follower.on_message(N1, append(3, (1, 1), &incoming[..1], 2), &mut test.ctx());
    assert_eq!(
        test.take_effects(),
        vec![
            election_timer(),
            Effect::Sync,
            Effect::Send {
                to: N1,
                message: matched(3, 1, 2)
            },
        ]
    );
    assert_eq!(
        follower.log().last_index(),
        3,
        "a stale message truncates nothing"
    );
}

#[test]
fn section_5_3_the_leader_skips_a_whole_conflicting_term_and_resends_behind_a_sync() {
    let log = [entry(1, 1), entry(1, 2), entry(3, 3)];
    let (mut node, mut test) = leader(4, &log, config());
    // n2 holds entries of term 2 from index 2 on, which n1 does not have: resume after n1's
    // last entry of term 2 (there is none), i.e. at n2's first index of that term.
    let reply = RaftMessage::AppendReply {
        term: 4,
        round: 2,
        outcome: AppendOutcome::Conflict(ConflictHint {
            term: Some(2),
            first_index: 2,
        }),
    };
    node.on_message(N2, reply, &mut test.ctx());
    let resend = RaftMessage::Append(AppendEntries {
        term: 4,
        prev_index: 1,
        prev_term: 1,
        entries: vec![entry(1, 2), entry(3, 3), noop(4)],
        leader_commit: 0,
        round: 2,
    });
    assert_eq!(
        test.take_effects(),
        vec![
            Effect::Sync,
            Effect::Send {
                to: N2,
                message: resend
            }
        ]
    );
}

#[test]
fn section_5_4_2_a_leader_commits_by_counting_only_entries_of_its_own_term() {
    // n1 leads term 4 with an entry of term 2 that n2 also holds, and no no-op.
    let config = RaftConfig {
        leader_noop: false,
        reads: ReadMode::Log,
        ..config()
    };
    let log = [entry(2, 1)];
    let (mut node, mut test) = leader(4, &log, config.clone());
    node.on_message(N2, matched(4, 1, 1), &mut test.ctx());
    assert_eq!(
        node.commit_index(),
        0,
        "an old term's entry is not committed by counting"
    );
    // Figure 8's bug: counting it commits it.
    let buggy = RaftConfig {
        variant: RaftVariant::CommitOldTermByCounting,
        ..config
    };
    let (mut node, mut test) = leader(4, &log, buggy);
    node.on_message(N2, matched(4, 1, 1), &mut test.ctx());
    assert_eq!(node.commit_index(), 1);
}

#[test]
fn section_8_a_put_commits_once_a_majority_holds_it_and_a_retry_is_answered_from_the_session() {
    let (mut node, mut test) = leader(2, &[], config());
    node.on_message(N2, matched(2, 2, 1), &mut test.ctx());
    assert_eq!(node.commit_index(), 1, "the no-op");
    test.take_effects();
    node.on_request(put(7, 7), &mut test.ctx());
    let effects = test.take_effects();
    assert_eq!(
        effects[0],
        Effect::Persist(DiskWrite::Entries {
            from: 2,
            entries: vec![entry(2, 7)]
        })
    );
    assert!(
        replies(&effects).is_empty(),
        "not committed yet: {effects:?}"
    );
    // The same request again (a redirected retry) waits for the same entry.
    node.on_request(put(7, 7), &mut test.ctx());
    assert_eq!(node.log().last_index(), 2, "not appended twice");
    test.take_effects();
    node.on_message(N3, matched(2, 3, 2), &mut test.ctx());
    let written = Reply::Ok(OpResult::Written);
    assert_eq!(
        replies(&test.take_effects()),
        vec![
            (put(7, 7).id, written.clone()),
            (put(7, 7).id, written.clone())
        ]
    );
    // Applied: a retry now is answered at once, without a new entry.
    node.on_request(put(7, 7), &mut test.ctx());
    assert_eq!(replies(&test.take_effects()), vec![(put(7, 7).id, written)]);
    assert_eq!(node.log().last_index(), 2);
}

#[test]
fn section_8_followers_redirect_to_the_leader_they_know() {
    let (mut follower, mut test) = started(N2, &disk(1, None, &[]), config());
    follower.on_request(get(1), &mut test.ctx());
    assert_eq!(
        replies(&test.take_effects()),
        vec![(get(1).id, Reply::Redirect(None))]
    );
    follower.on_message(N3, append(1, (0, 0), &[], 0), &mut test.ctx());
    test.take_effects();
    follower.on_request(get(2), &mut test.ctx());
    assert_eq!(
        replies(&test.take_effects()),
        vec![(get(2).id, Reply::Redirect(Some(N3)))]
    );
}

#[test]
fn thesis_6_4_read_index_answers_after_a_majority_acknowledges_a_later_round() {
    let (mut node, mut test) = leader(2, &[], config());
    node.on_message(N2, matched(2, 2, 1), &mut test.ctx());
    test.take_effects();
    node.on_request(get(1), &mut test.ctx());
    // Round 3 starts for the read: n2 is up to date, n3 still lacks the no-op.
    assert_eq!(
        test.take_effects(),
        vec![
            heartbeat_timer(),
            Effect::Send {
                to: N2,
                message: append_round(2, (1, 2), &[], 1, 3)
            },
            Effect::Sync,
            Effect::Send {
                to: N3,
                message: append_round(2, (0, 0), &[noop(2)], 1, 3)
            },
        ]
    );
    // An acknowledgement of the round before the read does not confirm it.
    node.on_message(N2, matched(2, 2, 1), &mut test.ctx());
    assert!(replies(&test.take_effects()).is_empty());
    node.on_message(N2, matched(2, 3, 1), &mut test.ctx());
    assert_eq!(
        replies(&test.take_effects()),
        vec![(
            get(1).id,
            Reply::Ok(OpResult::Read {
                values: vec![],
                context: None
            })
        )]
    );
}

fn lease_config(variant: RaftVariant) -> RaftConfig {
    RaftConfig {
        reads: ReadMode::Lease,
        variant,
        ..config()
    }
}

/// A leader of term 2 whose round 2 (sent at 0) a majority acknowledged at 1 ms.
fn lease_holder(variant: RaftVariant) -> (Raft, TestCtx<Raft>) {
    let (mut node, mut test) = leader(2, &[], lease_config(variant));
    test.set_time(SimTime(1_000_000));
    node.on_message(N2, matched(2, 2, 1), &mut test.ctx());
    test.take_effects();
    (node, test)
}

#[test]
fn thesis_6_4_1_a_lease_read_is_answered_at_once_until_the_lease_runs_out() {
    let (mut node, mut test) = lease_holder(RaftVariant::Correct);
    // The lease: 150 ms shrunk by 1000 ppm each way, counted from the round's sending.
    assert_eq!(node.config.lease_duration(), SimDuration(149_700_299));
    test.set_time(SimTime(149_000_000));
    node.on_request(get(1), &mut test.ctx());
    let read = Reply::Ok(OpResult::Read {
        values: vec![],
        context: None,
    });
    assert_eq!(
        test.take_effects(),
        vec![Effect::Reply {
            request: get(1).id,
            reply: read
        }]
    );
    assert_eq!(node.last_lease_read().map(|r| r.number), Some(1));
    test.set_time(SimTime(149_800_000));
    node.on_request(get(2), &mut test.ctx());
    let effects = test.take_effects();
    assert!(replies(&effects).is_empty(), "expired: read-index instead");
}

#[test]
fn lease_on_wall_clock_is_stretched_by_a_clock_stepped_back() {
    for (variant, served) in [
        (RaftVariant::Correct, false),
        (RaftVariant::LeaseOnWallClock, true),
    ] {
        let (mut node, mut test) = lease_holder(variant);
        let mut clock = NodeClock::perfect();
        clock.step(SimTime(100_000_000), SignedDuration(-1_000_000_000));
        test.set_clock(clock);
        test.set_time(SimTime(400_000_000));
        node.on_request(get(1), &mut test.ctx());
        assert_eq!(
            !replies(&test.take_effects()).is_empty(),
            served,
            "{variant:?}"
        );
    }
}

#[test]
fn lease_from_ack_arrival_renews_the_lease_with_acknowledgements_that_waited() {
    for (variant, served) in [
        (RaftVariant::Correct, false),
        (RaftVariant::LeaseFromAckArrival, true),
    ] {
        let (mut node, mut test) = leader(2, &[], lease_config(variant));
        // The acknowledgement of round 2 (sent at 0) is handled only at 1 s, after a pause.
        test.set_time(SimTime(1_000_000_000));
        node.on_message(N2, matched(2, 2, 1), &mut test.ctx());
        test.take_effects();
        node.on_request(get(1), &mut test.ctx());
        assert_eq!(
            !replies(&test.take_effects()).is_empty(),
            served,
            "{variant:?}"
        );
    }
}

#[test]
fn thesis_6_2_check_quorum_steps_down_a_leader_that_hears_no_majority() {
    let (mut node, mut test) = leader(2, &[], config());
    node.on_request(put(1, 7), &mut test.ctx());
    test.take_effects();
    test.set_time(SimTime(160_000_000));
    node.on_timer(RaftTimer::QuorumCheck, &mut test.ctx());
    let effects = test.take_effects();
    assert!(!node.is_leader());
    assert_eq!(
        effects[0],
        Effect::Annotate(
            "n1 steps down in term 2: no majority answered within the minimum election timeout"
                .into()
        )
    );
    assert!(matches!(
        replies(&effects)[..],
        [(id, Reply::Indeterminate(_))] if id == put(1, 7).id
    ));
}

/// A cluster of hand-made states for the invariants, all in incarnation 0.
fn cluster(states: Vec<Raft>) -> Vec<(Option<Raft>, u32)> {
    states.into_iter().map(|s| (Some(s), 0)).collect()
}

fn check<I: Invariant<Raft>>(
    invariant: &mut I,
    states: &Vec<(Option<Raft>, u32)>,
    stepped: NodeId,
) -> Result<(), sim_core::protocol::InvariantFailure> {
    invariant.check(&ClusterView::new(stepped, SimTime::ZERO, states))
}

#[test]
fn election_safety_names_both_leaders_of_a_term() {
    let (a, _) = leader(3, &[], config());
    let (mut b, _) = leader(3, &[], config());
    b.term = 3;
    let states = cluster(vec![a, b]);
    let mut invariant = invariants::ElectionSafety::default();
    assert_eq!(check(&mut invariant, &states, N1), Ok(()));
    let failure = check(&mut invariant, &states, N2).unwrap_err();
    assert_eq!(failure.nodes, vec![N1, N2]);
    assert_eq!(failure.explanation, "n1 and n2 both led term 3");
}

#[test]
fn log_matching_finds_two_histories_under_one_index_and_term() {
    let (a, _) = started(N1, &disk(3, None, &[entry(1, 1), entry(3, 2)]), config());
    let (b, _) = started(N2, &disk(3, None, &[entry(2, 5), entry(3, 2)]), config());
    let states = cluster(vec![a, b]);
    let mut invariant = invariants::LogMatching::default();
    assert_eq!(check(&mut invariant, &states, N1), Ok(()));
    let failure = check(&mut invariant, &states, N2).unwrap_err();
    assert_eq!(
        failure.explanation,
        "n1 and n2 both hold an entry of term 3 at index 2, but n1's is put k0 = v2 (c1 #2) after an entry of term 1 and n2's is put k0 = v2 (c1 #2) after an entry of term 2"
    );
}

#[test]
fn leader_completeness_and_state_machine_safety_catch_an_overwritten_commit() {
    // n2 applied index 1 (term 2) as committed; n1 then leads term 3 holding another entry.
    let (mut follower, mut test) = started(N2, &disk(2, None, &[]), config());
    follower.on_message(N3, append(2, (0, 0), &[entry(2, 1)], 1), &mut test.ctx());
    let (mut new_leader, _) = leader(3, &[entry(1, 9)], config());
    new_leader.commit_index = 1;
    new_leader.last_applied = 1;
    let states = cluster(vec![new_leader, follower]);
    let mut completeness = invariants::LeaderCompleteness::default();
    assert_eq!(check(&mut completeness, &states, N2), Ok(()));
    let failure = check(&mut completeness, &states, N1).unwrap_err();
    assert_eq!(
        failure.explanation,
        "n1 leads term 3 without the entry committed at index 1 in term 2 (put k0 = v1 (c1 #1) of term 2, first shown committed by n2); it holds put k0 = v9 (c1 #9) of term 1 there"
    );
    let mut applied = invariants::StateMachineSafety::default();
    assert_eq!(check(&mut applied, &states, N2), Ok(()));
    let failure = check(&mut applied, &states, N1).unwrap_err();
    assert_eq!(failure.nodes, vec![N2, N1]);
    let expected = RaftViolation::AppliedDiffers {
        index: 1,
        node_a: N2,
        entry_a: entry(2, 1),
        node_b: N1,
        entry_b: entry(1, 9),
    };
    assert_eq!(failure.explanation, expected.to_string());
}

#[test]
fn leader_append_only_notices_a_leader_dropping_its_own_entries() {
    let (node, _) = leader(2, &[entry(1, 1)], config());
    let mut states = cluster(vec![node]);
    let mut invariant = invariants::LeaderAppendOnly::default();
    assert_eq!(check(&mut invariant, &states, N1), Ok(()));
    if let Some(node) = states[0].0.as_mut() {
        node.log.merge(0, &[entry(2, 5)]);
    }
    let failure = check(&mut invariant, &states, N1).unwrap_err();
    assert_eq!(
        failure.explanation,
        "n1, leading term 2, changed its own log at index 1: it held no entry, it now holds put k0 = v5 (c1 #5) of term 2"
    );
}
