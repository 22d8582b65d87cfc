//! Log replication and commitment (paper §5.3 and §5.4.2): heartbeat rounds, the consistency
//! check, conflict backtracking, and applying committed entries.

use super::log::{Command, ConflictHint, Entry};
use super::{
    client, AppendEntries, AppendOutcome, DiskWrite, LeaderState, Raft, RaftMessage, RaftTimer,
    RaftVariant, Role, RoundStart, ENTRIES_PER_MESSAGE_MAX,
};
use sim_core::clock::{MonoTime, WallTime};
use sim_core::ids::NodeId;
use sim_core::protocol::Ctx;

/// The most heartbeat rounds a leader remembers while no majority acknowledges them (a leader
/// cut off without check-quorum); an older round simply cannot start a lease.
const ROUNDS_REMEMBERED_MAX: usize = 1_024;

impl Raft {
    /// Appends `command` to the leader's log and to its disk (not yet synced); returns its index.
    pub(super) fn append_entry(&mut self, command: Command, ctx: &mut Ctx<Self>) -> u64 {
        let entry = Entry {
            term: self.term,
            command,
        };
        let index = self.log.push(entry);
        ctx.persist(DiskWrite::Entries {
            from: index,
            entries: vec![entry],
        });
        index
    }

    /// Starts a heartbeat round: every follower gets the entries it lacks, or none.
    pub(super) fn broadcast_round(&mut self, ctx: &mut Ctx<Self>) {
        let Role::Leader(state) = &mut self.role else {
            return;
        };
        state.round += 1;
        state.acked_round[ctx.node().index()] = state.round;
        state.rounds.push_back(RoundStart {
            round: state.round,
            mono: ctx.monotonic(),
            wall: ctx.wall_clock(),
        });
        if state.rounds.len() > ROUNDS_REMEMBERED_MAX {
            state.rounds.pop_front();
        }
        let round = state.round;
        // The next heartbeat is due one interval after this round, not after the last one.
        ctx.set_timer(RaftTimer::Heartbeat, self.config.heartbeat_every.0);
        let appends: Vec<(NodeId, AppendEntries)> = ctx
            .peers()
            .map(|peer| (peer, self.append_for(peer, round)))
            .collect();
        self.send_appends(appends, ctx);
        // A cluster of one acknowledges its own rounds.
        self.update_majority_round(ctx.monotonic(), ctx.wall_clock(), ctx.node_count());
    }

    /// The `AppendEntries` that brings `peer` up to date from its `next_index`.
    fn append_for(&self, peer: NodeId, round: u64) -> AppendEntries {
        let Role::Leader(state) = &self.role else {
            unreachable!("only a leader sends entries");
        };
        let next = state.next_index[peer.index()].clamp(1, self.log.last_index() + 1);
        let prev_index = next - 1;
        AppendEntries {
            term: self.term,
            prev_index,
            prev_term: self
                .log
                .term_at(prev_index)
                .expect("next_index is within the log"),
            entries: self.log.slice(next, ENTRIES_PER_MESSAGE_MAX).to_vec(),
            leader_commit: self.commit_index,
            round,
        }
    }

    /// Sends heartbeats at once and entries only after a sync: a follower must never hold an
    /// entry that a crash of the leader could erase (the leader would reuse its index), and
    /// the entry may come from a client request whose sync is still running.
    fn send_appends(&self, appends: Vec<(NodeId, AppendEntries)>, ctx: &mut Ctx<Self>) {
        let (empty, full): (Vec<_>, Vec<_>) = appends
            .into_iter()
            .partition(|(_, append)| append.entries.is_empty());
        for (peer, append) in empty {
            ctx.send(peer, RaftMessage::Append(append));
        }
        if !full.is_empty() {
            ctx.sync();
        }
        for (peer, append) in full {
            ctx.send(peer, RaftMessage::Append(append));
        }
    }

    pub(super) fn on_append(&mut self, from: NodeId, append: AppendEntries, ctx: &mut Ctx<Self>) {
        if append.term < self.term {
            let stale = RaftMessage::AppendReply {
                term: self.term,
                round: append.round,
                outcome: AppendOutcome::StaleTerm,
            };
            return ctx.send(from, stale);
        }
        self.observe_leader(append.term, from, ctx);
        let outcome = match self.log.conflict(append.prev_index, append.prev_term) {
            Some(hint) => AppendOutcome::Conflict(hint),
            None => {
                if let Some((index, written)) = self.log.merge(append.prev_index, &append.entries) {
                    ctx.persist(DiskWrite::Entries {
                        from: index,
                        entries: written,
                    });
                }
                let matched = append.prev_index + append.entries.len() as u64;
                let commit = append.leader_commit.min(matched);
                if commit > self.commit_index {
                    self.commit_index = commit;
                    self.apply_committed(ctx);
                }
                AppendOutcome::Matched(matched)
            }
        };
        // The answer vouches for the term and for every entry up to the match, which this
        // handler or an earlier one wrote and whose sync may still be running.
        ctx.sync();
        let reply = RaftMessage::AppendReply {
            term: self.term,
            round: append.round,
            outcome,
        };
        ctx.send(from, reply);
    }

    pub(super) fn on_append_reply(
        &mut self,
        from: NodeId,
        term: u64,
        round: u64,
        outcome: AppendOutcome,
        ctx: &mut Ctx<Self>,
    ) {
        if term > self.term {
            return self.step_down(term, None, ctx);
        }
        let last_index = self.log.last_index();
        let Role::Leader(state) = &mut self.role else {
            return;
        };
        if term < self.term || outcome == AppendOutcome::StaleTerm {
            return; // An answer to an earlier term's leader.
        }
        let peer = from.index();
        state.heard_at[peer] = ctx.monotonic();
        state.acked_round[peer] = state.acked_round[peer].max(round);
        let behind = match outcome {
            AppendOutcome::Matched(index) => {
                state.match_index[peer] = state.match_index[peer].max(index);
                state.next_index[peer] = state.next_index[peer].max(state.match_index[peer] + 1);
                // Keep a follower that is a whole batch behind streaming; smaller gaps are
                // already on their way in the copies each new entry triggers.
                last_index >= state.match_index[peer] + ENTRIES_PER_MESSAGE_MAX as u64
            }
            AppendOutcome::Conflict(hint) => {
                let next = backtrack(&self.log, hint);
                state.next_index[peer] = next.max(state.match_index[peer] + 1);
                true
            }
            AppendOutcome::StaleTerm => unreachable!("returned above"),
        };
        self.update_majority_round(ctx.monotonic(), ctx.wall_clock(), ctx.node_count());
        self.advance_commit(ctx);
        if behind {
            self.resend(from, ctx);
        }
        self.serve_reads(ctx);
    }

    /// Sends `peer` what it lacks now, in the current round.
    fn resend(&self, peer: NodeId, ctx: &mut Ctx<Self>) {
        let Role::Leader(state) = &self.role else {
            return;
        };
        let append = self.append_for(peer, state.round);
        self.send_appends(vec![(peer, append)], ctx);
    }

    /// Notes the highest round a majority acknowledged, and the lease it starts.
    fn update_majority_round(&mut self, now: MonoTime, wall: WallTime, node_count: u32) {
        let variant = self.config.variant;
        let Role::Leader(state) = &mut self.role else {
            return;
        };
        let mut acked = state.acked_round.clone();
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let round = acked[Self::majority(node_count) - 1];
        if round <= state.majority_round {
            return;
        }
        state.majority_round = round;
        while state
            .rounds
            .front()
            .is_some_and(|start| start.round < round)
        {
            state.rounds.pop_front();
        }
        let Some(&sent) = state.rounds.front().filter(|start| start.round == round) else {
            return; // Forgotten: too old to start a lease.
        };
        state.lease_start = Some(match variant {
            // The bug: the lease runs from now, however long the acknowledgements waited.
            RaftVariant::LeaseFromAckArrival => RoundStart {
                round,
                mono: now,
                wall,
            },
            _ => sent,
        });
    }

    /// Commits the highest index a majority holds, if it is of the current term (paper
    /// §5.4.2: counting replicas of an older term's entry is not enough, Figure 8).
    pub(super) fn advance_commit(&mut self, ctx: &mut Ctx<Self>) {
        let Role::Leader(state) = &self.role else {
            return;
        };
        let candidate = majority_match(state, self.log.last_index(), ctx);
        if candidate <= self.commit_index {
            return;
        }
        let countable = match self.config.variant {
            RaftVariant::CommitOldTermByCounting => true,
            _ => self.log.term_at(candidate) == Some(self.term),
        };
        if countable {
            self.commit_index = candidate;
            self.apply_committed(ctx);
        }
    }

    /// Applies every committed entry not yet applied; a leader answers the clients waiting
    /// for them, and the reads that were waiting for the state machine to catch up.
    pub(super) fn apply_committed(&mut self, ctx: &mut Ctx<Self>) {
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let index = self.last_applied;
            let entry = *self
                .log
                .get(index)
                .expect("committed entries are in the log");
            let outcome = self.store.apply(&entry.command);
            if let Role::Leader(state) = &mut self.role {
                if let Some(session) = entry.command.session() {
                    if state.in_log.get(&session) == Some(&index) {
                        state.in_log.remove(&session);
                    }
                }
                for request in state.waiting.remove(&index).unwrap_or_default() {
                    ctx.reply(request, client::reply_for(outcome));
                }
            }
        }
        self.serve_reads(ctx);
    }
}

/// The highest index held by a majority, the leader counting its own log.
fn majority_match(state: &LeaderState, own_last: u64, ctx: &Ctx<Raft>) -> u64 {
    let me = ctx.node().index();
    let mut matched: Vec<u64> = state
        .match_index
        .iter()
        .enumerate()
        .map(|(node, index)| if node == me { own_last } else { *index })
        .collect();
    matched.sort_unstable_by(|a, b| b.cmp(a));
    matched[Raft::majority(ctx.node_count()) - 1]
}

/// Where to resume after a follower's conflict hint (paper §5.3, "the leader can decrement
/// nextIndex to bypass all of the conflicting entries in that term").
fn backtrack(log: &super::log::Log, hint: ConflictHint) -> u64 {
    match hint.term {
        Some(term) => match log.last_index_of_term(term) {
            Some(last) => last + 1,
            None => hint.first_index,
        },
        None => hint.first_index,
    }
    .max(1)
}
