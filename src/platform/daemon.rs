//! A worker's daemon settings (EB's `aws:elasticbeanstalk:sqsd`): one `.ebextensions`
//! option checked for a worker, and the spec over `.ebextensions` over EB's defaults, as the
//! deployment document carries them. Pure; `settings` calls it while it resolves the rest.

use crate::model::worker::SQSD_NAMESPACE;
use std::collections::BTreeMap;

/// One `aws:elasticbeanstalk:sqsd` option of `.ebextensions` for worker `w`: its value, `None`
/// when it says what the spec does, or why it cannot be used. The queue's own options are
/// apply's (the spec's); a version may repeat them, not change them.
pub(super) fn sqsd_option(
    w: &crate::model::Worker,
    option: &str,
    value: &str,
) -> Result<Option<String>, String> {
    use crate::model::worker::{NUMERIC_OPTIONS, QUEUE_OPTIONS};
    let value = value.trim();
    if QUEUE_OPTIONS.contains(&option) {
        let spec = match option {
            "WorkerQueueURL" => w.queue_url.clone().unwrap_or_default(),
            _ => w.number(option).to_string(),
        };
        return if spec == value {
            Ok(None)
        } else {
            let setting = match option {
                "WorkerQueueURL" => "worker { queue_url }",
                _ => "worker { max_retries }",
            };
            Err(format!("the queue's own setting, which the spec holds (it is `{spec}` there): set `{setting}` in the spec and `beanpole apply`"))
        };
    }
    match option {
        "HttpPath" => crate::spec::checks::url_path(value).map(|_| Some(value.to_string())),
        "MimeType" => crate::spec::checks::mime_type(value).map(|_| Some(value.to_string())),
        _ => match NUMERIC_OPTIONS.iter().find(|o| o.option == option) {
            Some(o) => value
                .parse::<u32>()
                .ok()
                .filter(|n| (o.min..=o.max).contains(n))
                .map(|n| Some(n.to_string()))
                .ok_or_else(|| format!("a whole number from {} to {}", o.min, o.max)),
            None => Err(format!(
                "not an option of {SQSD_NAMESPACE}: WorkerQueueURL, HttpPath, MimeType, {}",
                NUMERIC_OPTIONS
                    .iter()
                    .map(|o| o.option)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
    }
}

/// The daemon's settings from the spec alone (EB's defaults elsewhere).
pub fn daemon_defaults(w: &crate::model::Worker) -> crate::model::worker::DaemonSettings {
    daemon_settings(w, &BTreeMap::new())
}

/// The daemon's settings: the spec over `.ebextensions` over EB's defaults. The queue's URLs
/// and the leader table are the stack's, filled in by the deploy.
pub(super) fn daemon_settings(
    w: &crate::model::Worker,
    ext: &BTreeMap<String, String>,
) -> crate::model::worker::DaemonSettings {
    use crate::model::worker::{DEFAULT_HTTP_PATH, DEFAULT_MIME_TYPE};
    // The spec's, else `.ebextensions`', else EB's default (`Worker::number`).
    let number = |option: &str| -> u32 {
        w.numbers
            .get(option)
            .copied()
            .or_else(|| ext.get(option).and_then(|v| v.parse().ok()))
            .unwrap_or_else(|| w.number(option))
    };
    crate::model::worker::DaemonSettings {
        queue_url: w.queue_url.clone().unwrap_or_default(),
        dead_letter_queue_url: None,
        leader_table: None,
        http_path: w
            .http_path
            .clone()
            .or_else(|| ext.get("HttpPath").cloned())
            .unwrap_or_else(|| DEFAULT_HTTP_PATH.to_string()),
        mime_type: w
            .mime_type
            .clone()
            .or_else(|| ext.get("MimeType").cloned())
            .unwrap_or_else(|| DEFAULT_MIME_TYPE.to_string()),
        http_connections: number("HttpConnections"),
        connect_timeout: number("ConnectTimeout"),
        inactivity_timeout: number("InactivityTimeout"),
        visibility_timeout: number("VisibilityTimeout"),
        error_visibility_timeout: number("ErrorVisibilityTimeout"),
        retention_period: number("RetentionPeriod"),
        max_retries: number("MaxRetries"),
        cron: Vec::new(),
        report_prefix: None,
    }
}
