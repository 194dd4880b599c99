//! A CloudFormation stack of extra resources: an application's (shared by its environments)
//! or an environment's own. Its one attribute is the template Beanpole generates; its outputs
//! are the stack's outputs (one per value the spec reads, `ordersArn`) and its `id`. A change
//! is a change set, created by `plan` and executed by `apply`.

use crate::graph::names::LONG_NAME_LIMIT;
use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape, ANY_OUTPUT};
use crate::graph::ResourceKind;

/// Set on a stack's deletion by a plan with `--delete-data` (the shell then deletes what it
/// holds data in, too).
pub const DELETE_DATA: &str = "delete_data";

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::Stack,
    name: "stack",
    data: false,
    // The CloudFormation engine's stacks also have parameters (what its template looks up).
    attributes: &[
        Attribute::new("template", Shape::Object),
        Attribute::new("parameters", Shape::Object),
    ],
    // Every output but `id` may change with an update (a replaced resource has a new name).
    outputs: &[Output::new("id"), Output::changes_on_update(ANY_OUTPUT)],
    // An engine's stack reads its environment's network and its application's stack.
    refers_to: &[ResourceKind::Network, ResourceKind::Stack],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 30,
    name_limit: LONG_NAME_LIMIT,
    shared: false,
};
