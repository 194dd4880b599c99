//! The command line: argument types, and each command as a function from arguments to an exit
//! code. Only this layer prints or decides exit statuses.

pub mod blue_green;
pub mod bundle;
pub mod deploy;
pub mod events;
pub mod local;
pub mod lock;
pub mod reconcile;
pub mod report;
pub mod versions;

use crate::graph::{compile_graph, render, ResourceGraph};
use crate::interrupt::Interrupt;
use crate::ops::Session;
use crate::spec::{
    compile_dir, Compilation, Diagnostic, DiskFs, SourceMap, SpecError, VariableInputs,
};
use clap::{Args, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Exit statuses of the CLI.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
/// `plan --detailed-exitcode` when there are changes.
pub const EXIT_CHANGES: i32 = 2;
/// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

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

/// Prints an error line and returns the error exit status.
pub fn error(message: impl std::fmt::Display) -> i32 {
    let style = stderr_style();
    if style.color {
        eprintln!("\x1b[1;31merror\x1b[0m: {message}");
    } else {
        eprintln!("error: {message}");
    }
    EXIT_ERROR
}

/// Asks on a terminal; refuses elsewhere unless approved in advance.
pub fn confirm(auto_approve: bool, what: &str, flag: &str) -> Result<(), i32> {
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

/// From now on the first Ctrl-C raises the returned interrupt (the operation stops at its next
/// safe point and reports); a second one ends the process at once.
pub fn interrupt_on_ctrl_c(session: &Session) -> Interrupt {
    let interrupt = Interrupt::new();
    let raised = interrupt.clone();
    session.runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nInterrupted: starting nothing new; letting the calls in flight finish (Ctrl-C again to quit at once)."
        );
        raised.raise();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
    interrupt
}

/// Takes the locks of `applications` for `command` (see `ops::lock`), printing what happens
/// while it does; refused (exit 1) while another command holds one, unless `wait`.
pub fn take_locks(
    session: &Session,
    graph: &ResourceGraph,
    applications: &[String],
    request: crate::ops::lock::LockRequest<'_>,
    interrupt: &Interrupt,
) -> Result<Vec<crate::ops::lock::Lease>, i32> {
    use crate::ops::lock::{acquire_all, LockError, LockEvent};
    let mut show = |event: LockEvent| {
        match event {
        LockEvent::Waiting(holder) => eprintln!(
            "Waiting for the lock of {}: held by {}…",
            holder.application,
            holder.describe()
        ),
        LockEvent::TookOver(holder) => eprintln!(
            "warning: took over the lock of {}: its holder, {}, stopped renewing it (its lease ran out at {})",
            holder.application,
            holder.describe(),
            crate::ops::utc(holder.expires())
        ),
        LockEvent::CreatedBucket(bucket) => eprintln!(
            "Created the versions bucket {bucket} (the application's lock and versions live there)."
        ),
    }
    };
    acquire_all(session, graph, applications, request, interrupt, &mut show).map_err(|e| {
        if matches!(e, LockError::Interrupted(_)) {
            error(e);
            EXIT_INTERRUPTED
        } else {
            error(e)
        }
    })
}

/// Records what a command holding locks did, in each application's events (a failure to
/// record is a warning: the work itself is done).
pub fn record_event(
    leases: &[crate::ops::lock::Lease],
    environments_of: &dyn Fn(&str) -> Vec<String>,
    code: i32,
    summary: &str,
    details: &serde_json::Value,
) {
    let outcome = match code {
        EXIT_OK => "succeeded",
        EXIT_INTERRUPTED => "interrupted",
        _ => "failed",
    };
    for lease in leases {
        if let Err(e) = lease.record(
            environments_of(&lease.application),
            outcome,
            summary.to_string(),
            details.clone(),
        ) {
            eprintln!(
                "warning: could not record this {} in the events of {}: {e}",
                lease.command, lease.application
            );
        }
    }
}

/// The environments of `application` among `scope` (all of its environments when empty).
pub fn environments_in_scope(
    compilation: &Compilation,
    application: &str,
    scope: &[String],
) -> Vec<String> {
    compilation
        .spec
        .environments
        .iter()
        .filter(|e| e.application == application)
        .filter(|e| scope.is_empty() || scope.contains(&e.name))
        .map(|e| e.name.clone())
        .collect()
}

/// Opens the AWS session for a compiled spec, or prints why not.
pub fn open_session(compilation: &Compilation, aws: &AwsArgs) -> Result<Session, i32> {
    Session::open(compilation, aws.endpoint_url.as_deref()).map_err(error)
}

/// Where the spec is and the values of its variables: shared by every command that reads a spec.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Folder holding the spec's *.hcl files
    #[arg(short = 'C', long = "dir", value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Set a variable: NAME=VALUE (repeatable; lists and maps as HCL, e.g. 'subnets=["a","b"]')
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variable values from an HCL file of NAME = value lines (repeatable)
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl SpecArgs {
    /// The variable inputs, including BEANPOLE_VAR_* from the process environment.
    pub fn variable_inputs(&self) -> Result<VariableInputs, String> {
        let cli = self
            .vars
            .iter()
            .map(|v| VariableInputs::parse_cli(v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VariableInputs {
            cli,
            files: self.var_files.clone(),
            environment: VariableInputs::from_environment(std::env::vars()),
        })
    }
}

pub(crate) fn stderr_style() -> report::Style {
    report::Style {
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Compiles the spec and its graph, or prints every diagnostic and returns the exit status.
pub fn load_spec(args: &SpecArgs) -> Result<(Compilation, ResourceGraph), i32> {
    let inputs = match args.variable_inputs() {
        Ok(inputs) => inputs,
        Err(message) => {
            let diagnostic = Diagnostic::without_location(SpecError::Input { message })
                .with_hint("write `--var NAME=VALUE`, e.g. `--var instance_type=t3.large`");
            eprint!(
                "{}",
                report::render_all(&[diagnostic], &SourceMap::new(), &stderr_style())
            );
            return Err(EXIT_ERROR);
        }
    };
    let compilation = compile_dir(&DiskFs, &args.dir, &inputs);
    if !compilation.is_valid() {
        eprint!(
            "{}",
            report::render_all(
                &compilation.diagnostics,
                &compilation.sources,
                &stderr_style()
            )
        );
        return Err(EXIT_ERROR);
    }
    for warning in &compilation.warnings {
        eprint!(
            "{}",
            report::render_warning(warning, &compilation.sources, &stderr_style())
        );
    }
    let graph = compile_graph(&compilation.spec);
    Ok((compilation, graph))
}

pub fn validate(args: &SpecArgs) -> i32 {
    match load_spec(args) {
        Ok((compilation, graph)) => {
            let spec = &compilation.spec;
            let managed = graph.resources().filter(|r| !r.kind.is_data()).count();
            println!(
                "The spec in {} is valid: {} application{}, {} environment{}, {} resource{}.",
                args.dir.display(),
                spec.applications.len(),
                plural(spec.applications.len()),
                spec.environments.len(),
                plural(spec.environments.len()),
                managed,
                plural(managed),
            );
            EXIT_OK
        }
        Err(code) => code,
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Json,
}

pub fn graph(args: &SpecArgs, format: GraphFormat) -> i32 {
    match load_spec(args) {
        Ok((_, graph)) => {
            match format {
                GraphFormat::Dot => print!("{}", render::to_dot(&graph)),
                GraphFormat::Json => {
                    let json = render::to_json(&graph);
                    match serde_json::to_string_pretty(&json) {
                        Ok(text) => println!("{text}"),
                        Err(e) => {
                            eprintln!("error: cannot render the graph as JSON: {e}");
                            return EXIT_ERROR;
                        }
                    }
                }
            }
            EXIT_OK
        }
        Err(code) => code,
    }
}
