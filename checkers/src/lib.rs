//! History checkers. They read a run's [`History`](sim_core::history::History) and the
//! replicas' final views, never the engine's internals, and know no protocol.

pub mod convergence;
pub mod lost_writes;
