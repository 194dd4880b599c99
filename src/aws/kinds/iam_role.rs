//! The instances' IAM role: trust policy, inline policy, managed policies; emptied before
//! delete.

use super::{Desired, Kind};
use crate::aws::{iam, Aws, AwsError};
use crate::reconcile::{Attributes, LiveResource};

pub struct IamRole;

impl Kind for IamRole {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        iam::create_role(&to.aws.iam, &to.resource.aws_name, to.attributes, to.tags).await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let name = &to.resource.aws_name;
        iam::update_role(&to.aws.iam, name, &to.change(live)).await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        iam::delete_role(aws, &live.aws_name).await
    }
}
