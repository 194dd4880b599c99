//! `events ENV`: what the commands that changed an environment did, newest first (who, from
//! where, when, what, the outcome, and each instance's for a deploy).

use super::{error, open, printable, AwsArgs, SpecArgs, EXIT_OK};
use crate::ops::events::{events as list, EventsRequest};
use clap::Args;

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

pub async fn events(spec: &SpecArgs, aws: &AwsArgs, args: &EventsArgs) -> i32 {
    let opened = or_exit!(open(spec, aws).await);
    let request = EventsRequest {
        environment: args.environment.clone(),
        limit: args.limit,
    };
    let report = or_exit!(list(opened.context(), &request).await.map_err(error));
    super::warn_skipped(&report.unreadable);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        );
        return EXIT_OK;
    }
    if report.events.is_empty() {
        println!("No events for {} yet.", args.environment);
    } else {
        println!(
            "Events of {} ({}), newest first:",
            report.environment, report.application
        );
        for line in report.events.iter().flat_map(|e| e.lines()) {
            println!("{}", printable(&line));
        }
    }
    if !report.daemon_events.is_empty() {
        println!("Its worker daemons' events, newest first:");
        for (instance, e) in &report.daemon_events {
            println!(
                "{}",
                printable(&format!(
                    "{}  {instance}  {:<5} {}",
                    crate::duration::utc(e.time as u64),
                    e.level,
                    e.message
                ))
            );
        }
    }
    EXIT_OK
}
