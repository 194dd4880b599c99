//! The record a deployment keeps in the bucket while it runs (`bucket::DeploymentRecord`):
//! its progress for `status`, its owner with a heartbeat renewed every third of a lease (so a
//! deployment whose command died or lost its lock is told apart from a live one), and what a
//! killed one leaves to undo (the group's size before it, the instances it added). Written at
//! once when something a successor must know changes (instances added), in the background
//! otherwise; deleted at the end, only if it is still this deployment's.

use super::DeployEvent;
use crate::aws::store::Store;
use crate::bucket::DeploymentRecord;
use crate::deploy::outcome::InstanceResult;
use crate::duration::now_unix;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

struct Shared {
    record: Mutex<DeploymentRecord>,
    stop: std::sync::atomic::AtomicBool,
    /// The ETag of this deployment's last write of the record.
    etag: Mutex<Option<String>>,
    changed: Notify,
}

/// Keeps one deployment's record.
pub struct Keeper {
    store: Store,
    application: String,
    environment: String,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Keeper {
    /// Writes the record, then keeps it (and its heartbeat) up to date until `finish`.
    pub async fn start(
        store: &Store,
        application: &str,
        environment: &str,
        mut record: DeploymentRecord,
    ) -> Result<Keeper, crate::aws::AwsError> {
        record.heartbeat = now_unix();
        let etag = store
            .put_deployment_record(application, environment, &record)
            .await?;
        let every = Duration::from_secs((record.lease_secs / 3).max(1));
        let shared = Arc::new(Shared {
            record: Mutex::new(record),
            stop: std::sync::atomic::AtomicBool::new(false),
            etag: Mutex::new(Some(etag)),
            changed: Notify::new(),
        });
        let task = {
            let (store, shared) = (store.clone(), shared.clone());
            let (application, environment) = (application.to_string(), environment.to_string());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = shared.changed.notified() => {}
                    }
                    if shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    // Best effort: a display and a heartbeat, never a reason to stop a deploy
                    // (a successor that sees no heartbeat for a lease waits, then undoes).
                    let _ = write(&store, &application, &environment, &shared).await;
                }
            })
        };
        Ok(Keeper {
            store: store.clone(),
            application: application.to_string(),
            environment: environment.to_string(),
            shared,
            task: Some(task),
        })
    }

    /// Follows the deployment's progress in the record.
    pub fn observe(&self, event: &DeployEvent) {
        let Ok(mut r) = self.shared.record.lock() else {
            return;
        };
        match event {
            DeployEvent::BatchStarted { number, of, .. } => {
                r.batch = *number;
                r.batches = *of;
            }
            DeployEvent::InstanceDone(o) => {
                r.instances_done += usize::from(o.outcome == InstanceResult::Succeeded);
            }
            DeployEvent::TrafficShifted { percent, .. } => r.traffic_percent = Some(*percent),
            DeployEvent::RollingBack { instances, .. } => {
                r.rolling_back = true;
                r.instances_done = 0;
                r.instances = instances.len();
            }
            _ => return,
        }
        drop(r);
        self.shared.changed.notify_one();
    }

    /// Records, before they join the environment's group, instances a successor must retire
    /// if this deployment dies.
    pub async fn added(&self, instances: &[String]) -> Result<(), crate::aws::AwsError> {
        if let Ok(mut r) = self.shared.record.lock() {
            for i in instances {
                if !r.launched.contains(i) {
                    r.launched.push(i.clone());
                }
            }
        }
        write(
            &self.store,
            &self.application,
            &self.environment,
            &self.shared,
        )
        .await
    }

    /// Stops keeping the record (a write under way lands first) and deletes it if it is
    /// still this deployment's.
    pub async fn finish(mut self) {
        self.stop_heartbeat().await;
        let etag = self.shared.etag.lock().ok().and_then(|e| e.clone());
        if let Some(etag) = etag {
            let _ = self
                .store
                .delete_deployment_record(&self.application, &self.environment, Some(&etag))
                .await;
        }
    }
}

impl Keeper {
    /// Stops the heartbeat and leaves the record: a deployment that lost its lock leaves what
    /// it did to the command that took the lock, which undoes it from the record.
    pub async fn abandon(mut self) {
        self.stop_heartbeat().await;
    }

    async fn stop_heartbeat(&mut self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.changed.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn write(
    store: &Store,
    application: &str,
    environment: &str,
    shared: &Shared,
) -> Result<(), crate::aws::AwsError> {
    let record = match shared.record.lock() {
        Ok(mut r) => {
            r.heartbeat = now_unix();
            r.clone()
        }
        Err(_) => return Ok(()),
    };
    let etag = store
        .put_deployment_record(application, environment, &record)
        .await?;
    if let Ok(mut e) = shared.etag.lock() {
        *e = Some(etag);
    }
    Ok(())
}
