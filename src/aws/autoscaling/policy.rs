//! Target-tracking scaling policies of an environment's group: on CPU, on requests per
//! target (its load balancer and target group named by a resource label), and a worker's on
//! its queue's backlog per instance (metric math).

use super::super::{already_gone, str_attr, AwsError, Sdk};
use crate::reconcile::Attributes;
use aws_sdk_autoscaling::types::{
    MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
};
use aws_sdk_autoscaling::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `app/LB/ID/targetgroup/TG/ID` back to the two ARNs, in the group ARN's partition, region
/// and account.
pub(super) fn arns_of_label(label: &str, group_arn: &str) -> Option<(String, String)> {
    let (lb_part, tg_part) = label.split_once("/targetgroup/")?;
    let mut fields = group_arn.split(':');
    let (_, partition, _, region, account) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let prefix = format!("arn:{partition}:elasticloadbalancing:{region}:{account}");
    Some((
        format!("{prefix}:loadbalancer/{lb_part}"),
        format!("{prefix}:targetgroup/{tg_part}"),
    ))
}

/// The resource label target tracking on request count needs, from the two ARNs.
fn label_of(lb_arn: &str, tg_arn: &str) -> Option<String> {
    let lb = lb_arn.split_once(":loadbalancer/")?.1;
    let tg = tg_arn.split_once(":targetgroup/")?.1;
    Some(format!("{lb}/targetgroup/{tg}"))
}

/// Creates or updates a target-tracking policy (PutScalingPolicy does both).
pub async fn put_policy(
    client: &Client,
    name: &str,
    attributes: &Attributes,
) -> Result<Attributes, AwsError> {
    let metric = str_attr(attributes, "metric");
    if metric == crate::graph::kinds::scaling_policy::BACKLOG_METRIC {
        return put_backlog_policy(client, name, attributes).await;
    }
    let mut specification =
        PredefinedMetricSpecification::builder().predefined_metric_type(MetricType::from(metric));
    if let (Some(lb), Some(tg)) = (
        attributes.get("load_balancer_arn").and_then(Value::as_str),
        attributes.get("target_group_arn").and_then(Value::as_str),
    ) {
        specification = specification.set_resource_label(label_of(lb, tg));
    }
    let configuration = TargetTrackingConfiguration::builder()
        .predefined_metric_specification(specification.build())
        .target_value(
            attributes
                .get("target_value")
                .and_then(Value::as_f64)
                .unwrap_or(50.0),
        )
        .build();
    put_tracking(
        client,
        str_attr(attributes, "auto_scaling_group_name"),
        name,
        configuration,
    )
    .await
}

/// PutScalingPolicy of a target-tracking policy (it creates and updates alike).
async fn put_tracking(
    client: &Client,
    group: &str,
    name: &str,
    configuration: TargetTrackingConfiguration,
) -> Result<Attributes, AwsError> {
    client
        .put_scaling_policy()
        .auto_scaling_group_name(group)
        .policy_name(name)
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(configuration)
        .send()
        .await
        .op("PutScalingPolicy")?;
    Ok(BTreeMap::from([("name".to_string(), json!(name))]))
}

/// A worker's policy: visible messages of its queue per in-service instance of its group,
/// tracked to the target (metric math over SQS's and Auto Scaling's metrics, as AWS's guide
/// to scaling on SQS describes).
async fn put_backlog_policy(
    client: &Client,
    name: &str,
    attributes: &Attributes,
) -> Result<Attributes, AwsError> {
    use aws_sdk_autoscaling::types::{
        CustomizedMetricSpecification, Metric, MetricDimension, TargetTrackingMetricDataQuery,
        TargetTrackingMetricStat,
    };
    let group = str_attr(attributes, "auto_scaling_group_name");
    let stat =
        |id: &str, namespace: &str, metric: &str, dimension: &str, value: &str, stat: &str| {
            TargetTrackingMetricDataQuery::builder()
                .id(id)
                .metric_stat(
                    TargetTrackingMetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(namespace)
                                .metric_name(metric)
                                .dimensions(
                                    MetricDimension::builder()
                                        .name(dimension)
                                        .value(value)
                                        .build(),
                                )
                                .build(),
                        )
                        .stat(stat)
                        .build(),
                )
                .return_data(false)
                .build()
        };
    let specification = CustomizedMetricSpecification::builder()
        .metrics(stat(
            "visible",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            str_attr(attributes, "queue_name"),
            "Sum",
        ))
        .metrics(stat(
            "instances",
            "AWS/AutoScaling",
            "GroupInServiceInstances",
            "AutoScalingGroupName",
            group,
            "Average",
        ))
        .metrics(
            TargetTrackingMetricDataQuery::builder()
                .id("backlog")
                .expression("visible / instances")
                .label("Visible messages per in-service instance")
                .return_data(true)
                .build(),
        )
        .build();
    let configuration = TargetTrackingConfiguration::builder()
        .customized_metric_specification(specification)
        .target_value(
            attributes
                .get("target_value")
                .and_then(Value::as_f64)
                .unwrap_or(10.0),
        )
        .build();
    put_tracking(client, group, name, configuration).await
}

/// The queue a backlog policy tracks, when the policy is one (its `QueueName` dimension).
pub(super) fn backlog_queue(tracking: Option<&TargetTrackingConfiguration>) -> Option<String> {
    tracking?
        .customized_metric_specification()?
        .metrics()
        .iter()
        .filter_map(|m| m.metric_stat()?.metric())
        .find(|m| m.metric_name() == Some("ApproximateNumberOfMessagesVisible"))?
        .dimensions()
        .iter()
        .find(|d| d.name() == Some("QueueName"))
        .and_then(|d| d.value())
        .map(str::to_string)
}

pub async fn delete_policy(client: &Client, group: &str, name: &str) -> Result<(), AwsError> {
    already_gone(
        client
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .op("DeletePolicy"),
    )
}
