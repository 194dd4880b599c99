//! The plan: the resource graph diffed against live state. Pure: the same graph and the same
//! live state always give the same plan. Each resource is created, updated in place, replaced
//! (naming the attribute that forces it) or deleted; a resource with Beanpole's name that
//! Beanpole does not own stops the plan, and is never adopted.

use super::{contains_unknown, unknown, Attributes, LiveResource, LiveState};
use crate::graph::{parse_reference, Address, Resource, ResourceGraph, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated in place",
            Action::Replace => "replaced",
            Action::Delete => "destroyed",
        }
    }
}

/// One attribute that differs between the account and the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub name: String,
    /// What the account has (`null` when the resource does not exist yet).
    pub before: Value,
    /// What the spec asks for (`null` when unknown until apply, or for a deletion).
    pub after: Value,
    /// True when AWS decides the value during apply.
    pub after_unknown: bool,
    /// True when AWS cannot change this attribute in place.
    pub forces_replacement: bool,
}

/// One resource the plan changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub kind: ResourceKind,
    pub aws_name: String,
    pub application: String,
    pub environment: Option<String>,
    pub action: Action,
    /// True when the spec has not changed since Beanpole last wrote the resource, so the
    /// difference was made outside Beanpole.
    pub drift: bool,
    /// For a replacement under a new name: the name of the resource being replaced.
    pub replaces: Option<String>,
    pub attributes: Vec<AttributeChange>,
    /// A stack's change: the change set that carries it out, resource by resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set: Option<super::stacks::ChangeSet>,
    /// A stack's deletion: the resources it keeps because they hold data (`orders
    /// (AWS::DynamoDB::Table)`); `--delete-data` deletes them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum PlanError {
    #[error("{kind} `{aws_name}` ({address}) already exists and was not created by Beanpole for application `{application}`{owner}; Beanpole never adopts, changes or deletes it", owner = owner_phrase(.owner))]
    ForeignResource {
        address: Address,
        kind: ResourceKind,
        aws_name: String,
        application: String,
        owner: Option<String>,
    },
    #[error("{address}: {message}")]
    DataSource { address: Address, message: String },
    #[error("environment {environment} runs on the {from} engine; switching it to `engine = \"{to}\"` is refused: Beanpole does not move live resources between engines. Keep its engine, or destroy the environment first (with the engine it has) and apply again")]
    EngineSwitch {
        environment: String,
        from: String,
        to: String,
    },
    #[error("{address}: the change set would lose data: {}; run again with --delete-data if that is meant (or change the spec so that the resource stays)", .resources.join(", "))]
    DataLoss {
        address: Address,
        resources: Vec<String>,
    },
    #[error("{address}: the versions bucket `{aws_name}` also holds versions of {}: it stays (destroy without --delete-versions, or destroy those applications too)", .others.join(", "))]
    SharedInUse {
        address: Address,
        aws_name: String,
        others: Vec<String>,
    },
}

fn owner_phrase(owner: &Option<String>) -> String {
    match owner {
        Some(application) => format!(" (it belongs to Beanpole application `{application}`)"),
        None => String::new(),
    }
}

/// Which part of the spec a command works on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanScope {
    /// Environment names; empty means every environment of the spec.
    pub environments: Vec<String>,
    /// Plan the deletion of everything Beanpole owns in scope.
    pub destroy: bool,
    /// With `destroy` of whole applications: also delete the versions bucket, if it holds
    /// versions of no other application.
    #[serde(default)]
    pub delete_versions: bool,
    /// Delete (or replace) extra resources that hold data; without it a stack's deletion
    /// keeps them and a change set that would lose them is refused.
    #[serde(default)]
    pub delete_data: bool,
}

impl PlanScope {
    pub fn includes(&self, environment: Option<&str>) -> bool {
        match environment {
            _ if self.environments.is_empty() => true,
            Some(name) => self.environments.iter().any(|e| e == name),
            // Application-level nodes (the hosted zone) serve every environment.
            None => true,
        }
    }
}

/// The diff, plus what apply needs to run it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Changes in address order.
    pub changes: Vec<Change>,
    pub errors: Vec<PlanError>,
    /// The live resource each graph address was matched with.
    pub matched: BTreeMap<Address, LiveResource>,
    /// Owned resources the plan deletes (the old half of a replacement under a new name
    /// included), by the address they are shown under.
    pub deletions: BTreeMap<Address, LiveResource>,
    /// Outputs known before apply: data sources and resources that keep their identity.
    pub known_outputs: BTreeMap<Address, Attributes>,
    /// Graph addresses in scope, in dependency order (dependencies first).
    pub order: Vec<Address>,
    /// Names served by another environment than the spec's, after a swap.
    pub swapped: Vec<super::swaps::Swapped>,
    /// Changes that reach an environment's running instances, carried out by apply after
    /// the resources (`ops::plan` adds them: they need the spec's deployment settings).
    pub rollouts: Vec<InstanceRollout>,
    /// Deployments whose command died before they ended, undone by apply before the
    /// resources (`ops::plan` finds them in the versions bucket).
    pub unfinished: Vec<UnfinishedDeployment>,
    /// What CloudFormation's drift detection found in each stack the plan keeps, drifted or
    /// not known (`ops::plan` asks CloudFormation). Apply does not undo it: shown, not planned.
    pub stack_drift: Vec<super::stacks::StackDrift>,
    /// Where each environment's option values that differ from the default come from: the
    /// spec or the version it runs (`ops::plan` reads the version). Shown, not planned.
    pub settings: Vec<crate::platform::precedence::EnvironmentValues>,
}

/// A deployment whose command died before it ended (its record is no longer renewed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfinishedDeployment {
    pub application: String,
    pub environment: String,
    pub deployment_id: u64,
    pub version: String,
    pub policy: crate::model::DeploymentPolicy,
    /// Instances it added to the environment's group.
    pub added: Vec<String>,
}

impl UnfinishedDeployment {
    /// `environment pets-env-blue: deployment 7 of v2 (rolling) was left unfinished …`
    pub fn note(&self) -> String {
        format!(
            "environment {}: deployment {} of {} ({}) was left unfinished by a command that died; apply undoes it first (its temporary resources removed{}, every instance back in the target group, the environment's version back on the instances that took {})",
            self.environment,
            self.deployment_id,
            self.version,
            self.policy.name(),
            if self.added.is_empty() {
                String::new()
            } else {
                format!(", the instances it added retired: {}", self.added.join(", "))
            },
            self.version
        )
    }
}

/// A change that reaches an environment's running instances: new instances rolled out through
/// its deployment policy, or a configuration deployment in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRollout {
    pub application: String,
    pub environment: String,
    pub change: crate::reconcile::rollouts::InstanceChange,
    /// The group's instances now.
    pub instances: i64,
    pub policy: crate::model::DeploymentPolicy,
    pub batch_size: crate::model::BatchSize,
}

impl InstanceRollout {
    /// `environment pets-env-blue: rolls 3 instances, rolling, batch 1 (…)`
    pub fn note(&self) -> String {
        let how = match self.policy {
            crate::model::DeploymentPolicy::AllAtOnce => "all-at-once".to_string(),
            crate::model::DeploymentPolicy::Immutable
            | crate::model::DeploymentPolicy::TrafficSplitting => self.policy.name().to_string(),
            _ => format!(
                "{}, batch {}",
                self.policy.name(),
                self.batch_size
                    .of(u32::try_from(self.instances).unwrap_or(0))
            ),
        };
        let plural = if self.instances == 1 { "" } else { "s" };
        match self.change {
            crate::reconcile::rollouts::InstanceChange::NewInstances => format!(
                "environment {}: rolls {} instance{plural}, {how} (each replaced by one launched from the new launch template)",
                self.environment, self.instances
            ),
            crate::reconcile::rollouts::InstanceChange::Configuration => format!(
                "environment {}: configuration deployment in place on {} instance{plural}, {} (new settings; no instance replaced; .platform/confighooks run)",
                self.environment,
                self.instances,
                match self.policy {
                    crate::model::DeploymentPolicy::AllAtOnce => "all-at-once".to_string(),
                    _ => format!(
                        "rolling, batch {}",
                        self.batch_size.of(u32::try_from(self.instances).unwrap_or(0))
                    ),
                }
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.destroy += 1,
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Nothing to change, nothing to roll out, nothing left unfinished.
    pub fn nothing_to_do(&self) -> bool {
        self.changes.is_empty() && self.rollouts.is_empty() && self.unfinished.is_empty()
    }

    pub fn change(&self, address: &Address) -> Option<&Change> {
        self.changes.iter().find(|c| &c.address == address)
    }
}

/// A value of a `kind`'s attribute in comparable form: whole floats as integers, the kind's
/// set attributes sorted.
pub fn canonical(kind: ResourceKind, name: &str, value: &Value) -> Value {
    let value = canonical_numbers(value);
    match value {
        Value::Array(mut items) if kind.schema().is_set(name) => {
            items.sort_by_key(|v| v.to_string());
            items.dedup();
            Value::Array(items)
        }
        other => other,
    }
}

fn canonical_numbers(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(canonical_numbers).collect()),
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical_numbers(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        other => other.clone(),
    }
}

/// Replaces every `{"$ref": …}` with the referenced output, or with the unknown marker.
pub fn resolve(value: &Value, outputs: &BTreeMap<Address, Attributes>) -> Value {
    if let Some((address, attribute)) = parse_reference(value) {
        return outputs
            .get(&address)
            .and_then(|o| o.get(attribute))
            .cloned()
            .unwrap_or_else(unknown);
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, outputs)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, outputs)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The desired attributes with references resolved, as written to AWS and hashed.
pub fn resolve_attributes(
    resource: &Resource,
    outputs: &BTreeMap<Address, Attributes>,
) -> Attributes {
    resource
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), resolve(v, outputs)))
        .collect()
}

/// The value of the desired-hash tag for a resource written with these attributes.
pub fn desired_hash(
    kind: ResourceKind,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> String {
    let canonical: BTreeMap<&String, Value> = attributes
        .iter()
        .map(|(k, v)| (k, canonical(kind, k, v)))
        .collect();
    let text = serde_json::to_string(&(canonical, tags)).unwrap_or_default();
    crate::graph::names::short_hash(&text)
}

/// The tags a resource carries: the spec's, and (on a tagged kind) the hash of its desired
/// state, by which a later plan sees a change made outside Beanpole.
pub fn tags_with_hash(resource: &Resource, desired: &Attributes) -> BTreeMap<String, String> {
    let mut tags = resource.tags.clone();
    if !tags.is_empty() {
        tags.insert(
            super::TAG_DESIRED_HASH.to_string(),
            desired_hash(resource.kind, desired, &resource.tags),
        );
    }
    tags
}

/// Tags as compared: Beanpole's bookkeeping tag and AWS's own `aws:` tags left out.
fn comparable_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| k.as_str() != super::TAG_DESIRED_HASH && !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `destroy --delete-versions`: the shared resources (the versions bucket) of the applications
/// destroyed, when they hold nothing of another application (its `applications` output: the
/// applications whose versions it keeps).
fn delete_shared(
    graph: &ResourceGraph,
    live: &LiveState,
    applications: &BTreeSet<&str>,
    plan: &mut Plan,
) {
    let mut seen = BTreeSet::new();
    for resource in graph.resources().filter(|r| r.kind.schema().shared) {
        let Some(found) = live.resources.iter().find(|l| {
            l.kind == resource.kind
                && l.aws_name == resource.aws_name
                && l.owned
                && l.application.as_deref() == Some(crate::graph::SHARED_APPLICATION)
        }) else {
            continue;
        };
        if !seen.insert(found.aws_name.clone()) {
            continue;
        }
        let others: Vec<String> = found
            .outputs
            .get("applications")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|a| !applications.contains(a))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if !others.is_empty() {
            plan.errors.push(PlanError::SharedInUse {
                address: resource.address.clone(),
                aws_name: found.aws_name.clone(),
                others,
            });
            continue;
        }
        plan.changes.push(Change {
            address: resource.address.clone(),
            kind: resource.kind,
            aws_name: found.aws_name.clone(),
            application: resource.application.clone(),
            environment: None,
            action: Action::Delete,
            drift: false,
            replaces: None,
            attributes: Vec::new(),
            change_set: None,
            kept: Vec::new(),
        });
        // Deleted through the connection of the application whose node names it.
        let mut doomed = found.clone();
        doomed.application = Some(resource.application.clone());
        plan.deletions.insert(resource.address.clone(), doomed);
    }
}

/// Diffs the graph against live state.
pub fn diff(graph: &ResourceGraph, live: &LiveState, scope: &PlanScope) -> Plan {
    let mut plan = Plan::default();
    let applications: BTreeSet<&str> = graph.resources().map(|r| r.application.as_str()).collect();

    let order = dependency_order(graph);
    for address in &order {
        let Some(resource) = graph.get(address) else {
            continue;
        };
        if !resource.kind.is_data() || !scope.includes(resource.environment.as_deref()) {
            continue;
        }
        match live.data.get(address) {
            Some(Ok(outputs)) => {
                plan.known_outputs.insert(address.clone(), outputs.clone());
            }
            Some(Err(message)) => plan.errors.push(PlanError::DataSource {
                address: address.clone(),
                message: message.clone(),
            }),
            None => plan.errors.push(PlanError::DataSource {
                address: address.clone(),
                message: "was not read".to_string(),
            }),
        }
    }

    let mut used = vec![false; live.resources.len()];
    let mut by_name: BTreeMap<(ResourceKind, &str), usize> = BTreeMap::new();
    let mut by_address: BTreeMap<(ResourceKind, &Address), usize> = BTreeMap::new();
    for (i, r) in live.resources.iter().enumerate() {
        if held_by_stack(r) {
            continue;
        }
        by_name.entry((r.kind, r.aws_name.as_str())).or_insert(i);
        if r.owned {
            if let Some(address) = &r.address {
                by_address.entry((r.kind, address)).or_insert(i);
            }
        }
    }

    for address in &order {
        let Some(resource) = graph.get(address) else {
            continue;
        };
        if resource.kind.is_data() || !scope.includes(resource.environment.as_deref()) {
            continue;
        }
        if scope.destroy {
            continue;
        }
        plan.order.push(address.clone());
        let same_name = by_name
            .get(&(resource.kind, resource.aws_name.as_str()))
            .copied();
        if let Some(i) = same_name {
            let found = &live.resources[i];
            used[i] = true;
            let owner = if resource.kind.schema().shared {
                crate::graph::SHARED_APPLICATION
            } else {
                resource.application.as_str()
            };
            if !found.owned || found.application.as_deref() != Some(owner) {
                plan.errors.push(PlanError::ForeignResource {
                    address: address.clone(),
                    kind: resource.kind,
                    aws_name: resource.aws_name.clone(),
                    application: resource.application.clone(),
                    owner: found
                        .application
                        .clone()
                        .filter(|a| found.owned && a != &resource.application),
                });
                continue;
            }
        }
        let renamed = match same_name {
            Some(_) => None,
            None => by_address.get(&(resource.kind, address)).copied(),
        };
        if let Some(i) = renamed {
            used[i] = true;
        }
        // A stack only reviewed (a plan's change set, never executed) is still to create.
        let current = same_name
            .or(renamed)
            .map(|i| &live.resources[i])
            .filter(|r| !is_reviewed_stack(r));
        let desired = resolve_attributes(resource, &plan.known_outputs);
        match current {
            None => {
                plan.changes.push(Change {
                    address: address.clone(),
                    kind: resource.kind,
                    aws_name: resource.aws_name.clone(),
                    application: resource.application.clone(),
                    environment: resource.environment.clone(),
                    action: Action::Create,
                    drift: false,
                    replaces: None,
                    attributes: desired
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| AttributeChange {
                            name: k.clone(),
                            before: Value::Null,
                            after: if contains_unknown(v) {
                                Value::Null
                            } else {
                                v.clone()
                            },
                            after_unknown: contains_unknown(v),
                            forces_replacement: false,
                        })
                        .collect(),
                    change_set: None,
                    kept: Vec::new(),
                });
            }
            Some(current) => {
                let change = compare(resource, &desired, current);
                let keeps_outputs = change.as_ref().is_none_or(|c| c.action == Action::Update);
                if keeps_outputs {
                    let mut outputs = current.outputs.clone();
                    if change.is_some() {
                        outputs.retain(|k, _| !resource.kind.schema().output_changes_on_update(k));
                    }
                    plan.known_outputs.insert(address.clone(), outputs);
                }
                plan.matched.insert(address.clone(), current.clone());
                if let Some(change) = change {
                    if change.action == Action::Replace && current.aws_name != resource.aws_name {
                        plan.deletions
                            .insert(Address(format!("{address} (old)")), current.clone());
                    }
                    plan.changes.push(change);
                }
            }
        }
    }

    let graph_names: BTreeMap<(ResourceKind, &str), &Address> = graph
        .resources()
        .map(|r| ((r.kind, r.aws_name.as_str()), &r.address))
        .collect();
    for (i, r) in live.resources.iter().enumerate() {
        // An application's own stack serves every environment: only destroying the whole
        // application deletes it.
        let application_level = r.kind == ResourceKind::Stack && r.environment.is_none();
        let in_scope = r.owned
            && r.application
                .as_deref()
                .is_some_and(|a| applications.contains(a))
            && scope.includes(r.environment.as_deref())
            && !(application_level && scope.destroy && !scope.environments.is_empty());
        let deploys_own = r.tags.get(crate::graph::TAG_SOURCE).map(String::as_str)
            == Some(crate::graph::SOURCE_BUNDLE);
        if used[i] && !scope.destroy
            || !in_scope
            || held_by_stack(r)
            || deploys_own && !scope.destroy
        {
            continue;
        }
        // Records carry no tags: name them by the graph node of the same name, if any.
        let address = match (&r.address, graph_names.get(&(r.kind, r.aws_name.as_str()))) {
            (None, Some(address)) => (*address).clone(),
            _ => r.display_address(),
        };
        plan.changes.push(Change {
            address: address.clone(),
            kind: r.kind,
            aws_name: r.aws_name.clone(),
            application: r.application.clone().unwrap_or_default(),
            environment: r.environment.clone(),
            action: Action::Delete,
            drift: false,
            replaces: None,
            attributes: Vec::new(),
            change_set: None,
            kept: if r.kind == ResourceKind::Stack && !scope.delete_data {
                kept_by(r)
            } else {
                Vec::new()
            },
        });
        let mut doomed = r.clone();
        if r.kind == ResourceKind::Stack && scope.delete_data {
            doomed.attributes.insert(
                crate::graph::kinds::stack::DELETE_DATA.to_string(),
                Value::Bool(true),
            );
        }
        plan.deletions.insert(address, doomed);
    }
    if scope.destroy && scope.delete_versions && scope.environments.is_empty() {
        delete_shared(graph, live, &applications, &mut plan);
    }
    plan.changes.sort_by(|a, b| a.address.cmp(&b.address));
    plan
}

/// A stack CloudFormation made for a change set never executed (`REVIEW_IN_PROGRESS`): it
/// holds nothing; a plan creates it, a destroy deletes it.
pub fn is_reviewed_stack(r: &LiveResource) -> bool {
    r.kind == ResourceKind::Stack
        && r.outputs.get("status").and_then(Value::as_str) == Some("REVIEW_IN_PROGRESS")
}

/// A resource a CloudFormation stack holds (the engine's tag, or CloudFormation's own): the
/// stack's to change and delete, never Beanpole's directly.
pub fn held_by_stack(r: &LiveResource) -> bool {
    r.tags.contains_key(crate::graph::export::TAG_STACK)
        || r.tags.contains_key("aws:cloudformation:stack-name")
}

/// Environments the spec moves from one engine to the other (refused): a CloudFormation
/// engine's stack in the graph while the account holds the environment's resources directly,
/// or the other way round.
pub fn engine_switches(graph: &ResourceGraph, live: &LiveState) -> Vec<PlanError> {
    use ResourceKind as K;
    let direct_kinds = [
        K::LoadBalancer,
        K::AutoScalingGroup,
        K::LaunchTemplate,
        K::TargetGroup,
        K::SecurityGroup,
        K::IamRole,
        K::InstanceProfile,
    ];
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for node in graph.resources() {
        let Some(env) = node.environment.as_deref() else {
            continue;
        };
        let engine_stack = node.kind == K::Stack && node.address.0.ends_with(".stack");
        let direct = node.kind == K::LoadBalancer;
        if !(engine_stack || direct) || seen.contains(env) {
            continue;
        }
        let clash = live.resources.iter().any(|r| {
            r.owned
                && r.environment.as_deref() == Some(env)
                && r.application.as_deref() == Some(node.application.as_str())
                && if engine_stack {
                    direct_kinds.contains(&r.kind) && !held_by_stack(r)
                } else {
                    r.kind == K::Stack
                        && r.address.as_ref().is_some_and(|a| a.0.ends_with(".stack"))
                }
        });
        if clash {
            seen.insert(env.to_string());
            let (from, to) = if engine_stack {
                ("direct", "cloudformation")
            } else {
                ("cloudformation", "direct")
            };
            errors.push(PlanError::EngineSwitch {
                environment: env.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            });
        }
    }
    errors
}

/// What deleting a stack keeps: the resources its template retains.
fn kept_by(stack: &LiveResource) -> Vec<String> {
    let template = stack
        .attributes
        .get("template")
        .cloned()
        .unwrap_or(Value::Null);
    crate::graph::stacks::retained(&template)
        .into_iter()
        .map(|(name, type_name)| format!("{name} ({type_name})"))
        .collect()
}

/// Graph addresses with every dependency before its dependents (ties in address order).
pub fn dependency_order(graph: &ResourceGraph) -> Vec<Address> {
    let mut remaining: BTreeMap<Address, BTreeSet<Address>> = graph
        .resources()
        .map(|r| {
            (
                r.address.clone(),
                graph
                    .dependencies(&r.address)
                    .into_iter()
                    .cloned()
                    .collect(),
            )
        })
        .collect();
    let mut order = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let ready: Vec<Address> = remaining
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(a, _)| a.clone())
            .collect();
        if ready.is_empty() {
            // The spec compiler refuses cycles; keep going deterministically if one slips by.
            order.extend(remaining.keys().cloned());
            break;
        }
        for address in ready {
            remaining.remove(&address);
            for deps in remaining.values_mut() {
                deps.remove(&address);
            }
            order.push(address);
        }
    }
    order
}

/// The change that turns `current` into `resource`, if any.
fn compare(resource: &Resource, desired: &Attributes, current: &LiveResource) -> Option<Change> {
    let mut attributes = Vec::new();
    let names: BTreeSet<&String> = desired.keys().collect();
    for name in names {
        let after = &desired[name];
        let before = current.attributes.get(name).cloned().unwrap_or(Value::Null);
        let unknown_after = contains_unknown(after);
        if !unknown_after
            && canonical(resource.kind, name, after) == canonical(resource.kind, name, &before)
        {
            continue;
        }
        attributes.push(AttributeChange {
            name: name.clone(),
            before,
            after: if unknown_after {
                Value::Null
            } else {
                after.clone()
            },
            after_unknown: unknown_after,
            forces_replacement: resource.kind.schema().forces_replacement(name),
        });
    }
    let live_tags = comparable_tags(&current.tags);
    if !resource.tags.is_empty() && live_tags != resource.tags {
        attributes.push(AttributeChange {
            name: "tags".to_string(),
            before: serde_json::to_value(&live_tags).unwrap_or(Value::Null),
            after: serde_json::to_value(&resource.tags).unwrap_or(Value::Null),
            after_unknown: false,
            forces_replacement: false,
        });
    }
    let renamed = current.aws_name != resource.aws_name;
    if attributes.is_empty() && !renamed {
        return None;
    }
    let replace = renamed || attributes.iter().any(|a| a.forces_replacement);
    let drift = !desired.values().any(contains_unknown)
        && current.tags.get(super::TAG_DESIRED_HASH)
            == Some(&desired_hash(resource.kind, desired, &resource.tags));
    Some(Change {
        address: resource.address.clone(),
        kind: resource.kind,
        aws_name: resource.aws_name.clone(),
        application: resource.application.clone(),
        environment: resource.environment.clone(),
        action: if replace {
            Action::Replace
        } else {
            Action::Update
        },
        drift,
        replaces: renamed.then(|| current.aws_name.clone()),
        attributes,
        change_set: None,
        kept: Vec::new(),
    })
}
