//! `deploy` and `logs` at the command line: arguments, the live progress display, the outcome
//! (text or `--json`) and exit statuses. The work is in `ops::deploy` and `ops::logs`.

use super::{error, interrupt_on_ctrl_c, load_spec, open_session, AwsArgs, SpecArgs, EXIT_OK};
use crate::model::DeploymentPolicy;
use crate::ops::deploy::{deploy as run_deploy, DeployError, DeployEvent, DeployRequest};
use crate::ops::logs::{logs as collect_logs, LogsRequest};
use crate::ops::now_unix;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

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
    /// Print the outcome as JSON (schema in the README); progress still goes to stderr
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

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// The environment whose instances' logs to show
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// Only this instance
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
    /// Last lines of each log
    #[arg(long, default_value_t = 100)]
    pub lines: u32,
    /// Whole log files, written to one zip (see --out) instead of printed
    #[arg(long)]
    pub all: bool,
    /// Where --all writes the zip (default: logs-ENV-UNIXTIME.zip here)
    #[arg(long, value_name = "FILE", requires = "all")]
    pub out: Option<PathBuf>,
}

pub fn deploy(spec_args: &SpecArgs, aws: &AwsArgs, args: &DeployArgs) -> i32 {
    let (compilation, graph) = match load_spec(spec_args) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let session = match open_session(&compilation, aws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let interrupt = interrupt_on_ctrl_c(&session);
    let applications: Vec<String> = compilation
        .spec
        .environment(&args.environment)
        .map(|e| e.application.clone())
        .into_iter()
        .collect();
    let leases = match super::take_locks(
        &session,
        &graph,
        &applications,
        crate::ops::lock::LockRequest {
            command: &format!("deploy {}", args.environment),
            wait: args.wait,
            create_bucket: false,
        },
        &interrupt,
    ) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let request = DeployRequest {
        environment: args.environment.clone(),
        version: args.version.clone(),
        source: args.source.clone(),
        label: args.label.clone(),
        message: args.message.clone(),
        policy: args.policy,
        configuration: false,
    };
    let started = Instant::now();
    let mut show = |event: DeployEvent| eprintln!("{}", progress_line(&event, started));
    let environments = [args.environment.clone()];
    let record = |code: i32, summary: &str, details: &serde_json::Value| {
        super::record_event(&leases, &|_| environments.to_vec(), code, summary, details);
        code
    };
    let outcome = match run_deploy(
        &compilation,
        &graph,
        &session,
        &request,
        &interrupt,
        &mut show,
    ) {
        Ok(outcome) => outcome,
        Err(DeployError::Bundle(e)) => {
            if let crate::ops::bundle::BundleError::Refused { problems, .. } = &e {
                for p in problems {
                    eprintln!("  {p}");
                }
            }
            let code = error(format!("{e}; nothing was uploaded or deployed"));
            return record(code, &e.to_string(), &serde_json::Value::Null);
        }
        Err(e) => {
            let code = error(&e);
            return record(code, &e.to_string(), &serde_json::Value::Null);
        }
    };
    let details = serde_json::to_value(&outcome).unwrap_or_default();
    let failed: Vec<String> = outcome
        .failed_instances()
        .map(|i| {
            format!(
                "{} {} at {}",
                i.instance,
                i.outcome,
                i.failed_step.as_deref().unwrap_or("-")
            )
        })
        .collect();
    let summary = format!(
        "{} (deployment {}, {}): {}",
        outcome.version,
        outcome.deployment_id,
        outcome.policy,
        if outcome.succeeded() {
            "deployed to every instance".to_string()
        } else if outcome.interrupted {
            "interrupted".to_string()
        } else {
            format!(
                "{}{}",
                failed.join(", "),
                match &outcome.rollback {
                    Some(r) => format!(
                        "; rollback to {} (deployment {}) {}",
                        r.version, r.deployment_id, r.outcome
                    ),
                    None => String::new(),
                }
            )
        }
    );
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
            outcome
                .batches
                .iter()
                .map(|b| b.instances.len())
                .sum::<usize>(),
            super::plural(outcome.batches.iter().map(|b| b.instances.len()).sum()),
            outcome.elapsed_seconds
        );
    }
    if outcome.succeeded() {
        return record(EXIT_OK, &summary, &details);
    }
    if outcome.interrupted {
        eprintln!(
            "Interrupted: the batches that completed run {}; {} still run{} the previous version.",
            outcome.version,
            if outcome.not_deployed.is_empty() {
                "no other instance".to_string()
            } else {
                outcome.not_deployed.join(", ")
            },
            if outcome.not_deployed.len() == 1 {
                "s"
            } else {
                ""
            },
        );
        return record(super::EXIT_INTERRUPTED, &summary, &details);
    }
    for failed in outcome.failed_instances() {
        eprintln!(
            "\n{}: {} at {}: {}",
            failed.instance,
            failed.outcome,
            failed.failed_step.as_deref().unwrap_or("-"),
            failed.message
        );
        if !failed.log_tail.is_empty() {
            for line in failed.log_tail.lines() {
                eprintln!("  | {line}");
            }
        }
        match &failed.serving {
            Some(v) => eprintln!("  {} still serves {v}.", failed.instance),
            None => eprintln!(
                "  {} may serve nothing: see `beanpole logs {} --instance {}`.",
                failed.instance, outcome.environment, failed.instance
            ),
        }
    }
    if let Some(r) = &outcome.rollback {
        let instances: Vec<&str> = r
            .batches
            .iter()
            .flat_map(|b| b.instances.iter())
            .map(|i| i.instance.as_str())
            .collect();
        if r.method == "new-instances-removed" {
            eprintln!(
                "\nRolled back: the new instances went with the temporary group; the environment's instances never stopped serving {}.",
                r.version
            );
        } else if r.outcome == "succeeded" {
            eprintln!(
                "\nRolled back: {} serve{} {} again (deployment {}).",
                instances.join(", "),
                if instances.len() == 1 { "s" } else { "" },
                r.version,
                r.deployment_id
            );
        } else {
            eprintln!(
                "\nThe rollback to {} (deployment {}) failed too: see `beanpole logs {}`.",
                r.version, r.deployment_id, outcome.environment
            );
        }
    }
    if let Some(by) = &outcome.aborted {
        let code = error(format!(
            "the deployment of {} to {} was aborted by {by}",
            outcome.version, outcome.environment
        ));
        return record(code, &format!("aborted by {by}; {summary}"), &details);
    }
    let code = error(format!(
        "the deployment of {} to {} failed; {}{}",
        outcome.version,
        outcome.environment,
        if outcome.not_deployed.is_empty() {
            "no other batch was left".to_string()
        } else {
            format!(
                "not started on {} (still on the previous version)",
                outcome.not_deployed.join(", ")
            )
        },
        ". Fix the version and deploy again, or `beanpole deploy ENV --version LABEL` to go back to a good one"
    ));
    record(code, &summary, &details)
}

pub(crate) fn progress_line(event: &DeployEvent, started: Instant) -> String {
    let at = format!("[{:>6.1}s]", started.elapsed().as_secs_f64());
    match event {
        DeployEvent::Version {
            label,
            sha256,
            reused,
        } => format!(
            "{at} version {label} ({}){}",
            &sha256[..sha256.len().min(12)],
            if *reused {
                ": stored already, nothing to upload"
            } else {
                ": uploaded"
            }
        ),
        DeployEvent::Planned {
            deployment_id,
            plan,
        } if plan.replace > 0 => format!("{at} deployment {deployment_id}: {}", plan.summary()),
        DeployEvent::Planned {
            deployment_id,
            plan,
        } => format!(
            "{at} deployment {deployment_id}: {}; leader {}",
            plan.summary(),
            plan.leader
        ),
        DeployEvent::BatchStarted {
            number,
            of,
            instances,
        } => format!("{at} batch {number}/{of}: {}", instances.join(", ")),
        DeployEvent::Deregistered { instances } => {
            format!("{at}   out of the target group: {}", instances.join(", "))
        }
        DeployEvent::Step {
            instance,
            step,
            elapsed,
        } => format!(
            "{at}   {instance}: {step} ({:.0}s into the batch)",
            elapsed.as_secs_f64()
        ),
        DeployEvent::InstanceDone(o) => match o.outcome.as_str() {
            "succeeded" => format!(
                "{at}   {}: deployed ({:.1} s on the instance)",
                o.instance,
                o.engine_seconds.unwrap_or_default()
            ),
            _ => format!(
                "{at}   {}: {} at {}",
                o.instance,
                o.outcome.to_uppercase(),
                o.failed_step.as_deref().unwrap_or("-")
            ),
        },
        DeployEvent::Launching { count } => format!(
            "{at} launching {count} extra instance{} (capacity never drops)",
            if *count == 1 { "" } else { "s" }
        ),
        DeployEvent::Launched { instances } => format!(
            "{at}   booted, out of the target group until they take the version: {}",
            instances.join(", ")
        ),
        DeployEvent::Retiring { instances } => format!(
            "{at} retiring (the group returns to its size): {}",
            instances.join(", ")
        ),
        DeployEvent::Aborting(request) => format!(
            "{at} abort requested by {} on {}: stopping here and rolling back",
            request.principal, request.host
        ),
        DeployEvent::RollingBack {
            to,
            deployment_id,
            instances,
        } => format!(
            "{at} rolling back (deployment {deployment_id}): {to} goes back on {}",
            instances.join(", ")
        ),
        DeployEvent::Restored { instances } => format!(
            "{at} back into the target group (an earlier deploy left them out): {}",
            instances.join(", ")
        ),
        DeployEvent::Registered { instances } => format!(
            "{at}   healthy in the target group: {}",
            instances.join(", ")
        ),
        DeployEvent::TemporaryGroup {
            group,
            target_group,
            instances,
        } => format!(
            "{at} temporary group {group}{} for {instances} new instance{} (one first, then the rest)",
            match target_group {
                Some(tg) => format!(" and target group {tg}"),
                None => String::new(),
            },
            super::plural(*instances)
        ),
        DeployEvent::TrafficShifted {
            percent,
            evaluation_secs,
        } => match evaluation_secs {
            Some(secs) => format!(
                "{at} listener: {percent}% of requests to the new instances for {}",
                crate::duration::format_secs(*secs)
            ),
            None if *percent == 100 => {
                format!("{at} listener: all requests to the new instances")
            }
            None => format!("{at} listener: {percent}% of requests to the new instances"),
        },
        DeployEvent::MovedIntoGroup { instances, group } => format!(
            "{at} moved into {group}: {}",
            instances.join(", ")
        ),
        DeployEvent::TemporaryRemoved {
            group,
            target_group,
            instances,
        } => format!(
            "{at} deleted temporary group {group}{}{}",
            match target_group {
                Some(tg) => format!(" and target group {tg}"),
                None => String::new(),
            },
            if instances.is_empty() {
                String::new()
            } else {
                format!(" with {}", instances.join(", "))
            }
        ),
    }
}

#[derive(Debug, Clone, Args)]
pub struct AbortArgs {
    /// The environment whose deployment to stop and roll back
    #[arg(value_name = "ENV")]
    pub environment: String,
}

/// `abort ENV`: asks the deploy holding the lock to stop and roll back, and waits for it; or,
/// when no live command holds the lock, takes it and rolls back the unfinished deployment.
pub fn abort(spec_args: &SpecArgs, aws: &AwsArgs, args: &AbortArgs) -> i32 {
    use crate::ops::abort::{ask, roll_back_unfinished, wait_for, Asked, WaitEnd};
    let (compilation, graph) = match load_spec(spec_args) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let session = match open_session(&compilation, aws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let interrupt = interrupt_on_ctrl_c(&session);
    let env = args.environment.clone();
    match ask(&compilation, &session, &env) {
        Ok(Asked::Holder(holder)) => {
            println!(
                "Asked the deploy of {env} ({}) to stop at its next batch and roll back; waiting for it…",
                holder.describe()
            );
            match wait_for(
                &compilation,
                &session,
                &env,
                &holder,
                std::time::Duration::from_secs(3600),
            ) {
                Ok(WaitEnd::Released(Some(event))) => {
                    println!("The deploy ended: {} ({}).", event.summary, event.outcome);
                    let aborted = !event.details["aborted"].is_null();
                    let rollback = &event.details["rollback"];
                    if aborted && rollback["outcome"] == "succeeded" {
                        println!("Aborted and rolled back.");
                        return EXIT_OK;
                    }
                    if event.outcome == "succeeded" {
                        return error(format!(
                            "the deploy finished before its next batch: it runs on every instance of {env}; deploy the previous version to go back"
                        ));
                    }
                    if aborted && rollback.is_null() {
                        // Aborted before any instance took the version: nothing to roll back.
                        println!("Aborted before any instance took the new version.");
                        return EXIT_OK;
                    }
                    return error(format!("the deploy of {env} ended without rolling back: see `beanpole events {env}`"));
                }
                Ok(WaitEnd::Released(None)) => {
                    return error(format!(
                        "the deploy of {env} ended without an event: see `beanpole events {env}` and `beanpole status {env}`"
                    ))
                }
                Ok(WaitEnd::HolderDied) => {
                    println!("The deploy stopped renewing its lock (it died): rolling back here.");
                }
                Err(e) => return error(e),
            }
        }
        Ok(Asked::NoLiveHolder(dead)) => {
            if let Some(dead) = dead {
                println!(
                    "The command holding the lock, {}, is gone (its lease ran out): rolling back here.",
                    dead.describe()
                );
            }
        }
        Err(e) => return error(e),
    }
    let applications: Vec<String> = compilation
        .spec
        .environment(&env)
        .map(|e| e.application.clone())
        .into_iter()
        .collect();
    let leases = match super::take_locks(
        &session,
        &graph,
        &applications,
        crate::ops::lock::LockRequest {
            command: &format!("abort {env}"),
            wait: false,
            create_bucket: false,
        },
        &interrupt,
    ) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let started = Instant::now();
    let mut show = |event: DeployEvent| eprintln!("{}", progress_line(&event, started));
    let environments = [env.clone()];
    match roll_back_unfinished(&compilation, &graph, &session, &env, &interrupt, &mut show) {
        Ok(Some(rollback)) => {
            let summary = format!(
                "rollback to {} (deployment {}) {}",
                rollback.version, rollback.deployment_id, rollback.outcome
            );
            let code = if rollback.outcome == "succeeded" {
                println!("Rolled back: {env} runs {} again.", rollback.version);
                EXIT_OK
            } else {
                error(format!(
                    "the rollback of {env} to {} failed: see `beanpole logs {env}`",
                    rollback.version
                ))
            };
            let details = serde_json::to_value(&rollback).unwrap_or_default();
            super::record_event(
                &leases,
                &|_| environments.to_vec(),
                code,
                &summary,
                &details,
            );
            code
        }
        Ok(None) => {
            println!("No deployment of {env} is in progress or unfinished: nothing to abort.");
            EXIT_OK
        }
        Err(e) => error(e),
    }
}

pub fn logs(spec_args: &SpecArgs, aws: &AwsArgs, args: &LogsArgs) -> i32 {
    let (compilation, graph) = match load_spec(spec_args) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let session = match open_session(&compilation, aws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let request = LogsRequest {
        environment: args.environment.clone(),
        instance: args.instance.clone(),
        lines: if args.all { 0 } else { args.lines },
    };
    let answers = match collect_logs(&compilation, &graph, &session, &request) {
        Ok(a) => a,
        Err(e) => return error(e),
    };
    let missing = answers.iter().filter(|a| a.missing.is_some()).count();
    if args.all {
        let mut entries = Vec::new();
        for answer in &answers {
            for (path, text) in &answer.logs {
                entries.push(crate::bundle::zip::Entry {
                    path: format!("{}/{}", answer.instance, path.trim_start_matches('/')),
                    data: crate::bundle::zip::EntryData::File {
                        mode: 0o644,
                        bytes: text.as_bytes().to_vec(),
                    },
                });
            }
        }
        let out = args.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!("logs-{}-{}.zip", args.environment, now_unix()))
        });
        let written =
            crate::bundle::zip::write(&entries).and_then(|bytes| std::fs::write(&out, bytes));
        if let Err(e) = written {
            return error(format!("cannot write {}: {e}", out.display()));
        }
        println!(
            "Wrote the logs of {} instance{} ({} files) to {}",
            answers.len() - missing,
            super::plural(answers.len() - missing),
            entries.len(),
            out.display()
        );
    } else {
        for answer in &answers {
            println!(
                "==================== {} ====================",
                answer.instance
            );
            for (path, text) in &answer.logs {
                println!("---------- {path} ----------");
                println!("{text}");
            }
        }
    }
    for answer in &answers {
        if let Some(why) = &answer.missing {
            eprintln!("{}: {why}", answer.instance);
        }
    }
    if missing > 0 {
        return error(format!(
            "{missing} of {} instance{} sent no logs",
            answers.len(),
            super::plural(answers.len())
        ));
    }
    EXIT_OK
}
