//! Sizes (`64MiB`), durations (`10s`) and timestamps (`2024-05-01T10:00:00Z` or ms): parsed
//! from flags and config files with errors that say what is expected, and sizes printed for
//! people (`512 MiB`, not `536870912`).
//!
//! The lowest layer: the CLI, the config file, window specs, the API and the job's logs all
//! parse or print through it, and it depends on none of them.

use std::time::Duration;

/// Parses a byte size: a number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 64MiB"))?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` (use B, KiB, MiB or GiB)")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a duration (`10s`, `500ms`, `1m 30s`), with an error that says what one looks like
/// instead of the parser's position (`expected number at 0`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    use humantime::DurationError;
    humantime::parse_duration(text.trim()).map_err(|err| match err {
        DurationError::UnknownUnit { unit, .. } => {
            format!("`{text}` is not a duration: unknown unit `{unit}` (use ms, s, m, h or d, e.g. 10s)")
        }
        DurationError::NumberOverflow => format!("`{text}` is too long a duration"),
        DurationError::Empty => "a duration is empty: give one like 10s, 500ms or 1m".to_string(),
        DurationError::InvalidCharacter(_) | DurationError::NumberExpected(_) => {
            format!("`{text}` is not a duration like 10s, 500ms or 1m")
        }
    })
}

/// A byte count for people, in the largest binary unit it reaches: `512 MiB`, `100 GiB`, `812
/// bytes`; with one decimal and the exact count when not a whole number of that unit
/// (`1.5 GiB (1610612736 bytes)`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{:.1} {unit} ({bytes} bytes)", bytes as f64 / size as f64)
            };
        }
    }
    if bytes == 1 {
        "1 byte".to_string()
    } else {
        format!("{bytes} bytes")
    }
}

/// A duration for people: `30s`, `1m 30s`, `500ms`.
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// A time as RFC 3339, to the second, in UTC (`2026-11-27T10:00:00Z`).
pub fn rfc3339(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Parses a timestamp: milliseconds since the Unix epoch, or an RFC 3339 date-time.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let time = humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("`{text}` is neither milliseconds nor an RFC 3339 time: {e}"))?;
    let ms = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("`{text}` is before 1970"))?
        .as_millis();
    i64::try_from(ms).map_err(|_| format!("`{text}` is too far in the future"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
    }

    #[test]
    fn durations_say_what_they_expect() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration(" 1m 30s "), Ok(Duration::from_secs(90)));
        let err = parse_duration("soon").expect_err("not a duration");
        assert_eq!(err, "`soon` is not a duration like 10s, 500ms or 1m");
        assert!(!err.contains(" at 0"), "no parser position: {err}");
        let err = parse_duration("10 parsecs").expect_err("no such unit");
        assert!(err.contains("unknown unit `parsecs`"), "{err}");
    }

    #[test]
    fn sizes_print_in_the_largest_whole_unit() {
        assert_eq!(format_bytes(107_374_182_400), "100 GiB");
        assert_eq!(format_bytes(536_870_912), "512 MiB");
        assert_eq!(format_bytes(64 << 10), "64 KiB");
        assert_eq!(format_bytes(812), "812 bytes");
        assert_eq!(format_bytes(1), "1 byte");
        assert_eq!(format_bytes(3 << 29), "1.5 GiB (1610612736 bytes)");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m 30s");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("0"), Ok(0));
        assert_eq!(parse_timestamp("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:10Z"), Ok(10_000));
        assert!(parse_timestamp("yesterday").is_err());
    }
}
