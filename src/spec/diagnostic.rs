//! What can be wrong with a spec, in the domain's words, and where. The compiler collects every
//! [`Diagnostic`] of a run instead of stopping at the first; rendering them as text for people
//! is [`super::report`]'s job.

use super::source::Span;
use thiserror::Error;

/// Every mistake a user can make in a spec. The `Display` text is the headline of the diagnostic.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SpecError {
    #[error("syntax error: {message}")]
    Syntax { message: String },
    #[error("unknown block type `{name}`{context}")]
    UnknownBlock { name: String, context: String },
    #[error("unknown attribute `{name}`{context}")]
    UnknownAttribute { name: String, context: String },
    #[error("`{block}` block needs {expected}")]
    BadLabels { block: String, expected: String },
    #[error("wrong type for `{name}`: expected {expected}, found {found}")]
    WrongType {
        name: String,
        expected: String,
        found: String,
    },
    #[error("missing required attribute `{name}` in {context}")]
    MissingAttribute { name: String, context: String },
    #[error("missing required block `{name}` in {context}")]
    MissingBlock { name: String, context: String },
    #[error("`{name}` is set more than once")]
    DuplicateAttribute { name: String },
    #[error("only one `{name}` block is allowed here")]
    DuplicateBlock { name: String },
    #[error("undefined {what} `{name}`")]
    UndefinedReference { what: String, name: String },
    #[error("{what} has no attribute `{name}`")]
    UnknownMember { what: String, name: String },
    #[error("reference cycle: {cycle}")]
    ReferenceCycle { cycle: String },
    #[error("duplicate {what} `{name}`")]
    DuplicateName { what: String, name: String },
    #[error("CNAME `{cname}` is used by both environment `{first}` and environment `{second}`")]
    DuplicateCname {
        cname: String,
        first: String,
        second: String,
    },
    #[error("capacity: {message}")]
    Capacity { message: String },
    #[error("health check timeout ({timeout}s) must be less than its interval ({interval}s)")]
    HealthCheckTimeout { timeout: i64, interval: i64 },
    #[error("`https` block has no `certificate_arn`")]
    HttpsWithoutCertificate,
    #[error("unknown platform `{name}`")]
    UnknownPlatform { name: String },
    #[error("unknown proxy `{name}`")]
    UnknownProxy { name: String },
    #[error("{setting} is for web environments: a worker has no load balancer, no CNAME and nothing to swap")]
    WebOnly { setting: String },
    #[error("{setting} is for worker environments")]
    WorkerOnly { setting: String },
    #[error("unknown tier `{name}`")]
    UnknownTier { name: String },
    #[error("invalid {what} `{value}`{reason}")]
    InvalidValue {
        what: String,
        value: String,
        /// Empty, or ": why" when the hint alone would not say it.
        reason: String,
    },
    #[error("module source `{source_path}` does not exist")]
    ModuleNotFound { source_path: String },
    #[error("variable `{name}` has no value")]
    VariableWithoutValue { name: String },
    #[error("value of `{name}` is not known until apply")]
    UnknownUntilApply { name: String },
    #[error("{message}")]
    Evaluation { message: String },
    #[error("broad permission: {what}")]
    BroadPermission { what: String },
    #[error("property `{name}` looks like a secret but is given in plain text")]
    SecretInPlainText { name: String },
    #[error("{message}")]
    Input { message: String },
}

/// One reported problem: what (`error`), where (`span`, absent only for command-line input), and
/// what to do about it (`hint`).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub error: SpecError,
    pub span: Option<Span>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(error: SpecError, span: Span) -> Diagnostic {
        Diagnostic {
            error,
            span: Some(span),
            hint: None,
        }
    }

    pub fn without_location(error: SpecError) -> Diagnostic {
        Diagnostic {
            error,
            span: None,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_optional_hint(mut self, hint: Option<String>) -> Diagnostic {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }
}

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(name, candidate);
        let close = score > 0.8 || strsim::levenshtein(name, candidate) <= 2;
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// "did you mean `x`?" when one of `candidates` is close to `name`.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The hint listing what is allowed, used when nothing is close enough for a did-you-mean.
pub fn one_of<'a>(candidates: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
    if list.is_empty() {
        "nothing is allowed here".to_string()
    } else {
        format!("expected one of {}", list.join(", "))
    }
}

/// did-you-mean if something is close, else the list of what is allowed.
pub fn suggest(name: &str, candidates: &[&str]) -> String {
    did_you_mean(name, candidates.iter().copied())
        .unwrap_or_else(|| one_of(candidates.iter().copied()))
}
