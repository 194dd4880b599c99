//! The versions bucket as a typed store: every record `bucket` describes, read and written by
//! one method each (the lock, events, versions and their manifests, pointers, deployment
//! documents, the engine's reports and progress, the deployment under way, abort requests,
//! logs answers, the engine itself). Conditional writes are how concurrent commands stay
//! apart: a create that finds its key taken, or a replace whose ETag moved, says so instead
//! of overwriting. A record that does not parse is `Unreadable`, with its key and why: a
//! caller decides whether that stops it or is skipped.

use super::s3::{self, Written};
use super::{sts, Aws, AwsError};
use crate::bucket::{
    abort_key, boot_report_key, bundle_key, check_label, deploying_key, deployment_document_key,
    deployment_reports_prefix, environment_pointer_key, environment_pointer_prefix, event_key,
    events_prefix, group_pointer_key, lock_key, logs_prefix, manifest_key, versions_prefix,
    AbortRequest, DeploymentRecord, EnvironmentPointer, Event, LockRecord, LogsAnswer,
    VersionManifest,
};
use crate::platform::document::Document;
use crate::platform::report::{Progress, Report};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An object of the bucket that is not what Beanpole writes there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} in the versions bucket is not what Beanpole wrote: {reason}")]
pub struct Unreadable {
    pub key: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
}

/// A record read with the ETag it had (for a conditional replace or delete).
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged<T> {
    pub record: Result<T, Unreadable>,
    pub etag: String,
}

/// What the instances of one deployment have written so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportKeys {
    /// Instances with a report.
    pub reported: BTreeSet<String>,
    /// Instances that said which step they were at, with no report (yet).
    pub in_progress: BTreeSet<String>,
}

/// The account's versions bucket in one region.
#[derive(Clone)]
pub struct Store {
    s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl Store {
    /// The versions bucket of `aws`'s account and region (one STS call), whether or not it
    /// exists yet.
    pub async fn locate(aws: &Aws) -> Result<Store, AwsError> {
        let account = sts::account_id(&aws.sts).await?;
        Ok(Store::named(
            aws,
            crate::graph::kinds::versions_bucket::name(&account, &aws.region),
        ))
    }

    pub fn named(aws: &Aws, bucket: String) -> Store {
        Store {
            s3: aws.s3.clone(),
            bucket,
        }
    }

    pub async fn exists(&self) -> Result<bool, AwsError> {
        s3::bucket_exists(&self.s3, &self.bucket).await
    }

    /// The bucket as the plan reads it (its tags say whether it is Beanpole's).
    pub async fn read_bucket(&self) -> Result<Option<crate::reconcile::LiveResource>, AwsError> {
        s3::read_bucket(&self.s3, &self.bucket).await
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Result<T, Unreadable>>, AwsError> {
        Ok(s3::get(&self.s3, &self.bucket, key)
            .await?
            .map(|bytes| parse(key, &bytes)))
    }

    async fn read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        Ok(self.get_json(key).await?.transpose()?)
    }

    async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AwsError> {
        s3::put(
            &self.s3,
            &self.bucket,
            key,
            to_json(value),
            "application/json",
        )
        .await
        .map(|_| ())
    }

    async fn put_json_new<T: Serialize>(&self, key: &str, value: &T) -> Result<Written, AwsError> {
        s3::put_new(
            &self.s3,
            &self.bucket,
            key,
            to_json(value),
            "application/json",
        )
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), AwsError> {
        s3::delete(&self.s3, &self.bucket, key).await
    }

    // ----- the engine -------------------------------------------------------------------------

    /// The platform engine this Beanpole ships, under its content address (written once; a
    /// copy already there is the same bytes).
    pub async fn put_engine(&self) -> Result<(), AwsError> {
        let engine = crate::platform::engine::archive();
        s3::put_new(
            &self.s3,
            &self.bucket,
            &crate::platform::boot::engine_key(&engine.digest),
            engine.bytes.clone(),
            "application/zip",
        )
        .await
        .map(|_| ())
    }

    // ----- the lock ---------------------------------------------------------------------------

    /// Creates the application's lock if there is none; its ETag, or `None` when one exists.
    pub async fn create_lock(&self, record: &LockRecord) -> Result<Option<String>, AwsError> {
        s3::create_new(
            &self.s3,
            &self.bucket,
            &lock_key(&record.application),
            to_json(record),
        )
        .await
    }

    pub async fn read_lock(
        &self,
        application: &str,
    ) -> Result<Option<Tagged<LockRecord>>, AwsError> {
        self.read_tagged(&lock_key(application)).await
    }

    /// A record with the ETag it was read at (for a conditional write or delete after it).
    async fn read_tagged<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Tagged<T>>, AwsError> {
        Ok(s3::get_with_etag(&self.s3, &self.bucket, key)
            .await?
            .map(|(bytes, etag)| Tagged {
                record: parse(key, &bytes),
                etag,
            }))
    }

    /// Replaces the lock if it still has `etag`; the new ETag, or `None` when it changed.
    pub async fn replace_lock(
        &self,
        record: &LockRecord,
        etag: &str,
    ) -> Result<Option<String>, AwsError> {
        s3::replace_if_match(
            &self.s3,
            &self.bucket,
            &lock_key(&record.application),
            to_json(record),
            etag,
        )
        .await
    }

    /// Deletes the lock if it still has `etag`; whether it did.
    pub async fn delete_lock(&self, application: &str, etag: &str) -> Result<bool, AwsError> {
        s3::delete_if_match(&self.s3, &self.bucket, &lock_key(application), etag).await
    }

    /// Deletes the lock whoever holds it (`unlock --force`).
    pub async fn remove_lock(&self, application: &str) -> Result<(), AwsError> {
        self.delete(&lock_key(application)).await
    }

    // ----- events -----------------------------------------------------------------------------

    pub async fn put_event(&self, event: &Event) -> Result<(), AwsError> {
        let key = event_key(&event.application, event.time_ms, std::process::id());
        self.put_json(&key, event).await
    }

    /// The application's events for which `keep` holds, newest first, at most `limit`; and
    /// the objects among them that are not events.
    pub async fn events(
        &self,
        application: &str,
        limit: usize,
        keep: impl Fn(&Event) -> bool,
    ) -> Result<(Vec<Event>, Vec<Unreadable>), AwsError> {
        let mut keys = s3::list(&self.s3, &self.bucket, &events_prefix(application)).await?;
        keys.sort();
        let mut events = Vec::new();
        let mut unreadable = Vec::new();
        for key in keys.iter().rev() {
            if events.len() >= limit {
                break;
            }
            match self.get_json::<Event>(key).await? {
                Some(Ok(event)) if keep(&event) => events.push(event),
                Some(Err(e)) => unreadable.push(e),
                _ => {}
            }
        }
        Ok((events, unreadable))
    }

    // ----- versions ---------------------------------------------------------------------------

    /// Every version's manifest, newest first, and the objects that should be manifests but
    /// are not (unparsable, or a label that is not the one its key names).
    pub async fn manifests(
        &self,
        application: &str,
    ) -> Result<(Vec<VersionManifest>, Vec<Unreadable>), AwsError> {
        let prefix = versions_prefix(application);
        let keys = s3::list(&self.s3, &self.bucket, &prefix).await?;
        let mut manifests = Vec::new();
        let mut unreadable = Vec::new();
        for key in keys.iter().filter(|k| k.ends_with(".json")) {
            let Some(read) = self.get_json::<VersionManifest>(key).await? else {
                continue;
            };
            match read.and_then(|m| checked_manifest(key, &prefix, m)) {
                Ok(m) => manifests.push(m),
                Err(e) => unreadable.push(e),
            }
        }
        manifests.sort_by(|a, b| (b.created, &b.label).cmp(&(a.created, &a.label)));
        Ok((manifests, unreadable))
    }

    /// The manifest of version `label` (a label checked by the caller).
    pub async fn manifest(
        &self,
        application: &str,
        label: &str,
    ) -> Result<Option<VersionManifest>, StoreError> {
        let key = manifest_key(application, label);
        match self.get_json::<VersionManifest>(&key).await? {
            None => Ok(None),
            Some(read) => Ok(Some(read.and_then(|m| {
                checked_manifest(&key, &versions_prefix(application), m)
            })?)),
        }
    }

    /// Writes a version's bundle unless its key is taken.
    pub async fn put_bundle(
        &self,
        application: &str,
        label: &str,
        bytes: Vec<u8>,
    ) -> Result<Written, AwsError> {
        s3::put_new(
            &self.s3,
            &self.bucket,
            &bundle_key(application, label),
            bytes,
            "application/zip",
        )
        .await
    }

    /// The sha256 of the bundle stored under `label`, if there is one.
    pub async fn bundle_sha256(
        &self,
        application: &str,
        label: &str,
    ) -> Result<Option<String>, AwsError> {
        Ok(
            s3::get(&self.s3, &self.bucket, &bundle_key(application, label))
                .await?
                .map(|bytes| crate::bundle::sha256_hex(&bytes)),
        )
    }

    /// Writes a version's manifest unless its key is taken.
    pub async fn put_manifest(
        &self,
        application: &str,
        manifest: &VersionManifest,
    ) -> Result<Written, AwsError> {
        self.put_json_new(&manifest_key(application, &manifest.label), manifest)
            .await
    }

    /// Deletes a version: its manifest first (so it is no longer listed), then its bundle.
    pub async fn delete_version(&self, application: &str, label: &str) -> Result<(), AwsError> {
        self.delete(&manifest_key(application, label)).await?;
        self.delete(&bundle_key(application, label)).await
    }

    // ----- what environments run --------------------------------------------------------------

    pub async fn environment_pointer(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<Option<EnvironmentPointer>, StoreError> {
        self.read(&environment_pointer_key(application, environment))
            .await
    }

    /// What each environment of the application runs.
    pub async fn environment_pointers(
        &self,
        application: &str,
    ) -> Result<Vec<EnvironmentPointer>, StoreError> {
        let keys = s3::list(
            &self.s3,
            &self.bucket,
            &environment_pointer_prefix(application),
        )
        .await?;
        let mut pointers = Vec::new();
        for key in keys.iter().filter(|k| k.ends_with("/current.json")) {
            if let Some(pointer) = self.read(key).await? {
                pointers.push(pointer);
            }
        }
        Ok(pointers)
    }

    pub async fn put_environment_pointer(
        &self,
        application: &str,
        pointer: &EnvironmentPointer,
    ) -> Result<(), AwsError> {
        self.put_json(
            &environment_pointer_key(application, &pointer.environment),
            pointer,
        )
        .await
    }

    /// What a deployment's temporary group boots.
    pub async fn put_group_pointer(
        &self,
        application: &str,
        group: &str,
        pointer: &EnvironmentPointer,
    ) -> Result<(), AwsError> {
        self.put_json(
            &group_pointer_key(application, &pointer.environment, group),
            pointer,
        )
        .await
    }

    pub async fn delete_group_pointer(
        &self,
        application: &str,
        environment: &str,
        group: &str,
    ) -> Result<(), AwsError> {
        self.delete(&group_pointer_key(application, environment, group))
            .await
    }

    /// The temporary groups that have a pointer, by name.
    pub async fn group_pointers(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<Vec<String>, AwsError> {
        let probe = group_pointer_key(application, environment, "");
        let prefix = probe.trim_end_matches(".json");
        Ok(s3::list(&self.s3, &self.bucket, prefix)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(prefix)?.strip_suffix(".json"))
            .map(str::to_string)
            .collect())
    }

    // ----- deployments ------------------------------------------------------------------------

    fn documents_prefix(application: &str, environment: &str) -> String {
        let probe = deployment_document_key(application, environment, 0);
        probe.trim_end_matches("0.json").to_string()
    }

    /// The ids of the environment's deployments that have a document.
    pub async fn deployment_ids(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<Vec<u64>, AwsError> {
        let prefix = Store::documents_prefix(application, environment);
        let mut ids: Vec<u64> = s3::list(&self.s3, &self.bucket, &prefix)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix(".json")?.parse().ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Writes deployment `document.deployment_id`'s document unless that id is taken.
    pub async fn put_document(
        &self,
        application: &str,
        document: &Document,
    ) -> Result<Written, AwsError> {
        self.put_json_new(
            &deployment_document_key(application, &document.environment, document.deployment_id),
            document,
        )
        .await
    }

    /// A deployment's document by its key (what a pointer names).
    pub async fn document_at(&self, key: &str) -> Result<Option<Document>, StoreError> {
        self.read(key).await
    }

    pub async fn document(
        &self,
        application: &str,
        environment: &str,
        id: u64,
    ) -> Result<Option<Document>, StoreError> {
        self.document_at(&deployment_document_key(application, environment, id))
            .await
    }

    /// An instance's report of deployment `id`.
    pub async fn report(
        &self,
        application: &str,
        environment: &str,
        id: u64,
        instance: &str,
    ) -> Result<Option<Result<Report, Unreadable>>, AwsError> {
        let prefix = deployment_reports_prefix(application, environment, id);
        self.get_json(&format!("{prefix}{instance}.json")).await
    }

    /// The step an instance's engine said it is at in deployment `id` (a progress record that
    /// does not parse counts as none: it is a display).
    pub async fn progress(
        &self,
        application: &str,
        environment: &str,
        id: u64,
        instance: &str,
    ) -> Result<Option<Progress>, AwsError> {
        let prefix = deployment_reports_prefix(application, environment, id);
        Ok(self
            .get_json::<Progress>(&format!("{prefix}{instance}.progress.json"))
            .await?
            .and_then(Result::ok))
    }

    /// Which instances of deployment `id` reported, and which only said how far they got.
    pub async fn report_keys(
        &self,
        application: &str,
        environment: &str,
        id: u64,
    ) -> Result<ReportKeys, AwsError> {
        let prefix = deployment_reports_prefix(application, environment, id);
        let mut keys = ReportKeys::default();
        for key in s3::list(&self.s3, &self.bucket, &prefix).await? {
            let Some(name) = key.strip_prefix(&prefix) else {
                continue;
            };
            if let Some(instance) = name.strip_suffix(".progress.json") {
                keys.in_progress.insert(instance.to_string());
            } else if let Some(instance) = name.strip_suffix(".json") {
                keys.reported.insert(instance.to_string());
            }
        }
        keys.in_progress.retain(|i| !keys.reported.contains(i));
        Ok(keys)
    }

    /// Every deployment each instance reported on, by instance: (deployment id, instance).
    pub async fn reported_deployments(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<BTreeMap<String, Vec<u64>>, AwsError> {
        let prefix = Store::documents_prefix(application, environment);
        let mut by_instance: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for key in s3::list(&self.s3, &self.bucket, &prefix).await? {
            let Some((id, file)) = key.strip_prefix(&prefix).and_then(|r| r.split_once('/')) else {
                continue;
            };
            let (Ok(id), Some(instance)) = (id.parse::<u64>(), file.strip_suffix(".json")) else {
                continue;
            };
            if !instance.ends_with(".progress") {
                by_instance
                    .entry(instance.to_string())
                    .or_default()
                    .push(id);
            }
        }
        Ok(by_instance)
    }

    /// What a worker's daemons last reported, one per instance (unreadable ones left out).
    pub async fn daemon_reports(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<Vec<crate::status::DaemonReport>, AwsError> {
        let prefix = crate::bucket::daemons_prefix(application, environment);
        let mut reports = Vec::new();
        for key in s3::list(&self.s3, &self.bucket, &prefix).await? {
            if let Some(Ok(report)) = self.get_json(&key).await? {
                reports.push(report);
            }
        }
        Ok(reports)
    }

    /// The report of an instance's first boot.
    pub async fn boot_report(
        &self,
        application: &str,
        environment: &str,
        instance: &str,
    ) -> Result<Option<Result<Report, Unreadable>>, AwsError> {
        self.get_json(&boot_report_key(application, environment, instance))
            .await
    }

    // ----- the deployment under way -----------------------------------------------------------

    pub async fn deployment_record(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<Option<Tagged<DeploymentRecord>>, AwsError> {
        self.read_tagged(&deploying_key(application, environment))
            .await
    }

    /// Writes the record; its ETag.
    pub async fn put_deployment_record(
        &self,
        application: &str,
        environment: &str,
        record: &DeploymentRecord,
    ) -> Result<String, AwsError> {
        s3::put(
            &self.s3,
            &self.bucket,
            &deploying_key(application, environment),
            to_json(record),
            "application/json",
        )
        .await
    }

    /// Deletes the record if it still has `etag` (another deploy's is left alone); or
    /// whatever it holds with `None`.
    pub async fn delete_deployment_record(
        &self,
        application: &str,
        environment: &str,
        etag: Option<&str>,
    ) -> Result<(), AwsError> {
        let key = deploying_key(application, environment);
        match etag {
            Some(etag) => s3::delete_if_match(&self.s3, &self.bucket, &key, etag)
                .await
                .map(|_| ()),
            None => self.delete(&key).await,
        }
    }

    // ----- abort requests ---------------------------------------------------------------------

    pub async fn abort_request(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<Option<AbortRequest>, StoreError> {
        self.read(&abort_key(application, environment)).await
    }

    pub async fn put_abort_request(
        &self,
        application: &str,
        environment: &str,
        request: &AbortRequest,
    ) -> Result<(), AwsError> {
        self.put_json(&abort_key(application, environment), request)
            .await
    }

    pub async fn delete_abort_request(
        &self,
        application: &str,
        environment: &str,
    ) -> Result<(), AwsError> {
        self.delete(&abort_key(application, environment)).await
    }

    // ----- logs -------------------------------------------------------------------------------

    /// An instance's answer to logs request `request`, read once: the bucket keeps no copy.
    pub async fn take_logs(
        &self,
        application: &str,
        environment: &str,
        request: &str,
        instance: &str,
    ) -> Result<Option<Result<LogsAnswer, Unreadable>>, AwsError> {
        let key = format!(
            "{}{instance}.json",
            logs_prefix(application, environment, request)
        );
        let answer = self.get_json::<LogsAnswer>(&key).await?;
        if answer.is_some() {
            self.delete(&key).await?;
        }
        Ok(answer)
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these records cannot fail: they hold strings, numbers and maps keyed by
    // strings only.
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

fn parse<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, Unreadable> {
    serde_json::from_slice(bytes).map_err(|e| Unreadable {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// A manifest is only taken if its label is a label and the one its key names: a label read
/// from the bucket becomes a key and a path, so it must be as safe as one a user typed.
fn checked_manifest(
    key: &str,
    prefix: &str,
    manifest: VersionManifest,
) -> Result<VersionManifest, Unreadable> {
    let named = key
        .strip_prefix(prefix)
        .and_then(|k| k.strip_suffix(".json"))
        .unwrap_or_default();
    let problem = if let Err(why) = check_label(&manifest.label) {
        Some(why)
    } else if manifest.label != named {
        Some(format!(
            "its label `{}` is not the one its key names (`{named}`)",
            manifest.label.escape_debug()
        ))
    } else {
        crate::bucket::check_message(&manifest.message).err()
    };
    match problem {
        Some(reason) => Err(Unreadable {
            key: key.to_string(),
            reason,
        }),
        None => Ok(manifest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(label: &str, message: &str) -> VersionManifest {
        VersionManifest {
            label: label.into(),
            sha256: "00".into(),
            size: 1,
            message: message.into(),
            created: 1,
            wsgi_path: "application:application".into(),
            ebextensions: Default::default(),
        }
    }

    #[test]
    fn a_manifest_must_name_a_safe_label_its_key_names_and_say_one_line() {
        let p = "a/versions/";
        assert!(checked_manifest("a/versions/v1.json", p, manifest("v1", "ok")).is_ok());
        let escape =
            checked_manifest("a/versions/v1.json", p, manifest("../../x", "")).unwrap_err();
        assert!(escape.reason.contains("not a version label"), "{escape}");
        let other = checked_manifest("a/versions/v1.json", p, manifest("v2", "")).unwrap_err();
        assert!(
            other.reason.contains("not the one its key names"),
            "{other}"
        );
        let terminal =
            checked_manifest("a/versions/v1.json", p, manifest("v1", "\u{1b}[2Jhi")).unwrap_err();
        assert!(terminal.reason.contains("one line"), "{terminal}");
    }
}
