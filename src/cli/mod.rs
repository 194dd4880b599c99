//! The command line: argument types, and each command as a function from arguments to an exit
//! code that calls one operation and renders its events and report. Only this layer prints
//! or decides exit statuses; it calls nothing in `aws` and decides no rule.

/// The value of a `Result` whose error is an exit status already reported, or that status,
/// returned from the command at once.
macro_rules! or_exit {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(code) => return code,
        }
    };
}

pub mod abort;
pub mod apply;
pub mod bundle;
pub mod deploy;
pub mod events;
pub mod export;
pub mod local;
pub mod lock;
pub mod logs;
pub mod plan;
pub mod progress;
pub mod queue;
pub mod status;
pub mod swap;
pub mod versions;

use crate::graph::{compile_graph, render, ResourceGraph};
use crate::interrupt::Interrupt;
use crate::ops::lock::{LockError, LockEvent};
use crate::ops::{Context, Session};
use crate::spec::report;
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

/// Asks on a terminal; refuses elsewhere unless approved in advance. `false` when not
/// approved (the reason is printed).
pub fn confirm(auto_approve: bool, what: &str, flag: &str) -> bool {
    if auto_approve {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        error(format!(
            "not a terminal, so nobody can confirm: run `beanpole {what} {flag}` to {what} without asking"
        ));
        return false;
    }
    print!("\nDo you want to {what}? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() || answer.trim() != "yes" {
        error(format!("{what} cancelled"));
        return false;
    }
    true
}

/// From now on the first Ctrl-C raises the returned interrupt (the operation stops at its next
/// safe point and reports); a second one ends the process at once.
pub fn interrupt_on_ctrl_c() -> Interrupt {
    let interrupt = Interrupt::new();
    let raised = interrupt.clone();
    tokio::spawn(async move {
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

/// What a command taking an application's lock prints as it does.
pub fn show_lock_event(event: LockEvent) {
    eprintln!("{}", crate::display::printable(&event.line()));
}

/// The exit status of a command refused its lock: 130 when Ctrl-C ended its wait.
pub fn lock_refused(e: &LockError) -> i32 {
    let code = error(e);
    if matches!(e, LockError::Interrupted(_)) {
        EXIT_INTERRUPTED
    } else {
        code
    }
}

/// A spec compiled, its graph, an AWS session for its applications, the Ctrl-C interrupt.
pub struct Opened {
    pub compilation: Compilation,
    pub graph: ResourceGraph,
    pub session: Session,
    pub interrupt: Interrupt,
}

impl Opened {
    pub fn context(&self) -> Context<'_> {
        Context {
            compilation: &self.compilation,
            graph: &self.graph,
            session: &self.session,
            interrupt: &self.interrupt,
        }
    }
}

/// Compiles the spec and opens an AWS session for it, or prints why not.
pub async fn open(spec: &SpecArgs, aws: &AwsArgs) -> Result<Opened, i32> {
    let (compilation, graph) = load_spec(spec)?;
    let session = Session::open(&compilation, aws.endpoint_url.as_deref())
        .await
        .map_err(error)?;
    Ok(Opened {
        compilation,
        graph,
        session,
        interrupt: interrupt_on_ctrl_c(),
    })
}

/// One warning per object of the bucket a listing skipped (not what Beanpole wrote).
pub fn warn_skipped(skipped: &[crate::ops::Unreadable]) {
    for object in skipped {
        eprintln!("warning: skipped {}", printable(&object.to_string()));
    }
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

/// `text` with its first letter upper-case.
pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(crate) use crate::display::printable;

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
