//! Batches of running instances taking a deployment, one after another (the in-place
//! policies, and every rollback): per batch, out of the target group (rolling) and waited out,
//! the deployment through Run Command, back in and healthy; stops at the first failed batch,
//! and before a batch when asked to (Ctrl-C, a lost lock, an abort).

use super::instances::run_batch_while_held;
use super::targets::{deregister_listed, wait_targets_while_held, Waited};
use super::{DeployError, DeployEvent, Deployment, Stop};
use crate::bucket::AbortRequest;
use crate::deploy::outcome::{drained, BatchOutcome, InstanceResult};
use crate::deploy::DeployPlan;
use std::collections::BTreeSet;

/// How the batches of one deployment went.
#[derive(Debug, Default)]
pub(crate) struct RolledOut {
    pub batches: Vec<BatchOutcome>,
    pub failed: bool,
    pub aborted: Option<AbortRequest>,
    pub stopped: Option<Stop>,
    pub reached: BTreeSet<String>,
}

impl RolledOut {
    /// Looks for a reason to stop before the next batch: Ctrl-C, a lost lock, an abort.
    async fn stops(
        &mut self,
        dep: &Deployment<'_>,
        on_event: &mut dyn FnMut(DeployEvent),
    ) -> Result<bool, DeployError> {
        if let Some(stop) = dep.stopping() {
            if stop == Stop::LostLock {
                on_event(DeployEvent::LostLock);
            }
            self.stopped = Some(stop);
            return Ok(true);
        }
        if let Some(request) = dep.abort_requested().await? {
            on_event(DeployEvent::Aborting(request.clone()));
            self.aborted = Some(request);
            self.failed = true;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Carries out `plan`'s batches for deployment `id`; stops at the first failed batch.
pub(crate) async fn run(
    dep: &Deployment<'_>,
    plan: &DeployPlan,
    id: u64,
    previous: &str,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<RolledOut, DeployError> {
    let mut out = RolledOut::default();
    for batch in &plan.batches {
        if out.stops(dep, on_event).await? {
            break;
        }
        on_event(DeployEvent::BatchStarted {
            number: batch.number,
            of: plan.batches.len(),
            instances: batch.instances.clone(),
        });
        out.reached.extend(batch.instances.iter().cloned());
        let outcomes = match run_one(dep, plan, id, previous, &batch.instances, on_event).await {
            Ok(Some(outcomes)) => outcomes,
            Ok(None) => {
                // The lock is lost: nothing more is changed here (the batch stays as it is,
                // for the command that took the lock to undo).
                on_event(DeployEvent::LostLock);
                out.stopped = Some(Stop::LostLock);
                break;
            }
            Err(e) => {
                // Whatever failed, the batch goes back behind the load balancer: its
                // instances serve what they served, or what their engine put back.
                if plan.leaves_target_group {
                    let _ =
                        super::targets::register(dep.aws, dep.target_group, &batch.instances).await;
                }
                return Err(e);
            }
        };
        let batch_failed = outcomes
            .iter()
            .any(|o| o.outcome != InstanceResult::Succeeded);
        out.batches.push(BatchOutcome {
            number: batch.number,
            instances: outcomes,
        });
        if batch_failed {
            out.failed = true;
            break;
        }
        // The gate after a batch: an abort asked for meanwhile stops here.
        if let Some(request) = dep.abort_requested().await? {
            on_event(DeployEvent::Aborting(request.clone()));
            out.aborted = Some(request);
            out.failed = true;
            break;
        }
    }
    Ok(out)
}

/// One batch: out of the target group (rolling), the deployment, back in and healthy; `None`
/// when the lock was lost while it waited.
async fn run_one(
    dep: &Deployment<'_>,
    plan: &DeployPlan,
    id: u64,
    previous: &str,
    instances: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Option<Vec<crate::deploy::outcome::InstanceOutcome>>, DeployError> {
    let timeout = dep.timeout;
    if plan.leaves_target_group {
        // (An extra batch is not listed yet.)
        deregister_listed(dep.aws, dep.target_group, instances).await?;
        match wait_targets_while_held(
            dep.aws,
            dep.target_group,
            instances,
            timeout,
            dep.lost,
            drained,
        )
        .await?
        {
            Waited::Done => {}
            Waited::LostLock => return Ok(None),
            Waited::Pending(still) => {
                return Err(DeployError::Refused(format!(
                    "instances {} were still draining from the target group after {} s",
                    still.join(", "),
                    timeout.as_secs()
                )))
            }
        }
        if dep.target_group.is_some() {
            on_event(DeployEvent::Deregistered {
                instances: instances.to_vec(),
            });
        }
    }
    let Some(outcomes) = run_batch_while_held(
        dep,
        id,
        &plan.leader,
        previous,
        instances,
        Some(dep.lost),
        on_event,
    )
    .await?
    else {
        return Ok(None);
    };
    // Every instance that serves something goes back behind the load balancer: a failed one
    // still serves the previous version.
    let serving: Vec<String> = outcomes
        .iter()
        .filter(|o| o.serving.is_some())
        .map(|o| o.instance.clone())
        .collect();
    if plan.leaves_target_group && !serving.is_empty() {
        super::targets::register(dep.aws, dep.target_group, &serving).await?;
    }
    if !serving.is_empty() {
        match wait_targets_while_held(
            dep.aws,
            dep.target_group,
            &serving,
            timeout,
            dep.lost,
            |t| dep.passes(t),
        )
        .await?
        {
            Waited::Done => {}
            Waited::LostLock => return Ok(None),
            Waited::Pending(still) => {
                return Err(DeployError::Refused(format!(
                    "instances {} did not become healthy in the target group within {} s",
                    still.join(", "),
                    timeout.as_secs()
                )))
            }
        }
        if dep.target_group.is_some() {
            on_event(DeployEvent::Registered { instances: serving });
        }
    }
    Ok(Some(outcomes))
}
