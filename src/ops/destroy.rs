//! `destroy`'s own rule: an environment whose name moved in a swap less than the records' TTL
//! ago may still receive traffic from resolvers that cached the old answer, so it is not
//! destroyed without `--force`. Pure: a plan and the time in, the environments to hold back out.

use crate::graph::compile::RECORD_TTL;
use crate::graph::ResourceKind;
use crate::reconcile::Plan;

/// A marker dated more than this far in the future is not a clock difference but a corrupted
/// (or hand-written) record.
pub const CLOCK_SKEW_SECONDS: u64 = 3600;

/// An environment in a destroy plan that took part in a swap too recently.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecentSwap {
    pub environment: String,
    /// The `swapped-at` of its ownership record (Unix seconds).
    pub swapped_at: u64,
    /// When it becomes safe to destroy; `None` when `swapped_at` lies in the future, so the
    /// marker cannot be trusted to say.
    pub safe_from: Option<u64>,
}

/// Environments of a destroy plan whose names moved in a swap less than a TTL ago.
pub fn recently_swapped(plan: &Plan, now: u64) -> Vec<RecentSwap> {
    let mut found = Vec::new();
    for live in plan.deletions.values() {
        if live.kind != ResourceKind::OwnershipRecord {
            continue;
        }
        let swapped_at = live.outputs.get("swapped_at").and_then(|v| v.as_u64());
        let ttl = live
            .attributes
            .get("ttl")
            .and_then(|v| v.as_u64())
            .unwrap_or(RECORD_TTL as u64);
        let (Some(at), Some(environment)) = (swapped_at, &live.environment) else {
            continue;
        };
        if at > now.saturating_add(CLOCK_SKEW_SECONDS) {
            found.push(RecentSwap {
                environment: environment.clone(),
                swapped_at: at,
                safe_from: None,
            });
            continue;
        }
        let safe = at.saturating_add(ttl);
        if now < safe {
            found.push(RecentSwap {
                environment: environment.clone(),
                swapped_at: at,
                safe_from: Some(safe),
            });
        }
    }
    found.sort();
    found.dedup();
    found
}

/// One sentence per environment held back, for the refusal (or the `--force` warning).
pub fn describe(recent: &[RecentSwap], now: u64) -> String {
    let list: Vec<String> = recent
        .iter()
        .map(|r| match r.safe_from {
            Some(safe) => format!(
                "{} (safe from {}, in {} s)",
                r.environment,
                super::utc(safe),
                safe.saturating_sub(now)
            ),
            None => format!(
                "{} (its ownership record says it was swapped at {}, which is in the future: the record looks corrupted; check it with `beanpole status`)",
                r.environment, r.swapped_at
            ),
        })
        .collect();
    format!(
        "{} took part in a swap less than its records' TTL ago: clients may still resolve its name to it. Wait, or pass --force",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Address;
    use crate::reconcile::LiveResource;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn plan_with_marker(swapped_at: serde_json::Value) -> Plan {
        let mut plan = Plan::default();
        plan.deletions.insert(
            Address("environment.blue.ownership_record".into()),
            LiveResource {
                kind: ResourceKind::OwnershipRecord,
                aws_name: "_beanpole.pets.example.com".into(),
                owned: true,
                application: Some("pets".into()),
                environment: Some("blue".into()),
                address: None,
                attributes: BTreeMap::from([("ttl".to_string(), json!(60))]),
                outputs: BTreeMap::from([("swapped_at".to_string(), swapped_at)]),
                tags: BTreeMap::new(),
            },
        );
        plan
    }

    #[test]
    fn a_fresh_swap_holds_the_environment_back_until_the_ttl_passed() {
        let plan = plan_with_marker(json!(1000));
        let recent = recently_swapped(&plan, 1030);
        assert_eq!(recent[0].safe_from, Some(1060));
        assert!(recently_swapped(&plan, 1060).is_empty());
    }

    #[test]
    fn a_marker_at_the_end_of_time_is_refused_as_corrupted_without_overflow() {
        let plan = plan_with_marker(json!(u64::MAX));
        let recent = recently_swapped(&plan, 1_796_043_600);
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].safe_from, None);
        assert!(describe(&recent, 1_796_043_600).contains("looks corrupted"));
    }

    #[test]
    fn a_far_future_but_plausible_time_prints_a_date_not_only_a_time_of_day() {
        let now = 1_796_043_600;
        let plan = plan_with_marker(json!(now + 30));
        let text = describe(&recently_swapped(&plan, now), now);
        assert!(text.contains("2026-11-30 13:01:30 UTC"), "{text}");
    }
}
