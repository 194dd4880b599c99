//! Elastic Load Balancing v2: the Application Load Balancer, its target group and listeners,
//! as resources of the graph; what deployments do with targets is in [`targets`].

mod targets;
pub use targets::*;

use super::{int_attr, str_attr, string_list};
use super::{AwsError, Sdk};
use crate::graph::{Address, ResourceKind};
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, IpAddressType, LoadBalancer, LoadBalancerAttribute,
    LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, Tag, TargetGroup, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use futures::future::try_join_all;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// DescribeTags takes at most 20 ARNs.
const TAGS_PER_CALL: usize = 20;

/// Names Beanpole could have made: `…-HASH` with a 7-hex hash (see `graph::names`).
fn looks_like_ours(name: &str) -> bool {
    name.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 7 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The load balancers whose name `keep` accepts: one paginated listing.
pub async fn load_balancers(
    client: &Client,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<LoadBalancer>, AwsError> {
    let pages = client
        .describe_load_balancers()
        .page_size(400)
        .into_paginator()
        .send();
    super::paginated(pages, "DescribeLoadBalancers", |page| {
        page.load_balancers
            .unwrap_or_default()
            .into_iter()
            .filter(|lb| keep(lb.load_balancer_name().unwrap_or_default()))
            .collect()
    })
    .await
}

/// The target groups whose name `keep` accepts: one paginated listing.
pub async fn target_groups(
    client: &Client,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<TargetGroup>, AwsError> {
    let pages = client
        .describe_target_groups()
        .page_size(400)
        .into_paginator()
        .send();
    super::paginated(pages, "DescribeTargetGroups", |page| {
        page.target_groups
            .unwrap_or_default()
            .into_iter()
            .filter(|tg| keep(tg.target_group_name().unwrap_or_default()))
            .collect()
    })
    .await
}

/// Load balancers, target groups and listeners named as Beanpole names them (or as one of
/// `lb_names`/`tg_names`): one paginated listing per kind, tags in batches of 20, and the
/// per-balancer listener and attribute reads concurrently.
pub async fn read(
    client: &Client,
    lb_names: &[String],
    tg_names: &[String],
) -> Result<Vec<LiveResource>, AwsError> {
    let balancers = load_balancers(client, |name| {
        lb_names.iter().any(|n| n == name) || looks_like_ours(name)
    })
    .await?;
    let groups = target_groups(client, |name| {
        tg_names.iter().any(|n| n == name) || looks_like_ours(name)
    })
    .await?;
    let details = try_join_all(balancers.iter().map(|lb| async move {
        let arn = lb.load_balancer_arn().unwrap_or_default();
        let (listeners, attributes) = futures::try_join!(
            async {
                client
                    .describe_listeners()
                    .load_balancer_arn(arn)
                    .send()
                    .await
                    .op("DescribeListeners")
            },
            async {
                client
                    .describe_load_balancer_attributes()
                    .load_balancer_arn(arn)
                    .send()
                    .await
                    .op("DescribeLoadBalancerAttributes")
            }
        )?;
        let idle = attributes
            .attributes()
            .iter()
            .find(|a| a.key() == Some("idle_timeout.timeout_seconds"))
            .and_then(|a| a.value())
            .and_then(|v| v.parse::<i64>().ok())
            // AWS always reports it; an emulator that leaves out the attribute it was never
            // given means AWS's default.
            .or(Some(DEFAULT_IDLE_TIMEOUT));
        Ok::<_, AwsError>((listeners.listeners().to_vec(), idle))
    }))
    .await?;

    let mut arns: Vec<String> = Vec::new();
    arns.extend(
        balancers
            .iter()
            .filter_map(|b| b.load_balancer_arn().map(str::to_string)),
    );
    arns.extend(
        groups
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_string)),
    );
    for (listeners, _) in &details {
        arns.extend(
            listeners
                .iter()
                .filter_map(|l| l.listener_arn().map(str::to_string)),
        );
    }
    let tag_pages = try_join_all(arns.chunks(TAGS_PER_CALL).map(|chunk| async move {
        client
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .op("DescribeTags")
    }))
    .await?;
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for page in &tag_pages {
        for description in page.tag_descriptions() {
            if let Some(arn) = description.resource_arn() {
                tags.insert(
                    arn.to_string(),
                    super::tag_map(description.tags().iter().map(|t| (t.key(), t.value()))),
                );
            }
        }
    }
    let tags_of = |arn: Option<&str>| {
        tags.get(arn.unwrap_or_default())
            .cloned()
            .unwrap_or_default()
    };

    let mut found = Vec::new();
    for (lb, (listeners, idle)) in balancers.iter().zip(details) {
        let name = lb.load_balancer_name().unwrap_or_default();
        let mut subnets: Vec<&str> = lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .collect();
        subnets.sort();
        let attributes = BTreeMap::from([
            ("scheme".to_string(), json!(lb.scheme().map(|s| s.as_str()))),
            ("subnet_ids".to_string(), json!(subnets)),
            (
                "security_group_ids".to_string(),
                json!(lb.security_groups()),
            ),
            ("idle_timeout".to_string(), json!(idle)),
        ]);
        let outputs = BTreeMap::from([
            ("arn".to_string(), json!(lb.load_balancer_arn())),
            ("name".to_string(), json!(name)),
            ("dns_name".to_string(), json!(lb.dns_name())),
            ("zone_id".to_string(), json!(lb.canonical_hosted_zone_id())),
        ]);
        let balancer = LiveResource::from_tags(
            ResourceKind::LoadBalancer,
            name,
            tags_of(lb.load_balancer_arn()),
            attributes,
            outputs,
        );
        for listener in &listeners {
            let port = listener.port().unwrap_or_default();
            let part = match port {
                80 => "http_listener".to_string(),
                443 => "https_listener".to_string(),
                other => format!("listener_{other}"),
            };
            let mut attributes = BTreeMap::from([
                (
                    "load_balancer_arn".to_string(),
                    json!(listener.load_balancer_arn()),
                ),
                ("port".to_string(), json!(port)),
                (
                    "protocol".to_string(),
                    json!(listener.protocol().map(|p| p.as_str())),
                ),
                (
                    "default_action".to_string(),
                    listener
                        .default_actions()
                        .first()
                        .map(action_value)
                        .unwrap_or(Value::Null),
                ),
            ]);
            if let Some(certificate) = listener.certificates().first() {
                attributes.insert(
                    "certificate_arn".to_string(),
                    json!(certificate.certificate_arn()),
                );
            }
            if let Some(policy) = listener.ssl_policy() {
                attributes.insert("ssl_policy".to_string(), json!(policy));
            }
            // A listener is Beanpole's when its load balancer is.
            let live = LiveResource {
                kind: ResourceKind::Listener,
                aws_name: format!("{name}:{port}"),
                owned: balancer.owned,
                application: balancer.application.clone(),
                environment: balancer.environment.clone(),
                address: balancer.address.as_ref().map(|a| {
                    Address(match a.0.strip_suffix("load_balancer") {
                        Some(prefix) => format!("{prefix}{part}"),
                        None => format!("{a}.{part}"),
                    })
                }),
                attributes,
                outputs: BTreeMap::from([("arn".to_string(), json!(listener.listener_arn()))]),
                tags: {
                    // … and its stack's, when a stack holds the load balancer.
                    let mut tags = tags_of(listener.listener_arn());
                    for key in [
                        crate::graph::export::TAG_STACK,
                        "aws:cloudformation:stack-name",
                    ] {
                        if let Some(stack) = balancer.tags.get(key) {
                            tags.insert(key.to_string(), stack.clone());
                        }
                    }
                    tags
                },
            };
            found.push(live);
        }
        found.push(balancer);
    }
    for tg in &groups {
        let name = tg.target_group_name().unwrap_or_default();
        let attributes = BTreeMap::from([
            ("vpc_id".to_string(), json!(tg.vpc_id())),
            ("port".to_string(), json!(tg.port())),
            (
                "protocol".to_string(),
                json!(tg.protocol().map(|p| p.as_str())),
            ),
            (
                "target_type".to_string(),
                json!(tg.target_type().map(|t| t.as_str())),
            ),
            (
                "health_check".to_string(),
                json!({
                    "path": tg.health_check_path(),
                    "interval": tg.health_check_interval_seconds(),
                    "timeout": tg.health_check_timeout_seconds(),
                    "healthy_threshold": tg.healthy_threshold_count(),
                    "unhealthy_threshold": tg.unhealthy_threshold_count(),
                    "matcher": tg.matcher().and_then(|m| m.http_code()),
                }),
            ),
        ]);
        let outputs = BTreeMap::from([
            ("arn".to_string(), json!(tg.target_group_arn())),
            ("name".to_string(), json!(name)),
        ]);
        found.push(LiveResource::from_tags(
            ResourceKind::TargetGroup,
            name,
            tags_of(tg.target_group_arn()),
            attributes,
            outputs,
        ));
    }
    Ok(found)
}

fn action_value(action: &Action) -> Value {
    match action.r#type() {
        Some(ActionTypeEnum::Redirect) => {
            let redirect = action.redirect_config();
            json!({
                "type": "redirect",
                "protocol": redirect.and_then(|r| r.protocol()),
                "port": redirect.and_then(|r| r.port()).and_then(|p| p.parse::<i64>().ok()),
                "status_code": redirect.and_then(|r| r.status_code()).map(|s| s.as_str()),
            })
        }
        Some(other) => json!({
            "type": other.as_str(),
            "target_group_arn": action.target_group_arn(),
        }),
        None => Value::Null,
    }
}

fn action_of(value: Option<&Value>) -> Result<Action, AwsError> {
    let value = value.cloned().unwrap_or(Value::Null);
    let get = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    match get("type").as_deref() {
        Some("redirect") => {
            let port = value.get("port").and_then(Value::as_i64).unwrap_or(443);
            Ok(Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .set_protocol(get("protocol"))
                        .port(port.to_string())
                        .status_code(RedirectActionStatusCodeEnum::from(
                            get("status_code")
                                .unwrap_or_else(|| "HTTP_301".into())
                                .as_str(),
                        ))
                        .build(),
                )
                .build())
        }
        _ => Ok(Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .set_target_group_arn(get("target_group_arn"))
            .build()),
    }
}

fn health(attributes: &Attributes, key: &str) -> Option<Value> {
    attributes
        .get("health_check")
        .and_then(|h| h.get(key))
        .cloned()
}

fn health_int(attributes: &Attributes, key: &str) -> Option<i32> {
    health(attributes, key)
        .and_then(|v| v.as_i64())
        .map(|v| v as i32)
}

fn health_str(attributes: &Attributes, key: &str) -> Option<String> {
    health(attributes, key).and_then(|v| v.as_str().map(str::to_string))
}

pub async fn create_target_group(
    client: &Client,
    name: &str,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let created = client
        .create_target_group()
        .name(name)
        .vpc_id(str_attr(attributes, "vpc_id"))
        .set_port(int_attr(attributes, "port"))
        .protocol(ProtocolEnum::from(str_attr(attributes, "protocol")))
        .target_type(TargetTypeEnum::from(str_attr(attributes, "target_type")))
        .set_health_check_path(health_str(attributes, "path"))
        .set_health_check_interval_seconds(health_int(attributes, "interval"))
        .set_health_check_timeout_seconds(health_int(attributes, "timeout"))
        .set_healthy_threshold_count(health_int(attributes, "healthy_threshold"))
        .set_unhealthy_threshold_count(health_int(attributes, "unhealthy_threshold"))
        .matcher(
            Matcher::builder()
                .set_http_code(health_str(attributes, "matcher"))
                .build(),
        )
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .op("CreateTargetGroup")?;
    let arn = created
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .ok_or_else(|| AwsError::Unexpected("CreateTargetGroup returned no target group".into()))?;
    Ok(BTreeMap::from([
        ("arn".to_string(), json!(arn)),
        ("name".to_string(), json!(name)),
    ]))
}

pub async fn update_target_group(
    client: &Client,
    arn: &str,
    attributes: &Attributes,
    old_tags: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    client
        .modify_target_group()
        .target_group_arn(arn)
        .set_health_check_path(health_str(attributes, "path"))
        .set_health_check_interval_seconds(health_int(attributes, "interval"))
        .set_health_check_timeout_seconds(health_int(attributes, "timeout"))
        .set_healthy_threshold_count(health_int(attributes, "healthy_threshold"))
        .set_unhealthy_threshold_count(health_int(attributes, "unhealthy_threshold"))
        .matcher(
            Matcher::builder()
                .set_http_code(health_str(attributes, "matcher"))
                .build(),
        )
        .send()
        .await
        .op("ModifyTargetGroup")?;
    retag(client, arn, old_tags, tags).await
}

/// Deletes a target group, waiting while a listener or group still uses it.
pub async fn delete_target_group(aws: &super::Aws, arn: &str) -> Result<(), AwsError> {
    let deleted = super::retry_while(super::ErrorClass::InUse, aws.waits.dependency, || async {
        aws.elbv2
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .op("DeleteTargetGroup")
    })
    .await;
    super::already_gone(deleted)
}

pub async fn retag(
    client: &Client,
    arn: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    super::retag(
        old,
        new,
        |set| async move {
            client
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(tag_list(&set)))
                .send()
                .await
                .op("AddTags")
                .map(drop)
        },
        |gone| async move {
            client
                .remove_tags()
                .resource_arns(arn)
                .set_tag_keys(Some(gone.into_keys().collect()))
                .send()
                .await
                .op("RemoveTags")
                .map(drop)
        },
    )
    .await
}

/// Creates the load balancer and waits until it is active.
pub async fn create_load_balancer(
    aws: &super::Aws,
    name: &str,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let created = aws
        .elbv2
        .create_load_balancer()
        .name(name)
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(LoadBalancerSchemeEnum::from(str_attr(attributes, "scheme")))
        .ip_address_type(IpAddressType::Ipv4)
        .set_subnets(Some(string_list(attributes, "subnet_ids")))
        .set_security_groups(Some(string_list(attributes, "security_group_ids")))
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .op("CreateLoadBalancer")?;
    let lb = created.load_balancers().first().ok_or_else(|| {
        AwsError::Unexpected("CreateLoadBalancer returned no load balancer".into())
    })?;
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    // A new load balancer has AWS's default idle timeout: set only a different one.
    if attributes.get("idle_timeout").and_then(Value::as_i64) != Some(DEFAULT_IDLE_TIMEOUT) {
        set_idle_timeout(&aws.elbv2, &arn, attributes).await?;
    }
    // Not `active` yet: apply waits for that in a step of its own (`StepWork::AwaitReady`), so
    // the listeners and the CNAME, which need only the ARN and DNS name, need not wait.
    Ok(BTreeMap::from([
        ("arn".to_string(), json!(arn)),
        ("name".to_string(), json!(name)),
        ("dns_name".to_string(), json!(lb.dns_name())),
        ("zone_id".to_string(), json!(lb.canonical_hosted_zone_id())),
    ]))
}

/// The idle timeout (seconds) AWS gives a new Application Load Balancer.
const DEFAULT_IDLE_TIMEOUT: i64 = 60;

async fn set_idle_timeout(
    client: &Client,
    arn: &str,
    attributes: &Attributes,
) -> Result<(), AwsError> {
    if let Some(seconds) = attributes.get("idle_timeout").and_then(Value::as_i64) {
        client
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .attributes(
                LoadBalancerAttribute::builder()
                    .key("idle_timeout.timeout_seconds")
                    .value(seconds.to_string())
                    .build(),
            )
            .send()
            .await
            .op("ModifyLoadBalancerAttributes")?;
    }
    Ok(())
}

/// Polls until the load balancer is `active` (a new one can even be briefly not found).
pub async fn wait_active(aws: &super::Aws, arn: &str, name: &str) -> Result<(), AwsError> {
    super::wait_for(
        &format!("load balancer {name}"),
        "become active",
        aws.waits.load_balancer_active,
        aws.waits.poll,
        || async {
            match aws
                .elbv2
                .describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await
                .op("DescribeLoadBalancers")
            {
                Ok(out) => {
                    let state = out
                        .load_balancers()
                        .first()
                        .and_then(|l| l.state())
                        .and_then(|s| s.code())
                        .cloned();
                    match state {
                        Some(LoadBalancerStateEnum::Active) => Ok(Some(())),
                        Some(LoadBalancerStateEnum::Failed) => Err(AwsError::Unexpected(format!(
                            "load balancer {name} failed to provision"
                        ))),
                        _ => Ok(None),
                    }
                }
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        },
    )
    .await
}

pub async fn update_load_balancer(
    client: &Client,
    arn: &str,
    change: &super::Change<'_>,
) -> Result<(), AwsError> {
    let (before, after, old_tags, tags) = change.parts();
    let differs = |key: &str| {
        let canonical = |v: Option<&Value>| {
            crate::reconcile::plan::canonical(
                ResourceKind::LoadBalancer,
                key,
                v.unwrap_or(&Value::Null),
            )
        };
        canonical(before.get(key)) != canonical(after.get(key))
    };
    if differs("subnet_ids") {
        client
            .set_subnets()
            .load_balancer_arn(arn)
            .set_subnets(Some(string_list(after, "subnet_ids")))
            .send()
            .await
            .op("SetSubnets")?;
    }
    if differs("security_group_ids") {
        client
            .set_security_groups()
            .load_balancer_arn(arn)
            .set_security_groups(Some(string_list(after, "security_group_ids")))
            .send()
            .await
            .op("SetSecurityGroups")?;
    }
    if differs("idle_timeout") {
        set_idle_timeout(client, arn, after).await?;
    }
    retag(client, arn, old_tags, tags).await
}

/// Deletes the load balancer (its listeners go with it) and waits until it is gone, so that
/// its security group can follow.
pub async fn delete_load_balancer(aws: &super::Aws, arn: &str, name: &str) -> Result<(), AwsError> {
    let deleted = aws
        .elbv2
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .op("DeleteLoadBalancer");
    if super::present(deleted)?.is_none() {
        return Ok(());
    }
    super::wait_for(
        &format!("load balancer {name}"),
        "disappear",
        aws.waits.load_balancer_active,
        aws.waits.poll,
        || async {
            let listed = aws
                .elbv2
                .describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await
                .op("DescribeLoadBalancers");
            Ok(match super::present(listed)? {
                Some(out) if !out.load_balancers().is_empty() => None,
                _ => Some(()),
            })
        },
    )
    .await
}

pub async fn create_listener(
    client: &Client,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let certificate = attributes
        .get("certificate_arn")
        .and_then(Value::as_str)
        .map(|arn| Certificate::builder().certificate_arn(arn).build());
    let created = client
        .create_listener()
        .load_balancer_arn(str_attr(attributes, "load_balancer_arn"))
        .set_port(int_attr(attributes, "port"))
        .protocol(ProtocolEnum::from(str_attr(attributes, "protocol")))
        .set_certificates(certificate.map(|c| vec![c]))
        .set_ssl_policy(
            attributes
                .get("ssl_policy")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
        .default_actions(action_of(attributes.get("default_action"))?)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .op("CreateListener")?;
    let arn = created
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .ok_or_else(|| AwsError::Unexpected("CreateListener returned no listener".into()))?;
    Ok(BTreeMap::from([("arn".to_string(), json!(arn))]))
}

pub async fn update_listener(
    client: &Client,
    arn: &str,
    attributes: &Attributes,
    old_tags: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let certificate = attributes
        .get("certificate_arn")
        .and_then(Value::as_str)
        .map(|arn| Certificate::builder().certificate_arn(arn).build());
    client
        .modify_listener()
        .listener_arn(arn)
        .set_port(int_attr(attributes, "port"))
        .protocol(ProtocolEnum::from(str_attr(attributes, "protocol")))
        .set_certificates(certificate.map(|c| vec![c]))
        .set_ssl_policy(
            attributes
                .get("ssl_policy")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
        .default_actions(action_of(attributes.get("default_action"))?)
        .send()
        .await
        .op("ModifyListener")?;
    retag(client, arn, old_tags, tags).await
}

pub async fn delete_listener(client: &Client, arn: &str) -> Result<(), AwsError> {
    super::already_gone(
        client
            .delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .op("DeleteListener"),
    )
}
