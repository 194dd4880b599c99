//! The VPC and subnets an environment runs in: looked up (the default VPC, or the spec's),
//! never created.

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::Network,
    name: "network",
    data: true,
    attributes: &[
        Attribute::new("vpc", Shape::String),
        Attribute::new("subnets", Shape::Strings),
    ],
    outputs: &[Output::new("vpc_id"), Output::new("subnet_ids")],
    refers_to: &[],
    tagged: false,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: 0,
    shared: false,
};
