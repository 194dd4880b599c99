//! The deployment document: everything the platform engine needs to deploy one application
//! version on one instance (or on this machine), as JSON. Built here, purely, from the
//! environment's resolved settings and the version; read by `engine.py`.

use super::settings::RuntimeSettings;
use crate::bundle::ebextensions::{Command, EbExtensions, FileSpec, Package};
use crate::model::Proxy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The document format the engine understands.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub schema: u32,
    pub application: String,
    /// Empty for a bare Elastic Beanstalk folder run locally.
    pub environment: String,
    /// Increases with every deployment of the environment (EB's deployment id).
    pub deployment_id: u64,
    pub version: VersionRef,
    /// `3.12`: the interpreter is `python3.12` (the engine says so when it has to use another).
    pub python: String,
    pub proxy: Proxy,
    /// The port the proxy listens on.
    pub port: u16,
    /// The address it listens on: all addresses on an instance, `127.0.0.1` on this machine.
    pub listen_address: Option<String>,
    /// The WSGI server's port behind the proxy (`PORT` for the processes and hooks).
    pub upstream_port: u16,
    /// The `web` process when the bundle has no Procfile.
    pub default_web_command: String,
    pub static_files: BTreeMap<String, String>,
    pub properties: BTreeMap<String, String>,
    /// Properties the engine reads from Secrets Manager or Parameter Store at deploy time:
    /// references only, never a value.
    #[serde(default)]
    pub secrets: BTreeMap<String, crate::model::SecretRef>,
    pub health_check: HealthCheck,
    pub packages: Vec<Package>,
    pub files: Vec<FileSpec>,
    pub commands: Vec<Command>,
    pub container_commands: Vec<Command>,
    /// A configuration deployment: the version the environment runs with new settings; the
    /// engine runs `.platform/confighooks` instead of `.platform/hooks`.
    #[serde(default)]
    pub configuration: bool,
    /// What `get-config optionsettings` shows (namespace → option → value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub option_settings: BTreeMap<String, BTreeMap<String, String>>,
    /// A worker's daemon: its queue, options and `cron.yaml` tasks (absent for the web tier,
    /// and for a worker's sample application, which has no queue to read yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<crate::model::worker::DaemonSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub label: String,
    pub sha256: String,
    /// Where the engine fetches the bundle: `s3://BUCKET/KEY` or a path on this machine.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub path: String,
    /// HTTP codes that count as healthy, as a target group's matcher: `200`, `200-399`.
    pub matcher: String,
    /// How long the engine waits for the application to answer after starting it.
    pub timeout_secs: u32,
    /// The health the instance must reach: `ok` (the matcher), `warning`, `degraded`,
    /// `severe` (see `model::HealthThreshold`).
    #[serde(default)]
    pub threshold: crate::model::HealthThreshold,
}

/// What a document is made of besides the settings.
#[derive(Debug, Clone)]
pub struct Target {
    pub application: String,
    pub environment: String,
    pub deployment_id: u64,
    pub python: String,
    pub port: u16,
    pub listen_address: Option<String>,
    pub health_check: HealthCheck,
}

pub fn document(
    target: Target,
    version: VersionRef,
    settings: &RuntimeSettings,
    ext: &EbExtensions,
) -> Document {
    Document {
        schema: SCHEMA,
        application: target.application,
        environment: target.environment,
        deployment_id: target.deployment_id,
        version,
        python: target.python,
        proxy: settings.proxy,
        port: target.port,
        listen_address: target.listen_address,
        upstream_port: settings.upstream_port,
        default_web_command: settings.default_web_command(),
        static_files: settings.static_files.clone(),
        properties: settings.properties.clone(),
        secrets: settings.secrets.clone(),
        health_check: HealthCheck {
            threshold: settings.health_threshold,
            ..target.health_check
        },
        packages: ext.packages.clone(),
        files: ext.files.clone(),
        commands: ext.commands.clone(),
        container_commands: ext.container_commands.clone(),
        configuration: false,
        option_settings: super::settings::option_settings(settings, ext),
        worker: settings.worker.clone().map(|mut w| {
            w.cron = ext.cron.clone();
            w
        }),
    }
}
