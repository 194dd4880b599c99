//! What the CloudFormation functions in a version's `.ebextensions` read for an environment
//! (`bundle::cfn` resolves them): the pseudo parameters, the environment's name and id, and
//! EB's logical names mapped onto the environment's own resources, read from the account only
//! when a function names one. `local run` has a region and an environment but no account and
//! no resources: a function naming those is refused there, saying so.

use super::Context;
use crate::bundle::cfn::{pseudo_parameters, CfnContext};
use crate::bundle::ebextensions::EbExtensions;
use crate::model::{Environment, OutputRef};
use crate::reconcile::LiveState;

/// The environment id Beanpole gives an environment where EB gives `e-` and ten characters:
/// stable, derived from its application and name.
pub fn environment_id(application: &str, environment: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{application}/{environment}").as_bytes());
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = digest
        .iter()
        .take(10)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("e-{id}")
}

/// EB's logical name → the part of a Beanpole environment that plays it, and what `Ref`
/// answers (an output of the live resource).
const PARTS: &[(&str, &str, &str)] = &[
    ("AWSEBAutoScalingGroup", "auto_scaling_group", "name"),
    ("AWSEBV2LoadBalancer", "load_balancer", "arn"),
    ("AWSEBV2LoadBalancerListener", "http_listener", "arn"),
    ("AWSEBV2LoadBalancerTargetGroup", "target_group", "arn"),
    ("AWSEBSecurityGroup", "instance_security_group", "id"),
    (
        "AWSEBLoadBalancerSecurityGroup",
        "load_balancer_security_group",
        "id",
    ),
];

/// `Ref` and `Fn::GetAtt` values of EB's logical names from the environment's live resources
/// (`environment` is its graph address, `environment.NAME`).
pub fn resource_values(environment: &str, live: &LiveState, ctx: &mut CfnContext) {
    for (logical, part, reference) in PARTS {
        let address = format!("{environment}.{part}");
        let Some(resource) = live
            .resources
            .iter()
            .find(|r| r.owned && r.address.as_ref().is_some_and(|a| a.0 == address))
        else {
            ctx.missing.insert(
                logical.to_string(),
                format!("the environment has no {part} yet: run `beanpole apply` first"),
            );
            continue;
        };
        let output = |key: &str| {
            if key == "name" {
                return Some(resource.aws_name.clone());
            }
            resource
                .outputs
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        if let Some(value) = output(reference) {
            ctx.refs.insert(logical.to_string(), value);
        }
        let mut attribute = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                ctx.attributes
                    .insert((logical.to_string(), name.to_string()), value);
            }
        };
        // An ARN's resource part: `loadbalancer/app/NAME/ID`, `targetgroup/NAME/ID`.
        let resource_part = output("arn").and_then(|a| a.splitn(6, ':').nth(5).map(str::to_string));
        match *logical {
            "AWSEBV2LoadBalancer" => {
                attribute("DNSName", output("dns_name"));
                attribute("CanonicalHostedZoneID", output("zone_id"));
                attribute("LoadBalancerName", Some(resource.aws_name.clone()));
                attribute("LoadBalancerArn", output("arn"));
                attribute(
                    "LoadBalancerFullName",
                    resource_part.and_then(|r| r.strip_prefix("loadbalancer/").map(str::to_string)),
                );
            }
            "AWSEBV2LoadBalancerListener" => attribute("ListenerArn", output("arn")),
            "AWSEBV2LoadBalancerTargetGroup" => {
                attribute("TargetGroupName", Some(resource.aws_name.clone()));
                attribute("TargetGroupArn", output("arn"));
                attribute("TargetGroupFullName", resource_part);
            }
            "AWSEBSecurityGroup" | "AWSEBLoadBalancerSecurityGroup" => {
                attribute("GroupId", output("id"))
            }
            _ => {}
        }
    }
}

/// The context of `local run`: the region (when a spec names one), the environment's name and
/// id, the bundle's options; no account, no resources.
pub fn local_context(
    application: &str,
    env: Option<&Environment>,
    region: Option<&str>,
    ext: &EbExtensions,
) -> CfnContext {
    let mut ctx = CfnContext {
        refs: region
            .map(|r| pseudo_parameters(r, None))
            .unwrap_or_default(),
        options: ext.plain_options(),
        ..Default::default()
    };
    let why = "`local run` deploys to no AWS account: deploy to an environment to resolve it";
    ctx.missing.insert("AWS::AccountId".into(), why.to_string());
    if region.is_none() {
        for name in ["AWS::Region", "AWS::Partition", "AWS::URLSuffix"] {
            ctx.missing.insert(
                name.into(),
                "`local run` without a spec knows no region: run it with the spec's environment"
                    .into(),
            );
        }
    }
    if let Some(env) = env {
        ctx.refs
            .insert("AWSEBEnvironmentName".into(), env.name.clone());
        ctx.refs.insert(
            "AWSEBEnvironmentId".into(),
            environment_id(application, &env.name),
        );
    }
    for (logical, part, _) in PARTS {
        ctx.missing.insert(
            logical.to_string(),
            format!("`local run` plays no {part}: deploy to an environment to resolve it"),
        );
    }
    for name in ["AWS::StackName", "AWS::StackId"] {
        ctx.missing.insert(name.into(), no_stack());
    }
    for r in &ext.resources {
        ctx.missing.insert(
            r.name.clone(),
            format!(
                "`local run` creates no AWS resources ({} is in {}'s `Resources:`): deploy to an environment to resolve it",
                r.name, r.file
            ),
        );
    }
    ctx
}

fn no_stack() -> String {
    "Beanpole runs no CloudFormation stack for an environment (yet): name the environment with AWSEBEnvironmentName".into()
}

/// The context of a deploy of `ext` to `env`: the account's pseudo parameters, and the
/// environment's resources when a function names one of them.
pub async fn deploy_context(
    ctx: Context<'_>,
    env: &Environment,
    ext: &EbExtensions,
) -> Result<CfnContext, super::OpError> {
    let aws = ctx.session.client(&env.application)?;
    let references = ext.function_references();
    let account = if references.contains("AWS::AccountId") {
        crate::aws::sts::account_id(&aws.sts).await.ok()
    } else {
        None
    };
    let mut cfn = CfnContext {
        refs: pseudo_parameters(&aws.region, account.as_deref()),
        options: ext.plain_options(),
        ..Default::default()
    };
    cfn.refs
        .insert("AWSEBEnvironmentName".into(), env.name.clone());
    cfn.refs.insert(
        "AWSEBEnvironmentId".into(),
        environment_id(&env.application, &env.name),
    );
    for name in ["AWS::StackName", "AWS::StackId"] {
        cfn.missing.insert(name.into(), no_stack());
    }
    let names_a_resource = PARTS.iter().any(|(l, _, _)| references.contains(*l));
    if names_a_resource {
        let live = crate::aws::live::read_live_state(
            aws,
            ctx.graph,
            std::slice::from_ref(&env.application),
        )
        .await
        .map_err(super::OpError::Read)?;
        resource_values(&env.address(), &live, &mut cfn);
    }
    Ok(cfn)
}

/// Every option and `files` content of `ext` with its functions resolved in `cfn`, or the
/// located problems.
pub fn resolved(ext: &EbExtensions, cfn: &CfnContext) -> Result<EbExtensions, Vec<String>> {
    if !ext.has_functions() {
        return Ok(ext.clone());
    }
    ext.with_functions_resolved(cfn)
        .map_err(|errors| errors.iter().map(|e| e.to_string()).collect())
}

/// The values of the properties an environment takes from its extra resources' stacks
/// (`ORDERS_TABLE = application.shop.resource.orders.ref`), read from the stacks' outputs when
/// a deployment's document is written. A stack or output not there yet is an error that says
/// to apply first.
pub async fn resource_properties(
    ctx: Context<'_>,
    env: &Environment,
) -> Result<std::collections::BTreeMap<String, String>, super::OpError> {
    let named: Vec<(String, &OutputRef)> = env
        .resource_properties
        .iter()
        .map(|(property, output)| (format!("property {property}"), output))
        .collect();
    let values = stack_outputs(ctx, &named).await?;
    Ok(env
        .resource_properties
        .keys()
        .zip(values)
        .map(|(property, value)| (property.clone(), value))
        .collect())
}

/// A worker's queue, dead-letter queue and leader table, from its stack's outputs, into its
/// daemon's settings.
pub async fn worker_queues(
    ctx: Context<'_>,
    env: &Environment,
    daemon: &mut crate::model::worker::DaemonSettings,
) -> Result<(), super::OpError> {
    let Some(values) = env.worker_values() else {
        return Ok(());
    };
    let mut named: Vec<(String, &OutputRef)> = vec![(
        "the worker's leader table".to_string(),
        &values.leader_table[0],
    )];
    if let Some([url, _, _, dead_letter_url, _]) = &values.queue {
        named.push(("the worker's queue".to_string(), url));
        named.push((
            "the worker's dead-letter queue".to_string(),
            dead_letter_url,
        ));
    }
    let mut read = stack_outputs(ctx, &named).await?.into_iter();
    daemon.leader_table = read.next();
    if values.queue.is_some() {
        daemon.queue_url = read.next().unwrap_or_default();
        daemon.dead_letter_queue_url = read.next();
    }
    Ok(())
}

/// The values of stack outputs, each named for messages (`property ORDERS_TABLE`), in order,
/// read from the stacks now (each stack once). A stack or output not there yet is an error
/// that says to apply first.
async fn stack_outputs(
    ctx: Context<'_>,
    named: &[(String, &OutputRef)],
) -> Result<Vec<String>, super::OpError> {
    let mut values = Vec::new();
    let mut stacks: std::collections::BTreeMap<String, crate::reconcile::Attributes> =
        std::collections::BTreeMap::new();
    for (what, output) in named {
        let address = crate::graph::Address(output.stack.clone());
        let Some(stack) = ctx.graph.get(&address) else {
            return Err(super::OpError::Refused(format!(
                "{what} reads {} of {}, which the spec has no stack for",
                output.describe(),
                output.stack
            )));
        };
        // Under the CloudFormation engine, an environment's own resources are in its stack.
        let engine = ctx
            .compilation
            .spec
            .application(&stack.application)
            .map(|a| a.engine);
        let mut stack = stack.clone();
        if let (Some(crate::model::Engine::CloudFormation), Some(env)) =
            (engine, stack.environment.clone())
        {
            stack.aws_name = crate::graph::engines::stack_name(&stack.application, &env);
        }
        if !stacks.contains_key(&stack.aws_name) {
            let aws = ctx.session.client(&stack.application)?;
            let outputs = crate::aws::cloudformation::read_stack(aws, &stack.aws_name, false)
                .await
                .map_err(super::OpError::Read)?
                .filter(|s| s.owned)
                .map(|s| s.outputs)
                .unwrap_or_default();
            stacks.insert(stack.aws_name.clone(), outputs);
        }
        let value = stacks
            .get(&stack.aws_name)
            .and_then(|o| o.get(&output.output_key()))
            .and_then(|v| v.as_str());
        match value {
            Some(value) => values.push(value.to_string()),
            None => {
                return Err(super::OpError::Refused(format!(
                    "{what} reads {} of stack {}, which has no such output yet: run `beanpole apply` first",
                    output.describe(),
                    stack.aws_name
                )))
            }
        }
    }
    Ok(values)
}

/// A version's `Resources:` in an environment, as Elastic Beanstalk takes them when the
/// version is deployed: overrides of EB's own resources mapped onto the spec (refused when it
/// lacks the equivalent, or when Beanpole has none, by file and entry, saying what to write);
/// new resources in the environment's bundle stack, brought to what the version declares (its
/// change set handed to `on_change_set` before it is executed; the stack deleted when the
/// version declares none); their values added to `cfn` for the functions of option settings
/// and `files`.
pub async fn bundle_resources(
    ctx: Context<'_>,
    env: &Environment,
    ext: &EbExtensions,
    cfn: CfnContext,
    on_change_set: &mut dyn FnMut(&str, &crate::reconcile::stacks::ChangeSet),
) -> Result<CfnContext, super::OpError> {
    use crate::bundle::resources::{bundle_stack, refused_overrides, with_outputs};
    let mut refused = refused_overrides(&ext.resources, env);
    let read = ext.attribute_references();
    let stack = bundle_stack(&ext.resources, &read, &cfn).map_err(|e| {
        refused.extend(e);
        super::OpError::Refused(refused.join("; "))
    })?;
    if !refused.is_empty() {
        return Err(super::OpError::Refused(refused.join("; ")));
    }
    let aws = ctx.session.client(&env.application)?;
    let name = bundle_stack_name(&env.application, &env.name);
    let live = crate::aws::cloudformation::read_stack(aws, &name, true)
        .await
        .map_err(super::OpError::Read)?;
    if let Some(found) = &live {
        if !found.owned || found.environment.as_deref() != Some(env.name.as_str()) {
            return Err(super::OpError::Refused(format!(
                "stack {name} exists and is not this environment's (Beanpole never adopts or changes it)"
            )));
        }
    }
    let Some(stack) = stack else {
        // The version declares no resources: the ones an earlier version declared go (what
        // holds data is kept by its deletion policy).
        if let Some(found) = &live {
            crate::aws::cloudformation::delete(aws, found, false)
                .await
                .map_err(super::OpError::Read)?;
        }
        return Ok(cfn);
    };
    let tags = std::collections::BTreeMap::from([
        (
            crate::graph::TAG_MANAGED_BY.to_string(),
            crate::graph::MANAGED_BY_VALUE.to_string(),
        ),
        (
            crate::graph::TAG_APPLICATION.to_string(),
            env.application.clone(),
        ),
        (crate::graph::TAG_ENVIRONMENT.to_string(), env.name.clone()),
        (
            crate::graph::TAG_ADDRESS.to_string(),
            format!("{}.bundle_resources", env.address()),
        ),
        (
            crate::graph::TAG_SOURCE.to_string(),
            crate::graph::SOURCE_BUNDLE.to_string(),
        ),
    ]);
    let desired = crate::aws::cloudformation::Desired {
        template: stack.template,
        parameters: stack.parameters,
        tags: &tags,
    };
    let reviewed = live
        .as_ref()
        .is_some_and(crate::reconcile::plan::is_reviewed_stack);
    let creates = live.is_none() || reviewed;
    let before = live
        .as_ref()
        .filter(|_| !creates)
        .and_then(|l| l.attributes.get("template").cloned())
        .unwrap_or(serde_json::Value::Null);
    let set = crate::aws::cloudformation::change_set(aws, &name, &desired, creates, &before)
        .await
        .map_err(super::OpError::Read)?;
    on_change_set(&name, &set);
    let outputs = crate::aws::cloudformation::converge(aws, &name, &desired, creates, &before)
        .await
        .map_err(super::OpError::Read)?;
    let outputs: std::collections::BTreeMap<String, String> = outputs
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
        .collect();
    Ok(with_outputs(&cfn, &ext.resources, &read, &outputs))
}

/// An environment's stack of its version's `Resources:`.
pub fn bundle_stack_name(application: &str, environment: &str) -> String {
    crate::graph::names::fit(
        &format!("{application}-{environment}"),
        "bundle",
        &format!("{application}\u{0}{environment}\u{0}bundle"),
        crate::graph::names::LONG_NAME_LIMIT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Address, ResourceKind};
    use crate::reconcile::LiveResource;
    use serde_json::json;

    fn owned(part: &str, kind: ResourceKind, name: &str, outputs: &[(&str, &str)]) -> LiveResource {
        LiveResource {
            kind,
            aws_name: name.into(),
            owned: true,
            application: Some("shop".into()),
            environment: Some("shop-blue".into()),
            address: Some(Address(format!("environment.shop-blue.{part}"))),
            attributes: Default::default(),
            outputs: outputs
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
            tags: Default::default(),
        }
    }

    #[test]
    fn eb_logical_names_map_onto_the_environments_resources() {
        let lb = "arn:aws:elasticloadbalancing:us-east-2:123456789012:loadbalancer/app/shop-blue/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067";
        let live = LiveState {
            resources: vec![
                owned(
                    "load_balancer",
                    ResourceKind::LoadBalancer,
                    "shop-blue",
                    &[("arn", lb), ("dns_name", "shop-blue-1.elb.amazonaws.com")],
                ),
                owned(
                    "target_group",
                    ResourceKind::TargetGroup,
                    "shop-blue",
                    &[("arn", tg)],
                ),
                owned(
                    "instance_security_group",
                    ResourceKind::SecurityGroup,
                    "shop-blue-instances",
                    &[("id", "sg-0123456789abcdef0")],
                ),
            ],
            ..Default::default()
        };
        let mut ctx = CfnContext::default();
        resource_values("environment.shop-blue", &live, &mut ctx);
        let attribute =
            |r: &str, a: &str| ctx.attributes.get(&(r.to_string(), a.to_string())).cloned();
        assert_eq!(
            ctx.refs.get("AWSEBV2LoadBalancer").map(String::as_str),
            Some(lb)
        );
        assert_eq!(
            attribute("AWSEBV2LoadBalancer", "LoadBalancerFullName").as_deref(),
            Some("app/shop-blue/50dc6c495c0c9188")
        );
        assert_eq!(
            attribute("AWSEBV2LoadBalancerTargetGroup", "TargetGroupFullName").as_deref(),
            Some("targetgroup/shop-blue/73e2d6bc24d8a067")
        );
        assert_eq!(
            attribute("AWSEBSecurityGroup", "GroupId").as_deref(),
            Some("sg-0123456789abcdef0")
        );
        // What the environment has not (yet): said, with what to do.
        assert!(ctx.missing["AWSEBAutoScalingGroup"].contains("run `beanpole apply` first"));
    }
}
