//! How a deployment went: per instance, per batch, its rollback, the whole of it (what
//! `deploy --json` prints and a deploy's event keeps), and the pure rules that read it from
//! the engine's reports and the target group: what an instance serves after a report, whether
//! a target left its target group, whether its state lets a batch go on.

use crate::model::{BatchSize, DeploymentPolicy, HealthThreshold};
use crate::platform::report::{Report, Step};
use crate::status::TargetState;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the deployment went on one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceResult {
    Succeeded,
    Failed,
    /// No report within the deployment's timeout.
    TimedOut,
}

impl InstanceResult {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceResult::Succeeded => "succeeded",
            InstanceResult::Failed => "failed",
            InstanceResult::TimedOut => "timed-out",
        }
    }
}

impl std::fmt::Display for InstanceResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a deployment (or its rollback) reached every instance it meant to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Completion {
    Succeeded,
    Failed,
}

impl Completion {
    pub fn of(succeeded: bool) -> Completion {
        if succeeded {
            Completion::Succeeded
        } else {
            Completion::Failed
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Completion::Succeeded => "succeeded",
            Completion::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a failed deployment was undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackMethod {
    /// The instances that took the failed version got the good one again.
    Redeployed,
    /// `immutable`, `traffic-splitting`: the temporary group went with its instances; the old
    /// ones never stopped serving the good version.
    NewInstancesRemoved,
}

/// How the deployment went on one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceOutcome {
    pub instance: String,
    pub outcome: InstanceResult,
    pub failed_step: Option<String>,
    pub message: String,
    pub log_tail: String,
    /// The version the instance serves now: the new one, the previous one (a failure before
    /// the flip, or one after it that was rolled back), or none known.
    pub serving: Option<String>,
    pub engine_seconds: Option<f64>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub number: usize,
    pub instances: Vec<InstanceOutcome>,
}

/// The rollback of a failed deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackOutcome {
    /// The version put back.
    pub version: String,
    pub method: RollbackMethod,
    pub deployment_id: u64,
    pub outcome: Completion,
    pub batches: Vec<BatchOutcome>,
}

/// The outcome of a deploy (`deploy --json` prints it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployOutcome {
    pub application: String,
    pub environment: String,
    pub version: String,
    pub deployment_id: u64,
    pub policy: DeploymentPolicy,
    #[serde(with = "batch_size_text")]
    pub batch_size: BatchSize,
    pub outcome: Completion,
    pub batches: Vec<BatchOutcome>,
    /// Instances no batch reached (a failed batch stopped the deploy first).
    pub not_deployed: Vec<String>,
    /// After a failure: the last good version deployed again on the instances that took the
    /// failed one (`rollback = false` in the spec's `deployment` block turns it off).
    pub rollback: Option<RollbackOutcome>,
    /// Who aborted it (`beanpole abort`), if someone did: `PRINCIPAL on HOST`.
    pub aborted: Option<String>,
    pub elapsed_seconds: f64,
    /// Interrupted (Ctrl-C) between batches.
    pub interrupted: bool,
    /// Stopped because another command took the application's lock from it (`unlock
    /// --force`): it put back what it had taken out of the target group and left the rest to
    /// that command.
    #[serde(default)]
    pub lost_lock: bool,
}

/// A batch size as the outcome shows it: `30%`, `2`.
mod batch_size_text {
    use crate::model::BatchSize;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(size: &BatchSize, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(size)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BatchSize, D::Error> {
        let text = String::deserialize(d)?;
        BatchSize::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl RollbackOutcome {
    /// The rollback of `immutable` and `traffic-splitting`: the temporary group went with its
    /// instances; the environment's own kept serving `version`.
    pub fn new_instances_removed(version: &str, deployment_id: u64) -> RollbackOutcome {
        RollbackOutcome {
            version: version.to_string(),
            method: RollbackMethod::NewInstancesRemoved,
            deployment_id,
            outcome: Completion::Succeeded,
            batches: Vec::new(),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.outcome == Completion::Succeeded
    }

    /// The instances the rollback deployed to.
    pub fn instances(&self) -> Vec<&str> {
        self.batches
            .iter()
            .flat_map(|b| b.instances.iter())
            .map(|i| i.instance.as_str())
            .collect()
    }
}

impl DeployOutcome {
    pub fn succeeded(&self) -> bool {
        self.outcome == Completion::Succeeded
    }

    pub fn failed_instances(&self) -> impl Iterator<Item = &InstanceOutcome> {
        failed(&self.batches)
    }

    /// How many instances took part in its batches.
    pub fn instance_count(&self) -> usize {
        self.batches.iter().map(|b| b.instances.len()).sum()
    }

    /// Why it stopped, when Ctrl-C or another command's lock stopped it.
    pub fn stop_message(&self) -> String {
        let still = if self.not_deployed.is_empty() {
            "no other instance".to_string()
        } else {
            self.not_deployed.join(", ")
        };
        let runs = if self.not_deployed.len() == 1 {
            "s"
        } else {
            ""
        };
        if self.lost_lock {
            format!(
                "the deploy of {} to {} stopped: another command took the application's lock (`beanpole unlock --force`), and this one changes nothing more; the batches that completed run {}; the next apply, deploy or abort undoes what it left (instances out of the target group, {} on those that took it)",
                self.version, self.environment, self.version, self.version
            )
        } else {
            format!(
                "Interrupted: the batches that completed run {}; {still} still run{runs} the previous version.",
                self.version
            )
        }
    }

    /// A failed deploy's account: each failed instance (its step, why, its output's last
    /// lines, what it serves now), then its rollback.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for failed in self.failed_instances() {
            lines.push(format!(
                "\n{}: {} at {}: {}",
                failed.instance,
                failed.outcome,
                failed.failed_step.as_deref().unwrap_or("-"),
                failed.message
            ));
            lines.extend(failed.log_tail.lines().map(|l| format!("  | {l}")));
            lines.push(match &failed.serving {
                Some(v) => format!("  {} still serves {v}.", failed.instance),
                None => format!(
                    "  {} may serve nothing: see `beanpole logs {} --instance {}`.",
                    failed.instance, self.environment, failed.instance
                ),
            });
        }
        if let Some(r) = &self.rollback {
            let instances = r.instances();
            lines.push(if r.method == RollbackMethod::NewInstancesRemoved {
                format!(
                    "\nRolled back: the new instances went with the temporary group; the environment's instances never stopped serving {}.",
                    r.version
                )
            } else if r.succeeded() {
                format!(
                    "\nRolled back: {} serve{} {} again (deployment {}).",
                    instances.join(", "),
                    if instances.len() == 1 { "s" } else { "" },
                    r.version,
                    r.deployment_id
                )
            } else {
                format!(
                    "\nThe rollback to {} (deployment {}) failed too: see `beanpole logs {}`.",
                    r.version, r.deployment_id, self.environment
                )
            });
        }
        lines
    }

    /// The error a failed (or aborted) deploy ends with.
    pub fn failure_message(&self) -> String {
        if let Some(by) = &self.aborted {
            return format!(
                "the deployment of {} to {} was aborted by {by}",
                self.version, self.environment
            );
        }
        format!(
            "the deployment of {} to {} failed; {}. Fix the version and deploy again, or `beanpole deploy ENV --version LABEL` to go back to a good one",
            self.version,
            self.environment,
            if self.not_deployed.is_empty() {
                "no other batch was left".to_string()
            } else {
                format!(
                    "not started on {} (still on the previous version)",
                    self.not_deployed.join(", ")
                )
            }
        )
    }
}

/// The instances of some batches whose deployment did not succeed.
pub fn failed(batches: &[BatchOutcome]) -> impl Iterator<Item = &InstanceOutcome> {
    batches
        .iter()
        .flat_map(|b| b.instances.iter())
        .filter(|i| i.outcome != InstanceResult::Succeeded)
}

/// The instances of `batches` that serve `label` now (to roll back after a failure),
/// except `except` (an extra batch, retired anyway).
pub fn serving(batches: &[BatchOutcome], label: &str, except: &[String]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.instances.iter())
        .filter(|o| o.serving.as_deref() == Some(label))
        .filter(|o| !except.contains(&o.instance))
        .map(|o| o.instance.clone())
        .collect()
}

/// What the engine's report says of one instance. `previous` is what the environment served
/// before: an instance that failed before the flip still serves it.
pub fn from_report(instance: &str, report: &Report, previous: &str) -> InstanceOutcome {
    let serving = match report.serving() {
        Some(version) => Some(version.to_string()),
        // Before the flip nothing changed: the previous version still serves.
        None => (!report.flipped()).then(|| previous.to_string()),
    };
    InstanceOutcome {
        instance: instance.to_string(),
        outcome: if report.succeeded() {
            InstanceResult::Succeeded
        } else {
            InstanceResult::Failed
        },
        failed_step: report.failed_step.clone(),
        message: report.message.clone(),
        log_tail: report.output_tail.clone(),
        serving,
        engine_seconds: Some(report.engine_seconds),
        steps: report.steps.clone(),
    }
}

/// An instance whose report could not be read.
pub fn unreadable(instance: &str, why: &str) -> InstanceOutcome {
    InstanceOutcome {
        instance: instance.to_string(),
        outcome: InstanceResult::Failed,
        failed_step: None,
        message: format!("its report is not what the engine writes: {why}"),
        log_tail: String::new(),
        serving: None,
        engine_seconds: None,
        steps: Vec::new(),
    }
}

/// An instance that sent no report within `timeout`; `step` is the last one it said it was at.
pub fn timed_out(instance: &str, step: Option<&str>, timeout: Duration) -> InstanceOutcome {
    InstanceOutcome {
        instance: instance.to_string(),
        outcome: InstanceResult::TimedOut,
        failed_step: step.map(str::to_string),
        message: format!(
            "no report within the deployment's timeout ({} s){}",
            timeout.as_secs(),
            match step {
                Some(step) => format!("; it was at {step}"),
                None => "; it never started: is the SSM agent running, and does the instance role allow Run Command?".into(),
            }
        ),
        log_tail: String::new(),
        serving: None,
        engine_seconds: None,
        steps: Vec::new(),
    }
}

/// A new instance that turned unhealthy during traffic splitting's evaluation.
pub fn failed_evaluation(instance: &str, state: &str) -> InstanceOutcome {
    InstanceOutcome {
        instance: instance.to_string(),
        outcome: InstanceResult::Failed,
        failed_step: Some("Evaluation".into()),
        message: format!("turned {state} in the temporary target group during the evaluation"),
        log_tail: String::new(),
        serving: None,
        engine_seconds: None,
        steps: Vec::new(),
    }
}

/// A new instance launched from a new launch template that joined healthy (apply's rollout).
pub fn launched(instance: &str, label: &str, replaced: &[String]) -> InstanceOutcome {
    InstanceOutcome {
        instance: instance.to_string(),
        outcome: InstanceResult::Succeeded,
        failed_step: None,
        message: format!(
            "launched from the new launch template; replaced {}",
            replaced.join(", ")
        ),
        log_tail: String::new(),
        serving: Some(label.to_string()),
        engine_seconds: None,
        steps: Vec::new(),
    }
}

/// Whether a target left its target group: not listed, or `unused` (drained).
pub fn drained(state: Option<TargetState>) -> bool {
    matches!(state, None | Some(TargetState::Unused))
}

/// Whether a target's state lets its batch go on: healthy; or, with a health threshold below
/// Ok (the engine rated the instance itself), any state but gone or leaving.
pub fn target_passes(state: Option<TargetState>, threshold: HealthThreshold) -> bool {
    match state {
        Some(TargetState::Healthy) => true,
        None | Some(TargetState::Draining | TargetState::Unused) => false,
        Some(_) => threshold != HealthThreshold::Ok,
    }
}

/// How many existing instances each batch of apply's rollout replaces: the whole group at
/// once for `all-at-once`, else the planned batch's size (at least one).
pub fn replacement_batch(policy: DeploymentPolicy, in_service: usize, planned: usize) -> usize {
    match policy {
        DeploymentPolicy::AllAtOnce => in_service,
        _ => planned,
    }
    .max(1)
}

/// What a deploy's event and progress call its outcome in one line.
pub fn summary(outcome: &DeployOutcome) -> String {
    let failed: Vec<String> = outcome
        .failed_instances()
        .map(|i| {
            format!(
                "{} {} at {}",
                i.instance,
                i.outcome,
                i.failed_step.as_deref().unwrap_or("-")
            )
        })
        .collect();
    let how = if outcome.succeeded() {
        "deployed to every instance".to_string()
    } else if outcome.lost_lock {
        "stopped: another command took the application's lock".to_string()
    } else if outcome.interrupted {
        "interrupted".to_string()
    } else {
        format!(
            "{}{}",
            failed.join(", "),
            match &outcome.rollback {
                Some(r) => format!(
                    "; rollback to {} (deployment {}) {}",
                    r.version, r.deployment_id, r.outcome
                ),
                None => String::new(),
            }
        )
    };
    let summary = format!(
        "{} (deployment {}, {}): {how}",
        outcome.version,
        outcome.deployment_id,
        outcome.policy.name()
    );
    match &outcome.aborted {
        Some(by) => format!("aborted by {by}; {summary}"),
        None => summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::report::{ReportStatus, StepOutcome};

    fn report(status: ReportStatus, steps: &[(&str, StepOutcome)], back: Option<&str>) -> Report {
        Report {
            schema: 1,
            instance: "i-1".into(),
            application: "a".into(),
            environment: "e".into(),
            deployment_id: 3,
            version: "v2".into(),
            status,
            leader: true,
            failed_step: (status == ReportStatus::Failure).then(|| "HealthCheck".to_string()),
            message: String::new(),
            output_tail: String::new(),
            rolled_back_to: back.map(str::to_string),
            steps: steps
                .iter()
                .map(|(name, outcome)| Step {
                    name: name.to_string(),
                    seconds: 0.1,
                    outcome: *outcome,
                })
                .collect(),
            warnings: Vec::new(),
            started: String::new(),
            finished: String::new(),
            engine_seconds: 1.5,
        }
    }

    #[test]
    fn what_an_instance_serves_follows_its_report() {
        use StepOutcome::{Failed, Ok};
        let ok = report(ReportStatus::Success, &[("FlipApplication", Ok)], None);
        assert_eq!(from_report("i-1", &ok, "v1").serving.as_deref(), Some("v2"));
        assert_eq!(
            from_report("i-1", &ok, "v1").outcome,
            InstanceResult::Succeeded
        );
        // Failed before the flip: the previous version never stopped.
        let early = report(
            ReportStatus::Failure,
            &[("InstallDependency", Failed)],
            None,
        );
        assert_eq!(
            from_report("i-1", &early, "v1").serving.as_deref(),
            Some("v1")
        );
        // Failed after the flip and put back: what was put back.
        let back = report(
            ReportStatus::Failure,
            &[("FlipApplication", Ok), ("HealthCheck", Failed)],
            Some("v1"),
        );
        assert_eq!(
            from_report("i-1", &back, "v0").serving.as_deref(),
            Some("v1")
        );
        // Failed after the flip and nothing could be put back: unknown.
        let lost = report(
            ReportStatus::Failure,
            &[("FlipApplication", Ok), ("HealthCheck", Failed)],
            None,
        );
        let outcome = from_report("i-1", &lost, "v1");
        assert_eq!(outcome.serving, None);
        assert_eq!(outcome.outcome, InstanceResult::Failed);
        assert_eq!(outcome.failed_step.as_deref(), Some("HealthCheck"));
    }

    #[test]
    fn a_target_is_drained_when_gone_or_unused_and_passes_when_healthy() {
        assert!(drained(None));
        assert!(drained(Some(TargetState::Unused)));
        for still in [
            TargetState::Draining,
            TargetState::Healthy,
            TargetState::Initial,
        ] {
            assert!(!drained(Some(still)), "{still}");
        }
        assert!(target_passes(
            Some(TargetState::Healthy),
            HealthThreshold::Ok
        ));
        assert!(!target_passes(
            Some(TargetState::Unhealthy),
            HealthThreshold::Ok
        ));
        assert!(target_passes(
            Some(TargetState::Unhealthy),
            HealthThreshold::Warning
        ));
        for gone in [None, Some(TargetState::Draining), Some(TargetState::Unused)] {
            assert!(!target_passes(gone, HealthThreshold::Severe), "{gone:?}");
        }
    }

    #[test]
    fn the_instances_to_roll_back_are_those_serving_the_failed_version() {
        let ok = |i: &str, serving: &str| InstanceOutcome {
            serving: Some(serving.to_string()),
            ..timed_out(i, None, Duration::from_secs(1))
        };
        let batches = vec![
            BatchOutcome {
                number: 1,
                instances: vec![ok("i-1", "v2"), ok("i-9", "v2")],
            },
            BatchOutcome {
                number: 2,
                instances: vec![ok("i-2", "v1"), timed_out("i-3", None, Duration::ZERO)],
            },
        ];
        assert_eq!(serving(&batches, "v2", &["i-9".into()]), vec!["i-1"]);
        assert_eq!(failed(&batches).count(), 4);
    }

    #[test]
    fn batch_arithmetic_of_a_rollout() {
        assert_eq!(replacement_batch(DeploymentPolicy::AllAtOnce, 4, 1), 4);
        assert_eq!(replacement_batch(DeploymentPolicy::Rolling, 4, 2), 2);
        assert_eq!(replacement_batch(DeploymentPolicy::Rolling, 4, 0), 1);
    }

    #[test]
    fn the_outcome_reads_as_it_always_did_in_json() {
        let outcome = DeployOutcome {
            application: "a".into(),
            environment: "e".into(),
            version: "v2".into(),
            deployment_id: 4,
            policy: DeploymentPolicy::RollingWithAdditionalBatch,
            batch_size: BatchSize::Percent(30),
            outcome: Completion::Failed,
            batches: vec![BatchOutcome {
                number: 1,
                instances: vec![timed_out(
                    "i-1",
                    Some("HealthCheck"),
                    Duration::from_secs(9),
                )],
            }],
            not_deployed: vec!["i-2".into()],
            rollback: Some(RollbackOutcome::new_instances_removed("v1", 4)),
            aborted: None,
            elapsed_seconds: 1.0,
            interrupted: false,
            lost_lock: false,
        };
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["policy"], "rolling-with-additional-batch");
        assert_eq!(json["batch_size"], "30%");
        assert_eq!(json["outcome"], "failed");
        assert_eq!(json["batches"][0]["instances"][0]["outcome"], "timed-out");
        assert_eq!(json["rollback"]["method"], "new-instances-removed");
        assert_eq!(json["rollback"]["outcome"], "succeeded");
        let back: DeployOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, outcome);
        assert!(summary(&outcome).starts_with("v2 (deployment 4, rolling-with-additional-batch): i-1 timed-out at HealthCheck; rollback to v1"));
    }
}
