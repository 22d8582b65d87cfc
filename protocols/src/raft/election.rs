//! Elections (paper §5.2, thesis §4.2.3 and §9.6): timeouts, pre-votes, votes, and the changes
//! of role they cause.

use super::log::Command;
use super::timing;
use super::{DiskWrite, LeaderState, Raft, RaftMessage, RaftTimer, RaftVariant, Role};
use sim_core::ids::NodeId;
use sim_core::protocol::{Ctx, Reply};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a `RequestVote` asks, without the pre-vote flag.
#[derive(Clone, Copy, Debug)]
pub(super) struct VoteRequest {
    pub term: u64,
    pub last_index: u64,
    pub last_term: u64,
}

impl Raft {
    pub(super) fn on_election_timeout(&mut self, ctx: &mut Ctx<Self>) {
        if self.is_leader() {
            return; // Set before this node won; a leader does not campaign.
        }
        if self.config.pre_vote {
            self.start_pre_vote(ctx);
        } else {
            self.become_candidate(ctx);
        }
    }

    fn vote_request(&self, term: u64, pre_vote: bool) -> RaftMessage {
        RaftMessage::RequestVote {
            term,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            pre_vote,
        }
    }

    /// Asks whether this node could win the next term, changing nobody's term (thesis §9.6):
    /// a node cut off from the leader cannot then inflate the terms of the others.
    fn start_pre_vote(&mut self, ctx: &mut Ctx<Self>) {
        self.role = Role::PreCandidate {
            granted: BTreeSet::from([ctx.node()]),
        };
        self.arm_election_timer(ctx);
        ctx.set_timer(RaftTimer::Heartbeat, self.config.heartbeat_every.0);
        ctx.broadcast(self.vote_request(self.term + 1, true));
        self.count_pre_votes(ctx);
    }

    fn become_candidate(&mut self, ctx: &mut Ctx<Self>) {
        self.term += 1;
        self.voted_for = Some(ctx.node());
        ctx.persist(DiskWrite::TermAndVote {
            term: self.term,
            voted_for: self.voted_for,
        });
        self.role = Role::Candidate {
            granted: BTreeSet::from([ctx.node()]),
        };
        self.arm_election_timer(ctx);
        ctx.set_timer(RaftTimer::Heartbeat, self.config.heartbeat_every.0);
        // The vote for itself is on disk before anyone can count on this candidacy: a
        // candidate that crashed and forgot it could vote for a rival in the same term.
        ctx.sync();
        ctx.broadcast(self.vote_request(self.term, false));
        self.count_votes(ctx);
    }

    /// Whether a leader is heard from (or this node leads): a vote now would only disrupt it
    /// (thesis §4.2.3), and with lease reads the leader counts on this node not voting.
    fn heard_leader_recently(&self, ctx: &Ctx<Self>) -> bool {
        if self.is_leader() {
            return true;
        }
        let window = self.config.election_timeout_min.0 .0;
        self.leader_heard_at
            .is_some_and(|at| ctx.monotonic().0.saturating_sub(at.0) < window)
    }

    /// The voter's check (paper §5.4.1): the candidate's log is at least as up to date.
    fn log_allows(&self, request: &VoteRequest) -> bool {
        self.config.variant == RaftVariant::VoteWithoutLogCheck
            || !self.log.is_ahead_of(request.last_term, request.last_index)
    }

    pub(super) fn on_pre_vote_request(
        &mut self,
        from: NodeId,
        request: VoteRequest,
        ctx: &mut Ctx<Self>,
    ) {
        let granted = request.term > self.term
            && !self.heard_leader_recently(ctx)
            && self.log_allows(&request);
        // Nothing changes here and nothing needs the disk: a pre-vote promises nothing.
        let term = if granted { request.term } else { self.term };
        ctx.send(
            from,
            RaftMessage::Vote {
                term,
                granted,
                pre_vote: true,
            },
        );
    }

    pub(super) fn on_vote_request(
        &mut self,
        from: NodeId,
        request: VoteRequest,
        ctx: &mut Ctx<Self>,
    ) {
        if request.term > self.term && self.heard_leader_recently(ctx) {
            let refusal = RaftMessage::Vote {
                term: self.term,
                granted: false,
                pre_vote: false,
            };
            return ctx.send(from, refusal);
        }
        if request.term > self.term {
            self.step_down(request.term, None, ctx);
        }
        let granted = request.term == self.term
            && self.voted_for.is_none_or(|voted| voted == from)
            && self.log_allows(&request);
        if granted {
            self.voted_for = Some(from);
            ctx.persist(DiskWrite::TermAndVote {
                term: self.term,
                voted_for: self.voted_for,
            });
            self.arm_election_timer(ctx);
        }
        // The answer vouches for the term and the vote: both must be on disk first, even when
        // this handler wrote nothing (an earlier grant's sync may still be running).
        if self.config.variant != RaftVariant::VoteBeforeSync {
            ctx.sync();
        }
        let answer = RaftMessage::Vote {
            term: self.term,
            granted,
            pre_vote: false,
        };
        ctx.send(from, answer);
    }

    pub(super) fn on_vote(
        &mut self,
        from: NodeId,
        term: u64,
        granted: bool,
        pre_vote: bool,
        ctx: &mut Ctx<Self>,
    ) {
        if term > self.term && !(pre_vote && granted) {
            return self.step_down(term, None, ctx);
        }
        if pre_vote {
            if let Role::PreCandidate { granted: votes } = &mut self.role {
                if granted && term == self.term + 1 {
                    votes.insert(from);
                }
            }
            return self.count_pre_votes(ctx);
        }
        if let Role::Candidate { granted: votes } = &mut self.role {
            if granted && term == self.term {
                votes.insert(from);
            }
        }
        self.count_votes(ctx);
    }

    fn count_pre_votes(&mut self, ctx: &mut Ctx<Self>) {
        let majority = Self::majority(ctx.node_count());
        if matches!(&self.role, Role::PreCandidate { granted } if granted.len() >= majority) {
            self.become_candidate(ctx);
        }
    }

    fn count_votes(&mut self, ctx: &mut Ctx<Self>) {
        let majority = Self::majority(ctx.node_count());
        if matches!(&self.role, Role::Candidate { granted } if granted.len() >= majority) {
            self.become_leader(ctx);
        }
    }

    fn become_leader(&mut self, ctx: &mut Ctx<Self>) {
        let n = ctx.node_count() as usize;
        let now = ctx.monotonic();
        let next = self.log.last_index() + 1;
        self.role = Role::Leader(Box::new(LeaderState {
            next_index: vec![next; n],
            match_index: vec![0; n],
            acked_round: vec![0; n],
            heard_at: vec![now; n],
            round: 0,
            rounds: VecDeque::new(),
            majority_round: 0,
            lease_start: None,
            waiting: BTreeMap::new(),
            in_log: BTreeMap::new(),
            reads: Vec::new(),
        }));
        ctx.annotate(timing::leads(ctx.node(), self.term));
        if self.config.check_quorum {
            ctx.set_timer(RaftTimer::QuorumCheck, self.config.heartbeat_every.0);
        }
        // Announce at once, before the no-op's disk write, so that followers stop campaigning
        // sooner. The empty messages promise nothing the disk does not hold already: this node
        // synced its term, vote and log before asking for votes, and the votes that made it
        // leader were sent after that sync completed.
        self.broadcast_round(ctx);
        if self.config.leader_noop {
            self.append_entry(Command::Noop, ctx);
            self.broadcast_round(ctx);
        }
        self.advance_commit(ctx);
    }

    /// Becomes a follower of `term` (adopting it when it is later than ours), answering what
    /// this node had accepted as leader.
    pub(super) fn step_down(&mut self, term: u64, leader: Option<NodeId>, ctx: &mut Ctx<Self>) {
        if term > self.term {
            self.adopt_term(term, ctx);
        }
        let previous = std::mem::replace(&mut self.role, Role::Follower { leader });
        if let Role::Leader(state) = previous {
            // A write already in the log may still commit under the next leader: the client
            // must not be told it failed. A read has done nothing and can go elsewhere.
            for (_, requests) in state.waiting {
                for request in requests {
                    let why = format!(
                        "{} lost the lead of term {} before this write committed; it may still commit",
                        ctx.node(),
                        self.term
                    );
                    ctx.reply(request, Reply::Indeterminate(why));
                }
            }
            for read in state.reads {
                ctx.reply(read.request, Reply::Redirect(leader));
            }
            self.arm_election_timer(ctx);
        }
    }

    /// A valid `AppendEntries` arrived from `leader` of `term` (at least ours): follow it.
    pub(super) fn observe_leader(&mut self, term: u64, leader: NodeId, ctx: &mut Ctx<Self>) {
        match &mut self.role {
            Role::Follower { leader: known } if term == self.term => *known = Some(leader),
            _ => self.step_down(term, Some(leader), ctx),
        }
        self.leader_heard_at = Some(ctx.monotonic());
        self.arm_election_timer(ctx);
        if self.following != Some((term, leader)) {
            self.following = Some((term, leader));
            ctx.annotate(timing::follows(ctx.node(), leader, term));
        }
    }

    pub(super) fn on_heartbeat_timer(&mut self, ctx: &mut Ctx<Self>) {
        match &self.role {
            Role::Follower { .. } => {}
            Role::PreCandidate { granted } => {
                let ask = self.vote_request(self.term + 1, true);
                let missing: Vec<NodeId> = ctx.peers().filter(|p| !granted.contains(p)).collect();
                for peer in missing {
                    ctx.send(peer, ask.clone());
                }
                ctx.set_timer(RaftTimer::Heartbeat, self.config.heartbeat_every.0);
            }
            Role::Candidate { granted } => {
                let ask = self.vote_request(self.term, false);
                let missing: Vec<NodeId> = ctx.peers().filter(|p| !granted.contains(p)).collect();
                // The vote for itself may still be syncing (see `become_candidate`).
                ctx.sync();
                for peer in missing {
                    ctx.send(peer, ask.clone());
                }
                ctx.set_timer(RaftTimer::Heartbeat, self.config.heartbeat_every.0);
            }
            Role::Leader(_) => self.broadcast_round(ctx),
        }
    }

    /// Check-quorum (thesis §6.2): a leader that has not heard from a majority within the
    /// minimum election timeout steps down, so that clients stop waiting on it.
    pub(super) fn on_quorum_check(&mut self, ctx: &mut Ctx<Self>) {
        if !self.is_leader() {
            return; // Armed by a leadership that has ended.
        }
        if !self.hears_majority(ctx) {
            ctx.annotate(timing::steps_down(ctx.node(), self.term));
            return self.step_down(self.term, None, ctx);
        }
        ctx.set_timer(RaftTimer::QuorumCheck, self.config.heartbeat_every.0);
    }

    /// Whether a majority (this node included) answered within the last
    /// `election_timeout_min`.
    fn hears_majority(&self, ctx: &Ctx<Self>) -> bool {
        let Role::Leader(state) = &self.role else {
            return false;
        };
        let now = ctx.monotonic().0;
        let window = self.config.election_timeout_min.0 .0;
        let me = ctx.node().index();
        let heard = (0..state.heard_at.len())
            .filter(|&node| node == me || now.saturating_sub(state.heard_at[node].0) < window)
            .count();
        heard >= Self::majority(ctx.node_count())
    }
}
