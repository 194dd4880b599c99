//! Reads the live state of a whole graph: a handful of batched Describe/List calls per
//! service, every service at once. Resources are found by the names the graph gives them and
//! by Beanpole's application tag (so renamed and orphaned resources are found too).

use super::{autoscaling, ec2, elbv2, iam, route53, ssm, Aws, AwsError};
use crate::graph::{Address, ResourceGraph, ResourceKind};
use crate::reconcile::LiveState;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Reads everything the graph's resources of `applications` could match.
pub async fn read_live_state(
    aws: &Aws,
    graph: &ResourceGraph,
    applications: &[String],
) -> Result<LiveState, AwsError> {
    let resources: Vec<_> = graph
        .resources()
        .filter(|r| applications.contains(&r.application))
        .collect();
    let names = |kind: ResourceKind| -> Vec<String> {
        let set: BTreeSet<String> = resources
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.aws_name.clone())
            .collect();
        set.into_iter().collect()
    };
    let sg_names = names(ResourceKind::SecurityGroup);
    let lt_names = names(ResourceKind::LaunchTemplate);
    let lb_names = names(ResourceKind::LoadBalancer);
    let tg_names = names(ResourceKind::TargetGroup);
    let asg_names = names(ResourceKind::AutoScalingGroup);
    let role_names = names(ResourceKind::IamRole);
    let profile_names = names(ResourceKind::InstanceProfile);
    let parameters = names(ResourceKind::PlatformImage);
    let bucket_names = names(ResourceKind::VersionsBucket);
    let stack_names = names(ResourceKind::Stack);
    let record_names: Vec<String> = resources
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                ResourceKind::CnameRecord | ResourceKind::OwnershipRecord
            )
        })
        .map(|r| r.aws_name.clone())
        .collect();

    // Distinct networks: the default VPC once, each custom VPC once.
    let mut networks: BTreeMap<(Option<String>, Vec<String>), Vec<Address>> = BTreeMap::new();
    let mut zones: BTreeMap<String, Vec<Address>> = BTreeMap::new();
    for r in &resources {
        match r.kind {
            ResourceKind::Network => {
                let vpc = r.attributes.get("vpc").and_then(Value::as_str);
                let subnets: Vec<String> = r
                    .attributes
                    .get("subnets")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let vpc = vpc.filter(|v| *v != "default").map(str::to_string);
                networks
                    .entry((vpc, subnets))
                    .or_default()
                    .push(r.address.clone());
            }
            ResourceKind::HostedZone => {
                if let Some(domain) = r.attributes.get("domain").and_then(Value::as_str) {
                    zones
                        .entry(domain.to_string())
                        .or_default()
                        .push(r.address.clone());
                }
            }
            _ => {}
        }
    }

    let network_reads = futures::future::join_all(networks.iter().map(
        |((vpc, subnets), addresses)| async move {
            let result = ec2::read_network(&aws.ec2, vpc.as_deref(), subnets).await;
            (addresses.clone(), result)
        },
    ));
    let zone_reads = futures::future::try_join_all(zones.iter().map(|(domain, addresses)| {
        let record_names = &record_names;
        async move {
            let zone = route53::find_zone(&aws.route53, domain).await?;
            let records = match &zone {
                Some(id) => route53::live_records(
                    id,
                    &route53::list_records(&aws.route53, id).await?,
                    record_names,
                    applications,
                ),
                None => Vec::new(),
            };
            Ok::<_, AwsError>((domain.clone(), addresses.clone(), zone, records))
        }
    }));
    let bucket_reads = futures::future::try_join_all(
        bucket_names
            .iter()
            .map(|name| super::s3::read_bucket(&aws.s3, name)),
    );
    let (sgs, lts, elb, asg, iam_resources, network_results, images, zone_results, buckets, stacks) =
        futures::try_join!(
            ec2::read_security_groups(&aws.ec2, &sg_names, applications),
            ec2::read_launch_templates(&aws.ec2, &lt_names, applications),
            elbv2::read(&aws.elbv2, &lb_names, &tg_names),
            autoscaling::read(&aws.autoscaling, &asg_names, applications),
            iam::read(&aws.iam, &role_names, &profile_names, applications),
            async { Ok(network_reads.await) },
            ssm::read_parameters(&aws.ssm, &parameters),
            zone_reads,
            bucket_reads,
            super::cloudformation::read_stacks(aws, &stack_names, applications),
        )?;

    let mut state = LiveState::default();
    for list in [sgs, lts, elb, asg, iam_resources, stacks] {
        state.resources.extend(list);
    }
    state.resources.extend(buckets.into_iter().flatten());
    for (addresses, result) in network_results {
        for address in addresses {
            state.data.insert(address, result.clone());
        }
    }
    for r in &resources {
        if r.kind == ResourceKind::PlatformImage {
            let result = match images.get(&r.aws_name) {
                Some(image) => Ok(BTreeMap::from([("image_id".to_string(), json!(image))])),
                None => Err(format!(
                    "the SSM parameter `{}` does not exist in region {}: set `instance {{ ami = \"ami-…\" }}`",
                    r.aws_name, aws.region
                )),
            };
            state.data.insert(r.address.clone(), result);
        }
    }
    for (domain, addresses, zone, records) in zone_results {
        let result = match zone {
            Some(id) => Ok(BTreeMap::from([("id".to_string(), json!(id))])),
            None => Err(format!(
                "no public Route53 hosted zone named `{domain}` in this account: create it first (Beanpole never creates or deletes hosted zones)"
            )),
        };
        for address in addresses {
            state.data.insert(address, result.clone());
        }
        state.resources.extend(records);
    }
    Ok(state)
}
