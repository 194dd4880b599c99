//! Secrets by reference, against moto with the local fleet: a `secret(…)` property (a Secrets
//! Manager secret created in moto) and an `ssm_parameter(…)` one (a SecureString parameter)
//! reach the application; their values appear in no user data, no object of the versions
//! bucket, no plan (JSON or saved file), no `graph` output, no `logs`; the instance role may
//! read exactly those two.

use crate::common;
use crate::platform::{copy_tree, get, pip_env};

use common::fleet::Fleet;
use common::moto::Moto;
use common::{run, text, TempDir};
use std::time::Duration;

const DB_PASSWORD: &str = "Db-Pa55word-only-in-secrets-manager-7f3a";
const API_KEY: &str = "api-key-only-in-parameter-store-91c2";

/// Whether `haystack` holds a value, as text or inside any base64 run of it (the user data
/// carries the sample document base64-encoded).
fn holds_secret(haystack: &[u8]) -> bool {
    let text = String::from_utf8_lossy(haystack);
    if [DB_PASSWORD, API_KEY].iter().any(|v| text.contains(v)) {
        return true;
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        .filter(|t| t.len() >= 16)
        .filter_map(|t| aws_smithy_types::base64::decode(t).ok())
        .any(|decoded| holds_secret(&decoded))
}

#[test]
fn moto_secret_properties_reach_the_app_and_appear_nowhere_else() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let created: serde_json::Value = serde_json::from_str(&moto.aws_cli(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "pets/db-password",
        "--secret-string",
        DB_PASSWORD,
    ]))
    .unwrap();
    let secret_arn = created["ARN"].as_str().unwrap().to_string();
    moto.aws_cli(&[
        "ssm",
        "put-parameter",
        "--name",
        "/pets/api-key",
        "--type",
        "SecureString",
        "--value",
        API_KEY,
    ]);

    let dir = TempDir::new("secrets");
    let hcl = include_str!("../../examples/pets-app/main.hcl").replacen(
        "    PETS_TABLE = \"Pets\"\n",
        &format!(
            "    PETS_TABLE = \"Pets\"\n    DB_PASSWORD = secret(\"{secret_arn}\")\n    API_KEY = ssm_parameter(\"/pets/api-key\")\n"
        ),
        1,
    );
    assert!(hcl.contains("secret(\""), "the example changed: {hcl}");
    std::fs::write(dir.path().join("main.hcl"), &hcl).unwrap();
    // The application shows a digest of what it was given, not the values.
    let source = dir.path().join("app");
    copy_tree(
        &common::manifest_dir().join("examples/pets-app/app"),
        &source,
    );
    let app = std::fs::read_to_string(source.join("application.py"))
        .unwrap()
        .replace(
            "if __name__ == \"__main__\":",
            "@application.route(\"/digest\")\ndef digest():\n    import hashlib, os\n    given = os.environ.get(\"DB_PASSWORD\", \"\") + \"|\" + os.environ.get(\"API_KEY\", \"\")\n    return hashlib.sha256(given.encode()).hexdigest(), 200\n\n\nif __name__ == \"__main__\":",
        );
    std::fs::write(source.join("application.py"), app).unwrap();

    let beanpole = |args: &[&str]| run(moto.beanpole(dir.path()).args(args));
    // No plain-text warning: the two are references.
    let out = beanpole(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !text(&out).contains("looks like a secret"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["apply", "--auto-approve", "--env", "pets-env-blue"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(300));
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--label", "v1", "--source"])
        .arg(&source));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    assert!(!holds_secret(&out.stdout) && !holds_secret(&out.stderr));

    // The application has both values.
    let expected = {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{DB_PASSWORD}|{API_KEY}").as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let serving = fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(60));
    for m in &serving {
        let (status, body) = get(m.port, "/digest");
        assert_eq!(
            (status, body.trim()),
            (200, expected.as_str()),
            "{}",
            m.instance
        );
    }

    // Nowhere else: the launch template's user data, …
    let aws_clients = moto.clients();
    let user_data: Vec<String> = common::moto::runtime().block_on(async {
        let templates = aws_clients
            .ec2
            .describe_launch_templates()
            .send()
            .await
            .unwrap();
        let mut all = Vec::new();
        for t in templates.launch_templates() {
            let versions = aws_clients
                .ec2
                .describe_launch_template_versions()
                .launch_template_id(t.launch_template_id().unwrap())
                .send()
                .await
                .unwrap();
            for v in versions.launch_template_versions() {
                all.extend(
                    v.launch_template_data()
                        .and_then(|d| d.user_data())
                        .map(str::to_string),
                );
            }
        }
        all
    });
    assert!(!user_data.is_empty());
    for data in &user_data {
        assert!(!holds_secret(data.as_bytes()), "a secret in the user data");
    }
    // … every object in the versions bucket, …
    let objects = common::moto::runtime().block_on(async {
        let mut bodies = Vec::new();
        for bucket in aws_clients
            .s3
            .list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
        {
            let name = bucket.name().unwrap();
            let listed = aws_clients
                .s3
                .list_objects_v2()
                .bucket(name)
                .send()
                .await
                .unwrap();
            for object in listed.contents() {
                let key = object.key().unwrap().to_string();
                let body = aws_clients
                    .s3
                    .get_object()
                    .bucket(name)
                    .key(&key)
                    .send()
                    .await
                    .unwrap()
                    .body
                    .collect()
                    .await
                    .unwrap()
                    .into_bytes();
                bodies.push((key, body.to_vec()));
            }
        }
        bodies
    });
    assert!(objects.iter().any(|(k, _)| k.contains("/deployments/")));
    for (key, body) in &objects {
        assert!(!holds_secret(body), "a secret in s3 object {key}");
    }
    // … the plan (JSON and saved), the graph, the logs.
    let plan_file = dir.path().join("saved.plan");
    for args in [
        vec!["plan", "--json"],
        vec!["plan", "--out", plan_file.to_str().unwrap()],
        vec!["graph", "--format", "json"],
        vec!["logs", "pets-env-blue", "--lines", "5000"],
        vec!["events", "pets-env-blue", "--json"],
    ] {
        let out = beanpole(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            !holds_secret(&out.stdout) && !holds_secret(&out.stderr),
            "a secret in {args:?}"
        );
        if args[0] == "logs" {
            assert!(
                text(&out).contains("Reading property DB_PASSWORD"),
                "{}",
                text(&out)
            );
        }
    }
    assert!(!holds_secret(&std::fs::read(&plan_file).unwrap()));
    // What they do hold is the reference: the graph's instance role names the secret.
    let graph = beanpole(&["graph", "--format", "json"]);
    assert!(text(&graph).contains(&secret_arn), "{}", text(&graph));

    // The instance role may read exactly these two (and decrypt nothing: no key was given).
    let roles: serde_json::Value =
        serde_json::from_str(&moto.aws_cli(&["iam", "list-roles"])).unwrap();
    let role = roles["Roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["RoleName"].as_str())
        .find(|n| n.contains("pets-env-blue"))
        .expect("blue's instance role")
        .to_string();
    let names: serde_json::Value =
        serde_json::from_str(&moto.aws_cli(&["iam", "list-role-policies", "--role-name", &role]))
            .unwrap();
    let mut statements = Vec::new();
    for name in names["PolicyNames"].as_array().unwrap() {
        let policy: serde_json::Value = serde_json::from_str(&moto.aws_cli(&[
            "iam",
            "get-role-policy",
            "--role-name",
            &role,
            "--policy-name",
            name.as_str().unwrap(),
        ]))
        .unwrap();
        statements.extend(
            policy["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    let grants = |action: &str| -> Vec<serde_json::Value> {
        statements
            .iter()
            .filter(|s| {
                s["Action"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == action))
                    || s["Action"] == action
            })
            .map(|s| s["Resource"].clone())
            .collect()
    };
    assert_eq!(
        grants("secretsmanager:GetSecretValue"),
        vec![serde_json::json!([secret_arn])]
    );
    assert_eq!(
        grants("ssm:GetParameter"),
        vec![serde_json::json!([format!(
            "arn:aws:ssm:{}:123456789012:parameter/pets/api-key",
            common::moto::REGION
        )])]
    );
    assert!(grants("kms:Decrypt").is_empty());

    // On the instance, a file holding a value is readable by its owner only, also after a
    // second deployment (the engine's state, the previous state and environment it keeps).
    std::fs::write(source.join("v2.txt"), "v2\n").unwrap();
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "pets-env-blue", "--label", "v2", "--source"])
        .arg(&source));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for m in fleet.wait_serving("pets-env-blue", 1, Duration::from_secs(60)) {
        let holding = files_holding_a_secret(&fleet.dir.join(&m.instance));
        let names: Vec<String> = holding.iter().map(|(p, _)| p.clone()).collect();
        for expected in [
            "var/lib/beanpole/state.json",
            "var/lib/beanpole/state.previous.json",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} not among {names:?}"
            );
        }
        for (path, mode) in &holding {
            assert_eq!(
                mode & 0o077,
                0,
                "{}: {path} holds a secret with mode {mode:o}",
                m.instance
            );
        }
    }
    drop(fleet);
}

/// The regular files under `root` (not in virtualenvs) that hold a secret's value: their
/// paths (relative) and modes.
fn files_holding_a_secret(root: &std::path::Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if !path.join("pyvenv.cfg").exists() {
                    pending.push(path);
                }
            } else if meta.is_file() && meta.len() < 4 << 20 {
                if let Ok(bytes) = std::fs::read(&path) {
                    if holds_secret(&bytes) {
                        let relative = path.strip_prefix(root).unwrap_or(&path);
                        found.push((
                            relative.display().to_string(),
                            meta.permissions().mode() & 0o777,
                        ));
                    }
                }
            }
        }
    }
    found
}
