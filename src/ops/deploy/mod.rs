//! `deploy`: put an application version on an environment's instances. The operation takes
//! the application's lock, stores the version (or finds it), resolves the environment's
//! settings against its `.ebextensions`, writes the deployment's document, and carries out the
//! pure planner's batches (`crate::deploy::plan`) by policy; then it records its event and
//! gives the lock back. Only a deploy that reached every instance moves the environment's
//! pointer (what a new instance boots).
//!
//! The policies' machinery lives beside this file: [`in_place`] (all-at-once, rolling,
//! rolling-with-additional-batch: batches of running instances), [`replace`] (immutable,
//! traffic-splitting: a temporary group of new instances), [`group`] (instances added to and
//! retired from the environment's group), [`targets`] (target group moves), [`instances`]
//! (Run Command and the engine's reports), [`rollback`], [`record`] (the record a deployment
//! keeps while it runs) and [`recover`] (what one that died or lost its lock left).

mod batches;
mod event;
mod group;
mod in_place;
mod instances;
pub mod record;
pub mod recover;
mod replace;
mod rollback;
pub mod targets;

use super::bundle::{bundle, BundleError, BundleRequest};
use super::functions;
use super::lock::{hold, Held, LockError, LockRequest};
use super::versions::{VersionError, VersionStore};
use super::{Context, OpError};
use crate::aws::store::{Store, StoreError};
use crate::aws::{autoscaling, elbv2, Aws, AwsError};
use crate::bucket::{
    AbortRequest, DeploymentRecord, EnvironmentPointer, EventDetails, EventOutcome, VersionManifest,
};
use crate::bundle::ebextensions::EbExtensions;
use crate::deploy::outcome::{
    serving, summary, BatchOutcome, Completion, DeployOutcome, RollbackOutcome,
};
use crate::deploy::{plan, DeployPlan};
use crate::duration::now_unix;
use crate::interrupt::Interrupt;
use crate::model::{DeploymentPolicy, Environment, HealthThreshold};
use crate::platform::document::{document, HealthCheck, Target, VersionRef};
use crate::platform::settings::{resolve, RuntimeSettings, SettingProblem};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use crate::deploy::outcome;
pub use event::DeployEvent;
pub(crate) use replace::{clean_up, replace as replace_all};

#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub environment: String,
    /// Deploy this existing version (no bundle, no upload).
    pub version: Option<String>,
    /// The source folder (default: the application's `source`).
    pub source: Option<PathBuf>,
    pub label: Option<String>,
    pub message: String,
    /// `--policy`: this deployment's policy instead of the environment's.
    pub policy: Option<DeploymentPolicy>,
    /// When another command holds the application's lock, wait for it instead of refusing.
    pub wait: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the version's .ebextensions set options Beanpole cannot use:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Settings(Vec<SettingProblem>),
    #[error("the version's .ebextensions use CloudFormation functions that have no value for this environment (nothing was uploaded or deployed):\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Functions(Vec<String>),
    #[error("{0}")]
    Refused(String),
}

/// Why a deployment stops before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C.
    Interrupted,
    /// Another command took the application's lock.
    LostLock,
}

/// What a deployment works with, for its batches and for its rollback.
pub(crate) struct Deployment<'a> {
    pub aws: &'a Aws,
    pub store: &'a Store,
    pub application: &'a str,
    pub env: &'a Environment,
    /// The environment's Auto Scaling group as the deployment found it.
    pub group: &'a autoscaling::GroupView,
    /// `None` for a worker, which has no load balancer.
    pub target_group: Option<&'a str>,
    pub timeout: Duration,
    /// The health an instance must reach (a lower one also lets the batch pass on a target
    /// group that does not report the instance healthy: the engine rated it).
    pub health_threshold: HealthThreshold,
    pub interrupt: &'a Interrupt,
    /// Raised when the lock is lost.
    pub lost: &'a Interrupt,
    /// Look for `beanpole abort` requests (not during a rollback).
    pub watch_abort: bool,
    pub keeper: Option<&'a record::Keeper>,
}

impl Deployment<'_> {
    /// Ctrl-C or a lost lock: the deployment stops at this safe point.
    pub fn stopping(&self) -> Option<Stop> {
        if self.lost.is_raised() {
            Some(Stop::LostLock)
        } else if self.interrupt.is_raised() {
            Some(Stop::Interrupted)
        } else {
            None
        }
    }

    /// An abort asked for by `beanpole abort`, if this deployment looks for them.
    pub async fn abort_requested(&self) -> Result<Option<AbortRequest>, DeployError> {
        if !self.watch_abort {
            return Ok(None);
        }
        Ok(self
            .store
            .abort_request(self.application, &self.env.name)
            .await?)
    }

    /// The same deployment for its rollback: no abort, no Ctrl-C, no lost lock stops it (it
    /// is what puts the environment right).
    pub fn for_rollback<'b>(&'b self, never: &'b Interrupt) -> Deployment<'b> {
        Deployment {
            interrupt: never,
            lost: never,
            watch_abort: false,
            ..*self
        }
    }

    pub fn passes(&self, state: Option<crate::status::TargetState>) -> bool {
        crate::deploy::outcome::target_passes(state, self.health_threshold)
    }
}

/// How a deployment's batches (and its rollback) went, before the end of the deployment.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    pub batches: Vec<BatchOutcome>,
    pub failed: bool,
    pub stopped: Option<Stop>,
    pub aborted: Option<AbortRequest>,
    pub rollback: Option<RollbackOutcome>,
    pub not_deployed: Vec<String>,
}

/// Deploys a version to an environment, holding the application's lock.
pub async fn deploy(
    ctx: Context<'_>,
    request: &DeployRequest,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<DeployOutcome, DeployError> {
    let env = ctx.environment(&request.environment)?;
    let lock = LockRequest {
        command: format!("deploy {}", env.name),
        wait: request.wait,
        create_bucket: false,
    };
    let held = hold(
        ctx,
        std::slice::from_ref(&env.application),
        &lock,
        &mut |e| on_event(DeployEvent::Lock(e)),
    )
    .await?;
    let result = deploy_holding(ctx, &held, env, request, false, on_event).await;
    let (outcome, summary, details) = match &result {
        Ok(o) => (
            if o.succeeded() {
                EventOutcome::Succeeded
            } else if o.interrupted {
                EventOutcome::Interrupted
            } else {
                EventOutcome::Failed
            },
            summary(o),
            EventDetails::Deploy(Box::new(o.clone())),
        ),
        Err(e) => (EventOutcome::Failed, e.to_string(), EventDetails::None),
    };
    let environments = [env.name.clone()];
    for (application, error) in held
        .record(&|_| environments.to_vec(), outcome, &summary, &details)
        .await
    {
        on_event(DeployEvent::NotRecorded {
            application,
            error: error.to_string(),
        });
    }
    held.release().await;
    result
}

/// The environment's Auto Scaling group (proven Beanpole's) and its target group's ARN.
pub(crate) async fn locate(
    ctx: Context<'_>,
    env: &Environment,
) -> Result<(autoscaling::GroupView, Option<String>), DeployError> {
    let application = env.application.clone();
    let aws = ctx.session.client(&application)?;
    let lookup =
        super::status::lookups(ctx.compilation, ctx.graph, std::slice::from_ref(&env.name))?
            .pop()
            .ok_or_else(|| DeployError::Refused(format!("no environment {}", env.name)))?;
    let group = autoscaling::group_view(
        &aws.autoscaling,
        &lookup.auto_scaling_group,
        &application,
        &env.name,
    )
    .await?
    .ok_or_else(|| {
        DeployError::Refused(format!(
            "environment {} has no Auto Scaling group {} yet: run `beanpole apply` first",
            env.name, lookup.auto_scaling_group
        ))
    })?;
    if !group.owned {
        return Err(DeployError::Refused(format!(
            "the Auto Scaling group {} does not carry Beanpole's tags for {}/{}: Beanpole deploys only to groups it created",
            group.name, application, env.name
        )));
    }
    if let Some(odd) = group
        .in_service
        .iter()
        .find(|i| !crate::platform::command::is_instance_id(i))
    {
        return Err(DeployError::Refused(format!(
            "the group {} lists `{odd}`, which is not an EC2 instance id",
            group.name
        )));
    }
    if env.is_worker() {
        return Ok((group, None));
    }
    let target_group = elbv2::target_group_arn(&aws.elbv2, &lookup.target_group)
        .await?
        .ok_or_else(|| {
            DeployError::Refused(format!(
                "environment {} has no target group {}: run `beanpole apply` first",
                env.name, lookup.target_group
            ))
        })?;
    Ok((group, Some(target_group)))
}

/// How long the engine waits for the application to answer its health check: half the
/// batch's timeout (at most 5 minutes, at least 10 s), so that an application that never
/// turns healthy is reported as such, with its log, well before the batch times out.
pub fn health_timeout(batch_timeout: u32) -> u32 {
    (batch_timeout / 2).clamp(10, 300)
}

/// The environment's pointer's version, or the sample application's before any.
pub(crate) fn label_of(pointer: Option<&EnvironmentPointer>) -> String {
    pointer
        .map(|p| p.label.clone())
        .unwrap_or_else(|| crate::platform::boot::SAMPLE_LABEL.to_string())
}

/// A deployment as it starts: the version, its settings and document, the batches.
struct Prepared {
    manifest: VersionManifest,
    settings: RuntimeSettings,
    plan: DeployPlan,
    deployment_id: u64,
    /// What the environment served before.
    previous: String,
}

/// The deployment itself, under `held` (the deploy's own lock, or apply's for a configuration
/// deployment: the version the environment runs, deployed again in place with the spec's
/// settings, running `.platform/confighooks`, never on new instances).
pub(crate) async fn deploy_holding(
    ctx: Context<'_>,
    held: &Held,
    env: &Environment,
    request: &DeployRequest,
    configuration: bool,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<DeployOutcome, DeployError> {
    let started = Instant::now();
    let application = env.application.as_str();
    let store = &held
        .lease(application)
        .ok_or_else(|| OpError::Refused(format!("no lock held for {application}")))?
        .store;
    let aws = ctx.session.client(application)?;
    // The group and target group, proven Beanpole's before anything is written.
    let (group, target_group) = locate(ctx, env).await?;
    // A deployment still at work after losing its lock is waited for; what one that died
    // left is undone (its instances get this deployment's version anyway).
    let group = match recover::settle(
        ctx,
        held,
        env,
        &group,
        target_group.as_deref(),
        false,
        on_event,
    )
    .await?
    {
        Some(_) => locate(ctx, env).await?.0,
        None => group,
    };
    // An instance a killed deploy left out of the target group goes back first (it serves
    // what its engine last deployed or put back).
    targets::restore_missing(aws, target_group.as_deref(), &group.in_service, on_event).await?;
    let prepared = prepare(ctx, store, env, &group, request, configuration, on_event).await?;
    let Prepared {
        manifest,
        settings,
        plan,
        deployment_id,
        previous,
    } = &prepared;
    on_event(DeployEvent::Planned {
        deployment_id: *deployment_id,
        plan: plan.clone(),
    });
    let keeper = record::Keeper::start(
        store,
        application,
        &env.name,
        DeploymentRecord {
            deployment_id: *deployment_id,
            version: manifest.label.clone(),
            policy: plan.policy,
            batch_size: plan.batch_size,
            batch: 0,
            batches: plan.batches.len() + usize::from(plan.extra > 0) + plan.replace.min(2),
            instances_done: 0,
            instances: plan.replace
                + plan.extra
                + plan
                    .batches
                    .iter()
                    .map(|b| b.instances.len())
                    .sum::<usize>(),
            traffic_percent: None,
            rolling_back: false,
            owner: held.owner(),
            heartbeat: 0,
            lease_secs: held
                .lease(application)
                .map(|l| l.record.lease_secs)
                .unwrap_or(super::lock::DEFAULT_LEASE_SECS),
            previous: previous.clone(),
            group: group.name.clone(),
            desired: group.desired,
            max: group.max,
            launched: Vec::new(),
        },
    )
    .await?;
    let mut tracked = |event: DeployEvent| {
        keeper.observe(&event);
        on_event(event)
    };
    let on_event: &mut dyn FnMut(DeployEvent) = &mut tracked;
    // An abort request older than this deploy is stale.
    store.delete_abort_request(application, &env.name).await?;
    let deployment = Deployment {
        aws,
        store,
        application,
        env,
        group: &group,
        target_group: target_group.as_deref(),
        timeout: Duration::from_secs(u64::from(settings.timeout)),
        health_threshold: settings.health_threshold,
        interrupt: ctx.interrupt,
        lost: held.lost(),
        watch_abort: true,
        keeper: Some(&keeper),
    };
    let finished = if plan.replace > 0 {
        replace::replace(
            &deployment,
            plan,
            *deployment_id,
            &manifest.label,
            previous,
            on_event,
        )
        .await
    } else {
        in_place::deploy(
            &deployment,
            plan,
            *deployment_id,
            manifest,
            settings,
            previous,
            on_event,
        )
        .await
    };
    let outcome = match finished {
        Ok(finished) => finish(&deployment, &prepared, finished, started).await,
        Err(e) => Err(e),
    };
    // The record goes last: a command killed before it leaves it to the next one, and so does
    // one that lost its lock (the command holding it now undoes what this one did).
    if matches!(&outcome, Ok(o) if o.lost_lock) {
        keeper.abandon().await;
    } else {
        keeper.finish().await;
    }
    outcome
}

/// The version (stored, or found), its settings, the batches, and the document written under
/// a fresh deployment id.
async fn prepare(
    ctx: Context<'_>,
    store: &Store,
    env: &Environment,
    group: &autoscaling::GroupView,
    request: &DeployRequest,
    configuration: bool,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Prepared, DeployError> {
    let application = env.application.as_str();
    let versions = VersionStore {
        application: application.to_string(),
        store: store.clone(),
    };
    let (manifest, resolved) = version(ctx, &versions, env, request, on_event).await?;
    let previous = label_of(
        store
            .environment_pointer(application, &env.name)
            .await?
            .as_ref(),
    );
    // CloudFormation functions resolved for this environment, as EB does before anything runs.
    let ext = match resolved {
        Some(ext) => ext,
        None => {
            let cfn = functions::deploy_context(ctx, env, &manifest.ebextensions).await?;
            let cfn = functions::bundle_resources(
                ctx,
                env,
                &manifest.ebextensions,
                cfn,
                &mut |stack, set| {
                    on_event(DeployEvent::Resources {
                        stack: stack.to_string(),
                        change_set: set.clone(),
                    })
                },
            )
            .await?;
            functions::resolved(&manifest.ebextensions, &cfn).map_err(DeployError::Functions)?
        }
    };
    let (mut settings, unsupported) = resolve(Some(env), &ext).map_err(DeployError::Settings)?;
    // Values of the environment's extra resources, read from their stacks now.
    settings
        .properties
        .extend(functions::resource_properties(ctx, env).await?);
    if let Some(daemon) = settings.worker.as_mut() {
        functions::worker_queues(ctx, env, daemon).await?;
        daemon.report_prefix = Some(format!(
            "s3://{}/{}",
            store.bucket,
            crate::bucket::daemons_prefix(&env.application, &env.name)
        ));
    }
    for u in ext.unsupported.iter().chain(&unsupported) {
        on_event(DeployEvent::NotCarriedOut(u.clone()));
    }
    if let Some(policy) = request.policy {
        settings.policy = policy;
    }
    if configuration && settings.policy != DeploymentPolicy::AllAtOnce {
        // In place: a configuration deployment launches no instance.
        settings.policy = DeploymentPolicy::Rolling;
    }
    if env.is_worker() && settings.policy == DeploymentPolicy::TrafficSplitting {
        return Err(DeployError::Refused(format!(
            "environment {} is a worker: it takes no requests to split (as on Elastic Beanstalk); use rolling, rolling-with-additional-batch or immutable",
            env.name
        )));
    }
    let plan = plan(&group.in_service, settings.policy, settings.batch_size)
        .map_err(|p| DeployError::Refused(format!("environment {}: {p}", env.name)))?
        .with_traffic_split(settings.new_version_percent, settings.evaluation_time);
    // The engine this Beanpole ships (an upgrade since the last apply has a new one).
    store.put_engine().await?;
    let deployment_id =
        write_document(store, env, &manifest, &ext, &settings, configuration).await?;
    Ok(Prepared {
        manifest,
        settings,
        plan,
        deployment_id,
        previous,
    })
}

/// Writes a deployment's document under the next free id of the environment (a conditional
/// write: of two deploys taking one id, the second takes the next); the id.
pub(crate) async fn write_document(
    store: &Store,
    env: &Environment,
    manifest: &VersionManifest,
    ext: &crate::bundle::ebextensions::EbExtensions,
    settings: &RuntimeSettings,
    configuration: bool,
) -> Result<u64, DeployError> {
    let application = env.application.as_str();
    let mut id = next_deployment_id(store, application, &env.name).await?;
    loop {
        let mut doc = document(
            Target {
                application: application.to_string(),
                environment: env.name.clone(),
                deployment_id: id,
                python: env.platform.python_version.clone(),
                port: env.instance.port,
                listen_address: None,
                health_check: HealthCheck {
                    path: env.load_balancer.health_check.path.clone(),
                    matcher: env.load_balancer.health_check.matcher.clone(),
                    timeout_secs: health_timeout(settings.timeout),
                    threshold: Default::default(),
                },
            },
            VersionRef {
                label: manifest.label.clone(),
                sha256: manifest.sha256.clone(),
                source: format!(
                    "s3://{}/{}",
                    store.bucket,
                    crate::bucket::bundle_key(application, &manifest.label)
                ),
            },
            settings,
            ext,
        );
        doc.configuration = configuration;
        match store.put_document(application, &doc).await? {
            crate::aws::s3::Written::Created => return Ok(id),
            crate::aws::s3::Written::AlreadyThere => id += 1,
        }
    }
}

/// One more than the highest deployment id the environment has had.
pub(crate) async fn next_deployment_id(
    store: &Store,
    application: &str,
    environment: &str,
) -> Result<u64, AwsError> {
    Ok(store
        .deployment_ids(application, environment)
        .await?
        .last()
        .copied()
        .unwrap_or(0)
        + 1)
}

/// The version to deploy: an existing label, or the source folder stored as one. A bundle
/// whose `.ebextensions` the environment cannot use is refused before it is uploaded; a bundle
/// made here comes back with its functions resolved for the environment (read once).
async fn version(
    ctx: Context<'_>,
    versions: &VersionStore,
    env: &Environment,
    request: &DeployRequest,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(VersionManifest, Option<EbExtensions>), DeployError> {
    if let Some(label) = &request.version {
        if request.source.is_some() || request.label.is_some() {
            return Err(DeployError::Refused(
                "`--version` deploys a stored version: it takes no `--source` or `--label`".into(),
            ));
        }
        let manifest = versions.manifest(label).await?;
        on_event(DeployEvent::Version {
            label: manifest.label.clone(),
            sha256: manifest.sha256.clone(),
            reused: true,
        });
        return Ok((manifest, None));
    }
    let source = match &request.source {
        Some(s) => s.clone(),
        None => ctx
            .compilation
            .spec
            .application(&env.application)
            .map(|a| a.source.clone())
            .unwrap_or_default(),
    };
    let built = bundle(&BundleRequest {
        source,
        wsgi_path: env.wsgi.path.clone(),
        out: None,
        environment: Some(env.clone()),
    })?;
    // A function with no value here is refused before the version is uploaded; what it
    // resolves to is what this deployment uses.
    let ext = &built.bundle.ebextensions;
    let cfn = functions::deploy_context(ctx, env, ext).await?;
    let cfn = functions::bundle_resources(ctx, env, ext, cfn, &mut |stack, set| {
        on_event(DeployEvent::Resources {
            stack: stack.to_string(),
            change_set: set.clone(),
        })
    })
    .await?;
    let resolved = functions::resolved(ext, &cfn).map_err(DeployError::Functions)?;
    let created = versions
        .create(
            &built.bundle,
            request.label.clone(),
            request.message.clone(),
            now_unix(),
        )
        .await?;
    on_event(DeployEvent::Version {
        label: created.manifest.label.clone(),
        sha256: created.manifest.sha256.clone(),
        reused: created.reused,
    });
    Ok((created.manifest, Some(resolved)))
}

/// The end of every deployment: an answered abort request goes, a success moves the
/// environment's pointer; the outcome.
async fn finish(
    deployment: &Deployment<'_>,
    prepared: &Prepared,
    finished: Finished,
    started: Instant,
) -> Result<DeployOutcome, DeployError> {
    let (store, env, application) = (deployment.store, deployment.env, deployment.application);
    let Prepared {
        manifest,
        plan,
        deployment_id,
        ..
    } = prepared;
    let Finished {
        batches,
        failed,
        stopped,
        aborted,
        rollback,
        not_deployed,
    } = finished;
    if aborted.is_some() {
        // Handled: the request is answered by this deploy's event.
        store.delete_abort_request(application, &env.name).await?;
    }
    let succeeded = !failed && stopped.is_none();
    if succeeded {
        store
            .put_environment_pointer(
                application,
                &EnvironmentPointer {
                    environment: env.name.clone(),
                    label: manifest.label.clone(),
                    deployment_id: *deployment_id,
                    document: crate::bucket::deployment_document_key(
                        application,
                        &env.name,
                        *deployment_id,
                    ),
                },
            )
            .await?;
    }
    Ok(DeployOutcome {
        application: application.to_string(),
        environment: env.name.clone(),
        version: manifest.label.clone(),
        deployment_id: *deployment_id,
        policy: plan.policy,
        batch_size: plan.batch_size,
        outcome: Completion::of(succeeded),
        batches,
        not_deployed,
        rollback,
        aborted: aborted.map(|a| format!("{} on {}", a.principal, a.host)),
        elapsed_seconds: started.elapsed().as_secs_f64(),
        interrupted: stopped == Some(Stop::Interrupted),
        lost_lock: stopped == Some(Stop::LostLock),
    })
}

/// The instances of a failed deployment that took its version (to roll back).
pub(crate) fn took_new(batches: &[BatchOutcome], label: &str, extra: &[String]) -> Vec<String> {
    serving(batches, label, extra)
}
