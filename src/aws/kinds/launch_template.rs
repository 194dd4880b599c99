//! The launch template: an update is a new version (returned as `latest_version`).

use super::{output, KindOps, Tags};
use crate::aws::{ec2, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct LaunchTemplate;

impl KindOps for LaunchTemplate {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            ec2::create_launch_template(&aws.ec2, &resource.aws_name, desired, tags).await
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
            ec2::update_launch_template(&aws.ec2, &output(live, "id"), desired, &live.tags, tags)
                .await
        })
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move { ec2::delete_launch_template(&aws.ec2, &output(live, "id")).await })
    }
}
