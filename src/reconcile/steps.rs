//! A plan as steps for the walker: one step per graph resource in scope (converge, or just
//! publish the outputs of an unchanged resource), waiting for the steps of what it depends on;
//! one step per deletion, ordered so that nothing is deleted while something still uses it.

use super::executor::Step;
use super::plan::Plan;
use super::{Action, LiveResource};
use crate::graph::schema::Readiness;
use crate::graph::{Address, Resource, ResourceGraph};
use std::collections::BTreeMap;

/// What one step does.
#[derive(Debug, Clone)]
pub enum StepWork {
    /// Bring a graph resource to its desired state (`action: None`: it already is; the step
    /// only publishes its outputs to the steps after it).
    Converge {
        resource: Resource,
        live: Option<LiveResource>,
        action: Option<Action>,
    },
    /// Delete a resource Beanpole owns.
    Delete { live: LiveResource },
    /// Wait until a resource just created is ready (a load balancer `active`). Nothing
    /// depends on this step: what needs the resource needs only what its create returned (an
    /// ARN, a DNS name), so its wait overlaps theirs; the apply ends when it is ready.
    AwaitReady { resource: Resource },
}

impl StepWork {
    pub fn application(&self) -> &str {
        match self {
            StepWork::Converge { resource, .. } | StepWork::AwaitReady { resource } => {
                &resource.application
            }
            StepWork::Delete { live } => live.application.as_deref().unwrap_or_default(),
        }
    }

    /// The address the step works on, as its label says.
    pub fn label(&self) -> String {
        match self {
            StepWork::Converge { resource, .. } => resource.address.to_string(),
            StepWork::AwaitReady { resource } => format!("{} (ready)", resource.address),
            StepWork::Delete { live } => live.display_address().to_string(),
        }
    }

    /// What the step does, for progress lines: "creating", "updating"…
    pub fn doing(&self) -> &'static str {
        match self {
            StepWork::Converge { action: None, .. } => "reading",
            StepWork::Converge {
                action: Some(action),
                ..
            } => match action {
                Action::Create => "creating",
                Action::Update => "updating",
                Action::Replace => "replacing",
                Action::Delete => "deleting",
            },
            StepWork::Delete { .. } => "deleting",
            StepWork::AwaitReady { .. } => "waiting until ready",
        }
    }

    pub fn done(&self) -> &'static str {
        match self {
            StepWork::Converge { action: None, .. } => "unchanged",
            StepWork::Converge {
                action: Some(action),
                ..
            } => match action {
                Action::Create => "created",
                Action::Update => "updated",
                Action::Replace => "replaced",
                Action::Delete => "deleted",
            },
            StepWork::Delete { .. } => "deleted",
            StepWork::AwaitReady { .. } => "ready",
        }
    }

    pub fn is_change(&self) -> bool {
        !matches!(
            self,
            StepWork::Converge { action: None, .. } | StepWork::AwaitReady { .. }
        )
    }
}

/// Whether `user` must be deleted before `used` (both deleted by this plan, same environment):
/// the graph's edges run backwards. An edge is known three ways, most precise first: the graph
/// itself, when both still have their addresses in it (a destroy); the live resource's own
/// attributes naming the other's id, ARN or name (an instance security group's rule names the
/// load balancer's group); else the kinds' schemas (a CNAME goes before its TXT marker, whose
/// name proves the CNAME is Beanpole's).
fn deleted_before(graph: &ResourceGraph, user: &LiveResource, used: &LiveResource) -> bool {
    if let (Some(a), Some(b)) = (&user.address, &used.address) {
        if graph.get(a).is_some() && graph.get(b).is_some() {
            return graph.dependencies(a).contains(&b);
        }
    }
    let names_it = used
        .outputs
        .iter()
        .filter(|(key, _)| matches!(key.as_str(), "id" | "arn" | "name"))
        .filter_map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .any(|v| mentions(&user.attributes, v));
    names_it || (user.kind != used.kind && user.kind.schema().refers_to.contains(&used.kind))
}

/// Whether any string in `attributes` (at any depth) is `value`.
fn mentions(attributes: &super::Attributes, value: &str) -> bool {
    fn walk(v: &serde_json::Value, value: &str) -> bool {
        match v {
            serde_json::Value::String(s) => s == value,
            serde_json::Value::Array(items) => items.iter().any(|i| walk(i, value)),
            serde_json::Value::Object(map) => map.values().any(|i| walk(i, value)),
            _ => false,
        }
    }
    attributes.values().any(|v| walk(v, value))
}

/// The deletions in an order where every resource comes before what it refers to (Kahn's
/// algorithm, address order among equals; a cycle, which the schemas do not allow, is broken
/// in address order), each with the deletions it must wait for.
fn deletion_order<'a>(
    graph: &ResourceGraph,
    deletions: &[(&'a Address, &'a LiveResource)],
) -> Vec<(usize, Vec<usize>)> {
    let n = deletions.len();
    let same_scope = |a: &LiveResource, b: &LiveResource| {
        a.application == b.application && a.environment == b.environment
    };
    // before[j] holds every i that must be deleted before j.
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..n {
            let (user, used) = (deletions[i].1, deletions[j].1);
            if i != j && same_scope(user, used) && deleted_before(graph, user, used) {
                before[j].push(i);
            }
        }
    }
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n)
            .find(|&j| !placed[j] && before[j].iter().all(|&i| placed[i]))
            .or_else(|| (0..n).find(|&j| !placed[j]));
        let Some(j) = next else {
            break;
        };
        placed[j] = true;
        let waits: Vec<usize> = before[j]
            .iter()
            .copied()
            .filter(|i| order.iter().any(|(o, _)| o == i))
            .collect();
        order.push((j, waits));
    }
    order
}

/// The steps of a plan, in an order the walker can start from.
pub fn build_steps(graph: &ResourceGraph, plan: &Plan) -> Vec<Step<StepWork>> {
    let mut steps: Vec<Step<StepWork>> = Vec::new();
    let mut index: BTreeMap<&Address, usize> = BTreeMap::new();
    for address in &plan.order {
        let Some(resource) = graph.get(address) else {
            continue;
        };
        index.insert(address, steps.len());
        steps.push(Step {
            label: address.to_string(),
            depends_on: Vec::new(),
            priority: 0,
            work: StepWork::Converge {
                resource: resource.clone(),
                live: plan.matched.get(address).cloned(),
                action: plan
                    .change(address)
                    .map(|c| c.action)
                    .filter(|a| *a != Action::Delete),
            },
        });
    }
    for step in steps.iter_mut() {
        let address = Address(step.label.clone());
        step.depends_on = graph
            .dependencies(&address)
            .into_iter()
            .filter_map(|d| index.get(d).copied())
            .collect();
    }
    let converge_count = steps.len();
    let scope_of = |application: Option<&str>, environment: Option<&str>| {
        (
            application.unwrap_or_default().to_string(),
            environment.unwrap_or_default().to_string(),
        )
    };
    let deletions: Vec<(&Address, &LiveResource)> = plan.deletions.iter().collect();
    let mut step_of_deletion = vec![0usize; deletions.len()];
    for (d, waits) in deletion_order(graph, &deletions) {
        let (address, live) = deletions[d];
        let here = scope_of(live.application.as_deref(), live.environment.as_deref());
        // After the environment's own converge steps (a replacement's new resource is made
        // and put in use before the old one goes), and after what refers to it.
        let mut depends_on: Vec<usize> = (0..converge_count)
            .filter(|&i| match &steps[i].work {
                StepWork::Converge { resource, .. } => {
                    scope_of(Some(&resource.application), resource.environment.as_deref()) == here
                }
                StepWork::Delete { .. } | StepWork::AwaitReady { .. } => false,
            })
            .collect();
        depends_on.extend(waits.iter().map(|&w| step_of_deletion[w]));
        step_of_deletion[d] = steps.len();
        steps.push(Step {
            label: address.to_string(),
            depends_on,
            priority: 0,
            work: StepWork::Delete { live: live.clone() },
        });
    }
    // Readiness waits of what was just created, after its create and beside its dependents.
    for i in 0..converge_count {
        if let StepWork::Converge {
            resource,
            action: Some(action),
            ..
        } = &steps[i].work
        {
            let after = match (action, resource.kind.schema().readiness) {
                (_, Readiness::Immediate) | (Action::Delete, _) => false,
                (Action::Create | Action::Replace, _) => true,
                (Action::Update, readiness) => readiness == Readiness::AfterChange,
            };
            if after {
                let work = StepWork::AwaitReady {
                    resource: resource.clone(),
                };
                steps.push(Step {
                    label: work.label(),
                    depends_on: vec![i],
                    priority: 0,
                    work,
                });
            }
        }
    }
    prioritise(&mut steps);
    steps
}

/// Roughly how long AWS takes, after the calls of a step, before it is done (seconds, on
/// AWS): what makes a chain of steps long.
fn expected_wait(work: &StepWork) -> u64 {
    match work {
        StepWork::AwaitReady { resource } => resource.kind.schema().expected_wait_seconds,
        StepWork::Converge {
            resource,
            action: Some(Action::Create | Action::Replace | Action::Update),
            ..
        } if resource.kind.schema().readiness == Readiness::Immediate => {
            resource.kind.schema().expected_wait_seconds
        }
        _ => 0,
    }
}

/// Each step's priority: the longest chain of expected waits from it to the end of the walk
/// (itself included), plus one per step on it, so that the load balancers, whose wait is the
/// longest, start before records and policies (critical-path-first list scheduling).
fn prioritise(steps: &mut [Step<StepWork>]) {
    let n = steps.len();
    let mut dependents = vec![Vec::new(); n];
    for (i, step) in steps.iter().enumerate() {
        for &d in &step.depends_on {
            if d < n {
                dependents[d].push(i);
            }
        }
    }
    // A step depends only on steps before it (converge steps follow the graph's dependency
    // order, deletions and readiness waits come after what they wait for), so one pass from
    // the end sees every dependent's rank before its own.
    let mut rank = vec![0u64; n];
    for i in (0..n).rev() {
        let after = dependents[i].iter().map(|&d| rank[d]).max().unwrap_or(0);
        rank[i] = 1 + expected_wait(&steps[i].work) + after;
    }
    for (step, r) in steps.iter_mut().zip(rank) {
        step.priority = r;
    }
}
