//! `events ENV`: what each command that changed an environment did, newest first. Every
//! command that holds an application's lock records one event there (`lock::Held::record`):
//! who (the AWS principal), from where (host), when, what, on which environments, the outcome,
//! and for a deploy each instance's outcome.

use super::{Context, OpError};
use crate::aws::store::Unreadable;
use crate::bucket::Event;

#[derive(Debug, Clone)]
pub struct EventsRequest {
    pub environment: String,
    /// At most this many.
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct EventsReport {
    pub application: String,
    pub environment: String,
    /// Newest first.
    pub events: Vec<Event>,
    /// Objects among the events that are not events (skipped).
    pub unreadable: Vec<Unreadable>,
}

pub async fn events(ctx: Context<'_>, request: &EventsRequest) -> Result<EventsReport, OpError> {
    let env = ctx.environment(&request.environment)?;
    let store = ctx.session.store(&env.application).await?;
    let (events, unreadable) = store
        .events(&env.application, request.limit, |event| {
            event.environments.iter().any(|e| e == &env.name)
        })
        .await?;
    Ok(EventsReport {
        application: env.application.clone(),
        environment: env.name.clone(),
        events,
        unreadable,
    })
}
