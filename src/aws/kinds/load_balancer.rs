//! The Application Load Balancer: created without waiting (its listeners and CNAME need only
//! its ARN and DNS name); `await_ready` waits for `active` in a step of its own.

use super::{output, KindOps, Tags};
use crate::aws::{elbv2, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct LoadBalancer;

impl KindOps for LoadBalancer {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            elbv2::create_load_balancer(aws, &resource.aws_name, desired, tags).await
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
            elbv2::update_load_balancer(
                &aws.elbv2,
                &output(live, "arn"),
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
            elbv2::delete_load_balancer(aws, &output(live, "arn"), &live.aws_name).await
        })
    }

    fn await_ready<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        _desired: &'a Attributes,
        outputs: &'a Attributes,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            let arn = crate::aws::str_attr(outputs, "arn");
            elbv2::wait_active(aws, arn, &resource.aws_name).await
        })
    }
}
