//! `beanpole bundle` on real folders: deterministic bytes, ignore rules, never-bundled folders,
//! modes kept, and each refusal naming its file. No AWS.

use crate::common;

use common::{beanpole, run, text, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn write(dir: &TempDir, name: &str, text: &str, mode: u32) {
    dir.write(name, text);
    let path = dir.path().join(name);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A small Flask app as Elastic Beanstalk takes it.
fn app(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    write(
        &dir,
        "application.py",
        "from flask import Flask\napplication = Flask(__name__)\n",
        0o644,
    );
    write(&dir, "requirements.txt", "Flask\n", 0o644);
    write(
        &dir,
        ".ebextensions/01-options.config",
        "option_settings: []\n",
        0o644,
    );
    write(
        &dir,
        ".platform/hooks/predeploy/01-migrate.sh",
        "#!/bin/bash\necho migrate\n",
        0o755,
    );
    write(&dir, ".git/HEAD", "ref: refs/heads/main\n", 0o644);
    write(
        &dir,
        ".elasticbeanstalk/config.yml",
        "branch-defaults: {}\n",
        0o644,
    );
    write(&dir, ".beanpole/local/state", "x\n", 0o644);
    dir
}

fn bundle(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["bundle", "--source", "."];
    args.extend_from_slice(extra);
    run(beanpole(dir).args(args))
}

fn sha_of(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .split("sha256 ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no sha256 in:\n{stdout}"))
        .to_string()
}

/// (name, Unix mode) of every entry of a zip, from its central directory.
fn zip_entries(bytes: &[u8]) -> Vec<(String, u32)> {
    let mut entries = Vec::new();
    let mut i = 0;
    while i + 46 <= bytes.len() {
        if bytes[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] {
            let le16 = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
            let name_len = le16(i + 28);
            let extra = le16(i + 30);
            let comment = le16(i + 32);
            let external =
                u32::from_le_bytes([bytes[i + 38], bytes[i + 39], bytes[i + 40], bytes[i + 41]]);
            let name = String::from_utf8_lossy(&bytes[i + 46..i + 46 + name_len]).into_owned();
            entries.push((name, external >> 16));
            i += 46 + name_len + extra + comment;
        } else {
            i += 1;
        }
    }
    entries
}

#[test]
fn the_same_tree_gives_the_same_bytes_and_keeps_modes_without_never_bundled_folders() {
    let a = app("bundle-a");
    let first = bundle(a.path(), &["--out", "../a.zip"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    // The same tree again, written later (other timestamps), elsewhere.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = app("bundle-b");
    let second = bundle(b.path(), &[]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_eq!(sha_of(&first), sha_of(&second));
    let zip = std::fs::read(a.path().join("../a.zip")).unwrap();
    let _ = std::fs::remove_file(a.path().join("../a.zip"));
    let entries = zip_entries(&zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            ".ebextensions/01-options.config",
            ".platform/hooks/predeploy/01-migrate.sh",
            "application.py",
            "requirements.txt"
        ]
    );
    let mode = |name: &str| entries.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(mode(".platform/hooks/predeploy/01-migrate.sh"), 0o100755);
    assert_eq!(mode("application.py"), 0o100644);
    let stdout = String::from_utf8_lossy(&first.stdout);
    for never in [".git/", ".elasticbeanstalk/", ".beanpole/"] {
        assert!(
            stdout.contains(&format!("  - {never}  (`{}` is never bundled)", never)),
            "{stdout}"
        );
    }
    assert!(stdout.contains("Default version label: app-"), "{stdout}");
}

#[test]
fn ebignore_wins_over_gitignore_and_rules_are_reported() {
    let dir = app("bundle-ignore");
    write(&dir, ".gitignore", "*.log\n", 0o644);
    write(&dir, "debug.log", "x\n", 0o644);
    write(&dir, "notes/secret.txt", "x\n", 0o644);
    let out = bundle(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(ignore rules: .gitignore)"), "{stdout}");
    assert!(
        stdout.contains("  - debug.log  (.gitignore:1 (`*.log`))"),
        "{stdout}"
    );
    assert!(stdout.contains("  + notes/secret.txt"), "{stdout}");
    assert!(stdout.contains("  + .gitignore"), "{stdout}");

    write(&dir, ".ebignore", "notes/\n.gitignore\n", 0o644);
    let out = bundle(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(ignore rules: .ebignore)"), "{stdout}");
    assert!(
        stdout.contains("  - notes/  (.ebignore:1 (`notes/`))"),
        "{stdout}"
    );
    assert!(stdout.contains("  + debug.log"), "{stdout}");
}

fn refused(dir: &TempDir, extra: &[&str]) -> String {
    let out = bundle(dir.path(), extra);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("sha256"));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_refused_bundle_also_says_what_its_files_would_not_do() {
    // An Amazon Linux 1 Django config: its WSGI path is refused, and its command's AL1 path is
    // said in the same round, not after the path is fixed.
    let dir = app("bundle-refused-warnings");
    write(
        &dir,
        ".ebextensions/django.config",
        "option_settings:\n  aws:elasticbeanstalk:container:python:\n    WSGIPath: mysite/wsgi.py\ncontainer_commands:\n  01_migrate:\n    command: source /opt/python/run/venv/bin/activate && python manage.py migrate\n",
        0o644,
    );
    let stderr = refused(&dir, &[]);
    for expected in [
        "warning: .ebextensions/django.config: `container_commands.01_migrate` runs, but it names an Amazon Linux 1 path",
        "error: .ebextensions/django.config: aws:elasticbeanstalk:container:python WSGIPath = `mysite/wsgi.py`: `mysite/wsgi.py` is Amazon Linux 1's form (a file)",
        "is refused (1 problem above)",
    ] {
        assert!(stderr.contains(expected), "{expected}\nnot in\n{stderr}");
    }
}

#[test]
fn each_refusal_names_the_file_and_writes_nothing() {
    // A hook that is not executable.
    let dir = app("bundle-hook");
    write(
        &dir,
        ".platform/hooks/prebuild/02-setup.sh",
        "#!/bin/bash\n",
        0o644,
    );
    let stderr = refused(&dir, &["--out", "out.zip"]);
    assert!(
        stderr.contains(
            ".platform/hooks/prebuild/02-setup.sh is a platform hook but is not executable"
        ) && stderr.contains("chmod +x .platform/hooks/prebuild/02-setup.sh"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.zip").exists());

    // A symlink leaving the tree.
    let dir = app("bundle-link");
    std::os::unix::fs::symlink("../../../etc/hostname", dir.path().join("hostname")).unwrap();
    let stderr = refused(&dir, &[]);
    assert!(
        stderr.contains(
            "hostname is a symbolic link to `../../../etc/hostname`, outside the source folder"
        ),
        "{stderr}"
    );

    // No WSGI entry point.
    let dir = app("bundle-entry");
    std::fs::remove_file(dir.path().join("application.py")).unwrap();
    let stderr = refused(&dir, &[]);
    assert!(
        stderr.contains("no WSGI entry point: there is no Procfile and no application.py"),
        "{stderr}"
    );
    // …which a Procfile, or another WSGI path that exists, satisfies.
    write(&dir, "mysite/wsgi.py", "application = None\n", 0o644);
    let out = bundle(dir.path(), &["--wsgi-path", "mysite.wsgi:application"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A Procfile line that is not `name: command`.
    let dir = app("bundle-procfile");
    write(
        &dir,
        "Procfile",
        "web: gunicorn application:application\nworker python worker.py\n",
        0o644,
    );
    let stderr = refused(&dir, &[]);
    assert!(
        stderr.contains("Procfile:2: `worker python worker.py` is not `name: command`"),
        "{stderr}"
    );

    // A requirements file pip cannot read (Latin-1), while UTF-16 with a BOM is fine.
    let dir = app("bundle-requirements");
    std::fs::write(dir.path().join("requirements.txt"), b"caf\xe9-lib\n").unwrap();
    let stderr = refused(&dir, &[]);
    assert!(
        stderr.contains("requirements.txt cannot be read by pip"),
        "{stderr}"
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("Flask\r\n".encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    std::fs::write(dir.path().join("requirements.txt"), utf16).unwrap();
    let out = bundle(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // An .ebextensions file that is not YAML: named with its line (EB would ignore all of it).
    let dir = app("bundle-ebextensions");
    write(
        &dir,
        ".ebextensions/01_app.config",
        "option_settings:\n  aws:elasticbeanstalk:application:environment:\n    A: [unclosed\n",
        0o644,
    );
    let stderr = refused(&dir, &[]);
    assert!(
        stderr.contains(".ebextensions/01_app.config: line") && stderr.contains("not valid YAML"),
        "{stderr}"
    );
}

#[test]
fn ebextensions_are_summarised_and_unsupported_keys_reported_by_file_and_key() {
    let dir = app("bundle-ebextensions-ok");
    std::fs::remove_file(dir.path().join("application.py")).unwrap();
    write(&dir, "main.py", "app = None\n", 0o644);
    write(
        &dir,
        ".ebextensions/01_app.config",
        "option_settings:\n  aws:elasticbeanstalk:container:python:\n    WSGIPath: main:app\nusers:\n  bob: {}\ncontainer_commands:\n  01_migrate:\n    command: echo migrate\n    leader_only: true\n",
        0o644,
    );
    let out = bundle(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(".ebextensions: 1 option setting, 0 packages, 0 files, 0 commands, 1 container command; WSGI path main:app"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: .ebextensions/01_app.config: `users` is not carried out"),
        "{stderr}"
    );
}

#[test]
fn bundle_names_every_option_file_and_folder_it_does_not_carry_out() {
    let dir = app("bundle-warnings");
    write(
        &dir,
        ".ebextensions/02_al1.config",
        "option_settings:\n  aws:autoscaling:asg:\n    MinSize: 2\n  aws:elasticbeanstalk:command:\n    HealthCheckSuccessThreshold: Warning\nfiles:\n  /opt/elasticbeanstalk/hooks/appdeploy/post/99_restart.sh:\n    mode: \"000755\"\n    content: echo restart\ncontainer_commands:\n  01_migrate:\n    command: source /opt/python/run/venv/bin/activate && python manage.py migrate\n",
        0o644,
    );
    let out = bundle(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "warning: .ebextensions/02_al1.config: `option_settings.aws:autoscaling:asg.MinSize` is not carried out: the spec holds it (`capacity { min }`): at deploy, the environment's own value is in effect, a value the spec sets otherwise is overridden by it, and any other is refused (a deploy never changes infrastructure: set it in the spec and `beanpole apply`)",
        "warning: .ebextensions/02_al1.config: `option_settings.aws:elasticbeanstalk:command.HealthCheckSuccessThreshold` is not carried out: EB reads HealthCheckSuccessThreshold in aws:elasticbeanstalk:healthreporting:system, not here",
        "warning: .ebextensions/02_al1.config: `files./opt/elasticbeanstalk/hooks/appdeploy/post/99_restart.sh` is not carried out: Amazon Linux 1's hook folders are not run on Amazon Linux 2023",
        "warning: .ebextensions/02_al1.config: `container_commands.01_migrate` runs, but it names an Amazon Linux 1 path, which does not exist on Amazon Linux 2023 (nor on Beanpole's instances): activate the virtualenv with `source /var/app/venv/*/bin/activate`",
    ] {
        assert!(stderr.contains(expected), "{expected}\nnot in\n{stderr}");
    }
}

#[test]
fn the_spec_names_the_source_folder() {
    let root = common::manifest_dir();
    let out = run(beanpole(&root).args(["bundle", "-C", "examples/pets-app"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Bundle of examples/pets-app/app"),
        "{stdout}"
    );
    assert!(stdout.contains("  + application.py"), "{stdout}");
}

#[test]
fn hostile_bundles_are_refused_with_every_problem_named() {
    // A chain of links: `static` stays inside the folder read as text, but its first step,
    // `…/D`, is itself a link to `x`, so the whole walks out to the host's /etc.
    let dir = app("bundle-link-chain");
    write(&dir, "x/keep.txt", "x\n", 0o644);
    let deep = "z1/z2/z3/z4/z5/z6/z7/z8/z9/z10";
    std::fs::create_dir_all(dir.path().join(deep)).unwrap();
    std::os::unix::fs::symlink(
        format!("{}x", "../".repeat(10)),
        dir.path().join(deep).join("D"),
    )
    .unwrap();
    let static_target = format!("{deep}/D/{}etc", "../".repeat(11));
    std::os::unix::fs::symlink(&static_target, dir.path().join("static")).unwrap();
    let stderr = refused(&dir, &["--out", "out.zip"]);
    assert!(
        stderr.contains(&format!(
            "static is a symbolic link to `{static_target}`, outside the source folder"
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("out.zip").exists());

    // UTF-16 without a byte-order mark: pip would read garbage on every instance.
    let dir = app("bundle-utf16");
    let utf16: Vec<u8> = "Flask\r\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    std::fs::write(dir.path().join("requirements.txt"), utf16).unwrap();
    let stderr = refused(&dir, &[]);
    assert!(
        stderr.contains("requirements.txt cannot be read by pip: it holds NUL bytes"),
        "{stderr}"
    );

    // Option values a deploy would refuse: all of them, each named, the value on one line.
    let dir = app("bundle-options");
    write(
        &dir,
        ".ebextensions/01-options.config",
        "option_settings:\n  aws:elasticbeanstalk:container:python:\n    WSGIPath: \"application;touch /tmp/owned\"\n  aws:elasticbeanstalk:application:environment:\n    \"A B\": x\n    \"C=D\": y\n    E: \"one\\ntwo\"\n",
        0o644,
    );
    let stderr = refused(&dir, &[]);
    for expected in [
        "WSGIPath = `application;touch /tmp/owned`: write `module:callable`",
        "environment A B = `x`: a property name is an environment variable name",
        "environment C=D = `y`: a property name",
        "environment E = `one\\ntwo`: a property value is one line of text",
        "refused (4 problems above)",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }

    // What the files unpack to is limited, not only the zip: a sparse file of 600 MB zips
    // small but would fill every instance's disk; refused before it is read.
    let dir = app("bundle-unpacked");
    let big = std::fs::File::create(dir.path().join("data.bin")).unwrap();
    big.set_len(600 << 20).unwrap();
    let stderr = refused(&dir, &[]);
    assert!(
        stderr.contains("over the limit of 536870912 bytes that every instance would unpack"),
        "{stderr}"
    );
}

#[test]
fn a_bad_cron_yaml_is_refused_at_bundle_time_with_each_problem_located() {
    let dir = app("bundle-cron");
    write(
        &dir,
        "cron.yaml",
        "version: 1\ncron:\n  - name: \"nightly\"\n    url: \"/nightly\"\n    schedule: \"0 3 * *\"\n  - name: \"report\"\n    url: \"report\"\n    schedule: \"*/15 * * * MON-FRI\"\n",
        0o644,
    );
    let out = bundle(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "cron.yaml: cron[0].schedule: `0 3 * *` has 4 fields: a schedule has five",
        "cron.yaml: cron[1].url: `report`: a path on the application, starting with `/`",
    ] {
        assert!(stderr.contains(expected), "{expected}\nnot in\n{stderr}");
    }
    // EB's own form reads.
    write(
        &dir,
        "cron.yaml",
        "version: 1\ncron:\n - name: \"task1\"\n   url: \"/scheduled\"\n   schedule: \"* * * * *\"\n",
        0o644,
    );
    let out = bundle(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
