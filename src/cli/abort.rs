//! `abort ENV` at the command line: what abort asked or undid, and its exit status. The work
//! is in `ops::abort`.

use super::progress::{show, undone_line, DeployClock};
use super::{error, lock_refused, open, AwsArgs, SpecArgs, EXIT_OK};
use crate::bucket::{Event, EventOutcome};
use crate::deploy::outcome::Completion;
use crate::ops::abort::{abort as run_abort, AbortEvent, AbortReport, AbortRequestArgs};
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
    let opened = match open(spec_args, aws).await {
        Ok(o) => o,
        Err(code) => return code,
    };
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
        Ok(AbortReport::DeployEnded(Some(event))) => deploy_ended(&env, &event),
        Ok(AbortReport::DeployEnded(None)) => error(format!(
            "the deploy of {env} ended without an event: see `beanpole events {env}` and `beanpole status {env}`"
        )),
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
                println!("Aborted: {}.", undone_line(&undone));
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
fn deploy_ended(env: &str, event: &Event) -> i32 {
    println!(
        "The deploy ended: {} ({}).",
        super::printable(&event.summary),
        event.outcome.as_str()
    );
    let outcome = event.details.deploy();
    let aborted = outcome.is_some_and(|o| o.aborted.is_some());
    let rollback = outcome.and_then(|o| o.rollback.as_ref());
    if aborted && rollback.is_some_and(|r| r.outcome == Completion::Succeeded) {
        println!("Aborted and rolled back.");
        return EXIT_OK;
    }
    if event.outcome == EventOutcome::Succeeded {
        return error(format!(
            "the deploy finished before its next batch: it runs on every instance of {env}; deploy the previous version to go back"
        ));
    }
    if aborted && rollback.is_none() {
        // Aborted before any instance took the version: nothing to roll back.
        println!("Aborted before any instance took the new version.");
        return EXIT_OK;
    }
    error(format!(
        "the deploy of {env} ended without rolling back: see `beanpole events {env}`"
    ))
}
