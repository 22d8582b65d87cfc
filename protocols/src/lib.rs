//! faultline's bundled protocols. Each is a pure state machine implementing
//! [`sim_core::protocol::Protocol`], with its own invariants and known-bad variants.

pub mod lww;
pub mod quorum_kv;
pub mod raft;
pub mod vclock;
