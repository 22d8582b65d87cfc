//! Laws, checked by proptest: clock inversion, duration text round trips, probabilities,
//! and stream independence.

use proptest::prelude::*;
use sim_core::clock::{MonoTime, NodeClock};
use sim_core::rng::{Purpose, SimRng};
use sim_core::time::{
    format_nanos_exact, parse_signed_nanos, SignedDuration, SimDuration, SimTime,
};

proptest! {
    /// The deadline the engine schedules a timer at is the first true instant at which the
    /// local monotonic clock has reached the target: never early, never a nanosecond late.
    #[test]
    fn timer_deadlines_are_exact_inverses(
        drift_ppb in -100_000_000i64..100_000_000,
        offset in -10_000_000_000i64..10_000_000_000,
        target in 0u64..10_000_000_000_000,
    ) {
        let clock = NodeClock::with_drift_ppb(SignedDuration(offset), drift_ppb);
        let fire = clock.true_time_at_monotonic(MonoTime(target));
        prop_assert!(clock.monotonic(fire).0 >= target);
        if fire.0 > 0 {
            prop_assert!(clock.monotonic(SimTime(fire.0 - 1)).0 < target);
        }
    }

    /// The fast 64-bit clock arithmetic agrees with the plain 128-bit formula everywhere.
    #[test]
    fn monotonic_matches_the_reference_formula(drift_ppb in -500_000_000i64..999_999_999, t: u64) {
        let clock = NodeClock::with_drift_ppb(SignedDuration(0), drift_ppb);
        let reference = t as i128 + (t as i128 * drift_ppb as i128).div_euclid(1_000_000_000);
        prop_assert_eq!(clock.monotonic(SimTime(t)).0, reference as u64);
    }

    /// Monotonic clocks never run backwards, whatever the drift.
    #[test]
    fn monotonic_never_decreases(drift_ppb in -100_000_000i64..100_000_000, t in 0u64..u64::MAX / 4) {
        let clock = NodeClock::with_drift_ppb(SignedDuration(0), drift_ppb);
        prop_assert!(clock.monotonic(SimTime(t)) <= clock.monotonic(SimTime(t + 1)));
    }

    /// Steps move the wall clock by exactly their amount and leave the monotonic clock alone.
    #[test]
    fn steps_move_only_the_wall_clock(step in -1_000_000_000i64..1_000_000_000, at in 0u64..1_000_000_000_000) {
        let plain = NodeClock::new(SignedDuration(0), 37);
        let mut stepped = plain.clone();
        stepped.step(SimTime(at), SignedDuration(step));
        let later = SimTime(at + 5);
        prop_assert_eq!(stepped.wall(later).0 - plain.wall(later).0, step);
        prop_assert_eq!(stepped.monotonic(later), plain.monotonic(later));
        prop_assert_eq!(stepped.wall(SimTime(at.saturating_sub(1))), plain.wall(SimTime(at.saturating_sub(1))));
    }

    /// Exact duration text parses back to the same number of nanoseconds.
    #[test]
    fn duration_text_round_trips(nanos in -(i64::MAX as i128)..(i64::MAX as i128)) {
        prop_assert_eq!(parse_signed_nanos(&format_nanos_exact(nanos)).unwrap(), nanos);
    }

    /// Uniform draws stay inside their range.
    #[test]
    fn between_stays_inside(low in 0u64..1_000_000, width in 0u64..1_000_000, seed: u64) {
        let mut rng = SimRng::stream(seed, Purpose::Test, 0);
        for _ in 0..16 {
            let v = rng.between(low, low + width);
            prop_assert!(v >= low && v <= low + width);
        }
    }
}

#[test]
fn durations_add_without_wrapping() {
    assert_eq!((SimTime(u64::MAX - 1) + SimDuration(10)).0, u64::MAX);
}
