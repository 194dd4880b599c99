//! The TXT record `_beanpole.NAME` that says which application and environment own the CNAME
//! `NAME` (and when a swap last moved it). Route53 records have no tags: this is how Beanpole
//! proves a record is its own.

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::OwnershipRecord,
    name: "ownership_record",
    data: false,
    attributes: &[
        Attribute::replaces("zone_id", Shape::String),
        Attribute::replaces("name", Shape::String),
        Attribute::replaces("type", Shape::String),
        Attribute::new("ttl", Shape::Number),
        Attribute::new("value", Shape::String),
    ],
    outputs: &[Output::new("name")],
    refers_to: &[ResourceKind::HostedZone],
    tagged: false,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 45,
    name_limit: 0,
    shared: false,
};
