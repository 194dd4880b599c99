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
mod stack;
mod target_group;
mod versions_bucket;

use super::{Aws, AwsError};
use crate::graph::{Resource, ResourceKind};
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::future::Future;

pub type Tags = BTreeMap<String, String>;

/// What a create, an update or a readiness wait works toward: a resource of the graph, its
/// attributes with references resolved, the tags it carries.
pub struct Desired<'a> {
    pub aws: &'a Aws,
    pub resource: &'a Resource,
    pub attributes: &'a Attributes,
    pub tags: &'a Tags,
}

impl Desired<'_> {
    /// The update of `live` to this.
    pub fn change<'a>(&'a self, live: &'a LiveResource) -> super::Change<'a> {
        super::Change {
            before: &live.attributes,
            after: self.attributes,
            old_tags: &live.tags,
            tags: self.tags,
        }
    }
}

/// What the shell does for one kind (each kind's file implements it).
pub trait Kind: Sync {
    /// Creates the resource with its tags; returns its outputs (ids, ARNs, names).
    fn create(&self, to: &Desired<'_>)
        -> impl Future<Output = Result<Attributes, AwsError>> + Send;

    /// Brings a live resource to `to` in place; returns the outputs that changed.
    fn update(
        &self,
        to: &Desired<'_>,
        live: &LiveResource,
    ) -> impl Future<Output = Result<Attributes, AwsError>> + Send;

    /// Deletes an owned resource; one already gone counts as deleted.
    fn delete(
        &self,
        aws: &Aws,
        live: &LiveResource,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Waits until the resource is ready, for kinds whose schema says it becomes ready after
    /// its calls return (`Readiness`); `outputs`: what its create or update returned.
    fn await_ready(
        &self,
        _to: &Desired<'_>,
        _outputs: &Attributes,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        async { Ok(()) }
    }
}

/// [`Kind`] behind a reference to any kind: its futures boxed, here once for every kind.
pub trait KindOps: Sync {
    fn create<'a>(&'a self, to: &'a Desired<'a>) -> BoxFuture<'a, Result<Attributes, AwsError>>;
    fn update<'a>(
        &'a self,
        to: &'a Desired<'a>,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>>;
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
    fn await_ready<'a>(
        &'a self,
        to: &'a Desired<'a>,
        outputs: &'a Attributes,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
}

impl<K: Kind> KindOps for K {
    fn create<'a>(&'a self, to: &'a Desired<'a>) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(Kind::create(self, to))
    }

    fn update<'a>(
        &'a self,
        to: &'a Desired<'a>,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(Kind::update(self, to, live))
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(Kind::delete(self, aws, live))
    }

    fn await_ready<'a>(
        &'a self,
        to: &'a Desired<'a>,
        outputs: &'a Attributes,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(Kind::await_ready(self, to, outputs))
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
        ResourceKind::Stack => &stack::Stack,
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
