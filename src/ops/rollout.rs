//! What `apply` does after the resources when a change reaches running instances (the plan's
//! `rollouts`, decided by `reconcile::rollouts`), under apply's own lock:
//!
//! - **new instances** (instance type, AMI, the boot script): every instance is replaced by
//!   one launched from the new launch template, through the environment's deployment policy,
//!   with the deploy's progress and health gates. `all-at-once`, `rolling` and
//!   `rolling-with-additional-batch` launch a batch of new instances (kept out of the target
//!   group until they booted what the environment runs), let them join healthy, then retire
//!   as many old ones, batch after batch; `immutable` and `traffic-splitting` use their
//!   temporary group (and target group). No new deployment: the new instances boot the
//!   environment's version.
//! - **configuration** (properties, proxy, static files, WSGI): a configuration deployment of
//!   the environment's version in place, rolling.

use super::deploy::{
    deploy_holding, locate, record::Keeper, targets, DeployError, DeployEvent, DeployRequest,
    Deployment,
};
use super::lock::Held;
use super::Context;
use crate::deploy::outcome::{
    launched, replacement_batch, BatchOutcome, Completion, DeployOutcome, RollbackOutcome,
};
use crate::reconcile::plan::InstanceRollout;
use crate::reconcile::rollouts::InstanceChange;
use std::time::{Duration, Instant};

/// Carries out one rollout; `None` when there is nothing to do (a configuration change on an
/// environment that has no version deployed yet: its sample application takes none).
pub async fn roll_out(
    ctx: Context<'_>,
    held: &Held,
    rollout: &InstanceRollout,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Option<DeployOutcome>, DeployError> {
    let env = ctx.environment(&rollout.environment)?;
    let store = ctx.session.store(&env.application).await?;
    let pointer = store
        .environment_pointer(&env.application, &env.name)
        .await?;
    match rollout.change {
        InstanceChange::Configuration => {
            let Some(pointer) = pointer else {
                return Ok(None);
            };
            let request = DeployRequest {
                environment: env.name.clone(),
                version: Some(pointer.label),
                source: None,
                label: None,
                message: String::new(),
                policy: None,
                wait: false,
            };
            deploy_holding(ctx, held, env, &request, true, on_event)
                .await
                .map(Some)
        }
        InstanceChange::NewInstances => {
            let (label, id) = pointer
                .map(|p| (p.label, p.deployment_id))
                .unwrap_or_else(|| (crate::platform::boot::SAMPLE_LABEL.to_string(), 0));
            replace_instances(ctx, held, rollout, &label, id, on_event)
                .await
                .map(Some)
        }
    }
}

/// Replaces every in-service instance of the environment's group by one launched from its
/// launch template now, through the policy.
async fn replace_instances(
    ctx: Context<'_>,
    held: &Held,
    request: &InstanceRollout,
    label: &str,
    id: u64,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<DeployOutcome, DeployError> {
    let started = Instant::now();
    let env = ctx.environment(&request.environment)?;
    let store = ctx.session.store(&env.application).await?;
    let aws = ctx.session.client(&env.application)?;
    let (group, target_group) = locate(ctx, env).await?;
    targets::restore_missing(aws, target_group.as_deref(), &group.in_service, on_event).await?;
    let settings = crate::platform::settings::from_spec(env);
    let plan = crate::deploy::plan(&group.in_service, request.policy, request.batch_size)
        .map_err(|p| DeployError::Refused(format!("environment {}: {p}", env.name)))?
        .with_traffic_split(settings.new_version_percent, settings.evaluation_time);
    on_event(DeployEvent::Planned {
        deployment_id: id,
        plan: plan.clone(),
    });
    let dep = Deployment {
        aws,
        store: &store,
        application: &env.application,
        env,
        group: &group,
        target_group: target_group.as_deref(),
        timeout: Duration::from_secs(u64::from(settings.timeout)),
        health_threshold: settings.health_threshold,
        interrupt: ctx.interrupt,
        lost: held.lost(),
        watch_abort: false,
        keeper: None::<&Keeper>,
    };
    super::deploy::clean_up(&dep, on_event).await?;
    let mut outcome = DeployOutcome {
        application: env.application.clone(),
        environment: env.name.clone(),
        version: label.to_string(),
        deployment_id: id,
        policy: plan.policy,
        batch_size: plan.batch_size,
        outcome: Completion::Succeeded,
        batches: Vec::new(),
        not_deployed: Vec::new(),
        rollback: None,
        aborted: None,
        elapsed_seconds: 0.0,
        interrupted: false,
        lost_lock: false,
    };
    if plan.replace > 0 {
        let done = super::deploy::replace_all(&dep, &plan, id, label, label, on_event).await?;
        outcome.batches = done.batches;
        outcome.interrupted = done.stopped == Some(super::deploy::Stop::Interrupted);
        outcome.lost_lock = done.stopped == Some(super::deploy::Stop::LostLock);
        if done.failed || done.stopped.is_some() {
            outcome.outcome = Completion::Failed;
            outcome.not_deployed = plan.retire.clone();
            outcome.rollback = done
                .failed
                .then(|| RollbackOutcome::new_instances_removed(label, id));
        }
    } else {
        new_instances_in_batches(&dep, &plan, label, &mut outcome, on_event).await?;
    }
    outcome.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Batch after batch: as many new instances first, then the old ones go. All at once is one
/// batch of the whole group.
async fn new_instances_in_batches(
    dep: &Deployment<'_>,
    plan: &crate::deploy::DeployPlan,
    label: &str,
    outcome: &mut DeployOutcome,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    let planned = plan.batches.first().map(|b| b.instances.len()).unwrap_or(1);
    let per_batch = replacement_batch(plan.policy, dep.group.in_service.len(), planned);
    let mut old: Vec<String> = dep.group.in_service.clone();
    old.sort();
    let mut known = dep.group.in_service.clone();
    for (index, batch) in old.chunks(per_batch).enumerate() {
        if let Some(stop) = dep.stopping() {
            outcome.interrupted = stop == super::deploy::Stop::Interrupted;
            outcome.lost_lock = stop == super::deploy::Stop::LostLock;
            outcome.outcome = Completion::Failed;
            outcome.not_deployed = old[index * per_batch..].to_vec();
            break;
        }
        let mut launched_now = Vec::new();
        let result = dep
            .launch_extra(batch.len(), &known, &mut launched_now, on_event)
            .await;
        if let Err(e) = result {
            dep.retire(&launched_now, on_event).await?;
            return Err(e);
        }
        on_event(DeployEvent::BatchStarted {
            number: index + 1,
            of: old.len().div_ceil(per_batch),
            instances: launched_now.clone(),
        });
        crate::ops::deploy::targets::register(dep.aws, dep.target_group, &launched_now).await?;
        let healthy =
            targets::wait_targets(dep.aws, dep.target_group, &launched_now, dep.timeout, |t| {
                dep.passes(t)
            })
            .await?;
        if let Err(still) = healthy {
            dep.retire(&launched_now, on_event).await?;
            return Err(DeployError::Refused(format!(
                "new instances {} did not become healthy in the target group within {} s",
                still.join(", "),
                dep.timeout.as_secs()
            )));
        }
        if dep.target_group.is_some() {
            on_event(DeployEvent::Registered {
                instances: launched_now.clone(),
            });
        }
        dep.retire(batch, on_event).await?;
        known.extend(launched_now.iter().cloned());
        outcome.batches.push(BatchOutcome {
            number: index + 1,
            instances: launched_now
                .iter()
                .map(|i| launched(i, label, batch))
                .collect(),
        });
    }
    Ok(())
}

/// What [`roll_out_all`] reports as it goes.
#[derive(Debug)]
pub enum RolloutEvent<'r> {
    /// A rollout starts.
    Starting(&'r InstanceRollout),
    /// Its progress, as a deploy's.
    Deploy(DeployEvent),
}

/// A rollout and how it went (`Ok(None)`: nothing to do).
pub type RolloutResult<'r> = (
    &'r InstanceRollout,
    Result<Option<DeployOutcome>, DeployError>,
);

/// The plan's rollouts, one after another; stops after the first that fails (its instances
/// not replaced yet keep serving; the next apply finishes the rollout).
pub async fn roll_out_all<'r>(
    ctx: Context<'_>,
    held: &Held,
    rollouts: &'r [InstanceRollout],
    on_event: &mut dyn FnMut(RolloutEvent<'r>),
) -> Vec<RolloutResult<'r>> {
    let mut done = Vec::new();
    for rollout in rollouts {
        on_event(RolloutEvent::Starting(rollout));
        let outcome = roll_out(ctx, held, rollout, &mut |event| {
            on_event(RolloutEvent::Deploy(event))
        })
        .await;
        let failed = match &outcome {
            Ok(None) => false,
            Ok(Some(o)) => !o.succeeded(),
            Err(_) => true,
        };
        done.push((rollout, outcome));
        if failed {
            break;
        }
    }
    done
}
