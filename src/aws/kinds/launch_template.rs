//! The launch template: an update is a new version (returned as `latest_version`).

use super::{output, Desired, Kind};
use crate::aws::{ec2, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct LaunchTemplate;

impl Kind for LaunchTemplate {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        ec2::create_launch_template(&to.aws.ec2, &to.resource.aws_name, to.attributes, to.tags)
            .await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let id = output(live, "id");
        ec2::update_launch_template(&to.aws.ec2, &id, to.attributes, &live.tags, to.tags).await
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        ec2::delete_launch_template(&aws.ec2, &output(live, "id")).await
    }
}
