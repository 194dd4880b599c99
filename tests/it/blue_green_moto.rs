//! `status` and `swap` of examples/pets-app against moto (each test its own server).

use crate::common;

use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Output;

const SPEC: &str = include_str!("../../examples/pets-app/main.hcl");

/// moto with the example applied.
fn applied(moto: &Moto, label: &str) -> (TempDir, String) {
    let zone = moto.create_zone("example.com");
    let dir = TempDir::new(label);
    dir.write("main.hcl", SPEC);
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    (dir, zone)
}

fn status(moto: &Moto, dir: &TempDir) -> Value {
    let out = run(moto.beanpole(dir.path()).args(["status", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

fn env<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status:#}"))
}

fn cname(moto: &Moto, zone: &str, name: &str) -> String {
    moto.records(zone)
        .into_iter()
        .find(|r| r.name == name && r.kind == "CNAME" && r.set_identifier.is_none())
        .map(|r| r.value.trim_end_matches('.').to_string())
        .unwrap_or_else(|| panic!("no simple CNAME {name}"))
}

fn marker(moto: &Moto, zone: &str, name: &str) -> String {
    moto.records(zone)
        .into_iter()
        .find(|r| r.name == format!("_beanpole.{name}") && r.kind == "TXT")
        .map(|r| r.value)
        .unwrap_or_else(|| panic!("no marker for {name}"))
}

fn dns(status: &Value, name: &str) -> String {
    env(status, name)["load_balancer_dns"]
        .as_str()
        .unwrap()
        .to_string()
}

fn target_group_arn(moto: &Moto, environment: &str) -> String {
    let aws = moto.clients();
    let short = &environment[..12];
    runtime().block_on(async {
        let tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
        tgs.target_groups()
            .iter()
            .find(|t| t.target_group_name().unwrap_or_default().contains(short))
            .and_then(|t| t.target_group_arn())
            .unwrap()
            .to_string()
    })
}

/// Takes every target of the environment out of its target group.
fn deregister_all(moto: &Moto, environment: &str) {
    let aws = moto.clients();
    let arn = target_group_arn(moto, environment);
    runtime().block_on(async {
        let health = aws
            .elbv2
            .describe_target_health()
            .target_group_arn(&arn)
            .send()
            .await
            .unwrap();
        for d in health.target_health_descriptions() {
            aws.elbv2
                .deregister_targets()
                .target_group_arn(&arn)
                .targets(d.target().unwrap().clone())
                .send()
                .await
                .unwrap();
        }
    });
}

#[test]
fn moto_status_is_green_then_yellow_and_red_with_causes() {
    let moto = Moto::start();
    let (dir, _) = applied(&moto, "status");
    let s = status(&moto, &dir);
    for (name, cname) in [
        ("pets-env-blue", "pets.example.com"),
        ("pets-env-green", "pets-staging.example.com"),
    ] {
        let e = env(&s, name);
        assert_eq!(e["health"], "Green", "{e:#}");
        assert_eq!(e["application"], "pets-app");
        assert_eq!(e["causes"], serde_json::json!([]));
        assert_eq!(e["cnames"], serde_json::json!([cname]));
        assert_eq!(e["instances"]["desired"], 1);
        assert_eq!(e["instances"]["in_service"], 1);
        assert_eq!(e["instances"]["healthy_targets"], 1);
        assert!(e["load_balancer_dns"].as_str().unwrap().contains(".elb."));
    }

    // Green gets a second instance, then one of the two is stopped: Yellow.
    let aws = moto.clients();
    runtime().block_on(async {
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        let green = groups
            .auto_scaling_groups()
            .iter()
            .find(|g| {
                g.auto_scaling_group_name()
                    .unwrap()
                    .contains("pets-env-green")
            })
            .unwrap()
            .auto_scaling_group_name()
            .unwrap()
            .to_string();
        aws.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&green)
            .desired_capacity(2)
            .send()
            .await
            .unwrap();
        let group = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&green)
            .send()
            .await
            .unwrap();
        let instance = group.auto_scaling_groups()[0].instances()[0]
            .instance_id()
            .unwrap()
            .to_string();
        aws.ec2
            .stop_instances()
            .instance_ids(instance)
            .send()
            .await
            .unwrap();
    });
    // Blue loses its only target: Red.
    deregister_all(&moto, "pets-env-blue");

    let s = status(&moto, &dir);
    let green = env(&s, "pets-env-green");
    assert_eq!(green["health"], "Yellow", "{green:#}");
    assert!(
        green["causes"][0]
            .as_str()
            .unwrap()
            .starts_with("1 of 2 instances failing health checks"),
        "{green:#}"
    );
    let blue = env(&s, "pets-env-blue");
    assert_eq!(blue["health"], "Red", "{blue:#}");
    assert_eq!(
        blue["causes"][0],
        "no instance is registered with the target group"
    );

    // The human form says the same.
    let out = run(moto.beanpole(dir.path()).args(["status", "pets-env-blue"]));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("pets-env-blue  (pets-app)  Red"), "{shown}");
    assert!(!shown.contains("pets-env-green"), "{shown}");
}

#[test]
fn moto_swap_exchanges_the_cnames_in_one_change_batch_and_the_plan_keeps_it() {
    let dir = TempDir::new("swap-log");
    let log = dir.path().join("proxy.log");
    let faults = format!(
        "{{\"log\": {}}}",
        serde_json::to_string(&log.to_string_lossy()).unwrap()
    );
    let moto = Moto::start().with_proxy(0, &faults);
    let (dir, zone) = applied(&moto, "swap");
    let s = status(&moto, &dir);
    let (blue, green) = (dns(&s, "pets-env-blue"), dns(&s, "pets-env-green"));
    assert_eq!(cname(&moto, &zone, "pets.example.com"), blue);

    let before = std::fs::read_to_string(&log).unwrap().lines().count();
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["swap", "pets-env-blue", "pets-env-green", "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("TTL is 60 s"), "{shown}");
    assert!(
        shown.contains("Do not destroy pets-env-blue before"),
        "{shown}"
    );

    // Exactly one write to Route53 during the swap: one change batch.
    let requests: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .skip(before)
        .map(str::to_string)
        .collect();
    let writes: Vec<&String> = requests
        .iter()
        .filter(|l| l.starts_with("POST ") && l.contains("/rrset"))
        .collect();
    assert_eq!(writes.len(), 1, "{requests:#?}");

    assert_eq!(cname(&moto, &zone, "pets.example.com"), green);
    assert_eq!(cname(&moto, &zone, "pets-staging.example.com"), blue);
    assert!(marker(&moto, &zone, "pets.example.com").contains("environment=pets-env-green"));
    assert!(marker(&moto, &zone, "pets-staging.example.com").contains("environment=pets-env-blue"));
    let s = status(&moto, &dir);
    assert_eq!(env(&s, "pets-env-green")["cnames"][0], "pets.example.com");

    // The swap is durable: no plan change, a note, and apply keeps it.
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("Note: pets.example.com is served by pets-env-green"),
        "{shown}"
    );
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes."));
    assert_eq!(cname(&moto, &zone, "pets.example.com"), green);

    // Destroying a side of a fresh swap waits for the TTL, unless forced.
    let out = run(moto.beanpole(dir.path()).args([
        "destroy",
        "--env",
        "pets-env-blue",
        "--auto-approve",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("took part in a swap"),
        "{}",
        text(&out)
    );

    // Swapping back restores the original mapping.
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["swap", "pets-env-green", "pets-env-blue", "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(cname(&moto, &zone, "pets.example.com"), blue);
    assert_eq!(cname(&moto, &zone, "pets-staging.example.com"), green);
    assert!(marker(&moto, &zone, "pets.example.com").contains("environment=pets-env-blue"));
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Note:"));

    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(moto.records(&zone).is_empty(), "{:?}", moto.records(&zone));
}

#[test]
fn moto_swap_refuses_a_red_receiver_and_environments_of_two_applications() {
    let moto = Moto::start();
    let (dir, zone) = applied(&moto, "refuse");
    let s = status(&moto, &dir);
    let blue = dns(&s, "pets-env-blue");
    deregister_all(&moto, "pets-env-green");

    let out =
        run(moto
            .beanpole(dir.path())
            .args(["swap", "pets-env-blue", "pets-env-green", "--yes"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "`pets-env-green` would take the production name pets.example.com but is Red"
        ),
        "{stderr}"
    );
    assert_eq!(cname(&moto, &zone, "pets.example.com"), blue);

    let out = run(moto.beanpole(dir.path()).args([
        "swap",
        "pets-env-blue",
        "pets-env-green",
        "--yes",
        "--force",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_ne!(cname(&moto, &zone, "pets.example.com"), blue);

    // Without a terminal and without --yes, swap refuses to go ahead.
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["swap", "pets-env-blue", "pets-env-green", "--force"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));

    dir.write(
        "other.hcl",
        "application \"other\" {\n  region = \"us-east-2\"\n  domain = \"example.com\"\n}\n\nenvironment \"other-env\" {\n  application = application.other\n  cname       = \"other\"\n  platform    = \"python-3.12\"\n}\n",
    );
    let out = run(moto
        .beanpole(dir.path())
        .args(["swap", "pets-env-blue", "other-env", "--yes"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "`pets-env-blue` belongs to application `pets-app` and `other-env` to `other`"
        ),
        "{stderr}"
    );
    let out = run(moto
        .beanpole(dir.path())
        .args(["swap", "pets-env-blue", "nowhere", "--yes"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

/// Watches the zone's weighted records of `name` while `during` runs.
fn watch_weights(
    moto: &Moto,
    zone: &str,
    name: &str,
    during: impl FnOnce() -> Output,
) -> (Output, BTreeSet<Vec<(String, i64)>>) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let watcher = {
        let (stop, seen) = (stop.clone(), seen.clone());
        let endpoint = moto.direct_endpoint();
        let zone = zone.to_string();
        let name = name.to_string();
        std::thread::spawn(move || {
            let connection = beanpole::aws::Connection {
                region: Some("us-east-2".into()),
                endpoint_url: Some(endpoint),
            };
            let rt = runtime();
            let aws = rt
                .block_on(beanpole::aws::Aws::connect(
                    &connection,
                    beanpole::aws::calls::CallCounter::new(),
                ))
                .unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(out) = rt.block_on(
                    aws.route53
                        .list_resource_record_sets()
                        .hosted_zone_id(&zone)
                        .send(),
                ) {
                    let mut weights: Vec<(String, i64)> = out
                        .resource_record_sets()
                        .iter()
                        .filter(|r| r.name().trim_end_matches('.') == name && r.weight().is_some())
                        .map(|r| {
                            (
                                r.set_identifier().unwrap_or_default().to_string(),
                                r.weight().unwrap_or_default(),
                            )
                        })
                        .collect();
                    weights.sort();
                    weights.dedup();
                    if !weights.is_empty() {
                        seen.lock().unwrap().insert(weights);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    let out = during();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    watcher.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

#[test]
fn moto_a_gradual_swap_passes_through_its_weights_and_ends_as_a_plain_swap() {
    let moto = Moto::start();
    let (dir, zone) = applied(&moto, "gradual");
    let s = status(&moto, &dir);
    let (blue, green) = (dns(&s, "pets-env-blue"), dns(&s, "pets-env-green"));
    let (out, seen) = watch_weights(&moto, &zone, "pets.example.com", || {
        run(moto.beanpole(dir.path()).args([
            "swap",
            "pets-env-blue",
            "pets-env-green",
            "--gradual",
            "10,50,100",
            "--interval",
            "1s",
            "--yes",
        ]))
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("step 1/3: pets.example.com → pets-env-green 10%, pets-env-blue 90%"),
        "{shown}"
    );
    assert!(
        shown.contains("step 2/3: pets.example.com → pets-env-green 50%, pets-env-blue 50%"),
        "{shown}"
    );
    for expected in [
        vec![
            ("beanpole-pets-env-blue".to_string(), 90),
            ("beanpole-pets-env-green".to_string(), 10),
        ],
        vec![
            ("beanpole-pets-env-blue".to_string(), 50),
            ("beanpole-pets-env-green".to_string(), 50),
        ],
    ] {
        assert!(
            seen.contains(&expected),
            "never saw {expected:?} in {seen:?}"
        );
    }
    // It ends as a plain swap: simple records only.
    assert!(moto
        .records(&zone)
        .iter()
        .all(|r| r.set_identifier.is_none()));
    assert_eq!(cname(&moto, &zone, "pets.example.com"), green);
    assert_eq!(cname(&moto, &zone, "pets-staging.example.com"), blue);
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn moto_a_gradual_swap_whose_receiver_turns_red_rolls_back() {
    let moto = Moto::start();
    let (dir, zone) = applied(&moto, "rollback");
    let s = status(&moto, &dir);
    let (blue, green) = (dns(&s, "pets-env-blue"), dns(&s, "pets-env-green"));
    let (out, seen) = watch_weights(&moto, &zone, "pets.example.com", || {
        // Once the first weights are live, green loses its targets.
        let child = gradual_swap_at_first_step(&moto, &dir, &zone, "20,100", "3s");
        deregister_all(&moto, "pets-env-green");
        child.wait_with_output().unwrap()
    });
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pets-env-green turned Red at 20%"),
        "{stderr}"
    );
    assert!(stderr.contains("rolled back"), "{stderr}");
    assert!(seen.contains(&vec![
        ("beanpole-pets-env-blue".to_string(), 80),
        ("beanpole-pets-env-green".to_string(), 20)
    ]));
    // Back to the start: simple records, the original mapping and markers.
    assert!(
        moto.records(&zone)
            .iter()
            .all(|r| r.set_identifier.is_none()),
        "{:?}",
        moto.records(&zone)
    );
    assert_eq!(cname(&moto, &zone, "pets.example.com"), blue);
    assert_eq!(cname(&moto, &zone, "pets-staging.example.com"), green);
    assert!(marker(&moto, &zone, "pets.example.com").contains("environment=pets-env-blue"));
}

/// Starts a gradual swap of blue → green through `steps` and returns it once its first weights
/// are live in Route53.
fn gradual_swap_at_first_step(
    moto: &Moto,
    dir: &TempDir,
    zone: &str,
    steps: &str,
    interval: &str,
) -> std::process::Child {
    let child = moto
        .beanpole(dir.path())
        .args([
            "swap",
            "pets-env-blue",
            "pets-env-green",
            "--gradual",
            steps,
            "--interval",
            interval,
            "--yes",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !moto.records(zone).iter().any(|r| r.weight.is_some()) {
        assert!(
            started.elapsed().as_secs() < 30,
            "no weighted records appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

fn signal(child: &std::process::Child, signal: i32) {
    // SAFETY: sending a signal to our own child process by its pid.
    let sent = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(sent, 0, "cannot signal the child");
}

/// Every record left is simple, and blue/green serve their original names.
fn assert_original_mapping(moto: &Moto, zone: &str, blue: &str, green: &str) {
    assert!(
        moto.records(zone)
            .iter()
            .all(|r| r.set_identifier.is_none()),
        "{:?}",
        moto.records(zone)
    );
    assert_eq!(cname(moto, zone, "pets.example.com"), blue);
    assert_eq!(cname(moto, zone, "pets-staging.example.com"), green);
    assert!(marker(moto, zone, "pets.example.com").contains("environment=pets-env-blue"));
    assert!(marker(moto, zone, "pets-staging.example.com").contains("environment=pets-env-green"));
}

#[test]
fn moto_a_gradual_swap_interrupted_after_its_first_step_rolls_back() {
    let moto = Moto::start();
    let (dir, zone) = applied(&moto, "swap-sigint");
    let s = status(&moto, &dir);
    let (blue, green) = (dns(&s, "pets-env-blue"), dns(&s, "pets-env-green"));
    let child = gradual_swap_at_first_step(&moto, &dir, &zone, "10,100", "60s");
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Interrupted"), "{stderr}");
    assert!(
        stderr.contains("rolled back: pets.example.com is served by pets-env-blue again"),
        "{stderr}"
    );
    assert_original_mapping(&moto, &zone, &blue, &green);
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Nothing moved, so the markers carry no swap time and destroy goes ahead at once.
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(moto.records(&zone).is_empty(), "{:?}", moto.records(&zone));
}

#[test]
fn moto_a_gradual_swap_killed_half_way_is_seen_by_plan_undone_by_apply_and_resumed_by_swap() {
    let moto = Moto::start();
    let (dir, zone) = applied(&moto, "swap-kill");
    let s = status(&moto, &dir);
    let (blue, green) = (dns(&s, "pets-env-blue"), dns(&s, "pets-env-green"));

    // Killed with no chance to roll back: the production name is left as weighted records.
    let mut child = gradual_swap_at_first_step(&moto, &dir, &zone, "10,100", "60s");
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    assert!(moto.records(&zone).iter().any(|r| r.weight.is_some()));
    // plan takes no lock: it sees the environment's record in its weighted state and shows
    // the way back.
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unfinished gradual swap"),
        "{}",
        text(&out)
    );
    // Its lock outlives it, but its holder ran on this host and is gone: apply takes the lock
    // over at once, saying so, and restores the simple record the ownership marker names.
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("took over the lock of pets-app")
            && text(&out).contains("no longer exists"),
        "{}",
        text(&out)
    );
    assert_original_mapping(&moto, &zone, &blue, &green);
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Killed again; this time the same swap is run again and finishes it.
    let mut child = gradual_swap_at_first_step(&moto, &dir, &zone, "10,100", "60s");
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    let out = run(moto
        .beanpole(dir.path())
        .args(["unlock", "pets-app", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(moto.beanpole(dir.path()).args([
        "swap",
        "pets-env-blue",
        "pets-env-green",
        "--gradual",
        "10,100",
        "--interval",
        "1s",
        "--yes",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Continuing an unfinished gradual swap"),
        "{}",
        text(&out)
    );
    assert!(moto
        .records(&zone)
        .iter()
        .all(|r| r.set_identifier.is_none()));
    assert_eq!(cname(&moto, &zone, "pets.example.com"), green);
    assert_eq!(cname(&moto, &zone, "pets-staging.example.com"), blue);

    // Killed a third time, then destroyed: every record goes, weighted ones included.
    let mut child = gradual_swap_at_first_step(&moto, &dir, &zone, "10,100", "60s");
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    let out = run(moto
        .beanpole(dir.path())
        .args(["unlock", "pets-app", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(moto.records(&zone).is_empty(), "{:?}", moto.records(&zone));
}

#[test]
fn moto_status_takes_an_interval_with_a_unit() {
    let moto = Moto::start();
    let (dir, _) = applied(&moto, "status-interval");
    let out = run(moto
        .beanpole(dir.path())
        .args(["status", "--interval", "1s"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
