//! `beanpole export cloudformation`: every environment of every example as one template, which
//! `cfn-lint` (from `.venv`, installed by `scripts/test`) passes without a finding.

use crate::common;
use common::{run, sub_folders, text, TempDir};
use std::process::Command;

/// The environments of a spec folder, as `export` names them when it is not told which.
pub fn environments(dir: &std::path::Path) -> Vec<String> {
    let out = run(common::beanpole(dir).args(["export", "cloudformation"]));
    if out.status.success() {
        let template: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let description = template["Description"].as_str().unwrap().to_string();
        return vec![description.split_whitespace().nth(2).unwrap().to_string()];
    }
    let message = text(&out);
    let listed = message
        .split_once("environments (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(names, _)| names.to_string())
        .unwrap_or_else(|| panic!("{message}"));
    listed.split(", ").map(str::to_string).collect()
}

#[test]
fn every_example_exports_templates_that_cfn_lint_passes() {
    let out_dir = TempDir::new("export");
    let mut exported = 0;
    for example in sub_folders(&common::manifest_dir().join("examples")) {
        for env in environments(&example) {
            let file = out_dir.path().join(format!("{env}.json"));
            let out = run(common::beanpole(&example)
                .args(["export", "cloudformation", &env, "--out"])
                .arg(&file));
            assert!(out.status.success(), "{env}: {}", text(&out));
            let lint = Command::new(common::manifest_dir().join(".venv/bin/cfn-lint"))
                .arg(&file)
                .output()
                .expect("cfn-lint in .venv (scripts/test installs it)");
            assert!(
                lint.status.success(),
                "cfn-lint on {} ({env}):\n{}",
                example.display(),
                text(&lint)
            );
            exported += 1;
        }
    }
    assert!(exported >= 10, "{exported} environments exported");
}

#[test]
fn export_names_what_it_cannot_export() {
    let dir = common::manifest_dir().join("examples/pets-app");
    let out = run(common::beanpole(&dir).args(["export", "cloudformation", "nope"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .contains("no environment `nope` in the spec (it has: pets-env-blue, pets-env-green)"),
        "{}",
        text(&out)
    );
}
