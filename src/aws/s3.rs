//! S3: the application versions bucket (one per account and region, shared by every
//! application there): created with Beanpole's tags in the create call, public access blocked
//! and default encryption on; read back for the plan.

use super::{AwsError, ErrorClass, Sdk};
use crate::graph::ResourceKind;
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn tag_list(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Unexpected(e.to_string()))
        })
        .collect()
}

/// Creates the bucket (tags in the same call), or finds it already ours, then makes sure
/// public access is blocked, default encryption is on and the tags are Beanpole's.
pub async fn create_bucket(
    client: &aws_sdk_s3::Client,
    region: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Attributes, AwsError> {
    let mut configuration = CreateBucketConfiguration::builder().set_tags(Some(tag_list(tags)?));
    if region != "us-east-1" {
        configuration = configuration.location_constraint(BucketLocationConstraint::from(region));
    }
    let created = client
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(configuration.build())
        .send()
        .await
        .op("CreateBucket");
    match created {
        Ok(_) => {}
        // Another application's apply (or a retried call) made it first: it is the shared
        // bucket, and the plan proved it ours or absent.
        Err(e) if e.class() == ErrorClass::AlreadyOwned => {}
        Err(e) => return Err(e),
    }
    configure_bucket(client, name, tags).await?;
    Ok(outputs(name))
}

/// Public access blocked, default encryption, Beanpole's tags (each call idempotent).
pub async fn configure_bucket(
    client: &aws_sdk_s3::Client,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    client
        .put_bucket_tagging()
        .bucket(name)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(tag_list(tags)?))
                .build()
                .map_err(|e| AwsError::Unexpected(e.to_string()))?,
        )
        .send()
        .await
        .op("PutBucketTagging")?;
    client
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .op("PutPublicAccessBlock")?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| AwsError::Unexpected(e.to_string()))?,
        )
        .build();
    client
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| AwsError::Unexpected(e.to_string()))?,
        )
        .send()
        .await
        .op("PutBucketEncryption")?;
    Ok(())
}

/// Deletes every object of the bucket, then the bucket (`destroy --delete-versions`, which
/// the plan allows only when every object belongs to an application destroyed); a bucket
/// already gone counts as deleted.
pub async fn delete_bucket(client: &aws_sdk_s3::Client, name: &str) -> Result<(), AwsError> {
    loop {
        let listed = client
            .list_objects_v2()
            .bucket(name)
            .send()
            .await
            .op("ListObjectsV2");
        let Some(listed) = super::present(listed)? else {
            return Ok(());
        };
        let keys: Vec<aws_sdk_s3::types::ObjectIdentifier> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|k| {
                aws_sdk_s3::types::ObjectIdentifier::builder()
                    .key(k)
                    .build()
                    .ok()
            })
            .collect();
        if keys.is_empty() {
            break;
        }
        client
            .delete_objects()
            .bucket(name)
            .delete(
                aws_sdk_s3::types::Delete::builder()
                    .set_objects(Some(keys))
                    .quiet(true)
                    .build()
                    .map_err(|e| AwsError::Unexpected(e.to_string()))?,
            )
            .send()
            .await
            .op("DeleteObjects")?;
    }
    super::already_gone(
        client
            .delete_bucket()
            .bucket(name)
            .send()
            .await
            .op("DeleteBucket"),
    )
}

/// The applications whose versions the bucket keeps: its top-level folders (Beanpole's own
/// `_beanpole/` aside).
async fn applications_in(client: &aws_sdk_s3::Client, name: &str) -> Result<Vec<String>, AwsError> {
    let mut applications = Vec::new();
    let mut token = None;
    loop {
        let listed = client
            .list_objects_v2()
            .bucket(name)
            .delimiter("/")
            .set_continuation_token(token)
            .send()
            .await
            .op("ListObjectsV2")?;
        applications.extend(
            listed
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .map(|p| p.trim_end_matches('/').to_string())
                .filter(|p| !p.starts_with('_')),
        );
        token = listed.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(applications);
        }
    }
}

fn outputs(name: &str) -> Attributes {
    BTreeMap::from([
        ("name".to_string(), json!(name)),
        ("arn".to_string(), json!(format!("arn:aws:s3:::{name}"))),
    ])
}

/// Reads the bucket of that name: absent, ours, or someone else's (a bucket this account
/// cannot read, or one without Beanpole's tags).
pub async fn read_bucket(
    client: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Option<LiveResource>, AwsError> {
    match client
        .head_bucket()
        .bucket(name)
        .send()
        .await
        .op("HeadBucket")
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(None),
        // 403 (another account's) or 301 (another region): it exists and is not ours.
        Err(_) => {
            return Ok(Some(LiveResource::from_tags(
                ResourceKind::VersionsBucket,
                name,
                BTreeMap::new(),
                Attributes::new(),
                Attributes::new(),
            )))
        }
    }
    let tagging = client
        .get_bucket_tagging()
        .bucket(name)
        .send()
        .await
        .op("GetBucketTagging");
    let tags: BTreeMap<String, String> = super::present(tagging)?
        .map(|out| {
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let block = client
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
        .op("GetPublicAccessBlock");
    let blocked = super::present(block)?.is_some_and(|out| {
        out.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        })
    });
    let configured = client
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .op("GetBucketEncryption");
    let encryption = super::present(configured)?
        .and_then(|out| {
            out.server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| Value::String(d.sse_algorithm().as_str().to_string()))
        })
        .unwrap_or(Value::Null);
    let engine_key = crate::platform::boot::engine_key(&crate::platform::engine_digest());
    let head = client
        .head_object()
        .bucket(name)
        .key(&engine_key)
        .send()
        .await
        .op("HeadObject");
    let engine = match super::present(head)? {
        Some(_) => json!(crate::platform::engine_digest()),
        None => Value::Null,
    };
    let attributes = BTreeMap::from([
        ("block_public_access".to_string(), json!(blocked)),
        ("encryption".to_string(), encryption),
        ("engine".to_string(), engine),
    ]);
    let mut outputs = outputs(name);
    outputs.insert(
        "applications".to_string(),
        json!(applications_in(client, name).await?),
    );
    Ok(Some(LiveResource::from_tags(
        ResourceKind::VersionsBucket,
        name,
        tags,
        attributes,
        outputs,
    )))
}

/// What a conditional write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    /// An object of that key exists: nothing was written.
    AlreadyThere,
}

/// Writes an object only if none has its key (`If-None-Match: *`), so a key can never be
/// overwritten with other content.
pub async fn put_new(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<Written, AwsError> {
    let put = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_none_match("*")
        .content_type(content_type)
        .body(bytes.into())
        .send()
        .await;
    match put {
        Ok(_) => Ok(Written::Created),
        // 412 Precondition Failed: the key exists.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
            Ok(Written::AlreadyThere)
        }
        Err(e) => Err(super::sdk_error("PutObject", e)),
    }
}

/// An object's bytes, or `None` when there is no such key.
pub async fn get(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, AwsError> {
    Ok(get_with_etag(client, bucket, key)
        .await?
        .map(|(bytes, _)| bytes))
}

/// Every key under `prefix`.
pub async fn list(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let listed = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .op("ListObjectsV2")?;
        keys.extend(
            listed
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        token = listed.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(keys);
        }
    }
}

/// Deletes an object; one already gone counts as deleted.
pub async fn delete(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), AwsError> {
    super::already_gone(
        client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .op("DeleteObject"),
    )
}

/// Whether the bucket exists and can be read.
pub async fn bucket_exists(client: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, AwsError> {
    let head = client
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .op("HeadBucket");
    Ok(super::present(head)?.is_some())
}

/// Writes an object, replacing any of that key (for what is meant to change: an environment's
/// pointer to what it runs); its ETag.
pub async fn put(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<String, AwsError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(bytes.into())
        .send()
        .await
        .op("PutObject")
        .map(|out| out.e_tag().unwrap_or_default().to_string())
}

/// Creates an object only if none has its key; its ETag, or `None` when the key exists.
pub async fn create_new(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<Option<String>, AwsError> {
    let put = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_none_match("*")
        .content_type("application/json")
        .body(bytes.into())
        .send()
        .await;
    match put {
        Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(None),
        Err(e) => Err(super::sdk_error("PutObject", e)),
    }
}

/// An object's bytes and ETag, or `None` when there is no such key.
pub async fn get_with_etag(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, String)>, AwsError> {
    let got = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .op("GetObject");
    let Some(out) = super::present(got)? else {
        return Ok(None);
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    out.body
        .collect()
        .await
        .map(|b| Some((b.into_bytes().to_vec(), etag)))
        .map_err(|e| AwsError::Unexpected(format!("GetObject {key}: {e}")))
}

/// Replaces an object only if its ETag is still `etag`; the new ETag, or `None` when it
/// changed or is gone (someone else wrote or deleted it).
pub async fn replace_if_match(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    etag: &str,
) -> Result<Option<String>, AwsError> {
    let put = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_match(etag)
        .content_type("application/json")
        .body(bytes.into())
        .send()
        .await;
    match put {
        Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
        Err(e)
            if e.raw_response()
                .is_some_and(|r| matches!(r.status().as_u16(), 404 | 412)) =>
        {
            Ok(None)
        }
        Err(e) => Err(super::sdk_error("PutObject", e)),
    }
}

/// Deletes an object only if its ETag is still `etag`; whether it did.
pub async fn delete_if_match(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: &str,
) -> Result<bool, AwsError> {
    let deleted = client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .if_match(etag)
        .send()
        .await;
    match deleted {
        Ok(_) => Ok(true),
        Err(e)
            if e.raw_response()
                .is_some_and(|r| matches!(r.status().as_u16(), 404 | 412)) =>
        {
            Ok(false)
        }
        Err(e) => Err(super::sdk_error("DeleteObject", e)),
    }
}
