//! Where Beanpole keeps an application's versions in the account's versions bucket, and what
//! it keeps with each: nothing else stores state. Pure.
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
//! APPLICATION/environments/ENV/abort.json
//!                                       a request to abort the deployment in progress
//! APPLICATION/lock.json                 the application's lock, while a command holds it
//! ```

use crate::bundle::ebextensions::EbExtensions;
use serde::{Deserialize, Serialize};

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

/// The report of an instance's first boot.
pub fn boot_report_key(application: &str, environment: &str, instance: &str) -> String {
    format!(
        "{}{environment}/boot/{instance}.json",
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
