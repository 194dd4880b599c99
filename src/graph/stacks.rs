//! The stacks of extra resources (`resource` blocks): one per application that declares any,
//! one per environment that does. Each template holds the level's resources (what holds data
//! kept when deleted or replaced: `DeletionPolicy` and `UpdateReplacePolicy` `Retain`) and one
//! output per value the spec reads of them. Pure.

use super::names::{fit, LONG_NAME_LIMIT};
use super::{
    Address, Resource, ResourceGraph, ResourceKind, MANAGED_BY_VALUE, TAG_ADDRESS, TAG_APPLICATION,
    TAG_ENVIRONMENT, TAG_MANAGED_BY,
};
use crate::model::{ExtraResource, OutputRef, Spec};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What keeps a resource that holds data when its stack deletes or replaces it.
pub const RETAIN: &str = "Retain";

/// Adds a stack node per level that declares resources.
pub fn add_stacks(graph: &mut ResourceGraph, spec: &Spec) {
    let mut outputs: BTreeMap<String, BTreeSet<OutputRef>> = BTreeMap::new();
    for env in &spec.environments {
        let refs = env.resource_properties.values().chain(
            env.permissions
                .statements
                .iter()
                .flat_map(|s| s.resource_refs.iter()),
        );
        let worker = env.worker_values();
        let worker_refs = worker.iter().flat_map(|w| w.all());
        for r in refs.chain(worker_refs) {
            outputs
                .entry(r.stack.clone())
                .or_default()
                .insert(r.clone());
        }
    }
    let none = BTreeSet::new();
    for application in spec.applications.iter().filter(|a| !a.resources.is_empty()) {
        let address = application.stack_address();
        let mut tags = application.tags.clone();
        tags.insert(TAG_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string());
        tags.insert(TAG_APPLICATION.to_string(), application.name.clone());
        tags.insert(TAG_ADDRESS.to_string(), address.clone());
        graph.add(Resource {
            aws_name: stack_name(&application.name, None),
            address: Address(address.clone()),
            kind: ResourceKind::Stack,
            application: application.name.clone(),
            environment: None,
            attributes: BTreeMap::from([(
                "template".to_string(),
                template(
                    &application.resources,
                    outputs.get(&address).unwrap_or(&none),
                ),
            )]),
            tags,
        });
    }
    for env in spec.environments.iter().filter(|e| !e.resources.is_empty()) {
        let Some(application) = spec.application(&env.application) else {
            continue;
        };
        let address = env.stack_address();
        let mut tags = application.tags.clone();
        tags.extend(env.tags.clone());
        tags.insert(TAG_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string());
        tags.insert(TAG_APPLICATION.to_string(), application.name.clone());
        tags.insert(TAG_ENVIRONMENT.to_string(), env.name.clone());
        tags.insert(TAG_ADDRESS.to_string(), address.clone());
        graph.add(Resource {
            aws_name: stack_name(&application.name, Some(&env.name)),
            address: Address(address.clone()),
            kind: ResourceKind::Stack,
            application: application.name.clone(),
            environment: Some(env.name.clone()),
            attributes: BTreeMap::from([(
                "template".to_string(),
                template(&env.resources, outputs.get(&address).unwrap_or(&none)),
            )]),
            tags,
        });
    }
}

/// `shop-resources-1a2b3c4`, `shop-blue-resources-5d6e7f8`: within CloudFormation's 128, and
/// starting with a letter as it requires.
pub fn stack_name(application: &str, environment: Option<&str>) -> String {
    let (readable, identity) = match environment {
        Some(env) => (
            format!("{application}-{env}"),
            format!("{application}\u{0}{env}\u{0}resources"),
        ),
        None => (
            application.to_string(),
            format!("{application}\u{0}resources"),
        ),
    };
    let readable = if readable.starts_with(|c: char| c.is_ascii_alphabetic()) {
        readable
    } else {
        format!("bp-{readable}")
    };
    fit(&readable, "resources", &identity, LONG_NAME_LIMIT)
}

/// The template of one level: its resources and the outputs read of them.
pub fn template(resources: &[ExtraResource], outputs: &BTreeSet<OutputRef>) -> Value {
    let mut body = Map::new();
    for r in resources {
        let mut entry = Map::new();
        entry.insert("Type".into(), json!(r.type_name));
        if !r.properties.is_empty() {
            entry.insert("Properties".into(), Value::Object(r.properties.clone()));
        }
        if r.holds_data() {
            entry.insert("DeletionPolicy".into(), json!(RETAIN));
            entry.insert("UpdateReplacePolicy".into(), json!(RETAIN));
        }
        body.insert(r.name.clone(), Value::Object(entry));
    }
    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    template.insert(
        "Description".into(),
        json!("Extra resources declared in a Beanpole spec"),
    );
    template.insert("Resources".into(), Value::Object(body));
    let outputs: Map<String, Value> = outputs
        .iter()
        .map(|o| (o.output_key(), json!({ "Value": o.template_value() })))
        .collect();
    if !outputs.is_empty() {
        template.insert("Outputs".into(), Value::Object(outputs));
    }
    Value::Object(template)
}

/// The template with every resource that holds data deleted with its stack (what
/// `destroy --delete-data` puts in place before deleting the stack).
pub fn without_retention(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) {
        for entry in resources.values_mut().filter_map(Value::as_object_mut) {
            entry.remove("DeletionPolicy");
            entry.remove("UpdateReplacePolicy");
        }
    }
    template
}

/// The resources of a template that its deletion keeps: (logical id, type).
pub fn retained(template: &Value) -> Vec<(String, String)> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .map(|resources| {
            resources
                .iter()
                .filter(|(_, e)| e.get("DeletionPolicy").and_then(Value::as_str) == Some(RETAIN))
                .map(|(name, e)| {
                    (
                        name.clone(),
                        e.get("Type")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_start_with_a_letter_and_fit() {
        assert!(stack_name("shop", None).starts_with("shop-resources-"));
        assert!(stack_name("shop", Some("shop-blue")).starts_with("shop-shop-blue-resources-"));
        assert!(stack_name("1shop", None).starts_with("bp-1shop"));
        let long = "a".repeat(100);
        assert!(stack_name(&long, Some(&"b".repeat(40))).len() <= 128);
        assert_ne!(stack_name("a-b", Some("c")), stack_name("a", Some("b-c")));
    }

    #[test]
    fn data_is_retained_and_outputs_are_what_is_read() {
        let table = ExtraResource {
            name: "orders".into(),
            type_name: "AWS::DynamoDB::Table".into(),
            properties: Map::new(),
        };
        let queue = ExtraResource {
            name: "jobs".into(),
            type_name: "AWS::SQS::Queue".into(),
            properties: Map::new(),
        };
        let read = BTreeSet::from([OutputRef {
            stack: "application.shop.resources".into(),
            resource: "orders".into(),
            attribute: "Arn".into(),
        }]);
        let t = template(&[table, queue], &read);
        assert_eq!(t["Resources"]["orders"]["DeletionPolicy"], json!("Retain"));
        assert!(t["Resources"]["jobs"].get("DeletionPolicy").is_none());
        assert_eq!(
            t["Outputs"]["ordersArn"]["Value"],
            json!({"Fn::GetAtt": ["orders", "Arn"]})
        );
        assert_eq!(
            retained(&t),
            vec![("orders".to_string(), "AWS::DynamoDB::Table".to_string())]
        );
        assert!(retained(&without_retention(&t)).is_empty());
    }
}
