//! `destroy`: delete every resource Beanpole owns for the spec (or the environments named),
//! under the locks of their applications. Its own rule: an environment whose name moved in a
//! swap less than the records' TTL ago may still receive traffic from resolvers that cached
//! the old answer, so it is not destroyed without `--force` (pure: a plan and the time in,
//! the environments to hold back out). `--delete-versions` deletes the versions bucket with
//! whole applications, and with it their events: that destroy records none.

use super::apply::{
    planned, record, take_locks, walk_event_outcome, walk_summary, ApplyError, ApplyEvent,
};
use super::walk::{walk_plan, WalkOutcome};
use super::{check_scope, Context};
use crate::graph::compile::RECORD_TTL;
use crate::graph::ResourceKind;
use crate::reconcile::{Plan, PlanScope};

#[derive(Debug, Clone)]
pub struct DestroyRequest {
    /// The environments to destroy (all of the spec's when empty).
    pub environments: Vec<String>,
    pub parallelism: usize,
    /// Destroy even an environment that took part in a swap less than its records' TTL ago.
    pub force: bool,
    /// Also delete the versions bucket (with the applications' versions and events), when it
    /// holds versions of no other application.
    pub delete_versions: bool,
    /// Also delete the extra resources that hold data (else their stacks' deletion keeps them).
    pub delete_data: bool,
    pub wait: bool,
}

/// How a destroy ended.
#[derive(Debug)]
pub enum Destroyed {
    /// Beanpole owns no resource of the spec in the account.
    NothingToDestroy,
    NotApproved,
    Ran(WalkOutcome),
}

#[derive(Debug, thiserror::Error)]
pub enum DestroyError {
    #[error("--delete-versions deletes the versions of whole applications: it cannot be combined with --env")]
    VersionsOfSomeEnvironments,
    #[error("refusing to destroy: {0}")]
    RecentSwap(String),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// What destroy reports besides apply's events: an environment destroyed in spite of a
/// recent swap (`--force`).
pub enum DestroyEvent<'a> {
    Apply(ApplyEvent<'a>),
    Forced(String),
}

pub async fn destroy(
    ctx: Context<'_>,
    request: &DestroyRequest,
    approve: &mut dyn FnMut(&super::plan::Planned) -> bool,
    on_event: &mut dyn FnMut(DestroyEvent<'_>),
) -> Result<Destroyed, DestroyError> {
    if request.delete_versions && !request.environments.is_empty() {
        return Err(DestroyError::VersionsOfSomeEnvironments);
    }
    let scope = PlanScope {
        environments: request.environments.clone(),
        destroy: true,
        delete_versions: request.delete_versions,
        delete_data: request.delete_data,
    };
    check_scope(ctx.compilation, &scope.environments).map_err(ApplyError::from)?;
    let held = take_locks(ctx, &scope, "destroy", request.wait, true, &mut |e| {
        on_event(DestroyEvent::Apply(e))
    })
    .await
    .map_err(ApplyError::from)?;
    let result = destroy_holding(ctx, &scope, request, approve, on_event).await;
    if let Ok(Destroyed::Ran(walk)) = &result {
        // With --delete-versions a successful destroy deleted the bucket, with the events.
        if !(request.delete_versions && walk.succeeded()) {
            record(
                ctx,
                &held,
                &scope,
                walk_event_outcome(walk),
                &walk_summary(walk),
                &mut |e| on_event(DestroyEvent::Apply(e)),
            )
            .await;
        }
    }
    held.release().await;
    result
}

async fn destroy_holding(
    ctx: Context<'_>,
    scope: &PlanScope,
    request: &DestroyRequest,
    approve: &mut dyn FnMut(&super::plan::Planned) -> bool,
    on_event: &mut dyn FnMut(DestroyEvent<'_>),
) -> Result<Destroyed, DestroyError> {
    let planned = planned(ctx, scope).await?;
    on_event(DestroyEvent::Apply(ApplyEvent::Account(
        ctx.session.account().await,
    )));
    if planned.plan.is_empty() {
        return Ok(Destroyed::NothingToDestroy);
    }
    let now = crate::duration::now_unix();
    let recent = recently_swapped(&planned.plan, now);
    if !recent.is_empty() {
        let message = describe(&recent, now);
        if !request.force {
            return Err(DestroyError::RecentSwap(message));
        }
        on_event(DestroyEvent::Forced(message));
    }
    on_event(DestroyEvent::Apply(ApplyEvent::Planned(&planned)));
    if !approve(&planned) {
        return Ok(Destroyed::NotApproved);
    }
    Ok(Destroyed::Ran(
        walk_plan(
            ctx.session,
            &planned,
            request.parallelism,
            ctx.interrupt,
            &mut |e| on_event(DestroyEvent::Apply(ApplyEvent::Walk(e))),
        )
        .await,
    ))
}

/// A marker dated more than this far in the future is not a clock difference but a corrupted
/// (or hand-written) record.
pub const CLOCK_SKEW_SECONDS: u64 = 3600;

/// An environment in a destroy plan that took part in a swap too recently.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecentSwap {
    pub environment: String,
    /// The `swapped-at` of its ownership record (Unix seconds).
    pub swapped_at: u64,
    /// When it becomes safe to destroy; `None` when `swapped_at` lies in the future, so the
    /// marker cannot be trusted to say.
    pub safe_from: Option<u64>,
}

/// Environments of a destroy plan whose names moved in a swap less than a TTL ago.
pub fn recently_swapped(plan: &Plan, now: u64) -> Vec<RecentSwap> {
    let mut found = Vec::new();
    for live in plan.deletions.values() {
        if live.kind != ResourceKind::OwnershipRecord {
            continue;
        }
        let swapped_at = live.outputs.get("swapped_at").and_then(|v| v.as_u64());
        let ttl = live
            .attributes
            .get("ttl")
            .and_then(|v| v.as_u64())
            .unwrap_or(RECORD_TTL as u64);
        let (Some(at), Some(environment)) = (swapped_at, &live.environment) else {
            continue;
        };
        if at > now.saturating_add(CLOCK_SKEW_SECONDS) {
            found.push(RecentSwap {
                environment: environment.clone(),
                swapped_at: at,
                safe_from: None,
            });
            continue;
        }
        let safe = at.saturating_add(ttl);
        if now < safe {
            found.push(RecentSwap {
                environment: environment.clone(),
                swapped_at: at,
                safe_from: Some(safe),
            });
        }
    }
    found.sort();
    found.dedup();
    found
}

/// One sentence per environment held back, for the refusal (or the `--force` warning).
pub fn describe(recent: &[RecentSwap], now: u64) -> String {
    let list: Vec<String> = recent
        .iter()
        .map(|r| match r.safe_from {
            Some(safe) => format!(
                "{} (safe from {}, in {} s)",
                r.environment,
                super::utc(safe),
                safe.saturating_sub(now)
            ),
            None => format!(
                "{} (its ownership record says it was swapped at {}, which is in the future: the record looks corrupted; check it with `beanpole status`)",
                r.environment, r.swapped_at
            ),
        })
        .collect();
    format!(
        "{} took part in a swap less than its records' TTL ago: clients may still resolve its name to it. Wait, or pass --force",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Address;
    use crate::reconcile::LiveResource;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn plan_with_marker(swapped_at: serde_json::Value) -> Plan {
        let mut plan = Plan::default();
        plan.deletions.insert(
            Address("environment.blue.ownership_record".into()),
            LiveResource {
                kind: ResourceKind::OwnershipRecord,
                aws_name: "_beanpole.pets.example.com".into(),
                owned: true,
                application: Some("pets".into()),
                environment: Some("blue".into()),
                address: None,
                attributes: BTreeMap::from([("ttl".to_string(), json!(60))]),
                outputs: BTreeMap::from([("swapped_at".to_string(), swapped_at)]),
                tags: BTreeMap::new(),
            },
        );
        plan
    }

    #[test]
    fn a_fresh_swap_holds_the_environment_back_until_the_ttl_passed() {
        let plan = plan_with_marker(json!(1000));
        let recent = recently_swapped(&plan, 1030);
        assert_eq!(recent[0].safe_from, Some(1060));
        assert!(recently_swapped(&plan, 1060).is_empty());
    }

    #[test]
    fn a_marker_at_the_end_of_time_is_refused_as_corrupted_without_overflow() {
        let plan = plan_with_marker(json!(u64::MAX));
        let recent = recently_swapped(&plan, 1_796_043_600);
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].safe_from, None);
        assert!(describe(&recent, 1_796_043_600).contains("looks corrupted"));
    }

    #[test]
    fn a_far_future_but_plausible_time_prints_a_date_not_only_a_time_of_day() {
        let now = 1_796_043_600;
        let plan = plan_with_marker(json!(now + 30));
        let text = describe(&recently_swapped(&plan, now), now);
        assert!(text.contains("2026-11-30 13:01:30 UTC"), "{text}");
    }
}
