//! `abort ENV`: stop the deployment in progress on an environment and roll it back, from any
//! machine. While a live deploy of the environment holds the application's lock, abort leaves
//! it a request in the versions bucket (`environments/ENV/abort.json`), which the deploy looks
//! for at each batch and after each batch's health gate: it stops there and rolls back (as a
//! failed deploy does), and its event says so; abort waits for that and reports it. If the
//! holder is gone (its lease ran out, or it ran on this host in a process that no longer
//! exists) or none holds the lock, abort takes the lock and undoes what the deployment left
//! (`deploy::recover`): its temporary resources, the instances it added, instances out of the
//! target group, its version on the instances that took it, its record.

use super::deploy::recover::{settle, Undone};
use super::deploy::{locate, DeployError, DeployEvent};
use super::holder::{host, owner_gone};
use super::lock::{hold, LockRequest};
use super::Context;
use crate::aws::store::Tagged;
use crate::aws::{sts, Poll, Poller};
use crate::bucket::{AbortRequest, Event, EventDetails, EventOutcome, LockRecord};
use crate::deploy::outcome::Completion;
use crate::duration::now_unix;
use std::time::Duration;

/// How long abort waits for the deploy it asked to stop.
pub const WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct AbortRequestArgs {
    pub environment: String,
}

/// What abort reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum AbortEvent {
    /// A live deploy holds the lock: asked to stop at its next batch; waiting for it.
    Asked(LockRecord),
    /// The deploy stopped renewing its lock before releasing it (it died): undoing here.
    HolderDied,
    /// The command holding the lock is gone (its lease ran out, or its process): undoing here.
    HolderGone(LockRecord),
    /// Progress of the undo (as a deploy's).
    Deploy(DeployEvent),
}

/// How an abort ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AbortReport {
    /// The deploy that was asked to stop released the lock.
    DeployEnded(DeployEnd),
    /// Abort undid what a dead deployment left itself.
    Undone(Undone),
    /// No deployment of the environment is in progress or unfinished.
    NothingToAbort,
}

/// How the deploy asked to stop ended, as its event says.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployEnd {
    /// It stopped at the abort and put the last good version back.
    RolledBack(Box<Event>),
    /// It stopped at the abort before any instance took its version: nothing to roll back.
    StoppedBeforeAnyInstance(Box<Event>),
    /// It finished before its next batch: its version runs everywhere.
    FinishedFirst(Box<Event>),
    /// It ended another way (its rollback failed, it was interrupted): its event says how.
    Otherwise(Box<Event>),
    /// It released the lock without writing an event.
    NoEvent,
}

impl DeployEnd {
    /// What a deploy's event says of its end.
    pub fn of(event: Option<Event>) -> DeployEnd {
        let Some(event) = event else {
            return DeployEnd::NoEvent;
        };
        let outcome = event.details.deploy();
        let aborted = outcome.is_some_and(|o| o.aborted.is_some());
        let rollback = outcome.and_then(|o| o.rollback.as_ref().map(|r| r.outcome));
        let event = Box::new(event);
        match (aborted, rollback) {
            (true, Some(Completion::Succeeded)) => DeployEnd::RolledBack(event),
            (true, None) => DeployEnd::StoppedBeforeAnyInstance(event),
            _ if event.outcome == EventOutcome::Succeeded => DeployEnd::FinishedFirst(event),
            _ => DeployEnd::Otherwise(event),
        }
    }
}

pub async fn abort(
    ctx: Context<'_>,
    request: &AbortRequestArgs,
    on_event: &mut dyn FnMut(AbortEvent),
) -> Result<AbortReport, DeployError> {
    let env = ctx.environment(&request.environment)?;
    let application = env.application.as_str();
    let store = ctx.session.store(application).await?;
    let deploy_command = format!("deploy {}", env.name);
    let holder = match store.read_lock(application).await? {
        Some(Tagged {
            record: Ok(holder), ..
        }) => Some(holder),
        _ => None,
    };
    match holder {
        Some(h) if !h.expired(now_unix()) && !owner_gone(&h.owner()) => {
            if h.command != deploy_command {
                return Err(DeployError::Refused(format!(
                    "no deploy of {} is in progress: the application is held by {}",
                    env.name,
                    h.describe()
                )));
            }
            let aws = ctx.session.client(application)?;
            let asked = AbortRequest {
                principal: sts::caller_arn(&aws.sts)
                    .await
                    .unwrap_or_else(|_| "unknown".into()),
                host: host(),
                requested: now_unix(),
            };
            store
                .put_abort_request(application, &env.name, &asked)
                .await?;
            on_event(AbortEvent::Asked(h.clone()));
            match wait_for_release(&store, application, &h).await? {
                Some(()) => {
                    let (events, _) = store
                        .events(application, 5, |e| {
                            e.command == deploy_command && e.environments.contains(&env.name)
                        })
                        .await?;
                    return Ok(AbortReport::DeployEnded(DeployEnd::of(
                        events.into_iter().next(),
                    )));
                }
                None => on_event(AbortEvent::HolderDied),
            }
        }
        Some(dead) => on_event(AbortEvent::HolderGone(dead)),
        None => {}
    }
    undo_here(ctx, env, on_event).await
}

/// Waits until `holder` releases the lock (`Some`), or dies (`None`).
async fn wait_for_release(
    store: &crate::aws::store::Store,
    application: &str,
    holder: &LockRecord,
) -> Result<Option<()>, DeployError> {
    let mut poller = Poller::new(WAIT, Poll::every(Duration::from_secs(1)));
    loop {
        match store.read_lock(application).await? {
            Some(Tagged {
                record: Ok(now), ..
            }) if now.token == holder.token
                && now.pid == holder.pid
                && now.started == holder.started =>
            {
                if now.expired(now_unix()) || owner_gone(&now.owner()) {
                    return Ok(None);
                }
            }
            // Released (or taken by another command since).
            _ => return Ok(Some(())),
        }
        if !poller.pause().await {
            return Err(DeployError::Refused(format!(
                "the deploy did not stop within {} s: see `beanpole events`",
                WAIT.as_secs()
            )));
        }
    }
}

/// Takes the lock and undoes what a dead deployment left; records what it did.
async fn undo_here(
    ctx: Context<'_>,
    env: &crate::model::Environment,
    on_event: &mut dyn FnMut(AbortEvent),
) -> Result<AbortReport, DeployError> {
    let lock = LockRequest {
        command: format!("abort {}", env.name),
        wait: false,
        create_bucket: false,
    };
    let held = hold(
        ctx,
        std::slice::from_ref(&env.application),
        &lock,
        &mut |e| on_event(AbortEvent::Deploy(DeployEvent::Lock(e))),
    )
    .await?;
    let result = async {
        let (group, target_group) = locate(ctx, env).await?;
        settle(
            ctx,
            &held,
            env,
            &group,
            target_group.as_deref(),
            true,
            &mut |e| on_event(AbortEvent::Deploy(e)),
        )
        .await
    }
    .await;
    if let Ok(Some(undone)) = &result {
        let (outcome, summary) = match &undone.rollback {
            Some(r) => (
                if r.outcome == Completion::Succeeded {
                    EventOutcome::Succeeded
                } else {
                    EventOutcome::Failed
                },
                format!(
                    "rollback to {} (deployment {}) {}",
                    r.version, r.deployment_id, r.outcome
                ),
            ),
            None => (EventOutcome::Succeeded, undone.summary()),
        };
        let details = undone
            .rollback
            .clone()
            .map(EventDetails::Rollback)
            .unwrap_or_default();
        let environments = [env.name.clone()];
        for (application, error) in held
            .record(&|_| environments.to_vec(), outcome, &summary, &details)
            .await
        {
            on_event(AbortEvent::Deploy(DeployEvent::NotRecorded {
                application,
                error: error.to_string(),
            }));
        }
    }
    held.release().await;
    Ok(match result? {
        Some(undone) => AbortReport::Undone(undone),
        None => AbortReport::NothingToAbort,
    })
}
