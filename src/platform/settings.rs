//! How an application runs, resolved with Elastic Beanstalk's precedence: what the spec says
//! directly, else the bundle's `.ebextensions` option_settings (later files win), else EB's
//! defaults. Pure.

use super::options::what_beanpole_does;
use crate::bundle::ebextensions::{EbExtensions, Unsupported};
use crate::model::{BatchSize, DeploymentPolicy, Environment, Proxy};
use crate::spec::checks;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_WSGI_PATH: &str = crate::bundle::DEFAULT_WSGI_PATH;
pub const DEFAULT_PROCESSES: u32 = 1;
pub const DEFAULT_THREADS: u32 = 15;
/// EB's `aws:elasticbeanstalk:command` `Timeout` default, in seconds.
pub const DEFAULT_TIMEOUT: u32 = 600;
/// The batch size of a rolling deployment when nothing says: the EB CLI's recommended 30%.
pub const DEFAULT_BATCH: BatchSize = BatchSize::Percent(30);
/// Traffic splitting's share of requests for the new instances (EB's default).
pub const DEFAULT_NEW_VERSION_PERCENT: u32 = 10;
/// Traffic splitting's evaluation time in seconds (EB's default: 5 minutes).
pub const DEFAULT_EVALUATION_TIME: u32 = 300;
/// The WSGI server's port behind the proxy on EB's Python platform.
pub const DEFAULT_UPSTREAM_PORT: u16 = 8000;

/// Everything about running the application that a deployment needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSettings {
    pub proxy: Proxy,
    pub wsgi_path: String,
    pub processes: u32,
    pub threads: u32,
    /// URL path → folder of the bundle.
    pub static_files: BTreeMap<String, String>,
    pub properties: BTreeMap<String, String>,
    /// Properties read on the instance from Secrets Manager or Parameter Store (references
    /// only; the spec's, which beat a plain property of the same name in `.ebextensions`).
    #[serde(default)]
    pub secrets: BTreeMap<String, crate::model::SecretRef>,
    pub policy: DeploymentPolicy,
    pub batch_size: BatchSize,
    pub timeout: u32,
    /// `traffic-splitting`: the new instances' share of requests during the evaluation.
    #[serde(default = "default_new_version_percent")]
    pub new_version_percent: u32,
    /// `traffic-splitting`: seconds of evaluation before the new instances take all requests.
    #[serde(default = "default_evaluation_time")]
    pub evaluation_time: u32,
    /// The health an instance must reach for its batch to pass.
    #[serde(default)]
    pub health_threshold: crate::model::HealthThreshold,
    /// The port the WSGI server listens on (the `PORT` property, else 8000).
    pub upstream_port: u16,
    /// A worker's daemon (`None` for the web tier).
    #[serde(default)]
    pub worker: Option<crate::model::worker::DaemonSettings>,
}

fn default_new_version_percent() -> u32 {
    DEFAULT_NEW_VERSION_PERCENT
}

fn default_evaluation_time() -> u32 {
    DEFAULT_EVALUATION_TIME
}

impl RuntimeSettings {
    /// EB's generated `web` process when there is no Procfile.
    pub fn default_web_command(&self) -> String {
        format!(
            "gunicorn --bind 127.0.0.1:{} --workers={} --threads={} {}",
            self.upstream_port, self.processes, self.threads, self.wsgi_path
        )
    }
}

/// An option setting with a value Beanpole cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {namespace} {} = `{}`: {reason}", crate::display::one_line(.option), crate::display::one_line(.value))]
pub struct SettingProblem {
    pub file: String,
    pub namespace: String,
    pub option: String,
    pub value: String,
    pub reason: String,
}

use super::options::{
    COMMAND, CUSTOM, HEALTH_REPORTING, PROPERTIES, PROXY, PYTHON, SPLITTING, STATIC,
};
use crate::model::worker::SQSD_NAMESPACE;

/// Resolves the settings of `env` (none: a bare EB app folder, as `local run --source`) over
/// the bundle's `.ebextensions`. Option settings Beanpole does not carry out are returned as
/// unsupported, each by file and key.
pub fn resolve(
    env: Option<&Environment>,
    ext: &EbExtensions,
) -> Result<(RuntimeSettings, Vec<Unsupported>), Vec<SettingProblem>> {
    let mut problems = Vec::new();
    let mut unsupported = Vec::new();
    let mut proxy = None;
    let mut wsgi_path = None;
    let mut processes = None;
    let mut threads = None;
    let mut static_files = BTreeMap::new();
    let mut properties = BTreeMap::new();
    let mut policy = None;
    let mut batch_value = None;
    let mut batch_type = None;
    let mut timeout = None;
    let mut new_version_percent = None;
    let mut evaluation_time = None;
    let mut health_threshold = None;
    let mut sqsd: BTreeMap<String, String> = BTreeMap::new();
    let worker = env.and_then(|e| e.worker.as_ref());
    for o in &ext.option_settings {
        let problem = |reason: &str| SettingProblem {
            file: o.file.clone(),
            namespace: o.namespace.clone(),
            option: o.option.clone(),
            value: o.value.clone(),
            reason: reason.to_string(),
        };
        let number = |min: u32, max: u32| {
            o.value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| problem(&format!("a whole number from {min} to {max}")))
        };
        let result: Result<(), SettingProblem> = match (o.namespace.as_str(), o.option.as_str()) {
            (PROPERTIES, name) => checks::property_name(name)
                .and_then(|_| checks::property_value(&o.value))
                .map(|_| {
                    properties.insert(name.to_string(), o.value.clone());
                })
                .map_err(|r| problem(&r)),
            (PYTHON, "WSGIPath") => checks::wsgi_path(&o.value)
                .map(|_| wsgi_path = Some(o.value.clone()))
                .map_err(|r| problem(&r)),
            (PYTHON, "NumProcesses") => number(1, 64).map(|n| processes = Some(n)),
            (PYTHON, "NumThreads") => number(1, 256).map(|n| threads = Some(n)),
            (PROXY, "ProxyServer") => match o.value.as_str() {
                "nginx" => {
                    proxy = Some(Proxy::Nginx);
                    Ok(())
                }
                "apache" => {
                    proxy = Some(Proxy::Apache);
                    Ok(())
                }
                _ => Err(problem("nginx or apache")),
            },
            (STATIC, path) => checks::url_path(path)
                .and_then(|_| checks::bundle_folder(&o.value))
                .map(|_| {
                    static_files.insert(path.to_string(), o.value.clone());
                })
                .map_err(|r| problem(&r)),
            (COMMAND, "DeploymentPolicy") => match DeploymentPolicy::parse_option(&o.value) {
                Some(p) => {
                    policy = Some(p);
                    Ok(())
                }
                None => Err(problem(
                    "AllAtOnce, Rolling, RollingWithAdditionalBatch, Immutable or TrafficSplitting",
                )),
            },
            (COMMAND, "BatchSize") => number(1, 10_000).map(|n| batch_value = Some(n)),
            (COMMAND, "BatchSizeType") => match o.value.as_str() {
                "Percentage" | "Fixed" => {
                    batch_type = Some(o.value.clone());
                    Ok(())
                }
                _ => Err(problem("Percentage or Fixed")),
            },
            (COMMAND, "Timeout") => number(1, 3600).map(|n| timeout = Some(n)),
            (COMMAND, "HealthCheckSuccessThreshold") => {
                unsupported.push(Unsupported {
                    file: o.file.clone(),
                    key: format!("option_settings.{COMMAND}.HealthCheckSuccessThreshold"),
                    reason: format!("EB reads HealthCheckSuccessThreshold in {HEALTH_REPORTING}, not here: move it there (or set `deployment {{ health_threshold }}` in the spec); this one has no effect"),
                    runs: false,
                });
                Ok(())
            }
            (HEALTH_REPORTING, "HealthCheckSuccessThreshold") => {
                match crate::model::HealthThreshold::parse_option(&o.value) {
                    Some(t) => {
                        health_threshold = Some(t);
                        Ok(())
                    }
                    None => Err(problem("Ok, Warning, Degraded or Severe")),
                }
            }
            (SPLITTING, "NewVersionPercent") => {
                number(1, 100).map(|n| new_version_percent = Some(n))
            }
            // Minutes, as Elastic Beanstalk counts them.
            (SPLITTING, "EvaluationTime") => number(3, 600).map(|n| evaluation_time = Some(n * 60)),
            (SQSD_NAMESPACE, option) => match worker {
                None => {
                    unsupported.push(Unsupported {
                        file: o.file.clone(),
                        key: format!("option_settings.{SQSD_NAMESPACE}.{option}"),
                        reason: "a worker's option, and this is a web environment (EB ignores it too): set `tier = \"worker\"` in the spec for a worker".into(),
                        runs: false,
                    });
                    Ok(())
                }
                Some(w) => super::daemon::sqsd_option(w, option, &o.value)
                    .map(|value| {
                        if let Some(value) = value {
                            sqsd.insert(option.to_string(), value);
                        }
                    })
                    .map_err(|r| problem(&r)),
            },
            (CUSTOM, _) => Ok(()),
            (namespace, option) => {
                use super::options::{infrastructure, unqualified, Infrastructure};
                // `AWSEBCloudwatchAlarmHigh.aws:autoscaling:trigger`: the namespace's option
                // on one of EB's resources (as saved configurations write it).
                let plain = unqualified(namespace);
                let verdict = env.and_then(|e| infrastructure(e, plain, option, &o.value));
                let mut warn = |reason: String| {
                    unsupported.push(Unsupported {
                        file: o.file.clone(),
                        key: format!("option_settings.{namespace}.{option}"),
                        reason,
                        runs: false,
                    })
                };
                match verdict {
                    Some(Infrastructure::InEffect) => Ok(()),
                    Some(Infrastructure::Overridden(why)) => {
                        warn(why);
                        Ok(())
                    }
                    Some(Infrastructure::Refused(why)) => Err(problem(&why)),
                    None => {
                        warn(what_beanpole_does(plain, option));
                        Ok(())
                    }
                }
            }
        };
        if let Err(p) = result {
            problems.push(p);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if !ext.cron.is_empty() && env.is_some_and(|e| !e.is_worker()) {
        unsupported.push(Unsupported {
            file: crate::bundle::cron::FILE.into(),
            key: "cron".into(),
            reason: "periodic tasks run on a worker environment (EB ignores cron.yaml in a web environment too): deploy this version to a `tier = \"worker\"` environment".into(),
            runs: false,
        });
    }
    let from_ext = FromEbExtensions {
        proxy,
        wsgi_path,
        processes,
        threads,
        static_files,
        properties,
        policy,
        batch_size: batch_value.map(|n| match batch_type.as_deref() {
            Some("Fixed") => BatchSize::Fixed(n),
            _ => BatchSize::Percent(n.min(100)),
        }),
        timeout,
        new_version_percent,
        evaluation_time,
        health_threshold,
        sqsd,
    };
    let settings = assemble(env, from_ext);
    if let Some(daemon) = &settings.worker {
        if daemon.inactivity_timeout >= daemon.visibility_timeout {
            return Err(vec![SettingProblem {
                file: ".ebextensions".into(),
                namespace: SQSD_NAMESPACE.into(),
                option: "InactivityTimeout".into(),
                value: daemon.inactivity_timeout.to_string(),
                reason: format!("must be less than VisibilityTimeout ({}): a message would become visible again while the application still works on it, and be processed twice", daemon.visibility_timeout),
            }]);
        }
    }
    Ok((settings, unsupported))
}

/// What a bundle's `.ebextensions` option settings say, each `None` (or empty) where they say
/// nothing.
#[derive(Debug, Clone, Default)]
struct FromEbExtensions {
    proxy: Option<Proxy>,
    wsgi_path: Option<String>,
    processes: Option<u32>,
    threads: Option<u32>,
    static_files: BTreeMap<String, String>,
    properties: BTreeMap<String, String>,
    policy: Option<DeploymentPolicy>,
    batch_size: Option<BatchSize>,
    timeout: Option<u32>,
    new_version_percent: Option<u32>,
    evaluation_time: Option<u32>,
    health_threshold: Option<crate::model::HealthThreshold>,
    /// `aws:elasticbeanstalk:sqsd` options, checked (a worker's).
    sqsd: BTreeMap<String, String>,
}

/// The settings of an environment with no bundle yet (the sample application): the spec over
/// Elastic Beanstalk's defaults.
pub fn from_spec(env: &Environment) -> RuntimeSettings {
    assemble(Some(env), FromEbExtensions::default())
}

/// The spec over `.ebextensions` over the defaults.
fn assemble(spec: Option<&Environment>, ext: FromEbExtensions) -> RuntimeSettings {
    let mut static_files = ext.static_files;
    let mut properties = ext.properties;
    // Python serves `static/` at `/static` unless a mapping takes `/static`.
    static_files
        .entry("/static".to_string())
        .or_insert_with(|| "static".to_string());
    let mut secrets = BTreeMap::new();
    if let Some(env) = spec {
        static_files.extend(env.static_files.clone());
        properties.extend(env.properties.clone());
        secrets = env.secrets.clone();
        properties.retain(|name, _| !secrets.contains_key(name));
    }
    let upstream_port = properties
        .get("PORT")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_UPSTREAM_PORT);
    RuntimeSettings {
        proxy: match spec {
            Some(env) if env.proxy_in_spec => env.proxy,
            _ => ext.proxy.unwrap_or(Proxy::Nginx),
        },
        wsgi_path: spec
            .and_then(|e| e.wsgi.path.clone())
            .or(ext.wsgi_path)
            .unwrap_or_else(|| DEFAULT_WSGI_PATH.to_string()),
        processes: spec
            .and_then(|e| e.wsgi.processes)
            .or(ext.processes)
            .unwrap_or(DEFAULT_PROCESSES),
        threads: spec
            .and_then(|e| e.wsgi.threads)
            .or(ext.threads)
            .unwrap_or(DEFAULT_THREADS),
        static_files,
        properties,
        secrets,
        policy: spec
            .and_then(|e| e.deployment.policy)
            .or(ext.policy)
            .unwrap_or(DeploymentPolicy::AllAtOnce),
        batch_size: spec
            .and_then(|e| e.deployment.batch_size)
            .or(ext.batch_size)
            .unwrap_or(DEFAULT_BATCH),
        timeout: spec
            .and_then(|e| e.deployment.timeout)
            .or(ext.timeout)
            .unwrap_or(DEFAULT_TIMEOUT),
        new_version_percent: spec
            .and_then(|e| e.deployment.new_version_percent)
            .or(ext.new_version_percent)
            .unwrap_or(DEFAULT_NEW_VERSION_PERCENT),
        evaluation_time: spec
            .and_then(|e| e.deployment.evaluation_time)
            .or(ext.evaluation_time)
            .unwrap_or(DEFAULT_EVALUATION_TIME),
        health_threshold: spec
            .and_then(|e| e.deployment.health_threshold)
            .or(ext.health_threshold)
            .unwrap_or_default(),
        upstream_port,
        worker: spec
            .and_then(|e| e.worker.as_ref())
            .map(|w| super::daemon::daemon_settings(w, &ext.sqsd)),
    }
}

/// What `get-config optionsettings` shows on an instance, by namespace and option: the
/// settings Beanpole applies, under EB's names, and the application's custom options. Secret
/// properties are absent (the document holds only their references).
pub fn option_settings(
    settings: &RuntimeSettings,
    ext: &EbExtensions,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut all: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut set = |namespace: &str, option: &str, value: String| {
        all.entry(namespace.to_string())
            .or_default()
            .insert(option.to_string(), value);
    };
    for (name, value) in &settings.properties {
        set(PROPERTIES, name, value.clone());
    }
    set(PYTHON, "WSGIPath", settings.wsgi_path.clone());
    set(PYTHON, "NumProcesses", settings.processes.to_string());
    set(PYTHON, "NumThreads", settings.threads.to_string());
    set(
        PROXY,
        "ProxyServer",
        match settings.proxy {
            Proxy::Nginx => "nginx".into(),
            Proxy::Apache => "apache".into(),
        },
    );
    for (path, folder) in &settings.static_files {
        set(STATIC, path, folder.clone());
    }
    set(COMMAND, "Timeout", settings.timeout.to_string());
    for o in ext.option_settings.iter().filter(|o| o.namespace == CUSTOM) {
        set(CUSTOM, &o.option, o.value.clone());
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::ebextensions::read;
    use crate::platform::options::{option_effect, EB_OPTIONS};

    fn env(spec_body: &str) -> Environment {
        crate::spec::test_support::one_environment(spec_body)
    }

    const EXT: &[u8] = br#"
option_settings:
  aws:elasticbeanstalk:container:python:
    WSGIPath: mysite.wsgi:application
    NumProcesses: 3
  aws:elasticbeanstalk:application:environment:
    DJANGO_SETTINGS_MODULE: mysite.settings
    MODE: ext
  aws:elasticbeanstalk:environment:proxy:
    ProxyServer: apache
  aws:elasticbeanstalk:environment:proxy:staticfiles:
    /assets: web/assets
  aws:elasticbeanstalk:command:
    DeploymentPolicy: Rolling
    BatchSize: 2
    BatchSizeType: Fixed
  aws:autoscaling:asg:
    MinSize: 2
"#;

    #[test]
    fn the_spec_beats_ebextensions_which_beat_defaults() {
        let ext = read(&[(".ebextensions/01.config", EXT)]).unwrap();
        let (s, unsupported) = resolve(None, &ext).unwrap();
        assert_eq!(s.wsgi_path, "mysite.wsgi:application");
        assert_eq!((s.processes, s.threads), (3, 15));
        assert_eq!(s.proxy, Proxy::Apache);
        assert_eq!(s.policy, DeploymentPolicy::Rolling);
        assert_eq!(s.batch_size, BatchSize::Fixed(2));
        assert_eq!(s.static_files["/static"], "static");
        assert_eq!(s.static_files["/assets"], "web/assets");
        assert_eq!(
            unsupported[0].key,
            "option_settings.aws:autoscaling:asg.MinSize"
        );

        let e = env("  proxy = \"nginx\"\n  capacity {\n    min = 2\n  }\n  properties = { MODE = \"spec\" }\n  wsgi {\n    processes = 2\n  }\n  deployment {\n    policy = \"all-at-once\"\n    timeout = \"15m\"\n  }\n  static_files = { \"/static\" = \"public\" }");
        let (s, _) = resolve(Some(&e), &ext).unwrap();
        assert_eq!(s.wsgi_path, "mysite.wsgi:application");
        assert_eq!(s.processes, 2);
        assert_eq!(s.proxy, Proxy::Nginx);
        assert_eq!(s.properties["MODE"], "spec");
        assert_eq!(s.properties["DJANGO_SETTINGS_MODULE"], "mysite.settings");
        assert_eq!(s.policy, DeploymentPolicy::AllAtOnce);
        assert_eq!(s.timeout, 900);
        assert_eq!(s.static_files["/static"], "public");
        assert_eq!(
            s.default_web_command(),
            "gunicorn --bind 127.0.0.1:8000 --workers=2 --threads=15 mysite.wsgi:application"
        );

        // Without a spec proxy, the bundle's ProxyServer applies.
        let (s, _) = resolve(Some(&env("  capacity {\n    min = 2\n  }")), &ext).unwrap();
        assert_eq!(s.proxy, Proxy::Apache);
    }

    #[test]
    fn an_infrastructure_option_is_in_effect_overridden_by_the_spec_or_refused() {
        let ext = |body: &str| {
            read(&[(
                ".ebextensions/01.config",
                format!("option_settings:\n{body}").as_bytes(),
            )])
            .unwrap()
        };
        let keys = |u: &[Unsupported]| u.iter().map(|u| u.key.clone()).collect::<Vec<_>>();
        // The environment's own values (the spec's, or the defaults): in effect, nothing said.
        let spec = env("  capacity {\n    min = 2\n    max = 6\n  }");
        let same = ext("  aws:autoscaling:asg:\n    MinSize: 2\n    MaxSize: 6\n  aws:elasticbeanstalk:application:\n    Application Healthcheck URL: HTTP:80/\n  aws:ec2:instances:\n    InstanceTypes: t3.small\n");
        let (_, unsupported) = resolve(Some(&spec), &same).unwrap();
        assert_eq!(keys(&unsupported), Vec::<String>::new());
        // Another value of a setting the spec writes: the spec wins, and that is said.
        let (_, unsupported) = resolve(
            Some(&spec),
            &ext("  aws:autoscaling:asg:\n    MaxSize: 8\n"),
        )
        .unwrap();
        assert_eq!(
            keys(&unsupported),
            ["option_settings.aws:autoscaling:asg.MaxSize"]
        );
        assert!(unsupported[0]
            .reason
            .starts_with("overridden by the spec's `capacity { max }` (6)"));
        // Another value of one the spec leaves to its default: refused, pointing to apply; a
        // list of instance types is never Beanpole's one type.
        for (body, setting) in [
            ("  aws:autoscaling:asg:\n    MinSize: 2\n", "capacity { min }"),
            ("  aws:ec2:instances:\n    InstanceTypes: t3.small,t3.micro\n", "instance { type }"),
            ("  aws:elasticbeanstalk:environment:process:default:\n    HealthCheckPath: /health\n", "load_balancer { health_check { path } }"),
        ] {
            let problems = resolve(Some(&env("")), &ext(body)).unwrap_err();
            assert!(
                problems[0].reason.contains(&format!("set it in the spec (`{setting}`) and run `beanpole apply`")),
                "{problems:?}"
            );
        }
        // Without an environment (`bundle`, `versions create`): said what the spec holds.
        let (_, unsupported) =
            resolve(None, &ext("  aws:autoscaling:asg:\n    MinSize: 2\n")).unwrap();
        assert!(unsupported[0]
            .reason
            .starts_with("the spec holds it (`capacity { min }`)"));
    }

    #[test]
    fn a_namespace_qualified_by_one_of_eb_s_resources_is_that_namespace() {
        let ext = read(&[(
            ".ebextensions/01.config",
            b"option_settings:\n  AWSEBCloudwatchAlarmLow.aws:autoscaling:trigger:\n    LowerThreshold: '30'\n" as &[u8],
        )])
        .unwrap();
        let (_, unsupported) = resolve(None, &ext).unwrap();
        assert_eq!(
            unsupported[0].key,
            "option_settings.AWSEBCloudwatchAlarmLow.aws:autoscaling:trigger.LowerThreshold"
        );
        assert_eq!(
            unsupported[0].reason,
            crate::platform::options::what_beanpole_does(
                "aws:autoscaling:trigger",
                "LowerThreshold"
            )
        );
    }

    #[test]
    fn a_bad_option_value_is_named_by_file_and_option() {
        let ext = read(&[(
            ".ebextensions/02.config",
            b"option_settings:\n  aws:elasticbeanstalk:container:python:\n    NumThreads: lots\n    WSGIPath: \"app; rm -rf /\"\n",
        )])
        .unwrap();
        let problems = resolve(None, &ext).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert!(problems[0].to_string().starts_with(
            ".ebextensions/02.config: aws:elasticbeanstalk:container:python NumThreads = `lots`"
        ));
    }

    /// The options table says "applied" for exactly the options `resolve` takes: the two
    /// lists of the options Beanpole applies cannot drift apart.
    #[test]
    fn the_options_table_says_applied_for_exactly_what_resolve_takes() {
        let valid = BTreeMap::from([
            ("WSGIPath", "app:app"),
            ("ProxyServer", "nginx"),
            ("DeploymentPolicy", "Rolling"),
            ("BatchSizeType", "Fixed"),
            ("Timeout", "60"),
            ("HealthCheckSuccessThreshold", "Ok"),
            ("EvaluationTime", "5"),
        ]);
        for (namespace, options) in EB_OPTIONS {
            for option in options.iter().filter(|o| **o != "*") {
                let ext = EbExtensions {
                    option_settings: vec![crate::bundle::ebextensions::OptionSetting {
                        file: ".ebextensions/x.config".into(),
                        namespace: namespace.to_string(),
                        option: option.to_string(),
                        value: valid.get(option).unwrap_or(&"1").to_string(),
                    }],
                    ..Default::default()
                };
                let (_, unsupported) =
                    resolve(None, &ext).unwrap_or_else(|p| panic!("{namespace} {option}: {p:?}"));
                assert_eq!(
                    unsupported.is_empty(),
                    option_effect(namespace, option).starts_with("applied"),
                    "{namespace} {option}: {unsupported:?}"
                );
            }
        }
    }
}
