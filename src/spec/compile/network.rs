//! The `network` block of an environment: the VPC and subnets it runs in.

use super::*;

pub(super) fn read_network(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<Option<Network>> {
    let Some(block) = block else {
        return Some(None);
    };
    let r = sub_reader(file, block, "network", &["vpc_id", "subnets"], &[], ev);
    let vpc = r.required_string(
        ev,
        "vpc_id",
        "add `vpc_id = \"vpc-…\"`, or remove the block to use the default VPC",
    );
    if let Some((v, span)) = &vpc {
        r.check(ev, "VPC id", v, span, checks::resource_id(v, "vpc"));
    }
    let subnets = r.required_string_list(
        ev,
        "subnets",
        "list at least two subnets in different Availability Zones",
    );
    if let Some((list, span)) = &subnets {
        for (i, s) in list.iter().enumerate() {
            let at = r.element_span("subnets", i);
            r.check(ev, "subnet id", s, &at, checks::resource_id(s, "subnet"));
        }
        if list.len() < 2 {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::InvalidValue {
                        what: "subnets".into(),
                        value: list.join(", "),
                        reason: ": an Application Load Balancer needs subnets in at least two Availability Zones".into(),
                    },
                    span.clone(),
                )
                .with_hint("list two or more subnets"),
            );
        }
    }
    match (vpc, subnets, r.failed()) {
        (Some((vpc_id, _)), Some((subnets, _)), false) => Some(Some(Network { vpc_id, subnets })),
        _ => None,
    }
}
