//! The walker: runs steps in parallel along their dependencies. A step starts as soon as every
//! step it depends on has succeeded, at most `parallelism` at a time. After a failure no new
//! step starts, running steps finish, and steps that never ran are reported as skipped (they
//! only echo the failure upstream, so they are not errors of their own). Knows nothing of AWS.

use std::future::Future;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// One unit of work and the indices of the steps it waits for.
#[derive(Debug, Clone)]
pub struct Step<T> {
    pub label: String,
    pub depends_on: Vec<usize>,
    pub work: T,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    Succeeded(Duration),
    Failed(E),
    /// Not started: something it needs failed, or the walk stopped after a failure.
    Skipped,
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

/// Runs every step; returns one outcome per step, in step order.
pub async fn walk<T, E, F, Fut>(
    steps: Vec<Step<T>>,
    parallelism: usize,
    run: F,
    mut on_event: impl FnMut(Event<'_, E>),
) -> Vec<Outcome<E>>
where
    T: Send + 'static,
    E: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    let parallelism = parallelism.max(1);
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
    let mut work: Vec<Option<T>> = steps.into_iter().map(|s| Some(s.work)).collect();
    let mut outcomes: Vec<Option<Outcome<E>>> = (0..count).map(|_| None).collect();
    let mut ready: std::collections::VecDeque<usize> =
        (0..count).filter(|&i| waiting_on[i] == 0).collect();
    let mut running = JoinSet::new();
    let mut failed = false;

    loop {
        while !failed && running.len() < parallelism {
            let Some(index) = ready.pop_front() else {
                break;
            };
            let Some(item) = work[index].take() else {
                continue;
            };
            on_event(Event::Started {
                index,
                label: &labels[index],
            });
            let future = run(item);
            running.spawn(async move {
                let started = Instant::now();
                let result = future.await;
                (index, result, started.elapsed())
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (index, outcome) = match joined {
            Ok((index, Ok(()), elapsed)) => (index, Outcome::Succeeded(elapsed)),
            Ok((index, Err(e), _)) => (index, Outcome::Failed(e)),
            // A step that panicked: the walk cannot say which one without its index, so stop.
            Err(_) => {
                failed = true;
                continue;
            }
        };
        if matches!(outcome, Outcome::Failed(_)) {
            failed = true;
        } else {
            for &d in &dependents[index] {
                waiting_on[d] -= 1;
                if waiting_on[d] == 0 {
                    ready.push_back(d);
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

    fn step(label: &str, depends_on: Vec<usize>) -> Step<String> {
        Step {
            label: label.to_string(),
            depends_on,
            work: label.to_string(),
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
            move |label: String| {
                let l = l.clone();
                async move {
                    l.lock().map_err(|_| ())?.push(label);
                    Ok::<(), ()>(())
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
            move |_| {
                let (n, p) = (n.clone(), p.clone());
                async move {
                    let current = n.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    Ok::<(), ()>(())
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
}
