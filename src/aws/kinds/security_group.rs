//! Security groups: created with their rules, rules revoked and authorized to match, revoked
//! before delete (so no other group's rule keeps one alive).

use super::{output, KindOps, Tags};
use crate::aws::{ec2, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct SecurityGroup;

impl KindOps for SecurityGroup {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            ec2::create_security_group(&aws.ec2, &resource.aws_name, desired, tags).await
        })
    }

    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        _resource: &'a Resource,
        live: &'a LiveResource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            ec2::update_security_group(
                &aws.ec2,
                &output(live, "id"),
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
            ec2::delete_security_group(aws, &output(live, "id"), &live.attributes).await
        })
    }
}
