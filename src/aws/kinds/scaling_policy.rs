//! Target-tracking scaling policies: PutScalingPolicy creates and updates alike.

use super::{Desired, Kind};
use crate::aws::{autoscaling, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct ScalingPolicy;

impl Kind for ScalingPolicy {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        autoscaling::policy::put_policy(&to.aws.autoscaling, &to.resource.aws_name, to.attributes)
            .await
    }

    async fn update(&self, to: &Desired<'_>, _live: &LiveResource) -> Result<Attributes, AwsError> {
        autoscaling::policy::put_policy(&to.aws.autoscaling, &to.resource.aws_name, to.attributes)
            .await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        let group = crate::aws::str_attr(&live.attributes, "auto_scaling_group_name");
        autoscaling::policy::delete_policy(&aws.autoscaling, group, &live.aws_name).await
    }
}
