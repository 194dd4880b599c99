//! `plan`, `apply` and `destroy` at the command line: arguments, confirmation, the progress
//! display and the closing report. The work is in `ops::{plan, apply, destroy}`.

use super::{
    confirm, error, interrupt_on_ctrl_c, load_spec, open_session, plural, take_locks, AwsArgs,
    SpecArgs, EXIT_CHANGES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK,
};
use crate::interrupt::Interrupt;
use crate::ops::apply::{change_count, execute, ApplyEvent, ApplyOutcome};
use crate::ops::destroy::{describe, recently_swapped};
use crate::ops::lock::{Lease, LockRequest};
use crate::ops::plan::{
    check_saved, plan as make_plan, read_saved, saved_plan, PlanInputs, Planned,
};
use crate::ops::{check_scope, now_unix, Session};
use crate::reconcile::render::{render_calls, render_json, render_text};
use crate::reconcile::{Plan, PlanScope};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Compiles, connects, reads and diffs; prints what went wrong and returns the exit status.
fn planned(spec: &SpecArgs, aws: &AwsArgs, scope: &PlanScope) -> Result<(Session, Planned), i32> {
    let (compilation, graph) = load_spec(spec)?;
    check_scope(&compilation, &scope.environments).map_err(error)?;
    let session = open_session(&compilation, aws)?;
    let planned =
        make_plan(&session, graph, &compilation.spec.environments, scope).map_err(error)?;
    if aws.verbose {
        eprintln!("{}", render_calls(&planned.calls));
    }
    Ok((session, planned))
}

/// A command that changes the account: its plan, made while it holds the locks of the
/// applications it works on (taken before the account is read), and its Ctrl-C interrupt.
struct Locked {
    // First, so that they are released (dropped) while the session's runtime still runs.
    leases: Vec<Lease>,
    /// Per application, its environments the command works on (for its events).
    environments: std::collections::BTreeMap<String, Vec<String>>,
    session: Session,
    planned: Planned,
    interrupt: Interrupt,
    compilation: crate::spec::Compilation,
}

fn planned_locked(
    spec: &SpecArgs,
    aws: &AwsArgs,
    scope: &PlanScope,
    command: &str,
    wait: bool,
) -> Result<Locked, i32> {
    let (compilation, graph) = load_spec(spec)?;
    check_scope(&compilation, &scope.environments).map_err(error)?;
    let session = open_session(&compilation, aws)?;
    let interrupt = interrupt_on_ctrl_c(&session);
    let applications: Vec<String> = if scope.environments.is_empty() {
        compilation
            .spec
            .applications
            .iter()
            .map(|a| a.name.clone())
            .collect()
    } else {
        scope
            .environments
            .iter()
            .filter_map(|e| compilation.spec.environment(e))
            .map(|e| e.application.clone())
            .collect()
    };
    let request = LockRequest {
        command,
        wait,
        create_bucket: true,
    };
    let leases = take_locks(&session, &graph, &applications, request, &interrupt)?;
    let environments = applications
        .iter()
        .map(|a| {
            (
                a.clone(),
                super::environments_in_scope(&compilation, a, &scope.environments),
            )
        })
        .collect();
    let planned =
        make_plan(&session, graph, &compilation.spec.environments, scope).map_err(error)?;
    if aws.verbose {
        eprintln!("{}", render_calls(&planned.calls));
    }
    Ok(Locked {
        environments,
        session,
        planned,
        interrupt,
        leases,
        compilation,
    })
}

/// After a successful walk, the changes that reach running instances: each environment's
/// instances replaced through its policy, or a configuration deployment in place.
fn roll_out(locked: &Locked, code: i32, summary: String) -> (i32, String) {
    if code != EXIT_OK || locked.planned.plan.rollouts.is_empty() {
        return (code, summary);
    }
    let mut started = std::time::Instant::now();
    let mut show = |event: crate::ops::rollout::RolloutEvent<'_>| match event {
        crate::ops::rollout::RolloutEvent::Starting(rollout) => {
            println!("\n{}:", capitalized(&rollout.note()));
            started = std::time::Instant::now();
        }
        crate::ops::rollout::RolloutEvent::Deploy(event) => {
            eprintln!("{}", super::deploy::progress_line(&event, started))
        }
    };
    let results = crate::ops::rollout::roll_out_all(
        &locked.compilation,
        &locked.planned.graph,
        &locked.session,
        &locked.planned.plan.rollouts,
        &locked.interrupt,
        &mut show,
    );
    let mut summary = summary;
    for (rollout, result) in results {
        match result {
            Ok(None) => println!(
                "Nothing to deploy on {}: no version is deployed there yet (its instances take the new settings when one is).",
                rollout.environment
            ),
            Ok(Some(outcome)) if outcome.succeeded() => {
                println!(
                    "Rolled out on {} in {:.1} s.",
                    rollout.environment, outcome.elapsed_seconds
                );
                summary.push_str(&format!("; {} rolled out", rollout.environment));
            }
            Ok(Some(outcome)) => {
                let code = error(format!(
                    "the rollout on {} failed ({}); the environment's instances that were not replaced still serve {}: fix the cause and apply again",
                    rollout.environment,
                    outcome
                        .failed_instances()
                        .map(|i| format!("{} {} at {}: {}", i.instance, i.outcome, i.failed_step.as_deref().unwrap_or("-"), i.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                    outcome.version
                ));
                return (code, format!("{summary}; the rollout on {} failed", rollout.environment));
            }
            Err(e) => {
                let code = error(format!(
                    "the rollout on {} failed: {e}; apply again to finish it",
                    rollout.environment
                ));
                return (code, format!("{summary}; the rollout on {} failed", rollout.environment));
            }
        }
    }
    (EXIT_OK, summary)
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn report_plan_errors(plan: &Plan) -> Result<(), i32> {
    if plan.errors.is_empty() {
        return Ok(());
    }
    for e in &plan.errors {
        error(e);
    }
    Err(error(format!(
        "no plan: {} error{}",
        plan.errors.len(),
        plural(plan.errors.len())
    )))
}

fn print_account(session: &Session) {
    if let Some((account, region)) = session.account() {
        println!("Account {account}, region {region}.\n");
    }
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Save the plan to FILE for `beanpole apply FILE`
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (schema in the README)
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there is nothing to change, 2 when there is, 1 on error
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
    /// Plan only this environment (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
}

pub fn plan(spec: &SpecArgs, aws: &AwsArgs, args: &PlanArgs) -> i32 {
    let scope = PlanScope {
        environments: args.environments.clone(),
        destroy: false,
        delete_versions: false,
    };
    let (session, planned) = match planned(spec, aws, &scope) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.json {
        let json = render_json(&planned.plan, &planned.calls);
        match serde_json::to_string_pretty(&json) {
            Ok(text) => println!("{text}"),
            Err(e) => return error(format!("cannot render the plan as JSON: {e}")),
        }
    }
    if let Err(code) = report_plan_errors(&planned.plan) {
        return code;
    }
    if !args.json {
        print_account(&session);
        print!("{}", render_text(&planned.plan));
    }
    if let Some(path) = &args.out {
        let inputs = PlanInputs {
            dir: &spec.dir,
            vars: &spec.vars,
            var_files: &spec.var_files,
            scope: &scope,
        };
        let text = match serde_json::to_string_pretty(&saved_plan(&inputs, &planned)) {
            Ok(t) => t,
            Err(e) => return error(format!("cannot write the plan: {e}")),
        };
        if let Err(e) = std::fs::write(path, text) {
            return error(format!("cannot write the plan to {}: {e}", path.display()));
        }
        if !args.json {
            println!(
                "\nSaved the plan to {}. Apply exactly it with: beanpole apply {}",
                path.display(),
                path.display()
            );
        }
    }
    if args.detailed_exitcode && (!planned.plan.is_empty() || !planned.plan.rollouts.is_empty()) {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

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
}

pub fn apply(spec: &SpecArgs, aws: &AwsArgs, args: &ApplyArgs) -> i32 {
    if let Some(path) = &args.plan_file {
        return apply_saved(path, aws, args);
    }
    let scope = PlanScope {
        environments: args.environments.clone(),
        destroy: false,
        delete_versions: false,
    };
    let locked = match planned_locked(spec, aws, &scope, "apply", args.wait) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (session, planned) = (&locked.session, &locked.planned);
    if let Err(code) = report_plan_errors(&planned.plan) {
        return code;
    }
    print_account(session);
    print!("{}", render_text(&planned.plan));
    if planned.plan.is_empty() && planned.plan.rollouts.is_empty() {
        return locked.record(EXIT_OK, "nothing to change");
    }
    if let Err(code) = confirm(args.auto_approve, "apply", "--auto-approve") {
        return code;
    }
    let (code, summary) = if planned.plan.is_empty() {
        (EXIT_OK, "no resource to change".to_string())
    } else {
        walk(
            session,
            planned,
            args.parallelism,
            "Apply",
            &locked.interrupt,
        )
    };
    let (code, summary) = roll_out(&locked, code, summary);
    locked.record(code, &summary)
}

fn apply_saved(path: &Path, aws: &AwsArgs, args: &ApplyArgs) -> i32 {
    let saved = match read_saved(path) {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let spec = SpecArgs {
        dir: saved.dir.clone(),
        vars: saved.vars.clone(),
        var_files: saved.var_files.clone(),
    };
    let locked = match planned_locked(&spec, aws, &saved.scope, "apply", args.wait) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (session, planned) = (&locked.session, &locked.planned);
    if let Err(code) = report_plan_errors(&planned.plan) {
        return code;
    }
    let made_by_lock: Vec<String> = locked
        .leases
        .iter()
        .filter_map(|l| l.created_bucket.clone())
        .collect();
    if let Err(e) = check_saved(path, &saved, planned, &made_by_lock) {
        if let crate::ops::plan::SavedPlanError::Stale { reasons, .. } = &e {
            for reason in reasons {
                eprintln!("  {reason}");
            }
        }
        return error(e);
    }
    print!("{}", render_text(&planned.plan));
    if planned.plan.is_empty() && planned.plan.rollouts.is_empty() {
        return locked.record(EXIT_OK, "nothing to change");
    }
    // A saved plan was reviewed when it was made: applying it is the approval.
    let (code, summary) = if planned.plan.is_empty() {
        (EXIT_OK, "no resource to change".to_string())
    } else {
        walk(
            session,
            planned,
            args.parallelism,
            "Apply",
            &locked.interrupt,
        )
    };
    let (code, summary) = roll_out(&locked, code, summary);
    locked.record(code, &summary)
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
    /// When another command holds the application's lock, wait for it instead of refusing
    #[arg(long)]
    pub wait: bool,
}

pub fn destroy(spec: &SpecArgs, aws: &AwsArgs, args: &DestroyArgs) -> i32 {
    if args.delete_versions && !args.environments.is_empty() {
        return error("--delete-versions deletes the versions of whole applications: it cannot be combined with --env");
    }
    let scope = PlanScope {
        environments: args.environments.clone(),
        destroy: true,
        delete_versions: args.delete_versions,
    };
    let locked = match planned_locked(spec, aws, &scope, "destroy", args.wait) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (session, planned) = (&locked.session, &locked.planned);
    if let Err(code) = report_plan_errors(&planned.plan) {
        return code;
    }
    print_account(session);
    if planned.plan.is_empty() {
        println!("Nothing to destroy: Beanpole owns no resource of this spec in the account.");
        return EXIT_OK;
    }
    let now = now_unix();
    let recent = recently_swapped(&planned.plan, now);
    if !recent.is_empty() {
        let message = describe(&recent, now);
        if !args.force {
            return error(format!("refusing to destroy: {message}"));
        }
        eprintln!("warning: {message}; destroying anyway because of --force");
    }
    print!("{}", render_text(&planned.plan));
    if let Err(code) = confirm(args.auto_approve, "destroy", "--auto-approve") {
        return code;
    }
    let (code, summary) = walk(
        session,
        planned,
        args.parallelism,
        "Destroy",
        &locked.interrupt,
    );
    if args.delete_versions && code == EXIT_OK {
        // The versions bucket, with the application's events, is gone.
        return code;
    }
    locked.record(code, &summary)
}

/// Runs the steps with a progress display, then reports; exit 0, 1 (a failure) or 130 (Ctrl-C).
fn walk(
    session: &Session,
    planned: &Planned,
    parallelism: usize,
    what: &str,
    interrupt: &Interrupt,
) -> (i32, String) {
    let mut progress = Progress {
        live: std::io::stderr().is_terminal(),
        running: Vec::new(),
        finished: 0,
        total: change_count(planned),
    };
    println!();
    let outcome = execute(session, planned, parallelism, interrupt, |event| {
        progress.show(&event)
    });
    progress.clear();
    let code = report(&outcome, what);
    let s = outcome.summary;
    let summary = if outcome.succeeded() {
        format!(
            "{} added, {} changed, {} replaced, {} destroyed",
            s.add, s.change, s.replace, s.destroy
        )
    } else {
        format!(
            "{} failed{}, {} done, {} not started",
            outcome.failed.len(),
            outcome
                .failed
                .first()
                .map(|(label, message)| format!(" ({label}: {message})"))
                .unwrap_or_default(),
            outcome.done,
            outcome.not_started.len()
        )
    };
    (code, summary)
}

impl Locked {
    /// Records the command's outcome in each locked application's events; the exit status.
    fn record(&self, code: i32, summary: &str) -> i32 {
        let environments_of = |application: &str| {
            self.environments
                .get(application)
                .cloned()
                .unwrap_or_default()
        };
        super::record_event(
            &self.leases,
            &environments_of,
            code,
            summary,
            &serde_json::Value::Null,
        );
        code
    }
}

fn report(outcome: &ApplyOutcome, what: &str) -> i32 {
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
    fn show(&mut self, event: &ApplyEvent) {
        match event {
            ApplyEvent::Started { label, doing } => {
                self.running.push(label.clone());
                if !self.live {
                    println!("{label}: {doing}...");
                }
            }
            ApplyEvent::Done {
                label,
                done,
                elapsed,
            } => {
                self.finish(label);
                println!("{label}: {done} in {:.1} s", elapsed.as_secs_f64());
            }
            ApplyEvent::Failed { label, message } => {
                self.finish(label);
                println!("{label}: FAILED: {message}");
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
