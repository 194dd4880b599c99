//! What each command that changed an application did: one record per operation (apply,
//! destroy, swap, deploy) in the application's versions bucket, written by the command that
//! held the application's lock — who (the AWS principal), from where (host), when, what, on
//! which environments, the outcome, and for a deploy each instance's outcome. `events` reads
//! them back, newest first.

use super::lock::Lease;
use super::versions::{VersionError, VersionStore};
use super::Session;
use crate::aws::{s3, AwsError};
use serde::{Deserialize, Serialize};

/// One operation's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unix milliseconds.
    pub time_ms: u64,
    pub application: String,
    /// `apply`, `destroy`, `swap`, `deploy pets-env-blue`…
    pub command: String,
    /// The environments it worked on.
    pub environments: Vec<String>,
    pub principal: String,
    pub host: String,
    /// `succeeded`, `failed` or `interrupted`.
    pub outcome: String,
    /// One line: what it did, or why it failed.
    pub summary: String,
    /// For a deploy: its outcome (`deploy --json`'s schema), each instance's with it.
    #[serde(default)]
    pub details: serde_json::Value,
}

pub fn events_prefix(application: &str) -> String {
    format!("{application}/events/")
}

/// Keys sort by time: zero-padded milliseconds, then the process.
pub fn event_key(application: &str, time_ms: u64, pid: u32) -> String {
    format!("{}{time_ms:015}-{pid}.json", events_prefix(application))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Lease {
    /// Records what the command holding this lock did.
    pub fn record(
        &self,
        environments: Vec<String>,
        outcome: &str,
        summary: String,
        details: serde_json::Value,
    ) -> Result<(), AwsError> {
        let time_ms = now_ms();
        let event = Event {
            time_ms,
            application: self.application.clone(),
            command: self.command.clone(),
            environments,
            principal: self.principal.clone(),
            host: self.host.clone(),
            outcome: outcome.to_string(),
            summary,
            details,
        };
        let bytes = serde_json::to_vec_pretty(&event).unwrap_or_default();
        self.block_on_s3(|client, bucket| {
            let key = event_key(&event.application, time_ms, std::process::id());
            Box::pin(
                async move { s3::put(&client, &bucket, &key, bytes, "application/json").await },
            )
        })
    }
}

/// The application's events that concern `environment` (all with `None`), newest first, at
/// most `limit`.
pub fn list(
    session: &Session,
    application: &str,
    environment: Option<&str>,
    limit: usize,
) -> Result<Vec<Event>, VersionError> {
    let store = VersionStore::open(session, application)?;
    let aws = session.client(application)?;
    let mut keys = session.runtime.block_on(s3::list(
        &aws.s3,
        &store.bucket,
        &events_prefix(application),
    ))?;
    keys.sort();
    keys.reverse();
    let mut events = Vec::new();
    for key in keys {
        if events.len() >= limit {
            break;
        }
        let Some(bytes) = session
            .runtime
            .block_on(s3::get(&aws.s3, &store.bucket, &key))?
        else {
            continue;
        };
        let event: Event = serde_json::from_slice(&bytes).map_err(|e| VersionError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        if environment.is_none_or(|env| event.environments.iter().any(|e| e == env)) {
            events.push(event);
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_by_time() {
        let early = event_key("a", 999, 7);
        let late = event_key("a", 1_000, 1);
        assert!(early < late, "{early} {late}");
        assert!(early.starts_with("a/events/"));
    }
}
