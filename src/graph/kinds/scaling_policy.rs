//! A target-tracking scaling policy of the group (CPU, or requests per target). Policies carry
//! no tags: the group they belong to is Beanpole's.

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

/// The `metric` of a worker's policy on its queue's backlog per in-service instance (a
/// customized metric: metric math over SQS's and Auto Scaling's metrics).
pub const BACKLOG_METRIC: &str = "SQSBacklogPerInstance";

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::ScalingPolicy,
    name: "scaling_policy",
    data: false,
    attributes: &[
        Attribute::replaces("auto_scaling_group_name", Shape::String),
        Attribute::new("metric", Shape::String),
        Attribute::new("target_value", Shape::Number),
        Attribute::new("load_balancer_arn", Shape::String),
        Attribute::new("target_group_arn", Shape::String),
        Attribute::new("queue_name", Shape::String),
    ],
    outputs: &[Output::new("name")],
    refers_to: &[
        ResourceKind::AutoScalingGroup,
        ResourceKind::LoadBalancer,
        ResourceKind::TargetGroup,
        ResourceKind::Stack,
    ],
    tagged: false,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: 255,
    shared: false,
};
