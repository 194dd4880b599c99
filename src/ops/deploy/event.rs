//! What a deploy reports as it goes, and how each event reads in a line.

use super::recover::Undone;
use crate::bucket::{AbortRequest, DeploymentRecord};
use crate::deploy::outcome::{InstanceOutcome, InstanceResult};
use crate::deploy::DeployPlan;
use crate::ops::lock::LockEvent;
use std::time::Duration;

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What a deploy reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployEvent {
    /// Taking the application's lock.
    Lock(LockEvent),
    /// A deployment whose command lost its lock is still at work: waiting for it to stop.
    WaitingForStopped(Box<DeploymentRecord>),
    /// What a deployment left that died (or lost its lock) was undone first.
    Undone(Undone),
    /// The version to deploy: stored now, or the stored one with the same content.
    Version {
        label: String,
        sha256: String,
        reused: bool,
    },
    Planned {
        deployment_id: u64,
        plan: DeployPlan,
    },
    /// Something the version asks for that Beanpole does not carry out.
    NotCarriedOut(crate::bundle::ebextensions::Unsupported),
    /// The version's `Resources:`: its stack's change set, shown before it is executed.
    Resources {
        stack: String,
        change_set: crate::reconcile::stacks::ChangeSet,
    },
    BatchStarted {
        number: usize,
        of: usize,
        instances: Vec<String>,
    },
    /// The batch left the target group (the load balancer lists none of them any more).
    Deregistered {
        instances: Vec<String>,
    },
    /// An instance's engine is at this step.
    Step {
        instance: String,
        step: String,
        elapsed: Duration,
    },
    InstanceDone(InstanceOutcome),
    /// The batch's instances are back in the target group and healthy.
    Registered {
        instances: Vec<String>,
    },
    /// `beanpole abort` asked this deploy to stop: it stops here and rolls back.
    Aborting(AbortRequest),
    /// Another command took the application's lock: the deploy stops at this safe point.
    LostLock,
    /// `rolling-with-additional-batch`: launching this many instances first.
    Launching {
        count: usize,
    },
    /// They booted (out of the target group): they take the new version as the first batch.
    Launched {
        instances: Vec<String>,
    },
    /// Leaving the group at the end (the group returns to its size).
    Retiring {
        instances: Vec<String>,
    },
    /// The deploy failed: the last good version goes back on these instances.
    RollingBack {
        to: String,
        deployment_id: u64,
        instances: Vec<String>,
    },
    /// In-service instances that were out of the target group (left there by a deploy that
    /// was killed) were put back before anything else.
    Restored {
        instances: Vec<String>,
    },
    /// `immutable`, `traffic-splitting`: the deployment's temporary group (and target group)
    /// was created; it launches this many instances, one first.
    TemporaryGroup {
        group: String,
        target_group: Option<String>,
        instances: usize,
    },
    /// `traffic-splitting`: the new instances take this share of the requests now (for the
    /// evaluation time, when given).
    TrafficShifted {
        percent: u32,
        evaluation_secs: Option<u32>,
    },
    /// The new instances joined the environment's group.
    MovedIntoGroup {
        instances: Vec<String>,
        group: String,
    },
    /// A deployment's temporary resources were deleted (with these instances).
    TemporaryRemoved {
        group: String,
        target_group: Option<String>,
        instances: Vec<String>,
    },
    /// The event could not be written (the deployment itself is done).
    NotRecorded {
        application: String,
        error: String,
    },
}

impl DeployEvent {
    /// The event in one line, as a deploy's progress shows it (sub-steps of a batch indented).
    pub fn line(&self) -> String {
        let list = |instances: &[String]| instances.join(", ");
        match self {
            DeployEvent::Lock(_) => "waiting for the application's lock".to_string(),
            DeployEvent::WaitingForStopped(r) => format!(
                "waiting for deployment {} of {} (process {} on {}), which lost the lock, to stop",
                r.deployment_id,
                r.version,
                r.owner.pid,
                crate::display::printable(&r.owner.host)
            ),
            DeployEvent::Undone(undone) => undone.line(),
            DeployEvent::NotCarriedOut(u) => format!("warning: {u}"),
            DeployEvent::Resources { stack, change_set } => {
                let mut line = format!(
                    "the version's Resources: stack {stack}, change set {}:",
                    change_set.name
                );
                if change_set.changes.is_empty() {
                    line.push_str(" no resource changes");
                }
                for c in &change_set.changes {
                    line.push_str(&format!("\n  {}", c.line()));
                }
                line
            }
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
                crate::display::printable(step),
                elapsed.as_secs_f64()
            ),
            DeployEvent::InstanceDone(o) => instance_line(o),
            DeployEvent::Registered { instances } => {
                format!("  healthy in the target group: {}", list(instances))
            }
            DeployEvent::Aborting(request) => format!(
                "abort requested by {} on {}: stopping here and rolling back",
                crate::display::printable(&request.principal),
                crate::display::printable(&request.host)
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
        }
    }
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
