//! Durations as users write them (`60s`, `2m`, `500ms`, plain seconds), for flags and the spec;
//! times as Beanpole prints them (`YYYY-MM-DD HH:MM:SS UTC`).

use std::time::Duration;

/// The longest duration any flag or spec attribute takes: a day.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// A duration flag: `60s`, `2m`, `500ms`, or plain seconds. Refuses overflow and zero-width
/// garbage with a reason.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let usage = "write a duration like 60s, 2m or 500ms";
    let n: u64 = number.parse().map_err(|_| usage.to_string())?;
    let duration = match unit {
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        "ms" => Some(Duration::from_millis(n)),
        _ => return Err(usage.to_string()),
    };
    match duration {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!(
            "at most {} h; {usage}",
            MAX_DURATION.as_secs() / 3600
        )),
    }
}

/// `300` → `5m`, `90` → `90s`, `3600` → `60m`: how a spec would write it.
pub fn format_secs(secs: u32) -> String {
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Seconds since the Unix epoch, by this machine's clock.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time (proleptic Gregorian calendar).
pub fn utc(unix: u64) -> String {
    let (year, month, day, hour, minute, second) = civil(unix);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

/// (year, month, day, hour, minute, second) of a Unix time, UTC.
pub fn civil(unix: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = unix / 86_400;
    let second_of_day = unix % 86_400;
    // Howard Hinnant's days-to-civil algorithm, on non-negative day counts.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (
        year,
        month,
        day,
        second_of_day / 3600,
        (second_of_day % 3600) / 60,
        second_of_day % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_dates_across_eras() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_043_600), "2026-11-30 13:00:00 UTC");
        // The largest marker value still formats (a year far beyond 9999), without overflow.
        assert!(utc(u64::MAX).ends_with("UTC"));
    }
}
