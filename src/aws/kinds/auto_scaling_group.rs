//! The Auto Scaling group: created and updated without waiting for instances (its scaling
//! policies need only its name); `await_ready` waits until the load balancer reports the
//! desired number of instances healthy.

use super::{KindOps, Tags};
use crate::aws::{autoscaling, int_attr, string_list, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct AutoScalingGroup;

impl KindOps for AutoScalingGroup {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(
            async move { autoscaling::create_group(aws, &resource.aws_name, desired, tags).await },
        )
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
            autoscaling::update_group(
                aws,
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
        Box::pin(async move { autoscaling::delete_group(aws, &live.aws_name).await })
    }

    fn await_ready<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        _outputs: &'a Attributes,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            autoscaling::wait_serving(
                aws,
                &resource.aws_name,
                int_attr(desired, "desired_capacity").unwrap_or(0),
                &string_list(desired, "target_group_arns"),
            )
            .await
        })
    }
}
