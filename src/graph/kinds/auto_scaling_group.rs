//! The Auto Scaling group on the launch template's latest version, registering its instances
//! in the target group. After any change apply waits, in a step of its own, until the load
//! balancer reports the instances healthy: the tier serves.

use crate::graph::names::GROUP_NAME_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::AutoScalingGroup,
    name: "auto_scaling_group",
    data: false,
    attributes: &[
        Attribute::new("launch_template_id", Shape::String),
        Attribute::new("launch_template_version", Shape::String),
        Attribute::new("min_size", Shape::Number),
        Attribute::new("max_size", Shape::Number),
        Attribute::new("desired_capacity", Shape::Number),
        Attribute::set("target_group_arns", Shape::Strings),
        Attribute::new("health_check_type", Shape::String),
        Attribute::new("health_check_grace_period", Shape::Number),
        Attribute::set("subnet_ids", Shape::Strings),
    ],
    outputs: &[Output::new("name"), Output::new("arn")],
    refers_to: &[
        ResourceKind::LaunchTemplate,
        ResourceKind::TargetGroup,
        ResourceKind::Network,
    ],
    tagged: true,
    readiness: Readiness::AfterChange,
    expected_wait_seconds: 120,
    name_limit: GROUP_NAME_LIMIT,
    shared: false,
};
