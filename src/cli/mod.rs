//! The command line: argument types, and each command as a function from arguments to an exit
//! code. Only this layer prints or decides exit statuses.

pub mod blue_green;
pub mod reconcile;
pub mod report;

use crate::graph::{compile_graph, render, ResourceGraph};
use crate::spec::{
    compile_dir, Compilation, Diagnostic, DiskFs, SourceMap, SpecError, VariableInputs,
};
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Exit statuses of the CLI.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;

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
