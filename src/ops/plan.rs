//! `plan`: read the account for a graph, follow swaps, diff. Also the saved plan: what
//! `plan --out` writes, and the check `apply FILE` makes before applying exactly it.

use super::{OpError, Session};
use crate::aws::live::read_live_state;
use crate::aws::Aws;
use crate::graph::{ResourceGraph, ResourceKind};
use crate::platform::precedence::{non_default, EnvironmentValues, RunningVersion};
use crate::reconcile::planfile::{stale_reasons, SavedPlan, PLAN_FILE_VERSION};
use crate::reconcile::swaps::follow_swaps;
use crate::reconcile::{diff, CallStats, LiveState, Plan, PlanScope};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A plan and everything it was computed from.
pub struct Planned {
    pub graph: ResourceGraph,
    pub live: LiveState,
    pub plan: Plan,
    /// The calls the read made.
    pub calls: CallStats,
}

/// Reads the live state of every application (each region once, all at once) and diffs the
/// graph against it.
pub async fn plan(
    session: &Session,
    graph: ResourceGraph,
    spec: &crate::model::Spec,
    scope: &PlanScope,
) -> Result<Planned, OpError> {
    let environments = spec.environments.as_slice();
    // Environments CloudFormation carries out are one stack each here.
    let mut graph = crate::graph::engines::reconciled(graph, spec)
        .map_err(|e| OpError::Refused(e.to_string()))?;
    let meter = session.measure();
    session.bind_account(&mut graph).await?;
    let mut regions: BTreeMap<String, (Aws, Vec<String>)> = BTreeMap::new();
    for (application, aws) in &session.by_application {
        regions
            .entry(aws.region.clone())
            .or_insert_with(|| (aws.clone(), Vec::new()))
            .1
            .push(application.clone());
    }
    // The live state and the deployment records, read at the same time.
    let states = async {
        futures::future::try_join_all(
            regions
                .values()
                .map(|(aws, applications)| read_live_state(aws, &graph, applications)),
        )
        .await
        .map_err(OpError::Read)
    };
    let records = async {
        if scope.destroy {
            return Ok((Vec::new(), Vec::new()));
        }
        let in_scope = stores_in_scope(session, environments, scope).await?;
        futures::try_join!(
            unfinished_deployments(&in_scope),
            option_sources(&in_scope, environments, scope)
        )
    };
    let (states, (unfinished, settings)) = futures::try_join!(states, records)?;
    let mut live = LiveState::default();
    for s in states {
        live.resources.extend(s.resources);
        live.data.extend(s.data);
    }
    read_as_undone(&mut live, &unfinished);
    let calls = meter.finish();
    let swapped = follow_swaps(&mut graph, &live);
    let mut plan = diff(&graph, &live, scope);
    if !scope.destroy {
        plan.errors
            .extend(crate::reconcile::plan::engine_switches(&graph, &live));
    }
    change_sets(session, &graph, &mut plan, scope).await?;
    if !scope.destroy {
        plan.stack_drift = stack_drift(session, &plan).await;
    }
    plan.swapped = swapped;
    plan.settings = settings;
    plan.unfinished = unfinished.into_iter().map(|(u, _)| u).collect();
    plan.rollouts = rollouts(environments, &plan);
    if !scope.destroy {
        let unfinished = unfinished_rollouts(session, environments, scope, &plan).await?;
        plan.rollouts.extend(unfinished);
    }
    Ok(Planned {
        graph,
        live,
        plan,
        calls,
    })
}

/// A change set for each stack the plan creates or changes (CloudFormation's own account of
/// what the change does, resource by resource, shown under the stack's change), and a plan
/// error for one that would replace or delete a resource holding data without
/// `--delete-data`.
async fn change_sets(
    session: &Session,
    graph: &ResourceGraph,
    plan: &mut Plan,
    scope: &PlanScope,
) -> Result<(), OpError> {
    use crate::reconcile::plan::{resolve_attributes, tags_with_hash};
    use crate::reconcile::{Action, PlanError};
    let null = serde_json::Value::Null;
    for change in plan.changes.iter_mut() {
        if change.kind != ResourceKind::Stack
            || !matches!(change.action, Action::Create | Action::Update)
        {
            continue;
        }
        let (Some(aws), Some(resource)) = (
            session.by_application.get(&change.application),
            graph.get(&change.address),
        ) else {
            continue;
        };
        let live = plan.matched.get(&change.address);
        // A stack whose creation rolled back takes no change set: apply deletes it first.
        if live.is_some_and(|l| {
            l.outputs.get("status").and_then(|s| s.as_str()) == Some("ROLLBACK_COMPLETE")
        }) {
            continue;
        }
        let creates = live.is_none();
        let desired = resolve_attributes(resource, &plan.known_outputs);
        let tags = tags_with_hash(resource, &desired);
        let stack = crate::aws::cloudformation::Desired::of(&desired, &tags);
        let before = live
            .and_then(|l| l.attributes.get("template"))
            .unwrap_or(&null);
        if desired.values().any(crate::reconcile::contains_unknown) {
            // What it reads (another stack's output) is known only after apply: the change
            // set is made then.
            continue;
        }
        let set = crate::aws::cloudformation::change_set(
            aws,
            &resource.aws_name,
            &stack,
            creates,
            before,
        )
        .await
        .map_err(OpError::Read)?;
        let lost = set.lost();
        if !lost.is_empty() && !scope.delete_data {
            plan.errors.push(PlanError::DataLoss {
                address: change.address.clone(),
                resources: lost,
            });
        }
        change.change_set = Some(set);
    }
    Ok(())
}

/// CloudFormation's drift detection of every stack the plan keeps (one at rest: created or
/// updated, not in progress), all at once: those that drifted, and those whose drift is not
/// known with why (a failed detection is said, never read as "in sync").
async fn stack_drift(session: &Session, plan: &Plan) -> Vec<crate::reconcile::stacks::StackDrift> {
    use crate::reconcile::stacks::StackDrift;
    let at_rest = |live: &crate::reconcile::LiveResource| {
        live.outputs
            .get("status")
            .and_then(|s| s.as_str())
            .is_some_and(|s| {
                s.ends_with("_COMPLETE") && !s.contains("DELETE") && s != "ROLLBACK_COMPLETE"
            })
    };
    let checks = plan
        .matched
        .iter()
        .filter(|(_, live)| live.kind == ResourceKind::Stack && at_rest(live))
        .filter_map(|(address, live)| {
            let aws = session.by_application.get(live.application.as_ref()?)?;
            Some(async move {
                let found = crate::aws::cloudformation::drift(aws, &live.aws_name).await;
                let (resources, unknown) = match found {
                    Ok(resources) => (resources, None),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                StackDrift {
                    address: address.to_string(),
                    stack: live.aws_name.clone(),
                    resources,
                    unknown,
                }
            })
        });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|d| !d.resources.is_empty() || d.unknown.is_some())
        .collect()
}

/// The changes that reach running instances: an environment whose launch template the plan
/// updates and whose group has instances, with the environment's deployment settings (the
/// spec's, over Elastic Beanstalk's defaults).
fn rollouts(
    environments: &[crate::model::Environment],
    plan: &crate::reconcile::Plan,
) -> Vec<crate::reconcile::plan::InstanceRollout> {
    use crate::graph::ResourceKind;
    let mut found = Vec::new();
    for env in environments {
        let in_env = |e: &Option<String>| e.as_deref() == Some(env.name.as_str());
        let Some(change) = plan.changes.iter().find(|c| {
            c.kind == ResourceKind::LaunchTemplate
                && c.action == crate::reconcile::Action::Update
                && in_env(&c.environment)
        }) else {
            continue;
        };
        let Some(kind) = crate::reconcile::rollouts::of_launch_template(&change.attributes) else {
            continue;
        };
        let instances = plan
            .matched
            .values()
            .find(|r| r.kind == ResourceKind::AutoScalingGroup && in_env(&r.environment))
            .and_then(|r| r.attributes.get("desired_capacity"))
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        if instances == 0 {
            continue;
        }
        found.push(rollout_of(env, kind, instances));
    }
    found
}

/// A rollout of `change` on an environment's `instances`, with its deployment settings (the
/// spec's, over Elastic Beanstalk's defaults).
fn rollout_of(
    env: &crate::model::Environment,
    change: crate::reconcile::rollouts::InstanceChange,
    instances: i64,
) -> crate::reconcile::plan::InstanceRollout {
    let settings = crate::platform::settings::from_spec(env);
    crate::reconcile::plan::InstanceRollout {
        application: env.application.clone(),
        environment: env.name.clone(),
        change,
        instances,
        policy: settings.policy,
        batch_size: settings.batch_size,
    }
}

/// Environments whose launch template the plan leaves alone but whose group still runs
/// instances launched from an older version of it (an earlier rollout failed or was
/// interrupted): apply finishes replacing them.
async fn unfinished_rollouts(
    session: &Session,
    environments: &[crate::model::Environment],
    scope: &PlanScope,
    plan: &crate::reconcile::Plan,
) -> Result<Vec<crate::reconcile::plan::InstanceRollout>, OpError> {
    use crate::graph::ResourceKind;
    let mut found = Vec::new();
    for env in environments {
        if !scope.includes(Some(env.name.as_str()))
            || plan.rollouts.iter().any(|r| r.environment == env.name)
        {
            continue;
        }
        let in_env = |e: &Option<String>| e.as_deref() == Some(env.name.as_str());
        if plan
            .changes
            .iter()
            .any(|c| c.kind == ResourceKind::LaunchTemplate && in_env(&c.environment))
        {
            continue;
        }
        let live = |kind: ResourceKind| {
            plan.matched
                .values()
                .find(|r| r.kind == kind && r.owned && in_env(&r.environment))
        };
        let (Some(group), Some(template)) = (
            live(ResourceKind::AutoScalingGroup),
            live(ResourceKind::LaunchTemplate),
        ) else {
            continue;
        };
        let Some(latest) = template
            .outputs
            .get("latest_version")
            .and_then(|v| v.as_str())
        else {
            continue;
        };
        let aws = session.client(&env.application)?;
        let Some(view) = crate::aws::autoscaling::group_view(
            &aws.autoscaling,
            &group.aws_name,
            &env.application,
            &env.name,
        )
        .await
        .map_err(OpError::Read)?
        else {
            continue;
        };
        if !view.owned || view.in_service.is_empty() {
            continue;
        }
        let versions = crate::aws::ec2::launch_template_versions(&aws.ec2, &view.in_service)
            .await
            .map_err(OpError::Read)?;
        // An instance of an older version needs replacing only when that version differs from
        // the latest in what makes an instance (a settings-only change was deployed in place).
        let Some(template_id) = template.outputs.get("id").and_then(|v| v.as_str()) else {
            continue;
        };
        let older: std::collections::BTreeSet<&String> =
            versions.values().filter(|v| v.as_str() != latest).collect();
        let mut outdated = false;
        if !older.is_empty() {
            let read = |version: String| async move {
                crate::aws::ec2::launch_template_version_attributes(&aws.ec2, template_id, &version)
                    .await
                    .map_err(OpError::Read)
            };
            let now = read(latest.to_string()).await?.unwrap_or_default();
            for version in older {
                let then = read(version.clone()).await?.unwrap_or_default();
                let changes: Vec<crate::reconcile::AttributeChange> = now
                    .iter()
                    .map(|(name, after)| crate::reconcile::AttributeChange {
                        name: name.clone(),
                        before: then.get(name).cloned().unwrap_or_default(),
                        after: after.clone(),
                        after_unknown: false,
                        forces_replacement: false,
                    })
                    .collect();
                if crate::reconcile::rollouts::of_launch_template(&changes)
                    == Some(crate::reconcile::rollouts::InstanceChange::NewInstances)
                {
                    outdated = true;
                    break;
                }
            }
        }
        if outdated {
            found.push(rollout_of(
                env,
                crate::reconcile::rollouts::InstanceChange::NewInstances,
                view.in_service.len() as i64,
            ));
        }
    }
    Ok(found)
}

/// Deployments of the environments in scope whose command died before they ended: their
/// record is in the bucket and no longer renewed. With each, the group's size before it.
async fn unfinished_deployments(
    in_scope: &[(&crate::model::Environment, crate::aws::store::Store)],
) -> Result<Vec<(crate::reconcile::UnfinishedDeployment, (String, i32, i32))>, OpError> {
    // One read per environment, all at once.
    let records = futures::future::try_join_all(in_scope.iter().map(|(env, store)| async move {
        let read = store.deployment_record(&env.application, &env.name).await?;
        Ok::<_, OpError>((*env, read))
    }))
    .await?;
    let mut found = Vec::new();
    for (env, read) in records {
        let Some(crate::aws::store::Tagged {
            record: Ok(record), ..
        }) = read
        else {
            continue;
        };
        if super::holder::deployment_running(&record, crate::duration::now_unix()) {
            continue;
        }
        found.push((
            crate::reconcile::UnfinishedDeployment {
                application: env.application.clone(),
                environment: env.name.clone(),
                deployment_id: record.deployment_id,
                version: record.version.clone(),
                policy: record.policy,
                added: record.launched.clone(),
            },
            (record.group.clone(), record.desired, record.max),
        ));
    }
    Ok(found)
}

/// The environments in scope, each with its region's versions bucket (those whose bucket does
/// not exist yet have no deployment, and are left out).
async fn stores_in_scope<'e>(
    session: &Session,
    environments: &'e [crate::model::Environment],
    scope: &PlanScope,
) -> Result<Vec<(&'e crate::model::Environment, crate::aws::store::Store)>, OpError> {
    let mut stores: BTreeMap<String, Option<crate::aws::store::Store>> = BTreeMap::new();
    let mut in_scope = Vec::new();
    for env in environments {
        if !scope.includes(Some(env.name.as_str())) {
            continue;
        }
        let aws = session.client(&env.application)?;
        if !stores.contains_key(&aws.region) {
            let store = crate::aws::store::Store::locate(aws).await?;
            let exists = store.exists().await?;
            stores.insert(aws.region.clone(), exists.then_some(store));
        }
        if let Some(Some(store)) = stores.get(&aws.region) {
            in_scope.push((env, store.clone()));
        }
    }
    Ok(in_scope)
}

/// Where each of the environments' option values that differs from the default comes from:
/// the spec, or the version each runs (its manifest holds its `.ebextensions`).
async fn option_sources(
    in_scope: &[(&crate::model::Environment, crate::aws::store::Store)],
    environments: &[crate::model::Environment],
    scope: &PlanScope,
) -> Result<Vec<EnvironmentValues>, OpError> {
    let with_store: std::collections::BTreeSet<&str> =
        in_scope.iter().map(|(env, _)| env.name.as_str()).collect();
    let read = futures::future::try_join_all(in_scope.iter().map(|(env, store)| async move {
        let Some(pointer) = store
            .environment_pointer(&env.application, &env.name)
            .await?
        else {
            return Ok::<_, OpError>((*env, None));
        };
        let manifest = store.manifest(&env.application, &pointer.label).await?;
        Ok((*env, Some((pointer.label, manifest))))
    }))
    .await?;
    let mut found: Vec<EnvironmentValues> = read
        .into_iter()
        .map(|(env, running)| match running {
            None => of_environment(env, None, None),
            Some((label, None)) => {
                let mut values = of_environment(env, None, Some(label.clone()));
                values.version_problem = Some(format!(
                    "version {label}'s manifest is gone from the bucket"
                ));
                values
            }
            Some((label, Some(manifest))) => {
                of_environment(env, Some(&manifest.ebextensions), Some(label))
            }
        })
        .collect();
    // Environments whose region has no versions bucket yet run no version.
    found.extend(
        environments
            .iter()
            .filter(|e| {
                scope.includes(Some(e.name.as_str())) && !with_store.contains(e.name.as_str())
            })
            .map(|env| of_environment(env, None, None)),
    );
    found.sort_by(|a, b| a.environment.cmp(&b.environment));
    Ok(found)
}

fn of_environment(
    env: &crate::model::Environment,
    ebextensions: Option<&crate::bundle::ebextensions::EbExtensions>,
    label: Option<String>,
) -> EnvironmentValues {
    let version = match (&label, ebextensions) {
        (Some(label), Some(ebextensions)) => Some(RunningVersion {
            label,
            ebextensions,
        }),
        _ => None,
    };
    let (values, version_problem) = non_default(env, version);
    EnvironmentValues {
        environment: env.name.clone(),
        version: label,
        values,
        version_problem,
    }
}

/// The group of an environment with an unfinished deployment is read at the size the undo
/// leaves it (the size the deployment found): the plan changes it only if the spec does.
fn read_as_undone(
    live: &mut LiveState,
    unfinished: &[(crate::reconcile::UnfinishedDeployment, (String, i32, i32))],
) {
    for (_, (group, desired, max)) in unfinished {
        if group.is_empty() {
            continue;
        }
        for resource in live
            .resources
            .iter_mut()
            .filter(|r| r.kind == ResourceKind::AutoScalingGroup && &r.aws_name == group)
        {
            resource
                .attributes
                .insert("desired_capacity".into(), (*desired).into());
            resource.attributes.insert("max_size".into(), (*max).into());
        }
    }
}

/// Where a plan came from, for the saved plan.
pub struct PlanInputs<'a> {
    pub dir: &'a Path,
    pub vars: &'a [String],
    pub var_files: &'a [PathBuf],
    pub scope: &'a PlanScope,
}

/// The saved form of a plan (`plan --out`).
pub fn saved_plan(inputs: &PlanInputs<'_>, planned: &Planned) -> SavedPlan {
    SavedPlan {
        format_version: PLAN_FILE_VERSION,
        dir: std::fs::canonicalize(inputs.dir).unwrap_or_else(|_| inputs.dir.to_path_buf()),
        vars: inputs.vars.to_vec(),
        var_files: inputs
            .var_files
            .iter()
            .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
            .collect(),
        scope: inputs.scope.clone(),
        changes: planned.plan.changes.clone(),
        fingerprints: planned.live.fingerprints(),
    }
}

/// Why a saved plan cannot be applied as it is.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SavedPlanError {
    #[error("{file} is not a Beanpole plan file: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file} has plan format {found}; this Beanpole reads format {PLAN_FILE_VERSION}")]
    Format { file: String, found: u32 },
    #[error("the saved plan {file} is stale: the account changed since it was made ({} difference{} above). Run `beanpole plan` again.", .reasons.len(), if .reasons.len() == 1 { "" } else { "s" })]
    Stale { file: String, reasons: Vec<String> },
    #[error("the saved plan {file} no longer matches the spec in {dir} (it was edited since). Run `beanpole plan` again.")]
    SpecChanged { file: String, dir: String },
}

/// Reads a saved plan file.
pub fn read_saved(path: &Path) -> Result<SavedPlan, SavedPlanError> {
    let file = path.display().to_string();
    let saved: SavedPlan = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        .map_err(|reason| SavedPlanError::Unreadable {
            file: file.clone(),
            reason,
        })?;
    if saved.format_version != PLAN_FILE_VERSION {
        return Err(SavedPlanError::Format {
            file,
            found: saved.format_version,
        });
    }
    Ok(saved)
}

/// A saved plan applies only if neither the account nor the spec changed since it was made.
/// `made_by_lock`: versions buckets that taking the application's lock created just now (the
/// first apply of an account and region): the saved plan's creation of them is done.
pub fn check_saved(
    path: &Path,
    saved: &SavedPlan,
    planned: &Planned,
    made_by_lock: &[String],
) -> Result<(), SavedPlanError> {
    let file = path.display().to_string();
    let made = |kind: ResourceKind, name: &str| {
        kind == ResourceKind::VersionsBucket && made_by_lock.iter().any(|b| b == name)
    };
    let mut now = planned.live.fingerprints();
    for bucket in made_by_lock {
        now.remove(&format!("{}/{bucket}", ResourceKind::VersionsBucket));
    }
    let mut reasons = stale_reasons(&saved.fingerprints, &now);
    // A stack's change is the change set the plan showed: the same one, or the plan is stale.
    for change in &saved.changes {
        let Some(set) = &change.change_set else {
            continue;
        };
        let now = planned
            .plan
            .change(&change.address)
            .and_then(|c| c.change_set.as_ref());
        if now.map(|n| &n.id) != Some(&set.id) {
            reasons.push(format!(
                "{}: its change set {} ({}) is no longer there to execute",
                change.address, set.name, set.id
            ));
        }
    }
    if !reasons.is_empty() {
        return Err(SavedPlanError::Stale { file, reasons });
    }
    let saved_changes: Vec<_> = saved
        .changes
        .iter()
        .filter(|c| !(c.action == crate::reconcile::Action::Create && made(c.kind, &c.aws_name)))
        .cloned()
        .collect();
    if planned.plan.changes != saved_changes {
        return Err(SavedPlanError::SpecChanged {
            file,
            dir: saved.dir.display().to_string(),
        });
    }
    Ok(())
}
