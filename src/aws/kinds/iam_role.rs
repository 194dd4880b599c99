//! The instances' IAM role: trust policy, inline policy, managed policies; emptied before
//! delete.

use super::{KindOps, Tags};
use crate::aws::{iam, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct IamRole;

impl KindOps for IamRole {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move { iam::create_role(&aws.iam, &resource.aws_name, desired, tags).await })
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
            iam::update_role(
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
        Box::pin(async move { iam::delete_role(aws, &live.aws_name).await })
    }
}
