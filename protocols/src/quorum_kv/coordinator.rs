//! Coordinating client requests: writes that wait for `w` acknowledgements, reads that wait
//! for `r` answers, the coordinator timeout, stand-ins, and read repair.

use super::version::{Dot, Object, Sibling, Siblings, Stamp, Stamped, Version, VersionVector};
use super::{Ack, QkMessage, QkTimer, QkWrite, QuorumKv, QuorumVariant, StepEvent, Versioning};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{CausalContext, Ctx, OpResult, Reply, RequestId};
use sim_core::rng::SimRng;
use std::collections::{BTreeMap, BTreeSet};

/// A write waiting for acknowledgements.
#[derive(Clone, Debug)]
pub(super) struct PendingWrite {
    key: Key,
    /// The copy sent to replicas and stand-ins.
    object: Object,
    version: Version,
    value: Value,
    /// The replicas the write was sent to: all `n`, or the `w` drawn in partial mode.
    targets: Vec<NodeId>,
    /// Targets that acknowledged (the coordinator itself, when it stored the write).
    acked: BTreeSet<NodeId>,
    /// Stand-ins asked, each with the target whose place it takes.
    stand_ins: BTreeMap<NodeId, NodeId>,
    /// Targets whose stand-in acknowledged.
    covered: BTreeSet<NodeId>,
    /// Whether the client has its answer.
    replied: bool,
}

/// A read waiting for answers.
#[derive(Clone, Debug)]
pub(super) struct PendingRead {
    key: Key,
    /// The replicas asked: all `n`, or the `r` drawn in partial mode.
    asked: Vec<NodeId>,
    /// Per replica that answered, the digest of what it is known to hold now (0: nothing).
    known: BTreeMap<NodeId, u64>,
    /// Everything the answers held, merged.
    merged: Option<Object>,
    /// Whether the client has its answer.
    replied: bool,
}

/// `count` distinct nodes drawn uniformly from `nodes` (a partial Fisher-Yates shuffle),
/// returned in id order.
fn choose(nodes: &[NodeId], count: u32, rng: &mut SimRng) -> Vec<NodeId> {
    let mut pool = nodes.to_vec();
    let count = (count as usize).min(pool.len());
    for i in 0..count {
        let j = i + rng.below((pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(count);
    pool.sort();
    pool
}

impl QuorumKv {
    /// A put arrives: create the version, store it here if this node is a target, sync, and
    /// send the copy to the other targets.
    pub(super) fn start_write(
        &mut self,
        id: RequestId,
        key: Key,
        value: Value,
        context: Option<CausalContext>,
        ctx: &mut Ctx<Self>,
    ) {
        let homes = self.preference_list(key);
        let me = ctx.node();
        if self.config.versions == Versioning::VectorClocks && !homes.contains(&me) {
            // A new dot must follow every dot this node ever gave the key, which only a
            // replica of the key knows.
            let to = homes[ctx.rng().below(homes.len() as u64) as usize];
            return ctx.reply(id, Reply::Redirect(Some(to)));
        }
        let (version, object) = self.new_version(key, value, context, ctx);
        let targets = if self.config.partial_quorum {
            choose(&homes, self.config.w, ctx.rng())
        } else {
            homes
        };
        let mut write = PendingWrite {
            key,
            object,
            version,
            value,
            targets,
            acked: BTreeSet::new(),
            stand_ins: BTreeMap::new(),
            covered: BTreeSet::new(),
            replied: false,
        };
        if write.targets.contains(&me) {
            self.store_object(key, &write.object, ctx);
            // Copies travel whole: a replica that learns this dot learns every sibling the
            // coordinator holds with it, which keeps version vectors contiguous.
            write.object = self.store[&key].clone();
            write.acked.insert(me);
            // The copies and any answer leave only once the version is on this node's disk:
            // a crash must not let the coordinator give the same dot to another write.
            ctx.sync();
        }
        for target in write.targets.iter().filter(|t| **t != me) {
            let store = QkMessage::Store {
                request: id,
                key,
                object: write.object.clone(),
                stand_in_for: None,
            };
            ctx.send(*target, store);
        }
        ctx.set_timer(QkTimer::Deadline(id), self.config.request_timeout.0);
        if self.config.sloppy_quorum {
            ctx.set_timer(QkTimer::StandIn(id), self.config.stand_in_after.0);
        }
        self.writes.insert(id, write);
        self.advance_write(id, ctx);
    }

    /// The version a put creates: a dot after every dot this node gave the key, with the
    /// client's context as its past; or a stamp from this node's wall clock.
    fn new_version(
        &self,
        key: Key,
        value: Value,
        context: Option<CausalContext>,
        ctx: &mut Ctx<Self>,
    ) -> (Version, Object) {
        let me = ctx.node();
        match self.config.versions {
            Versioning::VectorClocks => {
                let past = self.client_context(context, ctx);
                let known = match self.store.get(&key) {
                    Some(Object::Siblings(siblings)) => siblings.context(),
                    _ => VersionVector::default(),
                };
                let dot = Dot {
                    node: me,
                    counter: known.get(me) + 1,
                };
                let sibling = Sibling { dot, past, value };
                (Version::Dot(dot), Object::Siblings(Siblings::one(sibling)))
            }
            Versioning::Timestamps => {
                let stamp = Stamp {
                    wall_ns: ctx.wall_clock().0,
                    node: me,
                };
                let stamped = Stamped { stamp, value };
                (Version::Stamped(stamped), Object::Stamped(stamped))
            }
        }
    }

    /// The client's context as a version vector; a context this protocol did not issue is
    /// treated as empty (a blind write), with a note in the trace.
    fn client_context(&self, context: Option<CausalContext>, ctx: &mut Ctx<Self>) -> VersionVector {
        let Some(context) = context else {
            return VersionVector::default();
        };
        match VersionVector::from_context(&context, ctx.node_count()) {
            Ok(vector) => vector,
            Err(reason) => {
                ctx.annotate(format!("ignored a causal context: {reason}"));
                VersionVector::default()
            }
        }
    }

    /// A replica (or stand-in) receives a copy: merge, sync, acknowledge.
    pub(super) fn on_store(
        &mut self,
        from: NodeId,
        request: RequestId,
        key: Key,
        object: Object,
        stand_in_for: Option<NodeId>,
        ctx: &mut Ctx<Self>,
    ) {
        match stand_in_for {
            None => {
                self.store_object(key, &object, ctx);
            }
            Some(home) => self.keep_hint(home, key, &object, ctx),
        }
        // Sync even when nothing changed: the acknowledgement vouches for the copy, and the
        // sync of an earlier message that carried it may still be running.
        ctx.sync();
        ctx.send(from, QkMessage::Stored { request });
    }

    /// Keeps a copy for `home` (merged with any earlier one) until it can be handed back.
    pub(super) fn keep_hint(
        &mut self,
        home: NodeId,
        key: Key,
        object: &Object,
        ctx: &mut Ctx<Self>,
    ) {
        let changed = match self.hints.get_mut(&(home, key)) {
            Some(kept) => kept.merge(object),
            None => {
                self.hints.insert((home, key), object.clone());
                true
            }
        };
        if changed {
            let object = self.hints[&(home, key)].clone();
            ctx.persist(QkWrite::Hint { home, key, object });
        }
    }

    /// A target or a stand-in acknowledged a write.
    pub(super) fn on_stored(&mut self, from: NodeId, request: RequestId, ctx: &mut Ctx<Self>) {
        let Some(write) = self.writes.get_mut(&request) else {
            return; // Answered and done, timed out, or from before a restart.
        };
        if write.targets.contains(&from) {
            write.acked.insert(from);
        } else if let Some(home) = write.stand_ins.get(&from) {
            write.covered.insert(*home);
        }
        self.advance_write(request, ctx);
    }

    /// Answers the client once enough acknowledgements are in, and forgets the write once
    /// every target has it (or a stand-in for it).
    fn advance_write(&mut self, request: RequestId, ctx: &mut Ctx<Self>) {
        let needed = self.config.w as usize;
        let counts_stand_ins = self.config.variant == QuorumVariant::SloppyCountedAsStrict;
        let Some(write) = self.writes.get_mut(&request) else {
            return;
        };
        let slots = write.acked.union(&write.covered).count();
        let counted = if counts_stand_ins {
            slots
        } else {
            write.acked.len()
        };
        if !write.replied && counted >= needed {
            write.replied = true;
            ctx.reply(request, Reply::Ok(OpResult::Written));
            let mut acks: Vec<Ack> = write
                .acked
                .iter()
                .map(|node| Ack {
                    node: *node,
                    stand_in_for: None,
                })
                .collect();
            if counts_stand_ins {
                acks.extend(
                    write
                        .stand_ins
                        .iter()
                        .filter(|(_, home)| {
                            write.covered.contains(home) && !write.acked.contains(home)
                        })
                        .map(|(node, home)| Ack {
                            node: *node,
                            stand_in_for: Some(*home),
                        }),
                );
            }
            self.step.events.push(StepEvent::WriteAcknowledged {
                request,
                key: write.key,
                version: write.version,
                value: write.value,
                acks,
            });
        }
        if write.replied && slots == write.targets.len() {
            self.writes.remove(&request);
            ctx.cancel_timer(QkTimer::Deadline(request));
            if self.config.sloppy_quorum {
                ctx.cancel_timer(QkTimer::StandIn(request));
            }
        }
    }

    /// Sloppy quorum: for every target still silent, ask the next node on the ring outside
    /// the key's replicas to keep the write for it.
    pub(super) fn ask_stand_ins(&mut self, request: RequestId, ctx: &mut Ctx<Self>) {
        let Some(write) = self.writes.get(&request) else {
            return;
        };
        let fallbacks: Vec<NodeId> = self
            .ring
            .walk(write.key)
            .into_iter()
            .skip(self.config.n as usize)
            .filter(|node| !write.stand_ins.contains_key(node))
            .collect();
        let silent: Vec<NodeId> = write
            .targets
            .iter()
            .filter(|t| !write.acked.contains(t) && !write.covered.contains(t))
            .copied()
            .collect();
        let pairs: Vec<(NodeId, NodeId)> = fallbacks.into_iter().zip(silent).collect();
        if pairs.is_empty() {
            return;
        }
        // The copy may carry a version whose sync this handler would not otherwise wait for.
        ctx.sync();
        let write = self.writes.get_mut(&request).expect("looked up above");
        for (stand_in, home) in pairs {
            write.stand_ins.insert(stand_in, home);
            let store = QkMessage::Store {
                request,
                key: write.key,
                object: write.object.clone(),
                stand_in_for: Some(home),
            };
            ctx.send(stand_in, store);
        }
    }

    /// A get arrives: ask the replicas (all `n`, or `r` random ones in partial mode).
    pub(super) fn start_read(&mut self, id: RequestId, key: Key, ctx: &mut Ctx<Self>) {
        self.step
            .events
            .push(StepEvent::ReadStarted { request: id, key });
        let homes = self.preference_list(key);
        let asked = if self.config.partial_quorum {
            choose(&homes, self.config.r, ctx.rng())
        } else {
            homes
        };
        let me = ctx.node();
        for replica in asked.iter().filter(|node| **node != me) {
            ctx.send(*replica, QkMessage::Fetch { request: id, key });
        }
        ctx.set_timer(QkTimer::Deadline(id), self.config.request_timeout.0);
        let local = asked.contains(&me);
        self.reads.insert(
            id,
            PendingRead {
                key,
                asked,
                known: BTreeMap::new(),
                merged: None,
                replied: false,
            },
        );
        if local {
            let object = self.store.get(&key).cloned();
            self.on_fetched(me, id, object, ctx);
        }
    }

    /// A replica answered a read: merge, answer the client at `r`, repair the stale.
    pub(super) fn on_fetched(
        &mut self,
        from: NodeId,
        request: RequestId,
        object: Option<Object>,
        ctx: &mut Ctx<Self>,
    ) {
        let needed = self.config.r as usize;
        let Some(read) = self.reads.get_mut(&request) else {
            return;
        };
        if !read.asked.contains(&from) || read.known.contains_key(&from) {
            return; // Not asked, or a duplicate.
        }
        read.known
            .insert(from, object.as_ref().map_or(0, Object::digest));
        if let Some(object) = &object {
            match &mut read.merged {
                Some(merged) => {
                    merged.merge(object);
                }
                None => read.merged = Some(object.clone()),
            }
        }
        if !read.replied && read.known.len() >= needed {
            read.replied = true;
            let merged = read.merged.clone();
            let values = merged.as_ref().map_or_else(Vec::new, Object::values);
            let context = match self.config.versions {
                Versioning::VectorClocks => Some(
                    merged
                        .as_ref()
                        .and_then(Object::read_context)
                        .unwrap_or_default(),
                ),
                Versioning::Timestamps => None,
            };
            ctx.reply(request, Reply::Ok(OpResult::Read { values, context }));
            let from = read.known.keys().copied().collect();
            self.step.events.push(StepEvent::ReadAnswered {
                request,
                seen: merged,
                from,
            });
        }
        if self.config.read_repair && read.replied {
            self.repair_read(request, ctx);
        }
        let read = &self.reads[&request];
        if read.replied && read.known.len() == read.asked.len() {
            self.reads.remove(&request);
            ctx.cancel_timer(QkTimer::Deadline(request));
        }
    }

    /// Sends the merged copy to every replica that answered with less.
    fn repair_read(&mut self, request: RequestId, ctx: &mut Ctx<Self>) {
        let me = ctx.node();
        let read = self.reads.get_mut(&request).expect("a pending read");
        let Some(merged) = read.merged.clone() else {
            return; // Nobody holds anything: nothing to repair.
        };
        let digest = merged.digest();
        let key = read.key;
        let stale: Vec<NodeId> = read
            .known
            .iter_mut()
            .filter(|(_, known)| **known != digest)
            .map(|(node, known)| {
                *known = digest;
                *node
            })
            .collect();
        for node in stale {
            if node == me {
                self.store_object(key, &merged, ctx);
            } else {
                ctx.send(node, QkMessage::Repair(vec![(key, merged.clone())]));
            }
        }
    }

    /// The coordinator timeout: answer what is still unanswered, and forget the request.
    pub(super) fn on_deadline(&mut self, request: RequestId, ctx: &mut Ctx<Self>) {
        if let Some(write) = self.writes.remove(&request) {
            if self.config.sloppy_quorum {
                ctx.cancel_timer(QkTimer::StandIn(request));
            }
            if !write.replied {
                let reason = self.timeout_reason(&write);
                ctx.reply(request, Reply::Indeterminate(reason));
            }
        }
        if let Some(read) = self.reads.remove(&request) {
            if !read.replied {
                let reason = format!(
                    "only {} of r = {} replicas answered within {}",
                    read.known.len(),
                    self.config.r,
                    self.config.request_timeout.0
                );
                ctx.reply(request, Reply::Fail(reason));
                self.step.events.push(StepEvent::ReadAbandoned { request });
            }
        }
    }

    /// Why a write is indeterminate, in words.
    fn timeout_reason(&self, write: &PendingWrite) -> String {
        let w = self.config.w;
        let names = |nodes: &mut dyn Iterator<Item = &NodeId>| {
            nodes.map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        };
        let sloppy = write.acked.union(&write.covered).count();
        if sloppy >= w as usize {
            let stand_ins = write
                .stand_ins
                .iter()
                .filter(|(_, home)| write.covered.contains(home))
                .map(|(node, home)| format!("{node} for {home}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "stored by a sloppy quorum ({stand_ins} standing in) but by only {} of w = {w} of the key's replicas within {}: quorum reads see it once it is handed back",
                write.acked.len(),
                self.config.request_timeout.0
            )
        } else {
            format!(
                "{} of w = {w} replicas acknowledged within {} ({}): the write may or may not have taken effect",
                write.acked.len(),
                self.config.request_timeout.0,
                names(&mut write.acked.iter())
            )
        }
    }
}
