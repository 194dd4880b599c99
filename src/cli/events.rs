//! `events ENV`: what the commands that changed an environment did, newest first (who, from
//! where, when, what, the outcome, and each instance's for a deploy).

use super::{error, load_spec, open_session, AwsArgs, SpecArgs, EXIT_OK};
use crate::ops::events::{list, Event};
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
    let seconds = event.time_ms / 1000;
    crate::ops::utc(seconds)
}

pub fn events(spec: &SpecArgs, aws: &AwsArgs, args: &EventsArgs) -> i32 {
    let (compilation, _) = match load_spec(spec) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let application = match crate::ops::deploy::environment(&compilation, &args.environment) {
        Ok(env) => env.application.clone(),
        Err(e) => return error(e),
    };
    let session = match open_session(&compilation, aws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let events = match list(&session, &application, Some(&args.environment), args.limit) {
        Ok(e) => e,
        Err(e) => return error(e),
    };
    if args.json {
        let out = json!({
            "application": application,
            "environment": args.environment,
            "events": events.iter().map(|e| json!({
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
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return EXIT_OK;
    }
    if events.is_empty() {
        println!("No events for {} yet.", args.environment);
        return EXIT_OK;
    }
    println!(
        "Events of {} ({application}), newest first:",
        args.environment
    );
    for e in &events {
        println!(
            "{}  {:<22} {:<11} {}",
            time(e),
            e.command,
            e.outcome.to_uppercase(),
            e.summary
        );
        println!("    by {} on {}", e.principal, e.host);
        if let Some(batches) = e.details.get("batches").and_then(|b| b.as_array()) {
            for batch in batches {
                for instance in batch["instances"].as_array().into_iter().flatten() {
                    println!(
                        "    batch {}: {} {}{}",
                        batch["number"],
                        instance["instance"].as_str().unwrap_or("?"),
                        instance["outcome"].as_str().unwrap_or("?"),
                        match instance["failed_step"].as_str() {
                            Some(step) => format!(
                                " at {step}: {}",
                                instance["message"].as_str().unwrap_or("")
                            ),
                            None => String::new(),
                        }
                    );
                }
            }
        }
    }
    EXIT_OK
}
