//! Target-tracking scaling policies: PutScalingPolicy creates and updates alike.

use super::{KindOps, Tags};
use crate::aws::{autoscaling, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct ScalingPolicy;

impl KindOps for ScalingPolicy {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        _tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            autoscaling::put_policy(&aws.autoscaling, &resource.aws_name, desired).await
        })
    }

    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        _live: &'a LiveResource,
        desired: &'a Attributes,
        _tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            autoscaling::put_policy(&aws.autoscaling, &resource.aws_name, desired).await?;
            Ok(Attributes::new())
        })
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            autoscaling::delete_policy(
                &aws.autoscaling,
                crate::aws::str_attr(&live.attributes, "auto_scaling_group_name"),
                &live.aws_name,
            )
            .await
        })
    }
}
