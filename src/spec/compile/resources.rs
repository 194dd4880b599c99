//! `resource "TYPE" "NAME" { properties = { … } }` blocks of an application or an environment:
//! extra resources, one CloudFormation stack per level. What a block binds (`.ref`, `.arn`,
//! `.attributes.NAME`) are references to outputs of that stack, which properties and
//! permission statements may use whole.

use super::*;
use crate::model::resources::{arn_attribute, known_attributes, REF};
use crate::model::{ExtraResource, OutputRef};
use crate::spec::functions::{REFERENCE_KEY, STACK_OUTPUT};

/// Reads the `resource` blocks of one level: the resources, and the object the level binds as
/// `resource` (name → `{ name, type, ref, arn, attributes }`). `None` when one is wrong.
pub(super) fn read_resources(
    file: FileId,
    blocks: &[&Block],
    stack: &str,
    ev: &mut Evaluator,
) -> Option<(Vec<ExtraResource>, Value)> {
    let mut resources: Vec<ExtraResource> = Vec::new();
    let mut bound = BTreeMap::new();
    let mut ok = true;
    for block in blocks {
        let header = header_span(file, block);
        let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
        let [type_name, name] = labels.as_slice() else {
            ok = false;
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::BadLabels {
                        block: "resource".into(),
                        expected: "a CloudFormation type and a name".into(),
                    },
                    header,
                )
                .with_hint("write `resource \"AWS::SQS::Queue\" \"jobs\" { properties = { … } }`"),
            );
            continue;
        };
        let r = sub_reader(file, block, "resource", &["properties"], &[], ev);
        let mut valid = r.check(
            ev,
            "resource type",
            type_name,
            &header,
            checks::cfn_type(type_name),
        ) & r.check(
            ev,
            "resource name",
            name,
            &header,
            checks::cfn_logical_id(name),
        );
        if resources.iter().any(|other| other.name == *name) {
            valid = false;
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::InvalidValue {
                        what: "resource name".into(),
                        value: (*name).to_string(),
                        reason: String::new(),
                    },
                    header.clone(),
                )
                .with_hint("two resources of one application (or one environment) need two names: they are one stack's logical ids"),
            );
        }
        let properties = match r.value(ev, "properties") {
            None => Some(serde_json::Map::new()),
            Some((Value::Object(map), span)) => {
                let value = Value::Object(map);
                if value.is_known() && !holds_reference(&value) {
                    match value.to_json() {
                        serde_json::Value::Object(map) => Some(map),
                        _ => None,
                    }
                } else {
                    r.mark_failed();
                    ev.diagnostics.push(
                        Diagnostic::new(
                            SpecError::UnknownUntilApply {
                                name: "properties".into(),
                            },
                            span,
                        )
                        .with_hint("a resource's properties are its stack's template: refer to another resource of the same level with CloudFormation's own `{ Ref = \"NAME\" }` or `{ \"Fn::GetAtt\" = [\"NAME\", \"Arn\"] }`; values AWS decides elsewhere cannot go in"),
                    );
                    None
                }
            }
            Some((other, span)) => {
                r.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::WrongType {
                            name: "properties".into(),
                            expected: "a map of CloudFormation properties".into(),
                            found: other.describe(),
                        },
                        span,
                    )
                    .with_hint("write `properties = { BillingMode = \"PAY_PER_REQUEST\" }`"),
                );
                None
            }
        };
        let (Some(properties), true, false) = (properties, valid, r.failed()) else {
            ok = false;
            continue;
        };
        bound.insert(name.to_string(), binding(stack, name, type_name));
        resources.push(ExtraResource {
            name: name.to_string(),
            type_name: type_name.to_string(),
            properties,
        });
    }
    ok.then_some((resources, Value::Object(bound)))
}

/// What `resource.NAME` reads.
fn binding(stack: &str, name: &str, type_name: &str) -> Value {
    let output = |attribute: &str| {
        Value::Object(BTreeMap::from([
            (
                REFERENCE_KEY.to_string(),
                Value::String(STACK_OUTPUT.into()),
            ),
            ("stack".to_string(), Value::String(stack.to_string())),
            ("resource".to_string(), Value::String(name.to_string())),
            (
                "attribute".to_string(),
                Value::String(attribute.to_string()),
            ),
        ]))
    };
    let attributes = known_attributes(type_name)
        .iter()
        .map(|a| (a.to_string(), output(a)))
        .collect();
    Value::Object(BTreeMap::from([
        ("name".to_string(), Value::String(name.to_string())),
        ("type".to_string(), Value::String(type_name.to_string())),
        ("ref".to_string(), output(REF)),
        ("arn".to_string(), output(arn_attribute(type_name))),
        ("attributes".to_string(), Value::Object(attributes)),
    ]))
}

/// Whether a value holds a reference object (a secret's or a stack output's).
fn holds_reference(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key(REFERENCE_KEY) || map.values().any(holds_reference),
        Value::List(items) => items.iter().any(holds_reference),
        _ => false,
    }
}

/// The output a reference object names, if it is a stack output's (its fields as strings, as
/// the readers of properties hand them).
pub(super) fn output_ref(fields: &BTreeMap<String, String>) -> Option<OutputRef> {
    if fields.get(REFERENCE_KEY).map(String::as_str) != Some(STACK_OUTPUT) {
        return None;
    }
    Some(OutputRef {
        stack: fields.get("stack")?.clone(),
        resource: fields.get("resource")?.clone(),
        attribute: fields.get("attribute")?.clone(),
    })
}

/// The output a value names, if it is a stack output's reference.
pub(super) fn output_ref_of(value: &Value) -> Option<OutputRef> {
    let Value::Object(map) = value else {
        return None;
    };
    let fields: BTreeMap<String, String> = map
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.to_template_string()?)))
        .collect();
    output_ref(&fields)
}
