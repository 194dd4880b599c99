//! Security groups: created with their rules, rules revoked and authorized to match, revoked
//! before delete (so no other group's rule keeps one alive).

use super::{output, Desired, Kind};
use crate::aws::{ec2, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct SecurityGroup;

impl Kind for SecurityGroup {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        ec2::create_security_group(&to.aws.ec2, &to.resource.aws_name, to.attributes, to.tags).await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let id = output(live, "id");
        ec2::update_security_group(&to.aws.ec2, &id, &to.change(live)).await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        ec2::delete_security_group(aws, &output(live, "id"), &live.attributes).await
    }
}
