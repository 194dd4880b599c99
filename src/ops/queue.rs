//! `queue`: a worker environment's queue from the operator's side — a message sent (with
//! String attributes, as the application's producers would), its depth and its dead-letter
//! queue's, and the dead-letter queue's messages moved back to be processed again (counted).
//! The queues are the environment's stack's (or the spec's `worker { queue_url }`).

use super::{Context, OpError};
use crate::aws::sqs::{self, Depth};
use crate::model::Environment;
use std::collections::BTreeMap;

/// A worker's queues, as its stack's outputs (or the spec) name them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Queues {
    pub queue_url: String,
    /// Beanpole's dead-letter queue (none for the user's own queue).
    pub dead_letter_queue_url: Option<String>,
}

/// The environment's queues; an error for a web environment.
pub async fn queues(ctx: Context<'_>, env: &Environment) -> Result<Queues, OpError> {
    let Some(worker) = &env.worker else {
        return Err(OpError::Refused(format!(
            "environment {} is a web environment: it has no queue (`tier = \"worker\"` makes a worker)",
            env.name
        )));
    };
    let mut daemon = crate::platform::daemon::daemon_defaults(worker);
    super::functions::worker_queues(ctx, env, &mut daemon).await?;
    Ok(Queues {
        queue_url: daemon.queue_url,
        dead_letter_queue_url: daemon.dead_letter_queue_url,
    })
}

/// What `queue ENV stats` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    pub environment: String,
    pub queues: Queues,
    pub queue: Depth,
    pub dead_letter_queue: Option<Depth>,
}

pub async fn stats(ctx: Context<'_>, environment: &str) -> Result<QueueStats, OpError> {
    let env = ctx.environment(environment)?;
    let queues = queues(ctx, env).await?;
    let aws = ctx.session.client(&env.application)?;
    let queue = sqs::depth(&aws.sqs, &queues.queue_url)
        .await
        .map_err(OpError::Read)?
        .ok_or_else(|| {
            OpError::Refused(format!(
                "queue {} does not exist: run `beanpole apply` (or fix `worker {{ queue_url }}`)",
                queues.queue_url
            ))
        })?;
    let dead_letter_queue = match &queues.dead_letter_queue_url {
        Some(url) => sqs::depth(&aws.sqs, url).await.map_err(OpError::Read)?,
        None => None,
    };
    Ok(QueueStats {
        environment: env.name.clone(),
        queues,
        queue,
        dead_letter_queue,
    })
}

/// Sends one message to the environment's queue; its id.
pub async fn send(
    ctx: Context<'_>,
    environment: &str,
    body: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<String, OpError> {
    let env = ctx.environment(environment)?;
    let queues = queues(ctx, env).await?;
    let aws = ctx.session.client(&env.application)?;
    sqs::send(&aws.sqs, &queues.queue_url, body, attributes)
        .await
        .map_err(OpError::Read)
}

/// Moves the dead-letter queue's messages back to the queue; how many.
pub async fn redrive(ctx: Context<'_>, environment: &str) -> Result<usize, OpError> {
    let env = ctx.environment(environment)?;
    let queues = queues(ctx, env).await?;
    let Some(dead_letter) = &queues.dead_letter_queue_url else {
        return Err(OpError::Refused(format!(
            "environment {} reads its own queue ({}), whose dead-letter queue is yours: redrive it with SQS (StartMessageMoveTask)",
            env.name, queues.queue_url
        )));
    };
    let aws = ctx.session.client(&env.application)?;
    sqs::redrive(&aws.sqs, dead_letter, &queues.queue_url)
        .await
        .map_err(OpError::Read)
}

/// `NAME=VALUE` pairs; SQS's rules for attribute names (letters, digits, `-`, `_`, `.`; at
/// most 256; not starting with `AWS.` or `Amazon.`), at most 10 of them.
pub fn attributes(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!(
                "`--attr {}`: write NAME=VALUE",
                crate::display::printable(pair)
            ));
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
                crate::display::printable(pair)
            ));
        }
        if value.is_empty() {
            return Err(format!(
                "`--attr {}`: SQS takes no empty attribute value",
                crate::display::printable(pair)
            ));
        }
        out.insert(name.to_string(), value.to_string());
    }
    if out.len() > 10 {
        return Err("SQS takes at most 10 attributes per message".into());
    }
    Ok(out)
}
