//! A plan as steps for the walker: one step per graph resource in scope (converge, or just
//! publish the outputs of an unchanged resource), waiting for the steps of what it depends on;
//! one step per deletion, ordered so that nothing is deleted while something still uses it.

use super::executor::Step;
use super::plan::Plan;
use super::{Action, LiveResource};
use crate::graph::{Address, Resource, ResourceGraph, ResourceKind};
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

/// Deletion order inside one environment: what uses a resource goes before it.
fn delete_rank(live: &LiveResource) -> u8 {
    match live.kind {
        ResourceKind::CnameRecord => 0,
        // The TXT marker proves the CNAME is ours: it goes last of the two.
        ResourceKind::OwnershipRecord => 1,
        ResourceKind::ScalingPolicy => 2,
        ResourceKind::AutoScalingGroup => 3,
        ResourceKind::Listener => 4,
        ResourceKind::LoadBalancer => 5,
        ResourceKind::TargetGroup | ResourceKind::LaunchTemplate => 6,
        ResourceKind::InstanceProfile => 7,
        ResourceKind::IamRole => 8,
        // The instance group's rule names the load balancer's group.
        ResourceKind::SecurityGroup => {
            let instances = match &live.address {
                Some(a) => a.0.ends_with("instance_security_group"),
                None => live.aws_name.contains("-instances-"),
            };
            if instances {
                9
            } else {
                10
            }
        }
        ResourceKind::Network | ResourceKind::PlatformImage | ResourceKind::HostedZone => 11,
    }
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
    let mut deletions: Vec<(&Address, &LiveResource)> = plan.deletions.iter().collect();
    deletions.sort_by_key(|(a, l)| (delete_rank(l), (*a).clone()));
    for (address, live) in deletions {
        let here = scope_of(live.application.as_deref(), live.environment.as_deref());
        let mut depends_on: Vec<usize> = (0..converge_count)
            .filter(|&i| match &steps[i].work {
                StepWork::Converge { resource, .. } => {
                    scope_of(Some(&resource.application), resource.environment.as_deref()) == here
                }
                StepWork::Delete { .. } | StepWork::AwaitReady { .. } => false,
            })
            .collect();
        for (i, step) in steps.iter().enumerate().skip(converge_count) {
            if let StepWork::Delete { live: other } = &step.work {
                if scope_of(other.application.as_deref(), other.environment.as_deref()) == here
                    && delete_rank(other) < delete_rank(live)
                {
                    depends_on.push(i);
                }
            }
        }
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
            let after = match action {
                Action::Create | Action::Replace => resource.kind.awaits_readiness(),
                Action::Update => resource.kind.awaits_readiness_after_update(),
                Action::Delete => false,
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
        StepWork::AwaitReady { resource } => resource.kind.expected_wait_seconds(),
        StepWork::Converge {
            resource,
            action: Some(Action::Create | Action::Replace | Action::Update),
            ..
        } if !resource.kind.awaits_readiness() => resource.kind.expected_wait_seconds(),
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
