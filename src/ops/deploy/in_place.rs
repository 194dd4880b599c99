//! The policies that deploy to the running instances: `all-at-once` (one batch, staying in
//! the load balancer), `rolling` (batch after batch, each leaving the target group first and
//! rejoining healthy before the next starts) and `rolling-with-additional-batch` (an extra
//! batch launched first takes the new version as the first batch; as many old instances are
//! retired at the end, so capacity never drops). A failed batch stops the deployment; the
//! instances that took the new version get the last good one back (EB's automatic rollback,
//! `rollback = false` keeps EB's own behaviour); an abort always rolls back.

use super::batches::run;
use super::{rollback, took_new, DeployError, DeployEvent, Deployment, Finished, Stop};
use crate::bucket::VersionManifest;
use crate::deploy::DeployPlan;
use crate::platform::settings::RuntimeSettings;

/// Carries out an in-place deployment `id` of `manifest`.
pub(crate) async fn deploy(
    dep: &Deployment<'_>,
    plan: &DeployPlan,
    id: u64,
    manifest: &VersionManifest,
    settings: &RuntimeSettings,
    previous: &str,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Finished, DeployError> {
    // rolling-with-additional-batch: the extra batch is launched first and takes the new
    // version as the first batch.
    let mut launched: Vec<String> = Vec::new();
    let run_plan = if plan.extra > 0 {
        match dep
            .launch_extra(plan.extra, &dep.group.in_service, &mut launched, on_event)
            .await
        {
            Ok(()) => plan.with_extra_batch(&launched),
            Err(e) => {
                dep.retire(&launched, on_event).await?;
                return Err(e);
            }
        }
    } else {
        plan.clone()
    };
    let forward = run(dep, &run_plan, id, previous, on_event).await?;
    // Automatic rollback: the instances that took the new version get the last version that
    // deployed successfully on the environment (the sample application before any). An
    // abort always rolls back: that is what it asks for.
    let mut rollback = None;
    if forward.failed && (forward.aborted.is_some() || dep.env.deployment.rollback.unwrap_or(true))
    {
        // The extra batch goes at the end anyway.
        let took = took_new(&forward.batches, &manifest.label, &launched);
        if !took.is_empty() {
            rollback = Some(
                rollback::roll_back(
                    dep,
                    &took,
                    settings.policy,
                    settings.batch_size,
                    &manifest.label,
                    on_event,
                )
                .await?,
            );
        }
    }
    let completed = !forward.failed && forward.stopped.is_none();
    // The group ends at its size: on success the instances the plan retires go, else the
    // extra batch does (unless the lock was lost: the command holding it now retires it).
    if plan.extra > 0 && forward.stopped != Some(Stop::LostLock) {
        let going = if completed {
            plan.retire.clone()
        } else {
            launched.clone()
        };
        dep.retire(&going, on_event).await?;
    }
    let mut not_deployed: Vec<String> = run_plan
        .batches
        .iter()
        .flat_map(|b| b.instances.iter())
        .filter(|i| !forward.reached.contains(*i))
        .cloned()
        .collect();
    if !completed {
        not_deployed.extend(plan.retire.iter().cloned());
    }
    Ok(Finished {
        batches: forward.batches,
        failed: forward.failed,
        stopped: forward.stopped,
        aborted: forward.aborted,
        rollback,
        not_deployed,
    })
}
