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
    let per_batch = match policy {
        DeploymentPolicy::AllAtOnce => instances.len(),
        DeploymentPolicy::Rolling => {
            batch_size.of(u32::try_from(instances.len()).unwrap_or(u32::MAX)) as usize
        }
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
        leaves_target_group: policy == DeploymentPolicy::Rolling,
        leader,
    })
}

impl DeployPlan {
    /// `rolling, batch 1: 3 batches` — how the plan reads in one line.
    pub fn summary(&self) -> String {
        let instances: usize = self.batches.iter().map(|b| b.instances.len()).sum();
        format!(
            "{} instance{}, {}{}, {} batch{}",
            instances,
            if instances == 1 { "" } else { "s" },
            self.policy.name(),
            match self.policy {
                DeploymentPolicy::AllAtOnce => String::new(),
                DeploymentPolicy::Rolling => format!(" (batch size {})", self.batch_size),
            },
            self.batches.len(),
            if self.batches.len() == 1 { "" } else { "es" },
        )
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
