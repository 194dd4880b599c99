//! How the application runs on the platform: the `wsgi` and `deployment` blocks and the
//! `static_files` map of an environment. What the spec leaves out stays `None`, so that
//! `.ebextensions` option_settings and then Elastic Beanstalk's defaults fill it at deploy time.

use super::*;
use crate::model::{BatchSize, Deployment, DeploymentPolicy, Wsgi};

pub(super) fn read_wsgi(file: FileId, block: Option<&Block>, ev: &mut Evaluator) -> Option<Wsgi> {
    let mut wsgi = Wsgi::default();
    let Some(block) = block else {
        return Some(wsgi);
    };
    let r = sub_reader(
        file,
        block,
        "wsgi",
        &["path", "processes", "threads"],
        &[],
        ev,
    );
    if let Some((path, span)) = r.string(ev, "path") {
        if r.check(ev, "WSGI path", &path, &span, checks::wsgi_path(&path)) {
            wsgi.path = Some(path);
        }
    }
    wsgi.processes = r
        .whole_number(ev, "processes", 1, 64)
        .map(|(n, _)| n as u32);
    wsgi.threads = r.whole_number(ev, "threads", 1, 256).map(|(n, _)| n as u32);
    (!r.failed()).then_some(wsgi)
}

pub(super) fn read_deployment(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<Deployment> {
    let mut deployment = Deployment::default();
    let Some(block) = block else {
        return Some(deployment);
    };
    let r = sub_reader(
        file,
        block,
        "deployment",
        &[
            "policy",
            "batch_size",
            "timeout",
            "rollback",
            "new_version_percent",
            "evaluation_time",
            "health_threshold",
        ],
        &[],
        ev,
    );
    if let Some((policy, span)) = r.string(ev, "policy") {
        match DeploymentPolicy::parse(&policy) {
            Some(p) => deployment.policy = Some(p),
            None => {
                r.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::InvalidValue {
                            what: "deployment policy".into(),
                            value: policy.clone(),
                            reason: String::new(),
                        },
                        span,
                    )
                    .with_hint(suggest(&policy, DeploymentPolicy::NAMES)),
                );
            }
        }
    }
    if let Some((size, span)) = r.string(ev, "batch_size") {
        match BatchSize::parse(&size) {
            Ok(b) => deployment.batch_size = Some(b),
            Err(reason) => {
                r.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::InvalidValue {
                            what: "batch_size".into(),
                            value: size,
                            reason: String::new(),
                        },
                        span,
                    )
                    .with_hint(reason),
                );
            }
        }
    }
    if let Some((timeout, span)) = r.string(ev, "timeout") {
        match crate::duration::parse_duration(&timeout) {
            Ok(d) if (1..=3600).contains(&d.as_secs()) => {
                deployment.timeout = Some(d.as_secs() as u32)
            }
            other => {
                r.mark_failed();
                let reason = other
                    .err()
                    .unwrap_or_else(|| "write a duration like 10m or 90s".into());
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::InvalidValue {
                            what: "deployment timeout".into(),
                            value: timeout,
                            reason: ": from 1s to 60m, as Elastic Beanstalk allows".into(),
                        },
                        span,
                    )
                    .with_hint(reason),
                );
            }
        }
    }
    if let Some((rollback, _)) = r.bool(ev, "rollback") {
        deployment.rollback = Some(rollback);
    }
    if let Some((threshold, span)) = r.string(ev, "health_threshold") {
        match crate::model::HealthThreshold::parse(&threshold) {
            Some(t) => deployment.health_threshold = Some(t),
            None => {
                r.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::InvalidValue {
                            what: "health_threshold".into(),
                            value: threshold.clone(),
                            reason: String::new(),
                        },
                        span,
                    )
                    .with_hint(suggest(&threshold, crate::model::HealthThreshold::NAMES)),
                );
            }
        }
    }
    deployment.new_version_percent = r
        .whole_number(ev, "new_version_percent", 1, 100)
        .map(|(n, _)| n as u32);
    if let Some((time, span)) = r.string(ev, "evaluation_time") {
        match crate::duration::parse_duration(&time) {
            Ok(d) if (1..=36_000).contains(&d.as_secs()) => {
                deployment.evaluation_time = Some(d.as_secs() as u32)
            }
            other => {
                r.mark_failed();
                let reason = other
                    .err()
                    .unwrap_or_else(|| "write a duration like 5m or 30s".into());
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::InvalidValue {
                            what: "evaluation_time".into(),
                            value: time,
                            reason: ": from 1s to 600m, as Elastic Beanstalk allows".into(),
                        },
                        span,
                    )
                    .with_hint(reason),
                );
            }
        }
    }
    (!r.failed()).then_some(deployment)
}

/// `static_files = { "/static" = "static" }`: URL paths to folders of the bundle.
pub(super) fn read_static_files(
    reader: &BlockReader,
    ev: &mut Evaluator,
) -> BTreeMap<String, String> {
    let Some((map, _)) = reader.string_map(ev, "static_files") else {
        return BTreeMap::new();
    };
    for (path, folder) in &map {
        let at = reader.map_key_span("static_files", path);
        reader.check(
            ev,
            "static file URL path",
            path,
            &at,
            checks::url_path(path),
        );
        let at = reader.map_value_span("static_files", path);
        reader.check(
            ev,
            &format!("folder of static files for `{path}`"),
            folder,
            &at,
            checks::bundle_folder(folder),
        );
    }
    map
}
