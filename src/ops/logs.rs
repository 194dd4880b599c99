//! `logs`: the last lines of each instance's logs (web process, engine, hooks, proxy, boot),
//! through the command channel: Run Command asks each instance's engine to upload them to the
//! versions bucket, and they are read back from there.

use super::deploy::DeployError;
use super::versions::VersionStore;
use super::{now_unix, Session};
use crate::aws::{autoscaling, s3, ssm};
use crate::graph::ResourceGraph;
use crate::platform::command::logs_script;
use crate::platform::store::logs_prefix;
use crate::spec::Compilation;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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

pub fn logs(
    compilation: &Compilation,
    graph: &ResourceGraph,
    session: &Session,
    request: &LogsRequest,
) -> Result<Vec<InstanceLogs>, DeployError> {
    super::deploy::environment(compilation, &request.environment)?;
    let lookup = super::status::lookups(
        compilation,
        graph,
        std::slice::from_ref(&request.environment),
    )?
    .pop()
    .ok_or_else(|| DeployError::Refused(format!("no environment {}", request.environment)))?;
    let application = lookup.application.clone();
    let store = VersionStore::open(session, &application)?;
    let aws = session.client(&application)?;
    let fleet = session
        .runtime
        .block_on(autoscaling::fleet_view(
            &aws.autoscaling,
            &lookup.auto_scaling_group,
            &application,
            &request.environment,
        ))?
        .filter(|f| f.owned)
        .ok_or_else(|| {
            DeployError::Refused(format!(
                "environment {} has no Auto Scaling group of Beanpole's: run `beanpole apply` first",
                request.environment
            ))
        })?;
    let instances: Vec<String> = match &request.instance {
        Some(id) if fleet.in_service.contains(id) => vec![id.clone()],
        Some(id) => {
            return Err(DeployError::Refused(format!(
                "`--instance {id}`: not an instance in service in {} (it has: {})",
                request.environment,
                if fleet.in_service.is_empty() {
                    "none".to_string()
                } else {
                    fleet.in_service.join(", ")
                }
            )))
        }
        None => fleet.in_service.clone(),
    };
    if instances.is_empty() {
        return Err(DeployError::Refused(format!(
            "environment {} has no instance in service",
            request.environment
        )));
    }
    let request_id = format!("{}-{}", now_unix(), std::process::id());
    let script = logs_script(
        &instances,
        &store.bucket,
        &application,
        &request.environment,
        &request_id,
        request.lines,
    );
    session.runtime.block_on(ssm::send_shell_script(
        &aws.ssm,
        &instances,
        &script,
        &format!("beanpole logs {application}/{}", request.environment),
        u32::try_from(ANSWER_TIMEOUT.as_secs()).unwrap_or(120),
    ))?;
    let prefix = logs_prefix(&application, &request.environment, &request_id);
    let started = Instant::now();
    let mut answers: BTreeMap<String, InstanceLogs> = BTreeMap::new();
    loop {
        for instance in &instances {
            if answers.contains_key(instance) {
                continue;
            }
            let key = format!("{prefix}{instance}.json");
            if let Some(bytes) = session
                .runtime
                .block_on(s3::get(&aws.s3, &store.bucket, &key))?
            {
                let parsed = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                let logs = parsed.as_ref().and_then(|v| v.get("logs")).and_then(|v| {
                    serde_json::from_value::<BTreeMap<String, String>>(v.clone()).ok()
                });
                answers.insert(
                    instance.clone(),
                    match logs {
                        Some(logs) => InstanceLogs {
                            instance: instance.clone(),
                            logs,
                            missing: None,
                        },
                        None => InstanceLogs {
                            instance: instance.clone(),
                            logs: BTreeMap::new(),
                            missing: Some(format!("{key} is not what the engine writes")),
                        },
                    },
                );
                // Read once: the bucket keeps no copy of an instance's logs.
                let _ = session
                    .runtime
                    .block_on(s3::delete(&aws.s3, &store.bucket, &key));
            }
        }
        if answers.len() == instances.len() {
            break;
        }
        if started.elapsed() >= ANSWER_TIMEOUT {
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
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(instances.iter().filter_map(|i| answers.remove(i)).collect())
}
