//! The walk of a plan (apply's and destroy's): its steps run in parallel along the graph, each
//! step calling into the AWS shell. Reports each step as it starts and finishes; stops
//! starting new steps on a failure or an interrupt, and says what was done and what was not.

use super::plan::Planned;
use super::Session;
use crate::aws::steps::{run_step, Outputs, StepError};
use crate::interrupt::Interrupt;
use crate::reconcile::executor::{walk, Event, Outcome};
use crate::reconcile::steps::{build_steps, StepWork};
use crate::reconcile::Summary;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fault-injection hook for tests: the step with this label panics instead of running, so the
/// walker's handling of a bug in a step can be shown end to end without touching AWS.
pub const PANIC_HOOK: &str = "BEANPOLE_TEST_PANIC_STEP";

/// Progress of a walk.
#[derive(Debug, Clone, PartialEq)]
pub enum WalkEvent {
    /// A step that changes something started ("creating", "deleting"…).
    Started {
        label: String,
        doing: &'static str,
    },
    /// It finished ("created"…).
    Done {
        label: String,
        done: &'static str,
        elapsed: Duration,
    },
    Failed {
        label: String,
        message: String,
    },
}

/// How a walk ended.
#[derive(Debug)]
pub struct WalkOutcome {
    /// Changes made.
    pub done: usize,
    /// Steps that failed, with the AWS error (and its class) or the walker's.
    pub failed: Vec<(String, StepError)>,
    /// Changes never started (after a failure or an interrupt).
    pub not_started: Vec<String>,
    /// The user asked to stop (Ctrl-C).
    pub interrupted: bool,
    pub elapsed: Duration,
    /// What the plan changes, for the closing line.
    pub summary: Summary,
}

impl WalkOutcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && !self.interrupted && self.not_started.is_empty()
    }
}

/// How many steps of the plan change something (for a progress count).
pub fn change_count(planned: &Planned) -> usize {
    build_steps(&planned.graph, &planned.plan)
        .iter()
        .filter(|s| s.work.is_change())
        .count()
}

/// Walks the plan's steps with at most `parallelism` of them doing API work at a time.
pub async fn walk_plan(
    session: &Session,
    planned: &Planned,
    parallelism: usize,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(WalkEvent),
) -> WalkOutcome {
    let steps = build_steps(&planned.graph, &planned.plan);
    let works: Vec<(String, StepWork)> = steps
        .iter()
        .map(|s| (s.label.clone(), s.work.clone()))
        .collect();
    let outputs = Arc::new(Outputs::default());
    if let Ok(mut o) = outputs.0.lock() {
        o.extend(planned.plan.known_outputs.clone());
    }
    let clients = session.by_application.clone();
    let panic_at = std::env::var(PANIC_HOOK).ok();
    let started = Instant::now();
    let outcomes = walk(
        steps,
        parallelism,
        interrupt,
        &super::MachineClock,
        |work: StepWork| {
            let aws = clients.get(work.application()).cloned();
            let outputs = outputs.clone();
            let panics = panic_at.as_deref() == Some(work.label().as_str());
            async move {
                if panics {
                    panic!("{PANIC_HOOK} asked step {} to panic", work.label());
                }
                let Some(aws) = aws else {
                    return Err(StepError::NoConnection(work.application().to_string()));
                };
                run_step(&aws, &work, &outputs)
                    .await
                    .map_err(StepError::from)
            }
        },
        |event| match event {
            Event::Started { index, label } => {
                if let Some((_, work)) = works.get(index).filter(|(_, w)| w.is_change()) {
                    on_event(WalkEvent::Started {
                        label: label.to_string(),
                        doing: work.doing(),
                    });
                }
            }
            Event::Finished {
                index,
                label,
                outcome,
            } => {
                let Some((_, work)) = works.get(index) else {
                    return;
                };
                match outcome {
                    Outcome::Succeeded(elapsed) if work.is_change() => on_event(WalkEvent::Done {
                        label: label.to_string(),
                        done: work.done(),
                        elapsed: *elapsed,
                    }),
                    Outcome::Failed(error) => on_event(WalkEvent::Failed {
                        label: label.to_string(),
                        message: error.to_string(),
                    }),
                    _ => {}
                }
            }
        },
    )
    .await;
    let mut outcome = WalkOutcome {
        done: 0,
        failed: Vec::new(),
        not_started: Vec::new(),
        interrupted: interrupt.is_raised(),
        elapsed: started.elapsed(),
        summary: planned.plan.summary(),
    };
    for ((label, work), result) in works.iter().zip(outcomes) {
        match result {
            Outcome::Failed(error) => outcome.failed.push((label.clone(), error)),
            Outcome::Skipped if work.is_change() => outcome.not_started.push(label.clone()),
            Outcome::Succeeded(_) if work.is_change() => outcome.done += 1,
            _ => {}
        }
    }
    outcome
}
