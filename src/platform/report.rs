//! What the platform engine reports about one deployment on one instance (or this machine):
//! per step its duration and outcome, and on failure the step, why, and the last lines of its
//! output. The engine writes it as JSON (its schema: `src/platform/schema/report.schema.json`);
//! this is its shape. Also the progress it writes beside the report while it works.

use serde::{Deserialize, Serialize};

/// The report format this Beanpole reads (the engine's `SCHEMA`).
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub instance: String,
    pub application: String,
    pub environment: String,
    pub deployment_id: u64,
    pub version: String,
    pub status: ReportStatus,
    pub leader: bool,
    pub failed_step: Option<String>,
    pub message: String,
    pub output_tail: String,
    /// The version serving again after a failure past the flip, if one could be put back.
    pub rolled_back_to: Option<String>,
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
    pub started: String,
    pub finished: String,
    pub engine_seconds: f64,
}

/// How the deployment went, in EB's engine's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReportStatus {
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub seconds: f64,
    pub outcome: StepOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    Ok,
    Failed,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.status == ReportStatus::Success
    }

    /// Whether the step that makes the new version current (`FlipApplication`) completed.
    pub fn flipped(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.name == "FlipApplication" && s.outcome == StepOutcome::Ok)
    }

    /// The steps with their durations, one line each.
    pub fn step_lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|step| {
                let mark = match step.outcome {
                    StepOutcome::Ok => "ok",
                    StepOutcome::Failed => "FAILED",
                };
                format!("  {:<32} {:>8.2} s  {mark}", step.name, step.seconds)
            })
            .collect()
    }

    /// A failed deployment: the step, why, the output's last lines, and what serves now.
    pub fn failure_text(&self) -> String {
        let mut text = format!(
            "the deployment of {} failed at {}: {}",
            self.version,
            self.failed_step.as_deref().unwrap_or("?"),
            self.message
        );
        if !self.output_tail.is_empty() {
            text.push_str("\n--- last lines of its output ---\n");
            text.push_str(&self.output_tail);
        }
        if let Some(previous) = &self.rolled_back_to {
            text.push_str(&format!("\nversion {previous} was put back and serves"));
        }
        text
    }

    /// The version the instance serves after this deployment: the new one, the one put back
    /// after a failure past the flip, or (`None`) nothing known.
    pub fn serving(&self) -> Option<&str> {
        if self.succeeded() {
            Some(&self.version)
        } else {
            self.rolled_back_to.as_deref()
        }
    }
}

/// The step an instance's engine is at, written beside its report while it works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub instance: String,
    pub deployment_id: u64,
    pub step: String,
    pub elapsed: f64,
}
