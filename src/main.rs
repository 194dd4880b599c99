//! The `beanpole` command: argument parsing and exit statuses only; the work is in the library.

use beanpole::cli::{self, GraphFormat, SpecArgs};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "beanpole",
    version,
    about = "A Python web tier on AWS as code: Elastic Beanstalk's shape, Terraform's control.",
    after_help = "Examples:\n  beanpole validate -C examples/pets-app\n  beanpole graph -C examples/pets-app --format dot | dot -Tsvg > graph.svg"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a spec: exit 0 with a summary if it is valid, else every error with its location
    #[command(
        after_help = "Examples:\n  beanpole validate                      # the spec in the current folder\n  beanpole validate -C examples/pets-app\n  beanpole validate --var instance_type=t3.large --var-file prod.vars"
    )]
    Validate {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Print the resource graph the spec compiles to (edges run from a resource to what it needs)
    #[command(
        after_help = "Examples:\n  beanpole graph -C examples/pets-app --format json | jq '.nodes[].address'\n  beanpole graph -C examples/pets-app --format dot | dot -Tsvg > graph.svg"
    )]
    Graph {
        #[command(flatten)]
        spec: SpecArgs,
        /// Output format
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Validate { spec } => cli::validate(spec),
        Command::Graph { spec, format } => cli::graph(spec, *format),
    };
    std::process::exit(code);
}
