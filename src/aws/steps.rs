//! One step of an apply: create, update, replace or delete one resource, given the desired
//! resource with its references resolved from the outputs of the steps before it.

use super::{autoscaling, ec2, elbv2, iam, route53, Aws, AwsError};
use crate::graph::{Address, Resource, ResourceKind};
use crate::reconcile::plan::{desired_hash, resolve_attributes};
use crate::reconcile::steps::StepWork;
use crate::reconcile::{contains_unknown, Action, Attributes, LiveResource, TAG_DESIRED_HASH};
use aws_sdk_route53::types::ChangeAction;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Why a step failed: the AWS error with its class, or a failure of Beanpole's own.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("no AWS connection for application `{0}`")]
    NoConnection(String),
    /// A bug: the step's task panicked.
    #[error("internal error (the step panicked: {0})")]
    Panicked(String),
}

impl From<crate::reconcile::executor::Panicked> for StepError {
    fn from(p: crate::reconcile::executor::Panicked) -> StepError {
        StepError::Panicked(p.0)
    }
}

impl StepError {
    /// The class of the AWS error behind it, if AWS refused something.
    pub fn class(&self) -> Option<super::ErrorClass> {
        match self {
            StepError::Aws(e) => Some(e.class()),
            _ => None,
        }
    }
}

/// The outputs of every resource done so far, shared by the running steps.
#[derive(Debug, Default)]
pub struct Outputs(pub Mutex<BTreeMap<Address, Attributes>>);

impl Outputs {
    pub fn snapshot(&self) -> BTreeMap<Address, Attributes> {
        self.0.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn publish(&self, address: &Address, values: Attributes) {
        if let Ok(mut outputs) = self.0.lock() {
            outputs.entry(address.clone()).or_default().extend(values);
        }
    }
}

pub async fn run_step(aws: &Aws, work: &StepWork, outputs: &Outputs) -> Result<(), AwsError> {
    match work {
        StepWork::Delete { live } => delete(aws, live).await,
        StepWork::AwaitReady { resource } => {
            let produced = outputs.snapshot();
            let arn = produced
                .get(&resource.address)
                .and_then(|o| o.get("arn"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            match resource.kind {
                ResourceKind::LoadBalancer => {
                    elbv2::wait_active(aws, &arn, &resource.aws_name).await
                }
                ResourceKind::AutoScalingGroup => {
                    let desired = resolve_attributes(resource, &produced);
                    autoscaling::wait_serving(
                        aws,
                        &resource.aws_name,
                        super::int_attr(&desired, "desired_capacity").unwrap_or(0),
                        &super::string_list(&desired, "target_group_arns"),
                    )
                    .await
                }
                _ => Ok(()),
            }
        }
        StepWork::Converge {
            resource,
            live,
            action,
        } => {
            let Some(action) = action else {
                if let Some(live) = live {
                    outputs.publish(&resource.address, live.outputs.clone());
                }
                return Ok(());
            };
            let desired = resolve_attributes(resource, &outputs.snapshot());
            if desired.values().any(contains_unknown) {
                return Err(AwsError::Unexpected(format!(
                    "{}: a value it needs is not known (a resource it depends on was not applied)",
                    resource.address
                )));
            }
            let mut tags = resource.tags.clone();
            if !tags.is_empty() {
                tags.insert(
                    TAG_DESIRED_HASH.to_string(),
                    desired_hash(resource.kind, &desired, &resource.tags),
                );
            }
            let produced = match (action, live) {
                (Action::Update, Some(live)) => {
                    let mut out = live.outputs.clone();
                    out.extend(update(aws, resource, live, &desired, &tags).await?);
                    out
                }
                (Action::Replace, Some(live)) if live.aws_name == resource.aws_name => {
                    delete(aws, live).await?;
                    create(aws, resource, &desired, &tags).await?
                }
                // A replacement under a new name: the old one is deleted by a later step, once
                // nothing uses it any more.
                _ => create(aws, resource, &desired, &tags).await?,
            };
            outputs.publish(&resource.address, produced);
            Ok(())
        }
    }
}

async fn create(
    aws: &Aws,
    resource: &Resource,
    desired: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let name = resource.aws_name.as_str();
    match resource.kind {
        ResourceKind::SecurityGroup => {
            ec2::create_security_group(&aws.ec2, name, desired, tags).await
        }
        ResourceKind::IamRole => iam::create_role(&aws.iam, name, desired, tags).await,
        ResourceKind::InstanceProfile => {
            iam::create_instance_profile(&aws.iam, name, desired, tags).await
        }
        ResourceKind::LaunchTemplate => {
            ec2::create_launch_template(&aws.ec2, name, desired, tags).await
        }
        ResourceKind::TargetGroup => {
            elbv2::create_target_group(&aws.elbv2, name, desired, tags).await
        }
        ResourceKind::LoadBalancer => elbv2::create_load_balancer(aws, name, desired, tags).await,
        ResourceKind::Listener => elbv2::create_listener(&aws.elbv2, desired, tags).await,
        ResourceKind::AutoScalingGroup => autoscaling::create_group(aws, name, desired, tags).await,
        ResourceKind::ScalingPolicy => {
            autoscaling::put_policy(&aws.autoscaling, name, desired).await
        }
        ResourceKind::CnameRecord | ResourceKind::OwnershipRecord => {
            write_record(aws, ChangeAction::Create, desired, &resource.address).await?;
            Ok(BTreeMap::from([(
                "name".to_string(),
                serde_json::json!(name),
            )]))
        }
        ResourceKind::Network | ResourceKind::PlatformImage | ResourceKind::HostedZone => {
            Ok(Attributes::new())
        }
    }
}

async fn update(
    aws: &Aws,
    resource: &Resource,
    live: &LiveResource,
    desired: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let id = |key: &str| {
        live.outputs
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let name = resource.aws_name.as_str();
    let before = &live.attributes;
    let old_tags = &live.tags;
    match resource.kind {
        ResourceKind::SecurityGroup => {
            ec2::update_security_group(&aws.ec2, &id("id"), before, desired, old_tags, tags).await?
        }
        ResourceKind::IamRole => {
            iam::update_role(&aws.iam, name, before, desired, old_tags, tags).await?
        }
        ResourceKind::InstanceProfile => {
            iam::update_instance_profile(&aws.iam, name, before, desired, old_tags, tags).await?
        }
        ResourceKind::LaunchTemplate => {
            return ec2::update_launch_template(&aws.ec2, &id("id"), desired, old_tags, tags).await
        }
        ResourceKind::TargetGroup => {
            elbv2::update_target_group(&aws.elbv2, &id("arn"), desired, old_tags, tags).await?
        }
        ResourceKind::LoadBalancer => {
            elbv2::update_load_balancer(&aws.elbv2, &id("arn"), before, desired, old_tags, tags)
                .await?
        }
        ResourceKind::Listener => {
            elbv2::update_listener(&aws.elbv2, &id("arn"), desired, old_tags, tags).await?
        }
        ResourceKind::AutoScalingGroup => {
            autoscaling::update_group(aws, name, before, desired, old_tags, tags).await?
        }
        ResourceKind::ScalingPolicy => {
            autoscaling::put_policy(&aws.autoscaling, name, desired).await?;
        }
        ResourceKind::CnameRecord | ResourceKind::OwnershipRecord => {
            let weighted = route53::weighted_of(live);
            if weighted.is_empty() {
                // The plan proved the record is Beanpole's before an UPSERT may overwrite it.
                write_record(aws, ChangeAction::Upsert, desired, &resource.address).await?
            } else {
                // An unfinished gradual swap: its weighted records give way to the simple
                // record the ownership marker says, in one atomic batch.
                let zone = super::str_attr(desired, "zone_id").to_string();
                let mut edits: Vec<route53::Edit> = weighted
                    .iter()
                    .map(|w| route53::Edit::Delete(w.record(name)))
                    .collect();
                edits.push(route53::Edit::Upsert(route53::Record::simple(
                    name,
                    "CNAME",
                    super::str_attr(desired, "value"),
                )));
                route53::edit_records(
                    aws,
                    &zone,
                    &format!("beanpole: {} (end an unfinished gradual swap)", resource.address),
                    &edits,
                )
                .await?
            }
        }
        ResourceKind::Network | ResourceKind::PlatformImage | ResourceKind::HostedZone => {}
    }
    Ok(Attributes::new())
}

async fn write_record(
    aws: &Aws,
    action: ChangeAction,
    attributes: &Attributes,
    address: &Address,
) -> Result<(), AwsError> {
    let zone = super::str_attr(attributes, "zone_id").to_string();
    let create = action == ChangeAction::Create;
    let change = route53::change(action, route53::record_set(attributes)?)?;
    match route53::submit(aws, &zone, &format!("beanpole: {address}"), vec![change]).await {
        // A CREATE whose response was lost and that the SDK retried finds its own record:
        // that is success, but only when the record holds exactly what was written.
        Err(e) if create && e.class() == super::ErrorClass::AlreadyExists => {
            let name = super::str_attr(attributes, "name");
            let kind = super::str_attr(attributes, "type");
            let want = super::str_attr(attributes, "value");
            match route53::read_record(&aws.route53, &zone, name, kind).await? {
                Some(value) if value.trim_end_matches('.') == want.trim_end_matches('.') => Ok(()),
                Some(_) => Err(e),
                // Nothing is there after all (moto reports a re-created record as existing):
                // the name is free, so writing it overwrites nobody's record.
                None => {
                    let change =
                        route53::change(ChangeAction::Upsert, route53::record_set(attributes)?)?;
                    route53::submit(aws, &zone, &format!("beanpole: {address}"), vec![change]).await
                }
            }
        }
        other => other,
    }
}

/// Deletes one owned resource; a resource already gone counts as deleted.
pub async fn delete(aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
    let id = |key: &str| {
        live.outputs
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let name = live.aws_name.as_str();
    match live.kind {
        ResourceKind::SecurityGroup => {
            ec2::delete_security_group(aws, &id("id"), &live.attributes).await
        }
        ResourceKind::IamRole => iam::delete_role(aws, name).await,
        ResourceKind::InstanceProfile => {
            iam::delete_instance_profile(&aws.iam, name, &live.attributes).await
        }
        ResourceKind::LaunchTemplate => ec2::delete_launch_template(&aws.ec2, &id("id")).await,
        ResourceKind::TargetGroup => elbv2::delete_target_group(aws, &id("arn")).await,
        ResourceKind::LoadBalancer => elbv2::delete_load_balancer(aws, &id("arn"), name).await,
        ResourceKind::Listener => elbv2::delete_listener(&aws.elbv2, &id("arn")).await,
        ResourceKind::AutoScalingGroup => autoscaling::delete_group(aws, name).await,
        ResourceKind::ScalingPolicy => {
            let group = super::str_attr(&live.attributes, "auto_scaling_group_name");
            autoscaling::delete_policy(&aws.autoscaling, group, name).await
        }
        ResourceKind::CnameRecord | ResourceKind::OwnershipRecord => {
            let zone = super::str_attr(&live.attributes, "zone_id").to_string();
            let weighted = route53::weighted_of(live);
            if !weighted.is_empty() {
                let edits: Vec<route53::Edit> = weighted
                    .iter()
                    .map(|w| route53::Edit::Delete(w.record(name)))
                    .collect();
                return route53::edit_records(
                    aws,
                    &zone,
                    &format!("beanpole: delete {name} (weighted)"),
                    &edits,
                )
                .await;
            }
            // A DELETE must repeat the exact stored value.
            let mut exact = live.attributes.clone();
            if let Some(value) = live.outputs.get("record_value").filter(|v| v.is_string()) {
                exact.insert("value".to_string(), value.clone());
            }
            let change = route53::change(ChangeAction::Delete, route53::record_set(&exact)?)?;
            // Already gone counts as deleted.
            super::already_gone(
                route53::submit(
                    aws,
                    &zone,
                    &format!("beanpole: delete {name}"),
                    vec![change],
                )
                .await,
            )
        }
        ResourceKind::Network | ResourceKind::PlatformImage | ResourceKind::HostedZone => Ok(()),
    }
}
