//! The target group and its health check.

use super::{output, Desired, Kind};
use crate::aws::{elbv2, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct TargetGroup;

impl Kind for TargetGroup {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        elbv2::create_target_group(&to.aws.elbv2, &to.resource.aws_name, to.attributes, to.tags)
            .await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let arn = output(live, "arn");
        elbv2::update_target_group(&to.aws.elbv2, &arn, to.attributes, &live.tags, to.tags).await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        elbv2::delete_target_group(aws, &output(live, "arn")).await
    }
}
