//! The Auto Scaling group: created and updated without waiting for instances (its scaling
//! policies need only its name); `await_ready` waits until the load balancer reports the
//! desired number of instances healthy.

use super::{Desired, Kind};
use crate::aws::{autoscaling, int_attr, string_list, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct AutoScalingGroup;

impl Kind for AutoScalingGroup {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        autoscaling::create_group(to.aws, &to.resource.aws_name, to.attributes, to.tags).await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let name = &to.resource.aws_name;
        autoscaling::update_group(to.aws, name, &to.change(live)).await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        autoscaling::delete_group(aws, &live.aws_name).await
    }

    async fn await_ready(&self, to: &Desired<'_>, _outputs: &Attributes) -> Result<(), AwsError> {
        let desired = int_attr(to.attributes, "desired_capacity").unwrap_or(0);
        let target_groups = string_list(to.attributes, "target_group_arns");
        autoscaling::wait_serving(to.aws, &to.resource.aws_name, desired, &target_groups).await
    }
}
