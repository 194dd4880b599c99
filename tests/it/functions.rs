//! CloudFormation functions in `.ebextensions`, resolved before anything runs on the instance,
//! through `local run` (real engine, nginx, gunicorn): in option values (environment
//! properties the application reads) and in `files` content (a file the application reads).

use crate::common::{free_port, TempDir};
use crate::platform::{deploy, environment, get, put, report_text, Served};
use beanpole::ops::local::{run, LocalRequest};

/// Prints each property named in the query, then the file `files:` wrote.
const APP: &str = r#"import os
from flask import Flask, request

application = Flask(__name__)


@application.route("/")
def home():
    names = request.args.get("names", "").split(",")
    with open("/var/app/settings.conf") as f:
        written = f.read()
    return "\n".join("%s=%s" % (n, os.environ.get(n)) for n in names) + "\n--\n" + written
"#;

const FUNCTIONS: &str = r#"option_settings:
  aws:elasticbeanstalk:customoption:
    Colour: green
  aws:elasticbeanstalk:application:environment:
    REGION: '`{"Ref": "AWS::Region"}`'
    PARTITION: '`{"Ref": "AWS::Partition"}`'
    SUFFIX: '`{"Ref": "AWS::URLSuffix"}`'
    ENV_NAME: '`{"Ref": "AWSEBEnvironmentName"}`'
    ENV_ID: '`{"Ref": "AWSEBEnvironmentId"}`'
    COLOUR: '`{"Fn::GetOptionSetting": {"Namespace": "aws:elasticbeanstalk:customoption", "OptionName": "Colour"}}`'
    SIZE: '`{"Fn::GetOptionSetting": {"OptionName": "Size", "DefaultValue": "medium"}}`'
    JOINED: '`{"Fn::Join": ["/", ["a", {"Ref": "AWS::Region"}, "z"]]}`'
    SUBBED: '`{"Fn::Sub": "s3://bucket-${AWS::Region}/${AWSEBEnvironmentName}/${!Literal}"}`'
    SELECTED: '`{"Fn::Select": ["2", ["x", "y", {"Ref": "AWS::Region"}]]}`'
    ENCODED: '`{"Fn::Base64": "hello"}`'
files:
  /var/app/settings.conf:
    content: |
      region = `{"Ref": "AWS::Region"}`
      colour = `{"Fn::GetOptionSetting": {"OptionName": "Colour"}}`
      url = `{"Fn::Sub": ["https://${Host}.${AWS::URLSuffix}", {"Host": "example"}]}`
      shell = `date` stays a shell's
"#;

#[test]
fn functions_in_option_values_and_files_resolve_before_the_engine_runs() {
    crate::platform::require("nginx", "nginx");
    let dir = TempDir::new("functions");
    let source = dir.path().join("app");
    put(&source, "application.py", APP, false);
    put(&source, "requirements.txt", "Flask\n", false);
    put(
        &source,
        ".ebextensions/01_functions.config",
        FUNCTIONS,
        false,
    );
    let (port, app_port) = (free_port(), free_port());
    let served = Served {
        run: deploy(&source, Some(environment("")), port, app_port),
        port,
    };
    assert!(
        served.run.report.succeeded(),
        "{}",
        report_text(&served.run.report)
    );
    let names =
        "REGION,PARTITION,SUFFIX,ENV_NAME,ENV_ID,COLOUR,SIZE,JOINED,SUBBED,SELECTED,ENCODED";
    let (status, body) = get(port, &format!("/?names={names}"));
    assert_eq!(status, 200, "{body}");
    let env_id = beanpole::ops::functions::environment_id("a", "e-test");
    assert_eq!(
        body,
        format!(
            "REGION=us-east-2\nPARTITION=aws\nSUFFIX=amazonaws.com\nENV_NAME=e-test\nENV_ID={env_id}\nCOLOUR=green\nSIZE=medium\nJOINED=a/us-east-2/z\nSUBBED=s3://bucket-us-east-2/e-test/${{Literal}}\nSELECTED=us-east-2\nENCODED=aGVsbG8=\n--\nregion = us-east-2\ncolour = green\nurl = https://example.amazonaws.com\nshell = `date` stays a shell's\n"
        )
    );
    assert!(env_id.starts_with("e-") && env_id.len() == 12, "{env_id}");
}

#[test]
fn a_function_with_no_value_is_refused_located_before_anything_runs() {
    let dir = TempDir::new("functions-refused");
    let source = dir.path().join("app");
    put(&source, "application.py", APP, false);
    put(&source, "requirements.txt", "Flask\n", false);
    put(
        &source,
        ".ebextensions/02_refs.config",
        "option_settings:\n  aws:elasticbeanstalk:application:environment:\n    TABLE: '`{\"Ref\": \"OrdersTable\"}`'\nfiles:\n  /var/app/lb.txt:\n    content: 'lb `{\"Fn::GetAtt\": [\"AWSEBV2LoadBalancer\", \"DNSName\"]}`'\n",
        false,
    );
    let e = run(&LocalRequest {
        source: source.clone(),
        environment: Some(environment("")),
        application: "a".into(),
        port: free_port(),
        app_port: Some(free_port()),
        health_timeout: 10,
        engine_env: Vec::new(),
        region: Some("us-east-2".into()),
    })
    .expect_err("refused")
    .to_string();
    assert!(
        e.contains(".ebextensions/02_refs.config: option_settings.aws:elasticbeanstalk:application:environment.TABLE: `{\"Ref\": \"OrdersTable\"}`: OrdersTable is not a resource Beanpole has"),
        "{e}"
    );
    assert!(
        e.contains(".ebextensions/02_refs.config: files./var/app/lb.txt.content: `{\"Fn::GetAtt\": [\"AWSEBV2LoadBalancer\", \"DNSName\"]}`: AWSEBV2LoadBalancer has no value here: `local run` plays no load_balancer"),
        "{e}"
    );
    // Nothing ran: no engine was started for it.
    assert!(!beanpole::ops::local::state_dir(&source)
        .join("root/var/app/current")
        .exists());
}
