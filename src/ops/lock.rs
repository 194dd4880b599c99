//! One lock per application: `apply`, `destroy`, `swap` and `deploy` hold it while they
//! change anything, so two of them never interleave (an apply racing a destroy once left CNAME
//! records without their ownership markers). The lock is an object in the application's
//! versions bucket, `APPLICATION/lock.json`, created with a conditional write (only one writer
//! can create it) and holding who, from where, which command, since when, and a lease that the
//! holder renews (a conditional replace of its own version) while it works. A second command
//! is refused at once, naming the holder, or waits with `--wait`; a lease that was not renewed
//! past its expiry (the holder died) is taken over, saying so. Read-only commands take no lock.
//!
//! The first apply of an account and region has no bucket to lock in yet: the lock creates it
//! first, exactly as that apply would (its tags and settings), so the apply then finds it.

use super::{now_unix, utc, OpError, Session};
use crate::aws::{s3, steps, sts, Aws, AwsError};
use crate::graph::{ResourceGraph, ResourceKind, TAG_MANAGED_BY};
use crate::interrupt::Interrupt;
use crate::platform::store::lock_key;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a lease lasts without renewal (`BEANPOLE_LOCK_LEASE_SECS` changes it, e.g. for
/// tests of a holder that died).
pub const DEFAULT_LEASE_SECS: u64 = 60;

/// The lock as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub application: String,
    /// `apply`, `destroy`, `swap`, `deploy ENV`…
    pub command: String,
    /// The AWS principal (STS caller ARN).
    pub principal: String,
    pub host: String,
    pub pid: u32,
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
            utc(self.started)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("application {application} is locked: {} (its lease runs to {}). Run again with `--wait` to wait for it; a holder that died is taken over when its lease expires; `beanpole unlock {application} --force` removes it", .record.describe(), utc(.record.expires()))]
    Held {
        application: String,
        record: Box<LockRecord>,
    },
    #[error("the bucket {bucket} exists but is not Beanpole's (no `{TAG_MANAGED_BY}` tag): Beanpole keeps its versions and locks there and will not use a bucket it did not create")]
    ForeignBucket { bucket: String },
    #[error("{key} in the versions bucket is not a lock Beanpole wrote: {reason}; `beanpole unlock {application} --force` removes it")]
    Corrupt {
        application: String,
        key: String,
        reason: String,
    },
    #[error("the versions bucket {bucket} does not exist yet: run `beanpole apply` first (it creates it)")]
    NoBucket { bucket: String },
    #[error("interrupted while waiting for the lock of {0}")]
    Interrupted(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Op(#[from] OpError),
}

/// What happened while taking the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockEvent {
    /// Another command holds it; waiting (`--wait`).
    Waiting(LockRecord),
    /// Its holder stopped renewing it: taken over.
    TookOver(LockRecord),
    /// The versions bucket did not exist: created (as apply would) to hold the lock.
    CreatedBucket(String),
}

/// A held lock: renewed in the background until released. If it is lost (forced unlock, or a
/// renewal that could not be made in time and was taken over), `lost` says so and the
/// operation's interrupt is raised, so it stops at its next safe point.
pub struct Lease {
    pub application: String,
    /// The versions bucket, when taking this lock created it (the first apply of an account
    /// and region): a plan saved before did not know it.
    pub created_bucket: Option<String>,
    /// Who holds it, from where, for what: what the command's event records.
    pub command: String,
    pub principal: String,
    pub host: String,
    runtime: tokio::runtime::Handle,
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    etag: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    pub lost: Arc<AtomicBool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl Lease {
    /// Stops renewing and deletes the lock if it is still this one's.
    pub fn release(mut self) {
        self.release_inner();
    }

    fn release_inner(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
        let etag = self.etag.lock().map(|e| e.clone()).unwrap_or_default();
        let _ = self.runtime.block_on(s3::delete_if_match(
            &self.client,
            &self.bucket,
            &self.key,
            &etag,
        ));
    }
}

impl Lease {
    /// Runs an S3 call on the lock's bucket.
    pub(crate) fn block_on_s3<T>(
        &self,
        call: impl FnOnce(
            aws_sdk_s3::Client,
            String,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>,
    ) -> T {
        self.runtime
            .block_on(call(self.client.clone(), self.bucket.clone()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.stop.load(Ordering::SeqCst) {
            self.release_inner();
        }
    }
}

fn lease_secs() -> u64 {
    std::env::var("BEANPOLE_LOCK_LEASE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(|v| v.max(2))
        .unwrap_or(DEFAULT_LEASE_SECS)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The versions bucket of `application`'s account and region, created (as apply would) if
/// it does not exist yet; refused if it exists and is not Beanpole's.
fn ensure_bucket(
    session: &Session,
    graph: &ResourceGraph,
    aws: &Aws,
    application: &str,
    create: bool,
    on_event: &mut dyn FnMut(LockEvent),
) -> Result<(String, bool), LockError> {
    let account = session.runtime.block_on(sts::account_id(&aws.sts))?;
    let bucket = crate::graph::kinds::versions_bucket::name(&account, &aws.region);
    match session
        .runtime
        .block_on(s3::read_bucket(&aws.s3, &bucket))?
    {
        Some(live) if live.tags.contains_key(TAG_MANAGED_BY) => Ok((bucket, false)),
        Some(_) => Err(LockError::ForeignBucket { bucket }),
        None if !create => Err(LockError::NoBucket { bucket }),
        None => {
            let mut bound = graph.clone();
            super::plan::bind_account(session, &mut bound)?;
            let resource = bound
                .resources()
                .find(|r| r.kind == ResourceKind::VersionsBucket && r.aws_name == bucket)
                .cloned()
                .ok_or_else(|| {
                    OpError::Refused(format!(
                        "the spec's graph has no versions bucket for {application}"
                    ))
                })?;
            session
                .runtime
                .block_on(steps::create_standalone(aws, &resource))?;
            on_event(LockEvent::CreatedBucket(bucket.clone()));
            Ok((bucket, true))
        }
    }
}

/// How a command takes its locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRequest<'a> {
    pub command: &'a str,
    /// Wait for the holder instead of refusing.
    pub wait: bool,
    /// Create the versions bucket if there is none (apply); else that is an error.
    pub create_bucket: bool,
}

/// Takes the lock of `application` for `command`: at once, or refused naming the holder, or
/// (with `wait`) when the holder releases it or its lease expires.
pub fn acquire(
    session: &Session,
    graph: &ResourceGraph,
    application: &str,
    request: LockRequest<'_>,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(LockEvent),
) -> Result<Lease, LockError> {
    let LockRequest { command, wait, .. } = request;
    let aws = session.client(application)?;
    let (bucket, created) = ensure_bucket(
        session,
        graph,
        aws,
        application,
        request.create_bucket,
        on_event,
    )?;
    let principal = session
        .runtime
        .block_on(sts::caller_arn(&aws.sts))
        .unwrap_or_else(|_| "unknown".into());
    let key = lock_key(application);
    let lease = lease_secs();
    let record = |now: u64| LockRecord {
        application: application.to_string(),
        command: command.to_string(),
        principal: principal.clone(),
        host: host(),
        pid: std::process::id(),
        started: now,
        renewed: now,
        lease_secs: lease,
    };
    let mut waited_for: Option<LockRecord> = None;
    let etag = loop {
        if interrupt.is_raised() {
            return Err(LockError::Interrupted(application.to_string()));
        }
        let now = now_unix();
        let body = serde_json::to_vec_pretty(&record(now)).unwrap_or_default();
        if let Some(etag) =
            session
                .runtime
                .block_on(s3::create_new(&aws.s3, &bucket, &key, body.clone()))?
        {
            break etag;
        }
        let Some((bytes, etag)) = session
            .runtime
            .block_on(s3::get_with_etag(&aws.s3, &bucket, &key))?
        else {
            // Released between the two calls: try again.
            continue;
        };
        let holder: LockRecord =
            serde_json::from_slice(&bytes).map_err(|e| LockError::Corrupt {
                application: application.to_string(),
                key: key.clone(),
                reason: e.to_string(),
            })?;
        if holder.expired(now) {
            // Its holder stopped renewing: replace exactly that version of it (of two
            // commands taking it over, one wins).
            if let Some(etag) = session
                .runtime
                .block_on(s3::replace_if_match(&aws.s3, &bucket, &key, body, &etag))?
            {
                on_event(LockEvent::TookOver(holder));
                break etag;
            }
            continue;
        }
        if !wait {
            return Err(LockError::Held {
                application: application.to_string(),
                record: Box::new(holder),
            });
        }
        if waited_for.as_ref() != Some(&holder) {
            on_event(LockEvent::Waiting(holder.clone()));
            waited_for = Some(holder);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let etag = Arc::new(Mutex::new(etag));
    let stop = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicBool::new(false));
    let renewer = {
        let (client, bucket, key) = (aws.s3.clone(), bucket.clone(), key.clone());
        let (etag, stop, lost, interrupt) =
            (etag.clone(), stop.clone(), lost.clone(), interrupt.clone());
        let mut held = record(now_unix());
        session.runtime.spawn(async move {
            let every = Duration::from_secs((held.lease_secs / 3).max(1));
            loop {
                tokio::time::sleep(every).await;
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                held.renewed = now_unix();
                let body = serde_json::to_vec_pretty(&held).unwrap_or_default();
                let current = etag.lock().map(|e| e.clone()).unwrap_or_default();
                match s3::replace_if_match(&client, &bucket, &key, body, &current).await {
                    Ok(Some(next)) => {
                        if let Ok(mut e) = etag.lock() {
                            *e = next;
                        }
                    }
                    // Someone removed or took it: stop at the next safe point.
                    Ok(None) => {
                        lost.store(true, Ordering::SeqCst);
                        interrupt.raise();
                        return;
                    }
                    // A failed renewal is tried again at the next beat.
                    Err(_) => {}
                }
            }
        })
    };
    Ok(Lease {
        application: application.to_string(),
        created_bucket: created.then(|| bucket.clone()),
        command: command.to_string(),
        principal: principal.clone(),
        host: host(),
        runtime: session.runtime.handle().clone(),
        client: aws.s3.clone(),
        bucket,
        key,
        etag,
        stop,
        lost,
        renewer: Some(renewer),
    })
}

/// Takes the locks of several applications, in name order (so two commands never wait for
/// each other); on a refusal, gives back those already taken.
pub fn acquire_all(
    session: &Session,
    graph: &ResourceGraph,
    applications: &[String],
    request: LockRequest<'_>,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(LockEvent),
) -> Result<Vec<Lease>, LockError> {
    let mut names: Vec<String> = applications.to_vec();
    names.sort();
    names.dedup();
    let mut held = Vec::new();
    for name in names {
        match acquire(session, graph, &name, request, interrupt, on_event) {
            Ok(lease) => held.push(lease),
            Err(e) => {
                for lease in held {
                    lease.release();
                }
                return Err(e);
            }
        }
    }
    Ok(held)
}

/// `unlock APP --force`: removes the lock whoever holds it; what it held, if anything.
pub fn force_unlock(session: &Session, application: &str) -> Result<Option<LockRecord>, LockError> {
    let aws = session.client(application)?;
    let account = session.runtime.block_on(sts::account_id(&aws.sts))?;
    let bucket = crate::graph::kinds::versions_bucket::name(&account, &aws.region);
    if !session
        .runtime
        .block_on(s3::bucket_exists(&aws.s3, &bucket))?
    {
        return Ok(None);
    }
    let key = lock_key(application);
    let Some((bytes, _)) = session
        .runtime
        .block_on(s3::get_with_etag(&aws.s3, &bucket, &key))?
    else {
        return Ok(None);
    };
    session
        .runtime
        .block_on(s3::delete(&aws.s3, &bucket, &key))?;
    Ok(serde_json::from_slice(&bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_after_its_seconds_without_renewal() {
        let record = LockRecord {
            application: "a".into(),
            command: "apply".into(),
            principal: "arn:aws:iam::1:user/x".into(),
            host: "h".into(),
            pid: 7,
            started: 1_000,
            renewed: 1_100,
            lease_secs: 60,
        };
        assert_eq!(record.expires(), 1_160);
        assert!(!record.expired(1_160));
        assert!(record.expired(1_161));
        assert!(record
            .describe()
            .starts_with("`apply` by arn:aws:iam::1:user/x on h (process 7) since 1970-01-01"));
    }
}
