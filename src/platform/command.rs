//! What Beanpole asks instances to run through AWS Systems Manager Run Command
//! (`AWS-RunShellScript`): the engine, fetched by its content address so that every instance
//! runs the engine of the Beanpole that deploys, then `engine.pyz deploy` or `engine.pyz logs`.
//! Pure: the script lines. Every value in them is a bucket or key made of names the spec checks
//! (letters, digits, `-`, `.`) and numbers; labels, messages and properties travel inside the
//! deployment document, never in a script.
//!
//! Paths are rooted in `$BEANPOLE_ROOT` when it is set (the local fleet plays instances in
//! folders of one machine), as in the boot script; on an instance it is not.
//!
//! Each script first checks that it runs on an instance it was sent to (the SSM agent says
//! which in `AWS_SSM_INSTANCE_ID`; the boot recorded it in `/opt/beanpole/instance-id`) and
//! does nothing elsewhere: Run Command's targeting, checked again where it runs. moto lists
//! every instance of the account in a command sent to some, so the local fleet relies on it.

use super::boot::engine_key;

/// An EC2 instance id (`i-` and hex digits): the only kind that enters a script.
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The lines that check the instance, fetch the engine and define `root`.
fn prelude(bucket: &str, instances: &[String]) -> Vec<String> {
    let key = engine_key(&super::engine_digest());
    let ids: Vec<&str> = instances
        .iter()
        .map(String::as_str)
        .filter(|i| is_instance_id(i))
        .collect();
    vec![
        "set -euo pipefail".into(),
        "root=\"${BEANPOLE_ROOT:-}\"".into(),
        "self=\"${AWS_SSM_INSTANCE_ID:-$(cat \"$root/opt/beanpole/instance-id\" 2>/dev/null || true)}\"".into(),
        format!(
            "case \" {} \" in *\" $self \"*) ;; *) if [ -n \"$self\" ]; then echo \"not sent to $self: nothing to do\"; exit 0; fi ;; esac",
            ids.join(" ")
        ),
        "mkdir -p \"$root/opt/beanpole\"".into(),
        // The engine is content-addressed: fetched only when the instance's copy differs.
        format!(
            "if [ \"$(sha256sum \"$root/opt/beanpole/engine.pyz\" 2>/dev/null | cut -c1-16)\" != \"{digest}\" ]; then aws s3 cp --only-show-errors \"s3://{bucket}/{key}\" \"$root/opt/beanpole/engine.pyz\"; fi",
            digest = super::engine_digest(),
        ),
    ]
}

/// Deploys the deployment whose document is at `document` (a key of the bucket) on the
/// instance, its report under `reports`; the leader runs `leader_only` container commands.
pub fn deploy_script(
    instances: &[String],
    bucket: &str,
    document: &str,
    reports: &str,
    leader: bool,
) -> Vec<String> {
    let mut lines = prelude(bucket, instances);
    lines.push(format!(
        "python3 \"$root/opt/beanpole/engine.pyz\" deploy --root \"${{root:-/}}\" --document \"s3://{bucket}/{document}\" --report-prefix \"s3://{bucket}/{reports}\"{leader}",
        leader = if leader { " --leader" } else { "" },
    ));
    lines
}

/// Uploads the last `lines` lines (0: whole files) of the instance's logs under `prefix` (a
/// key prefix of the bucket).
pub fn logs_script(instances: &[String], bucket: &str, prefix: &str, lines: u32) -> Vec<String> {
    let mut script = prelude(bucket, instances);
    script.push(format!(
        "python3 \"$root/opt/beanpole/engine.pyz\" logs --root \"${{root:-/}}\" --lines {lines} --upload \"s3://{bucket}/{prefix}\"",
    ));
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deploy_script_fetches_this_engine_and_names_the_document_and_reports() {
        let lines = deploy_script(
            &["i-0abc".into()],
            "b",
            "pets-app/environments/pets-env-blue/deployments/7.json",
            "pets-app/environments/pets-env-blue/deployments/7/",
            true,
        );
        let script = lines.join("\n");
        assert!(script.contains(&format!(
            "s3://b/_beanpole/engine/{}.pyz",
            super::super::engine_digest()
        )));
        assert!(script.contains(
            "--document \"s3://b/pets-app/environments/pets-env-blue/deployments/7.json\""
        ));
        assert!(script.contains(
            "--report-prefix \"s3://b/pets-app/environments/pets-env-blue/deployments/7/\" --leader"
        ));
        assert!(script.contains("case \" i-0abc \" in"));
        assert!(!deploy_script(&["i-1".into()], "b", "d.json", "d/", false)
            .join("\n")
            .contains("--leader"));
    }

    #[test]
    fn the_logs_script_uploads_under_the_request() {
        let script = logs_script(
            &["i-1".into(), "i-2;x".into()],
            "b",
            "a/environments/e/logs/r1/",
            0,
        )
        .join("\n");
        assert!(script.contains("case \" i-1 \" in"), "{script}");
        assert!(script.contains(
            "logs --root \"${root:-/}\" --lines 0 --upload \"s3://b/a/environments/e/logs/r1/\""
        ));
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    /// The guard, run by bash: the script goes on only on an instance it was sent to.
    #[test]
    fn a_script_does_nothing_on_an_instance_it_was_not_sent_to() {
        let mut lines = prelude("b", &["i-1".into(), "i-2".into()]);
        lines.truncate(4);
        lines.push("echo RUNS".into());
        let script = lines.join("\n");
        for (id, runs) in [("i-1", true), ("i-2", true), ("i-3", false), ("", true)] {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(&script)
                .env("AWS_SSM_INSTANCE_ID", id)
                .env("BEANPOLE_ROOT", "/nonexistent")
                .output()
                .unwrap();
            assert!(out.status.success());
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).contains("RUNS"),
                runs,
                "{id}"
            );
        }
        assert!(is_instance_id("i-0123abcdef"));
        assert!(!is_instance_id("i-"));
        assert!(!is_instance_id("i-1 2"));
        assert!(!is_instance_id("x-1"));
    }
}
