//! Environment health in Elastic Beanstalk's colours, from what the AWS APIs report (target
//! health and the Auto Scaling group), never from requests to the instances. Pure: an
//! observation in, a colour and the sentences that explain it out.

pub mod render;
pub mod worker;

pub use worker::{DaemonEvent, DaemonReport, QueueDepth, WorkerObservation};

use serde::{Deserialize, Serialize};

/// Elastic Beanstalk's health colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Colour {
    /// Every target healthy and the capacity met.
    Green,
    /// Some targets failing, or fewer instances than the group wants.
    Yellow,
    /// No healthy target, or most of them failing.
    Red,
    /// Being created or updated, or not known.
    Grey,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "Green",
            Colour::Yellow => "Yellow",
            Colour::Red => "Red",
            Colour::Grey => "Grey",
        }
    }

    /// May an environment of this colour take the production name in a swap?
    pub fn can_serve(self) -> bool {
        matches!(self, Colour::Green | Colour::Yellow)
    }
}

/// One instance as the target group sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub state: TargetState,
    pub description: Option<String>,
}

/// A target's state in its target group, as Elastic Load Balancing names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    /// Registering, or its first health checks are under way.
    Initial,
    Healthy,
    Unhealthy,
    /// Unhealthy and being deregistered.
    #[serde(rename = "unhealthy.draining")]
    UnhealthyDraining,
    /// Not in use by the load balancer (e.g. its zone is not enabled), or deregistered.
    Unused,
    /// Being deregistered: requests in flight finish.
    Draining,
    /// Health checks are off for its target group.
    Unavailable,
    /// A state this version of Beanpole does not know.
    #[serde(other)]
    Unknown,
}

impl TargetState {
    pub fn parse(text: &str) -> TargetState {
        match text {
            "initial" => TargetState::Initial,
            "healthy" => TargetState::Healthy,
            "unhealthy" => TargetState::Unhealthy,
            "unhealthy.draining" => TargetState::UnhealthyDraining,
            "unused" => TargetState::Unused,
            "draining" => TargetState::Draining,
            "unavailable" => TargetState::Unavailable,
            _ => TargetState::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Initial => "initial",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::UnhealthyDraining => "unhealthy.draining",
            TargetState::Unused => "unused",
            TargetState::Draining => "draining",
            TargetState::Unavailable => "unavailable",
            TargetState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for TargetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the APIs report about one environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub environment: String,
    pub application: String,
    /// The load balancer exists and carries Beanpole's tags for this environment.
    pub load_balancer_found: bool,
    /// `active`, `provisioning`, `failed`…
    pub load_balancer_state: Option<String>,
    pub load_balancer_dns: Option<String>,
    pub group_found: bool,
    pub min: i64,
    pub max: i64,
    pub desired: i64,
    pub in_service: i64,
    /// Instances launching or terminating.
    pub in_transition: i64,
    pub targets: Vec<Target>,
    /// Names this environment serves now (its TXT markers say so), e.g. `pets.example.com`.
    pub cnames: Vec<String>,
    /// A deployment that has started and not finished (from the versions bucket).
    #[serde(default)]
    pub deployment: Option<DeploymentInProgress>,
    /// The version the environment's last successful deployment put there.
    #[serde(default)]
    pub expected_version: Option<String>,
    /// What each registered instance serves, as its newest report says (`None`: unknown).
    #[serde(default)]
    pub instance_versions: Vec<(String, Option<String>)>,
    /// A worker's queue and daemons (`None` for the web tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerObservation>,
}

/// A deployment under way, as its deploy records it at each batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentInProgress {
    pub deployment_id: u64,
    pub version: String,
    pub policy: String,
    /// The batch under way (1-based) and how many there are.
    pub batch: usize,
    pub batches: usize,
    pub instances_done: usize,
    pub instances: usize,
    /// `traffic-splitting`: the new instances' share of requests now.
    pub traffic_percent: Option<u32>,
    pub rolling_back: bool,
    /// Whether the command running it still holds the application's lock (else it died:
    /// `abort` rolls it back).
    #[serde(default)]
    pub live: bool,
}

impl DeploymentInProgress {
    /// `deploying v2 (deployment 7, rolling): batch 2 of 4, 25% of instances done`
    pub fn sentence(&self) -> String {
        let percent = (self.instances_done * 100)
            .checked_div(self.instances)
            .unwrap_or(0);
        format!(
            "{} {} (deployment {}, {}): batch {} of {}, {percent}% of instances done{}{}",
            if self.rolling_back {
                "rolling back"
            } else {
                "deploying"
            },
            self.version,
            self.deployment_id,
            self.policy,
            self.batch,
            self.batches,
            match self.traffic_percent {
                Some(p) => format!(", {p}% of requests to the new instances"),
                None => String::new(),
            },
            if self.live {
                ""
            } else {
                "; its command is gone (it holds no lock): `beanpole abort ENV` rolls it back"
            }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub colour: Colour,
    pub causes: Vec<String>,
}

/// Why a tier does not serve yet: for each target group (ARN → its targets) with fewer than
/// `desired` healthy targets, every target that is not healthy and why (or that none is
/// registered). Empty when every group has `desired` healthy targets.
pub fn serving_problems(desired: usize, target_groups: &[(String, Vec<Target>)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (arn, targets) in target_groups {
        // `arn:…:targetgroup/NAME/ID` → NAME
        let group = arn.split('/').nth(1).unwrap_or(arn);
        let healthy = targets
            .iter()
            .filter(|t| t.state == TargetState::Healthy)
            .count();
        if healthy >= desired {
            continue;
        }
        let before = problems.len();
        if targets.is_empty() {
            problems.push(format!("no target is registered in {group}"));
        }
        for t in targets.iter().filter(|t| t.state != TargetState::Healthy) {
            problems.push(format!(
                "{} is {} in {group}{}",
                t.id,
                t.state,
                t.description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
        if problems.len() == before {
            problems.push(format!("{healthy} of {desired} targets healthy in {group}"));
        }
    }
    problems
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The colour and its causes, with what deployments say: one in progress is named; without
/// one, instances that serve another version than the environment's make it Yellow, as on
/// Elastic Beanstalk ("Incorrect application version on 1 of 3 instances (expected v7)").
pub fn assess(o: &Observation) -> Health {
    let mut health = match &o.worker {
        Some(w) if o.group_found => worker::assess_worker(o.in_service, o.desired, w),
        Some(_) => Health {
            colour: Colour::Grey,
            causes: vec!["not created: run `beanpole apply`".to_string()],
        },
        None => assess_targets(o),
    };
    if health.colour == Colour::Grey && !o.group_found {
        return health;
    }
    if let Some(d) = &o.deployment {
        health.causes.insert(0, d.sentence());
        if !d.live {
            health.colour = health.colour.max(Colour::Yellow);
        }
    } else if let Some(expected) = &o.expected_version {
        let known: Vec<&Option<String>> = o
            .instance_versions
            .iter()
            .map(|(_, v)| v)
            .filter(|v| v.is_some())
            .collect();
        let wrong = known
            .iter()
            .filter(|v| v.as_deref() != Some(expected.as_str()))
            .count();
        if wrong > 0 {
            if health.colour == Colour::Green {
                health.colour = Colour::Yellow;
            }
            health.causes.push(format!(
                "Incorrect application version on {wrong} of {} instances (expected {expected})",
                known.len()
            ));
        }
    }
    health
}

/// The colour and its causes from the load balancer's and the group's view.
fn assess_targets(o: &Observation) -> Health {
    let grey = |causes: Vec<String>| Health {
        colour: Colour::Grey,
        causes,
    };
    if !o.load_balancer_found && !o.group_found {
        return grey(vec!["not created: run `beanpole apply`".to_string()]);
    }
    if !o.load_balancer_found {
        return grey(vec!["the load balancer does not exist".to_string()]);
    }
    if !o.group_found {
        return grey(vec!["the Auto Scaling group does not exist".to_string()]);
    }
    match o.load_balancer_state.as_deref() {
        Some("active") | None => {}
        Some("failed") => {
            return Health {
                colour: Colour::Red,
                causes: vec!["the load balancer failed to provision".to_string()],
            }
        }
        Some(other) => return grey(vec![format!("the load balancer is {other}")]),
    }

    let registered = o.targets.len();
    let healthy = o
        .targets
        .iter()
        .filter(|t| t.state == TargetState::Healthy)
        .count();
    let starting = o
        .targets
        .iter()
        .filter(|t| t.state == TargetState::Initial)
        .count();
    let failing: Vec<&Target> = o
        .targets
        .iter()
        .filter(|t| {
            matches!(
                t.state,
                TargetState::Unhealthy | TargetState::Unused | TargetState::Unavailable
            )
        })
        .collect();
    let failing_sentence = || {
        let mut sentence = format!(
            "{} of {} failing health checks",
            failing.len(),
            plural(registered, "instance")
        );
        let reasons: Vec<String> = failing
            .iter()
            .take(3)
            .map(|t| match &t.description {
                Some(d) => format!("{}: {d}", t.id),
                None => format!("{}: {}", t.id, t.state),
            })
            .collect();
        if !reasons.is_empty() {
            sentence.push_str(&format!(" ({})", reasons.join("; ")));
        }
        sentence
    };

    let mut causes = Vec::new();
    let mut colour = Colour::Green;
    if healthy == 0 && o.desired > 0 {
        if starting > 0 || (o.in_transition > 0 && failing.is_empty()) {
            return grey(vec![format!(
                "{} starting, none healthy yet",
                plural(starting.max(o.in_transition as usize), "instance")
            )]);
        }
        colour = Colour::Red;
        if registered == 0 {
            causes.push("no instance is registered with the target group".to_string());
        } else {
            causes.push(format!("no healthy target: {}", failing_sentence()));
        }
    } else if !failing.is_empty() {
        colour = if failing.len() * 2 > registered {
            Colour::Red
        } else {
            Colour::Yellow
        };
        causes.push(failing_sentence());
    }
    if o.in_service < o.min {
        colour = colour.max(Colour::Yellow);
        causes.push(format!(
            "{} in service, group minimum {}",
            o.in_service, o.min
        ));
    } else if o.in_service < o.desired {
        colour = colour.max(Colour::Yellow);
        causes.push(format!(
            "{} in service, {} desired",
            o.in_service, o.desired
        ));
    }
    if colour == Colour::Green && o.in_transition > 0 {
        return grey(vec![format!(
            "updating: {} launching or terminating",
            plural(o.in_transition as usize, "instance")
        )]);
    }
    Health { colour, causes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(states: &[&str], in_service: i64, min: i64, desired: i64) -> Observation {
        Observation {
            environment: "e".into(),
            application: "a".into(),
            load_balancer_found: true,
            load_balancer_state: Some("active".into()),
            group_found: true,
            min,
            max: 6,
            desired,
            in_service,
            targets: states
                .iter()
                .enumerate()
                .map(|(i, s)| Target {
                    id: format!("i-{i}"),
                    state: TargetState::parse(s),
                    description: (*s != "healthy").then(|| "Health checks failed".to_string()),
                })
                .collect(),
            ..Observation::default()
        }
    }

    #[test]
    fn a_version_mismatch_is_yellow_and_a_deployment_in_progress_is_named() {
        let mut o = env(&["healthy", "healthy", "healthy"], 3, 3, 3);
        o.expected_version = Some("v7".into());
        o.instance_versions = vec![
            ("i-0".into(), Some("v7".into())),
            ("i-1".into(), Some("v6".into())),
            ("i-2".into(), Some("v7".into())),
        ];
        let h = assess(&o);
        assert_eq!(h.colour, Colour::Yellow);
        assert_eq!(
            h.causes,
            vec!["Incorrect application version on 1 of 3 instances (expected v7)"]
        );
        // While a deployment runs, mixed versions are what it does: named, not Yellow.
        o.deployment = Some(DeploymentInProgress {
            deployment_id: 8,
            version: "v8".into(),
            policy: "rolling".into(),
            batch: 2,
            batches: 3,
            instances_done: 1,
            instances: 3,
            live: true,
            ..DeploymentInProgress::default()
        });
        let h = assess(&o);
        assert_eq!(h.colour, Colour::Green);
        assert_eq!(
            h.causes,
            vec!["deploying v8 (deployment 8, rolling): batch 2 of 3, 33% of instances done"]
        );
        // One whose command died is Yellow until aborted.
        o.deployment.as_mut().unwrap().live = false;
        let h = assess(&o);
        assert_eq!(h.colour, Colour::Yellow);
        assert!(h.causes[0].contains("`beanpole abort ENV` rolls it back"));
    }

    #[test]
    fn colours_follow_elastic_beanstalks_model() {
        let h = assess(&env(&["healthy", "healthy"], 2, 2, 2));
        assert_eq!((h.colour, h.causes.len()), (Colour::Green, 0));

        let h = assess(&env(&["healthy", "healthy", "unhealthy"], 3, 2, 3));
        assert_eq!(h.colour, Colour::Yellow);
        assert!(h.causes[0].starts_with("1 of 3 instances failing health checks"));

        let h = assess(&env(&["healthy", "healthy"], 2, 3, 3));
        assert_eq!(h.colour, Colour::Yellow);
        assert_eq!(h.causes, vec!["2 in service, group minimum 3"]);

        let h = assess(&env(&["healthy", "unhealthy", "unhealthy"], 3, 1, 3));
        assert_eq!(h.colour, Colour::Red);

        let h = assess(&env(&["unused"], 1, 1, 1));
        assert_eq!(h.colour, Colour::Red);
        assert!(h.causes[0].starts_with("no healthy target: 1 of 1 instance failing"));

        let h = assess(&env(&[], 1, 1, 1));
        assert_eq!(h.colour, Colour::Red);
        assert_eq!(
            h.causes[0],
            "no instance is registered with the target group"
        );

        let h = assess(&env(&["initial"], 0, 1, 1));
        assert_eq!(h.colour, Colour::Grey);

        let mut provisioning = env(&["healthy"], 1, 1, 1);
        provisioning.load_balancer_state = Some("provisioning".into());
        assert_eq!(assess(&provisioning).colour, Colour::Grey);

        assert_eq!(assess(&Observation::default()).colour, Colour::Grey);
    }

    #[test]
    fn a_tier_serves_only_when_each_target_group_has_enough_healthy_targets() {
        let target = |id: &str, state: &str, why: Option<&str>| Target {
            id: id.into(),
            state: TargetState::parse(state),
            description: why.map(str::to_string),
        };
        let arn = "arn:aws:elasticloadbalancing:us-east-2:1:targetgroup/pets-tg/abc".to_string();
        let healthy = vec![(
            arn.clone(),
            vec![
                target("i-1", "healthy", None),
                target("i-2", "healthy", None),
            ],
        )];
        assert!(serving_problems(2, &healthy).is_empty());
        let initial = vec![(
            arn.clone(),
            vec![
                target("i-1", "healthy", None),
                target("i-2", "initial", Some("Initial health checks in progress")),
            ],
        )];
        assert_eq!(
            serving_problems(2, &initial),
            vec!["i-2 is initial in pets-tg (Initial health checks in progress)"]
        );
        assert!(serving_problems(1, &initial).is_empty());
        assert_eq!(
            serving_problems(1, &[(arn, vec![])]),
            vec!["no target is registered in pets-tg"]
        );
    }
}
