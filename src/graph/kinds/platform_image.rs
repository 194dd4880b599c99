//! The Amazon Linux 2023 AMI of the platform, from AWS's public SSM parameter for the
//! instance type's architecture: looked up, never created.

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::PlatformImage,
    name: "platform_image",
    data: true,
    attributes: &[
        Attribute::new("ssm_parameter", Shape::String),
        Attribute::new("architecture", Shape::String),
    ],
    outputs: &[Output::new("image_id")],
    refers_to: &[],
    tagged: false,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: 0,
    shared: false,
};
