//! `export cloudformation [ENV]`: an environment as one self-contained CloudFormation template
//! (`graph::export`), printed or written to a file.

use super::{error, load_spec, SpecArgs, EXIT_OK};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Clone, Subcommand)]
pub enum ExportFormat {
    /// An environment (and its application's extra resources) as one CloudFormation template
    Cloudformation(ExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The environment (the spec's only one when not given)
    #[arg(value_name = "ENV")]
    pub environment: Option<String>,
    /// Write the template to FILE instead of printing it
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn export(format: &ExportFormat) -> i32 {
    let ExportFormat::Cloudformation(args) = format;
    let (compilation, graph) = match load_spec(&args.spec) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let environment = match compilation
        .spec
        .the_environment(args.environment.as_deref())
    {
        Ok(env) => env.name.clone(),
        Err(e) => return error(e),
    };
    let template = match crate::graph::export::export(&graph, &environment) {
        Ok(t) => t,
        Err(e) => return error(e),
    };
    let text = match serde_json::to_string_pretty(&template) {
        Ok(t) => t + "\n",
        Err(e) => return error(format!("cannot render the template: {e}")),
    };
    match &args.out {
        None => print!("{text}"),
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                return error(format!("cannot write {}: {e}", path.display()));
            }
        }
    }
    EXIT_OK
}
