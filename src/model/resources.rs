//! Extra resources: CloudFormation resources a spec declares beside the web tier
//! (`resource "AWS::DynamoDB::Table" "orders" { … }`), at an application's level (shared by
//! its environments, kept when one is destroyed) or an environment's (its own). Each level's
//! resources make one CloudFormation stack; what the spec reads of them (`.ref`, `.arn`,
//! `.attributes.NAME`) becomes one of that stack's outputs. Plain data and CloudFormation's
//! facts about the types Beanpole knows by name; no I/O.

use serde::{Deserialize, Serialize};

/// One resource of a stack, as the spec declares it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtraResource {
    /// Its logical id in the stack (the block's second label): letters and digits.
    pub name: String,
    /// `AWS::SERVICE::TYPE`.
    pub type_name: String,
    /// CloudFormation's `Properties`, as JSON (intrinsic functions written as maps pass
    /// through: `{ Ref = "other" }`).
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl ExtraResource {
    /// Holds data that is lost when it is deleted or replaced.
    pub fn holds_data(&self) -> bool {
        resource_holds_data(&self.name, &self.type_name)
    }
}

/// What the spec reads of an extra resource: a value of one output of its stack.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutputRef {
    /// The graph address of the stack (`application.shop.resources`).
    pub stack: String,
    /// The resource's logical id.
    pub resource: String,
    /// `Ref`, or the `Fn::GetAtt` attribute (`Arn`, `QueueName`, …).
    pub attribute: String,
}

impl OutputRef {
    /// The output's logical id in the stack's template: letters and digits only, as
    /// CloudFormation requires (`ordersRef`, `ordersArn`).
    pub fn output_key(&self) -> String {
        let attribute: String = self
            .attribute
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        format!("{}{attribute}", self.resource)
    }

    /// `application.shop.resource.orders.arn` as the user wrote it, near enough for messages.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.resource, self.attribute)
    }

    /// The template value of the output: `{"Ref": …}` or `{"Fn::GetAtt": [resource, attr]}`.
    pub fn template_value(&self) -> serde_json::Value {
        if self.attribute == REF {
            serde_json::json!({ "Ref": self.resource })
        } else {
            serde_json::json!({ "Fn::GetAtt": [self.resource, self.attribute] })
        }
    }
}

/// The attribute name of CloudFormation's `Ref`.
pub const REF: &str = "Ref";

/// The resource types whose deletion or replacement loses data (what `--delete-data`
/// protects): DynamoDB tables, S3 buckets, RDS instances and clusters, EFS file systems, log
/// groups, SQS queues' messages are not kept (a queue is transient by design).
pub fn holds_data(type_name: &str) -> bool {
    matches!(
        type_name,
        "AWS::DynamoDB::Table"
            | "AWS::DynamoDB::GlobalTable"
            | "AWS::S3::Bucket"
            | "AWS::RDS::DBInstance"
            | "AWS::RDS::DBCluster"
            | "AWS::EFS::FileSystem"
            | "AWS::Logs::LogGroup"
    )
}

/// Whether the resource with this logical id loses data when deleted or replaced: one of the
/// types that hold data, unless it is one Beanpole's platform makes for itself (EB's logical
/// names, `AWSEB…`, which a spec's own resources cannot take): a worker's leader table holds
/// only a lease.
pub fn resource_holds_data(logical_id: &str, type_name: &str) -> bool {
    holds_data(type_name) && !logical_id.starts_with(PLATFORM_PREFIX)
}

/// The prefix of Elastic Beanstalk's logical names, which Beanpole's platform resources use.
pub const PLATFORM_PREFIX: &str = "AWSEB";

/// Properties of a type whose change replaces the resource (CloudFormation's "Update requires:
/// Replacement"), for the types Beanpole knows; the plan flags a replacement with them when
/// the change set does not say (moto's change sets never do).
pub fn replacing_properties(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "AWS::DynamoDB::Table" => &["TableName", "KeySchema", "LocalSecondaryIndexes"],
        "AWS::SQS::Queue" => &["QueueName", "FifoQueue"],
        "AWS::SNS::Topic" => &["TopicName", "FifoTopic"],
        "AWS::S3::Bucket" => &["BucketName", "ObjectLockEnabled"],
        "AWS::Logs::LogGroup" => &["LogGroupName"],
        "AWS::RDS::DBInstance" => &[
            "DBInstanceIdentifier",
            "Engine",
            "DBName",
            "MasterUsername",
            "StorageEncrypted",
            "KmsKeyId",
            "AvailabilityZone",
        ],
        "AWS::EFS::FileSystem" => &["Encrypted", "KmsKeyId", "PerformanceMode"],
        _ => &[],
    }
}

/// What `.arn` reads for a type: the `Fn::GetAtt` attribute holding its ARN, or `Ref` for the
/// types whose `Ref` is their ARN (an SNS topic).
pub fn arn_attribute(type_name: &str) -> &'static str {
    match type_name {
        "AWS::SNS::Topic" | "AWS::IAM::ManagedPolicy" | "AWS::ElasticLoadBalancingV2::Listener" => {
            REF
        }
        _ => "Arn",
    }
}

/// The `Fn::GetAtt` attributes of the types Beanpole knows by name (`.attributes.NAME`); any
/// other type offers `.ref` and `.arn`.
pub fn known_attributes(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "AWS::DynamoDB::Table" => &["Arn", "StreamArn"],
        "AWS::SQS::Queue" => &["Arn", "QueueName", "QueueUrl"],
        "AWS::SNS::Topic" => &["TopicArn", "TopicName"],
        "AWS::S3::Bucket" => &["Arn", "DomainName", "RegionalDomainName", "WebsiteURL"],
        "AWS::Logs::LogGroup" => &["Arn"],
        "AWS::RDS::DBInstance" => &["Endpoint.Address", "Endpoint.Port", "DBInstanceArn"],
        "AWS::EFS::FileSystem" => &["Arn", "FileSystemId"],
        "AWS::SSM::Parameter" => &["Type", "Value"],
        "AWS::KMS::Key" => &["Arn", "KeyId"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keys_are_letters_and_digits() {
        let r = OutputRef {
            stack: "application.shop.resources".into(),
            resource: "db".into(),
            attribute: "Endpoint.Address".into(),
        };
        assert_eq!(r.output_key(), "dbEndpointAddress");
        assert_eq!(
            r.template_value(),
            serde_json::json!({"Fn::GetAtt": ["db", "Endpoint.Address"]})
        );
        let r = OutputRef {
            attribute: REF.into(),
            ..r
        };
        assert_eq!(r.template_value(), serde_json::json!({"Ref": "db"}));
    }

    #[test]
    fn a_topic_s_arn_is_its_ref_and_a_table_s_is_an_attribute() {
        assert_eq!(arn_attribute("AWS::SNS::Topic"), REF);
        assert_eq!(arn_attribute("AWS::DynamoDB::Table"), "Arn");
        assert!(holds_data("AWS::DynamoDB::Table"));
        assert!(!holds_data("AWS::SQS::Queue"));
    }
}
