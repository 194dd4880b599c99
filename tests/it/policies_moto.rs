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
use std::sync::Arc;
use std::time::Duration;

fn spec(dir: &std::path::Path, policy: &str) {
    let hcl = include_str!("../../examples/pets-app/main.hcl").replacen(
        "  capacity {\n    min = 1\n    max = 4\n  }",
        &format!("  capacity {{\n    min = 4\n    max = 4\n  }}\n\n  deployment {{\n    policy     = \"{policy}\"\n    batch_size = 1\n    timeout    = \"60s\"\n  }}"),
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

struct Prober {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Prober {
    /// Every 50 ms: the target group's healthy targets, one request to each.
    fn start(moto: &Moto, target_group: String, fleet_json: std::path::PathBuf) -> Prober {
        let aws = moto.clients();
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let (s, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            while !s.load(Ordering::SeqCst) {
                // The fleet's booted instances and their ports, read again each time (an extra
                // batch appears). moto reports a target healthy the moment it registers; a
                // load balancer waits for its health check to pass: an instance still booting
                // gets no request.
                let ports: BTreeMap<String, u16> = std::fs::read_to_string(&fleet_json)
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
                    .unwrap_or_default();
                let healthy: Vec<String> = rt
                    .block_on(
                        aws.elbv2
                            .describe_target_health()
                            .target_group_arn(&target_group)
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
                    .unwrap_or_default();
                for instance in healthy {
                    let Some(port) = ports.get(&instance) else {
                        continue;
                    };
                    let (status, _) = get(*port, "/");
                    if status == 200 {
                        o.fetch_add(1, Ordering::SeqCst);
                    } else {
                        f.fetch_add(1, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Prober {
            stop,
            ok,
            failed,
            thread: Some(thread),
        }
    }

    /// (ok, failed)
    fn finish(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
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
    let target_group = blue_target_group(&moto);
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

    // v2 over v1, rolling one at a time: not one request fails.
    let prober = Prober::start(&moto, target_group.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v2", &version(dir.path(), "v2", "Rex II"));
    let (ok, failed) = prober.finish();
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
    let prober = Prober::start(&moto, target_group.clone(), fleet.dir.join("fleet.json"));
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
    let prober = Prober::start(&moto, target_group.clone(), fleet.dir.join("fleet.json"));
    let out = deploy("v4", &version(dir.path(), "v4", "Rex IV"));
    let (ok, failed) = prober.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    answer_all("Rex IV");
    eprintln!(
        "all-at-once v2 → v4 on 4 instances: {ok} requests, {failed} failed ({:.1}%)",
        100.0 * failed as f64 / (ok + failed).max(1) as f64
    );

    // rolling-with-additional-batch: one new instance first (capacity never drops below 4),
    // the rest rolled one at a time, one old instance retired at the end; not one request
    // fails.
    spec(dir.path(), "rolling-with-additional-batch");
    let before: Vec<String> = blue.iter().map(|m| m.instance.clone()).collect();
    let prober = Prober::start(&moto, target_group.clone(), fleet.dir.join("fleet.json"));
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
