//! `local run`: Elastic Beanstalk's Python platform on this machine. The source folder is
//! bundled exactly as for a deploy, its settings resolved (spec, `.ebextensions`, defaults), and
//! the platform engine deploys it under `.beanpole/local/` of the folder: real nginx (or
//! Apache) on 127.0.0.1 in front of gunicorn, with the environment's properties, hooks and
//! static files. Works without a spec on a bare EB application folder.

use super::bundle::{bundle, BundleError, BundleRequest};
use super::engine::{EngineDeploy, EngineError, LocalEngine};
use crate::bundle::ebextensions::Unsupported;
use crate::model::Environment;
use crate::platform::document::{document, HealthCheck, Target, VersionRef};
use crate::platform::report::Report;
use crate::platform::settings::{resolve, RuntimeSettings, SettingProblem};
use std::path::{Path, PathBuf};

/// The Python branch of a bare EB folder: the newest Amazon Linux 2023 branch.
pub const BARE_PYTHON: &str = "3.13";
/// How long the engine waits for the application to answer through the proxy.
pub const HEALTH_TIMEOUT_SECS: u32 = 60;

#[derive(Debug, Clone)]
pub struct LocalRequest {
    pub source: PathBuf,
    /// The environment whose settings apply; `None` for a bare Elastic Beanstalk folder.
    pub environment: Option<Environment>,
    pub application: String,
    /// The proxy's port on 127.0.0.1.
    pub port: u16,
    /// The WSGI server's port, when not the `PORT` property or 8000.
    pub app_port: Option<u16>,
    /// How long the application may take to answer its health check after starting.
    pub health_timeout: u32,
    /// Extra environment for the engine (e.g. pip's index settings).
    pub engine_env: Vec<(String, String)>,
    /// The application's region (its spec's), for `AWS::Region` in `.ebextensions` functions.
    pub region: Option<String>,
}

/// A deployment on this machine: its outcome and how to stop it.
#[derive(Debug)]
pub struct LocalRun {
    pub engine: LocalEngine,
    pub root: PathBuf,
    pub report: Report,
    pub settings: RuntimeSettings,
    pub unsupported: Vec<Unsupported>,
    pub url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the bundle's .ebextensions use CloudFormation functions that have no value here:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Functions(Vec<String>),
    #[error("the bundle's .ebextensions set options Beanpole cannot use:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Settings(Vec<SettingProblem>),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
    #[error("`beanpole local run` is already running for {source_dir} (process {pid}): stop it with Ctrl-C first")]
    Busy { source_dir: String, pid: u32 },
}

/// The environment whose settings `local run` uses: the one named, else the spec's first
/// (with the others, for the user to hear of them).
pub fn choose_environment(
    spec: &crate::model::Spec,
    named: Option<&str>,
) -> Result<(Environment, Vec<String>), String> {
    let names = |envs: &[Environment]| -> String {
        match envs {
            [] => "none".into(),
            _ => envs
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    };
    match (named, spec.environments.as_slice()) {
        (Some(name), all) => spec
            .environment(name)
            .map(|e| (e.clone(), Vec::new()))
            .ok_or_else(|| format!("no environment `{name}` in the spec (it has: {})", names(all))),
        (None, []) => Err("the spec declares no environment: add one, or pass `--source DIR` from a folder without a spec".into()),
        (None, [first, others @ ..]) => Ok((
            first.clone(),
            others.iter().map(|e| e.name.clone()).collect(),
        )),
    }
}

/// What `local run` deploys: an environment's settings (none for a bare Elastic Beanstalk
/// folder), its application's name, the source folder; `note` says which environment was
/// chosen when the spec has several.
#[derive(Debug, Clone)]
pub struct LocalTarget {
    pub environment: Option<Environment>,
    pub application: String,
    /// The application's region, when a spec names it.
    pub region: Option<String>,
    pub source: PathBuf,
    pub note: Option<String>,
}

impl LocalTarget {
    /// What is deployed, in words.
    pub fn describe(&self) -> String {
        match &self.environment {
            Some(e) => format!("{} of {}", e.name, e.application),
            None => format!(
                "{} (a folder without a spec: Elastic Beanstalk's defaults)",
                self.source.display()
            ),
        }
    }
}

/// Whether `local run` deploys a bare folder: a source given, no environment named, and no
/// `*.hcl` file in the spec's folder.
pub fn is_bare(spec_dir: &Path, env: Option<&str>, source: Option<&Path>) -> bool {
    let has_spec = std::fs::read_dir(spec_dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "hcl"))
    });
    env.is_none() && source.is_some() && !has_spec
}

/// The target of `local run`: from the spec (`None`: a bare folder, named after itself), the
/// environment named and the source folder given.
pub fn target(
    spec: Option<&crate::model::Spec>,
    env: Option<&str>,
    source: Option<&Path>,
) -> Result<LocalTarget, String> {
    let target = match spec {
        None => {
            let source = source.map(Path::to_path_buf).unwrap_or_default();
            let application = std::fs::canonicalize(&source)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "app".into());
            LocalTarget {
                environment: None,
                region: None,
                application,
                source,
                note: None,
            }
        }
        Some(spec) => {
            let (env, others) = choose_environment(spec, env)?;
            let source = match source {
                Some(s) => s.to_path_buf(),
                None => spec
                    .application(&env.application)
                    .map(|a| a.source.clone())
                    .unwrap_or_else(|| PathBuf::from("app")),
            };
            let note = (!others.is_empty()).then(|| {
                format!(
                    "Using {}, the spec's first environment (name another to use its settings: {}).",
                    env.name,
                    others.join(", ")
                )
            });
            LocalTarget {
                application: env.application.clone(),
                region: spec
                    .application(&env.application)
                    .and_then(|a| a.region.clone()),
                environment: Some(env),
                source,
                note,
            }
        }
    };
    if !target.source.is_dir() {
        return Err(format!(
            "{} is not a folder: give the application's source folder with `--source DIR`",
            target.source.display()
        ));
    }
    Ok(target)
}

/// Where `local run` keeps its state for a source folder.
pub fn state_dir(source: &Path) -> PathBuf {
    source.join(".beanpole").join("local")
}

/// Marks this process as the one running the folder; refuses while another live one does.
pub fn claim(source: &Path) -> Result<(), LocalError> {
    let dir = state_dir(source);
    let write = |path: &Path, text: String| {
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(path, text))
            .map_err(|error| LocalError::Write {
                path: path.display().to_string(),
                error,
            })
    };
    let pid_file = dir.join("local-run.pid");
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    {
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if alive && pid != std::process::id() {
            return Err(LocalError::Busy {
                source_dir: source.display().to_string(),
                pid,
            });
        }
    }
    write(&pid_file, format!("{}\n", std::process::id()))
}

/// Gives the folder up (after stopping its processes).
pub fn release(source: &Path) {
    let _ = std::fs::remove_file(state_dir(source).join("local-run.pid"));
}

/// Bundles, resolves and deploys the source folder on this machine.
pub fn run(request: &LocalRequest) -> Result<LocalRun, LocalError> {
    // Absolute: the engine reads the bundle and the document from the instance's view.
    let state = state_dir(&request.source);
    let state = std::path::absolute(&state).unwrap_or(state);
    std::fs::create_dir_all(&state).map_err(|error| LocalError::Write {
        path: state.display().to_string(),
        error,
    })?;
    let env = request.environment.as_ref();
    let zip = state.join("bundle.zip");
    let built = bundle(&BundleRequest {
        source: request.source.clone(),
        wsgi_path: env.and_then(|e| e.wsgi.path.clone()),
        out: Some(zip.clone()),
        environment: env.cloned(),
    })?;
    // CloudFormation functions resolved as EB resolves them (what needs an account is refused).
    let cfn = super::functions::local_context(
        &request.application,
        env,
        request.region.as_deref(),
        &built.bundle.ebextensions,
    );
    let ext = super::functions::resolved(&built.bundle.ebextensions, &cfn)
        .map_err(LocalError::Functions)?;
    let (mut settings, unsupported) = resolve(env, &ext).map_err(LocalError::Settings)?;
    if let Some(port) = request.app_port {
        settings.upstream_port = port;
    }
    let root = state.join("root");
    let deployment_id = previous_deployment(&root) + 1;
    let (python, health_check) = match env {
        Some(e) => (
            e.platform.python_version.clone(),
            HealthCheck {
                path: e.load_balancer.health_check.path.clone(),
                matcher: e.load_balancer.health_check.matcher.clone(),
                timeout_secs: request.health_timeout,
                threshold: Default::default(),
            },
        ),
        None => (
            BARE_PYTHON.to_string(),
            HealthCheck {
                path: "/".into(),
                matcher: "200".into(),
                timeout_secs: request.health_timeout,
                threshold: Default::default(),
            },
        ),
    };
    let doc = document(
        Target {
            application: request.application.clone(),
            environment: env.map(|e| e.name.clone()).unwrap_or_default(),
            deployment_id,
            python,
            port: request.port,
            listen_address: Some("127.0.0.1".into()),
            health_check,
        },
        VersionRef {
            label: built.bundle.default_label(super::now_unix()),
            sha256: built.bundle.sha256.clone(),
            source: zip.display().to_string(),
        },
        &settings,
        &ext,
    );
    let doc_path = state.join("deployment.json");
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    std::fs::write(&doc_path, text).map_err(|error| LocalError::Write {
        path: doc_path.display().to_string(),
        error,
    })?;
    let engine = LocalEngine::install(&state)?;
    let report = engine.deploy(&EngineDeploy {
        root: &root,
        document: &doc_path,
        leader: true,
        instance_id: Some("local"),
        env: &request.engine_env,
    })?;
    let mut unsupported = unsupported;
    unsupported.extend(built.bundle.ebextensions.unsupported.iter().cloned());
    // What only an account has: said, never left out silently.
    if let Some(env) = env {
        for (property, output) in &env.resource_properties {
            unsupported.push(Unsupported {
                file: "the spec".to_string(),
                key: format!("properties.{property}"),
                reason: format!(
                    "it reads {} of {}, a stack `local run` does not make: set it with a literal value to run locally",
                    output.describe(),
                    output.stack
                ),
                runs: false,
            });
        }
    }
    for r in &built.bundle.ebextensions.resources {
        unsupported.push(Unsupported {
            file: r.file.clone(),
            key: format!("Resources.{}", r.name),
            reason: "`local run` creates no AWS resources; a deploy to an environment does"
                .to_string(),
            runs: false,
        });
    }
    Ok(LocalRun {
        engine,
        url: format!("http://127.0.0.1:{}", request.port),
        root,
        report,
        settings,
        unsupported,
    })
}

/// The deployment id of what the root last ran (0 for none).
fn previous_deployment(root: &Path) -> u64 {
    std::fs::read_to_string(root.join("var/lib/beanpole/reports/latest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("deployment_id").and_then(|d| d.as_u64()))
        .unwrap_or(0)
}
