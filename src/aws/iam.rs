//! IAM: the instance role (trust policy, the spec's inline policy, managed policies) and the
//! instance profile that carries it. Beanpole's roles and profiles live under the path
//! `/beanpole/`.

use super::{AwsError, ErrorClass, Sdk};
use crate::graph::{ResourceKind, TAG_APPLICATION};
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_iam::types::{EntityType, Tag};
use aws_sdk_iam::Client;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const PATH: &str = "/beanpole/";
/// The name of the inline policy holding the spec's permission statements.
pub const INLINE_POLICY: &str = "beanpole";

/// IAM returns policy documents URL-encoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn document(text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => {
            let decoded = if t.trim_start().starts_with('{') {
                t.to_string()
            } else {
                percent_decode(t)
            };
            serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
        }
    }
}

fn tag_list(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Unexpected(format!("cannot build a tag: {e}")))
        })
        .collect()
}

/// Roles and instance profiles with one of the given names or Beanpole's application tag:
/// one paginated GetAccountAuthorizationDetails for every role with its policies, one
/// ListInstanceProfiles for the profiles.
pub async fn read(
    client: &Client,
    role_names: &[String],
    profile_names: &[String],
    applications: &[String],
) -> Result<Vec<LiveResource>, AwsError> {
    let mut found = Vec::new();
    let mut pages = client
        .get_account_authorization_details()
        .filter(EntityType::Role)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for role in page
            .op("GetAccountAuthorizationDetails")?
            .role_detail_list()
        {
            let name = role.role_name().unwrap_or_default();
            let tags = super::tag_map(role.tags().iter().map(|t| (Some(t.key()), Some(t.value()))));
            let tagged = tags
                .get(TAG_APPLICATION)
                .is_some_and(|a| applications.contains(a));
            if !role_names.iter().any(|n| n == name) && !tagged {
                continue;
            }
            let inline = role
                .role_policy_list()
                .iter()
                .find(|p| p.policy_name() == Some(INLINE_POLICY))
                .map(|p| document(p.policy_document()))
                .unwrap_or(Value::Null);
            let mut managed: Vec<&str> = role
                .attached_managed_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .collect();
            managed.sort();
            let attributes = BTreeMap::from([
                (
                    "assume_role_policy".to_string(),
                    document(role.assume_role_policy_document()),
                ),
                ("inline_policy".to_string(), inline),
                ("managed_policy_arns".to_string(), json!(managed)),
            ]);
            let outputs = BTreeMap::from([
                ("name".to_string(), json!(name)),
                ("arn".to_string(), json!(role.arn())),
            ]);
            found.push(LiveResource::from_tags(
                ResourceKind::IamRole,
                name,
                tags,
                attributes,
                outputs,
            ));
        }
    }
    let mut pages = client.list_instance_profiles().into_paginator().send();
    while let Some(page) = pages.next().await {
        for profile in page.op("ListInstanceProfiles")?.instance_profiles() {
            let name = profile.instance_profile_name();
            if !profile_names.iter().any(|n| n == name) && profile.path() != PATH {
                continue;
            }
            let mut tags = super::tag_map(
                profile
                    .tags()
                    .iter()
                    .map(|t| (Some(t.key()), Some(t.value()))),
            );
            if tags.is_empty() {
                // IAM's listing may leave tags out: ask for them.
                let listed = client
                    .list_instance_profile_tags()
                    .instance_profile_name(name)
                    .send()
                    .await
                    .op("ListInstanceProfileTags")?;
                tags = super::tag_map(
                    listed
                        .tags()
                        .iter()
                        .map(|t| (Some(t.key()), Some(t.value()))),
                );
            }
            let attributes = BTreeMap::from([(
                "role".to_string(),
                json!(profile.roles().first().map(|r| r.role_name())),
            )]);
            let outputs = BTreeMap::from([
                ("name".to_string(), json!(name)),
                ("arn".to_string(), json!(profile.arn())),
            ]);
            found.push(LiveResource::from_tags(
                ResourceKind::InstanceProfile,
                name,
                tags,
                attributes,
                outputs,
            ));
        }
    }
    Ok(found)
}

fn text(value: Option<&Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.to_string()),
    }
}

fn strings(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn create_role(
    client: &Client,
    name: &str,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let created = client
        .create_role()
        .path(PATH)
        .role_name(name)
        .set_assume_role_policy_document(text(attributes.get("assume_role_policy")))
        .set_tags(Some(tag_list(tags)?))
        .send()
        .await
        .op("CreateRole")?;
    let arn = created.role().map(|r| r.arn().to_string());
    let (nothing, untagged) = (Attributes::new(), BTreeMap::new());
    let change = super::Change {
        before: &nothing,
        after: attributes,
        old_tags: &untagged,
        tags: &untagged,
    };
    update_role(client, name, &change).await?;
    Ok(BTreeMap::from([
        ("name".to_string(), json!(name)),
        ("arn".to_string(), json!(arn)),
    ]))
}

/// Rewrites what differs: the trust policy, the inline policy (or its removal), the attached
/// managed policies, the tags.
pub async fn update_role(
    client: &Client,
    name: &str,
    change: &super::Change<'_>,
) -> Result<(), AwsError> {
    let (before, after, old_tags, tags) = change.parts();
    if !before.is_empty() && before.get("assume_role_policy") != after.get("assume_role_policy") {
        client
            .update_assume_role_policy()
            .role_name(name)
            .set_policy_document(text(after.get("assume_role_policy")))
            .send()
            .await
            .op("UpdateAssumeRolePolicy")?;
    }
    let inline_before = before.get("inline_policy").filter(|v| !v.is_null());
    let inline_after = after.get("inline_policy").filter(|v| !v.is_null());
    if inline_before != inline_after {
        match inline_after {
            Some(policy) => {
                client
                    .put_role_policy()
                    .role_name(name)
                    .policy_name(INLINE_POLICY)
                    .policy_document(policy.to_string())
                    .send()
                    .await
                    .op("PutRolePolicy")?;
            }
            None => {
                client
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(INLINE_POLICY)
                    .send()
                    .await
                    .op("DeleteRolePolicy")?;
            }
        }
    }
    let have = strings(before.get("managed_policy_arns"));
    let want = strings(after.get("managed_policy_arns"));
    for arn in want.difference(&have) {
        client
            .attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .op("AttachRolePolicy")?;
    }
    for arn in have.difference(&want) {
        client
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .op("DetachRolePolicy")?;
    }
    if !old_tags.is_empty() {
        super::retag(
            old_tags,
            tags,
            |set| async move {
                client
                    .tag_role()
                    .role_name(name)
                    .set_tags(Some(tag_list(&set)?))
                    .send()
                    .await
                    .op("TagRole")
                    .map(drop)
            },
            |gone| async move {
                client
                    .untag_role()
                    .role_name(name)
                    .set_tag_keys(Some(gone.into_keys().collect()))
                    .send()
                    .await
                    .op("UntagRole")
                    .map(drop)
            },
        )
        .await?;
    }
    Ok(())
}

/// Empties the role (profiles, managed and inline policies) and deletes it.
pub async fn delete_role(aws: &super::Aws, name: &str) -> Result<(), AwsError> {
    let client = &aws.iam;
    let Some(profiles) = super::present(
        client
            .list_instance_profiles_for_role()
            .role_name(name)
            .send()
            .await
            .op("ListInstanceProfilesForRole"),
    )?
    else {
        return Ok(());
    };
    for profile in profiles.instance_profiles() {
        remove_role(client, profile.instance_profile_name(), name).await?;
    }
    // The role may disappear between these calls (a destroy whose earlier answer was lost, or
    // one running beside this one): a role that is not there any more counts as deleted.
    let Some(attached) = super::present(
        client
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .op("ListAttachedRolePolicies"),
    )?
    else {
        return Ok(());
    };
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            super::already_gone(
                client
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .op("DetachRolePolicy"),
            )?;
        }
    }
    let Some(inline) = super::present(
        client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .op("ListRolePolicies"),
    )?
    else {
        return Ok(());
    };
    for policy in inline.policy_names() {
        super::already_gone(
            client
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .op("DeleteRolePolicy"),
        )?;
    }
    let deleted = super::retry_while(ErrorClass::InUse, aws.waits.dependency, || async {
        client
            .delete_role()
            .role_name(name)
            .send()
            .await
            .op("DeleteRole")
    })
    .await;
    super::already_gone(deleted)
}

async fn remove_role(client: &Client, profile: &str, role: &str) -> Result<(), AwsError> {
    super::already_gone(
        client
            .remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
            .await
            .op("RemoveRoleFromInstanceProfile"),
    )
}

pub async fn create_instance_profile(
    client: &Client,
    name: &str,
    attributes: &Attributes,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let created = client
        .create_instance_profile()
        .path(PATH)
        .instance_profile_name(name)
        .set_tags(Some(tag_list(tags)?))
        .send()
        .await
        .op("CreateInstanceProfile")?;
    if let Some(role) = attributes.get("role").and_then(Value::as_str) {
        client
            .add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(role)
            .send()
            .await
            .op("AddRoleToInstanceProfile")?;
    }
    Ok(BTreeMap::from([
        ("name".to_string(), json!(name)),
        (
            "arn".to_string(),
            json!(created.instance_profile().map(|p| p.arn())),
        ),
    ]))
}

pub async fn update_instance_profile(
    client: &Client,
    name: &str,
    change: &super::Change<'_>,
) -> Result<(), AwsError> {
    let (before, after, old_tags, tags) = change.parts();
    let have = before.get("role").and_then(Value::as_str);
    let want = after.get("role").and_then(Value::as_str);
    if have != want {
        if let Some(role) = have {
            remove_role(client, name, role).await?;
        }
        if let Some(role) = want {
            client
                .add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(role)
                .send()
                .await
                .op("AddRoleToInstanceProfile")?;
        }
    }
    super::retag(
        old_tags,
        tags,
        |set| async move {
            client
                .tag_instance_profile()
                .instance_profile_name(name)
                .set_tags(Some(tag_list(&set)?))
                .send()
                .await
                .op("TagInstanceProfile")
                .map(drop)
        },
        |gone| async move {
            client
                .untag_instance_profile()
                .instance_profile_name(name)
                .set_tag_keys(Some(gone.into_keys().collect()))
                .send()
                .await
                .op("UntagInstanceProfile")
                .map(drop)
        },
    )
    .await?;
    Ok(())
}

pub async fn delete_instance_profile(
    client: &Client,
    name: &str,
    attributes: &Attributes,
) -> Result<(), AwsError> {
    if let Some(role) = attributes.get("role").and_then(Value::as_str) {
        remove_role(client, name, role).await?;
    }
    super::already_gone(
        client
            .delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .op("DeleteInstanceProfile"),
    )
}
