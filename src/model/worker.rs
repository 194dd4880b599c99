//! The worker tier: an environment with no load balancer whose instances take work from an SQS
//! queue. The daemon's options are Elastic Beanstalk's (`aws:elasticbeanstalk:sqsd`), with
//! EB's defaults and ranges, in one table that the spec, `.ebextensions` and the deployment
//! document all read. Plain data.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// EB's namespace of the worker daemon's options.
pub const SQSD_NAMESPACE: &str = "aws:elasticbeanstalk:sqsd";

/// One numeric option of the daemon: EB's name, the spec's, EB's default and range.
#[derive(Debug, Clone, Copy)]
pub struct NumericOption {
    pub option: &'static str,
    pub spec: &'static str,
    pub default: u32,
    pub min: u32,
    pub max: u32,
}

/// The daemon's numeric options, as EB documents them (seconds, except counts).
pub const NUMERIC_OPTIONS: &[NumericOption] = &[
    NumericOption {
        option: "HttpConnections",
        spec: "http_connections",
        default: 50,
        min: 1,
        max: 100,
    },
    NumericOption {
        option: "ConnectTimeout",
        spec: "connect_timeout",
        default: 5,
        min: 1,
        max: 60,
    },
    NumericOption {
        option: "InactivityTimeout",
        spec: "inactivity_timeout",
        default: 299,
        min: 1,
        max: 36_000,
    },
    NumericOption {
        option: "VisibilityTimeout",
        spec: "visibility_timeout",
        default: 300,
        min: 0,
        max: 43_200,
    },
    NumericOption {
        option: "ErrorVisibilityTimeout",
        spec: "error_visibility_timeout",
        default: 2,
        min: 0,
        max: 43_200,
    },
    NumericOption {
        option: "RetentionPeriod",
        spec: "retention_period",
        default: 345_600,
        min: 60,
        max: 1_209_600,
    },
    NumericOption {
        option: "MaxRetries",
        spec: "max_retries",
        default: 10,
        min: 1,
        max: 100,
    },
];

/// The options that shape the queue Beanpole makes (its dead-letter policy, how long it keeps
/// a message, its default visibility): apply's, so the spec's only. `.ebextensions` may set
/// them only to what the spec has (else the version would run against another queue than it
/// says).
pub const QUEUE_OPTIONS: &[&str] = &["WorkerQueueURL", "MaxRetries"];

/// EB's default `HttpPath` and `MimeType`.
pub const DEFAULT_HTTP_PATH: &str = "/";
pub const DEFAULT_MIME_TYPE: &str = "application/json";

/// The `worker` block of an environment: EB's `aws:elasticbeanstalk:sqsd` options as the spec
/// sets them (`None`: `.ebextensions`, then EB's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Worker {
    /// `WorkerQueueURL`: the user's queue; `None`: Beanpole makes one, with its dead-letter
    /// queue, in the environment's stack.
    pub queue_url: Option<String>,
    pub http_path: Option<String>,
    pub mime_type: Option<String>,
    /// By EB option name (`HttpConnections` …).
    pub numbers: BTreeMap<String, u32>,
}

impl Worker {
    /// A numeric option's value for the queue Beanpole makes: the spec's, else EB's default.
    pub fn number(&self, option: &str) -> u32 {
        self.numbers
            .get(option)
            .copied()
            .or_else(|| {
                NUMERIC_OPTIONS
                    .iter()
                    .find(|o| o.option == option)
                    .map(|o| o.default)
            })
            .unwrap_or_default()
    }
}

/// The daemon's settings as an instance runs them (the deployment document's `worker`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSettings {
    pub queue_url: String,
    /// The dead-letter queue Beanpole made (absent for the user's own queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue_url: Option<String>,
    /// The DynamoDB table the instances elect a `cron.yaml` leader in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_table: Option<String>,
    pub http_path: String,
    pub mime_type: String,
    pub http_connections: u32,
    pub connect_timeout: u32,
    pub inactivity_timeout: u32,
    pub visibility_timeout: u32,
    pub error_visibility_timeout: u32,
    pub retention_period: u32,
    pub max_retries: u32,
    /// The bundle's `cron.yaml` tasks.
    #[serde(default)]
    pub cron: Vec<CronTask>,
    /// `s3://BUCKET/PREFIX/`: where the daemon reports how it is (`INSTANCE.json`), for
    /// `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_prefix: Option<String>,
}

/// One task of `cron.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronTask {
    pub name: String,
    pub url: String,
    /// Five fields, UTC.
    pub schedule: String,
}

/// Logical ids, in the environment's stack, of what Beanpole makes for a worker (EB's names).
pub const QUEUE: &str = "AWSEBWorkerQueue";
pub const DEAD_LETTER_QUEUE: &str = "AWSEBWorkerDeadLetterQueue";
pub const LEADER_TABLE: &str = "AWSEBWorkerCronLeaderRegistry";

/// How long the dead-letter queue keeps a message: SQS's longest, 14 days.
pub const DEAD_LETTER_RETENTION: u32 = 1_209_600;

/// The CloudFormation resources a worker environment's stack holds: the queue with its
/// dead-letter queue (`maxReceiveCount` = `MaxRetries`) unless the spec names its own queue,
/// and the table the instances elect a `cron.yaml` leader in.
pub fn platform_resources(worker: &Worker) -> Vec<super::ExtraResource> {
    use serde_json::json;
    let object = |v: serde_json::Value| match v {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let mut resources = Vec::new();
    if worker.queue_url.is_none() {
        resources.push(super::ExtraResource {
            name: DEAD_LETTER_QUEUE.to_string(),
            type_name: "AWS::SQS::Queue".to_string(),
            properties: object(json!({ "MessageRetentionPeriod": DEAD_LETTER_RETENTION })),
        });
        resources.push(super::ExtraResource {
            name: QUEUE.to_string(),
            type_name: "AWS::SQS::Queue".to_string(),
            properties: object(json!({
                "VisibilityTimeout": worker.number("VisibilityTimeout"),
                "MessageRetentionPeriod": worker.number("RetentionPeriod"),
                "RedrivePolicy": {
                    "deadLetterTargetArn": { "Fn::GetAtt": [DEAD_LETTER_QUEUE, "Arn"] },
                    "maxReceiveCount": worker.number("MaxRetries"),
                },
            })),
        });
    }
    resources.push(super::ExtraResource {
        name: LEADER_TABLE.to_string(),
        type_name: "AWS::DynamoDB::Table".to_string(),
        properties: object(json!({
            "AttributeDefinitions": [{ "AttributeName": "id", "AttributeType": "S" }],
            "KeySchema": [{ "AttributeName": "id", "KeyType": "HASH" }],
            "BillingMode": "PAY_PER_REQUEST",
        })),
    });
    resources
}

/// What the worker's instances and its role read of the environment's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackValues {
    /// Beanpole's queue: URL, ARN, name; and its dead-letter queue: URL, ARN (`None` for the
    /// user's own queue).
    pub queue: Option<[super::OutputRef; 5]>,
    /// The leader table: name, ARN.
    pub leader_table: [super::OutputRef; 2],
}

/// The outputs of the environment's stack (at `stack`) a worker reads.
pub fn stack_values(worker: &Worker, stack: &str) -> StackValues {
    let out = |resource: &str, attribute: &str| super::OutputRef {
        stack: stack.to_string(),
        resource: resource.to_string(),
        attribute: attribute.to_string(),
    };
    StackValues {
        queue: worker.queue_url.is_none().then(|| {
            [
                out(QUEUE, super::resources::REF),
                out(QUEUE, "Arn"),
                out(QUEUE, "QueueName"),
                out(DEAD_LETTER_QUEUE, super::resources::REF),
                out(DEAD_LETTER_QUEUE, "Arn"),
            ]
        }),
        leader_table: [
            out(LEADER_TABLE, super::resources::REF),
            out(LEADER_TABLE, "Arn"),
        ],
    }
}

impl StackValues {
    pub fn all(&self) -> Vec<&super::OutputRef> {
        self.queue
            .iter()
            .flatten()
            .chain(self.leader_table.iter())
            .collect()
    }
}

/// The queue's ARN from its URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`), for the
/// instance role; `None` when the URL is not a queue's.
pub fn queue_arn(url: &str, partition: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let mut parts = rest.split('/');
    let host = parts.next()?;
    let account = parts.next()?;
    let name = parts.next()?;
    if parts.next().is_some_and(|p| !p.is_empty())
        || account.len() != 12
        || !account.chars().all(|c| c.is_ascii_digit())
        || name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return None;
    }
    // `sqs.REGION.amazonaws.com`, or the legacy `REGION.queue.amazonaws.com`.
    let region = host
        .strip_prefix("sqs.")
        .and_then(|h| h.split('.').next())
        .or_else(|| host.split(".queue.").next().filter(|r| *r != host))
        .filter(|r| !r.is_empty())?;
    Some(format!("arn:{partition}:sqs:{region}:{account}:{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_s_arn_comes_from_its_url() {
        assert_eq!(
            queue_arn(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
                "aws"
            )
            .as_deref(),
            Some("arn:aws:sqs:eu-west-1:123456789012:jobs")
        );
        assert_eq!(
            queue_arn(
                "https://us-east-2.queue.amazonaws.com/123456789012/a.fifo",
                "aws"
            )
            .as_deref(),
            Some("arn:aws:sqs:us-east-2:123456789012:a.fifo")
        );
        assert_eq!(queue_arn("https://example.com/jobs", "aws"), None);
        assert_eq!(queue_arn("jobs", "aws"), None);
    }

    #[test]
    fn defaults_are_eb_s() {
        let w = Worker::default();
        assert_eq!(w.number("MaxRetries"), 10);
        assert_eq!(w.number("VisibilityTimeout"), 300);
        assert_eq!(w.number("InactivityTimeout"), 299);
    }
}
