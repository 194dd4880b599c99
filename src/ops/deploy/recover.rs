//! What a deployment leaves when its command dies (`kill -9`, a closed laptop) or loses its
//! lock, finished by the next command that changes the environment: a deploy (before its
//! own), `apply`, and `abort`.
//!
//! A deployment keeps a record while it runs (`record`). Its heartbeat tells a live one from
//! a dead one: a record whose owner renewed it less than a lease ago, and whose process (if it
//! ran on this host) still exists, belongs to a deployment at work (one that lost its lock
//! stops at its next safe point and deletes its record): the next command waits for it. A
//! record that is not renewed belongs to a dead deployment, which is undone:
//!
//! - its temporary group and target group go (with their instances), and their pointers;
//! - instances it added to the environment's group (an extra batch, new instances moved in)
//!   are retired and the group returns to its size before the deployment, unless every old
//!   instance is gone already (the deployment had replaced them all: it is finished instead,
//!   its version becoming the environment's);
//! - instances out of the target group go back in;
//! - for `apply` and `abort`, the instances that took its version get the environment's last
//!   good version back, batch by batch as its own policy said (a deploy skips this: its own
//!   version is about to reach them);
//! - its record and any abort request go.

use super::{rollback, targets, DeployError, DeployEvent, Deployment};
use crate::aws::store::{Store, Tagged};
use crate::aws::{autoscaling, ssm, Aws, Poll, Poller};
use crate::bucket::{DeploymentRecord, EnvironmentPointer};
use crate::deploy::outcome::RollbackOutcome;
use crate::duration::now_unix;
use crate::interrupt::Interrupt;
use crate::model::Environment;
use crate::ops::holder::deployment_running as live;
use crate::ops::lock::Held;
use crate::ops::Context;
use std::time::Duration;

/// What was undone (or finished) of a deployment that died or lost its lock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Undone {
    /// The deployment's id and version, when its record said.
    pub deployment_id: Option<u64>,
    pub version: Option<String>,
    /// Its temporary resources, removed.
    pub temporary: Vec<String>,
    /// Instances it had added to the environment's group, retired.
    pub retired: Vec<String>,
    /// Every old instance was gone: the deployment was finished (its version is the
    /// environment's now) instead of undone.
    pub finished: bool,
    /// The environment's last good version, back on the instances that took it.
    pub rollback: Option<RollbackOutcome>,
}

impl Undone {
    /// Whether anything was left to undo.
    pub fn anything(&self) -> bool {
        self.deployment_id.is_some() || !self.temporary.is_empty() || !self.retired.is_empty()
    }

    /// What was undone, in one line without a rollback's.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let (Some(id), Some(version)) = (self.deployment_id, &self.version) {
            parts.push(if self.finished {
                format!("deployment {id} of {version} finished (every old instance was gone)")
            } else {
                format!("deployment {id} of {version} undone")
            });
        }
        if !self.temporary.is_empty() {
            parts.push(format!("removed {}", self.temporary.join(", ")));
        }
        if !self.retired.is_empty() {
            parts.push(format!("retired {}", self.retired.join(", ")));
        }
        parts.join("; ")
    }

    /// As a progress line says it.
    pub fn line(&self) -> String {
        match self.summary() {
            summary if summary.is_empty() => {
                "finished what an unfinished deployment left".to_string()
            }
            summary => format!("what an unfinished deployment left: {summary}"),
        }
    }
}

/// Before a command changes an environment: waits for a deployment still at work (it lost
/// its lock) to stop, then undoes what a dead one left (with `roll_back`, also its version on
/// the instances that took it). `None` when there was nothing.
pub(crate) async fn settle(
    ctx: Context<'_>,
    held: &Held,
    env: &Environment,
    group: &autoscaling::GroupView,
    target_group: Option<&str>,
    roll_back: bool,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Option<Undone>, DeployError> {
    let application = env.application.as_str();
    let Some(lease) = held.lease(application) else {
        return Ok(None);
    };
    let store = &lease.store;
    let aws = ctx.session.client(application)?;
    let found = wait_for_stopped(store, env, on_event).await?;
    let dep = Deployment {
        aws,
        store,
        application,
        env,
        group,
        target_group,
        timeout: Duration::from_secs(u64::from(crate::platform::settings::from_spec(env).timeout)),
        health_threshold: crate::platform::settings::from_spec(env).health_threshold,
        interrupt: ctx.interrupt,
        lost: held.lost(),
        watch_abort: false,
        keeper: None,
    };
    let undone = undo(&dep, found, roll_back, on_event).await?;
    if undone.anything() {
        on_event(DeployEvent::Undone(undone.clone()));
        Ok(Some(undone))
    } else {
        Ok(None)
    }
}

/// The environment's deployment record once no live deployment keeps it (waiting, at most
/// two leases, for one that lost its lock to stop).
async fn wait_for_stopped(
    store: &Store,
    env: &Environment,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Option<Tagged<DeploymentRecord>>, DeployError> {
    let application = env.application.as_str();
    let mut told = false;
    let mut poller: Option<Poller> = None;
    loop {
        let found = store.deployment_record(application, &env.name).await?;
        let still = match &found {
            Some(Tagged {
                record: Ok(record), ..
            }) if live(record, now_unix()) => record.clone(),
            _ => return Ok(found),
        };
        let poller = poller.get_or_insert_with(|| {
            Poller::new(
                Duration::from_secs(still.lease_secs.max(1) * 2),
                Poll::every(targets::POLL),
            )
        });
        if !told {
            on_event(DeployEvent::WaitingForStopped(Box::new(still.clone())));
            told = true;
        }
        if !poller.pause().await {
            return Err(DeployError::Refused(format!(
                "deployment {} of {} to {} is still at work (its command, process {} on {}, renews its record though it no longer holds the lock): run again once it stopped",
                still.deployment_id, still.version, env.name, still.owner.pid, still.owner.host
            )));
        }
    }
}

/// Undoes what a dead deployment left (see the module's documentation).
pub(crate) async fn undo(
    dep: &Deployment<'_>,
    found: Option<Tagged<DeploymentRecord>>,
    roll_back: bool,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Undone, DeployError> {
    let (store, application, env) = (dep.store, dep.application, dep.env);
    let mut undone = Undone {
        temporary: super::replace::clean_up(dep, on_event).await?,
        ..Undone::default()
    };
    let (record, etag) = match found {
        Some(Tagged {
            record: Ok(record),
            etag,
        }) => (Some(record), Some(etag)),
        // Not a record Beanpole wrote: nothing in it to go by; it goes.
        Some(Tagged { record: Err(_), .. }) => (None, None),
        None => (None, None),
    };
    let group = autoscaling::group_view(
        &dep.aws.autoscaling,
        &dep.group.name,
        application,
        &env.name,
    )
    .await?
    .unwrap_or_else(|| dep.group.clone());
    if let Some(record) = &record {
        undone.deployment_id = Some(record.deployment_id);
        undone.version = Some(record.version.clone());
        let added: Vec<String> = group
            .all_instances()
            .into_iter()
            .filter(|i| record.launched.contains(i))
            .collect();
        let old_left = group
            .in_service
            .iter()
            .any(|i| !record.launched.contains(i));
        if record.policy.replaces_instances() && !added.is_empty() && !old_left {
            finish_replacement(store, application, env, record).await?;
            undone.finished = true;
        } else {
            // Back to the size the deployment found: its own instances go.
            let before = autoscaling::GroupView {
                desired: record.desired,
                max: record.max,
                ..group.clone()
            };
            let at_size = Deployment {
                group: &before,
                ..*dep
            };
            // (A record written before records named the group knows no size to go back to.)
            let resized = group.desired != record.desired || group.max != record.max;
            if !record.group.is_empty() && (!added.is_empty() || resized) {
                at_size.retire(&added, on_event).await?;
            }
            undone.retired = added;
        }
    }
    let group = autoscaling::group_view(
        &dep.aws.autoscaling,
        &dep.group.name,
        application,
        &env.name,
    )
    .await?
    .unwrap_or(group);
    targets::restore_missing(dep.aws, dep.target_group, &group.in_service, on_event).await?;
    if let (true, Some(record)) = (roll_back && !undone.finished, &record) {
        let took = took_version(dep.aws, store, env, record, &group.in_service).await?;
        if !took.is_empty() {
            let never = Interrupt::new();
            undone.rollback = Some(
                rollback::roll_back(
                    &dep.for_rollback(&never),
                    &took,
                    record.policy,
                    record.batch_size,
                    &record.version,
                    on_event,
                )
                .await?,
            );
        }
    }
    store
        .delete_deployment_record(application, &env.name, etag.as_deref())
        .await?;
    store.delete_abort_request(application, &env.name).await?;
    Ok(undone)
}

/// Which of `in_service` took (or may still be taking) a dead deployment's version: every
/// instance its Run Commands were sent to, or that shows a step under way, unless its report
/// says it failed (its engine put the previous version back). The rollback waits for an engine
/// still at work on an instance: it deploys after it.
async fn took_version(
    aws: &Aws,
    store: &Store,
    env: &Environment,
    record: &DeploymentRecord,
    in_service: &[String],
) -> Result<Vec<String>, DeployError> {
    let application = env.application.as_str();
    let keys = store
        .report_keys(application, &env.name, record.deployment_id)
        .await?;
    let sent = ssm::instances_sent(
        &aws.ssm,
        &super::instances::comment(application, &env.name, record.deployment_id),
    )
    .await?;
    let mut took: Vec<String> = keys.in_progress.into_iter().chain(sent).collect();
    for instance in keys.reported {
        let report = store
            .report(application, &env.name, record.deployment_id, &instance)
            .await?
            .and_then(Result::ok);
        if report.is_some_and(|r| r.succeeded()) {
            took.push(instance);
        } else {
            took.retain(|i| i != &instance);
        }
    }
    took.retain(|i| in_service.contains(i));
    took.sort();
    took.dedup();
    Ok(took)
}

/// A replacing deployment that died after every old instance left: its version is the
/// environment's now.
async fn finish_replacement(
    store: &Store,
    application: &str,
    env: &Environment,
    record: &DeploymentRecord,
) -> Result<(), DeployError> {
    store
        .put_environment_pointer(
            application,
            &EnvironmentPointer {
                environment: env.name.clone(),
                label: record.version.clone(),
                deployment_id: record.deployment_id,
                document: crate::bucket::deployment_document_key(
                    application,
                    &env.name,
                    record.deployment_id,
                ),
            },
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::Owner;
    use crate::model::{BatchSize, DeploymentPolicy};

    fn record(heartbeat: u64, owner: Owner) -> DeploymentRecord {
        DeploymentRecord {
            deployment_id: 3,
            version: "v2".into(),
            policy: DeploymentPolicy::Rolling,
            batch_size: BatchSize::Fixed(1),
            batch: 1,
            batches: 2,
            instances_done: 0,
            instances: 2,
            traffic_percent: None,
            rolling_back: false,
            owner,
            heartbeat,
            lease_secs: 60,
            previous: "v1".into(),
            group: "g".into(),
            desired: 2,
            max: 4,
            launched: Vec::new(),
        }
    }

    #[test]
    fn a_record_lives_while_renewed_and_its_process_exists() {
        let me = crate::ops::holder::this_process("t".into());
        assert!(live(&record(1_000, me.clone()), 1_030));
        assert!(
            !live(&record(1_000, me.clone()), 1_061),
            "a lease without renewal"
        );
        let dead = Owner {
            pid: u32::MAX - 1,
            ..me
        };
        assert!(!live(&record(1_000, dead), 1_001), "its process is gone");
        // Elsewhere: the heartbeat alone decides.
        let elsewhere = Owner {
            host: "another-host".into(),
            pid: u32::MAX - 1,
            ..Owner::default()
        };
        assert!(live(&record(1_000, elsewhere), 1_001));
    }
}
