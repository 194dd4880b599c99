//! The target group the instances register in, with the environment's health check. Its
//! name hashes port and protocol, so a replacement is created beside the old one, put behind
//! the listener, and only then the old one deleted.

use crate::graph::names::ELB_NAME_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::TargetGroup,
    name: "target_group",
    data: false,
    attributes: &[
        Attribute::replaces("vpc_id", Shape::String),
        Attribute::replaces("port", Shape::Number),
        Attribute::replaces("protocol", Shape::String),
        Attribute::replaces("target_type", Shape::String),
        Attribute::new("health_check", Shape::Object),
    ],
    outputs: &[Output::new("arn"), Output::new("name")],
    refers_to: &[ResourceKind::Network],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: ELB_NAME_LIMIT,
    shared: false,
};
