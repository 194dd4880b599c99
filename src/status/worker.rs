//! A worker environment's health: from its queue's depth, its dead-letter queue's, and what
//! its daemons report (each instance's sqsd says every few seconds whether it reads the queue),
//! instead of a load balancer's target health. Pure.

use super::{Colour, Health};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A daemon's report older than this is late: its instance is not working the queue.
pub const REPORT_FRESH_SECS: f64 = 60.0;

/// A queue's approximate counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// Waiting to be received.
    pub visible: i64,
    /// Received and not yet deleted or made visible again.
    pub in_flight: i64,
    /// Sent with a delay not yet over.
    pub delayed: i64,
}

/// What one instance's daemon last said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonReport {
    pub instance: String,
    /// When it said it (Unix seconds, the instance's clock).
    pub time: f64,
    /// Its last call to the queue succeeded.
    pub polling_ok: bool,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub in_flight: i64,
    /// It leads the `cron.yaml` schedule.
    #[serde(default)]
    pub leader: bool,
    /// Age of the oldest message it received in its last report's interval (seconds since
    /// it was sent): how long work waits.
    #[serde(default)]
    pub oldest_age_secs: Option<f64>,
    #[serde(default)]
    pub counts: BTreeMap<String, i64>,
    /// Its last notable events (started polling, stopped, leadership, failures), oldest first.
    #[serde(default)]
    pub events: Vec<DaemonEvent>,
}

/// One notable event of a daemon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonEvent {
    /// Unix seconds, the instance's clock.
    pub time: f64,
    /// `INFO`, `WARN`, `ERROR`.
    pub level: String,
    pub message: String,
}

/// The worker's side of an observation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerObservation {
    pub queue_url: String,
    /// `None`: the queue does not exist.
    pub queue: Option<QueueDepth>,
    pub dead_letter_queue_url: Option<String>,
    pub dead_letter_queue: Option<QueueDepth>,
    /// The group's in-service instances.
    pub instances: Vec<String>,
    pub daemons: Vec<DaemonReport>,
    /// When this was observed (Unix seconds).
    pub observed_at: f64,
    /// `capacity { backlog_per_instance }`.
    pub backlog_per_instance: Option<u32>,
}

impl WorkerObservation {
    /// The daemons of in-service instances whose report is fresh and whose last poll worked.
    pub fn working(&self) -> Vec<&DaemonReport> {
        self.daemons
            .iter()
            .filter(|d| self.instances.contains(&d.instance))
            .filter(|d| d.polling_ok && self.observed_at - d.time <= REPORT_FRESH_SECS)
            .collect()
    }

    /// The oldest message age any working daemon reports.
    pub fn oldest_age_secs(&self) -> Option<f64> {
        self.working()
            .iter()
            .filter_map(|d| d.oldest_age_secs)
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    }
}

/// Green: every in-service instance's daemon reads the queue and nothing waits in the
/// dead-letter queue. Yellow: some daemons are late or failing, the dead-letter queue holds
/// messages, or the backlog per instance is over twice its target. Red: the queue is missing,
/// no instance is in service, or no daemon reads the queue.
pub fn assess_worker(in_service: i64, desired: i64, w: &WorkerObservation) -> Health {
    let red = |cause: String| Health {
        colour: Colour::Red,
        causes: vec![cause],
    };
    let Some(queue) = &w.queue else {
        return red(format!(
            "the queue {} does not exist: run `beanpole apply`",
            w.queue_url
        ));
    };
    if in_service == 0 {
        return red("no instance is in service".to_string());
    }
    let working = w.working();
    let mut colour = Colour::Green;
    let mut causes = Vec::new();
    if working.is_empty() {
        let errors: Vec<String> = w
            .daemons
            .iter()
            .filter(|d| w.instances.contains(&d.instance))
            .filter_map(|d| d.last_error.clone())
            .collect();
        let why = errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_else(|| " (none has reported in the last minute)".to_string());
        return red(format!(
            "no worker daemon reads the queue{why}; see `beanpole logs` (/var/log/aws-sqsd/default.log)"
        ));
    }
    if (working.len() as i64) < in_service {
        colour = Colour::Yellow;
        causes.push(format!(
            "{} of {in_service} instances' worker daemons read the queue",
            working.len()
        ));
    }
    if in_service < desired {
        colour = colour.max(Colour::Yellow);
        causes.push(format!("{in_service} of {desired} instances in service"));
    }
    if let Some(dead) = w.dead_letter_queue.as_ref().filter(|d| d.visible > 0) {
        colour = colour.max(Colour::Yellow);
        causes.push(format!(
            "{} message(s) in the dead-letter queue: fix what refused them, then `beanpole queue ENV redrive`",
            dead.visible
        ));
    }
    if let Some(target) = w.backlog_per_instance {
        let per_instance = queue.visible as f64 / in_service.max(1) as f64;
        if per_instance > 2.0 * f64::from(target) {
            colour = colour.max(Colour::Yellow);
            causes.push(format!(
                "{per_instance:.0} messages waiting per instance (target {target})"
            ));
        }
    }
    Health { colour, causes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon(instance: &str, time: f64, ok: bool) -> DaemonReport {
        DaemonReport {
            instance: instance.into(),
            time,
            polling_ok: ok,
            ..Default::default()
        }
    }

    fn observation(daemons: Vec<DaemonReport>) -> WorkerObservation {
        WorkerObservation {
            queue_url: "q".into(),
            queue: Some(QueueDepth::default()),
            dead_letter_queue: Some(QueueDepth::default()),
            instances: vec!["i-1".into(), "i-2".into()],
            daemons,
            observed_at: 1000.0,
            ..Default::default()
        }
    }

    #[test]
    fn colours_follow_the_daemons_and_the_dead_letter_queue() {
        let all = observation(vec![daemon("i-1", 990.0, true), daemon("i-2", 995.0, true)]);
        assert_eq!(assess_worker(2, 2, &all).colour, Colour::Green);
        let late = observation(vec![daemon("i-1", 990.0, true), daemon("i-2", 900.0, true)]);
        let health = assess_worker(2, 2, &late);
        assert_eq!(health.colour, Colour::Yellow, "{:?}", health.causes);
        assert!(health.causes[0].contains("1 of 2"));
        let none = observation(vec![daemon("i-1", 990.0, false)]);
        assert_eq!(assess_worker(2, 2, &none).colour, Colour::Red);
        let mut dead = all.clone();
        dead.dead_letter_queue = Some(QueueDepth {
            visible: 3,
            ..Default::default()
        });
        let health = assess_worker(2, 2, &dead);
        assert_eq!(health.colour, Colour::Yellow);
        assert!(health.causes[0].contains("3 message(s)"));
        let mut missing = all;
        missing.queue = None;
        assert_eq!(assess_worker(2, 2, &missing).colour, Colour::Red);
    }
}
