//! Human durations as operators write them in specs and flags: `90s`, `15m`, `1h30m`, `1d`.
//!
//! Units, largest first, each at most once: `d`, `h`, `m`, `s`. Formatting gives the same
//! shape back (the shortest exact form), so plans and reports read like the spec.

use std::time::Duration;

/// Why a text is not a duration; the caller adds the position and the hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration")]
    Malformed(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
}

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let malformed = || DurationError::Malformed(text.to_string());
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(malformed());
    }
    let mut seconds: u64 = 0;
    // Index into UNITS of the next unit allowed: forces `1h30m`, rejects `30m1h` and `1h1h`.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(malformed)?;
        if digits == 0 {
            return Err(malformed());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::TooLarge(text.to_string()))?;
        let unit = rest[digits..].chars().next().ok_or_else(malformed)?;
        let position = UNITS[next_unit..]
            .iter()
            .position(|(symbol, _)| *symbol == unit)
            .ok_or_else(malformed)?;
        let (_, factor) = UNITS[next_unit + position];
        next_unit += position + 1;
        seconds = number
            .checked_mul(factor)
            .and_then(|value| seconds.checked_add(value))
            .ok_or_else(|| DurationError::TooLarge(text.to_string()))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Ok(Duration::from_secs(seconds))
}

/// Float seconds (estimates, measurements, ages) as a [`Duration`], saturating where
/// `Duration::from_secs_f64` would panic: negative and NaN read as zero, values beyond
/// [`Duration::MAX`] (infinity included) as [`Duration::MAX`].
pub fn from_secs_f64_saturating(secs: f64) -> Duration {
    // `f64::max` returns the number when the other operand is NaN.
    Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
}

/// `5400s` → `1h30m`; zero → `0s`. Sub-second parts are dropped (plans estimate in seconds).
pub fn format(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut text = String::new();
    for (symbol, factor) in UNITS {
        if seconds >= factor {
            text.push_str(&format!("{}{symbol}", seconds / factor));
            seconds %= factor;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_combinations() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1d2h3m4s"), Ok(Duration::from_secs(93_784)));
        assert_eq!(parse(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_ambiguous_or_malformed() {
        for text in [
            "", "15", "m", "15 m", "15min", "30m1h", "1h1h", "-5m", "1.5h", "15M",
        ] {
            assert_eq!(
                parse(text),
                Err(DurationError::Malformed(text.to_string())),
                "{text:?}"
            );
        }
        assert!(matches!(
            parse("99999999999999999999s"),
            Err(DurationError::TooLarge(_))
        ));
        assert!(matches!(
            parse("999999999999999d"),
            Err(DurationError::TooLarge(_))
        ));
    }

    #[test]
    fn formats_the_shortest_exact_form() {
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_secs(61)), "1m1s");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_secs(86_400)), "1d");
    }

    #[test]
    fn float_seconds_saturate_instead_of_panicking() {
        assert_eq!(
            from_secs_f64_saturating(90.5),
            Duration::from_millis(90_500)
        );
        assert_eq!(from_secs_f64_saturating(-3.0), Duration::ZERO);
        assert_eq!(from_secs_f64_saturating(f64::NAN), Duration::ZERO);
        assert_eq!(from_secs_f64_saturating(f64::INFINITY), Duration::MAX);
        assert_eq!(from_secs_f64_saturating(u64::MAX as f64), Duration::MAX);
    }

    #[test]
    fn format_and_parse_round_trip() {
        for seconds in [1, 59, 60, 3599, 3600, 86_399, 90_061] {
            let duration = Duration::from_secs(seconds);
            assert_eq!(parse(&format(duration)), Ok(duration));
        }
    }
}
