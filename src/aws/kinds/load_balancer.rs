//! The Application Load Balancer: created without waiting (its listeners and CNAME need only
//! its ARN and DNS name); `await_ready` waits for `active` in a step of its own.

use super::{output, Desired, Kind};
use crate::aws::{elbv2, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct LoadBalancer;

impl Kind for LoadBalancer {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        elbv2::create_load_balancer(to.aws, &to.resource.aws_name, to.attributes, to.tags).await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let arn = output(live, "arn");
        elbv2::update_load_balancer(&to.aws.elbv2, &arn, &to.change(live)).await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        elbv2::delete_load_balancer(aws, &output(live, "arn"), &live.aws_name).await
    }

    async fn await_ready(&self, to: &Desired<'_>, outputs: &Attributes) -> Result<(), AwsError> {
        let arn = crate::aws::str_attr(outputs, "arn");
        elbv2::wait_active(to.aws, arn, &to.resource.aws_name).await
    }
}
