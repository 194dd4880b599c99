//! The target group and its health check.

use super::{output, KindOps, Tags};
use crate::aws::{elbv2, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct TargetGroup;

impl KindOps for TargetGroup {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            elbv2::create_target_group(&aws.elbv2, &resource.aws_name, desired, tags).await
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
            elbv2::update_target_group(&aws.elbv2, &output(live, "arn"), desired, &live.tags, tags)
                .await?;
            Ok(Attributes::new())
        })
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move { elbv2::delete_target_group(aws, &output(live, "arn")).await })
    }
}
