//! What deployments do with a load balancer's targets: target health, instances in and out
//! of a target group, a deployment's temporary target group, and the weighted forwarding of a
//! traffic-splitting deployment.

use super::super::{AwsError, Sdk};
use super::{looks_like_ours, tag_list, target_groups, TAGS_PER_CALL};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};
use aws_sdk_elasticloadbalancingv2::Client;
use std::collections::BTreeMap;

/// How the target group sees each registered target.
pub async fn target_health(
    client: &Client,
    arn: &str,
) -> Result<Vec<crate::status::Target>, AwsError> {
    let out = client
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .op("DescribeTargetHealth")?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .map(|d| crate::status::Target {
            id: d
                .target()
                .and_then(|t| t.id())
                .unwrap_or_default()
                .to_string(),
            state: d
                .target_health()
                .and_then(|h| h.state())
                .map(|s| crate::status::TargetState::parse(s.as_str()))
                .unwrap_or(crate::status::TargetState::Unknown),
            description: d
                .target_health()
                .and_then(|h| h.description())
                .map(str::to_string),
        })
        .collect())
}

/// The ARN of the target group named `name`, if there is one.
pub async fn target_group_arn(client: &Client, name: &str) -> Result<Option<String>, AwsError> {
    let listed = client
        .describe_target_groups()
        .names(name)
        .send()
        .await
        .op("DescribeTargetGroups");
    Ok(crate::aws::present(listed)?.and_then(|out| {
        out.target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .map(str::to_string)
    }))
}

fn instance_targets(
    instances: &[String],
) -> Vec<aws_sdk_elasticloadbalancingv2::types::TargetDescription> {
    instances
        .iter()
        .map(|id| {
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id(id)
                .build()
        })
        .collect()
}

/// Takes instances out of the target group (the load balancer stops sending them new
/// requests; those in flight drain for the group's deregistration delay).
pub async fn deregister(client: &Client, arn: &str, instances: &[String]) -> Result<(), AwsError> {
    client
        .deregister_targets()
        .target_group_arn(arn)
        .set_targets(Some(instance_targets(instances)))
        .send()
        .await
        .op("DeregisterTargets")
        .map(|_| ())
}

/// Puts instances (back) into the target group.
pub async fn register(client: &Client, arn: &str, instances: &[String]) -> Result<(), AwsError> {
    client
        .register_targets()
        .target_group_arn(arn)
        .set_targets(Some(instance_targets(instances)))
        .send()
        .await
        .op("RegisterTargets")
        .map(|_| ())
}

/// Creates a deployment's temporary target group with the settings of `like` (port,
/// protocol, VPC, health check); its ARN.
pub async fn create_temporary_target_group(
    client: &Client,
    name: &str,
    like: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String, AwsError> {
    let out = client
        .describe_target_groups()
        .target_group_arns(like)
        .send()
        .await
        .op("DescribeTargetGroups")?;
    let model = out
        .target_groups()
        .first()
        .ok_or_else(|| AwsError::Unexpected(format!("the target group {like} is gone")))?;
    let created = client
        .create_target_group()
        .name(name)
        .set_vpc_id(model.vpc_id().map(str::to_string))
        .set_port(model.port())
        .set_protocol(model.protocol().cloned())
        .set_target_type(model.target_type().cloned())
        .set_health_check_path(model.health_check_path().map(str::to_string))
        .set_health_check_interval_seconds(model.health_check_interval_seconds())
        .set_health_check_timeout_seconds(model.health_check_timeout_seconds())
        .set_healthy_threshold_count(model.healthy_threshold_count())
        .set_unhealthy_threshold_count(model.unhealthy_threshold_count())
        .set_matcher(model.matcher().cloned())
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .op("CreateTargetGroup")?;
    created
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .map(str::to_string)
        .ok_or_else(|| AwsError::Unexpected("CreateTargetGroup returned no target group".into()))
}

/// The listeners whose default action forwards to `target_group` (alone or weighted), on
/// the load balancers it serves.
pub async fn forwarding_listeners(
    client: &Client,
    target_group: &str,
) -> Result<Vec<String>, AwsError> {
    let out = client
        .describe_target_groups()
        .target_group_arns(target_group)
        .send()
        .await
        .op("DescribeTargetGroups")?;
    let balancers: Vec<String> = out
        .target_groups()
        .iter()
        .flat_map(|t| t.load_balancer_arns().iter().cloned())
        .collect();
    let mut found = Vec::new();
    for balancer in balancers {
        let listeners = client
            .describe_listeners()
            .load_balancer_arn(&balancer)
            .send()
            .await
            .op("DescribeListeners")?;
        for listener in listeners.listeners() {
            let forwards = listener.default_actions().iter().any(|a| {
                a.target_group_arn() == Some(target_group)
                    || a.forward_config().is_some_and(|f| {
                        f.target_groups()
                            .iter()
                            .any(|t| t.target_group_arn() == Some(target_group))
                    })
            });
            if let (true, Some(arn)) = (forwards, listener.listener_arn()) {
                found.push(arn.to_string());
            }
        }
    }
    Ok(found)
}

/// Sets a listener's default action to forward to target groups by weight; a single group
/// with all the weight is a plain forward (as the spec's listener has it).
pub async fn forward_weighted(
    client: &Client,
    listener: &str,
    weights: &[(String, i32)],
) -> Result<(), AwsError> {
    use aws_sdk_elasticloadbalancingv2::types::{ForwardActionConfig, TargetGroupTuple};
    let live: Vec<&(String, i32)> = weights.iter().filter(|(_, w)| *w > 0).collect();
    let action = match live.as_slice() {
        [(only, _)] => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(only)
            .build(),
        _ => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .set_target_groups(Some(
                        weights
                            .iter()
                            .map(|(arn, weight)| {
                                TargetGroupTuple::builder()
                                    .target_group_arn(arn)
                                    .weight(*weight)
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            )
            .build(),
    };
    client
        .modify_listener()
        .listener_arn(listener)
        .default_actions(action)
        .send()
        .await
        .op("ModifyListener")
        .map(|_| ())
}

/// The temporary target groups of an environment's deployments (by their tags); their ARNs.
pub async fn temporary_target_groups(
    client: &Client,
    application: &str,
    environment: &str,
) -> Result<Vec<String>, AwsError> {
    let arns: Vec<String> = target_groups(client, looks_like_ours)
        .await?
        .iter()
        .filter_map(|tg| tg.target_group_arn().map(str::to_string))
        .collect();
    let mut found = Vec::new();
    for chunk in arns.chunks(TAGS_PER_CALL) {
        let out = client
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .op("DescribeTags")?;
        for description in out.tag_descriptions() {
            let tags = crate::aws::tag_map(description.tags().iter().map(|t| (t.key(), t.value())));
            let get = |k: &str| tags.get(k).map(String::as_str);
            if get(crate::graph::TAG_MANAGED_BY) == Some(crate::graph::MANAGED_BY_VALUE)
                && get(crate::graph::TAG_APPLICATION) == Some(application)
                && get(crate::graph::TAG_ENVIRONMENT) == Some(environment)
                && get(crate::graph::TAG_DEPLOYMENT).is_some()
            {
                found.extend(description.resource_arn().map(str::to_string));
            }
        }
    }
    Ok(found)
}
