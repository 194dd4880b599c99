//! Runs the platform engine on this machine (`local run`, tests): writes the engine shipped in
//! this binary (its archive) to a folder and runs it with a Python 3.9+ interpreter. The
//! outcome is the engine's report, read from the file it writes, never its exit status alone.

use crate::ops::view::InstanceView;
use crate::platform::report::Report;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The engine, written to disk, and the interpreter that runs it.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    pub python: PathBuf,
    pub script: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no Python 3.9 or newer found to run the platform engine: install python3 (Debian/Ubuntu: apt-get install python3 python3-venv), or set BEANPOLE_PYTHON to one")]
    NoPython,
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
    #[error("cannot start the platform engine ({python}): {error}")]
    Start {
        python: String,
        error: std::io::Error,
    },
    #[error("cannot play the instance in its own filesystem view: {problem}")]
    View { problem: String },
    #[error("the platform engine stopped without a report (exit status {status}): {stderr}")]
    NoReport { status: String, stderr: String },
}

/// What to deploy where.
#[derive(Debug, Clone)]
pub struct EngineDeploy<'a> {
    pub root: &'a Path,
    pub document: &'a Path,
    pub leader: bool,
    pub instance_id: Option<&'a str>,
    /// Extra environment for the engine (pip's index settings, an S3 endpoint).
    pub env: &'a [(String, String)],
}

impl LocalEngine {
    /// Writes the engine into `dir` (when it differs) and finds the interpreter.
    pub fn install(dir: &Path) -> Result<LocalEngine, EngineError> {
        let python = find_python().ok_or(EngineError::NoPython)?;
        std::fs::create_dir_all(dir).map_err(|error| EngineError::Write {
            path: dir.display().to_string(),
            error,
        })?;
        // Absolute: the engine runs in the instance's view, from its `/`.
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let script = dir.join("beanpole-engine.pyz");
        let engine = &crate::platform::engine::archive().bytes;
        if std::fs::read(&script).ok().as_ref() != Some(engine) {
            std::fs::write(&script, engine).map_err(|error| EngineError::Write {
                path: script.display().to_string(),
                error,
            })?;
        }
        Ok(LocalEngine { python, script })
    }

    /// The engine's `action` for the instance whose folder is `root`: in its private view
    /// (`--root /`), or rooted in the folder where views are not available. `visible`: host
    /// paths the engine reads besides its own script.
    fn command(
        &self,
        action: &str,
        root: &Path,
        visible: &[OsString],
    ) -> Result<Command, EngineError> {
        let view = InstanceView::new(root);
        let mut seen: Vec<OsString> = vec![self.script.clone().into_os_string()];
        seen.extend(visible.iter().cloned());
        let python = self.python.to_string_lossy().into_owned();
        let mut command = view
            .command(&python, &seen)
            .map_err(|problem| EngineError::View { problem })?;
        command
            .arg(&self.script)
            .arg(action)
            .arg("--root")
            .arg(view.engine_root())
            .arg("--init")
            .arg("engine")
            .stdin(Stdio::null());
        // Its own process group: a Ctrl-C at the terminal reaches Beanpole, which lets the
        // engine finish and then stops what it started, never the engine mid-step.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        Ok(command)
    }

    /// Deploys; the report says whether it worked.
    pub fn deploy(&self, request: &EngineDeploy) -> Result<Report, EngineError> {
        // Where the engine can write it: the instance's own state folder.
        let view = InstanceView::new(request.root);
        let report_path = view.host_path("/var/lib/beanpole/local-report.json");
        let report_arg = view
            .engine_root()
            .join("var/lib/beanpole/local-report.json");
        let _ = std::fs::remove_file(&report_path);
        let document = std::path::absolute(request.document)
            .unwrap_or_else(|_| request.document.to_path_buf());
        let mut visible = vec![document.as_os_str().to_os_string()];
        visible.extend(request.env.iter().map(|(_, v)| OsString::from(v)));
        let mut command = self.command("deploy", request.root, &visible)?;
        command
            .arg("--document")
            .arg(&document)
            .arg("--report")
            .arg(&report_arg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if request.leader {
            command.arg("--leader");
        }
        if let Some(id) = request.instance_id {
            command.arg("--instance-id").arg(id);
        }
        command.envs(request.env.iter().map(|(k, v)| (k, v)));
        let output = command.output().map_err(|error| EngineError::Start {
            python: self.python.display().to_string(),
            error,
        })?;
        let report = std::fs::read_to_string(&report_path)
            .ok()
            .and_then(|text| serde_json::from_str::<Report>(&text).ok());
        report.ok_or_else(|| EngineError::NoReport {
            status: output
                .status
                .code()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "a signal".into()),
            stderr: String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n"),
        })
    }

    /// Stops every process the engine started under `root` (the application's and the proxy).
    pub fn stop(&self, root: &Path) -> Result<(), EngineError> {
        self.command("stop", root, &[])?
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|_| ())
            .map_err(|error| EngineError::Start {
                python: self.python.display().to_string(),
                error,
            })
    }

    /// The last `lines` lines of each platform log under `root`, by instance path.
    pub fn logs(&self, root: &Path, lines: u32) -> Result<BTreeMap<String, String>, EngineError> {
        let output = self
            .command("logs", root, &[])?
            .arg("--lines")
            .arg(lines.to_string())
            .stderr(Stdio::piped())
            .output()
            .map_err(|error| EngineError::Start {
                python: self.python.display().to_string(),
                error,
            })?;
        serde_json::from_slice(&output.stdout).map_err(|_| EngineError::NoReport {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// `BEANPOLE_PYTHON`, else `python3` on the PATH, if it is Python 3.9 or newer.
fn find_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("BEANPOLE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&candidate)
        .args([
            "-c",
            "import sys, venv, zipfile; sys.exit(0 if sys.version_info >= (3, 9) else 1)",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(candidate)
}
