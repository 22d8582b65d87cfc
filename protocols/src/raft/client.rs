//! Client requests (paper §8, thesis §6.3 and §6.4): redirects, sessions, and the three ways
//! of serving a read.

use super::log::{Command, Session};
use super::state_machine::Outcome;
use super::{LeaseRead, PendingRead, Raft, RaftVariant, ReadMode, Role};
use sim_core::ids::Key;
use sim_core::protocol::{Ctx, Op, OpResult, Reply, Request, RequestId};

/// The answer a client gets for a command's outcome.
pub(super) fn reply_for(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Written => Reply::Ok(OpResult::Written),
        Outcome::Swapped => Reply::Ok(OpResult::Swapped),
        Outcome::Mismatch { found } => Reply::Fail(match found {
            Some(value) => format!("compare-and-set did not match: the key holds {value}"),
            None => "compare-and-set did not match: the key is absent".to_string(),
        }),
        Outcome::Read(value) => read(value),
        Outcome::Expired => Reply::Indeterminate(
            "the client's session no longer remembers this request".to_string(),
        ),
        Outcome::Nothing => unreachable!("a no-op answers no client"),
    }
}

fn read(value: Option<sim_core::ids::Value>) -> Reply {
    Reply::Ok(OpResult::Read {
        values: value.into_iter().collect(),
        context: None,
    })
}

impl Raft {
    pub(super) fn on_client_request(&mut self, request: Request, ctx: &mut Ctx<Self>) {
        if !self.is_leader() {
            return ctx.reply(request.id, Reply::Redirect(self.leader_hint()));
        }
        let session = Session {
            client: request.id.client,
            seq: request.id.seq,
        };
        match request.op {
            Op::Get { key } => match self.config.reads {
                ReadMode::Log => self.submit(request.id, Command::Get { key, session }, ctx),
                ReadMode::ReadIndex => self.read_with_index(request.id, key, ctx),
                ReadMode::Lease => self.read_with_lease(request.id, key, ctx),
            },
            Op::Put { key, value, .. } => {
                let command = Command::Put {
                    key,
                    value,
                    session,
                };
                self.submit(request.id, command, ctx)
            }
            Op::Cas { key, expected, new } => {
                let command = Command::Cas {
                    key,
                    expected,
                    new,
                    session,
                };
                self.submit(request.id, command, ctx)
            }
        }
    }

    /// Appends a client command, unless its session shows it applied (answer as before) or
    /// already in this leader's log (answer when that entry applies).
    fn submit(&mut self, id: RequestId, command: Command, ctx: &mut Ctx<Self>) {
        let session = command.session().expect("client commands carry a session");
        if let Some(outcome) = self.store.outcome_of(session) {
            return ctx.reply(id, reply_for(outcome));
        }
        if let Role::Leader(state) = &mut self.role {
            if let Some(index) = state.in_log.get(&session) {
                state.waiting.entry(*index).or_default().push(id);
                return;
            }
        }
        let index = self.append_entry(command, ctx);
        if let Role::Leader(state) = &mut self.role {
            state.waiting.insert(index, vec![id]);
            state.in_log.insert(session, index);
        }
        self.broadcast_round(ctx);
        if ctx.node_count() == 1 {
            // A cluster of one is its own majority: the entry must be on its disk before
            // the answer that the commit below sends.
            ctx.sync();
        }
        self.advance_commit(ctx);
    }

    /// Read-index (thesis §6.4): note the commit index, start a heartbeat round, and answer
    /// once a majority acknowledged it and the state machine reached the index.
    fn read_with_index(&mut self, id: RequestId, key: Key, ctx: &mut Ctx<Self>) {
        let read_index = self.committed_in_term().then_some(self.commit_index);
        let Role::Leader(state) = &mut self.role else {
            return;
        };
        state.reads.push(PendingRead {
            request: id,
            key,
            round: state.round + 1,
            read_index,
        });
        self.broadcast_round(ctx);
        self.serve_reads(ctx);
    }

    /// A lease read: answered at once from the applied state while the lease lasts.
    fn read_with_lease(&mut self, id: RequestId, key: Key, ctx: &mut Ctx<Self>) {
        if !(self.lease_holds(ctx) && self.committed_in_term()) {
            return self.read_with_index(id, key, ctx);
        }
        let value = self.store.get(key);
        self.lease_reads += 1;
        self.last_lease_read = Some(LeaseRead {
            number: self.lease_reads,
            key,
            value,
            applied_index: self.last_applied,
        });
        ctx.reply(id, read(value));
    }

    /// Whether this leader has committed an entry of its own term: only then does its commit
    /// index cover everything earlier leaders committed.
    fn committed_in_term(&self) -> bool {
        self.log.term_at(self.commit_index) == Some(self.term)
    }

    /// Whether the lease started by the latest round a majority acknowledged still runs.
    fn lease_holds(&self, ctx: &Ctx<Self>) -> bool {
        let Role::Leader(state) = &self.role else {
            return false;
        };
        let Some(start) = state.lease_start else {
            return false;
        };
        let lease = self.config.lease_duration().0;
        match self.config.variant {
            // The bug: a wall clock stepped back makes the lease look younger than it is.
            RaftVariant::LeaseOnWallClock => {
                ctx.wall_clock().0 < start.wall.0.saturating_add(lease as i64)
            }
            _ => ctx.monotonic().0 < start.mono.0.saturating_add(lease),
        }
    }

    /// Answers the pending reads whose round a majority acknowledged and whose index the state
    /// machine reached.
    pub(super) fn serve_reads(&mut self, ctx: &mut Ctx<Self>) {
        let committed_in_term = self.committed_in_term();
        let Raft {
            role,
            store,
            commit_index,
            last_applied,
            ..
        } = self;
        let Role::Leader(state) = role else {
            return;
        };
        let majority_round = state.majority_round;
        state.reads.retain_mut(|pending| {
            if pending.read_index.is_none() && committed_in_term {
                pending.read_index = Some(*commit_index);
            }
            let ready = pending.round <= majority_round
                && pending
                    .read_index
                    .is_some_and(|index| index <= *last_applied);
            if ready {
                ctx.reply(pending.request, read(store.get(pending.key)));
            }
            !ready
        });
    }
}
