//! CloudFormation: the stacks of extra resources. Read (by name and by Beanpole's tags), a
//! change set per change (named after what it changes, so `plan` creates it and `apply` finds
//! and executes the same one), executions and deletions followed to their end (each of the
//! stack's events passed on as it is recorded, when someone listens), and a failure reported
//! with the resources CloudFormation names and their reasons.

use super::{present, Aws, AwsError, Sdk};
use crate::graph::{MANAGED_BY_VALUE, TAG_APPLICATION, TAG_MANAGED_BY};
use crate::reconcile::stacks::{flag, ChangeSet, PropertyDifference, ResourceDrift};
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, ExecutionStatus, Parameter, StackStatus, Tag,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

/// One event of a stack's change as CloudFormation records it: a resource (or the stack
/// itself) reaching a status.
#[derive(Debug, Clone, PartialEq)]
pub struct StackEvent {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

/// Where the events of a step's stack go as they are recorded: the step's label, and the
/// channel its walk reads.
#[derive(Debug, Clone)]
pub struct StackEventSink {
    pub label: String,
    pub sender: tokio::sync::mpsc::UnboundedSender<(String, StackEvent)>,
}

/// Follows one stack's events from the moment it starts: each later one is sent to the sink
/// once, oldest first. Progress only: a failed read skips a pass and never fails the change.
struct Follower<'a> {
    aws: &'a Aws,
    sink: &'a StackEventSink,
    /// The stack's id once known (its events stay readable by id after it is deleted).
    stack: Mutex<String>,
    seen: Mutex<HashSet<String>>,
}

impl<'a> Follower<'a> {
    /// `None` when nobody listens.
    async fn start(aws: &'a Aws, stack: &str) -> Option<Follower<'a>> {
        let sink = aws.stack_events.as_ref()?;
        let follower = Follower {
            aws,
            sink,
            stack: Mutex::new(stack.to_string()),
            seen: Mutex::new(HashSet::new()),
        };
        // What is recorded already is not this change's.
        let _ = follower.fresh().await;
        Some(follower)
    }

    /// The events recorded since the last pass, oldest first, marked seen (newest first from
    /// CloudFormation: read until one already seen).
    async fn fresh(&self) -> Result<Vec<StackEvent>, AwsError> {
        let stack = self.stack.lock().map(|s| s.clone()).unwrap_or_default();
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        let mut stack_id = None;
        'pages: loop {
            let page = self
                .aws
                .cloudformation
                .describe_stack_events()
                .stack_name(&stack)
                .set_next_token(token.take())
                .send()
                .await
                .op("DescribeStackEvents")?;
            let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
            for e in page.stack_events() {
                stack_id = stack_id.or_else(|| e.stack_id().map(str::to_string));
                let id = e.event_id().unwrap_or_default().to_string();
                if seen.contains(&id) {
                    break 'pages;
                }
                fresh.push((id, e.clone()));
            }
            match page.next_token() {
                Some(next) if !seen.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        if let (Some(id), Ok(mut stack)) = (stack_id, self.stack.lock()) {
            *stack = id;
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.extend(fresh.iter().map(|(id, _)| id.clone()));
        }
        Ok(fresh
            .into_iter()
            .rev()
            .map(|(_, e)| StackEvent {
                logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: e.resource_type().unwrap_or_default().to_string(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: e.resource_status_reason().map(str::to_string),
            })
            .collect())
    }

    /// Sends what is new.
    async fn pass(&self) {
        for event in self.fresh().await.unwrap_or_default() {
            let _ = self.sink.sender.send((self.sink.label.clone(), event));
        }
    }
}

/// CloudFormation says "does not exist" for a stack or change set it does not have, with
/// `ValidationError`: absent, not an error.
fn missing<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Err(AwsError::Api { code, message, .. })
            if code.as_deref() == Some("ValidationError") && message.contains("does not exist") =>
        {
            Ok(None)
        }
        other => present(other),
    }
}

fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The stacks named, and every stack Beanpole tagged for one of `applications` (a deleted one
/// is not there; one only reviewed, `REVIEW_IN_PROGRESS`, is, with no template); their
/// templates read at once.
pub async fn read_stacks(
    aws: &Aws,
    names: &[String],
    applications: &[String],
) -> Result<Vec<LiveResource>, AwsError> {
    let pages = aws.cloudformation.describe_stacks().into_paginator().send();
    let stacks = super::paginated(pages, "DescribeStacks", |page| {
        page.stacks.unwrap_or_default()
    })
    .await?;
    let wanted = stacks.into_iter().filter(|stack| {
        let name = stack.stack_name().unwrap_or_default();
        let tags = super::tag_map(stack.tags().iter().map(|t| (t.key(), t.value())));
        let ours = tags.get(TAG_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && tags
                .get(TAG_APPLICATION)
                .is_some_and(|a| applications.contains(a));
        (names.iter().any(|n| n == name) || ours)
            && stack.stack_status() != Some(&StackStatus::DeleteComplete)
    });
    futures::future::try_join_all(wanted.map(|stack| live(aws, stack, true)))
        .await
        .map(|found| found.into_iter().collect())
}

/// The stack named, read by its name (`with_template`: also its template, one more call);
/// `None` when there is none.
pub async fn read_stack(
    aws: &Aws,
    name: &str,
    with_template: bool,
) -> Result<Option<LiveResource>, AwsError> {
    let out = aws
        .cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .op("DescribeStacks");
    let Some(stack) = missing(out)?.and_then(|o| o.stacks.unwrap_or_default().into_iter().next())
    else {
        return Ok(None);
    };
    if stack.stack_status() == Some(&StackStatus::DeleteComplete) {
        return Ok(None);
    }
    live(aws, stack, with_template).await.map(Some)
}

/// A stack as the plan sees it: its template (unless not asked for), parameters, outputs,
/// status and id, and whose it is by its tags.
async fn live(
    aws: &Aws,
    stack: aws_sdk_cloudformation::types::Stack,
    with_template: bool,
) -> Result<LiveResource, AwsError> {
    let name = stack.stack_name().unwrap_or_default().to_string();
    let tag_map = super::tag_map(stack.tags().iter().map(|t| (t.key(), t.value())));
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let mut outputs = Attributes::new();
    outputs.insert("id".into(), json!(stack.stack_id().unwrap_or_default()));
    outputs.insert("status".into(), json!(status));
    for o in stack.outputs() {
        if let (Some(k), Some(v)) = (o.output_key(), o.output_value()) {
            outputs.insert(k.to_string(), json!(v));
        }
    }
    // A stack whose creation rolled back holds nothing: its template is no longer what it
    // is, so the plan changes it (and the change deletes it and creates it again). A stack
    // only reviewed (a plan's change set never executed) holds nothing yet.
    let holds_nothing = status == "ROLLBACK_COMPLETE" || status == "REVIEW_IN_PROGRESS";
    let template = if holds_nothing || !with_template {
        Value::Null
    } else {
        template(aws, &name).await?
    };
    let mut attributes = BTreeMap::from([("template".to_string(), template)]);
    let parameters: serde_json::Map<String, Value> = stack
        .parameters()
        .iter()
        .filter_map(|p| Some((p.parameter_key()?.to_string(), json!(p.parameter_value()?))))
        .collect();
    if !parameters.is_empty() {
        attributes.insert("parameters".to_string(), Value::Object(parameters));
    }
    Ok(LiveResource::from_tags(
        crate::graph::ResourceKind::Stack,
        &name,
        tag_map,
        attributes,
        outputs,
    ))
}

/// The stack's current template, as JSON (what Beanpole wrote).
async fn template(aws: &Aws, name: &str) -> Result<Value, AwsError> {
    let out = aws
        .cloudformation
        .get_template()
        .stack_name(name)
        .send()
        .await
        .op("GetTemplate")?;
    Ok(out
        .template_body()
        .and_then(|body| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null))
}

/// The change set that brings `stack` to `template` with `tags`: the one already there for
/// exactly that (its name is a hash of them), else a new one. `creates`: the stack does not
/// exist yet. `before`: the stack's template now, for what the change set does not say.
pub async fn change_set(
    aws: &Aws,
    stack: &str,
    to: &Desired<'_>,
    creates: bool,
    before: &Value,
) -> Result<ChangeSet, AwsError> {
    let body = serde_json::to_string(&to.template).unwrap_or_default();
    let name = format!(
        "beanpole-{}",
        crate::graph::names::short_hash(&format!(
            "{body}\u{0}{}\u{0}{}\u{0}{creates}",
            serde_json::to_string(&to.tags).unwrap_or_default(),
            serde_json::to_string(&to.parameters).unwrap_or_default()
        ))
    );
    let existing = describe(aws, stack, &name).await?;
    let described = match existing {
        Some(d) if d.execution_status != "EXECUTE_COMPLETE" && d.execution_status != "OBSOLETE" => {
            d
        }
        _ => {
            aws.cloudformation
                .create_change_set()
                .stack_name(stack)
                .change_set_name(&name)
                .change_set_type(if creates {
                    ChangeSetType::Create
                } else {
                    ChangeSetType::Update
                })
                .template_body(&body)
                .set_tags(Some(self::tags(to.tags)))
                .set_parameters(Some(
                    to.parameters
                        .iter()
                        .map(|(k, v)| {
                            Parameter::builder()
                                .parameter_key(k)
                                .parameter_value(v)
                                .build()
                        })
                        .collect(),
                ))
                // The CloudFormation engine's stacks name their instance role.
                .capabilities(Capability::CapabilityNamedIam)
                .send()
                .await
                .op("CreateChangeSet")?;
            super::wait_for(
                &format!("change set {name} of stack {stack}"),
                "be created",
                aws.waits.dependency,
                aws.waits.poll,
                || async {
                    let d = describe(aws, stack, &name).await?;
                    Ok(d.filter(|d| {
                        d.status != "CREATE_PENDING" && d.status != "CREATE_IN_PROGRESS"
                    }))
                },
            )
            .await?
        }
    };
    if described.status == "FAILED" && !described.reason.contains("didn't contain changes") {
        return Err(AwsError::Unexpected(format!(
            "CloudFormation refused the change set of stack {stack}: {}",
            described.reason
        )));
    }
    let changes = described
        .changes
        .iter()
        .map(|(action, resource, type_name, replacement)| {
            flag(
                action,
                resource,
                type_name,
                replacement.as_deref(),
                before,
                &to.template,
            )
        })
        .collect();
    Ok(ChangeSet {
        id: described.id,
        name,
        changes: if described.status == "FAILED" {
            Vec::new()
        } else {
            changes
        },
    })
}

struct Described {
    id: String,
    status: String,
    reason: String,
    execution_status: String,
    /// (action, logical id, type, replacement)
    changes: Vec<(String, String, String, Option<String>)>,
}

async fn describe(aws: &Aws, stack: &str, name: &str) -> Result<Option<Described>, AwsError> {
    let out = aws
        .cloudformation
        .describe_change_set()
        .stack_name(stack)
        .change_set_name(name)
        .send()
        .await
        .op("DescribeChangeSet");
    let out = match out {
        Ok(out) => out,
        Err(e) => return missing::<()>(Err(e)).map(|_| None),
    };
    Ok(Some(Described {
        id: out.change_set_id().unwrap_or_default().to_string(),
        status: out
            .status()
            .map(ChangeSetStatus::as_str)
            .unwrap_or_default()
            .to_string(),
        reason: out.status_reason().unwrap_or_default().to_string(),
        execution_status: out
            .execution_status()
            .map(ExecutionStatus::as_str)
            .unwrap_or_default()
            .to_string(),
        changes: out
            .changes()
            .iter()
            .filter_map(|c| c.resource_change())
            .map(|r| {
                (
                    r.action()
                        .map(|a| a.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    r.logical_resource_id().unwrap_or_default().to_string(),
                    r.resource_type().unwrap_or_default().to_string(),
                    r.replacement().map(|x| x.as_str().to_string()),
                )
            })
            .collect(),
    }))
}

/// Brings `stack` to `template`: its change set (the plan's, when the plan made one for exactly
/// this) executed and followed to its end. Returns the stack's outputs.
pub async fn converge(
    aws: &Aws,
    stack: &str,
    to: &Desired<'_>,
    creates: bool,
    before: &Value,
) -> Result<Attributes, AwsError> {
    if !creates {
        // A change still under way (an apply that was stopped, CloudFormation going on
        // without it) ends first.
        settle_quietly(aws, stack).await?;
    }
    let set = change_set(aws, stack, to, creates, before).await?;
    if !creates && set.changes.is_empty() {
        // Nothing for CloudFormation to do (a change of tags alone is in the set too).
        return outputs(aws, stack).await;
    }
    let follower = Follower::start(aws, stack).await;
    aws.cloudformation
        .execute_change_set()
        .stack_name(stack)
        .change_set_name(&set.name)
        .send()
        .await
        .op("ExecuteChangeSet")?;
    settle(aws, stack, false, follower.as_ref()).await?;
    outputs(aws, stack).await
}

/// Waits until `stack` is not in progress, whatever it ends as.
async fn settle_quietly(aws: &Aws, stack: &str) -> Result<(), AwsError> {
    let busy = |status: &str| status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS";
    let now = read_stack(aws, stack, false).await?;
    let in_progress = now
        .as_ref()
        .and_then(|s| s.outputs.get("status"))
        .and_then(Value::as_str)
        .is_some_and(busy);
    if in_progress {
        let _ = settle(aws, stack, false, None).await;
    }
    Ok(())
}

/// What a stack is brought to: its template, parameters and tags.
pub struct Desired<'a> {
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
}

impl<'a> Desired<'a> {
    /// From a stack node's resolved attributes (a parameter's list value joined with commas,
    /// as CloudFormation takes it).
    pub fn of(attributes: &Attributes, tags: &'a BTreeMap<String, String>) -> Desired<'a> {
        let parameters = attributes
            .get("parameters")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            Value::Array(items) => items
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(","),
                            other => other.to_string(),
                        };
                        (k.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Desired {
            template: attributes.get("template").cloned().unwrap_or(Value::Null),
            parameters,
            tags,
        }
    }
}

/// The stack's outputs and id, as the plan knows them.
async fn outputs(aws: &Aws, stack: &str) -> Result<Attributes, AwsError> {
    let found = read_stack(aws, stack, false).await?.ok_or_else(|| {
        AwsError::Unexpected(format!("stack {stack} is not there after its change"))
    })?;
    Ok(found.outputs)
}

/// Waits until `stack` is no longer in progress; an end that is not the one asked for is an
/// error naming each resource CloudFormation failed and why, and what it rolled back to.
async fn settle(
    aws: &Aws,
    stack: &str,
    deleting: bool,
    follower: Option<&Follower<'_>>,
) -> Result<(), AwsError> {
    let status = super::wait_for(
        &format!("stack {stack}"),
        "finish its change",
        aws.waits.dependency,
        aws.waits.poll,
        || async {
            if let Some(follower) = follower {
                follower.pass().await;
            }
            let out = aws
                .cloudformation
                .describe_stacks()
                .stack_name(stack)
                .send()
                .await
                .op("DescribeStacks");
            let status = match missing(out.map(|o| {
                json!(o
                    .stacks()
                    .first()
                    .and_then(|s| s.stack_status())
                    .map(StackStatus::as_str)
                    .unwrap_or_default())
            }))? {
                None => return Ok(Some("DELETE_COMPLETE".to_string())),
                Some(s) => s.as_str().unwrap_or_default().to_string(),
            };
            Ok((!status.ends_with("_IN_PROGRESS")).then_some(status))
        },
    )
    .await?;
    if let Some(follower) = follower {
        follower.pass().await;
    }
    let good = if deleting {
        status == "DELETE_COMPLETE"
    } else {
        status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE"
    };
    if good {
        return Ok(());
    }
    let reasons = failures(aws, stack).await.unwrap_or_default();
    let then = match status.as_str() {
        "ROLLBACK_COMPLETE" => "CloudFormation rolled the creation back (ROLLBACK_COMPLETE): fix the resource and run apply again, which deletes the empty stack and creates it anew",
        "UPDATE_ROLLBACK_COMPLETE" => "CloudFormation rolled the update back: the stack is as before; fix the resource and run apply again",
        "UPDATE_ROLLBACK_FAILED" => "CloudFormation could not roll the update back (UPDATE_ROLLBACK_FAILED): fix what it names, then `aws cloudformation continue-update-rollback --stack-name` the stack, and run apply again",
        _ => "run apply again once the cause is fixed",
    };
    Err(AwsError::Unexpected(format!(
        "stack {stack} ended {status}: {}; {then}",
        if reasons.is_empty() {
            "CloudFormation named no failing resource".to_string()
        } else {
            reasons.join("; ")
        }
    )))
}

/// `orders (AWS::DynamoDB::Table): reason` for each resource the stack's events say failed.
async fn failures(aws: &Aws, stack: &str) -> Result<Vec<String>, AwsError> {
    let pages = aws
        .cloudformation
        .describe_stack_events()
        .stack_name(stack)
        .into_paginator()
        .send();
    let events = super::paginated(pages, "DescribeStackEvents", |p| {
        p.stack_events.unwrap_or_default()
    })
    .await?;
    let mut reasons: Vec<String> = events
        .iter()
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
                && e.logical_resource_id() != Some(stack)
        })
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or_default(),
                e.resource_type().unwrap_or_default(),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
        .collect();
    reasons.dedup();
    Ok(reasons)
}

/// CloudFormation's drift detection of `stack`, followed to its end: the resources it found
/// changed or deleted outside CloudFormation.
pub async fn drift(aws: &Aws, stack: &str) -> Result<Vec<ResourceDrift>, AwsError> {
    use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};
    let detection = aws
        .cloudformation
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .op("DetectStackDrift")?
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_string();
    super::wait_for(
        &format!("stack {stack}"),
        "finish its drift detection",
        aws.waits.dependency,
        aws.waits.poll,
        || async {
            let status = aws
                .cloudformation
                .describe_stack_drift_detection_status()
                .stack_drift_detection_id(&detection)
                .send()
                .await
                .op("DescribeStackDriftDetectionStatus")?;
            match status.detection_status() {
                Some(StackDriftDetectionStatus::DetectionInProgress) => Ok(None),
                Some(StackDriftDetectionStatus::DetectionComplete) => Ok(Some(())),
                other => Err(AwsError::Unexpected(format!(
                    "drift detection of stack {stack} ended {}: {}",
                    other.map(|s| s.as_str()).unwrap_or("without a status"),
                    status
                        .detection_status_reason()
                        .unwrap_or("no reason given")
                ))),
            }
        },
    )
    .await?;
    let pages = aws
        .cloudformation
        .describe_stack_resource_drifts()
        .stack_name(stack)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
        .into_paginator()
        .send();
    super::paginated(pages, "DescribeStackResourceDrifts", |page| {
        page.stack_resource_drifts()
            .iter()
            .map(|d| ResourceDrift {
                resource: d.logical_resource_id().unwrap_or_default().to_string(),
                type_name: d.resource_type().unwrap_or_default().to_string(),
                status: d
                    .stack_resource_drift_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                differences: d
                    .property_differences()
                    .iter()
                    .map(|p| PropertyDifference {
                        property: p.property_path().unwrap_or_default().to_string(),
                        expected: p.expected_value().map(str::to_string),
                        actual: p.actual_value().map(str::to_string),
                    })
                    .collect(),
            })
            .collect()
    })
    .await
}

/// Deletes an owned stack and waits for it to go. Its resources that hold data are kept
/// (their `DeletionPolicy`) unless `delete_data`, when the stack is first updated to delete
/// them too.
pub async fn delete(aws: &Aws, live: &LiveResource, delete_data: bool) -> Result<(), AwsError> {
    let stack = &live.aws_name;
    let template = live
        .attributes
        .get("template")
        .cloned()
        .unwrap_or(Value::Null);
    if delete_data && !crate::graph::stacks::retained(&template).is_empty() {
        let mut to = Desired::of(&live.attributes, &live.tags);
        to.template = crate::graph::stacks::without_retention(&template);
        converge(aws, stack, &to, false, &template).await?;
    }
    let follower = Follower::start(aws, stack).await;
    let deleted = aws
        .cloudformation
        .delete_stack()
        .stack_name(stack)
        .send()
        .await
        .op("DeleteStack");
    match missing(deleted.map(|_| Value::Null)) {
        Ok(None) => return Ok(()),
        Ok(Some(_)) => {}
        Err(e) => return Err(e),
    }
    settle(aws, stack, true, follower.as_ref()).await
}

/// Deletes a stack whose creation rolled back, so that it can be created again.
pub async fn delete_rolled_back(aws: &Aws, stack: &str) -> Result<(), AwsError> {
    let follower = Follower::start(aws, stack).await;
    aws.cloudformation
        .delete_stack()
        .stack_name(stack)
        .send()
        .await
        .op("DeleteStack")?;
    settle(aws, stack, true, follower.as_ref()).await
}
