//! How the commands that deploy (deploy, abort, apply's rollouts and undos) show a
//! deployment's progress: one line per event, stamped with the seconds since it started.

use super::{error, plural, printable, show_lock_event, EXIT_OK};
use crate::deploy::outcome::{DeployOutcome, InstanceResult};
use crate::ops::deploy::recover::Undone;
use crate::ops::deploy::{DeployError, DeployEvent};
use crate::reconcile::plan::InstanceRollout;
use std::time::Instant;

/// When the deployment shown started.
pub struct DeployClock(Instant);

impl DeployClock {
    pub fn start() -> DeployClock {
        DeployClock(Instant::now())
    }

    pub fn started(&self) -> Instant {
        self.0
    }
}

/// Shows one event of a deployment on stderr (lock events as every command does).
pub fn show(event: DeployEvent, started: Instant) {
    match event {
        DeployEvent::Lock(e) => show_lock_event(e),
        other => eprintln!("{}", deploy_line(&other, started)),
    }
}

/// One line for an event of a deployment.
pub fn deploy_line(event: &DeployEvent, started: Instant) -> String {
    let at = format!("[{:>6.1}s]", started.elapsed().as_secs_f64());
    let list = |instances: &[String]| instances.join(", ");
    let text = match event {
        DeployEvent::Lock(_) => "waiting for the application's lock".to_string(),
        DeployEvent::WaitingForStopped(r) => format!(
            "waiting for deployment {} of {} (process {} on {}), which lost the lock, to stop",
            r.deployment_id,
            r.version,
            r.owner.pid,
            printable(&r.owner.host)
        ),
        DeployEvent::Undone(undone) => undone_line(undone),
        DeployEvent::Version {
            label,
            sha256,
            reused,
        } => format!(
            "version {label} ({}){}",
            &sha256[..sha256.len().min(12)],
            if *reused {
                ": stored already, nothing to upload"
            } else {
                ": uploaded"
            }
        ),
        DeployEvent::Planned {
            deployment_id,
            plan,
        } if plan.replace > 0 => {
            format!("deployment {deployment_id}: {}", plan.summary())
        }
        DeployEvent::Planned {
            deployment_id,
            plan,
        } => format!(
            "deployment {deployment_id}: {}; leader {}",
            plan.summary(),
            plan.leader
        ),
        DeployEvent::BatchStarted {
            number,
            of,
            instances,
        } => {
            format!("batch {number}/{of}: {}", list(instances))
        }
        DeployEvent::Deregistered { instances } => {
            format!("  out of the target group: {}", list(instances))
        }
        DeployEvent::Step {
            instance,
            step,
            elapsed,
        } => format!(
            "  {instance}: {} ({:.0}s into the batch)",
            printable(step),
            elapsed.as_secs_f64()
        ),
        DeployEvent::InstanceDone(o) => instance_line(o),
        DeployEvent::Registered { instances } => {
            format!("  healthy in the target group: {}", list(instances))
        }
        DeployEvent::Aborting(request) => format!(
            "abort requested by {} on {}: stopping here and rolling back",
            printable(&request.principal),
            printable(&request.host)
        ),
        DeployEvent::LostLock => {
            "lost the application's lock (another command took it): stopping here".to_string()
        }
        DeployEvent::Launching { count } => format!(
            "launching {count} extra instance{} (capacity never drops)",
            plural(*count)
        ),
        DeployEvent::Launched { instances } => format!(
            "  booted, out of the target group until they take the version: {}",
            list(instances)
        ),
        DeployEvent::Retiring { instances } => {
            format!(
                "retiring (the group returns to its size): {}",
                list(instances)
            )
        }
        DeployEvent::RollingBack {
            to,
            deployment_id,
            instances,
        } => format!(
            "rolling back (deployment {deployment_id}): {to} goes back on {}",
            list(instances)
        ),
        DeployEvent::Restored { instances } => format!(
            "back into the target group (an earlier deploy left them out): {}",
            list(instances)
        ),
        DeployEvent::TemporaryGroup {
            group,
            target_group,
            instances,
        } => temporary_group_line(group, target_group.as_deref(), *instances),
        DeployEvent::TrafficShifted {
            percent,
            evaluation_secs,
        } => traffic_line(*percent, *evaluation_secs),
        DeployEvent::MovedIntoGroup { instances, group } => {
            format!("moved into {group}: {}", list(instances))
        }
        DeployEvent::TemporaryRemoved {
            group,
            target_group,
            instances,
        } => format!(
            "deleted temporary group {group}{}{}",
            target_group
                .as_deref()
                .map(|tg| format!(" and target group {tg}"))
                .unwrap_or_default(),
            if instances.is_empty() {
                String::new()
            } else {
                format!(" with {}", list(instances))
            }
        ),
        DeployEvent::NotRecorded { application, error } => format!(
            "warning: could not record this command in the events of {application}: {error}"
        ),
    };
    format!("{at} {text}")
}

fn instance_line(o: &crate::deploy::outcome::InstanceOutcome) -> String {
    match o.outcome {
        InstanceResult::Succeeded => format!(
            "  {}: deployed ({:.1} s on the instance)",
            o.instance,
            o.engine_seconds.unwrap_or_default()
        ),
        other => format!(
            "  {}: {} at {}",
            o.instance,
            other.as_str().to_uppercase(),
            o.failed_step.as_deref().unwrap_or("-")
        ),
    }
}

fn temporary_group_line(group: &str, target_group: Option<&str>, instances: usize) -> String {
    format!(
        "temporary group {group}{} for {instances} new instance{} (one first, then the rest)",
        target_group
            .map(|tg| format!(" and target group {tg}"))
            .unwrap_or_default(),
        plural(instances)
    )
}

fn traffic_line(percent: u32, evaluation_secs: Option<u32>) -> String {
    match evaluation_secs {
        Some(secs) => format!(
            "listener: {percent}% of requests to the new instances for {}",
            crate::duration::format_secs(secs)
        ),
        None if percent == 100 => "listener: all requests to the new instances".to_string(),
        None => format!("listener: {percent}% of requests to the new instances"),
    }
}

/// What was undone of a deployment that died.
pub fn undone_line(undone: &Undone) -> String {
    let summary = crate::ops::abort::undone_summary(undone);
    if summary.is_empty() {
        "finished what a deployment that died left".to_string()
    } else {
        format!("what a deployment that died left: {summary}")
    }
}

/// The closing lines of one rollout of apply; its exit status.
pub fn rollout_result(
    rollout: &InstanceRollout,
    result: &Result<Option<DeployOutcome>, DeployError>,
) -> i32 {
    match result {
        Ok(None) => {
            println!(
                "Nothing to deploy on {}: no version is deployed there yet (its instances take the new settings when one is).",
                rollout.environment
            );
            EXIT_OK
        }
        Ok(Some(outcome)) if outcome.succeeded() => {
            println!(
                "Rolled out on {} in {:.1} s.",
                rollout.environment, outcome.elapsed_seconds
            );
            EXIT_OK
        }
        Ok(Some(outcome)) => error(format!(
            "the rollout on {} failed ({}); the environment's instances that were not replaced still serve {}: fix the cause and apply again",
            rollout.environment,
            outcome
                .failed_instances()
                .map(|i| format!(
                    "{} {} at {}: {}",
                    i.instance,
                    i.outcome,
                    i.failed_step.as_deref().unwrap_or("-"),
                    i.message
                ))
                .collect::<Vec<_>>()
                .join("; "),
            outcome.version
        )),
        Err(e) => error(format!(
            "the rollout on {} failed: {e}; apply again to finish it",
            rollout.environment
        )),
    }
}
