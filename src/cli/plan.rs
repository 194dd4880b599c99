//! `plan` at the command line: the plan as text or JSON, saved with `--out`, and
//! `--detailed-exitcode`. The work is in `ops::plan`.

use super::{error, open, plural, AwsArgs, SpecArgs, EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use crate::ops::plan::{plan as make_plan, saved_plan, PlanInputs, Planned};
use crate::ops::{check_scope, Session};
use crate::reconcile::render::{render_calls, render_json, render_text};
use crate::reconcile::{PlanError, PlanScope};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Save the plan to FILE for `beanpole apply FILE`
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (schema in the docs)
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there is nothing to change, 2 when there is, 1 on error
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
    /// Plan only this environment (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
    /// Plan with permission to replace or delete extra resources that hold data (saved with
    /// `--out`; `apply --delete-data` otherwise)
    #[arg(long = "delete-data")]
    pub delete_data: bool,
}

/// Prints a plan's errors; the exit status when there are any.
pub fn plan_errors(errors: &[PlanError]) -> Result<(), i32> {
    if errors.is_empty() {
        return Ok(());
    }
    for e in errors {
        error(e);
    }
    Err(error(format!(
        "no plan: {} error{}",
        errors.len(),
        plural(errors.len())
    )))
}

pub async fn print_account(session: &Session) {
    if let Some((account, region)) = session.account().await {
        println!("Account {account}, region {region}.\n");
    }
}

pub async fn plan(spec: &SpecArgs, aws: &AwsArgs, args: &PlanArgs) -> i32 {
    let scope = PlanScope {
        environments: args.environments.clone(),
        destroy: false,
        delete_versions: false,
        delete_data: args.delete_data,
    };
    let opened = or_exit!(open(spec, aws).await);
    if let Err(e) = check_scope(&opened.compilation, &scope.environments) {
        return error(e);
    }
    let planned = or_exit!(make_plan(
        &opened.session,
        opened.graph.clone(),
        &opened.compilation.spec,
        &scope,
    )
    .await
    .map_err(error));
    if aws.verbose {
        eprintln!("{}", render_calls(&planned.calls));
    }
    if args.json {
        match serde_json::to_string_pretty(&render_json(&planned.plan, &planned.calls)) {
            Ok(text) => println!("{text}"),
            Err(e) => return error(format!("cannot render the plan as JSON: {e}")),
        }
    }
    if let Err(code) = plan_errors(&planned.plan.errors) {
        return code;
    }
    if !args.json {
        print_account(&opened.session).await;
        print!("{}", render_text(&planned.plan));
    }
    if let Some(path) = &args.out {
        if let Err(code) = save(spec, &scope, &planned, path, args.json) {
            return code;
        }
    }
    if args.detailed_exitcode && !planned.plan.nothing_to_do() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

fn save(
    spec: &SpecArgs,
    scope: &PlanScope,
    planned: &Planned,
    path: &std::path::Path,
    json: bool,
) -> Result<(), i32> {
    let inputs = PlanInputs {
        dir: &spec.dir,
        vars: &spec.vars,
        var_files: &spec.var_files,
        scope,
    };
    let text = serde_json::to_string_pretty(&saved_plan(&inputs, planned))
        .map_err(|e| error(format!("cannot write the plan: {e}")))?;
    if let Err(e) = std::fs::write(path, text) {
        error(format!("cannot write the plan to {}: {e}", path.display()));
        return Err(EXIT_ERROR);
    }
    if !json {
        println!(
            "\nSaved the plan to {}. Apply exactly it with: beanpole apply {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}
