//! Deployment policies seen from the load balancer's side: a prober sends a request every
//! 50 ms to every instance the target group lists as healthy (as an ALB would route), through
//! the local fleet's real nginx → gunicorn, and counts the requests that fail while versions
//! roll out on 4 instances. `rolling` must drop none, also when the new version fails its
//! health check and is rolled back; `all-at-once`'s failures are measured and reported.

use crate::common;
use crate::platform::{copy_tree, get, pip_env};

use common::fleet::Fleet;
use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn spec(dir: &std::path::Path, policy: &str) {
    spec_with(dir, policy, "");
}

/// The pets example at 4 instances with a `deployment` block (`more`: lines added to it).
fn spec_with(dir: &std::path::Path, policy: &str, more: &str) {
    let hcl = include_str!("../../examples/pets-app/main.hcl").replacen(
        "  capacity {\n    min = 1\n    max = 4\n  }",
        &format!("  capacity {{\n    min = 4\n    max = 4\n  }}\n\n  deployment {{\n    policy     = \"{policy}\"\n    batch_size = 1\n    timeout    = \"60s\"\n{more}  }}"),
        1,
    );
    std::fs::write(dir.join("main.hcl"), hcl).unwrap();
}

fn version(dir: &std::path::Path, name: &str, pet: &str) -> std::path::PathBuf {
    let source = dir.join(name);
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &source,
    );
    let app = std::fs::read_to_string(source.join("application.py")).unwrap();
    std::fs::write(
        source.join("application.py"),
        app.replace("\"Rex\"", &format!("\"{pet}\"")),
    )
    .unwrap();
    source
}

/// What the load balancer's listeners forward to: (target group ARN, weight), in a stable
/// order.
type Forwarding = Vec<(String, i32)>;

struct Prober {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    /// Each distinct forwarding the listeners had, in order.
    forwarding: Arc<Mutex<Vec<Forwarding>>>,
    /// Each failed request: when (since the start), which instance, the status.
    failures: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The load balancer's listeners' forward actions now: every target group with its weight
/// (a plain forward is one group with all of it).
fn forwarding(aws: &beanpole::aws::Aws, rt: &tokio::runtime::Runtime, lb: &str) -> Forwarding {
    let mut found: Forwarding = rt
        .block_on(aws.elbv2.describe_listeners().load_balancer_arn(lb).send())
        .map(|out| {
            out.listeners()
                .iter()
                .flat_map(|l| l.default_actions().iter())
                .flat_map(|a| {
                    let weighted: Forwarding = a
                        .forward_config()
                        .map(|f| {
                            f.target_groups()
                                .iter()
                                .filter_map(|t| {
                                    t.target_group_arn()
                                        .map(|arn| (arn.to_string(), t.weight().unwrap_or(1)))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if weighted.len() > 1 {
                        weighted
                    } else {
                        a.target_group_arn()
                            .map(|arn| vec![(arn.to_string(), 100)])
                            .unwrap_or(weighted)
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.dedup();
    found
}

impl Prober {
    /// Every 50 ms: the healthy targets of every target group the load balancer's listeners
    /// forward to with a weight above 0, one request to each.
    fn start(moto: &Moto, load_balancer: String, fleet_json: std::path::PathBuf) -> Prober {
        let aws = moto.clients();
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let seen: Arc<Mutex<Vec<Forwarding>>> = Arc::new(Mutex::new(Vec::new()));
        let failures: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, o, f, w, l) = (
            stop.clone(),
            ok.clone(),
            failed.clone(),
            seen.clone(),
            failures.clone(),
        );
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            let started = std::time::Instant::now();
            while !s.load(Ordering::SeqCst) {
                let ports = serving_ports(&fleet_json);
                let now = forwarding(&aws, &rt, &load_balancer);
                {
                    let mut seen = w.lock().unwrap();
                    if seen.last() != Some(&now) {
                        seen.push(now.clone());
                    }
                }
                let mut healthy: Vec<String> = Vec::new();
                for (target_group, _) in now.iter().filter(|(_, weight)| *weight > 0) {
                    healthy.extend(healthy_targets(&aws, &rt, target_group));
                }
                healthy.sort();
                healthy.dedup();
                for instance in healthy {
                    let Some(port) = ports.get(&instance) else {
                        continue;
                    };
                    let (status, _) = get(*port, "/");
                    if status == 200 {
                        o.fetch_add(1, Ordering::SeqCst);
                    } else {
                        f.fetch_add(1, Ordering::SeqCst);
                        l.lock().unwrap().push(format!(
                            "{:.1}s {instance}: status {status}",
                            started.elapsed().as_secs_f64()
                        ));
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Prober {
            stop,
            ok,
            failed,
            forwarding: seen,
            failures,
            thread: Some(thread),
        }
    }

    /// (ok, failed)
    fn finish(self) -> (usize, usize) {
        let (ok, failed, _) = self.finish_with_forwarding();
        (ok, failed)
    }

    /// (ok, failed, each distinct forwarding of the listeners in order)
    fn finish_with_forwarding(mut self) -> (usize, usize, Vec<Forwarding>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let seen = self.forwarding.lock().unwrap().clone();
        for failure in self.failures.lock().unwrap().iter() {
            eprintln!("prober: {failure}");
        }
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            seen,
        )
    }
}

/// Blue's load balancer (the one its target group serves).
fn blue_load_balancer(moto: &Moto) -> String {
    let target_group = blue_target_group(moto);
    let aws = moto.clients();
    runtime().block_on(async {
        aws.elbv2
            .describe_target_groups()
            .target_group_arns(&target_group)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .load_balancer_arns()[0]
            .clone()
    })
}

/// The fleet's booted instances and their ports, read again each time (an extra batch
/// appears). moto reports a target healthy the moment it registers; a load balancer waits for
/// its health check to pass: an instance still booting gets no request.
pub fn serving_ports(fleet_json: &std::path::Path) -> BTreeMap<String, u16> {
    std::fs::read_to_string(fleet_json)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|v| {
            v["instances"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|m| m["state"] == "serving")
                .map(|m| {
                    (
                        m["instance"].as_str().unwrap_or_default().to_string(),
                        m["port"].as_u64().unwrap_or_default() as u16,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The targets a target group reports healthy.
pub fn healthy_targets(
    aws: &beanpole::aws::Aws,
    rt: &tokio::runtime::Runtime,
    target_group: &str,
) -> Vec<String> {
    rt.block_on(
        aws.elbv2
            .describe_target_health()
            .target_group_arn(target_group)
            .send(),
    )
    .map(|out| {
        out.target_health_descriptions()
            .iter()
            .filter(|d| {
                d.target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str())
                    == Some("healthy")
            })
            .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
            .collect()
    })
    .unwrap_or_default()
}

pub fn blue_target_group(moto: &Moto) -> String {
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

#[test]
fn moto_rolling_deploys_drop_no_request_even_when_rolled_back_and_all_at_once_is_measured() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("policies");
    spec(dir.path(), "rolling");
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["apply", "--auto-approve", "--env", "pets-env-blue"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    let blue = fleet.wait_serving("pets-env-blue", 4, Duration::from_secs(300));
    let load_balancer = blue_load_balancer(&moto);
    let deploy = |label: &str, source: &std::path::Path| {
        run(moto
            .beanpole(dir.path())
            .args(["deploy", "pets-env-blue", "--label", label, "--source"])
            .arg(source))
    };
    let answer_all = |pet: &str| {
        for m in &blue {
            let (status, body) = get(m.port, "/");
            assert_eq!(status, 200, "{}: {body}", m.instance);
            assert!(
                body.contains(&format!("\"name\":\"{pet}\"")),
                "{}: {body}",
                m.instance
            );
        }
    };
    let out = deploy("v1", &version(dir.path(), "v1", "Rex"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    answer_all("Rex");

    // v2 over v1, rolling one at a time: not one request fails; `status` meanwhile shows the
    // deployment under way.
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (watching, mut status) = (watching.clone(), moto.beanpole(dir.path()));
        status.args(["status", "pets-env-blue", "--json"]);
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while watching.load(Ordering::SeqCst) {
                if let Ok(out) = status.output() {
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                        let env = &v["environments"][0];
                        if !env["deployment"].is_null() {
                            seen.push((env["deployment"].clone(), env["causes"][0].clone()));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            seen
        })
    };
    let out = deploy("v2", &version(dir.path(), "v2", "Rex II"));
    watching.store(false, Ordering::SeqCst);
    let in_progress = watcher.join().unwrap();
    let (ok, failed) = prober.finish();
    assert!(
        in_progress.iter().any(|(d, cause)| d["policy"] == "rolling"
            && d["version"] == "v2"
            && d["live"] == true
            && d["batch"].as_u64().unwrap_or(0) >= 1
            && cause
                .as_str()
                .is_some_and(|c| c.starts_with("deploying v2 (deployment "))),
        "status never showed the deployment: {in_progress:?}"
    );
    let after = run(moto
        .beanpole(dir.path())
        .args(["status", "pets-env-blue", "--json"]));
    let after: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    assert!(
        after["environments"][0]["deployment"].is_null(),
        "{after:#}"
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(ok > 100, "the prober sent too few requests: {ok}");
    assert_eq!(
        failed,
        0,
        "rolling: {failed} of {} requests failed",
        ok + failed
    );
    answer_all("Rex II");
    eprintln!("rolling v1 → v2 on 4 instances: {ok} requests, {failed} failed");

    // v3 fails its health check: rolling stops, nothing took it (the first batch failed), and
    // still not one request fails.
    let broken = version(dir.path(), "v3", "Rex III");
    let app = std::fs::read_to_string(broken.join("application.py")).unwrap();
    std::fs::write(
        broken.join("application.py"),
        app.replace("return \"ok\", 200,", "return \"not yet\", 503,"),
    )
    .unwrap();
    assert!(std::fs::read_to_string(broken.join("application.py"))
        .unwrap()
        .contains("503"));
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v3", &broken);
    let (ok, failed) = prober.finish();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("HealthCheck"), "{}", text(&out));
    assert_eq!(
        failed,
        0,
        "rolling, failing v3: {failed} of {} requests failed",
        ok + failed
    );
    answer_all("Rex II");
    let events = run(moto
        .beanpole(dir.path())
        .args(["events", "pets-env-blue", "--json"]));
    let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
    assert_eq!(events["events"][0]["outcome"], "failed");
    assert_eq!(
        events["events"][0]["details"]["batches"][0]["instances"][0]["failed_step"],
        "HealthCheck"
    );

    // all-at-once: every instance restarts at once behind the load balancer; measured.
    spec(dir.path(), "all-at-once");
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v4", &version(dir.path(), "v4", "Rex IV"));
    let (ok, failed) = prober.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    answer_all("Rex IV");
    eprintln!(
        "all-at-once v2 → v4 on 4 instances: {ok} requests, {failed} failed ({:.1}%)",
        100.0 * failed as f64 / (ok + failed).max(1) as f64
    );
    // all-at-once, a version that fails its health check: every instance took it and every
    // engine puts v4 back; measured.
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v4-broken", &failing(dir.path(), "v4-broken", "Rex IV-b"));
    let (ok, failed) = prober.finish();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    answer_all("Rex IV");
    assert_failed_at_health_check(&moto, dir.path());
    eprintln!(
        "all-at-once, failing v4-broken on 4 instances: {ok} requests, {failed} failed ({:.1}%)",
        100.0 * failed as f64 / (ok + failed).max(1) as f64
    );

    // rolling-with-additional-batch: one new instance first (capacity never drops below 4),
    // the rest rolled one at a time, one old instance retired at the end; not one request
    // fails.
    spec(dir.path(), "rolling-with-additional-batch");
    let before: Vec<String> = blue.iter().map(|m| m.instance.clone()).collect();
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v5", &version(dir.path(), "v5", "Rex V"));
    let (ok, failed) = prober.finish();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("launching 1 extra instance"), "{stderr}");
    assert!(
        stderr.contains("retiring (the group returns to its size)"),
        "{stderr}"
    );
    assert_eq!(
        failed,
        0,
        "rolling-with-additional-batch: {failed} of {} requests failed",
        ok + failed
    );
    eprintln!(
        "rolling-with-additional-batch v4 → v5 on 4 instances: {ok} requests, {failed} failed"
    );
    let aws = moto.clients();
    let now: Vec<String> = runtime().block_on(async {
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        let group = groups
            .auto_scaling_groups()
            .iter()
            .find(|g| {
                g.auto_scaling_group_name()
                    .is_some_and(|n| n.contains("pets-env-blue"))
            })
            .unwrap()
            .clone();
        assert_eq!(group.desired_capacity(), Some(4));
        assert_eq!(group.max_size(), Some(4));
        group
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect()
    });
    assert_eq!(now.len(), 4, "{now:?}");
    assert_eq!(
        now.iter().filter(|i| !before.contains(i)).count(),
        1,
        "one new instance: {now:?} (before {before:?})"
    );
    let serving = fleet.wait_serving("pets-env-blue", 4, Duration::from_secs(60));
    for m in serving.iter().filter(|m| now.contains(&m.instance)) {
        let (status, body) = get(m.port, "/");
        assert_eq!(status, 200, "{}: {body}", m.instance);
        assert!(
            body.contains("\"name\":\"Rex V\""),
            "{}: {body}",
            m.instance
        );
    }
    // rolling-with-additional-batch, a v6 that fails its health check: the extra instance
    // takes it first, fails and is retired; the others never took it; not one request fails.
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v6", &failing(dir.path(), "v6", "Rex VI"));
    let (ok, failed) = prober.finish();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        failed,
        0,
        "rolling-with-additional-batch, failing v6: {failed} of {} requests failed",
        ok + failed
    );
    let mut after: Vec<String> = blue_groups(&moto)
        .into_values()
        .flat_map(|(_, _, i)| i)
        .collect();
    after.sort();
    let mut expected = now.clone();
    expected.sort();
    assert_eq!(
        after, expected,
        "the extra instance is retired, no other changed"
    );
    let serving = fleet.wait_serving("pets-env-blue", 4, Duration::from_secs(60));
    for m in serving.iter().filter(|m| now.contains(&m.instance)) {
        let (_, body) = get(m.port, "/");
        assert!(
            body.contains("\"name\":\"Rex V\""),
            "{}: {body}",
            m.instance
        );
    }
    assert_failed_at_health_check(&moto, dir.path());
    // The plan agrees: the group is as the spec says.
    let out = run(moto.beanpole(dir.path()).args([
        "plan",
        "--detailed-exitcode",
        "--env",
        "pets-env-blue",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    drop(fleet);
}

/// The newest event of blue is a failed deploy with an instance failing at HealthCheck.
fn assert_failed_at_health_check(moto: &Moto, dir: &std::path::Path) {
    let events = run(moto
        .beanpole(dir)
        .args(["events", "pets-env-blue", "--json"]));
    let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
    let latest = &events["events"][0];
    assert_eq!(latest["outcome"], "failed", "{latest:#}");
    let failed_at_health_check = latest["details"]["batches"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["instances"].as_array().into_iter().flatten())
        .any(|i| i["failed_step"] == "HealthCheck");
    assert!(failed_at_health_check, "{latest:#}");
}

/// Blue's Auto Scaling groups (its own and any temporary one): name → (desired, max,
/// instances).
fn blue_groups(moto: &Moto) -> BTreeMap<String, (i32, i32, Vec<String>)> {
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
                g.auto_scaling_group_name()
                    .is_some_and(|n| n.contains("pets-env-blue"))
            })
            .map(|g| {
                let mut instances: Vec<String> = g
                    .instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_string))
                    .collect();
                instances.sort();
                (
                    g.auto_scaling_group_name().unwrap().to_string(),
                    (
                        g.desired_capacity().unwrap_or_default(),
                        g.max_size().unwrap_or_default(),
                        instances,
                    ),
                )
            })
            .collect()
    })
}

fn target_group_names(moto: &Moto) -> Vec<String> {
    let aws = moto.clients();
    runtime().block_on(async {
        aws.elbv2
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .iter()
            .filter_map(|t| t.target_group_name().map(str::to_string))
            .collect()
    })
}

#[test]
fn moto_immutable_and_traffic_splitting_replace_every_instance_without_dropping_a_request() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("replacing-policies");
    spec(dir.path(), "immutable");
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["apply", "--auto-approve", "--env", "pets-env-blue"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("pets-env-blue", 4, Duration::from_secs(300));
    let load_balancer = blue_load_balancer(&moto);
    let target_group = blue_target_group(&moto);
    let deploy = |label: &str, source: &std::path::Path, more: &[&str]| {
        run(moto
            .beanpole(dir.path())
            .args(["deploy", "pets-env-blue", "--label", label, "--source"])
            .arg(source)
            .args(more))
    };
    let groups = || blue_groups(&moto);
    let only_group = || {
        let groups = groups();
        assert_eq!(groups.len(), 1, "a temporary group is left: {groups:?}");
        groups.into_values().next().unwrap()
    };
    // Every instance of blue's group serves `pet`.
    let answer_all = |pet: &str| {
        let (_, _, instances) = only_group();
        let serving = fleet.wait_serving("pets-env-blue", 4, Duration::from_secs(60));
        for instance in &instances {
            let m = serving
                .iter()
                .find(|m| &m.instance == instance)
                .unwrap_or_else(|| panic!("{instance} does not serve:\n{}", fleet.output()));
            let (status, body) = get(m.port, "/");
            assert_eq!(status, 200, "{}: {body}", m.instance);
            assert!(
                body.contains(&format!("\"name\":\"{pet}\"")),
                "{}: {body}",
                m.instance
            );
        }
    };
    // v1 over the sample application, all at once (`--policy` beats the spec).
    let out = deploy(
        "v1",
        &version(dir.path(), "v1", "Rex"),
        &["--policy", "all-at-once"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("all-at-once"), "{}", text(&out));
    answer_all("Rex");
    let (_, _, v1_instances) = only_group();

    // Immutable v2: a temporary group, one new instance then three, all behind blue's target
    // group; they move into blue's group and the old four go. Not one request fails.
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let watcher = GroupWatcher::start(&moto);
    let out = deploy("v2", &version(dir.path(), "v2", "Rex II"), &[]);
    let (ok, failed) = prober.finish();
    let seen = watcher.finish();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for step in [
        "temporary group",
        "batch 1/2",
        "batch 2/2",
        "moved into",
        "retiring",
        "deleted temporary group",
    ] {
        assert!(stderr.contains(step), "no `{step}` in:\n{stderr}");
    }
    assert!(ok > 100, "the prober sent too few requests: {ok}");
    assert_eq!(
        failed,
        0,
        "immutable: {failed} of {} requests failed",
        ok + failed
    );
    eprintln!("immutable v1 → v2 on 4 instances: {ok} requests, {failed} failed");
    // AWS saw it: a second group of blue's with 1, then 4 instances.
    let own = only_group_name(&moto);
    let temporary_sizes: Vec<usize> = seen
        .iter()
        .filter_map(|g| g.iter().find(|(n, _)| n != &own))
        .map(|(_, n)| *n)
        .collect();
    assert!(
        temporary_sizes.contains(&1) && temporary_sizes.contains(&4),
        "{seen:?}"
    );
    let (desired, max, v2_instances) = only_group();
    assert_eq!((desired, max), (4, 4));
    assert_eq!(v2_instances.len(), 4);
    assert!(
        v2_instances.iter().all(|i| !v1_instances.contains(i)),
        "every instance is new: {v2_instances:?} (before {v1_instances:?})"
    );
    answer_all("Rex II");
    assert!(
        !target_group_names(&moto).iter().any(|n| n.contains("-d")),
        "{:?}",
        target_group_names(&moto)
    );

    // Immutable v3 fails its health check on the first new instance: the temporary group goes
    // with it, blue's instances never changed, not one request fails.
    let broken = failing(dir.path(), "v3", "Rex III");
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v3", &broken, &[]);
    let (ok, failed) = prober.finish();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("HealthCheck"), "{}", text(&out));
    assert!(
        text(&out).contains("Rolled back: the new instances went with the temporary group"),
        "{}",
        text(&out)
    );
    assert_eq!(
        failed,
        0,
        "immutable, failing v3: {failed} of {} requests failed",
        ok + failed
    );
    assert_eq!(only_group().2, v2_instances);
    answer_all("Rex II");
    let events = run(moto
        .beanpole(dir.path())
        .args(["events", "pets-env-blue", "--json"]));
    let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
    assert_eq!(events["events"][0]["outcome"], "failed");
    assert_eq!(
        events["events"][0]["details"]["batches"][0]["instances"][0]["failed_step"],
        "HealthCheck"
    );
    assert_eq!(
        events["events"][0]["details"]["rollback"]["method"],
        "new-instances-removed"
    );

    // Traffic splitting v4: a temporary target group takes 10% of the requests for the
    // evaluation, then all of them; the new instances move into blue's group and target group.
    spec_with(
        dir.path(),
        "traffic-splitting",
        "    evaluation_time = \"6s\"\n",
    );
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v4", &version(dir.path(), "v4", "Rex IV"), &[]);
    let (ok, failed, forwarding) = prober.finish_with_forwarding();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    assert!(ok > 100, "the prober sent too few requests: {ok}");
    assert_eq!(
        failed,
        0,
        "traffic-splitting: {failed} of {} requests failed",
        ok + failed
    );
    eprintln!("traffic-splitting v2 → v4 on 4 instances: {ok} requests, {failed} failed");
    // The listener went: blue's group alone → 90/10 → the temporary group alone → blue's
    // group alone (now the new instances).
    let weights: Vec<Vec<i32>> = forwarding
        .iter()
        .map(|f| {
            let mut w: Vec<i32> = f
                .iter()
                .map(|(arn, w)| if arn == &target_group { -w } else { *w })
                .collect();
            w.sort();
            w
        })
        .collect();
    let at = |pattern: &[i32]| weights.iter().position(|w| w.as_slice() == pattern);
    let (split, all_new) = (at(&[-90, 10]), at(&[100]));
    assert!(
        split.is_some() && all_new.is_some() && split < all_new,
        "listener sequence: {forwarding:?}"
    );
    assert_eq!(
        weights.last().map(Vec::as_slice),
        Some(&[-100][..]),
        "{forwarding:?}"
    );
    let (_, _, v4_instances) = only_group();
    assert!(
        v4_instances.iter().all(|i| !v2_instances.contains(i)),
        "{v4_instances:?}"
    );
    answer_all("Rex IV");
    assert!(
        !target_group_names(&moto).iter().any(|n| n.contains("-d")),
        "{:?}",
        target_group_names(&moto)
    );

    // Traffic splitting v5 fails its health check: traffic never moved, the new instances go.
    let broken = failing(dir.path(), "v5", "Rex V");
    let prober = Prober::start(&moto, load_balancer.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v5", &broken, &[]);
    let (ok, failed) = prober.finish();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        failed,
        0,
        "traffic-splitting, failing v5: {failed} of {} requests failed",
        ok + failed
    );
    assert_eq!(only_group().2, v4_instances);
    answer_all("Rex IV");
    assert_failed_at_health_check(&moto, dir.path());
    assert!(
        !target_group_names(&moto).iter().any(|n| n.contains("-d")),
        "{:?}",
        target_group_names(&moto)
    );
    // The plan agrees: nothing left to change or delete.
    let out = run(moto.beanpole(dir.path()).args([
        "plan",
        "--detailed-exitcode",
        "--env",
        "pets-env-blue",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    drop(fleet);

    // What a deploy killed with `kill -9` would leave (a temporary group and target group,
    // tagged with its deployment): plan shows them, apply deletes them.
    let aws = moto.clients();
    let own = only_group_name(&moto);
    let (template, subnets) = runtime().block_on(async {
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&own)
            .send()
            .await
            .unwrap();
        let g = &groups.auto_scaling_groups()[0];
        (
            g.launch_template().unwrap().clone(),
            g.vpc_zone_identifier().unwrap_or_default().to_string(),
        )
    });
    let tags = [
        ("beanpole:managed-by", "beanpole"),
        ("beanpole:application", "pets-app"),
        ("beanpole:environment", "pets-env-blue"),
        ("beanpole:deployment", "99"),
    ];
    let stray_group = "pets-app-pets-env-blue-d99-0000000";
    let stray_target_group = "pets-app-pets-env-bl-d99-0000000";
    runtime().block_on(async {
        aws.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(stray_group)
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .set_launch_template_id(template.launch_template_id().map(str::to_string))
                    .set_version(template.version().map(str::to_string))
                    .build(),
            )
            .min_size(0)
            .max_size(1)
            .desired_capacity(0)
            .vpc_zone_identifier(subnets)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| {
                        aws_sdk_autoscaling::types::Tag::builder()
                            .key(*k)
                            .value(*v)
                            .resource_id(stray_group)
                            .resource_type("auto-scaling-group")
                            .propagate_at_launch(true)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
        let vpc = aws
            .elbv2
            .describe_target_groups()
            .target_group_arns(&target_group)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .vpc_id()
            .unwrap()
            .to_string();
        aws.elbv2
            .create_target_group()
            .name(stray_target_group)
            .vpc_id(vpc)
            .port(80)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| {
                        aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                            .key(*k)
                            .value(*v)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
    });
    let out = run(moto.beanpole(dir.path()).args([
        "plan",
        "--detailed-exitcode",
        "--env",
        "pets-env-blue",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(stray_group) && text(&out).contains(stray_target_group),
        "{}",
        text(&out)
    );
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["apply", "--auto-approve", "--env", "pets-env-blue"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(blue_groups(&moto).len(), 1);
    assert!(!target_group_names(&moto)
        .iter()
        .any(|n| n == stray_target_group));
}

/// A version whose health check answers 503.
fn failing(dir: &std::path::Path, name: &str, pet: &str) -> std::path::PathBuf {
    let broken = version(dir, name, pet);
    let app = std::fs::read_to_string(broken.join("application.py")).unwrap();
    let app = app.replace("return \"ok\", 200,", "return \"not yet\", 503,");
    assert!(app.contains("503"));
    std::fs::write(broken.join("application.py"), app).unwrap();
    broken
}

fn only_group_name(moto: &Moto) -> String {
    let aws = moto.clients();
    runtime().block_on(async {
        aws.autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .iter()
            .filter_map(|g| g.auto_scaling_group_name())
            .filter(|n| n.contains("pets-env-blue"))
            .min_by_key(|n| n.len())
            .unwrap()
            .to_string()
    })
}

/// Blue's groups at one moment: (name, instances).
type GroupPicture = Vec<(String, usize)>;

/// Polls blue's groups and records each distinct (group, instance count) picture.
struct GroupWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<GroupPicture>>>,
}

impl GroupWatcher {
    fn start(moto: &Moto) -> GroupWatcher {
        let aws = moto.clients();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            let mut seen: Vec<GroupPicture> = Vec::new();
            while !s.load(Ordering::SeqCst) {
                let now: GroupPicture = rt
                    .block_on(aws.autoscaling.describe_auto_scaling_groups().send())
                    .map(|out| {
                        out.auto_scaling_groups()
                            .iter()
                            .filter_map(|g| {
                                let name = g.auto_scaling_group_name()?;
                                name.contains("pets-env-blue")
                                    .then(|| (name.to_string(), g.instances().len()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if seen.last() != Some(&now) {
                    seen.push(now);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        });
        GroupWatcher {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<GroupPicture> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .map(|t| t.join().unwrap())
            .unwrap_or_default()
    }
}
