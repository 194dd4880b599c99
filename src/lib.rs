//! Beanpole: a Python web tier on AWS as code. An environment spec in HCL compiles into a
//! dependency graph of the AWS resources of an Elastic-Beanstalk-like web tier.
//!
//! The pipeline is `spec` (HCL → typed model, with diagnostics) → `model` → `graph` (resources and
//! dependencies). See ARCHITECTURE.md for the map and the invariants.

pub mod aws;
pub mod base64;
pub mod bucket;
pub mod bundle;
pub mod cli;
pub mod deploy;
pub mod display;
pub mod dns;
pub mod duration;
pub mod fleet;
pub mod graph;
pub mod interrupt;
pub mod model;
pub mod ops;
pub mod platform;
pub mod reconcile;
pub mod spec;
pub mod status;
