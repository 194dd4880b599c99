//! The worker tier against moto, with the local fleet playing the instances and the real
//! daemon (sqsd) reading moto's SQS and DynamoDB: `examples/worker-app` applied (a queue, its
//! dead-letter queue and a leader table in the environment's stack; no load balancer); 200
//! messages POSTed to the Flask application with sqsd's headers and deleted; a refused message
//! retried until it waits in the dead-letter queue, then redriven; a slow one retried past
//! InactivityTimeout, not lost; the backlog scaling policy; `status`; `cron.yaml` enqueued
//! once per minute across a leader's death; a rolling deploy that loses no message.

use crate::common;
use crate::platform::{copy_tree, pip_env};

use common::fleet::{Fleet, Member};
use common::moto::Moto;
use common::{run, text, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `examples/worker-app` in a folder of its own, with `edit` applied to its spec; applied.
fn applied(moto: &Moto, label: &str, edit: impl Fn(String) -> String) -> TempDir {
    let dir = TempDir::new(label);
    copy_tree(
        &common::manifest_dir().join("examples/worker-app"),
        dir.path(),
    );
    let spec = dir.path().join("main.hcl");
    let hcl = edit(std::fs::read_to_string(&spec).unwrap());
    std::fs::write(&spec, hcl).unwrap();
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    dir
}

/// The fleet serving `count` instances of jobs, version `v1` deployed.
fn serving_v1(moto: &Moto, dir: &std::path::Path, count: usize) -> (Fleet, Vec<Member>) {
    let fleet = Fleet::start(moto, dir, &pip_env());
    fleet.wait_serving("jobs", count, Duration::from_secs(300));
    let out = run(moto.beanpole(dir).args(["deploy", "jobs", "--label", "v1"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let members = fleet.wait_serving("jobs", count, Duration::from_secs(60));
    (fleet, members)
}

/// What the application on each instance received, all instances together: the file it
/// keeps in the instance's own `/tmp` (in its filesystem view; `GET /received` answers the
/// same while it serves), so that an instance retired since still counts.
fn received(members: &[Member]) -> Vec<Value> {
    let mut all = Vec::new();
    for m in members {
        let text = std::fs::read_to_string(m.root.join("tmp/worker-app/received.jsonl"))
            .unwrap_or_default();
        all.extend(
            text.lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok()),
        );
    }
    all
}

fn id_of(entry: &Value) -> String {
    match &entry["body"]["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn header<'a>(entry: &'a Value, name: &str) -> &'a str {
    entry["headers"]
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str())
        })
        .unwrap_or_default()
}

/// Waits until `done` holds for what the instances received.
fn wait_received(
    members: &[Member],
    within: Duration,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let all = received(members);
        if done(&all) {
            return all;
        }
        assert!(
            start.elapsed() < within,
            "{what}: not within {} s; received {} entries",
            within.as_secs(),
            all.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn stats(moto: &Moto, dir: &std::path::Path) -> Value {
    let out = run(moto
        .beanpole(dir)
        .args(["queue", "jobs", "stats", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A queue's URL at moto (the AWS CLI sends a queue's requests to its URL's host, which for
/// a stack's queue is AWS's own).
fn at_moto(endpoint: &str, queue_url: &str) -> String {
    let path: Vec<&str> = queue_url.rsplitn(3, '/').collect();
    format!("{endpoint}/{}/{}", path[1], path[0])
}

/// Sends `bodies` to the queue 10 at a time (SQS's batch), with the AWS CLI.
fn send_batch(moto: &Moto, queue_url: &str, bodies: &[String]) {
    let queue_url = &at_moto(&moto.direct_endpoint(), queue_url);
    for chunk in bodies.chunks(10) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| serde_json::json!({"Id": i.to_string(), "MessageBody": body}))
            .collect();
        moto.aws_cli(&[
            "sqs",
            "send-message-batch",
            "--endpoint-url",
            &moto.direct_endpoint(),
            "--queue-url",
            queue_url,
            "--entries",
            &Value::Array(entries).to_string(),
        ]);
    }
}

#[test]
fn moto_a_worker_posts_each_message_deletes_it_on_200_and_dead_letters_what_keeps_failing() {
    let moto = Moto::start();
    let dir = applied(&moto, "worker", |hcl| hcl);

    // What apply made: the stack's queue, dead-letter queue and leader table; no load balancer.
    let resources = moto.aws_cli(&[
        "cloudformation",
        "list-stack-resources",
        "--stack-name",
        &stack_name(&moto),
    ]);
    for logical in [
        "AWSEBWorkerQueue",
        "AWSEBWorkerDeadLetterQueue",
        "AWSEBWorkerCronLeaderRegistry",
    ] {
        assert!(resources.contains(logical), "{logical} not in {resources}");
    }
    let balancers: Value =
        serde_json::from_str(&moto.aws_cli(&["elbv2", "describe-load-balancers"])).unwrap();
    assert_eq!(balancers["LoadBalancers"], serde_json::json!([]));
    let queue = stats(&moto, dir.path());
    let queue_url = queue["queues"]["queue_url"].as_str().unwrap().to_string();
    let dead_letter_url = queue["queues"]["dead_letter_queue_url"]
        .as_str()
        .unwrap()
        .to_string();
    // The queue's dead-letter policy: MaxRetries receives.
    let attributes: Value = serde_json::from_str(&moto.aws_cli(&[
        "sqs",
        "get-queue-attributes",
        "--endpoint-url",
        &moto.direct_endpoint(),
        "--queue-url",
        &at_moto(&moto.direct_endpoint(), &queue_url),
        "--attribute-names",
        "All",
    ]))
    .unwrap();
    let redrive: Value =
        serde_json::from_str(attributes["Attributes"]["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "3"
    );
    assert_eq!(attributes["Attributes"]["VisibilityTimeout"], "30");
    // The role may use exactly its queues and its table.
    let policy = moto.inline_policy("jobs");
    let queue_name = queue_url.rsplit('/').next().unwrap();
    let dead_letter_name = dead_letter_url.rsplit('/').next().unwrap();
    assert!(policy.contains(&format!(":{queue_name}\"")), "{policy}");
    assert!(
        policy.contains(&format!(":{dead_letter_name}\"")),
        "{policy}"
    );
    assert!(policy.contains("AWSEBWorkerCronLeaderRegistry"), "{policy}");
    // Scaling on the backlog per instance: the queue's visible messages over the group's
    // in-service instances, tracked to 20.
    let policies: Value =
        serde_json::from_str(&moto.aws_cli(&["autoscaling", "describe-policies"])).unwrap();
    let tracking = &policies["ScalingPolicies"][0]["TargetTrackingConfiguration"];
    assert_eq!(tracking["TargetValue"], 20.0, "{policies}");
    let metrics = tracking["CustomizedMetricSpecification"]["Metrics"].to_string();
    for expected in [
        "ApproximateNumberOfMessagesVisible",
        queue_name,
        "GroupInServiceInstances",
        "visible / instances",
    ] {
        assert!(metrics.contains(expected), "{expected} not in {metrics}");
    }

    let (fleet, members) = serving_v1(&moto, dir.path(), 1);

    // 200 messages: one with `queue send` and an attribute, 199 in batches.
    let out = run(moto.beanpole(dir.path()).args([
        "queue",
        "jobs",
        "send",
        r#"{"id": "m0"}"#,
        "--attr",
        "color=blue",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bodies: Vec<String> = (1..200).map(|i| format!(r#"{{"id": "m{i}"}}"#)).collect();
    send_batch(&moto, &queue_url, &bodies);
    let all = wait_received(&members, Duration::from_secs(120), "200 messages", |all| {
        let ids: std::collections::BTreeSet<String> = all
            .iter()
            .filter(|e| e["kind"] == "done" && id_of(e).starts_with('m'))
            .map(id_of)
            .collect();
        ids.len() == 200
    });
    let done: Vec<&Value> = all.iter().filter(|e| e["kind"] == "done").collect();
    for entry in &done {
        assert!(
            header(entry, "User-Agent").starts_with("aws-sqsd/"),
            "{entry}"
        );
        assert_eq!(header(entry, "Content-Type"), "application/json", "{entry}");
        assert_eq!(header(entry, "X-Aws-Sqsd-Queue"), queue_name, "{entry}");
        assert!(!header(entry, "X-Aws-Sqsd-Msgid").is_empty(), "{entry}");
        assert!(!header(entry, "X-Aws-Sqsd-Sender-Id").is_empty(), "{entry}");
        assert_eq!(header(entry, "X-Aws-Sqsd-Receive-Count"), "1", "{entry}");
        for time in ["X-Aws-Sqsd-First-Received-At", "X-Aws-Sqsd-Sent-At"] {
            let value = header(entry, time);
            assert!(value.len() == 20 && value.ends_with('Z'), "{time}: {entry}");
        }
    }
    let m0 = done.iter().find(|e| id_of(e) == "m0").unwrap();
    assert_eq!(header(m0, "X-Aws-Sqsd-Attr-color"), "blue", "{m0}");
    // Each deleted once answered: nothing waits and nothing is in flight.
    wait_until(Duration::from_secs(30), "the queue empty", || {
        let s = stats(&moto, dir.path());
        s["queue"]["visible"] == 0 && s["queue"]["in_flight"] == 0
    });

    // Refused (500) each time: back after ErrorVisibilityTimeout, its receive count growing,
    // and after MaxRetries (3) receives in the dead-letter queue.
    let out = run(moto.beanpole(dir.path()).args([
        "queue",
        "jobs",
        "send",
        r#"{"id": "bad", "fail": true}"#,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    wait_until(
        Duration::from_secs(60),
        "the refused message dead-lettered",
        || stats(&moto, dir.path())["dead_letter_queue"]["visible"] == 1,
    );
    let refused: Vec<String> = received(&members)
        .iter()
        .filter(|e| e["kind"] == "refused" && id_of(e) == "bad")
        .map(|e| header(e, "X-Aws-Sqsd-Receive-Count").to_string())
        .collect();
    assert_eq!(refused, ["1", "2", "3"], "{}", fleet.output());
    let out = run(moto.beanpole(dir.path()).args(["queue", "jobs", "redrive"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Moved 1 message(s)"),
        "{}",
        text(&out)
    );
    // Back in the queue: the application sees it again.
    wait_received(
        &members,
        Duration::from_secs(60),
        "the redriven message",
        |all| {
            all.iter()
                .filter(|e| e["kind"] == "refused" && id_of(e) == "bad")
                .count()
                > 3
        },
    );

    // Slower than InactivityTimeout (10 s) on its first receive: retried, then done.
    let out = run(moto.beanpole(dir.path()).args([
        "queue",
        "jobs",
        "send",
        r#"{"id": "slow", "sleep": 14}"#,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = wait_received(
        &members,
        Duration::from_secs(90),
        "the slow message",
        |all| {
            all.iter()
                .any(|e| e["kind"] == "done" && id_of(e) == "slow")
        },
    );
    let slow = all
        .iter()
        .find(|e| e["kind"] == "done" && id_of(e) == "slow")
        .unwrap();
    assert!(
        header(slow, "X-Aws-Sqsd-Receive-Count")
            .parse::<u32>()
            .unwrap()
            >= 2,
        "{slow}"
    );
    let log = std::fs::read_to_string(
        std::path::Path::new(&members[0].root).join("var/log/aws-sqsd/default.log"),
    )
    .unwrap_or_default();
    assert!(
        log.contains("no answer within InactivityTimeout (10 s)"),
        "{log}"
    );

    // `status`: the worker's queue, its dead-letter queue (the redriven message refused
    // again), its daemon.
    wait_until(
        Duration::from_secs(60),
        "status Yellow for the dead letter",
        || {
            let out = run(moto.beanpole(dir.path()).args(["status", "jobs", "--json"]));
            let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let env = &json["environments"][0];
            env["health"] == "Yellow"
                && env["worker"]["daemons_reading"] == 1
                && env["worker"]["dead_letter_queue"]["visible"] == 1
        },
    );
    let out = run(moto.beanpole(dir.path()).args(["status", "jobs"]));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        shown.contains("1 daemon(s) reading the queue")
            && shown.contains("dead letters   1 visible"),
        "{shown}"
    );
    // `events`: the daemon's own, beside the commands'.
    let out = run(moto.beanpole(dir.path()).args(["events", "jobs"]));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        shown.contains("Its worker daemons' events")
            && shown.contains(&format!("{}  INFO  polling", members[0].instance)),
        "{shown}"
    );
    drop(fleet);
}

/// The name of the worker's stack (the only stack).
fn stack_name(moto: &Moto) -> String {
    let stacks: Value =
        serde_json::from_str(&moto.aws_cli(&["cloudformation", "describe-stacks"])).unwrap();
    stacks["Stacks"][0]["StackName"]
        .as_str()
        .unwrap()
        .to_string()
}

fn wait_until(within: Duration, what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < within,
            "{what}: not within {} s",
            within.as_secs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What each instance's daemon says of itself (its status file).
fn daemon_status(member: &Member) -> Value {
    std::fs::read_to_string(
        std::path::Path::new(&member.root).join("var/lib/beanpole/sqsd-status.json"),
    )
    .ok()
    .and_then(|t| serde_json::from_str(&t).ok())
    .unwrap_or_default()
}

/// Kills an instance's daemon as a dying instance would: SIGKILL to its supervisor (so it is
/// not restarted) and to the daemon.
fn kill_daemon(member: &Member) {
    for file in ["sqsd.supervisor.pid", "sqsd.pid"] {
        let path = std::path::Path::new(&member.root)
            .join("var/pids")
            .join(file);
        let pid: i32 = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(pid > 0, "no pid in {}", path.display());
        // SAFETY: signalling a process this test's fleet started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

#[test]
fn moto_cron_yaml_is_enqueued_once_per_minute_across_a_leader_s_death() {
    let moto = Moto::start();
    let dir = applied(&moto, "worker-cron", |hcl| {
        hcl.replace("min                  = 1", "min                  = 2")
    });
    let (fleet, members) = serving_v1(&moto, dir.path(), 2);
    let started = Instant::now();
    // One leads.
    wait_until(Duration::from_secs(30), "a leader", || {
        members
            .iter()
            .filter(|m| daemon_status(m)["leader"] == true)
            .count()
            == 1
    });
    // Kill the leader's daemon once it has led a while (mid-minute or at a minute's edge,
    // whichever comes).
    std::thread::sleep(Duration::from_secs(75));
    let leader = members
        .iter()
        .find(|m| daemon_status(m)["leader"] == true)
        .expect("a leader")
        .clone();
    let other = members
        .iter()
        .find(|m| m.instance != leader.instance)
        .unwrap()
        .clone();
    kill_daemon(&leader);
    let killed_at = Instant::now();
    // The other takes over within the lease (20 s) and a renewal (5 s).
    wait_until(
        Duration::from_secs(40),
        "the other instance leading",
        || daemon_status(&other)["leader"] == true,
    );
    let takeover = killed_at.elapsed();
    assert!(
        takeover <= Duration::from_secs(30),
        "took over in {takeover:?}"
    );
    // Five minutes in all, then count: each scheduled minute exactly once.
    let remaining = Duration::from_secs(5 * 60 + 10).saturating_sub(started.elapsed());
    std::thread::sleep(remaining);
    let all = received(&members);
    let mut per_minute: BTreeMap<String, usize> = BTreeMap::new();
    for entry in all.iter().filter(|e| e["kind"] == "task") {
        assert_eq!(header(entry, "X-Aws-Sqsd-Taskname"), "tick", "{entry}");
        *per_minute
            .entry(header(entry, "X-Aws-Sqsd-Scheduled-At").to_string())
            .or_default() += 1;
    }
    eprintln!("cron runs per scheduled minute: {per_minute:?}; takeover in {takeover:?}");
    assert!(per_minute.len() >= 5, "{per_minute:?}\n{}", fleet.output());
    assert!(per_minute.values().all(|n| *n == 1), "{per_minute:?}");
    // Consecutive minutes: none missed across the leader change.
    let minutes: Vec<i64> = per_minute
        .keys()
        .map(|t| {
            let hm = &t[11..16];
            let (h, m) = hm.split_once(':').unwrap();
            h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()
        })
        .collect();
    for pair in minutes.windows(2) {
        assert_eq!((pair[1] - pair[0]).rem_euclid(24 * 60), 1, "{per_minute:?}");
    }
}

#[test]
fn moto_a_rolling_deploy_to_a_worker_loses_no_message_in_flight() {
    let moto = Moto::start();
    let dir = applied(&moto, "worker-rolling", |hcl| {
        hcl.replace("min                  = 1", "min                  = 2")
    });
    let (fleet, members) = serving_v1(&moto, dir.path(), 2);
    let queue_url = stats(&moto, dir.path())["queues"]["queue_url"]
        .as_str()
        .unwrap()
        .to_string();
    // Messages keep coming during the deploy, each taking 1 s: some are in flight when each
    // instance's daemon and application are replaced.
    let sender = {
        let endpoint = moto.direct_endpoint();
        let queue_url = at_moto(&endpoint, &queue_url);
        std::thread::spawn(move || {
            let mut sent = 0;
            for round in 0..12 {
                let bodies: Vec<String> = (0..10)
                    .map(|i| format!(r#"{{"id": "r{}", "sleep": 1}}"#, round * 10 + i))
                    .collect();
                let entries: Vec<Value> = bodies
                    .iter()
                    .enumerate()
                    .map(|(i, b)| serde_json::json!({"Id": i.to_string(), "MessageBody": b}))
                    .collect();
                let status =
                    std::process::Command::new(common::manifest_dir().join(".venv/bin/aws"))
                        .args(["sqs", "send-message-batch", "--queue-url", &queue_url])
                        .arg("--entries")
                        .arg(Value::Array(entries).to_string())
                        .args(["--endpoint-url", &endpoint, "--region", "us-east-2"])
                        .env("AWS_ACCESS_KEY_ID", "testing")
                        .env("AWS_SECRET_ACCESS_KEY", "testing")
                        .env("AWS_CONFIG_FILE", "/dev/null")
                        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
                        .stdout(std::process::Stdio::null())
                        .status()
                        .expect("aws");
                assert!(status.success());
                sent += 10;
                std::thread::sleep(Duration::from_millis(1500));
            }
            sent
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "jobs", "--label", "v2"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let sent = sender.join().unwrap();
    let all = wait_received(&members, Duration::from_secs(120), "every message", |all| {
        let ids: std::collections::BTreeSet<String> = all
            .iter()
            .filter(|e| e["kind"] == "done" && id_of(e).starts_with('r'))
            .map(id_of)
            .collect();
        ids.len() == sent
    });
    let done: Vec<String> = all
        .iter()
        .filter(|e| e["kind"] == "done" && id_of(e).starts_with('r'))
        .map(id_of)
        .collect();
    // Each message is processed once: a second delivery would mean the daemon let a message
    // go that it had answered (or never answered). moto's receives are made atomic as SQS's
    // (scripts/moto-fixes, fix 11), so two daemons never take one message at once here.
    let mut counts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in all
        .iter()
        .filter(|e| e["kind"] == "done" && id_of(e).starts_with('r'))
    {
        counts
            .entry(id_of(e))
            .or_default()
            .push(header(e, "X-Aws-Sqsd-Receive-Count").to_string());
    }
    let twice: Vec<(&String, &Vec<String>)> = counts.iter().filter(|(_, c)| c.len() > 1).collect();
    let redelivered = counts.values().flatten().filter(|n| *n != "1").count();
    eprintln!(
        "rolling deploy: {sent} messages sent, {} done, {} twice, {redelivered} received more than once",
        done.len(),
        twice.len()
    );
    let logs: Vec<String> = members
        .iter()
        .map(|m| {
            std::fs::read_to_string(m.root.join("var/log/aws-sqsd/default.log")).unwrap_or_default()
        })
        .collect();
    assert!(
        twice.is_empty() && done.len() == sent,
        "processed more than once (receive counts): {twice:?}\n{}",
        logs.join("\n----\n")
    );
    wait_until(Duration::from_secs(30), "the queue empty", || {
        let s = stats(&moto, dir.path());
        s["queue"]["visible"] == 0 && s["queue"]["in_flight"] == 0
    });

    // The policies that launch new instances work on a worker too (no target group: a batch
    // passes when its daemons report in), and the new instances process the queue; traffic
    // splitting is refused.
    for (label, policy) in [("v3", "rolling-with-additional-batch"), ("v4", "immutable")] {
        let out = run(moto
            .beanpole(dir.path())
            .args(["deploy", "jobs", "--label", label, "--policy", policy]));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{policy}: {}\n{}",
            text(&out),
            fleet.output()
        );
    }
    let bodies: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"id": "after{i}"}}"#))
        .collect();
    send_batch(&moto, &queue_url, &bodies);
    // Every instance the fleet played, the retired ones too (one may take a message before
    // it stops).
    wait_until(Duration::from_secs(90), "messages after immutable", || {
        received(&fleet.members())
            .iter()
            .filter(|e| e["kind"] == "done" && id_of(e).starts_with("after"))
            .count()
            >= 20
    });
    let out = run(moto.beanpole(dir.path()).args([
        "deploy",
        "jobs",
        "--version",
        "v4",
        "--policy",
        "traffic-splitting",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is a worker: it takes no requests to split"),
        "{}",
        text(&out)
    );
}

#[test]
fn moto_eb_s_python_sample_runs_unchanged_as_a_worker() {
    let moto = Moto::start();
    let dir = TempDir::new("eb-worker-sample");
    copy_tree(
        &common::manifest_dir().join("tests/fixtures/eb-worker-sample"),
        dir.path(),
    );
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("sample-worker", 1, Duration::from_secs(300));
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "sample-worker", "--label", "v1"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let member = fleet.wait_serving("sample-worker", 1, Duration::from_secs(60))[0].clone();
    let out = run(moto.beanpole(dir.path()).args([
        "queue",
        "sample-worker",
        "send",
        r#"{"job": "resize", "image": 42}"#,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Its own log: the message, and cron.yaml's task within its minute.
    let log = member.root.join("tmp/sample-app.log");
    wait_until(Duration::from_secs(100), "the sample's log", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains(r#"Received message: {"job": "resize", "image": 42}"#)
            && text.contains("Received task task1 scheduled at 20")
    });
}
