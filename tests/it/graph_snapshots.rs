//! The resource graphs of the shipped examples: a JSON snapshot per example
//! (`tests/snapshots/graphs/<example>.json`, rewritten with `BEANPOLE_BLESS=1`), every example
//! validates, the DOT rendering, explicit structure checks on `examples/pets-app`, and
//! determinism.

use crate::common;

use common::{beanpole, blessing, diff, manifest_dir, run, sub_folders};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    let examples = sub_folders(&manifest_dir().join("examples"));
    assert!(!examples.is_empty(), "no folders in examples/");
    examples
}

fn name_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// `beanpole graph -C examples/NAME --format FORMAT`, run from the crate root; panics unless it
/// succeeds.
fn graph(example: &str, format: &str) -> String {
    let root = manifest_dir();
    let dir = format!("examples/{example}");
    let output = run(beanpole(&root).args(["graph", "-C", &dir, "--format", format]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "`beanpole graph -C {dir} --format {format}` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "`beanpole graph -C {dir}` wrote to stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("graph output is UTF-8")
}

fn graph_json(example: &str) -> Value {
    let text = graph(example, "json");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("graph of {example} is not JSON ({e}):\n{text}"))
}

#[test]
fn graph_json_matches_snapshots() {
    let bless = blessing();
    let snapshots = manifest_dir().join("tests/snapshots/graphs");
    if bless {
        std::fs::create_dir_all(&snapshots).unwrap();
    }
    let mut failures = Vec::new();
    for example in examples() {
        let name = name_of(&example);
        // The engine's content address changes with every edit of the engine: the snapshots
        // keep a stand-in for it.
        let actual =
            graph(&name, "json").replace(&beanpole::platform::engine_digest(), "ENGINE-DIGEST");
        let path = snapshots.join(format!("{name}.json"));
        if bless {
            std::fs::write(&path, &actual)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "example `{name}`: graph differs from {} (- expected, + actual):\n{}",
                path.display(),
                diff(&expected, &actual)
            )),
            Err(e) => failures.push(format!(
                "example `{name}`: cannot read {} ({e}); run with BEANPOLE_BLESS=1 to create it",
                path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} graph snapshot(s) differ:\n\n{}\n(if the new graphs are right, rerun with BEANPOLE_BLESS=1 and review the snapshots)",
        failures.len(),
        failures.join("\n\n")
    );
}

/// No snapshot may outlive its example.
#[test]
fn every_graph_snapshot_has_an_example() {
    let snapshots = manifest_dir().join("tests/snapshots/graphs");
    let entries = std::fs::read_dir(&snapshots)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", snapshots.display()));
    let names: BTreeSet<String> = examples().iter().map(|e| name_of(e)).collect();
    let stems: Vec<String> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    assert!(
        !stems.is_empty(),
        "no graph snapshot in {}",
        snapshots.display()
    );
    let orphans: Vec<&String> = stems.iter().filter(|stem| !names.contains(*stem)).collect();
    assert!(
        orphans.is_empty(),
        "snapshots without an example: {orphans:?}"
    );
}

#[test]
fn every_example_validates() {
    let root = manifest_dir();
    let mut failures = Vec::new();
    for example in examples() {
        let dir = format!("examples/{}", name_of(&example));
        let output = run(beanpole(&root).args(["validate", "-C", &dir]));
        let stdout = String::from_utf8_lossy(&output.stdout);
        if output.status.code() != Some(0) {
            failures.push(format!(
                "`beanpole validate -C {dir}` exited with {:?}:\n{}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ));
        } else if stdout.lines().count() != 1 || !stdout.contains("is valid") {
            failures.push(format!(
                "`beanpole validate -C {dir}` should print a one-line summary, printed:\n{stdout}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn graph_output_is_deterministic() {
    for example in examples() {
        let name = name_of(&example);
        for format in ["json", "dot"] {
            let first = graph(&name, format);
            let second = graph(&name, format);
            assert!(
                first == second,
                "two runs of `graph -C examples/{name} --format {format}` differ:\n{}",
                diff(&first, &second)
            );
        }
    }
}

fn addresses(graph: &Value) -> Vec<String> {
    graph["nodes"]
        .as_array()
        .expect("`nodes` is an array")
        .iter()
        .map(|n| {
            n["address"]
                .as_str()
                .expect("a node has a string `address`")
                .to_string()
        })
        .collect()
}

fn edges(graph: &Value) -> BTreeSet<(String, String)> {
    graph["edges"]
        .as_array()
        .expect("`edges` is an array")
        .iter()
        .map(|e| {
            (
                e["from"]
                    .as_str()
                    .expect("an edge has a string `from`")
                    .to_string(),
                e["to"]
                    .as_str()
                    .expect("an edge has a string `to`")
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn pets_app_dot_names_every_node() {
    let dot = graph("pets-app", "dot");
    assert!(
        dot.starts_with("digraph"),
        "DOT output should start with `digraph`:\n{dot}"
    );
    assert!(
        dot.trim_end().ends_with('}'),
        "DOT output should end with `}}`:\n{dot}"
    );
    let json = graph_json("pets-app");
    let missing: Vec<String> = addresses(&json)
        .into_iter()
        .filter(|a| !dot.contains(&format!("\"{a}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "DOT output does not mention {missing:?}:\n{dot}"
    );
    for (from, to) in edges(&json) {
        let line = format!("\"{from}\" -> \"{to}\"");
        assert!(dot.contains(&line), "DOT output lacks the edge {line}");
    }
}

#[test]
fn pets_app_graph_has_each_environments_resources_and_edges() {
    let json = graph_json("pets-app");
    let nodes: BTreeSet<String> = addresses(&json).into_iter().collect();
    let edges = edges(&json);
    let mut problems = Vec::new();

    // Every edge joins two nodes of the graph, and nodes are unique.
    assert_eq!(
        nodes.len(),
        addresses(&json).len(),
        "duplicate node addresses"
    );
    for (from, to) in &edges {
        if !nodes.contains(from) || !nodes.contains(to) {
            problems.push(format!(
                "edge {from} → {to} names a node that is not in the graph"
            ));
        }
    }

    let zone = "application.pets-app.hosted_zone";
    if !nodes.contains(zone) {
        problems.push(format!("missing node {zone}"));
    }
    for environment in ["pets-env-blue", "pets-env-green"] {
        let at = |part: &str| format!("environment.{environment}.{part}");
        for part in [
            "load_balancer_security_group",
            "instance_security_group",
            "instance_role",
            "instance_profile",
            "launch_template",
            "target_group",
            "load_balancer",
            "http_listener",
            "auto_scaling_group",
            "cname_record",
            "ownership_record",
        ] {
            if !nodes.contains(&at(part)) {
                problems.push(format!("missing node {}", at(part)));
            }
        }
        let expected = [
            (
                at("instance_security_group"),
                at("load_balancer_security_group"),
            ),
            (at("launch_template"), at("instance_security_group")),
            (at("launch_template"), at("instance_profile")),
            (at("instance_profile"), at("instance_role")),
            (at("auto_scaling_group"), at("launch_template")),
            (at("auto_scaling_group"), at("target_group")),
            (at("http_listener"), at("load_balancer")),
            (at("http_listener"), at("target_group")),
            (at("load_balancer"), at("load_balancer_security_group")),
            (at("cname_record"), at("load_balancer")),
            (at("cname_record"), zone.to_string()),
        ];
        for (from, to) in expected {
            if !edges.contains(&(from.clone(), to.clone())) {
                problems.push(format!("missing edge {from} → {to}"));
            }
        }
        // Nothing of one environment depends on the other's resources.
        let other = if environment == "pets-env-blue" {
            "pets-env-green"
        } else {
            "pets-env-blue"
        };
        for (from, to) in &edges {
            if from.starts_with(&format!("environment.{environment}."))
                && to.starts_with(&format!("environment.{other}."))
            {
                problems.push(format!("cross-environment edge {from} → {to}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "pets-app graph:\n{}",
        problems.join("\n")
    );
}

/// Dependencies form a DAG: an apply order exists.
#[test]
fn example_graphs_are_acyclic() {
    for example in examples() {
        let name = name_of(&example);
        let json = graph_json(&name);
        let nodes = addresses(&json);
        let edges = edges(&json);
        let mut remaining: BTreeSet<String> = nodes.into_iter().collect();
        loop {
            let ready: Vec<String> = remaining
                .iter()
                .filter(|n| {
                    !edges
                        .iter()
                        .any(|(from, to)| from == *n && remaining.contains(to))
                })
                .cloned()
                .collect();
            if ready.is_empty() {
                break;
            }
            for n in ready {
                remaining.remove(&n);
            }
        }
        assert!(
            remaining.is_empty(),
            "graph of {name} has a dependency cycle among {remaining:?}"
        );
    }
}
