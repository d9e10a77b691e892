//! Byte sizes as written in scenario files: `10MB`, `512KiB`, `0`.
//!
//! Decimal units (`kB`/`KB`, `MB`, `GB`) are powers of 1000 and binary ones (`KiB`, `MiB`, `GiB`)
//! powers of 1024, as on a disk label; a bare integer is bytes (the unit is unambiguous, unlike a
//! bare duration).

use crate::units::UnitError;

const SIZE_HINT: &str =
    "use a whole number with a unit: B, KB, MB, GB, KiB, MiB or GiB (e.g. 10MB)";

/// Units with their size in bytes; matched case-insensitively.
const UNITS: [(&str, u64); 7] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
];

/// Parses a size such as `10MB`, `512 KiB` or `4096`.
pub(crate) fn size(s: &str) -> Result<u64, UnitError> {
    let text = s.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let unit = unit.trim();
    let invalid = || UnitError {
        message: format!("invalid size `{text}`"),
        hint: Some(SIZE_HINT.to_owned()),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        let unit = unit.to_ascii_lowercase();
        UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, bytes)| bytes)
            .ok_or_else(invalid)?
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| UnitError {
            message: format!("size `{text}` is too large"),
            hint: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_and_binary_units() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("10MB"), Ok(10_000_000));
        assert_eq!(size("10 mb"), Ok(10_000_000));
        assert_eq!(size("512KiB"), Ok(512 * 1024));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert_eq!(size("3B"), Ok(3));
    }

    #[test]
    fn rejects_other_forms() {
        for bad in ["", "MB", "1.5MB", "10 TB", "-1", "10M"] {
            let e = size(bad).unwrap_err();
            assert!(e.message.starts_with("invalid size"), "{bad}: {e}");
        }
        assert!(
            size("99999999999GB")
                .unwrap_err()
                .message
                .contains("too large")
        );
    }
}
