//! One schema per resource kind (see `graph::schema`). Adding a kind: a file here, a variant
//! in `ResourceKind` with its line in `ResourceKind::schema`, its shell file in `aws/kinds/`,
//! and the graph compiler's node.

pub mod auto_scaling_group;
pub mod cname_record;
pub mod hosted_zone;
pub mod iam_role;
pub mod instance_profile;
pub mod launch_template;
pub mod listener;
pub mod load_balancer;
pub mod network;
pub mod ownership_record;
pub mod platform_image;
pub mod scaling_policy;
pub mod security_group;
pub mod stack;
pub mod target_group;
pub mod versions_bucket;
