//! Swaps are durable. The spec names each environment's initial CNAME; after `beanpole swap`
//! the ownership TXT records say which environment serves which name, and the plan follows
//! them: it moves each environment's record nodes to the name it serves now, so a swapped
//! pair plans no change and apply never swaps back.

use super::LiveState;
use crate::graph::compile::OWNERSHIP_PREFIX;
use crate::graph::{Address, ResourceGraph, ResourceKind};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// A name served by another environment than the spec's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Swapped {
    pub name: String,
    pub served_by: String,
    pub in_spec: String,
}

impl Swapped {
    pub fn note(&self) -> String {
        format!(
            "{} is served by {} (the spec names {}): a swap made it so, and apply keeps it",
            self.name, self.served_by, self.in_spec
        )
    }
}

/// Rewrites the record nodes of swapped environments; returns what was swapped. Applies only
/// when the live markers give each of an application's names to exactly one of its
/// environments; anything else is left for the plan to show and apply to repair.
pub fn follow_swaps(graph: &mut ResourceGraph, live: &LiveState) -> Vec<Swapped> {
    // application → environment → (cname address, ownership address, desired name)
    let mut desired: BTreeMap<String, BTreeMap<String, (Address, Address, String)>> =
        BTreeMap::new();
    for r in graph.resources() {
        if r.kind != ResourceKind::CnameRecord {
            continue;
        }
        let Some(environment) = &r.environment else {
            continue;
        };
        let Some(prefix) = r.address.0.strip_suffix("cname_record") else {
            continue;
        };
        desired.entry(r.application.clone()).or_default().insert(
            environment.clone(),
            (
                r.address.clone(),
                Address(format!("{prefix}ownership_record")),
                r.aws_name.clone(),
            ),
        );
    }
    let mut swapped = Vec::new();
    for (application, environments) in &desired {
        let names: BTreeSet<&String> = environments.values().map(|(_, _, n)| n).collect();
        let mut served: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in &live.resources {
            if r.kind != ResourceKind::OwnershipRecord
                || !r.owned
                || r.application.as_deref() != Some(application)
            {
                continue;
            }
            let (Some(environment), Some(name)) = (
                r.environment.as_deref(),
                r.aws_name.strip_prefix(&format!("{OWNERSHIP_PREFIX}.")),
            ) else {
                continue;
            };
            if environments.contains_key(environment) && names.contains(&name.to_string()) {
                served
                    .entry(environment)
                    .or_default()
                    .push(name.to_string());
            }
        }
        let mut mapping: BTreeMap<&String, String> = BTreeMap::new();
        for (environment, (_, _, name)) in environments {
            let now = match served.get(environment.as_str()).map(Vec::as_slice) {
                Some([one]) => one.clone(),
                _ => name.clone(),
            };
            mapping.insert(environment, now);
        }
        let distinct: BTreeSet<&String> = mapping.values().collect();
        if distinct.len() != mapping.len() {
            continue;
        }
        for (environment, now) in mapping {
            let (cname, ownership, name) = &environments[environment];
            if &now == name {
                continue;
            }
            let in_spec = environments
                .iter()
                .find(|(_, (_, _, n))| n == &now)
                .map(|(e, _)| e.clone())
                .unwrap_or_default();
            for (address, record_name) in [
                (cname, now.clone()),
                (ownership, format!("{OWNERSHIP_PREFIX}.{now}")),
            ] {
                if let Some(node) = graph.node(address) {
                    let resource = &mut graph.graph[node];
                    resource.aws_name = record_name.clone();
                    resource
                        .attributes
                        .insert("name".to_string(), json!(record_name));
                }
            }
            swapped.push(Swapped {
                name: now,
                served_by: environment.clone(),
                in_spec,
            });
        }
    }
    swapped.sort_by(|a, b| a.name.cmp(&b.name));
    swapped
}
