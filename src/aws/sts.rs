//! STS: which account the credentials belong to, shown in plans so nobody applies to the wrong
//! account.

use super::{AwsError, Sdk};

pub async fn account_id(client: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let out = client
        .get_caller_identity()
        .send()
        .await
        .op("GetCallerIdentity")?;
    Ok(out.account().unwrap_or("unknown").to_string())
}

/// The ARN of the caller (user or assumed role): who holds a lock.
pub async fn caller_arn(client: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let out = client
        .get_caller_identity()
        .send()
        .await
        .op("GetCallerIdentity")?;
    Ok(out.arn().unwrap_or("unknown").to_string())
}
