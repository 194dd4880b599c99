//! One step of an apply: create, update, replace or delete one resource (or wait until a new
//! one is ready), given the desired resource with its references resolved from the outputs of
//! the steps before it. What each kind does is in `aws::kinds`.

use super::kinds::{ops, Desired};
use super::{Aws, AwsError};
use crate::graph::Address;
use crate::reconcile::plan::{resolve_attributes, tags_with_hash};
use crate::reconcile::steps::StepWork;
use crate::reconcile::{contains_unknown, Action, Attributes, LiveResource};
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
            let desired = resolve_attributes(resource, &produced);
            let own = produced.get(&resource.address).cloned().unwrap_or_default();
            let to = Desired {
                aws,
                resource,
                attributes: &desired,
                tags: &resource.tags,
            };
            ops(resource.kind).await_ready(&to, &own).await
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
            let tags = tags_with_hash(resource, &desired);
            let to = Desired {
                aws,
                resource,
                attributes: &desired,
                tags: &tags,
            };
            let kind = ops(resource.kind);
            let produced = match (action, live) {
                (Action::Update, Some(live)) => {
                    let mut out = live.outputs.clone();
                    out.extend(kind.update(&to, live).await?);
                    out
                }
                (Action::Replace, Some(live)) if live.aws_name == resource.aws_name => {
                    delete(aws, live).await?;
                    kind.create(&to).await?
                }
                // A replacement under a new name: the old one is deleted by a later step, once
                // nothing uses it any more.
                _ => kind.create(&to).await?,
            };
            outputs.publish(&resource.address, produced);
            Ok(())
        }
    }
}

/// Deletes one owned resource; a resource already gone counts as deleted.
pub async fn delete(aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
    ops(live.kind).delete(aws, live).await
}

/// Creates a resource that depends on nothing, exactly as an apply's step would (its tags and
/// desired-state hash included), outside any plan: the versions bucket, which the application
/// lock needs before the first apply can plan.
pub async fn create_standalone(
    aws: &Aws,
    resource: &crate::graph::Resource,
) -> Result<Attributes, AwsError> {
    let desired = resolve_attributes(resource, &BTreeMap::new());
    let tags = tags_with_hash(resource, &desired);
    let to = Desired {
        aws,
        resource,
        attributes: &desired,
        tags: &tags,
    };
    ops(resource.kind).create(&to).await
}
