//! `status`: where each environment's resources are (from the graph), what the APIs report
//! about them, and Elastic Beanstalk's colour for each (`status::assess`).

use super::{OpError, Session};
use crate::aws::observe::{observe, Lookup, Zone};
use crate::aws::Aws;
use crate::graph::{Address, ResourceGraph};
use crate::model::Environment;
use crate::reconcile::CallStats;
use crate::spec::Compilation;
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
