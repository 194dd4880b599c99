//! The environment's CNAME (`pets.example.com` → its load balancer). It carries no tags: the
//! TXT ownership record beside it proves it is Beanpole's, so it is written after that record
//! and deleted before it.

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::CnameRecord,
    name: "cname_record",
    data: false,
    attributes: &[
        Attribute::replaces("zone_id", Shape::String),
        Attribute::replaces("name", Shape::String),
        Attribute::replaces("type", Shape::String),
        Attribute::new("ttl", Shape::Number),
        Attribute::new("value", Shape::String),
    ],
    outputs: &[Output::new("name")],
    refers_to: &[
        ResourceKind::HostedZone,
        ResourceKind::LoadBalancer,
        ResourceKind::OwnershipRecord,
        // Under the CloudFormation engine, the load balancer is its environment's stack's.
        ResourceKind::Stack,
    ],
    tagged: false,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 45,
    name_limit: 0,
    shared: false,
};
