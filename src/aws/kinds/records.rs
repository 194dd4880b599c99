//! The environment's DNS records, a CNAME and its TXT ownership marker: written only once the
//! marker proves them Beanpole's, created with CREATE (a retried CREATE that finds exactly its
//! own record is success), deleted repeating the exact stored value. A CNAME left split over a
//! gradual swap's weighted records is brought back to its simple record, or deleted with them.

use super::{Desired, Kind};
use crate::aws::route53::{self, Edit, Record as DnsRecord};
use crate::aws::{str_attr, Aws, AwsError, ErrorClass};
use crate::graph::Address;
use crate::reconcile::{Attributes, LiveResource};
use aws_sdk_route53::types::ChangeAction;
use std::collections::BTreeMap;

pub struct Record;

impl Kind for Record {
    async fn create(&self, to: &Desired<'_>) -> Result<Attributes, AwsError> {
        let resource = to.resource;
        write_record(
            to.aws,
            ChangeAction::Create,
            to.attributes,
            &resource.address,
        )
        .await?;
        Ok(BTreeMap::from([(
            "name".to_string(),
            serde_json::json!(resource.aws_name),
        )]))
    }

    async fn update(&self, to: &Desired<'_>, live: &LiveResource) -> Result<Attributes, AwsError> {
        let (aws, resource, desired) = (to.aws, to.resource, to.attributes);
        let weighted = route53::weighted_of(live);
        if weighted.is_empty() {
            // The plan proved the record is Beanpole's before an UPSERT may overwrite it.
            write_record(aws, ChangeAction::Upsert, desired, &resource.address).await?;
            return Ok(Attributes::new());
        }
        // An unfinished gradual swap: its weighted records give way to the simple record
        // the ownership marker says, in one atomic batch.
        let name = resource.aws_name.as_str();
        let mut edits: Vec<Edit> = weighted
            .iter()
            .map(|w| Edit::Delete(w.record(name)))
            .collect();
        edits.push(Edit::Upsert(DnsRecord::simple(
            name,
            "CNAME",
            str_attr(desired, "value"),
        )));
        route53::edit_records(
            aws,
            str_attr(desired, "zone_id"),
            &format!(
                "beanpole: {} (end an unfinished gradual swap)",
                resource.address
            ),
            &edits,
        )
        .await?;
        Ok(Attributes::new())
    }

    async fn delete(&self, aws: &Aws, live: &LiveResource) -> Result<(), AwsError> {
        let name = live.aws_name.as_str();
        let zone = str_attr(&live.attributes, "zone_id").to_string();
        let weighted = route53::weighted_of(live);
        if !weighted.is_empty() {
            let edits: Vec<Edit> = weighted
                .iter()
                .map(|w| Edit::Delete(w.record(name)))
                .collect();
            return route53::edit_records(
                aws,
                &zone,
                &format!("beanpole: delete {name} (weighted)"),
                &edits,
            )
            .await;
        }
        // A DELETE must repeat the exact stored value.
        let mut exact = live.attributes.clone();
        if let Some(value) = live.outputs.get("record_value").filter(|v| v.is_string()) {
            exact.insert("value".to_string(), value.clone());
        }
        let change = route53::change(ChangeAction::Delete, route53::record_set(&exact)?)?;
        // Already gone counts as deleted.
        crate::aws::already_gone(
            route53::submit(
                aws,
                &zone,
                &format!("beanpole: delete {name}"),
                vec![change],
            )
            .await,
        )
    }
}

async fn write_record(
    aws: &Aws,
    action: ChangeAction,
    attributes: &Attributes,
    address: &Address,
) -> Result<(), AwsError> {
    let zone = str_attr(attributes, "zone_id").to_string();
    let create = action == ChangeAction::Create;
    let change = route53::change(action, route53::record_set(attributes)?)?;
    match route53::submit(aws, &zone, &format!("beanpole: {address}"), vec![change]).await {
        // A CREATE whose response was lost and that the SDK retried finds its own record:
        // that is success, but only when the record holds exactly what was written.
        Err(e) if create && e.class() == ErrorClass::AlreadyExists => {
            let name = str_attr(attributes, "name");
            let kind = str_attr(attributes, "type");
            let want = str_attr(attributes, "value");
            match route53::read_record(&aws.route53, &zone, name, kind).await? {
                Some(value) if value.trim_end_matches('.') == want.trim_end_matches('.') => Ok(()),
                Some(_) => Err(e),
                // Nothing is there after all (moto reports a re-created record as existing):
                // the name is free, so writing it overwrites nobody's record.
                None => {
                    let change =
                        route53::change(ChangeAction::Upsert, route53::record_set(attributes)?)?;
                    route53::submit(aws, &zone, &format!("beanpole: {address}"), vec![change]).await
                }
            }
        }
        other => other,
    }
}
