//! The walker: runs steps in parallel along their dependencies. A step starts as soon as every
//! step it depends on has succeeded. At most `parallelism` steps do work at a time, but a step
//! that waits for AWS (a load balancer becoming active, instances booting, DNS syncing) gives
//! its slot back while it waits ([`idle`]), so the bound is on concurrent API work, not on
//! concurrent waits (kube-rs's "requeue" idea, within one task). After a failure, a panic or an
//! interrupt no new step starts, running steps finish, and steps that never ran are reported as
//! skipped (they only echo the failure upstream, so they are not errors of their own). Knows
//! nothing of AWS.

use crate::interrupt::Interrupt;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One unit of work and the indices of the steps it waits for.
#[derive(Debug, Clone)]
pub struct Step<T> {
    pub label: String,
    pub depends_on: Vec<usize>,
    pub work: T,
    /// Among ready steps, higher priorities start first: the caller gives the steps on the
    /// longest chains of waits (a load balancer's, say) a head start, so their waits begin
    /// early and overlap everything else.
    pub priority: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    Succeeded(Duration),
    Failed(E),
    /// Not started: something it needs failed, or the walk stopped (failure or interrupt).
    Skipped,
}

/// Where the walker reads the time (to report how long each step took): passed in, so the
/// walker itself does no I/O.
pub trait Clock {
    fn now(&self) -> Instant;
}

/// A step's task panicked: a bug, reported as that step's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked(pub String);

impl From<Panicked> for String {
    fn from(p: Panicked) -> String {
        format!("internal error (the step panicked: {})", p.0)
    }
}

/// What the walker reports while it runs.
#[derive(Debug, Clone)]
pub enum Event<'a, E> {
    Started {
        index: usize,
        label: &'a str,
    },
    Finished {
        index: usize,
        label: &'a str,
        outcome: &'a Outcome<E>,
    },
}

/// The parallelism slot a running step holds (task-local, so the AWS shell's waits can give it
/// back without knowing about the walker).
struct Slot {
    semaphore: Arc<Semaphore>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

tokio::task_local! {
    static SLOT: Slot;
}

/// Runs `wait` without holding the step's parallelism slot, and takes a slot again before
/// returning: for waits on AWS, which cost no API work. Outside a walk it just runs `wait`.
pub async fn idle<F: Future>(wait: F) -> F::Output {
    let semaphore = SLOT
        .try_with(|slot| {
            let permit = slot.permit.lock().ok().and_then(|mut p| p.take());
            permit.map(|p| {
                drop(p);
                slot.semaphore.clone()
            })
        })
        .ok()
        .flatten();
    let output = wait.await;
    if let Some(semaphore) = semaphore {
        if let Ok(permit) = semaphore.acquire_owned().await {
            let _ = SLOT.try_with(|slot| {
                if let Ok(mut p) = slot.permit.lock() {
                    *p = Some(permit);
                }
            });
        }
    }
    output
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

/// Runs every step; returns one outcome per step, in step order. Raising `interrupt` stops new
/// steps from starting; the running ones finish.
pub async fn walk<T, E, F, Fut>(
    steps: Vec<Step<T>>,
    parallelism: usize,
    interrupt: &Interrupt,
    clock: &dyn Clock,
    run: F,
    mut on_event: impl FnMut(Event<'_, E>),
) -> Vec<Outcome<E>>
where
    E: From<Panicked>,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let slots = Arc::new(Semaphore::new(parallelism.max(1)));
    let count = steps.len();
    let mut waiting_on: Vec<usize> = steps.iter().map(|s| s.depends_on.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, step) in steps.iter().enumerate() {
        for &d in &step.depends_on {
            if d < count {
                dependents[d].push(i);
            } else {
                waiting_on[i] -= 1;
            }
        }
    }
    let labels: Vec<String> = steps.iter().map(|s| s.label.clone()).collect();
    let priorities: Vec<u64> = steps.iter().map(|s| s.priority).collect();
    let mut work: Vec<Option<T>> = steps.into_iter().map(|s| Some(s.work)).collect();
    let mut outcomes: Vec<Option<Outcome<E>>> = (0..count).map(|_| None).collect();
    // Highest priority first; among equals, the step that comes first.
    let mut ready: BinaryHeap<(u64, Reverse<usize>)> = (0..count)
        .filter(|&i| waiting_on[i] == 0)
        .map(|i| (priorities[i], Reverse(i)))
        .collect();
    // The running steps are futures polled by this one: the walker starts no task of its own,
    // so it needs no particular runtime.
    let mut running = FuturesUnordered::new();
    let mut started_at: Vec<Option<Instant>> = vec![None; count];
    let mut failed = false;

    let mut start = |index: usize,
                     permit: OwnedSemaphorePermit,
                     running: &mut FuturesUnordered<_>,
                     started_at: &mut Vec<Option<Instant>>,
                     on_event: &mut dyn FnMut(Event<'_, E>)| {
        let Some(item) = work[index].take() else {
            return;
        };
        on_event(Event::Started {
            index,
            label: &labels[index],
        });
        let future = run(item);
        let slot = Slot {
            semaphore: slots.clone(),
            permit: Mutex::new(Some(permit)),
        };
        started_at[index] = Some(clock.now());
        running.push(SLOT.scope(slot, async move {
            let result = AssertUnwindSafe(future).catch_unwind().await;
            (index, result)
        }));
    };

    loop {
        let stopped = failed || interrupt.is_raised();
        while !stopped && !ready.is_empty() {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            if let Some((_, Reverse(index))) = ready.pop() {
                start(index, permit, &mut running, &mut started_at, &mut on_event);
            }
        }
        if running.is_empty() {
            break;
        }
        let may_start = !stopped && !ready.is_empty();
        let finished = tokio::select! {
            finished = running.next() => finished,
            permit = slots.clone().acquire_owned(), if may_start => {
                // A slot came free (a step went idle): start the next ready step with it.
                if let (Ok(permit), false) = (permit, interrupt.is_raised()) {
                    if let Some((_, Reverse(index))) = ready.pop() {
                        start(index, permit, &mut running, &mut started_at, &mut on_event);
                    }
                }
                continue;
            }
        };
        let Some((index, result)) = finished else {
            break;
        };
        let elapsed = started_at[index]
            .map(|at| clock.now().saturating_duration_since(at))
            .unwrap_or_default();
        let outcome = match result {
            Ok(Ok(())) => Outcome::Succeeded(elapsed),
            Ok(Err(e)) => Outcome::Failed(e),
            Err(payload) => Outcome::Failed(E::from(Panicked(panic_message(payload.as_ref())))),
        };
        if matches!(outcome, Outcome::Failed(_)) {
            failed = true;
        } else {
            for &d in &dependents[index] {
                waiting_on[d] -= 1;
                if waiting_on[d] == 0 {
                    ready.push((priorities[d], Reverse(d)));
                }
            }
        }
        on_event(Event::Finished {
            index,
            label: &labels[index],
            outcome: &outcome,
        });
        outcomes[index] = Some(outcome);
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Skipped))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// The tests' clock: the machine's.
    struct SystemClock;

    impl Clock for SystemClock {
        fn now(&self) -> Instant {
            Instant::now()
        }
    }

    fn step(label: &str, depends_on: Vec<usize>) -> Step<String> {
        Step {
            label: label.to_string(),
            depends_on,
            work: label.to_string(),
            priority: 0,
        }
    }

    #[tokio::test]
    async fn dependencies_finish_before_dependents_start() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let steps = vec![step("a", vec![]), step("b", vec![0]), step("c", vec![1, 0])];
        let l = log.clone();
        let outcomes = walk(
            steps,
            4,
            &Interrupt::new(),
            &SystemClock,
            move |label: String| {
                let l = l.clone();
                async move {
                    l.lock().map_err(|_| "poisoned".to_string())?.push(label);
                    Ok::<(), String>(())
                }
            },
            |_| {},
        )
        .await;
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Succeeded(_))));
        assert_eq!(*log.lock().unwrap(), vec!["a", "b", "c"]);
    }

    #[tokio::test]
    async fn parallelism_is_a_bound_and_is_used() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let steps: Vec<_> = (0..12).map(|i| step(&i.to_string(), vec![])).collect();
        let (n, p) = (now.clone(), peak.clone());
        walk(
            steps,
            3,
            &Interrupt::new(),
            &SystemClock,
            move |_| {
                let (n, p) = (n.clone(), p.clone());
                async move {
                    let current = n.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    Ok::<(), String>(())
                }
            },
            |_| {},
        )
        .await;
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failure_stops_new_work_and_lets_running_work_finish() {
        // 0 fails fast; 1 is running at that moment and finishes; 2 depends on 1 and never
        // starts; 3 depends on 0.
        let steps = vec![
            step("fail", vec![]),
            step("slow", vec![]),
            step("after-slow", vec![1]),
            step("after-fail", vec![0]),
        ];
        let outcomes = walk(
            steps,
            2,
            &Interrupt::new(),
            &SystemClock,
            |label: String| async move {
                match label.as_str() {
                    "fail" => Err("boom".to_string()),
                    "slow" => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(())
                    }
                    _ => Ok(()),
                }
            },
            |_| {},
        )
        .await;
        assert_eq!(outcomes[0], Outcome::Failed("boom".to_string()));
        assert!(matches!(outcomes[1], Outcome::Succeeded(_)));
        assert_eq!(outcomes[2], Outcome::Skipped);
        assert_eq!(outcomes[3], Outcome::Skipped);
    }

    #[tokio::test]
    async fn a_panicking_step_is_a_failure_of_that_step() {
        let steps = vec![
            step("ok", vec![]),
            step("boom", vec![]),
            step("after", vec![1]),
        ];
        let outcomes = walk(
            steps,
            1,
            &Interrupt::new(),
            &SystemClock,
            |label: String| async move {
                if label == "boom" {
                    panic!("a bug in a step");
                }
                Ok::<(), String>(())
            },
            |_| {},
        )
        .await;
        assert!(matches!(outcomes[0], Outcome::Succeeded(_)));
        match &outcomes[1] {
            Outcome::Failed(message) => assert!(message.contains("a bug in a step"), "{message}"),
            other => panic!("the panicking step is {other:?}"),
        }
        assert_eq!(outcomes[2], Outcome::Skipped);
    }

    #[tokio::test]
    async fn an_interrupt_stops_new_work_and_lets_running_work_finish() {
        let interrupt = Interrupt::new();
        let steps = vec![step("first", vec![]), step("second", vec![0])];
        let i = interrupt.clone();
        let outcomes = walk(
            steps,
            4,
            &interrupt,
            &SystemClock,
            move |label: String| {
                let i = i.clone();
                async move {
                    if label == "first" {
                        i.raise();
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok::<(), String>(())
                }
            },
            |_| {},
        )
        .await;
        assert!(matches!(outcomes[0], Outcome::Succeeded(_)));
        assert_eq!(outcomes[1], Outcome::Skipped);
    }

    #[tokio::test]
    async fn a_waiting_step_gives_its_slot_back() {
        // One slot: a step that waits idle must not keep the other from running meanwhile.
        let order = Arc::new(Mutex::new(Vec::new()));
        let steps = vec![step("waits", vec![]), step("works", vec![])];
        let o = order.clone();
        let outcomes = walk(
            steps,
            1,
            &Interrupt::new(),
            &SystemClock,
            move |label: String| {
                let o = o.clone();
                async move {
                    if label == "waits" {
                        idle(tokio::time::sleep(Duration::from_millis(100))).await;
                    }
                    o.lock().map_err(|_| "poisoned".to_string())?.push(label);
                    Ok::<(), String>(())
                }
            },
            |_| {},
        )
        .await;
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Succeeded(_))));
        assert_eq!(*order.lock().unwrap(), vec!["works", "waits"]);
    }

    #[tokio::test]
    async fn higher_priorities_start_first() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut steps = vec![
            step("low", vec![]),
            step("high", vec![]),
            step("mid", vec![]),
        ];
        steps[1].priority = 9;
        steps[2].priority = 5;
        let o = order.clone();
        walk(
            steps,
            1,
            &Interrupt::new(),
            &SystemClock,
            move |label: String| {
                let o = o.clone();
                async move {
                    o.lock().map_err(|_| "poisoned".to_string())?.push(label);
                    Ok::<(), String>(())
                }
            },
            |_| {},
        )
        .await;
        assert_eq!(*order.lock().unwrap(), vec!["high", "mid", "low"]);
    }
}
