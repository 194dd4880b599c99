//! A listener of the load balancer: HTTP on 80 (forwarding, or redirecting to HTTPS), and
//! HTTPS on 443 with the certificate and a TLS 1.2+ policy.

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::Listener,
    name: "listener",
    data: false,
    attributes: &[
        Attribute::replaces("load_balancer_arn", Shape::String),
        Attribute::replaces("port", Shape::Number),
        Attribute::new("protocol", Shape::String),
        Attribute::new("default_action", Shape::Object),
        Attribute::new("certificate_arn", Shape::String),
        Attribute::new("ssl_policy", Shape::String),
    ],
    outputs: &[Output::new("arn")],
    refers_to: &[ResourceKind::LoadBalancer, ResourceKind::TargetGroup],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: 0,
    shared: false,
};
