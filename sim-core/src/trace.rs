//! The trace: every event gets an index and a compact fixed-size record. Records feed a stable
//! hash (printed with every run), a bounded window of recent events (for reports), and, only
//! when asked for, a full stream of JSON Lines.
//!
//! # The trace hash ("faultline-trace-v1")
//!
//! Each record is encoded as four little-endian u64 words:
//! `w0 = kind tag | (drop reason << 8)`, `w1 = true time in ns`, `w2 = node | (peer << 32)`,
//! `w3 = detail` (a message digest, an operation id, a fault index...). The running state `h`
//! starts at `0x6661756c746c696e` ("faultlin") and for each record becomes
//! `rotl(h ^ (w0*K0 ^ w1*K1 ^ w2*K2 ^ w3*K3), 29) * K4` (wrapping arithmetic, constants below).
//! The printed hash is SplitMix64's finalizer applied to `h ^ event_count`.
//! Message payloads enter through `w3`, a digest computed by [`StableHasher`] from the
//! message's `Hash` implementation with integers widened to fixed little-endian widths.

use crate::ids::NodeId;
use crate::network::DropReason;
use crate::rng::splitmix64;
use crate::time::SimTime;
use serde::Serialize;
use std::fmt;
use std::hash::{Hash, Hasher};

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K2: u64 = 0x1656_67B1_9E37_79F9;
const K3: u64 = 0x85EB_CA77_C2B2_AE63;
const K4: u64 = 0xFF51_AFD7_ED55_8CCD;
const HASH_START: u64 = 0x6661_756c_746c_696e;

/// What happened, as a fixed tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceKind {
    /// node sent a message to peer (detail: message digest).
    Send,
    /// peer's message was delivered to node (detail: message digest).
    Deliver,
    /// A message from node to peer was dropped.
    Drop(DropReason),
    /// The network delivered an extra copy of a message from node to peer.
    Duplicate,
    /// A timer fired on node (detail: timer digest).
    Timer,
    /// A client request reached node (peer: client, detail: operation).
    Request,
    /// Node answered a client (peer: client, detail: operation).
    Reply,
    /// A client invoked an operation aimed at node (peer: client, detail: operation).
    Invoke,
    /// A client learned an operation's outcome (peer: client, detail: operation).
    Complete,
    /// A client gave up waiting (peer: client, detail: operation).
    ClientTimeout,
    /// A client request could not reach a crashed node (peer: client, detail: operation).
    RequestLost,
    /// A fault from the schedule took effect (detail: schedule index).
    Fault,
    /// A paused node resumed (node).
    Resume,
    /// A node's sync finished (detail: writes made durable so far).
    SyncDone,
    /// The fault phase ended; settle began.
    SettleStart,
    /// The protocol wrote a note (detail: digest of the text).
    Annotation,
    /// A reply waiting for a sync was lost when its node crashed (peer: client, detail: operation).
    ReplyLost,
}

impl TraceKind {
    /// The fixed encoding: low byte a kind tag, next byte a drop reason.
    #[inline]
    pub fn tag(self) -> u64 {
        match self {
            TraceKind::Send => 1,
            TraceKind::Deliver => 2,
            TraceKind::Drop(reason) => 3 | (reason.tag() << 8),
            TraceKind::Duplicate => 4,
            TraceKind::Timer => 5,
            TraceKind::Request => 6,
            TraceKind::Reply => 7,
            TraceKind::Invoke => 8,
            TraceKind::Complete => 9,
            TraceKind::ClientTimeout => 10,
            TraceKind::RequestLost => 11,
            TraceKind::Fault => 12,
            TraceKind::Resume => 13,
            TraceKind::SyncDone => 14,
            TraceKind::SettleStart => 15,
            TraceKind::Annotation => 16,
            TraceKind::ReplyLost => 17,
        }
    }

    /// A short name for the one-line log and JSON.
    pub fn name(self) -> &'static str {
        match self {
            TraceKind::Send => "send",
            TraceKind::Deliver => "deliver",
            TraceKind::Drop(_) => "drop",
            TraceKind::Duplicate => "duplicate",
            TraceKind::Timer => "timer",
            TraceKind::Request => "request",
            TraceKind::Reply => "reply",
            TraceKind::Invoke => "invoke",
            TraceKind::Complete => "complete",
            TraceKind::ClientTimeout => "client-timeout",
            TraceKind::RequestLost => "request-lost",
            TraceKind::Fault => "fault",
            TraceKind::Resume => "resume",
            TraceKind::SyncDone => "sync-done",
            TraceKind::SettleStart => "settle-start",
            TraceKind::Annotation => "annotation",
            TraceKind::ReplyLost => "reply-lost",
        }
    }
}

/// One event, compactly: fixed size, `Copy`, cheap to hash and to keep in a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TraceRecord {
    /// Position in the trace, from 0.
    pub index: u64,
    /// True time.
    pub time: SimTime,
    /// What happened.
    pub kind: TraceKind,
    /// The node it happened on (or from).
    pub node: NodeId,
    /// The other party: a peer node, or a client number for client events.
    pub peer: u32,
    /// Kind-specific: message digest, operation id, fault index.
    pub detail: u64,
}

impl TraceRecord {
    #[inline]
    fn words(&self) -> [u64; 4] {
        [
            self.kind.tag(),
            self.time.0,
            self.node.0 as u64 | ((self.peer as u64) << 32),
            self.detail,
        ]
    }
}

/// A fixed, portable hasher for message digests: integers are widened to 64-bit
/// little-endian words, so digests agree across platforms and runs.
#[derive(Clone, Copy, Debug)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher { state: HASH_START }
    }
}

impl StableHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word.wrapping_mul(K0))
            .rotate_left(29)
            .wrapping_mul(K4);
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        splitmix64(self.state)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(i as u64);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.mix(i as i64 as u64);
    }
}

/// The stable digest of any `Hash` value (messages, timers).
#[inline]
pub fn digest<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The running trace hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHasher {
    state: u64,
    count: u64,
}

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher {
            state: HASH_START,
            count: 0,
        }
    }
}

impl TraceHasher {
    /// Folds one record into the hash.
    #[inline]
    pub fn add(&mut self, record: &TraceRecord) {
        let [w0, w1, w2, w3] = record.words();
        let folded =
            w0.wrapping_mul(K0) ^ w1.wrapping_mul(K1) ^ w2.wrapping_mul(K2) ^ w3.wrapping_mul(K3);
        self.state = (self.state ^ folded).rotate_left(29).wrapping_mul(K4);
        self.count += 1;
    }

    /// The hash of everything added so far.
    pub fn finish(&self) -> TraceHash {
        TraceHash(splitmix64(self.state ^ self.count))
    }
}

/// A trace hash, printed as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TraceHash(pub u64);

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for TraceHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// Receives every event as it happens, with a description; used for `--trace FILE`.
pub trait TraceSink {
    /// Called once per event, in order.
    fn event(&mut self, record: &TraceRecord, description: &str);

    /// Whether `event` needs the record's description; a sink that keeps only some records
    /// says no for the others, and the engine skips formatting text nobody reads (the
    /// description is then empty).
    fn wants_text(&self, _record: &TraceRecord) -> bool {
        true
    }
}

/// Writes one JSON object per line: `{"i":..,"t_ns":..,"kind":..,"node":..,"peer":..,"detail":..,"text":..}`.
pub struct JsonLinesSink<W: std::io::Write> {
    out: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> JsonLinesSink<W> {
    /// Streams to `out`.
    pub fn new(out: W) -> Self {
        JsonLinesSink { out, error: None }
    }

    /// Flushes and returns the first write error, if any happened.
    pub fn finish(mut self) -> Result<W, std::io::Error> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: std::io::Write> TraceSink for JsonLinesSink<W> {
    fn event(&mut self, record: &TraceRecord, description: &str) {
        if self.error.is_some() {
            return;
        }
        let reason = match record.kind {
            TraceKind::Drop(reason) => Some(reason.name()),
            _ => None,
        };
        let line = serde_json::json!({
            "i": record.index,
            "t_ns": record.time.0,
            "kind": record.kind.name(),
            "reason": reason,
            "node": record.node.to_string(),
            "peer": record.peer,
            "detail": record.detail,
            "text": description,
        });
        if let Err(error) = writeln!(self.out, "{line}") {
            self.error = Some(error);
        }
    }
}

/// The last `capacity` records: what a report shows without keeping the whole run.
#[derive(Clone, Debug)]
pub struct TraceWindow {
    capacity: usize,
    /// A ring: once full, `next` is both the oldest record and the slot written next.
    records: Vec<TraceRecord>,
    next: usize,
}

impl TraceWindow {
    /// A window of at most `capacity` records (0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        TraceWindow {
            capacity,
            records: Vec::with_capacity(capacity.min(1 << 16)),
            next: 0,
        }
    }

    /// Keeps `record`, overwriting the oldest when full.
    #[inline]
    pub fn push(&mut self, record: TraceRecord) {
        if self.records.len() < self.capacity {
            self.records.push(record);
        } else if self.capacity > 0 {
            self.records[self.next] = record;
            self.next = if self.next + 1 == self.capacity {
                0
            } else {
                self.next + 1
            };
        }
    }

    /// The records kept, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &TraceRecord> {
        let (newer, older) = self.records.split_at(self.next);
        older.iter().chain(newer.iter())
    }

    /// A copy of the records kept, oldest first.
    pub fn to_vec(&self) -> Vec<TraceRecord> {
        self.records().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64, kind: TraceKind) -> TraceRecord {
        TraceRecord {
            index,
            time: SimTime(index * 10),
            kind,
            node: NodeId(1),
            peer: 2,
            detail: 99,
        }
    }

    #[test]
    fn hash_depends_on_every_field_and_on_order() {
        let a = record(0, TraceKind::Send);
        let b = record(1, TraceKind::Deliver);
        let mut h1 = TraceHasher::default();
        h1.add(&a);
        h1.add(&b);
        let mut h2 = TraceHasher::default();
        h2.add(&b);
        h2.add(&a);
        assert_ne!(h1.finish(), h2.finish());
        for change in 0..4 {
            let mut other = b;
            match change {
                0 => other.kind = TraceKind::Drop(DropReason::Lost),
                1 => other.time = SimTime(11),
                2 => other.peer = 3,
                _ => other.detail = 100,
            }
            let mut h3 = TraceHasher::default();
            h3.add(&a);
            h3.add(&other);
            assert_ne!(h1.finish(), h3.finish(), "change {change}");
        }
    }

    #[test]
    fn digests_are_fixed() {
        // A change here changes every trace hash: only on purpose.
        assert_eq!(digest(&(1u32, "ab")), digest(&(1u32, "ab")));
        assert_ne!(digest(&(1u32, "ab")), digest(&(1u64, "ba")));
    }

    #[test]
    fn window_keeps_only_the_latest() {
        let mut window = TraceWindow::new(3);
        for i in 0..10 {
            window.push(record(i, TraceKind::Timer));
        }
        let kept: Vec<u64> = window.records().map(|r| r.index).collect();
        assert_eq!(kept, vec![7, 8, 9]);
    }
}
