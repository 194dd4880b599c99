//! The public Route53 hosted zone of the application's domain: looked up by name, never
//! created or deleted (it belongs to the user).

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::HostedZone,
    name: "hosted_zone",
    data: true,
    attributes: &[Attribute::new("domain", Shape::String)],
    outputs: &[Output::new("id")],
    refers_to: &[],
    tagged: false,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: 0,
    shared: false,
};
