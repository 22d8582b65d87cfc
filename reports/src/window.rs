//! The space-time window: the trace events around the report's focus (the first violation, or
//! the first divergence), captured by replaying the run with a [`TraceCapture`] sink. A run is
//! a pure function of its scenario and seed, so the replay sees exactly the events of the run
//! being reported; only this window is kept, so memory stays bounded whatever the run's length.

use serde::{Deserialize, Serialize};
use sim_core::ids::NodeId;
use sim_core::time::SimTime;
use sim_core::trace::{TraceKind, TraceRecord, TraceSink};
use std::collections::VecDeque;

/// Events kept before the focus (at or before its time).
pub const EVENTS_BEFORE_MAX: usize = 240;
/// Events kept after the focus.
pub const EVENTS_AFTER_MAX: usize = 160;
/// Events older than this before the focus are never kept, however quiet the run.
pub const LOOKBACK_NS_MAX: u64 = 2_000_000_000;
/// The longest event text kept, in bytes.
pub const TEXT_BYTES_MAX: usize = 200;
/// Messages and faults kept for the chain of events behind the first divergence.
pub const CHAIN_EVENTS_MAX: usize = 24;

/// One trace event in the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowEvent {
    /// Position in the trace.
    pub index: u64,
    /// True time, in ns.
    pub t_ns: u64,
    /// The kind's name (send, deliver, drop, request, reply, fault, ...).
    pub kind: String,
    /// For a drop, why.
    pub reason: Option<String>,
    /// The node it happened on (for send and drop: the sender; for deliver: the receiver).
    pub node: String,
    /// The other party: a node for messages ("n2"), a client for client events ("c1").
    pub peer: String,
    /// For messages: the message digest, which pairs a send with its delivery or drop.
    pub digest: Option<u64>,
    /// What happened, in words.
    pub text: String,
}

/// The events around the focus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceTime {
    /// The focus, in ns.
    pub focus_ns: u64,
    /// What the focus is.
    pub focus: String,
    /// The first event's time, in ns.
    pub start_ns: u64,
    /// The last event's time, in ns.
    pub end_ns: u64,
    /// The events, in trace order.
    pub events: Vec<WindowEvent>,
}

/// Where the chain capture looks: a time range and the nodes involved.
#[derive(Clone, Debug)]
pub struct ChainFocus {
    /// From this true time.
    pub from: SimTime,
    /// To this true time.
    pub to: SimTime,
    /// Only events on these nodes (and messages between them).
    pub nodes: Vec<NodeId>,
    /// The operation whose request starts the divergence.
    pub op: Option<u64>,
    /// The diverging key ("k3"): messages whose text names other keys only are left out.
    pub key: Option<String>,
}

/// Whether a message's text is about `key`: it names it, or names no key at all (a protocol
/// whose messages do not show keys keeps all its messages).
fn about(text: &str, key: &str) -> bool {
    let tokens = text.split(|c: char| !c.is_ascii_alphanumeric());
    let mut names_a_key = false;
    for token in tokens {
        if token == key {
            return true;
        }
        let is_key = token.len() > 1
            && token.starts_with('k')
            && token[1..].bytes().all(|b| b.is_ascii_digit());
        names_a_key |= is_key;
    }
    !names_a_key
}

/// A trace sink that keeps the events around a focus time, and the events behind the first
/// divergence; see the module documentation.
pub struct TraceCapture {
    focus: SimTime,
    focus_label: String,
    lookback_from: u64,
    before: VecDeque<WindowEvent>,
    after: Vec<WindowEvent>,
    chain_focus: Option<ChainFocus>,
    chain: VecDeque<WindowEvent>,
    request_event: Option<u64>,
}

impl TraceCapture {
    /// Keeps the events around `focus`.
    pub fn new(focus: SimTime, focus_label: String, chain: Option<ChainFocus>) -> Self {
        TraceCapture {
            focus,
            focus_label,
            lookback_from: focus.0.saturating_sub(LOOKBACK_NS_MAX),
            before: VecDeque::new(),
            after: Vec::new(),
            chain_focus: chain,
            chain: VecDeque::new(),
            request_event: None,
        }
    }

    fn in_focus(&self, record: &TraceRecord) -> bool {
        if record.time.0 < self.lookback_from {
            return false;
        }
        record.time <= self.focus || self.after.len() < EVENTS_AFTER_MAX
    }

    fn in_chain(&self, record: &TraceRecord) -> bool {
        let Some(chain) = &self.chain_focus else {
            return false;
        };
        if record.time < chain.from || record.time > chain.to {
            return false;
        }
        let message = matches!(
            record.kind,
            TraceKind::Send | TraceKind::Deliver | TraceKind::Drop(_) | TraceKind::Duplicate
        );
        let on = |n: u32| chain.nodes.contains(&NodeId(n));
        match record.kind {
            TraceKind::Fault | TraceKind::Resume | TraceKind::Annotation => on(record.node.0),
            _ if message => on(record.node.0) && on(record.peer),
            TraceKind::Request => chain.op == Some(record.detail),
            _ => false,
        }
    }

    /// The window, once the replay has finished.
    pub fn space_time(&self) -> SpaceTime {
        let events: Vec<WindowEvent> = self.before.iter().chain(&self.after).cloned().collect();
        SpaceTime {
            focus_ns: self.focus.0,
            focus: self.focus_label.clone(),
            start_ns: events.first().map_or(self.focus.0, |e| e.t_ns),
            end_ns: events.last().map_or(self.focus.0, |e| e.t_ns),
            events,
        }
    }

    /// The messages, faults and notes behind the first divergence, in trace order.
    pub fn chain_events(&self) -> Vec<WindowEvent> {
        self.chain.iter().cloned().collect()
    }

    /// The trace index of the request that began the first divergence.
    pub fn request_event(&self) -> Option<u64> {
        self.request_event
    }
}

/// A trace record as the report keeps it.
pub(crate) fn window_event(record: &TraceRecord, text: &str) -> WindowEvent {
    let message = matches!(
        record.kind,
        TraceKind::Send | TraceKind::Deliver | TraceKind::Drop(_) | TraceKind::Duplicate
    );
    let fault = matches!(
        record.kind,
        TraceKind::Fault | TraceKind::Resume | TraceKind::SyncDone | TraceKind::SettleStart
    );
    let peer = if message {
        NodeId(record.peer).to_string()
    } else if fault || record.kind == TraceKind::Timer || record.kind == TraceKind::Annotation {
        String::new()
    } else {
        sim_core::ids::ClientId(record.peer).to_string()
    };
    let mut text = text.to_string();
    if text.len() > TEXT_BYTES_MAX {
        let mut cut = TEXT_BYTES_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    WindowEvent {
        index: record.index,
        t_ns: record.time.0,
        kind: record.kind.name().to_string(),
        reason: match record.kind {
            TraceKind::Drop(reason) => Some(reason.name().to_string()),
            _ => None,
        },
        node: record.node.to_string(),
        peer,
        digest: message.then_some(record.detail),
        text,
    }
}

impl TraceSink for TraceCapture {
    fn event(&mut self, record: &TraceRecord, description: &str) {
        let key = self.chain_focus.as_ref().and_then(|c| c.key.as_deref());
        if self.in_chain(record) && key.is_none_or(|key| about(description, key)) {
            if record.kind == TraceKind::Request && self.request_event.is_none() {
                self.request_event = Some(record.index);
            }
            self.chain.push_back(window_event(record, description));
            if self.chain.len() > CHAIN_EVENTS_MAX {
                self.chain.pop_front();
            }
        }
        if !self.in_focus(record) {
            return;
        }
        let event = window_event(record, description);
        if record.time <= self.focus {
            self.before.push_back(event);
            if self.before.len() > EVENTS_BEFORE_MAX {
                self.before.pop_front();
            }
        } else {
            self.after.push(event);
        }
    }

    fn wants_text(&self, record: &TraceRecord) -> bool {
        self.in_focus(record) || self.in_chain(record)
    }
}

#[cfg(test)]
mod tests {
    use super::about;

    #[test]
    fn a_message_is_about_the_key_it_names_or_about_any_key_when_it_names_none() {
        assert!(about("n1 -> n2: Update([(k3, v7)])", "k3"));
        assert!(!about("n1 -> n2: Update([(k31, v7)])", "k3"));
        assert!(about("n1 -> n2: Heartbeat { term: 4 }", "k3"));
    }
}
