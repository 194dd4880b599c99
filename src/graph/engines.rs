//! The CloudFormation engine's view of a graph (`engine = "cloudformation"` on an
//! application): each of its environments' nodes become one stack node whose template is the
//! environment's export (`export::engine_template`), with the environment's own extra
//! resources in it. What stays outside: data sources (the stack's parameters read them), the
//! application's nodes (its versions bucket, its extra resources' stack), and the DNS records,
//! which a swap moves and which now read the stack's load balancer output. Only
//! reconciliation (plan, apply, destroy) sees this view; deploys, swaps and status work on the
//! environment's resources by their names, which the template keeps. Pure.

use super::compile::collect_references;
use super::export::{engine_template, is_record, ExportError, DNS_NAME_OUTPUT};
use super::names::{fit, LONG_NAME_LIMIT};
use super::{reference, Address, Resource, ResourceGraph, ResourceKind, TAG_ADDRESS};
use crate::model::{Engine, Spec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The stack of an environment under the CloudFormation engine.
pub fn stack_name(application: &str, environment: &str) -> String {
    fit(
        &format!("{application}-{environment}"),
        "stack",
        &format!("{application}\u{0}{environment}\u{0}stack"),
        LONG_NAME_LIMIT,
    )
}

/// The graph address of that stack.
pub fn stack_address(environment_address: &str) -> Address {
    Address(format!("{environment_address}.stack"))
}

/// `graph` with the environments of CloudFormation-engine applications collapsed into their
/// stacks; the graph itself when there are none.
pub fn reconciled(graph: ResourceGraph, spec: &Spec) -> Result<ResourceGraph, ExportError> {
    let engine_envs: Vec<&crate::model::Environment> = spec
        .environments
        .iter()
        .filter(|e| {
            spec.application(&e.application)
                .is_some_and(|a| a.engine == Engine::CloudFormation)
        })
        .collect();
    if engine_envs.is_empty() {
        return Ok(graph);
    }
    let collapsed: BTreeSet<&str> = engine_envs.iter().map(|e| e.name.as_str()).collect();
    let mut out = ResourceGraph::new();
    for r in graph.resources() {
        let in_collapsed = r
            .environment
            .as_deref()
            .is_some_and(|e| collapsed.contains(e));
        if !in_collapsed || r.kind.is_data() || is_record(r.kind) {
            out.add(r.clone());
        }
    }
    for env in engine_envs {
        let name = stack_name(&env.application, &env.name);
        let exported = engine_template(&graph, &env.name, &name)?;
        let address = stack_address(&env.address());
        // The stack carries the environment's tags (a tagged node's, less its own name).
        let mut tags = graph
            .resources()
            .find(|r| {
                r.environment.as_deref() == Some(env.name.as_str())
                    && r.kind == ResourceKind::LoadBalancer
            })
            .map(|r| r.tags.clone())
            .unwrap_or_default();
        tags.insert("Name".into(), name.clone());
        tags.insert(TAG_ADDRESS.into(), address.0.clone());
        out.add(Resource {
            address: address.clone(),
            kind: ResourceKind::Stack,
            aws_name: name,
            application: env.application.clone(),
            environment: Some(env.name.clone()),
            attributes: BTreeMap::from([
                ("template".to_string(), exported.template),
                (
                    "parameters".to_string(),
                    Value::Object(exported.parameters.into_iter().collect()),
                ),
            ]),
            tags,
        });
        // The records read the stack's load balancer.
        let load_balancer = Address(format!("{}.load_balancer", env.address()));
        for r in out.graph.node_weights_mut() {
            if r.environment.as_deref() == Some(env.name.as_str()) && is_record(r.kind) {
                for value in r.attributes.values_mut() {
                    if super::parse_reference(value)
                        .is_some_and(|(a, attr)| a == load_balancer && attr == "dns_name")
                    {
                        *value = reference(&address, DNS_NAME_OUTPUT);
                    }
                }
            }
        }
    }
    let mut edges = Vec::new();
    for r in out.resources() {
        for value in r.attributes.values() {
            collect_references(value, &mut |to| edges.push((r.address.clone(), to)));
        }
    }
    // As in every graph: a CNAME is written after its ownership record.
    for (from, to) in graph.edges() {
        let kinds = (
            graph.get(from).map(|r| r.kind),
            graph.get(to).map(|r| r.kind),
        );
        if kinds
            == (
                Some(ResourceKind::CnameRecord),
                Some(ResourceKind::OwnershipRecord),
            )
        {
            edges.push((from.clone(), to.clone()));
        }
    }
    for (from, to) in edges {
        out.depend(&from, &to);
    }
    Ok(out)
}
