//! Sending a deployment to a batch of instances through SSM Run Command, and reading how it
//! went from each instance's engine: its report in the bucket is the outcome (never Run
//! Command's status), its progress record the step it is at.

use super::{DeployError, DeployEvent, Deployment};
use crate::aws::{ssm, Poll, Poller};
use crate::deploy::outcome::{from_report, timed_out, unreadable, InstanceOutcome};
use crate::interrupt::Interrupt;
use crate::platform::command::deploy_script;
use std::collections::BTreeMap;

/// The comment of deployment `id`'s Run Commands (which instances it was sent to is found by
/// it).
pub(crate) fn comment(application: &str, environment: &str, id: u64) -> String {
    format!("beanpole deploy {application}/{environment} #{id}")
}

/// Sends deployment `id` to `instances` (`leader` runs `leader_only` container commands) and
/// waits for each instance's report, at most the deployment's timeout.
pub(crate) async fn run_batch(
    dep: &Deployment<'_>,
    id: u64,
    leader: &str,
    previous: &str,
    instances: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Vec<InstanceOutcome>, DeployError> {
    Ok(
        run_batch_while_held(dep, id, leader, previous, instances, None, on_event)
            .await?
            .unwrap_or_default(),
    )
}

/// [`run_batch`] that stops waiting (`None`) as soon as `lost` is raised: a command that lost
/// its lock changes nothing more, and the next command undoes the batch.
pub(crate) async fn run_batch_while_held(
    dep: &Deployment<'_>,
    id: u64,
    leader: &str,
    previous: &str,
    instances: &[String],
    lost: Option<&Interrupt>,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Option<Vec<InstanceOutcome>>, DeployError> {
    let (application, environment) = (dep.application, dep.env.name.as_str());
    let comment = comment(application, environment, id);
    let timeout_secs = u32::try_from(dep.timeout.as_secs()).unwrap_or(u32::MAX);
    let followers: Vec<String> = instances
        .iter()
        .filter(|i| i.as_str() != leader)
        .cloned()
        .collect();
    let leaders: Vec<String> = instances
        .iter()
        .filter(|i| i.as_str() == leader)
        .cloned()
        .collect();
    for (targets, is_leader) in [(leaders, true), (followers, false)] {
        if targets.is_empty() {
            continue;
        }
        let script = deploy_script(
            &targets,
            &dep.store.bucket,
            &crate::bucket::deployment_document_key(application, environment, id),
            &crate::bucket::deployment_reports_prefix(application, environment, id),
            is_leader,
        );
        ssm::send_shell_script(&dep.aws.ssm, &targets, &script, &comment, timeout_secs).await?;
    }
    let mut outcomes: BTreeMap<String, InstanceOutcome> = BTreeMap::new();
    let mut steps: BTreeMap<String, String> = BTreeMap::new();
    let mut poller = Poller::new(dep.timeout, Poll::every(super::targets::POLL));
    loop {
        for instance in instances {
            if outcomes.contains_key(instance) {
                continue;
            }
            if let Some(read) = dep
                .store
                .report(application, environment, id, instance)
                .await?
            {
                let outcome = match read {
                    Ok(report) => from_report(instance, &report, previous),
                    Err(e) => unreadable(instance, &e.reason),
                };
                on_event(DeployEvent::InstanceDone(outcome.clone()));
                outcomes.insert(instance.clone(), outcome);
                continue;
            }
            let progress = dep
                .store
                .progress(application, environment, id, instance)
                .await?;
            if let Some(step) = progress.map(|p| p.step) {
                if steps.get(instance) != Some(&step) {
                    steps.insert(instance.clone(), step.clone());
                    on_event(DeployEvent::Step {
                        instance: instance.clone(),
                        step,
                        elapsed: poller.elapsed(),
                    });
                }
            }
        }
        if outcomes.len() == instances.len() {
            break;
        }
        let more = match lost {
            Some(lost) => poller.pause_unless(lost).await,
            None => poller.pause().await,
        };
        if lost.is_some_and(Interrupt::is_raised) {
            return Ok(None);
        }
        if !more {
            for instance in instances {
                if !outcomes.contains_key(instance) {
                    let outcome = timed_out(
                        instance,
                        steps.get(instance).map(String::as_str),
                        dep.timeout,
                    );
                    on_event(DeployEvent::InstanceDone(outcome.clone()));
                    outcomes.insert(instance.clone(), outcome);
                }
            }
            break;
        }
    }
    Ok(Some(
        instances
            .iter()
            .filter_map(|i| outcomes.remove(i))
            .collect(),
    ))
}
