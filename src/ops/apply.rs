//! `apply`: make the account match the spec, or apply a saved plan exactly. Under the locks of
//! the applications it works on (taken before the account is read): plan, have the plan
//! approved (not for a saved plan: it was reviewed when made, and is refused if stale), undo
//! the deployments whose command died before they ended, walk the plan's steps, then carry out
//! the changes that reach running instances (the plan's rollouts); record the event.

use super::deploy::recover::{settle, Undone};
use super::deploy::{locate, DeployError, DeployEvent};
use super::lock::{hold, Held, LockError, LockEvent, LockRequest};
use super::plan::{check_saved, plan, Planned, SavedPlanError};
use super::rollout::{roll_out_all, RolloutEvent};
pub use super::walk::PANIC_HOOK;
use super::walk::{walk_plan, WalkEvent, WalkOutcome};
use super::{applications_of, check_scope, environments_in_scope, Context, OpError};
use crate::bucket::{EventDetails, EventOutcome};
use crate::deploy::outcome::DeployOutcome;
use crate::reconcile::plan::InstanceRollout;
use crate::reconcile::planfile::SavedPlan;
use crate::reconcile::{PlanError, PlanScope};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ApplyRequest {
    pub scope: PlanScope,
    /// How many resources to work on at once (waits for AWS do not count).
    pub parallelism: usize,
    /// Wait for a holder of the lock instead of refusing.
    pub wait: bool,
    /// A plan saved by `plan --out`: apply exactly it, or refuse if it is stale.
    pub saved: Option<(PathBuf, SavedPlan)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("no plan: {} error{}", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Plan(Vec<PlanError>),
    #[error(transparent)]
    SavedPlan(#[from] SavedPlanError),
}

/// What apply (and destroy) report as they go.
pub enum ApplyEvent<'a> {
    Lock(LockEvent),
    /// The account and region the plan was read from (when STS says).
    Account(Option<(String, String)>),
    /// The plan, before anything is changed.
    Planned(&'a Planned),
    /// An unfinished deployment being undone.
    Undo(DeployEvent),
    Walk(WalkEvent),
    Rollout(RolloutEvent<'a>),
    /// The command's event could not be written to an application's events (the work is
    /// done).
    NotRecorded {
        application: String,
        error: String,
    },
}

/// How an apply ended.
#[derive(Debug)]
pub enum Applied {
    /// The plan has nothing to do.
    NothingToDo,
    /// The plan was not approved: nothing changed.
    NotApproved,
    Ran(Box<Ran>),
}

/// What an approved apply did.
#[derive(Debug)]
pub struct Ran {
    /// Per environment, the undo of its unfinished deployment.
    pub undone: Vec<(String, Result<Option<Undone>, DeployError>)>,
    /// The walk of the plan's steps (none when it changes no resource).
    pub walk: Option<WalkOutcome>,
    /// The rollouts carried out, in order (they stop at the first that fails).
    pub rollouts: Vec<(InstanceRollout, Result<Option<DeployOutcome>, DeployError>)>,
    /// What the event records.
    pub outcome: EventOutcome,
    pub summary: String,
}

pub async fn apply(
    ctx: Context<'_>,
    request: &ApplyRequest,
    approve: &mut dyn FnMut(&Planned) -> bool,
    on_event: &mut dyn FnMut(ApplyEvent<'_>),
) -> Result<Applied, ApplyError> {
    let scope = &request.scope;
    check_scope(ctx.compilation, &scope.environments)?;
    let held = take_locks(ctx, scope, "apply", request.wait, true, on_event).await?;
    let result = apply_holding(ctx, &held, request, approve, on_event).await;
    if let Ok(Applied::NothingToDo) = &result {
        record(
            ctx,
            &held,
            scope,
            EventOutcome::Succeeded,
            "nothing to change",
            on_event,
        )
        .await;
    }
    if let Ok(Applied::Ran(ran)) = &result {
        record(ctx, &held, scope, ran.outcome, &ran.summary, on_event).await;
    }
    held.release().await;
    result
}

/// The locks of the applications `scope` works on, taken before the account is read.
pub(crate) async fn take_locks(
    ctx: Context<'_>,
    scope: &PlanScope,
    command: &str,
    wait: bool,
    create_bucket: bool,
    on_event: &mut dyn FnMut(ApplyEvent<'_>),
) -> Result<Held, LockError> {
    let request = LockRequest {
        command: command.to_string(),
        wait,
        create_bucket,
    };
    let applications = applications_of(ctx.compilation, &scope.environments);
    hold(ctx, &applications, &request, &mut |e| {
        on_event(ApplyEvent::Lock(e))
    })
    .await
}

/// Records a command's event in each application it locked (a failure to record is only
/// reported: the work is done).
pub(crate) async fn record(
    ctx: Context<'_>,
    held: &Held,
    scope: &PlanScope,
    outcome: EventOutcome,
    summary: &str,
    on_event: &mut dyn FnMut(ApplyEvent<'_>),
) {
    let environments: BTreeMap<String, Vec<String>> = held
        .leases
        .iter()
        .map(|l| {
            (
                l.application.clone(),
                environments_in_scope(ctx.compilation, &l.application, &scope.environments),
            )
        })
        .collect();
    let environments_of = |a: &str| environments.get(a).cloned().unwrap_or_default();
    for (application, e) in held
        .record(&environments_of, outcome, summary, &EventDetails::None)
        .await
    {
        on_event(ApplyEvent::NotRecorded {
            application,
            error: e.to_string(),
        });
    }
}

/// Plans while holding the locks; the plan's errors end the command.
pub(crate) async fn planned(ctx: Context<'_>, scope: &PlanScope) -> Result<Planned, ApplyError> {
    let planned = plan(ctx.session, ctx.graph.clone(), &ctx.compilation.spec, scope).await?;
    if !planned.plan.errors.is_empty() {
        return Err(ApplyError::Plan(planned.plan.errors.clone()));
    }
    Ok(planned)
}

async fn apply_holding(
    ctx: Context<'_>,
    held: &Held,
    request: &ApplyRequest,
    approve: &mut dyn FnMut(&Planned) -> bool,
    on_event: &mut dyn FnMut(ApplyEvent<'_>),
) -> Result<Applied, ApplyError> {
    let planned = planned(ctx, &request.scope).await?;
    if let Some((path, saved)) = &request.saved {
        let made_by_lock: Vec<String> = held
            .leases
            .iter()
            .filter_map(|l| l.created_bucket.clone())
            .collect();
        check_saved(path, saved, &planned, &made_by_lock)?;
    }
    if request.saved.is_none() {
        on_event(ApplyEvent::Account(ctx.session.account().await));
    }
    on_event(ApplyEvent::Planned(&planned));
    if planned.plan.nothing_to_do() {
        return Ok(Applied::NothingToDo);
    }
    // A saved plan was reviewed when it was made: applying it is the approval.
    if request.saved.is_none() && !approve(&planned) {
        return Ok(Applied::NotApproved);
    }
    let mut ran = Ran {
        undone: Vec::new(),
        walk: None,
        rollouts: Vec::new(),
        outcome: EventOutcome::Succeeded,
        summary: String::new(),
    };
    if !undo_unfinished(ctx, held, &planned, &mut ran, on_event).await {
        return Ok(Applied::Ran(Box::new(ran)));
    }
    if planned.plan.is_empty() {
        ran.summary = "no resource to change".to_string();
    } else {
        let outcome = walk_plan(
            ctx.session,
            &planned,
            request.parallelism,
            ctx.interrupt,
            &mut |e| on_event(ApplyEvent::Walk(e)),
        )
        .await;
        ran.summary = walk_summary(&outcome);
        ran.outcome = walk_event_outcome(&outcome);
        let succeeded = outcome.succeeded();
        ran.walk = Some(outcome);
        if !succeeded {
            return Ok(Applied::Ran(Box::new(ran)));
        }
    }
    let rollouts = roll_out_all(ctx, held, &planned.plan.rollouts, &mut |e| {
        on_event(ApplyEvent::Rollout(e))
    })
    .await;
    for (rollout, result) in rollouts {
        match &result {
            Ok(Some(outcome)) if outcome.succeeded() => {
                ran.summary
                    .push_str(&format!("; {} rolled out", rollout.environment));
            }
            Ok(None) => {}
            _ => {
                ran.outcome = EventOutcome::Failed;
                ran.summary
                    .push_str(&format!("; the rollout on {} failed", rollout.environment));
            }
        }
        ran.rollouts.push((rollout.clone(), result));
    }
    Ok(Applied::Ran(Box::new(ran)))
}

/// Undoes the plan's unfinished deployments before anything else; `false` when one could not
/// be undone (the apply stops there).
async fn undo_unfinished(
    ctx: Context<'_>,
    held: &Held,
    planned: &Planned,
    ran: &mut Ran,
    on_event: &mut dyn FnMut(ApplyEvent<'_>),
) -> bool {
    for unfinished in &planned.plan.unfinished {
        let result = async {
            let env = ctx.environment(&unfinished.environment)?;
            let (group, target_group) = locate(ctx, env).await?;
            settle(
                ctx,
                held,
                env,
                &group,
                target_group.as_deref(),
                true,
                &mut |e| on_event(ApplyEvent::Undo(e)),
            )
            .await
        }
        .await;
        let failed = result.is_err();
        if let Err(e) = &result {
            ran.outcome = EventOutcome::Failed;
            ran.summary = format!(
                "the unfinished deployment {} on {} could not be undone: {e}",
                unfinished.deployment_id, unfinished.environment
            );
        }
        ran.undone.push((unfinished.environment.clone(), result));
        if failed {
            return false;
        }
    }
    true
}

/// One line on a walk, for its event.
pub(crate) fn walk_summary(outcome: &WalkOutcome) -> String {
    let s = outcome.summary;
    if outcome.succeeded() {
        format!(
            "{} added, {} changed, {} replaced, {} destroyed",
            s.add, s.change, s.replace, s.destroy
        )
    } else {
        format!(
            "{} failed{}, {} done, {} not started",
            outcome.failed.len(),
            outcome
                .failed
                .first()
                .map(|(label, message)| format!(" ({label}: {message})"))
                .unwrap_or_default(),
            outcome.done,
            outcome.not_started.len()
        )
    }
}

pub(crate) fn walk_event_outcome(outcome: &WalkOutcome) -> EventOutcome {
    if outcome.succeeded() {
        EventOutcome::Succeeded
    } else if outcome.interrupted {
        EventOutcome::Interrupted
    } else {
        EventOutcome::Failed
    }
}
