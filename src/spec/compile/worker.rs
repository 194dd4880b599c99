//! The `worker` block of a worker environment: EB's `aws:elasticbeanstalk:sqsd` options, each
//! checked against EB's range, and EB's rule that a message must not become visible again
//! while the application still works on it.

use super::*;
use crate::model::worker::{queue_arn, NUMERIC_OPTIONS};
use crate::model::Worker;

pub(super) fn read_worker(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<Worker> {
    let mut worker = Worker::default();
    let Some(block) = block else {
        return Some(worker);
    };
    let mut names = vec!["queue_url", "http_path", "mime_type"];
    names.extend(NUMERIC_OPTIONS.iter().map(|o| o.spec));
    let r = sub_reader(file, block, "worker", &names, &[], ev);
    if let Some((url, span)) = r.string(ev, "queue_url") {
        let check = match queue_arn(&url, "aws") {
            Some(_) => Ok(()),
            None => Err("an SQS queue's URL: https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (leave it out and Beanpole makes the queue and its dead-letter queue)".to_string()),
        };
        if r.check(ev, "queue URL", &url, &span, check) {
            worker.queue_url = Some(url);
        }
    }
    if let Some((path, span)) = r.string(ev, "http_path") {
        if r.check(ev, "HTTP path", &path, &span, checks::url_path(&path)) {
            worker.http_path = Some(path);
        }
    }
    if let Some((mime, span)) = r.string(ev, "mime_type") {
        if r.check(ev, "MIME type", &mime, &span, checks::mime_type(&mime)) {
            worker.mime_type = Some(mime);
        }
    }
    let mut spans = BTreeMap::new();
    for o in NUMERIC_OPTIONS {
        if let Some((n, span)) = r.whole_number(ev, o.spec, o.min.into(), o.max.into()) {
            worker.numbers.insert(o.option.to_string(), n as u32);
            spans.insert(o.option, span);
        }
    }
    // EB refuses it too: the message would come back while the application still works on
    // it, and be processed twice.
    let inactivity = worker.number("InactivityTimeout");
    let visibility = worker.number("VisibilityTimeout");
    if inactivity >= visibility {
        r.mark_failed();
        let span = spans
            .get("InactivityTimeout")
            .or_else(|| spans.get("VisibilityTimeout"))
            .cloned()
            .unwrap_or_else(|| r.header.clone());
        ev.diagnostics.push(
            Diagnostic::new(
                SpecError::InvalidValue {
                    what: "inactivity_timeout".into(),
                    value: inactivity.to_string(),
                    reason: format!(
                        ": must be less than visibility_timeout ({visibility}): a message would become visible again while the application still works on it, and be processed twice"
                    ),
                },
                span,
            )
            .with_hint("lower `inactivity_timeout` or raise `visibility_timeout`"),
        );
    }
    (!r.failed()).then_some(worker)
}
