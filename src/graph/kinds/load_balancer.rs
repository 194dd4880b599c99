//! The Application Load Balancer. AWS provisions it for minutes after the create returns;
//! its listeners and CNAME need only its ARN and DNS name, so apply waits for `active` in a
//! step of its own, beside them.

use crate::graph::names::ELB_NAME_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::LoadBalancer,
    name: "load_balancer",
    data: false,
    attributes: &[
        Attribute::replaces("scheme", Shape::String),
        Attribute::set("subnet_ids", Shape::Strings),
        Attribute::set("security_group_ids", Shape::Strings),
        Attribute::new("idle_timeout", Shape::Number),
    ],
    outputs: &[
        Output::new("arn"),
        Output::new("name"),
        Output::new("dns_name"),
        Output::new("zone_id"),
    ],
    refers_to: &[ResourceKind::Network, ResourceKind::SecurityGroup],
    tagged: true,
    readiness: Readiness::AfterCreate,
    expected_wait_seconds: 180,
    name_limit: ELB_NAME_LIMIT,
    shared: false,
};
