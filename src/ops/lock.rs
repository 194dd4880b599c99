//! One lock per application: `apply`, `destroy`, `swap`, `deploy` and `abort` hold it while
//! they change anything, so two of them never interleave. The lock is `APPLICATION/lock.json`
//! in the versions bucket, created with a conditional write (only one writer can create it),
//! holding who, from where, which command, since when, a lease the holder renews (a
//! conditional replace of its own version) while it works, and a token unique to this taking
//! of it. Every write to it may succeed with its answer lost (the SDK then retries and finds
//! its own write): the token is how a holder recognises its own lock on a retry, at create,
//! takeover, renewal and release alike.
//!
//! A second command is refused at once, naming the holder, or waits with `--wait`. A lease that
//! was not renewed past its expiry (the holder died elsewhere), or whose holder ran on this
//! host in a process that no longer exists (killed), is taken over, saying so. A holder that
//! finds at a renewal that the lock is no longer its own (`unlock --force`, or a takeover
//! after it could not renew for a whole lease) raises its `lost` signal: its operation stops
//! at its next safe point and says why. Read-only commands take no lock.
//!
//! The first apply of an account and region has no bucket to lock in yet: the lock creates it
//! first, exactly as that apply would (its tags and settings), so the apply then finds it.

use super::holder::{host, owner_gone, this_process};
use super::{Context, OpError, Session};
use crate::aws::store::{Store, Tagged};
use crate::aws::{steps, AwsError};
use crate::bucket::{Event, EventDetails, EventOutcome, LockRecord, Owner};
use crate::duration::{now_unix, now_unix_ms, utc};
use crate::graph::{ResourceGraph, ResourceKind, TAG_MANAGED_BY};
use crate::interrupt::Interrupt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a lease lasts without renewal (`BEANPOLE_LOCK_LEASE_SECS` changes it, e.g. for
/// tests of a holder that died).
pub const DEFAULT_LEASE_SECS: u64 = 60;

/// How often a waiting command looks at the lock again.
const WAIT_POLL: Duration = Duration::from_millis(500);

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

/// Why a lock was taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Its holder stopped renewing it and its lease ran out.
    LeaseExpired,
    /// Its holder ran on this host, in a process that no longer exists.
    HolderGone,
}

/// What happened while taking the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockEvent {
    /// Another command holds it; waiting (`--wait`).
    Waiting(LockRecord),
    /// Its holder is gone: taken over.
    TookOver(LockRecord, Takeover),
    /// The versions bucket did not exist: created (as apply would) to hold the lock.
    CreatedBucket(String),
}

impl LockEvent {
    /// The event as a command says it.
    pub fn line(&self) -> String {
        match self {
            LockEvent::Waiting(holder) => format!(
                "Waiting for the lock of {}: held by {}…",
                holder.application,
                holder.describe()
            ),
            LockEvent::TookOver(holder, Takeover::LeaseExpired) => format!(
                "warning: took over the lock of {}: its holder, {}, stopped renewing it (its lease ran out at {})",
                holder.application,
                holder.describe(),
                utc(holder.expires())
            ),
            LockEvent::TookOver(holder, Takeover::HolderGone) => format!(
                "warning: took over the lock of {}: its holder, {}, ran on this host in a process that no longer exists",
                holder.application,
                holder.describe()
            ),
            LockEvent::CreatedBucket(bucket) => format!(
                "Created the versions bucket {bucket} (the application's lock and versions live there)."
            ),
        }
    }
}

/// How a command takes its locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    pub command: String,
    /// Wait for the holder instead of refusing.
    pub wait: bool,
    /// Create the versions bucket if there is none (apply); else that is an error.
    pub create_bucket: bool,
}

/// One application's lock, held: renewed in the background until released.
pub struct Lease {
    pub application: String,
    /// The versions bucket, when taking this lock created it (the first apply of an account
    /// and region): a plan saved before did not know it.
    pub created_bucket: Option<String>,
    /// The lock as written (who, from where, for what, its token).
    pub record: LockRecord,
    /// When this command took the lock (Unix milliseconds, this machine's clock).
    pub acquired_ms: u64,
    pub store: Store,
    etag: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// The locks a command holds, and the signal raised when one of them is lost.
pub struct Held {
    pub leases: Vec<Lease>,
    lost: Interrupt,
}

impl Held {
    /// Raised once a lock is no longer this command's (forced unlock, or taken over after a
    /// whole lease without renewal): its operation stops at its next safe point.
    pub fn lost(&self) -> &Interrupt {
        &self.lost
    }

    /// The lease of `application`.
    pub fn lease(&self, application: &str) -> Option<&Lease> {
        self.leases.iter().find(|l| l.application == application)
    }

    /// The process holding these locks, as deployments record their owner.
    pub fn owner(&self) -> Owner {
        self.leases
            .first()
            .map(|l| l.record.owner())
            .unwrap_or_else(|| this_process(String::new()))
    }

    /// Records what the command holding these locks did, in each application's events (a
    /// failure to record is returned per application: the work itself is done).
    pub async fn record(
        &self,
        environments_of: &dyn Fn(&str) -> Vec<String>,
        outcome: EventOutcome,
        summary: &str,
        details: &EventDetails,
    ) -> Vec<(String, AwsError)> {
        let mut failed = Vec::new();
        for lease in &self.leases {
            let event = Event {
                time_ms: now_unix_ms(),
                locked_ms: Some(lease.acquired_ms),
                application: lease.application.clone(),
                command: lease.record.command.clone(),
                environments: environments_of(&lease.application),
                principal: lease.record.principal.clone(),
                host: lease.record.host.clone(),
                outcome,
                summary: summary.to_string(),
                details: details.clone(),
            };
            if let Err(e) = lease.store.put_event(&event).await {
                failed.push((lease.application.clone(), e));
            }
        }
        failed
    }

    /// Gives every lock back.
    pub async fn release(self) {
        for lease in self.leases {
            lease.release().await;
        }
    }
}

impl Lease {
    /// Stops renewing and deletes the lock if it is still this one's (recognised by its
    /// token, even when the answer to the last renewal was lost).
    pub async fn release(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
        let etag = self.etag.lock().map(|e| e.clone()).unwrap_or_default();
        if let Ok(false) = self.store.delete_lock(&self.application, &etag).await {
            if let Ok(Some(Tagged {
                record: Ok(now),
                etag,
            })) = self.store.read_lock(&self.application).await
            {
                if now.token == self.record.token {
                    let _ = self.store.delete_lock(&self.application, &etag).await;
                }
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Released explicitly on every path of an operation; this stops the renewal if one
        // was dropped by a panic (its lease then runs out, or the next command on this host
        // takes it over at once).
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.renewer.take() {
            task.abort();
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

/// A token unique to one taking of a lock.
fn new_token() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut seed = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed))
        .is_ok();
    let entropy = format!(
        "{}-{}-{}-{}-{:?}",
        host(),
        std::process::id(),
        now_unix_ms(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random.then_some(seed)
    );
    let mut token = crate::bundle::sha256_hex(entropy.as_bytes());
    token.truncate(32);
    token
}

/// The versions bucket of `application`'s account and region, created (as apply would) if
/// it does not exist yet; refused if it exists and is not Beanpole's. Whether it was created.
async fn ensure_bucket(
    session: &Session,
    graph: &ResourceGraph,
    application: &str,
    create: bool,
    on_event: &mut dyn FnMut(LockEvent),
) -> Result<(Store, bool), LockError> {
    let aws = session.client(application)?;
    let store = Store::locate(aws).await?;
    match store.read_bucket().await? {
        Some(live) if live.tags.contains_key(TAG_MANAGED_BY) => Ok((store, false)),
        Some(_) => Err(LockError::ForeignBucket {
            bucket: store.bucket,
        }),
        None if !create => Err(LockError::NoBucket {
            bucket: store.bucket,
        }),
        None => {
            let mut bound = graph.clone();
            session.bind_account(&mut bound).await?;
            let resource = bound
                .resources()
                .find(|r| r.kind == ResourceKind::VersionsBucket && r.aws_name == store.bucket)
                .cloned()
                .ok_or_else(|| {
                    OpError::Refused(format!(
                        "the spec's graph has no versions bucket for {application}"
                    ))
                })?;
            steps::create_standalone(aws, &resource).await?;
            on_event(LockEvent::CreatedBucket(store.bucket.clone()));
            Ok((store, true))
        }
    }
}

/// Takes the lock of `application` for a command: at once, or refused naming the holder, or
/// (with `wait`) when the holder releases it or is gone. `lost` is raised if it is lost later.
async fn acquire(
    session: &Session,
    graph: &ResourceGraph,
    application: &str,
    request: &LockRequest,
    interrupt: &Interrupt,
    lost: &Interrupt,
    on_event: &mut dyn FnMut(LockEvent),
) -> Result<Lease, LockError> {
    let (store, created) =
        ensure_bucket(session, graph, application, request.create_bucket, on_event).await?;
    let aws = session.client(application)?;
    let principal = crate::aws::sts::caller_arn(&aws.sts)
        .await
        .unwrap_or_else(|_| "unknown".into());
    let me = this_process(new_token());
    let lease = lease_secs();
    let record = |now: u64| LockRecord {
        application: application.to_string(),
        command: request.command.clone(),
        principal: principal.clone(),
        host: me.host.clone(),
        pid: me.pid,
        process_start: me.process_start,
        token: me.token.clone(),
        started: now,
        renewed: now,
        lease_secs: lease,
    };
    let mut waited_for: Option<LockRecord> = None;
    // A takeover whose answer may have been lost: said once the lock is found to be ours.
    let mut taking_over: Option<(LockRecord, Takeover)> = None;
    let etag = loop {
        if interrupt.is_raised() {
            return Err(LockError::Interrupted(application.to_string()));
        }
        let now = now_unix();
        if let Some(etag) = store.create_lock(&record(now)).await? {
            break etag;
        }
        let Some(Tagged {
            record: found,
            etag,
        }) = store.read_lock(application).await?
        else {
            // Released between the two calls: try again.
            continue;
        };
        let holder = found.map_err(|e| LockError::Corrupt {
            application: application.to_string(),
            key: e.key,
            reason: e.reason,
        })?;
        if holder.token == me.token {
            // Our create (or takeover) landed; its answer was lost.
            if let Some((holder, why)) = taking_over.take() {
                on_event(LockEvent::TookOver(holder, why));
            }
            break etag;
        }
        let takeover = if holder.expired(now) {
            Some(Takeover::LeaseExpired)
        } else if owner_gone(&holder.owner()) {
            Some(Takeover::HolderGone)
        } else {
            None
        };
        if let Some(why) = takeover {
            // Replace exactly that version of it: of two commands taking it over, one wins.
            if let Some(etag) = store.replace_lock(&record(now), &etag).await? {
                on_event(LockEvent::TookOver(holder, why));
                break etag;
            }
            taking_over = Some((holder, why));
            continue;
        }
        if !request.wait {
            return Err(LockError::Held {
                application: application.to_string(),
                record: Box::new(holder),
            });
        }
        if waited_for.as_ref() != Some(&holder) {
            on_event(LockEvent::Waiting(holder.clone()));
            waited_for = Some(holder);
        }
        tokio::select! {
            _ = tokio::time::sleep(WAIT_POLL) => {}
            _ = interrupt.raised() => {}
        }
    };
    let held = record(now_unix());
    let etag = Arc::new(Mutex::new(etag));
    let stop = Arc::new(AtomicBool::new(false));
    let renewer = tokio::spawn(renew(
        store.clone(),
        held.clone(),
        etag.clone(),
        stop.clone(),
        lost.clone(),
    ));
    Ok(Lease {
        application: application.to_string(),
        created_bucket: created.then(|| store.bucket.clone()),
        record: held,
        acquired_ms: now_unix_ms(),
        store,
        etag,
        stop,
        renewer: Some(renewer),
    })
}

/// Renews the lease every third of it until stopped; raises `lost` and returns once the lock
/// is someone else's (or gone), or after a whole lease without a renewal.
async fn renew(
    store: Store,
    mut held: LockRecord,
    etag: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    lost: Interrupt,
) {
    let every = Duration::from_secs((held.lease_secs / 3).max(1));
    let mut renewed = held.renewed;
    loop {
        tokio::time::sleep(every).await;
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let now = now_unix();
        held.renewed = now;
        let current = etag.lock().map(|e| e.clone()).unwrap_or_default();
        let next = match store.replace_lock(&held, &current).await {
            Ok(Some(next)) => Some(next),
            // Changed or gone: ours if its token is (this renewal landed, its answer lost).
            Ok(None) => match store.read_lock(&held.application).await {
                Ok(Some(Tagged {
                    record: Ok(now),
                    etag,
                })) if now.token == held.token => Some(etag),
                Ok(_) => {
                    lost.raise();
                    return;
                }
                Err(_) => None,
            },
            // Tried again at the next beat, unless a whole lease passed without one.
            Err(_) => None,
        };
        match next {
            Some(next) => {
                renewed = now;
                if let Ok(mut e) = etag.lock() {
                    *e = next;
                }
            }
            None if now > renewed.saturating_add(held.lease_secs) => {
                lost.raise();
                return;
            }
            None => {}
        }
    }
}

/// Takes the locks of several applications, in name order (so two commands never wait for
/// each other); on a refusal, gives back those already taken.
pub async fn hold(
    ctx: Context<'_>,
    applications: &[String],
    request: &LockRequest,
    on_event: &mut dyn FnMut(LockEvent),
) -> Result<Held, LockError> {
    let (session, graph, interrupt) = (ctx.session, ctx.graph, ctx.interrupt);
    let mut names: Vec<String> = applications.to_vec();
    names.sort();
    names.dedup();
    let held = Held {
        leases: Vec::new(),
        lost: Interrupt::new(),
    };
    let mut leases = Vec::new();
    for name in names {
        match acquire(
            session, graph, &name, request, interrupt, &held.lost, on_event,
        )
        .await
        {
            Ok(lease) => leases.push(lease),
            Err(e) => {
                for lease in leases {
                    lease.release().await;
                }
                return Err(e);
            }
        }
    }
    Ok(Held { leases, ..held })
}

/// What `unlock --force` removed.
#[derive(Debug, Clone, PartialEq)]
pub enum Unlocked {
    /// There was no lock (or no bucket).
    NotLocked,
    /// A lock, held by this.
    Held(LockRecord),
    /// An object at the lock's key that is not a lock Beanpole wrote, and why.
    Unreadable(String),
}

/// `unlock APP --force`: removes the lock whoever holds it.
pub async fn force_unlock(session: &Session, application: &str) -> Result<Unlocked, LockError> {
    let store = Store::locate(session.client(application)?).await?;
    if !store.exists().await? {
        return Ok(Unlocked::NotLocked);
    }
    let Some(found) = store.read_lock(application).await? else {
        return Ok(Unlocked::NotLocked);
    };
    store.remove_lock(application).await?;
    Ok(match found.record {
        Ok(record) => Unlocked::Held(record),
        Err(e) => Unlocked::Unreadable(e.reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LockRecord {
        LockRecord {
            application: "a".into(),
            command: "apply".into(),
            principal: "arn:aws:iam::1:user/x".into(),
            host: "h".into(),
            pid: 7,
            process_start: None,
            token: "t".into(),
            started: 1_000,
            renewed: 1_100,
            lease_secs: 60,
        }
    }

    #[test]
    fn a_lease_expires_after_its_seconds_without_renewal() {
        let record = record();
        assert_eq!(record.expires(), 1_160);
        assert!(!record.expired(1_160));
        assert!(record.expired(1_161));
        assert!(record
            .describe()
            .starts_with("`apply` by arn:aws:iam::1:user/x on h (process 7) since 1970-01-01"));
    }

    #[test]
    fn a_holder_is_gone_only_when_this_host_has_no_such_process() {
        let me = this_process("t".into());
        assert!(!owner_gone(&me), "this process is alive");
        // Another host: nobody here can tell.
        let elsewhere = Owner {
            host: format!("{}-elsewhere", me.host),
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(!owner_gone(&elsewhere));
        // This host, a pid no process has.
        let dead = Owner {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(owner_gone(&dead));
        // This pid, but another process's start time: the pid was reused.
        if me.process_start.is_some() {
            let reused = Owner {
                process_start: me.process_start.map(|s| s + 1),
                ..me.clone()
            };
            assert!(owner_gone(&reused));
        }
    }

    #[test]
    fn tokens_differ_between_takings() {
        assert_ne!(new_token(), new_token());
        assert_eq!(new_token().len(), 32);
    }

    #[test]
    fn old_locks_without_a_token_still_read() {
        let text = r#"{"application":"a","command":"apply","principal":"p","host":"h","pid":1,"started":1,"renewed":1,"lease_secs":60}"#;
        let old: LockRecord = serde_json::from_str(text).unwrap();
        assert_eq!(old.token, "");
        assert_eq!(old.process_start, None);
    }
}
