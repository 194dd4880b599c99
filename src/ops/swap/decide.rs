//! The swap's decisions, pure: whether two environments may exchange their names (and why
//! not), which name is production, the record-edit batches of each step (simple, gradual, or
//! the rest of an unfinished gradual swap), when to roll back, and the rollback's batch. The
//! operation (`ops::swap`) observes, asks these functions, and performs the batches.

use crate::dns::{set_identifier, Edit, Marker, Record, ZoneRecords};
use crate::graph::compile::OWNERSHIP_PREFIX;
use crate::status::{Colour, Health, Observation};
use std::time::Duration;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapRequest {
    pub environment_a: String,
    pub environment_b: String,
    /// Percentages of the production name's traffic for the receiving environment, ending at
    /// 100; empty: all at once.
    pub gradual: Vec<u8>,
    pub interval: Duration,
    /// Swap even if the receiving environment is not healthy.
    pub force: bool,
}

/// The longest pause between gradual steps: a longer one is a typo, not a plan.
pub const MAX_INTERVAL: Duration = crate::duration::MAX_DURATION;
pub use crate::duration::parse_duration;

/// What the spec says about one environment of the pair.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecSide {
    pub environment: String,
    pub application: String,
    pub domain: Option<String>,
    /// A worker serves no name.
    pub worker: bool,
}

/// Why a swap is not done. Each says what to do instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("cannot swap `{0}` with itself")]
    SameEnvironment(String),
    #[error("refusing to swap: `{0}` is a worker environment: it serves no name (no load balancer, no CNAME); deploy the new version to it instead")]
    Worker(String),
    #[error("`--gradual {0}`: give increasing percentages from 1 to 100 that end at 100, e.g. `--gradual 10,50,100`")]
    BadGradual(String),
    #[error("`--interval {given}`: {reason}")]
    BadInterval { given: String, reason: String },
    #[error("refusing to swap: `{a}` belongs to application `{application_a}` and `{b}` to `{application_b}`; a swap exchanges the names of two environments of one application")]
    DifferentApplications {
        a: String,
        application_a: String,
        b: String,
        application_b: String,
    },
    #[error(
        "refusing to swap: application `{0}` has no `domain`, so its environments have no CNAMEs"
    )]
    NoDomain(String),
    #[error("refusing to swap: no public Route53 hosted zone named `{0}`")]
    NoZone(String),
    #[error("refusing to swap: `{0}` does not exist in the account as a Beanpole environment (run `beanpole apply`)")]
    NotCreated(String),
    #[error("refusing to swap: `{environment}` should serve exactly one name according to its ownership records, and serves {served}")]
    NotOneName { environment: String, served: String },
    #[error("refusing to swap: the CNAME record {name} of `{environment}` is missing (run `beanpole apply`)")]
    CnameMissing { environment: String, name: String },
    #[error("refusing to swap: `{0}` has no load balancer DNS name")]
    NoLoadBalancerDns(String),
    #[error("refusing to swap: {name} is split over weighted records of other environments ({found}), left by an unfinished gradual swap; run `beanpole apply` to restore the simple record its ownership record names")]
    ForeignWeights { name: String, found: String },
    #[error("refusing to swap: `{environment}` would take the production name {production} but is {colour} ({causes}). Fix it, or pass --force")]
    ReceiverUnhealthy {
        environment: String,
        production: String,
        colour: &'static str,
        causes: String,
    },
}

/// One side of a planned swap.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub environment: String,
    /// The name it serves now (bare, e.g. `pets.example.com`).
    pub name: String,
    /// Its load balancer's DNS name: what its CNAME points at.
    pub dns: String,
}

/// A swap that may go ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapPlan {
    pub application: String,
    /// Of the two names, the production one (see [`production_name`]).
    pub production: String,
    /// Serves the production name now.
    pub giving: Party,
    /// Takes the production name.
    pub receiving: Party,
    /// The receiving side's percentages still to go, ending at 100.
    pub steps: Vec<u8>,
    /// (giving, receiving) weights of an unfinished gradual swap this one continues.
    pub resumed_from: Option<(i64, i64)>,
    /// The receiving side is not healthy and `--force` was given: say so.
    pub forced: Option<String>,
}

impl SwapPlan {
    /// What the swap will do, as shown before it asks: the two names and who takes each, and
    /// where an unfinished gradual swap it continues stands.
    pub fn lines(&self) -> Vec<String> {
        let (giving, receiving) = (&self.giving, &self.receiving);
        let mut lines = vec![
            format!("Swap in application {}:", self.application),
            format!(
                "  {}: {} → {}",
                self.production, giving.environment, receiving.environment
            ),
            format!(
                "  {}: {} → {}",
                receiving.name, receiving.environment, giving.environment
            ),
        ];
        if let Some((give, take)) = self.resumed_from {
            lines.push(format!(
                "Continuing an unfinished gradual swap: {} is at {} {take}%, {} {give}%.",
                self.production, receiving.environment, giving.environment
            ));
        }
        lines
    }

    /// A weighted step, as the swap says it.
    pub fn step_line(
        &self,
        number: usize,
        of: usize,
        take: i64,
        interval: std::time::Duration,
    ) -> String {
        format!(
            "step {number}/{of}: {} → {} {take}%, {} {}%; checking {} again in {} s",
            self.production,
            self.receiving.environment,
            self.giving.environment,
            100 - take,
            self.receiving.environment,
            interval.as_secs_f64()
        )
    }

    /// The receiving side's health after a step.
    pub fn checked_line(&self, health: &crate::status::Health) -> String {
        format!(
            "  {} is {}{}",
            self.receiving.environment,
            health.colour.as_str(),
            if health.causes.is_empty() {
                String::new()
            } else {
                format!(" ({})", health.causes.join("; "))
            }
        )
    }

    /// The names exchanged at `at`, and until when the giving side must not be destroyed.
    pub fn swapped_lines(&self, at: u64, ttl: u64) -> [String; 2] {
        let (giving, receiving) = (&self.giving, &self.receiving);
        [
            format!(
                "\nSwapped: {} → {} ({}), {} → {} ({}).",
                self.production,
                receiving.environment,
                receiving.dns,
                receiving.name,
                giving.environment,
                giving.dns
            ),
            format!(
                "The records' TTL is {ttl} s: clients may keep the old address for at least that long (some resolvers longer). Do not destroy {} before {} (`beanpole destroy` refuses until then without --force).",
                giving.environment,
                crate::duration::utc(at.saturating_add(ttl))
            ),
        ]
    }
}

/// The request's own checks, before anything is read from AWS: the pair, the steps, the
/// interval, the application and its domain. Returns the application and its domain.
pub fn check_request(
    request: &SwapRequest,
    a: &SpecSide,
    b: &SpecSide,
) -> Result<(String, String), Refusal> {
    if a.environment == b.environment {
        return Err(Refusal::SameEnvironment(a.environment.clone()));
    }
    if let Some(worker) = [a, b].iter().find(|s| s.worker) {
        return Err(Refusal::Worker(worker.environment.clone()));
    }
    let steps = &request.gradual;
    if !steps.is_empty()
        && (steps.iter().any(|w| *w == 0 || *w > 100)
            || steps.windows(2).any(|w| w[0] >= w[1])
            || steps.last() != Some(&100))
    {
        return Err(Refusal::BadGradual(
            steps
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ));
    }
    if a.application != b.application {
        return Err(Refusal::DifferentApplications {
            a: a.environment.clone(),
            application_a: a.application.clone(),
            b: b.environment.clone(),
            application_b: b.application.clone(),
        });
    }
    let Some(domain) = a.domain.clone() else {
        return Err(Refusal::NoDomain(a.application.clone()));
    };
    Ok((a.application.clone(), domain))
}

/// Of the two names exchanged, the production one: the shorter (`pets` rather than
/// `pets-staging`), alphabetical on a tie.
pub fn production_name<'a>(a: &'a str, b: &'a str) -> &'a str {
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Less => a,
        std::cmp::Ordering::Greater => b,
        std::cmp::Ordering::Equal => a.min(b),
    }
}

/// Decides the swap from what the account holds: both environments' observations and health
/// (in request order: a, b) and the application's zone.
pub fn decide(
    request: &SwapRequest,
    application: &str,
    observed: &[(Observation, Health)],
    zone: &ZoneRecords,
) -> Result<SwapPlan, Refusal> {
    let mut parties = Vec::new();
    for (o, _) in observed {
        if !o.load_balancer_found || !o.group_found {
            return Err(Refusal::NotCreated(o.environment.clone()));
        }
        let names = zone.served_names(application, &o.environment);
        let [name] = names.as_slice() else {
            return Err(Refusal::NotOneName {
                environment: o.environment.clone(),
                served: if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
            });
        };
        let Some(dns) = o.load_balancer_dns.clone() else {
            return Err(Refusal::NoLoadBalancerDns(o.environment.clone()));
        };
        parties.push(Party {
            environment: o.environment.clone(),
            name: name.clone(),
            dns,
        });
    }
    let [first, second] = parties.as_slice() else {
        return Err(Refusal::NotCreated(format!(
            "{} and {}",
            request.environment_a, request.environment_b
        )));
    };
    let production = production_name(&first.name, &second.name).to_string();
    // The environment that takes the production name is the one serving the other name now.
    let (giving, receiving) = if first.name == production {
        (first.clone(), second.clone())
    } else {
        (second.clone(), first.clone())
    };
    // The receiving side's own name must be a simple record; the production name may also be
    // split over this pair's weighted records (a gradual swap that did not finish).
    if zone.cname(&receiving.name).is_none() {
        return Err(Refusal::CnameMissing {
            environment: receiving.environment.clone(),
            name: receiving.name.clone(),
        });
    }
    let resumed_from = match (zone.cname(&production), zone.weighted.get(&production)) {
        (Some(_), _) => None,
        (None, Some(weighted)) => {
            let weight_of = |environment: &str| {
                weighted
                    .iter()
                    .find(|w| w.environment() == Some(environment))
                    .map(|w| w.weight)
            };
            match (
                weight_of(&giving.environment),
                weight_of(&receiving.environment),
                weighted.len(),
            ) {
                (Some(give), Some(take), 2) => Some((give, take)),
                _ => {
                    return Err(Refusal::ForeignWeights {
                        name: production.clone(),
                        found: weighted
                            .iter()
                            .map(|w| format!("{} {}%", w.set_identifier, w.weight))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            }
        }
        (None, None) => {
            return Err(Refusal::CnameMissing {
                environment: giving.environment.clone(),
                name: production.clone(),
            })
        }
    };
    let health = observed
        .iter()
        .find(|(o, _)| o.environment == receiving.environment)
        .map(|(_, h)| h.clone())
        .unwrap_or(Health {
            colour: Colour::Grey,
            causes: vec!["not observed".to_string()],
        });
    let mut forced = None;
    if !health.colour.can_serve() {
        if !request.force {
            return Err(Refusal::ReceiverUnhealthy {
                environment: receiving.environment.clone(),
                production: production.clone(),
                colour: health.colour.as_str(),
                causes: health.causes.join("; "),
            });
        }
        forced = Some(format!(
            "`{}` is {} ({}); swapping anyway because of --force",
            receiving.environment,
            health.colour.as_str(),
            health.causes.join("; ")
        ));
    }
    let requested = if request.gradual.is_empty() {
        vec![100]
    } else {
        request.gradual.clone()
    };
    let steps = match resumed_from {
        // Continue from where the unfinished swap stood: only the steps beyond it remain.
        Some((_, take)) => requested
            .into_iter()
            .filter(|w| i64::from(*w) > take)
            .collect(),
        None => requested,
    };
    Ok(SwapPlan {
        application: application.to_string(),
        production,
        giving,
        receiving,
        steps,
        resumed_from,
        forced,
    })
}

impl SwapPlan {
    /// The weighted pair of the production name at `give` / `take` percent.
    fn weighted_pair(&self, give: i64, take: i64) -> [Record; 2] {
        [
            Record::weighted(
                &self.production,
                &set_identifier(&self.giving.environment),
                give,
                &self.giving.dns,
            ),
            Record::weighted(
                &self.production,
                &set_identifier(&self.receiving.environment),
                take,
                &self.receiving.dns,
            ),
        ]
    }

    /// The batch that moves the production name to `take` percent for the receiving side
    /// (`take` < 100), from the state `now` (None: the simple record).
    pub fn weighted_edits(&self, now: Option<(i64, i64)>, take: i64) -> Vec<Edit> {
        let [to_giving, to_receiving] = self.weighted_pair(100 - take, take);
        match now {
            // A simple record and weighted ones cannot share a name: one batch replaces it.
            // UPSERT rather than CREATE: moto takes the re-creation of a weighted record it
            // once held (an earlier gradual swap) for a duplicate; on AWS both are the same.
            None => vec![
                Edit::Delete(Record::simple(&self.production, "CNAME", &self.giving.dns)),
                Edit::Upsert(to_giving),
                Edit::Upsert(to_receiving),
            ],
            Some(_) => vec![Edit::Upsert(to_giving), Edit::Upsert(to_receiving)],
        }
    }

    /// The final exchange: both CNAMEs and both ownership markers in one batch, after removing
    /// the weighted records `now` (if any). `at` is the swap time the markers record.
    pub fn final_edits(&self, now: Option<(i64, i64)>, at: u64) -> Vec<Edit> {
        let mut edits = Vec::new();
        if let Some((give, take)) = now {
            for record in self.weighted_pair(give, take) {
                edits.push(Edit::Delete(record));
            }
        }
        // UPSERT, not CREATE, after deleting weighted records: AWS applies a batch in order and
        // atomically, and moto mistakes the re-creation of a record it once held for a
        // duplicate.
        edits.push(Edit::Upsert(Record::simple(
            &self.production,
            "CNAME",
            &self.receiving.dns,
        )));
        edits.push(Edit::Upsert(Record::simple(
            &self.receiving.name,
            "CNAME",
            &self.giving.dns,
        )));
        for (name, environment) in [
            (&self.production, &self.receiving.environment),
            (&self.receiving.name, &self.giving.environment),
        ] {
            let marker = Marker {
                application: self.application.clone(),
                environment: environment.clone(),
                swapped_at: Some(at),
            };
            edits.push(Edit::Upsert(Record::simple(
                &format!("{OWNERSHIP_PREFIX}.{name}"),
                "TXT",
                &marker.value(),
            )));
        }
        edits
    }

    /// Back to the start: the weighted records `now` give way to the simple production record
    /// of the giving side. The markers never moved, so they need no edit.
    pub fn rollback_edits(&self, now: (i64, i64)) -> Vec<Edit> {
        let (give, take) = now;
        let [to_giving, to_receiving] = self.weighted_pair(give, take);
        vec![
            Edit::Delete(to_giving),
            Edit::Delete(to_receiving),
            Edit::Upsert(Record::simple(&self.production, "CNAME", &self.giving.dns)),
        ]
    }
}

/// What to do after checking the receiving side between two gradual steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Continue,
    RollBack(String),
}

/// A receiving side that turned Red (or vanished) is rolled back; any other colour goes on.
pub fn after_check(receiving: &str, take: i64, health: &Health) -> Verdict {
    match health.colour {
        Colour::Red | Colour::Grey => Verdict::RollBack(format!(
            "{receiving} turned {} at {take}% ({})",
            health.colour.as_str(),
            health.causes.join("; ")
        )),
        Colour::Green | Colour::Yellow => Verdict::Continue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Weighted;
    use crate::status::Target;

    const APP: &str = "pets";

    fn request(gradual: &[u8], force: bool) -> SwapRequest {
        SwapRequest {
            environment_a: "blue".into(),
            environment_b: "green".into(),
            gradual: gradual.to_vec(),
            interval: Duration::from_secs(1),
            force,
        }
    }

    fn side(environment: &str, application: &str, domain: Option<&str>) -> SpecSide {
        SpecSide {
            environment: environment.into(),
            application: application.into(),
            domain: domain.map(str::to_string),
            worker: false,
        }
    }

    fn observed(environment: &str, colour: Colour) -> (Observation, Health) {
        (
            Observation {
                environment: environment.into(),
                application: APP.into(),
                load_balancer_found: true,
                load_balancer_state: Some("active".into()),
                load_balancer_dns: Some(format!("{environment}-lb.elb.example")),
                group_found: true,
                min: 1,
                max: 2,
                desired: 1,
                in_service: 1,
                in_transition: 0,
                targets: vec![Target {
                    id: "i-1".into(),
                    state: crate::status::TargetState::Healthy,
                    description: None,
                }],
                cnames: Vec::new(),
                ..Observation::default()
            },
            Health {
                colour,
                causes: if colour == Colour::Red {
                    vec!["no healthy target".into()]
                } else {
                    Vec::new()
                },
            },
        )
    }

    /// blue serves pets.example.com, green pets-staging.example.com, both as simple records.
    fn zone() -> ZoneRecords {
        let mut zone = ZoneRecords::default();
        for (name, environment) in [
            ("pets.example.com", "blue"),
            ("pets-staging.example.com", "green"),
        ] {
            zone.simple.insert(
                (name.into(), "CNAME".into()),
                (60, vec![format!("{environment}-lb.elb.example")]),
            );
            let marker = Marker {
                application: APP.into(),
                environment: environment.into(),
                swapped_at: None,
            };
            zone.simple.insert(
                (format!("{OWNERSHIP_PREFIX}.{name}"), "TXT".into()),
                (60, vec![marker.value()]),
            );
        }
        zone
    }

    fn both(green: Colour) -> Vec<(Observation, Health)> {
        vec![observed("blue", Colour::Green), observed("green", green)]
    }

    #[test]
    fn the_request_is_checked_before_any_aws_call() {
        let blue = side("blue", APP, Some("example.com"));
        assert_eq!(
            check_request(&request(&[], false), &blue, &blue),
            Err(Refusal::SameEnvironment("blue".into()))
        );
        for bad in [&[50, 10, 100][..], &[10, 50], &[0, 100], &[10, 101]] {
            assert!(matches!(
                check_request(
                    &request(bad, false),
                    &blue,
                    &side("green", APP, Some("example.com"))
                ),
                Err(Refusal::BadGradual(_))
            ));
        }
        let other = side("other", "shop", Some("example.com"));
        let refusal = check_request(&request(&[], false), &blue, &other).unwrap_err();
        assert!(refusal
            .to_string()
            .contains("`blue` belongs to application `pets` and `other` to `shop`"));
        let no_domain = side("green", APP, None);
        assert_eq!(
            check_request(&request(&[], false), &side("blue", APP, None), &no_domain),
            Err(Refusal::NoDomain(APP.into()))
        );
        assert_eq!(
            check_request(
                &request(&[10, 100], false),
                &blue,
                &side("green", APP, Some("example.com"))
            ),
            Ok((APP.into(), "example.com".into()))
        );
    }

    #[test]
    fn durations_parse_and_absurd_ones_are_refused_without_overflow() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("999999999999999999m").is_err());
        assert!(parse_duration("99999999999999999999").is_err());
        assert!(parse_duration("25h").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn the_shorter_name_is_production_and_its_holder_gives_it() {
        assert_eq!(
            production_name("pets-staging.example.com", "pets.example.com"),
            "pets.example.com"
        );
        assert_eq!(
            production_name("b.example.com", "a.example.com"),
            "a.example.com"
        );
        // Asked in either order, green receives the production name that blue serves.
        for (a, b) in [("blue", "green"), ("green", "blue")] {
            let mut r = request(&[], false);
            r.environment_a = a.into();
            r.environment_b = b.into();
            let mut observed = both(Colour::Green);
            if a == "green" {
                observed.reverse();
            }
            let plan = decide(&r, APP, &observed, &zone()).unwrap();
            assert_eq!(plan.production, "pets.example.com");
            assert_eq!(plan.giving.environment, "blue");
            assert_eq!(plan.receiving.environment, "green");
            assert_eq!(plan.steps, vec![100]);
        }
    }

    #[test]
    fn every_refusal_from_the_account() {
        let r = request(&[], false);
        // Red receiver: refused, then allowed with --force and a warning.
        assert!(matches!(
            decide(&r, APP, &both(Colour::Red), &zone()),
            Err(Refusal::ReceiverUnhealthy { ref environment, ref production, colour: "Red", .. })
                if environment == "green" && production == "pets.example.com"
        ));
        let forced = decide(&request(&[], true), APP, &both(Colour::Red), &zone()).unwrap();
        assert!(forced.forced.unwrap().contains("--force"));
        // Not created.
        let mut missing = both(Colour::Green);
        missing[1].0.group_found = false;
        assert_eq!(
            decide(&r, APP, &missing, &zone()),
            Err(Refusal::NotCreated("green".into()))
        );
        // No load balancer DNS name.
        let mut no_dns = both(Colour::Green);
        no_dns[0].0.load_balancer_dns = None;
        assert_eq!(
            decide(&r, APP, &no_dns, &zone()),
            Err(Refusal::NoLoadBalancerDns("blue".into()))
        );
        // A marker missing: green serves no name.
        let mut z = zone();
        z.simple.remove(&(
            format!("{OWNERSHIP_PREFIX}.pets-staging.example.com"),
            "TXT".to_string(),
        ));
        assert!(matches!(
            decide(&r, APP, &both(Colour::Green), &z),
            Err(Refusal::NotOneName { ref served, .. }) if served == "none"
        ));
        // The receiving side's CNAME missing.
        let mut z = zone();
        z.simple
            .remove(&("pets-staging.example.com".to_string(), "CNAME".to_string()));
        assert!(matches!(
            decide(&r, APP, &both(Colour::Green), &z),
            Err(Refusal::CnameMissing { ref name, .. }) if name == "pets-staging.example.com"
        ));
        // The production CNAME missing, with no weighted records either.
        let mut z = zone();
        z.simple
            .remove(&("pets.example.com".to_string(), "CNAME".to_string()));
        assert!(matches!(
            decide(&r, APP, &both(Colour::Green), &z),
            Err(Refusal::CnameMissing { ref name, .. }) if name == "pets.example.com"
        ));
        // Weighted records of someone else on the production name.
        z.weighted.insert(
            "pets.example.com".into(),
            vec![Weighted {
                set_identifier: "beanpole-other".into(),
                weight: 100,
                value: "x".into(),
            }],
        );
        assert!(matches!(
            decide(&r, APP, &both(Colour::Green), &z),
            Err(Refusal::ForeignWeights { .. })
        ));
    }

    #[test]
    fn a_plain_swap_is_one_batch_of_both_cnames_and_both_markers() {
        let plan = decide(&request(&[], false), APP, &both(Colour::Green), &zone()).unwrap();
        let edits = plan.final_edits(None, 1000);
        assert_eq!(
            edits,
            vec![
                Edit::Upsert(Record::simple(
                    "pets.example.com",
                    "CNAME",
                    "green-lb.elb.example"
                )),
                Edit::Upsert(Record::simple(
                    "pets-staging.example.com",
                    "CNAME",
                    "blue-lb.elb.example"
                )),
                Edit::Upsert(Record::simple(
                    &format!("{OWNERSHIP_PREFIX}.pets.example.com"),
                    "TXT",
                    &Marker {
                        application: APP.into(),
                        environment: "green".into(),
                        swapped_at: Some(1000)
                    }
                    .value()
                )),
                Edit::Upsert(Record::simple(
                    &format!("{OWNERSHIP_PREFIX}.pets-staging.example.com"),
                    "TXT",
                    &Marker {
                        application: APP.into(),
                        environment: "blue".into(),
                        swapped_at: Some(1000)
                    }
                    .value()
                )),
            ]
        );
    }

    #[test]
    fn gradual_steps_replace_the_simple_record_then_upsert_then_end_simple() {
        let plan = decide(
            &request(&[10, 50, 100], false),
            APP,
            &both(Colour::Green),
            &zone(),
        )
        .unwrap();
        assert_eq!(plan.steps, vec![10, 50, 100]);
        let first = plan.weighted_edits(None, 10);
        assert_eq!(first.len(), 3);
        assert!(matches!(&first[0], Edit::Delete(r) if r.weighted.is_none()));
        assert!(
            matches!(&first[2], Edit::Upsert(r) if r.weighted == Some(("beanpole-green".into(), 10)))
        );
        let second = plan.weighted_edits(Some((90, 10)), 50);
        assert!(second.iter().all(|e| matches!(e, Edit::Upsert(_))));
        let last = plan.final_edits(Some((50, 50)), 7);
        assert!(
            matches!(&last[0], Edit::Delete(r) if r.weighted == Some(("beanpole-blue".into(), 50)))
        );
        assert!(
            matches!(&last[1], Edit::Delete(r) if r.weighted == Some(("beanpole-green".into(), 50)))
        );
        assert_eq!(last.len(), 6);
    }

    #[test]
    fn a_red_or_vanished_receiver_rolls_back_to_the_simple_original() {
        let plan = decide(
            &request(&[20, 100], false),
            APP,
            &both(Colour::Green),
            &zone(),
        )
        .unwrap();
        let red = Health {
            colour: Colour::Red,
            causes: vec!["no healthy target".into()],
        };
        assert_eq!(
            after_check("green", 20, &red),
            Verdict::RollBack("green turned Red at 20% (no healthy target)".into())
        );
        let grey = Health {
            colour: Colour::Grey,
            causes: vec!["not found".into()],
        };
        assert!(matches!(
            after_check("green", 20, &grey),
            Verdict::RollBack(_)
        ));
        let yellow = Health {
            colour: Colour::Yellow,
            causes: vec![],
        };
        assert_eq!(after_check("green", 20, &yellow), Verdict::Continue);
        let rollback = plan.rollback_edits((80, 20));
        assert_eq!(
            rollback.last(),
            Some(&Edit::Upsert(Record::simple(
                "pets.example.com",
                "CNAME",
                "blue-lb.elb.example"
            )))
        );
        assert_eq!(rollback.len(), 3);
    }

    #[test]
    fn an_unfinished_gradual_swap_is_resumed_by_the_same_swap() {
        let mut z = zone();
        z.simple
            .remove(&("pets.example.com".to_string(), "CNAME".to_string()));
        z.weighted.insert(
            "pets.example.com".into(),
            vec![
                Weighted {
                    set_identifier: "beanpole-blue".into(),
                    weight: 90,
                    value: "blue-lb.elb.example".into(),
                },
                Weighted {
                    set_identifier: "beanpole-green".into(),
                    weight: 10,
                    value: "green-lb.elb.example".into(),
                },
            ],
        );
        let plan = decide(
            &request(&[10, 50, 100], false),
            APP,
            &both(Colour::Green),
            &z,
        )
        .unwrap();
        assert_eq!(plan.resumed_from, Some((90, 10)));
        assert_eq!(plan.steps, vec![50, 100]);
        // A plain swap run over it finishes it in one batch that removes the weights.
        let plain = decide(&request(&[], false), APP, &both(Colour::Green), &z).unwrap();
        assert_eq!(plain.steps, vec![100]);
        assert_eq!(plain.final_edits(plain.resumed_from, 1).len(), 6);
    }
}
