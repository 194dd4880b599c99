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
        QueueAction::Send { attributes, .. } => match queue::attributes(attributes) {
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
