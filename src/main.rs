//! The `beanpole` command: argument parsing and exit statuses only; the work is in the library.
//! The one place that runs the async runtime: every command is awaited here.

use beanpole::cli::abort::AbortArgs;
use beanpole::cli::apply::{ApplyArgs, DestroyArgs};
use beanpole::cli::bundle::BundleArgs;
use beanpole::cli::deploy::DeployArgs;
use beanpole::cli::events::EventsArgs;
use beanpole::cli::local::{FleetInstanceArgs, LocalFleetArgs, LocalRunArgs};
use beanpole::cli::lock::UnlockArgs;
use beanpole::cli::logs::LogsArgs;
use beanpole::cli::plan::PlanArgs;
use beanpole::cli::status::StatusArgs;
use beanpole::cli::swap::SwapArgs;
use beanpole::cli::versions::{ListArgs, VersionsCommand};
use beanpole::cli::{self, AwsArgs, GraphFormat, SpecArgs};
use clap::{Args, Parser, Subcommand};

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

/// A command on a spec that reaches AWS: where the spec is, how to reach AWS, its own arguments.
#[derive(Args)]
struct OnAws<A: Args> {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    args: A,
}

/// A command on a spec alone.
#[derive(Args)]
struct OnSpec<A: Args> {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    args: A,
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
    /// Write an environment as another tool's input
    #[command(
        subcommand,
        after_help = "Examples:\n  beanpole export cloudformation pets-env-blue -C examples/pets-app > pets-blue.json\n  cfn-lint pets-blue.json"
    )]
    Export(cli::export::ExportFormat),
    /// Show what apply would change: read the account, diff it against the spec
    #[command(
        after_help = "Examples:\n  beanpole plan -C examples/pets-app\n  beanpole plan --out pets.plan && beanpole apply pets.plan\n  beanpole plan --json --env pets-env-green | jq .summary\n  beanpole plan --detailed-exitcode   # 0: no changes, 2: changes, 1: error"
    )]
    Plan(OnAws<PlanArgs>),
    /// Make the account match the spec (or apply a saved plan), in parallel along the graph
    #[command(
        after_help = "Examples:\n  beanpole apply -C examples/pets-app          # plans, shows, asks\n  beanpole apply --auto-approve --parallelism 4\n  beanpole apply pets.plan                      # exactly the saved plan, or refuse if stale"
    )]
    Apply(OnAws<ApplyArgs>),
    /// Delete every resource Beanpole owns for the spec (or for the environments named)
    #[command(
        after_help = "Examples:\n  beanpole destroy -C examples/pets-app\n  beanpole destroy --env pets-env-green --auto-approve"
    )]
    Destroy(OnAws<DestroyArgs>),
    /// Each environment's health in Elastic Beanstalk's colours, with the names it serves
    #[command(
        after_help = "Examples:\n  beanpole status -C examples/pets-app\n  beanpole status pets-env-green --json | jq '.environments[0].health'\n  beanpole status --watch"
    )]
    Status(OnAws<StatusArgs>),
    /// Build the application's source bundle (what a deploy uploads) and say what is in it and why
    #[command(
        after_help = "Examples:\n  beanpole bundle -C examples/pets-app            # the spec's application source (./app)\n  beanpole bundle --source ./app --out app.zip\n  beanpole bundle --source ./mysite --wsgi-path mysite.wsgi:application"
    )]
    Bundle(OnSpec<BundleArgs>),
    /// The application's versions in the account's versions bucket: list, create, delete
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  beanpole versions -C examples/pets-app          # label, created, size, sha256, running on, message\n  beanpole versions --json\n  beanpole versions create --label v7 --message \"new search page\"\n  beanpole versions delete v3                     # refused while an environment runs it"
    )]
    Versions {
        #[command(subcommand)]
        command: Option<VersionsCommand>,
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        args: ListArgs,
    },
    /// Deploy an application version to an environment's instances, batch by batch
    #[command(
        after_help = "Examples:\n  beanpole deploy pets-env-green                 # bundle ./app (application.source), upload, roll out\n  beanpole deploy pets-env-green --label v7 --message \"new search page\"\n  beanpole deploy pets-env-blue --version v7     # a stored version: no upload\n  beanpole deploy pets-env-green --json | jq .outcome\n\nExit status: 0 deployed everywhere, 1 a batch failed (each failed instance is named with its step and log tail) or an error, 130 interrupted."
    )]
    Deploy(OnAws<DeployArgs>),
    /// The last lines of each instance's logs (web process, engine, hooks, proxy), through Run Command
    #[command(
        after_help = "Examples:\n  beanpole logs pets-env-blue\n  beanpole logs pets-env-blue --instance i-0abc123 --lines 20\n  beanpole logs pets-env-blue --all              # whole files of every instance in one zip"
    )]
    Logs(OnAws<LogsArgs>),
    /// Stop the deployment in progress on an environment and roll it back, from any machine
    #[command(
        after_help = "Examples:\n  beanpole abort pets-env-blue     # the deploy stops at its next batch and rolls back; abort waits and reports\n\nExit status: 0 aborted and rolled back (or nothing to abort), 1 the deploy finished first, the rollback failed, or an error."
    )]
    Abort(OnAws<AbortArgs>),
    /// What the commands that changed an environment did, newest first: who, where from, when, the outcome
    #[command(
        after_help = "Examples:\n  beanpole events pets-env-blue\n  beanpole events pets-env-blue --json | jq '.events[0].details.batches'"
    )]
    Events(OnAws<EventsArgs>),
    /// A worker environment's queue: send a message, its depth, redrive its dead-letter queue
    #[command(
        after_help = "Examples:\n  beanpole queue jobs send '{\"order\": 42}' --attr source=shop\n  beanpole queue jobs stats --json\n  beanpole queue jobs redrive                  # the dead-letter queue's messages back, counted"
    )]
    Queue(OnAws<beanpole::cli::queue::QueueArgs>),
    /// Remove an application's lock whoever holds it (apply, destroy, swap and deploy take it)
    #[command(
        after_help = "Examples:\n  beanpole unlock pets-app --force     # the holder was killed and its lease has not run out yet"
    )]
    Unlock(OnAws<UnlockArgs>),
    /// Elastic Beanstalk's Python platform on this machine: real nginx (or Apache) → gunicorn
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// Exchange two environments' CNAMEs in one Route53 change, like `eb swap`
    #[command(
        after_help = "Examples:\n  beanpole swap pets-env-blue pets-env-green          # asks first on a terminal\n  beanpole swap pets-env-blue pets-env-green --yes    # swapping again is the rollback\n  beanpole swap pets-env-blue pets-env-green --gradual 10,50,100 --interval 60s --yes"
    )]
    Swap(OnAws<SwapArgs>),
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Deploy the source folder on this machine and serve it on 127.0.0.1 until Ctrl-C
    #[command(
        after_help = "Examples:\n  beanpole local run -C examples/pets-app            # the spec's only environment\n  beanpole local run pets-env-green -C examples/pets-app --port 9000\n  beanpole local run --source ~/src/my-eb-app         # a bare Elastic Beanstalk folder, no spec"
    )]
    Run(OnSpec<LocalRunArgs>),
    /// Play the instances a local AWS emulator (moto) reports: each runs its real user data and
    /// every Run Command sent to it, in a folder of its own, with real nginx → gunicorn on 127.0.0.1
    #[command(
        after_help = "Examples:\n  beanpole local fleet -C examples/pets-app --endpoint-url http://127.0.0.1:5000\n  jq '.instances[] | {instance, environment, port}' examples/pets-app/.beanpole/fleet/fleet.json"
    )]
    Fleet(OnAws<LocalFleetArgs>),
    /// (internal) The process that plays one instance of `local fleet`
    #[command(name = "fleet-instance", hide = true)]
    FleetInstance {
        #[command(flatten)]
        args: FleetInstanceArgs,
    },
}

fn main() {
    // Rust ignores SIGPIPE, so `beanpole graph | head` would panic on the closed pipe; a
    // command-line tool should end quietly instead, as `cat` does.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A usage error exits 1, like every other error: 2 means "changes present" to
    // `plan --detailed-exitcode`, and a typo must never look like that.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { cli::EXIT_ERROR } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => std::process::exit(cli::error(format!("cannot start the async runtime: {e}"))),
    };
    let code = runtime.block_on(run(cli.command));
    // Stop the runtime's tasks (a lock's renewal, a Ctrl-C listener) before exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}

async fn run(command: Command) -> i32 {
    match &command {
        Command::Validate { spec } => cli::validate(spec),
        Command::Graph { spec, format } => cli::graph(spec, *format),
        Command::Export(format) => cli::export::export(format),
        Command::Plan(c) => cli::plan::plan(&c.spec, &c.aws, &c.args).await,
        Command::Apply(c) => cli::apply::apply(&c.spec, &c.aws, &c.args).await,
        Command::Destroy(c) => cli::apply::destroy(&c.spec, &c.aws, &c.args).await,
        Command::Status(c) => cli::status::status(&c.spec, &c.aws, &c.args).await,
        Command::Swap(c) => cli::swap::swap(&c.spec, &c.aws, &c.args).await,
        Command::Bundle(c) => cli::bundle::bundle(&c.spec, &c.args),
        Command::Deploy(c) => cli::deploy::deploy(&c.spec, &c.aws, &c.args).await,
        Command::Logs(c) => cli::logs::logs(&c.spec, &c.aws, &c.args).await,
        Command::Unlock(c) => cli::lock::unlock(&c.spec, &c.aws, &c.args).await,
        Command::Abort(c) => cli::abort::abort(&c.spec, &c.aws, &c.args).await,
        Command::Events(c) => cli::events::events(&c.spec, &c.aws, &c.args).await,
        Command::Queue(c) => cli::queue::queue(&c.spec, &c.aws, &c.args).await,
        Command::Versions {
            command: Some(command),
            ..
        } => cli::versions::command(command).await,
        Command::Versions {
            command: None,
            spec,
            aws,
            args,
        } => cli::versions::list(spec, aws, args).await,
        Command::Local {
            command: LocalCommand::Run(c),
        } => cli::local::local_run(&c.spec, &c.args).await,
        Command::Local {
            command: LocalCommand::Fleet(c),
        } => cli::local::local_fleet(&c.spec, &c.aws, &c.args).await,
        Command::Local {
            command: LocalCommand::FleetInstance { args },
        } => cli::local::local_fleet_instance(args).await,
    }
}
