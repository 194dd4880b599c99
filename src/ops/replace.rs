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
//! 4. on failure (or abort, or Ctrl-C) before the move, traffic goes back, the temporary
//!    resources are deleted with their instances, and nothing else was touched.
//!
//! A deploy killed halfway leaves tagged temporary resources: the next deploy or abort on the
//! environment removes them first ([`clean_up`]); `apply` and `destroy` delete them as owned
//! resources the spec does not have.

use super::deploy::{
    deregister_listed, drained, from_report, run_batch, wait_targets, BatchOutcome, DeployError,
    DeployEvent, InstanceOutcome, Rollout, DRAIN_GRACE, POLL,
};
use crate::aws::{autoscaling, elbv2, s3};
use crate::deploy::DeployPlan;
use crate::graph::names::EnvironmentNames;
use crate::graph::{
    MANAGED_BY_VALUE, TAG_APPLICATION, TAG_DEPLOYMENT, TAG_ENVIRONMENT, TAG_MANAGED_BY,
};
use crate::interrupt::Interrupt;
use crate::platform::report::Report;
use crate::platform::store::{
    boot_report_key, deployment_document_key, group_pointer_key, AbortRequest, EnvironmentPointer,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How a replacing deployment went.
pub(crate) struct Replaced {
    pub(crate) batches: Vec<BatchOutcome>,
    pub(crate) failed: bool,
    pub(crate) aborted: Option<AbortRequest>,
    pub(crate) interrupted: bool,
    /// The new instances, which serve the environment now (empty unless it succeeded).
    pub(crate) new_instances: Vec<String>,
    /// On failure: the new instances that were removed with the temporary group.
    pub(crate) removed: Vec<String>,
}

/// The temporary resources of one deployment.
struct Temporary {
    group: String,
    /// Traffic splitting's target group: (name, ARN).
    target_group: Option<(String, String)>,
}

/// Carries out an `immutable` or `traffic-splitting` deployment `id` of `label`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn replace(
    rollout: &Rollout<'_>,
    fleet: &autoscaling::FleetView,
    plan: &DeployPlan,
    id: u64,
    label: &str,
    previous: &str,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Replaced, DeployError> {
    let (session, aws) = (rollout.session, rollout.aws);
    let names = EnvironmentNames::new(rollout.application, &rollout.env.name);
    let tags = BTreeMap::from([
        (TAG_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (TAG_APPLICATION.to_string(), rollout.application.to_string()),
        (TAG_ENVIRONMENT.to_string(), rollout.env.name.clone()),
        (TAG_DEPLOYMENT.to_string(), id.to_string()),
    ]);
    let group = names.temporary_group(id);
    // What the temporary group's instances boot: this deployment.
    let pointer = EnvironmentPointer {
        environment: rollout.env.name.clone(),
        label: label.to_string(),
        deployment_id: id,
        document: deployment_document_key(rollout.application, &rollout.env.name, id),
    };
    // (Deployment 0 is the sample application, which an instance boots without a pointer.)
    if id > 0 {
        let bytes = serde_json::to_vec_pretty(&pointer)
            .map_err(|e| DeployError::Refused(format!("cannot write the group's pointer: {e}")))?;
        session.runtime.block_on(s3::put(
            &aws.s3,
            rollout.bucket,
            &group_pointer_key(rollout.application, &rollout.env.name, &group),
            bytes,
            "application/json",
        ))?;
    }
    let mut temporary = Temporary {
        group: group.clone(),
        target_group: None,
    };
    if plan.traffic_split.is_some() {
        let name = names.temporary_target_group(id);
        let arn = session
            .runtime
            .block_on(elbv2::create_temporary_target_group(
                &aws.elbv2,
                &name,
                rollout.target_group,
                &tags,
            ))?;
        temporary.target_group = Some((name, arn));
    }
    let count = i32::try_from(plan.replace).unwrap_or(i32::MAX);
    session
        .runtime
        .block_on(autoscaling::create_temporary_group(
            &aws.autoscaling,
            &group,
            fleet,
            1,
            count,
            &tags,
        ))?;
    on_event(DeployEvent::TemporaryGroup {
        group: group.clone(),
        target_group: temporary.target_group.as_ref().map(|(n, _)| n.clone()),
        instances: plan.replace,
    });

    let mut out = Replaced {
        batches: Vec::new(),
        failed: false,
        aborted: None,
        interrupted: false,
        new_instances: Vec::new(),
        removed: Vec::new(),
    };
    let mut listeners: Vec<String> = Vec::new();
    let forward = forward_to_new(
        rollout,
        plan,
        id,
        previous,
        &temporary,
        &mut listeners,
        &mut out,
        interrupt,
        on_event,
    );
    let finished = match forward {
        Ok(()) if !out.failed && !out.interrupted => move_in(
            rollout,
            fleet,
            &temporary,
            &listeners,
            &out.new_instances,
            on_event,
        ),
        Ok(()) => Ok(()),
        Err(e) => Err(e),
    };
    match finished {
        Ok(()) if !out.failed && !out.interrupted => {
            remove(rollout, &temporary, &[], &listeners, on_event)?;
            Ok(out)
        }
        Ok(()) => {
            let launched = group_instances(rollout, &group)?;
            remove(rollout, &temporary, &launched, &listeners, on_event)?;
            out.removed = launched;
            out.new_instances.clear();
            Ok(out)
        }
        Err(e) => {
            // Whatever went wrong, the environment is left as it was: its old instances
            // serve, the new ones go (if they were not moved in yet).
            if let Ok(launched) = group_instances(rollout, &group) {
                let _ = remove(rollout, &temporary, &launched, &listeners, on_event);
            }
            Err(e)
        }
    }
}

/// The new instances, one and then the rest, booted and taking requests.
#[allow(clippy::too_many_arguments)]
fn forward_to_new(
    rollout: &Rollout<'_>,
    plan: &DeployPlan,
    id: u64,
    previous: &str,
    temporary: &Temporary,
    listeners: &mut Vec<String>,
    out: &mut Replaced,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    let (session, aws) = (rollout.session, rollout.aws);
    // Immutable: behind the environment's target group; traffic splitting: the temporary one.
    let serving_group = temporary
        .target_group
        .as_ref()
        .map(|(_, arn)| arn.clone())
        .unwrap_or_else(|| rollout.target_group.to_string());
    let batches = if plan.replace > 1 { 2 } else { 1 };
    let mut leader = String::new();
    for number in 1..=batches {
        if stop(rollout, out, interrupt, on_event) {
            return Ok(());
        }
        let wanted = if number == 1 { 1 } else { plan.replace };
        if number > 1 {
            let size = i32::try_from(wanted).unwrap_or(i32::MAX);
            session.runtime.block_on(autoscaling::set_capacity(
                &aws.autoscaling,
                &temporary.group,
                size,
                size,
            ))?;
        }
        let instances = launched(rollout, &temporary.group, wanted, &out.new_instances)?;
        if leader.is_empty() {
            leader = instances.first().cloned().unwrap_or_default();
        }
        on_event(DeployEvent::BatchStarted {
            number,
            of: batches,
            instances: instances.clone(),
        });
        let outcomes = booted(rollout, id, &leader, previous, &instances, on_event)?;
        let serving: Vec<String> = outcomes
            .iter()
            .filter(|o| o.outcome == "succeeded")
            .map(|o| o.instance.clone())
            .collect();
        let batch_failed = outcomes.iter().any(|o| o.outcome != "succeeded");
        out.batches.push(BatchOutcome {
            number,
            instances: outcomes,
        });
        if batch_failed {
            out.failed = true;
            return Ok(());
        }
        session
            .runtime
            .block_on(elbv2::register(&aws.elbv2, &serving_group, &serving))?;
        wait_targets(
            session,
            aws,
            &serving_group,
            &serving,
            rollout.timeout,
            |t| rollout.target_passes(t),
        )
        .map_err(|still| {
            DeployError::Refused(format!(
                "new instances {} did not become healthy within {} s",
                still.join(", "),
                rollout.timeout.as_secs()
            ))
        })?;
        on_event(DeployEvent::Registered {
            instances: serving.clone(),
        });
        out.new_instances.extend(serving);
    }
    let Some(split) = plan.traffic_split else {
        return Ok(());
    };
    let Some((_, temporary_arn)) = &temporary.target_group else {
        return Ok(());
    };
    *listeners = session.runtime.block_on(elbv2::forwarding_listeners(
        &aws.elbv2,
        rollout.target_group,
    ))?;
    if listeners.is_empty() {
        return Err(DeployError::Refused(
            "no listener of the load balancer forwards to the environment's target group: run `beanpole apply` first".into(),
        ));
    }
    let percent = i32::try_from(split.percent.min(100)).unwrap_or(100);
    shift(rollout, listeners, temporary_arn, percent)?;
    on_event(DeployEvent::TrafficShifted {
        percent: split.percent,
        evaluation_secs: Some(split.evaluation_secs),
    });
    // The evaluation: the new instances must stay healthy; an abort or Ctrl-C stops it.
    let until = Instant::now() + Duration::from_secs(u64::from(split.evaluation_secs));
    while Instant::now() < until {
        if stop(rollout, out, interrupt, on_event) {
            return Ok(());
        }
        let unhealthy = unhealthy_targets(rollout, temporary_arn, &out.new_instances)?;
        if !unhealthy.is_empty() {
            out.failed = true;
            out.batches.push(BatchOutcome {
                number: batches + 1,
                instances: unhealthy
                    .into_iter()
                    .map(|(instance, state)| InstanceOutcome {
                        instance,
                        outcome: "failed".into(),
                        failed_step: Some("Evaluation".into()),
                        message: format!(
                            "turned {state} in the temporary target group during the evaluation"
                        ),
                        log_tail: String::new(),
                        serving: None,
                        engine_seconds: None,
                        steps: Vec::new(),
                    })
                    .collect(),
            });
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
    shift(rollout, listeners, temporary_arn, 100)?;
    on_event(DeployEvent::TrafficShifted {
        percent: 100,
        evaluation_secs: None,
    });
    // Requests the load balancer routed to the old instances just before finish before their
    // target group changes (where it reports no draining, as moto).
    std::thread::sleep(DRAIN_GRACE);
    Ok(())
}

/// Looks for an abort or a Ctrl-C (at each batch and during the evaluation).
fn stop(
    rollout: &Rollout<'_>,
    out: &mut Replaced,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(DeployEvent),
) -> bool {
    if interrupt.is_raised() {
        out.interrupted = true;
        return true;
    }
    if let Some(request) = (rollout.abort)() {
        on_event(DeployEvent::Aborting(request.clone()));
        out.aborted = Some(request);
        out.failed = true;
        return true;
    }
    false
}

/// Sends `percent` of the requests of each listener to the temporary target group, the rest
/// to the environment's (0: the environment's alone again).
fn shift(
    rollout: &Rollout<'_>,
    listeners: &[String],
    temporary: &str,
    percent: i32,
) -> Result<(), DeployError> {
    for listener in listeners {
        rollout.session.runtime.block_on(elbv2::forward_weighted(
            &rollout.aws.elbv2,
            listener,
            &[
                (rollout.target_group.to_string(), 100 - percent),
                (temporary.to_string(), percent),
            ],
        ))?;
    }
    Ok(())
}

/// The instances of `instances` a target group does not report healthy, with their state.
fn unhealthy_targets(
    rollout: &Rollout<'_>,
    target_group: &str,
    instances: &[String],
) -> Result<Vec<(String, String)>, DeployError> {
    let states: BTreeMap<String, String> = rollout
        .session
        .runtime
        .block_on(elbv2::target_health(&rollout.aws.elbv2, target_group))?
        .into_iter()
        .map(|t| (t.id, t.state))
        .collect();
    Ok(instances
        .iter()
        .filter_map(|i| match states.get(i).map(String::as_str) {
            Some("healthy") => None,
            Some(other) => Some((i.clone(), other.to_string())),
            None => Some((i.clone(), "unregistered".to_string())),
        })
        .collect())
}

/// Waits until the temporary group has `wanted` instances in service; those not in `known`.
fn launched(
    rollout: &Rollout<'_>,
    group: &str,
    wanted: usize,
    known: &[String],
) -> Result<Vec<String>, DeployError> {
    let deadline = Instant::now() + rollout.timeout;
    loop {
        let view = rollout.session.runtime.block_on(autoscaling::fleet_view(
            &rollout.aws.autoscaling,
            group,
            rollout.application,
            &rollout.env.name,
        ))?;
        let in_service = view.map(|v| v.in_service).unwrap_or_default();
        if in_service.len() >= wanted {
            let mut new: Vec<String> = in_service
                .into_iter()
                .filter(|i| !known.contains(i))
                .collect();
            new.sort();
            return Ok(new);
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Refused(format!(
                "the temporary group {group} did not have {wanted} instance{} in service within {} s",
                if wanted == 1 { "" } else { "s" },
                rollout.timeout.as_secs()
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// Waits for each new instance's boot report. An instance that booted another version (it
/// could not find its group's pointer) gets this deployment through Run Command.
fn booted(
    rollout: &Rollout<'_>,
    id: u64,
    leader: &str,
    previous: &str,
    instances: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Vec<InstanceOutcome>, DeployError> {
    let (session, aws) = (rollout.session, rollout.aws);
    let deadline = Instant::now() + rollout.timeout;
    let mut outcomes: BTreeMap<String, InstanceOutcome> = BTreeMap::new();
    let mut elsewhere: BTreeSet<String> = BTreeSet::new();
    while outcomes.len() + elsewhere.len() < instances.len() {
        for instance in instances {
            if outcomes.contains_key(instance) || elsewhere.contains(instance) {
                continue;
            }
            let key = boot_report_key(rollout.application, &rollout.env.name, instance);
            let report = session
                .runtime
                .block_on(s3::get(&aws.s3, rollout.bucket, &key))?
                .and_then(|b| serde_json::from_slice::<Report>(&b).ok());
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
        if Instant::now() >= deadline {
            for instance in instances {
                if !outcomes.contains_key(instance) && !elsewhere.contains(instance) {
                    let outcome = InstanceOutcome {
                        instance: instance.clone(),
                        outcome: "timed-out".into(),
                        failed_step: None,
                        message: format!(
                            "it did not boot within the deployment's timeout ({} s): see `beanpole logs {} --instance {instance}`",
                            rollout.timeout.as_secs(),
                            rollout.env.name
                        ),
                        log_tail: String::new(),
                        serving: None,
                        engine_seconds: None,
                        steps: Vec::new(),
                    };
                    on_event(DeployEvent::InstanceDone(outcome.clone()));
                    outcomes.insert(instance.clone(), outcome);
                }
            }
            break;
        }
        std::thread::sleep(POLL);
    }
    if !elsewhere.is_empty() {
        let others: Vec<String> = elsewhere.into_iter().collect();
        for outcome in run_batch(
            session,
            aws,
            rollout.bucket,
            rollout.application,
            rollout.env,
            id,
            leader,
            previous,
            &others,
            rollout.timeout,
            on_event,
        )? {
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
fn move_in(
    rollout: &Rollout<'_>,
    fleet: &autoscaling::FleetView,
    temporary: &Temporary,
    listeners: &[String],
    new_instances: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    let (session, aws) = (rollout.session, rollout.aws);
    let grown = fleet.desired + i32::try_from(new_instances.len()).unwrap_or(i32::MAX);
    if temporary.target_group.is_some() {
        // Traffic splitting: the environment's target group takes no request now; the new
        // instances join it before it takes them all back.
        session.runtime.block_on(elbv2::register(
            &aws.elbv2,
            rollout.target_group,
            new_instances,
        ))?;
        wait_targets(
            session,
            aws,
            rollout.target_group,
            new_instances,
            rollout.timeout,
            |t| rollout.target_passes(t),
        )
        .map_err(|still| {
            DeployError::Refused(format!(
                "new instances {} did not become healthy in the environment's target group within {} s",
                still.join(", "),
                rollout.timeout.as_secs()
            ))
        })?;
    }
    session.runtime.block_on(autoscaling::set_capacity(
        &aws.autoscaling,
        &fleet.name,
        fleet.desired,
        fleet.max.max(grown),
    ))?;
    session.runtime.block_on(autoscaling::move_instances(
        &aws.autoscaling,
        &temporary.group,
        &fleet.name,
        new_instances,
    ))?;
    on_event(DeployEvent::MovedIntoGroup {
        instances: new_instances.to_vec(),
        group: fleet.name.clone(),
    });
    if let Some((_, temporary_arn)) = &temporary.target_group {
        // The old instances leave the environment's target group while it takes no request,
        // then it takes them all again, served by the new instances alone.
        let old = deregister_listed(session, aws, rollout.target_group, &fleet.in_service)?;
        let _ = wait_targets(
            session,
            aws,
            rollout.target_group,
            &old,
            rollout.timeout,
            drained,
        );
        shift(rollout, listeners, temporary_arn, 0)?;
        on_event(DeployEvent::TrafficShifted {
            percent: 100,
            evaluation_secs: None,
        });
    }
    // Rollout::retire takes them out of the target group (drained), terminates them and puts
    // the group's size and maximum back as they were.
    rollout.retire(fleet, &fleet.in_service, on_event)
}

/// The instances the temporary group has now.
fn group_instances(rollout: &Rollout<'_>, group: &str) -> Result<Vec<String>, DeployError> {
    Ok(rollout
        .session
        .runtime
        .block_on(autoscaling::fleet_view(
            &rollout.aws.autoscaling,
            group,
            rollout.application,
            &rollout.env.name,
        ))?
        .map(|v| {
            let mut all = v.in_service;
            all.extend(v.other.into_iter().map(|(id, _)| id));
            all
        })
        .unwrap_or_default())
}

/// Deletes a deployment's temporary resources: traffic back to the environment's target
/// group, the new instances out of it (drained), the group with its instances, the target
/// group, the group's pointer.
fn remove(
    rollout: &Rollout<'_>,
    temporary: &Temporary,
    instances: &[String],
    listeners: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    let (session, aws) = (rollout.session, rollout.aws);
    if let Some((_, arn)) = &temporary.target_group {
        let listeners = if listeners.is_empty() {
            session
                .runtime
                .block_on(elbv2::forwarding_listeners(&aws.elbv2, arn))?
        } else {
            listeners.to_vec()
        };
        shift(rollout, &listeners, arn, 0)?;
    }
    if !instances.is_empty() {
        let registered = deregister_listed(session, aws, rollout.target_group, instances)?;
        if !registered.is_empty() {
            let _ = wait_targets(
                session,
                aws,
                rollout.target_group,
                &registered,
                rollout.timeout,
                drained,
            );
            std::thread::sleep(DRAIN_GRACE);
        }
    }
    session
        .runtime
        .block_on(autoscaling::delete_group(aws, &temporary.group))?;
    if let Some((_, arn)) = &temporary.target_group {
        session
            .runtime
            .block_on(elbv2::delete_target_group(aws, arn))?;
    }
    session.runtime.block_on(s3::delete(
        &aws.s3,
        rollout.bucket,
        &group_pointer_key(rollout.application, &rollout.env.name, &temporary.group),
    ))?;
    on_event(DeployEvent::TemporaryRemoved {
        group: temporary.group.clone(),
        target_group: temporary.target_group.as_ref().map(|(n, _)| n.clone()),
        instances: instances.to_vec(),
    });
    Ok(())
}

/// Removes what a killed deployment of the environment left: traffic back on the
/// environment's target group, its temporary groups (with their instances) and target groups.
/// The names of what it removed.
pub(crate) fn clean_up(
    rollout: &Rollout<'_>,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Vec<String>, DeployError> {
    let (session, aws) = (rollout.session, rollout.aws);
    let target_groups = session.runtime.block_on(elbv2::temporary_target_groups(
        &aws.elbv2,
        rollout.application,
        &rollout.env.name,
    ))?;
    for arn in &target_groups {
        let listeners = session
            .runtime
            .block_on(elbv2::forwarding_listeners(&aws.elbv2, arn))?;
        shift(rollout, &listeners, arn, 0)?;
    }
    let groups = session.runtime.block_on(autoscaling::temporary_groups(
        &aws.autoscaling,
        rollout.application,
        &rollout.env.name,
    ))?;
    for group in &groups {
        let temporary = Temporary {
            group: group.name.clone(),
            target_group: None,
        };
        remove(rollout, &temporary, &group.instances, &[], on_event)?;
    }
    for arn in &target_groups {
        session
            .runtime
            .block_on(elbv2::delete_target_group(aws, arn))?;
    }
    let mut removed: Vec<String> = groups.into_iter().map(|g| g.name).collect();
    removed.extend(target_groups);
    Ok(removed)
}
