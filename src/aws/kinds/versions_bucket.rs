//! The application versions bucket: created with its tags, public access blocked and default
//! encryption on; an update puts those settings back. Shared by every application of the
//! account and region, so the plan never deletes it (`destroy --delete-versions` removes an
//! application's versions, and the bucket once it is empty).

use super::{KindOps, Tags};
use crate::aws::{s3, Aws, AwsError};
use crate::graph::Resource;
use crate::reconcile::{Attributes, LiveResource};
use futures::future::BoxFuture;

pub struct VersionsBucket;

impl KindOps for VersionsBucket {
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        _desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            let outputs = s3::create_bucket(&aws.s3, &aws.region, &resource.aws_name, tags).await?;
            crate::aws::store::Store::named(aws, resource.aws_name.clone())
                .put_engine()
                .await?;
            Ok(outputs)
        })
    }

    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        resource: &'a Resource,
        _live: &'a LiveResource,
        _desired: &'a Attributes,
        tags: &'a Tags,
    ) -> BoxFuture<'a, Result<Attributes, AwsError>> {
        Box::pin(async move {
            s3::configure_bucket(&aws.s3, &resource.aws_name, tags).await?;
            crate::aws::store::Store::named(aws, resource.aws_name.clone())
                .put_engine()
                .await?;
            Ok(Attributes::new())
        })
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move { s3::delete_bucket(&aws.s3, &live.aws_name).await })
    }
}
