//! `status` at the command line: each environment's health in Elastic Beanstalk's colours
//! with its causes, as text or JSON, once or refreshed with `--watch`. The work is in
//! `ops::status`.

use super::{error, open, AwsArgs, SpecArgs, EXIT_OK};
use crate::duration::parse_duration;
use crate::ops::status::{status as observe, StatusRequest};
use crate::reconcile::render::render_calls;
use crate::status::render::{status_json, status_text};
use crate::status::{Health, Observation};
use clap::Args;
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

pub async fn status(spec: &SpecArgs, aws: &AwsArgs, args: &StatusArgs) -> i32 {
    let interval = match parse_duration(&args.interval) {
        Ok(d) if d >= std::time::Duration::from_millis(100) => d,
        Ok(_) => return error(format!("`--interval {}`: at least 100ms", args.interval)),
        Err(reason) => return error(format!("`--interval {}`: {reason}", args.interval)),
    };
    let opened = or_exit!(open(spec, aws).await);
    let request = StatusRequest {
        environments: args.environments.clone(),
    };
    let tty = std::io::stdout().is_terminal();
    loop {
        let observed = or_exit!(observe(opened.context(), &request).await.map_err(error));
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
