//! `apply` and `destroy` at the command line: arguments, the plan shown and confirmed, the
//! progress display and the closing report. The work is in `ops::apply` and `ops::destroy`.

use super::plan::plan_errors;
use super::progress::{deploy_line, DeployClock};
use super::{
    capitalized, confirm, error, lock_refused, open, show_lock_event, AwsArgs, SpecArgs,
    EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK,
};
use crate::ops::apply::{apply as run_apply, Applied, ApplyError, ApplyEvent, ApplyRequest, Ran};
use crate::ops::destroy::{
    destroy as run_destroy, DestroyError, DestroyEvent, DestroyRequest, Destroyed,
};
use crate::ops::plan::{read_saved, SavedPlanError};
use crate::ops::rollout::RolloutEvent;
use crate::ops::walk::{change_count, WalkEvent, WalkOutcome};
use crate::reconcile::render::{render_calls, render_text};
use crate::reconcile::PlanScope;
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// A plan saved by `beanpole plan --out FILE`: apply exactly it, or refuse if it is stale
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// How many resources to work on at once (waits for AWS do not count)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub parallelism: usize,
    /// Apply only this environment (repeatable; ignored with a PLANFILE, which has its own)
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
    /// When another command holds the application's lock, wait for it instead of refusing
    #[arg(long)]
    pub wait: bool,
    /// Allow a change that replaces or deletes an extra resource holding data (a table, a
    /// bucket, a database); without it such a change is refused
    #[arg(long = "delete-data")]
    pub delete_data: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    /// Destroy only this environment (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
    /// Do not ask for confirmation
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// How many resources to work on at once (waits for AWS do not count)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub parallelism: usize,
    /// Destroy even an environment that took part in a swap less than its records' TTL ago
    #[arg(long)]
    pub force: bool,
    /// Also delete the account's versions bucket (the applications' versions with it), when it
    /// holds versions of no other application; without it, destroy leaves the bucket
    #[arg(long = "delete-versions")]
    pub delete_versions: bool,
    /// Also delete the extra resources that hold data (tables, buckets, databases, log
    /// groups); without it destroy keeps them and says which
    #[arg(long = "delete-data")]
    pub delete_data: bool,
    /// When another command holds the application's lock, wait for it instead of refusing
    #[arg(long)]
    pub wait: bool,
}

pub async fn apply(spec: &SpecArgs, aws: &AwsArgs, args: &ApplyArgs) -> i32 {
    let (spec, scope, saved) = match &args.plan_file {
        Some(path) => match read_saved(path) {
            Ok(saved) => (
                SpecArgs {
                    dir: saved.dir.clone(),
                    vars: saved.vars.clone(),
                    var_files: saved.var_files.clone(),
                },
                saved.scope.clone(),
                Some((path.clone(), saved)),
            ),
            Err(e) => return error(e),
        },
        None => (
            spec.clone(),
            PlanScope {
                environments: args.environments.clone(),
                destroy: false,
                delete_versions: false,
                delete_data: args.delete_data,
            },
            None,
        ),
    };
    let opened = or_exit!(open(&spec, aws).await);
    let request = ApplyRequest {
        scope,
        parallelism: args.parallelism,
        wait: args.wait,
        saved,
    };
    let mut display = Display::new(aws.verbose);
    let result = run_apply(
        opened.context(),
        &request,
        &mut |_| confirm(args.auto_approve, "apply", "--auto-approve"),
        &mut |e| display.show(e),
    )
    .await;
    match result {
        Ok(Applied::NothingToDo) => EXIT_OK,
        Ok(Applied::NotApproved) => EXIT_ERROR,
        Ok(Applied::Ran(ran)) => ran_status(&ran),
        Err(e) => apply_error(&e),
    }
}

/// The exit status of an apply that ran, after its closing report.
fn ran_status(ran: &Ran) -> i32 {
    for (environment, undone) in &ran.undone {
        if let Err(e) = undone {
            return error(format!(
                "the unfinished deployment on {environment} could not be undone: {e}; apply again to finish it"
            ));
        }
    }
    if let Some(walk) = &ran.walk {
        let code = report(walk, "Apply");
        if code != EXIT_OK {
            return code;
        }
    }
    for (rollout, result) in &ran.rollouts {
        let code = super::progress::rollout_result(rollout, result);
        if code != EXIT_OK {
            return code;
        }
    }
    EXIT_OK
}

fn apply_error(e: &ApplyError) -> i32 {
    match e {
        ApplyError::Lock(e) => lock_refused(e),
        ApplyError::Plan(errors) => plan_errors(errors).err().unwrap_or(EXIT_ERROR),
        ApplyError::SavedPlan(stale @ SavedPlanError::Stale { reasons, .. }) => {
            for reason in reasons {
                eprintln!("  {reason}");
            }
            error(stale)
        }
        other => error(other),
    }
}

pub async fn destroy(spec: &SpecArgs, aws: &AwsArgs, args: &DestroyArgs) -> i32 {
    let request = DestroyRequest {
        environments: args.environments.clone(),
        parallelism: args.parallelism,
        force: args.force,
        delete_versions: args.delete_versions,
        delete_data: args.delete_data,
        wait: args.wait,
    };
    if request.delete_versions && !request.environments.is_empty() {
        return error(DestroyError::VersionsOfSomeEnvironments);
    }
    let opened = or_exit!(open(spec, aws).await);
    let mut display = Display::new(aws.verbose);
    let result = run_destroy(
        opened.context(),
        &request,
        &mut |_| confirm(args.auto_approve, "destroy", "--auto-approve"),
        &mut |e| match e {
            DestroyEvent::Apply(e) => display.show(e),
            DestroyEvent::Forced(message) => {
                eprintln!("warning: {message}; destroying anyway because of --force")
            }
        },
    )
    .await;
    match result {
        Ok(Destroyed::NothingToDestroy) => {
            println!("Nothing to destroy: Beanpole owns no resource of this spec in the account.");
            EXIT_OK
        }
        Ok(Destroyed::NotApproved) => EXIT_ERROR,
        Ok(Destroyed::Ran(walk)) => report(&walk, "Destroy"),
        Err(DestroyError::Apply(e)) => apply_error(&e),
        Err(e) => error(e),
    }
}

/// What apply and destroy show as they go.
struct Display {
    verbose: bool,
    progress: Option<Progress>,
    clock: DeployClock,
}

impl Display {
    fn new(verbose: bool) -> Display {
        Display {
            verbose,
            progress: None,
            clock: DeployClock::start(),
        }
    }

    fn show(&mut self, event: ApplyEvent<'_>) {
        match event {
            ApplyEvent::Lock(e) => show_lock_event(e),
            ApplyEvent::Account(Some((account, region))) => {
                println!("Account {account}, region {region}.\n")
            }
            ApplyEvent::Account(None) => {}
            ApplyEvent::Planned(planned) => {
                if self.verbose {
                    eprintln!("{}", render_calls(&planned.calls));
                }
                print!("{}", render_text(&planned.plan));
                self.progress = Some(Progress::new(change_count(planned)));
            }
            ApplyEvent::Undo(e) => eprintln!("{}", deploy_line(&e, self.clock.started())),
            ApplyEvent::Walk(e) => {
                if let Some(progress) = &mut self.progress {
                    if progress.finished == 0 && progress.running.is_empty() {
                        println!();
                    }
                    progress.show(&e);
                }
            }
            ApplyEvent::Rollout(RolloutEvent::Starting(rollout)) => {
                if let Some(progress) = &self.progress {
                    progress.clear();
                }
                println!("\n{}:", capitalized(&rollout.note()));
                self.clock = DeployClock::start();
            }
            ApplyEvent::Rollout(RolloutEvent::Deploy(e)) => {
                eprintln!("{}", deploy_line(&e, self.clock.started()))
            }
            ApplyEvent::NotRecorded { application, error } => eprintln!(
                "warning: could not record this command in the events of {application}: {error}"
            ),
        }
    }
}

/// The closing report of a walk; exit 0, 1 (a failure) or 130 (Ctrl-C).
fn report(outcome: &WalkOutcome, what: &str) -> i32 {
    let seconds = outcome.elapsed.as_secs_f64();
    let lower = what.to_lowercase();
    if outcome.succeeded() {
        let s = outcome.summary;
        println!(
            "\n{what} complete in {seconds:.1} s! Resources: {} added, {} changed, {} replaced, {} destroyed.",
            s.add, s.change, s.replace, s.destroy
        );
        return EXIT_OK;
    }
    eprintln!();
    for (label, message) in &outcome.failed {
        error(format!("{label}: {message}"));
    }
    let counts = format!(
        "{} failed, {} done, {} not started",
        outcome.failed.len(),
        outcome.done,
        outcome.not_started.len()
    );
    if !outcome.not_started.is_empty() {
        eprintln!("Not started:");
        for label in &outcome.not_started {
            eprintln!("  {label}");
        }
    }
    if outcome.interrupted && outcome.failed.is_empty() {
        eprintln!(
            "{what} interrupted after {seconds:.1} s: {counts}. Everything made so far is tagged; run {lower} again to resume."
        );
        return EXIT_INTERRUPTED;
    }
    error(format!(
        "{lower} {}after {seconds:.1} s: {counts}. Everything made so far is tagged; run {lower} again to resume.",
        if outcome.interrupted { "interrupted and failed " } else { "failed " }
    ));
    if outcome.interrupted {
        EXIT_INTERRUPTED
    } else {
        EXIT_ERROR
    }
}

/// Progress per resource: a status line on a terminal, plain lines elsewhere.
struct Progress {
    live: bool,
    running: Vec<String>,
    finished: usize,
    total: usize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            live: std::io::stderr().is_terminal(),
            running: Vec::new(),
            finished: 0,
            total,
        }
    }

    fn show(&mut self, event: &WalkEvent) {
        match event {
            WalkEvent::Started { label, doing } => {
                self.running.push(label.clone());
                if !self.live {
                    println!("{label}: {doing}...");
                }
            }
            WalkEvent::Done {
                label,
                done,
                elapsed,
            } => {
                self.finish(label);
                println!("{label}: {done} in {:.1} s", elapsed.as_secs_f64());
            }
            WalkEvent::Failed { label, message } => {
                self.finish(label);
                println!("{label}: FAILED: {message}");
            }
            WalkEvent::Stack { label, event } => {
                self.clear();
                let line = format!(
                    "{label}: {} ({}) {}{}",
                    event.logical_id,
                    event.resource_type,
                    event.status,
                    event
                        .reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
                println!("{}", crate::display::printable(&line));
            }
        }
        if self.live {
            let running = self.running.join(", ");
            let mut line = format!("[{}/{}] working on: {running}", self.finished, self.total);
            if line.chars().count() > 150 {
                line = line.chars().take(147).collect::<String>() + "...";
            }
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
        }
    }

    fn finish(&mut self, label: &str) {
        self.running.retain(|r| r != label);
        self.finished += 1;
        self.clear();
    }

    fn clear(&self) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
    }
}
