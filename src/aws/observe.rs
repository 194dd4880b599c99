//! Reads what `status` and `swap` need about environments: the load balancer (state, DNS name,
//! ownership), target health, the Auto Scaling group's instances, and which names each
//! environment serves according to the TXT markers. Batched like `live`: one listing per
//! kind, tags in batches, target health per target group concurrently.

use super::route53;
use super::{Aws, AwsError, Sdk};
use crate::dns::ZoneRecords;
use crate::graph::{TAG_ENVIRONMENT, TAG_MANAGED_BY};
use crate::status::{Observation, Target};
use futures::future::try_join_all;
use std::collections::BTreeMap;

/// Where to look for one environment.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub environment: String,
    pub application: String,
    pub load_balancer: String,
    pub target_group: String,
    pub auto_scaling_group: String,
    pub domain: Option<String>,
}

/// One hosted zone and the records Beanpole reads in it.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    pub id: String,
    pub records: ZoneRecords,
}

pub async fn observe(
    aws: &Aws,
    lookups: &[Lookup],
) -> Result<(Vec<Observation>, BTreeMap<String, Zone>), AwsError> {
    let balancers: BTreeMap<String, _> = super::elbv2::load_balancers(&aws.elbv2, |name| {
        lookups.iter().any(|l| l.load_balancer == name)
    })
    .await?
    .into_iter()
    .map(|lb| (lb.load_balancer_name().unwrap_or_default().to_string(), lb))
    .collect();
    let arns: Vec<String> = balancers
        .values()
        .filter_map(|b| b.load_balancer_arn().map(str::to_string))
        .collect();
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let out = aws
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .op("DescribeTags")?;
        for d in out.tag_descriptions() {
            tags.insert(
                d.resource_arn().unwrap_or_default().to_string(),
                super::tag_map(d.tags().iter().map(|t| (t.key(), t.value()))),
            );
        }
    }

    let groups: BTreeMap<String, String> = super::elbv2::target_groups(&aws.elbv2, |name| {
        lookups.iter().any(|l| l.target_group == name)
    })
    .await?
    .into_iter()
    .map(|tg| {
        (
            tg.target_group_name().unwrap_or_default().to_string(),
            tg.target_group_arn().unwrap_or_default().to_string(),
        )
    })
    .collect();
    let health = try_join_all(groups.iter().map(|(name, arn)| async move {
        let targets = super::elbv2::target_health(&aws.elbv2, arn).await?;
        Ok::<_, AwsError>((name.clone(), targets))
    }))
    .await?;
    let health: BTreeMap<String, Vec<Target>> = health.into_iter().collect();

    let names: Vec<String> = lookups
        .iter()
        .map(|l| l.auto_scaling_group.clone())
        .collect();
    let mut scaling = BTreeMap::new();
    for chunk in names.chunks(100) {
        let out = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(chunk.to_vec()))
            .send()
            .await
            .op("DescribeAutoScalingGroups")?;
        for g in out.auto_scaling_groups() {
            scaling.insert(
                g.auto_scaling_group_name().unwrap_or_default().to_string(),
                g.clone(),
            );
        }
    }

    let mut zones = BTreeMap::new();
    let mut domains: Vec<&String> = lookups.iter().filter_map(|l| l.domain.as_ref()).collect();
    domains.sort();
    domains.dedup();
    for domain in domains {
        if let Some(id) = route53::find_zone(&aws.route53, domain).await? {
            let records = route53::list_records(&aws.route53, &id).await?;
            zones.insert(domain.clone(), Zone { id, records });
        }
    }

    let mut observations = Vec::new();
    for l in lookups {
        let lb = balancers.get(&l.load_balancer);
        let lb_tags = lb
            .and_then(|b| b.load_balancer_arn())
            .and_then(|arn| tags.get(arn));
        let owned = lb_tags.is_some_and(|t| {
            t.get(TAG_MANAGED_BY).map(String::as_str) == Some("beanpole")
                && t.get(TAG_ENVIRONMENT) == Some(&l.environment)
        });
        let group = scaling.get(&l.auto_scaling_group);
        let instances = group.map(|g| g.instances()).unwrap_or_default();
        let in_service = instances
            .iter()
            .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
            .count() as i64;
        let in_transition = instances
            .iter()
            .filter(|i| {
                let state = i.lifecycle_state().map(|s| s.as_str()).unwrap_or_default();
                state.starts_with("Pending") || state.starts_with("Terminating")
            })
            .count() as i64;
        let cnames = l
            .domain
            .as_ref()
            .and_then(|d| zones.get(d))
            .map(|zone| zone.records.served_names(&l.application, &l.environment))
            .unwrap_or_default();
        observations.push(Observation {
            environment: l.environment.clone(),
            application: l.application.clone(),
            load_balancer_found: owned,
            load_balancer_state: lb
                .and_then(|b| b.state())
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_string()),
            load_balancer_dns: lb.and_then(|b| b.dns_name()).map(str::to_string),
            group_found: group.is_some(),
            min: group.and_then(|g| g.min_size()).unwrap_or_default() as i64,
            max: group.and_then(|g| g.max_size()).unwrap_or_default() as i64,
            desired: group.and_then(|g| g.desired_capacity()).unwrap_or_default() as i64,
            in_service,
            in_transition,
            targets: health.get(&l.target_group).cloned().unwrap_or_default(),
            cnames,
            ..Observation::default()
        });
    }
    Ok((observations, zones))
}
