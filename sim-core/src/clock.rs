//! Per-node clocks as pure functions of true time.
//!
//! monotonic(t) = t + t * drift                      (never steps, never slews)
//! wall(t)      = offset + monotonic(t) + steps(t) + slews(t)
//!
//! Drift is held in parts per billion and every product is computed in `i128`, so +100 ppm
//! over one hour is exactly +360 ms.

use crate::time::{SignedDuration, SimDuration, SimTime};
use serde::{Deserialize, Serialize};

/// A node's reading of its wall clock: nanoseconds since the epoch of the run, may be
/// negative (a clock that starts behind) and may jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WallTime(pub i64);

/// A node's reading of its monotonic clock, in local nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MonoTime(pub u64);

/// Parts per billion in one part per million.
const PPB_PER_PPM: i64 = 1_000;
const PPB_ONE: i128 = 1_000_000_000;

/// A gradual correction of the wall clock, NTP-style: `amount_ns` applied at `rate_ppm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slew {
    start: SimTime,
    amount_ns: i64,
    rate_ppm: u32,
}

/// How one node's clocks relate to true time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeClock {
    offset_ns: i64,
    drift_ppb: i64,
    /// Wall-clock steps (true time applied, amount), in the order they happened.
    steps: Vec<(SimTime, i64)>,
    slews: Vec<Slew>,
    /// The most a timer may fire late (the engine draws how late from its own stream).
    timer_slack: SimDuration,
}

impl NodeClock {
    /// A clock starting `offset` ahead of true time (negative: behind) and running
    /// `drift_ppm` parts per million fast (negative: slow).
    pub fn new(offset: SignedDuration, drift_ppm: i64) -> NodeClock {
        NodeClock::with_drift_ppb(offset, drift_ppm * PPB_PER_PPM)
    }

    /// The same clock with timers that fire up to `slack` late, as a loaded machine's
    /// scheduler or timer coalescing makes them: the engine adds a uniform draw in
    /// `0..=slack` to every deadline.
    pub fn with_timer_slack(mut self, slack: SimDuration) -> NodeClock {
        self.timer_slack = slack;
        self
    }

    /// The most a timer fires late.
    pub fn timer_slack(&self) -> SimDuration {
        self.timer_slack
    }

    /// As [`NodeClock::new`] with drift in parts per billion, for sub-ppm precision.
    pub fn with_drift_ppb(offset: SignedDuration, drift_ppb: i64) -> NodeClock {
        assert!(
            drift_ppb > -(PPB_ONE as i64) / 2 && drift_ppb < PPB_ONE as i64,
            "drift {drift_ppb} ppb would make the monotonic clock stop or run backwards"
        );
        NodeClock {
            offset_ns: offset.0,
            drift_ppb,
            steps: Vec::new(),
            slews: Vec::new(),
            timer_slack: SimDuration::ZERO,
        }
    }

    /// A perfect clock.
    pub fn perfect() -> NodeClock {
        NodeClock::new(SignedDuration(0), 0)
    }

    /// The drift in parts per billion.
    pub fn drift_ppb(&self) -> i64 {
        self.drift_ppb
    }

    /// The monotonic clock at true time `t`.
    #[inline]
    pub fn monotonic(&self, t: SimTime) -> MonoTime {
        if self.drift_ppb == 0 {
            return MonoTime(t.0);
        }
        // t + floor(t * d / 1e9), split as t = q * 1e9 + r so that 64-bit products suffice:
        // floor(t * d / 1e9) = q * d + floor(r * d / 1e9), and |r * d| < 1e18.
        let (q, r) = ((t.0 / PPB_ONE as u64) as i64, (t.0 % PPB_ONE as u64) as i64);
        let exact = q.checked_mul(self.drift_ppb).and_then(|qd| {
            let rd = (r * self.drift_ppb).div_euclid(PPB_ONE as i64);
            (t.0 as i64).checked_add(qd)?.checked_add(rd)
        });
        match exact {
            Some(local) if t.0 <= i64::MAX as u64 => MonoTime(local as u64),
            _ => {
                let t = t.0 as i128;
                MonoTime((t + (t * self.drift_ppb as i128).div_euclid(PPB_ONE)) as u64)
            }
        }
    }

    /// The wall clock at true time `t`.
    pub fn wall(&self, t: SimTime) -> WallTime {
        let mut wall = self.offset_ns as i128 + self.monotonic(t).0 as i128;
        for &(at, amount) in &self.steps {
            if at <= t {
                wall += amount as i128;
            }
        }
        for slew in &self.slews {
            wall += slew.applied_by(t) as i128;
        }
        WallTime(wall.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    /// The wall clock's distance from true time at `t` (what a clock-offset chart draws).
    pub fn wall_offset(&self, t: SimTime) -> i64 {
        self.wall(t).0.saturating_sub(t.0 as i64)
    }

    /// Jumps the wall clock by `amount` (forwards or backwards) at true time `at`.
    /// Steps must be applied in time order; the monotonic clock does not move.
    pub fn step(&mut self, at: SimTime, amount: SignedDuration) {
        if let Some(&(last, _)) = self.steps.last() {
            assert!(at >= last, "clock steps must be applied in time order");
        }
        self.steps.push((at, amount.0));
    }

    /// Starts correcting the wall clock by `amount`, gradually, at `rate_ppm` of true time.
    pub fn slew(&mut self, at: SimTime, amount: SignedDuration, rate_ppm: u32) {
        assert!(rate_ppm > 0, "a slew rate of 0 never corrects anything");
        self.slews.push(Slew {
            start: at,
            amount_ns: amount.0,
            rate_ppm,
        });
    }

    /// The earliest true time at which the monotonic clock reads at least `target`.
    /// Timers are scheduled with this: drift stretches or shrinks them.
    pub fn true_time_at_monotonic(&self, target: MonoTime) -> SimTime {
        let target_ns = target.0 as i128;
        // Invert t + t*d/1e9 = m, then settle the rounding by stepping to the exact edge.
        let mut t = (target_ns * PPB_ONE) / (PPB_ONE + self.drift_ppb as i128);
        t = t.max(0);
        while (self.monotonic(SimTime(t as u64)).0 as i128) < target_ns {
            t += 1;
        }
        while t > 0 && (self.monotonic(SimTime((t - 1) as u64)).0 as i128) >= target_ns {
            t -= 1;
        }
        SimTime(t as u64)
    }

    /// The true time at which `local` monotonic nanoseconds will have passed on this clock,
    /// counting from true time `now`.
    pub fn deadline_after(&self, now: SimTime, local: SimDuration) -> SimTime {
        let target = MonoTime(self.monotonic(now).0.saturating_add(local.0));
        self.true_time_at_monotonic(target)
    }
}

impl Slew {
    fn applied_by(&self, t: SimTime) -> i64 {
        if t <= self.start {
            return 0;
        }
        let elapsed = (t.0 - self.start.0) as i128;
        let possible = elapsed * self.rate_ppm as i128 / 1_000_000;
        let magnitude = (self.amount_ns as i128).abs().min(possible);
        (magnitude * (self.amount_ns as i128).signum()) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{NS_PER_MS, NS_PER_S};

    const HOUR: SimTime = SimTime(3_600 * NS_PER_S);

    #[test]
    fn positive_drift_gains_exactly_360ms_per_hour_at_100ppm() {
        let clock = NodeClock::new(SignedDuration(0), 100);
        assert_eq!(clock.monotonic(HOUR).0, HOUR.0 + 360 * NS_PER_MS);
        assert_eq!(clock.wall(HOUR).0, (HOUR.0 + 360 * NS_PER_MS) as i64);
        let slow = NodeClock::new(SignedDuration(0), -100);
        assert_eq!(slow.monotonic(HOUR).0, HOUR.0 - 360 * NS_PER_MS);
    }

    #[test]
    fn a_one_second_timer_fires_at_the_right_true_time_under_drift() {
        let fast = NodeClock::new(SignedDuration(0), 100);
        // A clock 100 ppm fast reaches 1 s local after 1 s / 1.0001 true.
        let fire = fast.deadline_after(SimTime::ZERO, SimDuration::from_secs(1));
        assert_eq!(fire.0, 999_900_010);
        assert!(fast.monotonic(fire).0 >= NS_PER_S);
        assert!(fast.monotonic(SimTime(fire.0 - 1)).0 < NS_PER_S);
        let slow = NodeClock::new(SignedDuration(0), -100);
        let fire = slow.deadline_after(SimTime::ZERO, SimDuration::from_secs(1));
        assert_eq!(fire.0, 1_000_100_011);
        assert!(slow.monotonic(fire).0 >= NS_PER_S);
        assert!(slow.monotonic(SimTime(fire.0 - 1)).0 < NS_PER_S);
    }

    #[test]
    fn a_backward_step_moves_wall_and_not_monotonic() {
        let mut clock = NodeClock::new(SignedDuration(5 * NS_PER_MS as i64), 0);
        let before = SimTime(NS_PER_S);
        let step_at = SimTime(2 * NS_PER_S);
        clock.step(step_at, SignedDuration(-(300 * NS_PER_MS as i64)));
        assert_eq!(clock.wall(before).0, (NS_PER_S + 5 * NS_PER_MS) as i64);
        assert_eq!(
            clock.wall(step_at).0,
            (2 * NS_PER_S) as i64 + 5_000_000 - 300_000_000
        );
        assert_eq!(clock.monotonic(step_at).0, 2 * NS_PER_S);
        assert!(clock.wall(step_at) < clock.wall(SimTime(step_at.0 - 1)));
    }

    #[test]
    fn slew_corrects_gradually_at_the_bounded_rate() {
        let mut clock = NodeClock::perfect();
        clock.slew(SimTime(0), SignedDuration(-(NS_PER_MS as i64)), 500);
        // 500 ppm: 1 ms of correction takes 2 s of true time.
        assert_eq!(clock.wall_offset(SimTime(NS_PER_S)), -500_000);
        assert_eq!(clock.wall_offset(SimTime(2 * NS_PER_S)), -1_000_000);
        assert_eq!(clock.wall_offset(SimTime(10 * NS_PER_S)), -1_000_000);
        assert_eq!(clock.monotonic(SimTime(NS_PER_S)).0, NS_PER_S);
    }
}
