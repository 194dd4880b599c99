//! Data-driven diagnostics tests. Each folder of `tests/specs/invalid/` is one case: its `.hcl`
//! files (and sub-folders, for modules), an optional `args` file (one extra command-line
//! argument per line) and `expected.stderr`, the exact output of
//! `beanpole validate -C . ARGS` run inside the folder. The spec must be refused (exit 1) with
//! exactly that stderr.
//!
//! `BEANPOLE_BLESS=1 cargo test --test it spec_diagnostics` rewrites the snapshots; read them
//! afterwards: a snapshot is only as good as the review it got.

use crate::common;

use common::{beanpole, blessing, diff, manifest_dir, run, sub_folders};
use std::path::{Path, PathBuf};

const SNAPSHOT: &str = "expected.stderr";
const ARGS: &str = "args";

fn cases_dir() -> PathBuf {
    manifest_dir().join("tests/specs/invalid")
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// The extra arguments of a case: one per line, blank lines ignored.
fn case_args(dir: &Path) -> Vec<String> {
    match std::fs::read_to_string(dir.join(ARGS)) {
        Ok(text) => text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.trim().is_empty())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot read {}: {e}", dir.join(ARGS).display()),
    }
}

/// Problems with one case, or `None` when it passes.
fn check_case(dir: &Path, bless: bool) -> Option<String> {
    let name = case_name(dir);
    let args = case_args(dir);
    let output = run(beanpole(dir).arg("validate").arg("-C").arg(".").args(&args));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut problems = Vec::new();

    if output.status.code() != Some(1) {
        problems.push(format!(
            "expected exit status 1, got {:?}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}",
            output.status.code()
        ));
    }
    if !stdout.is_empty() {
        problems.push(format!("expected nothing on stdout, got:\n{stdout}"));
    }

    let snapshot_path = dir.join(SNAPSHOT);
    if bless {
        std::fs::write(&snapshot_path, &stderr)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", snapshot_path.display()));
    } else {
        match std::fs::read_to_string(&snapshot_path) {
            Ok(expected) if expected == stderr => {}
            Ok(expected) => problems.push(format!(
                "stderr differs from {SNAPSHOT} (- expected, + actual):\n{}",
                diff(&expected, &stderr)
            )),
            Err(e) => problems.push(format!(
                "cannot read {SNAPSHOT} ({e}); run with BEANPOLE_BLESS=1 to create it. Actual stderr:\n{stderr}"
            )),
        }
    }

    // A diagnostic about the spec's text must say where; only command-line cases may not.
    let snapshot = std::fs::read_to_string(&snapshot_path).unwrap_or_default();
    if !name.starts_with("cli-") && !snapshot.lines().any(|l| l.contains(" --> ")) {
        problems.push(format!("{SNAPSHOT} has no ` --> ` location line"));
    }
    if !name.starts_with("cli-")
        && !snapshot
            .lines()
            .any(|l| l.starts_with("error: the spec has "))
    {
        problems.push(format!(
            "{SNAPSHOT} does not end with the `error: the spec has N errors` summary"
        ));
    }

    (!problems.is_empty()).then(|| format!("case `{name}`:\n{}", problems.join("\n")))
}

#[test]
fn invalid_specs_produce_the_expected_diagnostics() {
    let bless = blessing();
    let cases: Vec<PathBuf> = sub_folders(&cases_dir());
    assert!(!cases.is_empty(), "no cases in {}", cases_dir().display());

    let failures: Vec<String> = cases
        .iter()
        .filter_map(|dir| check_case(dir, bless))
        .collect();
    if !failures.is_empty() {
        let names: Vec<String> = failures
            .iter()
            .map(|f| {
                f.lines()
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches(':')
                    .to_string()
            })
            .collect();
        panic!(
            "{} of {} diagnostic cases failed: {}\n\n{}\n(if the new output is right, rerun with BEANPOLE_BLESS=1 and review the snapshots)",
            failures.len(),
            cases.len(),
            names.join(", "),
            failures.join("\n\n")
        );
    }
}

/// Every case folder holds a spec, and only files the harness knows about.
#[test]
fn every_case_is_well_formed() {
    let mut problems = Vec::new();
    for dir in sub_folders(&cases_dir()) {
        let name = case_name(&dir);
        let has_hcl = std::fs::read_dir(&dir)
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "hcl"));
        if !has_hcl && !name.starts_with("cli-") {
            problems.push(format!("`{name}` has no .hcl file"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push(format!("`{name}`: case names are lowercase-with-hyphens"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
