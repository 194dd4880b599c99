//! One lock per application, against moto behind a proxy that delays every call (so commands
//! overlap as they do against AWS): two commands started together never both proceed; the
//! one refused names the holder; afterwards the account is consistent (plan empty, or destroy
//! left nothing) and no CNAME lacks its ownership marker. A holder killed with `kill -9` is
//! taken over once its lease expires; `unlock --force` removes a lock at once.

use crate::common;
use crate::platform::{copy_tree, pip_env};

use common::fleet::Fleet;
use common::moto::Moto;
use common::{run, text, TempDir};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// How many times each pair races (`BEANPOLE_LOCK_TRIALS` changes it).
fn trials() -> usize {
    std::env::var("BEANPOLE_LOCK_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn spec(dir: &std::path::Path) {
    std::fs::write(
        dir.join("main.hcl"),
        include_str!("../../examples/pets-app/main.hcl"),
    )
    .unwrap();
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &dir.join("app"),
    );
}

/// Starts two commands at the same moment; their outputs.
fn race(a: &mut Command, b: &mut Command) -> (Output, Output) {
    for c in [&mut *a, &mut *b] {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let first = a.spawn().expect("first command");
    let second = b.spawn().expect("second command");
    (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    )
}

/// Exactly one of the two proceeded, the other refused naming the winner's command; or both
/// proceeded one after the other (a command can take the lock, finish and release it before
/// the other, slowed by a loaded machine, asks for it): then the events show their spans
/// under the lock apart. Whether `a`'s effect is the one that stands (it alone proceeded, or
/// it came second).
fn one_proceeded(
    moto: &Moto,
    dir: &std::path::Path,
    trial: usize,
    what: &str,
    a: &Output,
    b: &Output,
) -> bool {
    let (won, lost) = match (a.status.code(), b.status.code()) {
        (Some(0), Some(1)) => (a, b),
        (Some(1), Some(0)) => (b, a),
        (Some(0), Some(0)) => return one_after_the_other(moto, dir, trial, what, a, b),
        _ => panic!(
            "{what} trial {trial}: not exactly one proceeded:\n--- first\n{}\n--- second\n{}",
            text(a),
            text(b)
        ),
    };
    let refusal = String::from_utf8_lossy(&lost.stderr);
    assert!(
        refusal.contains("application pets-app is locked: `") && refusal.contains("--wait"),
        "{what} trial {trial}: the refusal does not name the holder:\n{refusal}\n--- winner\n{}",
        text(won)
    );
    std::ptr::eq(won, a)
}

/// Both proceeded: the two newest events (one per command) held the lock at different times.
/// Whether `a` (`what`'s first command) held it last.
fn one_after_the_other(
    moto: &Moto,
    dir: &std::path::Path,
    trial: usize,
    what: &str,
    a: &Output,
    b: &Output,
) -> bool {
    let out = run(moto
        .beanpole(dir)
        .args(["events", "pets-env-blue", "--json", "--limit", "2"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spans: Vec<(String, u64, u64)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["command"].as_str().unwrap_or_default().to_string(),
                e["locked_ms"].as_u64().unwrap_or(0),
                e["time_ms"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // Newest first.
    let [(last, last_locked, _), (_, _, first_recorded)] = spans.as_slice() else {
        panic!("{what} trial {trial}: both proceeded but the events are {events}");
    };
    assert!(
        *last_locked > *first_recorded,
        "{what} trial {trial}: both held the lock at once ({spans:?}):\n--- first\n{}\n--- second\n{}",
        text(a),
        text(b)
    );
    let first_command = what.split('/').next().unwrap_or_default();
    last.starts_with(first_command)
}

/// No CNAME without its TXT marker.
fn markers_complete(moto: &Moto, zone: &str, context: &str) {
    let records = moto.records(zone);
    for cname in records.iter().filter(|r| r.kind == "CNAME") {
        let marker = format!("_beanpole.{}", cname.name);
        assert!(
            records.iter().any(|r| r.kind == "TXT" && r.name == marker),
            "{context}: {} has no marker: {records:?}",
            cname.name
        );
    }
}

fn plan_is_empty(moto: &Moto, dir: &std::path::Path) -> bool {
    let out = run(moto.beanpole(dir).args(["plan", "--detailed-exitcode"]));
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", text(&out));
    out.status.code() == Some(0)
}

#[test]
fn moto_racing_commands_never_both_proceed_and_the_account_stays_consistent() {
    let moto = Moto::start().with_delay(20);
    let zone = moto.create_zone("example.com");
    let dir = TempDir::new("locks");
    spec(dir.path());
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Two commands one after the other both proceed, and the events show it.
    let first = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    let second = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--force"]));
    assert!(
        !one_proceeded(&moto, dir.path(), 0, "apply/destroy", &first, &second),
        "the destroy came last"
    );
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // apply racing destroy.
    for trial in 1..=trials() {
        let (a, d) = race(
            moto.beanpole(dir.path()).args(["apply", "--auto-approve"]),
            moto.beanpole(dir.path())
                .args(["destroy", "--auto-approve", "--force"]),
        );
        let apply_won = one_proceeded(&moto, dir.path(), trial, "apply/destroy", &a, &d);
        markers_complete(&moto, &zone, &format!("apply/destroy trial {trial}"));
        if apply_won {
            assert!(
                plan_is_empty(&moto, dir.path()),
                "trial {trial}: apply won, yet the plan is not empty"
            );
        } else {
            let records = moto.records(&zone);
            assert!(
                !records.iter().any(|r| r.kind == "CNAME"),
                "trial {trial}: destroy won, yet records remain: {records:?}"
            );
            let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        }
    }

    // Two applies after a change to the spec (blue's maximum: no instance needs replacing):
    // one makes it, the other is refused.
    let own = std::fs::read_to_string(dir.path().join("main.hcl")).unwrap();
    for trial in 1..=trials() {
        let max = if trial % 2 == 0 { 4 } else { 5 };
        std::fs::write(
            dir.path().join("main.hcl"),
            own.replacen("max = 4", &format!("max = {max}"), 1),
        )
        .unwrap();
        let (a, b) = race(
            moto.beanpole(dir.path()).args(["apply", "--auto-approve"]),
            moto.beanpole(dir.path()).args(["apply", "--auto-approve"]),
        );
        one_proceeded(&moto, dir.path(), trial, "apply/apply", &a, &b);
        markers_complete(&moto, &zone, &format!("apply/apply trial {trial}"));
        let out = run(moto
            .beanpole(dir.path())
            .args(["plan", "--detailed-exitcode"]));
        assert_eq!(out.status.code(), Some(0), "trial {trial}: {}", text(&out));
    }
    // Back to the spec's own maximum.
    std::fs::write(dir.path().join("main.hcl"), &own).unwrap();
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // deploy racing apply, with the local fleet playing the instances.
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(240));
    for trial in 1..=trials() {
        let label = format!("race-{trial}");
        let (d, a) = race(
            moto.beanpole(dir.path())
                .args(["deploy", "pets-env-blue", "--label", &label]),
            moto.beanpole(dir.path()).args(["apply", "--auto-approve"]),
        );
        one_proceeded(&moto, dir.path(), trial, "deploy/apply", &d, &a);
        if d.status.code() == Some(0) {
            assert!(
                String::from_utf8_lossy(&d.stdout).contains("Deployed"),
                "{}",
                text(&d)
            );
        }
        assert!(plan_is_empty(&moto, dir.path()), "trial {trial}");
        markers_complete(&moto, &zone, &format!("deploy/apply trial {trial}"));
        // Each trial deploys a new tree (else the version would be reused).
        std::fs::write(dir.path().join("app/trial.txt"), label).unwrap();
    }
    drop(fleet);
}

#[test]
fn moto_a_killed_holder_is_taken_over_after_its_lease_and_unlock_force_removes_a_lock() {
    let moto = Moto::start().with_delay(20);
    moto.create_zone("example.com");
    let dir = TempDir::new("lock-takeover");
    spec(dir.path());
    // A holder killed with SIGKILL while it holds the lock (its lease: the default minute).
    let mut holder = moto
        .beanpole(dir.path())
        .args(["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock_exists = || {
        let aws = moto.clients();
        common::moto::runtime().block_on(async {
            aws.s3
                .head_object()
                .bucket("beanpole-versions-123456789012-us-east-2")
                .key("pets-app/lock.json")
                .send()
                .await
                .is_ok()
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !lock_exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the apply never took its lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    // On this host its process is gone: taken over at once (long before its lease would
    // run out), saying so, and the apply finishes what the dead one began.
    let started = std::time::Instant::now();
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("took over the lock of pets-app") && stderr.contains("no longer exists"),
        "{}",
        text(&out)
    );
    assert!(
        took < Duration::from_secs(50),
        "taken over after {took:?}: by the lease, not at once"
    );
    eprintln!("a killed holder on this host was taken over by an apply that took {took:?} in all");
    assert!(!lock_exists(), "the lock outlived its holder");
    assert!(plan_is_empty(&moto, dir.path()));

    // A holder on another host is refused while its lease runs (naming it), and taken over
    // once it ran out without a renewal.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let elsewhere = serde_json::json!({
        "application": "pets-app", "command": "apply", "principal": "arn:aws:iam::123456789012:user/ops",
        "host": "another-host", "pid": 4242, "token": "elsewhere",
        "started": now, "renewed": now, "lease_secs": 3,
    });
    let aws = moto.clients();
    common::moto::runtime().block_on(async {
        aws.s3
            .put_object()
            .bucket("beanpole-versions-123456789012-us-east-2")
            .key("pets-app/lock.json")
            .body(serde_json::to_vec(&elsewhere).unwrap().into())
            .send()
            .await
            .expect("a lock written from another host")
    });
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("application pets-app is locked: `apply`")
            && text(&out).contains("on another-host"),
        "{}",
        text(&out)
    );
    std::thread::sleep(Duration::from_secs(4));
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("took over the lock of pets-app"),
        "{}",
        text(&out)
    );
    assert!(!lock_exists(), "the lock outlived its holder");
    assert!(plan_is_empty(&moto, dir.path()));

    // --wait waits for the holder instead of refusing.
    let mut slow = moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !lock_exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run(moto
        .beanpole(dir.path())
        .args(["apply", "--auto-approve", "--wait"]));
    assert!(slow.wait().unwrap().success());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Waiting for the lock of pets-app: held by `destroy`"),
        "{}",
        text(&out)
    );
    assert!(plan_is_empty(&moto, dir.path()));

    // unlock --force removes a lock at once (here a dead holder's with a long lease).
    let mut holder = moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !lock_exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = run(moto.beanpole(dir.path()).args(["unlock", "pets-app"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    let out = run(moto
        .beanpole(dir.path())
        .args(["unlock", "pets-app", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Removed the lock of pets-app: it was held by `destroy`"),
        "{}",
        text(&out)
    );
    assert!(!lock_exists());
    // The killed destroy is finished by the next one.
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
