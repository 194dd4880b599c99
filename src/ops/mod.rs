//! Operations: the application layer between the CLI and the rest, one module per command
//! (`plan`, `apply`, `destroy`, `status`, `swap`, `deploy`, `abort`, `logs`, `events`,
//! `versions`, `unlock`). Each takes a typed request and returns a typed report, reporting
//! progress as typed events through a callback; a command that changes an application takes
//! its lock itself, records its own event and gives the lock back. The CLI parses arguments,
//! calls one operation, renders its events and report, and picks the exit status.
//!
//! Decisions inside an operation are pure functions (`swap::decide`, `destroy`'s swap-TTL rule,
//! the deploy planner and its outcome rules in `crate::deploy`); the operation sequences them
//! with the AWS shell's actions. Operations are async end to end: every wait goes through the
//! shell's bounded, classified waits. Nothing here prints.

pub mod abort;
pub mod apply;
pub mod bundle;
pub mod deploy;
pub mod destroy;
pub mod engine;
pub mod events;
pub mod functions;
pub mod holder;
pub mod local;
pub mod lock;
pub mod logs;
pub mod plan;
pub mod queue;
pub mod rollout;
pub mod status;
pub mod swap;
pub mod versions;
pub mod view;
pub mod walk;

use crate::aws::calls::CallCounter;
use crate::aws::store::{Store, StoreError};
use crate::aws::{sts, Aws, AwsError, Connection};
use crate::graph::ResourceGraph;
use crate::interrupt::Interrupt;
use crate::model::Environment;
use crate::reconcile::CallStats;
use crate::spec::Compilation;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub use crate::aws::store::Unreadable;
pub use crate::duration::{now_unix, utc};

/// Why an operation could not be done. The CLI renders these; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
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
    #[error("the spec has no environment `{name}` (it has: {known})")]
    NoSuchEnvironment { name: String, known: String },
    #[error("the versions bucket {bucket} does not exist yet: run `beanpole apply` first (it creates it)")]
    NoBucket { bucket: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Refused(String),
}

/// Connected clients per application (each application has its own region).
pub struct Session {
    pub by_application: BTreeMap<String, Aws>,
    pub calls: Arc<CallCounter>,
}

impl Session {
    /// Connects to each application's region (once per region) through the standard chain,
    /// with `endpoint_url` taking precedence.
    pub async fn open(
        compilation: &Compilation,
        endpoint_url: Option<&str>,
    ) -> Result<Session, OpError> {
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
                let client = Aws::connect(&connection, calls.clone())
                    .await
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
            by_application,
            calls,
        })
    }

    pub fn client(&self, application: &str) -> Result<&Aws, OpError> {
        self.by_application
            .get(application)
            .ok_or_else(|| OpError::NoConnection(application.to_string()))
    }

    /// The application's versions bucket, which must exist.
    pub async fn store(&self, application: &str) -> Result<Store, OpError> {
        let store = Store::locate(self.client(application)?).await?;
        if !store.exists().await? {
            return Err(OpError::NoBucket {
                bucket: store.bucket,
            });
        }
        Ok(store)
    }

    /// Names the account's shared resources (the versions bucket) after each application's
    /// account and region: one STS call per region.
    pub async fn bind_account(&self, graph: &mut ResourceGraph) -> Result<(), OpError> {
        let mut by_region: BTreeMap<String, String> = BTreeMap::new();
        for aws in self.by_application.values() {
            if by_region.contains_key(&aws.region) {
                continue;
            }
            let account = sts::account_id(&aws.sts).await.map_err(OpError::Read)?;
            by_region.insert(aws.region.clone(), account);
        }
        graph.bind_account(|application| {
            let aws = self.by_application.get(application)?;
            let account = by_region.get(&aws.region)?;
            Some((account.clone(), aws.region.clone()))
        });
        Ok(())
    }

    /// The account and region of the first application, for headers; `None` if STS cannot say.
    pub async fn account(&self) -> Option<(String, String)> {
        let aws = self.by_application.values().next()?;
        let account = sts::account_id(&aws.sts).await.ok()?;
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

/// What every operation works with: the compiled spec and its graph, the AWS session, and the
/// user's Ctrl-C.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub compilation: &'a Compilation,
    pub graph: &'a ResourceGraph,
    pub session: &'a Session,
    pub interrupt: &'a Interrupt,
}

impl<'a> Context<'a> {
    /// The environment named, or an error that lists the spec's.
    pub fn environment(&self, name: &str) -> Result<&'a Environment, OpError> {
        environment(self.compilation, name)
    }
}

/// The environment named, or an error that lists the spec's.
pub fn environment<'c>(
    compilation: &'c Compilation,
    name: &str,
) -> Result<&'c Environment, OpError> {
    compilation
        .spec
        .environment(name)
        .ok_or_else(|| OpError::NoSuchEnvironment {
            name: name.to_string(),
            known: known_environments(compilation),
        })
}

fn known_environments(compilation: &Compilation) -> String {
    compilation
        .spec
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
            return Err(OpError::UnknownEnvironment {
                name: name.clone(),
                known: known_environments(compilation),
            });
        }
    }
    Ok(())
}

/// The applications a command on `environments` works on (every application of the spec when
/// none is named).
pub fn applications_of(compilation: &Compilation, environments: &[String]) -> Vec<String> {
    let mut names: Vec<String> = if environments.is_empty() {
        compilation
            .spec
            .applications
            .iter()
            .map(|a| a.name.clone())
            .collect()
    } else {
        environments
            .iter()
            .filter_map(|e| compilation.spec.environment(e))
            .map(|e| e.application.clone())
            .collect()
    };
    names.sort();
    names.dedup();
    names
}

/// The environments of `application` among `scope` (all of its environments when empty).
pub fn environments_in_scope(
    compilation: &Compilation,
    application: &str,
    scope: &[String],
) -> Vec<String> {
    compilation
        .spec
        .environments
        .iter()
        .filter(|e| e.application == application)
        .filter(|e| scope.is_empty() || scope.contains(&e.name))
        .map(|e| e.name.clone())
        .collect()
}

/// The machine's monotonic clock, for the walker.
pub struct MachineClock;

impl crate::reconcile::executor::Clock for MachineClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
