//! The typed model of a spec after evaluation: applications and their environments, with every
//! default filled in and every value checked. Plain data: no HCL, no spans, no AWS.

pub mod bootstrap;
pub mod platform;

pub use platform::{Platform, Proxy};
use serde::Serialize;
use std::collections::BTreeMap;

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

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
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
}

impl Application {
    pub fn address(&self) -> String {
        format!("{}application.{}", self.module_prefix, self.label)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Web,
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
    pub tags: BTreeMap<String, String>,
}

impl Environment {
    pub fn address(&self) -> String {
        format!("{}environment.{}", self.module_prefix, self.label)
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub name: String,
    pub module_prefix: String,
    pub value: serde_json::Value,
    /// False when part of the value is known only after apply.
    pub known: bool,
}
