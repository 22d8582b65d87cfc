//! faultline's engine: a seeded, single-threaded event loop that runs a replication protocol
//! over simulated nodes, clocks, network and faults, drives client workloads, and records the
//! history and a hashed trace.
//!
//! Layout: [`time`] and [`rng`] are the foundations; [`clock`], [`network`], [`fault`] and
//! [`workload`] model the world; [`protocol`] is the contract a protocol implements;
//! [`engine`] runs it all; [`history`] and [`trace`] are what a run leaves behind;
//! [`scenario`] reads the RON files that describe runs.

pub mod clock;
pub mod engine;
pub mod fault;
pub mod history;
pub mod ids;
pub mod network;
pub mod protocol;
pub mod rng;
pub mod scenario;
pub mod time;
pub mod trace;
pub mod workload;
