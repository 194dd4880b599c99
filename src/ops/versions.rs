//! Application versions in the account's versions bucket: create one from a bundle (reusing
//! the version that has the same sha256, never overwriting a label with other content), list
//! them, delete one that no environment runs. The bucket is a resource of the graph: `apply`
//! makes it; here it is only read and written.

use super::{OpError, Session};
use crate::aws::s3::{self, Written};
use crate::aws::{Aws, AwsError};
use crate::bundle::Bundle;
use crate::graph::kinds::versions_bucket;
use crate::platform::store::{
    bundle_key, check_label, check_message, environment_pointer_prefix, manifest_key,
    versions_prefix, EnvironmentPointer, VersionManifest,
};

#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the versions bucket {bucket} does not exist yet: run `beanpole apply` first (it creates it)")]
    NoBucket { bucket: String },
    #[error("{0}")]
    Invalid(String),
    #[error("version {label} of {application} already exists with other content (sha256 {existing}): choose another label")]
    LabelTaken {
        application: String,
        label: String,
        existing: String,
    },
    #[error("no version {label} of {application} (it has: {known})")]
    NoSuchVersion {
        application: String,
        label: String,
        known: String,
    },
    #[error("version {label} of {application} is running on {}: deploy another version there first", .environments.join(", "))]
    InUse {
        application: String,
        label: String,
        environments: Vec<String>,
    },
    #[error("{key} in the versions bucket is not what Beanpole wrote: {reason}")]
    Corrupt { key: String, reason: String },
}

/// A version and the environments running it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    pub manifest: VersionManifest,
    pub environments: Vec<String>,
}

/// What `create` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub manifest: VersionManifest,
    /// An existing version had the same sha256: nothing was uploaded.
    pub reused: bool,
}

/// One application's versions.
pub struct VersionStore<'s> {
    session: &'s Session,
    aws: &'s Aws,
    pub application: String,
    pub bucket: String,
}

impl<'s> VersionStore<'s> {
    /// The application's store, in the bucket of its account and region (which must exist).
    pub fn open(session: &'s Session, application: &str) -> Result<Self, VersionError> {
        let aws = session.client(application)?;
        let account = session
            .runtime
            .block_on(crate::aws::sts::account_id(&aws.sts))?;
        let bucket = versions_bucket::name(&account, &aws.region);
        if !session
            .runtime
            .block_on(s3::bucket_exists(&aws.s3, &bucket))?
        {
            return Err(VersionError::NoBucket { bucket });
        }
        Ok(VersionStore {
            session,
            aws,
            application: application.to_string(),
            bucket,
        })
    }

    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, VersionError> {
        let Some(bytes) =
            self.session
                .runtime
                .block_on(s3::get(&self.aws.s3, &self.bucket, key))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| VersionError::Corrupt {
                key: key.to_string(),
                reason: e.to_string(),
            })
    }

    /// Every version's manifest, newest first.
    fn manifests(&self) -> Result<Vec<VersionManifest>, VersionError> {
        let keys = self.session.runtime.block_on(s3::list(
            &self.aws.s3,
            &self.bucket,
            &versions_prefix(&self.application),
        ))?;
        let mut manifests = Vec::new();
        for key in keys.iter().filter(|k| k.ends_with(".json")) {
            if let Some(manifest) = self.get_json::<VersionManifest>(key)? {
                manifests.push(manifest);
            }
        }
        manifests.sort_by(|a, b| (b.created, &b.label).cmp(&(a.created, &a.label)));
        Ok(manifests)
    }

    /// The manifest of version `label`.
    pub fn manifest(&self, label: &str) -> Result<VersionManifest, VersionError> {
        check_label(label).map_err(VersionError::Invalid)?;
        if let Some(manifest) =
            self.get_json::<VersionManifest>(&manifest_key(&self.application, label))?
        {
            return Ok(manifest);
        }
        let known: Vec<String> = self.manifests()?.into_iter().map(|m| m.label).collect();
        Err(VersionError::NoSuchVersion {
            application: self.application.clone(),
            label: label.to_string(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        })
    }

    /// Every version, newest first, with the environments running each.
    pub fn list(&self) -> Result<Vec<VersionInfo>, VersionError> {
        let running = self.running()?;
        Ok(self
            .manifests()?
            .into_iter()
            .map(|manifest| VersionInfo {
                environments: running
                    .iter()
                    .filter(|p| p.label == manifest.label)
                    .map(|p| p.environment.clone())
                    .collect(),
                manifest,
            })
            .collect())
    }

    /// What each environment of the application runs, as its deployments record it.
    pub fn running(&self) -> Result<Vec<EnvironmentPointer>, VersionError> {
        let keys = self.session.runtime.block_on(s3::list(
            &self.aws.s3,
            &self.bucket,
            &environment_pointer_prefix(&self.application),
        ))?;
        let mut pointers = Vec::new();
        for key in keys.iter().filter(|k| k.ends_with("/current.json")) {
            if let Some(pointer) = self.get_json::<EnvironmentPointer>(key)? {
                pointers.push(pointer);
            }
        }
        Ok(pointers)
    }

    /// Stores `bundle` as a version: the existing one with the same sha256 if there is one,
    /// else under `label` (default: EB's `app-YYMMDD_HHMMSS-SHA7`), written only if the label
    /// is free: the bundle first, then its manifest.
    pub fn create(
        &self,
        bundle: &Bundle,
        label: Option<String>,
        message: String,
        now: u64,
    ) -> Result<Created, VersionError> {
        check_message(&message).map_err(VersionError::Invalid)?;
        if let Some(label) = &label {
            check_label(label).map_err(VersionError::Invalid)?;
        }
        let existing = self.manifests()?;
        if let Some(same) = existing.iter().find(|m| m.sha256 == bundle.sha256) {
            if label.as_deref().is_none_or(|l| l == same.label) {
                return Ok(Created {
                    manifest: same.clone(),
                    reused: true,
                });
            }
        }
        let label = label.unwrap_or_else(|| bundle.default_label(now));
        if let Some(taken) = existing.iter().find(|m| m.label == label) {
            return Err(VersionError::LabelTaken {
                application: self.application.clone(),
                label,
                existing: taken.sha256.clone(),
            });
        }
        let manifest = VersionManifest {
            label: label.clone(),
            sha256: bundle.sha256.clone(),
            size: bundle.bytes.len() as u64,
            message,
            created: now,
            wsgi_path: bundle.wsgi_path.clone(),
            ebextensions: bundle.ebextensions.clone(),
        };
        let written = self.session.runtime.block_on(s3::put_new(
            &self.aws.s3,
            &self.bucket,
            &bundle_key(&self.application, &label),
            bundle.bytes.clone(),
            "application/zip",
        ))?;
        if written == Written::AlreadyThere {
            // A bundle without a manifest: a create killed between its two writes, or
            // another one racing this one. Its content decides.
            let bytes = self
                .session
                .runtime
                .block_on(s3::get(
                    &self.aws.s3,
                    &self.bucket,
                    &bundle_key(&self.application, &label),
                ))?
                .unwrap_or_default();
            let sha = crate::bundle::sha256_hex(&bytes);
            if sha != bundle.sha256 {
                return Err(VersionError::LabelTaken {
                    application: self.application.clone(),
                    label,
                    existing: sha,
                });
            }
        }
        let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        self.session.runtime.block_on(s3::put_new(
            &self.aws.s3,
            &self.bucket,
            &manifest_key(&self.application, &label),
            text,
            "application/json",
        ))?;
        Ok(Created {
            manifest,
            reused: false,
        })
    }

    /// Deletes a version no environment runs: its manifest first (so it is no longer
    /// listed), then its bundle.
    pub fn delete(&self, label: &str) -> Result<VersionManifest, VersionError> {
        let versions = self.list()?;
        let Some(version) = versions.iter().find(|v| v.manifest.label == label) else {
            return Err(VersionError::NoSuchVersion {
                application: self.application.clone(),
                label: label.to_string(),
                known: if versions.is_empty() {
                    "none".into()
                } else {
                    versions
                        .iter()
                        .map(|v| v.manifest.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        };
        if !version.environments.is_empty() {
            return Err(VersionError::InUse {
                application: self.application.clone(),
                label: label.to_string(),
                environments: version.environments.clone(),
            });
        }
        for key in [
            manifest_key(&self.application, label),
            bundle_key(&self.application, label),
        ] {
            self.session
                .runtime
                .block_on(s3::delete(&self.aws.s3, &self.bucket, &key))?;
        }
        Ok(version.manifest.clone())
    }
}
