//! An instance's first boot: the launch template's user data fetches the platform engine from
//! the versions bucket and runs `engine.pyz boot`, which deploys what the environment runs (its
//! current deployment document in the bucket) or, before any version, the sample application,
//! so that every instance the group launches, at create or scale-out, serves. Pure: the
//! script and the sample application's deployment document.
//!
//! The bucket's name holds the account, unknown until the plan asks STS: the script carries
//! [`BUCKET_PLACEHOLDER`], which the plan's account binding replaces.

use super::document::{document, Document, HealthCheck, Target, VersionRef};
use super::settings::from_spec;
use crate::base64::encode as base64;
use crate::bundle::ebextensions::EbExtensions;
use crate::model::Environment;

/// Stands for the versions bucket's name in the user data until the account is known (no
/// base64 text and no spec value can contain `@`... except a property, which reaches the
/// script only base64-encoded).
pub const BUCKET_PLACEHOLDER: &str = "@@BEANPOLE_VERSIONS_BUCKET@@";

/// Where the engine is kept in the bucket, by its content address: under `_beanpole/`, which
/// no application's folder can be (application names are letters, digits and hyphens).
pub fn engine_key(digest: &str) -> String {
    format!("_beanpole/engine/{digest}.pyz")
}

/// The sample application's label (what an environment serves before its first version).
pub const SAMPLE_LABEL: &str = "sample-application";

/// How long the sample application may take to answer after it starts.
pub const SAMPLE_HEALTH_TIMEOUT: u32 = 300;

/// The deployment document of the sample application for an environment: its settings from
/// the spec, the built-in application, deployment 0.
pub fn sample_document(application: &str, env: &Environment) -> Document {
    let settings = from_spec(env);
    let sample = document(
        Target {
            application: application.to_string(),
            environment: env.name.clone(),
            deployment_id: 0,
            python: env.platform.python_version.clone(),
            port: env.instance.port,
            listen_address: None,
            health_check: HealthCheck {
                path: env.load_balancer.health_check.path.clone(),
                matcher: env.load_balancer.health_check.matcher.clone(),
                timeout_secs: SAMPLE_HEALTH_TIMEOUT,
                threshold: Default::default(),
            },
        },
        VersionRef {
            label: SAMPLE_LABEL.into(),
            sha256: String::new(),
            source: "sample:".into(),
        },
        &settings,
        &EbExtensions::default(),
    );
    // The user data carries this document: nothing that only a user's hooks read (they are
    // not the sample's), so that a launch template stays the same across Beanpole versions.
    // A worker's sample runs no daemon: its queue is known only once applied.
    Document {
        option_settings: Default::default(),
        worker: None,
        ..sample
    }
}

/// The user data: fetch the engine, write the sample document (base64: no spec value is ever
/// script text), boot. Paths are rooted in `$BEANPOLE_ROOT` when it is set (Beanpole's local
/// fleet, which plays instances on one machine); on an instance it is not.
pub fn user_data(application: &str, env: &Environment) -> String {
    let sample = serde_json::to_string(&sample_document(application, env)).unwrap_or_default();
    let key = engine_key(&super::engine_digest());
    let bucket = BUCKET_PLACEHOLDER;
    // Application and environment names are letters, digits and hyphens (the spec checks).
    format!(
        "#!/bin/bash\n\
# Beanpole platform boot: environment {env_name} of application {application} ({platform})\n\
set -euo pipefail\n\
root=\"${{BEANPOLE_ROOT:-}}\"\n\
mkdir -p \"$root/opt/beanpole\" \"$root/var/log\"\n\
exec >>\"$root/var/log/beanpole-boot.log\" 2>&1\n\
aws s3 cp --only-show-errors \"s3://{bucket}/{key}\" \"$root/opt/beanpole/engine.pyz\"\n\
echo '{encoded}' | base64 -d >\"$root/opt/beanpole/sample-document.json\"\n\
exec python3 \"$root/opt/beanpole/engine.pyz\" boot --root \"${{root:-/}}\" --bucket {bucket} \
--application {application} --environment {env_name} \
--sample-document \"$root/opt/beanpole/sample-document.json\" \
--report-prefix \"s3://{bucket}/{application}/environments/{env_name}/boot/\"\n",
        env_name = env.name,
        platform = env.platform,
        encoded = base64(sample.as_bytes()),
    )
}

/// The user data in the parts that decide what a change to it asks of running instances (see
/// `reconcile::rollouts`): the boot script proper, the settings it carries (the sample
/// document's line) and the engine it fetches (by content address; running instances get a
/// new engine with their next deployment, so it alone asks nothing of them).
pub struct UserDataParts {
    pub script: String,
    pub settings: String,
}

pub fn user_data_parts(user_data: &str) -> UserDataParts {
    let mut script = Vec::new();
    let mut settings = String::new();
    for line in user_data.lines() {
        if line.starts_with("echo '") && line.contains("/opt/beanpole/sample-document.json") {
            settings = line.to_string();
        } else if line.starts_with("aws s3 cp ") && line.contains("/opt/beanpole/engine.pyz") {
            // the engine's content address
        } else {
            script.push(line);
        }
    }
    UserDataParts {
        script: script.join("\n"),
        settings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::test_support::one_environment;

    #[test]
    fn the_user_data_boots_the_engine_and_carries_values_only_encoded() {
        let env = one_environment(
            "  proxy = \"apache\"\n  properties = { A = \"it's $(id) `id`\" }\n  load_balancer {\n    health_check {\n      path = \"/health\"\n    }\n  }",
        );
        let script = user_data("a", &env);
        assert!(script.len() < 16 * 1024, "{} bytes", script.len());
        assert!(!script.contains("$(id)"), "{script}");
        assert!(script.contains(&engine_key(&crate::platform::engine_digest())));
        assert!(script.contains(BUCKET_PLACEHOLDER));
        let sample = sample_document("a", &env);
        assert_eq!(sample.version.source, "sample:");
        assert_eq!(sample.proxy, crate::model::Proxy::Apache);
        assert_eq!(sample.health_check.path, "/health");
        assert_eq!(sample.properties["A"], "it's $(id) `id`");
        assert!(script.contains(&base64(serde_json::to_string(&sample).unwrap().as_bytes())));
    }
}
