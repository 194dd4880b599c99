//! One implementation per resource kind of create / update / delete (and, for kinds that
//! become ready after their calls return, the readiness wait), behind one trait: the shell's
//! half of a kind's schema (`graph::kinds`). [`ops`] is the only match over kinds here; each
//! file calls its service's API (through the service module's helpers where several kinds
//! share a call, such as the batched reads in `aws::live`).

mod auto_scaling_group;
mod data;
mod iam_role;
mod instance_profile;
mod launch_template;
mod listener;
mod load_balancer;
mod records;
mod scaling_policy;
mod security_group;
mod target_group;
mod versions_bucket;

use super::{Aws, AwsError};
use crate::graph::{Resource, ResourceKind};
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

/// What the shell does for one kind.
pub trait KindOps: Sync {
    /// Creates the resource with its tags; returns its outputs (ids, ARNs, names).
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>>;

    /// Brings a live resource to `desired` in place; returns the outputs that changed.
    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        live: &'a LiveResource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>>;

    /// Deletes an owned resource; one already gone counts as deleted.
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// Waits until the resource is ready, for kinds whose schema says it becomes ready after
    /// its calls return (`Readiness`). `desired`: its attributes with references resolved;
    /// `outputs`: what its create or update returned.
    fn await_ready<'a>(
        &'a self,
        _aws: &'a Aws,
        _resource: &'a Resource,
        _desired: &'a Attributes,
        _outputs: &'a Attributes,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The shell's implementation of `kind`.
pub fn ops(kind: ResourceKind) -> &'static dyn KindOps {
    match kind {
        ResourceKind::Network | ResourceKind::PlatformImage | ResourceKind::HostedZone => {
            &data::DataSource
        }
        ResourceKind::SecurityGroup => &security_group::SecurityGroup,
        ResourceKind::IamRole => &iam_role::IamRole,
        ResourceKind::InstanceProfile => &instance_profile::InstanceProfile,
        ResourceKind::LaunchTemplate => &launch_template::LaunchTemplate,
        ResourceKind::TargetGroup => &target_group::TargetGroup,
        ResourceKind::LoadBalancer => &load_balancer::LoadBalancer,
        ResourceKind::VersionsBucket => &versions_bucket::VersionsBucket,
        ResourceKind::Listener => &listener::Listener,
        ResourceKind::AutoScalingGroup => &auto_scaling_group::AutoScalingGroup,
        ResourceKind::ScalingPolicy => &scaling_policy::ScalingPolicy,
        ResourceKind::CnameRecord | ResourceKind::OwnershipRecord => &records::Record,
    }
}

/// A string output of a live resource ("" when absent).
fn output(live: &LiveResource, key: &str) -> String {
    live.outputs
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}
