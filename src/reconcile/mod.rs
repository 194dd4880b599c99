//! Reconciliation, the pure half: what the account holds (as the AWS shell read it), the diff of
//! the resource graph against it (the plan), how a plan is shown and saved, and the walker that
//! runs a plan's steps in parallel along the graph. Nothing here calls AWS or reads files; the
//! shell in `crate::aws` feeds it live state and runs the steps it hands out.

pub mod executor;
pub mod plan;
pub mod planfile;
pub mod render;
pub mod rollouts;
pub mod stacks;
pub mod steps;
pub mod swaps;
#[cfg(test)]
mod tests;

pub use plan::{
    diff, Action, AttributeChange, Change, Plan, PlanError, PlanScope, Summary,
    UnfinishedDeployment,
};

use crate::graph::{Address, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Tag recording a hash of the desired attributes a resource was last written with: when the
/// spec still asks for exactly that and AWS differs, the difference was made outside Beanpole.
pub const TAG_DESIRED_HASH: &str = "beanpole:desired-hash";

/// Attribute values of one resource, in the same shape as the graph's desired attributes.
pub type Attributes = BTreeMap<String, Value>;

/// One resource as the account reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LiveResource {
    pub kind: ResourceKind,
    pub aws_name: String,
    /// Its tags (or, for DNS records, its TXT marker) prove Beanpole created it for this
    /// account's `application`. A resource with Beanpole's name that is not owned is foreign.
    pub owned: bool,
    pub application: Option<String>,
    pub environment: Option<String>,
    /// The graph address its ownership tag names.
    pub address: Option<Address>,
    pub attributes: Attributes,
    /// Values other resources refer to: `id`, `arn`, `name`, `dns_name`, `latest_version`…
    pub outputs: Attributes,
    pub tags: BTreeMap<String, String>,
}

impl LiveResource {
    /// A live resource whose ownership comes from its tags: Beanpole's `managed-by` tag and
    /// an application tag.
    pub fn from_tags(
        kind: ResourceKind,
        name: &str,
        tags: BTreeMap<String, String>,
        attributes: Attributes,
        outputs: Attributes,
    ) -> LiveResource {
        use crate::graph::{
            MANAGED_BY_VALUE, TAG_ADDRESS, TAG_APPLICATION, TAG_ENVIRONMENT, TAG_MANAGED_BY,
        };
        let owned = tags.get(TAG_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && tags.contains_key(TAG_APPLICATION);
        LiveResource {
            kind,
            aws_name: name.to_string(),
            owned,
            application: tags.get(TAG_APPLICATION).cloned(),
            environment: tags.get(TAG_ENVIRONMENT).cloned(),
            address: tags.get(TAG_ADDRESS).map(|a| Address(a.clone())),
            attributes,
            outputs,
            tags,
        }
    }

    /// How the resource is named in messages when it has no address of its own.
    pub fn display_address(&self) -> Address {
        self.address
            .clone()
            .unwrap_or_else(|| Address(format!("{}[{}]", self.kind, self.aws_name)))
    }

    /// Stable identity of a live resource across two reads.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.aws_name)
    }

    /// A digest of everything a plan was computed from: used to detect a stale plan.
    pub fn fingerprint(&self) -> String {
        let text =
            serde_json::to_string(&(&self.attributes, &self.tags, &self.owned)).unwrap_or_default();
        crate::graph::names::short_hash(&text)
    }
}

/// Everything read from the account for one plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LiveState {
    /// Resources found by Beanpole's names or ownership tags.
    pub resources: Vec<LiveResource>,
    /// Outputs of the data sources (network, platform image, hosted zone), or why the lookup
    /// failed.
    pub data: BTreeMap<Address, Result<Attributes, String>>,
}

impl LiveState {
    pub fn fingerprints(&self) -> BTreeMap<String, String> {
        self.resources
            .iter()
            .map(|r| (r.key(), r.fingerprint()))
            .collect()
    }
}

/// API calls made, per service, for `-v` and `--json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CallStats {
    pub per_service: BTreeMap<String, u64>,
    pub wall_ms: u128,
}

impl CallStats {
    pub fn total(&self) -> u64 {
        self.per_service.values().sum()
    }
}

/// The marker `{"$unknown": true}` stands for a value AWS decides during apply.
pub const UNKNOWN_KEY: &str = "$unknown";

pub fn unknown() -> Value {
    serde_json::json!({ UNKNOWN_KEY: true })
}

pub fn is_unknown(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key(UNKNOWN_KEY))
}

pub fn contains_unknown(value: &Value) -> bool {
    match value {
        Value::Object(map) => is_unknown(value) || map.values().any(contains_unknown),
        Value::Array(items) => items.iter().any(contains_unknown),
        _ => false,
    }
}
