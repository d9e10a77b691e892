//! Number formatting shared by the text reports.

/// `12345` → `12,345`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes with a decimal unit: `1.2 MB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Seconds as `1m05s`, `42.0s` or `1h02m03s`.
pub fn format_duration_s(s: f64) -> String {
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{sec:02}s")
    } else {
        format!("{m}m{sec:02}s")
    }
}

/// Milliseconds with a precision that suits their size: `0.412`, `12.3`, `1520`.
pub fn format_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 1000.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(1234567), "1,234,567");
    }

    #[test]
    fn bytes_and_durations_are_readable() {
        assert_eq!(format_bytes(999), "999 B");
        assert_eq!(format_bytes(1_250_000), "1.2 MB");
        assert_eq!(format_duration_s(42.04), "42.0s");
        assert_eq!(format_duration_s(65.2), "1m05s");
        assert_eq!(format_duration_s(3723.0), "1h02m03s");
        assert_eq!(format_ms(0.4123), "0.41");
        assert_eq!(format_ms(12.34), "12.3");
        assert_eq!(format_ms(1520.4), "1520");
    }
}
