//! A stack: extra resources, or under the CloudFormation engine a whole environment. Created
//! and changed through change sets (the plan's, found by name), deleted with its data kept
//! unless `--delete-data`; one whose creation rolled back is deleted and created again.

use super::{output, Desired, Kind};
use crate::aws::{cloudformation, Aws, AwsError};
use crate::graph::kinds::stack::DELETE_DATA;
use crate::reconcile::{Attributes, LiveResource};
use serde_json::Value;

pub struct Stack;

fn template(attributes: &Attributes) -> Value {
    attributes.get("template").cloned().unwrap_or(Value::Null)
}

impl Kind for Stack {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        let name = &to.resource.aws_name;
        let stack = cloudformation::Desired::of(to.attributes, to.tags);
        cloudformation::converge(to.aws, name, &stack, true, &Value::Null).await
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let name = &to.resource.aws_name;
        let stack = cloudformation::Desired::of(to.attributes, to.tags);
        if output(live, "status") == "ROLLBACK_COMPLETE" {
            cloudformation::delete_rolled_back(to.aws, name).await?;
            return cloudformation::converge(to.aws, name, &stack, true, &Value::Null).await;
        }
        cloudformation::converge(to.aws, name, &stack, false, &template(&live.attributes)).await
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        let delete_data = live.attributes.get(DELETE_DATA) == Some(&Value::Bool(true));
        cloudformation::delete(aws, live, delete_data).await
    }
}
