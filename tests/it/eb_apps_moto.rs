//! Elastic Beanstalk apps as their users deploy them to EB, against moto with the local fleet
//! playing the instances (each in its own filesystem view, EB's paths): nothing in the app
//! changes for Beanpole.

use crate::common;
use crate::platform::{copy_tree, get, pip_env};
use crate::view::{check_eb_django, migrated};

use common::fleet::Fleet;
use common::moto::Moto;
use common::{run, text, TempDir};
use std::time::Duration;

#[test]
fn moto_an_eb_django_site_runs_unchanged_on_the_local_fleet() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("eb-django");
    copy_tree(
        &common::manifest_dir().join("tests/fixtures/eb-django"),
        dir.path(),
    );
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("django-env", 1, Duration::from_secs(300));
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "django-env", "--label", "v1"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let members = fleet.wait_serving("django-env", 2, Duration::from_secs(120));
    assert_eq!(members.len(), 2, "{}", fleet.output());
    for m in &members {
        check_eb_django(m.port);
    }
    // `migrate` is leader_only: it ran on one instance of the two (each has its own SQLite).
    let migrated = members
        .iter()
        .filter(|m| migrated(&fleet.dir.join(&m.instance).join("var/app/current")))
        .count();
    assert_eq!(migrated, 1, "{}", fleet.output());
    // Two instances on this machine, each its own /var/app/current: a file put into one
    // instance's folder is served by that instance only.
    for m in &members {
        let file = fleet
            .dir
            .join(&m.instance)
            .join("var/app/current/static/whoami.txt");
        std::fs::write(&file, &m.instance).unwrap();
    }
    for m in &members {
        assert_eq!(
            get(m.port, "/static/whoami.txt"),
            (200, m.instance.clone()),
            "{}",
            fleet.output()
        );
    }
}

/// Prints each property named in the query.
const PROPERTIES_APP: &str = r#"import os
from flask import Flask, request

application = Flask(__name__)


@application.route("/health")
def health():
    return "ok"


@application.route("/")
def home():
    return "\n".join("%s=%s" % (n, os.environ.get(n)) for n in request.args.get("names", "").split(","))
"#;

#[test]
fn moto_functions_naming_eb_resources_resolve_to_the_environments_own() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("eb-functions");
    std::fs::write(
        dir.path().join("main.hcl"),
        include_str!("../../examples/pets-app/main.hcl"),
    )
    .unwrap();
    let source = dir.path().join("app");
    crate::platform::put(&source, "application.py", PROPERTIES_APP, false);
    crate::platform::put(&source, "requirements.txt", "Flask\n", false);
    crate::platform::put(
        &source,
        ".ebextensions/01_refs.config",
        r#"option_settings:
  aws:elasticbeanstalk:application:environment:
    ACCOUNT: '`{"Ref": "AWS::AccountId"}`'
    GROUP: '`{"Ref": "AWSEBAutoScalingGroup"}`'
    LB_ARN: '`{"Ref": "AWSEBV2LoadBalancer"}`'
    LB_DNS: '`{"Fn::GetAtt": ["AWSEBV2LoadBalancer", "DNSName"]}`'
    TG_ARN: '`{"Ref": "AWSEBV2LoadBalancerTargetGroup"}`'
    LISTENER: '`{"Ref": "AWSEBV2LoadBalancerListener"}`'
    SG: '`{"Fn::GetAtt": ["AWSEBSecurityGroup", "GroupId"]}`'
  aws:autoscaling:asg:
    MinSize: 3
"#,
        false,
    );
    let beanpole = |args: &[&str]| run(moto.beanpole(dir.path()).args(args));
    let out = beanpole(&["apply", "--auto-approve", "--env", "pets-env-blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A reference to a resource Beanpole does not have: refused, located, nothing uploaded.
    std::fs::write(
        source.join(".ebextensions/02_table.config"),
        "option_settings:\n  aws:elasticbeanstalk:application:environment:\n    TABLE: '`{\"Ref\": \"OrdersTable\"}`'\n",
    )
    .unwrap();
    let out = beanpole(&["deploy", "pets-env-blue", "--label", "refused"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(".ebextensions/02_table.config: option_settings.aws:elasticbeanstalk:application:environment.TABLE: `{\"Ref\": \"OrdersTable\"}`: OrdersTable is not a resource Beanpole has"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["versions", "--json"]);
    assert!(!text(&out).contains("refused"), "{}", text(&out));
    std::fs::remove_file(source.join(".ebextensions/02_table.config")).unwrap();

    // An infrastructure option the spec leaves to its default, with another value: the deploy
    // would change infrastructure, which only apply does: refused before any upload, located,
    // pointing to the spec and apply.
    std::fs::write(
        source.join(".ebextensions/03_idle.config"),
        "option_settings:\n  aws:elbv2:loadbalancer:\n    IdleTimeout: 120\n",
    )
    .unwrap();
    let out = beanpole(&["deploy", "pets-env-blue", "--label", "refused-idle"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(".ebextensions/03_idle.config: aws:elbv2:loadbalancer IdleTimeout = `120`: would change the environment's infrastructure (it has 60, the default of `load_balancer { idle_timeout }`), and a deploy never does: set it in the spec (`load_balancer { idle_timeout }`) and run `beanpole apply`"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["versions", "--json"]);
    assert!(!text(&out).contains("refused-idle"), "{}", text(&out));
    std::fs::remove_file(source.join(".ebextensions/03_idle.config")).unwrap();

    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(300));
    let out = beanpole(&["deploy", "pets-env-blue", "--label", "v1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    // An infrastructure option the spec sets otherwise: the spec wins (EB's precedence), said.
    assert!(
        text(&out).contains("warning: .ebextensions/01_refs.config: `option_settings.aws:autoscaling:asg.MinSize` is not carried out: overridden by the spec's `capacity { min }` (1)"),
        "{}",
        text(&out)
    );
    // `plan` says where each value that differs from the default comes from: the spec's line,
    // or the running version's file; a property by name only. MinSize is the spec's 1, the
    // default: not listed.
    let out = beanpole(&["plan", "--env", "pets-env-blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = text(&out);
    for line in [
        "Settings of pets-env-blue (running v1) that differ from the defaults, and where each is set:",
        "  aws:elasticbeanstalk:application:environment ACCOUNT: version v1's .ebextensions/01_refs.config",
        "  aws:elasticbeanstalk:application:environment FLASK_ENV: the spec's `properties` at ",
        "  aws:elasticbeanstalk:environment:process:default HealthCheckPath = /health: the spec's `load_balancer { health_check { path } }` at ",
    ] {
        assert!(plan.contains(line), "{line}\n{plan}");
    }
    assert!(!plan.contains("MinSize"), "{plan}");
    assert!(plan.contains("main.hcl:44:7"), "{plan}");
    let out = beanpole(&["plan", "--env", "pets-env-blue", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let blue = &json["settings"][0];
    assert_eq!(blue["environment"], "pets-env-blue");
    assert_eq!(blue["version"], "v1");
    let account = blue["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["option"] == "ACCOUNT")
        .unwrap();
    assert_eq!(
        account,
        &serde_json::json!({
            "namespace": "aws:elasticbeanstalk:application:environment",
            "option": "ACCOUNT",
            "value": null,
            "from": "version",
            "label": "v1",
            "file": ".ebextensions/01_refs.config",
        })
    );

    // What the account holds, read with the SDK.
    let aws = moto.clients();
    let (lb, tg, group, listener, sg) = common::moto::runtime().block_on(async {
        let lb = aws.elbv2.describe_load_balancers().send().await.unwrap();
        let lb = lb
            .load_balancers()
            .iter()
            .find(|l| l.load_balancer_name().unwrap_or_default().contains("blue"))
            .unwrap()
            .clone();
        let lb_arn = lb.load_balancer_arn().unwrap().to_string();
        let tgs = aws
            .elbv2
            .describe_target_groups()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
            .unwrap();
        let listeners = aws
            .elbv2
            .describe_listeners()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
            .unwrap();
        let groups = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        let sgs = aws.ec2.describe_security_groups().send().await.unwrap();
        (
            lb,
            tgs.target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string(),
            groups
                .auto_scaling_groups()
                .iter()
                .map(|g| g.auto_scaling_group_name().unwrap_or_default().to_string())
                .find(|n| n.contains("blue"))
                .unwrap(),
            listeners.listeners()[0].listener_arn().unwrap().to_string(),
            sgs.security_groups()
                .iter()
                .find(|g| {
                    let name = g.group_name().unwrap_or_default();
                    name.contains("blue") && name.contains("instance")
                })
                .map(|g| g.group_id().unwrap_or_default().to_string()),
        )
    });
    let group_min = common::moto::runtime().block_on(async {
        aws.autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&group)
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()[0]
            .min_size()
    });
    assert_eq!(group_min, Some(1), "the spec's capacity.min stays");
    let expected = format!(
        "ACCOUNT=123456789012\nGROUP={group}\nLB_ARN={}\nLB_DNS={}\nTG_ARN={tg}\nLISTENER={listener}\nSG={}",
        lb.load_balancer_arn().unwrap(),
        lb.dns_name().unwrap(),
        sg.unwrap_or_default()
    );
    for m in fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(60)) {
        let (status, body) = get(
            m.port,
            "/?names=ACCOUNT,GROUP,LB_ARN,LB_DNS,TG_ARN,LISTENER,SG",
        );
        assert_eq!((status, body.as_str()), (200, expected.as_str()));
    }
}
