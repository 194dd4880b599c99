//! Each instance Beanpole plays on this machine (`local run`, the local fleet) runs in its own
//! filesystem view: EB's paths are its own folders, the rest of the host is read-only. Real
//! engines, real nginx and gunicorn; the host's `/etc` and `/usr/local/bin` are checked after.

use crate::common::{free_port, TempDir};
use crate::platform::{deploy, environment, get, put, read, report_text, require, Served};
use beanpole::ops::view::{isolation, Isolation};

/// The view needs bubblewrap (`scripts/test` installs it).
fn require_views() {
    assert!(
        matches!(isolation(), Isolation::View { .. }),
        "these tests need instance views: {:?} (scripts/test installs bubblewrap)",
        isolation()
    );
}

/// Reads `/var/app/current/marker.txt` at EB's path, and the environment file at EB's path.
const MARKER_APP: &str = r#"from flask import Flask

application = Flask(__name__)


@application.route("/")
def home():
    with open("/var/app/current/marker.txt") as f:
        return f.read().strip()
"#;

/// The marker application in `source`, its marker saying `marker`.
fn marker_app(source: &std::path::Path, marker: &str) {
    put(source, "application.py", MARKER_APP, false);
    put(source, "requirements.txt", "Flask\n", false);
    put(source, "marker.txt", &format!("{marker}\n"), false);
}

#[test]
fn two_instances_on_one_machine_each_read_their_own_var_app_current() {
    require("nginx", "nginx");
    require_views();
    let dir = TempDir::new("view-two");
    let mut served = Vec::new();
    for name in ["one", "two"] {
        let source = dir.path().join(name);
        marker_app(&source, &format!("instance {name}"));
        let (port, app_port) = (free_port(), free_port());
        let run = deploy(&source, Some(environment("")), port, app_port);
        assert!(run.report.succeeded(), "{}", report_text(&run.report));
        served.push(Served { run, port });
    }
    // Both serve at once, each its own /var/app/current.
    for (served, name) in served.iter().zip(["one", "two"]) {
        assert_eq!(get(served.port, "/"), (200, format!("instance {name}")));
    }
}

#[test]
fn a_command_cannot_change_the_host_and_eb_paths_are_the_instances_own() {
    require("nginx", "nginx");
    require_views();
    let dir = TempDir::new("view-host");
    let probe = format!("beanpole-view-probe-{}", std::process::id());
    let host_file = std::path::Path::new("/etc").join(&probe);
    std::fs::write(&host_file, "the host's own\n").unwrap();
    let host_bin = std::path::Path::new("/usr/local/bin").join(&probe);
    let _ = std::fs::remove_file(&host_bin);
    let source = dir.path().join("app");
    marker_app(&source, "served");
    // A published sample's clean-up line, and a script installed into /usr/local/bin; each
    // records its exit status at EB's log path. Then the usual Django-style line naming the
    // virtualenv by EB's path.
    put(
        &source,
        ".ebextensions/01_host.config",
        &format!(
            r#"commands:
  01_remove:
    command: "rm -f /etc/{probe}; echo remove=$? >> /var/log/probe.log"
  02_install:
    command: "touch /usr/local/bin/{probe}; echo install=$? >> /var/log/probe.log"
container_commands:
  01_venv:
    command: "source /var/app/venv/*/bin/activate && python -c 'import flask' && echo venv=$? >> /var/log/probe.log"
"#
        ),
        false,
    );
    let (port, app_port) = (free_port(), free_port());
    let run = deploy(&source, Some(environment("")), port, app_port);
    let served = Served { run, port };
    assert!(
        served.run.report.succeeded(),
        "{}",
        report_text(&served.run.report)
    );
    let log = read(served.run.root.join("var/log/probe.log"));
    let kept = std::fs::read_to_string(&host_file);
    let _ = std::fs::remove_file(&host_file);
    assert_eq!(kept.ok().as_deref(), Some("the host's own\n"), "{log}");
    assert!(log.contains("remove=1"), "{log}");
    assert!(log.contains("install=1"), "{log}");
    assert!(log.contains("venv=0"), "{log}");
    assert!(
        !host_bin.exists(),
        "{} was created on the host",
        host_bin.display()
    );
    assert_eq!(get(port, "/"), (200, "served".to_string()));
}

#[test]
fn a_files_entry_outside_the_instances_folders_is_a_located_failure() {
    require("nginx", "nginx");
    require_views();
    let dir = TempDir::new("view-files");
    let source = dir.path().join("app");
    marker_app(&source, "served");
    put(
        &source,
        ".ebextensions/02_files.config",
        "files:\n  /usr/local/bin/beanpole-view-tool:\n    mode: \"000755\"\n    content: echo hi\n",
        false,
    );
    let (port, app_port) = (free_port(), free_port());
    let run = deploy(&source, Some(environment("")), port, app_port);
    let served = Served { run, port };
    let report = &served.run.report;
    assert!(!report.succeeded());
    let message = report_text(report);
    assert!(
        message.contains("02_files.config: files./usr/local/bin/beanpole-view-tool")
            && message.contains("read-only to the instances Beanpole plays here"),
        "{message}"
    );
    assert!(!std::path::Path::new("/usr/local/bin/beanpole-view-tool").exists());
}

/// The headers of one GET on 127.0.0.1, lower-cased names.
pub fn headers(port: u16, path: &str, extra: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

#[test]
fn apache_loads_al2023s_modules_and_keeps_the_users_conf_d_files() {
    require("apache2", "apache2");
    require_views();
    let dir = TempDir::new("view-apache");
    let source = dir.path().join("app");
    marker_app(&source, "served");
    // EB's most common Apache override, as AWS's sample writes it (mod_rewrite: HTTP behind
    // the load balancer to HTTPS), and a file `files:` writes into /etc/httpd/conf.d/
    // (mod_headers, mod_expires).
    put(
        &source,
        ".platform/httpd/conf.d/ssl_rewrite.conf",
        "RewriteEngine On\n<If \"-n '%{HTTP:X-Forwarded-Proto}' && %{HTTP:X-Forwarded-Proto} != 'https'\">\nRewriteRule (.*) https://%{HTTP_HOST}%{REQUEST_URI} [R,L]\n</If>\n",
        false,
    );
    put(
        &source,
        ".ebextensions/01_headers.config",
        "files:\n  /etc/httpd/conf.d/zz_user.conf:\n    content: |\n      Header set X-From-Files \"kept\"\n      ExpiresActive On\n",
        false,
    );
    let env = || environment("  proxy = \"apache\"");
    let (port, app_port) = (free_port(), free_port());
    let v1 = Served {
        run: deploy(&source, Some(env()), port, app_port),
        port,
    };
    assert!(v1.run.report.succeeded(), "{}", report_text(&v1.run.report));
    let seen = headers(port, "/", "X-Forwarded-Proto: https\r\n");
    assert!(
        seen.starts_with("http/1.1 200") && seen.contains("x-from-files: kept"),
        "{seen}"
    );
    let plain = headers(port, "/pets", "X-Forwarded-Proto: http\r\n");
    assert!(
        plain.starts_with("http/1.1 302") && plain.contains("location: https://127.0.0.1/pets"),
        "{plain}"
    );
    // A new version without the `files:` entry: the file stays, included, as on an instance.
    std::fs::remove_dir_all(source.join(".ebextensions")).unwrap();
    put(&source, "marker.txt", "served again\n", false);
    let v2 = deploy(&source, Some(env()), port, app_port);
    assert!(v2.report.succeeded(), "{}", report_text(&v2.report));
    assert_eq!(get(port, "/"), (200, "served again".to_string()));
    let seen = headers(port, "/", "");
    assert!(seen.contains("x-from-files: kept"), "{seen}");
    let log = read(v2.root.join("var/log/eb-engine.log"));
    assert!(
        log.contains("/etc/httpd/conf.d/zz_user.conf: kept"),
        "{log}"
    );
}

/// The Django site of `tests/fixtures/eb-django`, as a user would deploy it to EB: Apache,
/// `migrate` and `collectstatic` as container commands naming the virtualenv by EB's path,
/// AWS's HTTPS redirect sample. Its admin login page and the admin's CSS answer 200.
pub fn check_eb_django(port: u16) {
    let (status, page) = get(port, "/admin/login/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("csrfmiddlewaretoken"), "{page}");
    let (status, css) = get(port, "/static/admin/css/base.css");
    assert_eq!(status, 200, "{css}");
    assert!(
        css.contains("DJANGO Admin styles"),
        "{}",
        &css[..css.len().min(300)]
    );
    let behind_http = headers(port, "/admin/", "X-Forwarded-Proto: http\r\n");
    assert!(
        behind_http.starts_with("http/1.1 302")
            && behind_http.contains("location: https://127.0.0.1/admin/"),
        "{behind_http}"
    );
}

/// Whether `migrate` made the instance's SQLite database.
pub fn migrated(current: &std::path::Path) -> bool {
    std::fs::metadata(current.join("db.sqlite3")).is_ok_and(|m| m.len() > 0)
}

#[test]
fn an_eb_django_site_runs_unchanged_through_local_run() {
    require("apache2", "apache2");
    require_views();
    let dir = TempDir::new("view-django");
    crate::platform::copy_tree(
        &crate::common::manifest_dir().join("tests/fixtures/eb-django"),
        dir.path(),
    );
    let c = beanpole::spec::compile_dir(
        &beanpole::spec::DiskFs,
        dir.path(),
        &beanpole::spec::VariableInputs::default(),
    );
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
    let current = served.run.root.join("var/app/current");
    check_eb_django(port);
    assert!(migrated(&current));
}

#[test]
fn hooks_call_eb_s_get_config_at_its_path() {
    require("nginx", "nginx");
    require_views();
    let dir = TempDir::new("view-get-config");
    let source = dir.path().join("app");
    marker_app(&source, "served");
    put(
        &source,
        ".ebextensions/options.config",
        "option_settings:\n  aws:elasticbeanstalk:customoption:\n    Colour: green\nfiles:\n  /var/app/owned.txt:\n    owner: webapp\n    group: webapp\n    content: mine\n",
        false,
    );
    put(
        &source,
        ".platform/hooks/prebuild/01_config.sh",
        "#!/bin/bash\nset -e\nG=/opt/elasticbeanstalk/bin/get-config\n$G environment -k GREETING > /var/log/get-config.log\n$G optionsettings -n aws:elasticbeanstalk:customoption -o Colour >> /var/log/get-config.log\n$G platformconfig -k AppDeployDir >> /var/log/get-config.log\n$G container --output yaml | grep environment_name >> /var/log/get-config.log\n",
        true,
    );
    let (port, app_port) = (free_port(), free_port());
    let env = environment("  properties = { GREETING = \"hello there\" }");
    let served = Served {
        run: deploy(&source, Some(env), port, app_port),
        port,
    };
    assert!(
        served.run.report.succeeded(),
        "{}",
        report_text(&served.run.report)
    );
    // This machine has no webapp user: said in the report, the file written all the same.
    let warnings = served.run.report.warnings.join("\n");
    assert!(
        warnings.contains(
            ".ebextensions/options.config: files./var/app/owned.txt: owner webapp, group webapp:"
        ) && warnings.contains("on an instance EB creates webapp"),
        "{warnings}"
    );
    assert_eq!(read(served.run.root.join("var/app/owned.txt")), "mine");
    assert_eq!(
        read(served.run.root.join("var/log/get-config.log")),
        "hello there\ngreen\n/var/app/current/\n\"environment_name\": \"e-test\"\n"
    );
}
