//! How status reads: one block of text per environment (its colour painted on a terminal), or
//! JSON (its schema is in the book's CLI reference). Pure.

use super::{Colour, Health, Observation, TargetState};
use serde_json::json;

fn colour_text(colour: Colour, tty: bool) -> String {
    if !tty {
        return colour.as_str().to_string();
    }
    let code = match colour {
        Colour::Green => "32",
        Colour::Yellow => "33",
        Colour::Red => "31",
        Colour::Grey => "90",
    };
    format!("\x1b[1;{code}m{}\x1b[0m", colour.as_str())
}

pub fn status_json(rows: &[(Observation, Health)]) -> serde_json::Value {
    json!({
        "environments": rows.iter().map(|(o, h)| {
            let healthy = o.targets.iter().filter(|t| t.state == TargetState::Healthy).count();
            json!({
                "name": o.environment,
                "application": o.application,
                "health": h.colour.as_str(),
                "causes": h.causes,
                "cnames": o.cnames,
                "load_balancer_dns": o.load_balancer_dns,
                "load_balancer_state": o.load_balancer_state,
                "instances": {
                    "desired": o.desired,
                    "min": o.min,
                    "max": o.max,
                    "in_service": o.in_service,
                    "healthy_targets": healthy,
                    "registered_targets": o.targets.len(),
                },
                "version": o.expected_version,
                "instance_versions": o.instance_versions.iter().map(|(i, v)| (i.clone(), json!(v))).collect::<serde_json::Map<String, serde_json::Value>>(),
                "deployment": o.deployment,
                "worker": o.worker.as_ref().map(|w| json!({
                    "queue_url": w.queue_url,
                    "queue": w.queue,
                    "dead_letter_queue_url": w.dead_letter_queue_url,
                    "dead_letter_queue": w.dead_letter_queue,
                    "daemons_reading": w.working().len(),
                    "oldest_age_secs": w.oldest_age_secs(),
                    "daemons": w.daemons,
                })),
            })
        }).collect::<Vec<_>>(),
    })
}

/// A worker's lines: its queue's depth and the oldest wait its daemons saw, its dead-letter
/// queue, its instances and how many of their daemons read the queue.
fn worker_lines(o: &Observation, w: &crate::status::WorkerObservation) -> String {
    let mut out = String::new();
    match &w.queue {
        Some(q) => {
            let oldest = w
                .oldest_age_secs()
                .map(|a| format!(", oldest received {a:.0} s after it was sent"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  queue          {} visible, {} in flight{oldest}\n",
                q.visible, q.in_flight
            ));
        }
        None => out.push_str(&format!("  queue          {} (missing)\n", w.queue_url)),
    }
    if let Some(d) = &w.dead_letter_queue {
        out.push_str(&format!(
            "  dead letters   {} visible, {} in flight\n",
            d.visible, d.in_flight
        ));
    }
    let leader = w
        .working()
        .iter()
        .find(|d| d.leader)
        .map(|d| format!("; cron leader {}", d.instance))
        .unwrap_or_default();
    out.push_str(&format!(
        "  instances      {} desired (min {}, max {}), {} in service, {} daemon(s) reading the queue{leader}\n",
        o.desired,
        o.min,
        o.max,
        o.in_service,
        w.working().len()
    ));
    out
}

pub fn status_text(rows: &[(Observation, Health)], tty: bool) -> String {
    let mut out = String::new();
    for (o, h) in rows {
        let healthy = o
            .targets
            .iter()
            .filter(|t| t.state == TargetState::Healthy)
            .count();
        out.push_str(&format!(
            "{}  ({})  {}\n",
            o.environment,
            o.application,
            colour_text(h.colour, tty)
        ));
        for cause in &h.causes {
            out.push_str(&format!("  cause          {cause}\n"));
        }
        if let Some(w) = &o.worker {
            out.push_str(&worker_lines(o, w));
        } else {
            let cnames = if o.cnames.is_empty() {
                "(none)".to_string()
            } else {
                o.cnames.join(", ")
            };
            out.push_str(&format!("  serves         {cnames}\n"));
            out.push_str(&format!(
                "  load balancer  {}\n",
                o.load_balancer_dns.as_deref().unwrap_or("(none)")
            ));
            out.push_str(&format!(
                "  instances      {} desired (min {}, max {}), {} in service, {} of {} targets healthy\n",
                o.desired,
                o.min,
                o.max,
                o.in_service,
                healthy,
                o.targets.len()
            ));
        }
        if let Some(expected) = &o.expected_version {
            let on = o
                .instance_versions
                .iter()
                .filter(|(_, v)| v.as_deref() == Some(expected.as_str()))
                .count();
            out.push_str(&format!(
                "  version        {expected} (on {on} of {} instances)\n",
                o.instance_versions.len()
            ));
        }
    }
    out
}
