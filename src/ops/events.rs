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
    /// A worker's daemons' own events (instance, event), newest first, at most `limit`.
    pub daemon_events: Vec<(String, crate::status::DaemonEvent)>,
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
            "daemon_events": self.daemon_events.iter().map(|(instance, e)| serde_json::json!({
                "time": crate::duration::utc(e.time as u64),
                "instance": instance,
                "level": e.level,
                "message": e.message,
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
    // A worker's daemons report their own events beside how they are.
    let mut daemon_events: Vec<(String, crate::status::DaemonEvent)> = Vec::new();
    if env.is_worker() && store.exists().await? {
        for report in store.daemon_reports(&env.application, &env.name).await? {
            daemon_events.extend(
                report
                    .events
                    .into_iter()
                    .map(|e| (report.instance.clone(), e)),
            );
        }
    }
    daemon_events.sort_by(|a, b| b.1.time.total_cmp(&a.1.time));
    daemon_events.truncate(request.limit);
    Ok(EventsReport {
        application: env.application.clone(),
        environment: env.name.clone(),
        events,
        unreadable,
        daemon_events,
    })
}
