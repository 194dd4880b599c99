//! `local run` at the command line: deploy the source folder on this machine, print each
//! engine step, serve in the foreground until Ctrl-C, then stop every process it started.

use super::{error, load_spec, SpecArgs, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
use crate::interrupt::Interrupt;
use crate::ops::local::{choose_environment, claim, release, run, LocalRequest};
use clap::Args;
use std::path::{Path, PathBuf};

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

fn has_spec(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "hcl"))
    })
}

pub async fn local_run(spec: &SpecArgs, args: &LocalRunArgs) -> i32 {
    let bare = args.env.is_none() && args.source.is_some() && !has_spec(&spec.dir);
    let (environment, application, source) = if bare {
        let source = args.source.clone().unwrap_or_default();
        let name = std::fs::canonicalize(&source)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "app".into());
        (None, name, source)
    } else {
        let (compilation, _) = or_exit!(load_spec(spec));
        let env = match choose_environment(&compilation.spec, args.env.as_deref()) {
            Ok((env, others)) => {
                if !others.is_empty() {
                    println!(
                        "Using {}, the spec's first environment (name another to use its settings: {}).",
                        env.name,
                        others.join(", ")
                    );
                }
                env
            }
            Err(why) => return error(why),
        };
        let source = match &args.source {
            Some(s) => s.clone(),
            None => compilation
                .spec
                .application(&env.application)
                .map(|a| a.source.clone())
                .unwrap_or_else(|| PathBuf::from("app")),
        };
        (Some(env.clone()), env.application.clone(), source)
    };
    if !source.is_dir() {
        return error(format!(
            "{} is not a folder: give the application's source folder with `--source DIR`",
            source.display()
        ));
    }
    if let Err(e) = claim(&source) {
        return error(e);
    }
    let code = serve(&source, environment, application, args).await;
    release(&source);
    code
}

async fn serve(
    source: &Path,
    environment: Option<crate::model::Environment>,
    application: String,
    args: &LocalRunArgs,
) -> i32 {
    let what = match &environment {
        Some(e) => format!("{} of {}", e.name, e.application),
        None => format!(
            "{} (a folder without a spec: Elastic Beanstalk's defaults)",
            source.display()
        ),
    };
    // Ctrl-C from now on is noted, never fatal: whatever the engine started gets stopped.
    let stop = interrupt_on_signals();
    println!(
        "Deploying {what} on this machine, in {}",
        crate::ops::local::state_dir(source).display()
    );
    let request = LocalRequest {
        source: source.to_path_buf(),
        environment,
        application,
        port: args.port,
        app_port: args.app_port,
        health_timeout: crate::ops::local::HEALTH_TIMEOUT_SECS,
        engine_env: Vec::new(),
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
    use crate::fleet::FleetEvent;
    match event {
        FleetEvent::Booting {
            instance,
            environment,
            port,
        } => println!("{instance} ({environment}): booting, proxy on 127.0.0.1:{port}"),
        FleetEvent::Booted {
            instance, ok: true, ..
        } => println!("{instance}: serving"),
        FleetEvent::Booted {
            instance,
            ok: false,
            log_tail,
        } => println!("{instance}: the boot FAILED:\n{log_tail}"),
        FleetEvent::Ran {
            instance,
            command_id,
            status,
        } => println!(
            "{instance}: ran command {command_id} (exit {})",
            status.map_or("-".to_string(), |s| s.to_string())
        ),
        FleetEvent::Left { instance } => println!("{instance}: left its group: stopped"),
        FleetEvent::Problem(p) => eprintln!("warning: {p}"),
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
