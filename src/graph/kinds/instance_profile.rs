//! The instance profile that hands the role to the instances. IAM propagates a new one for
//! seconds before EC2 and Auto Scaling accept it (the shell retries that class of refusal).

use crate::graph::names::LONG_NAME_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::InstanceProfile,
    name: "instance_profile",
    data: false,
    attributes: &[Attribute::new("role", Shape::String)],
    outputs: &[Output::new("name"), Output::new("arn")],
    refers_to: &[ResourceKind::IamRole],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: LONG_NAME_LIMIT,
    shared: false,
};
