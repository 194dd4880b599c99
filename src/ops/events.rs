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

impl EventsReport {
    /// `events --json`: `{"application", "environment", "events": [{"time", "time_ms",
    /// "locked_ms", "command", "environments", "principal", "host", "outcome", "summary", "details"}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "application": self.application,
            "environment": self.environment,
            "events": self.events.iter().map(|e| serde_json::json!({
                "time": crate::duration::utc(e.time_ms / 1000),
                "time_ms": e.time_ms,
                "locked_ms": e.locked_ms,
                "command": e.command,
                "environments": e.environments,
                "principal": e.principal,
                "host": e.host,
                "outcome": e.outcome,
                "summary": e.summary,
                "details": e.details,
            })).collect::<Vec<_>>(),
        })
    }
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
