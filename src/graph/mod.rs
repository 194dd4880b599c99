//! The resource graph: every AWS resource of every environment as a node with a stable address,
//! its deterministic AWS name, its ownership tags and its desired attributes, and an edge from each
//! resource to every resource it depends on. Plan and apply work on this graph alone.

pub mod compile;
pub mod engines;
pub mod export;
pub mod kinds;
pub mod names;
pub mod render;
pub mod schema;
pub mod stacks;

pub use compile::compile_graph;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Tag keys Beanpole puts on everything it creates: how it proves ownership without a state file.
pub const TAG_MANAGED_BY: &str = "beanpole:managed-by";
pub const TAG_APPLICATION: &str = "beanpole:application";
pub const TAG_ENVIRONMENT: &str = "beanpole:environment";
pub const TAG_ADDRESS: &str = "beanpole:address";
pub const MANAGED_BY_VALUE: &str = "beanpole";
/// Stand for the account and the region in ARNs the spec cannot know (a parameter's), until
/// the plan binds the account.
pub const ACCOUNT_PLACEHOLDER: &str = "@@BEANPOLE_ACCOUNT@@";
pub const REGION_PLACEHOLDER: &str = "@@BEANPOLE_REGION@@";
/// On a deployment's temporary resources (immutable, traffic splitting): the deployment's id.
pub const TAG_DEPLOYMENT: &str = "beanpole:deployment";
/// On a stack a deploy made from a version's `Resources:`: plans leave it to the deploys, a
/// destroy deletes it with its environment.
pub const TAG_SOURCE: &str = "beanpole:source";
pub const SOURCE_BUNDLE: &str = "bundle";
/// The application tag of a resource every application shares (the versions bucket).
pub const SHARED_APPLICATION: &str = "*";

/// A resource's stable name in the spec: `environment.pets-env-blue.load_balancer`,
/// `module.shop.environment.shop-blue.target_group`, `application.pets-app.hosted_zone`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(pub String);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// Looked up, never created: the VPC and subnets an environment runs in.
    Network,
    /// Looked up, never created: the AMI from the platform's public SSM parameter.
    PlatformImage,
    /// Looked up, never created: the Route53 hosted zone of the application's domain.
    HostedZone,
    SecurityGroup,
    IamRole,
    InstanceProfile,
    LaunchTemplate,
    TargetGroup,
    LoadBalancer,
    Listener,
    AutoScalingGroup,
    ScalingPolicy,
    CnameRecord,
    /// The TXT record that says which environment owns a CNAME.
    OwnershipRecord,
    /// The S3 bucket of application versions, one per account and region.
    VersionsBucket,
    /// A CloudFormation stack of extra resources (an application's or an environment's).
    Stack,
}

impl ResourceKind {
    /// Every kind, in the enum's order.
    pub const ALL: &'static [ResourceKind] = &[
        ResourceKind::Network,
        ResourceKind::PlatformImage,
        ResourceKind::HostedZone,
        ResourceKind::SecurityGroup,
        ResourceKind::IamRole,
        ResourceKind::InstanceProfile,
        ResourceKind::LaunchTemplate,
        ResourceKind::TargetGroup,
        ResourceKind::LoadBalancer,
        ResourceKind::Listener,
        ResourceKind::AutoScalingGroup,
        ResourceKind::ScalingPolicy,
        ResourceKind::CnameRecord,
        ResourceKind::OwnershipRecord,
        ResourceKind::VersionsBucket,
        ResourceKind::Stack,
    ];

    /// What Beanpole knows about this kind: the one match from kinds to their schemas.
    pub fn schema(self) -> &'static schema::KindSchema {
        match self {
            ResourceKind::Network => &kinds::network::SCHEMA,
            ResourceKind::PlatformImage => &kinds::platform_image::SCHEMA,
            ResourceKind::HostedZone => &kinds::hosted_zone::SCHEMA,
            ResourceKind::SecurityGroup => &kinds::security_group::SCHEMA,
            ResourceKind::IamRole => &kinds::iam_role::SCHEMA,
            ResourceKind::InstanceProfile => &kinds::instance_profile::SCHEMA,
            ResourceKind::LaunchTemplate => &kinds::launch_template::SCHEMA,
            ResourceKind::TargetGroup => &kinds::target_group::SCHEMA,
            ResourceKind::LoadBalancer => &kinds::load_balancer::SCHEMA,
            ResourceKind::Listener => &kinds::listener::SCHEMA,
            ResourceKind::AutoScalingGroup => &kinds::auto_scaling_group::SCHEMA,
            ResourceKind::ScalingPolicy => &kinds::scaling_policy::SCHEMA,
            ResourceKind::CnameRecord => &kinds::cname_record::SCHEMA,
            ResourceKind::OwnershipRecord => &kinds::ownership_record::SCHEMA,
            ResourceKind::VersionsBucket => &kinds::versions_bucket::SCHEMA,
            ResourceKind::Stack => &kinds::stack::SCHEMA,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.schema().name
    }

    /// Data sources are read from the account, never created, changed or deleted.
    pub fn is_data(self) -> bool {
        self.schema().data
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Replaces `from` by `to` in every string inside `value`.
fn replace_in_strings(value: &mut serde_json::Value, from: &str, to: &str) {
    match value {
        serde_json::Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        serde_json::Value::Array(items) => items
            .iter_mut()
            .for_each(|v| replace_in_strings(v, from, to)),
        serde_json::Value::Object(map) => map
            .values_mut()
            .for_each(|v| replace_in_strings(v, from, to)),
        _ => {}
    }
}

/// The key of a reference object in attributes: `{"$ref": "ADDRESS.ATTRIBUTE"}`.
pub const REFERENCE_KEY: &str = "$ref";

/// A value that only exists once another resource does. It is an object no spec value can
/// produce (spec values reach attributes only as strings, numbers, bools and lists), so a
/// user's string can never be mistaken for a reference.
pub fn reference(address: &Address, attribute: &str) -> serde_json::Value {
    serde_json::json!({ REFERENCE_KEY: format!("{address}.{attribute}") })
}

/// If `value` is a reference object, the address and attribute it names.
pub fn parse_reference(value: &serde_json::Value) -> Option<(Address, &str)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let target = map.get(REFERENCE_KEY)?.as_str()?;
    let (address, attribute) = target.rsplit_once('.')?;
    Some((Address(address.to_string()), attribute))
}

/// One node: a resource Beanpole manages, or a data source it reads.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub address: Address,
    pub kind: ResourceKind,
    /// The name the resource has in AWS (for data sources: what is looked up).
    pub aws_name: String,
    pub application: String,
    pub environment: Option<String>,
    /// Desired configuration; `{"$ref": "ADDRESS.ATTRIBUTE"}` objects are references.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// User tags plus Beanpole's ownership tags (empty for data sources and DNS records).
    pub tags: BTreeMap<String, String>,
}

/// The dependency graph. An edge runs from a resource to one it depends on.
#[derive(Debug, Clone, Default)]
pub struct ResourceGraph {
    pub graph: DiGraph<Resource, ()>,
    index: BTreeMap<Address, NodeIndex>,
}

impl ResourceGraph {
    pub fn new() -> ResourceGraph {
        ResourceGraph::default()
    }

    pub fn add(&mut self, resource: Resource) -> NodeIndex {
        let address = resource.address.clone();
        let node = self.graph.add_node(resource);
        self.index.insert(address, node);
        node
    }

    /// Names what holds the account and region (the versions bucket, and the user data and
    /// instance permissions that name it), once the shell knows them: `where_` gives an
    /// application's (account, region).
    pub fn bind_account(&mut self, where_: impl Fn(&str) -> Option<(String, String)>) {
        for resource in self.graph.node_weights_mut() {
            let Some((account, region)) = where_(&resource.application) else {
                continue;
            };
            let bucket = kinds::versions_bucket::name(&account, &region);
            if resource.kind == ResourceKind::VersionsBucket {
                resource.aws_name = bucket.clone();
            }
            for value in resource.attributes.values_mut() {
                replace_in_strings(value, crate::platform::boot::BUCKET_PLACEHOLDER, &bucket);
                replace_in_strings(value, ACCOUNT_PLACEHOLDER, &account);
                replace_in_strings(value, REGION_PLACEHOLDER, &region);
            }
        }
    }

    /// Adds an edge `from` → `to` (from depends on to). Unknown addresses are ignored.
    pub fn depend(&mut self, from: &Address, to: &Address) {
        if let (Some(&a), Some(&b)) = (self.index.get(from), self.index.get(to)) {
            self.graph.update_edge(a, b, ());
        }
    }

    pub fn node(&self, address: &Address) -> Option<NodeIndex> {
        self.index.get(address).copied()
    }

    pub fn get(&self, address: &Address) -> Option<&Resource> {
        self.node(address).map(|n| &self.graph[n])
    }

    /// Resources in address order.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.index.values().map(|n| &self.graph[*n])
    }

    /// Edges as (from, to) address pairs, sorted.
    pub fn edges(&self) -> Vec<(&Address, &Address)> {
        let mut edges: Vec<(&Address, &Address)> = self
            .graph
            .raw_edges()
            .iter()
            .map(|e| {
                (
                    &self.graph[e.source()].address,
                    &self.graph[e.target()].address,
                )
            })
            .collect();
        edges.sort();
        edges
    }

    /// Addresses a resource depends on, sorted.
    pub fn dependencies(&self, address: &Address) -> Vec<&Address> {
        let Some(node) = self.node(address) else {
            return Vec::new();
        };
        let mut out: Vec<&Address> = self
            .graph
            .neighbors(node)
            .map(|n| &self.graph[n].address)
            .collect();
        out.sort();
        out
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }
}
