//! `deploy` at the command line: arguments, the live progress display, the outcome (text or
//! `--json`) and exit statuses. The work is in `ops::deploy`.

use super::progress::{show, DeployClock};
use super::{error, lock_refused, open, plural, AwsArgs, SpecArgs, EXIT_INTERRUPTED, EXIT_OK};
use crate::deploy::outcome::DeployOutcome;
use crate::model::DeploymentPolicy;
use crate::ops::deploy::{deploy as run_deploy, DeployError, DeployRequest};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// The environment to deploy to
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// Deploy this stored version (no bundle, no upload)
    #[arg(long, value_name = "LABEL", conflicts_with_all = ["label", "source"])]
    pub version: Option<String>,
    /// Label of the new version (default: app-YYMMDD_HHMMSS-SHA7)
    #[arg(long)]
    pub label: Option<String>,
    /// Description of the new version (one line, at most 200 characters)
    #[arg(long, default_value = "")]
    pub message: String,
    /// The source folder (default: the application's `source`)
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Print the outcome as JSON (schema in the docs); progress still goes to stderr
    #[arg(long)]
    pub json: bool,
    /// When another command holds the application's lock, wait for it instead of refusing
    #[arg(long)]
    pub wait: bool,
    /// This deployment's policy instead of the environment's: all-at-once, rolling,
    /// rolling-with-additional-batch, immutable or traffic-splitting
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pub policy: Option<DeploymentPolicy>,
}

fn parse_policy(name: &str) -> Result<DeploymentPolicy, String> {
    DeploymentPolicy::parse(name).ok_or_else(|| {
        format!(
            "`{name}` is not a deployment policy: use one of {}",
            DeploymentPolicy::NAMES.join(", ")
        )
    })
}

pub async fn deploy(spec_args: &SpecArgs, aws: &AwsArgs, args: &DeployArgs) -> i32 {
    let opened = or_exit!(open(spec_args, aws).await);
    let request = DeployRequest {
        environment: args.environment.clone(),
        version: args.version.clone(),
        source: args.source.clone(),
        label: args.label.clone(),
        message: args.message.clone(),
        policy: args.policy,
        wait: args.wait,
    };
    let clock = DeployClock::start();
    let outcome = match run_deploy(opened.context(), &request, &mut |e| {
        show(e, clock.started())
    })
    .await
    {
        Ok(outcome) => outcome,
        Err(e) => return deploy_error(&e),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome).unwrap_or_default()
        );
    } else if outcome.succeeded() {
        println!(
            "Deployed {} to {} (deployment {}): {} instance{} in {:.1} s.",
            outcome.version,
            outcome.environment,
            outcome.deployment_id,
            outcome.instance_count(),
            plural(outcome.instance_count()),
            outcome.elapsed_seconds
        );
    }
    if outcome.succeeded() {
        return EXIT_OK;
    }
    if outcome.lost_lock || outcome.interrupted {
        return stopped(&outcome);
    }
    failed(&outcome)
}

fn deploy_error(e: &DeployError) -> i32 {
    match e {
        DeployError::Lock(e) => lock_refused(e),
        DeployError::Bundle(e) => {
            if let crate::ops::bundle::BundleError::Refused {
                problems, warnings, ..
            } = e
            {
                for u in warnings {
                    eprintln!("warning: {u}");
                }
                for p in problems {
                    eprintln!("  {p}");
                }
            }
            error(format!("{e}; nothing was uploaded or deployed"))
        }
        other => error(other),
    }
}

/// A deploy stopped by Ctrl-C, or by another command taking its lock.
fn stopped(outcome: &DeployOutcome) -> i32 {
    if outcome.lost_lock {
        return error(outcome.stop_message());
    }
    eprintln!("{}", outcome.stop_message());
    EXIT_INTERRUPTED
}

/// A deploy whose batch failed (or that was aborted): each failed instance, the rollback.
fn failed(outcome: &DeployOutcome) -> i32 {
    for line in outcome.failure_lines() {
        eprintln!("{}", super::printable(&line));
    }
    error(super::printable(&outcome.failure_message()))
}
