//! SSM Parameter Store: the platform's AMI, from AWS's public Amazon Linux 2023 parameters.

use super::{AwsError, Sdk};
use std::collections::BTreeMap;

/// GetParameters takes at most 10 names.
const NAMES_PER_CALL: usize = 10;

/// The values of the parameters that exist, by name.
pub async fn read_parameters(
    client: &aws_sdk_ssm::Client,
    names: &[String],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut values = BTreeMap::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let out = client
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .op("GetParameters")?;
        for parameter in out.parameters() {
            if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                values.insert(name.to_string(), value.to_string());
            }
        }
    }
    Ok(values)
}

/// Run Command's document for shell scripts, on every Amazon Linux AMI.
pub const SHELL_DOCUMENT: &str = "AWS-RunShellScript";

/// Sends a shell script to instances through Run Command; returns the command id.
pub async fn send_shell_script(
    client: &aws_sdk_ssm::Client,
    instances: &[String],
    lines: &[String],
    comment: &str,
    timeout_secs: u32,
) -> Result<String, AwsError> {
    let out = client
        .send_command()
        .document_name(SHELL_DOCUMENT)
        .set_instance_ids(Some(instances.to_vec()))
        .parameters("commands", lines.to_vec())
        .parameters("executionTimeout", vec![timeout_secs.to_string()])
        .comment(command_comment(comment))
        .timeout_seconds(60)
        .send()
        .await
        .op("SendCommand")?;
    out.command()
        .and_then(|c| c.command_id())
        .map(str::to_string)
        .ok_or_else(|| AwsError::Unexpected("SendCommand returned no command id".into()))
}

/// Run Command keeps a command's comment to 100 characters.
pub fn command_comment(comment: &str) -> String {
    comment.chars().take(100).collect()
}

/// The instances the shell scripts with this comment were sent to: Run Command remembers
/// what was sent, also when the sender died before it wrote anything down.
pub async fn instances_sent(
    client: &aws_sdk_ssm::Client,
    comment: &str,
) -> Result<Vec<String>, AwsError> {
    let comment = command_comment(comment);
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_commands()
            .set_next_token(token)
            .send()
            .await
            .op("ListCommands")?;
        for command in out.commands() {
            if command.comment() == Some(comment.as_str()) {
                found.extend(command.instance_ids().iter().cloned());
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// A shell script sent to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentScript {
    pub command_id: String,
    pub lines: Vec<String>,
}

/// The shell scripts sent to an instance, oldest first (the local fleet runs them).
pub async fn scripts_for_instance(
    client: &aws_sdk_ssm::Client,
    instance: &str,
) -> Result<Vec<SentScript>, AwsError> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_commands()
            .instance_id(instance)
            .set_next_token(token)
            .send()
            .await
            .op("ListCommands")?;
        for command in out.commands() {
            if command.document_name() != Some(SHELL_DOCUMENT) {
                continue;
            }
            let lines = command
                .parameters()
                .and_then(|p| p.get("commands"))
                .cloned()
                .unwrap_or_default();
            if let Some(id) = command.command_id() {
                found.push((
                    command.requested_date_time().map(|t| t.as_nanos()),
                    SentScript {
                        command_id: id.to_string(),
                        lines,
                    },
                ));
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    found.sort_by_key(|(t, _)| *t);
    Ok(found.into_iter().map(|(_, s)| s).collect())
}
