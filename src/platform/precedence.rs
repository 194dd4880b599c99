//! Where each of an environment's option values comes from, in Elastic Beanstalk's precedence:
//! the spec (EB's settings applied directly to the environment), then the configuration files
//! of the version the environment runs (`.ebextensions`), then the default. Only values that
//! differ from the default are listed. Pure: `plan` shows it.

use super::options::{
    environment_value, held, setting_name, COMMAND, EB_OPTIONS, HEALTH_REPORTING, PROPERTIES,
    PROXY, PYTHON, SPLITTING, STATIC,
};
use super::settings::{option_settings, resolve, RuntimeSettings};
use crate::bundle::ebextensions::EbExtensions;
use crate::model::worker::{DaemonSettings, NUMERIC_OPTIONS, SQSD_NAMESPACE};
use crate::model::{BatchSize, Environment};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Source {
    /// Written in the spec: the attribute (`capacity { min }`) and where (`main.hcl:12:5`).
    Spec { setting: String, at: String },
    /// A configuration file of the version the environment runs.
    Version { label: String, file: String },
}

/// One option whose value is not the default, and where the value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcedValue {
    pub namespace: String,
    pub option: String,
    /// `None` for an environment property: properties may hold secrets, and a plan is printed.
    pub value: Option<String>,
    #[serde(flatten)]
    pub source: Source,
}

/// One environment's option values that differ from the default (what `plan` shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentValues {
    pub environment: String,
    /// The version it runs, if it runs one.
    pub version: Option<String>,
    pub values: Vec<SourcedValue>,
    /// Why the version's option settings are not among the sources: they no longer resolve
    /// against the spec (its next deploy would be refused), or its manifest is gone.
    pub version_problem: Option<String>,
}

/// The version an environment runs: its label and its `.ebextensions`.
#[derive(Debug, Clone, Copy)]
pub struct RunningVersion<'a> {
    pub label: &'a str,
    pub ebextensions: &'a EbExtensions,
}

/// The environment's option values that differ from the default, each with its source,
/// ordered by namespace and option; and why the running version's files no longer resolve
/// against the spec, if they do not (the values are then the spec's alone).
pub fn non_default(
    env: &Environment,
    version: Option<RunningVersion<'_>>,
) -> (Vec<SourcedValue>, Option<String>) {
    let mut values = infrastructure(env);
    let none = EbExtensions::default();
    let ext = version.map_or(&none, |v| v.ebextensions);
    let (settings, problem) = match resolve(Some(env), ext) {
        Ok((settings, _)) => (settings, None),
        Err(problems) => {
            let why = problems.iter().map(ToString::to_string).collect::<Vec<_>>();
            (super::settings::from_spec(env), Some(why.join("; ")))
        }
    };
    let defaults = match resolve(None, &none) {
        Ok((mut defaults, _)) => {
            defaults.worker = env
                .worker
                .as_ref()
                .map(|_| super::daemon::daemon_defaults(&crate::model::Worker::default()));
            eb_form(&defaults, &none)
        }
        Err(_) => BTreeMap::new(),
    };
    let version = version.filter(|_| problem.is_none());
    for ((namespace, option), value) in eb_form(&settings, ext) {
        if defaults.get(&(namespace.clone(), option.clone())) == Some(&value) {
            continue;
        }
        let source = match spec_attribute(env, &namespace, &option) {
            Some(path) => Source::Spec {
                setting: setting_name(&path),
                at: env.in_spec.get(&path).cloned().unwrap_or_default(),
            },
            None => {
                let Some((v, file)) = version.and_then(|v| {
                    let set = v.ebextensions.option_settings.iter().rev().find(|o| {
                        o.namespace == namespace
                            && (o.option == option || batch(&o.option, &option))
                    })?;
                    Some((v, set.file.clone()))
                }) else {
                    continue;
                };
                Source::Version {
                    label: v.label.to_string(),
                    file,
                }
            }
        };
        let value = (namespace != PROPERTIES).then_some(value);
        values.push(SourcedValue {
            namespace,
            option,
            value,
            source,
        });
    }
    values.sort_by(|a, b| (&a.namespace, &a.option).cmp(&(&b.namespace, &b.option)));
    (values, problem)
}

/// `BatchSize` and `BatchSizeType` are one setting of the spec (`deployment { batch_size }`).
fn batch(written: &str, option: &str) -> bool {
    matches!(written, "BatchSize" | "BatchSizeType")
        && matches!(option, "BatchSize" | "BatchSizeType")
}

/// The infrastructure options the spec holds whose value is not the default: from the spec,
/// always (a version's are refused or overridden at deploy).
fn infrastructure(env: &Environment) -> Vec<SourcedValue> {
    let Some(defaults) = crate::spec::default_environment(env.tier) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut values = Vec::new();
    // EB's older name of the health check's path: said under the process's namespace.
    let options = EB_OPTIONS
        .iter()
        .filter(|(namespace, _)| *namespace != "aws:elasticbeanstalk:application");
    for (namespace, options) in options {
        for option in options.iter() {
            let Some(held) = held(env, namespace, option) else {
                continue;
            };
            // Several options name one attribute (`Subnets`, `ELBSubnets`): the first says it.
            if !seen.insert(held.path)
                || environment_value(&defaults, held.path) == Some(held.value.clone())
            {
                continue;
            }
            values.push(SourcedValue {
                namespace: namespace.to_string(),
                option: option.to_string(),
                value: Some(held.value),
                source: Source::Spec {
                    setting: held.setting,
                    at: env.in_spec.get(held.path).cloned().unwrap_or_default(),
                },
            });
        }
    }
    values
}

/// The settings Beanpole applies on the instances, by EB's namespace and option.
fn eb_form(settings: &RuntimeSettings, ext: &EbExtensions) -> BTreeMap<(String, String), String> {
    let mut form = BTreeMap::new();
    for (namespace, options) in option_settings(settings, ext) {
        for (option, value) in options {
            form.insert((namespace.clone(), option), value);
        }
    }
    let mut set = |namespace: &str, option: &str, value: String| {
        form.insert((namespace.to_string(), option.to_string()), value);
    };
    set(COMMAND, "DeploymentPolicy", settings.policy.option().into());
    let (size, kind) = match settings.batch_size {
        BatchSize::Fixed(n) => (n, "Fixed"),
        BatchSize::Percent(p) => (p, "Percentage"),
    };
    set(COMMAND, "BatchSize", size.to_string());
    set(COMMAND, "BatchSizeType", kind.into());
    set(
        SPLITTING,
        "NewVersionPercent",
        settings.new_version_percent.to_string(),
    );
    set(
        SPLITTING,
        "EvaluationTime",
        (settings.evaluation_time / 60).to_string(),
    );
    set(
        HEALTH_REPORTING,
        "HealthCheckSuccessThreshold",
        settings.health_threshold.option().into(),
    );
    if let Some(daemon) = &settings.worker {
        set(SQSD_NAMESPACE, "HttpPath", daemon.http_path.clone());
        set(SQSD_NAMESPACE, "MimeType", daemon.mime_type.clone());
        for o in NUMERIC_OPTIONS {
            if let Some(n) = daemon_number(daemon, o.option) {
                set(SQSD_NAMESPACE, o.option, n.to_string());
            }
        }
    }
    form
}

/// A numeric option of a worker's daemon, by EB's name.
fn daemon_number(daemon: &DaemonSettings, option: &str) -> Option<u32> {
    Some(match option {
        "HttpConnections" => daemon.http_connections,
        "ConnectTimeout" => daemon.connect_timeout,
        "InactivityTimeout" => daemon.inactivity_timeout,
        "VisibilityTimeout" => daemon.visibility_timeout,
        "ErrorVisibilityTimeout" => daemon.error_visibility_timeout,
        "RetentionPeriod" => daemon.retention_period,
        "MaxRetries" => daemon.max_retries,
        _ => return None,
    })
}

/// The spec's attribute that sets a runtime option (dotted), when the spec writes it.
fn spec_attribute(env: &Environment, namespace: &str, option: &str) -> Option<String> {
    let path = match (namespace, option) {
        (PROPERTIES, name) if env.properties.contains_key(name) => "properties",
        (STATIC, path) if env.static_files.contains_key(path) => "static_files",
        (PYTHON, "WSGIPath") => "wsgi.path",
        (PYTHON, "NumProcesses") => "wsgi.processes",
        (PYTHON, "NumThreads") => "wsgi.threads",
        (PROXY, "ProxyServer") => "proxy",
        (COMMAND, "DeploymentPolicy") => "deployment.policy",
        (COMMAND, "BatchSize" | "BatchSizeType") => "deployment.batch_size",
        (COMMAND, "Timeout") => "deployment.timeout",
        (SPLITTING, "NewVersionPercent") => "deployment.new_version_percent",
        (SPLITTING, "EvaluationTime") => "deployment.evaluation_time",
        (HEALTH_REPORTING, "HealthCheckSuccessThreshold") => "deployment.health_threshold",
        (SQSD_NAMESPACE, "HttpPath") => "worker.http_path",
        (SQSD_NAMESPACE, "MimeType") => "worker.mime_type",
        (SQSD_NAMESPACE, option) => {
            let spec = NUMERIC_OPTIONS.iter().find(|o| o.option == option)?.spec;
            return Some(format!("worker.{spec}")).filter(|p| env.in_spec.contains_key(p));
        }
        _ => return None,
    };
    env.in_spec.contains_key(path).then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::ebextensions::read;

    const EXT: &[u8] = br#"
option_settings:
  aws:elasticbeanstalk:container:python:
    WSGIPath: mysite.wsgi:application
    NumProcesses: 3
  aws:elasticbeanstalk:application:environment:
    DJANGO_SETTINGS_MODULE: mysite.settings
    SECRET_KEY: not-in-the-plan
  aws:elasticbeanstalk:command:
    DeploymentPolicy: Rolling
  aws:elasticbeanstalk:customoption:
    Colour: blue
"#;

    fn find<'a>(values: &'a [SourcedValue], option: &str) -> Option<&'a SourcedValue> {
        values.iter().find(|v| v.option == option)
    }

    #[test]
    fn each_value_that_is_not_the_default_names_the_spec_line_or_the_version_s_file() {
        let env = crate::spec::test_support::one_environment(
            "  capacity {\n    min = 2\n    max = 4\n  }\n  wsgi {\n    processes = 5\n  }\n",
        );
        let ext = read(&[(".ebextensions/django.config", EXT)]).unwrap();
        let (values, problem) = non_default(
            &env,
            Some(RunningVersion {
                label: "v3",
                ebextensions: &ext,
            }),
        );
        assert_eq!(problem, None);
        // The spec's, with its line; `max = 4` is the default and not listed.
        let min = find(&values, "MinSize").unwrap();
        assert_eq!(min.value.as_deref(), Some("2"));
        assert_eq!(
            min.source,
            Source::Spec {
                setting: "capacity { min }".into(),
                at: "spec/main.hcl:8:5".into()
            }
        );
        assert!(find(&values, "MaxSize").is_none());
        // The spec beats the version for NumProcesses; the version sets WSGIPath.
        let processes = find(&values, "NumProcesses").unwrap();
        assert_eq!(processes.value.as_deref(), Some("5"));
        assert!(
            matches!(&processes.source, Source::Spec { setting, .. } if setting == "wsgi { processes }")
        );
        let wsgi = find(&values, "WSGIPath").unwrap();
        assert_eq!(
            wsgi.source,
            Source::Version {
                label: "v3".into(),
                file: ".ebextensions/django.config".into()
            }
        );
        assert_eq!(
            find(&values, "DeploymentPolicy").unwrap().value.as_deref(),
            Some("Rolling")
        );
        assert_eq!(
            find(&values, "Colour").unwrap().value.as_deref(),
            Some("blue")
        );
        // A property is named with its source, never with its value.
        let secret = find(&values, "SECRET_KEY").unwrap();
        assert_eq!(secret.value, None);
        assert!(matches!(secret.source, Source::Version { .. }));
        // Defaults are not listed.
        assert!(find(&values, "NumThreads").is_none());
        assert!(find(&values, "InstanceType").is_none());
        assert!(find(&values, "ProxyServer").is_none());
    }

    #[test]
    fn without_a_version_only_the_spec_s_values_are_listed() {
        let env = crate::spec::test_support::one_environment(
            "  instance {\n    type = \"t3.large\"\n  }\n",
        );
        let (values, problem) = non_default(&env, None);
        assert_eq!(problem, None);
        assert_eq!(values.len(), 1, "{values:?}");
        assert_eq!(values[0].option, "InstanceType");
        assert_eq!(values[0].value.as_deref(), Some("t3.large"));
        assert!(crate::spec::default_environment(crate::model::Tier::Worker).is_some());
    }

    #[test]
    fn a_version_the_spec_now_refuses_is_said_and_left_out() {
        let env = crate::spec::test_support::one_environment("");
        let ext = read(&[(
            ".ebextensions/lb.config",
            b"option_settings:\n  aws:elbv2:loadbalancer:\n    IdleTimeout: 120\n  aws:elasticbeanstalk:container:python:\n    NumThreads: 4\n".as_slice(),
        )])
        .unwrap();
        let (values, problem) = non_default(
            &env,
            Some(RunningVersion {
                label: "v1",
                ebextensions: &ext,
            }),
        );
        assert!(problem.unwrap().contains("IdleTimeout"));
        assert!(values.is_empty(), "{values:?}");
    }

    #[test]
    fn a_worker_s_daemon_options_name_their_source_too() {
        let env = crate::spec::test_support::one_environment(
            "  tier = \"worker\"\n  worker {\n    max_retries = 3\n    http_connections = 10\n  }\n",
        );
        let ext = read(&[(
            ".ebextensions/sqsd.config",
            b"option_settings:\n  aws:elasticbeanstalk:sqsd:\n    HttpPath: /jobs\n    HttpConnections: 20\n".as_slice(),
        )])
        .unwrap();
        let (values, problem) = non_default(
            &env,
            Some(RunningVersion {
                label: "v2",
                ebextensions: &ext,
            }),
        );
        assert_eq!(problem, None);
        let path = find(&values, "HttpPath").unwrap();
        assert_eq!(path.value.as_deref(), Some("/jobs"));
        assert!(
            matches!(&path.source, Source::Version { file, .. } if file == ".ebextensions/sqsd.config")
        );
        let connections = find(&values, "HttpConnections").unwrap();
        assert_eq!(connections.value.as_deref(), Some("10"));
        assert!(
            matches!(&connections.source, Source::Spec { setting, .. } if setting == "worker { http_connections }")
        );
        assert_eq!(
            find(&values, "MaxRetries").unwrap().value.as_deref(),
            Some("3")
        );
        assert!(find(&values, "VisibilityTimeout").is_none());
        // A worker has no load balancer: none of its options is listed.
        assert!(find(&values, "HealthCheckPath").is_none());
    }

    #[test]
    fn a_setting_name_is_written_as_the_docs_write_it() {
        assert_eq!(setting_name("proxy"), "proxy");
        assert_eq!(setting_name("capacity.min"), "capacity { min }");
        assert_eq!(
            setting_name("load_balancer.health_check.path"),
            "load_balancer { health_check { path } }"
        );
    }
}
