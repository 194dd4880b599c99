//! DNS records as plain data: the ownership marker Beanpole writes beside every CNAME it
//! manages, and the record edits a swap or an apply composes. Pure: the AWS shell
//! (`aws::route53`) turns these into Route53 change batches.

use crate::graph::compile::OWNERSHIP_PREFIX;
use std::collections::BTreeMap;

/// What an ownership TXT record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub application: String,
    pub environment: String,
    /// When `beanpole swap` last moved this name (Unix seconds).
    pub swapped_at: Option<u64>,
}

impl Marker {
    /// The TXT value: the graph's marker, plus the swap time when there is one.
    pub fn value(&self) -> String {
        let plain = crate::graph::compile::ownership_marker(&self.application, &self.environment);
        match self.swapped_at {
            Some(at) => format!("{},swapped-at={at}\"", plain.trim_end_matches('"')),
            None => plain,
        }
    }
}

/// Parses `"heritage=beanpole,application=A,environment=E"` (quotes optional).
pub fn parse_marker(text: &str) -> Option<Marker> {
    let text = text.trim().trim_matches('"');
    let mut heritage = false;
    let (mut application, mut environment, mut swapped_at) = (None, None, None);
    for field in text.split(',') {
        match field.split_once('=') {
            Some(("heritage", "beanpole")) => heritage = true,
            Some(("application", a)) => application = Some(a.to_string()),
            Some(("environment", e)) => environment = Some(e.to_string()),
            Some(("swapped-at", t)) => swapped_at = t.parse().ok(),
            _ => {}
        }
    }
    match (heritage, application, environment) {
        (true, Some(application), Some(environment)) => Some(Marker {
            application,
            environment,
            swapped_at,
        }),
        _ => None,
    }
}

/// A record as plain data, for change batches composed outside the AWS shell (`swap`).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    /// `CNAME` or `TXT`.
    pub kind: &'static str,
    pub value: String,
    /// For weighted routing: (set identifier, weight).
    pub weighted: Option<(String, i64)>,
}

impl Record {
    pub fn simple(name: &str, kind: &'static str, value: &str) -> Record {
        Record {
            name: name.to_string(),
            kind,
            value: value.to_string(),
            weighted: None,
        }
    }

    pub fn weighted(name: &str, set_identifier: &str, weight: i64, value: &str) -> Record {
        Record {
            weighted: Some((set_identifier.to_string(), weight)),
            ..Record::simple(name, "CNAME", value)
        }
    }
}

/// One change of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Create(Record),
    Upsert(Record),
    Delete(Record),
}

/// The set identifier of an environment's weighted record during a gradual swap.
pub fn set_identifier(environment: &str) -> String {
    format!("{WEIGHTED_PREFIX}{environment}")
}

/// Weighted records whose set identifier starts with this are Beanpole's (a gradual swap's).
pub const WEIGHTED_PREFIX: &str = "beanpole-";

/// A weighted CNAME record as read from a zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Weighted {
    pub set_identifier: String,
    pub weight: i64,
    pub value: String,
}

impl Weighted {
    /// The environment a Beanpole weighted record belongs to, from its set identifier.
    pub fn environment(&self) -> Option<&str> {
        self.set_identifier.strip_prefix(WEIGHTED_PREFIX)
    }

    pub fn record(&self, name: &str) -> Record {
        Record::weighted(name, &self.set_identifier, self.weight, &self.value)
    }
}

/// A zone's records as Beanpole reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoneRecords {
    /// Simple CNAME and TXT records: (bare name, type) → (ttl, values).
    pub simple: BTreeMap<(String, String), (i64, Vec<String>)>,
    /// Beanpole's weighted CNAME records (a gradual swap's), by bare name.
    pub weighted: BTreeMap<String, Vec<Weighted>>,
}

impl ZoneRecords {
    /// The ownership marker of `name`, if its TXT record is Beanpole's.
    pub fn marker(&self, name: &str) -> Option<Marker> {
        self.simple
            .get(&(format!("{OWNERSHIP_PREFIX}.{name}"), "TXT".to_string()))
            .and_then(|(_, values)| values.first())
            .and_then(|v| parse_marker(v))
    }

    /// The value of the simple CNAME record `name`.
    pub fn cname(&self, name: &str) -> Option<&str> {
        self.simple
            .get(&(name.to_string(), "CNAME".to_string()))
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }

    /// The names whose ownership marker says `environment` of `application` serves them.
    pub fn served_names(&self, application: &str, environment: &str) -> Vec<String> {
        let prefix = format!("{OWNERSHIP_PREFIX}.");
        self.simple
            .iter()
            .filter(|((name, kind), _)| kind == "TXT" && name.starts_with(&prefix))
            .filter_map(|((name, _), (_, values))| {
                let marker = parse_marker(values.first()?)?;
                (marker.application == application && marker.environment == environment)
                    .then(|| name[prefix.len()..].to_string())
            })
            .collect()
    }
}
