//! `swap`: exchange two environments' names, like `eb swap`. Under the application's lock,
//! [`prepare`] checks the request, observes both environments and the zone, and asks
//! [`decide`] for a plan or a refusal; once the plan is approved, [`perform`] runs its batches,
//! checks the receiving side between gradual steps, and rolls back on Red, on an AWS error, or
//! when interrupted: a gradual swap never stops half way by itself (and one killed half way is
//! continued by the same swap, or undone by `apply`). The swap records its event.

pub mod decide;

use super::lock::{hold, LockError, LockEvent, LockRequest};
use super::status::{lookups, observe_all};
use super::{now_unix, Context, OpError, Session};
use crate::aws::observe::{observe, Lookup};
use crate::aws::{route53, Aws, AwsError};
use crate::bucket::{EventDetails, EventOutcome};
use crate::dns::Edit;
use crate::graph::ResourceGraph;
use crate::interrupt::Interrupt;
use crate::reconcile::CallStats;
use crate::spec::Compilation;
use crate::status::{assess, Colour, Health};
use decide::{after_check, check_request, Refusal, SpecSide, SwapPlan, SwapRequest, Verdict};

/// Why a swap did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Op(#[from] OpError),
    /// AWS failed during the swap. `restored`: the production name is back on the giving side
    /// (or was never moved).
    #[error("swap failed: {error}{}", if *.restored { String::new() } else { "; the production name is split over weighted records: run the same swap again to finish it, or `beanpole apply` to restore it".to_string() })]
    Aws { error: AwsError, restored: bool },
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// A swap ready to perform.
pub struct Prepared {
    pub plan: SwapPlan,
    zone_id: String,
    receiving_lookup: Lookup,
    pub calls: CallStats,
}

/// Checks the request, reads both environments and the zone, and decides.
pub async fn prepare(
    session: &Session,
    compilation: &Compilation,
    graph: &ResourceGraph,
    request: &SwapRequest,
) -> Result<Prepared, SwapError> {
    let (a, b) = (&request.environment_a, &request.environment_b);
    if a == b {
        return Err(Refusal::SameEnvironment(a.clone()).into());
    }
    let found = lookups(compilation, graph, &[a.clone(), b.clone()]).map_err(|e| match e {
        OpError::Refused(message) => OpError::Refused(format!("refusing to swap: {message}")),
        e @ OpError::NoSuchEnvironment { .. } => OpError::Refused(format!("refusing to swap: {e}")),
        other => other,
    })?;
    let sides: Vec<SpecSide> = found
        .iter()
        .map(|l| SpecSide {
            environment: l.environment.clone(),
            application: l.application.clone(),
            domain: l.domain.clone(),
            worker: compilation
                .spec
                .environment(&l.environment)
                .is_some_and(|e| e.is_worker()),
        })
        .collect();
    let (application, domain) = check_request(request, &sides[0], &sides[1])?;
    let observed = observe_all(session, &found).await?;
    let Some(zone) = observed.zones.get(&domain) else {
        return Err(Refusal::NoZone(domain).into());
    };
    let plan = decide::decide(request, &application, &observed.environments, &zone.records)?;
    let receiving_lookup = found
        .iter()
        .find(|l| l.environment == plan.receiving.environment)
        .cloned()
        .ok_or_else(|| OpError::Refused("the receiving environment was not looked up".into()))?;
    Ok(Prepared {
        zone_id: zone.id.clone(),
        receiving_lookup,
        plan,
        calls: observed.calls,
    })
}

/// Progress of a swap.
#[derive(Debug, Clone, PartialEq)]
pub enum SwapEvent {
    /// A weighted step is live; the receiving side is checked after `interval`.
    Step {
        number: usize,
        of: usize,
        take: i64,
        interval: std::time::Duration,
    },
    /// The receiving side's health after a step.
    Checked { health: Health },
    /// Rolling back (a Red receiver, an AWS error, or an interrupt).
    RollingBack { reason: String },
}

/// How a performed swap ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SwapOutcome {
    /// The names are exchanged; the markers record `at`.
    Swapped { at: u64 },
    /// The receiving side turned Red (or the user interrupted): the production name is back
    /// on the giving side as a simple record.
    RolledBack { reason: String, interrupted: bool },
}

/// What a swap reports as it goes.
pub enum SwapProgress<'a> {
    Lock(LockEvent),
    /// The plan, before anything is changed (the API calls its reading made).
    Prepared(&'a Prepared),
    Swap(SwapEvent),
    /// The event could not be written (the swap itself is done).
    NotRecorded {
        application: String,
        error: String,
    },
}

/// How a swap command ended: not approved, or performed.
#[derive(Debug, Clone, PartialEq)]
pub enum Swapped {
    NotApproved,
    Performed(SwapOutcome),
}

/// `swap`: the whole command, under the application's lock, recording its event.
pub async fn swap(
    ctx: Context<'_>,
    request: &SwapRequest,
    wait: bool,
    approve: &mut dyn FnMut(&Prepared) -> bool,
    on_event: &mut dyn FnMut(SwapProgress<'_>),
) -> Result<Swapped, SwapError> {
    let applications: Vec<String> = ctx
        .compilation
        .spec
        .environment(&request.environment_a)
        .map(|e| e.application.clone())
        .into_iter()
        .collect();
    let lock = LockRequest {
        command: "swap".into(),
        wait,
        create_bucket: false,
    };
    let held = hold(ctx, &applications, &lock, &mut |e| {
        on_event(SwapProgress::Lock(e))
    })
    .await?;
    let result = async {
        let prepared = prepare(ctx.session, ctx.compilation, ctx.graph, request).await?;
        on_event(SwapProgress::Prepared(&prepared));
        if !approve(&prepared) {
            return Ok((prepared, None));
        }
        let outcome = perform(ctx.session, &prepared, request, ctx.interrupt, &mut |e| {
            on_event(SwapProgress::Swap(e))
        })
        .await;
        Ok::<_, SwapError>((prepared, Some(outcome)))
    }
    .await;
    let result = match result {
        Ok((_, None)) => Ok(Swapped::NotApproved),
        Ok((prepared, Some(outcome))) => {
            let plan = &prepared.plan;
            let (giving, receiving) = (&plan.giving, &plan.receiving);
            let (event, summary) = match &outcome {
                Ok(SwapOutcome::Swapped { .. }) => (
                    EventOutcome::Succeeded,
                    format!(
                        "{} → {}, {} → {}",
                        plan.production, receiving.environment, receiving.name, giving.environment
                    ),
                ),
                Ok(SwapOutcome::RolledBack {
                    reason,
                    interrupted,
                }) => (
                    if *interrupted {
                        EventOutcome::Interrupted
                    } else {
                        EventOutcome::Failed
                    },
                    format!(
                        "{reason}; rolled back: {} → {}",
                        plan.production, giving.environment
                    ),
                ),
                Err(e) => (EventOutcome::Failed, e.to_string()),
            };
            let environments = [giving.environment.clone(), receiving.environment.clone()];
            for (application, error) in held
                .record(
                    &|_| environments.to_vec(),
                    event,
                    &summary,
                    &EventDetails::None,
                )
                .await
            {
                on_event(SwapProgress::NotRecorded {
                    application,
                    error: error.to_string(),
                });
            }
            outcome.map(Swapped::Performed)
        }
        Err(e) => Err(e),
    };
    held.release().await;
    result
}

/// Performs the plan's batches in order, rolling back as described in the module docs.
pub async fn perform(
    session: &Session,
    prepared: &Prepared,
    request: &SwapRequest,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(SwapEvent),
) -> Result<SwapOutcome, SwapError> {
    let aws = session.client(&prepared.plan.application)?.clone();
    run(&aws, prepared, request, interrupt, on_event).await
}

async fn run(
    aws: &Aws,
    prepared: &Prepared,
    request: &SwapRequest,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(SwapEvent),
) -> Result<SwapOutcome, SwapError> {
    let plan = &prepared.plan;
    let comment = format!(
        "beanpole swap {} {}",
        plan.giving.environment, plan.receiving.environment
    );
    let zone = prepared.zone_id.as_str();
    let mut now = plan.resumed_from;
    let total = plan.steps.len();
    for (i, step) in plan.steps.iter().enumerate() {
        let take = i64::from(*step);
        if interrupt.is_raised() {
            return roll_back(
                aws,
                zone,
                &comment,
                plan,
                now,
                "interrupted".into(),
                true,
                on_event,
            )
            .await;
        }
        let at = now_unix();
        let edits = if take == 100 {
            plan.final_edits(now, at)
        } else {
            plan.weighted_edits(now, take)
        };
        match (edit(aws, zone, &comment, &edits, now.is_none()).await, now) {
            (Ok(()), _) => {}
            // A batch is atomic: it failed whole, so the weights are still `now`; undo them.
            (Err(error), Some(_)) => {
                return roll_back(
                    aws,
                    zone,
                    &comment,
                    plan,
                    now,
                    error.to_string(),
                    false,
                    on_event,
                )
                .await
            }
            (Err(error), None) => return Err(error),
        }
        if take == 100 {
            return Ok(SwapOutcome::Swapped { at });
        }
        now = Some((100 - take, take));
        on_event(SwapEvent::Step {
            number: i + 1,
            of: total,
            take,
            interval: request.interval,
        });
        let interrupted = tokio::select! {
            _ = tokio::time::sleep(request.interval) => false,
            _ = interrupt.raised() => true,
        };
        if interrupted {
            return roll_back(
                aws,
                zone,
                &comment,
                plan,
                now,
                "interrupted".into(),
                true,
                on_event,
            )
            .await;
        }
        let health = match observe(aws, std::slice::from_ref(&prepared.receiving_lookup)).await {
            Ok((observations, _)) => observations.first().map(assess).unwrap_or(Health {
                colour: Colour::Grey,
                causes: vec!["not found".to_string()],
            }),
            Err(error) => {
                let reason = format!("cannot check {}: {error}", plan.receiving.environment);
                return roll_back(aws, zone, &comment, plan, now, reason, false, on_event).await;
            }
        };
        on_event(SwapEvent::Checked {
            health: health.clone(),
        });
        if let Verdict::RollBack(reason) = after_check(&plan.receiving.environment, take, &health) {
            return roll_back(aws, zone, &comment, plan, now, reason, false, on_event).await;
        }
    }
    // `decide` always ends the steps at 100; an empty list means a resumed swap that was
    // already past its last weighted step, so only the final exchange remains.
    let at = now_unix();
    edit(
        aws,
        zone,
        &comment,
        &plan.final_edits(now, at),
        now.is_none(),
    )
    .await?;
    Ok(SwapOutcome::Swapped { at })
}

async fn edit(
    aws: &Aws,
    zone: &str,
    comment: &str,
    edits: &[Edit],
    nothing_moved_yet: bool,
) -> Result<(), SwapError> {
    route53::edit_records(aws, zone, comment, edits)
        .await
        .map_err(|error| SwapError::Aws {
            error,
            restored: nothing_moved_yet,
        })
}

#[allow(clippy::too_many_arguments)]
async fn roll_back(
    aws: &Aws,
    zone: &str,
    comment: &str,
    plan: &SwapPlan,
    now: Option<(i64, i64)>,
    reason: String,
    interrupted: bool,
    on_event: &mut dyn FnMut(SwapEvent),
) -> Result<SwapOutcome, SwapError> {
    on_event(SwapEvent::RollingBack {
        reason: reason.clone(),
    });
    if let Some(weights) = now {
        route53::edit_records(
            aws,
            zone,
            &format!("{comment}: rollback"),
            &plan.rollback_edits(weights),
        )
        .await
        .map_err(|error| SwapError::Aws {
            error,
            restored: false,
        })?;
    }
    Ok(SwapOutcome::RolledBack {
        reason,
        interrupted,
    })
}
