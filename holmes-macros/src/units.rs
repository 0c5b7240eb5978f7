//! Durations and sizes written as strings in the attribute (`"500ms"`, `"2GiB"`), parsed at
//! compile time. Errors are plain messages; the caller attaches the span of the literal.

/// Byte multipliers, exactly as written: `KB` is 1000 bytes, `KiB` is 1024.
pub(crate) const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("KiB", 1 << 10),
    ("MB", 1_000_000),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
    ("TB", 1_000_000_000_000),
    ("TiB", 1 << 40),
];

/// Parses a duration such as `"500ms"`, `"5s"`, `"1m"` or `"1h 30m"` (humantime syntax)
/// into whole nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration \"{text}\": {e}; write it like \"500ms\", \"5s\", \"1m\" or \"1h 30m\"")
    })?;
    u64::try_from(duration.as_nanos())
        .map_err(|_| format!("duration \"{text}\" is too long (more than 584 years)"))
}

/// Parses a size such as `"512KiB"`, `"2GiB"`, `"1.5GB"` or `"100 MB"` into bytes.
/// A unit is required; a fraction must come out as a whole number of bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let units = || {
        SIZE_UNITS
            .iter()
            .map(|(u, _)| *u)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number = number.replace('_', "");
    let unit = unit.trim_start();
    if number.is_empty() {
        return Err(format!(
            "invalid size \"{text}\": expected a number followed by a unit, like \"512KiB\" or \"2GiB\""
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "size \"{text}\" has no unit; write \"{number}B\" for bytes or use one of: {}",
            units()
        ));
    }
    let multiplier = SIZE_UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, m)| u128::from(*m))
        .ok_or_else(|| {
            let hint = SIZE_UNITS
                .iter()
                .find(|(u, _)| u.eq_ignore_ascii_case(unit))
                .map(|(u, _)| format!(" (did you mean \"{u}\"?)"))
                .unwrap_or_default();
            format!(
                "unknown size unit \"{unit}\" in \"{text}\"{hint}; valid units: {} (KB = 1000 bytes, KiB = 1024 bytes)",
                units()
            )
        })?;
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    let malformed = || format!("invalid number in size \"{text}\"");
    if whole.is_empty() || fraction.contains('.') {
        return Err(malformed());
    }
    let too_large = || format!("size \"{text}\" does not fit in 64 bits");
    let whole: u128 = whole.parse().map_err(|_| too_large())?;
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(too_large)?;
    if !fraction.is_empty() {
        let digits = u32::try_from(fraction.len()).map_err(|_| malformed())?;
        let scale = 10u128.checked_pow(digits).ok_or_else(malformed)?;
        let numerator: u128 = fraction.parse().map_err(|_| malformed())?;
        let scaled = numerator.checked_mul(multiplier).ok_or_else(too_large)?;
        if scaled % scale != 0 {
            return Err(format!("size \"{text}\" is not a whole number of bytes"));
        }
        bytes = bytes.checked_add(scaled / scale).ok_or_else(too_large)?;
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("5s"), Ok(5_000_000_000));
        assert_eq!(parse_duration("1m"), Ok(60_000_000_000));
        assert_eq!(parse_duration("1h 30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration(" 2s "), Ok(2_000_000_000));
    }

    #[test]
    fn bad_durations() {
        let e = parse_duration("5").unwrap_err();
        assert!(e.starts_with("invalid duration \"5\""), "{e}");
        assert!(e.contains("\"500ms\""), "{e}");
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1000000years")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn sizes_decimal_and_binary_as_written() {
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("1KB"), Ok(1_000));
        assert_eq!(parse_size("1KiB"), Ok(1_024));
        assert_eq!(parse_size("512KiB"), Ok(524_288));
        assert_eq!(parse_size("3MB"), Ok(3_000_000));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1TB"), Ok(1_000_000_000_000));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        assert_eq!(parse_size("100 MB"), Ok(100_000_000));
        assert_eq!(parse_size("1_024B"), Ok(1024));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("0.5KB"), Ok(500));
    }

    #[test]
    fn bad_sizes() {
        assert!(parse_size("2").unwrap_err().contains("has no unit"));
        assert!(parse_size("2gb")
            .unwrap_err()
            .starts_with("unknown size unit \"gb\" in \"2gb\" (did you mean \"GB\"?); valid"));
        assert!(parse_size("2 bananas")
            .unwrap_err()
            .contains("valid units: B, KB, KiB"));
        assert!(parse_size("GiB").unwrap_err().contains("expected a number"));
        assert!(parse_size("1.2.3GiB")
            .unwrap_err()
            .contains("invalid number"));
        assert!(parse_size(".5GiB").unwrap_err().contains("invalid number"));
        assert!(parse_size("1.0000000001KiB")
            .unwrap_err()
            .contains("whole number"));
        assert!(parse_size("17000000TiB").unwrap_err().contains("64 bits"));
        assert!(parse_size("99999999999999999999999999999999999999999B")
            .unwrap_err()
            .contains("64 bits"));
    }
}
