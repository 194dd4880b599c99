//! The walk of a plan (apply's and destroy's): its steps run in parallel along the graph, each
//! step calling into the AWS shell. Reports each step as it starts and finishes; stops
//! starting new steps on a failure or an interrupt, and says what was done and what was not.

use super::plan::Planned;
use super::Session;
use crate::aws::cloudformation::StackEventSink;
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
    /// A stack the step changes recorded an event (CloudFormation's own progress).
    Stack {
        label: String,
        event: crate::aws::cloudformation::StackEvent,
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

/// What the user hears of one of the walker's events: the changes' starts and ends, and every
/// failure.
fn walk_event(works: &[(String, StepWork)], event: Event<'_, StepError>) -> Option<WalkEvent> {
    match event {
        Event::Started { index, label } => {
            works
                .get(index)
                .filter(|(_, w)| w.is_change())
                .map(|(_, work)| WalkEvent::Started {
                    label: label.to_string(),
                    doing: work.doing(),
                })
        }
        Event::Finished {
            index,
            label,
            outcome,
        } => {
            let (_, work) = works.get(index)?;
            match outcome {
                Outcome::Succeeded(elapsed) if work.is_change() => Some(WalkEvent::Done {
                    label: label.to_string(),
                    done: work.done(),
                    elapsed: *elapsed,
                }),
                Outcome::Failed(error) => Some(WalkEvent::Failed {
                    label: label.to_string(),
                    message: error.to_string(),
                }),
                _ => None,
            }
        }
    }
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
    // The walk's own events and its stacks' events reach `on_event` through one loop, as
    // they happen; both channels close when the walk ends.
    let (walk_events, mut walk_received) = tokio::sync::mpsc::unbounded_channel::<WalkEvent>();
    let (stack_events, mut stack_received) = tokio::sync::mpsc::unbounded_channel();
    let walking = async {
        let (walk_events, stack_events) = (walk_events, stack_events);
        walk(
            steps,
            parallelism,
            interrupt,
            &super::MachineClock,
            |work: StepWork| {
                let aws = clients.get(work.application()).cloned().map(|mut aws| {
                    aws.stack_events = Some(StackEventSink {
                        label: work.label(),
                        sender: stack_events.clone(),
                    });
                    aws
                });
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
            |event| {
                if let Some(e) = walk_event(&works, event) {
                    let _ = walk_events.send(e);
                }
            },
        )
        .await
    };
    let forwarding = async {
        loop {
            tokio::select! {
                Some(event) = walk_received.recv() => on_event(event),
                Some((label, event)) = stack_received.recv() => on_event(WalkEvent::Stack { label, event }),
                else => break,
            }
        }
    };
    let (outcomes, ()) = tokio::join!(walking, forwarding);
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
