//! The platform engine for real on this machine: real pip, gunicorn, nginx and Apache, the
//! application's own answers over HTTP on 127.0.0.1. Needs nginx and Apache installed
//! (`scripts/test` installs them); Python packages come from `target/wheelhouse` when
//! `scripts/test` filled it, else from the package index.

use crate::common::{beanpole, free_port, manifest_dir, TempDir};
use beanpole::model::Environment;
use beanpole::ops::engine::{EngineDeploy, LocalEngine};
use beanpole::ops::local::{run, state_dir, LocalRequest, LocalRun};
use beanpole::platform::report::Report;
use beanpole::spec::{compile_dir, DiskFs, MemoryFs, VariableInputs};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// pip's settings: the wheelhouse `scripts/test` downloads, when there is one.
pub fn pip_env() -> Vec<(String, String)> {
    let wheelhouse = manifest_dir().join("target/wheelhouse");
    if wheelhouse.is_dir() {
        vec![
            ("PIP_NO_INDEX".into(), "1".into()),
            ("PIP_FIND_LINKS".into(), wheelhouse.display().to_string()),
        ]
    } else {
        Vec::new()
    }
}

pub fn require(program: &str, package: &str) {
    let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists());
    assert!(
        found,
        "{program} is not installed: these tests run the real one (scripts/test installs it: apt-get install {package})"
    );
}

/// One HTTP GET on 127.0.0.1: (status, body).
pub fn get(port: u16, path: &str) -> (u16, String) {
    request(port, "GET", path, "")
}

/// One HTTP request with a body on 127.0.0.1: (status, body); (0, "") when nothing answers.
pub fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let _ = write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: beanpole-test\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Writes a file of the application, executable or not.
pub fn put(dir: &Path, name: &str, text: &str, executable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The environment a spec body declares (inside `environment "e-test" { … }`).
pub fn environment(body: &str) -> Environment {
    let fs = MemoryFs::new().with_file(
        "spec/main.hcl",
        format!(
            "application \"a\" {{\n  region = \"us-east-2\"\n}}\nenvironment \"e-test\" {{\n  application = application.a\n  platform = \"python-3.12\"\n{body}\n}}\n"
        ),
    );
    let c = compile_dir(&fs, Path::new("spec"), &VariableInputs::default());
    assert!(c.is_valid(), "{:?}", c.diagnostics);
    c.spec.environments[0].clone()
}

/// A local deployment that stops its processes when dropped (even when a test fails).
pub struct Served {
    pub run: LocalRun,
    pub port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.run.engine.stop(&self.run.root);
    }
}

pub fn deploy(source: &Path, env: Option<Environment>, port: u16, app_port: u16) -> LocalRun {
    deploy_with_timeout(source, env, port, app_port, 60)
}

pub fn deploy_with_timeout(
    source: &Path,
    env: Option<Environment>,
    port: u16,
    app_port: u16,
    health_timeout: u32,
) -> LocalRun {
    run(&LocalRequest {
        source: source.to_path_buf(),
        environment: env,
        application: "a".into(),
        port,
        app_port: Some(app_port),
        health_timeout,
        engine_env: pip_env(),
        region: Some("us-east-2".into()),
    })
    .unwrap_or_else(|e| panic!("local deployment of {}: {e}", source.display()))
}

pub fn report_text(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

pub fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const FLASK_APP: &str = r#"import os, sys
from flask import Flask

application = Flask(__name__)


@application.before_request
def log_request():
    from flask import request
    print("request %s" % request.path, flush=True)


@application.route("/")
def home():
    return "hello %s from %s (%s)" % (os.environ.get("GREETING"), os.environ.get("FROM_EBEXT"), os.environ.get("VERSION_NAME", "v1"))


@application.route("/health")
def health():
    return "ok"
"#;

const RECORD_HOOK: &str =
    "#!/bin/sh\necho \"$0 $(pwd) leader=$EB_IS_COMMAND_LEADER port=$PORT\" >> /var/log/order.log\n";

const EBEXTENSIONS: &str = r#"option_settings:
  aws:elasticbeanstalk:application:environment:
    FROM_EBEXT: ebextensions
    GREETING: overridden-by-the-spec
commands:
  01_command:
    command: echo "command $(pwd)" >> /var/log/order.log
files:
  /var/app/greeting.txt:
    mode: "000640"
    content: |
      written by .ebextensions files
container_commands:
  01_leader:
    command: echo "leader $(hostname)" >> /var/log/leader.log
    leader_only: true
  02_container:
    command: echo "container $(pwd)" >> /var/log/order.log
unknown_key:
  x: 1
"#;

/// A Flask application with every kind of customisation: hooks, .ebextensions, static files.
fn flask_app(dir: &Path) {
    put(dir, "application.py", FLASK_APP, false);
    put(dir, "requirements.txt", "Flask\n", false);
    put(dir, "static/hello.txt", "static hello\n", false);
    for stage in ["prebuild", "predeploy", "postdeploy"] {
        put(
            dir,
            &format!(".platform/hooks/{stage}/01_record.sh"),
            RECORD_HOOK,
            true,
        );
    }
    put(dir, ".ebextensions/01_app.config", EBEXTENSIONS, false);
}

fn flask_served_through(proxy: &str) {
    require(if proxy == "nginx" { "nginx" } else { "apache2" }, proxy);
    let dir = TempDir::new(&format!("platform-{proxy}"));
    let source = dir.path().join("app");
    flask_app(&source);
    let env = environment(&format!(
        "  proxy = \"{proxy}\"\n  properties = {{ GREETING = \"world\" }}\n  load_balancer {{\n    health_check {{\n      path = \"/health\"\n    }}\n  }}"
    ));
    let (port, app_port) = (free_port(), free_port());
    let served = Served {
        run: deploy(&source, Some(env), port, app_port),
        port,
    };
    let report = &served.run.report;
    assert!(report.succeeded(), "{}", report_text(report));
    assert_eq!(
        served
            .run
            .unsupported
            .iter()
            .map(|u| u.key.as_str())
            .collect::<Vec<_>>(),
        ["unknown_key"],
        "unsupported keys are reported by file and key"
    );

    // The application's own answer through the proxy: spec properties beat .ebextensions.
    assert_eq!(
        get(port, "/"),
        (200, "hello world from ebextensions (v1)".to_string())
    );
    // A static file, served by the proxy: it never reaches gunicorn.
    assert_eq!(
        get(port, "/static/hello.txt"),
        (200, "static hello\n".into())
    );
    let root = &served.run.root;
    let app_log = read(root.join("var/log/web.stdout.log"));
    assert!(app_log.contains("request /\n"), "{app_log}");
    assert!(
        !app_log.contains("hello.txt"),
        "gunicorn saw the static file:\n{app_log}"
    );
    if proxy == "nginx" {
        // EB's health log: `msec"uri"status"request_time"upstream_time"forwarded_for`; a
        // request nginx answered itself has no upstream time.
        let healthd = std::fs::read_dir(root.join("var/log/nginx/healthd"))
            .unwrap()
            .flatten()
            .map(|e| read(e.path()))
            .collect::<String>();
        let line = |uri: &str| {
            healthd
                .lines()
                .rfind(|l| l.contains(&format!("\"{uri}\"200\"")))
                .unwrap_or_else(|| panic!("no {uri} in the health log:\n{healthd}"))
                .to_string()
        };
        assert_eq!(line("/static/hello.txt").split('"').nth(4), Some("-"));
        assert_ne!(line("/").split('"').nth(4), Some("-"));
    } else {
        let access = read(root.join("var/log/httpd/access_log"));
        assert!(access.contains("GET /static/hello.txt"), "{access}");
    }

    // Hooks and commands in EB's order, each in EB's working folder, at EB's paths.
    let staging = Path::new("/var/app/staging");
    let current = Path::new("/var/app/current");
    let order = read(root.join("var/log/order.log"));
    let expected = [
        "command /".to_string(),
        format!(
            ".platform/hooks/prebuild/01_record.sh {} leader=true port={app_port}",
            staging.display()
        ),
        format!("container {}", staging.display()),
        format!(
            ".platform/hooks/predeploy/01_record.sh {} leader=true port={app_port}",
            staging.display()
        ),
        format!(
            ".platform/hooks/postdeploy/01_record.sh {} leader=true port={app_port}",
            current.display()
        ),
    ];
    let lines: Vec<String> = order
        .lines()
        .map(|l| {
            // `$0` is the hook's full path: keep what follows the application folder.
            match l.find(".platform/") {
                Some(i) => l[i..].to_string(),
                None => l.to_string(),
            }
        })
        .collect();
    assert_eq!(lines, expected, "{order}");
    assert_eq!(
        read(root.join("var/app/greeting.txt")),
        "written by .ebextensions files\n"
    );
    assert_eq!(read(root.join("var/log/leader.log")).lines().count(), 1);
    // The environment file the processes read, at EB's path, with the venv at EB's path.
    let env_file = read(root.join("opt/elasticbeanstalk/deployment/env"));
    assert!(env_file.contains("GREETING=\"world\""), "{env_file}");
    assert!(
        env_file.contains("PYTHONPATH=\"/var/app/venv/staging-LQM1lest/bin\""),
        "{env_file}"
    );
}

#[test]
fn a_flask_app_with_hooks_and_ebextensions_serves_through_real_nginx() {
    flask_served_through("nginx");
}

#[test]
fn a_flask_app_with_hooks_and_ebextensions_serves_through_real_apache() {
    flask_served_through("apache");
}

#[test]
fn a_leader_only_container_command_runs_on_one_instance_of_a_deployment() {
    require("nginx", "nginx");
    let dir = TempDir::new("platform-leader");
    let source = dir.path().join("app");
    flask_app(&source);
    let env = environment("  properties = { GREETING = \"world\" }");
    let (port, app_port) = (free_port(), free_port());
    let first = Served {
        run: deploy(&source, Some(env), port, app_port),
        port,
    };
    assert!(
        first.run.report.succeeded(),
        "{}",
        report_text(&first.run.report)
    );
    // A second instance of the same deployment: the same document, its own root and ports.
    let doc_path = state_dir(&source).join("deployment.json");
    let mut doc: serde_json::Value = serde_json::from_str(&read(doc_path)).unwrap();
    let (port2, app_port2) = (free_port(), free_port());
    doc["port"] = port2.into();
    doc["upstream_port"] = app_port2.into();
    let command = doc["default_web_command"]
        .as_str()
        .unwrap()
        .replace(&format!(":{app_port} "), &format!(":{app_port2} "));
    doc["default_web_command"] = command.into();
    let second_doc = dir.path().join("second.json");
    std::fs::write(&second_doc, doc.to_string()).unwrap();
    let engine = LocalEngine::install(&dir.path().join("engine")).unwrap();
    let root2 = dir.path().join("second-root");
    let report = engine
        .deploy(&EngineDeploy {
            root: &root2,
            document: &second_doc,
            leader: false,
            instance_id: Some("i-second"),
            env: &pip_env(),
        })
        .unwrap();
    let _second = StopOnDrop(engine.clone(), root2.clone());
    assert!(report.succeeded(), "{}", report_text(&report));
    assert!(!report.leader);
    assert_eq!(get(port2, "/").0, 200);
    assert_eq!(
        read(first.run.root.join("var/log/leader.log"))
            .lines()
            .count(),
        1
    );
    assert!(
        !root2.join("var/log/leader.log").exists(),
        "leader_only ran on a second instance"
    );
    // Every other container command ran on both.
    assert!(read(root2.join("var/log/order.log")).contains("container "));
    assert!(read(root2.join("var/log/order.log")).contains("leader=false"));
}

struct StopOnDrop(LocalEngine, PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.stop(&self.1);
    }
}

#[test]
fn the_django_example_serves_its_collected_static_files_through_nginx() {
    require("nginx", "nginx");
    let dir = TempDir::new("platform-django");
    copy_tree(&manifest_dir().join("examples/django-app"), dir.path());
    let c = compile_dir(&DiskFs, dir.path(), &VariableInputs::default());
    assert!(c.is_valid(), "{:?}", c.diagnostics);
    let env = c.spec.environments[0].clone();
    let source = c.spec.applications[0].source.clone();
    let (port, app_port) = (free_port(), free_port());
    let served = Served {
        run: deploy(&source, Some(env), port, app_port),
        port,
    };
    assert!(
        served.run.report.succeeded(),
        "{}",
        report_text(&served.run.report)
    );
    assert_eq!(
        get(port, "/"),
        (
            200,
            "Hello from Django (settings: mysite.settings)\n".to_string()
        )
    );
    let (status, css) = get(port, "/static/site.css");
    assert_eq!(status, 200);
    assert!(css.contains("django-app"), "{css}");
    let app_log = read(served.run.root.join("var/log/web.stdout.log"));
    assert!(app_log.contains("request /"), "{app_log}");
    assert!(!app_log.contains("site.css"), "{app_log}");
}

pub fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == ".beanpole" {
            continue;
        }
        let target = to.join(&name);
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

/// Each way a deployment fails leaves version 1 answering and names the step and its output.
#[test]
fn failing_deployments_keep_the_previous_version_answering() {
    require("nginx", "nginx");
    let dir = TempDir::new("platform-failures");
    let source = dir.path().join("app");
    put(&source, "application.py", FLASK_APP, false);
    put(&source, "requirements.txt", "Flask\n", false);
    let env = || {
        environment(
            "  properties = { GREETING = \"world\", FROM_EBEXT = \"spec\" }\n  load_balancer {\n    health_check {\n      path = \"/health\"\n    }\n  }",
        )
    };
    let (port, app_port) = (free_port(), free_port());
    let v1 = Served {
        run: deploy(&source, Some(env()), port, app_port),
        port,
    };
    assert!(v1.run.report.succeeded(), "{}", report_text(&v1.run.report));
    let v1_answer = (200, "hello world from spec (v1)".to_string());
    assert_eq!(get(port, "/"), v1_answer);

    struct Case {
        name: &'static str,
        break_it: fn(&Path),
        step: &'static str,
        output: &'static str,
        /// In the report's message.
        message: &'static str,
        rolled_back: bool,
    }
    let cases = [
        Case {
            name: "unresolvable requirement",
            break_it: |s| {
                put(
                    s,
                    "requirements.txt",
                    "Flask\nno-such-package-beanpole-test==1.0\n",
                    false,
                )
            },
            step: "InstallDependency",
            output: "no-such-package-beanpole-test",
            message: "",
            rolled_back: false,
        },
        Case {
            name: "failing predeploy hook",
            break_it: |s| {
                put(
                    s,
                    ".platform/hooks/predeploy/10_refuse.sh",
                    "#!/bin/sh\necho 'predeploy says no'\nexit 3\n",
                    true,
                )
            },
            step: "RunAppDeployPreDeployHooks",
            output: "predeploy says no",
            message: "",
            rolled_back: false,
        },
        Case {
            name: "application that fails to import",
            break_it: |s| {
                put(
                    s,
                    "application.py",
                    "raise RuntimeError('boom: the application cannot start')\n",
                    false,
                )
            },
            step: "HealthCheck",
            output: "boom: the application cannot start",
            message: "",
            rolled_back: true,
        },
        Case {
            name: "health check failing",
            break_it: |s| {
                put(
                    s,
                    "application.py",
                    &FLASK_APP.replace("return \"ok\"", "return \"sick\", 500"),
                    false,
                )
            },
            step: "HealthCheck",
            output: "",
            message: "answered 500 INTERNAL SERVER ERROR; the matcher is 200",
            rolled_back: true,
        },
        Case {
            // The most common nginx override on EB: everything to HTTPS. A load balancer's
            // health check does not follow the redirect: it counts the 301 against the matcher.
            name: "nginx override answering 301",
            break_it: |s| {
                put(
                    s,
                    ".platform/nginx/conf.d/elasticbeanstalk/00_application.conf",
                    "location / {\n    return 301 https://$host$request_uri;\n}\n",
                    false,
                )
            },
            step: "HealthCheck",
            output: "",
            message: "answered 301 Moved Permanently, Location: https://127.0.0.1/health; the matcher is 200",
            rolled_back: true,
        },
    ];
    for case in cases {
        let broken = dir.path().join(format!("broken-{}", case.step));
        let _ = std::fs::remove_dir_all(&broken);
        copy_tree(&source, &broken);
        (case.break_it)(&broken);
        // Deploy the broken version into the same root as version 1.
        copy_tree(&broken, &source);
        let run = deploy_with_timeout(&source, Some(env()), port, app_port, 8);
        let report = &run.report;
        assert!(
            !report.succeeded(),
            "{}: {}",
            case.name,
            report_text(report)
        );
        assert_eq!(
            report.failed_step.as_deref(),
            Some(case.step),
            "{}: {}",
            case.name,
            report_text(report)
        );
        assert!(
            report.output_tail.contains(case.output) && report.message.contains(case.message),
            "{}: {}",
            case.name,
            report_text(report)
        );
        assert_eq!(
            report.rolled_back_to.as_deref(),
            case.rolled_back.then_some(v1.run.report.version.as_str()),
            "{}: {}",
            case.name,
            report_text(report)
        );
        assert_eq!(
            get(port, "/"),
            v1_answer,
            "{}: version 1 stopped answering",
            case.name
        );
        // Put version 1's files back for the next case.
        let _ = std::fs::remove_dir_all(source.join(".platform"));
        put(&source, "application.py", FLASK_APP, false);
        put(&source, "requirements.txt", "Flask\n", false);
    }
}

/// `beanpole local run` in `dir` with `args` until it says it serves: each of `paths`'
/// answer, then Ctrl-C; (the answers, everything it printed, its exit status).
fn local_run(
    dir: &Path,
    args: &[&str],
    port: u16,
    app_port: u16,
    paths: &[&str],
) -> (Vec<(u16, String)>, String, std::process::ExitStatus) {
    let mut command = beanpole(dir);
    command
        .args(["local", "run"])
        .args(args)
        .args([
            "--port",
            &port.to_string(),
            "--app-port",
            &app_port.to_string(),
        ])
        .envs(pip_env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("beanpole local run");
    // Wait for it to say it serves (or to end), reading its output as it comes.
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        // Read to the end: a closed pipe would kill it with SIGPIPE when it next prints.
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let mut printed = Vec::new();
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(180)) {
        let serving = line.starts_with("Serving ");
        printed.push(line);
        if serving {
            break;
        }
    }
    let answers = paths.iter().map(|p| get(port, p)).collect();
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().expect("local run output");
    printed.extend(lines_rx.try_iter());
    let text = format!("{}\n{}", printed.join("\n"), crate::common::text(&out));
    (answers, text, out.status)
}

#[test]
fn local_run_serves_the_pets_app_until_ctrl_c_and_stops_everything() {
    require("nginx", "nginx");
    let dir = TempDir::new("local-run");
    copy_tree(&manifest_dir().join("examples/pets-app"), dir.path());
    let (port, app_port) = (free_port(), free_port());
    let (answers, text, status) = local_run(dir.path(), &["-C", "."], port, app_port, &["/"]);
    let answer = &answers[0];
    assert_eq!(answer.0, 200, "{text}");
    assert!(
        answer.1.contains("\"name\":\"Rex\""),
        "{}\n{text}",
        answer.1
    );
    assert_eq!(
        status.code(),
        Some(0),
        "signal {:?}: {text}",
        std::os::unix::process::ExitStatusExt::signal(&status)
    );
    assert!(text.contains("Stopped."), "{text}");
    // Nothing it started is left: no answer on either port, no pid files.
    assert_eq!(get(port, "/").0, 0, "the proxy still answers");
    assert_eq!(get(app_port, "/").0, 0, "gunicorn still answers");
    let pids = dir.path().join("app/.beanpole/local/root/var/pids");
    let left: Vec<_> = std::fs::read_dir(&pids)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// Run by root (as here) from a folder only its owner may enter (`mktemp -d`, `/root/app`),
/// nginx's workers must still read the static files: they run as the folder's owner.
#[test]
fn local_run_from_a_folder_only_its_owner_can_read_serves_static_files() {
    use std::os::unix::fs::PermissionsExt;
    require("nginx", "nginx");
    let dir = TempDir::new("local-run-private");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let source = dir.path().join("app");
    put(
        &source,
        "main.py",
        "def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'private app']\n",
        false,
    );
    put(&source, "requirements.txt", "gunicorn\n", false);
    put(
        &source,
        "static/hello.txt",
        "hello from a private folder\n",
        false,
    );
    put(
        &source,
        ".ebextensions/python.config",
        "option_settings:\n  aws:elasticbeanstalk:container:python:\n    WSGIPath: main:app\n  aws:elasticbeanstalk:environment:proxy:staticfiles:\n    /static: static\n",
        false,
    );
    let (port, app_port) = (free_port(), free_port());
    let source_arg = source.display().to_string();
    let (answers, text, _) = local_run(
        dir.path(),
        &["--source", &source_arg],
        port,
        app_port,
        &["/", "/static/hello.txt"],
    );
    assert_eq!(answers[0], (200, "private app".to_string()), "{text}");
    assert_eq!(
        answers[1],
        (200, "hello from a private folder\n".to_string()),
        "{text}"
    );
}

#[test]
fn local_run_serves_a_bare_elastic_beanstalk_folder_without_a_spec() {
    require("nginx", "nginx");
    let dir = TempDir::new("local-run-bare");
    let source = dir.path().join("eb-app");
    put(
        &source,
        "main.py",
        "import os\n\n\ndef app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'bare EB app ' + os.environ.get('MODE', '?').encode()]\n",
        false,
    );
    put(&source, "requirements.txt", "gunicorn\n", false);
    put(
        &source,
        ".ebextensions/python.config",
        "option_settings:\n  aws:elasticbeanstalk:container:python:\n    WSGIPath: main:app\n  aws:elasticbeanstalk:application:environment:\n    MODE: from-ebextensions\n",
        false,
    );
    let (port, app_port) = (free_port(), free_port());
    let served = Served {
        run: deploy(&source, None, port, app_port),
        port,
    };
    assert!(
        served.run.report.succeeded(),
        "{}",
        report_text(&served.run.report)
    );
    assert_eq!(
        get(port, "/"),
        (200, "bare EB app from-ebextensions".to_string())
    );
    assert_eq!(served.port, port);
}

/// An engine killed in the middle of a flip (the running version moved aside, the new one not
/// yet in place) is finished by the next deployment, which starts from the version that ran.
#[test]
fn a_flip_killed_half_way_is_recovered_by_the_next_deployment() {
    require("nginx", "nginx");
    let dir = TempDir::new("platform-recover");
    let source = dir.path().join("app");
    put(&source, "application.py", FLASK_APP, false);
    put(&source, "requirements.txt", "Flask\n", false);
    let env = || environment("  properties = { GREETING = \"world\", FROM_EBEXT = \"spec\" }");
    let (port, app_port) = (free_port(), free_port());
    let v1 = Served {
        run: deploy(&source, Some(env()), port, app_port),
        port,
    };
    assert!(v1.run.report.succeeded(), "{}", report_text(&v1.run.report));
    // What a kill between the flip's two renames leaves: no current version, the running one
    // aside, its processes stopped.
    v1.run.engine.stop(&v1.run.root).unwrap();
    let app = v1.run.root.join("var/app");
    std::fs::rename(app.join("current"), app.join(".previous")).unwrap();
    // The next deployment (version 2) puts version 1 back first, then flips from it.
    put(
        &source,
        "application.py",
        &FLASK_APP.replace("\"v1\"", "\"v2\""),
        false,
    );
    let v2 = deploy(&source, Some(env()), port, app_port);
    assert!(v2.report.succeeded(), "{}", report_text(&v2.report));
    assert_eq!(
        get(port, "/"),
        (200, "hello world from spec (v2)".to_string())
    );
    let previous = read(app.join(".previous/application.py"));
    assert!(previous.contains("\"v1\""), "{previous}");
    let log = read(v1.run.root.join("var/log/eb-engine.log"));
    assert!(
        log.contains("An interrupted flip left no current version"),
        "{log}"
    );
}

/// Whatever goes wrong inside the engine is a failed step in its report, never a report
/// missing: here a document without its `files` (as a document from another Beanpole
/// version might be).
#[test]
fn an_unexpected_error_in_the_engine_is_a_failed_step_in_its_report() {
    let dir = TempDir::new("engine-unexpected");
    let engine = LocalEngine::install(&dir.path().join("engine")).unwrap();
    let doc = serde_json::json!({
        "schema": 1, "application": "a", "environment": "e", "deployment_id": 1,
        "version": {"label": "v1", "sha256": "", "source": "sample:"},
        "python": "3.12", "proxy": "nginx", "port": free_port(), "listen_address": "127.0.0.1",
        "upstream_port": free_port(), "default_web_command": "gunicorn application:application",
        "static_files": {}, "properties": {},
        "health_check": {"path": "/", "matcher": "200", "timeout_secs": 5},
        "packages": [], "commands": [], "container_commands": []
    });
    let path = dir.path().join("doc.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let root = dir.path().join("root");
    let report = engine
        .deploy(&EngineDeploy {
            root: &root,
            document: &path,
            leader: true,
            instance_id: None,
            env: &[],
        })
        .unwrap();
    assert!(!report.succeeded());
    assert_eq!(report.failed_step.as_deref(), Some("PreBuildEbExtension"));
    assert_eq!(report.message, "KeyError: 'files'");
    assert!(
        report.output_tail.contains("Traceback"),
        "{}",
        report.output_tail
    );
}

#[test]
fn a_lowered_health_threshold_passes_an_instance_its_health_check_rates_degraded() {
    require("nginx", "nginx");
    let dir = TempDir::new("platform-threshold");
    let source = dir.path().join("app");
    put(
        &source,
        "application.py",
        &FLASK_APP.replace("    return \"ok\"\n", "    return \"not yet\", 503\n"),
        false,
    );
    put(&source, "requirements.txt", "Flask\n", false);
    let env = |threshold: &str| {
        environment(&format!(
            "  load_balancer {{\n    health_check {{\n      path = \"/health\"\n    }}\n  }}\n  deployment {{\n    health_threshold = \"{threshold}\"\n  }}"
        ))
    };
    // Elastic Beanstalk's default (Ok): a 503 fails the deployment.
    let (port, app_port) = (free_port(), free_port());
    let strict = Served {
        run: deploy_with_timeout(&source, Some(env("ok")), port, app_port, 5),
        port,
    };
    assert_eq!(
        strict.run.report.failed_step.as_deref(),
        Some("HealthCheck"),
        "{}",
        report_text(&strict.run.report)
    );
    drop(strict);
    // `warning` does not accept a 5xx either (Degraded is worse than Warning) …
    let (port, app_port) = (free_port(), free_port());
    let warning = Served {
        run: deploy_with_timeout(&source, Some(env("warning")), port, app_port, 5),
        port,
    };
    assert_eq!(
        warning.run.report.failed_step.as_deref(),
        Some("HealthCheck")
    );
    drop(warning);
    // … `degraded` does, saying so.
    let (port, app_port) = (free_port(), free_port());
    let lowered = Served {
        run: deploy_with_timeout(&source, Some(env("degraded")), port, app_port, 20),
        port,
    };
    assert!(
        lowered.run.report.succeeded(),
        "{}",
        report_text(&lowered.run.report)
    );
    assert!(
        lowered
            .run
            .report
            .warnings
            .iter()
            .any(|w| w
                .contains("Degraded, which the deployment's health threshold Degraded accepts")),
        "{}",
        report_text(&lowered.run.report)
    );
    assert_eq!(get(port, "/health").0, 503);
}
