//! `logs`: the last lines of each instance's logs (web process, engine, hooks, proxy, boot),
//! through the command channel: Run Command asks each instance's engine to upload them to the
//! versions bucket, and they are read back (and deleted) from there.

use super::deploy::DeployError;
use super::{Context, OpError};
use crate::aws::{autoscaling, ssm, Poll, Poller};
use crate::duration::now_unix;
use crate::platform::command::logs_script;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long instances get to answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct LogsRequest {
    pub environment: String,
    /// Only this instance (default: every instance in service).
    pub instance: Option<String>,
    /// Last lines per log; 0 for whole files.
    pub lines: u32,
}

/// One instance's logs, by path on the instance, or why they did not come.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceLogs {
    pub instance: String,
    pub logs: BTreeMap<String, String>,
    pub missing: Option<String>,
}

/// `logs --all`: every instance's logs as whole files in one zip at `out`
/// (`INSTANCE/PATH`); how many files it holds.
pub fn write_zip(answers: &[InstanceLogs], out: &std::path::Path) -> Result<usize, String> {
    let mut entries = Vec::new();
    for answer in answers {
        for (path, text) in &answer.logs {
            entries.push(crate::bundle::zip::Entry {
                path: format!("{}/{}", answer.instance, path.trim_start_matches('/')),
                data: crate::bundle::zip::EntryData::File {
                    mode: 0o644,
                    bytes: text.as_bytes().to_vec(),
                },
            });
        }
    }
    crate::bundle::zip::write(&entries)
        .and_then(|bytes| std::fs::write(out, bytes))
        .map(|()| entries.len())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

pub async fn logs(
    ctx: Context<'_>,
    request: &LogsRequest,
) -> Result<Vec<InstanceLogs>, DeployError> {
    let env = ctx.environment(&request.environment)?;
    let lookup = super::status::lookups(
        ctx.compilation,
        ctx.graph,
        std::slice::from_ref(&request.environment),
    )?
    .pop()
    .ok_or_else(|| OpError::Refused(format!("no environment {}", request.environment)))?;
    let application = env.application.as_str();
    let store = ctx.session.store(application).await?;
    let aws = ctx.session.client(application)?;
    let group = autoscaling::group_view(
        &aws.autoscaling,
        &lookup.auto_scaling_group,
        application,
        &env.name,
    )
    .await?
    .filter(|g| g.owned)
    .ok_or_else(|| {
        DeployError::Refused(format!(
            "environment {} has no Auto Scaling group of Beanpole's: run `beanpole apply` first",
            env.name
        ))
    })?;
    let instances: Vec<String> = match &request.instance {
        Some(id) if group.in_service.contains(id) => vec![id.clone()],
        Some(id) => {
            return Err(DeployError::Refused(format!(
                "`--instance {id}`: not an instance in service in {} (it has: {})",
                env.name,
                if group.in_service.is_empty() {
                    "none".to_string()
                } else {
                    group.in_service.join(", ")
                }
            )))
        }
        None => group.in_service.clone(),
    };
    if instances.is_empty() {
        return Err(DeployError::Refused(format!(
            "environment {} has no instance in service",
            env.name
        )));
    }
    let request_id = format!("{}-{}", now_unix(), std::process::id());
    let script = logs_script(
        &instances,
        &store.bucket,
        &crate::bucket::logs_prefix(application, &env.name, &request_id),
        request.lines,
    );
    ssm::send_shell_script(
        &aws.ssm,
        &instances,
        &script,
        &format!("beanpole logs {application}/{}", env.name),
        u32::try_from(ANSWER_TIMEOUT.as_secs()).unwrap_or(120),
    )
    .await?;
    let mut answers: BTreeMap<String, InstanceLogs> = BTreeMap::new();
    let mut poller = Poller::new(ANSWER_TIMEOUT, Poll::every(Duration::from_millis(500)));
    loop {
        for instance in &instances {
            if answers.contains_key(instance) {
                continue;
            }
            let Some(answer) = store
                .take_logs(application, &env.name, &request_id, instance)
                .await?
            else {
                continue;
            };
            let logs = match answer {
                Ok(answer) => InstanceLogs {
                    instance: instance.clone(),
                    logs: answer.logs,
                    missing: None,
                },
                Err(e) => InstanceLogs {
                    instance: instance.clone(),
                    logs: BTreeMap::new(),
                    missing: Some(format!("{} is not what the engine writes", e.key)),
                },
            };
            answers.insert(instance.clone(), logs);
        }
        if answers.len() == instances.len() {
            break;
        }
        if !poller.pause().await {
            for instance in &instances {
                answers
                    .entry(instance.clone())
                    .or_insert_with(|| InstanceLogs {
                        instance: instance.clone(),
                        logs: BTreeMap::new(),
                        missing: Some(format!(
                            "no answer within {} s: is the SSM agent running on it?",
                            ANSWER_TIMEOUT.as_secs()
                        )),
                    });
            }
            break;
        }
    }
    Ok(instances.iter().filter_map(|i| answers.remove(i)).collect())
}
