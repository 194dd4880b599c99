//! `deploy`, `versions` and `logs` against moto with the local fleet: every instance moto
//! reports in service is played on this machine by `beanpole local fleet` (its real user data,
//! then every Run Command sent to it), so nginx → gunicorn → the pets app really answer.

use crate::common;
use crate::platform::{copy_tree, get, pip_env};

use common::fleet::{Fleet, Member};
use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SAMPLE: &str = "Your Beanpole environment is ready";
const PETS: &str = "\"name\":\"Rex\"";

/// pets-app with two instances in blue, deployed rolling one at a time.
fn spec(dir: &std::path::Path) {
    let hcl = include_str!("../../examples/pets-app/main.hcl").replacen(
        "  capacity {\n    min = 1\n    max = 4\n  }",
        "  capacity {\n    min = 2\n    max = 4\n  }\n\n  deployment {\n    policy     = \"rolling\"\n    batch_size = 1\n  }",
        1,
    );
    assert!(hcl.contains("batch_size = 1"));
    std::fs::write(dir.join("main.hcl"), hcl).unwrap();
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &dir.join("app"),
    );
}

fn blue_target_group(moto: &Moto) -> String {
    let aws = moto.clients();
    runtime().block_on(async {
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        groups
            .auto_scaling_groups()
            .iter()
            .find(|g| {
                g.auto_scaling_group_name()
                    .is_some_and(|n| n.contains("pets-env-blue"))
            })
            .and_then(|g| g.target_group_arns().first())
            .expect("blue's target group")
            .to_string()
    })
}

/// Records the set of instances the target group lists, every 50 ms, until stopped.
struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<BTreeSet<String>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(moto: &Moto, target_group: String) -> Watcher {
        let aws = moto.clients();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            while !s.load(Ordering::SeqCst) {
                let listed: BTreeSet<String> = rt
                    .block_on(
                        aws.elbv2
                            .describe_target_health()
                            .target_group_arn(&target_group)
                            .send(),
                    )
                    .map(|out| {
                        out.target_health_descriptions()
                            .iter()
                            .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut seen = v.lock().unwrap();
                if seen.last() != Some(&listed) {
                    seen.push(listed);
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Watcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<BTreeSet<String>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.seen.lock().unwrap().clone()
    }
}

/// The processes of this machine playing `instance` (`beanpole local fleet-instance`).
fn players(instance: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("local fleet-instance --instance ") && c.contains(instance))
        .count()
}

fn answers(members: &[Member], expected: &str) {
    for m in members {
        let (status, body) = get(m.port, "/");
        assert_eq!(status, 200, "{}: {body}", m.instance);
        assert!(body.contains(expected), "{}: {body}", m.instance);
    }
}

#[test]
fn moto_deploy_rolls_v1_batch_by_batch_stops_a_broken_v2_recovers_scales_out_and_shows_logs() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("deploy");
    spec(dir.path());
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let mut fleet = Fleet::start(&moto, dir.path(), &pip_env());
    let blue = fleet.wait_serving("pets-env-blue", 2, Duration::from_secs(240));
    assert_eq!(blue.len(), 2);
    fleet.wait_serving("pets-env-green", 1, Duration::from_secs(240));
    // Before any version: the sample application. Each instance is a process of its own.
    answers(&blue, SAMPLE);
    for m in &blue {
        assert_eq!(players(&m.instance), 1, "{}", fleet.output());
    }

    // v1, rolling one at a time: each instance leaves the target group while it deploys.
    let watcher = Watcher::start(&moto, blue_target_group(&moto));
    let out = run(moto.beanpole(dir.path()).args([
        "deploy",
        "pets-env-blue",
        "--label",
        "v1",
        "--message",
        "first",
        "--json",
    ]));
    let seen = watcher.finish();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["outcome"], "succeeded", "{outcome:#}");
    assert_eq!(outcome["version"], "v1");
    assert_eq!(outcome["policy"], "rolling");
    let batches = outcome["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2, "{outcome:#}");
    for batch in batches {
        assert_eq!(batch["instances"].as_array().unwrap().len(), 1);
        assert_eq!(batch["instances"][0]["outcome"], "succeeded");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("batch 1/2") && stderr.contains("batch 2/2"),
        "{stderr}"
    );
    let all: BTreeSet<String> = blue.iter().map(|m| m.instance.clone()).collect();
    for m in &blue {
        let mut others = all.clone();
        others.remove(&m.instance);
        assert!(
            seen.contains(&others),
            "the target group never listed only {others:?} (while {} deployed): {seen:?}",
            m.instance
        );
    }
    assert!(
        seen.iter().all(|s| !s.is_empty()),
        "the target group was empty at some point: {seen:?}"
    );
    answers(&blue, PETS);
    let versions = run(moto.beanpole(dir.path()).args(["versions", "--json"]));
    let versions: serde_json::Value = serde_json::from_slice(&versions.stdout).unwrap();
    assert_eq!(versions["versions"][0]["label"], "v1");
    assert_eq!(
        versions["versions"][0]["environments"],
        serde_json::json!(["pets-env-blue"])
    );
    // Green was not touched.
    let green = fleet.wait_serving("pets-env-green", 1, Duration::from_secs(5));
    answers(&green, SAMPLE);

    // A broken v2 stops at its first batch; every instance still answers v1.
    let broken = dir.path().join("broken");
    copy_tree(&dir.path().join("app"), &broken);
    let app = std::fs::read_to_string(broken.join("application.py")).unwrap();
    std::fs::write(
        broken.join("application.py"),
        format!("{app}\nimport no_such_module_anywhere\n"),
    )
    .unwrap();
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--label", "v2"])
        .arg("--source")
        .arg(&broken));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("batch 1/2") && !stderr.contains("batch 2/2"),
        "{stderr}"
    );
    assert!(stderr.contains("HealthCheck"), "{stderr}");
    assert!(
        stderr.contains("No module named 'no_such_module_anywhere'"),
        "{stderr}"
    );
    assert!(stderr.contains("still serves v1"), "{stderr}");
    assert!(stderr.contains("not started on"), "{stderr}");
    answers(&blue, PETS);
    // The events say who did what: the failed deploy with its failing instance and step, the
    // deploy of v1 before it, the apply first.
    let out = run(moto
        .beanpole(dir.path())
        .args(["events", "pets-env-blue", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = events["events"].as_array().unwrap();
    let commands: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["command"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        commands,
        vec![
            ("deploy pets-env-blue", "failed"),
            ("deploy pets-env-blue", "succeeded"),
            ("apply", "succeeded")
        ],
        "{events:#?}"
    );
    let failed = &events[0]["details"]["batches"][0]["instances"][0];
    assert_eq!(failed["failed_step"], "HealthCheck", "{failed:#}");
    assert!(events[0]["principal"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:"));
    assert!(!events[0]["host"].as_str().unwrap().is_empty());
    let out = run(moto.beanpole(dir.path()).args(["events", "pets-env-blue"]));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("deploy pets-env-blue   FAILED"),
        "{listing}"
    );
    assert!(listing.contains("at HealthCheck"), "{listing}");
    assert!(
        !stderr.contains("rolling back"),
        "nothing took v2, so nothing rolls back: {stderr}"
    );

    // A v3 that deploys on the first batch (the leader) and fails on the second: the first
    // instance took v3, so it gets v1 back, automatically.
    let v3 = dir.path().join("v3");
    copy_tree(&dir.path().join("app"), &v3);
    let hooks = v3.join(".platform/hooks/predeploy");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(
        hooks.join("01_leader_only.sh"),
        "#!/bin/bash\nif [ \"$EB_IS_COMMAND_LEADER\" != true ]; then echo 'v3 refuses a follower' >&2; exit 1; fi\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            hooks.join("01_leader_only.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let app = std::fs::read_to_string(v3.join("application.py")).unwrap();
    std::fs::write(
        v3.join("application.py"),
        app.replace("\"Rex\"", "\"Rexy\""),
    )
    .unwrap();
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--label", "v3", "--json"])
        .arg("--source")
        .arg(&v3));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("v3 refuses a follower"), "{stderr}");
    assert!(stderr.contains("rolling back (deployment"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Rolled back: {} serves v1 again",
            blue[0].instance
        )),
        "{stderr}"
    );
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["rollback"]["version"], "v1", "{outcome:#}");
    assert_eq!(outcome["rollback"]["outcome"], "succeeded", "{outcome:#}");
    // Every instance answers v1 (v3 says Rexy).
    answers(&blue, PETS);
    let out = run(moto.beanpole(dir.path()).args(["events", "pets-env-blue"]));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("rollback to v1 (deployment") && listing.contains("succeeded"),
        "{listing}"
    );
    // status: every instance serves the environment's version.
    let status = |moto: &Moto| -> serde_json::Value {
        let out = run(moto
            .beanpole(dir.path())
            .args(["status", "pets-env-blue", "--json"]));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["environments"][0].clone()
    };
    let now = status(&moto);
    assert_eq!(now["health"], "Green", "{now:#}");
    assert_eq!(now["version"], "v1", "{now:#}");
    assert!(
        now["instance_versions"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == "v1"),
        "{now:#}"
    );
    // With `rollback = false` (Elastic Beanstalk's behaviour) the leader keeps v3: status says
    // what Elastic Beanstalk says of it.
    let hcl = std::fs::read_to_string(dir.path().join("main.hcl")).unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        hcl.replacen(
            "batch_size = 1\n  }",
            "batch_size = 1\n    rollback   = false\n  }",
            1,
        ),
    )
    .unwrap();
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--version", "v3"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("rolling back"), "{}", text(&out));
    let now = status(&moto);
    assert_eq!(now["health"], "Yellow", "{now:#}");
    assert!(
        now["causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "Incorrect application version on 1 of 2 instances (expected v1)"),
        "{now:#}"
    );
    spec(dir.path());
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--version", "v1"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(status(&moto)["health"], "Green");
    let versions = run(moto.beanpole(dir.path()).args(["versions", "--json"]));
    let versions: serde_json::Value = serde_json::from_slice(&versions.stdout).unwrap();
    let v1 = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["label"] == "v1")
        .unwrap();
    assert_eq!(v1["environments"], serde_json::json!(["pets-env-blue"]));

    // A deploy killed mid-batch leaves its instance out of the target group: take one out.
    let target_group = blue_target_group(&moto);
    let aws = moto.clients();
    runtime().block_on(async {
        aws.elbv2
            .deregister_targets()
            .target_group_arn(&target_group)
            .targets(
                aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                    .id(&blue[0].instance)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    // Deploying v1 again recovers: a stored version, nothing uploaded; the instance left out
    // goes back into the target group first.
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--version", "v1"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing to upload"), "{}", text(&out));
    assert!(
        stderr.contains(&format!(
            "back into the target group (an earlier deploy left them out): {}",
            blue[0].instance
        )),
        "{stderr}"
    );
    let listed = runtime().block_on(async {
        aws.elbv2
            .describe_target_health()
            .target_group_arn(&target_group)
            .send()
            .await
            .unwrap()
            .target_health_descriptions()
            .len()
    });
    assert_eq!(listed, 2);
    answers(&blue, PETS);

    // A scale-out instance boots straight into v1.
    runtime().block_on(async {
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        let name = groups
            .auto_scaling_groups()
            .iter()
            .filter_map(|g| g.auto_scaling_group_name())
            .find(|n| n.contains("blue"))
            .unwrap()
            .to_string();
        aws.autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(name)
            .desired_capacity(3)
            .send()
            .await
            .unwrap();
    });
    let blue = fleet.wait_serving("pets-env-blue", 3, Duration::from_secs(240));
    answers(&blue, PETS);

    // abort from a second process during a rolling deploy: the deploy stops after its batch
    // and rolls back; abort waits and reports it.
    let v4 = dir.path().join("v4");
    copy_tree(&dir.path().join("app"), &v4);
    let app = std::fs::read_to_string(v4.join("application.py")).unwrap();
    std::fs::write(
        v4.join("application.py"),
        app.replace("\"Rex\"", "\"Rex IV\""),
    )
    .unwrap();
    let mut deploy = moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--label", "v4", "--source"])
        .arg(&v4)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let progress = Arc::new(Mutex::new(String::new()));
    let reader = {
        let progress = progress.clone();
        let stderr = deploy.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut p = progress.lock().unwrap();
                p.push_str(&line);
                p.push('\n');
            }
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !progress.lock().unwrap().contains("batch 1/3") {
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy never started its first batch: {}",
            progress.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let aborted = run(moto.beanpole(dir.path()).args(["abort", "pets-env-blue"]));
    let status = deploy.wait().unwrap();
    reader.join().unwrap();
    let deploy_err = progress.lock().unwrap().clone();
    assert_eq!(status.code(), Some(1), "{deploy_err}");
    assert!(
        deploy_err.contains("abort requested by arn:aws:"),
        "{deploy_err}"
    );
    assert!(deploy_err.contains("was aborted by"), "{deploy_err}");
    assert!(!deploy_err.contains("batch 3/3"), "{deploy_err}");
    assert_eq!(
        aborted.status.code(),
        Some(0),
        "{}\n{deploy_err}",
        text(&aborted)
    );
    assert!(
        String::from_utf8_lossy(&aborted.stdout).contains("Aborted and rolled back."),
        "{}",
        text(&aborted)
    );
    answers(&blue, PETS);

    // logs: each instance's logs, through Run Command.
    let out = run(moto
        .beanpole(dir.path())
        .args(["logs", "pets-env-blue", "--lines", "5"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for m in &blue {
        assert!(
            stdout.contains(&format!("==== {} ====", m.instance)),
            "{stdout}"
        );
    }
    assert!(stdout.contains("/var/log/web.stdout.log"), "{stdout}");
    assert!(stdout.contains("/var/log/eb-engine.log"), "{stdout}");
    assert!(stdout.contains("/var/log/nginx/access.log"), "{stdout}");
    let one = &blue[0].instance;
    let zip = dir.path().join("logs.zip");
    let out = run(moto
        .beanpole(dir.path())
        .args(["logs", "pets-env-blue", "--all", "--instance", one, "--out"])
        .arg(&zip));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bytes = std::fs::read(&zip).unwrap();
    let listing = String::from_utf8_lossy(&bytes);
    assert!(listing.contains(&format!("{one}/var/log/eb-engine.log")));
    let out = run(moto.beanpole(dir.path()).args([
        "logs",
        "pets-env-blue",
        "--instance",
        "i-0000000000",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("not an instance in service"),
        "{}",
        text(&out)
    );

    // Ctrl-C stops every instance the fleet played, and the processes that played them.
    let members = fleet.members();
    let ports: Vec<u16> = members.iter().map(|m| m.port).collect();
    assert_eq!(fleet.stop(), Some(0), "{}", fleet.output());
    for m in &members {
        assert_eq!(players(&m.instance), 0, "{} is still played", m.instance);
    }
    for port in ports {
        assert_eq!(
            get(port, "/").0,
            0,
            "port {port} still serves after the fleet stopped"
        );
    }
}

#[test]
fn moto_deploy_refusals_name_what_to_do_and_upload_nothing() {
    let moto = Moto::start();
    let dir = TempDir::new("deploy-refusals");
    spec(dir.path());
    // No apply yet: no versions bucket.
    let out = run(moto.beanpole(dir.path()).args(["deploy", "pets-env-blue"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("run `beanpole apply` first"),
        "{}",
        text(&out)
    );
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-purple"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .contains("no environment `pets-env-purple` (it has: pets-env-blue, pets-env-green)"),
        "{}",
        text(&out)
    );
    let out = run(moto.beanpole(dir.path()).args([
        "deploy",
        "pets-env-blue",
        "--version",
        "v1",
        "--label",
        "v2",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("cannot be used with"), "{}", text(&out));
    let out = run(moto.beanpole(dir.path()).args(["logs", "pets-env-blue"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("run `beanpole apply` first"),
        "{}",
        text(&out)
    );
    // The local fleet runs only against an endpoint on this machine.
    let out = run(moto.beanpole(dir.path()).args([
        "local",
        "fleet",
        "--endpoint-url",
        "https://ssm.us-east-2.amazonaws.com",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("only against an AWS emulator on this machine"),
        "{}",
        text(&out)
    );
}
