//! A version's `Resources:` (`.ebextensions`), with Elastic Beanstalk's meaning: new resources
//! join the environment (here: a stack of the environment's, `APP-ENV-bundle-HASH`, changed
//! by the deploy of a version that declares them), referring to EB's own resources by their
//! logical names (passed to the stack as parameters), and their values reach option settings
//! and `files` through the stack's outputs. An entry named after one of EB's own resources
//! overrides it: Beanpole maps the one override it has an equivalent for (an HTTP listener
//! that redirects to HTTPS: the spec's `load_balancer { https { … } }`) and refuses the
//! others, naming what to write in the spec. Pure.

use super::cfn::{attribute_of, reference, CfnContext, EB_LOGICAL_NAMES};
use super::ebextensions::BundleResource;
use crate::model::resources::{holds_data, REF};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// EB's resources a `Resources:` entry may name (and so override).
pub const EB_RESOURCES: &[&str] = &[
    "AWSEBAutoScalingGroup",
    "AWSEBAutoScalingLaunchConfiguration",
    "AWSEBEC2LaunchTemplate",
    "AWSEBV2LoadBalancer",
    "AWSEBV2LoadBalancerListener",
    "AWSEBV2LoadBalancerListener443",
    "AWSEBV2LoadBalancerTargetGroup",
    "AWSEBSecurityGroup",
    "AWSEBLoadBalancerSecurityGroup",
    "AWSEBLoadBalancer",
    "AWSEBRecord",
    "AWSEBInstanceLaunchWaitCondition",
];

/// What an override of one of EB's resources is in Beanpole's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Override {
    /// The HTTP listener redirecting to HTTPS: the spec's `load_balancer { https { … } }`,
    /// whose HTTP listener redirects.
    HttpsRedirect,
    /// Beanpole has no equivalent: refused, with what to write in the spec instead.
    Refused(String),
}

impl BundleResource {
    /// An override of one of EB's resources, and what it is; `None` for a new resource.
    pub fn overrides(&self) -> Option<Override> {
        if !EB_RESOURCES.contains(&self.name.as_str()) {
            return None;
        }
        let body = self.json();
        let action = body
            .pointer("/Properties/DefaultActions/0")
            .cloned()
            .unwrap_or(Value::Null);
        let redirects_to_https = action.get("Type").and_then(Value::as_str) == Some("redirect")
            && action
                .pointer("/RedirectConfig/Protocol")
                .and_then(Value::as_str)
                == Some("HTTPS");
        Some(match self.name.as_str() {
            "AWSEBV2LoadBalancerListener" if redirects_to_https => Override::HttpsRedirect,
            "AWSEBV2LoadBalancerListener" | "AWSEBV2LoadBalancerListener443" => Override::Refused(
                "write the listeners in the spec: `load_balancer { https { certificate_arn = \"arn:aws:acm:…\" } }` adds HTTPS and makes HTTP redirect to it".into(),
            ),
            "AWSEBSecurityGroup" | "AWSEBLoadBalancerSecurityGroup" => Override::Refused(
                "the spec's `load_balancer { allowed_cidrs = [\"…\"] }` says who reaches the load balancer; instances are reached only through it".into(),
            ),
            "AWSEBAutoScalingGroup" => Override::Refused(
                "write the group's size in the spec: `capacity { min = …, max = … }`".into(),
            ),
            "AWSEBV2LoadBalancerTargetGroup" => Override::Refused(
                "write the health check in the spec: `load_balancer { health_check { path = \"/…\" } }`".into(),
            ),
            _ => Override::Refused(format!(
                "Beanpole has no equivalent of overriding {}: declare what it should be in the spec",
                self.name
            )),
        })
    }
}

/// Why each override among `resources` cannot be taken for `env`: one Beanpole has no
/// equivalent of, or one whose equivalent the spec lacks (by file and entry, saying what to
/// write in the spec). Empty: every override is what the spec already does.
pub fn refused_overrides(
    resources: &[BundleResource],
    env: &crate::model::Environment,
) -> Vec<String> {
    let mut refused = Vec::new();
    for r in resources {
        match r.overrides() {
            None => {}
            Some(Override::HttpsRedirect)
                if !env
                    .load_balancer
                    .https
                    .as_ref()
                    .is_some_and(|h| h.redirect_http) =>
            {
                refused.push(format!(
                    "{}: Resources.{} redirects HTTP to HTTPS: that is the spec's `load_balancer {{ https {{ certificate_arn = \"arn:aws:acm:…\" }} }}` for environment {} (its HTTP listener then redirects); write it there",
                    r.file, r.name, env.name
                ));
            }
            Some(Override::HttpsRedirect) => {}
            Some(Override::Refused(what)) => refused.push(format!(
                "{}: Resources.{} overrides Elastic Beanstalk's own {}, which Beanpole does not take from a bundle: {what}",
                r.file, r.name, r.name
            )),
        }
    }
    refused
}

/// The stack of a version's new resources: its template and the values of its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleStack {
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
}

/// The stack of `resources`' new entries; EB's logical names they refer to become parameters
/// with their values from `ctx` (a name without one is an error, by file and entry). Every
/// resource's `Ref`, and each attribute `read` names (what option settings and `files` read
/// with `Fn::GetAtt`), are outputs (`jobsRef`, `jobsArn`): only those, as CloudFormation
/// fails a stack whose output reads an attribute a resource does not have.
pub fn bundle_stack(
    resources: &[BundleResource],
    read: &std::collections::BTreeSet<(String, String)>,
    ctx: &CfnContext,
) -> Result<Option<BundleStack>, Vec<String>> {
    let new: Vec<&BundleResource> = resources
        .iter()
        .filter(|r| r.overrides().is_none())
        .collect();
    if new.is_empty() {
        return Ok(None);
    }
    let mut parameters = BTreeMap::new();
    let mut errors = Vec::new();
    let mut body = Map::new();
    let mut outputs = Map::new();
    for r in &new {
        let mut entry = r.json();
        match eb_parameters(&entry, ctx, &mut parameters) {
            Ok(rewritten) => entry = rewritten,
            Err(e) => {
                errors.push(format!("{}: Resources.{}: {e}", r.file, r.name));
                continue;
            }
        }
        if holds_data(&r.type_name) {
            if let Some(map) = entry.as_object_mut() {
                map.entry("DeletionPolicy").or_insert(json!("Retain"));
                map.entry("UpdateReplacePolicy").or_insert(json!("Retain"));
            }
        }
        body.insert(r.name.clone(), entry);
        outputs.insert(
            output_key(&r.name, REF),
            json!({ "Value": { "Ref": r.name } }),
        );
        for (_, attribute) in read.iter().filter(|(resource, _)| resource == &r.name) {
            outputs.insert(
                output_key(&r.name, attribute),
                json!({ "Value": { "Fn::GetAtt": [r.name, attribute] } }),
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    template.insert(
        "Description".into(),
        json!("Resources declared in a version's .ebextensions, deployed by Beanpole"),
    );
    if !parameters.is_empty() {
        template.insert(
            "Parameters".into(),
            Value::Object(
                parameters
                    .keys()
                    .map(|k| (k.clone(), json!({ "Type": "String" })))
                    .collect(),
            ),
        );
    }
    template.insert("Resources".into(), Value::Object(body));
    template.insert("Outputs".into(), Value::Object(outputs));
    Ok(Some(BundleStack {
        template: Value::Object(template),
        parameters,
    }))
}

/// The output holding `resource`'s `attribute` (`Ref` or a `Fn::GetAtt` name).
pub fn output_key(resource: &str, attribute: &str) -> String {
    let attribute: String = attribute
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{resource}{attribute}")
}

/// `ctx` with the bundle's resources' values from their stack's `outputs`, for the functions
/// of option settings and `files` (`read`: the attributes they read).
pub fn with_outputs(
    ctx: &CfnContext,
    resources: &[BundleResource],
    read: &std::collections::BTreeSet<(String, String)>,
    outputs: &BTreeMap<String, String>,
) -> CfnContext {
    let mut ctx = ctx.clone();
    for r in resources.iter().filter(|r| r.overrides().is_none()) {
        if let Some(v) = outputs.get(&output_key(&r.name, REF)) {
            ctx.refs.insert(r.name.clone(), v.clone());
        }
        for (_, attribute) in read.iter().filter(|(resource, _)| resource == &r.name) {
            if let Some(v) = outputs.get(&output_key(&r.name, attribute)) {
                ctx.attributes
                    .insert((r.name.clone(), attribute.clone()), v.clone());
            }
        }
    }
    ctx
}

/// `value` with each `Ref`/`Fn::GetAtt` of EB's logical names (and `${…}` of them in
/// `Fn::Sub`) made a parameter of the stack.
fn eb_parameters(
    value: &Value,
    ctx: &CfnContext,
    parameters: &mut BTreeMap<String, String>,
) -> Result<Value, String> {
    let eb = |name: &str| EB_LOGICAL_NAMES.contains(&name);
    Ok(match value {
        Value::Object(map) if map.len() == 1 => {
            let (key, inner) = map
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", &Value::Null));
            match (key, inner) {
                ("Ref", Value::String(name)) if eb(name) => {
                    parameters.insert(name.clone(), reference(name, ctx)?);
                    json!({ "Ref": name })
                }
                ("Fn::GetAtt", Value::Array(parts)) if parts.len() == 2 => {
                    let resource = parts[0].as_str().unwrap_or_default();
                    let attribute = parts[1].as_str().unwrap_or_default();
                    if eb(resource) {
                        let parameter = output_key(resource, attribute);
                        parameters
                            .insert(parameter.clone(), attribute_of(resource, attribute, ctx)?);
                        json!({ "Ref": parameter })
                    } else {
                        value.clone()
                    }
                }
                ("Fn::Sub", Value::String(text)) => {
                    json!({ "Fn::Sub": sub_parameters(text, ctx, parameters)? })
                }
                _ => Value::Object(
                    map.iter()
                        .map(|(k, v)| Ok((k.clone(), eb_parameters(v, ctx, parameters)?)))
                        .collect::<Result<_, String>>()?,
                ),
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), eb_parameters(v, ctx, parameters)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| eb_parameters(v, ctx, parameters))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn sub_parameters(
    text: &str,
    ctx: &CfnContext,
    parameters: &mut BTreeMap<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start + 2]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("Fn::Sub: `${{` without `}}` in `{text}`"))?;
        let name = &after[..end];
        let (resource, attribute) = name.split_once('.').unwrap_or((name, ""));
        if EB_LOGICAL_NAMES.contains(&resource) {
            if attribute.is_empty() {
                parameters.insert(resource.to_string(), reference(resource, ctx)?);
                out.push_str(resource);
            } else {
                let parameter = output_key(resource, attribute);
                parameters.insert(parameter.clone(), attribute_of(resource, attribute, ctx)?);
                out.push_str(&parameter);
            }
        } else {
            out.push_str(name);
        }
        out.push('}');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(name: &str, body: Value) -> BundleResource {
        BundleResource {
            file: ".ebextensions/r.config".into(),
            name: name.into(),
            type_name: body["Type"].as_str().unwrap_or_default().into(),
            body: body.to_string(),
        }
    }

    #[test]
    fn eb_names_become_parameters_and_every_value_an_output() {
        let mut ctx = CfnContext::default();
        ctx.refs
            .insert("AWSEBAutoScalingGroup".into(), "shop-blue-1234567".into());
        let queue = resource(
            "jobs",
            json!({"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${AWSEBAutoScalingGroup}-jobs"}}}),
        );
        let alarm = resource(
            "alerts",
            json!({"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "AWSEBAutoScalingGroup"}}}),
        );
        let read = std::collections::BTreeSet::from([("jobs".to_string(), "Arn".to_string())]);
        let stack = bundle_stack(&[queue.clone(), alarm], &read, &ctx)
            .unwrap()
            .unwrap();
        assert_eq!(
            stack.parameters,
            BTreeMap::from([(
                "AWSEBAutoScalingGroup".to_string(),
                "shop-blue-1234567".to_string()
            )])
        );
        assert_eq!(
            stack.template["Resources"]["alerts"]["Properties"]["DisplayName"],
            json!({"Ref": "AWSEBAutoScalingGroup"})
        );
        assert_eq!(
            stack.template["Outputs"]["jobsArn"]["Value"],
            json!({"Fn::GetAtt": ["jobs", "Arn"]})
        );
        let outputs = BTreeMap::from([("jobsArn".to_string(), "arn:aws:sqs:x".to_string())]);
        let filled = with_outputs(&ctx, &[queue], &read, &outputs);
        assert_eq!(
            filled
                .attributes
                .get(&("jobs".to_string(), "Arn".to_string())),
            Some(&"arn:aws:sqs:x".to_string())
        );
    }

    #[test]
    fn a_redirect_override_is_taken_when_the_spec_has_https_and_refused_otherwise() {
        let listener = resource(
            "AWSEBV2LoadBalancerListener",
            json!({"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {"DefaultActions": [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS"}}]}}),
        );
        let plain = crate::spec::test_support::one_environment("");
        let refused = refused_overrides(std::slice::from_ref(&listener), &plain);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].starts_with(".ebextensions/r.config: Resources.AWSEBV2LoadBalancerListener redirects HTTP to HTTPS"), "{refused:?}");
        let https = crate::spec::test_support::one_environment(
            "  load_balancer {\n    https {\n      certificate_arn = \"arn:aws:acm:us-east-2:123456789012:certificate/abc\"\n    }\n  }",
        );
        assert!(https.load_balancer.https.is_some());
        assert!(refused_overrides(&[listener], &https).is_empty());
    }

    #[test]
    fn a_redirecting_listener_is_the_spec_s_https_and_a_security_group_is_refused() {
        let listener = resource(
            "AWSEBV2LoadBalancerListener",
            json!({"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {"DefaultActions": [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]}}),
        );
        assert_eq!(listener.overrides(), Some(Override::HttpsRedirect));
        let group = resource(
            "AWSEBSecurityGroup",
            json!({"Type": "AWS::EC2::SecurityGroup"}),
        );
        assert!(matches!(group.overrides(), Some(Override::Refused(_))));
        assert_eq!(
            bundle_stack(
                &[listener, group],
                &Default::default(),
                &CfnContext::default()
            ),
            Ok(None)
        );
    }
}
