//! Application versions in the versions bucket, against moto: created from the source folder
//! (reused by sha256, never overwriting a label), listed, deleted unless an environment runs
//! them.

use crate::common;
use crate::platform::copy_tree;

use common::moto::{runtime, Moto};
use common::{run, text, TempDir};
use serde_json::Value;

const BUCKET: &str = "beanpole-versions-123456789012-us-east-2";

fn versions_json(moto: &Moto, dir: &TempDir) -> Value {
    let out = run(moto.beanpole(dir.path()).args(["versions", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("versions --json is JSON")
}

#[test]
fn moto_versions_are_created_once_listed_and_deleted_unless_running() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("versions");
    copy_tree(
        &common::manifest_dir().join("examples/pets-app"),
        dir.path(),
    );

    // No bucket before the first apply: said so, nothing made.
    let out = run(moto.beanpole(dir.path()).arg("versions"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("does not exist yet: run `beanpole apply` first"),
        "{}",
        text(&out)
    );
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // v1: the bundle, byte for byte what `bundle` builds, and its manifest.
    let out = run(moto.beanpole(dir.path()).args([
        "versions",
        "create",
        "--label",
        "v1",
        "--message",
        "first release",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bundled = run(common::beanpole(dir.path()).args(["bundle", "--out", "v1.zip"]));
    assert_eq!(bundled.status.code(), Some(0), "{}", text(&bundled));
    let local = std::fs::read(dir.path().join("v1.zip")).unwrap();
    let aws = moto.clients();
    let stored = runtime().block_on(async {
        let out = aws
            .s3
            .get_object()
            .bucket(BUCKET)
            .key("pets-app/versions/v1.zip")
            .send()
            .await
            .unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    });
    assert_eq!(stored, local, "the stored bundle is not the bundle");
    let listed = versions_json(&moto, &dir);
    assert_eq!(listed["bucket"], BUCKET);
    let v1 = &listed["versions"][0];
    assert_eq!(v1["label"], "v1");
    assert_eq!(v1["message"], "first release");
    assert_eq!(v1["size"], local.len());
    assert_eq!(v1["environments"], serde_json::json!([]));
    let sha = v1["sha256"].as_str().unwrap().to_string();
    assert!(String::from_utf8_lossy(&bundled.stdout).contains(&sha));

    // The same tree again: the same version, nothing uploaded.
    let out = run(moto.beanpole(dir.path()).args(["versions", "create"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Version v1 of pets-app has the same sha256"),
        "{}",
        text(&out)
    );
    assert_eq!(
        versions_json(&moto, &dir)["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Other content under a label that exists: refused, the stored bundle unchanged.
    std::fs::write(dir.path().join("app/extra.txt"), "changed\n").unwrap();
    let out = run(moto
        .beanpole(dir.path())
        .args(["versions", "create", "--label", "v1"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("version v1 of pets-app already exists with other content"),
        "{}",
        text(&out)
    );
    // A bundle left without its manifest under v2 (a create killed half way, or a race):
    // the conditional write finds it and its content decides.
    runtime().block_on(async {
        aws.s3
            .put_object()
            .bucket(BUCKET)
            .key("pets-app/versions/v2.zip")
            .body(b"PK other".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    let out = run(moto
        .beanpole(dir.path())
        .args(["versions", "create", "--label", "v2"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("version v2 of pets-app already exists with other content"),
        "{}",
        text(&out)
    );
    let out = run(moto.beanpole(dir.path()).args([
        "versions",
        "create",
        "--label",
        "v3",
        "--message",
        "extra file",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let labels: Vec<String> = versions_json(&moto, &dir)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["v3", "v1"], "newest first");

    // A version an environment runs cannot be deleted.
    runtime().block_on(async {
        aws.s3
            .put_object()
            .bucket(BUCKET)
            .key("pets-app/environments/pets-env-blue/current.json")
            .body(
                br#"{"environment": "pets-env-blue", "label": "v1", "deployment_id": 1}"#
                    .to_vec()
                    .into(),
            )
            .send()
            .await
            .unwrap();
    });
    assert_eq!(
        versions_json(&moto, &dir)["versions"][1]["environments"],
        serde_json::json!(["pets-env-blue"])
    );
    let out = run(moto.beanpole(dir.path()).args(["versions", "delete", "v1"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("version v1 of pets-app is running on pets-env-blue"),
        "{}",
        text(&out)
    );
    let out = run(moto.beanpole(dir.path()).args(["versions", "delete", "v3"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(moto.beanpole(dir.path()).args(["versions", "delete", "v9"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no version v9 of pets-app (it has: v1)"),
        "{}",
        text(&out)
    );
    // Bad labels are refused before anything is written.
    let out = run(moto
        .beanpole(dir.path())
        .args(["versions", "create", "--label", "../v4"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a version label"));
}

/// Puts `body` at `key` of the versions bucket, as someone with write access to it might.
fn put_object(moto: &Moto, key: &str, body: Vec<u8>) {
    let aws = moto.clients();
    runtime().block_on(async {
        aws.s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("PutObject")
    });
}

#[test]
fn moto_objects_beanpole_did_not_write_are_listed_apart_never_used_and_never_printed_raw() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("versions-hostile");
    copy_tree(
        &common::manifest_dir().join("examples/pets-app"),
        dir.path(),
    );
    let beanpole = |args: &[&str]| run(moto.beanpole(dir.path()).args(args));
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = beanpole(&["versions", "create", "--label", "v1", "--message", "first"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v1 = versions_json(&moto, &dir)["versions"][0].clone();
    assert_eq!(v1["label"], "v1");

    // A manifest whose label climbs out of the versions folder, one that is not JSON, and one
    // whose message holds a terminal escape sequence.
    let aws = moto.clients();
    let manifest: Value = runtime().block_on(async {
        let body = aws
            .s3
            .get_object()
            .bucket(BUCKET)
            .key("pets-app/versions/v1.json")
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        serde_json::from_slice(&body).unwrap()
    });
    let mut climbing = manifest.clone();
    climbing["label"] = "../../x".into();
    put_object(
        &moto,
        "pets-app/versions/climb.json",
        serde_json::to_vec(&climbing).unwrap(),
    );
    put_object(
        &moto,
        "pets-app/versions/broken.json",
        b"{not json".to_vec(),
    );
    let mut escaping = manifest.clone();
    escaping["label"] = "esc".into();
    escaping["message"] = "\u{1b}[2J\u{1b}]0;owned\u{7}cleared".into();
    put_object(
        &moto,
        "pets-app/versions/esc.json",
        serde_json::to_vec(&escaping).unwrap(),
    );

    let out = beanpole(&["versions"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(!all.contains('\u{1b}') && !all.contains('\u{7}'), "{all:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("  v1 "),
        "{all}"
    );
    for key in ["climb.json", "broken.json", "esc.json"] {
        assert!(
            all.contains(&format!("warning: skipped pets-app/versions/{key}")),
            "{key}: {all}"
        );
    }
    assert!(all.contains("`../../x` is not a version label"), "{all}");
    let labels: Vec<Value> = versions_json(&moto, &dir)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["label"].clone())
        .collect();
    assert_eq!(labels, vec![Value::from("v1")]);
    // Nothing takes the climbing label as a key.
    let out = beanpole(&["deploy", "pets-env-blue", "--version", "../../x"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("`../../x` is not a version label"),
        "{}",
        text(&out)
    );

    // A lock that is not one Beanpole wrote: commands refuse it, naming it; `unlock --force`
    // says what it was and removes it.
    put_object(&moto, "pets-app/lock.json", b"garbage".to_vec());
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out)
            .contains("pets-app/lock.json in the versions bucket is not a lock Beanpole wrote")
            && text(&out).contains("beanpole unlock pets-app --force"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["unlock", "pets-app", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Removed the lock of pets-app: it was not a lock Beanpole wrote"),
        "{}",
        text(&out)
    );
    let out = beanpole(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
