//! The `load_balancer` block of an environment, with its `https` and `health_check` blocks.

use super::*;

pub(super) fn read_load_balancer(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<LoadBalancer> {
    let mut lb = LoadBalancer {
        internal: false,
        idle_timeout: 60,
        allowed_cidrs: vec!["0.0.0.0/0".to_string()],
        https: None,
        health_check: HealthCheck {
            path: "/".into(),
            interval: 15,
            timeout: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 5,
            matcher: "200".into(),
        },
    };
    let Some(block) = block else { return Some(lb) };
    let mut diagnostics = Vec::new();
    let r = sub_reader(
        file,
        block,
        "load_balancer",
        &["internal", "idle_timeout", "allowed_cidrs"],
        &["https", "health_check"],
        ev,
    );
    let https_block = r.single_block("https", &mut diagnostics);
    let hc_block = r.single_block("health_check", &mut diagnostics);
    ev.diagnostics.append(&mut diagnostics);
    if let Some((b, _)) = r.bool(ev, "internal") {
        lb.internal = b;
    }
    if let Some((t, _)) = r.whole_number(ev, "idle_timeout", 1, 4000) {
        lb.idle_timeout = t as u32;
    }
    if let Some((cidrs, _)) = r.string_list(ev, "allowed_cidrs") {
        for (i, cidr) in cidrs.iter().enumerate() {
            let at = r.element_span("allowed_cidrs", i);
            r.check(ev, "CIDR", cidr, &at, checks::cidr(cidr));
        }
        lb.allowed_cidrs = cidrs;
    }
    let mut ok = !r.failed();
    if let Some(block) = https_block {
        let h = sub_reader(
            file,
            block,
            "https",
            &["certificate_arn", "ssl_policy", "redirect_http"],
            &[],
            ev,
        );
        let certificate = match h.string(ev, "certificate_arn") {
            Some((arn, span)) => {
                h.check(
                    ev,
                    "certificate ARN",
                    &arn,
                    &span,
                    checks::certificate_arn(&arn),
                );
                Some(arn)
            }
            None if !h.failed() => {
                h.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(SpecError::HttpsWithoutCertificate, h.header.clone()).with_hint(
                        "add `certificate_arn = \"arn:aws:acm:REGION:ACCOUNT:certificate/ID\"` (an ACM certificate for the environment's domain)",
                    ),
                );
                None
            }
            None => None,
        };
        let ssl_policy = match h.string(ev, "ssl_policy") {
            Some((p, span)) => {
                h.check(ev, "ssl_policy", &p, &span, checks::ssl_policy(&p));
                p
            }
            None => DEFAULT_SSL_POLICY.to_string(),
        };
        let redirect_http = h.bool(ev, "redirect_http").map(|(b, _)| b).unwrap_or(true);
        ok &= !h.failed();
        if let Some(certificate_arn) = certificate {
            lb.https = Some(Https {
                certificate_arn,
                ssl_policy,
                redirect_http,
            });
        }
    }
    if let Some(block) = hc_block {
        let h = sub_reader(
            file,
            block,
            "health_check",
            &[
                "path",
                "interval",
                "timeout",
                "healthy_threshold",
                "unhealthy_threshold",
                "matcher",
            ],
            &[],
            ev,
        );
        let hc = &mut lb.health_check;
        if let Some((path, span)) = h.string(ev, "path") {
            h.check(
                ev,
                "health check path",
                &path,
                &span,
                checks::health_check_path(&path),
            );
            hc.path = path;
        }
        let interval = h.whole_number(ev, "interval", 5, 300);
        let timeout = h.whole_number(ev, "timeout", 2, 120);
        if let Some((i, _)) = &interval {
            hc.interval = *i as u32;
        }
        if let Some((t, _)) = &timeout {
            hc.timeout = *t as u32;
        }
        if hc.timeout >= hc.interval && !h.failed() {
            h.mark_failed();
            let span = timeout
                .or(interval)
                .map(|(_, s)| s)
                .unwrap_or_else(|| h.header.clone());
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::HealthCheckTimeout {
                        timeout: hc.timeout as i64,
                        interval: hc.interval as i64,
                    },
                    span,
                )
                .with_hint(
                    "make `timeout` smaller than `interval` (defaults: timeout 5, interval 15)",
                ),
            );
        }
        if let Some((n, _)) = h.whole_number(ev, "healthy_threshold", 2, 10) {
            hc.healthy_threshold = n as u32;
        }
        if let Some((n, _)) = h.whole_number(ev, "unhealthy_threshold", 2, 10) {
            hc.unhealthy_threshold = n as u32;
        }
        if let Some((m, span)) = h.string(ev, "matcher") {
            h.check(
                ev,
                "health check matcher",
                &m,
                &span,
                checks::http_matcher(&m),
            );
            hc.matcher = m;
        }
        ok &= !h.failed();
    }
    ok.then_some(lb)
}
