//! The rollback of a failed (or aborted, or killed) deployment that deployed in place: the
//! environment's last good version (its pointer's document, or the sample application's before
//! any) deployed again, as a deployment of its own, on the instances that took the failed one,
//! batch by batch as the failed deployment's policy said. Nothing stops it (no Ctrl-C, no
//! abort, no lost lock): it is what puts the environment right. The pointer is not moved: it
//! still names that version.

use super::batches;
use super::{next_deployment_id, DeployError, DeployEvent, Deployment};
use crate::aws::s3::Written;
use crate::deploy::outcome::{Completion, RollbackMethod, RollbackOutcome};
use crate::interrupt::Interrupt;
use crate::model::{BatchSize, DeploymentPolicy};

pub(crate) async fn roll_back(
    dep: &Deployment<'_>,
    instances: &[String],
    policy: DeploymentPolicy,
    batch_size: BatchSize,
    failed_label: &str,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<RollbackOutcome, DeployError> {
    let (store, application, env) = (dep.store, dep.application, dep.env);
    let pointer = store.environment_pointer(application, &env.name).await?;
    // The last good deployment's document, or the sample application's.
    let mut doc = match &pointer {
        Some(p) => store.document_at(&p.document).await?.ok_or_else(|| {
            DeployError::Refused(format!(
                "cannot roll back: the document {} of {} is missing",
                p.document, p.label
            ))
        })?,
        None => crate::platform::boot::sample_document(application, env),
    };
    let label = doc.version.label.clone();
    let mut id = next_deployment_id(store, application, &env.name).await?;
    loop {
        doc.deployment_id = id;
        match store.put_document(application, &doc).await? {
            Written::Created => break,
            Written::AlreadyThere => id += 1,
        }
    }
    // A rollback launches nothing: an extra batch's rolling is plain rolling here. (Nor does
    // it replace instances: the policies that do roll back by removing them.)
    let policy = match policy {
        DeploymentPolicy::RollingWithAdditionalBatch
        | DeploymentPolicy::Immutable
        | DeploymentPolicy::TrafficSplitting => DeploymentPolicy::Rolling,
        other => other,
    };
    let plan = crate::deploy::plan(instances, policy, batch_size)
        .map_err(|p| DeployError::Refused(p.to_string()))?;
    on_event(DeployEvent::RollingBack {
        to: label.clone(),
        deployment_id: id,
        instances: instances.to_vec(),
    });
    let never = Interrupt::new();
    let done = batches::run(&dep.for_rollback(&never), &plan, id, failed_label, on_event).await?;
    Ok(RollbackOutcome {
        version: label,
        method: RollbackMethod::Redeployed,
        deployment_id: id,
        outcome: Completion::of(!done.failed),
        batches: done.batches,
    })
}
