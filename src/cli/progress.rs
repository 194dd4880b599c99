//! How the commands that deploy (deploy, abort, apply's rollouts and undos) show a
//! deployment's progress: one line per event, stamped with the seconds since it started.

use super::{error, show_lock_event, EXIT_OK};
use crate::deploy::outcome::DeployOutcome;
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

/// One line for an event of a deployment, stamped with the seconds since it started.
pub fn deploy_line(event: &DeployEvent, started: Instant) -> String {
    format!(
        "[{:>6.1}s] {}",
        started.elapsed().as_secs_f64(),
        event.line()
    )
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
