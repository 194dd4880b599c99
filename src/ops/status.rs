//! `status`: where each environment's resources are (from the graph), what the APIs report
//! about them, and Elastic Beanstalk's colour for each (`status::assess`).

use super::holder::deployment_running;
use super::{Context, OpError, Session};
use crate::aws::observe::{observe, Lookup, Zone};
use crate::aws::store::Store;
use crate::aws::Aws;
use crate::duration::now_unix;
use crate::graph::{Address, ResourceGraph};
use crate::model::Environment;
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
        names
            .iter()
            .map(|name| super::environment(compilation, name))
            .collect::<Result<_, _>>()?
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
pub async fn observe_all(session: &Session, lookups: &[Lookup]) -> Result<Observed, OpError> {
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
        let (o, z) = observe(aws, group).await.map_err(OpError::Read)?;
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

#[derive(Debug, Clone)]
pub struct StatusRequest {
    /// Environments to show (every environment of the spec when empty).
    pub environments: Vec<String>,
}

/// `status`: what the APIs report, with what the versions bucket says of deployments: one in
/// progress (and whether its command still runs it), the environment's version and what each
/// registered instance serves; each environment assessed.
pub async fn status(ctx: Context<'_>, request: &StatusRequest) -> Result<Observed, OpError> {
    let lookups = lookups(ctx.compilation, ctx.graph, &request.environments)?;
    let mut observed = observe_all(ctx.session, &lookups).await?;
    let mut stores: BTreeMap<String, Option<Store>> = BTreeMap::new();
    for (o, health) in observed.environments.iter_mut() {
        let env = ctx.environment(&o.environment)?;
        if !o.group_found && !env.is_worker() {
            continue;
        }
        let aws = ctx.session.client(&o.application)?;
        if !stores.contains_key(&aws.region) {
            let store = Store::locate(aws).await?;
            // No versions bucket yet: nothing was ever deployed.
            let exists = store.exists().await?;
            stores.insert(aws.region.clone(), exists.then_some(store));
        }
        let store = stores.get(&aws.region).and_then(Option::as_ref);
        if env.is_worker() {
            o.worker = Some(observe_worker(ctx, env, store).await?);
            *health = assess(o);
        }
        if let (true, Some(store)) = (o.group_found, store) {
            read_deployments(store, o).await?;
            *health = assess(o);
        }
    }
    Ok(observed)
}

/// A worker's queue and dead-letter queue depth, its in-service instances and what their
/// daemons last reported.
async fn observe_worker(
    ctx: Context<'_>,
    env: &crate::model::Environment,
    store: Option<&Store>,
) -> Result<crate::status::WorkerObservation, OpError> {
    let aws = ctx.session.client(&env.application)?;
    let queues = super::queue::queues(ctx, env).await.ok();
    let depth = |url: Option<String>| async move {
        match url {
            Some(url) => crate::aws::sqs::depth(&aws.sqs, &url)
                .await
                .map_err(OpError::Read),
            None => Ok(None),
        }
    };
    let queue = depth(queues.as_ref().map(|q| q.queue_url.clone())).await?;
    let dead_letter_queue = depth(
        queues
            .as_ref()
            .and_then(|q| q.dead_letter_queue_url.clone()),
    )
    .await?;
    let lookup = lookups(ctx.compilation, ctx.graph, std::slice::from_ref(&env.name))?
        .pop()
        .map(|l| l.auto_scaling_group)
        .unwrap_or_default();
    let instances =
        crate::aws::autoscaling::group_view(&aws.autoscaling, &lookup, &env.application, &env.name)
            .await
            .map_err(OpError::Read)?
            .map(|g| g.in_service)
            .unwrap_or_default();
    let daemons = match store {
        Some(store) => store.daemon_reports(&env.application, &env.name).await?,
        None => Vec::new(),
    };
    Ok(crate::status::WorkerObservation {
        queue_url: queues
            .as_ref()
            .map(|q| q.queue_url.clone())
            .unwrap_or_else(|| "(not created)".to_string()),
        queue,
        dead_letter_queue_url: queues.and_then(|q| q.dead_letter_queue_url),
        dead_letter_queue,
        instances,
        daemons,
        observed_at: now_unix() as f64,
        backlog_per_instance: env.capacity.backlog_per_instance,
    })
}

async fn read_deployments(store: &Store, o: &mut Observation) -> Result<(), OpError> {
    let (app, env) = (o.application.clone(), o.environment.clone());
    o.expected_version = store
        .environment_pointer(&app, &env)
        .await?
        .map(|p| p.label);
    o.deployment = store
        .deployment_record(&app, &env)
        .await?
        .and_then(|t| t.record.ok())
        .map(|r| DeploymentInProgress {
            deployment_id: r.deployment_id,
            version: r.version.clone(),
            policy: r.policy.name().to_string(),
            batch: r.batch,
            batches: r.batches,
            instances_done: r.instances_done,
            instances: r.instances,
            traffic_percent: r.traffic_percent,
            rolling_back: r.rolling_back,
            live: deployment_running(&r, now_unix()),
        });
    // What each registered instance serves: its newest report that says (a boot, or a
    // deployment that succeeded or put a version back).
    let mut by_instance = store.reported_deployments(&app, &env).await?;
    let mut versions = Vec::new();
    // A worker's instances are in no target group: its group's are the ones.
    let ids: Vec<String> = match &o.worker {
        Some(w) => w.instances.clone(),
        None => o.targets.iter().map(|t| t.id.clone()).collect(),
    };
    for instance in &ids {
        let boot = store
            .boot_report(&app, &env, instance)
            .await?
            .and_then(Result::ok);
        let mut found: Option<(u64, Option<String>)> = boot
            .as_ref()
            .map(|r| (r.deployment_id, r.serving().map(str::to_string)));
        let mut ids = by_instance.remove(instance).unwrap_or_default();
        ids.sort_by_key(|id| std::cmp::Reverse(*id));
        for id in ids {
            if found
                .as_ref()
                .is_some_and(|(at, v)| *at >= id && v.is_some())
            {
                break;
            }
            let Some(Ok(report)) = store.report(&app, &env, id, instance).await? else {
                continue;
            };
            if let Some(v) = report.serving() {
                found = Some((id, Some(v.to_string())));
                break;
            }
        }
        versions.push((instance.clone(), found.and_then(|(_, v)| v)));
    }
    o.instance_versions = versions;
    Ok(())
}
