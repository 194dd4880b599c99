//! The launch template: AMI, instance type, profile, security group, IMDSv2, and the user
//! data that bootstraps the platform. A change is a new version (its `latest_version` output
//! moves, so the group follows it).

use crate::graph::names::LONG_NAME_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::LaunchTemplate,
    name: "launch_template",
    data: false,
    attributes: &[
        Attribute::new("image_id", Shape::String),
        Attribute::new("instance_type", Shape::String),
        Attribute::new("key_name", Shape::String),
        Attribute::new("iam_instance_profile_arn", Shape::String),
        Attribute::set("security_group_ids", Shape::Strings),
        Attribute::new("http_tokens", Shape::String),
        Attribute::new("user_data", Shape::String),
    ],
    outputs: &[
        Output::new("id"),
        Output::changes_on_update("latest_version"),
    ],
    refers_to: &[
        ResourceKind::PlatformImage,
        ResourceKind::InstanceProfile,
        ResourceKind::SecurityGroup,
    ],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: LONG_NAME_LIMIT,
    shared: false,
};
