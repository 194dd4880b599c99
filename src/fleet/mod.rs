//! The local fleet (the only fleet in Beanpole): plays on this machine the instances a local AWS emulator (moto) reports in
//! service, since an emulator runs none. Each instance is a process of its own
//! ([`play_instance`], started by the fleet through the launcher it is given) with a folder of
//! its own (its root:
//! `/var/app/current`, `/etc/nginx`, … live under it) and two ports of 127.0.0.1 (the proxy's,
//! the WSGI server's); it runs its launch template's real user data (which fetches the engine
//! from the versions bucket and boots), then every shell script Run Command was sent for its
//! instance id, in order, as the SSM agent would. So nginx → gunicorn → the application really
//! serve, and deploys, `logs` and scale-outs go through the same paths as on AWS.
//!
//! It refuses to run against anything but an endpoint on 127.0.0.1: it executes the scripts
//! the endpoint holds. `fleet.json` in its folder says which port plays which instance.

use crate::aws::{autoscaling, ec2, ssm, Aws};
use crate::base64::decode as base64_decode;
use crate::ops::view::InstanceView;
use crate::ops::{OpError, Session};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How often the fleet looks for new instances and new commands.
const POLL: Duration = Duration::from_millis(400);

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("the local fleet runs only against an AWS emulator on this machine: give `--endpoint-url http://127.0.0.1:PORT` (or AWS_ENDPOINT_URL){0}")]
    NotLocal(String),
    #[error("the fleet's instances need the AWS CLI (`aws`) on the PATH, pointed at the emulator as they are: `pip install awscli` into a virtualenv and put its bin folder on the PATH")]
    NoAwsCli,
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
    #[error("{0} does not say which instance to play: the local fleet starts this command")]
    NotPlayed(String),
    #[error(transparent)]
    Op(#[from] OpError),
}

/// What the fleet reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEvent {
    Booting {
        instance: String,
        environment: String,
        port: u16,
    },
    Booted {
        instance: String,
        ok: bool,
        log_tail: String,
    },
    Ran {
        instance: String,
        command_id: String,
        status: Option<i32>,
    },
    Left {
        instance: String,
    },
    Problem(String),
}

impl FleetEvent {
    /// The event in one line, as `local fleet` prints it (a problem is a warning).
    pub fn line(&self) -> String {
        match self {
            FleetEvent::Booting {
                instance,
                environment,
                port,
            } => format!("{instance} ({environment}): booting, proxy on 127.0.0.1:{port}"),
            FleetEvent::Booted {
                instance, ok: true, ..
            } => format!("{instance}: serving"),
            FleetEvent::Booted {
                instance,
                ok: false,
                log_tail,
            } => format!("{instance}: the boot FAILED:\n{log_tail}"),
            FleetEvent::Ran {
                instance,
                command_id,
                status,
            } => format!(
                "{instance}: ran command {command_id} (exit {})",
                status.map_or("-".to_string(), |s| s.to_string())
            ),
            FleetEvent::Left { instance } => format!("{instance}: left its group: stopped"),
            FleetEvent::Problem(p) => format!("warning: {p}"),
        }
    }
}

/// One instance as `fleet.json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub instance: String,
    pub application: String,
    pub environment: String,
    pub group: String,
    /// The proxy's port on 127.0.0.1 (the instance's port 80).
    pub port: u16,
    pub app_port: u16,
    pub root: PathBuf,
    /// `booting`, `serving`, `boot-failed`.
    pub state: String,
    /// Run Command scripts it ran.
    pub commands_run: usize,
}

/// What the process playing one instance needs to know (the fleet writes it into the
/// instance's root, where that process reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InstanceSpec {
    pub instance: String,
    pub application: String,
    pub environment: String,
    pub group: String,
    pub region: String,
    pub launch_template: String,
    pub launch_template_version: String,
    pub root: PathBuf,
    pub port: u16,
    pub app_port: u16,
    pub endpoint: String,
}

/// Where an instance's process says how it is (`state`, `commands_run`).
fn state_file(root: &Path) -> PathBuf {
    root.join("opt/beanpole/fleet-state.json")
}

/// Checks that `endpoint` is on this machine.
pub fn check_local(endpoint: Option<&str>) -> Result<String, FleetError> {
    let endpoint = endpoint
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .ok_or_else(|| FleetError::NotLocal(String::new()))?;
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    if host == "127.0.0.1" || host == "localhost" {
        Ok(endpoint)
    } else {
        Err(FleetError::NotLocal(format!(" (not {endpoint})")))
    }
}

/// Runs the fleet for `applications` until `stop` says so: a process per instance in service
/// (`launch` starts it), stopped when its instance leaves its group; then stops them all.
pub async fn run(
    session: &Session,
    applications: &[String],
    endpoint: &str,
    dir: &Path,
    stop: &dyn Fn() -> bool,
    launch: &dyn Fn(&InstanceSpec) -> std::io::Result<Child>,
    on_event: &mut dyn FnMut(FleetEvent),
) -> Result<(), FleetError> {
    let has_aws = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("aws").is_file()));
    if !has_aws {
        return Err(FleetError::NoAwsCli);
    }
    std::fs::create_dir_all(dir).map_err(|error| FleetError::Write {
        path: dir.display().to_string(),
        error,
    })?;
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if let Some(warning) = crate::ops::view::isolation().warning() {
        on_event(FleetEvent::Problem(warning));
    }
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let mut players: BTreeMap<String, Child> = BTreeMap::new();
    write_state(&dir, &members)?;
    loop {
        if stop() {
            break;
        }
        let mut seen = BTreeSet::new();
        let mut taken: BTreeSet<u16> = members
            .values()
            .filter(|m| m.state != "stopped")
            .flat_map(|m| [m.port, m.app_port])
            .collect();
        for application in applications {
            let aws = session.client(application)?;
            let groups = match autoscaling::application_groups(&aws.autoscaling, application).await
            {
                Ok(g) => g,
                Err(e) => {
                    on_event(FleetEvent::Problem(format!("cannot list the groups: {e}")));
                    continue;
                }
            };
            for group in groups {
                for instance in &group.in_service {
                    seen.insert(instance.clone());
                    if members.contains_key(instance) {
                        continue;
                    }
                    let Some(template) = group.launch_template.clone() else {
                        continue;
                    };
                    let spec = InstanceSpec {
                        instance: instance.clone(),
                        application: application.clone(),
                        environment: group.environment.clone(),
                        group: group.name.clone(),
                        region: aws.region.clone(),
                        launch_template: template,
                        launch_template_version: group
                            .launch_template_version
                            .clone()
                            .unwrap_or_else(|| "$Default".into()),
                        root: dir.join(instance),
                        port: free_port_except(&taken),
                        app_port: 0,
                        endpoint: endpoint.to_string(),
                    };
                    // Two ports no other instance of this fleet has (one still booting has not
                    // bound its own yet).
                    let mut spec = spec;
                    taken.insert(spec.port);
                    spec.app_port = free_port_except(&taken);
                    taken.insert(spec.app_port);
                    let _ = std::fs::remove_file(state_file(&spec.root));
                    on_event(FleetEvent::Booting {
                        instance: instance.clone(),
                        environment: spec.environment.clone(),
                        port: spec.port,
                    });
                    match launch(&spec) {
                        Ok(child) => {
                            players.insert(instance.clone(), child);
                        }
                        Err(e) => on_event(FleetEvent::Problem(format!(
                            "{instance}: cannot start the process that plays it: {e}"
                        ))),
                    }
                    members.insert(
                        instance.clone(),
                        Member {
                            instance: instance.clone(),
                            application: application.clone(),
                            environment: spec.environment.clone(),
                            group: spec.group.clone(),
                            port: spec.port,
                            app_port: spec.app_port,
                            root: spec.root.clone(),
                            state: "booting".into(),
                            commands_run: 0,
                        },
                    );
                }
            }
        }
        // Instances that are in no group any more stop once EC2 says they are not running
        // (terminated, scaled in); one detached from a group to join another keeps running,
        // as on EC2.
        let unseen: Vec<String> = players
            .keys()
            .filter(|i| !seen.contains(*i))
            .cloned()
            .collect();
        if let (false, Some(application)) = (unseen.is_empty(), applications.first()) {
            let aws = session.client(application)?;
            match crate::aws::ec2::running_instances(&aws.ec2, &unseen).await {
                Ok(running) => seen.extend(running),
                // Unknown: keep them until the next look.
                Err(_) => seen.extend(unseen.iter().cloned()),
            }
        }
        let gone: Vec<String> = players
            .keys()
            .filter(|i| !seen.contains(*i))
            .cloned()
            .collect();
        for instance in gone {
            if let Some(child) = players.remove(&instance) {
                end_player(child).await;
            }
            if let Some(m) = members.get_mut(&instance) {
                m.state = "stopped".into();
            }
            on_event(FleetEvent::Left { instance });
        }
        for m in members.values_mut().filter(|m| m.state != "stopped") {
            if let Some((state, commands_run)) = read_player_state(&m.root) {
                m.state = state;
                m.commands_run = commands_run;
            }
        }
        members.retain(|id, m| seen.contains(id) || m.state != "stopped");
        write_state(&dir, &members)?;
        tokio::time::sleep(POLL).await;
    }
    for (_, child) in std::mem::take(&mut players) {
        end_player(child).await;
    }
    for m in members.values_mut() {
        m.state = "stopped".into();
    }
    write_state(&dir, &members)
}

/// Where the fleet leaves an instance's process what it plays.
fn spec_file(root: &Path) -> PathBuf {
    root.join("opt/beanpole/fleet-instance.json")
}

/// Starts the process that plays one instance: `EXE local fleet-instance --instance ID --root
/// ROOT` (this binary's hidden command, reading its spec from the root), in its own process
/// group (a terminal's Ctrl-C reaches the fleet, which stops it).
pub fn spawn_player(exe: &Path, instance: &InstanceSpec) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let file = spec_file(&instance.root);
    if let Some(folder) = file.parent() {
        std::fs::create_dir_all(folder)?;
    }
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(instance).unwrap_or_default(),
    )?;
    Command::new(exe)
        .args(["local", "fleet-instance", "--instance", &instance.instance])
        .arg("--root")
        .arg(&instance.root)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
}

/// The instance the fleet asked this process to play (from its root).
pub fn read_player(root: &Path, instance: &str) -> Result<InstanceSpec, FleetError> {
    let file = spec_file(root);
    let spec: InstanceSpec = std::fs::read(&file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| FleetError::NotPlayed(file.display().to_string()))?;
    if spec.instance != instance {
        return Err(FleetError::NotPlayed(file.display().to_string()));
    }
    Ok(spec)
}

/// Asks an instance's process to stop its instance (SIGTERM) and waits for it.
async fn end_player(mut child: Child) {
    // SAFETY: signalling a child this process started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn read_player_state(root: &Path) -> Option<(String, usize)> {
    let text = std::fs::read_to_string(state_file(root)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((
        value.get("state")?.as_str()?.to_string(),
        value.get("commands_run")?.as_u64()? as usize,
    ))
}

fn write_state(dir: &Path, members: &BTreeMap<String, Member>) -> Result<(), FleetError> {
    let path = dir.join("fleet.json");
    let tmp = dir.join("fleet.json.tmp");
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "instances": members.values().collect::<Vec<_>>(),
    }))
    .unwrap_or_default();
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|error| FleetError::Write {
            path: path.display().to_string(),
            error,
        })
}

/// A free port of 127.0.0.1 (the kernel's choice).
/// A port of 127.0.0.1 free now, from below the kernel's ephemeral range (32768 and up on
/// Linux), so that no outgoing connection of this machine takes it before the instance's
/// proxy or WSGI server binds it; spread by process and time so that concurrent fleets (and
/// tests) rarely try the same one.
pub fn free_port() -> u16 {
    free_port_except(&BTreeSet::new())
}

/// Claims `port` for this process among every process of this machine that picks ports this
/// way (the test binary, `local fleet`, `local run`): a port is free when nothing listens on it,
/// but between the pick and the bind (a whole deployment, for an instance's proxy) another
/// process could pick it too. A claim is a file in the temporary folder, made with
/// `create_new`; one older than ten minutes is stale and taken over.
fn claim_port(port: u16) -> bool {
    let dir = std::env::temp_dir().join("beanpole-ports");
    if std::fs::create_dir_all(&dir).is_err() {
        return true; // nowhere to claim: the bind test alone decides, as before
    }
    let path = dir.join(port.to_string());
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .is_ok()
    {
        return true;
    }
    let stale = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(600));
    stale && std::fs::write(&path, b"").is_ok()
}

/// A free port that is not one of `taken` (ports handed out whose process may not have bound
/// them yet), claimed for this process ([`claim_port`]).
pub fn free_port_except(taken: &BTreeSet<u16>) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let start = std::process::id()
        .wrapping_mul(7_919)
        .wrapping_add(nanos)
        .wrapping_add(NEXT.fetch_add(97, Ordering::Relaxed));
    for i in 0..SPAN {
        let port = LOW + (start.wrapping_add(i) % SPAN);
        if let Ok(port) = u16::try_from(port) {
            if !taken.contains(&port)
                && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
                && claim_port(port)
            {
                return port;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Plays one instance until `stop` says so: its user data, then every Run Command script
/// sent to it, in order, once; then stops what its engine started.
pub async fn play_instance(
    spec: &InstanceSpec,
    stop: &dyn Fn() -> bool,
    on_event: &mut dyn FnMut(FleetEvent),
) -> Result<(), FleetError> {
    check_local(Some(&spec.endpoint))?;
    let aws = Aws::connect(
        &crate::aws::Connection {
            region: Some(spec.region.clone()),
            endpoint_url: Some(spec.endpoint.clone()),
        },
        crate::aws::calls::CallCounter::new(),
    )
    .await
    .map_err(|source| OpError::Connect {
        application: spec.application.clone(),
        source,
    })?;
    let root = &spec.root;
    let instance = spec.instance.clone();
    let mut commands_run = 0usize;
    let write_state = |state: &str, commands_run: usize| {
        let _ = std::fs::write(
            state_file(root),
            serde_json::json!({"state": state, "commands_run": commands_run}).to_string(),
        );
    };
    std::fs::create_dir_all(root.join("opt/beanpole"))
        .and_then(|_| {
            std::fs::write(
                root.join("opt/beanpole/instance-id"),
                format!("{instance}\n"),
            )
        })
        .map_err(|error| FleetError::Write {
            path: root.display().to_string(),
            error,
        })?;
    write_state("booting", 0);
    let user_data = ec2::launch_template_user_data(
        &aws.ec2,
        &spec.launch_template,
        &spec.launch_template_version,
    )
    .await
    .ok()
    .flatten()
    .and_then(|encoded| base64_decode(&encoded))
    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let booted = match user_data {
        Some(user_data) => {
            let status = run_script(spec, &aws.region, &user_data, stop).await;
            let log =
                std::fs::read_to_string(root.join("var/log/beanpole-boot.log")).unwrap_or_default();
            on_event(FleetEvent::Booted {
                instance: instance.clone(),
                ok: status == Some(0),
                log_tail: crate::platform::tail(&log, 20),
            });
            status == Some(0)
        }
        None => {
            on_event(FleetEvent::Booted {
                instance: instance.clone(),
                ok: false,
                log_tail: format!("no user data in launch template {}", spec.launch_template),
            });
            false
        }
    };
    let state = if booted { "serving" } else { "boot-failed" };
    write_state(state, commands_run);
    // Then every Run Command script sent to this instance, as its SSM agent would.
    let done_file = root.join("opt/beanpole/fleet-commands-run");
    let mut done: BTreeSet<String> = std::fs::read_to_string(&done_file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    while !stop() {
        let scripts = ssm::scripts_for_instance(&aws.ssm, &instance)
            .await
            .unwrap_or_default();
        for script in scripts {
            if done.contains(&script.command_id) || stop() {
                continue;
            }
            let status = run_script(spec, &aws.region, &script.lines.join("\n"), stop).await;
            done.insert(script.command_id.clone());
            let _ = std::fs::write(
                &done_file,
                done.iter().cloned().collect::<Vec<_>>().join("\n"),
            );
            commands_run += 1;
            write_state(state, commands_run);
            on_event(FleetEvent::Ran {
                instance: instance.clone(),
                command_id: script.command_id,
                status,
            });
        }
        tokio::time::sleep(POLL).await;
    }
    // The instance is gone (or the fleet stops): stop what its engine started.
    let view = InstanceView::new(root);
    if view.host_path("/opt/beanpole/engine.pyz").exists() {
        if let Ok(mut command) = view.command("python3", &[]) {
            let engine = view
                .engine_root()
                .join("opt/beanpole/engine.pyz")
                .into_os_string();
            let _ = command
                .arg(engine)
                .args(["stop", "--init", "engine", "--root"])
                .arg(view.engine_root())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    write_state("stopped", commands_run);
    Ok(())
}

/// Runs a script as the instance's root would, in its own process group (output appended to
/// where the SSM agent would keep it), ended early if `stop` says so; its exit status.
async fn run_script(
    spec: &InstanceSpec,
    region: &str,
    script: &str,
    stop: &dyn Fn() -> bool,
) -> Option<i32> {
    use std::os::unix::process::CommandExt;
    let log = std::fs::create_dir_all(spec.root.join("var/log"))
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(spec.root.join("var/log/run-command.log"))
        })
        .ok();
    let (out, err) = match &log {
        Some(f) => (
            f.try_clone()
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
            f.try_clone()
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        ),
        None => (Stdio::null(), Stdio::null()),
    };
    // In the instance's own view (EB's paths, the host read-only), or under its folder.
    let view = InstanceView::new(&spec.root);
    let mut command = match view.command("bash", &[]) {
        Ok(command) => command,
        Err(problem) => {
            if let Some(mut f) = log.as_ref() {
                use std::io::Write;
                let _ = writeln!(f, "cannot make the instance's filesystem view: {problem}");
            }
            return None;
        }
    };
    let mut child: Child = command
        .arg("-c")
        .arg(script)
        .current_dir(&spec.root)
        .env("BEANPOLE_PORT", spec.port.to_string())
        .env("BEANPOLE_APP_PORT", spec.app_port.to_string())
        .env("AWS_SSM_INSTANCE_ID", &spec.instance)
        .env("AWS_ENDPOINT_URL", &spec.endpoint)
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_REGION", region)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .ok()?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) => {}
            Err(_) => return None,
        }
        if stop() {
            let pid = child.id() as i32;
            // SAFETY: signalling the process group this function started.
            unsafe {
                libc::kill(-pid, libc::SIGTERM);
            }
            let _ = child.wait();
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
