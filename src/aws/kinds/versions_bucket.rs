//! The application versions bucket: created with its tags, public access blocked and default
//! encryption on; an update puts those settings back. Shared by every application of the
//! account and region, so the plan never deletes it (`destroy --delete-versions` removes an
//! application's versions, and the bucket once it is empty).

use super::{Desired, Kind};
use crate::aws::store::Store;
use crate::aws::{s3, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct VersionsBucket;

impl Kind for VersionsBucket {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        let (aws, name) = (to.aws, &to.resource.aws_name);
        let outputs = s3::create_bucket(&aws.s3, &aws.region, name, to.tags).await?;
        Store::named(aws, name.clone()).put_engine().await?;
        Ok(outputs)
    }

    async fn update(&self, to: &Desired<'_>, _live: &LiveResource) -> Result<Attributes, AwsError> {
        let (aws, name) = (to.aws, &to.resource.aws_name);
        s3::configure_bucket(&aws.s3, name, to.tags).await?;
        Store::named(aws, name.clone()).put_engine().await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        s3::delete_bucket(&aws.s3, &live.aws_name).await
    }
}
