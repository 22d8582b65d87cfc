//! Raft: a replicated key-value store that stays consistent through crashes, partitions, pauses
//! and clock trouble, as long as a majority of nodes can talk.
//!
//! What this implementation does, with the section of the Raft paper (Ongaro and Ousterhout,
//! ATC 2014) or of Ongaro's thesis (2014) each part follows:
//!
//! - **Elections** (paper §5.2): a follower that hears no leader for a timeout drawn uniformly
//!   from `[election_timeout_min, election_timeout_max]` (redrawn at every reset, measured on
//!   its own monotonic clock, so drift stretches it and a pause delays it) asks for votes. With
//!   `pre_vote` it first asks whether it *could* win without touching anyone's term (thesis
//!   §9.6). A node that heard from a leader within `election_timeout_min` refuses votes (thesis
//!   §4.2.3), and with `check_quorum` a leader that has not heard from a majority for that
//!   long steps down (thesis §6.2), so an isolated leader does not serve for ever.
//! - **Replication** (§5.3): the leader sends entries after the follower's `next_index` with
//!   the previous index and term; a follower that disagrees answers with the conflicting term
//!   and the first index it holds of that term, and the leader skips back a whole term at a
//!   time. A new leader announces itself at once with an empty `AppendEntries` and then
//!   appends a no-op (thesis §6.4), which commits what earlier terms left behind.
//! - **Commit** (§5.4.2): an entry is committed when a majority holds it *and* it belongs to
//!   the leader's current term; older entries commit with it.
//! - **State machine** (§6.3): a key-value store with get, put and compare-and-set, applied in
//!   log order on every node. Client sessions remember each client's recent results by
//!   sequence number, so a retried command takes effect once and is answered the same way.
//! - **Reads** (thesis §6.4): through the log (`reads: Log`), by read-index (`ReadIndex`: the
//!   leader notes its commit index, confirms with a heartbeat round that it still leads, then
//!   answers from its applied state), or from a lease (`Lease`: the leader answers at once while
//!   a majority acknowledged a heartbeat round sent less than a lease ago; the lease is
//!   `election_timeout_min` shrunk by `lease_drift_bound_ppm`). A lease trusts clocks: it is
//!   correct while every clock drifts within the bound, and wrong when the time it is measured
//!   on can jump (a teaching case: see the variants).
//! - **Durability** (§5.1, Figure 2 "persistent state"): the term, the vote and the log are
//!   written to the node's disk and synced before any message or reply that depends on them
//!   leaves. The engine holds a message until a `ctx.sync()` issued *earlier in the same
//!   handler* completes, and says nothing when a sync completes; so every handler that sends
//!   something depending on the disk calls `ctx.sync()` first, even when it wrote nothing
//!   itself (an earlier handler's sync may still be running). A restarted node rebuilds
//!   itself from the disk alone, through [`Protocol::start`].
//! - **Clients** (§8): followers redirect to the leader they know. A deposed leader answers
//!   the writes it had accepted as indeterminate (they may still commit) and redirects its
//!   pending reads.
//!
//! The invariants the engine checks after every step are in [`invariants`]; the known-bad
//! variants that prove them are [`RaftVariant`]'s.

mod client;
mod election;
pub mod invariants;
pub mod log;
mod replication;
pub mod state_machine;
pub mod timing;

#[cfg(test)]
mod tests;

use log::{ConflictHint, Entry, Log, Session};
use serde::{Deserialize, Serialize};
use sim_core::clock::{MonoTime, WallTime};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{Ctx, Durable, Invariant, Protocol, ReplicaView, Request, RequestId};
use sim_core::scenario::Dur;
use sim_core::time::SimDuration;
use state_machine::KvStore;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The most entries one `AppendEntries` carries; a follower far behind catches up in batches.
pub const ENTRIES_PER_MESSAGE_MAX: usize = 64;

/// The most parts per million a lease may allow for clock drift (beyond, the lease is zero).
const DRIFT_BOUND_PPM_MAX: u32 = 100_000;

/// How reads are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadMode {
    /// Reads are log entries, answered when applied: slow, and safe without any clock.
    Log,
    /// The leader confirms it still leads with a heartbeat round, then answers (thesis §6.4).
    #[default]
    ReadIndex,
    /// The leader answers at once while its lease lasts; falls back to read-index otherwise.
    Lease,
}

/// Which implementation to run: the correct one, or a known-bad one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftVariant {
    /// Raft as the paper describes it.
    #[default]
    Correct,
    /// Voters grant votes without checking that the candidate's log is at least as up to date
    /// as theirs (paper §5.4.1): a node that missed committed entries can win an election.
    VoteWithoutLogCheck,
    /// The leader commits an entry of an earlier term as soon as a majority holds it (the
    /// situation of the paper's Figure 8): a later leader can overwrite it.
    CommitOldTermByCounting,
    /// A voter answers before its new term and vote are synced: after a crash that loses the
    /// unsynced write, it votes again in the same term.
    VoteBeforeSync,
    /// The lease is timed on the wall clock, which NTP may step: a clock stepped back
    /// stretches the lease past the moment the followers stop honouring it.
    LeaseOnWallClock,
    /// The lease is counted from when the acknowledgements *arrive* instead of from when the
    /// heartbeat round was *sent*: acknowledgements that waited out a GC pause renew a lease
    /// that another leader has long replaced.
    LeaseFromAckArrival,
}

/// `protocol: Raft(election_timeout_min: "150ms", reads: ReadIndex, ...)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftConfig {
    /// The shortest election timeout, on the node's monotonic clock (default 150ms).
    pub election_timeout_min: Dur,
    /// The longest election timeout (default 300ms); each reset draws uniformly between.
    pub election_timeout_max: Dur,
    /// How often a leader sends heartbeats (default 50ms); must be below the minimum timeout.
    pub heartbeat_every: Dur,
    /// Ask for pre-votes before starting an election (default true).
    pub pre_vote: bool,
    /// A leader that has not heard from a majority for `election_timeout_min` steps down
    /// (default true).
    pub check_quorum: bool,
    /// A new leader appends a no-op entry at once (default true); needed by read-index and
    /// lease reads, which wait until the leader has committed an entry of its own term.
    pub leader_noop: bool,
    /// How reads are served (default ReadIndex).
    pub reads: ReadMode,
    /// The clock drift, in parts per million, that lease reads allow for (default 1000).
    pub lease_drift_bound_ppm: u32,
    /// Correct or known-bad.
    pub variant: RaftVariant,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout_min: Dur(SimDuration::from_millis(150)),
            election_timeout_max: Dur(SimDuration::from_millis(300)),
            heartbeat_every: Dur(SimDuration::from_millis(50)),
            pre_vote: true,
            check_quorum: true,
            leader_noop: true,
            reads: ReadMode::ReadIndex,
            lease_drift_bound_ppm: 1_000,
            variant: RaftVariant::Correct,
        }
    }
}

impl RaftConfig {
    /// How long a lease lasts on the leader's clock: `election_timeout_min * (1 - ρ) / (1 + ρ)`,
    /// so that a leader clock running ρ slow and a follower clock running ρ fast still agree
    /// that the lease ends before the follower may vote again.
    pub fn lease_duration(&self) -> SimDuration {
        let rho = self.lease_drift_bound_ppm.min(DRIFT_BOUND_PPM_MAX) as u128;
        let min = self.election_timeout_min.0 .0 as u128;
        SimDuration((min * (1_000_000 - rho) / (1_000_000 + rho)) as u64)
    }
}

/// A leader's `AppendEntries` (paper Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppendEntries {
    /// The leader's term.
    pub term: u64,
    /// The index of the entry just before `entries`.
    pub prev_index: u64,
    /// Its term.
    pub prev_term: u64,
    /// The entries to store (empty: a heartbeat).
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub leader_commit: u64,
    /// The leader's heartbeat round, echoed in the answer (read-index, lease, check-quorum).
    pub round: u64,
}

/// How a follower answered an `AppendEntries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppendOutcome {
    /// The follower's log matches the leader's up to this index.
    Matched(u64),
    /// The previous entry did not match.
    Conflict(ConflictHint),
    /// The follower is in a later term than the sender (which must step down).
    StaleTerm,
}

/// Messages between Raft nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RaftMessage {
    /// A candidate (or, with `pre_vote`, a would-be candidate) asks for a vote.
    RequestVote {
        /// The term the vote is for (for a pre-vote: the term it would start).
        term: u64,
        /// The index of the candidate's last entry.
        last_index: u64,
        /// The term of its last entry.
        last_term: u64,
        /// A pre-vote changes no term and records no vote.
        pre_vote: bool,
    },
    /// The answer to a `RequestVote`.
    Vote {
        /// The term voted in (or the voter's own, later term when refused).
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
        /// Whether it answers a pre-vote.
        pre_vote: bool,
    },
    /// Entries or a heartbeat from the leader.
    Append(AppendEntries),
    /// The answer to an `AppendEntries`.
    AppendReply {
        /// The follower's term.
        term: u64,
        /// The round of the message answered.
        round: u64,
        /// What happened.
        outcome: AppendOutcome,
    },
}

/// Timers; the value is the timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RaftTimer {
    /// No leader heard for a whole election timeout: campaign.
    Election,
    /// A leader's heartbeat round (re-armed by every round, so it fires only after a quiet
    /// interval); a candidate's resend of unanswered vote requests.
    Heartbeat,
    /// A leader's check-quorum, every heartbeat interval whatever the traffic.
    QuorumCheck,
}

/// What survives a crash: the term, the vote and the log (paper Figure 2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftDisk {
    /// The latest term the node has seen.
    pub term: u64,
    /// Whom it voted for in that term.
    pub voted_for: Option<NodeId>,
    /// The log.
    pub log: Vec<Entry>,
}

/// One write to the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskWrite {
    /// A new term, and the vote cast in it (if any).
    TermAndVote {
        /// The term.
        term: u64,
        /// The vote.
        voted_for: Option<NodeId>,
    },
    /// Drop the log from index `from` on, then append `entries` there.
    Entries {
        /// The first index written (at most the log's length + 1).
        from: u64,
        /// The entries.
        entries: Vec<Entry>,
    },
}

impl Durable for RaftDisk {
    type Write = DiskWrite;
    fn apply(&mut self, write: &DiskWrite) {
        match write {
            DiskWrite::TermAndVote { term, voted_for } => {
                self.term = *term;
                self.voted_for = *voted_for;
            }
            DiskWrite::Entries { from, entries } => {
                assert!(
                    *from >= 1 && *from <= self.log.len() as u64 + 1,
                    "entries written at {from} would leave a hole after {}",
                    self.log.len()
                );
                self.log.truncate(*from as usize - 1);
                self.log.extend_from_slice(entries);
            }
        }
    }
}

/// A read answered from the lease, kept so the `lease-read-safety` invariant can check it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseRead {
    /// Counts this node's lease reads, from 1.
    pub number: u64,
    /// The key read.
    pub key: Key,
    /// What the leader answered.
    pub value: Option<Value>,
    /// The leader's last applied index when it answered.
    pub applied_index: u64,
}

/// When a heartbeat round went out, on both clocks (the lease uses one of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RoundStart {
    round: u64,
    mono: MonoTime,
    wall: WallTime,
}

/// A read waiting for a heartbeat round and for the state machine to catch up.
#[derive(Clone, Debug)]
struct PendingRead {
    request: RequestId,
    key: Key,
    /// The round a majority must acknowledge: one started after the read arrived.
    round: u64,
    /// The commit index to apply before answering; None until the leader has committed an
    /// entry of its own term.
    read_index: Option<u64>,
}

/// What only a leader keeps; lost when it steps down or crashes.
#[derive(Clone, Debug)]
struct LeaderState {
    next_index: Vec<u64>,
    match_index: Vec<u64>,
    /// Per node, the latest heartbeat round it acknowledged in this term.
    acked_round: Vec<u64>,
    /// Per node, when it last answered in this term (check-quorum).
    heard_at: Vec<MonoTime>,
    round: u64,
    /// Rounds not yet acknowledged by a majority, oldest first.
    rounds: VecDeque<RoundStart>,
    /// The highest round a majority acknowledged.
    majority_round: u64,
    /// When the lease currently held began.
    lease_start: Option<RoundStart>,
    /// Client requests answered when the entry at that index applies.
    waiting: BTreeMap<u64, Vec<RequestId>>,
    /// The index of each session's entry appended in this term and not yet applied.
    in_log: BTreeMap<Session, u64>,
    reads: Vec<PendingRead>,
}

/// What a node is doing in its term.
#[derive(Clone, Debug)]
enum Role {
    Follower { leader: Option<NodeId> },
    PreCandidate { granted: BTreeSet<NodeId> },
    Candidate { granted: BTreeSet<NodeId> },
    Leader(Box<LeaderState>),
}

/// One Raft node.
#[derive(Clone, Debug)]
pub struct Raft {
    config: RaftConfig,
    term: u64,
    voted_for: Option<NodeId>,
    log: Log,
    commit_index: u64,
    last_applied: u64,
    store: KvStore,
    role: Role,
    /// When this node last heard from the leader of its term, on its monotonic clock.
    leader_heard_at: Option<MonoTime>,
    /// The (term, leader) this node last announced it follows, so it says so once a term.
    following: Option<(u64, NodeId)>,
    lease_reads: u64,
    last_lease_read: Option<LeaseRead>,
}

impl Raft {
    /// The node's current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whom it voted for in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// Whether it believes it leads its term.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// The leader a follower knows of (None for a leader or a candidate).
    pub fn leader_hint(&self) -> Option<NodeId> {
        match &self.role {
            Role::Follower { leader } => *leader,
            _ => None,
        }
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The highest index it knows to be committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// The highest index its state machine has applied.
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    /// The value its state machine holds for `key`.
    pub fn value(&self, key: Key) -> Option<Value> {
        self.store.get(key)
    }

    /// The last read it answered from its lease.
    pub fn last_lease_read(&self) -> Option<LeaseRead> {
        self.last_lease_read
    }

    fn majority(n: u32) -> usize {
        n as usize / 2 + 1
    }

    /// Draws the next election timeout from this node's own stream.
    fn election_timeout(&self, ctx: &mut Ctx<Self>) -> SimDuration {
        let min = self.config.election_timeout_min.0 .0;
        let max = self.config.election_timeout_max.0 .0;
        SimDuration(ctx.rng().between(min, max))
    }

    fn arm_election_timer(&self, ctx: &mut Ctx<Self>) {
        let after = self.election_timeout(ctx);
        ctx.set_timer(RaftTimer::Election, after);
    }

    /// Adopts `term` (a later one) and forgets the vote, on disk too (synced by the caller
    /// before anything that depends on it leaves).
    fn adopt_term(&mut self, term: u64, ctx: &mut Ctx<Self>) {
        debug_assert!(term > self.term, "terms only grow");
        self.term = term;
        self.voted_for = None;
        ctx.persist(DiskWrite::TermAndVote {
            term,
            voted_for: None,
        });
    }
}

impl Protocol for Raft {
    const NAME: &'static str = "raft";
    const SUMMARY: &'static str =
        "raft: leader election, log replication and a replicated key-value store";
    const SUPPORTS_CAS: bool = true;

    type Config = RaftConfig;
    type Message = RaftMessage;
    type Timer = RaftTimer;
    type Durable = RaftDisk;

    fn validate_config(config: &RaftConfig, _node_count: u32) -> Result<(), String> {
        let min = config.election_timeout_min.0;
        let max = config.election_timeout_max.0;
        let heartbeat = config.heartbeat_every.0;
        if min == SimDuration::ZERO {
            return Err("election_timeout_min must be longer than 0s".into());
        }
        if max < min {
            return Err(format!(
                "election_timeout_max ({max}) must be at least election_timeout_min ({min})"
            ));
        }
        if heartbeat == SimDuration::ZERO || heartbeat >= min {
            return Err(format!(
                "heartbeat_every ({heartbeat}) must be longer than 0s and shorter than election_timeout_min ({min}), or followers time out between heartbeats"
            ));
        }
        if config.reads != ReadMode::Log && !config.leader_noop {
            return Err(format!(
                "reads: {:?} needs leader_noop: true (a leader answers reads only once it has committed an entry of its own term)",
                config.reads
            ));
        }
        if config.lease_drift_bound_ppm > DRIFT_BOUND_PPM_MAX {
            return Err(format!(
                "lease_drift_bound_ppm ({}) must be at most {DRIFT_BOUND_PPM_MAX}",
                config.lease_drift_bound_ppm
            ));
        }
        let lease_variant = matches!(
            config.variant,
            RaftVariant::LeaseOnWallClock | RaftVariant::LeaseFromAckArrival
        );
        if lease_variant && config.reads != ReadMode::Lease {
            return Err(format!(
                "variant {:?} changes lease reads: it needs reads: Lease",
                config.variant
            ));
        }
        Ok(())
    }

    fn start(config: &RaftConfig, durable: &RaftDisk, ctx: &mut Ctx<Self>) -> Self {
        let node = Raft {
            config: config.clone(),
            term: durable.term,
            voted_for: durable.voted_for,
            log: Log::from_entries(durable.log.clone()),
            commit_index: 0,
            last_applied: 0,
            store: KvStore::default(),
            role: Role::Follower { leader: None },
            // With lease reads, a node that just (re)started may have acknowledged a leader's
            // heartbeat moments before it crashed: it honours that lease as if it had just
            // heard from the leader, instead of voting at once for someone else.
            leader_heard_at: (config.reads == ReadMode::Lease).then(|| ctx.monotonic()),
            following: None,
            lease_reads: 0,
            last_lease_read: None,
        };
        node.arm_election_timer(ctx);
        node
    }

    fn on_message(&mut self, from: NodeId, message: RaftMessage, ctx: &mut Ctx<Self>) {
        match message {
            RaftMessage::RequestVote {
                term,
                last_index,
                last_term,
                pre_vote,
            } => {
                let request = election::VoteRequest {
                    term,
                    last_index,
                    last_term,
                };
                if pre_vote {
                    self.on_pre_vote_request(from, request, ctx)
                } else {
                    self.on_vote_request(from, request, ctx)
                }
            }
            RaftMessage::Vote {
                term,
                granted,
                pre_vote,
            } => self.on_vote(from, term, granted, pre_vote, ctx),
            RaftMessage::Append(append) => self.on_append(from, append, ctx),
            RaftMessage::AppendReply {
                term,
                round,
                outcome,
            } => self.on_append_reply(from, term, round, outcome, ctx),
        }
    }

    fn on_timer(&mut self, timer: RaftTimer, ctx: &mut Ctx<Self>) {
        match timer {
            RaftTimer::Election => self.on_election_timeout(ctx),
            RaftTimer::Heartbeat => self.on_heartbeat_timer(ctx),
            RaftTimer::QuorumCheck => self.on_quorum_check(ctx),
        }
    }

    fn on_request(&mut self, request: Request, ctx: &mut Ctx<Self>) {
        self.on_client_request(request, ctx);
    }

    fn replica_view(&self, view: &mut ReplicaView) {
        self.store.fill_view(view);
    }

    fn invariants(_config: &RaftConfig) -> Vec<Box<dyn Invariant<Self>>> {
        invariants::all()
    }

    /// Entries stored but not applied will be committed (or replaced) by a leader and change
    /// the state machine: settle waits for them.
    fn has_pending_work(&self) -> bool {
        self.log.last_index() > self.last_applied
    }
}
