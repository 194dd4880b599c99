//! EC2 Auto Scaling: the environment's group of instances (its target-tracking policies in
//! `policy`).

pub mod policy;

use super::{int_attr, str_attr, string_list};
use super::{AwsError, ErrorClass, Sdk};
use crate::graph::{ResourceKind, TAG_APPLICATION};
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, Filter, LaunchTemplateSpecification, MetricType, Tag,
};
use aws_sdk_autoscaling::Client;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// DescribeAutoScalingGroups takes at most 100 names.
const NAMES_PER_CALL: usize = 100;

/// Groups with one of `names` or tagged with one of `applications`, and their policies.
pub async fn read(
    client: &Client,
    names: &[String],
    applications: &[String],
) -> Result<Vec<LiveResource>, AwsError> {
    let mut groups: BTreeMap<String, AutoScalingGroup> = BTreeMap::new();
    let mut requests = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        requests.push(
            client
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(chunk.to_vec())),
        );
    }
    if !applications.is_empty() {
        requests.push(
            client.describe_auto_scaling_groups().filters(
                Filter::builder()
                    .name(format!("tag:{TAG_APPLICATION}"))
                    .set_values(Some(applications.to_vec()))
                    .build(),
            ),
        );
    }
    for request in requests {
        let pages = request.into_paginator().send();
        let listed = super::paginated(pages, "DescribeAutoScalingGroups", |page| {
            page.auto_scaling_groups.unwrap_or_default()
        })
        .await?;
        for group in listed {
            if let Some(name) = group.auto_scaling_group_name() {
                groups.insert(name.to_string(), group.clone());
            }
        }
    }
    let mut found = Vec::new();
    let mut owners = BTreeMap::new();
    for (name, group) in &groups {
        let resource = group_resource(name, group);
        owners.insert(
            name.clone(),
            (
                resource.clone(),
                group
                    .auto_scaling_group_arn()
                    .unwrap_or_default()
                    .to_string(),
            ),
        );
        found.push(resource);
    }
    if groups.is_empty() {
        return Ok(found);
    }
    let mut pages = client.describe_policies().into_paginator().send();
    while let Some(page) = pages.next().await {
        for policy in page.op("DescribePolicies")?.scaling_policies() {
            let (Some(group_name), Some(policy_name)) =
                (policy.auto_scaling_group_name(), policy.policy_name())
            else {
                continue;
            };
            let Some((group, group_arn)) = owners.get(group_name) else {
                continue;
            };
            let tracking = policy.target_tracking_configuration();
            let metric = tracking.and_then(|t| t.predefined_metric_specification());
            let mut attributes = BTreeMap::from([
                ("auto_scaling_group_name".to_string(), json!(group_name)),
                (
                    "metric".to_string(),
                    json!(metric
                        .and_then(|m| m.predefined_metric_type())
                        .map(|t| t.as_str())),
                ),
                (
                    "target_value".to_string(),
                    json!(tracking.map(|t| t.target_value())),
                ),
            ]);
            let queue = policy::backlog_queue(tracking);
            if let Some(queue) = &queue {
                attributes.insert(
                    "metric".to_string(),
                    json!(crate::graph::kinds::scaling_policy::BACKLOG_METRIC),
                );
                attributes.insert("queue_name".to_string(), json!(queue));
            }
            if let Some((lb, tg)) = metric
                .and_then(|m| m.resource_label())
                .and_then(|label| policy::arns_of_label(label, group_arn))
            {
                attributes.insert("load_balancer_arn".to_string(), json!(lb));
                attributes.insert("target_group_arn".to_string(), json!(tg));
            }
            // Which of the environment's policies it is, by what it tracks (not by its name).
            let part = match metric.and_then(|m| m.predefined_metric_type()) {
                _ if queue.is_some() => "backlog_scaling_policy",
                Some(MetricType::AlbRequestCountPerTarget) => "request_scaling_policy",
                _ => "cpu_scaling_policy",
            };
            found.push(LiveResource {
                kind: ResourceKind::ScalingPolicy,
                aws_name: policy_name.to_string(),
                owned: group.owned,
                application: group.application.clone(),
                environment: group.environment.clone(),
                address: group.address.as_ref().map(|a| {
                    crate::graph::Address(match a.0.strip_suffix("auto_scaling_group") {
                        Some(prefix) => format!("{prefix}{part}"),
                        None => format!("{a}.{policy_name}"),
                    })
                }),
                attributes,
                outputs: BTreeMap::from([("name".to_string(), json!(policy_name))]),
                tags: BTreeMap::new(),
            });
        }
    }
    Ok(found)
}

fn group_resource(name: &str, group: &AutoScalingGroup) -> LiveResource {
    let template = group.launch_template();
    let mut target_groups: Vec<&str> = group
        .target_group_arns()
        .iter()
        .map(String::as_str)
        .collect();
    target_groups.sort();
    let mut subnets: Vec<&str> = group
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    subnets.sort();
    let attributes = BTreeMap::from([
        (
            "launch_template_id".to_string(),
            json!(template.and_then(|t| t.launch_template_id())),
        ),
        (
            "launch_template_version".to_string(),
            json!(template.and_then(|t| t.version())),
        ),
        ("min_size".to_string(), json!(group.min_size())),
        ("max_size".to_string(), json!(group.max_size())),
        (
            "desired_capacity".to_string(),
            json!(group.desired_capacity()),
        ),
        ("target_group_arns".to_string(), json!(target_groups)),
        (
            "health_check_type".to_string(),
            json!(group.health_check_type()),
        ),
        (
            "health_check_grace_period".to_string(),
            json!(group.health_check_grace_period()),
        ),
        ("subnet_ids".to_string(), json!(subnets)),
    ]);
    let tags = super::tag_map(group.tags().iter().map(|t| (t.key(), t.value())));
    let outputs = BTreeMap::from([
        ("name".to_string(), json!(name)),
        ("arn".to_string(), json!(group.auto_scaling_group_arn())),
    ]);
    LiveResource::from_tags(
        ResourceKind::AutoScalingGroup,
        name,
        tags,
        attributes,
        outputs,
    )
}

fn tag_list(name: &str, tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .build()
        })
        .collect()
}

fn template_of(attributes: &Attributes) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_id(str_attr(attributes, "launch_template_id"))
        .version(str_attr(attributes, "launch_template_version"))
        .build()
}

/// Creates the group (retrying while IAM has not propagated its new instance profile). Its
/// instances are waited for by the step after it (`wait_serving`).
pub async fn create_group(
    aws: &super::Aws,
    name: &str,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    super::retry_while(
        ErrorClass::NotYetPropagated,
        aws.waits.iam_propagation,
        || async {
            aws.autoscaling
                .create_auto_scaling_group()
                .auto_scaling_group_name(name)
                .launch_template(template_of(attributes))
                .set_min_size(int_attr(attributes, "min_size"))
                .set_max_size(int_attr(attributes, "max_size"))
                .set_desired_capacity(int_attr(attributes, "desired_capacity"))
                .set_target_group_arns(Some(string_list(attributes, "target_group_arns")))
                .health_check_type(str_attr(attributes, "health_check_type"))
                .set_health_check_grace_period(int_attr(attributes, "health_check_grace_period"))
                .vpc_zone_identifier(string_list(attributes, "subnet_ids").join(","))
                .set_tags(Some(tag_list(name, tags)))
                .send()
                .await
                .op("CreateAutoScalingGroup")
        },
    )
    .await?;
    // CreateAutoScalingGroup returns nothing; nothing in the graph needs the group's ARN (its
    // policies and records use its name), so it is read with the rest of the state next time
    // instead of costing a call per group here.
    Ok(BTreeMap::from([("name".to_string(), json!(name))]))
}

async fn describe(aws: &super::Aws, name: &str) -> Result<Option<AutoScalingGroup>, AwsError> {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .op("DescribeAutoScalingGroups")?;
    Ok(out.auto_scaling_groups().first().cloned())
}

/// Waits until the tier serves: every target group the group registers into reports at least
/// `desired` healthy targets. (The group's own health status says Healthy during its grace
/// period whatever the load balancer thinks, so it is not enough; and a target group belongs
/// to one environment, so its healthy targets are this group's instances.) One call per
/// target group and poll. Bounded by `Waits::instances`; the timeout names each target that is
/// not healthy and why.
pub async fn wait_serving(
    aws: &super::Aws,
    name: &str,
    desired: i32,
    target_groups: &[String],
) -> Result<(), AwsError> {
    if desired <= 0 || target_groups.is_empty() {
        return Ok(());
    }
    let last_problems = std::sync::Mutex::new(Vec::<String>::new());
    let started = std::time::Instant::now();
    let waited = super::wait_for(
        &format!("Auto Scaling group {name}"),
        "serve through its load balancer",
        aws.waits.instances,
        aws.waits.poll,
        || async {
            let mut health = Vec::new();
            for arn in target_groups {
                health.push((
                    arn.clone(),
                    super::elbv2::target_health(&aws.elbv2, arn).await?,
                ));
            }
            let problems = crate::status::serving_problems(desired as usize, &health);
            let serving = problems.is_empty();
            if let Ok(mut last) = last_problems.lock() {
                *last = problems;
            }
            Ok(serving.then_some(()))
        },
    )
    .await;
    match waited {
        Err(AwsError::Timeout { .. }) => Err(AwsError::NotServing {
            group: name.to_string(),
            waited: started.elapsed(),
            unhealthy: last_problems
                .lock()
                .map(|p| p.join("; "))
                .unwrap_or_default(),
        }),
        other => other,
    }
}

pub async fn update_group(
    aws: &super::Aws,
    name: &str,
    change: &super::Change<'_>,
) -> Result<(), AwsError> {
    let (before, after, old_tags, tags) = change.parts();
    super::retry_while(
        ErrorClass::NotYetPropagated,
        aws.waits.iam_propagation,
        || async {
            aws.autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(name)
                .launch_template(template_of(after))
                .set_min_size(int_attr(after, "min_size"))
                .set_max_size(int_attr(after, "max_size"))
                .set_desired_capacity(int_attr(after, "desired_capacity"))
                .health_check_type(str_attr(after, "health_check_type"))
                .set_health_check_grace_period(int_attr(after, "health_check_grace_period"))
                .vpc_zone_identifier(string_list(after, "subnet_ids").join(","))
                .send()
                .await
                .op("UpdateAutoScalingGroup")
        },
    )
    .await?;
    let have: BTreeSet<String> = string_list(before, "target_group_arns")
        .into_iter()
        .collect();
    let want: BTreeSet<String> = string_list(after, "target_group_arns")
        .into_iter()
        .collect();
    let attach: Vec<String> = want.difference(&have).cloned().collect();
    let detach: Vec<String> = have.difference(&want).cloned().collect();
    if !attach.is_empty() {
        aws.autoscaling
            .attach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(attach))
            .send()
            .await
            .op("AttachLoadBalancerTargetGroups")?;
    }
    if !detach.is_empty() {
        aws.autoscaling
            .detach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(detach))
            .send()
            .await
            .op("DetachLoadBalancerTargetGroups")?;
    }
    super::retag(
        old_tags,
        tags,
        |set| async move {
            aws.autoscaling
                .create_or_update_tags()
                .set_tags(Some(tag_list(name, &set)))
                .send()
                .await
                .op("CreateOrUpdateTags")
                .map(drop)
        },
        |gone| async move {
            aws.autoscaling
                .delete_tags()
                .set_tags(Some(tag_list(name, &gone)))
                .send()
                .await
                .op("DeleteTags")
                .map(drop)
        },
    )
    .await?;
    // The instances this change launches are waited for by the step after it
    // (`StepWork::AwaitReady`), so the scaling policies need not wait.
    Ok(())
}

/// Deletes the group with its instances and waits until it is gone.
pub async fn delete_group(aws: &super::Aws, name: &str) -> Result<(), AwsError> {
    let deleted = super::retry_while(ErrorClass::InUse, aws.waits.dependency, || async {
        aws.autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await
            .op("DeleteAutoScalingGroup")
    })
    .await;
    if super::present(deleted)?.is_none() {
        return Ok(());
    }
    super::wait_for(
        &format!("Auto Scaling group {name}"),
        "disappear with its instances",
        aws.waits.instances,
        aws.waits.poll,
        || async { Ok(describe(aws, name).await?.is_none().then_some(())) },
    )
    .await
}

/// An environment's Auto Scaling group as a deployment sees it: its in-service instances, and whether its
/// tags say Beanpole made it for that application and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    pub name: String,
    pub owned: bool,
    pub in_service: Vec<String>,
    /// Instances launching, terminating or on standby.
    pub other: Vec<(String, String)>,
    pub desired: i32,
    pub max: i32,
    pub launch_template_id: Option<String>,
    /// `$Latest`, `$Default` or a number.
    pub launch_template_version: Option<String>,
    pub subnets: Vec<String>,
}

impl GroupView {
    /// Every instance of the group, in service or not.
    pub fn all_instances(&self) -> Vec<String> {
        let mut all = self.in_service.clone();
        all.extend(self.other.iter().map(|(id, _)| id.clone()));
        all
    }
}

/// The group named `name`, if it exists.
pub async fn group_view(
    client: &Client,
    name: &str,
    application: &str,
    environment: &str,
) -> Result<Option<GroupView>, AwsError> {
    let out = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .op("DescribeAutoScalingGroups")?;
    let Some(group) = out.auto_scaling_groups().first() else {
        return Ok(None);
    };
    let tag = |key: &str| {
        group
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    let owned = tag(TAG_APPLICATION).as_deref() == Some(application)
        && tag(crate::graph::TAG_ENVIRONMENT).as_deref() == Some(environment);
    let mut in_service = Vec::new();
    let mut other = Vec::new();
    for instance in group.instances() {
        let id = instance.instance_id().unwrap_or_default().to_string();
        let state = instance
            .lifecycle_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if state == "InService" {
            in_service.push(id);
        } else {
            other.push((id, state));
        }
    }
    Ok(Some(GroupView {
        name: name.to_string(),
        owned,
        in_service,
        other,
        desired: group.desired_capacity().unwrap_or(0),
        max: group.max_size().unwrap_or(0),
        launch_template_id: group
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .map(str::to_string),
        launch_template_version: group
            .launch_template()
            .and_then(|t| t.version())
            .map(str::to_string),
        subnets: group
            .vpc_zone_identifier()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    }))
}

/// A group of an application as the local fleet sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedGroup {
    pub name: String,
    pub environment: String,
    pub in_service: Vec<String>,
    pub launch_template: Option<String>,
    /// `$Latest`, `$Default` or a number.
    pub launch_template_version: Option<String>,
}

/// Every group tagged with `application`, as DescribeAutoScalingGroups gives them.
async fn groups_tagged(
    client: &Client,
    application: &str,
) -> Result<Vec<AutoScalingGroup>, AwsError> {
    let pages = client
        .describe_auto_scaling_groups()
        .filters(
            Filter::builder()
                .name(format!("tag:{TAG_APPLICATION}"))
                .values(application)
                .build(),
        )
        .into_paginator()
        .send();
    super::paginated(pages, "DescribeAutoScalingGroups", |page| {
        page.auto_scaling_groups.unwrap_or_default()
    })
    .await
}

/// Every group tagged with `application`.
pub async fn application_groups(
    client: &Client,
    application: &str,
) -> Result<Vec<TaggedGroup>, AwsError> {
    let mut found = Vec::new();
    for group in &groups_tagged(client, application).await? {
        let environment = group
            .tags()
            .iter()
            .find(|t| t.key() == Some(crate::graph::TAG_ENVIRONMENT))
            .and_then(|t| t.value())
            .unwrap_or_default()
            .to_string();
        let in_service = group
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        found.push(TaggedGroup {
            name: group
                .auto_scaling_group_name()
                .unwrap_or_default()
                .to_string(),
            environment,
            in_service,
            launch_template: group
                .launch_template()
                .and_then(|t| t.launch_template_id())
                .map(str::to_string),
            launch_template_version: group
                .launch_template()
                .and_then(|t| t.version())
                .map(str::to_string),
        });
    }
    Ok(found)
}

/// Sets a group's desired capacity and maximum (a deploy's extra batch; put back after).
pub async fn set_capacity(
    client: &Client,
    name: &str,
    desired: i32,
    max: i32,
) -> Result<(), AwsError> {
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(name)
        .max_size(max)
        .desired_capacity(desired)
        .send()
        .await
        .op("UpdateAutoScalingGroup")
        .map(|_| ())
}

/// Takes instances out of their group in one call (at most 20 per call), lowering its desired
/// capacity by as many; they keep running until terminated. (One call for all: a group told
/// of each departure separately may put the others back into its target groups.)
pub async fn detach(client: &Client, group: &str, instances: &[String]) -> Result<(), AwsError> {
    for chunk in instances.chunks(20) {
        client
            .detach_instances()
            .auto_scaling_group_name(group)
            .set_instance_ids(Some(chunk.to_vec()))
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .op("DetachInstances")?;
    }
    Ok(())
}

/// Creates a deployment's temporary group: the environment group's launch template and
/// subnets, no target group (the deployment registers its instances once they serve), `desired`
/// instances of at most `max`.
pub async fn create_temporary_group(
    client: &Client,
    name: &str,
    like: &GroupView,
    desired: i32,
    max: i32,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    client
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .set_launch_template_id(like.launch_template_id.clone())
                .set_version(like.launch_template_version.clone())
                .build(),
        )
        .min_size(0)
        .max_size(max)
        .desired_capacity(desired)
        .vpc_zone_identifier(like.subnets.join(","))
        .set_tags(Some(tag_list(name, tags)))
        .send()
        .await
        .op("CreateAutoScalingGroup")
        .map(|_| ())
}

/// Moves instances from one group to another: out of `from` (which shrinks by as many), into
/// `to` (which grows by as many; its maximum must leave room).
pub async fn move_instances(
    client: &Client,
    from: &str,
    to: &str,
    instances: &[String],
) -> Result<(), AwsError> {
    client
        .detach_instances()
        .auto_scaling_group_name(from)
        .set_instance_ids(Some(instances.to_vec()))
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .op("DetachInstances")?;
    client
        .attach_instances()
        .auto_scaling_group_name(to)
        .set_instance_ids(Some(instances.to_vec()))
        .send()
        .await
        .op("AttachInstances")
        .map(|_| ())
}

/// A deployment's temporary group that is still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryGroup {
    pub name: String,
    pub instances: Vec<String>,
}

/// The temporary groups of an environment's deployments (by their tags: Beanpole's, the
/// application's, the environment's and a deployment's).
pub async fn temporary_groups(
    client: &Client,
    application: &str,
    environment: &str,
) -> Result<Vec<TemporaryGroup>, AwsError> {
    let mut found = Vec::new();
    for group in &groups_tagged(client, application).await? {
        let tag = |key: &str| {
            group
                .tags()
                .iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| t.value())
        };
        let ours = tag(crate::graph::TAG_MANAGED_BY) == Some(crate::graph::MANAGED_BY_VALUE)
            && tag(crate::graph::TAG_ENVIRONMENT) == Some(environment)
            && tag(crate::graph::TAG_DEPLOYMENT).is_some_and(|d| d.parse::<u64>().is_ok());
        if !ours {
            continue;
        }
        found.push(TemporaryGroup {
            name: group
                .auto_scaling_group_name()
                .unwrap_or_default()
                .to_string(),
            instances: group
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect(),
        });
    }
    Ok(found)
}
