//! The instance profile: holds the role; the role is removed from it before delete.

use super::{KindOps, Tags};
use crate::aws::{iam, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct InstanceProfile;

impl KindOps for InstanceProfile {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            iam::create_instance_profile(&aws.iam, &resource.aws_name, desired, tags).await
        })
    }

    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        live: &'a LiveResource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            iam::update_instance_profile(
                &aws.iam,
                &resource.aws_name,
                &live.attributes,
                desired,
                &live.tags,
                tags,
            )
            .await?;
            Ok(Attributes::new())
        })
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            iam::delete_instance_profile(&aws.iam, &live.aws_name, &live.attributes).await
        })
    }
}
