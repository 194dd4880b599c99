//! `events ENV`: what the commands that changed an environment did, newest first (who, from
//! where, when, what, the outcome, and each instance's for a deploy).

use super::{error, open, printable, AwsArgs, SpecArgs, EXIT_OK};
use crate::bucket::Event;
use crate::ops::events::{events as list, EventsReport, EventsRequest};
use clap::Args;
use serde_json::json;

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// The environment
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// Print JSON: {"application", "environment", "events": [{time, command, environments, principal, host, outcome, summary, details}]}
    #[arg(long)]
    pub json: bool,
    /// At most this many events
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

fn time(event: &Event) -> String {
    crate::duration::utc(event.time_ms / 1000)
}

pub async fn events(spec: &SpecArgs, aws: &AwsArgs, args: &EventsArgs) -> i32 {
    let opened = match open(spec, aws).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let request = EventsRequest {
        environment: args.environment.clone(),
        limit: args.limit,
    };
    let report = match list(opened.context(), &request).await {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    for skipped in &report.unreadable {
        eprintln!("warning: skipped {skipped}");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&events_json(&report)).unwrap_or_default()
        );
        return EXIT_OK;
    }
    if report.events.is_empty() {
        println!("No events for {} yet.", args.environment);
        return EXIT_OK;
    }
    println!(
        "Events of {} ({}), newest first:",
        report.environment, report.application
    );
    for e in &report.events {
        print_event(e);
    }
    EXIT_OK
}

fn events_json(report: &EventsReport) -> serde_json::Value {
    json!({
        "application": report.application,
        "environment": report.environment,
        "events": report.events.iter().map(|e| json!({
            "time": time(e),
            "time_ms": e.time_ms,
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

fn print_event(e: &Event) {
    println!(
        "{}  {:<22} {:<11} {}",
        time(e),
        printable(&e.command),
        e.outcome.as_str().to_uppercase(),
        printable(&e.summary)
    );
    println!(
        "    by {} on {}",
        printable(&e.principal),
        printable(&e.host)
    );
    let Some(deploy) = e.details.deploy() else {
        return;
    };
    for batch in &deploy.batches {
        for instance in &batch.instances {
            println!(
                "    batch {}: {} {}{}",
                batch.number,
                instance.instance,
                instance.outcome,
                match &instance.failed_step {
                    Some(step) => format!(" at {step}: {}", printable(&instance.message)),
                    None => String::new(),
                }
            );
        }
    }
}
