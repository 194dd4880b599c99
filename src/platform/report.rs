//! What the platform engine reports about one deployment on one instance (or this machine):
//! per step its duration and outcome, and on failure the step, why, and the last lines of its
//! output. The engine writes it as JSON; this is its shape.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub instance: String,
    pub application: String,
    pub environment: String,
    pub deployment_id: u64,
    pub version: String,
    /// `SUCCESS` or `FAILURE`, as EB's engine says.
    pub status: String,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub seconds: f64,
    /// `ok` or `failed`.
    pub outcome: String,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCESS"
    }
}
