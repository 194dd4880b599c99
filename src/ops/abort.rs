//! `abort ENV`: stop the deployment in progress on an environment and roll it back, from any
//! machine. While the deploy's command holds the application's lock, abort leaves it a request
//! in the versions bucket (`environments/ENV/abort.json`), which the deploy looks for at each
//! batch and after each batch's health gate: it stops there and rolls back (as a failed deploy
//! does), and its event says so; abort waits for that and reports it. If the holder is gone
//! (its lease expired) or none holds the lock, abort takes the lock and rolls back itself: the
//! instances that took the newest deployment's version (its reports, or its progress without a
//! report: killed mid-way) get the environment's last good version back.

use super::deploy::{
    environment, locate, restore_missing, DeployError, DeployEvent, RollbackOutcome, Rollout,
};
use super::events::{list as list_events, Event};
use super::lock::LockRecord;
use super::versions::VersionStore;
use super::{now_unix, Session};
use crate::aws::{s3, sts};
use crate::graph::ResourceGraph;
use crate::interrupt::Interrupt;
use crate::platform::settings::from_spec;
use crate::platform::store::{
    abort_key, deployment_document_key, deployment_reports_prefix, environment_pointer_key,
    lock_key, AbortRequest, EnvironmentPointer,
};
use crate::spec::Compilation;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What abort found when it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A live deploy of the environment holds the lock: the request is written.
    Holder(LockRecord),
    /// No live holder: abort must take the lock and roll back itself.
    NoLiveHolder(Option<LockRecord>),
}

/// How waiting for the holder ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitEnd {
    /// It released the lock: its event (the deploy's outcome), if it wrote one.
    Released(Option<Box<Event>>),
    /// It stopped renewing its lease before releasing.
    HolderDied,
}

fn read_lock(
    session: &Session,
    bucket: &str,
    application: &str,
) -> Result<Option<LockRecord>, DeployError> {
    let aws = session.client(application)?;
    Ok(session
        .runtime
        .block_on(s3::get(&aws.s3, bucket, &lock_key(application)))?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// Leaves the request for the deploy holding the lock, or says that none lives.
pub fn ask(
    compilation: &Compilation,
    session: &Session,
    environment_name: &str,
) -> Result<Asked, DeployError> {
    let env = environment(compilation, environment_name)?;
    let store = VersionStore::open(session, &env.application)?;
    let aws = session.client(&env.application)?;
    let holder = read_lock(session, &store.bucket, &env.application)?;
    match holder {
        Some(h) if !h.expired(now_unix()) => {
            if h.command != format!("deploy {}", env.name) {
                return Err(DeployError::Refused(format!(
                    "no deploy of {} is in progress: the application is held by {}",
                    env.name,
                    h.describe()
                )));
            }
            let request = AbortRequest {
                principal: session
                    .runtime
                    .block_on(sts::caller_arn(&aws.sts))
                    .unwrap_or_else(|_| "unknown".into()),
                host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_else(|_| "unknown".into()),
                requested: now_unix(),
            };
            session.runtime.block_on(s3::put(
                &aws.s3,
                &store.bucket,
                &abort_key(&env.application, &env.name),
                serde_json::to_vec_pretty(&request).unwrap_or_default(),
                "application/json",
            ))?;
            Ok(Asked::Holder(h))
        }
        other => Ok(Asked::NoLiveHolder(other)),
    }
}

/// Waits until `holder` releases the lock (or dies), at most `timeout`.
pub fn wait_for(
    compilation: &Compilation,
    session: &Session,
    environment_name: &str,
    holder: &LockRecord,
    timeout: Duration,
) -> Result<WaitEnd, DeployError> {
    let env = environment(compilation, environment_name)?;
    let store = VersionStore::open(session, &env.application)?;
    let started = Instant::now();
    loop {
        match read_lock(session, &store.bucket, &env.application)? {
            Some(now) if now.pid == holder.pid && now.started == holder.started => {
                if now.expired(now_unix()) {
                    return Ok(WaitEnd::HolderDied);
                }
            }
            // Released (or taken by another command since).
            _ => {
                let command = format!("deploy {}", env.name);
                let event = list_events(session, &env.application, Some(&env.name), 5)
                    .map_err(|e| DeployError::Refused(e.to_string()))?
                    .into_iter()
                    .find(|e| e.command == command);
                return Ok(WaitEnd::Released(event.map(Box::new)));
            }
        }
        if started.elapsed() > timeout {
            return Err(DeployError::Refused(format!(
                "the deploy of {} did not stop within {} s: see `beanpole events {}`",
                env.name,
                timeout.as_secs(),
                env.name
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// With the lock held by abort: rolls back the newest deployment if it never completed;
/// `None` when there is none to roll back.
pub fn roll_back_unfinished(
    compilation: &Compilation,
    graph: &ResourceGraph,
    session: &Session,
    environment_name: &str,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Option<RollbackOutcome>, DeployError> {
    let env = environment(compilation, environment_name)?;
    let application = env.application.clone();
    let store = VersionStore::open(session, &application)?;
    let aws = session.client(&application)?;
    let (fleet, target_group) = locate(compilation, graph, session, env)?;
    let pointer: Option<EnvironmentPointer> = session
        .runtime
        .block_on(s3::get(
            &aws.s3,
            &store.bucket,
            &environment_pointer_key(&application, &env.name),
        ))?
        .and_then(|b| serde_json::from_slice(&b).ok());
    let good = pointer.as_ref().map(|p| p.deployment_id).unwrap_or(0);
    let prefix = deployment_document_key(&application, &env.name, 0);
    let prefix = prefix.trim_end_matches("0.json").to_string();
    let latest = session
        .runtime
        .block_on(s3::list(&aws.s3, &store.bucket, &prefix))?
        .iter()
        .filter_map(|k| {
            k.strip_prefix(&prefix)?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    let settings = from_spec(env);
    let no_abort = || None;
    let rollout = Rollout {
        abort: &no_abort,
        session,
        aws,
        bucket: &store.bucket,
        application: &application,
        env,
        target_group: &target_group,
        timeout: Duration::from_secs(u64::from(settings.timeout)),
        health_threshold: settings.health_threshold,
    };
    // An immutable or traffic-splitting deployment is rolled back by deleting its temporary
    // resources (the environment's instances never took its version).
    let removed = super::replace::clean_up(&rollout, on_event)?;
    if latest <= good {
        return Ok(None);
    }
    if !removed.is_empty() {
        let version = pointer
            .map(|p| p.label)
            .unwrap_or_else(|| crate::platform::boot::SAMPLE_LABEL.to_string());
        return Ok(Some(RollbackOutcome::new_instances_removed(
            &version, latest,
        )));
    }
    let doc: serde_json::Value = session
        .runtime
        .block_on(s3::get(
            &aws.s3,
            &store.bucket,
            &deployment_document_key(&application, &env.name, latest),
        ))?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let label = doc["version"]["label"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Who took it: a successful report, or progress without a report (killed mid-way).
    let reports = deployment_reports_prefix(&application, &env.name, latest);
    let keys = session
        .runtime
        .block_on(s3::list(&aws.s3, &store.bucket, &reports))?;
    let mut took: BTreeSet<String> = BTreeSet::new();
    for key in &keys {
        let Some(name) = key.strip_prefix(&reports) else {
            continue;
        };
        if let Some(instance) = name.strip_suffix(".progress.json") {
            if !keys.contains(&format!("{reports}{instance}.json")) {
                took.insert(instance.to_string());
            }
        } else if let Some(instance) = name.strip_suffix(".json") {
            let report: Option<serde_json::Value> = session
                .runtime
                .block_on(s3::get(&aws.s3, &store.bucket, key))?
                .and_then(|b| serde_json::from_slice(&b).ok());
            if report.is_some_and(|r| r["status"] == "SUCCESS") {
                took.insert(instance.to_string());
            }
        }
    }
    let took: Vec<String> = took
        .into_iter()
        .filter(|i| fleet.in_service.contains(i))
        .collect();
    if took.is_empty() {
        return Ok(None);
    }
    // A dead deploy may have left its batch out of the target group.
    restore_missing(session, aws, &target_group, &fleet.in_service, on_event)?;
    let outcome = rollout.roll_back(&took, &settings, &label, interrupt, on_event)?;
    // Any request left for the dead deploy is answered.
    let _ = session.runtime.block_on(s3::delete(
        &aws.s3,
        &store.bucket,
        &abort_key(&application, &env.name),
    ));
    Ok(Some(outcome))
}
