//! SSM Parameter Store: the platform's AMI, from AWS's public Amazon Linux 2023 parameters.

use super::{AwsError, Sdk};
use std::collections::BTreeMap;

/// GetParameters takes at most 10 names.
const NAMES_PER_CALL: usize = 10;

/// The values of the parameters that exist, by name.
pub async fn read_parameters(
    client: &aws_sdk_ssm::Client,
    names: &[String],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut values = BTreeMap::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let out = client
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .op("GetParameters")?;
        for parameter in out.parameters() {
            if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                values.insert(name.to_string(), value.to_string());
            }
        }
    }
    Ok(values)
}
