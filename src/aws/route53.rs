//! Route53: the application's hosted zone (looked up by name, never created or deleted), the
//! environments' CNAME records and the TXT records that prove Beanpole owns them.

use super::{AwsError, Sdk};
use crate::graph::ResourceKind;
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Prefix of ownership TXT names (a CNAME may not share its name with a TXT record).
pub use crate::graph::compile::OWNERSHIP_PREFIX;

/// What an ownership TXT record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub application: String,
    pub environment: String,
    /// When `beanpole swap` last moved this name (Unix seconds).
    pub swapped_at: Option<u64>,
}

impl Marker {
    /// The TXT value: the graph's marker, plus the swap time when there is one.
    pub fn value(&self) -> String {
        let plain = crate::graph::compile::ownership_marker(&self.application, &self.environment);
        match self.swapped_at {
            Some(at) => format!("{},swapped-at={at}\"", plain.trim_end_matches('"')),
            None => plain,
        }
    }
}

/// Parses `"heritage=beanpole,application=A,environment=E"` (quotes optional).
pub fn parse_marker(text: &str) -> Option<Marker> {
    let text = text.trim().trim_matches('"');
    let mut heritage = false;
    let (mut application, mut environment, mut swapped_at) = (None, None, None);
    for field in text.split(',') {
        match field.split_once('=') {
            Some(("heritage", "beanpole")) => heritage = true,
            Some(("application", a)) => application = Some(a.to_string()),
            Some(("environment", e)) => environment = Some(e.to_string()),
            Some(("swapped-at", t)) => swapped_at = t.parse().ok(),
            _ => {}
        }
    }
    match (heritage, application, environment) {
        (true, Some(application), Some(environment)) => Some(Marker {
            application,
            environment,
            swapped_at,
        }),
        _ => None,
    }
}

fn bare(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The id of the public hosted zone named `domain`, if there is one.
pub async fn find_zone(client: &Client, domain: &str) -> Result<Option<String>, AwsError> {
    let wanted = bare(domain);
    let out = client
        .list_hosted_zones_by_name()
        .dns_name(format!("{wanted}."))
        .max_items(10)
        .send()
        .await
        .op("ListHostedZonesByName")?;
    Ok(out
        .hosted_zones()
        .iter()
        .find(|z| bare(z.name()) == wanted && !z.config().is_some_and(|c| c.private_zone()))
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string()))
}

/// Every CNAME and TXT record of the zone, by (bare name, type).
pub async fn list_records(
    client: &Client,
    zone_id: &str,
) -> Result<BTreeMap<(String, String), (i64, Vec<String>)>, AwsError> {
    let mut records = BTreeMap::new();
    let mut start: Option<(String, RrType)> = None;
    loop {
        let mut request = client.list_resource_record_sets().hosted_zone_id(zone_id);
        if let Some((name, kind)) = &start {
            request = request
                .start_record_name(name)
                .start_record_type(kind.clone());
        }
        let page = request.send().await.op("ListResourceRecordSets")?;
        for set in page.resource_record_sets() {
            let kind = set.r#type().as_str().to_string();
            if (kind == "CNAME" || kind == "TXT") && set.set_identifier().is_none() {
                records.insert(
                    (bare(set.name()), kind),
                    (
                        set.ttl().unwrap_or_default(),
                        set.resource_records()
                            .iter()
                            .map(|r| r.value().to_string())
                            .collect(),
                    ),
                );
            }
        }
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(name), Some(kind)) => start = Some((name.to_string(), kind.clone())),
            _ => break,
        }
    }
    Ok(records)
}

/// The zone's records Beanpole cares about: the `names` the graph wants, and every record an
/// ownership marker of one of `applications` claims.
pub fn live_records(
    zone_id: &str,
    records: &BTreeMap<(String, String), (i64, Vec<String>)>,
    names: &[String],
    applications: &[String],
) -> Vec<LiveResource> {
    let marker_of = |name: &str| {
        records
            .get(&(format!("{OWNERSHIP_PREFIX}.{name}"), "TXT".to_string()))
            .and_then(|(_, values)| values.first())
            .and_then(|v| parse_marker(v))
    };
    let mut found = Vec::new();
    for ((name, kind), (ttl, values)) in records {
        let (resource_kind, marker) = if kind == "TXT" {
            if !name.starts_with(&format!("{OWNERSHIP_PREFIX}.")) {
                continue;
            }
            (
                ResourceKind::OwnershipRecord,
                values.first().and_then(|v| parse_marker(v)),
            )
        } else {
            (ResourceKind::CnameRecord, marker_of(name))
        };
        let claimed = marker
            .as_ref()
            .is_some_and(|m| applications.contains(&m.application));
        if !claimed && !names.iter().any(|n| bare(n) == *name) {
            continue;
        }
        // The exact value as stored: a DELETE must repeat it.
        let mut outputs = BTreeMap::from([
            ("name".to_string(), json!(name)),
            ("record_value".to_string(), json!(values.first())),
        ]);
        let value = match (kind.as_str(), &marker) {
            ("CNAME", _) => json!(values.first().map(|v| bare(v))),
            // The marker as the graph writes it; the swap time is bookkeeping, not config.
            ("TXT", Some(m)) => {
                outputs.insert("swapped_at".to_string(), json!(m.swapped_at));
                json!(Marker {
                    swapped_at: None,
                    ..m.clone()
                }
                .value())
            }
            _ => json!(values.first()),
        };
        found.push(LiveResource {
            kind: resource_kind,
            aws_name: name.clone(),
            owned: marker.is_some(),
            application: marker.as_ref().map(|m| m.application.clone()),
            environment: marker.as_ref().map(|m| m.environment.clone()),
            address: None,
            attributes: BTreeMap::from([
                ("zone_id".to_string(), json!(zone_id)),
                ("name".to_string(), json!(name)),
                ("type".to_string(), json!(kind)),
                ("ttl".to_string(), json!(ttl)),
                ("value".to_string(), value),
            ]),
            outputs,
            tags: BTreeMap::new(),
        });
    }
    found
}

/// A record set from the graph's attributes (or a live record's).
pub fn record_set(attributes: &Attributes) -> Result<ResourceRecordSet, AwsError> {
    let name = attributes
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = attributes
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("CNAME");
    let value = attributes
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(kind))
        .ttl(attributes.get("ttl").and_then(Value::as_i64).unwrap_or(60))
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(|e| AwsError::Unexpected(format!("cannot build a record: {e}")))?,
        )
        .build()
        .map_err(|e| AwsError::Unexpected(format!("cannot build a record set: {e}")))
}

pub fn change(action: ChangeAction, set: ResourceRecordSet) -> Result<Change, AwsError> {
    Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| AwsError::Unexpected(format!("cannot build a change: {e}")))
}

/// A record as plain data, for change batches composed outside the AWS shell (`swap`).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    /// `CNAME` or `TXT`.
    pub kind: &'static str,
    pub value: String,
    /// For weighted routing: (set identifier, weight).
    pub weighted: Option<(String, i64)>,
}

impl Record {
    pub fn simple(name: &str, kind: &'static str, value: &str) -> Record {
        Record {
            name: name.to_string(),
            kind,
            value: value.to_string(),
            weighted: None,
        }
    }

    pub fn weighted(name: &str, set_identifier: &str, weight: i64, value: &str) -> Record {
        Record {
            weighted: Some((set_identifier.to_string(), weight)),
            ..Record::simple(name, "CNAME", value)
        }
    }

    fn set(&self) -> Result<ResourceRecordSet, AwsError> {
        let mut set = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(RrType::from(self.kind))
            .ttl(crate::graph::compile::RECORD_TTL)
            .resource_records(
                ResourceRecord::builder()
                    .value(&self.value)
                    .build()
                    .map_err(|e| AwsError::Unexpected(format!("cannot build a record: {e}")))?,
            );
        if let Some((id, weight)) = &self.weighted {
            set = set.set_identifier(id).weight(*weight);
        }
        set.build()
            .map_err(|e| AwsError::Unexpected(format!("cannot build a record set: {e}")))
    }
}

/// One change of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Create(Record),
    Upsert(Record),
    Delete(Record),
}

/// Applies `edits` as one change batch (atomic on AWS) and waits until it is in sync.
pub async fn edit_records(
    aws: &super::Aws,
    zone_id: &str,
    comment: &str,
    edits: &[Edit],
) -> Result<(), AwsError> {
    let changes = edits
        .iter()
        .map(|e| match e {
            Edit::Create(r) => change(ChangeAction::Create, r.set()?),
            Edit::Upsert(r) => change(ChangeAction::Upsert, r.set()?),
            Edit::Delete(r) => change(ChangeAction::Delete, r.set()?),
        })
        .collect::<Result<Vec<_>, _>>()?;
    submit(aws, zone_id, comment, changes).await
}

/// Sends one change batch (atomic on AWS) and waits until it is in sync.
pub async fn submit(
    aws: &super::Aws,
    zone_id: &str,
    comment: &str,
    changes: Vec<Change>,
) -> Result<(), AwsError> {
    let batch = ChangeBatch::builder()
        .comment(comment)
        .set_changes(Some(changes))
        .build()
        .map_err(|e| AwsError::Unexpected(format!("cannot build a change batch: {e}")))?;
    let out = aws
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .op("ChangeResourceRecordSets")?;
    let Some(info) = out.change_info() else {
        return Ok(());
    };
    if info.status() == &ChangeStatus::Insync {
        return Ok(());
    }
    let id = info.id().to_string();
    super::wait_for(
        &format!("DNS change {id}"),
        "reach every Route53 name server",
        aws.waits.dns_in_sync,
        aws.waits.poll,
        || async {
            let out = aws
                .route53
                .get_change()
                .id(&id)
                .send()
                .await
                .op("GetChange")?;
            Ok(out
                .change_info()
                .is_some_and(|c| c.status() == &ChangeStatus::Insync)
                .then_some(()))
        },
    )
    .await
}

/// The value of the simple record `name`/`kind`, if it exists.
pub async fn read_record(
    client: &Client,
    zone_id: &str,
    name: &str,
    kind: &str,
) -> Result<Option<String>, AwsError> {
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(name)
        .start_record_type(RrType::from(kind))
        .max_items(100)
        .send()
        .await
        .op("ListResourceRecordSets")?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|s| bare(s.name()) == bare(name) && s.r#type().as_str() == kind)
        .and_then(|s| s.resource_records().first())
        .map(|r| r.value().to_string()))
}
