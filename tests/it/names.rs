//! AWS names of long applications and environments: Application Load Balancer and target group
//! names fit 32 characters and AWS's character rules, never collide (even for environments that
//! differ only at the end), IAM role names fit 64, and no ALB name uses the reserved
//! `internal-` prefix. Environment names are 4–40 characters, application names up to 100.

use crate::common;

use common::{beanpole, run, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;

/// `^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`
fn is_elb_name(name: &str) -> bool {
    let ok_inner = |c: char| c.is_ascii_alphanumeric() || c == '-';
    !name.is_empty()
        && name.chars().all(ok_inner)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

const APP: &str = "checkout-service-app"; // 20 characters
const LONG_APP_LEN: usize = 100;

fn environments() -> Vec<String> {
    // 35 + "-blue" and 34 + "-green": 40 characters each, equal but for the last few.
    let prefix = "production-eu-west-1-checkout-front";
    assert_eq!(prefix.len(), 35);
    let blue = format!("{prefix}-blue");
    let green = format!("{}-green", &prefix[..34]);
    // Two that share their first 38 characters (and the first 59 of `APP-ENV`).
    let canary_1 = "production-eu-west-1-checkout-canary-01".to_string() + "x";
    let canary_2 = "production-eu-west-1-checkout-canary-01".to_string() + "y";
    let envs = vec![blue, green, canary_1, canary_2];
    for e in &envs {
        assert_eq!(e.len(), 40, "{e}");
        assert_eq!(APP.len() + e.len(), 60);
    }
    envs
}

fn long_app() -> String {
    let name: String = "very-long-application-name-"
        .repeat(4)
        .chars()
        .take(LONG_APP_LEN - 1)
        .collect::<String>()
        + "z";
    assert_eq!(name.len(), LONG_APP_LEN);
    name
}

fn spec() -> String {
    let mut text = String::new();
    let apps = [APP.to_string(), long_app(), "internal".to_string()];
    for (i, app) in apps.iter().enumerate() {
        text.push_str(&format!(
            "application \"app{i}\" {{\n  name   = \"{app}\"\n  region = \"us-east-2\"\n}}\n\n"
        ));
    }
    let mut env_index = 0;
    let mut add = |app_label: &str, env: &str, text: &mut String| {
        text.push_str(&format!(
            "environment \"e{env_index}\" {{\n  name        = \"{env}\"\n  application = application.{app_label}\n  platform    = \"python-3.12\"\n}}\n\n"
        ));
        env_index += 1;
    };
    for env in environments() {
        add("app0", &env, &mut text);
        // Environment names are unique across applications too.
        add(
            "app1",
            &env.replacen("production", "staging-01", 1),
            &mut text,
        );
    }
    // `internal-…` is a reserved ALB prefix.
    add("app2", "tools", &mut text);
    add("app2", "alb-tools-one", &mut text);
    text
}

fn graph_of(spec: &str) -> Value {
    let dir = TempDir::new("names");
    std::fs::write(dir.path().join("main.hcl"), spec).unwrap();
    let output = run(beanpole(dir.path()).args(["graph", "-C", ".", "--format", "json"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "graph failed:\n{}\nspec:\n{spec}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("graph output is JSON")
}

/// aws_name by kind, one entry per node.
fn names_by_kind(graph: &Value) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for node in graph["nodes"].as_array().expect("nodes") {
        let kind = node["kind"].as_str().expect("kind").to_string();
        let address = node["address"].as_str().expect("address").to_string();
        let name = node["aws_name"].as_str().expect("aws_name").to_string();
        out.entry(kind).or_default().push((address, name));
    }
    out
}

#[test]
fn long_names_fit_aws_limits_and_stay_distinct() {
    let graph = graph_of(&spec());
    let by_kind = names_by_kind(&graph);
    let mut problems = Vec::new();

    let elb: Vec<(String, String)> = ["load_balancer", "target_group"]
        .iter()
        .flat_map(|k| by_kind.get(*k).cloned().unwrap_or_default())
        .collect();
    let environments = 2 * environments().len() + 2;
    assert_eq!(
        elb.len(),
        2 * environments,
        "expected a load balancer and a target group per environment: {elb:?}"
    );

    for (address, name) in &elb {
        if name.len() > 32 {
            problems.push(format!(
                "{address}: `{name}` has {} characters (limit 32)",
                name.len()
            ));
        }
        if !is_elb_name(name) {
            problems.push(format!("{address}: `{name}` is not a valid ELB name"));
        }
        if name.contains("--") {
            problems.push(format!("{address}: `{name}` has a doubled hyphen"));
        }
    }
    for (address, name) in by_kind.get("load_balancer").into_iter().flatten() {
        if name.to_ascii_lowercase().starts_with("internal-") {
            problems.push(format!(
                "{address}: `{name}` starts with the reserved prefix `internal-`"
            ));
        }
    }
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (address, name) in &elb {
        // Compared without case, which is stricter than AWS needs.
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), address) {
            problems.push(format!("{address} and {first} share the name `{name}`"));
        }
    }

    let roles = by_kind.get("iam_role").cloned().unwrap_or_default();
    assert_eq!(
        roles.len(),
        environments,
        "expected one IAM role per environment: {roles:?}"
    );
    for (address, name) in &roles {
        if name.len() > 64 {
            problems.push(format!(
                "{address}: IAM role `{name}` has {} characters (limit 64)",
                name.len()
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            problems.push(format!(
                "{address}: IAM role `{name}` has a character IAM refuses"
            ));
        }
    }

    // Names that must be unique in an account or region are unique.
    for kind in [
        "iam_role",
        "instance_profile",
        "launch_template",
        "auto_scaling_group",
        "security_group",
    ] {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (address, name) in by_kind.get(kind).into_iter().flatten() {
            if let Some(first) = seen.insert(name, address) {
                problems.push(format!(
                    "{kind}: {address} and {first} share the name `{name}`"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn names_are_the_same_on_every_run() {
    let spec = spec();
    let first = names_by_kind(&graph_of(&spec));
    let second = names_by_kind(&graph_of(&spec));
    assert_eq!(first, second);
}

#[test]
fn short_names_stay_readable() {
    let graph = graph_of(
        "application \"pets-app\" {\n  region = \"us-east-2\"\n}\n\nenvironment \"pets-env-blue\" {\n  application = application.pets-app\n  platform    = \"python-3.12\"\n}\n",
    );
    let by_kind = names_by_kind(&graph);
    // The application-environment part (cut only if the name would not fit), the kind suffix
    // whole, then `-` and 7 hex digits of the identity.
    let readable = |name: &str, suffix: &str| -> Option<String> {
        let (rest, hash) = name.rsplit_once('-')?;
        if hash.len() != 7 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let head = if suffix.is_empty() {
            rest
        } else {
            rest.strip_suffix(&format!("-{suffix}"))?
        };
        Some(head.to_string())
    };
    let load_balancer = &by_kind["load_balancer"][0].1;
    let target_group = &by_kind["target_group"][0].1;
    assert_eq!(
        readable(load_balancer, "").as_deref(),
        Some("pets-app-pets-env-blue"),
        "{load_balancer}"
    );
    let head = readable(target_group, "tg").unwrap_or_default();
    assert!(
        head.len() >= 20 && "pets-app-pets-env-blue".starts_with(&head),
        "{target_group}"
    );
}

#[test]
fn environment_names_outside_4_to_40_characters_are_refused() {
    for (env, ok) in [
        ("abc", false),
        ("abcd", true),
        (&*"e".repeat(40), true),
        (&*"e".repeat(41), false),
    ] {
        let dir = TempDir::new("env-len");
        let spec = format!(
            "application \"shop\" {{\n  region = \"us-east-2\"\n}}\n\nenvironment \"{env}\" {{\n  application = application.shop\n  platform    = \"python-3.12\"\n}}\n"
        );
        std::fs::write(dir.path().join("main.hcl"), spec).unwrap();
        let output = run(beanpole(dir.path()).args(["validate", "-C", "."]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        if ok {
            assert_eq!(
                output.status.code(),
                Some(0),
                "`{env}` ({} chars) should be accepted:\n{stderr}",
                env.len()
            );
        } else {
            assert_eq!(
                output.status.code(),
                Some(1),
                "`{env}` ({} chars) should be refused",
                env.len()
            );
            assert!(stderr.contains("invalid environment name"), "{stderr}");
        }
    }
}
