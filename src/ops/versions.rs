//! Application versions in the account's versions bucket: create one from a bundle (reusing
//! the version that has the same sha256, never overwriting a label with other content), list
//! them, delete one that no environment runs. The bucket is a resource of the graph: `apply`
//! makes it; here it is only read and written.

use super::bundle::{bundle, BundleError, BundleRequest};
use super::{OpError, Session};
use crate::aws::s3::Written;
use crate::aws::store::{Store, StoreError, Unreadable};
use crate::bucket::{check_label, check_message, EnvironmentPointer, VersionManifest};
use crate::bundle::Bundle;
use crate::duration::now_unix;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
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
}

impl From<crate::aws::AwsError> for VersionError {
    fn from(e: crate::aws::AwsError) -> Self {
        VersionError::Op(OpError::Aws(e))
    }
}

impl From<StoreError> for VersionError {
    fn from(e: StoreError) -> Self {
        VersionError::Op(OpError::Store(e))
    }
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

/// An application's versions, newest first, and what the bucket holds among them that is not
/// a version Beanpole wrote (listed apart, never the end of the list).
#[derive(Debug, Clone)]
pub struct VersionsReport {
    pub application: String,
    pub bucket: String,
    pub versions: Vec<VersionInfo>,
    pub unreadable: Vec<Unreadable>,
}

impl VersionsReport {
    /// `versions --json`: `{"application", "bucket", "versions": [{"label", "created", "size",
    /// "sha256", "message", "environments"}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "application": self.application,
            "bucket": self.bucket,
            "versions": self.versions.iter().map(|v| serde_json::json!({
                "label": v.manifest.label,
                "created": crate::duration::utc(v.manifest.created),
                "size": v.manifest.size,
                "sha256": v.manifest.sha256,
                "message": v.manifest.message,
                "environments": v.environments,
            })).collect::<Vec<_>>(),
        })
    }

    /// The versions as a table, newest first.
    pub fn table(&self) -> Vec<String> {
        let width = self
            .versions
            .iter()
            .map(|v| v.manifest.label.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut lines = vec![
            format!("Versions of {}, newest first:", self.application),
            format!(
                "  {:<width$}  {:<23}  {:>10}  {:<12}  {:<20}  MESSAGE",
                "LABEL", "CREATED", "SIZE", "SHA256", "RUNNING ON"
            ),
        ];
        for v in &self.versions {
            let m = &v.manifest;
            let running = match v.environments.as_slice() {
                [] => "-".to_string(),
                envs => envs.join(","),
            };
            lines.push(format!(
                "  {:<width$}  {:<23}  {:>10}  {:<12}  {:<20}  {}",
                m.label,
                crate::duration::utc(m.created),
                m.size,
                &m.sha256[..m.sha256.len().min(12)],
                running,
                m.message
            ));
        }
        lines
    }
}

/// One application's versions.
pub struct VersionStore {
    pub application: String,
    pub store: Store,
}

impl VersionStore {
    /// The application's store, in the bucket of its account and region (which must exist).
    pub async fn open(session: &Session, application: &str) -> Result<Self, OpError> {
        Ok(VersionStore {
            application: application.to_string(),
            store: session.store(application).await?,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.store.bucket
    }

    /// The manifest of version `label`.
    pub async fn manifest(&self, label: &str) -> Result<VersionManifest, VersionError> {
        check_label(label).map_err(VersionError::Invalid)?;
        if let Some(manifest) = self.store.manifest(&self.application, label).await? {
            return Ok(manifest);
        }
        let (manifests, _) = self.store.manifests(&self.application).await?;
        Err(VersionError::NoSuchVersion {
            application: self.application.clone(),
            label: label.to_string(),
            known: known(manifests.iter().map(|m| m.label.as_str())),
        })
    }

    /// Every version, newest first, with the environments running each.
    pub async fn list(&self) -> Result<VersionsReport, VersionError> {
        let running = self.running().await?;
        let (manifests, unreadable) = self.store.manifests(&self.application).await?;
        Ok(VersionsReport {
            application: self.application.clone(),
            bucket: self.store.bucket.clone(),
            versions: manifests
                .into_iter()
                .map(|manifest| VersionInfo {
                    environments: running
                        .iter()
                        .filter(|p| p.label == manifest.label)
                        .map(|p| p.environment.clone())
                        .collect(),
                    manifest,
                })
                .collect(),
            unreadable,
        })
    }

    /// What each environment of the application runs, as its deployments record it.
    pub async fn running(&self) -> Result<Vec<EnvironmentPointer>, VersionError> {
        Ok(self.store.environment_pointers(&self.application).await?)
    }

    /// Stores `bundle` as a version: the existing one with the same sha256 if there is one,
    /// else under `label` (default: EB's `app-YYMMDD_HHMMSS-SHA7`), written only if the label
    /// is free: the bundle first, then its manifest.
    pub async fn create(
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
        let (existing, _) = self.store.manifests(&self.application).await?;
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
        let written = self
            .store
            .put_bundle(&self.application, &label, bundle.bytes.clone())
            .await?;
        if written == Written::AlreadyThere {
            // A bundle without a manifest: a create killed between its two writes, or
            // another one racing this one. Its content decides.
            let sha = self
                .store
                .bundle_sha256(&self.application, &label)
                .await?
                .unwrap_or_default();
            if sha != bundle.sha256 {
                return Err(VersionError::LabelTaken {
                    application: self.application.clone(),
                    label,
                    existing: sha,
                });
            }
        }
        self.store
            .put_manifest(&self.application, &manifest)
            .await?;
        Ok(Created {
            manifest,
            reused: false,
        })
    }

    /// Deletes a version no environment runs: its manifest first (so it is no longer
    /// listed), then its bundle.
    pub async fn delete(&self, label: &str) -> Result<VersionManifest, VersionError> {
        check_label(label).map_err(VersionError::Invalid)?;
        let report = self.list().await?;
        let Some(version) = report.versions.iter().find(|v| v.manifest.label == label) else {
            return Err(VersionError::NoSuchVersion {
                application: self.application.clone(),
                label: label.to_string(),
                known: known(report.versions.iter().map(|v| v.manifest.label.as_str())),
            });
        };
        if !version.environments.is_empty() {
            return Err(VersionError::InUse {
                application: self.application.clone(),
                label: label.to_string(),
                environments: version.environments.clone(),
            });
        }
        self.store.delete_version(&self.application, label).await?;
        Ok(version.manifest.clone())
    }
}

fn known<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    let labels: Vec<&str> = labels.collect();
    if labels.is_empty() {
        "none".into()
    } else {
        labels.join(", ")
    }
}

/// `versions create`: bundle a source folder and store it as a version.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub application: String,
    pub source: PathBuf,
    pub wsgi_path: Option<String>,
    pub label: Option<String>,
    pub message: String,
}

/// A version stored (or found with the same content), and what the bundle said of itself.
#[derive(Debug)]
pub struct CreateReport {
    pub created: Created,
    pub bucket: String,
    pub bundle: super::bundle::BundleReport,
}

pub async fn create(
    session: &Session,
    request: &CreateRequest,
) -> Result<CreateReport, VersionError> {
    let built = bundle(&BundleRequest {
        source: request.source.clone(),
        wsgi_path: request.wsgi_path.clone(),
        out: None,
        environment: None,
    })?;
    let store = VersionStore::open(session, &request.application).await?;
    let created = store
        .create(
            &built.bundle,
            request.label.clone(),
            request.message.clone(),
            now_unix(),
        )
        .await?;
    Ok(CreateReport {
        created,
        bucket: store.store.bucket.clone(),
        bundle: built,
    })
}

/// `versions`: an application's versions, newest first.
pub async fn list(session: &Session, application: &str) -> Result<VersionsReport, VersionError> {
    VersionStore::open(session, application).await?.list().await
}

/// `versions delete LABEL`: deletes a version no environment runs.
pub async fn delete(
    session: &Session,
    application: &str,
    label: &str,
) -> Result<VersionManifest, VersionError> {
    VersionStore::open(session, application)
        .await?
        .delete(label)
        .await
}
