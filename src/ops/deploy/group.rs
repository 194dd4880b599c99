//! Instances a deployment adds to the environment's Auto Scaling group (the extra batch of
//! `rolling-with-additional-batch`, or an apply's new instances: launched from the group's
//! launch template, kept out of the load balancer until they booted what the environment
//! runs) and those it retires (out of the target group, drained, out of the group,
//! terminated; then the group's size and maximum as they were).

use super::targets::{deregister_listed, wait_targets, DRAIN_GRACE, POLL};
use super::{DeployError, DeployEvent, Deployment};
use crate::aws::{autoscaling, ec2, Poll, Poller};
use crate::deploy::outcome::drained;

impl Deployment<'_> {
    /// Raises the group by `extra` instances and waits until they booted (their boot report),
    /// keeping them out of the target group until then; their ids go to `launched` as soon as
    /// they are known (to retire, on failure).
    pub(crate) async fn launch_extra(
        &self,
        extra: usize,
        known: &[String],
        launched: &mut Vec<String>,
        on_event: &mut dyn FnMut(DeployEvent),
    ) -> Result<(), DeployError> {
        let group = self.group;
        let desired = group.desired + i32::try_from(extra).unwrap_or(i32::MAX);
        autoscaling::set_capacity(
            &self.aws.autoscaling,
            &group.name,
            desired,
            group.max.max(desired),
        )
        .await?;
        on_event(DeployEvent::Launching { count: extra });
        let mut poller = Poller::new(self.timeout, Poll::every(POLL));
        let new = loop {
            let now = autoscaling::group_view(
                &self.aws.autoscaling,
                &group.name,
                self.application,
                &self.env.name,
            )
            .await?;
            let mut new: Vec<String> = now
                .map(|v| v.in_service)
                .unwrap_or_default()
                .into_iter()
                .filter(|i| !known.contains(i))
                .collect();
            new.sort();
            if new.len() >= extra {
                new.truncate(extra);
                launched.clone_from(&new);
                break new;
            }
            if !poller.pause().await {
                launched.clone_from(&new);
                return Err(DeployError::Refused(format!(
                    "the extra batch was not in service within {} s",
                    self.timeout.as_secs()
                )));
            }
        };
        if let Some(keeper) = self.keeper {
            keeper.added(&new).await?;
        }
        // Out of the target group until they booted: the load balancer must not send them
        // requests before they serve.
        deregister_listed(self.aws, self.target_group, &new).await?;
        for instance in &new {
            self.wait_booted(instance, &mut poller).await?;
        }
        on_event(DeployEvent::Launched { instances: new });
        Ok(())
    }

    /// Waits for a new instance's boot report; an error if it failed or never came.
    async fn wait_booted(&self, instance: &str, poller: &mut Poller) -> Result<(), DeployError> {
        loop {
            let report = self
                .store
                .boot_report(self.application, &self.env.name, instance)
                .await?
                .and_then(Result::ok);
            match report {
                Some(r) if r.succeeded() => return Ok(()),
                Some(r) => {
                    return Err(DeployError::Refused(format!(
                        "the extra instance {instance} failed to boot at {}: {}\n{}",
                        r.failed_step.unwrap_or_default(),
                        r.message,
                        r.output_tail
                    )))
                }
                None if !poller.pause().await => {
                    return Err(DeployError::Refused(format!(
                        "the extra instance {instance} did not boot within {} s",
                        self.timeout.as_secs()
                    )))
                }
                None => {}
            }
        }
    }

    /// Takes instances out of the target group (waiting out their connections), out of the
    /// group (which shrinks by as many) and terminates them; then puts the group's size and
    /// maximum back as they were.
    pub(crate) async fn retire(
        &self,
        instances: &[String],
        on_event: &mut dyn FnMut(DeployEvent),
    ) -> Result<(), DeployError> {
        let group = self.group;
        if !instances.is_empty() {
            on_event(DeployEvent::Retiring {
                instances: instances.to_vec(),
            });
            let registered = deregister_listed(self.aws, self.target_group, instances).await?;
            if !registered.is_empty() {
                // One that does not drain in time goes anyway: it is being retired.
                wait_targets(
                    self.aws,
                    self.target_group,
                    &registered,
                    self.timeout,
                    drained,
                )
                .await?
                .ok();
                // Requests the load balancer routed just before finish before the instance
                // goes (where the target group reports no draining, as moto).
                tokio::time::sleep(DRAIN_GRACE).await;
            }
            autoscaling::detach(&self.aws.autoscaling, &group.name, instances).await?;
            ec2::terminate_instances(&self.aws.ec2, instances).await?;
        }
        autoscaling::set_capacity(&self.aws.autoscaling, &group.name, group.desired, group.max)
            .await?;
        Ok(())
    }
}
