//! Background repair: anti-entropy between replicas, and hinted handoff from stand-ins.

use super::version::Object;
use super::{QkMessage, QkWrite, QuorumKv, EXCHANGE_KEYS_MAX};
use sim_core::ids::{Key, NodeId};
use sim_core::protocol::Ctx;
use std::collections::BTreeMap;

impl QuorumKv {
    /// Whether `node` is one of `key`'s replicas.
    fn replicates(&self, node: NodeId, key: Key) -> bool {
        self.preference_list(key).contains(&node)
    }

    /// Anti-entropy, step 1: send the next peer (in turn) the digests of the next keys both of
    /// us replicate, at most [`EXCHANGE_KEYS_MAX`] of them, starting where the last exchange
    /// with any peer stopped.
    pub(super) fn send_digest(&mut self, ctx: &mut Ctx<Self>) {
        let peers: Vec<NodeId> = ctx.peers().collect();
        let Some(peer) = peers
            .get(self.anti_entropy_turn.0 as usize % peers.len().max(1))
            .copied()
        else {
            return; // A cluster of one has no one to compare with.
        };
        let from = self.anti_entropy_turn.1;
        let shared: Vec<(Key, u64)> = self
            .store
            .range(from..)
            .filter(|(key, _)| self.replicates(peer, **key))
            .take(EXCHANGE_KEYS_MAX)
            .map(|(key, object)| (*key, object.digest()))
            .collect();
        let full = shared.len() == EXCHANGE_KEYS_MAX;
        // A full batch covers keys up to its last one; the next exchange starts after it.
        let to = if full {
            shared.last().expect("a full batch").0
        } else {
            Key(u32::MAX)
        };
        let next_turn = self.anti_entropy_turn.0.wrapping_add(1);
        self.anti_entropy_turn = match to.0.checked_add(1) {
            Some(next) if full => (self.anti_entropy_turn.0, Key(next)),
            _ => (next_turn, Key(0)),
        };
        ctx.send(
            peer,
            QkMessage::Digest {
                from,
                to,
                entries: shared,
            },
        );
    }

    /// Anti-entropy, step 2: compare the digests with my copies of the keys in the range;
    /// answer with my copies where we differ and ask for the sender's.
    pub(super) fn on_digest(
        &mut self,
        peer: NodeId,
        from: Key,
        to: Key,
        entries: Vec<(Key, u64)>,
        ctx: &mut Ctx<Self>,
    ) {
        let theirs: BTreeMap<Key, u64> = entries.into_iter().collect();
        let mut objects = Vec::new();
        let mut wanted = Vec::new();
        for (key, digest) in &theirs {
            match self.store.get(key) {
                Some(mine) if mine.digest() == *digest => {}
                Some(mine) => {
                    objects.push((*key, mine.clone()));
                    wanted.push(*key);
                }
                None => wanted.push(*key),
            }
        }
        for (key, mine) in self.store.range(from..=to) {
            if objects.len() >= EXCHANGE_KEYS_MAX {
                break; // The rest waits for the next round.
            }
            if !theirs.contains_key(key) && self.replicates(peer, *key) {
                objects.push((*key, mine.clone()));
            }
        }
        if !objects.is_empty() || !wanted.is_empty() {
            ctx.send(peer, QkMessage::DigestReply { objects, wanted });
        }
    }

    /// Anti-entropy, step 3: merge the peer's copies, then send it mine of the keys it wants.
    pub(super) fn on_digest_reply(
        &mut self,
        peer: NodeId,
        objects: Vec<(Key, Object)>,
        wanted: Vec<Key>,
        ctx: &mut Ctx<Self>,
    ) {
        for (key, object) in objects {
            if self.replicates(ctx.node(), key) {
                self.store_object(key, &object, ctx);
            }
        }
        let mine: Vec<(Key, Object)> = wanted
            .into_iter()
            .filter_map(|key| self.store.get(&key).map(|o| (key, o.clone())))
            .collect();
        if !mine.is_empty() {
            ctx.send(peer, QkMessage::Repair(mine));
        }
    }

    /// Hinted handoff: offer every hint to its home replica, a batch per home.
    pub(super) fn offer_hints(&mut self, ctx: &mut Ctx<Self>) {
        let mut batches: BTreeMap<NodeId, Vec<(Key, Object)>> = BTreeMap::new();
        for ((home, key), object) in &self.hints {
            let batch = batches.entry(*home).or_default();
            if batch.len() < EXCHANGE_KEYS_MAX {
                batch.push((*key, object.clone()));
            }
        }
        for (home, batch) in batches {
            ctx.send(home, QkMessage::Handoff(batch));
        }
    }

    /// A home replica receives its hints: merge, sync, acknowledge each by digest.
    pub(super) fn on_handoff(
        &mut self,
        from: NodeId,
        objects: Vec<(Key, Object)>,
        ctx: &mut Ctx<Self>,
    ) {
        let mut entries = Vec::with_capacity(objects.len());
        for (key, object) in objects {
            self.store_object(key, &object, ctx);
            entries.push((key, object.digest()));
        }
        // The stand-in deletes its copy on this answer: ours must be on disk first.
        ctx.sync();
        ctx.send(from, QkMessage::HandedOff(entries));
    }

    /// A stand-in hears that its hints are home: delete each one that has not changed since.
    pub(super) fn on_handed_off(
        &mut self,
        home: NodeId,
        entries: Vec<(Key, u64)>,
        ctx: &mut Ctx<Self>,
    ) {
        for (key, digest) in entries {
            let delivered = self
                .hints
                .get(&(home, key))
                .is_some_and(|kept| kept.digest() == digest);
            if delivered {
                self.hints.remove(&(home, key));
                ctx.persist(QkWrite::HintRemoved { home, key });
            }
        }
    }
}
