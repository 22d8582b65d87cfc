//! Primary-backup replication of a key-value store, written the way a user of faultline writes
//! their own protocol: against the public APIs of `sim_core` only, in their own crate.
//!
//! n1 is the primary, for ever (there is no failover). Clients that reach a backup are
//! redirected to n1. The primary numbers each put, appends it to its log, syncs the log and
//! only then sends the entry to every backup. A backup applies entries strictly in sequence
//! order, buffering any that arrive early, syncs, and acknowledges the highest sequence number
//! it has applied. The primary answers the client once every backup has acknowledged the
//! write, so any backup could take over without losing an acknowledged write. Unacknowledged
//! entries are resent every `resend_every`, so a backup that was paused, cut off or restarted
//! catches up once it can hear the primary again. Reads are served by the primary.
//!
//! Waiting for every backup has a price, on purpose: while one backup is down, paused or cut
//! off, no write is acknowledged. The primary still accepts and logs writes, but their clients
//! time out with an unknown outcome until the backup is back.
//!
//! Known-bad variants, to prove the invariant:
//! - `SkipGaps`: a backup applies any entry newer than the last one it applied instead of
//!   exactly the next one, so when an entry is lost or overtaken, the backup skips it and later
//!   drops it as a duplicate (the `backup-prefix` invariant fails; sometimes convergence too).
//! - `ResendBeforeSync`: the primary resends unacknowledged entries without syncing first, so
//!   a resend can carry an entry whose sync is still running. When the primary crashes before
//!   that sync completes, a backup holds an entry the primary lost, and the restarted primary
//!   gives the same sequence number to another write (`backup-prefix` fails). It shows only
//!   with slow syncs and crashes of the primary: `storage: (sync_latency: ...)`.
//!
//! | invariant | what it checks |
//! | --- | --- |
//! | backup-prefix | every backup's applied log is a prefix of the primary's log |

use serde::{Deserialize, Serialize};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{
    ClusterView, Ctx, Durable, Invariant, InvariantFailure, Op, OpResult, Protocol, ReplicaView,
    Reply, Request, RequestId,
};
use sim_core::scenario::Dur;
use sim_core::time::SimDuration;
use std::collections::BTreeMap;

/// The primary: n1 in scenarios.
pub const PRIMARY: NodeId = NodeId(0);

/// The most entries a backup holds back while it waits for a gap to fill; entries further
/// ahead are dropped and arrive again with a later resend.
pub const BUFFERED_ENTRIES_MAX: u64 = 1_024;

/// The most entries the primary resends to one backup per tick.
pub const RESEND_ENTRIES_MAX: usize = 64;

/// One put, numbered by the primary: the unit of replication and of the durable log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Position in the primary's log, from 1.
    pub seq: u64,
    /// The key written.
    pub key: Key,
    /// The value written.
    pub value: Value,
}

/// Which implementation to run: the correct one, or a known-bad one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrimaryBackupVariant {
    /// Backups apply exactly the next entry and buffer the ones that come early.
    #[default]
    Correct,
    /// Backups apply any entry newer than their last: a lost or late entry is skipped for good.
    SkipGaps,
    /// The primary resends entries without waiting for them to be on its own disk.
    ResendBeforeSync,
}

/// `protocol: PrimaryBackup(resend_every: "50ms", variant: Correct)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrimaryBackupConfig {
    /// How often the primary resends entries a backup has not acknowledged (default 50ms).
    pub resend_every: Dur,
    /// Correct or known-bad.
    pub variant: PrimaryBackupVariant,
}

impl Default for PrimaryBackupConfig {
    fn default() -> Self {
        PrimaryBackupConfig {
            resend_every: Dur(SimDuration::from_millis(50)),
            variant: PrimaryBackupVariant::Correct,
        }
    }
}

/// Messages between the primary and the backups.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PbMessage {
    /// Primary to backup: entries to apply, in sequence order.
    Replicate(Vec<Entry>),
    /// Backup to primary: every entry up to `applied` is applied and on the backup's disk.
    Ack {
        /// The sequence number of the last entry applied.
        applied: u64,
    },
}

/// The primary's only timer: time to resend what the backups have not acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResendTick;

/// What survives a crash: the log of applied entries, in the order they were applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PbDisk {
    /// The entries, as written to disk.
    pub log: Vec<Entry>,
}

impl Durable for PbDisk {
    type Write = Entry;
    fn apply(&mut self, entry: &Entry) {
        self.log.push(*entry);
    }
}

/// What every node holds: its log and the store the log produces.
#[derive(Clone, Debug, Default)]
struct Replica {
    log: Vec<Entry>,
    store: BTreeMap<Key, Value>,
}

impl Replica {
    /// The sequence number of the last entry applied (0: none).
    fn applied(&self) -> u64 {
        self.log.last().map_or(0, |entry| entry.seq)
    }

    /// Appends `entry` to the log, the store and the disk (not yet synced).
    fn apply(&mut self, entry: Entry, ctx: &mut Ctx<PrimaryBackup>) {
        self.log.push(entry);
        self.store.insert(entry.key, entry.value);
        ctx.persist(entry);
    }
}

/// What only the primary, or only a backup, keeps in memory; lost in a crash.
#[derive(Clone, Debug)]
enum Role {
    Primary {
        /// Per backup, the highest sequence number it has acknowledged.
        acked: BTreeMap<NodeId, u64>,
        /// Clients waiting for their write to reach every backup, by sequence number.
        waiting: BTreeMap<u64, RequestId>,
    },
    Backup {
        /// Entries that arrived before the one this backup needs next.
        ahead: BTreeMap<u64, Entry>,
    },
}

/// One node: the primary (n1) or a backup.
#[derive(Clone, Debug)]
pub struct PrimaryBackup {
    config: PrimaryBackupConfig,
    replica: Replica,
    role: Role,
}

impl PrimaryBackup {
    /// Every entry this node has applied, in the order it applied them.
    pub fn log(&self) -> &[Entry] {
        &self.replica.log
    }

    /// A put reaches the primary: log it, sync, then copy it to every backup.
    fn accept_put(&mut self, request: RequestId, key: Key, value: Value, ctx: &mut Ctx<Self>) {
        let entry = Entry {
            seq: self.replica.applied() + 1,
            key,
            value,
        };
        self.replica.apply(entry, ctx);
        // The copies leave only once the entry is on the primary's disk: a backup must never
        // hold an entry a crash of the primary could erase, or the restarted primary would
        // give its number to a different write.
        ctx.sync();
        ctx.broadcast(PbMessage::Replicate(vec![entry]));
        if let Role::Primary { waiting, .. } = &mut self.role {
            waiting.insert(entry.seq, request);
        }
        // With no backups at all, the write is complete already.
        self.reply_to_committed(ctx);
    }

    /// Tells every client whose write all backups now hold that it is written.
    fn reply_to_committed(&mut self, ctx: &mut Ctx<Self>) {
        let Role::Primary { acked, waiting } = &mut self.role else {
            return;
        };
        let committed = acked
            .values()
            .copied()
            .min()
            .unwrap_or(self.replica.applied());
        let still_waiting = waiting.split_off(&(committed + 1));
        for (_, request) in std::mem::replace(waiting, still_waiting) {
            ctx.reply(request, Reply::Ok(OpResult::Written));
        }
    }

    /// A backup receives entries: apply the ones that are next, buffer the ones that are early.
    fn on_replicate(&mut self, from: NodeId, entries: Vec<Entry>, ctx: &mut Ctx<Self>) {
        let Role::Backup { ahead } = &mut self.role else {
            return; // Only the primary sends entries.
        };
        for entry in entries {
            let next = self.replica.applied() + 1;
            let in_turn = match self.config.variant {
                PrimaryBackupVariant::Correct | PrimaryBackupVariant::ResendBeforeSync => {
                    entry.seq == next
                }
                // The bug: "newer than the last" is taken to mean "the next one".
                PrimaryBackupVariant::SkipGaps => entry.seq >= next,
            };
            if in_turn {
                self.replica.apply(entry, ctx);
            } else if entry.seq > next && entry.seq - next < BUFFERED_ENTRIES_MAX {
                ahead.insert(entry.seq, entry);
            }
            // Otherwise a duplicate of an applied entry, or too far ahead: a resend brings it.
        }
        while let Some(entry) = ahead.remove(&(self.replica.applied() + 1)) {
            self.replica.apply(entry, ctx);
        }
        // Sync even when this message applied nothing: the ack vouches for every entry up to
        // `applied`, and the sync of an earlier message may still be running. The engine does
        // not say when a sync completes; a message sent after `ctx.sync()` waits for it.
        ctx.sync();
        ctx.send(
            from,
            PbMessage::Ack {
                applied: self.replica.applied(),
            },
        );
    }

    /// The primary hears a backup's progress and answers the writes every backup now holds.
    fn on_ack(&mut self, from: NodeId, applied: u64, ctx: &mut Ctx<Self>) {
        let Role::Primary { acked, .. } = &mut self.role else {
            return; // Only backups send acks.
        };
        let known = acked.entry(from).or_insert(0);
        // Acks may arrive out of order or duplicated; progress never goes back.
        *known = (*known).max(applied);
        self.reply_to_committed(ctx);
    }
}

impl Protocol for PrimaryBackup {
    const NAME: &'static str = "primarybackup";
    const SUMMARY: &'static str =
        "primary-backup: n1 logs each write and answers once every backup has it";

    type Config = PrimaryBackupConfig;
    type Message = PbMessage;
    type Timer = ResendTick;
    type Durable = PbDisk;

    fn validate_config(config: &PrimaryBackupConfig, _node_count: u32) -> Result<(), String> {
        if config.resend_every.0 == SimDuration::ZERO {
            return Err("resend_every must be longer than 0s".into());
        }
        Ok(())
    }

    fn start(config: &PrimaryBackupConfig, durable: &PbDisk, ctx: &mut Ctx<Self>) -> Self {
        let mut replica = Replica::default();
        for entry in &durable.log {
            replica.log.push(*entry);
            replica.store.insert(entry.key, entry.value);
        }
        let role = if ctx.node() == PRIMARY {
            ctx.set_timer(ResendTick, config.resend_every.0);
            // After a restart the primary does not know how far the backups got: it starts
            // from nothing, and their first acks (to the first resend) correct it.
            Role::Primary {
                acked: ctx.peers().map(|backup| (backup, 0)).collect(),
                waiting: BTreeMap::new(),
            }
        } else {
            Role::Backup {
                ahead: BTreeMap::new(),
            }
        };
        PrimaryBackup {
            config: config.clone(),
            replica,
            role,
        }
    }

    fn on_message(&mut self, from: NodeId, message: PbMessage, ctx: &mut Ctx<Self>) {
        match message {
            PbMessage::Replicate(entries) => self.on_replicate(from, entries, ctx),
            PbMessage::Ack { applied } => self.on_ack(from, applied, ctx),
        }
    }

    fn on_timer(&mut self, _timer: ResendTick, ctx: &mut Ctx<Self>) {
        let Role::Primary { acked, .. } = &self.role else {
            return; // Only the primary sets the timer.
        };
        let log = &self.replica.log;
        let resends: Vec<(NodeId, Vec<Entry>)> = acked
            .iter()
            .filter(|(_, acked)| (**acked as usize) < log.len())
            .map(|(backup, acked)| {
                let from = *acked as usize;
                let to = log.len().min(from + RESEND_ENTRIES_MAX);
                (*backup, log[from..to].to_vec())
            })
            .collect();
        let resend_unsynced = self.config.variant == PrimaryBackupVariant::ResendBeforeSync;
        if !resends.is_empty() && !resend_unsynced {
            // A write accepted a moment ago may still be waiting for its sync, and this
            // handler's sends would not wait for that one: resent now, the entry could reach
            // a backup before it is safe on the primary's own disk (see `accept_put`).
            ctx.sync();
        }
        // Entries still in flight are resent too; a backup ignores the duplicates.
        for (backup, entries) in resends {
            ctx.send(backup, PbMessage::Replicate(entries));
        }
        ctx.set_timer(ResendTick, self.config.resend_every.0);
    }

    fn on_request(&mut self, request: Request, ctx: &mut Ctx<Self>) {
        if ctx.node() != PRIMARY {
            return ctx.reply(request.id, Reply::Redirect(Some(PRIMARY)));
        }
        match request.op {
            Op::Put { key, value, .. } => self.accept_put(request.id, key, value, ctx),
            Op::Get { key } => {
                let values = self.replica.store.get(&key).copied().into_iter().collect();
                // The store may show a write whose sync is still running; the answer waits for
                // it, so no client reads a value that a crash could still erase.
                ctx.sync();
                ctx.reply(
                    request.id,
                    Reply::Ok(OpResult::Read {
                        values,
                        context: None,
                    }),
                );
            }
            Op::Cas { .. } => ctx.reply(
                request.id,
                Reply::Fail("primarybackup does not support compare-and-set".into()),
            ),
        }
    }

    fn replica_view(&self, view: &mut ReplicaView) {
        for (key, value) in &self.replica.store {
            view.insert(*key, vec![*value]);
        }
    }

    fn invariants(_config: &PrimaryBackupConfig) -> Vec<Box<dyn Invariant<Self>>> {
        vec![Box::new(BackupPrefix::default())]
    }
}

/// Every running backup's applied log is a prefix of the running primary's log.
///
/// Logs only grow while a node runs, so the check remembers how much of each backup's log it
/// has already compared and starts again from the beginning when either node restarts.
#[derive(Debug, Default)]
pub struct BackupPrefix {
    /// Per backup: the primary's and the backup's incarnations, and how many leading entries
    /// of the backup's log are known to match the primary's.
    verified: BTreeMap<NodeId, (u32, u32, usize)>,
}

impl Invariant<PrimaryBackup> for BackupPrefix {
    fn name(&self) -> &'static str {
        "backup-prefix"
    }

    fn check(&mut self, view: &ClusterView<'_, PrimaryBackup>) -> Result<(), InvariantFailure> {
        let Some(primary) = view.node(PRIMARY) else {
            return Ok(());
        };
        let ours = primary.log();
        let primary_incarnation = view.incarnation(PRIMARY);
        for backup in view.node_ids().filter(|node| *node != PRIMARY) {
            let Some(state) = view.node(backup) else {
                continue;
            };
            let theirs = state.log();
            let incarnations = (primary_incarnation, view.incarnation(backup));
            let verified =
                self.verified
                    .entry(backup)
                    .or_insert((incarnations.0, incarnations.1, 0));
            if (verified.0, verified.1) != incarnations || verified.2 > theirs.len() {
                *verified = (incarnations.0, incarnations.1, 0);
            }
            for (index, entry) in theirs.iter().enumerate().skip(verified.2) {
                if ours.get(index) != Some(entry) {
                    return Err(not_a_prefix(backup, index, entry, ours));
                }
            }
            verified.2 = theirs.len();
        }
        Ok(())
    }
}

/// Explains why `backup`'s entry at `index` breaks the prefix.
fn not_a_prefix(backup: NodeId, index: usize, entry: &Entry, ours: &[Entry]) -> InvariantFailure {
    let position = index + 1;
    let explanation = match ours.get(index) {
        Some(expected) => format!(
            "{backup}'s update #{position} is seq {} ({} = {}), but the primary {PRIMARY}'s update #{position} is seq {} ({} = {}): {backup}'s log is not a prefix of {PRIMARY}'s",
            entry.seq, entry.key, entry.value, expected.seq, expected.key, expected.value
        ),
        None => format!(
            "{backup} applied seq {} ({} = {}) as update #{position}, but the primary {PRIMARY}'s log ends at update #{}: {backup} holds a write {PRIMARY} does not",
            entry.seq,
            entry.key,
            entry.value,
            ours.len()
        ),
    };
    InvariantFailure {
        nodes: vec![backup, PRIMARY],
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::ids::{ClientId, OpId};
    use sim_core::protocol::{ClusterView, Effect, TestCtx};
    use sim_core::time::SimTime;

    const N2: NodeId = NodeId(1);
    const N3: NodeId = NodeId(2);

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

    fn put(op: u64, key: u32, value: u64) -> Request {
        request(
            op,
            Op::Put {
                key: Key(key),
                value: Value(value),
                context: None,
            },
        )
    }

    fn entry(seq: u64, key: u32, value: u64) -> Entry {
        Entry {
            seq,
            key: Key(key),
            value: Value(value),
        }
    }

    /// Starts `node` of a three-node cluster from `log`, and drops the start's effects.
    fn started(
        node: NodeId,
        log: &[Entry],
        config: PrimaryBackupConfig,
    ) -> (PrimaryBackup, TestCtx<PrimaryBackup>) {
        let mut test = TestCtx::new(node, 3);
        let disk = PbDisk { log: log.to_vec() };
        let state = PrimaryBackup::start(&config, &disk, &mut test.ctx());
        test.take_effects();
        (state, test)
    }

    fn ack(applied: u64) -> PbMessage {
        PbMessage::Ack { applied }
    }

    #[test]
    fn the_primary_arms_its_resend_timer_and_a_backup_sets_none() {
        let config = PrimaryBackupConfig::default();
        let mut test = TestCtx::<PrimaryBackup>::new(PRIMARY, 3);
        PrimaryBackup::start(&config, &PbDisk::default(), &mut test.ctx());
        assert_eq!(
            test.take_effects(),
            vec![Effect::SetTimer {
                timer: ResendTick,
                after: SimDuration::from_millis(50)
            }]
        );
        let mut test = TestCtx::<PrimaryBackup>::new(N2, 3);
        PrimaryBackup::start(&config, &PbDisk::default(), &mut test.ctx());
        assert_eq!(test.take_effects(), vec![]);
    }

    #[test]
    fn a_backup_redirects_clients_to_the_primary() {
        let (mut backup, mut test) = started(N2, &[], PrimaryBackupConfig::default());
        let get = request(0, Op::Get { key: Key(1) });
        backup.on_request(get.clone(), &mut test.ctx());
        assert_eq!(
            test.take_effects(),
            vec![Effect::Reply {
                request: get.id,
                reply: Reply::Redirect(Some(PRIMARY))
            }]
        );
    }

    #[test]
    fn the_primary_syncs_a_put_before_copying_it_and_answers_once_every_backup_has_it() {
        let (mut primary, mut test) = started(PRIMARY, &[], PrimaryBackupConfig::default());
        primary.on_request(put(0, 1, 7), &mut test.ctx());
        let copy = PbMessage::Replicate(vec![entry(1, 1, 7)]);
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Persist(entry(1, 1, 7)),
                Effect::Sync,
                Effect::Send {
                    to: N2,
                    message: copy.clone()
                },
                Effect::Send {
                    to: N3,
                    message: copy
                },
            ]
        );
        primary.on_message(N2, ack(1), &mut test.ctx());
        assert_eq!(test.take_effects(), vec![], "n3 has not acknowledged yet");
        primary.on_message(N3, ack(1), &mut test.ctx());
        assert_eq!(
            test.take_effects(),
            vec![Effect::Reply {
                request: put(0, 1, 7).id,
                reply: Reply::Ok(OpResult::Written)
            }]
        );
    }

    #[test]
    fn the_primary_answers_a_read_only_after_a_sync() {
        let (mut primary, mut test) =
            started(PRIMARY, &[entry(1, 4, 9)], PrimaryBackupConfig::default());
        let get = request(3, Op::Get { key: Key(4) });
        primary.on_request(get.clone(), &mut test.ctx());
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Sync,
                Effect::Reply {
                    request: get.id,
                    reply: Reply::Ok(OpResult::Read {
                        values: vec![Value(9)],
                        context: None
                    })
                },
            ]
        );
    }

    #[test]
    fn the_primary_resends_what_a_backup_lacks_behind_a_sync() {
        let (mut primary, mut test) = started(PRIMARY, &[], PrimaryBackupConfig::default());
        primary.on_request(put(0, 1, 7), &mut test.ctx());
        primary.on_request(put(1, 2, 8), &mut test.ctx());
        primary.on_message(N2, ack(2), &mut test.ctx());
        primary.on_message(N3, ack(1), &mut test.ctx());
        test.take_effects();
        primary.on_timer(ResendTick, &mut test.ctx());
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Sync,
                Effect::Send {
                    to: N3,
                    message: PbMessage::Replicate(vec![entry(2, 2, 8)])
                },
                Effect::SetTimer {
                    timer: ResendTick,
                    after: SimDuration::from_millis(50)
                },
            ]
        );
    }

    #[test]
    fn resend_before_sync_resends_without_waiting_for_the_primary_disk() {
        let config = PrimaryBackupConfig {
            variant: PrimaryBackupVariant::ResendBeforeSync,
            ..PrimaryBackupConfig::default()
        };
        let (mut primary, mut test) = started(PRIMARY, &[entry(1, 2, 8)], config);
        primary.on_message(N2, ack(1), &mut test.ctx());
        test.take_effects();
        primary.on_timer(ResendTick, &mut test.ctx());
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Send {
                    to: N3,
                    message: PbMessage::Replicate(vec![entry(1, 2, 8)])
                },
                Effect::SetTimer {
                    timer: ResendTick,
                    after: SimDuration::from_millis(50)
                },
            ]
        );
    }

    #[test]
    fn a_backup_buffers_an_early_entry_and_applies_in_sequence_order() {
        let (mut backup, mut test) = started(N2, &[], PrimaryBackupConfig::default());
        backup.on_message(
            PRIMARY,
            PbMessage::Replicate(vec![entry(2, 3, 20)]),
            &mut test.ctx(),
        );
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Sync,
                Effect::Send {
                    to: PRIMARY,
                    message: ack(0)
                }
            ]
        );
        backup.on_message(
            PRIMARY,
            PbMessage::Replicate(vec![entry(1, 3, 10)]),
            &mut test.ctx(),
        );
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Persist(entry(1, 3, 10)),
                Effect::Persist(entry(2, 3, 20)),
                Effect::Sync,
                Effect::Send {
                    to: PRIMARY,
                    message: ack(2)
                },
            ]
        );
        assert_eq!(backup.log(), &[entry(1, 3, 10), entry(2, 3, 20)]);
    }

    #[test]
    fn a_backup_ignores_a_duplicate_but_still_acknowledges() {
        let (mut backup, mut test) = started(N2, &[entry(1, 0, 5)], PrimaryBackupConfig::default());
        backup.on_message(
            PRIMARY,
            PbMessage::Replicate(vec![entry(1, 0, 5)]),
            &mut test.ctx(),
        );
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Sync,
                Effect::Send {
                    to: PRIMARY,
                    message: ack(1)
                }
            ]
        );
    }

    #[test]
    fn skip_gaps_applies_past_a_gap_and_then_drops_the_late_entry() {
        let config = PrimaryBackupConfig {
            variant: PrimaryBackupVariant::SkipGaps,
            ..PrimaryBackupConfig::default()
        };
        let (mut backup, mut test) = started(N2, &[], config);
        backup.on_message(
            PRIMARY,
            PbMessage::Replicate(vec![entry(2, 3, 20)]),
            &mut test.ctx(),
        );
        backup.on_message(
            PRIMARY,
            PbMessage::Replicate(vec![entry(1, 4, 10)]),
            &mut test.ctx(),
        );
        assert_eq!(
            test.take_effects(),
            vec![
                Effect::Persist(entry(2, 3, 20)),
                Effect::Sync,
                Effect::Send {
                    to: PRIMARY,
                    message: ack(2)
                },
                Effect::Sync,
                Effect::Send {
                    to: PRIMARY,
                    message: ack(2)
                },
            ]
        );
        assert_eq!(backup.log(), &[entry(2, 3, 20)]);
    }

    #[test]
    fn a_restarted_primary_recovers_its_log_and_numbers_the_next_put_after_it() {
        let log = [entry(1, 0, 5), entry(2, 1, 6)];
        let (mut primary, mut test) = started(PRIMARY, &log, PrimaryBackupConfig::default());
        let mut view = ReplicaView::new();
        primary.replica_view(&mut view);
        assert_eq!(view[&Key(1)], vec![Value(6)]);
        primary.on_request(put(9, 0, 7), &mut test.ctx());
        assert_eq!(test.take_effects()[0], Effect::Persist(entry(3, 0, 7)));
    }

    #[test]
    fn backup_prefix_holds_for_a_lagging_backup_and_names_the_first_entry_out_of_place() {
        let config = PrimaryBackupConfig::default();
        let node = |id: NodeId, log: &[Entry]| Some(started(id, log, config.clone()).0);
        let primary_log = [entry(1, 0, 1), entry(2, 1, 2), entry(3, 0, 3)];
        let lagging: Vec<(Option<PrimaryBackup>, u32)> = vec![
            (node(PRIMARY, &primary_log), 0),
            (node(N2, &primary_log[..2]), 0),
            (None, 1),
        ];
        let view = ClusterView::new(N2, SimTime::ZERO, &lagging);
        assert_eq!(BackupPrefix::default().check(&view), Ok(()));

        let skipped: Vec<(Option<PrimaryBackup>, u32)> = vec![
            (node(PRIMARY, &primary_log), 0),
            (node(N2, &primary_log[..2]), 0),
            (node(N3, &[primary_log[0], primary_log[2]]), 0),
        ];
        let view = ClusterView::new(N3, SimTime::ZERO, &skipped);
        let failure = BackupPrefix::default().check(&view).unwrap_err();
        assert_eq!(failure.nodes, vec![N3, PRIMARY]);
        assert_eq!(
            failure.explanation,
            "n3's update #2 is seq 3 (k0 = v3), but the primary n1's update #2 is seq 2 (k1 = v2): n3's log is not a prefix of n1's"
        );
    }
}
