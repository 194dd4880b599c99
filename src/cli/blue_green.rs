//! `status` and `swap` at the command line: arguments, rendering, confirmation and exit
//! statuses. The work is in `ops::status` and `ops::swap`.

use super::{
    confirm, error, interrupt_on_ctrl_c, load_spec, open_session, take_locks, AwsArgs, SpecArgs,
    EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK,
};
use crate::graph::compile::RECORD_TTL;
use crate::ops::status::lookups;
use crate::ops::swap::decide::{parse_duration, Refusal, SwapRequest};
use crate::ops::swap::{perform, prepare, SwapEvent, SwapOutcome};
use crate::ops::utc;
use crate::reconcile::render::render_calls;
use crate::status::{Colour, Health, Observation};
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
            let healthy = o.targets.iter().filter(|t| t.state == "healthy").count();
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
        let healthy = o.targets.iter().filter(|t| t.state == "healthy").count();
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

pub fn status(spec: &SpecArgs, aws: &AwsArgs, args: &StatusArgs) -> i32 {
    let interval = match parse_duration(&args.interval) {
        Ok(d) if d >= std::time::Duration::from_millis(100) => d,
        Ok(_) => return error(format!("`--interval {}`: at least 100ms", args.interval)),
        Err(reason) => return error(format!("`--interval {}`: {reason}", args.interval)),
    };
    let (compilation, graph) = match load_spec(spec) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let lookups = match lookups(&compilation, &graph, &args.environments) {
        Ok(l) => l,
        Err(e) => return error(e),
    };
    let session = match open_session(&compilation, aws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let tty = std::io::stdout().is_terminal();
    loop {
        let observed = match crate::ops::status::status(&session, &lookups) {
            Ok(o) => o,
            Err(e) => return error(e),
        };
        if aws.verbose {
            eprintln!("{}", render_calls(&observed.calls));
        }
        let rows = observed.environments;
        if args.json {
            let value = status_json(&rows);
            let text = if args.watch {
                serde_json::to_string(&value)
            } else {
                serde_json::to_string_pretty(&value)
            };
            match text {
                Ok(t) => println!("{t}"),
                Err(e) => return error(format!("cannot render JSON: {e}")),
            }
        } else {
            if args.watch && tty {
                print!("\x1b[2J\x1b[H");
            }
            print!("{}", status_text(&rows, tty));
            if args.watch {
                println!(
                    "(refreshing every {}; Ctrl-C to stop)",
                    args.interval.trim()
                );
            }
        }
        if !args.watch {
            return EXIT_OK;
        }
        std::thread::sleep(interval);
    }
}

#[derive(Debug, Clone, Args)]
pub struct SwapArgs {
    /// One environment of the pair
    #[arg(value_name = "ENV_A")]
    pub environment_a: String,
    /// The other environment (same application)
    #[arg(value_name = "ENV_B")]
    pub environment_b: String,
    /// Swap even if the environment taking the production name is not healthy
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Move the production name in weighted steps, percentages ending at 100 (e.g. 10,50,100)
    #[arg(long, value_name = "PERCENTS", value_delimiter = ',')]
    pub gradual: Vec<u8>,
    /// Time between gradual steps: 60s, 2m, 500ms, or seconds (at most 24h)
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub interval: String,
    /// When another command holds the application's lock, wait for it instead of refusing
    #[arg(long)]
    pub wait: bool,
}

pub fn swap(spec: &SpecArgs, aws: &AwsArgs, args: &SwapArgs) -> i32 {
    let interval = match parse_duration(&args.interval) {
        Ok(d) => d,
        Err(reason) => {
            return error(Refusal::BadInterval {
                given: args.interval.clone(),
                reason,
            })
        }
    };
    let request = SwapRequest {
        environment_a: args.environment_a.clone(),
        environment_b: args.environment_b.clone(),
        gradual: args.gradual.clone(),
        interval,
        force: args.force,
    };
    let (compilation, graph) = match load_spec(spec) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let session = match open_session(&compilation, aws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let interrupt = interrupt_on_ctrl_c(&session);
    let applications: Vec<String> = compilation
        .spec
        .environment(&args.environment_a)
        .map(|e| e.application.clone())
        .into_iter()
        .collect();
    let leases = match take_locks(
        &session,
        &graph,
        &applications,
        crate::ops::lock::LockRequest {
            command: "swap",
            wait: args.wait,
            create_bucket: false,
        },
        &interrupt,
    ) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let prepared = match prepare(&session, &compilation, &graph, &request) {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    if aws.verbose {
        eprintln!("{}", render_calls(&prepared.calls));
    }
    let plan = &prepared.plan;
    if let Some(warning) = &plan.forced {
        eprintln!("warning: {warning}");
    }
    let (giving, receiving) = (&plan.giving, &plan.receiving);
    println!(
        "Swap in application {}:\n  {}: {} → {}\n  {}: {} → {}",
        plan.application,
        plan.production,
        giving.environment,
        receiving.environment,
        receiving.name,
        receiving.environment,
        giving.environment
    );
    if let Some((give, take)) = plan.resumed_from {
        println!(
            "Continuing an unfinished gradual swap: {} is at {} {take}%, {} {give}%.",
            plan.production, receiving.environment, giving.environment
        );
    }
    if let Err(code) = confirm(args.yes, "swap", "--yes") {
        return code;
    }
    let result = perform(
        &session,
        &prepared,
        &request,
        &interrupt,
        |event| match event {
            SwapEvent::Step {
                number,
                of,
                take,
                interval,
            } => println!(
                "step {number}/{of}: {} → {} {take}%, {} {}%; checking {} again in {} s",
                plan.production,
                receiving.environment,
                giving.environment,
                100 - take,
                receiving.environment,
                interval.as_secs_f64()
            ),
            SwapEvent::Checked { health } => println!(
                "  {} is {}{}",
                receiving.environment,
                health.colour.as_str(),
                if health.causes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", health.causes.join("; "))
                }
            ),
            SwapEvent::RollingBack { reason } => {
                eprintln!("rolling back: {reason}")
            }
        },
    );
    let summary = match &result {
        Ok(SwapOutcome::Swapped { .. }) => format!(
            "{} → {}, {} → {}",
            plan.production, receiving.environment, receiving.name, giving.environment
        ),
        Ok(SwapOutcome::RolledBack { reason, .. }) => {
            format!(
                "{reason}; rolled back: {} → {}",
                plan.production, giving.environment
            )
        }
        Err(e) => e.to_string(),
    };
    let code = match result {
        Ok(SwapOutcome::Swapped { at }) => {
            println!(
                "\nSwapped: {} → {} ({}), {} → {} ({}).",
                plan.production,
                receiving.environment,
                receiving.dns,
                receiving.name,
                giving.environment,
                giving.dns
            );
            println!(
                "The records' TTL is {RECORD_TTL} s: clients may keep the old address for at least that long (some resolvers longer). Do not destroy {} before {} (`beanpole destroy` refuses until then without --force).",
                giving.environment,
                utc(at.saturating_add(RECORD_TTL as u64))
            );
            EXIT_OK
        }
        Ok(SwapOutcome::RolledBack {
            reason,
            interrupted,
        }) => {
            error(format!(
                "{reason}; rolled back: {} is served by {} again",
                plan.production, giving.environment
            ));
            if interrupted {
                EXIT_INTERRUPTED
            } else {
                EXIT_ERROR
            }
        }
        Err(e) => error(e),
    };
    let environments = [giving.environment.clone(), receiving.environment.clone()];
    super::record_event(
        &leases,
        &|_| environments.to_vec(),
        code,
        &summary,
        &serde_json::Value::Null,
    );
    code
}
