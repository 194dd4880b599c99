//! `abort ENV` at the command line: what abort asked or undid, and its exit status. The work
//! is in `ops::abort`.

use super::progress::{show, DeployClock};
use super::{error, lock_refused, open, AwsArgs, SpecArgs, EXIT_OK};
use crate::deploy::outcome::Completion;
use crate::ops::abort::{abort as run_abort, AbortEvent, AbortReport, AbortRequestArgs, DeployEnd};
use crate::ops::deploy::DeployError;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct AbortArgs {
    /// The environment whose deployment to stop and roll back
    #[arg(value_name = "ENV")]
    pub environment: String,
}

/// `abort ENV`: asks the deploy holding the lock to stop and roll back, and waits for it; or,
/// when no live command holds the lock, takes it and undoes the unfinished deployment.
pub async fn abort(spec_args: &SpecArgs, aws: &AwsArgs, args: &AbortArgs) -> i32 {
    let opened = or_exit!(open(spec_args, aws).await);
    let env = args.environment.clone();
    let clock = DeployClock::start();
    let request = AbortRequestArgs {
        environment: env.clone(),
    };
    let report = run_abort(opened.context(), &request, &mut |event| match event {
        AbortEvent::Asked(holder) => println!(
            "Asked the deploy of {env} ({}) to stop at its next batch and roll back; waiting for it…",
            holder.describe()
        ),
        AbortEvent::HolderDied => {
            println!("The deploy stopped renewing its lock (it died): rolling back here.")
        }
        AbortEvent::HolderGone(dead) => println!(
            "The command holding the lock, {}, is gone: rolling back here.",
            dead.describe()
        ),
        AbortEvent::Deploy(e) => show(e, clock.started()),
    })
    .await;
    match report {
        Ok(AbortReport::DeployEnded(end)) => deploy_ended(&env, end),
        Ok(AbortReport::Undone(undone)) => match &undone.rollback {
            Some(r) if r.outcome == Completion::Succeeded => {
                println!("Rolled back: {env} runs {} again.", r.version);
                EXIT_OK
            }
            Some(r) => error(format!(
                "the rollback of {env} to {} failed: see `beanpole logs {env}`",
                r.version
            )),
            None => {
                println!("Aborted: {}.", undone.line());
                EXIT_OK
            }
        },
        Ok(AbortReport::NothingToAbort) => {
            println!("No deployment of {env} is in progress or unfinished: nothing to abort.");
            EXIT_OK
        }
        Err(DeployError::Lock(e)) => lock_refused(&e),
        Err(e) => error(e),
    }
}

/// The deploy asked to stop ended: how, as its event says.
fn deploy_ended(env: &str, end: DeployEnd) -> i32 {
    let event = match &end {
        DeployEnd::NoEvent => return error(format!(
            "the deploy of {env} ended without an event: see `beanpole events {env}` and `beanpole status {env}`"
        )),
        DeployEnd::RolledBack(e)
        | DeployEnd::StoppedBeforeAnyInstance(e)
        | DeployEnd::FinishedFirst(e)
        | DeployEnd::Otherwise(e) => e,
    };
    println!(
        "The deploy ended: {} ({}).",
        super::printable(&event.summary),
        event.outcome.as_str()
    );
    match end {
        DeployEnd::RolledBack(_) => {
            println!("Aborted and rolled back.");
            EXIT_OK
        }
        DeployEnd::StoppedBeforeAnyInstance(_) => {
            println!("Aborted before any instance took the new version.");
            EXIT_OK
        }
        DeployEnd::FinishedFirst(_) => error(format!(
            "the deploy finished before its next batch: it runs on every instance of {env}; deploy the previous version to go back"
        )),
        _ => error(format!(
            "the deploy of {env} ended without rolling back: see `beanpole events {env}`"
        )),
    }
}
