//! `deploy`: put an application version on an environment's instances. The version is the
//! source folder bundled and stored (reusing the stored version with the same sha256), or an
//! existing label; the environment's settings are resolved against the version's
//! `.ebextensions`; the deployment's document is written to the versions bucket; the pure
//! planner (`crate::deploy::plan`) decides the batches; per batch the instances leave the
//! target group (rolling: waiting until the load balancer no longer lists them), get the
//! version through Run Command (the engine's report in the bucket is the outcome, never Run
//! Command's status), rejoin, and must be healthy before the next batch starts. A failed batch
//! stops the deploy; completed batches keep the new version (EB's semantics). Only a deploy
//! that reached every instance moves the environment's pointer (what a new instance boots).

use super::bundle::{bundle, BundleError, BundleRequest};
use super::versions::{VersionError, VersionStore};
use super::{now_unix, OpError, Session};
use crate::aws::{autoscaling, elbv2, s3, ssm, Aws, AwsError};
use crate::deploy::{plan, DeployPlan};
use crate::graph::ResourceGraph;
use crate::interrupt::Interrupt;
use crate::model::Environment;
use crate::platform::command::deploy_script;
use crate::platform::document::{document, HealthCheck, Target, VersionRef};
use crate::platform::report::Report;
use crate::platform::settings::{resolve, SettingProblem};
use crate::platform::store::{
    abort_key, boot_report_key, bundle_key, deploying_key, deployment_document_key,
    deployment_reports_prefix, environment_pointer_key, AbortRequest, EnvironmentPointer,
    VersionManifest,
};
use crate::spec::Compilation;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// After an instance to retire left the target group: time for requests already routed to it.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How often the deploy looks at reports and target health.
pub(crate) const POLL: Duration = Duration::from_millis(500);

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
    pub policy: Option<crate::model::DeploymentPolicy>,
    /// A configuration deployment (apply, after a change of settings): the version deployed
    /// again in place with the spec's settings, running `.platform/confighooks`; never on new
    /// instances (a policy that launches some rolls in place instead).
    pub configuration: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the version's .ebextensions set options Beanpole cannot use:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Settings(Vec<SettingProblem>),
    #[error("{0}")]
    Refused(String),
}

/// What a deploy reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployEvent {
    /// The version to deploy: stored now, or the stored one with the same content.
    Version {
        label: String,
        sha256: String,
        reused: bool,
    },
    Planned {
        deployment_id: u64,
        plan: DeployPlan,
    },
    BatchStarted {
        number: usize,
        of: usize,
        instances: Vec<String>,
    },
    /// The batch left the target group (the load balancer lists none of them any more).
    Deregistered {
        instances: Vec<String>,
    },
    /// An instance's engine is at this step.
    Step {
        instance: String,
        step: String,
        elapsed: Duration,
    },
    InstanceDone(InstanceOutcome),
    /// The batch's instances are back in the target group and healthy.
    Registered {
        instances: Vec<String>,
    },
    /// `beanpole abort` asked this deploy to stop: it stops here and rolls back.
    Aborting(AbortRequest),
    /// `rolling-with-additional-batch`: launching this many instances first.
    Launching {
        count: usize,
    },
    /// They booted (out of the target group): they take the new version as the first batch.
    Launched {
        instances: Vec<String>,
    },
    /// Leaving the group at the end (the group returns to its size).
    Retiring {
        instances: Vec<String>,
    },
    /// The deploy failed: the last good version goes back on these instances.
    RollingBack {
        to: String,
        deployment_id: u64,
        instances: Vec<String>,
    },
    /// In-service instances that were out of the target group (left there by a deploy that
    /// was killed) were put back before anything else.
    Restored {
        instances: Vec<String>,
    },
    /// `immutable`, `traffic-splitting`: the deployment's temporary group (and target group)
    /// was created; it launches this many instances, one first.
    TemporaryGroup {
        group: String,
        target_group: Option<String>,
        instances: usize,
    },
    /// `traffic-splitting`: the new instances take this share of the requests now (for the
    /// evaluation time, when given).
    TrafficShifted {
        percent: u32,
        evaluation_secs: Option<u32>,
    },
    /// The new instances joined the environment's group.
    MovedIntoGroup {
        instances: Vec<String>,
        group: String,
    },
    /// A deployment's temporary resources were deleted (with these instances).
    TemporaryRemoved {
        group: String,
        target_group: Option<String>,
        instances: Vec<String>,
    },
}

/// How the deployment went on one instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceOutcome {
    pub instance: String,
    /// `succeeded`, `failed` or `timed-out` (no report within the deployment's timeout).
    pub outcome: String,
    pub failed_step: Option<String>,
    pub message: String,
    pub log_tail: String,
    /// The version the instance serves now: the new one, the previous one (a failure before
    /// the flip, or one after it that was rolled back), or none known.
    pub serving: Option<String>,
    pub engine_seconds: Option<f64>,
    pub steps: Vec<crate::platform::report::Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchOutcome {
    pub number: usize,
    pub instances: Vec<InstanceOutcome>,
}

/// The automatic rollback of a failed deploy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackOutcome {
    /// The version put back.
    pub version: String,
    /// `redeployed` (the instances that took the failed version got the good one again) or
    /// `new-instances-removed` (immutable, traffic splitting: the temporary group went with
    /// its instances; the old ones never stopped serving the good one).
    pub method: String,
    pub deployment_id: u64,
    /// `succeeded` or `failed`.
    pub outcome: String,
    pub batches: Vec<BatchOutcome>,
}

/// The outcome of a deploy (`deploy --json` prints it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployOutcome {
    pub application: String,
    pub environment: String,
    pub version: String,
    pub deployment_id: u64,
    pub policy: String,
    pub batch_size: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
    pub batches: Vec<BatchOutcome>,
    /// Instances no batch reached (a failed batch stopped the deploy first).
    pub not_deployed: Vec<String>,
    /// After a failure: the last good version deployed again on the instances that took the
    /// failed one (`rollback = false` in the spec's `deployment` block turns it off).
    pub rollback: Option<RollbackOutcome>,
    /// Who aborted it (`beanpole abort`), if someone did: `PRINCIPAL on HOST`.
    pub aborted: Option<String>,
    pub elapsed_seconds: f64,
    /// Interrupted (Ctrl-C) between batches.
    pub interrupted: bool,
}

impl RollbackOutcome {
    /// The rollback of `immutable` and `traffic-splitting`: the temporary group went with its
    /// instances; the environment's own kept serving `version`.
    pub(crate) fn new_instances_removed(version: &str, deployment_id: u64) -> RollbackOutcome {
        RollbackOutcome {
            version: version.to_string(),
            method: "new-instances-removed".into(),
            deployment_id,
            outcome: "succeeded".into(),
            batches: Vec::new(),
        }
    }
}

impl DeployOutcome {
    pub fn succeeded(&self) -> bool {
        self.outcome == "succeeded"
    }

    pub fn failed_instances(&self) -> impl Iterator<Item = &InstanceOutcome> {
        self.batches
            .iter()
            .flat_map(|b| b.instances.iter())
            .filter(|i| i.outcome != "succeeded")
    }
}

/// Deploys a version to an environment.
pub fn deploy(
    compilation: &Compilation,
    graph: &ResourceGraph,
    session: &Session,
    request: &DeployRequest,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<DeployOutcome, DeployError> {
    let started = Instant::now();
    let env = environment(compilation, &request.environment)?;
    let application = env.application.clone();
    let store = VersionStore::open(session, &application)?;
    let aws = session.client(&application)?;

    // The group and target group, proven Beanpole's before anything is written.
    let (fleet, target_group) = locate(compilation, graph, session, env)?;

    let source_folder = compilation
        .spec
        .application(&application)
        .map(|a| a.source.clone())
        .unwrap_or_default();
    // An instance a killed deploy left out of the target group goes back first (it serves
    // what its engine last deployed or put back).
    restore_missing(session, aws, &target_group, &fleet.in_service, on_event)?;
    let manifest = version(&store, env, &source_folder, request, on_event)?;
    // What the environment ran before: what a failed instance still serves.
    let previous = store
        .running()?
        .into_iter()
        .find(|p| p.environment == env.name)
        .map(|p| p.label)
        .unwrap_or_else(|| crate::platform::boot::SAMPLE_LABEL.to_string());
    let (mut settings, _unsupported) =
        resolve(Some(env), &manifest.ebextensions).map_err(DeployError::Settings)?;
    if let Some(policy) = request.policy {
        settings.policy = policy;
    }
    if request.configuration {
        settings.policy = match settings.policy {
            crate::model::DeploymentPolicy::AllAtOnce => crate::model::DeploymentPolicy::AllAtOnce,
            _ => crate::model::DeploymentPolicy::Rolling,
        };
    }
    let plan = plan(&fleet.in_service, settings.policy, settings.batch_size)
        .map_err(|p| DeployError::Refused(format!("environment {}: {p}", env.name)))?
        .with_traffic_split(settings.new_version_percent, settings.evaluation_time);

    // The engine this Beanpole ships (an upgrade since the last apply has a new one).
    session
        .runtime
        .block_on(s3::put_engine(&aws.s3, &store.bucket))?;
    let mut deployment_id = next_deployment_id(session, aws, &store.bucket, &application, env)?;
    loop {
        let mut doc = document(
            Target {
                application: application.clone(),
                environment: env.name.clone(),
                deployment_id,
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
                    bundle_key(&application, &manifest.label)
                ),
            },
            &settings,
            &manifest.ebextensions,
        );
        doc.configuration = request.configuration;
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| DeployError::Refused(format!("cannot write the document: {e}")))?;
        let key = deployment_document_key(&application, &env.name, deployment_id);
        match session.runtime.block_on(s3::put_new(
            &aws.s3,
            &store.bucket,
            &key,
            bytes,
            "application/json",
        ))? {
            s3::Written::Created => break,
            // Another deploy took this id a moment ago: take the next.
            s3::Written::AlreadyThere => deployment_id += 1,
        }
    }
    on_event(DeployEvent::Planned {
        deployment_id,
        plan: plan.clone(),
    });
    // What `status` shows while this runs: the batch under way and how far it got.
    let deploying = deploying_key(&application, &env.name);
    let mut progress = crate::status::DeploymentInProgress {
        deployment_id,
        version: manifest.label.clone(),
        policy: plan.policy.name().to_string(),
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
        ..Default::default()
    };
    let record = |progress: &crate::status::DeploymentInProgress| {
        if let Ok(bytes) = serde_json::to_vec_pretty(progress) {
            // Best effort: a display, never a reason to stop a deploy.
            let _ = session.runtime.block_on(s3::put(
                &aws.s3,
                &store.bucket,
                &deploying,
                bytes,
                "application/json",
            ));
        }
    };
    record(&progress);
    let outer = on_event;
    let mut tracked = |event: DeployEvent| {
        let changed = match &event {
            DeployEvent::BatchStarted { number, of, .. } => {
                progress.batch = *number;
                progress.batches = *of;
                true
            }
            DeployEvent::InstanceDone(o) => {
                progress.instances_done += usize::from(o.outcome == "succeeded");
                true
            }
            DeployEvent::TrafficShifted { percent, .. } => {
                progress.traffic_percent = Some(*percent);
                true
            }
            DeployEvent::RollingBack { instances, .. } => {
                progress.rolling_back = true;
                progress.instances_done = 0;
                progress.instances = instances.len();
                true
            }
            _ => false,
        };
        if changed {
            record(&progress);
        }
        outer(event);
    };
    let on_event: &mut dyn FnMut(DeployEvent) = &mut tracked;

    let timeout = Duration::from_secs(u64::from(settings.timeout));
    // An abort request older than this deploy is stale.
    let abort_key = abort_key(&application, &env.name);
    session
        .runtime
        .block_on(s3::delete(&aws.s3, &store.bucket, &abort_key))?;
    let check_abort = || {
        session
            .runtime
            .block_on(s3::get(&aws.s3, &store.bucket, &abort_key))
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<AbortRequest>(&b).ok())
    };
    let rollout = Rollout {
        abort: &check_abort,
        session,
        aws,
        bucket: &store.bucket,
        application: &application,
        env,
        target_group: &target_group,
        timeout,
        health_threshold: settings.health_threshold,
    };
    // What a killed immutable or traffic-splitting deployment left goes first.
    super::replace::clean_up(&rollout, on_event)?;
    if plan.replace > 0 {
        let done = super::replace::replace(
            &rollout,
            &fleet,
            &plan,
            deployment_id,
            &manifest.label,
            &previous,
            interrupt,
            on_event,
        )?;
        let rollback = done
            .failed
            .then(|| RollbackOutcome::new_instances_removed(&previous, deployment_id));
        let finished = Finished {
            batches: done.batches,
            failed: done.failed,
            interrupted: done.interrupted,
            aborted: done.aborted,
            rollback,
            not_deployed: if done.failed || done.interrupted {
                plan.retire.clone()
            } else {
                Vec::new()
            },
        };
        return finish(
            &rollout,
            &plan,
            &manifest,
            deployment_id,
            &abort_key,
            finished,
            started,
        );
    }
    // rolling-with-additional-batch: the extra batch is launched first and takes the new
    // version as the first batch.
    let mut launched: Vec<String> = Vec::new();
    let run_plan = if plan.extra > 0 {
        match rollout.launch_extra(
            &fleet,
            plan.extra,
            &fleet.in_service,
            &mut launched,
            on_event,
        ) {
            Ok(()) => plan.with_extra_batch(&launched),
            Err(e) => {
                rollout.retire(&fleet, &launched, on_event)?;
                return Err(e);
            }
        }
    } else {
        plan.clone()
    };
    let forward = rollout.run(&run_plan, deployment_id, &previous, interrupt, on_event)?;
    let (batches, failed, interrupted, reached, aborted) = (
        forward.batches,
        forward.failed,
        forward.interrupted,
        forward.reached,
        forward.aborted,
    );
    // Automatic rollback: the instances that took the new version get the last version that
    // deployed successfully on the environment (the sample application before any).
    let mut rollback = None;
    // An abort always rolls back: that is what it asks for.
    if failed && (aborted.is_some() || env.deployment.rollback.unwrap_or(true)) {
        let took_new: Vec<String> = batches
            .iter()
            .flat_map(|b| b.instances.iter())
            .filter(|o| o.serving.as_deref() == Some(manifest.label.as_str()))
            // The extra batch goes at the end anyway.
            .filter(|o| !launched.contains(&o.instance))
            .map(|o| o.instance.clone())
            .collect();
        if !took_new.is_empty() {
            rollback = Some(rollout.roll_back(
                &took_new,
                &settings,
                &manifest.label,
                interrupt,
                on_event,
            )?);
        }
    }
    // The group ends at its size: on success the instances the plan retires go, else the
    // extra batch does.
    if plan.extra > 0 {
        let going = if !failed && !interrupted {
            plan.retire.clone()
        } else {
            launched.clone()
        };
        rollout.retire(&fleet, &going, on_event)?;
    }
    let mut not_deployed: Vec<String> = run_plan
        .batches
        .iter()
        .flat_map(|b| b.instances.iter())
        .filter(|i| !reached.contains(*i))
        .cloned()
        .collect();
    if failed || interrupted {
        not_deployed.extend(plan.retire.iter().cloned());
    }
    let finished = Finished {
        batches,
        failed,
        interrupted,
        aborted,
        rollback,
        not_deployed,
    };
    finish(
        &rollout,
        &plan,
        &manifest,
        deployment_id,
        &abort_key,
        finished,
        started,
    )
}

/// How a deployment's batches (and its rollback) went.
struct Finished {
    batches: Vec<BatchOutcome>,
    failed: bool,
    interrupted: bool,
    aborted: Option<AbortRequest>,
    rollback: Option<RollbackOutcome>,
    not_deployed: Vec<String>,
}

/// The end of every deployment: an answered abort request goes, a success moves the
/// environment's pointer; the outcome.
fn finish(
    rollout: &Rollout<'_>,
    plan: &DeployPlan,
    manifest: &VersionManifest,
    deployment_id: u64,
    abort_key: &str,
    finished: Finished,
    started: Instant,
) -> Result<DeployOutcome, DeployError> {
    let (session, aws, env) = (rollout.session, rollout.aws, rollout.env);
    let application = rollout.application.to_string();
    let Finished {
        batches,
        failed,
        interrupted,
        aborted,
        rollback,
        not_deployed,
    } = finished;
    let _ = session.runtime.block_on(s3::delete(
        &aws.s3,
        rollout.bucket,
        &deploying_key(&application, &env.name),
    ));
    if aborted.is_some() {
        // Handled: the request is answered by this deploy's event.
        session
            .runtime
            .block_on(s3::delete(&aws.s3, rollout.bucket, abort_key))?;
    }
    let succeeded = !failed && !interrupted;
    if succeeded {
        let pointer = EnvironmentPointer {
            environment: env.name.clone(),
            label: manifest.label.clone(),
            deployment_id,
            document: deployment_document_key(&application, &env.name, deployment_id),
        };
        let bytes = serde_json::to_vec_pretty(&pointer)
            .map_err(|e| DeployError::Refused(format!("cannot write the pointer: {e}")))?;
        session.runtime.block_on(s3::put(
            &aws.s3,
            rollout.bucket,
            &environment_pointer_key(&application, &env.name),
            bytes,
            "application/json",
        ))?;
    }
    Ok(DeployOutcome {
        application,
        environment: env.name.clone(),
        version: manifest.label.clone(),
        deployment_id,
        policy: plan.policy.name().to_string(),
        batch_size: plan.batch_size.to_string(),
        outcome: if succeeded { "succeeded" } else { "failed" }.to_string(),
        batches,
        not_deployed,
        rollback,
        aborted: aborted.map(|a| format!("{} on {}", a.principal, a.host)),
        elapsed_seconds: started.elapsed().as_secs_f64(),
        interrupted,
    })
}

/// What a deployment works with, for its batches and for its rollback.
pub(crate) struct Rollout<'a> {
    /// A request to abort, looked for at each batch and after each batch's health gate.
    pub(crate) abort: &'a dyn Fn() -> Option<AbortRequest>,
    pub(crate) session: &'a Session,
    pub(crate) aws: &'a Aws,
    pub(crate) bucket: &'a str,
    pub(crate) application: &'a str,
    pub(crate) env: &'a Environment,
    pub(crate) target_group: &'a str,
    pub(crate) timeout: Duration,
    /// The health an instance must reach (a lower one also lets the batch pass on a target
    /// group that does not report the instance healthy: the engine rated it).
    pub(crate) health_threshold: crate::model::HealthThreshold,
}

impl Rollout<'_> {
    /// Whether a target's state in the target group lets its batch go on.
    pub(crate) fn target_passes(&self, state: Option<&str>) -> bool {
        match state {
            Some("healthy") => true,
            None | Some("draining") | Some("unused") => false,
            Some(_) => self.health_threshold != crate::model::HealthThreshold::Ok,
        }
    }
}

/// How the batches of one deployment went.
struct RolledOut {
    batches: Vec<BatchOutcome>,
    failed: bool,
    aborted: Option<AbortRequest>,
    interrupted: bool,
    reached: BTreeSet<String>,
}

impl Rollout<'_> {
    /// Carries out `plan`'s batches for deployment `id`; stops at the first failed batch.
    fn run(
        &self,
        plan: &DeployPlan,
        id: u64,
        previous: &str,
        interrupt: &Interrupt,
        on_event: &mut dyn FnMut(DeployEvent),
    ) -> Result<RolledOut, DeployError> {
        let (session, aws, timeout) = (self.session, self.aws, self.timeout);
        let mut out = RolledOut {
            batches: Vec::new(),
            failed: false,
            aborted: None,
            interrupted: false,
            reached: BTreeSet::new(),
        };
        for batch in &plan.batches {
            if interrupt.is_raised() {
                out.interrupted = true;
                break;
            }
            if let Some(request) = (self.abort)() {
                on_event(DeployEvent::Aborting(request.clone()));
                out.aborted = Some(request);
                out.failed = true;
                break;
            }
            on_event(DeployEvent::BatchStarted {
                number: batch.number,
                of: plan.batches.len(),
                instances: batch.instances.clone(),
            });
            out.reached.extend(batch.instances.iter().cloned());
            if plan.leaves_target_group {
                // (An extra batch is not listed yet.)
                deregister_listed(session, aws, self.target_group, &batch.instances)?;
                wait_targets(
                    session,
                    aws,
                    self.target_group,
                    &batch.instances,
                    timeout,
                    drained,
                )
                .map_err(|still| {
                    DeployError::Refused(format!(
                        "instances {} were still draining from the target group after {} s",
                        still.join(", "),
                        timeout.as_secs()
                    ))
                })?;
                on_event(DeployEvent::Deregistered {
                    instances: batch.instances.clone(),
                });
            }
            let outcomes = run_batch(
                session,
                aws,
                self.bucket,
                self.application,
                self.env,
                id,
                &plan.leader,
                previous,
                &batch.instances,
                timeout,
                on_event,
            )?;
            // Every instance that serves something goes back behind the load balancer: a
            // failed one still serves the previous version.
            let serving: Vec<String> = outcomes
                .iter()
                .filter(|o| o.serving.is_some())
                .map(|o| o.instance.clone())
                .collect();
            if plan.leaves_target_group && !serving.is_empty() {
                session.runtime.block_on(elbv2::register(
                    &aws.elbv2,
                    self.target_group,
                    &serving,
                ))?;
            }
            if !serving.is_empty() {
                wait_targets(session, aws, self.target_group, &serving, timeout, |t| {
                    self.target_passes(t)
                })
                .map_err(|still| {
                    DeployError::Refused(format!(
                        "instances {} did not become healthy in the target group within {} s",
                        still.join(", "),
                        timeout.as_secs()
                    ))
                })?;
                on_event(DeployEvent::Registered { instances: serving });
            }
            let batch_failed = outcomes.iter().any(|o| o.outcome != "succeeded");
            out.batches.push(BatchOutcome {
                number: batch.number,
                instances: outcomes,
            });
            if batch_failed {
                out.failed = true;
                break;
            }
            // The gate after a batch: an abort asked for meanwhile stops here.
            if let Some(request) = (self.abort)() {
                on_event(DeployEvent::Aborting(request.clone()));
                out.aborted = Some(request);
                out.failed = true;
                break;
            }
        }
        Ok(out)
    }

    /// Raises the group by `extra` instances and waits until they booted (their boot report),
    /// keeping them out of the target group until then; their ids. On failure, the ids
    /// launched so far (to retire) with the error.
    pub(crate) fn launch_extra(
        &self,
        fleet: &autoscaling::FleetView,
        extra: usize,
        known: &[String],
        launched: &mut Vec<String>,
        on_event: &mut dyn FnMut(DeployEvent),
    ) -> Result<(), DeployError> {
        let (session, aws) = (self.session, self.aws);
        let desired = fleet.desired + i32::try_from(extra).unwrap_or(i32::MAX);
        session.runtime.block_on(autoscaling::set_capacity(
            &aws.autoscaling,
            &fleet.name,
            desired,
            fleet.max.max(desired),
        ))?;
        on_event(DeployEvent::Launching { count: extra });
        let deadline = Instant::now() + self.timeout;
        let mut new: Vec<String>;
        loop {
            let now = session.runtime.block_on(autoscaling::fleet_view(
                &aws.autoscaling,
                &fleet.name,
                self.application,
                &self.env.name,
            ))?;
            new = now
                .map(|v| v.in_service)
                .unwrap_or_default()
                .into_iter()
                .filter(|i| !known.contains(i))
                .collect();
            new.sort();
            if new.len() >= extra {
                new.truncate(extra);
                launched.clone_from(&new);
                break;
            }
            if Instant::now() >= deadline {
                launched.clone_from(&new);
                return Err(DeployError::Refused(format!(
                    "the extra batch was not in service within {} s",
                    self.timeout.as_secs()
                )));
            }
            std::thread::sleep(POLL);
        }
        // Out of the target group until they booted: the load balancer must not send them
        // requests before they serve.
        deregister_listed(session, aws, self.target_group, &new)?;
        for instance in &new {
            let key = boot_report_key(self.application, &self.env.name, instance);
            loop {
                let report = session
                    .runtime
                    .block_on(s3::get(&aws.s3, self.bucket, &key))?
                    .and_then(|b| serde_json::from_slice::<Report>(&b).ok());
                match report {
                    Some(r) if r.succeeded() => break,
                    Some(r) => {
                        return Err(DeployError::Refused(format!(
                            "the extra instance {instance} failed to boot at {}: {}\n{}",
                            r.failed_step.unwrap_or_default(),
                            r.message,
                            r.output_tail
                        )))
                    }
                    None if Instant::now() >= deadline => {
                        return Err(DeployError::Refused(format!(
                            "the extra instance {instance} did not boot within {} s",
                            self.timeout.as_secs()
                        )))
                    }
                    None => std::thread::sleep(POLL),
                }
            }
        }
        on_event(DeployEvent::Launched { instances: new });
        Ok(())
    }

    /// Takes instances out of the target group (waiting out their connections), out of the
    /// group (which shrinks by as many) and terminates them; then puts the group's size and
    /// maximum back as they were.
    pub(crate) fn retire(
        &self,
        fleet: &autoscaling::FleetView,
        instances: &[String],
        on_event: &mut dyn FnMut(DeployEvent),
    ) -> Result<(), DeployError> {
        let (session, aws) = (self.session, self.aws);
        if !instances.is_empty() {
            on_event(DeployEvent::Retiring {
                instances: instances.to_vec(),
            });
            let registered = deregister_listed(session, aws, self.target_group, instances)?;
            if !registered.is_empty() {
                let _ = wait_targets(
                    session,
                    aws,
                    self.target_group,
                    &registered,
                    self.timeout,
                    drained,
                );
                // Requests the load balancer routed just before finish before the instance
                // goes (where the target group reports no draining, as moto).
                std::thread::sleep(DRAIN_GRACE);
            }
            session.runtime.block_on(autoscaling::detach(
                &aws.autoscaling,
                &fleet.name,
                instances,
            ))?;
            session
                .runtime
                .block_on(crate::aws::ec2::terminate_instances(&aws.ec2, instances))?;
        }
        session.runtime.block_on(autoscaling::set_capacity(
            &aws.autoscaling,
            &fleet.name,
            fleet.desired,
            fleet.max,
        ))?;
        Ok(())
    }

    /// Deploys the environment's last good version again on `instances` (those that took the
    /// failed one), as a deployment of its own, batch by batch as the environment's policy
    /// says; the pointer is not moved (it still names that version).
    pub(crate) fn roll_back(
        &self,
        instances: &[String],
        settings: &crate::platform::settings::RuntimeSettings,
        failed_label: &str,
        interrupt: &Interrupt,
        on_event: &mut dyn FnMut(DeployEvent),
    ) -> Result<RollbackOutcome, DeployError> {
        let (session, aws) = (self.session, self.aws);
        let pointer_key = environment_pointer_key(self.application, &self.env.name);
        let pointer: Option<EnvironmentPointer> = session
            .runtime
            .block_on(s3::get(&aws.s3, self.bucket, &pointer_key))?
            .and_then(|b| serde_json::from_slice(&b).ok());
        // The last good deployment's document, or the sample application's.
        let mut doc: serde_json::Value = match &pointer {
            Some(p) => session
                .runtime
                .block_on(s3::get(&aws.s3, self.bucket, &p.document))?
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| {
                    DeployError::Refused(format!(
                        "cannot roll back: the document {} of {} is missing",
                        p.document, p.label
                    ))
                })?,
            None => serde_json::to_value(crate::platform::boot::sample_document(
                self.application,
                self.env,
            ))
            .unwrap_or_default(),
        };
        let label = doc["version"]["label"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut id = next_deployment_id(session, aws, self.bucket, self.application, self.env)?;
        loop {
            doc["deployment_id"] = id.into();
            let bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            let key = deployment_document_key(self.application, &self.env.name, id);
            match session.runtime.block_on(s3::put_new(
                &aws.s3,
                self.bucket,
                &key,
                bytes,
                "application/json",
            ))? {
                s3::Written::Created => break,
                s3::Written::AlreadyThere => id += 1,
            }
        }
        // A rollback launches nothing: an extra batch's rolling is plain rolling here.
        // (Nor does it replace instances: the policies that do roll back by removing them.)
        let policy = match settings.policy {
            crate::model::DeploymentPolicy::RollingWithAdditionalBatch
            | crate::model::DeploymentPolicy::Immutable
            | crate::model::DeploymentPolicy::TrafficSplitting => {
                crate::model::DeploymentPolicy::Rolling
            }
            other => other,
        };
        let plan = plan(instances, policy, settings.batch_size)
            .map_err(|p| DeployError::Refused(p.to_string()))?;
        on_event(DeployEvent::RollingBack {
            to: label.clone(),
            deployment_id: id,
            instances: instances.to_vec(),
        });
        // Neither an interrupt nor an abort stops a rollback: it is what puts the environment
        // right.
        let never = Interrupt::new();
        let _ = interrupt;
        let no_abort = || None;
        let quiet = Rollout {
            abort: &no_abort,
            ..*self
        };
        let done = quiet.run(&plan, id, failed_label, &never, on_event)?;
        Ok(RollbackOutcome {
            version: label,
            method: "redeployed".into(),
            deployment_id: id,
            outcome: if done.failed { "failed" } else { "succeeded" }.into(),
            batches: done.batches,
        })
    }
}

/// The environment's Auto Scaling group (proven Beanpole's) and its target group's ARN.
pub(crate) fn locate(
    compilation: &Compilation,
    graph: &ResourceGraph,
    session: &Session,
    env: &Environment,
) -> Result<(autoscaling::FleetView, String), DeployError> {
    let application = env.application.clone();
    let aws = session.client(&application)?;
    let lookup = super::status::lookups(compilation, graph, std::slice::from_ref(&env.name))?
        .pop()
        .ok_or_else(|| DeployError::Refused(format!("no environment {}", env.name)))?;
    let fleet = session
        .runtime
        .block_on(autoscaling::fleet_view(
            &aws.autoscaling,
            &lookup.auto_scaling_group,
            &application,
            &env.name,
        ))?
        .ok_or_else(|| {
            DeployError::Refused(format!(
                "environment {} has no Auto Scaling group {} yet: run `beanpole apply` first",
                env.name, lookup.auto_scaling_group
            ))
        })?;
    if !fleet.owned {
        return Err(DeployError::Refused(format!(
            "the Auto Scaling group {} does not carry Beanpole's tags for {}/{}: Beanpole deploys only to groups it created",
            fleet.name, application, env.name
        )));
    }
    if let Some(odd) = fleet
        .in_service
        .iter()
        .find(|i| !crate::platform::command::is_instance_id(i))
    {
        return Err(DeployError::Refused(format!(
            "the group {} lists `{odd}`, which is not an EC2 instance id",
            fleet.name
        )));
    }
    let target_group = session
        .runtime
        .block_on(elbv2::target_group_arn(&aws.elbv2, &lookup.target_group))?
        .ok_or_else(|| {
            DeployError::Refused(format!(
                "environment {} has no target group {}: run `beanpole apply` first",
                env.name, lookup.target_group
            ))
        })?;

    Ok((fleet, target_group))
}

/// How long the engine waits for the application to answer its health check: half the
/// batch's timeout (at most 5 minutes, at least 10 s), so that an application that never
/// turns healthy is reported as such, with its log, well before the batch times out.
pub fn health_timeout(batch_timeout: u32) -> u32 {
    (batch_timeout / 2).clamp(10, 300)
}

/// The environment named, or an error that lists the spec's.
pub(crate) fn environment<'c>(
    compilation: &'c Compilation,
    name: &str,
) -> Result<&'c Environment, OpError> {
    compilation.spec.environment(name).ok_or_else(|| {
        let known: Vec<&str> = compilation
            .spec
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        OpError::Refused(format!(
            "the spec has no environment `{name}` (it has: {})",
            known.join(", ")
        ))
    })
}

/// The version to deploy: an existing label, or the source folder stored as one.
fn version(
    store: &VersionStore<'_>,
    env: &Environment,
    source_folder: &std::path::Path,
    request: &DeployRequest,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<VersionManifest, DeployError> {
    if let Some(label) = &request.version {
        if request.source.is_some() || request.label.is_some() {
            return Err(DeployError::Refused(
                "`--version` deploys a stored version: it takes no `--source` or `--label`".into(),
            ));
        }
        let manifest = store.manifest(label)?;
        on_event(DeployEvent::Version {
            label: manifest.label.clone(),
            sha256: manifest.sha256.clone(),
            reused: true,
        });
        return Ok(manifest);
    }
    let source = match &request.source {
        Some(s) => s.clone(),
        None => source_folder.to_path_buf(),
    };
    let built = bundle(&BundleRequest {
        source,
        wsgi_path: env.wsgi.path.clone(),
        out: None,
    })?;
    let created = store.create(
        &built.bundle,
        request.label.clone(),
        request.message.clone(),
        now_unix(),
    )?;
    on_event(DeployEvent::Version {
        label: created.manifest.label.clone(),
        sha256: created.manifest.sha256.clone(),
        reused: created.reused,
    });
    Ok(created.manifest)
}

/// One more than the highest deployment id the environment has had.
fn next_deployment_id(
    session: &Session,
    aws: &Aws,
    bucket: &str,
    application: &str,
    env: &Environment,
) -> Result<u64, AwsError> {
    let prefix = deployment_document_key(application, &env.name, 0);
    let prefix = prefix.trim_end_matches("0.json");
    let keys = session
        .runtime
        .block_on(s3::list(&aws.s3, bucket, prefix))?;
    Ok(keys
        .iter()
        .filter_map(|k| {
            k.strip_prefix(prefix)?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(0)
        + 1)
}

/// The instances the target group lists now.
fn listed_targets(
    session: &Session,
    aws: &Aws,
    target_group: &str,
) -> Result<BTreeSet<String>, DeployError> {
    Ok(session
        .runtime
        .block_on(elbv2::target_health(&aws.elbv2, target_group))?
        .into_iter()
        .map(|t| t.id)
        .collect())
}

/// Takes those of `instances` the target group lists out of it; which ones.
pub(crate) fn deregister_listed(
    session: &Session,
    aws: &Aws,
    target_group: &str,
    instances: &[String],
) -> Result<Vec<String>, DeployError> {
    let listed = listed_targets(session, aws, target_group)?;
    let registered: Vec<String> = instances
        .iter()
        .filter(|i| listed.contains(*i))
        .cloned()
        .collect();
    if !registered.is_empty() {
        session
            .runtime
            .block_on(elbv2::deregister(&aws.elbv2, target_group, &registered))?;
    }
    Ok(registered)
}

/// Puts back into the target group the in-service instances it does not list (a deploy
/// killed mid-batch left them out; they serve what their engine last deployed or put back).
pub(crate) fn restore_missing(
    session: &Session,
    aws: &Aws,
    target_group: &str,
    in_service: &[String],
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<(), DeployError> {
    let listed = listed_targets(session, aws, target_group)?;
    let missing: Vec<String> = in_service
        .iter()
        .filter(|i| !listed.contains(*i))
        .cloned()
        .collect();
    if !missing.is_empty() {
        session
            .runtime
            .block_on(elbv2::register(&aws.elbv2, target_group, &missing))?;
        on_event(DeployEvent::Restored { instances: missing });
    }
    Ok(())
}

/// Whether a target left the target group: not listed, or `unused` (drained).
pub(crate) fn drained(state: Option<&str>) -> bool {
    matches!(state, None | Some("unused"))
}

/// Waits until `done` holds for each instance's state in the target group (`None`: not
/// listed); on timeout, the instances for which it does not.
pub(crate) fn wait_targets(
    session: &Session,
    aws: &Aws,
    target_group: &str,
    instances: &[String],
    timeout: Duration,
    done: impl Fn(Option<&str>) -> bool,
) -> Result<(), Vec<String>> {
    let deadline = Instant::now() + timeout;
    loop {
        let states: BTreeMap<String, String> = session
            .runtime
            .block_on(elbv2::target_health(&aws.elbv2, target_group))
            .map(|targets| targets.into_iter().map(|t| (t.id, t.state)).collect())
            .unwrap_or_default();
        let pending: Vec<String> = instances
            .iter()
            .filter(|i| !done(states.get(*i).map(String::as_str)))
            .cloned()
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(pending);
        }
        std::thread::sleep(POLL);
    }
}

/// Sends the deployment to a batch and waits for each instance's report.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_batch(
    session: &Session,
    aws: &Aws,
    bucket: &str,
    application: &str,
    env: &Environment,
    deployment_id: u64,
    leader: &str,
    previous: &str,
    instances: &[String],
    timeout: Duration,
    on_event: &mut dyn FnMut(DeployEvent),
) -> Result<Vec<InstanceOutcome>, DeployError> {
    let comment = format!(
        "beanpole deploy {application}/{} #{deployment_id}",
        env.name
    );
    let followers: Vec<String> = instances
        .iter()
        .filter(|i| i.as_str() != leader)
        .cloned()
        .collect();
    let timeout_secs = u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX);
    if instances.iter().any(|i| i == leader) {
        let script = deploy_script(
            &[leader.to_string()],
            bucket,
            application,
            &env.name,
            deployment_id,
            true,
        );
        session.runtime.block_on(ssm::send_shell_script(
            &aws.ssm,
            &[leader.to_string()],
            &script,
            &comment,
            timeout_secs,
        ))?;
    }
    if !followers.is_empty() {
        let script = deploy_script(
            &followers,
            bucket,
            application,
            &env.name,
            deployment_id,
            false,
        );
        session.runtime.block_on(ssm::send_shell_script(
            &aws.ssm,
            &followers,
            &script,
            &comment,
            timeout_secs,
        ))?;
    }
    let prefix = deployment_reports_prefix(application, &env.name, deployment_id);
    let started = Instant::now();
    let mut outcomes: BTreeMap<String, InstanceOutcome> = BTreeMap::new();
    let mut steps: BTreeMap<String, String> = BTreeMap::new();
    while outcomes.len() < instances.len() {
        for instance in instances {
            if outcomes.contains_key(instance) {
                continue;
            }
            let report = session.runtime.block_on(s3::get(
                &aws.s3,
                bucket,
                &format!("{prefix}{instance}.json"),
            ))?;
            if let Some(bytes) = report {
                let outcome = match serde_json::from_slice::<Report>(&bytes) {
                    Ok(report) => from_report(instance, &report, previous),
                    Err(e) => unreadable(instance, &e.to_string()),
                };
                on_event(DeployEvent::InstanceDone(outcome.clone()));
                outcomes.insert(instance.clone(), outcome);
                continue;
            }
            let progress = session.runtime.block_on(s3::get(
                &aws.s3,
                bucket,
                &format!("{prefix}{instance}.progress.json"),
            ))?;
            if let Some(step) = progress
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("step").and_then(|s| s.as_str()).map(str::to_string))
            {
                if steps.get(instance) != Some(&step) {
                    steps.insert(instance.clone(), step.clone());
                    on_event(DeployEvent::Step {
                        instance: instance.clone(),
                        step,
                        elapsed: started.elapsed(),
                    });
                }
            }
        }
        if outcomes.len() == instances.len() {
            break;
        }
        if started.elapsed() >= timeout {
            for instance in instances {
                if !outcomes.contains_key(instance) {
                    let outcome = InstanceOutcome {
                        instance: instance.clone(),
                        outcome: "timed-out".into(),
                        failed_step: steps.get(instance).cloned(),
                        message: format!(
                            "no report within the deployment's timeout ({} s){}",
                            timeout.as_secs(),
                            match steps.get(instance) {
                                Some(step) => format!("; it was at {step}"),
                                None => "; it never started: is the SSM agent running, and does the instance role allow Run Command?".into(),
                            }
                        ),
                        log_tail: String::new(),
                        serving: None,
                        engine_seconds: None,
                        steps: Vec::new(),
                    };
                    on_event(DeployEvent::InstanceDone(outcome.clone()));
                    outcomes.insert(instance.clone(), outcome);
                }
            }
            break;
        }
        std::thread::sleep(POLL);
    }
    Ok(instances
        .iter()
        .filter_map(|i| outcomes.remove(i))
        .collect())
}

pub(crate) fn from_report(instance: &str, report: &Report, previous: &str) -> InstanceOutcome {
    let serving = if report.succeeded() {
        Some(report.version.clone())
    } else if let Some(back) = &report.rolled_back_to {
        Some(back.clone())
    } else {
        let flipped = report
            .steps
            .iter()
            .any(|s| s.name == "FlipApplication" && s.outcome == "ok");
        // Before the flip nothing changed: the previous version still serves.
        (!flipped).then(|| previous.to_string())
    };
    InstanceOutcome {
        instance: instance.to_string(),
        outcome: if report.succeeded() {
            "succeeded"
        } else {
            "failed"
        }
        .into(),
        failed_step: report.failed_step.clone(),
        message: report.message.clone(),
        log_tail: report.output_tail.clone(),
        serving,
        engine_seconds: Some(report.engine_seconds),
        steps: report.steps.clone(),
    }
}

fn unreadable(instance: &str, why: &str) -> InstanceOutcome {
    InstanceOutcome {
        instance: instance.to_string(),
        outcome: "failed".into(),
        failed_step: None,
        message: format!("its report is not what the engine writes: {why}"),
        log_tail: String::new(),
        serving: None,
        engine_seconds: None,
        steps: Vec::new(),
    }
}
