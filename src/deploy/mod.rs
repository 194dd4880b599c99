//! The deploy planner: which instances take a new version in which batch, and whether they
//! leave the load balancer while they do. Pure: the instances the Auto Scaling group has in
//! service and the environment's deployment settings in, the batches out. `ops::deploy`
//! carries the plan out against AWS.
//!
//! Elastic Beanstalk's semantics: `all-at-once` deploys every instance in one batch without
//! taking it out of the load balancer (a short outage while each restarts); `rolling` deploys
//! batch after batch, each batch leaving the target group first (so no request reaches an
//! instance mid-deploy) and rejoining healthy before the next starts. The first instance of the
//! first batch is the deployment's leader (`leader_only` container commands run there).
//!
//! `immutable` and `traffic-splitting` deploy to no running instance: as many new instances as
//! the group has in service are launched in a temporary group, one first and then the rest
//! (the two batches, whose ids are known once launched), and the old ones are all retired at
//! the end. `traffic-splitting` sends the new instances a share of the requests for an
//! evaluation time before all of them.

pub mod outcome;

use crate::model::{BatchSize, DeploymentPolicy};
use serde::Serialize;

/// What a deployment does, batch by batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployPlan {
    pub policy: DeploymentPolicy,
    /// Instances per batch as the environment's setting says (`30%`, `2`).
    pub batch_size: BatchSize,
    pub batches: Vec<Batch>,
    /// Whether each batch leaves the target group while it deploys (rolling: yes).
    pub leaves_target_group: bool,
    /// The instance that runs `leader_only` container commands.
    pub leader: String,
    /// `rolling-with-additional-batch`: how many instances to launch first (they take the
    /// new version as the first batch), and which existing ones to retire at the end instead
    /// of deploying to them, so that the group ends at its size and capacity never drops.
    pub extra: usize,
    pub retire: Vec<String>,
    /// `immutable`, `traffic-splitting`: how many new instances the temporary group launches
    /// (they replace every instance in `retire`).
    pub replace: usize,
    /// `traffic-splitting`: the new instances' share of requests, and for how long.
    pub traffic_split: Option<TrafficSplit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrafficSplit {
    pub percent: u32,
    pub evaluation_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Batch {
    /// 1-based, as the progress display counts.
    pub number: usize,
    pub instances: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanProblem {
    #[error("the environment has no instance in service to deploy to: check `beanpole status` (its Auto Scaling group may still be launching, or be at 0)")]
    NoInstances,
}

/// The batches of a deployment to `instances` (the group's in-service instances, any order).
pub fn plan(
    instances: &[String],
    policy: DeploymentPolicy,
    batch_size: BatchSize,
) -> Result<DeployPlan, PlanProblem> {
    let mut instances: Vec<String> = instances.to_vec();
    instances.sort();
    instances.dedup();
    let leader = instances.first().cloned().ok_or(PlanProblem::NoInstances)?;
    let count = u32::try_from(instances.len()).unwrap_or(u32::MAX);
    let per_batch = match policy {
        DeploymentPolicy::AllAtOnce => instances.len(),
        DeploymentPolicy::Rolling | DeploymentPolicy::RollingWithAdditionalBatch => {
            batch_size.of(count) as usize
        }
        DeploymentPolicy::Immutable | DeploymentPolicy::TrafficSplitting => instances.len(),
    };
    let (extra, retire, replace) = match policy {
        DeploymentPolicy::RollingWithAdditionalBatch => {
            let retire = instances.split_off(instances.len() - per_batch.min(instances.len()));
            (per_batch, retire, 0)
        }
        DeploymentPolicy::Immutable | DeploymentPolicy::TrafficSplitting => {
            let replace = instances.len();
            (0, std::mem::take(&mut instances), replace)
        }
        _ => (0, Vec::new(), 0),
    };
    let batches = instances
        .chunks(per_batch.max(1))
        .enumerate()
        .map(|(i, chunk)| Batch {
            number: i + 1,
            instances: chunk.to_vec(),
        })
        .collect();
    Ok(DeployPlan {
        policy,
        batch_size,
        batches,
        leaves_target_group: policy != DeploymentPolicy::AllAtOnce,
        leader,
        extra,
        retire,
        replace,
        traffic_split: None,
    })
}

impl DeployPlan {
    /// `rolling, batch 1: 3 batches` — how the plan reads in one line.
    pub fn summary(&self) -> String {
        let instances: usize = self
            .batches
            .iter()
            .map(|b| b.instances.len())
            .sum::<usize>()
            + self.retire.len();
        // A temporary group's two batches (one instance, then the rest) exist once launched.
        let batches = if self.replace > 0 && self.batches.is_empty() {
            self.replace.min(2)
        } else {
            self.batches.len() + usize::from(self.extra > 0)
        };
        format!(
            "{} instance{}, {}{}, {} batch{}{}",
            instances,
            if instances == 1 { "" } else { "s" },
            self.policy.name(),
            match self.policy {
                DeploymentPolicy::AllAtOnce => String::new(),
                _ => format!(" (batch size {})", self.batch_size),
            },
            batches,
            if batches == 1 { "" } else { "es" },
            if self.extra > 0 {
                format!(
                    "; {} new instance{} first, {} retired at the end",
                    self.extra,
                    if self.extra == 1 { "" } else { "s" },
                    self.retire.join(", ")
                )
            } else if self.replace > 0 {
                let old = self.retire.len();
                format!(
                    "; {} new instance{} in a temporary group{} ({}), {}; the {old} old one{} retired at the end",
                    self.replace,
                    if self.replace == 1 { "" } else { "s" },
                    if self.traffic_split.is_some() {
                        " and target group"
                    } else {
                        ""
                    },
                    if self.replace == 1 {
                        "one".to_string()
                    } else {
                        format!("1 first, then {}", self.replace - 1)
                    },
                    match self.traffic_split {
                        Some(t) => format!(
                            "{}% of requests for {}, then all",
                            t.percent,
                            crate::duration::format_secs(t.evaluation_secs)
                        ),
                        None => "behind the same target group".to_string(),
                    },
                    if old == 1 { "" } else { "s" },
                )
            } else {
                String::new()
            },
        )
    }

    /// `traffic-splitting`'s share and evaluation time.
    pub fn with_traffic_split(mut self, percent: u32, evaluation_secs: u32) -> DeployPlan {
        if self.policy == DeploymentPolicy::TrafficSplitting {
            self.traffic_split = Some(TrafficSplit {
                percent,
                evaluation_secs,
            });
        }
        self
    }

    /// The plan once the temporary group launched: its first instance is batch 1 (and
    /// leads), the rest batch 2.
    pub fn with_new_instances(&self, first: &[String], rest: &[String]) -> DeployPlan {
        let mut batches = vec![Batch {
            number: 1,
            instances: first.to_vec(),
        }];
        if !rest.is_empty() {
            batches.push(Batch {
                number: 2,
                instances: rest.to_vec(),
            });
        }
        DeployPlan {
            batches,
            leader: first
                .first()
                .cloned()
                .unwrap_or_else(|| self.leader.clone()),
            ..self.clone()
        }
    }

    /// The plan once the extra batch is launched: it goes first, and its first instance leads.
    pub fn with_extra_batch(&self, launched: &[String]) -> DeployPlan {
        let mut batches = vec![Batch {
            number: 1,
            instances: launched.to_vec(),
        }];
        batches.extend(self.batches.iter().map(|b| Batch {
            number: b.number + 1,
            instances: b.instances.clone(),
        }));
        DeployPlan {
            batches,
            leader: launched
                .first()
                .cloned()
                .unwrap_or_else(|| self.leader.clone()),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).rev().map(|i| format!("i-{i:03}")).collect()
    }

    #[test]
    fn all_at_once_is_one_batch_that_stays_in_the_load_balancer() {
        let plan = plan(&ids(4), DeploymentPolicy::AllAtOnce, BatchSize::Fixed(1)).unwrap();
        assert_eq!(plan.batches.len(), 1);
        assert_eq!(plan.batches[0].instances.len(), 4);
        assert!(!plan.leaves_target_group);
        assert_eq!(plan.leader, "i-000");
        assert_eq!(plan.summary(), "4 instances, all-at-once, 1 batch");
    }

    #[test]
    fn rolling_batches_by_count_and_by_percentage_in_a_stable_order() {
        let by_one = plan(&ids(3), DeploymentPolicy::Rolling, BatchSize::Fixed(1)).unwrap();
        assert_eq!(
            by_one
                .batches
                .iter()
                .map(|b| (b.number, b.instances.clone()))
                .collect::<Vec<_>>(),
            vec![
                (1, vec!["i-000".to_string()]),
                (2, vec!["i-001".to_string()]),
                (3, vec!["i-002".to_string()])
            ]
        );
        assert!(by_one.leaves_target_group);
        assert_eq!(by_one.leader, "i-000");
        // 30% of 4 is 1.2: EB rounds up to 2.
        let pct = plan(&ids(4), DeploymentPolicy::Rolling, BatchSize::Percent(30)).unwrap();
        assert_eq!(
            pct.batches
                .iter()
                .map(|b| b.instances.len())
                .collect::<Vec<_>>(),
            vec![2, 2]
        );
        // A batch larger than the group is the group.
        let big = plan(&ids(2), DeploymentPolicy::Rolling, BatchSize::Fixed(5)).unwrap();
        assert_eq!(big.batches.len(), 1);
        assert_eq!(
            big.summary(),
            "2 instances, rolling (batch size 5), 1 batch"
        );
    }

    #[test]
    fn rolling_with_an_additional_batch_launches_first_and_retires_last() {
        let plan = plan(
            &ids(4),
            DeploymentPolicy::RollingWithAdditionalBatch,
            BatchSize::Fixed(1),
        )
        .unwrap();
        assert_eq!(plan.extra, 1);
        assert_eq!(plan.retire, vec!["i-003".to_string()]);
        assert_eq!(plan.batches.len(), 3);
        assert!(plan.leaves_target_group);
        let launched = plan.with_extra_batch(&["i-new".to_string()]);
        assert_eq!(launched.batches[0].instances, vec!["i-new".to_string()]);
        assert_eq!(launched.batches[3].number, 4);
        assert_eq!(launched.leader, "i-new");
        assert_eq!(
            plan.summary(),
            "4 instances, rolling-with-additional-batch (batch size 1), 4 batches; 1 new instance first, i-003 retired at the end"
        );
        // A group of one: one new instance, the old one retired, nothing else to roll.
        let one = super::plan(
            &ids(1),
            DeploymentPolicy::RollingWithAdditionalBatch,
            BatchSize::Percent(30),
        )
        .unwrap();
        assert_eq!((one.extra, one.batches.len()), (1, 0));
    }

    #[test]
    fn immutable_and_traffic_splitting_replace_every_instance_one_first() {
        let plan = plan(&ids(4), DeploymentPolicy::Immutable, BatchSize::Fixed(1)).unwrap();
        assert_eq!((plan.replace, plan.retire.len()), (4, 4));
        assert!(plan.batches.is_empty());
        assert_eq!(
            plan.summary(),
            "4 instances, immutable (batch size 1), 2 batches; 4 new instances in a temporary group (1 first, then 3), behind the same target group; the 4 old ones retired at the end"
        );
        let launched = plan.with_new_instances(&["i-new0".to_string()], &["i-new1".to_string()]);
        assert_eq!(launched.leader, "i-new0");
        assert_eq!(launched.batches.len(), 2);
        let split = super::plan(
            &ids(2),
            DeploymentPolicy::TrafficSplitting,
            BatchSize::Percent(30),
        )
        .unwrap()
        .with_traffic_split(10, 300);
        assert_eq!(
            split.summary(),
            "2 instances, traffic-splitting (batch size 30%), 2 batches; 2 new instances in a temporary group and target group (1 first, then 1), 10% of requests for 5m, then all; the 2 old ones retired at the end"
        );
        // Other policies carry no split.
        let rolling = super::plan(&ids(2), DeploymentPolicy::Rolling, BatchSize::Fixed(1))
            .unwrap()
            .with_traffic_split(10, 300);
        assert_eq!(rolling.traffic_split, None);
    }

    #[test]
    fn no_instance_is_a_problem_not_an_empty_plan() {
        assert_eq!(
            plan(&[], DeploymentPolicy::Rolling, BatchSize::Fixed(1)),
            Err(PlanProblem::NoInstances)
        );
        let dup = vec!["i-1".to_string(), "i-1".to_string()];
        assert_eq!(
            plan(&dup, DeploymentPolicy::AllAtOnce, BatchSize::Fixed(1))
                .unwrap()
                .batches[0]
                .instances,
            vec!["i-1".to_string()]
        );
    }
}
