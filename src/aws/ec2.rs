//! EC2: the network an environment runs in (looked up), security groups and launch templates.

use super::{str_attr, string_list, AwsError, Sdk};
use crate::graph::ResourceKind;
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_ec2::types::{
    Filter, InstanceType, IpPermission, IpRange, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData, ResourceType, Tag,
    TagSpecification, UserIdGroupPair,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// EC2 accepts up to 200 values per filter.
const FILTER_VALUES: usize = 200;

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    super::tag_map(tags.iter().map(|t| (t.key(), t.value())))
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_specification(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tag_list(tags)))
        .build()
}

/// The VPC and subnets: the account's default VPC and its default subnets, or the given ones
/// (checked to exist and to belong to the VPC).
pub async fn read_network(
    client: &aws_sdk_ec2::Client,
    vpc: Option<&str>,
    subnets: &[String],
) -> Result<Attributes, String> {
    let request = match vpc {
        None => client
            .describe_vpcs()
            .filters(filter("is-default", &["true".to_string()])),
        Some(id) => client
            .describe_vpcs()
            .filters(filter("vpc-id", &[id.to_string()])),
    };
    let vpcs = request
        .send()
        .await
        .op("DescribeVpcs")
        .map_err(|e| e.to_string())?;
    let Some(vpc_id) = vpcs.vpcs().first().and_then(|v| v.vpc_id()) else {
        return Err(match vpc {
            None => "the region has no default VPC: set `network { vpc_id, subnets }`".to_string(),
            Some(id) => format!("VPC `{id}` does not exist in this account and region"),
        });
    };
    let request = if subnets.is_empty() {
        client
            .describe_subnets()
            .filters(filter("vpc-id", &[vpc_id.to_string()]))
            .filters(filter("default-for-az", &["true".to_string()]))
    } else {
        client
            .describe_subnets()
            .filters(filter("subnet-id", subnets))
    };
    let found = request
        .send()
        .await
        .op("DescribeSubnets")
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    for subnet in found.subnets() {
        if subnet.vpc_id() != Some(vpc_id) {
            return Err(format!(
                "subnet `{}` is not in VPC `{vpc_id}`",
                subnet.subnet_id().unwrap_or_default()
            ));
        }
        if let Some(id) = subnet.subnet_id() {
            ids.push(id.to_string());
        }
    }
    for wanted in subnets {
        if !ids.contains(wanted) {
            return Err(format!(
                "subnet `{wanted}` does not exist in this account and region"
            ));
        }
    }
    if ids.is_empty() {
        return Err(format!("VPC `{vpc_id}` has no default subnets"));
    }
    ids.sort();
    Ok(BTreeMap::from([
        ("vpc_id".to_string(), json!(vpc_id)),
        ("subnet_ids".to_string(), json!(ids)),
        // As a CloudFormation parameter's value (the CloudFormation engine's stacks).
        (
            crate::graph::export::SUBNET_LIST.to_string(),
            json!(ids.join(",")),
        ),
    ]))
}

/// The queries that find a kind's resources by Beanpole's names and by its application tag
/// (two separate queries: EC2 ANDs the filters of one query), within EC2's 200 values per
/// filter.
fn lookup_filters(name_filter: &str, names: &[String], applications: &[String]) -> Vec<Filter> {
    let tag_filter = format!("tag:{}", crate::graph::TAG_APPLICATION);
    names
        .chunks(FILTER_VALUES)
        .map(|chunk| filter(name_filter, chunk))
        .chain(
            applications
                .chunks(FILTER_VALUES)
                .map(|chunk| filter(&tag_filter, chunk)),
        )
        .collect()
}

/// Security groups with one of `names`, or tagged with one of `applications`.
pub async fn read_security_groups(
    client: &aws_sdk_ec2::Client,
    names: &[String],
    applications: &[String],
) -> Result<Vec<LiveResource>, AwsError> {
    let mut groups = BTreeMap::new();
    for query in lookup_filters("group-name", names, applications) {
        let mut pages = client
            .describe_security_groups()
            .filters(query)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.op("DescribeSecurityGroups")?;
            for group in page.security_groups() {
                let (Some(id), Some(name)) = (group.group_id(), group.group_name()) else {
                    continue;
                };
                let mut ingress = Vec::new();
                for permission in group.ip_permissions() {
                    let protocol = permission.ip_protocol().unwrap_or("-1");
                    let from = permission.from_port();
                    let to = permission.to_port();
                    for range in permission.ip_ranges() {
                        ingress.push(json!({ "protocol": protocol, "from_port": from, "to_port": to, "cidr": range.cidr_ip() }));
                    }
                    for pair in permission.user_id_group_pairs() {
                        ingress.push(json!({ "protocol": protocol, "from_port": from, "to_port": to, "source_security_group_id": pair.group_id() }));
                    }
                }
                let attributes = BTreeMap::from([
                    ("description".to_string(), json!(group.description())),
                    ("vpc_id".to_string(), json!(group.vpc_id())),
                    ("ingress".to_string(), Value::Array(ingress)),
                ]);
                let outputs = BTreeMap::from([("id".to_string(), json!(id))]);
                groups.insert(
                    id.to_string(),
                    LiveResource::from_tags(
                        ResourceKind::SecurityGroup,
                        name,
                        tags_of(group.tags()),
                        attributes,
                        outputs,
                    ),
                );
            }
        }
    }
    Ok(groups.into_values().collect())
}

fn ingress_permission(rule: &Value) -> IpPermission {
    let port = |key: &str| rule.get(key).and_then(Value::as_i64).map(|p| p as i32);
    let mut permission = IpPermission::builder()
        .ip_protocol(
            rule.get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("tcp"),
        )
        .set_from_port(port("from_port"))
        .set_to_port(port("to_port"));
    if let Some(cidr) = rule.get("cidr").and_then(Value::as_str) {
        permission = permission.ip_ranges(IpRange::builder().cidr_ip(cidr).build());
    }
    if let Some(group) = rule.get("source_security_group_id").and_then(Value::as_str) {
        permission =
            permission.user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build());
    }
    permission.build()
}

fn rules(value: Option<&Value>) -> Vec<Value> {
    let mut rules: Vec<Value> = value
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| crate::reconcile::plan::canonical(ResourceKind::SecurityGroup, "rule", v))
        .collect();
    rules.sort_by_key(|v| v.to_string());
    rules.dedup();
    rules
}

pub async fn create_security_group(
    client: &aws_sdk_ec2::Client,
    name: &str,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let created = client
        .create_security_group()
        .group_name(name)
        .description(str_attr(attributes, "description"))
        .vpc_id(str_attr(attributes, "vpc_id"))
        .tag_specifications(tag_specification(ResourceType::SecurityGroup, tags))
        .send()
        .await
        .op("CreateSecurityGroup")?;
    let id = created
        .group_id()
        .ok_or_else(|| AwsError::Unexpected("CreateSecurityGroup returned no group id".into()))?
        .to_string();
    let wanted = rules(attributes.get("ingress"));
    if !wanted.is_empty() {
        client
            .authorize_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(wanted.iter().map(ingress_permission).collect()))
            .send()
            .await
            .op("AuthorizeSecurityGroupIngress")?;
    }
    Ok(BTreeMap::from([("id".to_string(), json!(id))]))
}

/// Brings the group's ingress rules and tags to what is wanted: new rules first, then the
/// revocation of rules nobody asked for.
pub async fn update_security_group(
    client: &aws_sdk_ec2::Client,
    id: &str,
    change: &super::Change<'_>,
) -> Result<(), AwsError> {
    let (before, after, old_tags, tags) = change.parts();
    let have = rules(before.get("ingress"));
    let want = rules(after.get("ingress"));
    let add: Vec<IpPermission> = want
        .iter()
        .filter(|r| !have.contains(r))
        .map(ingress_permission)
        .collect();
    let remove: Vec<IpPermission> = have
        .iter()
        .filter(|r| !want.contains(r))
        .map(ingress_permission)
        .collect();
    if !add.is_empty() {
        client
            .authorize_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(add))
            .send()
            .await
            .op("AuthorizeSecurityGroupIngress")?;
    }
    if !remove.is_empty() {
        client
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(remove))
            .send()
            .await
            .op("RevokeSecurityGroupIngress")?;
    }
    retag(client, id, old_tags, tags).await
}

/// Sets EC2 tags on a resource to exactly `tags` (AWS's own `aws:` tags left alone).
pub async fn retag(
    client: &aws_sdk_ec2::Client,
    id: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    super::retag(
        old,
        new,
        |set| async move {
            client
                .create_tags()
                .resources(id)
                .set_tags(Some(tag_list(&set)))
                .send()
                .await
                .op("CreateTags")
                .map(drop)
        },
        |gone| async move {
            let keys = gone.keys().map(|k| Tag::builder().key(k).build()).collect();
            client
                .delete_tags()
                .resources(id)
                .set_tags(Some(keys))
                .send()
                .await
                .op("DeleteTags")
                .map(drop)
        },
    )
    .await
}

/// Revokes every ingress rule (so that no other group's rule keeps this one alive) and
/// deletes the group, retrying while something still uses it.
pub async fn delete_security_group(
    aws: &super::Aws,
    id: &str,
    attributes: &Attributes,
) -> Result<(), AwsError> {
    let have = rules(attributes.get("ingress"));
    if !have.is_empty() {
        let revoked = aws
            .ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(have.iter().map(ingress_permission).collect()))
            .send()
            .await
            .op("RevokeSecurityGroupIngress");
        match revoked {
            // The group itself is gone: nothing left to delete.
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => return Ok(()),
            // Rules already gone (`InvalidPermission.NotFound`, e.g. a retried revoke whose
            // first answer was lost) or refused are no reason to stop: the delete below says
            // whether the group can go.
            Err(_) | Ok(_) => {}
        }
    }
    let deleted = super::retry_while(super::ErrorClass::InUse, aws.waits.dependency, || async {
        aws.ec2
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .op("DeleteSecurityGroup")
    })
    .await;
    super::already_gone(deleted)
}

/// Launch templates with one of `names`, or tagged with one of `applications`, each with the
/// data of its latest version.
pub async fn read_launch_templates(
    client: &aws_sdk_ec2::Client,
    names: &[String],
    applications: &[String],
) -> Result<Vec<LiveResource>, AwsError> {
    let mut templates = BTreeMap::new();
    for query in lookup_filters("launch-template-name", names, applications) {
        let mut pages = client
            .describe_launch_templates()
            .filters(query)
            // moto answers 15 at most and no token unless asked for more; AWS allows 200.
            .max_results(200)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for template in page.op("DescribeLaunchTemplates")?.launch_templates() {
                if let (Some(id), Some(name)) = (
                    template.launch_template_id(),
                    template.launch_template_name(),
                ) {
                    templates.insert(
                        id.to_string(),
                        (
                            name.to_string(),
                            tags_of(template.tags()),
                            template.latest_version_number().unwrap_or(1),
                        ),
                    );
                }
            }
        }
    }
    if templates.is_empty() {
        return Ok(Vec::new());
    }
    // One call for the latest version of every template in the account (EC2 takes `$Latest`
    // without a template id for exactly this).
    let mut data = BTreeMap::new();
    let mut pages = client
        .describe_launch_template_versions()
        .versions("$Latest")
        .max_results(200)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for version in page
            .op("DescribeLaunchTemplateVersions")?
            .launch_template_versions()
        {
            if let (Some(id), Some(d)) =
                (version.launch_template_id(), version.launch_template_data())
            {
                if templates.contains_key(id) {
                    data.insert(id.to_string(), launch_template_attributes(d));
                }
            }
        }
    }
    Ok(templates
        .into_iter()
        .map(|(id, (name, tags, latest))| {
            let attributes = data.remove(&id).unwrap_or_default();
            let outputs = BTreeMap::from([
                ("id".to_string(), json!(id)),
                ("latest_version".to_string(), json!(latest.to_string())),
            ]);
            LiveResource::from_tags(
                ResourceKind::LaunchTemplate,
                &name,
                tags,
                attributes,
                outputs,
            )
        })
        .collect())
}

fn launch_template_attributes(d: &aws_sdk_ec2::types::ResponseLaunchTemplateData) -> Attributes {
    let user_data = d
        .user_data()
        .and_then(|u| aws_smithy_types::base64::decode(u).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    BTreeMap::from([
        ("image_id".to_string(), json!(d.image_id())),
        (
            "instance_type".to_string(),
            json!(d.instance_type().map(|t| t.as_str())),
        ),
        ("key_name".to_string(), json!(d.key_name())),
        (
            "iam_instance_profile_arn".to_string(),
            json!(d.iam_instance_profile().and_then(|p| p.arn())),
        ),
        (
            "security_group_ids".to_string(),
            json!(d.security_group_ids()),
        ),
        (
            "http_tokens".to_string(),
            json!(d
                .metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str())),
        ),
        ("user_data".to_string(), json!(user_data)),
    ])
}

fn launch_template_data(attributes: &Attributes) -> RequestLaunchTemplateData {
    let optional = |key: &str| {
        attributes
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    RequestLaunchTemplateData::builder()
        .set_image_id(optional("image_id"))
        .set_instance_type(optional("instance_type").map(|t| InstanceType::from(t.as_str())))
        .set_key_name(optional("key_name"))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .set_arn(optional("iam_instance_profile_arn"))
                .build(),
        )
        .set_security_group_ids(Some(string_list(attributes, "security_group_ids")))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::from(
                    optional("http_tokens")
                        .unwrap_or_else(|| "required".to_string())
                        .as_str(),
                ))
                .build(),
        )
        .set_user_data(
            optional("user_data").map(|u| aws_smithy_types::base64::encode(u.as_bytes())),
        )
        .build()
}

pub async fn create_launch_template(
    client: &aws_sdk_ec2::Client,
    name: &str,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let created = client
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(launch_template_data(attributes))
        .tag_specifications(tag_specification(ResourceType::LaunchTemplate, tags))
        .send()
        .await
        .op("CreateLaunchTemplate")?;
    let template = created
        .launch_template()
        .ok_or_else(|| AwsError::Unexpected("CreateLaunchTemplate returned no template".into()))?;
    Ok(BTreeMap::from([
        ("id".to_string(), json!(template.launch_template_id())),
        (
            "latest_version".to_string(),
            json!(template.latest_version_number().unwrap_or(1).to_string()),
        ),
    ]))
}

/// A new version with the whole wanted data (never inherited from an older version), made the
/// default. Running instances keep theirs until the group replaces them.
pub async fn update_launch_template(
    client: &aws_sdk_ec2::Client,
    id: &str,
    attributes: &Attributes,
    old_tags: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let created = client
        .create_launch_template_version()
        .launch_template_id(id)
        .launch_template_data(launch_template_data(attributes))
        .send()
        .await
        .op("CreateLaunchTemplateVersion")?;
    let version = created
        .launch_template_version()
        .and_then(|v| v.version_number())
        .ok_or_else(|| {
            AwsError::Unexpected("CreateLaunchTemplateVersion returned no version".into())
        })?;
    client
        .modify_launch_template()
        .launch_template_id(id)
        .default_version(version.to_string())
        .send()
        .await
        .op("ModifyLaunchTemplate")?;
    retag(client, id, old_tags, tags).await?;
    Ok(BTreeMap::from([
        ("id".to_string(), json!(id)),
        ("latest_version".to_string(), json!(version.to_string())),
    ]))
}

pub async fn delete_launch_template(
    client: &aws_sdk_ec2::Client,
    id: &str,
) -> Result<(), AwsError> {
    super::already_gone(
        client
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
            .op("DeleteLaunchTemplate"),
    )
}

/// The user data (base64, as EC2 keeps it) of a launch template's version.
pub async fn launch_template_user_data(
    client: &aws_sdk_ec2::Client,
    template_id: &str,
    version: &str,
) -> Result<Option<String>, AwsError> {
    let out = client
        .describe_launch_template_versions()
        .launch_template_id(template_id)
        .versions(version)
        .send()
        .await
        .op("DescribeLaunchTemplateVersions")?;
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .and_then(|d| d.user_data())
        .map(str::to_string))
}

/// Those of `instances` that EC2 has pending or running (an instance detached from its group
/// keeps running; a terminated one, or one EC2 does not know, does not).
pub async fn running_instances(
    client: &aws_sdk_ec2::Client,
    instances: &[String],
) -> Result<std::collections::BTreeSet<String>, AwsError> {
    let mut running = std::collections::BTreeSet::new();
    for instance in instances {
        // One id per call: DescribeInstances fails the whole call for an unknown id.
        let out = match client
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .op("DescribeInstances")
        {
            Ok(out) => out,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        for reservation in out.reservations() {
            for i in reservation.instances() {
                let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
                if matches!(state, Some("pending") | Some("running")) {
                    running.extend(i.instance_id().map(str::to_string));
                }
            }
        }
    }
    Ok(running)
}

/// Terminates instances (ones a deployment detached from the environment's group).
pub async fn terminate_instances(
    client: &aws_sdk_ec2::Client,
    instances: &[String],
) -> Result<(), AwsError> {
    if instances.is_empty() {
        return Ok(());
    }
    client
        .terminate_instances()
        .set_instance_ids(Some(instances.to_vec()))
        .send()
        .await
        .op("TerminateInstances")
        .map(|_| ())
}

/// The launch template version each of `instances` was launched from (EC2's
/// `aws:ec2launchtemplate:version` tag on it); instances without one are left out.
pub async fn launch_template_versions(
    client: &aws_sdk_ec2::Client,
    instances: &[String],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut versions = BTreeMap::new();
    if instances.is_empty() {
        return Ok(versions);
    }
    // A filter, not InstanceIds: an id EC2 no longer knows is not an error here.
    let mut pages = client
        .describe_instances()
        .filters(filter("instance-id", instances))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for reservation in page.op("DescribeInstances")?.reservations() {
            for instance in reservation.instances() {
                let version = instance
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("aws:ec2launchtemplate:version"))
                    .and_then(|t| t.value());
                if let (Some(id), Some(version)) = (instance.instance_id(), version) {
                    versions.insert(id.to_string(), version.to_string());
                }
            }
        }
    }
    Ok(versions)
}

/// A launch template version's data as the live state reads it (`image_id`, `instance_type`,
/// `user_data`…), or `None` when the version does not exist.
pub async fn launch_template_version_attributes(
    client: &aws_sdk_ec2::Client,
    template_id: &str,
    version: &str,
) -> Result<Option<Attributes>, AwsError> {
    let out = match client
        .describe_launch_template_versions()
        .launch_template_id(template_id)
        .versions(version)
        .send()
        .await
        .op("DescribeLaunchTemplateVersions")
    {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .map(launch_template_attributes))
}
