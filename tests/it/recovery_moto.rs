//! Deploys under faults, races and `kill -9`, against moto with the local fleet: a deploy
//! called from the library is refused while another holds the lock; a failed
//! `DescribeTargetHealth` during a drain ends the deploy naming it (never read as drained);
//! lost answers to the lock's writes never lock a command out of its own lock; `unlock
//! --force` mid-deploy makes the holder stop while a prober never sees an empty target group;
//! a deploy killed at any point is finished by the next `apply` or `abort`; a version whose
//! links climb out of the application folder is refused by the engine, the previous version
//! still serving.

use crate::common;
use crate::platform::{copy_tree, get, pip_env};
use crate::policies_moto::{blue_target_group, healthy_targets};

use common::fleet::Fleet;
use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BUCKET: &str = "beanpole-versions-123456789012-us-east-2";
const BLUE: &str = "pets-env-blue";

/// pets-app's blue environment at two instances, deployed by `policy` one at a time.
fn spec(dir: &Path, policy: &str) {
    let hcl = include_str!("../../examples/pets-app/main.hcl").replacen(
        "  capacity {\n    min = 1\n    max = 4\n  }",
        &format!("  capacity {{\n    min = 2\n    max = 4\n  }}\n\n  deployment {{\n    policy     = \"{policy}\"\n    batch_size = 1\n    timeout    = \"120s\"\n  }}"),
        1,
    );
    assert!(hcl.contains("batch_size = 1"), "the example changed");
    std::fs::write(dir.join("main.hcl"), hcl).unwrap();
}

/// The pets app answering `pet` as its pet's name, in `dir/name`.
fn version(dir: &Path, name: &str, pet: &str) -> PathBuf {
    let source = dir.join(name);
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &source,
    );
    let app = std::fs::read_to_string(source.join("application.py")).unwrap();
    assert!(app.contains("\"Rex\""), "the example changed");
    std::fs::write(
        source.join("application.py"),
        app.replace("\"Rex\"", &format!("\"{pet}\"")),
    )
    .unwrap();
    source
}

/// The applied spec with the fleet playing blue's two instances, serving.
fn environment(moto: &Moto, label: &str, policy: &str) -> (TempDir, Fleet) {
    moto.create_zone("example.com");
    let dir = TempDir::new(label);
    spec(dir.path(), policy);
    let out = run(moto
        .beanpole(dir.path())
        .args(["apply", "--auto-approve", "--env", BLUE]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(moto, dir.path(), &pip_env());
    fleet.wait_serving(BLUE, 2, Duration::from_secs(300));
    (dir, fleet)
}

/// A command whose output is read line by line as it comes.
struct Watched {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Watched {
    fn start(mut command: Command) -> Watched {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("beanpole");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let lines = lines.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            }));
        }
        Watched {
            child,
            lines,
            readers,
        }
    }

    /// Waits until a line holds `needle` (false: the command ended or time ran out first).
    fn wait_line(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return true;
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(200));
                return self
                    .lines
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|l| l.contains(needle));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// `kill -9`, then everything it printed.
    fn kill(self) -> String {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        self.finish().1
    }

    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().expect("wait");
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status.code(), self.text())
    }
}

/// `beanpole deploy blue …` with the lock's lease at `lease` seconds (renewed every third).
fn deploy_command(moto: &Moto, dir: &Path, args: &[&str], lease: u64) -> Command {
    let mut command = moto.beanpole(dir);
    command
        .args(["deploy", BLUE])
        .args(args)
        .env("BEANPOLE_LOCK_LEASE_SECS", lease.to_string());
    command
}

fn deploy_source(moto: &Moto, dir: &Path, label: &str, source: &Path) -> (Option<i32>, String) {
    let mut command = deploy_command(moto, dir, &["--label", label, "--source"], 60);
    command.arg(source);
    Watched::start(command).finish()
}

/// The keys of the versions bucket under `prefix`.
fn keys(moto: &Moto, prefix: &str) -> Vec<String> {
    let aws = moto.clients();
    runtime().block_on(async {
        aws.s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .map(|out| {
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Blue's Auto Scaling groups: (name, desired, in-service instances).
fn blue_groups(moto: &Moto) -> Vec<(String, i32, Vec<String>)> {
    let aws = moto.clients();
    runtime().block_on(async {
        aws.autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .iter()
            .filter(|g| {
                g.tags()
                    .iter()
                    .any(|t| t.key() == Some("beanpole:environment") && t.value() == Some(BLUE))
            })
            .map(|g| {
                let mut in_service: Vec<String> = g
                    .instances()
                    .iter()
                    .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
                    .filter_map(|i| i.instance_id().map(str::to_string))
                    .collect();
                in_service.sort();
                (
                    g.auto_scaling_group_name().unwrap_or_default().to_string(),
                    g.desired_capacity().unwrap_or_default(),
                    in_service,
                )
            })
            .collect()
    })
}

/// The instances blue's target group lists (whatever their state).
fn listed(moto: &Moto) -> Vec<String> {
    let target_group = blue_target_group(moto);
    let aws = moto.clients();
    let mut ids: Vec<String> = runtime().block_on(async {
        aws.elbv2
            .describe_target_health()
            .target_group_arn(&target_group)
            .send()
            .await
            .unwrap()
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
            .collect()
    });
    ids.sort();
    ids
}

/// What a finished (or undone) deployment leaves: one group at the spec's two instances, each
/// in the target group and answering `pet`; no deployment state in the bucket; `status`
/// Green; nothing for `abort` to do.
fn assert_settled(moto: &Moto, dir: &Path, fleet: &Fleet, pet: &str, context: &str) {
    let groups = blue_groups(moto);
    assert_eq!(groups.len(), 1, "{context}: {groups:?}");
    let (_, desired, in_service) = &groups[0];
    assert_eq!(*desired, 2, "{context}: {groups:?}");
    assert_eq!(in_service.len(), 2, "{context}: {groups:?}");
    assert_eq!(&listed(moto), in_service, "{context}: the target group");
    let left: Vec<String> = keys(moto, &format!("pets-app/environments/{BLUE}/"))
        .into_iter()
        .filter(|k| {
            k.ends_with("/deploying.json") || k.ends_with("/abort.json") || k.contains("/groups/")
        })
        .collect();
    assert!(
        left.is_empty(),
        "{context}: deployment state left: {left:?}"
    );
    assert!(
        keys(moto, "pets-app/lock.json").is_empty(),
        "{context}: a lock left"
    );
    let serving = fleet.wait_serving(BLUE, 2, Duration::from_secs(180));
    for instance in in_service {
        let member = serving
            .iter()
            .find(|m| &m.instance == instance)
            .unwrap_or_else(|| panic!("{context}: {instance} is not played: {serving:?}"));
        let (status, body) = get(member.port, "/");
        assert_eq!(status, 200, "{context}: {instance}: {body}");
        assert!(
            body.contains(&format!("\"name\":\"{pet}\"")),
            "{context}: {instance} answers {body}, not {pet}"
        );
    }
    let out = run(moto.beanpole(dir).args(["status", BLUE]));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .is_some_and(|l| l.ends_with("Green")),
        "{context}: {}",
        text(&out)
    );
    let out = run(moto.beanpole(dir).args(["abort", BLUE]));
    assert_eq!(out.status.code(), Some(0), "{context}: {}", text(&out));
    assert!(
        text(&out).contains("nothing to abort"),
        "{context}: {}",
        text(&out)
    );
}

/// Counts, every 50 ms, the healthy targets of blue's target group; the fewest seen.
struct Prober {
    stop: Arc<AtomicBool>,
    fewest: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Prober {
    fn start(moto: &Moto) -> Prober {
        let aws = moto.clients();
        let target_group = blue_target_group(moto);
        let stop = Arc::new(AtomicBool::new(false));
        let fewest = Arc::new(AtomicUsize::new(usize::MAX));
        let (s, f) = (stop.clone(), fewest.clone());
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            while !s.load(Ordering::SeqCst) {
                let healthy = healthy_targets(&aws, &rt, &target_group).len();
                f.fetch_min(healthy, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Prober {
            stop,
            fewest,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.fewest.load(Ordering::SeqCst)
    }
}

#[test]
fn moto_ops_deploy_called_from_the_library_is_refused_naming_the_holder() {
    use beanpole::ops::deploy::{deploy, DeployError, DeployRequest};
    use beanpole::ops::lock::{hold, LockError, LockRequest};
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("ops-deploy-lock");
    spec(dir.path(), "rolling");
    let out = run(moto
        .beanpole(dir.path())
        .args(["apply", "--auto-approve", "--env", BLUE]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let compilation = beanpole::spec::compile_dir(
        &beanpole::spec::DiskFs,
        dir.path(),
        &beanpole::spec::VariableInputs::default(),
    );
    assert!(compilation.is_valid());
    let graph = beanpole::graph::compile_graph(&compilation.spec);
    let interrupt = beanpole::interrupt::Interrupt::new();
    runtime().block_on(async {
        let session = beanpole::ops::Session::open(&compilation, Some(&moto.endpoint()))
            .await
            .expect("a session on moto");
        // Another command holds the application's lock (an apply, in this process).
        let ctx = beanpole::ops::Context {
            compilation: &compilation,
            graph: &graph,
            session: &session,
            interrupt: &interrupt,
        };
        let holder = hold(
            ctx,
            &["pets-app".to_string()],
            &LockRequest {
                command: "apply".into(),
                wait: false,
                create_bucket: false,
            },
            &mut |_| {},
        )
        .await
        .expect("the lock, for the other command");
        let request = DeployRequest {
            environment: BLUE.into(),
            version: None,
            source: Some(dir.path().join("app")),
            label: Some("v1".into()),
            message: String::new(),
            policy: None,
            wait: false,
        };
        let mut events = Vec::new();
        let refused = deploy(ctx, &request, &mut |e| events.push(e.line())).await;
        match refused {
            Err(DeployError::Lock(LockError::Held { record, .. })) => {
                assert_eq!(record.command, "apply");
                assert_eq!(record.pid, std::process::id());
            }
            other => panic!("not refused for the lock: {other:?} ({events:?})"),
        }
        let message = match deploy(ctx, &request, &mut |_| {}).await {
            Err(e) => e.to_string(),
            Ok(o) => panic!("deployed while another held the lock: {o:?}"),
        };
        assert!(
            message.contains("application pets-app is locked: `apply`"),
            "{message}"
        );
        // Nothing was uploaded or started.
        holder.release().await;
    });
    assert!(keys(&moto, "pets-app/versions/").is_empty());
    assert!(keys(&moto, "pets-app/lock.json").is_empty());
}

#[test]
fn moto_lost_answers_to_the_locks_writes_never_lock_a_command_out() {
    let moto = Moto::start().with_proxy(0, "{}");
    moto.create_zone("example.com");
    let dir = TempDir::new("lock-lost-answers");
    spec(dir.path(), "rolling");
    let lock = format!("^PUT /{BUCKET}/pets-app/lock[.]json$");
    let apply = |lease: u64| {
        run(moto
            .beanpole(dir.path())
            .args(["apply", "--auto-approve", "--env", BLUE])
            .env("BEANPOLE_LOCK_LEASE_SECS", lease.to_string()))
    };
    // The bucket first (its creation is not what is tested).
    let out = apply(60);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let log = dir.path().join("proxy.log");
    let lost = |what: &str| {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        let n = logged
            .lines()
            .filter(|l| l.contains("/pets-app/lock.json") && l.ends_with(" lost"))
            .count();
        std::fs::remove_file(&log).ok();
        assert_eq!(n, 1, "{what}: the proxy lost {n} answers:\n{logged}");
    };

    // The create landed; its answer was lost: the retry finds the command's own lock.
    moto.arm_faults(&serde_json::json!({
        "log": log,
        "lose": [{"match": lock, "header": "If-None-Match", "times": 1}]
    }));
    let out = apply(60);
    assert_eq!(out.status.code(), Some(0), "lost create: {}", text(&out));
    lost("create");
    assert!(keys(&moto, "pets-app/lock.json").is_empty(), "lost create");

    // The takeover of a dead holder's lock landed; its answer was lost.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stale = serde_json::json!({
        "application": "pets-app", "command": "apply", "principal": "arn:aws:iam::123456789012:user/ops",
        "host": "another-host", "pid": 4242, "token": "elsewhere",
        "started": now - 600, "renewed": now - 600, "lease_secs": 60,
    });
    let aws = moto.clients();
    runtime().block_on(async {
        aws.s3
            .put_object()
            .bucket(BUCKET)
            .key("pets-app/lock.json")
            .body(serde_json::to_vec(&stale).unwrap().into())
            .send()
            .await
            .unwrap()
    });
    moto.arm_faults(&serde_json::json!({
        "lose": [{"match": lock, "header": "If-Match", "times": 1}]
    }));
    let out = apply(60);
    assert_eq!(out.status.code(), Some(0), "lost takeover: {}", text(&out));
    lost("takeover");
    assert!(
        text(&out).contains("took over the lock of pets-app"),
        "{}",
        text(&out)
    );
    assert!(
        keys(&moto, "pets-app/lock.json").is_empty(),
        "lost takeover"
    );

    // A renewal landed; its answer was lost (a lease of 3 s renews every second; the proxy
    // slows each call so that the apply outlives a few renewals).
    moto.arm_faults(&serde_json::json!({
        "delay_ms": 150,
        "lose": [{"match": lock, "header": "If-Match", "times": 1}]
    }));
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--env", BLUE])
        .env("BEANPOLE_LOCK_LEASE_SECS", "3"));
    assert_eq!(out.status.code(), Some(0), "lost renewal: {}", text(&out));
    assert!(!text(&out).contains("Interrupted"), "{}", text(&out));
    lost("renewal");
    assert!(keys(&moto, "pets-app/lock.json").is_empty(), "lost renewal");
}

#[test]
fn moto_a_rolling_deploy_under_faults_lost_locks_and_kill_9_always_settles() {
    let moto = Moto::start().with_proxy(0, "{}");
    let (dir, fleet) = environment(&moto, "recovery-rolling", "rolling");
    let dir = dir.path();
    let lock = format!("^PUT /{BUCKET}/pets-app/lock[.]json$");

    // v1, with a renewal of its lock whose answer is lost: it goes on and leaves no lock.
    let log = dir.join("proxy.log");
    moto.arm_faults(&serde_json::json!({
        "log": log,
        "lose": [{"match": lock, "header": "If-Match", "times": 1,
                  "after": format!("PUT /{BUCKET}/pets-app/versions/v1.zip")}]
    }));
    let source = version(dir, "v1", "Ace");
    let mut command = deploy_command(&moto, dir, &["--label", "v1", "--source"], 3);
    command.arg(&source);
    let (code, out) = Watched::start(command).finish();
    assert_eq!(code, Some(0), "{out}\n{}", fleet.output());
    assert!(!out.contains("Interrupted"), "{out}");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("/pets-app/lock.json") && l.ends_with(" lost")),
        "no renewal's answer was lost:\n{logged}"
    );
    assert_settled(&moto, dir, &fleet, "Ace", "v1, a renewal's answer lost");

    // DescribeTargetHealth fails while the first batch drains: the deploy ends naming it and
    // no instance takes v2.
    moto.arm_faults(&serde_json::json!({
        "refuse": [{"action": "DescribeTargetHealth", "times": 1, "after": "DeregisterTargets",
                    "status": 400, "code": "AccessDenied", "message": "injected: no DescribeTargetHealth"}]
    }));
    let (code, out) = deploy_source(&moto, dir, "v2", &version(dir, "v2", "Bo"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("DescribeTargetHealth") && out.contains("AccessDenied"),
        "{out}"
    );
    assert!(!out.contains(": deployed ("), "a batch went on: {out}");
    moto.arm_faults(&serde_json::json!({}));
    let out = run(moto
        .beanpole(dir)
        .args(["apply", "--auto-approve", "--env", BLUE]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_settled(&moto, dir, &fleet, "Ace", "after a failed drain");

    // `unlock --force` mid-deploy: the holder stops at its next safe point, saying so; a
    // second deploy waits for it, undoes what it left, and deploys; the target group never
    // runs empty.
    let prober = Prober::start(&moto);
    let source = version(dir, "v3", "Cy");
    let mut command = deploy_command(&moto, dir, &["--label", "v3", "--source"], 3);
    command.arg(&source);
    let mut first = Watched::start(command);
    assert!(
        first.wait_line("out of the target group", Duration::from_secs(120)),
        "{}",
        first.text()
    );
    let out = run(moto.beanpole(dir).args(["unlock", "pets-app", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let unlocked = Instant::now();
    let source = version(dir, "v4", "Dot");
    let mut command = deploy_command(&moto, dir, &["--label", "v4", "--source"], 3);
    command.arg(&source);
    let second = Watched::start(command);
    let (first_code, first_out) = first.finish();
    let stopped_after = unlocked.elapsed();
    let (second_code, second_out) = second.finish();
    let fewest = prober.finish();
    eprintln!("the holder stopped {stopped_after:?} after its lock was removed:\n{first_out}\nthe second deploy:\n{second_out}");
    assert_ne!(first_code, Some(0), "{first_out}");
    assert!(
        first_out.contains("lost the application's lock"),
        "{first_out}"
    );
    // It stopped waiting at once (within a renewal and a poll), before its instance's engine
    // reported: it neither read the report nor put the instance back.
    assert!(
        !first_out.contains(": deployed (") && !first_out.contains("healthy in the target group"),
        "the holder went on after losing its lock: {first_out}"
    );
    assert_eq!(second_code, Some(0), "{second_out}");
    assert!(fewest > 0, "the target group ran empty");
    assert_settled(&moto, dir, &fleet, "Dot", "after a forced unlock");

    // Again, and this time the next command is an apply: it undoes what the stopped deploy
    // left (its instance out of the target group, its version possibly on the way there).
    let source = version(dir, "v5", "Eve");
    let mut command = deploy_command(&moto, dir, &["--label", "v5", "--source"], 3);
    command.arg(&source);
    let mut first = Watched::start(command);
    assert!(
        first.wait_line("out of the target group", Duration::from_secs(120)),
        "{}",
        first.text()
    );
    let out = run(moto.beanpole(dir).args(["unlock", "pets-app", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (first_code, first_out) = first.finish();
    assert_ne!(first_code, Some(0), "{first_out}");
    assert!(
        first_out.contains("lost the application's lock"),
        "{first_out}"
    );
    let out = run(moto
        .beanpole(dir)
        .args(["apply", "--auto-approve", "--env", BLUE]));
    assert_eq!(out.status.code(), Some(0), "{first_out}\n{}", text(&out));
    assert!(
        text(&out).contains("deployment") && text(&out).contains("undone"),
        "{}",
        text(&out)
    );
    assert_settled(&moto, dir, &fleet, "Dot", "a forced unlock, then apply");

    // kill -9 at several points, then apply or abort.
    for (point, then, at) in [
        (
            "out of the target group",
            "apply",
            "killed draining, then apply",
        ),
        (
            "batch 2/2",
            "abort",
            "killed at the second batch, then abort",
        ),
        (
            ": deployed (",
            "apply",
            "killed after an instance deployed, then apply",
        ),
    ] {
        kill_at_then(&moto, dir, &version(dir, "v5", "Eve"), point, then, at);
        assert_settled(&moto, dir, &fleet, "Dot", at);
    }

    // A version whose links climb out of the application folder, put straight into the bucket
    // (no bundler in the way): the engine refuses it, and the previous version still serves.
    put_version_with_a_link_chain(&moto);
    let (code, out) =
        Watched::start(deploy_command(&moto, dir, &["--version", "evil"], 60)).finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("points outside the application folder"),
        "{out}\n{}",
        fleet.output()
    );
    for m in fleet.wait_serving(BLUE, 2, Duration::from_secs(120)) {
        for path in ["/static/passwd", "/static/hostname"] {
            let (status, body) = get(m.port, path);
            assert_ne!(status, 200, "{}{path}: {body}", m.instance);
        }
    }
    assert_settled(&moto, dir, &fleet, "Dot", "after the link chain");
    drop(fleet);
}

/// Version `evil` of pets-app: the pets app with `static` reaching the host's /etc through a
/// link to a link, and its manifest, written as a version Beanpole would write them.
fn put_version_with_a_link_chain(moto: &Moto) {
    use beanpole::bundle::zip::{Entry, EntryData};
    use sha2::Digest as _;
    let app = common::manifest_dir().join("examples/pets-app/app");
    let mut entries: Vec<Entry> = ["Procfile", "application.py", "requirements.txt"]
        .iter()
        .map(|name| Entry {
            path: name.to_string(),
            data: EntryData::File {
                mode: 0o644,
                bytes: std::fs::read(app.join(name)).unwrap(),
            },
        })
        .collect();
    let deep = "z1/z2/z3/z4/z5/z6/z7/z8/z9/z10";
    entries.push(Entry {
        path: "x/keep.txt".into(),
        data: EntryData::File {
            mode: 0o644,
            bytes: b"x\n".to_vec(),
        },
    });
    entries.push(Entry {
        path: format!("{deep}/D"),
        data: EntryData::Symlink {
            target: format!("{}x", "../".repeat(10)),
        },
    });
    entries.push(Entry {
        path: "static".into(),
        data: EntryData::Symlink {
            target: format!("{deep}/D/{}etc", "../".repeat(11)),
        },
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let zip = beanpole::bundle::zip::write(&entries).unwrap();
    let sha256: String = sha2::Sha256::digest(&zip)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let aws = moto.clients();
    runtime().block_on(async {
        let v1 = aws
            .s3
            .get_object()
            .bucket(BUCKET)
            .key("pets-app/versions/v1.json")
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let mut manifest: serde_json::Value = serde_json::from_slice(&v1).unwrap();
        manifest["label"] = "evil".into();
        manifest["sha256"] = sha256.into();
        manifest["size"] = zip.len().into();
        manifest["message"] = "links out".into();
        for (key, body) in [
            ("pets-app/versions/evil.zip", zip.clone()),
            (
                "pets-app/versions/evil.json",
                serde_json::to_vec(&manifest).unwrap(),
            ),
        ] {
            aws.s3
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
    });
}

#[test]
fn moto_an_immutable_deploy_killed_at_any_point_is_finished_by_apply_or_abort() {
    let moto = Moto::start();
    let (dir, fleet) = environment(&moto, "recovery-immutable", "immutable");
    let dir = dir.path();
    let (code, out) = deploy_source(&moto, dir, "v1", &version(dir, "v1", "Ace"));
    assert_eq!(code, Some(0), "{out}\n{}", fleet.output());
    assert_settled(&moto, dir, &fleet, "Ace", "v1");
    for (point, then, at) in [
        ("temporary group", "abort", "killed launching, then abort"),
        ("temporary group", "apply", "killed launching, then apply"),
        ("moved into", "apply", "killed after the move, then apply"),
        ("moved into", "abort", "killed after the move, then abort"),
    ] {
        kill_at_then(&moto, dir, &version(dir, "v2", "Bo"), point, then, at);
        // Undone, the environment serves v1; finished after the move, it may serve v2: either
        // way one version on both instances.
        let pet = if get_pet(&moto, &fleet).as_deref() == Some("Bo") {
            "Bo"
        } else {
            "Ace"
        };
        assert_settled(&moto, dir, &fleet, pet, at);
        if pet == "Bo" {
            // Back to v1 for the next point.
            let (code, out) =
                Watched::start(deploy_command(&moto, dir, &["--version", "v1"], 60)).finish();
            assert_eq!(code, Some(0), "{out}");
        }
    }
    drop(fleet);
}

/// A deploy of `source` (labelled as its folder) killed with `kill -9` once it printed
/// `point`, then `then` (`apply` or `abort`), which must succeed.
fn kill_at_then(moto: &Moto, dir: &Path, source: &Path, point: &str, then: &str, at: &str) {
    let label = source.file_name().unwrap().to_string_lossy().into_owned();
    let mut command = deploy_command(moto, dir, &["--label", &label, "--source"], 60);
    command.arg(source);
    let mut deploying = Watched::start(command);
    assert!(
        deploying.wait_line(point, Duration::from_secs(180)),
        "{at}: {}",
        deploying.text()
    );
    let printed = deploying.kill();
    let out = run(moto.beanpole(dir).args(match then {
        "apply" => vec!["apply", "--auto-approve", "--env", BLUE],
        _ => vec!["abort", BLUE],
    }));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{at}: {printed}\n{}",
        text(&out)
    );
    eprintln!("{at}:\n{printed}\n{}", text(&out));
}

/// The pet one of blue's in-service instances answers.
fn get_pet(moto: &Moto, fleet: &Fleet) -> Option<String> {
    let serving = fleet.wait_serving(BLUE, 2, Duration::from_secs(180));
    let groups = blue_groups(moto);
    let instance = groups.first()?.2.first()?.clone();
    let member = serving.iter().find(|m| m.instance == instance)?;
    let (_, body) = get(member.port, "/");
    let at = body.find("\"name\":\"")? + 8;
    Some(body[at..].split('"').next()?.to_string())
}
