//! A security group: the load balancer's (open on its listener ports to `allowed_cidrs`) or the
//! instances' (open on the instance port to the load balancer's group only).

use crate::graph::names::GROUP_NAME_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::SecurityGroup,
    name: "security_group",
    data: false,
    attributes: &[
        Attribute::replaces("description", Shape::String),
        Attribute::replaces("vpc_id", Shape::String),
        Attribute::set("ingress", Shape::Objects),
    ],
    outputs: &[Output::new("id")],
    // The instances' group admits the load balancer's group by id.
    refers_to: &[ResourceKind::Network, ResourceKind::SecurityGroup],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: GROUP_NAME_LIMIT,
    shared: false,
};
