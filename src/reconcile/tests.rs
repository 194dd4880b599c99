//! The diff without AWS: the live state of an applied pets-app as the AWS shell read it from
//! moto (a recording), then changed one fact at a time.

use super::*;
use crate::graph::{compile_graph, ResourceGraph, ResourceKind};
use crate::spec::{compile_dir, DiskFs, VariableInputs};
use serde_json::json;
use std::path::Path;

fn pets_graph() -> ResourceGraph {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pets-app");
    let compilation = compile_dir(&DiskFs, &dir, &VariableInputs::default());
    assert!(compilation.is_valid());
    let mut graph = compile_graph(&compilation.spec);
    // moto's account, in the example's region.
    graph.bind_account(|_| Some(("123456789012".into(), "us-east-2".into())));
    graph
}

/// What the account holds after pets-app was applied, exactly as the AWS shell read it from
/// moto (recorded by `moto_apply_creates_the_wired_web_tier_and_a_second_plan_is_empty` with
/// `BEANPOLE_BLESS=1`): not derived from the graph, so a desired shape the shell does not read
/// back the same way makes these tests fail.
fn applied(_graph: &ResourceGraph) -> LiveState {
    let mut state: LiveState =
        serde_json::from_str(include_str!("../../tests/snapshots/live/pets-app.json"))
            .expect("tests/snapshots/live/pets-app.json is a recorded live state");
    // The bucket holds, and the user data fetches, the engine of the Beanpole that applied:
    // this one's (the recording keeps the digest of the engine it was made with).
    let digest = crate::platform::engine_digest();
    for r in &mut state.resources {
        if r.kind == ResourceKind::VersionsBucket {
            r.attributes.insert("engine".into(), json!(digest));
        }
        if let Some(serde_json::Value::String(user_data)) = r.attributes.get_mut("user_data") {
            let marker = "_beanpole/engine/";
            if let Some(at) = user_data.find(marker) {
                let start = at + marker.len();
                user_data.replace_range(start..start + digest.len(), &digest);
            }
        }
    }
    state
}

fn find<'a>(state: &'a mut LiveState, address: &str) -> &'a mut LiveResource {
    state
        .resources
        .iter_mut()
        .find(|r| r.address.as_ref().is_some_and(|a| a.0 == address))
        .unwrap()
}

#[test]
fn an_empty_account_gets_every_resource_and_an_applied_one_nothing() {
    let graph = pets_graph();
    let mut empty = applied(&graph);
    empty.resources.clear();
    let plan = diff(&graph, &empty, &PlanScope::default());
    assert!(plan.errors.is_empty());
    assert_eq!(plan.summary().add, 23);
    let plan = diff(&graph, &applied(&graph), &PlanScope::default());
    assert!(plan.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn a_value_changed_in_the_account_is_drift_and_an_update() {
    let graph = pets_graph();
    let mut live = applied(&graph);
    find(&mut live, "environment.pets-env-blue.auto_scaling_group")
        .attributes
        .insert("desired_capacity".into(), json!(3));
    let plan = diff(&graph, &live, &PlanScope::default());
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0];
    assert_eq!(change.action, Action::Update);
    assert!(change.drift);
    assert_eq!(change.attributes[0].before, json!(3));
    assert_eq!(change.attributes[0].after, json!(1));
}

#[test]
fn a_forcing_attribute_replaces_and_dependents_see_unknown_values() {
    let graph = pets_graph();
    let mut live = applied(&graph);
    find(&mut live, "environment.pets-env-blue.target_group")
        .attributes
        .insert("port".into(), json!(8080));
    let plan = diff(&graph, &live, &PlanScope::default());
    let tg = plan
        .change(&crate::graph::Address(
            "environment.pets-env-blue.target_group".into(),
        ))
        .unwrap();
    assert_eq!(tg.action, Action::Replace);
    assert!(tg
        .attributes
        .iter()
        .any(|a| a.name == "port" && a.forces_replacement));
    // The listener and the group refer to the new target group's ARN.
    let listener = plan
        .change(&crate::graph::Address(
            "environment.pets-env-blue.http_listener".into(),
        ))
        .unwrap();
    assert_eq!(listener.action, Action::Update);
    assert!(listener.attributes.iter().any(|a| a.after_unknown));
}

#[test]
fn a_resource_with_our_name_but_not_our_tags_stops_the_plan() {
    let graph = pets_graph();
    let mut live = applied(&graph);
    let lb = find(&mut live, "environment.pets-env-green.load_balancer");
    let foreign_name = lb.aws_name.clone();
    lb.owned = false;
    lb.tags.clear();
    lb.address = None;
    let plan = diff(&graph, &live, &PlanScope::default());
    assert_eq!(plan.errors.len(), 1);
    assert!(matches!(
        &plan.errors[0],
        PlanError::ForeignResource { aws_name, .. } if aws_name.contains("pets-env-green")
    ));
    // Destroy never touches it either.
    let destroy = diff(
        &graph,
        &live,
        &PlanScope {
            environments: vec![],
            destroy: true,
            delete_versions: false,
            delete_data: false,
        },
    );
    assert!(destroy.changes.iter().all(
        |c| !(c.kind == crate::graph::ResourceKind::LoadBalancer && c.aws_name == foreign_name)
    ));
    assert_eq!(destroy.summary().destroy, 21);
}

#[test]
fn an_owned_resource_the_spec_no_longer_has_is_deleted_and_env_scope_is_respected() {
    let graph = pets_graph();
    let mut live = applied(&graph);
    let mut orphan = live.resources[0].clone();
    orphan.aws_name = "pets-app-old-env-1234567".into();
    orphan.environment = Some("old-env".into());
    orphan.address = Some(crate::graph::Address("environment.old-env.x".into()));
    live.resources.push(orphan);
    let plan = diff(&graph, &live, &PlanScope::default());
    assert_eq!(plan.summary().destroy, 1);
    let scoped = diff(
        &graph,
        &live,
        &PlanScope {
            environments: vec!["pets-env-blue".into()],
            destroy: false,
            delete_versions: false,
            delete_data: false,
        },
    );
    assert!(scoped.is_empty(), "{:#?}", scoped.changes);
}

#[test]
fn after_a_swap_the_plan_follows_the_markers_and_changes_nothing() {
    let mut graph = pets_graph();
    let mut live = applied(&graph);
    // Exchange what the two names hold, as `beanpole swap` does. Records carry no tags, so
    // the shell reads them by name, with no address.
    let named = |live: &LiveState, name: &str, kind: ResourceKind| {
        live.resources
            .iter()
            .find(|r| r.aws_name == name && r.kind == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} {name} in the recording"))
    };
    let (prod, staging) = ("pets.example.com", "pets-staging.example.com");
    let (txt_prod, txt_staging) = (
        "_beanpole.pets.example.com",
        "_beanpole.pets-staging.example.com",
    );
    let cname = ResourceKind::CnameRecord;
    let txt = ResourceKind::OwnershipRecord;
    let blue_cname = named(&live, prod, cname);
    let green_cname = named(&live, staging, cname);
    let blue_txt = named(&live, txt_prod, txt);
    let green_txt = named(&live, txt_staging, txt);
    for r in live.resources.iter_mut() {
        let now = match (r.aws_name.as_str(), r.kind) {
            (n, k) if n == prod && k == cname => (&blue_cname, &green_cname),
            (n, k) if n == staging && k == cname => (&green_cname, &blue_cname),
            (n, k) if n == txt_prod && k == txt => (&blue_txt, &green_txt),
            (n, k) if n == txt_staging && k == txt => (&green_txt, &blue_txt),
            _ => continue,
        };
        // The record keeps its name; its content and owner are the other environment's.
        let (keep, other) = now;
        r.aws_name = keep.aws_name.clone();
        r.attributes = other.attributes.clone();
        r.attributes
            .insert("name".into(), keep.attributes["name"].clone());
        r.environment = other.environment.clone();
        r.address = None;
    }
    // Without following the swap, apply would swap back.
    assert!(!diff(&graph, &live, &PlanScope::default()).is_empty());
    let swapped = super::swaps::follow_swaps(&mut graph, &live);
    assert_eq!(swapped.len(), 2);
    assert_eq!(swapped[0].name, "pets-staging.example.com");
    assert_eq!(swapped[0].served_by, "pets-env-blue");
    let plan = diff(&graph, &live, &PlanScope::default());
    assert!(plan.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn destroy_deletes_each_resource_before_what_it_refers_to() {
    let graph = pets_graph();
    let live = applied(&graph);
    let scope = PlanScope {
        environments: Vec::new(),
        destroy: true,
        delete_versions: false,
        delete_data: false,
    };
    let plan = diff(&graph, &live, &scope);
    let steps = super::steps::build_steps(&graph, &plan);
    let index = |label: &str| {
        steps
            .iter()
            .position(|s| s.label == label)
            .unwrap_or_else(|| panic!("no step {label}"))
    };
    // Does step `later` wait (directly or not) for step `earlier`?
    let waits_for = |later: usize, earlier: usize| {
        let mut seen = vec![false; steps.len()];
        let mut stack = vec![later];
        while let Some(s) = stack.pop() {
            for &d in &steps[s].depends_on {
                if d == earlier {
                    return true;
                }
                if !seen[d] {
                    seen[d] = true;
                    stack.push(d);
                }
            }
        }
        false
    };
    let e = "environment.pets-env-blue";
    // Records carry no tags, so nothing but the schemas orders these two.
    let cname = format!("{e}.cname_record");
    let marker = format!("{e}.ownership_record");
    for (first, then) in [
        (cname.clone(), marker.clone()),
        (cname, format!("{e}.load_balancer")),
        (format!("{e}.http_listener"), format!("{e}.load_balancer")),
        (format!("{e}.http_listener"), format!("{e}.target_group")),
        (
            format!("{e}.load_balancer"),
            format!("{e}.load_balancer_security_group"),
        ),
        (
            format!("{e}.instance_security_group"),
            format!("{e}.load_balancer_security_group"),
        ),
        (
            format!("{e}.auto_scaling_group"),
            format!("{e}.launch_template"),
        ),
        (
            format!("{e}.auto_scaling_group"),
            format!("{e}.target_group"),
        ),
        (
            format!("{e}.launch_template"),
            format!("{e}.instance_profile"),
        ),
        (
            format!("{e}.instance_profile"),
            format!("{e}.instance_role"),
        ),
    ] {
        assert!(
            waits_for(index(&then), index(&first)),
            "{then} is deleted without waiting for {first}"
        );
    }
    // Nothing waits for itself through a cycle: every deletion can start eventually.
    for (i, _) in steps.iter().enumerate() {
        assert!(!waits_for(i, i), "{} waits for itself", steps[i].label);
    }
}

#[test]
fn applications_of_one_region_share_the_versions_bucket_and_no_plan_deletes_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop-blue-green");
    let compilation = compile_dir(&DiskFs, &dir, &VariableInputs::default());
    assert!(compilation.is_valid());
    let mut graph = compile_graph(&compilation.spec);
    graph.bind_account(|_| Some(("123456789012".into(), "us-east-2".into())));
    let buckets: Vec<_> = graph
        .resources()
        .filter(|r| r.kind == ResourceKind::VersionsBucket)
        .collect();
    assert!(buckets.len() >= 2, "{buckets:?}");
    assert!(buckets
        .iter()
        .all(|b| b.aws_name == "beanpole-versions-123456789012-us-east-2"));
    // The bucket one of them made: every application's node finds it its own.
    let pets = applied(&pets_graph());
    let bucket = pets
        .resources
        .iter()
        .find(|r| r.kind == ResourceKind::VersionsBucket)
        .expect("the recording has the bucket")
        .clone();
    // (The recording's apply left pets-app's events in it: here it holds nothing yet.)
    let mut bucket = bucket;
    bucket.outputs.insert("applications".into(), json!([]));
    let live = LiveState {
        resources: vec![bucket.clone()],
        ..LiveState::default()
    };
    let plan = diff(&graph, &live, &PlanScope::default());
    // (No data source was read here: only the bucket's own errors count.)
    assert!(
        plan.errors
            .iter()
            .all(|e| matches!(e, PlanError::DataSource { .. })),
        "{:?}",
        plan.errors
    );
    assert!(plan
        .changes
        .iter()
        .all(|c| c.kind != ResourceKind::VersionsBucket));
    // Destroy leaves it…
    let destroy = PlanScope {
        environments: vec![],
        destroy: true,
        delete_versions: false,
        delete_data: false,
    };
    let plan = diff(&graph, &live, &destroy);
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    // …unless asked to, once: it holds versions of no other application.
    let plan = diff(
        &graph,
        &live,
        &PlanScope {
            delete_versions: true,
            ..destroy.clone()
        },
    );
    assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
    assert_eq!(plan.changes[0].action, Action::Delete);
    // A bucket holding another application's versions stays, and the plan says why.
    let mut shared = bucket;
    shared
        .outputs
        .insert("applications".into(), json!(["someone-else"]));
    let live = LiveState {
        resources: vec![shared],
        ..LiveState::default()
    };
    let plan = diff(
        &graph,
        &live,
        &PlanScope {
            delete_versions: true,
            ..destroy
        },
    );
    assert!(plan.changes.is_empty());
    assert!(plan.errors.iter().any(|e| e
        .to_string()
        .contains("also holds versions of someone-else")));
}
