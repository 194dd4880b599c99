//! The `permissions` block of an environment: managed policies and statements of the
//! instance role; a statement names its resources, and a wildcard action is warned about.

use super::*;

pub(super) fn read_permissions(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<Permissions> {
    let Some(block) = block else {
        return Some(Permissions::default());
    };
    let r = sub_reader(
        file,
        block,
        "permissions",
        &["managed_policies"],
        &["statement"],
        ev,
    );
    let mut permissions = Permissions::default();
    if let Some((policies, _)) = r.string_list(ev, "managed_policies") {
        for (i, p) in policies.iter().enumerate() {
            let at = r.element_span("managed_policies", i);
            r.check(ev, "policy ARN", p, &at, checks::policy_arn(p));
        }
        permissions.managed_policies = policies;
    }
    let mut ok = !r.failed();
    for block in r.blocks("statement") {
        let s = sub_reader(
            file,
            block,
            "statement",
            &["effect", "actions", "resources", "sid"],
            &[],
            ev,
        );
        let effect = match s.string(ev, "effect") {
            None => "Allow".to_string(),
            Some((e, span)) => match e.as_str() {
                "Allow" | "Deny" => e,
                _ => {
                    s.check(
                        ev,
                        "effect",
                        &e,
                        &span,
                        Err("an effect is \"Allow\" or \"Deny\"".into()),
                    );
                    e
                }
            },
        };
        let actions = s.required_string_list(ev, "actions", "add `actions = [\"service:Action\"]`");
        if let Some((list, span)) = &actions {
            if list.is_empty() {
                s.check(
                    ev,
                    "actions",
                    "[]",
                    span,
                    Err("a statement needs at least one action".into()),
                );
            }
            for (i, a) in list.iter().enumerate() {
                let at = s.element_span("actions", i);
                s.check(ev, "IAM action", a, &at, checks::iam_action(a));
            }
        }
        if let Some((list, _)) = &actions {
            for (i, a) in list.iter().enumerate() {
                if a == "*" && effect == "Allow" {
                    ev.warnings.push(
                        Diagnostic::new(
                            SpecError::BroadPermission {
                                what: "`actions = [\"*\"]` allows every action of every service".into(),
                            },
                            s.element_span("actions", i),
                        )
                        .with_hint("name the actions the application calls, e.g. `[\"dynamodb:GetItem\", \"dynamodb:Query\"]`"),
                    );
                }
            }
        }
        let mut resource_refs = Vec::new();
        let resources = match s.value(ev, "resources") {
            Some((Value::List(items), span)) => {
                // Extra resources' outputs are taken whole; the rest are ARNs (or `*`).
                let (outputs, arns): (Vec<_>, Vec<_>) = items
                    .into_iter()
                    .enumerate()
                    .partition(|(_, item)| output_ref_of(item).is_some());
                resource_refs = outputs
                    .iter()
                    .filter_map(|(_, item)| output_ref_of(item))
                    .collect();
                let mut list = Vec::new();
                for (i, item) in arns {
                    match item.to_template_string() {
                        Some(res) if !matches!(item, Value::Null) => {
                            let at = s.element_span("resources", i);
                            s.check(ev, "ARN", &res, &at, checks::policy_resource(&res));
                            list.push(res);
                        }
                        _ => {
                            s.check(
                                ev,
                                "resources",
                                &item.describe(),
                                &span,
                                Err("each element is an ARN string or an extra resource's `.arn` (or `.ref`)".into()),
                            );
                        }
                    }
                }
                list
            }
            Some((other, span)) => {
                s.check(
                    ev,
                    "resources",
                    &other.describe(),
                    &span,
                    Err("`resources` is a list: wrap it in brackets".into()),
                );
                Vec::new()
            }
            None if s.has("resources") => Vec::new(),
            None => {
                s.missing(
                    ev,
                    "resources",
                    "add `resources = [\"arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE\"]` naming what the actions may touch (write `[\"*\"]` only if every resource is meant)",
                );
                Vec::new()
            }
        };
        let sid = s.string(ev, "sid").map(|(sid, _)| sid);
        ok &= !s.failed();
        if let Some((actions, _)) = actions {
            permissions.statements.push(Statement {
                sid,
                effect,
                actions,
                resources,
                resource_refs,
            });
        }
    }
    ok.then_some(permissions)
}
