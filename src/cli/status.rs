//! `status` at the command line: each environment's health in Elastic Beanstalk's colours
//! with its causes, as text or JSON, once or refreshed with `--watch`. The work is in
//! `ops::status`.

use super::{error, open, AwsArgs, SpecArgs, EXIT_OK};
use crate::duration::parse_duration;
use crate::ops::status::{status as observe, StatusRequest};
use crate::reconcile::render::render_calls;
use crate::status::{Colour, Health, Observation, TargetState};
use clap::Args;
use serde_json::json;
use std::io::IsTerminal;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Environments to show (default: every environment of the spec)
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,
    /// Print JSON (schema in the README)
    #[arg(long)]
    pub json: bool,
    /// Refresh until interrupted
    #[arg(long)]
    pub watch: bool,
    /// Time between refreshes with --watch: 5s, 1m, 500ms, or seconds
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub interval: String,
}

fn colour_text(colour: Colour, tty: bool) -> String {
    if !tty {
        return colour.as_str().to_string();
    }
    let code = match colour {
        Colour::Green => "32",
        Colour::Yellow => "33",
        Colour::Red => "31",
        Colour::Grey => "90",
    };
    format!("\x1b[1;{code}m{}\x1b[0m", colour.as_str())
}

fn status_json(rows: &[(Observation, Health)]) -> serde_json::Value {
    json!({
        "environments": rows.iter().map(|(o, h)| {
            let healthy = o.targets.iter().filter(|t| t.state == TargetState::Healthy).count();
            json!({
                "name": o.environment,
                "application": o.application,
                "health": h.colour.as_str(),
                "causes": h.causes,
                "cnames": o.cnames,
                "load_balancer_dns": o.load_balancer_dns,
                "load_balancer_state": o.load_balancer_state,
                "instances": {
                    "desired": o.desired,
                    "min": o.min,
                    "max": o.max,
                    "in_service": o.in_service,
                    "healthy_targets": healthy,
                    "registered_targets": o.targets.len(),
                },
                "version": o.expected_version,
                "instance_versions": o.instance_versions.iter().map(|(i, v)| (i.clone(), json!(v))).collect::<serde_json::Map<String, serde_json::Value>>(),
                "deployment": o.deployment,
            })
        }).collect::<Vec<_>>(),
    })
}

fn status_text(rows: &[(Observation, Health)], tty: bool) -> String {
    let mut out = String::new();
    for (o, h) in rows {
        let healthy = o
            .targets
            .iter()
            .filter(|t| t.state == TargetState::Healthy)
            .count();
        out.push_str(&format!(
            "{}  ({})  {}\n",
            o.environment,
            o.application,
            colour_text(h.colour, tty)
        ));
        for cause in &h.causes {
            out.push_str(&format!("  cause          {cause}\n"));
        }
        let cnames = if o.cnames.is_empty() {
            "(none)".to_string()
        } else {
            o.cnames.join(", ")
        };
        out.push_str(&format!("  serves         {cnames}\n"));
        out.push_str(&format!(
            "  load balancer  {}\n",
            o.load_balancer_dns.as_deref().unwrap_or("(none)")
        ));
        out.push_str(&format!(
            "  instances      {} desired (min {}, max {}), {} in service, {} of {} targets healthy\n",
            o.desired,
            o.min,
            o.max,
            o.in_service,
            healthy,
            o.targets.len()
        ));
        if let Some(expected) = &o.expected_version {
            let on = o
                .instance_versions
                .iter()
                .filter(|(_, v)| v.as_deref() == Some(expected.as_str()))
                .count();
            out.push_str(&format!(
                "  version        {expected} (on {on} of {} instances)\n",
                o.instance_versions.len()
            ));
        }
    }
    out
}

pub async fn status(spec: &SpecArgs, aws: &AwsArgs, args: &StatusArgs) -> i32 {
    let interval = match parse_duration(&args.interval) {
        Ok(d) if d >= std::time::Duration::from_millis(100) => d,
        Ok(_) => return error(format!("`--interval {}`: at least 100ms", args.interval)),
        Err(reason) => return error(format!("`--interval {}`: {reason}", args.interval)),
    };
    let opened = match open(spec, aws).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let request = StatusRequest {
        environments: args.environments.clone(),
    };
    let tty = std::io::stdout().is_terminal();
    loop {
        let observed = match observe(opened.context(), &request).await {
            Ok(o) => o,
            Err(e) => return error(e),
        };
        if aws.verbose {
            eprintln!("{}", render_calls(&observed.calls));
        }
        if let Err(code) = print(&observed.environments, args, tty) {
            return code;
        }
        if !args.watch {
            return EXIT_OK;
        }
        tokio::time::sleep(interval).await;
    }
}

fn print(rows: &[(Observation, Health)], args: &StatusArgs, tty: bool) -> Result<(), i32> {
    if args.json {
        let value = status_json(rows);
        let text = if args.watch {
            serde_json::to_string(&value)
        } else {
            serde_json::to_string_pretty(&value)
        };
        match text {
            Ok(t) => println!("{t}"),
            Err(e) => return Err(error(format!("cannot render JSON: {e}"))),
        }
    } else {
        if args.watch && tty {
            print!("\x1b[2J\x1b[H");
        }
        print!("{}", status_text(rows, tty));
        if args.watch {
            println!(
                "(refreshing every {}; Ctrl-C to stop)",
                args.interval.trim()
            );
        }
    }
    Ok(())
}
