//! The instance profile: holds the role; the role is removed from it before delete.

use super::{Desired, Kind};
use crate::aws::{iam, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct InstanceProfile;

impl Kind for InstanceProfile {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        iam::create_instance_profile(&to.aws.iam, &to.resource.aws_name, to.attributes, to.tags)
            .await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let name = &to.resource.aws_name;
        iam::update_instance_profile(&to.aws.iam, name, &to.change(live)).await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        iam::delete_instance_profile(&aws.iam, &live.aws_name, &live.attributes).await
    }
}
