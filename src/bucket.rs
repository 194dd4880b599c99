//! What Beanpole keeps in the account's versions bucket, the only place it keeps state: each
//! object's key and the record stored there. Pure: `aws::store` reads and writes them.
//!
//! ```text
//! APPLICATION/versions/LABEL.zip        the source bundle (written once: a conditional put)
//! APPLICATION/versions/LABEL.json       its manifest: sha256, size, message, creation time,
//!                                       what its .ebextensions ask for
//! APPLICATION/environments/ENV/current.json
//!                                       what the environment runs (written by its deployments)
//! APPLICATION/environments/ENV/deployments/ID.json
//!                                       deployment ID's document (what each instance deploys)
//! APPLICATION/environments/ENV/deployments/ID/INSTANCE.json
//!                                       the engine's report from each instance (and
//!                                       INSTANCE.progress.json: the step it is at)
//! APPLICATION/environments/ENV/boot/INSTANCE.json
//!                                       the report of an instance's first boot
//! APPLICATION/environments/ENV/logs/REQUEST/INSTANCE.json
//!                                       the logs an instance uploaded for `beanpole logs`
//! APPLICATION/environments/ENV/deploying.json
//!                                       the deployment under way: its progress, who runs it
//!                                       (a heartbeat), what a killed one leaves to undo
//! APPLICATION/environments/ENV/groups/GROUP.json
//!                                       what a deployment's temporary group boots
//! APPLICATION/environments/ENV/abort.json
//!                                       a request to abort the deployment in progress
//! APPLICATION/lock.json                 the application's lock, while a command holds it
//! APPLICATION/events/TIME-PID.json      what each command that held the lock did
//! _beanpole/engine/DIGEST.pyz           the platform engine, by its content address
//! ```

use crate::bundle::ebextensions::EbExtensions;
use crate::deploy::outcome::{DeployOutcome, RollbackOutcome};
use crate::model::{BatchSize, DeploymentPolicy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What is kept beside a version's bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionManifest {
    pub label: String,
    pub sha256: String,
    /// Bytes of the bundle.
    pub size: u64,
    pub message: String,
    /// Unix seconds.
    pub created: u64,
    /// The WSGI path the bundle was checked against.
    pub wsgi_path: String,
    pub ebextensions: EbExtensions,
}

/// What an environment runs: the version its last successful deployment put there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentPointer {
    pub environment: String,
    pub label: String,
    pub deployment_id: u64,
    /// The key of its deployment document (what an instance that boots deploys).
    #[serde(default)]
    pub document: String,
}

pub fn environment_pointer_prefix(application: &str) -> String {
    format!("{application}/environments/")
}

pub fn environment_pointer_key(application: &str, environment: &str) -> String {
    format!(
        "{}{environment}/current.json",
        environment_pointer_prefix(application)
    )
}

/// The pointer of a deployment's temporary Auto Scaling group: what its instances boot (the
/// deployment's new version), where the environment's pointer still names the old one.
pub fn group_pointer_key(application: &str, environment: &str, group: &str) -> String {
    format!("{application}/environments/{environment}/groups/{group}.json")
}

/// The deployment under way on an environment, as its deploy records it at each batch
/// (`status` shows it); deleted when the deploy ends.
pub fn deploying_key(application: &str, environment: &str) -> String {
    format!(
        "{}{environment}/deploying.json",
        environment_pointer_prefix(application)
    )
}

/// A request to abort the deployment in progress on an environment (`beanpole abort`).
pub fn abort_key(application: &str, environment: &str) -> String {
    format!(
        "{}{environment}/abort.json",
        environment_pointer_prefix(application)
    )
}

/// Who asked for an abort, from where, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortRequest {
    pub principal: String,
    pub host: String,
    /// Unix seconds.
    pub requested: u64,
}

/// The application's lock (`ops::lock`).
pub fn lock_key(application: &str) -> String {
    format!("{application}/lock.json")
}

/// The lock as stored: who holds it, from where, for what, and its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub application: String,
    /// `apply`, `destroy`, `swap`, `deploy ENV`…
    pub command: String,
    /// The AWS principal (STS caller ARN).
    pub principal: String,
    pub host: String,
    pub pid: u32,
    /// When the holder's process started (clock ticks since boot, from /proc): with the pid, it
    /// names the process even if its pid is reused.
    #[serde(default)]
    pub process_start: Option<u64>,
    /// Unique to one taking of the lock: a holder recognises its own write by it, even when
    /// the answer to that write was lost.
    #[serde(default)]
    pub token: String,
    /// Unix seconds.
    pub started: u64,
    pub renewed: u64,
    pub lease_secs: u64,
}

impl LockRecord {
    pub fn expires(&self) -> u64 {
        self.renewed.saturating_add(self.lease_secs)
    }

    /// Its holder stopped renewing it: it may be taken over.
    pub fn expired(&self, now: u64) -> bool {
        now > self.expires()
    }

    /// `deploy pets-env-blue by arn:… on host (process 42) since …`
    pub fn describe(&self) -> String {
        format!(
            "`{}` by {} on {} (process {}) since {}",
            self.command,
            self.principal,
            self.host,
            self.pid,
            crate::duration::utc(self.started)
        )
    }

    /// The process that holds it.
    pub fn owner(&self) -> Owner {
        Owner {
            token: self.token.clone(),
            host: self.host.clone(),
            pid: self.pid,
            process_start: self.process_start,
        }
    }
}

/// The process behind a lock or a deployment: its host, pid and start, and the token of the
/// lock it took.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub process_start: Option<u64>,
}

/// What each command that held an application's lock did.
pub fn events_prefix(application: &str) -> String {
    format!("{application}/events/")
}

/// Keys sort by time: zero-padded milliseconds, then the process.
pub fn event_key(application: &str, time_ms: u64, pid: u32) -> String {
    format!("{}{time_ms:015}-{pid}.json", events_prefix(application))
}

/// One command's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unix milliseconds.
    pub time_ms: u64,
    /// When the command took the application's lock (Unix milliseconds): with `time_ms`, the
    /// span in which it held the lock (events before this field have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_ms: Option<u64>,
    pub application: String,
    /// `apply`, `destroy`, `swap`, `deploy pets-env-blue`…
    pub command: String,
    /// The environments it worked on.
    pub environments: Vec<String>,
    pub principal: String,
    pub host: String,
    pub outcome: EventOutcome,
    /// One line: what it did, or why it failed.
    pub summary: String,
    /// For a deploy: its outcome (`deploy --json`'s schema), each instance's with it; for an
    /// abort that rolled back itself: the rollback's.
    #[serde(default)]
    pub details: EventDetails,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOutcome {
    Succeeded,
    Failed,
    Interrupted,
}

impl EventOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Succeeded => "succeeded",
            EventOutcome::Failed => "failed",
            EventOutcome::Interrupted => "interrupted",
        }
    }
}

impl Event {
    /// How `events` shows it: when, what, the outcome, the summary; who from where; a
    /// deploy's instances by batch.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "{}  {:<22} {:<11} {}",
                crate::duration::utc(self.time_ms / 1000),
                self.command,
                self.outcome.as_str().to_uppercase(),
                self.summary
            ),
            format!("    by {} on {}", self.principal, self.host),
        ];
        for batch in self
            .details
            .deploy()
            .map(|d| &d.batches[..])
            .unwrap_or_default()
        {
            for instance in &batch.instances {
                lines.push(format!(
                    "    batch {}: {} {}{}",
                    batch.number,
                    instance.instance,
                    instance.outcome,
                    match &instance.failed_step {
                        Some(step) => format!(" at {step}: {}", instance.message),
                        None => String::new(),
                    }
                ));
            }
        }
        lines
    }
}

/// What an event keeps beside its summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventDetails {
    Deploy(Box<DeployOutcome>),
    Rollback(RollbackOutcome),
    #[default]
    None,
}

impl EventDetails {
    pub fn deploy(&self) -> Option<&DeployOutcome> {
        match self {
            EventDetails::Deploy(outcome) => Some(outcome),
            _ => None,
        }
    }
}

/// The deployment under way on an environment, as its deploy keeps it while it runs:
/// what `status` shows, who runs it (with a heartbeat, so that a deployment whose command
/// died or lost its lock is told apart from a live one), and what a killed one leaves to undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub deployment_id: u64,
    pub version: String,
    pub policy: DeploymentPolicy,
    #[serde(default = "one_instance")]
    pub batch_size: BatchSize,
    /// The batch under way (1-based) and how many there are.
    pub batch: usize,
    pub batches: usize,
    pub instances_done: usize,
    pub instances: usize,
    /// `traffic-splitting`: the new instances' share of requests now.
    pub traffic_percent: Option<u32>,
    pub rolling_back: bool,
    /// Who runs it, and when it last said it still does (Unix seconds).
    #[serde(default)]
    pub owner: Owner,
    #[serde(default)]
    pub heartbeat: u64,
    #[serde(default)]
    pub lease_secs: u64,
    /// The version the environment served before it.
    #[serde(default)]
    pub previous: String,
    /// The environment's Auto Scaling group, its size and maximum before the deployment.
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub desired: i32,
    #[serde(default)]
    pub max: i32,
    /// Instances it added to the environment's group (an extra batch, or new instances moved
    /// in): a killed deployment's are retired by whoever finishes it.
    #[serde(default)]
    pub launched: Vec<String>,
}

fn one_instance() -> BatchSize {
    BatchSize::Fixed(1)
}

impl DeploymentRecord {
    /// Its command said it runs less than a lease ago.
    pub fn fresh(&self, now: u64) -> bool {
        now <= self.heartbeat.saturating_add(self.lease_secs.max(1))
    }
}

/// The report of an instance's first boot.
pub fn boot_report_key(application: &str, environment: &str, instance: &str) -> String {
    format!(
        "{}{environment}/boot/{instance}.json",
        environment_pointer_prefix(application)
    )
}

/// Where a worker's daemons report how they are (`INSTANCE.json`, every few seconds).
pub fn daemons_prefix(application: &str, environment: &str) -> String {
    format!(
        "{}{environment}/daemons/",
        environment_pointer_prefix(application)
    )
}

/// Deployment `id`'s document.
pub fn deployment_document_key(application: &str, environment: &str, id: u64) -> String {
    format!(
        "{}{environment}/deployments/{id}.json",
        environment_pointer_prefix(application)
    )
}

/// Where the instances of deployment `id` write their reports (`INSTANCE.json`).
pub fn deployment_reports_prefix(application: &str, environment: &str, id: u64) -> String {
    format!(
        "{}{environment}/deployments/{id}/",
        environment_pointer_prefix(application)
    )
}

/// What an instance answers to `beanpole logs`: its logs' last lines, by path on the instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsAnswer {
    pub instance: String,
    pub logs: BTreeMap<String, String>,
}

/// Where the instances answer one `logs` request (`INSTANCE.json`).
pub fn logs_prefix(application: &str, environment: &str, request: &str) -> String {
    format!(
        "{}{environment}/logs/{request}/",
        environment_pointer_prefix(application)
    )
}

pub fn versions_prefix(application: &str) -> String {
    format!("{application}/versions/")
}

pub fn bundle_key(application: &str, label: &str) -> String {
    format!("{}{label}.zip", versions_prefix(application))
}

pub fn manifest_key(application: &str, label: &str) -> String {
    format!("{}{label}.json", versions_prefix(application))
}

/// A version label: 1–100 letters, digits and `._-`, not starting with `.` (EB allows any
/// character but `/`; these are the ones that are safe in keys, paths and logs).
pub fn check_label(label: &str) -> Result<(), String> {
    let ok = !label.is_empty()
        && label.len() <= 100
        && !label.starts_with('.')
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a version label: use 1 to 100 letters, digits, `.`, `_` and `-` (like v7 or 2026-11-30.1)",
            label.escape_debug()
        ))
    }
}

/// EB's description limit: 200 characters.
pub fn check_message(message: &str) -> Result<(), String> {
    if message.chars().count() > 200 || message.chars().any(char::is_control) {
        return Err("a version message is one line of at most 200 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_labels() {
        assert_eq!(bundle_key("pets-app", "v7"), "pets-app/versions/v7.zip");
        assert_eq!(manifest_key("pets-app", "v7"), "pets-app/versions/v7.json");
        assert!(check_label("app-261130_160917-cd14123").is_ok());
        for bad in [
            "",
            "a/b",
            "../x",
            ".hidden",
            "v 7",
            "v7\n",
            &"x".repeat(101),
        ] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
        assert!(check_message("new search page").is_ok());
        assert!(check_message("two\nlines").is_err());
    }
}
