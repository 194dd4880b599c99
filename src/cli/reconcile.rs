//! `plan`, `apply` and `destroy`: compile the spec, read the account, diff, show, confirm, and
//! walk the steps. Prints and exit statuses live here; the work is in `reconcile` and `aws`.

use super::{load_spec, plural, stderr_style, SpecArgs, EXIT_ERROR, EXIT_OK};
use crate::aws::calls::CallCounter;
use crate::aws::live::read_live_state;
use crate::aws::steps::{run_step, Outputs};
use crate::aws::{sts, Aws, AwsError, Connection};
use crate::graph::ResourceGraph;
use crate::reconcile::executor::{walk, Event, Outcome};
use crate::reconcile::planfile::{stale_reasons, SavedPlan, PLAN_FILE_VERSION};
use crate::reconcile::render::{render_calls, render_json, render_text};
use crate::reconcile::steps::{build_steps, StepWork};
use crate::reconcile::swaps::follow_swaps;
use crate::reconcile::{diff, CallStats, LiveState, Plan, PlanScope};
use crate::spec::Compilation;
use clap::Args;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Exit status of `plan --detailed-exitcode` when there are changes.
pub const EXIT_CHANGES: i32 = 2;

/// How to reach AWS, shared by every command that does.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Send every AWS call to this endpoint (e.g. a local moto); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Report the AWS API calls made per service and the time taken
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

/// Connected clients per application (each application has its own region).
pub(super) struct Session {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) by_application: BTreeMap<String, Aws>,
    pub(super) calls: Arc<CallCounter>,
}

impl Session {
    pub(super) fn open(compilation: &Compilation, aws: &AwsArgs) -> Result<Session, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let calls = CallCounter::new();
        let mut by_region: BTreeMap<Option<String>, Aws> = BTreeMap::new();
        let mut by_application = BTreeMap::new();
        for application in &compilation.spec.applications {
            let key = application.region.clone();
            if !by_region.contains_key(&key) {
                let connection = Connection {
                    region: key.clone(),
                    endpoint_url: aws.endpoint_url.clone(),
                };
                let client = runtime
                    .block_on(Aws::connect(&connection, calls.clone()))
                    .map_err(|e| format!("application `{}`: {e}", application.name))?;
                by_region.insert(key.clone(), client);
            }
            if let Some(client) = by_region.get(&key) {
                by_application.insert(application.name.clone(), client.clone());
            }
        }
        Ok(Session {
            runtime,
            by_application,
            calls,
        })
    }

    /// Reads the live state of every application, each region once and all at once.
    fn read(&self, graph: &ResourceGraph) -> Result<(LiveState, CallStats), AwsError> {
        let started = Instant::now();
        let before = self.calls.snapshot();
        let mut regions: BTreeMap<String, (Aws, Vec<String>)> = BTreeMap::new();
        for (application, aws) in &self.by_application {
            regions
                .entry(aws.region.clone())
                .or_insert_with(|| (aws.clone(), Vec::new()))
                .1
                .push(application.clone());
        }
        let states = self.runtime.block_on(futures::future::try_join_all(
            regions
                .values()
                .map(|(aws, applications)| read_live_state(aws, graph, applications)),
        ))?;
        let mut state = LiveState::default();
        for s in states {
            state.resources.extend(s.resources);
            state.data.extend(s.data);
        }
        let after = self.calls.snapshot();
        let per_service = after
            .into_iter()
            .map(|(k, v)| {
                let v = v - before.get(&k).copied().unwrap_or(0);
                (k, v)
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        Ok((
            state,
            CallStats {
                per_service,
                wall_ms: started.elapsed().as_millis(),
            },
        ))
    }

    fn account(&self) -> Option<(String, String)> {
        let aws = self.by_application.values().next()?;
        let account = self.runtime.block_on(sts::account_id(&aws.sts)).ok()?;
        Some((account, aws.region.clone()))
    }
}

pub(super) fn error(message: impl std::fmt::Display) -> i32 {
    let style = stderr_style();
    if style.color {
        eprintln!("\x1b[1;31merror\x1b[0m: {message}");
    } else {
        eprintln!("error: {message}");
    }
    EXIT_ERROR
}

/// Every named environment must be in the spec.
pub(super) fn check_scope(compilation: &Compilation, environments: &[String]) -> Result<(), i32> {
    for name in environments {
        if compilation.spec.environment(name).is_none() {
            let known: Vec<&str> = compilation
                .spec
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            return Err(error(format!(
                "`--env {name}`: the spec has no environment of that name (it has: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// Everything one plan needs, computed.
struct Planned {
    graph: ResourceGraph,
    session: Session,
    live: LiveState,
    plan: Plan,
    calls: CallStats,
}

fn make_plan(spec: &SpecArgs, aws: &AwsArgs, scope: &PlanScope) -> Result<Planned, i32> {
    let (compilation, mut graph) = load_spec(spec)?;
    check_scope(&compilation, &scope.environments)?;
    let session = Session::open(&compilation, aws).map_err(error)?;
    let (live, calls) = session
        .read(&graph)
        .map_err(|e| error(format!("cannot read the account: {e}")))?;
    if aws.verbose {
        eprintln!("{}", render_calls(&calls));
    }
    let swapped = follow_swaps(&mut graph, &live);
    let mut plan = diff(&graph, &live, scope);
    plan.swapped = swapped;
    Ok(Planned {
        graph,
        session,
        live,
        plan,
        calls,
    })
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
    };
    let planned = match make_plan(spec, aws, &scope) {
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
        if let Some((account, region)) = planned.session.account() {
            println!("Account {account}, region {region}.\n");
        }
        print!("{}", render_text(&planned.plan));
    }
    if let Some(path) = &args.out {
        let saved = SavedPlan {
            format_version: PLAN_FILE_VERSION,
            dir: std::fs::canonicalize(&spec.dir).unwrap_or_else(|_| spec.dir.clone()),
            vars: spec.vars.clone(),
            var_files: spec
                .var_files
                .iter()
                .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
                .collect(),
            scope,
            changes: planned.plan.changes.clone(),
            fingerprints: planned.live.fingerprints(),
        };
        let text = match serde_json::to_string_pretty(&saved) {
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
    if args.detailed_exitcode && !planned.plan.is_empty() {
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
    /// How many resources to work on at once
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub parallelism: usize,
    /// Apply only this environment (repeatable; ignored with a PLANFILE, which has its own)
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
}

pub fn apply(spec: &SpecArgs, aws: &AwsArgs, args: &ApplyArgs) -> i32 {
    if let Some(path) = &args.plan_file {
        return apply_saved(path, aws, args);
    }
    let scope = PlanScope {
        environments: args.environments.clone(),
        destroy: false,
    };
    let planned = match make_plan(spec, aws, &scope) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = report_plan_errors(&planned.plan) {
        return code;
    }
    if let Some((account, region)) = planned.session.account() {
        println!("Account {account}, region {region}.\n");
    }
    print!("{}", render_text(&planned.plan));
    if planned.plan.is_empty() {
        return EXIT_OK;
    }
    if let Err(code) = confirm(args.auto_approve, "apply", "--auto-approve") {
        return code;
    }
    execute(&planned, args.parallelism, "Apply")
}

fn apply_saved(path: &PathBuf, aws: &AwsArgs, args: &ApplyArgs) -> i32 {
    let saved: SavedPlan = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            return error(format!(
                "{} is not a Beanpole plan file: {e}",
                path.display()
            ))
        }
    };
    if saved.format_version != PLAN_FILE_VERSION {
        return error(format!(
            "{} has plan format {}; this Beanpole reads format {PLAN_FILE_VERSION}",
            path.display(),
            saved.format_version
        ));
    }
    let spec = SpecArgs {
        dir: saved.dir.clone(),
        vars: saved.vars.clone(),
        var_files: saved.var_files.clone(),
    };
    let planned = match make_plan(&spec, aws, &saved.scope) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = report_plan_errors(&planned.plan) {
        return code;
    }
    let reasons = stale_reasons(&saved.fingerprints, &planned.live.fingerprints());
    if !reasons.is_empty() {
        for reason in &reasons {
            eprintln!("  {reason}");
        }
        return error(format!(
            "the saved plan {} is stale: the account changed since it was made ({} difference{} above). Run `beanpole plan` again.",
            path.display(),
            reasons.len(),
            plural(reasons.len())
        ));
    }
    if planned.plan.changes != saved.changes {
        return error(format!(
            "the saved plan {} no longer matches the spec in {} (it was edited since). Run `beanpole plan` again.",
            path.display(),
            saved.dir.display()
        ));
    }
    print!("{}", render_text(&planned.plan));
    if planned.plan.is_empty() {
        return EXIT_OK;
    }
    // A saved plan was reviewed when it was made: applying it is the approval.
    execute(&planned, args.parallelism, "Apply")
}

#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    /// Destroy only this environment (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
    /// Do not ask for confirmation
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// How many resources to work on at once
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub parallelism: usize,
    /// Destroy even an environment that took part in a swap less than its records' TTL ago
    #[arg(long)]
    pub force: bool,
}

/// Environments in a destroy plan whose names moved in a swap less than a TTL ago, with the
/// Unix time it becomes safe to delete them.
fn recently_swapped(plan: &Plan, now: u64) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    for live in plan.deletions.values() {
        if live.kind != crate::graph::ResourceKind::OwnershipRecord {
            continue;
        }
        let swapped_at = live.outputs.get("swapped_at").and_then(|v| v.as_u64());
        let ttl = live
            .attributes
            .get("ttl")
            .and_then(|v| v.as_u64())
            .unwrap_or(crate::graph::compile::RECORD_TTL as u64);
        if let (Some(at), Some(environment)) = (swapped_at, &live.environment) {
            if now < at + ttl {
                found.push((environment.clone(), at + ttl));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

pub fn destroy(spec: &SpecArgs, aws: &AwsArgs, args: &DestroyArgs) -> i32 {
    let scope = PlanScope {
        environments: args.environments.clone(),
        destroy: true,
    };
    let planned = match make_plan(spec, aws, &scope) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = report_plan_errors(&planned.plan) {
        return code;
    }
    if let Some((account, region)) = planned.session.account() {
        println!("Account {account}, region {region}.\n");
    }
    if planned.plan.is_empty() {
        println!("Nothing to destroy: Beanpole owns no resource of this spec in the account.");
        return EXIT_OK;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let recent = recently_swapped(&planned.plan, now);
    if !recent.is_empty() {
        let list: Vec<String> = recent
            .iter()
            .map(|(environment, safe)| {
                format!(
                    "{environment} (safe from {}, in {} s)",
                    super::blue_green::clock(*safe),
                    safe.saturating_sub(now)
                )
            })
            .collect();
        let message = format!(
            "{} took part in a swap less than its records' TTL ago: clients may still resolve its name to it. Wait, or pass --force",
            list.join(", ")
        );
        if !args.force {
            return error(format!("refusing to destroy: {message}"));
        }
        eprintln!("warning: {message}; destroying anyway because of --force");
    }
    print!("{}", render_text(&planned.plan));
    if let Err(code) = confirm(args.auto_approve, "destroy", "--auto-approve") {
        return code;
    }
    execute(&planned, args.parallelism, "Destroy")
}

/// Asks on a terminal; refuses elsewhere unless approved in advance.
pub(super) fn confirm(auto_approve: bool, what: &str, flag: &str) -> Result<(), i32> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(error(format!(
            "not a terminal, so nobody can confirm: run `beanpole {what} {flag}` to {what} without asking"
        )));
    }
    print!("\nDo you want to {what}? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() || answer.trim() != "yes" {
        return Err(error(format!("{what} cancelled")));
    }
    Ok(())
}

/// Walks the plan's steps, showing progress, and reports the outcome.
fn execute(planned: &Planned, parallelism: usize, what: &str) -> i32 {
    let steps = build_steps(&planned.graph, &planned.plan);
    let total_changes = steps.iter().filter(|s| s.work.is_change()).count();
    let labels: Vec<(String, StepWork)> = steps
        .iter()
        .map(|s| (s.label.clone(), s.work.clone()))
        .collect();
    let outputs = Arc::new(Outputs::default());
    if let Ok(mut o) = outputs.0.lock() {
        o.extend(planned.plan.known_outputs.clone());
    }
    let clients = planned.session.by_application.clone();
    let live_display = std::io::stderr().is_terminal();
    let mut progress = Progress {
        live: live_display,
        running: Vec::new(),
        finished: 0,
        total: total_changes,
    };
    let started = Instant::now();
    println!();
    let outcomes = planned.session.runtime.block_on(walk(
        steps,
        parallelism,
        |work: StepWork| {
            let aws = clients.get(work.application()).cloned();
            let outputs = outputs.clone();
            async move {
                let Some(aws) = aws else {
                    return Err(format!(
                        "no AWS connection for application `{}`",
                        work.application()
                    ));
                };
                run_step(&aws, &work, &outputs)
                    .await
                    .map_err(|e| e.to_string())
            }
        },
        |event| progress.show(&event, &labels),
    ));
    progress.clear();
    let mut failed = Vec::new();
    let mut skipped = 0;
    let mut done = 0;
    for ((label, work), outcome) in labels.iter().zip(&outcomes) {
        match outcome {
            Outcome::Failed(message) => failed.push((label, message)),
            Outcome::Skipped if work.is_change() => skipped += 1,
            Outcome::Succeeded(_) if work.is_change() => done += 1,
            _ => {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if failed.is_empty() {
        let s = planned.plan.summary();
        println!(
            "\n{} complete in {seconds:.1} s! Resources: {} added, {} changed, {} replaced, {} destroyed.",
            what, s.add, s.change, s.replace, s.destroy
        );
        return EXIT_OK;
    }
    eprintln!();
    for (label, message) in &failed {
        error(format!("{label}: {message}"));
    }
    error(format!(
        "{} failed after {seconds:.1} s: {} failed, {done} done, {skipped} not started. Everything made so far is tagged; run {} again to resume.",
        what.to_lowercase(),
        failed.len(),
        what.to_lowercase()
    ))
}

/// Progress per resource: a status line on a terminal, plain lines elsewhere.
struct Progress {
    live: bool,
    running: Vec<String>,
    finished: usize,
    total: usize,
}

impl Progress {
    fn show(&mut self, event: &Event<'_, String>, steps: &[(String, StepWork)]) {
        match event {
            Event::Started { index, label } => {
                let Some((_, work)) = steps.get(*index) else {
                    return;
                };
                if !work.is_change() {
                    return;
                }
                self.running.push(label.to_string());
                if !self.live {
                    println!("{label}: {}...", work.doing());
                }
            }
            Event::Finished {
                index,
                label,
                outcome,
            } => {
                let Some((_, work)) = steps.get(*index) else {
                    return;
                };
                if !work.is_change() {
                    return;
                }
                self.running.retain(|r| r != label);
                self.finished += 1;
                self.clear();
                match outcome {
                    Outcome::Succeeded(elapsed) => {
                        println!("{label}: {} in {:.1} s", work.done(), elapsed.as_secs_f64())
                    }
                    Outcome::Failed(message) => println!("{label}: FAILED: {message}"),
                    Outcome::Skipped => {}
                }
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

    fn clear(&self) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
    }
}
