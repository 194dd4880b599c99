//! The local fleet: plays on this machine the instances a local AWS emulator (moto) reports in
//! service, since an emulator runs none. Each instance gets a folder of its own (its root:
//! `/var/app/current`, `/etc/nginx`, … live under it) and two ports of 127.0.0.1 (the proxy's,
//! the WSGI server's); it runs its launch template's real user data (which fetches the engine
//! from the versions bucket and boots), then every shell script Run Command was sent for its
//! instance id, in order, as the SSM agent would. So nginx → gunicorn → the application really
//! serve, and deploys, `logs` and scale-outs go through the same paths as on AWS.
//!
//! It refuses to run against anything but an endpoint on 127.0.0.1: it executes the scripts
//! the endpoint holds. `fleet.json` in its folder says which port plays which instance.

use super::Session;
use crate::aws::{autoscaling, ec2, ssm, Aws};
use crate::platform::boot::base64_decode;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
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
    #[error(transparent)]
    Op(#[from] super::OpError),
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

struct Worker {
    leave: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
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

/// Runs the fleet for `applications` until `stop` says so; then stops every process it started.
pub fn run(
    session: &Session,
    applications: &[String],
    endpoint: &str,
    dir: &Path,
    stop: &dyn Fn() -> bool,
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
    let (events, received) = mpsc::channel::<(String, FleetEvent)>();
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let mut workers: BTreeMap<String, Worker> = BTreeMap::new();
    let stopping = Arc::new(AtomicBool::new(false));
    write_state(&dir, &members)?;
    loop {
        if stop() {
            break;
        }
        let mut seen = BTreeSet::new();
        for application in applications {
            let aws = session.client(application)?.clone();
            let groups = match session.runtime.block_on(autoscaling::application_groups(
                &aws.autoscaling,
                application,
            )) {
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
                    let member = Member {
                        instance: instance.clone(),
                        application: application.clone(),
                        environment: group.environment.clone(),
                        group: group.name.clone(),
                        port: free_port(),
                        app_port: free_port(),
                        root: dir.join(instance),
                        state: "booting".into(),
                        commands_run: 0,
                    };
                    on_event(FleetEvent::Booting {
                        instance: instance.clone(),
                        environment: member.environment.clone(),
                        port: member.port,
                    });
                    let leave = Arc::new(AtomicBool::new(false));
                    let job = Job {
                        aws: aws.clone(),
                        runtime: session.runtime.handle().clone(),
                        member: member.clone(),
                        template,
                        version: group
                            .launch_template_version
                            .clone()
                            .unwrap_or_else(|| "$Default".into()),
                        endpoint: endpoint.to_string(),
                        leave: leave.clone(),
                        stopping: stopping.clone(),
                        events: events.clone(),
                    };
                    let thread = std::thread::spawn(move || job.play());
                    workers.insert(instance.clone(), Worker { leave, thread });
                    members.insert(instance.clone(), member);
                }
            }
        }
        // Instances that left their group (terminated, scaled in) stop.
        for (instance, worker) in &workers {
            if !seen.contains(instance) && !worker.leave.swap(true, Ordering::SeqCst) {
                on_event(FleetEvent::Left {
                    instance: instance.clone(),
                });
            }
        }
        while let Ok((instance, event)) = received.try_recv() {
            if let Some(m) = members.get_mut(&instance) {
                match &event {
                    FleetEvent::Booted { ok, .. } => {
                        m.state = if *ok { "serving" } else { "boot-failed" }.into()
                    }
                    FleetEvent::Ran { .. } => m.commands_run += 1,
                    FleetEvent::Left { .. } => m.state = "stopped".into(),
                    _ => {}
                }
            }
            on_event(event);
        }
        members.retain(|id, m| seen.contains(id) || m.state != "stopped");
        write_state(&dir, &members)?;
        std::thread::sleep(POLL);
    }
    stopping.store(true, Ordering::SeqCst);
    for (_, worker) in workers {
        worker.leave.store(true, Ordering::SeqCst);
        let _ = worker.thread.join();
    }
    for m in members.values_mut() {
        m.state = "stopped".into();
    }
    write_state(&dir, &members)
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
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// What one instance's thread needs.
struct Job {
    aws: Aws,
    runtime: tokio::runtime::Handle,
    member: Member,
    template: String,
    version: String,
    endpoint: String,
    leave: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
    events: mpsc::Sender<(String, FleetEvent)>,
}

impl Job {
    fn send(&self, event: FleetEvent) {
        let _ = self.events.send((self.member.instance.clone(), event));
    }

    fn play(self) {
        let root = &self.member.root;
        let instance = self.member.instance.clone();
        let prepared = std::fs::create_dir_all(root.join("opt/beanpole")).and_then(|_| {
            std::fs::write(
                root.join("opt/beanpole/instance-id"),
                format!("{instance}\n"),
            )
        });
        if let Err(e) = prepared {
            self.send(FleetEvent::Problem(format!("{instance}: {e}")));
            return;
        }
        let user_data = self
            .runtime
            .block_on(ec2::launch_template_user_data(
                &self.aws.ec2,
                &self.template,
                &self.version,
            ))
            .ok()
            .flatten()
            .and_then(|encoded| base64_decode(&encoded))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let Some(user_data) = user_data else {
            self.send(FleetEvent::Booted {
                instance,
                ok: false,
                log_tail: format!("no user data in launch template {}", self.template),
            });
            return;
        };
        let status = self.run_script(&user_data);
        let log =
            std::fs::read_to_string(root.join("var/log/beanpole-boot.log")).unwrap_or_default();
        self.send(FleetEvent::Booted {
            instance: instance.clone(),
            ok: status == Some(0),
            log_tail: crate::platform::tail(&log, 20),
        });
        // Then every Run Command script sent to this instance, as its SSM agent would.
        let done_file = root.join("opt/beanpole/fleet-commands-run");
        let mut done: BTreeSet<String> = std::fs::read_to_string(&done_file)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        while !self.leave.load(Ordering::SeqCst) {
            let scripts = self
                .runtime
                .block_on(ssm::scripts_for_instance(&self.aws.ssm, &instance))
                .unwrap_or_default();
            for script in scripts {
                if done.contains(&script.command_id) || self.leave.load(Ordering::SeqCst) {
                    continue;
                }
                let status = self.run_script(&script.lines.join("\n"));
                done.insert(script.command_id.clone());
                let _ = std::fs::write(
                    &done_file,
                    done.iter().cloned().collect::<Vec<_>>().join("\n"),
                );
                self.send(FleetEvent::Ran {
                    instance: instance.clone(),
                    command_id: script.command_id,
                    status,
                });
            }
            std::thread::sleep(POLL);
        }
        // The instance is gone (or the fleet stops): stop what its engine started.
        let engine = root.join("opt/beanpole/engine.py");
        if engine.exists() {
            let _ = Command::new("python3")
                .arg(&engine)
                .args(["stop", "--init", "engine", "--root"])
                .arg(root)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if !self.stopping.load(Ordering::SeqCst) {
            self.send(FleetEvent::Left { instance });
        }
    }

    /// Runs a script as the instance's root would, in its own process group, ended early if
    /// the fleet stops; its exit status.
    fn run_script(&self, script: &str) -> Option<i32> {
        use std::os::unix::process::CommandExt;
        let m = &self.member;
        // Where the SSM agent would keep a command's output.
        let log = std::fs::create_dir_all(m.root.join("var/log"))
            .and_then(|_| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(m.root.join("var/log/run-command.log"))
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
        let mut child: Child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(&m.root)
            .env("BEANPOLE_ROOT", &m.root)
            .env("BEANPOLE_PORT", m.port.to_string())
            .env("BEANPOLE_APP_PORT", m.app_port.to_string())
            .env("AWS_SSM_INSTANCE_ID", &m.instance)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_DEFAULT_REGION", &self.aws.region)
            .env("AWS_REGION", &self.aws.region)
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
            if self.stopping.load(Ordering::SeqCst) {
                let pid = child.id() as i32;
                // SAFETY: signalling the process group this thread started.
                unsafe {
                    libc::kill(-pid, libc::SIGTERM);
                }
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
