//! plan / apply / destroy of examples/pets-app against moto (each test its own moto server),
//! asserting on what the AWS APIs report afterwards.

use crate::common;

use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use serde_json::Value;
use std::process::Output;

const SPEC: &str = include_str!("../../examples/pets-app/main.hcl");

fn pets(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    dir.write("main.hcl", SPEC);
    dir
}

fn apply(moto: &Moto, dir: &TempDir) -> Output {
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "apply failed:\n{}", text(&out));
    out
}

fn plan_json(moto: &Moto, dir: &TempDir) -> Value {
    let out = run(moto.beanpole(dir.path()).args(["plan", "--json"]));
    assert_eq!(out.status.code(), Some(0), "plan failed:\n{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("plan --json is JSON")
}

fn assert_no_changes(moto: &Moto, dir: &TempDir) {
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected an empty plan:\n{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes."));
}

/// What one environment looks like in the account.
struct Wiring {
    lb_arn: String,
    lb_dns: String,
    lb_sgs: Vec<String>,
    tg_arn: String,
    asg_template: (String, String),
    asg_target_groups: Vec<String>,
    listener_target: Option<String>,
    instance_sg_ingress: Vec<(i32, Vec<String>, Vec<String>)>,
    in_service: usize,
    desired: i32,
    template_id: String,
    template_latest: i64,
    template_instance_type: String,
}

fn wiring(moto: &Moto, env: &str) -> Wiring {
    let aws = moto.clients();
    runtime().block_on(async {
        let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
        let lb = lbs
            .load_balancers()
            .iter()
            .find(|l| l.load_balancer_name().unwrap_or_default().contains(env))
            .unwrap_or_else(|| panic!("no load balancer for {env}"))
            .clone();
        let tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
        let short = &env[..env.len().min(12)];
        let tg = tgs
            .target_groups()
            .iter()
            .find(|t| t.target_group_name().unwrap_or_default().contains(short))
            .unwrap_or_else(|| panic!("no target group for {env}"))
            .clone();
        let listeners = aws
            .elbv2
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        let http = listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(80))
            .expect("an HTTP listener on 80");
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
                    .unwrap_or_default()
                    .contains(env)
            })
            .unwrap_or_else(|| panic!("no Auto Scaling group for {env}"))
            .clone();
        let sgs = aws.ec2.describe_security_groups().send().await.unwrap();
        let instance_sg = sgs
            .security_groups()
            .iter()
            .find(|g| {
                g.group_name().unwrap_or_default().contains(env)
                    && g.group_name().unwrap_or_default().contains("-instances-")
            })
            .expect("an instance security group");
        let templates = aws.ec2.describe_launch_templates().send().await.unwrap();
        let template = templates
            .launch_templates()
            .iter()
            .find(|t| t.launch_template_name().unwrap_or_default().contains(env))
            .expect("a launch template")
            .clone();
        let latest = aws
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(template.launch_template_id().unwrap())
            .versions("$Latest")
            .send()
            .await
            .unwrap();
        let data = latest.launch_template_versions()[0]
            .launch_template_data()
            .unwrap()
            .clone();
        Wiring {
            lb_arn: lb.load_balancer_arn().unwrap().to_string(),
            lb_dns: lb.dns_name().unwrap().to_string(),
            lb_sgs: lb.security_groups().to_vec(),
            tg_arn: tg.target_group_arn().unwrap().to_string(),
            asg_template: group
                .launch_template()
                .map(|t| {
                    (
                        t.launch_template_id().unwrap_or_default().to_string(),
                        t.version().unwrap_or_default().to_string(),
                    )
                })
                .unwrap_or_default(),
            asg_target_groups: group.target_group_arns().to_vec(),
            listener_target: http.default_actions()[0]
                .target_group_arn()
                .map(str::to_string),
            instance_sg_ingress: instance_sg
                .ip_permissions()
                .iter()
                .map(|p| {
                    (
                        p.from_port().unwrap_or_default(),
                        p.user_id_group_pairs()
                            .iter()
                            .filter_map(|g| g.group_id().map(str::to_string))
                            .collect(),
                        p.ip_ranges()
                            .iter()
                            .filter_map(|r| r.cidr_ip().map(str::to_string))
                            .collect(),
                    )
                })
                .collect(),
            in_service: group
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
                .count(),
            desired: group.desired_capacity().unwrap_or_default(),
            template_id: template.launch_template_id().unwrap().to_string(),
            template_latest: template.latest_version_number().unwrap_or_default(),
            template_instance_type: data
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        }
    })
}

fn record(moto: &Moto, zone: &str, name: &str, kind: &str) -> Option<String> {
    moto.records(zone)
        .into_iter()
        .find(|r| r.name == name && r.kind == kind)
        .map(|r| r.value)
}

#[test]
fn moto_apply_creates_the_wired_web_tier_and_a_second_plan_is_empty() {
    let moto = Moto::start();
    let zone = moto.create_zone("example.com");
    let dir = pets("apply");
    let out = apply(&moto, &dir);
    // The versions bucket is made first, to hold the application's lock; then the rest.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Created the versions bucket beanpole-versions-123456789012-us-east-2 (the application's lock and versions live there)."
        ),
        "{}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Resources: 22 added"),
        "{}",
        text(&out)
    );
    // The account's versions bucket: Beanpole's tags (given in the create call), public
    // access blocked, default encryption.
    let aws = moto.clients();
    runtime().block_on(async {
        let bucket = "beanpole-versions-123456789012-us-east-2";
        let tags = aws
            .s3
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let tags: Vec<(&str, &str)> = tags
            .tag_set()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
        assert!(
            tags.contains(&("beanpole:managed-by", "beanpole")),
            "{tags:?}"
        );
        assert!(tags.contains(&("beanpole:application", "*")), "{tags:?}");
        let block = aws
            .s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let block = block.public_access_block_configuration().unwrap();
        assert_eq!(block.block_public_acls(), Some(true));
        assert_eq!(block.restrict_public_buckets(), Some(true));
        let encryption = aws
            .s3
            .get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let rule = &encryption
            .server_side_encryption_configuration()
            .unwrap()
            .rules()[0];
        assert_eq!(
            rule.apply_server_side_encryption_by_default()
                .unwrap()
                .sse_algorithm()
                .as_str(),
            "AES256"
        );
    });

    for (env, cname) in [
        ("pets-env-blue", "pets"),
        ("pets-env-green", "pets-staging"),
    ] {
        let w = wiring(&moto, env);
        // The instances admit only the load balancer's group, on the proxy's port.
        assert_eq!(
            w.instance_sg_ingress.len(),
            1,
            "{:?}",
            w.instance_sg_ingress
        );
        let (port, groups, cidrs) = &w.instance_sg_ingress[0];
        assert_eq!(*port, 80);
        assert_eq!(groups, &w.lb_sgs);
        assert!(cidrs.is_empty());
        // The group launches from the template and registers in the target group.
        assert_eq!(w.asg_template.0, w.template_id);
        assert_eq!(w.asg_template.1, w.template_latest.to_string());
        assert_eq!(w.asg_target_groups, vec![w.tg_arn.clone()]);
        assert_eq!(w.listener_target.as_deref(), Some(w.tg_arn.as_str()));
        assert!(w.lb_arn.contains(":loadbalancer/app/"));
        assert!(w.in_service >= 1 && w.in_service as i32 >= w.desired);
        // The CNAME points at the load balancer; its TXT marker names the environment.
        let fqdn = format!("{cname}.example.com");
        assert_eq!(
            record(&moto, &zone, &fqdn, "CNAME").map(|v| v.trim_end_matches('.').to_string()),
            Some(w.lb_dns.clone())
        );
        let marker = record(&moto, &zone, &format!("_beanpole.{fqdn}"), "TXT").unwrap();
        assert!(marker.contains(&format!("environment={env}")), "{marker}");
        // The role carries the spec's permissions.
        let policy = moto.inline_policy(env);
        assert!(policy.contains("dynamodb:PutItem"), "{policy}");
    }
    assert_no_changes(&moto, &dir);
    check_live_recording(&moto, &dir);
}

/// The unit tests of the diff (src/reconcile/tests.rs) start from this account as the AWS shell
/// reads it after an apply of pets-app, recorded in tests/snapshots/live/pets-app.json. The
/// recording must read back exactly as the shell reads the account now (ids aside, which moto
/// makes anew): `BEANPOLE_BLESS=1` rewrites it.
fn check_live_recording(moto: &Moto, dir: &TempDir) {
    let compilation = beanpole::spec::compile_dir(
        &beanpole::spec::DiskFs,
        dir.path(),
        &beanpole::spec::VariableInputs::default(),
    );
    assert!(compilation.is_valid());
    let mut graph = beanpole::graph::compile_graph(&compilation.spec);
    graph.bind_account(|_| Some(("123456789012".into(), "us-east-2".into())));
    let aws = moto.clients();
    let live = runtime()
        .block_on(beanpole::aws::live::read_live_state(
            &aws,
            &graph,
            &["pets-app".to_string()],
        ))
        .expect("read the live state");
    let path = common::manifest_dir().join("tests/snapshots/live/pets-app.json");
    let shape = |state: &beanpole::reconcile::LiveState| {
        let mut kinds: Vec<(String, Vec<String>, Vec<String>)> = state
            .resources
            .iter()
            .map(|r| {
                (
                    r.display_address().to_string(),
                    r.attributes.keys().cloned().collect(),
                    r.outputs.keys().cloned().collect(),
                )
            })
            .collect();
        kinds.sort();
        kinds
    };
    if common::blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&live).unwrap() + "\n").unwrap();
        return;
    }
    let recorded: beanpole::reconcile::LiveState = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
    )
    .expect("the recording is a live state");
    assert_eq!(
        shape(&recorded),
        shape(&live),
        "{} no longer matches what the AWS shell reads: rerun this test with BEANPOLE_BLESS=1 and review the diff",
        path.display()
    );
}

#[test]
fn moto_spec_edits_are_updates_in_place_and_converge() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = pets("edit");
    apply(&moto, &dir);
    let before = wiring(&moto, "pets-env-blue");

    let edited = SPEC
        .replacen(
            "default     = \"t3.small\"",
            "default     = \"t3.large\"",
            1,
        )
        .replacen("max = 4", "max = 6", 1)
        .replacen(
            "\"dynamodb:PutItem\"]",
            "\"dynamodb:PutItem\", \"dynamodb:Query\"]",
            1,
        )
        .replacen("path = \"/health\"", "path = \"/healthz\"", 1);
    assert_ne!(edited, SPEC);
    dir.write("main.hcl", &edited);
    // A new instance type reaches the running instances: apply rolls them, so something must
    // play them (the local fleet: their real user data, booting the sample application).
    let fleet = crate::common::fleet::Fleet::start(&moto, dir.path(), &crate::platform::pip_env());
    fleet.wait_serving("pets-env-blue", 1, std::time::Duration::from_secs(300));
    fleet.wait_serving("pets-env-green", 1, std::time::Duration::from_secs(300));

    let plan = plan_json(&moto, &dir);
    let changes = plan["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for change in changes {
        assert_eq!(change["action"], "update", "not in place: {change:#}");
    }
    let changed: Vec<(&str, &str)> = changes
        .iter()
        .flat_map(|c| {
            c["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |a| (c["address"].as_str().unwrap(), a["name"].as_str().unwrap()))
        })
        .collect();
    for expected in [
        ("environment.pets-env-blue.launch_template", "instance_type"),
        (
            "environment.pets-env-green.launch_template",
            "instance_type",
        ),
        ("environment.pets-env-blue.auto_scaling_group", "max_size"),
        (
            "environment.pets-env-blue.auto_scaling_group",
            "launch_template_version",
        ),
        ("environment.pets-env-blue.instance_role", "inline_policy"),
        ("environment.pets-env-blue.target_group", "health_check"),
    ] {
        assert!(
            changed.contains(&expected),
            "{expected:?} not in {changed:?}"
        );
    }
    assert_eq!(plan["summary"]["change"], changes.len());
    assert_eq!(plan["summary"]["add"], 0);

    apply(&moto, &dir);
    let after = wiring(&moto, "pets-env-blue");
    // Same resources, a new template version, and the group points at it.
    assert_eq!(after.lb_arn, before.lb_arn);
    assert_eq!(after.tg_arn, before.tg_arn);
    assert_eq!(after.template_id, before.template_id);
    assert_eq!(after.template_latest, before.template_latest + 1);
    assert_eq!(after.template_instance_type, "t3.large");
    assert_eq!(after.asg_template.1, after.template_latest.to_string());
    assert!(moto
        .inline_policy("pets-env-blue")
        .contains("dynamodb:Query"));
    assert_no_changes(&moto, &dir);
    drop(fleet);
}

#[test]
fn moto_changes_made_outside_beanpole_show_as_drift_and_apply_reverts_them() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = pets("drift");
    apply(&moto, &dir);
    let blue = wiring(&moto, "pets-env-blue");
    let aws = moto.clients();
    let instance_sg = runtime().block_on(async {
        let sgs = aws.ec2.describe_security_groups().send().await.unwrap();
        let sg = sgs
            .security_groups()
            .iter()
            .find(|g| {
                g.group_name()
                    .unwrap_or_default()
                    .contains("pets-env-blue-instances")
            })
            .unwrap()
            .group_id()
            .unwrap()
            .to_string();
        aws.ec2
            .authorize_security_group_ingress()
            .group_id(&sg)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(
                        aws_sdk_ec2::types::IpRange::builder()
                            .cidr_ip("0.0.0.0/0")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        let name = groups
            .auto_scaling_groups()
            .iter()
            .find(|g| {
                g.auto_scaling_group_name()
                    .unwrap_or_default()
                    .contains("pets-env-blue")
            })
            .unwrap()
            .auto_scaling_group_name()
            .unwrap()
            .to_string();
        aws.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .desired_capacity(3)
            .send()
            .await
            .unwrap();
        sg
    });

    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--detailed-exitcode"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("Drift: 2 resources changed outside Beanpole"),
        "{shown}"
    );
    assert!(shown.contains("desired_capacity : 3 → 1"), "{shown}");
    let plan = plan_json(&moto, &dir);
    let drifted: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drift"] == true)
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        drifted,
        vec![
            "environment.pets-env-blue.auto_scaling_group",
            "environment.pets-env-blue.instance_security_group"
        ]
    );

    apply(&moto, &dir);
    let after = wiring(&moto, "pets-env-blue");
    assert_eq!(after.desired, 1);
    assert_eq!(
        after.instance_sg_ingress.len(),
        1,
        "{:?}",
        after.instance_sg_ingress
    );
    assert_eq!(after.instance_sg_ingress[0].1, blue.lb_sgs);
    assert!(!instance_sg.is_empty());
    assert_no_changes(&moto, &dir);
}

#[test]
fn moto_a_saved_plan_is_refused_when_the_account_changed_since() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = pets("stale");
    apply(&moto, &dir);
    // The new instance type reaches the running instances: the last apply rolls them, so
    // something must play them.
    let fleet = crate::common::fleet::Fleet::start(&moto, dir.path(), &crate::platform::pip_env());
    fleet.wait_serving("pets-env-blue", 1, std::time::Duration::from_secs(300));
    fleet.wait_serving("pets-env-green", 1, std::time::Duration::from_secs(300));
    dir.write(
        "main.hcl",
        &SPEC.replacen(
            "default     = \"t3.small\"",
            "default     = \"t3.medium\"",
            1,
        ),
    );
    let plan_file = dir.path().join("edit.plan");
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--out"])
        .arg(&plan_file));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Someone changes the group's capacity after the plan was made.
    let aws = moto.clients();
    runtime().block_on(async {
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        for g in groups.auto_scaling_groups() {
            aws.autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(g.auto_scaling_group_name().unwrap())
                .max_size(2)
                .send()
                .await
                .unwrap();
        }
    });
    let out = run(moto.beanpole(dir.path()).arg("apply").arg(&plan_file));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is stale"), "{stderr}");
    assert!(
        stderr.contains("auto_scaling_group/pets-app-pets-env-blue-")
            && stderr.contains("was changed"),
        "{stderr}"
    );
    // Nothing was applied: the template still has its first version.
    assert_eq!(wiring(&moto, "pets-env-blue").template_latest, 1);

    // A fresh plan file applies.
    let out = run(moto
        .beanpole(dir.path())
        .args(["plan", "--out"])
        .arg(&plan_file));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(moto.beanpole(dir.path()).arg("apply").arg(&plan_file));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        wiring(&moto, "pets-env-blue").template_instance_type,
        "t3.medium"
    );
    drop(fleet);
}

/// Every resource in the account that carries Beanpole's tags or names.
fn beanpole_leftovers(moto: &Moto, zone: &str) -> Vec<String> {
    let aws = moto.clients();
    runtime().block_on(async {
        let mut left = Vec::new();
        let tagged = |tags: Vec<(Option<String>, Option<String>)>| {
            tags.iter()
                .any(|(k, _)| k.as_deref().is_some_and(|k| k.starts_with("beanpole:")))
        };
        for g in aws
            .ec2
            .describe_security_groups()
            .send()
            .await
            .unwrap()
            .security_groups()
        {
            let tags = g
                .tags()
                .iter()
                .map(|t| (t.key().map(String::from), t.value().map(String::from)))
                .collect();
            if tagged(tags) || g.group_name().unwrap_or_default().starts_with("pets-app") {
                left.push(format!("security group {:?}", g.group_name()));
            }
        }
        for t in aws
            .ec2
            .describe_launch_templates()
            .send()
            .await
            .unwrap()
            .launch_templates()
        {
            left.push(format!("launch template {:?}", t.launch_template_name()));
        }
        for l in aws
            .elbv2
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
        {
            left.push(format!("load balancer {:?}", l.load_balancer_name()));
        }
        for t in aws
            .elbv2
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
        {
            left.push(format!("target group {:?}", t.target_group_name()));
        }
        for g in aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
        {
            left.push(format!(
                "auto scaling group {:?}",
                g.auto_scaling_group_name()
            ));
        }
        for p in aws
            .autoscaling
            .describe_policies()
            .send()
            .await
            .unwrap()
            .scaling_policies()
        {
            left.push(format!("scaling policy {:?}", p.policy_name()));
        }
        for r in aws.iam.list_roles().send().await.unwrap().roles() {
            left.push(format!("role {}", r.role_name()));
        }
        for p in aws
            .iam
            .list_instance_profiles()
            .send()
            .await
            .unwrap()
            .instance_profiles()
        {
            left.push(format!("instance profile {}", p.instance_profile_name()));
        }
        for r in aws
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
            .unwrap()
            .resource_record_sets()
        {
            if !matches!(r.r#type().as_str(), "NS" | "SOA") {
                left.push(format!("record {} {}", r.name(), r.r#type().as_str()));
            }
        }
        let instances = aws.ec2.describe_instances().send().await.unwrap();
        for i in instances.reservations().iter().flat_map(|r| r.instances()) {
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string());
            if state.as_deref() != Some("terminated") {
                left.push(format!("instance {:?} {:?}", i.instance_id(), state));
            }
        }
        left
    })
}

#[test]
fn moto_destroy_leaves_nothing_beanpole_made() {
    let moto = Moto::start();
    let zone = moto.create_zone("example.com");
    let dir = pets("destroy");
    apply(&moto, &dir);
    assert!(!beanpole_leftovers(&moto, &zone).is_empty());

    // Without a terminal and without --auto-approve, destroy refuses.
    let out = run(moto.beanpole(dir.path()).arg("destroy"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto-approve"));

    // One environment first: the other one is untouched.
    let out = run(moto.beanpole(dir.path()).args([
        "destroy",
        "--env",
        "pets-env-green",
        "--auto-approve",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("11 destroyed"),
        "{}",
        text(&out)
    );
    wiring(&moto, "pets-env-blue");

    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(beanpole_leftovers(&moto, &zone), Vec::<String>::new());
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing to destroy"));

    // The account's versions bucket outlives the application unless asked for.
    let bucket = "beanpole-versions-123456789012-us-east-2";
    let aws = moto.clients();
    let exists =
        || runtime().block_on(async { aws.s3.head_bucket().bucket(bucket).send().await.is_ok() });
    assert!(exists(), "destroy deleted the versions bucket");
    let out = run(moto.beanpole(dir.path()).args([
        "destroy",
        "--delete-versions",
        "--env",
        "pets-env-blue",
        "--auto-approve",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(exists());
    let put = |key: &str| {
        runtime().block_on(async {
            aws.s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(b"PK".to_vec().into())
                .send()
                .await
                .unwrap();
        })
    };
    // A version of another application in it keeps it.
    put("other-app/versions/v1.zip");
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["destroy", "--delete-versions", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("also holds versions of other-app"),
        "{}",
        text(&out)
    );
    assert!(exists());
    runtime().block_on(async {
        aws.s3
            .delete_object()
            .bucket(bucket)
            .key("other-app/versions/v1.zip")
            .send()
            .await
            .unwrap();
    });
    put("pets-app/versions/v1.zip");
    let out =
        run(moto
            .beanpole(dir.path())
            .args(["destroy", "--delete-versions", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("application.pets-app.versions_bucket"),
        "{}",
        text(&out)
    );
    assert!(!exists(), "the versions bucket is still there");
}

#[test]
fn moto_a_foreign_bucket_with_the_versions_buckets_name_stops_the_plan_and_is_untouched() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = pets("foreign-bucket");
    let bucket = "beanpole-versions-123456789012-us-east-2";
    let aws = moto.clients();
    runtime().block_on(async {
        aws.s3
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsEast2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let out = run(moto.beanpole(dir.path()).arg("plan"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "versions_bucket `{bucket}` (application.pets-app.versions_bucket) already exists and was not created by Beanpole"
        )),
        "{}",
        text(&out)
    );
    // apply will not keep its lock in it either.
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("the bucket {bucket} exists but is not Beanpole's")),
        "{}",
        text(&out)
    );
    let tags =
        runtime().block_on(async { aws.s3.get_bucket_tagging().bucket(bucket).send().await });
    assert!(
        tags.is_err() || tags.unwrap().tag_set().is_empty(),
        "the foreign bucket was tagged"
    );
}

#[test]
fn moto_a_foreign_resource_with_beanpoles_name_stops_the_plan_and_is_untouched() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = pets("foreign");
    // Learn the target group's name from the graph, then make one by hand, untagged.
    let graph = run(common::beanpole(dir.path()).args(["graph", "--format", "json"]));
    let graph: Value = serde_json::from_slice(&graph.stdout).unwrap();
    let name = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["address"] == "environment.pets-env-blue.target_group")
        .and_then(|n| n["aws_name"].as_str())
        .unwrap()
        .to_string();
    let aws = moto.clients();
    let foreign_arn = runtime().block_on(async {
        let vpcs = aws.ec2.describe_vpcs().send().await.unwrap();
        let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
        let out = aws
            .elbv2
            .create_target_group()
            .name(&name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(8080)
            .vpc_id(vpc)
            .send()
            .await
            .unwrap();
        out.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string()
    });

    for command in [vec!["plan"], vec!["apply", "--auto-approve"]] {
        let out = run(moto.beanpole(dir.path()).args(&command));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("target_group `{name}`"))
                && stderr.contains("not created by Beanpole"),
            "{stderr}"
        );
    }
    runtime().block_on(async {
        let tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
        assert_eq!(tgs.target_groups().len(), 1, "apply created something");
        let tg = &tgs.target_groups()[0];
        assert_eq!(tg.target_group_arn(), Some(foreign_arn.as_str()));
        assert_eq!(tg.port(), Some(8080));
        let tags = aws
            .elbv2
            .describe_tags()
            .resource_arns(&foreign_arn)
            .send()
            .await
            .unwrap();
        assert!(tags.tag_descriptions()[0].tags().is_empty());
        let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
        assert!(lbs.load_balancers().is_empty(), "apply created something");
    });
}

#[test]
fn moto_an_apply_killed_part_way_is_resumed_by_the_next_one() {
    let moto = Moto::start().with_delay(150);
    let zone = moto.create_zone("example.com");
    let dir = pets("kill");
    // A short lease, so that the next apply takes the dead one's lock over soon.
    let mut child = moto
        .beanpole(dir.path())
        .args(["apply", "--auto-approve", "--parallelism", "2"])
        .env("BEANPOLE_LOCK_LEASE_SECS", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some resources exist, then kill it.
    let started = std::time::Instant::now();
    loop {
        let made = beanpole_leftovers(&moto, &zone).len();
        if made >= 4 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "apply made nothing in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    let partial = beanpole_leftovers(&moto, &zone);
    let plan = plan_json(&moto, &dir);
    assert!(
        plan["summary"]["add"].as_u64().unwrap() > 0,
        "apply finished before it was killed: {partial:?}"
    );

    // Its lock outlives it until the lease runs out; then the next apply takes it over.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let out = apply(&moto, &dir);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("took over the lock of pets-app"),
        "{}",
        text(&out)
    );
    assert_no_changes(&moto, &dir);
    // No duplicates: one of each per environment.
    let everything = beanpole_leftovers(&moto, &zone);
    for kind in [
        "load balancer",
        "target group",
        "launch template",
        "auto scaling group",
        "role",
        "instance profile",
    ] {
        let n = everything.iter().filter(|l| l.starts_with(kind)).count();
        assert_eq!(n, 2, "{kind}: {everything:#?}");
    }
    let sgs = everything
        .iter()
        .filter(|l| l.starts_with("security group"))
        .count();
    assert_eq!(sgs, 4, "{everything:#?}");
    for made in partial {
        if !made.starts_with("instance ") {
            assert!(everything.contains(&made), "{made} was lost");
        }
    }
    for env in ["pets-env-blue", "pets-env-green"] {
        let w = wiring(&moto, env);
        assert_eq!(w.asg_target_groups, vec![w.tg_arn.clone()]);
    }
}

#[test]
fn moto_a_target_group_replacement_is_swapped_behind_the_listener_before_the_old_one_goes() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = pets("replace");
    apply(&moto, &dir);
    let before = wiring(&moto, "pets-env-blue");
    // The proxy's port is part of the target group's identity: AWS cannot change it in place.
    dir.write(
        "main.hcl",
        &SPEC.replacen(
            "type = var.instance_type\n",
            "type = var.instance_type\n    port = 8080\n",
            1,
        ),
    );
    let plan = plan_json(&moto, &dir);
    let tg = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "environment.pets-env-blue.target_group")
        .expect("the target group changes");
    assert_eq!(tg["action"], "replace", "{tg:#}");
    assert!(tg["replaces"].is_string(), "{tg:#}");
    assert_eq!(plan["summary"]["replace"], 1, "{plan:#}");
    assert_eq!(plan["summary"]["destroy"], 0, "{plan:#}");

    apply(&moto, &dir);
    let after = wiring(&moto, "pets-env-blue");
    assert_ne!(after.tg_arn, before.tg_arn);
    assert_eq!(
        after.listener_target.as_deref(),
        Some(after.tg_arn.as_str())
    );
    assert_eq!(after.asg_target_groups, vec![after.tg_arn.clone()]);
    assert_eq!(after.lb_arn, before.lb_arn);
    assert_eq!(after.instance_sg_ingress[0].0, 8080);
    let aws = moto.clients();
    runtime().block_on(async {
        let tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
        let arns: Vec<&str> = tgs
            .target_groups()
            .iter()
            .filter_map(|t| t.target_group_arn())
            .collect();
        assert_eq!(
            arns.len(),
            2,
            "one per environment, the old one gone: {arns:?}"
        );
        assert!(!arns.contains(&before.tg_arn.as_str()));
    });
    assert_no_changes(&moto, &dir);
}

#[test]
fn moto_a_missing_hosted_zone_is_a_plan_error() {
    let moto = Moto::start();
    let dir = pets("nozone");
    let out = run(moto.beanpole(dir.path()).arg("plan"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no public Route53 hosted zone named `example.com`")
            && stderr.contains("never creates"),
        "{stderr}"
    );
}

fn proxy_log(dir: &TempDir) -> Vec<String> {
    std::fs::read_to_string(dir.path().join("proxy.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn faults(dir: &TempDir, body: &str) -> String {
    let log = dir.path().join("proxy.log");
    format!(
        "{{\"log\": {}, {body}}}",
        serde_json::to_string(&log.to_string_lossy()).unwrap()
    )
}

#[test]
fn moto_throttled_calls_are_retried_with_backoff() {
    let dir = pets("throttle");
    let moto = Moto::start().with_proxy(0, &faults(&dir, "\"throttle\": 0.15, \"seed\": 11"));
    moto.create_zone("example.com");
    apply(&moto, &dir);
    let log = proxy_log(&dir);
    let throttled = log
        .iter()
        .filter(|l| l.ends_with(" Throttling") || l.ends_with(" RequestLimitExceeded"))
        .count();
    assert!(
        throttled >= 5,
        "the proxy throttled only {throttled} calls: {log:#?}"
    );
    assert_no_changes(&moto, &dir);
}

#[test]
fn moto_an_instance_profile_not_yet_propagated_is_waited_for() {
    let dir = pets("propagation");
    let moto = Moto::start().with_proxy(
        0,
        &faults(
            &dir,
            "\"refuse\": [{\"action\": \"CreateAutoScalingGroup\", \"times\": 3, \"code\": \"ValidationError\", \"message\": \"Invalid IamInstanceProfile: pets-app-ec2\"}]",
        ),
    );
    moto.create_zone("example.com");
    apply(&moto, &dir);
    let log = proxy_log(&dir);
    let attempts: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("CreateAutoScalingGroup"))
        .collect();
    assert_eq!(attempts.len(), 5, "3 refused + 2 created: {attempts:?}");
    for env in ["pets-env-blue", "pets-env-green"] {
        assert!(wiring(&moto, env).in_service >= 1);
    }
}

#[test]
fn moto_a_real_error_is_not_retried_stops_new_work_and_the_next_apply_resumes() {
    let dir = pets("failure");
    let message = "At least two subnets in two different Availability Zones must be specified";
    let moto = Moto::start().with_proxy(
        0,
        &faults(
            &dir,
            &format!("\"refuse\": [{{\"action\": \"CreateLoadBalancer\", \"times\": -1, \"code\": \"ValidationError\", \"message\": \"{message}\"}}]"),
        ),
    );
    moto.create_zone("example.com");
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reported = stderr
        .lines()
        .filter(|l| {
            l.starts_with("error: environment.")
                && l.contains(&format!(
                    ".load_balancer: CreateLoadBalancer: ValidationError: {message}"
                ))
        })
        .count();
    assert!(reported >= 1, "{stderr}");
    assert!(stderr.contains("run apply again to resume"), "{stderr}");
    let log = proxy_log(&dir);
    let creates = log
        .iter()
        .filter(|l| l.starts_with("CreateLoadBalancer"))
        .count();
    assert_eq!(
        creates, reported,
        "a real error must not be retried: {log:#?}"
    );
    // What needs the load balancer never started; what was made is tagged and found again.
    assert!(
        !log.iter().any(|l| l.starts_with("CreateListener")),
        "{log:#?}"
    );
    let plan = plan_json(&moto, &dir);
    let pending: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert!(pending.contains(&"environment.pets-env-blue.load_balancer"));
    assert!(
        !pending.contains(&"environment.pets-env-blue.instance_role"),
        "{pending:?}"
    );
    assert!(plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["action"] == "create"));

    // Once AWS accepts the load balancer, the next apply finishes the job.
    let out = run(moto
        .beanpole(dir.path())
        .env("AWS_ENDPOINT_URL", moto.direct_endpoint())
        .args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_changes(&moto, &dir);
}

#[test]
fn moto_a_step_that_panics_fails_the_apply_naming_the_step() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = pets("panic");
    let out = run(moto
        .beanpole(dir.path())
        .env(
            beanpole::ops::apply::PANIC_HOOK,
            "environment.pets-env-blue.target_group",
        )
        .args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: environment.pets-env-blue.target_group: internal error (the step panicked"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("apply failed"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Apply complete"));
    // Nothing is lost: the next apply finishes the job.
    apply(&moto, &dir);
    assert_no_changes(&moto, &dir);
}

/// Rewrites the ownership marker of `name` with a `swapped-at` of `value`, as a corrupted or
/// hand-edited record would read.
fn set_swapped_at(moto: &Moto, zone: &str, name: &str, value: &str) {
    let old = record(moto, zone, &format!("_beanpole.{name}"), "TXT").expect("marker");
    let new = format!("{},swapped-at={value}\"", old.trim_end_matches('"'));
    let aws = moto.clients();
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let set = ResourceRecordSet::builder()
        .name(format!("_beanpole.{name}"))
        .r#type(RrType::Txt)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(new).build().unwrap())
        .build()
        .unwrap();
    runtime()
        .block_on(
            aws.route53
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(
                    ChangeBatch::builder()
                        .changes(
                            Change::builder()
                                .action(ChangeAction::Upsert)
                                .resource_record_set(set)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send(),
        )
        .expect("UPSERT the marker");
}

#[test]
fn moto_a_marker_swapped_at_the_end_of_time_or_garbage_never_crashes_destroy() {
    let moto = Moto::start();
    let zone = moto.create_zone("example.com");
    let dir = pets("marker");
    apply(&moto, &dir);
    set_swapped_at(&moto, &zone, "pets.example.com", "18446744073709551615");
    set_swapped_at(&moto, &zone, "pets-staging.example.com", "garbage");
    // The largest value: a clear refusal, not an overflow.
    let out = run(moto.beanpole(dir.path()).args([
        "destroy",
        "--env",
        "pets-env-blue",
        "--auto-approve",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to destroy"), "{stderr}");
    assert!(stderr.contains("looks corrupted"), "{stderr}");
    // Garbage is no swap time at all: a clean pass.
    let out = run(moto.beanpole(dir.path()).args([
        "destroy",
        "--env",
        "pets-env-green",
        "--auto-approve",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(record(&moto, &zone, "pets-staging.example.com", "CNAME").is_none());
    // --force gets past the corrupted one.
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve", "--force"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(moto.records(&zone).is_empty(), "{:?}", moto.records(&zone));
}

#[test]
fn moto_a_revoke_answered_invalid_permission_not_found_still_deletes_the_group() {
    let dir = pets("revoke");
    let moto = Moto::start().with_proxy(
        0,
        &faults(
            &dir,
            "\"refuse\": [{\"action\": \"RevokeSecurityGroupIngress\", \"times\": 1, \"code\": \"InvalidPermission.NotFound\", \"message\": \"The specified rule does not exist in this security group.\"}]",
        ),
    );
    let zone = moto.create_zone("example.com");
    apply(&moto, &dir);
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        proxy_log(&dir)
            .iter()
            .any(|l| l == "RevokeSecurityGroupIngress InvalidPermission.NotFound"),
        "the fault was not injected"
    );
    let left = beanpole_leftovers(&moto, &zone);
    assert!(
        !left.iter().any(|l| l.starts_with("security group")),
        "{left:#?}"
    );
}

#[test]
fn moto_a_role_gone_between_destroy_calls_counts_as_deleted() {
    let dir = pets("role-gone");
    let moto = Moto::start().with_proxy(
        0,
        &faults(
            &dir,
            "\"refuse\": [{\"action\": \"ListRolePolicies\", \"times\": 1, \"status\": 404, \"code\": \"NoSuchEntity\", \"message\": \"The role with name x cannot be found.\"}]",
        ),
    );
    let zone = moto.create_zone("example.com");
    apply(&moto, &dir);
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The injected answer said the role was gone while it was not: the next destroy finds it
    // and removes it.
    let out = run(moto
        .beanpole(dir.path())
        .args(["destroy", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        beanpole_leftovers(&moto, &zone)
            .iter()
            .all(|l| l.starts_with("instance ")),
        "{:#?}",
        beanpole_leftovers(&moto, &zone)
    );
}

#[test]
fn moto_ctrl_c_during_apply_stops_new_work_reports_and_the_next_apply_converges() {
    let moto = Moto::start().with_delay(150);
    let zone = moto.create_zone("example.com");
    let dir = pets("sigint");
    let child = moto
        .beanpole(dir.path())
        .args(["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while beanpole_leftovers(&moto, &zone).len() < 4 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "apply made nothing in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Apply interrupted after"), "{stderr}");
    assert!(stderr.contains("Not started:"), "{stderr}");
    assert!(stderr.contains("run apply again to resume"), "{stderr}");

    apply(&moto, &dir);
    assert_no_changes(&moto, &dir);
    let everything = beanpole_leftovers(&moto, &zone);
    for kind in ["load balancer", "target group", "launch template", "role"] {
        let n = everything.iter().filter(|l| l.starts_with(kind)).count();
        assert_eq!(n, 2, "{kind}: {everything:#?}");
    }
}
