//! `queue ENV send|stats|redrive`: a worker environment's queue. The work is in `ops::queue`.

use super::{error, open, printable, AwsArgs, SpecArgs, EXIT_OK};
use crate::ops::queue;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// The worker environment
    #[arg(value_name = "ENV")]
    pub environment: String,
    #[command(subcommand)]
    pub action: QueueAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum QueueAction {
    /// Send one message (its body as given) to the environment's queue
    Send {
        /// The message's body
        #[arg(value_name = "BODY")]
        body: String,
        /// A String message attribute, NAME=VALUE (the daemon passes it as X-Aws-Sqsd-Attr-NAME); repeatable
        #[arg(long = "attr", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
    },
    /// The queue's and the dead-letter queue's depth
    Stats {
        /// Print JSON: {"environment", "queues": {queue_url, dead_letter_queue_url}, "queue": {visible, in_flight, delayed}, "dead_letter_queue"}
        #[arg(long)]
        json: bool,
    },
    /// Move the dead-letter queue's messages back to the queue, to be processed again
    Redrive,
}

pub async fn queue(spec: &SpecArgs, aws: &AwsArgs, args: &QueueArgs) -> i32 {
    let attributes = match &args.action {
        QueueAction::Send { attributes, .. } => match parse_attributes(attributes) {
            Ok(a) => a,
            Err(message) => return error(message),
        },
        _ => BTreeMap::new(),
    };
    let opened = or_exit!(open(spec, aws).await);
    let ctx = opened.context();
    let env = &args.environment;
    match &args.action {
        QueueAction::Send { body, .. } => {
            let id = or_exit!(queue::send(ctx, env, body, &attributes)
                .await
                .map_err(error));
            println!("Sent message {} to {env}'s queue.", printable(&id));
        }
        QueueAction::Stats { json } => {
            let stats = or_exit!(queue::stats(ctx, env).await.map_err(error));
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&stats).unwrap_or_default()
                );
                return EXIT_OK;
            }
            let q = &stats.queue;
            println!("Queue of {env}: {}", printable(&stats.queues.queue_url));
            println!(
                "  {} visible, {} in flight, {} delayed",
                q.visible, q.in_flight, q.delayed
            );
            match (
                &stats.dead_letter_queue,
                &stats.queues.dead_letter_queue_url,
            ) {
                (Some(d), Some(url)) => {
                    println!("Dead-letter queue: {}", printable(url));
                    println!("  {} visible, {} in flight", d.visible, d.in_flight);
                }
                (None, Some(url)) => {
                    println!("Dead-letter queue {} does not exist", printable(url))
                }
                _ => {}
            }
        }
        QueueAction::Redrive => {
            let moved = or_exit!(queue::redrive(ctx, env).await.map_err(error));
            println!("Moved {moved} message(s) from {env}'s dead-letter queue back to its queue.");
        }
    }
    EXIT_OK
}

/// `NAME=VALUE` pairs; SQS's rules for attribute names (letters, digits, `-`, `_`, `.`; at
/// most 256; not starting with `AWS.` or `Amazon.`), at most 10 of them.
fn parse_attributes(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("`--attr {}`: write NAME=VALUE", printable(pair)));
        };
        let valid = !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.to_ascii_lowercase().starts_with("aws.")
            && !name.to_ascii_lowercase().starts_with("amazon.");
        if !valid {
            return Err(format!(
                "`--attr {}`: an attribute name is letters, digits, `-`, `_` and `.` (not first or last, not starting with AWS. or Amazon.)",
                printable(pair)
            ));
        }
        if value.is_empty() {
            return Err(format!(
                "`--attr {}`: SQS takes no empty attribute value",
                printable(pair)
            ));
        }
        out.insert(name.to_string(), value.to_string());
    }
    if out.len() > 10 {
        return Err("SQS takes at most 10 attributes per message".into());
    }
    Ok(out)
}
