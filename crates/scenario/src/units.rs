//! Durations (`1m30s`) and rates (`10/s`), as written in scenario files and on the command line.

use std::time::Duration;

/// Why a duration or rate was rejected, with an optional hint on how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnitError {
    pub message: String,
    pub hint: Option<String>,
}

impl UnitError {
    fn new(message: String, hint: Option<&str>) -> Self {
        UnitError {
            message,
            hint: hint.map(str::to_owned),
        }
    }
}

impl std::fmt::Display for UnitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.hint {
            Some(hint) => write!(f, "{}; {hint}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

const DURATION_UNITS_HINT: &str =
    "use a number with a unit: ms, s, m or h (e.g. 500ms, 30s, 1m30s)";

/// Duration units, largest first, with their length in nanoseconds.
const UNITS: [(&str, u128); 4] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
];

/// Parses a duration such as `30s`, `1m`, `1m30s`, `500ms`, `2h` or `1.5s`.
///
/// A bare number is rejected (`30` could be seconds or milliseconds); so are unknown units.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    duration(s).map_err(|e| e.to_string())
}

/// Longest duration accepted anywhere: 365 days.
const MAX_DURATION_S: u64 = 365 * 24 * 3600;

pub(crate) fn duration(s: &str) -> Result<Duration, UnitError> {
    let text = s.trim();
    if text.is_empty() {
        return Err(UnitError::new(
            "empty duration".into(),
            Some(DURATION_UNITS_HINT),
        ));
    }
    if text.contains(char::is_whitespace) {
        let compact: String = text.split_whitespace().collect();
        return Err(UnitError::new(
            format!("duration `{text}` contains a space"),
            Some(&format!("write it without spaces: {compact}")),
        ));
    }
    let mut rest = text;
    let mut total: u128 = 0;
    let mut last_unit = usize::MAX;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if number.is_empty() {
            return Err(UnitError::new(
                format!("invalid duration `{text}`"),
                Some(DURATION_UNITS_HINT),
            ));
        }
        if unit.is_empty() {
            let message = if total == 0 && next.is_empty() {
                format!("duration `{text}` has no unit")
            } else {
                format!("invalid duration `{text}`: `{number}` has no unit")
            };
            return Err(UnitError::new(message, Some("add a unit, e.g. 30s")));
        }
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(UnitError::new(
                format!("unknown unit `{unit}` in duration `{text}`"),
                Some(DURATION_UNITS_HINT),
            ));
        };
        if last_unit != usize::MAX && index <= last_unit {
            return Err(UnitError::new(
                format!("invalid duration `{text}`: units must go from largest to smallest"),
                Some("write it like 1h30m or 1m30s"),
            ));
        }
        last_unit = index;
        let nanos = decimal_times(number, UNITS[index].1).ok_or_else(|| {
            UnitError::new(
                format!("invalid number `{number}` in duration `{text}`"),
                Some(DURATION_UNITS_HINT),
            )
        })?;
        total = total.saturating_add(nanos);
        rest = next;
    }
    // No run lasts a year; the cap keeps every sum of durations (stages, waves) far from
    // overflowing.
    let secs = u64::try_from(total / 1_000_000_000)
        .ok()
        .filter(|s| *s <= MAX_DURATION_S)
        .ok_or_else(|| {
            UnitError::new(
                format!("duration `{text}` is too long"),
                Some("durations are at most 365 days (8760h)"),
            )
        })?;
    // `total % 1e9` always fits in a u32.
    let subsec = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, subsec))
}

/// `number` (digits with at most one `.`) times `scale`, exactly, rounded down to an integer.
fn decimal_times(number: &str, scale: u128) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    // Digits beyond 1e-18 cannot matter at nanosecond precision.
    let frac = &frac[..frac.len().min(18)];
    let int_value: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let frac_scale = 10u128.pow(frac.len() as u32);
    int_value
        .checked_mul(scale)?
        .checked_add(frac_value.checked_mul(scale)? / frac_scale)
}

const RATE_HINT: &str = "use a rate like 10/s, 600/m or 0.5/s";

/// Parses a per-second rate: `10/s`, `600/m`, `36000/h`, `0.5/s`, or a bare `10` (per second).
/// The rate must be greater than zero.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    rate(s).map_err(|e| e.to_string())
}

pub(crate) fn rate(s: &str) -> Result<f64, UnitError> {
    let text = s.trim();
    let (number, per) = match text.split_once('/') {
        Some((n, u)) => (n.trim(), u.trim()),
        None => (text, "s"),
    };
    let seconds = match per {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(UnitError::new(
                format!("unknown unit `/{per}` in rate `{text}`"),
                Some(RATE_HINT),
            ));
        }
    };
    let valid_number = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|&c| c == '.').count() <= 1
        && number != ".";
    let value = match number.parse::<f64>() {
        Ok(v) if valid_number => v / seconds,
        _ => {
            return Err(UnitError::new(
                format!("invalid rate `{text}`"),
                Some(RATE_HINT),
            ));
        }
    };
    if !(value > 0.0 && value.is_finite()) {
        return Err(UnitError::new(
            format!("rate `{text}` must be greater than 0"),
            Some(RATE_HINT),
        ));
    }
    Ok(value)
}

/// Formats a duration the way it can be written in a file: `1m40s`, `30s`, `1s500ms`, `0s`.
pub(crate) fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return if d.is_zero() {
            "0s".into()
        } else {
            format!("{}µs", d.as_micros())
        };
    }
    let mut out = String::new();
    for (unit, nanos) in UNITS {
        let per = nanos / 1_000_000;
        if ms >= per {
            out.push_str(&format!("{}{unit}", ms / per));
            ms %= per;
        }
    }
    out
}

/// Formats a per-second rate compactly: `10/s`, `0.5/s`.
pub(crate) fn format_rate(per_second: f64) -> String {
    let rounded = (per_second * 1000.0).round() / 1000.0;
    format!("{rounded}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration("30s"), Ok(ms(30_000)));
        assert_eq!(parse_duration("1m"), Ok(ms(60_000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_duration("0.25m"), Ok(ms(15_000)));
        assert_eq!(parse_duration("1h2m3s4ms"), Ok(ms(3_723_004)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.000000001s"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn bare_numbers_and_bad_units_are_rejected_with_hints() {
        let bare = duration("30").unwrap_err();
        assert_eq!(bare.message, "duration `30` has no unit");
        assert_eq!(bare.hint.as_deref(), Some("add a unit, e.g. 30s"));
        assert!(
            parse_duration("30")
                .unwrap_err()
                .contains("add a unit, e.g. 30s")
        );
        assert!(
            duration("1m30")
                .unwrap_err()
                .message
                .contains("`30` has no unit")
        );
        let unit = duration("30sec").unwrap_err();
        assert!(unit.message.contains("unknown unit `sec`"), "{unit:?}");
        assert!(unit.hint.is_some());
        let space = duration("1m 30s").unwrap_err();
        assert_eq!(
            space.hint.as_deref(),
            Some("write it without spaces: 1m30s")
        );
        for bad in [
            "", "s", "-1s", "1..5s", ".s", "30s1m", "1s1s", "1 s", "1e3s", "abc",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_duration("99999999999999999999999h").is_err());
    }

    #[test]
    fn rates_are_per_second() {
        assert_eq!(parse_rate("10/s"), Ok(10.0));
        assert_eq!(parse_rate("600/m"), Ok(10.0));
        assert_eq!(parse_rate("3600/h"), Ok(1.0));
        assert_eq!(parse_rate("10"), Ok(10.0));
        assert_eq!(parse_rate("0.5/s"), Ok(0.5));
        assert_eq!(parse_rate(" 2 / s "), Ok(2.0));
    }

    #[test]
    fn bad_rates_are_rejected() {
        assert!(parse_rate("0/s").unwrap_err().contains("greater than 0"));
        assert!(
            parse_rate("10/d")
                .unwrap_err()
                .contains("unknown unit `/d`")
        );
        for bad in [
            "", "/s", "-1/s", "inf", "NaN", "1e3/s", "ten/s", "1.2.3/s", ".",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["1m40s", "30s", "1s500ms", "0s", "2h", "1h1m1s1ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
        assert_eq!(format_rate(10.0), "10/s");
        assert_eq!(format_rate(0.5), "0.5/s");
        assert_eq!(format_rate(1.0 / 3.0), "0.333/s");
    }
}
