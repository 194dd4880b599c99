//! Durations as users write them (`60s`, `2m`, `500ms`, plain seconds), for flags and the spec.

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
