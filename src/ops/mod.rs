//! Operations: the application layer between the CLI and the rest, one module per command
//! (`plan`, `apply`, `destroy`, `status`, `swap`). Each takes a typed request and returns a
//! typed outcome, reporting progress as typed events through a callback; the CLI parses
//! arguments, calls one operation, renders its events and outcome, and picks the exit status.
//! Decisions inside an operation are pure functions (`swap::decide`, `destroy::swap_age`); the
//! operation sequences them with the AWS shell's actions. Nothing here prints.

pub mod abort;
pub mod apply;
pub mod bundle;
pub mod deploy;
pub mod destroy;
pub mod engine;
pub mod events;
pub mod fleet;
pub mod local;
pub mod lock;
pub mod logs;
pub mod plan;
pub(crate) mod replace;
pub mod rollout;
pub mod status;
pub mod swap;
pub mod versions;

use crate::aws::calls::CallCounter;
use crate::aws::{sts, Aws, AwsError, Connection};
use crate::reconcile::CallStats;
use crate::spec::Compilation;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Why an operation could not be done. The CLI renders these; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
    #[error("application `{application}`: {source}")]
    Connect {
        application: String,
        source: AwsError,
    },
    #[error("no AWS connection for application `{0}`")]
    NoConnection(String),
    #[error("cannot read the account: {0}")]
    Read(AwsError),
    #[error("`--env {name}`: the spec has no environment of that name (it has: {known})")]
    UnknownEnvironment { name: String, known: String },
    #[error("{0}")]
    Refused(String),
}

/// Connected clients per application (each application has its own region), and the runtime
/// their calls run on.
pub struct Session {
    pub runtime: tokio::runtime::Runtime,
    pub by_application: BTreeMap<String, Aws>,
    pub calls: Arc<CallCounter>,
}

impl Session {
    /// Connects to each application's region (once per region) through the standard chain,
    /// with `endpoint_url` taking precedence.
    pub fn open(compilation: &Compilation, endpoint_url: Option<&str>) -> Result<Session, OpError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| OpError::Runtime(e.to_string()))?;
        let calls = CallCounter::new();
        let mut by_region: BTreeMap<Option<String>, Aws> = BTreeMap::new();
        let mut by_application = BTreeMap::new();
        for application in &compilation.spec.applications {
            let key = application.region.clone();
            if !by_region.contains_key(&key) {
                let connection = Connection {
                    region: key.clone(),
                    endpoint_url: endpoint_url.map(str::to_string),
                };
                let client = runtime
                    .block_on(Aws::connect(&connection, calls.clone()))
                    .map_err(|source| OpError::Connect {
                        application: application.name.clone(),
                        source,
                    })?;
                by_region.insert(key.clone(), client);
            }
            if let Some(client) = by_region.get(&key) {
                by_application.insert(application.name.clone(), client.clone());
            }
        }
        Ok(Session {
            runtime,
            by_application,
            calls,
        })
    }

    pub fn client(&self, application: &str) -> Result<&Aws, OpError> {
        self.by_application
            .get(application)
            .ok_or_else(|| OpError::NoConnection(application.to_string()))
    }

    /// The account and region of the first application, for headers; `None` if STS cannot say.
    pub fn account(&self) -> Option<(String, String)> {
        let aws = self.by_application.values().next()?;
        let account = self.runtime.block_on(sts::account_id(&aws.sts)).ok()?;
        Some((account, aws.region.clone()))
    }

    /// Starts counting calls: `finish` on the result gives the calls made since.
    pub fn measure(&self) -> CallMeter<'_> {
        CallMeter {
            session: self,
            before: self.calls.snapshot(),
            started: Instant::now(),
        }
    }
}

/// API calls made between `Session::measure` and `finish`.
pub struct CallMeter<'a> {
    session: &'a Session,
    before: BTreeMap<String, u64>,
    started: Instant,
}

impl CallMeter<'_> {
    pub fn finish(self) -> CallStats {
        let per_service = self
            .session
            .calls
            .snapshot()
            .into_iter()
            .map(|(k, v)| {
                let v = v.saturating_sub(self.before.get(&k).copied().unwrap_or(0));
                (k, v)
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        CallStats {
            per_service,
            wall_ms: self.started.elapsed().as_millis(),
        }
    }
}

/// Every named environment must be in the spec.
pub fn check_scope(compilation: &Compilation, environments: &[String]) -> Result<(), OpError> {
    for name in environments {
        if compilation.spec.environment(name).is_none() {
            let known: Vec<&str> = compilation
                .spec
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            return Err(OpError::UnknownEnvironment {
                name: name.clone(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

/// The machine's monotonic clock, for the walker.
pub struct MachineClock;

impl crate::reconcile::executor::Clock for MachineClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Seconds since the Unix epoch, by this machine's clock.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time (proleptic Gregorian calendar).
pub fn utc(unix: u64) -> String {
    let (year, month, day, hour, minute, second) = crate::bundle::civil(unix);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_dates_across_eras() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_043_600), "2026-11-30 13:00:00 UTC");
        // The largest marker value still formats (a year far beyond 9999), without overflow.
        assert!(utc(u64::MAX).ends_with("UTC"));
    }
}
