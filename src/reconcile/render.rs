//! How a plan is shown: the human form (`+`, `~`, `-/+`, `-` with attribute-level before →
//! after) and the stable JSON form documented in the README.

use super::plan::{Action, Change, Plan, Summary};
use super::CallStats;
use serde_json::{json, Value};
use std::fmt::Write;

pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";
/// The version of the JSON schema of `plan --json`.
pub const FORMAT_VERSION: u32 = 1;

fn short(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::String(s) if s.contains('\n') => {
            format!("<{} lines, {} bytes>", s.lines().count(), s.len())
        }
        other => {
            let text = other.to_string();
            if text.chars().count() > 160 {
                let cut: String = text.chars().take(157).collect();
                format!("{cut}...")
            } else {
                text
            }
        }
    }
}

fn after_text(a: &super::AttributeChange) -> String {
    if a.after_unknown {
        KNOWN_AFTER_APPLY.to_string()
    } else {
        short(&a.after)
    }
}

pub fn render_change(change: &Change, out: &mut String) {
    let mut header = format!(
        "  {} {} ({} {})",
        change.action.symbol(),
        change.address,
        change.kind,
        change.aws_name
    );
    match change.action {
        Action::Replace => {
            let forcing: Vec<&str> = change
                .attributes
                .iter()
                .filter(|a| a.forces_replacement)
                .map(|a| a.name.as_str())
                .collect();
            match (&change.replaces, forcing.is_empty()) {
                (Some(old), true) => {
                    let _ = write!(header, " must be replaced: new name (was {old})");
                }
                _ => {
                    let _ = write!(
                        header,
                        " must be replaced: {} forces it",
                        forcing.join(", ")
                    );
                }
            }
        }
        Action::Update if change.drift => header.push_str(" changed outside Beanpole (drift)"),
        _ => {}
    }
    let _ = writeln!(out, "{header}");
    if let Some(set) = &change.change_set {
        let _ = writeln!(
            out,
            "      change set {}: {}",
            set.name,
            if set.changes.is_empty() {
                "no resource changes".to_string()
            } else {
                format!("{} resource change(s)", set.changes.len())
            }
        );
        for c in &set.changes {
            let _ = writeln!(out, "        {}", c.line());
        }
    }
    for kept in &change.kept {
        let _ = writeln!(
            out,
            "      keeps {kept}: it holds data (destroy --delete-data deletes it)"
        );
    }
    let width = change
        .attributes
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0);
    for a in &change.attributes {
        let forces = if a.forces_replacement {
            "   # forces replacement"
        } else {
            ""
        };
        match (change.action, &a.before, &a.after) {
            (Action::Create, _, _) => {
                let _ = writeln!(out, "      + {:width$} = {}", a.name, after_text(a));
            }
            // Objects (a health check, a policy document) show only the keys that differ.
            (_, Value::Object(before), Value::Object(after)) if !a.after_unknown => {
                let keys: std::collections::BTreeSet<&String> =
                    before.keys().chain(after.keys()).collect();
                for key in keys {
                    let (b, n) = (before.get(key), after.get(key));
                    if b != n {
                        let _ = writeln!(
                            out,
                            "      ~ {}.{key} : {} → {}{forces}",
                            a.name,
                            b.map(short).unwrap_or_else(|| "(none)".into()),
                            n.map(short).unwrap_or_else(|| "(none)".into()),
                        );
                    }
                }
            }
            _ => {
                let _ = writeln!(
                    out,
                    "      ~ {:width$} : {} → {}{forces}",
                    a.name,
                    short(&a.before),
                    after_text(a),
                );
            }
        }
    }
}

pub fn summary_line(summary: &Summary) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        summary.add, summary.change, summary.replace, summary.destroy
    )
}

/// The plan for a terminal or a log.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    for swapped in &plan.swapped {
        let _ = writeln!(out, "Note: {}.", swapped.note());
    }
    if !plan.swapped.is_empty() {
        out.push('\n');
    }
    for unfinished in &plan.unfinished {
        let _ = writeln!(out, "Unfinished: {}.", unfinished.note());
    }
    if !plan.unfinished.is_empty() {
        out.push('\n');
    }
    render_stack_drift(plan, &mut out);
    if plan.is_empty() {
        if plan.stack_drift.iter().any(|d| !d.resources.is_empty()) {
            out.push_str("No changes. The stacks' templates match the spec; the drift above stays until it is put back.\n");
        } else {
            out.push_str("No changes. The account matches the spec.\n");
        }
        for rollout in &plan.rollouts {
            let _ = writeln!(
                out,
                "Unfinished: {} (instances launched from an older launch template version remain).",
                rollout.note()
            );
        }
        render_settings(plan, &mut out);
        return out;
    }
    let drift: Vec<&Change> = plan.changes.iter().filter(|c| c.drift).collect();
    if !drift.is_empty() {
        let _ = writeln!(
            out,
            "Drift: {} resource{} changed outside Beanpole; apply reverts {}:",
            drift.len(),
            if drift.len() == 1 { "" } else { "s" },
            if drift.len() == 1 { "it" } else { "them" }
        );
        for c in &drift {
            let _ = writeln!(out, "  {}", c.address);
        }
        out.push('\n');
    }
    out.push_str("Beanpole will perform these actions:\n\n");
    for change in &plan.changes {
        render_change(change, &mut out);
        out.push('\n');
    }
    out.push_str(&summary_line(&plan.summary()));
    out.push('\n');
    for rollout in &plan.rollouts {
        let _ = writeln!(out, "Then {}.", rollout.note());
    }
    render_settings(plan, &mut out);
    out
}

/// Each environment's option values that differ from Elastic Beanstalk's defaults, with where
/// each comes from: the spec's line, or the file of the version it runs. A property's value is
/// not shown (properties may hold secrets).
fn render_settings(plan: &Plan, out: &mut String) {
    use crate::platform::precedence::Source;
    for env in &plan.settings {
        if env.values.is_empty() && env.version_problem.is_none() {
            continue;
        }
        let running = match &env.version {
            Some(label) => format!(" (running {label})"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "\nSettings of {}{running} that differ from the defaults, and where each is set:",
            env.environment
        );
        for v in &env.values {
            let value = match &v.value {
                Some(value) => format!(" = {}", crate::display::one_line(value)),
                None => String::new(),
            };
            let from = match &v.source {
                Source::Spec { setting, at } if at.is_empty() => format!("the spec's `{setting}`"),
                Source::Spec { setting, at } => format!("the spec's `{setting}` at {at}"),
                Source::Version { label, file } => format!("version {label}'s {file}"),
            };
            let _ = writeln!(out, "  {} {}{value}: {from}", v.namespace, v.option);
        }
        if let Some(problem) = &env.version_problem {
            let _ = writeln!(
                out,
                "  (not counted: the option settings of {}: {problem})",
                env.version.as_deref().unwrap_or("its version")
            );
        }
    }
}

/// What CloudFormation's drift detection found, stack by stack. Apply does not undo it: a
/// change set changes what the template changes, so the way back is said.
fn render_stack_drift(plan: &Plan, out: &mut String) {
    for drift in &plan.stack_drift {
        if let Some(why) = &drift.unknown {
            let _ = writeln!(
                out,
                "Drift of {} (stack {}) is not known: {why}.\n",
                drift.address, drift.stack
            );
            continue;
        }
        let _ = writeln!(
            out,
            "Drift (CloudFormation's drift detection): {} resource{} of {} (stack {}) changed outside CloudFormation:",
            drift.resources.len(),
            if drift.resources.len() == 1 { "" } else { "s" },
            drift.address,
            drift.stack
        );
        for resource in &drift.resources {
            let _ = writeln!(out, "  {}", resource.line());
        }
        out.push_str("  Apply does not put it back (a change set changes only what the template changes): set it back in the account, or change the spec so that the stack's next change sets that resource again.\n\n");
    }
}

/// The plan as the documented JSON schema.
pub fn render_json(plan: &Plan, calls: &CallStats) -> Value {
    let summary = plan.summary();
    json!({
        "format_version": FORMAT_VERSION,
        "changes": plan.changes,
        "summary": summary,
        "notes": plan.swapped.iter().map(|s| s.note()).collect::<Vec<_>>(),
        "rollouts": plan.rollouts.iter().map(|r| json!({
            "environment": r.environment,
            "change": r.change,
            "instances": r.instances,
            "policy": r.policy,
            "batch_size": r.batch_size.to_string(),
            "note": r.note(),
        })).collect::<Vec<_>>(),
        "unfinished": plan.unfinished.iter().map(|u| json!({
            "environment": u.environment,
            "deployment_id": u.deployment_id,
            "version": u.version,
            "policy": u.policy,
            "added": u.added,
            "note": u.note(),
        })).collect::<Vec<_>>(),
        "swapped": plan.swapped,
        "stack_drift": plan.stack_drift,
        "settings": plan.settings,
        "errors": plan.errors.iter().map(|e| json!({ "message": e.to_string(), "detail": e })).collect::<Vec<_>>(),
        "calls": {
            "per_service": calls.per_service,
            "total": calls.total(),
            "wall_ms": calls.wall_ms,
        },
    })
}

/// The `-v` report of the calls a read made.
pub fn render_calls(calls: &CallStats) -> String {
    let per: Vec<String> = calls
        .per_service
        .iter()
        .map(|(service, n)| format!("{service} {n}"))
        .collect();
    format!(
        "AWS API calls: {} ({}) in {} ms",
        calls.total(),
        per.join(", "),
        calls.wall_ms
    )
}
