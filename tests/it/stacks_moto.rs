//! Extra resources (`resource` blocks) as CloudFormation stacks, against moto with the local
//! fleet, on `examples/orders-app`: the plan shows each level's stack as a change set; apply
//! creates them; the application reads the table's name and the queue's URL from its
//! properties and uses them (an order written and read back, a job queued); the instance role
//! grants exactly those resources; a swap leaves the table shared; destroying an environment
//! keeps the table, destroying the application keeps it too, and `--delete-data` deletes it. A
//! change of the table's key is flagged as a replacement losing data and refused without
//! `--delete-data`.

use crate::common;
use crate::platform::{copy_tree, pip_env, request};

use common::fleet::Fleet;
use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use std::time::Duration;

/// A spec whose applications reach moto from the local fleet's instances: the fleet has no
/// instance metadata, so the endpoint and credentials are properties.
fn reaching_moto(hcl: &str, moto: &Moto) -> String {
    hcl.replace(
        "    AWS_DEFAULT_REGION = \"us-east-2\"\n",
        &format!(
            "    AWS_DEFAULT_REGION = \"us-east-2\"\n    AWS_ENDPOINT_URL = \"{}\"\n    AWS_EC2_METADATA_DISABLED = \"true\"\n    AWS_ACCESS_KEY_ID = \"testing\"\n    AWS_SECRET_ACCESS_KEY = \"testing\"\n",
            moto.direct_endpoint()
        ),
    )
}

/// The local fleet playing `orders-app`'s instances, `v1` deployed to orders-blue from its
/// source; the fleet and orders-blue's serving instances.
fn orders_blue_serving_v1(
    moto: &Moto,
    dir: &std::path::Path,
) -> (Fleet, Vec<common::fleet::Member>) {
    let fleet = Fleet::start(moto, dir, &pip_env());
    fleet.wait_serving("orders-blue", 1, Duration::from_secs(300));
    let out = run(moto
        .beanpole(dir)
        .args(["deploy", "orders-blue", "--label", "v1"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let serving = fleet.wait_serving("orders-blue", 1, Duration::from_secs(60));
    (fleet, serving)
}

/// The tables moto has.
fn tables(moto: &Moto) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_str(&moto.aws_cli(&["dynamodb", "list-tables"])).unwrap();
    json["TableNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// The `Resource` entries of the statements of an environment's instance role that name
/// `service`'s ARNs.
fn granted(moto: &Moto, environment: &str, service: &str) -> Vec<String> {
    let document: serde_json::Value =
        serde_json::from_str(&moto.inline_policy(environment)).unwrap();
    let mut found = Vec::new();
    for s in document["Statement"].as_array().unwrap() {
        let resources = match &s["Resource"] {
            serde_json::Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        for r in resources {
            let r = r.as_str().unwrap_or_default();
            if r.starts_with(&format!("arn:aws:{service}:")) {
                found.push(r.to_string());
            }
        }
    }
    found.sort();
    found
}

/// The stacks' outputs, by stack name.
fn stack_outputs(moto: &Moto) -> std::collections::BTreeMap<String, serde_json::Value> {
    let clients = moto.clients();
    runtime().block_on(async {
        let stacks = clients
            .cloudformation
            .describe_stacks()
            .send()
            .await
            .unwrap();
        stacks
            .stacks()
            .iter()
            .filter(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
            .map(|s| {
                let outputs: serde_json::Map<String, serde_json::Value> = s
                    .outputs()
                    .iter()
                    .map(|o| {
                        (
                            o.output_key().unwrap_or_default().to_string(),
                            serde_json::json!(o.output_value().unwrap_or_default()),
                        )
                    })
                    .collect();
                (
                    s.stack_name().unwrap_or_default().to_string(),
                    serde_json::Value::Object(outputs),
                )
            })
            .collect()
    })
}

#[test]
fn moto_extra_resources_are_stacks_the_app_uses_and_data_is_kept() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("stacks");
    copy_tree(
        &common::manifest_dir().join("examples/orders-app"),
        dir.path(),
    );
    let hcl = reaching_moto(
        &std::fs::read_to_string(dir.path().join("main.hcl")).unwrap(),
        &moto,
    );
    std::fs::write(dir.path().join("main.hcl"), hcl).unwrap();
    let beanpole = |args: &[&str]| run(moto.beanpole(dir.path()).args(args));

    // The plan: each level's stack with its change set.
    let out = beanpole(&["plan", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stacks: Vec<&serde_json::Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "stack")
        .collect();
    let shown: Vec<(String, String)> = stacks
        .iter()
        .flat_map(|c| {
            c["change_set"]["changes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    (
                        c["address"].as_str().unwrap().to_string(),
                        format!("{} {}", r["action"].as_str().unwrap(), r["resource"]),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            (
                "application.orders-app.resources".to_string(),
                "Add \"orders\"".to_string()
            ),
            (
                "environment.orders-blue.resources".to_string(),
                "Add \"jobs\"".to_string()
            ),
            (
                "environment.orders-green.resources".to_string(),
                "Add \"jobs\"".to_string()
            ),
        ],
        "{plan:#}"
    );
    let out = beanpole(&["plan"]);
    assert!(
        text(&out).contains("+ orders (AWS::DynamoDB::Table)"),
        "{}",
        text(&out)
    );

    // A saved plan carries its change sets: one deleted since makes it stale.
    let saved = dir.path().join("saved.plan");
    let out = beanpole(&["plan", "--out", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (stack, set) = stacks
        .iter()
        .find(|c| c["address"] == "application.orders-app.resources")
        .map(|c| {
            (
                c["aws_name"].as_str().unwrap().to_string(),
                c["change_set"]["name"].as_str().unwrap().to_string(),
            )
        })
        .unwrap();
    let clients = moto.clients();
    runtime()
        .block_on(
            clients
                .cloudformation
                .delete_change_set()
                .stack_name(&stack)
                .change_set_name(&set)
                .send(),
        )
        .unwrap();
    let out = beanpole(&["apply", saved.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "application.orders-app.resources: its change set {set}"
        )) && text(&out).contains("is no longer there to execute"),
        "{}",
        text(&out)
    );

    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The stack's events are shown as CloudFormation records them, in order.
    let shown = text(&out);
    let at = |line: &str| {
        shown
            .find(line)
            .unwrap_or_else(|| panic!("no `{line}` in:\n{shown}"))
    };
    assert!(
        at("application.orders-app.resources: orders (AWS::DynamoDB::Table) CREATE_IN_PROGRESS")
            < at("application.orders-app.resources: orders (AWS::DynamoDB::Table) CREATE_COMPLETE")
    );
    at("(AWS::CloudFormation::Stack) CREATE_COMPLETE");
    let outputs = stack_outputs(&moto);
    let table = outputs
        .iter()
        .find(|(name, _)| name.starts_with("orders-app-resources-"))
        .and_then(|(_, o)| o["ordersRef"].as_str())
        .expect("the table's name as an output")
        .to_string();
    let table_arn = outputs
        .values()
        .find_map(|o| o["ordersArn"].as_str())
        .unwrap()
        .to_string();
    assert_eq!(tables(&moto), vec![table.clone()]);

    // The role of each environment grants the table and its own queue, nothing else.
    for env in ["orders-blue", "orders-green"] {
        assert_eq!(granted(&moto, env, "dynamodb"), vec![table_arn.clone()]);
        let queue_arn = outputs
            .iter()
            .find(|(name, _)| name.contains(&format!("{env}-resources")))
            .and_then(|(_, o)| o["jobsArn"].as_str())
            .unwrap()
            .to_string();
        assert_eq!(granted(&moto, env, "sqs"), vec![queue_arn]);
    }

    // The application uses both: an order written and read back, a job queued.
    let (fleet, serving) = orders_blue_serving_v1(&moto, dir.path());
    let (status, body) = request(serving[0].port, "PUT", "/orders/o-1", "two pears");
    assert_eq!(status, 200, "{body}\n{}", fleet.output());
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["table"], serde_json::json!(table));
    assert_eq!(answer["order"]["what"], serde_json::json!("two pears"));
    let (status, body) = request(serving[0].port, "GET", "/orders/o-1", "");
    assert_eq!((status, body.contains("two pears")), (200, true), "{body}");

    // A swap leaves the table shared: still there, still both roles'.
    let out = beanpole(&["swap", "orders-blue", "orders-green", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(tables(&moto), vec![table.clone()]);
    for env in ["orders-blue", "orders-green"] {
        assert_eq!(granted(&moto, env, "dynamodb"), vec![table_arn.clone()]);
    }
    let out = beanpole(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A new key replaces the table: flagged, and refused without --delete-data.
    let hcl = std::fs::read_to_string(dir.path().join("main.hcl")).unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        hcl.replace("AttributeName = \"id\"", "AttributeName = \"order_id\""),
    )
    .unwrap();
    let out = beanpole(&["plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the change set would lose data: orders (AWS::DynamoDB::Table)")
            && text(&out).contains("--delete-data"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["plan", "--delete-data"]);
    assert!(
        text(&out).contains("orders (AWS::DynamoDB::Table) will be REPLACED (data loss)"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(tables(&moto), vec![table.clone()], "nothing was replaced");
    std::fs::write(dir.path().join("main.hcl"), &hcl).unwrap();

    // Destroying an environment keeps the application's table and deletes its own queue.
    let out = beanpole(&[
        "destroy",
        "--env",
        "orders-green",
        "--auto-approve",
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !text(&out).contains("application.orders-app.resources"),
        "{}",
        text(&out)
    );
    let left = stack_outputs(&moto);
    assert!(left.keys().any(|n| n.starts_with("orders-app-resources-")));
    assert!(!left.keys().any(|n| n.contains("orders-green-resources")));
    assert_eq!(tables(&moto), vec![table.clone()]);

    // Destroying the application keeps the table and says so; with --delete-data it goes.
    drop(fleet);
    let out = beanpole(&["destroy", "--auto-approve", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("keeps orders (AWS::DynamoDB::Table)")
            && text(&out).contains("orders (AWS::DynamoDB::Table) DELETE_SKIPPED"),
        "{}",
        text(&out)
    );
    assert_eq!(tables(&moto), vec![table.clone()]);
    assert!(stack_outputs(&moto).is_empty());
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(tables(&moto).len(), 2, "a new table beside the kept one");
    let out = beanpole(&["destroy", "--auto-approve", "--force", "--delete-data"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("orders (AWS::DynamoDB::Table) DELETE_COMPLETE"),
        "{}",
        text(&out)
    );
    assert_eq!(
        tables(&moto),
        vec![table],
        "the new table deleted, the one kept before left alone"
    );
}

#[test]
fn moto_a_failing_stack_is_reported_with_its_resource_and_the_next_apply_converges() {
    let moto = Moto::start();
    let dir = TempDir::new("stack-failure");
    let spec = |size: u32| {
        format!(
            "application \"shop\" {{\n  region = \"us-east-2\"\n}}\n\nenvironment \"shop-blue\" {{\n  application = application.shop\n  platform    = \"python-3.12\"\n  resource \"AWS::SQS::Queue\" \"jobs\" {{\n    properties = {{ MaximumMessageSize = {size} }}\n  }}\n  properties = {{ JOBS_QUEUE = resource.jobs.ref }}\n}}\n"
        )
    };
    let beanpole = |args: &[&str]| run(moto.beanpole(dir.path()).args(args));

    // A creation that fails: the resource and CloudFormation's reason, and the rollback.
    std::fs::write(dir.path().join("main.hcl"), spec(1)).unwrap();
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out)
            .contains("jobs (AWS::SQS::Queue): Invalid value for the parameter MaximumMessageSize")
            && text(&out).contains("ROLLBACK_COMPLETE"),
        "{}",
        text(&out)
    );
    // Fixed, the next apply deletes the rolled-back stack and creates it.
    std::fs::write(dir.path().join("main.hcl"), spec(2048)).unwrap();
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = beanpole(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = beanpole(&["destroy", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn moto_cloudformation_creates_an_exported_environment() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let example = common::manifest_dir().join("examples/orders-app");
    let dir = TempDir::new("export-create");
    let template = dir.path().join("orders-blue.json");
    let out = run(common::beanpole(&example)
        .args(["export", "cloudformation", "orders-blue", "--out"])
        .arg(&template));
    assert!(out.status.success(), "{}", text(&out));
    let body = std::fs::read_to_string(&template).unwrap();
    let clients = moto.clients();
    let status = runtime().block_on(async {
        use aws_sdk_cloudformation::types::{Capability, Parameter};
        let vpc = clients
            .ec2
            .describe_vpcs()
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .find(|v| v.is_default() == Some(true))
            .and_then(|v| v.vpc_id())
            .unwrap()
            .to_string();
        let subnets: Vec<String> = clients
            .ec2
            .describe_subnets()
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .filter(|s| s.vpc_id() == Some(vpc.as_str()))
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect();
        clients
            .cloudformation
            .create_stack()
            .stack_name("orders-blue-exported")
            .template_body(body)
            .capabilities(Capability::CapabilityNamedIam)
            .parameters(
                Parameter::builder()
                    .parameter_key("VpcId")
                    .parameter_value(vpc)
                    .build(),
            )
            .parameters(
                Parameter::builder()
                    .parameter_key("Subnets")
                    .parameter_value(subnets.join(","))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let stack = clients
            .cloudformation
            .describe_stacks()
            .stack_name("orders-blue-exported")
            .send()
            .await
            .unwrap();
        let resources = clients
            .cloudformation
            .describe_stack_resources()
            .stack_name("orders-blue-exported")
            .send()
            .await
            .unwrap();
        let groups = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        (
            stack.stacks()[0]
                .stack_status()
                .unwrap()
                .as_str()
                .to_string(),
            resources.stack_resources().len(),
            groups
                .auto_scaling_groups()
                .iter()
                .map(|g| g.instances().len())
                .sum::<usize>(),
        )
    });
    assert_eq!(status, ("CREATE_COMPLETE".to_string(), 13, 1));
}

/// The stacks moto has and their statuses.
fn stack_statuses(moto: &Moto) -> std::collections::BTreeMap<String, String> {
    let clients = moto.clients();
    runtime().block_on(async {
        let stacks = clients
            .cloudformation
            .describe_stacks()
            .send()
            .await
            .unwrap();
        stacks
            .stacks()
            .iter()
            .map(|s| {
                (
                    s.stack_name().unwrap_or_default().to_string(),
                    s.stack_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    })
}

#[test]
fn moto_the_cloudformation_engine_plans_applies_deploys_swaps_and_destroys() {
    // Every call through a proxy that delays it: an apply killed while it follows its stack.
    let moto = Moto::start().with_delay(100);
    moto.create_zone("example.com");
    let dir = TempDir::new("engine");
    copy_tree(
        &common::manifest_dir().join("examples/orders-app"),
        dir.path(),
    );
    let direct = reaching_moto(
        &std::fs::read_to_string(dir.path().join("main.hcl")).unwrap(),
        &moto,
    );
    let engine = direct.replacen(
        "  region = \"us-east-2\"\n",
        "  region = \"us-east-2\"\n  engine = \"cloudformation\"\n",
        1,
    );
    std::fs::write(dir.path().join("main.hcl"), &engine).unwrap();
    let beanpole = |args: &[&str]| run(moto.beanpole(dir.path()).args(args));

    // The plan: one stack per environment, the records and the application's nodes apart.
    let out = beanpole(&["plan", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut planned: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    planned.sort();
    assert_eq!(
        planned,
        [
            ("application.orders-app.resources", "stack"),
            ("application.orders-app.versions_bucket", "versions_bucket"),
            ("environment.orders-blue.cname_record", "cname_record"),
            (
                "environment.orders-blue.ownership_record",
                "ownership_record"
            ),
            ("environment.orders-blue.stack", "stack"),
            ("environment.orders-green.cname_record", "cname_record"),
            (
                "environment.orders-green.ownership_record",
                "ownership_record"
            ),
            ("environment.orders-green.stack", "stack"),
        ]
        .iter()
        .map(|(a, k)| (a.to_string(), k.to_string()))
        .collect::<Vec<_>>()
    );
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("(AWS::AutoScaling::AutoScalingGroup) CREATE_COMPLETE"),
        "the environment stack's events as progress: {}",
        text(&out)
    );
    let statuses = stack_statuses(&moto);
    assert_eq!(
        statuses
            .values()
            .filter(|s| *s == "CREATE_COMPLETE")
            .count(),
        3,
        "{statuses:?}"
    );
    let out = beanpole(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Drift: a group's MaxSize changed outside CloudFormation is found by the plan's drift
    // detection and said (apply does not undo it), in text and JSON; set back, it is gone.
    let green_stack = statuses
        .keys()
        .find(|n| n.contains("orders-green"))
        .expect("the green environment's stack")
        .clone();
    let clients = moto.clients();
    let set_max = |delta: i32| {
        runtime().block_on(async {
            let resources = clients
                .cloudformation
                .describe_stack_resources()
                .stack_name(&green_stack)
                .send()
                .await
                .unwrap();
            let group = resources
                .stack_resources()
                .iter()
                .find(|r| r.logical_resource_id() == Some("AWSEBAutoScalingGroup"))
                .and_then(|r| r.physical_resource_id())
                .expect("the stack's group")
                .to_string();
            let now = clients
                .autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(&group)
                .send()
                .await
                .unwrap()
                .auto_scaling_groups()[0]
                .max_size()
                .unwrap();
            clients
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&group)
                .max_size(now + delta)
                .send()
                .await
                .unwrap();
            (now, now + delta)
        })
    };
    let (template_max, changed_max) = set_max(3);
    let out = beanpole(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "drift is shown, not planned: {}",
        text(&out)
    );
    assert!(
        text(&out).contains(&format!(
            "1 resource of environment.orders-green.stack (stack {green_stack}) changed outside CloudFormation:\n  AWSEBAutoScalingGroup (AWS::AutoScaling::AutoScalingGroup) MODIFIED: MaxSize is {changed_max} in the account, {template_max} in the template"
        )) && text(&out).contains("the drift above stays until it is put back"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        plan["stack_drift"].as_array().map(Vec::len),
        Some(1),
        "{plan}"
    );
    assert_eq!(
        plan["stack_drift"][0]["resources"][0]["differences"][0],
        serde_json::json!({
            "property": "/MaxSize",
            "expected": template_max.to_string(),
            "actual": changed_max.to_string(),
        })
    );
    set_max(-3);
    let out = beanpole(&["plan"]);
    assert!(
        text(&out).contains("No changes. The account matches the spec.")
            && !text(&out).contains("Drift"),
        "{}",
        text(&out)
    );

    // Deploys, status and swaps work on the stacks' resources as on any environment's.
    let (fleet, serving) = orders_blue_serving_v1(&moto, dir.path());
    let (status, body) = request(serving[0].port, "PUT", "/orders/o-7", "a kettle");
    assert_eq!(status, 200, "{body}\n{}", fleet.output());
    let out = beanpole(&["status", "orders-blue"]);
    assert!(text(&out).contains("Green"), "{}", text(&out));
    let out = beanpole(&["swap", "orders-blue", "orders-green", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = beanpole(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    drop(fleet);

    // An apply killed once CloudFormation has its change: the stack ends on its own, and the
    // next plan has nothing to do.
    std::fs::write(
        dir.path().join("main.hcl"),
        engine.replacen("VisibilityTimeout = 60", "VisibilityTimeout = 90", 1),
    )
    .unwrap();
    let before = stack_outputs(&moto);
    let mut child = moto
        .beanpole(dir.path())
        .args(["apply", "--auto-approve", "--env", "orders-blue"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let blue_stack = before
        .keys()
        .find(|n| n.starts_with("orders-app-orders-blue-stack-"))
        .unwrap()
        .clone();
    loop {
        let statuses = stack_statuses(&moto);
        if statuses.get(&blue_stack).map(String::as_str) == Some("UPDATE_COMPLETE") {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply ended before its stack changed"
        );
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: killing the child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    let out = beanpole(&["unlock", "orders-app", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = beanpole(&["plan", "--detailed-exitcode", "--env", "orders-blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Back to the direct engine: refused, saying why.
    std::fs::write(dir.path().join("main.hcl"), &direct).unwrap();
    let out = beanpole(&["plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("environment orders-blue runs on the cloudformation engine; switching it to `engine = \"direct\"` is refused"),
        "{}",
        text(&out)
    );
    std::fs::write(dir.path().join("main.hcl"), &engine).unwrap();

    // Destroy deletes the stacks (the table kept, as it holds data).
    let out = beanpole(&["destroy", "--auto-approve", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stack_statuses(&moto)
            .values()
            .all(|s| s == "DELETE_COMPLETE"),
        "{:?}",
        stack_statuses(&moto)
    );
    assert_eq!(tables(&moto).len(), 1);
}

#[test]
fn moto_a_version_s_resources_are_made_by_its_deploy_and_its_properties_read_them() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("bundle-resources");
    std::fs::write(
        dir.path().join("main.hcl"),
        include_str!("../../examples/pets-app/main.hcl"),
    )
    .unwrap();
    let beanpole = |args: &[&str]| run(moto.beanpole(dir.path()).args(args));
    let out = beanpole(&["apply", "--auto-approve", "--env", "pets-env-blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(300));

    // The application, unchanged but for a route that shows two properties, and a
    // configuration file that declares a queue and a topic and reads them into properties.
    let source = dir.path().join("app");
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &source,
    );
    let app = std::fs::read_to_string(source.join("application.py"))
        .unwrap()
        .replace(
            "if __name__ == \"__main__\":",
            "@application.route(\"/resources\")\ndef resources():\n    import os\n    return jsonify({k: os.environ.get(k) for k in [\"JOBS_ARN\", \"ALERTS_TOPIC\"]})\n\n\nif __name__ == \"__main__\":",
        );
    std::fs::write(source.join("application.py"), app).unwrap();
    std::fs::create_dir_all(source.join(".ebextensions")).unwrap();
    std::fs::write(
        source.join(".ebextensions/resources.config"),
        "Resources:\n  jobs:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName:\n        Fn::Sub: \"${AWSEBEnvironmentName}-jobs\"\n  alerts:\n    Type: AWS::SNS::Topic\n    Properties:\n      DisplayName: { \"Ref\": \"AWSEBAutoScalingGroup\" }\noption_settings:\n  aws:elasticbeanstalk:application:environment:\n    JOBS_ARN: '`{\"Fn::GetAtt\": [\"jobs\", \"Arn\"]}`'\n    ALERTS_TOPIC: '`{\"Ref\": \"alerts\"}`'\n",
    )
    .unwrap();
    let deploy = |label: &str| {
        run(moto
            .beanpole(dir.path())
            .args(["deploy", "pets-env-blue", "--label", label, "--source"])
            .arg(&source))
    };
    let out = deploy("v1");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let shown = text(&out);
    assert!(
        shown.contains("the version's Resources: stack")
            && shown.contains("+ jobs (AWS::SQS::Queue)")
            && shown.contains("+ alerts (AWS::SNS::Topic)"),
        "{shown}"
    );
    let serving = fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(60));
    let (status, body) = request(serving[0].port, "GET", "/resources", "");
    assert_eq!(status, 200, "{body}");
    let values: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        values["JOBS_ARN"],
        serde_json::json!("arn:aws:sqs:us-east-2:123456789012:pets-env-blue-jobs")
    );
    assert!(
        values["ALERTS_TOPIC"]
            .as_str()
            .is_some_and(|t| t.starts_with("arn:aws:sns:us-east-2:123456789012:")),
        "{body}"
    );
    // The spec's plan leaves the version's stack to the deploys.
    let out = beanpole(&["plan", "--detailed-exitcode", "--env", "pets-env-blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // An override of EB's HTTP listener that redirects is the spec's `https`: without it in the
    // spec, refused, saying what to write; an override Beanpole has no equivalent of, refused.
    for (file, content, expected) in [
        (
            "redirect.config",
            "Resources:\n  AWSEBV2LoadBalancerListener:\n    Type: AWS::ElasticLoadBalancingV2::Listener\n    Properties:\n      DefaultActions:\n        - Type: redirect\n          RedirectConfig:\n            Protocol: HTTPS\n            Port: '443'\n            StatusCode: HTTP_301\n",
            ".ebextensions/redirect.config: Resources.AWSEBV2LoadBalancerListener redirects HTTP to HTTPS: that is the spec's `load_balancer { https { certificate_arn",
        ),
        (
            "ports.config",
            "Resources:\n  AWSEBSecurityGroup:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: open\n",
            ".ebextensions/ports.config: Resources.AWSEBSecurityGroup overrides Elastic Beanstalk's own AWSEBSecurityGroup",
        ),
    ] {
        let path = source.join(".ebextensions").join(file);
        std::fs::write(&path, content).unwrap();
        let out = deploy("v2");
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(expected), "{}", text(&out));
        std::fs::remove_file(&path).unwrap();
    }

    // Destroying the environment deletes the version's stack too.
    drop(fleet);
    let out = beanpole(&["destroy", "--auto-approve", "--env", "pets-env-blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stack_statuses(&moto)
            .values()
            .all(|s| s == "DELETE_COMPLETE"),
        "{:?}",
        stack_statuses(&moto)
    );
}
