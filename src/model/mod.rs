//! The typed model of a spec after evaluation: applications and their environments, with every
//! default filled in and every value checked. Plain data: no HCL, no spans, no AWS.

pub mod platform;
pub mod resources;
pub mod worker;

pub use platform::{Platform, Proxy};
pub use resources::{ExtraResource, OutputRef};
use serde::Serialize;
use std::collections::BTreeMap;
pub use worker::Worker;

/// A compiled spec: everything the root folder and the modules it calls declare.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spec {
    pub applications: Vec<Application>,
    pub environments: Vec<Environment>,
    pub outputs: Vec<Output>,
}

impl Spec {
    pub fn application(&self, name: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.name == name)
    }

    /// The application named, else the spec's only one; the error says which there are.
    pub fn the_application(&self, named: Option<&str>) -> Result<&Application, String> {
        let names = || {
            self.applications
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (named, self.applications.as_slice()) {
            (Some(name), _) => self.application(name).ok_or_else(|| {
                format!("no application `{name}` in the spec (it has: {})", names())
            }),
            (None, [only]) => Ok(only),
            (None, []) => Err("the spec declares no application".to_string()),
            (None, many) => Err(format!(
                "the spec declares {} applications ({})",
                many.len(),
                names()
            )),
        }
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The environment named, else the spec's only one; the error says which there are.
    pub fn the_environment(&self, named: Option<&str>) -> Result<&Environment, String> {
        let names = || {
            self.environments
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (named, self.environments.as_slice()) {
            (Some(name), _) => self.environment(name).ok_or_else(|| {
                format!("no environment `{name}` in the spec (it has: {})", names())
            }),
            (None, [only]) => Ok(only),
            (None, []) => Err("the spec declares no environment".to_string()),
            (None, many) => Err(format!(
                "the spec declares {} environments ({}): name one",
                many.len(),
                names()
            )),
        }
    }
}

/// An Elastic Beanstalk application: a named group of environments sharing a region and a DNS
/// domain.
#[derive(Debug, Clone, Serialize)]
pub struct Application {
    /// The application's name in AWS (the `name` attribute, else the block label).
    pub name: String,
    /// The block label: how the spec refers to it (`application.LABEL`).
    pub label: String,
    /// `module.shop.` for an application declared inside module `shop`; empty at the root.
    pub module_prefix: String,
    pub region: Option<String>,
    /// Route53 hosted zone holding the environments' CNAMEs.
    pub domain: Option<String>,
    /// The folder of the application's source (what `bundle` packages): `app` in the folder of
    /// the spec file that declares the application.
    pub source: std::path::PathBuf,
    pub tags: BTreeMap<String, String>,
    /// Extra resources shared by every environment (one stack, kept when an environment is
    /// destroyed).
    pub resources: Vec<ExtraResource>,
    /// Who carries out an apply of its environments.
    pub engine: Engine,
}

/// Who carries out an apply: Beanpole's own calls, resource by resource (`direct`), or
/// CloudFormation, one stack per environment (`cloudformation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    #[default]
    Direct,
    #[serde(rename = "cloudformation")]
    CloudFormation,
}

impl Application {
    pub fn address(&self) -> String {
        format!("{}application.{}", self.module_prefix, self.label)
    }

    /// The graph address of the stack of its extra resources.
    pub fn stack_address(&self) -> String {
        format!("{}.resources", self.address())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Web,
    /// EB's worker tier: no load balancer and no CNAME; a daemon on every instance POSTs the
    /// queue's messages to the application.
    Worker,
}

/// An environment of the web tier: one load-balanced, auto-scaled fleet serving one CNAME.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// The environment's name (the `name` attribute, else the block label).
    pub name: String,
    /// The block label: how the spec refers to it (`environment.LABEL`).
    pub label: String,
    pub module_prefix: String,
    pub application: String,
    pub tier: Tier,
    /// The first label of the environment's name in the application's domain (`pets` in
    /// `pets.example.com`): the name it serves before any swap.
    pub cname: String,
    pub platform: Platform,
    pub proxy: Proxy,
    pub instance: Instance,
    pub capacity: Capacity,
    pub load_balancer: LoadBalancer,
    pub network: Option<Network>,
    pub permissions: Permissions,
    /// Environment properties: environment variables of the application process.
    pub properties: BTreeMap<String, String>,
    /// Properties whose values are secrets, by reference (`secret(…)`, `ssm_parameter(…)`):
    /// read on the instance at deploy time, never by Beanpole.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Properties whose values are outputs of an extra resource's stack (`resource.jobs.ref`):
    /// read from the stack when a deployment's document is written.
    pub resource_properties: BTreeMap<String, OutputRef>,
    /// The environment's own extra resources (one stack, deleted with the environment).
    pub resources: Vec<ExtraResource>,
    /// Whether `proxy` is written in the spec (then it beats `.ebextensions`' `ProxyServer`).
    pub proxy_in_spec: bool,
    /// Every attribute written in the environment's block, dotted as written
    /// (`capacity.min`, `load_balancer.health_check.path`), with where (`main.hcl:12:5`):
    /// these beat a version's `.ebextensions`, as EB's settings applied to the environment do.
    #[serde(skip)]
    pub in_spec: BTreeMap<String, String>,
    pub wsgi: Wsgi,
    /// URL path → folder of the bundle, served by the proxy; EB's `/static` → `static` is added
    /// by the platform unless `/static` is mapped here.
    pub static_files: BTreeMap<String, String>,
    pub deployment: Deployment,
    pub tags: BTreeMap<String, String>,
    /// The worker tier's options (`Some` exactly when `tier = "worker"`).
    pub worker: Option<Worker>,
}

/// The `wsgi` block (EB's `aws:elasticbeanstalk:container:python` namespace). Each field is
/// what the spec says; `None` leaves it to `.ebextensions`, then to EB's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Wsgi {
    pub path: Option<String>,
    pub processes: Option<u32>,
    pub threads: Option<u32>,
}

/// Where a secret property's value is kept; only the reference travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SecretRef {
    /// `secretsmanager` or `ssm-parameter`.
    pub store: String,
    /// The secret's ARN, or the parameter's name.
    pub id: String,
    /// The KMS key that encrypts it, when given (the instance role may then decrypt with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// The `deployment` block (EB's `aws:elasticbeanstalk:command` namespace), as the spec says it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub policy: Option<DeploymentPolicy>,
    pub batch_size: Option<BatchSize>,
    /// Seconds a batch may take to deploy and become healthy.
    pub timeout: Option<u32>,
    /// Put the last good version back on the instances that took a failed one (default).
    pub rollback: Option<bool>,
    /// `traffic-splitting`: the share of requests the new instances get while they are
    /// evaluated (EB's `NewVersionPercent`, default 10).
    pub new_version_percent: Option<u32>,
    /// `traffic-splitting`: seconds the new instances take that share before all of it
    /// (EB's `EvaluationTime`, default 5 minutes).
    pub evaluation_time: Option<u32>,
    /// The health an instance must reach for its batch to pass (EB's
    /// `HealthCheckSuccessThreshold`, default `ok`).
    pub health_threshold: Option<HealthThreshold>,
}

/// Elastic Beanstalk's instance health levels, best first, as a deployment's threshold: an
/// instance passes when its health is this good or better. How the engine rates an instance
/// from its health check: `ok` — the answer matches the matcher; `warning` — another answer
/// below 500; `degraded` — a 5xx answer; `severe` — no answer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum HealthThreshold {
    #[default]
    Ok,
    Warning,
    Degraded,
    Severe,
}

impl HealthThreshold {
    pub const NAMES: &'static [&'static str] = &["ok", "warning", "degraded", "severe"];

    pub fn parse(name: &str) -> Option<HealthThreshold> {
        match name {
            "ok" => Some(HealthThreshold::Ok),
            "warning" => Some(HealthThreshold::Warning),
            "degraded" => Some(HealthThreshold::Degraded),
            "severe" => Some(HealthThreshold::Severe),
            _ => None,
        }
    }

    /// EB's option value (`Ok`, `Warning`, `Degraded`, `Severe`).
    pub fn parse_option(value: &str) -> Option<HealthThreshold> {
        HealthThreshold::parse(&value.to_ascii_lowercase())
    }

    /// As EB's option writes it.
    pub fn option(self) -> &'static str {
        match self {
            HealthThreshold::Ok => "Ok",
            HealthThreshold::Warning => "Warning",
            HealthThreshold::Degraded => "Degraded",
            HealthThreshold::Severe => "Severe",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentPolicy {
    AllAtOnce,
    Rolling,
    /// Rolling, with one extra batch launched first so that capacity never drops.
    RollingWithAdditionalBatch,
    /// A temporary group of new instances on the new version (one first, then the rest)
    /// behind the same target group; they move into the environment's group and the old
    /// ones go.
    Immutable,
    /// A temporary group and target group; the listener sends the new instances a share of
    /// the requests for an evaluation time, then all of them.
    TrafficSplitting,
}

impl DeploymentPolicy {
    pub const NAMES: &'static [&'static str] = &[
        "all-at-once",
        "rolling",
        "rolling-with-additional-batch",
        "immutable",
        "traffic-splitting",
    ];

    pub fn parse(name: &str) -> Option<DeploymentPolicy> {
        match name {
            "all-at-once" => Some(DeploymentPolicy::AllAtOnce),
            "rolling" => Some(DeploymentPolicy::Rolling),
            "rolling-with-additional-batch" => Some(DeploymentPolicy::RollingWithAdditionalBatch),
            "immutable" => Some(DeploymentPolicy::Immutable),
            "traffic-splitting" => Some(DeploymentPolicy::TrafficSplitting),
            _ => None,
        }
    }

    /// EB's `DeploymentPolicy` option value (`AllAtOnce`, `Rolling`, …).
    /// As EB's `DeploymentPolicy` option writes it.
    pub fn option(self) -> &'static str {
        match self {
            DeploymentPolicy::AllAtOnce => "AllAtOnce",
            DeploymentPolicy::Rolling => "Rolling",
            DeploymentPolicy::RollingWithAdditionalBatch => "RollingWithAdditionalBatch",
            DeploymentPolicy::Immutable => "Immutable",
            DeploymentPolicy::TrafficSplitting => "TrafficSplitting",
        }
    }

    pub fn parse_option(value: &str) -> Option<DeploymentPolicy> {
        match value {
            "AllAtOnce" => Some(DeploymentPolicy::AllAtOnce),
            "Rolling" => Some(DeploymentPolicy::Rolling),
            "RollingWithAdditionalBatch" => Some(DeploymentPolicy::RollingWithAdditionalBatch),
            "Immutable" => Some(DeploymentPolicy::Immutable),
            "TrafficSplitting" => Some(DeploymentPolicy::TrafficSplitting),
            _ => None,
        }
    }

    /// Whether the deployment launches new instances in a temporary group instead of
    /// deploying to the running ones.
    pub fn replaces_instances(self) -> bool {
        matches!(
            self,
            DeploymentPolicy::Immutable | DeploymentPolicy::TrafficSplitting
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            DeploymentPolicy::AllAtOnce => "all-at-once",
            DeploymentPolicy::Rolling => "rolling",
            DeploymentPolicy::RollingWithAdditionalBatch => "rolling-with-additional-batch",
            DeploymentPolicy::Immutable => "immutable",
            DeploymentPolicy::TrafficSplitting => "traffic-splitting",
        }
    }
}

/// How many instances a batch takes: a count or a percentage of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchSize {
    Fixed(u32),
    Percent(u32),
}

impl BatchSize {
    /// `"30%"`, `"2"`: a percentage from 1 to 100 or a count of at least 1.
    pub fn parse(text: &str) -> Result<BatchSize, String> {
        let text = text.trim();
        let usage = "write a count like 2 or a percentage like \"30%\"";
        match text.strip_suffix('%') {
            Some(p) => match p.trim().parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => Ok(BatchSize::Percent(n)),
                _ => Err(format!("a percentage is from 1% to 100%; {usage}")),
            },
            None => match text.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(BatchSize::Fixed(n)),
                _ => Err(usage.to_string()),
            },
        }
    }

    /// The instances in one batch of a group of `instances` (at least one).
    pub fn of(self, instances: u32) -> u32 {
        let n = match self {
            BatchSize::Fixed(n) => n,
            BatchSize::Percent(p) => (instances * p).div_ceil(100),
        };
        n.clamp(1, instances.max(1))
    }
}

impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Fixed(n) => write!(f, "{n}"),
            BatchSize::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Environment {
    pub fn address(&self) -> String {
        format!("{}environment.{}", self.module_prefix, self.label)
    }

    /// The graph address of the stack of its own extra resources.
    pub fn stack_address(&self) -> String {
        format!("{}.resources", self.address())
    }

    /// What a worker reads of its stack (its queues, its leader table); `None` for the web tier.
    pub fn worker_values(&self) -> Option<worker::StackValues> {
        self.worker
            .as_ref()
            .map(|w| worker::stack_values(w, &self.stack_address()))
    }

    pub fn is_worker(&self) -> bool {
        self.tier == Tier::Worker
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    pub instance_type: String,
    /// `None`: the platform's AMI, from the public SSM parameter of Amazon Linux 2023.
    pub ami: Option<String>,
    pub key_name: Option<String>,
    /// The port the proxy (nginx or Apache) listens on; the target group sends traffic here.
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    pub desired: Option<u32>,
    pub cpu_target: Option<f64>,
    pub requests_per_target: Option<u32>,
    /// A worker's target of visible messages per in-service instance (target tracking on
    /// the queue's backlog).
    pub backlog_per_instance: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadBalancer {
    pub internal: bool,
    pub idle_timeout: u32,
    /// Who may reach the load balancer on 80/443.
    pub allowed_cidrs: Vec<String>,
    pub https: Option<Https>,
    pub health_check: HealthCheck,
}

#[derive(Debug, Clone, Serialize)]
pub struct Https {
    pub certificate_arn: String,
    pub ssl_policy: String,
    pub redirect_http: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthCheck {
    pub path: String,
    pub interval: u32,
    pub timeout: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub vpc_id: String,
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Permissions {
    pub statements: Vec<Statement>,
    pub managed_policies: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Resources named by an extra resource's output (`application.shop.resource.orders.arn`).
    pub resource_refs: Vec<OutputRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub name: String,
    pub module_prefix: String,
    pub value: serde_json::Value,
    /// False when part of the value is known only after apply.
    pub known: bool,
}
