//! Simulated time: integer nanoseconds, never floats, never the machine's clock.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NS_PER_S: u64 = 1_000_000_000;

/// An instant of true (simulated) time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimTime(pub u64);

/// A non-negative span of simulated time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimDuration(pub u64);

/// A signed span of time in nanoseconds: clock offsets and clock steps, which may go backwards.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignedDuration(pub i64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, for reports only (never for decisions).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// Time elapsed since `earlier`, saturating at zero.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * NS_PER_MS)
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * NS_PER_S)
    }

    /// The duration in nanoseconds.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
}

impl SignedDuration {
    /// The span in nanoseconds, negative for backwards.
    pub fn as_nanos(self) -> i64 {
        self.0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

/// Writes nanoseconds the way people read them: "0s", "250ms", "1.204s", "-50ms", "3us".
/// Keeps three decimals; see [`format_nanos_exact`] for text that parses back exactly.
pub fn format_nanos(ns: i128) -> String {
    format_nanos_with(ns, 3)
}

/// Like [`format_nanos`] but keeps every digit, so that [`parse_signed_nanos`] reads the
/// same number back.
pub fn format_nanos_exact(ns: i128) -> String {
    format_nanos_with(ns, 9)
}

fn format_nanos_with(ns: i128, decimals_max: usize) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    let (unit, scale) = if abs == 0 {
        return "0s".to_string();
    } else if abs >= NS_PER_S as u128 {
        ("s", NS_PER_S as u128)
    } else if abs >= NS_PER_MS as u128 {
        ("ms", NS_PER_MS as u128)
    } else if abs >= 1_000 {
        ("us", 1_000)
    } else {
        ("ns", 1)
    };
    let whole = abs / scale;
    let frac = abs % scale;
    if frac == 0 {
        return format!("{sign}{whole}{unit}");
    }
    // Three significant decimals are enough for a human; trailing zeros go.
    let digits = scale.ilog10() as usize;
    let mut frac_text = format!("{frac:0digits$}");
    frac_text.truncate(decimals_max);
    let frac_text = frac_text.trim_end_matches('0');
    if frac_text.is_empty() {
        format!("{sign}{whole}{unit}")
    } else {
        format!("{sign}{whole}.{frac_text}{unit}")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_nanos(self.0 as i128))
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", format_nanos(self.0 as i128))
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_nanos(self.0 as i128))
    }
}

impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SignedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_nanos(self.0 as i128))
    }
}

impl fmt::Debug for SignedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationParseError(pub String);

impl fmt::Display for DurationParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a duration the way people write it: "250ms", "2s", "1.5s", "100us", "10ns", "2m",
/// "1h", with an optional leading '-'. Decimal fractions are exact (no float rounding).
pub fn parse_signed_nanos(text: &str) -> Result<i128, DurationParseError> {
    let expected = || {
        DurationParseError(format!(
            "expected a duration such as \"250ms\", \"2s\" or \"1.5s\" (units: ns, us, ms, s, m, h), found \"{text}\""
        ))
    };
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let unit_start = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(expected)?;
    let (number, unit) = body.split_at(unit_start);
    let scale: u128 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => NS_PER_MS as u128,
        "s" => NS_PER_S as u128,
        "m" | "min" => 60 * NS_PER_S as u128,
        "h" => 3_600 * NS_PER_S as u128,
        _ => return Err(expected()),
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(expected());
    }
    let too_large = || DurationParseError(format!("duration \"{text}\" is too large"));
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| expected())?
    };
    let mut nanos = whole_value.checked_mul(scale).ok_or_else(too_large)?;
    if !frac.is_empty() {
        if !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(expected());
        }
        let mut place = scale;
        for digit in frac.bytes() {
            place /= 10;
            if place == 0 {
                return Err(DurationParseError(format!(
                    "duration \"{text}\" is finer than one nanosecond"
                )));
            }
            nanos += (digit - b'0') as u128 * place;
        }
    }
    if nanos > i64::MAX as u128 {
        return Err(too_large());
    }
    Ok(if negative {
        -(nanos as i128)
    } else {
        nanos as i128
    })
}

/// Reads a non-negative duration ("250ms"); a leading '-' is an error.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationParseError> {
    let nanos = parse_signed_nanos(text)?;
    if nanos < 0 {
        return Err(DurationParseError(format!(
            "expected a non-negative duration, found \"{text}\""
        )));
    }
    Ok(SimDuration(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_people_write() {
        assert_eq!(
            parse_duration("250ms").unwrap(),
            SimDuration(250 * NS_PER_MS)
        );
        assert_eq!(parse_duration("2s").unwrap(), SimDuration(2 * NS_PER_S));
        assert_eq!(
            parse_duration("1.5s").unwrap(),
            SimDuration(1_500 * NS_PER_MS)
        );
        assert_eq!(parse_duration("0.001ms").unwrap(), SimDuration(1_000));
        assert_eq!(parse_duration("100us").unwrap(), SimDuration(100_000));
        assert_eq!(parse_duration("1h").unwrap(), SimDuration(3_600 * NS_PER_S));
        assert_eq!(
            parse_signed_nanos("-50ms").unwrap(),
            -50 * NS_PER_MS as i128
        );
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "ms",
            "10",
            "10 parsecs",
            "1.2.3s",
            "-5ms",
            "0.0000000001s",
            "1e3ms",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn exact_format_parses_back() {
        for nanos in [
            0i128,
            1,
            999,
            1_000_001,
            1_234_567_891,
            -50_000_000,
            3_600_000_000_123,
        ] {
            assert_eq!(
                parse_signed_nanos(&format_nanos_exact(nanos)).unwrap(),
                nanos
            );
        }
    }

    #[test]
    fn formats_round_trip_for_common_values() {
        for text in ["0s", "250ms", "1.204s", "3us", "-50ms", "10s"] {
            let nanos = parse_signed_nanos(text).unwrap();
            assert_eq!(format_nanos(nanos), text);
        }
    }
}
