//! The AWS shell: the only code that talks to AWS. One file per service reads live state and
//! creates, updates and deletes that service's resources; `live` reads a whole graph's state
//! with batched, concurrent calls; `steps` runs one plan step. Errors are classified here, in
//! one place, and only classified errors are retried.

pub mod autoscaling;
pub mod calls;
pub mod cloudformation;
pub mod ec2;
pub mod elbv2;
pub mod iam;
pub mod kinds;
pub mod live;
pub mod observe;
pub mod route53;
pub mod s3;
pub mod sqs;
pub mod ssm;
pub mod steps;
pub mod store;
pub mod sts;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use calls::CallCounter;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long apply waits for AWS's asynchronous work before giving up.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    /// Load balancer `provisioning` → `active`.
    pub load_balancer_active: Duration,
    /// Auto Scaling group instances InService (or gone, on delete).
    pub instances: Duration,
    /// Route53 change PENDING → INSYNC.
    pub dns_in_sync: Duration,
    /// A new instance profile refused by EC2 / Auto Scaling until IAM has propagated it.
    pub iam_propagation: Duration,
    /// A delete refused because something still uses the resource (ENIs, listeners).
    pub dependency: Duration,
    /// Pause between two polls.
    pub poll: Duration,
}

impl Default for Waits {
    fn default() -> Waits {
        Waits {
            load_balancer_active: Duration::from_secs(600),
            instances: Duration::from_secs(600),
            dns_in_sync: Duration::from_secs(300),
            iam_propagation: Duration::from_secs(120),
            dependency: Duration::from_secs(600),
            poll: Duration::from_secs(5),
        }
    }
}

/// Clients of every service Beanpole uses, in one region, counting their calls.
#[derive(Clone)]
pub struct Aws {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub iam: aws_sdk_iam::Client,
    pub route53: aws_sdk_route53::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub calls: Arc<CallCounter>,
    pub waits: Waits,
    /// Where a stack's events go as CloudFormation records them (an apply's steps set it).
    pub stack_events: Option<cloudformation::StackEventSink>,
}

/// Where to connect: the standard chain (AWS_PROFILE, AWS_REGION, credential files, instance
/// roles, AWS_ENDPOINT_URL), with the spec's region and `--endpoint-url` taking precedence.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

impl Aws {
    pub async fn connect(
        connection: &Connection,
        calls: Arc<CallCounter>,
    ) -> Result<Aws, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(8)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(20)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(region) = &connection.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &connection.endpoint_url {
            loader = loader.endpoint_url(endpoint.clone());
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or(AwsError::NoRegion)?;
        let counter = |service: &'static str| calls.interceptor(service);
        Ok(Aws {
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&sdk)
                    .interceptor(counter("ec2"))
                    .build(),
            ),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
                    .interceptor(counter("elbv2"))
                    .build(),
            ),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(&sdk)
                    .interceptor(counter("autoscaling"))
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&sdk)
                    .interceptor(counter("iam"))
                    .build(),
            ),
            route53: aws_sdk_route53::Client::from_conf(
                aws_sdk_route53::config::Builder::from(&sdk)
                    .interceptor(counter("route53"))
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(&sdk)
                    .interceptor(counter("ssm"))
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&sdk)
                    .interceptor(counter("sts"))
                    .build(),
            ),
            // Path-style addressing for a custom endpoint (a local moto has no bucket DNS).
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(connection.endpoint_url.is_some())
                    .interceptor(counter("s3"))
                    .build(),
            ),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(&sdk)
                    .interceptor(counter("cloudformation"))
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&sdk)
                    .interceptor(counter("sqs"))
                    .build(),
            ),
            region,
            calls,
            waits: Waits::default(),
            stack_events: None,
        })
    }
}

/// What kind of failure an AWS error is: the only input to retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The resource does not exist (fine for a delete).
    NotFound,
    /// Something still uses the resource; it may be released soon.
    InUse,
    /// IAM has not propagated a new role or instance profile yet.
    NotYetPropagated,
    /// What a create would make exists already (a retried create whose first response was
    /// lost finds its own work here).
    AlreadyExists,
    /// S3: the bucket exists and this account owns it already.
    AlreadyOwned,
    /// A request the service refused and would refuse again.
    Rejected,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{operation}: {message}")]
    Api {
        operation: &'static str,
        code: Option<String>,
        message: String,
        class: ErrorClass,
    },
    #[error("{what} did not {until} within {} s", .waited.as_secs())]
    Timeout {
        what: String,
        until: &'static str,
        waited: Duration,
    },
    #[error("Auto Scaling group {group} did not serve within {} s: the load balancer does not report its instances healthy: {unhealthy}. Check the health-check path and the application's logs; run apply again to keep waiting", .waited.as_secs())]
    NotServing {
        group: String,
        waited: Duration,
        unhealthy: String,
    },
    #[error("{0}")]
    Unexpected(String),
    #[error("no AWS region: set the application's `region`, AWS_REGION, or a profile's region")]
    NoRegion,
}

impl AwsError {
    pub fn class(&self) -> ErrorClass {
        match self {
            AwsError::Api { class, .. } => *class,
            _ => ErrorClass::Rejected,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.class() == ErrorClass::NotFound
    }

    /// AWS's own error code, when the error came from AWS.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Classifies an error code (and, where AWS gives no code of its own, its message).
pub fn classify(code: Option<&str>, message: &str) -> ErrorClass {
    let code = code.unwrap_or_default();
    if code.contains("NotFound")
        || code.starts_with("NoSuch")
        || code.contains("NonExistentQueue")
        || code == "QueueDoesNotExist"
        || matches!(
            code,
            "InvalidGroup.NotFound" | "InvalidLaunchTemplateName.NotFoundException"
        )
    {
        return ErrorClass::NotFound;
    }
    if matches!(
        code,
        "DependencyViolation" | "ResourceInUse" | "DeleteConflict" | "ScalingActivityInProgress"
    ) {
        return ErrorClass::InUse;
    }
    if code == "BucketAlreadyOwnedByYou" {
        return ErrorClass::AlreadyOwned;
    }
    let lower = message.to_ascii_lowercase();
    if code.contains("AlreadyExists")
        || code.ends_with(".Duplicate")
        || code.starts_with("Duplicate")
        || (matches!(code, "InvalidChangeBatch" | "InvalidInput")
            && lower.contains("already exists"))
    {
        return ErrorClass::AlreadyExists;
    }
    if (code == "ValidationError" || code == "InvalidParameterValue")
        && (lower.contains("iaminstanceprofile") || lower.contains("instance profile"))
    {
        return ErrorClass::NotYetPropagated;
    }
    if code == "ValidationError" && lower.contains("not found") {
        return ErrorClass::NotFound;
    }
    // Route53 names a DELETE of a record that is already gone in its message only (AWS:
    // InvalidChangeBatch, moto: InvalidInput, "… but it was not found").
    if matches!(code, "InvalidChangeBatch" | "InvalidInput") && lower.contains("not found") {
        return ErrorClass::NotFound;
    }
    ErrorClass::Rejected
}

/// Converts an SDK error to an [`AwsError`] with its class.
pub fn sdk_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_string);
    let message = match error.message() {
        Some(m) => match &code {
            Some(c) => format!("{c}: {m}"),
            None => m.to_string(),
        },
        None => aws_smithy_types::error::display::DisplayErrorContext(&error).to_string(),
    };
    let class = classify(code.as_deref(), &message);
    AwsError::Api {
        operation,
        code,
        message,
        class,
    }
}

/// Extension to turn an SDK result into ours in one call.
pub trait Sdk<T> {
    fn op(self, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E, R> Sdk<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn op(self, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| sdk_error(operation, e))
    }
}

/// Every item a paginated listing's pages yield through `items`, in order, the pages read one
/// after another; the first error is named by `operation`.
pub async fn paginated<O, E, R, T>(
    mut pages: aws_smithy_async::future::pagination_stream::PaginationStream<
        Result<O, SdkError<E, R>>,
    >,
    operation: &'static str,
    mut items: impl FnMut(O) -> Vec<T>,
) -> Result<Vec<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        found.extend(items(page.op(operation)?));
    }
    Ok(found)
}

/// The one rule for what AWS says is not there: absent (`None`), not an error.
pub fn present<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// For deletes: a resource that is already gone counts as deleted.
pub fn already_gone<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    present(result).map(drop)
}

/// Retries `attempt` while it fails with `class`, with exponential backoff, for at most
/// `budget`. Every other error returns at once: a real error is never retried.
pub async fn retry_while<T, F, Fut>(
    class: ErrorClass,
    budget: Duration,
    mut attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        match attempt().await {
            Err(e) if e.class() == class && started.elapsed() + pause < budget => {
                crate::reconcile::executor::idle(tokio::time::sleep(pause)).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
            other => return other,
        }
    }
}

/// Polls `check` until it returns `Some`, for at most `budget`; an error from `check` ends the
/// wait with that error (it is never read as "not yet").
pub async fn wait_for<T, F, Fut>(
    what: &str,
    until: &'static str,
    budget: Duration,
    poll: Duration,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    // What is waited for was asked for just before: look only after a first pause.
    let mut poller = Poller::new(budget, Poll::growing(poll));
    loop {
        if !poller.pause().await {
            return Err(AwsError::Timeout {
                what: what.to_string(),
                until,
                waited: poller.elapsed(),
            });
        }
        if let Some(value) = check().await? {
            return Ok(value);
        }
    }
}

/// How a wait spaces its looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Poll {
    pub first: Duration,
    /// Each later pause is this many times the one before, up to `max`.
    pub growth: f64,
    pub max: Duration,
}

impl Poll {
    /// The same pause every time (a deploy watching its instances and target group).
    pub fn every(pause: Duration) -> Poll {
        Poll {
            first: pause,
            growth: 1.0,
            max: pause,
        }
    }

    /// 1, 2.4, 4.4, 7.1… s, up to `max` (AWS's own asynchronous work).
    pub fn growing(max: Duration) -> Poll {
        Poll {
            first: max.min(FIRST_POLL),
            growth: POLL_GROWTH,
            max,
        }
    }
}

/// A bounded wait, one pause at a time: the caller looks (and returns any AWS error it gets),
/// then asks for the next pause, which is refused once the budget is spent. Pauses hold no
/// parallelism slot of the walker.
#[derive(Debug)]
pub struct Poller {
    started: Instant,
    budget: Duration,
    poll: Poll,
    next: Duration,
}

impl Poller {
    pub fn new(budget: Duration, poll: Poll) -> Poller {
        Poller {
            started: Instant::now(),
            budget,
            poll,
            next: poll.first,
        }
    }

    /// Sleeps the next pause; `false` (at once) when the budget is spent.
    pub async fn pause(&mut self) -> bool {
        if self.started.elapsed() >= self.budget {
            return false;
        }
        crate::reconcile::executor::idle(tokio::time::sleep(self.next)).await;
        self.next = self.next.mul_f64(self.poll.growth).min(self.poll.max);
        true
    }

    /// Like `pause`, but returns early (`true`) once `stop` is raised.
    pub async fn pause_unless(&mut self, stop: &crate::interrupt::Interrupt) -> bool {
        if self.started.elapsed() >= self.budget {
            return false;
        }
        tokio::select! {
            more = self.pause() => more,
            _ = stop.raised() => true,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the budget is spent.
    pub fn spent(&self) -> bool {
        self.started.elapsed() >= self.budget
    }
}

/// The first pause of a wait: AWS is often done well before the longest poll interval, and a
/// wait should notice promptly.
pub const FIRST_POLL: Duration = Duration::from_secs(1);

/// Each later pause is this much longer than the one before, up to `Waits::poll`: a wait
/// looks 1, 2.4, 4.4, 7.1, 10.9, 15.9… s after it starts, then every `poll`. Short polls while
/// the work is likely to end soon, few calls when it takes long; at most 40% late.
pub const POLL_GROWTH: f64 = 1.4;

/// A string attribute of a resolved resource ("" when absent).
pub fn str_attr<'a>(attributes: &'a crate::reconcile::Attributes, key: &str) -> &'a str {
    attributes
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

/// An integer attribute, as the SDKs take it.
pub fn int_attr(attributes: &crate::reconcile::Attributes, key: &str) -> Option<i32> {
    attributes
        .get(key)
        .and_then(serde_json::Value::as_i64)
        .and_then(|v| i32::try_from(v).ok())
}

/// A list-of-strings attribute.
pub fn string_list(attributes: &crate::reconcile::Attributes, key: &str) -> Vec<String> {
    attributes
        .get(key)
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What to send to turn a resource's tags `old` into `new`: tags to set, keys to remove.
/// AWS's own `aws:` tags are never removed.
#[derive(Debug, Default, PartialEq)]
pub struct TagChanges {
    pub set: std::collections::BTreeMap<String, String>,
    pub remove: Vec<String>,
}

pub fn tag_changes(
    old: &std::collections::BTreeMap<String, String>,
    new: &std::collections::BTreeMap<String, String>,
) -> TagChanges {
    TagChanges {
        set: new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        remove: old
            .keys()
            .filter(|k| !new.contains_key(*k) && !k.starts_with("aws:"))
            .cloned()
            .collect(),
    }
}

/// An update of a live resource: its attributes and tags as they are (`before`, `old_tags`)
/// and as they should be (`after`, `tags`).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub before: &'a crate::reconcile::Attributes,
    pub after: &'a crate::reconcile::Attributes,
    pub old_tags: &'a std::collections::BTreeMap<String, String>,
    pub tags: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> Change<'a> {
    /// (before, after, old tags, tags)
    pub fn parts(
        &self,
    ) -> (
        &'a crate::reconcile::Attributes,
        &'a crate::reconcile::Attributes,
        &'a std::collections::BTreeMap<String, String>,
        &'a std::collections::BTreeMap<String, String>,
    ) {
        (self.before, self.after, self.old_tags, self.tags)
    }
}

/// Sets a resource's tags from `old` to exactly `new`, AWS's own `aws:` tags left alone, with
/// its service's two calls: `set` adds or changes tags, `remove` deletes the keys given (with
/// the values they had, for the services that want them).
pub async fn retag<Set, Remove>(
    old: &std::collections::BTreeMap<String, String>,
    new: &std::collections::BTreeMap<String, String>,
    set: impl FnOnce(std::collections::BTreeMap<String, String>) -> Set,
    remove: impl FnOnce(std::collections::BTreeMap<String, String>) -> Remove,
) -> Result<(), AwsError>
where
    Set: std::future::Future<Output = Result<(), AwsError>>,
    Remove: std::future::Future<Output = Result<(), AwsError>>,
{
    let changes = tag_changes(old, new);
    if !changes.set.is_empty() {
        set(changes.set).await?;
    }
    if !changes.remove.is_empty() {
        let gone = changes
            .remove
            .into_iter()
            .map(|k| {
                let v = old.get(&k).cloned().unwrap_or_default();
                (k, v)
            })
            .collect();
        remove(gone).await?;
    }
    Ok(())
}

/// Tags as a sorted map, from any service's (key, value) pairs.
pub fn tag_map<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> std::collections::BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classed_by_code_and_only_where_aws_gives_none_by_message() {
        let cases = [
            ("InvalidGroup.NotFound", "", ErrorClass::NotFound),
            ("InvalidPermission.NotFound", "", ErrorClass::NotFound),
            ("NoSuchEntity", "", ErrorClass::NotFound),
            (
                "InvalidChangeBatch",
                "Tried to delete resource record set x but it was not found",
                ErrorClass::NotFound,
            ),
            ("EntityAlreadyExists", "", ErrorClass::AlreadyExists),
            ("InvalidGroup.Duplicate", "", ErrorClass::AlreadyExists),
            ("DuplicateTargetGroupName", "", ErrorClass::AlreadyExists),
            (
                "InvalidChangeBatch",
                "Tried to create resource record set x but it already exists",
                ErrorClass::AlreadyExists,
            ),
            ("DependencyViolation", "", ErrorClass::InUse),
            (
                "ValidationError",
                "Invalid IamInstanceProfile: pets-ec2",
                ErrorClass::NotYetPropagated,
            ),
            (
                "ValidationError",
                "At least two subnets must be specified",
                ErrorClass::Rejected,
            ),
        ];
        for (code, message, class) in cases {
            assert_eq!(classify(Some(code), message), class, "{code}: {message}");
        }
    }
}
