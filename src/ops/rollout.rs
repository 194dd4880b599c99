//! What `apply` does after the resources when a change reaches running instances (the plan's
//! `rollouts`, decided by `reconcile::rollouts`):
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
//!   the environment's version in place (`deploy` with `configuration`), rolling.

use super::deploy::{
    deploy, environment, locate, restore_missing, BatchOutcome, DeployError, DeployEvent,
    DeployOutcome, DeployRequest, InstanceOutcome, RollbackOutcome, Rollout,
};
use super::versions::VersionStore;
use super::Session;
use crate::aws::{elbv2, s3};
use crate::graph::ResourceGraph;
use crate::interrupt::Interrupt;
use crate::model::DeploymentPolicy;
use crate::platform::store::{environment_pointer_key, EnvironmentPointer};
use crate::reconcile::plan::InstanceRollout;
use crate::reconcile::rollouts::InstanceChange;
use crate::spec::Compilation;
use std::time::{Duration, Instant};

/// Carries out one rollout; `None` when there is nothing to do (a configuration change on an
/// environment that has no version deployed yet: its sample application takes none).
pub fn roll_out(
    compilation: &Compilation,
    graph: &ResourceGraph,
    session: &Session,
    rollout: &InstanceRollout,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Option<DeployOutcome>, DeployError> {
    let env = environment(compilation, &rollout.environment)?;
    let store = VersionStore::open(session, &env.application)?;
    let aws = session.client(&env.application)?;
    let pointer: Option<EnvironmentPointer> = session
        .runtime
        .block_on(s3::get(
            &aws.s3,
            &store.bucket,
            &environment_pointer_key(&env.application, &env.name),
        ))?
        .and_then(|b| serde_json::from_slice(&b).ok());
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
                configuration: true,
            };
            deploy(compilation, graph, session, &request, interrupt, on_event).map(Some)
        }
        InstanceChange::NewInstances => {
            let (label, id) = pointer
                .map(|p| (p.label, p.deployment_id))
                .unwrap_or_else(|| (crate::platform::boot::SAMPLE_LABEL.to_string(), 0));
            replace_instances(
                compilation,
                graph,
                session,
                rollout,
                &label,
                id,
                interrupt,
                on_event,
            )
            .map(Some)
        }
    }
}

/// Replaces every in-service instance of the environment's group by one launched from its
/// launch template now, through the policy.
#[allow(clippy::too_many_arguments)]
fn replace_instances(
    compilation: &Compilation,
    graph: &ResourceGraph,
    session: &Session,
    request: &InstanceRollout,
    label: &str,
    id: u64,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<DeployOutcome, DeployError> {
    let started = Instant::now();
    let env = environment(compilation, &request.environment)?;
    let store = VersionStore::open(session, &env.application)?;
    let aws = session.client(&env.application)?;
    let (fleet, target_group) = locate(compilation, graph, session, env)?;
    restore_missing(session, aws, &target_group, &fleet.in_service, on_event)?;
    let settings = crate::platform::settings::from_spec(env);
    let plan = crate::deploy::plan(&fleet.in_service, request.policy, request.batch_size)
        .map_err(|p| DeployError::Refused(format!("environment {}: {p}", env.name)))?
        .with_traffic_split(settings.new_version_percent, settings.evaluation_time);
    on_event(DeployEvent::Planned {
        deployment_id: id,
        plan: plan.clone(),
    });
    let no_abort = || None;
    let rollout = Rollout {
        abort: &no_abort,
        session,
        aws,
        bucket: &store.bucket,
        application: &env.application,
        env,
        target_group: &target_group,
        timeout: Duration::from_secs(u64::from(settings.timeout)),
        health_threshold: settings.health_threshold,
    };
    super::replace::clean_up(&rollout, on_event)?;
    let mut outcome = DeployOutcome {
        application: env.application.clone(),
        environment: env.name.clone(),
        version: label.to_string(),
        deployment_id: id,
        policy: plan.policy.name().to_string(),
        batch_size: plan.batch_size.to_string(),
        outcome: "succeeded".into(),
        batches: Vec::new(),
        not_deployed: Vec::new(),
        rollback: None,
        aborted: None,
        elapsed_seconds: 0.0,
        interrupted: false,
    };
    if plan.replace > 0 {
        let done = super::replace::replace(
            &rollout, &fleet, &plan, id, label, label, interrupt, on_event,
        )?;
        outcome.batches = done.batches;
        outcome.interrupted = done.interrupted;
        if done.failed || done.interrupted {
            outcome.outcome = "failed".into();
            outcome.not_deployed = plan.retire.clone();
            outcome.rollback = done
                .failed
                .then(|| RollbackOutcome::new_instances_removed(label, id));
        }
    } else {
        // Batch after batch: as many new instances first, then the old ones go. All at once
        // is one batch of the whole group.
        let per_batch = match plan.policy {
            DeploymentPolicy::AllAtOnce => fleet.in_service.len(),
            _ => plan.batches.first().map(|b| b.instances.len()).unwrap_or(1),
        };
        let mut old: Vec<String> = fleet.in_service.clone();
        old.sort();
        let mut known = fleet.in_service.clone();
        for (index, batch) in old.chunks(per_batch.max(1)).enumerate() {
            if interrupt.is_raised() {
                outcome.interrupted = true;
                outcome.outcome = "failed".into();
                outcome.not_deployed = old[index * per_batch..].to_vec();
                break;
            }
            let mut launched = Vec::new();
            let result = rollout.launch_extra(&fleet, batch.len(), &known, &mut launched, on_event);
            if let Err(e) = result {
                rollout.retire(&fleet, &launched, on_event)?;
                return Err(e);
            }
            on_event(DeployEvent::BatchStarted {
                number: index + 1,
                of: old.len().div_ceil(per_batch.max(1)),
                instances: launched.clone(),
            });
            session
                .runtime
                .block_on(elbv2::register(&aws.elbv2, &target_group, &launched))?;
            if let Err(still) = super::deploy::wait_targets(
                session,
                aws,
                &target_group,
                &launched,
                rollout.timeout,
                |t| rollout.target_passes(t),
            ) {
                rollout.retire(&fleet, &launched, on_event)?;
                return Err(DeployError::Refused(format!(
                    "new instances {} did not become healthy in the target group within {} s",
                    still.join(", "),
                    rollout.timeout.as_secs()
                )));
            }
            on_event(DeployEvent::Registered {
                instances: launched.clone(),
            });
            rollout.retire(&fleet, batch, on_event)?;
            known.extend(launched.iter().cloned());
            outcome.batches.push(BatchOutcome {
                number: index + 1,
                instances: launched
                    .iter()
                    .map(|i| InstanceOutcome {
                        instance: i.clone(),
                        outcome: "succeeded".into(),
                        failed_step: None,
                        message: format!(
                            "launched from the new launch template; replaced {}",
                            batch.join(", ")
                        ),
                        log_tail: String::new(),
                        serving: Some(label.to_string()),
                        engine_seconds: None,
                        steps: Vec::new(),
                    })
                    .collect(),
            });
        }
    }
    outcome.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
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
pub fn roll_out_all<'r>(
    compilation: &Compilation,
    graph: &ResourceGraph,
    session: &Session,
    rollouts: &'r [InstanceRollout],
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(RolloutEvent<'r>),
) -> Vec<RolloutResult<'r>> {
    let mut done = Vec::new();
    for rollout in rollouts {
        on_event(RolloutEvent::Starting(rollout));
        let outcome = roll_out(
            compilation,
            graph,
            session,
            rollout,
            interrupt,
            &mut |event| on_event(RolloutEvent::Deploy(event)),
        );
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
