//! `local run` at the command line: deploy the source folder on this machine, print each
//! engine step, serve in the foreground until Ctrl-C, then stop every process it started.

use super::{error, load_spec, SpecArgs, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
use crate::ops::local::{choose_environment, claim, release, run, LocalRequest};
use crate::platform::report::Report;
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
        let (compilation, _) = match load_spec(spec) {
            Ok(c) => c,
            Err(code) => return code,
        };
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
    let Some(stop) = StopSignal::listen() else {
        return error("cannot listen for Ctrl-C");
    };
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
        eprintln!(
            "warning: {}: `{}` is not carried out: {}",
            u.file, u.key, u.reason
        );
    }
    print_steps(&run.report);
    for w in &run.report.warnings {
        eprintln!("warning: {w}");
    }
    if !run.report.succeeded() {
        let _ = run.engine.stop(&run.root);
        return error(failure_text(&run.report));
    }
    if stop.received() {
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
    stop.wait().await;
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

/// The engine's steps with their durations, one per line.
pub fn print_steps(report: &Report) {
    for step in &report.steps {
        let mark = if step.outcome == crate::platform::report::StepOutcome::Ok {
            "ok"
        } else {
            "FAILED"
        };
        println!("  {:<32} {:>8.2} s  {mark}", step.name, step.seconds);
    }
}

/// A failed deployment: the step, why, the output's last lines, and what serves now.
pub fn failure_text(report: &Report) -> String {
    let mut text = format!(
        "the deployment of {} failed at {}: {}",
        report.version,
        report.failed_step.as_deref().unwrap_or("?"),
        report.message
    );
    if !report.output_tail.is_empty() {
        text.push_str("\n--- last lines of its output ---\n");
        text.push_str(&report.output_tail);
    }
    if let Some(previous) = &report.rolled_back_to {
        text.push_str(&format!("\nversion {previous} was put back and serves"));
    }
    text
}

/// Ctrl-C (SIGINT) and SIGTERM, noted from the moment it listens.
struct StopSignal {
    received: std::sync::Arc<std::sync::atomic::AtomicBool>,
    notify: std::sync::Arc<tokio::sync::Notify>,
}

impl StopSignal {
    fn listen() -> Option<StopSignal> {
        use tokio::signal::unix::{signal, SignalKind};
        let received = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        let mut interrupt = signal(SignalKind::interrupt()).ok()?;
        let mut terminate = signal(SignalKind::terminate()).ok()?;
        let (flag, wake) = (received.clone(), notify.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            wake.notify_waiters();
        });
        Some(StopSignal { received, notify })
    }

    fn received(&self) -> bool {
        self.received.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once the signal came (at once if it already did).
    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.received() {
                return;
            }
            notified.await;
        }
    }
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
    #[arg(long)]
    pub application: String,
    #[arg(long)]
    pub environment: String,
    #[arg(long)]
    pub group: String,
    #[arg(long)]
    pub region: String,
    #[arg(long = "launch-template")]
    pub launch_template: String,
    #[arg(long = "launch-template-version")]
    pub launch_template_version: String,
    #[arg(long)]
    pub root: PathBuf,
    #[arg(long)]
    pub port: u16,
    #[arg(long = "app-port")]
    pub app_port: u16,
    #[arg(long = "endpoint-url")]
    pub endpoint: String,
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
    let endpoint = match check_local(aws.endpoint_url.as_deref()) {
        Ok(e) => e,
        Err(e) => return error(e),
    };
    let (compilation, _) = match load_spec(spec) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let session = match crate::ops::Session::open(&compilation, aws.endpoint_url.as_deref()).await {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let Some(signal) = StopSignal::listen() else {
        return error("cannot listen for Ctrl-C");
    };
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
    let launch = |instance: &InstanceSpec| {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(&exe)
            .args(["local", "fleet-instance", "--instance"])
            .arg(&instance.instance)
            .arg("--application")
            .arg(&instance.application)
            .arg("--environment")
            .arg(&instance.environment)
            .arg("--group")
            .arg(&instance.group)
            .arg("--region")
            .arg(&instance.region)
            .arg("--launch-template")
            .arg(&instance.launch_template)
            .arg("--launch-template-version")
            .arg(&instance.launch_template_version)
            .arg("--root")
            .arg(&instance.root)
            .arg("--port")
            .arg(instance.port.to_string())
            .arg("--app-port")
            .arg(instance.app_port.to_string())
            .arg("--endpoint-url")
            .arg(&instance.endpoint)
            .stdin(std::process::Stdio::null())
            // Its own process group: the fleet stops it (a terminal's Ctrl-C reaches the fleet).
            .process_group(0)
            .spawn()
    };
    let stop = || signal.received();
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
    use crate::fleet::{play_instance, InstanceSpec};
    let Some(signal) = StopSignal::listen() else {
        return error("cannot listen for SIGTERM");
    };
    let spec = InstanceSpec {
        instance: args.instance.clone(),
        application: args.application.clone(),
        environment: args.environment.clone(),
        group: args.group.clone(),
        region: args.region.clone(),
        launch_template: args.launch_template.clone(),
        launch_template_version: args.launch_template_version.clone(),
        root: args.root.clone(),
        port: args.port,
        app_port: args.app_port,
        endpoint: args.endpoint.clone(),
    };
    let stop = || signal.received();
    match play_instance(&spec, &stop, &mut show_fleet_event).await {
        Ok(()) => EXIT_OK,
        Err(e) => error(format!("{}: {e}", args.instance)),
    }
}
