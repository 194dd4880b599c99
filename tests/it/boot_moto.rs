//! An instance's first boot, for real: after `apply` against moto, each instance moto reports
//! in the environment's group runs its launch template's user data on this machine (rooted
//! in a folder of its own, with its own ports, the AWS CLI pointed at moto), as Beanpole's
//! local fleet plays instances: the engine comes from the versions bucket and the sample
//! application answers through real nginx → gunicorn.

use crate::common;
use crate::platform::{copy_tree, get, pip_env};

use common::moto::{runtime, Moto};
use common::{free_port, run, text, TempDir};
use std::process::Command;

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

/// Runs an instance's user data on this machine, rooted in `root`, with its own ports and the
/// AWS CLI pointed at moto; returns its proxy port, the process output and its boot log.
fn boot_instance(
    moto: &Moto,
    root: &std::path::Path,
    instance: &str,
    user_data: &str,
) -> (u16, std::process::Output, String) {
    let venv_bin = common::manifest_dir().join(".venv/bin");
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::fs::create_dir_all(root.join("opt/beanpole")).unwrap();
    std::fs::write(root.join("opt/beanpole/instance-id"), instance).unwrap();
    let (port, app_port) = (free_port(), free_port());
    let boot = Command::new("bash")
        .arg("-c")
        .arg(user_data)
        .env("BEANPOLE_ROOT", root)
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
    let log = std::fs::read_to_string(root.join("var/log/beanpole-boot.log")).unwrap_or_default();
    (port, boot, log)
}

fn stop_instance(root: &std::path::Path) {
    let _ = Command::new("python3")
        .arg(root.join("opt/beanpole/engine.pyz"))
        .args(["stop", "--init", "engine", "--root"])
        .arg(root)
        .status();
}

const BUCKET: &str = "beanpole-versions-123456789012-us-east-2";

#[test]
fn moto_every_instance_boots_into_the_sample_application_and_a_scale_out_into_the_current_version()
{
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
    let mut served = Vec::new();
    for instance in &instances {
        let root = dir.path().join(instance);
        let (port, boot, log) = boot_instance(&moto, &root, instance, &user_data);
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
    // A scale-out instance boots straight into the version the environment runs: store v1,
    // record its deployment document and the environment's pointer, as a deploy does.
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &dir.path().join("app"),
    );
    let out = run(moto
        .beanpole(dir.path())
        .args(["versions", "create", "--label", "v1"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (first_root, _) = &served[0];
    let mut document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(first_root.join("opt/beanpole/sample-document.json")).unwrap(),
    )
    .unwrap();
    let listed = run(moto.beanpole(dir.path()).args(["versions", "--json"]));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    document["deployment_id"] = 1.into();
    document["version"] = serde_json::json!({
        "label": "v1",
        "sha256": listed["versions"][0]["sha256"],
        "source": format!("s3://{BUCKET}/pets-app/versions/v1.zip"),
    });
    let document_key = "pets-app/environments/pets-env-blue/deployments/1.json";
    let aws = moto.clients();
    runtime().block_on(async {
        for (key, body) in [
            (document_key.to_string(), document.to_string()),
            (
                "pets-app/environments/pets-env-blue/current.json".to_string(),
                serde_json::json!({
                    "environment": "pets-env-blue",
                    "label": "v1",
                    "deployment_id": 1,
                    "document": document_key,
                })
                .to_string(),
            ),
        ] {
            aws.s3
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(body.into_bytes().into())
                .send()
                .await
                .unwrap();
        }
    });
    let root = dir.path().join("i-scaled-out");
    let (port, boot, log) = boot_instance(&moto, &root, "i-scaled-out", &user_data);
    served.push((root, port));
    assert!(boot.status.success(), "{log}\n{}", text(&boot));
    let (status, body) = get(port, "/");
    assert_eq!(status, 200, "{body}\n{log}");
    assert!(body.contains("\"name\":\"Rex\""), "{body}");
    assert!(log.is_empty() || !log.contains("Traceback"), "{log}");
    let versions = run(moto.beanpole(dir.path()).args(["versions", "--json"]));
    let versions: serde_json::Value = serde_json::from_slice(&versions.stdout).unwrap();
    assert_eq!(
        versions["versions"][0]["environments"],
        serde_json::json!(["pets-env-blue"])
    );
    for (root, _) in &served {
        stop_instance(root);
    }
    for (_, port) in &served {
        assert_eq!(get(*port, "/").0, 0, "an instance still serves after stop");
    }
}
