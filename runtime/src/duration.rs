//! The one duration grammar of staunch: what `timeout = "250ms"` means in the attribute and what
//! `STAUNCH_<NAME>_TIMEOUT=250ms` means in the environment.
//!
//! A duration is a number of seconds, whole (`30`) or fractional (`0.25`), optionally followed by
//! a unit: `ms`, `s`, `m` or `h` (`"250ms"`, `"2s"`, `"1.5m"`, `"1h"`). Spaces around the number
//! and the unit are ignored. It is never negative and at most `u64::MAX` nanoseconds (about 584
//! years); whole numbers are exact, fractions are rounded to the nanosecond.
//!
//! This file is compiled into both `staunch-runtime` and `staunch-macros` (which includes it by
//! path), so the two can never read a duration differently: keep it free of dependencies.

/// Nanoseconds in a second.
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The longest duration, in whole seconds (the attribute's messages name it).
#[allow(dead_code)]
pub(crate) const MAX_SECS: u64 = u64::MAX / NANOS_PER_SEC;

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// No number where one was expected (`""`, `"fast"`, `"1e3"`, `"ms"`).
    NotANumber,
    /// A minus sign.
    Negative,
    /// A unit other than `ms`, `s`, `m` and `h`.
    UnknownUnit(String),
    /// More than `u64::MAX` nanoseconds.
    TooLong,
}

/// Reads `text` as a duration, in nanoseconds.
pub(crate) fn parse_nanos(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    if number.starts_with('-') {
        return Err(DurationError::Negative);
    }
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(DurationError::NotANumber);
    }
    let per_unit: u64 = match unit {
        "ms" => 1_000_000,
        "" | "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        other => return Err(DurationError::UnknownUnit(other.to_owned())),
    };
    if let Ok(n) = number.parse::<u64>() {
        return n.checked_mul(per_unit).ok_or(DurationError::TooLong);
    }
    match number.parse::<f64>() {
        #[allow(clippy::cast_precision_loss)] // a unit is exact in an f64
        Ok(v) => seconds_to_nanos(v * (per_unit as f64) / 1e9).ok_or(DurationError::TooLong),
        Err(_) => Err(DurationError::NotANumber),
    }
}

/// `secs` seconds in nanoseconds, rounded; `None` when negative, not finite, or too long.
pub(crate) fn seconds_to_nanos(secs: f64) -> Option<u64> {
    let nanos = (secs * 1e9).round();
    // 2^64 is exactly representable; anything at or above it does not fit a u64
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked just before
    (nanos.is_finite() && (0.0..18_446_744_073_709_551_616.0).contains(&nanos))
        .then_some(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SEC;

    #[test]
    fn every_form_of_the_grammar() {
        for (text, nanos) in [
            ("30", 30 * S),
            ("0.25", S / 4),
            ("10", 10 * S),
            ("250ms", S / 4),
            (" 250 ms ", S / 4),
            ("2s", 2 * S),
            ("1.5m", 90 * S),
            ("1m", 60 * S),
            ("1h", 3600 * S),
            ("0", 0),
            ("18446744073", MAX_SECS * S),
            ("1.", S),
            (".5", S / 2),
        ] {
            assert_eq!(parse_nanos(text), Ok(nanos), "{text:?}");
        }
    }

    #[test]
    fn every_way_to_fail() {
        use DurationError::*;
        for (text, e) in [
            ("", NotANumber),
            ("fast", NotANumber),
            ("ms", NotANumber),
            ("1e3", UnknownUnit("e3".into())),
            ("1.2.3", NotANumber),
            (".", NotANumber),
            ("-1", Negative),
            ("-0.5s", Negative),
            ("2sec", UnknownUnit("sec".into())),
            ("18446744074", TooLong),
            ("99999999999h", TooLong),
            ("18446744073.8", TooLong),
        ] {
            assert_eq!(parse_nanos(text), Err(e), "{text:?}");
        }
    }

    #[test]
    fn seconds_at_the_edges() {
        assert_eq!(seconds_to_nanos(f64::NAN), None);
        assert_eq!(seconds_to_nanos(f64::INFINITY), None);
        assert_eq!(seconds_to_nanos(-1.0), None);
        assert_eq!(seconds_to_nanos(-0.0), Some(0));
        assert_eq!(seconds_to_nanos(1e-10), Some(0));
        assert_eq!(
            seconds_to_nanos(18_446_744_073.709_55),
            Some(18_446_744_073_709_549_568)
        );
        assert_eq!(seconds_to_nanos(18_446_744_073.709_553), None);
    }
}
