//! Changes that reach running instances, against moto with the local fleet: a new instance
//! type is rolled out by `apply` through the environment's policy (`rolling`, batch 1: every
//! instance replaced by one launched from the new launch template version, a prober counting
//! 0 failed requests); a new property is a configuration deployment in place (the same
//! instances, the application sees the value, `.platform/confighooks` ran).

use crate::common;
use crate::platform::{copy_tree, get, pip_env};

use common::fleet::Fleet;
use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn spec(dir: &std::path::Path, instance_type: &str, greeting: &str) {
    let hcl = include_str!("../../examples/pets-app/main.hcl")
        .replacen("default     = \"t3.small\"", &format!("default     = \"{instance_type}\""), 1)
        .replacen(
            "    PETS_TABLE = \"Pets\"\n",
            &format!("    PETS_TABLE = \"Pets\"\n    GREETING   = \"{greeting}\"\n"),
            1,
        )
        .replacen(
            "  capacity {\n    min = 1\n    max = 4\n  }",
            "  capacity {\n    min = 3\n    max = 3\n  }\n\n  deployment {\n    policy     = \"rolling\"\n    batch_size = 1\n    timeout    = \"60s\"\n  }",
            1,
        );
    assert!(hcl.contains("GREETING") && hcl.contains("min = 3"));
    std::fs::write(dir.join("main.hcl"), hcl).unwrap();
}

/// blue's group: its instances and, for each, the launch template version it was launched
/// from (EC2's tag on it); and the template's latest version.
fn blue_instances(moto: &Moto) -> (Vec<(String, String)>, String) {
    let aws = moto.clients();
    runtime().block_on(async {
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
        let template = group
            .launch_template()
            .unwrap()
            .launch_template_id()
            .unwrap()
            .to_string();
        let ids: Vec<String> = group
            .instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect();
        // What EC2 says each was launched from (its aws:ec2launchtemplate:version tag).
        let mut instances: Vec<(String, String)> = Vec::new();
        let described = aws
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .unwrap();
        for reservation in described.reservations() {
            for i in reservation.instances() {
                let version = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("aws:ec2launchtemplate:version"))
                    .and_then(|t| t.value())
                    .unwrap_or_default()
                    .to_string();
                instances.push((i.instance_id().unwrap().to_string(), version));
            }
        }
        assert_eq!(instances.len(), ids.len());
        instances.sort();
        let latest = aws
            .ec2
            .describe_launch_templates()
            .launch_template_ids(template)
            .send()
            .await
            .unwrap()
            .launch_templates()[0]
            .latest_version_number()
            .unwrap()
            .to_string();
        (instances, latest)
    })
}

#[test]
fn moto_apply_rolls_a_new_instance_type_and_deploys_a_new_property_in_place() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("rollout");
    spec(dir.path(), "t3.small", "hello");
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["apply", "--auto-approve", "--env", "pets-env-blue"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("pets-env-blue", 3, Duration::from_secs(300));
    // v1: answers its GREETING at /greeting, and notes each configuration hook it runs.
    let source = dir.path().join("app");
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &source,
    );
    let app = std::fs::read_to_string(source.join("application.py")).unwrap().replace(
        "if __name__ == \"__main__\":",
        "@application.route(\"/greeting\")\ndef greeting():\n    import os\n    return os.environ.get(\"GREETING\", \"\"), 200\n\n\nif __name__ == \"__main__\":",
    );
    std::fs::write(source.join("application.py"), app).unwrap();
    crate::platform::put(
        &source,
        ".platform/confighooks/postdeploy/01_note.sh",
        "#!/bin/bash\necho \"confighook ran with GREETING=$GREETING\"\n",
        true,
    );
    let out = run(moto
        .beanpole(dir.path())
        .args([
            "deploy",
            "pets-env-blue",
            "--label",
            "v1",
            "--policy",
            "all-at-once",
            "--source",
        ])
        .arg(&source));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (before, first_version) = blue_instances(&moto);
    assert_eq!(before.len(), 3);

    // A new instance type: the plan says what apply will do to the instances.
    spec(dir.path(), "t3.medium", "hello");
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--env", "pets-env-blue"]));
    assert!(
        text(&out).contains("environment pets-env-blue: rolls 3 instances, rolling, batch 1"),
        "{}",
        text(&out)
    );
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--env", "pets-env-blue", "--json"]));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["rollouts"][0]["change"], "new-instances", "{plan:#}");

    // apply rolls them, one at a time, while a prober sends a request every 50 ms to every
    // instance the target group has healthy and the fleet has booted.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let prober = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let aws = moto.clients();
        let fleet_json = fleet.dir.join("fleet.json");
        let target_group = crate::policies_moto::blue_target_group(&moto);
        std::thread::spawn(move || {
            let rt = runtime();
            while !stop.load(Ordering::SeqCst) {
                let ports = crate::policies_moto::serving_ports(&fleet_json);
                let healthy = crate::policies_moto::healthy_targets(&aws, &rt, &target_group);
                for instance in healthy {
                    if let Some(port) = ports.get(&instance) {
                        if get(*port, "/").0 == 200 {
                            ok.fetch_add(1, Ordering::SeqCst);
                        } else {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["apply", "--auto-approve", "--env", "pets-env-blue"]));
    stop.store(true, Ordering::SeqCst);
    prober.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let (ok, failed) = (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert!(ok > 50, "the prober sent too few requests: {ok}");
    assert_eq!(
        failed,
        0,
        "rolling a new instance type: {failed} of {} failed",
        ok + failed
    );
    eprintln!("rolling a new instance type on 3 instances: {ok} requests, {failed} failed");
    let (after, latest) = blue_instances(&moto);
    assert_eq!(after.len(), 3, "{after:?}");
    assert_ne!(latest, first_version);
    for (instance, version) in &after {
        assert!(
            !before.iter().any(|(b, _)| b == instance),
            "{instance} was not replaced: {after:?} (before {before:?})"
        );
        assert_eq!(
            version, &latest,
            "{instance} runs template version {version}, not {latest}"
        );
    }
    let serving = fleet.wait_serving("pets-env-blue", 3, Duration::from_secs(60));
    for (instance, _) in &after {
        let m = serving.iter().find(|m| &m.instance == instance).unwrap();
        assert_eq!(
            get(m.port, "/greeting"),
            (200, "hello".to_string()),
            "{instance}"
        );
    }
    let out = run(moto.beanpole(dir.path()).args([
        "plan",
        "--detailed-exitcode",
        "--env",
        "pets-env-blue",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A new property: a configuration deployment in place, on the same instances.
    spec(dir.path(), "t3.medium", "bonjour");
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--env", "pets-env-blue"]));
    assert!(
        text(&out).contains(
            "environment pets-env-blue: configuration deployment in place on 3 instances"
        ),
        "{}",
        text(&out)
    );
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["apply", "--auto-approve", "--env", "pets-env-blue"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let (same, _) = blue_instances(&moto);
    assert_eq!(
        same.iter().map(|(i, _)| i).collect::<Vec<_>>(),
        after.iter().map(|(i, _)| i).collect::<Vec<_>>(),
        "a configuration deployment replaces no instance"
    );
    let serving = fleet.wait_serving("pets-env-blue", 3, Duration::from_secs(60));
    for (instance, _) in &same {
        let m = serving.iter().find(|m| &m.instance == instance).unwrap();
        assert_eq!(
            get(m.port, "/greeting"),
            (200, "bonjour".to_string()),
            "{instance}"
        );
    }
    let logs = run(moto
        .beanpole(dir.path())
        .args(["logs", "pets-env-blue", "--lines", "2000"]));
    let logs = text(&logs);
    for (instance, _) in &same {
        assert!(logs.contains(instance.as_str()), "{logs}");
    }
    assert_eq!(
        logs.matches("confighook ran with GREETING=bonjour").count(),
        3,
        "{logs}"
    );
    drop(fleet);
}
