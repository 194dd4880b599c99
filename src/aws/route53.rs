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
use crate::graph::compile::RECORD_TTL;

pub use crate::dns::{parse_marker, Edit, Marker, Record, Weighted, ZoneRecords};

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

/// Every simple CNAME and TXT record of the zone, by (bare name, type), and Beanpole's weighted
/// CNAME records (those of a gradual swap), by name.
pub async fn list_records(client: &Client, zone_id: &str) -> Result<ZoneRecords, AwsError> {
    let mut records = ZoneRecords::default();
    let mut start: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut request = client.list_resource_record_sets().hosted_zone_id(zone_id);
        if let Some((name, kind, identifier)) = &start {
            request = request
                .start_record_name(name)
                .start_record_type(kind.clone())
                .set_start_record_identifier(identifier.clone());
        }
        let page = request.send().await.op("ListResourceRecordSets")?;
        for set in page.resource_record_sets() {
            let kind = set.r#type().as_str().to_string();
            let values: Vec<String> = set
                .resource_records()
                .iter()
                .map(|r| r.value().to_string())
                .collect();
            match set.set_identifier() {
                None if kind == "CNAME" || kind == "TXT" => {
                    records.simple.insert(
                        (bare(set.name()), kind),
                        (set.ttl().unwrap_or_default(), values),
                    );
                }
                Some(identifier)
                    if kind == "CNAME" && identifier.starts_with(crate::dns::WEIGHTED_PREFIX) =>
                {
                    records
                        .weighted
                        .entry(bare(set.name()))
                        .or_default()
                        .push(Weighted {
                            set_identifier: identifier.to_string(),
                            weight: set.weight().unwrap_or_default(),
                            value: values.first().cloned().unwrap_or_default(),
                        });
                }
                _ => {}
            }
        }
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(name), Some(kind)) => {
                start = Some((
                    name.to_string(),
                    kind.clone(),
                    page.next_record_identifier().map(str::to_string),
                ))
            }
            _ => break,
        }
    }
    Ok(records)
}

/// One record set as `live_records` reads it: name, type, TTL, values, weighted records.
type RecordRow<'a> = (String, String, i64, Vec<String>, &'a [Weighted]);

/// The zone's records Beanpole cares about: the `names` the graph wants, and every record an
/// ownership marker of one of `applications` claims. A name held by a gradual swap's weighted
/// records (no simple CNAME) is read as the environment's CNAME in a weighted state, so plan
/// shows it, apply turns it back into the simple record its marker says, and destroy deletes
/// the weighted records.
pub fn live_records(
    zone_id: &str,
    records: &ZoneRecords,
    names: &[String],
    applications: &[String],
) -> Vec<LiveResource> {
    let mut found = Vec::new();
    // Every simple record, then every name held only by weighted records.
    let mut rows: Vec<RecordRow<'_>> = records
        .simple
        .iter()
        .map(|((name, kind), (ttl, values))| {
            (name.clone(), kind.clone(), *ttl, values.clone(), &[][..])
        })
        .collect();
    for (name, sets) in &records.weighted {
        if !records
            .simple
            .contains_key(&(name.clone(), "CNAME".to_string()))
        {
            rows.push((
                name.clone(),
                "CNAME".to_string(),
                RECORD_TTL,
                Vec::new(),
                sets.as_slice(),
            ));
        }
    }
    for (name, kind, ttl, values, weighted) in rows {
        let (resource_kind, marker) = if kind == "TXT" {
            if !name.starts_with(&format!("{OWNERSHIP_PREFIX}.")) {
                continue;
            }
            (
                ResourceKind::OwnershipRecord,
                values.first().and_then(|v| parse_marker(v)),
            )
        } else {
            (ResourceKind::CnameRecord, records.marker(&name))
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
            ("CNAME", _) if !weighted.is_empty() => {
                outputs.insert("weighted".to_string(), json!(weighted));
                json!(weighted_description(weighted))
            }
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

/// How a plan shows a name split over weighted records: `weighted: 90% A, 10% B`.
fn weighted_description(weighted: &[Weighted]) -> String {
    let parts: Vec<String> = weighted
        .iter()
        .map(|w| format!("{}% {}", w.weight, bare(&w.value)))
        .collect();
    format!(
        "weighted (an unfinished gradual swap): {}",
        parts.join(", ")
    )
}

/// The weighted records a live CNAME is split over (empty for a simple record).
pub fn weighted_of(live: &LiveResource) -> Vec<Weighted> {
    live.outputs
        .get("weighted")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
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

/// The SDK's form of a plain-data record.
fn record_set_of(record: &Record) -> Result<ResourceRecordSet, AwsError> {
    let mut set = ResourceRecordSet::builder()
        .name(&record.name)
        .r#type(RrType::from(record.kind))
        .ttl(crate::graph::compile::RECORD_TTL)
        .resource_records(
            ResourceRecord::builder()
                .value(&record.value)
                .build()
                .map_err(|e| AwsError::Unexpected(format!("cannot build a record: {e}")))?,
        );
    if let Some((id, weight)) = &record.weighted {
        set = set.set_identifier(id).weight(*weight);
    }
    set.build()
        .map_err(|e| AwsError::Unexpected(format!("cannot build a record set: {e}")))
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
            Edit::Create(r) => change(ChangeAction::Create, record_set_of(r)?),
            Edit::Upsert(r) => change(ChangeAction::Upsert, record_set_of(r)?),
            Edit::Delete(r) => change(ChangeAction::Delete, record_set_of(r)?),
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
