//! The deployments that replace instances instead of deploying to them, as Elastic Beanstalk's
//! `immutable` and `traffic-splitting` policies do, built from the Auto Scaling and load
//! balancer APIs themselves:
//!
//! 1. a **temporary group** named after the deployment (the environment group's launch
//!    template and subnets, Beanpole's tags and the deployment's id) with a pointer of its own
//!    in the bucket, so that its instances boot the new version; one instance first, then the
//!    rest, each kept out of the load balancer until its boot report says it serves;
//! 2. `immutable`: they join the environment's target group; `traffic-splitting`: a temporary
//!    target group, and the listener forwards `new_version_percent` of the requests to it for
//!    `evaluation_time`, then all of them;
//! 3. on success the new instances move into the environment's group and the old ones leave
//!    the target group (drained) and the group; the temporary resources are deleted;
//! 4. on failure (or abort, or Ctrl-C, or a lost lock) before the move, traffic goes back, the
//!    temporary resources are deleted with their instances, and nothing else was touched.
//!
//! A deploy killed halfway leaves tagged temporary resources: the next deploy, apply or abort
//! on the environment removes them first ([`clean_up`]).

use super::instances::run_batch;
use super::targets::{deregister_listed, wait_targets, DRAIN_GRACE, POLL};
use super::{DeployError, DeployEvent, Deployment, Finished, Stop};
use crate::aws::{autoscaling, elbv2, Poll, Poller};
use crate::bucket::EnvironmentPointer;
use crate::deploy::outcome::{
    drained, failed_evaluation, from_report, BatchOutcome, InstanceOutcome, InstanceResult,
    RollbackOutcome,
};
use crate::deploy::DeployPlan;
use crate::graph::names::EnvironmentNames;
use crate::graph::{
    MANAGED_BY_VALUE, TAG_APPLICATION, TAG_DEPLOYMENT, TAG_ENVIRONMENT, TAG_MANAGED_BY,
};
use crate::status::TargetState;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How a replacing deployment went.
#[derive(Debug, Default)]
struct Replaced {
    batches: Vec<BatchOutcome>,
    failed: bool,
    aborted: Option<crate::bucket::AbortRequest>,
    stopped: Option<Stop>,
    /// The new instances, which serve the environment now (empty unless it succeeded).
    new_instances: Vec<String>,
}

/// The temporary resources of one deployment.
struct Temporary {
    group: String,
    /// Traffic splitting's target group: (name, ARN).
    target_group: Option<(String, String)>,
    /// The listeners weighted between the two target groups.
    listeners: Vec<String>,
}

/// Carries out an `immutable` or `traffic-splitting` deployment `id` of `label`.
pub(crate) async fn replace(
    dep: &Deployment<'_>,
    plan: &DeployPlan,
    id: u64,
    label: &str,
    previous: &str,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Finished, DeployError> {
    let mut temporary = create_temporary(dep, plan, id, label, on_event).await?;
    let mut out = Replaced::default();
    let mut result =
        forward_to_new(dep, plan, id, previous, &mut temporary, &mut out, on_event).await;
    if result.is_ok() && !out.failed && out.stopped.is_none() {
        result = move_in(dep, &temporary, &out.new_instances, on_event).await;
        if result.is_ok() {
            result = remove(dep, &temporary, &[], on_event).await;
        }
    } else if result.is_ok() && out.stopped != Some(Stop::LostLock) {
        // (With the lock lost, the command holding it now removes them.)
        let launched = group_instances(dep, &temporary.group).await?;
        remove(dep, &temporary, &launched, on_event).await?;
        out.new_instances.clear();
    }
    if let Err(e) = result {
        // Whatever went wrong, the environment is left as it was: its old instances serve,
        // the new ones go (if they were not moved in yet).
        if let Ok(launched) = group_instances(dep, &temporary.group).await {
            let _ = remove(dep, &temporary, &launched, on_event).await;
        }
        return Err(e);
    }
    let completed = !out.failed && out.stopped.is_none();
    Ok(Finished {
        rollback: out
            .failed
            .then(|| RollbackOutcome::new_instances_removed(previous, id)),
        not_deployed: if completed {
            Vec::new()
        } else {
            plan.retire.clone()
        },
        batches: out.batches,
        failed: out.failed,
        stopped: out.stopped,
        aborted: out.aborted,
    })
}

/// The deployment's temporary group (and target group), with a pointer of its own.
async fn create_temporary(
    dep: &Deployment<'_>,
    plan: &DeployPlan,
    id: u64,
    label: &str,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Temporary, DeployError> {
    let names = EnvironmentNames::new(dep.application, &dep.env.name);
    let tags = BTreeMap::from([
        (TAG_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (TAG_APPLICATION.to_string(), dep.application.to_string()),
        (TAG_ENVIRONMENT.to_string(), dep.env.name.clone()),
        (TAG_DEPLOYMENT.to_string(), id.to_string()),
    ]);
    let group = names.temporary_group(id);
    // What the temporary group's instances boot: this deployment. (Deployment 0 is the
    // sample application, which an instance boots without a pointer.)
    if id > 0 {
        let pointer = EnvironmentPointer {
            environment: dep.env.name.clone(),
            label: label.to_string(),
            deployment_id: id,
            document: crate::bucket::deployment_document_key(dep.application, &dep.env.name, id),
        };
        dep.store
            .put_group_pointer(dep.application, &group, &pointer)
            .await?;
    }
    let mut temporary = Temporary {
        group: group.clone(),
        target_group: None,
        listeners: Vec::new(),
    };
    if plan.traffic_split.is_some() {
        let name = names.temporary_target_group(id);
        let arn = elbv2::create_temporary_target_group(
            &dep.aws.elbv2,
            &name,
            dep.target_group.unwrap_or_default(),
            &tags,
        )
        .await?;
        temporary.target_group = Some((name, arn));
    }
    let count = i32::try_from(plan.replace).unwrap_or(i32::MAX);
    autoscaling::create_temporary_group(&dep.aws.autoscaling, &group, dep.group, 1, count, &tags)
        .await?;
    on_event(DeployEvent::TemporaryGroup {
        group,
        target_group: temporary.target_group.as_ref().map(|(n, _)| n.clone()),
        instances: plan.replace,
    });
    Ok(temporary)
}

/// The new instances, one and then the rest, booted and taking requests.
async fn forward_to_new(
    dep: &Deployment<'_>,
    plan: &DeployPlan,
    id: u64,
    previous: &str,
    temporary: &mut Temporary,
    out: &mut Replaced,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    // Immutable: behind the environment's target group; traffic splitting: the temporary one.
    let serving_group = temporary
        .target_group
        .as_ref()
        .map(|(_, arn)| arn.clone())
        .or_else(|| dep.target_group.map(str::to_string));
    let batches = if plan.replace > 1 { 2 } else { 1 };
    let mut leader = String::new();
    for number in 1..=batches {
        if stops(dep, out, on_event).await? {
            return Ok(());
        }
        let wanted = if number == 1 { 1 } else { plan.replace };
        if number > 1 {
            let size = i32::try_from(wanted).unwrap_or(i32::MAX);
            autoscaling::set_capacity(&dep.aws.autoscaling, &temporary.group, size, size).await?;
        }
        let instances = launched(dep, &temporary.group, wanted, &out.new_instances).await?;
        if leader.is_empty() {
            leader = instances.first().cloned().unwrap_or_default();
        }
        on_event(DeployEvent::BatchStarted {
            number,
            of: batches,
            instances: instances.clone(),
        });
        let outcomes = booted(dep, id, &leader, previous, &instances, on_event).await?;
        let serving: Vec<String> = outcomes
            .iter()
            .filter(|o| o.outcome == InstanceResult::Succeeded)
            .map(|o| o.instance.clone())
            .collect();
        let batch_failed = outcomes
            .iter()
            .any(|o| o.outcome != InstanceResult::Succeeded);
        out.batches.push(BatchOutcome {
            number,
            instances: outcomes,
        });
        if batch_failed {
            out.failed = true;
            return Ok(());
        }
        super::targets::register(dep.aws, serving_group.as_deref(), &serving).await?;
        wait_targets(
            dep.aws,
            serving_group.as_deref(),
            &serving,
            dep.timeout,
            |t| dep.passes(t),
        )
        .await?
        .map_err(|still| {
            DeployError::Refused(format!(
                "new instances {} did not become healthy within {} s",
                still.join(", "),
                dep.timeout.as_secs()
            ))
        })?;
        if serving_group.is_some() {
            on_event(DeployEvent::Registered {
                instances: serving.clone(),
            });
        }
        out.new_instances.extend(serving);
    }
    let (Some(split), Some((_, temporary_arn))) = (plan.traffic_split, &temporary.target_group)
    else {
        return Ok(());
    };
    let temporary_arn = temporary_arn.clone();
    temporary.listeners =
        elbv2::forwarding_listeners(&dep.aws.elbv2, dep.target_group.unwrap_or_default()).await?;
    if temporary.listeners.is_empty() {
        return Err(DeployError::Refused(
            "no listener of the load balancer forwards to the environment's target group: run `beanpole apply` first".into(),
        ));
    }
    let percent = i32::try_from(split.percent.min(100)).unwrap_or(100);
    shift(dep, &temporary.listeners, &temporary_arn, percent).await?;
    on_event(DeployEvent::TrafficShifted {
        percent: split.percent,
        evaluation_secs: Some(split.evaluation_secs),
    });
    // The evaluation: the new instances must stay healthy; an abort or Ctrl-C stops it.
    let mut evaluation = Poller::new(
        Duration::from_secs(u64::from(split.evaluation_secs)),
        Poll::every(POLL),
    );
    while !evaluation.spent() {
        if stops(dep, out, on_event).await? {
            return Ok(());
        }
        let unhealthy = unhealthy_targets(dep, &temporary_arn, &out.new_instances).await?;
        if !unhealthy.is_empty() {
            out.failed = true;
            out.batches.push(BatchOutcome {
                number: batches + 1,
                instances: unhealthy
                    .iter()
                    .map(|(instance, state)| failed_evaluation(instance, state))
                    .collect(),
            });
            return Ok(());
        }
        evaluation.pause().await;
    }
    shift(dep, &temporary.listeners, &temporary_arn, 100).await?;
    on_event(DeployEvent::TrafficShifted {
        percent: 100,
        evaluation_secs: None,
    });
    // Requests the load balancer routed to the old instances just before finish before their
    // target group changes (where it reports no draining, as moto).
    tokio::time::sleep(DRAIN_GRACE).await;
    Ok(())
}

/// Looks for an abort, a Ctrl-C or a lost lock (at each batch and during the evaluation).
async fn stops(
    dep: &Deployment<'_>,
    out: &mut Replaced,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<bool, DeployError> {
    if let Some(stop) = dep.stopping() {
        if stop == Stop::LostLock {
            on_event(DeployEvent::LostLock);
        }
        out.stopped = Some(stop);
        return Ok(true);
    }
    if let Some(request) = dep.abort_requested().await? {
        on_event(DeployEvent::Aborting(request.clone()));
        out.aborted = Some(request);
        out.failed = true;
        return Ok(true);
    }
    Ok(false)
}

/// Sends `percent` of the requests of each listener to the temporary target group, the rest
/// to the environment's (0: the environment's alone again).
async fn shift(
    dep: &Deployment<'_>,
    listeners: &[String],
    temporary: &str,
    percent: i32,
) -> Result<(), DeployError> {
    for listener in listeners {
        elbv2::forward_weighted(
            &dep.aws.elbv2,
            listener,
            &[
                (
                    dep.target_group.unwrap_or_default().to_string(),
                    100 - percent,
                ),
                (temporary.to_string(), percent),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The instances of `instances` a target group does not report healthy, with their state.
async fn unhealthy_targets(
    dep: &Deployment<'_>,
    target_group: &str,
    instances: &[String],
) -> Result<Vec<(String, String)>, DeployError> {
    let states = super::targets::states(dep.aws, Some(target_group)).await?;
    Ok(instances
        .iter()
        .filter_map(|i| match states.get(i) {
            Some(TargetState::Healthy) => None,
            Some(other) => Some((i.clone(), other.to_string())),
            None => Some((i.clone(), "unregistered".to_string())),
        })
        .collect())
}

/// Waits until the temporary group has `wanted` instances in service; those not in `known`.
async fn launched(
    dep: &Deployment<'_>,
    group: &str,
    wanted: usize,
    known: &[String],
) -> Result<Vec<String>, DeployError> {
    let mut poller = Poller::new(dep.timeout, Poll::every(POLL));
    loop {
        let view =
            autoscaling::group_view(&dep.aws.autoscaling, group, dep.application, &dep.env.name)
                .await?;
        let in_service = view.map(|v| v.in_service).unwrap_or_default();
        if in_service.len() >= wanted {
            let mut new: Vec<String> = in_service
                .into_iter()
                .filter(|i| !known.contains(i))
                .collect();
            new.sort();
            return Ok(new);
        }
        if !poller.pause().await {
            return Err(DeployError::Refused(format!(
                "the temporary group {group} did not have {wanted} instance{} in service within {} s",
                if wanted == 1 { "" } else { "s" },
                dep.timeout.as_secs()
            )));
        }
    }
}

/// Waits for each new instance's boot report. An instance that booted another version (it
/// could not find its group's pointer) gets this deployment through Run Command.
async fn booted(
    dep: &Deployment<'_>,
    id: u64,
    leader: &str,
    previous: &str,
    instances: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Vec<InstanceOutcome>, DeployError> {
    let mut outcomes: BTreeMap<String, InstanceOutcome> = BTreeMap::new();
    let mut elsewhere: BTreeSet<String> = BTreeSet::new();
    let mut poller = Poller::new(dep.timeout, Poll::every(POLL));
    while outcomes.len() + elsewhere.len() < instances.len() {
        for instance in instances {
            if outcomes.contains_key(instance) || elsewhere.contains(instance) {
                continue;
            }
            let report = dep
                .store
                .boot_report(dep.application, &dep.env.name, instance)
                .await?
                .and_then(Result::ok);
            let Some(report) = report else { continue };
            if report.succeeded() && report.deployment_id != id {
                elsewhere.insert(instance.clone());
                continue;
            }
            // A failed boot serves nothing the load balancer may send requests to.
            let mut outcome = from_report(instance, &report, previous);
            if !report.succeeded() {
                outcome.serving = None;
            }
            on_event(DeployEvent::InstanceDone(outcome.clone()));
            outcomes.insert(instance.clone(), outcome);
        }
        if outcomes.len() + elsewhere.len() >= instances.len() {
            break;
        }
        if !poller.pause().await {
            for instance in instances {
                if !outcomes.contains_key(instance) && !elsewhere.contains(instance) {
                    let outcome = InstanceOutcome {
                        message: format!(
                            "it did not boot within the deployment's timeout ({} s): see `beanpole logs {} --instance {instance}`",
                            dep.timeout.as_secs(),
                            dep.env.name
                        ),
                        ..crate::deploy::outcome::timed_out(instance, None, dep.timeout)
                    };
                    on_event(DeployEvent::InstanceDone(outcome.clone()));
                    outcomes.insert(instance.clone(), outcome);
                }
            }
            break;
        }
    }
    if !elsewhere.is_empty() {
        let others: Vec<String> = elsewhere.into_iter().collect();
        for outcome in run_batch(dep, id, leader, previous, &others, on_event).await? {
            outcomes.insert(outcome.instance.clone(), outcome);
        }
    }
    Ok(instances
        .iter()
        .filter_map(|i| outcomes.remove(i))
        .collect())
}

/// Success: the new instances move into the environment's group and its target group, the
/// old ones leave both.
async fn move_in(
    dep: &Deployment<'_>,
    temporary: &Temporary,
    new_instances: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    let group = dep.group;
    let grown = group.desired + i32::try_from(new_instances.len()).unwrap_or(i32::MAX);
    if temporary.target_group.is_some() {
        // Traffic splitting: the environment's target group takes no request now; the new
        // instances join it before it takes them all back.
        super::targets::register(dep.aws, dep.target_group, new_instances).await?;
        wait_targets(dep.aws, dep.target_group, new_instances, dep.timeout, |t| {
            dep.passes(t)
        })
        .await?
        .map_err(|still| {
            DeployError::Refused(format!(
                "new instances {} did not become healthy in the environment's target group within {} s",
                still.join(", "),
                dep.timeout.as_secs()
            ))
        })?;
    }
    // Whoever finishes this deployment if it dies from here on must retire them.
    if let Some(keeper) = dep.keeper {
        keeper.added(new_instances).await?;
    }
    autoscaling::set_capacity(
        &dep.aws.autoscaling,
        &group.name,
        group.desired,
        group.max.max(grown),
    )
    .await?;
    autoscaling::move_instances(
        &dep.aws.autoscaling,
        &temporary.group,
        &group.name,
        new_instances,
    )
    .await?;
    on_event(DeployEvent::MovedIntoGroup {
        instances: new_instances.to_vec(),
        group: group.name.clone(),
    });
    if let Some((_, temporary_arn)) = &temporary.target_group {
        // The old instances leave the environment's target group while it takes no request,
        // then it takes them all again, served by the new instances alone.
        let old = deregister_listed(dep.aws, dep.target_group, &group.in_service).await?;
        wait_targets(dep.aws, dep.target_group, &old, dep.timeout, drained)
            .await?
            .ok();
        shift(dep, &temporary.listeners, temporary_arn, 0).await?;
        on_event(DeployEvent::TrafficShifted {
            percent: 100,
            evaluation_secs: None,
        });
    }
    // retire takes them out of the target group (drained), terminates them and puts the
    // group's size and maximum back as they were.
    dep.retire(&group.in_service, on_event).await
}

/// The instances the temporary group has now.
async fn group_instances(dep: &Deployment<'_>, group: &str) -> Result<Vec<String>, DeployError> {
    Ok(
        autoscaling::group_view(&dep.aws.autoscaling, group, dep.application, &dep.env.name)
            .await?
            .map(|v| v.all_instances())
            .unwrap_or_default(),
    )
}

/// Deletes a deployment's temporary resources: traffic back to the environment's target
/// group, the new instances out of it (drained), the group with its instances, the target
/// group, the group's pointer.
async fn remove(
    dep: &Deployment<'_>,
    temporary: &Temporary,
    instances: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    let aws = dep.aws;
    if let Some((_, arn)) = &temporary.target_group {
        let listeners = if temporary.listeners.is_empty() {
            elbv2::forwarding_listeners(&aws.elbv2, arn).await?
        } else {
            temporary.listeners.clone()
        };
        shift(dep, &listeners, arn, 0).await?;
    }
    if !instances.is_empty() {
        let registered = deregister_listed(aws, dep.target_group, instances).await?;
        if !registered.is_empty() {
            wait_targets(aws, dep.target_group, &registered, dep.timeout, drained)
                .await?
                .ok();
            tokio::time::sleep(DRAIN_GRACE).await;
        }
    }
    autoscaling::delete_group(aws, &temporary.group).await?;
    if let Some((_, arn)) = &temporary.target_group {
        elbv2::delete_target_group(aws, arn).await?;
    }
    dep.store
        .delete_group_pointer(dep.application, &dep.env.name, &temporary.group)
        .await?;
    on_event(DeployEvent::TemporaryRemoved {
        group: temporary.group.clone(),
        target_group: temporary.target_group.as_ref().map(|(n, _)| n.clone()),
        instances: instances.to_vec(),
    });
    Ok(())
}

/// Removes what a killed deployment of the environment left: traffic back on the
/// environment's target group, its temporary groups (with their instances) and target
/// groups, and group pointers left without a group. The names of what it removed.
pub(crate) async fn clean_up(
    dep: &Deployment<'_>,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Vec<String>, DeployError> {
    let aws = dep.aws;
    let target_groups =
        elbv2::temporary_target_groups(&aws.elbv2, dep.application, &dep.env.name).await?;
    for arn in &target_groups {
        let listeners = elbv2::forwarding_listeners(&aws.elbv2, arn).await?;
        shift(dep, &listeners, arn, 0).await?;
    }
    let groups =
        autoscaling::temporary_groups(&aws.autoscaling, dep.application, &dep.env.name).await?;
    for group in &groups {
        let temporary = Temporary {
            group: group.name.clone(),
            target_group: None,
            listeners: Vec::new(),
        };
        remove(dep, &temporary, &group.instances, on_event).await?;
    }
    for arn in &target_groups {
        elbv2::delete_target_group(aws, arn).await?;
    }
    let mut removed: Vec<String> = groups.into_iter().map(|g| g.name).collect();
    // A pointer whose group is gone (a deploy killed between deleting the two).
    for group in dep
        .store
        .group_pointers(dep.application, &dep.env.name)
        .await?
    {
        if !removed.contains(&group) {
            dep.store
                .delete_group_pointer(dep.application, &dep.env.name, &group)
                .await?;
            removed.push(group);
        }
    }
    removed.extend(target_groups);
    Ok(removed)
}
