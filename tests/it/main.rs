//! The integration tests, in one binary (as cargo's own testsuite does): each test binary
//! links the AWS SDK, so one binary instead of eight saves most of the link time. Tests that
//! need moto say so in their module name (`*_moto`) and start their own server.

#[allow(dead_code)]
mod common;

mod blue_green_moto;
mod boot_moto;
mod bundle;
mod cycle;
mod deploy_moto;
mod eb_apps_moto;
mod export;
mod functions;
mod fuzz_front_end;
mod graph_snapshots;
mod lock_moto;
mod names;
mod platform;
mod policies_moto;
mod reconcile_moto;
mod recovery_moto;
mod regressions;
mod rollout_moto;
mod schemas;
mod secrets_moto;
mod spec_diagnostics;
mod stacks_moto;
mod tour_moto;
mod versions_moto;
mod view;
mod worker_moto;
