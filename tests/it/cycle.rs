//! Reference cycles are refused (exit 1), and the diagnostic names every member of the cycle:
//! in the `reference cycle: a → b → … → a` headline (a closed walk) and in the hint.

use crate::common;

use common::{beanpole, run, TempDir};

const APP: &str = "application \"shop\" {\n  region = \"us-east-2\"\n}\n";

/// Validates `files` (name, text) in a fresh folder; returns (exit code, stderr).
fn validate(files: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = TempDir::new("cycle");
    for (name, text) in files {
        dir.write(name, text);
    }
    let output = run(beanpole(dir.path()).args(["validate", "-C", "."]));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The members named by each `reference cycle:` headline.
fn cycles(stderr: &str) -> Vec<Vec<String>> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: reference cycle: "))
        .map(|walk| walk.split(" → ").map(str::to_string).collect())
        .collect()
}

/// Asserts the spec is refused with exactly `expected.len()` cycles, each naming its members.
fn assert_cycles(files: &[(&str, &str)], expected: &[&[&str]]) {
    let (code, stderr) = validate(files);
    assert_eq!(
        code,
        Some(1),
        "a spec with a cycle must be refused:\n{stderr}"
    );
    let found = cycles(&stderr);
    assert_eq!(
        found.len(),
        expected.len(),
        "expected {} cycle error(s):\n{stderr}",
        expected.len()
    );
    for members in expected {
        let walk = found
            .iter()
            .find(|walk| walk.iter().any(|m| m == members[0]))
            .unwrap_or_else(|| panic!("no cycle names {}:\n{stderr}", members[0]));
        assert_eq!(
            walk.first(),
            walk.last(),
            "the cycle walk should end where it starts:\n{stderr}"
        );
        for member in *members {
            assert!(
                walk.contains(&member.to_string()),
                "the cycle headline should name `{member}`:\n{stderr}"
            );
        }
        let hint = stderr
            .lines()
            .find(|l| l.starts_with("  = hint: ") && l.contains(members[0]))
            .unwrap_or_else(|| panic!("no hint names {}:\n{stderr}", members[0]));
        for member in *members {
            assert!(
                hint.contains(member),
                "the hint should name `{member}`: {hint}"
            );
        }
    }
    assert!(
        stderr.trim_end().ends_with(&format!(
            "error: the spec has {} error{}",
            expected.len(),
            if expected.len() == 1 { "" } else { "s" }
        )),
        "a cycle is reported once, without follow-up errors:\n{stderr}"
    );
}

#[test]
fn three_locals() {
    let spec = format!(
        "locals {{\n  a = local.b\n  b = \"${{local.c}}-x\"\n  c = upper(local.a)\n}}\n\n{APP}"
    );
    assert_cycles(
        &[("main.hcl", &spec)],
        &[&["local.a", "local.b", "local.c"]],
    );
}

#[test]
fn self_reference() {
    let spec = format!("locals {{\n  a = \"${{local.a}}!\"\n}}\n\n{APP}");
    assert_cycles(&[("main.hcl", &spec)], &[&["local.a"]]);
}

#[test]
fn across_files_and_kinds() {
    // application → local → environment → application
    let app =
        "application \"shop\" {\n  region      = \"us-east-2\"\n  description = local.about\n}\n";
    let locals = "locals {\n  about = \"serves ${environment.shop-prod.cname}\"\n}\n";
    let env = "environment \"shop-prod\" {\n  application = application.shop\n  platform    = \"python-3.12\"\n}\n";
    assert_cycles(
        &[("a.hcl", app), ("b.hcl", locals), ("c.hcl", env)],
        &[&["application.shop", "local.about", "environment.shop-prod"]],
    );
}

#[test]
fn two_independent_cycles_are_both_reported() {
    let spec = format!(
        "locals {{\n  a = local.b\n  b = local.a\n  x = local.y\n  y = local.z\n  z = local.x\n  ok = \"fine\"\n}}\n\n{APP}"
    );
    assert_cycles(
        &[("main.hcl", &spec)],
        &[&["local.a", "local.b"], &["local.x", "local.y", "local.z"]],
    );
}

#[test]
fn through_a_module_call() {
    let root = format!(
        "locals {{\n  cname = module.m.cname\n}}\n\nmodule \"m\" {{\n  source = \"./m\"\n  name   = local.cname\n}}\n\n{APP}"
    );
    let module = "variable \"name\" {\n  type = string\n}\n\noutput \"cname\" {\n  value = \"${var.name}-www\"\n}\n";
    assert_cycles(
        &[("main.hcl", &root), ("m/main.hcl", module)],
        &[&["local.cname", "module.m"]],
    );
}

#[test]
fn a_chain_that_is_not_a_cycle_is_accepted() {
    let spec = format!(
        "locals {{\n  a = local.b\n  b = local.c\n  c = \"python-3.12\"\n}}\n\n{APP}\nenvironment \"shop-prod\" {{\n  application = application.shop\n  platform    = local.a\n}}\n"
    );
    let (code, stderr) = validate(&[("main.hcl", &spec)]);
    assert_eq!(code, Some(0), "{stderr}");
}
