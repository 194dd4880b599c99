//! `local run` at the command line: deploy the source folder on this machine, print each
//! engine step, serve in the foreground until Ctrl-C, then stop every process it started.

use super::{error, load_spec, SpecArgs, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
use crate::interrupt::Interrupt;
use crate::ops::local::{claim, is_bare, release, run, target, LocalRequest, LocalTarget};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct LocalRunArgs {
    /// The environment whose settings to use (default: the spec's only environment)
    #[arg(value_name = "ENV")]
    pub env: Option<String>,
    /// The application's source folder (default: the application's `source`); without a spec,
    /// a bare Elastic Beanstalk application folder
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// The proxy's port on 127.0.0.1
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The WSGI server's port behind the proxy (default: the PORT property, else 8000)
    #[arg(long = "app-port", value_name = "PORT")]
    pub app_port: Option<u16>,
}

pub async fn local_run(spec: &SpecArgs, args: &LocalRunArgs) -> i32 {
    let (env, source) = (args.env.as_deref(), args.source.as_deref());
    let compilation = if is_bare(&spec.dir, env, source) {
        None
    } else {
        Some(or_exit!(load_spec(spec)).0)
    };
    let target =
        or_exit!(target(compilation.as_ref().map(|c| &c.spec), env, source).map_err(error));
    if let Some(note) = &target.note {
        println!("{note}");
    }
    if let Err(e) = claim(&target.source) {
        return error(e);
    }
    let code = serve(&target, args).await;
    release(&target.source);
    code
}

async fn serve(target: &LocalTarget, args: &LocalRunArgs) -> i32 {
    // Ctrl-C from now on is noted, never fatal: whatever the engine started gets stopped.
    let stop = interrupt_on_signals();
    println!(
        "Deploying {} on this machine, in {}",
        target.describe(),
        crate::ops::local::state_dir(&target.source).display()
    );
    if let Some(warning) = crate::ops::view::isolation().warning() {
        eprintln!("warning: {warning}");
    }
    let request = LocalRequest {
        source: target.source.clone(),
        environment: target.environment.clone(),
        application: target.application.clone(),
        port: args.port,
        app_port: args.app_port,
        health_timeout: crate::ops::local::HEALTH_TIMEOUT_SECS,
        engine_env: Vec::new(),
        region: target.region.clone(),
    };
    // The engine runs as a child process for as long as the deployment takes: off the
    // runtime's threads, so that Ctrl-C is still noted meanwhile.
    let run = match tokio::task::spawn_blocking(move || run(&request)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return error(e),
        Err(e) => return error(format!("the deployment stopped: {e}")),
    };
    for u in &run.unsupported {
        eprintln!("warning: {u}");
    }
    for line in run.report.step_lines() {
        println!("{line}");
    }
    for w in &run.report.warnings {
        eprintln!("warning: {w}");
    }
    if !run.report.succeeded() {
        let _ = run.engine.stop(&run.root);
        return error(run.report.failure_text());
    }
    if stop.is_raised() {
        let _ = run.engine.stop(&run.root);
        eprintln!("Interrupted: stopped the application and the proxy.");
        return EXIT_INTERRUPTED;
    }
    println!(
        "Serving {} ({} → gunicorn on 127.0.0.1:{}), version {}. Logs: {}. Ctrl-C stops it.",
        run.url,
        run.settings.proxy,
        run.settings.upstream_port,
        run.report.version,
        run.root.join("var/log").display()
    );
    stop.raised().await;
    println!("Stopping the application and the proxy…");
    match run.engine.stop(&run.root) {
        Ok(()) => {
            println!("Stopped.");
            EXIT_OK
        }
        Err(e) => {
            error(e);
            EXIT_ERROR
        }
    }
}

/// An interrupt raised by Ctrl-C (SIGINT) or SIGTERM, noted from now on (never fatal: what
/// was started gets stopped).
fn interrupt_on_signals() -> Interrupt {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = Interrupt::new();
    let raised = interrupt.clone();
    let (int, term) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    if let (Ok(mut int), Ok(mut term)) = (int, term) {
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            raised.raise();
        });
    }
    interrupt
}

#[derive(Debug, Clone, Args)]
pub struct LocalFleetArgs {
    /// Where each instance's root folder and fleet.json go (default: .beanpole/fleet in the spec's folder)
    #[arg(long = "fleet-dir", value_name = "DIR")]
    pub fleet_dir: Option<PathBuf>,
}

/// The process that plays one instance of the local fleet (started by `local fleet`).
#[derive(Debug, Clone, Args)]
pub struct FleetInstanceArgs {
    #[arg(long)]
    pub instance: String,
    /// The instance's root folder, where the fleet wrote what to play
    #[arg(long)]
    pub root: PathBuf,
}

fn show_fleet_event(event: crate::fleet::FleetEvent) {
    match event {
        crate::fleet::FleetEvent::Problem(_) => eprintln!("{}", event.line()),
        _ => println!("{}", event.line()),
    }
}

/// `local fleet`: plays the instances a local AWS emulator reports, until Ctrl-C: a process
/// per instance (this binary's hidden `local fleet-instance`).
pub async fn local_fleet(spec: &SpecArgs, aws: &super::AwsArgs, args: &LocalFleetArgs) -> i32 {
    use crate::fleet::{check_local, run as run_fleet, InstanceSpec};
    let endpoint = or_exit!(check_local(aws.endpoint_url.as_deref()).map_err(error));
    let (compilation, _) = or_exit!(load_spec(spec));
    let session = or_exit!(
        crate::ops::Session::open(&compilation, aws.endpoint_url.as_deref())
            .await
            .map_err(error)
    );
    let signal = interrupt_on_signals();
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return error(format!(
                "cannot find this program to start the instances: {e}"
            ))
        }
    };
    let dir = args
        .fleet_dir
        .clone()
        .unwrap_or_else(|| spec.dir.join(".beanpole").join("fleet"));
    let applications: Vec<String> = compilation
        .spec
        .applications
        .iter()
        .map(|a| a.name.clone())
        .collect();
    println!(
        "Local fleet for {} against {endpoint}: playing every instance in service (Ctrl-C stops them all); ports in {}",
        applications.join(", "),
        dir.join("fleet.json").display()
    );
    let launch = |instance: &InstanceSpec| crate::fleet::spawn_player(&exe, instance);
    let stop = || signal.is_raised();
    match run_fleet(
        &session,
        &applications,
        &endpoint,
        &dir,
        &stop,
        &launch,
        &mut show_fleet_event,
    )
    .await
    {
        Ok(()) => {
            println!("Local fleet stopped: every process it started is gone.");
            EXIT_OK
        }
        Err(e) => error(e),
    }
}

/// `local fleet-instance`: one instance of the local fleet, until SIGTERM or Ctrl-C.
pub async fn local_fleet_instance(args: &FleetInstanceArgs) -> i32 {
    let stop = interrupt_on_signals();
    let result = match crate::fleet::read_player(&args.root, &args.instance) {
        Ok(spec) => {
            crate::fleet::play_instance(&spec, &|| stop.is_raised(), &mut show_fleet_event).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => error(format!("{}: {e}", args.instance)),
    }
}
