//! The `capacity` block of an environment: group sizes and scaling targets.

use super::*;

pub(super) fn read_capacity(
    file: FileId,
    block: Option<&Block>,
    tier: Tier,
    ev: &mut Evaluator,
) -> Option<Capacity> {
    let mut capacity = Capacity {
        min: 1,
        max: 4,
        desired: None,
        cpu_target: None,
        requests_per_target: None,
        backlog_per_instance: None,
    };
    let Some(block) = block else {
        return Some(capacity);
    };

    let r = sub_reader(
        file,
        block,
        "capacity",
        &[
            "min",
            "max",
            "desired",
            "cpu_target",
            "requests_per_target",
            "backlog_per_instance",
        ],
        &[],
        ev,
    );
    let min = r.whole_number(ev, "min", 0, 10_000);
    let max = r.whole_number(ev, "max", 1, 10_000);
    let desired = r.whole_number(ev, "desired", 0, 10_000);
    if let Some((m, _)) = &min {
        capacity.min = *m as u32;
    }
    if let Some((m, _)) = &max {
        capacity.max = *m as u32;
    }
    if capacity.min > capacity.max {
        r.mark_failed();
        let span = min
            .as_ref()
            .or(max.as_ref())
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| r.header.clone());
        ev.diagnostics.push(
            Diagnostic::new(
                SpecError::Capacity {
                    message: format!(
                        "min ({}) is greater than max ({})",
                        capacity.min, capacity.max
                    ),
                },
                span,
            )
            .with_hint("lower `min` or raise `max` so that min <= max"),
        );
    }
    if let Some((d, span)) = desired {
        let d = d as u32;
        if d < capacity.min || d > capacity.max {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::Capacity {
                        message: format!(
                            "desired ({d}) is outside min ({}) … max ({})",
                            capacity.min, capacity.max
                        ),
                    },
                    span,
                )
                .with_hint("set desired between min and max, or leave it out"),
            );
        }
        capacity.desired = Some(d);
    }
    if let Some((cpu, span)) = r.number(ev, "cpu_target") {
        if !(1.0..=100.0).contains(&cpu) {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::InvalidValue {
                        what: "cpu_target".into(),
                        value: crate::spec::value::format_number(cpu),
                        reason: ": a CPU target is a percentage".into(),
                    },
                    span,
                )
                .with_hint("set cpu_target between 1 and 100"),
            );
        }
        capacity.cpu_target = Some(cpu);
    }
    if let Some((n, span)) = r.whole_number(ev, "requests_per_target", 1, 1_000_000) {
        if tier == Tier::Worker {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(SpecError::WebOnly { setting: "capacity { requests_per_target }".into() }, span)
                    .with_hint("a worker has no load balancer to count requests: scale it on its queue with `backlog_per_instance`"),
            );
        }
        capacity.requests_per_target = Some(n as u32);
    }
    if let Some((n, span)) = r.whole_number(ev, "backlog_per_instance", 1, 1_000_000) {
        if tier == Tier::Web {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(SpecError::WorkerOnly { setting: "capacity { backlog_per_instance }".into() }, span)
                    .with_hint("a web environment has no queue: scale it with `cpu_target` or `requests_per_target`, or set `tier = \"worker\"`"),
            );
        }
        capacity.backlog_per_instance = Some(n as u32);
    }
    (!r.failed()).then_some(capacity)
}
