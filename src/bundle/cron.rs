//! `cron.yaml`: a worker's periodic tasks, as Elastic Beanstalk reads them (`version: 1`, a
//! `cron:` list of `name`, `url` and a five-field UTC `schedule`). Each problem is located by
//! entry and key. Pure.

use crate::model::worker::CronTask;
use serde_yaml::Value;

/// The file, at the bundle's root.
pub const FILE: &str = "cron.yaml";

/// The ranges of a schedule's five fields: minute, hour, day of month, month, day of week
/// (0 and 7 are Sunday).
const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The tasks of `cron.yaml`, or every problem (`cron.yaml: cron[2].schedule: …`).
pub fn read(text: &[u8]) -> Result<Vec<CronTask>, Vec<String>> {
    let fail = |m: String| Err(vec![format!("{FILE}: {m}")]);
    let value: Value = match serde_yaml::from_slice(text) {
        Ok(v) => v,
        Err(e) => return fail(format!("not YAML: {e}")),
    };
    let Some(map) = value.as_mapping() else {
        return fail("expected `version: 1` and a `cron:` list".into());
    };
    let mut problems = Vec::new();
    match map.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(Value::String(s)) if s == "1" => {}
        other => problems.push(format!(
            "{FILE}: version: expected 1 (the only version Elastic Beanstalk reads), found {}",
            show(other)
        )),
    }
    for key in map.keys() {
        if !matches!(key.as_str(), Some("version" | "cron")) {
            problems.push(format!(
                "{FILE}: unknown key `{}`: the file has `version` and `cron`",
                show(Some(key))
            ));
        }
    }
    let mut tasks = Vec::new();
    match map.get("cron") {
        Some(Value::Sequence(entries)) => {
            for (i, entry) in entries.iter().enumerate() {
                match task(entry) {
                    Ok(t) => {
                        if tasks.iter().any(|o: &CronTask| o.name == t.name) {
                            problems.push(format!(
                                "{FILE}: cron[{i}].name: `{}` names another task too: each task needs its own name",
                                t.name
                            ));
                        }
                        tasks.push(t);
                    }
                    Err(errors) => problems.extend(
                        errors
                            .into_iter()
                            .map(|(key, m)| format!("{FILE}: cron[{i}]{key}: {m}")),
                    ),
                }
            }
        }
        other => problems.push(format!(
            "{FILE}: cron: expected a list of tasks (`- name: …`, `url: …`, `schedule: …`), found {}",
            show(other)
        )),
    }
    if problems.is_empty() {
        Ok(tasks)
    } else {
        Err(problems)
    }
}

fn show(value: Option<&Value>) -> String {
    match value {
        None => "nothing".into(),
        Some(Value::String(s)) => format!("`{}`", crate::display::one_line(s)),
        Some(v) => serde_yaml::to_string(v)
            .map(|s| format!("`{}`", crate::display::one_line(s.trim())))
            .unwrap_or_default(),
    }
}

fn task(entry: &Value) -> Result<CronTask, Vec<(String, String)>> {
    let Some(map) = entry.as_mapping() else {
        return Err(vec![(
            String::new(),
            "expected `name`, `url` and `schedule`".into(),
        )]);
    };
    let mut problems = Vec::new();
    let mut field = |key: &str| match map.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        other => {
            problems.push((
                format!(".{key}"),
                format!("expected text, found {}", show(other)),
            ));
            None
        }
    };
    let (name, url, schedule) = (field("name"), field("url"), field("schedule"));
    for key in map.keys() {
        if !matches!(key.as_str(), Some("name" | "url" | "schedule")) {
            problems.push((
                String::new(),
                format!(
                    "unknown key `{}`: a task has `name`, `url` and `schedule`",
                    show(Some(key))
                ),
            ));
        }
    }
    if let Some(name) = &name {
        if name.len() > 80
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            problems.push((
                ".name".into(),
                format!(
                    "`{}`: letters, digits, `-`, `_` and `.`, at most 80",
                    crate::display::one_line(name)
                ),
            ));
        }
    }
    if let Some(url) = &url {
        if !url.starts_with('/') || url.chars().any(|c| c.is_control() || c == ' ') {
            problems.push((
                ".url".into(),
                format!(
                    "`{}`: a path on the application, starting with `/`",
                    crate::display::one_line(url)
                ),
            ));
        }
    }
    if let Some(schedule) = &schedule {
        if let Err(m) = check_schedule(schedule) {
            problems.push((".schedule".into(), m));
        }
    }
    match (name, url, schedule, problems.is_empty()) {
        (Some(name), Some(url), Some(schedule), true) => Ok(CronTask {
            name,
            url,
            schedule: schedule.split_whitespace().collect::<Vec<_>>().join(" "),
        }),
        _ => Err(problems),
    }
}

/// A five-field cron expression (UTC): `*`, numbers, ranges, steps, lists, and month and day
/// names.
pub fn check_schedule(schedule: &str) -> Result<(), String> {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "`{}` has {} fields: a schedule has five (minute hour day-of-month month day-of-week, UTC), e.g. `*/10 * * * *`",
            crate::display::one_line(schedule),
            fields.len()
        ));
    }
    for (i, (text, (what, min, max))) in fields.iter().zip(FIELDS).enumerate() {
        let names: &[&str] = match i {
            3 => &MONTHS,
            4 => &DAYS,
            _ => &[],
        };
        let offset = if i == 3 { 1 } else { 0 };
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step {
                if !step.parse::<u32>().is_ok_and(|s| s >= 1 && s <= max) {
                    return Err(format!(
                        "{what} `{text}`: the step after `/` is a number from 1 to {max}"
                    ));
                }
            }
            if range == "*" {
                continue;
            }
            let number = |s: &str| -> Option<u32> {
                s.parse::<u32>().ok().or_else(|| {
                    names
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(s))
                        .map(|p| p as u32 + offset)
                })
            };
            let (low, high) = match range.split_once('-') {
                Some((a, b)) => (number(a), number(b)),
                None => (number(range), number(range)),
            };
            match (low, high) {
                (Some(a), Some(b)) if a >= min && b <= max && a <= b => {}
                _ => {
                    return Err(format!(
                        "{what} `{text}`: expected `*`, a number from {min} to {max}, a range `a-b`, a step `/n` or a list `a,b`"
                    ))
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eb_s_example_reads() {
        let tasks = read(b"version: 1\ncron:\n - name: \"backup-job\"\n   url: \"/backup\"\n   schedule: \"0 */12 * * *\"\n - name: \"audit\"\n   url: \"/audit\"\n   schedule: \"*/10 * * * MON-FRI\"\n").unwrap_or_default();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].name, "backup-job");
        assert_eq!(tasks[1].schedule, "*/10 * * * MON-FRI");
    }

    #[test]
    fn problems_are_located() {
        let errors = read(b"version: 2\ncron:\n - name: a\n   url: b\n   schedule: \"61 * * *\"\n - name: a\n   url: /x\n   schedule: \"* * * * *\"\n - name: a\n   url: /y\n   schedule: \"* * * * *\"\n")
            .err()
            .unwrap_or_default();
        let text = errors.join("\n");
        assert!(text.contains("cron.yaml: version: expected 1"), "{text}");
        assert!(text.contains("cron[0].url: `b`"), "{text}");
        assert!(
            text.contains("cron[0].schedule: `61 * * *` has 4 fields"),
            "{text}"
        );
        assert!(
            text.contains("cron[2].name: `a` names another task"),
            "{text}"
        );
        assert!(check_schedule("60 * * * *").is_err());
        assert!(check_schedule("0 0 31 2 7").is_ok());
        assert!(check_schedule("*/0 * * * *").is_err());
    }
}
