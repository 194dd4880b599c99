//! The instances' IAM role: EC2 may assume it; the spec's permission statements are its inline
//! policy, its managed policies are attached.

use crate::graph::names::IAM_ROLE_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::IamRole,
    name: "iam_role",
    data: false,
    attributes: &[
        Attribute::new("assume_role_policy", Shape::Object),
        Attribute::new("inline_policy", Shape::Object),
        Attribute::set("managed_policy_arns", Shape::Strings),
    ],
    outputs: &[Output::new("name"), Output::new("arn")],
    // The stacks whose outputs its statements name.
    refers_to: &[ResourceKind::Stack],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: IAM_ROLE_LIMIT,
    shared: false,
};
