//! A deployment's moves in and out of a target group: instances taken out (and waited out
//! until the load balancer no longer lists them), put back, and waited for until their state
//! lets the batch go on. Every look at target health is a call whose error ends the wait with
//! that error: a failed `DescribeTargetHealth` is never read as "drained".

use super::DeployEvent;
use crate::aws::{elbv2, Aws, AwsError, Poll, Poller};
use crate::interrupt::Interrupt;
use crate::status::TargetState;
use std::collections::BTreeMap;
use std::time::Duration;

/// How often a deployment looks at target health and at its instances' reports.
pub const POLL: Duration = Duration::from_millis(500);

/// After an instance to retire left the target group: time for requests already routed to it.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Each registered target's state (none without a target group: a worker's instances are
/// in no load balancer).
pub async fn states(
    aws: &Aws,
    target_group: Option<&str>,
) -> Result<BTreeMap<String, TargetState>, AwsError> {
    let Some(target_group) = target_group else {
        return Ok(BTreeMap::new());
    };
    Ok(elbv2::target_health(&aws.elbv2, target_group)
        .await?
        .into_iter()
        .map(|t| (t.id, t.state))
        .collect())
}

/// Takes those of `instances` the target group lists out of it; which ones.
pub async fn deregister_listed(
    aws: &Aws,
    target_group: Option<&str>,
    instances: &[String],
) -> Result<Vec<String>, AwsError> {
    let Some(target_group) = target_group else {
        return Ok(Vec::new());
    };
    let listed = states(aws, Some(target_group)).await?;
    let registered: Vec<String> = instances
        .iter()
        .filter(|i| listed.contains_key(*i))
        .cloned()
        .collect();
    if !registered.is_empty() {
        elbv2::deregister(&aws.elbv2, target_group, &registered).await?;
    }
    Ok(registered)
}

/// Puts back into the target group the in-service instances it does not list (a deploy
/// killed mid-batch left them out; they serve what their engine last deployed or put back).
pub async fn restore_missing(
    aws: &Aws,
    target_group: Option<&str>,
    in_service: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), AwsError> {
    let Some(target_group) = target_group else {
        return Ok(());
    };
    let listed = states(aws, Some(target_group)).await?;
    let missing: Vec<String> = in_service
        .iter()
        .filter(|i| !listed.contains_key(*i))
        .cloned()
        .collect();
    if !missing.is_empty() {
        elbv2::register(&aws.elbv2, target_group, &missing).await?;
        on_event(DeployEvent::Restored { instances: missing });
    }
    Ok(())
}

/// Puts `instances` into the target group (nothing to do for a worker, which has none).
pub async fn register(
    aws: &Aws,
    target_group: Option<&str>,
    instances: &[String],
) -> Result<(), AwsError> {
    match target_group {
        Some(target_group) => elbv2::register(&aws.elbv2, target_group, instances).await,
        None => Ok(()),
    }
}

/// Waits until `done` holds for each instance's state in the target group (`None`: not
/// listed), at most `timeout`: `Ok(Err(pending))` names those for which it never did.
pub async fn wait_targets(
    aws: &Aws,
    target_group: Option<&str>,
    instances: &[String],
    timeout: Duration,
    done: impl Fn(Option<TargetState>) -> bool,
) -> Result<Result<(), Vec<String>>, AwsError> {
    let never = Interrupt::new();
    Ok(
        match wait_targets_while_held(aws, target_group, instances, timeout, &never, done).await? {
            Waited::Pending(pending) => Err(pending),
            // (`never` is never raised.)
            Waited::Done | Waited::LostLock => Ok(()),
        },
    )
}

/// How a wait on target states ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    Done,
    /// The instances for which it never held.
    Pending(Vec<String>),
    /// The command lost its lock meanwhile: it stops waiting, and changes nothing more.
    LostLock,
}

/// [`wait_targets`] that stops as soon as `lost` is raised. Without a target group (a worker)
/// there is nothing to wait for: its batches pass on their engines' reports alone.
pub async fn wait_targets_while_held(
    aws: &Aws,
    target_group: Option<&str>,
    instances: &[String],
    timeout: Duration,
    lost: &Interrupt,
    done: impl Fn(Option<TargetState>) -> bool,
) -> Result<Waited, AwsError> {
    if target_group.is_none() {
        return Ok(Waited::Done);
    }
    let mut poller = Poller::new(timeout, Poll::every(POLL));
    loop {
        let now = states(aws, target_group).await?;
        let pending: Vec<String> = instances
            .iter()
            .filter(|i| !done(now.get(*i).copied()))
            .cloned()
            .collect();
        if pending.is_empty() {
            return Ok(Waited::Done);
        }
        let more = poller.pause_unless(lost).await;
        if lost.is_raised() {
            return Ok(Waited::LostLock);
        }
        if !more {
            return Ok(Waited::Pending(pending));
        }
    }
}
