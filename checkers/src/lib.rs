//! History checkers. They read a run's [`History`](sim_core::history::History) and the
//! replicas' final views, never the engine's internals, and know no protocol.

pub mod causal;
pub mod convergence;
pub mod history_formats;
pub mod ladder;
pub mod linearizability;
pub mod lost_writes;
pub mod session;
pub mod stale_reads;
