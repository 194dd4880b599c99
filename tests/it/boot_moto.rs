//! An instance's first boot, for real: after `apply` against moto, each instance moto reports
//! in the environment's group runs its launch template's user data on this machine (rooted
//! in a folder of its own, with its own ports, the AWS CLI pointed at moto), as Beanpole's
//! local fleet plays instances: the engine comes from the versions bucket and the sample
//! application answers through real nginx → gunicorn.

use crate::common;
use crate::platform::{get, pip_env};

use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use std::net::TcpListener;
use std::process::Command;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// The environment's instances and the user data they boot with, as moto reports them.
fn instances_and_user_data(moto: &Moto, group_prefix: &str) -> (Vec<String>, String) {
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
                    .is_some_and(|n| n.starts_with(group_prefix))
            })
            .expect("the environment's group");
        let instances = group
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        let template = group
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .expect("a launch template")
            .to_string();
        let versions = aws
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(template)
            .versions("$Latest")
            .send()
            .await
            .unwrap();
        let encoded = versions.launch_template_versions()[0]
            .launch_template_data()
            .and_then(|d| d.user_data())
            .expect("user data")
            .to_string();
        let decoded = Command::new("base64")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(encoded.as_bytes())?;
                child.wait_with_output()
            })
            .expect("base64 -d");
        (instances, String::from_utf8(decoded.stdout).unwrap())
    })
}

#[test]
fn moto_every_instance_boots_into_the_sample_application_from_the_versions_bucket() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("boot");
    std::fs::write(
        dir.path().join("main.hcl"),
        include_str!("../../examples/pets-app/main.hcl"),
    )
    .unwrap();
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (instances, user_data) = instances_and_user_data(&moto, "pets-app-pets-env-blue");
    assert!(!instances.is_empty());
    assert!(
        user_data.len() < 16 * 1024,
        "{} bytes of user data",
        user_data.len()
    );
    assert!(
        user_data.contains("s3://beanpole-versions-123456789012-us-east-2/_beanpole/engine/"),
        "{user_data}"
    );
    let venv_bin = common::manifest_dir().join(".venv/bin");
    assert!(
        venv_bin.join("aws").exists(),
        "the AWS CLI is not in .venv: scripts/test installs it (the instances' `aws`)"
    );
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut served = Vec::new();
    for instance in &instances {
        let root = dir.path().join(instance);
        std::fs::create_dir_all(root.join("opt/beanpole")).unwrap();
        std::fs::write(root.join("opt/beanpole/instance-id"), instance).unwrap();
        let (port, app_port) = (free_port(), free_port());
        let boot = Command::new("bash")
            .arg("-c")
            .arg(&user_data)
            .env("BEANPOLE_ROOT", &root)
            .env("BEANPOLE_PORT", port.to_string())
            .env("BEANPOLE_APP_PORT", app_port.to_string())
            .env("AWS_ENDPOINT_URL", moto.direct_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-2")
            .env("PATH", &path)
            .envs(pip_env())
            .output()
            .expect("bash runs the user data");
        let log =
            std::fs::read_to_string(root.join("var/log/beanpole-boot.log")).unwrap_or_default();
        served.push((root.clone(), port));
        assert!(
            boot.status.success(),
            "{instance}: the boot failed:\n{log}\n{}",
            text(&boot)
        );
        let (status, body) = get(port, "/");
        assert_eq!(status, 200, "{instance}: {body}\n{log}");
        assert!(
            body.contains("Your Beanpole environment is ready"),
            "{body}"
        );
        // Its report is in the bucket, where deploys and `logs` will look.
        let aws = moto.clients();
        let report = runtime().block_on(async {
            aws.s3
                .get_object()
                .bucket("beanpole-versions-123456789012-us-east-2")
                .key(format!(
                    "pets-app/environments/pets-env-blue/boot/{instance}.json"
                ))
                .send()
                .await
                .expect("the boot report")
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes()
        });
        let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
        assert_eq!(report["status"], "SUCCESS", "{report:#}");
        assert_eq!(report["version"], "sample-application");
    }
    for (root, _) in &served {
        let engine = root.join("opt/beanpole/engine.py");
        let _ = Command::new("python3")
            .arg(&engine)
            .args(["stop", "--init", "engine", "--root"])
            .arg(root)
            .status();
    }
    for (_, port) in &served {
        assert_eq!(get(*port, "/").0, 0, "an instance still serves after stop");
    }
}
