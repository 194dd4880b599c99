//! `status` and `swap`: Elastic Beanstalk's health colours for each environment, and the
//! exchange of two environments' CNAMEs in one Route53 change batch (optionally in weighted
//! steps). Prints and exit statuses only; reading is in `aws::observe`, the colours in
//! `status`.

use super::reconcile::{confirm, error, AwsArgs, Session};
use super::{load_spec, SpecArgs, EXIT_OK};
use crate::aws::observe::{observe, served_names, Lookup, Zone};
use crate::aws::route53::{self, Edit, Marker, Record};
use crate::aws::{Aws, AwsError};
use crate::graph::compile::{OWNERSHIP_PREFIX, RECORD_TTL};
use crate::graph::{Address, ResourceGraph};
use crate::spec::Compilation;
use crate::status::{assess, Colour, Health, Observation};
use clap::Args;
use serde_json::json;
use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where each named environment's resources are, from the graph.
fn lookups(
    compilation: &Compilation,
    graph: &ResourceGraph,
    names: &[String],
) -> Result<Vec<Lookup>, String> {
    let spec = &compilation.spec;
    let mut out = Vec::new();
    let chosen: Vec<&crate::model::Environment> = if names.is_empty() {
        spec.environments.iter().collect()
    } else {
        let mut chosen = Vec::new();
        for name in names {
            match spec.environment(name) {
                Some(e) => chosen.push(e),
                None => {
                    let known: Vec<&str> =
                        spec.environments.iter().map(|e| e.name.as_str()).collect();
                    return Err(format!(
                        "the spec has no environment `{name}` (it has: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        chosen
    };
    for e in chosen {
        let name_of = |part: &str| {
            graph
                .get(&Address(format!("{}.{part}", e.address())))
                .map(|r| r.aws_name.clone())
                .unwrap_or_default()
        };
        out.push(Lookup {
            environment: e.name.clone(),
            application: e.application.clone(),
            load_balancer: name_of("load_balancer"),
            target_group: name_of("target_group"),
            auto_scaling_group: name_of("auto_scaling_group"),
            domain: spec
                .application(&e.application)
                .and_then(|a| a.domain.clone()),
        });
    }
    Ok(out)
}

/// Observations of the lookups, each application's region once; with `-v`, the calls made.
fn observe_all(
    session: &Session,
    lookups: &[Lookup],
    verbose: bool,
) -> Result<(Vec<Observation>, std::collections::BTreeMap<String, Zone>), AwsError> {
    let started = std::time::Instant::now();
    let before = session.calls.snapshot();
    let result = observe_regions(session, lookups);
    if verbose {
        let per_service = session
            .calls
            .snapshot()
            .into_iter()
            .map(|(k, v)| {
                let v = v - before.get(&k).copied().unwrap_or(0);
                (k, v)
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        eprintln!(
            "{}",
            crate::reconcile::render::render_calls(&crate::reconcile::CallStats {
                per_service,
                wall_ms: started.elapsed().as_millis(),
            })
        );
    }
    result
}

fn observe_regions(
    session: &Session,
    lookups: &[Lookup],
) -> Result<(Vec<Observation>, std::collections::BTreeMap<String, Zone>), AwsError> {
    let mut observations = Vec::new();
    let mut zones = std::collections::BTreeMap::new();
    let mut by_region: std::collections::BTreeMap<String, (Aws, Vec<Lookup>)> =
        std::collections::BTreeMap::new();
    for l in lookups {
        if let Some(aws) = session.by_application.get(&l.application) {
            by_region
                .entry(aws.region.clone())
                .or_insert_with(|| (aws.clone(), Vec::new()))
                .1
                .push(l.clone());
        }
    }
    for (aws, group) in by_region.values() {
        let (o, z) = session.runtime.block_on(observe(aws, group))?;
        observations.extend(o);
        zones.extend(z);
    }
    observations.sort_by_key(|o| {
        lookups
            .iter()
            .position(|l| l.environment == o.environment)
            .unwrap_or(usize::MAX)
    });
    Ok((observations, zones))
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Environments to show (default: every environment of the spec)
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,
    /// Print JSON (schema in the README)
    #[arg(long)]
    pub json: bool,
    /// Refresh until interrupted
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub interval: u64,
}

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

fn status_json(rows: &[(Observation, Health)]) -> serde_json::Value {
    json!({
        "environments": rows.iter().map(|(o, h)| {
            let healthy = o.targets.iter().filter(|t| t.state == "healthy").count();
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
            })
        }).collect::<Vec<_>>(),
    })
}

fn status_text(rows: &[(Observation, Health)], tty: bool) -> String {
    let mut out = String::new();
    for (o, h) in rows {
        let healthy = o.targets.iter().filter(|t| t.state == "healthy").count();
        out.push_str(&format!(
            "{}  ({})  {}\n",
            o.environment,
            o.application,
            colour_text(h.colour, tty)
        ));
        for cause in &h.causes {
            out.push_str(&format!("  cause          {cause}\n"));
        }
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
    out
}

pub fn status(spec: &SpecArgs, aws: &AwsArgs, args: &StatusArgs) -> i32 {
    let (compilation, graph) = match load_spec(spec) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let lookups = match lookups(&compilation, &graph, &args.environments) {
        Ok(l) => l,
        Err(message) => return error(message),
    };
    let session = match Session::open(&compilation, aws) {
        Ok(s) => s,
        Err(message) => return error(message),
    };
    let tty = std::io::stdout().is_terminal();
    loop {
        let (observations, _) = match observe_all(&session, &lookups, aws.verbose) {
            Ok(o) => o,
            Err(e) => return error(format!("cannot read the account: {e}")),
        };
        let rows: Vec<(Observation, Health)> = observations
            .into_iter()
            .map(|o| {
                let h = assess(&o);
                (o, h)
            })
            .collect();
        if args.json {
            let value = status_json(&rows);
            let text = if args.watch {
                serde_json::to_string(&value)
            } else {
                serde_json::to_string_pretty(&value)
            };
            match text {
                Ok(t) => println!("{t}"),
                Err(e) => return error(format!("cannot render JSON: {e}")),
            }
        } else {
            if args.watch && tty {
                print!("\x1b[2J\x1b[H");
            }
            print!("{}", status_text(&rows, tty));
            if args.watch {
                println!("(refreshing every {} s; Ctrl-C to stop)", args.interval);
            }
        }
        if !args.watch {
            return EXIT_OK;
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    }
}

#[derive(Debug, Clone, Args)]
pub struct SwapArgs {
    /// One environment of the pair
    #[arg(value_name = "ENV_A")]
    pub environment_a: String,
    /// The other environment (same application)
    #[arg(value_name = "ENV_B")]
    pub environment_b: String,
    /// Swap even if the environment taking the production name is not healthy
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Move the production name in weighted steps, percentages ending at 100 (e.g. 10,50,100)
    #[arg(long, value_name = "PERCENTS", value_delimiter = ',')]
    pub gradual: Vec<u8>,
    /// Time between gradual steps: 60s, 2m, or seconds
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub interval: String,
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    match unit {
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "ms" => Some(Duration::from_millis(n)),
        _ => None,
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `HH:MM:SS UTC` of a Unix time.
pub fn clock(unix: u64) -> String {
    let day = unix % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        (day % 3600) / 60,
        day % 60
    )
}

/// Of the two names exchanged, the production one: the shorter (`pets` rather than
/// `pets-staging`), alphabetical on a tie.
fn production_name<'a>(a: &'a str, b: &'a str) -> &'a str {
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Less => a,
        std::cmp::Ordering::Greater => b,
        std::cmp::Ordering::Equal => a.min(b),
    }
}

/// One side of a swap as found in the account.
struct Side {
    observation: Observation,
    /// The name it serves now.
    name: String,
    dns: String,
}

pub fn swap(spec: &SpecArgs, aws: &AwsArgs, args: &SwapArgs) -> i32 {
    let (compilation, graph) = match load_spec(spec) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (a, b) = (&args.environment_a, &args.environment_b);
    if a == b {
        return error(format!("cannot swap `{a}` with itself"));
    }
    let lookups = match lookups(&compilation, &graph, &[a.clone(), b.clone()]) {
        Ok(l) => l,
        Err(message) => return error(format!("refusing to swap: {message}")),
    };
    if lookups[0].application != lookups[1].application {
        return error(format!(
            "refusing to swap: `{a}` belongs to application `{}` and `{b}` to `{}`; a swap exchanges the names of two environments of one application",
            lookups[0].application, lookups[1].application
        ));
    }
    let application = lookups[0].application.clone();
    let Some(domain) = lookups[0].domain.clone() else {
        return error(format!(
            "refusing to swap: application `{application}` has no `domain`, so its environments have no CNAMEs"
        ));
    };
    let steps = if args.gradual.is_empty() {
        vec![100u8]
    } else {
        args.gradual.clone()
    };
    if steps.iter().any(|w| *w == 0 || *w > 100)
        || steps.windows(2).any(|w| w[0] >= w[1])
        || steps.last() != Some(&100)
    {
        return error(format!(
            "`--gradual {}`: give increasing percentages from 1 to 100 that end at 100, e.g. `--gradual 10,50,100`",
            args.gradual.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(",")
        ));
    }
    let Some(interval) = parse_duration(&args.interval) else {
        return error(format!(
            "`--interval {}`: write a duration like 60s, 2m or 500ms",
            args.interval
        ));
    };
    let session = match Session::open(&compilation, aws) {
        Ok(s) => s,
        Err(message) => return error(message),
    };
    let Some(client) = session.by_application.get(&application).cloned() else {
        return error(format!("no AWS connection for application `{application}`"));
    };
    let (observations, zones) = match observe_all(&session, &lookups, aws.verbose) {
        Ok(o) => o,
        Err(e) => return error(format!("cannot read the account: {e}")),
    };
    let Some(zone) = zones.get(&domain) else {
        return error(format!(
            "refusing to swap: no public Route53 hosted zone named `{domain}`"
        ));
    };
    let mut sides = Vec::new();
    for o in observations {
        if !o.load_balancer_found || !o.group_found {
            return error(format!(
                "refusing to swap: `{}` does not exist in the account as a Beanpole environment (run `beanpole apply`)",
                o.environment
            ));
        }
        let names = served_names(zone, &application, &o.environment);
        let [name] = names.as_slice() else {
            return error(format!(
                "refusing to swap: `{}` should serve exactly one name according to its ownership records, and serves {}",
                o.environment,
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ));
        };
        let name = name.clone();
        let cname = zone
            .records
            .get(&(name.clone(), "CNAME".to_string()))
            .and_then(|(_, v)| v.first().cloned());
        if cname.is_none() {
            return error(format!(
                "refusing to swap: the CNAME record {name} of `{}` is missing (run `beanpole apply`)",
                o.environment
            ));
        }
        let Some(dns) = o.load_balancer_dns.clone() else {
            return error(format!(
                "refusing to swap: `{}` has no load balancer DNS name",
                o.environment
            ));
        };
        sides.push(Side {
            observation: o,
            name,
            dns,
        });
    }
    let (Some(second), Some(first)) = (sides.pop(), sides.pop()) else {
        return error("refusing to swap: both environments must exist");
    };
    let production = production_name(&first.name, &second.name).to_string();
    // The environment that takes the production name is the one serving the other name now.
    let (giving, receiving) = if first.name == production {
        (&first, &second)
    } else {
        (&second, &first)
    };
    let health = assess(&receiving.observation);
    if !health.colour.can_serve() {
        if !args.force {
            return error(format!(
                "refusing to swap: `{}` would take the production name {production} but is {} ({}). Fix it, or pass --force",
                receiving.observation.environment,
                health.colour.as_str(),
                health.causes.join("; ")
            ));
        }
        eprintln!(
            "warning: `{}` is {} ({}); swapping anyway because of --force",
            receiving.observation.environment,
            health.colour.as_str(),
            health.causes.join("; ")
        );
    }
    println!(
        "Swap in application {application}:\n  {production}: {} → {}\n  {}: {} → {}",
        giving.observation.environment,
        receiving.observation.environment,
        receiving.name,
        receiving.observation.environment,
        giving.observation.environment
    );
    if let Err(code) = confirm(args.yes, "swap", "--yes") {
        return code;
    }
    let result = session.runtime.block_on(run_swap(
        &client,
        &zone.id,
        &application,
        giving,
        receiving,
        &production,
        &steps,
        interval,
        &lookups,
    ));
    match result {
        Ok(at) => {
            println!(
                "\nSwapped: {production} → {} ({}), {} → {} ({}).",
                receiving.observation.environment,
                receiving.dns,
                receiving.name,
                giving.observation.environment,
                giving.dns
            );
            println!(
                "The records' TTL is {RECORD_TTL} s: clients may keep the old address for at least that long (some resolvers longer). Do not destroy {} before {} (`beanpole destroy` refuses until then without --force).",
                giving.observation.environment,
                clock(at + RECORD_TTL as u64)
            );
            EXIT_OK
        }
        Err(SwapFailure::RolledBack(message)) => error(format!(
            "{message}; rolled back: {production} is served by {} again",
            giving.observation.environment
        )),
        Err(SwapFailure::Aws(e)) => error(format!("swap failed: {e}")),
    }
}

enum SwapFailure {
    Aws(AwsError),
    RolledBack(String),
}

impl From<AwsError> for SwapFailure {
    fn from(e: AwsError) -> SwapFailure {
        SwapFailure::Aws(e)
    }
}

/// The set identifier of an environment's weighted record.
fn set_identifier(environment: &str) -> String {
    format!("beanpole-{environment}")
}

/// The final exchange: both CNAMEs and both ownership markers in one change batch, after
/// removing the weighted records of a gradual swap.
fn final_edits(
    application: &str,
    giving: &Side,
    receiving: &Side,
    production: &str,
    weighted_now: Option<(i64, i64)>,
    at: u64,
) -> Vec<Edit> {
    let (give_env, take_env) = (
        &giving.observation.environment,
        &receiving.observation.environment,
    );
    let mut edits = Vec::new();
    if let Some((give, take)) = weighted_now {
        edits.push(Edit::Delete(Record::weighted(
            production,
            &set_identifier(give_env),
            give,
            &giving.dns,
        )));
        edits.push(Edit::Delete(Record::weighted(
            production,
            &set_identifier(take_env),
            take,
            &receiving.dns,
        )));
    }
    // UPSERT, not CREATE, after deleting weighted records: AWS applies a batch in order and
    // atomically, and moto mistakes the re-creation of a record it once held for a duplicate.
    edits.push(Edit::Upsert(Record::simple(
        production,
        "CNAME",
        &receiving.dns,
    )));
    edits.push(Edit::Upsert(Record::simple(
        &receiving.name,
        "CNAME",
        &giving.dns,
    )));
    for (name, environment) in [(production, take_env), (&receiving.name, give_env)] {
        let marker = Marker {
            application: application.to_string(),
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

/// The production name's weighted pair at `give` / `take` percent.
fn weighted_pair(
    production: &str,
    giving: &Side,
    receiving: &Side,
    give: i64,
    take: i64,
) -> [Record; 2] {
    [
        Record::weighted(
            production,
            &set_identifier(&giving.observation.environment),
            give,
            &giving.dns,
        ),
        Record::weighted(
            production,
            &set_identifier(&receiving.observation.environment),
            take,
            &receiving.dns,
        ),
    ]
}

#[allow(clippy::too_many_arguments)]
async fn run_swap(
    aws: &Aws,
    zone: &str,
    application: &str,
    giving: &Side,
    receiving: &Side,
    production: &str,
    steps: &[u8],
    interval: Duration,
    lookups: &[Lookup],
) -> Result<u64, SwapFailure> {
    let comment = format!(
        "beanpole swap {} {}",
        giving.observation.environment, receiving.observation.environment
    );
    let mut weighted_now: Option<(i64, i64)> = None;
    for (i, step) in steps.iter().enumerate() {
        let take = i64::from(*step);
        if take == 100 {
            let at = now_unix();
            let edits = final_edits(application, giving, receiving, production, weighted_now, at);
            route53::edit_records(aws, zone, &comment, &edits).await?;
            return Ok(at);
        }
        let give = 100 - take;
        let [to_giving, to_receiving] = weighted_pair(production, giving, receiving, give, take);
        let edits = match weighted_now {
            // A simple record and weighted ones cannot share a name: one batch replaces it.
            None => vec![
                Edit::Delete(Record::simple(production, "CNAME", &giving.dns)),
                Edit::Create(to_giving),
                Edit::Create(to_receiving),
            ],
            Some(_) => vec![Edit::Upsert(to_giving), Edit::Upsert(to_receiving)],
        };
        route53::edit_records(aws, zone, &comment, &edits).await?;
        weighted_now = Some((give, take));
        println!(
            "step {}/{}: {production} → {} {take}%, {} {give}%; checking {} again in {} s",
            i + 1,
            steps.len(),
            receiving.observation.environment,
            giving.observation.environment,
            receiving.observation.environment,
            interval.as_secs_f64()
        );
        tokio::time::sleep(interval).await;
        let receiving_lookup: Vec<Lookup> = lookups
            .iter()
            .filter(|l| l.environment == receiving.observation.environment)
            .cloned()
            .collect();
        let (observations, _) = observe(aws, &receiving_lookup).await?;
        let health = observations.first().map(assess).unwrap_or(Health {
            colour: Colour::Grey,
            causes: vec!["not found".to_string()],
        });
        println!(
            "  {} is {}{}",
            receiving.observation.environment,
            health.colour.as_str(),
            if health.causes.is_empty() {
                String::new()
            } else {
                format!(" ({})", health.causes.join("; "))
            }
        );
        if health.colour == Colour::Red {
            let [to_giving, to_receiving] =
                weighted_pair(production, giving, receiving, give, take);
            let rollback = vec![
                Edit::Delete(to_giving),
                Edit::Delete(to_receiving),
                Edit::Upsert(Record::simple(production, "CNAME", &giving.dns)),
            ];
            route53::edit_records(aws, zone, &format!("{comment}: rollback"), &rollback).await?;
            return Err(SwapFailure::RolledBack(format!(
                "{} turned Red at {take}% ({})",
                receiving.observation.environment,
                health.causes.join("; ")
            )));
        }
    }
    Err(SwapFailure::Aws(AwsError::Unexpected(
        "the gradual steps did not end at 100".to_string(),
    )))
}
