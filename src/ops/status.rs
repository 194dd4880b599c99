//! `status`: where each environment's resources are (from the graph), what the APIs report
//! about them, and Elastic Beanstalk's colour for each (`status::assess`).

use super::lock::LockRecord;
use super::versions::{VersionError, VersionStore};
use super::{OpError, Session};
use crate::aws::observe::{observe, Lookup, Zone};
use crate::aws::s3;
use crate::aws::Aws;
use crate::graph::{Address, ResourceGraph};
use crate::model::Environment;
use crate::platform::report::Report;
use crate::platform::store::{
    boot_report_key, deploying_key, deployment_document_key, environment_pointer_key, lock_key,
    EnvironmentPointer,
};
use crate::reconcile::CallStats;
use crate::spec::Compilation;
use crate::status::DeploymentInProgress;
use crate::status::{assess, Health, Observation};
use std::collections::BTreeMap;

/// Where each named environment's resources are (every environment when `names` is empty).
pub fn lookups(
    compilation: &Compilation,
    graph: &ResourceGraph,
    names: &[String],
) -> Result<Vec<Lookup>, OpError> {
    let spec = &compilation.spec;
    let chosen: Vec<&Environment> = if names.is_empty() {
        spec.environments.iter().collect()
    } else {
        let mut chosen = Vec::new();
        for name in names {
            match spec.environment(name) {
                Some(e) => chosen.push(e),
                None => {
                    let known: Vec<&str> =
                        spec.environments.iter().map(|e| e.name.as_str()).collect();
                    return Err(OpError::Refused(format!(
                        "the spec has no environment `{name}` (it has: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        chosen
    };
    Ok(chosen
        .into_iter()
        .map(|e| {
            let name_of = |part: &str| {
                graph
                    .get(&Address(format!("{}.{part}", e.address())))
                    .map(|r| r.aws_name.clone())
                    .unwrap_or_default()
            };
            Lookup {
                environment: e.name.clone(),
                application: e.application.clone(),
                load_balancer: name_of("load_balancer"),
                target_group: name_of("target_group"),
                auto_scaling_group: name_of("auto_scaling_group"),
                domain: spec
                    .application(&e.application)
                    .and_then(|a| a.domain.clone()),
            }
        })
        .collect())
}

/// What the APIs report about some environments, with their colours.
pub struct Observed {
    pub environments: Vec<(Observation, Health)>,
    /// The hosted zones of their applications' domains, by domain.
    pub zones: BTreeMap<String, Zone>,
    pub calls: CallStats,
}

/// Observes the environments, each application's region once, in the order of `lookups`.
pub fn observe_all(session: &Session, lookups: &[Lookup]) -> Result<Observed, OpError> {
    let meter = session.measure();
    let mut by_region: BTreeMap<String, (Aws, Vec<Lookup>)> = BTreeMap::new();
    for l in lookups {
        let aws = session.client(&l.application)?;
        by_region
            .entry(aws.region.clone())
            .or_insert_with(|| (aws.clone(), Vec::new()))
            .1
            .push(l.clone());
    }
    let mut observations = Vec::new();
    let mut zones = BTreeMap::new();
    for (aws, group) in by_region.values() {
        let (o, z) = session
            .runtime
            .block_on(observe(aws, group))
            .map_err(OpError::Read)?;
        observations.extend(o);
        zones.extend(z);
    }
    observations.sort_by_key(|o| {
        lookups
            .iter()
            .position(|l| l.environment == o.environment)
            .unwrap_or(usize::MAX)
    });
    Ok(Observed {
        environments: observations
            .into_iter()
            .map(|o| {
                let h = assess(&o);
                (o, h)
            })
            .collect(),
        zones,
        calls: meter.finish(),
    })
}

/// `status`: what the APIs report, with what the versions bucket says of deployments: one in
/// progress (and whether its command still holds the lock), the environment's version and
/// what each registered instance serves; each environment assessed.
pub fn status(session: &Session, lookups: &[Lookup]) -> Result<Observed, OpError> {
    let mut observed = observe_all(session, lookups)?;
    for (o, health) in observed.environments.iter_mut() {
        if !o.group_found {
            continue;
        }
        match read_deployments(session, o) {
            Ok(()) => {}
            // No versions bucket yet: nothing was ever deployed.
            Err(VersionError::NoBucket { .. }) => continue,
            Err(VersionError::Op(e)) => return Err(e),
            Err(e) => return Err(OpError::Refused(e.to_string())),
        }
        *health = assess(o);
    }
    Ok(observed)
}

fn read_deployments(session: &Session, o: &mut Observation) -> Result<(), VersionError> {
    let store = VersionStore::open(session, &o.application)?;
    let aws = session.client(&o.application)?;
    let get = |key: &str| -> Result<Option<Vec<u8>>, VersionError> {
        Ok(session
            .runtime
            .block_on(s3::get(&aws.s3, &store.bucket, key))?)
    };
    let (app, env) = (o.application.clone(), o.environment.clone());
    o.expected_version = get(&environment_pointer_key(&app, &env))?
        .and_then(|b| serde_json::from_slice::<EnvironmentPointer>(&b).ok())
        .map(|p| p.label);
    o.deployment = get(&deploying_key(&app, &env))?
        .and_then(|b| serde_json::from_slice::<DeploymentInProgress>(&b).ok());
    if let Some(d) = o.deployment.as_mut() {
        let now = super::now_unix();
        d.live = get(&lock_key(&app))?
            .and_then(|b| serde_json::from_slice::<LockRecord>(&b).ok())
            .is_some_and(|l| l.command == format!("deploy {env}") && !l.expired(now));
    }
    // What each registered instance serves: its newest report that says (a boot, or a
    // deployment that succeeded or put a version back).
    let prefix = deployment_document_key(&app, &env, 0);
    let prefix = prefix.trim_end_matches("0.json").to_string();
    let keys = session
        .runtime
        .block_on(s3::list(&aws.s3, &store.bucket, &prefix))?;
    let mut by_instance: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for key in &keys {
        let Some((id, file)) = key.strip_prefix(&prefix).and_then(|r| r.split_once('/')) else {
            continue;
        };
        let (Ok(id), Some(instance)) = (id.parse::<u64>(), file.strip_suffix(".json")) else {
            continue;
        };
        if instance.ends_with(".progress") {
            continue;
        }
        by_instance
            .entry(instance.to_string())
            .or_default()
            .push((id, key.clone()));
    }
    let serving = |report: &Report| -> Option<String> {
        if report.succeeded() {
            Some(report.version.clone())
        } else {
            report.rolled_back_to.clone()
        }
    };
    let mut versions = Vec::new();
    for target in &o.targets {
        let boot = get(&boot_report_key(&app, &env, &target.id))?
            .and_then(|b| serde_json::from_slice::<Report>(&b).ok());
        let mut found: Option<(u64, Option<String>)> =
            boot.as_ref().map(|r| (r.deployment_id, serving(r)));
        let mut reports = by_instance.remove(&target.id).unwrap_or_default();
        reports.sort_by_key(|r| std::cmp::Reverse(r.0));
        for (id, key) in reports {
            if found
                .as_ref()
                .is_some_and(|(at, v)| *at >= id && v.is_some())
            {
                break;
            }
            let Some(report) = get(&key)?.and_then(|b| serde_json::from_slice::<Report>(&b).ok())
            else {
                continue;
            };
            if let Some(v) = serving(&report) {
                found = Some((id, Some(v)));
                break;
            }
        }
        versions.push((target.id.clone(), found.and_then(|(_, v)| v)));
    }
    o.instance_versions = versions;
    Ok(())
}
